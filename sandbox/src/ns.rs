//! The `ns` backend: a Debian rootfs (podman stack + CRIU) run in private PID, mount and network
//! namespaces on the host kernel.
//!
//! Leaving nothing behind follows from the layout: every mount lives in the private mount namespace and
//! every process in the private PID namespace, so killing its first process ends them all and the
//! kernel drops the mounts and the network namespace with them. What remains on the host are the
//! cgroup2 directories podman created; `stop` removes the ones that were not there at `start`.

use crate::build_dir::BuildDir;
use crate::config::Status;
use crate::recipe::{TEST_IMAGE, TEST_IMAGE_TARBALL};
use crate::{host, progress, recipe};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Free space a build needs in the cache (the rootfs is about 500 MiB, apt needs room to unpack).
const BUILD_SPACE: u64 = 2 << 30;
const PATH_INSIDE: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct NsSandbox {
    suite: String,
    /// `<cache>/<suite>-<recipe hash>`
    dir: BuildDir,
}

/// What `start` recorded, for `exec` and `stop`.
#[derive(Serialize, Deserialize)]
struct State {
    init_pid: i32,
    /// cgroup2 directories that existed before start: `stop` leaves exactly these.
    cgroups_before: Vec<PathBuf>,
    cgroup2: PathBuf,
}

impl NsSandbox {
    pub fn new(cache: &Path, suite: &str) -> NsSandbox {
        NsSandbox {
            suite: suite.to_string(),
            dir: BuildDir::new(cache, format!("{suite}-"), recipe::key(suite)),
        }
    }

    fn label(&self) -> String {
        self.dir.label()
    }
    pub(crate) fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    pub fn share_dir(&self) -> PathBuf {
        self.dir.share_dir()
    }

    pub fn build(&self) -> Result<()> {
        host::require_root()?;
        let _lock = self.dir.lock()?;
        self.build_locked()
    }

    fn build_locked(&self) -> Result<()> {
        let prepare = || {
            host::ensure_host_command("debootstrap", "debootstrap")?;
            host::ensure_host_command("unshare", "util-linux")?;
            host::require_mirror_reachable(&host::debian_mirror())?;
            host::require_free_space(self.dir.cache(), BUILD_SPACE)
        };
        let provision = |dir: &Path| {
            let recipe_dir = dir.join("recipe");
            recipe::write_to(&recipe_dir)?;
            let mirror = host::debian_mirror();
            eprintln!(
                "[{}] building Debian {} + podman + CRIU in {} (mirror {mirror})",
                self.label(),
                self.suite,
                dir.display()
            );
            // A private mount namespace: the chroot's bind mounts vanish with the script, even on
            // failure.
            let mut cmd = Command::new("unshare");
            cmd.args(["--mount", "--propagation", "private", "bash"])
                .arg(recipe_dir.join("provision.sh"))
                .arg(self.rootfs())
                .arg(&self.suite)
                .arg(&mirror)
                .stdin(Stdio::null());
            progress::run_steps(&self.label(), cmd)
        };
        self.dir.build(|| self.stop_locked(), prepare, provision)
    }

    fn read_state(&self) -> Option<State> {
        self.dir.read_state()
    }

    /// The first process of the running sandbox, checked to be ours: ns-init.sh wrote our rootfs
    /// path into its `/run/sandbox-ready`.
    fn running_init(&self) -> Option<i32> {
        let state = self.read_state()?;
        is_our_init(state.init_pid, &self.rootfs()).then_some(state.init_pid)
    }

