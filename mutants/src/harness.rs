//! `cargo xtask mutants`: runs the suite against the control (the shim passing everything through)
//! and against each mutant, and reports which cases kill which mutant.
//!
//! Each run is `conformance::suite::run` in this process, with the mutant's case filters and its
//! own JSON report: the same code path as `cargo xtask conformance`, without a second program to
//! build and parse the output of. A mutant is killed when a case fails (`failed` or `xpassed`)
//! that passed in the control run; a case the control fails proves nothing.

use crate::catalog::{self, Mutant, CATALOG, CONTROL};
use crate::shim::ShimConfig;
use anyhow::{bail, Context, Result};
use ckpt_sandbox::{Backend, Sandbox, SandboxArgs};
use clap::Parser;
use conformance::report::{CaseReport, Status};
use conformance::suite::SuiteArgs;
use nix::unistd::{close, dup, dup2};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct MutantsArgs {
    /// The real target every mutant wraps: a host path (made runnable inside the sandbox) or a
    /// name found inside it.
    #[arg(long, default_value = "podman")]
    pub bin: String,
    /// The peer engine of the interop cases, given to every suite run (`cargo xtask mutants`
    /// sets it as `cargo xtask conformance` does: the reference for podman, podman for others).
    #[arg(long)]
    pub peer: Option<String>,
    /// Only this mutant (repeatable); default: the whole catalog.
    #[arg(long = "mutant", value_name = "NAME")]
    pub mutants: Vec<String>,
    /// The CI subset: a handful of mutants, each against one case.
    #[arg(long)]
    pub fast: bool,
    /// Write the JSON report here (default: target/mutants/report.json).
    #[arg(long)]
    pub report_json: Option<PathBuf>,
    /// Write the readable report here (default, when the whole catalog runs: docs/mutants.md
    /// for podman, docs/mutants-<bin>.md for another target; target/mutants/mutants.md otherwise).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Cases run at once in each suite run.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// List the catalog instead of running it.
    #[arg(long)]
    pub list: bool,
    /// Where the suite runs: `--sandbox ns`, or `vm` for the mutants whose cases need soft-dirty
    /// tracking (`--pre-checkpoint`); each runs only the mutants of its sandbox.
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// What one run of the suite against one shim gave.
struct RunResult {
    cases: Vec<CaseReport>,
    environment: serde_json::Value,
    seconds: f64,
    /// Why the suite could not run (it never got to the cases).
    error: Option<String>,
}

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Killed,
    Survived,
    /// The suite did not run; neither killed nor survived.
    Error,
}

#[derive(Serialize, Debug)]
pub struct Kill {
    pub case: String,
    /// The case's first finding: how it noticed.
    pub finding: String,
}

