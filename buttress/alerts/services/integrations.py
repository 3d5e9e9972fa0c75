"""Creating, changing, rotating and deleting alert integrations, and finding one by its key."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.alerts.formats import clean_mapping
from buttress.alerts.models import (
    DEFAULT_GROUP_WINDOW_MINUTES,
    DEFAULT_RATE_LIMIT,
    KEY_LENGTH,
    KEY_PREFIX_LENGTH,
    KEY_SECRET_LENGTH,
    Integration,
    IntegrationKind,
)
from buttress.audit import services as audit
from buttress.audit.models import AuditEntry
from buttress.escalation.models import EscalationPolicy
from buttress.lib.timeutil import now

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.tenancy.models import Organization

INTEGRATION_FIELDS = (
    "organization",
    "name",
    "kind",
    "is_enabled",
    "mapping",
    "group_by",
    "group_window_minutes",
    "rate_limit_per_minute",
    "escalation_policy",
)
EDITABLE_FIELDS = frozenset(INTEGRATION_FIELDS) - {"organization", "kind"}
# Kinds a user may create; the monitoring source is built in (see :mod:`.sources`).
CREATABLE_KINDS = [kind for kind in IntegrationKind.values if kind != IntegrationKind.MONITORING]
KEY_ALPHABET = string.ascii_lowercase + string.digits
MAX_GROUP_WINDOW_MINUTES = 7 * 24 * 60
MAX_RATE_LIMIT = 1_000_000
MAX_GROUP_LABELS = 10
# Where each kind's sender posts; "{key}" stands for the integration key.
PATHS: dict[str, str] = {
    IntegrationKind.ALERTMANAGER: "/hooks/alertmanager/{key}",
    IntegrationKind.GRAFANA: "/hooks/grafana/{key}",
    IntegrationKind.PROMETHEUS: "/hooks/{key}/api/v2/alerts",
    IntegrationKind.GENERIC: "/hooks/generic/{key}",
    IntegrationKind.PAGERDUTY: "/v2/enqueue",
}


@dataclass(frozen=True)
class IssuedKey:
    integration: Integration
    key: str  # shown once, never stored

    @property
    def url(self) -> str:
        return url_for(self.integration, key=self.key)


def mail_address(key: str | None = None) -> str:
    """An email integration's address: ``ALERTS_MAIL_ADDRESS`` tagged with the whole key
    (``alerts+<key>@domain``), so only who was given the key can address it."""
    configured = str(getattr(settings, "ALERTS_MAIL_ADDRESS", "") or "alerts@localhost")
    local, _, domain = configured.partition("@")
    return f"{local}+{key or '{key}'}@{domain or 'localhost'}"


def url_for(integration: Integration, *, key: str | None = None) -> str:
    """The URL the sender posts to (for email integrations, the address to mail); without the
    key (which is not stored) a ``{key}`` placeholder stands in for it."""
    if integration.kind == IntegrationKind.EMAIL:
        return mail_address(key)
    path = PATHS.get(integration.kind)
    if path is None:
        return ""
    return settings.BASE_URL + path.replace("{key}", key or "{key}")


def _new_key() -> tuple[str, str]:
    """(prefix, key): letters and digits only, so the key fits a URL path and a routing_key."""
    key = "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))
    return key[:KEY_PREFIX_LENGTH], key


def find_by_key(key: str) -> Integration | None:
    """The integration whose key is ``key`` (enabled or not), or None."""
    key = key.strip()
    if len(key) != KEY_PREFIX_LENGTH + KEY_SECRET_LENGTH:
        return None
    found = (
        Integration.objects.select_related("organization")
        .filter(key_prefix=key[:KEY_PREFIX_LENGTH])
        .first()
    )
    if found is None or not secrets.compare_digest(found.key_digest, Integration.hash_key(key)):
        return None
    return found


def find_by_keys(keys: Iterable[str]) -> dict[str, Integration]:
    """The integrations of the keys that name one (enabled or not), in one query."""
    wanted = {key.strip() for key in keys}
    wanted = {key for key in wanted if len(key) == KEY_PREFIX_LENGTH + KEY_SECRET_LENGTH}
    if not wanted:
        return {}
    rows = {
        found.key_prefix: found
        for found in Integration.objects.filter(
            key_prefix__in={key[:KEY_PREFIX_LENGTH] for key in wanted}
        )
    }
    matched: dict[str, Integration] = {}
    for key in wanted:
        found = rows.get(key[:KEY_PREFIX_LENGTH])
        if found is not None and secrets.compare_digest(
            found.key_digest, Integration.hash_key(key)
        ):
            matched[key] = found
    return matched


def policy_for(organization_id: int, value: Any) -> EscalationPolicy | None:
    """The escalation policy ``value`` (a policy or its id) if the organisation may use it:
    its own or a shared one; ValidationError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, EscalationPolicy):
        policy: EscalationPolicy | None = value
    elif isinstance(value, int) and not isinstance(value, bool):
        policy = EscalationPolicy.objects.filter(pk=value).first()
    else:
        raise ValidationError({"escalation_policy": "Give the id of an escalation policy."})
    if policy is None or policy.organization_id not in (None, organization_id):
        raise ValidationError(
            {"escalation_policy": "No escalation policy of the organisation has this id."}
        )
    return policy


