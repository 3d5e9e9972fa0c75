"""Received mail: the list (quarantine first), one message's headers and text, retry and
discard."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render

from buttress.desk.access import (
    DeskCapability,
    can,
    get_inbound_mail_for,
    inbound_mail_for,
    require,
)
from buttress.desk.models import InboundStatus
from buttress.desk.services import inbound
from buttress.desk.views.common import workspace_user
from buttress.lib.pagination import InvalidCursor, paginate
from buttress.web.users import current_user

PAGE_SIZE = 50


@login_required
def mail_list(request: HttpRequest) -> HttpResponse:
    user = workspace_user(request)
    status = request.GET.get("status", InboundStatus.QUARANTINED)
    rows = inbound_mail_for(user).defer("raw")
    if status in InboundStatus.values:
        rows = rows.filter(status=status)
    else:
        status = ""
    order = ("-received_at", "-id")
    try:
        page = paginate(
            rows, order=order, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
        )
    except InvalidCursor:
        messages.warning(request, "That page link is no longer valid; showing the first page.")
        page = paginate(rows, order=order, limit=PAGE_SIZE)
    return render(
        request,
        "desk/mail_list.html",
        {
            "page": page,
            "status": status,
            "statuses": InboundStatus.choices,
            "can_work": can(user, DeskCapability.WORK),
        },
    )


@login_required
def mail_detail(request: HttpRequest, mail_id: int) -> HttpResponse:
    received = get_inbound_mail_for(current_user(request), mail_id)
    user = workspace_user(request)
    return render(
        request,
        "desk/mail_detail.html",
        {
            "mail": received,
            "headers": inbound.headers_of(received),
            "text": inbound.safe_text_of(received),
            "can_work": can(user, DeskCapability.WORK)
            and received.status == InboundStatus.QUARANTINED,
        },
    )


@login_required
def mail_retry(request: HttpRequest, mail_id: int) -> HttpResponse:
    received = get_inbound_mail_for(current_user(request), mail_id)
    user = workspace_user(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    require(user, DeskCapability.WORK)
    try:
        outcome = inbound.retry(received, actor=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        note = f": {outcome.reason}" if outcome.reason else ""
        messages.success(request, f"Processed again: {outcome.status}{note}.")
    return redirect("desk:mail_detail", mail_id=received.pk)


@login_required
def mail_discard(request: HttpRequest, mail_id: int) -> HttpResponse:
    received = get_inbound_mail_for(current_user(request), mail_id)
    user = workspace_user(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    require(user, DeskCapability.WORK)
    try:
        inbound.discard(received, actor=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("desk:mail_detail", mail_id=received.pk)
    messages.success(request, "The message was discarded.")
    return redirect("desk:mail_list")
