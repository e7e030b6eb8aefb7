//! `Project`: a git repository inside a [`Server`]'s temp dir, the `gate` binary run in it
//! against that server, and a real watcher process (`gate watch`) to deliver check-ins and
//! nudges.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::server::{Server, stderr};

/// Fast settings for tests: short pauses, retries a second apart.
pub const FAST: &str =
    "[agent]\nsend_pause = \"50ms\"\nbusy_wait = \"2s\"\ncheckin_retry = \"1s\"\n";

pub struct Project<'s> {
    pub server: &'s Server,
    /// The repository's root, canonical (as tmux reports pane paths).
    pub root: PathBuf,
}

impl<'s> Project<'s> {
    /// `<temp>/work` as a repository on `main` with one commit holding `.gate.toml` = `config`.
    pub fn new(server: &'s Server, config: &str) -> Project<'s> {
        let root = server.dir().join("work").canonicalize().unwrap();
        let p = Project { server, root };
        p.git(&["init", "-q", "-b", "main"]);
        p.write(".gate.toml", config);
        p.write("README.md", "# project\n");
        p.git(&["add", "-A"]);
        p.git(&["commit", "-q", "-m", "initial commit"]);
        p
    }

    /// Runs git in the repository (no hooks, a fixed identity); panics on failure.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        let out = identity(&mut Command::new("git"))
            .args(["-c", "core.hooksPath=/dev/null"])
            .args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// gate's state directory, `.git/gate`.
    pub fn state(&self) -> PathBuf {
        self.root.join(".git/gate")
    }

    /// The `gate` binary in the repository, on the test's tmux server, never starting a
    /// watcher by itself.
    pub fn gate(&self, args: &[&str]) -> Command {
        let mut cmd = self.server.gate(args);
        identity(&mut cmd)
            .current_dir(&self.root)
            .env("GATE_NO_AUTOSTART", "1");
        cmd
    }

    /// Runs `gate ARGS` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.gate(args).output().expect("run gate")
    }

    /// The events of `kind` in the event log, as JSON values.
    pub fn events(&self, kind: &str) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.state().join("events.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["kind"] == kind)
            .collect()
    }

    /// Starts `gate watch` in the foreground, its log in the temp dir; waits until it watches.
    pub fn watch(&self) -> Watcher {
        self.watch_with(&[])
    }

    /// [`Project::watch`] with extra environment variables.
    pub fn watch_with(&self, vars: &[(&str, &str)]) -> Watcher {
        let log = self.server.dir().join(format!(
            "watch-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let file = std::fs::File::create(&log).unwrap();
        let child = self
            .gate(&["watch"])
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start gate watch");
        let w = Watcher { child, log };
        wait("the watcher to start", Duration::from_secs(10), || {
            let out = self.run(&["watch", "--status", "--json"]);
            String::from_utf8_lossy(&out.stdout).contains("\"mode\": \"events\"")
        });
        w
    }
}

fn identity(cmd: &mut Command) -> &mut Command {
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
}

/// A running `gate watch`; killed (SIGKILL) when dropped.
pub struct Watcher {
    child: Child,
    log: PathBuf,
}

impl Watcher {
    /// Everything it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its log contains `needle` `times` times; returns the log.
    #[track_caller]
    pub fn wait_log(&self, needle: &str, times: usize) -> String {
        wait(
            &format!("{times}× {needle:?} in the watcher's log"),
            Duration::from_secs(15),
            || self.log().matches(needle).count() >= times,
        );
        self.log()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit code and the log.
    pub fn stop(mut self) -> (Option<i32>, String) {
        // SAFETY: kill(2) on our own child with a constant signal.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let status = self.child.wait().unwrap();
        (status.code(), self.log())
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `ok` every 20 ms until it holds, failing the test after `limit`.
#[track_caller]
pub fn wait(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that `path`'s lines stay `expected` for `quiet` (nothing more arrives).
#[track_caller]
pub fn stays(path: &Path, expected: usize, quiet: Duration) {
    std::thread::sleep(quiet);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(text.lines().count(), expected, "more arrived:\n{text}");
}
