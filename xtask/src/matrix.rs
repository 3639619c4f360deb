//! `cargo xtask matrix`: the suite against every cell of a declared matrix (engine × Debian suite ×
//! runtime × sandbox, `fixtures/matrix.toml`), then one HTML scoreboard of all of them.
//!
//! Each cell is `cargo xtask conformance` itself, run as a child process of a copy of this
//! executable (the same defaults: refpod built, the peer chosen): its console goes to
//! `DIR/<cell>.log`, its JSON report to `DIR/<cell>.json`, and its exit status to
//! `DIR/matrix.json`. A failing cell does not stop the matrix; a cell that wrote no report is a
//! column saying why.

use crate::report::{previous_of, write_html};
use anyhow::{Context as _, Result};
use conformance::partition::Partition;
use conformance::report::{scoreboard, RunReport};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct MatrixArgs {
    /// The matrix file.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/matrix.toml"))]
    matrix: PathBuf,
    /// Where the cells' reports and logs and the scoreboard go.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/matrix"))]
    out: PathBuf,
    /// A previous matrix's folder (its `<cell>.json` compared cell by cell) or one JSON report
    /// compared with every cell: the scoreboard marks the cells that changed since.
    #[arg(long)]
    previous: Option<PathBuf>,
    /// Only the cells whose name contains one of these (repeatable).
    #[arg(long)]
    cell: Vec<String>,
    /// Run shard k of n of each cell (see `cargo xtask conformance --partition`).
    #[arg(long)]
    partition: Option<Partition>,
    /// List the cells instead of running them.
    #[arg(long)]
    list: bool,
    /// Case filters for every cell (instead of the matrix file's `filters`).
    filters: Vec<String>,
}

/// The matrix file.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct MatrixFile {
    /// Case filters for every cell (as `cargo xtask conformance FILTER...`).
    #[serde(default)]
    filters: Vec<String>,
    /// `--skip` for every cell.
    #[serde(default)]
    skip: Vec<String>,
    /// More arguments of `cargo xtask conformance` for every cell (e.g. `["--jobs", "3"]`).
    #[serde(default)]
    args: Vec<String>,
    #[serde(rename = "cells")]
    groups: Vec<CellGroup>,
}

/// One engine over the cross product of its suites, runtimes and sandboxes.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct CellGroup {
    /// `--bin` (a name inside the sandbox or a host path); `refpod` is the reference, which
    /// `cargo xtask conformance` builds.
    engine: String,
    suites: Vec<String>,
    /// OCI runtimes (`--runtime`); empty: the engine's own.
    #[serde(default)]
    runtimes: Vec<String>,
    #[serde(default = "ns")]
    sandboxes: Vec<String>,
    /// More arguments for these cells only.
    #[serde(default)]
    args: Vec<String>,
}

fn ns() -> Vec<String> {
    vec!["ns".into()]
}

/// One run of the suite.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Cell {
    pub name: String,
    pub engine: String,
    pub suite: String,
    pub runtime: Option<String>,
    pub sandbox: String,
    pub args: Vec<String>,
}

/// What `DIR/matrix.json` records of a cell's run.
#[derive(Serialize, Deserialize, Debug)]
struct CellRun {
    #[serde(flatten)]
    cell: Cell,
    /// The exit status of `cargo xtask conformance` (`None`: killed by a signal).
    exit: Option<i32>,
    seconds: f64,
    /// The report's file name in DIR, when the run wrote one.
    report: Option<String>,
}

fn expand(file: &MatrixFile) -> Vec<Cell> {
    let mut cells = vec![];
    for group in &file.groups {
        let runtimes: Vec<Option<String>> = if group.runtimes.is_empty() {
            vec![None]
        } else {
            group.runtimes.iter().cloned().map(Some).collect()
        };
        let engine_name = Path::new(&group.engine)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| group.engine.clone());
        for suite in &group.suites {
            for runtime in &runtimes {
                for sandbox in &group.sandboxes {
                    cells.push(Cell {
                        name: format!(
                            "{engine_name}-{suite}-{}-{sandbox}",
                            runtime.as_deref().unwrap_or("default")
                        ),
                        engine: group.engine.clone(),
                        suite: suite.clone(),
                        runtime: runtime.clone(),
                        sandbox: sandbox.clone(),
                        args: group.args.clone(),
                    });
                }
            }
        }
    }
    cells
}

