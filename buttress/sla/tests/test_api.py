from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from buttress.accounts.models import Role
from buttress.api.tests.conftest import api_as
from buttress.sla import services
from buttress.sla.models import Calendar, PolicyRule, SlaPolicy
from buttress.sla.tests.helpers import OFFICE, make_calendar, make_policy, targets
from buttress.testing.factories import UserFactory

pytestmark = pytest.mark.django_db

CALENDAR = {"name": "Office", "timezone": "Europe/Berlin", "weekly": OFFICE}


def test_admin_creates_reads_updates_and_deletes_a_calendar(admin_user, org):
    client = api_as(admin_user)

    created = client.post("/sla/calendars", {**CALENDAR, "organization": org.pk})
    pk = created.json()["id"]
    changed = client.patch(f"/sla/calendars/{pk}", {"holidays": ["2026-12-24"]})
    fetched = client.get(f"/sla/calendars/{pk}")
    deleted = client.delete(f"/sla/calendars/{pk}")

    assert created.status_code == 201
    assert created.json()["organization"] == org.pk
    assert changed.json()["holidays"] == ["2026-12-24"]
    assert fetched.json()["weekly"]["0"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert deleted.status_code == 204
    assert not Calendar.objects.exists()


def test_bad_calendar_input_is_a_400_naming_the_field(admin_user):
    client = api_as(admin_user)

    response = client.post("/sla/calendars", {**CALENDAR, "timezone": "Nowhere/Land"})
    overlap = client.post(
        "/sla/calendars", {**CALENDAR, "weekly": {"2": [["09:00", "12:00"], ["11:00", "13:00"]]}}
    )

    assert response.status_code == 400
    assert "timezone" in response.json()["detail"]
    assert overlap.status_code == 400
    assert "weekly" in overlap.json()["detail"]


def test_null_in_a_patch_is_a_400_not_a_server_error(admin_user):
    calendar = make_calendar()

    response = api_as(admin_user, raise_errors=False).patch(
        f"/sla/calendars/{calendar.pk}", {"weekly": None}
    )

    assert response.status_code == 400


def test_add_answers_the_due_instant_from_the_engine(agent):
    calendar = make_calendar()
    engine = calendar.engine(range(2025, 2037))

    response = api_as(agent).get(
        f"/sla/calendars/{calendar.pk}/add", start="2026-11-27T16:00:00+01:00", minutes=120
    )

    assert response.status_code == 200
    assert response.json()["due"] == "2026-11-30T10:00:00+01:00"
    start = datetime.fromisoformat("2026-11-27T16:00:00+01:00")
    assert datetime.fromisoformat(response.json()["due"]) == engine.add(
        start, timedelta(minutes=120)
    )


def test_between_answers_business_time_in_a_span(viewer):
    calendar = make_calendar()

    response = api_as(viewer).get(
        f"/sla/calendars/{calendar.pk}/between",
        start="2026-11-27T11:00:00+01:00",
        end="2026-11-30T10:00:00+01:00",
    )

    assert response.json()["minutes"] == 60 + 240 + 60
    assert response.json()["seconds"] == 360 * 60


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("add", {"start": "2026-11-27T16:00:00", "minutes": 10}),
        ("add", {"start": "2026-11-27T16:00:00Z", "minutes": -1}),
        ("add", {"start": "0001-01-01T00:00:00Z", "minutes": 10}),
        ("between", {"start": "2026-11-28T00:00:00Z", "end": "2026-11-27T00:00:00Z"}),
        ("between", {"start": "2026-11-28T00:00:00Z", "end": "2126-11-27T00:00:00Z"}),
    ],
)
def test_bad_simulator_input_is_a_400(agent, path, params):
    calendar = make_calendar()

    response = api_as(agent, raise_errors=False).get(
        f"/sla/calendars/{calendar.pk}/{path}", **params
    )

    assert response.status_code == 400
    assert response.json()["detail"]


def test_simulator_at_the_end_of_time_is_a_400_even_with_country_holidays(agent):
    calendar = make_calendar(holiday_country="DE")

    response = api_as(agent, raise_errors=False).get(
        f"/sla/calendars/{calendar.pk}/add", start="9999-12-31T00:00:00Z", minutes=10
    )

    assert response.status_code == 400


def test_unparsable_simulator_input_is_a_4xx(agent):
    calendar = make_calendar()

    response = api_as(agent, raise_errors=False).get(
        f"/sla/calendars/{calendar.pk}/add", start="tomorrow", minutes="ten"
    )

    assert response.status_code == 422


def test_agents_read_but_do_not_change_configuration(agent):
    calendar = make_calendar()
    client = api_as(agent)

    listed = client.get("/sla/calendars")
    refused = api_as(agent, raise_errors=False).patch(
        f"/sla/calendars/{calendar.pk}", {"name": "Mine"}
    )

    assert [c["id"] for c in listed.json()["items"]] == [calendar.pk]
    assert refused.status_code == 403


def test_customers_see_no_service_level_configuration(org_admin, org):
    calendar = make_calendar(organization=org)
    client = api_as(org_admin, raise_errors=False)

    assert client.get("/sla/calendars").status_code == 403
    assert client.get(f"/sla/calendars/{calendar.pk}").status_code == 403


