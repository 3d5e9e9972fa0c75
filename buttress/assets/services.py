"""The only place that changes assets and their relations."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from buttress.accounts.models import Team
from buttress.assets.models import (
    IMPACT_KINDS,
    Asset,
    AssetRelation,
    Criticality,
    Kind,
    Lifecycle,
    RelationKind,
    Tag,
)
from buttress.audit import services as audit
from buttress.audit.models import AuditEntry
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
# Rows per INSERT / IN (...) of the bulk services, below SQLite's variable limit.
BULK_BATCH = 500


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


def _tags_named(organization: Organization, names: Iterable[str]) -> dict[str, Tag]:
    """The organisation's tags of these names, creating the missing ones."""
    wanted = sorted(set(names))
    existing: dict[str, Tag] = {}
    for start in range(0, len(wanted), BULK_BATCH):
        chunk = wanted[start : start + BULK_BATCH]
        existing.update(
            {t.name: t for t in Tag.objects.for_org(organization).filter(name__in=chunk)}
        )
    missing = [Tag(organization=organization, name=n) for n in wanted if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True, batch_size=BULK_BATCH)
        return _tags_named(organization, wanted)
    return existing


def _set_tags(asset: Asset, names: list[str]) -> None:
    existing = _tags_named(asset.organization, names)
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
def relate_assets(source: Asset, *, actor: User | None, kind: str, target: Asset) -> AssetRelation:
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
class NewAsset:
    """One asset for :func:`bulk_create_assets`; the fields are those of :func:`create_asset`."""

    name: str
    kind: str = Kind.SERVER
    criticality: str = Criticality.MEDIUM
    status: str = Lifecycle.ACTIVE
    site: Site | None = None
    owner_team: Team | None = None
    description: str = ""
    tags: Sequence[str] = ()
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)


def build_asset(organization: Organization, spec: NewAsset) -> tuple[Asset, list[str]]:
    """The unsaved asset and its tag names, checked as :func:`create_asset` checks them except
    for the name being free (the caller's to know) and the foreign keys existing."""
    _check_refs(organization, spec.site, spec.owner_team)
    asset = Asset(
        organization=organization,
        name=spec.name.strip(),
        kind=spec.kind,
        criticality=spec.criticality,
        status=spec.status,
        site=spec.site,
        owner_team=spec.owner_team,
        description=spec.description,
        attributes=_check_attributes(spec.attributes),
    )
    # Validating a foreign key costs a query each; the objects were fetched by the caller.
    asset.full_clean(
        exclude=["organization", "site", "owner_team"],
        validate_unique=False,
        validate_constraints=False,
    )
    return asset, normalise_tags(spec.tags)


@transaction.atomic
def bulk_create_assets(
    organization: Organization, *, actor: User | None, assets: Sequence[NewAsset]
) -> list[Asset]:
    """Create many assets in a few queries per batch, with one audit entry each (CSV import).

    Fields are checked as :func:`create_asset` checks them, except that the caller must have
    made sure no name is taken (the database constraint still refuses a duplicate).
    """
    built = [build_asset(organization, spec) for spec in assets]
    Asset.objects.bulk_create([asset for asset, _ in built], batch_size=BULK_BATCH)
    tags = _tags_named(organization, (name for _, names in built for name in names))
    link = Asset.tags.through
    link.objects.bulk_create(
        [link(asset_id=asset.pk, tag_id=tags[name].pk) for asset, names in built for name in names],
        batch_size=BULK_BATCH,
    )
    plain_fields = [f for f in ASSET_FIELDS if f != "tags"]
    entries = [
        audit.build(
            asset,
            actor=actor,
            action=AuditEntry.Action.CREATE,
            organization=organization,
            changes=audit.created_changes(
                {**audit.snapshot(asset, plain_fields), "tags": sorted(names)}
            ),
        )
        for asset, names in built
    ]
    AuditEntry.objects.bulk_create(entries, batch_size=BULK_BATCH)
    return [asset for asset, _ in built]


@transaction.atomic
def bulk_relate_assets(
    organization: Organization,
    *,
    actor: User | None,
    relations: Sequence[tuple[Asset, str, Asset]],
) -> None:
    """Add many ``(source, kind, target)`` relations that do not exist yet (CSV import), with one
    audit entry per source asset listing what it gained."""
    added: dict[int, tuple[Asset, list[str]]] = {}
    rows = []
    for source, kind, target in relations:
        if kind not in RelationKind.values:
            raise ValidationError({"kind": f"Unknown relation kind {kind!r}."})
        if source.organization_id != organization.pk or target.organization_id != organization.pk:
            raise ValidationError({"target": "Both assets must belong to the organisation."})
        if source.pk == target.pk:
            raise ValidationError({"target": "An asset cannot relate to itself."})
        rows.append(
            AssetRelation(organization=organization, source=source, target=target, kind=kind)
        )
        added.setdefault(source.pk, (source, []))[1].append(f"{kind} {target.name}")
    AssetRelation.objects.bulk_create(rows, ignore_conflicts=True, batch_size=BULK_BATCH)
    AuditEntry.objects.bulk_create(
        [
            audit.build(
                source,
                actor=actor,
                action=AuditEntry.Action.UPDATE,
                organization=organization,
                changes={"relations": [None, ", ".join(sorted(gained))]},
            )
            for source, gained in added.values()
        ],
        batch_size=BULK_BATCH,
    )


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
