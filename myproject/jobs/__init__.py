"""Background jobs and email.

- ``app``: Celery made from the Flask app; without a broker, jobs run in the web process.
- ``outbox``: each email is a row written with the change that causes it, then delivered.
- ``emails``: the registry of email kinds (subject, templates, the data each one needs).
- ``mail``: sending through SMTP (Flask-Mail), or to the log in development.
- ``tasks``: the Celery tasks: delivery, the outbox relay, housekeeping.

``celery -A myproject.celery_app worker|beat`` loads ``myproject/celery_app.py``.
"""

from __future__ import annotations

from myproject.jobs.app import check_worker_settings, init_app

__all__ = ["check_worker_settings", "init_app"]
