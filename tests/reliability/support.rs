//! What the reliability tests share: the run mode, a seeded random source, and the checks that
//! say a repository came through intact (fsck, no stray locks or temp files, every byte kept).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::env::{TestEnv, assert_exit};

/// `GATE_LONG=1`: the long mode.
pub fn long() -> bool {
    std::env::var_os("GATE_LONG").is_some_and(|v| v == "1")
}

/// `ci` iterations normally, `long` with `GATE_LONG=1`.
pub fn iterations(ci: usize, long_mode: usize) -> usize {
    if long() { long_mode } else { ci }
}

/// xorshift64*: small, seeded, reproducible. The seed comes from `GATE_SEED` or the clock and
/// is printed, so a failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn new(test: &str) -> Rng {
        let seed = std::env::var("GATE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{test}: GATE_SEED={seed}");
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A feature branch whose spec gate has passed, with a fast cadence (`.gate.toml` committed).
pub fn feature_repo(interval: &str, quiet: &str) -> TestEnv {
    let env = TestEnv::new();
    write_config(&env, interval, quiet);
    env.commit_all("config");
    env.complete_feature("Reliable");
    env.commit_all("spec, plan, tasks");
    env
}

/// `main` (protected: every auto-commit becomes a shadow snapshot) with a fast cadence.
pub fn main_repo(interval: &str, quiet: &str) -> TestEnv {
    let env = TestEnv::new();
    write_config(&env, interval, quiet);
    env.commit_all("config");
    env
}

fn write_config(env: &TestEnv, interval: &str, quiet: &str) {
    env.write(
        ".gate.toml",
        &format!("[commit]\ninterval = \"{interval}\"\nquiet = \"{quiet}\"\n"),
    );
}

/// SIGKILL to one process (not its group: a git child it started runs on, as after a crash of
/// gate alone), then reaps it.
pub fn sigkill(child: &mut Child) {
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
    }
    let _ = child.wait();
}

/// What a gate process is doing right now, for the tallies: the git subcommand a child of
/// it runs (`status`, `add`, `write-tree`, `update-ref`, ...), or `in-process` (libgit2, the
/// event log, start-up) when it has no git child.
pub fn phase(pid: u32) -> String {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace() {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            let args: Vec<String> = cmdline
                .split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if !args.first().is_some_and(|a| a.ends_with("git")) {
                return "starting git".into();
            }
            // git -C <root> [--literal-pathspecs] [-c key=value] <subcommand> ...
            let mut rest = args.iter().skip(3);
            while let Some(a) = rest.next() {
                if a == "-c" {
                    rest.next();
                } else if !a.starts_with('-') {
                    return format!("git {a}");
                }
            }
        }
    }
    "in-process".into()
}

/// `gate watch` in the foreground, its log captured to a file (a pipe nobody reads would block
/// it).
pub fn spawn_watcher(env: &TestEnv, log: &Path) -> Child {
    let file = std::fs::File::create(log).expect("create the watcher log");
    env.gate_command(&env.root)
        .arg("watch")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start gate watch")
}

/// Polls `ok` every 20 ms; false after `limit`.
pub fn eventually(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lock and temp files under `.git`: git's `*.lock` (gate takes them through git and libgit2),
/// gate's snapshot scratch indexes and temp files in `.git/gate/`, and libgit2's or git's
/// half-written object files. `gate/{watch,audit,schedule}.lock` are permanent flock files,
/// not leftovers.
pub fn leftovers(git_dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    walk(git_dir, &mut |path| {
        let rel = path.strip_prefix(git_dir).unwrap_or(path);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // libgit2's half-written loose object after a kill: git never reads it and `git gc`
        // prunes it (after two weeks); counted by [`object_temp_files`], not a failure.
        let harmless = name.starts_with("tmp_object_git2_");
        // Permanent flock files (held while in use, never stale by existing).
        let flock = ["gate/watch.lock", "gate/audit.lock", "gate/schedule.lock"]
            .iter()
            .any(|f| rel == Path::new(f));
        let scratch = rel.starts_with("gate")
            && (name.starts_with("snapshot-index-")
                || name.starts_with("index-")
                || name.starts_with("restore-index-"));
        let stray = (name.ends_with(".lock") && !flock)
            || scratch
            || (rel.starts_with("gate") && name.starts_with(".tmp"))
            || (rel.starts_with("objects") && name.starts_with("tmp_") && !harmless);
        if stray {
            found.push(rel.display().to_string());
        }
    });
    found.sort();
    found
}

/// libgit2's temp files of loose objects a killed gate was writing.
pub fn object_temp_files(git_dir: &Path) -> usize {
    let mut n = 0;
    walk(&git_dir.join("objects"), &mut |path| {
        if path
            .file_name()
            .is_some_and(|f| f.to_string_lossy().starts_with("tmp_object_git2_"))
        {
            n += 1;
        }
    });
    n
}

fn walk(dir: &Path, f: &mut impl FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&path, f),
            Ok(_) => f(&path),
            Err(_) => {}
        }
    }
}

