"""The only place that changes SLA calendars, policies and policy rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import holidays as holiday_data
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from buttress.accounts.models import Team
from buttress.audit import services as audit
from buttress.audit.models import AuditEntry
from buttress.desk.models import Priority, Status, TicketType, pausing_statuses
from buttress.lib.timeutil import now
from buttress.sla.calendar import BusinessCalendar
from buttress.sla.models import (
    CLOCKS,
    PRIORITIES,
    Calendar,
    PolicyRule,
    SlaClock,
    SlaPolicy,
    WarningAction,
    default_paused_clocks,
    format_weekly,
    parse_closures,
    parse_holidays,
    parse_weekly,
)
from buttress.sla.tasks import apply_configuration
from buttress.tenancy.models import Organization

if TYPE_CHECKING:
    from buttress.accounts.models import User

CALENDAR_FIELDS = (
    "organization",
    "name",
    "timezone",
    "weekly",
    "holidays",
    "holiday_country",
    "holiday_subdivision",
    "closures",
)
CALENDAR_EDITABLE = frozenset(CALENDAR_FIELDS) - {"organization"}
POLICY_FIELDS = (
    "organization",
    "name",
    "calendar",
    "targets",
    "pausing_statuses",
    "paused_clocks",
    "pause_on_maintenance",
    "warnings",
)
POLICY_EDITABLE = frozenset(POLICY_FIELDS) - {"organization"}
RULE_FIELDS = ("position", "organization", "ticket_type", "category", "priority", "policy")
DEFAULT_PAUSING = [Status.WAITING_ON_CUSTOMER.value, Status.WAITING_ON_THIRD_PARTY.value]
# A year of minutes: a longer target is a typo, and the engine searches only ten years ahead.
MAX_TARGET_MINUTES = 366 * 24 * 60
MAX_WARNINGS = 20
MAX_HOLIDAYS = 5000
MAX_CLOSURES = 5000
RULE_STEP = 10


def _name(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValidationError({"name": "A name is required."})
    if len(text) > 120:
        raise ValidationError({"name": "A name has at most 120 characters."})
    return text


def _field(field: str, parse: Any, value: Any) -> Any:
    try:
        return parse(value)
    except ValueError as exc:
        raise ValidationError({field: str(exc)}) from exc


def _check_holiday_source(country: str, subdivision: str) -> tuple[str, str]:
    country = country.strip().upper()
    subdivision = subdivision.strip().upper()
    if not country:
        if subdivision:
            raise ValidationError({"holiday_subdivision": "A subdivision needs a holiday_country."})
        return "", ""
    supported = holiday_data.list_supported_countries()
    if country not in supported:
        raise ValidationError(
            {"holiday_country": f"No public holidays are known for country {country!r}."}
        )
    if subdivision:
        known = {str(s).upper(): str(s) for s in supported[country]}
        if subdivision not in known:
            raise ValidationError(
                {
                    "holiday_subdivision": (
                        f"Country {country} has no subdivision {subdivision!r}; known: "
                        + ", ".join(supported[country])
                    )
                }
            )
        subdivision = known[subdivision]
    return country, subdivision


def _clean_calendar(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated, normalised calendar fields; refuses a calendar with no business time."""
    weekly = _field("weekly", parse_weekly, fields["weekly"])
    holidays = _field("holidays", parse_holidays, fields["holidays"])
    if len(holidays) > MAX_HOLIDAYS:
        raise ValidationError({"holidays": f"At most {MAX_HOLIDAYS} holidays."})
    closures = _field("closures", parse_closures, fields["closures"])
    if len(closures) > MAX_CLOSURES:
        raise ValidationError({"closures": f"At most {MAX_CLOSURES} closures."})
    timezone = str(fields["timezone"] or "").strip()
    try:
        BusinessCalendar(timezone, {})
    except ValueError as exc:
        raise ValidationError({"timezone": str(exc)}) from exc
    # Windows are checked to have a positive length, so any window is business time.
    if not any(weekly.values()):
        raise ValidationError({"weekly": "The calendar has no business hours on any weekday."})
    country, subdivision = _check_holiday_source(
        str(fields["holiday_country"] or ""), str(fields["holiday_subdivision"] or "")
    )
    return {
        "name": _name(fields["name"]),
        "timezone": timezone,
        "weekly": format_weekly(weekly),
        "holidays": [day.isoformat() for day in holidays],
        "holiday_country": country,
        "holiday_subdivision": subdivision,
        "closures": [[start.isoformat(), end.isoformat()] for start, end in closures],
    }


