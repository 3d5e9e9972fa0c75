"""SLA scheduler sweep benchmark: claiming 100,000 due clocks on PostgreSQL.

Target: a scheduler sweep over 100,000 open clocks finishes in under 5 seconds on PostgreSQL.

The sweep is what one scheduler process does: :meth:`buttress.scheduler.loop.Scheduler.tick`
(with no sleep between ticks) until no clock is due. A tick beats, then drains each timer:
for ``sla.clock`` it calls :func:`buttress.scheduler.claims.claim_due` (one
``UPDATE ... WHERE pk = ANY(ARRAY(SELECT ... FOR UPDATE SKIP LOCKED LIMIT 5000)) RETURNING pk``
and one queued ``fire_clocks`` task for the batch, here a django-tasks-db row in the same
transaction) until a short batch or its time budget. Also measured: the idle sweep (nothing
due, the steady state), firing the queued ``fire_clocks`` tasks in-process with
``fire_clocks.call`` (all of them, or the clocks of a random sample of tickets taken out of
each queued batch, extrapolated and labelled so) and the baseline, a naive full scan that loads
every open clock and checks it in Python.

    .venv/bin/python bench/sla_sweep.py                          # the full run: 100,000 clocks
    .venv/bin/python bench/sla_sweep.py --clocks 5000 --fire 0   # a quick check, firing all

The benchmark creates its own database (``bench_sla_sweep`` by default), migrates and seeds it
in bulk, and drops it at the end (``--keep`` leaves it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from buttress.desk.models import Ticket
    from buttress.sla.models import SlaPolicy

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Run as a script (``python bench/sla_sweep.py``), the project is not on the path yet.
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_sla_sweep"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TARGET_SECONDS = 5.0
ORG_SLUG_PREFIX = "bench-sla-"
BATCH = 5_000
# Moving a seeded history back by whole weeks keeps every instant the same business time on a
# UTC calendar without holidays, so the shifted rows are what sync would have written then.
SHIFT = timedelta(weeks=4)
# Business minutes per priority; every ticket gets a first-response and a resolution clock.
TARGETS = {
    "P1": {"first_response": 30, "next_response": 60, "resolution": 240},
    "P2": {"first_response": 60, "next_response": 120, "resolution": 480},
    "P3": {"first_response": 240, "next_response": 480, "resolution": 1440},
    "P4": {"first_response": 480, "next_response": 960, "resolution": 2880},
}
WARNINGS = [{"percent": 75, "action": "notify"}]
WEEKDAYS_8_TO_18 = {str(day): [["08:00", "18:00"]] for day in range(5)}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/sla_sweep.py", description=__doc__)
    parser.add_argument("--clocks", type=int, default=100_000, help="open clocks to seed")
    parser.add_argument("--orgs", type=int, default=50, help="organisations to spread them over")
    parser.add_argument(
        "--fire",
        type=int,
        default=1_000,
        help="tickets whose clocks are fired in-process, drawn at random; 0 fires every task",
    )
    parser.add_argument("--idle-sweeps", type=int, default=200, help="idle sweeps to time")
    parser.add_argument("--seed", type=int, default=7, help="seed of the random draws")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--keep", action="store_true", help="leave the database in place")
    parser.add_argument("--json", type=Path, help="write results here (default bench/results/)")
    args = parser.parse_args(argv)
    if args.clocks < 2 or args.clocks % 2:
        parser.error("--clocks must be an even number, at least 2 (two clocks per ticket)")
    if not 1 <= args.orgs <= args.clocks // 2:
        parser.error("--orgs must be between 1 and the number of tickets (--clocks / 2)")
    if args.fire < 0 or args.idle_sweeps < 1:
        parser.error("--fire must be 0 or more and --idle-sweeps at least 1")
    url = urlsplit(args.database_url)
    if url.scheme not in {"postgres", "postgresql"} or url.hostname not in LOOPBACK:
        parser.error("--database-url must be a PostgreSQL database on loopback")
    if "bench" not in url.path:
        # The database is dropped and created again; refuse anything not made for this.
        parser.error("--database-url must name a database with 'bench' in its name")
    return args


def configure_environment(database_url: str) -> None:
    data_dir = ROOT / "var" / "bench"
    (data_dir / "static").mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "buttress.settings",
            "BUTTRESS_DATA_DIR": str(data_dir),
            "BUTTRESS_DEBUG": "0",
            "BUTTRESS_LOG_LEVEL": "WARNING",
            # Claims insert django-tasks-db rows in their own transaction: part of the cost.
            "BUTTRESS_TASK_BACKEND": "db",
            # The production default: a tick drains a backlog (a set max batch caps each tick).
            "BUTTRESS_SCHEDULER_MAX_BATCH": "0",
        }
    )
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def _maintenance(database_url: str) -> tuple[str, str]:
    url = urlsplit(database_url)
    return url._replace(path="/postgres").geturl(), url.path.lstrip("/")


def create_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    maintenance, name = _maintenance(database_url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        # A database left by an interrupted run is ours to replace.
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    maintenance, name = _maintenance(database_url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# -- seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    tickets: int
    clocks: int
    organizations: int
    policy_id: int
    seconds: float


def make_policy() -> SlaPolicy:
    """The calendar, policy and default rule, made the way an administrator makes them."""
    from buttress.sla import services

    calendar = services.create_calendar(
        actor=None,
        organization=None,
        name="Bench office hours (UTC)",
        timezone="UTC",
        weekly=WEEKDAYS_8_TO_18,
    )
    policy = services.create_policy(
        actor=None,
        organization=None,
        name="Bench standard",
        calendar=calendar,
        targets=TARGETS,
        warnings=WARNINGS,
    )
    services.create_rule(actor=None, policy=policy)
    return policy


def seed(*, clocks: int, orgs: int, rng: random.Random) -> Seeded:
    """``clocks / 2`` new tickets opened during the last minute, each with the two running
    clocks (first response, resolution) and the summary that ``clocks.sync`` writes for a new
    ticket, computed by the same machine but written with bulk inserts."""
    from django.db import connection, transaction

    from buttress.desk.models import DONE_STATUSES, Priority, Status, Ticket
    from buttress.lib.timeutil import now
    from buttress.sla import clocks as sla_clocks
    from buttress.sla import clockwork
    from buttress.sla.models import SlaClock
    from buttress.tenancy.models import Organization

    started = time.perf_counter()
    policy = make_policy()
    terms = {p: sla_clocks.terms_for(policy, p) for p in Priority.values}
    priorities = list(Priority.values)
    tickets = clocks // 2
    opened_until = now()
    with transaction.atomic():
        organizations = Organization.objects.bulk_create(
            Organization(
                name=f"Bench SLA customer {n:03d}",
                slug=f"{ORG_SLUG_PREFIX}{n:03d}",
                email_domains=[f"sla{n:03d}.example"],
            )
            for n in range(1, orgs + 1)
        )
        for first in range(0, tickets, BATCH):
            rows: list[Ticket] = []
            machines: list[clockwork.Machine] = []
            for i in range(first, min(first + BATCH, tickets)):
                priority = rng.choice(priorities)
                opened = opened_until - timedelta(milliseconds=rng.randrange(60_000))
                machine = clockwork.Machine(
                    terms[priority], status=Status.NEW, done_statuses=frozenset(DONE_STATUSES)
                )
                machine.open(opened)
                state, due = clockwork.summary(machine.clocks.values(), machine.breach_due)
                rows.append(
                    Ticket(
                        number=i + 1,
                        organization=organizations[i % orgs],
                        subject=f"Bench ticket {i + 1}",
                        status=Status.NEW,
                        priority=priority,
                        created_at=opened,
                        updated_at=opened,
                        sla_state=state,
                        sla_due_at=due,
                    )
                )
                machines.append(machine)
            Ticket.objects.bulk_create(rows)
            clock_rows = []
            for ticket, machine in zip(rows, machines, strict=True):
                for clock in machine.clocks.values():
                    row = SlaClock(
                        organization_id=ticket.organization_id,
                        ticket=ticket,
                        kind=clock.kind,
                        cycle=clock.cycle,
                        is_current=True,
                        calendar_id=clock.calendar_id,
                        due_at=machine.next_due(clock),
                        breach_at=machine.breach_due(clock),
                        updated_at=ticket.created_at,
                    )
                    row.take(clock)
                    clock_rows.append(row)
            SlaClock.objects.bulk_create(clock_rows)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return Seeded(
        tickets=tickets,
        clocks=SlaClock.objects.filter(is_current=True).count(),
        organizations=orgs,
        policy_id=policy.pk,
        seconds=time.perf_counter() - started,
    )


CLOCK_FIELDS = (
    "kind",
    "cycle",
    "is_current",
    "policy_id",
    "calendar_id",
    "target",
    "state",
    "elapsed",
    "running_since",
    "started_at",
    "breached_at",
    "met_at",
    "fired",
    "pause_reasons",
    "due_at",
    "breach_at",
)


def _snapshot(ticket_id: int) -> list[tuple[Any, ...]]:
    from buttress.desk.models import Ticket
    from buttress.sla.models import SlaClock

    ticket = Ticket.objects.values_list("sla_state", "sla_due_at").get(pk=ticket_id)
    rows = SlaClock.objects.filter(ticket_id=ticket_id).order_by("kind", "cycle")
    return [tuple(ticket), *(tuple(getattr(r, f) for f in CLOCK_FIELDS) for r in rows)]


def check_consistency(rng: random.Random, *, sample: int = 25) -> int:
    """Run the real ``clocks.sync`` over a sample of seeded tickets at their opening instant
    (rolled back) and fail if it would write anything different from the seed."""
    from django.db import transaction

    from buttress.desk.models import Ticket
    from buttress.sla import clocks as sla_clocks

    ids = list(Ticket.objects.values_list("pk", flat=True))
    checked = 0
    for ticket_id in rng.sample(ids, min(sample, len(ids))):
        before = _snapshot(ticket_id)
        with transaction.atomic():
            ticket = Ticket.objects.get(pk=ticket_id)
            sla_clocks.sync(ticket, at=ticket.created_at, signal=sla_clocks.Signal.CHANGED)
            after = _snapshot(ticket_id)
            transaction.set_rollback(True)
        if before != after:
            msg = f"ticket {ticket_id}: seeded {before}, sync writes {after}"
            raise RuntimeError(msg)
        checked += 1
    return checked


def make_all_due() -> tuple[int, float]:
    """Move the whole seeded history back four weeks: every clock is then past its warning and
    its breach (the worst case, everything due at once). Returns (clocks due, seconds)."""
    from django.db import connection
    from django.db.models import F

    from buttress.desk.models import Ticket
    from buttress.lib.timeutil import now
    from buttress.sla.models import SlaClock

    started = time.perf_counter()
    Ticket.objects.update(
        created_at=F("created_at") - SHIFT,
        updated_at=F("updated_at") - SHIFT,
        sla_due_at=F("sla_due_at") - SHIFT,
    )
    SlaClock.objects.update(
        started_at=F("started_at") - SHIFT,
        running_since=F("running_since") - SHIFT,
        due_at=F("due_at") - SHIFT,
        breach_at=F("breach_at") - SHIFT,
        updated_at=F("updated_at") - SHIFT,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    due = SlaClock.objects.filter(due_at__lte=now()).count()
    return due, time.perf_counter() - started


# -- measuring ---------------------------------------------------------------------------------

CLAIM = "claim UPDATE sla_slaclock ... ANY(ARRAY(SELECT ... SKIP LOCKED))"
TASK_INSERT = "task INSERT INTO django_tasks_database_*"
# Any other statement is named by its verb and the first table it names.
FIRST_TABLE = re.compile(r'(?:FROM|UPDATE|INTO)\s+"(\w+)"', re.IGNORECASE)


@dataclass
class SqlTimes:
    """Time spent in the database driver, by kind of statement, while installed."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Milliseconds of each claim statement of ``sla.clock``, in order.
    claim_ms: list[float] = field(default_factory=list)

    @staticmethod
    def kind(sql: str) -> str:
        head = " ".join(sql.split()[:4]).upper()
        if "SKIP LOCKED" in sql.upper():
            if head.startswith('UPDATE "SLA_SLACLOCK"'):
                return CLAIM
            return "claims of the other timers (nothing due)"
        if head.startswith('INSERT INTO "DJANGO_TASKS_DATABASE'):
            return TASK_INSERT
        if "SCHEDULER_SCHEDULERHEARTBEAT" in sql.upper():
            return "heartbeat (scheduler_schedulerheartbeat)"
        if head.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            return "SAVEPOINT / RELEASE SAVEPOINT"
        table = FIRST_TABLE.search(sql)
        verb = head.split()[0] if head else "?"
        return f"{verb} {table.group(1) if table else '(no table)'}"

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            kind = self.kind(sql)
            self.seconds[kind] += elapsed
            self.counts[kind] += 1
            if kind == CLAIM:
                self.claim_ms.append(elapsed * 1000)

    def add(self, kind: str, seconds: float) -> None:
        self.seconds[kind] += seconds
        self.counts[kind] += 1


