"""Mail into the desk: a message opens a ticket, adds a reply to the ticket it answers, or
becomes an alert delivery when it is addressed to an email alert integration.

Every message is stored as received (:func:`store`) before anything else happens, under its
``Message-ID`` and the digest of what its author wrote (without a Message-ID, the digest
alone), so a message delivered twice, by whatever relays, is handled once, and another
message reusing a Message-ID is held for review rather than dropped. Processing
(:func:`process_stored`) then decides, and writes down why:

- mail to an alert integration's address (``alerts+<key>@...``) is handed to the alerts app;
- bounces are recognised (a note on the ticket whose mail bounced);
- mail without a sender, from the desk itself, automatic mail (``Auto-Submitted``,
  ``Precedence``, ``X-Autoreply`` and the like) and senders over the per-hour limit are
  quarantined;
- the sender is matched to a contact by address, or to the organisation whose mail domain it
  is (a contact is then made), or the ``DESK_MAIL_UNKNOWN_SENDER`` policy applies;
- a reply is threaded by the Message-IDs in its ``In-Reply-To``/``References`` that belong
  to a ticket's conversation, then by the ticket reference in its subject, then by the signed
  tag of the reply address it was sent to; a ticket of another organisation is never
  joined, whichever way it was named;
- a reply to a closed ticket opens a follow-up ticket related to it.

Anything that fails quarantines the message with the reason; a quarantined message can be
retried (:func:`retry`) or discarded (:func:`discard`), and is never dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models.functions import Lower

from buttress.accounts.models import Role, User
from buttress.audit import services as audit
from buttress.audit.models import AuditEntry
from buttress.desk import mail as desk_mail
from buttress.desk.models import (
    REFERENCE_PREFIX,
    InboundMail,
    InboundSource,
    InboundStatus,
    Mailbox,
    MailThread,
    Source,
    Status,
    Ticket,
)
from buttress.desk.services.attachments import MAX_FILES, attach, max_bytes
from buttress.desk.services.conversation import MAX_BODY, add_reply
from buttress.desk.services.links import relate
from buttress.desk.services.tickets import create_ticket
from buttress.desk.tasks import send_over_limit_notice
from buttress.lib import mailparse
from buttress.lib.sizes import human_size
from buttress.lib.timeutil import now
from buttress.tenancy import services as tenancy
from buttress.tenancy.models import Contact, Organization

if TYPE_CHECKING:
    from buttress.alerts.models import Integration

DEFAULT_MAX_MESSAGE_BYTES = 50 * 1024 * 1024
DEFAULT_SENDER_LIMIT_PER_HOUR = 60
# A stored message is processed at once (or by its task); if that is lost, the scheduler
# processes it when this lease has passed.
PROCESS_LEASE = timedelta(minutes=2)
REFERENCE_RE = re.compile(r"\[" + re.escape(REFERENCE_PREFIX) + r"(\d{1,18})\]", re.IGNORECASE)
THREAD_RE = re.compile(r"<ticket-(\d{1,18})@([^>]+)>")
ALERT_KEY_RE = re.compile(r"\+([a-z0-9]{42})@", re.IGNORECASE)


class MessageTooLarge(ValidationError):
    pass


@dataclass(frozen=True)
class Outcome:
    status: str
    ticket: Ticket | None
    reason: str = ""
    duplicate: bool = False
    mail: InboundMail | None = None


@dataclass
class _Decision:
    """What processing found out, line by line: kept as the message's ``decision``."""

    lines: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines)[:10_000]


def max_message_bytes() -> int:
    return int(getattr(settings, "DESK_MAIL_MAX_BYTES", DEFAULT_MAX_MESSAGE_BYTES))


def too_large_message(size: int) -> str:
    limit = max_message_bytes()
    return (
        f"The message ({human_size(size)}) is larger than the {human_size(limit)} "
        "this service desk accepts; send large files another way."
    )


def mail_actor() -> User:
    """The author of what mail processing writes as staff (notes about bounces and files not
    kept): an unsaved user, so the audit log shows ``mail-ingestion`` and no person."""
    return User(email="mail-ingestion", full_name="Mail ingestion", role=Role.ADMIN)


# --- reading a message -----------------------------------------------------------------------


