//! Each container's network namespace, made by refpod (loopback only, up) and pinned on
//! `/run/refpod/netns/<id>`, as podman's come from netavark. The runtime then treats it as
//! external: CRIU neither dumps nor recreates it, and a restore joins the container's namespace.
//! This is what makes TCP restores work with runc too, which never restores network devices
//! itself (it always passes CLONE_NEWNET in CRIU's empty-ns mask).

use crate::ids::ContainerId;
use crate::rootfs::is_mounted;
use anyhow::{bail, Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use std::fs;
use std::path::{Path, PathBuf};

pub fn path(id: &ContainerId) -> PathBuf {
    PathBuf::from("/run/refpod/netns").join(id)
}

/// Makes the namespace unless it is already pinned.
pub fn ensure(id: &ContainerId) -> Result<PathBuf> {
    let p = path(id);
    if is_mounted(&p) {
        return Ok(p);
    }
    fs::create_dir_all(p.parent().expect("a parent"))?;
    fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?;
    let target = p.clone();
    // The network namespace belongs to a thread: a short-lived one moves into a new namespace,
    // brings loopback up and pins the namespace with a bind mount (the mount namespace is shared).
    std::thread::spawn(move || -> Result<()> {
        unshare(CloneFlags::CLONE_NEWNET).context("unshare(CLONE_NEWNET)")?;
        loopback_up()?;
        mount(
            Some(Path::new("/proc/thread-self/ns/net")),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .context("pinning the network namespace")
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the network namespace thread panicked"))?
    .with_context(|| format!("creating the network namespace {}", p.display()))?;
    Ok(p)
}

/// Sets IFF_UP on `lo` in the calling thread's network namespace.
fn loopback_up() -> Result<()> {
    // SAFETY: plain socket and ioctl calls on a zeroed ifreq naming "lo".
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            bail!("socket: {}", std::io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let result = if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        libc::close(fd);
        result.context("bringing lo up")
    }
}

/// Unpins and forgets the namespace; quiet when there is none.
pub fn remove(id: &ContainerId) {
    let p = path(id);
    while is_mounted(&p) {
        if umount2(&p, MntFlags::MNT_DETACH).is_err() {
            break;
        }
    }
    let _ = fs::remove_file(&p);
}
