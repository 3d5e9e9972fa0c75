"""Mail to requesters: the acknowledgement of a new request, each public agent reply, and
the satisfaction survey.

The acknowledgement is the thread root (``Message-ID: <ticket-N@host>``) and every reply names
it in ``References`` and ``In-Reply-To``, so mail clients show one conversation per ticket;
every Message-ID is stable (the same mail sent again carries the same one). Every subject
starts with the ticket's reference (``[T-10423]``), and with ``DESK_REPLY_TO`` set the
``Reply-To`` is that address with a signed tag naming the ticket
(``support+t10423-<signature>@provider.example``), the three ways mail coming back in is
threaded (see :mod:`buttress.desk.services.inbound`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from email.utils import parseaddr
from urllib.parse import urlparse

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse

from buttress.desk import survey
from buttress.desk.models import EventKind, Reply, Status, Ticket, TicketEvent
from buttress.lib.sizes import human_size
from buttress.notify import links
from buttress.notify.models import RequesterEvent, RequesterPreference
from buttress.sla import clocks
from buttress.tenancy.models import Contact


def domain() -> str:
    return urlparse(settings.BASE_URL).hostname or "localhost"


def thread_id(ticket: Ticket) -> str:
    return f"<ticket-{ticket.number}@{domain()}>"


def thread_message_id(ticket: Ticket, key: str) -> str:
    """The stable Message-ID of other desk mail in the ticket's thread (``key`` names it)."""
    return f"<{key}.{ticket.number}@{domain()}>"


def reply_message_id(reply: Reply) -> str:
    return f"<reply-{reply.pk}.{reply.ticket.number}@{domain()}>"


TOKEN_RE = re.compile(r"\+t(\d{1,18})-([0-9a-f]{20})@", re.IGNORECASE)


def _signature(number: int, organization_id: int) -> str:
    key = hashlib.sha256(b"buttress.desk.reply-address\x00" + settings.SECRET_KEY.encode())
    message = f"{number}:{organization_id}".encode()
    return hmac.new(key.digest(), message, hashlib.sha256).hexdigest()[:20]


def reply_address(ticket: Ticket) -> str:
    """``DESK_REPLY_TO`` tagged with the ticket and a signature only buttress can make, or
    empty when no reply address is configured."""
    configured = getattr(settings, "DESK_REPLY_TO", "")
    name, address = parseaddr(configured)
    local, at, domain = address.partition("@")
    if not at:
        return ""
    tagged = f"{local}+t{ticket.number}-{_signature(ticket.number, ticket.organization_id)}"
    return f"{name} <{tagged}@{domain}>" if name else f"{tagged}@{domain}"


def tokens_in(addresses: list[str]) -> list[tuple[int, str]]:
    """(ticket number, signature) of every tagged reply address among ``addresses``."""
    found: list[tuple[int, str]] = []
    for address in addresses:
        found += [(int(n), sig.lower()) for n, sig in TOKEN_RE.findall(address)]
    return found


def signature_valid(number: int, organization_id: int, signature: str) -> bool:
    return hmac.compare_digest(_signature(number, organization_id), signature)


def _headers(ticket: Ticket) -> dict[str, str]:
    headers = {"References": thread_id(ticket), "In-Reply-To": thread_id(ticket)}
    reply_to = reply_address(ticket)
    if reply_to:
        headers["Reply-To"] = reply_to
    return headers


