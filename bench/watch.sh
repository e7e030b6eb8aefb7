#!/usr/bin/env bash
# The watcher's costs on a large repository (default 100,000 files in 11,120 directories):
#  1. `gate snapshot` (full status, like a one-shot tool) vs `git add -A && git commit`,
#     12 changed files per run;
#  2. the watcher's own auto-commit, which knows the changed paths (`gate snapshot --only`);
#  3. the idle watcher over IDLE seconds: CPU, resident memory, inotify watches;
#  4. latency from a file write to the watcher seeing it, and to its commit after the quiet
#     window.
#
#   bash bench/watch.sh                 # FILES=20000 IDLE=20 for a quicker run
set -euo pipefail
files=${FILES:-100000}
idle=${IDLE:-60}
runs=${RUNS:-15}
. "$(dirname "$0")/lib.sh"
bench_start
cleanup() { [ -n "${wpid:-}" ] && kill "$wpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
new_repo "$work/repo"
python3 - "$files" <<'PY'
import os, sys
n = int(sys.argv[1]); leaves = [f"src/d{a}/e{b}/f{c}" for a in range(10) for b in range(10) for c in range(111)]
for i in range(n):
    d = leaves[i % len(leaves)]
    if i < len(leaves): os.makedirs(d, exist_ok=True)
    open(f"{d}/m{i}.rs", "w").write(f"pub fn f{i}() -> u32 {{ {i} }}\n")
PY
printf '[commit]\ninterval = "1s"\nquiet = "1s"\n' > .gate.toml
"$gate" init --no-hooks >/dev/null
git add -A && git commit -qm tree
complete_feature "bench"
git add -A && git commit -qm feature
dirs=$(find src -type d | wc -l)
echo "repo: $(git ls-files | wc -l) files in $dirs directories"

# Twelve files spread over the tree, changed before every run.
changed=$(git ls-files src | awk 'NR % 8000 == 1' | head -12 | tr '\n' ' ')
touch_files="for f in $changed; do date +%s%N >> \$f; done"

hyperfine --warmup 2 --runs "$runs" --export-json "$work/commit.json" \
  --command-name "git add -A && git commit" --prepare "$touch_files" "git add -A && git commit -q -m x" \
  --command-name "gate snapshot (full status)" --prepare "$touch_files" "$gate snapshot" \
  --command-name "gate snapshot --only <12 paths> (the watcher's path)" --prepare "$touch_files" "$gate snapshot --only $changed" \
  --command-name "git status (for scale)" --prepare "$touch_files" "git status --porcelain" >/dev/null

python3 - "$work/commit.json" <<'PY'
import json, sys
rs = json.load(open(sys.argv[1]))["results"]
git = rs[0]["median"]
print("\n| commit of 12 changed files | median ms | × git CLI |")
print("|---|---:|---:|")
for r in rs:
    print(f"| {r['command']} | {r['median']*1000:.0f} | {r['median']/git:.2f} |")
PY

# Idle watcher: CPU, memory, watches.
git add -A && git commit -qm settle >/dev/null 2>&1 || true
GATE_WATCH_TRACE=1 "$gate" watch 2> "$work/watch.log" &
wpid=$!
for _ in $(seq 200); do grep -q watching "$work/watch.log" 2>/dev/null && break; sleep 0.1; done
sleep 3
ticks() { awk '{print $14 + $15}' "/proc/$wpid/stat"; }
t0=$(ticks); sleep "$idle"; t1=$(ticks)
hz=$(getconf CLK_TCK)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$wpid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$wpid/status")
watches=$(cat /proc/$wpid/fdinfo/* 2>/dev/null | grep -c '^inotify' || true)
echo
echo "| idle watcher over ${idle}s | value |"
echo "|---|---:|"
echo "| CPU time used | $(python3 -c "print(f'{($t1-$t0)/$hz*1000:.0f} ms')") |"
echo "| resident memory (now / peak) | $((rss/1024)) MB / $((hwm/1024)) MB |"
echo "| inotify watches | $watches (of $dirs directories + git's) |"

# Latency: write -> seen, and write -> committed (quiet = 1 s).
lat=()
for i in $(seq 10); do
  f="src/d1/e1/f1/lat$i.rs"
  start=$(date +%s%N); echo "x" > "$f"
  for _ in $(seq 400); do line=$(grep "saw $f at" "$work/watch.log" || true); [ -n "$line" ] && break; sleep 0.005; done
  seen=${line##* }
  lat+=($(( (seen - start) / 1000 )))
  head0=$(git rev-parse HEAD)
  for _ in $(seq 600); do [ "$(git rev-parse HEAD)" != "$head0" ] && break; sleep 0.01; done
  done_ns=$(date +%s%N)
  commit_lat+=($(( (done_ns - start) / 1000000 )))
done
python3 - "${lat[*]}" "${commit_lat[*]}" <<'PY'
import statistics, sys
seen = [int(x) for x in sys.argv[1].split()]
com = [int(x) for x in sys.argv[2].split()]
print("\n| latency (10 writes) | median | max |")
print("|---|---:|---:|")
print(f"| write -> watcher sees it | {statistics.median(seen)/1000:.1f} ms | {max(seen)/1000:.1f} ms |")
print(f"| write -> auto-commit (quiet 1 s, interval 1 s) | {statistics.median(com)} ms | {max(com)} ms |")
PY
