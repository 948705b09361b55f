"""TLS in the shipped deploy/nginx.conf (API.md "Deployment"): its 443 server, with a
self-signed certificate made by openssl here, proxies to the app with X-Forwarded-Proto https
(the app's absolute URLs say https), and its port-80 server redirects plain HTTP to HTTPS.
Ports, certificate paths and the upstream are the only lines changed (tests/deploy/stack.py)."""

from __future__ import annotations

import http.client
import json
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import DATABASE_URL, nginx_binary
from tests.deploy.stack import (
    REDIS_URL,
    Instance,
    Ports,
    app_env,
    forget_keys,
    migrate,
    render_config,
    self_signed,
)
from tests.deploy.support import Server, nginx_prefix, start_nginx
from tests.support import PASSWORD, TempDatabase

pytestmark = pytest.mark.nginx


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ports, Path]]:
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (`make e2e-nginx` installs Debian's nginx)")
    ports = Ports()
    with TempDatabase(DATABASE_URL) as database, nginx_prefix() as prefix:
        env = app_env(database, REDIS_URL)
        migrate(env)
        app = Instance(ports.apps[0], env, tmp_path_factory.mktemp("tls") / "gunicorn.log")
        cert, key = self_signed(prefix)
        nginx: Server | None = None
        try:
            app.start()
            nginx = start_nginx(
                binary, prefix, render_config(prefix, ports, cert, key), ports.https
            )
            yield ports, cert
        finally:
            if nginx is not None:
                nginx.stop()
            app.stop()
            forget_keys()


def https(ports: Ports, cert: Path) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(cert))  # verifies chain and host name
    return http.client.HTTPSConnection("localhost", ports.https, context=context, timeout=10)


def test_plain_http_is_redirected_to_https_with_host_path_and_query(tls):
    ports, _ = tls
    conn = http.client.HTTPConnection("127.0.0.1", ports.redirect, timeout=10)
    conn.request("POST", "/api/items?page=2&q=lamp", body=b"{}", headers={"Host": "localhost"})
    answer = conn.getresponse()
    answer.read()
    conn.close()

    assert answer.status == 301
    assert answer.headers["Location"] == "https://localhost/api/items?page=2&q=lamp"


def test_https_reaches_the_app_which_builds_https_urls(tls):
    ports, cert = tls
    conn = https(ports, cert)
    name = f"t{uuid.uuid4().hex[:12]}"
    user = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    try:
        conn.request(
            "POST",
            "/api/users",
            body=json.dumps(user),
            headers={"Content-Type": "application/json", "Host": f"localhost:{ports.https}"},
        )
        answer = conn.getresponse()
        body = answer.read()
        ready_conn = https(ports, cert)
        ready_conn.request("GET", "/health/ready")
        ready = ready_conn.getresponse()
        ready_body = json.loads(ready.read())
        ready_conn.close()
    finally:
        conn.close()

    assert answer.status == 201, body[:300]
    # X-Forwarded-Proto: https and the TLS port reached the app through the shipped headers.
    created = json.loads(body)
    assert (
        answer.headers["Location"] == f"https://localhost:{ports.https}/api/users/{created['id']}"
    )
    assert ready.status == 200 and ready_body["checks"]["database"] == "ok", ready_body
    assert "Content-Security-Policy" in answer.headers  # the app's answer, not nginx's
