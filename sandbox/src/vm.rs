//! The `vm` backend: the `ns` userland booted under qemu with Debian's own kernel, for what the host
//! kernel cannot do (soft-dirty memory tracking, needed by `--pre-checkpoint` / `--with-previous`).
//!
//! Build: the finished `ns` rootfs, copied, plus `linux-image-amd64`, the guest's init and command
//! agent, made into an ext4 image (`recipe/vm-provision.sh`). Start: qemu in the background (KVM when
//! it works, software emulation otherwise) on a qcow2 overlay of that image, so the image stays
//! pristine and podman's state lives until `stop`. Commands go through two virtio-9p shares: the
//! sandbox's `share/`, mounted at the same path in the guest, and `agent/`, where each command is a
//! folder the guest agent (`recipe/vm-agent.sh`) answers. Stop: qemu is killed and the overlay and
//! the agent folder deleted; everything else the guest did died with it.

use crate::build_dir::BuildDir;
use crate::config::Status;
use crate::{host, ns::NsSandbox, progress, recipe};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Free space a build needs: the rootfs copy (about 700 MiB) and the image's blocks (about as many).
const BUILD_SPACE: u64 = 3 << 30;
/// Boot plus the test image's import: seconds with KVM, about a minute under emulation on a busy
/// 2-core machine.
const READY_KVM: Duration = Duration::from_secs(60);
const READY_TCG: Duration = Duration::from_secs(300);
const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Kvm,
    Tcg,
}

impl std::fmt::Display for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

impl Accel {
    /// qemu arguments for this accelerator. Under emulation, one vCPU: two panicked the guest once in
    /// three boots (a multi-threaded TCG race on kernel code patching).
    fn qemu_args(self) -> &'static [&'static str] {
        match self {
            Accel::Kvm => &["-accel", "kvm", "-cpu", "host", "-smp", "2"],
            Accel::Tcg => &["-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "1"],
        }
    }
}

/// What `start` recorded.
#[derive(Serialize, Deserialize)]
struct State {
    qemu_pid: i32,
    accel: Accel,
}

pub struct VmSandbox {
    suite: String,
    /// `<cache>/vm-<suite>-<vm recipe hash>` (not `<suite>-...`, which the ns backend owns).
    dir: BuildDir,
}

impl VmSandbox {
    pub fn new(cache: &Path, suite: &str) -> VmSandbox {
        VmSandbox {
            suite: suite.to_string(),
            dir: BuildDir::new(cache, format!("vm-{suite}-"), recipe::vm_key(suite)),
        }
    }

    fn label(&self) -> String {
        self.dir.label()
    }
    pub fn share_dir(&self) -> PathBuf {
        self.dir.share_dir()
    }
    fn agent_dir(&self) -> PathBuf {
        self.dir.join("agent")
    }
    fn overlay(&self) -> PathBuf {
        self.dir.join("overlay.qcow2")
    }
    fn pid_file(&self) -> PathBuf {
        self.dir.join("qemu.pid")
    }
    fn console(&self) -> PathBuf {
        self.dir.join("console.log")
    }
    pub fn build(&self) -> Result<()> {
        host::require_root()?;
        let _lock = self.dir.lock()?;
        self.build_locked()
    }

