//! What names a sandbox: its backend, Debian suite and cache folder, and what it reports of itself.

use anyhow::{bail, Result};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Ns,
    Vm,
    None,
}

impl std::str::FromStr for Backend {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ns" => Ok(Backend::Ns),
            "vm" => Ok(Backend::Vm),
            "none" => Ok(Backend::None),
            other => bail!("unknown sandbox backend {other:?}: expected ns, vm or none"),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Ns => "ns",
            Backend::Vm => "vm",
            Backend::None => "none",
        })
    }
}

/// Debian suites whose podman stack the `ns` backend can build.
pub const SUITES: &[&str] = &["trixie", "forky"];

#[derive(Clone, Debug)]
pub struct Config {
    pub backend: Backend,
    /// Debian suite of the podman stack (`trixie`, `forky`).
    pub suite: String,
    /// Folder holding the built sandboxes, one subfolder per suite and recipe hash.
    pub cache_dir: PathBuf,
}

impl Config {
    /// The default: `ns`, trixie, cache in `CKPT_SANDBOX_CACHE` or the user's cache directory.
    pub fn from_env() -> Config {
        Config {
            backend: Backend::Ns,
            suite: std::env::var("CKPT_SANDBOX_SUITE").unwrap_or_else(|_| "trixie".into()),
            cache_dir: default_cache_dir(),
        }
    }
}

pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CKPT_SANDBOX_CACHE") {
        return dir.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"));
    base.join("checkpoint-conformance")
}

/// What `status` reports.
#[derive(Debug, serde::Serialize)]
pub struct Status {
    pub backend: String,
    pub suite: String,
    pub dir: PathBuf,
    pub built: bool,
    pub running: bool,
    /// ns: the first process of its namespaces; vm: qemu.
    pub init_pid: Option<i32>,
    /// vm: how qemu runs the guest (`kvm` or `tcg`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accel: Option<String>,
}
