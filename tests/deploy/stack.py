"""The shipped deploy/nginx.conf on ports of a test's own (TLS and plain), in front of gunicorn
instances a test starts and stops itself: for the TLS and rolling-restart tests, which need
more than the one instance on fixed ports of conftest.py. Every process is stopped by its PID."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.deploy.support import NGINX_CONF, ROOT, UNPRIVILEGED, Server, wait_for_port
from tests.support import free_port

UPSTREAM_SERVER = "server 127.0.0.1:8000 max_fails=3 fail_timeout=5s;"
CERTIFICATE = "/etc/ssl/myproject/fullchain.pem"
PRIVATE_KEY = "/etc/ssl/myproject/privkey.pem"
# The Redis database of conftest.py (E2E_REDIS_URL, else TEST_REDIS_URL), under a key prefix
# and a Celery queue of this run's own, deleted afterwards (forget_keys): nothing else there
# is touched, so the run shares the database with anything else (CI's one database).
REDIS_URL = (
    os.environ.get("E2E_REDIS_URL")
    or os.environ.get("TEST_REDIS_URL")
    or "redis://127.0.0.1:6379/0"
)
KEY_PREFIX = f"myproject-deploy-{uuid.uuid4().hex[:10]}"


def forget_keys() -> None:
    """Delete this run's Redis keys (the cache's, the limiter's, the queue's)."""
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"*{KEY_PREFIX}*"):
        client.delete(key)
    client.close()


def self_signed(folder: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A certificate for ``host`` and its key, made by openssl; readable by nginx's user."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    for path in (cert, key):
        path.chmod(0o644)
        if os.geteuid() == 0:
            os.chown(path, UNPRIVILEGED, UNPRIVILEGED)
    return cert, key


@dataclass
class Ports:
    """Where a test's copy of the shipped file listens and what it proxies to."""

    http: int = field(default_factory=free_port)  # the shipped 8080
    https: int = field(default_factory=free_port)  # the shipped 443
    redirect: int = field(default_factory=free_port)  # the shipped 80
    apps: list[int] = field(default_factory=lambda: [free_port()])  # the shipped 8000


def render_config(
    prefix: Path, ports: Ports, cert: Path, key: Path, extra: dict[str, str] | None = None
) -> Path:
    """deploy/nginx.conf with only ports, upstream servers and certificate paths changed (and
    the ``extra`` replacements of a test's variant)."""
    text = NGINX_CONF.read_text()
    upstreams = "\n        ".join(UPSTREAM_SERVER.replace("8000", str(port)) for port in ports.apps)
    for old, new in (
        ("listen 8080 default_server;", f"listen 127.0.0.1:{ports.http} default_server;"),
        ("listen 443 ssl default_server;", f"listen 127.0.0.1:{ports.https} ssl default_server;"),
        ("listen 80;", f"listen 127.0.0.1:{ports.redirect};"),
        (UPSTREAM_SERVER, upstreams),
        (CERTIFICATE, str(cert)),
        (PRIVATE_KEY, str(key)),
        *(extra or {}).items(),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = prefix / "nginx.conf"
    path.write_text(text)
    path.chmod(0o644)
    return path


def shipped_on(prefix: Path, http_port: int, app_port: int) -> Path:
    """The shipped file on ``http_port`` in front of ``app_port``: its TLS (443) and redirect
    (80) listeners moved to free ports, with a self-signed certificate, so that it starts
    unprivileged on a machine without the operator's certificate."""
    cert, key = self_signed(prefix)
    return render_config(prefix, Ports(http=http_port, apps=[app_port]), cert, key)


def app_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The production configuration behind nginx, as an operator's env file would have it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "GUNICORN_", "PORT"))}
    return (
        env
        | {
            "FLASK_APP": "myproject",
            "FLASK_CONFIG": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": KEY_PREFIX,
            "CELERY_QUEUE": f"{KEY_PREFIX}-jobs",
            "TRUSTED_PROXIES": "1",
            "WEB_CONCURRENCY": "1",
            "RATELIMIT_ANONYMOUS": "100000 per hour",
            "RATELIMIT_DEFAULT": "100000 per hour",
            "RATELIMIT_REGISTER": "1000 per hour",
            "RATELIMIT_LOGIN": "1000 per hour",
            "LOG_LEVEL": "WARNING",
        }
        | extra
    )


def migrate(env: dict[str, str]) -> None:
    flask = Path(sys.executable).parent / "flask"
    done = subprocess.run(
        [str(flask), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]


class Instance:
    """One gunicorn (the project's gunicorn.conf.py) on its own port; start, SIGTERM, again."""

    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.port = port
        self.env = env | {"GUNICORN_BIND": f"127.0.0.1:{port}"}
        self.log = log
        self.server: Server | None = None

    def start(self, timeout: float = 60) -> None:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                [str(gunicorn)], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        self.server = Server(process, self.port, self.log)
        wait_for_port(self.port, process, self.log, timeout=timeout)

    def terminate(self, timeout: float = 40) -> float:
        """SIGTERM to the master, as systemd or podman stop it; wait for the exit."""
        assert self.server is not None
        process = self.server.process
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=timeout)
        return float(process.returncode)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def access_statuses(prefix: Path) -> list[str]:
    """Every status in nginx's access log: the client-side view of what went through."""
    log = prefix / "logs" / "access.log"
    return re.findall(r'"status":(\d+)', log.read_text()) if log.exists() else []