#[derive(Serialize, Debug)]
pub struct MutantReport {
    pub name: String,
    pub deviation: String,
    pub filters: Vec<String>,
    pub equivalent: Option<String>,
    pub verdict: Verdict,
    pub killed_by: Vec<Kill>,
    pub cases_run: usize,
    pub seconds: f64,
    /// The only case that failed, which passed when run again: not counted as a kill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flaky: Option<Kill>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, Debug)]
pub struct CaseKills {
    pub case: String,
    /// How many mutants it ran against.
    pub ran_against: usize,
    pub kills: Vec<String>,
}

#[derive(Serialize, Debug)]
pub struct Score {
    pub total: usize,
    pub killed: usize,
    pub equivalent: usize,
    /// killed / total.
    pub score: f64,
    /// Killed among the mutants not documented as equivalent.
    pub killed_not_equivalent: usize,
    /// killed_not_equivalent / (total - equivalent).
    pub score_not_equivalent: f64,
}

impl Score {
    fn of(mutants: &[MutantReport]) -> Score {
        let killed = |m: &&MutantReport| m.verdict == Verdict::Killed;
        let total = mutants.len();
        let killed_all = mutants.iter().filter(killed).count();
        let equivalent = mutants.iter().filter(|m| m.equivalent.is_some()).count();
        let killed_not_equivalent = mutants
            .iter()
            .filter(killed)
            .filter(|m| m.equivalent.is_none())
            .count();
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Score {
            total,
            killed: killed_all,
            equivalent,
            score: ratio(killed_all, total),
            killed_not_equivalent,
            score_not_equivalent: ratio(killed_not_equivalent, total - equivalent),
        }
    }
}

#[derive(Serialize, Debug)]
pub struct Report {
    pub target: String,
    pub environment: serde_json::Value,
    pub fast: bool,
    pub seconds: f64,
    /// The 1-minute load average when the run started and ended: times (and a flaky case) mean
    /// little on a busy machine.
    pub load_average: [f64; 2],
    pub score: Score,
    /// Cases the control run failed: the shim or the target fails them alone, so they kill
    /// nothing.
    pub control_failures: Vec<Kill>,
    pub mutants: Vec<MutantReport>,
    pub cases: Vec<CaseKills>,
    /// Cases that ran against at least one mutant and killed none.
    pub idle_cases: Vec<Unkilling>,
    /// Cases that ran against no mutant (no filter selects them, or they were skipped).
    pub unexercised_cases: Vec<Unkilling>,
}

/// A case that kills no mutant, and why when that is known.
#[derive(Serialize, Debug)]
pub struct Unkilling {
    pub case: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Why an idle case cannot kill: the target fails it already.
const XFAILED: &str = "the target fails it already (xfailed in the control, as its expectations \
     file says): a mutant of the target cannot fail it anew, only pass it";

impl Report {
    /// Equivalent mutants must survive, the others must be killed, and the control must pass.
    pub fn is_success(&self) -> bool {
        self.control_failures.is_empty()
            && self.mutants.iter().all(|m| match m.equivalent {
                Some(_) => m.verdict == Verdict::Survived,
                None => m.verdict == Verdict::Killed,
            })
    }
}

/// `SuiteArgs` from command-line words, so that its defaults stay the suite's own.
#[derive(Parser)]
struct SuiteCli {
    #[command(flatten)]
    suite: SuiteArgs,
}

fn workspace() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The mutants to run, each with its case filters.
fn select(args: &MutantsArgs) -> Result<Vec<(&'static Mutant, Vec<String>)>> {
    let in_vm = args.sandbox.backend == Backend::Vm;
    let chosen: Vec<&'static Mutant> = if args.mutants.is_empty() {
        CATALOG
            .iter()
            .filter(|m| m.vm == in_vm && (!args.fast || m.fast.is_some()))
            .collect()
    } else {
        args.mutants
            .iter()
            .map(|name| {
                let m = catalog::find(name)
                    .filter(|m| m.name != CONTROL.name)
                    .with_context(|| {
                        format!("no mutant {name:?}: `cargo xtask mutants --list` lists them")
                    })?;
                if m.vm && !in_vm {
                    bail!("mutant {name:?} needs soft-dirty tracking: run it with --sandbox vm");
                }
                Ok(m)
            })
            .collect::<Result<_>>()?
    };
    Ok(chosen
        .into_iter()
        .map(|m| {
            let filters = match m.fast {
                Some(fast) if args.fast => fast,
                _ => m.filters,
            };
            (m, filters.iter().map(|f| f.to_string()).collect())
        })
        .collect())
}

fn list() {
    for m in CATALOG {
        println!("{}: {}", m.name, m.description);
        println!("    cases: {}", m.filters.join(" "));
        if m.vm {
            println!("    sandbox: vm (--sandbox vm)");
        }
        if let Some(why) = m.equivalent {
            println!("    equivalent: {why}");
        }
    }
}

/// Builds `mutant-shim` with the cargo running this task and returns its path.
fn build_shim() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "--package", "mutants", "--bin", "mutant-shim"])
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build for the shim")?;
    if !out.status.success() {
        bail!("building mutant-shim failed");
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "mutant-shim")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo build named no mutant-shim executable")
}

