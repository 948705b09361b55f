"""Slow and idle clients against a running server: can it still answer item reads?

Opens SLOW connections that send their request one byte every INTERVAL seconds (half of them
trickle a header, half a JSON body), then IDLE Socket.IO clients (websocket transport) that
join "items" and sit there, then times READS sequential ``GET /api/items/<id>`` on fresh
connections. Prints one ``key=value`` line; everything is bounded in time and stopped at the
end. Loopback only: it refuses any other address.

    python bench/slow_clients.py http://127.0.0.1:8000 [--slow 50] [--idle 50] [--reads 50]

The token for the idle sockets and the body trickles comes from POST /auth/token with
``--username`` / ``--password`` (``flask seed``'s demo1 by default).
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import math
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit


def _loopback(host: str) -> str:
    address = socket.gethostbyname(host)
    if not ipaddress.ip_address(address).is_loopback:
        raise SystemExit(f"refusing a non-loopback target: {host} ({address})")
    return address


def login(host: str, port: int, username: str, password: str) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    body = json.dumps({"username": username, "password": password})
    conn.request("POST", "/auth/token", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    if response.status != 200:
        raise SystemExit(f"login failed: {response.status} {data}")
    token: str = data["access_token"]
    return token


class Trickler:
    """SLOW connections, each sent one more byte every ``interval`` seconds by one thread."""

    def __init__(self, host: str, port: int, count: int, token: str, interval: float) -> None:
        self.host, self.port, self.interval = host, port, interval
        self.socks: list[socket.socket] = []
        self.closed_by_server = 0
        self._stop = threading.Event()
        for n in range(count):
            sock = socket.create_connection((host, port), timeout=5)
            if n % 2 == 0:  # a header that never ends
                sock.sendall(f"GET /api/items/1 HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode())
            else:  # a body that never ends
                head = (
                    f"POST /api/items HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    "Content-Length: 100000\r\n\r\n"
                )
                sock.sendall(head.encode() + b'{"name": "')
            self.socks.append(sock)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for sock in list(self.socks):
                try:
                    sock.sendall(b"a")
                except OSError:
                    self.socks.remove(sock)
                    self.closed_by_server += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.socks:
            sock.close()


def open_idle_sockets(url: str, count: int, token: str, deadline: float) -> list[Any]:
    """Connect ``count`` Socket.IO clients in parallel; those connected by ``deadline``."""
    import socketio

    def one(_: int) -> Any:
        client = socketio.Client(reconnection=False)
        try:
            timeout = max(0.5, deadline - time.monotonic())
            client.connect(
                url, auth={"token": token}, transports=["websocket"], wait_timeout=timeout
            )
            client.call("join", {"room": "items"}, timeout=max(0.5, deadline - time.monotonic()))
        except Exception:
            client.disconnect()
            return None
        return client

    with ThreadPoolExecutor(max_workers=count or 1) as pool:
        return [client for client in pool.map(one, range(count)) if client is not None]


def timed_reads(
    host: str, port: int, count: int, id_max: int, deadline: float, first_id: int = 1
) -> list[float]:
    """Latencies in seconds (math.inf for a failure or a read after ``deadline``)."""
    latencies: list[float] = []
    for n in range(count):
        left = deadline - time.monotonic()
        if left <= 0:
            latencies.append(math.inf)
            continue
        start = time.monotonic()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=min(5.0, left))
            item_id = first_id + n % id_max
            conn.request("GET", f"/api/items/{item_id}?_=slow{n}-{time.time_ns()}")
            response = conn.getresponse()
            response.read()
            conn.close()
            ok = response.status == 200
        except OSError:
            ok = False
        latencies.append(time.monotonic() - start if ok else math.inf)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def measure(
    url: str,
    *,
    slow: int,
    idle: int,
    reads: int,
    token: str,
    interval: float = 3.0,
    id_max: int = 100,
    first_id: int = 1,
    budget: float = 60.0,
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = _loopback(parts.hostname or ""), parts.port or 80
    deadline = time.monotonic() + budget
    trickler = Trickler(host, port, slow, token, interval)
    sockets: list[Any] = []
    try:
        sockets = open_idle_sockets(url, idle, token, time.monotonic() + min(15.0, budget / 3))
        latencies = timed_reads(host, port, reads, id_max, deadline, first_id)
        still_trickling = len(trickler.socks)
        still_idle = sum(1 for client in sockets if client.connected)
    finally:
        trickler.stop()
        for client in sockets:
            client.disconnect()
    failed = sum(1 for value in latencies if value == math.inf)
    return {
        "slow": slow,
        "slow_open": still_trickling,
        "idle": idle,
        "idle_connected": still_idle,
        "reads": reads,
        "failed": failed,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--idle", type=int, default=50)
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--id-max", type=int, default=100)
    parser.add_argument("--username", default="demo1")
    parser.add_argument("--password", default="demo-password")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    host, port = _loopback(parts.hostname or ""), parts.port or 80
    token = login(host, port, args.username, args.password)
    result = measure(
        args.url,
        slow=args.slow,
        idle=args.idle,
        reads=args.reads,
        token=token,
        interval=args.interval,
        id_max=args.id_max,
    )
    print(" ".join(f"{key}={value}" for key, value in result.items()))


if __name__ == "__main__":
    main()
