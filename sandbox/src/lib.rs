//! Sandboxes: places where real containers run (real podman, OCI runtime and CRIU).
//!
//! - [`Backend::Ns`]: a Debian userland (podman stack + CRIU >= 4.2) built from Debian's packages into a
//!   cache folder, run in private PID, mount and network namespaces on the host kernel.
//! - [`Backend::Vm`]: the same userland booted under qemu with Debian's own kernel, for what the host
//!   kernel lacks (soft-dirty memory tracking, needed by `--pre-checkpoint`).
//! - [`Backend::None`]: the host as it is, for machines that already run podman + CRIU.
//!
//! The suite only needs [`Sandbox::command`] (run something inside) and [`Sandbox::share_dir`] (a host
//! folder seen at the same path inside).

mod args;
pub mod bounded;
mod build_dir;
pub mod host;
mod lease;
mod ns;
mod progress;
pub mod recipe;
pub mod testing;
mod vm;

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};

pub use args::SandboxArgs;
pub use host::Unavailable;
pub use lease::Lease;
pub use recipe::{TEST_IMAGE, TEST_IMAGE_TARBALL};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Ns,
    Vm,
    None,
}

impl std::str::FromStr for Backend {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ns" => Ok(Backend::Ns),
            "vm" => Ok(Backend::Vm),
            "none" => Ok(Backend::None),
            other => bail!("unknown sandbox backend {other:?}: expected ns, vm or none"),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Ns => "ns",
            Backend::Vm => "vm",
            Backend::None => "none",
        })
    }
}

/// Debian suites whose podman stack the `ns` backend can build.
pub const SUITES: &[&str] = &["trixie", "forky"];

#[derive(Clone, Debug)]
pub struct Config {
    pub backend: Backend,
    /// Debian suite of the podman stack (`trixie`, `forky`).
    pub suite: String,
    /// Folder holding the built sandboxes, one subfolder per suite and recipe hash.
    pub cache_dir: PathBuf,
}

impl Config {
    /// The default: `ns`, trixie, cache in `CKPT_SANDBOX_CACHE` or the user's cache directory.
    pub fn from_env() -> Config {
        Config {
            backend: Backend::Ns,
            suite: std::env::var("CKPT_SANDBOX_SUITE").unwrap_or_else(|_| "trixie".into()),
            cache_dir: default_cache_dir(),
        }
    }
}

pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CKPT_SANDBOX_CACHE") {
        return dir.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"));
    base.join("checkpoint-conformance")
}

/// What `status` reports.
#[derive(Debug, serde::Serialize)]
pub struct Status {
    pub backend: String,
    pub suite: String,
    pub dir: PathBuf,
    pub built: bool,
    pub running: bool,
    /// ns: the first process of its namespaces; vm: qemu.
    pub init_pid: Option<i32>,
    /// vm: how qemu runs the guest (`kvm` or `tcg`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accel: Option<String>,
}

/// A command to run inside a sandbox, made by [`Sandbox::command`].
#[derive(Debug)]
pub struct SandboxCommand(Runner);

#[derive(Debug)]
enum Runner {
    /// ns (through nsenter) and none: a host process.
    Process(Command),
    /// vm: a request to the guest's agent.
    Vm(vm::Request),
}

impl SandboxCommand {
    /// Runs it and collects its stdout, stderr and exit status.
    pub fn output(&mut self) -> Result<Output> {
        match &mut self.0 {
            Runner::Process(cmd) => Ok(cmd.output()?),
            Runner::Vm(request) => request.output(),
        }
    }

    /// Runs it within `limits` (a deadline, a cap on the output kept, no hang on a descendant
    /// that keeps the output open): for commands whose behaviour is not trusted, such as a target.
    pub fn output_bounded(&mut self, limits: bounded::Limits) -> Result<bounded::Bounded> {
        match &mut self.0 {
            Runner::Process(cmd) => bounded::run(cmd, limits),
            Runner::Vm(request) => request.output_within(limits),
        }
    }

    /// The host program and its arguments, for a tool that must start it itself (`perf record --
    /// ...`); `None` in the vm, where it is a request to the guest.
    pub fn host_argv(&self) -> Option<Vec<std::ffi::OsString>> {
        match &self.0 {
            Runner::Process(cmd) => Some(
                std::iter::once(cmd.get_program())
                    .chain(cmd.get_args())
                    .map(Into::into)
                    .collect(),
            ),
            Runner::Vm(_) => None,
        }
    }

    /// Runs it with its output on ours. (In the vm, output is shown once the command has ended, and
    /// there is no stdin.)
    pub fn status(&mut self) -> Result<ExitStatus> {
        match &mut self.0 {
            Runner::Process(cmd) => Ok(cmd.status()?),
            Runner::Vm(request) => {
                use std::io::Write;
                let out = request.output()?;
                std::io::stdout().write_all(&out.stdout)?;
                std::io::stderr().write_all(&out.stderr)?;
                Ok(out.status)
            }
        }
    }
}

