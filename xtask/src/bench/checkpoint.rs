//! `cargo xtask bench checkpoint`: `container checkpoint --leave-running --export F --compress C` of a
//! container whose shell holds N MiB of dirty memory, the candidate (the reference) against podman on
//! the same workload, runs alternating, median of `--runs` after one untimed warm-up each. The floor
//! is what the machine cannot beat: the OCI runtime's own dump of podman's container, then its image
//! files put in a tar (and through `zstd -2 -T0`).

use super::common::{
    candidate_bin, fmt_secs, fmt_spread, hold_as_a_case, median, shown, spread, target, verdict,
    version, Common, Machine,
};
use super::memory::{self, Profile};
use anyhow::{bail, Context as _, Result};
use ckpt_sandbox::{TEST_IMAGE, TEST_IMAGE_TARBALL};
use conformance::target::{Call, Target};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const CALL_TIMEOUT: Duration = Duration::from_secs(600);
/// The goals the numbers are reported against (zstd and gzip, from 256 MiB up, every profile).
pub(super) const GOAL_SPEEDUP: f64 = 1.5;
const GOAL_FLOOR: f64 = 1.3;
const GOAL_FROM_MIB: u64 = 256;

#[derive(clap::Args, Debug)]
pub struct CheckpointBenchArgs {
    /// Dirty memory the workload keeps, in MiB.
    #[arg(long, value_delimiter = ',', default_value = "64,256,1024")]
    sizes: Vec<u64>,
    /// What the workload's memory holds (bench/memory.rs): random, zeros, text, mixed.
    #[arg(long, value_delimiter = ',', default_value = "random,zeros,text,mixed")]
    profiles: Vec<String>,
    /// Timed runs of each measurement (the median is reported), after one untimed warm-up.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Compressions to measure.
    #[arg(long, value_delimiter = ',', default_value = "zstd,gzip,none")]
    compress: Vec<String>,
    /// Measure gzip only up to this size in MiB (a single-threaded gzip takes minutes per GiB).
    #[arg(long, default_value_t = u64::MAX)]
    gzip_up_to: u64,
    /// Leave out the archive steps timed alone on one runtime dump (quicker).
    #[arg(long)]
    skip_archivers: bool,
    /// The implementation compared with podman: a host path or a name inside the sandbox. Default:
    /// the reference when built, else podman itself (which only tries the benchmark out).
    #[arg(long)]
    bin: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct CheckpointResults {
    pub machine: Machine,
    /// The baseline's `--version`.
    pub podman: String,
    /// The candidate as given, and its `--version`.
    pub candidate: String,
    pub candidate_version: String,
    /// Timed runs per measurement.
    pub runs: usize,
    /// The container's command, `{bytes}` standing for 3/4 of N MiB (its base64 is N MiB): the
    /// `random` profile, as measured before profiles.
    pub workload: String,
    /// Each profile's command for N = 1 MiB (its numbers scale with N).
    #[serde(default)]
    pub workloads: std::collections::BTreeMap<String, String>,
    pub rows: Vec<Row>,
    /// Archive steps alone on one runtime dump per size.
    #[serde(default)]
    pub archivers: Vec<Archiver>,
}

impl CheckpointResults {
    /// The candidate's file name, for labels (`refpod`).
    pub fn candidate_name(&self) -> String {
        let name = Path::new(&self.candidate)
            .file_name()
            .map_or(self.candidate.clone(), |n| n.to_string_lossy().into_owned());
        if name == "podman" {
            "podman as candidate".into()
        } else {
            name
        }
    }
}

/// One profile, size and compression.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Row {
    /// The memory profile (bench/memory.rs); `random` in results from before profiles.
    #[serde(default = "random_profile")]
    pub profile: String,
    pub size_mib: u64,
    pub compress: String,
    pub podman: Measure,
    pub candidate: Measure,
    /// Absent for gzip (no parallel gzip to compare with).
    pub floor: Option<Floor>,
}

/// One target's checkpoints of one workload.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Measure {
    /// Anonymous resident memory of the workload's shell (`RssAnon` of its PID 1).
    pub resident_mib: f64,
    /// Wall time of each timed `container checkpoint`.
    pub times_s: Vec<f64>,
    pub median_s: f64,
    pub archive_bytes: u64,
    /// Medians of what `--print-stats` reported, when it did: the whole checkpoint as the engine
    /// timed it, and the runtime's dump within it.
    pub engine_s: Option<f64>,
    pub dump_s: Option<f64>,
    /// Pages CRIU wrote (`criu_statistics.pages_written`).
    pub pages_written: Option<u64>,
}