    fn build_locked(&self) -> Result<()> {
        // The VM's userland is the ns one: built first (a no-op when it is cached).
        let ns = NsSandbox::new(self.dir.cache(), &self.suite);
        let prepare = || {
            ns.build()?;
            host::ensure_qemu()?;
            host::ensure_host_command("qemu-img", "qemu-utils")?;
            host::ensure_host_command("mkfs.ext4", "e2fsprogs")?;
            host::ensure_host_command("unshare", "util-linux")?;
            host::require_mirror_reachable(&host::debian_mirror())?;
            host::require_free_space(self.dir.cache(), BUILD_SPACE)
        };
        let provision = |dir: &Path| {
            let recipe_dir = dir.join("recipe");
            recipe::write_vm_to(&recipe_dir)?;
            eprintln!(
                "[{}] building a bootable image of {} with Debian's kernel in {}",
                self.label(),
                ns.rootfs().display(),
                dir.display()
            );
            // A private mount namespace: the chroot's bind mounts vanish with the script, even on
            // failure.
            let mut cmd = Command::new("unshare");
            cmd.args(["--mount", "--propagation", "private", "bash"])
                .arg(recipe_dir.join("vm-provision.sh"))
                .arg(ns.rootfs())
                .arg(dir)
                .stdin(Stdio::null());
            progress::run_steps(&self.label(), cmd)
        };
        self.dir.build(|| self.stop_locked(), prepare, provision)
    }

    fn read_state(&self) -> Option<State> {
        self.dir.read_state()
    }

    /// The running qemu, checked to be ours (its command line names our overlay).
    fn running(&self) -> Option<State> {
        let state = self.read_state()?;
        is_our_qemu(state.qemu_pid, &self.overlay()).then_some(state)
    }

    pub fn start(&self) -> Result<()> {
        host::require_root()?;
        let _lock = self.dir.lock()?;
        self.build_locked()?;
        if self.running().is_some() {
            return Ok(());
        }
        // Leftovers of a VM that died without `stop`.
        self.stop_locked()?;
        // A cached build may outlive the host's qemu (a new machine keeps the cache folder).
        host::ensure_qemu()?;
        host::ensure_host_command("qemu-img", "qemu-utils")?;
        // Paths travel in qemu options (split at commas) and on the kernel command line (split at
        // spaces).
        if self
            .dir
            .path()
            .as_os_str()
            .as_bytes()
            .iter()
            .any(|b| b.is_ascii_whitespace() || *b == b',')
        {
            bail!(
                "the vm sandbox's folder {} has a space or a comma in its path, which qemu's options \
                 and the guest's kernel command line cannot carry: point CKPT_SANDBOX_CACHE (or \
                 --cache-dir) at a path without them",
                self.dir.path().display()
            );
        }
        let started = Instant::now();
        let mut accels = match std::env::var("CKPT_VM_ACCEL").as_deref() {
            Ok("kvm") => vec![Accel::Kvm],
            Ok("tcg") => vec![Accel::Tcg],
            _ if kvm_present() => vec![Accel::Kvm, Accel::Tcg],
            _ => vec![Accel::Tcg],
        };
        let last = accels.pop().expect("at least one accelerator");
        for accel in accels {
            match self.boot(accel) {
                Ok(()) => return self.started(started, accel),
                Err(e) => {
                    eprintln!(
                        "[{}] KVM did not work here ({}); falling back to software emulation \
                         (set CKPT_VM_ACCEL=tcg to skip this try)",
                        self.label(),
                        first_line(&format!("{e:#}"))
                    );
                    self.stop_locked()?;
                }
            }
        }
        self.boot(last)?;
        self.started(started, last)
    }

