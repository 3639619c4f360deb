//! The exported checkpoint archive (`podman container checkpoint --export`): compression by magic,
//! the member list, and the few members whose content the spec pins down (rootfs-diff.tar,
//! deleted.files, volumes/*.tar, stats-dump, the checkpoint/parent symlink).
//!
//! Reading is in memory, bounded and never panics: an archive is hostile input until proven
//! otherwise.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::rc::Rc;

use serde::Deserialize;

use super::Finding;

/// Every podman export has these (spec §7); a case writes `members = ["@export"]` for them.
pub const PODMAN_EXPORT_MEMBERS: &[&str] = &[
    "artifacts/",
    "config.dump",
    "spec.dump",
    "network.status",
    "stats-dump",
    "checkpoint/",
    "checkpoint/inventory.img",
    "checkpoint/pstree.img",
    "checkpoint/pages-*",
];

/// The most decompressed bytes read from one archive, so a zip bomb ends in an error.
const MAX_TOTAL_BYTES: u64 = 4 << 30;
/// Content is kept only for small metadata files, each at most this big...
const MAX_KEPT_FILE: u64 = 16 << 20;
/// ...and for at most this much in total, so many small files cannot exhaust memory.
const MAX_KEPT_TOTAL: u64 = 256 << 20;
/// A bound on the member list itself...
const MAX_MEMBERS: usize = 1_000_000;
/// ...and on the bytes of its names and link targets.
const MAX_NAMES_TOTAL: u64 = 64 << 20;
/// The most header bytes before one member: its header, GNU long name and long link records and
/// pax extensions. The tar crate reads those records whole into memory, so without this bound a
/// small compressed archive could make it allocate gigabytes for one name.
const MAX_HEADER_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Zstd,
    Gzip,
    None,
}

impl Compression {
    fn describe(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::None => "none (a plain tar)",
        }
    }
}

/// Compression by magic only, as containers/storage `DetectCompression` does; the file name is
/// ignored.
pub fn detect_compression(bytes: &[u8]) -> Option<Compression> {
    if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else if bytes.starts_with(&[0x1f, 0x8b, 0x08]) {
        Some(Compression::Gzip)
    } else if bytes.get(257..262) == Some(b"ustar".as_slice()) {
        Some(Compression::None)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// As in the tar, a leading "./" removed; directories end with '/'.
    pub path: String,
    pub kind: MemberKind,
    pub link_target: Option<String>,
    pub size: u64,
    /// Kept only for small regular files outside `checkpoint/` and `pre-checkpoint/`.
    pub data: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub compression: Compression,
    pub members: Vec<Member>,
}

/// Decompresses by magic and lists the tar, keeping the content of small metadata files.
pub fn read_archive(bytes: &[u8]) -> Result<Archive, String> {
    read_archive_limited(bytes, MAX_TOTAL_BYTES)
}

/// As [`read_archive`], and keeps the CRIU images a reader decodes (`crit::decoded_image`) too.
pub fn read_archive_with_images(bytes: &[u8]) -> Result<Archive, String> {
    read_archive_keeping(bytes, MAX_TOTAL_BYTES, keep_outer_and_images)
}

fn read_archive_limited(bytes: &[u8], limit: u64) -> Result<Archive, String> {
    read_archive_keeping(bytes, limit, keep_outer)
}

fn read_archive_keeping(
    bytes: &[u8],
    limit: u64,
    keep: fn(&str) -> bool,
) -> Result<Archive, String> {
    let compression = detect_compression(bytes).ok_or_else(|| no_magic(bytes))?;
    let inner: Box<dyn Read + '_> = match compression {
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(bytes)
                .map_err(|e| format!("cannot start zstd decompression: {e}"))?,
        ),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(bytes)),
        Compression::None => Box::new(bytes),
    };
    let context = match compression {
        Compression::None => "the tar".to_string(),
        c => format!("the {}-compressed tar", c.describe()),
    };
    let members = read_tar(inner, limit, keep).map_err(|e| format!("{context}: {e}"))?;
    Ok(Archive {
        compression,
        members,
    })
}

fn no_magic(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the archive is empty (0 bytes)".to_string();
    }
    let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!(
        "not a zstd (28 b5 2f fd), gzip (1f 8b 08) or tar (`ustar` at offset 257) archive; it starts with {}",
        head.join(" ")
    )
}

fn keep_outer(path: &str) -> bool {
    !path.starts_with("checkpoint/") && !path.starts_with("pre-checkpoint/")
}

fn keep_outer_and_images(path: &str) -> bool {
    keep_outer(path)
        || path
            .strip_prefix("checkpoint/")
            .is_some_and(super::crit::decoded_image)
}

