//! refpod: a small podman-compatible engine, the reference implementation of the contract in
//! conformance/TARGET.md. Containers run on a real OCI runtime (crun or runc); checkpoints are real
//! CRIU dumps made through the runtime's own `checkpoint` and `restore` commands.

mod archive;
mod beneath;
mod checkpoint;
mod checkpoint_archive;
mod cli;
mod container;
mod criu_stats;
mod errors;
mod hostinfo;
mod ids;
mod images;
mod import_config;
mod import_spec;
mod inspect;
mod lifecycle;
mod lock;
mod monitor;
mod netns;
mod restore;
mod rootfs;
mod runtime;
mod spec;
mod store;
mod volumes;

use clap::Parser;
use cli::{Cli, Command, ContainerCommand, ImageCommand, VolumeCommand};
use errors::Exit;
use store::Store;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn main() {
    // Die quietly on a closed stdout (`refpod inspect | head`), like other CLIs.
    // SAFETY: setting a signal disposition at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                std::process::exit(0);
            }
            // podman exits 125 on bad flags too.
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            eprintln!("Error: {first}");
            std::process::exit(125);
        }
    };
    let code = match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<Exit>() {
            Some(Exit::Silent(code)) => *code,
            Some(Exit::Message(code, msg)) => {
                eprintln!("Error: {msg}");
                *code
            }
            None => {
                eprintln!("Error: {e:#}");
                125
            }
        },
    };
    std::process::exit(code);
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    if cli.version {
        println!("refpod version {VERSION}");
        return Ok(());
    }
    let Some(command) = cli.command else {
        anyhow::bail!("missing command 'refpod COMMAND'");
    };
    let store = Store::open(&cli.root, cli.runtime.clone())?;
    match command {
        Command::Info(a) => hostinfo::info(&store, a.format.as_deref()),
        Command::Image(c) => match c {
            ImageCommand::Exists { image } => images::exists_cmd(&store, &image),
            ImageCommand::Inspect { images: names } => images::inspect_cmd(&store, &names),
            ImageCommand::Save {
                output,
                format,
                image,
            } => images::save_cmd(&store, &image, &output, &format),
            ImageCommand::Rm(a) => images::rmi_cmd(&store, &a.images, a.force),
            ImageCommand::Ls => images::ls_cmd(&store),
        },
        Command::Import { tarball, image } => images::import_cmd(&store, &tarball, &image),
        Command::Rmi(a) => images::rmi_cmd(&store, &a.images, a.force),
        Command::Run(a) => lifecycle::run_cmd(&store, &a, true),
        Command::Create(a) => lifecycle::run_cmd(&store, &a, false),
        Command::Start { containers } => lifecycle::start_cmd(&store, &containers),
        Command::Stop(a) => lifecycle::stop_cmd(&store, &a.containers, a.time),
        Command::Pause { containers } => lifecycle::pause_cmd(&store, &containers, true),
        Command::Unpause { containers } => lifecycle::pause_cmd(&store, &containers, false),
        Command::Exec(a) => lifecycle::exec_cmd(&store, &a.container, &a.command),
        Command::Inspect { containers } => inspect::inspect_cmd(&store, &containers),
        Command::Rm(a) => lifecycle::rm_cmd(&store, &a),
        Command::Ps(a) => inspect::ps_cmd(&store, a.all),
        Command::Container(c) => match c {
            ContainerCommand::Checkpoint(a) => checkpoint::checkpoint_cmd(&store, &a),
            ContainerCommand::Restore(a) => restore::restore_cmd(&store, &a),
            ContainerCommand::Inspect { containers } => inspect::inspect_cmd(&store, &containers),
            ContainerCommand::Rm(a) => lifecycle::rm_cmd(&store, &a),
            ContainerCommand::Exists { container } => match store.find(&container)? {
                Some(_) => Ok(()),
                None => Err(Exit::Silent(1).into()),
            },
        },
        Command::Volume(c) => match c {
            VolumeCommand::Create { name } => volumes::create_cmd(&store, &name),
            VolumeCommand::Rm { force, volumes: v } => volumes::rm_cmd(&store, &v, force),
            VolumeCommand::Ls => volumes::ls_cmd(&store),
            VolumeCommand::Exists { name } => volumes::exists_cmd(&store, &name),
        },
        Command::Monitor(a) => monitor::monitor_main(&store, &a),
    }
}
