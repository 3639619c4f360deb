//! A naive extractor, as a vulnerable engine has one: member names are used as written (an
//! absolute name stays absolute, the kernel resolves `..`), symlinks and hard links are made as
//! the archive says and followed by later members, an existing file is opened and truncated
//! (written through a hard link), and an export's inner tars (`rootfs-diff.tar`,
//! `volumes/<v>.tar`, `devshm-checkpoint.tar`) and `deleted.files` are applied the same way.
//! Its tar reader is a C extractor's, written here (the tar crate has guards of its own): a
//! header's size is rounded up to a block with wrapping arithmetic, GNU long names and PAX
//! `path` are C strings (cut at the first NUL; past 64 KiB skipped, so a long-name bomb costs
//! time, not memory), PAX `size` is honoured. What a [`Flaw`] adds is one more trust in the
//! archive. Only what it writes is bounded, so that the sandbox's disk survives a bomb.

use crate::archive;
use anyhow::Result;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// At most this much of a member is written (past it the data is read and dropped).
const MAX_MEMBER: u64 = 16 << 20;
/// Decompressed bytes read from one archive at most: more than the bombs, so that what hides
/// behind one is reached.
const MAX_STREAM: u64 = 8 << 30;
/// GNU long names and PAX records kept (the rest is read and dropped).
const MAX_NAME: usize = 64 << 10;

/// What the extractor trusts beyond names and links: one per mutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// Names, `..`, symlinks and hard links as written (`import-unsanitised`).
    Paths,
    /// Also the headers' kinds, modes and sizes: device nodes are made, setuid and setgid bits
    /// kept, each file preallocated at its declared size (sparse: no disk used).
    Headers,
    /// Also the metadata members as found: `network.status` is rewritten in place and the
    /// images in `checkpoint/` removed once read, through a symlink if the archive made one.
    MetadataLinks,
    /// Also config.dump's `runtime`: an absolute path is run, as the OCI runtime would be.
    ArchiveRuntime,
}

