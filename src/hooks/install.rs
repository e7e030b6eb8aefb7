//! Installing, inspecting and removing gate's hooks without destroying anyone else's.
//!
//! A foreign hook is moved aside to `<hook>.pre-gate` (a rename keeps its bytes and mode) and
//! chained; uninstall renames it back. Every write is a temp file renamed into place.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{HOOKS, HooksDir, RETIRED, SHIM_VERSION, parse_shim, shim};

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "core.hooksPath is {hooks_path:?}, which {manager} manages; gate will not write there.\n\
         Call gate from {manager} instead: add the line `gate hook pre-commit` to .husky/pre-commit \
         and `gate hook pre-push \"$@\"` to .husky/pre-push (post hooks are optional: \
         `gate hook post-commit`, `gate hook post-checkout \"$@\"`, `gate hook post-merge \"$@\"`)"
    )]
    Managed {
        hooks_path: String,
        manager: &'static str,
    },
    #[error(
        "{} is not gate's and {}.pre-gate already holds an earlier hook; another tool replaced \
         gate's shim. Run `gate hooks install --force` to save it as {}.gate-backup and install \
         gate's shim, or merge the two hooks by hand",
        path.display(), path.display(), path.display()
    )]
    Occupied { path: PathBuf },
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What install or uninstall did to one hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Installed,
    Unchanged,
    Updated,
    /// The previous hook was kept as `<hook>.pre-gate` and runs first.
    Chained,
    /// With --force: the foreign hook was saved to `backup` and is no longer run.
    Replaced {
        backup: PathBuf,
    },
    Removed,
    /// gate's shim was removed and the earlier hook put back.
    Restored,
    /// Not gate's: left alone.
    LeftAlone,
    NothingToDo,
}

pub fn install(
    dir: &HooksDir,
    gate: &Path,
    force: bool,
) -> Result<Vec<(String, Action)>, InstallError> {
    if let (Some(manager), Some(hooks_path)) = (dir.manager, &dir.hooks_path) {
        return Err(InstallError::Managed {
            hooks_path: hooks_path.clone(),
            manager,
        });
    }
    std::fs::create_dir_all(&dir.dir).map_err(io(&dir.dir))?;
    let mut done: Vec<(String, Action)> = HOOKS
        .iter()
        .map(|hook| Ok((hook.to_string(), install_one(&dir.dir, hook, gate, force)?)))
        .collect::<Result<_, InstallError>>()?;
    for hook in RETIRED {
        match retire_one(&dir.dir, hook)? {
            Action::NothingToDo | Action::LeftAlone => {}
            action => done.push((hook.to_string(), action)),
        }
    }
    Ok(done)
}

/// Removes gate's shim of a hook gate no longer installs; a foreign hook stays.
fn retire_one(dir: &Path, hook: &str) -> Result<Action, InstallError> {
    let path = dir.join(hook);
    match std::fs::read(&path) {
        Ok(bytes) if parse_shim(&String::from_utf8_lossy(&bytes)).is_some() => {
            uninstall_one(dir, hook)
        }
        Ok(_) => Ok(Action::LeftAlone),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Action::NothingToDo),
        Err(e) => Err(io(&path)(e)),
    }
}

fn install_one(dir: &Path, hook: &str, gate: &Path, force: bool) -> Result<Action, InstallError> {
    let path = dir.join(hook);
    let prev = dir.join(format!("{hook}.pre-gate"));
    let wanted = shim(hook, gate);
    let action = match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Action::Installed,
        Err(e) => return Err(io(&path)(e)),
        Ok(bytes) if bytes == wanted.as_bytes() => return Ok(Action::Unchanged),
        Ok(bytes) if parse_shim(&String::from_utf8_lossy(&bytes)).is_some() => Action::Updated,
        Ok(_) if !exists(&prev) => {
            std::fs::rename(&path, &prev).map_err(io(&path))?;
            Action::Chained
        }
        Ok(_) if force => {
            let backup = free_name(dir, &format!("{hook}.gate-backup"));
            std::fs::rename(&path, &backup).map_err(io(&path))?;
            Action::Replaced { backup }
        }
        Ok(_) => return Err(InstallError::Occupied { path }),
    };
    write_executable(&path, &wanted)?;
    Ok(action)
}

