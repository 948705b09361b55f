"""Entry point of ``celery -A myproject.celery_app worker`` and ``... beat``: the Celery app
made from the Flask app (``myproject.jobs``), with the environment (and ``.env``) the web app
reads. Nothing imports this module: importing it builds an app."""

from __future__ import annotations

from dotenv import find_dotenv, load_dotenv

from myproject import create_app, jobs

load_dotenv(find_dotenv(usecwd=True))
jobs.check_worker_settings()  # one line and exit, before the app logs anything
app = create_app().extensions["celery"]
