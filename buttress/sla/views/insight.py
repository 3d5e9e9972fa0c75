"""The simulator ("with this policy, when is each target due?") and the compliance report."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from buttress.lib.timeutil import now
from buttress.sla import access, replay, reports
from buttress.sla.calendar import NoBusinessTime
from buttress.sla.clocks import human_duration
from buttress.sla.forms import ReportForm, SimulatorForm
from buttress.tenancy.access import organizations_for
from buttress.web.forms import add_service_errors
from buttress.web.users import current_user


def _minutes(value: timedelta | None) -> str:
    return human_duration(int(value.total_seconds())) if value is not None else "—"


@login_required
def simulator(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_read(user)
    policies = list(access.policies_for(user).select_related("calendar").order_by("name", "id"))
    form = SimulatorForm(request.GET if "policy" in request.GET else None, policies=policies)
    result: dict[str, Any] | None = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            steps = replay.check_history(data["history"], created_at=data["created_at"])
            machine, projection = replay.simulate(
                data["policy"],
                created_at=data["created_at"],
                priority=data["priority"],
                steps=steps,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except NoBusinessTime as exc:
            form.add_error(None, str(exc))
        else:
            zone = data["policy"].calendar.timezone
            result = {
                "zone": zone,
                "transitions": machine.transitions,
                "clocks": [
                    {
                        "projection": p,
                        "elapsed": _minutes(p.elapsed),
                        "target": _minutes(p.target),
                    }
                    for p in projection
                ],
            }
    context = {"form": form, "result": result, "policies": policies}
    return render(request, "sla/simulator.html", context)


def _default_period() -> tuple[date, date]:
    today = now().date()
    return today.replace(day=1), today


@login_required
def report(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    access.require_read(user)
    organizations = list(organizations_for(user).only("id", "name").order_by("name"))
    policies = list(access.policies_for(user).only("id", "name").order_by("name", "id"))
    start, end = _default_period()
    data = request.GET if "start" in request.GET else {"start": start, "end": end}
    form = ReportForm(data, organizations=organizations, policies=policies)
    rows: list[reports.ComplianceRow] = []
    if form.is_valid():
        cleaned = form.cleaned_data
        wanted = [org.pk for org in organizations]
        if cleaned.get("organization"):
            wanted = [pk for pk in wanted if str(pk) == cleaned["organization"]]
        rows = reports.compliance(
            start=datetime.combine(cleaned["start"], time(0), tzinfo=UTC),
            end=datetime.combine(cleaned["end"] + timedelta(days=1), time(0), tzinfo=UTC),
            organizations=wanted,
            policy_id=int(cleaned["policy"]) if cleaned.get("policy") else None,
        )
    table = [
        {
            "row": row,
            "clocks": [
                (kind, figures, _minutes(figures.median), _minutes(figures.p90))
                for kind, figures in row.clocks.items()
            ],
        }
        for row in rows
    ]
    return render(request, "sla/report.html", {"form": form, "table": table})
