"""Notification latency benchmark: from an alert accepted to the notification handed to its
channel, with a real worker and scheduler running.

Target: p99 under 5 seconds from the alert accepted to the first notification handed to its
channel.

What is timed, each event on its own (the next starts once the previous arrived), with a
random pause of 0-300 ms between events so they do not fall into step with the worker's poll:

* ``alert -> channel``: an Alertmanager delivery is recorded and its processing queued exactly
  as the ``/hooks/alertmanager`` endpoint does (``record_delivery`` + ``enqueue_processing``,
  one transaction); the worker processes it into a new incident ticket, whose creation fans out
  (on commit) to the subscribed agent's notification, which the worker hands to Apprise, which
  POSTs it to a loopback receiver. The clock stops when the receiver has the request.
* ``notify_user -> channel``: ``notify_user`` called directly (one worker hop).
* (first, three of each not counted: a worker's first notification loads Apprise's plugins)
* baseline ``direct Apprise send``: the same Apprise URL called from this process, no queue:
  what the channel itself costs.

    .venv/bin/python bench/notify_latency.py                # 100 events of each kind
    .venv/bin/python bench/notify_latency.py --events 20    # a quick check
    .venv/bin/python bench/notify_latency.py --events 50 --flood 40   # under an alert storm
    .venv/bin/python bench/notify_latency.py --events 50 --flood 40 --busy-deliveries 0

With ``--flood N`` a thread records N Alertmanager deliveries a second (10 new alerts each,
one group per storm integration) from ``--storms`` other integrations, starting
``--flood-lead`` seconds before the measured events, which is more than one worker
processes: the backlog grows while the events are timed. ``--busy-deliveries 0`` turns off
the lower priority of a flooding integration's processing (the baseline of that run).

It creates its own database (``bench_notify_latency`` by default), migrates it, starts
``buttress worker`` and ``buttress scheduler`` against it, and drops it at the end (``--keep``
leaves it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_notify_latency"
TARGET_P99_SECONDS = 5.0
WAIT_SECONDS = 30.0
WARM_UP = 3
WARM_UP_OFFSET = 1_000_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--events", type=int, default=100, help="events of each kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--flood",
        type=float,
        default=0.0,
        help="while measuring, deliveries a second (10 alerts each) from storm integrations",
    )
    parser.add_argument("--storms", type=int, default=8, help="integrations the flood comes from")
    parser.add_argument(
        "--flood-lead", type=float, default=30.0, help="seconds the flood runs before measuring"
    )
    parser.add_argument(
        "--busy-deliveries",
        type=int,
        default=None,
        help="BUTTRESS_ALERTS_BUSY_DELIVERIES for the worker (0: storms are never busy)",
    )
    args = parser.parse_args()
    if args.flood < 0 or args.storms < 1 or args.flood_lead < 0:
        parser.error("--flood and --flood-lead must not be negative, --storms at least 1")
    if "bench" not in urlsplit(args.database_url).path:
        parser.error("--database-url must name a database with 'bench' in its name")
    if not 1 <= args.events <= 10_000:
        parser.error("--events must be between 1 and 10000")
    return args


def configure_environment(database_url: str) -> dict[str, str]:
    data_dir = ROOT / "var" / "bench"
    (data_dir / "static").mkdir(parents=True, exist_ok=True)
    env = {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "buttress.settings",
        "BUTTRESS_DATA_DIR": str(data_dir),
        "BUTTRESS_DEBUG": "0",
        "BUTTRESS_LOG_LEVEL": "WARNING",
        "BUTTRESS_TASK_BACKEND": "db",
        "BUTTRESS_DESK_MAIL_REQUESTERS": "0",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def _maintenance(database_url: str) -> tuple[str, str]:
    url = urlsplit(database_url)
    return url._replace(path="/postgres").geturl(), url.path.lstrip("/")


def recreate_database(database_url: str, *, drop_only: bool = False) -> None:
    import psycopg
    from psycopg import sql

    maintenance, name = _maintenance(database_url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class Arrivals:
    """Wall-clock arrival times and bodies of the requests the loopback receiver got."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.bodies: list[bytes] = []
        self.changed = threading.Condition()

    def add(self, at: float, body: bytes) -> None:
        with self.changed:
            self.times.append(at)
            self.bodies.append(body)
            self.changed.notify_all()

    def wait_for(self, marker: str, since: int, timeout: float) -> float | None:
        """The arrival time of the first request after number ``since`` whose body holds
        ``marker`` (others, such as a storm's own incident notifications, are passed over),
        or None after ``timeout``."""
        needle = marker.encode()
        deadline = time.monotonic() + timeout
        seen = since
        with self.changed:
            while True:
                while seen < len(self.times):
                    if needle in self.bodies[seen]:
                        return self.times[seen]
                    seen += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(left)


