"""OpenTelemetry tracing, on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (docs/operations.md).

``create_app`` imports this module only then: without the variable nothing of OpenTelemetry is
imported. Spans, exported over OTLP/HTTP to ``<endpoint>/v1/traces`` by a batch processor:

- each request (the maintained Flask instrumentation), named after its route template
  (``GET /api/items/<int:item_id>``), continuing an incoming W3C ``traceparent``;
- each SQL statement (SQLAlchemy, on the app's engines) and Redis call (redis-py);
- each Celery task, published and run (Celery), the message carrying the trace context;
- each Socket.IO event (``socket.io <event>``; ``connect`` continues the handshake's trace).

An outbox row written inside a traced request keeps that request's ``traceparent``
(``OutboxEmail.traceparent``), and its delivery task runs as a child of it even when the
relay, not the request, enqueued it: the job a request queues belongs to the request's trace.
Without a broker, the delivery that runs in the web process after the response is a
``deliver_email`` span in that trace too.

The tracer provider is made once per process, in the process that builds the app: under
gunicorn each worker builds its own app after the fork (``gunicorn.conf.py`` never preloads),
so no export thread crosses a fork; the SDK restarts its thread in a child forked later
(Celery's prefork pool).
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from typing import Any

from celery import Celery, Task
from celery.signals import before_task_publish, task_prerun
from flask import Flask
from flask_socketio import SocketIO
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.celery import utils as celery_utils
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import StatusCode
from sqlalchemy import event, select

from myproject import logs
from myproject.extensions import db
from myproject.jobs import tasks
from myproject.jobs.outbox import DELIVER_TASK
from myproject.models import OutboxEmail

TRACER_NAME = "myproject"
# (task name, task id) of each message the current send_task is publishing.
_publishing: ContextVar[list[tuple[Any, Any]] | None] = ContextVar("publishing", default=None)


class _Process:
    """What this process instrumented (once), so that ``shutdown`` can undo it."""

    provider: TracerProvider | None = None
    flask_apps: dict[Celery, Flask] = {}
    engine_tracers: list[Any] = []


def init_app(app: Flask) -> TracerProvider:
    """Trace ``app``: call after the extensions (its engines and Celery exist) and before
    Socket.IO wraps ``wsgi_app``."""
    provider = _provider(app.config)
    FlaskInstrumentor.instrument_app(app, tracer_provider=provider, enable_commenter=False)
    # The request span opens before every other hook (the limiter's Redis calls belong to it)
    # and closes after them (teardown functions run in reverse order).
    _last_first(app.before_request_funcs.setdefault(None, []))
    _last_first(app.teardown_request_funcs.setdefault(None, []))
    with app.app_context():
        engines = list(db.engines.values())
    tracers = SQLAlchemyInstrumentor().instrument(tracer_provider=provider, engines=engines)
    _Process.engine_tracers.extend(tracers or [])
    if "celery" in app.extensions:
        _Process.flask_apps[app.extensions["celery"]] = app
    app.extensions["tracing"] = provider
    logs.add_trace_ids(current_ids)
    return provider


def _last_first(hooks: list[Any]) -> None:
    hooks.insert(0, hooks.pop())


def _provider(config: Any) -> TracerProvider:
    if _Process.provider is not None:
        return _Process.provider
    resource = Resource.create({"service.name": config["OTEL_SERVICE_NAME"]})
    provider = TracerProvider(resource=resource)
    endpoint = f"{config['OTEL_EXPORTER_OTLP_ENDPOINT']}/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(provider)  # for trace.get_tracer() elsewhere; once a process
    # Ours before the Celery instrumentation's: it picks the parent the task span gets.
    task_prerun.connect(_continue_outbox_trace)
    CeleryInstrumentor().instrument(tracer_provider=provider)
    before_task_publish.connect(_remember_publish)  # after the instrumentation's
    Celery.send_task = _ending_failed_publish(Celery.send_task)
    RedisInstrumentor().instrument(tracer_provider=provider)
    event.listen(OutboxEmail, "before_insert", _stamp_traceparent)
    SocketIO._handle_event = _traced_event(provider, SocketIO._handle_event)
    tasks.deliver_email = _traced_delivery(provider, tasks.deliver_email)
    _Process.provider = provider
    return provider


def shutdown() -> None:
    """Export what is left and undo the instrumentation of this process (tests)."""
    provider = _Process.provider
    if provider is None:
        return
    _Process.provider = None
    SocketIO._handle_event = SocketIO._handle_event.__wrapped__
    tasks.deliver_email = tasks.deliver_email.__wrapped__  # type: ignore[attr-defined]
    event.remove(OutboxEmail, "before_insert", _stamp_traceparent)
    RedisInstrumentor().uninstrument()
    Celery.send_task = Celery.send_task.__wrapped__
    before_task_publish.disconnect(_remember_publish)
    CeleryInstrumentor().uninstrument()
    task_prerun.disconnect(_continue_outbox_trace)
    for tracer in _Process.engine_tracers:
        tracer.remove_all_event_listeners()
    _Process.engine_tracers.clear()
    SQLAlchemyInstrumentor().uninstrument()
    _Process.flask_apps.clear()
    provider.shutdown()


def current_ids() -> tuple[str, str]:
    """The current trace and span ids in hex, as collectors show them (``-`` outside a span)."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return "-", "-"
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def _stamp_traceparent(_mapper: Any, _connection: Any, row: OutboxEmail) -> None:
    if row.traceparent is None:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)  # nothing outside a span
        row.traceparent = carrier.get("traceparent")


