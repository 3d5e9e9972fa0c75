"""Macros: canned replies that can also set fields, applied to a ticket in one step."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.accounts.models import Team, User
from buttress.audit import services as audit
from buttress.desk.models import Level, Macro, Status, Ticket
from buttress.desk.services.conversation import MAX_BODY, add_reply
from buttress.desk.services.tickets import WORKER_ROLES, normalise_tags, transition, update_ticket
from buttress.lib.timeutil import now
from buttress.tenancy.models import Organization

MACRO_FIELDS = ("organization", "name", "body", "internal", "changes", "is_active")
CHANGE_KEYS = frozenset({"status", "impact", "urgency", "category", "team", "assignee", "add_tags"})
ME = "me"


def _clean_changes(changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict):
        raise ValidationError({"changes": "Give an object of field -> value."})
    unknown = set(changes) - CHANGE_KEYS
    if unknown:
        raise ValidationError(
            {
                "changes": f"Unknown fields: {', '.join(sorted(unknown))}; known: "
                + ", ".join(sorted(CHANGE_KEYS))
            }
        )
    cleaned: dict[str, Any] = {}
    if "status" in changes:
        if changes["status"] not in Status.values:
            raise ValidationError({"changes": f"status: {changes['status']!r} is not a status."})
        cleaned["status"] = changes["status"]
    for level in ("impact", "urgency"):
        if level in changes:
            if changes[level] not in Level.values:
                raise ValidationError({"changes": f"{level}: one of low, medium, high."})
            cleaned[level] = changes[level]
    if "category" in changes:
        text = str(changes["category"] or "").strip()
        if len(text) > 120:
            raise ValidationError({"changes": "category: at most 120 characters."})
        cleaned["category"] = text
    if "team" in changes:
        team = changes["team"]
        if team is not None and (
            isinstance(team, bool)
            or not isinstance(team, int)
            or not Team.objects.filter(pk=team).exists()
        ):
            raise ValidationError({"changes": f"team: no team has id {team!r}."})
        cleaned["team"] = team
    if "assignee" in changes:
        who = changes["assignee"]
        if who not in (None, ME) and (
            isinstance(who, bool)
            or not isinstance(who, int)
            or not User.objects.filter(pk=who, role__in=WORKER_ROLES, is_active=True).exists()
        ):
            raise ValidationError({"changes": "assignee: an active agent's id, 'me' or null."})
        cleaned["assignee"] = who
    if "add_tags" in changes:
        tags = changes["add_tags"]
        if not isinstance(tags, list):
            raise ValidationError({"changes": "add_tags: give a list of tags."})
        try:
            cleaned["add_tags"] = normalise_tags(tags)
        except ValidationError as exc:
            raise ValidationError({"changes": " ".join(exc.messages)}) from exc
    return cleaned


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    name = str(fields["name"] or "").strip()
    if not name or len(name) > 120:
        raise ValidationError({"name": "A name of 1 to 120 characters is required."})
    body = str(fields["body"] or "").replace("\x00", "").strip()
    if len(body) > MAX_BODY:
        raise ValidationError({"body": f"At most {MAX_BODY} characters."})
    changes = _clean_changes(fields["changes"])
    if not body and not changes:
        raise ValidationError({"body": "A macro writes a reply, changes fields, or both."})
    return {
        "name": name,
        "body": body,
        "internal": bool(fields["internal"]),
        "changes": changes,
        "is_active": bool(fields["is_active"]),
    }


@transaction.atomic
def create_macro(
    *,
    actor: User | None,
    organization: Organization | None,
    name: str,
    body: str = "",
    internal: bool = False,
    changes: Any = None,
    is_active: bool = True,
) -> Macro:
    cleaned = _clean(
        {
            "name": name,
            "body": body,
            "internal": internal,
            "changes": changes or {},
            "is_active": is_active,
        }
    )
    macro = Macro.objects.create(organization=organization, **cleaned)
    audit.record_create(macro, actor=actor, organization=organization, fields=MACRO_FIELDS)
    return macro


@transaction.atomic
def update_macro(macro: Macro, *, actor: User | None, **fields: Any) -> Macro:
    unknown = set(fields) - {"name", "body", "internal", "changes", "is_active"}
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))}.")
    before = audit.snapshot(macro, MACRO_FIELDS)
    current = {f: getattr(macro, f) for f in ("name", "body", "internal", "changes", "is_active")}
    for field, value in _clean({**current, **fields}).items():
        setattr(macro, field, value)
    macro.updated_at = now()
    macro.save()
    audit.record_update(
        macro, actor=actor, organization=macro.organization, before=before, fields=MACRO_FIELDS
    )
    return macro


@transaction.atomic
def delete_macro(macro: Macro, *, actor: User | None) -> None:
    audit.record_delete(
        macro, actor=actor, organization=macro.organization, fields=MACRO_FIELDS, object_id=macro.pk
    )
    macro.delete()


def render_body(body: str, ticket: Ticket, actor: User) -> str:
    values = {
        "{ticket}": ticket.reference,
        "{subject}": ticket.subject,
        "{requester}": ticket.requester.name if ticket.requester else "",
        "{agent}": actor.display_name,
    }
    for placeholder, value in values.items():
        body = body.replace(placeholder, value)
    return body


@transaction.atomic
def apply_macro(ticket: Ticket, macro: Macro, *, actor: User) -> list[str]:
    """Set the macro's fields, write its reply or note, then move the status; all or nothing.
    Answers what was done, for the agent."""
    if macro.organization_id not in (None, ticket.organization_id) or not macro.is_active:
        raise ValidationError({"macro": "This macro is not available for this ticket."})
    done: list[str] = []
    changes = dict(macro.changes)
    fields: dict[str, Any] = {}
    for level in ("impact", "urgency", "category"):
        if level in changes and changes[level] != getattr(ticket, level):
            fields[level] = changes[level]
    if "team" in changes and changes["team"] != ticket.team_id:
        fields["team"] = Team.objects.filter(pk=changes["team"]).first()
    if "assignee" in changes:
        who = actor.pk if changes["assignee"] == ME else changes["assignee"]
        if who != ticket.assignee_id:
            fields["assignee"] = User.objects.filter(pk=who).first() if who else None
    if changes.get("add_tags"):
        tags = sorted(set(ticket.tags) | set(changes["add_tags"]))
        if tags != sorted(ticket.tags):
            fields["tags"] = tags
    if fields:
        update_ticket(ticket, actor=actor, **fields)
        done.append("set " + ", ".join(sorted(fields)))
    if macro.body:
        add_reply(
            ticket,
            actor=actor,
            body=render_body(macro.body, ticket, actor),
            internal=macro.internal,
        )
        done.append("added a note" if macro.internal else "replied")
    status = changes.get("status")
    if status and status != ticket.status:
        transition(ticket, status, actor=actor)
        done.append(f"status {status}")
    return done
