//! `TestEnv`: one hermetic temp directory per test, holding a real git repository, its own
//! HOME and XDG directories, a pinned git identity and clock, and helpers to drive git and
//! the `gate` binary inside it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;

/// Environment variables that would leak the developer's session into a test.
const REMOVED: &[&str] = &[
    "SPECIFY_FEATURE_DIRECTORY",
    "SPECIFY_FEATURE",
    "TMUX",
    "TMUX_PANE",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "FORCE_COLOR",
    // The agent CLIs' own settings: a test that makes gate write them gives its own.
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
];

/// The date every commit carries, so hashes and output never depend on the clock.
pub const GIT_DATE: &str = "2025-01-02T03:04:05+0000";

pub struct TestEnv {
    /// Deleted (with everything in it) when the test ends.
    _tmp: TempDir,
    /// The repository's working tree (canonical path, as gate prints it).
    pub root: PathBuf,
}

impl TestEnv {
    /// An empty directory that is not a git repository.
    pub fn plain() -> TestEnv {
        let tmp = tempfile::Builder::new()
            .prefix("gate-it-")
            .tempdir()
            .expect("create a temp dir");
        let base = tmp.path().canonicalize().expect("canonical temp dir");
        for dir in ["home", "state", "config", "data", "cache", "repo"] {
            std::fs::create_dir_all(base.join(dir)).expect("create a temp subdir");
        }
        TestEnv {
            root: base.join("repo"),
            _tmp: tmp,
        }
    }

    /// Like [`TestEnv::plain`], checking that no enclosing directory is a repository either
    /// (a TMPDIR inside a checkout would make "outside a repository" tests meaningless).
    #[track_caller]
    pub fn outside_any_repo() -> TestEnv {
        let env = TestEnv::plain();
        let probe = env.git_output(&["rev-parse", "--show-toplevel"]);
        assert!(
            !probe.status.success(),
            "the temp dir {} is inside the git repository {}: point TMPDIR elsewhere",
            env.root.display(),
            String::from_utf8_lossy(&probe.stdout).trim()
        );
        env
    }

    /// `git init -b main`: a repository with no commits (HEAD on an unborn `main`).
    pub fn unborn() -> TestEnv {
        let env = TestEnv::plain();
        env.git(&["init", "-q", "-b", "main"]);
        env
    }

    /// A repository with one commit (README.md) on `main`.
    pub fn new() -> TestEnv {
        let env = TestEnv::unborn();
        env.write("README.md", "# test project\n");
        env.commit_all("initial commit");
        env
    }

    pub fn base_dir(&self) -> PathBuf {
        self.root.parent().expect("repo has a parent").to_owned()
    }

    /// `$XDG_STATE_HOME` of the test.
    pub fn state_home(&self) -> PathBuf {
        self.base_dir().join("state")
    }

    fn vars(&self) -> Vec<(&'static str, PathBufOrStr)> {
        let base = self.base_dir();
        vec![
            ("HOME", PathBufOrStr::Path(base.join("home"))),
            ("XDG_STATE_HOME", PathBufOrStr::Path(base.join("state"))),
            ("XDG_CONFIG_HOME", PathBufOrStr::Path(base.join("config"))),
            ("XDG_DATA_HOME", PathBufOrStr::Path(base.join("data"))),
            ("XDG_CACHE_HOME", PathBufOrStr::Path(base.join("cache"))),
            ("GIT_CONFIG_GLOBAL", PathBufOrStr::Str("/dev/null")),
            ("GIT_CONFIG_NOSYSTEM", PathBufOrStr::Str("1")),
            ("GIT_AUTHOR_NAME", PathBufOrStr::Str("Test Author")),
            ("GIT_AUTHOR_EMAIL", PathBufOrStr::Str("author@example.com")),
            ("GIT_COMMITTER_NAME", PathBufOrStr::Str("Test Committer")),
            (
                "GIT_COMMITTER_EMAIL",
                PathBufOrStr::Str("committer@example.com"),
            ),
            ("GIT_AUTHOR_DATE", PathBufOrStr::Str(GIT_DATE)),
            ("GIT_COMMITTER_DATE", PathBufOrStr::Str(GIT_DATE)),
            ("GIT_TERMINAL_PROMPT", PathBufOrStr::Str("0")),
            ("GIT_EDITOR", PathBufOrStr::Str("true")),
            ("GIT_MERGE_AUTOEDIT", PathBufOrStr::Str("no")),
            ("TZ", PathBufOrStr::Str("UTC")),
            ("LC_ALL", PathBufOrStr::Str("C")),
            ("LANG", PathBufOrStr::Str("C")),
            ("NO_COLOR", PathBufOrStr::Str("1")),
            // tmux's default server lives under TMUX_TMPDIR: a test that reaches tmux without
            // naming a socket gets a private, empty server, never the developer's own.
            ("TMUX_TMPDIR", PathBufOrStr::Path(base.join("cache"))),
        ]
    }

