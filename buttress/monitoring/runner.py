"""The runner process: checks the monitors it leases, on their schedule, concurrently.

One asyncio loop runs every check; each probe awaits only its own sockets under its own
time-out, and at most ``concurrency`` run at once, so a slow or hanging target costs its own
time-out and one slot, never another monitor's start. Unless set, the number of slots follows
the monitors held (:func:`slots_needed`): enough for every target to hang to its time-out at
once. Each monitor is checked at a fixed phase of its interval (a hash of its id), so checks
spread over the interval; checks due within DISPATCH_EVERY (20 ms) of each other start
together, so their sockets share the loop's wake-ups. HTTP checks share one
:class:`~buttress.monitoring.probes.HttpClient` (each still opens its own connection) and
names are resolved through a short-lived cache (``dns_ttl``).

The database is used from one thread beside the loop: every quarter of the lease period the
runner renews and balances its leases (:mod:`buttress.monitoring.leases`), every ``flush`` seconds
it writes the results gathered meanwhile in one batch and the status changes they caused
(:mod:`buttress.monitoring.checking`). Rolling results up and pruning them is the scheduler's
(:mod:`buttress.monitoring.rollups`), so no runner's writes wait behind it.

If ``MONITORING_REFERENCE_TARGET`` is set, the runner checks it too; while it fails, the
runner's own network is in doubt and failed checks are recorded as ``unknown``. Likewise a
check that failed while the runner's own event loop stalled (the process short of CPU: its
time-out ran while it waited for the processor, not for the target) is ``unknown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import os
import resource
import secrets
import signal
import socket
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from buttress.lib.timeutil import now
from buttress.monitoring import checking, leases, rollups
from buttress.monitoring.models import PrivateTargets, allows_private
from buttress.monitoring.probes import (
    SYSTEM,
    HttpClient,
    HttpSpec,
    Network,
    ProbeResult,
    ProbeSpec,
    TcpSpec,
    run_probe,
)
from buttress.monitoring.probes.network import CachedResolver
from buttress.monitoring.probes.result import unknown
from buttress.monitoring.specs import ConfigError, build_spec
from buttress.monitoring.states import State, step

logger = logging.getLogger(__name__)

T = TypeVar("T")
RECHECK_DELAY = 1.0
REFERENCE_EVERY = 15.0
REFERENCE_TIMEOUT = 5.0
STOP_GRACE = 10.0
# A runner's heartbeat this old belongs to a runner that is surely gone.
FORGET_RUNNERS_AFTER = timedelta(days=1)
# Start lags kept for the statistics the benchmark reads.
LAGS_KEPT = 100_000
# A probe is cancelled this long after its own time-out should have ended it.
SAFETY_MARGIN = 5.0
# The event loop is watched every LOOP_TICK seconds; running STALL seconds late is a stall,
# BUSY seconds late holds back the start of due checks. At most START_BATCH checks start
# between two turns of the loop.
LOOP_TICK = 0.1
STALL = 1.0
BUSY = 0.25
START_BATCH = 200
# Due checks are started at most this often: checks due within it start in one turn of the
# loop (at most this much later), so their connections and answers share the loop's wake-ups
# instead of each waking the process on its own.
DISPATCH_EVERY = 0.02
STALL_WARN_EVERY = 60.0
# Sizing the check slots when the concurrency is not set: never fewer than this, 10 % more
# than the worst case needs, and file descriptors kept for everything else the process opens.
MIN_SLOTS = 100
SLOT_HEADROOM = 1.1
RESERVED_FILES = 200


def slots_needed(checks: Iterable[tuple[float, float]]) -> int:
    """Check slots for monitors given as (time-out, interval) pairs, if every target hung.

    A hanging target holds its slot for its time-out, then (a failure that has not yet taken
    the monitor down) for a re-check's time-out, out of every interval; a monitor never has
    two checks running, so it needs at most one slot. The sum, with 10 % headroom, is the
    number of checks in flight at which no monitor's start waits for a slot.
    """
    need = sum(min(1.0, 2 * timeout / interval) for timeout, interval in checks)
    return max(MIN_SLOTS, math.ceil(round(need * SLOT_HEADROOM, 6)))


def open_files_limit() -> int:
    """How many checks the process can have open at once (each holds a socket): raises the
    soft limit on open files to the hard one and keeps RESERVED_FILES for the rest."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(MIN_SLOTS, soft - RESERVED_FILES)


