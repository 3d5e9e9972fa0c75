"""The incident panel's and the postmortem page's forms."""

from __future__ import annotations

from typing import Any

from django import forms

from buttress.accounts.models import User
from buttress.desk.forms import UserChoiceField
from buttress.response.models import ActionKind, Phase, RoleKind, Severity, Visibility
from buttress.web.forms import Form, strip_nul


class PanelForm(Form):
    """The panel's forms share the ticket page with the desk's: their ids are kept apart."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "incident-%s")
        super().__init__(*args, **kwargs)


class SeverityForm(PanelForm):
    severity = forms.ChoiceField(choices=Severity.choices)
    reason = forms.CharField(required=False, max_length=500)

    def clean_reason(self) -> str:
        return strip_nul(self.cleaned_data["reason"])


class RoleForm(PanelForm):
    role = forms.ChoiceField(choices=RoleKind.choices)
    user = UserChoiceField(queryset=User.objects.none(), label="Person")
    title = forms.CharField(required=False, max_length=80, help_text="For other roles.")

    def __init__(self, *args: Any, responders: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["user"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = responders

    def clean_title(self) -> str:
        return strip_nul(self.cleaned_data["title"])


class UpdateForm(PanelForm):
    visibility = forms.ChoiceField(
        choices=Visibility.choices,
        initial=Visibility.INTERNAL,
        widget=forms.RadioSelect,
        help_text="Customer-facing updates show in the portal and are mailed to the requester.",
    )
    phase = forms.ChoiceField(choices=Phase.choices, initial=Phase.INVESTIGATING)
    body = forms.CharField(
        label="Update", max_length=10_000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean_body(self) -> str:
        return strip_nul(self.cleaned_data["body"])


def _section(label: str) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, max_length=50_000, widget=forms.Textarea(attrs={"rows": 4})
    )


class PostmortemForm(Form):
    summary = _section("Summary")
    impact = _section("Impact")
    root_cause = _section("Root cause")
    timeline_excerpt = _section("Timeline")
    went_well = _section("What went well")
    went_badly = _section("What went badly")

    def sections(self) -> dict[str, str]:
        return {name: strip_nul(value) for name, value in self.cleaned_data.items()}


class ActionForm(Form):
    description = forms.CharField(max_length=500)
    owner = UserChoiceField(queryset=User.objects.none(), required=False, empty_label="Nobody yet")
    due_on = forms.DateField(
        label="Due on", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, responders: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["owner"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = responders

    def clean_description(self) -> str:
        return strip_nul(self.cleaned_data["description"])


class ConvertForm(Form):
    kind = forms.ChoiceField(choices=ActionKind.choices)
