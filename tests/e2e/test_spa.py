"""The example SPA (examples/spa/) against the live API, in both authentication modes."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import ARTIFACTS, PASSWORD
from tests.support import wait_for

MODES = ["header", "cookie"]


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def register(page: Page, username: str, email: str, password: str) -> None:
    form = page.locator("#register-form")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Create account").click()


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    form = page.locator("#login-form")
    form.get_by_label("Username or email").fill(username)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


def sign_up_and_in(page: Page) -> str:
    username = unique()
    register(page, username, f"{username}@example.com", PASSWORD)
    expect(page.locator("#banner")).to_contain_text(f"Account {username} created")
    login(page, username)
    expect(page.locator("#username")).to_have_text(username)
    return username


def create(page: Page, name: str, category: str = "", description: str = "") -> None:
    form = page.locator("#create-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Description").fill(description)
    form.get_by_label("Category").fill(category)
    form.get_by_role("button", name="Create").click()


def show(page: Page, **filters: str) -> None:
    form = page.locator("#filter-form")
    for name, value in filters.items():
        field = form.locator(f"#filter-{name.replace('_', '-')}")
        if field.evaluate("node => node.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.get_by_role("button", name="Apply").click()


def names(page: Page) -> Any:
    """The name cells of the rows on screen (assert with expect: it waits for the list)."""
    return page.locator("#item-table tbody tr td:first-child")


def api_requests(browsing: Any, api_url: str, method: str, path: str) -> list[Any]:
    return [r for r in browsing.log if r.method == method and r.url.split("?")[0] == api_url + path]


@pytest.mark.parametrize("mode", MODES)
def test_the_whole_flow(mode, open_spa, browsing, stack):
    api = stack.apis[mode].url
    page = open_spa(mode)
    username = unique()

    # Problem JSON, field by field: 422 from registration, next to each input.
    register(page, username, "not-an-address", "short")
    expect(page.locator("#register-email-error")).to_be_visible()
    expect(page.locator("#register-password-error")).to_contain_text("8")
    expect(page.locator("#register-password")).to_have_attribute("aria-invalid", "true")
    register(page, username, f"{username}@example.com", PASSWORD)
    expect(page.locator("#banner")).to_contain_text(f"Account {username} created")

    login(page, username, "wrong-password")
    expect(page.locator("#login-form .form-error")).to_contain_text("Invalid username or password")
    login(page, username)
    expect(page.locator("#username")).to_have_text(username)

    create(page, "   ")
    expect(page.locator("#create-name-error")).to_be_visible()

    category = unique("c")
    for number in range(7):
        create(page, f"{username} item {number}", category, f"number {number}")
        expect(page.locator("#banner")).to_contain_text(f"Created “{username} item {number}”")

    # Pages follow the Link header; the total is X-Total-Count.
    show(page, category=category, per_page="5", sort="name")
    expect(page.locator("#total")).to_have_text("7 items")
    expect(page.locator("#page-info")).to_have_text("page 1 of 2")
    expect(names(page)).to_have_text([f"{username} item {n}" for n in range(5)])
    expect(page.locator("#pager [data-rel=prev]")).to_be_disabled()
    page.locator("#pager [data-rel=next]").click()
    expect(page.locator("#page-info")).to_have_text("page 2 of 2")
    expect(names(page)).to_have_text([f"{username} item 5", f"{username} item 6"])
    expect(page.locator("#pager [data-rel=next]")).to_be_disabled()
    page.locator("#pager [data-rel=first]").click()
    expect(page.locator("#page-info")).to_have_text("page 1 of 2")
    next_url = page.locator("#pager [data-rel=next]").get_attribute("data-url")
    assert f"category={category}" in next_url and "sort=name" in next_url

    show(page, sort="-name")
    expect(page.locator("#item-table tbody tr").first).to_contain_text(f"{username} item 6")
    show(page, q="NUMBER 3")
    expect(page.locator("#total")).to_have_text("1 item")

    # A bad filter is a 422 on the query, shown next to its input.
    show(page, q="x" * 101)
    expect(page.locator("#filter-q-error")).to_be_visible()
    show(page, q="item 0")

    # Edit with If-Match, then delete.
    page.locator("#item-table tbody tr", has_text=f"{username} item 0").get_by_role(
        "button", name="Edit"
    ).click()
    editor = page.locator("#edit-form")
    expect(editor.get_by_label("Name")).to_have_value(f"{username} item 0")
    etag = editor.get_attribute("data-etag")
    editor.get_by_label("Name").fill(f"{username} item 0 renamed")
    editor.get_by_role("button", name="Save").click()
    expect(page.locator("#banner")).to_contain_text("Saved item")
    put = api_requests(browsing, api, "PUT", f"/api/items/{editor.get_attribute('data-id')}")
    assert put[-1].headers["if-match"] == etag
    editor.get_by_role("button", name="Delete").click()
    expect(page.locator("#banner")).to_contain_text("Deleted item")
    show(page, q="")
    expect(page.locator("#total")).to_have_text("6 items")

    if mode == "header":  # the picture in docs/frontends.md (docs/spa.png)
        page.locator("#item-table tbody tr").nth(1).get_by_role("button", name="Edit").click()
        expect(editor).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "spa.png"), full_page=True)
        editor.get_by_role("button", name="Close").click()
    check_credentials(page, browsing, mode, api)

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#login-form")).to_be_visible()
    assert api_requests(browsing, api, "POST", "/auth/logout")[-1].response().status == 204
    if mode == "cookie":
        assert "csrf_access_token" not in page.evaluate("document.cookie")


def check_credentials(page: Page, browsing: Any, mode: str, api: str) -> None:
    """Header mode: the bearer token, nothing stored. Cookie mode: cookies and the CSRF header,
    no token in reach of JavaScript."""
    writes = [
        r for r in browsing.log if r.url.startswith(api) and r.method in {"POST", "PUT", "DELETE"}
    ]
    writes = [r for r in writes if "/api/items" in r.url]
    assert writes
    storage = page.evaluate("[localStorage.length, sessionStorage.length]")
    assert storage == [0, 0]
    if mode == "header":
        assert all(r.headers["authorization"].startswith("Bearer ") for r in writes)
        assert page.evaluate("document.cookie") == ""
    else:
        assert not any("authorization" in r.headers for r in browsing.log)
        assert all(r.headers.get("x-csrf-token") for r in writes)
        cookies = page.evaluate("document.cookie")
        # Cookies are per host, not per port: the page on another port reads the API's CSRF
        # values, but never the HttpOnly tokens.
        assert "csrf_access_token=" in cookies and "csrf_refresh_token=" in cookies
        assert "access_token_cookie" not in cookies and "refresh_token_cookie" not in cookies


@pytest.mark.parametrize("mode", MODES)
def test_the_token_is_refreshed_before_it_expires_one_refresh_at_a_time(
    mode, open_spa, browsing, stack
):
    api = stack.apis[mode].url
    page = open_spa(mode)
    sign_up_and_in(page)

    # Before expiry (ACCESS_TOKEN_SECONDS), without any request failing first.
    expect(page.locator("#token-status")).to_have_attribute("data-refreshes", "1", timeout=20_000)
    assert not [r for r in browsing.log if r.response() and r.response().status == 401]

    # Three callers at once share one refresh request: presenting one refresh token twice
    # would end the login.
    before = len(api_requests(browsing, api, "POST", "/auth/token/refresh"))
    rotated = page.evaluate(
        """async () => {
            const { session } = await import("/js/app.js");
            const start = session.refreshes;
            await Promise.all([session.refresh(), session.refresh(), session.refresh()]);
            return session.refreshes - start;
        }"""
    )
    assert rotated == 1
    assert len(api_requests(browsing, api, "POST", "/auth/token/refresh")) == before + 1
    create(page, unique("after-refresh-"))
    expect(page.locator("#banner")).to_contain_text("Created")


def test_an_unusable_access_token_is_refreshed_and_the_request_retried_once(
    open_spa, browsing, stack
):
    api = stack.apis["header"].url
    page = open_spa("header")
    sign_up_and_in(page)
    # Once the live socket is in: connecting with the broken token, it would be refused and
    # refresh first (live.js), and the request below would never see a 401.
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.evaluate(
        """async () => { (await import("/js/app.js")).session.accessToken = "not-a-token"; }"""
    )

    create(page, "retried")

    expect(page.locator("#banner")).to_contain_text("Created “retried”")
    posts = api_requests(browsing, api, "POST", "/api/items")
    assert [r.response().status for r in posts] == [401, 201]
    assert len(api_requests(browsing, api, "POST", "/auth/token/refresh")) == 1


def test_cookie_mode_survives_a_reload_and_header_mode_does_not(open_spa):
    for mode, signed_in in (("cookie", True), ("header", False)):
        page = open_spa(mode)
        username = sign_up_and_in(page)
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        if signed_in:
            expect(page.locator("#username")).to_have_text(username)
        else:
            expect(page.locator("#login-form")).to_be_visible()


def test_the_mode_switch_reloads_the_page_in_the_other_mode(open_spa, stack):
    page = open_spa("header")

    page.get_by_label("mode").select_option("cookie")

    page.wait_for_selector("body[data-mode=cookie][data-ready=true]")
    query = parse_qs(urlsplit(page.url).query)
    assert query["mode"] == ["cookie"] and query["api"] == [stack.apis["header"].url]


@pytest.mark.parametrize("mode", MODES)
def test_a_lost_create_answer_is_retried_with_the_same_idempotency_key(
    mode, open_spa, browsing, stack
):
    page = open_spa(mode)
    sign_up_and_in(page)
    name = unique("lamp-")
    lost: list[bool] = []

    def lose_first_answer(route: Route) -> None:
        # The API creates the item, but its answer never reaches the page.
        if route.request.method == "POST" and not lost:
            lost.append(True)
            route.fetch()
            route.abort("connectionreset")
        else:
            route.fallback()

    page.route(f"{stack.apis[mode].url}/api/items", lose_first_answer)
    create(page, name, "lighting")
    expect(page.locator("#create-form .form-error")).to_contain_text("same Idempotency-Key")
    page.locator("#create-form").get_by_role("button", name="Create").click()
    expect(page.locator("#banner")).to_contain_text(f"Created “{name}”")

    posts = api_requests(browsing, stack.apis[mode].url, "POST", "/api/items")
    keys = {r.headers["idempotency-key"] for r in posts}
    assert len(posts) == 2 and len(keys) == 1
    show(page, q=name)
    expect(page.locator("#total")).to_have_text("1 item")

    # Another submission is another key.
    create(page, name + "-b", "lighting")
    expect(page.locator("#banner")).to_contain_text(f"Created “{name}-b”")
    posts = api_requests(browsing, stack.apis[mode].url, "POST", "/api/items")
    assert len({r.headers["idempotency-key"] for r in posts}) == 2


@pytest.mark.parametrize("mode", MODES)
def test_a_stale_edit_shows_the_conflict_and_offers_a_reload(mode, open_spa, browsing, stack):
    first = open_spa(mode)
    username = sign_up_and_in(first)
    name = unique("shared-")
    create(first, name, "conflicts")
    show(first, q=name)
    expect(names(first)).to_have_text([name])
    # The same user in a second browser (another login, other cookies).
    second = open_spa(mode)
    login(second, username)
    expect(second.locator("#username")).to_have_text(username)
    show(second, q=name)
    expect(names(second)).to_have_text([name])

    for page in (first, second):
        page.locator("#item-table tbody tr").first.get_by_role("button", name="Edit").click()
        expect(page.locator("#edit-form").get_by_label("Name")).to_have_value(name)
    second.locator("#edit-form").get_by_label("Description").fill("changed in the second window")
    second.locator("#edit-form").get_by_role("button", name="Save").click()
    expect(second.locator("#banner")).to_contain_text("Saved item")

    first.locator("#edit-form").get_by_label("Category").fill("mine")
    first.locator("#edit-form").get_by_role("button", name="Save").click()
    expect(first.locator("#conflict")).to_be_visible()
    expect(first.locator("#conflict")).to_contain_text("Someone else changed this item")
    first.get_by_role("button", name="Reload the latest version").click()
    expect(first.locator("#edit-form").get_by_label("Description")).to_have_value(
        "changed in the second window"
    )
    expect(first.locator("#conflict")).to_be_hidden()
    first.locator("#edit-form").get_by_label("Category").fill("mine")
    first.locator("#edit-form").get_by_role("button", name="Save").click()
    expect(first.locator("#banner")).to_contain_text("Saved item")
    statuses = [r.response().status for r in browsing.log if r.method == "PUT"]
    assert statuses == [200, 412, 200]


# --- forgot password and the reset page ------------------------------------------------------


def test_the_reset_page_without_a_token_says_so(open_spa):
    page = open_spa("header", "reset-password/")

    expect(page.locator("#no-token")).to_be_visible()
    expect(page.get_by_role("button", name="Set the new password")).to_be_disabled()


def test_the_reset_page_speaks_the_contract(open_spa, stack):
    """Against answers shaped as API.md's password-reset contract says (422, 400, 204)."""
    api = stack.apis["header"].url
    answers = [
        (422, {"errors": {"json": {"password": ["Shorter than minimum length 8."]}}}),
        (400, {"detail": "The reset token is invalid or expired."}),
        (204, None),
    ]
    sent: list[Any] = []

    def answer(route: Route) -> None:
        sent.append(json.loads(route.request.post_data or "null"))
        status, extra = answers[len(sent) - 1]
        if extra is None:
            route.fulfill(status=status, headers={"Access-Control-Allow-Origin": "*"})
            return
        problem = {"type": "about:blank", "title": "Error", "status": status, **extra}
        route.fulfill(
            status=status,
            content_type="application/problem+json",
            headers={"Access-Control-Allow-Origin": "*"},
            body=json.dumps(problem),
        )

    # The shape of PASSWORD_RESET_URL's default (no trailing slash): the static server
    # redirects to the folder and keeps the query.
    page = open_spa("header", "reset-password", token="t0ken-from-the-email_abcdefghijklmnop")
    page.route(f"{api}/auth/password-reset/confirm", answer)
    form = page.locator("#reset-form")

    def submit(password: str, confirm: str | None = None) -> None:
        form.get_by_label("New password").fill(password)
        form.get_by_label("The same password again").fill(password if confirm is None else confirm)
        form.get_by_role("button", name="Set the new password").click()

    submit("one-password", "another-one")
    expect(page.locator("#reset-confirm-error")).to_have_text("The two passwords differ.")
    submit("short")
    expect(page.locator("#reset-password-error")).to_contain_text("minimum length 8")
    submit("long-enough-1")
    expect(form.locator(".form-error")).to_contain_text("invalid, used or expired")
    submit("long-enough-2")
    expect(form.locator(".form-ok")).to_contain_text("Your password is changed")
    assert sent[-1] == {
        "token": "t0ken-from-the-email_abcdefghijklmnop",
        "password": "long-enough-2",
    }


