"""Tracing across the web app and a real Celery worker (services lane: PostgreSQL and Redis):
the spans of one request (route template, SQL, Redis) and of the email job it queues share a
trace id, whether the request's own message or the outbox relay enqueued the job; the
worker's log lines carry that trace id. Both processes send to one OTLP/HTTP receiver."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from myproject import tracing
from myproject.config import normalize_database_url
from myproject.extensions import db
from tests.jobs.services import SmtpSink, Worker
from tests.jobs.support import app_factory, register
from tests.otlp import CLIENT, CONSUMER, PRODUCER, SERVER, OtlpReceiver, Span
from tests.support import TempDatabase, free_port, wait_for

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = [
    pytest.mark.skipif(not REDIS_URL, reason="needs Redis as the Celery broker: TEST_REDIS_URL"),
    pytest.mark.skipif(
        not DATABASE_URL, reason="the worker shares the database: needs TEST_DATABASE_URL"
    ),
]

SECRET_KEY = "services-lane-secret-key-not-for-production-0123"
DELIVERY = "run/myproject.deliver_email"  # the Celery instrumentation's name for the task run
TUNING = {"OUTBOX_RELAY_INTERVAL": 1, "OUTBOX_LEASE": 3, "MAIL_TIMEOUT": 5}


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    otlp = OtlpReceiver().start()
    yield otlp
    otlp.stop()


@pytest.fixture(scope="module")
def queue() -> Iterator[str]:
    name = f"test-tracing-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"*{name}*"):
        client.delete(key)


@pytest.fixture(scope="module")
def web(receiver: OtlpReceiver, queue: str) -> Iterator[Flask]:
    """The traced web app, on a PostgreSQL database of its own that the worker shares."""
    with TempDatabase(normalize_database_url(DATABASE_URL)) as url, app_factory(url) as factory:
        app = factory(
            SECRET_KEY=SECRET_KEY,
            CELERY_BROKER_URL=REDIS_URL,
            CELERY_QUEUE=queue,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            **TUNING,
        )
        try:
            with app.app_context():
                db.create_all()
            yield app
        finally:
            tracing.shutdown()
            with app.app_context():
                db.engine.dispose()


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    smtp = SmtpSink().start()
    yield smtp
    smtp.stop()


@pytest.fixture(scope="module")
def worker(web: Flask, sink: SmtpSink, receiver: OtlpReceiver, queue: str, tmp_path_factory):
    env = {**os.environ, "FLASK_CONFIG": "development", "LOG_FORMAT": "text"}
    env |= {"DATABASE_URL": web.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": ""}
    env |= {"CELERY_BROKER_URL": REDIS_URL, "CELERY_QUEUE": queue, "SECRET_KEY": SECRET_KEY}
    env |= {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port)}
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "worker"}
    env |= {"OTEL_BSP_SCHEDULE_DELAY": "100"}  # it is killed, never shut down: export soon
    env |= {name: str(value) for name, value in TUNING.items()}
    process = Worker(env, tmp_path_factory.mktemp("worker"))
    try:
        yield process.start()
    finally:
        process.kill()


def new_trace() -> tuple[str, dict[str, str]]:
    """A trace id of our own and the ``traceparent`` header that makes a request continue it."""
    trace_id = uuid.uuid4().hex
    return trace_id, {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}


def request_span(receiver: OtlpReceiver, web: Flask, name: str, trace_id: str) -> Span:
    web.extensions["tracing"].force_flush()
    return receiver.wait_for_span(name, kind=SERVER, trace_id=trace_id)


def test_a_request_and_the_email_job_it_queues_share_one_trace(web, worker, sink, receiver):
    name = f"traced{uuid.uuid4().hex[:8]}"
    trace_id, headers = new_trace()

    assert register(web.test_client(), name, headers=headers).status_code == 201

    wait_for(lambda: sink.to(f"{name}@example.com"), 20, "the welcome email")
    request = request_span(receiver, web, "POST /api/users", trace_id)
    delivery = receiver.wait_for_span(DELIVERY, trace_id=request.trace_id, kind=CONSUMER)
    spans = receiver.in_trace(request.trace_id)
    inside_request = [span for span in spans if span.parent_id == request.span_id]
    assert any(span.attributes.get("db.system") == "postgresql" for span in inside_request)
    publish = next(span for span in spans if span.kind == PRODUCER)
    assert publish.parent_id == request.span_id
    assert delivery.parent_id == publish.span_id
    assert delivery.service == "worker"
    # Redis: the message went to the broker inside the request.
    assert any(
        span.kind == CLIENT and span.attributes.get("db.system") == "redis" for span in spans
    )
    # The job's own SQL statements are in the trace, under the job.
    assert any(span.parent_id == delivery.span_id for span in spans)
    log = wait_for(
        lambda: f"trace_id={request.trace_id}" in worker.log() and worker.log(),
        10,
        "a worker log line with the request's trace id",
    )
    assert any("succeeded" in line for line in log.splitlines() if request.trace_id in line)


def test_a_job_the_relay_enqueues_joins_the_trace_of_the_request(web, worker, sink, receiver):
    # The same app with a broker nobody listens on: the request commits the email but cannot
    # enqueue it; the worker's beat relay does, from the outbox row.
    with app_factory(web.config["SQLALCHEMY_DATABASE_URI"]) as factory:
        cut_off = factory(
            SECRET_KEY=SECRET_KEY,
            CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0",
            CELERY_QUEUE=web.config["CELERY_QUEUE"],
            OTEL_EXPORTER_OTLP_ENDPOINT=web.config["OTEL_EXPORTER_OTLP_ENDPOINT"],
            **TUNING,
        )
        name = f"relayed{uuid.uuid4().hex[:8]}"
        trace_id, headers = new_trace()

        assert register(cut_off.test_client(), name, headers=headers).status_code == 201

        wait_for(lambda: sink.to(f"{name}@example.com"), 20, "the relayed welcome email")
        request = request_span(receiver, cut_off, "POST /api/users", trace_id)
        # The refused publish is a (failed) span of the request; the relay's delivery is not
        # under it but under the request itself, as the outbox row says.
        delivery = receiver.wait_for_span(DELIVERY, trace_id=request.trace_id, kind=CONSUMER)
        assert delivery.parent_id == request.span_id  # the row's traceparent
