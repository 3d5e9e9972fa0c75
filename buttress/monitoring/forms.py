"""The monitor form: the monitor's own fields and one field per option of its kind's check.

The check's options are read from the probe spec (:mod:`buttress.monitoring.specs`), so the
form offers exactly what a monitor of the kind may set; every rule about their values is the
spec's and the service's, whose ValidationError is shown on the field it names (``config.url``
on the URL field).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from buttress.assets.models import Asset
from buttress.monitoring import services, specs
from buttress.monitoring.models import Monitor, MonitorKind, PrivateTargets, ScheduleKind
from buttress.tenancy.forms import timezone_choices
from buttress.web.forms import Form, add_service_errors, refuse_nul

CONFIG_PREFIX = "config_"
HEARTBEAT_FORM_FIELDS = ("slug", "schedule_kind", "period", "grace", "schedule", "tz")
LABELS = {
    "url": "URL",
    "json_assertions": "JSON assertions",
    "max_latency_ms": "Slowest answer (ms)",
    "max_rtt_ms": "Slowest round trip (ms)",
    "max_body_bytes": "Bytes of body read",
    "max_read_bytes": "Bytes read",
    "timeout": "Time-out (seconds)",
    "tls": "TLS",
    "verify_tls": "Verify the TLS certificate",
    "min_days_valid": "Certificate valid for at least (days)",
    "helo_name": "HELO name",
    "use_tcp": "Query over TCP",
    "keyword_present": "The keyword must be present (untick: must be absent)",
    "server_name": "Server name (SNI)",
    "nameserver": "Name server",
    "expected": "Expected answers",
    "expected_status": "Expected status",
    "interval": "Seconds between echo requests",
    "max_loss_percent": "Most packet loss (%)",
}
HELP = {
    "headers": "One header a line, as Name: value.",
    "expected_status": "Codes and ranges, comma-separated: 200-299, 301 or 2xx.",
    "json_assertions": 'A JSON list, e.g. [{"path": "status", "op": "==", "value": "ok"}]; '
    "the path is a JMESPath expression.",
    "expected": "One record a line; empty to accept any answer.",
    "expect": "A regular expression searched in what the server sends.",
    "send": "Text written once connected.",
    "keyword": "Text searched in the body.",
}


def config_field_name(option: str) -> str:
    return f"{CONFIG_PREFIX}{option}"


def add_monitor_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """The service's errors on the form: ``config.url`` on ``config_url``, and so on."""
    if not hasattr(exc, "error_dict"):
        add_service_errors(form, exc)
        return
    mapped: dict[str, list[str]] = {}
    for field, errors in exc.error_dict.items():
        messages = [m for error in errors for m in error.messages]
        if field.startswith("config."):
            option = field.removeprefix("config.")
            top = option.split(".")[0].split("[")[0]
            name = config_field_name(top)
            if name in form.fields:
                if option != top:
                    messages = [f"{option}: {m}" for m in messages]
                mapped.setdefault(name, []).extend(messages)
                continue
        mapped.setdefault(field, []).extend(messages)
    add_service_errors(form, ValidationError(mapped))


def _default(spec_field: dataclasses.Field[Any]) -> Any:
    if spec_field.default is not dataclasses.MISSING:
        return spec_field.default
    if spec_field.default_factory is not dataclasses.MISSING:
        return spec_field.default_factory()
    return None


def _types(hint: Any) -> set[Any]:
    """The plain types an annotation allows, None left out (a blank field leaves it unset)."""
    origin = typing.get_origin(hint)
    if origin in {typing.Union, types.UnionType}:
        return {
            typing.get_origin(arg) or arg for arg in typing.get_args(hint) if arg is not type(None)
        }
    return {origin or hint}


def _option_field(option: str, hint: Any, spec_field: dataclasses.Field[Any]) -> forms.Field:
    """The form field for one spec option; ``required`` when the spec has no default."""
    required = spec_field.default is dataclasses.MISSING and (
        spec_field.default_factory is dataclasses.MISSING
    )
    default = _default(spec_field)
    label = LABELS.get(option, option.replace("_", " ").capitalize())
    common: dict[str, Any] = {"label": label, "help_text": HELP.get(option, "")}
    kinds = _types(hint)
    if typing.get_origin(hint) is typing.Literal:
        choices = [(value, value) for value in typing.get_args(hint)]
        return forms.ChoiceField(choices=choices, initial=default, required=False, **common)
    if option == "json_assertions":
        return forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), **common)
    if option in {"headers", "expected"}:
        return forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), **common)
    if kinds == {bool}:
        return forms.BooleanField(required=False, initial=default, **common)
    if kinds == {int}:
        return forms.IntegerField(required=required, initial=default, **common)
    if kinds == {float}:
        return forms.FloatField(required=required, initial=default, **common)
    if option == "expected_status":
        return forms.CharField(required=False, initial=default, max_length=200, **common)
    initial = default if isinstance(default, str) else None
    return forms.CharField(
        required=required, initial=initial, max_length=2000, strip=True, **common
    )


