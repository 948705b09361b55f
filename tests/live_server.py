"""The app behind a real HTTP server, for tests that need one (a generated client, schemathesis).

``LiveServer`` runs ``python -m tests.live_server`` in a subprocess: werkzeug's threaded
server on a free loopback port, the testing configuration with rate limits on (generous, so
every answer carries the rate-limit headers), on a database of its own: a SQLite file, or a
throwaway PostgreSQL database next to ``TEST_DATABASE_URL``'s. Redis (``TEST_REDIS_URL``) is
shared, under key prefixes unique to the server. A subprocess keeps the process-global
extensions (limiter, Api) of the test session untouched.

As a command it also runs another command against a fresh server and exits with its status:
``python -m tests.live_server -- schemathesis run {url}/api/openapi.json ...`` (the command
also finds the base URL in ``LIVE_SERVER_URL``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from myproject.config import normalize_database_url
from tests.support import answers_200, wait_for

ROOT = Path(__file__).resolve().parent.parent
GENEROUS = "100000 per minute"
START_TIMEOUT = 30.0


class LiveServer:
    """Start on enter, stop (and drop its database) on exit; ``url`` is the base URL."""

    def __init__(self, **overrides: Any) -> None:
        # Under the run's prefix (tests/conftest.py), so that the run's clean-up finds them.
        suffix = f"{os.environ.get('REDIS_KEY_PREFIX', 'myproject-test')}-{uuid.uuid4().hex[:10]}"
        self.overrides = {
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_ANONYMOUS": GENEROUS,
            "RATELIMIT_SIGNED_IN": GENEROUS,
            "RATELIMIT_LOGIN": GENEROUS,
            "RATELIMIT_REGISTER": GENEROUS,
            "RATELIMIT_KEY_PREFIX": f"{suffix}-live-rl",
            "CACHE_KEY_PREFIX": f"{suffix}-live-cache:",
            **overrides,
        }
        self.db_name = f"myproject_live_{uuid.uuid4().hex[:10]}"
        self.base_db = os.environ.get("TEST_DATABASE_URL")
        self.tmpdir = tempfile.TemporaryDirectory(prefix="myproject-live-")
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> LiveServer:
        try:
            self._start(self._create_database())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.base_db:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        self.tmpdir.cleanup()

    def _admin(self) -> psycopg.Connection[Any]:
        url = make_url(normalize_database_url(self.base_db or "")).set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def _create_database(self) -> str:
        if not self.base_db:
            return f"sqlite:///{self.tmpdir.name}/live.sqlite"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        url = make_url(normalize_database_url(self.base_db)).set(database=self.db_name)
        return url.render_as_string(hide_password=False)

    def _start(self, database_url: str) -> None:
        env = {
            **os.environ,
            "TEST_DATABASE_URL": database_url,
            "LIVE_OVERRIDES": json.dumps(self.overrides),
        }
        log = (Path(self.tmpdir.name) / "server.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.live_server", "--serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()  # the child has its own copy of the descriptor
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()  # the server prints its port first
        if not port.isdigit():
            raise RuntimeError(f"live server did not start: {self.log_tail()}")
        self.url = f"http://127.0.0.1:{port}"
        health = f"{self.url}/health"
        wait_for(lambda: answers_200(health), START_TIMEOUT, lambda: f"{health}: {self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        path = Path(self.tmpdir.name) / "server.log"
        return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""


def serve() -> None:
    """The subprocess: create the tables, print the port, serve until SIGTERM."""
    from werkzeug.serving import make_server

    from myproject import create_app
    from myproject.extensions import cache, db

    app = create_app("testing", json.loads(os.environ.get("LIVE_OVERRIDES", "{}")))
    with app.app_context():
        db.create_all()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    # Nobody reads the pipe after the port: anything else on stdout goes nowhere, not into a
    # pipe that could fill up and block the server.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    def stop(*_args: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        with app.app_context():
            cache.clear()  # this server's keys only (its prefix), when Redis is shared


def main(argv: list[str]) -> int:
    if argv == ["--serve"]:
        serve()
        return 0
    if not argv or argv[0] != "--":
        print("usage: python -m tests.live_server -- COMMAND ... ({url} is the base URL)")
        return 2
    with LiveServer() as server:
        command = [arg.replace("{url}", server.url) for arg in argv[1:]]
        status = subprocess.call(command, env={**os.environ, "LIVE_SERVER_URL": server.url})
        if status:
            print(server.log_tail(), file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
