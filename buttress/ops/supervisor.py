"""Run the product's processes side by side and stop them together (`buttress run`)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2


@dataclass
class Child:
    kind: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class ChildDied(Exception):
    def __init__(self, child: Child, code: int) -> None:
        super().__init__(f"the {child.kind} process exited unexpectedly (exit code {code})")
        self.child = child
        self.code = code


class Supervisor:
    """Start children, wait for a stop signal or a death, then stop the rest.

    Each child runs in its own session so that a terminal's Ctrl-C reaches only this process,
    which then stops the children in order: SIGTERM, a grace period, SIGKILL.
    """

    def __init__(
        self,
        children: Sequence[tuple[str, list[str]]],
        *,
        env: Mapping[str, str],
        stop_timeout: float = 15.0,
        say: Callable[[str], None] = logger.info,
    ) -> None:
        self.children = [Child(kind, argv) for kind, argv in children]
        self.env = dict(env)
        self.stop_timeout = stop_timeout
        self.say = say
        self.stopping = threading.Event()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def start(self) -> None:
        for child in self.children:
            child.process = subprocess.Popen(  # noqa: S603 - our own executable and arguments
                child.argv, env=self.env, start_new_session=True
            )
            self.say(f"started {child.kind} (pid {child.process.pid})")

    def run(self) -> None:
        """Block until SIGINT/SIGTERM (then stop all and return) or a child dies (then raise)."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self.start()
            while not self.stopping.wait(POLL_SECONDS):
                for child in self.children:
                    assert child.process is not None
                    code = child.process.poll()
                    if code is not None:
                        raise ChildDied(child, code)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        running = [c for c in self.children if c.alive]
        for child in running:
            assert child.process is not None
            self.say(f"stopping {child.kind} (pid {child.process.pid})")
            # The child alone: gunicorn's master stops its own workers gracefully.
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{child.kind} did not stop in {self.stop_timeout:.0f}s; killing it")
                _kill_session(child)
                child.process.wait()


def _kill_session(child: Child) -> None:
    assert child.process is not None
    # The whole session, so a child's own children (gunicorn's workers) go too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, signal.SIGKILL)