def requester_headers(ticket: Ticket, requester: Contact) -> dict[str, str]:
    """The thread's headers plus ``List-Unsubscribe`` (with RFC 8058 one-click), for mail to a
    requester."""
    return {
        **_headers(ticket),
        "List-Unsubscribe": f"<{links.requester_unsubscribe_url(requester.pk)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _choose_line(requester: Contact) -> list[str]:
    return [
        "",
        "--",
        f"Choose which mail you get about your requests: {links.requester_url(requester.pk)}",
    ]


def with_reference(ticket: Ticket, subject: str) -> str:
    """``subject`` carrying the ticket's ``[T-N]`` tag, added in front when it has none."""
    tag = f"[{ticket.reference}]"
    return subject if tag in subject else f"{tag} {subject}"


def notification_headers(ticket: Ticket, key: str) -> dict[str, str]:
    """The headers of a notification about the ticket (to an agent or a team member): a
    Message-ID that ``key`` makes unique and that stays the same on every retry, the
    ticket's thread in In-Reply-To/References, and the signed reply address, so an answer
    by mail lands on the ticket."""
    return {"Message-ID": thread_message_id(ticket, key), **_headers(ticket)}


def _portal_link(ticket: Ticket) -> str:
    return settings.BASE_URL + reverse("portal:detail", kwargs={"pk": ticket.pk})


def acknowledgement(ticket: Ticket) -> EmailMessage | None:
    """ "We have your request": with its reference and, under a policy, the first-response
    target."""
    requester = ticket.requester
    if requester is None or not requester.email:
        return None
    lines = [
        f"Hello {requester.name},",
        "",
        f"We have your request {ticket.reference}: {ticket.subject}",
    ]
    first = next(
        (
            c
            for c in clocks.current_clocks([ticket]).get(ticket.pk, [])
            if c.kind == "first_response"
        ),
        None,
    )
    if first is not None and first.breach_at is not None:
        lines.append(f"We will answer by {first.breach_at:%Y-%m-%d %H:%M %Z}.")
    lines += ["", "Follow it and reply here:", _portal_link(ticket), *_choose_line(requester)]
    message = EmailMessage(
        f"[{ticket.reference}] {ticket.subject}",
        "\n".join(lines),
        settings.DEFAULT_FROM_EMAIL,
        [requester.email],
        headers={"Message-ID": thread_id(ticket), **requester_headers(ticket, requester)},
    )
    message.extra_headers.pop("In-Reply-To", None)
    message.extra_headers.pop("References", None)
    return message


def survey_message(ticket: Ticket, requester: Contact) -> EmailMessage:
    """The satisfaction survey of the ticket's latest resolution, to its requester."""
    body = "\n".join(
        [
            f"Hello {requester.name},",
            "",
            f'Your request {ticket.reference} "{ticket.subject}" was resolved.',
            "How did we do? Rate it from 1 to 5, with a comment if you like:",
            "",
            survey.survey_url(ticket),
            "",
            f"The link works for {survey.valid_days()} days.",
            *_choose_line(requester),
        ]
    )
    return EmailMessage(
        f"[{ticket.reference}] How did we do?",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [requester.email],
        headers={
            "Message-ID": thread_message_id(ticket, f"survey-{ticket.reopened_count}"),
            **requester_headers(ticket, requester),
        },
    )


def reply_message(reply: Reply) -> EmailMessage | None:
    """A public agent reply, to the requester."""
    ticket = reply.ticket
    requester = ticket.requester
    if reply.is_internal or requester is None or not requester.email:
        return None
    author = reply.author.display_name if reply.author is not None else "Support"
    body = "\n".join(
        [
            reply.body,
            "",
            f"-- {author}",
            "",
            f"{ticket.reference} · {ticket.get_status_display()} · {_portal_link(ticket)}",
            *_choose_line(requester),
        ]
    )
    return EmailMessage(
        f"Re: [{ticket.reference}] {ticket.subject}",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [requester.email],
        headers={"Message-ID": reply_message_id(reply), **requester_headers(ticket, requester)},
    )


def over_limit_notice(
    ticket: Ticket, *, to: str, subject: str, files: list[str], limit: int
) -> EmailMessage:
    """To the sender of a message whose attachments were too large to keep."""
    body = "\n".join(
        [
            f'Your message "{subject}" was received as {ticket.reference}.',
            "",
            f"These attachments were not kept: each is larger than the {human_size(limit)} limit.",
            *[f"  - {name}" for name in files],
            "",
            "Please share them another way (a link, or smaller files).",
        ]
    )
    return EmailMessage(
        f"[{ticket.reference}] Attachments not kept: {subject}"[:250],
        body,
        settings.DEFAULT_FROM_EMAIL,
        [to],
        headers={
            "Auto-Submitted": "auto-replied",
            "References": thread_id(ticket),
            "In-Reply-To": thread_id(ticket),
        },
    )


def thread_message(ticket: Ticket, *, body: str, key: str) -> EmailMessage | None:
    """A message from the desk to the requester in the ticket's thread (an incident's status
    update, say); ``key`` makes its Message-ID unique. None when there is nobody to mail or
    the requester chose not to get replies and updates from support."""
    requester = ticket.requester
    if requester is None or not requester.email:
        return None
    if not RequesterPreference.objects.wants(requester.pk, RequesterEvent.AGENT_REPLIED):
        return None
    text = "\n".join(
        [
            body,
            "",
            f"{ticket.reference} · {ticket.get_status_display()} · {_portal_link(ticket)}",
            *_choose_line(requester),
        ]
    )
    return EmailMessage(
        f"Re: [{ticket.reference}] {ticket.subject}",
        text,
        settings.DEFAULT_FROM_EMAIL,
        [requester.email],
        headers={
            "Message-ID": thread_message_id(ticket, key),
            **requester_headers(ticket, requester),
        },
    )


STATUS_LINES: dict[str, str] = {
    Status.OPEN: "is open again",
    Status.IN_PROGRESS: "is being worked on",
    Status.WAITING_ON_CUSTOMER: "waits for your answer: reply to this mail or on the portal",
    Status.WAITING_ON_THIRD_PARTY: "waits for a third party (a supplier, say)",
    Status.RESOLVED: "is resolved",
    Status.CLOSED: "is closed",
}


def status_message(ticket: Ticket, event: TicketEvent, requester: Contact) -> EmailMessage:
    """The requester's request changed status (the timeline entry ``event`` says how)."""
    to = str(event.detail.get("to", ticket.status))
    line = STATUS_LINES.get(to, f"is now {to}")
    if event.kind == EventKind.REOPENED:
        line = "was reopened"
    body = "\n".join(
        [
            f"Hello {requester.name},",
            "",
            f'Your request {ticket.reference} "{ticket.subject}" {line}.',
            "",
            f"{ticket.reference} · {ticket.get_status_display()} · {_portal_link(ticket)}",
            *_choose_line(requester),
        ]
    )
    return EmailMessage(
        f"[{ticket.reference}] {Status(to).label if to in Status.values else to}: {ticket.subject}"[
            :250
        ],
        body,
        settings.DEFAULT_FROM_EMAIL,
        [requester.email],
        headers={
            "Message-ID": thread_message_id(ticket, f"status-{event.pk}"),
            **requester_headers(ticket, requester),
        },
    )
