from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django import forms
from django.urls import reverse

from buttress.accounts.models import Team
from buttress.assets.models import Criticality, Kind, Lifecycle, RelationKind
from buttress.tenancy.access import organizations_for, sites_for
from buttress.tenancy.models import Organization, Site
from buttress.web.forms import MAX_ID, Form

if TYPE_CHECKING:
    from buttress.accounts.models import User

SORTS = [("name", "Name, A to Z"), ("-name", "Name, Z to A")]


def _any(label: str, choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", label), *choices]


def _org_id(raw: Any) -> int | None:
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        return None
    # A tampered id past the database's integer range names no organisation.
    return pk if 0 < pk <= MAX_ID else None


def _named(objects: Iterable[Organization | Site | Team]) -> list[tuple[str, str]]:
    return [(str(obj.pk), obj.name) for obj in objects]


def _set_choices(form: forms.BaseForm, name: str, choices: list[tuple[str, str]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _set_queryset(form: forms.BaseForm, name: str, queryset: Any) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = queryset


class AssetFilterForm(Form):
    """The asset list's filters.

    The organisation, site and team choices come from lists the view has read once: the list
    page is the busiest page of the product, and model choice fields would query again to
    validate the chosen value and once more to render each select.
    """

    q = forms.CharField(
        label="Name contains",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    org = forms.TypedChoiceField(label="Organisation", required=False, coerce=int, empty_value=None)
    site = forms.TypedChoiceField(label="Site", required=False, coerce=int, empty_value=None)
    kind = forms.ChoiceField(label="Kind", required=False, choices=_any("Any kind", Kind.choices))
    status = forms.ChoiceField(
        label="Status", required=False, choices=_any("Any status", Lifecycle.choices)
    )
    criticality = forms.ChoiceField(
        label="Criticality", required=False, choices=_any("Any criticality", Criticality.choices)
    )
    tag = forms.CharField(label="Tag", required=False, max_length=64)
    team = forms.TypedChoiceField(label="Owner team", required=False, coerce=int, empty_value=None)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORTS)

    def __init__(
        self,
        *args: Any,
        user: User,
        organizations: Sequence[Organization],
        teams: Sequence[Team],
        single_org: Organization | None,
        **kwargs: Any,
    ):
        """``organizations`` are those the user may see (``organizations_for``)."""
        super().__init__(*args, **kwargs)
        self.organizations = {org.pk: org for org in organizations}
        _set_choices(self, "org", _any("All organisations", _named(organizations)))
        _set_choices(self, "team", _any("Any team", _named(teams)))
        # Sites are offered for one organisation at a time; a provider may have thousands.
        org_id = single_org.pk if single_org else _org_id(self.data.get("org"))
        sites: list[Site] = []
        if org_id in self.organizations:
            sites = list(sites_for(user).filter(organization_id=org_id).only("id", "name"))
        _set_choices(self, "site", _any("Any site", _named(sites)))
        self.site_needs_org = org_id is None
        chosen_site = _org_id(self.data.get("site"))
        if self.data.get("site") and chosen_site not in {site.pk for site in sites}:
            # A site left over from the previously chosen organisation is dropped, not an error.
            self.data = {key: value for key, value in self.data.items() if key != "site"}
        if single_org is not None:
            self.fields["org"].widget = forms.HiddenInput()

    def clean_org(self) -> Organization | None:
        org_id: int | None = self.cleaned_data["org"]
        return None if org_id is None else self.organizations[org_id]


def attributes_text(attributes: dict[str, Any]) -> str:
    return "\n".join(f"{key}={_value_text(value)}" for key, value in attributes.items())


def _value_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


class AssetForm(Form):
    organization = forms.ModelChoiceField(
        label="Organisation",
        queryset=Organization.objects.none(),
        empty_label="Choose an organisation",
    )
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Kind.choices, initial=Kind.SERVER)
    criticality = forms.ChoiceField(choices=Criticality.choices, initial=Criticality.MEDIUM)
    status = forms.ChoiceField(choices=Lifecycle.choices, initial=Lifecycle.ACTIVE)
    site = forms.ModelChoiceField(
        queryset=Site.objects.none(), required=False, empty_label="No site"
    )
    owner_team = forms.ModelChoiceField(
        label="Owner team", queryset=Team.objects.none(), required=False, empty_label="No team"
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    tags = forms.CharField(
        required=False, help_text="Comma-separated, for example: production, linux, backup."
    )
    attributes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="One key=value per line, for example: serial=ABC123.",
    )

    def __init__(
        self,
        *args: Any,
        user: User,
        organization: Organization | None,
        fixed_organization: bool,
        existing_attributes: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.existing_attributes = existing_attributes or {}
        _set_queryset(self, "owner_team", Team.objects.only("id", "name"))
        if fixed_organization:
            del self.fields["organization"]
        else:
            _set_queryset(self, "organization", organizations_for(user).only("id", "name"))
            # Changing the organisation reloads the site choices in place; without JavaScript
            # the form still works and the site can be chosen when editing.
            self.fields["organization"].widget.attrs.update(
                {
                    "hx-get": reverse("assets:create"),
                    "hx-trigger": "change",
                    "hx-select": "#id_site",
                    "hx-target": "#id_site",
                    "hx-swap": "outerHTML",
                }
            )
        org_id = organization.pk if organization else _org_id(self.data.get("organization"))
        sites = sites_for(user).filter(organization_id=org_id) if org_id else Site.objects.none()
        _set_queryset(self, "site", sites.only("id", "name"))
        if org_id is None:
            self.fields["site"].help_text = "Choose the organisation first."

    def clean_tags(self) -> list[str]:
        text: str = self.cleaned_data["tags"]
        return [part.strip() for part in text.split(",") if part.strip()]

    def clean_attributes(self) -> dict[str, Any]:
        text: str = self.cleaned_data["attributes"]
        result: dict[str, Any] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            key = key.strip()
            if not sep or not key:
                raise forms.ValidationError(f"Line {number}: write key=value.")
            if key in result:
                raise forms.ValidationError(f"Line {number}: {key!r} is given twice.")
            value = value.strip()
            previous = self.existing_attributes.get(key)
            # An unchanged line keeps its stored value, so a number or true/false set through
            # the API or an import is not turned into text by editing another field.
            unchanged = key in self.existing_attributes and _value_text(previous) == value
            result[key] = previous if unchanged else value
        return result


class RelationForm(Form):
    kind = forms.ChoiceField(label="Relation", choices=RelationKind.choices)
    target = forms.CharField(
        label="Asset",
        max_length=200,
        help_text="The name of an asset of the same organisation.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "list": "relation-targets"}),
    )


class ImportForm(Form):
    organization = forms.ModelChoiceField(
        label="Organisation",
        queryset=Organization.objects.none(),
        empty_label="Choose an organisation",
    )
    file = forms.FileField(label="CSV file", help_text="UTF-8, with a header row.")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_queryset(self, "organization", organizations_for(user).only("id", "name"))


class ImportConfirmForm(Form):
    token = forms.CharField(widget=forms.HiddenInput(), strip=False)
