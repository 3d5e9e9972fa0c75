from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django import forms
from django.apps import apps

from buttress.audit.models import AuditEntry
from buttress.tenancy.access import organizations_for
from buttress.tenancy.models import Organization
from buttress.web.forms import Form

if TYPE_CHECKING:
    from buttress.accounts.models import User


def object_type_choices() -> list[tuple[str, str]]:
    # Taken from the installed models rather than a DISTINCT over the whole log, which would
    # scan every entry on each page view.
    choices = [
        (model._meta.label_lower, f"{model._meta.verbose_name} ({model._meta.app_label})")
        for model in apps.get_models()
        if model.__module__.startswith("buttress.") and model is not AuditEntry
    ]
    return sorted(choices, key=lambda choice: choice[1])


class AuditFilterForm(Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Object or actor"}),
    )
    org = forms.ModelChoiceField(
        label="Organisation",
        queryset=Organization.objects.none(),
        required=False,
        empty_label="All organisations",
    )
    object_type = forms.ChoiceField(label="Object type", required=False)
    object_id = forms.CharField(
        label="Object id", required=False, max_length=64, widget=forms.HiddenInput
    )
    action = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("", "Any action"), *AuditEntry.Action.choices],
    )
    actor = forms.CharField(label="Actor", required=False, max_length=254)
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        org_field = self.fields["org"]
        assert isinstance(org_field, forms.ModelChoiceField)
        org_field.queryset = organizations_for(user).only("id", "name")
        type_field = self.fields["object_type"]
        assert isinstance(type_field, forms.ChoiceField)
        type_field.choices = [("", "Any type"), *object_type_choices()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since: dt.date | None = cleaned.get("since")
        until: dt.date | None = cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return cleaned
