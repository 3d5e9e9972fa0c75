"""SLA compliance per organisation, policy and period: the queries reports build on.

A clock counts in the period in which its outcome was decided: the instant it breached or, if
it never breached, the instant it was met. It is *on time* when it was met without breaching,
*breached* otherwise (whether or not it was met later), so no clock counts in two periods.
Compliance is on-time / (on-time + breached).
Business time to first response and to resolution are the elapsed business time of the first
response and resolution clocks met in the period (median and 90th percentile, nearest-rank).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q

from buttress.sla import clockwork
from buttress.sla.models import SlaClock


def percentile(values: list[timedelta], share: float) -> timedelta | None:
    """Nearest-rank percentile of ``values`` (sorted here); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass
class ClockFigures:
    on_time: int = 0
    breached: int = 0
    met: list[timedelta] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.on_time + self.breached

    @property
    def compliance(self) -> float | None:
        return round(100 * self.on_time / self.decided, 2) if self.decided else None

    @property
    def median(self) -> timedelta | None:
        return percentile(self.met, 0.5)

    @property
    def p90(self) -> timedelta | None:
        return percentile(self.met, 0.9)


@dataclass
class ComplianceRow:
    organization_id: int
    organization: str
    policy_id: int | None
    policy: str
    clocks: dict[str, ClockFigures]

    @property
    def on_time(self) -> int:
        return sum(figures.on_time for figures in self.clocks.values())

    @property
    def breached(self) -> int:
        return sum(figures.breached for figures in self.clocks.values())

    @property
    def compliance(self) -> float | None:
        decided = self.on_time + self.breached
        return round(100 * self.on_time / decided, 2) if decided else None


def compliance(
    *,
    start: datetime,
    end: datetime,
    organizations: Iterable[int] | None = None,
    policy_id: int | None = None,
) -> list[ComplianceRow]:
    """One row per organisation and policy with clocks decided in ``[start, end)``."""
    decided = Q(met_at__gte=start, met_at__lt=end) | Q(breached_at__gte=start, breached_at__lt=end)
    clocks = SlaClock.objects.filter(decided)
    if organizations is not None:
        clocks = clocks.filter(organization_id__in=list(organizations))
    if policy_id is not None:
        clocks = clocks.filter(policy_id=policy_id)
    rows: dict[tuple[int, int | None], ComplianceRow] = {}
    values = clocks.values_list(
        "organization_id",
        "organization__name",
        "policy_id",
        "policy__name",
        "kind",
        "elapsed",
        "breached_at",
        "met_at",
    )
    for org_id, org_name, pol_id, pol_name, kind, elapsed, breached_at, met_at in values.iterator():
        row = rows.get((org_id, pol_id))
        if row is None:
            row = rows[(org_id, pol_id)] = ComplianceRow(
                org_id,
                org_name,
                pol_id,
                pol_name or "(deleted policy)",
                {kind: ClockFigures() for kind in clockwork.CLOCKS},
            )
        figures = row.clocks[kind]
        # The outcome is decided when the clock breaches or, if it never does, when it is met.
        decided_at = breached_at or met_at
        if decided_at is not None and start <= decided_at < end:
            if breached_at is None:
                figures.on_time += 1
            else:
                figures.breached += 1
        met_in_period = met_at is not None and start <= met_at < end
        if met_in_period and kind in (clockwork.FIRST_RESPONSE, clockwork.RESOLUTION):
            figures.met.append(elapsed)
    return sorted(rows.values(), key=lambda r: (r.organization.casefold(), r.policy.casefold()))
