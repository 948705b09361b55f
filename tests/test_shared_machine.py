"""Tests and CI share a machine with other work (DESIGN.md, "Two commands"): every server a
test starts binds a free port, every run has its own database names and Redis keys, and no
run touches another's. Two `make test` runs and a `make e2e-nginx` run at once all pass; these
tests hold the parts that make it so."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.conftest import RUN_PREFIX
from tests.deploy.support import APP_PORT, NGINX_CONF, NGINX_PORT, on_run_ports

ROOT = Path(__file__).resolve().parent.parent


def test_this_run_keeps_its_redis_keys_under_a_prefix_of_its_own(app):
    assert RUN_PREFIX == os.environ["REDIS_KEY_PREFIX"] != "myproject"
    assert app.config["CACHE_KEY_PREFIX"] == f"{RUN_PREFIX}:"
    assert app.config["RATELIMIT_KEY_PREFIX"] == f"{RUN_PREFIX}-rl"


def test_the_nginx_tests_run_the_shipped_file_on_free_ports():
    shipped = NGINX_CONF.read_text().splitlines()
    running = on_run_ports(NGINX_CONF.read_text()).splitlines()

    assert {NGINX_PORT, APP_PORT}.isdisjoint({8000, 8080}) and NGINX_PORT != APP_PORT
    changed = [(a.strip(), b.strip()) for a, b in zip(shipped, running, strict=True) if a != b]
    assert changed == [
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{APP_PORT};"),
        ("listen 8080 default_server;", f"listen {NGINX_PORT} default_server;"),
    ]


def test_no_test_empties_a_shared_redis_database():
    sources = [p for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name]
    flushing = [str(p) for p in sources if re.search(r"\.flush(db|all)\(", p.read_text())]

    assert flushing == []


def test_ci_and_make_targets_name_no_fixed_port_for_tests():
    for path in (ROOT / ".ci" / "run", ROOT / "Makefile"):
        text = path.read_text()
        assert not re.search(r"\b(8000|8080)\b", text.replace("make run PORT=8080", "")), path
