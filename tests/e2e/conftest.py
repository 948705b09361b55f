"""End to end in a real browser: the example SPA (examples/spa/) and the Swagger UI at
/api/docs, in Debian's Chromium driven by Playwright, against the API under gunicorn.

`make e2e` runs these (it sets MYPROJECT_E2E=1 and installs Chromium and Playwright); the
default lanes skip this folder, so they need neither. Everything listens on 127.0.0.1 only:
two API servers (header mode, and cookie mode with JWT_TOKEN_LOCATION=headers,cookies) and a
static server for the SPA on a third port, so the SPA is cross-origin to the API as it would
be in production; an SMTP sink in this process receives the emails. With TEST_REDIS_URL the
jobs go to Celery on that Redis, and a worker process (with its beat) delivers them; without
it they run in the web process, as `make run` does. Each process runs in its own session and
is killed by that id. A failing test leaves a screenshot of each of its pages in
build/e2e-artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.support import answers_200, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
SPA_DIR = ROOT / "examples" / "spa"
ARTIFACTS = ROOT / "build" / "e2e-artifacts"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 30.0
# Short access tokens, so that the SPA's refresh before expiry happens within a test.
ACCESS_TOKEN_SECONDS = 15
PASSWORD = "correct-horse-42"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
RUN_PREFIX = f"myproject-e2e-{uuid.uuid4().hex[:10]}"

if os.environ.get("MYPROJECT_E2E") != "1":
    collect_ignore_glob = ["test_*.py"]


@dataclass
class Process:
    """A child in its own session (so its workers go with it), with its output in a file."""

    name: str
    args: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path = field(init=False)
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        self.log = self.cwd / f"{self.name}.log"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                self.args,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def check_running(self) -> None:
        assert self.popen is not None
        if self.popen.poll() is not None:
            pytest.fail(f"{self.name} exited with {self.popen.returncode}:\n{self.output()}")

    def wait_for_output(self, text: str) -> None:
        def logged() -> bool:
            if text in self.output():
                return True
            self.check_running()
            return False

        wait_for(logged, START_TIMEOUT, lambda: f"{self.name} to log {text!r}:\n{self.output()}")

    def wait_for(self, url: str) -> None:
        def answered() -> bool:
            self.check_running()
            return answers_200(url)

        wait_for(answered, START_TIMEOUT, lambda: f"{self.name} to answer {url}:\n{self.output()}")

    def stop(self) -> None:
        if self.popen is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


def project_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def base_env(**settings: str) -> dict[str, str]:
    """This environment without the project's variables (a developer's .env or shell must not
    steer the servers), plus ``settings``."""
    drop = project_variables() | {"FLASK_APP", "FLASK_DEBUG", "FLASK_CONFIG"}
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env.update(PYTHONUNBUFFERED="1", **settings)
    return env


@dataclass
class Api:
    url: str
    mode: str

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def register(self, prefix: str = "e2e") -> tuple[str, str]:
        """A new user (username, access token)."""
        name = f"{prefix}{uuid.uuid4().hex[:10]}"
        self.post(
            "/api/users", {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        )
        token = self.post("/auth/token", {"username": name, "password": PASSWORD})["access_token"]
        return name, token

    def paths(self) -> set[str]:
        with urllib.request.urlopen(self.url + "/api/openapi.json", timeout=10) as response:
            return set(json.load(response)["paths"])


@dataclass
class Stack:
    spa: str
    apis: dict[str, Api]
    mail: Any  # tests.jobs.services.SmtpSink: the emails the API sent


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="myproject-e2e-"))
    # python-dotenv searches parent folders for .env: empty ones here stop it.
    for name in (".env", ".flaskenv"):
        (path / name).touch()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(workdir: Path) -> Iterator[str]:
    """A throwaway PostgreSQL database next to TEST_DATABASE_URL, else a SQLite file."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{workdir / 'e2e.sqlite'}"
        return
    from myproject.config import normalize_database_url
    from tests.support import TempDatabase

    with TempDatabase(normalize_database_url(base)) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str | None]:
    """TEST_REDIS_URL's database, shared: this run's keys (under RUN_PREFIX: cache, limits,
    Socket.IO channel, Celery queue) are the only ones it touches, and it deletes them."""
    url = os.environ.get("TEST_REDIS_URL") or None
    yield url
    if url:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        for key in client.scan_iter(match=f"*{RUN_PREFIX}*"):
            client.delete(key)
        client.close()


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[Any]:
    """An SMTP server (aiosmtpd) on a loopback port, in this process, keeping what it gets."""
    from tests.jobs.services import SmtpSink

    sink = SmtpSink().start()
    yield sink
    sink.stop()


