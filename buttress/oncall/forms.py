"""On-call forms: text a person types, turned into what the services accept.

Every rule about what a schedule, layer or override may hold is the service's; its
ValidationError is shown on the field it names.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.db.models.functions import Lower

from buttress.accounts.models import STAFF_ROLES, Team, User
from buttress.oncall.models import Layer, Rotation, Schedule, ShiftUnit
from buttress.tenancy.forms import timezone_choices
from buttress.tenancy.models import Organization
from buttress.web.forms import Form, refuse_nul

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WINDOW_LINE = re.compile(
    r"^(?P<first>[a-z]{3})[a-z]*(?:\s*-\s*(?P<last>[a-z]{3})[a-z]*)?\s+"
    r"(?P<start>\d{2}:\d{2})\s*-\s*(?P<end>\d{2}:\d{2})$"
)


def parse_windows(text: str) -> dict[str, list[list[str]]]:
    """``Mon-Fri 09:00-17:00`` lines as the services' restriction object."""
    found: dict[str, list[list[str]]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lower()
        if not line:
            continue
        match = WINDOW_LINE.match(line)
        if match is None or match["first"] not in DAYS or (match["last"] or "mon") not in DAYS:
            raise ValidationError(
                f"Line {number}: write a day or days and a time window, e.g. Mon-Fri 09:00-17:00."
            )
        first = DAYS.index(match["first"])
        last = DAYS.index(match["last"]) if match["last"] else first
        if last < first:
            raise ValidationError(f"Line {number}: the days run Monday to Sunday.")
        for day in range(first, last + 1):
            found.setdefault(str(day), []).append([match["start"], match["end"]])
    return found


def staff_choices() -> list[tuple[str, str]]:
    users = User.objects.filter(role__in=STAFF_ROLES, is_active=True).order_by("email")
    return [(str(user.pk), f"{user.display_name} <{user.email}>") for user in users[:1000]]


def local_wall(instant: datetime, timezone: str) -> str:
    return instant.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


def _choice(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


class ScheduleForm(Form):
    organization = forms.ChoiceField(
        required=False, help_text="Empty: a provider-wide schedule, for every organisation."
    )
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    timezone = forms.ChoiceField(label="Time zone", initial="UTC")
    team = forms.ChoiceField(required=False)

    def __init__(
        self, *args: Any, organizations: Any, editing: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "timezone").choices = timezone_choices()
        _choice(self, "team").choices = [("", "—")] + [
            (str(t.pk), t.name) for t in Team.objects.order_by("name")[:500]
        ]
        if editing:
            del self.fields["organization"]
        else:
            _choice(self, "organization").choices = [("", "Provider-wide")] + [
                (str(o.pk), o.name) for o in organizations
            ]

    @staticmethod
    def initial_for(schedule: Schedule) -> dict[str, Any]:
        return {
            "name": schedule.name,
            "description": schedule.description,
            "timezone": schedule.timezone,
            "team": str(schedule.team_id or ""),
        }

    def clean_name(self) -> str:
        return refuse_nul(self.cleaned_data["name"])

    def clean_description(self) -> str:
        return refuse_nul(self.cleaned_data["description"])

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "timezone": data["timezone"],
            "team": int(data["team"]) if data["team"] else None,
        }

    def chosen_organization(self, organizations: Any) -> Organization | None:
        pk = self.cleaned_data.get("organization")
        return next((o for o in organizations if str(o.pk) == pk), None) if pk else None


class LayerForm(Form):
    name = forms.CharField(max_length=120)
    rotation = forms.ChoiceField(choices=Rotation.choices, initial=Rotation.WEEKLY)
    shift_length = forms.IntegerField(
        min_value=1, initial=1, help_text="For a custom rotation: how many hours or days."
    )
    shift_unit = forms.ChoiceField(choices=ShiftUnit.choices, initial=ShiftUnit.DAYS)
    start_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="The first shift's day."
    )
    handoff_time = forms.TimeField(
        initial="09:00",
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="Local time of each handoff, in the schedule's zone.",
    )
    participants = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Email addresses of provider staff, one a line, in rotation order.",
    )
    restrictions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional, one window a line, e.g. Mon-Fri 09:00-17:00. Empty: always.",
    )
    position = forms.IntegerField(
        required=False, min_value=0, help_text="Higher wins. Empty: on top of the others."
    )

    @staticmethod
    def initial_for(layer: Layer) -> dict[str, Any]:
        emails = [m.user.email for m in layer.members.select_related("user").order_by("position")]
        return {
            "name": layer.name,
            "rotation": layer.rotation,
            "shift_length": layer.shift_length,
            "shift_unit": layer.shift_unit,
            "start_date": layer.start_date,
            "handoff_time": layer.handoff_time.strftime("%H:%M"),
            "participants": "\n".join(emails),
            "restrictions": "\n".join(layer.restriction_lines),
            "position": layer.position,
        }

    def clean_name(self) -> str:
        return refuse_nul(self.cleaned_data["name"])

    def clean_participants(self) -> list[int]:
        emails = [line.strip() for line in self.cleaned_data["participants"].splitlines()]
        emails = [email for email in emails if email]
        if len(emails) > 100:
            raise ValidationError("At most 100 turns.")
        lowered = [email.lower() for email in emails]
        known = {
            u.email.lower(): u.pk
            for u in User.objects.annotate(low=Lower("email")).filter(low__in=lowered)
        }
        ids = []
        for email in emails:
            if email.lower() not in known:
                raise ValidationError(f"No user {email}.")
            ids.append(known[email.lower()])
        return ids

    def clean_restrictions(self) -> dict[str, list[list[str]]]:
        return parse_windows(refuse_nul(self.cleaned_data["restrictions"]))

    def service_fields(self) -> dict[str, Any]:
        fields = dict(self.cleaned_data)
        if fields.get("position") is None:
            fields.pop("position", None)
        return fields


