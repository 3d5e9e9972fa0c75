"""The service that records many heartbeat pings in one transaction (the intake process).

Part of the monitoring services: :func:`record_pings` changes state exactly as
:func:`buttress.monitoring.services.ping_by_uuid` and ``ping_by_slug`` do one request at a
time, with the same rules (:func:`buttress.monitoring.pinging.apply_ping`) and the same hand-off
for a status change (:func:`buttress.monitoring.services.record_heartbeat_change`), but its cost
is a fixed handful of statements per batch instead of per ping:

1. one SELECT of the ping keys named by slug URLs;
2. one ``SELECT ... FOR UPDATE`` of every monitor the batch names, in primary-key order, so two
   intake processes pinging the same monitors queue on the row locks and never deadlock;
3. the pings applied in arrival order to the locked rows in memory;
4. one multi-row INSERT of the pings;
5. one UPDATE of the monitors (from arrays on PostgreSQL);
6. per status change, the same service call the one-request path makes; per monitor whose
   counter passed a multiple of ``PRUNE_EVERY``, the old pings deleted in one DELETE.

A missing slug with ``?create=1`` is rare and goes through ``ping_by_slug`` inside the same
transaction.
"""

from __future__ import annotations

import functools
import operator
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from buttress.monitoring import services
from buttress.monitoring.models import Monitor, Ping, PingKey, PingKind
from buttress.monitoring.pinging import PingRequest, PingTarget, apply_ping, needs_start_lookup

OK, CREATED, NOT_FOUND, AMBIGUOUS = 200, 201, 404, 409
# The monitor columns a ping may change (apply_ping's ``fields``), written for every monitor
# of the batch from its locked, in-memory row.
PING_COLUMNS = (
    "n_pings",
    "status",
    "is_paused",
    "last_ping_at",
    "last_start_at",
    "last_start_rid",
    "heartbeat_due_at",
)
_PG_TYPES = {
    "n_pings": "bigint",
    "status": "varchar",
    "is_paused": "boolean",
    "last_ping_at": "timestamptz",
    "last_start_at": "timestamptz",
    "last_start_rid": "uuid",
    "heartbeat_due_at": "timestamptz",
}


# The Ping columns written (the primary key is the database's).
PING_INSERT = (
    "organization_id",
    "monitor_id",
    "n",
    "at",
    "kind",
    "exit_status",
    "remote_addr",
    "method",
    "user_agent",
    "body",
    "body_size",
    "rid",
    "duration",
)
# What apply_ping and the lateness rules read; the rest of a monitor's row is left behind.
LOADED = (
    "organization_id",
    "uuid",
    "slug",
    "kind",
    "status",
    "is_paused",
    "schedule_kind",
    "period",
    "grace",
    "schedule",
    "tz",
    "last_ping_at",
    "last_start_at",
    "last_start_rid",
    "n_pings",
    "heartbeat_due_at",
)


@dataclass(frozen=True)
class PingItem:
    """One ping request read by the transport, with the instant it arrived."""

    target: PingTarget
    request: PingRequest
    at: datetime
    create: bool = False


def _load(items: Sequence[PingItem]) -> tuple[dict[str, int], list[Monitor]]:
    """(organisation id by ping key, the named monitors locked in primary-key order)."""
    hashes = {services.hash_ping_key(i.target.key) for i in items if i.target.code is None}
    keys: dict[str, int] = {}
    if hashes:
        keys = dict(
            PingKey.objects.filter(key_hash__in=hashes).values_list("key_hash", "organization_id")
        )
    codes = {i.target.code for i in items if i.target.code is not None}
    slugs: dict[int, set[str]] = defaultdict(set)
    for item in items:
        if item.target.code is None:
            organization_id = keys.get(services.hash_ping_key(item.target.key))
            if organization_id is not None:
                slugs[organization_id].add(item.target.slug)
    terms = [Q(uuid__in=codes)] if codes else []
    terms += [Q(organization_id=org, slug__in=names) for org, names in slugs.items()]
    if not terms:
        return keys, []
    monitors = list(
        Monitor.objects.select_for_update()
        .heartbeats()
        .filter(functools.reduce(operator.or_, terms))
        .only(*LOADED)
        .order_by("pk")
    )
    return keys, monitors


def _pg_cursor() -> Any:
    """A psycopg cursor binding parameters on the server, on Django's connection (and in its
    transaction): arrays and COPY rows go over in binary instead of being quoted into SQL
    text in Python, which Django's client-side binding would cost per value."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _insert_pings(pings: list[tuple[Any, ...]]) -> None:
    """One multi-row INSERT (SQLite) or COPY (PostgreSQL) of rows in PING_INSERT's order."""
    if not pings:
        return
    if connection.vendor != "postgresql":
        Ping.objects.bulk_create(Ping(**dict(zip(PING_INSERT, row, strict=True))) for row in pings)
        return
    table = connection.ops.quote_name(Ping._meta.db_table)
    with (
        _pg_cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(PING_INSERT)}) FROM STDIN") as copy,
    ):
        for row in pings:
            copy.write_row(row)


