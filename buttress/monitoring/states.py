"""How check results move a monitor between up, down and flapping. No Django.

A monitor's *health* is the judgement of its own results: down only after ``down_after``
consecutive failures, up again only after ``up_after`` consecutive successes, unchanged in
between (one failure of an up monitor leaves it up and asks for an immediate re-check). Its
*status*, what is shown and alerted on, is the health unless the recent results flap: when
the last :data:`WINDOW` results change between success and failure too often, the status is
``flapping`` whatever the health, until they settle. Whether a down monitor is really
``unreachable`` (its parent is down) needs the database and is decided by the caller.

An ``unknown`` result (the probe could not judge, or the runner's own network is down)
changes nothing: it counts neither as a failure nor as a success.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

Health = Literal["up", "down", "unknown"]
Outcome = Literal["up", "down", "unknown"]

WINDOW = 21
# Changes between consecutive results (out of WINDOW - 1 possible) from which a monitor is
# flapping, and at or below which a flapping monitor settles: the gap keeps a monitor near
# the line from entering and leaving flapping on every result.
FLAP_START = 8
FLAP_STOP = 4
UP, DOWN, FLAPPING, UNKNOWN = "up", "down", "flapping", "unknown"


@dataclass(frozen=True, slots=True)
class Thresholds:
    down_after: int = 2
    up_after: int = 1

    def __post_init__(self) -> None:
        for name in ("down_after", "up_after"):
            value = getattr(self, name)
            if not 1 <= value <= 10:
                raise ValueError(f"{name}: must be from 1 to 10, got {value}")


@dataclass(frozen=True, slots=True)
class State:
    """What the monitor row keeps between results."""

    status: str = UNKNOWN
    health: Health = "unknown"
    failures: int = 0
    successes: int = 0
    # The newest WINDOW judged results, oldest first: "u" a success, "d" a failure.
    recent: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    state: State
    recheck: bool  # a failure not yet confirmed: check again now rather than at the next slot
    reason: str


def changes(recent: str) -> int:
    """How many times consecutive results in ``recent`` differ."""
    return sum(1 for a, b in itertools.pairwise(recent) if a != b)


def is_flapping(recent: str, *, was_flapping: bool) -> bool:
    count = changes(recent[-WINDOW:])
    return count > FLAP_STOP if was_flapping else count >= FLAP_START


def step(state: State, outcome: Outcome, thresholds: Thresholds, *, message: str = "") -> Step:
    """The state after one result. The status is never ``unreachable`` here (see module)."""
    if outcome == "unknown":
        return Step(state, recheck=False, reason="")
    ok = outcome == "up"
    recent = (state.recent + ("u" if ok else "d"))[-WINDOW:]
    failures = 0 if ok else min(state.failures + 1, 1000)
    successes = min(state.successes + 1, 1000) if ok else 0
    health: Health = state.health
    if ok and successes >= thresholds.up_after:
        health = "up"
    elif not ok and failures >= thresholds.down_after:
        health = "down"
    was_flapping = state.status == FLAPPING
    if is_flapping(recent, was_flapping=was_flapping):
        status = FLAPPING
    else:
        status = UNKNOWN if health == "unknown" else health
    reason = ""
    if status != state.status:
        reason = _reason(status, was_flapping=was_flapping, ok=ok, count=max(failures, successes))
        if message and status != FLAPPING:
            reason = f"{reason}: {message}"
    recheck = not ok and health != "down" and failures < thresholds.down_after
    new = State(status=status, health=health, failures=failures, successes=successes, recent=recent)
    return Step(new, recheck=recheck, reason=reason[:200])


def _reason(status: str, *, was_flapping: bool, ok: bool, count: int) -> str:
    if status == FLAPPING:
        return f"{changes_word()} in the last {WINDOW} results"
    settled = "results settled; " if was_flapping else ""
    noun = "success" if ok else "failure"
    plural = "" if count == 1 else ("es" if ok else "s")
    return f"{settled}{count} consecutive {noun}{plural}"


def changes_word() -> str:
    return f"{FLAP_START} or more changes between success and failure"
