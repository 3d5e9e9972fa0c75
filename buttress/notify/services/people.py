"""How each person is reached: contact methods, rules and desk-event subscriptions."""

from __future__ import annotations

from datetime import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from buttress.accounts.models import Team, User
from buttress.audit import services as audit
from buttress.notify import channels, crypto, listening
from buttress.notify.models import (
    ContactMethod,
    DeskEvent,
    MethodKind,
    NotificationRule,
    Scope,
    Subscription,
    Urgency,
)

MAX_LABEL = 120
MAX_TARGET = 2000
MAX_DELAY_MINUTES = 24 * 60
METHOD_FIELDS = ("user", "kind", "label", "target_hint")
RULE_FIELDS = ("user", "method", "delay_minutes", "urgency", "quiet_start", "quiet_end")


def _clean_target(user: User, kind: str, target: str) -> tuple[str, str]:
    """(what to store, what may be shown) for a method's target; ValidationError naming
    ``target`` when it is unusable."""
    target = target.strip()
    if not target:
        raise ValidationError({"target": "This field is required."})
    if len(target) > MAX_TARGET:
        raise ValidationError({"target": f"At most {MAX_TARGET} characters."})
    if kind == MethodKind.EMAIL:
        try:
            validate_email(target)
        except ValidationError:
            raise ValidationError({"target": "Enter a valid email address."}) from None
        return target, target
    try:
        hint = channels.apprise_hint(target)
        private = channels.private_target(target)
    except ValueError as exc:
        raise ValidationError({"target": str(exc)}) from None
    if private is not None and not user.is_provider_staff:
        raise ValidationError(
            {"target": f"{private} is a private address; only provider staff may use one."}
        )
    return crypto.seal(target), hint


def reveal(method: ContactMethod) -> str:
    """The method's full target, for sending only."""
    if method.kind == MethodKind.EMAIL:
        return method.target_sealed
    return crypto.unseal(method.target_sealed)


@transaction.atomic
def add_contact_method(
    user: User, *, actor: User | None, kind: str, label: str, target: str
) -> ContactMethod:
    if kind not in MethodKind.values:
        raise ValidationError({"kind": f"Choose one of {', '.join(MethodKind.values)}."})
    label = label.strip()
    if not label or len(label) > MAX_LABEL:
        raise ValidationError({"label": f"Give a label of 1 to {MAX_LABEL} characters."})
    stored, hint = _clean_target(user, kind, target)
    method = ContactMethod.objects.create(
        user=user, kind=kind, label=label, target_sealed=stored, target_hint=hint
    )
    audit.record_create(method, actor=actor, organization=user.organization, fields=METHOD_FIELDS)
    return method


@transaction.atomic
def update_contact_method(
    method: ContactMethod,
    *,
    actor: User | None,
    label: str | None = None,
    target: str | None = None,
) -> ContactMethod:
    before = audit.snapshot(method, METHOD_FIELDS)
    if label is not None:
        label = label.strip()
        if not label or len(label) > MAX_LABEL:
            raise ValidationError({"label": f"Give a label of 1 to {MAX_LABEL} characters."})
        method.label = label
    if target is not None:
        method.target_sealed, method.target_hint = _clean_target(method.user, method.kind, target)
        method.verified_at = None
    method.save()
    audit.record_update(
        method,
        actor=actor,
        organization=method.user.organization,
        before=before,
        fields=METHOD_FIELDS,
    )
    return method


@transaction.atomic
def delete_contact_method(method: ContactMethod, *, actor: User | None) -> None:
    pk = method.pk
    audit.record_delete(
        method,
        actor=actor,
        organization=method.user.organization,
        fields=METHOD_FIELDS,
        object_id=pk,
    )
    method.delete()


