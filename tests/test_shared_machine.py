"""Tests and CI share a machine with other work (DESIGN.md, "Two commands"): every server a
test starts binds a free port, every run has its own database names and Redis keys, and no
run touches another's. Two `make test` runs and a `make e2e-nginx` run at once all pass; these
tests hold the parts that make it so."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.conftest import RUN_PREFIX
from tests.deploy.stack import Ports, render_config
from tests.deploy.support import NGINX_CONF

ROOT = Path(__file__).resolve().parent.parent


def test_this_run_keeps_its_redis_keys_under_a_prefix_of_its_own(app):
    assert RUN_PREFIX == os.environ["REDIS_KEY_PREFIX"] != "myproject"
    assert app.config["CACHE_KEY_PREFIX"] == f"{RUN_PREFIX}:"
    assert app.config["RATELIMIT_KEY_PREFIX"] == f"{RUN_PREFIX}-rl"


def test_the_nginx_tests_run_the_shipped_file_on_free_ports(tmp_path):
    ports = Ports()
    running = render_config(tmp_path, ports, tmp_path / "c.pem", tmp_path / "k.pem")
    shipped = NGINX_CONF.read_text().splitlines()

    assert {ports.http, ports.https, ports.redirect, *ports.apps}.isdisjoint({80, 443, 8000, 8080})
    changed = [
        (a.strip(), b.strip())
        for a, b in zip(shipped, running.read_text().splitlines(), strict=True)
        if a != b
    ]
    assert sorted(old.split()[0:2] for old, _ in changed) == sorted(
        [
            ["server", "127.0.0.1:8000"],
            ["listen", "8080"],
            ["listen", "443"],
            ["ssl_certificate", "/etc/ssl/myproject/fullchain.pem;"],
            ["ssl_certificate_key", "/etc/ssl/myproject/privkey.pem;"],
            ["listen", "80;"],
        ]
    )


def test_no_test_empties_a_shared_redis_database():
    sources = [p for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name]
    flushing = [str(p) for p in sources if re.search(r"\.flush(db|all)\(", p.read_text())]

    assert flushing == []


def test_ci_and_make_targets_name_no_fixed_port_for_tests():
    for path in (ROOT / ".ci" / "run", ROOT / "Makefile"):
        text = path.read_text()
        assert not re.search(r"\b(8000|8080)\b", text.replace("make run PORT=8080", "")), path
