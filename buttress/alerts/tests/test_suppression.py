"""Silences and maintenance windows: suppressed alerts are recorded but open no incident, and
are processed once the suppression ends while they still fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError

from buttress.alerts import tasks
from buttress.alerts.models import Alert, AlertStatus, Silence
from buttress.alerts.services import routing, silences
from buttress.alerts.tests.helpers import alert, group, make_integration, post, process_pending
from buttress.desk.models import Ticket
from buttress.maintenance import services as maintenance
from buttress.testing.factories import AssetFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 8, 22, 10, tzinfo=UTC)


def _send(key: str, *alerts: dict[str, Any]) -> None:
    post(f"/hooks/alertmanager/{key}", group(*alerts, key="g1"))
    process_pending()


def _silence(org, matchers, *, ends=T0 + timedelta(hours=1), actor=None) -> Silence:
    return silences.create_silence(
        org, actor=actor, matchers=matchers, ends_at=ends, comment="planned work"
    )


def _release_due(at: datetime) -> int:
    """Run the suppression task of every alert due by ``at``, as the scheduler would."""
    count = 0
    for found in Alert.objects.filter(suppression_due_at__lte=at):
        assert found.suppression_due_at is not None
        if tasks.release_alert.call(found.pk, found.suppression_due_at.isoformat()):
            count += 1
    return count


@time_machine.travel(T0, tick=False)
def test_silenced_alert_is_recorded_with_its_silence_and_opens_no_incident(org, admin_user):
    _, key = make_integration(org, "alertmanager")
    silence = _silence(org, ['alertname="HostDown"'], actor=admin_user)

    _send(key, alert())

    found = Alert.objects.get()
    assert found.silence == silence
    assert found.is_suppressed
    assert found.incident is None
    assert found.suppressed_until == silence.ends_at
    assert Ticket.objects.count() == 0
    assert silence.created_by == admin_user


@time_machine.travel(T0, tick=False)
def test_repeats_of_a_silenced_alert_stay_silenced_and_count(org):
    _, key = make_integration(org, "alertmanager")
    _silence(org, ['alertname="HostDown"'])

    _send(key, alert())
    _send(key, alert())

    found = Alert.objects.get()
    assert found.times_seen == 2
    assert Ticket.objects.count() == 0


@time_machine.travel(T0, tick=False)
def test_a_silence_matching_other_labels_changes_nothing(org):
    _, key = make_integration(org, "alertmanager")
    _silence(org, ['alertname="DiskFull"'])

    _send(key, alert())

    assert Ticket.objects.count() == 1


@time_machine.travel(T0, tick=False)
def test_a_silence_of_another_organisation_changes_nothing(org):
    _, key = make_integration(org, "alertmanager")
    _silence(OrganizationFactory.create(), ['alertname="HostDown"'])

    _send(key, alert())

    assert Ticket.objects.count() == 1


def test_alert_still_firing_when_its_silence_ends_opens_its_incident(org):
    _, key = make_integration(org, "alertmanager")
    with time_machine.travel(T0, tick=False):
        _silence(org, ['alertname="HostDown"'], ends=T0 + timedelta(minutes=30))
        _send(key, alert())
    assert Ticket.objects.count() == 0

    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        assert _release_due(T0 + timedelta(minutes=31)) == 1

    found = Alert.objects.get()
    assert found.incident == Ticket.objects.get()
    assert found.suppression_due_at is None
    # A second run of the same timer finds its claim gone.
    assert _release_due(T0 + timedelta(hours=2)) == 0


def test_alert_resolved_while_silenced_never_opens_an_incident(org):
    _, key = make_integration(org, "alertmanager")
    with time_machine.travel(T0, tick=False):
        _silence(org, ['alertname="HostDown"'], ends=T0 + timedelta(minutes=30))
        _send(key, alert())
        _send(key, alert(status="resolved"))

    found = Alert.objects.get()
    assert found.status == AlertStatus.RESOLVED
    assert found.suppression_due_at is None
    assert _release_due(T0 + timedelta(hours=1)) == 0
    assert Ticket.objects.count() == 0


def test_expiring_a_silence_releases_its_firing_alerts(org, admin_user):
    _, key = make_integration(org, "alertmanager")
    with time_machine.travel(T0, tick=False):
        silence = _silence(org, ['alertname="HostDown"'])
        _send(key, alert())
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        silences.expire_silence(silence, actor=admin_user)
        assert Alert.objects.get().suppression_due_at == T0 + timedelta(minutes=5)
        _release_due(T0 + timedelta(minutes=5))

    silence.refresh_from_db()
    assert silence.ends_at == T0 + timedelta(minutes=5)
    assert Ticket.objects.count() == 1


def test_an_alert_released_into_another_active_silence_stays_silenced(org):
    _, key = make_integration(org, "alertmanager")
    with time_machine.travel(T0, tick=False):
        short = _silence(org, ['alertname="HostDown"'], ends=T0 + timedelta(minutes=10))
        _send(key, alert())
        longer = _silence(org, ['instance="srv1:9100"'], ends=T0 + timedelta(hours=2))
    with time_machine.travel(T0 + timedelta(minutes=11), tick=False):
        _release_due(T0 + timedelta(minutes=11))

    found = Alert.objects.get()
    assert short.pk != longer.pk
    assert found.silence == longer
    assert found.suppression_due_at == longer.ends_at
    assert Ticket.objects.count() == 0


@time_machine.travel(T0, tick=False)
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"matchers": []}, "matchers"),
        ({"matchers": ['team=""']}, "matchers"),
        ({"matchers": ['a=~"("']}, "matchers"),
        ({"comment": " "}, "comment"),
        ({"ends_at": T0 - timedelta(minutes=1)}, "ends_at"),
        ({"ends_at": T0.replace(tzinfo=None)}, "ends_at"),  # naive
        ({"ends_at": T0 + timedelta(days=400)}, "ends_at"),
    ],
)
def test_invalid_silences_are_refused_naming_the_field(org, fields, field):
    values = {
        "matchers": ['alertname="HostDown"'],
        "ends_at": T0 + timedelta(hours=1),
        "comment": "work",
        **fields,
    }

    with pytest.raises(ValidationError) as caught:
        silences.create_silence(org, actor=None, **values)

    assert field in caught.value.message_dict


def test_an_ended_silence_cannot_be_edited(org):
    with time_machine.travel(T0, tick=False):
        silence = _silence(org, ['alertname="HostDown"'], ends=T0 + timedelta(minutes=5))
    with (
        time_machine.travel(T0 + timedelta(minutes=6), tick=False),
        pytest.raises(ValidationError),
    ):
        silences.update_silence(silence, actor=None, comment="more")


def test_editing_a_silence_so_it_no_longer_matches_releases_the_alert(org):
    _, key = make_integration(org, "alertmanager")
    with time_machine.travel(T0, tick=False):
        silence = _silence(org, ['alertname="HostDown"'])
        _send(key, alert())
        silences.update_silence(silence, actor=None, matchers=['alertname="Other"'])
        _release_due(T0)

    assert Ticket.objects.count() == 1


# --- maintenance windows ---------------------------------------------------------------------


def _window_on(org, asset, *, minutes=60, suppress=True):
    return maintenance.create_window(
        org,
        actor=None,
        name="patching",
        starts_at=T0 - timedelta(minutes=1),
        duration=timedelta(minutes=minutes),
        assets=[asset],
        suppress_alerts=suppress,
    )


def test_alert_routed_to_an_asset_in_maintenance_is_suppressed_then_released(org):
    integration, key = make_integration(org, "alertmanager")
    asset = AssetFactory.create(organization=org)
    routing.create_rule(integration, actor=None, name="srv1", asset=asset)
    with time_machine.travel(T0, tick=False):
        window = _window_on(org, asset, minutes=31)
        _send(key, alert())

    found = Alert.objects.get()
    assert found.maintenance_window == window
    assert found.is_suppressed
    assert found.suppressed_until == T0 + timedelta(minutes=30)
    assert Ticket.objects.count() == 0

    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        _release_due(T0 + timedelta(minutes=30))
    ticket = Ticket.objects.get()
    assert list(ticket.assets.all()) == [asset]


def test_a_window_that_only_pauses_sla_suppresses_nothing(org):
    integration, key = make_integration(org, "alertmanager")
    asset = AssetFactory.create(organization=org)
    routing.create_rule(integration, actor=None, name="srv1", asset=asset)
    with time_machine.travel(T0, tick=False):
        _window_on(org, asset, suppress=False)
        _send(key, alert())

    assert Ticket.objects.count() == 1


def test_a_window_on_another_asset_suppresses_nothing(org):
    integration, key = make_integration(org, "alertmanager")
    routing.create_rule(
        integration, actor=None, name="srv1", asset=AssetFactory.create(organization=org)
    )
    with time_machine.travel(T0, tick=False):
        _window_on(org, AssetFactory.create(organization=org))
        _send(key, alert())

    assert Ticket.objects.count() == 1