def test_an_invalid_reset_token_is_refused_by_the_live_api(open_spa):
    page = open_spa("header", "reset-password/", token="x" * 43)
    page.get_by_label("New password").fill("long-enough-1")
    page.get_by_label("The same password again").fill("long-enough-1")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#reset-form .form-error")).to_contain_text("invalid, used or expired")


RESET_SUBJECT = "Reset your myproject password"
MAIL_WAIT = 20.0  # seconds: through the outbox, Celery (or the web process) and SMTP


def reset_email(stack: Any, address: str) -> Any:
    """The reset email the sink received for ``address`` (waits for it, bounded)."""
    found = wait_for(
        lambda: [m for m in stack.mail.to(address) if m.subject == RESET_SUBJECT],
        MAIL_WAIT,
        f"a {RESET_SUBJECT!r} email to {address}",
    )
    assert len(found) == 1, [m.subject for m in found]
    return found[0]


def test_a_password_reset_by_email_from_request_to_sign_in(open_spa, stack):
    """Forgot password in the SPA -> the email (a real SMTP sink) -> its link in the browser
    -> a new password on the reset page -> sign in with it; the old one no longer works."""
    username = unique()
    address = f"{username}@example.com"
    page = open_spa("header")
    register(page, username, address, PASSWORD)
    expect(page.locator("#banner")).to_contain_text(f"Account {username} created")

    forgot = page.locator("#forgot-form")
    forgot.get_by_label("Email").fill(address)
    forgot.get_by_role("button", name="Send me a reset link").click()
    expect(forgot.locator(".form-ok")).not_to_be_empty()

    message = reset_email(stack, address)
    reset_url = f"{stack.spa}/reset-password?api={stack.apis['header'].url}"
    links = re.findall(re.escape(reset_url) + r"&token=[A-Za-z0-9_.~%-]+", message.text)
    assert len(links) == 1, message.text
    page.goto(links[0])
    new_password = "a-brand-new-passphrase-7"
    page.get_by_label("New password").fill(new_password)
    page.get_by_label("The same password again").fill(new_password)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#reset-form .form-ok")).to_contain_text("Your password is changed")

    # The link is spent.
    page.goto(links[0])
    page.get_by_label("New password").fill("yet-another-password-8")
    page.get_by_label("The same password again").fill("yet-another-password-8")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#reset-form .form-error")).to_contain_text("invalid, used or expired")

    page.get_by_role("link", name="Back to sign in").click()
    page.wait_for_selector("body[data-ready=true]")
    login(page, username, PASSWORD)
    expect(page.locator("#login-form .form-error")).to_contain_text("Invalid username or password")
    login(page, address, new_password)
    expect(page.locator("#username")).to_have_text(username)
