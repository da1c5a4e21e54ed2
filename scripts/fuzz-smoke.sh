#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each briefly (default 20 s), so the targets keep
# compiling and shallow crashes surface in CI. Longer campaigns: see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${FUZZ_SECS:-20}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
# The fuzz workspace has its own lock file: it must follow the main one's dependencies.
if ! cargo metadata --locked --format-version 1 >/dev/null; then
  echo "fuzz/Cargo.lock is out of date: run 'cargo metadata --format-version 1 >/dev/null' in fuzz/ and commit it" >&2
  exit 1
fi
# cargo-fuzz needs nightly flags (-Zsanitizer); the stable toolchain accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
for target in $(cargo fuzz list); do
  echo "== fuzz $target (${secs}s)"
  cargo fuzz run "$target" -- -max_total_time="$secs" -print_final_stats=0 2>&1 | tail -n 2
done
