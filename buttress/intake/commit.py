"""Group commit: requests that arrive within a few milliseconds are written in one transaction.

A :class:`Committer` owns one thread and that thread's Django database connection. The event
loop hands it items with :meth:`Committer.submit` and awaits the answer; the thread takes what
has queued (waiting at most ``window`` seconds after the oldest item for more to join, or
until ``max_batch`` are waiting), writes them with one call of ``write`` (one transaction)
and only then answers each awaiting request. While a batch is being written the next one
gathers, so under load the batches grow by themselves and the cost per request falls.

If a batch fails (a deadlock, a lost connection), each of its items is written again alone,
so one bad item cannot fail the others; an item that still fails is answered with
:data:`UNAVAILABLE` (the transports say 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

from django.db import DatabaseError, close_old_connections, connection

logger = logging.getLogger(__name__)


class Unavailable:
    """The database could not take the item; the client should retry."""

    def __repr__(self) -> str:
        return "UNAVAILABLE"


UNAVAILABLE: Final = Unavailable()


class Committer[Item, Answer]:
    def __init__(
        self,
        write: Callable[[Sequence[Item]], list[Answer]],
        *,
        name: str,
        window: float = 0.002,
        max_batch: int = 500,
        pumped: bool = False,
    ) -> None:
        self._write = write
        # Pumped: no thread of its own; whoever calls pump() writes what has queued, on its
        # own thread and connection (tests, inside the test's transaction).
        self.pumped = pumped
        self.name = name
        self.window = window
        self.max_batch = max_batch
        self._queue: deque[tuple[Item, asyncio.Future[Answer | Unavailable], float]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"intake-{name}", daemon=True)
        self.batches = 0
        self.items = 0
        self.cpu_seconds = 0.0  # the writer thread's CPU time spent writing batches

    def start(self) -> None:
        if not self.pumped:
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        if self.pumped:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        logger.info("intake %s: %s", self.name, self.describe())

    def describe(self) -> str:
        if not self.items:
            return "nothing written"
        return (
            f"{self.items} written in {self.batches} batches ({self.items / self.batches:.1f} "
            f"a batch), {self.cpu_seconds * 1000 / self.items:.3f} ms writer CPU each"
        )

    async def submit(self, item: Item) -> Answer | Unavailable:
        future: asyncio.Future[Answer | Unavailable] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._queue.append((item, future, time.monotonic()))
        self._wake.set()
        return await future

    def pump(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for items, then write what has queued, here."""
        if self._wake.wait(timeout):
            self._wake.clear()
            while self._queue:
                self._commit(self._take())

    def _take(self) -> list[tuple[Item, asyncio.Future[Answer | Unavailable], float]]:
        with self._lock:
            count = min(len(self._queue), self.max_batch)
            return [self._queue.popleft() for _ in range(count)]

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                while self._queue:
                    oldest = self._queue[0][2]
                    # Let more requests join, unless the oldest has waited long enough already
                    # (it queued while the previous batch was written) or the batch is full.
                    pause = oldest + self.window - time.monotonic()
                    if pause > 0 and len(self._queue) < self.max_batch and not self._stopping:
                        time.sleep(pause)
                    self._commit(self._take())
                if self._stopping and not self._queue:
                    return
        finally:
            connection.close()

    def _commit(
        self, taken: list[tuple[Item, asyncio.Future[Answer | Unavailable], float]]
    ) -> None:
        answers = self._write_safely([item for item, _, _ in taken])
        # One wake-up of each waiting event loop for the whole batch: a call_soon_threadsafe
        # per request would write to the loop's self-pipe and wake it once per request.
        by_loop: dict[asyncio.AbstractEventLoop, list[_Settled[Answer | Unavailable]]] = {}
        for (_, future, _), answer in zip(taken, answers, strict=True):
            by_loop.setdefault(future.get_loop(), []).append((future, answer))
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle, settled)

    def _write_safely(self, items: list[Item]) -> Sequence[Answer | Unavailable]:
        began = time.thread_time()
        try:
            return self._write_guarded(items)
        finally:
            self.cpu_seconds += time.thread_time() - began

    def _write_guarded(self, items: list[Item]) -> Sequence[Answer | Unavailable]:
        answers: Sequence[Answer | Unavailable]
        try:
            answers = self._write(items)
        except DatabaseError:
            logger.warning(
                "intake %s: a batch of %d failed; writing one by one",
                self.name,
                len(items),
                exc_info=True,
            )
            close_old_connections()
            answers = [self._alone(item) for item in items]
        except Exception:
            # A fault in the code, not in the data: every client of the batch must still be
            # answered, or it would wait for ever.
            logger.exception("intake %s: a batch of %d could not be written", self.name, len(items))
            answers = [UNAVAILABLE] * len(items)
        self.batches += 1
        self.items += len(items)
        return answers

    def _alone(self, item: Item) -> Answer | Unavailable:
        try:
            return self._write([item])[0]
        except Exception:
            logger.warning("intake %s: an item failed alone", self.name, exc_info=True)
            close_old_connections()
            return UNAVAILABLE


type _Settled[T] = tuple[asyncio.Future[T], T]


def _settle[T](settled: list[_Settled[T]]) -> None:
    for future, answer in settled:
        if not future.done():  # the client may have gone and its handler been cancelled
            future.set_result(answer)