def _files(message: EmailMessage) -> tuple[list[SimpleUploadedFile], list[str]]:
    """(files to keep, "name (size)" of each file left out for its size or number)."""
    files: list[SimpleUploadedFile] = []
    left_out: list[str] = []
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        try:
            name = part.get_filename() or "attachment"
        except (ValueError, LookupError):
            name = "attachment"
        if len(data) > max_bytes() or len(files) >= MAX_FILES:
            left_out.append(f"{name} ({human_size(len(data))})")
            continue
        files.append(SimpleUploadedFile(name, data, content_type=part.get_content_type()))
    return files, left_out


def _desk_addresses() -> set[str]:
    own = {parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()}
    reply_to = getattr(settings, "DESK_REPLY_TO", "")
    if reply_to:
        own.add(parseaddr(reply_to)[1].lower())
    return own


# --- storing ---------------------------------------------------------------------------------


def _unstored(
    raw: bytes,
    *,
    source: str,
    recipients: Sequence[str],
    mailbox: Mailbox | None,
    at: datetime,
) -> InboundMail:
    """The row that keeps the message, not yet saved. Raises :class:`MessageTooLarge`."""
    if len(raw) > max_message_bytes():
        raise MessageTooLarge(too_large_message(len(raw)))
    headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    digest = mailparse.content_digest(headers, raw)
    return InboundMail(
        message_id=mailparse.message_id(headers, raw, digest),
        digest=digest,
        received_at=at,
        source=source,
        mailbox=mailbox,
        recipients=[str(r)[:254] for r in recipients][:50],
        size=len(raw),
        sender=mailparse.sender(headers)[1][:254],
        subject=mailparse.subject(headers),
        raw=raw,
        process_due_at=at + PROCESS_LEASE,
    )


def _same_message(seen: InboundMail, mail: InboundMail) -> bool:
    # A row stored before digests were kept has none: its sender has to do.
    return seen.digest == mail.digest or (not seen.digest and seen.sender == mail.sender)


def store(
    raw: bytes,
    *,
    source: str = InboundSource.CLI,
    recipients: Sequence[str] = (),
    mailbox: Mailbox | None = None,
    at: datetime | None = None,
) -> tuple[InboundMail, bool]:
    """Keep the message as received; (its row, False) when it was received before.

    "Before" means the same Message-ID and the same :func:`~buttress.lib.mailparse.content_digest`
    (author's headers and body, not relay headers). Another message under a Message-ID
    already taken (a broken mailer, or a forgery from somebody else) is stored too; processing
    quarantines it (see :func:`_reused_id`).

    Raises :class:`MessageTooLarge` over ``DESK_MAIL_MAX_BYTES``. Only the headers are read
    here, so a message nothing else can make sense of is still stored, to be quarantined.
    """
    mail = _unstored(raw, source=source, recipients=recipients, mailbox=mailbox, at=at or now())
    for seen in InboundMail.objects.filter(message_id=mail.message_id).defer("raw")[:20]:
        if _same_message(seen, mail):
            return seen, False
    try:
        with transaction.atomic():
            mail.save(force_insert=True)
    except IntegrityError:
        # The same message stored at the same moment by another receiver.
        return InboundMail.objects.defer("raw").get(
            message_id=mail.message_id, digest=mail.digest
        ), False
    return mail, True


def store_many(
    raws: Sequence[bytes],
    *,
    source: str = InboundSource.CLI,
    recipients: Sequence[str] = (),
    mailbox: Mailbox | None = None,
) -> list[tuple[InboundMail, bool] | MessageTooLarge]:
    """:func:`store` for several messages, in the order given: one look-up for all their
    Message-IDs and one ``INSERT`` for the new ones. A message repeated within ``raws`` is
    stored once. Call inside the transaction that is to commit them."""
    at = now()
    answers: list[tuple[InboundMail, bool] | MessageTooLarge] = []
    for raw in raws:
        try:
            mail = _unstored(raw, source=source, recipients=recipients, mailbox=mailbox, at=at)
        except MessageTooLarge as exc:
            answers.append(exc)
            continue
        answers.append((mail, True))
    mids = {answer[0].message_id for answer in answers if not isinstance(answer, Exception)}
    earlier: dict[str, list[InboundMail]] = {}
    for seen in InboundMail.objects.filter(message_id__in=mids).defer("raw").order_by("pk"):
        earlier.setdefault(seen.message_id, []).append(seen)
    new: list[InboundMail] = []
    for index, answer in enumerate(answers):
        if isinstance(answer, Exception):
            continue
        mail = answer[0]
        candidates = earlier.get(mail.message_id, [])
        found = next((row for row in candidates if _same_message(row, mail)), None)
        if found is not None:
            # Received before, or earlier in this batch (then it is in ``new``).
            answers[index] = (found, False)
            continue
        earlier.setdefault(mail.message_id, []).append(mail)
        new.append(mail)
    try:
        with transaction.atomic():
            InboundMail.objects.bulk_create(new)
    except IntegrityError:
        # Some of them stored at the same moment by another receiver: one at a time.
        for index, answer in enumerate(answers):
            if not isinstance(answer, Exception) and answer[0].pk is None:
                raw = bytes(answer[0].raw)
                answers[index] = store(
                    raw, source=source, recipients=recipients, mailbox=mailbox, at=at
                )
    return answers


