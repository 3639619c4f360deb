//! The benchmark page: `docs/benchmarks.json` holds what every benchmark measured, each in its
//! section; `benchmarks.md` and the plot are rendered from the whole file.

use super::{checkpoint, plot, profile, restore, suite};
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything the benchmarks measured: the contents of `docs/benchmarks.json`.
#[derive(Serialize, Deserialize, Default)]
pub struct Results {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<suite::SuiteResults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<checkpoint::CheckpointResults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<profile::ProfileResults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<restore::RestoreResults>,
}

impl Results {
    pub fn load(out: &Path) -> Result<Results> {
        let path = out.join("benchmarks.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display())),
            Err(_) => Ok(Results::default()),
        }
    }

    /// Writes benchmarks.json and renders benchmarks.md (and the plot) from it.
    pub fn save(&self, out: &Path) -> Result<()> {
        std::fs::create_dir_all(out)?;
        if let Some(c) = &self.checkpoint {
            std::fs::write(
                out.join("benchmarks-checkpoint.svg"),
                plot::checkpoint_svg(c),
            )?;
        }
        let json = out.join("benchmarks.json");
        std::fs::write(&json, serde_json::to_string_pretty(self)? + "\n")?;
        let mut md = String::from(
            "# Benchmarks\n\nWritten by `cargo xtask bench suite`, `cargo xtask bench checkpoint`, \
             `cargo xtask bench restore` and `cargo xtask bench profile` \
             (numbers: [benchmarks.json](benchmarks.json)); do not edit by hand. Times are wall \
             times of real processes in the ns sandbox, compared with podman on the same machine \
             in the same run.\n",
        );
        if let Some(s) = &self.suite {
            md.push_str(&suite::markdown(s));
        }
        if let Some(c) = &self.checkpoint {
            md.push_str(&checkpoint::markdown(c));
        }
        if let Some(r) = &self.restore {
            md.push_str(&restore::markdown(r));
        }
        if let Some(p) = &self.profile {
            md.push_str(&profile::markdown(p));
        }
        let path = out.join("benchmarks.md");
        std::fs::write(&path, md)?;
        eprintln!("wrote {} and {}", json.display(), path.display());
        Ok(())
    }
}

/// Puts one benchmark's section into the page in `out` and renders it again.
pub fn update(out: &Path, section: impl FnOnce(&mut Results)) -> Result<()> {
    let mut results = Results::load(out)?;
    section(&mut results);
    results.save(out)
}
