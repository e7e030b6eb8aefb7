#!/usr/bin/env bash
# Benchmark `gate send` to a fake agent pane on a private tmux server: with the default pause
# (500ms) and with --pause 0, beside a bare `tmux send-keys` for scale. The target is
# "configured pause + at most 20 ms"; the script prints each median and the overhead.
#
#   bash bench/send.sh             # builds release, runs, prints medians
#   RUNS=50 bash bench/send.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-20}
for tool in hyperfine jq tmux; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
gate="$here/target/release/gate"
work=$(mktemp -d /tmp/gate-bench.XXXXXX)
unset TMUX TMUX_PANE
export TMUX_TMPDIR="$work" XDG_RUNTIME_DIR="$work" GATE_TMUX_SOCKET=bench NO_COLOR=1
tmux() { command tmux -L bench -f /dev/null "$@"; }
trap 'tmux kill-server 2>/dev/null || true; rm -rf "$work"' EXIT

# The fake agent: the terminal echoes what is typed (gate send presses Enter only once it sees
# the text), and each line read clears the screen, as a TUI clears its input on submit (else the
# previous, identical message would still be on show). Every line goes to a file.
tmux new-session -d -s agent -x 160 -y 40 \
  "stty -icanon -isig; while IFS= read -r line; do printf '%s\n' \"\$line\" >> $work/out; printf '\033[H\033[2J'; done"
sleep 0.3
cd "$work" # not a git repository: no event log write

msg="Status update please: what is done, what is next, what blocks you"
hyperfine --shell=none --warmup 3 --runs "$runs" --export-json "$work/bench.json" \
  -n "gate send (default pause 500ms)" "$gate send agent '$msg'" \
  -n "gate send --pause 0" "$gate send --pause 0 agent '$msg'" \
  -n "tmux send-keys (text + Enter, for scale)" \
  "tmux -L bench send-keys -t agent:0.0 -l '$msg' ';' send-keys -t agent:0.0 Enter"

echo
jq -r '.results[] | [.command, (.median * 1000)] | @tsv' "$work/bench.json" |
  while IFS=$'\t' read -r name median; do
    case "$name" in
      *"default pause"*) pause=500 ;;
      *"--pause 0"*) pause=0 ;;
      *) printf '%-45s median %7.1f ms\n' "$name" "$median"; continue ;;
    esac
    overhead=$(awk -v m="$median" -v p="$pause" 'BEGIN { printf "%.1f", m - p }')
    verdict=$(awk -v o="$overhead" 'BEGIN { print (o <= 20 ? "within" : "OVER") }')
    printf '%-45s median %7.1f ms = pause %d ms + %s ms (%s the 20 ms budget)\n' \
      "$name" "$median" "$pause" "$overhead" "$verdict"
  done
lines=$(wc -l <"$work/out")
echo "the fake agent received $lines lines"
