//! Integration tests: the built `gate` binary against real git repositories in temp dirs.
//!
//! Every test builds its own [`env::TestEnv`] (own HOME, XDG dirs, git identity and clock), so
//! tests run in parallel and never see the developer's configuration.
//!
//! Regression tests for bugs are named after the behaviour they pin.

mod artifact;
mod audit;
mod check;
mod completions;
mod config;
mod demo;
mod env;
mod finish;
mod frontdoor;
mod hooks;
mod init;
mod learn;
mod log;
mod preserve;
mod service;
mod snapshot;
mod specify;
mod speckit;
mod status;
mod verify;
mod watch;
mod worktrees;
