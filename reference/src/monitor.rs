//! The per-container monitor, refpod's own small conmon. A detached `refpod monitor` process
//! starts the container through the runtime (`run --detach` or `restore --detach`) as a child
//! subreaper, so that the container's init becomes its child: it holds the read ends of the
//! container's stdout/stderr pipes (CRIU needs anonymous pipes there, which it can dump and
//! reconnect; see crun's descriptors.json), copies them to `userdata/ctr.log`, reaps the init
//! process, and records the exit. It reports "started" or the runtime's error to the command that
//! spawned it through a pipe.

use crate::container::{Container, Status};
use crate::ids::ContainerId;
use crate::rootfs;
use crate::runtime::{RestoreFlags, Runtime};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the monitor tells the command that spawned it.
#[derive(Serialize, Deserialize)]
struct Report {
    pid: i32,
    runtime_micros: u64,
    error: Option<String>,
}

pub struct Started {
    pub pid: i32,
    pub runtime_duration: Duration,
}

/// Starts (or restores, with `restore`) the container under a new monitor and waits until the
/// runtime is done. The caller holds the container's lock; a new generation is saved here
/// so that a previous run's monitor leaves this run alone.
pub fn start(store: &Store, c: &mut Container, restore: Option<RestoreFlags>) -> Result<Started> {
    // Random, not a counter: a container re-imported under the same ID must not match the
    // generation of a monitor left from its first life.
    c.state.generation = u64::from_str_radix(&crate::ids::random_hex(8), 16)?;
    c.save(store)?;
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let paths = c.paths(store);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(paths.dir.join("monitor.log"))?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--root")
        .arg(&store.root)
        .arg("monitor")
        .arg(&c.config.id)
        .arg("--generation")
        .arg(c.state.generation.to_string())
        .arg("--sync-fd")
        .arg(write_end.as_raw_fd().to_string());
    if let Some(flags) = restore {
        cmd.arg("--restore");
        if flags.tcp_established {
            cmd.arg("--tcp-established");
        }
        if flags.file_locks {
            cmd.arg("--file-locks");
        }
    }
    let fd = write_end.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // The report pipe must survive exec in the monitor (and only there).
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut child = cmd.spawn().context("starting the container monitor")?;
    drop(write_end);
    drop(cmd);
    let mut text = String::new();
    File::from(read_end).read_to_string(&mut text)?;
    // The monitor is a daemon (setsid): only its first fork is ours to reap, and it returns at once.
    let _ = child.try_wait();
    let report: Report = serde_json::from_str(text.trim()).map_err(|_| {
        anyhow::anyhow!(
            "the container monitor ended without a report (see {})",
            paths.dir.join("monitor.log").display()
        )
    })?;
    if let Some(e) = report.error {
        bail!(e);
    }
    Ok(Started {
        pid: report.pid,
        runtime_duration: Duration::from_micros(report.runtime_micros),
    })
}

/// What `start` hands to the monitor process (`refpod monitor`'s arguments).
pub struct Job {
    pub id: ContainerId,
    /// The run this monitor owns (see `finalize`).
    pub generation: u64,
    /// The write end of the pipe on which the monitor reports that the container started.
    pub sync_fd: i32,
    /// Restore from `<userdata>/checkpoint` instead of running the command.
    pub restore: Option<RestoreFlags>,
}

/// The monitor process itself.
pub fn monitor_main(store: &Store, args: &Job) -> Result<()> {
    let _ = nix::unistd::setsid();
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    // SAFETY: the fd was handed to us by `start` for this purpose alone.
    let mut sync = unsafe { File::from_raw_fd(args.sync_fd) };
    let started = match launch(store, args) {
        Ok(s) => s,
        Err(e) => {
            let report = Report {
                pid: 0,
                runtime_micros: 0,
                error: Some(format!("{e:#}")),
            };
            let _ = writeln!(sync, "{}", serde_json::to_string(&report)?);
            return Ok(());
        }
    };
    let report = Report {
        pid: started.pid,
        runtime_micros: started.runtime_duration.as_micros() as u64,
        error: None,
    };
    writeln!(sync, "{}", serde_json::to_string(&report)?)?;
    drop(sync);
    let code = wait_for(started.pid);
    finalize(store, &args.id, args.generation, code)
}