/// The real target's expectations file, as the suite picks it for the target itself
/// (`fixtures/expectations/<bin>-<version>-ns.toml`): its known failures stay known under every
/// mutant, and a mutant that passes one of them (`xpassed`) is noticed.
fn expectations_for(sandbox: &Sandbox, target: &str) -> Option<PathBuf> {
    let out = sandbox
        .command(&[target, "--version"])
        .ok()?
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let version = stdout.split_whitespace().last()?;
    let bin = Path::new(target).file_name()?.to_string_lossy();
    let path = workspace()
        .join("fixtures/expectations")
        .join(format!("{bin}-{version}-ns.toml"));
    path.exists().then_some(path)
}

struct Harness {
    args: MutantsArgs,
    sandbox: Sandbox,
    shim: PathBuf,
    /// The real target as the shim inside the sandbox calls it.
    target: String,
    expectations: Option<PathBuf>,
    dir: PathBuf,
}

impl Harness {
    /// Installs the shim as `mutant-<name>` with its configuration and runs the suite against it.
    /// `run` names the report and log (`<run>.json`, `<run>.log`); `exact` makes the filters
    /// case ids.
    fn run(
        &self,
        mutant: &Mutant,
        filters: &[String],
        run: &str,
        exact: bool,
    ) -> Result<RunResult> {
        let staged = self.dir.join("bin").join(format!("mutant-{}", mutant.name));
        std::fs::create_dir_all(self.dir.join("bin"))?;
        std::fs::copy(&self.shim, &staged)?;
        let inside = self.sandbox.install_binary(&staged)?;
        ShimConfig {
            mutant: mutant.name.into(),
            target: self.target.clone(),
        }
        .write_for(&inside)?;

        let report = self
            .dir
            .join("reports")
            .join(format!("{}.json", mutant.name));
        let _ = std::fs::remove_file(&report);
        let mut words: Vec<String> = vec!["conformance".into(), "--quiet".into()];
        for (flag, value) in [
            ("--bin", inside.display().to_string()),
            ("--report-json", report.display().to_string()),
            ("--jobs", self.args.jobs.to_string()),
        ] {
            words.extend([flag.to_string(), value]);
        }
        words.extend(self.args.sandbox.to_args());
        if let Some(peer) = &self.args.peer {
            words.extend(["--peer".into(), peer.clone()]);
        }
        if let Some(file) = &self.expectations {
            words.extend(["--expectations".into(), file.display().to_string()]);
        }
        if exact {
            words.push("--exact".into());
        }
        words.push("--".into());
        words.extend(filters.iter().cloned());
        let suite_args = SuiteCli::try_parse_from(words)?.suite;

        let log = self.dir.join("logs").join(format!("{run}.log"));
        let started = Instant::now();
        let outcome = {
            let _console = Console::to_file(&log)?;
            conformance::suite::execute(&suite_args)
        };
        let seconds = started.elapsed().as_secs_f64();
        Ok(match outcome {
            Ok(r) => RunResult {
                environment: serde_json::to_value(&r.environment)?,
                cases: r.cases,
                seconds,
                error: None,
            },
            Err(e) => RunResult::failed(format!("{e:#}"), seconds),
        })
    }

