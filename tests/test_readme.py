"""The README's examples run as written, in order, against a fresh `make run` server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- tests/test_readme.py runs this block"
ADMIN_PASSWORD = "admin-password-1"


def tested_blocks() -> list[str]:
    """The shell blocks that follow a test marker, in README order."""
    text = (ROOT / "README.md").read_text()
    return re.findall(re.escape(MARKER) + r"[^\n]*\n```sh\n(.*?)```", text, flags=re.S)


@pytest.fixture()
def fresh_server(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], int]]:
    """What `make run` starts (development config, migrated SQLite), on a free port."""
    (tmp_path / ".venv").symlink_to(sys.prefix)  # the README calls .venv/bin/flask
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "REDIS", "FLASK"))}
    env.update(
        FLASK_APP="myproject",
        FLASK_CONFIG="development",
        DATABASE_URL=f"sqlite:///{tmp_path / 'readme.sqlite'}",
    )
    flask = str(tmp_path / ".venv" / "bin" / "flask")
    subprocess.run([flask, "db", "upgrade"], cwd=tmp_path, env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [flask, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "flask run did not answer within 60 s"
                time.sleep(0.1)
        yield tmp_path, env, port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def run_block(block: str, cwd: Path, env: dict[str, str], stdin: str = "") -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_readme_marks_the_blocks_it_promises_to_run():
    assert len(tested_blocks()) == 2


def test_readme_examples_run_as_written(fresh_server):
    cwd, env, port = fresh_server
    setup, walkthrough = tested_blocks()
    assert "API=http://127.0.0.1:5000\n" in walkthrough

    created = run_block(setup, cwd, env, stdin=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    output = run_block(walkthrough.replace(":5000", f":{port}"), cwd, env)

    assert "Created admin admin" in created and "Created user bob" in created
    assert '"username": "carol"' in output or '"username":"carol"' in output
    assert "X-Total-Count: 1" in output
    assert "brass, 40 cm" in output
