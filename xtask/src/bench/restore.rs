//! `cargo xtask bench restore`: `container restore --import F` of one archive per profile, size and
//! compression (exported by podman from a container holding N MiB, so both engines read the same
//! bytes), podman against the candidate, runs alternating, median of `--runs` after one untimed
//! warm-up each; with the peak resident memory of the engine's process (the largest of it and the
//! children it waited for: `busybox time -v`, i.e. getrusage). The floor: the OCI runtime's own
//! `restore` from the dump in a folder (no archive to read), of a copy of podman's bundle.

use super::checkpoint::{ensure_image, ok, runtime_dump, strings, Workload};
use super::common::{
    candidate_bin, fmt_secs, fmt_spread, hold_as_a_case, median, shown, spread, target, verdict,
    version, Common, Machine,
};
use super::memory;
use anyhow::{Context as _, Result};
use conformance::target::Target;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const CALL_TIMEOUT: Duration = Duration::from_secs(900);
const GOAL_SPEEDUP: f64 = 1.5;
/// The speedup goal holds at this size.
const GOAL_AT_MIB: u64 = 1024;
/// The candidate's peak memory may grow by at most this factor from the smallest archive to the
/// largest ("flat": it streams).
const GOAL_FLAT: f64 = 1.5;

#[derive(clap::Args, Debug)]
pub struct RestoreBenchArgs {
    /// Dirty memory of the checkpointed container, in MiB.
    #[arg(long, value_delimiter = ',', default_value = "64,256,1024")]
    sizes: Vec<u64>,
    /// Memory profiles (bench/memory.rs).
    #[arg(long, value_delimiter = ',', default_value = "random")]
    profiles: Vec<String>,
    /// Timed runs of each measurement (the median is reported), after one untimed warm-up.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Compressions of the archives.
    #[arg(long, value_delimiter = ',', default_value = "zstd,gzip,none")]
    compress: Vec<String>,
    /// Leave out the runtime's own restore (the floor).
    #[arg(long)]
    skip_floor: bool,
    /// The implementation compared with podman (as for `bench checkpoint`).
    #[arg(long)]
    bin: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct RestoreResults {
    pub machine: Machine,
    pub podman: String,
    pub candidate: String,
    pub candidate_version: String,
    pub runs: usize,
    pub rows: Vec<RestoreRow>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct RestoreRow {
    pub profile: String,
    pub size_mib: u64,
    pub compress: String,
    /// The archive both engines import (podman's export).
    pub archive_bytes: u64,
    pub podman: RestoreMeasure,
    pub candidate: RestoreMeasure,
    pub floor: Option<RestoreMeasure>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct RestoreMeasure {
    pub times_s: Vec<f64>,
    pub median_s: f64,
    /// Peak resident memory of each run, KiB.
    pub peak_kib: Vec<u64>,
    pub peak_median_kib: u64,
}

fn measure(samples: &[(f64, u64)]) -> RestoreMeasure {
    let times_s: Vec<f64> = samples.iter().map(|s| s.0).collect();
    let peak_kib: Vec<u64> = samples.iter().map(|s| s.1).collect();
    RestoreMeasure {
        median_s: median(&times_s),
        peak_median_kib: median(&peak_kib.iter().map(|&k| k as f64).collect::<Vec<_>>()) as u64,
        times_s,
        peak_kib,
    }
}

/// `argv` run inside the sandbox under `busybox time -v`: its wall time and peak RSS in KiB.
fn timed(t: &Target, argv: &[String]) -> Result<(f64, u64)> {
    let mut full = strings(&["busybox", "time", "-v"]);
    full.extend(argv.iter().cloned());
    let call = ok(t.run_inside(full, CALL_TIMEOUT))?;
    let peak = call
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no peak memory in `time -v`:\n{}", call.render()))?;
    Ok((call.duration.as_secs_f64(), peak))
}

/// One timed `restore --import` by an engine into a new container, removed afterwards.
fn restore(t: &Target, archive: &Path, name: &str) -> Result<(f64, u64)> {
    let mut argv = vec![t.bin.clone()];
    argv.extend(strings(&[
        "container",
        "restore",
        "--import",
        &archive.display().to_string(),
        "--name",
        name,
    ]));
    let sample = timed(t, &argv);
    t.call(
        &strings(&["rm", "-f", "-t", "0", "--ignore", name]),
        CALL_TIMEOUT,
    );
    sample
}

/// The runtime restores the dump in `dump` as container `id` from `bundle`, detached, its stdio on
/// /dev/null (the dump's stdio were conmon's pipes, which CRIU gives the new process from the
/// runtime's own descriptors); then the container is killed and deleted.
fn runtime_restore(
    t: &Target,
    runtime: &str,
    bundle: &str,
    dump: &str,
    id: &str,
) -> Result<(f64, u64)> {
    let work = format!("{dump}-work");
    let script = format!(
        "mkdir -p {work} && exec {runtime} restore --detach --image-path {dump} --work-path {work} \
         --bundle {bundle} {id} </dev/null >/dev/null 2>{work}/stderr"
    );
    let sample = timed(t, &strings(&["sh", "-c", &script]));
    // A restore that returned without a running container does not count.
    let state = t.run_inside(strings(&[runtime, "state", id]), CALL_TIMEOUT);
    let running = state.ok() && state.stdout.contains("\"running\"");
    let cleanup =
        format!("{runtime} kill {id} KILL; sleep 0.2; {runtime} delete -f {id}; rm -rf {work}");
    t.run_inside(strings(&["sh", "-c", &cleanup]), CALL_TIMEOUT);
    anyhow::ensure!(
        running,
        "{runtime} restored no running container:\n{}",
        state.render()
    );
    sample
}

/// A copy of podman's bundle of `id` under `dir` with a cgroup of its own: the floor's container
/// runs beside podman's, in its namespaces and on its mounted root file system.
fn floor_bundle(podman: &Target, id: &str, dir: &str) -> Result<()> {
    let inspect = ok(podman.call(
        &strings(&["container", "inspect", "--format", "{{.StaticDir}}", id]),
        CALL_TIMEOUT,
    ))?;
    let userdata = inspect.stdout.trim();
    // Without a cgroup path the runtime makes one named after the container.
    let script = format!(
        "rm -rf {dir} && mkdir -p {dir} && \
         jq 'del(.linux.cgroupsPath)' {userdata}/config.json > {dir}/config.json"
    );
    ok(podman.run_inside(strings(&["sh", "-c", &script]), CALL_TIMEOUT))?;
    Ok(())
}

/// Runs the benchmark; `save` takes the results so far after each row.
pub fn run(
    opts: RestoreBenchArgs,
    save_results: impl Fn(&RestoreResults) -> Result<()>,
) -> Result<ExitCode> {
    let profiles = memory::parse_list(&opts.profiles)?;
    let (sandbox, _lease) = opts.common.sandbox()?;
    let _hold = hold_as_a_case(&sandbox)?;
    let podman = target(&sandbox, "podman")?;
    let candidate_bin = candidate_bin(opts.bin.as_ref());
    let candidate = target(&sandbox, &candidate_bin)?;
    let machine = Machine::probe(&podman, &opts.common.sandbox.suite);
    let runtime = machine.environment["runtime"]
        .as_str()
        .unwrap_or("crun")
        .to_string();
    ensure_image(&podman)?;
    ensure_image(&candidate)?;
    // The archive names its image by ID: both engines must hold the test image under one.
    conformance::suite::same_test_image(&candidate, &podman)?;
    let dir: PathBuf = sandbox
        .share_dir()?
        .join(format!("bench-restore-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (podman_version, candidate_version) = (version(&podman), version(&candidate));
    let save = |rows: &[RestoreRow]| -> Result<()> {
        save_results(&RestoreResults {
            machine: machine.finished(),
            podman: podman_version.clone(),
            candidate: shown(&candidate_bin),
            candidate_version: candidate_version.clone(),
            runs: opts.runs,
            rows: rows.to_vec(),
        })
    };
    let mut rows = vec![];
    for &size in &opts.sizes {
        for &profile in &profiles {
            let tag = format!("{}-{}-{size}", std::process::id(), profile.name());
            let w = Workload::start(&podman, format!("bench-restore-{tag}"), profile, size)?;
            w.wait_ready()?;
            let id = ok(podman.call(
                &strings(&["container", "inspect", "--format", "{{.Id}}", &w.name]),
                CALL_TIMEOUT,
            ))?
            .stdout
            .trim()
            .to_string();
            // The floor's dump: the runtime's, of the running container, once per size.
            let floor_dir = dir.join("floor").display().to_string();
            let bundle = dir.join("bundle").display().to_string();
            let floor_ready = !opts.skip_floor
                && runtime_dump(&podman, &runtime, &id, &floor_dir).is_ok()
                && floor_bundle(&podman, &id, &bundle).is_ok();
            for compress in &opts.compress {
                let ext = match compress.as_str() {
                    "zstd" => "tar.zst",
                    "gzip" => "tar.gz",
                    _ => "tar",
                };
                let archive = dir.join(format!("archive.{ext}"));
                let _ = std::fs::remove_file(&archive);
                ok(podman.call(&w.checkpoint_args(&archive, compress), CALL_TIMEOUT))?;
                let archive_bytes = std::fs::metadata(&archive)?.len();
                let (mut sa, mut sb, mut sf) = (vec![], vec![], vec![]);
                for run in 0..=opts.runs {
                    let timed_run = run > 0;
                    for slot in 0..3 {
                        let n = format!("bench-restored-{tag}-{run}");
                        match (run + slot) % 3 {
                            0 => {
                                let s = restore(&podman, &archive, &format!("{n}-p"))?;
                                if timed_run {
                                    sa.push(s);
                                }
                            }
                            1 => {
                                let s = restore(&candidate, &archive, &format!("{n}-c"))?;
                                if timed_run {
                                    sb.push(s);
                                }
                            }
                            _ if floor_ready => {
                                let s = runtime_restore(
                                    &podman,
                                    &runtime,
                                    &bundle,
                                    &floor_dir,
                                    &format!("{n}-f"),
                                );
                                match s {
                                    Ok(s) if timed_run => sf.push(s),
                                    Ok(_) => {}
                                    Err(e) => eprintln!("bench: the floor failed: {e:#}"),
                                }
                            }
                            _ => {}
                        }
                    }
                }
                let _ = std::fs::remove_file(&archive);
                let row = RestoreRow {
                    profile: profile.name().into(),
                    size_mib: size,
                    compress: compress.clone(),
                    archive_bytes,
                    podman: measure(&sa),
                    candidate: measure(&sb),
                    floor: (!sf.is_empty()).then(|| measure(&sf)),
                };
                eprintln!(
                    "bench: restore {} {size} MiB {compress}: podman {} ({} MiB peak), candidate \
                     {} ({} MiB peak){}",
                    profile.name(),
                    fmt_secs(row.podman.median_s),
                    row.podman.peak_median_kib / 1024,
                    fmt_secs(row.candidate.median_s),
                    row.candidate.peak_median_kib / 1024,
                    row.floor
                        .as_ref()
                        .map(|f| format!(", floor {}", fmt_secs(f.median_s)))
                        .unwrap_or_default(),
                );
                rows.push(row);
                save(&rows)?;
            }
            podman.run_inside(strings(&["rm", "-rf", &floor_dir, &bundle]), CALL_TIMEOUT);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}

fn mib_of_kib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

pub fn markdown(r: &RestoreResults) -> String {
    let mut md = String::from("\n## Restore from an archive (`cargo xtask bench restore`)\n\n");
    md.push_str(&r.machine.markdown());
    let _ = write!(
        md,
        "\n`container restore --import F --name N` of the archive podman ({}) exported from a \
         container holding N MiB (`container checkpoint --leave-running --export F --compress \
         C`, the memory profiles of `bench checkpoint`), by podman and by the candidate `{}` \
         ({}), then the restored container removed; median of {} runs after one warm-up, \
         alternating, podman / candidate as the median of the runs' ratios (least–greatest). \
         Peak memory: the largest resident set of the engine's process and of the children it \
         waited for (`busybox time -v`; the container and the monitor it leaves running are not \
         its children), median of the runs. Floor: the runtime's own `restore --detach` of its \
         dump of the same container, from a folder, in a copy of podman's bundle.\n\n\
         | memory | dirty memory | compress | archive | podman | candidate | podman / candidate | floor | peak podman | peak candidate | peak floor |\n\
         |---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        r.podman, r.candidate, r.candidate_version, r.runs
    );
    for row in &r.rows {
        let _ = writeln!(
            md,
            "| {} | {} MiB | {} | {:.1} MiB | {} | {} | {} | {} | {} | {} | {} |",
            row.profile,
            row.size_mib,
            row.compress,
            row.archive_bytes as f64 / 1024.0 / 1024.0,
            fmt_secs(row.podman.median_s),
            fmt_secs(row.candidate.median_s),
            fmt_spread(spread(&row.podman.times_s, &row.candidate.times_s)),
            row.floor
                .as_ref()
                .map_or("–".into(), |f| fmt_secs(f.median_s)),
            mib_of_kib(row.podman.peak_median_kib),
            mib_of_kib(row.candidate.peak_median_kib),
            row.floor
                .as_ref()
                .map_or("–".into(), |f| mib_of_kib(f.peak_median_kib)),
        );
    }
    let _ = write!(
        md,
        "\nGoals: the candidate ≥ {GOAL_SPEEDUP}x faster than podman at {GOAL_AT_MIB} MiB; its \
         peak memory flat in the archive size (the largest archive's at most {GOAL_FLAT}x the \
         smallest's, same profile and compression):\n\n"
    );
    for row in r.rows.iter().filter(|x| x.size_mib == GOAL_AT_MIB) {
        let (min, med, max) = spread(&row.podman.times_s, &row.candidate.times_s);
        let _ = writeln!(
            md,
            "- {} {} MiB {}: {med:.2}x ({min:.2}–{max:.2}), {}.",
            row.profile,
            row.size_mib,
            row.compress,
            verdict(med >= GOAL_SPEEDUP)
        );
    }
    let mut keys: Vec<(&str, &str)> = vec![];
    for row in &r.rows {
        if !keys.contains(&(row.profile.as_str(), row.compress.as_str())) {
            keys.push((&row.profile, &row.compress));
        }
    }
    for (profile, compress) in keys {
        let same: Vec<&RestoreRow> = r
            .rows
            .iter()
            .filter(|x| x.profile == profile && x.compress == compress)
            .collect();
        let (Some(small), Some(large)) = (
            same.iter().min_by_key(|x| x.size_mib),
            same.iter().max_by_key(|x| x.size_mib),
        ) else {
            continue;
        };
        if small.size_mib == large.size_mib {
            continue;
        }
        let growth =
            large.candidate.peak_median_kib as f64 / small.candidate.peak_median_kib.max(1) as f64;
        let _ = writeln!(
            md,
            "- peak memory, {profile} {compress}: candidate {} at {} MiB, {} at {} MiB ({growth:.2}x), {}; podman {} and {}.",
            mib_of_kib(small.candidate.peak_median_kib),
            small.size_mib,
            mib_of_kib(large.candidate.peak_median_kib),
            large.size_mib,
            verdict(growth <= GOAL_FLAT),
            mib_of_kib(small.podman.peak_median_kib),
            mib_of_kib(large.podman.peak_median_kib),
        );
    }
    md
}