/// Processes (git children of a killed gate) working on the repository at `root`: every git
/// call gate makes names it (`git -C <root> ...`). Pid and command line.
pub fn orphans(root: &Path) -> Vec<(u32, String)> {
    let needle = root.as_os_str().as_encoded_bytes();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let is_git = args.first().is_some_and(|a| a.ends_with(b"git"));
        if is_git && args.get(2) == Some(&needle) {
            let text = args
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            found.push((pid, text));
        }
    }
    found
}

/// What a stuck process is doing, for a failure message: its state, wait channel, and its
/// pipes with every other process holding the same pipe.
pub fn describe_process(pid: u32) -> String {
    let read = |f: &str| std::fs::read_to_string(format!("/proc/{pid}/{f}")).unwrap_or_default();
    let state = read("status")
        .lines()
        .filter(|l| l.starts_with("State") || l.starts_with("PPid"))
        .collect::<Vec<_>>()
        .join(", ");
    let cpu = || {
        let stat = read("stat");
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        format!(
            "utime {} stime {}",
            fields.get(11).unwrap_or(&"?"),
            fields.get(12).unwrap_or(&"?")
        )
    };
    let before = cpu();
    std::thread::sleep(Duration::from_secs(1));
    let mut text = format!(
        "pid {pid}: {state}, wchan {}, cpu {before} then {}, syscall {}, stack:\n{}",
        read("wchan"),
        cpu(),
        read("syscall").trim(),
        read("stack")
    );
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten();
    for fd in fds {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        text.push_str(&format!(
            "\n  fd {:?} -> {}",
            fd.file_name(),
            target.display()
        ));
        if !target.to_string_lossy().starts_with("pipe:") {
            continue;
        }
        for other in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(o) = other
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if o == pid {
                continue;
            }
            let holds = std::fs::read_dir(other.path().join("fd"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|f| std::fs::read_link(f.path()).is_ok_and(|t| t == target));
            if holds {
                let cmd = std::fs::read(other.path().join("cmdline")).unwrap_or_default();
                text.push_str(&format!(
                    "\n    also held by {o}: {}",
                    String::from_utf8_lossy(&cmd).replace('\0', " ")
                ));
            }
        }
    }
    text
}

/// Waits (up to 2 min) for git processes that outlived a killed gate to finish, then returns
/// the locks still under `.git` with their age, and any orphan still running: both empty
/// unless something was left behind.
pub fn wait_for_orphans(env: &TestEnv) -> (Vec<String>, Vec<(u32, String)>) {
    let git_dir = env.root.join(".git");
    let locks = |g: &Path| {
        leftovers(g)
            .into_iter()
            .filter(|l| l.ends_with(".lock"))
            // gate's own index.lock, held for a rename when the kill came: the next gate run
            // removes it (checked after the recovery run), git's own lock is never marked.
            .filter(|l| !std::fs::read(g.join(l)).is_ok_and(|b| b.starts_with(b"gate-lock ")))
            .map(|l| {
                let age = std::fs::metadata(g.join(&l))
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok());
                format!("{l} (age {age:?})")
            })
            .collect::<Vec<_>>()
    };
    // A git child is gate's no more once gate is dead: however long it runs (a loaded
    // machine), what matters is what it leaves behind when done.
    // A child forked just before the kill may show up only after a first look, and on a
    // loaded machine it may wait for a core: look again until both are settled.
    eventually(Duration::from_secs(120), || {
        orphans(&env.root).is_empty() && {
            eventually(Duration::from_secs(2), || locks(&git_dir).is_empty());
            orphans(&env.root).is_empty()
        }
    });
    (locks(&git_dir), orphans(&env.root))
}

