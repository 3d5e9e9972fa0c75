"""Reading the alert payloads buttress accepts into one shape, without touching the database.

Each ``parse_*`` function takes decoded JSON and returns a :class:`Batch` of
:class:`AlertEvent`, or raises :class:`PayloadError` listing every problem with the field it
concerns. The functions are pure: the time a request arrived and any key generated for it are
passed in, so parsing a recorded delivery again gives the same events.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

TRIGGER = "trigger"
ACKNOWLEDGE = "acknowledge"
RESOLVE = "resolve"
ACTIONS = (TRIGGER, ACKNOWLEDGE, RESOLVE)

# Prometheus' and Alertmanager's default resolve_timeout: a directly sent alert without endsAt
# is taken as firing until this long after it was last received.
RESOLVE_TIMEOUT = timedelta(minutes=5)
MAX_DEDUP_KEY = 255
MAX_PD_SUMMARY = 1024
PD_SEVERITIES = ("critical", "error", "warning", "info")
MAX_ALERTS = 10_000
MAX_TEXT = 4096

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_FNV_MASK = 0xFFFFFFFFFFFFFFFF
_SEPARATOR = 0xFF
_FRACTION = re.compile(r"(\.\d{6})\d+")


class PayloadError(ValueError):
    """The payload cannot be used; ``errors`` name the fields, e.g. ``alerts[0].labels``."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass(frozen=True)
class AlertEvent:
    """One alert as a sender reported it: start, refresh, acknowledge or resolve."""

    fingerprint: str
    action: str
    labels: dict[str, str]
    annotations: dict[str, str]
    summary: str = ""
    severity: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    links: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    # The sender's own grouping (Alertmanager's groupKey); empty when it gives none.
    group_key: str = ""
    # ends_at was not sent but assumed (now + resolve timeout): the alert expires unless re-sent.
    expires: bool = False

    @property
    def name(self) -> str:
        """What the alert is called: its alertname label, else its summary."""
        return self.labels.get("alertname") or self.summary or self.fingerprint


@dataclass(frozen=True)
class Batch:
    events: list[AlertEvent]
    # PagerDuty: the dedup_key the answer carries (the sender's, or one generated for it).
    dedup_key: str = ""


# --- helpers ---------------------------------------------------------------------------------


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint: FNV-1a 64 over the label names and values sorted by name,
    each followed by the byte 0xFF, as 16 hex digits."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8"):
                value = ((value ^ byte) * _FNV_PRIME) & _FNV_MASK
            value = ((value ^ _SEPARATOR) * _FNV_PRIME) & _FNV_MASK
    return f"{value:016x}"


def group_hash(key: str) -> str:
    """A fixed-length digest of a group key, which may be long, for an indexed column."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def unstorable(value: Any, where: str) -> str | None:
    """Why decoded JSON cannot be stored (NUL or a lone surrogate in text), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{where}: text may not contain NUL (\\u0000) characters."
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where}: text must be valid Unicode (a lone surrogate escape was sent)."
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if reason := unstorable(key, where) or unstorable(item, f"{where}.{key}"):
                return reason
    if isinstance(value, list):
        for index, item in enumerate(value):
            if reason := unstorable(item, f"{where}[{index}]"):
                return reason
    return None


def load_json(body: bytes) -> Any:
    """Decoded JSON, or PayloadError for a body that is not valid (storable) UTF-8 JSON."""
    try:
        text = body.decode("utf-8")
        data = json.loads(text)
    except UnicodeDecodeError as exc:
        raise PayloadError(["The body is not valid UTF-8."]) from exc
    except ValueError as exc:
        raise PayloadError([f"The body is not valid JSON: {exc}."]) from exc
    # Strict JSON refuses raw control characters in strings, and valid UTF-8 holds no
    # surrogates, so a NUL or a lone surrogate can only come from a \u escape: a body without
    # one (nearly all) needs no walk over every value.
    if "\\u" in text and (reason := unstorable(data, "body")):
        raise PayloadError([reason])
    return data


