"""The built-in SMTP listener (`buttress smtpd`): mail for the desk's domains, stored before
it is accepted.

aiosmtpd speaks SMTP. A recipient outside ``SMTPD_DOMAINS`` (domains, or whole addresses)
is refused at RCPT (550), a message over ``DESK_MAIL_MAX_BYTES`` at MAIL (its SIZE) or DATA
(552). A message is answered 250 only once it is committed to the database with its
processing queued; if storing fails the answer is 451 and the sender tries again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections, transaction

from buttress.desk.mail import domain
from buttress.desk.models import InboundSource
from buttress.desk.services import inbound
from buttress.desk.tasks.inbound import enqueue_processing

logger = logging.getLogger(__name__)


def accepted_recipients() -> list[str]:
    """Domains and addresses the listener takes mail for (lowercase)."""
    return [str(entry).strip().lower() for entry in settings.SMTPD_DOMAINS if str(entry).strip()]


def accepts(address: str, allowed: list[str]) -> bool:
    address = address.strip().lower()
    domain = address.rpartition("@")[2]
    return bool(domain) and (address in allowed or domain in allowed)


def store_and_queue(raw: bytes, recipients: list[str]) -> str:
    """Store the message and queue its processing, in one transaction; its Message-ID."""
    close_old_connections()
    with transaction.atomic():
        stored, new = inbound.store(raw, source=InboundSource.SMTP, recipients=recipients)
        if new:
            enqueue_processing(stored)
    return stored.message_id


class DeskHandler:
    def __init__(self, allowed: list[str]) -> None:
        self.allowed = allowed

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not accepts(address, self.allowed):
            return f"550 5.1.1 <{address}>: no mailbox here by that name"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        if len(raw) > inbound.max_message_bytes():
            return f"552 5.3.4 {inbound.too_large_message(len(raw))}"
        try:
            message_id = await sync_to_async(store_and_queue, thread_sensitive=True)(
                raw, [str(r) for r in envelope.rcpt_tos]
            )
        except Exception:  # any storage failure: the sender must keep the message and retry
            logger.exception("could not store a message from %s", envelope.mail_from)
            return "451 4.3.0 The message could not be stored; try again later"
        return f"250 2.0.0 Accepted {message_id}"


def make_server(handler: DeskHandler) -> SMTP:
    return SMTP(
        handler,
        data_size_limit=inbound.max_message_bytes(),
        enable_SMTPUTF8=True,
        decode_data=False,
        # Named from BASE_URL: the default would ask DNS for this host's name.
        hostname=domain(),
        ident="buttress smtpd",
    )


async def serve(host: str, port: int, *, ready: asyncio.Event | None = None) -> None:
    """Listen until cancelled."""
    allowed = accepted_recipients()
    if not allowed:
        msg = "BUTTRESS_SMTPD_DOMAINS is empty: the listener would accept mail for nobody"
        raise ValueError(msg)
    handler = DeskHandler(allowed)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: make_server(handler), host=host, port=port)
    logger.info("smtpd listening on %s:%s for %s", host, port, ", ".join(allowed))
    if ready is not None:
        ready.set()
    try:
        async with server:
            await server.serve_forever()
    finally:
        # The thread that stored the mail keeps its database connection between messages.
        await sync_to_async(connections.close_all, thread_sensitive=True)()


def run(host: str, port: int) -> None:
    """Serve until SIGTERM or Ctrl-C."""
    import signal

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serve(host, port)

    asyncio.run(main())
