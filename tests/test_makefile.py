"""`make run` (Makefile): the port comes from PORT / FLASK_RUN_PORT (default 5000); debug mode."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(*args: str, **env: str) -> list[str]:
    """The commands `make run` would run (make -n executes nothing)."""
    environ = {k: v for k, v in os.environ.items() if k not in {"PORT", "FLASK_RUN_PORT"}}
    result = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "run", *args],
        env=environ | env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if "127.0.0.1" in line]


@pytest.mark.parametrize(
    ("args", "env", "port"),
    [
        ((), {}, "5000"),
        (("PORT=5123",), {}, "5123"),
        ((), {"PORT": "5124"}, "5124"),
        ((), {"FLASK_RUN_PORT": "5125"}, "5125"),
    ],
)
def test_make_run_serves_and_prints_the_chosen_port(args, env, port):
    lines = dry_run(*args, **env)

    assert len(lines) == 3
    assert f"http://127.0.0.1:{port}/api/items" in lines[0]
    assert f"http://127.0.0.1:{port}/api/docs" in lines[1]
    assert lines[2].endswith(f"--host 127.0.0.1 --port {port}")


def test_make_run_runs_in_debug_mode_without_the_interactive_debugger():
    command = dry_run()[2]

    assert "flask run --debug --no-debugger " in command
