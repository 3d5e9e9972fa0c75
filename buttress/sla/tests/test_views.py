from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from buttress.accounts.models import Role
from buttress.sla import services
from buttress.sla.models import Calendar, PolicyRule, SlaPolicy
from buttress.sla.tests.helpers import make_calendar, make_policy
from buttress.testing.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def calendar_post(**changes: Any) -> dict[str, Any]:
    data = {
        "organization": "",
        "name": "Office",
        "timezone": "Europe/Berlin",
        "day_0": "09:00-12:30, 13:30-17:00",
        "day_4": "09:00-14:00",
        "holidays": "2026-12-24\n2026-12-31",
        "holiday_country": "de",
        "holiday_subdivision": "by",
        "closures": "2026-06-12T13:00:00+02:00 2026-06-12T17:00:00+02:00",
    }
    data.update(changes)
    return data


def policy_post(cal: Calendar, /, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "organization": "",
        "name": "Gold",
        "calendar": str(cal.pk),
        "pausing_statuses": ["waiting_on_customer"],
        "pause_on_maintenance": "on",
        "warnings": "80% notify\n30m raise_priority resolution",
    }
    for priority in ("P1", "P2", "P3", "P4"):
        data[f"target_{priority}_first_response"] = "30"
        data[f"target_{priority}_next_response"] = "60"
        data[f"target_{priority}_resolution"] = "240"
    data.update(changes)
    return data


def test_admin_creates_a_shared_calendar_from_text_fields(client: Client, admin_user):
    client.force_login(admin_user)

    response = client.post(reverse("sla:calendar_create"), calendar_post())

    calendar = Calendar.objects.get()
    assert response.status_code == 302
    assert calendar.organization is None
    assert calendar.weekly == {
        "0": [["09:00", "12:30"], ["13:30", "17:00"]],
        "4": [["09:00", "14:00"]],
    }
    assert calendar.holidays == ["2026-12-24", "2026-12-31"]
    assert (calendar.holiday_country, calendar.holiday_subdivision) == ("DE", "BY")
    assert calendar.closures == [["2026-06-12T13:00:00+02:00", "2026-06-12T17:00:00+02:00"]]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"day_0": "17:00-09:00"}, "day_0"),
        ({"day_0": "nine to five"}, "day_0"),
        ({"day_0": "25:00-26:00"}, "day_0"),
        ({"day_0": "", "day_4": ""}, "day_0"),
        ({"holidays": "christmas"}, "holidays"),
        ({"closures": "2026-06-12T13:00"}, "closures"),
        ({"closures": "2026-06-12T13:00 2026-06-12T17:00"}, "closures"),
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"holiday_subdivision": "ZZ"}, "holiday_subdivision"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "a\x00b"}, "name"),
        ({"organization": "99999999999999999999"}, "organization"),
    ],
)
def test_bad_calendar_input_is_a_form_error_next_to_its_field(
    client: Client, admin_user, changes, field
):
    client.force_login(admin_user)

    response = client.post(reverse("sla:calendar_create"), calendar_post(**changes))

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not Calendar.objects.exists()


def test_limited_admin_cannot_add_a_shared_calendar_but_can_add_their_organisations(
    client: Client, org
):
    admin = UserFactory.create(role=Role.ADMIN)
    admin.limited_to.add(org)
    client.force_login(admin)

    refused = client.post(reverse("sla:calendar_create"), calendar_post())
    added = client.post(reverse("sla:calendar_create"), calendar_post(organization=str(org.pk)))

    assert refused.status_code == 200
    assert refused.context["form"].errors["organization"]
    assert added.status_code == 302
    assert Calendar.objects.get().organization == org


def test_calendar_edit_shows_windows_as_text_and_saves_changes(client: Client, admin_user):
    calendar = make_calendar()
    client.force_login(admin_user)
    url = reverse("sla:calendar_edit", args=[calendar.pk])

    page = client.get(url)
    response = client.post(url, calendar_post(name="Late shift", day_0="12:00-24:00"))

    assert "09:00-12:00, 13:00-17:00" in page.text
    assert response.status_code == 302
    calendar.refresh_from_db()
    assert calendar.name == "Late shift"
    assert calendar.weekly["0"] == [["12:00", "00:00"]]


