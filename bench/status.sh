#!/usr/bin/env bash
# `gate status --all` over 20 registered projects (each with 1,000 files and a feature in
# progress, one of them deleted after registering), and `gate status` for one project (which
# exits 1 there: its spec is incomplete, so -i).
#
#   bash bench/status.sh          # PROJECTS=50 to scale
set -euo pipefail
projects=${PROJECTS:-20}
. "$(dirname "$0")/lib.sh"
bench_start
for p in $(seq "$projects"); do
  new_repo "$work/p$p"; mkdir -p src
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
