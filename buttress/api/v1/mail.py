"""/inbound-mail: received mail and its quarantine (review, retry, discard); /mailboxes: the
IMAP mailboxes the desk polls (provider admins; passwords are write-only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from buttress.accounts.models import Role, User
from buttress.api.v1.base import (
    CursorPage,
    PageParams,
    current_user,
    paginated,
    require_write,
    responses,
)
from buttress.desk.access import (
    DeskCapability,
    get_inbound_mail_for,
    inbound_mail_for,
    is_staff,
    require,
)
from buttress.desk.models import InboundMail, InboundStatus, Mailbox, MailboxSecurity
from buttress.desk.services import inbound, mailboxes
from buttress.tenancy.access import sees_all_organizations

router = Router(tags=["mail"])


class InboundMailOut(Schema):
    id: int
    message_id: str
    received_at: dt.datetime
    source: str
    mailbox: int | None = Field(validation_alias="mailbox_id")
    sender: str
    subject: str
    size: int
    status: str
    reason: str
    decision: str
    organization: int | None = Field(validation_alias="organization_id")
    ticket: int | None = Field(validation_alias="ticket_id")
    attempts: int


class InboundMailDetail(InboundMailOut):
    headers: list[tuple[str, str]]
    text: str


class InboundFilters(Schema):
    status: str | None = Field(None, description="One of " + ", ".join(InboundStatus.values))


class RetryOut(Schema):
    status: str
    reason: str
    ticket: int | None


def _staff(request: HttpRequest) -> User:
    user = current_user(request)
    if not is_staff(user):
        raise PermissionDenied("Received mail is reviewed by provider staff.")
    return user


@router.get("/inbound-mail", response=responses(CursorPage[InboundMailOut]))
def list_inbound_mail(
    request: HttpRequest, filters: Query[InboundFilters], page: Query[PageParams]
) -> dict[str, Any]:
    rows = inbound_mail_for(_staff(request)).defer("raw")
    if filters.status is not None:
        if filters.status not in InboundStatus.values:
            raise ValidationError({"status": f"One of {', '.join(InboundStatus.values)}."})
        rows = rows.filter(status=filters.status)
    return paginated(rows, page, order=("-received_at", "-id"))


@router.get("/inbound-mail/{mail_id}", response=responses(InboundMailDetail))
def get_inbound_mail(request: HttpRequest, mail_id: int) -> InboundMail:
    received = get_inbound_mail_for(current_user(request), mail_id)
    received.headers = inbound.headers_of(received)  # type: ignore[attr-defined]
    received.text = inbound.safe_text_of(received)  # type: ignore[attr-defined]
    return received


@router.post("/inbound-mail/{mail_id}/retry", response=responses(RetryOut))
def retry_inbound_mail(request: HttpRequest, mail_id: int) -> dict[str, Any]:
    """Process a quarantined message again; answers what became of it."""
    user = current_user(request)
    received = get_inbound_mail_for(user, mail_id)
    require(user, DeskCapability.WORK)
    require_write(request)
    outcome = inbound.retry(received, actor=user)
    return {
        "status": outcome.status,
        "reason": outcome.reason,
        "ticket": outcome.ticket.pk if outcome.ticket else None,
    }


@router.post("/inbound-mail/{mail_id}/discard", response=responses(InboundMailOut))
def discard_inbound_mail(request: HttpRequest, mail_id: int) -> InboundMail:
    user = current_user(request)
    received = get_inbound_mail_for(user, mail_id)
    require(user, DeskCapability.WORK)
    require_write(request)
    return inbound.discard(received, actor=user)


# --- mailboxes -------------------------------------------------------------------------------


class MailboxOut(Schema):
    id: int
    name: str
    host: str
    port: int
    security: str
    username: str
    folder: str
    done_folder: str
    is_enabled: bool
    poll_interval_seconds: int
    has_password: bool = Field(description="The password itself is never shown.")
    last_uid: int
    uid_validity: int | None
    last_polled_at: dt.datetime | None
    last_error: str

    @staticmethod
    def resolve_has_password(obj: Mailbox) -> bool:
        return bool(obj.password_encrypted)


class MailboxIn(Schema):
    name: str = Field(min_length=1, max_length=120)
    host: str = Field(min_length=1, max_length=253)
    port: int = 993
    security: str = Field(MailboxSecurity.SSL, description="ssl, starttls or none (loopback)")
    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1000)
    folder: str = Field("INBOX", max_length=200)
    done_folder: str = Field("", max_length=200)
    is_enabled: bool = True
    poll_interval_seconds: int = 60


class MailboxPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    host: str | None = Field(None, min_length=1, max_length=253)
    port: int | None = None
    security: str | None = None
    username: str | None = Field(None, min_length=1, max_length=254)
    password: str | None = Field(None, min_length=1, max_length=1000)
    folder: str | None = Field(None, max_length=200)
    done_folder: str | None = Field(None, max_length=200)
    is_enabled: bool | None = None
    poll_interval_seconds: int | None = None


def _mailbox_admin(request: HttpRequest) -> User:
    user = current_user(request)
    if user.role != Role.ADMIN or not sees_all_organizations(user):
        raise PermissionDenied("Mailboxes are managed by unrestricted provider admins.")
    return user


def _mailbox(request: HttpRequest, mailbox_id: int) -> tuple[User, Mailbox]:
    user = _mailbox_admin(request)
    found = Mailbox.objects.filter(pk=mailbox_id).first()
    if found is None:
        raise Http404("No such mailbox.")
    return user, found


@router.get("/mailboxes", response=responses(CursorPage[MailboxOut]))
def list_mailboxes(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    _mailbox_admin(request)
    return paginated(Mailbox.objects.all(), page, order=("name", "id"))


@router.post("/mailboxes", response=responses(MailboxOut, 201))
def create_mailbox(request: HttpRequest, body: MailboxIn) -> Status[Mailbox]:
    user = _mailbox_admin(request)
    require_write(request)
    return Status(201, mailboxes.create_mailbox(actor=user, **body.dict()))


@router.get("/mailboxes/{mailbox_id}", response=responses(MailboxOut))
def get_mailbox(request: HttpRequest, mailbox_id: int) -> Mailbox:
    return _mailbox(request, mailbox_id)[1]


@router.patch("/mailboxes/{mailbox_id}", response=responses(MailboxOut))
def update_mailbox(request: HttpRequest, mailbox_id: int, body: MailboxPatch) -> Mailbox:
    user, mailbox = _mailbox(request, mailbox_id)
    require_write(request)
    changes = {k: v for k, v in body.dict(exclude_unset=True).items() if v is not None}
    password = changes.pop("password", None)
    return mailboxes.update_mailbox(mailbox, actor=user, password=password, **changes)


@router.delete("/mailboxes/{mailbox_id}", response=responses(None, 204))
def delete_mailbox(request: HttpRequest, mailbox_id: int) -> Status[None]:
    user, mailbox = _mailbox(request, mailbox_id)
    require_write(request)
    mailboxes.delete_mailbox(mailbox, actor=user)
    return Status(204, None)
