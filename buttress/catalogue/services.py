"""The only place that changes the service catalogue, and submitting an item's form, which
opens the ticket through the desk's services and keeps the answers beside it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max

from buttress.accounts.models import Team
from buttress.audit import services as audit
from buttress.catalogue.answers import AnswerErrors, Question, clean_answers, display
from buttress.catalogue.models import (
    CHOICE_KINDS,
    CatalogueField,
    CatalogueItem,
    CatalogueRequest,
    FieldKind,
)
from buttress.desk import services as desk
from buttress.desk.models import Level, Source, Ticket, TicketType
from buttress.desk.services import attachments
from buttress.lib.timeutil import now
from buttress.tenancy.models import Organization

if TYPE_CHECKING:
    from buttress.accounts.models import User

ITEM_FIELDS = (
    "organization",
    "name",
    "description",
    "category",
    "ticket_type",
    "impact",
    "urgency",
    "team",
    "is_active",
    "position",
)
ITEM_EDITABLE = frozenset(ITEM_FIELDS) - {"organization"}
FIELD_FIELDS = ("item", "key", "label", "kind", "required", "choices", "help_text", "position")
FIELD_EDITABLE = frozenset(FIELD_FIELDS) - {"item"}
REQUEST_FIELDS = ("ticket", "item", "item_name", "answers")
MAX_FIELDS = 50
MAX_CHOICES = 100
MAX_CHOICE_LENGTH = 200
MAX_SUMMARY = 200
KEY = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


# --- items ---------------------------------------------------------------------------------


def _text(field: str, value: Any, *, limit: int, required: bool = False) -> str:
    text = str(value if value is not None else "").strip()
    if required and not text:
        raise ValidationError({field: "This field is required."})
    if len(text) > limit:
        raise ValidationError({field: f"At most {limit} characters."})
    if "\x00" in text:
        raise ValidationError({field: "Text may not contain NUL characters."})
    return text


def _choice(field: str, value: Any, choices: list[str]) -> str:
    if value not in choices:
        raise ValidationError({field: f"Must be one of {', '.join(choices)}."})
    return str(value)


def _position(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise ValidationError({"position": "Give a whole number from 0 to 1000000."})
    return value


def _clean_item(fields: dict[str, Any]) -> dict[str, Any]:
    team = fields["team"]
    if team is not None and not isinstance(team, Team):
        raise ValidationError({"team": "Give a team."})
    return {
        "name": _text("name", fields["name"], limit=120, required=True),
        "description": _text("description", fields["description"], limit=10_000),
        "category": _text("category", fields["category"], limit=120),
        "ticket_type": _choice("ticket_type", fields["ticket_type"], TicketType.values),
        "impact": _choice("impact", fields["impact"], Level.values),
        "urgency": _choice("urgency", fields["urgency"], Level.values),
        "team": team,
        "is_active": bool(fields["is_active"]),
        "position": _position(fields["position"]),
    }


@transaction.atomic
def create_item(
    *,
    actor: User | None,
    organization: Organization | None,
    name: str,
    description: str = "",
    category: str = "",
    ticket_type: str = TicketType.SERVICE_REQUEST,
    impact: str = Level.MEDIUM,
    urgency: str = Level.MEDIUM,
    team: Team | None = None,
    is_active: bool = True,
    position: int = 0,
) -> CatalogueItem:
    cleaned = _clean_item(
        {
            "name": name,
            "description": description,
            "category": category,
            "ticket_type": ticket_type,
            "impact": impact,
            "urgency": urgency,
            "team": team,
            "is_active": is_active,
            "position": position,
        }
    )
    item = CatalogueItem.objects.create(organization=organization, **cleaned)
    audit.record_create(item, actor=actor, organization=organization, fields=ITEM_FIELDS)
    return item


@transaction.atomic
def update_item(item: CatalogueItem, *, actor: User | None, **changes: Any) -> CatalogueItem:
    unknown = set(changes) - ITEM_EDITABLE
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    before = audit.snapshot(item, ITEM_FIELDS)
    current = {f: getattr(item, f) for f in ITEM_EDITABLE}
    for field, value in _clean_item({**current, **changes}).items():
        setattr(item, field, value)
    item.updated_at = now()
    item.save()
    audit.record_update(
        item, actor=actor, organization=item.organization, before=before, fields=ITEM_FIELDS
    )
    return item


@transaction.atomic
def delete_item(item: CatalogueItem, *, actor: User | None) -> None:
    """Requests already made keep their answers and the item's name; they lose the link."""
    audit.record_delete(
        item, actor=actor, organization=item.organization, fields=ITEM_FIELDS, object_id=item.pk
    )
    item.delete()