    pub fn start(&self) -> Result<()> {
        host::require_root()?;
        let _lock = self.dir.lock()?;
        self.build_locked()?;
        if self.running_init().is_some() {
            return Ok(());
        }
        // Leftovers of a sandbox that died without `stop` (a reboot, a killed process).
        self.stop_locked()?;
        let cgroup2 = host::cgroup2_mount().ok_or_else(|| {
            anyhow!("the host has no cgroup2 mount, which podman and CRIU need: mount cgroup2 (e.g. on /sys/fs/cgroup/unified)")
        })?;
        let cgroups_before = host::cgroup_dirs(&cgroup2);

        let started = Instant::now();
        let pid_file = self.dir.join("unshare.pid");
        let _ = std::fs::remove_file(&pid_file);
        let log = File::create(self.dir.join("init.log"))?;
        // `setsid -f`: the holder leaves our session and process tree, so it outlives this command;
        // the shell records the PID that `unshare` then takes over by exec.
        let status = host::no_inherited_files(&mut Command::new("setsid"))
            .args(["-f", "sh", "-c"])
            .arg("echo $$ > \"$0\"; exec unshare --pid --mount --net --fork --propagation private bash \"$1\" \"$2\" \"$3\"")
            .arg(&pid_file)
            .arg(self.dir.join("recipe/ns-init.sh"))
            .arg(self.rootfs())
            .arg(self.share_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .context("starting the sandbox's namespaces with setsid + unshare")?;
        if !status.success() {
            bail!("setsid failed to start the sandbox ({status})");
        }
        let init_pid = self.wait_ready(&pid_file, started)?;
        let state = State {
            init_pid,
            cgroups_before,
            cgroup2,
        };
        self.dir.write_state(&state)?;
        self.ensure_test_image()?;
        eprintln!(
            "[{}] running (first process {init_pid}) after {:.1} s",
            self.label(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Waits until ns-init.sh has pivoted into the rootfs and says it is ready; returns its host PID.
    fn wait_ready(&self, pid_file: &Path, started: Instant) -> Result<i32> {
        let log = self.dir.join("init.log");
        let fail = |why: &str| {
            let output = std::fs::read_to_string(&log).unwrap_or_default();
            anyhow!("the sandbox did not start: {why}\n{output}")
        };
        while started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(50));
            let Some(unshare_pid) = std::fs::read_to_string(pid_file)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            else {
                continue;
            };
            let children =
                std::fs::read_to_string(format!("/proc/{unshare_pid}/task/{unshare_pid}/children"));
            let Ok(children) = children else {
                return Err(fail("its namespace holder exited"));
            };
            let Some(init) = children
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
            else {
                continue;
            };
            if is_our_init(init, &self.rootfs()) {
                return Ok(init);
            }
        }
        Err(fail("not ready after 20 s"))
    }

    fn ensure_test_image(&self) -> Result<()> {
        let out = self
            .command(&["sh", "-c", &format!(
                "podman image exists {TEST_IMAGE} || podman import --quiet {TEST_IMAGE_TARBALL} {TEST_IMAGE}"
            )])?
            .output()?;
        if !out.status.success() {
            bail!(
                "importing the test image {TEST_IMAGE} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, argv: &[S]) -> Result<Command> {
        let pid = self.running_init().ok_or_else(|| {
            anyhow!(
                "the sandbox {} is not running: start it with `cargo xtask sandbox start`",
                self.dir.path().display()
            )
        })?;
        if argv.is_empty() {
            bail!("no command to run in the sandbox");
        }
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(pid.to_string())
            .args(["-m", "-n", "-p", "-r", "-w", "--", "env", "-i", PATH_INSIDE])
            .args(["HOME=/root", "LC_ALL=C.UTF-8", "TMPDIR=/var/tmp"])
            .args(argv);
        Ok(cmd)
    }

    pub fn stop(&self) -> Result<()> {
        let _lock = self.dir.lock()?;
        self.stop_locked()
    }

    fn stop_locked(&self) -> Result<()> {
        let state = self.read_state();
        let Some(pid) = self.running_init() else {
            if let Some(state) = state {
                remove_new_cgroups(&state, &[])?;
            }
            self.dir.remove_state();
            return Ok(());
        };
        let mount_ns = host::mount_namespace(pid);
        // The cgroups the sandbox's processes are in, before they die: with the engines' own
        // parents, what identifies a new cgroup as the sandbox's rather than other software's.
        let held: Vec<PathBuf> = match (&mount_ns, &state) {
            (Some(ns), Some(state)) => host::processes_in_mount_namespace(ns)
                .into_iter()
                .filter_map(|pid| process_cgroup(&state.cgroup2, pid))
                .collect(),
            _ => vec![],
        };
        // SIGKILL to a PID namespace's first process kills every process in it.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        // Then anything else in its mount namespace (e.g. a process that entered without the PID one).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = match &mount_ns {
                Some(ns) => host::processes_in_mount_namespace(ns),
                None => vec![],
            };
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                bail!("processes {left:?} of the sandbox survived SIGKILL for 10 s");
            }
            for pid in left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(state) = state {
            remove_new_cgroups(&state, &held)?;
        }
        self.dir.remove_state();
        Ok(())
    }

    pub fn destroy(&self) -> Result<()> {
        self.dir.destroy(|| self.stop_locked())
    }

    pub fn status(&self) -> Status {
        let init_pid = self.running_init();
        Status {
            backend: "ns".into(),
            suite: self.suite.clone(),
            dir: self.dir.path().to_path_buf(),
            built: self.dir.is_built(),
            running: init_pid.is_some(),
            init_pid,
            accel: None,
        }
    }
}

fn is_our_init(pid: i32, rootfs: &Path) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/root/run/sandbox-ready"))
        .map(|s| Path::new(s.trim()) == rootfs)
        .unwrap_or(false)
}

/// Where the sandbox's engines put their containers' cgroups (podman's cgroupfs parent, refpod's).
const ENGINE_CGROUP_PARENTS: &[&str] = &["libpod_parent", "refpod"];

/// A process's cgroup2 folder on the host (`0::/path` in `/proc/PID/cgroup`).
fn process_cgroup(cgroup2: &Path, pid: i32) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(cgroup2.join(path.trim_start_matches('/')))
}

