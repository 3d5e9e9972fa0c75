"""The only place that changes assets and their relations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.accounts.models import Team
from buttress.assets.models import IMPACT_KINDS, Asset, AssetRelation, RelationKind, Tag
from buttress.audit import services as audit
from buttress.tenancy.models import Organization, Site

if TYPE_CHECKING:
    from buttress.accounts.models import User

ASSET_FIELDS = (
    "name",
    "kind",
    "criticality",
    "status",
    "site",
    "owner_team",
    "description",
    "tags",
    "attributes",
)
EDITABLE_FIELDS = frozenset(ASSET_FIELDS)
MAX_TAGS = 50
MAX_TAG_LENGTH = 64
# A guard against a pathological graph; real CMDBs stay far below it.
MAX_IMPACT_NODES = 100_000


def normalise_tags(tags: Iterable[Any]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        text = str(tag).strip().lower()
        if not text:
            continue
        if len(text) > MAX_TAG_LENGTH:
            raise ValidationError({"tags": f"Tag {text[:20]!r}… is longer than 64 characters."})
        if text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_TAGS:
        raise ValidationError({"tags": f"At most {MAX_TAGS} tags per asset."})
    return cleaned


def _check_attributes(attributes: Any) -> dict[str, Any]:
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise ValidationError({"attributes": "Attributes must be an object of key/value pairs."})
    for key, value in attributes.items():
        if not str(key).strip():
            raise ValidationError({"attributes": "Attribute names cannot be empty."})
        if isinstance(value, dict | list):
            raise ValidationError(
                {"attributes": f"Attribute {key!r} must be text, a number or true/false."}
            )
    return {str(k).strip(): v for k, v in attributes.items()}


def _check_refs(organization: Organization, site: Site | None, owner_team: Team | None) -> None:
    if site is not None and site.organization_id != organization.pk:
        raise ValidationError({"site": "The site belongs to another organisation."})


def _set_tags(asset: Asset, names: list[str]) -> None:
    existing = {t.name: t for t in Tag.objects.for_org(asset.organization).filter(name__in=names)}
    missing = [Tag(organization=asset.organization, name=n) for n in names if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {
            t.name: t for t in Tag.objects.for_org(asset.organization).filter(name__in=names)
        }
    asset.tags.set([existing[n] for n in names])


@transaction.atomic
def create_asset(
    organization: Organization,
    *,
    actor: User | None,
    name: str,
    kind: str = "server",
    criticality: str = "medium",
    status: str = "active",
    site: Site | None = None,
    owner_team: Team | None = None,
    description: str = "",
    tags: Iterable[str] = (),
    attributes: dict[str, Any] | None = None,
    audit_entry: bool = True,
) -> Asset:
    _check_refs(organization, site, owner_team)
    asset = Asset(
        organization=organization,
        name=name.strip(),
        kind=kind,
        criticality=criticality,
        status=status,
        site=site,
        owner_team=owner_team,
        description=description,
        attributes=_check_attributes(attributes),
    )
    asset.full_clean()
    asset.save()
    _set_tags(asset, normalise_tags(tags))
    if audit_entry:
        audit.record_create(asset, actor=actor, organization=organization, fields=ASSET_FIELDS)
    return asset


@transaction.atomic
def update_asset(asset: Asset, *, actor: User | None, **changes: Any) -> Asset:
    before = audit.snapshot(asset, ASSET_FIELDS)
    tags = changes.pop("tags", None)
    for field, value in changes.items():
        if field not in EDITABLE_FIELDS:
            raise ValidationError({field: "This field cannot be changed."})
        if field == "attributes":
            value = _check_attributes(value)
        if field == "name":
            value = str(value).strip()
        setattr(asset, field, value)
    _check_refs(asset.organization, asset.site, asset.owner_team)
    asset.full_clean()
    asset.save()
    if tags is not None:
        _set_tags(asset, normalise_tags(tags))
    audit.record_update(
        asset, actor=actor, organization=asset.organization, before=before, fields=ASSET_FIELDS
    )
    return asset


@transaction.atomic
def delete_asset(asset: Asset, *, actor: User | None) -> None:
    audit.record_delete(
        asset,
        actor=actor,
        organization=asset.organization,
        fields=ASSET_FIELDS,
        object_id=asset.pk,
    )
    asset.delete()


@transaction.atomic
def relate_assets(
    source: Asset, *, actor: User | None, kind: str, target: Asset
) -> AssetRelation:
    if kind not in RelationKind.values:
        raise ValidationError({"kind": f"Unknown relation kind {kind!r}."})
    if source.organization_id != target.organization_id:
        raise ValidationError({"target": "Both assets must belong to the same organisation."})
    if source.pk == target.pk:
        raise ValidationError({"target": "An asset cannot relate to itself."})
    relation, created = AssetRelation.objects.get_or_create(
        organization_id=source.organization_id, source=source, target=target, kind=kind
    )
    if created:
        audit.record(
            source,
            actor=actor,
            action="update",
            organization=source.organization,
            changes={"relations": [None, f"{kind} {target.name}"]},
        )
    return relation


@transaction.atomic
def delete_relation(relation: AssetRelation, *, actor: User | None) -> None:
    audit.record(
        relation.source,
        actor=actor,
        action="update",
        organization=relation.source.organization,
        changes={"relations": [f"{relation.kind} {relation.target.name}", None]},
    )
    relation.delete()


@dataclass(frozen=True)
class Impacted:
    asset: Asset
    depth: int
    via: Asset | None  # the asset through which the impact reaches this one
    kind: str


def impact_of(asset: Asset) -> list[Impacted]:
    """Every asset that depends on ``asset``, directly or through others (breadth-first).

    One query per level of the graph; cycles are harmless because each asset is visited once.
    """
    seen: dict[int, tuple[int, int | None, str]] = {}
    frontier = {asset.pk}
    depth = 0
    while frontier and len(seen) < MAX_IMPACT_NODES:
        depth += 1
        edges = AssetRelation.objects.filter(
            organization_id=asset.organization_id, target_id__in=frontier, kind__in=IMPACT_KINDS
        ).values_list("source_id", "target_id", "kind")
        next_frontier: set[int] = set()
        for source_id, target_id, kind in edges:
            if source_id == asset.pk or source_id in seen:
                continue
            seen[source_id] = (depth, target_id, kind)
            next_frontier.add(source_id)
        frontier = next_frontier
    assets = Asset.objects.in_bulk([*seen, asset.pk])
    result = [
        Impacted(
            asset=assets[pk],
            depth=d,
            via=assets.get(via) if via != asset.pk and via is not None else None,
            kind=kind,
        )
        for pk, (d, via, kind) in seen.items()
        if pk in assets
    ]
    result.sort(key=lambda item: (item.depth, item.asset.name.lower()))
    return result
