"""Socket.IO (myproject.realtime) through Flask-SocketIO's test client: connection auth, room
acknowledgements and item events after the commit. Live servers: tests/test_realtime_live.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask_jwt_extended import create_access_token

from myproject import create_app, events, hooks, realtime
from myproject.models import Item
from myproject.realtime import edge
from tests.support import NEW_ITEM, bearer


@pytest.fixture()
def socketio(app: Any) -> Any:
    return app.extensions["socketio"]


@pytest.fixture()
def connect(app: Any, db: Any, socketio: Any, monkeypatch: Any) -> Any:
    # No background login check: it would read the database outside the test's transaction
    # (the tests below run disconnect_ended_logins themselves).
    monkeypatch.setitem(app.config, "SOCKETIO_LOGIN_CHECK_SECONDS", 0)
    opened: list[Any] = []

    def factory(token: str | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("auth", None if token is None else {"token": token})
        client = socketio.test_client(app, **kwargs)
        opened.append(client)
        return client

    yield factory
    for client in opened:
        if client.is_connected():
            client.disconnect()


def received(client: Any) -> list[tuple[str, Any]]:
    return [(event["name"], event["args"][0]) for event in client.get_received()]


def joined(connect: Any, token: str, *rooms: str) -> Any:
    client = connect(token)
    assert client.is_connected()
    for room in rooms:
        assert client.emit("join", {"room": room}, callback=True) == {"ok": True, "room": room}
    return client


# --- connecting -----------------------------------------------------------------------------


def test_connect_with_an_access_token(connect, tokens):
    assert connect(tokens["access_token"]).is_connected()


@pytest.mark.parametrize("auth", [None, {}, {"token": ""}, {"token": 42}, "a-token"])
def test_connect_without_a_token_is_refused(connect, auth):
    assert not connect(auth=auth).is_connected()


def test_connect_with_a_tampered_token_is_refused(connect, tokens):
    token = tokens["access_token"]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    assert not connect(tampered).is_connected()


def test_connect_with_a_refresh_token_is_refused(connect, tokens):
    assert not connect(tokens["refresh_token"]).is_connected()


def test_connect_with_an_expired_token_is_refused(app, connect, tokens, user):
    from tests.support import claims_of

    sid = claims_of(tokens["access_token"])["sid"]
    with app.app_context():
        expired = create_access_token(
            identity=str(user.id),
            additional_claims={"sid": sid, "adm": False},
            expires_delta=timedelta(seconds=-60),
        )

    assert not connect(expired).is_connected()


def test_connect_with_a_revoked_token_is_refused(client, connect, tokens):
    assert client.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204

    assert not connect(tokens["access_token"]).is_connected()


def test_connect_as_a_deactivated_user_is_refused(session, connect, tokens, user):
    user.update(is_active=False)

    assert not connect(tokens["access_token"]).is_connected()


def test_token_in_the_query_string_is_refused(connect, tokens):
    token = tokens["access_token"]

    assert not connect(auth=None, query_string=f"token={token}").is_connected()
    assert not connect(token, query_string=f"token={token}").is_connected()


# Behind nginx on 8080 (deploy/nginx.conf): X-Forwarded-Host is its $host, without the port,
# which comes in X-Forwarded-Port; gunicorn sees the proxy's own Host.
BEHIND_NGINX = {
    "wsgi.url_scheme": "http",
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_X_FORWARDED_PROTO": "http",
    "HTTP_X_FORWARDED_HOST": "localhost",
    "HTTP_X_FORWARDED_PORT": "8080",
}

# A TLS load balancer in front of nginx, each appending; the client forged a first value.
TWO_PROXIES = BEHIND_NGINX | {
    "HTTP_X_FORWARDED_PROTO": "http, https, http",
    "HTTP_X_FORWARDED_HOST": "evil, api.example, localhost",
    "HTTP_X_FORWARDED_PORT": "666, 443, 8080",
}


@pytest.mark.parametrize(
    ("hops", "environ", "origin", "allowed"),
    [
        (0, {"HTTP_HOST": "localhost:5000"}, "http://localhost:5000", True),
        (0, {"HTTP_HOST": "localhost:5000"}, "http://localhost", False),
        (
            0,
            {"HTTP_HOST": "localhost:5000"} | {"HTTP_X_FORWARDED_HOST": "evil"},
            "http://evil",
            False,
        ),
        (1, BEHIND_NGINX, "http://localhost:8080", True),
        (1, BEHIND_NGINX, "http://localhost", False),
        (1, BEHIND_NGINX, "http://127.0.0.1:8000", False),
        (
            1,
            BEHIND_NGINX | {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_PORT": "443"},
            "https://localhost",
            True,
        ),
        # Two hops: what the outer proxy saw, as ProxyFix takes it.
        (2, TWO_PROXIES, "https://api.example", True),
        (2, TWO_PROXIES, "http://evil:666", False),
        (1, BEHIND_NGINX | {"HTTP_X_FORWARDED_HOST": "[::1]"}, "http://[::1]:8080", True),
        (1, {"HTTP_X_FORWARDED_PORT": "8080"}, "http://:8080", False),
        (1, BEHIND_NGINX, "https://spa.example", True),
        (1, BEHIND_NGINX, None, True),  # not a browser: the token decides
    ],
)
def test_the_servers_own_origin_is_the_one_its_proxies_forwarded(hops, environ, origin, allowed):
    # With ALLOWED_HOSTS set (the edge has refused any other Host before this check).
    app = Flask(__name__)
    app.config.update(
        TRUSTED_PROXIES=hops, CORS_ORIGINS=["https://spa.example"], TRUSTED_HOSTS=["localhost"]
    )
    seen: dict[str, Any] = {}
    app.wsgi_app = lambda environ, start_response: seen.update(environ) or []  # type: ignore[method-assign]
    hooks.trust_proxies(app)  # the ProxyFix that create_app puts around Socket.IO

    app.wsgi_app(dict(environ), lambda *args: None)

    assert edge.origin_checker(app)(origin, seen) is allowed


def test_the_servers_own_origin_needs_allowed_hosts():
    """Without ALLOWED_HOSTS the Host is anyone's to forge: an Origin repeating it proves
    nothing, only CORS_ORIGINS counts."""
    app = Flask(__name__)
    app.config.update(CORS_ORIGINS=["https://spa.example"], TRUSTED_HOSTS=None)
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "evil.example"}

    assert edge.origin_checker(app)("http://evil.example", environ) is False
    assert edge.origin_checker(app)("https://spa.example", environ) is True


@pytest.mark.parametrize(
    ("origin", "status"), [("http://localhost:8080", 200), ("http://localhost", 400)]
)
def test_socket_io_is_behind_the_apps_proxy_fix(origin, status):
    app = create_app(
        "testing",
        {"TRUSTED_PROXIES": 1, "SOCKETIO_MESSAGE_QUEUE": None, "TRUSTED_HOSTS": ["localhost"]},
    )
    headers = {"Origin": origin, "X-Forwarded-Host": "localhost", "X-Forwarded-Port": "8080"}

    response = app.test_client().get("/socket.io/?EIO=4&transport=polling", headers=headers)

    assert response.status_code == status


# --- rooms ----------------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["join", "leave"])
def test_join_and_leave_items_are_acknowledged(connect, tokens, event):
    client = connect(tokens["access_token"])

    ack = client.emit(event, {"room": "items"}, callback=True)

    assert ack == {"ok": True, "room": "items"}


def test_join_a_user_room(connect, tokens, other):
    client = connect(tokens["access_token"])

    ack = client.emit("join", {"room": f"user:{other.id}"}, callback=True)

    assert ack == {"ok": True, "room": f"user:{other.id}"}


@pytest.mark.parametrize("event", ["join", "leave"])
@pytest.mark.parametrize(
    "data", [{"room": "everything"}, {"room": "user:abc"}, {"room": 7}, {}, "items", None]
)
def test_unknown_room_is_an_error_ack(connect, tokens, event, data):
    client = connect(tokens["access_token"])

    ack = client.emit(event, data, callback=True)

    assert ack["ok"] is False
    assert ack["error"]


@pytest.mark.parametrize("event", ["join", "leave"])
def test_missing_user_room_is_an_error_ack(connect, tokens, event):
    client = connect(tokens["access_token"])

    ack = client.emit(event, {"room": "user:999999"}, callback=True)

    assert ack == {"ok": False, "error": "User 999999 does not exist."}


# --- events after the commit ------------------------------------------------------------------


def test_created_item_reaches_items_and_owner_rooms_once(client, connect, tokens, user, other):
    token = tokens["access_token"]
    in_items, in_owner = joined(connect, token, "items"), joined(connect, token, f"user:{user.id}")
    in_both = joined(connect, token, "items", f"user:{user.id}")
    elsewhere = joined(connect, token, f"user:{other.id}")

    response = client.post("/api/items", json=NEW_ITEM, headers=bearer(token))

    assert response.status_code == 201
    body = client.get(f"/api/items/{response.get_json()['id']}").get_json()
    for socket in (in_items, in_owner, in_both):
        assert received(socket) == [("item.created", body)]
    assert received(elsewhere) == []


def test_updated_item_sends_its_representation(client, connect, tokens, item):
    socket = joined(connect, tokens["access_token"], "items")

    response = client.patch(
        f"/api/items/{item.id}", json={"name": "Renamed"}, headers=bearer(tokens["access_token"])
    )

    assert response.status_code == 200
    assert received(socket) == [("item.updated", client.get(f"/api/items/{item.id}").get_json())]


def test_deleted_item_sends_its_id(client, connect, tokens, item, user):
    socket = joined(connect, tokens["access_token"], f"user:{user.id}")

    response = client.delete(f"/api/items/{item.id}", headers=bearer(tokens["access_token"]))

    assert response.status_code == 204
    assert received(socket) == [("item.deleted", {"id": item.id})]


def test_left_room_gets_nothing(client, connect, tokens):
    socket = joined(connect, tokens["access_token"], "items")
    socket.emit("leave", {"room": "items"}, callback=True)

    client.post("/api/items", json=NEW_ITEM, headers=bearer(tokens["access_token"]))

    assert received(socket) == []


def test_rolled_back_write_emits_nothing(session, connect, tokens, user):
    socket = joined(connect, tokens["access_token"], "items", f"user:{user.id}")
    session.add(Item(name="Never", user=user))
    session.flush()

    session.rollback()
    session.commit()

    assert received(socket) == []


def test_failed_write_emits_nothing(client, connect, tokens, item, other_headers):
    socket = joined(connect, tokens["access_token"], "items")

    response = client.patch(f"/api/items/{item.id}", json={"name": "x"}, headers=other_headers)

    assert response.status_code == 403
    assert received(socket) == []


def test_item_created_and_changed_in_one_transaction_is_one_event(session, user):
    item = Item.create(user=user, name="First", commit=False)
    item.update(name="Second", commit=False)
    changes = events.changes(session)

    found = realtime.resource_events(changes)

    assert [(name, payload["name"]) for name, payload, _ in found] == [("item.created", "Second")]


# --- ended logins ---------------------------------------------------------------------------


def test_logout_disconnects_the_login_s_sockets(app, client, connect, socketio, tokens, auth, user):
    mine = connect(tokens["access_token"])
    another_login = connect(auth.login(user.username)["access_token"])
    client.post("/auth/logout", headers=bearer(tokens["access_token"]))

    with app.app_context():
        ended = realtime.disconnect_ended_logins(socketio, app.extensions[realtime.STATE])

    assert len(ended) == 1
    assert not mine.is_connected()
    assert another_login.is_connected()


def test_deactivation_disconnects_every_socket_of_the_user(app, connect, socketio, tokens, user):
    socket = connect(tokens["access_token"])
    user.update(is_active=False)

    with app.app_context():
        realtime.disconnect_ended_logins(socketio, app.extensions[realtime.STATE])

    assert not socket.is_connected()


# --- hostile clients (issue 21): room names, user deletion, /socket.io/ and its hosts --------


@pytest.mark.parametrize(
    "room",
    [
        "user:" + "9" * 4301,  # int() of it would raise ValueError
        "user:2147483648",  # past the id column
        "user:0",
        "user:-1",
        "user:+1",
        "user: 1",
        "user:١",  # a digit, but not an ASCII one
        "user:1" + " " * 60,
        "i" * 65,
        ["items"],
        {"room": "items"},
        None,
    ],
)
def test_malformed_room_names_are_refused_without_the_database(
    connect, tokens, sql_statements, room
):
    client = connect(tokens["access_token"])
    sql_statements.clear()

    ack = client.emit("join", {"room": room}, callback=True)

    assert ack["ok"] is False and isinstance(ack["error"], str)
    assert sql_statements == []


def test_events_past_the_limit_are_refused_then_the_socket_dropped(
    app, connect, tokens, monkeypatch
):
    client = connect(tokens["access_token"])
    limit = 20  # SOCKETIO_EVENT_LIMIT's default: 20 per 10 seconds

    acks = [client.emit("leave", {"room": "items"}, callback=True) for _ in range(limit + 1)]

    assert acks[:limit] == [{"ok": True, "room": "items"}] * limit
    assert acks[limit] == {"ok": False, "error": "rate limited"}
    for _ in range(limit):
        client.emit("leave", {"room": "items"}, callback=True)
    assert not client.is_connected()


def test_unknown_events_count_and_are_answered(connect, tokens):
    client = connect(tokens["access_token"])

    ack = client.emit("shout", {"room": "items"}, callback=True)

    assert ack["ok"] is False and "shout" in ack["error"]


def test_deleting_a_user_announces_each_of_their_items(
    client, connect, make_item, user, other, other_headers, auth_headers
):
    first, second = make_item(user, name="One"), make_item(user, name="Two")
    kept = make_item(other, name="Kept")
    socket = joined(connect, other_headers["Authorization"].split()[1], "items")

    assert client.delete(f"/api/users/{user.id}", headers=auth_headers).status_code == 204

    assert sorted(received(socket), key=lambda event: event[1]["id"]) == [
        ("item.deleted", {"id": first.id}),
        ("item.deleted", {"id": second.id}),
    ]
    assert client.get(f"/api/items/{kept.id}").status_code == 200


@pytest.mark.parametrize(
    ("host", "origin", "status"),
    [
        ("api.example", None, 200),
        ("api.example", "http://api.example", 200),  # a page of the API's own allowed host
        ("evil.example", None, 400),
        ("evil.example", "http://evil.example", 400),
        ("api.example", "http://evil.example", 400),
    ],
)
def test_socket_io_obeys_allowed_hosts(host, origin, status):
    app = create_app("testing", {"SOCKETIO_MESSAGE_QUEUE": None, "TRUSTED_HOSTS": ["api.example"]})
    headers = {"Host": host} | ({"Origin": origin} if origin else {})

    response = app.test_client().get("/socket.io/?EIO=4&transport=polling", headers=headers)

    assert response.status_code == status
    if status == 400:
        assert response.content_type == "application/problem+json"
        assert response.get_json()["status"] == 400


def test_jsonp_polling_is_refused(app):
    response = app.test_client().get("/socket.io/?EIO=4&transport=polling&j=0")

    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
