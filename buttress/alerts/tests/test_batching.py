"""One delivery carrying several events for the same alert: the new alerts of a delivery are
written together, and a later event in the same delivery still sees them."""

from __future__ import annotations

import pytest

from buttress.alerts.models import Alert, AlertStatus
from buttress.alerts.tests.helpers import alert, group, make_integration, post, process_pending
from buttress.desk.models import Status, Ticket

pytestmark = pytest.mark.django_db


def test_the_same_alert_twice_in_one_delivery_is_one_alert_seen_twice(org):
    _, key = make_integration(org, "alertmanager")

    post(f"/hooks/alertmanager/{key}", group(alert(), alert()))
    process_pending()

    found = Alert.objects.get()
    assert found.times_seen == 2
    assert Ticket.objects.count() == 1


def test_fire_then_resolve_in_one_delivery_resolves_the_incident(org):
    _, key = make_integration(org, "alertmanager")

    post(f"/hooks/alertmanager/{key}", group(alert(), alert(status="resolved")))
    process_pending()

    assert Alert.objects.get().status == AlertStatus.RESOLVED
    assert Ticket.objects.get().status == Status.RESOLVED


def test_many_new_alerts_of_one_delivery_are_all_stored_in_one_incident(org):
    _, key = make_integration(org, "alertmanager")

    post(f"/hooks/alertmanager/{key}", group(*(alert(instance=f"srv{n}") for n in range(30))))
    process_pending()

    assert Alert.objects.filter(incident=Ticket.objects.get()).count() == 30
