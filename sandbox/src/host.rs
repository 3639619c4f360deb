//! Facts about the host the sandbox runs on, each read from the kernel or the filesystem, and the
//! preconditions whose failure must name its fix.

use anyhow::{bail, Context, Result};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Why a sandbox cannot exist on this machine: tests turn this into a SKIP with the reason.
#[derive(Debug)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Unavailable {}

pub fn require_root() -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Unavailable(
            "the ns sandbox needs root (it creates mount, PID and network namespaces): run as root, \
             or use --sandbox none with a podman already installed"
                .into(),
        )
        .into());
    }
    Ok(())
}

/// The host's Debian mirror: `CKPT_DEBIAN_MIRROR`, else the first `debian` URI in apt's sources.
pub fn debian_mirror() -> String {
    if let Ok(m) = std::env::var("CKPT_DEBIAN_MIRROR") {
        return m;
    }
    mirror_from_sources().unwrap_or_else(|| "http://deb.debian.org/debian".to_string())
}

fn mirror_from_sources() -> Option<String> {
    let mut texts = vec![std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default()];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for e in entries.flatten() {
            texts.push(std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    texts.iter().find_map(|t| parse_mirror(t))
}

/// Finds a URI ending in `/debian` in one-line (`deb URI suite`) or deb822 (`URIs: URI`) sources.
pub fn parse_mirror(sources: &str) -> Option<String> {
    sources.lines().find_map(|line| {
        let line = line.trim();
        if line.starts_with('#') {
            return None;
        }
        line.split_whitespace()
            .find(|w| w.starts_with("http") && w.trim_end_matches('/').ends_with("/debian"))
            .map(|w| w.trim_end_matches('/').to_string())
    })
}

/// Checks that the mirror answers on TCP, so that a closed network fails in seconds with its fix.
pub fn require_mirror_reachable(mirror: &str) -> Result<()> {
    let rest = mirror.split_once("://").map(|(_, r)| r).unwrap_or(mirror);
    let host = rest.split('/').next().unwrap_or(rest);
    let default_port = if mirror.starts_with("https") { 443 } else { 80 };
    let authority = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:{default_port}")
    };
    let unreachable = |why: String| -> anyhow::Error {
        Unavailable(format!(
            "the Debian mirror {mirror} is unreachable ({why}): connect this machine to it, or set \
             CKPT_DEBIAN_MIRROR to a mirror it can reach"
        ))
        .into()
    };
    let addrs: Vec<_> = authority
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(unreachable(last))
}

/// Fails when the filesystem holding `dir` has less than `bytes` free.
pub fn require_free_space(dir: &Path, bytes: u64) -> Result<()> {
    let stat =
        nix::sys::statvfs::statvfs(dir).with_context(|| format!("statvfs {}", dir.display()))?;
    let free = stat.blocks_available() as u64 * stat.fragment_size() as u64;
    if free < bytes {
        bail!(
            "the sandbox cache {} has {} MiB free, and a sandbox needs {} MiB: free some space, or \
             point CKPT_SANDBOX_CACHE (or --cache-dir) at a larger disk",
            dir.display(),
            free >> 20,
            bytes >> 20
        );
    }
    Ok(())
}

/// Installs a Debian package on the host when its command is missing.
pub fn ensure_host_command(command: &str, package: &str) -> Result<()> {
    if which(command).is_some() {
        return Ok(());
    }
    eprintln!("[sandbox] {command} is missing: installing Debian package {package}");
    let apt = |args: &[&str]| {
        std::process::Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(std::process::Stdio::null())
            .status()
    };
    let mut status = apt(&["install", "-y", "-q", package]);
    if which(command).is_none() {
        // The package lists may be stale (or absent) on a fresh machine.
        let _ = apt(&["update", "-q"]);
        status = apt(&["install", "-y", "-q", package]);
    }
    if which(command).is_none() {
        bail!(
            "{command} is missing and `apt-get install {package}` did not provide it ({status:?}): \
             install {package} from Debian's packages"
        );
    }
    Ok(())
}

/// Installs qemu-system-x86 on the host when `qemu-system-x86_64` is missing. Machines that carry a
/// backported qemu-utils (qemu-img) cannot take the stable qemu-system-x86 beside it (it `Breaks`
/// the older one): there it comes from the same backports, through a package list private to this
/// install, so the host's apt sources stay as they are.
pub fn ensure_qemu() -> Result<()> {
    const COMMAND: &str = "qemu-system-x86_64";
    if which(COMMAND).is_some() {
        return Ok(());
    }
    if ensure_host_command(COMMAND, "qemu-system-x86").is_ok() {
        return Ok(());
    }
    let codename = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME=").map(str::to_string))
        .unwrap_or_default();
    if codename.is_empty() {
        bail!("{COMMAND} is missing and apt-get could not install qemu-system-x86: install it");
    }
    eprintln!("[sandbox] installing qemu-system-x86 from {codename}-backports, to match the installed qemu-utils");
    let mirror = debian_mirror();
    let private = std::env::temp_dir().join(format!("ckpt-apt-backports-{}", std::process::id()));
    std::fs::create_dir_all(private.join("lists/partial"))?;
    std::fs::write(
        private.join("sources.list"),
        format!("deb {mirror} {codename} main\ndeb {mirror} {codename}-backports main\n"),
    )?;
    let apt = |args: &[&str]| {
        std::process::Command::new("apt-get")
            .arg("-o")
            .arg(format!(
                "Dir::Etc::SourceList={}",
                private.join("sources.list").display()
            ))
            .args([
                "-o",
                "Dir::Etc::SourceParts=-",
                "-o",
                "APT::Sandbox::User=root",
            ])
            .arg("-o")
            .arg(format!(
                "Dir::State::Lists={}",
                private.join("lists").display()
            ))
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
    };
    let update = apt(&["update", "-q"]);
    let backports = format!("{codename}-backports");
    let install = apt(&[
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "-t",
        &backports,
        "qemu-system-x86",
    ]);
    let _ = std::fs::remove_dir_all(&private);
    if which(COMMAND).is_none() {
        let why = [update, install]
            .into_iter()
            .filter_map(|r| r.ok())
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .collect::<String>();
        bail!(
            "{COMMAND} is missing, and neither {codename} nor {codename}-backports could install \
             qemu-system-x86: install it by hand (apt-get install qemu-system-x86)\n{why}"
        );
    }
    Ok(())
}

/// For a command that starts a daemon (the sandbox's first process, qemu): the daemon must not keep
/// the caller's open files, such as the lock of `flock FILE cargo ...` or a pipe a CI reads to its
/// end, for as long as the sandbox runs.
pub fn no_inherited_files(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: close_range is async-signal-safe. CLOEXEC rather than close: the files the standard
    // library set up for this exec (its error pipe) stay usable until the exec.
    unsafe {
        cmd.pre_exec(|| {
            use nix::libc;
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            Ok(())
        })
    }
}

pub fn which(command: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(command))
        .find(|p| p.is_file())
}

