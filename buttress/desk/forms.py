"""Forms of the agent workspace: the queue's filters and bulk actions, the ticket page's
reply, field, status, asset and time forms, and the create form."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from buttress.accounts.models import Role, Team, User
from buttress.assets.models import Asset
from buttress.desk.models import Activity, Level, Macro, Priority, Source, Status, TicketType
from buttress.tenancy.models import Contact, Organization
from buttress.web.forms import (
    MAX_ID,
    Form,
    ModelChoiceField,
    ModelMultipleChoiceField,
    MultipleFileField,
    strip_nul,
)
from buttress.web.widgets import FastSelect

OPEN = "open_any"  # the status meta-filter: anything not resolved or closed
ME = "me"
UNASSIGNED = "none"
SORTS = [
    ("updated", "Recently updated"),
    ("created", "Recently created"),
    ("priority", "Priority, P1 first"),
    ("sla", "SLA due soonest (running clocks)"),
]
ORDERS: dict[str, tuple[str, ...]] = {
    "updated": ("-updated_at", "-id"),
    "created": ("-created_at", "-id"),
    "priority": ("priority", "-updated_at", "-id"),
    # Tickets with no running clock have no due instant and are left out of this order.
    "sla": ("sla_due_at", "id"),
}
NO_SLA = "none"
SLA_FILTERS = [
    ("", "Any SLA state"),
    ("breached", "Breached"),
    ("warning", "At risk (warned)"),
    ("running", "On track"),
    ("paused", "Paused"),
    ("met", "All targets met"),
    (NO_SLA, "No SLA"),
]
# "T-10423", "t10423" or "10423" look a ticket up by number.
NUMBER_RE = re.compile(r"^\s*(?:t-?)?(\d{1,18})\s*$", re.IGNORECASE)


def _any(label: str, choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", label), *choices]


def workers() -> QuerySet[User]:
    """Users a ticket may be assigned to (the service checks the organisation too)."""
    return User.objects.filter(is_active=True, role__in=[Role.ADMIN, Role.AGENT]).order_by(
        "full_name", "email"
    )


def workers_for(organization: Organization) -> QuerySet[User]:
    return (
        workers()
        .filter(Q(limited_to__isnull=True) | Q(limited_to=organization))
        .distinct()
        .order_by("full_name", "email")
    )


class UserChoiceField(ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class ChoiceIdField(forms.TypedChoiceField):
    """A choice of ids read once by the view; out-of-range ids are just invalid choices."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(coerce=int, empty_value=None, required=False, **kwargs)


