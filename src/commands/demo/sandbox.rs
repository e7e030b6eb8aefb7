//! The demo's sandbox: a throwaway directory with its own HOME and XDG state, a git identity,
//! a private tmux server (a socket inside the sandbox, never the user's), and a fake agent
//! pane that appends every line it receives to a file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Sandbox {
    pub dir: PathBuf,
    pub repo: PathBuf,
    pub socket: PathBuf,
    pub received: PathBuf,
    gate: PathBuf,
}

impl Sandbox {
    pub fn create(gate: PathBuf) -> anyhow::Result<Sandbox> {
        let dir = tempfile::Builder::new()
            .prefix("gate-demo-")
            .tempdir()?
            .keep();
        let dir = dir.canonicalize()?;
        let repo = dir.join("shop");
        for d in [&repo, &dir.join("home"), &dir.join("state")] {
            std::fs::create_dir_all(d)?;
        }
        Ok(Sandbox {
            socket: dir.join("tmux.sock"),
            received: dir.join("agent-received.txt"),
            repo,
            dir,
            gate,
        })
    }

    fn env(&self, cmd: &mut Command) {
        for var in [
            "TMUX",
            "TMUX_PANE",
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "SPECIFY_FEATURE_DIRECTORY",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.dir.join("home"))
            .env("XDG_STATE_HOME", self.dir.join("state"))
            .env("XDG_CONFIG_HOME", self.dir.join("home/.config"))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Demo Agent")
            .env("GIT_AUTHOR_EMAIL", "agent@demo.invalid")
            .env("GIT_COMMITTER_NAME", "Demo Agent")
            .env("GIT_COMMITTER_EMAIL", "agent@demo.invalid")
            .env("GATE_TMUX_SOCKET", &self.socket)
            .env("GATE_NO_AUTOSTART", "1")
            .env("NO_COLOR", "1")
            .current_dir(&self.repo)
            .stdin(Stdio::null());
    }

    /// Runs `gate args` in the repository.
    pub fn gate(&self, args: &[&str]) -> anyhow::Result<Output> {
        let mut cmd = Command::new(&self.gate);
        self.env(&mut cmd);
        Ok(cmd.args(args).output()?)
    }

    /// Runs git (hooks active) in the repository.
    pub fn git(&self, args: &[&str]) -> anyhow::Result<Output> {
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        Ok(cmd.args(args).output()?)
    }

    /// Runs tmux on the sandbox's private server.
    pub fn tmux(&self, args: &[&str]) -> anyhow::Result<Output> {
        let mut cmd = Command::new("tmux");
        self.env(&mut cmd);
        Ok(cmd.arg("-S").arg(&self.socket).args(args).output()?)
    }

    /// A tmux session `agent` whose pane records every line it receives, working in the repo.
    /// The terminal echoes what is typed, as an agent's input box shows it: `gate send` presses
    /// Enter only once it sees the text there.
    pub fn start_agent(&self) -> anyhow::Result<()> {
        let script = format!(
            "printf 'fake agent ready\\n'; while IFS= read -r line; do printf '%s\\n' \"$line\" >> '{}'; done",
            self.received.display()
        );
        let out = self.tmux(&[
            "new-session",
            "-d",
            "-s",
            "agent",
            "-x",
            "200",
            "-y",
            "50",
            "-c",
            &self.repo.to_string_lossy(),
            "sh",
            "-c",
            &script,
        ])?;
        anyhow::ensure!(
            out.status.success(),
            "tmux could not start: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        // A plain shell is never an agent: gate is told who works in the pane.
        let out = self.gate(&[
            "agents",
            "mark",
            "agent",
            "--name",
            "demo-agent",
            "--role",
            "engineer",
        ])?;
        anyhow::ensure!(
            out.status.success(),
            "gate agents mark failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(())
    }

    /// A fake agent CLI for the team (`fake-agent OUT`): says it is ready, then appends every
    /// line it receives to OUT; the terminal's echo shows it, as an input box would (`gate send`
    /// presses Enter only once it sees the text).
    pub fn fake_agent(&self) -> anyhow::Result<PathBuf> {
        let path = self.dir.join("fake-agent");
        std::fs::write(
            &path,
            "#!/bin/sh\nprintf 'fake agent ready\\n'\n\
             while IFS= read -r line; do printf '%s\\n' \"$line\" >> \"$1\"; done\n",
        )?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        Ok(path)
    }

    /// Where the team's fake agent `name` records what it receives.
    pub fn team_received(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}-received.txt"))
    }

    pub fn write(&self, rel: &str, text: &str) -> anyhow::Result<()> {
        let path = self.repo.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
        Ok(())
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.repo.join(rel)).unwrap_or_default()
    }

    /// Lines the fake agent has received so far.
    pub fn agent_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.received)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Polls `ok` until it holds or `limit` passes.
    pub fn wait_for(&self, limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        ok()
    }

    /// Stops the sandbox's watcher, kills the private tmux server and removes the directory.
    pub fn remove(&self) {
        let _ = self.gate(&["watch", "--stop"]);
        let _ = self.tmux(&["kill-server"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}
