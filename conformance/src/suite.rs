//! One run of the suite: command line, cases and expectations in, libtest-style console and reports
//! out. `cargo xtask conformance` is a thin wrapper around [`run`].

use crate::case::{self, Case};
use crate::expectations::{self, Expectations, Expected, Outcome};
use crate::oracle::stats::{load_schema, StatsKind};
use crate::probe::Capabilities;
use crate::report::format::{self, Format};
use crate::report::{self, CaseReport, RunReport, Status};
use crate::runner::{self, Context};
use crate::target::Target;
use crate::{interrupt, names, workload};
use anyhow::{Context as _, Result};
use ckpt_sandbox::{Backend, Sandbox, SandboxArgs};
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct SuiteArgs {
    /// The podman-compatible executable under test: a host path (made runnable inside the sandbox)
    /// or a name found inside it. `cargo xtask conformance` defaults to the reference (refpod),
    /// which it builds; the `conformance` binary alone defaults to `podman`.
    #[arg(long)]
    pub bin: Option<String>,
    /// A second podman-compatible engine for the interop cases (a host path or a name inside the
    /// sandbox): it restores the target's archives and exports archives for the target. Without
    /// one, those cases are skipped. Several, comma-separated: the first that keeps its
    /// containers apart from the target's (another store than the target's `info`) is taken; a
    /// wrapper of podman, or podman-remote, shares podman's store and is no second engine.
    /// `cargo xtask conformance` sets `podman,<refpod>`, or refpod when the target is podman.
    #[arg(long)]
    pub peer: Option<String>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// OCI runtime passed to the target as `--runtime NAME` (default: the target's own).
    #[arg(long)]
    pub runtime: Option<String>,
    /// Known failures and skips, with reasons (default: fixtures/expectations/<bin>-<version>-<sandbox>.toml when it exists).
    #[arg(long)]
    pub expectations: Option<PathBuf>,
    /// Write the JSON report here (default: target/conformance/report.json).
    #[arg(long)]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write a TAP report here.
    #[arg(long)]
    pub tap: Option<PathBuf>,
    /// Cases run at once (cases using --all or --latest always run alone).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Seconds one case may take before it fails and is cleaned up.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// List the cases instead of running them.
    #[arg(long)]
    pub list: bool,
    /// Filters match case ids exactly instead of as substrings.
    #[arg(long)]
    pub exact: bool,
    /// Skip cases whose id contains this (repeatable).
    #[arg(long)]
    pub skip: Vec<String>,
    /// One character per case instead of one line.
    #[arg(long, short)]
    pub quiet: bool,
    /// The fixtures folder (cases, workloads, schemas, expectations).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"))]
    pub fixtures: PathBuf,
    /// Run only shard k of n of the selected cases (e.g. `2/3`), to spread one suite over several
    /// machines; a case's shard depends on its id alone. `cargo xtask report merge` joins the
    /// shards' JSON reports.
    #[arg(long)]
    pub partition: Option<crate::partition::Partition>,
    /// Run only cases whose id contains one of these.
    pub filters: Vec<String>,
}

impl SuiteArgs {
    /// The executable under test as given, `podman` when none was.
    pub fn target(&self) -> &str {
        self.bin.as_deref().unwrap_or("podman")
    }
}

fn selected(args: &SuiteArgs, id: &str) -> bool {
    let matches = |f: &String| {
        if args.exact {
            id == f
        } else {
            id.contains(f.as_str())
        }
    };
    (args.filters.is_empty() || args.filters.iter().any(matches))
        && !args.skip.iter().any(|s| id.contains(s.as_str()))
        && args.partition.is_none_or(|p| p.contains(id))
}

fn libtest_args(args: &SuiteArgs) -> Arguments {
    Arguments {
        list: args.list,
        quiet: args.quiet,
        test_threads: Some(args.jobs.max(1)),
        ..Arguments::default()
    }
}