@contextmanager
def timing_sql(times: SqlTimes) -> Iterator[SqlTimes]:
    """Time every statement and every COMMIT (which goes past the execute wrappers)."""
    from django.db import connection

    original = connection.commit

    def commit() -> None:
        started = time.perf_counter()
        try:
            original()
        finally:
            times.add("COMMIT", time.perf_counter() - started)

    # An instance attribute shadows the method for this connection only, while measuring.
    setattr(connection, "commit", commit)  # noqa: B010
    try:
        with connection.execute_wrapper(times):
            yield times
    finally:
        del connection.commit


@dataclass(frozen=True)
class Sweep:
    claimed: int
    ticks: int
    batches: int
    seconds: float
    claim_ms: list[float]
    sql_seconds: dict[str, float]
    sql_counts: dict[str, int]


def sweep() -> Sweep:
    """``Scheduler.tick()`` until no clock is due, as one scheduler process does (without its
    sleep between ticks); only the ticks are timed."""
    from buttress.lib.timeutil import now
    from buttress.scheduler.loop import Scheduler
    from buttress.sla.models import SlaClock

    scheduler = Scheduler(interval=0)
    times = SqlTimes()
    claimed = ticks = 0
    seconds = 0.0
    # The check between ticks is the bench's, not the scheduler's: neither timed nor counted.
    while SlaClock.objects.filter(due_at__lte=now()).exists():
        with timing_sql(times):
            started = time.perf_counter()
            claimed += scheduler.tick()
            seconds += time.perf_counter() - started
        ticks += 1
    return Sweep(
        claimed=claimed,
        ticks=ticks,
        batches=times.counts.get(CLAIM, 0),
        seconds=seconds,
        claim_ms=times.claim_ms,
        sql_seconds=dict(times.seconds),
        sql_counts=dict(times.counts),
    )


