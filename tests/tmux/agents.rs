//! `gate agents`: which panes count as the project's agents, and why.

use std::path::{Path, PathBuf};

use crate::server::{Agent, Server, stderr, stdout};

/// `<temp>/work` as a git repository with a `src` directory; returns its canonical root.
fn repo(server: &Server) -> PathBuf {
    let root = server.dir().join("work").canonicalize().unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&root)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(git.status.success());
    root
}

fn agents_json(server: &Server, env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = server.gate(&["agents", "--json"]);
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn panes(report: &serde_json::Value) -> Vec<(String, String)> {
    report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["pane"].as_str().unwrap().to_owned(),
                a["why"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn agents_are_the_panes_working_in_the_repository_but_not_gates_own() {
    let server = Server::new();
    let root = repo(&server);
    server.session("team", Agent::Lines); // outside the repository
    let eng = server.window("team", "eng", Agent::Lines, Some(&root.join("src")));
    let pm = server.window("team", "pm", Agent::Lines, Some(&root));
    let own = server.window("team", "gate", Agent::Lines, Some(&root));
    server.window(
        "team",
        "home",
        Agent::Lines,
        Some(&server.dir().join("home")),
    );
    let tmux_env = format!("{},1,0", server.socket_path().display());
    let report = agents_json(&server, &[("TMUX", &tmux_env), ("TMUX_PANE", &own.id)]);
    assert_eq!(report["mode"], "auto");
    assert_eq!(report["root"], root.to_str().unwrap());
    let why = "cwd-inside-repo".to_owned();
    assert_eq!(
        panes(&report),
        [(eng.id.clone(), why.clone()), (pm.id, why)]
    );
    assert_eq!(report["agents"][0]["target"], "team:1.0");
    assert_eq!(report["agents"][0]["window"], "eng");
    assert_eq!(
        Path::new(report["agents"][0]["path"].as_str().unwrap()),
        root.join("src")
    );

    // Without $TMUX naming this server, `%N` in $TMUX_PANE is some other server's pane.
    let report = agents_json(&server, &[("TMUX_PANE", &own.id)]);
    assert_eq!(panes(&report).len(), 3);

    let out = server.gate(&["agents"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with(&format!("{} ", eng.id)), "{text}");
    assert!(first.contains("team:1.0 (eng)"), "{text}");
    assert!(first.ends_with("cwd inside repo"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
}

#[test]
fn a_configured_target_is_the_agent() {
    let server = Server::new();
    let root = repo(&server);
    let pm = server.session("pm", Agent::Lines);
    std::fs::write(root.join(".gate.toml"), "[agent]\ntarget = \"pm:0\"\n").unwrap();
    let report = agents_json(&server, &[]);
    assert_eq!(report["mode"], "configured");
    assert_eq!(panes(&report), [(pm.id, "configured".to_owned())]);

    std::fs::write(root.join(".gate.toml"), "[agent]\ntarget = \"nosuch:1\"\n").unwrap();
    let report = agents_json(&server, &[]);
    assert_eq!(panes(&report), []);
    let note = report["note"].as_str().unwrap();
    assert!(note.contains("agent.target \"nosuch:1\""), "{note}");
    assert!(note.contains("pm:0 (main)"), "{note}");
}

#[test]
fn no_agents_is_an_empty_list() {
    let server = Server::new();
    let root = repo(&server);
    let out = server.gate(&["agents"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("no tmux server is running"),
        "{}",
        stderr(&out)
    );

    server.session("elsewhere", Agent::Lines);
    let out = server.gate(&["agents"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "no agent panes: no tmux pane works inside {} (or set agent.target in .gate.toml)\n",
            root.display()
        )
    );
    assert_eq!(panes(&agents_json(&server, &[])), []);
}
