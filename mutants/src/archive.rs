//! Rewrites an exported checkpoint archive after the real target wrote it: members removed, added
//! or changed, or the compression changed. Members left alone keep their bytes (headers, PAX
//! records and data are copied as they were), and the compression stays what the target chose
//! unless that is the deviation. Deliberately independent of the suite's archive oracle: a mutant
//! must not share the bugs of what it tests.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::ops::Range;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Zstd,
    Gzip,
    None,
}

/// By magic bytes, as podman's import does.
pub fn detect(bytes: &[u8]) -> Option<Compression> {
    if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else if bytes.get(257..262) == Some(b"ustar".as_slice()) {
        Some(Compression::None)
    } else {
        None
    }
}

pub fn decompress(bytes: &[u8]) -> Result<(Compression, Vec<u8>)> {
    let compression = detect(bytes).context("not a zstd, gzip or tar archive")?;
    let tar = match compression {
        Compression::Zstd => zstd::decode_all(bytes)?,
        Compression::Gzip => {
            let mut out = vec![];
            flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
            out
        }
        Compression::None => bytes.to_vec(),
    };
    Ok((compression, tar))
}

/// Decompressed bytes read from one archive at most, by [`reader`]: past them it looks
/// truncated, so that a bomb costs little.
pub const MAX_READ: u64 = 512 << 20;

/// A bounded reader of the archive's tar, decompressed by the magic bytes; anything else is read
/// as a plain tar.
pub fn reader(path: &Path) -> Result<Box<dyn Read>> {
    reader_up_to(path, MAX_READ)
}

/// [`reader`], bounded at `limit` decompressed bytes.
pub fn reader_up_to(path: &Path, limit: u64) -> Result<Box<dyn Read>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut file = BufReader::new(file);
    let reader: Box<dyn Read> = match detect(file.fill_buf()?) {
        Some(Compression::Zstd) => Box::new(zstd::stream::read::Decoder::with_buffer(file)?),
        Some(Compression::Gzip) => Box::new(flate2::bufread::GzDecoder::new(file)),
        _ => Box::new(file),
    };
    Ok(Box::new(reader.take(limit)))
}

/// The content of the archive's first member named `name` (at most `limit` bytes), read as a
/// stream: only what comes before it is decompressed.
pub fn read_member(path: &Path, name: &str, limit: u64) -> Result<Vec<u8>> {
    let mut archive = tar::Archive::new(reader(path)?);
    for entry in archive.entries()? {
        let entry = entry?;
        if normalise(&String::from_utf8_lossy(&entry.path_bytes())) == name {
            let mut out = vec![];
            entry.take(limit).read_to_end(&mut out)?;
            return Ok(out);
        }
    }
    bail!("no member {name} in {}", path.display())
}

/// zstd at its default level 3, gzip at flate2's default (6): what podman's libraries use.
pub fn compress(tar: &[u8], compression: Compression) -> Result<Vec<u8>> {
    compress_level(tar, compression, 3)
}

fn compress_level(tar: &[u8], compression: Compression, zstd_level: i32) -> Result<Vec<u8>> {
    Ok(match compression {
        Compression::Zstd => zstd::encode_all(tar, zstd_level)?,
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(vec![], flate2::Compression::default());
            e.write_all(tar)?;
            e.finish()?
        }
        Compression::None => tar.to_vec(),
    })
}

