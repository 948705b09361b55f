"""Back-pressure for WebSocket input: a client that sends without pause must not take the
worker over.

simple-websocket (the WebSocket under python-engineio here) reads each connection in a
thread of its own, a greenlet under gunicorn's gevent worker, and queues every message it
decodes. A greenlet that always finds data waiting on its socket never yields: one client
sending as fast as it can would keep that reader running while nothing else in the worker
runs (neither the events it sends, nor the event limit that would drop it, nor any HTTP
request), and its queue would grow without bound. After each chunk it reads, the reader here
yields, and waits while more than ``BACKLOG`` messages of its connection are still
unprocessed: the sender is slowed down to what the server processes (TCP does the rest).
Closing a connection the peer has reset is quiet (no traceback from Engine.IO's writer).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import simple_websocket.ws

# Messages of one connection decoded but not yet processed before its reader pauses.
BACKLOG = 32
# A stalled consumer is not waited for forever (the connection's own timeouts apply).
MAX_PAUSE_SECONDS = 5.0
_PATCHED = "_myproject_backpressure"


def install() -> None:
    """Wrap simple-websocket's event handling once per process (idempotent)."""
    base: Any = simple_websocket.ws.Base
    if getattr(base, _PATCHED, False):
        return
    handle_events = base._handle_events

    def handle_events_then_yield(self: Any) -> bool:
        keep_going: bool = handle_events(self)
        time.sleep(0)  # gevent: let the consumer (and everything else) run
        deadline = time.monotonic() + MAX_PAUSE_SECONDS
        while keep_going and len(self.input_buffer) > BACKLOG and time.monotonic() < deadline:
            time.sleep(0.005)
        return keep_going

    close = base.close

    def close_quietly(self: Any, *args: Any, **kwargs: Any) -> None:
        # Closing a connection the client has already reset (a dropped flooder) is done,
        # not an error: Engine.IO's writer would let it escape its greenlet as a traceback.
        with contextlib.suppress(OSError):
            close(self, *args, **kwargs)

    base._handle_events = handle_events_then_yield
    base.close = close_quietly
    setattr(base, _PATCHED, True)
