//! The suite's own archive reader against hostile archives: the corpus of `conformance::hostile`
//! and generated ones (proptest). Every archive gives a clear error or a bounded result: no
//! panic, bounded memory (a counting allocator measures the peak of each read), and no file
//! touched (the reader works in memory; the test checks the working folder stays as it was).

use conformance::hostile::{self, Aim};
use conformance::oracle::archive::{check_archive, read_archive, ArchiveExpect, VolumeFile};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Counts live heap bytes and their peak, for the whole test binary.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        System.dealloc(p, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = System.realloc(p, layout, new_size);
        if !q.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Measurements share the counters: one at a time.
static MEASURE: Mutex<()> = Mutex::new(());

/// The most one read may allocate above what was live before it. The reader keeps small metadata
/// files (at most 256 MiB in all), so a bound for these small archives is far below that.
const PEAK_BOUND: usize = 64 << 20;

/// What one read gave: `Err(())` for a panic, else the reader's error or its number of members.
type Outcome = Result<Result<usize, String>, ()>;

/// Reads, catching a panic; returns the outcome, the peak of heap bytes allocated meanwhile, and
/// the bytes still allocated once the listing is dropped (a leak; exact only when the test runs
/// alone, as other test threads allocate too).
fn measured_read(bytes: &[u8]) -> (Outcome, usize, isize) {
    let _one = MEASURE.lock().unwrap_or_else(|e| e.into_inner());
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let outcome =
        std::panic::catch_unwind(|| read_archive(bytes).map(|a| a.members.len())).map_err(|_| ());
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    // The error message the outcome holds is not a leak.
    let held = match &outcome {
        Ok(Err(e)) => e.capacity() as isize,
        _ => 0,
    };
    let leaked = LIVE.load(Ordering::Relaxed) as isize - base as isize - held;
    (outcome, peak, leaked)
}

/// The files and folders under the working folder, to show that reading touched none.
fn tree() -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            out.push(path.clone());
            if path.is_dir() {
                walk(&path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&std::env::current_dir().unwrap(), &mut out);
    out.sort();
    out
}

/// What the reader should say of each attack: `Ok` (a bounded listing) or an error containing this.
fn expected(name: &str) -> Result<(), &'static str> {
    match name {
        "huge-declared-size" => Err("unexpected EOF"),
        "truncated-tar" => Err("truncated"),
        "decompression-bomb" => Err("limit"),
        "longname-bomb" | "pax-longname-bomb" => Err("headers"),
        "size-overflow" => Err("size overflow"),
        "truncated-zstd" => Err("zstd"),
        "wrong-magic" => Err("not a zstd"),
        "nested-compression" => Err("cannot read the first member"),
        _ => Ok(()),
    }
}

#[test]
fn every_corpus_archive_gives_an_error_or_a_bounded_listing() {
    let before = tree();
    let mut lines = Vec::new();
    for a in hostile::ATTACKS {
        let bytes = a.build(&Aim::default());
        let (result, peak, leaked) = measured_read(&bytes);
        let result = result.unwrap_or_else(|()| panic!("{}: the reader panicked", a.name));
        lines.push(format!(
            "{:<26} {:>7} bytes  peak {:>5} KiB  left {:>3} B  {}",
            a.name,
            bytes.len(),
            peak >> 10,
            leaked,
            match &result {
                Ok(members) => format!("Ok: {members} members"),
                Err(e) => format!("Err: {}", e.chars().take(120).collect::<String>()),
            }
        ));
        assert!(
            peak < PEAK_BOUND,
            "{}: the read allocated {peak} bytes at its peak",
            a.name
        );
        match (expected(a.name), &result) {
            (Ok(()), Ok(_)) => {}
            (Err(needle), Err(e)) if e.contains(needle) => {}
            (want, got) => panic!("{}: expected {want:?}, got {got:?}", a.name),
        }
    }
    assert_eq!(
        tree(),
        before,
        "reading archives changed the working folder"
    );
    println!("{}", lines.join("\n"));
}

#[test]
fn traversal_names_are_listed_as_they_are_not_resolved() {
    // The reader lists; it never joins a name to a folder. A check on members sees the raw name.
    let aim = Aim::default();
    let bytes = hostile::attack("absolute").unwrap().build(&aim);
    let archive = read_archive(&bytes).unwrap();
    assert!(archive.members.iter().any(|m| m.path == aim.escape));
}

