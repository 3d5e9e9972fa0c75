"""The maintenance window form: text a person types, turned into what the services accept.

Every rule about what a window may hold is the service's; its ValidationError is shown on the
field it names (``duration`` on the minutes field).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.core.exceptions import ValidationError

from buttress.assets.models import Asset
from buttress.maintenance.models import MaintenanceWindow
from buttress.monitoring.models import Monitor
from buttress.tenancy.forms import timezone_choices
from buttress.web.forms import Form, ModelMultipleChoiceField, add_service_errors, refuse_nul

FIELD_OF = {"duration": "duration_minutes"}
MAX_MINUTES = 31 * 24 * 60


def add_window_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        exc = ValidationError(
            {FIELD_OF.get(field, field): errors for field, errors in exc.error_dict.items()}
        )
    add_service_errors(form, exc)


def local_wall(instant: datetime, timezone: str) -> str:
    """``instant`` as the zone's wall-clock time for a datetime-local input."""
    return instant.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


class WindowForm(Form):
    name = forms.CharField(max_length=200)
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    timezone = forms.ChoiceField(label="Time zone", initial="UTC")
    starts_at = forms.CharField(
        label="First start",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Local time in the window's time zone, e.g. 2026-12-06T02:00.",
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=1, max_value=MAX_MINUTES, initial=120
    )
    rrule = forms.CharField(
        label="Repeats (RRULE)",
        required=False,
        max_length=500,
        help_text="Empty for once; e.g. FREQ=WEEKLY;BYDAY=SU;COUNT=10 or "
        "FREQ=MONTHLY;BYDAY=1SA;UNTIL=20271231.",
    )
    assets = ModelMultipleChoiceField(
        queryset=Asset.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    monitors = ModelMultipleChoiceField(
        queryset=Monitor.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    suppress_alerts = forms.BooleanField(
        label="Suppress alerts and incidents", required=False, initial=True
    )
    pause_sla = forms.BooleanField(
        label="Pause SLA clocks of tickets on these assets", required=False, initial=True
    )

    def __init__(self, *args: Any, organization: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tz_field = self.fields["timezone"]
        assert isinstance(tz_field, forms.ChoiceField)
        tz_field.choices = timezone_choices()
        assets = self.fields["assets"]
        assert isinstance(assets, forms.ModelMultipleChoiceField)
        assets.queryset = Asset.objects.for_org(organization).only("id", "name")
        monitors = self.fields["monitors"]
        assert isinstance(monitors, forms.ModelMultipleChoiceField)
        monitors.queryset = Monitor.objects.for_org(organization).only("id", "name")

    @classmethod
    def initial_for(cls, window: MaintenanceWindow) -> dict[str, Any]:
        return {
            "name": window.name,
            "reason": window.reason,
            "timezone": window.timezone,
            "starts_at": local_wall(window.starts_at, window.timezone),
            "duration_minutes": int(window.duration.total_seconds() // 60),
            "rrule": window.rrule,
            "assets": list(window.assets.all()),
            "monitors": list(window.monitors.all()),
            "suppress_alerts": window.suppress_alerts,
            "pause_sla": window.pause_sla,
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        text = str(cleaned.get("starts_at") or "").strip()
        zone = cleaned.get("timezone")
        if not text or not zone:
            return cleaned
        try:
            naive = datetime.fromisoformat(text)
        except ValueError:
            self.add_error("starts_at", f"{text!r} is not a date and time like 2026-12-06T02:00.")
            return cleaned
        if naive.tzinfo is None:
            try:
                naive = naive.replace(tzinfo=ZoneInfo(zone), fold=0)
            except (ZoneInfoNotFoundError, ValueError):
                self.add_error("timezone", "Choose a listed time zone.")
                return cleaned
        cleaned["starts_at"] = naive
        return cleaned

    def clean_name(self) -> str:
        return refuse_nul(self.cleaned_data["name"])

    def clean_reason(self) -> str:
        return refuse_nul(self.cleaned_data["reason"])

    def clean_rrule(self) -> str:
        return refuse_nul(self.cleaned_data["rrule"])

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "reason": data["reason"],
            "timezone": data["timezone"],
            "starts_at": data["starts_at"],
            "duration": timedelta(minutes=data["duration_minutes"]),
            "rrule": data["rrule"],
            "assets": list(data["assets"]),
            "monitors": list(data["monitors"]),
            "suppress_alerts": data["suppress_alerts"],
            "pause_sla": data["pause_sla"],
        }
