//! The layout of an exported checkpoint, as podman writes it: `artifacts/`, `config.dump`,
//! `spec.dump`, `network.status`, `stats-dump`, `ctr.log`, `checkpoint/` (or `pre-checkpoint/`),
//! `rootfs-diff.tar`, `deleted.files`, `volumes/<name>.tar`. Used for `--export` (compressed) and
//! for the single layer of a `--create-image` image.

use crate::container::Container;
use crate::rootfs::{self, Changes};
use crate::store::Store;
use crate::volumes;
use anyhow::{Context, Result};
use std::fs::{self, File};
use std::io::{Read, Seek, Write};
use std::path::Path;

pub struct Options {
    pub pre_checkpoint: bool,
    pub ignore_rootfs: bool,
    pub ignore_volumes: bool,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn append_bytes<W: Write>(b: &mut tar::Builder<W>, name: &str, data: &[u8]) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o600);
    h.set_mtime(now());
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, data)?;
    Ok(())
}

fn append_dir_entry<W: Write>(b: &mut tar::Builder<W>, name: &str) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o755);
    h.set_mtime(now());
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Directory);
    b.append_data(&mut h, name, std::io::empty())?;
    Ok(())
}

/// The runtime's image folder (flat, as CRIU writes it). Its page files are nearly all of a
/// checkpoint, up to GiBs: they are copied in 1 MiB chunks, where the tar crate's copy would make
/// two system calls per 8 KiB.
fn append_images<W: Write>(b: &mut tar::Builder<W>, name: &str, dir: &Path) -> Result<()> {
    b.append_dir(format!("{name}/"), dir)?;
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    let mut buf = vec![0; 1 << 20];
    for e in entries {
        let member = Path::new(name).join(e.file_name());
        let kind = e.file_type()?;
        if !kind.is_file() {
            if kind.is_dir() {
                b.append_dir_all(&member, e.path())?;
            } else {
                b.append_path_with_name(e.path(), &member)?;
            }
            continue;
        }
        let mut f = File::open(e.path())?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&f.metadata()?);
        // Its header alone (a long name gets its own entry first); the data follows below.
        b.append_data(&mut h, &member, std::io::empty())?;
        let w = b.get_mut();
        let mut left = h.size()?;
        while left > 0 {
            let chunk = left.min(buf.len() as u64) as usize;
            let n = f.read(&mut buf[..chunk])?;
            if n == 0 {
                anyhow::bail!("{} shrank while it was archived", e.path().display());
            }
            w.write_all(&buf[..n])?;
            left -= n as u64;
        }
        let pad = (512 - h.size()? % 512) % 512;
        w.write_all(&[0; 512][..pad as usize])?;
    }
    Ok(())
}

/// An uncompressed tar of the upper dir's changes, rootfs-relative, in a temporary file.
fn rootfs_diff_tar(upper: &Path, changes: &Changes, tmp: &Path) -> Result<File> {
    let mut b = tar::Builder::new(
        File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)?,
    );
    b.follow_symlinks(false);
    for rel in &changes.changed {
        let path = upper.join(rel);
        // A container left running (`-R`, `-P`) goes on changing its root while it is archived:
        // a file listed a moment ago may be gone (the counter's `mv` of a temporary file), and a
        // file that is gone is no change to carry.
        let appended = match path.symlink_metadata() {
            Ok(m) if m.is_dir() => b.append_dir(rel, &path),
            Ok(_) => b.append_path_with_name(&path, rel),
            Err(e) => Err(e),
        };
        match appended {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            other => other?,
        }
    }
    let mut f = b.into_inner()?;
    f.flush()?;
    f.rewind()?;
    Ok(f)
}

/// An uncompressed tar of a volume's content, in a temporary file.
fn volume_tar(data: &Path, tmp: &Path) -> Result<File> {
    let mut b = tar::Builder::new(
        File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)?,
    );
    b.follow_symlinks(false);
    let mut entries: Vec<_> = fs::read_dir(data)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if e.file_type()?.is_dir() {
            b.append_dir_all(&name, e.path())?;
        } else {
            b.append_path_with_name(e.path(), &name)?;
        }
    }
    let mut f = b.into_inner()?;
    f.flush()?;
    f.rewind()?;
    Ok(f)
}

/// Where podman keeps a named volume's content, in its default storage.
const PODMAN_VOLUME_DATA: &str = "/var/lib/containers/storage/volumes";

/// The container's OCI spec as `spec.dump`, with the sources of named volumes where podman keeps
/// them: podman's import recreates named volumes by name but keeps spec.dump's mounts as written,
/// so an archive it can restore names podman's paths, as podman's own exports do.
fn spec_dump(c: &Container, config_json: &[u8]) -> Result<Vec<u8>> {
    let mut spec: serde_json::Value = serde_json::from_slice(config_json).context("config.json")?;
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for m in mounts {
            let dest = m["destination"].as_str().unwrap_or_default();
            if let Some(v) = c.config.named_volumes.iter().find(|v| v.dest == dest) {
                m["source"] = format!("{PODMAN_VOLUME_DATA}/{}/_data", v.name).into();
            }
        }
    }
    Ok(serde_json::to_vec_pretty(&spec)?)
}