# --- form fields ---------------------------------------------------------------------------


def _clean_choices(kind: str, value: Any) -> list[str]:
    if value in (None, ""):
        value = []
    if isinstance(value, str):
        value = list(value.splitlines())
    if not isinstance(value, list | tuple):
        raise ValidationError({"choices": "Give the choices as a list."})
    choices: list[str] = []
    for entry in value:
        if not isinstance(entry, str):
            raise ValidationError({"choices": "Each choice is a piece of text."})
        text = _text("choices", entry, limit=MAX_CHOICE_LENGTH)
        if not text:
            continue
        if text in choices:
            raise ValidationError({"choices": f"The choice {text!r} is given twice."})
        choices.append(text)
    if kind in CHOICE_KINDS and not choices:
        raise ValidationError({"choices": "A choice field needs at least one choice."})
    if kind not in CHOICE_KINDS and choices:
        raise ValidationError({"choices": "Only choice and multiple-choice fields have choices."})
    if len(choices) > MAX_CHOICES:
        raise ValidationError({"choices": f"At most {MAX_CHOICES} choices."})
    return choices


def _clean_field(item: CatalogueItem, fields: dict[str, Any], *, pk: int | None) -> dict[str, Any]:
    key = str(fields["key"] or "").strip()
    if not KEY.match(key):
        raise ValidationError(
            {"key": "Lower-case letters, digits and _, starting with a letter (at most 50)."}
        )
    taken = CatalogueField.objects.filter(item=item, key=key)
    if pk is not None:
        taken = taken.exclude(pk=pk)
    if taken.exists():
        raise ValidationError({"key": f"This form already has a field with the key {key!r}."})
    kind = _choice("kind", fields["kind"], FieldKind.values)
    return {
        "key": key,
        "label": _text("label", fields["label"], limit=200, required=True),
        "kind": kind,
        "required": bool(fields["required"]),
        "choices": _clean_choices(kind, fields["choices"]),
        "help_text": _text("help_text", fields["help_text"], limit=300),
        "position": _position(fields["position"]),
    }


@transaction.atomic
def add_field(
    item: CatalogueItem,
    *,
    actor: User | None,
    key: str,
    label: str,
    kind: str = FieldKind.TEXT,
    required: bool = False,
    choices: Any = None,
    help_text: str = "",
    position: int | None = None,
) -> CatalogueField:
    """A new question at the end of the form (or at ``position``)."""
    # Serialises concurrent additions to one form, so their keys cannot both pass the check.
    CatalogueItem.objects.select_for_update().filter(pk=item.pk).first()
    if CatalogueField.objects.filter(item=item).count() >= MAX_FIELDS:
        raise ValidationError(f"A form has at most {MAX_FIELDS} fields.")
    if position is None:
        last = CatalogueField.objects.filter(item=item).aggregate(m=Max("position"))["m"]
        position = 0 if last is None else last + 1
    cleaned = _clean_field(
        item,
        {
            "key": key,
            "label": label,
            "kind": kind,
            "required": required,
            "choices": choices,
            "help_text": help_text,
            "position": position,
        },
        pk=None,
    )
    field = CatalogueField.objects.create(item=item, **cleaned)
    audit.record_create(field, actor=actor, organization=item.organization, fields=FIELD_FIELDS)
    _touch(item)
    return field


@transaction.atomic
def update_field(field: CatalogueField, *, actor: User | None, **changes: Any) -> CatalogueField:
    unknown = set(changes) - FIELD_EDITABLE
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    item = field.item
    CatalogueItem.objects.select_for_update().filter(pk=item.pk).first()
    before = audit.snapshot(field, FIELD_FIELDS)
    current = {f: getattr(field, f) for f in FIELD_EDITABLE}
    merged = {**current, **changes}
    if "kind" in changes and "choices" not in changes and changes["kind"] not in CHOICE_KINDS:
        merged["choices"] = []
    for name, value in _clean_field(item, merged, pk=field.pk).items():
        setattr(field, name, value)
    field.save()
    audit.record_update(
        field, actor=actor, organization=item.organization, before=before, fields=FIELD_FIELDS
    )
    _touch(item)
    return field


