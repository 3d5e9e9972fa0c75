"""Latency and success rolled up per minute, hour and day, and the retention of all results.

Two scheduler-driven jobs (rows of :class:`~buttress.monitoring.models.Upkeep`, timer
``monitoring.upkeep``) do the work, so that however many runners write results, each bucket is
computed by one job at a time and no runner spends its database thread on it:

``rollup`` (every minute)
    Seals the minutes that ended ``SETTLE`` ago (no check runs that long, so their results are
    written), then computes every sealed minute, every hour whose minutes are done and every
    day whose hours are done, each from the raw results of the bucket (so every percentile is
    a real percentile of the bucket's results), and upserts them: computing a bucket twice
    gives the same row.

``prune`` (every minute)
    Deletes raw results older than ``MONITORING_RESULTS_DAYS`` (never before their day is
    rolled up) and rollups past their level's retention, in batches of ``PRUNE_BATCH`` rows
    along the time index, each batch its own short transaction, until none is left.

A result written after its minute was sealed (a runner whose writes stalled for minutes) is
noted by :func:`note_late`, called in the transaction that writes it; the next rollup computes
its buckets again. The runner reads the seal with a share lock after writing and the job
moves the seal under the row's update lock before it reads any result, so each result is
either seen by the job's reads or noted as late: never neither.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet

from buttress.lib.timeutil import now
from buttress.monitoring import summary
from buttress.monitoring.models import (
    CheckResult,
    LatencyRollup,
    LateResult,
    Monitor,
    RollupLevel,
    Upkeep,
)

logger = logging.getLogger(__name__)

ROLLUP = "rollup"
PRUNE = "prune"
# A check lasts at most its time-out (120 s) plus the runner's safety margin (5 s), and is
# written within a flush of ending: a minute's results are all in three minutes after it ends.
SETTLE = timedelta(minutes=3)
EVERY = timedelta(minutes=1)
# One run's work stops after this long and the job comes due again at once: a backlog (the
# scheduler was down for a day) drains over several runs, each well inside the timer's lease.
BUDGET_SECONDS = 120.0
LEASE = timedelta(minutes=15)
MONITOR_CHUNK = 1000
PRUNE_BATCH = 10_000
LATE_BATCH = 10_000
# Minutes computed in one pass over the raw results.
MINUTE_STEP = timedelta(hours=1)


def results_days() -> int:
    return max(int(getattr(settings, "MONITORING_RESULTS_DAYS", 7)), 1)


def retention(level: str) -> timedelta | None:
    """How long rollups of ``level`` are kept; None: for ever."""
    days = {
        RollupLevel.MINUTE: (int(getattr(settings, "MONITORING_ROLLUP_MINUTE_DAYS", 3)), 1),
        RollupLevel.HOUR: (int(getattr(settings, "MONITORING_ROLLUP_HOUR_DAYS", 400)), 31),
        RollupLevel.DAY: (int(getattr(settings, "MONITORING_ROLLUP_DAY_DAYS", 0)), 1),
    }
    configured, least = days[RollupLevel(level)]
    if configured <= 0:
        return None
    return timedelta(days=max(configured, least))


# --- computing buckets -----------------------------------------------------------------------


def _monitor_chunks(monitor_ids: Sequence[int] | None, *, after: int = 0) -> Iterator[list[int]]:
    if monitor_ids is not None:
        ids = sorted({pk for pk in monitor_ids if pk > after})
        for i in range(0, len(ids), MONITOR_CHUNK):
            yield ids[i : i + MONITOR_CHUNK]
        return
    last = after
    while True:
        chunk = list(
            Monitor.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:MONITOR_CHUNK]
        )
        if not chunk:
            return
        yield chunk
        last = chunk[-1]


type Row = tuple[int, int, datetime, summary.Summary]

# One statement on PostgreSQL: percentile_disc is the same nearest-rank percentile as
# summary.nearest_rank, and like it ignores results without a latency.
_SQL = """
SELECT monitor_id, MIN(organization_id), date_bin(%s, at, %s) AS bucket, COUNT(*),
       COUNT(*) FILTER (WHERE status = 'down'), COUNT(*) FILTER (WHERE status = 'unknown'),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms),
       percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms), MAX(latency_ms)
