//! gate: keeps AI coding agents on a spec-first, branch-per-feature git workflow.
//!
//! The library holds facts (git, files), rules (pure) and actions; the `gate` binary on top is
//! the only part that talks to a terminal.

pub mod agents;
pub mod cli_trust;
pub mod config;
pub mod confine;
pub mod doctor;
pub mod events;
pub mod facts;
pub mod finished;
pub mod hooks;
pub mod judge;
pub mod layout;
pub mod learnings;
pub mod nudge;
pub mod project_state;
pub mod registry;
pub mod repo;
pub mod rules;
pub mod scaffold;
pub mod schedule;
pub mod service;
pub mod snapshot;
pub mod spec;
pub mod statefile;
pub mod status;
pub mod tail;
pub mod team;
pub mod tmux;
pub mod units;
pub mod watch;
