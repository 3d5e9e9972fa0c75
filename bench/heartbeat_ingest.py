"""Heartbeat ping ingest: durable pings per second and latency over HTTP, SQLite and PostgreSQL.

For each database, in the same run:

1. creates (PostgreSQL: ``buttress_bench_heartbeat`` on loopback; SQLite: a fresh file under
   ``var/bench-heartbeat/``) and migrates it, then creates one organisation with
   ``--monitors`` heartbeat monitors (period a day, grace an hour);
2. starts ``buttress web --bind 127.0.0.1:<free port> --workers <n>`` (gunicorn) as its own
   process group;
3. runs the closed-loop load generator (``python -m bench.loadgen``, ``--concurrency``
   keep-alive connections) against ``GET /healthz`` (the baseline: the same server, no
   database write) and then ``GET /ping/<uuid>`` cycling through the monitors, each after its
   own warm-up;
4. checks durability: every ping answered ``200 OK`` must be in the database — the monitors'
   ping counters must add up to the pings sent, and each monitor must be ``up``.

It prints pings per second, p50/p95/p99 latency and the server's and the database's CPU per
request, next to the baseline's, and PASS/FAIL against the target on PostgreSQL: over 3,000
pings/s with p99 under 30 ms.

    python -m bench.heartbeat_ingest                        # both databases
    python -m bench.heartbeat_ingest --databases postgres --requests 20000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import server as web

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("results")
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/buttress_bench_heartbeat"
TARGET_RATE = 3000.0
TARGET_P99_MS = 30.0
ORG_SLUG = "bench-heartbeat"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--monitors", type=int, default=500)
    parser.add_argument("--requests", type=int, default=3000, help="measured per endpoint")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    args = parser.parse_args(argv)
    url = urlsplit(args.postgres_url)
    if url.hostname not in web.LOOPBACK or "bench" not in url.path:
        parser.error("--postgres-url must be on loopback and name a database with 'bench' in it")
    return args


def _environment(database_url: str | None, data_dir: Path) -> dict[str, str]:
    (data_dir / "static").mkdir(parents=True, exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"}
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "buttress.settings",
        "BUTTRESS_DATA_DIR": str(data_dir),
        "BUTTRESS_DEBUG": "0",
        "BUTTRESS_LOG_LEVEL": "WARNING",
        "BUTTRESS_TASK_BACKEND": "db",
        "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "prometheus"),
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _ensure_postgres(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    url = urlsplit(database_url)
    name = url.path.lstrip("/")
    maintenance = url._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench.heartbeat_ingest", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _prepare(monitors: int) -> None:
    """In a child process with the database's environment: migrate and create the monitors."""
    import django

    django.setup()
    from django.core.management import call_command

    from buttress.monitoring.models import Monitor
    from buttress.monitoring.services import create_monitor
    from buttress.tenancy.models import Organization

    call_command("migrate", interactive=False, verbosity=0)
    organization = Organization.objects.create(name="Heartbeat bench", slug=ORG_SLUG)
    for index in range(monitors):
        create_monitor(
            organization, actor=None, name=f"job {index:05d}", kind="heartbeat", slug=f"job-{index}"
        )
    codes = list(Monitor.objects.filter(organization=organization).values_list("uuid", flat=True))
    print(json.dumps([str(code) for code in codes]))


def _verify() -> None:
    """Print the monitors' ping counters' sum and their statuses (child process)."""
    import django

    django.setup()
    from django.db.models import Count, Sum

    from buttress.monitoring.models import Monitor

    monitors = Monitor.objects.filter(organization__slug=ORG_SLUG)
    total = monitors.aggregate(total=Sum("n_pings"))["total"] or 0
    statuses = dict(monitors.values_list("status").annotate(n=Count("id")).order_by())
    print(json.dumps({"pings": total, "statuses": statuses}))


