//! The sandbox facade: one type over the backends (`ns`, `vm`, the host), to build, start, run a
//! command inside, stop and destroy.

use crate::config::{Backend, Config, Status, SUITES};
use crate::host::Unavailable;
use crate::{bounded, host, ns, vm};
use anyhow::{bail, Result};
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};

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
                let name = host_path
                    .file_name()
                    .ok_or_else(|| anyhow::anyhow!("{} names no file", host_path.display()))?;
                // `bin/<content hash>/<name>`: two runs sharing the sandbox with two builds of one
                // name (two refpods) never replace each other's binary, and the name stays.
                let bytes = std::fs::read(host_path)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", host_path.display()))?;
                let digest = sha2::Sha256::digest(&bytes);
                let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
                let dir = self.share_dir()?.join("bin").join(hash);
                std::fs::create_dir_all(&dir)?;
                let inside = dir.join(name);
                if inside.exists() {
                    return Ok(inside);
                }
                // Copy to a name of this process's and rename: never a half-written binary.
                let tmp = dir.join(format!(
                    ".{}.{}.tmp",
                    name.to_string_lossy(),
                    std::process::id()
                ));
                std::fs::write(&tmp, &bytes)?;
                std::fs::set_permissions(&tmp, std::fs::metadata(host_path)?.permissions())?;
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
