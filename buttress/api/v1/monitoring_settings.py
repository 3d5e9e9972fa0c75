"""/organizations/{id}/monitoring-settings: an organisation's monitoring policy (private
addresses, whether recoveries resolve incidents)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from buttress.api.v1.base import current_user, require_write, responses
from buttress.monitoring import services
from buttress.monitoring.access import get_organization_for_policy
from buttress.monitoring.models import PrivateTargets
from buttress.tenancy.models import Organization

router = Router(tags=["monitors"])


RESOLVE_DESCRIPTION = (
    "Whether a monitor's recovery resolves the incident its failure opened (once none of its "
    "alerts fire); null: the installation's default (BUTTRESS_RESOLVE_INCIDENTS)."
)


class SettingsOut(Schema):
    organization: int
    private_targets: PrivateTargets = Field(
        description="staff: only monitors set up by provider staff may reach private, loopback "
        "and link-local addresses; allowed: every monitor; refused: none."
    )
    resolve_incidents: bool | None = Field(description=RESOLVE_DESCRIPTION)
    resolves_incidents: bool = Field(
        description="What a recovery does now: resolve_incidents, or the installation's default."
    )


class SettingsIn(Schema):
    private_targets: PrivateTargets | None = Field(default=None, description="Unchanged if absent.")
    resolve_incidents: bool | None = Field(
        default=None, description=RESOLVE_DESCRIPTION + " Unchanged if absent."
    )


def _answer(organization: Organization) -> dict[str, Any]:
    chosen = services.resolve_incidents_choice(organization)
    return {
        "organization": organization.pk,
        "private_targets": services.private_targets_policy(organization),
        "resolve_incidents": chosen,
        "resolves_incidents": services.resolves_with(chosen),
    }


@router.get("/organizations/{org_id}/monitoring-settings", response=responses(SettingsOut))
def get_settings(request: HttpRequest, org_id: int) -> dict[str, Any]:
    """The organisation's policy, for whoever sees its monitors."""
    return _answer(get_organization_for_policy(current_user(request), org_id))


@router.put("/organizations/{org_id}/monitoring-settings", response=responses(SettingsOut))
def put_settings(request: HttpRequest, org_id: int, body: SettingsIn) -> dict[str, Any]:
    """Change the settings named (provider admins); the runners follow the private-address
    policy within a lease cycle. ``"resolve_incidents": null`` returns to the default."""
    user = current_user(request)
    organization = get_organization_for_policy(user, org_id, write=True)
    require_write(request)
    given = body.model_fields_set
    with transaction.atomic():
        if "private_targets" in given and body.private_targets is not None:
            services.set_private_targets(organization, actor=user, policy=body.private_targets)
        if "resolve_incidents" in given:
            services.set_resolve_incidents(organization, actor=user, resolve=body.resolve_incidents)
    return _answer(organization)
