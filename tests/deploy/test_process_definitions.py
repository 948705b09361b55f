"""deploy/systemd units and deploy/Procfile start the documented commands (API.md "Email and
background jobs") and stop within gunicorn's graceful timeout. Part of `make test`."""

from __future__ import annotations

import configparser
import re

import pytest

from tests.deploy.support import ROOT

DEPLOY = ROOT / "deploy"
COMMANDS = {
    "web": "gunicorn",
    "worker": "celery -A myproject.celery_app worker",
    "beat": "celery -A myproject.celery_app beat",
}


def unit(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / f"myproject-{name}.service").read_text())
    return parser["Service"]


def graceful_timeout() -> int:
    found = re.search(r"^graceful_timeout = (\d+)$", (ROOT / "gunicorn.conf.py").read_text(), re.M)
    assert found
    return int(found.group(1))


@pytest.mark.parametrize("name", COMMANDS)
def test_each_unit_runs_its_command_in_the_project_with_its_environment(name):
    service = unit(name)

    assert service["ExecStart"].removeprefix("/srv/myproject/.venv/bin/").startswith(COMMANDS[name])
    assert service["WorkingDirectory"] == "/srv/myproject"
    assert service["EnvironmentFile"] == "/etc/myproject/env"
    assert service["Environment"] == "FLASK_CONFIG=production"
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"


def test_the_web_unit_waits_for_gunicorns_graceful_stop():
    service = unit("web")

    # TERM to the master only; workers get graceful_timeout before systemd kills them.
    assert service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) > graceful_timeout()


PRODUCTION = "FLASK_CONFIG=${FLASK_CONFIG:-production} "


def test_the_procfile_declares_web_worker_beat_and_the_release_step_in_production():
    text = (DEPLOY / "Procfile").read_text()
    entries = dict(
        line.split(": ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )

    assert set(entries) == {*COMMANDS, "release"}
    for name, command in COMMANDS.items():
        assert entries[name].startswith(PRODUCTION + command)
    assert entries["release"] == PRODUCTION + "flask db upgrade"
    # honcho runs every entry and stops them all when one exits: the documented command
    # starts only the long-running ones.
    assert "start web worker beat" in text
