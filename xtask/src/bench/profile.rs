//! `cargo xtask bench profile`: where the CPU time of one `checkpoint --leave-running --export` goes,
//! for podman and the candidate on the same workload. The host's `perf record` samples the command
//! and every process it starts (the target, the runtime, CRIU and the tools CRIU runs); the samples
//! are put in a few buckets by process and symbol.

use super::checkpoint::{ensure_image, Workload};
use super::common::{candidate_bin, fmt_secs, hold_as_a_case, shown, target, Common, Machine};
use anyhow::{bail, Context as _, Result};
use ckpt_sandbox::Sandbox;
use conformance::target::Target;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Samples per second of CPU time.
const FREQUENCY: u32 = 999;

#[derive(clap::Args, Debug)]
pub struct ProfileArgs {
    /// Dirty memory of the workload, in MiB.
    #[arg(long, default_value_t = 1024)]
    size: u64,
    #[arg(long, default_value = "zstd")]
    compress: String,
    /// The implementation profiled beside podman (default: the reference when built).
    #[arg(long)]
    bin: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ProfileResults {
    pub machine: Machine,
    pub size_mib: u64,
    pub compress: String,
    pub profiles: Vec<Profile>,
}

/// One profiled checkpoint.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Profile {
    pub target: String,
    pub wall_s: f64,
    /// The runtime's dump as the target's `--print-stats` timed it.
    pub dump_s: Option<f64>,
    /// CPU seconds sampled in all processes.
    pub cpu_s: f64,
    /// CPU seconds per bucket, in the order of [`BUCKETS`].
    pub buckets: Vec<(String, f64)>,
}

const BUCKETS: [&str; 5] = [
    "compression (the target's compressor)",
    "copies in the kernel (read/write of image and archive files)",
    "other kernel work of the target (file system, page cache, scheduling)",
    "rest of the target (tar, libc, its own code)",
    "runtime dump (crun, CRIU and the tools they run)",
];

/// The bucket of one `perf report` line: the process's command name, its object and its symbol.
fn bucket(comm: &str, target_comm: &str, dso: &str, sym: &str) -> usize {
    const COMPRESSION: [&str; 9] = [
        "ZSTD",
        "HUF_",
        "HIST_",
        "FSE_",
        "deflate",
        "crc32",
        "longest_match",
        "compress",
        "adler",
    ];
    if comm != target_comm {
        4
    } else if COMPRESSION.iter().any(|c| sym.contains(c)) {
        0
    } else if dso == "[kernel.kallsyms]" {
        if sym.contains("copy") || sym.contains("memcpy") || sym.contains("memmove") {
            1
        } else {
            2
        }
    } else {
        3
    }
}