pub fn uninstall(dir: &HooksDir) -> Result<Vec<(String, Action)>, InstallError> {
    let mut done: Vec<(String, Action)> = HOOKS
        .iter()
        .map(|hook| Ok((hook.to_string(), uninstall_one(&dir.dir, hook)?)))
        .collect::<Result<_, InstallError>>()?;
    for hook in RETIRED {
        match retire_one(&dir.dir, hook)? {
            Action::NothingToDo | Action::LeftAlone => {}
            action => done.push((hook.to_string(), action)),
        }
    }
    Ok(done)
}

fn uninstall_one(dir: &Path, hook: &str) -> Result<Action, InstallError> {
    let path = dir.join(hook);
    let prev = dir.join(format!("{hook}.pre-gate"));
    let ours = match std::fs::read(&path) {
        Ok(bytes) => parse_shim(&String::from_utf8_lossy(&bytes)).is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if exists(&prev) {
                std::fs::rename(&prev, &path).map_err(io(&prev))?;
                return Ok(Action::Restored);
            }
            return Ok(Action::NothingToDo);
        }
        Err(e) => return Err(io(&path)(e)),
    };
    if !ours {
        return Ok(Action::LeftAlone);
    }
    if exists(&prev) {
        // rename over the shim: atomic, and keeps the original's bytes and mode.
        std::fs::rename(&prev, &path).map_err(io(&prev))?;
        Ok(Action::Restored)
    } else {
        std::fs::remove_file(&path).map_err(io(&path))?;
        Ok(Action::Removed)
    }
}

/// One hook as `gate hooks status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookStatus {
    pub hook: String,
    pub path: PathBuf,
    /// `missing`, `current`, `stale` or `foreign`.
    pub state: &'static str,
    /// Why a shim is stale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The earlier hook this one runs first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained: Option<PathBuf>,
}

pub fn status(dir: &HooksDir, gate: &Path) -> Vec<HookStatus> {
    let mut out = current_status(dir, gate);
    // A shim gate no longer installs (post-commit): a process per commit for nothing.
    for hook in RETIRED {
        let path = dir.dir.join(hook);
        let ours =
            std::fs::read(&path).is_ok_and(|b| parse_shim(&String::from_utf8_lossy(&b)).is_some());
        if ours {
            out.push(HookStatus {
                hook: hook.to_string(),
                chained: exists(&dir.dir.join(format!("{hook}.pre-gate")))
                    .then(|| dir.dir.join(format!("{hook}.pre-gate"))),
                path,
                state: "stale",
                reason: Some(
                    "gate no longer installs this hook; `gate hooks install` removes it".into(),
                ),
            });
        }
    }
    out
}

fn current_status(dir: &HooksDir, gate: &Path) -> Vec<HookStatus> {
    HOOKS
        .iter()
        .map(|hook| {
            let path = dir.dir.join(hook);
            let prev = dir.dir.join(format!("{hook}.pre-gate"));
            let (state, reason) = match std::fs::read(&path) {
                Err(_) => ("missing", None),
                Ok(bytes) => match parse_shim(&String::from_utf8_lossy(&bytes)) {
                    None => ("foreign", None),
                    Some(info) => match stale_reason(&info, gate) {
                        Some(r) => ("stale", Some(r)),
                        None => ("current", None),
                    },
                },
            };
            HookStatus {
                hook: hook.to_string(),
                path,
                state,
                reason,
                chained: exists(&prev).then_some(prev),
            }
        })
        .collect()
}

fn stale_reason(info: &super::ShimInfo, gate: &Path) -> Option<String> {
    if info.version != SHIM_VERSION {
        return Some(format!(
            "shim version {} (current is {SHIM_VERSION})",
            info.version
        ));
    }
    let recorded = Path::new(&info.binary);
    if !recorded.exists() {
        return Some(format!("gate was moved: {} no longer exists", info.binary));
    }
    if recorded != gate {
        return Some(format!(
            "points at {} (this gate is {})",
            info.binary,
            gate.display()
        ));
    }
    None
}

