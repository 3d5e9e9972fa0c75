"""A closed-loop HTTP/1.1 load generator for loopback benchmarks.

Run as its own process (``python -m bench.loadgen CONFIG.json``) so that its work does not share
an interpreter with the code that seeds and checks the database; it prints one JSON document
with every endpoint's latencies on stdout.

Each of ``concurrency`` threads holds one keep-alive connection and sends its next request as
soon as the previous answer has been read in full, so a latency here is what a client waits
for a complete response. Endpoints are measured one after another, each after its own warm-up,
and the total number of requests is bounded by the configuration.
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
import os
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TypedDict
from urllib.parse import urlencode, urlsplit

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
TIMEOUT_SECONDS = 30.0


class EndpointConfig(TypedDict, total=False):
    name: str
    paths: list[str]
    headers: dict[str, str]
    # Follow ``next_cursor`` from this JSON list page to collect the paths to measure.
    discover_from: str
    discover_pages: int


class Config(TypedDict, total=False):
    host: str
    port: int
    concurrency: int
    requests: int
    warmup: int
    endpoints: list[EndpointConfig]
    # Where the CPU time goes: the server's process tree and the database's backends.
    server_pid: int
    database_name: str


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    connects: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, elapsed_ms: float, status: int, *, ok: bool, connected: bool) -> None:
        with self.lock:
            self.latencies_ms.append(elapsed_ms)
            key = str(status)
            self.statuses[key] = self.statuses.get(key, 0) + 1
            if not ok:
                self.errors += 1
            if connected:
                self.connects += 1


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds used so far by the server, the database backends, this process, everyone."""

    server: float
    database: dict[int, float]
    client: float
    machine_busy: float


