//! `gate learn`: dated entries appended to LEARNINGS.md, never rewriting what is there, and
//! `--list` reading them back.

use std::io::Write;
use std::process::Stdio;

use crate::env::{TestEnv, assert_contains, assert_exit, stdout};

/// The entry headings (`## ...` lines that carry a date) of LEARNINGS.md.
fn headings(env: &TestEnv) -> Vec<String> {
    env.read("LEARNINGS.md")
        .lines()
        .filter(|l| l.starts_with("## 2"))
        .map(str::to_owned)
        .collect()
}

/// `## YYYY-MM-DD HH:MM — ` at the start of `heading`; the rest is returned.
#[track_caller]
fn after_date(heading: &str) -> &str {
    let rest = heading.strip_prefix("## ").expect("a level-2 heading");
    let date = &rest[..16];
    for (i, b) in date.bytes().enumerate() {
        let ok = match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 => b == b':',
            _ => b.is_ascii_digit(),
        };
        assert!(ok, "not a YYYY-MM-DD HH:MM date: {heading}");
    }
    rest[16..]
        .strip_prefix(" — ")
        .expect("an em dash after the date")
}

#[test]
fn learn_creates_the_file_with_a_header_and_a_dated_entry() {
    let env = TestEnv::new();
    let out = env.gate(&["learn", "Auth tests need a running Redis"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["LEARNINGS.md", "main (no feature)"]);
    let text = env.read("LEARNINGS.md");
    assert!(text.starts_with("# Learnings\n"), "{text}");
    let h = headings(&env);
    assert_eq!(h.len(), 1, "{text}");
    assert_eq!(after_date(&h[0]), "main (no feature)");
    assert!(
        text.ends_with(&format!("{}\nAuth tests need a running Redis\n\n", h[0])),
        "{text:?}"
    );
    let log = stdout(&env.gate(&["log", "--json"]));
    assert_contains(
        &log,
        &[
            "\"kind\":\"learning\"",
            "Auth tests need a running Redis",
            "LEARNINGS.md",
        ],
    );
}

#[test]
fn learn_appends_and_keeps_existing_content_byte_for_byte() {
    let env = TestEnv::new();
    let original: &[u8] = b"# Our notes\r\n\r\nHand-written, caf\xc3\xa9, no final newline";
    env.write_bytes("LEARNINGS.md", original);
    assert_exit(&env.gate(&["learn", "first", "lesson"]), 0);
    assert_exit(&env.gate(&["learn", "second lesson"]), 0);
    let bytes = env.read_bytes("LEARNINGS.md");
    assert!(bytes.starts_with(original), "existing bytes changed");
    let added = String::from_utf8(bytes[original.len()..].to_vec()).unwrap();
    assert!(added.starts_with("\n\n## "), "{added:?}");
    assert_eq!(headings(&env).len(), 2);
    assert_contains(&added, &["\nfirst lesson\n\n## ", "\nsecond lesson\n\n"]);
    assert!(!added.contains("# Learnings"), "no second header: {added}");
}

#[test]
fn learn_on_a_feature_branch_names_the_branch_and_the_feature() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    assert_exit(&env.gate(&["learn", "Sessions expire after 30 minutes"]), 0);
    let h = headings(&env);
    assert_eq!(after_date(&h[0]), "feature/001-user-auth (001-user-auth)");
}

#[test]
fn learn_works_on_a_detached_head() {
    let env = TestEnv::new();
    let commit = env.git(&["rev-parse", "HEAD"]);
    env.git(&["checkout", "-q", "--detach"]);
    let out = env.gate(&["learn", "Bisecting needs the fixtures"]);
    assert_exit(&out, 0);
    let h = headings(&env);
    assert_eq!(
        after_date(&h[0]),
        format!("detached at {} (no feature)", &commit[..10])
    );
    assert_eq!(env.git(&["rev-parse", "HEAD"]), commit, "HEAD untouched");
}

#[test]
fn learn_reads_the_text_from_stdin_with_a_dash() {
    let env = TestEnv::new();
    let mut child = env
        .gate_command(&env.root)
        .args(["learn", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Line one\r\nline two\n\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    assert_contains(&env.read("LEARNINGS.md"), &["\nLine one\nline two\n\n"]);
}

#[test]
fn learn_refuses_empty_text_and_writes_nothing() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["learn", "  "]), 1);
    assert!(!env.exists("LEARNINGS.md"));
    assert_exit(&env.gate(&["learn"]), 2);
}

#[test]
fn learn_list_reads_the_entries_back() {
    let env = TestEnv::new();
    let out = env.gate(&["learn", "--list", "--json"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim(), "[]");
    assert_exit(&env.gate(&["learn", "on main"]), 0);
    assert_exit(&env.gate(&["specify", "User auth"]), 0);
    assert_exit(&env.gate(&["learn", "two\nlines"]), 0);

    let out = env.gate(&["learn", "--list", "--json"]);
    assert_exit(&out, 0);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = list.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{list}");
    assert_eq!(entries[0]["branch"], "main");
    assert_eq!(entries[0]["feature"], serde_json::Value::Null);
    assert_eq!(entries[0]["text"], "on main");
    assert_eq!(entries[1]["branch"], "feature/001-user-auth");
    assert_eq!(entries[1]["feature"], "001-user-auth");
    assert_eq!(entries[1]["text"], "two\nlines");
    let date = entries[1]["date"].as_str().unwrap();
    after_date(&format!("## {date} — x"));

    let human = stdout(&env.gate(&["learn", "--list"]));
    assert_contains(
        &human,
        &[
            "main (no feature)\n  on main\n",
            "(001-user-auth)\n  two\n  lines\n",
        ],
    );
}
