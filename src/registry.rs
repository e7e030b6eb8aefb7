//! The per-user list of projects gate was initialised in (`$XDG_STATE_HOME/gate/projects.json`),
//! for `gate status --all`. Written atomically under a lock so concurrent `gate init`s never
//! drop each other's entries or leave a torn file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no state directory: set XDG_STATE_HOME or HOME")]
    NoStateDir,
    #[error("cannot update {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a list of projects ({source}); move it aside and run `gate init` again", path.display())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// gate's per-user state directory.
/// `$XDG_STATE_HOME/gate` wherever it is set; else the platform's state directory (or local
/// data directory, on systems without one, such as macOS).
pub fn user_state_dir() -> Result<PathBuf, RegistryError> {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(dirs::state_dir)
        .or_else(dirs::data_local_dir)
        .map(|d| d.join("gate"))
        .ok_or(RegistryError::NoStateDir)
}

pub struct Registry {
    path: PathBuf,
}

impl Registry {
    pub fn open_default() -> Result<Registry, RegistryError> {
        Ok(Registry {
            path: user_state_dir()?.join("projects.json"),
        })
    }

    pub fn at(path: PathBuf) -> Registry {
        Registry { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Registered project roots, in registration order.
    pub fn list(&self) -> Result<Vec<PathBuf>, RegistryError> {
        match std::fs::read(&self.path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Vec::new()),
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| RegistryError::Corrupt {
                path: self.path.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(self.io(source)),
        }
    }

    /// Adds `root` if absent. Returns whether it was added.
    pub fn add(&self, root: &Path) -> Result<bool, RegistryError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        let _lock = self.lock(dir)?;
        let mut projects = self.list()?;
        if projects.iter().any(|p| p == root) {
            return Ok(false);
        }
        projects.push(root.to_owned());
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| self.io(e))?;
        serde_json::to_writer_pretty(&mut tmp, &projects).map_err(|e| self.io(e.into()))?;
        tmp.write_all(b"\n").map_err(|e| self.io(e))?;
        tmp.as_file().sync_all().map_err(|e| self.io(e))?;
        tmp.persist(&self.path).map_err(|e| self.io(e.error))?;
        Ok(true)
    }

    fn lock(&self, dir: &Path) -> Result<File, RegistryError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("projects.lock"))
            .map_err(|e| self.io(e))?;
        file.lock().map_err(|e| self.io(e))?;
        Ok(file)
    }

    fn io(&self, source: std::io::Error) -> RegistryError {
        RegistryError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_is_idempotent_and_keeps_order() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::at(dir.path().join("gate/projects.json"));
        assert_eq!(reg.list().unwrap(), Vec::<PathBuf>::new());
        assert!(reg.add(Path::new("/a")).unwrap());
        assert!(reg.add(Path::new("/b")).unwrap());
        assert!(!reg.add(Path::new("/a")).unwrap());
        assert_eq!(
            reg.list().unwrap(),
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
    }

    #[test]
    fn corrupt_file_is_reported_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("projects.json");
        std::fs::write(&path, "{not json").unwrap();
        let reg = Registry::at(path.clone());
        assert!(matches!(
            reg.add(Path::new("/a")),
            Err(RegistryError::Corrupt { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }
}
