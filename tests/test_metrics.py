"""GET /metrics (API.md "Operations"): Prometheus text, who may read it, what it counts.

The session app's metrics live as long as the app, so tests compare values before and after.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from myproject import create_app
from myproject.config import ConfigError, load_config
from myproject.extensions import limiter
from tests.support import assert_problem

ITEM_ROUTE = "/api/items/<int4:item_id>"


def scrape(client: Any, addr: str = "127.0.0.1", **kwargs: Any) -> Any:
    return client.get("/metrics", environ_base={"REMOTE_ADDR": addr}, **kwargs)


def samples(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one scrape, keyed by name and sorted labels."""
    response = scrape(client)
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(client: Any, name: str, **labels: str) -> float:
    return samples(client).get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_prometheus_text_that_parses(client):
    client.get("/health")

    response = scrape(client)

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    names = {f.name for f in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {
        "myproject_http_requests",
        "myproject_http_request_duration_seconds",
        "myproject_db_pool_checked_out_connections",
        "myproject_db_pool_overflow_connections",
        "myproject_cache_hits",
        "myproject_cache_misses",
        "myproject_ratelimit_rejections",
    } <= names


def test_requests_are_counted_by_route_template_and_status(client, item):
    labels = {"route": ITEM_ROUTE, "method": "GET", "status": "200"}
    before = value(client, "myproject_http_requests_total", **labels)

    for _ in range(3):
        assert client.get(f"/api/items/{item.id}").status_code == 200

    assert value(client, "myproject_http_requests_total", **labels) == before + 3
    assert f"/api/items/{item.id}" not in scrape(client).get_data(as_text=True)


def test_unknown_paths_share_one_route_label(client):
    path = f"/no-such-{uuid.uuid4().hex}"
    labels = {"route": "unmatched", "method": "GET", "status": "404"}
    before = value(client, "myproject_http_requests_total", **labels)

    assert client.get(path).status_code == 404

    assert value(client, "myproject_http_requests_total", **labels) == before + 1
    assert path not in scrape(client).get_data(as_text=True)


def test_latency_histogram_counts_each_request(client):
    labels = {"route": "/health", "method": "GET"}
    name = "myproject_http_request_duration_seconds_count"
    before = value(client, name, **labels)

    client.get("/health")
    client.get("/health")

    assert value(client, name, **labels) == before + 2
    assert value(client, "myproject_http_request_duration_seconds_bucket", le="+Inf", **labels)


def test_cache_hits_and_misses_are_counted(client, item):
    misses = value(client, "myproject_cache_misses_total")
    hits = value(client, "myproject_cache_hits_total")
    url = f"/api/items/{item.id}?probe={uuid.uuid4().hex}"

    client.get(url)
    client.get(url)

    assert value(client, "myproject_cache_misses_total") == misses + 1
    assert value(client, "myproject_cache_hits_total") == hits + 1


def test_pool_gauges_read_the_engine_pool(client):
    found = samples(client)

    assert found[("myproject_db_pool_checked_out_connections", ())] >= 0
    assert found[("myproject_db_pool_overflow_connections", ())] >= 0


@pytest.mark.parametrize("addr", ["10.1.2.3", "192.0.2.7", "2001:db8::1", "garbage"])
def test_other_addresses_get_the_unknown_route_404(client, addr):
    unknown = client.get("/metrics-nowhere", environ_base={"REMOTE_ADDR": addr})

    response = scrape(client, addr)

    body = assert_problem(response, 404, instance="/metrics")
    other = unknown.get_json()
    assert {k: body[k] for k in ("type", "title", "detail")} == {
        k: other[k] for k in ("type", "title", "detail")
    }
    assert "myproject_" not in response.get_data(as_text=True)


def test_ipv6_loopback_is_allowed_by_default(client):
    assert scrape(client, "::1").status_code == 200


@pytest.fixture()
def metrics_app(db: Any, database_url: str) -> Any:
    def factory(**overrides: Any) -> Any:
        limiter._key_prefix = ""  # as tests/test_ratelimit.py's make_app
        limiter._storage_dead = False
        settings = {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None}
        settings |= {"RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_STORAGE_OPTIONS": {}}
        settings |= {"CACHE_TYPE": "SimpleCache", "CACHE_OPTIONS": None}
        settings |= {
            "RATELIMIT_KEY_PREFIX": f"{os.environ['REDIS_KEY_PREFIX']}-metrics-{uuid.uuid4().hex}"
        }
        return create_app("testing", {**settings, **overrides})

    yield factory
    limiter.enabled = False  # the limiter is shared: give the session's app its setting back


def test_allowed_networks_come_from_metrics_allow(metrics_app):
    client = metrics_app(METRICS_ALLOW=["10.0.0.0/8"]).test_client()

    assert scrape(client, "10.20.30.40").status_code == 200
    assert scrape(client, "127.0.0.1").status_code == 404


def test_behind_a_trusted_proxy_the_forwarded_address_is_checked(metrics_app):
    client = metrics_app(TRUSTED_PROXIES=1, METRICS_ALLOW=["203.0.113.5"]).test_client()

    allowed = scrape(client, headers={"X-Forwarded-For": "203.0.113.5"})
    refused = scrape(client, headers={"X-Forwarded-For": "198.51.100.1"})

    assert allowed.status_code == 200
    assert refused.status_code == 404


def test_metrics_are_never_rate_limited_and_count_rejections(metrics_app):
    app = metrics_app(RATELIMIT_ENABLED=True, RATELIMIT_ANONYMOUS="1 per minute")
    client = app.test_client()
    assert [client.get("/api/items").status_code for _ in range(3)] == [200, 429, 429]

    statuses = [scrape(client).status_code for _ in range(5)]

    assert statuses == [200] * 5
    assert value(client, "myproject_ratelimit_rejections_total") == 2
    assert "X-RateLimit-Limit" not in scrape(client).headers


def test_metrics_are_not_in_the_openapi_document(client):
    spec = client.get("/api/openapi.json").get_json()

    assert not [path for path in spec["paths"] if "metrics" in path]


def test_metrics_allow_rejects_a_value_that_is_no_address(monkeypatch):
    monkeypatch.setenv("METRICS_ALLOW", "127.0.0.1,localhost")

    with pytest.raises(ConfigError, match="METRICS_ALLOW"):
        load_config("testing")
