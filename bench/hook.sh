#!/usr/bin/env bash
# What does gate's pre-commit hook add to a commit? On a 10,000-file repository, one run
# measures `git commit` with: no hook; a shell hook that only exits; gate's hooks (real rule
# evaluation, fast and slow path); the same no-op policy through lefthook and through the
# pre-commit framework (both installed from PyPI into a throwaway venv here).
#
#   bash bench/hook.sh            # needs hyperfine, python3 with venv/pip
set -euo pipefail
files=${FILES:-10000}
runs=${RUNS:-60}
. "$(dirname "$0")/lib.sh"
bench_start
export PATH="$work/venv/bin:$PATH"

echo "installing lefthook and pre-commit from PyPI into $work/venv ..."
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q lefthook pre-commit

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
variant gate-pre;  (cd "$work/gate-pre" && "$gate" hooks install >/dev/null && rm .git/hooks/post-* .git/hooks/pre-push)
variant gate-slow; (cd "$work/gate-slow" && "$gate" hooks install >/dev/null && "$gate" specify "unfinished" >/dev/null && git add -A && git commit -qm "spec started")
variant lefthook;  (cd "$work/lefthook" && printf 'pre-commit:\n  commands:\n    noop:\n      run: "true"\n' > lefthook.yml && lefthook install >/dev/null)
variant precommit; (cd "$work/precommit" && printf 'repos:\n- repo: local\n  hooks:\n  - id: noop\n    name: noop\n    entry: "true"\n    language: system\n    pass_filenames: false\n    always_run: true\n' > .pre-commit-config.yaml && pre-commit install >/dev/null && git add .pre-commit-config.yaml && git commit -qm cfg >/dev/null 2>&1 || true)

bench=()
for v in none shell gate-pre gate gate-slow lefthook precommit; do
  bench+=(--command-name "$v" --prepare "cd $work/$v && date +%s%N >> notes.txt && git add notes.txt" "cd $work/$v && git commit -q -m x")
done
hyperfine --warmup 5 --runs "$runs" --export-json "$work/hook.json" "${bench[@]}"

python3 - "$work/hook.json" <<'PY'
import json, sys
rs = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
none = rs["none"]["median"]
labels = {
  "none": "no hook (bare git commit)",
  "shell": "shell hook that only exits",
  "gate-pre": "gate pre-commit only (gate passed: fast path)",
  "gate": "gate: pre-commit + post-commit event (gate passed: fast path)",
  "gate-slow": "gate: pre-commit + post-commit (spec incomplete: reads staged paths, evaluates)",
  "lefthook": "lefthook, one no-op command",
  "precommit": "pre-commit framework, one no-op hook",
}
print(f"| hook | median commit ms | added ms | × shell hook's added cost |")
print("|---|---:|---:|---:|")
shell_added = rs["shell"]["median"] - none
for k, label in labels.items():
    m = rs[k]["median"]
    added = m - none
    ratio = f"{added/shell_added:.1f}×" if k != "none" and shell_added > 0 else ""
    print(f"| {label} | {m*1000:.1f} | {added*1000:+.1f} | {ratio} |")
PY