// --- generated archives ---

/// A member of a generated archive.
#[derive(Debug, Clone)]
enum Gen {
    File(Vec<u8>, Vec<u8>),
    Dir(Vec<u8>),
    Symlink(Vec<u8>, Vec<u8>),
    Hardlink(Vec<u8>, Vec<u8>),
    Device(Vec<u8>),
}

/// Names made of parts an attacker likes: `..`, `/`, `.`, long runs, non-UTF-8 bytes (no NUL: a
/// tar name ends at the first NUL).
fn name() -> impl Strategy<Value = Vec<u8>> {
    let part = prop_oneof![
        Just(b"..".to_vec()),
        Just(b".".to_vec()),
        Just(b"".to_vec()),
        Just(b"checkpoint".to_vec()),
        Just(b"config.dump".to_vec()),
        proptest::collection::vec(1u8..=255, 1..12),
        "[a-z]{1,200}".prop_map(String::into_bytes),
    ];
    (any::<bool>(), proptest::collection::vec(part, 1..8)).prop_map(|(absolute, parts)| {
        let mut name = if absolute { b"/".to_vec() } else { vec![] };
        name.extend(parts.join(&b'/'));
        if name.is_empty() {
            name.push(b'x');
        }
        name
    })
}

fn member() -> impl Strategy<Value = Gen> {
    prop_oneof![
        (name(), proptest::collection::vec(any::<u8>(), 0..2000))
            .prop_map(|(n, d)| Gen::File(n, d)),
        name().prop_map(Gen::Dir),
        (name(), name()).prop_map(|(n, t)| Gen::Symlink(n, t)),
        (name(), name()).prop_map(|(n, t)| Gen::Hardlink(n, t)),
        name().prop_map(Gen::Device),
    ]
}