FROM {table} WHERE monitor_id = ANY(%s) AND at >= %s AND at < %s
GROUP BY monitor_id, bucket
"""
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _summaries_sql(level: str, start: datetime, end: datetime, chunk: list[int]) -> list[Row]:
    sql = _SQL.format(table=CheckResult._meta.db_table)
    with connection.cursor() as cursor:
        params: list[Any] = [summary.LEVELS[level], _EPOCH, chunk, start, end]
        cursor.execute(sql, params)
        return [
            (m, o, bucket, summary.Summary(count, down, unknown, p50, p95, top))
            for m, o, bucket, count, down, unknown, p50, p95, top in cursor.fetchall()
        ]


def _summaries_python(level: str, start: datetime, end: datetime, chunk: list[int]) -> list[Row]:
    rows = (
        CheckResult.objects.filter(monitor_id__in=chunk, at__gte=start, at__lt=end)
        .order_by("monitor_id", "at")
        .values_list("monitor_id", "organization_id", "at", "status", "latency_ms")
    )
    groups: dict[tuple[int, datetime], list[tuple[str, float | None]]] = defaultdict(list)
    organizations: dict[int, int] = {}
    for monitor_id, organization_id, at, status, latency in rows.iterator(chunk_size=5000):
        organizations[monitor_id] = organization_id
        groups[monitor_id, summary.floor(level, at)].append((status, latency))
    return [
        (monitor_id, organizations[monitor_id], bucket, summary.summarize(results))
        for (monitor_id, bucket), results in groups.items()
    ]


def _store(level: str, rows: list[Row]) -> int:
    LatencyRollup.objects.bulk_create(
        [
            LatencyRollup(
                organization_id=organization_id,
                monitor_id=monitor_id,
                level=level,
                start=bucket,
                count=found.count,
                failures=found.failures,
                unknowns=found.unknowns,
                p50_ms=found.p50,
                p95_ms=found.p95,
                max_ms=found.max,
            )
            for monitor_id, organization_id, bucket, found in rows
        ],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["monitor", "level", "start"],
        update_fields=["count", "failures", "unknowns", "p50_ms", "p95_ms", "max_ms"],
    )
    return len(rows)


def compute(
    level: str,
    start: datetime,
    end: datetime,
    *,
    monitor_ids: Sequence[int] | None = None,
    after: int = 0,
    stop: Callable[[], bool] | None = None,
) -> tuple[int, int | None]:
    """Compute the ``level`` buckets in ``[start, end)`` (bucket-aligned) of ``monitor_ids``
    (default: every monitor) whose id is above ``after``, from the raw results, and store them.

    Works a chunk of monitors at a time, along the results' (monitor, time) index. Returns the
    rows written and, when ``stop()`` said to stop between two chunks, the id of the last
    monitor done (None: all done).
    """
    summaries = _summaries_sql if connection.vendor == "postgresql" else _summaries_python
    written = 0
    for chunk in _monitor_chunks(monitor_ids, after=after):
        written += _store(level, summaries(level, start, end, chunk))
        if stop is not None and stop():
            return written, chunk[-1]
    return written, None


# --- late results ----------------------------------------------------------------------------


def _sealed_until() -> datetime | None:
    if connection.vendor == "postgresql":
        # A share lock: runners do not wait on each other, only on the job moving the seal.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT sealed_until FROM {Upkeep._meta.db_table} "  # noqa: S608
                "WHERE name = %s FOR SHARE",
                [ROLLUP],
            )
            row = cursor.fetchone()
        return row[0] if row else None
    # SQLite writes one transaction at a time: the caller's, which has written already.
    return Upkeep.objects.filter(name=ROLLUP).values_list("sealed_until", flat=True).first()


def note_late(results: Sequence[tuple[int, datetime]]) -> int:
    """Note the results, as (monitor id, instant) pairs, whose minute is already sealed, so
    their buckets are computed again.

    Call inside the transaction that wrote ``results``, after writing them. Returns how many
    were late.
    """
    if not results:
        return 0
    sealed = _sealed_until()
    if sealed is None:
        return 0
    late = [LateResult(monitor_id=monitor_id, at=at) for monitor_id, at in results if at < sealed]
    LateResult.objects.bulk_create(late)
    return len(late)


# --- the jobs --------------------------------------------------------------------------------


class Superseded(Exception):
    """The job's claim was taken over (its lease ran out): another run carries on."""