/// Extracts the export at `archive` into `dest`, then its inner tars into `dest/rootfs`,
/// `dest/devshm` and `dest/volume-data/<v>`, then removes what `deleted.files` lists from
/// `dest/rootfs`, then does what `flaw` adds. Errors of single members are ignored, as a
/// best-effort extractor does.
pub fn import(archive: &Path, dest: &Path, flaw: Flaw) -> Result<()> {
    fs::create_dir_all(dest)?;
    untar(archive::reader_up_to(archive, MAX_STREAM)?, dest, flaw);
    for (inner, into) in [
        ("rootfs-diff.tar", "rootfs"),
        ("devshm-checkpoint.tar", "devshm"),
    ] {
        if let Ok(file) = File::open(dest.join(inner)) {
            untar(file, &dest.join(into), flaw);
        }
    }
    if let Ok(volumes) = fs::read_dir(dest.join("volumes")) {
        for v in volumes.flatten() {
            let name = v.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".tar")) else {
                continue;
            };
            if let Ok(file) = File::open(v.path()) {
                untar(file, &dest.join("volume-data").join(stem), flaw);
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
    match flaw {
        Flaw::MetadataLinks => {
            // The status the restored container gets, written where the archive's was.
            let _ = fs::write(dest.join("network.status"), b"{}\n");
            if let Ok(images) = fs::read_dir(dest.join("checkpoint")) {
                for image in images.flatten() {
                    let _ = fs::remove_file(image.path());
                }
            }
        }
        Flaw::ArchiveRuntime => {
            let config: serde_json::Value = fs::read(dest.join("config.dump"))
                .ok()
                .and_then(|c| serde_json::from_slice(&c).ok())
                .unwrap_or_default();
            if let Some(runtime) = config["runtime"].as_str().filter(|r| r.starts_with('/')) {
                let _ = std::process::Command::new(runtime)
                    .arg("--version")
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
        Flaw::Paths | Flaw::Headers => {}
    }
    Ok(())
}

/// A C string: the bytes up to the first NUL.
fn c_str(bytes: &[u8]) -> &[u8] {
    bytes.split(|b| *b == 0).next().unwrap_or_default()
}

/// An octal field, or base-256 when its first byte has the high bit (the low 64 bits kept).
fn number(field: &[u8]) -> u64 {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        return field[1..]
            .iter()
            .fold(0u64, |v, b| (v << 8) | u64::from(*b));
    }
    c_str(field)
        .iter()
        .filter(|b| (b'0'..=b'7').contains(b))
        .fold(0u64, |v, b| {
            v.wrapping_mul(8).wrapping_add(u64::from(b - b'0'))
        })
}

/// Reads `n` bytes, keeping the first `keep`.
fn read_kept(r: &mut impl Read, n: u64, keep: usize) -> io::Result<Vec<u8>> {
    let mut kept = vec![];
    r.by_ref().take(n.min(keep as u64)).read_to_end(&mut kept)?;
    let rest = io::copy(&mut r.by_ref().take(n - kept.len() as u64), &mut io::sink())?;
    if kept.len() as u64 + rest < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(kept)
}

/// Writes every member of the tar under `dest`, naively; stops at a zero block or the end.
fn untar(mut r: impl Read, dest: &Path, flaw: Flaw) {
    let _ = fs::create_dir_all(dest);
    let (mut long_name, mut long_link, mut pax_size) = (None::<Vec<u8>>, None::<Vec<u8>>, None);
    let mut h = [0u8; 512];
    while r.read_exact(&mut h).is_ok() && h.iter().any(|b| *b != 0) {
        let kind = h[156];
        let size = pax_size.take().unwrap_or_else(|| number(&h[124..136]));
        // The bug of a C extractor: rounding up wraps, so 2^64 - 1 bytes take no block at all.
        let padded = size.wrapping_add(511) & !511;
        let name = long_name
            .take()
            .unwrap_or_else(|| c_str(&h[..100]).to_vec());
        let link = long_link
            .take()
            .unwrap_or_else(|| c_str(&h[157..257]).to_vec());
        let mut data = (&mut r).take(padded);
        match kind {
            b'L' | b'K' => {
                let Ok(text) = read_kept(&mut data, padded, MAX_NAME) else {
                    break;
                };
                let text = c_str(&text).to_vec();
                if kind == b'L' {
                    long_name = Some(text)
                } else {
                    long_link = Some(text)
                }
                continue;
            }
            b'x' => {
                let Ok(text) = read_kept(&mut data, padded, MAX_NAME) else {
                    break;
                };
                for record in text.split(|b| *b == b'\n') {
                    let Some(kv) = record.splitn(2, |b| *b == b' ').nth(1) else {
                        continue;
                    };
                    let mut kv = kv.splitn(2, |b| *b == b'=');
                    match (kv.next(), kv.next()) {
                        (Some(b"path"), Some(v)) => long_name = Some(c_str(v).to_vec()),
                        (Some(b"linkpath"), Some(v)) => long_link = Some(c_str(v).to_vec()),
                        (Some(b"size"), Some(v)) => {
                            pax_size = std::str::from_utf8(v).ok().and_then(|v| v.parse().ok())
                        }
                        _ => {}
                    }
                }
                continue;
            }
            _ => {}
        }
        let target = dest.join(OsStr::from_bytes(&name));
        let mode = number(&h[100..108]) as u32 & 0o7777;
        let _ = match kind {
            b'5' => fs::create_dir_all(&target),
            b'0' | 0 | b'7' => regular(&target, &mut data, size, mode, flaw),
            b'1' | b'2' => {
                let link = OsStr::from_bytes(&link);
                let _ = fs::remove_file(&target);
                if kind == b'2' {
                    std::os::unix::fs::symlink(link, &target)
                } else {
                    fs::hard_link(dest.join(link), &target)
                }
            }
            b'3' | b'4' if flaw == Flaw::Headers => device(&target, kind, &h),
            // Fifos, and devices unless the headers are trusted: nothing that lands outside.
            _ => Ok(()),
        };
        // Whatever of the member's blocks is left, so that the next header is where it says.
        if io::copy(&mut data, &mut io::sink()).is_err() {
            break;
        }
    }
}

/// A regular member: created (through a symlink or a hard link in the way), its data written up
/// to [`MAX_MEMBER`]; with [`Flaw::Headers`], its mode kept and its declared size preallocated.
fn regular(
    target: &Path,
    data: &mut impl Read,
    size: u64,
    mode: u32,
    flaw: Flaw,
) -> io::Result<()> {
    if let Some(parent) = target.parent() {
        let _ = fs::create_dir_all(parent);
    }
    let mut f = File::create(target)?;
    if flaw == Flaw::Headers {
        let _ = f.set_len(size);
        f.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    io::copy(&mut data.take(size.min(MAX_MEMBER)), &mut f)?;
    f.flush()
}

/// A device node, as the header says (mode 0600: the mutant's own node is no hazard to the host).
fn device(target: &Path, kind: u8, h: &[u8; 512]) -> io::Result<()> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    if let Some(parent) = target.parent() {
        let _ = fs::create_dir_all(parent);
    }
    let flag = if kind == b'3' {
        SFlag::S_IFCHR
    } else {
        SFlag::S_IFBLK
    };
    let dev = makedev(number(&h[329..337]), number(&h[337..345]));
    mknod(target, flag, Mode::from_bits_truncate(0o600), dev).map_err(io::Error::from)
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
        import(&archive, &dest, Flaw::Paths).unwrap();
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
        import(&archive, &dir.path().join("x/dest"), Flaw::Paths).unwrap();
        assert!(dir.path().join("escape").exists());
        assert!(!victim.exists());
    }
}
