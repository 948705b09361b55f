"""Generate ``myproject_client/`` (next to this file) from a running API's OpenAPI document.

    python examples/client/generate.py http://localhost:5000

Run it with the project's virtualenv (``.venv/bin/python``, or with ``.venv`` activated):
openapi-python-client and ruff, which it calls to format what it wrote, are found beside that
Python. The generated package is git-ignored; run this again after the API changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "myproject_client"


def main(argv: list[str]) -> int:
    api = (argv[1] if len(argv) > 1 else "http://localhost:5000").rstrip("/")
    tools = Path(sys.executable).parent
    # The generator runs `ruff` by name (its post hooks): the virtualenv's, not whatever else
    # (or nothing) is first on PATH.
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(tools / "openapi-python-client"), "generate", "--meta", "none"]
    command += ["--url", f"{api}/api/openapi.json", "--output-path", str(PACKAGE), "--overwrite"]
    return subprocess.run(command, cwd=HERE, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
