from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from buttress.audit.models import AuditEntry
from buttress.sla import services
from buttress.sla.models import PolicyRule
from buttress.sla.tests.helpers import OFFICE, make_calendar, make_policy, targets
from buttress.testing.factories import OrganizationFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _field_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(excinfo.value.message_dict)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"weekly": {"0": [["9:00", "17:00"]]}}, "weekly"),
        ({"weekly": {"0": [["09:00", "25:00"]]}}, "weekly"),
        ({"weekly": {"0": [["17:00", "09:00"]]}}, "weekly"),
        ({"weekly": {"0": [["09:00", "09:00"]]}}, "weekly"),
        ({"weekly": {"0": [["09:00", "13:00"], ["12:00", "17:00"]]}}, "weekly"),
        ({"weekly": {"7": [["09:00", "17:00"]]}}, "weekly"),
        ({"weekly": {"0": ["09:00-17:00"]}}, "weekly"),
        ({"weekly": {}}, "weekly"),
        ({"weekly": {"0": []}}, "weekly"),
        ({"holidays": ["2026-02-30"]}, "holidays"),
        ({"closures": [["2026-01-01T10:00:00", "2026-01-01T12:00:00"]]}, "closures"),
        ({"closures": [["2026-01-01T12:00:00Z", "2026-01-01T10:00:00Z"]]}, "closures"),
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"holiday_country": "DE", "holiday_subdivision": "ZZ"}, "holiday_subdivision"),
        ({"holiday_subdivision": "BY"}, "holiday_subdivision"),
        ({"name": "  "}, "name"),
    ],
)
def test_bad_calendar_values_are_refused_naming_the_field(fields: dict[str, Any], field: str):
    with pytest.raises(ValidationError) as excinfo:
        make_calendar(**fields)

    assert _field_of(excinfo) == {field}


def test_calendar_is_stored_normalised(admin_user):
    calendar = make_calendar(
        admin_user,
        weekly={"1": [["13:00", "17:00"], ["08:00", "12:00"]], "6": [["20:00", "24:00"]]},
        holidays=["2026-12-26", "2026-12-25", "2026-12-25"],
        holiday_country="de",
        holiday_subdivision="by",
    )

    assert calendar.weekly == {
        "1": [["08:00", "12:00"], ["13:00", "17:00"]],
        "6": [["20:00", "00:00"]],
    }
    assert calendar.holidays == ["2026-12-25", "2026-12-26"]
    assert (calendar.holiday_country, calendar.holiday_subdivision) == ("DE", "BY")


def test_a_holiday_on_a_day_without_business_hours_is_accepted():
    calendar = make_calendar(holidays=["2026-11-29"])  # a Sunday

    assert calendar.holidays == ["2026-11-29"]


def test_calendar_changes_are_audited(admin_user, org):
    calendar = make_calendar(admin_user, org)

    services.update_calendar(calendar, actor=admin_user, timezone="UTC")

    entries = AuditEntry.objects.filter(object_type="sla.calendar", object_id=str(calendar.pk))
    assert list(entries.order_by("pk").values_list("action", flat=True)) == ["create", "update"]
    update = entries.order_by("pk").last()
    assert update is not None
    assert update.changes["timezone"] == ["Europe/Berlin", "UTC"]
    assert update.organization == org


def test_update_rechecks_the_whole_calendar():
    calendar = make_calendar()

    with pytest.raises(ValidationError) as excinfo:
        services.update_calendar(calendar, actor=None, weekly={"0": [["10:00", "09:00"]]})

    assert _field_of(excinfo) == {"weekly"}
    calendar.refresh_from_db()
    assert calendar.weekly == OFFICE


def test_a_calendar_in_use_cannot_be_deleted():
    policy = make_policy()

    with pytest.raises(ValidationError) as excinfo:
        services.delete_calendar(policy.calendar, actor=None)

    assert _field_of(excinfo) == {"calendar"}


def _bad_targets() -> list[tuple[Any, str]]:
    zero = targets()
    zero["P1"]["resolution"] = 0
    negative = targets()
    negative["P2"]["first_response"] = -5
    slower_first = targets(first=300, resolution=240)
    missing = targets()
    del missing["P4"]
    missing_clock = targets()
    del missing_clock["P3"]["next_response"]
    text = targets()
    text["P1"]["first_response"] = "30"
    extra = {**targets(), "P5": targets()["P1"]}
    return [
        (zero, "0"),
        (negative, "-5"),
        (slower_first, "first_response"),
        (missing, "P4"),
        (missing_clock, "P3"),
        (text, "whole number"),
        (extra, "P5"),
        ([], "object"),
    ]


@pytest.mark.parametrize(("value", "message"), _bad_targets())
def test_bad_targets_are_refused(value: Any, message: str):
    with pytest.raises(ValidationError) as excinfo:
        make_policy(targets=value)

    assert _field_of(excinfo) == {"targets"}
    assert message in str(excinfo.value.message_dict["targets"])


