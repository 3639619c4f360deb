//! What every benchmark shares: its options, the sandbox it holds, the machine it ran on, the
//! engines it compares and how numbers are shown.

use anyhow::Result;
use ckpt_sandbox::{Lease, Sandbox, SandboxArgs};
use conformance::probe::Capabilities;
use conformance::target::Target;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Options every benchmark takes.
#[derive(clap::Args, Clone, Debug)]
pub struct Common {
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// Folder for benchmarks.json, benchmarks.md and the plot.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs"))]
    pub out: PathBuf,
}

impl Common {
    /// The sandbox, held for the whole benchmark: stopped at the end if the benchmark started it.
    pub fn sandbox(&self) -> Result<(Sandbox, Lease)> {
        let sandbox = self.sandbox.sandbox()?;
        let lease = sandbox.lease()?;
        Ok((sandbox, lease))
    }
}

/// A benchmark's containers must not be checkpointed by a suite run's `--all` cases in the same
/// sandbox: it holds the sandbox as a case does (never the suite bench, whose child run takes its
/// own holds).
pub fn hold_as_a_case(sandbox: &Sandbox) -> Result<conformance::alone::Hold> {
    Ok(conformance::alone::shared(&sandbox.share_dir()?)?)
}

/// Where and when the numbers were taken, and how busy the machine was.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Machine {
    /// UTC, `date -u +%FT%TZ`.
    pub measured_at: String,
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    /// 1, 5 and 15 minute load averages before and after the benchmark.
    pub load_before: Vec<f64>,
    pub load_after: Vec<f64>,
    /// The suite's environment probe (podman, runtime, CRIU, kernel, ...).
    pub environment: serde_json::Value,
}

impl Machine {
    /// The host facts now; `load_after` is filled in by [`Machine::finished`].
    pub fn probe(podman: &Target, suite: &str) -> Machine {
        let caps = Capabilities::probe(podman, None, &format!("ns ({suite})"));
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
            .unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let measured_at = std::process::Command::new("date")
            .args(["-u", "+%FT%TZ"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        Machine {
            measured_at,
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: (mem_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            load_before: loadavg(),
            load_after: vec![],
            environment: serde_json::to_value(&caps.environment).unwrap_or_default(),
        }
    }

    /// A copy with the load average now as `load_after`.
    pub fn finished(&self) -> Machine {
        Machine {
            load_after: loadavg(),
            ..self.clone()
        }
    }

    pub fn markdown(&self) -> String {
        let env = |k: &str| self.environment[k].as_str().unwrap_or("?").to_string();
        format!(
            "Measured {} on {} ({} cores, {} GiB); {} {}, {}, CRIU {}, kernel {}, {}, sandbox {}. \
             Load average (1/5/15 min) before: {}, after: {}.\n",
            self.measured_at,
            self.cpu,
            self.cores,
            self.memory_gib,
            env("target"),
            env("target_version"),
            env("runtime_version").replace('\n', " "),
            env("criu_version"),
            env("kernel"),
            env("distribution"),
            env("sandbox"),
            fmt_load(&self.load_before),
            fmt_load(&self.load_after),
        )
    }
}

pub fn loadavg() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse().ok())
        .collect()
}

pub fn fmt_load(load: &[f64]) -> String {
    load.iter()
        .map(|l| format!("{l:.2}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The engine compared with podman: `--bin` when given, else the reference when it is built, else
/// podman itself (said on stderr: the ratios are then 1 by construction).
pub fn candidate_bin(bin: Option<&String>) -> String {
    if let Some(b) = bin {
        return b.clone();
    }
    match reference_build() {
        Some(r) => r.display().to_string(),
        None => {
            eprintln!("bench: the reference is not built: comparing podman with itself");
            "podman".into()
        }
    }
}

/// The reference implementation when it is built (release first).
pub fn reference_build() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    ["release", "debug"]
        .iter()
        .map(|profile| root.join("target").join(profile).join("refpod"))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

/// A path as the reports show it: relative to the workspace when inside it.
pub fn shown(bin: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match root.canonicalize() {
        Ok(root) => Path::new(bin)
            .strip_prefix(&root)
            .map_or(bin.to_string(), |p| p.display().to_string()),
        Err(_) => bin.to_string(),
    }
}

/// A target inside the sandbox: a host path is copied in, anything else is a name found there.
pub fn target(sandbox: &Sandbox, bin: &str) -> Result<Target> {
    let path = Path::new(bin);
    let inside = if bin.contains('/') && path.is_file() {
        sandbox
            .install_binary(&path.canonicalize()?)?
            .display()
            .to_string()
    } else {
        bin.to_string()
    };
    Ok(Target::new(sandbox.clone(), inside, vec![]))
}

/// What `--version` says, e.g. `podman version 5.4.2`.
pub fn version(target: &Target) -> String {
    target
        .call(&["--version".into()], Duration::from_secs(30))
        .stdout
        .trim()
        .to_string()
}

pub fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// `2m05s` from two minutes up, `12.3 s` from ten seconds, else `0.65 s`.
pub fn fmt_secs(secs: f64) -> String {
    if secs >= 120.0 {
        let whole = secs.round() as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else if secs >= 10.0 {
        format!("{secs:.1} s")
    } else {
        format!("{secs:.2} s")
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Ratios a[i] / b[i] of runs taken side by side: (min, median, max).
pub fn spread(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    let min = r.iter().copied().fold(f64::INFINITY, f64::min);
    let max = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, median(&r), max)
}

/// `2.12 (1.90–2.30)`: the median ratio and its spread over the runs.
pub fn fmt_spread((min, med, max): (f64, f64, f64)) -> String {
    format!("{med:.2} ({min:.2}–{max:.2})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_spread_pairs_the_runs() {
        let s = spread(&[2.0, 4.0, 3.0], &[1.0, 1.0, 2.0]);
        assert_eq!(s, (1.5, 2.0, 4.0));
        assert_eq!(fmt_spread(s), "2.00 (1.50–4.00)");
    }

    #[test]
    fn seconds_read_as_minutes_from_two_minutes_up() {
        assert_eq!(fmt_secs(0.654), "0.65 s");
        assert_eq!(fmt_secs(12.34), "12.3 s");
        assert_eq!(fmt_secs(125.4), "2m05s");
    }
}
