"""Runner load benchmark: N HTTP monitors every 10 s against a loopback server, one runner.

Targets (10,000 monitors): start lag p99 under 1 s and the runner's resident memory under
500 MB for the whole run (10 minutes).

    python -m bench.runner_load                                   # the full run
    python -m bench.runner_load --monitors 2000 --duration 120    # a quick check

Every due slot counts. Each monitor is due at a fixed phase of its interval (a hash of its id),
so the slots due in the measured window are known; each result the runner wrote is matched to
the latest slot at or before its start, and its lag is the difference. A slot no result was
matched to is a *miss*: it counts as an infinite lag in the percentiles (and is reported), so a
runner that drops or skips checks cannot look punctual.

Two baselines run in the same benchmark: a plain asyncio process sleeping to 1,000 phased
slots per 10 s during the run (the lag any Python scheduler has on this machine), and before
the runner starts, the bare probe loop (``run_probe`` against the same target, no schedule,
no database) whose CPU per check is the floor for the runner's CPU per check.

The target is a minimal asyncio protocol answering ``200 ok`` in its own process, so it takes
little of the CPU the runner needs; its CPU per check is printed too. Memory is the runner's
VmRSS sampled every second; CPU is read from ``/proc`` at the start and end of the window.

The database (PostgreSQL, ``buttress_runner_bench`` by default) is created and migrated on
first use; the benchmark's organisation and monitors are replaced at each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/buttress_runner_bench"
INTERVAL = 10
TIMEOUT = 5.0
ORG_SLUG = "runner-bench"
P99_TARGET_S = 1.0
RSS_TARGET_MB = 500.0
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A result this much before its slot still belongs to it (the loop's clock against the wall).
EARLY_S = 0.5
# Checks of the bare probe loop (the CPU floor), and how many it runs at once.
FLOOR_CHECKS = 3000
FLOOR_CONCURRENCY = 100
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n"
    b"Connection: close\r\n\r\nok"
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.runner_load", description=__doc__)
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=600, help="seconds measured")
    parser.add_argument("--warmup", type=int, default=30, help="seconds before measuring")
    parser.add_argument(
        "--concurrency", type=int, help="the runner's --concurrency (default: its own)"
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--json", type=Path, help="write results here (default bench/results/)")
    parser.add_argument(
        "--profile", type=Path, help="record the runner with py-spy into this file (raw stacks)"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--floor", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.monitors, args.duration) < 1 or args.warmup < 0:
        parser.error("--monitors and --duration must be positive")
    if args.concurrency is not None and args.concurrency < 1:
        parser.error("--concurrency must be positive")
    url = urlsplit(args.database_url)
    if url.scheme not in {"postgres", "postgresql"} or url.hostname not in LOOPBACK:
        parser.error("--database-url must be a PostgreSQL database on loopback")
    return args


# --- helper processes ------------------------------------------------------------------------


class _Answer(asyncio.Protocol):
    """Answers every request head with ``200 ok`` and closes: the cheapest honest target."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" in self.buffer:
            self.transport.write(ANSWER)
            self.transport.close()
        elif len(self.buffer) > 65536:
            self.transport.abort()


