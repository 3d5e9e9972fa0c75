"""Mail to requesters: the acknowledgement of a new request, each public agent reply, and
the satisfaction survey.

The acknowledgement is the thread root (``Message-ID: <ticket-N@host>``) and every reply names
it in ``References`` and ``In-Reply-To``, so mail clients show one conversation per ticket;
every subject starts with the ticket's reference (``[T-10423]``) for mail coming back in.
"""

from __future__ import annotations

from email.utils import make_msgid
from urllib.parse import urlparse

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse

from buttress.desk import survey
from buttress.desk.models import Reply, Ticket
from buttress.sla import clocks
from buttress.tenancy.models import Contact


def _domain() -> str:
    return urlparse(settings.BASE_URL).hostname or "localhost"


def thread_id(ticket: Ticket) -> str:
    return f"<ticket-{ticket.number}@{_domain()}>"


def _headers(ticket: Ticket) -> dict[str, str]:
    headers = {"References": thread_id(ticket), "In-Reply-To": thread_id(ticket)}
    reply_to = getattr(settings, "DESK_REPLY_TO", "")
    if reply_to:
        headers["Reply-To"] = reply_to
    return headers


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
    lines += ["", "Follow it and reply here:", _portal_link(ticket)]
    message = EmailMessage(
        f"[{ticket.reference}] {ticket.subject}",
        "\n".join(lines),
        settings.DEFAULT_FROM_EMAIL,
        [requester.email],
        headers={"Message-ID": thread_id(ticket), **_headers(ticket)},
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
        ]
    )
    return EmailMessage(
        f"[{ticket.reference}] How did we do?", body, settings.DEFAULT_FROM_EMAIL, [requester.email]
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
        ]
    )
    return EmailMessage(
        f"Re: [{ticket.reference}] {ticket.subject}",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [requester.email],
        headers={"Message-ID": make_msgid(f"reply-{reply.pk}", _domain()), **_headers(ticket)},
    )


def thread_message(ticket: Ticket, *, body: str, key: str) -> EmailMessage | None:
    """A message from the desk to the requester in the ticket's thread (an incident's status
    update, say); ``key`` makes its Message-ID unique. None when there is nobody to mail."""
    requester = ticket.requester
    if requester is None or not requester.email:
        return None
    text = "\n".join(
        [body, "", f"{ticket.reference} · {ticket.get_status_display()} · {_portal_link(ticket)}"]
    )
    return EmailMessage(
        f"Re: [{ticket.reference}] {ticket.subject}",
        text,
        settings.DEFAULT_FROM_EMAIL,
        [requester.email],
        headers={"Message-ID": make_msgid(key, _domain()), **_headers(ticket)},
    )
