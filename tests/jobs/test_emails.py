"""The registry of email kinds (myproject/jobs/emails.py): each kind is one entry and two
templates, and an outbox row is checked against its kind when it is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import render_template
from sqlalchemy import func, select, update

from myproject.jobs import emails, outbox
from myproject.models import EmailVerification, OutboxEmail
from tests.support import LONG_AGO

TEMPLATES = Path(emails.__file__).resolve().parents[1] / "templates" / "email"


@pytest.mark.parametrize("kind", sorted(emails.KINDS))
def test_every_kind_has_a_text_and_an_html_template(app, user, kind):
    with app.test_request_context():
        for suffix in ("txt", "html"):
            assert (TEMPLATES / f"{kind}.{suffix}").is_file()
            assert user.username in render_template(
                f"email/{kind}.{suffix}",
                user=user,
                link="https://x.test/?token=t",
                minutes=30,
                verify_link="https://x.test/?token=v",
                hours=48,
                what="The password",
                when="2026-12-06 03:00",
                ip="10.0.0.1",
            )


def test_every_template_belongs_to_a_kind():
    assert {path.stem for path in TEMPLATES.iterdir()} == set(emails.KINDS)


def test_an_unknown_kind_is_refused_in_the_causing_transaction(db, user):
    with pytest.raises(ValueError, match="unknown email kind 'newsletter'"):
        outbox.add_email(kind="newsletter", user_id=user.id)

    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 0


def test_a_kind_without_the_data_it_needs_is_refused(db, user):
    with pytest.raises(ValueError, match="needs email_verification_id, nonce"):
        outbox.add_email(kind=emails.VERIFY_EMAIL, user_id=user.id)


def test_only_a_kind_whose_job_finds_the_account_goes_without_one(db):
    with pytest.raises(ValueError, match="needs user_id"):
        outbox.add_email(kind=emails.ACCOUNT_NOTICE, user_id=None, data={"to": "a@example.com"})


def test_a_verification_email_whose_token_expired_before_delivery_is_skipped(
    client, db, user, auth_headers, sent
):
    response = client.post("/auth/verify-email/resend", headers=auth_headers)
    assert response.status_code == 202
    db.session.execute(update(EmailVerification).values(expires_at=LONG_AGO))
    db.session.commit()

    response.close()  # without a broker, delivery runs now

    assert sent == []
    assert db.session.scalars(select(OutboxEmail.status)).all() == ["skipped"]
