"""IMAP mailboxes the desk polls: their configuration, and polling one.

A poll reads the folder's messages above ``last_uid`` (under the same UIDVALIDITY), stores
each one (:func:`buttress.desk.services.inbound.store`, committed) and only then moves it to
the done folder, or flags it seen, on the server; then processes it. A crash between storing
and moving leaves the message on the server, where the next poll finds it again as a
duplicate of a stored Message-ID: nothing is lost and nothing is handled twice.
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from buttress.audit import services as audit
from buttress.desk.models import (
    InboundMail,
    InboundSource,
    InboundStatus,
    Mailbox,
    MailboxSecurity,
)
from buttress.desk.services import inbound
from buttress.lib import secretbox
from buttress.lib.timeutil import now

if TYPE_CHECKING:
    from buttress.accounts.models import User

MAILBOX_FIELDS = (
    "name",
    "host",
    "port",
    "security",
    "username",
    "folder",
    "done_folder",
    "is_enabled",
    "poll_interval_seconds",
)
MIN_INTERVAL = 10
MAX_INTERVAL = 24 * 3600
# Messages fetched per poll; a bigger backlog is read over the next polls.
POLL_BATCH = 200
IMAP_TIMEOUT = 30.0
LOOPBACK = ("127.", "::1", "localhost")


@dataclass
class PollResult:
    stored: int = 0
    duplicates: int = 0
    too_large: int = 0
    outcomes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.stored} stored, {self.duplicates} already received, "
            f"{self.too_large} over the size limit"
        )


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for name in ("name", "host", "username"):
        fields[name] = str(fields.get(name) or "").strip()
        if not fields[name]:
            errors[name] = "This field is required."
    fields["folder"] = str(fields.get("folder") or "INBOX").strip() or "INBOX"
    fields["done_folder"] = str(fields.get("done_folder") or "").strip()
    port = fields.get("port")
    if not isinstance(port, int) or not 0 < port < 65536:
        errors["port"] = "A port between 1 and 65535."
    if fields.get("security") not in MailboxSecurity.values:
        errors["security"] = f"One of {', '.join(MailboxSecurity.values)}."
    elif fields["security"] == MailboxSecurity.NONE and not fields["host"].startswith(LOOPBACK):
        errors["security"] = "Unencrypted IMAP is allowed only to a loopback address."
    interval = fields.get("poll_interval_seconds")
    if not isinstance(interval, int) or not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        errors["poll_interval_seconds"] = f"Between {MIN_INTERVAL} and {MAX_INTERVAL} seconds."
    if fields["done_folder"] and fields["done_folder"] == fields["folder"]:
        errors["done_folder"] = "The done folder must differ from the folder polled."
    if errors:
        raise ValidationError(errors)
    fields["is_enabled"] = bool(fields.get("is_enabled", True))
    return fields


@transaction.atomic
def create_mailbox(
    *,
    actor: User | None,
    name: str,
    host: str,
    username: str,
    password: str,
    port: int = 993,
    security: str = MailboxSecurity.SSL,
    folder: str = "INBOX",
    done_folder: str = "",
    is_enabled: bool = True,
    poll_interval_seconds: int = 60,
) -> Mailbox:
    fields = _clean(
        {
            "name": name,
            "host": host,
            "username": username,
            "port": port,
            "security": security,
            "folder": folder,
            "done_folder": done_folder,
            "is_enabled": is_enabled,
            "poll_interval_seconds": poll_interval_seconds,
        }
    )
    if Mailbox.objects.filter(name=fields["name"]).exists():
        raise ValidationError({"name": "A mailbox with this name exists."})
    at = now()
    mailbox = Mailbox.objects.create(
        **fields,
        password_encrypted=secretbox.seal(password),
        poll_due_at=at if fields["is_enabled"] else None,
        created_at=at,
        updated_at=at,
    )
    audit.record_create(mailbox, actor=actor, organization=None, fields=MAILBOX_FIELDS)
    return mailbox


@transaction.atomic
def update_mailbox(
    mailbox: Mailbox, *, actor: User | None, password: str | None = None, **changes: Any
) -> Mailbox:
    """Change the settings; a new ``password`` replaces the stored one (None keeps it)."""
    for name in changes:
        if name not in MAILBOX_FIELDS:
            raise ValidationError({name: "This field cannot be changed."})
    before = audit.snapshot(mailbox, MAILBOX_FIELDS)
    fields = _clean({**{f: getattr(mailbox, f) for f in MAILBOX_FIELDS}, **changes})
    if fields["name"] != mailbox.name and Mailbox.objects.filter(name=fields["name"]).exists():
        raise ValidationError({"name": "A mailbox with this name exists."})
    moved = (fields["host"], fields["username"], fields["folder"]) != (
        mailbox.host,
        mailbox.username,
        mailbox.folder,
    )
    for name, value in fields.items():
        setattr(mailbox, name, value)
    if moved:
        # Another folder's UIDs mean nothing here: read it from the start.
        mailbox.uid_validity, mailbox.last_uid = None, 0
    if password is not None:
        mailbox.password_encrypted = secretbox.seal(password)
    mailbox.poll_due_at = now() if mailbox.is_enabled else None
    mailbox.updated_at = now()
    mailbox.save()
    audit.record_update(
        mailbox, actor=actor, organization=None, before=before, fields=MAILBOX_FIELDS
    )
    return mailbox


@transaction.atomic
def delete_mailbox(mailbox: Mailbox, *, actor: User | None) -> None:
    audit.record_delete(
        mailbox, actor=actor, organization=None, fields=MAILBOX_FIELDS, object_id=mailbox.pk
    )
    mailbox.delete()


def _connect(mailbox: Mailbox) -> IMAPClient:
    context = ssl.create_default_context()
    client = IMAPClient(
        mailbox.host,
        port=mailbox.port,
        ssl=mailbox.security == MailboxSecurity.SSL,
        ssl_context=context,
        timeout=IMAP_TIMEOUT,
    )
    if mailbox.security == MailboxSecurity.STARTTLS:
        client.starttls(context)
    client.login(mailbox.username, secretbox.unseal(mailbox.password_encrypted))
    return client


def poll(mailbox: Mailbox, *, at: datetime | None = None) -> PollResult:
    """Fetch, store, mark and process the folder's new messages; IMAP and decoding errors
    are kept on the mailbox (``last_error``) and raised as ValidationError."""
    at = at or now()
    result = PollResult()
    try:
        client = _connect(mailbox)
    except (OSError, IMAPClientError, secretbox.SecretUnreadable) as exc:
        _note_error(mailbox, f"cannot connect: {exc}", at)
        raise ValidationError(f"{mailbox.name}: cannot connect: {exc}") from exc
    try:
        _poll_folder(client, mailbox, result)
    except (OSError, IMAPClientError) as exc:
        _note_error(mailbox, f"IMAP: {exc}", at)
        raise ValidationError(f"{mailbox.name}: IMAP: {exc}") from exc
    finally:
        with contextlib.suppress(OSError, IMAPClientError):
            client.logout()
    Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=at, last_error="")
    return result


def _note_error(mailbox: Mailbox, error: str, at: datetime) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=at, last_error=error[:500])


def _poll_folder(client: IMAPClient, mailbox: Mailbox, result: PollResult) -> None:
    selected = client.select_folder(mailbox.folder)
    validity = int(selected[b"UIDVALIDITY"])
    if mailbox.uid_validity != validity:
        mailbox.uid_validity, mailbox.last_uid = validity, 0
        Mailbox.objects.filter(pk=mailbox.pk).update(uid_validity=validity, last_uid=0)
    uids = sorted(
        u for u in client.search(["UID", f"{mailbox.last_uid + 1}:*"]) if u > mailbox.last_uid
    )
    for uid in uids[:POLL_BATCH]:
        size = int(client.fetch([uid], ["RFC822.SIZE"]).get(uid, {}).get(b"RFC822.SIZE", 0))
        stored: InboundMail | None = None
        if size > inbound.max_message_bytes():
            result.too_large += 1
            headers = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {})
            stored = _store_too_large(mailbox, bytes(headers.get(b"BODY[HEADER]", b"")), size)
        else:
            data = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
            raw = bytes(data.get(b"BODY[]", b""))
            stored, new = inbound.store(raw, source=InboundSource.IMAP, mailbox=mailbox)
            if new:
                result.stored += 1
            else:
                result.duplicates += 1
        # The message is durable now: only from here on may the server forget it.
        _mark_done(client, mailbox, uid)
        Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=uid)
        mailbox.last_uid = uid
        if stored is not None and stored.process_due_at is not None:
            with transaction.atomic():
                locked = InboundMail.objects.select_for_update().get(pk=stored.pk)
                if locked.process_due_at is not None:
                    result.outcomes.append(inbound.process_stored(locked).status)


def _store_too_large(mailbox: Mailbox, headers: bytes, size: int) -> InboundMail:
    """An over-limit message is left on the server; its headers are quarantined with why."""
    stored, _ = inbound.store(headers, source=InboundSource.IMAP, mailbox=mailbox)
    InboundMail.objects.filter(pk=stored.pk).update(
        status=InboundStatus.QUARANTINED,
        reason=inbound.too_large_message(size)[:300],
        decision="only the headers were fetched: the message is over DESK_MAIL_MAX_BYTES "
        "and stays on the IMAP server",
        size=size,
        process_due_at=None,
        processed_at=now(),
    )
    stored.process_due_at = None
    return stored


def _mark_done(client: IMAPClient, mailbox: Mailbox, uid: int) -> None:
    if not mailbox.done_folder:
        client.add_flags([uid], [b"\\Seen"])
        return
    if client.has_capability("MOVE"):
        client.move([uid], mailbox.done_folder)
        return
    client.copy([uid], mailbox.done_folder)
    client.delete_messages([uid])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])
    else:
        client.expunge()


def schedule_next(mailbox: Mailbox, *, at: datetime) -> None:
    """Set the next poll (call holding the mailbox's claim)."""
    mailbox.poll_due_at = (
        at + timedelta(seconds=mailbox.poll_interval_seconds) if mailbox.is_enabled else None
    )
    mailbox.save(update_fields=["poll_due_at"])