def _continue_outbox_trace(task: Task | None = None, args: Any = None, **_: Any) -> None:
    """A delivery task runs in the trace of the request that wrote its outbox row. Sent by
    that request, its message already says so (the publish span is its parent); sent by the
    relay or a retry from another trace, the row's ``traceparent`` becomes its parent."""
    if task is None or task.name != DELIVER_TASK or not args:
        return
    app = _Process.flask_apps.get(task.app)
    if app is None:
        return
    with app.app_context():
        traceparent = _traceparent_of(args[0])
    if not traceparent:
        return
    request = task.request
    sent_with = getattr(request, "traceparent", None)
    if isinstance(sent_with, str) and sent_with.split("-")[1:2] == traceparent.split("-")[1:2]:
        return
    request.traceparent = traceparent
    request.tracestate = None


def _traceparent_of(outbox_id: int) -> str | None:
    with suppress_instrumentation():  # not a span of its own: it picks the parent
        traceparent: str | None = db.session.scalar(
            select(OutboxEmail.traceparent).where(OutboxEmail.id == outbox_id)
        )
    return traceparent


def _traced_delivery(provider: TracerProvider, deliver: Any) -> Any:
    """Without a broker a delivery runs after the response, outside any span: give it one, a
    child of the request that wrote the row. Inside a Celery task span, nothing changes."""
    tracer = provider.get_tracer(TRACER_NAME)

    @functools.wraps(deliver)
    def traced(outbox_id: int) -> Any:
        if trace.get_current_span().get_span_context().is_valid:
            return deliver(outbox_id)
        traceparent = _traceparent_of(outbox_id)
        parent = propagate.extract({"traceparent": traceparent}) if traceparent else None
        attributes = {"outbox.id": outbox_id}
        with tracer.start_as_current_span("deliver_email", context=parent, attributes=attributes):
            return deliver(outbox_id)

    return traced


def _remember_publish(sender: Any = None, headers: Any = None, **_: Any) -> None:
    pending = _publishing.get()
    if pending is not None and isinstance(headers, dict):
        pending.append((sender, headers.get("id")))


def _ending_failed_publish(send_task: Any) -> Any:
    """The Celery instrumentation ends a publish span when the message went out; when the
    broker refused it (an outage: the outbox relay sends it later) the span would stay the
    current one, and whenever it is garbage-collected put a stale context back in its thread.
    End it here instead, as failed."""

    @functools.wraps(send_task)
    def send(self: Celery, *args: Any, **kwargs: Any) -> Any:
        token = _publishing.set([])
        try:
            return send_task(self, *args, **kwargs)
        except BaseException as exc:
            for sender, task_id in _publishing.get() or []:
                task = celery_utils.retrieve_task_from_sender({"sender": sender})
                found = celery_utils.retrieve_context(task, task_id, is_publish=True)
                if found is not None:
                    span, activation, _ = found
                    span.record_exception(exc)
                    span.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
                    activation.__exit__(None, None, None)
                    celery_utils.detach_context(task, task_id, is_publish=True)
            raise
        finally:
            _publishing.reset(token)

    return send


def _traced_event(provider: TracerProvider, handle_event: Any) -> Any:
    tracer = provider.get_tracer(TRACER_NAME)

    @functools.wraps(handle_event)
    def traced(
        self: SocketIO, handler: Any, message: str, namespace: str, sid: str, *args: Any
    ) -> Any:
        parent = None
        if message == "connect":  # the handshake request's traceparent, if it had one
            environ = self.server.get_environ(sid, namespace=namespace) or {}
            parent = propagate.extract({"traceparent": environ.get("HTTP_TRACEPARENT", "")})
        with tracer.start_as_current_span(
            f"socket.io {message}",
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"socket.io.event": message, "socket.io.namespace": namespace or "/"},
        ):
            return handle_event(self, handler, message, namespace, sid, *args)

    return traced
