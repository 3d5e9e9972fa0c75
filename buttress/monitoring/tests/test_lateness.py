"""Heartbeat lateness, driven by the scheduler's timer on ``heartbeat_due_at``."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from buttress.lib.timeutil import now
from buttress.monitoring import services
from buttress.monitoring.models import Monitor, MonitorStatus, StateChange
from buttress.monitoring.pinging import PingRequest
from buttress.monitoring.tasks import check_heartbeat
from buttress.scheduler.claims import claim_due
from buttress.scheduler.registry import get_timer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("db_task_backend")]

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
SUCCESS = PingRequest(kind="success")
START = PingRequest(kind="start")
TIMER = "monitoring.heartbeat"


def _heartbeat(org, **fields: Any) -> Monitor:
    defaults: dict[str, Any] = {"name": "job", "period": 3600, "grace": 300}
    return services.create_monitor(org, actor=None, kind="heartbeat", **(defaults | fields))


def _ping(monitor: Monitor, request: PingRequest = SUCCESS) -> Monitor:
    services.ping_by_uuid(monitor.uuid, request)
    monitor.refresh_from_db()
    return monitor


def _changes(monitor: Monitor) -> list[tuple[str, str, datetime]]:
    return list(
        StateChange.objects.filter(monitor=monitor)
        .order_by("at", "id")
        .values_list("from_status", "to_status", "at")
    )


def _fire(monitor: Monitor) -> bool:
    """Claim the monitor as the scheduler would at the current time and run its task."""
    timer = get_timer(TIMER)
    assert claim_due(timer, at=now()) == 1
    monitor.refresh_from_db()
    claim = monitor.heartbeat_due_at
    assert claim is not None
    result = check_heartbeat.call(monitor.pk, claim.isoformat())
    monitor.refresh_from_db()
    return bool(result)


def test_a_success_sets_the_timer_for_when_the_monitor_turns_late(org, time_machine):
    time_machine.move_to(T0, tick=False)
    monitor = _ping(_heartbeat(org))

    assert monitor.status == MonitorStatus.UP
    assert monitor.heartbeat_due_at == T0 + timedelta(hours=1)


def test_nothing_is_due_before_the_period_has_passed(org, time_machine):
    time_machine.move_to(T0, tick=False)
    _ping(_heartbeat(org))
    time_machine.move_to(T0 + timedelta(minutes=59, seconds=59), tick=False)

    assert claim_due(get_timer(TIMER), at=T0 + timedelta(minutes=59, seconds=59)) == 0


def test_silent_job_goes_late_after_the_period_then_down_after_the_grace(org, time_machine):
    time_machine.move_to(T0, tick=False)
    monitor = _ping(_heartbeat(org))

    time_machine.move_to(T0 + timedelta(hours=1), tick=False)
    assert _fire(monitor)
    assert monitor.status == MonitorStatus.LATE
    assert monitor.heartbeat_due_at == T0 + timedelta(hours=1, minutes=5)

    time_machine.move_to(T0 + timedelta(hours=1, minutes=5), tick=False)
    assert _fire(monitor)
    assert monitor.status == MonitorStatus.DOWN
    assert monitor.heartbeat_due_at is None
    assert _changes(monitor) == [
        ("unknown", "up", T0),
        ("up", "late", T0 + timedelta(hours=1)),
        ("late", "down", T0 + timedelta(hours=1, minutes=5)),
    ]


def test_a_late_task_records_each_change_at_the_instant_it_happened(org, time_machine):
    time_machine.move_to(T0, tick=False)
    monitor = _ping(_heartbeat(org))

    time_machine.move_to(T0 + timedelta(hours=3), tick=False)
    assert _fire(monitor)

    assert monitor.status == MonitorStatus.DOWN
    assert _changes(monitor)[1:] == [
        ("up", "late", T0 + timedelta(hours=1)),
        ("late", "down", T0 + timedelta(hours=1, minutes=5)),
    ]


def test_a_ping_while_late_brings_it_back_up_and_resets_the_timer(org, time_machine):
    time_machine.move_to(T0, tick=False)
    monitor = _ping(_heartbeat(org))
    time_machine.move_to(T0 + timedelta(hours=1, minutes=2), tick=False)
    _fire(monitor)

    monitor = _ping(monitor)

    assert monitor.status == MonitorStatus.UP
    assert monitor.heartbeat_due_at == T0 + timedelta(hours=2, minutes=2)


def test_a_started_job_goes_down_grace_after_its_start(org, time_machine):
    time_machine.move_to(T0, tick=False)
    monitor = _ping(_heartbeat(org, period=86400, grace=600))
    time_machine.move_to(T0 + timedelta(hours=2), tick=False)
    monitor = _ping(monitor, START)
    assert monitor.heartbeat_due_at == T0 + timedelta(hours=2, minutes=10)

    time_machine.move_to(T0 + timedelta(hours=2, minutes=10), tick=False)
    assert _fire(monitor)

    assert monitor.status == MonitorStatus.DOWN
    change = StateChange.objects.filter(monitor=monitor).latest("id")
    assert (change.from_status, change.to_status) == ("up", "down")
    assert change.reason == "started job did not finish within the grace period"


def test_a_new_monitor_whose_first_run_overruns_goes_down(org, time_machine):
    time_machine.move_to(T0, tick=False)
    monitor = _ping(_heartbeat(org, grace=600), START)

    time_machine.move_to(T0 + timedelta(minutes=10), tick=False)
    assert _fire(monitor)

    assert monitor.status == MonitorStatus.DOWN


def test_a_task_runs_its_claim_exactly_once(org, time_machine):
    time_machine.move_to(T0, tick=False)
    # A grace other than the lease, so the next due time differs from the claim.
    monitor = _ping(_heartbeat(org, grace=600))
    time_machine.move_to(T0 + timedelta(hours=1), tick=False)
    claim_due(get_timer(TIMER), at=T0 + timedelta(hours=1))
    monitor.refresh_from_db()
    assert monitor.heartbeat_due_at is not None
    claim = monitor.heartbeat_due_at.isoformat()

    results = [check_heartbeat.call(monitor.pk, claim) for _ in range(3)]

    assert results == [True, False, False]
    assert len(_changes(monitor)) == 2
    # The claim is enqueued as a task row with the monitor's id and the claim.
    assert [r.args_kwargs["args"] for r in DBTaskResult.objects.all()] == [[monitor.pk, claim]]


def test_a_stale_claim_does_nothing_after_a_ping_moved_the_timer(org, time_machine):
    time_machine.move_to(T0, tick=False)
    monitor = _ping(_heartbeat(org))
    time_machine.move_to(T0 + timedelta(hours=1), tick=False)
    claim_due(get_timer(TIMER), at=T0 + timedelta(hours=1))
    monitor.refresh_from_db()
    assert monitor.heartbeat_due_at is not None
    stale = monitor.heartbeat_due_at.isoformat()
    monitor = _ping(monitor)  # the job reports before the task runs

    assert check_heartbeat.call(monitor.pk, stale) is False

    monitor.refresh_from_db()
    assert monitor.status == MonitorStatus.UP
    assert monitor.heartbeat_due_at == T0 + timedelta(hours=2)


def test_a_claim_whose_task_was_lost_fires_again_after_the_lease(org, time_machine):
    timer = get_timer(TIMER)
    time_machine.move_to(T0, tick=False)
    monitor = _ping(_heartbeat(org))
    claim_due(timer, at=T0 + timedelta(hours=1))

    assert claim_due(timer, at=T0 + timedelta(hours=1) + timer.lease - timedelta(seconds=1)) == 0
    assert claim_due(timer, at=T0 + timedelta(hours=1) + timer.lease) == 1
    monitor.refresh_from_db()


def test_paused_and_failed_monitors_have_no_timer(org, time_machine):
    time_machine.move_to(T0, tick=False)
    failed = _ping(_heartbeat(org), PingRequest(kind="fail"))
    paused = services.pause_monitor(_ping(_heartbeat(org, name="other")), actor=None)

    assert failed.status == MonitorStatus.DOWN
    assert failed.heartbeat_due_at is None
    assert paused.status == MonitorStatus.PAUSED
    assert paused.heartbeat_due_at is None


def test_cron_schedule_turns_late_at_the_next_cron_time_across_spring_forward(org, time_machine):
    # Daily at 02:30 New York time. On 8 March 2026 the clocks skip from 02:00 to 03:00, so
    # that night's run is expected when they jump: 07:00 UTC.
    jump = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    time_machine.move_to(datetime(2026, 3, 7, 7, 31, tzinfo=UTC), tick=False)
    monitor = _ping(
        _heartbeat(
            org, schedule_kind="cron", schedule="30 2 * * *", tz="America/New_York", grace=900
        )
    )
    assert monitor.heartbeat_due_at == jump

    time_machine.move_to(jump, tick=False)
    assert _fire(monitor)
    assert monitor.status == MonitorStatus.LATE
    assert monitor.heartbeat_due_at == jump + timedelta(minutes=15)


def test_cron_schedule_after_fall_back_expects_the_first_pass_only(org, time_machine):
    # Daily at 01:30 New York time; on 1 November 2026 01:30 happens at 05:30 and 06:30 UTC.
    time_machine.move_to(datetime(2026, 11, 1, 5, 31, tzinfo=UTC), tick=False)
    monitor = _ping(
        _heartbeat(
            org, schedule_kind="cron", schedule="30 1 * * *", tz="America/New_York", grace=900
        )
    )

    assert monitor.heartbeat_due_at == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


def test_changing_the_schedule_moves_the_timer(org, time_machine):
    time_machine.move_to(T0, tick=False)
    monitor = _ping(_heartbeat(org))

    monitor = services.update_monitor(monitor, actor=None, period=7200)

    assert monitor.heartbeat_due_at == T0 + timedelta(hours=2)


def test_resume_starts_again_from_unknown(org, time_machine):
    time_machine.move_to(T0, tick=False)
    monitor = services.pause_monitor(_ping(_heartbeat(org)), actor=None)

    monitor = services.resume_monitor(monitor, actor=None)

    assert monitor.status == MonitorStatus.UNKNOWN
    assert monitor.heartbeat_due_at is None
    assert [c[:2] for c in _changes(monitor)] == [
        ("unknown", "up"),
        ("up", "paused"),
        ("paused", "unknown"),
    ]
