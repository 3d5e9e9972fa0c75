"""record_pings: a batch of pings means what the same pings one at a time mean."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from buttress.monitoring import services
from buttress.monitoring.ingest import PingItem, record_pings
from buttress.monitoring.models import Monitor, Ping, StateChange
from buttress.monitoring.pinging import PingRequest, PingTarget

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def _heartbeat(org, slug: str = "backup") -> Monitor:
    return services.create_monitor(org, actor=None, name=slug, kind="heartbeat", slug=slug)


def _item(monitor: Monitor, kind: str = "success", *, at: datetime = T0, **fields) -> PingItem:
    exit_status = fields.pop("exit_status", None)
    return PingItem(
        target=PingTarget(kind=kind, exit_status=exit_status, code=monitor.uuid),
        request=PingRequest(kind=kind, exit_status=exit_status, **fields),
        at=at,
    )


def test_pings_of_one_monitor_in_a_batch_apply_in_order_with_each_state_change(org):
    monitor = _heartbeat(org)
    items = [
        _item(monitor, "success", at=T0),
        _item(monitor, "fail", at=T0 + timedelta(seconds=1)),
        _item(monitor, "log", at=T0 + timedelta(seconds=2)),
        _item(monitor, "exit", exit_status=0, at=T0 + timedelta(seconds=3)),
    ]

    answers = record_pings(items)

    monitor.refresh_from_db()
    assert answers == [200, 200, 200, 200]
    assert monitor.status == "up"
    assert monitor.n_pings == 4
    assert list(Ping.objects.filter(monitor=monitor).order_by("n").values_list("n", "kind")) == [
        (1, "success"),
        (2, "fail"),
        (3, "log"),
        (4, "exit"),
    ]
    assert list(
        StateChange.objects.filter(monitor=monitor)
        .order_by("at")
        .values_list("from_status", "to_status", "at")
    ) == [
        ("unknown", "up", T0),
        ("up", "down", T0 + timedelta(seconds=1)),
        ("down", "up", T0 + timedelta(seconds=3)),
    ]
    assert monitor.heartbeat_due_at == monitor.next_transition("up")


def test_a_start_and_its_end_in_the_same_batch_pair_into_a_duration(org):
    monitor = _heartbeat(org)
    first, second = uuid.uuid4(), uuid.uuid4()

    record_pings(
        [
            _item(monitor, "start", at=T0, rid=first),
            _item(monitor, "start", at=T0 + timedelta(minutes=1), rid=second),
            _item(monitor, "success", at=T0 + timedelta(minutes=10), rid=first),
        ]
    )

    end = Ping.objects.filter(monitor=monitor).order_by("-n").first()
    assert end is not None
    assert end.duration == timedelta(minutes=10)


def test_unknown_uuid_answers_404_and_the_rest_of_the_batch_is_recorded(org):
    monitor = _heartbeat(org)
    stranger = PingItem(
        target=PingTarget(kind="success", exit_status=None, code=uuid.uuid4()),
        request=PingRequest(kind="success"),
        at=T0,
    )

    assert record_pings([stranger, _item(monitor)]) == [404, 200]
    assert Ping.objects.count() == 1


def test_slug_pings_are_found_by_key_ambiguous_ones_ignored_and_create_makes_one(org):
    _heartbeat(org, "backup")
    _heartbeat(org, "twin")
    _heartbeat(org, "twin")
    key = services.rotate_ping_key(org, actor=None)[1]

    def by_slug(slug: str, *, create: bool = False, key: str = key) -> PingItem:
        return PingItem(
            target=PingTarget(kind="success", exit_status=None, key=key, slug=slug),
            request=PingRequest(kind="success"),
            at=T0,
            create=create,
        )

    answers = record_pings(
        [
            by_slug("backup"),
            by_slug("twin"),
            by_slug("new-job", create=True),
            by_slug("new-job"),
            by_slug("backup", key="wrong"),
            by_slug("missing"),
        ]
    )

    assert answers == [200, 409, 201, 200, 404, 404]
    created = Monitor.objects.get(slug="new-job")
    assert created.n_pings == 2
    assert list(created.pings.order_by("n").values_list("n", flat=True)) == [1, 2]


def test_a_batch_passing_a_multiple_of_ten_keeps_only_the_newest_pings(org, settings):
    settings.MONITORING_PINGS_KEPT = 5
    monitor = _heartbeat(org)

    record_pings([_item(monitor, "log", at=T0 + timedelta(seconds=n)) for n in range(23)])

    assert list(monitor.pings.order_by("n").values_list("n", flat=True)) == list(range(19, 24))


def test_a_batch_costs_the_same_statements_for_one_ping_or_fifty(org):
    monitors = [_heartbeat(org, f"job-{n}") for n in range(50)]
    record_pings([_item(m) for m in monitors])  # the first success of each writes a change

    with CaptureQueriesContext(connection) as one:
        record_pings([_item(monitors[0])])
    with CaptureQueriesContext(connection) as fifty:
        record_pings([_item(m) for m in monitors])

    # SELECT ... FOR UPDATE, INSERT (or COPY), UPDATE, plus the transaction's own statements.
    assert len(fifty.captured_queries) == len(one.captured_queries)
