"""GET /metrics under a real gunicorn with 2 workers (gunicorn.conf.py's multiprocess setup):
any worker's scrape reports the requests of both, dead workers leave the live gauges, and
the metrics directory gunicorn made for itself is gone after it exits. Loopback only; every
server is stopped by its process group (tests/test_gunicorn.py's helpers)."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support import wait_for
from tests.test_gunicorn import Server, free_port, production_settings, server_env, start, stop

HEALTH = {"route": "/health", "method": "GET", "status": "200"}


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    # PROMETHEUS_MULTIPROC_DIR is unset (server_env drops it): gunicorn.conf.py makes one
    # under TMPDIR, which start() points at the test's own directory.
    settings = production_settings(f"sqlite:///{tmp_path / 'metrics.sqlite'}")
    env = server_env(
        **{**settings, "DRAIN_SECONDS": "0"},
        GUNICORN_BIND=f"127.0.0.1:{free_port()}",
        WEB_CONCURRENCY="2",
    )
    running = start(tmp_path, env)
    try:
        running.wait_until_up()
        yield running
    finally:
        stop(running)


def metrics_dir(tmp_path: Path) -> str:
    (found,) = glob.glob(str(tmp_path / "myproject-metrics-*"))
    return found


def health_count(files: list[str]) -> float:
    for metric in MultiProcessCollector.merge(files):
        for sample in metric.samples:
            if sample.name == "myproject_http_requests_total" and sample.labels == HEALTH:
                return float(sample.value)
    return 0.0


def scraped_health_count(server: Server) -> float:
    status, _, body = server.get("/metrics")
    assert status == 200, body
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "myproject_http_requests_total" and sample.labels == HEALTH:
                return float(sample.value)
    return 0.0


def worker_pids(server: Server) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
    return sorted(int(pid) for pid in out.stdout.split())


@contextmanager
def paused(pid: int) -> Iterator[None]:
    """Stop one worker (SIGSTOP) so that the other accepts every connection meanwhile."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_scrape_from_either_worker_sums_both_workers(server, tmp_path):
    first, second = worker_pids(server)
    with paused(second):
        for _ in range(5):
            assert server.get("/health")[0] == 200
    with paused(first):
        for _ in range(7):
            assert server.get("/health")[0] == 200
        scraped_by_second = scraped_health_count(server)
    with paused(second):
        scraped_by_first = scraped_health_count(server)
    directory = metrics_dir(tmp_path)
    per_worker = [health_count([f"{directory}/counter_{pid}.db"]) for pid in (first, second)]

    assert per_worker[0] >= 5 and per_worker[1] >= 7  # and the start-up probes
    assert scraped_by_first == scraped_by_second == sum(per_worker)


def test_dead_workers_leave_the_live_gauges_and_the_directory_goes_at_exit(server, tmp_path):
    directory = metrics_dir(tmp_path)
    server.get("/health")
    workers = {int(Path(path).stem.rsplit("_", 1)[1]) for path in glob.glob(f"{directory}/*.db")}
    victim = min(workers)

    os.kill(victim, signal.SIGKILL)
    server.wait_until_up()
    live_gauges = f"{directory}/gauge_livesum_{victim}.db"
    # The master reaps the worker (and drops its live gauges) when it gets the CPU.
    wait_for(lambda: not glob.glob(live_gauges), 10, "the dead worker's live gauges to go")
    kept = bool(glob.glob(f"{directory}/counter_{victim}.db"))
    os.kill(server.process.pid, signal.SIGTERM)
    returncode = server.process.wait(timeout=40)  # within graceful_timeout (30 s)

    assert kept  # counters keep a dead worker's requests
    assert returncode == 0
    assert not os.path.exists(directory)
