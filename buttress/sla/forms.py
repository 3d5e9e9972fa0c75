"""Forms for SLA configuration: text a person types, turned into the values services accept.

The forms only parse; every rule about what a calendar or policy may hold is the service's,
and its ValidationError is shown on the field it names (see ``add_sla_errors``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.core.exceptions import ValidationError

from buttress.accounts.models import Team
from buttress.desk.models import Priority, Status, TicketType
from buttress.sla.models import CLOCKS, PRIORITIES, WarningAction, parse_instant, parse_weekly
from buttress.sla.services import MAX_TARGET_MINUTES
from buttress.tenancy.forms import timezone_choices
from buttress.web.forms import Form, add_service_errors, refuse_nul

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CLOCK_LABELS = {
    "first_response": "First response",
    "next_response": "Next response",
    "resolution": "Resolution",
}
SHARED = ("", "Shared (every organisation)")
# Clocks stop for good at these; a policy cannot pause on them.
PAUSABLE = [
    (value, label) for value, label in Status.choices if value not in ("resolved", "closed")
]
# Where a service's error about a value spread over several inputs is shown.
FIELD_OF = {"weekly": "day_0"}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def add_sla_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        exc = ValidationError(
            {FIELD_OF.get(field, field): errors for field, errors in exc.error_dict.items()}
        )
    add_service_errors(form, exc)


def organization_choices(organizations: Any, *, shared: bool) -> list[tuple[str, str]]:
    choices = [SHARED] if shared else []
    return choices + [(str(org.pk), org.name) for org in organizations]


def parse_windows(text: str) -> list[list[str]]:
    """``"09:00-12:30, 13:30-17:00"`` as ``[["09:00", "12:30"], ["13:30", "17:00"]]``."""
    windows = []
    for part in refuse_nul(text).replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        start, dash, end = part.partition("-")
        if not dash:
            raise ValidationError(f"{part!r}: write a window as HH:MM-HH:MM.")
        windows.append([start.strip(), end.strip()])
    try:
        parse_weekly({"0": windows})
    except ValueError as exc:
        raise ValidationError(str(exc).removeprefix("weekday 0: ")) from exc
    return windows


def format_windows(windows: list[list[str]]) -> str:
    return ", ".join(f"{start}-{'24:00' if end == '00:00' else end}" for start, end in windows)


class CalendarForm(Form):
    organization = forms.ChoiceField(required=False)
    name = forms.CharField(max_length=120)
    timezone = forms.ChoiceField(label="Time zone", initial="UTC")
    holidays = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One date a line, e.g. 2026-12-24.",
    )
    holiday_country = forms.CharField(
        label="Public holidays of country",
        required=False,
        max_length=8,
        help_text="ISO code, e.g. DE. Empty for none.",
    )
    holiday_subdivision = forms.CharField(
        label="Subdivision", required=False, max_length=16, help_text="e.g. BY. Optional."
    )
    closures = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One closure a line: start and end with UTC offset, e.g. "
        "2026-06-12T13:00+02:00 2026-06-12T17:00+02:00.",
    )

    def __init__(self, *args: Any, organizations: Any, editing: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        org_field = self.fields["organization"]
        assert isinstance(org_field, forms.ChoiceField)
        org_field.choices = organization_choices(organizations, shared=True)
        org_field.disabled = editing
        tz_field = self.fields["timezone"]
        assert isinstance(tz_field, forms.ChoiceField)
        tz_field.choices = timezone_choices()
        for day, label in enumerate(WEEKDAYS):
            self.fields[f"day_{day}"] = forms.CharField(
                label=label,
                required=False,
                help_text="e.g. 09:00-12:30, 13:30-17:00; empty for closed." if day == 0 else "",
            )
        order = ["organization", "name", "timezone", *[f"day_{d}" for d in range(7)]]
        self.order_fields(order)

    @classmethod
    def initial_for(cls, calendar: Any) -> dict[str, Any]:
        initial = {
            "organization": str(calendar.organization_id or ""),
            "name": calendar.name,
            "timezone": calendar.timezone,
            "holidays": "\n".join(calendar.holidays),
            "holiday_country": calendar.holiday_country,
            "holiday_subdivision": calendar.holiday_subdivision,
            "closures": "\n".join(f"{start} {end}" for start, end in calendar.closures),
        }
        for day in range(7):
            initial[f"day_{day}"] = format_windows(calendar.weekly.get(str(day), []))
        return initial

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        weekly = {}
        for day in range(7):
            text = cleaned.get(f"day_{day}")
            if text is None:
                continue
            try:
                windows = parse_windows(text)
            except ValidationError as exc:
                self.add_error(f"day_{day}", exc)
                continue
            if windows:
                weekly[str(day)] = windows
        cleaned["weekly"] = weekly
        return cleaned

    def clean_holidays(self) -> list[str]:
        return _lines(refuse_nul(self.cleaned_data["holidays"]))

    def clean_closures(self) -> list[list[str]]:
        pairs = []
        for line in _lines(refuse_nul(self.cleaned_data["closures"])):
            parts = line.split()
            if len(parts) != 2:
                raise ValidationError(f"{line!r}: give a start and an end separated by a space.")
            pairs.append(parts)
        return pairs

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "timezone": data["timezone"],
            "weekly": data["weekly"],
            "holidays": data["holidays"],
            "holiday_country": refuse_nul(data["holiday_country"]),
            "holiday_subdivision": refuse_nul(data["holiday_subdivision"]),
            "closures": data["closures"],
        }


class TryForm(Form):
    start = forms.CharField(
        help_text="ISO date and time, e.g. 2026-11-27T16:00; without an offset it is read in "
        "the calendar's time zone."
    )
    minutes = forms.IntegerField(min_value=0, max_value=MAX_TARGET_MINUTES)

    def __init__(self, *args: Any, timezone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timezone = timezone

    def clean_start(self) -> datetime:
        return local_instant(self.cleaned_data["start"], self.timezone)


def local_instant(text: str, timezone: str) -> datetime:
    """An ISO date and time; without an offset it is read in ``timezone``."""
    text = refuse_nul(text.strip())
    try:
        return parse_instant(text)
    except ValueError:
        pass
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{text!r} is not an ISO 8601 date and time.") from None
    if naive.tzinfo is not None:
        raise ValidationError(f"{text!r} has no usable UTC offset.")
    try:
        return naive.replace(tzinfo=ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(str(exc)) from exc


def target_name(priority: str, clock: str) -> str:
    return f"target_{priority}_{clock}"


def parse_warning(line: str) -> dict[str, Any]:
    """``"80% notify"``, ``"30m reassign to Network"``, ``"90% raise_priority"``, each
    optionally followed by the clock it watches."""
    parts = line.split()
    if len(parts) < 2:
        raise ValidationError(
            f"{line!r}: write e.g. '80% notify' or '30m reassign to Network resolution'."
        )
    point, action, rest = parts[0], parts[1], parts[2:]
    step: dict[str, Any] = {"action": action}
    number = point[:-1]
    if point.endswith("%") and number.isdigit() and len(number) < 4:
        step["percent"] = int(number)
    elif point.endswith("m") and number.isdigit() and len(number) < 10:
        step["minutes_before"] = int(number)
    else:
        raise ValidationError(f"{point!r}: give a percentage (80%) or minutes before (30m).")
    if action not in WarningAction.values:
        raise ValidationError(
            f"{action!r}: the action is one of {', '.join(WarningAction.values)}."
        )
    if rest and rest[-1] in CLOCKS:
        step["clock"] = rest.pop()
    if action == WarningAction.REASSIGN:
        if rest[:1] == ["to"]:
            rest = rest[1:]
        name = " ".join(rest)
        team = Team.objects.filter(name__iexact=name).first() if name else None
        if team is None:
            raise ValidationError(
                f"{line!r}: name the team to reassign to ('30m reassign to Network')."
            )
        step["team"] = team.pk
    elif rest:
        raise ValidationError(f"{line!r}: {' '.join(rest)!r} is not a clock ({', '.join(CLOCKS)}).")
    return step


def format_warning(step: dict[str, Any]) -> str:
    point = f"{step['percent']}%" if "percent" in step else f"{step['minutes_before']}m"
    words = [point, step["action"]]
    if "team" in step:
        team = Team.objects.filter(pk=step["team"]).first()
        words += ["to", team.name if team else f"(team {step['team']} is gone)"]
    if "clock" in step:
        words.append(step["clock"])
    return " ".join(words)


class PolicyForm(Form):
    organization = forms.ChoiceField(required=False)
    name = forms.CharField(max_length=120)
    calendar = forms.ChoiceField()
    pausing_statuses = forms.MultipleChoiceField(
        label="Clocks pause while the ticket is",
        required=False,
        choices=PAUSABLE,
        widget=forms.CheckboxSelectMultiple,
    )
    paused_clocks = forms.MultipleChoiceField(
        label="Those statuses pause",
        required=False,
        choices=[(clock, CLOCK_LABELS[clock]) for clock in CLOCKS],
        widget=forms.CheckboxSelectMultiple,
    )
    pause_on_maintenance = forms.BooleanField(
        label="Pause while an affected asset is in maintenance", required=False, initial=True
    )
    warnings = forms.CharField(
        label="Warning steps",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One a line: '80% notify', '30m reassign to <team>', '95% raise_priority', "
        "optionally followed by one clock "
        f"({', '.join(CLOCKS)}). Actions: {', '.join(WarningAction.values)}.",
    )

    def __init__(
        self, *args: Any, organizations: Any, calendars: Any, editing: bool = False, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        org_field = self.fields["organization"]
        assert isinstance(org_field, forms.ChoiceField)
        org_field.choices = organization_choices(organizations, shared=True)
        org_field.disabled = editing
        calendar_field = self.fields["calendar"]
        assert isinstance(calendar_field, forms.ChoiceField)
        calendar_field.choices = [
            (str(c.pk), f"{c.name} ({c.organization.name if c.organization else 'shared'})")
            for c in calendars
        ]
        for priority in PRIORITIES:
            for clock in CLOCKS:
                self.fields[target_name(priority, clock)] = forms.IntegerField(
                    label=f"{priority} {CLOCK_LABELS[clock].lower()} (minutes)",
                    min_value=1,
                    max_value=MAX_TARGET_MINUTES,
                    widget=forms.NumberInput(attrs={"class": "input--narrow"}),
                )

    @classmethod
    def initial_for(cls, policy: Any) -> dict[str, Any]:
        initial = {
            "organization": str(policy.organization_id or ""),
            "name": policy.name,
            "calendar": str(policy.calendar_id),
            "pausing_statuses": list(policy.pausing_statuses),
            "paused_clocks": list(policy.paused_clocks),
            "pause_on_maintenance": policy.pause_on_maintenance,
            "warnings": "\n".join(format_warning(step) for step in policy.warnings),
        }
        for priority in PRIORITIES:
            for clock in CLOCKS:
                initial[target_name(priority, clock)] = policy.targets[priority][clock]
        return initial

    @property
    def plain_fields(self) -> list[forms.BoundField]:
        return [field for field in self if not field.name.startswith("target_")]

    @property
    def target_rows(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [
            (priority, [self[target_name(priority, clock)] for clock in CLOCKS])
            for priority in PRIORITIES
        ]

    @property
    def clock_labels(self) -> list[str]:
        return [CLOCK_LABELS[clock] for clock in CLOCKS]

    def clean_warnings(self) -> list[dict[str, Any]]:
        return [parse_warning(line) for line in _lines(refuse_nul(self.cleaned_data["warnings"]))]

    def targets(self) -> dict[str, dict[str, int]]:
        return {
            priority: {clock: self.cleaned_data[target_name(priority, clock)] for clock in CLOCKS}
            for priority in PRIORITIES
        }


class RuleForm(Form):
    organization = forms.ChoiceField(label="Organisation", required=False)
    ticket_type = forms.ChoiceField(
        label="Ticket type", required=False, choices=[("", "Any"), *TicketType.choices]
    )
    category = forms.CharField(
        required=False, max_length=120, help_text="Matched ignoring case. Empty for any."
    )
    priority = forms.ChoiceField(required=False, choices=[("", "Any"), *Priority.choices])
    policy = forms.ChoiceField()

    def __init__(self, *args: Any, organizations: Any, policies: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        org_field = self.fields["organization"]
        assert isinstance(org_field, forms.ChoiceField)
        org_field.choices = [("", "Any"), *organization_choices(organizations, shared=False)]
        policy_field = self.fields["policy"]
        assert isinstance(policy_field, forms.ChoiceField)
        policy_field.choices = [
            (str(p.pk), f"{p.name} ({p.organization.name if p.organization else 'shared'})")
            for p in policies
        ]

    def clean_category(self) -> str:
        return refuse_nul(self.cleaned_data["category"])


HISTORY_KINDS = ("status", "priority", "reply", "maintenance")


class SimulatorForm(Form):
    """A made-up ticket under one policy: when is each target due, when does each warning fire?"""

    policy = forms.ChoiceField()
    created_at = forms.CharField(
        label="Created at",
        help_text="ISO date and time, e.g. 2026-11-27T16:00; without an offset it is read in "
        "the policy calendar's time zone.",
    )
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.P3)
    history = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One event a line, in time order: '2026-11-27 16:20 reply agent', "
        "'... reply customer', '... status waiting_on_customer', '... priority P1', "
        "'... maintenance start', '... maintenance end'.",
    )

    def __init__(self, *args: Any, policies: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policies = {str(policy.pk): policy for policy in policies}
        field = self.fields["policy"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(pk, policy.name) for pk, policy in self.policies.items()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        policy = self.policies.get(str(cleaned.get("policy")))
        if policy is None:
            return cleaned
        cleaned["policy"] = policy
        zone = policy.calendar.timezone
        try:
            cleaned["created_at"] = local_instant(cleaned.get("created_at", ""), zone)
        except ValidationError as exc:
            self.add_error("created_at", exc)
            return cleaned
        items: list[dict[str, Any]] = []
        for number, line in enumerate(refuse_nul(cleaned.get("history", "")).splitlines(), 1):
            words = line.split()
            if not words:
                continue
            if len(words) >= 2 and len(words[1]) in (5, 8) and words[1][2:3] == ":":
                words = [f"{words[0]}T{words[1]}", *words[2:]]
            if len(words) != 3 or words[1] not in HISTORY_KINDS:
                self.add_error(
                    "history",
                    f"Line {number}: write '<date> <time> {'|'.join(HISTORY_KINDS)} <value>'.",
                )
                return cleaned
            try:
                at = local_instant(words[0], zone)
            except ValidationError as exc:
                self.add_error("history", f"Line {number}: {' '.join(exc.messages)}")
                return cleaned
            items.append({"at": at, words[1]: words[2]})
        cleaned["history"] = items
        return cleaned


MAX_REPORT_DAYS = 3660


class ReportForm(Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        label="Until", widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive."
    )
    organization = forms.ChoiceField(label="Organisation", required=False)
    policy = forms.ChoiceField(label="Policy", required=False)

    def __init__(self, *args: Any, organizations: Any, policies: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        org_field = self.fields["organization"]
        assert isinstance(org_field, forms.ChoiceField)
        org_field.choices = [("", "All organisations")] + [
            (str(org.pk), org.name) for org in organizations
        ]
        policy_field = self.fields["policy"]
        assert isinstance(policy_field, forms.ChoiceField)
        policy_field.choices = [("", "All policies")] + [(str(p.pk), p.name) for p in policies]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The period ends before it starts.")
            elif (end - start).days > MAX_REPORT_DAYS:
                self.add_error("end", "A report covers at most ten years.")
        return cleaned
