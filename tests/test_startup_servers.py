"""Start-up as an operator meets it, continued (see tests/test_startup.py): server warnings
appear once per server start (the gunicorn master, `flask run` with its reloader) and never in
command-line tools; several gunicorn instances share no control socket and no pid file."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from tests.support import PASSWORD, free_port
from tests.test_startup import BIN, ROOT, production, run

START_TIMEOUT = 30.0
SERVER_WARNING = "ALLOWED_HOSTS is not set"


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    for name in (".env", ".flaskenv"):  # python-dotenv's search for them stops here
        (tmp_path / name).touch()
    return tmp_path


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
                    "DRAIN_SECONDS": "0",  # stopped at the end: no 5 s drain each
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
