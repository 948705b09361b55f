"""Settings of background jobs, email and password reset (docs/jobs.md)."""

from __future__ import annotations

import os

from .environment import env_bool, env_int, env_str
from .values import env_limit, env_url


class JobsAndEmailSettings:
    REDIS_URL: str | None

    def load_jobs_and_email_settings(self) -> None:
        # No broker: jobs run in the web process after the commit, so `make run` needs nothing.
        self.CELERY_BROKER_URL: str | None = self.default_broker_url()
        self.CELERY_QUEUE = env_str("CELERY_QUEUE", "celery")
        # Must outlast the longest a message stays unacknowledged (a task, a retry countdown).
        self.CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 600, minimum=1)
        # Beat's schedule file; unset: instance/ when writable, else the temporary directory.
        self.CELERY_BEAT_SCHEDULE: str | None = env_str("CELERY_BEAT_SCHEDULE", "") or None
        # No MAIL_SERVER: development logs emails; production refuses (myproject.jobs.mail).
        self.MAIL_SERVER: str | None = env_str("MAIL_SERVER", "") or None
        self.MAIL_PORT = env_int("MAIL_PORT", 25, minimum=1)
        self.MAIL_USE_TLS = env_bool("MAIL_USE_TLS", False)
        self.MAIL_USE_SSL = env_bool("MAIL_USE_SSL", False)
        self.MAIL_USERNAME: str | None = env_str("MAIL_USERNAME", "") or None
        self.MAIL_PASSWORD: str | None = os.environ.get("MAIL_PASSWORD") or None
        self.MAIL_DEFAULT_SENDER = env_str("MAIL_DEFAULT_SENDER", "myproject <no-reply@localhost>")
        self.MAIL_TIMEOUT = env_int("MAIL_TIMEOUT", 30, minimum=1)
        self.MAIL_RETRY_BACKOFF = env_int("MAIL_RETRY_BACKOFF", 30, minimum=1)
        self.MAIL_RETRY_BACKOFF_MAX = env_int("MAIL_RETRY_BACKOFF_MAX", 300, minimum=1)
        self.MAIL_RETRY_FOR = env_int("MAIL_RETRY_FOR", 900)
        self.OUTBOX_RELAY_INTERVAL = env_int("OUTBOX_RELAY_INTERVAL", 30, minimum=1)
        self.OUTBOX_LEASE = env_int("OUTBOX_LEASE", 120, minimum=1)
        self.OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 7, minimum=1)
        # Security events older than this are purged daily by the scheduler.
        self.SECURITY_EVENTS_DAYS = env_int("SECURITY_EVENTS_DAYS", 365, minimum=1)
        self.PASSWORD_RESET_URL = env_url(
            "PASSWORD_RESET_URL", "http://localhost:5173/reset-password", ("http", "https")
        )
        self.PASSWORD_RESET_EXPIRES = env_int("PASSWORD_RESET_EXPIRES", 1800, minimum=1)
        self.RATELIMIT_PASSWORD_RESET = env_limit("RATELIMIT_PASSWORD_RESET", "5 per hour")
        # Addresses with a non-ASCII local part need an SMTP server that speaks SMTPUTF8.
        self.MAIL_SMTPUTF8 = env_bool("MAIL_SMTPUTF8", False)
        self.EMAIL_VERIFY_URL = env_url(
            "EMAIL_VERIFY_URL", "http://localhost:5173/verify-email", ("http", "https")
        )
        self.EMAIL_VERIFY_EXPIRES = env_int("EMAIL_VERIFY_EXPIRES", 172800, minimum=1)
        self.REQUIRE_VERIFIED_EMAIL = env_bool("REQUIRE_VERIFIED_EMAIL", False)

    def default_broker_url(self) -> str | None:
        return env_url("CELERY_BROKER_URL") or self.REDIS_URL
