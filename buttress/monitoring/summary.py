"""Summing a bucket of check results up: how many, how many failed, and latency percentiles.

No Django here. Percentiles are nearest-rank: the p-th percentile of n latencies is the value at
rank ceil(p * n / 100) in ascending order, so it is always a latency that was measured (the
same rule as PostgreSQL's ``percentile_disc``). Results without a latency (the check never
reached its target) count in ``count`` and ``failures`` but not in the percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

LEVELS: dict[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


@dataclass(frozen=True)
class Summary:
    count: int
    failures: int
    unknowns: int
    p50: float | None
    p95: float | None
    max: float | None


def nearest_rank(ordered: Sequence[float], percent: int) -> float | None:
    """The ``percent``-th percentile (1 to 100) of ``ordered`` (ascending); None when empty."""
    if not ordered:
        return None
    rank = max(1, -(-percent * len(ordered) // 100))
    return ordered[rank - 1]


def summarize(results: Iterable[tuple[str, float | None]]) -> Summary:
    """``results`` are (status, latency in ms or None) pairs, in any order."""
    count = failures = unknowns = 0
    latencies: list[float] = []
    for status, latency in results:
        count += 1
        if status == "down":
            failures += 1
        elif status == "unknown":
            unknowns += 1
        if latency is not None:
            latencies.append(latency)
    latencies.sort()
    return Summary(
        count=count,
        failures=failures,
        unknowns=unknowns,
        p50=nearest_rank(latencies, 50),
        p95=nearest_rank(latencies, 95),
        max=latencies[-1] if latencies else None,
    )


def floor(level: str, at: datetime) -> datetime:
    """The start (UTC) of the ``level`` bucket holding ``at``."""
    at = at.astimezone(UTC)
    if level == "minute":
        return at.replace(second=0, microsecond=0)
    if level == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    if level == "day":
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    msg = f"unknown level {level!r}"
    raise ValueError(msg)


def ceil(level: str, at: datetime) -> datetime:
    """The first bucket start of ``level`` at or after ``at``."""
    start = floor(level, at)
    return start if start == at else start + LEVELS[level]