/// One deviation of the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveEdit {
    /// Members matching the pattern are left out ("x" exactly, "x/" a directory and what is in
    /// it, "x*" by prefix).
    Without(&'static str),
    /// An extra regular file.
    Extra {
        path: &'static str,
        content: &'static str,
    },
    /// `deleted.files`, when there is one, lists nothing (`[]`).
    DeletedFilesEmptied,
    /// Written as a plain tar whatever was asked for.
    Decompressed,
    /// A zstd archive compressed again at another level.
    ZstdLevel(i32),
    /// Members in path order instead of the order the target wrote them.
    Sorted,
    /// spec.dump's `io.container.manager` annotation says this instead of what the target wrote
    /// (refpod wrote `refpod`, which checkpointctl reads as containerd).
    Manager(&'static str),
    /// `checkpoint/pstree.img` without its first entry (the container's first process).
    PstreeFirstDropped,
    /// The image-specific magic (second word) of this CRIU image is overwritten, so that no
    /// reader can tell what it holds.
    CriuMagicBroken(&'static str),
}

/// Every CRIU image but the raw ones starts with two magic words; then each entry is a
/// little-endian u32 size and that many bytes of protobuf.
const CRIU_HEADER: usize = 8;

/// The member's content as the edit rewrites it, or None to keep it.
fn edit_content(edit: ArchiveEdit, path: &str, data: &[u8]) -> Result<Option<Vec<u8>>> {
    Ok(match edit {
        ArchiveEdit::Manager(manager) if path == "spec.dump" => {
            let mut spec: serde_json::Value =
                serde_json::from_slice(data).context("spec.dump is not JSON")?;
            spec["annotations"]["io.container.manager"] = manager.into();
            Some(serde_json::to_vec_pretty(&spec)?)
        }
        ArchiveEdit::PstreeFirstDropped if path == "checkpoint/pstree.img" => {
            let size = data
                .get(CRIU_HEADER..CRIU_HEADER + 4)
                .context("pstree.img has no entry")?;
            let size = u32::from_le_bytes(size.try_into()?) as usize;
            let next = CRIU_HEADER + 4 + size;
            if next > data.len() {
                bail!("pstree.img's first entry is cut short");
            }
            let mut out = data[..CRIU_HEADER].to_vec();
            out.extend_from_slice(&data[next..]);
            Some(out)
        }
        ArchiveEdit::CriuMagicBroken(image) if path == image => {
            if data.len() < CRIU_HEADER {
                bail!("{image} is shorter than its magic");
            }
            let mut out = data.to_vec();
            out[4..CRIU_HEADER].copy_from_slice(&0xdead_beef_u32.to_le_bytes());
            Some(out)
        }
        _ => None,
    })
}

/// One member of a tar and where its blocks are in it.
#[derive(Debug)]
struct Entry {
    /// As written, "./" and a trailing "/" removed.
    path: String,
    /// Its blocks: extension headers (PAX, GNU long names), header, data and padding.
    blocks: Range<usize>,
    /// Its data.
    data: Range<usize>,
    header: tar::Header,
}

fn entries(tar: &[u8]) -> Result<Vec<Entry>> {
    let mut out = vec![];
    let mut archive = tar::Archive::new(tar);
    let mut end = 0;
    for entry in archive.entries()? {
        let entry = entry?;
        let data_end = entry.raw_file_position() + entry.size();
        let padded = data_end.div_ceil(512) as usize * 512;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        out.push(Entry {
            path: normalise(&path),
            blocks: end..padded,
            data: entry.raw_file_position() as usize..data_end as usize,
            header: entry.header().clone(),
        });
        end = padded;
    }
    if out.is_empty() {
        bail!("the archive has no members");
    }
    Ok(out)
}

fn normalise(path: &str) -> String {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.trim_end_matches('/').to_string()
}

fn matches(path: &str, pattern: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => match pattern.strip_suffix('/') {
            Some(dir) => path == dir || path.starts_with(pattern),
            None => path == pattern,
        },
    }
}

/// A regular file member: the template's header (mode, owner, time) with a new path and size.
fn file_blocks(template: &tar::Header, path: &str, content: &[u8]) -> Result<Vec<u8>> {
    let mut h = template.clone();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_path(path)?;
    h.set_size(content.len() as u64);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    Ok(out)
}

/// The edited tar (uncompressed in, uncompressed out).
pub fn edit_tar(tar: &[u8], edit: ArchiveEdit) -> Result<Vec<u8>> {
    let mut entries = entries(tar)?;
    if edit == ArchiveEdit::Sorted {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
    }
    let mut out = vec![];
    for e in &entries {
        match edit {
            ArchiveEdit::Without(pattern) if matches(&e.path, pattern) => {}
            ArchiveEdit::DeletedFilesEmptied if e.path == "deleted.files" => {
                out.extend(file_blocks(&e.header, "deleted.files", b"[]")?)
            }
            _ => match edit_content(edit, &e.path, &tar[e.data.clone()])? {
                Some(content) => out.extend(file_blocks(&e.header, &e.path, &content)?),
                None => out.extend_from_slice(&tar[e.blocks.clone()]),
            },
        }
    }
    if let ArchiveEdit::Extra { path, content } = edit {
        // Owned like the target's own files, at the same time.
        let template = &entries
            .iter()
            .find(|e| e.header.entry_type().is_file())
            .unwrap_or(&entries[0])
            .header;
        out.extend(file_blocks(template, path, content.as_bytes())?);
    }
    out.extend_from_slice(&[0; 1024]); // the end-of-archive marker
    Ok(out)
}

/// An OCI archive (`image save --format oci-archive`) whose image manifest lost its annotations:
/// the manifest blob is written again under its new digest and index.json points at it.
pub fn manifest_annotations_dropped(tar: &[u8]) -> Result<Vec<u8>> {
    use sha2::Digest as _;
    let entries = entries(tar)?;
    let content = |path: &str| {
        entries
            .iter()
            .find(|e| e.path == path)
            .map(|e| &tar[e.data.clone()])
            .with_context(|| format!("the OCI archive has no {path}"))
    };
    let mut index: serde_json::Value = serde_json::from_slice(content("index.json")?)?;
    let old = index["manifests"][0]["digest"]
        .as_str()
        .and_then(|d| d.strip_prefix("sha256:"))
        .context("index.json names no sha256 manifest")?
        .to_string();
    let old_path = format!("blobs/sha256/{old}");
    let mut manifest: serde_json::Value = serde_json::from_slice(content(&old_path)?)?;
    manifest
        .as_object_mut()
        .context("the manifest is not an object")?
        .remove("annotations");
    let manifest = serde_json::to_vec(&manifest)?;
    let hex: String = sha2::Sha256::digest(&manifest)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    index["manifests"][0]["digest"] = format!("sha256:{hex}").into();
    index["manifests"][0]["size"] = manifest.len().into();
    let index = serde_json::to_vec(&index)?;
    let mut out = vec![];
    for e in &entries {
        if e.path == "index.json" {
            out.extend(file_blocks(&e.header, "index.json", &index)?);
        } else if e.path == old_path {
            out.extend(file_blocks(
                &e.header,
                &format!("blobs/sha256/{hex}"),
                &manifest,
            )?);
        } else {
            out.extend_from_slice(&tar[e.blocks.clone()]);
        }
    }
    out.extend_from_slice(&[0; 1024]);
    Ok(out)
}

/// The archive file as the deviation makes it.
pub fn edit_bytes(bytes: &[u8], edit: ArchiveEdit) -> Result<Vec<u8>> {
    let (compression, tar) = decompress(bytes)?;
    match edit {
        ArchiveEdit::Decompressed => Ok(tar),
        ArchiveEdit::ZstdLevel(level) if compression == Compression::Zstd => {
            compress_level(&tar, compression, level)
        }
        ArchiveEdit::ZstdLevel(_) => Ok(bytes.to_vec()),
        _ => compress(&edit_tar(&tar, edit)?, compression),
    }
}

/// Rewrites the file in place, atomically (a temporary file renamed over it), keeping its mode.
pub fn edit_file(path: &Path, edit: ArchiveEdit) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let edited = edit_bytes(&bytes, edit).with_context(|| format!("in {}", path.display()))?;
    replace_file(path, &edited)
}

