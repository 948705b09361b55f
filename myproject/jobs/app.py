"""Celery made from the Flask app (Flask's "Background Tasks with Celery" pattern): every
task runs inside the app context. ``celery -A myproject.celery_app`` first runs
``check_worker_settings``: it refuses a configuration the worker and beat cannot work with.

Without a broker, jobs run in the web process instead, right after the request whose
transaction committed them: once its response has been sent (``call_on_close``), so a
request never waits for SMTP, and asking for a password reset takes as long for an unknown
address as for a known one. Outside a request (a CLI command) they run at its end."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from celery import Celery, Task
from flask import Flask, Response

from myproject.config import ConfigError, instance_path, load_config
from myproject.jobs import outbox, tasks

HOUSEKEEPING_EVERY = 3600.0
SECURITY_EVENTS_PURGE_EVERY = 86400.0


def init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(celery_settings(app.config))
    celery.set_default()
    app.extensions["celery"] = celery

    # Embedded mode: outbox.dispatch defers to these (a no-op when nothing was deferred).
    @app.after_request
    def deliver_after_response(response: Response) -> Response:
        ids = outbox.take_deferred()
        if ids:
            response.call_on_close(lambda: _run_in_app_context(app, ids))
        return response

    app.teardown_appcontext(tasks.run_deferred)
    return celery


def check_worker_settings(config_name: str | None = None) -> None:
    """Refuse (SystemExit, one line, before anything is logged) a configuration that the
    worker and beat cannot work with."""
    try:
        config = load_config(config_name)
    except ConfigError as exc:
        raise SystemExit(f"Configuration error: {exc}") from None
    if not config.CELERY_BROKER_URL:
        raise SystemExit(
            "Configuration error: CELERY_BROKER_URL (or REDIS_URL) is not set; the worker and "
            "beat need a broker. Without one, jobs run inside the web process."
        )
    if config.ENV_NAME == "production" and not config.MAIL_SERVER:
        raise SystemExit(
            "Configuration error: MAIL_SERVER is not set; in production the worker and beat "
            "send email only through an SMTP server."
        )


def _run_in_app_context(app: Flask, ids: list[int]) -> None:
    with app.app_context():
        tasks.run_jobs(ids)


def celery_settings(config: Any) -> dict[str, Any]:
    relay_every = float(config["OUTBOX_RELAY_INTERVAL"])
    return {
        "broker_url": config["CELERY_BROKER_URL"],
        "broker_connection_retry_on_startup": True,
        # A worker waits for the broker however long it is away (Celery gives up after 100
        # attempts by default, about 50 minutes).
        "broker_connection_max_retries": None,
        "broker_transport_options": {
            # Redis redelivers a message unacknowledged for this long (see CELERY_VISIBILITY_
            # TIMEOUT); the outbox lease, not this, brings back a dead worker's email quickly.
            "visibility_timeout": config["CELERY_VISIBILITY_TIMEOUT"],
            "socket_connect_timeout": 2,
        },
        # A request that commits an email while the broker is down waits for at most two
        # quick connection attempts; the outbox relay enqueues the email later.
        "task_publish_retry_policy": {
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 0.5,
        },
        "task_default_queue": config["CELERY_QUEUE"],
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        # A message is acknowledged after its task ran, and given back if the worker dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # Killed before its lease ends, a delivery can never overlap the relay's retry.
        "task_time_limit": max(1, config["OUTBOX_LEASE"] * 3 // 4),
        "worker_hijack_root_logger": False,  # keep create_app's log format (JSON in production)
        "timezone": "UTC",
        "beat_schedule": {
            "relay-outbox": {
                "task": "myproject.relay_outbox",
                "schedule": relay_every,
                "options": {"expires": relay_every},
            },
            "housekeeping": {
                "task": "myproject.housekeeping",
                "schedule": HOUSEKEEPING_EVERY,
                "options": {"expires": HOUSEKEEPING_EVERY},
            },
            "purge-security-events": {
                "task": "myproject.purge_security_events",
                "schedule": SECURITY_EVENTS_PURGE_EVERY,
                "options": {"expires": SECURITY_EVENTS_PURGE_EVERY},
            },
        },
        "beat_schedule_filename": beat_schedule_path(config),
    }


def beat_schedule_path(config: Any, instance: str | None = None) -> str:
    """Where beat keeps its schedule: ``CELERY_BEAT_SCHEDULE``, else ``instance/`` when it
    exists and is writable (a checkout), else the temporary directory (an installed package,
    an image whose files the service user may not write). Nothing is created here."""
    if config["CELERY_BEAT_SCHEDULE"]:
        return str(config["CELERY_BEAT_SCHEDULE"])
    instance = instance or instance_path()
    if os.path.isdir(instance) and os.access(instance, os.W_OK | os.X_OK):
        return os.path.join(instance, "celerybeat-schedule")
    return os.path.join(tempfile.gettempdir(), f"myproject-celerybeat-schedule-{os.getuid()}")
