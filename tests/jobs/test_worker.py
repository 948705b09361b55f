"""Email jobs on real parts (services lane): a Celery worker process with beat on Redis, an
SMTP sink, and one database that the worker and the test share (committed, never inside the
per-test rolled-back transaction). Short relay, lease and backoff settings keep it quick.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from myproject.config import normalize_database_url
from myproject.extensions import db
from myproject.models import OutboxEmail, User
from tests.jobs.services import SmtpSink, Worker
from tests.jobs.support import app_factory, ask_reset, confirm_reset, register, token_in
from tests.support import TcpProxy, TempDatabase, wait_for

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = [
    pytest.mark.faults,  # make e2e-jobs
    pytest.mark.skipif(not REDIS_URL, reason="needs Redis as the Celery broker: TEST_REDIS_URL"),
    # Two processes writing one SQLite file get "database is locked"; production is PostgreSQL.
    pytest.mark.skipif(
        not DATABASE_URL, reason="the worker shares the database: needs TEST_DATABASE_URL"
    ),
]

SECRET_KEY = "services-lane-secret-key-not-for-production-0123"
RELAY_INTERVAL = 1
QUIET = 2 * RELAY_INTERVAL + 0.5  # long enough for a duplicate to show up, if there were one
TUNING = {
    "OUTBOX_RELAY_INTERVAL": RELAY_INTERVAL,
    "OUTBOX_LEASE": 3,
    "MAIL_RETRY_BACKOFF": 1,
    "MAIL_RETRY_BACKOFF_MAX": 2,
    "MAIL_TIMEOUT": 5,
    "CELERY_VISIBILITY_TIMEOUT": 60,
}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def database_url_shared() -> Iterator[str]:
    """A PostgreSQL database of its own, outside the per-test rolled-back transaction."""
    with TempDatabase(normalize_database_url(DATABASE_URL)) as url:
        yield url


@pytest.fixture(scope="module")
def queue() -> Iterator[str]:
    """A queue of our own on the shared Redis database, removed afterwards."""
    name = f"{os.environ['REDIS_KEY_PREFIX']}-jobs-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"*{name}*"):  # the queue and kombu's bindings
        client.delete(key)
    for tag, raw in client.hgetall("unacked").items():  # what the killed worker held
        if name.encode() in raw:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


@pytest.fixture(scope="module")
def broker() -> Iterator[TcpProxy]:
    """The Redis broker behind a loopback proxy that a test can cut: the web app, the worker
    and its beat all reach the broker through it."""
    proxy = TcpProxy(target_port=int(REDIS_URL.rsplit(":", 1)[1].split("/")[0])).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def broker_url(proxy: TcpProxy) -> str:
    return f"redis://127.0.0.1:{proxy.port}/{REDIS_URL.rsplit('/', 1)[1]}"


@pytest.fixture(scope="module")
def web(database_url_shared: str, queue: str, broker: TcpProxy) -> Iterator[Flask]:
    """The web app on the shared database (not the per-test rolled-back transaction)."""
    with app_factory(database_url_shared) as factory:
        app = factory(
            SECRET_KEY=SECRET_KEY,
            CELERY_BROKER_URL=broker_url(broker),
            CELERY_QUEUE=queue,
            **TUNING,
        )
        with app.app_context():
            db.create_all()
        yield app
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    smtp = SmtpSink().start()
    try:
        yield smtp
    finally:
        smtp.release()
        smtp.stop()


@pytest.fixture(scope="module")
def worker(web: Flask, sink: SmtpSink, broker: TcpProxy, queue: str, tmp_path_factory):
    env = {**os.environ, "FLASK_CONFIG": "development"}
    env |= {"DATABASE_URL": web.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": ""}
    env |= {"CELERY_BROKER_URL": broker_url(broker), "CELERY_QUEUE": queue}
    env |= {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port), "SECRET_KEY": SECRET_KEY}
    env |= {name: str(value) for name, value in TUNING.items()}
    process = Worker(env, tmp_path_factory.mktemp("worker"))
    try:
        yield process.start()
    finally:
        process.kill()


def outbox_row(app: Flask, address: str) -> OutboxEmail | None:
    with app.app_context():
        return db.session.scalar(
            select(OutboxEmail).join(User).where(User.email == address).order_by(OutboxEmail.id)
        )


def arrived(sink: SmtpSink, address: str, timeout: float, worker: Worker) -> list[Any]:
    try:
        return wait_for(lambda: sink.to(address), timeout, f"an email to {address}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker log:\n{worker.log()[-3000:]}") from None


def test_registration_sends_one_welcome_email_through_the_worker(web, worker, sink):
    address = f"{(name := unique('welcome'))}@example.com"

    response = register(web.test_client(), name)

    assert response.status_code == 201
    first = arrived(sink, address, 15, worker)[0]
    time.sleep(QUIET)
    assert [message.subject for message in sink.to(address)] == [first.subject]
    assert "Welcome" in first.subject


def test_welcome_email_delay_after_registration(web, worker, sink, capsys):
    """Measures the delay from the 201 to the email at the SMTP sink (printed)."""
    delays = []
    for _ in range(5):
        address = f"{(name := unique('delay'))}@example.com"
        assert register(web.test_client(), name).status_code == 201
        registered = time.monotonic()
        delays.append(arrived(sink, address, 15, worker)[0].at - registered)

    delays.sort()
    with capsys.disabled():
        print(
            f"\nregistration 201 -> email at the SMTP sink (s): median {delays[2]:.3f}, "
            f"min {delays[0]:.3f}, max {delays[-1]:.3f}"
        )
    assert delays[2] < 5


def test_reset_email_from_the_worker_has_a_link_that_works_once(web, worker, sink):
    address = f"{(name := unique('reset'))}@example.com"
    client = web.test_client()
    register(client, name)

    assert ask_reset(client, address).status_code == 202

    mail = wait_for(lambda: [m for m in sink.to(address) if "Reset" in m.subject], 15, "reset")
    token = token_in(mail[0].text)
    assert confirm_reset(client, token, "a-new-password-1").status_code == 204
    assert confirm_reset(client, token, "a-new-password-2").status_code == 400


def test_broker_cut_during_registration_still_delivers_once(web, broker, worker, sink, caplog):
    address = f"{(name := unique('cut'))}@example.com"
    broker.stop()  # the web app, the worker and beat all lose the broker
    try:
        with caplog.at_level(logging.WARNING, logger="myproject.jobs.outbox"):
            response = register(web.test_client(), name)
        assert response.status_code == 201
        assert "not enqueued" in caplog.text
        time.sleep(QUIET)
        assert sink.to(address) == []
    finally:
        broker.start()

    arrived(sink, address, 30, worker)
    time.sleep(QUIET)
    assert len(sink.to(address)) == 1
    assert "outbox relay: enqueueing" in worker.log()


def test_smtp_outage_is_retried_until_the_email_goes_out_once(web, worker, sink):
    address = f"{(name := unique('smtp'))}@example.com"
    sink.stop()
    try:
        assert register(web.test_client(), name).status_code == 201
        wait_for(lambda: (outbox_row(web, address) or OutboxEmail()).last_error, 15, "a failure")
    finally:
        sink.start()

    arrived(sink, address, 15, worker)
    time.sleep(QUIET)
    assert len(sink.to(address)) == 1
    row = outbox_row(web, address)
    assert (row.status, row.attempts > 1) == ("sent", True)


def test_worker_killed_mid_delivery_loses_nothing(web, worker, sink):
    address = f"{(name := unique('killed'))}@example.com"
    sink.stall_next()
    try:
        assert register(web.test_client(), name).status_code == 201
        wait_for(sink.stalled.is_set, 15, "the delivery to reach the SMTP sink")
        worker.kill()
    finally:
        sink.release()
    assert outbox_row(web, address).status == "sending"

    worker.start()

    arrived(sink, address, 20, worker)
    time.sleep(QUIET)
    assert len(sink.to(address)) == 1
    assert "outbox relay: enqueueing" in worker.log()  # the new worker's beat took it back
