"""Saved queue views: a name for a set of queue filters and a sort."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from buttress.accounts.models import Role, User
from buttress.desk.models import SavedView

# The queue's filter and sort fields (see buttress.desk.forms.QueueFilterForm).
QUERY_FIELDS = frozenset(
    {"q", "org", "status", "priority", "type", "team", "assignee", "source", "tag", "sla", "sort"}
)
MAX_VALUE = 200
MAX_VIEWS = 100


def clean_query(query: Mapping[str, Any]) -> dict[str, str]:
    """Only the queue's own fields, as strings; empty values are left out."""
    cleaned: dict[str, str] = {}
    for key, value in query.items():
        if key not in QUERY_FIELDS:
            raise ValidationError({"query": f"{key!r} is not a queue filter."})
        if value is None:
            continue
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise ValidationError({"query": f"{key}: give a string."})
        text = str(value).replace("\x00", "").strip()
        if len(text) > MAX_VALUE:
            raise ValidationError({"query": f"{key}: at most {MAX_VALUE} characters."})
        cleaned[key] = text
    return cleaned


@transaction.atomic
def save_view(
    owner: User, *, name: str, query: Mapping[str, Any], shared: bool = False
) -> SavedView:
    """Create the view, or replace the filters of the owner's view of that name."""
    text = str(name or "").replace("\x00", "").strip()
    if not text:
        raise ValidationError({"name": "A name is required."})
    if len(text) > 80:
        raise ValidationError({"name": "A name has at most 80 characters."})
    if shared and owner.role != Role.ADMIN:
        raise ValidationError({"is_shared": "Only admins share views with all staff."})
    cleaned = clean_query(query)
    existing = SavedView.objects.filter(owner=owner, name__iexact=text).first()
    if existing is None:
        if SavedView.objects.filter(owner=owner).count() >= MAX_VIEWS:
            raise ValidationError({"name": f"At most {MAX_VIEWS} saved views each."})
        return SavedView.objects.create(owner=owner, name=text, query=cleaned, is_shared=shared)
    existing.query = cleaned
    existing.is_shared = shared
    existing.save(update_fields=["query", "is_shared"])
    return existing


@transaction.atomic
def delete_view(view: SavedView, *, actor: User) -> None:
    if view.owner_id != actor.pk and not (view.is_shared and actor.role == Role.ADMIN):
        raise PermissionDenied("Only the owner (or an admin, for a shared view) deletes a view.")
    view.delete()