def worker_model(database_url: str, redis_url: str | None) -> dict[str, str]:
    """gunicorn settings for the API servers.

    Socket.IO events reach sockets on other workers only through the Redis message queue, so
    without Redis one worker serves everything. On SQLite the worker is gthread, not the
    default gevent: SQLite waits for a lock inside C (its busy timeout) without yielding to
    gevent, so a greenlet waiting for a lock that another greenlet of its own process holds
    stalls the whole worker for the full timeout and answers 503. Threads wait without
    blocking each other; each open websocket holds one, hence 32.
    """
    if database_url.startswith("sqlite"):
        return {
            "GUNICORN_WORKER_CLASS": "gthread",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "32",
        }
    return {"GUNICORN_WORKER_CLASS": "gevent", "WEB_CONCURRENCY": "2" if redis_url else "1"}


@pytest.fixture(scope="session")
def stack(
    workdir: Path, database_url: str, redis_url: str | None, mail_sink: Any
) -> Iterator[Stack]:
    spa_port, header_port, cookie_port = free_port(), free_port(), free_port()
    spa = f"http://127.0.0.1:{spa_port}"
    header_api = f"http://127.0.0.1:{header_port}"
    production = {
        "FLASK_CONFIG": "production",
        "SECRET_KEY": "e2e-" + uuid.uuid4().hex,
        "JWT_SECRET_KEY": "e2e-jwt-" + uuid.uuid4().hex,
        "DATABASE_URL": database_url,
        "CORS_ORIGINS": spa,
        "JWT_ACCESS_TOKEN_EXPIRES": str(ACCESS_TOKEN_SECONDS),
        "RATELIMIT_DEFAULT": "10000 per minute",
        "RATELIMIT_ANONYMOUS": "10000 per minute",
        "RATELIMIT_LOGIN": "1000 per minute",
        "RATELIMIT_REGISTER": "1000 per hour",
        # The tests sign in dozens of times; production's scrypt would cost seconds of that.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        **worker_model(database_url, redis_url),
        "DRAIN_SECONDS": "0",
        "LOG_FORMAT": "text",
        # Emails to the sink. The reset link opens the SPA's reset page, told (as every page
        # of the example is) where the API is by ?api=; the API appends &token=.
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mail_sink.port),
        "MAIL_TIMEOUT": "5",
        "PASSWORD_RESET_URL": f"{spa}/reset-password?api={header_api}",
        "RATELIMIT_PASSWORD_RESET": "1000 per hour",
        **({"REDIS_URL": redis_url} if redis_url else {}),
        # Keys, channel and queue of this run's own on the shared Redis database.
        "REDIS_KEY_PREFIX": RUN_PREFIX,
        "CELERY_QUEUE": f"{RUN_PREFIX}-jobs",
    }
    migrate = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "myproject", "db", "upgrade"],
        cwd=workdir,
        env=base_env(**production),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    # No control socket: gunicorn 27 puts one at ~/.gunicorn/gunicorn.ctl by default, a path
    # that both servers here (and any other gunicorn of this user) would fight over.
    gunicorn = [
        sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
        "--no-control-socket",
    ]  # fmt: skip
    servers = {
        "header": Process(
            "api-header",
            gunicorn,
            base_env(**production, GUNICORN_BIND=f"127.0.0.1:{header_port}"),
            workdir,
        ),
        "cookie": Process(
            "api-cookie",
            gunicorn,
            base_env(
                **production,
                GUNICORN_BIND=f"127.0.0.1:{cookie_port}",
                JWT_TOKEN_LOCATION="headers,cookies",
                # Plain http on loopback; production keeps Secure cookies.
                JWT_COOKIE_SECURE="false",
            ),
            workdir,
        ),
    }
    static = Process(
        "spa",
        [
            sys.executable,
            "-m",
            "http.server",
            str(spa_port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(SPA_DIR),
        ],
        base_env(),
        workdir,
    )
    processes = [*servers.values(), static]
    worker = None
    if redis_url:
        # With REDIS_URL the web app sends jobs to Celery on it (CELERY_BROKER_URL defaults to
        # REDIS_URL, and an empty one means that default, not "no broker"): a real worker, as
        # in production, with its beat (the outbox relay re-enqueues what a publish missed).
        worker = Process(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "myproject.celery_app",
                "worker",
                "--beat",
                "--schedule",
                str(workdir / "celerybeat-schedule"),
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],  # fmt: skip
            base_env(**production),
            workdir,
        )
        processes.append(worker)
    with ExitStack() as stop:
        for process in processes:
            process.start()
            stop.callback(process.stop)
        for mode, port in (("header", header_port), ("cookie", cookie_port)):
            servers[mode].wait_for(f"http://127.0.0.1:{port}/health/ready")
        static.wait_for(f"{spa}/index.html")
        if worker is not None:
            worker.wait_for_output(" ready.")
        yield Stack(
            spa=spa,
            apis={
                "header": Api(header_api, "header"),
                "cookie": Api(f"http://127.0.0.1:{cookie_port}", "cookie"),
            },
            mail=mail_sink,
        )
        for process in processes:
            (ARTIFACTS / f"{process.name}.log").write_text(process.output())


