//! Trust: what a cloned repository commits (`.gate.toml`, templates, symlinks where gate
//! writes) cannot make gate run a command or write outside the repository and gate's own state
//! directories. The sandbox around the clone is listed (paths, sizes, mtimes) before and after
//! every gate command; a marker script named in every string of the config must never run.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::env::{TestEnv, all, code};
use crate::server::{Agent, Server};
use crate::support::{self, listing};

/// The sandbox: a victim directory beside the repository, and the script whose running would
/// show in it.
struct Sandbox {
    env: TestEnv,
    outside: PathBuf,
    marker: PathBuf,
    evil: String,
}

impl Sandbox {
    /// `upstream` is built by `build` and cloned into the test's repository directory, the
    /// way an engineer gets someone else's project.
    fn cloned(build: impl FnOnce(&Sandbox, &Path)) -> Sandbox {
        let env = TestEnv::plain();
        let outside = env.base_dir().join("outside");
        std::fs::create_dir_all(outside.join("specs-target")).unwrap();
        std::fs::create_dir_all(outside.join("templates-target")).unwrap();
        std::fs::write(outside.join("victim.txt"), "do not touch\n").unwrap();
        std::fs::write(
            outside.join("learnings-target.md"),
            "# someone else's file\n",
        )
        .unwrap();
        let marker = outside.join("MARKER");
        let script = outside.join("evil.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho ran >> {}\n", marker.display()),
        )
        .unwrap();
        let evil = format!("sh {}", script.display());
        let sandbox = Sandbox {
            env,
            outside,
            marker,
            evil,
        };
        let upstream = sandbox.env.base_dir().join("upstream");
        std::fs::create_dir_all(&upstream).unwrap();
        sandbox.env.git_in(&upstream, &["init", "-q", "-b", "main"]);
        build(&sandbox, &upstream);
        sandbox.env.git_in(&upstream, &["add", "-A"]);
        sandbox.env.git_in(
            &upstream,
            &["commit", "-q", "--no-verify", "-m", "a project"],
        );
        let repo = sandbox.env.root.to_str().unwrap().to_owned();
        sandbox.env.git_in(
            &sandbox.env.base_dir(),
            // --no-local: copied like a real clone, not hard-linked to upstream's objects.
            &[
                "clone",
                "-q",
                "--no-local",
                upstream.to_str().unwrap(),
                &repo,
            ],
        );
        sandbox
    }

    /// Everything gate may not touch: the whole sandbox except the repository itself and
    /// gate's per-user state directory (`$XDG_STATE_HOME/gate`, the project list).
    fn outside_state(&self) -> Vec<(PathBuf, (u64, Option<std::time::SystemTime>))> {
        let base = self.env.base_dir();
        let allowed = [self.env.root.clone(), base.join("state/gate")];
        listing(&base)
            .into_iter()
            // The state directory's own mtime moves when gate's directory appears in it.
            .filter(|(p, _)| p != &base.join("state"))
            .filter(|(p, _)| !allowed.iter().any(|a| p.starts_with(a)))
            .collect()
    }

    #[track_caller]
    fn assert_untouched(
        &self,
        before: &[(PathBuf, (u64, Option<std::time::SystemTime>))],
        what: &str,
    ) {
        assert!(
            !self.marker.exists(),
            "{what}: the marker script ran: {}",
            std::fs::read_to_string(&self.marker).unwrap_or_default()
        );
        let after = self.outside_state();
        let changed: Vec<_> = after
            .iter()
            .filter(|e| !before.contains(e))
            .chain(before.iter().filter(|e| !after.contains(e)))
            .map(|(p, _)| p.display().to_string())
            .collect();
        assert!(
            changed.is_empty(),
            "{what}: changed outside the repository: {changed:#?}"
        );
    }
}

