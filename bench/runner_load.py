"""Runner load benchmark: N HTTP monitors every 10 s against a loopback server, one runner.

Targets (10,000 monitors): start lag p99 under 1 s and the runner's resident memory under
500 MB for the whole run (10 minutes).

    python -m bench.runner_load                                   # the full run
    python -m bench.runner_load --monitors 2000 --duration 120    # a quick check

The start lag of a check is read from the results the runner wrote: each monitor is due at a
fixed phase of its interval (a hash of its id), so a result at ``at`` was due at the latest
such instant before it, and the lag is the difference. The baseline is a plain asyncio process
sleeping to the same kind of slots on the same machine during the same run: the lag any
Python scheduler has here, to which the runner's is compared. Memory is the runner's VmRSS,
sampled every second.

The database (PostgreSQL, ``buttress_runner_bench`` by default) is created and migrated on
first use; the benchmark's organisation and monitors are replaced at each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/buttress_runner_bench"
INTERVAL = 10
ORG_SLUG = "runner-bench"
P99_TARGET_S = 1.0
RSS_TARGET_MB = 500.0
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.runner_load", description=__doc__)
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=600, help="seconds measured")
    parser.add_argument("--warmup", type=int, default=30, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--json", type=Path, help="write results here (default bench/results/)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.monitors, args.duration, args.concurrency) < 1 or args.warmup < 0:
        parser.error("--monitors, --duration and --concurrency must be positive")
    url = urlsplit(args.database_url)
    if url.scheme not in {"postgres", "postgresql"} or url.hostname not in LOOPBACK:
        parser.error("--database-url must be a PostgreSQL database on loopback")
    return args


# --- helper processes ------------------------------------------------------------------------


def serve(port_file: int) -> None:
    """The loopback target: 200 "ok" for every path, until killed."""
    from aiohttp import web

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", ok)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port_file, backlog=4096)
        await site.start()
        await asyncio.Event().wait()

    asyncio.run(main())


def baseline(seconds: int) -> None:
    """Sleep to 1,000 phased slots per 10 s with asyncio and print the lags as JSON."""

    async def main() -> list[float]:
        lags: list[float] = []
        end = time.time() + seconds

        async def slot(phase: float) -> None:
            while True:
                wall = time.time()
                due = ((wall - phase) // INTERVAL + 1) * INTERVAL + phase
                if due > end:
                    return
                await asyncio.sleep(due - wall)
                lags.append(time.time() - due)

        await asyncio.gather(*(slot(n * INTERVAL / 1000) for n in range(1000)))
        return lags

    print(json.dumps(asyncio.run(main())))


# --- the run ---------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buttress.settings")
    url = urlsplit(database_url)
    import psycopg

    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        name = url.path.lstrip("/")
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _seed(count: int, port: int) -> None:
    from buttress.monitoring.models import Monitor, Runner
    from buttress.tenancy.models import Organization

    Organization.objects.filter(slug=ORG_SLUG).delete()
    Runner.objects.all().delete()
    org = Organization.objects.create(name="Runner benchmark", slug=ORG_SLUG)
    Monitor.objects.bulk_create(
        (
            Monitor(
                organization=org,
                name=f"site {n}",
                kind="http",
                config={"url": f"http://127.0.0.1:{port}/n{n}", "timeout": 5.0},
                interval=INTERVAL,
            )
            for n in range(count)
        ),
        batch_size=2000,
    )


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def _lags(start: datetime, end: datetime) -> tuple[list[float], dict[str, int]]:
    from buttress.monitoring.checking import phase
    from buttress.monitoring.models import CheckResult

    rows = CheckResult.objects.filter(
        at__gte=start, at__lt=end, monitor__organization__slug=ORG_SLUG
    ).values_list("monitor_id", "at", "status")
    lags: list[float] = []
    statuses: dict[str, int] = {}
    for monitor_id, at, status in rows.iterator(chunk_size=10_000):
        statuses[status] = statuses.get(status, 0) + 1
        offset = phase(monitor_id, INTERVAL)
        lag = (at.timestamp() - offset) % INTERVAL
        # A check started a hair before its slot (the loop's clock against the wall clock)
        # is early, not nearly a whole interval late.
        lags.append(lag - INTERVAL if lag > INTERVAL / 2 else lag)
    return lags, statuses


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    _setup(args.database_url)
    from django.db import connections

    from buttress.lib.timeutil import now

    port = _free_port()
    logs = Path(tempfile.mkdtemp(prefix="runner-bench-"))
    env = {**os.environ, "DATABASE_URL": args.database_url, "PYTHONPATH": str(ROOT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    target = subprocess.Popen(
        [sys.executable, "-m", "bench.runner_load", "--serve", str(port)], env=env, cwd=ROOT
    )
    _seed(args.monitors, port)
    connections.close_all()
    with (logs / "runner.log").open("wb") as log:
        runner = subprocess.Popen(
            [
                *[sys.executable, "-m", "buttress.cli", "runner"],
                *["--concurrency", str(args.concurrency)],
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        time.sleep(args.warmup)
        start = now()
        floor = subprocess.Popen(
            [sys.executable, "-m", "bench.runner_load", "--baseline", str(args.duration)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        rss: list[float] = []
        deadline = time.monotonic() + args.duration
        while time.monotonic() < deadline:
            if runner.poll() is not None:
                raise SystemExit(f"the runner exited with {runner.returncode}; see {logs}")
            rss.append(_rss_mb(runner.pid))
            time.sleep(1)
        end = now()
        out, _ = floor.communicate(timeout=120)
        base = json.loads(out)
    finally:
        runner.send_signal(signal.SIGTERM)
        try:
            runner.wait(timeout=60)
        except subprocess.TimeoutExpired:
            runner.kill()
        target.kill()
        target.wait()
    time.sleep(2)  # the runner's last batch
    lags, statuses = _lags(start, end)
    expected = args.monitors * args.duration / INTERVAL
    return {
        "monitors": args.monitors,
        "interval_s": INTERVAL,
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "checks": len(lags),
        "checks_expected": int(expected),
        "statuses": statuses,
        "lag_p50_s": _percentile(lags, 0.5),
        "lag_p99_s": _percentile(lags, 0.99),
        "lag_max_s": max(lags) if lags else float("nan"),
        "baseline_p99_s": _percentile(base, 0.99),
        "rss_max_mb": max(rss) if rss else float("nan"),
        "rss_mean_mb": statistics.fmean(rss) if rss else float("nan"),
    }


def report(result: dict[str, Any]) -> bool:
    ok_lag = bool(result["lag_p99_s"] < P99_TARGET_S)
    ok_rss = bool(result["rss_max_mb"] < RSS_TARGET_MB)
    ratio = result["lag_p99_s"] / result["baseline_p99_s"] if result["baseline_p99_s"] else 0
    print(
        f"{result['monitors']} HTTP monitors every {INTERVAL} s for {result['duration_s']} s, "
        f"concurrency {result['concurrency']}"
    )
    print(
        f"  checks            {result['checks']} of {result['checks_expected']} expected "
        f"({result['statuses']})"
    )
    print(
        f"  start lag         p50 {result['lag_p50_s'] * 1000:.0f} ms, "
        f"p99 {result['lag_p99_s'] * 1000:.0f} ms, max {result['lag_max_s'] * 1000:.0f} ms "
        f"({'meets' if ok_lag else 'MISSES'} p99 < {P99_TARGET_S:.0f} s)"
    )
    print(
        f"  baseline          asyncio sleep to 1,000 slots per 10 s: p99 "
        f"{result['baseline_p99_s'] * 1000:.1f} ms; runner p99 / baseline p99 = {ratio:.1f}"
    )
    print(
        f"  runner RSS        max {result['rss_max_mb']:.0f} MB, mean "
        f"{result['rss_mean_mb']:.0f} MB ({'meets' if ok_rss else 'MISSES'} "
        f"< {RSS_TARGET_MB:.0f} MB)"
    )
    return ok_lag and ok_rss


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    if args.baseline is not None:
        baseline(args.baseline)
        return 0
    result = run(args)
    met = report(result)
    path = args.json or ROOT / "bench" / "results" / "runner_load.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  results           {path}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
