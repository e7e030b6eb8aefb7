//! Integration tests: the built `gate` binary against real git repositories in temp dirs.
//!
//! Every test builds its own [`env::TestEnv`] (own HOME, XDG dirs, git identity and clock), so
//! tests run in parallel and never see the developer's configuration.
//!
//! Tests marked `#[ignore = "bug: ..."]` assert the behaviour the spec (issue 2) asks for and
//! currently fail; run them with `cargo test --test integration -- --ignored`.

mod artifact;
mod check;
mod config;
mod env;
mod init;
mod json;
mod specify;
mod speckit;
