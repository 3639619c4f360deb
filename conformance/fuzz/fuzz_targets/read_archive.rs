//! Any bytes into the suite's archive reader: it must return (an error or a listing), never panic,
//! never exceed libFuzzer's memory limit (`-rss_limit_mb`), never hang past `-timeout`.
#![no_main]

use conformance::oracle::archive::{check_archive, read_archive, ArchiveExpect, VolumeFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if read_archive(data).is_ok() {
        // Then the checks that read inner tars (rootfs-diff.tar, volumes/*.tar), deleted.files
        // and stats-dump too.
        let expect = ArchiveExpect {
            members: vec!["@export".into()],
            rootfs_diff: vec!["added".into()],
            deleted: Some(vec![]),
            volumes: vec!["v".into()],
            volume_files: vec![VolumeFile {
                volume: "v".into(),
                path: "data".into(),
                contains: "x".into(),
            }],
            symlinks: [("checkpoint/parent".into(), "../pre-checkpoint".into())].into(),
            stats_dump: Some(true),
            ..ArchiveExpect::default()
        };
        let _ = check_archive(data, &expect);
    }
});