def parse_time(value: Any, where: str, errors: list[str]) -> datetime | None:
    """An RFC 3339 instant; Go's zero time (year 1) and empty mean "not set"."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append(f"{where} must be an RFC 3339 time string.")
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()))
    except ValueError:
        errors.append(f"{where} is not an RFC 3339 time: {value[:40]!r}.")
        return None
    if parsed.year <= 1:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _string_map(value: Any, where: str, errors: list[str], *, required: bool) -> dict[str, str]:
    if value is None:
        if required:
            errors.append(f"{where} is required.")
        return {}
    if not isinstance(value, dict):
        errors.append(f"{where} must be an object of names to values.")
        return {}
    return {str(k): _text(v)[:MAX_TEXT] for k, v in value.items() if v is not None}


def _optional_string(value: Any, where: str, errors: list[str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(f"{where} must be a string.")
        return ""
    return value


def _summary(annotations: Mapping[str, str], labels: Mapping[str, str], fallback: str = "") -> str:
    for text in (annotations.get("summary"), annotations.get("description"), fallback):
        if text and text.strip():
            return text.strip().splitlines()[0][:1024]
    return labels.get("alertname", "")


def _links(pairs: Mapping[str, Any]) -> dict[str, str]:
    return {name: url for name, url in pairs.items() if isinstance(url, str) and url.strip()}


def _check_size(items: list[Any], where: str) -> None:
    if len(items) > MAX_ALERTS:
        raise PayloadError([f"{where} holds more than {MAX_ALERTS} alerts."])


# --- Alertmanager and Grafana ----------------------------------------------------------------


def parse_alertmanager(data: Any, *, grafana: bool = False) -> Batch:
    """An Alertmanager webhook (version 4), or Grafana's, which has the same shape."""
    if not isinstance(data, dict):
        raise PayloadError(["The body must be a JSON object with an alerts list."])
    errors: list[str] = []
    alerts = data.get("alerts")
    if alerts is None:
        raise PayloadError(["alerts is required."])
    if not isinstance(alerts, list):
        raise PayloadError(["alerts must be a list."])
    _check_size(alerts, "alerts")
    group_key = _optional_string(data.get("groupKey"), "groupKey", errors)
    common = _string_map(data.get("commonAnnotations"), "commonAnnotations", errors, required=False)
    title = _optional_string(data.get("title"), "title", errors) if grafana else ""
    events: list[AlertEvent] = []
    for index, item in enumerate(alerts):
        where = f"alerts[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{where} must be an object.")
            continue
        before = len(errors)
        labels = _string_map(item.get("labels"), f"{where}.labels", errors, required=True)
        annotations = _string_map(
            item.get("annotations"), f"{where}.annotations", errors, required=False
        )
        status = item.get("status")
        if status not in ("firing", "resolved"):
            errors.append(f"{where}.status is required: firing or resolved.")
        starts_at = parse_time(item.get("startsAt"), f"{where}.startsAt", errors)
        ends_at = parse_time(item.get("endsAt"), f"{where}.endsAt", errors)
        given = _optional_string(item.get("fingerprint"), f"{where}.fingerprint", errors)
        if len(given) > MAX_DEDUP_KEY:
            errors.append(f"{where}.fingerprint is longer than {MAX_DEDUP_KEY} characters.")
        if len(errors) > before:
            continue
        links = _links(
            {
                "runbook": annotations.get("runbook_url") or annotations.get("runbook"),
                "dashboard": item.get("dashboardURL") or annotations.get("dashboard_url"),
                "panel": item.get("panelURL"),
                "silence": item.get("silenceURL"),
                "generator": item.get("generatorURL"),
            }
        )
        details: dict[str, Any] = {}
        for key in ("values", "valueString"):
            if item.get(key) not in (None, "", {}):
                details[key] = item[key]
        events.append(
            AlertEvent(
                fingerprint=given or fingerprint(labels),
                action=TRIGGER if status == "firing" else RESOLVE,
                labels=labels,
                annotations=annotations,
                summary=_summary({**common, **annotations}, labels, title),
                severity=labels.get("severity", "").lower()[:32],
                starts_at=starts_at,
                ends_at=ends_at,
                links=links,
                details=details,
                group_key=group_key,
            )
        )
    if errors:
        raise PayloadError(errors)
    return Batch(events)


# --- Prometheus sending directly (Alertmanager API v2) ---------------------------------------


