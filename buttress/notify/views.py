"""Notification pages: the signed-in user's settings (contact methods with a test button,
rules, followed events), the notification log, webhooks with their delivery log (for those
who manage them), and the page a one-click link opens."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from buttress.accounts.models import Role, User
from buttress.lib.pagination import InvalidCursor, Page, paginate
from buttress.notify import access, actions, links
from buttress.notify.forms import (
    MethodForm,
    RequesterMailForm,
    RuleForm,
    SubscriptionForm,
    WebhookForm,
)
from buttress.notify.models import DeliveryStatus, Scope, Subscription
from buttress.notify.services import hooks, people, requesters, sending
from buttress.tenancy.access import has_unrestricted_scope, organizations_for
from buttress.tenancy.models import Contact
from buttress.web.forms import add_service_errors
from buttress.web.users import current_user

PAGE_SIZE = 50


def _page(request: HttpRequest, queryset: Any, order: tuple[str, ...]) -> Page[Any]:
    try:
        return paginate(
            queryset, order=order, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
        )
    except InvalidCursor as exc:
        raise Http404(str(exc)) from exc


def _settings_context(user: User, **forms: Any) -> dict[str, Any]:
    methods = list(access.methods_for(user))
    subscriptions = list(Subscription.objects.filter(user=user))
    return {
        "methods": methods,
        "rules": list(access.rules_for(user)),
        "method_form": forms.get("method_form") or MethodForm(),
        "rule_form": forms.get("rule_form") or RuleForm(methods=[(m.pk, m.label) for m in methods]),
        "subscription_form": forms.get("subscription_form")
        or SubscriptionForm(
            initial={
                "events": [s.event for s in subscriptions],
                "scope": subscriptions[0].scope if subscriptions else Scope.MINE,
            }
        ),
    }


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    return render(request, "notify/settings.html", _settings_context(user))


@login_required
@require_POST
def method_add(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = MethodForm(request.POST)
    if form.is_valid():
        try:
            people.add_contact_method(user, actor=user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Contact method added. Send it a test message.")
            return redirect("notify:settings")
    return render(
        request, "notify/settings.html", _settings_context(user, method_form=form), status=400
    )


@login_required
def method_test(request: HttpRequest, method_id: int) -> HttpResponse:
    user = current_user(request)
    method = access.get_method_for(user, method_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    notification = sending.send_test(method, actor=user)
    if notification.status == DeliveryStatus.SENT:
        messages.success(request, f"Test message sent through {method.label}.")
    else:
        messages.error(
            request, f"The test through {method.label} failed: {notification.last_error}"
        )
    return redirect("notify:settings")


@login_required
def method_delete(request: HttpRequest, method_id: int) -> HttpResponse:
    user = current_user(request)
    method = access.get_method_for(user, method_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    people.delete_contact_method(method, actor=user)
    messages.success(request, f"Contact method {method.label} deleted, with its rules.")
    return redirect("notify:settings")


@login_required
@require_POST
def rule_add(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    methods = list(access.methods_for(user))
    form = RuleForm(request.POST, methods=[(m.pk, m.label) for m in methods])
    if form.is_valid():
        data = form.cleaned_data
        try:
            people.add_rule(
                user,
                actor=user,
                method=access.get_method_for(user, data["method"]),
                delay_minutes=data["delay_minutes"],
                urgency=data["urgency"],
                quiet_start=data["quiet_start"],
                quiet_end=data["quiet_end"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Rule added.")
            return redirect("notify:settings")
    return render(
        request, "notify/settings.html", _settings_context(user, rule_form=form), status=400
    )


@login_required
def rule_delete(request: HttpRequest, notification_rule_id: int) -> HttpResponse:
    user = current_user(request)
    rule = access.get_rule_for(user, notification_rule_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    people.delete_rule(rule, actor=user)
    messages.success(request, "Rule deleted.")
    return redirect("notify:settings")


@login_required
@require_POST
def subscriptions(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = SubscriptionForm(request.POST)
    if form.is_valid():
        people.set_subscriptions(
            actor=user,
            user=user,
            events=form.cleaned_data["events"],
            scope=form.cleaned_data["scope"],
        )
        messages.success(request, "Followed events saved.")
        return redirect("notify:settings")
    return render(
        request,
        "notify/settings.html",
        _settings_context(user, subscription_form=form),
        status=400,
    )


@login_required
def log(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    queryset = access.notifications_for(user).select_related("user", "ticket")
    status = request.GET.get("status")
    if status in DeliveryStatus.values:
        queryset = queryset.filter(status=status)
    page = _page(request, queryset, ("-created_at", "-id"))
    return render(
        request,
        "notify/log.html",
        {
            "page": page,
            "statuses": DeliveryStatus.choices,
            "status": status,
            "everyone": has_unrestricted_scope(user),
        },
    )


def _webhook_organizations(user: User) -> list[tuple[int | str, str]]:
    choices: list[tuple[int | str, str]] = []
    if has_unrestricted_scope(user):
        choices.append(("", "Every organisation (provider-wide)"))
    orgs = organizations_for(user)
    if user.role != Role.ADMIN:
        orgs = orgs.filter(pk=user.organization_id or 0)
    choices += [(org.pk, org.name) for org in orgs.order_by("name")[:500]]
    return choices


def _may_manage_some(user: User) -> bool:
    return user.role in (Role.ADMIN, Role.ORG_ADMIN)


@login_required
def webhook_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if user.role == Role.END_USER:
        raise PermissionDenied("Your role may not see webhooks.")
    form = WebhookForm(request.POST or None, organizations=_webhook_organizations(user))
    secret = None
    status = 200
    if request.method == "POST":
        if not _may_manage_some(user):
            raise PermissionDenied("Your role may not manage webhooks.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                org = access.organization_for_webhooks(user, data["organization"])
                endpoint, secret = hooks.create_endpoint(
                    org,
                    actor=user,
                    name=data["name"],
                    url=data["url"],
                    events=data["events"],
                    allow_private=data["allow_private"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                return render(
                    request, "notify/webhook_created.html", {"endpoint": endpoint, "secret": secret}
                )
        status = 400
    page = _page(request, access.webhooks_for(user).select_related("organization"), ("name", "id"))
    return render(
        request,
        "notify/webhooks.html",
        {"page": page, "form": form, "can_manage": _may_manage_some(user), "events": hooks.EVENTS},
        status=status,
    )


@login_required
def webhook_detail(request: HttpRequest, webhook_id: int) -> HttpResponse:
    user = current_user(request)
    endpoint = access.get_webhook_for(user, webhook_id)
    if request.method == "POST":
        endpoint = access.get_webhook_for(user, webhook_id, write=True)
        action = request.POST.get("action")
        if action == "toggle":
            hooks.update_endpoint(endpoint, actor=user, is_active=not endpoint.is_active)
            messages.success(
                request, "Webhook " + ("enabled." if endpoint.is_active else "disabled.")
            )
        elif action == "rotate":
            secret = hooks.rotate_secret(endpoint, actor=user)
            return render(
                request, "notify/webhook_created.html", {"endpoint": endpoint, "secret": secret}
            )
        elif action == "delete":
            hooks.delete_endpoint(endpoint, actor=user)
            messages.success(request, f"Webhook {endpoint.name} deleted.")
            return redirect("notify:webhooks")
        elif action == "redeliver":
            try:
                delivery = access.get_delivery_for(endpoint, request.POST.get("delivery", ""))
                hooks.redeliver(delivery, actor=user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"Delivery #{delivery.pk} queued again.")
        return redirect("notify:webhook_detail", webhook_id=endpoint.pk)
    page = _page(request, access.deliveries_for(endpoint), ("-created_at", "-id"))
    return render(
        request,
        "notify/webhook_detail.html",
        {
            "endpoint": endpoint,
            "page": page,
            "can_manage": access.can_manage_webhooks(user, endpoint.organization_id),
        },
    )


@csrf_protect
def action_page(request: HttpRequest, token: str) -> HttpResponse:
    """The page a one-click link opens: GET only asks, POST acts (mail scanners fetch links)."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        link = links.read_token(token)
        user, ticket = actions.target(link)
    except ValidationError as exc:
        return render(
            request, "notify/action.html", {"problem": " ".join(exc.messages)}, status=400
        )
    except (Http404, PermissionDenied) as exc:
        return render(request, "notify/action.html", {"problem": str(exc)}, status=404)
    done = None
    problem = None
    if request.method == "POST":
        try:
            done = actions.perform(link)
        except ValidationError as exc:
            problem = " ".join(exc.messages)
    return render(
        request,
        "notify/action.html",
        {
            "ticket": ticket,
            "recipient": user,
            "action": link.action,
            "done": done,
            "problem": problem,
        },
        status=400 if problem else 200,
    )


