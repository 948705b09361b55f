"""The production server as operators run it: a real `gunicorn` with gunicorn.conf.py.

Each server runs on 127.0.0.1 on a free port, in its own temporary working directory (so the
.env it reads is the test's, never a developer's), with the project's variables removed from
its environment. Every process is started in a new session and killed by that id afterwards.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from myproject.extensions import db as _db
from tests.support import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
GOOD_SECRET = "p9Xv2LqT7mZr4NsW8bYc1HdK6fJ3gQeA"
GOOD_JWT_SECRET = "Z8yX7wV6uT5sR4qP3oN2mL1kJ0iH9gFe"
START_TIMEOUT = 20.0
DRAIN_SECONDS = 2


def project_variables() -> set[str]:
    """Every variable .env.example documents, set or commented out."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def server_env(**settings: str | None) -> dict[str, str]:
    """This process's environment minus the project's variables, plus ``settings``."""
    # REDIS_KEY_PREFIX stays: the run's own (tests/conftest.py), on a Redis shared with others.
    drop = (project_variables() - {"REDIS_KEY_PREFIX"}) | {"FLASK_APP", "FLASK_DEBUG"}
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env.update(PYTHONUNBUFFERED="1", WEB_CONCURRENCY="1", GUNICORN_THREADS="2")
    if "REDIS_KEY_PREFIX" in env:  # jobs a server queues on that Redis: the run's queue
        env["CELERY_QUEUE"] = f"{env['REDIS_KEY_PREFIX']}-jobs"
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def production_settings(database_url: str) -> dict[str, str | None]:
    return {
        "FLASK_CONFIG": "production",
        "SECRET_KEY": GOOD_SECRET,
        "JWT_SECRET_KEY": GOOD_JWT_SECRET,
        "DATABASE_URL": database_url,
        "DRAIN_SECONDS": str(DRAIN_SECONDS),
    }


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, target: str) -> tuple[int, str, str]:
        """(status, content type, body) of one request on a fresh connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", target)
            response = conn.getresponse()
            body = response.read().decode("utf-8", errors="replace")
            return response.status, response.getheader("Content-Type", ""), body
        finally:
            conn.close()

    def wait_until_up(self) -> None:
        def up() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.output()}")
            with suppress(OSError):
                return self.get("/health")[0] == 200
            return False

        wait_for(up, START_TIMEOUT, lambda: f"gunicorn to answer:\n{self.output()}")


def start(cwd: Path, env: dict[str, str], log_name: str = "gunicorn.log") -> Server:
    # python-dotenv looks for these files in the parents of cwd too: empty ones stop the search
    # before it reaches a stray /tmp/.env.
    for name in (".env", ".flaskenv"):
        (cwd / name).touch()
    # Temporary files (gunicorn.conf.py's metrics directory) stay in the test's directory:
    # a server killed with SIGKILL cannot remove them.
    env = {"TMPDIR": str(cwd), **env}
    log = cwd / log_name
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--no-control-socket"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    bind = env.get("GUNICORN_BIND", ":0").rsplit(":", 1)[1]
    return Server(process, int(bind), log)


def stop(server: Server) -> None:
    """Kill the master and its workers (its session's process group), whatever their state."""
    with suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)