/// Writes the members into `w`. `config_dump` and `spec_dump` are the container's config and
/// OCI spec as JSON.
pub fn write<W: Write>(store: &Store, c: &Container, opts: &Options, w: W) -> Result<W> {
    let p = c.paths(store);
    let ud = &p.userdata;
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    append_dir_entry(&mut b, "artifacts/")?;
    append_bytes(
        &mut b,
        "config.dump",
        &serde_json::to_vec_pretty(&c.config)?,
    )?;
    append_bytes(
        &mut b,
        "spec.dump",
        &spec_dump(c, &fs::read(ud.join("config.json"))?)?,
    )?;
    for name in ["network.status", "stats-dump", "ctr.log"] {
        let path = ud.join(name);
        if path.exists() {
            b.append_path_with_name(&path, name)
                .with_context(|| format!("adding {name}"))?;
        }
    }
    let images = if opts.pre_checkpoint {
        "pre-checkpoint"
    } else {
        "checkpoint"
    };
    append_images(&mut b, images, &ud.join(images)).with_context(|| format!("adding {images}/"))?;
    let tmp = store.temp_dir("export")?;
    let result = (|| -> Result<()> {
        if !opts.ignore_rootfs {
            let changes = rootfs::changes(&p.upper, &c.lower_dirs(store))?;
            if !changes.changed.is_empty() {
                let mut f = rootfs_diff_tar(&p.upper, &changes, &tmp.join("rootfs-diff.tar"))?;
                b.append_file("rootfs-diff.tar", &mut f)?;
            }
            if !changes.deleted.is_empty() {
                let list: Vec<String> = changes.deleted.iter().map(|d| format!("/{d}")).collect();
                append_bytes(&mut b, "deleted.files", &serde_json::to_vec(&list)?)?;
            }
        }
        if !opts.ignore_volumes {
            for v in &c.config.named_volumes {
                let path = tmp.join(format!("{}.tar", v.name));
                let mut f = volume_tar(&volumes::data_dir(store, &v.name), &path)?;
                b.append_file(format!("volumes/{}.tar", v.name), &mut f)?;
                drop(f);
                let _ = fs::remove_file(&path);
            }
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&tmp);
    result?;
    Ok(b.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_gone_before_it_is_archived_is_left_out() {
        let t = tempfile::tempdir().unwrap();
        let upper = t.path().join("upper");
        fs::create_dir(&upper).unwrap();
        fs::write(upper.join("count"), "7").unwrap();
        // Listed, then renamed away by the running workload before the archive reads it.
        let changes = crate::rootfs::Changes {
            changed: vec!["count".into(), "count.tmp".into()],
            deleted: vec![],
        };
        let mut f = rootfs_diff_tar(&upper, &changes, &t.path().join("diff.tar")).unwrap();
        let mut bytes = vec![];
        std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
        let names: Vec<String> = members(&bytes).into_iter().map(|m| m.0).collect();
        assert_eq!(names, ["count"]);
    }

    /// A member as (path, type, mode, size, link target, content).
    type Member = (String, u8, u32, u64, Option<String>, Vec<u8>);

    fn members(tar: &[u8]) -> Vec<Member> {
        let mut ar = tar::Archive::new(tar);
        ar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let link = e.link_name().unwrap().map(|l| l.display().to_string());
                let path = e.path().unwrap().display().to_string();
                let mut data = vec![];
                e.read_to_end(&mut data).unwrap();
                let kind = h.entry_type().as_byte();
                (path, kind, h.mode().unwrap(), h.size().unwrap(), link, data)
            })
            .collect()
    }

    #[test]
    fn images_are_archived_as_the_tar_crate_would() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("checkpoint");
        fs::create_dir(&dir).unwrap();
        // Sizes around the 512-byte blocks and the 1 MiB copy buffer, a name too long for a
        // plain header, a symlink (`parent` of a pre-checkpoint) and an empty file.
        let big: Vec<u8> = (0..(1 << 20) + 513).map(|i| (i % 251) as u8).collect();
        fs::write(dir.join("pages-1.img"), &big).unwrap();
        fs::write(dir.join("inventory.img"), b"x").unwrap();
        fs::write(dir.join("empty.img"), b"").unwrap();
        fs::write(dir.join("n".repeat(120)), &big[..512]).unwrap();
        std::os::unix::fs::symlink("../pre-checkpoint", dir.join("parent")).unwrap();

        let mut ours = tar::Builder::new(Vec::new());
        ours.follow_symlinks(false);
        append_images(&mut ours, "checkpoint", &dir).unwrap();
        let mut theirs = tar::Builder::new(Vec::new());
        theirs.follow_symlinks(false);
        theirs.append_dir_all("checkpoint", &dir).unwrap();
        let (mut ours, mut theirs) = (
            members(&ours.into_inner().unwrap()),
            members(&theirs.into_inner().unwrap()),
        );
        ours.sort();
        theirs.sort();
        assert_eq!(ours.len(), 6);
        assert_eq!(ours, theirs);
    }
}
