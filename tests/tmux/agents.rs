//! `gate agents`: which panes are agents (marked, or running a known agent CLI; never a plain
//! shell), who they are, which worktree each works in, and `mark` / `unmark`.

use std::path::{Path, PathBuf};

use crate::server::{Agent, Server, stderr, stdout};

/// `<temp>/work` as a git repository (one commit) with a `src` directory; returns its
/// canonical root.
fn repo(server: &Server) -> PathBuf {
    let root = server.dir().join("work").canonicalize().unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["commit", "-q", "--allow-empty", "-m", "initial"]);
    root
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

fn agents_json(server: &Server, env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = server.gate(&["agents", "--json"]);
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (pane, why, name, worktree) of every agent listed.
fn agents(report: &serde_json::Value) -> Vec<(String, String, String, String)> {
    report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["pane"].as_str().unwrap().to_owned(),
                a["why"].as_str().unwrap().to_owned(),
                a["name"].as_str().unwrap().to_owned(),
                a["worktree"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

/// Regression: every pane whose directory was inside the repository counted as an agent, a
/// person's shell included (which then ran the nudge text).
#[test]
fn a_plain_shell_inside_the_repository_is_not_an_agent() {
    let server = Server::new();
    let root = repo(&server);
    server.session("team", Agent::Lines); // outside the repository
    let shell = server.window("team", "shell", Agent::Lines, Some(&root.join("src")));
    let report = agents_json(&server, &[]);
    assert_eq!(agents(&report), []);
    let ignored = report["ignored"].as_array().unwrap();
    assert_eq!(ignored.len(), 1, "{report:#}");
    assert_eq!(ignored[0]["pane"], shell.id.as_str());
    let reason = ignored[0]["reason"].as_str().unwrap();
    assert!(reason.contains("not an agent CLI"), "{reason}");
    assert!(
        reason.contains(&format!("gate agents mark {}", shell.id)),
        "{reason}"
    );
}

#[test]
fn marked_panes_and_known_clis_are_agents_with_name_role_worktree_and_why() {
    let server = Server::new();
    let root = repo(&server);
    let linked = server.dir().join("linked");
    git(
        &root,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "feature/001-a",
            linked.to_str().unwrap(),
        ],
    );
    let linked = linked.canonicalize().unwrap();
    server.session("team", Agent::Lines); // outside
    let claude = server.window("team", "eng", Agent::Claude, Some(&root));
    let marked = server.window("team", "pm", Agent::Lines, Some(&linked));
    let own = server.window("team", "gate", Agent::Claude, Some(&root));
    let out = server
        .gate(&[
            "agents", "mark", &marked.id, "--name", "pm-one", "--role", "pm",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("is the agent pm-one, role pm"),
        "{}",
        stdout(&out)
    );

    let tmux_env = format!("{},1,0", server.socket_path().display());
    let report = agents_json(&server, &[("TMUX", &tmux_env), ("TMUX_PANE", &own.id)]);
    assert_eq!(report["mode"], "auto");
    assert_eq!(report["root"], root.to_str().unwrap());
    assert_eq!(
        report["worktrees"],
        serde_json::json!([root.to_str().unwrap(), linked.to_str().unwrap()])
    );
    let main = root.display().to_string();
    let wt = linked.display().to_string();
    assert_eq!(
        agents(&report),
        [
            (
                claude.id.clone(),
                "agent-cli".into(),
                "claude team:1.0".into(),
                main
            ),
            (
                marked.id.clone(),
                "marked".into(),
                "pm-one".into(),
                wt.clone()
            ),
        ]
    );
    assert_eq!(report["agents"][1]["role"], "pm");
    assert_eq!(report["agents"][0]["reason"], "runs claude");

    // The mark lives in tmux: a later gate, from the linked worktree, still knows it.
    let mut cmd = server.gate(&["agents"]);
    cmd.current_dir(&linked);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with(&marked.id))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("pm-one") && line.contains(" pm ") && line.contains(&wt),
        "{line}"
    );
    assert!(line.ends_with("marked (gate agents mark)"), "{line}");

    let out = server
        .gate(&["agents", "unmark", &marked.id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = agents_json(&server, &[("TMUX", &tmux_env), ("TMUX_PANE", &own.id)]);
    assert_eq!(agents(&report).len(), 1, "{report:#}");
    assert_eq!(report["ignored"][0]["pane"], marked.id.as_str());
}

#[test]
fn a_mark_needs_a_printable_name_and_an_existing_pane() {
    let server = Server::new();
    repo(&server);
    let pane = server.session("team", Agent::Lines);
    let out = server
        .gate(&["agents", "mark", &pane.id, "--name", "two\nlines"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--name must be one line"),
        "{}",
        stderr(&out)
    );
    let out = server
        .gate(&["agents", "mark", "nosuch:4", "--name", "x"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("no tmux pane matches"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_configured_target_is_the_agent() {
    let server = Server::new();
    let root = repo(&server);
    let pm = server.session("pm", Agent::Lines);
    std::fs::write(root.join(".gate.toml"), "[agent]\ntarget = \"pm:0\"\n").unwrap();
    let report = agents_json(&server, &[]);
    assert_eq!(report["mode"], "configured");
    let listed = agents(&report);
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].0.as_str(), listed[0].1.as_str()),
        (pm.id.as_str(), "configured")
    );

    std::fs::write(root.join(".gate.toml"), "[agent]\ntarget = \"nosuch:1\"\n").unwrap();
    let report = agents_json(&server, &[]);
    assert_eq!(agents(&report), []);
    let note = report["note"].as_str().unwrap();
    assert!(note.contains("agent.target \"nosuch:1\""), "{note}");
    assert!(note.contains("pm:0 (main)"), "{note}");
}

#[test]
fn no_agents_is_an_empty_list() {
    let server = Server::new();
    repo(&server);
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
    assert!(
        stdout(&out).starts_with("no agents in this repository's worktrees: mark the pane"),
        "{}",
        stdout(&out)
    );
    assert_eq!(agents(&agents_json(&server, &[])), []);
}

/// A name is kept as typed: tmux would end its command at a trailing `;` and cut it off, and
/// formats or shell syntax in it mean nothing.
#[test]
fn a_mark_is_kept_literally() {
    let server = Server::new();
    repo(&server);
    let pane = server.session("team", Agent::Lines);
    for name in ["eng ;", "#{pane_id} $(rm -rf ~)", "-x"] {
        let out = server
            .gate(&[
                "agents",
                "mark",
                &pane.id,
                &format!("--name={name}"),
                "--role=a;",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let all = server
            .gate(&["agents", "--all", "--json"])
            .output()
            .unwrap();
        let all: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
        assert_eq!(all["agents"][0]["name"], name, "{all:#}");
        assert_eq!(all["agents"][0]["role"], "a;");
    }
}

/// `gate status` shares the one discovery: in a linked worktree it shows that worktree's
/// agents only, with their names, and never a plain shell.
#[test]
fn gate_status_shows_the_agents_of_its_own_worktree() {
    let server = Server::new();
    let root = repo(&server);
    let linked = server.dir().join("linked");
    git(
        &root,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "feature/001-a",
            linked.to_str().unwrap(),
        ],
    );
    let linked = linked.canonicalize().unwrap();
    server.session("team", Agent::Lines);
    let here = server.window("team", "eng-a", Agent::Lines, Some(&linked));
    server.mark(&here, "eng-a");
    server.window("team", "shell", Agent::Lines, Some(&linked));
    server.window("team", "main-agent", Agent::Claude, Some(&root));
    let mut cmd = server.gate(&["status", "--json"]);
    cmd.current_dir(&linked);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let agents = status["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1, "{status:#}");
    assert_eq!(agents[0]["pane"], here.id.as_str());
    assert_eq!(agents[0]["name"], "eng-a");
    assert_eq!(agents[0]["why"], "marked");
}
