//! `gate completions` and `gate man`: generated from the command definitions, so every
//! subcommand is in them.

use crate::env::{TestEnv, assert_contains, assert_exit, stdout};

const SUBCOMMANDS: &[&str] = &["check", "specify", "learn", "verify", "log"];

#[test]
fn completions_for_every_shell_name_gate_and_its_subcommands() {
    let env = TestEnv::plain();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = env.gate(&["completions", shell]);
        assert_exit(&out, 0);
        let script = stdout(&out);
        assert!(script.len() > 500, "{shell}: suspiciously short:\n{script}");
        assert_contains(&script, &["gate"]);
        assert_contains(&script, SUBCOMMANDS);
    }
}

#[test]
fn completions_refuse_an_unknown_shell() {
    let env = TestEnv::plain();
    assert_exit(&env.gate(&["completions", "tcsh"]), 2);
}

#[test]
fn man_prints_a_roff_page_starting_with_its_title() {
    let env = TestEnv::plain();
    let out = env.gate(&["man"]);
    assert_exit(&out, 0);
    let page = stdout(&out);
    assert!(
        page.starts_with(".TH gate 1"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert_contains(&page, &[".SH NAME", ".SH SYNOPSIS", "spec\\-first"]);
    assert_contains(&page, SUBCOMMANDS);
}
