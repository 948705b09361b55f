"""Start-up as an operator meets it (API.md, Operations, start-up paragraph), through the real
commands in subprocesses: a configuration error is one line naming the variable in `flask`,
`gunicorn`, `celery worker` and `celery beat`. Server warnings and gunicorn's control socket
and pid file: tests/test_startup_servers.py.

Every command runs in a temporary directory (empty .env files stop python-dotenv's search),
with the project's variables removed from its environment.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from myproject.config import ConfigError, load_config
from tests.test_gunicorn import GOOD_JWT_SECRET, GOOD_SECRET, server_env

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


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