def test_calendar_in_use_is_not_deleted_and_the_reason_is_shown(client: Client, admin_user):
    policy = make_policy()
    client.force_login(admin_user)

    response = client.post(reverse("sla:calendar_delete", args=[policy.calendar_id]), follow=True)

    assert Calendar.objects.filter(pk=policy.calendar_id).exists()
    assert "used by policies: Standard" in response.text


def test_unused_calendar_is_deleted(client: Client, admin_user):
    calendar = make_calendar()
    client.force_login(admin_user)

    response = client.post(reverse("sla:calendar_delete", args=[calendar.pk]))

    assert response.status_code == 302
    assert not Calendar.objects.exists()


def test_try_it_box_answers_the_due_time(client: Client, agent):
    calendar = make_calendar()
    client.force_login(agent)

    response = client.get(
        reverse("sla:calendar_detail", args=[calendar.pk]),
        {"start": "2026-11-27T16:00", "minutes": "120"},
    )

    assert response.status_code == 200
    assert response.context["due"].isoformat() == "2026-11-30T10:00:00+01:00"


@pytest.mark.parametrize(
    "query",
    [
        {"start": "yesterday", "minutes": "10"},
        {"start": "2026-11-27T16:00", "minutes": "-1"},
        {"start": "2026-11-27T16:00", "minutes": "ten"},
        {"start": "2026-11-27T16:00", "minutes": "99999999999999999999"},
        {"start": "9999-12-31T23:00+00:00", "minutes": "600"},
        {"start": "2026\x0011", "minutes": "1"},
    ],
)
def test_try_it_box_shows_bad_input_as_form_errors(client: Client, agent, query):
    calendar = make_calendar()
    client.force_login(agent)

    response = client.get(reverse("sla:calendar_detail", args=[calendar.pk]), query)

    assert response.status_code == 200
    assert response.context["form"].errors
    assert response.context["due"] is None


