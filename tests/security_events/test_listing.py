"""GET /api/users/me/security-events and GET /api/security-events (API.md "Security events"):
newest first, paginated like every collection, problem JSON for 401/403/422."""

from __future__ import annotations

import pytest

from myproject.models.resource import resource_of
from myproject.models.security_event import SECURITY_EVENTS, SecurityEvent, security_event_dict
from myproject.schemas.security_event import SecurityEventSchema
from myproject.security_events import TYPES
from tests.security_events.support import AGENT, ALL, MINE, links, listing, types
from tests.support import ISO_UTC, assert_problem, post_login

FIELDS = {"id", "type", "user_id", "actor_id", "created_at", "ip", "user_agent", "detail"}


def test_the_callers_events_newest_first(client, auth, user, other_headers):
    post_login(client, "alice", "wrong-password-1")
    headers = {**auth.headers("alice"), **AGENT}

    response = client.get(MINE, headers=headers)

    body = response.get_json()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Total-Count"] == "2"
    assert [event["type"] for event in body] == ["login", "login_failed"]
    assert set(body[0]) == FIELDS
    assert body[0]["user_id"] == body[0]["actor_id"] == user.id
    assert ISO_UTC.match(body[0]["created_at"])
    assert body[1]["actor_id"] is None
    assert types(client, other_headers) == ["login"]  # bob sees his own only


def test_pages_and_links(client, auth, user):
    headers = auth.headers("alice")
    for _ in range(4):
        auth.login("alice")

    first = client.get(MINE, headers=headers, query_string={"per_page": 2})
    following = client.get(links(first)["next"], headers=headers)
    last = client.get(MINE, headers=headers, query_string={"per_page": 2, "page": 3})
    past = client.get(MINE, headers=headers, query_string={"per_page": 2, "page": 9})

    assert first.headers["X-Total-Count"] == "5"
    assert set(links(first)) == {"first", "last", "next"}
    assert "page=3" in links(first)["last"]
    ids = [e["id"] for r in (first, following, last) for e in r.get_json()]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5
    assert past.status_code == 200 and past.get_json() == []
    assert past.headers["X-Total-Count"] == "5"


def test_the_own_listing_leaves_the_addresses_of_an_email_change_to_admins(
    client, user, auth_headers, admin_headers
):
    body = {"email": "alice2@example.com", "current_password": "correct-horse-42"}
    assert client.patch(f"/api/users/{user.id}", json=body, headers=auth_headers).status_code == 200

    (own,) = listing(client, MINE, auth_headers, per_page=1)
    (seen,) = listing(client, ALL, admin_headers, user=user.id, type="email_changed")

    assert own["type"] == seen["type"] == "email_changed"
    assert own["detail"] == {}
    assert seen["detail"] == {"old_email": "alice@example.com", "new_email": "alice2@example.com"}


def test_the_admin_listing_filters_by_user_and_type(client, auth, user, other, admin_headers):
    auth.login("alice")
    auth.login("bob")
    post_login(client, "bob", "wrong-password-1")

    everyone = listing(client, ALL, admin_headers, per_page=100)
    bobs = listing(client, ALL, admin_headers, user=other.id)
    failed = client.get(ALL, headers=admin_headers, query_string={"type": "login_failed"})
    both = listing(client, ALL, admin_headers, user=user.id, type="login_failed")

    assert len(everyone) == 4  # the admin's own login included
    assert [e["type"] for e in bobs] == ["login_failed", "login"]
    assert [e["user_id"] for e in failed.get_json()] == [other.id]
    assert failed.headers["X-Total-Count"] == "1"
    assert "type=login_failed" in failed.headers["Link"]
    assert both == []


@pytest.mark.parametrize(
    "query",
    [{"type": "logged_in"}, {"type": ""}, {"user": "x"}, {"user": 0}, {"per_page": 101}],
)
def test_bad_filters_are_422(client, admin_headers, query):
    body = assert_problem(client.get(ALL, headers=admin_headers, query_string=query), 422)

    assert set(body["errors"]["query"]) == set(query)


def test_own_listing_refuses_bad_paging(client, auth_headers):
    assert_problem(client.get(MINE, headers=auth_headers, query_string={"page": 0}), 422)


def test_a_token_is_required(client):
    assert_problem(client.get(MINE), 401)
    assert_problem(client.get(ALL), 401)


def test_the_admin_listing_is_for_admins(client, auth_headers):
    body = assert_problem(client.get(ALL, headers=auth_headers), 403)

    assert body["detail"] == "Only an admin may list every user's security events."


def test_there_is_no_way_to_change_an_event(client, admin_headers):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert client.open(ALL, method=method, headers=admin_headers).status_code == 405


def test_the_schema_documents_exactly_what_is_sent(session, user):
    event = SecurityEvent(type="login", user_id=user.id, detail={"session_id": 1})
    session.add(event)
    session.flush()

    assert SecurityEventSchema().dump(event) == security_event_dict(event)


def test_the_openapi_document_lists_the_types_once(client):
    spec = client.get("/api/openapi.json").get_json()

    assert spec["components"]["schemas"]["SecurityEventType"]["enum"] == list(TYPES)
    mine = spec["paths"]["/api/users/me/security-events"]["get"]
    every = spec["paths"]["/api/security-events"]["get"]
    assert {"200", "401", "422"} <= set(mine["responses"])
    assert {"200", "401", "403", "422"} <= set(every["responses"])
    assert {p["name"] for p in every["parameters"]} == {
        "page",
        "per_page",
        "cursor",
        "user",
        "type",
    }


def test_security_events_are_a_declared_append_only_private_resource():
    assert resource_of("security_events") is SECURITY_EVENTS
    assert SECURITY_EVENTS.append_only and SECURITY_EVENTS.private
    assert SECURITY_EVENTS.view is None  # listed only: no URL per event