/// Counts decompressed bytes against a limit and notes when the stream ended. While
/// `header_bytes` is set, it also counts the bytes read since the last member's data was drained
/// (only headers are read then) and stops at [`MAX_HEADER_BYTES`].
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
    eof: bool,
    header_bytes: Rc<Cell<Option<u64>>>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.eof = true;
        }
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::other(format!(
                "more than {} bytes after decompression, the limit for one archive",
                self.limit
            )));
        }
        if let Some(h) = self.header_bytes.get() {
            let h = h + n as u64;
            self.header_bytes.set(Some(h));
            if h > MAX_HEADER_BYTES {
                return Err(io::Error::other(format!(
                    "more than {MAX_HEADER_BYTES} bytes of headers (GNU long names, pax extensions) for one member"
                )));
            }
        }
        Ok(n)
    }
}

/// Lists a tar stream. A stream that ends without the end-of-archive marker is truncated (the
/// tar crate would silently accept it when the cut falls on a header boundary), and the rest of
/// the stream is drained so that a decompressor notices a truncated or corrupt frame.
fn read_tar<R: Read>(reader: R, limit: u64, keep: fn(&str) -> bool) -> Result<Vec<Member>, String> {
    let header_bytes = Rc::new(Cell::new(Some(0)));
    let mut src = Bounded {
        inner: reader,
        read: 0,
        limit,
        eof: false,
        header_bytes: header_bytes.clone(),
    };
    let mut members = Vec::new();
    let mut kept_total = 0u64;
    let mut names_total = 0u64;
    {
        let mut tar = tar::Archive::new(&mut src);
        let entries = tar.entries().map_err(|e| format!("cannot read: {e}"))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| entry_error(&members, e))?;
            // Its headers are read: what follows is data, not counted as headers.
            header_bytes.set(None);
            if members.len() >= MAX_MEMBERS {
                return Err(format!("more than {MAX_MEMBERS} members"));
            }
            let member = list_member(&mut entry, keep, &mut kept_total, &mut names_total)?;
            // Drain the rest of the data here, so that what the tar crate reads before the next
            // member is its headers only, counted from here.
            io::copy(&mut entry, &mut io::sink()).map_err(|e| {
                let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                format!("cannot read member `{path}`: {e}")
            })?;
            header_bytes.set(Some(0));
            members.extend(member);
        }
    }
    header_bytes.set(None);
    if src.eof {
        return Err(format!(
            "truncated: the stream ends after {} members without the end-of-archive marker",
            members.len()
        ));
    }
    io::copy(&mut src, &mut io::sink())
        .map_err(|e| format!("corrupt or truncated after the last member: {e}"))?;
    Ok(members)
}

/// One member of the listing (`None` for the archive root "./"), with the content of a small
/// file that `keep` selects while the budgets allow.
fn list_member<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    keep: fn(&str) -> bool,
    kept_total: &mut u64,
    names_total: &mut u64,
) -> Result<Option<Member>, String> {
    let kind = match entry.header().entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => MemberKind::File,
        tar::EntryType::Directory => MemberKind::Dir,
        tar::EntryType::Symlink => MemberKind::Symlink,
        tar::EntryType::Link => MemberKind::Hardlink,
        _ => MemberKind::Other,
    };
    let path = normalise(&String::from_utf8_lossy(&entry.path_bytes()), kind);
    if path.is_empty() {
        return Ok(None); // the archive root ("./") itself
    }
    let link_target = entry
        .link_name_bytes()
        .map(|l| String::from_utf8_lossy(&l).into_owned());
    *names_total += (path.len() + link_target.as_ref().map_or(0, String::len)) as u64;
    if *names_total > MAX_NAMES_TOTAL {
        return Err(format!(
            "more than {MAX_NAMES_TOTAL} bytes of member names and link targets"
        ));
    }
    let size = entry.size();
    let mut data = None;
    if kind == MemberKind::File
        && keep(&path)
        && size <= MAX_KEPT_FILE
        && *kept_total + size <= MAX_KEPT_TOTAL
    {
        let mut buf = Vec::with_capacity(size as usize);
        entry
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read member `{path}`: {e}"))?;
        *kept_total += buf.len() as u64;
        data = Some(buf);
    }
    Ok(Some(Member {
        path,
        kind,
        link_target,
        size,
        data,
    }))
}

fn entry_error(members: &[Member], e: io::Error) -> String {
    match members.last() {
        Some(m) => format!("cannot read the member after `{}`: {e}", m.path),
        None => format!("cannot read the first member: {e}"),
    }
}

/// "./a" -> "a"; directories get a trailing '/'.
fn normalise(raw: &str, kind: MemberKind) -> String {
    let mut p = raw;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    let mut path = if p == "." {
        String::new()
    } else {
        p.to_string()
    };
    if kind == MemberKind::Dir && !path.is_empty() && !path.ends_with('/') {
        path.push('/');
    }
    path
}

