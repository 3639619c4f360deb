//! One build of a sandbox in the cache, for both backends: `<cache>/<prefix><recipe hash>`, with
//! its lock file beside it, the `built` stamp written last (a folder without it is half-built and
//! never trusted), the `state.json` of a running sandbox, and the removal of builds of the same
//! prefix made from an older recipe.

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::File;
use std::path::{Path, PathBuf};

pub(crate) struct BuildDir {
    cache: PathBuf,
    /// `trixie-` for ns, `vm-trixie-` for vm: older builds of the same prefix are outdated.
    prefix: String,
    /// What the `built` stamp holds: the recipe hash.
    key: String,
    dir: PathBuf,
}

impl BuildDir {
    pub fn new(cache: &Path, prefix: String, key: String) -> BuildDir {
        BuildDir {
            cache: cache.to_path_buf(),
            dir: cache.join(format!("{prefix}{key}")),
            prefix,
            key,
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
    pub fn cache(&self) -> &Path {
        &self.cache
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    /// `sandbox <folder name>`, the prefix of every line a build or start prints.
    pub fn label(&self) -> String {
        format!(
            "sandbox {}",
            self.dir.file_name().unwrap().to_string_lossy()
        )
    }
    pub fn share_dir(&self) -> PathBuf {
        self.dir.join("share")
    }
    pub fn is_built(&self) -> bool {
        self.built_stamp().exists()
    }
    fn built_stamp(&self) -> PathBuf {
        self.dir.join("built")
    }
    fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// Serialises build/start/stop/destroy between processes (parallel tests share one sandbox).
    pub fn lock(&self) -> Result<File> {
        std::fs::create_dir_all(&self.cache)
            .with_context(|| format!("creating the sandbox cache {}", self.cache.display()))?;
        let path = self.dir.with_extension("lock");
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(file)
    }

    /// What `start` recorded, if anything.
    pub fn read_state<T: DeserializeOwned>(&self) -> Option<T> {
        let text = std::fs::read_to_string(self.state_file()).ok()?;
        serde_json::from_str(&text).ok()
    }
    pub fn write_state<T: Serialize>(&self, state: &T) -> Result<()> {
        std::fs::write(self.state_file(), serde_json::to_vec_pretty(state)?)?;
        Ok(())
    }
    pub fn remove_state(&self) {
        let _ = std::fs::remove_file(self.state_file());
    }

    /// Builds unless built (the caller holds [`BuildDir::lock`]): a half-built folder is stopped
    /// (`stop`) and removed, `prepare` checks the host, outdated builds go, then `provision` fills
    /// the fresh folder. On failure the folder is removed; on success `share/` is made and the
    /// stamp written, last.
    pub fn build(
        &self,
        stop: impl FnOnce() -> Result<()>,
        prepare: impl FnOnce() -> Result<()>,
        provision: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        if self.is_built() {
            return Ok(());
        }
        if self.dir.exists() {
            eprintln!(
                "[{}] found a half-built sandbox in {}: removing it and building again",
                self.label(),
                self.dir.display()
            );
            stop()?;
            std::fs::remove_dir_all(&self.dir)
                .with_context(|| format!("removing the half-built {}", self.dir.display()))?;
        }
        prepare()?;
        self.remove_outdated_builds();
        std::fs::create_dir_all(&self.dir)?;
        if let Err(e) = provision(&self.dir) {
            // Never trust a half-built cache.
            let _ = std::fs::remove_dir_all(&self.dir);
            return Err(e);
        }
        std::fs::create_dir_all(self.share_dir())?;
        std::fs::write(self.built_stamp(), &self.key)?;
        Ok(())
    }

    /// Builds of this prefix from an older recipe are never used again: remove them, unless
    /// running (their `state.json` says so).
    fn remove_outdated_builds(&self) {
        let Ok(entries) = std::fs::read_dir(&self.cache) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let outdated = name.starts_with(&self.prefix)
                && path.is_dir()
                && path != self.dir
                && !path.join("state.json").exists();
            if outdated {
                eprintln!(
                    "[{}] removing {} (built from an older recipe)",
                    self.label(),
                    path.display()
                );
                let _ = std::fs::remove_dir_all(&path);
                let _ = std::fs::remove_file(path.with_extension("lock"));
            }
        }
    }

    /// Stops (`stop`, under the lock) and removes the build and its lock file.
    pub fn destroy(&self, stop: impl FnOnce() -> Result<()>) -> Result<()> {
        let lock = self.lock()?;
        stop()?;
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir)
                .with_context(|| format!("removing {}", self.dir.display()))?;
        }
        drop(lock);
        let _ = std::fs::remove_file(self.dir.with_extension("lock"));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_build_leaves_nothing_and_a_good_one_replaces_older_builds() {
        let cache = tempfile::tempdir().unwrap();
        let old = BuildDir::new(cache.path(), "trixie-".into(), "aaa".into());
        let _lock = old.lock().unwrap();
        old.build(|| Ok(()), || Ok(()), |_| Ok(())).unwrap();
        assert!(old.is_built() && old.share_dir().is_dir());
        // Another prefix that starts alike is not this build's to remove.
        let vm = BuildDir::new(cache.path(), "vm-trixie-".into(), "ccc".into());
        vm.build(|| Ok(()), || Ok(()), |_| Ok(())).unwrap();

        let new = BuildDir::new(cache.path(), "trixie-".into(), "bbb".into());
        let failed = new.build(
            || Ok(()),
            || Ok(()),
            |dir| {
                std::fs::write(dir.join("half"), "x")?;
                anyhow::bail!("provision failed")
            },
        );
        assert!(failed.is_err());
        assert!(!new.path().exists(), "a failed build leaves no folder");
        new.build(|| Ok(()), || Ok(()), |_| Ok(())).unwrap();
        assert!(new.is_built());
        assert!(!old.path().exists(), "the older recipe's build is removed");
        assert!(vm.is_built(), "another prefix's build stays");
    }

    #[test]
    fn a_half_built_folder_is_stopped_and_built_again() {
        let cache = tempfile::tempdir().unwrap();
        let b = BuildDir::new(cache.path(), "forky-".into(), "k".into());
        std::fs::create_dir_all(b.path().join("rootfs")).unwrap();
        let mut stopped = false;
        b.build(
            || {
                stopped = true;
                Ok(())
            },
            || Ok(()),
            |dir| {
                assert!(!dir.join("rootfs").exists(), "built in a fresh folder");
                Ok(())
            },
        )
        .unwrap();
        assert!(stopped && b.is_built());
        b.write_state(&serde_json::json!({"pid": 1})).unwrap();
        let state: serde_json::Value = b.read_state().unwrap();
        assert_eq!(state["pid"], 1);
        b.destroy(|| Ok(())).unwrap();
        assert!(!b.path().exists());
    }
}
