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
    peer = _valid_ip(request.META.get("REMOTE_ADDR", ""))
    trusted = set(getattr(settings, "TRUSTED_PROXIES", []))
    if peer is None or peer not in trusted:
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part for part in forwarded.split(",") if part.strip()]):
        address = _valid_ip(hop)
        if address is None:
            return peer
        if address not in trusted:
            return address
    return peer


def user_agent(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))[:300]