/// What a case expects of an exported archive; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveExpect {
    pub compression: Option<Compression>,
    /// Must be present; "x/" must be a directory; "x*" means some member starting with "x";
    /// "@export" stands for [`PODMAN_EXPORT_MEMBERS`].
    pub members: Vec<String>,
    /// Must not be present (same pattern rules).
    pub absent: Vec<String>,
    /// Regular files inside rootfs-diff.tar, rootfs-relative ("etc/motd").
    pub rootfs_diff: Vec<String>,
    pub rootfs_diff_absent: Vec<String>,
    /// The set in deleted.files; `Some([])` allows the member to be absent or `[]`.
    pub deleted: Option<Vec<String>>,
    /// Each `volumes/<name>.tar` is present and a valid tar.
    pub volumes: Vec<String>,
    pub volume_files: Vec<VolumeFile>,
    /// Member path -> required symlink target.
    pub symlinks: BTreeMap<String, String>,
    /// true: stats-dump is a well-formed CRIU stats image; false: there is no stats-dump.
    pub stats_dump: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeFile {
    pub volume: String,
    pub path: String,
    pub contains: String,
}

pub fn check_archive(bytes: &[u8], expect: &ArchiveExpect) -> Vec<Finding> {
    match read_archive(bytes) {
        Ok(archive) => check_archive_parsed(&archive, expect),
        Err(e) => vec![format!(
            "expected a readable checkpoint archive, found: {e}"
        )],
    }
}

pub fn check_archive_parsed(archive: &Archive, expect: &ArchiveExpect) -> Vec<Finding> {
    let mut f = Vec::new();
    if let Some(want) = expect.compression {
        if archive.compression != want {
            f.push(format!(
                "expected compression {}, found {} by the magic bytes",
                want.describe(),
                archive.compression.describe()
            ));
        }
    }
    check_members(&archive.members, expect, &mut f);
    check_rootfs_diff(&archive.members, expect, &mut f);
    if let Some(want) = &expect.deleted {
        check_deleted(&archive.members, want, &mut f);
    }
    check_volumes(&archive.members, expect, &mut f);
    for (path, target) in &expect.symlinks {
        check_symlink(&archive.members, path, target, &mut f);
    }
    match expect.stats_dump {
        Some(true) => check_stats_dump(&archive.members, &mut f),
        Some(false) if find(&archive.members, "stats-dump").is_some() => {
            f.push("expected no member `stats-dump`, found one".to_string());
        }
        _ => {}
    }
    f
}

/// Members matching a pattern: "x*" by prefix, otherwise "x" or "x/" (whether "x/" is really a
/// directory is for the caller to say).
fn matching<'a>(members: &'a [Member], pattern: &'a str) -> impl Iterator<Item = &'a Member> {
    let exact = pattern.strip_suffix('/').unwrap_or(pattern);
    members
        .iter()
        .filter(move |m| match pattern.strip_suffix('*') {
            Some(prefix) => m.path.starts_with(prefix),
            None => m.path == exact || m.path.strip_suffix('/') == Some(exact),
        })
}

/// The member at a path; the last one wins, as when the tar is extracted.
fn find<'a>(members: &'a [Member], path: &str) -> Option<&'a Member> {
    members.iter().rev().find(|m| m.path == path)
}

fn kind_name(kind: MemberKind) -> &'static str {
    match kind {
        MemberKind::File => "regular file",
        MemberKind::Dir => "directory",
        MemberKind::Symlink => "symlink",
        MemberKind::Hardlink => "hard link",
        MemberKind::Other => "special file",
    }
}

fn check_members(members: &[Member], expect: &ArchiveExpect, f: &mut Vec<Finding>) {
    let wanted = expect.members.iter().flat_map(|m| -> Vec<&str> {
        if m == "@export" {
            PODMAN_EXPORT_MEMBERS.to_vec()
        } else {
            vec![m.as_str()]
        }
    });
    for pattern in wanted {
        let found: Vec<&Member> = matching(members, pattern).collect();
        if found.is_empty() {
            f.push(format!(
                "expected a member `{pattern}` in the archive, found none"
            ));
        } else if pattern.ends_with('/') && !found.iter().any(|m| m.kind == MemberKind::Dir) {
            f.push(format!(
                "expected `{pattern}` to be a directory, found a {}",
                kind_name(found[0].kind)
            ));
        }
    }
    for pattern in &expect.absent {
        let found: Vec<&str> = matching(members, pattern)
            .map(|m| m.path.as_str())
            .collect();
        if !found.is_empty() {
            f.push(format!(
                "expected no member `{pattern}` in the archive, found {}",
                list(&found)
            ));
        }
    }
}

