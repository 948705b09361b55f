"""Operator commands: ``flask create-user`` and ``flask seed``."""

from __future__ import annotations

import io
import logging
import random
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import click
from flask.cli import ScriptInfo, with_appcontext
from marshmallow import ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from myproject.extensions import db
from myproject.jobs import outbox, tasks
from myproject.models import Item, User
from myproject.models.base import utcnow
from myproject.readiness import MIGRATIONS_DIR
from myproject.schemas.user import UserCreateSchema

SEED_PASSWORD = "demo-password"
SEED_PREFIX = "demo"
CATEGORIES = ("books", "music", "games", "tools", "garden", "kitchen", "sports", "toys")
WORDS = (
    "red blue green small large vintage modern classic portable wooden steel smart "
    "lamp chair table guitar kettle drill novel puzzle ball racket shovel mixer camera"
).split()


def _first_error(err: ValidationError) -> str:
    messages: Any = err.messages
    field, problems = next(iter(messages.items()))
    return f"{field}: {problems[0] if isinstance(problems, list) else problems}"


class MigrateCommands(click.Group):
    """``flask db ...``: Flask-Migrate's command group, loaded when a command line uses it.

    Importing Flask-Migrate loads Alembic and Mako (and pygments where installed), about
    8 MiB that a serving worker never uses. This stand-in hands its command line to
    Flask-Migrate's own group (options, callback and subcommands), set up for the app then.
    """

    def __init__(self) -> None:
        super().__init__("db", help="Perform database migrations (Flask-Migrate / Alembic).")

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # Alembic announces its plugins at import, at INFO: noise on a `flask db` command line
        # now that the app's logging is already configured (migrations/env.py sets its own).
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        from flask_migrate import Migrate
        from flask_migrate.cli import db as commands

        root = parent.find_root() if parent is not None else None
        app = (root.ensure_object(ScriptInfo) if root else ScriptInfo()).load_app()
        if "migrate" not in app.extensions:
            Migrate(app, db, directory=MIGRATIONS_DIR, compare_type=True, render_as_batch=True)
        context: click.Context = commands.make_context(info_name, args, parent=parent, **extra)
        return context


@click.command("create-user")
@click.argument("username")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)
@with_appcontext
def create_user_command(username: str, email: str, admin: bool, password_stdin: bool) -> None:
    """Create a user; the password is prompted for twice (never echoed)."""
    from myproject import services

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreateSchema().load({"username": username, "email": email, "password": password})
    except ValidationError as err:
        raise click.ClickException(_first_error(err)) from None
    try:
        user = services.create_user(**data, is_admin=admin)
    except HTTPException as err:  # a taken username or email (409)
        data = getattr(err, "data", None) or {}
        raise click.ClickException(data.get("message") or str(err.description)) from None
    except OperationalError:
        raise click.ClickException(
            "cannot reach the database; check DATABASE_URL and run 'flask db upgrade'"
        ) from None
    kind = "admin" if admin else "user"
    click.echo(f"Created {kind} {user.username} (id {user.id}).")


def _batches(total: int, size: int) -> Iterator[int]:
    done = 0
    while done < total:
        step = min(size, total - done)
        yield step
        done += step


@click.command("seed")
@click.option("--users", "n_users", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--items", "n_items", type=click.IntRange(min=0), default=100, show_default=True)
@click.option("--seed", "rng_seed", type=int, default=None, help="Random seed (deterministic).")
@click.option("--batch-size", type=click.IntRange(min=1), default=10_000, show_default=True)
@with_appcontext
def seed_command(n_users: int, n_items: int, rng_seed: int | None, batch_size: int) -> None:
    """Fill the database with demo users and items (tops up to the counts: idempotent)."""
    from myproject.caching import invalidate

    rng = random.Random(rng_seed)
    try:
        users_added = _seed_users(n_users)
        items_added = _seed_items(n_items, rng, batch_size)
    except OperationalError:
        raise click.ClickException(
            "cannot reach the database; check DATABASE_URL and run 'flask db upgrade'"
        ) from None
    invalidate()
    click.echo(
        f"Seeded {users_added} users and {items_added} items "
        f"(demo users: {SEED_PREFIX}1..{SEED_PREFIX}{n_users}, password {SEED_PASSWORD!r})."
    )


def _demo_user_ids() -> list[int]:
    return list(
        db.session.scalars(
            select(User.id).where(User.email.like(f"{SEED_PREFIX}%@example.com")).order_by(User.id)
        )
    )


def _seed_users(count: int) -> int:
    existing = {
        name
        for name in db.session.scalars(
            select(User.username).where(User.email.like(f"{SEED_PREFIX}%@example.com"))
        )
    }
    # One hash for all demo users: hashing a thousand passwords would dominate the run.
    template = User(username="x", email="x@example.com", password=SEED_PASSWORD)
    now = utcnow()
    rows = [
        {
            "username": f"{SEED_PREFIX}{n}",
            "email": f"{SEED_PREFIX}{n}@example.com",
            "password_hash": template.password_hash,
            "is_active": True,
            "is_admin": False,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(1, count + 1)
        if f"{SEED_PREFIX}{n}" not in existing
    ]
    if rows:
        db.session.execute(insert(User), rows)
        db.session.commit()
    return len(rows)


def _seed_items(count: int, rng: random.Random, batch_size: int) -> int:
    owners = _demo_user_ids()
    if not owners:
        return 0
    existing = (
        db.session.scalar(select(func.count()).select_from(Item).where(Item.user_id.in_(owners)))
        or 0
    )
    missing = max(0, count - existing)
    if not missing:
        return 0
    start = utcnow() - timedelta(days=365)
    # A progress bar on a terminal; quiet when piped or in CI.
    progress_file = None if sys.stdout.isatty() else io.StringIO()
    with click.progressbar(length=missing, label="Seeding items", file=progress_file) as bar:
        done = existing
        for size in _batches(missing, batch_size):
            rows = []
            for n in range(done, done + size):
                created = start + timedelta(
                    seconds=rng.randrange(365 * 86400), microseconds=rng.randrange(10**6)
                )
                rows.append(
                    {
                        "name": f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {n}",
                        "description": " ".join(rng.choices(WORDS, k=rng.randrange(4, 16))),
                        "category": rng.choice(CATEGORIES),
                        "user_id": rng.choice(owners),
                        "created_at": created,
                        "updated_at": created,
                    }
                )
            db.session.execute(insert(Item), rows)
            db.session.commit()
            bar.update(size)
            done += size
    return missing


@click.group("outbox", invoke_without_command=True)
@click.pass_context
@with_appcontext
def outbox_command(ctx: click.Context) -> None:
    """Show the email outbox: how many emails wait (pending) and how many failed."""
    if ctx.invoked_subcommand is None:
        for status, count in outbox.counts().items():
            click.echo(f"{status}: {count}")


@outbox_command.command("retry")
@with_appcontext
def outbox_retry_command() -> None:
    """Re-queue failed emails (a fresh set of attempts), and pending ones no worker took."""
    failed = outbox.retry_failed()
    overdue = outbox.relay()
    tasks.run_deferred()  # without a broker the emails go out now, from this command
    click.echo(f"re-queued {failed} failed and {overdue} overdue email(s)")
