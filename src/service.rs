//! A systemd *user* unit that keeps `gate watch` running for one project:
//! `$XDG_CONFIG_HOME/systemd/user/gate-watch-<hash of the repository path>.service`.
//!
//! Rendering the unit is pure. Talking to systemd goes through [`Systemctl`], whose every call
//! passes through one helper ([`run`]): no shell, stdin closed, output captured, a time limit,
//! so a wedged user manager can never hang gate. Where there is no `systemctl` or no user
//! manager to reach (containers, macOS, a session without a user bus), the caller is told so
//! and says what to run instead; nothing here falls back silently.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Long enough for `enable --now` to start the watcher; short enough not to hang a terminal.
pub const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no configuration directory: set XDG_CONFIG_HOME or HOME")]
    NoConfigDir,
    #[error("cannot {what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run {program}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {} s", TIMEOUT.as_secs())]
    TimedOut { command: String },
    #[error("`{command}` failed: {message}")]
    Failed { command: String, message: String },
}

/// `gate-watch-<16 hex digits>.service`: one unit per working tree, stable across runs.
pub fn unit_name(root: &Path) -> String {
    format!(
        "gate-watch-{:016x}.service",
        fnv1a(root.as_os_str().as_bytes())
    )
}

/// FNV-1a, 64 bit: tiny, and stable across Rust versions (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Where systemd looks for the user's own units: `$XDG_CONFIG_HOME/systemd/user`, else
/// `~/.config/systemd/user`.
pub fn unit_dir() -> Result<PathBuf, ServiceError> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| dirs::home_dir().map(|h| h.join(".config")))
        .map(|d| d.join("systemd").join("user"))
        .ok_or(ServiceError::NoConfigDir)
}

/// The unit text. `path_env` is the `PATH` the watcher gets (git and tmux are found through
/// it; a user manager's own `PATH` is often shorter than a login shell's).
pub fn render_unit(gate: &Path, root: &Path, path_env: Option<&OsStr>) -> String {
    let mut unit = format!(
        "# Written by `gate service install`; remove with `gate service uninstall`.\n\
         [Unit]\n\
         Description=gate watcher for {root}\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={exec} watch\n\
         WorkingDirectory={dir}\n\
         Restart=on-failure\n\
         RestartSec=10\n",
        root = escape_specifiers(&root.to_string_lossy()),
        exec = exec_word(&gate.to_string_lossy()),
        dir = escape_specifiers(&root.to_string_lossy()),
    );
    if let Some(path) = path_env.filter(|p| !p.is_empty()) {
        let assignment = format!("PATH={}", path.to_string_lossy());
        unit.push_str(&format!(
            "Environment={}\n",
            quoted(&escape_specifiers(&assignment))
        ));
    }
    unit.push_str("\n[Install]\nWantedBy=default.target\n");
    unit
}

/// `%` starts a systemd specifier; `%%` is a literal percent sign.
fn escape_specifiers(text: &str) -> String {
    text.replace('%', "%%")
}

/// One word of an `ExecStart=` line: `$` and `%` escaped, quoted when systemd would split it.
fn exec_word(word: &str) -> String {
    quoted(&escape_specifiers(word).replace('$', "$$"))
}

