//! `gate doctor`: every check through the binary, on a fresh repository (problems, each with
//! its fix), after the fixes were run (all good), and on broken setups.

use crate::env::{TestEnv, all, assert_exit, code, stdout};
use crate::server::{Agent, Server};

/// `gate doctor --json` with a tmux socket of the test's own (`socket`), parsed.
fn doctor(env: &TestEnv, socket: &str, extra: &[(&str, &str)]) -> (i32, serde_json::Value) {
    let mut vars = vec![("GATE_TMUX_SOCKET", socket)];
    vars.extend_from_slice(extra);
    let out = env.gate_with(&["doctor", "--json"], &vars);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", all(&out)));
    (code(&out), json)
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

fn failing(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

fn no_server(env: &TestEnv) -> String {
    env.base_dir().join("no-tmux-here").display().to_string()
}

#[test]
fn a_fresh_repository_lists_each_problem_with_its_fix() {
    let env = TestEnv::new();
    let (code, report) = doctor(&env, &no_server(&env), &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["ok"], false);
    assert_eq!(
        failing(&report),
        ["hooks", "watcher", "tmux", "templates", "registered"]
    );
    // The schema: {ok, checks: [{name, ok, detail, fix}]}; a fix exactly where it failed.
    for c in report["checks"].as_array().unwrap() {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["detail", "fix", "name", "ok"], "{c}");
        assert!(!c["detail"].as_str().unwrap().is_empty(), "{c}");
        assert_eq!(c["fix"].is_string(), c["ok"] == false, "{c}");
    }
    assert_eq!(check(&report, "hooks")["fix"], "gate hooks install");
    assert!(
        check(&report, "watcher")["fix"]
            .as_str()
            .unwrap()
            .starts_with("gate watch --daemon")
    );
    assert!(
        check(&report, "watch-limit")["detail"]
            .as_str()
            .unwrap()
            .contains("directories to watch")
    );
    // The human form says the same, a fix under each problem.
    let out = env.gate_with(&["doctor"], &[("GATE_TMUX_SOCKET", &no_server(&env))]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("fix: gate hooks install"), "{text}");
    assert!(text.contains("5 problems found"), "{text}");
}

#[test]
fn after_the_fixes_everything_is_good() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    env.commit_all("set up gate");
    assert_exit(&env.gate(&["watch", "--daemon"]), 0);
    let server = Server::new();
    server.session("agents", Agent::Lines);
    let socket = server.socket_path().display().to_string();
    let (code, report) = doctor(&env, &socket, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert!(
        check(&report, "tmux")["detail"]
            .as_str()
            .unwrap()
            .contains("1 pane")
    );
    assert!(
        check(&report, "watcher")["detail"]
            .as_str()
            .unwrap()
            .starts_with("running (pid")
    );
    let out = env.gate_with(&["doctor"], &[("GATE_TMUX_SOCKET", &socket)]);
    assert_exit(&out, 0);
    assert!(stdout(&out).ends_with("all good\n"), "{}", stdout(&out));
    assert_exit(&env.gate(&["watch", "--stop"]), 0);
    let (_, report) = doctor(&env, &socket, &[]);
    assert_eq!(failing(&report), ["watcher"]);
}

#[test]
fn broken_setups_are_each_reported_and_doctor_still_runs_every_check() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init"]), 0);
    // An invalid config: reported with its line, the other checks still run.
    env.write(".gate.toml", "[commit]\ninterval = \"soon\"\n");
    // The spec directory ignored by git.
    env.write(".gitignore", "specs/\n");
    // A shim pointing at a gate that no longer exists.
    let shim = env.root.join(".git/hooks/pre-commit");
    let text = std::fs::read_to_string(&shim).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("# gate-binary: "))
        .unwrap()
        .to_owned();
    std::fs::write(
        &shim,
        text.replace(&line, "# gate-binary: '/nonexistent/gate'"),
    )
    .unwrap();
    // A deleted template.
    std::fs::remove_file(env.path("spec-kit/templates/plan-template.md")).unwrap();
    // No git identity anywhere (the test's is in the environment).
    let (code, report) = doctor(
        &env,
        &no_server(&env),
        &[("GIT_AUTHOR_NAME", ""), ("GIT_AUTHOR_EMAIL", "")],
    );
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        failing(&report),
        [
            "config",
            "hooks",
            "watcher",
            "tmux",
            "templates",
            "spec-dir",
            "git-identity"
        ]
    );
    let detail = |name: &str| check(&report, name)["detail"].as_str().unwrap().to_owned();
    assert!(
        detail("config").contains(".gate.toml:2:12"),
        "{}",
        detail("config")
    );
    assert!(
        detail("hooks").contains("pre-commit stale (gate was moved"),
        "{}",
        detail("hooks")
    );
    assert!(detail("templates").contains("plan-template.md"));
    assert!(detail("spec-dir").contains("specs/ is ignored"));
    assert!(detail("git-identity").contains("user.name"));
    // Running the fixes it names clears those problems.
    env.write(".gate.toml", "");
    env.write(".gitignore", "");
    assert_exit(&env.gate(&["hooks", "install"]), 0);
    assert_exit(&env.gate(&["init"]), 0);
    let (_, report) = doctor(&env, &no_server(&env), &[]);
    assert_eq!(failing(&report), ["watcher", "tmux"]);
}