@dataclass
class _Run:
    upkeep_id: int
    claim: datetime
    deadline: float

    def over_budget(self) -> bool:
        return time.monotonic() > self.deadline

    def advance(self, **marks: datetime | int) -> None:
        """Record progress, only while the run still holds its claim."""
        updated = Upkeep.objects.filter(pk=self.upkeep_id, due_at=self.claim).update(**marks)
        if not updated:
            raise Superseded


def ensure_upkeep() -> list[Upkeep]:
    """The job rows, created due at once when missing; every runner calls this as it starts
    (only runners write results)."""
    return [
        Upkeep.objects.get_or_create(name=name, defaults={"due_at": now()})[0]
        for name in (ROLLUP, PRUNE)
    ]


def run(upkeep_id: int, *, claim: datetime, at: datetime, budget: float = BUDGET_SECONDS) -> str:
    """Run the job of row ``upkeep_id`` if it still carries the scheduler's ``claim``.

    Only the claim check and the seal happen under the row's lock; the work is done in short
    transactions after it, each step recorded only while the claim is still the row's.
    Returns what was done, for the row's ``last_result``.
    """
    with transaction.atomic():
        job = Upkeep.objects.select_for_update().filter(pk=upkeep_id).first()
        if job is None or job.due_at != claim:
            return "stale"
        job.last_started_at = at
        if job.name == ROLLUP:
            sealed = summary.floor("minute", at - SETTLE)
            job.sealed_until = max(job.sealed_until or sealed, sealed)
        job.save(update_fields=["last_started_at", "sealed_until"])
    state = _Run(upkeep_id, claim, time.monotonic() + budget)
    try:
        done, more = roll_up(job, state) if job.name == ROLLUP else prune(at=at, state=state)
    except Superseded:
        return "superseded"
    finished = now()
    Upkeep.objects.filter(pk=upkeep_id, due_at=claim).update(
        due_at=finished if more else at + EVERY,
        last_finished_at=finished,
        last_result=done[:300],
    )
    logger.info("monitoring %s: %s", job.name, done)
    return done


def _first_minute() -> datetime | None:
    first = CheckResult.objects.order_by("at").values_list("at", flat=True).first()
    return summary.floor("minute", first) if first is not None else None


def roll_up(job: Upkeep, state: _Run) -> tuple[str, bool]:
    """Compute what is late, then what is sealed: minutes, then hours, then days."""
    assert job.sealed_until is not None
    late = _recompute_late(job)
    if job.minute_done is None or job.hour_done is None or job.day_done is None:
        # The first run starts at the oldest result (or, with none yet, at the seal).
        start = _first_minute() or job.sealed_until
        job.minute_done = start
        job.hour_done = summary.floor("hour", start)
        job.day_done = summary.floor("day", start)
        state.advance(minute_done=start, hour_done=job.hour_done, day_done=job.day_done)
    counts = {"minute": 0, "hour": 0, "day": 0}
    more = False
    # Each step is recorded as it is done and the budget looked at after it, so every run
    # makes progress, however small its budget.
    while job.minute_done < job.sealed_until and not more:
        end = min(job.minute_done + MINUTE_STEP, job.sealed_until)
        counts["minute"] += compute("minute", job.minute_done, end)[0]
        job.minute_done = end
        state.advance(minute_done=end)
        more = state.over_budget()
    for level in ("hour", "day"):
        # Hours once their minutes are done, days once their hours are.
        below = job.minute_done if level == "hour" else job.hour_done
        step = summary.LEVELS[level]
        done_field, after_field = f"{level}_done", f"{level}_after"
        while getattr(job, done_field) + step <= below and not more:
            bucket = getattr(job, done_field)
            written, last = compute(
                level,
                bucket,
                bucket + step,
                after=getattr(job, after_field),
                stop=state.over_budget,
            )
            counts[level] += written
            if last is not None:
                setattr(job, after_field, last)
                state.advance(**{after_field: last})
                more = True
                break
            setattr(job, done_field, bucket + step)
            setattr(job, after_field, 0)
            state.advance(**{done_field: bucket + step, after_field: 0})
            more = state.over_budget()
    text = (
        f"{late} late results; {counts['minute']} minute, {counts['hour']} hour and "
        f"{counts['day']} day rollups; done to {job.minute_done:%Y-%m-%d %H:%M}"
    )
    return text, more


