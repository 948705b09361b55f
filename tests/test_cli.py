"""Operator commands (myproject/cli.py): flask create-user and flask seed."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from myproject.models import Item, User
from tests.support import PASSWORD


def find_user(db, username):
    return db.session.scalar(select(User).where(User.username == username))


def demo_counts(db):
    demo = select(User.id).where(User.email.like("demo%@example.com"))
    users = db.session.scalar(select(func.count()).select_from(demo.subquery()))
    items = db.session.scalar(select(func.count()).select_from(Item).where(Item.user_id.in_(demo)))
    return users, items


def item_names(db):
    return list(db.session.scalars(select(Item.name).order_by(Item.id)))


def create_user(runner, *args, password=PASSWORD):
    return runner.invoke(args=["create-user", *args, "--password-stdin"], input=f"{password}\n")


def test_create_user_prompts_twice_and_creates_the_user(runner, db):
    result = runner.invoke(
        args=["create-user", "bob", "Bob@Example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )

    assert result.exit_code == 0, result.output
    assert "Created user bob" in result.output
    user = find_user(db, "bob")
    assert user.email == "bob@example.com"
    assert user.check_password(PASSWORD)
    assert user.is_admin is False


def test_create_user_never_echoes_the_password(runner, db):
    result = runner.invoke(
        args=["create-user", "bob", "bob@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )

    assert result.exit_code == 0, result.output
    assert "Password" in result.output
    assert PASSWORD not in result.output


def test_create_user_with_admin_flag_makes_an_admin(runner, db):
    result = create_user(runner, "root", "root@example.com", "--admin")

    assert result.exit_code == 0, result.output
    assert "Created admin root" in result.output
    assert find_user(db, "root").is_admin is True


@pytest.mark.parametrize("flags", [(), ("--admin",)])
def test_create_user_makes_a_user_who_is_not_premium(runner, db, flags):
    result = create_user(runner, "carol", "carol@example.com", *flags)

    assert result.exit_code == 0, result.output
    assert find_user(db, "carol").is_premium is False


def test_create_user_reads_password_from_stdin(runner, db):
    result = create_user(runner, "bob", "bob@example.com")

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert find_user(db, "bob").check_password(PASSWORD)


def test_create_user_rejects_mismatched_passwords(runner, db):
    result = runner.invoke(
        args=["create-user", "bob", "bob@example.com"], input=f"{PASSWORD}\nother-password\n"
    )

    assert result.exit_code != 0
    assert "do not match" in result.output
    assert find_user(db, "bob") is None


@pytest.mark.parametrize(
    ("args", "password", "field"),
    [
        (["bob", "not-an-email"], PASSWORD, "email"),
        (["bob", "bob@example.com"], "short", "password"),
        (["b", "bob@example.com"], PASSWORD, "username"),
        (["bob smith", "bob@example.com"], PASSWORD, "username"),
    ],
)
def test_create_user_rejects_invalid_input_with_one_line(runner, db, args, password, field):
    result = create_user(runner, *args, password=password)

    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {field}: ")
    assert "Traceback" not in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["ALICE", "new@example.com"], "username"),
        (["alice", "new@example.com"], "username"),
        (["newbie", "Alice@Example.com"], "email"),
    ],
)
def test_create_user_rejects_taken_username_or_email(runner, user, args, field):
    result = create_user(runner, *args)

    assert result.exit_code == 1
    assert result.output == f"Error: That {field} is already taken.\n"


def test_seed_creates_the_requested_counts(runner, db):
    result = runner.invoke(args=["seed", "--users", "3", "--items", "10", "--seed", "1"])

    assert result.exit_code == 0, result.output
    assert "Seeded 3 users and 10 items" in result.output
    assert demo_counts(db) == (3, 10)
    assert find_user(db, "demo1").check_password("demo-password")


def test_seed_is_idempotent(runner, db):
    args = ["seed", "--users", "3", "--items", "10", "--seed", "1"]
    first = runner.invoke(args=args)

    second = runner.invoke(args=args)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "Seeded 0 users and 0 items" in second.output
    assert demo_counts(db) == (3, 10)


def test_seed_tops_up_to_larger_counts(runner, db):
    runner.invoke(args=["seed", "--users", "2", "--items", "5", "--seed", "1"])

    result = runner.invoke(args=["seed", "--users", "3", "--items", "8", "--seed", "1"])

    assert result.exit_code == 0, result.output
    assert "Seeded 1 users and 3 items" in result.output
    assert demo_counts(db) == (3, 8)


def test_seed_with_the_same_seed_is_deterministic(runner, db):
    args = ["seed", "--users", "2", "--items", "6", "--seed"]
    assert runner.invoke(args=[*args, "7"]).exit_code == 0
    first = item_names(db)
    db.session.execute(delete(Item))

    assert runner.invoke(args=[*args, "7"]).exit_code == 0
    same = item_names(db)
    db.session.execute(delete(Item))
    assert runner.invoke(args=[*args, "8"]).exit_code == 0

    assert same == first
    assert item_names(db) != first


def test_seed_output_is_quiet_when_not_a_tty(runner, db):
    result = runner.invoke(args=["seed", "--users", "2", "--items", "20", "--batch-size", "5"])

    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    assert "Seeding items" not in result.output
    assert result.output.startswith("Seeded 2 users and 20 items")


def test_seed_without_users_adds_no_items(runner, db):
    result = runner.invoke(args=["seed", "--users", "0", "--items", "10"])

    assert result.exit_code == 0, result.output
    assert demo_counts(db) == (0, 0)


def test_seed_rejects_negative_counts(runner, db):
    result = runner.invoke(args=["seed", "--users", "-1"])

    assert result.exit_code == 2
    assert "--users" in result.output