/// The `conformance` command: lists the cases, or runs them and maps the report to an exit status
/// (0 all passed or as expected, 1 otherwise, 130 interrupted).
pub fn run(args: SuiteArgs) -> Result<ExitCode> {
    if args.list {
        list(&args)?;
        return Ok(ExitCode::SUCCESS);
    }
    let report = match execute(&args) {
        Ok(report) => report,
        Err(e) => match e.downcast_ref::<UsageError>() {
            Some(usage) => {
                eprintln!("error: {usage}");
                return Ok(ExitCode::from(2));
            }
            None => return Err(e),
        },
    };
    if interrupt::requested() {
        eprintln!("interrupted: everything the run created was removed");
        return Ok(ExitCode::from(130));
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A run that cannot start as asked (a `--runtime` not installed): exit status 2, as bad usage.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The selected cases of the fixtures folder (a file that does not parse stays, as an error).
fn load(args: &SuiteArgs) -> Result<Vec<Result<Case, (String, anyhow::Error)>>> {
    let loaded = case::load_dir(&args.fixtures.join("cases"))?;
    let loaded: Vec<_> = loaded
        .into_iter()
        .filter(|c| {
            selected(
                args,
                c.as_ref()
                    .map(|c| c.id.as_str())
                    .unwrap_or_else(|(id, _)| id),
            )
        })
        .collect();
    Ok(loaded)
}

/// Prints the selected cases as libtest's `--list` does.
fn list(args: &SuiteArgs) -> Result<()> {
    let loaded = load(args)?;
    let trials = loaded
        .iter()
        .map(|c| match c {
            Ok(case) => Trial::test(&case.id, || Ok(())).with_kind(case.group().to_string()),
            Err((id, _)) => Trial::test(id, || Ok(())),
        })
        .collect();
    let _ = libtest_mimic::run(&libtest_args(args), trials);
    Ok(())
}

/// One run of the suite: every selected case against the target in the sandbox, the reports
/// written where `args` says; the report is returned for callers in this process (the mutants
/// harness, the benchmarks, the tests). Everything the run created is removed before it returns,
/// also when interrupted (`interrupt::requested()` then tells).
pub fn execute(args: &SuiteArgs) -> Result<RunReport> {
    let loaded = load(args)?;

    interrupt::install();
    let sandbox = args.sandbox.sandbox()?;
    // Held to the end of the run: the sandbox stops then if this run started it and no other run
    // uses it, so that a run leaves no process behind.
    let _lease = sandbox.lease()?;
    // The suite's own time starts here: building the sandbox is not the suite's overhead.
    let run_started = Instant::now();
    let bin = resolve_bin(&sandbox, args.target())?;
    let global_args = match &args.runtime {
        Some(rt) => vec!["--runtime".to_string(), rt.clone()],
        None => vec![],
    };
    let mut target = Target::new(sandbox.clone(), bin, global_args.clone());
    let run_id = run_id();
    // A remote client (podman-remote) talks to a service this run starts now and stops when this
    // guard drops: after the final sweep, and on every early return (dropped before the lease).
    let service = crate::service::Service::start_if_remote(&mut target, &run_id)?;
    if let Some(service) = &service {
        eprintln!(
            "target {} is a remote client: started `podman system service` on {}",
            target.bin, service.url
        );
    }
    if let Err(e) = ensure_test_image(&target) {
        // podman refuses every command, an import too, with a --runtime it cannot find.
        if let Some(rt) = args.runtime.as_deref() {
            if !crate::probe::runtime_installed(&target, rt) {
                return Err(
                    UsageError(format!("no OCI runtime {rt:?} in the sandbox: {e:#}")).into(),
                );
            }
        }
        return Err(e);
    }
    let (peer, no_peer) = match &args.peer {
        Some(candidates) => choose_peer(&sandbox, &target, candidates, &global_args)?,
        None => (None, None),
    };
    if let Some(peer) = &peer {
        ensure_test_image(peer)?;
        same_test_image(&target, peer)?;
    }
    let label = match args.sandbox.backend {
        Backend::Ns => format!("ns ({})", args.sandbox.suite),
        Backend::Vm => format!("vm ({})", args.sandbox.suite),
        Backend::None => "none (host)".to_string(),
    };
    let mut caps = Capabilities::probe(&target, args.runtime.as_deref(), &label);
    if let Some(service) = &service {
        caps.environment.service = format!("podman system service on {}", service.url);
    }
    if let Some(reason) = no_peer {
        caps.peer = Err(reason);
    }
    // Once per run, not once per case: a runtime the target cannot checkpoint with (podman and
    // runsc) skips the whole run with the target's own reason instead of failing every case.
    let probe_name = format!("cc{}-probe-runtime", run_id);
    match crate::probe::probe_runtime(
        &target,
        &caps.facts.runtime_name,
        args.runtime.is_some(),
        ckpt_sandbox::TEST_IMAGE,
        &probe_name,
    ) {
        crate::probe::RuntimeProbe::Usable => {}
        crate::probe::RuntimeProbe::Refused(reason) => {
            eprintln!("the whole run is skipped: {reason}");
            caps.checkpoint = Err(reason);
        }
        crate::probe::RuntimeProbe::Missing(reason) => return Err(UsageError(reason).into()),
    }
    if let Some(peer) = &peer {
        caps.peer = Ok(());
        let version = peer.call(&["--version".into()], Duration::from_secs(30));
        let version = version.stdout.split_whitespace().last().unwrap_or("");
        caps.environment.peer = format!("{} {version}", peer.bin);
    }
    let env = &caps.environment;
    eprintln!(
        "target {} {} | runtime {} ({}) | {} | kernel {} | cgroup {} | {} | sandbox {}",
        env.target,
        env.target_version,
        env.runtime,
        env.runtime_version,
        env.criu_version,
        env.kernel,
        env.cgroup_version,
        env.distribution,
        env.sandbox
    );
    if !env.peer.is_empty() {
        eprintln!("peer {}", env.peer);
    }
    let expectations = load_expectations(args, &caps)?;
    let ids: Vec<&str> = loaded
        .iter()
        .map(|c| {
            c.as_ref()
                .map(|c| c.id.as_str())
                .unwrap_or_else(|(id, _)| id)
        })
        .collect();
    for unknown in expectations.unknown_ids(ids.iter().copied()) {
        eprintln!("warning: the expectations file names {unknown:?}, which is not a case");
    }

    let tally = target.tally().clone();
    let ctx = Arc::new(Context {
        catalog: workload::load(&args.fixtures.join("workloads.toml"))?,
        checkpoint_schema: load_schema(StatsKind::Checkpoint, &args.fixtures)
            .map_err(anyhow::Error::msg)?,
        restore_schema: load_schema(StatsKind::Restore, &args.fixtures)
            .map_err(anyhow::Error::msg)?,
        run_id,
        live: Arc::default(),
        timeout: Duration::from_secs(args.timeout),
        progress_wait: Duration::from_secs(if args.sandbox.backend == Backend::Vm {
            60
        } else {
            8
        }),
        share: sandbox.share_dir()?,
        server: service
            .as_ref()
            .map(|_| Target::new(sandbox.clone(), "podman".into(), vec![]).counted_in(&tally)),
        target,
        peer,
        caps,
    });
    let results: Arc<Mutex<Vec<CaseReport>>> = Arc::default();
    let mut skipped = vec![];
    let mut trials = vec![];
    // Cases that run alone go first, back to back: between other cases, each would wait for the
    // running ones to finish while no new case starts, leaving a job idle.
    let mut loaded = loaded;
    loaded.sort_by_key(|c| !c.as_ref().is_ok_and(|c| c.exclusive()));
    for entry in loaded {
        let case = match entry {
            Ok(case) => case,
            Err((id, error)) => {
                // A malformed case fails alone, naming its file and field; the others still run.
                let message = format!("{error:#}");
                results.lock().unwrap().push(case_report(
                    &id,
                    Status::Failed,
                    0,
                    None,
                    Some(message.clone()),
                ));
                trials.push(Trial::test(id, move || Err(Failed::from(message))));
                continue;
            }
        };
        let expectation = expectations.get(&case.id).cloned();
        let skip_reason = match &expectation {
            Some(e) if e.expect == Expected::Skip => {
                Some(format!("expectations file: {}", e.reason))
            }
            _ => ctx.caps.unmet(&case.requires),
        };
        if let Some(reason) = skip_reason {
            skipped.push((case.id.clone(), reason.clone()));
            results.lock().unwrap().push(case_report(
                &case.id,
                Status::Skipped,
                0,
                Some(&case),
                Some(reason),
            ));
            trials.push(
                Trial::test(&case.id, || Ok(()))
                    .with_kind(case.group().to_string())
                    .with_ignored_flag(true),
            );
            continue;
        }
        let (ctx, results) = (ctx.clone(), results.clone());
        let kind = case.group().to_string();
        let id = case.id.clone();
        trials.push(
            Trial::test(id, move || {
                let started = Instant::now();
                let hold = if case.exclusive() {
                    crate::alone::exclusive(&ctx.share)
                } else {
                    crate::alone::shared(&ctx.share)
                };
                let result = match hold {
                    Ok(_hold) => runner::run_case(&ctx, &case),
                    Err(e) => runner::CaseResult {
                        findings: vec![format!(
                            "cannot take the sandbox's case lock in {}: {e}",
                            ctx.share.display()
                        )],
                        log: String::new(),
                    },
                };
                let outcome = if result.findings.is_empty() {
                    Outcome::Passed
                } else {
                    Outcome::Failed(result.findings.join("\n"))
                };
                let (status, reason) = expectations::reconcile(outcome, expectation.as_ref());
                let mut report = case_report(
                    &case.id,
                    status,
                    started.elapsed().as_millis() as u64,
                    Some(&case),
                    reason.clone(),
                );
                report.log = result.log.clone();
                results.lock().unwrap().push(report);
                if status.fails_run() {
                    Err(Failed::from(format!(
                        "{}\n--- what the case did ---\n{}",
                        reason.unwrap_or_default(),
                        result.log
                    )))
                } else {
                    Ok(())
                }
            })
            .with_kind(kind),
        );
    }
    for (id, reason) in &skipped {
        eprintln!("skip {id}: {reason}");
    }

    let _ = libtest_mimic::run(&libtest_args(args), trials);
    let leftovers = ctx.live.leftovers();
    for engine in ctx.engines() {
        sweep(engine, &leftovers);
    }

    let mut cases = std::mem::take(&mut *results.lock().unwrap());
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    let mut report = RunReport::new(ctx.caps.environment.clone(), cases);
    report.partition = args.partition;
    let (commands, command_time) = ctx.target.tally().commands();
    report.timing = Some(report::Timing {
        wall_ms: run_started.elapsed().as_millis() as u64,
        command_ms: command_time.as_millis() as u64,
        commands,
        wait_ms: ctx.target.tally().waited().as_millis() as u64,
        jobs: args.jobs.max(1),
    });
    match &ctx.caps.checkpoint {
        Ok(()) => eprintln!("conformance: {}", report.summary),
        Err(reason) => eprintln!(
            "conformance: {} (the whole run skipped: {reason})",
            report.summary
        ),
    }
    let json = args.report_json.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/conformance/report.json")
    });
    for (path, format) in [
        (Some(json), Format::Json),
        (args.junit.clone(), Format::Junit),
        (args.tap.clone(), Format::Tap),
    ] {
        if let Some(path) = path {
            format::write(&report, format, &path)?;
            eprintln!("report: {}", path.display());
        }
    }
    Ok(report)
}

