"""Prometheus metrics: per-request counters in the web process, state read at scrape time.

With several gunicorn workers each process writes its request metrics to files under
PROMETHEUS_MULTIPROC_DIR and a scrape sums them; the state collector reads the database, so
whichever worker answers the scrape reports the same figures.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Max, Min
from django_tasks_db.models import DBTaskResult
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from buttress.lib.timeutil import now
from buttress.scheduler.models import PeriodicJob, SchedulerHeartbeat
from buttress.scheduler.registry import timers

logger = logging.getLogger(__name__)

REQUEST_LABELS = ("method", "route", "status")
REQUESTS = Counter(
    "buttress_http_requests",
    "HTTP requests answered, by method, URL pattern and status.",
    REQUEST_LABELS,
    registry=None,
)
LATENCY = Histogram(
    "buttress_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, URL pattern and status.",
    REQUEST_LABELS,
    registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Methods outside this set are folded together so a client cannot invent label values.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    labels = (method if method in KNOWN_METHODS else "OTHER", route, str(status))
    REQUESTS.labels(*labels).inc()
    LATENCY.labels(*labels).observe(seconds)


class StateCollector:
    """Queue depth, scheduler lag and heartbeat age, computed when Prometheus scrapes."""

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "buttress_state_collector_up",
            "1 if the database could be read for this scrape's state metrics.",
        )
        try:
            metrics = [*self._queues(), *self._scheduler(), *self._periodic_jobs()]
        except DatabaseError:
            logger.warning("metrics: could not read state from the database", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _queues(self) -> list[Metric]:
        depth = GaugeMetricFamily(
            "buttress_task_queue_depth", "Background tasks waiting to run.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "buttress_task_queue_oldest_age_seconds",
            "How long the oldest waiting background task has waited.",
            labels=["queue"],
        )
        for queue, count, oldest in _queue_state():
            depth.add_metric([queue], count)
            age.add_metric([queue], oldest)
        return [depth, age]

    def _scheduler(self) -> list[Metric]:
        moment = now()
        lag = GaugeMetricFamily(
            "buttress_scheduler_lag_seconds",
            "How long the most overdue row of a timer has been due (0 when none is due).",
            labels=["timer"],
        )
        due = GaugeMetricFamily(
            "buttress_scheduler_due_rows", "Rows of a timer that are due now.", labels=["timer"]
        )
        for timer in timers():
            field = timer.due_field
            state = (
                timer.model._default_manager.filter(timer.condition, **{f"{field}__lte": moment})
                .order_by()
                .aggregate(oldest=Min(field), count=Count("pk"))
            )
            oldest = state["oldest"]
            lag.add_metric([timer.name], (moment - oldest).total_seconds() if oldest else 0.0)
            due.add_metric([timer.name], state["count"])
        metrics: list[Metric] = [lag, due]
        fresh_since = moment - timedelta(seconds=settings.SCHEDULER_STALE_AFTER)
        beats = SchedulerHeartbeat.objects.order_by().aggregate(latest=Max("seen_at"))
        alive = GaugeMetricFamily(
            "buttress_schedulers_alive",
            "Schedulers whose heartbeat is fresher than SCHEDULER_STALE_AFTER.",
            value=SchedulerHeartbeat.objects.filter(seen_at__gte=fresh_since).count(),
        )
        metrics.append(alive)
        if beats["latest"] is not None:
            metrics.append(
                GaugeMetricFamily(
                    "buttress_scheduler_heartbeat_age_seconds",
                    "Seconds since the freshest scheduler heartbeat.",
                    value=(moment - beats["latest"]).total_seconds(),
                )
            )
        return metrics

    def _periodic_jobs(self) -> list[Metric]:
        finished = GaugeMetricFamily(
            "buttress_periodic_job_last_finished_timestamp_seconds",
            "When a housekeeping job last finished (Unix time).",
            labels=["job"],
        )
        failing = GaugeMetricFamily(
            "buttress_periodic_job_failing",
            "1 if a housekeeping job's last run failed.",
            labels=["job"],
        )
        rows = PeriodicJob.objects.values_list("name", "last_finished_at", "last_error")
        for name, last_finished_at, last_error in rows[:1000]:
            if last_finished_at is not None:
                finished.add_metric([name], last_finished_at.timestamp())
            failing.add_metric([name], 1 if last_error else 0)
        return [finished, failing]


def _queue_state() -> list[tuple[str, int, float]]:
    """(queue, waiting tasks, age of the oldest in seconds) for each configured queue."""
    moment = now()
    if settings.TASK_BACKEND == "db":
        found = {
            row["queue_name"]: (row["count"], row["oldest"])
            for row in DBTaskResult.objects.ready()
            .order_by()
            .values("queue_name")
            .annotate(count=Count("id"), oldest=Min("enqueued_at"))
        }
        state = []
        for queue in sorted({*settings.TASK_QUEUES, *found}):
            count, oldest = found.get(queue, (0, None))
            state.append((queue, count, (moment - oldest).total_seconds() if oldest else 0.0))
        return state
    if settings.TASK_BACKEND == "rq":
        return [_rq_queue_state(queue, moment.timestamp()) for queue in settings.TASK_QUEUES]
    return []


def _rq_queue_state(queue_name: str, moment: float) -> tuple[str, int, float]:
    import django_rq

    queue: Any = django_rq.get_queue(queue_name)
    count = int(queue.count)
    oldest = 0.0
    if count:
        job_ids = queue.get_job_ids(0, 1)
        job = queue.fetch_job(job_ids[0]) if job_ids else None
        if job is not None and job.enqueued_at is not None:
            enqueued = job.enqueued_at
            if enqueued.tzinfo is None:
                enqueued = enqueued.replace(tzinfo=now().tzinfo)
            oldest = max(0.0, moment - enqueued.timestamp())
    return queue_name, count, oldest


def exposition() -> bytes:
    """The Prometheus text for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(StateCollector())
    return generate_latest(registry)