/// Runs the runtime with the container's stdio on pipes whose read ends we keep.
fn launch(store: &Store, args: &Job) -> Result<Started> {
    let c = Container::load(store, &args.id)?.context("the container is gone")?;
    let rt = Runtime::new(&c.config.runtime)?;
    let paths = c.paths(store);
    let ud = &paths.userdata;
    let _ = fs::remove_file(ud.join("pidfile"));
    let _ = fs::remove_file(ud.join("runtime.log"));
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(ud.join("ctr.log"))?;
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    copy_to_log(out_r, log.try_clone()?);
    copy_to_log(err_r, log);
    let mut cmd = rt.start_command(&c.config.id, ud, args.restore);
    cmd.stdin(File::open("/dev/null")?)
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w));
    let start = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("running {}", rt.path.display()))?;
    let took = start.elapsed();
    // Our copies of the write ends go with the command: EOF then means the container is done.
    drop(cmd);
    if !status.success() {
        let log = fs::read_to_string(ud.join("runtime.log")).unwrap_or_default();
        let mut msg = format!("OCI runtime error: {}: {}", rt.name, runtime_message(&log));
        // CRIU's own reasons, which the runtime only points at.
        if args.restore.is_some() {
            let criu = fs::read_to_string(ud.join("restore.log")).unwrap_or_default();
            for line in criu.lines().filter(|l| l.contains("Error (")).take(5) {
                msg.push_str("\nCRIU: ");
                msg.push_str(line.trim());
            }
        }
        bail!(msg);
    }
    let pid: i32 = fs::read_to_string(ud.join("pidfile"))
        .context("reading the runtime's pid file")?
        .trim()
        .parse()
        .context("parsing the runtime's pid file")?;
    Ok(Started {
        pid,
        runtime_duration: took,
    })
}

/// The runtime's error lines without their log decoration (crun: `<time> error: msg`; runc:
/// `time="..." level=error msg="..."`).
fn runtime_message(log: &str) -> String {
    let lines: Vec<String> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            if let Some(i) = l.find("msg=\"") {
                return l[i + 5..].trim_end_matches('"').to_string();
            }
            match l.split_once(": ") {
                Some((head, rest))
                    if head.contains('T')
                        && head.chars().next().is_some_and(|c| c.is_ascii_digit()) =>
                {
                    rest.trim_start_matches("error: ").to_string()
                }
                _ => l.to_string(),
            }
        })
        .collect();
    if lines.is_empty() {
        "the runtime failed without a message".into()
    } else {
        lines.join("\n")
    }
}

fn copy_to_log(from: OwnedFd, mut to: File) {
    std::thread::spawn(move || {
        let mut from = File::from(from);
        let _ = std::io::copy(&mut from, &mut to);
    });
}

/// Reaps children until the container's init exits; its status as a shell would print it.
fn wait_for(pid: i32) -> i32 {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return code,
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => return 128 + sig as i32,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    // Not our child after all (it was never reparented to us): poll until it is gone.
    while nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok() {
        std::thread::sleep(Duration::from_millis(100));
    }
    -1
}

/// Records the exit, unless a newer run (a restore) has taken over the container.
fn finalize(store: &Store, id: &ContainerId, generation: u64, code: i32) -> Result<()> {
    let _lock = store.lock_container(id)?;
    let Some(mut c) = Container::load(store, id)? else {
        return Ok(());
    };
    if c.state.generation != generation {
        return Ok(());
    }
    if matches!(c.state.status, Status::Running | Status::Paused) {
        c.state.status = Status::Exited;
        c.state.exit_code = code;
        c.state.finished_at = Some(chrono::Utc::now());
    }
    c.state.pid = 0;
    let rt = Runtime::new(&c.config.runtime)?;
    rt.delete(id);
    rootfs::unmount(&c.paths(store).merged);
    if c.config.autoremove && !c.state.checkpointed {
        return c.remove(store);
    }
    c.save(store)
}
