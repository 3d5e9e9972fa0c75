"""A monitor's stored ``config`` (JSON) as the probe engine's spec, and back. No Django.

The spec classes in :mod:`buttress.monitoring.probes` are the one definition of each check's
options and of what is valid, so a config is checked by building the spec: whatever is saved is
something the runner can run. Errors name the option (``url``, ``json_assertions[0].path``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from buttress.monitoring.probes import (
    DnsSpec,
    HttpSpec,
    IcmpSpec,
    ImapSpec,
    JsonAssertion,
    ProbeSpec,
    SmtpSpec,
    TcpSpec,
    TlsSpec,
)

SPEC_CLASSES: dict[str, type[ProbeSpec]] = {
    "http": HttpSpec,
    "tcp": TcpSpec,
    "icmp": IcmpSpec,
    "dns": DnsSpec,
    "tls": TlsSpec,
    "smtp": SmtpSpec,
    "imap": ImapSpec,
}
# Options the runner sets, never a monitor: the organisation's private-address policy, files on
# the runner's host, and raw-socket privileges.
RUNNER_OPTIONS = {
    "allow_private": "set from the organisation's private-address policy when the check runs",
    "ca_file": "names a file on the runner's host and cannot be set per monitor",
    "privileged": "is decided by the runner's permissions",
}
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "None": (type(None),),
    "Mapping": (dict,),
    "dict": (dict,),
    "tuple": (list,),
    "Iterable": (list,),
}
_TYPE_NAMES: dict[type, str] = {
    bool: "true or false",
    int: "a number",
    float: "a number",
    str: "text",
    list: "a list",
    type(None): "null",
}
_TYPE_WORD = re.compile(r"\b(" + "|".join(_JSON_TYPES) + r")\b")


class ConfigError(ValueError):
    """A config option is wrong; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def options(kind: str) -> list[str]:
    """The options a monitor of ``kind`` may set in its config."""
    spec_class = SPEC_CLASSES[kind]
    return [
        f.name for f in dataclasses.fields(spec_class) if f.init and f.name not in RUNNER_OPTIONS
    ]


def _required(spec_class: type[ProbeSpec]) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(spec_class)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]


def _json_types(field: dataclasses.Field[Any]) -> tuple[type, ...] | None:
    """The JSON value types an option accepts, read from its annotation; None: any."""
    words = _TYPE_WORD.findall(str(field.type))
    if not words:
        return None  # a Literal alias (tls, match): the spec checks the value itself
    found: list[type] = []
    for word in words:
        found.extend(_JSON_TYPES[word])
    return tuple(found)


def _check_type(name: str, value: Any, accepted: tuple[type, ...] | None) -> None:
    if accepted is None:
        return
    if isinstance(value, accepted) and (bool in accepted or not isinstance(value, bool)):
        return
    wanted = sorted({_TYPE_NAMES.get(t, "an object") for t in accepted})
    raise ConfigError(name, f"must be {' or '.join(wanted)}, got {value!r}")


def _assertions(value: Any) -> tuple[JsonAssertion, ...]:
    if not isinstance(value, list):
        raise ConfigError("json_assertions", "must be a list of {path, op, value} objects")
    built: list[JsonAssertion] = []
    for index, item in enumerate(value):
        label = f"json_assertions[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(label, "must be an object with path, op and value")
        unknown = set(item) - {"path", "op", "value"}
        if unknown:
            raise ConfigError(f"{label}.{sorted(unknown)[0]}", "is not an option (path, op, value)")
        try:
            built.append(JsonAssertion(**item))
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            raise ConfigError(f"{label}.{field}", message or str(exc)) from exc
    return tuple(built)


def build_spec(kind: str, config: Mapping[str, Any], *, allow_private: bool = False) -> ProbeSpec:
    """The probe spec a monitor of ``kind`` with ``config`` runs; ConfigError when invalid."""
    spec_class = SPEC_CLASSES.get(kind)
    if spec_class is None:
        raise ConfigError("kind", f"{kind!r} has no probe")
    if not isinstance(config, Mapping):
        raise ConfigError("config", "must be an object of options")
    known = {f.name: f for f in dataclasses.fields(spec_class) if f.init}
    arguments: dict[str, Any] = {}
    for name, value in config.items():
        if name in RUNNER_OPTIONS:
            raise ConfigError(name, RUNNER_OPTIONS[name])
        if name not in known:
            raise ConfigError(
                name, f"is not an option of {kind} checks (options: {', '.join(options(kind))})"
            )
        if name == "json_assertions":
            arguments[name] = _assertions(value)
            continue
        _check_type(name, value, _json_types(known[name]))
        arguments[name] = tuple(value) if isinstance(value, list) else value
    for name in _required(spec_class):
        if name not in arguments:
            raise ConfigError(name, "is required")
    try:
        return spec_class(**arguments, allow_private=allow_private)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        if field not in known and not field.startswith(tuple(known)):
            raise ConfigError("config", str(exc)) from exc
        raise ConfigError(field, message) from exc
    except TypeError as exc:
        raise ConfigError("config", str(exc)) from exc