#[test]
fn a_missing_tmux_binary_is_reported_with_how_to_install_it() {
    let env = TestEnv::new();
    // PATH with git (gate needs it) and nothing else.
    let bin = env.base_dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let git = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::os::unix::fs::symlink(git.trim(), bin.join("git")).unwrap();
    let (_, report) = doctor(&env, "", &[("PATH", bin.to_str().unwrap())]);
    let tmux = check(&report, "tmux");
    assert_eq!(tmux["ok"], false);
    assert!(
        tmux["fix"].as_str().unwrap().starts_with("install tmux"),
        "{tmux}"
    );
}

#[test]
fn outside_a_repository_doctor_is_a_usage_error() {
    let env = TestEnv::outside_any_repo();
    let out = env.gate(&["doctor"]);
    assert_exit(&out, 2);
    assert!(
        all(&out).contains("not inside a git repository"),
        "{}",
        all(&out)
    );
}

#[test]
fn agent_cli_checks_tell_whether_codex_trusts_the_project_and_claudes_hooks_can_start() {
    let env = TestEnv::new();
    assert_exit(&env.gate(&["init", "--agent-hooks"]), 0);
    let codex_home = env.base_dir().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    let config = codex_home.join("config.toml");
    std::fs::write(&config, "# mine\n[features]\ncodex_hooks = true\n").unwrap();
    // PATH with git and nothing else: the hooks' `gate` is not found.
    let bin = env.base_dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let git = std::process::Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .unwrap()
        .stdout;
    std::os::unix::fs::symlink(String::from_utf8(git).unwrap().trim(), bin.join("git")).unwrap();
    let vars = [
        ("CODEX_HOME", codex_home.to_str().unwrap()),
        ("PATH", bin.to_str().unwrap()),
    ];
    let (_, report) = doctor(&env, &no_server(&env), &vars);
    let claude = check(&report, "claude-hooks");
    assert_eq!(claude["ok"], false, "{claude}");
    assert!(
        claude["detail"]
            .as_str()
            .unwrap()
            .contains("(gate not found)"),
        "{claude}"
    );
    let trust = check(&report, "codex-trust");
    assert_eq!(trust["ok"], false, "{trust}");
    let root = env.root.display().to_string();
    assert_eq!(
        trust["fix"].as_str().unwrap(),
        format!(
            "add `[projects.\"{root}\"]` with `trust_level = \"trusted\"` to {} (or start codex \
             here and answer its trust prompt)",
            config.display()
        )
    );
    let features = check(&report, "codex-features");
    assert_eq!(features["ok"], false, "{features}");
    assert_eq!(
        features["fix"].as_str().unwrap(),
        format!(
            "delete `codex_hooks = true` from [features] in {}",
            config.display()
        )
    );
    // Doing exactly what the fixes say clears the three.
    std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("gate"), bin.join("gate")).unwrap();
    std::fs::write(
        &config,
        format!("# mine\n[features]\n\n[projects.\"{root}\"]\ntrust_level = \"trusted\"\n"),
    )
    .unwrap();
    let (_, report) = doctor(&env, &no_server(&env), &vars);
    for name in ["claude-hooks", "codex-trust", "codex-features"] {
        assert_eq!(
            check(&report, name)["ok"],
            true,
            "{:#}",
            check(&report, name)
        );
    }
}
