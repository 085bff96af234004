#!/usr/bin/env bash
# `lanyard-bench search` against several builds on one seeded SQLite file, interleaved, with the
# order of the builds reversed every other round (on a 2-core VM the second build of a round
# runs slower on shapes no change touches; alternating the order cancels that out).
#
#   bench/search-builds.sh 3 target/bench/lanyard-bench-1000000.db 1000000 results/prefix \
#       before=/tmp/before/release after=target/release
#
# Each build is a directory holding its own `lanyard` and `lanyard-bench`. A newer build's
# migrations are applied to the file (by its first run); while an older build runs, the rows of
# the migrations it does not know are moved out of `_sqlx_migrations` (into
# `bench_hidden_migrations`) so that it starts, and put back afterwards. Its statements cannot
# use what those migrations added only if they never name it (an index on an expression, a new
# table): check before trusting the comparison. Writes one JSON report per run:
# <prefix>-<name>-<round>.json, and prints each run's verdict line.
set -euo pipefail
rounds=$1 db=$2 sessions=$3 prefix=$4
shift 4
dir=$(dirname "$db")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
declare -A newest
for build in "$@"; do
    name=${build%%=*} bin=${build#*=}
    "$bin/lanyard" migrate --database-url "sqlite://$scratch/$name.db" >/dev/null
    newest[$name]=$(sqlite3 "$scratch/$name.db" "SELECT MAX(version) FROM _sqlx_migrations")
done
sqlite3 "$db" "CREATE TABLE IF NOT EXISTS bench_hidden_migrations AS SELECT * FROM _sqlx_migrations WHERE 0"
restore() {
    sqlite3 "$db" "INSERT OR IGNORE INTO _sqlx_migrations SELECT * FROM bench_hidden_migrations; DELETE FROM bench_hidden_migrations"
}
trap 'restore; rm -rf "$scratch"' EXIT
for round in $(seq 1 "$rounds"); do
    builds=("$@")
    if (( round % 2 == 0 )); then
        builds=()
        for (( i=$#; i>0; i-- )); do builds+=("${!i}"); done
    fi
    for build in "${builds[@]}"; do
        name=${build%%=*} bin=${build#*=}
        restore
        sqlite3 "$db" "INSERT INTO bench_hidden_migrations SELECT * FROM _sqlx_migrations WHERE version > ${newest[$name]}; DELETE FROM _sqlx_migrations WHERE version > ${newest[$name]}"
        echo "round $round $name ($(date +%T)): $("$bin/lanyard-bench" search --dir "$dir" --database-url "$db" \
            --sessions "$sessions" --server-bin "$bin/lanyard" --iterations "${ITERATIONS:-100}" \
            ${SHAPES:+--shapes "$SHAPES"} --json "$prefix-$name-$round.json" 2>&1 | grep -E 'judged shapes' || echo failed)"
    done
done
