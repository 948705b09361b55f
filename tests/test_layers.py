"""Layers point one way (DESIGN.md "Architecture rules"): the HTTP layer calls the domain, and
the domain never imports the HTTP layer or reads ``flask.g``.

Read from the source (every import, function-level ones included), following the domain's
imports through the helper modules it uses (config, passwords, ...) up to the HTTP layer.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "myproject"
DOMAIN = (
    "myproject.services",
    "myproject.accounts",
    "myproject.api_keys",
    "myproject.models",
    "myproject.jobs",
    "myproject.caching",
    "myproject.idempotency",
    "myproject.events",
    "myproject.security_events",
)
HTTP = (
    "myproject.api",
    "myproject.auth",
    "myproject.errors",
    "myproject.hooks",
    "myproject.openapi",
    "myproject.ratelimit",
    "myproject.realtime",
)
# Holds every extension object, HTTP ones included (the app factory wires them); the domain
# takes ``db`` and ``mail`` from it, which is not a dependency on what the others are built from.
NOT_FOLLOWED = ("myproject.extensions",)
BOUNDARY = (*DOMAIN, *NOT_FOLLOWED)  # checked on their own, or not at all


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def source_of(module: str) -> Path | None:
    relative = Path(*module.split(".")[1:])
    for path in (PACKAGE / relative / "__init__.py", (PACKAGE / relative).with_suffix(".py")):
        if path.is_file():
            return path
    return None


def modules_of(name: str) -> list[str]:
    """``name`` and, for a package, every module in it."""
    path = source_of(name)
    assert path is not None, name
    if path.name != "__init__.py":
        return [name]
    return [
        ".".join(("myproject", *file.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for file in sorted(path.parent.rglob("*.py"))
    ]


@cache
def parsed(module: str) -> ast.Module:
    path = source_of(module)
    assert path is not None, module
    return ast.parse(path.read_text(), str(path))


def imports_of(module: str) -> set[str]:
    """The myproject modules that ``module`` imports (``from a import b``: a, and a.b when
    that is a module)."""
    found: set[str] = set()
    is_package = source_of(module).name == "__init__.py"  # type: ignore[union-attr]
    for node in ast.walk(parsed(module)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join([*parts, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if within(name, ("myproject",)) and source_of(name)}


def reads_flask_g(module: str) -> bool:
    for node in ast.walk(parsed(module)):
        if isinstance(node, ast.ImportFrom) and node.module in ("flask", "flask.globals"):
            if any(alias.name == "g" for alias in node.names):
                return True
        if isinstance(node, ast.Attribute) and node.attr == "g":
            if isinstance(node.value, ast.Name) and node.value.id == "flask":
                return True
    return False


def http_imports(start: str) -> list[str]:
    """Import chains from ``start`` into the HTTP layer, through non-domain helpers."""
    chains: list[str] = []
    seen = {start}
    todo = [[start]]
    while todo:
        chain = todo.pop()
        for name in sorted(imports_of(chain[-1])):
            if within(name, HTTP):
                chains.append(" -> ".join([*chain, name]))
            elif name not in seen and name != "myproject" and not within(name, BOUNDARY):
                seen.add(name)
                todo.append([*chain, name])
    return chains


def domain_modules() -> list[str]:
    return [name for package in DOMAIN for name in modules_of(package)]


@pytest.mark.parametrize("module", domain_modules())
def test_the_domain_never_imports_the_http_layer(module):
    assert http_imports(module) == []


@pytest.mark.parametrize("module", domain_modules())
def test_the_domain_never_reads_flask_g(module):
    assert not reads_flask_g(module)


def test_the_check_sees_an_http_import_and_flask_g():
    # The HTTP layer itself does both: the checks above would catch either in the domain.
    assert http_imports("myproject.auth.password_reset")
    assert reads_flask_g("myproject.auth.routes")