def calendar_snapshot(calendar: Calendar) -> dict[str, Any]:
    """What decides a calendar's business time, as JSON (to measure time on it after an edit)."""
    return {
        field: getattr(calendar, field)
        for field in CALENDAR_FIELDS
        if field not in ("name", "organization")
    }


def _apply_to_open_clocks(
    policy_ids: list[int], *, edited_at: datetime, old_calendar: dict[str, Any] | None
) -> None:
    """Once the edit commits, a task applies it to the open clocks it concerns from
    ``edited_at`` on; time before that stays measured on the calendar as it was."""
    if not policy_ids:
        return
    transaction.on_commit(
        partial(
            apply_configuration.enqueue,
            policy_ids,
            edited_at.isoformat(),
            old_calendar,
        )
    )


@transaction.atomic
def create_calendar(
    *,
    actor: User | None,
    organization: Organization | None,
    name: str,
    timezone: str,
    weekly: Any,
    holidays: Any = (),
    holiday_country: str = "",
    holiday_subdivision: str = "",
    closures: Any = (),
) -> Calendar:
    cleaned = _clean_calendar(
        {
            "name": name,
            "timezone": timezone,
            "weekly": weekly,
            "holidays": list(holidays),
            "holiday_country": holiday_country,
            "holiday_subdivision": holiday_subdivision,
            "closures": list(closures),
        }
    )
    calendar = Calendar.objects.create(organization=organization, **cleaned)
    audit.record_create(calendar, actor=actor, organization=organization, fields=CALENDAR_FIELDS)
    return calendar


@transaction.atomic
def update_calendar(calendar: Calendar, *, actor: User | None, **changes: Any) -> Calendar:
    unknown = set(changes) - CALENDAR_EDITABLE
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))}.")
    before = audit.snapshot(calendar, CALENDAR_FIELDS)
    current = {field: getattr(calendar, field) for field in CALENDAR_EDITABLE}
    old_hours = calendar_snapshot(calendar)
    cleaned = _clean_calendar({**current, **changes})
    for field, value in cleaned.items():
        setattr(calendar, field, value)
    calendar.updated_at = now()
    calendar.save()
    calendar.__dict__.pop("_engine_cache", None)
    if calendar_snapshot(calendar) != old_hours:
        _apply_to_open_clocks(
            list(calendar.policies.values_list("pk", flat=True)),
            edited_at=calendar.updated_at,
            old_calendar=old_hours,
        )
    audit.record_update(
        calendar,
        actor=actor,
        organization=calendar.organization,
        before=before,
        fields=CALENDAR_FIELDS,
    )
    return calendar


@transaction.atomic
def delete_calendar(calendar: Calendar, *, actor: User | None) -> None:
    users = list(calendar.policies.values_list("name", flat=True)[:5])
    if users:
        raise ValidationError(
            {"calendar": f"Calendar {calendar} is used by policies: {', '.join(users)}."}
        )
    pk = calendar.pk
    audit.record_delete(
        calendar,
        actor=actor,
        organization=calendar.organization,
        fields=CALENDAR_FIELDS,
        object_id=pk,
    )
    calendar.delete()


