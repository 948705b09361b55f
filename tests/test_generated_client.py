"""A client generated from the live OpenAPI document (openapi-python-client) works against the
live service (API.md, *Operations*, ``GET /api/openapi.json``): one full flow through it.

Slower than the rest (a subprocess server and a code generator): ``make client-test`` runs it
alone; it also runs in both lanes of ``make pytest``.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.live_server import LiveServer

PACKAGE = "myproject_live_client"
PASSWORD = "correct-horse-42"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer() as live:
        yield live


@pytest.fixture(scope="module")
def generated(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The client package, generated from the document the live server serves."""
    workdir = tmp_path_factory.mktemp("client")
    with urllib.request.urlopen(f"{server.url}/api/openapi.json", timeout=10) as answer:
        (workdir / "openapi.json").write_bytes(answer.read())
    (workdir / "config.yaml").write_text("post_hooks: []\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    result = subprocess.run(
        [str(generator), "generate", "--path", "openapi.json", "--config", "config.yaml"]
        + ["--meta", "none", "--output-path", PACKAGE],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(workdir))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(workdir))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def api(client_package: ModuleType, path: str) -> ModuleType:
    return importlib.import_module(f"{client_package.__name__}.api.{path}")


def next_link(link_header: str) -> dict[str, list[str]] | None:
    for part in link_header.split(","):
        target, _, rel = part.partition(";")
        if rel.strip() == 'rel="next"':
            return parse_qs(urlsplit(target.strip()[1:-1]).query)
    return None


def test_generated_client_drives_a_full_flow(server, generated):
    models = importlib.import_module(f"{PACKAGE}.models")
    anonymous = generated.Client(base_url=server.url, raise_on_unexpected_status=True)

    # Register and log in.
    created = api(generated, "users.post_api_users").sync_detailed(
        client=anonymous,
        body=models.UserCreate(username="clara", email="clara@example.com", password=PASSWORD),
    )
    assert created.status_code == 201
    me = created.parsed
    assert isinstance(me, models.User)
    assert created.headers["Location"].endswith(f"/api/users/{me.id}")
    login = api(generated, "auth.post_auth_token").sync(
        client=anonymous, body=models.Login(username="clara", password=PASSWORD)
    )
    assert isinstance(login, models.Token)
    signed_in = generated.AuthenticatedClient(
        base_url=server.url, token=login.access_token, raise_on_unexpected_status=True
    )

    # Create items, then walk the list by its `next` links.
    post_item = api(generated, "items.post_api_items")
    for name in ("Anvil", "Bucket", "Chisel"):
        answer = post_item.sync_detailed(client=signed_in, body=models.ItemCreate(name=name))
        assert answer.status_code == 201
        assert isinstance(answer.parsed, models.Item)
        assert answer.headers["Location"].endswith(f"/api/items/{answer.parsed.id}")
    list_items = api(generated, "items.get_api_items")
    page = list_items.sync_detailed(client=anonymous, per_page=2, sort=models.ItemSort.NAME_DESC)
    names = [item.name for item in page.parsed]
    params = next_link(page.headers["Link"])
    assert params is not None
    page = list_items.sync_detailed(
        client=anonymous,
        page=int(params["page"][0]),
        per_page=int(params["per_page"][0]),
        cursor=params["cursor"][0],
        sort=models.ItemSort(params["sort"][0]),
    )
    names += [item.name for item in page.parsed]
    assert names == ["Chisel", "Bucket", "Anvil"]
    assert page.headers["X-Total-Count"] == "3"
    assert next_link(page.headers["Link"]) is None

    # A user read anonymously is public; read by themself it is private, email declared.
    read_user = api(generated, "users.get_api_users_user_id")
    public = read_user.sync(client=anonymous, user_id=me.id)
    assert isinstance(public, models.UserPublic)
    assert public.username == "clara"
    private = read_user.sync(client=signed_in, user_id=me.id)
    assert isinstance(private, models.User)
    assert private.email == "clara@example.com"

    # Conditional read and write: a current ETag, a stale one, then delete.
    item_id = answer.parsed.id
    etag = answer.headers["ETag"]
    read_item = api(generated, "items.get_api_items_item_id")
    assert (
        read_item.sync_detailed(client=anonymous, item_id=item_id, if_none_match=etag).status_code
        == 304
    )
    patch_item = api(generated, "items.patch_api_items_item_id")
    patched = patch_item.sync_detailed(
        client=signed_in, item_id=item_id, body=models.ItemUpdate(name="Chisel 2"), if_match=etag
    )
    assert patched.status_code == 200
    assert patched.parsed.name == "Chisel 2"
    stale = patch_item.sync_detailed(
        client=signed_in, item_id=item_id, body=models.ItemUpdate(name="lost"), if_match=etag
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, models.Problem)
    deleted = api(generated, "items.delete_api_items_item_id").sync_detailed(
        client=signed_in, item_id=item_id, if_match=patched.headers["ETag"]
    )
    assert deleted.status_code == 204

    # Rotate the refresh token, then log out: the new access token stops working.
    refreshed = api(generated, "auth.post_auth_token_refresh").sync(
        client=generated.AuthenticatedClient(base_url=server.url, token=login.refresh_token)
    )
    assert isinstance(refreshed, models.Token)
    fresh = generated.AuthenticatedClient(
        base_url=server.url, token=refreshed.access_token, raise_on_unexpected_status=True
    )
    assert api(generated, "auth.post_auth_logout").sync_detailed(client=fresh).status_code == 204
    after = api(generated, "users.get_api_users_me").sync_detailed(client=fresh)
    assert after.status_code == 401
    assert isinstance(after.parsed, models.Problem)
    assert json.loads(after.content)["status"] == 401


