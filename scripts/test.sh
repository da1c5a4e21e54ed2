#!/usr/bin/env bash
# Runs every test: Rust unit/integration tests (real SQLite files, real HTTPS server, the real
# binary), the type check of the browser client (tsc --strict), then the browser journeys in
# Debian's Chromium. Needs: cargo, node/npm, /usr/bin/chromium (.ci/run installs them on a
# fresh machine).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test"
cargo build --workspace --locked
cargo test --workspace --locked
echo "== the server's integration tests again, on PostgreSQL (a real server the tests start)"
# The binaries the run above built (a `cargo test -p web` would build the crates again with
# other features), run from the crate's directory as cargo runs them.
cargo test --workspace --locked --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    t = m.get("target", {})
    if m.get("reason") == "compiler-artifact" and t.get("kind") == ["test"] and m.get("executable") \
            and "/crates/web/tests/" in t.get("src_path", ""):
        print(m["executable"])' > target/web-test-binaries.txt
[ -s target/web-test-binaries.txt ] || { echo "no web test binaries found"; exit 1; }
while read -r bin; do
  (cd crates/web && MYWEBRTC_TEST_STORE=postgres "$bin")
done < target/web-test-binaries.txt

cd tests/e2e
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/typescript ]; then
  npm ci --no-audit --no-fund
fi

echo "== type check of the browser client (tsc --strict on client/js)"
npm run --silent typecheck

echo "== browser end-to-end tests"
E2E_SERVER_BIN="$PWD/../../target/debug/mywebrtc" npm test

echo "== Debian package: build, systemd-analyze verify, install, serve, purge"
../../scripts/package-test.sh

echo "== container image: podman build, run read-only as its user, /readyz, SIGTERM"
E2E_SERVER_BIN="$PWD/../../target/debug/mywebrtc" ../../scripts/container-test.sh

echo "== schemathesis: the live API against its OpenAPI document"
E2E_SERVER_BIN="$PWD/../../target/debug/mywebrtc" ../../scripts/schemathesis.sh
