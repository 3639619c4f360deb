//! The root folder and where everything lives in it:
//!
//! ```text
//! <root>/images/                OCI image layout (index.json, blobs/sha256/...)
//! <root>/layers/<diff-id>/      extracted image layers, the overlay lower dirs
//! <root>/containers/<id>/       state.json, userdata/ (the bundle), upper/, work/, merged/
//! <root>/volumes/<name>/_data   named volumes
//! <root>/locks/                 flock files
//! <root>/tmp/                   staging for imports, on the same file system for renames
//! ```

use crate::ids::ContainerId;
use crate::lock::{self, Lock};
use anyhow::{Context, Result};
use serde::Serialize;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub struct Store {
    pub root: PathBuf,
    /// `--runtime`, when given.
    pub runtime_flag: Option<String>,
}

impl Store {
    pub fn open(root: &Path, runtime_flag: Option<String>) -> Result<Store> {
        let store = Store {
            root: root.to_path_buf(),
            runtime_flag,
        };
        // Only root may enter: the store holds setuid files and device nodes from archives and
        // images (podman's storage is 0700 too). Set on every open, so that older stores close.
        fs::create_dir_all(&store.root)
            .with_context(|| format!("creating {}", store.root.display()))?;
        fs::set_permissions(&store.root, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", store.root.display()))?;
        for dir in ["images", "layers", "containers", "volumes", "locks", "tmp"] {
            fs::create_dir_all(store.root.join(dir))
                .with_context(|| format!("creating {}", store.root.join(dir).display()))?;
        }
        Ok(store)
    }

    /// The runtime for new containers: `--runtime`, else crun.
    pub fn default_runtime(&self) -> String {
        self.runtime_flag.clone().unwrap_or_else(|| "crun".into())
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn container_dir(&self, id: &ContainerId) -> PathBuf {
        self.root.join("containers").join(id)
    }

    pub fn lock_container(&self, id: &ContainerId) -> Result<Lock> {
        lock::acquire(&self.root.join("locks").join(format!("{id}.lock")))
    }

    /// Held while names and IDs are checked and a container folder is created.
    pub fn lock_names(&self) -> Result<Lock> {
        lock::acquire(&self.root.join("locks").join("names.lock"))
    }

    pub fn lock_images(&self) -> Result<Lock> {
        lock::acquire(&self.root.join("locks").join("images.lock"))
    }

    /// A fresh folder under `<root>/tmp`, removed by the caller.
    pub fn temp_dir(&self, what: &str) -> Result<PathBuf> {
        let dir = self
            .root
            .join("tmp")
            .join(format!("{what}-{}", crate::ids::random_hex(8)));
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

/// Writes JSON through a temporary file and a rename, so that readers never see half a file.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    serde_json::to_writer_pretty(&mut f, value)?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_for_root_only() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("store");
        fs::create_dir(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        Store::open(&root, None).unwrap();
        let mode = fs::metadata(&root).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
