//! The sandbox options every command line takes (the suite, the mutants harness, the benchmarks,
//! `cargo xtask sandbox`), declared once: `--sandbox`, `--suite`, `--cache-dir`.

use crate::config::{Backend, Config};
use crate::sandbox::Sandbox;
use std::path::PathBuf;

#[derive(clap::Args, Clone, Debug)]
pub struct SandboxArgs {
    /// Where containers run: ns (Debian podman + CRIU in private namespaces), vm (the same under
    /// qemu with Debian's kernel, for --pre-checkpoint) or none (the host).
    #[arg(long = "sandbox", global = true, default_value = "ns")]
    pub backend: Backend,
    /// Debian suite of the sandbox: trixie (podman 5.4) or forky (podman 5.8).
    #[arg(
        long,
        global = true,
        env = "CKPT_SANDBOX_SUITE",
        default_value = "trixie"
    )]
    pub suite: String,
    /// Where built sandboxes are kept (default: the user's cache directory).
    #[arg(long, global = true, env = "CKPT_SANDBOX_CACHE")]
    pub cache_dir: Option<PathBuf>,
}

impl SandboxArgs {
    pub fn config(&self) -> Config {
        Config {
            backend: self.backend,
            suite: self.suite.clone(),
            cache_dir: self
                .cache_dir
                .clone()
                .unwrap_or_else(crate::config::default_cache_dir),
        }
    }

    /// The sandbox these options name (not started).
    pub fn sandbox(&self) -> anyhow::Result<Sandbox> {
        Sandbox::new(self.config())
    }

    /// The same options as command-line words, for a child process (`cargo xtask conformance`).
    pub fn to_args(&self) -> Vec<String> {
        let mut words = vec![
            "--sandbox".to_string(),
            self.backend.to_string(),
            "--suite".into(),
            self.suite.clone(),
        ];
        if let Some(dir) = &self.cache_dir {
            words.push("--cache-dir".into());
            words.push(dir.display().to_string());
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sandbox: SandboxArgs,
    }

    #[test]
    fn words_parse_back_to_the_same_options() {
        let cli = Cli::parse_from([
            "x",
            "--sandbox",
            "vm",
            "--suite",
            "forky",
            "--cache-dir",
            "/c",
        ]);
        assert_eq!(cli.sandbox.backend, Backend::Vm);
        let again = Cli::parse_from(std::iter::once("x".to_string()).chain(cli.sandbox.to_args()));
        assert_eq!(again.sandbox.to_args(), cli.sandbox.to_args());
        assert_eq!(again.sandbox.config().cache_dir, PathBuf::from("/c"));
    }
}
