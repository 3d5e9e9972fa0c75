"""Rollups per minute, hour and day against a brute-force oracle, late results, and pruning."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from buttress.monitoring import checking, rollups, services, summary
from buttress.monitoring.models import (
    CheckResult,
    LatencyRollup,
    LateResult,
    Monitor,
    Upkeep,
)
from buttress.monitoring.states import State

STEP = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


def oracle_percentile(values: list[float], percent: int) -> float | None:
    """The smallest measured value with at least ``percent`` % of the values at or below it."""
    for candidate in sorted(set(values)):
        if sum(1 for v in values if v <= candidate) * 100 >= percent * len(values):
            return candidate
    return None


def oracle_bucket(start: datetime, level: str) -> datetime:
    """The bucket by counting whole steps from the epoch, not by truncating fields."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + STEP[level] * ((start - epoch) // STEP[level])


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=60))
def test_nearest_rank_is_the_smallest_value_with_enough_values_below(values: list[float]):
    ordered = sorted(values)

    for percent in (1, 50, 95, 99, 100):
        assert summary.nearest_rank(ordered, percent) == oracle_percentile(values, percent)


def test_a_bucket_without_latencies_has_counts_but_no_percentiles():
    found = summary.summarize([("down", None), ("unknown", None), ("up", None)])

    assert (found.count, found.failures, found.unknowns) == (3, 1, 1)
    assert found.p50 is found.p95 is found.max is None


# --- the job, with the database --------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


@pytest.fixture(autouse=True)
def upkeep(request: pytest.FixtureRequest) -> None:
    if "django_db" in request.keywords:
        rollups.ensure_upkeep()


def run_job(name: str, at: datetime, budget: float = rollups.BUDGET_SECONDS) -> str:
    job = Upkeep.objects.get(name=name)
    Upkeep.objects.filter(pk=job.pk).update(due_at=at)
    with time_machine.travel(at, tick=False):
        return rollups.run(job.pk, claim=at, at=at, budget=budget)


def seed(org, monitors: list[Monitor], start: datetime, end: datetime, rng: random.Random):
    rows = []
    for monitor in monitors:
        at = start + timedelta(seconds=rng.uniform(0, 20))
        while at < end:
            status = rng.choices(["up", "down", "unknown"], weights=[85, 10, 5])[0]
            latency = None if rng.random() < 0.07 else round(rng.lognormvariate(3.5, 0.8), 3)
            rows.append(
                CheckResult(
                    organization=org,
                    monitor=monitor,
                    at=at,
                    status=status,
                    latency_ms=latency,
                    message="",
                )
            )
            at += timedelta(seconds=rng.uniform(5, 40))
    CheckResult.objects.bulk_create(rows)


def expected_rollups(
    level: str, before: datetime | None
) -> dict[tuple[int, datetime], tuple[Any, ...]]:
    assert before is not None
    groups: dict[tuple[int, datetime], list[tuple[str, float | None]]] = defaultdict(list)
    for monitor_id, at, status, latency in CheckResult.objects.values_list(
        "monitor_id", "at", "status", "latency_ms"
    ):
        bucket = oracle_bucket(at, level)
        if bucket + STEP[level] <= before:
            groups[monitor_id, bucket].append((status, latency))
    expected = {}
    for key, results in groups.items():
        latencies = [latency for _status, latency in results if latency is not None]
        expected[key] = (
            len(results),
            sum(1 for status, _latency in results if status == "down"),
            sum(1 for status, _latency in results if status == "unknown"),
            oracle_percentile(latencies, 50),
            oracle_percentile(latencies, 95),
            max(latencies) if latencies else None,
        )
    return expected


def stored_rollups(level: str) -> dict[tuple[int, datetime], tuple[Any, ...]]:
    return {
        (r.monitor_id, r.start): (r.count, r.failures, r.unknowns, r.p50_ms, r.p95_ms, r.max_ms)
        for r in LatencyRollup.objects.filter(level=level)
    }


def http_monitors(org, count: int) -> list[Monitor]:
    return [
        services.create_monitor(
            org, actor=None, name=f"site {i}", kind="http", config={"url": "https://example.com/"}
        )
        for i in range(count)
    ]


