#!/usr/bin/env bash
# `make bench [BENCH=name] [ARGS="..."]`: the benchmarks in bench/, against a local PostgreSQL
# started here if needed. `scripts/bench.sh list` names them; `scripts/bench.sh NAME [ARGS...]`
# runs one with its own options (each takes --help); with no name, the asset list benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

# name, module, what it measures; the order is the order of docs/benchmarks.md.
BENCHES=(
    "assets|bench.assets_list|asset list API and UI pages over 100,000 assets"
    "sla-calendar|bench.sla_calendar|business-calendar add/between against the minute oracle"
    "oncall|bench.oncall_engine|who is on call, against the minute oracle"
    "sla-sweep|bench.sla_sweep|the scheduler's sweep over 100,000 due SLA clocks"
    "alerts|bench.alert_ingest|Alertmanager webhooks accepted per second, nothing lost"
    "probes|bench.probe_throughput|probe checks per CPU-second against blackbox_exporter"
    "heartbeats|bench.heartbeat_ingest|durable heartbeat pings per second"
    "desk|bench.desk_scale|queues, search and long tickets over 1,000,000 tickets"
    "mail|bench.mail_ingest|inbound mail messages per second on one worker"
    "notify|bench.notify_latency|alert accepted to the notification handed to its channel"
    "runner|bench.runner_load|10,000 HTTP monitors every 10 s on one runner"
)

usage() {
    echo "usage: scripts/bench.sh [NAME] [ARGS...]   (make bench BENCH=NAME ARGS=\"...\")"
    echo "benchmarks:"
    local entry
    for entry in "${BENCHES[@]}"; do
        IFS="|" read -r name module what <<<"$entry"
        printf "  %-13s %s (python -m %s)\n" "$name" "$what" "$module"
    done
}

name="${1:-assets}"
case "$name" in
    list | -h | --help) usage; exit 0 ;;
    -*) name=assets ;;  # options only: the asset list benchmark, as before
    *) shift ;;
esac
module=""
for entry in "${BENCHES[@]}"; do
    IFS="|" read -r n m _ <<<"$entry"
    if [ "$n" = "$name" ]; then module="$m"; fi
done
if [ -z "$module" ]; then
    echo "unknown benchmark '$name'" >&2
    usage >&2
    exit 2
fi

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

case "$name" in
    sla-calendar | oncall) ;;  # pure engines: no database
    *)
        if ! pg_up; then
            if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
                echo "Starting PostgreSQL"
                pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
                for _ in $(seq 1 30); do pg_up && break; sleep 1; done
            fi
        fi
        if ! pg_up; then
            echo "PostgreSQL is not reachable on 127.0.0.1:5432; the '$name' benchmark needs it" >&2
            exit 1
        fi
        ;;
esac

if [ "$name" = "desk" ]; then
    # The load of a million tickets should not starve the rest of the machine.
    exec nice .venv/bin/python -m "$module" "$@"
fi
exec .venv/bin/python -m "$module" "$@"
