#!/usr/bin/env bash
# Our SFU (the real `mywebrtc serve`) against Janus's VideoRoom plugin (Debian's `janus`), in
# one run, driven by the same load generator (bench/sfu-load: str0m peers publishing
# camera-like simulcast, ~1.7 Mbit/s over three VP8 layers, plus Opus):
#   (a) one publisher to N subscribers, N stepping up until delivery drops below 99 %;
#   (b) 10 rooms of 5, everyone publishing and receiving the other four;
#   (c) (a) again with each server held to the same CPU budget (QUOTA % of one core, a
#       cgroup): the largest N is then where the server runs out, not the generator.
# Janus gathers no loopback candidates, so both servers run in a network namespace this
# script creates, behind a veth pair (10.99.0.1 here, 10.99.0.2 there), and the generator's
# peers send from the host side. Needs root (ip netns). The generator shares the machine's
# two cores with the server: compare the two servers' figures, not absolute ones.
# Usage: bench/sfu-vs-janus/run.sh [secs per step] [subscriber steps]
#   ONLY=a|b|c runs one part; QUOTA (default 25) and QSTEPS set part (c); TARGETS="ours"
#   (or "janus") runs one server only.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS="${1:-10}"
STEPS="${2:-10,25,50,100,150,200}"
NS="mwbench$$"
ONLY="${ONLY:-abc}"
QUOTA="${QUOTA:-25}"
QSTEPS="${QSTEPS:-20,40,60,80,100,120,140,160,180,200,240}"
TARGETS="${TARGETS:-ours janus}"
command -v janus >/dev/null || { echo "janus is needed: apt-get install janus" >&2; exit 1; }
cargo build --release -q -p mywebrtc -p sfu-load
cleanup() { ip link del mwb0 2>/dev/null || true; ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$NS"
ip link add mwb0 type veth peer name mwb1
ip link set mwb1 netns "$NS"
ip addr add 10.99.0.1/30 dev mwb0
ip link set mwb0 up
ip netns exec "$NS" ip addr add 10.99.0.2/30 dev mwb1
ip netns exec "$NS" ip link set mwb1 up
ip netns exec "$NS" ip link set lo up

# Our bandwidth adaptation (viewers' layers follow their estimates) is a policy Janus does
# not have: off by default here (ADAPT=on to see it), so both forward the full layer and
# the figures measure forwarding (under load our estimates fall and viewers get lower
# layers: every frame arrives, with fewer bytes).
gen() {
  local t
  for t in $TARGETS; do gen_one --target "$t" --bandwidth-adaptation "${ADAPT:-off}" "$@"; done
}
gen_one() { ./target/release/sfu-load --netns "$NS" --server-ip 10.99.0.2 --client-ip 10.99.0.1 --interface mwb1 --secs "$SECS" "$@"; }
if [[ $ONLY == *a* ]]; then
  echo "== (a) one publisher, N subscribers"
  gen --scenario fanout --subscribers "$STEPS"
fi
if [[ $ONLY == *b* ]]; then
  echo "== (b) 10 rooms of 5"
  gen --scenario rooms --rooms 10 --size 5
fi
if [[ $ONLY == *c* ]]; then
  echo "== (c) one publisher, N subscribers, each server held to ${QUOTA}% of one core"
  gen --scenario fanout --subscribers "$QSTEPS" --cpu-quota "$QUOTA"
fi
janus --version 2>/dev/null | head -1 || true