@pytest.mark.parametrize(
    "steps",
    [
        [{"percent": 100, "action": "notify"}],
        [{"percent": 0, "action": "notify"}],
        [{"percent": 50, "minutes_before": 10, "action": "notify"}],
        [{"action": "notify"}],
        [{"minutes_before": 0, "action": "notify"}],
        [{"percent": 50, "action": "explode"}],
        [{"percent": 50, "action": "notify", "clock": "lunch"}],
        [{"percent": 50, "action": "notify"}, {"percent": 50, "action": "raise_priority"}],
        [{"percent": 50, "action": "reassign"}],
        [{"percent": 50, "action": "reassign", "team": 999999}],
        [{"percent": 50, "action": "notify", "team": 1}],
        [{"percent": 50, "action": "notify", "colour": "red"}],
        ["50%"],
    ],
)
def test_bad_warning_steps_are_refused(steps: list[Any]):
    with pytest.raises(ValidationError) as excinfo:
        make_policy(warnings=steps)

    assert _field_of(excinfo) == {"warnings"}


def test_policy_keeps_a_valid_ladder_and_defaults_to_the_waiting_statuses():
    team = TeamFactory.create()
    ladder = [
        {"percent": 75, "action": "notify"},
        {"minutes_before": 15, "action": "reassign", "clock": "resolution", "team": team.pk},
    ]

    policy = make_policy(warnings=ladder)

    assert policy.warnings == ladder
    assert policy.pausing_statuses == ["waiting_on_customer", "waiting_on_third_party"]
    assert policy.target("P1", "first_response") == 30
    assert policy.paused_clocks == ["next_response", "resolution"]


def test_paused_clocks_are_checked_and_kept_in_clock_order():
    policy = make_policy(paused_clocks=["resolution", "first_response"])
    assert policy.paused_clocks == ["first_response", "resolution"]
    with pytest.raises(ValidationError) as excinfo:
        make_policy(paused_clocks=["lunch"])
    assert _field_of(excinfo) == {"paused_clocks"}


@pytest.mark.parametrize("statuses", [["sleeping"], ["resolved"], "open"])
def test_pausing_statuses_must_be_working_ticket_statuses(statuses: Any):
    with pytest.raises(ValidationError) as excinfo:
        make_policy(pausing_statuses=statuses)

    assert _field_of(excinfo) == {"pausing_statuses"}


def test_a_policy_cannot_use_another_organisations_calendar(org):
    other = OrganizationFactory.create()
    theirs = make_calendar(organization=other)

    with pytest.raises(ValidationError) as excinfo:
        make_policy(organization=org, calendar=theirs)

    assert _field_of(excinfo) == {"calendar"}


def test_a_shared_policy_cannot_use_an_organisations_calendar(org):
    with pytest.raises(ValidationError) as excinfo:
        make_policy(calendar=make_calendar(organization=org))

    assert _field_of(excinfo) == {"calendar"}


def test_a_duplicate_rule_position_is_refused():
    policy = make_policy()
    services.create_rule(actor=None, policy=policy, position=10, priority="P1")

    with pytest.raises(ValidationError) as excinfo:
        services.create_rule(actor=None, policy=policy, position=10, priority="P2")

    assert _field_of(excinfo) == {"position"}


def test_a_rule_after_the_default_could_never_match_and_is_refused():
    policy = make_policy()
    services.create_rule(actor=None, policy=policy, position=10)

    with pytest.raises(ValidationError) as excinfo:
        services.create_rule(actor=None, policy=policy, priority="P1")

    assert "never match" in str(excinfo.value.message_dict["position"])


def test_a_default_rule_must_come_last():
    policy = make_policy()
    services.create_rule(actor=None, policy=policy, position=10, priority="P1")

    with pytest.raises(ValidationError) as excinfo:
        services.create_rule(actor=None, policy=policy, position=5)

    assert _field_of(excinfo) == {"position"}


def test_a_shared_rule_cannot_choose_an_organisations_policy(org):
    with pytest.raises(ValidationError) as excinfo:
        services.create_rule(actor=None, policy=make_policy(organization=org))

    assert _field_of(excinfo) == {"policy"}


def test_a_policy_chosen_by_a_rule_cannot_be_deleted():
    policy = make_policy()
    services.create_rule(actor=None, policy=policy)

    with pytest.raises(ValidationError) as excinfo:
        services.delete_policy(policy, actor=None)

    assert _field_of(excinfo) == {"policy"}


def test_reorder_renumbers_every_rule_and_audits_moves(admin_user):
    policy = make_policy()
    p1 = services.create_rule(actor=None, policy=policy, position=10, priority="P1")
    p2 = services.create_rule(actor=None, policy=policy, position=20, priority="P2")
    default = services.create_rule(actor=None, policy=policy, position=30)

    services.reorder_rules([p2.pk, p1.pk, default.pk], actor=admin_user)

    assert list(PolicyRule.objects.values_list("pk", "position")) == [
        (p2.pk, 10),
        (p1.pk, 20),
        (default.pk, 30),
    ]
    assert AuditEntry.objects.filter(object_type="sla.policyrule", action="update").count() == 2


@pytest.mark.parametrize("order", ["missing", "twice", "default_first"])
def test_reorder_refuses_an_incomplete_or_impossible_order(order: str):
    policy = make_policy()
    p1 = services.create_rule(actor=None, policy=policy, position=10, priority="P1")
    default = services.create_rule(actor=None, policy=policy, position=20)
    given = {
        "missing": [p1.pk],
        "twice": [p1.pk, p1.pk, default.pk],
        "default_first": [default.pk, p1.pk],
    }[order]

    with pytest.raises(ValidationError) as excinfo:
        services.reorder_rules(given, actor=None)

    assert _field_of(excinfo) == {"order"}
    assert list(PolicyRule.objects.values_list("position", flat=True)) == [10, 20]