def parse_prometheus(data: Any, *, received_at: datetime) -> Batch:
    """``POST /api/v2/alerts``: a list of alerts; the status follows from endsAt."""
    if not isinstance(data, list):
        raise PayloadError(["The body must be a JSON list of alerts."])
    _check_size(data, "body")
    errors: list[str] = []
    events: list[AlertEvent] = []
    for index, item in enumerate(data):
        where = f"[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{where} must be an object.")
            continue
        before = len(errors)
        labels = _string_map(item.get("labels"), f"{where}.labels", errors, required=True)
        if not labels and len(errors) == before:
            errors.append(f"{where}.labels must name at least one label.")
        annotations = _string_map(
            item.get("annotations"), f"{where}.annotations", errors, required=False
        )
        starts_at = parse_time(item.get("startsAt"), f"{where}.startsAt", errors)
        ends_at = parse_time(item.get("endsAt"), f"{where}.endsAt", errors)
        generator = _optional_string(item.get("generatorURL"), f"{where}.generatorURL", errors)
        if len(errors) > before:
            continue
        expires = ends_at is None
        if ends_at is None:
            ends_at = received_at + RESOLVE_TIMEOUT
        events.append(
            AlertEvent(
                fingerprint=fingerprint(labels),
                action=RESOLVE if ends_at <= received_at else TRIGGER,
                labels=labels,
                annotations=annotations,
                summary=_summary(annotations, labels),
                severity=labels.get("severity", "").lower()[:32],
                starts_at=starts_at or received_at,
                ends_at=ends_at,
                links=_links(
                    {
                        "runbook": annotations.get("runbook_url"),
                        "dashboard": annotations.get("dashboard_url"),
                        "generator": generator,
                    }
                ),
                expires=expires,
            )
        )
    if errors:
        raise PayloadError(errors)
    return Batch(events)


# --- PagerDuty Events API v2 -----------------------------------------------------------------


def pagerduty_routing_key(data: Any) -> str:
    """The routing key, read first: it says which integration the event is for."""
    if not isinstance(data, dict):
        raise PayloadError(["The body must be a JSON object (a PagerDuty v2 event)."])
    key = data.get("routing_key")
    if not isinstance(key, str) or not key.strip():
        raise PayloadError(["routing_key is required: the integration key."])
    return key.strip()


def parse_pagerduty(data: Any, *, received_at: datetime, generated_key: str) -> Batch:
    """One Events API v2 event. ``generated_key`` is used when a trigger has no dedup_key."""
    pagerduty_routing_key(data)
    errors: list[str] = []
    action = data.get("event_action")
    if action not in ACTIONS:
        errors.append("event_action is required: trigger, acknowledge or resolve.")
    dedup_key = _optional_string(data.get("dedup_key"), "dedup_key", errors)
    if len(dedup_key) > MAX_DEDUP_KEY:
        errors.append(f"dedup_key is longer than {MAX_DEDUP_KEY} characters.")
    if action in (ACKNOWLEDGE, RESOLVE) and not dedup_key:
        errors.append(f"dedup_key is required to {action}.")
    payload = data.get("payload")
    if action != TRIGGER:
        if errors:
            raise PayloadError(errors)
        return Batch(
            [AlertEvent(fingerprint=dedup_key, action=str(action), labels={}, annotations={})],
            dedup_key=dedup_key,
        )
    if not isinstance(payload, dict):
        errors.append("payload is required: an object with summary, source and severity.")
        raise PayloadError(errors)
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("payload.summary is required.")
        summary = ""
    elif len(summary) > MAX_PD_SUMMARY:
        errors.append(f"payload.summary is longer than {MAX_PD_SUMMARY} characters.")
    source = payload.get("source")
    if not isinstance(source, str) or not source.strip():
        errors.append("payload.source is required.")
        source = ""
    severity = payload.get("severity")
    if severity not in PD_SEVERITIES:
        errors.append(f"payload.severity is required: one of {', '.join(PD_SEVERITIES)}.")
        severity = ""
    timestamp = parse_time(payload.get("timestamp"), "payload.timestamp", errors)
    labels: dict[str, str] = {"source": source, "severity": str(severity)}
    for name in ("component", "group", "class"):
        value = _optional_string(payload.get(name), f"payload.{name}", errors)
        if value:
            labels[name] = value[:MAX_TEXT]
    client_url = _optional_string(data.get("client_url"), "client_url", errors)
    for name in ("images", "links"):
        if data.get(name) is not None and not isinstance(data.get(name), list):
            errors.append(f"{name} must be a list.")
    if errors:
        raise PayloadError(errors)
    hrefs = [
        link.get("href")
        for link in data.get("links") or []
        if isinstance(link, dict) and isinstance(link.get("href"), str)
    ]
    details: dict[str, Any] = {}
    for name in ("custom_details",):
        if payload.get(name) is not None:
            details[name] = payload[name]
    for name in ("images", "links", "client"):
        if data.get(name):
            details[name] = data[name]
    key = dedup_key or generated_key
    return Batch(
        [
            AlertEvent(
                fingerprint=key,
                action=TRIGGER,
                labels=labels,
                annotations={"summary": summary.strip()},
                summary=summary.strip().splitlines()[0][:1024],
                severity=str(severity),
                starts_at=timestamp or received_at,
                links=_links({"dashboard": hrefs[0] if hrefs else None, "generator": client_url}),
                details=details,
            )
        ],
        dedup_key=key,
    )


