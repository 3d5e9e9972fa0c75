"""On-call engine benchmark: final shifts of layered schedules against the minute oracle.

Targets, on one core of the reference machine, for schedules of three layers (a weekly
round-the-clock rotation, a daily office-hours layer restricted to weekdays, a 12-hour
rotation restricted to weekends) and four overrides or swaps, in zones with clock changes:

* ``now``: who is on call at an instant (what escalation asks): at least 1,000 per second
  (under a millisecond each);
* ``3-day``: the shifts over three days around a clock change: at least 400 per second;
* ``14-day``: a schedule page's timeline: at least 150 per second;
* ``year``: 367 days (the longest question the API takes): at least 8 per second (under
  125 ms each).

Offset changes are found once per zone and year and kept, as in a long-running process; the
first round pays for finding them.

Each rate is the best of ``--repeat`` rounds. The baseline is the tests' minute-stepping
oracle, run in the same process on the first ``--oracle-count`` inputs of the ``3-day`` set;
every oracle answer must equal the engine's.

    python -m bench.oncall_engine                       # the full run
    python -m bench.oncall_engine --count 200 --oracle-count 3   # a quick check
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from buttress.oncall import engine
from buttress.oncall.tests.test_engine import _by_minute, oracle

ROOT = Path(__file__).resolve().parent.parent
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago"]
TARGETS = {"now": 1_000.0, "3-day": 400.0, "14-day": 150.0, "year": 8.0}
LENGTHS = {
    "now": timedelta(minutes=1),
    "3-day": timedelta(days=3),
    "14-day": timedelta(days=14),
    "year": timedelta(days=367),
}


@dataclass(frozen=True)
class Case:
    zone: str
    layers: list[engine.Layer]
    overrides: list[engine.Override]
    start: datetime
    end: datetime


def _change_near(zone: str, after: datetime) -> datetime:
    tz = ZoneInfo(zone)
    before = after.astimezone(tz).utcoffset()
    probe = after
    for _ in range(400 * 24):
        probe += timedelta(hours=1)
        if probe.astimezone(tz).utcoffset() != before:
            return probe
    return after


def case(rng: random.Random, length: timedelta) -> Case:
    zone = rng.choice(ZONES)
    first = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(700))
    around = _change_near(zone, first) - timedelta(hours=rng.randrange(48))
    start = around.replace(second=0, microsecond=0)
    begin = (start - timedelta(days=rng.randrange(1, 60))).replace(tzinfo=None)
    people = list(range(1, 9))
    rng.shuffle(people)
    weekdays = {day: [(clock(9), clock(17))] for day in range(5)}
    weekends = {day: [(clock(0), clock(0))] for day in (5, 6)}
    layers = [
        engine.Layer(1, begin.replace(hour=9, minute=0), timedelta(days=7), tuple(people[:4])),
        engine.Layer(
            2, begin.replace(hour=9, minute=0), timedelta(days=1), tuple(people[4:6]), weekdays
        ),
        engine.Layer(
            3, begin.replace(hour=8, minute=0), timedelta(hours=12), tuple(people[6:]), weekends
        ),
    ]
    overrides = []
    for key in range(4):
        at = start + timedelta(minutes=rng.randrange(int(length.total_seconds() // 60) + 1))
        overrides.append(
            engine.Override(
                100 + key,
                at,
                at + timedelta(hours=rng.randrange(1, 30)),
                rng.choice(people),
                rng.choice([None, *people[:4]]),
            )
        )
    return Case(zone, layers, overrides, start, start + length)


def run(cases: Sequence[Case]) -> float:
    began = time.perf_counter()
    for item in cases:
        engine.final_shifts(item.zone, item.layers, item.overrides, item.start, item.end)
    return len(cases) / (time.perf_counter() - began)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2_000, help="inputs per set (year: a tenth)")
    parser.add_argument("--oracle-count", type=int, default=10)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write results here (default bench/results/)")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    sets = {
        name: [
            case(rng, length)
            for _ in range(args.count if name != "year" else max(1, args.count // 10))
        ]
        for name, length in LENGTHS.items()
    }
    checked = sets["3-day"][: args.oracle_count]
    began = time.perf_counter()
    expected = [oracle(c.zone, c.layers, c.overrides, c.start, c.end) for c in checked]
    oracle_rate = len(checked) / (time.perf_counter() - began) if checked else 0.0
    mismatches = sum(
        _by_minute(
            engine.final_shifts(c.zone, c.layers, c.overrides, c.start, c.end), c.start, c.end
        )
        != answer
        for c, answer in zip(checked, expected, strict=True)
    )
    rows: list[dict[str, Any]] = []
    for name, inputs in sets.items():
        rate = max(run(inputs) for _ in range(args.repeat))
        rows.append({"set": name, "count": len(inputs), "per_s": rate, "target": TARGETS[name]})

    print(f"{'set':<8}{'count':>7}{'per s':>10}{'target':>8}  verdict")
    failed = mismatches > 0
    for row in rows:
        passed = row["per_s"] >= row["target"]
        failed |= not passed
        print(
            f"{row['set']:<8}{row['count']:>7}{row['per_s']:>10.0f}{row['target']:>8.0f}  "
            f"{'PASS' if passed else 'FAIL'}"
        )
    three_day = next(row["per_s"] for row in rows if row["set"] == "3-day")
    ratio = three_day / oracle_rate if oracle_rate else 0.0
    print(
        f"oracle (minute stepping) on {len(checked)} 3-day inputs: {oracle_rate:.1f}/s; "
        f"engine/oracle ratio {ratio:.0f}x; mismatches {mismatches}"
    )
    path = args.json or ROOT / "bench" / "results" / f"oncall_engine-{int(time.time())}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"rows": rows, "oracle_per_s": oracle_rate, "ratio": ratio, "mismatches": mismatches}
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
