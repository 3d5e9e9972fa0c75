from datetime import timedelta

from buttress.maintenance.models import CoverageChange, MaintenanceWindow
from buttress.maintenance.tasks import apply_coverage_change, handle_edges
from buttress.scheduler.registry import Timer, register

# A short lease: SLA clocks should pause and resume within a minute or two of the edge.
register(
    Timer(
        "maintenance.edge",
        MaintenanceWindow,
        "edge_due_at",
        handle_edges,
        lease=timedelta(minutes=2),
    )
)
register(
    Timer(
        "maintenance.coverage",
        CoverageChange,
        "due_at",
        apply_coverage_change,
        lease=timedelta(minutes=2),
    )
)
