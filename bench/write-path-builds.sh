#!/usr/bin/env bash
# The write path of several builds against each other (issue 12: nothing may slow session
# create or cold whoami by more than 10 %), each on the same seed in its own schema.
#
#   bench/write-path-builds.sh sqlite 5 pre=/tmp/pre-target/release/lanyard after=target/release/lanyard
#   bench/write-path-builds.sh postgres 3 pre=… after=…
#
# An older build refuses a database that newer migrations have touched, so the seed (100,000
# sessions, made by this checkout's lanyard-bench) is copied into a fresh database per build:
# migrated by that build's own `lanyard migrate`, the rows inserted through its own triggers.
# Then `lanyard-bench run --builtin-load --steps health,create,whoami_cold --duration 10s` runs
# against each build in turn, ROUNDS times, and one line per run is printed (req/s and the
# server's CPU per create). Build older commits with `git worktree add` and their own
# CARGO_TARGET_DIR. PostgreSQL: the scratch databases wp_<name> on 127.0.0.1 are recreated.
set -euo pipefail
cd "$(dirname "$0")/.."
store=$1 rounds=$2
shift 2
# The seed is made by this lanyard-bench (BENCH overrides it: seed with the oldest build when a
# newer one added columns, so that every build can load it).
bench=${BENCH:-target/release/lanyard-bench}
dir=target/bench/write-path
mkdir -p "$dir"
pg="psql -h 127.0.0.1 -U postgres -q -v ON_ERROR_STOP=1"
tables="lanyard_counters lanyard_settings api_keys identities identity_identifiers sessions session_devices"

seed_sqlite() {
    "$bench" run --sessions 100000 --dir "$dir/seed" --server-bin "$(dirname "$bench")/lanyard" \
        --builtin-load --steps health --duration 1s >/dev/null 2>"$dir/seed.log"
    sqlite3 "$dir/seed/lanyard-bench-100000.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
}

copy_sqlite() { # name binary
    local db="$dir/$1/lanyard-bench-100000.db"
    mkdir -p "$dir/$1"
    rm -f "$db" "$db-wal" "$db-shm"
    "$2" migrate --database-url "sqlite://$db" >/dev/null
    # The build's own columns, named: a newer seed may have columns an older build lacks.
    local t copies=()
    for t in $tables; do
        local columns
        columns=$(sqlite3 "$db" "SELECT group_concat(name, ', ') FROM pragma_table_info('$t')")
        copies+=("INSERT OR REPLACE INTO $t ($columns) SELECT $columns FROM seed.$t;")
    done
    {
        echo "ATTACH '$dir/seed/lanyard-bench-100000.db' AS seed; BEGIN;"
        printf '%s\n' "${copies[@]}"
        echo "COMMIT; PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);"
    } | sqlite3 "$db" >/dev/null
}

seed_postgres() {
    $pg -d postgres -c "DROP DATABASE IF EXISTS wp_seed" -c "CREATE DATABASE wp_seed"
    "$bench" run --sessions 100000 --database-url postgres://postgres@127.0.0.1/wp_seed \
        --dir "$dir/seed-pg" --server-bin "$(dirname "$bench")/lanyard" --builtin-load --steps health \
        --duration 1s >/dev/null 2>"$dir/seed-pg.log"
    # pg_dump empties search_path, under which the counter triggers would not find their tables.
    pg_dump -h 127.0.0.1 -U postgres --data-only $(printf -- '-t %s ' $tables) wp_seed \
        | grep -v "set_config('search_path'" >"$dir/seed-pg.sql"
}

copy_postgres() { # name binary
    $pg -d postgres -c "DROP DATABASE IF EXISTS wp_$1" -c "CREATE DATABASE wp_$1"
    "$2" migrate --database-url "postgres://postgres@127.0.0.1/wp_$1" >/dev/null 2>&1
    $pg -d "wp_$1" -c "TRUNCATE lanyard_counters, lanyard_settings"
    $pg -d "wp_$1" -f "$dir/seed-pg.sql" >/dev/null
    $pg -d "wp_$1" -c "VACUUM (ANALYZE)"
}

"seed_$store"
for build in "$@"; do "copy_$store" "${build%%=*}" "${build#*=}"; done
for round in $(seq 1 "$rounds"); do
    for build in "$@"; do
        name=${build%%=*} binary=${build#*=}
        database=()
        [ "$store" = postgres ] && database=(--database-url "postgres://postgres@127.0.0.1/wp_$name")
        json="$dir/$store-$name-$round.json"
        "$bench" run --sessions 100000 --dir "$dir/$name" "${database[@]}" --server-bin "$binary" \
            --builtin-load --steps health,create,whoami_cold --duration 10s --json "$json" \
            >/dev/null 2>"$dir/$store-$name-$round.log"
        python3 - "$json" "$name" "$round" <<'PY'
import json, sys
path, name, round_ = sys.argv[1:]
run = json.load(open(path))
m = {s["key"]: s["measurement"] for s in run["steps"]}
print(f"{name} round {round_}: health {m['health']['rps']:.0f}/s, create {m['create']['rps']:.0f}/s "
      f"({m['create']['server_cpu_us_per_request']:.1f} µs CPU each), cold whoami {m['whoami_cold']['rps']:.0f}/s, "
      f"load {run['machine']['load_before']}", flush=True)
PY
    done
done