def _check_targets(targets: Any) -> dict[str, dict[str, int]]:
    if not isinstance(targets, dict):
        raise ValidationError({"targets": "Give an object of priority -> {clock: minutes}."})
    extra = set(targets) - set(PRIORITIES)
    if extra:
        raise ValidationError({"targets": f"Unknown priorities: {', '.join(sorted(extra))}."})
    cleaned: dict[str, dict[str, int]] = {}
    for priority in PRIORITIES:
        row = targets.get(priority)
        if not isinstance(row, dict):
            raise ValidationError({"targets": f"{priority}: give minutes for {', '.join(CLOCKS)}."})
        extra = set(row) - set(CLOCKS)
        if extra:
            raise ValidationError(
                {"targets": f"{priority}: unknown clocks {', '.join(sorted(extra))}."}
            )
        minutes: dict[str, int] = {}
        for clock in CLOCKS:
            value = row.get(clock)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(
                    {"targets": f"{priority} {clock}: give a whole number of minutes."}
                )
            if not 0 < value <= MAX_TARGET_MINUTES:
                raise ValidationError(
                    {
                        "targets": (
                            f"{priority} {clock}: {value} must be between 1 and "
                            f"{MAX_TARGET_MINUTES} minutes."
                        )
                    }
                )
            minutes[clock] = value
        if minutes["first_response"] > minutes["resolution"]:
            raise ValidationError(
                {"targets": f"{priority}: first_response is longer than resolution."}
            )
        cleaned[priority] = minutes
    return cleaned


def _check_paused_clocks(clocks: Any) -> list[str]:
    if clocks is None:
        return default_paused_clocks()
    if not isinstance(clocks, list):
        raise ValidationError({"paused_clocks": "Give a list of clocks."})
    for clock in clocks:
        if clock not in CLOCKS:
            raise ValidationError(
                {"paused_clocks": f"{clock!r} is not a clock; one of {', '.join(CLOCKS)}."}
            )
    return [clock for clock in CLOCKS if clock in clocks]


def _check_pausing(statuses: Any) -> list[str]:
    if statuses is None:
        return sorted(pausing_statuses())
    if not isinstance(statuses, list):
        raise ValidationError({"pausing_statuses": "Give a list of ticket statuses."})
    known = set(Status.values)
    cleaned: list[str] = []
    for status in statuses:
        if status not in known:
            raise ValidationError({"pausing_statuses": f"{status!r} is not a ticket status."})
        if status in (Status.RESOLVED, Status.CLOSED):
            raise ValidationError(
                {"pausing_statuses": f"{status} ends the ticket; it cannot pause a clock."}
            )
        if status not in cleaned:
            cleaned.append(str(status))
    return sorted(cleaned)


def _check_warning(step: Any) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise ValidationError({"warnings": f"A step is an object, got {step!r}."})
    extra = set(step) - {"percent", "minutes_before", "action", "clock", "team"}
    if extra:
        raise ValidationError({"warnings": f"Unknown step fields: {', '.join(sorted(extra))}."})
    if ("percent" in step) == ("minutes_before" in step):
        raise ValidationError({"warnings": "A step gives either percent or minutes_before."})
    cleaned: dict[str, Any] = {}
    if "percent" in step:
        value = step["percent"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 100:
            raise ValidationError({"warnings": "percent is a whole number from 1 to 99."})
        cleaned["percent"] = value
    else:
        value = step["minutes_before"]
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 < value < MAX_TARGET_MINUTES
        ):
            raise ValidationError({"warnings": "minutes_before is a positive whole number."})
        cleaned["minutes_before"] = value
    if step.get("action") not in WarningAction.values:
        raise ValidationError({"warnings": f"action is one of {', '.join(WarningAction.values)}."})
    cleaned["action"] = step["action"]
    team = step.get("team")
    if step["action"] == WarningAction.REASSIGN:
        if isinstance(team, bool) or not isinstance(team, int) or team < 1:
            raise ValidationError(
                {"warnings": "A reassign step names the team (its id) to take it."}
            )
        if not Team.objects.filter(pk=team).exists():
            raise ValidationError({"warnings": f"No team has id {team}."})
        cleaned["team"] = team
    elif team is not None:
        raise ValidationError({"warnings": "Only a reassign step names a team."})
    clock = step.get("clock")
    if clock is not None:
        if clock not in CLOCKS:
            raise ValidationError({"warnings": f"clock is one of {', '.join(CLOCKS)}."})
        cleaned["clock"] = clock
    return cleaned