fn case_report(
    id: &str,
    status: Status,
    duration_ms: u64,
    case: Option<&Case>,
    reason: Option<String>,
) -> CaseReport {
    CaseReport {
        id: id.to_string(),
        status,
        duration_ms,
        covers: case.map(|c| c.covers.clone()).unwrap_or_default(),
        spec: case.map(|c| c.spec.trim().to_string()).unwrap_or_default(),
        reason,
        log: String::new(),
    }
}

/// A host path is copied into the sandbox; anything else is a name found inside.
/// Where an engine keeps its containers: `store.graphRoot` of its `info --format json`.
fn store_of(engine: &Target) -> Option<String> {
    let call = engine.call(
        &["info".into(), "--format".into(), "json".into()],
        Duration::from_secs(60),
    );
    let info: serde_json::Value = serde_json::from_str(&call.stdout).ok()?;
    info["store"]["graphRoot"].as_str().map(String::from)
}

/// The first of the comma-separated `candidates` that is a second engine: one whose store is not
/// the target's (two clients of one store would see each other's containers, and every interop
/// case would fail on an ID already in use). Returns it, or why there is none.
fn choose_peer(
    sandbox: &Sandbox,
    target: &Target,
    candidates: &str,
    global_args: &[String],
) -> Result<(Option<Target>, Option<String>)> {
    let target_store = store_of(target);
    let mut refused = Vec::new();
    for candidate in candidates.split(',').filter(|c| !c.is_empty()) {
        let peer = Target::new(
            sandbox.clone(),
            resolve_bin(sandbox, candidate)?,
            global_args.to_vec(),
        );
        let store = store_of(&peer);
        match (&target_store, &store) {
            (Some(t), Some(p)) if t == p => {
                eprintln!(
                    "peer {candidate}: not a second engine, it shares the target's store {p}"
                );
                refused.push(format!("{candidate} shares the target's store {p}"));
            }
            _ => return Ok((Some(peer.counted_in(target.tally())), None)),
        }
    }
    Ok((
        None,
        Some(format!(
            "needs a second engine with a store of its own, and none was: {}",
            refused.join("; ")
        )),
    ))
}