/// Strings that would run the marker script if they ever reached a shell, `tmux run-shell`,
/// a tmux format (`#()`), or were split on `;`.
fn payloads(evil: &str) -> Vec<String> {
    let ifs = evil.replace(' ', "${IFS}");
    vec![
        format!("$({evil})"),
        format!("`{evil}`"),
        format!("x;{evil};"),
        format!("x && {evil}"),
        format!("#({evil})"),
        format!("#{{run-shell {evil}}}"),
        format!("x \\; run-shell '{evil}'"),
        format!("$({ifs})"),
    ]
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

#[test]
fn a_config_pointing_outside_the_repository_is_refused_by_every_command() {
    let sandbox = Sandbox::cloned(|s, up| {
        let outside = s.outside.display().to_string();
        std::fs::write(
            up.join(".gate.toml"),
            format!(
                "[spec]\ndir = \"../outside/specs-target\"\ntemplates = {:?}\n",
                format!("{outside}/templates-target")
            ),
        )
        .unwrap();
    });
    let env = &sandbox.env;
    let before = sandbox.outside_state();
    for args in [
        &["init"][..],
        &["check"],
        &["config"],
        &["specify", "Escape"],
        &["plan"],
        &["tasks"],
        &["snapshot"],
        &["learn", "x"],
        &["finish"],
        &["watch"],
        &["schedule", "list"],
        &["status"],
        &["verify"],
    ] {
        let out = env.gate_with(args, &[("GATE_NO_AUTOSTART", "1")]);
        assert_eq!(code(&out), 2, "gate {args:?}: {}", all(&out));
        assert!(
            all(&out).contains(".gate.toml:2:7") || all(&out).contains(".gate.toml:3:"),
            "gate {args:?} does not name the line: {}",
            all(&out)
        );
        sandbox.assert_untouched(&before, &format!("gate {args:?}"));
    }
}

/// A tmux server with a fake agent working in the repository, for the commands that talk to
/// agents.
fn tmux_for(sandbox: &Sandbox) -> (Server, String) {
    let server = Server::new();
    server.session("orchestrator", Agent::Lines);
    let pane = server.window(
        "orchestrator",
        "agent",
        Agent::Lines,
        Some(&sandbox.env.root),
    );
    let socket = server.socket_path().display().to_string();
    (server, format!("{socket}|{}", pane.id))
}

#[test]
fn a_hostile_but_valid_config_makes_gate_run_nothing_and_write_nowhere_else() {
    let sandbox = Sandbox::cloned(|s, up| {
        let p = payloads(&s.evil);
        let ifs = s.evil.replace(' ', "${IFS}");
        let config = format!(
            "[branches]\nprotected = {protected}\nfeature_prefix = \"feature/\"\n\
             [commit]\ninterval = \"1s\"\nquiet = \"100ms\"\n\
             [tags]\nformat = \"stable-{{feature}}-{{date}}-$({ifs})\"\n\
             [spec]\nimplementation = {globs}\n\
             [agent]\ntarget = {target:?}\norchestrator = {orch:?}\n",
            protected = toml_list(&[vec!["main".to_string()], p.clone()].concat()),
            globs = toml_list(&[vec!["src/**".to_string()], p.clone()].concat()),
            target = p[4],
            orch = p[6],
        );
        std::fs::write(up.join(".gate.toml"), config).unwrap();
        // Templates whose text looks like commands and tmux formats.
        let t = up.join("spec-kit/templates");
        std::fs::create_dir_all(&t).unwrap();
        for name in ["spec-template.md", "plan-template.md", "tasks-template.md"] {
            let builtin = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("spec-kit/templates")
                    .join(name),
            )
            .unwrap();
            std::fs::write(
                t.join(name),
                format!("{builtin}\n<!-- {} -->\n", p.join(" ")),
            )
            .unwrap();
        }
        std::fs::write(up.join("README.md"), "# project\n").unwrap();
    });
    let env = &sandbox.env;
    let (server, both) = tmux_for(&sandbox);
    let (socket, pane) = both.split_once('|').unwrap();
    let vars = [("GATE_NO_AUTOSTART", "1"), ("GATE_TMUX_SOCKET", socket)];
    let before = sandbox.outside_state();
    let run = |args: &[&str]| -> Output {
        let out = env.gate_with(args, &vars);
        sandbox.assert_untouched(&before, &format!("gate {args:?}"));
        out
    };
    for args in [
        &["init", "--agent-hooks"][..],
        &["config"],
        &["hooks", "status"],
        &["check", "--json"],
        &["agents", "--json"],
        &["status"],
        &["doctor", "--json"],
    ] {
        run(args);
    }
    // The whole workflow, with hooks running on every commit.
    let name = payloads(&sandbox.evil)[0].clone();
    let out = run(&["specify", &format!("Evil {name}")]);
    assert_eq!(code(&out), 0, "{}", all(&out));
    let feature = env.branch().trim_start_matches("feature/").to_owned();
    let dir = format!("specs/{feature}");
    env.fill(&format!("{dir}/spec.md"));
    run(&["plan"]);
    env.fill(&format!("{dir}/plan.md"));
    run(&["tasks"]);
    env.fill(&format!("{dir}/tasks.md"));
    run(&["check"]);
    env.git(&["add", "-A"]);
    let commit = env.git_hooked(
        &env.root,
        &["commit", "-q", "-m", "spec, plan, tasks"],
        &vars,
    );
    sandbox.assert_untouched(&before, "git commit with gate's hooks");
    assert!(commit.status.success(), "{}", all(&commit));
    env.write("src/lib.rs", "pub fn f() {}\n");
    run(&["snapshot"]);
    env.write("src/lib.rs", "pub fn g() {}\n");
    run(&["snapshot", "--shadow"]);
    run(&["watch", "--daemon"]);
    env.write("src/more.rs", "pub fn h() {}\n");
    support::eventually(Duration::from_secs(10), || {
        env.git(&["status", "--porcelain"]).is_empty()
    });
    run(&["watch", "--status"]);
    run(&["watch", "--stop"]);
    run(&["log", "--json"]);
    run(&["learn", "lessons $(sh evil) #(sh evil)"]);
    run(&["learn", "--list"]);
    run(&["send", "--pause", "50ms", pane, "hello"]);
    run(&["schedule", "1m", "--target", pane, "note #(sh evil)"]);
    run(&["schedule", "list"]);
    run(&["schedule", "cancel", "1"]);
    run(&["verify"]);
    run(&["status", "--all"]);
    run(&["completions", "bash"]);
    run(&["man"]);
    env.git(&["add", "-A"]);
    // `gate learn` committed LEARNINGS.md itself; commit whatever else is left.
    if !env.git(&["status", "--porcelain"]).is_empty() {
        let commit = env.git_hooked(&env.root, &["commit", "-q", "-m", "work"], &vars);
        assert!(commit.status.success(), "{}", all(&commit));
    }
    let out = run(&["finish"]);
    assert_eq!(code(&out), 0, "{}", all(&out));
    // The tag carries the format's text literally: nothing was substituted by a shell.
    let tags = env.git(&["tag", "--list"]);
    assert!(tags.contains("$(sh${IFS}"), "{tags}");
    run(&["doctor"]);
    drop(server);
    assert!(!sandbox.marker.exists());
}

