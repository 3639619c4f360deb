//! The OCI runtime driver: crun or runc, through their command lines. runc keeps refpod's state
//! under `/run/refpod/runc`; crun under its default root, as podman's (see [`state_root`]).

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Runtime {
    pub name: String,
    pub path: PathBuf,
    state_root: PathBuf,
}

#[derive(Deserialize, Debug)]
pub struct RuntimeState {
    pub status: String,
}

/// Options of `checkpoint` that map to runtime flags.
#[derive(Default, Clone, Copy)]
pub struct DumpOptions {
    pub leave_running: bool,
    pub tcp_established: bool,
    pub file_locks: bool,
    pub pre_dump: bool,
    pub with_previous: bool,
}

/// Restore flags handed to the runtime.
#[derive(Clone, Copy, Default)]
pub struct RestoreFlags {
    pub tcp_established: bool,
    pub file_locks: bool,
}

/// The cgroup of a container (under the cgroup2 root), which the runtime makes and removes.
pub fn cgroups_path(id: &str) -> String {
    format!("/refpod/{id}")
}

/// The only runtimes refpod runs. A runtime's name comes from `--runtime` or from a container's
/// config, which an imported archive wrote: a name that is a path would run whatever binary the
/// archive shipped (as root, and again on every `ps`), so only these are looked up in PATH.
pub const KNOWN: [&str; 2] = ["crun", "runc"];

/// `name` when it is one of [`KNOWN`].
pub fn check_name(name: &str) -> Result<&'static str> {
    match KNOWN.iter().find(|k| **k == name) {
        Some(k) => Ok(k),
        None => bail!(
            "unknown OCI runtime {name:?}: refpod runs only {} (found in PATH)",
            KNOWN.join(" or ")
        ),
    }
}

/// Where the runtime keeps the state of refpod's containers. crun (1.24 and later) names the
/// external mount of masked folders (`/sys/firmware`...) in a checkpoint after its own state root
/// (`<root>/.empty-directory`), and a restore finds it only under the same root: podman's archives
/// (root podman: `/run/crun`) would not restore under another (`mnt: No mapping for ...`), nor
/// refpod's in podman. So crun keeps crun's default root, podman's; IDs are random, and none of
/// the two engines lists the runtime's containers. runc's checkpoints carry no such path.
fn state_root(name: &str) -> PathBuf {
    match name {
        "crun" => PathBuf::from("/run/crun"),
        other => PathBuf::from("/run/refpod").join(other),
    }
}