@pytestmark_db
def test_rollups_of_every_level_match_the_brute_force_oracle(org):
    monitors = http_monitors(org, 3)
    start = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
    seed(org, monitors, start, datetime(2026, 3, 2, 1, 30, tzinfo=UTC), random.Random(4))

    run_job("rollup", datetime(2026, 3, 2, 1, 40, 30, tzinfo=UTC))

    job = Upkeep.objects.get(name="rollup")
    assert job.minute_done == datetime(2026, 3, 2, 1, 37, tzinfo=UTC)
    assert job.hour_done == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    assert job.day_done == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    for level, mark in (
        ("minute", job.minute_done),
        ("hour", job.hour_done),
        ("day", job.day_done),
    ):
        expected = expected_rollups(level, mark)
        assert expected  # the data spans buckets of every level
        assert stored_rollups(level) == expected


@pytestmark_db
def test_a_result_written_after_its_minute_was_rolled_up_is_counted_again(org):
    (monitor,) = http_monitors(org, 1)
    seed(
        org,
        [monitor],
        datetime(2026, 3, 1, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 0, 30, tzinfo=UTC),
        random.Random(7),
    )
    run_job("rollup", datetime(2026, 3, 2, 0, 40, tzinfo=UTC))
    Monitor.objects.filter(pk=monitor.pk).update(lease_owner="runner-a")
    late_at = datetime(2026, 3, 1, 23, 30, 10, tzinfo=UTC)
    result = checking.Result(monitor.pk, org.pk, late_at, "down", 99999.0, "slow")
    progress = checking.Progress(monitor.pk, State(status="up"), late_at, late_at)

    with time_machine.travel(datetime(2026, 3, 2, 0, 41, tzinfo=UTC), tick=False):
        checking.save_results("runner-a", [result], [progress])
    assert LateResult.objects.count() == 1
    run_job("rollup", datetime(2026, 3, 2, 0, 42, tzinfo=UTC))

    assert not LateResult.objects.exists()
    job = Upkeep.objects.get(name="rollup")
    for level, mark in (
        ("minute", job.minute_done),
        ("hour", job.hour_done),
        ("day", job.day_done),
    ):
        assert stored_rollups(level) == expected_rollups(level, mark)
    minute = LatencyRollup.objects.get(
        level="minute", start=datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    )
    assert minute.max_ms == 99999.0
    day = LatencyRollup.objects.get(level="day", start=datetime(2026, 3, 1, tzinfo=UTC))
    assert day.max_ms == 99999.0


@pytestmark_db
def test_a_result_in_time_for_its_minute_is_not_noted_late(org):
    (monitor,) = http_monitors(org, 1)
    run_job("rollup", datetime(2026, 3, 2, 0, 40, tzinfo=UTC))
    Monitor.objects.filter(pk=monitor.pk).update(lease_owner="runner-a")
    at = datetime(2026, 3, 2, 0, 38, tzinfo=UTC)  # after the seal at 00:37
    result = checking.Result(monitor.pk, org.pk, at, "up", 12.0, "ok")

    checking.save_results("runner-a", [result], [])

    assert not LateResult.objects.exists()


@pytestmark_db
def test_a_stale_delivery_does_nothing(org):
    job = Upkeep.objects.get(name="rollup")
    at = datetime(2026, 3, 2, tzinfo=UTC)
    Upkeep.objects.filter(pk=job.pk).update(due_at=at + timedelta(minutes=15))

    assert rollups.run(job.pk, claim=at, at=at) == "stale"
    assert Upkeep.objects.get(pk=job.pk).minute_done is None


@pytestmark_db
def test_a_backlog_drains_over_several_runs_that_come_due_at_once(org):
    monitors = http_monitors(org, 2)
    seed(
        org,
        monitors,
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 5, 0, tzinfo=UTC),
        random.Random(1),
    )
    at = datetime(2026, 3, 1, 5, 30, tzinfo=UTC)
    job = Upkeep.objects.get(name="rollup")
    Upkeep.objects.filter(pk=job.pk).update(due_at=at)

    with time_machine.travel(at, tick=False):
        rollups.run(job.pk, claim=at, at=at, budget=0)
    first = Upkeep.objects.get(pk=job.pk)
    assert first.due_at == at  # more to do: due again at once
    assert first.minute_done is not None
    assert first.sealed_until is not None
    assert first.minute_done < first.sealed_until
    for _ in range(20):
        if Upkeep.objects.get(pk=job.pk).day_done == datetime(2026, 3, 1, tzinfo=UTC):
            current = Upkeep.objects.get(pk=job.pk)
            if current.minute_done == current.sealed_until:
                break
        run_job("rollup", at)
    job = Upkeep.objects.get(pk=job.pk)
    assert job.minute_done == job.sealed_until
    assert job.due_at == at + rollups.EVERY
    assert stored_rollups("hour") == expected_rollups("hour", job.hour_done)
    assert stored_rollups("minute") == expected_rollups("minute", job.minute_done)


