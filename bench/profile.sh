#!/usr/bin/env bash
# Profiles the hottest path, cached whoami, on the release server, during the measured load
# only (not the server's start or the cache warm-up).
#
#   bench/profile.sh perf      # perf record -p <server> (DWARF call graphs) for 8 s of the step
#   bench/profile.sh callgrind # the server under valgrind --tool=callgrind, instrumentation
#                              # switched on (callgrind_control -i on) when the step starts
#
# STEP=health bench/profile.sh callgrind profiles another step the same way (any --steps key).
# Extra arguments go to `lanyard-bench run` (e.g. --sessions 50000 --quick). Output and the
# reports: target/bench/profile/.
set -euo pipefail
cd "$(dirname "$0")/.."
tool="${1:-perf}"
shift || true
command -v wrk >/dev/null || { echo "wrk is required: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -p lanyard -p lanyard-bench
out="$PWD/target/bench/profile"
mkdir -p "$out"
step="${STEP:-whoami_warm}"
bench=(target/release/lanyard-bench run --server-bin target/release/lanyard --steps "$step")
case "$tool" in
  perf)
    command -v perf >/dev/null || { echo "perf is required (apt-get install -y linux-perf)" >&2; exit 1; }
    out="$out/$step" && mkdir -p "$out" && rm -f "$out/perf.data"
    "${bench[@]}" --duration 10s \
      --before-step "[ \"\$1\" = $step ] && { perf record -q -F 499 --call-graph dwarf,16384 -p \"\$2\" -o $out/perf.data -- sleep 8 >/dev/null 2>&1 & sleep 0.5; } || true" \
      "$@"
    sleep 9
    perf report -i "$out/perf.data" --no-children --sort dso -g none --stdio 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | head -10 > "$out/perf-dso.txt" || true
    perf report -i "$out/perf.data" --no-children --sort symbol -g none --stdio 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | cut -c1-180 | head -50 > "$out/perf-self.txt" || true
    perf report -i "$out/perf.data" --children --sort symbol -g none --stdio 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | cut -c1-220 > "$out/perf-children.txt" || true
    echo "== by binary"; cat "$out/perf-dso.txt"
    echo "== self time"; cat "$out/perf-self.txt"
    ;;
  callgrind)
    command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install -y valgrind)" >&2; exit 1; }
    out="$out/$step" && mkdir -p "$out" && rm -f "$out"/callgrind.out.*
    "${bench[@]}" --connections 8 --warm-set 2000 --duration 10s \
      --server-wrapper "valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$out/callgrind.out.%p" \
      --before-step "[ \"\$1\" = $step ] && { callgrind_control -i on \"\$2\"; (sleep 9.5; callgrind_control -i off \"\$2\") & } >/dev/null 2>&1 || true" \
      "$@"
    for f in "$out"/callgrind.out.*; do
      case "$f" in *.txt) continue ;; esac
      callgrind_annotate --inclusive=yes "$f" 2>/dev/null | head -80 > "$f.inclusive.txt" || true
      callgrind_annotate "$f" 2>/dev/null | head -60 > "$f.self.txt" || true
      cat "$f.self.txt"
    done
    ;;
  *) echo "usage: bench/profile.sh perf|callgrind [lanyard-bench run options]" >&2; exit 2 ;;
esac
