"""Load from Debian's ``wrk``: a C load generator, so the client does not eat the CPU the server
under test needs on a small machine (a Python client costs about as much per request as the
intake server itself).

Each connection sends its next request as soon as the previous answer is read (closed loop).
A Lua script cycles through a list of requests (a path, or a path and a file holding a POST
body) and prints wrk's summary as one JSON line: requests answered, seconds, latency
percentiles, non-2xx/3xx answers and socket errors.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.loadgen import LOOPBACK, CpuSample, cpu_sample

SCRIPT = r"""
local items = {}
local offset = 0

function setup(thread)
  thread:set("offset", offset)
  offset = offset + 7919
end

function init(args)
  for line in io.lines(args[1]) do
    local method, path, body_file = line:match("^(%S+) (%S+) ?(%S*)$")
    local body = nil
    local headers = {}
    if body_file ~= "" then
      local handle = io.open(body_file, "rb")
      body = handle:read("*a")
      handle:close()
      headers["Content-Type"] = "application/json"
    end
    items[#items + 1] = wrk.format(method, path, headers, body)
  end
  counter = offset
end

function request()
  counter = counter + 1
  return items[(counter % #items) + 1]
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %f, "status_errors": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""


def ensure_wrk() -> str:
    """The path of ``wrk``, installing Debian's package first when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print(
        "wrk (Debian package 'wrk', a C HTTP load generator) is not installed; installing it "
        "with apt-get so that the load generator does not take the server's CPU ...",
        file=sys.stderr,
        flush=True,
    )
    done = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "wrk"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    found = shutil.which("wrk")
    if done.returncode != 0 or not found:
        msg = f"could not install wrk (run 'apt-get install wrk' as root):\n{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    return found


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None


def run(
    host: str,
    port: int,
    requests: list[Request],
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    server_pid: int | None = None,
    database_name: str = "-",
) -> dict[str, Any]:
    """Run wrk for ``seconds`` and return its figures, with CPU per request when a server
    pid is given (see :func:`bench.loadgen.cpu_sample`)."""
    if host not in LOOPBACK:
        msg = f"refusing to send load to {host}: loopback only"
        raise ValueError(msg)
    if not requests:
        raise ValueError("no requests to send")
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        directory = Path(folder)
        script = directory / "cycle.lua"
        script.write_text(SCRIPT, encoding="utf-8")
        lines = []
        for index, item in enumerate(requests):
            body_file = ""
            if item.body is not None:
                path = directory / f"body-{index}.json"
                path.write_bytes(item.body)
                body_file = str(path)
            lines.append(f"{item.method} {item.path} {body_file}".rstrip())
        listing = directory / "requests.txt"
        listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = [
            wrk,
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={max(1, round(seconds))}s",
            "--timeout=10s",
            f"--script={script}",
            f"http://{host}:{port}/",
            "--",
            str(listing),
        ]
        before: CpuSample | None = None
        if server_pid is not None:
            before = cpu_sample(server_pid, database_name)
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 120, check=False
        )
        after = cpu_sample(server_pid, database_name) if server_pid is not None else None
    if done.returncode != 0:
        msg = f"wrk failed ({done.returncode}):\n{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    answered = int(summary["requests"])
    elapsed = summary["duration_us"] / 1e6
    errors = sum(
        int(summary[name])
        for name in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    figures: dict[str, Any] = {
        "requests": answered,
        "seconds": elapsed,
        "req_per_s": answered / elapsed if elapsed else 0.0,
        "p50_ms": summary["p50_us"] / 1000,
        "p90_ms": summary["p90_us"] / 1000,
        "p99_ms": summary["p99_us"] / 1000,
        "max_ms": summary["max_us"] / 1000,
        "mean_ms": summary["mean_us"] / 1000,
        "errors": errors,
        "status_errors": int(summary["status_errors"]),
        "connections": connections,
        "command": " ".join([*command[:-2], "--", "<requests>"]),
    }
    if before is not None and after is not None and answered:
        database = sum(used - before.database.get(pid, 0.0) for pid, used in after.database.items())
        figures["server_cpu_ms"] = (after.server - before.server) * 1000 / answered
        figures["database_cpu_ms"] = database * 1000 / answered
        busy = after.machine_busy - before.machine_busy
        # wrk is a child of this process and not counted in ``client``: the rest of the
        # machine's CPU (wrk included) as a share of all its CPUs.
        figures["rest_cpu_share"] = max(0.0, busy - (after.server - before.server) - database) / (
            elapsed * (os.cpu_count() or 1)
        )
    return figures