def idle_sweeps(count: int) -> tuple[list[float], list[float]]:
    """Milliseconds of ``claim_due`` over the timer when nothing is due, and of a whole idle
    ``Scheduler.tick()`` (heartbeat and every registered timer)."""
    from buttress.lib.timeutil import now
    from buttress.scheduler.claims import claim_due
    from buttress.scheduler.loop import Scheduler
    from buttress.scheduler.registry import get_timer

    timer = get_timer("sla.clock")
    scheduler = Scheduler(interval=0)
    claims: list[float] = []
    ticks: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        claimed = claim_due(timer, at=now())
        claims.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        claimed += scheduler.tick()
        ticks.append((time.perf_counter() - started) * 1000)
        if claimed:
            msg = f"the idle sweep claimed {claimed} rows; the seeded clocks came due too early"
            raise RuntimeError(msg)
    return claims, ticks


def claim_plan(at: datetime) -> str:
    """PostgreSQL's plan for the claim's inner SELECT (what an idle sweep runs), its nodes and
    conditions without costs."""
    from django.db import transaction

    from buttress.scheduler.claims import _due_queryset
    from buttress.scheduler.registry import get_timer

    timer = get_timer("sla.clock")
    query = (
        _due_queryset(timer, at)
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("pk", flat=True)[: timer.batch]
    )
    with transaction.atomic():
        plan = query.explain()
    nodes = [line.split("  (cost=")[0].strip(" ->") for line in plan.splitlines()]
    return " > ".join(node for node in nodes if node and "(cost=" not in node)


