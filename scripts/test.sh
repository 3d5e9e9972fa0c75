#!/usr/bin/env bash
# Everything `make test` checks. With CI=true, PostgreSQL, Redis and Chromium are mandatory:
# they are started or installed when missing, and a missing one fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export BUTTRESS_DATA_DIR="${BUTTRESS_DATA_DIR:-$PWD/var/test}"
mkdir -p "$BUTTRESS_DATA_DIR"
CI="${CI:-false}"

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }

if [ "$CI" = "true" ]; then
    scripts/services.sh
fi

step() { echo; echo "==> $*"; }

step "ruff format --check"
$BIN/ruff format --check .
step "ruff check"
$BIN/ruff check .
step "mypy --strict"
$BIN/mypy buttress bench
step "makemigrations --check"
$BIN/python manage.py makemigrations --check --dry-run

if [ "$CI" = "true" ]; then
    export BUTTRESS_REQUIRE_SERVICES=1
fi

step "pytest on SQLite (database task backend)"
env -u DATABASE_URL BUTTRESS_TASK_BACKEND=db $BIN/pytest

if pg_up; then
    step "pytest on PostgreSQL (database task backend)"
    DATABASE_URL="${BUTTRESS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}" \
        BUTTRESS_TASK_BACKEND=db $BIN/pytest
    if redis_up; then
        step "pytest on PostgreSQL with the Redis (RQ) task backend"
        # A Redis database of the test run's own, emptied first: jobs left by an earlier run
        # (or by a local `buttress run` on the default database) must not count here.
        RQ_TEST_URL="${BUTTRESS_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
        $BIN/python -c "import redis, sys; redis.Redis.from_url(sys.argv[1]).flushdb()" "$RQ_TEST_URL"
        # Every enqueue path once more, through RQ. The slow tests start their own processes
        # with the backend they name (the ones about RQ are marked redis) and ran above.
        DATABASE_URL="${BUTTRESS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}" \
            BUTTRESS_REDIS_URL="$RQ_TEST_URL" BUTTRESS_TASK_BACKEND=rq $BIN/pytest -m "not slow or redis"
    elif [ "$CI" = "true" ]; then
        echo "Redis is not reachable on 127.0.0.1:6379 and CI=true requires it" >&2; exit 1
    else
        echo "Redis not reachable: skipping the RQ run"
    fi
elif [ "$CI" = "true" ]; then
    echo "PostgreSQL is not reachable on 127.0.0.1:5432 and CI=true requires it" >&2; exit 1
else
    echo "PostgreSQL not reachable: skipping the PostgreSQL runs"
fi
echo; echo "All checks passed."