/// `git fsck --full` finds nothing wrong (dangling objects from a killed commit are fine).
#[track_caller]
pub fn assert_fsck_clean(env: &TestEnv) {
    let out = env.git_output(&["fsck", "--full", "--no-progress", "--no-dangling"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && !err.contains("error")
            && !err.contains("missing")
            && !err.contains("broken"),
        "git fsck: {}\n{err}",
        out.status
    );
}

/// HEAD, the index and the working tree can be read: `git status`, `git diff --cached` and
/// `git ls-tree HEAD` all succeed.
#[track_caller]
pub fn assert_readable(env: &TestEnv) {
    env.git(&["status", "--porcelain"]);
    env.git(&["diff", "--cached", "--name-only"]);
    env.git(&["ls-files", "--stage"]);
    env.git(&["ls-tree", "-r", "HEAD"]);
}

/// The blobs at `paths` in `rev` (`None` where absent), through one `git cat-file --batch`.
pub fn blobs(env: &TestEnv, rev: &str, paths: &[&String]) -> Vec<Option<Vec<u8>>> {
    let mut child = std::process::Command::new("git")
        .current_dir(&env.root)
        .args(["cat-file", "--batch"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run git cat-file");
    let mut input = Vec::new();
    for p in paths {
        input.extend_from_slice(format!("{rev}:{p}\n").as_bytes());
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("git cat-file");
    writer.join().expect("writer").expect("write to cat-file");
    let mut rest: &[u8] = &out.stdout;
    let mut result = Vec::new();
    for _ in paths {
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .expect("a header line");
        let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
        rest = &rest[nl + 1..];
        if header.ends_with("missing") || header.ends_with("ambiguous") {
            result.push(None);
            continue;
        }
        let size: usize = header
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("cat-file header {header:?}"));
        result.push(Some(rest[..size].to_vec()));
        rest = &rest[size + 1..];
    }
    result
}

/// Asserts every file of `expected` is in `rev` with exactly those bytes, and every path of
/// `gone` is absent from it.
#[track_caller]
pub fn assert_tree_holds(
    env: &TestEnv,
    rev: &str,
    expected: &BTreeMap<String, Vec<u8>>,
    gone: &[String],
) {
    let paths: Vec<&String> = expected.keys().collect();
    for (path, got) in paths.iter().zip(blobs(env, rev, &paths)) {
        match got {
            Some(bytes) if bytes == expected[*path] => {}
            Some(bytes) => panic!(
                "{rev}:{path} holds {:?}, expected {:?}",
                String::from_utf8_lossy(&bytes),
                String::from_utf8_lossy(&expected[*path])
            ),
            None => panic!("{path} is not in {rev}"),
        }
    }
    let gone_refs: Vec<&String> = gone.iter().collect();
    // A snapshot ref is cumulative: an untracked file it preserved stays in the latest
    // snapshot after the user deletes it (so `gate restore` can bring it back). A deletion of
    // a file the branch has is recorded, on the branch and on a snapshot ref alike.
    let on_branch = blobs(env, "HEAD", &gone_refs);
    for ((path, got), tracked) in gone.iter().zip(blobs(env, rev, &gone_refs)).zip(on_branch) {
        let cumulative = rev.starts_with("refs/gate/") && tracked.is_none();
        assert!(
            got.is_none() || cumulative,
            "{path} was deleted but is still in {rev}"
        );
    }
}

/// Asserts the working tree holds exactly what was last written to each file.
#[track_caller]
pub fn assert_worktree_holds(env: &TestEnv, expected: &BTreeMap<String, Vec<u8>>) {
    for (path, bytes) in expected {
        assert_eq!(
            &env.read_bytes(path),
            bytes,
            "{path} in the working tree is not what was last written"
        );
    }
}

/// `gate snapshot` (exit 0 required): the run after a crash, which must recover.
#[track_caller]
pub fn recover(env: &TestEnv) -> String {
    let out = env.gate(&["snapshot"]);
    assert_exit(&out, 0);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every line of the event log is a JSON object; returns how many there are.
#[track_caller]
pub fn assert_no_torn_events(env: &TestEnv) -> usize {
    let path = env.root.join(".git/gate/events.jsonl");
    let bytes = std::fs::read(&path).unwrap_or_default();
    assert!(
        bytes.is_empty() || bytes.ends_with(b"\n"),
        "the event log ends in a torn line"
    );
    let mut n = 0;
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(line);
        assert!(
            parsed.as_ref().is_ok_and(|v| v.is_object()),
            "events.jsonl:{}: torn or invalid line {:?}",
            i + 1,
            String::from_utf8_lossy(line)
        );
        n += 1;
    }
    n
}

/// A directory's files with their sizes and modification times: compared before and after
/// to prove nothing outside the sandbox's allowed places changed.
pub fn listing(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<std::time::SystemTime>)> {
    let mut out = BTreeMap::new();
    walk_all(dir, &mut |path, meta| {
        out.insert(path.to_owned(), (meta.len(), meta.modified().ok()));
    });
    out
}

fn walk_all(dir: &Path, f: &mut impl FnMut(&Path, &std::fs::Metadata)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        f(&path, &meta);
        if meta.is_dir() {
            walk_all(&path, f);
        }
    }
}