# --- generic JSON with a field mapping -------------------------------------------------------

DEFAULT_MAPPING: dict[str, str] = {
    "fingerprint": "fingerprint || dedup_key || id",
    "status": "status || state",
    "summary": "summary || title || message || name",
    "severity": "severity || priority || level",
    "labels": "labels",
    "annotations": "annotations",
    "starts_at": "starts_at || startsAt",
    "ends_at": "ends_at || endsAt",
    "runbook_url": "runbook_url",
    "dashboard_url": "dashboard_url",
    "generator_url": "generator_url || url",
    "group_key": "group_key",
}
MAPPING_FIELDS = frozenset({*DEFAULT_MAPPING, "alerts"})
DEFAULT_RESOLVED_VALUES = ("resolved", "ok", "closed", "recovered", "inactive", "normal")
DEFAULT_ACKNOWLEDGED_VALUES = ("acknowledged", "ack")


def clean_mapping(raw: Any) -> dict[str, Any]:
    """A mapping as an integration stores it; ValueError names the bad entry.

    Keys are the fields of an alert (see :data:`DEFAULT_MAPPING`) plus ``alerts`` (where the
    list of alerts is, when a body carries several) and ``resolved_values`` /
    ``acknowledged_values`` (status texts that mean resolved / acknowledged); values are
    JMESPath expressions evaluated against the body or each alert in it.
    """
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        msg = "The mapping must be an object of field names to JMESPath expressions."
        raise ValueError(msg)
    cleaned: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("resolved_values", "acknowledged_values"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                msg = f"{key} must be a list of strings."
                raise ValueError(msg)
            cleaned[key] = [v.strip().lower() for v in value if v.strip()]
            continue
        if key not in MAPPING_FIELDS:
            known = ", ".join(sorted(MAPPING_FIELDS | {"resolved_values", "acknowledged_values"}))
            msg = f"Unknown mapping field {key!r}; known: {known}."
            raise ValueError(msg)
        if not isinstance(value, str) or not value.strip():
            msg = f"{key} must be a JMESPath expression."
            raise ValueError(msg)
        try:
            jmespath.compile(value)
        except JMESPathError as exc:
            msg = f"{key}: {value!r} is not a JMESPath expression ({exc})."
            raise ValueError(msg) from exc
        cleaned[key] = value.strip()
    return cleaned


def _search(expression: str, data: Any) -> Any:
    try:
        return jmespath.search(expression, data)
    except JMESPathError:
        # A type error inside an expression (e.g. a function given the wrong type) means the
        # field is absent from this payload.
        return None


def parse_generic(data: Any, *, mapping: Mapping[str, Any], received_at: datetime) -> Batch:
    """Any JSON: the integration's mapping (over :data:`DEFAULT_MAPPING`) says where each field
    of an alert is. ``summary`` is required; without a fingerprint one is computed."""
    rules = {**DEFAULT_MAPPING, **{k: v for k, v in mapping.items() if k in MAPPING_FIELDS}}
    resolved = tuple(mapping.get("resolved_values") or DEFAULT_RESOLVED_VALUES)
    acknowledged = tuple(mapping.get("acknowledged_values") or DEFAULT_ACKNOWLEDGED_VALUES)
    listed = "alerts" in rules or isinstance(data, list)
    if "alerts" in rules:
        items = _search(rules["alerts"], data)
        if not isinstance(items, list):
            raise PayloadError([f"alerts (mapped from {rules['alerts']!r}) must be a list."])
    elif isinstance(data, list):
        items = data
    else:
        items = [data]
    _check_size(items, "alerts")
    errors: list[str] = []
    events: list[AlertEvent] = []
    for index, item in enumerate(items):
        where = f"alerts[{index}]" if listed else "body"
        if not isinstance(item, dict):
            errors.append(f"{where} must be an object.")
            continue
        before = len(errors)

        def value(name: str, item: dict[str, Any] = item) -> Any:
            return _search(rules[name], item)

        summary = value("summary")
        if summary is None or (isinstance(summary, str) and not summary.strip()):
            errors.append(f"{where}: summary (mapped from {rules['summary']!r}) is required.")
        labels = _string_map(value("labels"), f"{where}: labels", errors, required=False)
        annotations = _string_map(
            value("annotations"), f"{where}: annotations", errors, required=False
        )
        starts_at = parse_time(value("starts_at"), f"{where}: starts_at", errors)
        ends_at = parse_time(value("ends_at"), f"{where}: ends_at", errors)
        given = value("fingerprint")
        if len(errors) > before:
            continue
        text = _text(summary).strip()
        status = _text(value("status") or "").strip().lower()
        if status in resolved:
            action = RESOLVE
        elif status in acknowledged:
            action = ACKNOWLEDGE
        else:
            action = TRIGGER
        key = _text(given).strip()[:MAX_DEDUP_KEY] if given not in (None, "") else ""
        severity = value("severity")
        group_key = value("group_key")
        events.append(
            AlertEvent(
                fingerprint=key or fingerprint(labels or {"summary": text}),
                action=action,
                labels=labels,
                annotations=annotations,
                summary=text.splitlines()[0][:1024] if text else "",
                severity=_text(severity).lower()[:32] if severity is not None else "",
                starts_at=starts_at or received_at,
                ends_at=ends_at,
                links=_links(
                    {
                        "runbook": value("runbook_url"),
                        "dashboard": value("dashboard_url"),
                        "generator": value("generator_url"),
                    }
                ),
                group_key=_text(group_key)[:MAX_TEXT] if group_key not in (None, "") else "",
            )
        )
    if errors:
        raise PayloadError(errors)
    return Batch(events)


# Subject words that mark an email alert: a resolution, or (ignored for its identity) a firing.
_EMAIL_RESOLVED = re.compile(r"\b(resolved|recovered|recovery)\b", re.IGNORECASE)
_EMAIL_NOISE = re.compile(
    r"^\s*((re|fwd?|aw)\s*:\s*)+|\[\s*(firing|problem|alert|resolved|recovered)(\s*:\s*\d+)?\s*\]"
    r"|\b(firing|problem|resolved|recovered|recovery)\s*:",
    re.IGNORECASE,
)


def email_summary(subject: str) -> tuple[str, bool]:
    """(the alert's summary, resolved?) of an alert mail's subject: the marker words
    (``RESOLVED:``, ``[FIRING:1]``, ``Re:``) are not part of what the alert is."""
    resolved = bool(_EMAIL_RESOLVED.search(subject))
    text = subject
    for _ in range(5):
        stripped = _EMAIL_NOISE.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    if resolved:
        text = _EMAIL_RESOLVED.sub(" ", text)
    summary = " ".join(text.replace("[]", " ").split()).strip(" -:|")
    return summary, resolved


def parse_email(data: Any, *, received_at: datetime) -> Batch:
    """A mail to an email integration, as the desk's mail intake recorded it (subject, from,
    text): the subject is the alert's summary; a subject saying resolved resolves the alert of
    the same summary from the same sender."""
    if not isinstance(data, dict):
        raise PayloadError(["body must be an object."])
    subject = _text(data.get("subject") or "")
    summary, resolved = email_summary(subject)
    if not summary:
        raise PayloadError(["subject: an alert mail needs a subject."])
    sender = _text(data.get("from") or "").lower()[:254]
    labels = {"alertname": summary[:MAX_TEXT], "from": sender}
    text = _text(data.get("text") or "")[:MAX_TEXT]
    severity = _text(data.get("severity") or "").lower()[:32]
    event = AlertEvent(
        fingerprint=fingerprint({"alertname": summary.lower(), "from": sender}),
        action=RESOLVE if resolved else TRIGGER,
        labels=labels,
        annotations={"description": text} if text else {},
        summary=summary[:1024],
        severity=severity,
        starts_at=received_at,
        details={"message_id": _text(data.get("message_id") or "")[:255]},
    )
    return Batch([event])