def _check_warnings(steps: Any) -> list[dict[str, Any]]:
    if not isinstance(steps, list):
        raise ValidationError({"warnings": "Give a list of steps."})
    if len(steps) > MAX_WARNINGS:
        raise ValidationError({"warnings": f"At most {MAX_WARNINGS} steps."})
    cleaned = [_check_warning(step) for step in steps]
    seen: set[tuple[Any, ...]] = set()
    for step in cleaned:
        key = (step.get("clock"), step.get("percent"), step.get("minutes_before"))
        if key in seen:
            raise ValidationError({"warnings": f"Two steps fire at the same point: {step}."})
        seen.add(key)
    return cleaned


def _check_policy_calendar(organization: Organization | None, calendar: Any) -> Calendar:
    if not isinstance(calendar, Calendar):
        raise ValidationError({"calendar": "A calendar is required."})
    if calendar.organization_id is not None and calendar.organization_id != getattr(
        organization, "pk", None
    ):
        raise ValidationError(
            {"calendar": "Use a shared calendar or one of the policy's own organisation."}
        )
    return calendar


def _clean_policy(organization: Organization | None, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": _name(fields["name"]),
        "calendar": _check_policy_calendar(organization, fields["calendar"]),
        "targets": _check_targets(fields["targets"]),
        "pausing_statuses": _check_pausing(fields["pausing_statuses"]),
        "paused_clocks": _check_paused_clocks(fields["paused_clocks"]),
        "pause_on_maintenance": bool(fields["pause_on_maintenance"]),
        "warnings": _check_warnings(fields["warnings"]),
    }


@transaction.atomic
def create_policy(
    *,
    actor: User | None,
    organization: Organization | None,
    name: str,
    calendar: Calendar,
    targets: Any,
    pausing_statuses: Any = None,
    paused_clocks: Any = None,
    pause_on_maintenance: bool = True,
    warnings: Any = (),
) -> SlaPolicy:
    cleaned = _clean_policy(
        organization,
        {
            "name": name,
            "calendar": calendar,
            "targets": targets,
            "pausing_statuses": pausing_statuses,
            "paused_clocks": paused_clocks,
            "pause_on_maintenance": pause_on_maintenance,
            "warnings": list(warnings),
        },
    )
    policy = SlaPolicy.objects.create(organization=organization, **cleaned)
    audit.record_create(policy, actor=actor, organization=organization, fields=POLICY_FIELDS)
    return policy


@transaction.atomic
def update_policy(policy: SlaPolicy, *, actor: User | None, **changes: Any) -> SlaPolicy:
    unknown = set(changes) - POLICY_EDITABLE
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))}.")
    before = audit.snapshot(policy, POLICY_FIELDS)
    current = {field: getattr(policy, field) for field in POLICY_EDITABLE}
    old_calendar = policy.calendar
    cleaned = _clean_policy(policy.organization, {**current, **changes})
    for field, value in cleaned.items():
        setattr(policy, field, value)
    policy.updated_at = now()
    policy.save()
    _apply_to_open_clocks(
        [policy.pk],
        edited_at=policy.updated_at,
        old_calendar=calendar_snapshot(old_calendar)
        if old_calendar.pk != policy.calendar_id
        else None,
    )
    audit.record_update(
        policy, actor=actor, organization=policy.organization, before=before, fields=POLICY_FIELDS
    )
    return policy


@transaction.atomic
def delete_policy(policy: SlaPolicy, *, actor: User | None) -> None:
    positions = list(policy.rules.values_list("position", flat=True)[:5])
    if positions:
        raise ValidationError(
            {
                "policy": (
                    f"Policy {policy} is chosen by rules at positions "
                    f"{', '.join(map(str, positions))}; delete those rules first."
                )
            }
        )
    running = SlaClock.objects.filter(policy=policy, is_current=True).unmet().count()
    if running:
        raise ValidationError(
            {
                "policy": (
                    f"Policy {policy} runs the clocks of {running} open ticket(s); point the "
                    "rules at another policy and run `buttress sla replay` first."
                )
            }
        )
    pk = policy.pk
    audit.record_delete(
        policy, actor=actor, organization=policy.organization, fields=POLICY_FIELDS, object_id=pk
    )
    policy.delete()


