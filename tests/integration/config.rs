//! `gate config` and `.gate.toml` errors: file, line, column, what is allowed, exit 2.

use crate::env::{TestEnv, assert_contains, assert_exit, assert_lacks, stderr, stdout};
use serde_json::Value;

/// Runs `gate config` on `toml` and returns the error line, checking exit 2 and the format.
#[track_caller]
fn config_error(toml: &str) -> String {
    let env = TestEnv::new();
    env.write(".gate.toml", toml);
    let out = env.gate(&["config"]);
    assert_exit(&out, 2);
    assert!(stdout(&out).is_empty(), "stdout on error: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    let prefix = format!("error: {}/.gate.toml:", env.root.display());
    assert!(
        err.starts_with(&prefix),
        "error does not start with {prefix:?}:\n{err}"
    );
    err
}

#[test]
fn defaults_without_a_file() {
    let env = TestEnv::new();
    let out = env.gate(&["config"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            "built-in defaults (no .gate.toml)",
            "[branches]",
            "protected = [\"main\", \"master\"]",
            "feature_prefix = \"feature/\"",
            "[commit]",
            "interval = \"30m\"",
            "quiet = \"60s\"",
            "max_file_size = \"50MB\"",
            "[tags]",
            "format = \"stable-{feature}-{date}\"",
            "[spec]",
            "dir = \"specs\"",
            "templates = \"spec-kit/templates\"",
            "implementation = [\"src/**\"]",
            "[agent]",
            "target = \"auto\"",
            "orchestrator = \"orchestrator:0\"",
            "nudge_cooldown = \"10m\"",
        ],
    );
    assert!(
        !env.exists(".gate.toml"),
        "`gate config` must not write a file"
    );
}

#[test]
fn printed_config_is_valid_config() {
    let env = TestEnv::new();
    env.write(
        ".gate.toml",
        "[commit]\ninterval = \"2h\"\n[branches]\nfeature_prefix = \"\"\n",
    );
    let out = env.gate(&["config"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert_contains(
        &text,
        &[
            "interval = \"2h\"",
            "feature_prefix = \"\"",
            "quiet = \"60s\"",
        ],
    );
    // What `gate config` prints, saved as .gate.toml, gives the same configuration.
    env.write(".gate.toml", &text);
    let again = env.gate(&["config"]);
    assert_exit(&again, 0);
    let body = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&stdout(&again)), body(&text));
}

#[test]
fn json_without_a_file_has_null_source() {
    let env = TestEnv::new();
    let out = env.gate(&["config", "--json"]);
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), &["\"source\": null"]);
    let doc = serde_json::from_str::<Value>(&stdout(&out)).expect("JSON");
    assert!(doc.get("source").is_some() && doc["source"].is_null());
    let config = &doc["config"];
    assert_eq!(
        config["branches"]["feature_prefix"].as_str(),
        Some("feature/")
    );
    let protected: Vec<&str> = config["branches"]["protected"]
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(protected, ["main", "master"]);
    assert_eq!(config["commit"]["interval"].as_str(), Some("30m"));
    assert_eq!(config["spec"]["dir"].as_str(), Some("specs"));
    assert_eq!(config["spec"]["implementation"][0].as_str(), Some("src/**"));
    assert_eq!(
        config["tags"]["format"].as_str(),
        Some("stable-{feature}-{date}")
    );
    assert_eq!(config["agent"]["nudge_cooldown"].as_str(), Some("10m"));
}

#[test]
fn json_with_a_file_names_it() {
    let env = TestEnv::new();
    env.write(".gate.toml", "[spec]\ndir = \"docs/specs\"\n");
    let out = env.gate(&["config", "--json"]);
    assert_exit(&out, 0);
    let doc = serde_json::from_str::<Value>(&stdout(&out)).expect("JSON");
    let source = doc["source"].as_str().expect("source is a string");
    assert_eq!(source, env.root.join(".gate.toml").display().to_string());
    assert_eq!(doc["config"]["spec"]["dir"].as_str(), Some("docs/specs"));
    // Keys not in the file keep their defaults.
    assert_eq!(
        doc["config"]["spec"]["templates"].as_str(),
        Some("spec-kit/templates")
    );
}

