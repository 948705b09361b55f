"""Tracing under the production server: gunicorn's gevent workers each set tracing up after
the fork (gunicorn.conf.py never preloads the app) and export their spans; a malformed
endpoint stops gunicorn at start with one line (tests/test_tracing.py has the rest)."""

from __future__ import annotations

import pytest

from tests.otlp import SERVER, OtlpReceiver
from tests.support import free_port, wait_for
from tests.test_gunicorn import (  # noqa: F401  (migrated_database: a fixture)
    migrated_database,
    production_settings,
    running,
    server_env,
    start,
    stop,
)


@pytest.fixture()
def receiver():
    otlp = OtlpReceiver().start()
    yield otlp
    otlp.stop()


def test_gunicorn_gevent_workers_export_their_request_spans(
    tmp_path,
    migrated_database,  # noqa: F811  (the fixture imported above)
    receiver,
):
    env = server_env(**production_settings(migrated_database))
    env |= {"GUNICORN_BIND": f"127.0.0.1:{free_port()}", "WEB_CONCURRENCY": "2"}
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}

    with running(tmp_path, env) as server:
        for _ in range(20):  # on fresh connections: both workers get some
            assert server.get("/api/items/123456")[0] == 404

        wait_for(
            lambda: len(receiver.named("GET /api/items/<int4:item_id>")) == 20,
            10,
            lambda: f"20 request spans, got {[s.name for s in receiver.spans]}",
        )
    spans = receiver.named("GET /api/items/<int4:item_id>")
    assert {span.kind for span in spans} == {SERVER}
    assert len({span.trace_id for span in spans}) == 20
    assert "Traceback" not in server.output()


def test_a_malformed_endpoint_stops_gunicorn_with_one_line(tmp_path):
    env = server_env(**production_settings("sqlite:///unused.sqlite"))
    env |= {"GUNICORN_BIND": f"127.0.0.1:{free_port()}"}
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}
    server = start(tmp_path, env)
    try:
        returncode = server.process.wait(timeout=10)
    finally:
        stop(server)

    output = server.output().strip()
    assert returncode != 0
    assert output.startswith("Configuration error: OTEL_EXPORTER_OTLP_ENDPOINT"), output
    assert len(output.splitlines()) == 1, output
