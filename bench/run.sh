#!/usr/bin/env bash
# Builds the release binaries and runs the benchmark. Arguments go to `lanyard-bench run`:
#
#   bench/run.sh                      # 1,000,000 sessions on SQLite, 10 s per step
#   bench/run.sh --quick              # 50,000 sessions, 2 s per step
#   bench/run.sh --database-url postgres://postgres@127.0.0.1:5432/lanyard_bench
#
# Needs wrk (apt-get install -y wrk). See docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is required: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -p lanyard -p lanyard-bench
exec target/release/lanyard-bench run --server-bin target/release/lanyard "$@"