/// Finds `name` in PATH.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Runtime {
    pub fn new(name: &str) -> Result<Runtime> {
        let name = check_name(name)?;
        let path = which(name).with_context(|| {
            format!("could not find a working binary for the OCI runtime {name:?}")
        })?;
        Ok(Runtime {
            state_root: state_root(name),
            name: name.to_string(),
            path,
        })
    }

    /// `<runtime> --root <state>` ready for a subcommand.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.path);
        c.arg("--root").arg(&self.state_root);
        c
    }

    /// The runtime's whole `--version` output, as podman stores it.
    pub fn version(&self) -> String {
        Command::new(&self.path)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// `None` when the runtime does not know the container.
    pub fn state(&self, id: &str) -> Result<Option<RuntimeState>> {
        let out = self.command().arg("state").arg(id).output()?;
        if !out.status.success() {
            return Ok(None);
        }
        Ok(Some(serde_json::from_slice(&out.stdout).with_context(
            || format!("parsing `{} state {id}`", self.name),
        )?))
    }

    /// Runs a short runtime subcommand; its stderr becomes the error.
    fn simple(&self, args: &[&str]) -> Result<()> {
        let out = self.command().args(args).stdin(Stdio::null()).output()?;
        if !out.status.success() {
            bail!(
                "{} {}: {}",
                self.name,
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    pub fn kill(&self, id: &str, signal: &str) -> Result<()> {
        self.simple(&["kill", id, signal])
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        self.simple(&["pause", id])
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        self.simple(&["resume", id])
    }

    /// Forgets the container and removes its cgroup; quiet when it is already gone.
    pub fn delete(&self, id: &str) {
        let _ = self
            .command()
            .args(["delete", "--force", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // The runtime cannot remove a cgroup whose killed processes are still exiting.
        self.wait_cgroup_gone(id, Duration::from_secs(5));
    }

    /// Waits until the cgroup of the container's previous run is empty and removes it, so that a
    /// restore never lands among processes that are still exiting.
    fn wait_cgroup_gone(&self, id: &str, timeout: Duration) {
        let dir = Path::new("/sys/fs/cgroup").join(cgroups_path(id).trim_start_matches('/'));
        let until = Instant::now() + timeout;
        while dir.exists() && Instant::now() < until {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            if procs.trim().is_empty() && std::fs::remove_dir(&dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the container's init process is gone.
    pub fn wait_stopped(&self, id: &str, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        loop {
            match self.state(id) {
                Ok(Some(s)) if s.status != "stopped" => {}
                _ => return true,
            }
            if Instant::now() > until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `exec`: the command's stdio and exit status pass through.
    pub fn exec(&self, id: &str, args: &[String]) -> Result<i32> {
        let status = self
            .command()
            .arg("exec")
            .arg(id)
            .args(args)
            .status()
            .with_context(|| format!("running {}", self.path.display()))?;
        Ok(status.code().unwrap_or(125))
    }

    /// The arguments of a dump, in podman's order.
    pub fn checkpoint_args(&self, id: &str, userdata: &Path, opts: DumpOptions) -> Vec<String> {
        let image = if opts.pre_dump {
            "pre-checkpoint"
        } else {
            "checkpoint"
        };
        let mut a = vec![
            "checkpoint".to_string(),
            "--image-path".into(),
            userdata.join(image).display().to_string(),
            "--work-path".into(),
            userdata.display().to_string(),
        ];
        if opts.leave_running {
            a.push("--leave-running".into());
        }
        if opts.tcp_established {
            a.push("--tcp-established".into());
        }
        if opts.file_locks {
            a.push("--file-locks".into());
        }
        if opts.pre_dump {
            a.push("--pre-dump".into());
        }
        if opts.with_previous && !opts.pre_dump {
            a.push("--parent-path".into());
            a.push("../pre-checkpoint".into());
        }
        a.push(id.to_string());
        a
    }

    /// Dumps the container; returns how long the runtime took. On failure the runtime's stderr
    /// passes through and the error names the command, as podman's does.
    pub fn checkpoint(&self, id: &str, userdata: &Path, opts: DumpOptions) -> Result<Duration> {
        let args = self.checkpoint_args(id, userdata, opts);
        let start = Instant::now();
        let out = self
            .command()
            .args(&args)
            .stdin(Stdio::null())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .with_context(|| format!("running {}", self.path.display()))?;
        let took = start.elapsed();
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !stderr.trim().is_empty() {
                eprintln!("{}", stderr.trim_end());
            }
            bail!(
                "`{} {}` failed: exit status {}",
                self.path.display(),
                args.join(" "),
                out.status.code().unwrap_or(-1)
            );
        }
        Ok(took)
    }

    /// `run --detach` (or `restore --detach`) of the bundle, for the monitor to spawn.
    pub fn start_command(
        &self,
        id: &str,
        userdata: &Path,
        restore: Option<RestoreFlags>,
    ) -> Command {
        let mut c = self.command();
        c.arg("--log").arg(userdata.join("runtime.log"));
        match restore {
            None => {
                c.args(["run", "--detach", "--bundle"]).arg(userdata);
            }
            Some(flags) => {
                c.args(["restore", "--detach", "--image-path"])
                    .arg(userdata.join("checkpoint"))
                    .arg("--work-path")
                    .arg(userdata)
                    .arg("--bundle")
                    .arg(userdata);
                if flags.tcp_established {
                    c.arg("--tcp-established");
                }
                if flags.file_locks {
                    c.arg("--file-locks");
                }
            }
        }
        c.arg("--pid-file").arg(userdata.join("pidfile")).arg(id);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_runtimes_are_run() {
        assert_eq!(check_name("crun").unwrap(), "crun");
        assert_eq!(check_name("runc").unwrap(), "runc");
        for bad in [
            "/tmp/evil",
            "./crun",
            "../../usr/bin/crun",
            "/usr/bin/crun",
            "sh",
            "",
        ] {
            assert!(Runtime::new(bad).is_err(), "{bad}");
        }
    }
}