/// Writes `bytes` over `path` atomically, keeping its mode.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().context("an archive path names no file")?;
    let tmp = path.with_file_name(format!(".{}.mutant", name.to_string_lossy()));
    std::fs::write(&tmp, bytes)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions())?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small export: PAX records (as Go's archive/tar writes them), a directory, files.
    fn export() -> Vec<u8> {
        let mut b = tar::Builder::new(vec![]);
        let mut dir = tar::Header::new_ustar();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        b.append_data(&mut dir, "checkpoint/", &[][..]).unwrap();
        b.append_pax_extensions([("mtime", b"1700000000.5".as_slice())])
            .unwrap();
        for (path, data) in [
            ("checkpoint/inventory.img", b"inventory".as_slice()),
            ("config.dump", b"{}"),
            ("stats-dump", b"stats"),
            ("deleted.files", b"[\"/etc/deleteme\"]"),
            ("rootfs-diff.tar", &[7u8; 700]),
        ] {
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o600);
            h.set_uid(0);
            h.set_mtime(1_700_000_000);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, path, data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn with(tar: &[u8], path: &str, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(vec![]);
        for (p, d) in members(tar) {
            let mut h = tar::Header::new_ustar();
            h.set_size(d.len() as u64);
            b.append_data(&mut h, p, d.as_slice()).unwrap();
        }
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
        b.into_inner().unwrap()
    }

    fn content(tar: &[u8], path: &str) -> Vec<u8> {
        members(tar).into_iter().find(|(p, _)| p == path).unwrap().1
    }

    #[test]
    fn the_manager_annotation_is_rewritten_and_the_rest_kept() {
        let spec =
            br#"{"ociVersion":"1.0.2","annotations":{"io.container.manager":"libpod","x":"y"}}"#;
        let tar = with(&export(), "spec.dump", spec);
        let edited = edit_tar(&tar, ArchiveEdit::Manager("refpod")).unwrap();
        let spec: serde_json::Value =
            serde_json::from_slice(&content(&edited, "spec.dump")).unwrap();
        assert_eq!(spec["annotations"]["io.container.manager"], "refpod");
        assert_eq!(spec["annotations"]["x"], "y");
        assert_eq!(content(&edited, "config.dump"), b"{}");
    }

    /// A CRIU image: two magic words, then (u32 size, bytes) per entry.
    fn criu_image(entries: &[&[u8]]) -> Vec<u8> {
        let mut out = 0x5456_4319_u32.to_le_bytes().to_vec();
        out.extend(0x5027_3030_u32.to_le_bytes());
        for e in entries {
            out.extend((e.len() as u32).to_le_bytes());
            out.extend_from_slice(e);
        }
        out
    }

    #[test]
    fn a_saved_manifest_loses_its_annotations_and_the_index_follows() {
        use sha2::Digest as _;
        let manifest = br#"{"schemaVersion":2,"layers":[],"annotations":{"a":"b"}}"#;
        let hex = |d: &[u8]| -> String {
            sha2::Sha256::digest(d)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"digest":"sha256:{}","size":1}}]}}"#,
            hex(manifest)
        );
        let tar = with(
            &with(&export(), "index.json", index.as_bytes()),
            &format!("blobs/sha256/{}", hex(manifest)),
            manifest,
        );
        let edited = manifest_annotations_dropped(&tar).unwrap();
        let index: serde_json::Value =
            serde_json::from_slice(&content(&edited, "index.json")).unwrap();
        let digest = index["manifests"][0]["digest"].as_str().unwrap();
        let new = content(&edited, &format!("blobs/sha256/{}", &digest[7..]));
        assert_eq!(hex(&new), digest[7..]);
        let new: serde_json::Value = serde_json::from_slice(&new).unwrap();
        assert!(new.get("annotations").is_none());
        assert_eq!(new["schemaVersion"], 2);
    }

    #[test]
    fn the_first_pstree_entry_is_dropped() {
        let tar = with(
            &export(),
            "checkpoint/pstree.img",
            &criu_image(&[b"root", b"child"]),
        );
        let edited = edit_tar(&tar, ArchiveEdit::PstreeFirstDropped).unwrap();
        assert_eq!(
            content(&edited, "checkpoint/pstree.img"),
            criu_image(&[b"child"])
        );
        let short = with(&export(), "checkpoint/pstree.img", &criu_image(&[])[..6]);
        assert!(edit_tar(&short, ArchiveEdit::PstreeFirstDropped).is_err());
    }

    #[test]
    fn a_criu_magic_is_broken() {
        let tar = with(&export(), "checkpoint/core-1.img", &criu_image(&[b"core"]));
        let edited = edit_tar(&tar, ArchiveEdit::CriuMagicBroken("checkpoint/core-1.img")).unwrap();
        let core = content(&edited, "checkpoint/core-1.img");
        assert_eq!(&core[4..8], &0xdead_beef_u32.to_le_bytes());
        assert_eq!(core[8..], criu_image(&[b"core"])[8..]);
    }

    /// (path, content) of each member, read with the tar crate.
    fn members(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                let mut data = vec![];
                e.read_to_end(&mut data).unwrap();
                (path, data)
            })
            .collect()
    }

    fn paths(tar: &[u8]) -> Vec<String> {
        members(tar).into_iter().map(|(p, _)| p).collect()
    }

    #[test]
    fn a_removed_member_leaves_the_others_byte_for_byte() {
        let tar = export();
        let edited = edit_tar(&tar, ArchiveEdit::Without("stats-dump")).unwrap();
        assert_eq!(
            paths(&edited),
            [
                "checkpoint/",
                "checkpoint/inventory.img",
                "config.dump",
                "deleted.files",
                "rootfs-diff.tar"
            ]
        );
        // The first members, PAX record included, are the original bytes.
        let upto = tar.windows(10).position(|w| w == b"stats-dump").unwrap();
        assert_eq!(edited[..upto], tar[..upto]);
        assert_eq!(members(&edited)[4].1, vec![7u8; 700]);
    }

    #[test]
    fn a_directory_pattern_removes_what_is_in_it() {
        let edited = edit_tar(&export(), ArchiveEdit::Without("checkpoint/")).unwrap();
        assert!(paths(&edited).iter().all(|p| !p.starts_with("checkpoint")));
        let edited = edit_tar(&export(), ArchiveEdit::Without("c*")).unwrap();
        assert_eq!(
            paths(&edited),
            ["stats-dump", "deleted.files", "rootfs-diff.tar"]
        );
    }

    #[test]
    fn adds_a_member_and_empties_deleted_files() {
        let edit = ArchiveEdit::Extra {
            path: "dump.log",
            content: "log\n",
        };
        let edited = edit_tar(&export(), edit).unwrap();
        let m = members(&edited);
        assert_eq!(
            m.last().unwrap(),
            &("dump.log".to_string(), b"log\n".to_vec())
        );
        assert_eq!(m.len(), 7);

        let edited = edit_tar(&export(), ArchiveEdit::DeletedFilesEmptied).unwrap();
        let m = members(&edited);
        assert_eq!(m[4], ("deleted.files".to_string(), b"[]".to_vec()));
        assert_eq!(m[5].0, "rootfs-diff.tar");
    }

    #[test]
    fn sorting_keeps_every_member() {
        let edited = edit_tar(&export(), ArchiveEdit::Sorted).unwrap();
        let mut want = members(&export());
        want.sort();
        assert_eq!(members(&edited), want);
    }

    #[test]
    fn the_compression_is_kept_unless_it_is_the_deviation() {
        let tar = export();
        for c in [Compression::Zstd, Compression::Gzip, Compression::None] {
            let bytes = compress(&tar, c).unwrap();
            let edited = edit_bytes(&bytes, ArchiveEdit::Without("config.dump")).unwrap();
            assert_eq!(detect(&edited), Some(c));
            let (_, inner) = decompress(&edited).unwrap();
            assert!(!paths(&inner).contains(&"config.dump".to_string()));

            let plain = edit_bytes(&bytes, ArchiveEdit::Decompressed).unwrap();
            assert_eq!(detect(&plain), Some(Compression::None));
            assert_eq!(plain, tar);
        }
        let zst = compress(&tar, Compression::Zstd).unwrap();
        let again = edit_bytes(&zst, ArchiveEdit::ZstdLevel(19)).unwrap();
        assert_eq!(detect(&again), Some(Compression::Zstd));
        assert_eq!(decompress(&again).unwrap().1, tar);
        let gz = compress(&tar, Compression::Gzip).unwrap();
        assert_eq!(edit_bytes(&gz, ArchiveEdit::ZstdLevel(19)).unwrap(), gz);
    }

    #[test]
    fn the_file_is_replaced_atomically_keeping_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.tar.zst");
        std::fs::write(&path, compress(&export(), Compression::Zstd).unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        edit_file(&path, ArchiveEdit::Without("stats-dump")).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(detect(&bytes), Some(Compression::Zstd));
        assert_eq!(paths(&decompress(&bytes).unwrap().1).len(), 5);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(edit_file(&dir.path().join("missing"), ArchiveEdit::Sorted).is_err());
    }
}