/// One step timed alone: the runtime's dump of `size_mib` (`runtime dump to disk|tmpfs`, no
/// archive), or that dump put in an archive by a pipeline.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Archiver {
    pub size_mib: u64,
    /// The pipeline, e.g. `tar | zstd -3 -T1 -q`.
    pub archiver: String,
    pub median_s: f64,
    pub archive_bytes: u64,
}

fn random_profile() -> String {
    Profile::Random.name().into()
}

/// The runtime's own dump plus the archive step, each timed.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Floor {
    /// The archive step: `tar | zstd -2 -T0` or `tar`.
    pub archiver: String,
    pub dump_s: Vec<f64>,
    pub archive_s: Vec<f64>,
    pub dump_median_s: f64,
    pub archive_median_s: f64,
    /// Median of dump + archive.
    pub median_s: f64,
    pub archive_bytes: u64,
}

/// A container of a target running the workload; removed on drop.
pub(super) struct Workload<'a> {
    target: &'a Target,
    pub name: String,
}

impl Drop for Workload<'_> {
    fn drop(&mut self) {
        let args = ["rm", "-f", "-t", "0", "--ignore", &self.name].map(String::from);
        self.target.call(&args, Duration::from_secs(60));
    }
}

pub(super) fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub(super) fn ok(call: Call) -> Result<Call> {
    if !call.ok() {
        bail!("a benchmark command failed:\n{}", call.render());
    }
    Ok(call)
}

pub(super) fn ensure_image(target: &Target) -> Result<()> {
    if !target
        .call(&strings(&["image", "exists", TEST_IMAGE]), CALL_TIMEOUT)
        .ok()
    {
        ok(target.call(
            &strings(&["import", TEST_IMAGE_TARBALL, TEST_IMAGE]),
            CALL_TIMEOUT,
        ))?;
    }
    Ok(())
}

impl<'a> Workload<'a> {
    pub(super) fn start(
        target: &'a Target,
        name: String,
        profile: Profile,
        size_mib: u64,
    ) -> Result<Workload<'a>> {
        let w = Workload { target, name };
        let cmd = profile.command(size_mib);
        ok(target.call(
            &strings(&["run", "-d", "--name", &w.name, TEST_IMAGE, "sh", "-c", &cmd]),
            CALL_TIMEOUT,
        ))?;
        Ok(w)
    }

    /// Waits for the workload's memory to be filled (text at 1 GiB: about a minute of awk).
    pub(super) fn wait_ready(&self) -> Result<()> {
        let until = Instant::now() + CALL_TIMEOUT;
        while !self
            .target
            .call(
                &strings(&["exec", &self.name, "cat", "/ready"]),
                CALL_TIMEOUT,
            )
            .ok()
        {
            if Instant::now() > until {
                bail!("{} did not fill its memory in time", self.name);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(())
    }

    fn resident_mib(&self) -> f64 {
        let call = self.target.call(
            &strings(&["exec", &self.name, "cat", "/proc/1/status"]),
            CALL_TIMEOUT,
        );
        call.stdout
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    }

    /// The arguments of `checkpoint --leave-running --print-stats --export ARCHIVE` of it.
    pub(super) fn checkpoint_args(&self, archive: &Path, compress: &str) -> Vec<String> {
        strings(&[
            "container",
            "checkpoint",
            "--leave-running",
            "--print-stats",
            "--export",
            &archive.display().to_string(),
            "--compress",
            compress,
            &self.name,
        ])
    }

    /// One timed `checkpoint --leave-running --export`: wall time, archive size, stats.
    pub(super) fn checkpoint(&self, archive: &Path, compress: &str) -> Result<Sample> {
        let _ = std::fs::remove_file(archive);
        let call = ok(self
            .target
            .call(&self.checkpoint_args(archive, compress), CALL_TIMEOUT))?;
        let bytes = std::fs::metadata(archive)
            .with_context(|| format!("{} wrote no {}", self.target.bin, archive.display()))?
            .len();
        let _ = std::fs::remove_file(archive);
        let stats: serde_json::Value = serde_json::from_str(call.stdout.trim()).unwrap_or_default();
        let container = &stats["container_statistics"][0];
        let micros = |v: &serde_json::Value| v.as_f64().map(|us| us / 1e6);
        Ok(Sample {
            wall_s: call.duration.as_secs_f64(),
            bytes,
            engine_s: micros(&stats["podman_checkpoint_duration"]),
            dump_s: micros(&container["runtime_checkpoint_duration"]),
            pages: container["criu_statistics"]["pages_written"].as_u64(),
        })
    }
}

pub(super) struct Sample {
    wall_s: f64,
    bytes: u64,
    engine_s: Option<f64>,
    dump_s: Option<f64>,
    pages: Option<u64>,
}

fn measure(resident_mib: f64, samples: &[Sample]) -> Measure {
    let opt_median = |f: &dyn Fn(&Sample) -> Option<f64>| {
        let v: Vec<f64> = samples.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| median(&v))
    };
    let times_s: Vec<f64> = samples.iter().map(|s| s.wall_s).collect();
    Measure {
        resident_mib,
        median_s: median(&times_s),
        times_s,
        archive_bytes: median(&samples.iter().map(|s| s.bytes as f64).collect::<Vec<_>>()) as u64,
        engine_s: opt_median(&|s| s.engine_s),
        dump_s: opt_median(&|s| s.dump_s),
        pages_written: samples.iter().find_map(|s| s.pages),
    }
}

