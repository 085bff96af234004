#!/usr/bin/env bash
# Instruction counts (valgrind --tool=callgrind: repeatable whatever else the machine does) of
# the ZITADEL calls whose cost issue 13 bounds, per request, over each transport:
#   GetSession    Connect JSON (HTTP/1.1) and gRPC (HTTP/2)
#   ListSessions  (no query, limit 100) Connect JSON, Connect protobuf (HTTP/1.1) and gRPC
# against the release server on a 50,000-session seed, the load from h2load (nghttp2).
#
#   bench/transports-callgrind.sh                      # this checkout's target/release/lanyard
#   bench/transports-callgrind.sh /path/to/lanyard …   # other builds (e.g. an older commit's)
#
# Needs valgrind and h2load (apt-get install -y valgrind nghttp2-client). Output: one line per
# binary and call, instructions per request.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is required" >&2; exit 1; }
command -v h2load >/dev/null || { echo "h2load is required: apt-get install -y nghttp2-client" >&2; exit 1; }
cargo build --release -p lanyard -p lanyard-bench
binaries=("$@")
[ ${#binaries[@]} -eq 0 ] && binaries=("$PWD/target/release/lanyard")
dir="$PWD/target/bench/transports-callgrind"
mkdir -p "$dir"
target/release/lanyard-bench seed --quick --dir "$dir" >/dev/null
db="$dir/lanyard-bench-50000.db"
port=44599
config="$dir/server.toml"
cat > "$config" <<TOML
secrets = ["transports-callgrind-page-token-secret"]
[database]
url = "sqlite://$db"
[serve.public]
listen = "127.0.0.1:$port"
[serve.admin]
listen = "127.0.0.1:$((port + 1))"
[log]
level = "warn"
TOML
url="http://127.0.0.1:$port/zitadel.session.v2.SessionService"
python3 - "$dir" <<'PY'
import struct, sys
d = sys.argv[1]
frame = lambda m: b'\x00' + struct.pack('>I', len(m)) + m
listing = b'\x0a\x02\x10\x64'  # ListSessionsRequest{query: {limit: 100}}
open(f'{d}/list.json', 'w').write('{"query":{"limit":100}}')
open(f'{d}/list.proto', 'wb').write(listing)
open(f'{d}/list.grpc', 'wb').write(frame(listing))
PY

for bin in "${binaries[@]}"; do
  out="$dir/callgrind.$$"
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out.%p" \
    "$bin" serve --config "$config" > "$dir/valgrind.log" 2>&1 &
  for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$port/health/alive" && break; sleep 1; done
  key=$("$bin" keys create --config "$config" --name callgrind 2>/dev/null | grep -o 'lanyard_[a-z]*_[A-Za-z0-9_-]*' | head -1)
  auth=(-H "authorization: Bearer $key")
  sid=$(curl -s -X POST "${auth[@]}" -H 'content-type: application/json' -d '{"query":{"limit":1}}' "$url/ListSessions" \
    | python3 -c 'import sys, json; print(json.load(sys.stdin)["sessions"][0]["id"])')
  python3 - "$dir" "$sid" <<'PY'
import struct, sys
d, sid = sys.argv[1], sys.argv[2].encode()
get = b'\x0a' + bytes([len(sid)]) + sid
open(f'{d}/get.json', 'w').write('{"sessionId":"%s"}' % sys.argv[2])
open(f'{d}/get.grpc', 'wb').write(b'\x00' + struct.pack('>I', len(get)) + get)
PY
  step=0
  measure() {  # label requests h2load-args…
    local label=$1 n=$2; shift 2
    step=$((step + 1))
    h2load -n 100 -c 2 "$@" > /dev/null
    callgrind_control -z > /dev/null 2>&1; callgrind_control -i on > /dev/null 2>&1
    h2load -n "$n" -c 2 "$@" | grep -q "$n succeeded" || echo "$label: not every request succeeded" >&2
    callgrind_control -i off > /dev/null 2>&1; callgrind_control -d "step$step" > /dev/null 2>&1
    local file; file=$(grep -l "^desc: Trigger: dump step$step\$" "$out".* | tail -1)
    printf '%-90s %12.0f instructions/request\n' "$bin: $label" \
      "$(awk -v n="$n" '/^totals:/ {print $2 / n}' "$file")"
  }
  measure "GetSession Connect JSON HTTP/1.1" 2000 --h1 -d "$dir/get.json" "${auth[@]}" -H 'content-type: application/json' "$url/GetSession"
  measure "GetSession gRPC HTTP/2" 2000 -d "$dir/get.grpc" "${auth[@]}" -H 'content-type: application/grpc' -H 'te: trailers' "$url/GetSession"
  measure "ListSessions Connect JSON HTTP/1.1" 300 --h1 -d "$dir/list.json" "${auth[@]}" -H 'content-type: application/json' "$url/ListSessions"
  measure "ListSessions Connect protobuf HTTP/1.1" 300 --h1 -d "$dir/list.proto" "${auth[@]}" -H 'content-type: application/proto' "$url/ListSessions"
  measure "ListSessions gRPC HTTP/2" 300 -d "$dir/list.grpc" "${auth[@]}" -H 'content-type: application/grpc' -H 'te: trailers' "$url/ListSessions"
  pkill -f "serve --config $config" || true
  sleep 2
  rm -f "$out".*
done
