#!/usr/bin/env bash
# The container image as an operator runs it: builds ./Dockerfile with podman and runs it the
# way its header says (read-only root filesystem, host network, a volume for the data), then
# checks that it serves (/readyz), runs as its unprivileged user, cannot write outside the
# volume, prints the first-admin link, and stops cleanly on SIGTERM. Needs root.
#
# No registry is reachable from CI, so the two images the Dockerfile starts from are stood in
# for: `debian:bookworm-slim` by a minimal Debian bookworm made with debootstrap from the
# Debian mirror, and the `build` stage (a Rust toolchain image) by the binary this checkout
# already built (`--build-context build=…`). The runtime stage — user, permissions, config,
# entrypoint, volume — is the Dockerfile's own. podman runs it with runc and cgroupfs (this
# machine's hybrid cgroups are refused by crun) and with explicit limits (the defaults exceed
# what a CI container may set).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "container test: needs root (podman, debootstrap); NOT RUN" >&2
  exit 0
fi
BIN="${E2E_SERVER_BIN:-$PWD/target/debug/mywebrtc}"
P=(podman --runtime runc --cgroup-manager cgroupfs)
tag="localhost/mywebrtc:container-test"
name="mywebrtc-container-test-$$"
volume="$name-data"
work=$(mktemp -d)
cleanup() {
  "${P[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true
  "${P[@]}" volume rm -f "$volume" >/dev/null 2>&1 || true
  "${P[@]}" rmi -f "$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

base=docker.io/library/debian:bookworm-slim
if ! "${P[@]}" image exists "$base"; then
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }
  tar -C "$work/rootfs" -c . | "${P[@]}" import - "$base" >/dev/null 2>"$work/import.log"
  rm -rf "$work/rootfs"
fi
mkdir -p "$work/build/src/target/release"
cp "$BIN" "$work/build/src/target/release/mywebrtc"
"${P[@]}" build --isolation=chroot --pull=never --build-context build="$work/build" -t "$tag" -f Dockerfile . >"$work/build.log" 2>&1 \
  || { tail -20 "$work/build.log"; exit 1; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${P[@]}" run -d --name "$name" --read-only --network host -v "$volume:/var/lib/mywebrtc" \
  --ulimit nofile=4096:4096 --ulimit nproc=1024:1024 \
  -e MYWEBRTC_LISTEN="127.0.0.1:$port" -e MYWEBRTC_SFU__LISTEN=127.0.0.1:0 \
  -e MYWEBRTC_TURN__PORT=0 -e MYWEBRTC_TURN__TLS_PORT=0 -e MYWEBRTC_METRICS__LISTEN=off \
  "$tag" >/dev/null
ready=""
for _ in $(seq 1 150); do
  ready=$(curl -fsk "https://127.0.0.1:$port/readyz" 2>/dev/null || true)
  [ -n "$ready" ] && break
  sleep 0.2
done
[ "$ready" = '{"status":"ready"}' ] || { "${P[@]}" logs "$name" | tail -20; echo "container test: /readyz said '$ready'"; exit 1; }
[ "$("${P[@]}" exec "$name" id -u)" = 10001 ] || { echo "container test: not running as uid 10001"; exit 1; }
[ "$("${P[@]}" exec "$name" id -gn)" = mywebrtc ] || { echo "container test: group is not mywebrtc"; exit 1; }
if "${P[@]}" exec "$name" sh -c 'touch /usr/bin/x' 2>/dev/null; then
  echo "container test: the root filesystem is writable"; exit 1
fi
"${P[@]}" exec "$name" sh -c 'touch /var/lib/mywebrtc/probe && rm /var/lib/mywebrtc/probe' \
  || { echo "container test: the data volume is not writable"; exit 1; }
# The link is printed while the server already answers: wait for it (bounded), not once.
linked=""
for _ in $(seq 1 50); do
  if "${P[@]}" logs "$name" 2>&1 | grep -q "/setup"; then linked=1; break; fi
  sleep 0.2
done
[ -n "$linked" ] || { "${P[@]}" logs "$name" | tail -20; echo "container test: no first-admin link in the logs"; exit 1; }
"${P[@]}" stop -t 20 "$name" >/dev/null
code=$("${P[@]}" inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || { "${P[@]}" logs "$name" | tail -20; echo "container test: exit code $code after SIGTERM"; exit 1; }
echo "container test: built, served /readyz read-only as mywebrtc (10001), first-admin link logged, stopped cleanly"
