"""Account security on real parts (services lane): the web app hands its jobs to a Celery
worker on Redis, which sends to an SMTP sink; one PostgreSQL database shared by both."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask

from myproject.extensions import db
from tests.accounts.timing import measure_with_one_retry
from tests.jobs import test_worker as lane
from tests.jobs.support import app_factory, ask_reset, confirm_reset, post, register, token_in
from tests.jobs.test_worker import QUIET, arrived, unique
from tests.support import bearer, wait_for

# The worker, its broker, sink and database: module fixtures, so this module has its own.
pytestmark = lane.pytestmark
database_url_shared, queue, broker = lane.database_url_shared, lane.queue, lane.broker
web, sink, worker = lane.web, lane.sink, lane.worker

PASSWORD = "pass-word-1"  # tests.jobs.support.register's


def subject_to(sink, address: str, part: str, worker) -> list:
    arrived(sink, address, 15, worker)
    return wait_for(
        lambda: [m for m in sink.to(address) if part in m.subject], 15, f"{part!r} to {address}"
    )


def test_takeover_fails_and_every_change_is_told_to_the_old_address(web, worker, sink):
    client = web.test_client()
    old = f"{(name := unique('owner'))}@example.com"
    new = f"{name}-new@example.org"
    user_id = register(client, name).get_json()["id"]
    welcome = subject_to(sink, old, "Welcome", worker)[0]
    access = client.post("/auth/token", json={"username": name, "password": PASSWORD})
    headers = bearer(access.get_json()["access_token"])
    assert ask_reset(client, old).status_code == 202
    earlier_reset = token_in(subject_to(sink, old, "Reset", worker)[0].text)

    # A stolen access token alone changes nothing.
    stolen = client.patch(f"/api/users/{user_id}", json={"email": new}, headers=headers)
    assert stolen.status_code == 422

    # The owner, with the password, moves the account to a new address.
    body = {"email": new, "current_password": PASSWORD}
    moved = client.patch(f"/api/users/{user_id}", json=body, headers=headers)
    assert moved.status_code == 200

    notice = subject_to(sink, old, "account was changed", worker)
    verification = subject_to(sink, new, "Verify", worker)
    assert "The email address" in notice[0].text and "http" not in notice[0].text
    # Earlier tokens stop working: the reset, and the verification link of the welcome.
    assert confirm_reset(client, earlier_reset, "a-new-password-1").status_code == 400
    assert post(client, "/auth/verify-email", {"token": token_in(welcome.text)}).status_code == 400
    assert (
        post(client, "/auth/verify-email", {"token": token_in(verification[0].text)}).status_code
        == 204
    )

    # A reset asked for the old address reaches nobody now; one for the new address does.
    ask_reset(client, old)
    ask_reset(client, new)
    reset = subject_to(sink, new, "Reset", worker)
    time.sleep(QUIET)
    assert len([m for m in sink.to(old) if "Reset" in m.subject]) == 1  # the earlier one only
    assert confirm_reset(client, token_in(reset[0].text), "a-new-password-2").status_code == 204
    reset_notice = [m for m in subject_to(sink, new, "account was changed", worker)]
    assert "password reset" in reset_notice[0].text


@pytest.fixture(scope="module")
def direct(database_url_shared: str, queue: str) -> Iterator[Flask]:
    """The web app with the broker reached directly, not through the test's cuttable proxy
    (a Python thread that adds its own jitter to every enqueue)."""
    with app_factory(database_url_shared) as factory:
        app = factory(
            SECRET_KEY=lane.SECRET_KEY,
            CELERY_BROKER_URL=lane.REDIS_URL,
            CELERY_QUEUE=queue,
            **lane.TUNING,
        )
        yield app
        with app.app_context():
            db.engine.dispose()


def test_reset_timing_with_a_broker(direct, worker, sink, capsys):
    client = direct.test_client()
    known = f"{(name := unique('timing'))}@example.com"
    register(client, name)
    ask_reset(client, f"{unique('warm')}@example.com")

    def ask(email: str):
        response = client.post("/auth/password-reset", json={"email": email})
        assert response.status_code == 202
        return response.close

    # The sink runs in this process: its SMTP conversations (for the known address only)
    # would compete with the measured requests for the GIL. Closed, the worker still does
    # all of each job but the send, which it retries once the sink is back.
    sink.stop()
    try:
        runs = measure_with_one_retry(ask, known, f"{unique('nobody')}@example.com")
    finally:
        sink.start()

    with capsys.disabled():
        for run in runs:
            print("\n(broker, PostgreSQL) " + run.report())
    assert runs[-1].holds, runs[-1].report()