fn resolve_bin(sandbox: &Sandbox, bin: &str) -> Result<String> {
    let path = Path::new(bin);
    if bin.contains('/') && path.is_file() {
        let inside = sandbox
            .install_binary(&path.canonicalize()?)
            .with_context(|| format!("making {bin} runnable in the sandbox"))?;
        return Ok(inside.display().to_string());
    }
    Ok(bin.to_string())
}

fn load_expectations(args: &SuiteArgs, caps: &Capabilities) -> Result<Expectations> {
    let path = match &args.expectations {
        Some(p) => p.clone(),
        None => {
            let bin = Path::new(args.target())
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let dir = args.fixtures.join("expectations");
            let general = format!(
                "{bin}-{}-{}",
                caps.facts.target_version, args.sandbox.backend
            );
            // An explicit --runtime may have a file of its own (podman checks an archive's
            // runtime against it before anything else), else the general one holds.
            let auto = args
                .runtime
                .as_ref()
                .map(|rt| dir.join(format!("{general}-{rt}.toml")))
                .filter(|f| f.exists())
                .unwrap_or_else(|| dir.join(format!("{general}.toml")));
            if !auto.exists() {
                eprintln!("expectations: none ({} does not exist)", auto.display());
                return Ok(Expectations::empty());
            }
            auto
        }
    };
    eprintln!("expectations: {}", path.display());
    Expectations::load(&path)
}

