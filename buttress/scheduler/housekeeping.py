"""The jobs behind PeriodicJob rows: small, idempotent upkeep of the database."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django_tasks_db.models import DBTaskResult

from buttress.accounts import services as accounts
from buttress.accounts.models import ApiToken, UserSession
from buttress.lib.timeutil import now
from buttress.scheduler.models import PeriodicJob

logger = logging.getLogger(__name__)

type Job = Callable[[PeriodicJob], str]

# Bounds one run's work; the rest waits for the next run.
MAX_SESSIONS_PER_RUN = 10_000


def prune_task_results(job: PeriodicJob) -> str:
    """Delete finished background-task results past their retention."""
    cutoff = now() - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS)
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return f"deleted {deleted} task results finished before {cutoff:%Y-%m-%d %H:%M}"


def expire_sessions(job: PeriodicJob) -> str:
    """Delete expired browser sessions and the per-user records that list them."""
    expired = Session.objects.filter(expire_date__lt=now()).count()
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    # A listed session whose Django session is gone (expired, or flushed at sign-out) can no
    # longer be used or revoked; keep the list truthful.
    orphaned = list(
        UserSession.objects.exclude(
            session_key__in=Session.objects.values("session_key")
        ).values_list("session_key", flat=True)[:MAX_SESSIONS_PER_RUN]
    )
    for key in orphaned:
        accounts.forget_session(key)
    return f"deleted {expired} expired sessions and {len(orphaned)} session records"


def report_expired_tokens(job: PeriodicJob) -> str:
    """Log the API tokens that expired since the previous run.

    An expired token is refused at authentication already; this makes the expiry visible in
    the logs, where an operator can alert on it.
    """
    moment = now()
    since = job.last_started_at or moment - timedelta(seconds=job.interval_seconds)
    expired = ApiToken.objects.filter(
        revoked_at__isnull=True, expires_at__gt=since, expires_at__lte=moment
    ).select_related("user")
    count = 0
    for token in expired.iterator():
        count += 1
        logger.info(
            "API token %r of %s expired at %s",
            token.name,
            token.user.email,
            token.expires_at,
            extra={"event": "api_token_expired", "token_prefix": token.prefix},
        )
    return f"{count} API tokens expired since {since:%Y-%m-%d %H:%M}"


def probe(job: PeriodicJob) -> str:
    """A canary: its runs show that a scheduler claimed it and a worker ran it."""
    return "ok"


JOBS: dict[str, Job] = {
    "prune_task_results": prune_task_results,
    "expire_sessions": expire_sessions,
    "report_expired_tokens": report_expired_tokens,
    "probe": probe,
}

# The rows every installation has: name -> (job, seconds between runs).
DEFAULT_SCHEDULE: dict[str, tuple[str, int]] = {
    "prune_task_results": ("prune_task_results", 6 * 3600),
    "expire_sessions": ("expire_sessions", 3600),
    "report_expired_tokens": ("report_expired_tokens", 3600),
    "probe": ("probe", 60),
}
