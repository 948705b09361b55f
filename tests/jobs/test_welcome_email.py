"""The welcome email (API.md "Email and background jobs"), without a broker: the job runs in
the web process once the registration has committed and its response is sent."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from myproject.models import OutboxEmail, User
from tests.jobs.support import register


def outbox_rows(db):
    return db.session.scalar(select(func.count()).select_from(OutboxEmail))


def test_registration_sends_one_welcome_email(client, sent):
    response = register(client, "newcomer")

    assert response.status_code == 201
    assert len(sent) == 1
    assert "Welcome" in sent[0].subject
    assert sent[0].recipients == ["newcomer@example.com"]


def test_welcome_email_has_a_text_and_an_html_part(client, sent):
    register(client, "newcomer")

    assert "Hello newcomer" in sent[0].body
    assert "<p>Hello newcomer,</p>" in sent[0].html


def test_welcome_email_waits_for_the_response_to_be_sent(client, sent):
    response = client.post(
        "/api/users",
        json={"username": "newcomer", "email": "n@example.com", "password": "pass-word-1"},
    )
    assert response.status_code == 201
    assert sent == []

    response.close()

    assert len(sent) == 1


def test_delivery_is_recorded_on_the_user_and_the_outbox_row(client, db, sent):
    user_id = register(client, "newcomer").get_json()["id"]

    user = db.session.get(User, user_id)
    row = db.session.scalar(select(OutboxEmail).where(OutboxEmail.user_id == user_id))
    assert user.welcome_email_sent_at is not None
    assert (row.kind, row.status, row.attempts) == ("welcome", "sent", 1)


def test_taken_username_gets_409_and_sends_nothing(client, db, user, sent):
    response = register(client, user.username)

    assert response.status_code == 409
    assert sent == []
    assert outbox_rows(db) == 0


def test_invalid_registration_gets_422_and_sends_nothing(client, sent):
    response = register(client, "x")

    assert response.status_code == 422
    assert sent == []


def test_registration_rolled_back_at_commit_sends_nothing(client, db, sent, monkeypatch):
    def lose_the_database() -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db.session, "commit", lose_the_database)
    response = register(client, "newcomer")
    monkeypatch.undo()

    assert response.status_code == 503
    assert sent == []
    assert outbox_rows(db) == 0


def test_idempotent_replay_sends_nothing_more(client, sent):
    first = register(client, "newcomer", headers={"Idempotency-Key": "k-1"})

    replay = register(client, "newcomer", headers={"Idempotency-Key": "k-1"})

    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.get_json() == first.get_json()
    assert len(sent) == 1
