//! The command line: the subset of podman's CLI in conformance/TARGET.md, with podman's flag names.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "refpod",
    disable_version_flag = true,
    about = "A small podman-compatible engine"
)]
pub struct Cli {
    /// Where images, containers and volumes are kept.
    #[arg(long, global = true, default_value = "/var/lib/refpod")]
    pub root: PathBuf,
    /// The OCI runtime for containers created by this command (crun, runc).
    #[arg(long, global = true)]
    pub runtime: Option<String>,
    /// Print the version.
    #[arg(long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Facts about the host and the engine.
    Info(InfoArgs),
    /// Image commands.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Make an image of one layer from a rootfs tarball.
    Import { tarball: PathBuf, image: String },
    /// Remove images.
    Rmi(RmiArgs),
    /// Create and start a container.
    Run(RunArgs),
    /// Create a container without starting it.
    Create(RunArgs),
    /// Start created containers.
    Start { containers: Vec<String> },
    /// Stop containers.
    Stop(StopArgs),
    /// Pause containers.
    Pause { containers: Vec<String> },
    /// Unpause containers.
    Unpause { containers: Vec<String> },
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Inspect containers.
    Inspect { containers: Vec<String> },
    /// Remove containers.
    Rm(RmArgs),
    /// List containers.
    Ps(PsArgs),
    /// Container commands.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Volume commands.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Internal: the per-container monitor (holds stdio, reaps the container, records its exit).
    #[command(hide = true)]
    Monitor(MonitorArgs),
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    #[arg(long, short)]
    pub format: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Exit 0 if the image exists, 1 if not.
    Exists { image: String },
    /// JSON array describing images.
    Inspect { images: Vec<String> },
    /// Remove images.
    Rm(RmiArgs),
    /// List images.
    Ls,
    /// Write an image to a file: `--format oci-archive` (an OCI layout in a tar) only.
    Save {
        #[arg(long, short)]
        output: PathBuf,
        #[arg(long, default_value = "oci-archive")]
        format: String,
        image: String,
    },
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    #[arg(long, short)]
    pub force: bool,
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[arg(long, short)]
    pub detach: bool,
    #[arg(long)]
    pub name: Option<String>,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// NAME:/path (a named volume) or /host:/path (a bind mount).
    #[arg(long, short)]
    pub volume: Vec<String>,
    pub image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    #[arg(long, short, default_value_t = 10)]
    pub time: u64,
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    pub container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(long, short)]
    pub force: bool,
    #[arg(long, short)]
    pub time: Option<u64>,
    /// Ignore containers that do not exist.
    #[arg(long, short)]
    pub ignore: bool,
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    #[arg(long, short)]
    pub all: bool,
}

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    Checkpoint(CheckpointArgs),
    Restore(RestoreArgs),
    Inspect { containers: Vec<String> },
    Rm(RmArgs),
    Exists { container: String },
}

#[derive(Args, Debug, Clone, Default)]
pub struct CheckpointArgs {
    #[arg(long, short)]
    pub keep: bool,
    #[arg(long = "leave-running", short = 'R')]
    pub leave_running: bool,
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    #[arg(long, short)]
    pub all: bool,
    #[arg(long, short)]
    pub latest: bool,
    #[arg(long, short)]
    pub export: Option<PathBuf>,
    #[arg(long = "ignore-rootfs")]
    pub ignore_rootfs: bool,
    #[arg(long = "ignore-volumes")]
    pub ignore_volumes: bool,
    #[arg(long = "pre-checkpoint", short = 'P')]
    pub pre_checkpoint: bool,
    #[arg(long = "with-previous")]
    pub with_previous: bool,
    #[arg(long = "create-image")]
    pub create_image: Option<String>,
    /// None when not given: podman tells "not given" from "given as zstd".
    #[arg(long, short)]
    pub compress: Option<String>,
    #[arg(long = "print-stats")]
    pub print_stats: bool,
    pub containers: Vec<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct RestoreArgs {
    #[arg(long, short)]
    pub keep: bool,
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    #[arg(long, short)]
    pub all: bool,
    #[arg(long, short)]
    pub latest: bool,
    #[arg(long, short)]
    pub import: Option<PathBuf>,
    #[arg(long, short)]
    pub name: Option<String>,
    #[arg(long = "import-previous")]
    pub import_previous: Option<PathBuf>,
    #[arg(long = "ignore-rootfs")]
    pub ignore_rootfs: bool,
    #[arg(long = "ignore-volumes")]
    pub ignore_volumes: bool,
    #[arg(long = "ignore-static-ip")]
    pub ignore_static_ip: bool,
    /// refpod only: grant what an imported spec.dump asks beyond a default container (host bind
    /// mounts, capabilities, the host's namespaces, devices); without it such an import is refused.
    #[arg(long = "import-privileged")]
    pub import_privileged: bool,
    #[arg(long = "ignore-static-mac")]
    pub ignore_static_mac: bool,
    #[arg(long = "print-stats")]
    pub print_stats: bool,
    pub containers: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    Create {
        name: String,
    },
    Rm {
        #[arg(long, short)]
        force: bool,
        volumes: Vec<String>,
    },
    Ls,
    Exists {
        name: String,
    },
}

#[derive(Args, Debug)]
pub struct MonitorArgs {
    pub id: String,
    #[arg(long)]
    pub generation: u64,
    /// The write end of the pipe on which the monitor reports that the container started.
    #[arg(long = "sync-fd")]
    pub sync_fd: i32,
    /// Restore from <userdata>/checkpoint instead of running the command.
    #[arg(long)]
    pub restore: bool,
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    #[arg(long = "file-locks")]
    pub file_locks: bool,
}
