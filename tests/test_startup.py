"""Start-up as an operator meets it (API.md, Operations, start-up paragraph), through the real
commands in subprocesses: a configuration error is one line naming the variable in `flask`,
`gunicorn`, `celery worker` and `celery beat`; server warnings appear once per server start
and never in command-line tools; several gunicorn instances never share a control socket or
a pid file.

Every command runs in a temporary directory (empty .env files stop python-dotenv's search),
with the project's variables removed from its environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from myproject.config import ConfigError, load_config
from tests.support import PASSWORD, free_port
from tests.test_gunicorn import GOOD_JWT_SECRET, GOOD_SECRET, server_env

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0
SERVER_WARNING = "ALLOWED_HOSTS is not set"


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    for name in (".env", ".flaskenv"):
        (tmp_path / name).touch()
    return tmp_path


def env_with(**settings: str) -> dict[str, str]:
    return server_env(FLASK_APP="myproject", **settings)


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


# --- one line naming the variable ---------------------------------------------------------------

BAD_SETTINGS = [
    ("DATABASE_URL", "not-a-url"),
    ("DATABASE_URL", "postgresql://app@db.internal:54x2/app"),
    ("DATABASE_URL", "postgresql://app@db.internal:70000/app"),
    ("REDIS_URL", "localhost:6379"),
    ("REDIS_URL", "redis://127.0.0.1:port/0"),
    ("REDIS_URL", "redis://127.0.0.1:6379/cache"),
    ("CELERY_BROKER_URL", "not-a-url"),
    ("CELERY_BROKER_URL", "redis://127.0.0.1:99999/0"),
    ("SOCKETIO_MESSAGE_QUEUE", "127.0.0.1:6379"),
    ("PASSWORD_RESET_URL", "localhost:5173/reset-password"),
    ("MAX_CONTENT_LENGTH", "1MB"),
    ("DB_POOL_SIZE", "0"),
    ("RATELIMIT_LOGIN", "ten per minute"),
    ("RATELIMIT_DEFAULT", "300 per fortnight"),
    ("LOG_LEVEL", "LOUD"),
    ("LOG_FORMAT", "xml"),
    ("JWT_TOKEN_LOCATION", "header"),
]

COMMANDS = {
    "flask": [str(BIN / "flask"), "routes"],
    "gunicorn": [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "--check-config"],
    "celery worker": [str(BIN / "celery"), "-A", "myproject.celery_app", "worker", "--pool=solo"],
    "celery beat": [str(BIN / "celery"), "-A", "myproject.celery_app", "beat"],
}


def production(**settings: str) -> dict[str, str]:
    """A production configuration that starts, but for ``settings``."""
    base = {
        "FLASK_CONFIG": "production",
        "SECRET_KEY": GOOD_SECRET,
        "JWT_SECRET_KEY": GOOD_JWT_SECRET,
        "DATABASE_URL": "postgresql://app@127.0.0.1:1/app",  # never connected to
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "ALLOWED_HOSTS": "localhost",
    }
    return env_with(**(base | settings))


def assert_one_line_naming(result: subprocess.CompletedProcess[str], name: str) -> None:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    assert len(output.splitlines()) == 1, output
    assert name in output and output.startswith("Configuration error: "), output


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_the_configuration_names_the_bad_setting_in_one_line(monkeypatch, name, value):
    # In process: what every entry point below prints after "Configuration error: ".
    for variable, setting in production(**{name: value}).items():
        monkeypatch.setenv(variable, setting)

    with pytest.raises(ConfigError) as error:
        load_config()

    message = str(error.value)
    assert name in message and "\n" not in message


@pytest.mark.parametrize(
    ("command", "name", "value"),
    [
        ("flask", "DATABASE_URL", "not-a-url"),
        ("flask", "DATABASE_URL", "postgresql://app@db.internal:70000/app"),
        ("flask", "REDIS_URL", "redis://127.0.0.1:port/0"),
        ("gunicorn", "DATABASE_URL", "not-a-url"),
        ("gunicorn", "CELERY_BROKER_URL", "redis://127.0.0.1:99999/0"),
        ("gunicorn", "RATELIMIT_LOGIN", "ten per minute"),
        ("celery worker", "CELERY_BROKER_URL", "not-a-url"),
        ("celery worker", "DATABASE_URL", "postgresql://app@db.internal:54x2/app"),
        ("celery beat", "REDIS_URL", "localhost:6379"),
    ],
)
def test_every_entry_point_names_the_bad_setting_in_one_line(workdir, command, name, value):
    result = run(COMMANDS[command], workdir, production(**{name: value}))

    assert_one_line_naming(result, name)


def test_a_password_in_a_bad_url_is_not_printed(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://:s3cret@cache:63x9/0")

    with pytest.raises(ConfigError) as error:
        load_config("development")

    assert "s3cret" not in str(error.value) and "REDIS_URL" in str(error.value)


# --- server warnings: once per server start, never in tools -----------------------------------


@pytest.fixture()
def sqlite_production(workdir: Path) -> dict[str, str]:
    """Production on a migrated SQLite file, without ALLOWED_HOSTS (a server warning)."""
    env = production(DATABASE_URL=f"sqlite:///{workdir / 'app.sqlite'}", ALLOWED_HOSTS="")
    env.pop("ALLOWED_HOSTS")
    env.pop("REDIS_URL")
    env["RATELIMIT_ENABLED"] = "false"  # the other warning (limits per worker) stays out
    return env


def test_command_line_tools_print_no_server_warning(workdir, sqlite_production):
    flask = str(BIN / "flask")
    commands = [
        [flask, "db", "upgrade"],
        [flask, "seed", "--users", "1", "--items", "1"],
        [flask, "create-user", "operator", "operator@example.com", "--password-stdin"],
        [flask, "routes"],
    ]
    for command in commands:
        result = subprocess.run(
            command,
            cwd=workdir,
            env=sqlite_production,
            input=f"{PASSWORD}\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert SERVER_WARNING not in result.stdout + result.stderr, command


def start(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def wait_for_health(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        with suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return
        time.sleep(0.1)
    pytest.fail(f"no answer on {port} within {START_TIMEOUT} s:\n{log.read_text()}")


def test_flask_run_prints_the_server_warning_once_with_the_reloader(workdir, sqlite_production):
    port = free_port()
    log = workdir / "flask-run.log"
    assert run([str(BIN / "flask"), "db", "upgrade"], workdir, sqlite_production).returncode == 0
    process = start(
        [str(BIN / "flask"), "run", "--reload", "--port", str(port)],
        workdir,
        sqlite_production,
        log,
    )
    try:
        wait_for_health(port, process, log)
    finally:
        stop(process)

    assert log.read_text().count(SERVER_WARNING) == 1


# --- gunicorn: one warning per start, no shared control socket or pid file ---------------------


@pytest.fixture()
def two_gunicorns(
    workdir: Path, sqlite_production: dict[str, str]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two instances on one machine, one user, one HOME, as an operator would start them:
    the first with its own control socket and pid file, the second with the defaults."""
    home = workdir / "home"
    home.mkdir()
    gunicorn = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
    settings = [
        {
            "GUNICORN_CONTROL_SOCKET": str(workdir / "a.ctl"),
            "GUNICORN_PIDFILE": str(workdir / "a.pid"),
        },
        {},
    ]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for index, extra in enumerate(settings):
            port = free_port()
            env = (
                sqlite_production
                | extra
                | {
                    "HOME": str(home),
                    "GUNICORN_BIND": f"127.0.0.1:{port}",
                    "WEB_CONCURRENCY": "2",
                    "GUNICORN_WORKER_CLASS": "sync",
                    "TMPDIR": str(workdir),
                }
            )
            env.pop("XDG_RUNTIME_DIR", None)
            log = workdir / f"gunicorn-{index}.log"
            processes.append(start(gunicorn, workdir, env, log))
            wait_for_health(port, processes[-1], log)
        yield processes
    finally:
        for process in processes:
            stop(process)


def test_gunicorn_prints_the_server_warning_once_per_start(workdir, two_gunicorns):
    for index in range(2):
        output = (workdir / f"gunicorn-{index}.log").read_text()
        assert output.count(SERVER_WARNING) == 1, output  # 2 workers, 1 master


def test_gunicorn_instances_share_no_control_socket_or_pid_file(workdir, two_gunicorns):
    first, _ = two_gunicorns

    assert (workdir / "a.ctl").is_socket()
    assert (workdir / "a.pid").read_text().strip() == str(first.pid)
    # The second kept to the defaults: no socket of its own, and none in the shared HOME.
    assert not (workdir / "home" / ".gunicorn").exists()
