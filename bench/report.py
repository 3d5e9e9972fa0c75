"""Printing the figures and judging them against the targets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.querycount import Comparison

API_P95_TARGET_MS = 50.0
UI_P95_TARGET_MS = 150.0


def target_for(name: str) -> float | None:
    if name.startswith("api"):
        return API_P95_TARGET_MS
    if name.startswith("ui"):
        return UI_P95_TARGET_MS
    return None


def print_counts(comparisons: Sequence[Comparison]) -> None:
    print("\nDatabase queries per request (second request of each, Django test client)")
    for comparison in comparisons:
        verdict = "constant" if comparison.constant else "NOT CONSTANT"
        print(f"  {comparison.title}: {verdict}")
        for count in comparison.counts:
            rows = "" if count.rows is None else f", {count.rows} rows"
            print(
                f"    {count.label:<42} {count.queries:>3} queries"
                f"  (HTTP {count.status}{rows})  {count.path}"
            )


def print_table(
    endpoints: Sequence[dict[str, Any]], *, target_of: Callable[[str], float | None] = target_for
) -> None:
    baseline = endpoints[0]["p95_ms"] if endpoints else float("nan")
    header = (
        f"{'endpoint':<34}{'requests':>9}{'errors':>7}{'p50':>8}{'p95':>8}{'p99':>8}"
        f"{'max':>8}{'req/s':>8}{'p95/base':>9}{'target':>8}"
    )
    print("\nLatency in ms, measured by the load generator over loopback")
    print(header)
    print("-" * len(header))
    for row in endpoints:
        target = target_of(row["name"])
        ratio = row["p95_ms"] / baseline if baseline else float("nan")
        print(
            f"{row['name']:<34}{row['requests']:>9}{row['errors']:>7}"
            f"{row['p50_ms']:>8.1f}{row['p95_ms']:>8.1f}{row['p99_ms']:>8.1f}"
            f"{row['max_ms']:>8.1f}{row['req_per_s']:>8.0f}{ratio:>8.1f}x"
            f"{'' if target is None else f'<{target:.0f}':>8}"
        )
    if all("server_cpu_ms" in row for row in endpoints):
        print("\nCPU time per request in ms (from /proc), and the rest of the machine's load")
        header = (
            f"{'endpoint':<34}{'web':>8}{'database':>10}{'client':>8}{'total':>8}{'other load':>12}"
        )
        print(header)
        print("-" * len(header))
        for row in endpoints:
            total = row["server_cpu_ms"] + row["database_cpu_ms"] + row["client_cpu_ms"]
            print(
                f"{row['name']:<34}{row['server_cpu_ms']:>8.1f}{row['database_cpu_ms']:>10.1f}"
                f"{row['client_cpu_ms']:>8.1f}{total:>8.1f}{row['other_cpu_share']:>11.0%}"
            )
    reconnects = {row["name"]: row["connections_opened"] for row in endpoints}
    print(f"connections opened per endpoint (keep-alive check): {reconnects}")


def verdicts(
    endpoints: Sequence[dict[str, Any]],
    comparisons: Sequence[Comparison],
    *,
    target_of: Callable[[str], float | None] = target_for,
) -> list[tuple[str, bool]]:
    """Each check with its outcome, printed as PASS or FAIL."""
    outcome: list[tuple[str, bool]] = []
    for row in endpoints:
        target = target_of(row["name"])
        if target is None:
            continue
        ok = row["errors"] == 0 and row["p95_ms"] < target
        detail = f"p95 {row['p95_ms']:.1f} ms < {target:.0f} ms, {row['errors']} errors"
        outcome.append((f"{row['name']}: {detail}", ok))
    for comparison in comparisons:
        counts = "/".join(str(c.queries) for c in comparison.counts)
        outcome.append((f"{comparison.title}: queries {counts} all equal", comparison.constant))
    print()
    for name, ok in outcome:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return outcome
