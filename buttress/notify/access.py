"""Fetching notification rows for a user: own contact methods, rules and notifications; the
webhooks of organisations the user may see (provider-wide ones for unlimited staff)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from buttress.accounts.models import Role, User
from buttress.notify.models import (
    ContactMethod,
    Notification,
    NotificationRule,
    WebhookDelivery,
    WebhookEndpoint,
)
from buttress.tenancy.access import (
    has_unrestricted_scope,
    organizations_for,
    sees_all_organizations,
)
from buttress.tenancy.models import Organization


def _get[M: ContactMethod | NotificationRule](queryset: QuerySet[M], pk: int | str) -> M:
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("Not found.") from exc


def methods_for(user: User) -> QuerySet[ContactMethod]:
    return ContactMethod.objects.filter(user=user)


def get_method_for(user: User, pk: int | str) -> ContactMethod:
    return _get(methods_for(user).select_related("user"), pk)


def rules_for(user: User) -> QuerySet[NotificationRule]:
    return NotificationRule.objects.filter(user=user).select_related("method")


def get_rule_for(user: User, pk: int | str) -> NotificationRule:
    return _get(rules_for(user).select_related("user"), pk)


def notifications_for(user: User) -> QuerySet[Notification]:
    """One's own notifications; an unlimited provider admin's view holds everybody's."""
    if has_unrestricted_scope(user):
        return Notification.objects.all()
    return Notification.objects.filter(user=user)


def get_notification_for(user: User, pk: int | str) -> Notification:
    try:
        return notifications_for(user).get(pk=pk)
    except (Notification.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("Notification not found.") from exc


def can_manage_webhooks(user: User, organization_id: int | None) -> bool:
    if organization_id is None:
        return has_unrestricted_scope(user)
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.ORG_ADMIN and user.organization_id == organization_id


def webhooks_for(user: User) -> QuerySet[WebhookEndpoint]:
    if not user.is_authenticated or not user.is_active:
        return WebhookEndpoint.objects.none()
    if user.role == Role.END_USER:
        return WebhookEndpoint.objects.none()
    visible = Q(organization__in=organizations_for(user))
    if sees_all_organizations(user):
        visible |= Q(organization__isnull=True)
    return WebhookEndpoint.objects.filter(visible)


def get_webhook_for(user: User, pk: int | str, *, write: bool = False) -> WebhookEndpoint:
    """The endpoint if ``user`` may see it (else 404) and, with ``write``, manage it (else
    403)."""
    try:
        endpoint = webhooks_for(user).select_related("organization").get(pk=pk)
    except (WebhookEndpoint.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("Webhook not found.") from exc
    if write and not can_manage_webhooks(user, endpoint.organization_id):
        raise PermissionDenied("Your role may not manage webhooks.")
    return endpoint


def organization_for_webhooks(user: User, pk: int | str | None) -> Organization | None:
    """The organisation a new webhook is for (None: provider-wide), if ``user`` may manage
    that organisation's webhooks (404 for one they cannot see, 403 for a role that may not)."""
    if pk is None:
        if not has_unrestricted_scope(user):
            raise PermissionDenied("Only provider admins manage provider-wide webhooks.")
        return None
    try:
        org = organizations_for(user).get(pk=pk)
    except (Organization.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("Organization not found.") from exc
    if not can_manage_webhooks(user, org.pk):
        raise PermissionDenied("Your role may not manage webhooks.")
    return org


def deliveries_for(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint)


def get_delivery_for(endpoint: WebhookEndpoint, pk: int | str) -> WebhookDelivery:
    try:
        return deliveries_for(endpoint).get(pk=pk)
    except (WebhookDelivery.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("Delivery not found.") from exc