def _check_rule(
    *,
    position: int,
    organization: Organization | None,
    ticket_type: str,
    category: str,
    priority: str,
    policy: SlaPolicy,
) -> None:
    if position < 1 or position > 2**31 - 1:
        raise ValidationError({"position": "position is a positive whole number."})
    taken = PolicyRule.objects.filter(position=position).first()
    if taken is not None:
        raise ValidationError({"position": f"Position {position} is taken by rule {taken}."})
    if ticket_type and ticket_type not in TicketType.values:
        raise ValidationError({"ticket_type": f"{ticket_type!r} is not a ticket type."})
    if priority and priority not in Priority.values:
        raise ValidationError({"priority": f"{priority!r} is not a priority."})
    if len(category) > 120:
        raise ValidationError({"category": "A category has at most 120 characters."})
    if policy.organization_id is not None and policy.organization_id != getattr(
        organization, "pk", None
    ):
        raise ValidationError(
            {"policy": "A rule may choose a shared policy or one of its own organisation."}
        )
    default = PolicyRule.objects.filter(
        organization__isnull=True, ticket_type="", category="", priority=""
    ).first()
    is_default = not (organization or ticket_type or category or priority)
    if default is not None and position > default.position:
        raise ValidationError(
            {
                "position": (
                    f"The default rule at position {default.position} matches every ticket; "
                    "a rule after it could never match."
                )
            }
        )
    if is_default and PolicyRule.objects.filter(position__gt=position).exists():
        raise ValidationError(
            {"position": "A default rule matches every ticket: it must come last."}
        )


@transaction.atomic
def create_rule(
    *,
    actor: User | None,
    policy: SlaPolicy,
    position: int | None = None,
    organization: Organization | None = None,
    ticket_type: str = "",
    category: str = "",
    priority: str = "",
) -> PolicyRule:
    """A rule at ``position``; without one, after every rule (a default must be last)."""
    category = category.strip()
    if position is None:
        highest = PolicyRule.objects.aggregate(top=Max("position"))["top"] or 0
        position = highest + RULE_STEP
    _check_rule(
        position=position,
        organization=organization,
        ticket_type=ticket_type,
        category=category,
        priority=priority,
        policy=policy,
    )
    rule = PolicyRule.objects.create(
        position=position,
        organization=organization,
        ticket_type=ticket_type,
        category=category,
        priority=priority,
        policy=policy,
    )
    audit.record_create(rule, actor=actor, organization=organization, fields=RULE_FIELDS)
    return rule


@transaction.atomic
def delete_rule(rule: PolicyRule, *, actor: User | None) -> None:
    pk = rule.pk
    audit.record_delete(
        rule, actor=actor, organization=rule.organization, fields=RULE_FIELDS, object_id=pk
    )
    rule.delete()


@transaction.atomic
def reorder_rules(order: Sequence[int], *, actor: User | None) -> list[PolicyRule]:
    """Renumber every rule in the given order of ids (10, 20, 30...), leaving room between."""
    rules = {
        rule.pk: rule
        for rule in PolicyRule.objects.select_for_update(of=("self",)).select_related(
            "organization"
        )
    }
    if len(set(order)) != len(order):
        raise ValidationError({"order": "An id appears twice."})
    if set(order) != set(rules):
        missing = sorted(set(rules) - set(order))
        unknown = sorted(set(order) - set(rules))
        raise ValidationError(
            {"order": f"Give every rule id exactly once (missing {missing}, unknown {unknown})."}
        )
    ordered = [rules[pk] for pk in order]
    for rule in ordered[:-1]:
        if rule.is_default:
            raise ValidationError(
                {"order": f"The default rule {rule.pk} matches every ticket: it must be last."}
            )
    # Two passes keep the unique position constraint true after every statement.
    offset = max((rule.position for rule in ordered), default=0) + 1
    for index, rule in enumerate(ordered, start=1):
        PolicyRule.objects.filter(pk=rule.pk).update(position=offset + index)
    for index, rule in enumerate(ordered, start=1):
        before = rule.position
        rule.position = index * RULE_STEP
        PolicyRule.objects.filter(pk=rule.pk).update(position=rule.position)
        if before != rule.position:
            audit.record(
                rule,
                actor=actor,
                action=AuditEntry.Action.UPDATE,
                organization=rule.organization,
                changes={"position": [before, rule.position]},
            )
    return ordered