def _proc_cpu(pid: str) -> tuple[int, float]:
    """The parent pid and the CPU seconds (user + system) of a process, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
        # The command name may hold spaces; the fields after its closing parenthesis do not.
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_sample(server_pid: int, database_name: str) -> CpuSample:
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    database: dict[int, float] = {}
    marker = f" {database_name} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parents[int(entry)], cpu[int(entry)] = _proc_cpu(entry)
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue
        # A PostgreSQL backend names its database in its process title.
        if command.startswith(b"postgres: ") and marker in command:
            database[int(entry)] = cpu[int(entry)]
    tree = {server_pid}
    changed = True
    while changed:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= children
        changed = bool(children)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open("/proc/stat", encoding="ascii") as handle:
        ticks = [int(v) for v in handle.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return CpuSample(
        server=sum(cpu.get(pid, 0.0) for pid in tree),
        database=database,
        client=usage.ru_utime + usage.ru_stime,
        machine_busy=(sum(ticks[:8]) - idle) / CLOCK_TICKS,
    )


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(len(sorted_values) * fraction))
    return sorted_values[rank - 1]


def _fetch(
    conn: http.client.HTTPConnection, path: str, headers: dict[str, str]
) -> tuple[int, bytes, bool]:
    """One request on ``conn``; returns status, body and whether a new connection was opened."""
    connected = conn.sock is None
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.will_close:
        # The server ends the connection after this answer; http.client reopens on the next
        # request, and the reconnect is counted so that the report can say so.
        conn.close()
    return response.status, body, connected


def discover(host: str, port: int, start: str, headers: dict[str, str], pages: int) -> list[str]:
    """The first ``pages`` list pages reachable from ``start`` by following ``next_cursor``."""
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)
    split = urlsplit(start)
    paths = [start]
    try:
        path = start
        while len(paths) < pages:
            status, body, _ = _fetch(conn, path, headers)
            if status != 200:
                msg = f"GET {path} answered {status} while following cursors"
                raise RuntimeError(msg)
            cursor = json.loads(body).get("next_cursor")
            if not cursor:
                break
            query = split.query + ("&" if split.query else "") + urlencode({"cursor": cursor})
            path = f"{split.path}?{query}"
            paths.append(path)
    finally:
        conn.close()
    return paths


def _run_phase(
    host: str,
    port: int,
    paths: list[str],
    headers: dict[str, str],
    *,
    total: int,
    concurrency: int,
) -> tuple[Outcome, float]:
    outcome = Outcome()
    counter = itertools.count()
    request_headers = {"Connection": "keep-alive", "Accept-Encoding": "identity", **headers}

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)
        try:
            while (index := next(counter)) < total:
                path = paths[index % len(paths)]
                started = time.perf_counter()
                try:
                    status, _, connected = _fetch(conn, path, request_headers)
                except (OSError, http.client.HTTPException):
                    conn.close()
                    outcome.add((time.perf_counter() - started) * 1000, 0, ok=False, connected=True)
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                outcome.add(elapsed, status, ok=status == 200, connected=connected)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome, time.perf_counter() - began


def _cpu_per_request(
    before: CpuSample | None, after: CpuSample | None, requests: int, seconds: float
) -> dict[str, float]:
    if before is None or after is None or not requests or not seconds:
        return {}
    server = after.server - before.server
    # A backend that started during the phase counts in full; one that ended is missed,
    # which the database keeps rare by holding its connections (CONN_MAX_AGE).
    database = sum(used - before.database.get(pid, 0.0) for pid, used in after.database.items())
    client = after.client - before.client
    busy = after.machine_busy - before.machine_busy
    cpus = os.cpu_count() or 1
    return {
        "server_cpu_ms": server * 1000 / requests,
        "database_cpu_ms": database * 1000 / requests,
        "client_cpu_ms": client * 1000 / requests,
        # CPU used by everything else on the machine meanwhile, as a share of all its CPUs.
        "other_cpu_share": max(0.0, busy - server - database - client) / (seconds * cpus),
    }


def measure(config: Config) -> dict[str, Any]:
    host, port = config["host"], int(config["port"])
    if host not in LOOPBACK:
        msg = f"refusing to send load to {host}: loopback only"
        raise ValueError(msg)
    concurrency = int(config["concurrency"])
    results: dict[str, Any] = {"concurrency": concurrency, "endpoints": []}
    for endpoint in config["endpoints"]:
        headers = dict(endpoint.get("headers", {}))
        paths = list(endpoint.get("paths", []))
        if "discover_from" in endpoint:
            paths = discover(
                host,
                port,
                endpoint["discover_from"],
                headers,
                int(endpoint.get("discover_pages", 40)),
            )
        if not paths:
            msg = f"endpoint {endpoint['name']} has no paths"
            raise ValueError(msg)
        _run_phase(host, port, paths, headers, total=int(config["warmup"]), concurrency=concurrency)
        probe = "server_pid" in config and "database_name" in config
        before = cpu_sample(config["server_pid"], config["database_name"]) if probe else None
        outcome, seconds = _run_phase(
            host, port, paths, headers, total=int(config["requests"]), concurrency=concurrency
        )
        after = cpu_sample(config["server_pid"], config["database_name"]) if probe else None
        ordered = sorted(outcome.latencies_ms)
        cpu = _cpu_per_request(before, after, len(ordered), seconds)
        results["endpoints"].append(
            {
                "name": endpoint["name"],
                "distinct_paths": len(paths),
                "example_path": paths[min(1, len(paths) - 1)],
                "requests": len(ordered),
                "errors": outcome.errors,
                "statuses": outcome.statuses,
                "connections_opened": outcome.connects,
                "seconds": seconds,
                "req_per_s": len(ordered) / seconds if seconds else 0.0,
                "p50_ms": percentile(ordered, 0.50),
                "p95_ms": percentile(ordered, 0.95),
                "p99_ms": percentile(ordered, 0.99),
                "max_ms": ordered[-1] if ordered else float("nan"),
                "mean_ms": sum(ordered) / len(ordered) if ordered else float("nan"),
                **cpu,
            }
        )
    return results


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.loadgen CONFIG.json", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        config: Config = json.load(handle)
    json.dump(measure(config), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
