#!/usr/bin/env bash
# Benchmark `gate check` on a repository with 10,000 files and 50 features, the current one
# complete (the hook's and agents' hot path). Prints hyperfine's table; --export-markdown too.
#
#   bash bench/check.sh            # builds release, runs, prints medians
#   FILES=100000 bash bench/check.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
files=${FILES:-10000}
features=${FEATURES:-50}
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
gate="$here/target/release/gate"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=b@x
export XDG_STATE_HOME="$work/state" NO_COLOR=1
repo="$work/repo"
mkdir -p "$repo" && cd "$repo"
git init -q -b main
git config gc.auto 0; git config maintenance.auto false
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
complete() { # $1 file: fill every blank, tick every box
  sed -i -e 's/{{[^}]*}}/filled/g' -e 's/- \[ \]/- [x]/g' "$1"
}
for i in $(seq 1 "$features"); do
  "$gate" specify "feature $i" >/dev/null
  dir=$(ls -d specs/*-feature-"$i" | head -1)
  complete "$dir/spec.md"; git add -A; git commit -qm "spec $i"
  "$gate" plan >/dev/null; complete "$dir/plan.md"; git add -A; git commit -qm "plan $i"
  "$gate" tasks >/dev/null; complete "$dir/tasks.md"; git add -A; git commit -qm "tasks $i"
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