/// Writes names byte for byte, with GNU long-name records past 100 bytes.
fn tar(members: &[Gen]) -> Vec<u8> {
    let mut out = Vec::new();
    fn header(out: &mut Vec<u8>, name: &[u8], link: &[u8], kind: tar::EntryType, size: usize) {
        for (long, kind) in [
            (name, tar::EntryType::GNULongName),
            (link, tar::EntryType::GNULongLink),
        ] {
            if long.len() > 100 {
                let mut data = long.to_vec();
                data.push(0);
                header(out, b"././@LongLink", b"", kind, data.len());
                out.extend_from_slice(&data);
                pad(out);
            }
        }
        let mut h = tar::Header::new_gnu();
        let n = name.len().min(100);
        h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
        let l = link.len().min(100);
        h.as_old_mut().linkname[..l].copy_from_slice(&link[..l]);
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(size as u64);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
    }
    fn pad(out: &mut Vec<u8>) {
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    for m in members {
        match m {
            Gen::File(n, d) => {
                header(&mut out, n, b"", tar::EntryType::Regular, d.len());
                out.extend_from_slice(d);
                pad(&mut out);
            }
            Gen::Dir(n) => header(&mut out, n, b"", tar::EntryType::Directory, 0),
            Gen::Symlink(n, t) => header(&mut out, n, t, tar::EntryType::Symlink, 0),
            Gen::Hardlink(n, t) => header(&mut out, n, t, tar::EntryType::Link, 0),
            Gen::Device(n) => header(&mut out, n, b"", tar::EntryType::Char, 0),
        }
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[derive(Debug, Clone, Copy)]
enum Wrap {
    None,
    Zstd,
    Gzip,
}

fn wrap(bytes: &[u8], how: Wrap) -> Vec<u8> {
    use std::io::Write;
    match how {
        Wrap::None => bytes.to_vec(),
        Wrap::Zstd => zstd::encode_all(bytes, 1).unwrap(),
        Wrap::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        }
    }
}

fn wrapping() -> impl Strategy<Value = Wrap> {
    prop_oneof![Just(Wrap::None), Just(Wrap::Zstd), Just(Wrap::Gzip)]
}

fn check(bytes: &[u8]) -> Result<Result<usize, String>, TestCaseError> {
    let (result, peak, _) = measured_read(bytes);
    let result = result.map_err(|()| TestCaseError::fail("the reader panicked"))?;
    prop_assert!(peak < PEAK_BOUND, "peak allocation {peak} bytes");
    if let Err(e) = &result {
        prop_assert!(!e.trim().is_empty(), "an empty error message");
    }
    Ok(result)
}

proptest! {
    // A failure prints its minimal input; there is no source file next to tests/ to persist it in.
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any names: the reader lists every member (a well-formed tar is never refused for its names)
    /// and never panics.
    #[test]
    fn any_member_names(members in proptest::collection::vec(member(), 1..12), how in wrapping()) {
        let bytes = wrap(&tar(&members), how);
        let result = check(&bytes)?;
        let listed = result.map_err(|e| TestCaseError::fail(format!("a well-formed tar refused: {e}")))?;
        prop_assert!(listed <= members.len());
    }

    /// Any cut: an error (or, for a cut inside the final zero blocks, a listing), never a panic.
    #[test]
    fn any_truncation(members in proptest::collection::vec(member(), 1..8), how in wrapping(), cut in any::<proptest::sample::Index>()) {
        let whole = wrap(&tar(&members), how);
        let at = cut.index(whole.len());
        let _ = check(&whole[..at])?;
    }

    /// Any byte flips, magic included: any result, never a panic, bounded memory.
    #[test]
    fn any_byte_flips(
        members in proptest::collection::vec(member(), 1..8),
        how in wrapping(),
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let mut bytes = wrap(&tar(&members), how);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let _ = check(&bytes)?;
    }

    /// Any inner tar, whole, cut or flipped, as rootfs-diff.tar and a volume: the checks that read
    /// inner archives give findings, never a panic, with bounded memory.
    #[test]
    fn any_inner_tar(
        members in proptest::collection::vec(member(), 0..8),
        cut in any::<proptest::sample::Index>(),
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut inner = tar(&members);
        inner.truncate(cut.index(inner.len() + 1).max(1));
        for (at, value) in flips {
            let i = at.index(inner.len());
            inner[i] = value;
        }
        let outer = tar(&[
            Gen::File(b"rootfs-diff.tar".to_vec(), inner.clone()),
            Gen::File(b"volumes/v.tar".to_vec(), inner),
            Gen::File(b"deleted.files".to_vec(), b"[\"/x\"]".to_vec()),
        ]);
        let expect = ArchiveExpect {
            rootfs_diff: vec!["x".into()],
            rootfs_diff_absent: vec!["y".into()],
            deleted: Some(vec!["/x".into()]),
            volumes: vec!["v".into()],
            volume_files: vec![VolumeFile { volume: "v".into(), path: "x".into(), contains: "z".into() }],
            ..ArchiveExpect::default()
        };
        let _one = MEASURE.lock().unwrap_or_else(|e| e.into_inner());
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let findings = std::panic::catch_unwind(|| check_archive(&outer, &expect))
            .map_err(|_| TestCaseError::fail("check_archive panicked"))?;
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        prop_assert!(peak < PEAK_BOUND, "peak allocation {peak} bytes");
        prop_assert!(findings.iter().all(|f| !f.trim().is_empty()));
    }

    /// Arbitrary bytes behind each magic.
    #[test]
    fn any_bytes_behind_a_magic(magic in 0usize..4, tail in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut bytes = match magic {
            0 => vec![0x28, 0xb5, 0x2f, 0xfd],
            1 => vec![0x1f, 0x8b, 0x08],
            2 => { let mut b = vec![0u8; 257]; b.extend_from_slice(b"ustar"); b }
            _ => vec![],
        };
        bytes.extend(tail);
        let _ = check(&bytes)?;
    }
}

/// Writes the corpus to fixtures/hostile/ (git-ignored), to inspect with `tar tvf` or to seed
/// the fuzzer (conformance/fuzz/README.md).
#[test]
fn writes_the_corpus_for_inspection() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/hostile");
    let paths = hostile::write_corpus(&dir).unwrap();
    assert_eq!(paths.len(), hostile::ATTACKS.len());
    for (path, (name, bytes)) in paths.iter().zip(hostile::corpus()) {
        assert_eq!(std::fs::read(path).unwrap(), bytes, "{name}");
    }
}