def test_admin_creates_a_policy_with_targets_pauses_and_warnings(client: Client, admin_user):
    team = TeamFactory.create(name="Second line")
    calendar = make_calendar()
    client.force_login(admin_user)

    response = client.post(
        reverse("sla:policy_create"),
        policy_post(calendar, warnings="80% notify\n30m reassign to second LINE resolution"),
    )

    policy = SlaPolicy.objects.get()
    assert response.status_code == 302
    assert policy.targets["P3"] == {"first_response": 30, "next_response": 60, "resolution": 240}
    assert policy.pausing_statuses == ["waiting_on_customer"]
    assert policy.warnings == [
        {"percent": 80, "action": "notify"},
        {"minutes_before": 30, "action": "reassign", "team": team.pk, "clock": "resolution"},
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"target_P1_resolution": "0"}, "target_P1_resolution"),
        ({"target_P2_first_response": "lots"}, "target_P2_first_response"),
        ({"warnings": "80% shout"}, "warnings"),
        ({"warnings": "often notify"}, "warnings"),
        ({"warnings": "80% notify\n80% notify"}, "warnings"),
        ({"warnings": "80% reassign"}, "warnings"),
        ({"warnings": "80% reassign to Nobody"}, "warnings"),
        ({"warnings": "80% notify the boss"}, "warnings"),
        ({"warnings": "80% notify bedtime"}, "warnings"),
        ({"pausing_statuses": ["closed"]}, "pausing_statuses"),
        ({"calendar": "99999999999999999999"}, "calendar"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_policy_input_is_a_form_error_next_to_its_field(
    client: Client, admin_user, changes, field
):
    calendar = make_calendar()
    client.force_login(admin_user)

    response = client.post(reverse("sla:policy_create"), policy_post(calendar, **changes))

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not SlaPolicy.objects.exists()


def test_first_response_longer_than_resolution_is_shown_on_the_form(client: Client, admin_user):
    calendar = make_calendar()
    client.force_login(admin_user)

    response = client.post(
        reverse("sla:policy_create"), policy_post(calendar, target_P1_first_response="500")
    )

    assert response.status_code == 200
    assert "first_response is longer than resolution" in response.text


def test_policy_of_an_organisation_cannot_use_another_organisations_calendar(
    client: Client, admin_user, org, other_org
):
    calendar = make_calendar(organization=other_org)
    client.force_login(admin_user)

    response = client.post(
        reverse("sla:policy_create"), policy_post(calendar, organization=str(org.pk))
    )

    assert response.status_code == 200
    assert response.context["form"].errors["calendar"]


def test_policy_edit_and_delete(client: Client, admin_user):
    policy = make_policy()
    client.force_login(admin_user)

    page = client.get(reverse("sla:policy_edit", args=[policy.pk]))
    edited = client.post(
        reverse("sla:policy_edit", args=[policy.pk]),
        policy_post(policy.calendar, name="Silver", warnings=""),
    )
    deleted = client.post(reverse("sla:policy_delete", args=[policy.pk]))

    assert page.status_code == 200
    assert edited.status_code == 302
    assert deleted.status_code == 302
    assert not SlaPolicy.objects.exists()


def test_policy_chosen_by_a_rule_is_not_deleted(client: Client, admin_user):
    policy = make_policy()
    services.create_rule(actor=None, policy=policy)
    client.force_login(admin_user)

    response = client.post(reverse("sla:policy_delete", args=[policy.pk]), follow=True)

    assert SlaPolicy.objects.filter(pk=policy.pk).exists()
    assert "delete those rules first" in response.text


def test_rule_added_while_a_default_exists_goes_before_it(client: Client, admin_user, org):
    policy = make_policy()
    default = services.create_rule(actor=None, policy=policy)
    client.force_login(admin_user)

    response = client.post(
        reverse("sla:rule_list"),
        {"organization": str(org.pk), "priority": "P1", "policy": str(policy.pk)},
    )

    assert response.status_code == 302
    assert list(PolicyRule.objects.values_list("priority", flat=True)) == ["P1", ""]
    assert PolicyRule.objects.last() == default


def test_rule_form_errors_are_shown(client: Client, admin_user):
    policy = make_policy()
    services.create_rule(actor=None, policy=policy)
    client.force_login(admin_user)

    response = client.post(reverse("sla:rule_list"), {"policy": str(policy.pk)})
    bad_id = client.post(reverse("sla:rule_list"), {"policy": "99999999999999999999"})

    assert response.status_code == 200
    assert "could never match" in response.text
    assert bad_id.context["form"].errors["policy"]


def test_rules_move_up_and_down_and_delete(client: Client, admin_user):
    policy = make_policy()
    first = services.create_rule(actor=None, policy=policy, priority="P1")
    second = services.create_rule(actor=None, policy=policy, priority="P2")
    client.force_login(admin_user)

    client.post(reverse("sla:rule_up", args=[second.pk]))
    moved = list(PolicyRule.objects.values_list("pk", flat=True))
    client.post(reverse("sla:rule_down", args=[second.pk]))
    back = list(PolicyRule.objects.values_list("pk", flat=True))
    client.post(reverse("sla:rule_delete", args=[first.pk]))

    assert moved == [second.pk, first.pk]
    assert back == [first.pk, second.pk]
    assert list(PolicyRule.objects.values_list("pk", flat=True)) == [second.pk]


def test_default_rule_cannot_move_up_past_the_end(client: Client, admin_user):
    policy = make_policy()
    rule = services.create_rule(actor=None, policy=policy, priority="P1")
    default = services.create_rule(actor=None, policy=policy)
    client.force_login(admin_user)

    response = client.post(reverse("sla:rule_up", args=[default.pk]), follow=True)

    assert list(PolicyRule.objects.values_list("pk", flat=True)) == [rule.pk, default.pk]
    assert "must be last" in response.text


def test_moving_a_rule_needs_post(client: Client, admin_user):
    rule = services.create_rule(actor=None, policy=make_policy())
    client.force_login(admin_user)

    assert client.get(reverse("sla:rule_up", args=[rule.pk])).status_code == 405


def test_read_only_staff_see_pages_without_edit_buttons(client: Client, viewer):
    policy = make_policy()
    services.create_rule(actor=None, policy=policy)
    client.force_login(viewer)

    pages = [
        client.get(reverse("sla:index")),
        client.get(reverse("sla:calendar_detail", args=[policy.calendar_id])),
        client.get(reverse("sla:policy_list")),
        client.get(reverse("sla:policy_detail", args=[policy.pk])),
        client.get(reverse("sla:rule_list")),
    ]

    assert [page.status_code for page in pages] == [200] * 5
    for page in pages:
        assert "Edit" not in page.text
        assert "Delete" not in page.text
        assert "Add " not in page.text


def test_read_only_staff_are_refused_every_change(client: Client, agent):
    policy = make_policy()
    rule = services.create_rule(actor=None, policy=policy)
    client.force_login(agent)

    codes = [
        client.post(reverse("sla:calendar_create"), calendar_post()).status_code,
        client.post(reverse("sla:calendar_edit", args=[policy.calendar_id])).status_code,
        client.post(reverse("sla:calendar_delete", args=[policy.calendar_id])).status_code,
        client.post(reverse("sla:policy_create"), policy_post(policy.calendar)).status_code,
        client.post(reverse("sla:policy_edit", args=[policy.pk])).status_code,
        client.post(reverse("sla:policy_delete", args=[policy.pk])).status_code,
        client.post(reverse("sla:rule_list"), {"policy": str(policy.pk)}).status_code,
        client.post(reverse("sla:rule_up", args=[rule.pk])).status_code,
        client.post(reverse("sla:rule_delete", args=[rule.pk])).status_code,
    ]

    assert codes == [403] * 9


def test_limited_admin_reads_but_does_not_change_shared_configuration_or_rules(client: Client, org):
    policy = make_policy()
    rule = services.create_rule(actor=None, policy=policy)
    admin = UserFactory.create(role=Role.ADMIN)
    admin.limited_to.add(org)
    client.force_login(admin)

    page = client.get(reverse("sla:calendar_detail", args=[policy.calendar_id]))

    assert page.status_code == 200
    assert "Edit" not in page.text
    assert client.get(reverse("sla:policy_edit", args=[policy.pk])).status_code == 403
    assert client.post(reverse("sla:rule_delete", args=[rule.pk])).status_code == 403


@pytest.mark.parametrize("role", ["org_admin", "end_user"])
def test_customers_are_refused_the_sla_pages(client: Client, request, role):
    policy = make_policy()
    client.force_login(request.getfixturevalue(role))

    codes = [
        client.get(reverse("sla:index")).status_code,
        client.get(reverse("sla:policy_list")).status_code,
        client.get(reverse("sla:rule_list")).status_code,
        client.get(reverse("sla:calendar_create")).status_code,
        client.get(reverse("sla:policy_detail", args=[policy.pk])).status_code,
    ]

    assert codes == [403] * 5


def test_another_organisations_objects_and_unknown_ids_are_not_found(
    client: Client, other_org, org
):
    policy = make_policy(organization=other_org)
    admin = UserFactory.create(role=Role.ADMIN)
    admin.limited_to.add(org)
    client.force_login(admin)

    codes = [
        client.get(reverse("sla:calendar_detail", args=[policy.calendar_id])).status_code,
        client.get(reverse("sla:policy_edit", args=[policy.pk])).status_code,
        client.get("/sla/calendars/99999999999999999999/").status_code,
        client.post("/sla/policies/99999999999999999999/delete/").status_code,
    ]

    assert codes == [404] * 4


def test_staff_navigation_links_to_the_sla_pages(client: Client, viewer):
    client.force_login(viewer)

    response = client.get(reverse("sla:policy_list"))

    active = [link.label for link in response.context["nav"].items if link.active]
    assert active == ["SLA"]


def test_admin_sees_the_change_buttons_and_forms(client: Client, admin_user):
    policy = make_policy()
    client.force_login(admin_user)

    calendars = client.get(reverse("sla:index"))
    policies = client.get(reverse("sla:policy_list"))
    new_policy = client.get(reverse("sla:policy_create"))
    rules = client.get(reverse("sla:rule_list"))

    assert "Add calendar" in calendars.text
    assert reverse("sla:calendar_edit", args=[policy.calendar_id]) in calendars.text
    assert reverse("sla:policy_delete", args=[policy.pk]) in policies.text
    assert 'name="target_P4_resolution"' in new_policy.text
    assert "Add rule" in rules.text
