#!/usr/bin/env bash
# The README's quick start, timed as a new user meets it: a fresh clone, an empty build
# directory, then exactly the two commands the README gives. (Crates already downloaded to
# ~/.cargo/registry are reused: this measures building, not the network.)
#
#   bash bench/fresh.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$here" "$work/gate"
cd "$work/gate"
export CARGO_TARGET_DIR="$work/target"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
t0=$(date +%s)
cargo run --quiet -- demo > "$work/demo.log" 2>&1 || { tail -20 "$work/demo.log"; exit 1; }
t1=$(date +%s)
cargo test --quiet > "$work/test.log" 2>&1 || {
  grep -E "^---- |panicked at|invariant|^test result" -A2 "$work/test.log" | head -80
  exit 1
}
t2=$(date +%s)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| quick-start command (fresh clone, empty target dir) | wall time |"
echo "|---|---:|"
printf '| `cargo run -- demo` | %dm %02ds |\n' $(((t1 - t0) / 60)) $(((t1 - t0) % 60))
printf '| `cargo test` | %dm %02ds |\n' $(((t2 - t1) / 60)) $(((t2 - t1) % 60))
printf '| both | %dm %02ds |\n' $(((t2 - t0) / 60)) $(((t2 - t0) % 60))
