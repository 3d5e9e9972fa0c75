"""The monitor pages: list with filters and sparklines, detail with latency, results, incidents,
pings and changes, pause and resume."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from buttress.lib.timeutil import now
from buttress.monitoring import services, summary
from buttress.monitoring.models import (
    CheckResult,
    LatencyRollup,
    Monitor,
    MonitorIncident,
    MonitorStatus,
)
from buttress.testing.factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heartbeat(org, admin_user):
    return services.create_monitor(
        org, actor=admin_user, name="Nightly backup", kind="heartbeat", period=86400, grace=3600
    )


def test_list_shows_monitors_and_filters_by_status(client: Client, agent, heartbeat, org):
    Monitor.objects.create(organization=org, name="Web site", kind="http", status="down")
    client.force_login(agent)

    everything = client.get(reverse("monitoring:list")).text
    down = client.get(reverse("monitoring:list"), {"status": "down"}).text

    assert "Nightly backup" in everything
    assert "Web site" in everything
    assert "Web site" in down
    assert "Nightly backup" not in down


def test_detail_shows_the_ping_url_and_pings(client: Client, agent, heartbeat):
    client.get(f"/ping/{heartbeat.uuid}")
    client.force_login(agent)

    page = client.get(reverse("monitoring:detail", args=[heartbeat.pk])).text

    assert f"/ping/{heartbeat.uuid}" in page
    assert "Recent pings" in page
    assert "Up" in page


def test_pause_and_resume(client: Client, admin_user, heartbeat, viewer):
    client.force_login(admin_user)

    client.post(reverse("monitoring:pause", args=[heartbeat.pk]))
    heartbeat.refresh_from_db()
    assert heartbeat.status == MonitorStatus.PAUSED
    client.post(reverse("monitoring:pause", args=[heartbeat.pk]), {"resume": "1"})
    heartbeat.refresh_from_db()
    assert not heartbeat.is_paused

    client.force_login(viewer)
    assert client.post(reverse("monitoring:pause", args=[heartbeat.pk])).status_code == 403


def _hourly_rollups(monitor: Monitor, at, hours: int = 24) -> None:
    end = summary.floor("hour", at)
    LatencyRollup.objects.bulk_create(
        LatencyRollup(
            organization=monitor.organization,
            monitor=monitor,
            level="hour",
            start=end - timedelta(hours=h),
            count=360,
            failures=0,
            p50_ms=10.0 + h,
            p95_ms=30.0 + h,
            max_ms=90.0 + h,
        )
        for h in range(1, hours + 1)
    )


def _list_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("monitoring:list")).status_code == 200
    return len(queries)


def test_list_shows_latency_sparklines_in_a_constant_number_of_queries(client: Client, agent, org):
    client.force_login(agent)

    def add(count: int) -> None:
        for _ in range(count):
            monitor = Monitor.objects.create(
                organization=org, name=f"m{Monitor.objects.count():03}", kind="http"
            )
            _hourly_rollups(monitor, now())

    add(2)
    _list_queries(client)  # the first request also loads the session and caches
    few = _list_queries(client)
    add(20)
    many = _list_queries(client)
    page = client.get(reverse("monitoring:list")).text

    assert many == few
    assert page.count('class="sparkline"') == 22
    # The newest hour's median is shown beside each line.
    assert page.count(">11 ms</span>") == 22


def test_the_list_across_organisations_pages_along_an_index(client: Client, admin_user, org):
    Monitor.objects.create(organization=org, name="first", kind="http")
    client.force_login(admin_user)
    _list_queries(client)
    one = _list_queries(client)
    Monitor.objects.bulk_create(
        Monitor(organization=org, name=f"monitor {i:05}", kind="http") for i in range(10_000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    ten_thousand = _list_queries(client)
    page = client.get(reverse("monitoring:list")).text
    plan = str(Monitor.objects.order_by("name", "id")[:51].explain())

    assert ten_thousand == one
    assert "first" in page
    assert "monitor 00048" in page
    assert "monitor 00049" not in page  # 50 a page
    assert "monitor_name_idx" in plan
    assert "TEMP B-TREE" not in plan.upper()  # SQLite: no sort of the table
    assert "Sort" not in plan.split("\n", maxsplit=1)[0]  # PostgreSQL: likewise


def test_detail_shows_the_latency_chart_results_and_incidents(client: Client, agent, org):
    monitor = services.create_monitor(
        org, actor=None, name="site", kind="http", config={"url": "https://example.com/"}
    )
    at = now()
    _hourly_rollups(monitor, at, hours=48)
    CheckResult.objects.create(
        organization=org, monitor=monitor, at=at, status="down", message="HTTP 503 from upstream"
    )
    ticket = TicketFactory.create(organization=org, subject="Monitor site is down")
    MonitorIncident.objects.create(organization=org, monitor=monitor, ticket=ticket, opened_at=at)
    client.force_login(agent)

    week = client.get(reverse("monitoring:detail", args=[monitor.pk]), {"latency": "7d"}).text
    day = client.get(reverse("monitoring:detail", args=[monitor.pk])).text

    assert 'class="latency-chart"' in week
    assert 'class="latency-p95"' in week
    assert "17280 checks" in week  # 48 hours of 360
    assert "No latency rolled up for this period yet" in day  # no minute rollups
    assert "HTTP 503 from upstream" in week
    assert reverse("desk:detail", args=[ticket.pk]) in week
    assert "Monitor site is down" in week
