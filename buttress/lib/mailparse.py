"""Reading mail: headers, text and reports of an RFC 5322 message, whatever state it is in.

Pure functions over the standard library's ``email`` package (and nh3 for HTML), no Django:
every reader copes with what real mail brings (a header that will not decode, a wrong or
unknown charset, HTML with scripts, MIME without its boundary) by giving less, never by
raising.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import OrderedDict
from collections.abc import Sequence
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any

import nh3

MSGID_RE = re.compile(r"<[^<>\s]{1,250}>")
# Lines from which on the rest of a reply is the quoted earlier message.
QUOTE_MARKERS = (
    re.compile(r"^On .{1,200} wrote:\s*$"),
    re.compile(r"^-{2,}\s*Original Message\s*-{2,}", re.IGNORECASE),
    re.compile(r"^From: .+"),
)
BLOCK_END_RE = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^>]*>", re.IGNORECASE)
AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})
AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Response")
BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})


class _RememberingRegistry(HeaderRegistry):
    """The standard header registry, answering a header it has parsed before from memory.

    Reading a message asks for the same headers again and again (``Content-Type`` on every
    walk over the parts, ``From`` and ``Subject`` by several readers), and the standard
    library parses the raw value afresh each time. Parsed headers are immutable strings, so
    one parse per distinct (name, value) gives the same objects' worth.
    """

    def __init__(self) -> None:
        super().__init__()
        self.parsed: OrderedDict[tuple[str, str], BaseHeader] = OrderedDict()

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if not isinstance(value, str):
            return super().__call__(name, value)
        key = (name, value)
        found = self.parsed.get(key)
        if found is None:
            found = super().__call__(name, value)
            self.parsed[key] = found
            if len(self.parsed) > HEADER_MEMORY:
                self.parsed.popitem(last=False)
        return found


HEADER_MEMORY = 2048
REGISTRY = _RememberingRegistry()
POLICY = policy.default.clone(header_factory=REGISTRY)


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=POLICY).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def header(message: Message, name: str) -> str:
    """A header as text; a header the parser cannot decode counts as empty."""
    try:
        value = message.get(name)
    except (ValueError, LookupError, IndexError, TypeError):
        return ""
    return " ".join(str(value or "").replace("\x00", "").split())


def decode(part: Message) -> str:
    """A text part as text, whatever charset it claims: the declared one, else UTF-8, else
    Windows-1252 (which decodes any byte)."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    declared = part.get_content_charset() or "utf-8"
    for charset in (declared, "utf-8"):
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")


def html_to_text(markup: str) -> str:
    """The text of an HTML body: scripts, styles and every tag removed (nh3), blocks on their
    own lines, entities decoded. Kept as plain text, shown escaped."""
    spaced = BLOCK_END_RE.sub("\n", markup)
    cleaned = nh3.clean(spaced, tags=set(), attributes={}, strip_comments=True)
    lines = (" ".join(line.split()) for line in html.unescape(cleaned).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def text_body(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except (KeyError, ValueError, LookupError):
        part = None
    if part is None:
        return ""
    text = decode(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
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


def sender(message: Message) -> tuple[str, str]:
    name, address = parseaddr(header(message, "From"))
    return name.strip(), address.strip().lower()


def subject(message: Message) -> str:
    return header(message, "Subject")[:250]


def addresses(message: Message, recipients: Sequence[str]) -> list[str]:
    values = [header(message, name) for name in ("To", "Cc", "Delivered-To", "X-Original-To")]
    found = [address for _, address in getaddresses([v for v in values if v]) if address]
    return [*recipients, *found]


def message_ids(value: str) -> list[str]:
    return MSGID_RE.findall(value)


# The headers a message keeps from its author to every mailbox it reaches; relays add
# Received, Delivered-To, Return-Path and the like, and those differ between two deliveries.
STABLE_HEADERS = ("From", "To", "Date", "Subject")
BODY_START_RE = re.compile(rb"\r?\n\r?\n")


DIGEST_CHUNK = 1024 * 1024


def _hash_body(sha: hashlib._Hash, raw: bytes) -> None:
    """Feed the message after its header block, line ends made LF and trailing white space
    dropped (a relay may change either), a chunk at a time: a 30 MB message is not copied."""
    found = BODY_START_RE.search(raw)
    if found is None:
        return
    start, end = found.end(), len(raw)
    while end > start and raw[end - 1] in b" \t\r\n":
        end -= 1
    view = memoryview(raw)
    carry = b""
    for at in range(start, end, DIGEST_CHUNK):
        chunk = carry + view[at : min(at + DIGEST_CHUNK, end)].tobytes()
        carry = b""
        if chunk.endswith(b"\r"):
            carry, chunk = b"\r", chunk[:-1]
        sha.update(chunk.replace(b"\r\n", b"\n"))
    sha.update(carry)


def content_digest(message: Message, raw: bytes) -> str:
    """What makes two deliveries one message: the SHA-256 of the author's headers (From, To,
    Date, Subject, decoded) and the body, never of what relays added on the way."""
    sha = hashlib.sha256()
    for name in STABLE_HEADERS:
        sha.update(f"{name}: {header(message, name)}\n".encode("utf-8", "surrogateescape"))
    sha.update(b"\n")
    _hash_body(sha, raw)
    return sha.hexdigest()


def message_id(message: Message, raw: bytes, digest: str | None = None) -> str:
    """The message's own Message-ID; without one its :func:`content_digest` stands for it, so
    the same mail relayed twice (other Received headers) is still one message."""
    ids = message_ids(header(message, "Message-ID"))
    if ids:
        return ids[0][:255]
    return f"<sha256-{digest or content_digest(message, raw)}@no-message-id>"


def automatic(message: Message) -> str:
    """Why the message was sent by a machine (an auto-reply, a list), or empty."""
    auto = header(message, "Auto-Submitted").lower()
    if auto not in ("", "no"):
        return f"Auto-Submitted: {auto}"
    precedence = header(message, "Precedence").lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in AUTO_HEADERS:
        if header(message, name):
            return f"{name} header"
    if header(message, "X-Auto-Response-Suppress").lower() in ("all", "oof", "autoreply"):
        return "X-Auto-Response-Suppress header"
    return ""


def bounced_ids(message: EmailMessage, address: str) -> list[str] | None:
    """The Message-IDs of the mail a bounce reports (perhaps none), or None for no bounce."""
    is_report = (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == "delivery-status"
    )
    if not is_report and address.partition("@")[0] not in BOUNCE_SENDERS:
        return None
    ids: list[str] = []
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                ids += message_ids(header(payload[0], "Message-ID"))
            elif isinstance(payload, str):
                inner = BytesHeaderParser(policy=policy.default).parsebytes(payload.encode())
                ids += message_ids(header(inner, "Message-ID"))
    return ids


def report_lines(message: EmailMessage) -> list[str]:
    lines: list[str] = []
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            blocks = payload if isinstance(payload, list) else [payload]
            for block in blocks:
                if isinstance(block, Message):
                    lines += [f"{k}: {v}" for k, v in block.items()]
                elif isinstance(block, str):
                    lines += block.splitlines()
    return lines
