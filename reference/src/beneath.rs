//! Reading the members of an unpacked archive without following links. Every path is opened with
//! openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) from the archive's folder, so that a member that
//! is a symlink (`network.status -> /etc/shadow`, `checkpoint -> /`) or a name with `..` is refused
//! instead of read, copied or renamed into the container.

use anyhow::{bail, Context, Result};
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use std::fs::{self, File};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::Path;

/// Opens `rel` beneath the folder `base` with openat2: no symlink or magic link anywhere on the
/// way, no `..` out of it (`flags` gain O_CLOEXEC and O_NOFOLLOW; `mode` applies with O_CREAT).
pub fn open_at(base: &File, rel: &Path, flags: OFlag, mode: Mode) -> nix::Result<File> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
        .mode(mode)
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS,
        );
    let fd = openat2(base.as_raw_fd(), rel, how)?;
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Opens `rel` beneath `dir`; `None` when it does not exist.
fn open(dir: &Path, rel: &str, flags: OFlag) -> Result<Option<File>> {
    let base = File::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    match open_at(&base, Path::new(rel), flags, Mode::empty()) {
        Ok(f) => Ok(Some(f)),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(nix::errno::Errno::ELOOP | nix::errno::Errno::EXDEV) => {
            bail!("the archive's {rel} is a symbolic link or leaves the archive")
        }
        Err(e) => Err(e).with_context(|| format!("opening the archive's {rel}")),
    }
}

/// The regular file `rel` beneath `dir`, opened for reading; `None` when it does not exist.
pub fn file(dir: &Path, rel: &str) -> Result<Option<File>> {
    let Some(f) = open(dir, rel, OFlag::O_RDONLY)? else {
        return Ok(None);
    };
    if !f.metadata()?.file_type().is_file() {
        bail!("the archive's {rel} is not a regular file");
    }
    Ok(Some(f))
}

/// The content of the regular file `rel` beneath `dir`.
pub fn read(dir: &Path, rel: &str) -> Result<Option<Vec<u8>>> {
    let Some(mut f) = file(dir, rel)? else {
        return Ok(None);
    };
    let mut out = vec![];
    std::io::Read::read_to_end(&mut f, &mut out)?;
    Ok(Some(out))
}

/// CRIU's link from a dump to the pre-checkpoint it builds on (`--with-previous`), as podman
/// writes it: the one link a checkpoint folder may hold, and only with exactly this target.
pub const PARENT_LINK: (&str, &str) = ("checkpoint/parent", "../pre-checkpoint");

/// Whether `rel` beneath `dir` is a folder holding only folders and regular files (no link,
/// device or socket anywhere inside, but the `links` named with their exact targets); an error
/// when it is anything else.
pub fn plain_dir(dir: &Path, rel: &str, links: &[(&str, &str)]) -> Result<bool> {
    let Some(f) = open(dir, rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY)? else {
        return Ok(false);
    };
    drop(f);
    check_tree(&dir.join(rel), rel, links)?;
    Ok(true)
}

fn check_tree(path: &Path, shown: &str, links: &[(&str, &str)]) -> Result<()> {
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = format!("{shown}/{}", entry.file_name().to_string_lossy());
        if kind.is_dir() {
            check_tree(&entry.path(), &name, links)?;
        } else if kind.is_symlink()
            && links.iter().any(|(n, target)| {
                *n == name && fs::read_link(entry.path()).is_ok_and(|t| t == Path::new(target))
            })
        {
            // Allowed by name and target; whoever follows it stays beneath the archive.
        } else if !kind.is_file() {
            bail!("the archive's {name} is not a regular file or folder");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_and_escapes_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let secret = t.path().join("secret");
        fs::write(&secret, "host file").unwrap();
        let d = t.path().join("archive");
        fs::create_dir_all(d.join("checkpoint")).unwrap();
        fs::write(d.join("config.dump"), "{}").unwrap();
        symlink(&secret, d.join("network.status")).unwrap();
        symlink("../secret", d.join("ctr.log")).unwrap();
        symlink("/", d.join("linked")).unwrap();
        symlink(&secret, d.join("checkpoint/pages-1.img")).unwrap();
        assert_eq!(read(&d, "config.dump").unwrap().unwrap(), b"{}");
        assert!(read(&d, "missing").unwrap().is_none());
        for bad in [
            "network.status",
            "ctr.log",
            "../secret",
            "linked/etc/passwd",
        ] {
            assert!(read(&d, bad).is_err(), "{bad}");
        }
        assert!(read(&d, "checkpoint").is_err(), "a folder is not a file");
        assert!(plain_dir(&d, "linked", &[]).is_err());
        let e = plain_dir(&d, "checkpoint", &[PARENT_LINK]).unwrap_err();
        assert!(format!("{e:#}").contains("pages-1.img"), "{e:#}");
        fs::remove_file(d.join("checkpoint/pages-1.img")).unwrap();
        assert!(plain_dir(&d, "checkpoint", &[]).unwrap());
        assert!(!plain_dir(&d, "missing", &[]).unwrap());
        // A --with-previous dump's parent link, with podman's target and no other.
        symlink("../pre-checkpoint", d.join("checkpoint/parent")).unwrap();
        assert!(plain_dir(&d, "checkpoint", &[PARENT_LINK]).unwrap());
        assert!(plain_dir(&d, "checkpoint", &[]).is_err());
        fs::remove_file(d.join("checkpoint/parent")).unwrap();
        symlink("/", d.join("checkpoint/parent")).unwrap();
        assert!(plain_dir(&d, "checkpoint", &[PARENT_LINK]).is_err());
    }
}
