"""/assets/{id}/relations, /impact and /history: an asset's place in the CMDB graph."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from buttress.api.v1.audit import AUDIT_ORDER, AuditEntryOut
from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    current_user,
    paginated,
    require_write,
    responses,
)
from buttress.assets import services
from buttress.assets.access import get_asset_for
from buttress.assets.models import Asset, AssetRelation, RelationKind
from buttress.audit.models import AuditEntry
from buttress.tenancy import access
from buttress.tenancy.access import Capability

router = Router(tags=["assets"])

# A hub (a hypervisor, a core switch) can have thousands of relations; the answer stays bounded.
MAX_RELATIONS = 1000


class RelationOut(Schema):
    id: int
    kind: str
    source: int = Field(validation_alias="source_id")
    source_name: str = Field(validation_alias="source.name")
    target: int = Field(validation_alias="target_id")
    target_name: str = Field(validation_alias="target.name")


class RelationsOut(Schema):
    outgoing: list[RelationOut] = Field(description="This asset <kind> target.")
    incoming: list[RelationOut] = Field(description="Source <kind> this asset.")
    truncated: bool = Field(description=f"True when a side has more than {MAX_RELATIONS}.")


class RelationIn(Schema):
    kind: RelationKind
    target: int = Field(description="An asset of the same organisation.")


class AssetRef(Schema):
    id: int
    name: str


class ImpactedOut(Schema):
    asset: AssetRef
    depth: int = Field(description="1 for a direct dependant, 2 for one of its dependants...")
    via: AssetRef | None = Field(description="The asset through which the impact arrives.")
    kind: str = Field(description="The relation kind that carries the impact.")


class ImpactOut(Schema):
    items: list[ImpactedOut]


@router.get("/assets/{asset_id}/relations", response=responses(RelationsOut))
def list_relations(request: HttpRequest, asset_id: int) -> dict[str, object]:
    asset = get_asset_for(current_user(request), asset_id)
    base = AssetRelation.objects.for_org(asset.organization_id).select_related("source", "target")
    outgoing = list(base.filter(source=asset).order_by("kind", "target__name")[: MAX_RELATIONS + 1])
    incoming = list(base.filter(target=asset).order_by("kind", "source__name")[: MAX_RELATIONS + 1])
    return {
        "outgoing": outgoing[:MAX_RELATIONS],
        "incoming": incoming[:MAX_RELATIONS],
        "truncated": len(outgoing) > MAX_RELATIONS or len(incoming) > MAX_RELATIONS,
    }


@router.post("/assets/{asset_id}/relations", response=responses(RelationOut, 201))
def create_relation(request: HttpRequest, asset_id: int, body: RelationIn) -> Status[AssetRelation]:
    require_write(request)
    user = current_user(request)
    asset = get_asset_for(user, asset_id, capability=Capability.EDIT_CMDB)
    target = Asset.objects.for_org(asset.organization_id).filter(pk=body.target).first()
    if target is None:
        raise ValidationError({"target": f"There is no asset {body.target} in this organisation."})
    relation = services.relate_assets(asset, actor=user, kind=body.kind.value, target=target)
    relation.source, relation.target = asset, target
    return Status(201, relation)


@router.delete("/assets/{asset_id}/relations/{relation_id}", response=responses(None, 204))
def delete_relation(request: HttpRequest, asset_id: int, relation_id: int) -> Status[None]:
    require_write(request)
    user = current_user(request)
    asset = get_asset_for(user, asset_id, capability=Capability.EDIT_CMDB)
    relation = (
        AssetRelation.objects.for_org(asset.organization_id)
        .filter(Q(source=asset) | Q(target=asset), pk=relation_id)
        .select_related("source__organization", "target")
        .first()
    )
    if relation is None:
        raise Http404("Relation not found.")
    services.delete_relation(relation, actor=user)
    return Status(204, None)


@router.get("/assets/{asset_id}/impact", response=responses(ImpactOut))
def asset_impact(request: HttpRequest, asset_id: int) -> dict[str, object]:
    asset = get_asset_for(current_user(request), asset_id)
    return {
        "items": [
            {
                "asset": item.asset,
                "depth": item.depth,
                "via": item.via,
                "kind": item.kind,
            }
            for item in services.impact_of(asset)
        ]
    }


@router.get("/assets/{asset_id}/history", response=responses(CursorPage[AuditEntryOut]))
def asset_history(
    request: HttpRequest, asset_id: int, page: Query[PageParams]
) -> dict[str, object]:
    user = current_user(request)
    asset = get_asset_for(user, asset_id)
    access.require(user, Capability.VIEW_AUDIT)
    entries = AuditEntry.objects.for_org(asset.organization_id).for_object(
        Asset._meta.label_lower, asset.pk
    )
    return paginated(entries, page, order=AUDIT_ORDER)