def kind_options(kind: str) -> list[tuple[str, Any, dataclasses.Field[Any]]]:
    """(option, type, dataclass field) of each option a monitor of ``kind`` may set."""
    spec_class = specs.SPEC_CLASSES[kind]
    hints = typing.get_type_hints(spec_class)
    by_name = {f.name: f for f in dataclasses.fields(spec_class)}
    return [(name, hints[name], by_name[name]) for name in specs.options(kind)]


def _text_of(option: str, value: Any) -> Any:
    """A stored option's value as the form shows it."""
    if option == "headers" and isinstance(value, dict):
        return "\n".join(f"{name}: {text}" for name, text in value.items())
    if option == "expected" and isinstance(value, list | tuple):
        return "\n".join(str(item) for item in value)
    if option == "expected_status" and isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    if option == "json_assertions":
        return json.dumps(value) if value else ""
    return value


class MonitorForm(Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=MonitorKind.choices, initial=MonitorKind.HTTP)
    asset = forms.ModelChoiceField(queryset=Asset.objects.none(), required=False)
    interval = forms.IntegerField(
        label="Check every (seconds)",
        min_value=services.MIN_INTERVAL,
        max_value=services.MAX_INTERVAL,
        initial=60,
    )
    slug = forms.CharField(
        required=False,
        max_length=services.MAX_SLUG,
        help_text="For /ping/<ping key>/<slug> URLs: lowercase letters, digits, '-' and '_'.",
    )
    schedule_kind = forms.ChoiceField(
        label="Schedule", choices=ScheduleKind.choices, initial=ScheduleKind.SIMPLE
    )
    period = forms.IntegerField(
        label="Period (seconds)", initial=services.DEFAULT_PERIOD, required=False
    )
    grace = forms.IntegerField(label="Grace (seconds)", initial=services.DEFAULT_GRACE)
    schedule = forms.CharField(
        label="Cron expression",
        required=False,
        max_length=100,
        help_text="Five fields, e.g. 0 3 * * 1-5 (03:00 on weekdays).",
    )
    tz = forms.ChoiceField(label="Time zone", initial="UTC")

    def __init__(
        self,
        *args: Any,
        organization: Any,
        kind: str,
        monitor: Monitor | None = None,
        **kwargs: Any,
    ) -> None:
        if monitor is not None:
            kwargs.setdefault("initial", self.initial_for(monitor))
        super().__init__(*args, **kwargs)
        self.monitor = monitor
        self.check_kind = monitor.kind if monitor is not None else kind
        asset = self.fields["asset"]
        assert isinstance(asset, forms.ModelChoiceField)
        asset.queryset = Asset.objects.for_org(organization).only("id", "name").order_by("name")
        tz_field = self.fields["tz"]
        assert isinstance(tz_field, forms.ChoiceField)
        tz_field.choices = timezone_choices()
        if monitor is not None:
            # A monitor's kind never changes.
            del self.fields["kind"]
        if self.check_kind == MonitorKind.HEARTBEAT:
            del self.fields["interval"]
            self.options: list[tuple[str, Any, dataclasses.Field[Any]]] = []
        else:
            for name in HEARTBEAT_FORM_FIELDS:
                del self.fields[name]
            self.options = kind_options(self.check_kind)
            config = monitor.config if monitor is not None else {}
            for option, hint, spec_field in self.options:
                field = _option_field(option, hint, spec_field)
                name = config_field_name(option)
                self.fields[name] = field
                if option in config:
                    self.initial[name] = _text_of(option, config[option])

    @staticmethod
    def initial_for(monitor: Monitor) -> dict[str, Any]:
        return {
            "name": monitor.name,
            "asset": monitor.asset_id,
            "interval": monitor.interval,
            "slug": monitor.slug,
            "schedule_kind": monitor.schedule_kind,
            "period": monitor.period,
            "grace": monitor.grace,
            "schedule": monitor.schedule,
            "tz": monitor.tz,
        }

    def kind_field_names(self) -> list[str]:
        """The fields that depend on the kind, in the order shown."""
        if self.check_kind == MonitorKind.HEARTBEAT:
            return list(HEARTBEAT_FORM_FIELDS)
        return ["interval", *(config_field_name(option) for option, _, _ in self.options)]

    def common_fields(self) -> list[forms.BoundField]:
        names = set(self.kind_field_names())
        return [self[name] for name in self.fields if name not in names]

    def kind_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.kind_field_names()]

    def clean_name(self) -> str:
        return refuse_nul(self.cleaned_data["name"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for option, _, _ in self.options:
            name = config_field_name(option)
            value = cleaned.get(name)
            if isinstance(value, str) and "\x00" in value:
                self.add_error(name, "The text holds a NUL character.")
        if self.check_kind == MonitorKind.HEARTBEAT:
            if cleaned.get("schedule_kind") == ScheduleKind.CRON and not cleaned.get("schedule"):
                self.add_error("schedule", "Give a cron expression for a cron schedule.")
            if (
                cleaned.get("schedule_kind") == ScheduleKind.SIMPLE
                and cleaned.get("period") is None
            ):
                self.add_error("period", "Give the seconds between pings.")
        return cleaned

    def _option_value(self, option: str, value: Any) -> tuple[bool, Any]:
        """(whether the option is set, its config value); errors are added to the form."""
        name = config_field_name(option)
        if value is None or value == "":
            return False, None
        if option == "headers":
            headers: dict[str, str] = {}
            for number, line in enumerate(str(value).splitlines(), start=1):
                if not line.strip():
                    continue
                header, colon, text = line.partition(":")
                if not colon or not header.strip():
                    self.add_error(name, f"Line {number} is not Name: value.")
                    return False, None
                headers[header.strip()] = text.strip()
            return bool(headers), headers
        if option == "expected":
            items = [line.strip() for line in str(value).splitlines() if line.strip()]
            return bool(items), items
        if option == "json_assertions":
            try:
                parsed = json.loads(value)
            except ValueError as exc:
                self.add_error(name, f"Not valid JSON: {exc}.")
                return False, None
            return bool(parsed), parsed
        return True, value

    def config(self) -> dict[str, Any] | None:
        """The check's options, only those that differ from the defaults; None on an error."""
        if self.check_kind == MonitorKind.HEARTBEAT:
            return {}
        config: dict[str, Any] = {}
        for option, _, spec_field in self.options:
            given, value = self._option_value(
                option, self.cleaned_data.get(config_field_name(option))
            )
            if given and value != _default(spec_field):
                config[option] = value
        return None if self.errors else config

    def service_fields(self) -> dict[str, Any] | None:
        """Keyword arguments for create/update_monitor; None when the form has errors."""
        data = self.cleaned_data
        config = self.config()
        if config is None:
            return None
        fields: dict[str, Any] = {"name": data["name"], "asset": data.get("asset")}
        if self.check_kind == MonitorKind.HEARTBEAT:
            cron = data["schedule_kind"] == ScheduleKind.CRON
            fields |= {
                "slug": data["slug"],
                "schedule_kind": data["schedule_kind"],
                "period": data["period"] if data["period"] is not None else services.DEFAULT_PERIOD,
                "grace": data["grace"],
                "schedule": data["schedule"] if cron else "",
                "tz": data["tz"],
            }
        else:
            fields |= {"config": config, "interval": data["interval"]}
        return fields


class MonitoringSettingsForm(Form):
    """An organisation's monitoring policy."""

    private_targets = forms.ChoiceField(
        label="Private, loopback and link-local targets",
        choices=PrivateTargets.choices,
        widget=forms.RadioSelect,
        help_text="Checks of such addresses are refused unless this allows them; the runners "
        "follow a change within a lease cycle.",
    )
    resolve_incidents = forms.ChoiceField(
        label="When a monitor recovers",
        choices=[],  # set in __init__: the default's label names the installation's default
        widget=forms.RadioSelect,
        required=False,
        help_text="A recovery always adds a note to the incident; this decides whether it also "
        "resolves it (once none of its alerts fire).",
    )

    def __init__(self, *args: Any, resolves_by_default: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        default = "resolve" if resolves_by_default else "keep open"
        field = self.fields["resolve_incidents"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            ("", f"The installation's default (now: {default})"),
            (RESOLVE, "Resolve its incident"),
            (KEEP_OPEN, "Keep its incident open for an agent"),
        ]


RESOLVE, KEEP_OPEN = "resolve", "keep_open"


def resolve_choice(value: bool | None) -> str:
    """The form's value for a stored choice (None: the installation's default)."""
    return "" if value is None else RESOLVE if value else KEEP_OPEN


def resolve_value(choice: str) -> bool | None:
    return None if not choice else choice == RESOLVE
