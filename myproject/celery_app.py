"""Entry point of ``celery -A myproject.celery_app worker`` and ``... beat``: the Celery app
made from the Flask app (``myproject.jobs``), with the environment (and ``.env``) the web app
reads. Nothing imports this module: importing it builds an app."""

from __future__ import annotations

import os

from dotenv import find_dotenv, load_dotenv

from myproject import create_app
from myproject.config import instance_path

load_dotenv(find_dotenv(usecwd=True))
flask_app = create_app()
if not flask_app.config["CELERY_BROKER_URL"]:
    raise SystemExit(
        "Configuration error: CELERY_BROKER_URL (or REDIS_URL) is not set; the worker and "
        "beat need a broker. Without one, jobs run inside the web process."
    )
os.makedirs(instance_path(), exist_ok=True)  # beat keeps its schedule file there
app = flask_app.extensions["celery"]