class Slots:
    """A semaphore whose size can change while checks wait on it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    def resize(self, limit: int) -> None:
        self.limit = limit
        self._wake()

    async def __aenter__(self) -> None:
        if self.busy < self.limit and not self._waiting:
            self.busy += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.busy -= 1  # granted and cancelled at once: give the slot on
                self._wake()
            else:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(waiter)
            raise

    async def __aexit__(self, *exc: object) -> None:
        self.busy -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiting and self.busy < self.limit:
            waiter = self._waiting.popleft()
            if not waiter.done():
                self.busy += 1
                waiter.set_result(None)


def reference_spec(target: str) -> ProbeSpec | None:
    """The check of the runner's reference target: a URL (HTTP) or HOST:PORT (TCP)."""
    target = target.strip()
    if not target:
        return None
    if "://" in target:
        return HttpSpec(url=target, timeout=REFERENCE_TIMEOUT, allow_private=True)
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        msg = f"MONITORING_REFERENCE_TARGET must be a URL or HOST:PORT, not {target!r}"
        raise ValueError(msg)
    return TcpSpec(
        host=host.strip("[]"), port=int(port), timeout=REFERENCE_TIMEOUT, allow_private=True
    )


@dataclass
class Held:
    """A monitor this runner holds, with its schedule on the loop's clock."""

    target: checking.Target
    spec: ProbeSpec | None
    problem: str
    state: State
    phase: float
    generation: int = 0
    incident_pending: bool = False
    running: bool = False


@dataclass
class Stats:
    checks: int = 0
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=LAGS_KEPT))


def _spec(target: checking.Target) -> tuple[ProbeSpec | None, str]:
    try:
        return build_spec(target.kind, target.config, allow_private=target.allow_private), ""
    except ConfigError as exc:
        return None, f"the monitor's configuration is invalid: {exc}"


