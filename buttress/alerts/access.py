"""Fetching integrations and alerts with tenancy and permission applied in one call.

Provider staff and organisation admins see the integrations of the organisations they see;
admins and agents create, change, rotate and delete them. An incident's alerts are shown to
whoever may see the ticket and integrations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from buttress.accounts.models import STAFF_ROLES, Role
from buttress.alerts.models import (
    Alert,
    AlertQuerySet,
    Integration,
    IntegrationQuerySet,
    RoutingRule,
    Silence,
    SilenceQuerySet,
)
from buttress.tenancy.access import organizations_for

if TYPE_CHECKING:
    from buttress.accounts.models import User
    from buttress.desk.models import Ticket

MANAGERS = frozenset({Role.ADMIN, Role.AGENT})


def can_view(user: User) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and (user.role in STAFF_ROLES or user.role == Role.ORG_ADMIN)
    )


def require_view(user: User) -> None:
    if not can_view(user):
        raise PermissionDenied("Your role may not see alert integrations.")


def require_manage(user: User) -> None:
    require_view(user)
    if user.role not in MANAGERS:
        raise PermissionDenied(
            "Only admins and agents manage alert integrations, routing rules and silences."
        )


def integrations_for(user: User) -> IntegrationQuerySet:
    if not user.is_authenticated or not user.is_active:
        return Integration.objects.none()
    return Integration.objects.filter(organization__in=organizations_for(user))


def get_integration_for(user: User, pk: int | str, *, manage: bool = False) -> Integration:
    """The integration if ``user`` sees its organisation (else 404) and may act (else 403)."""
    try:
        integration = integrations_for(user).select_related("organization").get(pk=pk)
    except (Integration.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("Integration not found.") from exc
    if manage:
        require_manage(user)
    else:
        require_view(user)
    return integration


def alerts_of(user: User, ticket: Ticket) -> QuerySet[Alert]:
    """The alerts of an incident (call with a ticket from ``desk.access.get_ticket_for``)."""
    require_view(user)
    return Alert.objects.filter(incident=ticket, organization_id=ticket.organization_id)


def get_rule_for(
    user: User, integration: Integration, pk: int | str, *, manage: bool = False
) -> RoutingRule:
    """A routing rule of ``integration`` (fetched with ``get_integration_for``), else 404."""
    try:
        rule = integration.routing_rules.select_related("asset").get(pk=pk)
    except (RoutingRule.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("Routing rule not found.") from exc
    if manage:
        require_manage(user)
    return rule


def silences_for(user: User) -> SilenceQuerySet:
    if not can_view(user):
        return Silence.objects.none()
    return Silence.objects.filter(organization__in=organizations_for(user))


def get_silence_for(user: User, pk: int | str, *, manage: bool = False) -> Silence:
    """The silence if ``user`` sees its organisation (else 404) and may act (else 403)."""
    try:
        silence = silences_for(user).select_related("organization", "created_by").get(pk=pk)
    except (Silence.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("Silence not found.") from exc
    if manage:
        require_manage(user)
    return silence


def alerts_for(user: User) -> AlertQuerySet:
    """Every alert of the organisations ``user`` sees, if the role may see alerts."""
    if not can_view(user):
        return Alert.objects.none()
    return Alert.objects.filter(organization__in=organizations_for(user))
