"""The scheduler process: heartbeat, claim due rows of every timer, sleep, repeat."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
from datetime import timedelta
from time import monotonic
from types import FrameType

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from buttress.lib.timeutil import now
from buttress.scheduler import services
from buttress.scheduler.claims import claim_due
from buttress.scheduler.registry import timers

logger = logging.getLogger(__name__)

# How long one timer may keep claiming full batches in one tick before the others' turn.
DRAIN_BUDGET_SECONDS = 5.0
# A heartbeat this old belongs to a scheduler that is surely gone.
FORGET_HEARTBEATS_AFTER = timedelta(days=1)


class Scheduler:
    def __init__(self, *, interval: float | None = None, max_batch: int | None = None) -> None:
        self.interval = settings.SCHEDULER_INTERVAL if interval is None else interval
        self.max_batch = max_batch or settings.SCHEDULER_MAX_BATCH or None
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.name = f"{self.host}:{self.pid}:{secrets.token_hex(4)}"
        self.started_at = now()
        self.loops = 0
        self.claimed = 0
        self.stopping = threading.Event()

    def stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        if signum is not None:
            logger.info("scheduler %s received %s; stopping", self.name, signal.strsignal(signum))
        self.stopping.set()

    def tick(self) -> int:
        """Beat, then claim what is due on every timer. Returns the number of rows claimed."""
        services.beat(
            self.name,
            host=self.host,
            pid=self.pid,
            started_at=self.started_at,
            loops=self.loops,
            claimed=self.claimed,
        )
        claimed = 0
        for timer in timers():
            size = min(self.max_batch or timer.batch, timer.batch)
            started = monotonic()
            # A full batch means more may be due: keep claiming (a backlog such as a mass
            # breach drains at once) until a short batch or the time budget ends it.
            while not self.stopping.is_set():
                count = claim_due(timer, at=now(), limit=self.max_batch)
                if count:
                    logger.debug("claimed %d rows of %s", count, timer.name)
                claimed += count
                # A configured max batch is a cap per tick: no draining then.
                if self.max_batch or count < size or monotonic() - started > DRAIN_BUDGET_SECONDS:
                    break
        self.loops += 1
        self.claimed += claimed
        return claimed

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        logger.info(
            "scheduler %s started; timers: %s",
            self.name,
            ", ".join(t.name for t in timers()) or "none",
        )
        services.forget_stale_heartbeats(older_than=FORGET_HEARTBEATS_AFTER)
        services.ensure_periodic_jobs()
        try:
            while not self.stopping.is_set():
                close_old_connections()
                try:
                    self.tick()
                except DatabaseError:
                    # A restarting database must not kill the loop; the next tick retries.
                    logger.exception("scheduler tick failed")
                self.stopping.wait(self.interval)
        finally:
            try:
                services.stop_beating(self.name)
            except DatabaseError:
                logger.warning("could not remove heartbeat %s", self.name)
            logger.info("scheduler %s stopped after %d loops", self.name, self.loops)