def _recompute_late(job: Upkeep) -> int:
    """Compute again the buckets of results written after they were rolled up."""
    late = list(
        LateResult.objects.order_by("pk").values_list("pk", "monitor_id", "at")[:LATE_BATCH]
    )
    if not late:
        return 0
    horizon = now() - timedelta(days=results_days())
    buckets: dict[tuple[str, datetime], set[int]] = defaultdict(set)
    for _pk, monitor_id, at in late:
        if at < horizon:
            # Its neighbours are being pruned: recomputing would count fewer than there were.
            continue
        for level, done in (
            ("minute", job.minute_done),
            ("hour", job.hour_done),
            ("day", job.day_done),
        ):
            if done is not None and at < done:
                buckets[level, summary.floor(level, at)].add(monitor_id)
    for (level, start), monitor_ids in sorted(buckets.items()):
        compute(level, start, start + summary.LEVELS[level], monitor_ids=sorted(monitor_ids))
    LateResult.objects.filter(pk__in=[pk for pk, _m, _a in late]).delete()
    return len(late)


def prune(*, at: datetime, state: _Run) -> tuple[str, bool]:
    """Delete raw results and rollups past their retention, a batch at a time until done."""
    day_done = Upkeep.objects.filter(name=ROLLUP).values_list("day_done", flat=True).first()
    deleted: dict[str, int] = {}
    more = False
    cutoff = at - timedelta(days=results_days())
    if day_done is not None:
        # A result still to be rolled up into its day is kept, whatever its age.
        cutoff = min(cutoff, day_done)
        count, more = _prune_results(cutoff, state)
        deleted["results"] = count
        LateResult.objects.filter(at__lt=cutoff).delete()
    for level in RollupLevel.values:
        keep = retention(level)
        if keep is None or more:
            continue
        count, more = _prune_rollups(level, at - keep, state)
        deleted[f"{level} rollups"] = count
    text = ", ".join(f"{count} {what}" for what, count in deleted.items()) or "nothing to do"
    return f"deleted {text}", more


def _prune_results(cutoff: datetime, state: _Run) -> tuple[int, bool]:
    # Along the time index, oldest first.
    return _prune_batches(CheckResult.objects.filter(at__lt=cutoff), "at", state)


def _prune_rollups(level: str, cutoff: datetime, state: _Run) -> tuple[int, bool]:
    rows = LatencyRollup.objects.filter(level=level, start__lt=cutoff)
    return _prune_batches(rows, "start", state)


def _prune_batches(
    rows: QuerySet[CheckResult] | QuerySet[LatencyRollup], order: str, state: _Run
) -> tuple[int, bool]:
    """Delete ``rows`` a batch at a time in ``order``, each batch its own short transaction;
    how many went, and whether some are left because the run's time is up."""
    deleted = 0
    while True:
        ids = list(rows.order_by(order).values_list("pk", flat=True)[:PRUNE_BATCH])
        if ids:
            deleted += rows.model.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < PRUNE_BATCH:
            return deleted, False
        if state.over_budget():
            return deleted, True