def test_another_organisations_calendar_is_not_found_for_a_limited_agent(org, other_org):
    agent = UserFactory.create(role=Role.AGENT)
    agent.limited_to.add(org)
    shared = make_calendar(name="Shared")
    mine = make_calendar(name="Mine", organization=org)
    theirs = make_calendar(name="Theirs", organization=other_org)
    client = api_as(agent, raise_errors=False)

    listed = client.get("/sla/calendars")

    assert {c["id"] for c in listed.json()["items"]} == {shared.pk, mine.pk}
    assert client.get(f"/sla/calendars/{theirs.pk}").status_code == 404
    assert (
        client.get(
            f"/sla/calendars/{theirs.pk}/add", start="2026-01-01T00:00:00Z", minutes=1
        ).status_code
        == 404
    )


def test_a_limited_admin_changes_their_organisations_but_not_shared_calendars(org):
    admin = UserFactory.create(role=Role.ADMIN)
    admin.limited_to.add(org)
    shared = make_calendar(name="Shared")
    client = api_as(admin, raise_errors=False)

    own = client.post("/sla/calendars", {**CALENDAR, "organization": org.pk})
    new_shared = client.post("/sla/calendars", CALENDAR)
    edit_shared = client.patch(f"/sla/calendars/{shared.pk}", {"name": "Mine"})

    assert own.status_code == 201
    assert new_shared.status_code == 403
    assert edit_shared.status_code == 403


def test_a_read_scoped_token_cannot_write(admin_user):
    response = api_as(admin_user, scope="read", raise_errors=False).post("/sla/calendars", CALENDAR)

    assert response.status_code == 403
    assert not Calendar.objects.exists()


def test_admin_manages_policies(admin_user, org):
    calendar = make_calendar(organization=org)
    client = api_as(admin_user)
    body = {
        "organization": org.pk,
        "name": "Gold",
        "calendar": calendar.pk,
        "targets": targets(),
        "warnings": [{"percent": 80, "action": "notify"}],
    }

    created = client.post("/sla/policies", body)
    pk = created.json()["id"]
    changed = client.patch(f"/sla/policies/{pk}", {"pause_on_maintenance": False})
    deleted = client.delete(f"/sla/policies/{pk}")

    assert created.status_code == 201
    assert created.json()["pausing_statuses"] == ["waiting_on_customer", "waiting_on_third_party"]
    assert changed.json()["pause_on_maintenance"] is False
    assert deleted.status_code == 204
    assert not SlaPolicy.objects.exists()


def test_bad_policy_input_is_a_400_naming_the_field(admin_user):
    calendar = make_calendar()
    client = api_as(admin_user, raise_errors=False)

    zero = client.post(
        "/sla/policies", {"name": "X", "calendar": calendar.pk, "targets": targets(first=0)}
    )
    no_calendar = client.post(
        "/sla/policies", {"name": "X", "calendar": calendar.pk + 100, "targets": targets()}
    )

    assert zero.status_code == 400
    assert "targets" in zero.json()["detail"]
    assert no_calendar.status_code == 400
    assert "calendar" in no_calendar.json()["detail"]


def test_a_calendar_in_use_answers_400_on_delete(admin_user):
    policy = make_policy()

    response = api_as(admin_user, raise_errors=False).delete(f"/sla/calendars/{policy.calendar_id}")

    assert response.status_code == 400
    assert Calendar.objects.filter(pk=policy.calendar_id).exists()


def test_admin_manages_and_reorders_rules(admin_user, org):
    policy = make_policy()
    client = api_as(admin_user)

    urgent = client.post("/sla/rules", {"policy": policy.pk, "priority": "P1"}).json()
    default = client.post("/sla/rules", {"policy": policy.pk}).json()
    scoped = client.post(
        "/sla/rules", {"policy": policy.pk, "organization": org.pk, "position": 5}
    ).json()
    reordered = client.post(
        "/sla/rules/reorder", {"order": [urgent["id"], scoped["id"], default["id"]]}
    )
    listed = client.get("/sla/rules")
    deleted = client.delete(f"/sla/rules/{urgent['id']}")

    assert reordered.status_code == 200
    assert [r["id"] for r in listed.json()["items"]] == [urgent["id"], scoped["id"], default["id"]]
    assert [r["position"] for r in listed.json()["items"]] == [10, 20, 30]
    assert deleted.status_code == 204
    assert PolicyRule.objects.count() == 2


def test_bad_rule_input_is_a_4xx(admin_user):
    policy = make_policy()
    services.create_rule(actor=None, policy=policy, position=10)
    client = api_as(admin_user, raise_errors=False)

    after_default = client.post("/sla/rules", {"policy": policy.pk, "priority": "P2"})
    unknown_priority = client.post("/sla/rules", {"policy": policy.pk, "priority": "P9"})
    bad_order = client.post("/sla/rules/reorder", {"order": [999]})

    assert after_default.status_code == 400
    assert "position" in after_default.json()["detail"]
    assert unknown_priority.status_code == 422
    assert bad_order.status_code == 400


def test_only_unrestricted_admins_change_the_rule_list(org):
    policy = make_policy()
    admin = UserFactory.create(role=Role.ADMIN)
    admin.limited_to.add(org)
    client = api_as(admin, raise_errors=False)

    response = client.post("/sla/rules", {"policy": policy.pk, "organization": org.pk})

    assert response.status_code == 403
