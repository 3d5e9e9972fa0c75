"""/organizations/{id}/monitoring-settings: an organisation's monitoring policy."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from buttress.api.v1.base import current_user, require_write, responses
from buttress.monitoring import services
from buttress.monitoring.access import get_organization_for_policy
from buttress.monitoring.models import PrivateTargets
from buttress.tenancy.models import Organization

router = Router(tags=["monitors"])


class SettingsOut(Schema):
    organization: int
    private_targets: PrivateTargets = Field(
        description="staff: only monitors set up by provider staff may reach private, loopback "
        "and link-local addresses; allowed: every monitor; refused: none."
    )


class SettingsIn(Schema):
    private_targets: PrivateTargets


def _answer(organization: Organization) -> dict[str, Any]:
    return {
        "organization": organization.pk,
        "private_targets": services.private_targets_policy(organization),
    }


@router.get("/organizations/{org_id}/monitoring-settings", response=responses(SettingsOut))
def get_settings(request: HttpRequest, org_id: int) -> dict[str, Any]:
    """The organisation's policy, for whoever sees its monitors."""
    return _answer(get_organization_for_policy(current_user(request), org_id))


@router.put("/organizations/{org_id}/monitoring-settings", response=responses(SettingsOut))
def put_settings(request: HttpRequest, org_id: int, body: SettingsIn) -> dict[str, Any]:
    """Set the policy (provider admins); the runners follow it within a lease cycle."""
    user = current_user(request)
    organization = get_organization_for_policy(user, org_id, write=True)
    require_write(request)
    services.set_private_targets(organization, actor=user, policy=body.private_targets)
    return _answer(organization)