    fn std_command(&self, program: impl AsRef<OsStr>, dir: &Path) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        cmd.current_dir(dir).stdin(std::process::Stdio::null());
        for name in REMOVED {
            cmd.env_remove(name);
        }
        // GATE_SKIP, GATE_TMUX_SOCKET, GATE_NO_AUTOSTART, ...: gate's own switches from the
        // caller's shell would change what the test sees; a test sets the ones it needs.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("GATE_") {
                cmd.env_remove(name);
            }
        }
        for (name, value) in self.vars() {
            cmd.env(name, value.as_os_str());
        }
        cmd
    }

    /// Runs git in the repository; panics (with git's stderr) when it fails.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_output(args);
        assert!(
            out.status.success(),
            "git {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    /// Runs git in the repository and returns whatever happened.
    pub fn git_output(&self, args: &[&str]) -> Output {
        self.git_output_in(&self.root, args)
    }

    /// Runs git in `dir`; panics when it fails.
    #[track_caller]
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_output_in(dir, args);
        assert!(
            out.status.success(),
            "git {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    /// Runs git in `dir` (a linked worktree, a subdirectory) and returns whatever happened.
    #[allow(dead_code)] // the reliability suite's model test
    pub fn git_output_at(&self, dir: &Path, args: &[&str]) -> Output {
        self.git_output_in(dir, args)
    }

    /// Runs git in `dir` with `input` on stdin; returns whatever happened.
    #[allow(dead_code)] // the reliability suite's model test
    pub fn git_stdin_at(&self, dir: &Path, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .std_command("git", dir)
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "core.hooksPath")
            .env("GIT_CONFIG_VALUE_0", "/dev/null")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run git (is it installed?)");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().expect("wait for git")
    }

    fn git_output_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.std_command("git", dir)
            // Whatever hooks a repository gets, the tests' own git commands never run them.
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "core.hooksPath")
            .env("GIT_CONFIG_VALUE_0", "/dev/null")
            .args(args)
            .output()
            .expect("run git (is it installed?)")
    }

    /// Runs git in `dir` with the repository's hooks active (gate's shims included), with
    /// extra environment variables; returns whatever happened.
    pub fn git_hooked(&self, dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut cmd = self.std_command("git", dir);
        for (name, value) in vars {
            cmd.env(name, value);
        }
        cmd.args(args).output().expect("run git (is it installed?)")
    }

    /// The current branch (`git branch --show-current`; empty when detached).
    pub fn branch(&self) -> String {
        self.git(&["branch", "--show-current"])
    }

    /// `git add -A && git commit`.
    #[track_caller]
    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--no-verify", "-m", message]);
    }

    /// Stages exactly `paths` and commits them.
    #[track_caller]
    pub fn commit_paths(&self, paths: &[&str], message: &str) {
        let mut add = vec!["add", "--"];
        add.extend_from_slice(paths);
        self.git(&add);
        let mut commit = vec!["commit", "-q", "--no-verify", "-m", message, "--"];
        commit.extend_from_slice(paths);
        self.git(&commit);
    }

    /// Runs `gate args` at the repository root.
    #[track_caller]
    pub fn gate(&self, args: &[&str]) -> Output {
        self.gate_full(&self.root, args, &[])
    }

    /// Runs `gate args` with extra environment variables.
    #[track_caller]
    pub fn gate_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        self.gate_full(&self.root, args, vars)
    }

    /// Runs `gate args` in `dir`.
    #[track_caller]
    pub fn gate_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.gate_full(dir, args, &[])
    }

    /// A `std::process::Command` for the gate binary with the test's environment, for tests
    /// that need to spawn it themselves (concurrency, closed pipes, hangs).
    pub fn gate_command(&self, dir: &Path) -> std::process::Command {
        self.std_command(assert_cmd::cargo::cargo_bin("gate"), dir)
    }

    /// Every gate run goes through here, and every run is checked never to panic.
    #[track_caller]
    fn gate_full(&self, dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut cmd = assert_cmd::Command::cargo_bin("gate").expect("the gate binary is built");
        cmd.current_dir(dir);
        for name in REMOVED {
            cmd.env_remove(name);
        }
        // GATE_SKIP, GATE_TMUX_SOCKET, GATE_NO_AUTOSTART, ...: gate's own switches from the
        // caller's shell would change what the test sees; a test sets the ones it needs.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("GATE_") {
                cmd.env_remove(name);
            }
        }
        for (name, value) in self.vars() {
            cmd.env(name, value.as_os_str());
        }
        for (name, value) in vars {
            cmd.env(name, value);
        }
        cmd.args(args);
        cmd.timeout(std::time::Duration::from_secs(30));
        let out = cmd.output().expect("run gate");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked"),
            "gate {args:?} panicked:\n{err}\nstdout:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        out
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes `text` to `rel` (relative to the repository root), creating directories.
    pub fn write(&self, rel: &str, text: &str) {
        self.write_bytes(rel, text.as_bytes());
    }

    pub fn write_bytes(&self, rel: &str, bytes: &[u8]) {
        let path = self.path(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create parent directories");
        }
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    #[track_caller]
    pub fn read(&self, rel: &str) -> String {
        let path = self.path(rel);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    #[track_caller]
    pub fn read_bytes(&self, rel: &str) -> Vec<u8> {
        let path = self.path(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).symlink_metadata().is_ok()
    }

    /// Turns a generated artifact into a complete one: every `{{...}}` blank becomes text and
    /// every checkbox is ticked (task lines keep their `T###` IDs).
    #[track_caller]
    pub fn fill(&self, rel: &str) {
        let text = self.read(rel);
        self.write(rel, &filled(&text));
    }

    /// The 1-based number of the first line of `rel` containing `needle`.
    #[track_caller]
    pub fn line_of(&self, rel: &str, needle: &str) -> usize {
        self.read(rel)
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not found in {rel}"))
            + 1
    }

    /// Inserts `text` as line `line` (1-based) of `rel`, pushing the rest down.
    #[track_caller]
    pub fn insert_line(&self, rel: &str, line: usize, text: &str) {
        let mut lines: Vec<String> = self.read(rel).lines().map(str::to_owned).collect();
        assert!(
            line >= 1 && line <= lines.len() + 1,
            "line {line} is outside {rel}"
        );
        lines.insert(line - 1, text.to_owned());
        self.write(rel, &(lines.join("\n") + "\n"));
    }

    /// Replaces line `line` (1-based) of `rel` with `text`.
    #[track_caller]
    pub fn replace_line(&self, rel: &str, line: usize, text: &str) {
        let mut lines: Vec<String> = self.read(rel).lines().map(str::to_owned).collect();
        assert!(
            line >= 1 && line <= lines.len(),
            "line {line} is outside {rel}"
        );
        lines[line - 1] = text.to_owned();
        self.write(rel, &(lines.join("\n") + "\n"));
    }

    /// On a feature branch whose spec.md gate already wrote: fills it in, then plan and tasks
    /// each written by gate and filled in. Returns the feature directory.
    #[track_caller]
    pub fn complete_feature_on_branch(&self) -> String {
        let branch = self.branch();
        let feature = branch.rsplit('/').next().expect("a branch name").to_owned();
        let dir = format!("specs/{feature}");
        self.fill(&format!("{dir}/spec.md"));
        assert_exit(&self.gate(&["plan"]), 0);
        self.fill(&format!("{dir}/plan.md"));
        assert_exit(&self.gate(&["tasks"]), 0);
        self.fill(&format!("{dir}/tasks.md"));
        dir
    }

    /// `gate specify NAME`, then spec, plan and tasks each written by gate and filled in.
    /// Nothing is committed. Returns the feature directory, e.g. `specs/001-user-auth`.
    #[track_caller]
    pub fn complete_feature(&self, name: &str) -> String {
        let out = self.gate(&["specify", name]);
        assert_exit(&out, 0);
        self.complete_feature_on_branch()
    }
}

enum PathBufOrStr {
    Path(PathBuf),
    Str(&'static str),
}

impl PathBufOrStr {
    fn as_os_str(&self) -> &OsStr {
        match self {
            PathBufOrStr::Path(p) => p.as_os_str(),
            PathBufOrStr::Str(s) => OsStr::new(s),
        }
    }
}

/// `text` with every `{{...}}` replaced by "filled" and every `- [ ]` ticked.
pub fn filled(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str("filled");
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out.replace("- [ ]", "- [x]")
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// stdout then stderr, for assertions that do not care which stream a message went to.
pub fn all(out: &Output) -> String {
    stdout(out) + &stderr(out)
}

/// Asserts the exit code, showing both streams when it is wrong.
#[track_caller]
pub fn assert_exit(out: &Output, expected: i32) {
    assert_eq!(
        code(out),
        expected,
        "unexpected exit code\n--- stdout\n{}--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
}

/// Asserts that `haystack` contains every needle, showing the text when one is missing.
#[track_caller]
pub fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "expected {needle:?} in:\n{haystack}"
        );
    }
}

#[track_caller]
pub fn assert_lacks(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            !haystack.contains(needle),
            "did not expect {needle:?} in:\n{haystack}"
        );
    }
}

#[test]
fn filled_replaces_blanks_and_ticks_boxes() {
    assert_eq!(
        filled("a {{x}} b {{y z}}\n- [ ] T001 {{do}}\n"),
        "a filled b filled\n- [x] T001 filled\n"
    );
    assert_eq!(filled("open {{ only"), "open {{ only");
}
