"""Files on tickets: checked, hashed and stored under random names."""

from __future__ import annotations

import hashlib
import mimetypes
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from buttress.audit import services as audit
from buttress.desk.models import (
    DEFAULT_ATTACHMENT_MAX_BYTES,
    Attachment,
    EventKind,
    Reply,
    Ticket,
    attachment_max_bytes,
)
from buttress.desk.services.timeline import check_not_merged, record_event, touch
from buttress.lib.sizes import human_size
from buttress.lib.timeutil import now

if TYPE_CHECKING:
    from buttress.accounts.models import User

MAX_FILES = 10
DEFAULT_MAX_BYTES = DEFAULT_ATTACHMENT_MAX_BYTES


def max_bytes() -> int:
    return attachment_max_bytes()


def clean_filename(name: str) -> str:
    """The last path part, without control characters, at most 255 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if not text:
        return "file"
    if len(text) > 255:
        stem, dot, ext = text.rpartition(".")
        text = (stem[: 254 - len(ext)] + dot + ext) if dot and len(ext) < 20 else text[:255]
    return text


def _digest(upload: UploadedFile[Any]) -> str:
    sha = hashlib.sha256()
    for chunk in upload.chunks():
        sha.update(chunk)
    upload.seek(0)
    return sha.hexdigest()


def attach(
    ticket: Ticket,
    files: Sequence[UploadedFile[Any]],
    *,
    actor: User | None,
    reply: Reply | None = None,
    internal: bool = False,
) -> list[Attachment]:
    """Store ``files`` on the ticket (with ``reply`` if given; internal like a note)."""
    check_not_merged(ticket)
    if not files:
        # Most mail has no attachment: no transaction (a savepoint and its release) for it.
        return []
    return _store(ticket, files, actor=actor, reply=reply, internal=internal)


@transaction.atomic
def _store(
    ticket: Ticket,
    files: Sequence[UploadedFile[Any]],
    *,
    actor: User | None,
    reply: Reply | None,
    internal: bool,
) -> list[Attachment]:
    if len(files) > MAX_FILES:
        raise ValidationError({"files": f"At most {MAX_FILES} files at once."})
    limit = max_bytes()
    for upload in files:
        if upload.size is None or upload.size > limit:
            name = clean_filename(upload.name or "")
            raise ValidationError(
                {"files": f"{name} is larger than {human_size(limit)}, the limit for one file."}
            )
    if reply is not None:
        internal = reply.is_internal
    at = now()
    made: list[Attachment] = []
    for upload in files:
        name = clean_filename(upload.name or "")
        guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
        attachment = Attachment(
            ticket=ticket,
            organization_id=ticket.organization_id,
            reply=reply,
            uploaded_by=actor if actor is not None and actor.pk else None,
            filename=name,
            content_type=guessed[:100],
            size=int(upload.size or 0),
            sha256=_digest(upload),
            is_internal=internal,
            created_at=at,
        )
        attachment.file.save(name, upload, save=False)
        attachment.save()
        made.append(attachment)
        audit.record_create(
            attachment,
            actor=actor,
            organization=ticket.organization,
            fields=("ticket", "filename", "size", "is_internal"),
        )
    record_event(
        ticket,
        EventKind.ATTACHED,
        actor=actor,
        at=at,
        detail={
            "files": [{"id": a.pk, "name": a.filename, "size": a.size} for a in made],
            **({"reply": reply.pk} if reply is not None else {}),
        },
        internal=internal,
    )
    touch(ticket, at)
    return made
