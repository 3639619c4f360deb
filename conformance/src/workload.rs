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
    /// A file inside the container whose last line is "COUNT BOOT": a growing number and the token
    /// the workload drew at its start.
    pub progress: String,
    /// The command names (`comm`) of the processes it keeps while it runs, its first process
    /// first: what a checkpoint's process tree must hold (read by crit and checkpointctl).
    #[serde(default)]
    pub processes: Vec<String>,
    /// Command names of processes that come and go (a loop's `sleep`): the tree may hold any.
    #[serde(default)]
    pub transient: Vec<String>,
}

/// One reading of a workload's progress file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Grows while the workload runs.
    pub count: u64,
    /// Drawn once when the workload started and kept in its memory: a restored workload keeps it,
    /// a restarted one has a new one.
    pub boot: String,
}

pub type Catalog = BTreeMap<String, Workload>;

pub fn load(path: &Path) -> Result<Catalog> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{}", path.display()))
}

/// The command that prints the end of a progress file, for [`parse_progress`].
pub fn tail_argv(file: &str) -> Vec<String> {
    // Two lines: the last may be half-written (the TCP workload appends what it receives).
    ["tail", "-n", "2", file].map(String::from).to_vec()
}

/// The last complete line of a progress file ("COUNT BOOT", ending in a newline), from the output
/// of [`tail_argv`].
pub fn parse_progress(output: &str) -> Option<Progress> {
    let complete = &output[..output.rfind('\n')?];
    let line = complete.rsplit('\n').next()?;
    let mut words = line.split_whitespace();
    let count = words.next()?.parse().ok()?;
    let boot = words.next()?.to_string();
    words.next().is_none().then_some(Progress { count, boot })
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

    fn p(count: u64, boot: &str) -> Option<Progress> {
        Some(Progress {
            count,
            boot: boot.into(),
        })
    }

    #[test]
    fn progress_is_the_last_complete_line() {
        assert_eq!(parse_progress("16 ab\n17 ab\n"), p(17, "ab"));
        assert_eq!(parse_progress("17 ab\n"), p(17, "ab"));
        // Half-written: the line before it counts.
        assert_eq!(parse_progress("16 ab\n17 a"), p(16, "ab"));
        assert_eq!(parse_progress("16 a"), None);
    }

    #[test]
    fn a_line_without_its_token_is_unreadable() {
        assert_eq!(parse_progress("17\n"), None);
        assert_eq!(parse_progress("17 ab cd\n"), None);
        assert_eq!(parse_progress(""), None);
        assert_eq!(parse_progress("cat: can't open\n"), None);
    }
}
