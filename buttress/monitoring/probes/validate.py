"""Checks shared by the probe specs; each error message starts with the field's name."""

from __future__ import annotations

import math
import re

from buttress.monitoring.probes.network import parse_ip

MAX_TIMEOUT = 120.0
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def fail(field: str, reason: str) -> ValueError:
    return ValueError(f"{field}: {reason}")


def check_host(field: str, value: object) -> str:
    """A host name or IP address literal, returned in the form sockets accept."""
    if not isinstance(value, str) or not value.strip():
        raise fail(field, "a host name or IP address is required")
    host = value.strip()
    if parse_ip(host) is not None:
        return host.strip("[]")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise fail(field, f"{host!r} is not a valid host name") from exc
    name = ascii_host.removesuffix(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise fail(field, f"{host!r} is not a valid host name")
    return name


def check_port(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise fail(field, f"{value!r} is not a port number (1-65535)")
    return value


def check_number(field: str, value: object, *, low: float, high: float) -> float:
    """A finite number within [low, high]; ``low`` itself is excluded when it is zero."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(field, f"{value!r} is not a number")
    if value > high or value < low or (low == 0 and value == 0):
        raise fail(field, f"must be between {low:g} and {high:g}, got {value:g}")
    return float(value)


def check_int(field: str, value: object, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(field, f"must be a whole number from {low} to {high}, got {value!r}")
    return value


def check_timeout(value: object) -> float:
    return check_number("timeout", value, low=0, high=MAX_TIMEOUT)


def check_regex(field: str, value: object) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise fail(field, "a regular expression is required")
    try:
        return re.compile(value)
    except re.error as exc:
        raise fail(field, f"invalid regular expression: {exc}") from exc