/// At most ten names, for readable findings.
fn list(names: &[&str]) -> String {
    let mut s: Vec<String> = names.iter().take(10).map(|n| format!("`{n}`")).collect();
    if names.len() > 10 {
        s.push(format!("and {} more", names.len() - 10));
    }
    s.join(", ")
}

/// The content of a kept member, or a finding saying why it is not there.
fn content<'a>(members: &'a [Member], path: &str) -> Result<&'a [u8], Finding> {
    let m = find(members, path).ok_or_else(|| format!("expected a member `{path}`, found none"))?;
    if m.kind != MemberKind::File {
        return Err(format!(
            "expected `{path}` to be a regular file, found a {}",
            kind_name(m.kind)
        ));
    }
    m.data.as_deref().ok_or_else(|| {
        format!(
            "`{path}` ({} bytes) is too large to check its content",
            m.size
        )
    })
}

/// An inner uncompressed tar (rootfs-diff.tar, volumes/*.tar), with all small files kept.
fn inner_tar(members: &[Member], path: &str) -> Result<Vec<Member>, Finding> {
    let bytes = content(members, path)?;
    read_tar(bytes, MAX_KEPT_FILE, |_| true)
        .map_err(|e| format!("expected `{path}` to be a valid tar, found: {e}"))
}

/// A path as a case writes it ("/etc/motd", "./data") -> as inner tars name it ("etc/motd").
fn rootfs_relative(p: &str) -> String {
    normalise(p.trim_start_matches('/'), MemberKind::File)
}

fn check_rootfs_diff(members: &[Member], expect: &ArchiveExpect, f: &mut Vec<Finding>) {
    if expect.rootfs_diff.is_empty() && expect.rootfs_diff_absent.is_empty() {
        return;
    }
    if expect.rootfs_diff.is_empty() && find(members, "rootfs-diff.tar").is_none() {
        return; // nothing to be absent from
    }
    let inner = match inner_tar(members, "rootfs-diff.tar") {
        Ok(inner) => inner,
        Err(e) => return f.push(e),
    };
    for want in &expect.rootfs_diff {
        let want = rootfs_relative(want);
        let found: Vec<&Member> = matching(&inner, &want).collect();
        if found.is_empty() {
            let names: Vec<&str> = inner.iter().map(|m| m.path.as_str()).collect();
            f.push(format!(
                "expected `{want}` in rootfs-diff.tar, found only [{}]",
                list(&names)
            ));
        } else if !found.iter().any(|m| m.kind == MemberKind::File) {
            f.push(format!(
                "expected `{want}` in rootfs-diff.tar to be a regular file, found a {}",
                kind_name(found[0].kind)
            ));
        }
    }
    for not in &expect.rootfs_diff_absent {
        let not = rootfs_relative(not);
        let found: Vec<&str> = matching(&inner, &not).map(|m| m.path.as_str()).collect();
        if !found.is_empty() {
            f.push(format!(
                "expected no `{not}` in rootfs-diff.tar, found {}",
                list(&found)
            ));
        }
    }
}

fn check_deleted(members: &[Member], want: &[String], f: &mut Vec<Finding>) {
    let want: BTreeSet<&str> = want.iter().map(String::as_str).collect();
    if find(members, "deleted.files").is_none() {
        if want.is_empty() {
            return; // podman writes deleted.files only when something was deleted
        }
        return f.push(format!(
            "expected deleted.files to list {want:?}, found no member `deleted.files`"
        ));
    }
    let bytes = match content(members, "deleted.files") {
        Ok(b) => b,
        Err(e) => return f.push(e),
    };
    let found: Vec<String> = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return f.push(format!(
                "expected deleted.files to be a JSON array of strings, found: {e}"
            ))
        }
    };
    let found: BTreeSet<&str> = found.iter().map(String::as_str).collect();
    if found != want {
        f.push(format!(
            "expected deleted.files to list {want:?}, found {found:?}"
        ));
    }
}

