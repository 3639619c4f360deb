//! refpod: a small podman-compatible engine, the reference implementation of the contract in
//! conformance/TARGET.md. Containers run on a real OCI runtime (crun or runc); checkpoints are real
//! CRIU dumps made through the runtime's own `checkpoint` and `restore` commands.

mod archive;
mod beneath;
mod checkpoint;
mod checkpoint_archive;
mod cmd;
mod container;
mod criu_stats;
mod errors;
mod hostinfo;
mod ids;
mod images;
mod import_config;
mod import_spec;
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
use cmd::cli::Cli;
use errors::Exit;

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
    let code = match cmd::dispatch(cli) {
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
