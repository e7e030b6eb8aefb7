//! The reliability suite: gate's promise that unattended agents lose nothing and cannot quietly
//! break the rules, tested the way a skeptic would. `RELIABILITY.md` at the repository root has
//! the table of scenarios, the figures from real runs and the trust model.
//!
//! `cargo test --test reliability` runs the CI mode (fewer iterations, about two minutes on two
//! cores); `GATE_LONG=1 cargo test --release --test reliability` the long one (200+ SIGKILLs,
//! 1,000 commit-loop iterations). `GATE_SEED=<n>` replays a run's random choices; every test
//! that uses randomness prints its seed. Run with `-- --nocapture` to see the figures.
//!
//! Every test builds its own [`env::TestEnv`] (own HOME, XDG dirs, git identity and clock), so
//! tests run in parallel and never see the developer's configuration.

// The integration suite's hermetic environment and the tmux suite's private server, shared
// rather than copied; not every helper is used here.
#[allow(dead_code)]
#[path = "../integration/env.rs"]
mod env;
#[allow(dead_code)]
#[path = "../tmux/server.rs"]
mod server;

mod concurrency;
mod crash;
mod doctor;
mod hostile;
mod model;
mod states;
mod support;
mod trust;
