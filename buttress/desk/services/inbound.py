"""Mail into the desk: a message opens a ticket, or adds a reply to the ticket it answers.

The sender is matched to a contact by address, or to the organisation whose mail domain it
is (a contact is then made for them); a sender nobody knows is quarantined, as is mail
without a sender, or from the desk itself (a loop). A message answers a ticket when its
subject carries the ticket's reference (``[T-10423]``) or its ``In-Reply-To``/``References``
name the ticket's thread (``<ticket-10423@host>``), and the ticket belongs to the sender's
organisation. Each ``Message-ID`` is handled once, so a message delivered twice changes
nothing the second time. Attachments come along with the reply or ticket.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils.html import strip_tags

from buttress.desk.models import (
    REFERENCE_PREFIX,
    InboundMail,
    InboundStatus,
    Source,
    Ticket,
)
from buttress.desk.services.attachments import MAX_FILES, attach, max_bytes
from buttress.desk.services.conversation import MAX_BODY, add_reply
from buttress.desk.services.tickets import create_ticket
from buttress.tenancy import services as tenancy
from buttress.tenancy.models import Contact, Organization

MAX_MESSAGE_BYTES = 30 * 1024 * 1024
REFERENCE_RE = re.compile(r"\[" + re.escape(REFERENCE_PREFIX) + r"(\d{1,18})\]", re.IGNORECASE)
THREAD_RE = re.compile(r"<ticket-(\d{1,18})@[^>]+>")
# Lines from which on the rest of a reply is the quoted earlier message.
QUOTE_MARKERS = (
    re.compile(r"^On .{1,200} wrote:\s*$"),
    re.compile(r"^-{2,}\s*Original Message\s*-{2,}", re.IGNORECASE),
    re.compile(r"^From: .+"),
)


@dataclass(frozen=True)
class Outcome:
    status: str
    ticket: Ticket | None
    reason: str = ""
    duplicate: bool = False


def _text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = content if isinstance(content, str) else ""
    if part.get_content_subtype() == "html":
        text = strip_tags(text)
    return text.replace("\x00", "").replace("\r\n", "\n").strip()


def strip_quoted(text: str) -> str:
    """The new part of a reply: up to the first quote marker, without ``>`` lines."""
    kept: list[str] = []
    for line in text.splitlines():
        if any(marker.match(line.strip()) for marker in QUOTE_MARKERS):
            break
        if line.startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip() or text.strip()


def _files(message: EmailMessage) -> list[SimpleUploadedFile]:
    files: list[SimpleUploadedFile] = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes) or len(data) > max_bytes():
            continue
        files.append(
            SimpleUploadedFile(
                part.get_filename() or "attachment",
                data,
                content_type=part.get_content_type(),
            )
        )
    return files[:MAX_FILES]


def _sender(message: EmailMessage) -> tuple[str, str]:
    name, address = parseaddr(str(message.get("From", "")))
    return name.strip(), address.strip().lower()


def _desk_addresses() -> set[str]:
    own = {parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()}
    reply_to = getattr(settings, "DESK_REPLY_TO", "")
    if reply_to:
        own.add(parseaddr(reply_to)[1].lower())
    return own


def _find_contact(name: str, address: str) -> Contact | None:
    contact = Contact.objects.filter(email__iexact=address, is_active=True).first()
    if contact is not None:
        return contact
    domain = address.rpartition("@")[2]
    matches = [
        org
        for org in Organization.objects.filter(is_active=True, email_domains__icontains=domain)
        if domain in [str(d).lower() for d in org.email_domains]
    ]
    if len(matches) != 1:
        return None
    return tenancy.create_contact(
        matches[0], actor=None, name=name or address.partition("@")[0], email=address
    )


def _ticket_answered(message: EmailMessage, subject: str) -> Ticket | None:
    numbers: list[int] = [int(n) for n in REFERENCE_RE.findall(subject)]
    for header in ("In-Reply-To", "References"):
        numbers += [int(n) for n in THREAD_RE.findall(str(message.get(header, "")))]
    for number in numbers:
        ticket = Ticket.objects.filter(number=number).first()
        if ticket is not None:
            return ticket
    return None


def _message_id(message: EmailMessage, raw: bytes) -> str:
    value = str(message.get("Message-ID", "")).strip()
    if value:
        return value[:255]
    # Without one, the content stands for it: the same bytes delivered twice are one message.
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@no-message-id>"


def _quarantine(mid: str, sender: str, subject: str, raw: bytes, reason: str) -> Outcome:
    InboundMail.objects.create(
        message_id=mid,
        sender=sender[:254],
        subject=subject[:250],
        status=InboundStatus.QUARANTINED,
        reason=reason[:300],
        raw=raw,
    )
    return Outcome(InboundStatus.QUARANTINED, None, reason)


def receive(raw: bytes) -> Outcome:
    """Handle one RFC 5322 message (its bytes)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ValidationError(f"The message is larger than {MAX_MESSAGE_BYTES // 1048576} MB.")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    mid = _message_id(message, raw)
    seen = InboundMail.objects.filter(message_id=mid).first()
    if seen is not None:
        return Outcome(seen.status, seen.ticket, "already received", duplicate=True)
    name, address = _sender(message)
    subject = " ".join(str(message.get("Subject", "")).split())[:250]
    try:
        with transaction.atomic():
            return _handle(message, raw, mid=mid, name=name, address=address, subject=subject)
    except IntegrityError:
        # The same message handled at the same time by another receiver.
        seen = InboundMail.objects.filter(message_id=mid).first()
        return Outcome(seen.status if seen else "", seen.ticket if seen else None, duplicate=True)


def _handle(
    message: EmailMessage, raw: bytes, *, mid: str, name: str, address: str, subject: str
) -> Outcome:
    if not address or "@" not in address:
        return _quarantine(mid, address, subject, raw, "no sender address")
    if address in _desk_addresses():
        return _quarantine(mid, address, subject, raw, "sent by the desk itself (a mail loop)")
    auto = str(message.get("Auto-Submitted", "no")).lower()
    if auto not in ("", "no"):
        return _quarantine(mid, address, subject, raw, f"automatic mail ({auto})")
    contact = _find_contact(name, address)
    if contact is None:
        return _quarantine(mid, address, subject, raw, "the sender belongs to no organisation")
    body = _text_body(message)
    files = _files(message)
    ticket = _ticket_answered(message, subject)
    if ticket is not None and ticket.organization_id == contact.organization_id:
        while ticket.merged_into_id is not None:
            ticket = Ticket.objects.get(pk=ticket.merged_into_id)
        text = strip_quoted(body)[:MAX_BODY] or "(no text)"
        reply = add_reply(ticket, actor=None, contact=contact, body=text)
        attach(ticket, files, actor=None, reply=reply)
        status = InboundStatus.REPLY
    else:
        ticket = create_ticket(
            contact.organization,
            actor=None,
            subject=subject or "(no subject)",
            description=body[:MAX_BODY],
            requester=contact,
            source=Source.EMAIL,
        )
        attach(ticket, files, actor=None)
        status = InboundStatus.NEW_TICKET
    InboundMail.objects.create(
        message_id=mid,
        sender=address,
        subject=subject,
        status=status,
        organization=contact.organization,
        ticket=ticket,
        raw=b"",
    )
    return Outcome(status, ticket)