@contextmanager
def running(cwd: Path, env: dict[str, str]) -> Iterator[Server]:
    server = start(cwd, env)
    try:
        server.wait_until_up()
        yield server
    finally:
        stop(server)


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file with the schema and the head revision, as `flask db upgrade` leaves it."""
    path = tmp_path_factory.mktemp("db") / "live.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    head = ScriptDirectory(str(ROOT / "migrations")).get_current_head()
    with engine.begin() as conn:
        _db.metadata.create_all(conn)
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES (:head)"), {"head": head})
    engine.dispose()
    return f"sqlite:///{path}"


# --- a bad configuration: one line, non-zero exit, no worker ever started ---------------------


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"JWT_SECRET_KEY": "changeme"}, "JWT_SECRET_KEY"),
        ({"JWT_SECRET_KEY": GOOD_SECRET}, "JWT_SECRET_KEY"),
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"MAX_CONTENT_LENGTH": "1MB"}, "MAX_CONTENT_LENGTH"),
        ({"GUNICORN_THREADS": "lots"}, "GUNICORN_THREADS"),
        ({"DRAIN_SECONDS": "30"}, "DRAIN_SECONDS"),
        ({"FLASK_CONFIG": "staging"}, "FLASK_CONFIG"),
    ],
)
def test_bad_configuration_exits_at_once_with_one_line(tmp_path, settings, variable):
    env = server_env(**production_settings("sqlite:///unused.sqlite"))
    for name, value in settings.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value
    env["GUNICORN_BIND"] = f"127.0.0.1:{free_port()}"
    server = start(tmp_path, env)
    try:
        returncode = server.process.wait(timeout=10)
    finally:
        stop(server)

    output = server.output().strip()
    assert returncode != 0
    assert output.startswith("Configuration error: "), output
    assert variable in output
    assert len(output.splitlines()) == 1, output


# --- .env, like flask ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dotenv_server(tmp_path_factory, migrated_database) -> Iterator[tuple[Server, int]]:
    """A server whose secrets and database come only from .env; its port from the environment,
    which also sets GUNICORN_BIND in .env to another port (the environment must win)."""
    cwd = tmp_path_factory.mktemp("dotenv")
    env_file_port, port = free_port(), free_port()
    settings = production_settings(migrated_database)
    lines = [f"{name}={value}" for name, value in settings.items()]
    lines.append(f"GUNICORN_BIND=127.0.0.1:{env_file_port}")
    (cwd / ".env").write_text("\n".join(lines) + "\n")
    env = server_env(GUNICORN_BIND=f"127.0.0.1:{port}")
    with running(cwd, env) as server:
        yield server, env_file_port


def test_gunicorn_reads_dotenv_without_overriding_the_environment(dotenv_server):
    server, env_file_port = dotenv_server

    status, _, body = server.get("/health/ready")

    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok", "redis": "not configured"}
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", env_file_port), timeout=2).close()


def test_production_without_redis_logs_the_per_worker_warning_once(dotenv_server):
    server, _ = dotenv_server
    for _ in range(3):
        server.get("/health")

    assert server.output().count("each worker process counts rate limits") == 1


# --- request lines up to 8 KiB reach the app --------------------------------------------------


def test_6_kib_request_line_gets_a_json_answer(dotenv_server):
    server, _ = dotenv_server

    status, content_type, body = server.get("/health?pad=" + "x" * 6 * 1024)

    assert status == 414, body
    assert content_type == "application/problem+json"
    assert json.loads(body)["status"] == 414


def test_4_kib_query_string_is_served(dotenv_server):
    server, _ = dotenv_server

    status, _, body = server.get("/health?pad=" + "x" * (4096 - 4))

    assert status == 200, body


def test_item_read_carries_one_date_header(dotenv_server):
    server, _ = dotenv_server
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/api/items/1")
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()

    assert len(response.headers.get_all("Date") or []) == 1


# --- draining on SIGTERM ----------------------------------------------------------------------


def test_sigterm_drains_then_exits(tmp_path, migrated_database):
    env = server_env(
        **production_settings(migrated_database), GUNICORN_BIND=f"127.0.0.1:{free_port()}"
    )
    with running(tmp_path, env) as server:
        assert server.get("/health/ready")[0] == 200

        sent = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)
        ready = server.get("/health/ready")
        while ready[0] == 200 and time.monotonic() - sent < 1:
            ready = server.get("/health/ready")
        alive = server.get("/health")
        returncode = server.process.wait(timeout=DRAIN_SECONDS + 10)
        elapsed = time.monotonic() - sent

    assert ready[0] == 503
    assert json.loads(ready[2])["status"] == "draining"
    assert alive[0] == 200
    assert returncode == 0
    assert DRAIN_SECONDS - 0.5 < elapsed < DRAIN_SECONDS + 5, server.output()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGQUIT], ids=["TERM", "QUIT"])
def test_a_stop_reaching_a_booting_worker_stops_it_without_the_masters_kill(tmp_path, stop_signal):
    # A worker killed, and the instance stopped (gracefully, or at once with SIGQUIT) while its
    # replacement boots (gevent's patching comes before gunicorn's own signal handlers): the
    # replacement must stop too, not serve on until the master kills it at graceful_timeout.
    settings = production_settings(f"sqlite:///{tmp_path / 'boot.sqlite'}")
    env = server_env(
        **{**settings, "DRAIN_SECONDS": "0"},
        GUNICORN_BIND=f"127.0.0.1:{free_port()}",
        WEB_CONCURRENCY="2",
    )
    with running(tmp_path, env) as server:
        victim = int(re.findall(r"Booting worker with pid: (\d+)", server.output())[0])
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: server.output().count("Booting worker") == 3,
            START_TIMEOUT,
            "the replacement worker to be forked",
        )
        os.kill(server.process.pid, stop_signal)
        returncode = server.process.wait(timeout=60)

    assert returncode == 0
    # Each worker but the victim stopped by itself: a worker the master kills at
    # graceful_timeout never says it is exiting.
    booted = re.findall(r"Booting worker with pid: (\d+)", server.output())
    exited = re.findall(r"Worker exiting \(pid: (\d+)\)", server.output())
    assert sorted(exited) == sorted(booted[1:]), server.output()
