//! The workload catalog (`fixtures/workloads.toml`): what runs in a test container and where its
//! progress can be read.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// The command run in the test image.
    pub command: Vec<String>,
    /// A file inside the container whose last line is a growing number.
    pub progress: String,
}

pub type Catalog = BTreeMap<String, Workload>;

pub fn load(path: &Path) -> Result<Catalog> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{}", path.display()))
}

/// The progress number in the output of `tail -n 1 <progress file>`.
pub fn parse_progress(output: &str) -> Option<u64> {
    output.trim().lines().last()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_in_fixtures_loads() {
        let catalog =
            load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/workloads.toml"))
                .unwrap();
        for name in ckpt_sandbox::recipe::workload_names() {
            assert!(
                catalog.contains_key(name),
                "workload {name} is not in the catalog"
            );
        }
    }

    #[test]
    fn progress_is_the_last_number() {
        assert_eq!(parse_progress("1\n2\n17\n"), Some(17));
        assert_eq!(parse_progress(""), None);
        assert_eq!(parse_progress("cat: can't open"), None);
    }
}
