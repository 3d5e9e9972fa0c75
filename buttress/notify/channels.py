"""Handing a message to its channel: Django's mail backend or an Apprise URL.

Each ``send_*`` returns when the channel accepted the message and raises
:class:`ChannelError` (with words an operator can act on) when it did not.
"""

from __future__ import annotations

import ipaddress
import logging
import socket

import apprise
from django.conf import settings
from django.core.mail import EmailMessage

from buttress.monitoring.probes.network import is_public_address, parse_ip

# Apprise schemes that POST to any host the URL names: a customer must not aim them at the
# provider's own network.
CUSTOM_HTTP_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})


class ChannelError(Exception):
    pass


def send_email(
    address: str, subject: str, body: str, headers: dict[str, str] | None = None
) -> None:
    """``headers`` (a ticket's thread: Message-ID, In-Reply-To, References, Reply-To) go on
    the message as given."""
    message = EmailMessage(
        subject, body, settings.DEFAULT_FROM_EMAIL, [address], headers=dict(headers or {})
    )
    try:
        sent = message.send()
    except (OSError, ValueError) as exc:
        raise ChannelError(f"mail not accepted: {exc}") from exc
    if sent != 1:
        raise ChannelError("mail not accepted by the mail backend")


def parse_apprise(url: str) -> apprise.plugins.NotifyBase:
    """The Apprise plugin for ``url``; ``ValueError`` naming what is wrong."""
    plugin = apprise.Apprise.instantiate(url.strip(), suppress_exceptions=True)
    if plugin is None:
        msg = "not an Apprise URL Apprise can use (e.g. slack://..., tgram://..., ntfy://...)"
        raise ValueError(msg)
    return plugin


def apprise_hint(url: str) -> str:
    """The URL as it may be shown again: Apprise's own masking of its secrets, no options."""
    masked = str(parse_apprise(url).url(privacy=True)).split("?", 1)[0]  # type: ignore[no-untyped-call]
    return masked[:120]


def private_target(url: str) -> str | None:
    """The private address an Apprise URL would reach, if any (loopback, private, link-local
    or reserved); None when it reaches public addresses or a fixed service."""
    plugin = parse_apprise(url)
    host = str(getattr(plugin, "host", "") or "")
    if not host:
        return None
    literal = parse_ip(host)
    if literal is not None:
        return None if is_public_address(literal) else str(literal)
    if url.split(":", 1)[0].lower() not in CUSTOM_HTTP_SCHEMES:
        return None
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return None  # unresolvable: delivery will fail and say so
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not is_public_address(address):
            return f"{host} ({address})"
    return None


def send_apprise(url: str, subject: str, body: str) -> None:
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise ChannelError("the Apprise URL is no longer valid")
    with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        ok = notifier.notify(title=subject, body=body)
    if not ok:
        lines = [line.split(" - ", 2)[-1] for line in captured.getvalue().splitlines() if line]
        raise ChannelError("; ".join(lines)[-1000:] or "Apprise reported a failure")
