"""Routing rules of an integration: creating, changing, ordering and deleting them, and
choosing the route of an alert by its labels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from buttress.alerts import matchers as matching
from buttress.alerts.models import Integration, RoutingRule
from buttress.alerts.services.integrations import (
    MAX_GROUP_LABELS,
    MAX_GROUP_WINDOW_MINUTES,
    policy_for,
)
from buttress.assets.models import Asset
from buttress.audit import services as audit
from buttress.audit.models import AuditEntry
from buttress.desk.models import Level
from buttress.escalation.models import EscalationPolicy
from buttress.lib.timeutil import now

if TYPE_CHECKING:
    from buttress.accounts.models import User

RULE_FIELDS = (
    "integration",
    "position",
    "name",
    "is_enabled",
    "matchers",
    "continue_matching",
    "asset",
    "category",
    "impact",
    "urgency",
    "group_by",
    "group_window_minutes",
    "escalation_policy",
)
EDITABLE_FIELDS = frozenset(RULE_FIELDS) - {"integration", "position"}
MAX_RULES = 200


@dataclass
class Route:
    """What the matching rules decided for one alert; empty fields fall back to the
    integration (grouping) and the alert's severity (impact and urgency)."""

    rule: RoutingRule | None = None
    asset: Asset | None = None
    category: str = ""
    impact: str = ""
    urgency: str = ""
    group_by: list[str] = field(default_factory=list)
    group_window: timedelta | None = None
    escalation_policy: EscalationPolicy | None = None


@dataclass(frozen=True)
class CompiledRule:
    rule: RoutingRule
    matchers: list[matching.Matcher]


def compile_rules(integration: Integration) -> list[CompiledRule]:
    """The integration's enabled rules in order, with their matchers parsed once."""
    compiled = []
    rules = (
        integration.routing_rules.enabled()
        .select_related("asset", "escalation_policy")
        .order_by("position", "pk")
    )
    for rule in rules:
        try:
            compiled.append(CompiledRule(rule, matching.parse_all(rule.matchers)))
        except matching.MatcherError:
            continue  # stored matchers were validated; skip rather than fail a delivery
    return compiled


def route(rules: Iterable[CompiledRule], labels: Mapping[str, Any]) -> Route:
    """The first matching rule decides; with ``continue_matching`` the next matching rules
    fill in what it left unset."""
    result = Route()
    for compiled in rules:
        if not matching.all_match(compiled.matchers, labels):
            continue
        rule = compiled.rule
        if result.rule is None:
            result.rule = rule
        if result.asset is None and rule.asset is not None:
            result.asset = rule.asset
        result.category = result.category or rule.category
        result.impact = result.impact or rule.impact
        result.urgency = result.urgency or rule.urgency
        result.group_by = result.group_by or list(rule.group_by)
        if result.group_window is None and rule.group_window_minutes:
            result.group_window = timedelta(minutes=rule.group_window_minutes)
        if result.escalation_policy is None and rule.escalation_policy is not None:
            result.escalation_policy = rule.escalation_policy
        if not rule.continue_matching:
            break
    return result


# --- changing rules --------------------------------------------------------------------------


def _clean(integration: Integration, fields: dict[str, Any]) -> dict[str, Any]:
    name = str(fields.get("name") or "").strip()
    if not name:
        raise ValidationError({"name": "A name is required."})
    if len(name) > 120:
        raise ValidationError({"name": "A name has at most 120 characters."})
    fields["name"] = name
    try:
        fields["matchers"] = matching.normalise(fields.get("matchers") or [])
    except matching.MatcherError as exc:
        raise ValidationError({"matchers": str(exc)}) from exc
    asset = fields.get("asset")
    if asset is not None and not isinstance(asset, Asset):
        found = Asset.objects.filter(organization_id=integration.organization_id, pk=asset).first()
        if found is None:
            raise ValidationError(
                {"asset": "No asset of the integration's organisation has this id."}
            )
        asset = found
    if asset is not None and asset.organization_id != integration.organization_id:
        raise ValidationError({"asset": "No asset of the integration's organisation has this id."})
    fields["asset"] = asset
    category = str(fields.get("category") or "").strip()
    if len(category) > 120:
        raise ValidationError({"category": "A category has at most 120 characters."})
    fields["category"] = category
    for name in ("impact", "urgency"):
        value = str(fields.get(name) or "")
        if value and value not in Level.values:
            raise ValidationError({name: f"One of {', '.join(Level.values)}, or empty."})
        fields[name] = value
    group_by = fields.get("group_by") or []
    if not isinstance(group_by, list) or not all(
        isinstance(label, str) and label.strip() for label in group_by
    ):
        raise ValidationError({"group_by": "Give a list of label names."})
    if len(group_by) > MAX_GROUP_LABELS:
        raise ValidationError({"group_by": f"At most {MAX_GROUP_LABELS} labels."})
    fields["group_by"] = [label.strip() for label in group_by]
    window = fields.get("group_window_minutes")
    if window is not None and (
        not isinstance(window, int) or not 1 <= window <= MAX_GROUP_WINDOW_MINUTES
    ):
        raise ValidationError(
            {"group_window_minutes": f"Between 1 and {MAX_GROUP_WINDOW_MINUTES} minutes, or empty."}
        )
    fields["escalation_policy"] = policy_for(
        integration.organization_id, fields.get("escalation_policy")
    )
    fields["is_enabled"] = bool(fields.get("is_enabled", True))
    fields["continue_matching"] = bool(fields.get("continue_matching", False))
    return fields


