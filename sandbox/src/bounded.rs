//! Running a command whose behaviour we do not trust (a target under test) with bounds: a deadline,
//! a cap on the output kept, and no hang on a descendant that keeps the output pipes open (a
//! `setsid` child escapes `timeout`'s process group and would hold our read forever): once the
//! command has exited, every process still holding its pipes after a short grace is killed.

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The bounds of one command.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// After this the command itself is killed.
    pub deadline: Duration,
    /// Bytes kept of stdout and of stderr each; the rest is read and dropped.
    pub max_output: usize,
}

impl Limits {
    /// How long processes may keep the pipes open after the command exited.
    pub const GRACE: Duration = Duration::from_secs(3);
}

/// What a bounded command did.
#[derive(Debug)]
pub struct Bounded {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The command was killed at its deadline.
    pub timed_out: bool,
    /// Bytes dropped past `max_output` (stdout and stderr together).
    pub dropped: u64,
    /// Processes killed because they held the output open after the command exited.
    pub killed_holders: Vec<i32>,
}

impl Bounded {
    /// A short note for a log, when a bound was hit.
    pub fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.timed_out {
            parts.push("killed at its deadline".to_string());
        }
        if self.dropped > 0 {
            parts.push(format!("{} bytes of output dropped", self.dropped));
        }
        if !self.killed_holders.is_empty() {
            parts.push(format!(
                "killed {:?}, which kept its output open after it exited",
                self.killed_holders
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

struct Stream<R> {
    pipe: Option<R>,
    kept: Vec<u8>,
}

impl<R: Read + AsFd> Stream<R> {
    /// Reads what is there now; returns the bytes dropped past `max`.
    fn drain(&mut self, max: usize) -> u64 {
        let Some(pipe) = &mut self.pipe else { return 0 };
        let mut buf = [0u8; 64 * 1024];
        let mut dropped = 0u64;
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => {
                    self.pipe = None;
                    break;
                }
                Ok(n) => {
                    let room = max.saturating_sub(self.kept.len()).min(n);
                    self.kept.extend_from_slice(&buf[..room]);
                    dropped += (n - room) as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.pipe = None;
                    break;
                }
            }
        }
        dropped
    }
}

fn nonblocking(fd: &impl AsRawFd) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

fn pipe_inode(fd: &impl AsRawFd) -> Option<u64> {
    std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .ok()
        .map(|m| m.ino())
}

/// Every other process holding one of these pipes open, found through `/proc/*/fd`: in the `ns`
/// sandbox its processes are ours to see (a child PID namespace), and on the host they are the
/// command's descendants (only inheritance gives a process our pipe).
fn holders(inodes: &[u64]) -> Vec<i32> {
    let me = std::process::id() as i32;
    let wanted: Vec<String> = inodes.iter().map(|i| format!("pipe:[{i}]")).collect();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|l| wanted.iter().any(|w| l.as_os_str() == w.as_str()))
        });
        if holds {
            found.push(pid);
        }
    }
    found
}

/// Runs `cmd` (stdin from /dev/null) within `limits`.
pub fn run(cmd: &mut Command, limits: Limits) -> Result<Bounded> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child: Child = cmd
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let out = child.stdout.take().expect("piped stdout");
    let err = child.stderr.take().expect("piped stderr");
    nonblocking(&out)?;
    nonblocking(&err)?;
    let inodes: Vec<u64> = [pipe_inode(&out), pipe_inode(&err)]
        .into_iter()
        .flatten()
        .collect();
    let (mut out, mut err) = (
        Stream {
            pipe: Some(out),
            kept: Vec::new(),
        },
        Stream {
            pipe: Some(err),
            kept: Vec::new(),
        },
    );
    let started = Instant::now();
    let mut status: Option<ExitStatus> = None;
    let mut exited_at: Option<Instant> = None;
    let mut timed_out = false;
    let mut dropped = 0u64;
    let mut killed_holders = Vec::new();
    loop {
        {
            let mut fds = Vec::new();
            if let Some(p) = &out.pipe {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            }
            if let Some(p) = &err.pipe {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            }
            if fds.is_empty() {
                if status.is_none() {
                    std::thread::sleep(Duration::from_millis(20));
                }
            } else {
                let _ = poll(&mut fds, PollTimeout::from(50u16));
            }
        }
        dropped += out.drain(limits.max_output);
        dropped += err.drain(limits.max_output);
        if status.is_none() {
            if let Some(s) = child.try_wait()? {
                status = Some(s);
                exited_at = Some(Instant::now());
            } else if started.elapsed() > limits.deadline {
                timed_out = true;
                let _ = child.kill();
                status = Some(child.wait()?);
                exited_at = Some(Instant::now());
            }
        }
        let open = out.pipe.is_some() || err.pipe.is_some();
        match (exited_at, open) {
            (Some(_), false) => break,
            (Some(at), true) if at.elapsed() > Limits::GRACE => {
                if killed_holders.is_empty() {
                    killed_holders = holders(&inodes);
                    for pid in &killed_holders {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(*pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
                // Whatever still holds them (a process we may not see) does not hold us.
                if at.elapsed() > Limits::GRACE * 2 || killed_holders.is_empty() {
                    break;
                }
            }
            _ => {}
        }
    }
    Ok(Bounded {
        status: status.expect("the loop ends once the command exited"),
        stdout: out.kept,
        stderr: err.kept,
        timed_out,
        dropped,
        killed_holders,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, deadline: u64, max: usize) -> Bounded {
        run(
            Command::new("sh").args(["-c", script]),
            Limits {
                deadline: Duration::from_secs(deadline),
                max_output: max,
            },
        )
        .unwrap()
    }

    #[test]
    fn an_ordinary_command() {
        let b = sh("echo out; echo err >&2; exit 3", 10, 1024);
        assert_eq!(b.status.code(), Some(3));
        assert_eq!(b.stdout, b"out\n");
        assert_eq!(b.stderr, b"err\n");
        assert!(b.note().is_none());
    }

    #[test]
    fn a_detached_child_holding_stdout_does_not_hang_the_caller() {
        let started = Instant::now();
        // The child is in a new session, beyond the reach of a process-group kill.
        let b = sh("setsid sleep 1000 & echo done", 30, 1024);
        assert!(started.elapsed() < Duration::from_secs(15), "hung");
        assert_eq!(b.status.code(), Some(0));
        assert_eq!(b.stdout, b"done\n");
        assert_eq!(b.killed_holders.len(), 1, "{b:?}");
        let pid = b.killed_holders[0];
        std::thread::sleep(Duration::from_millis(200));
        let alive =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
        assert!(!alive, "the holder {pid} still runs");
    }

    #[test]
    fn endless_output_is_capped_and_the_deadline_kills() {
        let b = sh("yes", 2, 4096);
        assert!(b.timed_out);
        assert_eq!(b.stdout.len(), 4096);
        assert!(b.dropped > 0);
    }
}
