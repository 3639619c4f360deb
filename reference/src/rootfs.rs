//! The container's root file system: an overlay of the image's layers (lower, read-only) and a
//! per-container upper dir. The upper dir is the exact record of what the container changed:
//! added and modified files are there, and deletions are whiteouts (0/0 character devices) or
//! opaque directories. That gives `rootfs-diff.tar` and `deleted.files` without guessing, and an
//! import writes them back into a fresh upper dir.

use anyhow::{Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{mknod, Mode, SFlag};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mounts the overlay at `merged` unless it is already there.
pub fn mount_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, merged: &Path) -> Result<()> {
    if is_mounted(merged) {
        return Ok(());
    }
    for d in [upper, work, merged] {
        fs::create_dir_all(d)?;
    }
    // The container's root has its image's mode (overlayfs shows the upper dir's), as in podman.
    if let Some(top) = lowers.last() {
        let mode = fs::metadata(top)?.permissions().mode() & 0o7777;
        if fs::metadata(upper)?.permissions().mode() & 0o7777 != mode {
            fs::set_permissions(upper, fs::Permissions::from_mode(mode))?;
        }
    }
    // overlayfs lists the topmost lower dir first.
    let lowerdir: Vec<String> = lowers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    let base = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowerdir.join(":"),
        upper.display(),
        work.display()
    );
    // Without metacopy and redirects every change in the upper dir is a whole file or a whiteout.
    let exact = format!("{base},redirect_dir=off,metacopy=off,index=off");
    let attempt = |opts: &str| {
        mount(
            Some("overlay"),
            merged,
            Some("overlay"),
            MsFlags::empty(),
            Some(opts),
        )
    };
    attempt(&exact)
        .or_else(|_| attempt(&base))
        .with_context(|| format!("mounting the overlay rootfs at {}", merged.display()))
}

/// Detaches the overlay; quiet when nothing is mounted there.
pub fn unmount(merged: &Path) {
    while is_mounted(merged) {
        if umount2(merged, MntFlags::MNT_DETACH).is_err() {
            break;
        }
    }
}

pub fn is_mounted(path: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.display().to_string();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape_mountinfo(mp) == want)
}

fn unescape_mountinfo(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// What the container changed, rootfs-relative (no leading '/').
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Added or modified: files, symlinks, and directories that are not in any lower layer.
    pub changed: Vec<String>,
    /// Deleted paths.
    pub deleted: Vec<String>,
}

/// Reads the upper dir against the lower layers.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Changes> {
    let mut out = Changes::default();
    walk(upper, upper, lowers, &mut out)?;
    out.changed.sort();
    out.deleted.sort();
    Ok(out)
}

fn in_lower(lowers: &[PathBuf], rel: &str) -> bool {
    lowers
        .iter()
        .any(|l| l.join(rel).symlink_metadata().is_ok())
}

fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    matches!(xattr::get(dir, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y")
}

fn walk(upper: &Path, dir: &Path, lowers: &[PathBuf], out: &mut Changes) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path.strip_prefix(upper)?.to_string_lossy().into_owned();
        // A running container may remove an entry between the listing and this look at it.
        let meta = match entry.path().symlink_metadata() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            other => other?,
        };
        if is_whiteout(&meta) {
            out.deleted.push(rel);
        } else if meta.is_dir() {
            if !in_lower(lowers, &rel) {
                out.changed.push(rel.clone());
            } else if is_opaque(&path) {
                // Deleted and made again: whatever the lower layers had in it is gone.
                let present: BTreeSet<_> = fs::read_dir(&path)?
                    .filter_map(|e| e.ok().map(|e| e.file_name()))
                    .collect();
                let mut gone = BTreeSet::new();
                for l in lowers {
                    if let Ok(rd) = fs::read_dir(l.join(&rel)) {
                        for e in rd.flatten() {
                            if !present.contains(&e.file_name()) {
                                gone.insert(format!("{rel}/{}", e.file_name().to_string_lossy()));
                            }
                        }
                    }
                }
                out.deleted.extend(gone);
            }
            walk(upper, &path, lowers, out)?;
        } else {
            out.changed.push(rel);
        }
    }
    Ok(())
}

/// Marks `rel` deleted in a (fresh) upper dir with a whiteout. `rel` has been checked to stay
/// inside; its parents are created as real directories, never followed through a symlink.
pub fn add_whiteout(upper: &Path, rel: &str) -> Result<()> {
    let rel = crate::archive::safe_relative(rel)
        .with_context(|| format!("refusing deleted path {rel:?}"))?;
    let mut dir = upper.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        dir.push(part);
        match dir.symlink_metadata() {
            Ok(m) if m.is_dir() => {}
            Ok(_) => anyhow::bail!("{} is not a directory", dir.display()),
            Err(_) => fs::create_dir(&dir)?,
        }
    }
    let target = upper.join(&rel);
    if target.symlink_metadata().is_ok() {
        if target.symlink_metadata()?.is_dir() {
            fs::remove_dir_all(&target)?;
        } else {
            fs::remove_file(&target)?;
        }
    }
    mknod(&target, SFlag::S_IFCHR, Mode::empty(), 0)
        .with_context(|| format!("making the whiteout {}", target.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_dir_changes_are_read_exactly() {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path().join("lower");
        let upper = t.path().join("upper");
        fs::create_dir_all(lower.join("etc")).unwrap();
        fs::write(lower.join("etc/motd"), "old").unwrap();
        fs::write(lower.join("etc/deleteme"), "x").unwrap();
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::create_dir_all(upper.join("newdir")).unwrap();
        fs::write(upper.join("etc/motd"), "new").unwrap();
        fs::write(upper.join("added"), "added").unwrap();
        std::os::unix::fs::symlink("/etc/motd", upper.join("link")).unwrap();
        let c = changes(&upper, &[lower]).unwrap();
        assert_eq!(c.changed, vec!["added", "etc/motd", "link", "newdir"]);
        assert!(c.deleted.is_empty());
    }
}
