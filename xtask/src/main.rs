//! `cargo xtask`: the project's front door (sandbox management, the conformance run).

use anyhow::Result;
use ckpt_sandbox::SandboxArgs;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

mod bench;
mod deps;
mod matrix;
mod report;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "checkpoint-conformance tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the conformance suite against a podman-compatible binary in a sandbox.
    Conformance(Box<conformance::suite::SuiteArgs>),
    /// Run the suite over a declared matrix (engines x suites x runtimes x sandboxes,
    /// fixtures/matrix.toml) and write one HTML scoreboard of all the cells.
    Matrix(Box<matrix::MatrixArgs>),
    /// Merge the JSON reports of several machines or shards; render reports as a scoreboard.
    #[command(subcommand)]
    Report(report::ReportTask),
    /// Measure performance against podman: the whole suite, or checkpoint with export.
    #[command(subcommand)]
    Bench(bench::Bench),
    /// Run the suite against mutants of a target (the target deviating in one way each).
    Mutants(Box<mutants::harness::MutantsArgs>),
    /// Print the module import cycles of every workspace crate (exit 1 if any).
    Deps(deps::DepsArgs),
    /// Build, start, enter, stop or destroy the sandbox where real containers run.
    Sandbox {
        #[command(flatten)]
        opts: SandboxArgs,
        #[command(subcommand)]
        action: SandboxAction,
    },
}

#[derive(Subcommand)]
enum SandboxAction {
    /// Build the sandbox (cached: a second build is a no-op).
    Build,
    /// Build if needed and start it.
    Start,
    /// Run a command inside (starting the sandbox if needed); exits with the command's status.
    Exec {
        #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Stop every process in it; the build is kept.
    Stop,
    /// Print whether it is built and running, as JSON.
    Status,
    /// Stop it and delete the build, with every container, image and volume in it.
    Destroy,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.task) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(task: Task) -> Result<ExitCode> {
    match task {
        Task::Conformance(mut args) => {
            if args.bin.is_none() {
                args.bin = Some(build_reference()?.display().to_string());
            }
            if args.peer.is_none() {
                args.peer = Some(default_peer(args.target())?);
            }
            return conformance::suite::run(*args);
        }
        Task::Mutants(mut args) => {
            if args.peer.is_none() {
                args.peer = Some(default_peer(&args.bin)?);
            }
            return mutants::harness::run(*args);
        }
        Task::Bench(b) => return bench::run(b),
        Task::Deps(args) => return deps::run(&args),
        Task::Matrix(args) => return matrix::run(*args),
        Task::Report(task) => return report::run(task),
        Task::Sandbox { opts, action } => {
            let sandbox = opts.sandbox()?;
            match action {
                SandboxAction::Build => sandbox.build()?,
                SandboxAction::Start => sandbox.start()?,
                SandboxAction::Exec { command } => {
                    sandbox.start()?;
                    let status = sandbox.command(&command)?.status()?;
                    return Ok(ExitCode::from(
                        status.code().unwrap_or(1).clamp(0, 255) as u8
                    ));
                }
                SandboxAction::Stop => sandbox.stop()?,
                SandboxAction::Status => {
                    println!("{}", serde_json::to_string_pretty(&sandbox.status())?)
                }
                SandboxAction::Destroy => sandbox.destroy()?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The interop cases exchange archives between the reference and podman, both ways: against
/// podman the peer is the reference, against anything else podman, unless it shares the
/// target's store (a wrapper of podman, podman-remote): then the reference (the suite takes the
/// first candidate with a store of its own).
fn default_peer(target: &str) -> Result<String> {
    let reference = build_reference()?.display().to_string();
    Ok(
        if std::path::Path::new(target).file_name() == Some("podman".as_ref()) {
            reference
        } else {
            format!("podman,{reference}")
        },
    )
}

/// Builds the reference implementation (the suite's default target) and returns its binary.
fn build_reference() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--release", "--package", "refpod"])
        .status()?;
    anyhow::ensure!(status.success(), "building the reference (refpod) failed");
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    Ok(target.join("release/refpod"))
}
