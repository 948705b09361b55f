"""The offline Swagger UI's assets (myproject/api/docs.py): what the page loads, nothing else."""

from __future__ import annotations

import re

import pytest

ASSET_URL = re.compile(r"""(?:src|href)\s*=\s*["'](/api/docs/assets/[^"']+)["']""")


def test_every_asset_the_docs_page_loads_is_served(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assets = ASSET_URL.findall(page)

    assert len(assets) == 3
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["Cache-Control"] == "public, max-age=86400"


@pytest.mark.parametrize(
    "filename",
    [
        "index.j2",
        "index.html",
        "oauth2-redirect.html",
        "swagger-initializer.js",
        "swagger-ui-bundle.js.map",
        "swagger-ui-es-bundle.js",
        "favicon-32x32.png",
        "../__init__.py",
        "%2e%2e/__init__.py",
    ],
)
def test_other_bundle_files_are_404_problem_json(client, filename):
    response = client.get(f"/api/docs/assets/{filename}")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
