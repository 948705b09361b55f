"""Listing items: GET /api/items and GET /api/users/<id>/items, paginated and filtered."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from myproject.extensions import cache
from myproject.models import Item, User
from tests.support import assert_problem

SORTS = ["created_at", "-created_at", "name", "-name", "updated_at", "-updated_at"]
DAY_1, DAY_2, DAY_3 = (datetime(2024, 1, day, tzinfo=UTC) for day in (1, 2, 3))


@pytest.fixture()
def make_items(session: Any) -> Any:
    """Add items for ``owner`` in one commit: names, or dicts of fields."""

    def factory(owner: User, *specs: str | dict[str, Any]) -> list[Item]:
        items = [
            Item(user=owner, **({"name": spec} if isinstance(spec, str) else spec))
            for spec in specs
        ]
        session.add_all(items)
        session.commit()
        return items

    return factory


def names(response: Any) -> list[str]:
    return [item["name"] for item in response.get_json()]


def links(response: Any) -> dict[str, dict[str, str]]:
    """The Link header as rel -> its URL, path and query parameters (each must appear once)."""
    result = {}
    for url, rel in re.findall(r'<([^>]*)>;\s*rel="([^"]+)"', response.headers["Link"]):
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        assert all(len(values) == 1 for values in query.values()), url
        result[rel] = {"url": url, "path": parsed.path, **{k: v[0] for k, v in query.items()}}
    return result


# --- shape and pagination -----------------------------------------------------------------


def test_list_answers_a_bare_array_of_items(client, make_items, user):
    make_items(user, {"name": "Lamp", "description": "Desk", "category": "lighting"})

    response = client.get("/api/items")

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "1"
    [item] = response.get_json()
    assert {k: item[k] for k in ("name", "description", "category")} == {
        "name": "Lamp",
        "description": "Desk",
        "category": "lighting",
    }
    assert item["owner"] == {"id": user.id, "username": "alice"}
    assert set(item) == {
        "id",
        "name",
        "description",
        "category",
        "owner",
        "created_at",
        "updated_at",
    }


def test_empty_list_answers_an_empty_array_with_headers(client, db):
    response = client.get("/api/items")

    assert response.status_code == 200
    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "0"
    assert {rel: link["page"] for rel, link in links(response).items()} == {
        "first": "1",
        "last": "1",
    }


def test_list_pages_by_20_by_default(client, make_items, user):
    make_items(user, *(f"Item {n}" for n in range(21)))

    response = client.get("/api/items")

    assert response.status_code == 200
    assert len(response.get_json()) == 20
    assert response.headers["X-Total-Count"] == "21"
    assert links(response)["next"]["page"] == "2"


def test_list_accepts_per_page_100(client, make_items, user):
    make_items(user, "Lamp")

    response = client.get("/api/items?per_page=100")

    assert response.status_code == 200
    assert len(response.get_json()) == 1
    assert links(response)["first"]["per_page"] == "100"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (1, {"first": "1", "last": "3", "next": "2"}),
        (2, {"first": "1", "last": "3", "prev": "1", "next": "3"}),
        (3, {"first": "1", "last": "3", "prev": "2"}),
    ],
    ids=["first-page", "middle-page", "last-page"],
)
def test_link_header_keeps_the_other_query_parameters(client, make_items, user, page, expected):
    make_items(user, *({"name": f"Book {n}", "category": "books"} for n in range(5)), "Rake")

    response = client.get(f"/api/items?category=books&per_page=2&page={page}")

    assert response.status_code == 200
    assert len(response.get_json()) == (1 if page == 3 else 2)
    assert response.headers["X-Total-Count"] == "5"
    found = links(response)
    assert {rel: link["page"] for rel, link in found.items()} == expected
    for link in found.values():
        assert (link["path"], link["category"], link["per_page"]) == ("/api/items", "books", "2")


def test_following_next_links_visits_every_item_once(client, make_items, user):
    created = make_items(user, *(f"Item {n}" for n in range(5)))
    seen: list[int] = []
    url: str | None = "/api/items?per_page=2&sort=name"

    while url is not None:
        response = client.get(url)
        assert response.status_code == 200
        seen += [item["id"] for item in response.get_json()]
        url = links(response).get("next", {}).get("url")

    assert seen == [item.id for item in created]


def test_page_past_the_end_answers_an_empty_array_with_headers(client, make_items, user):
    make_items(user, "Lamp", "Desk", "Chair")

    response = client.get("/api/items?per_page=2&page=9")

    assert response.status_code == 200
    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "3"
    found = links(response)
    assert (found["first"]["page"], found["last"]["page"]) == ("1", "2")
    assert "next" not in found


PAGING_ERRORS = [
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=abc", "page"),
    ("page=1.5", "page"),
    ("page=99999999999999999999", "page"),
    ("per_page=0", "per_page"),
    ("per_page=101", "per_page"),
    ("per_page=abc", "per_page"),
    ("sort=bogus", "sort"),
    ("sort=id", "sort"),
    ("sort=name,created_at", "sort"),
]
OWNER_ERRORS = [
    ("owner=abc", "owner"),
    ("owner=0", "owner"),
    ("owner=99999999999999999999", "owner"),
]


def assert_query_errors(response: Any, field: str) -> None:
    body = assert_problem(response, 422)
    assert set(body["errors"]["query"]) == {field}


@pytest.mark.parametrize(("query", "field"), PAGING_ERRORS + OWNER_ERRORS)
def test_invalid_query_parameters_get_422(client, db, query, field):
    response = client.get(f"/api/items?{query}")

    assert_query_errors(response, field)


@pytest.mark.parametrize(("query", "field"), PAGING_ERRORS)
def test_invalid_query_parameters_of_user_items_get_422(client, user, query, field):
    response = client.get(f"/api/users/{user.id}/items?{query}")

    assert_query_errors(response, field)


# --- filters ------------------------------------------------------------------------------


def test_category_filter_matches_exactly(client, make_items, user):
    make_items(
        user,
        {"name": "Novel", "category": "books"},
        {"name": "Atlas", "category": "Books"},
        {"name": "Shelf", "category": "bookshelves"},
        {"name": "Rake"},
    )

    response = client.get("/api/items?category=books")

    assert response.status_code == 200
    assert names(response) == ["Novel"]
    assert response.headers["X-Total-Count"] == "1"


def test_owner_filter_lists_that_users_items(client, make_items, user, other):
    make_items(user, "Lamp", "Desk")
    make_items(other, "Rake")

    response = client.get(f"/api/items?owner={other.id}")

    assert response.status_code == 200
    assert names(response) == ["Rake"]
    assert response.headers["X-Total-Count"] == "1"


def test_q_matches_name_or_description_ignoring_case(client, make_items, user):
    make_items(
        user,
        {"name": "Red APPLE"},
        {"name": "Pie", "description": "made of apples"},
        {"name": "Pear", "description": "not an ap-ple"},
    )

    response = client.get("/api/items?q=aPpLe&sort=name")

    assert response.status_code == 200
    assert names(response) == ["Pie", "Red APPLE"]
    assert response.headers["X-Total-Count"] == "2"


@pytest.mark.parametrize(
    ("q", "expected"),
    [("50%", ["50% off"]), ("a_b", ["a_b"]), ("%", ["50% off"]), ("_", ["a_b"]), ("\\", ["c\\d"])],
)
def test_q_matches_wildcard_characters_literally(client, make_items, user, q, expected):
    make_items(user, "50% off", "500 off", "a_b", "axb", "c\\d")

    response = client.get("/api/items", query_string={"q": q})

    assert response.status_code == 200
    assert names(response) == expected


def test_filters_combine(client, make_items, user, other):
    make_items(user, {"name": "Old book", "category": "books"}, {"name": "Old rake"})
    make_items(other, {"name": "Old map", "category": "books"})

    response = client.get(f"/api/items?category=books&owner={user.id}&q=old")

    assert response.status_code == 200
    assert names(response) == ["Old book"]


# --- order --------------------------------------------------------------------------------


@pytest.fixture()
def three_items(make_items: Any, user: User) -> list[Item]:
    """Each sort orders these three differently."""
    return make_items(
        user,
        {"name": "b", "created_at": DAY_1, "updated_at": DAY_3},
        {"name": "c", "created_at": DAY_2, "updated_at": DAY_1},
        {"name": "a", "created_at": DAY_3, "updated_at": DAY_2},
    )


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("created_at", ["b", "c", "a"]),
        ("-created_at", ["a", "c", "b"]),
        ("name", ["a", "b", "c"]),
        ("-name", ["c", "b", "a"]),
        ("updated_at", ["c", "a", "b"]),
        ("-updated_at", ["b", "a", "c"]),
    ],
)
def test_sort_orders_the_list(client, three_items, sort, expected):
    response = client.get(f"/api/items?sort={sort}")

    assert response.status_code == 200
    assert names(response) == expected


def test_default_order_is_newest_first(client, three_items):
    response = client.get("/api/items")

    assert response.status_code == 200
    assert names(response) == ["a", "c", "b"]


@pytest.mark.parametrize("sort", SORTS)
def test_paging_through_ties_yields_every_item_exactly_once(client, make_items, user, sort):
    same = {"name": "Same", "created_at": DAY_1, "updated_at": DAY_1}
    created = make_items(user, *(dict(same) for _ in range(9)))

    seen: list[int] = []
    for page in range(1, 6):
        response = client.get(f"/api/items?sort={sort}&per_page=2&page={page}")
        assert response.status_code == 200
        seen += [item["id"] for item in response.get_json()]

    assert sorted(seen) == sorted(item.id for item in created)


@pytest.mark.parametrize("sort", SORTS)
def test_next_links_walk_ties_with_a_cursor_in_page_order(client, make_items, user, sort):
    same = {"name": "Same", "created_at": DAY_1, "updated_at": DAY_1}
    make_items(user, *(dict(same) for _ in range(7)))
    by_page = [
        [item["id"] for item in client.get(f"/api/items?sort={sort}&per_page=2&page={p}").json]
        for p in range(1, 5)
    ]
    walked: list[list[int]] = []
    url: str | None = f"/api/items?sort={sort}&per_page=2"

    while url is not None:
        response = client.get(url)
        assert response.status_code == 200
        walked.append([item["id"] for item in response.get_json()])
        next_link = links(response).get("next")
        assert next_link is None or "cursor" in next_link
        url = next_link["url"] if next_link else None

    assert walked == by_page


def test_next_link_cursor_reaches_the_same_page_as_the_page_number(client, make_items, user):
    make_items(user, *(f"Item {n}" for n in range(6)))
    first = client.get("/api/items?per_page=2")
    next_link = links(first)["next"]

    by_cursor = client.get(next_link["url"])
    by_number = client.get("/api/items?per_page=2&page=2")

    assert by_cursor.status_code == 200
    assert by_cursor.get_json() == by_number.get_json()
    assert by_cursor.headers["X-Total-Count"] == "6"
    assert "cursor" not in links(by_cursor)["prev"]


def test_a_cursor_made_for_another_page_is_ignored(client, make_items, user):
    make_items(user, *(f"Item {n}" for n in range(6)))
    cursor = links(client.get("/api/items?per_page=2"))["next"]["cursor"]

    response = client.get(f"/api/items?per_page=2&page=3&cursor={cursor}")

    assert response.status_code == 200
    assert response.get_json() == client.get("/api/items?per_page=2&page=3").get_json()


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        "bm90IGpzb24",
        "WzEsMiwzXQ",
        "WzIsIjIwMjQtMDEtMDFUMDA6MDA6MDAiLDFd",
        "WzIsICI5OTk5LTEyLTMxVDIzOjU5OjU5LTEwOjAwIiwgNV0",
        "x" * 600,
    ],
    ids=["garbage", "not-json", "wrong-types", "naive-timestamp", "out-of-range", "too-long"],
)
def test_a_malformed_cursor_gets_422(client, make_items, user, cursor):
    make_items(user, "Lamp")

    response = client.get(f"/api/items?page=2&cursor={cursor}")

    assert response.status_code == 422
    assert "cursor" in response.get_json()["errors"]["query"]


# --- a user's items -----------------------------------------------------------------------


def test_user_items_lists_only_that_users_items(client, make_items, user, other):
    make_items(user, "Lamp", "Desk")
    make_items(other, "Rake")

    response = client.get(f"/api/users/{user.id}/items?sort=name")

    assert response.status_code == 200
    assert names(response) == ["Desk", "Lamp"]
    assert response.headers["X-Total-Count"] == "2"
    assert {item["owner"]["id"] for item in response.get_json()} == {user.id}


def test_user_items_takes_the_same_parameters(client, make_items, user):
    make_items(user, *({"name": f"Book {n}", "category": "books"} for n in range(3)), "Rake")

    response = client.get(f"/api/users/{user.id}/items?category=books&per_page=2&page=2")

    assert response.status_code == 200
    assert len(response.get_json()) == 1
    assert response.headers["X-Total-Count"] == "3"
    assert links(response)["prev"]["path"] == f"/api/users/{user.id}/items"
    assert links(response)["prev"]["category"] == "books"


@pytest.mark.parametrize("user_id", ["2147483647", "abc", "99999999999999999999"])
def test_user_items_of_a_missing_user_gets_404(client, db, user_id):
    response = client.get(f"/api/users/{user_id}/items")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


# --- reads after writes, and their cost ---------------------------------------------------


def test_list_shows_a_new_item_right_after_it_is_created(client, make_items, user, auth_headers):
    make_items(user, "Lamp")
    assert client.get("/api/items").headers["X-Total-Count"] == "1"  # now cached

    created = client.post("/api/items", json={"name": "Desk"}, headers=auth_headers)
    response = client.get("/api/items")

    assert created.status_code == 201
    assert response.headers["X-Total-Count"] == "2"
    assert names(response)[0] == "Desk"


def statements_for(client: Any, session: Any, statements: list[str], url: str) -> tuple[Any, int]:
    """GET ``url`` from a cold start (no cached answer, no loaded objects); its statement count."""
    session.commit()
    session.expunge_all()
    cache.clear()
    statements.clear()
    response = client.get(url)
    assert response.status_code == 200
    return response, len(statements)


def test_listing_costs_the_same_few_statements_whatever_the_page_size(
    client, session, sql_statements
):
    owners = [User(username=f"owner{n}", email=f"owner{n}@example.com") for n in range(50)]
    session.add_all([Item(name=f"Item {n}", user=owner) for n, owner in enumerate(owners)])
    session.commit()

    small, small_cost = statements_for(client, session, sql_statements, "/api/items?per_page=2")
    large, large_cost = statements_for(client, session, sql_statements, "/api/items?per_page=50")

    assert len(small.get_json()) == 2
    assert len({item["owner"]["username"] for item in large.get_json()}) == 50
    assert small_cost == large_cost
    assert large_cost <= 3  # sql_statements leaves out the test fixture's SAVEPOINT


def test_created_at_in_the_list_is_utc_with_offset(client, make_items, user):
    make_items(user, {"name": "Lamp", "created_at": DAY_1 + timedelta(microseconds=123456)})

    response = client.get("/api/items")

    assert response.status_code == 200
    assert response.get_json()[0]["created_at"] == "2024-01-01T00:00:00.123456+00:00"
