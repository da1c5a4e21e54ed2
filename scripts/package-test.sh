#!/usr/bin/env bash
# The Debian package as an operator installs it: builds it (from the debug build: the
# packaging is under test, not the optimiser), checks the unit with `systemd-analyze verify`,
# installs it with dpkg, starts the installed binary as the service's user with the
# installed configuration (systemd is not PID 1 on a CI machine), waits for /readyz, stops
# it, then purges the package and checks that nothing is left. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "package test: needs root (dpkg -i); NOT RUN" >&2
  exit 0
fi
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked --quiet
out=$(mktemp -d)
log=$(mktemp)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  dpkg --purge mywebrtc >/dev/null 2>&1 || true
  rm -rf "$out" "$log"
}
trap cleanup EXIT

cargo deb -p mywebrtc --profile dev --no-strip --quiet -o "$out/" >/dev/null
deb=$(ls "$out"/*.deb)
dpkg --purge mywebrtc >/dev/null 2>&1 || true
dpkg -i "$deb" >/dev/null

unit=/lib/systemd/system/mywebrtc.service
[ -f "$unit" ] || unit=/usr/lib/systemd/system/mywebrtc.service
systemd-analyze verify "$unit"
test -x /usr/bin/mywebrtc
getent passwd mywebrtc >/dev/null
[ "$(stat -c '%U %a' /var/lib/mywebrtc)" = "mywebrtc 700" ] || { echo "bad /var/lib/mywebrtc"; exit 1; }
[ "$(stat -c '%U:%G %a' /etc/mywebrtc/mywebrtc.toml)" = "root:mywebrtc 640" ] || { echo "bad config mode"; exit 1; }
test -f /usr/share/doc/mywebrtc/operations.md

# As the unit would run it: its user, its config; free ports for the test.
runuser -u mywebrtc -- env MYWEBRTC_LISTEN=127.0.0.1:0 MYWEBRTC_METRICS__LISTEN=off \
  MYWEBRTC_TURN__PORT=0 MYWEBRTC_TURN__TLS_PORT=0 RUST_LOG=warn \
  /usr/bin/mywebrtc --config /etc/mywebrtc/mywebrtc.toml serve >"$log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 150); do
  url=$(sed -n 's/.*listening on \(https:[^ ]*\).*/\1/p' "$log" | head -n1)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "the installed server exited"; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { cat "$log"; echo "the installed server did not start"; exit 1; }
curl -fsk "$url/readyz" >/dev/null
kill -TERM "$pid"
wait "$pid" || true
pid=""
test -f /var/lib/mywebrtc/mywebrtc.sqlite

dpkg --purge mywebrtc >/dev/null
for gone in /usr/bin/mywebrtc /var/lib/mywebrtc /etc/mywebrtc "$unit"; do
  if [ -e "$gone" ]; then echo "left after purge: $gone"; exit 1; fi
done
if getent passwd mywebrtc >/dev/null; then echo "user left after purge"; exit 1; fi
echo "package test: built, verified, installed, served /readyz, purged clean"
