//! `cargo xtask bench suite`: the whole suite against each target, once with `--jobs 1` (where the
//! suite's own overhead is the wall time not spent in the commands it ran) and once with the default
//! `--jobs 2` (the wall time a user waits).

use super::common::{
    fmt_secs, median, reference_build, shown, target, verdict, version, Common, Machine,
};
use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// The goals the numbers are reported against.
const GOAL_WALL_S: f64 = 180.0;
const GOAL_OVERHEAD: f64 = 0.10;

#[derive(clap::Args, Debug)]
pub struct SuiteBenchArgs {
    /// A target (repeatable): a host path or a name inside the sandbox. Default: podman, and the
    /// reference when target/release/refpod or target/debug/refpod is built.
    #[arg(long)]
    bin: Vec<String>,
    /// The job count of the second run of each target (the first always uses 1).
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Only cases whose id contains one of these (to try the benchmark quickly).
    filters: Vec<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct SuiteResults {
    pub machine: Machine,
    /// Case filters of the run; empty for the whole suite.
    pub filters: Vec<String>,
    /// The time to run `true` in the sandbox the way every target command is run (nsenter +
    /// timeout), median of 20: part of each command's time that is not the target's.
    pub launch_ms: f64,
    pub runs: Vec<SuiteRun>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct SuiteRun {
    /// As given to `--bin`.
    pub bin: String,
    /// What its `--version` says.
    pub version: String,
    pub jobs: usize,
    /// The suite's process, start to exit, measured from outside.
    pub wall_s: f64,
    /// The suite's own account (`timing` in its JSON report).
    pub suite_wall_ms: u64,
    pub command_ms: u64,
    pub commands: u64,
    /// Time cases slept between polls of a workload's progress (part of the overhead).
    #[serde(default)]
    pub wait_ms: u64,
    /// `(suite_wall_ms - command_ms) / suite_wall_ms`; only meaningful with one job.
    pub overhead: f64,
    /// `passed, failed, skipped, xfailed, xpassed` as the suite reported them.
    pub summary: serde_json::Value,
}

/// Runs the benchmark; `save` takes the results so far after each run.
pub fn run(
    args: SuiteBenchArgs,
    save_results: impl Fn(&SuiteResults) -> Result<()>,
) -> Result<ExitCode> {
    let (sandbox, _lease) = args.common.sandbox()?;
    let mut bins = args.bin.clone();
    if bins.is_empty() {
        bins.push("podman".into());
        match reference_build() {
            Some(r) => bins.push(r.display().to_string()),
            None => eprintln!("bench: the reference is not built (cargo build --release -p reference): podman only"),
        }
    }
    let podman = target(&sandbox, "podman")?;
    let machine = Machine::probe(&podman, &args.common.sandbox.suite);
    let launch: Vec<f64> = (0..20)
        .map(|_| {
            let call = podman.run_inside(vec!["true".into()], Duration::from_secs(10));
            call.duration.as_secs_f64() * 1000.0
        })
        .collect();
    let launch_ms = median(&launch);
    eprintln!("bench: one command launched in the sandbox costs {launch_ms:.1} ms (median of 20)");

    let mut runs = vec![];
    let report_dir = tempfile_dir()?;
    // The suite runs from a copy of this executable: a build in the work tree (others' or ours)
    // replaces the original under a running benchmark.
    let exe = report_dir.join("xtask");
    std::fs::copy(std::env::current_exe()?, &exe).context("copying the xtask executable")?;
    for bin in &bins {
        let version = version(&target(&sandbox, bin)?);
        for jobs in [1, args.jobs] {
            let report = report_dir.join(format!("report-{}-{jobs}.json", runs.len()));
            let mut cmd = Command::new(&exe);
            cmd.args(["conformance", "--quiet", "--bin", bin])
                .args(["--jobs", &jobs.to_string()])
                .args(args.common.sandbox.to_args())
                .arg("--report-json")
                .arg(&report)
                .args(&args.filters);
            eprintln!("bench: the suite against {bin} with --jobs {jobs}");
            let started = Instant::now();
            let status = cmd.status().context("running the suite")?;
            let wall_s = started.elapsed().as_secs_f64();
            let json: serde_json::Value = serde_json::from_slice(
                &std::fs::read(&report)
                    .with_context(|| format!("the suite ({status}) wrote no report"))?,
            )?;
            let timing = &json["timing"];
            let Some(suite_wall_ms) = timing["wall_ms"].as_u64() else {
                bail!("the suite's report has no timing: {}", report.display());
            };
            let command_ms = timing["command_ms"].as_u64().unwrap_or(0);
            let run = SuiteRun {
                bin: shown(bin),
                version: version.clone(),
                jobs,
                wall_s,
                suite_wall_ms,
                command_ms,
                commands: timing["commands"].as_u64().unwrap_or(0),
                wait_ms: timing["wait_ms"].as_u64().unwrap_or(0),
                overhead: (suite_wall_ms as f64 - command_ms as f64) / suite_wall_ms as f64,
                summary: json["summary"].clone(),
            };
            eprintln!(
                "bench: {bin} --jobs {jobs}: {} wall, {} commands taking {}, overhead {:.1}% ({})",
                fmt_secs(run.wall_s),
                run.commands,
                fmt_secs(run.command_ms as f64 / 1000.0),
                run.overhead * 100.0,
                summary_line(&run.summary)
            );
            runs.push(run);
            // Saved after each run: a long benchmark that fails late keeps what it measured.
            save_results(&SuiteResults {
                machine: machine.finished(),
                filters: args.filters.clone(),
                launch_ms,
                runs: runs.clone(),
            })?;
        }
    }
    let _ = std::fs::remove_dir_all(&report_dir);
    Ok(ExitCode::SUCCESS)
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("bench-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn summary_line(summary: &serde_json::Value) -> String {
    ["passed", "failed", "skipped", "xfailed", "xpassed"]
        .iter()
        .filter_map(|k| {
            let n = summary[k].as_u64()?;
            (n > 0).then(|| format!("{n} {k}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn markdown(s: &SuiteResults) -> String {
    let mut md = String::from("\n## The whole suite (`cargo xtask bench suite`)\n\n");
    md.push_str(&s.machine.markdown());
    if !s.filters.is_empty() {
        let _ = writeln!(
            md,
            "\nOnly the cases matching {:?}: not the whole suite.",
            s.filters
        );
    }
    md.push_str(
        "\n| target | version | jobs | wall | commands | time in commands | suite overhead | of which waiting for workloads | overhead with launching | cases |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in &s.runs {
        let (overhead, waiting, with_launching) = if r.jobs == 1 {
            let launching = r.commands as f64 * s.launch_ms / r.suite_wall_ms as f64;
            (
                format!("{:.1}%", r.overhead * 100.0),
                format!("{:.1}%", r.wait_ms as f64 / r.suite_wall_ms as f64 * 100.0),
                format!("{:.1}%", (r.overhead + launching) * 100.0),
            )
        } else {
            ("(overlapping)".into(), "".into(), "".into())
        };
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.bin,
            r.version,
            r.jobs,
            fmt_secs(r.wall_s),
            r.commands,
            fmt_secs(r.command_ms as f64 / 1000.0),
            overhead,
            waiting,
            with_launching,
            summary_line(&r.summary)
        );
    }
    let _ = writeln!(
        md,
        "\nOverhead = (the suite's wall time − the summed wall time of every command it ran in the \
         sandbox) / its wall time, with `--jobs 1`. Each command's time includes launching it in \
         the sandbox (`nsenter` + `timeout`), {:.1} ms (median of 20 runs of `true`); the last \
         overhead column counts that as the suite's too. Waiting = the sleeps between polls of a \
         workload's progress (a running container must write its first line before a case's \
         steps; a restored or untouched one must move on, 0.1 s a step), which a faster target \
         cannot shorten.\n",
        s.launch_ms
    );
    md.push_str("Goals:\n\n");
    for r in &s.runs {
        if r.jobs == 1 {
            let _ = writeln!(
                md,
                "- `{}`: suite overhead ≤ {:.0}%: {:.1}%, {}.",
                r.bin,
                GOAL_OVERHEAD * 100.0,
                r.overhead * 100.0,
                verdict(r.overhead <= GOAL_OVERHEAD)
            );
        } else {
            let _ = writeln!(
                md,
                "- `{}`: whole suite ≤ {} with --jobs {} on {} cores: {}, {}.",
                r.bin,
                fmt_secs(GOAL_WALL_S),
                r.jobs,
                s.machine.cores,
                fmt_secs(r.wall_s),
                verdict(r.wall_s <= GOAL_WALL_S)
            );
        }
    }
    md
}
