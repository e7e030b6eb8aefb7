# Shared set-up for the benchmark scripts: source it, then call bench_start.
#   here   the repository;  gate   the release binary;  work   a temp dir removed on exit
#   new_repo DIR        a git repository without background gc (it races with copies)
#   complete_feature N  `gate specify N`, then spec, plan and tasks written and filled in

bench_start() {
  here=$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)
  command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
  gate="$here/target/release/gate"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=b@x \
    GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=b@x XDG_STATE_HOME="$work/state" NO_COLOR=1
}

new_repo() {
  mkdir -p "$1" && cd "$1"
  git init -q -b main
  git config gc.auto 0
  git config maintenance.auto false
}

# Every {{...}} blank filled, every box ticked: what an agent does before the gate opens.
fill() { sed -i -e 's/{{[^}]*}}/filled/g' -e 's/- \[ \]/- [x]/g' "$@"; }

complete_feature() {
  "$gate" specify "$1" >/dev/null
  local dir
  dir=$(ls -d specs/*-"$(echo "$1" | tr 'A-Z ' 'a-z-')" | head -1)
  fill "$dir/spec.md"
  "$gate" plan >/dev/null && fill "$dir/plan.md"
  "$gate" tasks >/dev/null && fill "$dir/tasks.md"
}