def _clean(fields: dict[str, Any], kind: str, organization_id: int) -> dict[str, Any]:
    name = str(fields.get("name") or "").strip()
    if not name:
        raise ValidationError({"name": "A name is required."})
    if len(name) > 120:
        raise ValidationError({"name": "A name has at most 120 characters."})
    fields["name"] = name
    mapping = fields.get("mapping") or {}
    if mapping and kind != IntegrationKind.GENERIC:
        raise ValidationError({"mapping": "A field mapping applies only to generic integrations."})
    try:
        fields["mapping"] = clean_mapping(mapping)
    except ValueError as exc:
        raise ValidationError({"mapping": str(exc)}) from exc
    group_by = fields.get("group_by") or []
    if not isinstance(group_by, list) or not all(
        isinstance(label, str) and label.strip() for label in group_by
    ):
        raise ValidationError({"group_by": "Give a list of label names."})
    if len(group_by) > MAX_GROUP_LABELS:
        raise ValidationError({"group_by": f"At most {MAX_GROUP_LABELS} labels."})
    fields["group_by"] = [label.strip() for label in group_by]
    window = fields.get("group_window_minutes")
    if not isinstance(window, int) or not 1 <= window <= MAX_GROUP_WINDOW_MINUTES:
        raise ValidationError(
            {"group_window_minutes": f"Between 1 and {MAX_GROUP_WINDOW_MINUTES} minutes."}
        )
    limit = fields.get("rate_limit_per_minute")
    if not isinstance(limit, int) or not 0 <= limit <= MAX_RATE_LIMIT:
        raise ValidationError(
            {"rate_limit_per_minute": f"Between 0 (no limit) and {MAX_RATE_LIMIT}."}
        )
    fields["escalation_policy"] = policy_for(organization_id, fields.get("escalation_policy"))
    return fields


@transaction.atomic
def create_integration(
    organization: Organization,
    *,
    actor: User | None,
    name: str,
    kind: str,
    is_enabled: bool = True,
    mapping: dict[str, Any] | None = None,
    group_by: list[str] | None = None,
    group_window_minutes: int = DEFAULT_GROUP_WINDOW_MINUTES,
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT,
    escalation_policy: Any = None,
) -> IssuedKey:
    if kind not in CREATABLE_KINDS:
        raise ValidationError({"kind": f"Must be one of {', '.join(CREATABLE_KINDS)}."})
    fields = _clean(
        {
            "name": name,
            "mapping": mapping,
            "group_by": group_by,
            "group_window_minutes": group_window_minutes,
            "rate_limit_per_minute": rate_limit_per_minute,
            "escalation_policy": escalation_policy,
        },
        kind,
        organization.pk,
    )
    prefix, key = _new_key()
    at = now()
    integration = Integration.objects.create(
        organization=organization,
        kind=kind,
        is_enabled=bool(is_enabled),
        key_prefix=prefix,
        key_digest=Integration.hash_key(key),
        created_at=at,
        updated_at=at,
        **fields,
    )
    audit.record_create(
        integration, actor=actor, organization=organization, fields=INTEGRATION_FIELDS
    )
    return IssuedKey(integration, key)


@transaction.atomic
def update_integration(
    integration: Integration, *, actor: User | None, **changes: Any
) -> Integration:
    for field in changes:
        if field not in EDITABLE_FIELDS:
            raise ValidationError({field: "This field cannot be changed."})
    before = audit.snapshot(integration, INTEGRATION_FIELDS)
    current = {field: getattr(integration, field) for field in EDITABLE_FIELDS}
    fields = _clean({**current, **changes}, integration.kind, integration.organization_id)
    for field, value in fields.items():
        setattr(integration, field, value)
    integration.is_enabled = bool(integration.is_enabled)
    integration.updated_at = now()
    integration.save()
    audit.record_update(
        integration,
        actor=actor,
        organization=integration.organization,
        before=before,
        fields=INTEGRATION_FIELDS,
    )
    return integration


@transaction.atomic
def rotate_key(integration: Integration, *, actor: User | None) -> IssuedKey:
    """A new key; the old one stops working at once."""
    if integration.kind == IntegrationKind.MONITORING:
        raise ValidationError({"kind": "The built-in monitoring integration has no key."})
    prefix, key = _new_key()
    integration.key_prefix = prefix
    integration.key_digest = Integration.hash_key(key)
    integration.updated_at = now()
    integration.save(update_fields=["key_prefix", "key_digest", "updated_at"])
    audit.record(
        integration,
        actor=actor,
        action=AuditEntry.Action.SECURITY,
        organization=integration.organization,
        note=f"Key of alert integration {integration.name!r} rotated",
    )
    return IssuedKey(integration, key)


@transaction.atomic
def delete_integration(integration: Integration, *, actor: User | None) -> None:
    """Its deliveries go with it; its alerts and incidents stay, no longer linked to it."""
    if integration.kind == IntegrationKind.MONITORING:
        raise ValidationError(
            {"kind": "The built-in monitoring integration cannot be deleted; disable it instead."}
        )
    pk = integration.pk
    audit.record_delete(
        integration,
        actor=actor,
        organization=integration.organization,
        fields=INTEGRATION_FIELDS,
        object_id=pk,
    )
    integration.delete()
