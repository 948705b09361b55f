# One image for every process of myproject (docs/deployment.md, "Container image"):
#   web (default):  gunicorn                                   (gunicorn.conf.py, port 8000)
#   migrations:     flask --app myproject db upgrade           (once per release, before web)
#   worker:         celery -A myproject.celery_app worker --loglevel INFO
#   scheduler:      celery -A myproject.celery_app beat --loglevel INFO
# Configuration comes from the environment only (.env.example lists every variable).
#
#   docker build -t myproject .       (podman: add --format docker, or HEALTHCHECK is dropped)
ARG BASE_IMAGE=python:3.11-slim

# --- build: the pinned requirements and the wheel of this checkout, in a virtualenv --------
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /src/
RUN pip install -r /src/requirements.txt
COPY setup.py pyproject.toml MANIFEST.in /src/
COPY myproject /src/myproject
# Not editable: the package, its migrations and email templates land in site-packages.
RUN pip install --no-deps /src && python -m compileall -q /opt/venv/lib

# --- final: the virtualenv and gunicorn.conf.py; no compiler, no pip cache, no sources -------
FROM ${BASE_IMAGE}
# A home of its own: gunicorn opens its control socket in ~/.gunicorn.
RUN useradd --create-home --uid 10001 --user-group myproject \
 && mkdir -p /var/lib/myproject && chown myproject:myproject /var/lib/myproject
COPY --from=build /opt/venv /opt/venv
COPY gunicorn.conf.py /app/gunicorn.conf.py
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FLASK_APP=myproject \
    FLASK_CONFIG=production \
    CELERY_BEAT_SCHEDULE=/var/lib/myproject/celerybeat-schedule
USER myproject
EXPOSE 8000
# The web's liveness (/health), on the port gunicorn binds (GUNICORN_BIND, else PORT, else
# 8000). Worker and scheduler have no HTTP port: disable it for them (compose.yaml does).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('GUNICORN_BIND', '').rpartition(':')[2] or os.environ.get('PORT') or '8000'; urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=2)"]
CMD ["gunicorn"]
