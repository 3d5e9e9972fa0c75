#!/usr/bin/env bash
# `make bench`: the benchmarks in bench/, against a local PostgreSQL started here if needed.
# Extra arguments go to the asset list benchmark, e.g. `scripts/bench.sh --assets 2000 --orgs 5`;
# `scripts/bench.sh desk [--reuse ...]` runs the service desk at scale (bench/desk_scale.py).
set -euo pipefail
cd "$(dirname "$0")/.."

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

if ! pg_up; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        echo "Starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
        for _ in $(seq 1 30); do pg_up && break; sleep 1; done
    fi
fi
if ! pg_up; then
    echo "PostgreSQL is not reachable on 127.0.0.1:5432; the benchmarks need it" >&2
    exit 1
fi

if [ "${1:-}" = "desk" ]; then
    shift
    exec nice .venv/bin/python -m bench.desk_scale "$@"
fi
exec .venv/bin/python -m bench.assets_list "$@"