def _loadgen(config: dict[str, Any]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
        path = handle.name
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", path],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    finally:
        Path(path).unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(args: argparse.Namespace, database: str) -> dict[str, Any]:
    data_dir = ROOT / "var" / "bench-heartbeat" / database
    if database == "postgres":
        _ensure_postgres(args.postgres_url)
        env = _environment(args.postgres_url, data_dir)
        database_name = urlsplit(args.postgres_url).path.lstrip("/")
    else:
        for stale in data_dir.glob("buttress.db*"):
            stale.unlink()
        env = _environment(None, data_dir)
        database_name = "-"  # no separate database process
    codes: list[str] = json.loads(_manage(env, "prepare", str(args.monitors)))
    server = web.start(env=env, workers=args.workers, log_dir=data_dir, ready_path="/healthz")
    try:
        results = _loadgen(
            {
                "host": web.HOST,
                "port": server.port,
                "server_pid": server.process.pid,
                "database_name": database_name,
                "concurrency": args.concurrency,
                "requests": args.requests,
                "warmup": args.warmup,
                "endpoints": [
                    {"name": "baseline /healthz", "paths": ["/healthz"]},
                    {"name": "ping /ping/<uuid>", "paths": [f"/ping/{code}" for code in codes]},
                ],
            }
        )
    finally:
        server.stop()
    check = json.loads(_manage(env, "verify"))
    ping = results["endpoints"][1]
    sent_ok = ping["statuses"].get("200", 0) + args.warmup
    return {
        "database": database,
        "baseline": results["endpoints"][0],
        "ping": ping,
        "stored_pings": check["pings"],
        "answered_ok": sent_ok,
        "statuses": check["statuses"],
        "durable": check["pings"] == sent_ok and ping["errors"] == 0,
    }


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> int:
    print("server ms / db ms: CPU per request of gunicorn's processes / of PostgreSQL's backends;")
    print("others: the share of the machine's CPUs other processes used meanwhile")
    print(
        f"{args.monitors} heartbeat monitors, {args.concurrency} keep-alive connections, "
        f"{args.workers} gunicorn workers, {args.requests} measured requests per endpoint"
    )
    print(
        f"{'database':9} {'endpoint':18} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
        f" {'server ms':>9} {'db ms':>6} {'errors':>6} {'others':>6}"
    )
    ok = True
    for row in rows:
        for label, figures in (("baseline /healthz", row["baseline"]), ("ping", row["ping"])):
            print(
                f"{row['database']:9} {label:18} {figures['req_per_s']:8,.0f} "
                f"{figures['p50_ms']:7.1f} {figures['p95_ms']:7.1f} {figures['p99_ms']:7.1f} "
                f"{figures.get('server_cpu_ms', 0):9.2f} {figures.get('database_cpu_ms', 0):6.2f} "
                f"{figures['errors']:6d} {figures.get('other_cpu_share', 0):6.0%}"
            )
        ratio = row["ping"]["req_per_s"] / row["baseline"]["req_per_s"]
        print(
            f"{row['database']:9} pings/s over baseline req/s: {ratio:.2f}; stored "
            f"{row['stored_pings']:,} of {row['answered_ok']:,} answered OK "
            f"({'durable' if row['durable'] else 'NOT DURABLE'}); statuses {row['statuses']}"
        )
        ok = ok and row["durable"]
        if row["database"] == "postgres":
            meets = row["ping"]["req_per_s"] > TARGET_RATE and row["ping"]["p99_ms"] < TARGET_P99_MS
            print(
                f"postgres  target > {TARGET_RATE:,.0f} pings/s and p99 < {TARGET_P99_MS:.0f} ms: "
                f"{'PASS' if meets else 'FAIL'}"
            )
            ok = ok and meets
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"heartbeat_ingest-{stamp}.json").write_text(
        json.dumps({"options": vars(args), "rows": rows}, indent=2), encoding="utf-8"
    )
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    if argv and argv[0] == "prepare":
        _prepare(int(argv[1]))
        return 0
    if argv and argv[0] == "verify":
        _verify()
        return 0
    args = parse_args(argv)
    rows = [measure(args, database) for database in args.databases]
    return report(rows, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
