"""myproject/listening.py on real sockets: after the last step of a worker's drain no new
connection enters the listening socket's queue, connections already made keep working, and a
connection attempt meets a refusal once the socket is closed (nginx then tries the next
instance). The rolling restart behind nginx is tests/deploy/test_nginx_rolling.py."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import time

import pytest

from myproject.listening import held_by, refuse_new_connections

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def listening() -> tuple[socket.socket, tuple[str, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock, sock.getsockname()


def test_a_socket_still_held_by_the_master_is_left_alone():
    sock, address = listening()
    with sock:
        assert held_by(os.getpid(), sock) is True
        assert refuse_new_connections([sock], os.getpid()) == "left to the other workers"
        socket.create_connection(address, timeout=5).close()


def test_once_the_master_let_go_new_connections_wait_and_are_refused_after_the_close():
    sock, address = listening()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        before = socket.create_connection(address, timeout=5)
        assert held_by(other.pid, sock) is False
        assert refuse_new_connections([sock], other.pid) == "new connections dropped"

        # The connection made before goes on working both ways.
        before.sendall(b"ping")
        accepted, _ = sock.accept()
        assert accepted.recv(4) == b"ping"
        accepted.sendall(b"pong")
        assert before.recv(4) == b"pong"

        # A new attempt gets no answer (its SYN is dropped), so nothing is queued ...
        late = socket.socket()
        late.setblocking(False)
        assert late.connect_ex(address) == errno.EINPROGRESS
        time.sleep(0.3)
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.accept()
        # ... and its retransmission after the close is refused.
        sock.close()
        deadline = time.monotonic() + 10
        while not (error := late.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)):
            assert time.monotonic() < deadline, "no answer 10 s after the close"
            time.sleep(0.05)
        assert error == errno.ECONNREFUSED
        for conn in (before, accepted, late):
            conn.close()
    finally:
        other.kill()
        other.wait()
