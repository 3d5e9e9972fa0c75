"""/me/contact-methods, /me/notification-rules, /me/subscriptions: how the caller is notified;
/me/request-mail: the mail the caller gets as a requester;
/notifications: the notification log; /webhooks: outgoing webhooks and their deliveries."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status as HttpStatus
from pydantic import Field

from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    current_user,
    paginated,
    require_write,
    responses,
    team_param,
)
from buttress.notify import access
from buttress.notify.models import (
    ContactMethod,
    DeskEvent,
    Notification,
    NotificationRule,
    RequesterEvent,
    RequesterPreference,
    Scope,
    Subscription,
    Urgency,
    WebhookDelivery,
    WebhookEndpoint,
)
from buttress.notify.services import hooks, people, requesters, sending
from buttress.tenancy.models import Contact

router = Router(tags=["notifications"])


# --- contact methods -------------------------------------------------------------------------


class MethodOut(Schema):
    id: int
    kind: str
    label: str
    target: str = Field(
        validation_alias="target_hint",
        description="The address, or the Apprise URL with its secrets masked; never in full.",
    )
    verified_at: datetime | None = Field(description="When a message through it was accepted.")
    created_at: datetime


class MethodIn(Schema):
    kind: str = Field(description="email | apprise")
    label: str = Field(min_length=1, max_length=people.MAX_LABEL)
    target: str = Field(
        min_length=1,
        max_length=people.MAX_TARGET,
        description="An email address, or an Apprise URL (slack://, tgram://, ntfy://, ...).",
    )


class MethodPatch(Schema):
    label: str | None = Field(None, min_length=1, max_length=people.MAX_LABEL)
    target: str | None = Field(None, min_length=1, max_length=people.MAX_TARGET)


class NotificationOut(Schema):
    id: int
    user: int = Field(validation_alias="user_id")
    organization: int | None = Field(validation_alias="organization_id")
    ticket: int | None = Field(validation_alias="ticket_id")
    method: int | None = Field(validation_alias="method_id")
    channel: str
    destination: str
    event: str
    urgent: bool
    subject: str
    status: str = Field(description="queued | sent | retrying | failed | cancelled")
    attempts: int
    last_error: str
    created_at: datetime
    scheduled_for: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None = Field(validation_alias="send_due_at")


@router.get("/me/contact-methods", response=responses(list[MethodOut]))
def list_methods(request: HttpRequest) -> list[ContactMethod]:
    return list(access.methods_for(current_user(request)))


@router.post("/me/contact-methods", response=responses(MethodOut, 201))
def create_method(request: HttpRequest, body: MethodIn) -> HttpStatus[ContactMethod]:
    require_write(request)
    user = current_user(request)
    method = people.add_contact_method(
        user, actor=user, kind=body.kind, label=body.label, target=body.target
    )
    return HttpStatus(201, method)


@router.get("/me/contact-methods/{method_id}", response=responses(MethodOut))
def get_method(request: HttpRequest, method_id: int) -> ContactMethod:
    return access.get_method_for(current_user(request), method_id)


@router.patch("/me/contact-methods/{method_id}", response=responses(MethodOut))
def update_method(request: HttpRequest, method_id: int, body: MethodPatch) -> ContactMethod:
    require_write(request)
    user = current_user(request)
    method = access.get_method_for(user, method_id)
    return people.update_contact_method(method, actor=user, label=body.label, target=body.target)


@router.delete("/me/contact-methods/{method_id}", response=responses(None, 204))
def delete_method(request: HttpRequest, method_id: int) -> HttpStatus[None]:
    require_write(request)
    user = current_user(request)
    people.delete_contact_method(access.get_method_for(user, method_id), actor=user)
    return HttpStatus(204, None)


@router.post("/me/contact-methods/{method_id}/test", response=responses(NotificationOut))
def test_method(request: HttpRequest, method_id: int) -> Notification:
    """Send a test message through the method now; the answer is its log entry (status sent,
    or retrying/failed with the channel's error)."""
    require_write(request)
    user = current_user(request)
    return sending.send_test(access.get_method_for(user, method_id), actor=user)


# --- rules -----------------------------------------------------------------------------------


class RuleOut(Schema):
    id: int
    method: int = Field(validation_alias="method_id")
    delay_minutes: int
    urgency: str = Field(description="all | urgent (P1 only)")
    quiet_start: time | None = Field(description="Quiet hours in your time zone; P1 ignores them.")
    quiet_end: time | None
    created_at: datetime


class RuleIn(Schema):
    method: int
    delay_minutes: int = Field(0, description="0 to 1440.")
    urgency: str = Urgency.ALL
    quiet_start: time | None = None
    quiet_end: time | None = None


class RulePatch(Schema):
    method: int | None = None
    delay_minutes: int | None = None
    urgency: str | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None


def _own_method(request: HttpRequest, pk: int) -> ContactMethod:
    method = access.methods_for(current_user(request)).filter(pk=pk).first()
    if method is None:
        raise ValidationError({"method": f"You have no contact method {pk}."})
    return method


@router.get("/me/notification-rules", response=responses(list[RuleOut]))
def list_rules(request: HttpRequest) -> list[NotificationRule]:
    return list(access.rules_for(current_user(request)))


@router.post("/me/notification-rules", response=responses(RuleOut, 201))
def create_rule(request: HttpRequest, body: RuleIn) -> HttpStatus[NotificationRule]:
    require_write(request)
    user = current_user(request)
    rule = people.add_rule(
        user,
        actor=user,
        method=_own_method(request, body.method),
        delay_minutes=body.delay_minutes,
        urgency=body.urgency,
        quiet_start=body.quiet_start,
        quiet_end=body.quiet_end,
    )
    return HttpStatus(201, rule)


@router.get("/me/notification-rules/{notification_rule_id}", response=responses(RuleOut))
def get_rule(request: HttpRequest, notification_rule_id: int) -> NotificationRule:
    return access.get_rule_for(current_user(request), notification_rule_id)


@router.patch("/me/notification-rules/{notification_rule_id}", response=responses(RuleOut))
def update_rule(
    request: HttpRequest, notification_rule_id: int, body: RulePatch
) -> NotificationRule:
    require_write(request)
    user = current_user(request)
    rule = access.get_rule_for(user, notification_rule_id)
    changes: dict[str, Any] = body.dict(exclude_unset=True)
    if changes.get("method") is not None:
        changes["method"] = _own_method(request, changes["method"])
    elif "method" in changes:
        del changes["method"]
    return people.update_rule(rule, actor=user, **changes)


@router.delete("/me/notification-rules/{notification_rule_id}", response=responses(None, 204))
def delete_rule(request: HttpRequest, notification_rule_id: int) -> HttpStatus[None]:
    require_write(request)
    user = current_user(request)
    people.delete_rule(access.get_rule_for(user, notification_rule_id), actor=user)
    return HttpStatus(204, None)


# --- subscriptions ---------------------------------------------------------------------------


class SubscriptionsOut(Schema):
    events: list[str] = Field(description=", ".join(DeskEvent.values))
    scope: str = Field(description="mine | all")


class SubscriptionsIn(Schema):
    events: list[str]
    scope: str = Scope.MINE


def _subscriptions_view(rows: list[Subscription]) -> dict[str, Any]:
    return {
        "events": sorted(row.event for row in rows),
        "scope": rows[0].scope if rows else Scope.MINE,
    }


@router.get("/me/subscriptions", response=responses(SubscriptionsOut))
def get_subscriptions(request: HttpRequest) -> dict[str, Any]:
    user = current_user(request)
    return _subscriptions_view(list(Subscription.objects.filter(user=user)))


@router.put("/me/subscriptions", response=responses(SubscriptionsOut))
def set_subscriptions(request: HttpRequest, body: SubscriptionsIn) -> dict[str, Any]:
    """The desk events you follow (replacing the previous set)."""
    require_write(request)
    user = current_user(request)
    rows = people.set_subscriptions(actor=user, user=user, events=body.events, scope=body.scope)
    return _subscriptions_view(rows)


class RequestMailOut(Schema):
    events: list[str] = Field(description=", ".join(RequesterEvent.values))


class RequestMailIn(Schema):
    events: list[str]


def _own_contact(user: Any) -> Contact:
    contact: Contact | None = user.contact
    if contact is None:
        raise ValidationError(
            "Your account is not linked to a contact, so no mail about requests goes to it."
        )
    return contact


@router.get("/me/request-mail", response=responses(RequestMailOut))
def get_request_mail(request: HttpRequest) -> dict[str, Any]:
    """The mail the caller gets about the requests they opened (as a requester)."""
    contact = _own_contact(current_user(request))
    return {"events": sorted(RequesterPreference.objects.events_for(contact.pk))}


@router.put("/me/request-mail", response=responses(RequestMailOut))
def set_request_mail(request: HttpRequest, body: RequestMailIn) -> dict[str, Any]:
    """Choose that mail (replacing the previous choice; an empty list stops it)."""
    require_write(request)
    user = current_user(request)
    contact = _own_contact(user)
    preference = requesters.set_requester_events(contact, events=body.events, actor=user, via="api")
    return {"events": preference.events}


@router.get("/teams/{team_id}/subscriptions", response=responses(SubscriptionsOut))
def get_team_subscriptions(request: HttpRequest, team_id: int) -> dict[str, Any]:
    current_user(request)
    team = team_param(team_id, field="team")
    return _subscriptions_view(list(Subscription.objects.filter(team=team)))


@router.put("/teams/{team_id}/subscriptions", response=responses(SubscriptionsOut))
def set_team_subscriptions(
    request: HttpRequest, team_id: int, body: SubscriptionsIn
) -> dict[str, Any]:
    """The desk events every member of the team hears of, for the team's tickets (provider
    admins)."""
    require_write(request)
    user = current_user(request)
    if user.role != "admin":
        raise PermissionDenied("Only provider admins set a team's notifications.")
    team = team_param(team_id, field="team")
    rows = people.set_subscriptions(actor=user, team=team, events=body.events, scope=Scope.MINE)
    return _subscriptions_view(rows)


# --- the notification log --------------------------------------------------------------------


class NotificationFilters(Schema):
    status: str | None = None
    ticket: int | None = None
    user: int | None = Field(None, description="Provider admins: another user's notifications.")


@router.get("/notifications", response=responses(CursorPage[NotificationOut]))
def list_notifications(
    request: HttpRequest, filters: Query[NotificationFilters], page: Query[PageParams]
) -> dict[str, Any]:
    queryset = access.notifications_for(current_user(request))
    if filters.status is not None:
        queryset = queryset.filter(status=filters.status)
    if filters.ticket is not None:
        queryset = queryset.filter(ticket_id=filters.ticket)
    if filters.user is not None:
        queryset = queryset.filter(user_id=filters.user)
    return paginated(queryset, page, order=("-created_at", "-id"))


@router.get("/notifications/{notification_id}", response=responses(NotificationOut))
def get_notification(request: HttpRequest, notification_id: int) -> Notification:
    return access.get_notification_for(current_user(request), notification_id)


# --- webhooks --------------------------------------------------------------------------------


class WebhookOut(Schema):
    id: int
    organization: int | None = Field(
        validation_alias="organization_id", description="null: provider-wide"
    )
    name: str
    url: str
    events: list[str]
    secret_prefix: str = Field(description="The start of the signing secret, to recognise it.")
    is_active: bool
    allow_private: bool
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret, shown this once.")


class WebhookIn(Schema):
    organization: int | None = Field(None, description="null: every organisation (admins).")
    name: str = Field(min_length=1, max_length=hooks.MAX_NAME)
    url: str = Field(min_length=1, max_length=hooks.MAX_URL)
    events: list[str] = Field(description=", ".join(hooks.EVENTS))
    allow_private: bool = False


class WebhookPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=hooks.MAX_NAME)
    url: str | None = Field(None, min_length=1, max_length=hooks.MAX_URL)
    events: list[str] | None = None
    is_active: bool | None = None
    allow_private: bool | None = None


