"""Business-calendar benchmark: ``add`` and ``between`` against the minute-stepping oracle.

Target: on short inputs (durations up to a working day, intervals up to three days) both
operations run at least 20,000 per second, and on long inputs (durations up to 40 working
days, intervals up to 120 days) at least 10,000 per second, on one core of the reference
machine. The baseline is the brute-force oracle of the tests, run in the same process on the
first inputs of each set; every oracle answer must equal the engine's.

    python -m bench.sla_calendar                     # the full run
    python -m bench.sla_calendar --count 2000 --oracle-count 10   # a quick check
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from buttress.sla.calendar import BusinessCalendar
from buttress.sla.holiday_sources import holidays_for
from buttress.sla.tests.oracle import MINUTE, Oracle

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"short": 20_000.0, "long": 10_000.0}
ORACLE_HORIZON = timedelta(days=400)
FIRST_DAY = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    calendar: BusinessCalendar
    start: datetime
    end: datetime
    duration: timedelta


def calendars() -> list[BusinessCalendar]:
    years = range(2025, 2027)
    england = holidays_for("GB", "ENG", years)
    shutdown = [
        (datetime(2025, 12, 24, 13, tzinfo=UTC), datetime(2025, 12, 24, 17, tzinfo=UTC)),
        (datetime(2025, 8, 1, 12, tzinfo=UTC), datetime(2025, 8, 1, 14, tzinfo=UTC)),
    ]
    return [
        BusinessCalendar.office_hours("Europe/London", holidays=england, closures=shutdown),
        BusinessCalendar.always("America/New_York"),
        BusinessCalendar(
            "Australia/Adelaide",
            {
                day: [(clock(7), clock(12)), (clock(12, 30), clock(16)), (clock(18), clock(22))]
                for day in range(6)
            },
            holidays=holidays_for("AU", "SA", years),
        ),
        BusinessCalendar(
            "America/New_York",
            {0: [(clock(22), clock(0))], **{day: [(clock(0), clock(6))] for day in range(1, 5)}},
            holidays=holidays_for("US", "NY", years),
        ),
    ]


def cases(
    rng: random.Random, count: int, max_duration: timedelta, max_span: timedelta
) -> list[Case]:
    choices = calendars()
    made = []
    for _ in range(count):
        start = FIRST_DAY + rng.randrange(300 * 24 * 60) * MINUTE
        made.append(
            Case(
                calendar=rng.choice(choices),
                start=start,
                end=start + rng.randrange(max_span // MINUTE) * MINUTE,
                duration=rng.randrange(max_duration // MINUTE) * MINUTE,
            )
        )
    return made


def rate(operation: Callable[[Case], object], inputs: Sequence[Case]) -> tuple[float, list[object]]:
    began = time.perf_counter()
    answers = [operation(case) for case in inputs]
    return len(inputs) / (time.perf_counter() - began), answers


def measure(name: str, inputs: Sequence[Case], oracle_count: int) -> list[dict[str, Any]]:
    oracles = {id(calendar): Oracle(calendar) for calendar in {case.calendar for case in inputs}}
    operations: dict[str, tuple[Callable[[Case], object], Callable[[Case], object]]] = {
        "add": (
            lambda case: case.calendar.add(case.start, case.duration),
            lambda case: oracles[id(case.calendar)].add(case.start, case.duration, ORACLE_HORIZON),
        ),
        "between": (
            lambda case: case.calendar.between(case.start, case.end),
            lambda case: oracles[id(case.calendar)].between(case.start, case.end),
        ),
    }
    rows = []
    sample = inputs[:oracle_count]
    for operation, (engine, oracle) in operations.items():
        engine_rate, _ = rate(engine, inputs)
        same_rate, engine_answers = rate(engine, sample)
        oracle_rate, oracle_answers = rate(oracle, sample)
        rows.append(
            {
                "inputs": name,
                "operation": operation,
                "count": len(inputs),
                "ops_per_s": engine_rate,
                "oracle_count": len(sample),
                "engine_ops_per_s_on_oracle_inputs": same_rate,
                "oracle_ops_per_s": oracle_rate,
                "ratio": same_rate / oracle_rate,
                "mismatches": sum(
                    a != b for a, b in zip(engine_answers, oracle_answers, strict=True)
                ),
                "target_ops_per_s": TARGETS[name],
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="inputs per set")
    parser.add_argument("--oracle-count", type=int, default=40, help="inputs given to the oracle")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--json", type=Path, help="write results here (default bench/results/)")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    sets = {
        "short": cases(rng, args.count, timedelta(hours=8), timedelta(days=3)),
        "long": cases(rng, args.count, timedelta(days=40 * 8 / 24), timedelta(days=120)),
    }
    # Warm the per-year caches of UTC-offset changes, as a long-running process has them.
    for case in sets["long"][:200]:
        case.calendar.between(case.start, case.end)
    rows = [
        row for name, inputs in sets.items() for row in measure(name, inputs, args.oracle_count)
    ]

    header = (
        f"{'inputs':<7}{'operation':<10}{'count':>7}{'ops/s':>10}{'oracle n':>9}"
        f"{'oracle ops/s':>13}{'ratio':>10}{'mismatch':>9}{'target':>8}  verdict"
    )
    print(header)
    print("-" * len(header))
    failed = False
    for row in rows:
        passed = row["ops_per_s"] >= row["target_ops_per_s"] and row["mismatches"] == 0
        failed |= not passed
        print(
            f"{row['inputs']:<7}{row['operation']:<10}{row['count']:>7}{row['ops_per_s']:>10.0f}"
            f"{row['oracle_count']:>9}{row['oracle_ops_per_s']:>13.1f}{row['ratio']:>9.0f}x"
            f"{row['mismatches']:>9}{row['target_ops_per_s']:>8.0f}  {'PASS' if passed else 'FAIL'}"
        )
    print(
        "ratio: the engine's rate over the oracle's on the same inputs (the first "
        f"{args.oracle_count} of each set)"
    )
    path = (
        args.json
        or ROOT / "bench" / "results" / f"sla_calendar-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"seed": args.seed, "rows": rows}, indent=2))
    print(f"results written to {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