#[test]
fn committed_symlinks_cannot_redirect_gates_writes_outside_the_repository() {
    let sandbox = Sandbox::cloned(|s, up| {
        std::os::unix::fs::symlink("../outside/specs-target", up.join("specs")).unwrap();
        std::fs::create_dir_all(up.join("spec-kit")).unwrap();
        std::os::unix::fs::symlink(
            s.outside.join("templates-target"),
            up.join("spec-kit/templates"),
        )
        .unwrap();
        std::os::unix::fs::symlink("../outside/learnings-target.md", up.join("LEARNINGS.md"))
            .unwrap();
        std::fs::write(up.join("README.md"), "# project\n").unwrap();
    });
    let env = &sandbox.env;
    assert!(
        env.root
            .join("specs")
            .symlink_metadata()
            .unwrap()
            .is_symlink()
    );
    // A complete spec on the far side of the link, for `gate plan` to write beside.
    let spec = sandbox
        .outside
        .join("specs-target/001-through-the-link/spec.md");
    std::fs::create_dir_all(spec.parent().unwrap()).unwrap();
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("spec-kit/templates/spec-template.md");
    let text = crate::env::filled(&std::fs::read_to_string(template).unwrap());
    std::fs::write(&spec, text).unwrap();
    let before = sandbox.outside_state();
    for args in [
        &["init"][..],
        &["specify", "Another"],
        &["plan", "--feature", "001-through-the-link"],
        &["learn", "a lesson"],
        &["snapshot"],
    ] {
        let out = env.gate(args);
        sandbox.assert_untouched(&before, &format!("gate {args:?}"));
        eprintln!("gate {args:?}: exit {}\n{}", code(&out), all(&out));
        if args[0] != "snapshot" {
            assert_eq!(code(&out), 1, "gate {args:?}: {}", all(&out));
            assert!(
                all(&out).contains("leads outside the repository"),
                "{}",
                all(&out)
            );
        }
    }
}