/// A sandbox of one backend and suite.
#[derive(Clone, Debug)]
pub struct Sandbox {
    config: Config,
}

impl Sandbox {
    pub fn new(config: Config) -> Result<Sandbox> {
        if !SUITES.contains(&config.suite.as_str()) {
            bail!(
                "unknown Debian suite {:?} for the sandbox: expected one of {}",
                config.suite,
                SUITES.join(", ")
            );
        }
        Ok(Sandbox { config })
    }

    pub fn backend(&self) -> Backend {
        self.config.backend
    }

    pub fn suite(&self) -> &str {
        &self.config.suite
    }

    fn ns(&self) -> ns::NsSandbox {
        ns::NsSandbox::new(&self.config.cache_dir, &self.config.suite)
    }

    fn vm(&self) -> vm::VmSandbox {
        vm::VmSandbox::new(&self.config.cache_dir, &self.config.suite)
    }

    /// Builds the sandbox if it is not built yet (a cached build is a no-op).
    pub fn build(&self) -> Result<()> {
        match self.config.backend {
            Backend::Ns => self.ns().build(),
            Backend::Vm => self.vm().build(),
            Backend::None => host_podman_present(),
        }
    }

    /// Builds if needed, then starts (a running sandbox is left as it is).
    pub fn start(&self) -> Result<()> {
        match self.config.backend {
            Backend::Ns => self.ns().start(),
            Backend::Vm => self.vm().start(),
            Backend::None => host_podman_present(),
        }
    }

    /// Starts the sandbox for a run (building it if needed) and holds it until the lease is
    /// dropped; then the last run stops it if a run started it (see `lease.rs`).
    pub fn lease(&self) -> Result<Lease> {
        Lease::take(self)
    }

    /// Stops every process of the sandbox and removes what `start` set up; the build stays.
    pub fn stop(&self) -> Result<()> {
        match self.config.backend {
            Backend::Ns => self.ns().stop(),
            Backend::Vm => self.vm().stop(),
            Backend::None => Ok(()),
        }
    }

    /// Stops, then deletes the build and every container, image and volume in it.
    pub fn destroy(&self) -> Result<()> {
        match self.config.backend {
            Backend::Ns => self.ns().destroy(),
            Backend::Vm => self.vm().destroy(),
            Backend::None => Ok(()),
        }
    }

    pub fn status(&self) -> Status {
        match self.config.backend {
            Backend::Ns => self.ns().status(),
            Backend::Vm => self.vm().status(),
            Backend::None => Status {
                backend: "none".into(),
                suite: "host".into(),
                dir: "/".into(),
                built: which_podman(),
                running: which_podman(),
                init_pid: None,
                accel: None,
            },
        }
    }

    /// A command that runs `argv` inside the (running) sandbox, with a clean environment.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, argv: &[S]) -> Result<SandboxCommand> {
        let runner = match self.config.backend {
            Backend::Ns => Runner::Process(self.ns().command(argv)?),
            Backend::Vm => Runner::Vm(self.vm().command(argv)?),
            Backend::None => {
                let (program, args) = argv
                    .split_first()
                    .ok_or_else(|| anyhow::anyhow!("empty command"))?;
                let mut cmd = Command::new(program);
                cmd.args(args);
                Runner::Process(cmd)
            }
        };
        Ok(SandboxCommand(runner))
    }

    /// A host folder visible at the same path inside: archives and results go here.
    pub fn share_dir(&self) -> Result<PathBuf> {
        match self.config.backend {
            Backend::Ns => Ok(self.ns().share_dir()),
            Backend::Vm => Ok(self.vm().share_dir()),
            Backend::None => {
                // Not a fixed name under /tmp, which any local user could create first: a folder
                // of the cache, ours alone.
                let dir = self.config.cache_dir.join("none-share");
                host::private_dir(&dir)?;
                Ok(dir)
            }
        }
    }

    /// Makes a host executable runnable inside; returns its path there.
    pub fn install_binary(&self, host_path: &Path) -> Result<PathBuf> {
        match self.config.backend {
            Backend::Ns | Backend::Vm => {
                let dir = self.share_dir()?.join("bin");
                std::fs::create_dir_all(&dir)?;
                let name = host_path
                    .file_name()
                    .ok_or_else(|| anyhow::anyhow!("{} names no file", host_path.display()))?;
                let inside = dir.join(name);
                // Copy to a temporary name and rename: a running copy is never overwritten in place.
                let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
                std::fs::copy(host_path, &tmp)?;
                std::fs::rename(&tmp, &inside)?;
                Ok(inside)
            }
            Backend::None => Ok(host_path.to_path_buf()),
        }
    }
}

fn which_podman() -> bool {
    host::which("podman").is_some()
}

fn host_podman_present() -> Result<()> {
    if which_podman() {
        Ok(())
    } else {
        Err(Unavailable("--sandbox none uses the host's podman, and there is none on PATH: install podman and CRIU, or use --sandbox ns".into()).into())
    }
}
