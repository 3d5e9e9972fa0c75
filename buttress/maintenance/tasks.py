"""The scheduler's maintenance work: the starts and ends of windows' occurrences, and edits
that changed which assets a window covers right now."""

from __future__ import annotations

import logging

from django.tasks import task

from buttress.lib.timeutil import now
from buttress.maintenance import occurrences as engine
from buttress.maintenance.models import CoverageChange, MaintenanceWindow
from buttress.scheduler.claims import holding
from buttress.sla import clocks

logger = logging.getLogger(__name__)

# Edges handled per delivery: a window whose timer was stopped for long catches up in steps,
# each step a fresh delivery (its next edge is already due).
MAX_EDGES_PER_RUN = 100


@task()
def handle_edges(window_id: int, claim: str) -> int:
    """Handle each start and end of an occurrence that has come since the last delivery (SLA
    clocks of tickets on the window's assets pause or resume at that instant), then set the
    timer to the next one. Returns how many edges were handled; 0 for a stale delivery."""
    with holding(MaintenanceWindow, window_id, "edge_due_at", claim) as window:
        if window is None:
            return 0
        at = now()
        try:
            edges = engine.edges_between(
                window.starts_at,
                window.duration,
                window.timezone,
                window.rrule,
                after=window.edges_done_until,
                until=at,
            )
        except engine.TooManyOccurrences:
            logger.warning("maintenance window %s: too many occurrences, timer stopped", window.pk)
            window.edge_due_at = None
            window.save(update_fields=["edge_due_at"])
            return 0
        edges = edges[:MAX_EDGES_PER_RUN]
        asset_ids = list(window.assets.values_list("pk", flat=True)) if window.pause_sla else []
        for edge in edges:
            if asset_ids:
                clocks.assets_maintenance_changed(asset_ids=asset_ids, at=edge)
        if len(edges) == MAX_EDGES_PER_RUN:
            window.edges_done_until = edges[-1]
        else:
            window.edges_done_until = at
        try:
            window.edge_due_at = window.next_edge(window.edges_done_until)
        except engine.TooManyOccurrences:
            window.edge_due_at = None
        window.save(update_fields=["edges_done_until", "edge_due_at"])
        return len(edges)


@task()
def apply_coverage_change(change_id: int, claim: str) -> bool:
    """Bring the SLA clocks of the assets an edit put under or took out of maintenance up to
    date; False for a stale or duplicate delivery."""
    with holding(CoverageChange, change_id, "due_at", claim) as change:
        if change is None:
            return False
        clocks.assets_maintenance_changed(asset_ids=change.asset_ids, at=change.at)
        change.delete()
        return True
