"""Sizes as people read them: ``10 bytes``, ``1.5 KB``, ``25 MB`` (binary units, 1 KB = 1,024
bytes), never ``0 MB``: the unit is the largest one the size reaches."""

from __future__ import annotations

UNITS = ("KB", "MB", "GB", "TB")
STEP = 1024


def human_size(size: int) -> str:
    if size < STEP:
        return "1 byte" if size == 1 else f"{max(size, 0)} bytes"
    value = float(size)
    unit = "bytes"
    for unit in UNITS:  # noqa: B007 (the unit reached is used after the loop)
        value /= STEP
        if value < STEP:
            break
    text = f"{value:.1f}".removesuffix(".0") if value < 100 else f"{value:.0f}"
    return f"{text} {unit}"