/// `word`, in double quotes (with `\` and `"` escaped) when it holds anything but plain
/// path characters.
fn quoted(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@$%".contains(c))
    {
        return word.to_owned();
    }
    format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes `text` to `path` atomically (temp file, then rename), creating the directory.
pub fn write_unit(path: &Path, text: &str) -> Result<(), ServiceError> {
    let io = |what, path: &Path| {
        let path = path.to_owned();
        move |source| ServiceError::Io { what, path, source }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("write to", dir))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(io("write", tmp.path()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(io("write", path))?;
    tmp.persist(path).map_err(|e| io("write", path)(e.error))?;
    Ok(())
}

/// Removes the unit file; whether there was one.
pub fn remove_unit(path: &Path) -> Result<bool, ServiceError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(ServiceError::Io {
            what: "remove",
            path: path.to_owned(),
            source,
        }),
    }
}

/// What a finished program said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// The one way this module starts a program: `program args`, no shell, stdin closed, output
/// captured, killed after [`TIMEOUT`].
pub fn run(program: &Path, args: &[&str]) -> Result<Finished, ServiceError> {
    let command = format!("{} {}", program.display(), args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ServiceError::Spawn {
            program: program.display().to_string(),
            source,
        })?;
    let deadline = Instant::now() + TIMEOUT;
    let spawn_err = |source| ServiceError::Spawn {
        program: program.display().to_string(),
        source,
    };
    loop {
        if child.try_wait().map_err(spawn_err)?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ServiceError::TimedOut { command });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    Ok(Finished {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

/// The first executable `name` on `path` (a `PATH` value).
pub fn find_program(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Why systemd cannot be used here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// No `systemctl` on `PATH`.
    NoSystemctl,
    /// `systemctl --user` cannot reach a user manager; with what it said.
    NoUserManager(String),
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::NoSystemctl => f.write_str("systemctl is not on PATH (no systemd here)"),
            Unavailable::NoUserManager(why) if why.is_empty() => {
                f.write_str("no systemd user manager is reachable")
            }
            Unavailable::NoUserManager(why) => {
                write!(f, "no systemd user manager is reachable ({why})")
            }
        }
    }
}

/// `systemctl --user`.
pub struct Systemctl {
    program: PathBuf,
}

impl Systemctl {
    /// The user manager, when `systemctl` is on `PATH` and answers.
    pub fn connect() -> Result<Systemctl, Unavailable> {
        let path: Option<OsString> = std::env::var_os("PATH");
        let program = find_program("systemctl", path.as_deref()).ok_or(Unavailable::NoSystemctl)?;
        let ctl = Systemctl { program };
        match ctl.user(&["show-environment"]) {
            Ok(out) if out.success => Ok(ctl),
            Ok(out) => Err(Unavailable::NoUserManager(first_line(&out.stderr))),
            Err(e) => Err(Unavailable::NoUserManager(e.to_string())),
        }
    }

    /// `systemctl --user --no-pager args`.
    pub fn user(&self, args: &[&str]) -> Result<Finished, ServiceError> {
        let mut all = vec!["--user", "--no-pager"];
        all.extend_from_slice(args);
        run(&self.program, &all)
    }

    /// Like [`Systemctl::user`], but failing is an error carrying systemctl's message.
    pub fn user_ok(&self, args: &[&str]) -> Result<Finished, ServiceError> {
        let out = self.user(args)?;
        if out.success {
            return Ok(out);
        }
        Err(ServiceError::Failed {
            command: format!("systemctl --user {}", args.join(" ")),
            message: first_line(&out.stderr),
        })
    }

    /// `is-active` / `is-enabled` answers (`active`, `inactive`, `enabled`, `not-found`, ...).
    pub fn state(&self, query: &str, unit: &str) -> String {
        match self.user(&[query, unit]) {
            Ok(out) if !out.stdout.is_empty() => first_line(&out.stdout),
            Ok(_) => "unknown".into(),
            Err(e) => format!("unknown ({e})"),
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_are_stable_and_differ_per_path() {
        let a = unit_name(Path::new("/home/u/project"));
        assert_eq!(a, unit_name(Path::new("/home/u/project")));
        assert_ne!(a, unit_name(Path::new("/home/u/project2")));
        assert!(
            a.starts_with("gate-watch-") && a.ends_with(".service"),
            "{a}"
        );
        assert_eq!(a.len(), "gate-watch-".len() + 16 + ".service".len());
    }

    #[test]
    fn unit_runs_gate_watch_in_the_repository() {
        let unit = render_unit(
            Path::new("/usr/bin/gate"),
            Path::new("/srv/app"),
            Some(OsStr::new("/usr/bin:/bin")),
        );
        for line in [
            "ExecStart=/usr/bin/gate watch\n",
            "WorkingDirectory=/srv/app\n",
            "Restart=on-failure\n",
            "Environment=PATH=/usr/bin:/bin\n",
            "WantedBy=default.target\n",
        ] {
            assert!(unit.contains(line), "{line:?} missing from:\n{unit}");
        }
    }

    #[test]
    fn odd_paths_are_quoted_and_escaped() {
        let unit = render_unit(
            Path::new("/opt/my gate/gate"),
            Path::new("/srv/100% app"),
            None,
        );
        assert!(
            unit.contains("ExecStart=\"/opt/my gate/gate\" watch\n"),
            "{unit}"
        );
        assert!(unit.contains("WorkingDirectory=/srv/100%% app\n"), "{unit}");
        assert!(!unit.contains("Environment="));
        assert_eq!(exec_word("a$b\"c"), "\"a$$b\\\"c\"");
    }

    #[test]
    fn programs_are_found_only_when_executable() {
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("tool");
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        let path = dir.path().as_os_str();
        assert_eq!(find_program("tool", Some(path)), None);
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_program("tool", Some(path)), Some(prog));
        assert_eq!(find_program("tool", None), None);
    }

    #[test]
    fn run_captures_output_and_status() {
        let out = run(
            Path::new("/bin/sh"),
            &["-c", "echo out; echo err >&2; exit 3"],
        )
        .unwrap();
        assert_eq!(
            out,
            Finished {
                success: false,
                stdout: "out".into(),
                stderr: "err".into()
            }
        );
    }
}