def _update_monitors(monitors: list[Monitor]) -> None:
    if not monitors:
        return
    if connection.vendor != "postgresql":
        Monitor.objects.bulk_update(monitors, list(PING_COLUMNS))
        return
    table = connection.ops.quote_name(Monitor._meta.db_table)
    columns = ", ".join(f"{name} = u.{name}" for name in PING_COLUMNS)
    arrays = ", ".join(["%s::bigint[]", *(f"%s::{_PG_TYPES[name]}[]" for name in PING_COLUMNS)])
    names = ", ".join(["id", *PING_COLUMNS])
    values = [[m.pk for m in monitors]] + [
        [getattr(m, name) for m in monitors] for name in PING_COLUMNS
    ]
    with _pg_cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET {columns} FROM unnest({arrays}) AS u({names}) "  # noqa: S608
            "WHERE m.id = u.id",
            values,
        )


def record_pings(items: Sequence[PingItem]) -> list[int]:
    """Record the pings in one transaction; the HTTP status each request is answered with.

    200 recorded, 201 recorded on a monitor ``?create=1`` made, 404 unknown uuid, key or slug,
    409 ambiguous slug (the ping is ignored), exactly as the one-request path answers.
    """
    with transaction.atomic():
        keys, monitors = _load(items)
        by_uuid = {m.uuid: m for m in monitors}
        by_slug: dict[tuple[int, str], list[Monitor]] = defaultdict(list)
        for monitor in monitors:
            if monitor.slug:
                by_slug[(monitor.organization_id, monitor.slug)].append(monitor)
        counters = {m.pk: m.n_pings for m in monitors}
        touched: dict[int, Monitor] = {}
        starts: dict[tuple[int, uuid.UUID | None], datetime] = {}
        pings: list[tuple[Any, ...]] = []
        changes = []
        answers: list[int] = []
        limit = services.ping_body_limit()
        for item in items:
            target, request = item.target, item.request
            if target.code is not None:
                found = [by_uuid[target.code]] if target.code in by_uuid else []
            else:
                organization_id = keys.get(services.hash_ping_key(target.key))
                if organization_id is None:
                    answers.append(NOT_FOUND)
                    continue
                found = by_slug.get((organization_id, target.slug), [])
                if not found and item.create:
                    services.ping_by_slug(target.key, target.slug, request, create=True, at=item.at)
                    created = (
                        Monitor.objects.select_for_update()
                        .heartbeats()
                        .filter(organization_id=organization_id, slug=target.slug)
                        .order_by("pk")
                        .first()
                    )
                    if created is not None:
                        by_slug[(organization_id, target.slug)] = [created]
                        counters[created.pk] = created.n_pings
                    answers.append(CREATED)
                    continue
            if not found:
                answers.append(NOT_FOUND)
                continue
            if len(found) > 1:
                answers.append(AMBIGUOUS)
                continue
            monitor = found[0]
            started = None
            if needs_start_lookup(monitor, request):
                started = starts.get((monitor.pk, request.rid)) or services.run_started_at(
                    monitor, request, at=item.at
                )
            effect = apply_ping(monitor, request, at=item.at, started_at=started)
            if request.kind == PingKind.START:
                starts[(monitor.pk, request.rid)] = item.at
            touched[monitor.pk] = monitor
            if effect.change is not None:
                changes.append((monitor, effect.change, request.body[:limit]))
            pings.append(
                (
                    monitor.organization_id,
                    monitor.pk,
                    effect.n,
                    item.at,
                    request.kind,
                    request.exit_status,
                    request.remote_addr,
                    request.method[:10],
                    request.user_agent.replace("\x00", "")[:200],
                    services.body_text(request.body[:limit]),
                    request.body_size,
                    request.rid,
                    effect.duration,
                )
            )
            answers.append(OK)
        _insert_pings(pings)
        _update_monitors(list(touched.values()))
        for monitor, change, body in changes:
            services.record_heartbeat_change(monitor, change, message=services.body_text(body))
        _prune(touched.values(), counters)
    return answers


def _prune(monitors: Iterable[Monitor], counters: dict[int, int]) -> None:
    """Delete the pings past the kept number for each monitor whose counter passed a multiple
    of PRUNE_EVERY in this batch, as one ping at a time would have."""
    kept = services.pings_kept()
    terms = [
        Q(monitor_id=m.pk, n__lte=m.n_pings - kept)
        for m in monitors
        if m.n_pings // services.PRUNE_EVERY != counters.get(m.pk, 0) // services.PRUNE_EVERY
        and m.n_pings > kept
    ]
    if terms:
        Ping.objects.filter(functools.reduce(operator.or_, terms)).delete()
