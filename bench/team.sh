#!/usr/bin/env bash
# Benchmark `gate team up` of one PM and four engineers with a fake agent command (each run
# from nothing: no session, no worktrees, no feature branches, no watcher), and `gate team
# status` on the running team. Targets: up <= 5 s, status <= 50 ms. Private tmux server.
#
#   bash bench/team.sh             # builds release, runs, prints medians
#   RUNS=5 bash bench/team.sh
set -euo pipefail
runs=${RUNS:-10}
. "$(dirname "$0")/lib.sh"
bench_start
command -v tmux >/dev/null || { echo "needs tmux" >&2; exit 2; }
unset TMUX TMUX_PANE
export TMUX_TMPDIR="$work" XDG_RUNTIME_DIR="$work" GATE_TMUX_SOCKET=bench HOME="$work/home"
mkdir -p "$HOME"
trap 'cd "$work/repo" 2>/dev/null && "$gate" watch --stop >/dev/null 2>&1; command tmux -L bench kill-server 2>/dev/null || true; rm -rf "$work"' EXIT

# The fake agent: says it is ready, then records every line it receives. The terminal echoes
# what is typed: gate send presses Enter only once it sees the text.
cat > "$work/fake-agent" <<'SH'
#!/bin/sh
stty -icanon -isig -ixon
printf 'fake agent ready\n'
while IFS= read -r line; do printf '%s\n' "$line" >> "$1"; done
SH
chmod +x "$work/fake-agent"

new_repo "$work/repo"
git commit -q --allow-empty -m initial
{
  echo 'session = "bench"'
  printf '[[agent]]\nname = "pm"\nrole = "pm"\ncommand = "%s %s"\n' "$work/fake-agent" "$work/pm.out"
  for e in 1 2 3 4; do
    printf '[[agent]]\nname = "eng%s"\nrole = "engineer"\ncommand = "%s %s"\nfeature = "Feature %s"\n' \
      "$e" "$work/fake-agent" "$work/eng$e.out" "$e"
  done
} > team.toml

# From nothing: no session, no worktrees or feature branches, no watcher.
cat > "$work/reset" <<SH
#!/bin/sh
cd "$work/repo"
command tmux -L bench kill-session -t =bench 2>/dev/null
"$gate" watch --stop >/dev/null 2>&1
for w in \$(git worktree list --porcelain | sed -n 's/^worktree //p' | tail -n +2); do git worktree remove --force "\$w"; done
git for-each-ref --format='%(refname:short)' refs/heads/feature/ | xargs -r git branch -q -D
rm -f "$work"/*.out
exit 0
SH
chmod +x "$work/reset"

hyperfine --shell=none --runs "$runs" --prepare "$work/reset" --export-json "$work/up.json" \
  "$gate team up"
# Every brief arrived, once.
for a in pm eng1 eng2 eng3 eng4; do
  n=$(grep -c "^You are $a, " "$work/$a.out" || true)
  [ "$n" = 1 ] || { echo "error: $a received its brief $n times" >&2; exit 1; }
done
echo "every agent received its brief once"

hyperfine --shell=none --warmup 5 --min-runs 50 --export-json "$work/status.json" \
  "$gate team status" "$gate team status --json"
python3 - "$work/up.json" "$work/status.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    for r in json.load(open(path))["results"]:
        print(f"median {r['median'] * 1000:8.1f} ms  {r['command'].split('/')[-1]}")
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