fn load(path: &Path) -> Result<MatrixFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: MatrixFile =
        toml::from_str(&text).with_context(|| format!("{} is no matrix file", path.display()))?;
    let cells = expand(&file);
    anyhow::ensure!(!cells.is_empty(), "{} declares no cell", path.display());
    let mut names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        anyhow::bail!("{} declares the cell {} twice", path.display(), w[0]);
    }
    Ok(file)
}

/// The arguments of `cargo xtask conformance` for `cell`.
fn conformance_args(
    cell: &Cell,
    file: &MatrixFile,
    filters: &[String],
    partition: Option<Partition>,
    report: &Path,
) -> Vec<String> {
    let mut args: Vec<String> = vec!["conformance".into(), "--quiet".into()];
    if cell.engine != "refpod" {
        args.extend(["--bin".into(), cell.engine.clone()]);
    }
    args.extend(["--suite".into(), cell.suite.clone()]);
    args.extend(["--sandbox".into(), cell.sandbox.clone()]);
    if let Some(rt) = &cell.runtime {
        args.extend(["--runtime".into(), rt.clone()]);
    }
    if let Some(p) = partition {
        args.extend(["--partition".into(), p.to_string()]);
    }
    for skip in &file.skip {
        args.extend(["--skip".into(), skip.clone()]);
    }
    args.extend(file.args.iter().cloned());
    args.extend(cell.args.iter().cloned());
    args.extend(["--report-json".into(), report.display().to_string()]);
    args.extend(filters.iter().cloned());
    args
}

