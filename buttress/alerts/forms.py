"""Forms of the alert pages: text a person types, turned into what the services accept.

Every rule about what an integration, routing rule or silence may hold is the service's; its
ValidationError is shown on the field it names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.db.models import Q

from buttress.alerts.models import IntegrationKind
from buttress.alerts.services.integrations import CREATABLE_KINDS
from buttress.assets.models import Asset
from buttress.desk.models import Level
from buttress.escalation.models import EscalationPolicy
from buttress.tenancy.models import Organization
from buttress.web.forms import Form, refuse_nul, strip_nul

LEVEL_CHOICES = [("", "From the alert's severity"), *Level.choices]


def policies_for(organizations: Any) -> Any:
    """The escalation policies the organisations may use: their own and the shared ones."""
    return (
        EscalationPolicy.objects.filter(Q(organization__in=organizations) | Q(organization=None))
        .select_related("organization")
        .order_by("name", "pk")
    )


def _policy_field(help_text: str) -> forms.ModelChoiceField[EscalationPolicy]:
    return forms.ModelChoiceField(
        label="Escalation policy",
        queryset=EscalationPolicy.objects.none(),
        required=False,
        empty_label="The default",
        help_text=help_text,
    )


def _lines(text: str) -> list[str]:
    return [line.strip() for line in refuse_nul(text).splitlines() if line.strip()]


class IntegrationForm(Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none())
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(
        choices=[(k, label) for k, label in IntegrationKind.choices if k in CREATABLE_KINDS]
    )
    escalation_policy = _policy_field(
        "Pages for its incidents unless a routing rule names a policy; the default is the "
        "organisation's default policy."
    )

    def __init__(self, *args: Any, organizations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organization"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = organizations
        policy = self.fields["escalation_policy"]
        assert isinstance(policy, forms.ModelChoiceField)
        policy.queryset = policies_for(organizations)

    def clean_name(self) -> str:
        return refuse_nul(self.cleaned_data["name"])


class IntegrationPolicyForm(Form):
    escalation_policy = _policy_field(
        "Pages for the integration's incidents unless a routing rule names a policy."
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["escalation_policy"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = policies_for([organization])


class RoutingRuleForm(Form):
    name = forms.CharField(max_length=120)
    matchers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='One per line, e.g. severity="critical" or instance=~"db.*" (anchored). '
        "All must match; none matches every alert.",
    )
    is_enabled = forms.BooleanField(label="Enabled", required=False, initial=True)
    continue_matching = forms.BooleanField(
        label="Continue: later matching rules fill what this one leaves unset", required=False
    )
    asset = forms.ModelChoiceField(
        queryset=Asset.objects.none(), required=False, help_text="Linked to the incident."
    )
    category = forms.CharField(label="Service / category", max_length=120, required=False)
    impact = forms.ChoiceField(choices=LEVEL_CHOICES, required=False)
    urgency = forms.ChoiceField(choices=LEVEL_CHOICES, required=False)
    group_by = forms.CharField(
        label="Group by labels",
        required=False,
        help_text="Comma-separated label names; empty keeps the sender's grouping.",
    )
    group_window_minutes = forms.IntegerField(
        label="Group window (minutes)", required=False, min_value=1
    )
    escalation_policy = _policy_field(
        "Pages for the incidents it opens; the default is the integration's policy, else the "
        "organisation's default."
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["asset"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Asset.objects.filter(organization=organization).order_by("name")
        policy = self.fields["escalation_policy"]
        assert isinstance(policy, forms.ModelChoiceField)
        policy.queryset = policies_for([organization])

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": refuse_nul(data["name"]),
            "matchers": _lines(data["matchers"]),
            "is_enabled": data["is_enabled"],
            "continue_matching": data["continue_matching"],
            "asset": data["asset"],
            "category": strip_nul(data["category"]),
            "impact": data["impact"],
            "urgency": data["urgency"],
            "group_by": [
                label.strip() for label in refuse_nul(data["group_by"]).split(",") if label.strip()
            ],
            "group_window_minutes": data["group_window_minutes"],
            "escalation_policy": data["escalation_policy"],
        }


class SilenceForm(Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none())
    matchers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='One per line, e.g. alertname="HostDown" or instance=~"web.*".',
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes, from now)", min_value=1, initial=120
    )
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, organizations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organization"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = organizations

    def service_fields(self, at: datetime) -> dict[str, Any]:
        data = self.cleaned_data
        try:
            ends_at = at.astimezone(UTC) + timedelta(minutes=data["duration_minutes"])
        except OverflowError:
            ends_at = datetime.max.replace(tzinfo=UTC)
        return {
            "matchers": _lines(data["matchers"]),
            "ends_at": ends_at,
            "comment": strip_nul(data["comment"]),
        }


FIELD_OF = {"ends_at": "duration_minutes", "starts_at": "duration_minutes"}
