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
4. on PostgreSQL one statement writes everything else: the pings (an INSERT from arrays), the
   monitors (an UPDATE from arrays) and, per monitor whose counter passed a multiple of
   ``PRUNE_EVERY``, the old pings (a DELETE); on SQLite a multi-row INSERT, an UPDATE and a
   DELETE;
5. per status change, the same service call the one-request path makes.

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
from django.db.models import DEFERRED, Q

from buttress.monitoring import services
from buttress.monitoring.models import Monitor, MonitorKind, Ping, PingKey, PingKind
from buttress.monitoring.pinging import (
    PingRequest,
    PingTarget,
    StatusChange,
    apply_ping,
    needs_start_lookup,
)

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


# The Ping columns written (the primary key is the database's), with their PostgreSQL types.
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
_PG_PING_TYPES = (
    "bigint",
    "bigint",
    "bigint",
    "timestamptz",
    "varchar",
    "smallint",
    "inet",
    "varchar",
    "varchar",
    "text",
    "integer",
    "uuid",
    "interval",
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
    if not codes and not slugs:
        return keys, []
    if connection.vendor == "postgresql":
        return keys, _lock_pg(codes, slugs)
    terms = [Q(uuid__in=codes)] if codes else []
    terms += [Q(organization_id=org, slug__in=names) for org, names in slugs.items()]
    monitors = list(
        Monitor.objects.select_for_update()
        .heartbeats()
        .filter(functools.reduce(operator.or_, terms))
        .only(*LOADED)
        .order_by("pk")
    )
    return keys, monitors


@functools.cache
def _lock_statement(by_code: bool, by_slug: bool) -> tuple[str, list[int], list[str]]:
    """The ``SELECT ... FOR UPDATE`` of the named heartbeat monitors, where each of its
    columns goes among the model's concrete fields, and those fields' attribute names."""
    wanted = {"id", *LOADED}
    fields = Monitor._meta.concrete_fields
    positions = [index for index, f in enumerate(fields) if f.attname in wanted]
    quote = connection.ops.quote_name
    terms = []
    if by_code:
        terms.append("uuid = ANY(%(codes)s)")
    if by_slug:
        terms.append(
            "(organization_id, slug) IN "
            "(SELECT * FROM unnest(%(orgs)s::bigint[], %(slugs)s::varchar[]))"
        )
    columns = ", ".join(quote(fields[index].column or fields[index].attname) for index in positions)
    statement = (
        f"SELECT {columns} FROM {quote(Monitor._meta.db_table)} "  # noqa: S608
        f"WHERE kind = %(kind)s AND ({' OR '.join(terms)}) ORDER BY id FOR UPDATE"
    )
    return statement, positions, [f.attname for f in fields]


def _lock_pg(codes: set[uuid.UUID], slugs: dict[int, set[str]]) -> list[Monitor]:
    """The monitors locked as ``select_for_update().heartbeats().only(*LOADED)`` locks them,
    without the ORM's cost of compiling that query for every batch."""
    statement, positions, names = _lock_statement(bool(codes), bool(slugs))
    pairs = [(org, slug) for org, named in slugs.items() for slug in named]
    with _pg_cursor() as cursor:
        cursor.execute(
            statement,
            {
                "kind": MonitorKind.HEARTBEAT.value,
                "codes": list(codes),
                "orgs": [org for org, _ in pairs],
                "slugs": [slug for _, slug in pairs],
            },
        )
        rows = cursor.fetchall()
    # A value for every concrete field, the columns not read DEFERRED (loaded if touched), as
    # the ORM's only() builds them; given whole, from_db need not place each value itself.
    template = [DEFERRED] * len(Monitor._meta.concrete_fields)
    monitors = []
    for row in rows:
        values = template.copy()
        for index, value in zip(positions, row, strict=True):
            values[index] = value
        monitors.append(Monitor.from_db(connection.alias, names, values))
    return monitors


def _pg_cursor() -> Any:
    """A psycopg cursor binding parameters on the server, on Django's connection (and in its
    transaction): arrays go over in binary instead of being quoted into SQL text in Python,
    which Django's client-side binding would cost per value."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _write_pg(
    pings: list[tuple[Any, ...]], monitors: list[Monitor], cutoffs: dict[int, int]
) -> None:
    """One statement: INSERT the pings (rows in PING_INSERT's order), UPDATE the monitors'
    PING_COLUMNS and DELETE each monitor's pings numbered up to ``cutoffs[monitor id]``.

    The parts of one statement share one snapshot, so the DELETE does not see the rows the
    INSERT adds: the caller leaves out of ``pings`` those it would have deleted.
    """
    quote = connection.ops.quote_name
    ping_table = quote(Ping._meta.db_table)
    parts: list[str] = []
    params: list[Any] = []
    if monitors:
        columns = ", ".join(f"{name} = u.{name}" for name in PING_COLUMNS)
        arrays = ", ".join(["%s::bigint[]", *(f"%s::{_PG_TYPES[name]}[]" for name in PING_COLUMNS)])
        names = ", ".join(["id", *PING_COLUMNS])
        parts.append(
            f"UPDATE {quote(Monitor._meta.db_table)} AS m SET {columns} "  # noqa: S608
            f"FROM unnest({arrays}) AS u({names}) WHERE m.id = u.id"
        )
        params.append([m.pk for m in monitors])
        params += [[getattr(m, name) for m in monitors] for name in PING_COLUMNS]
    if pings:
        arrays = ", ".join(f"%s::{kind}[]" for kind in _PG_PING_TYPES)
        parts.append(
            f"INSERT INTO {ping_table} ({', '.join(PING_INSERT)}) "  # noqa: S608
            f"SELECT * FROM unnest({arrays})"
        )
        params += [list(column) for column in zip(*pings, strict=True)]
    if cutoffs:
        parts.append(
            f"DELETE FROM {ping_table} AS p "  # noqa: S608
            "USING unnest(%s::bigint[], %s::bigint[]) AS c(monitor_id, n) "
            "WHERE p.monitor_id = c.monitor_id AND p.n <= c.n"
        )
        params += [list(cutoffs), list(cutoffs.values())]
    if not parts:
        return
    ctes = [f"w{index} AS ({part})" for index, part in enumerate(parts[:-1])]
    statement = (f"WITH {', '.join(ctes)} " if ctes else "") + parts[-1]
    with _pg_cursor() as cursor:
        cursor.execute(statement, params)


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
        changes: list[tuple[Monitor, StatusChange, bytes]] = []
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
        cutoffs = _cutoffs(touched.values(), counters)
        if connection.vendor == "postgresql":
            if cutoffs:
                pings = [p for p in pings if p[1] not in cutoffs or p[2] > cutoffs[p[1]]]
            _write_pg(pings, list(touched.values()), cutoffs)
            _record_changes(changes)
        else:
            if pings:
                Ping.objects.bulk_create(
                    Ping(**dict(zip(PING_INSERT, row, strict=True))) for row in pings
                )
            if touched:
                Monitor.objects.bulk_update(list(touched.values()), list(PING_COLUMNS))
            _record_changes(changes)
            if cutoffs:
                Ping.objects.filter(
                    functools.reduce(
                        operator.or_,
                        (Q(monitor_id=pk, n__lte=n) for pk, n in cutoffs.items()),
                    )
                ).delete()
    return answers


def _record_changes(changes: Iterable[tuple[Monitor, StatusChange, bytes]]) -> None:
    for monitor, change, body in changes:
        services.record_heartbeat_change(monitor, change, message=services.body_text(body))


def _cutoffs(monitors: Iterable[Monitor], counters: dict[int, int]) -> dict[int, int]:
    """By monitor id, the newest ping number to delete, for each monitor whose counter passed
    a multiple of PRUNE_EVERY in this batch, as one ping at a time would have deleted."""
    kept = services.pings_kept()
    return {
        m.pk: m.n_pings - kept
        for m in monitors
        if m.n_pings // services.PRUNE_EVERY != counters.get(m.pk, 0) // services.PRUNE_EVERY
        and m.n_pings > kept
    }