def receive(
    raw: bytes,
    *,
    source: str = InboundSource.CLI,
    recipients: Sequence[str] = (),
    mailbox: Mailbox | None = None,
) -> Outcome:
    """Store one RFC 5322 message, then process it here and now."""
    stored, new = store(raw, source=source, recipients=recipients, mailbox=mailbox)
    if not new:
        return Outcome(stored.status, stored.ticket, "already received", True, stored)
    with transaction.atomic():
        # The row as just stored is in hand; lock it (without reading the message back) so a
        # worker or scheduler that finds it meanwhile waits and then sees it processed.
        due = (
            InboundMail.objects.select_for_update()
            .filter(pk=stored.pk)
            .values_list("process_due_at", flat=True)
            .get()
        )
        if due is None:
            # A worker took it between the two transactions: its outcome as it stands.
            done = InboundMail.objects.defer("raw").get(pk=stored.pk)
            return Outcome(done.status, done.ticket, done.reason, mail=done)
        return process_stored(stored)


def receive_many(
    raws: Sequence[bytes],
    *,
    source: str = InboundSource.CLI,
    recipients: Sequence[str] = (),
    mailbox: Mailbox | None = None,
) -> list[Outcome | MessageTooLarge]:
    """Take in several messages with two commits in all instead of two each (group commit):
    every message is stored and the batch committed, then all are processed in one
    transaction, each in its own savepoint, so each gets its own outcome and a message that
    fails is quarantined without touching the others. If the processing transaction fails as
    a whole (a deadlock, a lost connection), each stored message is processed again alone.

    The answers are in the order of ``raws``: an :class:`Outcome`, or the
    :class:`MessageTooLarge` that kept a message out (the others are taken in all the same).
    A message delivered twice in one batch is handled once; its second delivery answers
    with the first one's outcome.
    """
    answers: list[MessageTooLarge | InboundMail] = []
    fresh: list[InboundMail] = []
    with transaction.atomic():
        for kept in store_many(raws, source=source, recipients=recipients, mailbox=mailbox):
            if isinstance(kept, MessageTooLarge):
                answers.append(kept)
                continue
            stored, new = kept
            if new:
                fresh.append(stored)
            answers.append(stored)
    # Stored and committed: from here on nothing can lose a message.
    done = _process_batch(fresh)
    first_seen: set[int] = set()
    outcomes: list[Outcome | MessageTooLarge] = []
    for answer in answers:
        if not isinstance(answer, InboundMail):
            outcomes.append(answer)
        elif answer.pk in done and answer.pk not in first_seen:
            first_seen.add(answer.pk)
            outcomes.append(done[answer.pk])
        elif answer.pk in done:
            earlier = done[answer.pk]
            outcomes.append(
                Outcome(earlier.status, earlier.ticket, "already received", True, answer)
            )
        elif any(answer.pk == mail.pk for mail in fresh):
            # Stored now but processed elsewhere meanwhile (the scheduler): as it stands.
            again = InboundMail.objects.defer("raw").get(pk=answer.pk)
            outcomes.append(Outcome(again.status, again.ticket, again.reason, mail=again))
        else:
            outcomes.append(Outcome(answer.status, answer.ticket, "already received", True, answer))
    return outcomes