fn write_executable(path: &Path, text: &str) -> Result<(), InstallError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(path))?;
    tmp.write_all(text.as_bytes()).map_err(io(path))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o755))
        .map_err(io(path))?;
    tmp.persist(path).map_err(|e| io(path)(e.error))?;
    Ok(())
}

fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

fn free_name(dir: &Path, base: &str) -> PathBuf {
    std::iter::once(dir.join(base))
        .chain((1..).map(|n| dir.join(format!("{base}.{n}"))))
        .find(|p| !exists(p))
        .expect("a free name exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(path: &Path) -> HooksDir {
        HooksDir {
            dir: path.to_owned(),
            hooks_path: None,
            manager: None,
        }
    }

    fn write_hook(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn install_chains_and_uninstall_restores_bytes_and_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dir(tmp.path());
        write_hook(
            &tmp.path().join("pre-commit"),
            "#!/bin/sh\necho mine\n",
            0o750,
        );
        let gate = Path::new("/usr/bin/gate");
        let done = install(&d, gate, false).unwrap();
        assert_eq!(done[0], ("pre-commit".into(), Action::Chained));
        assert_eq!(done[1], ("pre-push".into(), Action::Installed));
        assert_eq!(install(&d, gate, false).unwrap()[0].1, Action::Unchanged);
        let st = status(&d, gate);
        assert_eq!(st[0].chained, Some(tmp.path().join("pre-commit.pre-gate")));
        let undone = uninstall(&d).unwrap();
        assert_eq!(undone[0].1, Action::Restored);
        assert_eq!(undone[1].1, Action::Removed);
        let p = tmp.path().join("pre-commit");
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "#!/bin/sh\necho mine\n"
        );
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o750
        );
        assert!(!tmp.path().join("pre-push").exists());
    }

    #[test]
    fn a_foreign_hook_over_a_chain_needs_force() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dir(tmp.path());
        let gate = Path::new("/usr/bin/gate");
        write_hook(&tmp.path().join("pre-commit"), "first", 0o755);
        install(&d, gate, false).unwrap();
        write_hook(&tmp.path().join("pre-commit"), "second", 0o755);
        assert!(matches!(
            install(&d, gate, false),
            Err(InstallError::Occupied { .. })
        ));
        let done = install(&d, gate, true).unwrap();
        let Action::Replaced { backup } = &done[0].1 else {
            panic!("{done:?}")
        };
        assert_eq!(std::fs::read_to_string(backup).unwrap(), "second");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("pre-commit.pre-gate")).unwrap(),
            "first"
        );
    }

    #[test]
    fn husky_is_refused_with_a_snippet() {
        let d = HooksDir {
            dir: PathBuf::from("/x/.husky/_"),
            hooks_path: Some(".husky/_".into()),
            manager: Some("husky"),
        };
        let e = install(&d, Path::new("/g"), false).unwrap_err().to_string();
        assert!(e.contains("gate hook pre-commit"), "{e}");
    }

    #[test]
    fn an_old_post_commit_shim_is_reported_and_removed_by_install() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dir(tmp.path());
        let gate = Path::new("/usr/bin/gate");
        write_hook(
            &tmp.path().join("post-commit"),
            &shim("post-commit", gate),
            0o755,
        );
        let st = status(&d, gate);
        let old = st.iter().find(|s| s.hook == "post-commit").unwrap();
        assert_eq!(old.state, "stale");
        let done = install(&d, gate, false).unwrap();
        assert!(
            done.contains(&("post-commit".into(), Action::Removed)),
            "{done:?}"
        );
        assert!(!tmp.path().join("post-commit").exists());
        assert!(status(&d, gate).iter().all(|s| s.hook != "post-commit"));
    }

    #[test]
    fn status_sees_stale_shims() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dir(tmp.path());
        install(&d, Path::new("/nonexistent/gate"), false).unwrap();
        let st = status(&d, Path::new("/usr/bin/gate"));
        assert_eq!(st[0].state, "stale");
        assert!(st[0].reason.as_deref().unwrap().contains("moved"));
    }
}
