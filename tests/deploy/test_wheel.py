"""`pip install .` as an operator does it: the wheel alone, in a fresh virtualenv outside the
checkout, migrates a database, serves a request and renders an email from any directory (API.md
"Deployment"). Marker ``wheel``: `make wheel-test` runs it (about a minute, pip's cache warm)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.deploy.support import ROOT

pytestmark = pytest.mark.wheel

# Run by the installed package's interpreter from a directory that is not the checkout.
PROBE = """
import os, sys, myproject
from flask import render_template
from myproject import create_app

assert os.path.realpath(myproject.__file__).startswith(sys.prefix), myproject.__file__
app = create_app()
client = app.test_client()
ready = client.get("/health/ready")
assert ready.status_code == 200 and ready.get_json()["checks"]["database"] == "ok", ready.data
asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
assert asset.status_code == 200 and len(asset.data) > 100_000, asset.status_code
docs = client.get("/api/docs")
assert docs.status_code == 200, docs.status_code
with app.app_context():
    text = render_template("email/welcome.txt", user={"username": "wheelie"})
    html = render_template("email/welcome.html", user={"username": "wheelie"})
assert "Hello wheelie" in text and "wheelie" in html, text
print("probe ok")
"""


def tracked_source(destination: Path) -> Path:
    """The checkout's files as a fresh clone would have them (tracked and new, not ignored),
    with the working tree's contents: the wheel is built from that, not from build/ leftovers."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)
    return destination


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_migrates_serves_and_renders_email_outside_the_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TEST_"))}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    source = tracked_source(tmp_path / "src")
    python = Path(sys.executable)
    run(
        [
            str(python),
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        tmp_path,
        env,
    )
    (wheel,) = (tmp_path / "dist").glob("myproject-*.whl")

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    bindir = environment / "bin"
    # The tested pins, as the Dockerfile installs them; pip's cache keeps this quick.
    run(
        [str(bindir / "pip"), "install", "-q", "-r", str(ROOT / "requirements.txt"), str(wheel)],
        tmp_path,
        env,
        timeout=600,
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    app_env = env | {
        "FLASK_CONFIG": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'wheel.sqlite'}",
        "LOG_LEVEL": "WARNING",
    }
    upgraded = subprocess.run(
        [str(bindir / "flask"), "--app", "myproject", "db", "upgrade"],
        cwd=elsewhere,
        env=app_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    assert "Running upgrade" in upgraded.stderr, upgraded.stderr[-3000:]

    assert "probe ok" in run([str(bindir / "python"), "-c", PROBE], elsewhere, app_env)
