"""What a request says about its client: address and browser, for sessions and throttling."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address; behind a trusted reverse proxy, the one it forwarded.

    ``X-Forwarded-For`` is read only when the peer is listed in ``TRUSTED_PROXIES``, and then
    from the right, skipping trusted hops, so a client cannot choose its own address.
    """
    return forwarded_client(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


def forwarded_client(remote_addr: str, forwarded: str) -> str | None:
    """:func:`client_ip` from the peer's address and the ``X-Forwarded-For`` header's value."""
    peer = _valid_ip(remote_addr or "")
    trusted = set(getattr(settings, "TRUSTED_PROXIES", []))
    if peer is None or peer not in trusted:
        return peer
    for hop in reversed([part for part in (forwarded or "").split(",") if part.strip()]):
        address = _valid_ip(hop)
        if address is None:
            return peer
        if address not in trusted:
            return address
    return peer


def user_agent(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))[:300]
