"""Real parts for the services-lane job tests: an SMTP sink and Celery worker processes.

Every wait is bounded, and every process started here is killed by its PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.support import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Received:
    at: float  # time.monotonic() when the sink accepted it
    to: list[str]
    subject: str
    text: str


class SmtpSink:
    """An in-process SMTP server on a loopback port that keeps what it accepts.

    ``stop``/``start`` make an outage (connection refused); ``stall_next`` holds the next
    DATA answer until ``release`` (then refuses it with 451, so it never counts as sent).
    """

    def __init__(self, *, smtputf8: bool = False) -> None:
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (addresses with a non-ASCII local part)
        self.port = free_port()
        self.messages: list[Received] = []
        self.stalled = threading.Event()
        self._stall = False
        self._release = threading.Event()
        self._controller: Controller | None = None

    def start(self) -> SmtpSink:
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=self.smtputf8
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def stall_next(self) -> None:
        self._stall, self._release = True, threading.Event()
        self.stalled.clear()

    def release(self) -> None:
        self._release.set()

    def to(self, address: str) -> list[Received]:
        return [message for message in self.messages if address in message.to]

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        if self._stall:
            self._stall = False
            self.stalled.set()
            deadline = time.monotonic() + 30
            while not self._release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return "451 Requested action aborted: try again later"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        self.messages.append(
            Received(time.monotonic(), list(envelope.rcpt_tos), parsed["subject"], text)
        )
        return "250 Message accepted for delivery"


class Worker:
    """``celery -A myproject.celery_app worker --beat`` in a child process.

    The embedded beat is a child process of the worker that outlives a SIGKILL of its parent,
    so the worker starts a process group of its own (its id is the worker's PID) and the whole
    group is killed.
    """

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = log_dir / "worker-0.log"
        self._count = 0

    def start(self, timeout: float = 30) -> Worker:
        self._count += 1
        self.log_path = self.log_dir / f"worker-{self._count}.log"
        command = [
            sys.executable, "-m", "celery", "-A", "myproject.celery_app", "worker",
            "--beat", "--schedule", str(self.log_dir / f"beat-{self._count}"),
            "--pool=solo", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(
            lambda: " ready." in self.log() or self.process.poll() is not None, timeout, "worker"
        )
        assert self.process.poll() is None, f"the worker exited:\n{self.log()}"
        return self

    def kill(self) -> None:
        """SIGKILL to the worker and its beat: no chance to finish or hand anything back."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""
