"""The last step of a worker's drain (gunicorn.conf.py): stop new connections from entering a
listening socket's queue before the worker stops accepting.

Connections the kernel has queued on a listening socket but no process has accepted are reset
when the last process holding the socket closes it. Behind nginx such a connection already
carries a request: a reset ``POST`` is a 502 that nginx must not retry (it cannot know whether
the app wrote). So the queue must stay empty from the last ``accept()`` to the ``close()``.

On Linux a classic BPF socket filter on the listening socket drops every SYN (a TCP segment
with SYN and without ACK): a new connection attempt goes unanswered, the client's
retransmission a second later meets the closed socket and is refused, and nginx passes the
request, which it never sent, to the next instance (``proxy_next_upstream error timeout``,
also for a ``POST``). Handshakes already under way complete (their final ACK passes), and the
worker, still accepting for a while, serves them. Elsewhere the backlog shrinks to its minimum,
which only narrows the race.

The socket is shared with every process that holds it: the filter is attached only once the
gunicorn master has closed its copy, that is when the whole instance stops. A worker stopped
alone (a HUP reload, TTOU) leaves the socket to the workers that replace it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import struct
import sys
from collections.abc import Iterable
from typing import cast

SO_ATTACH_FILTER = 26  # Linux, <asm-generic/socket.h>; not in Python's socket module

# (code, jt, jf, k) per instruction; a TCP socket's filter sees the segment from its TCP header.
_DROP_SYN = (
    (0x30, 0, 0, 13),  # ldb [13]           the flags byte
    (0x45, 2, 0, 0x10),  # jset #ACK, accept
    (0x45, 0, 1, 0x02),  # jset #SYN, drop
    (0x06, 0, 0, 0),  # drop: ret #0
    (0x06, 0, 0, 0xFFFFFFFF),  # accept: ret #-1 (the whole segment)
)


def _socket_of(listener: object) -> socket.socket:
    # gevent's sockets, or gunicorn's wrappers (.sock)
    return cast(socket.socket, getattr(listener, "sock", listener))


def held_by(pid: int, sock: socket.socket) -> bool | None:
    """Whether process ``pid`` holds ``sock`` (None: /proc cannot tell)."""
    target = f"socket:[{os.fstat(sock.fileno()).st_ino}]"
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
    return False


def drop_new_connections(sock: socket.socket) -> None:
    """Attach the SYN-dropping filter to ``sock`` (Linux; OSError where not available)."""
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in _DROP_SYN))
    program = struct.pack("HP", len(_DROP_SYN), ctypes.addressof(code))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, program)  # the kernel copies it


def refuse_new_connections(listeners: Iterable[object], master_pid: int) -> str:
    """Keep new connections out of the queues of ``listeners``; says what it did (a log line)."""
    done = []
    for listener in listeners:
        sock = _socket_of(listener)
        held = held_by(master_pid, sock)
        if held:
            done.append("left to the other workers")
            continue
        if held is False and sys.platform.startswith("linux"):
            try:
                drop_new_connections(sock)
                done.append("new connections dropped")
                continue
            except OSError:
                pass
        with contextlib.suppress(OSError):
            sock.listen(0)
            done.append("backlog shrunk")
    return ", ".join(done) or "nothing to do"
