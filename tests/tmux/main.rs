//! Integration tests of gate's tmux side: the built `gate` binary against a real tmux server.
//!
//! Every test starts its own server on a private socket (its own `TMUX_TMPDIR`, `-L gate-test`,
//! `TMUX` and `TMUX_PANE` removed), never the user's, and kills it when done. Fake agents in
//! its panes write what they receive to files, and the tests compare the bytes.

mod agents;
mod busy;
mod library;
mod mock_model;
mod nudge;
mod project;
mod real_claude;
mod real_cli;
mod real_codex;
mod real_team;
mod recovery;
mod schedule;
mod send;
mod server;
mod team;
mod tui;
mod turns;