def serve(port: int) -> None:
    """The loopback target, until killed."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(_Answer, "127.0.0.1", port, backlog=4096)
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


def floor(port: int) -> None:
    """The bare probe loop: FLOOR_CHECKS HTTP checks of the target, no schedule, no database,
    on one shared client as the runner makes them: through the lean HTTP/1.1 client (the
    common path) and through aiohttp (a monitor whose headers set ``Connection`` goes that
    way; the request on the wire is the same); prints the CPU seconds per check of each as
    JSON."""
    from buttress.monitoring.probes import HttpClient, ProbeSpec, run_probe
    from buttress.monitoring.specs import build_spec

    url = f"http://127.0.0.1:{port}/floor"
    lean = build_spec("http", {"url": url, "timeout": TIMEOUT}, allow_private=True)
    kept = build_spec(
        "http",
        {"url": url, "timeout": TIMEOUT, "headers": {"Connection": "close"}},
        allow_private=True,
    )

    async def loop(spec: ProbeSpec) -> dict[str, float]:
        client = HttpClient()
        remaining = FLOOR_CHECKS
        failures = 0

        async def worker() -> None:
            nonlocal remaining, failures
            while remaining > 0:
                remaining -= 1
                if (await run_probe(spec, http=client)).status != "up":
                    failures += 1

        try:
            await asyncio.gather(*(run_probe(spec, http=client) for _ in range(50)))  # warm-up
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu, wall = usage.ru_utime + usage.ru_stime, time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(FLOOR_CONCURRENCY)))
            usage = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            await client.close()
        spent = usage.ru_utime + usage.ru_stime - cpu
        return {
            "cpu_per_check_ms": spent / FLOOR_CHECKS * 1000,
            "checks_per_s": FLOOR_CHECKS / (time.perf_counter() - wall),
            "failures": failures,
        }

    async def main() -> dict[str, dict[str, float]]:
        return {"shared": await loop(lean), "aiohttp": await loop(kept)}

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


def _seed(count: int, port: int) -> list[int]:
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
                config={"url": f"http://127.0.0.1:{port}/n{n}", "timeout": TIMEOUT},
                interval=INTERVAL,
            )
            for n in range(count)
        ),
        batch_size=2000,
    )
    return list(Monitor.objects.filter(organization=org).values_list("pk", flat=True))


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of a process and its waited-for children, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def slot_lags(
    phases: dict[int, float], starts: Iterable[tuple[int, float]], start: float, end: float
) -> tuple[list[float], int, int]:
    """The lag of every slot due in [start, end): (lags of the slots checked, misses, extra).

    ``phases`` maps each monitor to its phase, ``starts`` gives (monitor, start time) of each
    result written. A result belongs to the latest slot at or before its start (EARLY_S of
    slack); the first result of a slot counts, later ones (re-checks) are ``extra``. A slot
    with no result is a miss.
    """
    first: dict[tuple[int, int], float] = {}
    extra = 0
    for monitor, at in starts:
        offset = phases.get(monitor)
        if offset is None:
            continue
        slot = math.floor((at + EARLY_S - offset) / INTERVAL)
        due = slot * INTERVAL + offset
        if due < start or due >= end:
            continue
        key = (monitor, slot)
        if key in first:
            extra += 1
            first[key] = min(first[key], at - due)
        else:
            first[key] = at - due
    due_slots = 0
    for offset in phases.values():
        low = math.ceil((start - offset) / INTERVAL)
        high = math.ceil((end - offset) / INTERVAL)
        due_slots += max(0, high - low)
    return list(first.values()), due_slots - len(first), extra


def _results(start: datetime, end: datetime) -> tuple[list[tuple[int, float]], dict[str, int]]:
    from buttress.monitoring.models import CheckResult

    rows = CheckResult.objects.filter(
        at__gte=start, at__lt=end, monitor__organization__slug=ORG_SLUG
    ).values_list("monitor_id", "at", "status")
    starts: list[tuple[int, float]] = []
    statuses: dict[str, int] = {}
    for monitor_id, at, status in rows.iterator(chunk_size=10_000):
        statuses[status] = statuses.get(status, 0) + 1
        starts.append((monitor_id, at.timestamp()))
    return starts, statuses


def percentile(values: list[float], misses: int, fraction: float) -> float:
    """The percentile of the lags with each miss counted as an infinite lag."""
    total = len(values) + misses
    if not total:
        return float("nan")
    index = min(total - 1, int(fraction * total))
    ordered = sorted(values)
    return ordered[index] if index < len(ordered) else math.inf


def _child_json(process: subprocess.Popen[bytes], timeout: float) -> Any:
    out, _ = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise SystemExit(f"a helper process failed with {process.returncode}")
    return json.loads(out)


def run(args: argparse.Namespace) -> dict[str, Any]:
    _setup(args.database_url)
    from django.db import connections

    from buttress.lib.timeutil import now
    from buttress.monitoring.checking import phase

    port = _free_port()
    logs = Path(tempfile.mkdtemp(prefix="runner-bench-"))
    env = {**os.environ, "DATABASE_URL": args.database_url, "PYTHONPATH": str(ROOT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    me = [sys.executable, "-m", "bench.runner_load"]
    target = subprocess.Popen([*me, "--serve", str(port)], env=env, cwd=ROOT)
    pks = _seed(args.monitors, port)
    phases = {pk: phase(pk, INTERVAL) for pk in pks}
    connections.close_all()
    # The bare probe loop runs alone, before the runner, so neither takes the other's CPU.
    probe_floor = _child_json(
        subprocess.Popen([*me, "--floor", str(port)], env=env, cwd=ROOT, stdout=subprocess.PIPE),
        timeout=300,
    )
    command = [sys.executable, "-m", "buttress.cli", "runner"]
    if args.concurrency is not None:
        command += ["--concurrency", str(args.concurrency)]
    if args.profile is not None:
        command = [
            *[str(Path(sys.executable).with_name("py-spy")), "record", "--nonblocking"],
            *["--format", "raw"],
            *["--rate", "50", "-o", str(args.profile), "--", *command],
        ]
    with (logs / "runner.log").open("wb") as log:
        runner = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    pid = runner.pid
    if args.profile is not None:
        time.sleep(3)
        found = subprocess.run(
            ["pgrep", "-P", str(runner.pid)], check=True, capture_output=True, text=True
        )
        pid = int(found.stdout.split()[0])
    try:
        time.sleep(args.warmup)
        start = now()
        cpu_start, target_cpu_start = _cpu_s(pid), _cpu_s(target.pid)
        lag_floor = subprocess.Popen(
            [*me, "--baseline", str(args.duration)], env=env, cwd=ROOT, stdout=subprocess.PIPE
        )
        rss: list[float] = []
        deadline = time.monotonic() + args.duration
        while time.monotonic() < deadline:
            if runner.poll() is not None:
                raise SystemExit(f"the runner exited with {runner.returncode}; see {logs}")
            rss.append(_rss_mb(pid))
            time.sleep(1)
        end = now()
        cpu = _cpu_s(pid) - cpu_start
        target_cpu = _cpu_s(target.pid) - target_cpu_start
        # Checks due just before the end start (and are written) a moment later.
        time.sleep(INTERVAL)
        base = _child_json(lag_floor, timeout=120)
    finally:
        runner.send_signal(signal.SIGINT if args.profile is not None else signal.SIGTERM)
        if args.profile is not None:
            os.kill(pid, signal.SIGTERM)
        try:
            runner.wait(timeout=60)
        except subprocess.TimeoutExpired:
            runner.kill()
        target.kill()
        target.wait()
    starts, statuses = _results(start - timedelta(seconds=EARLY_S), end + timedelta(seconds=60))
    lags, misses, extra = slot_lags(phases, starts, start.timestamp(), end.timestamp())
    made = len(lags)
    return {
        "monitors": args.monitors,
        "interval_s": INTERVAL,
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "slots_due": made + misses,
        "slots_checked": made,
        "misses": misses,
        "extra_checks": extra,
        "statuses": statuses,
        "lag_p50_s": percentile(lags, misses, 0.5),
        "lag_p95_s": percentile(lags, misses, 0.95),
        "lag_p99_s": percentile(lags, misses, 0.99),
        "lag_max_s": max(lags) if lags else float("nan"),
        "baseline_p99_s": percentile(base, 0, 0.99),
        "runner_cpu_s": cpu,
        "runner_cpu_per_check_ms": cpu / made * 1000 if made else float("nan"),
        "runner_cpu_share": cpu / args.duration,
        "floor_cpu_per_check_ms": probe_floor["shared"]["cpu_per_check_ms"],
        "floor_checks_per_s": probe_floor["shared"]["checks_per_s"],
        "floor_failures": probe_floor["shared"]["failures"],
        "floor_aiohttp_cpu_per_check_ms": probe_floor["aiohttp"]["cpu_per_check_ms"],
        "target_cpu_per_check_ms": target_cpu / made * 1000 if made else float("nan"),
        "rss_max_mb": max(rss) if rss else float("nan"),
        "rss_mean_mb": statistics.fmean(rss) if rss else float("nan"),
        "load_average": os.getloadavg(),
    }


def _ms(seconds: float) -> str:
    return "inf (misses)" if math.isinf(seconds) else f"{seconds * 1000:.0f} ms"


def report(result: dict[str, Any]) -> bool:
    ok_lag = bool(result["lag_p99_s"] < P99_TARGET_S)
    ok_rss = bool(result["rss_max_mb"] < RSS_TARGET_MB)
    ok_misses = result["misses"] == 0
    lag_ratio = result["lag_p99_s"] / result["baseline_p99_s"] if result["baseline_p99_s"] else 0
    cpu_ratio = result["runner_cpu_per_check_ms"] / result["floor_cpu_per_check_ms"]
    print(
        f"{result['monitors']} HTTP monitors every {INTERVAL} s for {result['duration_s']} s, "
        f"concurrency {result['concurrency'] or 'default'}"
    )
    print(
        f"  slots due         {result['slots_due']}: {result['slots_checked']} checked, "
        f"{result['misses']} missed, {result['extra_checks']} re-checks ({result['statuses']})"
    )
    print(
        f"  start lag         p50 {_ms(result['lag_p50_s'])}, p95 {_ms(result['lag_p95_s'])}, "
        f"p99 {_ms(result['lag_p99_s'])}, max {_ms(result['lag_max_s'])} "
        f"({'meets' if ok_lag and ok_misses else 'MISSES'} p99 < {P99_TARGET_S:.0f} s, no misses)"
    )
    print(
        f"  baseline          asyncio sleep to 1,000 slots per 10 s: p99 "
        f"{result['baseline_p99_s'] * 1000:.1f} ms; runner p99 / baseline p99 = {lag_ratio:.1f}"
    )
    print(
        f"  runner CPU        {result['runner_cpu_per_check_ms']:.3f} ms per check "
        f"({result['runner_cpu_share'] * 100:.0f} % of a core); bare probe loop "
        f"{result['floor_cpu_per_check_ms']:.3f} ms per check "
        f"({result['floor_checks_per_s']:.0f} checks/s, {result['floor_failures']} failed); "
        f"runner / bare = {cpu_ratio:.2f}"
    )
    kept = result["floor_aiohttp_cpu_per_check_ms"]
    print(
        f"  probe alone       {kept:.3f} ms per check through aiohttp (the earlier path); "
        f"lean client / aiohttp = {result['floor_cpu_per_check_ms'] / kept:.2f}"
    )
    print(f"  target CPU        {result['target_cpu_per_check_ms']:.3f} ms per check")
    print(
        f"  runner RSS        max {result['rss_max_mb']:.0f} MB, mean "
        f"{result['rss_mean_mb']:.0f} MB ({'meets' if ok_rss else 'MISSES'} "
        f"< {RSS_TARGET_MB:.0f} MB)"
    )
    print("  load average      " + ", ".join(f"{x:.1f}" for x in result["load_average"]))
    return ok_lag and ok_rss and ok_misses


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    if args.baseline is not None:
        baseline(args.baseline)
        return 0
    if args.floor is not None:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buttress.settings")
        floor(args.floor)
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
