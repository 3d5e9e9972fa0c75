"""The monitor pages: list with filters, detail with pings and changes, pause and resume."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from buttress.monitoring import services
from buttress.monitoring.models import Monitor, MonitorStatus

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
