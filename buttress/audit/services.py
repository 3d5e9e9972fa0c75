"""Recording changes. Every service that changes state calls :func:`record`."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.db import models

from buttress.audit.models import AuditEntry
from buttress.lib.timeutil import now

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.tenancy.models import Organization

Snapshot = dict[str, Any]


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_jsonable(v) for v in value]
    return str(value)


def snapshot(obj: models.Model, fields: Iterable[str]) -> Snapshot:
    """The audited view of ``obj``: foreign keys by their text, many-to-many as sorted names."""
    result: Snapshot = {}
    for name in fields:
        field = obj._meta.get_field(name)
        if field.many_to_many:
            if obj.pk is None:
                result[name] = []
            else:
                result[name] = sorted(str(item) for item in getattr(obj, name).all())
        elif field.is_relation:
            related = getattr(obj, name)
            result[name] = str(related) if related is not None else None
        else:
            result[name] = _jsonable(getattr(obj, name))
    return result


def diff(before: Snapshot, after: Snapshot) -> dict[str, list[Any]]:
    """Field-level ``{field: [before, after]}`` for the fields whose value changed."""
    keys = list(before) + [k for k in after if k not in before]
    return {
        key: [before.get(key), after.get(key)] for key in keys if before.get(key) != after.get(key)
    }


def build(
    obj: models.Model,
    *,
    actor: User | None,
    action: str,
    organization: Organization | None,
    changes: Mapping[str, Any] | None = None,
    note: str = "",
    object_id: Any = None,
) -> AuditEntry:
    """An unsaved entry, for services that write many at once with ``bulk_create``."""
    return AuditEntry(
        at=now(),
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor.email if actor is not None else "",
        organization=organization,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(object_id if object_id is not None else obj.pk),
        object_repr=str(obj)[:255],
        changes=_jsonable(dict(changes or {})),
        note=note[:255],
    )


def record(
    obj: models.Model,
    *,
    actor: User | None,
    action: str,
    organization: Organization | None,
    changes: Mapping[str, Any] | None = None,
    note: str = "",
    object_id: Any = None,
) -> AuditEntry:
    entry = build(
        obj,
        actor=actor,
        action=action,
        organization=organization,
        changes=changes,
        note=note,
        object_id=object_id,
    )
    entry.save()
    return entry


def created_changes(after: Snapshot) -> dict[str, list[Any]]:
    """The ``changes`` of a create entry: each field that has a value, as ``[None, value]``."""
    return {k: [None, v] for k, v in after.items() if v not in (None, "", [], {})}


def record_create(
    obj: models.Model,
    *,
    actor: User | None,
    organization: Organization | None,
    fields: Iterable[str],
) -> AuditEntry:
    return record(
        obj,
        actor=actor,
        action=AuditEntry.Action.CREATE,
        organization=organization,
        changes=created_changes(snapshot(obj, fields)),
    )


def record_update(
    obj: models.Model,
    *,
    actor: User | None,
    organization: Organization | None,
    before: Snapshot,
    fields: Iterable[str],
) -> AuditEntry | None:
    """Record the fields that changed since ``before``; nothing when nothing changed."""
    changes = diff(before, snapshot(obj, fields))
    if not changes:
        return None
    return record(
        obj,
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        organization=organization,
        changes=changes,
    )


def record_delete(
    obj: models.Model,
    *,
    actor: User | None,
    organization: Organization | None,
    fields: Iterable[str],
    object_id: Any,
) -> AuditEntry:
    before = snapshot(obj, fields)
    return record(
        obj,
        actor=actor,
        action=AuditEntry.Action.DELETE,
        organization=organization,
        changes={k: [v, None] for k, v in before.items() if v not in (None, "", [], {})},
        object_id=object_id,
    )
