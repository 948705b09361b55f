"""What an operator sees of the worker and beat (API.md "Email and background jobs"): they
refuse production without MAIL_SERVER in one line, beat writes its schedule where it is told
(never beside the package), and no email is marked sent unless an SMTP server took it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import select

from myproject.jobs.app import beat_schedule_path
from myproject.models import OutboxEmail, User
from tests.jobs.services import wait_for
from tests.jobs.support import register

DEAD_BROKER = "redis://127.0.0.1:1/0"  # never reached: the processes below stop before
SECRETS = {
    "SECRET_KEY": "p9Xv2LqT7mZr4NsW8bYc1HdK6fJ3gQeA",
    "JWT_SECRET_KEY": "Z8yX7wV6uT5sR4qP3oN2mL1kJ0iH9gFe",
}


def celery_env(**settings: str) -> dict[str, str]:
    """The environment of a worker or beat, without the developer's own settings."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return {**keep, "CELERY_BROKER_URL": DEAD_BROKER, **settings}


def celery(command: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "myproject.celery_app", command],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_production_worker_and_beat_refuse_to_start_without_mail_server(command, tmp_path):
    env = celery_env(
        FLASK_CONFIG="production",
        DATABASE_URL="postgresql://app@127.0.0.1:1/app",
        **SECRETS,
    )

    process = celery(command, tmp_path, env)
    output, _ = process.communicate(timeout=60)

    assert process.returncode == 1, output
    assert output.splitlines() == [
        "Configuration error: MAIL_SERVER is not set; in production the worker and beat "
        "send email only through an SMTP server."
    ]
    assert list(tmp_path.iterdir()) == []


def test_the_worker_without_a_broker_says_so_in_one_line(tmp_path):
    env = celery_env(FLASK_CONFIG="development", CELERY_BROKER_URL="", REDIS_URL="")

    process = celery("worker", tmp_path, env)
    output, _ = process.communicate(timeout=60)

    assert process.returncode == 1, output
    assert len(output.splitlines()) == 1, output
    assert output.startswith("Configuration error: CELERY_BROKER_URL (or REDIS_URL) is not set")


def test_beat_writes_its_schedule_to_celery_beat_schedule(tmp_path):
    schedule = tmp_path / "state" / "beat-schedule"
    schedule.parent.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    env = celery_env(
        FLASK_CONFIG="development",
        DATABASE_URL="postgresql://app@127.0.0.1:1/app",
        CELERY_BEAT_SCHEDULE=str(schedule),
    )

    process = celery("beat", work, env)
    try:
        wait_for(lambda: list(schedule.parent.iterdir()), 30, "the schedule file")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)

    assert all(path.name.startswith("beat-schedule") for path in schedule.parent.iterdir())
    assert list(work.iterdir()) == []


def test_beat_schedule_defaults_to_a_writable_instance_directory(tmp_path):
    settings = {"CELERY_BEAT_SCHEDULE": None}

    assert beat_schedule_path(settings, str(tmp_path)) == str(tmp_path / "celerybeat-schedule")


def test_beat_schedule_without_an_instance_directory_goes_to_the_temporary_one(tmp_path):
    missing = tmp_path / "site-packages" / "instance"

    path = beat_schedule_path({"CELERY_BEAT_SCHEDULE": None}, str(missing))

    assert Path(path).parent == Path(tempfile.gettempdir())
    assert not missing.exists()


def test_celery_beat_schedule_reaches_celery(make_app, tmp_path):
    app = make_app(CELERY_BEAT_SCHEDULE=str(tmp_path / "schedule"))

    assert app.extensions["celery"].conf.beat_schedule_filename == str(tmp_path / "schedule")


def outbox_row(db) -> OutboxEmail:
    db.session.expire_all()
    return db.session.scalars(select(OutboxEmail)).one()


def test_production_without_mail_server_marks_nothing_sent(make_app, db, caplog):
    app = make_app(MAIL_SERVER=None, MAIL_SUPPRESS_SEND=False, ENV_NAME="production")

    user_id = register(app.test_client()).get_json()["id"]

    row = outbox_row(db)
    assert (row.status, row.sent_at) == ("pending", None)
    assert "MAIL_SERVER is not set" in row.last_error
    assert db.session.get(User, user_id).welcome_email_sent_at is None


def test_an_email_development_only_logged_is_logged_not_sent(make_app, db):
    app = make_app(MAIL_SERVER=None, MAIL_SUPPRESS_SEND=False)

    user_id = register(app.test_client()).get_json()["id"]

    assert (outbox_row(db).status, outbox_row(db).sent_at) == ("logged", None)
    assert db.session.get(User, user_id).welcome_email_sent_at is None
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["outbox"])
    assert "logged: 1" in result.output
    assert "sent: 0" in result.output