def naive_scan(at: datetime) -> tuple[int, int, float]:
    """What a cron-driven desk does: load every open clock and work out in Python, from its
    calendar and its policy's warning steps, whether a warning or the breach is due.
    Returns (clocks looked at, clocks due, seconds)."""
    from buttress.sla import clocks as sla_clocks
    from buttress.sla import clockwork
    from buttress.sla.models import SlaClock, SlaPolicy

    started = time.perf_counter()
    steps = {
        policy.pk: [clockwork.Step.from_config(step) for step in policy.warnings]
        for policy in SlaPolicy.objects.all()
    }
    seen = due = 0
    rows = (
        SlaClock.objects.filter(is_current=True)
        .unmet()
        .select_related("calendar")
        .iterator(chunk_size=2_000)
    )
    for row in rows:
        seen += 1
        if row.calendar is None or row.policy_id is None:
            continue
        engine = sla_clocks.calendar_engine(row.calendar)
        mine = [s for s in steps.get(row.policy_id, []) if s.applies_to(row.kind)]
        pending = row.to_clock().pending(engine, mine)
        if pending and pending[0][0] <= at:
            due += 1
    return seen, due, time.perf_counter() - started


@dataclass(frozen=True)
class Firing:
    tasks: int
    calls: int
    clock_ids: int
    tickets: int
    fired: int
    seconds: float
    total_tickets: int
    sample: bool
    sql_seconds: dict[str, float]
    sql_counts: dict[str, int]