/// Buckets from `perf report --stdio --sort comm,dso,sym` and the total CPU time it sampled.
fn summarize(report: &str, target_comm: &str) -> (f64, Vec<f64>) {
    let mut shares = vec![0.0; BUCKETS.len()];
    let mut total_ns = 0.0;
    for line in report.lines() {
        if let Some(count) = line.strip_prefix("# Event count (approx.): ") {
            total_ns = count.trim().parse().unwrap_or(0.0);
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(percent), Some(comm), Some(dso), Some(_kind)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        let Some(Ok(percent)) = percent.strip_suffix('%').map(str::parse::<f64>) else {
            continue;
        };
        let sym: String = words.collect::<Vec<_>>().join(" ");
        shares[bucket(comm, target_comm, dso, &sym)] += percent / 100.0;
    }
    let cpu_s = total_ns / 1e9;
    (cpu_s, shares.iter().map(|s| s * cpu_s).collect())
}

/// One checkpoint of `w` under `perf record`; its wall time and `--print-stats` output.
fn profiled(
    sandbox: &Sandbox,
    target: &Target,
    w: &Workload,
    archive: &Path,
    compress: &str,
    data: &Path,
) -> Result<(f64, String)> {
    let mut argv = vec![target.bin.clone()];
    argv.extend(w.checkpoint_args(archive, compress));
    let Some(host_argv) = sandbox.command(&argv)?.host_argv() else {
        bail!("perf can only follow a command of the ns sandbox");
    };
    let mut perf = Command::new("perf");
    perf.args(["record", "-q", "-F", &FREQUENCY.to_string(), "-o"])
        .arg(data)
        .arg("--")
        .args(host_argv);
    let started = Instant::now();
    let out = perf
        .output()
        .context("running perf record (apt-get install linux-perf)")?;
    let wall_s = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(archive);
    if !out.status.success() {
        bail!(
            "the profiled checkpoint failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((wall_s, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Runs the profile; `save` takes its results.
pub fn run(
    opts: ProfileArgs,
    save_results: impl Fn(&ProfileResults) -> Result<()>,
) -> Result<ExitCode> {
    let (sandbox, _lease) = opts.common.sandbox()?;
    let _hold = hold_as_a_case(&sandbox)?;
    let podman = target(&sandbox, "podman")?;
    let candidate_bin = candidate_bin(opts.bin.as_ref());
    let candidate = target(&sandbox, &candidate_bin)?;
    let machine = Machine::probe(&podman, &opts.common.sandbox.suite);
    let dir = sandbox
        .share_dir()?
        .join(format!("profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut profiles = vec![];
    for (who, t) in [("podman", &podman), (candidate_bin.as_str(), &candidate)] {
        ensure_image(t)?;
        let name = format!("profile-{}-{}", profiles.len(), std::process::id());
        let w = Workload::start(t, name, super::memory::Profile::Random, opts.size)?;
        w.wait_ready()?;
        let archive = dir.join("archive");
        // Warm-up, as in `bench checkpoint`.
        w.checkpoint(&archive, &opts.compress)?;
        let data = dir.join("perf.data");
        let (wall_s, stats) = profiled(&sandbox, t, &w, &archive, &opts.compress, &data)?;
        let report = ok_output(
            Command::new("perf")
                .args(["report", "--stdio", "--sort", "comm,dso,sym", "-i"])
                .arg(&data),
        )?;
        let _ = std::fs::remove_file(&data);
        let comm: String = Path::new(&t.bin)
            .file_name()
            .map(|n| n.to_string_lossy().chars().take(15).collect())
            .unwrap_or_default();
        let (cpu_s, seconds) = summarize(&report, &comm);
        let stats: serde_json::Value = serde_json::from_str(stats.trim()).unwrap_or_default();
        let dump_s = stats["container_statistics"][0]["runtime_checkpoint_duration"]
            .as_f64()
            .map(|us| us / 1e6);
        eprintln!(
            "bench: {who}: {} wall, {} CPU sampled",
            fmt_secs(wall_s),
            fmt_secs(cpu_s)
        );
        profiles.push(Profile {
            target: shown(who),
            wall_s,
            dump_s,
            cpu_s,
            buckets: BUCKETS.iter().map(|b| b.to_string()).zip(seconds).collect(),
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    save_results(&ProfileResults {
        machine: machine.finished(),
        size_mib: opts.size,
        compress: opts.compress.clone(),
        profiles,
    })?;
    Ok(ExitCode::SUCCESS)
}

fn ok_output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn markdown(p: &ProfileResults) -> String {
    let mut md = format!(
        "\n## Where the CPU time of one checkpoint goes (`cargo xtask bench profile`)\n\n{}\n\
         One `checkpoint --leave-running --export --compress {}` of {} MiB of dirty memory per \
         target, after a warm-up, sampled by the host's `perf record -F {FREQUENCY}` following \
         every process the command starts; CPU seconds by bucket (on 2 cores the CPU time may \
         exceed the wall time; on a loaded machine the wall time is mostly waiting for a CPU). \
         Debian's podman is stripped: its Go compressor counts under \"rest of the target\".\n\n\
         | bucket |",
        p.machine.markdown(),
        p.compress,
        p.size_mib
    );
    for prof in &p.profiles {
        let _ = write!(md, " `{}` |", prof.target);
    }
    md.push_str("\n|---|");
    md.push_str(&"---:|".repeat(p.profiles.len()));
    md.push('\n');
    let row = |md: &mut String, label: &str, cell: &dyn Fn(&Profile) -> String| {
        let _ = write!(md, "| {label} |");
        for prof in &p.profiles {
            let _ = write!(md, " {} |", cell(prof));
        }
        md.push('\n');
    };
    row(&mut md, "wall time", &|prof| fmt_secs(prof.wall_s));
    row(&mut md, "runtime dump (its `--print-stats`)", &|prof| {
        prof.dump_s.map_or("–".into(), fmt_secs)
    });
    row(&mut md, "CPU time sampled", &|prof| fmt_secs(prof.cpu_s));
    for (i, label) in BUCKETS.iter().enumerate() {
        row(&mut md, label, &|prof| {
            let s = prof.buckets.get(i).map_or(0.0, |b| b.1);
            format!("{} ({:.0}%)", fmt_secs(s), s / prof.cpu_s * 100.0)
        });
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_lines_fall_in_their_buckets() {
        let report = "# Event count (approx.): 2000000000\n\
            #\n\
            \x20   40.00%  refpod  refpod             [.] ZSTD_compressBlock_doubleFast\n\
            \x20   10.00%  refpod  [kernel.kallsyms]  [k] _copy_to_iter\n\
            \x20   10.00%  refpod  [kernel.kallsyms]  [k] ext4_da_get_block_prep\n\
            \x20   15.00%  refpod  libc.so.6          [.] 0x000000000017bc66\n\
            \x20   25.00%  criu    [kernel.kallsyms]  [k] __pi_memcpy\n";
        let (cpu, s) = summarize(report, "refpod");
        assert_eq!(cpu, 2.0);
        let rounded: Vec<f64> = s.iter().map(|v| (v * 100.0).round() / 100.0).collect();
        assert_eq!(rounded, [0.8, 0.2, 0.2, 0.3, 0.5]);
    }
}