def _process_batch(mails: Sequence[InboundMail]) -> dict[int, Outcome]:
    """Process stored messages in one transaction (outcome by row id); alone, each in its own
    transaction, when that fails as a whole."""
    if not mails:
        return {}
    try:
        with transaction.atomic():
            # Locked (without reading the messages back), so that a scheduler finding one of
            # them due meanwhile waits and then sees it processed.
            waiting = set(
                InboundMail.objects.select_for_update()
                .filter(pk__in=[mail.pk for mail in mails], process_due_at__isnull=False)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            # One a worker took between the two transactions is answered as it stands.
            return {mail.pk: process_stored(mail) for mail in mails if mail.pk in waiting}
    except DatabaseError:
        done: dict[int, Outcome] = {}
        for mail in mails:
            with transaction.atomic():
                # The failed batch left its changes on the objects in hand: read each again.
                again = InboundMail.objects.select_for_update().filter(pk=mail.pk).first()
                if again is None or again.process_due_at is None:
                    continue
                done[mail.pk] = process_stored(again)
        return done


# --- processing ------------------------------------------------------------------------------


def process_stored(mail: InboundMail, *, reviewed: bool = False) -> Outcome:
    """Decide what a stored message is and act on it; any failure quarantines it with the
    reason. Call with the row locked (inside a transaction). ``reviewed``: staff retry it,
    so a reused Message-ID no longer holds it back."""
    decision = _Decision()
    try:
        with transaction.atomic():
            reused = None if reviewed else _reused_id(mail)
            if reused is not None:
                outcome = _quarantine(mail, decision, reused)
            else:
                outcome = _process(mail, decision)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        outcome = _quarantine(
            mail, decision, f"could not be processed: {type(exc).__name__}: {first}"
        )
    mail.attempts += 1
    mail.processed_at = now()
    mail.process_due_at = None
    mail.save(
        update_fields=[
            "sender",
            "subject",
            "status",
            "reason",
            "decision",
            "ticket",
            "organization",
            "attempts",
            "processed_at",
            "process_due_at",
        ]
    )
    return outcome


def _reused_id(mail: InboundMail) -> str | None:
    """Why the message is held for review when an earlier, different message carries its
    Message-ID; None when none does."""
    earlier = (
        InboundMail.objects.filter(message_id=mail.message_id, pk__lt=mail.pk)
        .exclude(digest=mail.digest)
        .only("pk", "sender")
        .order_by("pk")
        .first()
    )
    if earlier is None:
        return None
    who = "the same sender" if earlier.sender == mail.sender else f"{earlier.sender or 'nobody'}"
    return (
        f"its Message-ID {mail.message_id} was already used by mail #{earlier.pk} from {who}, "
        "with other content; not threaded or opened until reviewed"
    )


def _finish(  # the caller (process_stored) saves the row
    mail: InboundMail,
    decision: _Decision,
    status: str,
    *,
    reason: str = "",
    ticket: Ticket | None = None,
    organization_id: int | None = None,
) -> Outcome:
    mail.status = status
    mail.reason = reason[:300]
    mail.decision = decision.text()
    mail.ticket = ticket
    mail.organization_id = (
        organization_id
        if organization_id is not None
        else ticket.organization_id
        if ticket
        else None
    )
    return Outcome(status, ticket, reason, mail=mail)


def _quarantine(mail: InboundMail, decision: _Decision, reason: str) -> Outcome:
    decision.note(f"quarantined: {reason}")
    return _finish(mail, decision, InboundStatus.QUARANTINED, reason=reason)


def _process(mail: InboundMail, decision: _Decision) -> Outcome:
    raw = bytes(mail.raw)
    if mail.size > len(raw):
        return _quarantine(mail, decision, too_large_message(mail.size))
    message = mailparse.parse(raw)
    name, address = mailparse.sender(message)
    subject = mailparse.subject(message)
    mail.sender, mail.subject = address[:254], subject
    addresses = mailparse.addresses(message, mail.recipients)
    integration = _alert_integration(addresses)
    if integration is not None:
        return _to_alerts(
            mail,
            decision,
            integration=integration,
            message=message,
            subject=subject,
            address=address,
        )
    if not address or "@" not in address:
        return _quarantine(mail, decision, "no sender address")
    bounced = mailparse.bounced_ids(message, address)
    if bounced is not None:
        return _bounce(mail, decision, message, bounced)
    if address in _desk_addresses():
        return _quarantine(mail, decision, "sent by the desk itself (a mail loop)")
    automatic = mailparse.automatic(message)
    if automatic:
        return _quarantine(mail, decision, f"automatic mail ({automatic})")
    limit = int(getattr(settings, "DESK_MAIL_SENDER_LIMIT_PER_HOUR", DEFAULT_SENDER_LIMIT_PER_HOUR))
    if limit:
        recent = (
            InboundMail.objects.filter(
                sender=address, received_at__gte=mail.received_at - timedelta(hours=1)
            )
            .exclude(pk=mail.pk)
            .exclude(status=InboundStatus.QUARANTINED)
            .count()
        )
        if recent >= limit:
            return _quarantine(
                mail, decision, f"more than {limit} messages from {address} in an hour (a loop?)"
            )
    contact = _find_contact(name, address, decision)
    if contact is None:
        return _quarantine(mail, decision, "the sender belongs to no organisation")
    body = mailparse.text_body(message)
    files, left_out = _files(message)
    ticket = _thread(message, subject, addresses, contact.organization_id, decision)
    if ticket is not None and ticket.status == Status.CLOSED:
        closed = ticket
        ticket = _follow_up(closed, contact=contact, subject=subject, body=body)
        decision.note(
            f"{closed.reference} is closed: opened follow-up {ticket.reference}, related to it"
        )
        attach(ticket, files, actor=None)
        status = InboundStatus.NEW_TICKET
    elif ticket is not None:
        text = mailparse.strip_quoted(body)[:MAX_BODY] or "(no text)"
        reply = add_reply(ticket, actor=None, contact=contact, body=text)
        attach(ticket, files, actor=None, reply=reply)
        status = InboundStatus.REPLY
    else:
        decision.note(f"opened a new ticket for {contact.organization.name}")
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
    MailThread.objects.remember(ticket, mail.message_id, outbound=False)
    reason = ""
    if left_out:
        reason = f"{len(left_out)} attachment(s) not kept: over the size or number limit"
        decision.note(f"attachments not kept: {', '.join(left_out)}")
        add_reply(
            ticket,
            actor=mail_actor(),
            internal=True,
            body="Attachments of the mail from "
            f"{address} not kept (over the {human_size(max_bytes())} or "
            f"{MAX_FILES}-file limit): {', '.join(left_out)}",
        )
        transaction.on_commit(partial(send_over_limit_notice.enqueue, mail.pk, left_out))
    return _finish(mail, decision, status, reason=reason, ticket=ticket)


RE_PREFIX_RE = re.compile(r"^\s*((re|aw|sv|fwd?|wg|tr)\s*:\s*)+", re.IGNORECASE)


def _follow_up(closed: Ticket, *, contact: Contact, subject: str, body: str) -> Ticket:
    """A new ticket for mail that answers a closed one: the same requester, type, team,
    category and tags, related to the closed ticket (both timelines say why)."""
    text = RE_PREFIX_RE.sub("", REFERENCE_RE.sub("", subject)).strip()

    def open_one(assignee: User | None) -> Ticket:
        return create_ticket(
            closed.organization,
            actor=None,
            subject=(text or closed.subject)[:250],
            description=body[:MAX_BODY],
            type=closed.type,
            impact=closed.impact,
            urgency=closed.urgency,
            requester=contact,
            category=closed.category,
            team=closed.team,
            assignee=assignee,
            tags=closed.tags,
            source=Source.EMAIL,
        )

    try:
        with transaction.atomic():
            ticket = open_one(closed.assignee)
    except ValidationError:
        # The closed ticket's assignee no longer works here: the team's queue takes it.
        ticket = open_one(None)
    relate(ticket, closed, actor=None, follow_up=True)
    return ticket


def _find_contact(name: str, address: str, decision: _Decision) -> Contact | None:
    contact = (
        Contact.objects.select_related("organization")
        # Lower(email) = address: what contact_email_ci_idx holds.
        .annotate(email_ci=Lower("email"))
        .filter(email_ci=address.lower(), is_active=True, organization__is_active=True)
        .order_by("pk")
        .first()
    )
    if contact is not None:
        decision.note(f"sender {address} is a contact of {contact.organization.name}")
        return contact
    domain = address.rpartition("@")[2]
    matches = [
        org
        for org in Organization.objects.filter(is_active=True, email_domains__icontains=domain)
        if domain in [str(d).lower() for d in org.email_domains]
    ]
    organization: Organization | None = None
    if len(matches) == 1:
        organization = matches[0]
        decision.note(f"sender's domain {domain} belongs to {organization.name}")
    elif len(matches) > 1:
        decision.note(f"sender's domain {domain} is claimed by {len(matches)} organisations")
    else:
        policy_slug = str(getattr(settings, "DESK_MAIL_UNKNOWN_SENDER", "quarantine") or "")
        if policy_slug and policy_slug != "quarantine":
            organization = Organization.objects.filter(slug=policy_slug, is_active=True).first()
            if organization is not None:
                decision.note(
                    f"unknown sender: DESK_MAIL_UNKNOWN_SENDER puts it in {organization.name}"
                )
        if organization is None:
            decision.note(f"no contact {address} and no organisation with the domain {domain}")
    if organization is None:
        return None
    return tenancy.create_contact(
        organization, actor=None, name=name or address.partition("@")[0], email=address
    )


def _follow_merges(ticket: Ticket) -> Ticket:
    seen = {ticket.pk}
    while ticket.merged_into_id is not None and ticket.merged_into_id not in seen:
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
        seen.add(ticket.pk)
    return ticket


def _ticket_numbered(number: int) -> Ticket | None:
    # With its organisation: the reply's audit entry and the decision name it.
    return Ticket.objects.select_related("organization").filter(number=number).first()


def _thread(
    message: Message,
    subject: str,
    addresses: list[str],
    organization_id: int,
    decision: _Decision,
) -> Ticket | None:
    """The ticket the message answers, in the order Message-IDs, subject tag, signed token;
    each step's finding is noted, and another organisation's ticket is never the answer."""

    def accept(ticket: Ticket | None, how: str) -> Ticket | None:
        if ticket is None:
            return None
        if ticket.organization_id != organization_id:
            decision.note(f"{how}: {ticket.reference} is another organisation's ticket; ignored")
            return None
        found = _follow_merges(ticket)
        merged = f" (merged into {found.reference})" if found.pk != ticket.pk else ""
        decision.note(f"threaded to {ticket.reference}{merged}: {how}")
        return found

    ids = mailparse.message_ids(mailparse.header(message, "In-Reply-To"))
    ids += list(reversed(mailparse.message_ids(mailparse.header(message, "References"))))
    if ids:
        known = {
            t.message_id: t.ticket
            for t in MailThread.objects.select_related("ticket__organization").filter(
                message_id__in=ids[:100]
            )
        }
        for mid in ids:
            ticket = known.get(mid)
            if ticket is None:
                root = THREAD_RE.fullmatch(mid)
                if root is not None and root.group(2) == desk_mail.domain():
                    ticket = _ticket_numbered(int(root.group(1)))
            found = accept(ticket, f"In-Reply-To/References names {mid}")
            if found is not None:
                return found
        if not any(mid in known for mid in ids):
            decision.note("no In-Reply-To/References Message-ID belongs to a ticket")
    for tag in REFERENCE_RE.findall(subject):
        found = accept(
            _ticket_numbered(int(tag)),
            f"the subject carries [{REFERENCE_PREFIX}{tag}]",
        )
        if found is not None:
            return found
    for number, signature in desk_mail.tokens_in(addresses):
        ticket = _ticket_numbered(number)
        if ticket is None or not desk_mail.signature_valid(
            number, ticket.organization_id, signature
        ):
            decision.note(f"reply address tag for {REFERENCE_PREFIX}{number} has a bad signature")
            continue
        found = accept(ticket, "the reply address carries its signed tag")
        if found is not None:
            return found
    return None


def _bounce(
    mail: InboundMail, decision: _Decision, message: EmailMessage, bounced: list[str]
) -> Outcome:
    decision.note("a delivery status notification (bounce)")
    thread = (
        MailThread.objects.select_related("ticket")
        .filter(message_id__in=bounced[:20], outbound=True)
        .first()
    )
    if thread is None:
        decision.note("it reports no mail the desk sent")
        return _finish(mail, decision, InboundStatus.BOUNCE, reason="bounce of unknown mail")
    ticket = _follow_merges(thread.ticket)
    failed = [
        line.split(";", 1)[-1].strip()
        for line in mailparse.report_lines(message)
        if line.lower().startswith("final-recipient:")
    ]
    who = ", ".join(failed) or "the requester"
    add_reply(
        ticket,
        actor=mail_actor(),
        internal=True,
        body=f"Mail to {who} could not be delivered (bounce {mail.message_id}).",
    )
    decision.note(f"the bounced mail {thread.message_id} belongs to {ticket.reference}")
    return _finish(
        mail, decision, InboundStatus.BOUNCE, reason=f"mail to {who} bounced", ticket=ticket
    )


# --- alerts ----------------------------------------------------------------------------------


def _alert_integration(addresses: Iterable[str]) -> Integration | None:
    from buttress.alerts.models import IntegrationKind
    from buttress.alerts.services import find_by_key

    local = alert_local_part()
    for address in addresses:
        lowered = address.lower()
        if not lowered.startswith(f"{local}+"):
            continue
        match = ALERT_KEY_RE.search(lowered)
        if match is None:
            continue
        integration = find_by_key(match.group(1))
        if integration is not None and integration.kind == IntegrationKind.EMAIL:
            return integration
    return None


def alert_local_part() -> str:
    address = str(getattr(settings, "ALERTS_MAIL_ADDRESS", "") or "alerts@localhost")
    return address.partition("@")[0].lower()


def _to_alerts(
    mail: InboundMail,
    decision: _Decision,
    *,
    integration: Integration,
    message: EmailMessage,
    subject: str,
    address: str,
) -> Outcome:
    from buttress.alerts import services as alerts
    from buttress.alerts.formats import PayloadError
    from buttress.alerts.tasks import enqueue_processing

    decision.note(f"addressed to alert integration {integration.name!r}")
    if not integration.is_enabled:
        return _quarantine(mail, decision, "the alert integration is disabled")
    body = json.dumps(
        {
            "subject": subject,
            "from": address,
            "message_id": mail.message_id,
            "date": mailparse.header(message, "Date"),
            "severity": mailparse.header(message, "X-Alert-Severity"),
            "text": mailparse.text_body(message)[:4096],
        }
    )
    try:
        alerts.parse_for(integration, json.loads(body), received_at=mail.received_at)
    except PayloadError as exc:
        return _quarantine(mail, decision, f"not an alert: {exc}")
    try:
        delivery = alerts.record_delivery(
            integration, body=body, content_type="message/rfc822", at=mail.received_at
        )
    except alerts.RateLimited as exc:
        return _quarantine(mail, decision, str(exc))
    enqueue_processing(delivery)
    decision.note(f"recorded as alert delivery #{delivery.pk}")
    return _finish(
        mail,
        decision,
        InboundStatus.ALERT,
        reason=f"alert delivery #{delivery.pk}",
        organization_id=integration.organization_id,
    )


# --- review ----------------------------------------------------------------------------------


@transaction.atomic
def retry(mail: InboundMail, *, actor: User | None) -> Outcome:
    """Process a quarantined message again (after a contact was added, say)."""
    locked = InboundMail.objects.select_for_update().get(pk=mail.pk)
    if locked.status != InboundStatus.QUARANTINED:
        raise ValidationError({"status": "Only quarantined mail can be retried."})
    before = locked.reason
    outcome = process_stored(locked, reviewed=True)
    audit.record(
        locked,
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        organization=locked.organization,
        note=f"Quarantined mail {locked.message_id} retried ({before}): {outcome.status}",
    )
    return outcome


@transaction.atomic
def discard(mail: InboundMail, *, actor: User | None) -> InboundMail:
    """Give up on a quarantined message: it stays listed (as discarded), its content is
    dropped."""
    locked = InboundMail.objects.select_for_update().get(pk=mail.pk)
    if locked.status != InboundStatus.QUARANTINED:
        raise ValidationError({"status": "Only quarantined mail can be discarded."})
    audit.record(
        locked,
        actor=actor,
        action=AuditEntry.Action.DELETE,
        organization=locked.organization,
        note=f"Quarantined mail {locked.message_id} from {locked.sender} discarded "
        f"({locked.reason})",
    )
    locked.status = InboundStatus.DISCARDED
    locked.raw = b""
    locked.decision = (locked.decision + "\ndiscarded by staff").strip()
    locked.save(update_fields=["status", "raw", "decision"])
    return locked


def headers_of(mail: InboundMail) -> list[tuple[str, str]]:
    """The stored message's headers, for review (decoded, at most 200)."""
    parsed = BytesHeaderParser(policy=policy.default).parsebytes(bytes(mail.raw))
    return [(str(k), mailparse.header(parsed, k)) for k in list(parsed.keys())[:200]]


def safe_text_of(mail: InboundMail) -> str:
    """The message's text as plain text (HTML reduced to its text), for review."""
    try:
        return mailparse.text_body(mailparse.parse(bytes(mail.raw)))[:50_000]
    except Exception as exc:
        return f"(the body cannot be read: {type(exc).__name__})"