    /// Runs the suite against one mutant: its report, and the cases that ran. A kill is a case
    /// that fails and did not fail in the control (`unreliable`).
    fn judge(
        &self,
        mutant: &Mutant,
        filters: &[String],
        unreliable: &BTreeSet<&str>,
    ) -> Result<(MutantReport, Vec<String>)> {
        let result = self.run(mutant, filters, mutant.name, false)?;
        let ran: Vec<&CaseReport> = result
            .cases
            .iter()
            .filter(|c| c.status != Status::Skipped)
            .collect();
        let mut killed_by: Vec<Kill> = ran
            .iter()
            .filter(|c| c.status.fails_run() && !unreliable.contains(c.id.as_str()))
            .map(|c| Kill {
                case: c.id.clone(),
                finding: first_line(c.reason.as_deref().unwrap_or("")),
            })
            .collect();
        // A verdict that rests on one failure is checked once more: a flaky case must not
        // decide it alone.
        let mut flaky = None;
        if let [only] = killed_by.as_slice() {
            let again_name = format!("{}.again", mutant.name);
            let again = self.run(mutant, std::slice::from_ref(&only.case), &again_name, true)?;
            if again.error.is_none() && !again.cases.iter().any(|c| c.status.fails_run()) {
                flaky = killed_by.pop();
            }
        }
        let verdict = match (&result.error, killed_by.is_empty()) {
            (Some(_), _) => Verdict::Error,
            (None, false) => Verdict::Killed,
            (None, true) => Verdict::Survived,
        };
        eprintln!(
            "   {:?} by {} of {} case(s) in {:.0} s (log: target/mutants/logs/{}.log){}",
            verdict,
            killed_by.len(),
            ran.len(),
            result.seconds,
            mutant.name,
            match &flaky {
                Some(k) => format!("; {} failed once but passed again", k.case),
                None => String::new(),
            }
        );
        let ids = ran.iter().map(|c| c.id.clone()).collect();
        let report = MutantReport {
            name: mutant.name.into(),
            deviation: mutant.description.into(),
            filters: filters.to_vec(),
            equivalent: mutant.equivalent.map(String::from),
            verdict,
            killed_by,
            cases_run: ran.len(),
            seconds: result.seconds,
            flaky,
            error: result.error,
        };
        Ok((report, ids))
    }
}

/// While it lives, this process's stdout and stderr go to a file: the suite prints the whole log
/// of every failing case there, far too much for a console when most cases kill a mutant, and the
/// reports carry the findings anyway.
struct Console {
    saved: [RawFd; 2],
}

impl Console {
    fn to_file(path: &Path) -> Result<Console> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::File::create(path)?;
        flush();
        let saved = [dup(1)?, dup(2)?];
        dup2(file.as_raw_fd(), 1)?;
        dup2(file.as_raw_fd(), 2)?;
        Ok(Console { saved })
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        flush();
        for (fd, saved) in [1, 2].into_iter().zip(self.saved) {
            let _ = dup2(saved, fd);
            let _ = close(saved);
        }
    }
}

fn flush() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

impl RunResult {
    fn failed(error: String, seconds: f64) -> RunResult {
        RunResult {
            cases: vec![],
            environment: serde_json::Value::Null,
            seconds,
            error: Some(error),
        }
    }
}

/// Every case id, as the suite names them.
fn all_case_ids() -> Result<Vec<String>> {
    let loaded = conformance::case::load_dir(&workspace().join("fixtures/cases"))?;
    Ok(loaded
        .into_iter()
        .map(|c| match c {
            Ok(case) => case.id,
            Err((id, _)) => id,
        })
        .collect())
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}

