"""Probe throughput per CPU-second: buttress's probe engine against Prometheus's blackbox_exporter.

Both probe the same local targets, served by a third process whose CPU time counts for neither
side: an HTTP server, a TCP listener and an HTTPS server with a self-signed certificate. Every
check opens a new connection (as a monitoring check does), and every answer must be a success.

* **buttress**: one process runs the probe engine (``buttress.monitoring.probes.run_probe``)
  in an asyncio loop, ``--concurrency`` checks in flight, HTTP checks through the lean HTTP/1.1
  client with one shared ``HttpClient`` as in the runner (each on a new connection with a full
  TLS handshake, no TLS session resumed); its CPU seconds are
  the process's own (``getrusage``) over the measured checks, the loop that schedules them
  included.
* **blackbox_exporter**: the exporter (``prometheus-blackbox-exporter``, a Go binary) is
  driven by a small asyncio client that sends ``GET /probe?module=...&target=...`` over
  ``--concurrency`` keep-alive connections, as Prometheus scrapes it. Its CPU seconds are the
  exporter's (from ``/proc``) plus the driver's own: the driver plays the part of our loop,
  which decides what to check and reads the outcome. The ratio is also printed against the
  exporter alone, which flatters the exporter.

Targets (goal): buttress checks per CPU-second at least 2x the exporter's for HTTP and TCP, 1x
for HTTPS, against the exporter plus its driver.

    python -m bench.probe_throughput                      # the full run
    python -m bench.probe_throughput --checks 500 --repeat 1   # a quick look

Install the exporter with ``apt-get install prometheus-blackbox-exporter`` (Debian), or pass
``--exporter PATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RESULTS = Path(__file__).with_name("results")
TARGETS = {"http": 2.0, "tcp": 2.0, "https": 1.0}
EXPORTER_MODULES = """
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: []
  https_insecure:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      tls_config:
        insecure_skip_verify: true
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
"""
HTTP_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
    b"Connection: close\r\n\r\nok"
)


def _cpu_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# --- the targets (their own process) ----------------------------------------------------------


async def _answer_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(HTTP_ANSWER)
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _hold_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.read(1024)  # until the prober closes
    except OSError:
        pass
    finally:
        writer.close()


async def _serve_targets(cert: str, key: str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    http = await asyncio.start_server(_answer_http, HOST, 0, backlog=1024)
    tcp = await asyncio.start_server(_hold_tcp, HOST, 0, backlog=1024)
    https = await asyncio.start_server(_answer_http, HOST, 0, ssl=context, backlog=1024)
    ports = {
        name: server.sockets[0].getsockname()[1]
        for name, server in (("http", http), ("tcp", tcp), ("https", https))
    }
    print(json.dumps(ports), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


def _make_certificate(directory: Path) -> tuple[str, str]:
    from buttress.monitoring.tests.servers import make_leaf

    issued = make_leaf(directory, "bench-target")
    return str(issued.cert_file), str(issued.key_file)


# --- buttress's side (its own process) --------------------------------------------------------


async def _run_ours(
    kind: str, config: dict[str, Any], checks: int, concurrency: int
) -> dict[str, Any]:
    from buttress.monitoring.probes import HttpClient, run_probe
    from buttress.monitoring.specs import build_spec

    probe_kind = "http" if kind == "https" else kind
    spec = build_spec(probe_kind, config, allow_private=True)
    remaining = checks
    failures: list[str] = []
    # As in the runner: one client for every HTTP check, each check on a new connection.
    client = HttpClient()

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            result = await run_probe(spec, http=client)
            if result.status != "up":
                failures.append(result.message)

    async def round_of(count: int) -> tuple[float, float]:
        nonlocal remaining
        remaining = count
        cpu, wall = _own_cpu(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return _own_cpu() - cpu, time.perf_counter() - wall

    await round_of(min(checks, 200))  # warm-up: imports, TLS contexts, caches
    failures.clear()
    cpu, wall = await round_of(checks)
    await client.close()
    return {
        "checks": checks,
        "failures": len(failures),
        "first_failure": failures[:1],
        "cpu": cpu,
        "wall": wall,
    }


# --- the exporter's driver (its own process) --------------------------------------------------


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    """The body of one HTTP/1.1 answer, by its Content-Length or chunked."""
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return await reader.readexactly(int(line[15:]))
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return b"".join(chunks)
        chunks.append(chunk[:-2])


async def _drive(port: int, path: str, checks: int, concurrency: int) -> dict[str, Any]:
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    remaining = checks
    failures = 0

    async def worker() -> None:
        nonlocal remaining, failures
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while remaining > 0:
                remaining -= 1
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                body = await _read_body(reader, head)
                if b"\nprobe_success 1" not in body:
                    failures += 1
        finally:
            writer.close()

    async def round_of(count: int) -> tuple[float, float]:
        nonlocal remaining
        remaining = count
        cpu, wall = _own_cpu(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return _own_cpu() - cpu, time.perf_counter() - wall

    await round_of(min(checks, 200))
    failures = 0
    # The orchestrator reads the exporter's CPU time between the warm-up and the measure.
    print("ready", flush=True)
    sys.stdin.readline()
    cpu, wall = await round_of(checks)
    return {"checks": checks, "failures": failures, "cpu": cpu, "wall": wall}


# --- the orchestration --------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    checks: int
    failures: int
    cpu: float  # CPU seconds of the side, everything it needs included
    wall: float
    parts: dict[str, float]

    @property
    def per_cpu_second(self) -> float:
        return self.checks / self.cpu if self.cpu > 0 else float("inf")


def _child(args: list[str], *, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.probe_throughput", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=900,
    )
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_ours(kind: str, config: dict[str, Any], checks: int, concurrency: int) -> Figures:
    found = _child(["ours", kind, json.dumps(config), str(checks), str(concurrency)])
    return Figures(
        found["checks"],
        found["failures"],
        found["cpu"],
        found["wall"],
        {"probe loop": found["cpu"]},
    )


def measure_exporter(
    exporter_pid: int, port: int, path: str, checks: int, concurrency: int
) -> Figures:
    driver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.probe_throughput",
            "drive",
            str(port),
            path,
            str(checks),
            str(concurrency),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert driver.stdin is not None
    assert driver.stdout is not None
    if driver.stdout.readline().strip() != "ready":
        driver.kill()
        raise SystemExit("the exporter's driver failed while warming up")
    before = _cpu_of(exporter_pid)
    driver.stdin.write("go\n")
    driver.stdin.flush()
    line = driver.stdout.readline()
    after = _cpu_of(exporter_pid)
    if driver.wait(timeout=60) != 0 or not line:
        raise SystemExit("the exporter's driver failed")
    found = json.loads(line)
    exporter_cpu = after - before
    return Figures(
        found["checks"],
        found["failures"],
        exporter_cpu + found["cpu"],
        found["wall"],
        {"exporter": exporter_cpu, "driver": found["cpu"]},
    )


def _start_exporter(binary: str, directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    config = directory / "blackbox.yml"
    config.write_text(EXPORTER_MODULES, encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--web.listen-address={HOST}:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("blackbox_exporter did not start")


def _exporter_version(binary: str) -> str:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).splitlines()[0] if (done.stdout or done.stderr) else "?"


def orchestrate(options: argparse.Namespace) -> int:
    binary = (
        options.exporter
        or shutil.which("prometheus-blackbox-exporter")
        or shutil.which("blackbox_exporter")
    )
    if binary is None:
        print(
            "blackbox_exporter not found: apt-get install prometheus-blackbox-exporter",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
        directory = Path(tmp)
        cert, key = _make_certificate(directory)
        targets = subprocess.Popen(
            [sys.executable, "-m", "bench.probe_throughput", "targets", cert, key],
            stdout=subprocess.PIPE,
            text=True,
        )
        exporter, exporter_port = _start_exporter(binary, directory)
        try:
            assert targets.stdout is not None
            ports = json.loads(targets.stdout.readline())
            cases = {
                "http": (
                    {"url": f"http://{HOST}:{ports['http']}/"},
                    f"/probe?module=http_2xx&target=http://{HOST}:{ports['http']}/",
                ),
                "tcp": (
                    {"host": HOST, "port": ports["tcp"]},
                    f"/probe?module=tcp_connect&target={HOST}:{ports['tcp']}",
                ),
                "https": (
                    {"url": f"https://{HOST}:{ports['https']}/", "verify_tls": False},
                    f"/probe?module=https_insecure&target=https://{HOST}:{ports['https']}/",
                ),
            }
            rows = []
            for kind in options.kinds:
                config, path = cases[kind]
                ours = [
                    measure_ours(kind, config, options.checks, options.concurrency)
                    for _ in range(options.repeat)
                ]
                theirs = [
                    measure_exporter(
                        exporter.pid, exporter_port, path, options.checks, options.concurrency
                    )
                    for _ in range(options.repeat)
                ]
                best_ours = max(ours, key=lambda f: f.per_cpu_second)
                best_theirs = max(theirs, key=lambda f: f.per_cpu_second)
                rows.append(_row(kind, best_ours, best_theirs))
        finally:
            exporter.terminate()
            targets.terminate()
            exporter.wait(timeout=10)
            targets.wait(timeout=10)
    return _report(rows, options, _exporter_version(binary))


def _row(kind: str, ours: Figures, theirs: Figures) -> dict[str, Any]:
    exporter_alone = theirs.checks / theirs.parts["exporter"] if theirs.parts["exporter"] else 0.0
    ratio = ours.per_cpu_second / theirs.per_cpu_second
    return {
        "kind": kind,
        "checks": ours.checks,
        "failures": ours.failures + theirs.failures,
        "ours_per_cpu_s": ours.per_cpu_second,
        "ours_per_s": ours.checks / ours.wall,
        "ours_cpu_s": ours.cpu,
        "exporter_per_cpu_s": theirs.per_cpu_second,
        "exporter_alone_per_cpu_s": exporter_alone,
        "exporter_per_s": theirs.checks / theirs.wall,
        "exporter_cpu_s": theirs.parts["exporter"],
        "driver_cpu_s": theirs.parts["driver"],
        "ratio": ratio,
        "ratio_vs_exporter_alone": ours.per_cpu_second / exporter_alone if exporter_alone else 0.0,
        "target": TARGETS[kind],
        "pass": ratio >= TARGETS[kind] and ours.failures + theirs.failures == 0,
    }


def _report(rows: list[dict[str, Any]], options: argparse.Namespace, version: str) -> int:
    print(f"blackbox_exporter: {version}")
    print(
        f"{options.checks} checks per round, {options.concurrency} in flight, best of "
        f"{options.repeat} rounds per side; every check opens a new connection."
    )
    header = (
        f"{'check':6} {'buttress/cpu-s':>15} {'exporter+driver':>16} {'exporter alone':>15} "
        f"{'ratio':>6} {'vs alone':>8} {'target':>7}  verdict"
    )
    print(header)
    for row in rows:
        verdict = "PASS" if row["pass"] else "FAIL"
        if row["failures"]:
            verdict += f" ({row['failures']} failed checks)"
        print(
            f"{row['kind']:6} {row['ours_per_cpu_s']:15,.0f} {row['exporter_per_cpu_s']:16,.0f} "
            f"{row['exporter_alone_per_cpu_s']:15,.0f} {row['ratio']:6.2f} "
            f"{row['ratio_vs_exporter_alone']:8.2f} {row['target']:6.1f}x  {verdict}"
        )
    print("wall-clock checks/s (shared machine, for reference):")
    for row in rows:
        print(
            f"  {row['kind']:6} buttress {row['ours_per_s']:8,.0f}   "
            f"exporter {row['exporter_per_s']:8,.0f}"
        )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"probe_throughput-{stamp}.json").write_text(
        json.dumps({"exporter": version, "options": vars(options), "rows": rows}, indent=2),
        encoding="utf-8",
    )
    return 0 if all(row["pass"] for row in rows) else 1


def _run(coroutine: Coroutine[Any, Any, dict[str, Any]]) -> None:
    print(json.dumps(asyncio.run(coroutine)), flush=True)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "targets":
        asyncio.run(_serve_targets(argv[1], argv[2]))
        return 0
    if argv and argv[0] == "ours":
        kind, config, checks, concurrency = argv[1], json.loads(argv[2]), int(argv[3]), int(argv[4])
        _run(_run_ours(kind, config, checks, concurrency))
        return 0
    if argv and argv[0] == "drive":
        port, path, checks, concurrency = int(argv[1]), argv[2], int(argv[3]), int(argv[4])
        _run(_drive(port, path, checks, concurrency))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--checks", type=int, default=3000, help="measured checks per round")
    parser.add_argument("--concurrency", type=int, default=16, help="checks in flight")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per side; the best counts")
    parser.add_argument("--kinds", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--exporter", help="the blackbox_exporter binary")
    return orchestrate(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
