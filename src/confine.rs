//! Files a repository names, handled as untrusted input: a cloned project decides what its
//! paths point at (a committed symlink can lead anywhere, to `/dev/zero` or out of the
//! repository), so gate writes only where the path really stays inside the repository, and
//! reads only regular files.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error(
    "{} leads outside the repository {} (through a symlink); gate only writes inside the \
     repository: replace the link with a plain file or directory",
    path.display(), root.display()
)]
pub struct Outside {
    pub path: PathBuf,
    pub root: PathBuf,
}

/// Whether writing `path` (existing or to be created) stays inside `root`: its nearest
/// existing ancestor, symlinks resolved, is `root` or below it. A dangling symlink counts as
/// outside (writing it would create its target).
pub fn inside(root: &Path, path: &Path) -> bool {
    let Ok(root) = root.canonicalize() else {
        return false;
    };
    let mut existing = path;
    while existing.symlink_metadata().is_err() {
        match existing.parent() {
            Some(parent) => existing = parent,
            None => return false,
        }
    }
    existing.canonicalize().is_ok_and(|p| p.starts_with(&root))
}

/// [`inside`], as an error naming the path.
pub fn check_inside(root: &Path, path: &Path) -> Result<(), Outside> {
    if inside(root, path) {
        Ok(())
    } else {
        Err(Outside {
            path: path.to_owned(),
            root: root.to_owned(),
        })
    }
}

/// Whether `path` is something gate may read whole: absent (`Ok(false)`), a regular file
/// (`Ok(true)`), or an error for a FIFO, device or directory, which would block or never end.
pub fn is_regular(path: &Path) -> std::io::Result<bool> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(true),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a directory, FIFO or device)",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_out_of_the_root_are_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        let away = tmp.path().join("away");
        std::fs::create_dir_all(root.join("plain")).unwrap();
        std::fs::create_dir_all(&away).unwrap();
        std::os::unix::fs::symlink(&away, root.join("link")).unwrap();
        std::os::unix::fs::symlink("plain", root.join("near")).unwrap();
        std::os::unix::fs::symlink("../nowhere", root.join("dangling")).unwrap();
        assert!(inside(&root, &root.join("plain/new/file.md")));
        assert!(inside(&root, &root.join("near/x.md")));
        assert!(inside(&root, &root.join("new.md")));
        assert!(!inside(&root, &root.join("link/x.md")));
        assert!(!inside(&root, &root.join("link")));
        assert!(!inside(&root, &root.join("dangling")));
        assert!(!inside(&root, &root.join("../away/x.md")));
        assert!(check_inside(&root, &root.join("link/x")).is_err());
    }

    #[test]
    fn devices_are_not_regular() {
        assert!(is_regular(Path::new("/dev/zero")).is_err());
        assert!(!is_regular(Path::new("/nonexistent/x")).unwrap());
    }
}
