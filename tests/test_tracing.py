"""Tracing (myproject/tracing.py, docs/operations.md "Tracing"): apps with
``OTEL_EXPORTER_OTLP_ENDPOINT`` pointed at a small OTLP/HTTP receiver (tests/otlp.py), and the
promise that without the variable nothing of OpenTelemetry is imported. The worker's side, on
PostgreSQL and Redis: tests/jobs/test_tracing_worker.py."""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from myproject import create_app, tracing
from myproject.extensions import db
from tests.jobs.support import app_factory, register
from tests.otlp import CLIENT, SERVER, OtlpReceiver, Span
from tests.support import free_port, post_login

ROOT = Path(__file__).resolve().parent.parent
INCOMING = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture()
def receiver() -> Iterator[OtlpReceiver]:
    otlp = OtlpReceiver().start()
    yield otlp
    otlp.stop()


@pytest.fixture()
def traced(receiver: OtlpReceiver, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build one traced app (settings as keywords) on a SQLite file of its own; tracing is
    undone afterwards, so the rest of the suite runs untraced."""
    with app_factory(f"sqlite:///{tmp_path / 'traced.sqlite'}") as factory:

        def build(**overrides: Any) -> Flask:
            app = factory(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, **overrides)
            with app.app_context():
                db.create_all()
            forget_spans(app, receiver)  # not the CREATE TABLE statements
            return app

        try:
            yield build
        finally:
            tracing.shutdown()


def forget_spans(app: Flask, receiver: OtlpReceiver) -> None:
    app.extensions["tracing"].force_flush()
    receiver.spans.clear()


def flushed(app: Flask, receiver: OtlpReceiver) -> list[Span]:
    app.extensions["tracing"].force_flush()
    return receiver.spans


def server_span(spans: list[Span], name: str) -> Span:
    found = [span for span in spans if span.name == name and span.kind == SERVER]
    assert len(found) == 1, [span.name for span in spans]
    return found[0]


def children(spans: list[Span], parent: Span) -> list[Span]:
    return [span for span in spans if span.parent_id == parent.span_id]


def our_log(app: Flask) -> io.StringIO:
    """What the app's log handler (myproject.logs) writes, from now on."""
    stream = io.StringIO()
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_myproject", False):
            handler.setStream(stream)  # type: ignore[attr-defined]
    return stream


def test_a_request_is_a_span_named_after_its_route_with_its_sql_statements_inside(traced, receiver):
    app = traced()
    client = app.test_client()
    assert register(client, "traced").status_code == 201
    user_id = client.get("/api/users?username=traced").get_json()[0]["id"]
    forget_spans(app, receiver)

    assert client.get(f"/api/users/{user_id}").status_code == 200

    spans = flushed(app, receiver)
    request = server_span(spans, "GET /api/users/<int4:user_id>")
    assert request.parent_id == ""  # a new trace: nothing came in
    assert request.service == "myproject"
    assert request.attributes["http.route"] == "/api/users/<int4:user_id>"
    statements = [span for span in children(spans, request) if span.kind == CLIENT]
    assert any(span.name.startswith("SELECT") for span in statements), statements
    assert all(span.attributes.get("db.system") == "sqlite" for span in statements)
    assert {span.trace_id for span in spans} == {request.trace_id}


def test_an_incoming_traceparent_is_continued(traced, receiver):
    app = traced(OTEL_SERVICE_NAME="api-under-test")

    response = app.test_client().get("/api/items/123456", headers={"traceparent": INCOMING})

    assert response.status_code == 404
    request = server_span(flushed(app, receiver), "GET /api/items/<int4:item_id>")
    assert request.trace_id == INCOMING.split("-")[1]
    assert request.parent_id == INCOMING.split("-")[2]
    assert request.service == "api-under-test"


def test_the_email_a_request_queues_is_delivered_in_the_request_s_trace(traced, receiver):
    app = traced()  # no broker: delivered in this process once the response is sent

    assert register(app.test_client(), "mailed").status_code == 201

    spans = flushed(app, receiver)
    request = server_span(spans, "POST /api/users")
    delivery = next(span for span in spans if span.name == "deliver_email")
    assert delivery.trace_id == request.trace_id
    assert delivery.parent_id == request.span_id
    assert children(spans, delivery), "the delivery's SQL statements are inside it"


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_log_lines_carry_the_trace_and_span_ids(traced, receiver, log_format):
    # A broker nobody listens on: the request's commit logs that its email was not enqueued.
    broker = f"redis://127.0.0.1:{free_port()}/0"
    app = traced(LOG_FORMAT=log_format, CELERY_BROKER_URL=broker)
    log = our_log(app)

    assert register(app.test_client(), f"logged{log_format}").status_code == 201

    request = server_span(flushed(app, receiver), "POST /api/users")
    publish = next(span for span in receiver.spans if span.name.startswith("apply_async/"))
    assert publish.parent_id == request.span_id  # the publish that failed, ended there
    line = next(line for line in log.getvalue().splitlines() if "not enqueued" in line)
    if log_format == "json":
        entry = json.loads(line)
        assert entry["trace_id"] == request.trace_id
        assert len(entry["span_id"]) == 16
    else:
        assert f"trace_id={request.trace_id} span_id=" in line
    # Nothing of that request's trace is left behind in this thread: the next one is a root.
    gc.collect()
    forget_spans(app, receiver)
    assert app.test_client().get("/health").status_code == 200
    assert server_span(flushed(app, receiver), "GET /health").parent_id == ""


def test_socketio_events_are_spans(traced, receiver):
    app = traced(SOCKETIO_LOGIN_CHECK_SECONDS=0)
    client = app.test_client()
    register(client, "sockets")
    token = post_login(client, "sockets", "pass-word-1").get_json()["access_token"]
    socket = app.extensions["socketio"].test_client(app, auth={"token": token})
    assert socket.is_connected()

    assert socket.emit("join", {"room": "items"}, callback=True) == {"ok": True, "room": "items"}
    socket.disconnect()

    spans = flushed(app, receiver)
    join = server_span(spans, "socket.io join")
    assert join.attributes["socket.io.event"] == "join"
    connect = server_span(spans, "socket.io connect")
    # Checking the token reads the login session: a statement inside the connect span.
    assert children(spans, connect)


def test_a_malformed_endpoint_is_a_one_line_configuration_error(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")

    with pytest.raises(SystemExit) as exited:
        create_app("testing")

    message = str(exited.value)
    assert message.startswith("Configuration error: OTEL_EXPORTER_OTLP_ENDPOINT")
    assert "\n" not in message


def test_without_the_variable_nothing_of_opentelemetry_is_imported(tmp_path):
    # A fresh interpreter: this one has imported OpenTelemetry for the tests above. It builds
    # the web app, answers requests (its email job runs in the process), then loads the
    # worker's Celery app and runs a task as a worker would.
    script = textwrap.dedent(
        """
        import sys
        from myproject import create_app
        from myproject.extensions import db
        from tests.jobs.support import register

        app = create_app()  # development, on the worker's database
        with app.app_context():
            db.create_all()
        client = app.test_client()
        assert client.get("/api/items").status_code == 200
        assert register(client, "untraced").status_code == 201

        import myproject.celery_app as worker
        worker.app.tasks["myproject.housekeeping"].apply().get()
        print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {"FLASK_CONFIG": "development", "PYTHONPATH": str(ROOT)}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite'}", "REDIS_URL": ""}
    env |= {"CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}  # never reached
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
