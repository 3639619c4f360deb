//! The command layer: podman's command line (`cli.rs`) parsed and dispatched to one handler per
//! command, grouped by what they act on. Handlers read the arguments, call the engine (the
//! modules beside `cmd/`, which never import it) and print podman's output.

pub mod cli;
mod container;
mod image;
mod info;
mod inspect;
mod outcomes;
mod volume;

use crate::hostinfo::VERSION;
use crate::store::Store;
use anyhow::Result;
use cli::{Cli, Command, ContainerCommand, ImageCommand, VolumeCommand};

pub fn dispatch(cli: Cli) -> Result<()> {
    if cli.version {
        println!("refpod version {VERSION}");
        return Ok(());
    }
    let Some(command) = cli.command else {
        anyhow::bail!("missing command 'refpod COMMAND'");
    };
    let store = Store::open(&cli.root, cli.runtime.clone())?;
    match command {
        Command::Info(a) => info::info(&store, a.format.as_deref()),
        Command::Image(c) => match c {
            ImageCommand::Exists { image } => image::exists(&store, &image),
            ImageCommand::Inspect { images: names } => image::inspect(&store, &names),
            ImageCommand::Save {
                output,
                format,
                image,
            } => crate::images::save(&store, &image, &output, &format),
            ImageCommand::Rm(a) => image::rmi(&store, &a.images, a.force),
            ImageCommand::Ls => image::ls(&store),
        },
        Command::Import { tarball, image } => image::import(&store, &tarball, &image),
        Command::Rmi(a) => image::rmi(&store, &a.images, a.force),
        Command::Run(a) => container::run(&store, &a),
        Command::Create(a) => container::create(&store, &a),
        Command::Start { containers } => container::start(&store, &containers),
        Command::Stop(a) => container::stop(&store, &a.containers, a.time),
        Command::Pause { containers } => container::pause(&store, &containers),
        Command::Unpause { containers } => container::unpause(&store, &containers),
        Command::Exec(a) => container::exec(&store, &a.container, &a.command),
        Command::Inspect { containers } => inspect::inspect(&store, &containers),
        Command::Rm(a) => container::rm(&store, &a),
        Command::Ps(a) => inspect::ps(&store, a.all),
        Command::Container(c) => match c {
            ContainerCommand::Checkpoint(a) => container::checkpoint(&store, &a),
            ContainerCommand::Restore(a) => container::restore(&store, &a),
            ContainerCommand::Inspect { containers } => inspect::inspect(&store, &containers),
            ContainerCommand::Rm(a) => container::rm(&store, &a),
            ContainerCommand::Exists { container } => container::exists(&store, &container),
        },
        Command::Volume(c) => match c {
            VolumeCommand::Create { name } => volume::create(&store, &name),
            VolumeCommand::Rm { force, volumes } => volume::rm(&store, &volumes, force),
            VolumeCommand::Ls => volume::ls(&store),
            VolumeCommand::Exists { name } => volume::exists(&store, &name),
        },
        Command::Monitor(a) => container::monitor(&store, &a),
    }
}