def _requester(token: str) -> Contact:
    """The contact a requester link names; 404 for a bad link or a contact no longer there."""
    try:
        contact_id = links.read_requester_token(token)
    except ValidationError as exc:
        raise Http404(" ".join(exc.messages)) from exc
    contact = Contact.objects.select_related("organization").filter(pk=contact_id).first()
    if contact is None:
        raise Http404("This link is not valid.")
    return contact


@csrf_protect
def requester_page(request: HttpRequest, token: str) -> HttpResponse:
    """Where the link at the foot of a requester's mail leads: no sign-in, the link is the
    key, and it only chooses that contact's ticket mail."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    contact = _requester(token)
    form = RequesterMailForm(request.POST or None, contact=contact)
    saved = request.method == "POST" and form.save(actor=None, via="link")
    return render(
        request,
        "notify/requester.html",
        {"contact": contact, "form": form, "saved": saved},
        status=400 if form.errors else 200,
    )


@csrf_exempt
def requester_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """``List-Unsubscribe`` target: a POST (RFC 8058 one-click, sent by the mail provider
    without a session or CSRF token) stops every ticket mail; a GET shows the choice page."""
    if request.method == "GET":
        return requester_page(request, token)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    contact = _requester(token)
    requesters.unsubscribe(contact, via="one-click")
    return HttpResponse(
        f"{contact.email or contact.name} gets no more mail about their requests.",
        content_type="text/plain; charset=utf-8",
    )