class SecretOut(Schema):
    secret: str


class DeliveryOut(Schema):
    id: int
    organization: int | None = Field(validation_alias="organization_id")
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    response_status: int | None
    response_excerpt: str
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None = Field(validation_alias="send_due_at")


@router.get("/webhooks", response=responses(CursorPage[WebhookOut]))
def list_webhooks(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    return paginated(access.webhooks_for(current_user(request)), page)


@router.post("/webhooks", response=responses(WebhookCreated, 201))
def create_webhook(request: HttpRequest, body: WebhookIn) -> HttpStatus[WebhookEndpoint]:
    require_write(request)
    user = current_user(request)
    org = access.organization_for_webhooks(user, body.organization)
    endpoint, secret = hooks.create_endpoint(
        org,
        actor=user,
        name=body.name,
        url=body.url,
        events=body.events,
        allow_private=body.allow_private,
    )
    # Answered once, beside the endpoint; it is never read back from the endpoint again.
    setattr(endpoint, "secret", secret)  # noqa: B010
    return HttpStatus(201, endpoint)


@router.get("/webhooks/{webhook_id}", response=responses(WebhookOut))
def get_webhook(request: HttpRequest, webhook_id: int) -> WebhookEndpoint:
    return access.get_webhook_for(current_user(request), webhook_id)


@router.patch("/webhooks/{webhook_id}", response=responses(WebhookOut))
def update_webhook(request: HttpRequest, webhook_id: int, body: WebhookPatch) -> WebhookEndpoint:
    require_write(request)
    user = current_user(request)
    endpoint = access.get_webhook_for(user, webhook_id, write=True)
    changes = {k: v for k, v in body.dict(exclude_unset=True).items() if v is not None}
    return hooks.update_endpoint(endpoint, actor=user, **changes)


@router.post("/webhooks/{webhook_id}/rotate-secret", response=responses(SecretOut))
def rotate_webhook_secret(request: HttpRequest, webhook_id: int) -> dict[str, str]:
    """A new signing secret, shown this once; the old one stops signing at once."""
    require_write(request)
    user = current_user(request)
    endpoint = access.get_webhook_for(user, webhook_id, write=True)
    return {"secret": hooks.rotate_secret(endpoint, actor=user)}


@router.delete("/webhooks/{webhook_id}", response=responses(None, 204))
def delete_webhook(request: HttpRequest, webhook_id: int) -> HttpStatus[None]:
    require_write(request)
    user = current_user(request)
    hooks.delete_endpoint(access.get_webhook_for(user, webhook_id, write=True), actor=user)
    return HttpStatus(204, None)


@router.get("/webhooks/{webhook_id}/deliveries", response=responses(CursorPage[DeliveryOut]))
def list_deliveries(
    request: HttpRequest, webhook_id: int, page: Query[PageParams]
) -> dict[str, Any]:
    endpoint = access.get_webhook_for(current_user(request), webhook_id)
    return paginated(access.deliveries_for(endpoint), page, order=("-created_at", "-id"))


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", response=responses(DeliveryOut)
)
def redeliver(request: HttpRequest, webhook_id: int, delivery_id: int) -> WebhookDelivery:
    require_write(request)
    user = current_user(request)
    endpoint = access.get_webhook_for(user, webhook_id, write=True)
    delivery = access.get_delivery_for(endpoint, delivery_id)
    return hooks.redeliver(delivery, actor=user)