/// The runtime's own dump of podman's container into `dir` (a path inside the sandbox, emptied
/// first); its wall time.
pub(super) fn runtime_dump(podman: &Target, runtime: &str, id: &str, dir: &str) -> Result<f64> {
    let fresh = format!("rm -rf {dir} && mkdir -p {dir}");
    ok(podman.run_inside(strings(&["sh", "-c", &fresh]), CALL_TIMEOUT))?;
    let dump = ok(podman.run_inside(
        strings(&[
            runtime,
            "checkpoint",
            "--leave-running",
            "--image-path",
            dir,
            "--work-path",
            dir,
            id,
        ]),
        CALL_TIMEOUT,
    ))?;
    Ok(dump.duration.as_secs_f64())
}

fn remove_inside(podman: &Target, dir: &str) {
    podman.run_inside(strings(&["rm", "-rf", dir]), CALL_TIMEOUT);
}

/// `dir` archived into `archive` by `archiver` (a pipeline from [`ARCHIVERS`]): wall time and size.
fn pack(podman: &Target, dir: &Path, archive: &Path, archiver: &str) -> Result<(f64, u64)> {
    // `ARCHIVER; sync`: then the archive is flushed to disk (fsync) before the step ends.
    let (archiver, fsync) = match archiver.strip_suffix("; sync") {
        Some(a) => (a, format!(" && sync {}", archive.display())),
        None => (archiver, String::new()),
    };
    let script = match archiver.strip_prefix("tar | ") {
        Some(compressor) => format!(
            "tar -C {} -cf - . | {compressor} > {}",
            dir.display(),
            archive.display()
        ),
        None => format!("tar -C {} -cf {} .", dir.display(), archive.display()),
    };
    let script = script + &fsync;
    let call = ok(podman.run_inside(strings(&["sh", "-c", &script]), CALL_TIMEOUT))?;
    let bytes = std::fs::metadata(archive)?.len();
    let _ = std::fs::remove_file(archive);
    Ok((call.duration.as_secs_f64(), bytes))
}

/// The floor's archiver for a compression; none for gzip (no parallel gzip to compare with).
fn floor_archiver(compress: &str) -> Option<&'static str> {
    match compress {
        // The level the reference uses (archive.rs).
        "zstd" => Some("tar | zstd -2 -T0 -q"),
        "none" => Some("tar"),
        _ => None,
    }
}

/// Archive steps timed alone on one runtime dump, to show what each choice costs: zstd's level 3
/// on one thread is the zstd crate's default; `; sync` adds an fsync of the archive.
const ARCHIVERS: &[&str] = &[
    "tar",
    "tar | zstd -3 -T1 -q",
    "tar | zstd -3 -T1 -q; sync",
    "tar | zstd -3 -T0 -q",
    "tar | zstd -2 -T0 -q",
    "tar | zstd -1 -T0 -q",
    "tar | zstd --fast=1 -T0 -q",
];
/// Runs of each archiver (the median is reported).
const ARCHIVER_RUNS: usize = 3;

