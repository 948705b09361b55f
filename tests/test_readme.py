"""The README is a true front door: its examples run as written against a fresh `make run`
server, its layout table names only paths that exist, and every relative link in it and in
docs/ resolves (files, and headings for ``#anchors``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import answers_200, free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
MARKER = "<!-- tests/test_readme.py runs this block"
ADMIN_PASSWORD = "admin-password-1"


def readme_blocks() -> list[str]:
    """The shell blocks that follow a test marker, in README order."""
    text = README.read_text()
    return re.findall(re.escape(MARKER) + r"[^\n]*\n```sh\n(.*?)```", text, flags=re.S)


@pytest.fixture()
def fresh_server(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], int]]:
    """What `make run` starts (development config, migrated SQLite), on a free port."""
    (tmp_path / ".venv").symlink_to(sys.prefix)  # the README calls .venv/bin/flask
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "REDIS", "FLASK"))}
    env.update(
        FLASK_APP="myproject",
        FLASK_CONFIG="development",
        DATABASE_URL=f"sqlite:///{tmp_path / 'readme.sqlite'}",
    )
    flask = str(tmp_path / ".venv" / "bin" / "flask")
    subprocess.run([flask, "db", "upgrade"], cwd=tmp_path, env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [flask, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: answers_200(f"http://127.0.0.1:{port}/health"), 60, "flask run to answer")
        yield tmp_path, env, port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def run_block(block: str, cwd: Path, env: dict[str, str], stdin: str = "") -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_readme_marks_the_blocks_it_promises_to_run():
    assert len(readme_blocks()) == 2


def test_readme_examples_run_as_written(fresh_server):
    cwd, env, port = fresh_server
    setup, walkthrough = readme_blocks()
    assert "API=http://127.0.0.1:5000\n" in walkthrough

    created = run_block(setup, cwd, env, stdin=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    output = run_block(walkthrough.replace(":5000", f":{port}"), cwd, env)

    assert "Created admin admin" in created and "Created user bob" in created
    assert '"username": "carol"' in output or '"username":"carol"' in output
    assert "X-Total-Count: 1" in output
    assert "brass, 40 cm" in output


# --- the README stays a front door, and every reference it points to exists ------------------

FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
FILE_LIKE = re.compile(r"^[\w-]+(\.[\w]+|/)$")  # users.py, nginx.conf, e2e/


def prose_lines(text: str) -> Iterator[str]:
    """The lines outside fenced code blocks, with inline code spans removed."""
    in_fence = False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            in_fence = not in_fence
        elif not in_fence:
            yield re.sub(r"(`+)(?:(?!\1).)+?\1", "", line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    in_fence = False
    for line in path.read_text().splitlines():
        if FENCE.match(line.lstrip()):
            in_fence = not in_fence
        elif not in_fence and (heading := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)):
            base = candidate = slug(heading.group(1))
            n = 0
            while candidate in found:  # GitHub numbers repeated headings: x, x-1, x-2
                n += 1
                candidate = f"{base}-{n}"
            found.add(candidate)
    return found


def links(path: Path) -> list[str]:
    targets = []
    for line in prose_lines(path.read_text()):
        targets += LINK.findall(line)
        targets += REFERENCE.findall(line)
    return targets


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return broken


def layout_rows() -> list[tuple[str, str]]:
    """(path, description) for each row of the README's layout table."""
    section = README.read_text().split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2 and cells[0].startswith("`"):
            rows.append((cells[0].strip("`"), cells[1]))
    return rows


def test_readme_is_short_enough_to_read_at_once():
    assert len(README.read_text().splitlines()) <= 200


def test_readme_layout_table_names_only_paths_that_exist():
    rows = layout_rows()
    assert len(rows) >= 20  # the table was found
    missing = []
    for path, description in rows:
        if not (ROOT / path).exists() or (path.endswith("/") and not (ROOT / path).is_dir()):
            missing.append(path)
        elif path.endswith("/"):  # files named in a directory's description are in it
            for name in re.findall(r"`([^`]+)`", description):
                if FILE_LIKE.match(name) and not (ROOT / path / name).exists():
                    missing.append(path + name)
    assert missing == []


def test_readme_links_only_inside_the_repository():
    external = [target for target in links(README) if re.match(r"^[a-z][a-z0-9+.-]*:", target)]
    assert external == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_every_relative_link_resolves(doc):
    assert broken_links(doc) == []


def test_configuration_doc_names_every_variable_of_env_example():
    variables = re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    documented = (ROOT / "docs" / "configuration.md").read_text()
    assert variables
    assert [name for name in variables if f"`{name}`" not in documented] == []
