"""The shipped deploy/nginx.conf, run by Debian's nginx in front of the real app (gunicorn,
PostgreSQL, Redis), with only its two ports changed: nginx listens on NGINX_PORT and proxies to
APP_PORT, free ports chosen for this run (tests/deploy/support.py), so a run never needs 8080
or 8000 and runs beside anything else. Collected only by `make e2e-nginx` (marker ``nginx``,
deselected by default in pyproject.toml). Every process started here is stopped by its PID.

PostgreSQL: a throwaway database next to E2E_DATABASE_URL's, dropped afterwards. Redis:
E2E_REDIS_URL, else TEST_REDIS_URL, else database 0 on 127.0.0.1, under key prefixes and a
Celery queue of this run's own, deleted afterwards (nothing else in the database is touched)."""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from myproject.config import normalize_database_url
from tests.deploy.stack import shipped_on
from tests.deploy.support import (
    APP_PORT,
    NGINX_PORT,
    ROOT,
    Server,
    nginx_prefix,
    port_is_free,
    post_json,
    request,
    sign_in,
    start_nginx,
    wait_for_port,
)
from tests.support import TempDatabase, wait_for

# A throwaway database is created next to this one and dropped afterwards.
DATABASE_URL = os.environ.get("E2E_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = (
    os.environ.get("E2E_REDIS_URL")
    or os.environ.get("TEST_REDIS_URL")
    or "redis://127.0.0.1:6379/0"
)
RUN_PREFIX = f"myproject-e2e-nginx-{uuid.uuid4().hex[:10]}"  # keys, channel and queue of this run


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)),
        None,
    )


@pytest.fixture(scope="session")
def nginx_bin(ports_are_free: None) -> str:
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (`make e2e-nginx` installs Debian's nginx)")
    return binary


@pytest.fixture(scope="session")
def ports_are_free() -> None:
    """This run's two ports (free when chosen) are still free."""
    taken = [port for port in (NGINX_PORT, APP_PORT) if not port_is_free(port)]
    if taken:
        pytest.exit(
            f"port(s) {taken} were taken since this run chose them: run again", returncode=3
        )


# The capacity test holds 500 slow connections and 500 sockets (and nginx, gunicorn and this
# process each hold both ends of some of them): more than the usual soft limit of 1024.
OPEN_FILES = 8192


@pytest.fixture(scope="session", autouse=True)
def open_file_limit() -> Iterator[None]:
    """Raise this process's soft limit on open files, before nginx and gunicorn inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="session")
def nginx(nginx_bin: str) -> Iterator[Server]:
    """The shipped configuration on 8080 (its 443 and 80 listeners moved, tests/deploy/stack.py)."""
    with nginx_prefix() as prefix:
        config = shipped_on(prefix, NGINX_PORT, APP_PORT)
        server = start_nginx(nginx_bin, prefix, config, NGINX_PORT)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    try:
        with TempDatabase(normalize_database_url(DATABASE_URL)) as url:
            yield url
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL at {DATABASE_URL} is needed (E2E_DATABASE_URL): {error}")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis at {REDIS_URL} is needed (E2E_REDIS_URL or TEST_REDIS_URL): {error}")
    try:
        yield REDIS_URL
    finally:
        # The run's keys only: the cache's and the limiter's, the queue and kombu's bindings.
        for key in client.scan_iter(match=f"*{RUN_PREFIX}*"):
            client.delete(key)
        client.close()


@pytest.fixture(scope="session")
def app_env(database_url: str, redis_url: str) -> dict[str, str]:
    """The production configuration as an operator would run it behind this nginx."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "GUNICORN_", "PORT"))}
    return env | {
        "FLASK_APP": "myproject",
        "FLASK_CONFIG": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": RUN_PREFIX,
        "CELERY_QUEUE": f"{RUN_PREFIX}-jobs",
        "TRUSTED_PROXIES": "1",
        "GUNICORN_BIND": f"127.0.0.1:{APP_PORT}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "DRAIN_SECONDS": "0",
        # Low enough that a 2 KB body shows the app's own 413 passing through nginx.
        "MAX_CONTENT_LENGTH": "1000",
        # Every request here comes from 127.0.0.1: one generous bucket, counted per hour.
        "RATELIMIT_ANONYMOUS": "100000 per hour",
        "RATELIMIT_DEFAULT": "100000 per hour",
        "RATELIMIT_REGISTER": "100 per hour",
        "RATELIMIT_LOGIN": "100 per hour",
        "LOG_LEVEL": "WARNING",
        # python-socketio's client sends its own Origin (a host listed here), and every
        # socket comes from 127.0.0.1 (the capacity test opens 500).
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "SOCKETIO_MAX_PER_ADDRESS": "2000",
    }


@pytest.fixture(scope="module")
def gunicorn(
    ports_are_free: None, app_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The real app with the project's gunicorn.conf.py on 127.0.0.1:APP_PORT, schema migrated."""
    bindir = Path(sys.executable).parent
    subprocess.run(
        [str(bindir / "flask"), "db", "upgrade"],
        cwd=ROOT,
        env=app_env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(bindir / "gunicorn")], cwd=ROOT, env=app_env, stdout=out, stderr=out
        )
    server = Server(process, APP_PORT, log)
    try:
        wait_for_port(APP_PORT, process, log, timeout=30)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def stack(nginx: Server, gunicorn: Server) -> Server:
    """nginx on 8080 with the app behind it; the app answers through nginx."""

    def answers() -> bool:
        with contextlib.suppress(OSError):
            return request("GET", "/health", timeout=5).status == 200
        return False

    wait_for(answers, 30, lambda: f"/health through nginx:\n{gunicorn.log.read_text()}", 0.2)
    return nginx


@pytest.fixture(scope="module")
def access_token(stack: Server) -> str:
    """An access token of a new user, signed in through nginx."""
    return sign_in()


@pytest.fixture(scope="module")
def item_id(access_token: str) -> int:
    bearer = {"Authorization": f"Bearer {access_token}"}
    created = post_json("/api/items", {"name": "Lamp"}, bearer)
    assert created.status == 201, created.body[:300]
    return int(created.json()["id"])
