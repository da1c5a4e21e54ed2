#!/usr/bin/env bash
# Our TURN server (the real `mywebrtc serve`) against coturn, with equivalent settings, on
# loopback, driven by the same load generator (bench/turn-load) in one run:
#   - STUN Binding requests/s (closed loop, batched I/O in the generator), server CPU-s per million;
#   - relayed packets/s over 1,000 allocations (500 pairs, channels, 160-byte payloads) at
#     fixed offered rates, with each server's CPU%, CPU-s per million relayed packets and RSS.
# The generator runs on one thread, so each server has about one core of the two.
# Usage: bench/turn-vs-coturn/run.sh [secs per step] [rates]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS="${1:-5}"
RATES="${2:-20000,50000,100000,150000,200000}"
SECRET="bench-secret-$(date +%s)-0123456789abcdef"
command -v turnserver >/dev/null || { echo "coturn is needed: apt-get install coturn" >&2; exit 1; }
cargo build --release -q -p mywebrtc -p turn-load
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

load() { ./target/release/turn-load --server "127.0.0.1:$1" --secret "$SECRET" --pid "$2" --label "$3" --secs "$SECS" "${@:4}"; }
# Both measurements against one server: measure PORT PID LABEL
measure() {
  echo "== STUN Binding (closed loop, 16 sockets x 64 in flight)"
  load "$1" "$2" "$3" --mode stun --sockets 16 --window 64
  echo "== relay, 1000 allocations, 160-byte payloads"
  load "$1" "$2" "$3" --mode relay --allocations 1000 --rates "$RATES" --size 160
}

# --- ours: the web server runs too (its idle cost is part of the RSS figure)
cat > "$work/ours.toml" <<TOML
data_dir = "$work/data"
listen = "127.0.0.1:0"
http_redirect_listen = "off"
[metrics]
listen = "off"
[log]
level = "warn"
[sfu]
enabled = false
[turn]
port = 34791
tls = false
secret = "$SECRET"
user_quota = 10
bandwidth_kbit = 1000000
allow_peers = ["127.0.0.0/8"]
TOML
./target/release/mywebrtc --config "$work/ours.toml" serve > "$work/ours.log" 2>&1 &
ours=$!; pids+=("$ours")
sleep 1
measure 34791 "$ours" mywebrtc
kill "$ours"; wait "$ours" 2>/dev/null || true

# --- coturn: same port scheme, shared-secret credentials, loopback peers allowed, no quotas
turnserver -n --listening-ip=127.0.0.1 --listening-port=34792 --relay-ip=127.0.0.1 \
  --use-auth-secret --static-auth-secret="$SECRET" --realm=mywebrtc --no-tls --no-dtls \
  --allow-loopback-peers --no-cli --no-multicast-peers --no-tcp-relay --simple-log --no-stdout-log \
  --log-file="$work/coturn.log" --pidfile="$work/coturn.pid" --min-port=20000 --max-port=60000 \
  > "$work/coturn.out" 2>&1 &
coturn=$!; pids+=("$coturn")
sleep 1.5
measure 34792 "$coturn" coturn
turnserver --version 2>/dev/null | head -1 || true
