//! `cargo xtask report merge|scoreboard`: what to do with JSON reports written elsewhere (shards of
//! one suite on several machines, the cells of a matrix).

use anyhow::{Context as _, Result};
use conformance::report::format::{self, Format};
use conformance::report::{merge, scoreboard, RunReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum ReportTask {
    /// Join the JSON reports of several machines or shards (`--partition k/n`) into one report,
    /// the one a single run would have written. Refuses reports of different environments
    /// (target, versions, runtime, suite, kernel...) unless --allow-mixed, a case in two reports,
    /// and an incomplete or repeated set of shards. Exits 1 when the merged report has a failed
    /// or xpassed case, as the run would have.
    Merge {
        /// The JSON reports (`--report-json` of each run).
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Write the merged JSON report here (default: print it).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the merged report as an HTML scoreboard here.
        #[arg(long)]
        html: Option<PathBuf>,
        /// A previous run's JSON report: the scoreboard marks the cells that changed since.
        #[arg(long)]
        previous: Option<PathBuf>,
        /// Merge reports of different environments anyway (their differing fields are joined).
        #[arg(long)]
        allow_mixed: bool,
    },
    /// One HTML scoreboard of several reports, one column each (named after its file).
    Scoreboard {
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        #[arg(long)]
        html: PathBuf,
        /// Previous runs: a folder holding reports of the same file names, or one JSON report
        /// compared with every column.
        #[arg(long)]
        previous: Option<PathBuf>,
        #[arg(long, default_value = "checkpoint-conformance scoreboard")]
        title: String,
    },
}

pub fn run(task: ReportTask) -> Result<ExitCode> {
    match task {
        ReportTask::Merge {
            reports,
            out,
            html,
            previous,
            allow_mixed,
        } => {
            let read = read_all(&reports)?;
            let names: Vec<String> = reports.iter().map(|p| p.display().to_string()).collect();
            let inputs: Vec<merge::Input> = read
                .iter()
                .zip(&names)
                .map(|(report, name)| merge::Input { name, report })
                .collect();
            let merged = merge::merge(&inputs, allow_mixed).map_err(anyhow::Error::msg)?;
            eprintln!("merged {} reports: {}", reports.len(), merged.summary);
            match &out {
                Some(path) => {
                    format::write(&merged, Format::Json, path)?;
                    eprintln!("report: {}", path.display());
                }
                None if html.is_none() => print!("{}", Format::Json.render(&merged)),
                None => {}
            }
            if let Some(path) = html {
                let previous = previous.map(|p| RunReport::read(&p)).transpose()?;
                let title = out
                    .as_deref()
                    .map(column_title)
                    .unwrap_or_else(|| "merged".into());
                let columns = [scoreboard::Column {
                    title,
                    report: Some(&merged),
                    note: Some(format!("merged from {}", names.join(", "))),
                    previous: previous.as_ref(),
                }];
                write_html(&path, "checkpoint-conformance scoreboard", "", &columns)?;
            }
            Ok(if merged.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        ReportTask::Scoreboard {
            reports,
            html,
            previous,
            title,
        } => {
            let read = read_all(&reports)?;
            let previous: Vec<Option<RunReport>> = reports
                .iter()
                .map(|r| previous_of(previous.as_deref(), r))
                .collect::<Result<_>>()?;
            let columns: Vec<scoreboard::Column> = reports
                .iter()
                .zip(&read)
                .zip(&previous)
                .map(|((path, report), previous)| scoreboard::Column {
                    title: column_title(path),
                    report: Some(report),
                    note: None,
                    previous: previous.as_ref(),
                })
                .collect();
            write_html(&html, &title, "", &columns)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<RunReport>> {
    paths.iter().map(|p| RunReport::read(p)).collect()
}

/// A report's column name: its file name without `.json`.
pub fn column_title(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The previous run of the report `current` is named after: `previous/<its file name>` when
/// `previous` is a folder (none when that file is missing: a new column), else `previous` itself.
pub fn previous_of(previous: Option<&Path>, current: &Path) -> Result<Option<RunReport>> {
    let Some(previous) = previous else {
        return Ok(None);
    };
    if previous.is_dir() {
        let Some(name) = current.file_name() else {
            return Ok(None);
        };
        let path = previous.join(name);
        return if path.exists() {
            RunReport::read(&path).map(Some)
        } else {
            Ok(None)
        };
    }
    RunReport::read(previous).map(Some)
}

pub fn write_html(
    path: &Path,
    title: &str,
    meta: &str,
    columns: &[scoreboard::Column],
) -> Result<()> {
    let html = scoreboard::render(title, meta, columns);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
    let found = scoreboard::findings(columns);
    eprintln!(
        "scoreboard: {} ({} rows differ, {} cells changed)",
        path.display(),
        found.differing.len(),
        found.changed.len()
    );
    Ok(())
}