/// Where the runtime's dump may go: the disk (as podman's and the reference's images do) or tmpfs.
const DUMP_TO_DISK: &str = "runtime dump to disk";
const DUMP_TO_TMPFS: &str = "runtime dump to tmpfs";

/// The runtime's dump timed on disk and on tmpfs, then each of [`ARCHIVERS`] on one dump.
fn archivers(
    podman: &Target,
    runtime: &str,
    id: &str,
    dir: &Path,
    size: u64,
) -> Result<Vec<Archiver>> {
    let images = dir.join("images").display().to_string();
    let tmpfs = format!("/tmp/bench-dump-{}", std::process::id());
    let mut dumps: [Vec<f64>; 2] = [vec![], vec![]];
    for run in 0..ARCHIVER_RUNS {
        for slot in 0..2 {
            let i = (run + slot) % 2;
            let place = if i == 0 { &images } else { &tmpfs };
            dumps[i].push(runtime_dump(podman, runtime, id, place)?);
            remove_inside(podman, place);
        }
    }
    let mut steps: Vec<Archiver> = [DUMP_TO_DISK, DUMP_TO_TMPFS]
        .iter()
        .zip(&dumps)
        .map(|(step, times)| Archiver {
            size_mib: size,
            archiver: step.to_string(),
            median_s: median(times),
            archive_bytes: 0,
        })
        .collect();

    runtime_dump(podman, runtime, id, &images)?;
    let mut samples: Vec<Vec<(f64, u64)>> = vec![vec![]; ARCHIVERS.len()];
    for run in 0..ARCHIVER_RUNS {
        for slot in 0..ARCHIVERS.len() {
            let i = (run + slot) % ARCHIVERS.len();
            samples[i].push(pack(
                podman,
                Path::new(&images),
                &dir.join("archive"),
                ARCHIVERS[i],
            )?);
        }
    }
    remove_inside(podman, &images);
    steps.extend(ARCHIVERS.iter().zip(samples).map(|(archiver, s)| Archiver {
        size_mib: size,
        archiver: archiver.to_string(),
        median_s: median(&s.iter().map(|x| x.0).collect::<Vec<_>>()),
        archive_bytes: s.last().map_or(0, |x| x.1),
    }));
    Ok(steps)
}