@pytestmark_db
def test_a_big_bucket_is_computed_a_chunk_of_monitors_per_run(org, monkeypatch):
    monkeypatch.setattr(rollups, "MONITOR_CHUNK", 1)
    monitors = http_monitors(org, 3)
    seed(
        org,
        monitors,
        datetime(2026, 3, 1, 22, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 0, 10, tzinfo=UTC),
        random.Random(3),
    )
    at = datetime(2026, 3, 2, 0, 20, tzinfo=UTC)
    resumed_after = set()

    for _ in range(40):
        run_job("rollup", at, budget=0)
        job = Upkeep.objects.get(name="rollup")
        resumed_after |= {job.hour_after, job.day_after}
        if job.day_done == datetime(2026, 3, 2, tzinfo=UTC) and job.minute_done == job.sealed_until:
            break

    assert job.day_done == datetime(2026, 3, 2, tzinfo=UTC)
    assert {m.pk for m in monitors[:2]} <= resumed_after  # stopped between monitors
    for level, mark in (
        ("minute", job.minute_done),
        ("hour", job.hour_done),
        ("day", job.day_done),
    ):
        assert stored_rollups(level) == expected_rollups(level, mark)


# --- pruning ---------------------------------------------------------------------------------


@pytestmark_db
def test_pruning_deletes_every_old_result_in_batches_and_keeps_the_window(
    org, settings, monkeypatch
):
    settings.MONITORING_RESULTS_DAYS = 2
    monkeypatch.setattr(rollups, "PRUNE_BATCH", 7)
    (monitor,) = http_monitors(org, 1)
    at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    old = [at - timedelta(days=3, seconds=10 * i) for i in range(40)]
    recent = [at - timedelta(days=1, seconds=10 * i) for i in range(5)]
    CheckResult.objects.bulk_create(
        CheckResult(organization=org, monitor=monitor, at=t, status="up", latency_ms=1.0)
        for t in old + recent
    )
    Upkeep.objects.filter(name="rollup").update(day_done=datetime(2026, 3, 10, tzinfo=UTC))

    done = run_job("prune", at)

    assert "40 results" in done
    assert sorted(CheckResult.objects.values_list("at", flat=True)) == sorted(recent)
    assert Upkeep.objects.get(name="prune").due_at == at + rollups.EVERY


@pytestmark_db
def test_pruning_keeps_results_not_yet_rolled_up_into_their_day(org, settings):
    settings.MONITORING_RESULTS_DAYS = 1
    (monitor,) = http_monitors(org, 1)
    at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    for days in (5, 3):
        CheckResult.objects.create(
            organization=org, monitor=monitor, at=at - timedelta(days=days), status="up"
        )
    # Days are rolled up to 7 March: the result of the 7th is still needed.
    Upkeep.objects.filter(name="rollup").update(day_done=datetime(2026, 3, 7, tzinfo=UTC))

    run_job("prune", at)

    assert list(CheckResult.objects.values_list("at", flat=True)) == [at - timedelta(days=3)]


@pytestmark_db
def test_pruning_keeps_each_level_of_rollups_for_its_own_retention(org, settings):
    settings.MONITORING_ROLLUP_MINUTE_DAYS = 3
    settings.MONITORING_ROLLUP_HOUR_DAYS = 60
    settings.MONITORING_ROLLUP_DAY_DAYS = 0
    (monitor,) = http_monitors(org, 1)
    at = datetime(2026, 6, 1, tzinfo=UTC)
    for level in ("minute", "hour", "day"):
        for age in (1, 10, 100, 1000):
            LatencyRollup.objects.create(
                organization=org,
                monitor=monitor,
                level=level,
                start=at - timedelta(days=age),
                count=1,
                failures=0,
            )

    run_job("prune", at)

    kept = defaultdict(list)
    for level, start in LatencyRollup.objects.values_list("level", "start"):
        kept[level].append((at - start).days)
    assert sorted(kept["minute"]) == [1]
    assert sorted(kept["hour"]) == [1, 10]
    assert sorted(kept["day"]) == [1, 10, 100, 1000]


@pytestmark_db
def test_the_upkeep_timer_is_registered_for_the_scheduler_and_its_rows_made_once():
    from buttress.scheduler.registry import get_timer

    timer = get_timer("monitoring.upkeep")

    rollups.ensure_upkeep()

    assert timer.model is Upkeep
    assert sorted(Upkeep.objects.values_list("name", flat=True)) == ["prune", "rollup"]
