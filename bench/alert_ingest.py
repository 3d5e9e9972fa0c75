"""Alert ingestion benchmark: Alertmanager webhooks into a real server and worker on PostgreSQL.

A real ``buttress intake`` (the asyncio intake process, group commit) and a real
``buttress web`` (gunicorn, the Django views) listen on loopback, one after the other measured
(``--servers``), and a real ``buttress worker`` processes what they record. Closed-loop
clients POST Alertmanager-format payloads at increasing concurrency; ``/healthz`` on the same
server, at the same concurrency, is the baseline and the ratio to it is printed. (The clients
are Python threads: each request carries a distinct payload, so that every alert is new and
"nothing lost" can be counted exactly; at 10 alerts a request the client's cost per alert is
small. The heartbeat benchmark, with one tiny request per ping, uses wrk.) For each
step the benchmark reports requests/s and alerts/s accepted and the p50/p99 latency of the HTTP
answer. Once the load ends it waits for the worker to drain the deliveries and checks that
nothing was lost: every accepted request is a processed delivery, every alert sent is one
stored alert, and the alerts sit in exactly the incidents their groups call for.

    python -m bench.alert_ingest                                  # the full run
    python -m bench.alert_ingest --requests 300 --levels 1,4      # a quick check

Target: at least 1,000 alerts/s accepted with p99 under 50 ms. A webhook carries several
alerts (``--alerts-per-request``, 10 by default, as Alertmanager sends a group at once), so
both rates are printed; the single-alert step shows the per-request ceiling honestly.

The database (``buttress_alert_bench`` by default) is created if missing, migrated, and
emptied at the start of every run, so the counts are this run's.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import server as web
from bench.loadgen import CpuSample, cpu_sample

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/buttress_alert_bench"
TARGET_ALERTS_PER_S = 1000.0
TARGET_P99_MS = 50.0
GROUP_SIZE = 50  # alerts per groupKey: each group is one incident
DRAIN_TIMEOUT_S = 1800.0
TIMEOUT_S = 30.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.alert_ingest", description=__doc__)
    parser.add_argument("--levels", default="1,4,8,16", help="client concurrency steps")
    parser.add_argument("--requests", type=int, default=400, help="measured per step")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured requests per step")
    parser.add_argument("--alerts-per-request", type=int, default=10)
    parser.add_argument(
        "--single-alert-level",
        type=int,
        default=8,
        help="concurrency of the extra step with one alert per request (0: skip it)",
    )
    parser.add_argument("--workers", type=int, default=2, help="web server worker processes")
    parser.add_argument(
        "--servers",
        default="intake,django",
        help="which to measure, in this order: intake (buttress intake), django (buttress web)",
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--json", type=Path, help="write results here (default bench/results/)")
    args = parser.parse_args(argv)
    try:
        args.levels = [int(level) for level in args.levels.split(",") if level.strip()]
    except ValueError:
        parser.error("--levels is a comma-separated list of integers")
    args.servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    if not args.servers or set(args.servers) - {"intake", "django"}:
        parser.error("--servers is a comma-separated list of intake and django")
    if not args.levels or min(args.levels) < 1 or max(args.levels) > 64:
        parser.error("--levels must be between 1 and 64")
    if not 1 <= args.requests <= 100_000 or not 0 <= args.warmup <= 10_000:
        parser.error("--requests must be 1..100000 and --warmup 0..10000")
    if not 1 <= args.alerts_per_request <= 200:
        parser.error("--alerts-per-request must be 1..200")
    url = urlsplit(args.database_url)
    if url.scheme not in {"postgres", "postgresql"} or url.hostname not in web.LOOPBACK:
        parser.error("--database-url must be a PostgreSQL database on loopback")
    if "bench" not in url.path:
        # The database is emptied on every run; refuse anything not obviously made for this.
        parser.error("--database-url must name a database with 'bench' in its name")
    return args


def configure_environment(database_url: str) -> dict[str, str]:
    data_dir = ROOT / "var" / "bench-alerts"
    (data_dir / "static").mkdir(parents=True, exist_ok=True)
    env = {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "buttress.settings",
        "BUTTRESS_DATA_DIR": str(data_dir),
        "BUTTRESS_DEBUG": "0",
        "BUTTRESS_LOG_LEVEL": "WARNING",
        "BUTTRESS_TASK_BACKEND": "db",
    }
    os.environ.update(env)
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "prometheus")}


def ensure_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    url = urlsplit(database_url)
    name = url.path.lstrip("/")
    maintenance = url._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def prepare() -> tuple[int, str]:
    """An empty, migrated database with one organisation and one Alertmanager integration
    (no flood limit, one routing rule); (integration id, key)."""
    from django.core.management import call_command

    from buttress.accounts import services as accounts
    from buttress.accounts.models import Role
    from buttress.alerts import services
    from buttress.alerts.services import routing
    from buttress.tenancy.models import Organization

    call_command("migrate", interactive=False, verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    # An account, so the server is past its first-run setup.
    accounts.create_user(
        actor=None, email="bench-admin@buttress.example", role=Role.ADMIN, password=None
    )
    org = Organization.objects.create(name="Bench customer", slug="bench")
    issued = services.create_integration(
        org, actor=None, name="Bench Alertmanager", kind="alertmanager", rate_limit_per_minute=0
    )
    routing.create_rule(
        issued.integration,
        actor=None,
        name="critical alerts",
        matchers=['severity="critical"'],
        category="Infrastructure",
    )
    return issued.integration.pk, issued.key


def _payload(step: str, index: int, alerts: int) -> bytes:
    """One webhook of ``alerts`` distinct alerts; every ``GROUP_SIZE`` alerts share a group."""
    first = index * alerts
    items = []
    for number in range(first, first + alerts):
        items.append(
            {
                "status": "firing",
                "labels": {
                    "alertname": "InstanceDown",
                    "instance": f"{step}-host{number}:9100",
                    "severity": "critical",
                    "job": "node",
                },
                "annotations": {
                    "summary": f"{step}-host{number} is unreachable",
                    "runbook_url": "https://runbooks.example/instance-down",
                },
                "startsAt": "2026-08-22T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
            }
        )
    group = f'{{}}:{{alertname="InstanceDown", step="{step}", batch="{first // GROUP_SIZE}"}}'
    body = {
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "buttress",
        "groupLabels": {"alertname": "InstanceDown"},
        "commonLabels": {"alertname": "InstanceDown", "severity": "critical", "job": "node"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": items,
    }
    return json.dumps(body).encode()


@dataclass
class Step:
    name: str
    concurrency: int
    alerts_per_request: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    alerts_accepted: int = 0

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    def row(self) -> dict[str, Any]:
        count = len(self.latencies_ms)
        return {
            "name": self.name,
            "concurrency": self.concurrency,
            "alerts_per_request": self.alerts_per_request,
            "requests": count,
            "errors": self.errors,
            "statuses": self.statuses,
            "req_per_s": count / self.seconds if self.seconds else 0.0,
            "alerts_per_s": self.alerts_accepted / self.seconds if self.seconds else 0.0,
            "p50_ms": self.quantile(0.50),
            "p99_ms": self.quantile(0.99),
            "max_ms": max(self.latencies_ms, default=float("nan")),
        }


def run_step(
    port: int,
    step: Step,
    *,
    method: str,
    path: str,
    bodies: list[bytes] | None,
    warmup: int,
) -> None:
    """``concurrency`` threads, each on one keep-alive connection, send the requests in turn
    (bodies[i] for request i); the first ``warmup`` requests are not measured."""
    total = len(bodies) if bodies is not None else step.alerts_per_request
    counter = iter(range(total))
    lock = threading.Lock()
    started = threading.Event()
    start_time = [0.0]

    def next_index() -> int | None:
        with lock:
            index = next(counter, None)
            if index == warmup and not started.is_set():
                start_time[0] = time.perf_counter()
                started.set()
            return index

    def client() -> None:
        conn = http.client.HTTPConnection(web.HOST, port, timeout=TIMEOUT_S)
        headers = {"Content-Type": "application/json"} if bodies is not None else {}
        try:
            while (index := next_index()) is not None:
                body = bodies[index] if bodies is not None else None
                begin = time.perf_counter()
                try:
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(web.HOST, port, timeout=TIMEOUT_S)
                    with lock:
                        step.errors += 1
                    continue
                elapsed = (time.perf_counter() - begin) * 1000
                with lock:
                    step.statuses[response.status] = step.statuses.get(response.status, 0) + 1
                    if index < warmup:
                        continue
                    if response.status >= 400:
                        step.errors += 1
                        continue
                    step.latencies_ms.append(elapsed)
                    if bodies is not None:
                        step.alerts_accepted += json.loads(data)["alerts"]
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(step.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    step.seconds = time.perf_counter() - start_time[0] if started.is_set() else 0.0


def _cpu(before: CpuSample, after: CpuSample, requests: int) -> dict[str, float]:
    """CPU milliseconds per request of the web server's processes, and of the database's
    backends (these also serve the worker, which processes deliveries meanwhile)."""
    web_ms = (after.server - before.server) * 1000 / requests
    database_ms = (
        sum(used - before.database.get(pid, 0.0) for pid, used in after.database.items())
        * 1000
        / requests
    )
    return {"web_cpu_ms": round(web_ms, 2), "database_cpu_ms": round(database_ms, 2)}


def start_worker(env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    buttress = Path(sys.executable).with_name("buttress")
    command = (
        [str(buttress), "worker"]
        if buttress.exists()
        else [sys.executable, "-m", "buttress.cli", "worker"]
    )
    log = (log_dir / "worker.log").open("wb")
    return subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)


def drain(expected_deliveries: int) -> float:
    """Seconds until every delivery is processed (bounded by DRAIN_TIMEOUT_S)."""
    from buttress.alerts.models import Delivery

    begin = time.monotonic()
    while time.monotonic() - begin < DRAIN_TIMEOUT_S:
        pending = Delivery.objects.filter(processed_at__isnull=True).count()
        if pending == 0 and Delivery.objects.count() >= expected_deliveries:
            return time.monotonic() - begin
        time.sleep(1.0)
    msg = f"the worker did not drain the deliveries within {DRAIN_TIMEOUT_S:.0f}s"
    raise RuntimeError(msg)


def check(sent: dict[str, int], accepted_requests: int, accepted_alerts: int) -> dict[str, Any]:
    from django.db.models import Count, Sum

    from buttress.alerts.models import Alert, AlertGroup, Delivery
    from buttress.desk.models import Ticket

    deliveries = Delivery.objects.aggregate(n=Count("pk"), alerts=Sum("alert_count"))
    per_group = list(AlertGroup.objects.annotate(n=Count("alerts")).values_list("n", flat=True))
    expected_groups = sum(math.ceil(n / GROUP_SIZE) for n in sent.values())
    return {
        "requests_accepted": accepted_requests,
        "deliveries_stored": deliveries["n"],
        "alerts_accepted": accepted_alerts,
        "alerts_in_deliveries": deliveries["alerts"] or 0,
        "alerts_stored": Alert.objects.count(),
        "deliveries_failed": Delivery.objects.exclude(error="").count(),
        "incidents": Ticket.objects.filter(type="incident").count(),
        "groups": len(per_group),
        "groups_expected": expected_groups,
        "largest_group": max(per_group, default=0),
        "alerts_without_incident": Alert.objects.filter(incident__isnull=True).count(),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    env = configure_environment(args.database_url)
    ensure_database(args.database_url)
    import django

    django.setup()
    _, key = prepare()
    log_dir = ROOT / "var" / "bench-alerts" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    servers = []
    if "intake" in args.servers:
        servers.append(
            (
                "intake",
                web.start(env=env, workers=1, log_dir=log_dir, ready_path="/healthz", intake=True),
            )
        )
    if "django" in args.servers:
        servers.append(
            (
                "django",
                web.start(env=env, workers=args.workers, log_dir=log_dir, ready_path="/healthz"),
            )
        )
    worker = start_worker(env, log_dir)
    hook = f"/hooks/alertmanager/{key}"
    database = urlsplit(args.database_url).path.lstrip("/")
    print(
        "servers: "
        + "; ".join(f"{label}: {' '.join(srv.command[1:])}" for label, srv in servers)
        + f"; worker: buttress worker; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} (1 min) at the start",
        flush=True,
    )
    results: list[dict[str, Any]] = []
    sent: dict[str, int] = {}
    accepted_requests = accepted_alerts = 0
    plan = [(level, args.alerts_per_request) for level in args.levels]
    if args.single_alert_level:
        plan.append((args.single_alert_level, 1))
    try:
        for (label, server), (level, per_request) in itertools.product(servers, plan):
            baseline = Step(f"{label} baseline /healthz c={level}", level, 0)
            # For the baseline the count of requests stands in ``alerts_per_request``.
            baseline.alerts_per_request = args.requests + args.warmup
            run_step(
                server.port,
                baseline,
                method="GET",
                path="/healthz",
                bodies=None,
                warmup=args.warmup,
            )
            name = f"{label}-s{level}x{per_request}"
            count = args.requests + args.warmup
            bodies = [_payload(name, index, per_request) for index in range(count)]
            step = Step(f"{label} alertmanager c={level} x{per_request}", level, per_request)
            before = cpu_sample(server.process.pid, database)
            run_step(server.port, step, method="POST", path=hook, bodies=bodies, warmup=args.warmup)
            after = cpu_sample(server.process.pid, database)
            accepted = sum(n for status, n in step.statuses.items() if status == 202)
            sent[name] = count * per_request
            accepted_requests += accepted
            accepted_alerts += accepted * per_request
            base, row = baseline.row(), step.row()
            row["server"] = label
            row.update(_cpu(before, after, args.requests + args.warmup))
            row["baseline_p99_ms"] = base["p99_ms"]
            row["baseline_req_per_s"] = base["req_per_s"]
            results.append(row)
            row["load_average_1m"] = round(os.getloadavg()[0], 1)
            print(
                f"{label:6} load {row['load_average_1m']:>4}  "
                f"c={level:>2} x{per_request:<3} {row['req_per_s']:>7.0f} req/s "
                f"{row['alerts_per_s']:>8.0f} alerts/s  p50 {row['p50_ms']:6.1f} ms  "
                f"p99 {row['p99_ms']:6.1f} ms  errors {row['errors']}  |  baseline "
                f"{base['req_per_s']:>6.0f} req/s p99 {base['p99_ms']:5.1f} ms  "
                f"(ratio {row['req_per_s'] / max(base['req_per_s'], 1e-9):.2f})  |  CPU/request "
                f"server {row['web_cpu_ms']:.1f} ms, database {row['database_cpu_ms']:.1f} ms",
                flush=True,
            )
        print("load done; waiting for the worker to drain the deliveries ...", flush=True)
        drained = drain(accepted_requests)
    finally:
        stop(worker)
        for _, server in servers:
            server.stop()
    counts = check(sent, accepted_requests, accepted_alerts)
    counts["drain_seconds"] = round(drained, 1)
    lossless = (
        counts["deliveries_stored"] == counts["requests_accepted"]
        and counts["alerts_in_deliveries"] == counts["alerts_accepted"] == counts["alerts_stored"]
        and counts["deliveries_failed"] == 0
        and counts["groups"] == counts["groups_expected"] == counts["incidents"]
        and counts["alerts_without_incident"] == 0
    )
    print("\nAfter the drain:", json.dumps(counts))
    print(f"nothing lost, one incident per group: {'yes' if lossless else 'NO'}")
    best = [
        r
        for r in results
        if r["alerts_per_s"] >= TARGET_ALERTS_PER_S and r["p99_ms"] < TARGET_P99_MS
    ]
    print(
        f"target ≥{TARGET_ALERTS_PER_S:.0f} alerts/s with p99 <{TARGET_P99_MS:.0f} ms: "
        + ("met at " + ", ".join(r["name"] for r in best) if best else "not met at any step")
    )
    cpus = os.cpu_count() or 1
    for row in results:
        # What the measured CPU cost per request allows with the machine's CPUs to itself.
        cost = row["web_cpu_ms"] + row["database_cpu_ms"]
        row["cpu_bound_req_per_s"] = round(cpus * 1000 / cost) if cost else None
    print(
        "CPU-bound capacity from the measured cost per request (web + database, on "
        f"{cpus} CPUs): "
        + ", ".join(
            f"{r['name']}: {r['cpu_bound_req_per_s']} req/s = "
            f"{(r['cpu_bound_req_per_s'] or 0) * r['alerts_per_request']} alerts/s"
            for r in results
        )
    )
    out = args.json or ROOT / "bench" / "results" / "alert_ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"steps": results, "counts": counts, "lossless": lossless}, indent=2),
        encoding="utf-8",
    )
    print(f"results written to {out}")
    return 0 if lossless else 1


if __name__ == "__main__":
    raise SystemExit(main())