# --- examples/client/: the README's commands, as written -----------------------------------

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "client"


def test_the_client_example_runs_as_its_readme_says(server, tmp_path):
    """The README's commands, each run as written (the project's Python for `.venv/bin/python`,
    the live server for `make run`'s address) in a copy of the folder, so that runs at the same
    time never write into one another's generated package."""
    readme = (EXAMPLE / "README.md").read_text()
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    copy = tmp_path / "examples" / "client"
    copy.mkdir(parents=True)
    for name in ("generate.py", "example.py"):
        (copy / name).write_text((EXAMPLE / name).read_text())
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = "/usr/bin:/bin"  # no virtualenv on PATH: generate.py must find ruff itself

    outputs = []
    for line in block.strip().splitlines():
        args = shlex.split(line.replace("http://localhost:5000", server.url))
        assert args[0] == ".venv/bin/python"
        result = subprocess.run(
            [sys.executable, *args[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout + result.stderr)

    assert "signed in as client" in outputs[-1]
    assert (copy / "myproject_client" / "__init__.py").exists()
    assert "ruff" not in outputs[0].lower() or "error" not in outputs[0].lower(), outputs[0]


def test_the_generated_client_is_git_ignored():
    root = EXAMPLE.parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("needs a git checkout")
    target = EXAMPLE / "myproject_client" / "__init__.py"
    ignored = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", str(target)])

    assert ignored.returncode == 0


def test_generated_client_lists_logins_and_creates_a_key(server, generated):
    models = importlib.import_module(f"{PACKAGE}.models")
    anonymous = generated.Client(base_url=server.url, raise_on_unexpected_status=True)
    api(generated, "users.post_api_users").sync(
        client=anonymous,
        body=models.UserCreate(username="dora", email="dora@example.com", password=PASSWORD),
    )
    login = api(generated, "auth.post_auth_token").sync(
        client=anonymous, body=models.Login(username="dora", password=PASSWORD)
    )
    signed_in = generated.AuthenticatedClient(
        base_url=server.url, token=login.access_token, raise_on_unexpected_status=True
    )

    sessions = api(generated, "sessions.get_auth_sessions").sync(client=signed_in)
    assert [type(s).__name__ for s in sessions] == ["LoginSession"]
    assert sessions[0].current is True
    created = api(generated, "api_keys.post_auth_api_keys").sync_detailed(
        client=signed_in,
        body=models.ApiKeyCreate.from_dict({"name": "ci", "scopes": ["users:read"]}),
    )
    assert created.status_code == 201
    key = created.parsed
    assert key.token.startswith("mp_") and key.prefix == key.token[:8]
    listed = api(generated, "api_keys.get_auth_api_keys").sync(client=signed_in)
    assert [k.id for k in listed] == [key.id]

    keyed = generated.AuthenticatedClient(base_url=server.url, token=key.token)
    me = api(generated, "users.get_api_users_me").sync(client=keyed)
    assert isinstance(me, models.User) and me.username == "dora"
    refused = api(generated, "api_keys.get_auth_api_keys").sync_detailed(client=keyed)
    assert refused.status_code == 403
