"""myproject/readiness.py: the migrations head without Alembic, and a serving process that
never loads Alembic (about 8 MiB per worker; bench/results.md "Memory")."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from alembic.script import ScriptDirectory

from myproject.readiness import MIGRATIONS_DIR, revisions

ROOT = Path(__file__).resolve().parent.parent


def alembic_revisions(directory: str) -> tuple[frozenset[str], frozenset[str]]:
    script = ScriptDirectory(directory)
    known = frozenset(revision.revision for revision in script.walk_revisions())
    return frozenset(script.get_heads()), known


def write_revision(directory: Path, name: str, header: str) -> None:
    body = f'"""{name}"""\n{header}\nbranch_labels = None\ndepends_on = None\n\n\n'
    body += "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    (directory / "versions" / f"{name}.py").write_text(body)


def test_project_revisions_agree_with_alembic():
    assert revisions(MIGRATIONS_DIR) == alembic_revisions(MIGRATIONS_DIR)


def test_branches_and_merges_agree_with_alembic(tmp_path):
    (tmp_path / "versions").mkdir()
    (tmp_path / "script.py.mako").write_text("")
    write_revision(tmp_path, "a", 'revision = "a"\ndown_revision = None')
    write_revision(tmp_path, "b", 'revision: str = "b"\ndown_revision: str | None = "a"')
    write_revision(tmp_path, "c", "revision = 'c'\ndown_revision = 'a'")
    write_revision(tmp_path, "d", 'revision = "d"\ndown_revision = ("b", "c")')
    write_revision(tmp_path, "e", 'revision = "e"\ndown_revision = "a"')

    heads, known = revisions(str(tmp_path))

    assert (heads, known) == alembic_revisions(str(tmp_path))
    assert heads == {"d", "e"}


def test_serving_requests_never_imports_alembic(tmp_path):
    script = f"""
        import sys
        from myproject import create_app
        app = create_app("testing", {{
            "SQLALCHEMY_DATABASE_URI": "sqlite:///{tmp_path / "db.sqlite"}",
            "CHECK_MIGRATIONS": True,
        }})
        client = app.test_client()
        for path in ("/health/ready", "/api/items", "/api/items/1", "/metrics"):
            client.get(path)
        print(sorted(m for m in ("alembic", "flask_migrate", "mako") if m in sys.modules))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