@pytest.fixture(scope="session", autouse=True)
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        yield browser
        browser.close()


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@dataclass
class Browsing:
    """Browser contexts for one test. Every request that leaves loopback is refused and kept
    in ``external`` (nothing may depend on the network); every request is kept in ``log``."""

    browser: Any
    external: list[str] = field(default_factory=list)
    log: list[Any] = field(default_factory=list)
    pages: list[Any] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def page(self) -> Any:
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        context.route("**/*", self._guard)
        context.on("request", lambda request: self.log.append(request))
        self.contexts.append(context)
        page = context.new_page()
        self.pages.append(page)
        return page

    def _guard(self, route: Any) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.fallback()
        else:
            self.external.append(url)
            route.abort("blockedbyclient")


@pytest.fixture()
def browsing(browser: Any, request: pytest.FixtureRequest) -> Iterator[Browsing]:
    session = Browsing(browser)
    yield session
    if request.node.stash.get(FAILED, False):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        for index, page in enumerate(session.pages):
            with suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"{name}-{index}.png"), full_page=True)
    for context in session.contexts:
        with suppress(Exception):
            context.close()
    assert session.external == [], "requests left loopback"


@pytest.fixture()
def open_spa(stack: Stack, browsing: Browsing) -> Callable[..., Any]:
    """open_spa(mode, path="") -> a page showing the SPA at ``path``, pointed at that mode's API."""

    def open_page(mode: str, path: str = "", page: Any = None, **params: str) -> Any:
        page = page or browsing.page()
        query = urlencode({"api": stack.apis[mode].url, "mode": mode, **params})
        page.goto(f"{stack.spa}/{path}?{query}")
        if not path:
            page.wait_for_selector("body[data-ready=true]")
        return page

    return open_page
