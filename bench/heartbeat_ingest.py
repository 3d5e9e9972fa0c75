"""Heartbeat ping ingest: durable pings per second and latency over HTTP, SQLite and PostgreSQL.

For each database, in the same run:

1. creates (PostgreSQL: ``buttress_bench_heartbeat`` on loopback; SQLite: a fresh file under
   ``var/bench-heartbeat/``) and migrates it, then creates one organisation with
   ``--monitors`` heartbeat monitors (period a day, grace an hour), each pinged once so that
   every job is up before the measured pings (a job's first success is a status change,
   which costs far more than a ping);
2. starts ``buttress intake --bind 127.0.0.1:<free port> --processes <--intake-processes>``
   (the asyncio intake process, group commit; several share the port with SO_REUSEPORT, each
   with its own database connection) and measures, with Debian's ``wrk`` (a C load
   generator, installed with apt-get if missing, so the client does not take the server's
   CPU), ``GET /healthz`` on it (the
   baseline: the same server, no database) and then ``GET /ping/<uuid>`` cycling through the
   monitors, each for ``--seconds`` after ``--warmup`` seconds;
3. does the same against ``buttress web --workers <n>`` (gunicorn and the Django view), the
   path a simple installation without the intake process uses;
4. checks durability: every ping answered ``200 OK`` must be in the database. The monitors'
   ping counters must add up to at least the pings answered, and at most that plus the
   requests wrk had in flight when it stopped (answered by the server, not read by wrk).

It prints pings per second, p50/p90/p99 latency and the server's and the database's CPU per
request, the ratio to each server's own baseline, the intake over Django ratio, and PASS/FAIL
against the target on PostgreSQL (the intake process): over 3,000 pings/s with p99 under 30 ms.

    python -m bench.heartbeat_ingest                        # both databases
    python -m bench.heartbeat_ingest --databases postgres --seconds 20
    python -m bench.heartbeat_ingest --databases postgres --intake-processes 2 --skip-django
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import server as web
from bench import wrk

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
    parser.add_argument("--seconds", type=float, default=10.0, help="measured per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--connections", type=int, default=32, help="wrk keep-alive connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--intake-processes",
        type=int,
        default=1,
        help="buttress intake --processes (PostgreSQL only above 1)",
    )
    parser.add_argument(
        "--skip-django", action="store_true", help="measure only the intake process"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 600 or not 1 <= args.warmup <= 60:
        parser.error("--seconds must be 1..600 and --warmup 1..60")
    if not 1 <= args.connections <= 1000 or not 1 <= args.threads <= 8:
        parser.error("--connections must be 1..1000 and --threads 1..8")
    if not 1 <= args.intake_processes <= 64:
        parser.error("--intake-processes must be 1..64")
    if args.intake_processes > 1 and "sqlite" in args.databases:
        parser.error("--intake-processes above 1 needs PostgreSQL: use --databases postgres")
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

    from buttress.monitoring.models import Monitor, PingKind
    from buttress.monitoring.pinging import PingRequest
    from buttress.monitoring.services import create_monitor, ping_by_uuid
    from buttress.tenancy.models import Organization

    call_command("migrate", interactive=False, verbosity=0)
    organization = Organization.objects.create(name="Heartbeat bench", slug=ORG_SLUG)
    for index in range(monitors):
        create_monitor(
            organization, actor=None, name=f"job {index:05d}", kind="heartbeat", slug=f"job-{index}"
        )
    codes = list(Monitor.objects.filter(organization=organization).values_list("uuid", flat=True))
    # Each job's first success moves it from unknown to up, a status change that costs far
    # more than a ping; the measured pings are those of jobs already running.
    for code in codes:
        ping_by_uuid(code, PingRequest(kind=PingKind.SUCCESS, method="GET"))
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


def _stored(env: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_manage(env, "verify"))
    return result


def _phase(
    args: argparse.Namespace,
    server: web.Server,
    requests: list[wrk.Request],
    database_name: str,
) -> dict[str, Any]:
    """A warm-up run, then the measured run."""
    options = {"connections": args.connections, "threads": args.threads}
    warm = wrk.run(web.HOST, server.port, requests, seconds=args.warmup, **options)
    figures = wrk.run(
        web.HOST,
        server.port,
        requests,
        seconds=args.seconds,
        server_pid=server.process.pid,
        database_name=database_name,
        **options,
    )
    figures["warmup_requests"] = warm["requests"]
    figures["warmup_status_errors"] = warm["status_errors"]
    return figures


def _server_rows(
    args: argparse.Namespace,
    env: dict[str, str],
    data_dir: Path,
    codes: list[str],
    database_name: str,
    *,
    intake: bool,
) -> dict[str, Any]:
    server = web.start(
        env=env,
        workers=args.workers,
        log_dir=data_dir,
        ready_path="/healthz",
        intake=intake,
        intake_options=["--processes", str(args.intake_processes)],
    )
    try:
        baseline = _phase(args, server, [wrk.Request("GET", "/healthz")], database_name)
        before = _stored(env)["pings"]
        pings = [wrk.Request("GET", f"/ping/{code}") for code in codes]
        ping = _phase(args, server, pings, database_name)
    finally:
        server.stop()
    check = _stored(env)
    stored = check["pings"] - before
    answered = (ping["requests"] - ping["status_errors"]) + (
        ping["warmup_requests"] - ping["warmup_status_errors"]
    )
    # Two wrk runs, each may stop with one request in flight per connection.
    in_flight = 2 * args.connections
    return {
        "server": "intake" if intake else "django",
        "command": " ".join(server.command[1:]),
        "baseline": baseline,
        "ping": ping,
        "stored_pings": stored,
        "answered_ok": answered,
        "in_flight_bound": in_flight,
        "statuses": check["statuses"],
        "durable": answered <= stored <= answered + in_flight and ping["errors"] == 0,
    }


def measure(args: argparse.Namespace, database: str) -> list[dict[str, Any]]:
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
    rows = []
    for intake in (True, False):
        if not intake and args.skip_django:
            continue
        row = _server_rows(args, env, data_dir, codes, database_name, intake=intake)
        rows.append({"database": database, **row})
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> int:
    print("server ms / db ms: CPU per answered request of the server's processes / of PostgreSQL's")
    print("backends; rest: the share of the machine's CPUs everything else used (wrk included)")
    print(
        f"{args.monitors} heartbeat monitors, wrk with {args.connections} keep-alive connections "
        f"({args.threads} thread), {args.seconds:g} s measured after {args.warmup:g} s warm-up; "
        f"intake: {args.intake_processes} process(es); "
        f"django: {args.workers} gunicorn workers; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'database':9} {'server':7} {'endpoint':9} {'req/s':>8} {'p50 ms':>7} {'p90 ms':>7}"
        f" {'p99 ms':>7} {'server ms':>9} {'db ms':>6} {'errors':>6} {'rest':>5}"
    )
    ok = True
    for row in rows:
        for label, figures in (("/healthz", row["baseline"]), ("ping", row["ping"])):
            print(
                f"{row['database']:9} {row['server']:7} {label:9} {figures['req_per_s']:8,.0f} "
                f"{figures['p50_ms']:7.1f} {figures['p90_ms']:7.1f} {figures['p99_ms']:7.1f} "
                f"{figures.get('server_cpu_ms', 0):9.2f} {figures.get('database_cpu_ms', 0):6.2f} "
                f"{figures['errors']:6d} {figures.get('rest_cpu_share', 0):5.0%}"
            )
        ratio = row["ping"]["req_per_s"] / row["baseline"]["req_per_s"]
        print(
            f"{row['database']:9} {row['server']:7} pings/s over its /healthz req/s: {ratio:.2f}; "
            f"stored {row['stored_pings']:,} for {row['answered_ok']:,} answered OK (+ at most "
            f"{row['in_flight_bound']} in flight) "
            f"({'durable' if row['durable'] else 'NOT DURABLE'})"
        )
        ok = ok and row["durable"]
    for database in args.databases:
        by_server = {r["server"]: r for r in rows if r["database"] == database}
        if "intake" in by_server and "django" in by_server:
            speedup = by_server["intake"]["ping"]["req_per_s"] / max(
                by_server["django"]["ping"]["req_per_s"], 1e-9
            )
            print(f"{database:9} intake pings/s over django pings/s: {speedup:.1f}")
        if database == "postgres" and "intake" in by_server:
            ping = by_server["intake"]["ping"]
            meets = ping["req_per_s"] > TARGET_RATE and ping["p99_ms"] < TARGET_P99_MS
            print(
                f"postgres  intake target > {TARGET_RATE:,.0f} pings/s and p99 < "
                f"{TARGET_P99_MS:.0f} ms: {'PASS' if meets else 'FAIL'}"
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
    rows = [row for database in args.databases for row in measure(args, database)]
    return report(rows, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
