"""What a heartbeat ping means, with no database access: shared by both transports.

``/ping/...`` is answered by the Django view (:mod:`buttress.monitoring.views`) and by the
intake process (:mod:`buttress.intake`), which writes many pings in one transaction. Both read
the URL with :func:`parse_ping_path` and :func:`parse_rid`, and both move a monitor with
:func:`apply_ping`, so a ping means the same whichever process answers it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from buttress.monitoring.models import MonitorStatus, PingKind

if TYPE_CHECKING:
    from buttress.monitoring.models import Monitor

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
SLUG = re.compile(r"^[a-z0-9_-]+$")
SIGNALS = {"start": PingKind.START, "fail": PingKind.FAIL, "log": PingKind.LOG}
MAX_EXIT_STATUS = 255
# A start and its end pair into a duration only this close together.
PAIRING_WINDOW = timedelta(hours=72)
ENDS_RUN = frozenset({PingKind.SUCCESS, PingKind.FAIL, PingKind.EXIT})


class BadPing(Exception):
    """A ping URL the reference answers with a 4xx, before any monitor is looked up."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PingTarget:
    """Which monitor a ping URL names: by ``code`` (uuid) or by ``key`` and ``slug``."""

    kind: str
    exit_status: int | None
    code: uuid.UUID | None = None
    key: str = ""
    slug: str = ""


def _signal(action: str | None) -> tuple[str, int | None]:
    if action is None:
        return PingKind.SUCCESS, None
    if action in SIGNALS:
        return SIGNALS[action], None
    if action.isascii() and action.isdigit():
        code = int(action)
        if code > MAX_EXIT_STATUS:
            raise BadPing(400, f"exit status {code} is out of range (0-{MAX_EXIT_STATUS})")
        return PingKind.EXIT, code
    raise BadPing(404, "not found")


def parse_ping_path(path: str) -> PingTarget:
    """The target of ``/ping/<path>`` (``path`` without the prefix); BadPing when it is none.

    ``<uuid>[/<signal>]`` or ``<key>/<slug>[/<signal>]``, one trailing slash allowed.
    """
    parts = path.split("/")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing slash is allowed
    if not parts or "" in parts or len(parts) > 3:
        raise BadPing(404, "not found")
    if UUID.match(parts[0]):
        if len(parts) > 2:
            raise BadPing(404, "not found")
        kind, exit_status = _signal(parts[1] if len(parts) == 2 else None)
        return PingTarget(kind=kind, exit_status=exit_status, code=uuid.UUID(parts[0]))
    if len(parts) < 2:
        raise BadPing(404, "not found")
    key, slug = parts[0], parts[1]
    if not SLUG.match(slug):
        raise BadPing(400, "invalid slug: use lowercase letters, digits, '-' and '_'")
    kind, exit_status = _signal(parts[2] if len(parts) == 3 else None)
    return PingTarget(kind=kind, exit_status=exit_status, key=key, slug=slug)


def parse_rid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    if not RID.match(value):
        raise BadPing(400, "rid must be a UUID")
    return uuid.UUID(value)


@dataclass(frozen=True)
class PingRequest:
    """What the ping endpoint read from one request."""

    kind: str
    exit_status: int | None = None
    rid: uuid.UUID | None = None
    remote_addr: str | None = None
    method: str = "GET"
    user_agent: str = ""
    body: bytes = b""
    body_size: int = 0


@dataclass(frozen=True)
class StatusChange:
    """A monitor's status moving because of a ping, at the ping's instant."""

    from_status: str
    to_status: str
    at: datetime
    reason: str


@dataclass
class PingEffect:
    """What :func:`apply_ping` did to the monitor: the columns to save and what to record."""

    n: int
    duration: timedelta | None
    fields: list[str] = field(default_factory=list)
    change: StatusChange | None = None


def ping_outcome(request: PingRequest) -> tuple[str | None, str]:
    """The status a ping gives (None: unchanged) and why."""
    if request.kind == PingKind.SUCCESS:
        return MonitorStatus.UP, "success ping"
    if request.kind == PingKind.FAIL:
        return MonitorStatus.DOWN, "failure ping"
    if request.kind == PingKind.EXIT:
        if request.exit_status == 0:
            return MonitorStatus.UP, "exit status 0"
        return MonitorStatus.DOWN, f"exit status {request.exit_status}"
    return None, ""


def needs_start_lookup(monitor: Monitor, request: PingRequest) -> bool:
    """Whether the run's start must be looked up among older pings (its rid is not the
    monitor's last start)."""
    if request.kind not in ENDS_RUN or request.rid is None:
        return False
    return not (monitor.last_start_at is not None and monitor.last_start_rid == request.rid)


def apply_ping(
    monitor: Monitor, request: PingRequest, *, at: datetime, started_at: datetime | None = None
) -> PingEffect:
    """Apply a ping to the in-memory ``monitor``: no query, nothing saved.

    A success (or exit status 0) makes the monitor up and resumes a paused one; a failure (or
    exit status 1-255) makes it down at once; ``start`` marks the job running (down if it has
    not ended ``grace`` later); ``log`` only counts. ``started_at`` is the start of the run
    the ping ends when :func:`needs_start_lookup` said it had to be looked up. The caller
    saves ``fields``, stores the ping as number ``n`` and records ``change``.
    """
    ends_run = request.kind in ENDS_RUN
    duration: timedelta | None = None
    if ends_run:
        started = started_at
        if monitor.last_start_at is not None and monitor.last_start_rid == request.rid:
            started = monitor.last_start_at
        if started is not None and timedelta(0) <= at - started <= PAIRING_WINDOW:
            duration = at - started
    monitor.n_pings += 1
    effect = PingEffect(n=monitor.n_pings, duration=duration, fields=["n_pings"])
    status, reason = ping_outcome(request)
    if request.kind == PingKind.START:
        monitor.last_start_at = at
        monitor.last_start_rid = request.rid
        effect.fields += ["last_start_at", "last_start_rid"]
    elif ends_run:
        monitor.last_ping_at = at
        effect.fields.append("last_ping_at")
        if monitor.last_start_rid == request.rid:
            monitor.last_start_at = None
            monitor.last_start_rid = None
            effect.fields += ["last_start_at", "last_start_rid"]
    if status is not None:
        if monitor.is_paused:
            monitor.is_paused = False
            effect.fields.append("is_paused")
        if monitor.status != status:
            effect.change = StatusChange(
                from_status=monitor.status, to_status=status, at=at, reason=reason[:200]
            )
            monitor.status = status
        effect.fields.append("status")
    if request.kind != PingKind.LOG:
        monitor.heartbeat_due_at = monitor.next_transition(monitor.status)
        effect.fields.append("heartbeat_due_at")
    return effect