fn check_volumes(members: &[Member], expect: &ArchiveExpect, f: &mut Vec<Finding>) {
    for name in &expect.volumes {
        if let Err(e) = inner_tar(members, &format!("volumes/{name}.tar")) {
            f.push(e);
        }
    }
    for vf in &expect.volume_files {
        let tar_path = format!("volumes/{}.tar", vf.volume);
        let inner = match inner_tar(members, &tar_path) {
            Ok(inner) => inner,
            Err(e) => {
                f.push(e);
                continue;
            }
        };
        let path = rootfs_relative(&vf.path);
        match content(&inner, &path) {
            Ok(data) if contains(data, vf.contains.as_bytes()) => {}
            Ok(data) => f.push(format!(
                "expected `{path}` in `{tar_path}` to contain {:?}, found {:?}",
                vf.contains,
                String::from_utf8_lossy(&data[..data.len().min(200)])
            )),
            Err(e) => f.push(format!("in `{tar_path}`: {e}")),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn check_symlink(members: &[Member], path: &str, target: &str, f: &mut Vec<Finding>) {
    match find(members, path) {
        None => f.push(format!(
            "expected a symlink `{path}` -> `{target}`, found no such member"
        )),
        Some(m) if m.kind != MemberKind::Symlink => f.push(format!(
            "expected `{path}` to be a symlink to `{target}`, found a {}",
            kind_name(m.kind)
        )),
        Some(m) if m.link_target.as_deref() != Some(target) => f.push(format!(
            "expected `{path}` to link to `{target}`, found a link to `{}`",
            m.link_target.as_deref().unwrap_or("")
        )),
        Some(_) => {}
    }
}

/// go-criu stats/types.go: ImgServiceMagic, StatsMagic, then the protobuf size at 8 and the
/// `stats_entry` message at 12.
const IMG_SERVICE_MAGIC: u32 = 0x5510_5940;
const STATS_MAGIC: u32 = 0x5709_3306;

fn check_stats_dump(members: &[Member], f: &mut Vec<Finding>) {
    let data = match content(members, "stats-dump") {
        Ok(d) => d,
        Err(e) => return f.push(e),
    };
    let word = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    match (word(0), word(4), word(8)) {
        (Some(IMG_SERVICE_MAGIC), Some(STATS_MAGIC), Some(size)) => {
            if 12 + size as u64 > data.len() as u64 {
                f.push(format!(
                    "expected stats-dump to hold the {size} protobuf bytes its header announces, found only {} after the header",
                    data.len() - 12
                ));
            }
        }
        (Some(a), Some(b), _) if a != IMG_SERVICE_MAGIC || b != STATS_MAGIC => f.push(format!(
            "expected stats-dump to start with CRIU magics {IMG_SERVICE_MAGIC:#010x} {STATS_MAGIC:#010x} (little-endian), found {a:#010x} {b:#010x}"
        )),
        _ => f.push(format!(
            "expected stats-dump to hold at least a 12-byte CRIU image header, found {} bytes",
            data.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    enum E<'a> {
        Dir(&'a str),
        File(&'a str, &'a [u8]),
        Link(&'a str, &'a str),
    }

    /// Writes names byte for byte (as Go's archive/tar would), so "./x" and "x/" survive.
    fn tar(entries: &[E]) -> Vec<u8> {
        fn raw(field: &mut [u8], s: &str) {
            field[..s.len()].copy_from_slice(s.as_bytes());
        }
        let mut b = tar::Builder::new(Vec::new());
        for e in entries {
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_size(0);
            let data: &[u8] = match e {
                E::Dir(p) => {
                    h.set_entry_type(tar::EntryType::Directory);
                    raw(&mut h.as_old_mut().name, p);
                    b""
                }
                E::File(p, d) => {
                    h.set_size(d.len() as u64);
                    raw(&mut h.as_old_mut().name, p);
                    d
                }
                E::Link(p, t) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    raw(&mut h.as_old_mut().name, p);
                    raw(&mut h.as_old_mut().linkname, t);
                    b""
                }
            };
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn zstd(bytes: &[u8]) -> Vec<u8> {
        zstd::encode_all(bytes, 3).unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn stats_dump_bytes() -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&IMG_SERVICE_MAGIC.to_le_bytes());
        v.extend_from_slice(&STATS_MAGIC.to_le_bytes());
        v.extend_from_slice(&36u32.to_le_bytes());
        v.extend_from_slice(&[0x0a; 36]);
        v
    }

    /// Like approach A's real export (real-podman-here.md), with a volume and rootfs changes.
    fn export_without(skip: &[&str]) -> Vec<u8> {
        let rootfs = tar(&[E::File("added", b"x"), E::File("etc/hostname", b"h")]);
        let vol = tar(&[E::Dir("./"), E::File("./data", b"volume-data\n")]);
        let stats = stats_dump_bytes();
        let all = [
            E::Dir("artifacts/"),
            E::File("devshm-checkpoint.tar", &[0; 1024]),
            E::File("config.dump", b"{}"),
            E::File("spec.dump", b"{}"),
            E::File("network.status", b"null"),
            E::File("stats-dump", &stats),
            E::File("ctr.log", b""),
            E::Dir("checkpoint/"),
            E::File("checkpoint/inventory.img", b"inv"),
            E::File("checkpoint/pstree.img", b"ps"),
            E::File("checkpoint/pages-1.img", &[0; 4096]),
            E::Link("checkpoint/parent", "../pre-checkpoint"),
            E::File("rootfs-diff.tar", &rootfs),
            E::File("deleted.files", b"[\"/etc/motd\"]"),
            E::File("volumes/vol1.tar", &vol),
        ];
        let kept: Vec<E> = all
            .into_iter()
            .filter(|e| {
                let p = match e {
                    E::Dir(p) | E::File(p, _) | E::Link(p, _) => p,
                };
                !skip.contains(p)
            })
            .collect();
        tar(&kept)
    }

    fn full_expect() -> ArchiveExpect {
        ArchiveExpect {
            compression: Some(Compression::Zstd),
            members: vec!["@export".into(), "rootfs-diff.tar".into()],
            absent: vec!["dump.log".into(), "pre-checkpoint/*".into()],
            rootfs_diff: vec!["added".into(), "/etc/hostname".into()],
            rootfs_diff_absent: vec!["etc/motd".into()],
            deleted: Some(vec!["/etc/motd".into()]),
            volumes: vec!["vol1".into()],
            volume_files: vec![VolumeFile {
                volume: "vol1".into(),
                path: "data".into(),
                contains: "volume-data".into(),
            }],
            symlinks: [("checkpoint/parent".into(), "../pre-checkpoint".into())].into(),
            stats_dump: Some(true),
        }
    }

    fn one_finding_containing(findings: &[Finding], needle: &str) {
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(findings[0].contains(needle), "{findings:#?}");
    }

    #[test]
    fn correct_zstd_export_has_no_findings() {
        let bytes = zstd(&export_without(&[]));
        assert_eq!(detect_compression(&bytes), Some(Compression::Zstd));
        assert_eq!(check_archive(&bytes, &full_expect()), Vec::<Finding>::new());
        let archive = read_archive(&bytes).unwrap();
        let art = find(&archive.members, "artifacts/").unwrap();
        assert_eq!(art.kind, MemberKind::Dir);
        let pages = find(&archive.members, "checkpoint/pages-1.img").unwrap();
        assert_eq!((pages.size, pages.data.is_none()), (4096, true));
        assert!(find(&archive.members, "config.dump")
            .unwrap()
            .data
            .is_some());
    }

    #[test]
    fn correct_gzip_and_plain_exports_have_no_findings() {
        let plain = export_without(&[]);
        for (bytes, c) in [
            (gzip(&plain), Compression::Gzip),
            (plain.clone(), Compression::None),
        ] {
            let expect = ArchiveExpect {
                compression: Some(c),
                ..full_expect()
            };
            assert_eq!(check_archive(&bytes, &expect), Vec::<Finding>::new());
        }
    }

    #[test]
    fn gzip_where_zstd_expected() {
        let bytes = gzip(&export_without(&[]));
        one_finding_containing(
            &check_archive(&bytes, &full_expect()),
            "expected compression zstd, found gzip",
        );
    }

    #[test]
    fn plain_tar_where_gzip_expected() {
        let expect = ArchiveExpect {
            compression: Some(Compression::Gzip),
            ..full_expect()
        };
        one_finding_containing(
            &check_archive(&export_without(&[]), &expect),
            "expected compression gzip, found none (a plain tar)",
        );
    }

    #[test]
    fn missing_stats_dump() {
        let bytes = zstd(&export_without(&["stats-dump"]));
        let expect = ArchiveExpect {
            members: vec!["@export".into()],
            ..Default::default()
        };
        one_finding_containing(&check_archive(&bytes, &expect), "`stats-dump`");
        let expect = ArchiveExpect {
            stats_dump: Some(true),
            ..Default::default()
        };
        one_finding_containing(&check_archive(&bytes, &expect), "`stats-dump`");
    }

    #[test]
    fn missing_config_dump() {
        let bytes = zstd(&export_without(&["config.dump"]));
        let expect = ArchiveExpect {
            members: vec!["@export".into()],
            ..Default::default()
        };
        one_finding_containing(&check_archive(&bytes, &expect), "`config.dump`");
    }

    #[test]
    fn missing_rootfs_diff() {
        let bytes = zstd(&export_without(&["rootfs-diff.tar"]));
        let expect = ArchiveExpect {
            rootfs_diff: vec!["added".into()],
            ..Default::default()
        };
        one_finding_containing(&check_archive(&bytes, &expect), "`rootfs-diff.tar`");
        let expect = ArchiveExpect {
            members: vec!["rootfs-diff.tar".into()],
            ..Default::default()
        };
        one_finding_containing(&check_archive(&bytes, &expect), "`rootfs-diff.tar`");
        // Nothing can be present in a rootfs diff that is not there at all.
        let expect = ArchiveExpect {
            rootfs_diff_absent: vec!["added".into()],
            ..Default::default()
        };
        assert!(check_archive(&bytes, &expect).is_empty());
    }

    #[test]
    fn rootfs_diff_file_missing_or_forbidden() {
        let bytes = zstd(&export_without(&[]));
        let expect = ArchiveExpect {
            rootfs_diff: vec!["marker".into()],
            rootfs_diff_absent: vec!["added".into()],
            ..Default::default()
        };
        let f = check_archive(&bytes, &expect);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(
            f[0].contains("`marker`") && f[1].contains("`added`"),
            "{f:#?}"
        );
    }

    #[test]
    fn extra_forbidden_member() {
        let bytes = zstd(&export_without(&[]));
        let expect = ArchiveExpect {
            absent: vec!["ctr.log".into(), "checkpoint/pages-*".into()],
            ..Default::default()
        };
        let f = check_archive(&bytes, &expect);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f[0].contains("`ctr.log`") && f[1].contains("checkpoint/pages-1.img"));
    }

    #[test]
    fn file_where_directory_expected() {
        let bytes = tar(&[E::File("artifacts", b"")]);
        let expect = ArchiveExpect {
            members: vec!["artifacts/".into()],
            ..Default::default()
        };
        one_finding_containing(
            &check_archive(&bytes, &expect),
            "to be a directory, found a regular file",
        );
    }

    #[test]
    fn wrong_symlink_target() {
        let bytes = tar(&[
            E::Dir("checkpoint/"),
            E::Link("checkpoint/parent", "../checkpoint"),
        ]);
        one_finding_containing(
            &check_archive(&bytes, &full_expect_only_symlinks()),
            "found a link to `../checkpoint`",
        );
        let bytes = tar(&[E::Dir("checkpoint/"), E::File("checkpoint/parent", b"")]);
        one_finding_containing(
            &check_archive(&bytes, &full_expect_only_symlinks()),
            "found a regular file",
        );
    }

    fn full_expect_only_symlinks() -> ArchiveExpect {
        ArchiveExpect {
            symlinks: full_expect().symlinks,
            ..Default::default()
        }
    }

    #[test]
    fn deleted_files_emptied() {
        let expect = ArchiveExpect {
            deleted: Some(vec!["/etc/motd".into()]),
            ..Default::default()
        };
        let emptied = tar(&[E::File("deleted.files", b"[]")]);
        one_finding_containing(&check_archive(&emptied, &expect), "found {}");
        let missing = tar(&[E::File("config.dump", b"{}")]);
        one_finding_containing(&check_archive(&missing, &expect), "`deleted.files`");
        let not_json = tar(&[E::File("deleted.files", b"/etc/motd")]);
        one_finding_containing(&check_archive(&not_json, &expect), "JSON array");
        // Expecting no deletions accepts an absent member or [] but not a listed path.
        let none = ArchiveExpect {
            deleted: Some(vec![]),
            ..Default::default()
        };
        assert!(check_archive(&emptied, &none).is_empty());
        assert!(check_archive(&missing, &none).is_empty());
        assert_eq!(check_archive(&export_without(&[]), &none).len(), 1);
    }

    #[test]
    fn volume_missing_invalid_or_without_content() {
        let expect = full_expect();
        let bytes = zstd(&export_without(&["volumes/vol1.tar"]));
        let f = check_archive(&bytes, &expect);
        assert_eq!(f.len(), 2, "{f:#?}"); // volumes and volume_files
        assert!(f.iter().all(|x| x.contains("`volumes/vol1.tar`")), "{f:#?}");

        let vol = tar(&[E::File("data", b"other")]);
        let bytes = tar(&[E::File("volumes/vol1.tar", &vol)]);
        let expect = ArchiveExpect {
            volumes: vec!["vol1".into()],
            volume_files: full_expect().volume_files,
            ..Default::default()
        };
        one_finding_containing(
            &check_archive(&bytes, &expect),
            "to contain \"volume-data\"",
        );

        let bytes = tar(&[E::File("volumes/vol1.tar", b"not a tar at all")]);
        let expect = ArchiveExpect {
            volumes: vec!["vol1".into()],
            ..Default::default()
        };
        one_finding_containing(&check_archive(&bytes, &expect), "to be a valid tar");
    }

    #[test]
    fn stats_dump_with_wrong_magic_or_short_payload() {
        let expect = ArchiveExpect {
            stats_dump: Some(true),
            ..Default::default()
        };
        let mut bad = stats_dump_bytes();
        bad[0] ^= 0xff;
        one_finding_containing(
            &check_archive(&tar(&[E::File("stats-dump", &bad)]), &expect),
            "magics",
        );
        let good = stats_dump_bytes();
        let short = &good[..30];
        one_finding_containing(
            &check_archive(&tar(&[E::File("stats-dump", short)]), &expect),
            "36 protobuf bytes",
        );
        one_finding_containing(
            &check_archive(&tar(&[E::File("stats-dump", &good[..6])]), &expect),
            "12-byte",
        );
        let absent = ArchiveExpect {
            stats_dump: Some(false),
            ..Default::default()
        };
        one_finding_containing(
            &check_archive(&tar(&[E::File("stats-dump", &good)]), &absent),
            "no member",
        );
    }

    #[test]
    fn truncated_zstd_is_an_error() {
        let bytes = zstd(&export_without(&[]));
        for cut in [4, 20, bytes.len() / 2, bytes.len() - 10, bytes.len() - 1] {
            let err = read_archive(&bytes[..cut]).unwrap_err();
            assert!(err.contains("zstd"), "{err}");
            assert_eq!(check_archive(&bytes[..cut], &full_expect()).len(), 1);
        }
    }

    #[test]
    fn truncated_gzip_and_plain_tar_are_errors() {
        let plain = export_without(&[]);
        let gz = gzip(&plain);
        for cut in [10, gz.len() / 2, gz.len() - 4] {
            assert!(read_archive(&gz[..cut]).is_err(), "gzip cut at {cut}");
        }
        // Cut on a header boundary, where the tar crate alone would see a shorter archive.
        for cut in [1024, plain.len() - 1024, plain.len() - 700] {
            let err = read_archive(&plain[..cut]).unwrap_err();
            assert!(
                err.contains("truncated") || err.contains("cannot read"),
                "{err}"
            );
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let err = read_archive(b"").unwrap_err();
        assert!(err.contains("empty"), "{err}");
        let err = read_archive(b"PK\x03\x04 this is a zip").unwrap_err();
        assert!(err.contains("50 4b 03 04"), "{err}");
        assert!(read_archive(&[0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5]).is_err());
        assert!(read_archive(&[0x1f, 0x8b, 0x08, 0, 0, 0]).is_err());
        one_finding_containing(
            &check_archive(b"garbage", &ArchiveExpect::default()),
            "readable checkpoint archive",
        );

        // Corrupt bytes of a valid archive: any result, but no panic.
        const ROUNDS: usize = 3000;
        let plain = export_without(&[]);
        let variants = [plain.clone(), zstd(&plain), gzip(&plain)];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..ROUNDS {
            let mut bytes = variants[round % 3].clone();
            for _ in 0..1 + round % 5 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = 4 + (seed as usize) % (bytes.len() - 4); // keep the magic
                bytes[at] = (seed >> 32) as u8;
            }
            let _ = check_archive(&bytes, &full_expect());
        }
    }

    #[test]
    fn decompressed_size_is_capped() {
        let bytes = zstd(&export_without(&[]));
        let err = read_archive_limited(&bytes, 4096).unwrap_err();
        assert!(err.contains("limit"), "{err}");
    }

    #[test]
    fn long_name_records_are_bounded() {
        // A GNU long name record just over the bound: an error, not a 1 MiB name kept.
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(tar::EntryType::GNULongName);
        let name_len = MAX_HEADER_BYTES as usize + 1;
        h.set_size(name_len as u64);
        h.set_cksum();
        let mut bytes = h.as_bytes().to_vec();
        bytes.resize(bytes.len() + name_len.div_ceil(512) * 512, b'a');
        bytes.extend(tar(&[E::File("after", b"x")]));
        let err = read_archive(&gzip(&bytes)).unwrap_err();
        assert!(err.contains("bytes of headers"), "{err}");
        // A long name of a few KiB is fine, and a big member's data is not a header.
        let long = format!("{}/x", "d".repeat(4000));
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2 << 20);
        b.append_data(&mut h, &long, &vec![0u8; 2 << 20][..])
            .unwrap();
        let a = read_archive(&b.into_inner().unwrap()).unwrap();
        assert_eq!(a.members[0].path, long);
    }

    #[test]
    fn paths_are_normalised() {
        let bytes = tar(&[E::Dir("./checkpoint"), E::File("./config.dump", b"{}")]);
        let a = read_archive(&bytes).unwrap();
        let paths: Vec<&str> = a.members.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["checkpoint/", "config.dump"]);
    }

    #[test]
    fn expectations_parse_from_toml() {
        let e: ArchiveExpect = toml::from_str(
            r#"
            compression = "zstd"
            members = ["@export"]
            deleted = []
            symlinks = { "checkpoint/parent" = "../pre-checkpoint" }
            volume_files = [{ volume = "vol1", path = "data", contains = "volume-data" }]
            "#,
        )
        .unwrap();
        assert_eq!(e.compression, Some(Compression::Zstd));
        assert_eq!(e.deleted, Some(vec![]));
        assert!(toml::from_str::<ArchiveExpect>("compresion = \"zstd\"").is_err());
        assert!(toml::from_str::<ArchiveExpect>("compression = \"xz\"").is_err());
    }
}