/// Runs gate with a 512 MiB address-space limit and a 10 s deadline (killed after it):
/// a command reading a device forever must fail fast, not take the machine with it.
fn gate_bounded(env: &TestEnv, args: &[&str]) -> (Option<i32>, Duration, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = env.gate_command(&env.root);
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let r = libc::rlimit {
                rlim_cur: 512 << 20,
                rlim_max: 512 << 20,
            };
            libc::setrlimit(libc::RLIMIT_AS, &r);
            Ok(())
        });
    }
    let started = std::time::Instant::now();
    let mut child = cmd.spawn().unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), started.elapsed(), all(&out))
}

#[test]
fn a_config_that_is_a_device_fails_fast_and_clearly() {
    // Regression: `.gate.toml` committed as a symlink to /dev/zero made every command, and
    // every commit through the pre-commit hook, read until memory ran out.
    let sandbox = Sandbox::cloned(|_, up| {
        std::os::unix::fs::symlink("/dev/zero", up.join(".gate.toml")).unwrap();
        std::fs::write(up.join("README.md"), "# project\n").unwrap();
    });
    for args in [
        &["check"][..],
        &["config"],
        &["hook", "pre-commit"],
        &["snapshot"],
    ] {
        let (code, took, text) = gate_bounded(&sandbox.env, args);
        assert!(took < Duration::from_secs(10), "gate {args:?} hung: {text}");
        assert_eq!(code, Some(2), "gate {args:?}: {text}");
        assert!(
            text.contains(".gate.toml:1:1: not a regular file"),
            "{text}"
        );
    }
}

#[test]
fn other_files_that_are_devices_fail_fast_and_clearly() {
    // Templates, spec-kit's feature.json, LEARNINGS.md and the agents' settings file, each a
    // committed symlink to /dev/zero (one per clone): no command may block or read forever.
    let cases: [(&str, &[&[&str]]); 4] = [
        (
            "spec-kit/templates/spec-template.md",
            &[&["specify", "Zero"], &["init"]],
        ),
        (
            ".specify/feature.json",
            &[&["check"], &["hook", "pre-commit"]],
        ),
        (
            "LEARNINGS.md",
            &[&["learn", "--list"], &["learn", "a lesson"]],
        ),
        (".claude/settings.json", &[&["init", "--agent-hooks"]]),
    ];
    for (file, commands) in cases {
        let sandbox = Sandbox::cloned(|_, up| {
            let link = up.join(file);
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            std::fs::write(up.join("README.md"), "# project\n").unwrap();
        });
        for args in commands.iter().copied().chain([&["snapshot"][..]]) {
            let (code, took, text) = gate_bounded(&sandbox.env, args);
            eprintln!("{file}: gate {args:?}: exit {code:?} in {took:?}");
            assert!(
                took < Duration::from_secs(10),
                "{file}: gate {args:?} hung: {text}"
            );
            assert!(code.is_some(), "{file}: gate {args:?} was killed: {text}");
            assert!(!text.contains("panicked"), "{file}: gate {args:?}: {text}");
            // Failing only because the address-space limit stopped an endless read is no
            // pass: without the limit it would have eaten the machine's memory.
            assert!(
                !text.contains("memory") && !text.contains("capacity"),
                "{file}: gate {args:?} read until memory ran out: {text}"
            );
        }
    }
}