#[test]
fn empty_file_is_the_defaults() {
    let env = TestEnv::new();
    env.write(".gate.toml", "");
    let out = env.gate(&["config"]);
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        &["feature_prefix = \"feature/\"", ".gate.toml"],
    );
    assert_lacks(&stdout(&out), &["built-in defaults"]);
}

#[test]
fn unknown_key_names_file_line_column_and_the_allowed_keys() {
    let err = config_error("[commit]\ninterval = \"1m\"\ncadence = 3\n");
    assert_contains(
        &err,
        &[
            ".gate.toml:3:1:",
            "unknown field `cadence`",
            "interval",
            "quiet",
            "max_file_size",
        ],
    );
}

#[test]
fn unknown_section_names_its_line() {
    let err = config_error("# comment\n\n[branch]\nprotected = [\"main\"]\n");
    assert_contains(
        &err,
        &[".gate.toml:3:", "unknown field `branch`", "branches"],
    );
}

#[test]
fn wrong_type_names_line_and_column() {
    let err = config_error("[branches]\nprotected = \"main\"\n");
    assert_contains(&err, &[".gate.toml:2:13:"]);
    let err = config_error("[branches]\nfeature_prefix = 3\n");
    assert_contains(&err, &[".gate.toml:2:18:"]);
}

#[test]
fn bad_glob_names_its_line() {
    let err = config_error("[spec]\nimplementation = [\"src/[a\"]\n");
    assert_contains(
        &err,
        &[".gate.toml:2:", "invalid glob \"src/[a\"", "src/**"],
    );
}

#[test]
fn bad_duration_says_what_is_allowed() {
    let err = config_error("[commit]\ninterval = \"soon\"\n");
    assert_contains(&err, &[".gate.toml:2:12:", "30m"]);
    let err = config_error("[agent]\n\nnudge_cooldown = \"10 parsecs\"\n");
    assert_contains(&err, &[".gate.toml:3:18:", "30m"]);
}

#[test]
fn bad_size_and_tag_format() {
    let err = config_error("[commit]\nmax_file_size = \"huge\"\n");
    assert_contains(&err, &[".gate.toml:2:17:"]);
    let err = config_error("[tags]\nformat = \"stable-{date}\"\n");
    assert_contains(&err, &[".gate.toml:2:10:", "{feature}"]);
}

#[test]
fn toml_syntax_error_names_its_line() {
    let err = config_error("[branches]\nprotected = [\"main\"\n\n[spec]\n");
    assert_contains(&err, &[".gate.toml:"]);
}

#[test]
fn non_utf8_config_is_an_error() {
    let env = TestEnv::new();
    env.write_bytes(".gate.toml", b"[spec]\ndir = \"\xff\"\n");
    let out = env.gate(&["config"]);
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), &[".gate.toml:2:8:", "UTF-8"]);
}

#[test]
fn every_command_refuses_to_run_on_a_broken_config() {
    let env = TestEnv::new();
    let bad = "[commit]\ninterval = \"soon\"\n";
    env.write(".gate.toml", bad);
    for args in [
        &["check"][..],
        &["check", "--json"],
        &["specify", "User auth"],
        &["plan"],
        &["tasks"],
        &["init"],
    ] {
        let out = env.gate(args);
        assert_exit(&out, 2);
        assert_contains(&stderr(&out), &[".gate.toml:2:12:"]);
    }
    assert_eq!(env.branch(), "main", "specify ran on a broken config");
    assert_eq!(env.read(".gate.toml"), bad);
}

#[test]

fn spec_dir_outside_the_repository_is_refused() {
    for dir in ["../outside", "/tmp/gate-abs-specs"] {
        let env = TestEnv::new();
        env.write(".gate.toml", &format!("[spec]\ndir = \"{dir}\"\n"));
        let out = env.gate(&["specify", "User auth"]);
        assert!(
            !env.base_dir().join("outside").exists(),
            "gate wrote outside the repository"
        );
        assert_exit(&out, 2);
        assert_contains(&stderr(&out), &[".gate.toml:2:"]);
        assert_eq!(env.branch(), "main");
    }
}