pub fn run(args: MutantsArgs) -> Result<ExitCode> {
    if args.list {
        list();
        return Ok(ExitCode::SUCCESS);
    }
    let selected = select(&args)?;
    let whole_catalog = args.mutants.is_empty() && !args.fast;
    let started = Instant::now();
    let load_at_start = load_average();
    let shim = build_shim()?;
    let sandbox = args.sandbox.sandbox()?;
    // One hold for every suite run of the harness: the sandbox stays up between them.
    let _lease = sandbox.lease()?;
    let path = Path::new(&args.bin);
    let target = if args.bin.contains('/') && path.is_file() {
        let inside = sandbox.install_binary(&path.canonicalize()?)?;
        inside.display().to_string()
    } else {
        args.bin.clone()
    };
    let expectations = expectations_for(&sandbox, &target);
    match &expectations {
        Some(file) => eprintln!("expectations of {}: {}", args.bin, file.display()),
        None => eprintln!("expectations of {}: none", args.bin),
    }
    let harness = Harness {
        args: args.clone(),
        sandbox,
        shim,
        target,
        expectations,
        dir: workspace().join("target/mutants"),
    };

    // The control runs every case any selected mutant runs.
    let mut control_filters: Vec<String> = selected.iter().flat_map(|(_, f)| f.clone()).collect();
    if selected.iter().any(|(_, f)| f.is_empty()) {
        control_filters.clear();
    }
    control_filters.sort();
    control_filters.dedup();
    eprintln!(
        "== control: the shim without deviation, {} filter(s)",
        control_filters.len()
    );
    let control = harness.run(&CONTROL, &control_filters, CONTROL.name, false)?;
    if let Some(e) = &control.error {
        bail!("the control run failed, so no mutant can be judged: {e}");
    }
    let control_failures: Vec<Kill> = control
        .cases
        .iter()
        .filter(|c| c.status.fails_run())
        .map(|c| Kill {
            case: c.id.clone(),
            finding: first_line(c.reason.as_deref().unwrap_or("")),
        })
        .collect();
    eprintln!(
        "   {} case(s) run, {} failed, in {:.0} s (log: target/mutants/logs/control.log)",
        control
            .cases
            .iter()
            .filter(|c| c.status != Status::Skipped)
            .count(),
        control_failures.len(),
        control.seconds
    );
    let unreliable: BTreeSet<&str> = control_failures.iter().map(|k| k.case.as_str()).collect();
    let xfailed: BTreeSet<&str> = control
        .cases
        .iter()
        .filter(|c| c.status == Status::Xfailed)
        .map(|c| c.id.as_str())
        .collect();

    let mut mutants = vec![];
    let mut ran: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
    for (i, (mutant, filters)) in selected.iter().enumerate() {
        if conformance::interrupt::requested() {
            break;
        }
        eprintln!(
            "== mutant {}/{}: {} ({}); cases: {}",
            i + 1,
            selected.len(),
            mutant.name,
            mutant.description,
            filters.join(" ")
        );
        let (report, ran_ids) = harness.judge(mutant, filters, &unreliable)?;
        for id in ran_ids {
            let entry = ran.entry(id.clone()).or_default();
            entry.0 += 1;
            if report.killed_by.iter().any(|k| k.case == id) {
                entry.1.push(mutant.name.to_string());
            }
        }
        mutants.push(report);
    }

    let cases: Vec<CaseKills> = ran
        .into_iter()
        .map(|(case, (ran_against, kills))| CaseKills {
            case,
            ran_against,
            kills,
        })
        .collect();
    let report = Report {
        target: args.bin.clone(),
        environment: control.environment,
        fast: args.fast,
        seconds: started.elapsed().as_secs_f64(),
        load_average: [load_at_start, load_average()],
        score: Score::of(&mutants),
        idle_cases: cases
            .iter()
            .filter(|c| c.kills.is_empty())
            .map(|c| Unkilling {
                case: c.case.clone(),
                why: xfailed
                    .contains(c.case.as_str())
                    .then(|| XFAILED.to_string()),
            })
            .collect(),
        unexercised_cases: all_case_ids()?
            .into_iter()
            .filter(|id| !cases.iter().any(|c| &c.case == id))
            // In vm only its own mutants run: the other cases are the ns run's business.
            .filter(|id| args.sandbox.backend != Backend::Vm || catalog::not_run(id).is_some())
            .map(|case| Unkilling {
                why: catalog::not_run(&case).map(String::from),
                case,
            })
            .collect(),
        control_failures,
        mutants,
        cases,
    };

    print!("{}", table(&report));
    let json = args
        .report_json
        .clone()
        .unwrap_or_else(|| harness.dir.join("report.json"));
    let markdown = args.markdown.clone().unwrap_or_else(|| {
        if whole_catalog {
            workspace().join(docs_report(&args.bin, args.sandbox.backend))
        } else {
            harness.dir.join("mutants.md")
        }
    });
    for (path, text) in [
        (&json, serde_json::to_string_pretty(&report)? + "\n"),
        (&markdown, markdown_report(&report)),
    ] {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report: {}", path.display());
    }
    if conformance::interrupt::requested() {
        eprintln!("interrupted: the report covers the mutants run so far");
        return Ok(ExitCode::from(130));
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Where the whole catalog's report goes: `docs/mutants.md` for podman, the target podman stands
/// for, `docs/mutants-<name>.md` for another (`refpod`).
fn docs_report(bin: &str, sandbox: Backend) -> PathBuf {
    let name = Path::new(bin)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let vm = if sandbox == Backend::Vm { "-vm" } else { "" };
    match name.as_str() {
        "podman" | "" => PathBuf::from(format!("docs/mutants{vm}.md")),
        other => PathBuf::from(format!("docs/mutants-{other}{vm}.md")),
    }
}

fn verdict_text(m: &MutantReport) -> &'static str {
    match (m.verdict, m.equivalent.is_some()) {
        (Verdict::Killed, false) => "killed",
        (Verdict::Killed, true) => "KILLED (equivalent!)",
        (Verdict::Survived, true) => "equivalent",
        (Verdict::Survived, false) => "SURVIVED",
        (Verdict::Error, _) => "ERROR",
    }
}

fn score_line(s: &Score) -> String {
    format!(
        "{} of {} mutants killed ({:.1}%); {} documented equivalent; {} of {} others killed ({:.1}%)",
        s.killed,
        s.total,
        s.score * 100.0,
        s.equivalent,
        s.killed_not_equivalent,
        s.total - s.equivalent,
        s.score_not_equivalent * 100.0
    )
}

/// Killer names, at most `n` then a count.
fn short_list(names: &[&str], n: usize) -> String {
    let mut s = names.iter().take(n).copied().collect::<Vec<_>>().join(", ");
    if names.len() > n {
        let _ = write!(s, " (+{})", names.len() - n);
    }
    s
}

/// The readable table printed on stdout.
pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{:<32} {:<20} {:>6}  killed by",
        "mutant", "verdict", "time"
    );
    for m in &r.mutants {
        let killers: Vec<&str> = m.killed_by.iter().map(|k| k.case.as_str()).collect();
        let _ = writeln!(
            s,
            "{:<32} {:<20} {:>5.0}s  {}",
            m.name,
            verdict_text(m),
            m.seconds,
            short_list(&killers, 3)
        );
    }
    let _ = writeln!(s, "\n{:<48} {:>5}  kills", "case", "ran");
    for c in &r.cases {
        let kills: Vec<&str> = c.kills.iter().map(String::as_str).collect();
        let _ = writeln!(
            s,
            "{:<48} {:>5}  {}",
            c.case,
            c.ran_against,
            short_list(&kills, 3)
        );
    }
    for k in &r.control_failures {
        let _ = writeln!(s, "control failed {}: {}", k.case, k.finding);
    }
    let _ = writeln!(s, "\n{}", score_line(&r.score));
    let _ = writeln!(
        s,
        "cases that killed no mutant: {}; cases no mutant ran: {}",
        r.idle_cases.len(),
        r.unexercised_cases.len()
    );
    let _ = writeln!(
        s,
        "took {:.0} s (load average {:.1} at the start, {:.1} at the end)",
        r.seconds, r.load_average[0], r.load_average[1]
    );
    s
}