def _check_rule_values(
    *, delay_minutes: int, urgency: str, quiet_start: time | None, quiet_end: time | None
) -> None:
    if not 0 <= delay_minutes <= MAX_DELAY_MINUTES:
        raise ValidationError(
            {"delay_minutes": f"From 0 to {MAX_DELAY_MINUTES} minutes (one day)."}
        )
    if urgency not in Urgency.values:
        raise ValidationError({"urgency": f"Choose one of {', '.join(Urgency.values)}."})
    if (quiet_start is None) != (quiet_end is None):
        raise ValidationError({"quiet_end": "Give both ends of the quiet hours, or neither."})
    if quiet_start is not None and quiet_start == quiet_end:
        raise ValidationError({"quiet_end": "Quiet hours must not start and end at once."})


@transaction.atomic
def add_rule(
    user: User,
    *,
    actor: User | None,
    method: ContactMethod,
    delay_minutes: int = 0,
    urgency: str = Urgency.ALL,
    quiet_start: time | None = None,
    quiet_end: time | None = None,
) -> NotificationRule:
    if method.user_id != user.pk:
        raise ValidationError({"method": "Choose one of your own contact methods."})
    _check_rule_values(
        delay_minutes=delay_minutes, urgency=urgency, quiet_start=quiet_start, quiet_end=quiet_end
    )
    rule = NotificationRule.objects.create(
        user=user,
        method=method,
        delay_minutes=delay_minutes,
        urgency=urgency,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
    )
    audit.record_create(rule, actor=actor, organization=user.organization, fields=RULE_FIELDS)
    return rule


@transaction.atomic
def update_rule(rule: NotificationRule, *, actor: User | None, **changes: Any) -> NotificationRule:
    before = audit.snapshot(rule, RULE_FIELDS)
    method = changes.pop("method", None)
    if method is not None:
        if method.user_id != rule.user_id:
            raise ValidationError({"method": "Choose one of your own contact methods."})
        rule.method = method
    for field in ("delay_minutes", "urgency", "quiet_start", "quiet_end"):
        if field in changes:
            setattr(rule, field, changes[field])
    _check_rule_values(
        delay_minutes=rule.delay_minutes,
        urgency=rule.urgency,
        quiet_start=rule.quiet_start,
        quiet_end=rule.quiet_end,
    )
    rule.save()
    audit.record_update(
        rule, actor=actor, organization=rule.user.organization, before=before, fields=RULE_FIELDS
    )
    return rule


@transaction.atomic
def delete_rule(rule: NotificationRule, *, actor: User | None) -> None:
    audit.record_delete(
        rule,
        actor=actor,
        organization=rule.user.organization,
        fields=RULE_FIELDS,
        object_id=rule.pk,
    )
    rule.delete()


def _check_events(events: list[str]) -> None:
    unknown = sorted(set(events) - set(DeskEvent.values))
    if unknown:
        known = ", ".join(DeskEvent.values)
        raise ValidationError({"events": f"Unknown event(s) {', '.join(unknown)}; one of {known}."})


@transaction.atomic
def set_subscriptions(
    *,
    actor: User | None,
    events: list[str],
    user: User | None = None,
    team: Team | None = None,
    scope: str = Scope.MINE,
) -> list[Subscription]:
    """Make ``user``'s (or ``team``'s) followed events exactly ``events``."""
    if (user is None) == (team is None):
        msg = "give a user or a team"
        raise ValueError(msg)
    _check_events(events)
    if scope not in Scope.values:
        raise ValidationError({"scope": f"Choose one of {', '.join(Scope.values)}."})
    owner = {"user": user} if user is not None else {"team": team}
    existing = {s.event: s for s in Subscription.objects.filter(**owner)}
    before = sorted(existing)
    for event, subscription in existing.items():
        if event not in events:
            subscription.delete()
        elif subscription.scope != scope:
            subscription.scope = scope
            subscription.save(update_fields=["scope"])
    for event in events:
        if event not in existing:
            Subscription.objects.create(event=event, scope=scope, **owner)
    kept = list(Subscription.objects.filter(**owner))
    after = sorted(s.event for s in kept)
    if before != after:
        subject: User | Team = user if user is not None else team  # type: ignore[assignment]
        audit.record(
            subject,
            actor=actor,
            action="update",
            organization=user.organization if user is not None else None,
            changes={"notification_events": [before, after]},
        )
    listening.forget()
    return kept
