"""Business-calendar benchmark: ``add`` and ``between`` against the minute-stepping oracle.

Targets, on one core of the reference machine:

* ``60-day``: a calendar with two windows per weekday and 30 holidays a year, spans up to 60
  days (intervals up to 60 days, durations up to eight weeks of its business hours): at least
  100,000 ``add`` and 100,000 ``between`` per second;
* ``short``: four varied calendars, durations up to a working day, intervals up to three days:
  at least 20,000 per second;
* ``long``: the same calendars, durations up to 40 working days, intervals up to 120 days: at
  least 10,000 per second.

Each engine rate is the best of ``--repeat`` rounds over the whole set, in elapsed time (the
verdict's) and in the CPU time the process got (the machine may be shared; other work only
ever slows a round down). The baseline is the brute-force oracle of the
tests, run in the same process on the first inputs of each set; every oracle answer must equal
the engine's. It also prints the rate of the first call on a newly made calendar, whose cache
is empty.

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
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from buttress.sla.calendar import BusinessCalendar
from buttress.sla.holiday_sources import holidays_for
from buttress.sla.tests.oracle import MINUTE, Oracle

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"60-day": 100_000.0, "short": 20_000.0, "long": 10_000.0}
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


def two_windows_calendar(seed: int) -> BusinessCalendar:
    """Two windows each weekday in London, 30 holidays a year drawn on weekdays."""
    rng = random.Random(f"holidays-{seed}")
    holidays: list[date] = []
    for year in range(2025, 2028):
        weekdays = [
            day
            for day in (date(year, 1, 1) + timedelta(days=n) for n in range(365))
            if day.weekday() < 5 and day.year == year
        ]
        holidays += rng.sample(weekdays, 30)
    windows = [(clock(8, 30), clock(12, 30)), (clock(13, 15), clock(17, 45))]
    return BusinessCalendar("Europe/London", dict.fromkeys(range(5), windows), holidays)


def cases(
    rng: random.Random,
    count: int,
    max_duration: timedelta,
    max_span: timedelta,
    choices: Sequence[BusinessCalendar],
) -> list[Case]:
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


@dataclass(frozen=True)
class Timing:
    wall: float  # calls per second of elapsed time
    cpu: float  # calls per second of the CPU time this process got
    answers: list[object]


def rate(operation: Callable[[Case], object], inputs: Sequence[Case]) -> Timing:
    began, began_cpu = time.perf_counter(), time.process_time()
    answers = [operation(case) for case in inputs]
    wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    return Timing(len(inputs) / wall, len(inputs) / max(cpu, 1e-9), answers)


def measure(
    name: str, inputs: Sequence[Case], oracle_count: int, repeat: int
) -> list[dict[str, Any]]:
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
        # The best of ``repeat`` rounds: other work on a shared machine only ever slows a round.
        rounds = [rate(engine, inputs) for _ in range(repeat)]
        same = [rate(engine, sample) for _ in range(repeat)]
        same_rate = max(timing.wall for timing in same)
        oracle_timing = rate(oracle, sample)
        oracle_rate = oracle_timing.wall
        rows.append(
            {
                "inputs": name,
                "operation": operation,
                "count": len(inputs),
                "ops_per_s": max(timing.wall for timing in rounds),
                "cpu_ops_per_s": max(timing.cpu for timing in rounds),
                "oracle_count": len(sample),
                "engine_ops_per_s_on_oracle_inputs": same_rate,
                "oracle_ops_per_s": oracle_rate,
                "ratio": same_rate / oracle_rate,
                "mismatches": sum(
                    a != b for a, b in zip(same[0].answers, oracle_timing.answers, strict=True)
                ),
                "target_ops_per_s": TARGETS[name],
            }
        )
    return rows


def first_use(inputs: Sequence[Case]) -> dict[str, float]:
    """Rates of the first call on a newly made calendar, whose cache of business time is empty
    (as when an engine is made for one answer); the zone's UTC-offset changes stay cached."""
    calls: dict[str, Callable[[BusinessCalendar, Case], object]] = {
        "add": lambda calendar, case: calendar.add(case.start, case.duration),
        "between": lambda calendar, case: calendar.between(case.start, case.end),
    }
    rates = {}
    for operation, call in calls.items():
        fresh = [
            BusinessCalendar(
                case.calendar.timezone,
                case.calendar.weekly,
                case.calendar.holidays,
                case.calendar.closures,
            )
            for case in inputs
        ]
        began = time.perf_counter()
        for calendar, case in zip(fresh, inputs, strict=True):
            call(calendar, case)
        rates[operation] = len(inputs) / (time.perf_counter() - began)
    return rates


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="inputs per set")
    parser.add_argument("--oracle-count", type=int, default=40, help="inputs given to the oracle")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed rounds of the engine per set; the best counts"
    )
    parser.add_argument("--json", type=Path, help="write results here (default bench/results/)")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    varied = calendars()
    two_windows = two_windows_calendar(args.seed)
    sets = {
        "60-day": cases(
            rng, args.count, 8 * 5 * timedelta(hours=8.5), timedelta(days=60), [two_windows]
        ),
        "short": cases(rng, args.count, timedelta(hours=8), timedelta(days=3), varied),
        "long": cases(rng, args.count, timedelta(days=40 * 8 / 24), timedelta(days=120), varied),
    }
    # Warm the caches (UTC-offset changes per zone and year, business time per calendar), as a
    # long-running process has them.
    for inputs in sets.values():
        for case in inputs[:200]:
            case.calendar.between(case.start, case.end)
    rows = [
        row
        for name, inputs in sets.items()
        for row in measure(name, inputs, args.oracle_count, args.repeat)
    ]
    first = first_use(sets["60-day"][: min(args.count, 1000)])

    header = (
        f"{'inputs':<7}{'operation':<10}{'count':>7}{'ops/s':>10}{'cpu ops/s':>10}{'oracle n':>9}"
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
            f"{row['cpu_ops_per_s']:>10.0f}"
            f"{row['oracle_count']:>9}{row['oracle_ops_per_s']:>13.1f}{row['ratio']:>9.0f}x"
            f"{row['mismatches']:>9}{row['target_ops_per_s']:>8.0f}  {'PASS' if passed else 'FAIL'}"
        )
    print(
        f"ops/s: the best of {args.repeat} rounds, in elapsed time (the verdict's); cpu ops/s: "
        "in the CPU time the process got, which other work on the machine does not take away"
    )
    print(
        "ratio: the engine's rate over the oracle's on the same inputs (the first "
        f"{args.oracle_count} of each set)"
    )
    print(
        f"first call on a new calendar (60-day inputs, {min(args.count, 1000)}): "
        f"add {first['add']:.0f}/s, between {first['between']:.0f}/s"
    )
    path = (
        args.json
        or ROOT / "bench" / "results" / f"sla_calendar-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"seed": args.seed, "repeat": args.repeat, "rows": rows, "first_use_ops_per_s": first},
            indent=2,
        )
    )
    print(f"results written to {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
