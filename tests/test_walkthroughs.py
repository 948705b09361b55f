"""The defaults and the walkthroughs agree (issue 24): the SPA walkthrough serves the page on
the origin of the reset link's default, lists that origin in CORS_ORIGINS, and the page's
default API is on the same host name (CORS origins and cookie hosts compare host names)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from myproject.config import load_config

ROOT = Path(__file__).resolve().parent.parent
WALKTHROUGHS = [ROOT / "docs" / "frontends.md", ROOT / "examples" / "spa" / "README.md"]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture()
def reset_origin(monkeypatch) -> str:
    monkeypatch.delenv("PASSWORD_RESET_URL", raising=False)
    return origin(load_config("development").PASSWORD_RESET_URL)


def spa_block(path: Path) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", path.read_text(), flags=re.S)
    return next(block for block in blocks if "examples/spa" in block)


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_spa_walkthrough_opens_the_page_on_the_reset_links_origin(path, reset_origin):
    block = spa_block(path)
    pages = re.findall(r"^# (http://\S+)", block, flags=re.M)
    cors = re.search(r"CORS_ORIGINS=(\S+)", block)

    assert reset_origin == "http://localhost:5173"
    assert pages and {origin(page) for page in pages} == {reset_origin}
    assert cors and reset_origin in cors.group(1).split(",")
    assert f"http.server {urlsplit(reset_origin).port}" in block


def test_the_spa_finds_make_runs_api_on_the_same_host_name(reset_origin):
    config = (ROOT / "examples" / "spa" / "js" / "config.js").read_text()
    default_api = re.search(r'DEFAULT_API = "([^"]+)"', config)

    assert default_api
    assert urlsplit(default_api.group(1)).hostname == urlsplit(reset_origin).hostname
    assert urlsplit(default_api.group(1)).port == 5000  # make run's default PORT
