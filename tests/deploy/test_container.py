"""The image (Dockerfile) and compose.yaml, run here by Podman and podman-compose (API.md
"Deployment"; ../shared/containers.md): the project's own compose file plus an override for
this machine (host networking, free ports, local stand-in images), the migration step run
first, then a flow through nginx: register, the welcome email at the mail sink, sign in,
create an item, a Socket.IO client receives item.created, /health/ready is ok. Everything it
made is removed afterwards. `make container-test` installs what it needs and runs this."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import socketio

from tests.deploy.support import ROOT
from tests.support import PASSWORD, free_port

pytestmark = pytest.mark.container

IMAGE = "localhost/myproject:container-test"
STANDINS = {
    "BASE_IMAGE": "localhost/python-standin:3.11",
    "POSTGRES_IMAGE": "localhost/postgres-standin:15",
    "REDIS_IMAGE": "localhost/redis-standin:7",
    "NGINX_IMAGE": "localhost/nginx-standin:1.22",
    "MAILSINK_IMAGE": "localhost/mailsink-standin:1",
}
APP_SERVICES = ("migrate", "web1", "web2", "worker", "scheduler")


def run(command: list[str], env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def get_json(url: str, data: Any = None, headers: dict[str, str] | None = None) -> Any:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def wait_for(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # noqa: BLE001 - anything short of success: try again
            last = error
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout} s ({last!r})")


def override(ports: dict[str, int]) -> dict[str, Any]:
    """This machine: no bridge network, so every service on the host's, on free ports."""
    host = {"network_mode": "host"}
    web = [f"127.0.0.1:{ports['web1']}", f"127.0.0.1:{ports['web2']}"]
    ready = "import urllib.request; urllib.request.urlopen('http://{}/health/ready', timeout=2)"
    services: dict[str, Any] = {
        "postgres": host | {"environment": {"PGPORT": str(ports["postgres"]),
                                            "POSTGRES_LISTEN": "127.0.0.1"}},
        "redis": host | {
            "command": ["redis-server", "--bind", "127.0.0.1", "--port", str(ports["redis"]),
                        "--save", "", "--appendonly", "no"],
            "healthcheck": {"test": ["CMD", "redis-cli", "-p", str(ports["redis"]), "ping"]},
        },
        "mailsink": host | {"environment": {
            "MP_SMTP_BIND_ADDR": f"127.0.0.1:{ports['smtp']}",
            "MP_UI_BIND_ADDR": f"127.0.0.1:{ports['mailapi']}",
        }},
        "nginx": host | {"environment": {
            "NGINX_UPSTREAMS": " ".join(web),
            "NGINX_HTTP_PORT": f"127.0.0.1:{ports['http']}",
            "NGINX_HTTPS_PORT": f"127.0.0.1:{ports['https']}",
            "NGINX_REDIRECT_PORT": f"127.0.0.1:{ports['redirect']}",
        }},
        "migrate": host, "worker": host, "scheduler": host,
    }  # fmt: skip
    for name, address in zip(("web1", "web2"), web, strict=True):
        services[name] = host | {
            "environment": {"GUNICORN_BIND": address},
            "healthcheck": {"test": ["CMD", "python", "-c", ready.format(address)]},
        }
    return {"services": services}


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if shutil.which("podman") is None or shutil.which("podman-compose") is None:
        pytest.skip("podman and podman-compose are needed: `make container-test` installs them")
    folder = tmp_path_factory.mktemp("compose")
    names = ("postgres", "redis", "smtp", "mailapi", "web1", "web2", "http", "https", "redirect")
    ports = {name: free_port() for name in names}
    password = secrets.token_urlsafe(16)
    env_file = folder / "app.env"
    env_file.write_text(
        "\n".join(
            f"{k}={v}"
            for k, v in {
                "SECRET_KEY": secrets.token_urlsafe(48),
                "JWT_SECRET_KEY": secrets.token_urlsafe(48),
                "POSTGRES_PASSWORD": password,
                "DATABASE_URL": f"postgresql://myproject:{password}@127.0.0.1:{ports['postgres']}/myproject",
                "REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
                "TRUSTED_PROXIES": "1",
                # The host the test calls: its Socket.IO client's Origin is that host's.
                "ALLOWED_HOSTS": "127.0.0.1",
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": str(ports["smtp"]),
                "OUTBOX_RELAY_INTERVAL": "5",
                "RATELIMIT_REGISTER": "100 per hour",
                "RATELIMIT_LOGIN": "100 per hour",
                "WEB_CONCURRENCY": "1",
            }.items()
        )
        + "\n"
    )
    (folder / "override.yaml").write_text(json.dumps(override(ports), indent=2))
    project = f"myproject-ct-{uuid.uuid4().hex[:8]}"
    env = (
        dict(os.environ)
        | STANDINS
        | {
            "MYPROJECT_IMAGE": IMAGE,
            "MYPROJECT_ENV_FILE": str(env_file),
            "BUILDAH_FORMAT": "docker",  # keep HEALTHCHECK (OCI images have none)
        }
    )
    base = [
        "podman-compose",
        "-p",
        project,
        "-f",
        "compose.yaml",
        "-f",
        str(folder / "override.yaml"),
    ]

    started = time.monotonic()
    build_arg = f"BASE_IMAGE={STANDINS['BASE_IMAGE']}"
    # --layers=false: no build-stage or layer images are left behind (removing IMAGE removes all).
    run(["podman", "build", "-q", "--pull=never", "--network", "host", "--format", "docker",
         "--layers=false", "--build-arg", build_arg, "-t", IMAGE, "."], env, 900)  # fmt: skip
    built = time.monotonic() - started
    size = int(run(["podman", "image", "inspect", "--format", "{{.Size}}", IMAGE], env))
    print(f"\nimage {IMAGE}: {size / 1e6:.0f} MB, built in {built:.0f} s")
    try:
        run([*base, "up", "-d", "postgres", "redis", "mailsink"], env)
        wait_for("PostgreSQL", lambda: subprocess.run(
            ["podman", "exec", f"{project}_postgres_1", "pg_isready", "-q", "-h", "127.0.0.1",
             "-p", str(ports["postgres"])], capture_output=True).returncode == 0, 60)  # fmt: skip
        # podman-compose does not order the one-shot step (containers.md): run it first, then
        # the rest without their (already running) dependencies.
        run([*base, "run", "--rm", "--no-deps", "migrate"], env)
        run([*base, "up", "-d", "--no-deps", "web1", "web2", "worker", "scheduler", "nginx"], env)
        yield {"ports": ports, "env": env, "base": base, "image": IMAGE, "project": project}
    finally:
        logs = subprocess.run([*base, "logs"], cwd=ROOT, env=env, capture_output=True, text=True)
        (folder / "compose.log").write_text(logs.stdout + logs.stderr)
        print(f"compose logs: {folder / 'compose.log'}")
        subprocess.run([*base, "down", "-v", "-t", "10"], cwd=ROOT, env=env, capture_output=True)
        subprocess.run(["podman", "pod", "rm", "-f", f"pod_{project}"], capture_output=True)
        subprocess.run(["podman", "volume", "rm", "-f", f"{project}_pgdata"], capture_output=True)
        subprocess.run(["podman", "rmi", "-f", IMAGE], capture_output=True)
        print(f"compose test, build to down: {time.monotonic() - started:.0f} s")