def queued_batches() -> list[tuple[list[int], str]]:
    """The queued ``fire_clocks`` tasks, in queue order: (clock ids, claim)."""
    from django_tasks_db.models import DBTaskResult

    from buttress.sla.tasks import fire_clocks

    rows = (
        DBTaskResult.objects.filter(task_path=fire_clocks.module_path)
        .order_by("enqueued_at", "id")
        .values_list("args_kwargs", flat=True)
    )
    return [([int(pk) for pk in row["args"][0]], str(row["args"][1])) for row in rows]


def fire(limit: int, rng: random.Random) -> tuple[Firing, set[int]]:
    """Run the queued ``fire_clocks`` tasks in this process, in queue order: all of them, or
    (``limit`` tickets) each task called with only the clocks of ``limit`` tickets drawn at
    random, so that each sampled ticket costs what it costs in the full run (synced by the
    first task holding one of its clocks, skipped by the later ones). Returns the figures and
    the tickets fired at."""
    from buttress.sla.models import SlaClock
    from buttress.sla.tasks import fire_clocks

    batches = queued_batches()
    ticket_of = dict(SlaClock.objects.order_by().values_list("pk", "ticket_id"))
    tickets = sorted({ticket_of[pk] for ids, _ in batches for pk in ids})
    calls = batches
    chosen = set(tickets)
    if limit and limit < len(tickets):
        chosen = set(rng.sample(tickets, limit))
        subsets = [([pk for pk in ids if ticket_of[pk] in chosen], claim) for ids, claim in batches]
        calls = [(ids, claim) for ids, claim in subsets if ids]
    looked_at = sum(len({ticket_of[pk] for pk in ids}) for ids, _ in calls)
    fired = 0
    times = SqlTimes()
    with timing_sql(times):
        started = time.perf_counter()
        for ids, claim in calls:
            fired += fire_clocks.call(ids, claim)
        seconds = time.perf_counter() - started
    return Firing(
        tasks=len(batches),
        calls=len(calls),
        clock_ids=sum(len(ids) for ids, _ in calls),
        tickets=looked_at,
        fired=fired,
        seconds=seconds,
        total_tickets=len(tickets),
        sample=len(chosen) < len(tickets),
        sql_seconds=dict(times.seconds),
        sql_counts=dict(times.counts),
    ), chosen


