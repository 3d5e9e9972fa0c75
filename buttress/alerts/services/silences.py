"""Silences: creating, changing and expiring them, and finding the one that silences an alert.

An alert that a silence matches when it starts firing is recorded, marked with the silence,
and opens or joins no incident. When the silence ends (or is expired or edited) while the
alert still fires, the suppression timer looks at the alert again (see
:func:`buttress.alerts.services.incidents.release_alert`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.alerts import matchers as matching
from buttress.alerts.models import Alert, AlertStatus, Silence
from buttress.audit import services as audit
from buttress.lib.timeutil import now

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.tenancy.models import Organization

SILENCE_FIELDS = ("organization", "matchers", "starts_at", "ends_at", "comment", "created_by")
EDITABLE_FIELDS = frozenset({"matchers", "starts_at", "ends_at", "comment"})
MAX_DURATION = timedelta(days=366)
MAX_COMMENT = 2000


@dataclass(frozen=True)
class CompiledSilence:
    silence: Silence
    matchers: list[matching.Matcher]


def active_silences(organization_id: int, at: datetime) -> list[CompiledSilence]:
    compiled = []
    for silence in Silence.objects.filter(organization_id=organization_id).active_at(at):
        try:
            compiled.append(CompiledSilence(silence, matching.parse_all(silence.matchers)))
        except matching.MatcherError:
            continue
    return compiled


def silence_for(silences: Iterable[CompiledSilence], labels: Mapping[str, Any]) -> Silence | None:
    """The silence (of those given) that lasts longest among those matching ``labels``."""
    found = [s.silence for s in silences if matching.all_match(s.matchers, labels)]
    return max(found, key=lambda s: (s.ends_at, s.pk)) if found else None


def is_active(silence: Silence, at: datetime | None = None) -> bool:
    at = at or now()
    return silence.starts_at <= at < silence.ends_at


def _clean(fields: dict[str, Any], *, at: datetime) -> dict[str, Any]:
    try:
        parsed = matching.parse_all(fields.get("matchers") or [])
    except matching.MatcherError as exc:
        raise ValidationError({"matchers": str(exc)}) from exc
    if not parsed:
        raise ValidationError({"matchers": "A silence needs at least one matcher."})
    if all(matching.matches_empty(matcher) for matcher in parsed):
        raise ValidationError(
            {
                "matchers": "At least one matcher must need a non-empty label value "
                '(such as alertname="HostDown"), or the silence would silence everything.'
            }
        )
    fields["matchers"] = [str(matcher) for matcher in parsed]
    comment = str(fields.get("comment") or "").strip()
    if not comment:
        raise ValidationError({"comment": "Say why the alerts are silenced."})
    if len(comment) > MAX_COMMENT:
        raise ValidationError({"comment": f"A comment has at most {MAX_COMMENT} characters."})
    fields["comment"] = comment
    starts_at, ends_at = fields.get("starts_at") or at, fields.get("ends_at")
    if not isinstance(starts_at, datetime) or starts_at.tzinfo is None:
        raise ValidationError({"starts_at": "A time with a time zone."})
    if not isinstance(ends_at, datetime) or ends_at.tzinfo is None:
        raise ValidationError({"ends_at": "A time with a time zone is required."})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "The end must be after the start."})
    if ends_at <= at:
        raise ValidationError({"ends_at": "The end must be in the future."})
    if ends_at - starts_at > MAX_DURATION:
        raise ValidationError({"ends_at": "A silence lasts at most 366 days."})
    fields["starts_at"], fields["ends_at"] = starts_at, ends_at
    return fields


def _recheck_silenced(silence: Silence, at: datetime) -> None:
    """The firing alerts this silence holds back are looked at again now by the timer: the
    silence ended, or changed so that it may no longer match them."""
    Alert.objects.filter(silence=silence, status=AlertStatus.FIRING, incident__isnull=True).update(
        suppression_due_at=at
    )


@transaction.atomic
def create_silence(
    organization: Organization,
    *,
    actor: User | None,
    matchers: Any,
    ends_at: datetime | None,
    comment: str,
    starts_at: datetime | None = None,
) -> Silence:
    at = now()
    fields = _clean(
        {"matchers": matchers, "starts_at": starts_at, "ends_at": ends_at, "comment": comment},
        at=at,
    )
    silence = Silence.objects.create(
        organization=organization,
        created_by=actor if actor is not None and actor.pk else None,
        created_at=at,
        updated_at=at,
        **fields,
    )
    audit.record_create(silence, actor=actor, organization=organization, fields=SILENCE_FIELDS)
    return silence


@transaction.atomic
def update_silence(silence: Silence, *, actor: User | None, **changes: Any) -> Silence:
    """Change a silence that has not ended; alerts it held back are looked at again."""
    for name in changes:
        if name not in EDITABLE_FIELDS:
            raise ValidationError({name: "This field cannot be changed."})
    silence = Silence.objects.select_for_update().get(pk=silence.pk)
    at = now()
    if silence.ends_at <= at:
        raise ValidationError({"ends_at": "This silence has ended; create a new one."})
    before = audit.snapshot(silence, SILENCE_FIELDS)
    current = {name: getattr(silence, name) for name in EDITABLE_FIELDS}
    fields = _clean({**current, **changes}, at=at)
    for name, value in fields.items():
        setattr(silence, name, value)
    silence.updated_at = at
    silence.save()
    _recheck_silenced(silence, at)
    audit.record_update(
        silence,
        actor=actor,
        organization=silence.organization,
        before=before,
        fields=SILENCE_FIELDS,
    )
    return silence


@transaction.atomic
def expire_silence(silence: Silence, *, actor: User | None) -> Silence:
    """End the silence now (a future one never starts); its alerts that still fire are
    processed by the suppression timer. Expiring an ended silence changes nothing."""
    silence = Silence.objects.select_for_update().get(pk=silence.pk)
    at = now()
    if silence.ends_at <= at:
        return silence
    before = audit.snapshot(silence, SILENCE_FIELDS)
    silence.ends_at = at
    silence.starts_at = min(silence.starts_at, at)
    silence.updated_at = at
    silence.save(update_fields=["starts_at", "ends_at", "updated_at"])
    _recheck_silenced(silence, at)
    audit.record_update(
        silence,
        actor=actor,
        organization=silence.organization,
        before=before,
        fields=SILENCE_FIELDS,
    )
    return silence