def test_the_image_runs_as_a_user_and_has_a_healthcheck(compose):
    uid = run(
        ["podman", "run", "--rm", "--entrypoint", "id", compose["image"], "-u"], compose["env"]
    )
    assert uid.strip() != "0"
    inspect = ["podman", "image", "inspect", "--format", "{{json .HealthCheck}}"]
    check = run([*inspect, compose["image"]], compose["env"])
    assert "/health" in check


def test_the_compose_file_serves_the_whole_flow_through_nginx(compose):
    ports = compose["ports"]
    url = f"http://127.0.0.1:{ports['http']}"
    ready = wait_for("readiness through nginx", lambda: get_json(f"{url}/health/ready"), 90)
    assert ready["checks"] == {"database": "ok", "redis": "ok"}, ready

    name = f"c{uuid.uuid4().hex[:10]}"
    email = f"{name}@example.com"
    get_json(f"{url}/api/users", {"username": name, "email": email, "password": PASSWORD})
    mailbox = f"http://127.0.0.1:{ports['mailapi']}/api/v1/messages"
    wait_for(
        "the welcome email at the mail sink",
        lambda: any(m["To"][0]["Address"] == email for m in get_json(mailbox)["messages"]),
        60,
    )

    token = get_json(f"{url}/auth/token", {"username": name, "password": PASSWORD})["access_token"]
    got: list[Any] = []
    client = socketio.Client(reconnection=False)
    client.on("item.created", got.append)
    client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    try:
        assert client.call("join", {"room": "items"}, timeout=10)["ok"] is True
        item = get_json(f"{url}/api/items", {"name": "From the container"},
                        {"Authorization": f"Bearer {token}"})  # fmt: skip
        wait_for("item.created on the socket", lambda: item in got, 10)
    finally:
        client.disconnect()
    assert get_json(f"{url}/health/ready")["status"] == "ok"