@transaction.atomic
def create_rule(
    integration: Integration,
    *,
    actor: User | None,
    name: str,
    matchers: Any = None,
    is_enabled: bool = True,
    continue_matching: bool = False,
    asset: Asset | int | None = None,
    category: str = "",
    impact: str = "",
    urgency: str = "",
    group_by: list[str] | None = None,
    group_window_minutes: int | None = None,
    escalation_policy: EscalationPolicy | int | None = None,
    position: int | None = None,
) -> RoutingRule:
    """A new rule, last unless ``position`` puts it before others (counted from 0)."""
    integration = Integration.objects.select_for_update(no_key=True).get(pk=integration.pk)
    rules = list(integration.routing_rules.order_by("position", "pk"))
    if len(rules) >= MAX_RULES:
        raise ValidationError({"name": f"An integration has at most {MAX_RULES} routing rules."})
    fields = _clean(
        integration,
        {
            "name": name,
            "matchers": matchers,
            "is_enabled": is_enabled,
            "continue_matching": continue_matching,
            "asset": asset,
            "category": category,
            "impact": impact,
            "urgency": urgency,
            "group_by": group_by,
            "group_window_minutes": group_window_minutes,
            "escalation_policy": escalation_policy,
        },
    )
    at = now()
    top = integration.routing_rules.aggregate(top=Max("position"))["top"]
    rule = RoutingRule.objects.create(
        organization_id=integration.organization_id,
        integration=integration,
        position=0 if top is None else top + 1,
        created_at=at,
        updated_at=at,
        **fields,
    )
    if position is not None:
        if not isinstance(position, int) or position < 0:
            raise ValidationError({"position": "A position counts from 0."})
        rules.insert(min(position, len(rules)), rule)
        _renumber(rules)
        rule.refresh_from_db(fields=["position"])
    audit.record_create(
        rule, actor=actor, organization=integration.organization, fields=RULE_FIELDS
    )
    return rule


@transaction.atomic
def update_rule(rule: RoutingRule, *, actor: User | None, **changes: Any) -> RoutingRule:
    for name in changes:
        if name not in EDITABLE_FIELDS:
            raise ValidationError({name: "This field cannot be changed."})
    integration = Integration.objects.select_related("organization").get(pk=rule.integration_id)
    before = audit.snapshot(rule, RULE_FIELDS)
    current = {name: getattr(rule, name) for name in EDITABLE_FIELDS}
    fields = _clean(integration, {**current, **changes})
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.updated_at = now()
    rule.save()
    audit.record_update(
        rule, actor=actor, organization=integration.organization, before=before, fields=RULE_FIELDS
    )
    return rule


def _renumber(rules: list[RoutingRule]) -> None:
    for index, rule in enumerate(rules):
        if rule.position != index:
            rule.position = index
            RoutingRule.objects.filter(pk=rule.pk).update(position=index)


@transaction.atomic
def reorder_rules(
    integration: Integration, *, actor: User | None, order: list[int]
) -> list[RoutingRule]:
    """Put the rules in ``order`` (every rule id of the integration, each once)."""
    integration = Integration.objects.select_for_update(no_key=True).get(pk=integration.pk)
    rules = {rule.pk: rule for rule in integration.routing_rules.all()}
    if sorted(order) != sorted(rules) or len(set(order)) != len(order):
        raise ValidationError(
            {"order": "Give every routing rule id of this integration exactly once."}
        )
    ordered = [rules[pk] for pk in order]
    before = [rule.pk for rule in sorted(rules.values(), key=lambda r: (r.position, r.pk))]
    _renumber(ordered)
    audit.record(
        integration,
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        organization=integration.organization,
        changes={"routing_rules": [before, order]},
        note=f"Routing rules of alert integration {integration.name!r} reordered",
    )
    return ordered


@transaction.atomic
def delete_rule(rule: RoutingRule, *, actor: User | None) -> None:
    """Alerts it routed keep their asset and incident; they only forget the rule."""
    integration = Integration.objects.select_related("organization").get(pk=rule.integration_id)
    pk = rule.pk
    audit.record_delete(
        rule, actor=actor, organization=integration.organization, fields=RULE_FIELDS, object_id=pk
    )
    rule.delete()
    _renumber(list(integration.routing_rules.order_by("position", "pk")))
