"""Latency drawn as inline SVG paths, on the server: no script, no CDN. No Django here.

A series is a list of (instant, value or None) pairs; x runs from ``start`` to ``end`` and y
from 0 at the bottom to the chart's top value. A missing value (or a gap longer than
``max_gap``) lifts the pen, so an outage shows as a break and not as a slope.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

type Point = tuple[datetime, float | None]


def nice_top(values: Sequence[float]) -> float:
    """A round number (1, 2 or 5 times a power of ten) at or above every value."""
    peak = max(values, default=0.0)
    if peak <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(peak))
    for step in (1, 2, 5, 10):
        if step * power >= peak:
            return float(step * power)
    return float(10 * power)


def path(
    points: Sequence[Point],
    *,
    start: datetime,
    end: datetime,
    top: float,
    width: float,
    height: float,
    max_gap: timedelta | None = None,
) -> str:
    """The SVG path data of ``points`` in a box ``width`` wide and ``height`` high."""
    span = (end - start).total_seconds() or 1.0
    commands: list[str] = []
    previous: datetime | None = None
    for at, value in points:
        if value is None or not start <= at <= end:
            previous = None
            continue
        x = (at - start).total_seconds() / span * width
        y = height - min(value, top) / top * height
        pen = "L" if previous is not None and (max_gap is None or at - previous <= max_gap) else "M"
        commands.append(f"{pen}{x:.1f} {y:.1f}")
        previous = at
    return " ".join(commands)


@dataclass(frozen=True)
class Line:
    name: str
    path: str
    colour: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    top: float
    lines: list[Line]
    empty: bool


COLOURS = {"p50": "#2563eb", "p95": "#d97706", "max": "#dc2626"}


def chart(
    series: dict[str, Sequence[Point]],
    *,
    start: datetime,
    end: datetime,
    step: timedelta,
    width: int = 720,
    height: int = 180,
) -> Chart:
    """A chart of several named series sharing one y scale; buckets ``step`` apart."""
    values = [v for points in series.values() for _at, v in points if v is not None]
    top = nice_top(values)
    lines = [
        Line(
            name=name,
            path=path(
                points,
                start=start,
                end=end,
                top=top,
                width=width,
                height=height,
                max_gap=step,
            ),
            colour=COLOURS.get(name, "#475569"),
        )
        for name, points in series.items()
    ]
    return Chart(width=width, height=height, top=top, lines=lines, empty=not values)
