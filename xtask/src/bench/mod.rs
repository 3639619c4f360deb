//! `cargo xtask bench suite|checkpoint`: performance as ratios against podman, measured on the same
//! machine in the same run, with real processes in the ns sandbox. Each command writes its section of
//! `docs/benchmarks.json` and renders the whole of `docs/benchmarks.md` from it (and, for
//! `checkpoint`, the plot `docs/benchmarks-checkpoint.svg`), so the documented numbers always come
//! from a command.

mod checkpoint;
mod common;
mod memory;
mod page;
mod plot;
mod profile;
mod restore;
mod suite;

use anyhow::Result;
use page::Results;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Bench {
    /// Wall time of the whole suite against podman and the reference, and the suite's own overhead.
    Suite(suite::SuiteBenchArgs),
    /// `checkpoint --leave-running --export` of a container holding N MiB of dirty memory: the
    /// reference against podman, and against the runtime's own dump plus `zstd -2 -T0`.
    Checkpoint(checkpoint::CheckpointBenchArgs),
    /// `container restore --import` of the same archives by podman and the reference, against the
    /// runtime's own restore from a folder; with the engines' peak memory.
    Restore(restore::RestoreBenchArgs),
    /// Where the CPU time of one checkpoint with export goes, podman and the reference (perf).
    Profile(profile::ProfileArgs),
    /// Render benchmarks.md and the plot again from benchmarks.json (after a change of layout).
    Render {
        /// Folder of benchmarks.json.
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs"))]
        out: PathBuf,
    },
}

pub fn run(bench: Bench) -> Result<ExitCode> {
    match bench {
        // Each benchmark hands its section to the page as it goes: a long run that fails late
        // keeps what it measured.
        Bench::Suite(args) => {
            let out = args.common.out.clone();
            suite::run(args, |r| page::update(&out, |p| p.suite = Some(r.clone())))
        }
        Bench::Checkpoint(args) => {
            let out = args.common.out.clone();
            checkpoint::run(args, |r| {
                page::update(&out, |p| p.checkpoint = Some(r.clone()))
            })
        }
        Bench::Profile(args) => {
            let out = args.common.out.clone();
            profile::run(args, |r| {
                page::update(&out, |p| p.profile = Some(r.clone()))
            })
        }
        Bench::Restore(args) => {
            let out = args.common.out.clone();
            restore::run(args, |r| {
                page::update(&out, |p| p.restore = Some(r.clone()))
            })
        }
        Bench::Render { out } => {
            Results::load(&out)?.save(&out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