@transaction.atomic
def delete_field(field: CatalogueField, *, actor: User | None) -> None:
    item = field.item
    audit.record_delete(
        field, actor=actor, organization=item.organization, fields=FIELD_FIELDS, object_id=field.pk
    )
    field.delete()
    _touch(item)


@transaction.atomic
def move_field(field: CatalogueField, *, actor: User | None, up: bool) -> CatalogueField:
    """Swap the field with its neighbour above (or below); the form is renumbered 0, 1, 2..."""
    item = field.item
    CatalogueItem.objects.select_for_update().filter(pk=item.pk).first()
    ordered = list(CatalogueField.objects.filter(item=item).order_by("position", "id"))
    index = next(i for i, f in enumerate(ordered) if f.pk == field.pk)
    other = index - 1 if up else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, each in enumerate(ordered):
        if each.position != position:
            before = audit.snapshot(each, FIELD_FIELDS)
            each.position = position
            each.save(update_fields=["position"])
            audit.record_update(
                each,
                actor=actor,
                organization=item.organization,
                before=before,
                fields=FIELD_FIELDS,
            )
    _touch(item)
    return next(f for f in ordered if f.pk == field.pk)


def _touch(item: CatalogueItem) -> None:
    item.updated_at = now()
    CatalogueItem.objects.filter(pk=item.pk).update(updated_at=item.updated_at)


# --- requests ------------------------------------------------------------------------------


def questions_of(item: CatalogueItem) -> list[Question]:
    return [
        Question(
            key=f.key, label=f.label, kind=f.kind, required=f.required, choices=tuple(f.choices)
        )
        for f in item.fields.order_by("position", "id")
    ]


def check_answers(item: CatalogueItem, raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers as stored, or a ValidationError naming each bad answer by its key."""
    try:
        return clean_answers(questions_of(item), raw)
    except AnswerErrors as exc:
        raise ValidationError(exc.errors) from exc


def describe(item_name: str, answers: list[dict[str, Any]], details: str = "") -> str:
    """The ticket's description: the item asked for and every answer, then the free text."""
    lines = [f"Requested from the service catalogue: {item_name}", ""]
    lines += [f"{a['label']}: {display(a)}" for a in answers]
    if details:
        lines += ["", details]
    return "\n".join(lines)


@transaction.atomic
def submit_request(
    item: CatalogueItem,
    *,
    actor: User,
    answers: dict[str, Any],
    summary: str = "",
    details: str = "",
    files: Sequence[UploadedFile[Any]] = (),
    source: str = Source.PORTAL,
) -> CatalogueRequest:
    """Open the item's ticket for the customer ``actor``, with the checked answers and files.

    The caller has checked that the item is offered to the actor's organisation; the checks
    here repeat it, so no path can open a ticket in an organisation the item is not for.
    """
    organization = actor.organization
    if organization is None:
        raise ValidationError("Your account belongs to no organisation.")
    if not item.is_active or item.organization_id not in (None, organization.pk):
        raise ValidationError({"item": "This item is not offered to your organisation."})
    cleaned = check_answers(item, answers)
    summary_text = _text("summary", summary, limit=MAX_SUMMARY)
    details_text = _text("details", details, limit=20_000)
    ticket: Ticket = desk.create_ticket(
        organization,
        actor=actor,
        subject=f"{item.name}: {summary_text}" if summary_text else item.name,
        description=describe(item.name, cleaned, details_text),
        type=item.ticket_type,
        impact=item.impact,
        urgency=item.urgency,
        requester=actor.contact,
        category=item.category,
        team=item.team,
        source=source,
    )
    request = CatalogueRequest.objects.create(
        ticket=ticket,
        organization=organization,
        item=item,
        item_name=item.name,
        answers=cleaned,
        submitted_by=actor,
        created_at=ticket.created_at,
    )
    audit.record_create(request, actor=actor, organization=organization, fields=REQUEST_FIELDS)
    if files:
        attachments.attach(ticket, files, actor=actor)
    return request