class Runner:
    def __init__(
        self,
        *,
        concurrency: int | None = None,
        lease: float | None = None,
        flush: float | None = None,
        reference: str | None = None,
        dns_ttl: float | None = None,
    ) -> None:
        # None or 0: sized to the monitors held (slots_needed), within the open-files limit.
        self.fixed_concurrency = concurrency or settings.MONITORING_RUNNER_CONCURRENCY or None
        self.concurrency = self.fixed_concurrency or MIN_SLOTS
        ttl = settings.MONITORING_RUNNER_DNS_TTL if dns_ttl is None else dns_ttl
        self.network: Network = Network(resolve=CachedResolver(ttl=ttl)) if ttl > 0 else SYSTEM
        self.http = HttpClient()
        self.lease = timedelta(seconds=lease or settings.MONITORING_RUNNER_LEASE)
        self.flush_every = flush or settings.MONITORING_RUNNER_FLUSH
        target = settings.MONITORING_REFERENCE_TARGET if reference is None else reference
        self.reference = reference_spec(target)
        self.reference_ok = True
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.name = f"{self.host}:{self.pid}:{secrets.token_hex(4)}"[:100]
        self.started_at = now()
        self.held: dict[int, Held] = {}
        self.stats = Stats()
        self._heap: list[tuple[float, int, int]] = []
        self._results: list[checking.Result] = []
        self._progress: dict[int, checking.Progress] = {}
        self._changes: dict[int, tuple[str, str, datetime, str, int]] = {}
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runner-db")
        self._running: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._slots = Slots(self.concurrency)
        # The loop time of the last stall of the event loop, and of the last warning about one.
        self._stalled_at = -math.inf
        self._late = 0.0  # how late the loop's last tick came
        self._warned_at = -math.inf
        self._files = 0

    # --- plumbing ----------------------------------------------------------------------------

    async def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """Run database work on the runner's one database thread."""

        def work() -> Any:
            close_old_connections()
            return function(*args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._db, work)

    def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    def _wall_to_loop(self, at: datetime) -> float:
        return asyncio.get_running_loop().time() + (at - now()).total_seconds()

    def _next_slot(self, held: Held, *, after: float) -> datetime:
        """The first instant after wall-clock ``after`` (epoch seconds) at the monitor's phase."""
        interval = held.target.interval
        slots = (after - held.phase) // interval + 1
        return datetime.fromtimestamp(slots * interval + held.phase, tz=UTC)

    def _schedule(self, held: Held, at: datetime) -> None:
        due = self._wall_to_loop(at)
        heapq.heappush(self._heap, (due, held.target.pk, held.generation))
        if self._wake is not None and self._heap[0][0] == due:
            self._wake.set()

    # --- leases ------------------------------------------------------------------------------

    async def lease_cycle(self) -> None:
        cycle: leases.Cycle = await self._call(
            leases.cycle,
            self.name,
            at=now(),
            lease=self.lease,
            host=self.host,
            pid=self.pid,
            started_at=self.started_at,
            checks=self.stats.checks,
        )
        for pk in [pk for pk in self.held if pk not in cycle.held]:
            self.held.pop(pk).generation += 1
        stale = [
            pk
            for pk, updated_at in cycle.held.items()
            if pk not in self.held or self.held[pk].target.updated_at != updated_at
        ]
        targets: list[checking.Target] = await self._call(checking.load_targets, stale)
        if self.held:
            policy = await self._call(
                checking.policies, sorted({h.target.organization_id for h in self.held.values()})
            )
            self._apply_policies(policy)
        for target in targets:
            self._take(target)
        self._size_slots()
        if cycle.claimed or cycle.released:
            logger.info(
                "runner %s holds %d monitors (share %d of %d runners; +%d -%d)",
                self.name,
                len(self.held),
                cycle.share,
                cycle.runners,
                cycle.claimed,
                cycle.released,
            )

    def _size_slots(self) -> None:
        if self.fixed_concurrency is not None:
            return
        if not self._files:
            self._files = open_files_limit()
        needed = slots_needed(
            (float(getattr(held.spec, "timeout", 10.0)), held.target.interval)
            for held in self.held.values()
        )
        limit = min(needed, self._files)
        if limit != self.concurrency:
            logger.info("runner %s runs up to %d checks at once", self.name, limit)
            self.concurrency = limit
            self._slots.resize(limit)

    def _apply_policies(self, policy: dict[int, str]) -> None:
        """Follow a change of an organisation's private-address policy."""
        for held in self.held.values():
            target = held.target
            allowed = allows_private(
                policy.get(target.organization_id, PrivateTargets.STAFF),
                configured_by_staff=target.configured_by_staff,
            )
            if allowed != target.allow_private:
                held.target = replace(target, allow_private=allowed)
                held.spec, held.problem = _spec(held.target)

    def _take(self, target: checking.Target) -> None:
        old = self.held.get(target.pk)
        spec, problem = _spec(target)
        if old is not None:
            # A configuration change: the state in memory is newer than the row's.
            old.target, old.spec, old.problem = replace(target, state=old.state), spec, problem
            old.phase = checking.phase(target.pk, target.interval)
            if not old.running:
                # A running check schedules the next one itself, at the new phase.
                old.generation += 1
                self._schedule(old, self._next_slot(old, after=time.time()))
            return
        held = Held(
            target=target,
            spec=spec,
            problem=problem,
            state=target.state,
            phase=checking.phase(target.pk, target.interval),
            # A down monitor may have had its incident suppressed (maintenance) by the runner
            # that held it before: its next failure looks again.
            incident_pending=target.state.status == "down",
        )
        self.held[target.pk] = held
        due = self._next_slot(held, after=time.time())
        if target.check_due_at is not None and target.check_due_at < due:
            # A re-check left pending, or an overdue check of a monitor taken over: now.
            due = max(target.check_due_at, now())
        self._schedule(held, due)

    # --- checks ------------------------------------------------------------------------------

    async def dispatch(self) -> None:
        """Start the checks that are due, at most START_BATCH between two turns of the loop,
        and none while the loop runs BUSY late: a runner short of CPU lets its checks start
        late (the start lag shows it) rather than pile up thousands at once, which would make
        every check slower still and run their time-outs out."""
        assert self._stopping is not None
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            current = loop.time()
            started = 0
            while self._heap and self._heap[0][0] <= current:
                if started >= START_BATCH or self._late >= BUSY:
                    break
                due, pk, generation = heapq.heappop(self._heap)
                held = self.held.get(pk)
                if held is None or held.generation != generation or held.running:
                    continue
                held.running = True
                task = asyncio.create_task(self._check(held, generation, due))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                started += 1
            self._wake.clear()
            if self._late >= BUSY and self._heap and self._heap[0][0] <= current:
                await asyncio.sleep(LOOP_TICK)  # held back until the loop catches up
                continue
            delay = self._heap[0][0] - loop.time() if self._heap else 1.0
            if delay > 0:
                # Checks due within DISPATCH_EVERY of each other start together.
                delay = max(delay, DISPATCH_EVERY)
                try:
                    async with asyncio.timeout(min(delay, 1.0)):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)

    async def _probe(self, held: Held) -> ProbeResult:
        if held.spec is None:
            return unknown(held.problem)
        limit = float(getattr(held.spec, "timeout", 10.0)) + SAFETY_MARGIN
        try:
            async with asyncio.timeout(limit):
                return await run_probe(held.spec, network=self.network, http=self.http)
        except TimeoutError:
            return unknown(f"the check did not finish within {limit:.0f} s")

    async def _check(self, held: Held, generation: int, due: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with self._slots:
                started = loop.time()
                self.stats.lags.append(started - due)
                at = now()
                result = await self._probe(held)
            self.stats.checks += 1
            self._record(held, generation, at, result, stalled=self._stalled_at >= started)
        finally:
            held.running = False

    def _record(
        self,
        held: Held,
        generation: int,
        at: datetime,
        result: ProbeResult,
        *,
        stalled: bool = False,
    ) -> None:
        status, message = result.status, result.message
        if status == "down" and not self.reference_ok:
            status = "unknown"
            message = f"not judged: the runner cannot reach its reference target ({message})"
        elif status == "down" and stalled:
            status = "unknown"
            message = f"not judged: the runner was overloaded during the check ({message})"
        target = held.target
        moved = step(held.state, status, target.thresholds, message=message)
        before = held.state.status
        held.state = moved.state
        if moved.recheck:
            due = now() + timedelta(seconds=RECHECK_DELAY)
        else:
            due = self._next_slot(held, after=time.time())
        self._results.append(
            checking.Result(
                monitor_id=target.pk,
                organization_id=target.organization_id,
                at=at,
                status=status,
                latency_ms=result.latency_ms,
                message=message,
            )
        )
        self._progress[target.pk] = checking.Progress(target.pk, moved.state, at, due)
        new = moved.state.status
        if new != before or (held.incident_pending and new == "down" and status == "down"):
            self._changes[target.pk] = (new, moved.reason, at, message, generation)
        if self.held.get(target.pk) is held and held.generation == generation:
            self._schedule(held, due)

    # --- writing -----------------------------------------------------------------------------

    async def flush(self, *, stopping: bool = False) -> None:
        """Write the results gathered so far, then the status changes they caused.

        Status changes are written for at most a flush period (at least 1 s) per call and the
        rest carried to the next call, so that a flood of changes (a mass outage, the first
        results of thousands of new monitors) never holds back the results. When stopping,
        the changes left after STOP_GRACE are dropped: the saved counters make the next check
        of each monitor, by whichever runner holds it then, find the same change again.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (STOP_GRACE if stopping else max(self.flush_every, 1.0))
        results, self._results = self._results, []
        progress, self._progress = list(self._progress.values()), {}
        changes, self._changes = self._changes, {}
        if results or progress:
            await self._call(checking.save_results, self.name, results, progress)
        pending = list(changes.items())
        for index, (pk, (status, reason, at, message, generation)) in enumerate(pending):
            if loop.time() > deadline:
                if stopping:
                    logger.warning("runner %s stopped before writing some changes", self.name)
                else:
                    for later_pk, change in pending[index:]:
                        # A change found meanwhile for the same monitor is newer.
                        self._changes.setdefault(later_pk, change)
                break
            applied: checking.Applied | None = await self._call(
                checking.apply_status,
                pk,
                owner=self.name,
                status=status,
                reason=reason,
                at=at,
                message=message,
            )
            held = self.held.get(pk)
            if held is None or held.generation != generation:
                continue
            if applied is None:
                self.held.pop(pk).generation += 1
                continue
            held.state = replace(held.state, status=applied.status)
            held.incident_pending = applied.incident_pending

    async def check_reference(self) -> None:
        if self.reference is None:
            return
        result = await run_probe(self.reference, network=self.network, http=self.http)
        ok = result.status == "up"
        if ok != self.reference_ok:
            logger.warning(
                "runner %s: reference target %s (%s)",
                self.name,
                "reachable again" if ok else "unreachable, failed checks are unknown",
                result.message,
            )
        self.reference_ok = ok

    # --- the loop ----------------------------------------------------------------------------

    async def watch_loop(self) -> None:
        """Note when the event loop runs late: the process is short of CPU, and a check's
        time-out may have run out while it waited for the processor rather than the target."""
        assert self._stopping is not None
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            before = loop.time()
            await asyncio.sleep(LOOP_TICK)
            current = loop.time()
            late = self._late = current - before - LOOP_TICK
            if late < STALL:
                continue
            self._stalled_at = current
            if current - self._warned_at >= STALL_WARN_EVERY:
                self._warned_at = current
                logger.warning(
                    "runner %s is overloaded: its event loop ran %.1f s late (%d checks running);"
                    " checks failing meanwhile are unknown; run fewer monitors per runner",
                    self.name,
                    late,
                    self._slots.busy,
                )

    async def _every(self, seconds: float, work: Any, what: str) -> None:
        assert self._stopping is not None
        while not self._stopping.is_set():
            try:
                await work()
            except DatabaseError:
                # A restarting database must not stop the checks; the next round retries.
                logger.exception("runner %s: %s failed", self.name, what)
            try:
                async with asyncio.timeout(seconds):
                    await self._stopping.wait()
            except TimeoutError:
                pass

    async def main(self, *, until: asyncio.Event | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = until or asyncio.Event()
        self._wake = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Not possible off the main thread (tests drive the runner from a thread).
            with contextlib.suppress(RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.stop)
        logger.info(
            "runner %s started (concurrency %s)", self.name, self.fixed_concurrency or "auto"
        )
        await self.check_reference()
        await self._call(leases.forget_stale, at=now(), older_than=FORGET_RUNNERS_AFTER)
        # The jobs that roll this runner's results up and prune them (due at once if new).
        await self._call(rollups.ensure_upkeep)
        await self.lease_cycle()
        background = [
            asyncio.create_task(self.dispatch()),
            asyncio.create_task(self.watch_loop()),
            asyncio.create_task(
                self._every(
                    leases.renew_every(self.lease).total_seconds(), self.lease_cycle, "lease cycle"
                )
            ),
            asyncio.create_task(self._every(self.flush_every, self.flush, "flush")),
            asyncio.create_task(self._every(REFERENCE_EVERY, self.check_reference, "reference")),
        ]
        await self._stopping.wait()
        if self._running:
            # Checks already started finish (each within its own time-out) and are recorded.
            await asyncio.wait(list(self._running), timeout=STOP_GRACE)
            for task in list(self._running):
                task.cancel()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        try:
            await self.flush(stopping=True)
            await self._call(leases.forget, self.name)
        except DatabaseError:
            logger.warning("runner %s could not write its last results", self.name)
        await self.http.close()
        await self._call(connections.close_all)
        self._db.shutdown(wait=True)
        logger.info("runner %s stopped after %d checks", self.name, self.stats.checks)

    def run(self) -> None:
        asyncio.run(self.main())
