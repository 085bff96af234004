#!/usr/bin/env bash
# Server CPU per request of the ZITADEL transports for several builds, interleaved (issue 13:
# a gRPC GetSession may cost no more than Connect JSON). Single runs on a 2-core machine move
# the gRPC ÷ Connect JSON ratio by ±0.15, so compare medians of rounds that alternate builds.
#
#   bench/transports-rounds.sh 3 before=/tmp/before/lanyard after=target/release/lanyard
#
# Each round runs `lanyard-bench run --quick --builtin-load --steps health,zitadel_transports
# --duration 6s` against each build in turn (same 50,000-session SQLite seed) and prints one
# line per run: the server's CPU per request of each step, in µs. Build older commits with
# `git worktree add` and their own CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=$1
shift
bench=target/release/lanyard-bench
dir=target/bench/transports-rounds
mkdir -p "$dir"
for round in $(seq 1 "$rounds"); do
    for build in "$@"; do
        name=${build%%=*} binary=${build#*=}
        log="$dir/round$round-$name.log"
        "$bench" run --quick --builtin-load --steps health,zitadel_transports --duration 6s \
            --dir "$dir" --server-bin "$binary" >"$log" 2>&1
        echo "round $round $name: $(grep 'Server CPU per request' "$log" | sed 's/.*µs): //')"
    done
done