/// The test image, imported through the target itself when it does not have it yet.
fn ensure_test_image(target: &Target) -> Result<()> {
    let timeout = Duration::from_secs(60);
    let image = ckpt_sandbox::TEST_IMAGE.to_string();
    if target
        .call(&["image".into(), "exists".into(), image.clone()], timeout)
        .ok()
    {
        return Ok(());
    }
    let import = target.call(
        &[
            "import".into(),
            ckpt_sandbox::TEST_IMAGE_TARBALL.into(),
            image,
        ],
        timeout,
    );
    if !import.ok() {
        anyhow::bail!(
            "the target could not import the test image:\n{}",
            import.render()
        );
    }
    Ok(())
}

/// A short id unique to this run, so that names of concurrent runs never clash.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}", (std::process::id() ^ nanos) & 0xffffff)
}

/// Removes from an engine whatever an interrupted case could not.
fn sweep(engine: &Target, leftovers: &[(names::Kind, String)]) {
    let of = |kind| {
        leftovers
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| n.clone())
            .collect::<Vec<_>>()
    };
    let (containers, volumes, images) = (
        of(names::Kind::Container),
        of(names::Kind::Volume),
        of(names::Kind::Image),
    );
    for args in runner::removals(&containers, &volumes, &images) {
        engine.call(&args, Duration::from_secs(30));
    }
}

/// The test image's ID in an engine.
fn test_image_id(engine: &Target) -> Result<String> {
    let call = engine.call(
        &[
            "image".into(),
            "inspect".into(),
            ckpt_sandbox::TEST_IMAGE.into(),
        ],
        Duration::from_secs(30),
    );
    let value: serde_json::Value = serde_json::from_str(&call.stdout)
        .with_context(|| format!("`image inspect` in {}:\n{}", engine.bin, call.render()))?;
    value[0]["Id"]
        .as_str()
        .map(|id| id.trim_start_matches("sha256:").to_string())
        .with_context(|| format!("`image inspect` in {} has no Id", engine.bin))
}

/// An archive names its image by ID (podman restores from nothing else), so both engines must
/// hold the test image under one ID: importing one tarball gives it the same ID in each. An
/// engine whose copy came from elsewhere imports the tarball again.
pub fn same_test_image(target: &Target, peer: &Target) -> Result<()> {
    let (t, p) = (test_image_id(target)?, test_image_id(peer)?);
    if t == p {
        return Ok(());
    }
    for engine in [target, peer] {
        let import = engine.call(
            &[
                "import".into(),
                ckpt_sandbox::TEST_IMAGE_TARBALL.into(),
                ckpt_sandbox::TEST_IMAGE.into(),
            ],
            Duration::from_secs(60),
        );
        anyhow::ensure!(
            import.ok(),
            "re-importing the test image:\n{}",
            import.render()
        );
    }
    let (t, p) = (test_image_id(target)?, test_image_id(peer)?);
    anyhow::ensure!(
        t == p,
        "the target and the peer hold {} under different IDs ({t} and {p}) even after importing \
         {} again: an archive of one cannot name the image of the other",
        ckpt_sandbox::TEST_IMAGE,
        ckpt_sandbox::TEST_IMAGE_TARBALL
    );
    Ok(())
}