fn md_escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// docs/mutants.md.
pub fn markdown_report(r: &Report) -> String {
    let env = |k: &str| r.environment[k].as_str().unwrap_or("?").to_string();
    let mut s = String::new();
    let _ = writeln!(s, "# Mutants\n");
    let _ = writeln!(
        s,
        "Written by `cargo xtask mutants{}`; do not edit. Each mutant is the real target behind \
         `mutant-shim`, deviating in exactly one documented way (catalog: `mutants/src/catalog.rs`). \
         A mutant is killed when a case fails that passed in the control run (the shim without \
         deviation). An equivalent mutant deviates in a way the spec allows: it must survive.\n",
        if r.fast { " --fast" } else { "" }
    );
    let _ = writeln!(
        s,
        "Target: `{}` {} | runtime {} | {} | sandbox {} | {:.0} s in all, load average {:.1} \
         at the start and {:.1} at the end.\n",
        r.target,
        env("target_version"),
        env("runtime"),
        env("criu_version"),
        env("sandbox"),
        r.seconds,
        r.load_average[0],
        r.load_average[1]
    );
    let _ = writeln!(s, "**Score: {}.**\n", score_line(&r.score));
    if !r.control_failures.is_empty() {
        let _ = writeln!(
            s,
            "The control run failed these cases, so they kill nothing:\n"
        );
        for k in &r.control_failures {
            let _ = writeln!(s, "- `{}`: {}", k.case, md_escape(&k.finding));
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Mutants\n");
    let _ = writeln!(
        s,
        "| mutant | deviation | cases run | verdict | killed by | how the first killer noticed |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for m in &r.mutants {
        let killers: Vec<String> = m
            .killed_by
            .iter()
            .map(|k| format!("`{}`", k.case))
            .collect();
        let mut how = match (&m.equivalent, m.killed_by.first(), &m.error) {
            (_, _, Some(e)) => md_escape(e),
            (_, Some(k), _) => md_escape(&k.finding),
            (Some(why), None, _) => format!("equivalent: {}", md_escape(why)),
            (None, None, _) => String::new(),
        };
        if let Some(k) = &m.flaky {
            let _ = write!(
                how,
                " (`{}` failed once and passed when run again, so it does not count: {})",
                k.case,
                md_escape(&k.finding)
            );
        }
        let _ = writeln!(
            s,
            "| `{}` | {} | {} (`{}`) | {} | {} | {} |",
            m.name,
            md_escape(&m.deviation),
            m.cases_run,
            m.filters.join("` `"),
            verdict_text(m),
            killers.join(" "),
            how
        );
    }
    let _ = writeln!(s, "\n## Cases\n");
    let _ = writeln!(s, "| case | ran against | kills |");
    let _ = writeln!(s, "|---|---|---|");
    for c in &r.cases {
        let kills: Vec<String> = c.kills.iter().map(|k| format!("`{k}`")).collect();
        let _ = writeln!(
            s,
            "| `{}` | {} | {} |",
            c.case,
            c.ran_against,
            kills.join(" ")
        );
    }
    let _ = writeln!(s, "\n## Cases that killed no mutant\n");
    if r.idle_cases.is_empty() {
        let _ = writeln!(s, "None.");
    }
    for c in &r.idle_cases {
        let _ = writeln!(s, "{}", unkilling_line(c));
    }
    let _ = writeln!(s, "\n## Cases no mutant ran\n");
    if r.unexercised_cases.is_empty() {
        let _ = writeln!(s, "None.");
    }
    for c in &r.unexercised_cases {
        let _ = writeln!(s, "{}", unkilling_line(c));
    }
    s
}

fn unkilling_line(c: &Unkilling) -> String {
    match &c.why {
        Some(why) => format!("- `{}`: {}", c.case, md_escape(why)),
        None => format!("- `{}`", c.case),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> MutantsArgs {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: MutantsArgs,
        }
        let mut words = vec!["mutants"];
        words.extend(extra);
        Cli::parse_from(words).args
    }

    fn mutant(name: &str, verdict: Verdict, equivalent: bool) -> MutantReport {
        MutantReport {
            name: name.into(),
            deviation: String::new(),
            filters: vec![],
            equivalent: equivalent.then(|| "allowed".to_string()),
            verdict,
            killed_by: vec![],
            cases_run: 1,
            seconds: 0.0,
            flaky: None,
            error: None,
        }
    }

    #[test]
    fn selects_the_catalog_the_fast_subset_or_named_mutants() {
        let ns = select(&args(&[])).unwrap();
        let vm = select(&args(&["--sandbox", "vm"])).unwrap();
        assert_eq!(ns.len() + vm.len(), CATALOG.len());
        assert!(ns.iter().all(|(m, _)| !m.vm) && vm.iter().all(|(m, _)| m.vm));
        assert!(!vm.is_empty(), "the pre-checkpoint cases have mutants");
        let err = select(&args(&["--mutant", "with-previous-ignored"])).unwrap_err();
        assert!(format!("{err}").contains("--sandbox vm"), "{err}");
        let fast = select(&args(&["--fast"])).unwrap();
        assert!(fast
            .iter()
            .all(|(m, f)| Some(f.len()) == m.fast.map(|x| x.len())));
        let named = select(&args(&["--mutant", "drop-keep", "--fast"])).unwrap();
        assert_eq!(named[0].0.name, "drop-keep");
        assert_eq!(named[0].1, ["keep"], "no fast filters: its own");
        let err = select(&args(&["--mutant", "control"])).unwrap_err();
        assert!(format!("{err}").contains("--list"), "{err}");
    }

    #[test]
    fn each_target_has_its_own_report() {
        assert_eq!(
            docs_report("podman", Backend::Ns),
            Path::new("docs/mutants.md")
        );
        assert_eq!(
            docs_report("target/release/refpod", Backend::Ns),
            Path::new("docs/mutants-refpod.md")
        );
        assert_eq!(
            docs_report("target/release/refpod", Backend::Vm),
            Path::new("docs/mutants-refpod-vm.md")
        );
    }

    #[test]
    fn the_score_leaves_equivalent_mutants_out_of_the_second_ratio() {
        let mutants = [
            mutant("a", Verdict::Killed, false),
            mutant("b", Verdict::Survived, false),
            mutant("c", Verdict::Survived, true),
            mutant("d", Verdict::Error, false),
        ];
        let s = Score::of(&mutants);
        assert_eq!((s.total, s.killed, s.equivalent), (4, 1, 1));
        assert_eq!(s.score, 0.25);
        assert!((s.score_not_equivalent - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn success_needs_kills_surviving_equivalents_and_a_clean_control() {
        let report = |mutants: Vec<MutantReport>, control_failures: Vec<Kill>| Report {
            target: "podman".into(),
            environment: serde_json::Value::Null,
            fast: false,
            seconds: 0.0,
            load_average: [0.0; 2],
            score: Score::of(&mutants),
            control_failures,
            mutants,
            cases: vec![],
            idle_cases: vec![],
            unexercised_cases: vec![],
        };
        let good = || {
            vec![
                mutant("a", Verdict::Killed, false),
                mutant("e", Verdict::Survived, true),
            ]
        };
        let r = report(good(), vec![]);
        assert!(r.is_success());
        assert!(table(&r).contains("equivalent"));
        assert!(markdown_report(&r).contains("| `a` |"));
        let failed = Kill {
            case: "x".into(),
            finding: "f".into(),
        };
        assert!(!report(good(), vec![failed]).is_success());
        assert!(!report(vec![mutant("b", Verdict::Survived, false)], vec![]).is_success());
        assert!(!report(vec![mutant("e", Verdict::Killed, true)], vec![]).is_success());
        assert!(!report(vec![mutant("d", Verdict::Error, false)], vec![]).is_success());
    }
}
