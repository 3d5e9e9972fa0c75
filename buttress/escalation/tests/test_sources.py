"""Incidents opened by alerts and by monitors page under the organisation's default policy."""

from __future__ import annotations

import pytest

from buttress.alerts.tests.helpers import alert, group, make_integration, post, process_pending
from buttress.desk.models import Ticket
from buttress.escalation import services
from buttress.escalation.models import Escalation, EscalationState
from buttress.escalation.services import StepSpec
from buttress.escalation.tests.helpers import policy, staff
from buttress.monitoring.tests.test_checking import apply, held_monitor

pytestmark = pytest.mark.django_db


def _default(org):
    chosen = policy(org, StepSpec(wait_minutes=5, users=[staff("one")], teams=[]))
    services.update_policy(chosen, actor=None, is_default=True)
    return chosen


def test_an_incident_opened_by_alerts_is_escalated(org):
    chosen = _default(org)
    _, key = make_integration(org, "alertmanager")
    assert post(f"/hooks/alertmanager/{key}", group(alert())).status_code == 202
    process_pending()
    ticket = Ticket.objects.get(source="alert")
    escalation = Escalation.objects.get(ticket=ticket)
    assert (escalation.policy, escalation.state) == (chosen, EscalationState.ACTIVE)


def test_an_incident_opened_by_a_monitor_is_escalated(org):
    chosen = _default(org)
    monitor = held_monitor(org)
    apply(monitor, "down")
    ticket = Ticket.objects.get(source="monitoring")
    assert Escalation.objects.get(ticket=ticket).policy == chosen


def test_without_a_default_policy_nobody_is_paged(org):
    _, key = make_integration(org, "alertmanager")
    post(f"/hooks/alertmanager/{key}", group(alert()))
    process_pending()
    assert Ticket.objects.filter(source="alert").exists()
    assert not Escalation.objects.exists()
