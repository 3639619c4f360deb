//! Writing a [`RunReport`] to a file in one of its formats, atomically.

use super::{json, junit, tap, RunReport};
use anyhow::Context as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;

/// The file formats a [`RunReport`] can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The JSON document of `--report-json` (see [`json`]).
    Json,
    /// JUnit XML (see [`junit`]).
    Junit,
    /// TAP version 14 (see [`tap`]).
    Tap,
}

impl Format {
    /// Renders `report` in this format.
    pub fn render(self, report: &RunReport) -> String {
        match self {
            Format::Json => json::render(report),
            Format::Junit => junit::render(report),
            Format::Tap => tap::render(report),
        }
    }
}

/// Writes `report` to `path` in `format`, creating the parent directory if needed.
///
/// The file is written to `<path>.tmp` in the same directory and renamed over `path`, so a reader
/// never sees half a report and an interrupted run leaves the previous report in place.
pub fn write(report: &RunReport, format: Format, path: &Path) -> anyhow::Result<()> {
    let text = format.render(report);
    write_atomically(path, text.as_bytes())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let file_name = path
        .file_name()
        .with_context(|| format!("report path {} does not name a file", path.display()))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("creating the report directory {}", parent.display()))?;
    }
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);

    let result = write_and_sync(&tmp, bytes)
        .with_context(|| format!("writing the report to {}", tmp.display()))
        .and_then(|()| {
            fs::rename(&tmp, path)
                .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
        });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_and_sync(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    #[test]
    fn write_creates_the_directory_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/nested/report.json");
        let report = sample();
        write(&report, Format::Json, &path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, json::render(&report));
        assert!(!dir.path().join("out/nested/report.json.tmp").exists());

        // Overwrites an existing report.
        write(&report, Format::Tap, &path).unwrap();
        assert!(fs::read_to_string(&path)
            .unwrap()
            .starts_with("TAP version 14\n"));
        let names: Vec<_> = fs::read_dir(dir.path().join("out/nested"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.json"]);
    }

    #[test]
    fn write_reports_an_unwritable_path() {
        let dir = tempfile::tempdir().unwrap();
        // The parent "directory" is a file.
        let blocker = dir.path().join("blocker");
        fs::write(&blocker, "").unwrap();
        let err = write(&sample(), Format::Junit, &blocker.join("r.xml")).unwrap_err();
        assert!(format!("{err:#}").contains("blocker"), "{err:#}");
        // A path that names no file.
        assert!(write(&sample(), Format::Json, Path::new("/")).is_err());
    }
}
