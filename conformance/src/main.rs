//! `conformance`: the suite as a standalone program (`cargo xtask conformance` runs the same thing).

use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "conformance",
    about = "Conformance suite for `podman container checkpoint`"
)]
struct Cli {
    #[command(flatten)]
    suite: conformance::suite::SuiteArgs,
}

fn main() -> ExitCode {
    match conformance::suite::run(Cli::parse().suite) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