/// Where the host has cgroup2 mounted (`/sys/fs/cgroup` on a pure v2 host, `.../unified` on a
/// hybrid one).
pub fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (_, dir, fstype) = (f.next()?, f.next()?, f.next()?);
        (fstype == "cgroup2").then(|| PathBuf::from(dir))
    })
}

/// Every directory below `root` (cgroups), deepest last.
pub fn cgroup_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    out.push(e.path());
                    stack.push(e.path());
                }
            }
        }
    }
    out
}

/// The host's mount table as lines, to count what a sandbox leaves behind.
pub fn mount_lines() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The mount namespace of a process, as the kernel names it (`mnt:[4026532…]`).
pub fn mount_namespace(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// PIDs of the processes in the mount namespace `ns`: a sandbox's processes, seen from the host.
pub fn processes_in_mount_namespace(ns: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| mount_namespace(*pid).as_deref() == Some(ns))
        .collect()
}

/// Creates `dir` (and its parents) when missing and makes sure it is a folder of ours alone: not a
/// link, owned by this user, written by no one else (mode 0700 when created). A folder that fails
/// this was made by someone else, and the run refuses it rather than share files through it.
pub fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
        bail!(
            "{} is not a private folder of this user (a link, another owner, or writable by others): remove it and run again",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_dir_is_ours_alone() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let fresh = base.path().join("a/share");
        private_dir(&fresh).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        private_dir(&fresh).unwrap(); // again: the same folder is fine
                                      // Made first by someone else: writable by all, or a link to elsewhere.
        let open = base.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(private_dir(&open).is_err());
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert!(private_dir(&link).is_err());
    }

    /// A file the test process holds open without close-on-exec, as `flock FILE cmd` passes its
    /// lock: does a child see it?
    fn child_sees_inherited_file(detach: bool) -> bool {
        use std::os::fd::AsRawFd;
        let file = tempfile::tempfile().unwrap();
        // F_DUPFD makes a copy without close-on-exec, above the numbers `ls` opens itself.
        let fd = nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD(200)).unwrap();
        let mut cmd = Command::new("ls");
        cmd.arg("/proc/self/fd");
        if detach {
            no_inherited_files(&mut cmd);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        let seen = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .any(|f| f == fd.to_string());
        nix::unistd::close(fd).unwrap();
        seen
    }

    #[test]
    fn a_daemon_does_not_inherit_open_files() {
        assert!(child_sees_inherited_file(false), "the test cannot fail");
        assert!(!child_sees_inherited_file(true));
    }

    #[test]
    fn mirror_from_one_line_and_deb822_sources() {
        assert_eq!(
            parse_mirror("deb http://ftp.example.org/debian/ bookworm main\n").as_deref(),
            Some("http://ftp.example.org/debian")
        );
        let deb822 = "Types: deb\n# http://snapshot.debian.org/archive/debian/2025\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n";
        assert_eq!(
            parse_mirror(deb822).as_deref(),
            Some("http://deb.debian.org/debian")
        );
        assert_eq!(
            parse_mirror("deb https://deb.nodesource.com/node_20.x nodistro main"),
            None
        );
    }

    #[test]
    fn unreachable_mirror_is_unavailable_and_names_the_fix() {
        let err = require_mirror_reachable("http://127.0.0.1:9/debian").unwrap_err();
        assert!(err.downcast_ref::<Unavailable>().is_some());
        assert!(err.to_string().contains("CKPT_DEBIAN_MIRROR"), "{err}");
    }
}