class OverrideForm(Form):
    user = forms.ChoiceField(label="On call instead", help_text="Who takes the time.")
    replaces = forms.ChoiceField(
        label="Swap with",
        required=False,
        help_text="Optional: take only this person's shifts within the time (a shift swap). "
        "Empty: an override of whoever is on call, or of nobody.",
    )
    starts_at = forms.CharField(
        label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.CharField(
        label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    note = forms.CharField(required=False, max_length=500)

    def __init__(self, *args: Any, schedule: Schedule, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schedule = schedule
        choices = staff_choices()
        _choice(self, "user").choices = choices
        _choice(self, "replaces").choices = [("", "—"), *choices]
        zone = schedule.timezone
        self.fields["starts_at"].help_text = f"Local time in {zone}."
        self.fields["ends_at"].help_text = f"Local time in {zone}."

    def _local(self, field: str) -> datetime:
        """The browser sends wall-clock time of the schedule's zone (not the person's): the
        first of two readings in a repeated hour, a reading in a gap with the offset before."""
        text = self.cleaned_data[field].strip().replace(" ", "T")
        try:
            value = datetime.strptime(text[:16], "%Y-%m-%dT%H:%M")  # noqa: DTZ007 - local
        except ValueError:
            raise ValidationError("Give a date and time, e.g. 2026-12-24T18:00.") from None
        return value.replace(tzinfo=ZoneInfo(self.schedule.timezone))

    def clean_starts_at(self) -> datetime:
        return self._local("starts_at")

    def clean_ends_at(self) -> datetime:
        return self._local("ends_at")

    def clean_note(self) -> str:
        return refuse_nul(self.cleaned_data["note"])

    def service_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "user": int(self.cleaned_data["user"]),
            "starts_at": self.cleaned_data["starts_at"],
            "ends_at": self.cleaned_data["ends_at"],
            "note": self.cleaned_data["note"],
        }
        if self.cleaned_data.get("replaces"):
            fields["replaces"] = int(self.cleaned_data["replaces"])
        return fields


LOOKUP_ROWS = 500


class LookupForm(Form):
    """Who is on call at an instant or over a range, in the schedule's own time zone."""

    at = forms.CharField(
        label="At",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    start = forms.CharField(
        label="From",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    end = forms.CharField(
        label="Until",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args: Any, schedule: Schedule, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schedule = schedule
        for name in ("at", "start", "end"):
            self.fields[name].help_text = f"Local time in {schedule.timezone}."

    def _local(self, field: str) -> datetime | None:
        """Wall-clock time of the schedule's zone, read as the override form reads it."""
        text = refuse_nul(self.cleaned_data.get(field) or "").strip().replace(" ", "T")
        if not text:
            return None
        try:
            value = datetime.strptime(text[:16], "%Y-%m-%dT%H:%M")  # noqa: DTZ007 - local
        except ValueError:
            raise ValidationError("Give a date and time, e.g. 2026-12-24T18:00.") from None
        if not 1971 <= value.year <= 2198:
            raise ValidationError("Ask about 1971 to 2198.")
        return value.replace(tzinfo=ZoneInfo(self.schedule.timezone))

    def clean_at(self) -> datetime | None:
        return self._local("at")

    def clean_start(self) -> datetime | None:
        return self._local("start")

    def clean_end(self) -> datetime | None:
        return self._local("end")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        at, start, end = data.get("at"), data.get("start"), data.get("end")
        if self.errors:
            return data
        if at is not None and (start is not None or end is not None):
            raise ValidationError("Give either an instant or a range, not both.")
        if at is None and start is None and end is None:
            raise ValidationError("Give an instant, or the start and end of a range.")
        if at is None:
            if start is None:
                self.add_error("start", "Give the start of the range too.")
            elif end is None:
                self.add_error("end", "Give the end of the range too.")
            elif end <= start:
                self.add_error("end", "The range must end after it starts.")
        return data
