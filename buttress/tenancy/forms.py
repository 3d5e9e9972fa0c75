from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from django import forms

from buttress.tenancy.models import Organization, Site
from buttress.web.forms import Form


@cache
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class OrganizationForm(Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=64,
        required=False,
        help_text="Used in addresses. Leave empty to derive it from the name.",
    )
    email_domains = forms.CharField(
        label="Email domains",
        required=False,
        help_text="Comma-separated; mail from these domains belongs to this organisation.",
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    @classmethod
    def initial_for(cls, org: Organization) -> dict[str, Any]:
        return {
            "name": org.name,
            "slug": org.slug,
            "email_domains": ", ".join(org.email_domains or []),
            "notes": org.notes,
            "is_active": org.is_active,
        }

    def clean_email_domains(self) -> list[str]:
        text: str = self.cleaned_data["email_domains"]
        return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class SiteForm(Form):
    name = forms.CharField(max_length=200)
    address = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    timezone = forms.ChoiceField(label="Time zone", initial="UTC")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["timezone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = timezone_choices()

    @classmethod
    def initial_for(cls, site: Site) -> dict[str, Any]:
        return {
            "name": site.name,
            "address": site.address,
            "timezone": site.timezone,
            "notes": site.notes,
        }


class ContactForm(Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=64, required=False)
    job_title = forms.CharField(label="Job title", max_length=200, required=False)
    site = forms.ModelChoiceField(
        queryset=Site.objects.none(), required=False, empty_label="No particular site"
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Site.objects.for_org(organization).only("id", "name")
