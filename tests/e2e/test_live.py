"""Live item events in the example SPA (examples/spa/js/live.js): Socket.IO from the browser
to the API under gunicorn, header mode."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD
from tests.e2e.test_spa import api_requests, create, login, names, show, sign_up_and_in, unique


def live(page: Page) -> Any:
    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "live")
    return status


def sockets_of(page: Page) -> list[Any]:
    opened: list[Any] = []
    page.on("websocket", lambda socket: opened.append(socket))
    return opened


def edit(page: Page) -> Any:
    page.locator("#item-table tbody tr").first.get_by_role("button", name="Edit").click()
    return page.locator("#edit-form")


def test_an_edit_in_one_browser_shows_live_in_another_and_a_stale_save_is_refused(
    open_spa, browsing, stack
):
    api = stack.apis["header"].url
    first = open_spa("header")
    username = sign_up_and_in(first)
    live(first)
    # The same user in a second browser context (another login), with its own socket.
    second = open_spa("header")
    opened = sockets_of(second)
    login(second, username)
    live(second)
    name = unique("live-")
    for page in (first, second):
        show(page, q=name)
        expect(page.locator("#total")).to_have_text("0 items")
    second.evaluate("window.notReloaded = true")

    # Created in the first: the row appears in the second.
    create(first, name, "live")
    expect(names(second)).to_have_text([name])
    expect(second.locator("#item-table tbody tr").first).to_have_attribute("data-live", "created")

    # Both open it; the first saves a change: the second's row changes, and its editor says
    # that the item changed under it (the first's editor does not: that was its own write).
    second_editor, first_editor = edit(second), edit(first)
    for editor in (first_editor, second_editor):
        expect(editor.get_by_label("Name")).to_have_value(name)
    first_editor.get_by_label("Name").fill(f"{name} renamed")
    first_editor.get_by_role("button", name="Save").click()
    expect(first.locator("#banner")).to_contain_text("Saved item")
    expect(names(second)).to_have_text([f"{name} renamed"])
    expect(second.locator("#changed-elsewhere")).to_be_visible()
    expect(second.locator("#changed-elsewhere")).to_contain_text("Someone else changed this item")
    expect(second.locator("#changed-elsewhere")).to_contain_text(f"{name} renamed")
    expect(first.locator("#changed-elsewhere")).to_be_hidden()

    # The second saves its stale version anyway: If-Match refuses it with 412.
    second_editor.get_by_label("Category").fill("stale")
    second_editor.get_by_role("button", name="Save").click()
    expect(second.locator("#conflict")).to_be_visible()
    expect(second.locator("#conflict")).to_contain_text("your change was not saved")
    assert [r.response().status for r in browsing.log if r.method == "PUT"] == [200, 412]
    second.get_by_role("button", name="Reload the latest version").click()
    expect(second_editor.get_by_label("Name")).to_have_value(f"{name} renamed")
    expect(second.locator("#conflict")).to_be_hidden()
    expect(second.locator("#changed-elsewhere")).to_be_hidden()

    # Deleted in the first: the row leaves the second, whose editor says so.
    first_editor.get_by_role("button", name="Delete").click()
    expect(first.locator("#banner")).to_contain_text("Deleted item")
    expect(second.locator("#total")).to_have_text("0 items")
    expect(names(second)).to_have_count(0)
    expect(second.locator("#changed-elsewhere")).to_contain_text("deleted this item")

    # No reload; one websocket to the API's /socket.io/, the token never in its URL.
    assert second.evaluate("window.notReloaded") is True
    assert len(opened) == 1
    assert opened[0].url.startswith(api.replace("http", "ws") + "/socket.io/")
    assert "transport=websocket" in opened[0].url and "token" not in opened[0].url
    assert not api_requests(browsing, api, "GET", "/socket.io/")  # no long-polling


def test_a_refused_socket_reconnects_with_a_refreshed_token(open_spa, browsing, stack):
    api = stack.apis["header"]
    page = open_spa("header")
    sign_up_and_in(page)
    live(page)
    name = unique("after-reconnect-")
    show(page, q=name)

    # The connection drops while the page holds an access token the API refuses (as an
    # expired one would be): the reconnection is refused, the SPA refreshes once and
    # connects again with the new token.
    page.evaluate(
        """async () => {
            const app = await import("/js/app.js");
            app.session.accessToken = "not-a-token";
            app.liveConnection().socket.io.engine.close();
        }"""
    )
    expect(page.locator("#live-status")).to_have_attribute("data-state", "reconnecting")
    live(page)
    assert len(api_requests(browsing, api.url, "POST", "/auth/token/refresh")) == 1

    # Events flow again: an item another user creates through the API appears.
    _, token = api.register("other")
    api.post("/api/items", {"name": name}, token=token)
    expect(names(page)).to_have_text([name])


def test_cookie_mode_says_live_updates_need_bearer_tokens(open_spa):
    page = open_spa("cookie")
    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "cookie")
    expect(status).to_contain_text("off in cookie mode")
    username = sign_up_and_in(page)
    expect(status).to_have_attribute("data-state", "cookie")

    header = open_spa("header")
    expect(header.locator("#live-status")).to_contain_text("start when you sign in")
    login(header, username, PASSWORD)
    live(header)
