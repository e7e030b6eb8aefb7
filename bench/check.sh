#!/usr/bin/env bash
# Benchmark `gate check` on a repository with 10,000 files and 50 features, the current one
# complete (the hook's and agents' hot path). Prints hyperfine's table; --export-markdown too.
#
#   bash bench/check.sh            # builds release, runs, prints medians
#   FILES=100000 bash bench/check.sh
set -euo pipefail
files=${FILES:-10000}
features=${FEATURES:-50}
. "$(dirname "$0")/lib.sh"
bench_start
new_repo "$work/repo"
# 10k files in 100 directories.
python3 - "$files" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = f"src/m{i % 100:03d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i}.rs", "w") as f:
        f.write(f"pub fn f{i}() -> u32 {{ {i} }}\n")
PY
"$gate" init >/dev/null
git add -A && git commit -qm "tree of $files files"
# 50 features, each complete, committed in order spec -> plan -> tasks.
for i in $(seq 1 "$features"); do
  "$gate" specify "feature $i" >/dev/null
  dir=$(ls -d specs/*-feature-"$i" | head -1)
  fill "$dir/spec.md"; git add -A; git commit -qm "spec $i"
  "$gate" plan >/dev/null; fill "$dir/plan.md"; git add -A; git commit -qm "plan $i"
  "$gate" tasks >/dev/null; fill "$dir/tasks.md"; git add -A; git commit -qm "tasks $i"
  if [ "$i" -lt "$features" ]; then git switch -q main; git merge -q --no-ff -m "merge $i" - ; fi
done
"$gate" check >/dev/null || { echo "setup error: gate check fails on the benchmark repo" >&2; "$gate" check; exit 1; }

echo "repo: $files files, $features features, $(git rev-list --count HEAD) commits, on $(git branch --show-current)"
hyperfine --warmup 20 --min-runs 200 -N \
  --export-json "$work/check.json" \
  "$gate check" \
  "$gate check --json" \
  "$gate check --feature 001" \
  "git status --porcelain" \
  "git rev-parse HEAD"
# Medians, which the README reports (hyperfine's own table shows means).
python3 - "$work/check.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
print("| command | median ms | mean ms | min ms |")
print("|---|---:|---:|---:|")
for r in results:
    cmd = r["command"].replace(sys.argv[1].rsplit("/", 1)[0], "")
    cmd = cmd.split("/target/release/")[-1]
    print(f"| `{cmd}` | {r['median']*1000:.1f} | {r['mean']*1000:.1f} | {r['min']*1000:.1f} |")
PY
