#!/usr/bin/env bash
# Benchmark `gate agent-hook`, the state hook the agent CLIs run at every prompt and every turn
# end (Claude Code waits for it before it goes on). Side by side in one run: a bare process
# (`true`), the one-line shell hook people write (`cat >> file`), gate's hook outside tmux,
# and inside a tmux pane (one `display-message` to read the pane's agent mark), and the Stop
# hook with nothing queued. Private tmux server. Budget: 20 ms.
#
#   bash bench/agent-hook.sh          # builds release, prints hyperfine's table
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_start
command -v tmux >/dev/null || { echo "needs tmux" >&2; exit 2; }
unset TMUX TMUX_PANE GATE_AGENT
export TMUX_TMPDIR="$work" HOME="$work/home"
mkdir -p "$HOME"
trap 'command tmux -L bench kill-server 2>/dev/null || true; rm -rf "$work"' EXIT

new_repo "$work/repo"
git commit -q --allow-empty -m initial
printf '{"hook_event_name":"UserPromptSubmit","session_id":"s","cwd":"%s","prompt":"go"}' "$PWD" > "$work/submit.json"
printf '{"hook_event_name":"Stop","session_id":"s","cwd":"%s","stop_hook_active":false}' "$PWD" > "$work/stop.json"

tmux -L bench -f /dev/null new-session -d -s bench -x 120 -y 30 "sleep 3600"
pane=$(tmux -L bench display-message -p -t bench: '#{pane_id}')
tmux -L bench set-option -p -t "$pane" @gate-agent eng-1
socket=$(tmux -L bench display-message -p '#{socket_path}')

# hyperfine runs each command line through sh and subtracts the shell's own start-up; the
# payload arrives on stdin as the CLIs send it.
hyperfine --warmup 5 --min-runs 100 --export-json "$work/hook.json" \
  -n 'true (a bare process)' "true < $work/submit.json" \
  -n 'cat >> log (a one-line shell hook)' "sh -c 'cat >> $work/log' < $work/submit.json" \
  -n 'gate agent-hook (outside tmux)' "$gate agent-hook claude user-prompt-submit < $work/submit.json" \
  -n 'gate agent-hook (in a marked pane)' \
  "TMUX=$socket,1,0 TMUX_PANE=$pane $gate agent-hook claude user-prompt-submit < $work/submit.json" \
  -n 'gate agent-hook stop (in the pane, nothing queued)' \
  "TMUX=$socket,1,0 TMUX_PANE=$pane $gate agent-hook claude stop < $work/stop.json"
test "$(sed -n 's/.*"activity": "\(.*\)".*/\1/p' .git/gate/agents/eng-1.json)" = idle \
  || { echo "error: the state was not recorded" >&2; exit 1; }
echo "state recorded: eng-1 idle"
