//! Any bytes into refpod's own extraction (`reference/src/archive.rs`, compiled in as it is): it
//! must return (an error or a folder), never panic, never hang, and never create anything outside
//! its destination, whatever names, links and sizes the archive holds.
#![no_main]

use libfuzzer_sys::fuzz_target;

// refpod is a program, not a library: its archive module is compiled in from its source.
#[allow(dead_code)]
#[path = "../../src/archive.rs"]
mod archive;

/// What `archive.rs` takes from the rest of refpod.
#[allow(dead_code)]
mod store {
    pub fn random_hex(bytes: usize) -> String {
        "0".repeat(bytes * 2)
    }
}

fuzz_target!(|data: &[u8]| {
    let top = tempfile::tempdir().unwrap();
    let input = top.path().join("input");
    let dest = top.path().join("dest");
    std::fs::write(&input, data).unwrap();
    if let Ok(reader) = archive::open(&input) {
        let _ = archive::unpack(reader, &dest);
    }
    // Nothing but the input and the destination beside them.
    let mut beside: Vec<_> = std::fs::read_dir(top.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    beside.retain(|n| n != "input" && n != "dest");
    assert!(beside.is_empty(), "written outside the destination: {beside:?}");
});