pub fn run(args: MatrixArgs) -> Result<ExitCode> {
    let file = load(&args.matrix)?;
    let cells: Vec<Cell> = expand(&file)
        .into_iter()
        .filter(|c| args.cell.is_empty() || args.cell.iter().any(|f| c.name.contains(f)))
        .collect();
    anyhow::ensure!(!cells.is_empty(), "no cell matches {:?}", args.cell);
    let filters = if args.filters.is_empty() {
        file.filters.clone()
    } else {
        args.filters.clone()
    };
    if args.list {
        for cell in &cells {
            let report = args.out.join(format!("{}.json", cell.name));
            println!(
                "{}: cargo xtask {}",
                cell.name,
                conformance_args(cell, &file, &filters, args.partition, &report).join(" ")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let out = args.out.canonicalize()?;
    // The cells run a copy of this executable: a build in the work tree meanwhile would replace
    // the original under a running matrix.
    let exe_dir = tempfile_dir()?;
    let exe = exe_dir.join("xtask");
    std::fs::copy(std::env::current_exe()?, &exe).context("copying the xtask executable")?;

    let mut runs: Vec<CellRun> = vec![];
    for (i, cell) in cells.iter().enumerate() {
        let report = out.join(format!("{}.json", cell.name));
        let log = out.join(format!("{}.log", cell.name));
        // A report of an earlier matrix must never pass for this run's.
        let _ = std::fs::remove_file(&report);
        let argv = conformance_args(cell, &file, &filters, args.partition, &report);
        eprintln!(
            "matrix [{}/{}] {}: cargo xtask {} (log: {})",
            i + 1,
            cells.len(),
            cell.name,
            argv.join(" "),
            log.display()
        );
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let started = Instant::now();
        let status = Command::new(&exe)
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .status()
            .context("running cargo xtask conformance")?;
        let seconds = started.elapsed().as_secs_f64();
        let wrote = report.exists();
        let summary = match RunReport::read(&report) {
            Ok(r) => r.summary.to_string(),
            Err(_) => "no report".into(),
        };
        eprintln!(
            "matrix [{}/{}] {}: {status} in {seconds:.0} s: {summary}",
            i + 1,
            cells.len(),
            cell.name
        );
        runs.push(CellRun {
            cell: cell.clone(),
            exit: status.code(),
            seconds,
            report: wrote.then(|| format!("{}.json", cell.name)),
        });
        // Saved after each cell: a matrix stopped half-way keeps what it ran.
        std::fs::write(
            out.join("matrix.json"),
            serde_json::to_string_pretty(&serde_json::json!({
                "matrix": args.matrix.display().to_string(),
                "filters": filters,
                "partition": args.partition.map(|p| p.to_string()),
                "cells": runs,
            }))?,
        )?;
    }
    let _ = std::fs::remove_dir_all(&exe_dir);

    let reports: Vec<Option<RunReport>> = runs
        .iter()
        .map(|r| RunReport::read(&out.join(format!("{}.json", r.cell.name))).ok())
        .collect();
    let previous: Vec<Option<RunReport>> = runs
        .iter()
        .map(|r| {
            previous_of(
                args.previous.as_deref(),
                &out.join(format!("{}.json", r.cell.name)),
            )
        })
        .collect::<Result<_>>()?;
    let columns: Vec<scoreboard::Column> = runs
        .iter()
        .zip(&reports)
        .zip(&previous)
        .map(|((run, report), previous)| scoreboard::Column {
            title: run.cell.name.clone(),
            report: report.as_ref(),
            note: note(run, &out),
            previous: previous.as_ref(),
        })
        .collect();
    let meta = format!(
        "{} on {}; {}{}",
        args.matrix
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        now_utc(),
        if filters.is_empty() {
            "every case".to_string()
        } else {
            format!("cases matching {}", filters.join(", "))
        },
        args.partition
            .map(|p| format!("; shard {p}"))
            .unwrap_or_default()
    );
    write_html(
        &out.join("scoreboard.html"),
        "checkpoint-conformance scoreboard",
        &meta,
        &columns,
    )?;
    let failed: Vec<&str> = runs
        .iter()
        .filter(|r| r.exit != Some(0))
        .map(|r| r.cell.name.as_str())
        .collect();
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("matrix: cells that did not pass: {}", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

/// Under a column's title: an exit status other than 0, and without a report the end of its log.
fn note(run: &CellRun, out: &Path) -> Option<String> {
    let exit = match run.exit {
        Some(0) => return None,
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    };
    if run.report.is_some() {
        return Some(exit);
    }
    let log =
        std::fs::read_to_string(out.join(format!("{}.log", run.cell.name))).unwrap_or_default();
    let tail: Vec<&str> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .rev()
        .take(3)
        .collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Some(format!("{exit}, no report: {}", tail.join(" / ")))
}

fn now_utc() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("xtask-matrix-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> MatrixFile {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_group_is_the_cross_product_of_its_lists() {
        let file = parse(
            r#"
            filters = ["export."]
            [[cells]]
            engine = "refpod"
            suites = ["trixie"]
            runtimes = ["crun", "runc"]
            [[cells]]
            engine = "podman"
            suites = ["trixie", "forky"]
            "#,
        );
        let names: Vec<String> = expand(&file).into_iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "refpod-trixie-crun-ns",
                "refpod-trixie-runc-ns",
                "podman-trixie-default-ns",
                "podman-forky-default-ns"
            ]
        );
    }

    #[test]
    fn a_cell_is_cargo_xtask_conformance_with_its_options() {
        let file = parse(
            r#"
            skip = ["reliability."]
            args = ["--jobs", "3"]
            [[cells]]
            engine = "podman-remote"
            suites = ["forky"]
            runtimes = ["runc"]
            args = ["--timeout", "60"]
            [[cells]]
            engine = "refpod"
            suites = ["trixie"]
            "#,
        );
        let cells = expand(&file);
        let p = Some(Partition { index: 2, count: 3 });
        let argv = conformance_args(
            &cells[0],
            &file,
            &["export.".into()],
            p,
            Path::new("/o/x.json"),
        );
        assert_eq!(
            argv.join(" "),
            "conformance --quiet --bin podman-remote --suite forky --sandbox ns --runtime runc \
             --partition 2/3 --skip reliability. --jobs 3 --timeout 60 --report-json /o/x.json export."
        );
        // refpod: the reference `cargo xtask conformance` builds, no --bin.
        let argv = conformance_args(&cells[1], &file, &[], None, Path::new("r.json"));
        assert!(!argv.contains(&"--bin".to_string()), "{argv:?}");
    }

    #[test]
    fn the_checked_in_matrices_parse() {
        for name in ["matrix.toml", "matrix-ci.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures")
                .join(name);
            let file = load(&path).unwrap();
            assert!(!expand(&file).is_empty(), "{name}");
        }
    }

    #[test]
    fn unknown_keys_and_twice_declared_cells_are_refused() {
        assert!(
            toml::from_str::<MatrixFile>("[[cells]]\nengine=\"a\"\nsuites=[]\nruntime=\"x\"")
                .is_err()
        );
        let dir = std::env::temp_dir().join(format!("matrix-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.toml");
        std::fs::write(
            &path,
            "[[cells]]\nengine=\"podman\"\nsuites=[\"trixie\"]\n[[cells]]\nengine=\"/usr/bin/podman\"\nsuites=[\"trixie\"]\n",
        )
        .unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("podman-trixie-default-ns twice"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