class QueueFilterForm(Form):
    """The queue's filters. Choices come from lists the view has read once (see the asset list)."""

    q = forms.CharField(
        label="Search or number",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    org = ChoiceIdField(label="Organisation")
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[(OPEN, "Open (not resolved or closed)"), ("", "Any status"), *Status.choices],
    )
    priority = forms.ChoiceField(
        label="Priority",
        required=False,
        choices=_any("Any priority", [(p, p) for p in ("P1", "P2", "P3", "P4")]),
    )
    type = forms.ChoiceField(
        label="Type", required=False, choices=_any("Any type", TicketType.choices)
    )
    team = ChoiceIdField(label="Team")
    assignee = forms.ChoiceField(label="Assignee", required=False)
    source = forms.ChoiceField(
        label="Source", required=False, choices=_any("Any source", Source.choices)
    )
    tag = forms.CharField(label="Tag", required=False, max_length=64)
    sla = forms.ChoiceField(label="SLA", required=False, choices=SLA_FILTERS)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORTS)

    def __init__(
        self,
        *args: Any,
        organizations: list[Organization],
        teams: list[Team],
        assignees: list[User],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._set("org", [("", "All organisations"), *((str(o.pk), o.name) for o in organizations)])
        self._set("team", [("", "Any team"), *((str(t.pk), t.name) for t in teams)])
        self._set(
            "assignee",
            [
                ("", "Anyone"),
                (ME, "Me"),
                (UNASSIGNED, "Unassigned"),
                *((str(u.pk), u.display_name) for u in assignees),
            ],
        )

    def _set(self, name: str, choices: list[tuple[str, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def clean_q(self) -> str:
        return strip_nul(self.cleaned_data["q"]).strip()

    def clean_tag(self) -> str:
        return strip_nul(self.cleaned_data["tag"]).strip().lower()


class BulkForm(Form):
    ACTIONS = [
        ("assign_me", "Assign to me"),
        ("assign", "Assign to…"),
        ("status", "Set status…"),
        ("team", "Set team…"),
    ]

    ticket = forms.TypedMultipleChoiceField(label="Tickets", coerce=int)
    action = forms.ChoiceField(label="Action", choices=_any("Choose an action", ACTIONS))
    assignee = UserChoiceField(label="Assignee", queryset=User.objects.none(), required=False)
    status = forms.ChoiceField(label="Status", required=False, choices=_any("—", Status.choices))
    team = ModelChoiceField(label="Team", queryset=Team.objects.none(), required=False)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        shown: tuple[list[User], list[Team]] | None = None,
        **kwargs: Any,
    ) -> None:
        """``shown``: the workers and teams the view has already read, in the fields' order,
        so that showing the form does not query them again (validating a post still does)."""
        super().__init__(*args, **kwargs)
        ticket = self.fields["ticket"]
        assert isinstance(ticket, forms.TypedMultipleChoiceField)
        # Which tickets the user may change is decided by the view through access.py; the
        # form only checks that each value is an id.
        ticket.valid_value = lambda value: str(value).isdigit() and 0 < int(value) <= MAX_ID  # type: ignore[method-assign]
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ModelChoiceField)
        assignee.queryset = workers()
        team = self.fields["team"]
        assert isinstance(team, forms.ModelChoiceField)
        team.queryset = Team.objects.order_by("name")
        if shown is not None:
            users, teams = shown
            # Set on the fields (the template iterates them) and so on their widgets;
            # validating a post still goes through the querysets.
            assignee.choices = [
                ("", assignee.empty_label),
                *((u.pk, assignee.label_from_instance(u)) for u in users),
            ]
            team.choices = [
                ("", team.empty_label),
                *((t.pk, team.label_from_instance(t)) for t in teams),
            ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        action = cleaned.get("action")
        for needed in ("assign", "status", "team"):
            field = "assignee" if needed == "assign" else needed
            if action == needed and not cleaned.get(field):
                self.add_error(field, "Choose a value for this action.")
        return cleaned


class ReplyForm(Form):
    body = forms.CharField(
        label="Message", max_length=100_000, widget=forms.Textarea(attrs={"rows": 5})
    )
    internal = forms.TypedChoiceField(
        label="Visibility",
        choices=[
            ("0", "Public reply (the requester sees it)"),
            ("1", "Internal note (staff only)"),
        ],
        coerce=lambda value: value == "1",
        initial="0",
        widget=forms.RadioSelect,
    )
    upload = MultipleFileField(label="Attach files", required=False)

    def clean_body(self) -> str:
        return strip_nul(self.cleaned_data["body"])


class TransitionForm(Form):
    status = forms.ChoiceField(label="Status", choices=Status.choices)


class TicketFieldsForm(Form):
    type = forms.ChoiceField(label="Type", choices=TicketType.choices)
    impact = forms.ChoiceField(label="Impact", choices=Level.choices)
    urgency = forms.ChoiceField(label="Urgency", choices=Level.choices)
    category = forms.CharField(label="Category", max_length=120, required=False)
    team = ModelChoiceField(
        label="Team", queryset=Team.objects.none(), required=False, widget=FastSelect
    )
    assignee = UserChoiceField(
        label="Assignee", queryset=User.objects.none(), required=False, widget=FastSelect
    )
    tags = forms.CharField(
        label="Tags", max_length=2000, required=False, help_text="Separated by commas."
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team = self.fields["team"]
        assert isinstance(team, forms.ModelChoiceField)
        team.queryset = Team.objects.order_by("name")
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ModelChoiceField)
        assignee.queryset = workers_for(organization)

    def clean_category(self) -> str:
        return strip_nul(self.cleaned_data["category"])

    def clean_tags(self) -> list[str]:
        return [t for t in strip_nul(self.cleaned_data["tags"]).split(",") if t.strip()]


class AssetLinkForm(Form):
    asset: forms.ModelChoiceField[Asset] = ModelChoiceField(
        label="Asset", queryset=Asset.objects.none(), widget=FastSelect
    )

    def __init__(self, *args: Any, assets: QuerySet[Asset], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["asset"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = assets


class TimeEntryForm(Form):
    minutes = forms.IntegerField(label="Minutes", min_value=1, max_value=24 * 60)
    activity = forms.ChoiceField(label="Activity", choices=Activity.choices)
    billable = forms.BooleanField(label="Billable", required=False, initial=True)
    note = forms.CharField(label="Note", max_length=500, required=False)

    def clean_note(self) -> str:
        return strip_nul(self.cleaned_data["note"])


class TicketCreateForm(Form):
    organization: forms.ModelChoiceField[Organization] = ModelChoiceField(
        label="Organisation", queryset=Organization.objects.none()
    )
    requester: forms.ModelChoiceField[Contact] = ModelChoiceField(
        label="Requester", queryset=Contact.objects.none(), required=False
    )
    subject = forms.CharField(label="Subject", max_length=250)
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    type = forms.ChoiceField(label="Type", choices=TicketType.choices)
    impact = forms.ChoiceField(label="Impact", choices=Level.choices, initial=Level.MEDIUM)
    urgency = forms.ChoiceField(label="Urgency", choices=Level.choices, initial=Level.MEDIUM)
    team = ModelChoiceField(label="Team", queryset=Team.objects.none(), required=False)
    assignee = UserChoiceField(label="Assignee", queryset=User.objects.none(), required=False)
    source = forms.ChoiceField(label="Source", choices=Source.choices, initial=Source.PHONE)
    assets = ModelMultipleChoiceField(
        label="Linked assets", queryset=Asset.objects.none(), required=False
    )

    def __init__(
        self,
        *args: Any,
        organizations: QuerySet[Organization],
        contacts: QuerySet[Contact],
        assets: QuerySet[Asset],
        organization: Organization | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._queryset("organization", organizations)
        self._queryset("requester", contacts)
        self._queryset("assets", assets)
        self._queryset("team", Team.objects.order_by("name"))
        self._queryset("assignee", workers_for(organization) if organization else workers())

    def _queryset(self, name: str, queryset: QuerySet[Any]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = queryset

    def clean_subject(self) -> str:
        return strip_nul(self.cleaned_data["subject"]).strip()

    def clean_description(self) -> str:
        return strip_nul(self.cleaned_data["description"])


class MacroApplyForm(Form):
    macro: forms.ModelChoiceField[Macro] = ModelChoiceField(
        label="Macro",
        queryset=Macro.objects.none(),
        empty_label="Choose a macro",
        widget=FastSelect,
    )

    def __init__(self, *args: Any, macros: QuerySet[Macro], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["macro"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = macros


class MacroForm(Form):
    """A macro as text fields; ``changes`` is assembled from the optional field choices."""

    organization = forms.ChoiceField(label="Organisation", required=False)
    name = forms.CharField(max_length=120)
    body = forms.CharField(
        label="Reply text",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="May use {ticket}, {subject}, {requester} and {agent}.",
    )
    internal = forms.BooleanField(label="Add as an internal note", required=False)
    status = forms.ChoiceField(
        label="Then set status", required=False, choices=[("", "Leave as is"), *Status.choices]
    )
    impact = forms.ChoiceField(
        label="Set impact", required=False, choices=[("", "Leave as is"), *Level.choices]
    )
    urgency = forms.ChoiceField(
        label="Set urgency", required=False, choices=[("", "Leave as is"), *Level.choices]
    )
    team = forms.ChoiceField(label="Set team", required=False)
    assign_me = forms.BooleanField(label="Assign to whoever applies it", required=False)
    add_tags = forms.CharField(label="Add tags", required=False, help_text="Comma-separated.")
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args: Any, organizations: Any, editing: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        org_field = self.fields["organization"]
        assert isinstance(org_field, forms.ChoiceField)
        org_field.choices = [("", "All organisations")] + [
            (str(o.pk), o.name) for o in organizations
        ]
        org_field.disabled = editing
        team_field = self.fields["team"]
        assert isinstance(team_field, forms.ChoiceField)
        team_field.choices = [("", "Leave as is")] + [
            (str(t.pk), t.name) for t in Team.objects.order_by("name")
        ]

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        for key in ("status", "impact", "urgency"):
            if data.get(key):
                changes[key] = data[key]
        if data.get("team"):
            changes["team"] = int(data["team"])
        if data.get("assign_me"):
            changes["assignee"] = "me"
        tags = [t for t in (data.get("add_tags") or "").split(",") if t.strip()]
        if tags:
            changes["add_tags"] = tags
        return changes

    @classmethod
    def initial_for(cls, macro: Macro) -> dict[str, Any]:
        changes = macro.changes
        return {
            "organization": str(macro.organization_id or ""),
            "name": macro.name,
            "body": macro.body,
            "internal": macro.internal,
            "status": changes.get("status", ""),
            "impact": changes.get("impact", ""),
            "urgency": changes.get("urgency", ""),
            "team": str(changes.get("team") or ""),
            "assign_me": changes.get("assignee") == "me",
            "add_tags": ", ".join(changes.get("add_tags", [])),
            "is_active": macro.is_active,
        }


class PriorityMatrixForm(Form):
    """The impact x urgency -> priority matrix: one choice per cell, named ``impact_urgency``."""

    def __init__(self, *args: Any, matrix: dict[tuple[str, str], str], **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial", {f"{impact}_{urgency}": value for (impact, urgency), value in matrix.items()}
        )
        super().__init__(*args, **kwargs)
        for impact, impact_label in Level.choices:
            for urgency, urgency_label in Level.choices:
                self.fields[f"{impact}_{urgency}"] = forms.ChoiceField(
                    label=f"Impact {impact_label.lower()}, urgency {urgency_label.lower()}",
                    choices=[(value, value) for value in Priority.values],
                )

    def matrix(self) -> dict[tuple[str, str], str]:
        return {
            (impact, urgency): self.cleaned_data[f"{impact}_{urgency}"]
            for impact in Level.values
            for urgency in Level.values
        }