@contextmanager
def receiver() -> Iterator[tuple[int, Arrivals]]:
    arrivals = Arrivals()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            at = time.time()
            arrivals.add(at, self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], arrivals
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def processes(env: dict[str, str], logs: Path) -> Iterator[None]:
    logs.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen[bytes]] = []
    try:
        for kind in ("worker", "scheduler"):
            log = (logs / f"notify-{kind}.log").open("wb")
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "buttress.cli", kind],
                    env={**os.environ, **env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        yield
    finally:
        for process in started:
            os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure(
    label: str,
    events: int,
    arrivals: Arrivals,
    fire: Callable[[int], str],
    rng: random.Random,
) -> list[float]:
    """Fire ``events`` events one after another; each ``fire(i)`` returns the marker its
    notification carries, and the clock runs until a notification with it arrives."""
    latencies: list[float] = []
    lost = 0
    for i in range(events):
        time.sleep(rng.uniform(0, 0.3))
        before = len(arrivals.times)
        started = time.time()
        marker = fire(i)
        arrived = arrivals.wait_for(marker, before, WAIT_SECONDS)
        if arrived is None:
            lost += 1
            continue
        latencies.append(arrived - started)
    if lost:
        print(f"{label}: {lost} of {events} events did not arrive within {WAIT_SECONDS:.0f}s")
    return latencies


def summary(label: str, values: list[float]) -> dict[str, Any]:
    return {
        "label": label,
        "count": len(values),
        "p50_ms": statistics.median(values) * 1000 if values else None,
        "p99_ms": percentile(values, 0.99) * 1000 if values else None,
        "max_ms": max(values) * 1000 if values else None,
        "in_order_ms": [round(v * 1000, 1) for v in values],
    }


def main() -> int:
    args = parse_args()
    if args.busy_deliveries is not None:
        # Read where deliveries are recorded: in this process, before Django is set up.
        os.environ["BUTTRESS_ALERTS_BUSY_DELIVERIES"] = str(args.busy_deliveries)
    env = configure_environment(args.database_url)
    recreate_database(args.database_url)
    try:
        return run(args, env)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print("database kept (--keep)")
        else:
            recreate_database(args.database_url, drop_only=True)
            print("database dropped")


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from buttress.accounts.models import Role, User
    from buttress.alerts import tasks as alert_tasks
    from buttress.alerts.services import ingest
    from buttress.alerts.services.integrations import create_integration
    from buttress.notify import channels
    from buttress.notify.services import people, sending
    from buttress.tenancy.models import Organization

    def queued_processing() -> int:
        from buttress.alerts.models import Delivery

        return Delivery.objects.filter(processed_at__isnull=True).count()

    call_command("migrate", interactive=False, verbosity=0)
    rng = random.Random(args.seed)
    org = Organization.objects.create(name="Bench notify", slug="bench-notify")
    agent = User.objects.create_user(
        email="bench-notify@buttress.example", password=None, role=Role.AGENT
    )
    issued = create_integration(org, actor=None, name="Bench", kind="alertmanager")
    integration = issued.integration

    with receiver() as (port, arrivals):
        url = f"json://127.0.0.1:{port}/notify"
        method = people.add_contact_method(
            agent, actor=None, kind="apprise", label="Bench", target=url
        )
        people.add_rule(agent, actor=None, method=method)
        people.set_subscriptions(actor=None, user=agent, events=["new_ticket"], scope="all")

        def direct(i: int) -> str:
            channels.send_apprise(url, f"direct mark{i}x", "body")
            return f"mark{i}x"

        def notify(i: int) -> str:
            sending.notify_user(agent, subject=f"notify mark{i}x", body="body")
            return f"mark{i}x"

        def send(to: Any, group: str, names: list[str]) -> None:
            body = {
                "version": "4",
                "groupKey": group,
                "status": "firing",
                "receiver": "buttress",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": name, "severity": "critical"},
                        "annotations": {"summary": f"{name} is down"},
                        "startsAt": "2026-11-27T10:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                    }
                    for name in names
                ],
            }
            with transaction.atomic():
                delivery = ingest.record_delivery(
                    to, body=json.dumps(body), content_type="application/json"
                )
                alert_tasks.enqueue_processing(delivery)

        def alert(i: int) -> str:
            send(integration, f"bench-{i}", [f"mark{i}x"])
            return f"mark{i}x"

        storms = [
            create_integration(org, actor=None, name=f"Storm {n}", kind="alertmanager").integration
            for n in range(args.storms if args.flood else 0)
        ]
        stop_flood = threading.Event()
        flooded = [0]

        def flood() -> None:
            """``args.flood`` deliveries a second of 10 new alerts each, round-robin over the
            storm integrations, each storm one group (one incident, made before measuring)."""
            from django.db import connection

            interval = 1.0 / args.flood
            due = time.monotonic()
            try:
                while not stop_flood.is_set():
                    n = flooded[0]
                    storm = storms[n % len(storms)]
                    names = [f"Storm{storm.pk}-{n}-{k}" for k in range(10)]
                    # Over the storm's flood limit: refused, as a real sender would be.
                    with contextlib.suppress(ingest.RateLimited):
                        send(storm, f"storm-{storm.pk}", names)
                    flooded[0] = n + 1
                    due += interval
                    pause = due - time.monotonic()
                    if pause > 0:
                        stop_flood.wait(pause)
            finally:
                connection.close()

        baseline = measure("direct Apprise send", args.events, arrivals, direct, rng)
        with processes(env, ROOT / "var" / "bench"):
            time.sleep(2.0)  # the worker and scheduler start
            # Not counted: a worker's first notification loads Apprise's ~190 plugins (about
            # 2-3 s) and its first alert warms the alert path; later ones are what is measured.
            # Warm-up alerts have groups of their own: reusing a group key would add to an
            # open incident instead of opening one.
            measure("warm-up", WARM_UP, arrivals, notify, rng)
            measure("warm-up", WARM_UP, arrivals, lambda i: alert(WARM_UP_OFFSET + i), rng)
            for storm in storms:  # each storm's incident opens (and notifies) before the clock
                send(storm, f"storm-{storm.pk}", [f"Storm{storm.pk}-open"])
            flooder = threading.Thread(target=flood, daemon=True)
            if storms:
                flooder.start()
                time.sleep(args.flood_lead)
                print(
                    f"flood: {args.flood} deliveries/s of 10 alerts over {len(storms)} "
                    f"integrations, {args.flood_lead:.0f} s ahead; "
                    f"backlog at the start: {queued_processing()} deliveries"
                )
            try:
                one_hop = measure("notify_user -> channel", args.events, arrivals, notify, rng)
                full = measure("alert -> channel", args.events, arrivals, alert, rng)
            finally:
                stop_flood.set()
                if storms:
                    flooder.join(10)
            if storms:
                print(
                    f"flood: {flooded[0]} deliveries sent; backlog at the end: "
                    f"{queued_processing()} deliveries"
                )

    rows = [
        summary("baseline: direct Apprise send", baseline),
        summary("notify_user -> channel", one_hop),
        summary("alert accepted -> channel", full),
    ]
    base_p50 = rows[0]["p50_ms"] or 1.0
    print(f"{'path':34} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'p50 ratio':>10}")
    for row in rows:
        if row["count"] == 0:
            print(f"{row['label']:34} {0:>5} (nothing arrived)")
            continue
        print(
            f"{row['label']:34} {row['count']:>5} {row['p50_ms']:>9.1f} {row['p99_ms']:>9.1f} "
            f"{row['max_ms']:>9.1f} {row['p50_ms'] / base_p50:>9.1f}x"
        )
    p99 = rows[2]["p99_ms"]
    complete = rows[2]["count"] == args.events
    ok = complete and p99 is not None and p99 < TARGET_P99_SECONDS * 1000
    print(
        f"target: alert accepted -> channel p99 under {TARGET_P99_SECONDS:.0f} s: "
        + ("PASS" if ok else "FAIL")
    )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "notify_latency.json").write_text(json.dumps({"rows": rows, "pass": ok}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
