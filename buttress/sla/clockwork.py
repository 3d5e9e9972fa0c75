"""The SLA clock machine: what a ticket's clocks do as its history unfolds. No Django imports.

One :class:`Machine` holds a ticket's current clocks (one per kind: first response, next
response, resolution) and the :class:`Terms` its policy gives at its priority. Each method is
one thing that happened to the ticket at an instant (it opened, its status changed, an agent or
the requester wrote, its priority or policy changed, a maintenance window began or ended) and
appends what the clocks did as :class:`Transition` records.

The live service (:mod:`buttress.sla.clocks`), the replay command and the simulator all drive
this same machine, so a rebuilt clock cannot disagree with a live one.

Rules (docs/sla.md has the user-facing version):

- Business time accrues only while a clock runs, measured on the policy's calendar. The time
  banked so far (``elapsed``) survives every pause, priority change and policy change.
- A clock is due when its elapsed business time reaches the target. It breaches at that
  instant unless it is met before it (met exactly at the due instant is on time), and a
  breached clock keeps counting until it is met, so "how late" is known.
- A new target applies to the time already banked: if that is at or past the new target, the
  clock breaches at the moment of the change.
- Warning steps fire once per clock and cycle, at their threshold (a percentage of the
  target, or minutes before due); a change that puts the banked time past a threshold fires
  the step at the moment of the change.
- First response stops at the first public agent reply. Next response starts when the
  requester writes after the first response and stops at the next public agent reply; each
  such exchange is a new cycle. Resolution stops when the ticket is resolved or closed and
  resumes on a reopen with its elapsed time kept. Resolving also ends an unanswered first or
  next response (the resolution answered it).
- A pausing status pauses the clocks the policy names (by default next response and
  resolution); so does a maintenance window on the ticket's assets when the policy says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
RESOLUTION = "resolution"
CLOCKS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)

RUNNING = "running"
PAUSED = "paused"
MET = "met"
STATES = (RUNNING, PAUSED, MET)

# Why a clock is paused.
BY_STATUS = "status"
BY_MAINTENANCE = "maintenance"
NO_POLICY = "no_policy"

# Transition kinds.
STARTED = "started"
PAUSED_EVENT = "paused"
RESUMED = "resumed"
WARNING = "warning"
BREACHED = "breached"
MET_EVENT = "met"
RETARGETED = "retargeted"

ZERO = timedelta(0)


class CalendarLike(Protocol):
    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def between(self, start: datetime, end: datetime) -> timedelta: ...


@dataclass(frozen=True)
class Step:
    """One rung of a warning ladder."""

    action: str
    percent: int | None = None
    minutes_before: int | None = None
    clock: str | None = None
    team: int | None = None

    @property
    def key(self) -> str:
        point = f"{self.percent}%" if self.percent is not None else f"-{self.minutes_before}m"
        return f"{self.clock or '*'}:{point}"

    def applies_to(self, kind: str) -> bool:
        return self.clock is None or self.clock == kind

    def threshold(self, target: timedelta) -> timedelta:
        """Business time after which the step fires, for a clock with ``target``."""
        if self.percent is not None:
            return target * self.percent // 100
        return max(target - timedelta(minutes=self.minutes_before or 0), ZERO)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.key, "action": self.action}
        if self.percent is not None:
            out["percent"] = self.percent
        else:
            out["minutes_before"] = self.minutes_before
        if self.team is not None:
            out["team"] = self.team
        return out

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> Step:
        return cls(
            action=str(raw["action"]),
            percent=raw.get("percent"),
            minutes_before=raw.get("minutes_before"),
            clock=raw.get("clock"),
            team=raw.get("team"),
        )


@dataclass(frozen=True)
class Terms:
    """What a policy says for one ticket at its current priority."""

    calendar: CalendarLike
    targets: Mapping[str, timedelta]
    pausing_statuses: frozenset[str] = frozenset()
    paused_clocks: frozenset[str] = frozenset({NEXT_RESPONSE, RESOLUTION})
    pause_on_maintenance: bool = True
    steps: tuple[Step, ...] = ()
    policy_id: int | None = None
    calendar_id: int | None = None
    priority: str = ""

    def steps_for(self, kind: str) -> list[Step]:
        return [step for step in self.steps if step.applies_to(kind)]


@dataclass
class Clock:
    """One clock of one ticket; ``elapsed`` is the business time banked up to
    ``running_since`` (while running) or in total (while paused or met)."""

    kind: str
    cycle: int
    target: timedelta
    started_at: datetime
    state: str = RUNNING
    elapsed: timedelta = ZERO
    running_since: datetime | None = None
    breached_at: datetime | None = None
    met_at: datetime | None = None
    fired: list[str] = field(default_factory=list)
    pause_reasons: list[str] = field(default_factory=list)
    policy_id: int | None = None
    calendar_id: int | None = None

    @property
    def active(self) -> bool:
        return self.state != MET

    def elapsed_at(self, calendar: CalendarLike, at: datetime) -> timedelta:
        if self.state == RUNNING and self.running_since is not None and at > self.running_since:
            return self.elapsed + calendar.between(self.running_since, at)
        return self.elapsed

    def breach_due(self, calendar: CalendarLike) -> datetime | None:
        """When the clock will breach if nothing changes; None if paused, met or breached."""
        if self.state != RUNNING or self.breached_at is not None or self.running_since is None:
            return None
        return calendar.add(self.running_since, max(self.target - self.elapsed, ZERO))

    def pending(
        self, calendar: CalendarLike, steps: Iterable[Step]
    ) -> list[tuple[datetime, Step | None]]:
        """The unfired warnings and the breach of a running clock, with their instants
        (a step whose threshold is already banked is due at ``running_since``)."""
        if self.state != RUNNING or self.running_since is None:
            return []
        since = self.running_since
        out: list[tuple[datetime, Step | None]] = []
        if self.breached_at is None:
            for step in steps:
                if step.key in self.fired:
                    continue
                need = step.threshold(self.target) - self.elapsed
                out.append((calendar.add(since, need) if need > ZERO else since, step))
            need = self.target - self.elapsed
            out.append((calendar.add(since, need) if need > ZERO else since, None))
        out.sort(key=lambda item: (item[0], item[1] is None))
        return out


@dataclass(frozen=True)
class Transition:
    kind: str
    clock: str
    cycle: int
    at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 3)


class Machine:
    """A ticket's clocks under ``terms`` (None when no policy applies to the ticket)."""

    def __init__(
        self,
        terms: Terms | None,
        *,
        status: str,
        done_statuses: frozenset[str],
        clocks: Iterable[Clock] = (),
        responded: bool = False,
        maintenance: bool = False,
    ) -> None:
        self.terms = terms
        self.status = status
        self.done_statuses = done_statuses
        self.clocks: dict[str, Clock] = {clock.kind: clock for clock in clocks}
        self.responded = responded
        self.maintenance = maintenance
        self.transitions: list[Transition] = []
        # Clocks changed since the caller last saved (finished cycles included).
        self.touched: dict[tuple[str, int], Clock] = {}

    # -- what happened to the ticket ---------------------------------------------------------

    def open(self, at: datetime) -> None:
        """The ticket was created at ``at`` (in ``self.status``)."""
        if self.terms is None:
            return
        if not self.responded:
            self._start(FIRST_RESPONSE, at)
        if self.status not in self.done_statuses:
            self._start(RESOLUTION, at)
        else:
            self._start(RESOLUTION, at)
            self._meet(self.clocks[RESOLUTION], at, reason="resolved")

    def set_status(self, at: datetime, status: str) -> None:
        # Resolving at the due instant is on time; pausing at it is not.
        self.advance(at, inclusive=status not in self.done_statuses)
        before, self.status = self.status, status
        done_now = status in self.done_statuses
        done_before = before in self.done_statuses
        if done_now and not done_before:
            for clock in self.clocks.values():
                if clock.active:
                    self._meet(clock, at, reason="resolved")
        elif done_before and not done_now:
            resolution = self.clocks.get(RESOLUTION)
            if resolution is not None and resolution.state == MET and self.terms is not None:
                resolution.met_at = None
                resolution.state = RUNNING
                resolution.running_since = at
                self._emit(
                    resolution,
                    RESUMED,
                    at,
                    reason="reopened",
                    elapsed_minutes=_minutes(resolution.elapsed),
                )
            elif resolution is None and self.terms is not None:
                self._start(RESOLUTION, at)
        self._sync_pauses(at)

    def agent_replied(self, at: datetime) -> None:
        """A public reply by provider staff."""
        self.advance(at, inclusive=False)
        self.responded = True
        for kind in (FIRST_RESPONSE, NEXT_RESPONSE):
            clock = self.clocks.get(kind)
            if clock is not None and clock.active:
                self._meet(clock, at, reason="agent_reply")

    def customer_replied(self, at: datetime) -> None:
        """A public reply by the requester's side; starts a next-response cycle once the
        first response is given, unless one is already waiting or the ticket is done."""
        self.advance(at)
        if self.terms is None or self.status in self.done_statuses:
            return
        first = self.clocks.get(FIRST_RESPONSE)
        if first is not None and first.active:
            return
        if not self.responded and first is None:
            return
        current = self.clocks.get(NEXT_RESPONSE)
        if current is not None and current.active:
            return
        self._start(NEXT_RESPONSE, at, cycle=current.cycle + 1 if current else 1)
        self._sync_pauses(at)

    def set_terms(self, at: datetime, terms: Terms | None) -> None:
        """The ticket's priority or policy changed: the new targets apply to the business
        time already banked; the old calendar measures time up to ``at``."""
        self.advance(at)
        old = self.terms
        for clock in self.clocks.values():
            if clock.state == RUNNING and old is not None:
                self._bank(clock, old, at)
        self.terms = terms
        if terms is None:
            self._sync_pauses(at)
            return
        if not self.clocks:
            self.open(at)
            self._sync_pauses(at)
            return
        for clock in self.clocks.values():
            target = terms.targets.get(clock.kind)
            if target is None:
                continue
            changed = (
                target != clock.target
                or terms.policy_id != clock.policy_id
                or terms.calendar_id != clock.calendar_id
            )
            before_target = clock.target
            clock.target = target
            clock.policy_id = terms.policy_id
            clock.calendar_id = terms.calendar_id
            self._touch(clock)
            if not clock.active or not changed:
                continue
            self._emit(
                clock,
                RETARGETED,
                at,
                before_minutes=_minutes(before_target),
                target_minutes=_minutes(target),
                elapsed_minutes=_minutes(clock.elapsed),
                policy=terms.policy_id,
                priority=terms.priority,
            )
            self._fire_banked(clock, terms, at)
        self._sync_pauses(at)

    def set_maintenance(self, at: datetime, active: bool) -> None:
        self.advance(at)
        self.maintenance = active
        self._sync_pauses(at)

    def advance(self, at: datetime, *, inclusive: bool = True) -> None:
        """Fire every warning and breach due before ``at`` (or at it, with ``inclusive``), in
        the order of their instants, each stamped with its own instant."""
        terms = self.terms
        if terms is None:
            return
        due: list[tuple[datetime, int, Clock, Step | None]] = []
        for order, clock in enumerate(self.clocks.values()):
            for instant, step in clock.pending(terms.calendar, terms.steps_for(clock.kind)):
                if instant < at or (inclusive and instant == at):
                    due.append((instant, order, clock, step))
        due.sort(key=lambda item: (item[0], item[1], item[3] is None))
        for instant, _, clock, step in due:
            if step is None:
                self._breach(clock, instant)
            else:
                self._warn(clock, step, instant)

    # -- reading -----------------------------------------------------------------------------

    def next_due(self, clock: Clock) -> datetime | None:
        """The next instant the scheduler must look at ``clock``: its next warning or breach."""
        if self.terms is None:
            return None
        pending = clock.pending(self.terms.calendar, self.terms.steps_for(clock.kind))
        return pending[0][0] if pending else None

    def breach_due(self, clock: Clock) -> datetime | None:
        return clock.breach_due(self.terms.calendar) if self.terms is not None else None

    # -- internals ---------------------------------------------------------------------------

    def _touch(self, clock: Clock) -> None:
        self.touched[(clock.kind, clock.cycle)] = clock

    def _emit(self, clock: Clock, kind: str, at: datetime, **detail: Any) -> None:
        self.transitions.append(Transition(kind, clock.kind, clock.cycle, at, detail))
        self._touch(clock)

    def _start(self, kind: str, at: datetime, *, cycle: int = 1) -> None:
        terms = self.terms
        if terms is None or kind not in terms.targets:
            return
        clock = Clock(
            kind=kind,
            cycle=cycle,
            target=terms.targets[kind],
            started_at=at,
            running_since=at,
            policy_id=terms.policy_id,
            calendar_id=terms.calendar_id,
        )
        self.clocks[kind] = clock
        self._emit(
            clock,
            STARTED,
            at,
            target_minutes=_minutes(clock.target),
            policy=terms.policy_id,
            priority=terms.priority,
        )
        self._sync_pauses(at)

    def _bank(self, clock: Clock, terms: Terms, at: datetime) -> None:
        # Only forward: an instant before the clock last (re)started adds nothing.
        if clock.running_since is not None and at > clock.running_since:
            clock.elapsed = clock.elapsed_at(terms.calendar, at)
            clock.running_since = at

    def _reasons(self, clock: Clock) -> list[str]:
        terms = self.terms
        if terms is None:
            return [NO_POLICY]
        reasons: list[str] = []
        if clock.kind in terms.paused_clocks:
            if self.status in terms.pausing_statuses:
                reasons.append(BY_STATUS)
            if self.maintenance and terms.pause_on_maintenance:
                reasons.append(BY_MAINTENANCE)
        return reasons

    def _sync_pauses(self, at: datetime) -> None:
        for clock in self.clocks.values():
            if not clock.active:
                continue
            reasons = self._reasons(clock)
            if reasons and clock.state == RUNNING:
                if self.terms is not None:
                    self._bank(clock, self.terms, at)
                clock.state = PAUSED
                clock.running_since = None
                clock.pause_reasons = reasons
                self._emit(
                    clock,
                    PAUSED_EVENT,
                    at,
                    reasons=reasons,
                    elapsed_minutes=_minutes(clock.elapsed),
                )
            elif reasons and clock.pause_reasons != reasons:
                clock.pause_reasons = reasons
                self._touch(clock)
            elif not reasons and clock.state == PAUSED:
                clock.state = RUNNING
                clock.running_since = at
                clock.pause_reasons = []
                self._emit(clock, RESUMED, at, elapsed_minutes=_minutes(clock.elapsed))

    def _meet(self, clock: Clock, at: datetime, *, reason: str) -> None:
        if self.terms is not None and clock.state == RUNNING:
            self._bank(clock, self.terms, at)
        clock.state = MET
        clock.running_since = None
        clock.met_at = at
        clock.pause_reasons = []
        late = clock.breached_at is not None
        self._emit(
            clock,
            MET_EVENT,
            at,
            reason=reason,
            elapsed_minutes=_minutes(clock.elapsed),
            target_minutes=_minutes(clock.target),
            late=late,
        )

    def _breach(self, clock: Clock, at: datetime) -> None:
        clock.breached_at = at
        self._emit(clock, BREACHED, at, target_minutes=_minutes(clock.target))

    def _warn(self, clock: Clock, step: Step, at: datetime) -> None:
        clock.fired.append(step.key)
        self._emit(clock, WARNING, at, target_minutes=_minutes(clock.target), **step.describe())

    def _fire_banked(self, clock: Clock, terms: Terms, at: datetime) -> None:
        """After a change of target: fire what the banked time has already passed."""
        for step in terms.steps_for(clock.kind):
            if (
                clock.breached_at is None
                and step.key not in clock.fired
                and clock.elapsed >= step.threshold(clock.target)
            ):
                self._warn(clock, step, at)
        if clock.breached_at is None and clock.elapsed >= clock.target:
            self._breach(clock, at)


def summary(
    clocks: Iterable[Clock], due: Callable[[Clock], datetime | None]
) -> tuple[str, datetime | None]:
    """A ticket's SLA state for queues and the instant it sorts by.

    State: ``breached`` (an unmet clock is past due), ``warning`` (an unmet clock has fired a
    warning), ``running``, ``paused``, ``met`` (every clock met) or ``""`` (no clocks). The
    instant is the earliest breach (past) or projected breach (future) of the unmet clocks.
    """
    current = list(clocks)
    if not current:
        return "", None
    active = [clock for clock in current if clock.active]
    instants = [
        instant
        for clock in active
        if (instant := clock.breached_at or due(clock)) is not None and clock.state == RUNNING
    ]
    instant = min(instants) if instants else None
    if any(clock.breached_at is not None for clock in active):
        return "breached", instant
    if any(clock.fired for clock in active):
        return "warning", instant
    if any(clock.state == RUNNING for clock in active):
        return "running", instant
    if active:
        return "paused", None
    return "met", None
