"""The answer every probe gives, and the time-out every probe runs under."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Literal

logger = logging.getLogger(__name__)

Status = Literal["up", "down", "unknown"]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One check's outcome.

    ``unknown`` means the probe could not form an opinion about the target (the runner lacks a
    permission, the probe itself failed); it must never count towards taking a monitor down.
    A failed check says why in ``message``, in words an operator reads in a notification.
    """

    ok: bool
    status: Status
    latency_ms: float | None
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


def up(message: str, *, latency_ms: float | None, detail: dict[str, Any]) -> ProbeResult:
    return ProbeResult(True, "up", latency_ms, message, detail)


def down(
    message: str, *, latency_ms: float | None = None, detail: dict[str, Any] | None = None
) -> ProbeResult:
    return ProbeResult(False, "down", latency_ms, message, detail or {})


def unknown(message: str, *, detail: dict[str, Any] | None = None) -> ProbeResult:
    return ProbeResult(False, "unknown", None, message, detail or {})


def judge(
    problems: list[str], *, success: str, latency_ms: float | None, detail: dict[str, Any]
) -> ProbeResult:
    """Up when nothing went wrong, else down with every problem named in one message."""
    if problems:
        return down("; ".join(problems), latency_ms=latency_ms, detail=detail)
    return up(success, latency_ms=latency_ms, detail=detail)


class Stopwatch:
    """Milliseconds since creation, on the monotonic clock."""

    __slots__ = ("_start",)

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def ms(self) -> float:
        return round((time.perf_counter() - self._start) * 1000.0, 3)


def describe_timeout(seconds: float) -> str:
    return f"timed out after {seconds:.1f} s"


async def bounded(timeout: float, work: Awaitable[ProbeResult], *, kind: str) -> ProbeResult:
    """Run one probe's work under its own deadline.

    Each probe awaits only its own sockets, so cancelling it at the deadline frees the event
    loop for the others: a hanging target costs its own time-out and nothing more.
    An exception the probe did not foresee becomes ``unknown`` rather than escaping into the
    runner, because a bug in one probe kind must not stop every other check.
    """
    try:
        async with asyncio.timeout(timeout):
            return await work
    except TimeoutError:
        return down(describe_timeout(timeout))
    except Exception as exc:
        logger.exception("%s probe failed unexpectedly", kind)
        return unknown(f"probe error: {type(exc).__name__}: {exc}")
