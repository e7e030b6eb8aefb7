#!/usr/bin/env bash
# A burst of new files (default 100,000 in 1,000 directories) appearing at once on a feature
# branch whose spec gate passed, committed by:
#   git add -A && git commit        what an agent would type
#   gate snapshot                   gate's auto-commit (the watcher takes the same path: above
#                                   2,000 event paths it asks git for a full status)
# and, for each, how long the real .git/index.lock was held (sampled every ~0.2 ms by a
# poller beside the run): gate stages into a private copy of the index, so the agent's own
# git commands are not locked out while 100,000 files are hashed.
#
#   bash bench/burst.sh               # BURST=25000 RUNS=3 for a quicker run
set -euo pipefail
burst=${BURST:-100000}
runs=${RUNS:-5}
. "$(dirname "$0")/lib.sh"
bench_start
new_repo "$work/repo"
printf '[commit]\ninterval = "1s"\nquiet = "1s"\nmax_file_size = "1MB"\n' > .gate.toml
"$gate" init --no-hooks >/dev/null
echo "# burst" > README.md
git add -A && git commit -qm base
complete_feature "bench"
git add -A && git commit -qm feature
python3 - "$burst" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = f"src/burst/d{i % 1000}"
    if i < 1000: os.makedirs(d, exist_ok=True)
    open(f"{d}/n{i}.rs", "w").write(f"pub fn n{i}() -> u32 {{ {i} }}\n")
PY
echo "burst: $burst new files in $(find src/burst -type d | wc -l) directories"
# Each run starts from the same state: the burst untracked, the branch at the feature commit.
base=$(git rev-parse HEAD)
reset="git reset -q --mixed $base"

hyperfine --warmup 1 --runs "$runs" --export-json "$work/burst.json" \
  --command-name "git add -A && git commit" --prepare "$reset" "git add -A && git commit -q -m burst" \
  --command-name "gate snapshot" --prepare "$reset" "$gate snapshot" >/dev/null

# How long index.lock is held, per command (one run each, sampled by a poller).
lock_held() {
  $reset
  python3 - "$work/repo/.git/index.lock" "$@" <<'PY'
import os, subprocess, sys, time
lock, cmd = sys.argv[1], sys.argv[2:]
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
held, since, longest = 0.0, None, 0.0
while p.poll() is None:
    now = time.perf_counter()
    if os.path.exists(lock):
        since = since or now
    elif since:
        held += now - since; longest = max(longest, now - since); since = None
if since:
    d = time.perf_counter() - since; held += d; longest = max(longest, d)
print(f"{held*1000:.1f} {longest*1000:.1f}")
PY
}
git_lock=$(lock_held sh -c "git add -A && git commit -q -m burst")
gate_lock=$(lock_held "$gate" snapshot)

python3 - "$work/burst.json" "$git_lock" "$gate_lock" <<'PY'
import json, sys
rs = json.load(open(sys.argv[1]))["results"]
locks = [sys.argv[2].split(), sys.argv[3].split()]
git = rs[0]["median"]
print("\n| commit of the burst | median s | × git CLI | index.lock held (total / longest) |")
print("|---|---:|---:|---:|")
for r, (total, longest) in zip(rs, locks):
    print(f"| {r['command']} | {r['median']:.2f} | {r['median']/git:.2f} | {total} ms / {longest} ms |")
PY
