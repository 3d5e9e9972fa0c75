"""Label matchers in Alertmanager's syntax: ``name="value"``, ``name!="value"``,
``name=~"regex"``, ``name!~"regex"``.

A pure engine (no Django), shared by routing rules and silences. As in Alertmanager, a regex
is fully anchored (``=~"web.*"`` matches ``web1`` but not ``myweb1``), and a label the alert
does not have is the empty string, so ``team=""`` matches alerts without a ``team`` label.
The value may be quoted (with ``\\"``, ``\\\\`` and ``\\n`` escapes) or bare; a list of
matchers may also be given as one text in braces, ``{alertname="HostDown", env=~"prod|dr"}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_MATCHERS = 20
MAX_VALUE_LENGTH = 1000
OPERATORS = ("=~", "!~", "!=", "=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}


class MatcherError(ValueError):
    pass


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, Any]) -> bool:
        raw = labels.get(self.name)
        actual = "" if raw is None else str(raw)
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def _unquote(text: str) -> str:
    if len(text) < 2 or not text.startswith('"') or not text.endswith('"'):
        if '"' in text:
            raise MatcherError("a quoted value must start and end with a double quote")
        return text
    out: list[str] = []
    chars = iter(text[1:-1])
    for char in chars:
        if char == '"':
            raise MatcherError('a double quote inside a value must be escaped as \\"')
        if char == "\\":
            nxt = next(chars, "")
            if nxt not in _ESCAPES:
                raise MatcherError(f"unknown escape \\{nxt} in a value")
            out.append(_ESCAPES[nxt])
        else:
            out.append(char)
    return "".join(out)


def parse(text: str) -> Matcher:
    """One matcher; :class:`MatcherError` with a message saying what is wrong."""
    if not isinstance(text, str):
        raise MatcherError('a matcher is a text such as severity="critical"')
    source = text.strip()
    match = _NAME.match(source)
    if match is None:
        raise MatcherError(
            f"{source[:60]!r}: a matcher starts with a label name (letters, digits, _)"
        )
    name = match.group()
    rest = source[match.end() :].lstrip()
    op = next((candidate for candidate in OPERATORS if rest.startswith(candidate)), None)
    if op is None:
        raise MatcherError(f"{source[:60]!r}: after the label name comes =, !=, =~ or !~")
    try:
        value = _unquote(rest[len(op) :].strip())
    except MatcherError as exc:
        raise MatcherError(f"{source[:60]!r}: {exc}") from exc
    if len(value) > MAX_VALUE_LENGTH:
        raise MatcherError(f"{name}: a value has at most {MAX_VALUE_LENGTH} characters")
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise MatcherError(f"{name}: invalid regular expression ({exc})") from exc
    return Matcher(name, op, value, regex)


def _split(text: str) -> list[str]:
    """Split ``a="x,y", b=~"z"`` at the commas outside quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted:
        raise MatcherError("a quoted value is not closed")
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def parse_all(value: Any) -> list[Matcher]:
    """Matchers from a list of texts or one ``{...}`` text; MatcherError naming the bad one."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        items: Iterable[Any] = _split(text)
    elif isinstance(value, list):
        items = value
    else:
        raise MatcherError('give a list of matchers such as ["severity=\\"critical\\""]')
    matchers = []
    for index, item in enumerate(items):
        try:
            matchers.append(parse(item))
        except MatcherError as exc:
            raise MatcherError(f"matcher {index + 1}: {exc}") from exc
    if len(matchers) > MAX_MATCHERS:
        raise MatcherError(f"at most {MAX_MATCHERS} matchers")
    return matchers


def normalise(value: Any) -> list[str]:
    """The canonical texts of the matchers in ``value`` (what is stored)."""
    return [str(matcher) for matcher in parse_all(value)]


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, Any]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


def matches_empty(matcher: Matcher) -> bool:
    """Does the matcher match an alert without the label (Alertmanager refuses silences made
    only of such matchers: they would silence everything)."""
    return matcher.matches({})
