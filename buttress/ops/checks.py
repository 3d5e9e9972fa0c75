"""Readiness checks shared by /readyz and `buttress check`."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from buttress.lib.timeutil import now
from buttress.scheduler.services import latest_heartbeat


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database(alias: str = "default") -> Check:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return Check("database", ok=False, detail=_first_line(exc))
    return Check("database", ok=True, detail="reachable")


def check_migrations(alias: str = "default") -> Check:
    try:
        executor = MigrationExecutor(connections[alias])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return Check("migrations", ok=False, detail=_first_line(exc))
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        more = f" and {len(plan) - 5} more" if len(plan) > 5 else ""
        return Check("migrations", ok=False, detail=f"{len(plan)} unapplied: {names}{more}")
    return Check("migrations", ok=True, detail="all applied")


def check_scheduler() -> Check:
    try:
        beat = latest_heartbeat()
    except DatabaseError as exc:
        return Check("scheduler", ok=False, detail=_first_line(exc))
    if beat is None:
        return Check("scheduler", ok=False, detail="no scheduler has reported")
    age = (now() - beat.seen_at).total_seconds()
    if age > settings.SCHEDULER_STALE_AFTER:
        return Check(
            "scheduler",
            ok=False,
            detail=f"last heartbeat {age:.0f}s ago (limit {settings.SCHEDULER_STALE_AFTER}s)",
        )
    return Check("scheduler", ok=True, detail=f"{beat.name} seen {age:.0f}s ago")


def readiness() -> list[Check]:
    database = check_database()
    if not database.ok:
        skipped = "skipped: database unreachable"
        return [
            database,
            Check("migrations", ok=False, detail=skipped),
            Check("scheduler", ok=False, detail=skipped),
        ]
    return [database, check_migrations(), check_scheduler()]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