def after_firing(tickets: set[int] | None) -> tuple[int, int, int]:
    """(current clocks of ``tickets``, None for all, of which breached, of which still due
    now), to show the firing did its work."""
    from buttress.lib.timeutil import now
    from buttress.sla.models import SlaClock

    clocks = SlaClock.objects.filter(is_current=True)
    if tickets is not None:
        clocks = clocks.filter(ticket_id__in=tickets)
    return (
        clocks.count(),
        clocks.filter(breached_at__isnull=False).count(),
        clocks.filter(due_at__lte=now()).count(),
    )


# -- reporting ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def print_breakdown(
    result: Sweep | Firing, *, indent: str = "  ", per: int = 0, top: int = 0
) -> None:
    """Seconds per kind of statement, the largest first (the ``top`` of them, 0 for all), and
    with ``per`` the statements and milliseconds per unit of work (a fired ticket)."""
    accounted = sum(result.sql_seconds.values())
    shown = sorted(result.sql_seconds.items(), key=lambda kv: -kv[1])
    print(f"{indent}where the time goes (client-side wall time, per kind of statement):")
    for kind, seconds in shown[: top or None]:
        count = result.sql_counts[kind]
        extra = f"  {count / per:5.1f} a fired ticket" if per else ""
        print(
            f"{indent}  {kind:<64} {seconds:6.2f} s {count:>6,} stmts"
            f" {seconds / count * 1000:7.2f} ms each {seconds / result.seconds:6.1%}{extra}"
        )
    if top and len(shown) > top:
        others = shown[top:]
        count = sum(result.sql_counts[kind] for kind, _ in others)
        seconds = sum(seconds for _, seconds in others)
        extra = f"  {count / per:5.1f} a fired ticket" if per else ""
        print(
            f"{indent}  {f'{len(others)} other kinds':<64} {seconds:6.2f} s {count:>6,} stmts"
            f" {seconds / count * 1000:7.2f} ms each {seconds / result.seconds:6.1%}{extra}"
        )
    rest = result.seconds - accounted
    what = "Python (fire_clocks, clocks.sync, ORM)" if per else "Python (tick, claim_due, ORM)"
    print(f"{indent}  {what:<64} {rest:6.2f} s {'':>28} {rest / result.seconds:6.1%}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    configure_environment(args.database_url)
    total_started = time.perf_counter()
    print(f"creating database {urlsplit(args.database_url).path.lstrip('/')} ...", flush=True)
    create_database(args.database_url)
    try:
        return run(args, total_started)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print("database kept (--keep)")
        else:
            drop_database(args.database_url)
            print("database dropped")


def run(args: argparse.Namespace, total_started: float) -> int:
    import django

    django.setup()
    from django.core.management import call_command

    from buttress.lib.timeutil import now
    from buttress.scheduler.loop import DRAIN_BUDGET_SECONDS
    from buttress.scheduler.registry import get_timer, timers

    timer = get_timer("sla.clock")
    rng = random.Random(args.seed)
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f}s", flush=True)

    seeded = seed(clocks=args.clocks, orgs=args.orgs, rng=rng)
    print(
        f"seeded in {seeded.seconds:.1f}s: {seeded.tickets:,} new tickets over "
        f"{seeded.organizations} organisations, {seeded.clocks:,} running clocks "
        "(first response + resolution each), office hours Mon-Fri 08-18 UTC, "
        f"warning at 75 %",
        flush=True,
    )
    checked = check_consistency(rng)
    print(f"clocks.sync over {checked} seeded tickets (rolled back) writes the same rows")

    idle, idle_ticks = idle_sweeps(args.idle_sweeps)
    idle_plan = claim_plan(now())
    idle_median = statistics.median(idle)
    idle_tick_median = statistics.median(idle_ticks)
    print(
        f"idle sweep, nothing due: claim_due of sla.clock median {idle_median:.2f} ms, p95 "
        f"{percentile(idle, 0.95):.2f} ms; a whole idle tick ({len(timers())} timers and the "
        f"heartbeat) median {idle_tick_median:.2f} ms, p95 {percentile(idle_ticks, 0.95):.2f} "
        f"ms; {len(idle)} of each\n  plan: {idle_plan}",
        flush=True,
    )

    due, shift_seconds = make_all_due()
    print(f"history moved back {SHIFT.days} days in {shift_seconds:.1f}s: {due:,} clocks due")
    seen, base_due, base_seconds = naive_scan(now())
    print(
        f"baseline, naive full scan: {seen:,} open clocks loaded and checked in Python, "
        f"{base_due:,} due, {base_seconds:.2f} s",
        flush=True,
    )

    result = sweep()
    if result.claimed != due or base_due != due:
        msg = f"claimed {result.claimed:,} and the scan found {base_due:,}, but {due:,} are due"
        raise RuntimeError(msg)
    claims_per_second = result.claimed / result.seconds
    ratio = base_seconds / result.seconds
    verdict = "PASS" if result.seconds < TARGET_SECONDS else "FAIL"
    claim_ms = result.claim_ms
    print(
        f"sweep, Scheduler(interval=0).tick() until nothing is due: {result.claimed:,} clocks "
        f"claimed in {result.ticks} tick(s) (drain budget {DRAIN_BUDGET_SECONDS:.0f} s a timer), "
        f"{result.batches} claim statements of up to {timer.batch:,}, in {result.seconds:.2f} s "
        f"({claims_per_second:,.0f} claims/s); claim statement median "
        f"{statistics.median(claim_ms):.0f} ms, first {claim_ms[0]:.0f} ms, "
        f"slowest {max(claim_ms):.0f} ms",
        flush=True,
    )
    print_breakdown(result)
    sweep_load = os.getloadavg()[0]

    firing, tickets = fire(args.fire, rng)
    rate = firing.fired / firing.seconds
    extrapolated = firing.total_tickets / rate
    label = (
        f"SAMPLE: the clocks of {len(tickets):,} random tickets of {firing.total_tickets:,}, "
        f"taken out of each of the {firing.tasks} queued tasks"
        if firing.sample
        else f"all {firing.tasks} queued tasks"
    )
    print(
        f"firing {label}: {firing.calls} fire_clocks.call(ids, claim) with {firing.clock_ids:,} "
        f"clock ids in {firing.seconds:.1f} s, {firing.fired:,} tickets fired, "
        f"{firing.tickets - firing.fired:,} skipped (clocks already synced by their ticket's "
        f"earlier batch): {rate:,.1f} tickets/s in one process"
    )
    if firing.sample:
        print(
            f"  EXTRAPOLATED to all {firing.total_tickets:,} tickets: {extrapolated:,.0f} s "
            "in one process"
        )
    print_breakdown(firing, per=firing.fired, top=12)
    clocks, breached, still_due = after_firing(tickets if firing.sample else None)
    print(f"  after firing: {breached:,} of their {clocks:,} clocks breached, {still_due:,} due")
    if breached != clocks or still_due:
        msg = "the firing left clocks of fired tickets unbreached or due"
        raise RuntimeError(msg)

    print()
    print(f"{'clocks (N)':<40}{args.clocks:>14,}")
    print(f"{'sweep seconds (ticks until none due)':<40}{result.seconds:>14.2f}")
    print(f"{'claims/s':<40}{claims_per_second:>14,.0f}")
    print(f"{'idle sweep ms (claim_due, median)':<40}{idle_median:>14.2f}")
    print(f"{'idle tick ms (median)':<40}{idle_tick_median:>14.2f}")
    fire_label = "firing tickets/s" + (" (sample)" if firing.sample else "")
    print(f"{fire_label:<40}{rate:>14,.1f}")
    fire_label = "firing all, s" + (" (EXTRAPOLATED)" if firing.sample else "")
    print(f"{fire_label:<40}{extrapolated if firing.sample else firing.seconds:>14,.0f}")
    print(f"{'baseline seconds (naive scan)':<40}{base_seconds:>14.2f}")
    print(f"{'ratio baseline / sweep':<40}{ratio:>13.2f}x")
    print(f"{'ratio baseline / idle sweep':<40}{base_seconds * 1000 / idle_median:>13,.0f}x")
    print(f"{'target: sweep under':<40}{TARGET_SECONDS:>12.1f} s  {verdict}")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {sweep_load:.1f} after the sweep "
        f"(other processes share the machine)"
    )
    print(f"total run {time.perf_counter() - total_started:.0f} s")

    write_results(
        args,
        {
            "clocks": args.clocks,
            "tickets": seeded.tickets,
            "orgs": args.orgs,
            "cpus": os.cpu_count(),
            "seed_seconds": seeded.seconds,
            "idle_sweep_ms": {"median": idle_median, "p95": percentile(idle, 0.95)},
            "idle_tick_ms": {"median": idle_tick_median, "p95": percentile(idle_ticks, 0.95)},
            "idle_plan": idle_plan,
            "baseline_seconds": base_seconds,
            "sweep": {
                "method": "Scheduler(interval=0).tick() until no clock is due",
                "claimed": result.claimed,
                "ticks": result.ticks,
                "claim_statements": result.batches,
                "batch": timer.batch,
                "seconds": result.seconds,
                "claims_per_second": claims_per_second,
                "claim_ms": claim_ms,
                "sql_seconds": result.sql_seconds,
                "sql_counts": result.sql_counts,
            },
            "firing": {
                "sample": firing.sample,
                "sampled_tickets": len(tickets),
                "tasks_queued": firing.tasks,
                "calls": firing.calls,
                "clock_ids": firing.clock_ids,
                "tickets_fired": firing.fired,
                "tickets_skipped": firing.tickets - firing.fired,
                "seconds": firing.seconds,
                "tickets_per_second": rate,
                "total_tickets": firing.total_tickets,
                "all_tickets_seconds": extrapolated if firing.sample else firing.seconds,
                "sql_seconds": firing.sql_seconds,
                "sql_counts": firing.sql_counts,
            },
            "load_average_after_sweep": sweep_load,
            "ratio_baseline_over_sweep": ratio,
            "target_seconds": TARGET_SECONDS,
            "verdict": verdict,
        },
    )
    return 0 if verdict == "PASS" else 1


def write_results(args: argparse.Namespace, document: dict[str, Any]) -> None:
    path = (
        args.json or ROOT / "bench" / "results" / f"sla_sweep-{time.strftime('%Y%m%d-%H%M%S')}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    print(f"results written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
