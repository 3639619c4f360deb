//! A naive extractor, as a vulnerable engine has one: member names are used as written (an
//! absolute name stays absolute, the kernel resolves `..`), symlinks and hard links are made as
//! the archive says and followed by later members, an existing file is opened and truncated
//! (written through a hard link), and an export's inner tars (`rootfs-diff.tar`,
//! `volumes/<v>.tar`, `devshm-checkpoint.tar`) and `deleted.files` are applied the same way.
//! Only sizes are bounded, so that a bomb cannot fill the sandbox's disk: the mutant is about
//! where files land, not about resources.

use crate::archive::{self, MAX_READ};
use anyhow::Result;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A member larger than this is skipped.
const MAX_MEMBER: u64 = 16 << 20;

/// Extracts the export at `archive` into `dest`, then its inner tars into `dest/rootfs`,
/// `dest/devshm` and `dest/volume-data/<v>`, then removes what `deleted.files` lists from
/// `dest/rootfs`. Errors of single members are ignored, as a best-effort extractor does.
pub fn import(archive: &Path, dest: &Path) -> Result<()> {
    fs::create_dir_all(dest)?;
    untar(archive::reader(archive)?, dest);
    for (inner, into) in [
        ("rootfs-diff.tar", "rootfs"),
        ("devshm-checkpoint.tar", "devshm"),
    ] {
        if let Ok(file) = File::open(dest.join(inner)) {
            untar(file.take(MAX_READ), &dest.join(into));
        }
    }
    if let Ok(volumes) = fs::read_dir(dest.join("volumes")) {
        for v in volumes.flatten() {
            let name = v.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".tar")) else {
                continue;
            };
            if let Ok(file) = File::open(v.path()) {
                untar(file.take(MAX_READ), &dest.join("volume-data").join(stem));
            }
        }
    }
    if let Ok(text) = fs::read(dest.join("deleted.files")) {
        let listed: Vec<String> = serde_json::from_slice(&text).unwrap_or_default();
        for entry in listed {
            // Joined without a check: `../…` climbs out, an absolute entry replaces the root.
            let path = dest.join("rootfs").join(entry);
            let _ = match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => fs::remove_dir_all(&path),
                Ok(_) => fs::remove_file(&path),
                Err(e) => Err(e),
            };
        }
    }
    Ok(())
}

/// Writes every member of the tar under `dest`, naively; stops at the first unreadable header.
fn untar(reader: impl Read, dest: &Path) {
    let _ = fs::create_dir_all(dest);
    let mut archive = tar::Archive::new(reader);
    let Ok(entries) = archive.entries() else {
        return;
    };
    for entry in entries {
        let Ok(mut entry) = entry else { break };
        let target = dest.join(OsStr::from_bytes(&entry.path_bytes()));
        let kind = entry.header().entry_type();
        let _ = match kind {
            tar::EntryType::Directory => fs::create_dir_all(&target),
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if entry.size() > MAX_MEMBER {
                    continue;
                }
                if let Some(parent) = target.parent() {
                    let _ = fs::create_dir_all(parent);
                }
                // Follows a symlink in the way and truncates a hard-linked file in place.
                File::create(&target).and_then(|mut f| std::io::copy(&mut entry, &mut f).map(drop))
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let Some(link) = entry.link_name_bytes() else {
                    continue;
                };
                let link = OsStr::from_bytes(&link).to_owned();
                let _ = fs::remove_file(&target);
                if kind == tar::EntryType::Symlink {
                    std::os::unix::fs::symlink(&link, &target)
                } else {
                    fs::hard_link(dest.join(link), &target)
                }
            }
            // Devices, fifos: nothing that lands outside.
            _ => Ok(()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(members: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(vec![]);
        for (name, kind, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            // Written raw: the tar crate's set_path refuses `..`, which is the point here.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            if matches!(kind, tar::EntryType::Symlink | tar::EntryType::Link) {
                let l = data.as_bytes();
                h.as_old_mut().linkname[..l.len()].copy_from_slice(l);
                h.set_size(0);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            } else {
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, data.as_bytes()).unwrap();
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn writes_where_the_names_and_links_say() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("outside");
        fs::create_dir(&out).unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "victim").unwrap();
        let dest = dir.path().join("a/b/dest");
        let abs = out.join("absolute");
        let reg = tar::EntryType::Regular;
        let tar = tar_of(&[
            ("../../../outside/traversal", reg, "x"),
            (abs.to_str().unwrap(), reg, "x"),
            ("link", tar::EntryType::Symlink, out.to_str().unwrap()),
            ("link/through", reg, "x"),
            ("hard", tar::EntryType::Link, "../../../victim"),
            ("hard", reg, "overwritten"),
        ]);
        let archive = dir.path().join("h.tar");
        fs::write(&archive, &tar).unwrap();
        import(&archive, &dest).unwrap();
        for escaped in ["traversal", "absolute", "through"] {
            assert!(out.join(escaped).exists(), "{escaped}");
        }
        assert_eq!(fs::read_to_string(&victim).unwrap(), "overwritten");
    }

    #[test]
    fn applies_the_inner_tars_and_deleted_files() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "victim").unwrap();
        let inner = tar_of(&[("../../../escape", tar::EntryType::Regular, "x")]);
        let deleted = serde_json::to_string(&[victim.to_str().unwrap()]).unwrap();
        let mut b = tar::Builder::new(vec![]);
        for (name, data) in [
            ("rootfs-diff.tar", inner.as_slice()),
            ("deleted.files", deleted.as_bytes()),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, data).unwrap();
        }
        let archive = dir.path().join("h.tar.zst");
        let bytes = zstd::encode_all(b.into_inner().unwrap().as_slice(), 3).unwrap();
        fs::write(&archive, bytes).unwrap();
        // dest/rootfs is three levels below dir.
        import(&archive, &dir.path().join("x/dest")).unwrap();
        assert!(dir.path().join("escape").exists());
        assert!(!victim.exists());
    }
}
