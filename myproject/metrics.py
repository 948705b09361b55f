"""``GET /metrics``: Prometheus text format for operators (API.md "Operations").

Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` is set (gunicorn.conf.py creates a directory when
the environment names none) and prometheus_client keeps every value in per-process files
there: a scrape, whichever worker answers it, merges the files of every worker. Without it
(``flask run``, the tests) the values live in the app's own registry.

Cost per request: one counter increment and one histogram observation, on label children
looked up once per (route, method, status); a cache lookup adds one increment. The pool gauges
change on connection checkout and checkin only, so a cached read never touches them.
"""

from __future__ import annotations

import ipaddress
import os
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request, request_started
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from werkzeug.exceptions import NotFound

from myproject.extensions import db

bp = Blueprint("metrics", __name__)

EXTENSION = "myproject_metrics"
# Label values stay a small fixed set: the URL rule (never the raw path), a known method.
UNMATCHED_ROUTE = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The classic text format: every Prometheus server version reads it.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """One app's metrics; ``registry`` is None in multiprocess mode (see the module doc)."""

    def __init__(self, allow: list[str]) -> None:
        self.registry = None if multiprocess_dir() else CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "myproject_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "myproject_http_request_duration_seconds",
            "Seconds from the start of a request to its response, by route template.",
            ["route", "method"],
            registry=registry,
        )
        # livesum: the sum over the workers alive now (a dead worker's values are dropped).
        self.pool_checked_out = Gauge(
            "myproject_db_pool_checked_out_connections",
            "Database connections in use (summed over live workers).",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.pool_overflow = Gauge(
            "myproject_db_pool_overflow_connections",
            "Connections open beyond DB_POOL_SIZE (summed over live workers).",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.cache_hits = Counter(
            "myproject_cache_hits",
            "Response and value cache lookups answered from the cache.",
            registry=registry,
        )
        self.cache_misses = Counter(
            "myproject_cache_misses",
            "Cache lookups that found nothing (or could not reach the cache).",
            registry=registry,
        )
        self.rejections = Counter(
            "myproject_ratelimit_rejections",
            "Requests refused with 429 by a rate limit.",
            registry=registry,
        )
        self.allow = [ipaddress.ip_network(network, strict=False) for network in allow]
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._engine: Engine | None = None

    def allows(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)  # a dual-stack socket's view of an IPv4 client
        return any(candidate in network for candidate in candidates for network in self.allow)

    def observe(self, route: str, method: str, status: int, seconds: float | None) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._children[key] = children
        children[0].inc()
        if seconds is not None:
            children[1].observe(seconds)
        if status == 429:
            self.rejections.inc()

    def watch_pool(self, engine: Engine) -> None:
        """Keep this process's pool gauges current: set on every checkout and checkin."""
        self._engine = engine
        event.listen(engine, "checkout", self.refresh_pool)
        event.listen(engine, "checkin", self.refresh_pool)

    def refresh_pool(self, *_event_args: Any) -> None:
        pool = self._engine.pool if self._engine is not None else None
        if isinstance(pool, QueuePool):  # PostgreSQL; SQLite's pools have no overflow
            self.pool_checked_out.set(pool.checkedout())
            # overflow() counts from -pool_size: positive only past the pool's size.
            self.pool_overflow.set(max(0, pool.overflow()))

    def exposition(self) -> bytes:
        self.refresh_pool()
        registry = self.registry
        if registry is None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        return generate_latest(registry)


def init_app(app: Flask) -> None:
    """Create the app's metrics and hook them to requests and the database pool (call after
    the extensions are bound: the pool belongs to ``db``'s engine)."""
    metrics = Metrics(app.config["METRICS_ALLOW"])
    app.extensions[EXTENSION] = metrics
    with app.app_context():
        metrics.watch_pool(db.engine)
    # A signal, not before_request: it fires before every before_request function, so the
    # latency includes the rate limiter and the other hooks.
    request_started.connect(_start_timer, app)
    app.after_request(_record_request)


def _start_timer(_sender: Flask, **_extra: Any) -> None:
    g.metrics_started = time.perf_counter()


def _record_request(response: Response) -> Response:
    metrics: Metrics | None = current_app.extensions.get(EXTENSION)
    if metrics is not None:
        started = g.pop("metrics_started", None)
        rule = request.url_rule
        metrics.observe(
            rule.rule if rule is not None else UNMATCHED_ROUTE,
            request.method if request.method in METHODS else "other",
            response.status_code,
            None if started is None else time.perf_counter() - started,
        )
    return response


def record_cache_lookup(*, hit: bool) -> None:
    metrics: Metrics | None = current_app.extensions.get(EXTENSION)
    if metrics is not None:
        (metrics.cache_hits if hit else metrics.cache_misses).inc()


@bp.get("/metrics")
def metrics_view() -> Response:
    """The metrics, for addresses in METRICS_ALLOW; anyone else sees an unknown route."""
    metrics: Metrics = current_app.extensions[EXTENSION]
    if not metrics.allows(request.remote_addr):
        raise NotFound()
    response = Response(metrics.exposition(), content_type=CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response
