#!/usr/bin/env bash
# `gate status --all` over 20 registered projects (each with 1,000 files and a feature in
# progress, one of them deleted after registering), and `gate status` for one project (which
# exits 1 there: its spec is incomplete, so -i).
#
#   bash bench/status.sh          # PROJECTS=50 to scale
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
projects=${PROJECTS:-20}
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
gate="$here/target/release/gate"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=b@x
export XDG_STATE_HOME="$work/state" NO_COLOR=1
for p in $(seq "$projects"); do
  repo="$work/p$p"; mkdir -p "$repo/src"; cd "$repo"
  git init -q -b main; git config gc.auto 0
  for i in $(seq 1000); do echo "$i" > "src/f$i.rs"; done
  "$gate" init --no-hooks >/dev/null; git add -A; git commit -qm tree
  "$gate" specify "feature $p" >/dev/null; git add -A; git commit -qm spec
done
rm -rf "$work/p$projects"   # a project that moved away
cd "$work/p1"
echo "$projects registered projects (one deleted), 1,000 files each"
hyperfine --warmup 5 --runs 50 -N -i --export-json "$work/status.json" \
  "$gate status --all" "$gate status --all --json" "$gate status" >/dev/null
python3 - "$work/status.json" <<'PY'
import json, sys
print("| command | median ms | max ms |")
print("|---|---:|---:|")
for r in json.load(open(sys.argv[1]))["results"]:
    cmd = r["command"].split("/target/release/")[-1]
    print(f"| `{cmd}` | {r['median']*1000:.1f} | {r['max']*1000:.1f} |")
PY