/// Whether a cgroup created since start is the sandbox's: it held one of the sandbox's processes
/// at stop (`held`), or is above or below one that did, or lies under an engine's parent. Other
/// software's cgroups, made on the shared host tree meanwhile, are none of these.
fn is_sandbox_cgroup(cgroup2: &Path, dir: &Path, held: &[PathBuf]) -> bool {
    held.iter()
        .any(|h| h.starts_with(dir) || dir.starts_with(h))
        || ENGINE_CGROUP_PARENTS
            .iter()
            .any(|p| dir.starts_with(cgroup2.join(p)))
}

/// Removes the sandbox's cgroup2 directories created since start, deepest first. A cgroup whose
/// processes are still exiting is busy for a moment, hence the retries.
fn remove_new_cgroups(state: &State, held: &[PathBuf]) -> Result<()> {
    // Only cgroups made since start say anything: the sandbox's first processes sit in one that
    // was already there (the host's root, say), and everything lies below that.
    let held: Vec<PathBuf> = held
        .iter()
        .filter(|h| !state.cgroups_before.contains(h) && **h != state.cgroup2)
        .cloned()
        .collect();
    let start = Instant::now();
    loop {
        let mut new: Vec<PathBuf> = host::cgroup_dirs(&state.cgroup2)
            .into_iter()
            .filter(|d| !state.cgroups_before.contains(d))
            .filter(|d| is_sandbox_cgroup(&state.cgroup2, d, &held))
            .collect();
        // The host's cgroup tree is shared with any other sandbox running now. Once our processes
        // have had time to die, a cgroup that still holds processes (itself or below) is another
        // sandbox's: leave it.
        if start.elapsed() > Duration::from_secs(3) {
            new.retain(|d| !populated(d));
        }
        if new.is_empty() {
            return Ok(());
        }
        new.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        let mut last_err = None;
        for dir in &new {
            if let Err(e) = std::fs::remove_dir(dir) {
                last_err = Some((dir.clone(), e));
            }
        }
        if let Some((dir, e)) = last_err {
            if start.elapsed() > Duration::from_secs(10) {
                bail!(
                    "could not remove the sandbox's cgroup {}: {e}",
                    dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether a cgroup or one below it has live processes (`populated 1` in `cgroup.events`).
fn populated(cgroup: &Path) -> bool {
    std::fs::read_to_string(cgroup.join("cgroup.events"))
        .map(|events| events.lines().any(|l| l == "populated 1"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sandboxs_new_cgroups_are_its_own() {
        let root = Path::new("/sys/fs/cgroup/unified");
        let held = [root.join("libpod_parent/conmon"), root.join("x/y")];
        let ours = |p: &str| is_sandbox_cgroup(root, &root.join(p), &held);
        assert!(ours("libpod_parent"));
        assert!(ours("libpod_parent/libpod-0123"));
        assert!(ours("refpod/abc"));
        assert!(ours("x"));
        assert!(ours("x/y/z"));
        // Made by other software while the sandbox ran.
        assert!(!ours("system.slice/other.service"));
        assert!(!ours("x/other"));
        assert!(!ours("libpod_parent_of_someone_else"));
    }
}