/// Runs the benchmark; `save` takes the results so far after each size and profile.
pub fn run(
    opts: CheckpointBenchArgs,
    save_results: impl Fn(&CheckpointResults) -> Result<()>,
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
    let dir: PathBuf = sandbox
        .share_dir()?
        .join(format!("bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let (podman_version, candidate_version) = (version(&podman), version(&candidate));
    // Saved after each size: a long run that fails late keeps what it measured.
    let save = |rows: &[Row], archivers: &[Archiver]| -> Result<()> {
        save_results(&CheckpointResults {
            machine: machine.finished(),
            podman: podman_version.clone(),
            candidate: shown(&candidate_bin),
            candidate_version: candidate_version.clone(),
            runs: opts.runs,
            workload: Profile::Random.command(1).replace("786432", "{bytes}"),
            workloads: profiles
                .iter()
                .map(|p| (p.name().to_string(), p.command(1)))
                .collect(),
            rows: rows.to_vec(),
            archivers: archivers.to_vec(),
        })
    };
    let (mut rows, mut archiver_rows) = (vec![], vec![]);
    for &size in &opts.sizes {
        for (p, &profile) in profiles.iter().enumerate() {
            let name = profile.name();
            let tag = format!("{}-{name}-{size}", std::process::id());
            let a = Workload::start(&podman, format!("bench-podman-{tag}"), profile, size)?;
            let b = Workload::start(&candidate, format!("bench-candidate-{tag}"), profile, size)?;
            a.wait_ready()?;
            b.wait_ready()?;
            let resident = [a.resident_mib(), b.resident_mib()];
            eprintln!(
                "bench: {name} {size} MiB: resident {:.0} MiB (podman) and {:.0} MiB (candidate)",
                resident[0], resident[1]
            );
            let id = ok(podman.call(
                &strings(&["container", "inspect", "--format", "{{.Id}}", &a.name]),
                CALL_TIMEOUT,
            ))?
            .stdout
            .trim()
            .to_string();
            for compress in &opts.compress {
                if compress == "gzip" && size > opts.gzip_up_to {
                    continue;
                }
                let ext = match compress.as_str() {
                    "zstd" => "tar.zst",
                    "gzip" => "tar.gz",
                    _ => "tar",
                };
                let (mut sa, mut sb, mut floor) = (vec![], vec![], vec![]);
                // Run 0 is the warm-up; the order of the three rotates from run to run.
                for run in 0..=opts.runs {
                    let timed = run > 0;
                    for slot in 0..3 {
                        match (run + slot) % 3 {
                            0 => {
                                let s =
                                    a.checkpoint(&dir.join(format!("podman.{ext}")), compress)?;
                                if timed {
                                    sa.push(s);
                                }
                            }
                            1 => {
                                let s =
                                    b.checkpoint(&dir.join(format!("candidate.{ext}")), compress)?;
                                if timed {
                                    sb.push(s);
                                }
                            }
                            _ => {
                                if let Some(archiver) = floor_archiver(compress) {
                                    let images = dir.join("floor");
                                    let d = images.display().to_string();
                                    let dump = runtime_dump(&podman, &runtime, &id, &d)?;
                                    let archive = dir.join(format!("floor.{ext}"));
                                    let (pack_s, bytes) =
                                        pack(&podman, &images, &archive, archiver)?;
                                    remove_inside(&podman, &d);
                                    if timed {
                                        floor.push((dump, pack_s, bytes));
                                    }
                                }
                            }
                        }
                    }
                }
                let row = Row {
                    profile: name.into(),
                    size_mib: size,
                    compress: compress.clone(),
                    podman: measure(resident[0], &sa),
                    candidate: measure(resident[1], &sb),
                    floor: floor_archiver(compress).map(|a| floor_of(a, &floor)),
                };
                eprintln!(
                    "bench: {name} {size} MiB {compress}: podman {}, candidate {} (x{:.2}){}",
                    fmt_secs(row.podman.median_s),
                    fmt_secs(row.candidate.median_s),
                    row.podman.median_s / row.candidate.median_s,
                    row.floor
                        .as_ref()
                        .map(|f| format!(", floor {}", fmt_secs(f.median_s)))
                        .unwrap_or_default()
                );
                rows.push(row);
            }
            // The archivers alone once per size, on the first profile's dump.
            if !opts.skip_archivers && p == 0 {
                for a in archivers(&podman, &runtime, &id, &dir, size)? {
                    eprintln!(
                        "bench: {size} MiB, {}: {}, {} MiB",
                        a.archiver,
                        fmt_secs(a.median_s),
                        mib(a.archive_bytes)
                    );
                    archiver_rows.push(a);
                }
            }
            save(&rows, &archiver_rows)?;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    Ok(ExitCode::SUCCESS)
}

fn floor_of(archiver: &str, samples: &[(f64, f64, u64)]) -> Floor {
    let dump_s: Vec<f64> = samples.iter().map(|f| f.0).collect();
    let archive_s: Vec<f64> = samples.iter().map(|f| f.1).collect();
    let sums: Vec<f64> = samples.iter().map(|f| f.0 + f.1).collect();
    Floor {
        archiver: archiver.into(),
        dump_median_s: median(&dump_s),
        archive_median_s: median(&archive_s),
        median_s: median(&sums),
        archive_bytes: median(&samples.iter().map(|f| f.2 as f64).collect::<Vec<_>>()) as u64,
        dump_s,
        archive_s,
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1024.0 / 1024.0)
}

fn opt_secs(v: Option<f64>) -> String {
    v.map_or("–".into(), fmt_secs)
}

pub fn markdown(c: &CheckpointResults) -> String {
    let mut md = String::from("\n## Checkpoint with export (`cargo xtask bench checkpoint`)\n\n");
    md.push_str(&c.machine.markdown());
    let _ = write!(
        md,
        "\n`container checkpoint --leave-running --print-stats --export F --compress C` of a \
         container whose shell holds N MiB of one memory profile (below), with podman ({}) and \
         the candidate `{}` ({}); median of {} runs after one warm-up, the three measurements \
         alternating; podman / candidate as the median of the runs' ratios, with their least and \
         greatest in brackets. Floor: `{} checkpoint --leave-running --image-path D` of podman's \
         container, then D archived (`tar | zstd -2 -T0` or `tar`), both timed.\n\n",
        c.podman,
        c.candidate,
        c.candidate_version,
        c.runs,
        c.machine.environment["runtime"].as_str().unwrap_or("crun"),
    );
    if c.workloads.is_empty() {
        let _ = writeln!(
            md,
            "- `random`: `{}` (`{{bytes}}` = 3/4 of N MiB)",
            c.workload
        );
    }
    for (profile, command) in &c.workloads {
        let _ = writeln!(md, "- `{profile}`: `{command}`");
    }
    md.push_str(
        "\nEach is the container's `sh -c` command for N = 1 MiB (its numbers scale with N). \
         zeros: a shell variable cannot hold NUL bytes, so its pages hold `0` (0x30) repeated, \
         which compressors treat as zeros. CRIU dumps every page written, whatever it holds.\n\n\
         ![time against dirty memory](benchmarks-checkpoint.svg)\n\n\
         | memory | dirty memory | compress | resident (podman / candidate) | dumped by CRIU | podman | candidate | podman / candidate | floor (dump + archive) | candidate / floor | archive podman | archive candidate | archive floor |\n\
         |---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &c.rows {
        let (floor, over_floor, floor_bytes) = match &r.floor {
            Some(f) => (
                format!(
                    "{} ({} + {})",
                    fmt_secs(f.median_s),
                    fmt_secs(f.dump_median_s),
                    fmt_secs(f.archive_median_s)
                ),
                format!("{:.2}", r.candidate.median_s / f.median_s),
                format!("{} MiB", mib(f.archive_bytes)),
            ),
            None => ("–".into(), "–".into(), "–".into()),
        };
        let _ = writeln!(
            md,
            "| {} | {} MiB | {} | {:.0} / {:.0} MiB | {} | {} | {} | {} | {} | {} | {} MiB | {} MiB | {} |",
            r.profile,
            r.size_mib,
            r.compress,
            r.podman.resident_mib,
            r.candidate.resident_mib,
            r.podman
                .pages_written
                .map_or("–".into(), |p| format!("{} MiB", mib(p * 4096))),
            fmt_secs(r.podman.median_s),
            fmt_secs(r.candidate.median_s),
            fmt_spread(spread(&r.podman.times_s, &r.candidate.times_s)),
            floor,
            over_floor,
            mib(r.podman.archive_bytes),
            mib(r.candidate.archive_bytes),
            floor_bytes,
        );
    }

    let largest_gzip = c
        .rows
        .iter()
        .filter(|r| r.compress == "gzip")
        .map(|r| r.size_mib)
        .max();
    let largest = c.rows.iter().map(|r| r.size_mib).max();
    if let (Some(g), Some(l)) = (largest_gzip, largest) {
        if g < l {
            let _ = writeln!(
                md,
                "\ngzip was measured up to {g} MiB only (`--gzip-up-to`)."
            );
        }
    }
    md.push_str(
        "\nWhere the time goes (medians; `dump` and `engine` as each target's `--print-stats` \
         reported them, `–` where it did not; archive step = the target's wall time without \
         compression − its dump; compression = wall time with it − without; outside the engine = \
         wall − engine):\n\n\
         | memory | dirty memory | compress | target | wall | dump | archive step (none − dump) | compression (C − none) | outside the engine |\n\
         |---|---:|---|---|---:|---:|---:|---:|---:|\n",
    );
    for r in c.rows.iter().filter(|r| r.compress != "none") {
        let none = c
            .rows
            .iter()
            .find(|n| n.profile == r.profile && n.size_mib == r.size_mib && n.compress == "none");
        for (who, m, m_none) in [
            ("podman", &r.podman, none.map(|n| &n.podman)),
            ("candidate", &r.candidate, none.map(|n| &n.candidate)),
        ] {
            let archive_step = m_none.and_then(|n| Some(n.median_s - n.dump_s?));
            let compression = m_none.map(|n| m.median_s - n.median_s);
            let _ = writeln!(
                md,
                "| {} | {} MiB | {} | {who} | {} | {} | {} | {} | {} |",
                r.profile,
                r.size_mib,
                r.compress,
                fmt_secs(m.median_s),
                opt_secs(m.dump_s),
                opt_secs(archive_step),
                opt_secs(compression),
                opt_secs(m.engine_s.map(|e| m.median_s - e)),
            );
        }
    }

    if !c.archivers.is_empty() {
        let _ = write!(
            md,
            "\nSteps timed alone (median of {ARCHIVER_RUNS}), on the first profile measured \
             (`{}`): the runtime's dump of the same container on disk (where podman and the reference put it) and on tmpfs, then the \
             archive step on one dump by each archiver (the reference compresses as `-2 -T0` does: \
             zstd's level 2 on the library's worker threads, one per core; `--fast=1` leaves \
             literals uncompressed; `; sync` adds an fsync of the archive, which the reference \
             makes only when the container stops after its export):\n\n\
             | dirty memory | step | time | archive | input rate |\n\
             |---:|---|---:|---:|---:|\n",
            c.rows.first().map_or("random", |r| r.profile.as_str()),
        );
        for a in &c.archivers {
            let dump = a.archive_bytes == 0;
            let input = c
                .archivers
                .iter()
                .find(|t| t.size_mib == a.size_mib && t.archiver == "tar")
                .map(|t| t.archive_bytes as f64);
            let step = if dump {
                a.archiver.clone()
            } else {
                // A pipe inside a table cell must be escaped, even in code.
                format!("`{}`", a.archiver.replace('|', "\\|"))
            };
            let _ = writeln!(
                md,
                "| {} MiB | {step} | {} | {} | {} |",
                a.size_mib,
                fmt_secs(a.median_s),
                if dump {
                    "–".into()
                } else {
                    format!("{} MiB", mib(a.archive_bytes))
                },
                input.map_or("–".into(), |b| format!(
                    "{:.0} MiB/s",
                    b / 1024.0 / 1024.0 / a.median_s
                )),
            );
        }
    }

    md.push_str(&goals(c));
    md.push_str(
        "\nCompression levels: podman 5.4.2 writes gzip with klauspost/pgzip at its default level \
         (parallel blocks; containers/storage `pkg/archive`) and zstd with klauspost/compress at \
         its default; the reference deflates 1 MiB blocks at zlib level 1 on every core and \
         stores a block whose trial on its first 64 KiB saves under 10% (`archive/gzip.rs`), and \
         compresses zstd at level 2 on every core. Hence its gzip archives of random pages are \
         stored as podman's are, and those of text are larger than podman's (the archive columns \
         above).\n",
    );
    md
}

/// The goals, each met or not: zstd and gzip from 256 MiB up on every profile.
fn goals(c: &CheckpointResults) -> String {
    let mut md = format!(
        "\nGoals (zstd and gzip, from {GOAL_FROM_MIB} MiB up, every profile: the candidate ≥ \
         {GOAL_SPEEDUP}x faster than podman by the median ratio; zstd archives no larger than \
         podman's):\n\n"
    );
    for r in c
        .rows
        .iter()
        .filter(|r| r.compress != "none" && r.size_mib >= GOAL_FROM_MIB)
    {
        let (min, speedup, max) = spread(&r.podman.times_s, &r.candidate.times_s);
        let size = if r.compress == "zstd" {
            format!(
                "; archive no larger: {} vs {} MiB, {}",
                mib(r.candidate.archive_bytes),
                mib(r.podman.archive_bytes),
                verdict(r.candidate.archive_bytes <= r.podman.archive_bytes),
            )
        } else {
            // gzip's goal is speed only; its size is reported, not judged.
            format!(
                "; archive {} MiB where podman's is {} MiB",
                mib(r.candidate.archive_bytes),
                mib(r.podman.archive_bytes),
            )
        };
        let floor = match &r.floor {
            Some(f) => {
                let over = r.candidate.median_s / f.median_s;
                format!(
                    "; within {GOAL_FLOOR}x of the floor: {over:.2}x, {}; podman / floor {:.2} \
                     (the speedup of a candidate as fast as the floor)",
                    verdict(over <= GOAL_FLOOR),
                    r.podman.median_s / f.median_s,
                )
            }
            None => String::new(),
        };
        let _ = writeln!(
            md,
            "- {} {} MiB {}: {speedup:.2}x ({min:.2}–{max:.2}), {}{size}{floor}.",
            r.profile,
            r.size_mib,
            r.compress,
            verdict(speedup >= GOAL_SPEEDUP),
        );
    }
    md
}
