#!/usr/bin/env bash
# What do gate's hooks add to a commit? On a 10,000-file repository with the spec gate passed,
# `git commit` of a code change is timed with: no hook; a pre-commit shell hook that only exits
# (the floor); the full hook set exactly as `gate init` installs it (everyday path); and gate
# with the spec incomplete (the slow path: staged paths read, rules evaluated, commit refused
# is avoided by staging a docs change). The variants run side by side: ROUNDS rounds of one
# hyperfine run over all of them, RUNS commits each, so load drifting during the benchmark
# hits every variant alike. COMPARE=1 adds lefthook and the pre-commit framework (from PyPI).
#
#   bash bench/hook.sh            # needs hyperfine; ROUNDS=10 RUNS=10 FILES=10000 by default
set -euo pipefail
files=${FILES:-10000}
rounds=${ROUNDS:-10}
runs=${RUNS:-10}
. "$(dirname "$0")/lib.sh"
bench_start

base="$work/base"
new_repo "$base"
python3 - "$files" <<'PY'
import os, sys
for i in range(int(sys.argv[1])):
    d = f"src/m{i % 100:03d}"
    os.makedirs(d, exist_ok=True)
    open(f"{d}/f{i}.rs", "w").write(f"pub fn f{i}() -> u32 {{ {i} }}\n")
PY
"$gate" init --no-hooks >/dev/null
git add -A && git commit -qm "tree"
complete_feature "bench feature"
git add -A && git commit -qm "complete feature"
"$gate" check >/dev/null

variant() { cp -a "$base" "$work/$1"; }
variant none
variant shell;     printf '#!/bin/sh\nexit 0\n' > "$work/shell/.git/hooks/pre-commit"; chmod +x "$work/shell/.git/hooks/pre-commit"
variant gate;      (cd "$work/gate" && "$gate" hooks install >/dev/null)
variant gate-slow; (cd "$work/gate-slow" && "$gate" hooks install >/dev/null && "$gate" specify "unfinished" >/dev/null && git add -A && git commit -qm "spec started" --no-verify)
names=(none shell gate gate-slow)
if [ "${COMPARE:-0}" = 1 ]; then
  echo "installing lefthook and pre-commit from PyPI into $work/venv ..."
  python3 -m venv "$work/venv" && "$work/venv/bin/pip" install -q lefthook pre-commit
  export PATH="$work/venv/bin:$PATH"
  variant lefthook;  (cd "$work/lefthook" && printf 'pre-commit:\n  commands:\n    noop:\n      run: "true"\n' > lefthook.yml && lefthook install >/dev/null)
  variant precommit; (cd "$work/precommit" && printf 'repos:\n- repo: local\n  hooks:\n  - id: noop\n    name: noop\n    entry: "true"\n    language: system\n    pass_filenames: false\n    always_run: true\n' > .pre-commit-config.yaml && pre-commit install >/dev/null && git add .pre-commit-config.yaml && git commit -qm cfg >/dev/null 2>&1 || true)
  names+=(lefthook precommit)
fi
echo "hooks gate init installs: $(ls "$work/gate/.git/hooks" | grep -v sample | tr '\n' ' ')"

bench=()
for v in "${names[@]}"; do
  # A code change on the fast path; on the slow path a docs change (code would be refused).
  file=src/m000/f0.rs; [ "$v" = gate-slow ] && file=notes.md
  bench+=(--command-name "$v" --prepare "cd $work/$v && date +%s%N >> $file && git add $file" "cd $work/$v && git commit -q -m x")
done
for r in $(seq "$rounds"); do
  hyperfine --style none --warmup 2 --runs "$runs" --export-json "$work/round-$r.json" "${bench[@]}" >/dev/null
done

# CPU time of the hook alone (perf's task-clock: less sensitive to other load than wall time).
if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then
  for v in shell gate; do
    ms=$(cd "$work/$v" && perf stat -r 300 -x, -e task-clock .git/hooks/pre-commit 2>&1 >/dev/null | cut -d, -f1)
    echo "cpu $v $ms" >> "$work/cpu.txt"
  done
fi

python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
times = {}
for r in range(1, rounds + 1):
    for res in json.load(open(f"{work}/round-{r}.json"))["results"]:
        times.setdefault(res["command"], []).extend(res["times"])
labels = {
  "none": "no hook (bare git commit)",
  "shell": "pre-commit shell hook that only exits",
  "gate": "gate's hooks as `gate init` installs them (gate passed, code change)",
  "gate-slow": "gate's hooks, spec incomplete (reads staged paths, evaluates)",
  "lefthook": "lefthook, one no-op command",
  "precommit": "pre-commit framework, one no-op hook",
}
med = {k: statistics.median(v) * 1000 for k, v in times.items()}
q = {k: statistics.quantiles(v, n=4) for k, v in times.items()}
print(f"{sum(len(v) for v in times.values())} commits in {rounds} interleaved rounds")
print("| hook | median commit ms | p25-p75 ms | added ms | over the shell hook ms |")
print("|---|---:|---:|---:|---:|")
for k, label in labels.items():
    if k not in med:
        continue
    lo, _, hi = q[k]
    print(f"| {label} | {med[k]:.1f} | {lo*1000:.1f}-{hi*1000:.1f} | {med[k]-med['none']:+.1f} | {med[k]-med['shell']:+.1f} |")
import os
cpu = os.path.join(work, "cpu.txt")
if os.path.exists(cpu):
    ms = {l.split()[1]: float(l.split()[2]) for l in open(cpu)}
    print(f"CPU time of the pre-commit hook alone (perf stat, 300 runs): shell {ms['shell']:.2f} ms, "
          f"gate's shim + gate {ms['gate']:.2f} ms, {ms['gate'] - ms['shell']:+.2f} ms")
PY
