"""The catalogue's forms: an item, one of its form's fields, and the customer's form built
from an item's fields."""

from __future__ import annotations

from typing import Any

from django import forms

from buttress.accounts.models import Team
from buttress.catalogue.models import CatalogueField, CatalogueItem, FieldKind
from buttress.desk.models import Level, TicketType
from buttress.web.forms import Form, MultipleFileField, strip_nul

# The customer's form: each item field is named with this prefix so that it cannot clash with
# the form's own fields (summary, details, upload).
PREFIX = "f_"


class ItemForm(Form):
    organization = forms.ChoiceField(
        label="Offered to", required=False, help_text="Empty: every organisation."
    )
    name = forms.CharField(max_length=120)
    description = forms.CharField(
        required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 4})
    )
    category = forms.CharField(
        required=False, max_length=120, help_text="Set on the tickets this item opens."
    )
    ticket_type = forms.ChoiceField(
        label="Ticket type", choices=TicketType.choices, initial=TicketType.SERVICE_REQUEST
    )
    impact = forms.ChoiceField(choices=Level.choices, initial=Level.MEDIUM)
    urgency = forms.ChoiceField(choices=Level.choices, initial=Level.MEDIUM)
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False, empty_label="No team"
    )
    position = forms.IntegerField(
        min_value=0, max_value=1_000_000, initial=0, help_text="Lower numbers are listed first."
    )
    is_active = forms.BooleanField(label="Offered (active)", required=False, initial=True)

    def __init__(self, *args: Any, organizations: Any, editing: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        org_field = self.fields["organization"]
        assert isinstance(org_field, forms.ChoiceField)
        org_field.choices = [("", "All organisations")] + [
            (str(o.pk), o.name) for o in organizations
        ]
        org_field.disabled = editing

    @staticmethod
    def initial_for(item: CatalogueItem) -> dict[str, Any]:
        return {
            "organization": str(item.organization_id or ""),
            "name": item.name,
            "description": item.description,
            "category": item.category,
            "ticket_type": item.ticket_type,
            "impact": item.impact,
            "urgency": item.urgency,
            "team": item.team_id,
            "position": item.position,
            "is_active": item.is_active,
        }

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": strip_nul(data["name"]),
            "description": strip_nul(data["description"]),
            "category": strip_nul(data["category"]),
            "ticket_type": data["ticket_type"],
            "impact": data["impact"],
            "urgency": data["urgency"],
            "team": data["team"],
            "position": data["position"],
            "is_active": data["is_active"],
        }


class FieldForm(Form):
    label = forms.CharField(max_length=200)
    key = forms.CharField(
        max_length=50, help_text="Names the answer in the API: lower-case letters, digits and _."
    )
    kind = forms.ChoiceField(choices=FieldKind.choices, initial=FieldKind.TEXT)
    required = forms.BooleanField(required=False)
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line; for choice and multiple-choice fields.",
    )
    help_text = forms.CharField(label="Help text", required=False, max_length=300)

    @staticmethod
    def initial_for(field: CatalogueField) -> dict[str, Any]:
        return {
            "label": field.label,
            "key": field.key,
            "kind": field.kind,
            "required": field.required,
            "choices": "\n".join(field.choices),
            "help_text": field.help_text,
        }

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "label": strip_nul(data["label"]),
            "key": strip_nul(data["key"]).strip(),
            "kind": data["kind"],
            "required": data["required"],
            "choices": strip_nul(data["choices"]).splitlines(),
            "help_text": strip_nul(data["help_text"]),
        }


def _widget_field(field: CatalogueField) -> forms.Field:
    """A form field that renders the question; the service checks the answer."""
    common: dict[str, Any] = {
        "label": field.label,
        "required": field.required,
        "help_text": field.help_text,
    }
    kind = field.kind
    choices = [(c, c) for c in field.choices]
    if kind == FieldKind.TEXTAREA:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), **common)
    if kind == FieldKind.NUMBER:
        return forms.CharField(widget=forms.NumberInput(attrs={"step": "any"}), **common)
    if kind == FieldKind.DATE:
        return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == FieldKind.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *choices], **common)
    if kind == FieldKind.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=choices, widget=forms.CheckboxSelectMultiple, **common
        )
    if kind == FieldKind.CHECKBOX:
        return forms.BooleanField(**common)
    if kind == FieldKind.EMAIL:
        return forms.CharField(widget=forms.EmailInput, max_length=254, **common)
    return forms.CharField(max_length=1_000, **common)


class RequestForm(Form):
    """The customer's form for one item: its questions, a short summary, details, files."""

    summary = forms.CharField(
        label="Summary", required=False, max_length=200, help_text="Added to the request's title."
    )

    def __init__(self, *args: Any, fields: list[CatalogueField], **kwargs: Any):
        super().__init__(*args, **kwargs)
        for field in fields:
            self.fields[PREFIX + field.key] = _widget_field(field)
        self.fields["details"] = forms.CharField(
            label="Anything else?",
            required=False,
            max_length=20_000,
            widget=forms.Textarea(attrs={"rows": 4}),
        )
        self.fields["upload"] = MultipleFileField(label="Attach files", required=False)

    def answers(self) -> dict[str, Any]:
        """The submitted answers by key, as sent (the service checks and converts them)."""
        assert self.is_bound
        raw: dict[str, Any] = {}
        for name, field in self.fields.items():
            if not name.startswith(PREFIX):
                continue
            key = name.removeprefix(PREFIX)
            if isinstance(field, forms.MultipleChoiceField):
                getlist = getattr(self.data, "getlist", None)
                raw[key] = getlist(name) if getlist is not None else self.data.get(name, [])
            elif isinstance(field, forms.BooleanField):
                raw[key] = name in self.data and self.data.get(name) not in ("", "off", "false")
            else:
                raw[key] = str(self.data.get(name, ""))
        return raw
