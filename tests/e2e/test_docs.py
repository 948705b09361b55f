"""The Swagger UI at /api/docs, offline, used as a developer would: authorize, try it out."""

from __future__ import annotations

import json
import uuid

from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD


def operation(page: Page, method: str, path: str) -> object:
    block = page.locator(f".opblock-{method}").filter(
        has=page.locator(f".opblock-summary-path[data-path='{path}']")
    )
    block.locator(".opblock-summary").first.click()
    block.get_by_role("button", name="Try it out").click()
    return block


def test_swagger_ui_renders_offline_authorizes_and_tries_requests(browsing, stack):
    api = stack.apis["header"]
    name, token = api.register("docs")
    item = api.post("/api/items", {"name": "Docs lamp", "category": "docs"}, token)
    page = browsing.page()

    page.goto(f"{api.url}/api/docs")

    expect(page.locator(".information-container .title")).to_contain_text("myproject")
    # A token of its own, fresh once the page is up: rendering a large document on a busy
    # machine can outlast the short access tokens of these servers.
    token = api.post("/auth/token", {"username": name, "password": PASSWORD})["access_token"]
    page.locator(".auth-wrapper .authorize").click()
    dialog = page.locator(".dialog-ux")
    dialog.locator("input").fill(token)
    dialog.get_by_role("button", name="Authorize", exact=True).click()
    dialog.get_by_role("button", name="Close").click()

    block = operation(page, "get", "/api/items/{item_id}")
    block.locator("input[placeholder='item_id']").fill(str(item["id"]))
    block.get_by_role("button", name="Execute").click()
    answer = block.locator(".live-responses-table .response").first
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".response-col_description")).to_contain_text("Docs lamp")

    name = f"From the docs {uuid.uuid4().hex[:6]}"
    block = operation(page, "post", "/api/items")
    block.locator("textarea.body-param__text").fill(json.dumps({"name": name}))
    block.get_by_role("button", name="Execute").click()
    answer = block.locator(".live-responses-table .response").first
    expect(answer.locator(".response-col_status")).to_have_text("201")
    expect(answer.locator(".response-col_description")).to_contain_text(name)
    posts = [r for r in browsing.log if r.method == "POST" and r.url == f"{api.url}/api/items"]
    assert posts[-1].headers["authorization"] == f"Bearer {token}"
    # The browsing fixture fails the test if any request left loopback (no CDN, no validator).