    fn started(&self, started: Instant, accel: Accel) -> Result<()> {
        let state = self.read_state().expect("boot wrote the state");
        eprintln!(
            "[{}] running ({accel}, qemu {}) after {:.1} s",
            self.label(),
            state.qemu_pid,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Starts qemu with `accel` and waits until the guest's agent says it is ready.
    fn boot(&self, accel: Accel) -> Result<()> {
        let _ = std::fs::remove_dir_all(self.agent_dir());
        std::fs::create_dir_all(self.agent_dir())?;
        std::fs::create_dir_all(self.share_dir())?;
        for stale in [self.overlay(), self.pid_file(), self.console()] {
            let _ = std::fs::remove_file(stale);
        }
        let out = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
            .arg(self.dir.join("disk.img"))
            .arg(self.overlay())
            .output()
            .context("running qemu-img")?;
        if !out.status.success() {
            bail!(
                "qemu-img could not create the overlay {}: {}",
                self.overlay().display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(accel.qemu_args())
            .args([
                "-m",
                "2048",
                "-nodefaults",
                "-display",
                "none",
                "-no-reboot",
            ])
            .arg("-kernel")
            .arg(self.dir.join("vmlinuz"))
            .arg("-initrd")
            .arg(self.dir.join("initrd.img"))
            // panic=-1 with -no-reboot: a guest panic ends qemu, and start or a command says so.
            .arg("-append")
            .arg(format!(
                "console=ttyS0 quiet root=/dev/vda rw init=/sbin/vm-init panic=-1 ckpt.share={}",
                self.share_dir().display()
            ))
            .arg("-drive")
            .arg(format!(
                "file={},format=qcow2,if=virtio",
                self.overlay().display()
            ))
            .args(["-nic", "none"]);
        for (tag, path) in [("share", self.share_dir()), ("agent", self.agent_dir())] {
            cmd.arg("-fsdev")
                .arg(format!(
                    "local,id={tag},path={},security_model=passthrough",
                    path.display()
                ))
                .arg("-device")
                .arg(format!("virtio-9p-pci,fsdev={tag},mount_tag={tag}"));
        }
        cmd.arg("-serial")
            .arg(format!("file:{}", self.console().display()))
            .arg("-pidfile")
            .arg(self.pid_file())
            .arg("-daemonize")
            .stdin(Stdio::null());
        let out = host::no_inherited_files(&mut cmd)
            .output()
            .context("running qemu-system-x86_64")?;
        if !out.status.success() {
            bail!(
                "qemu did not start ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let qemu_pid = std::fs::read_to_string(self.pid_file())
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| anyhow!("qemu started but wrote no {}", self.pid_file().display()))?;
        let state = State { qemu_pid, accel };
        self.dir.write_state(&state)?;
        self.wait_ready(qemu_pid, accel)
    }

    fn wait_ready(&self, qemu_pid: i32, accel: Accel) -> Result<()> {
        let limit = match accel {
            Accel::Kvm => READY_KVM,
            Accel::Tcg => READY_TCG,
        };
        let started = Instant::now();
        let mut said = Instant::now();
        let fail = |why: String| {
            let console = std::fs::read_to_string(self.console()).unwrap_or_default();
            let tail: Vec<&str> = console.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            anyhow!(
                "the vm sandbox did not start: {why}\nlast lines of its console ({}):\n{}",
                self.console().display(),
                tail.join("\n")
            )
        };
        while !self.agent_dir().join("ready").exists() {
            if !is_our_qemu(qemu_pid, &self.overlay()) {
                return Err(fail("qemu exited".into()));
            }
            if started.elapsed() > limit {
                return Err(fail(format!(
                    "not ready after {} s ({accel})",
                    limit.as_secs()
                )));
            }
            if said.elapsed() >= HEARTBEAT {
                eprintln!(
                    "[{}]   ... still booting ({accel}, {} s)",
                    self.label(),
                    started.elapsed().as_secs()
                );
                said = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    pub fn command<S: AsRef<OsStr>>(&self, argv: &[S]) -> Result<Request> {
        let state = self.running().ok_or_else(|| {
            anyhow!(
                "the vm sandbox {} is not running: start it with `cargo xtask sandbox --sandbox vm start`",
                self.dir.path().display()
            )
        })?;
        if argv.is_empty() {
            bail!("no command to run in the sandbox");
        }
        Ok(Request {
            agent: self.agent_dir(),
            argv: encode_argv(argv)?,
            qemu_pid: state.qemu_pid,
            overlay: self.overlay(),
            console: self.console(),
        })
    }

    pub fn stop(&self) -> Result<()> {
        let _lock = self.dir.lock()?;
        self.stop_locked()
    }

    /// Kills qemu (the guest and everything in it go with it) and removes what `start` created.
    fn stop_locked(&self) -> Result<()> {
        if let Some(state) = self.running() {
            let pid = nix::unistd::Pid::from_raw(state.qemu_pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while is_our_qemu(state.qemu_pid, &self.overlay()) {
                if Instant::now() > deadline {
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                }
                if Instant::now() > deadline + Duration::from_secs(10) {
                    bail!("qemu {} survived SIGKILL for 10 s", state.qemu_pid);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // The daemonized qemu is the host init's child: give it a moment to reap the zombie.
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{}", state.qemu_pid)).exists()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = std::fs::remove_dir_all(self.agent_dir());
        for file in [self.overlay(), self.pid_file()] {
            let _ = std::fs::remove_file(file);
        }
        self.dir.remove_state();
        Ok(())
    }

    pub fn destroy(&self) -> Result<()> {
        self.dir.destroy(|| self.stop_locked())
    }

    pub fn status(&self) -> Status {
        let state = self.running();
        Status {
            backend: "vm".into(),
            suite: self.suite.clone(),
            dir: self.dir.path().to_path_buf(),
            built: self.dir.is_built(),
            running: state.is_some(),
            init_pid: state.as_ref().map(|s| s.qemu_pid),
            accel: state.map(|s| s.accel.to_string()),
        }
    }
}

/// KVM is worth a try when /dev/kvm opens; whether a guest really runs on it (nested KVM may not)
/// only a boot tells, and `start` falls back to emulation when it does not.
fn kvm_present() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

fn is_our_qemu(pid: i32, overlay: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let needle = overlay.as_os_str().as_bytes();
    cmdline.windows(needle.len()).any(|w| w == needle)
}

/// The arguments as the agent reads them: each one NUL-terminated.
fn encode_argv<S: AsRef<OsStr>>(argv: &[S]) -> Result<Vec<u8>> {
    let mut encoded = Vec::new();
    for arg in argv {
        let bytes = arg.as_ref().as_bytes();
        if bytes.contains(&0) {
            bail!("an argument holds a NUL byte, which no command line can carry: {bytes:?}");
        }
        encoded.extend_from_slice(bytes);
        encoded.push(0);
    }
    Ok(encoded)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// One command for the guest agent (see `recipe/vm-agent.sh` for the protocol).
#[derive(Debug)]
pub struct Request {
    agent: PathBuf,
    /// NUL-terminated arguments.
    argv: Vec<u8>,
    qemu_pid: i32,
    overlay: PathBuf,
    console: PathBuf,
}

/// Unique request names within this process; the PID makes them unique across processes.
static NEXT: AtomicU64 = AtomicU64::new(0);

impl Request {
    /// Runs the command in the guest and waits for it: stdout, stderr and its exit status.
    pub fn output(&self) -> Result<Output> {
        let b = self.output_within(crate::bounded::Limits {
            deadline: Duration::MAX,
            max_output: usize::MAX,
        })?;
        Ok(Output {
            status: b.status,
            stdout: b.stdout,
            stderr: b.stderr,
        })
    }

    /// As `output`, but an error once `limits.deadline` (plus a grace) has passed without an exit
    /// status, and at most `limits.max_output` bytes of each output read back.
    pub fn output_within(&self, limits: crate::bounded::Limits) -> Result<crate::bounded::Bounded> {
        let id = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let writing = self.agent.join(format!("{id}.new"));
        let ready = self.agent.join(format!("{id}.req"));
        let claimed = self.agent.join(format!("{id}.run"));
        std::fs::create_dir(&writing)
            .with_context(|| format!("creating the request {}", writing.display()))?;
        std::fs::write(writing.join("argv"), &self.argv)?;
        std::fs::rename(&writing, &ready)?;
        let result = self.wait(&ready, &claimed, limits);
        let _ = std::fs::remove_dir_all(&ready);
        let _ = std::fs::remove_dir_all(&claimed);
        result
    }

    fn wait(
        &self,
        ready: &Path,
        claimed: &Path,
        limits: crate::bounded::Limits,
    ) -> Result<crate::bounded::Bounded> {
        let exit = claimed.join("exit");
        let started = Instant::now();
        let mut checked = Instant::now();
        while !exit.exists() {
            if checked.elapsed() > Duration::from_secs(1) {
                // A guest that died (panic, killed qemu) never answers: say so instead of waiting forever.
                if !is_our_qemu(self.qemu_pid, &self.overlay) {
                    bail!(
                        "the vm sandbox's qemu ({}) exited while the command ran: see {}",
                        self.qemu_pid,
                        self.console.display()
                    );
                }
                // Nor does a guest whose agent died: an agent polls at least every 200 ms.
                if ready.exists() && started.elapsed() > AGENT_ANSWERS_WITHIN {
                    bail!(
                        "the vm sandbox's agent took no request for {} s: it is not running (see {})",
                        AGENT_ANSWERS_WITHIN.as_secs(),
                        self.console.display()
                    );
                }
                if started
                    .elapsed()
                    .saturating_sub(crate::bounded::Limits::GRACE * 3)
                    > limits.deadline
                {
                    bail!(
                        "no exit status from the vm sandbox's agent {:.0} s after the command's deadline",
                        (crate::bounded::Limits::GRACE * 3).as_secs_f64()
                    );
                }
                checked = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let code: i32 = std::fs::read_to_string(&exit)?
            .trim()
            .parse()
            .context("the guest agent wrote an unreadable exit status")?;
        let (stdout, out_dropped) = read_capped(&claimed.join("stdout"), limits.max_output)?;
        let (stderr, err_dropped) = read_capped(&claimed.join("stderr"), limits.max_output)?;
        Ok(crate::bounded::Bounded {
            status: exit_status(code),
            stdout,
            stderr,
            timed_out: false,
            dropped: out_dropped + err_dropped,
            killed_holders: Vec::new(),
        })
    }
}

/// How long a running guest's agent may take to claim a request (it polls every 20-200 ms; under
/// emulation on a busy host, far slower, never this slow).
const AGENT_ANSWERS_WITHIN: Duration = if cfg!(test) {
    Duration::from_secs(2)
} else {
    Duration::from_secs(60)
};

/// At most `max` bytes of a file, and how many more it held.
fn read_capped(path: &Path, max: usize) -> Result<(Vec<u8>, u64)> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut kept = Vec::new();
    file.take(max as u64).read_to_end(&mut kept)?;
    Ok((kept.clone(), len.saturating_sub(kept.len() as u64)))
}

/// The shell's `$?` as a wait status: 128+N means killed by signal N (as `nsenter` would report it).
fn exit_status(code: i32) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    if (129..=128 + 64).contains(&code) {
        ExitStatus::from_raw(code - 128)
    } else {
        ExitStatus::from_raw((code & 0xff) << 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_status_becomes_a_wait_status() {
        assert_eq!(exit_status(0).code(), Some(0));
        assert_eq!(exit_status(125).code(), Some(125));
        assert_eq!(exit_status(124).code(), Some(124));
        let killed = exit_status(128 + 9);
        assert_eq!(killed.code(), None);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(killed.signal(), Some(9));
    }

    /// The guest agent, run on the host: same script, same protocol, no VM.
    struct HostAgent {
        child: std::process::Child,
        dir: tempfile::TempDir,
    }

    impl HostAgent {
        fn start() -> HostAgent {
            let dir = tempfile::tempdir().unwrap();
            let agent = dir.path().join("agent");
            std::fs::create_dir(&agent).unwrap();
            recipe::write_vm_to(dir.path()).unwrap();
            let child = Command::new("bash")
                .arg(dir.path().join("vm-agent.sh"))
                .arg(&agent)
                .arg(dir.path())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while !agent.join("ready").exists() {
                assert!(Instant::now() < deadline, "the agent never said ready");
                std::thread::sleep(Duration::from_millis(10));
            }
            HostAgent { child, dir }
        }

        /// A request as `command` makes it; the agent's own PID and command line (which names the
        /// agent folder) stand in for qemu's.
        fn request(&self, argv: &[&str]) -> Request {
            let agent = self.dir.path().join("agent");
            Request {
                argv: encode_argv(argv).unwrap(),
                qemu_pid: self.child.id() as i32,
                overlay: agent.clone(),
                console: self.dir.path().join("console.log"),
                agent,
            }
        }
    }

    impl Drop for HostAgent {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    #[test]
    fn agent_runs_commands_with_their_output_status_and_arguments() {
        let agent = HostAgent::start();
        let out = agent
            .request(&["sh", "-c", "echo out; echo err >&2; exit 3"])
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));

        let out = agent
            .request(&["printf", "[%s]", "a b", "c\nd", ""])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "[a b][c\nd][]");

        let out = agent.request(&["env"]).output().unwrap();
        let mut env: Vec<_> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('=').next().unwrap().to_string())
            .collect();
        env.sort();
        assert_eq!(
            env,
            ["HOME", "LC_ALL", "PATH", "TMPDIR"],
            "a clean environment"
        );

        let out = agent.request(&["sh", "-c", "kill -9 $$"]).output().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(9));

        let out = agent.request(&["no-such-command"]).output().unwrap();
        assert_eq!(out.status.code(), Some(127));
        let left: Vec<_> = std::fs::read_dir(agent.dir.path().join("agent"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n != "ready")
            .collect();
        assert!(left.is_empty(), "requests left behind: {left:?}");
    }

    #[test]
    fn a_hanging_command_does_not_hold_up_others() {
        let agent = HostAgent::start();
        let slow = agent.request(&["sleep", "5"]);
        let started = Instant::now();
        let hanging = std::thread::spawn(move || slow.output().unwrap());
        std::thread::sleep(Duration::from_millis(200));
        let out = agent.request(&["echo", "quick"]).output().unwrap();
        assert_eq!(out.stdout, b"quick\n");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the quick command waited for the slow one"
        );
        assert!(hanging.join().unwrap().status.success());
    }

    #[test]
    fn a_dead_guest_is_an_error_not_a_wait() {
        let mut agent = HostAgent::start();
        agent.child.kill().unwrap();
        agent.child.wait().unwrap();
        let err = agent.request(&["true"]).output().unwrap_err();
        assert!(err.to_string().contains("exited"), "{err}");
    }

    #[test]
    fn a_dead_agent_in_a_live_guest_is_an_error_not_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let agent = dir.path().join("agent");
        std::fs::create_dir(&agent).unwrap();
        // Stands in for a live qemu (its command line names the overlay); no agent answers.
        let mut qemu = Command::new("sh")
            .args(["-c", "sleep 60", "qemu"])
            .arg(&agent)
            .spawn()
            .unwrap();
        let request = Request {
            argv: encode_argv(&["true"]).unwrap(),
            qemu_pid: qemu.id() as i32,
            overlay: agent.clone(),
            console: dir.path().join("console.log"),
            agent,
        };
        let started = Instant::now();
        let err = request.output().unwrap_err();
        let _ = qemu.kill();
        let _ = qemu.wait();
        assert!(err.to_string().contains("agent took no request"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_command_past_its_deadline_is_an_error_not_a_wait() {
        let agent = HostAgent::start();
        let err = agent
            .request(&["sleep", "60"])
            .output_within(crate::bounded::Limits {
                deadline: Duration::from_secs(1),
                max_output: 1024,
            })
            .unwrap_err();
        assert!(err.to_string().contains("deadline"), "{err}");
    }

    #[test]
    fn vm_builds_live_apart_from_ns_builds() {
        let vm = VmSandbox::new(Path::new("/c"), "trixie");
        let name = vm
            .dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with("vm-trixie-"), "{name}");
        // The ns backend removes every other `trixie-*` folder as outdated.
        assert!(!name.starts_with("trixie-"));
    }
}
