//! The mutants: each is the real target behind the shim, deviating in exactly one documented way,
//! with the cases that could notice it (filters, as for `cargo xtask conformance`).

use crate::archive::ArchiveEdit;
use crate::args::Verb;
use crate::extract::Flaw;
use crate::output::{AnnotationEdit, InspectEdit, StatsEdit};

/// How a mutant deviates from the target it wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deviation {
    /// None: the control run (the shim alone must pass what the target passes).
    Control,
    /// `--compress FROM` (in any case) is run as `--compress TO`.
    CompressionReplaced {
        from: &'static str,
        to: &'static str,
    },
    /// With `--export` and no `--compress`, this compression instead of zstd.
    DefaultCompression(&'static str),
    /// `--compress` accepts lowercase names only.
    CompressionCaseSensitive,
    /// An unknown `--compress` value is refused before the check that `--export` is given.
    CompressionValueCheckedFirst,
    /// The option (and its value) never reaches the target.
    FlagDropped {
        verbs: &'static [Verb],
        long: &'static str,
    },
    /// The option is always given.
    FlagAdded {
        verbs: &'static [Verb],
        long: &'static str,
    },
    /// Option `when` also acts as option `also`.
    FlagImplies {
        verbs: &'static [Verb],
        when: &'static str,
        also: &'static str,
    },
    /// Option `from` is run as option `to` (both without a value).
    FlagReplaced {
        verbs: &'static [Verb],
        from: &'static str,
        to: &'static str,
    },
    /// `checkpoint --leave-running` without `--export` or `--create-image` prints the names and
    /// dumps nothing.
    LeaveRunningNoDump,
    /// `checkpoint --keep` deletes CRIU's log and statistics files afterwards, whether it
    /// succeeded or failed.
    KeepDeletesFiles,
    /// The exported archive, after the target wrote it.
    Archive(ArchiveEdit),
    /// `image inspect` of a checkpoint image.
    Annotation(AnnotationEdit),
    /// The `--print-stats` JSON of checkpoint and restore.
    Stats(StatsEdit),
    /// `container inspect`.
    Inspect(InspectEdit),
    /// `image save --format oci-archive` writes the image's manifest without its annotations
    /// (they live only where `image inspect` reads them).
    SavedWithoutAnnotations,
    /// A refused command line exits 0 instead of 125.
    ValidationExitsZero,
    /// Checkpoint and restore errors exit 1 instead of 125.
    ErrorsExitOne,
    /// Checkpoint and restore errors are worded differently.
    ErrorsReworded,
    /// Checkpoint and restore print full IDs where podman prints the name or ID as given.
    FullIdsPrinted,
    /// Restore prints container names where podman prints full IDs.
    RestorePrintsNames,
    /// `--all` acts on the first container only.
    AllFirstOnly,
    /// `--all` with no running container is an error.
    AllNoneFails,
    /// Named containers are checkpointed one at a time, so an unknown name stops nothing.
    OneAtATime,
    /// A checkpoint that fails leaves an empty export file behind, over any archive there.
    ExportClobberedOnFailure,
    /// An in-place restore starts the container afresh instead of restoring it.
    RestoreRestarts,
    /// `restore --import` first extracts the archive naively (`extract.rs`) beside it, trusting
    /// what the flaw says.
    ImportUnsanitised(crate::extract::Flaw),
    /// A failed `restore --import` leaves the container it made from `config.dump`.
    ImportLeavesContainer,
    /// A failed `restore --import` exits 0.
    ImportFailureExitsZero,
    /// A checkpoint that fails because another one got the container first reports success.
    CheckpointTakesOthersResult,
    /// A failed checkpoint with `--export` stops the containers that were running.
    FailedExportStops,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mutant {
    pub name: &'static str,
    pub deviation: Deviation,
    /// The deviation in one sentence, for the report.
    pub description: &'static str,
    /// The cases that can notice it (substrings of case ids); empty: every case.
    pub filters: &'static [&'static str],
    /// Why no case can tell it from the target, when that is so: it must survive, and a kill
    /// means the suite demands more than the spec.
    pub equivalent: Option<&'static str>,
    /// In `--fast`, with these narrower filters.
    pub fast: Option<&'static [&'static str]>,
    /// Its cases need the `vm` sandbox (soft-dirty tracking): it runs only with `--sandbox vm`.
    pub vm: bool,
}

const CHECKPOINT: &[Verb] = &[Verb::Checkpoint];
const RESTORE: &[Verb] = &[Verb::Restore];
const BOTH: &[Verb] = &[Verb::Checkpoint, Verb::Restore];

/// Cases that export or import an archive (`interop.to-peer`: the target exports, the peer engine
/// restores).
const ARCHIVES: &[&str] = &["export.", "import.", "interop.to-peer"];

/// Cases whose archive steps have checkpointctl and crit read the target's export.
const READ_ARCHIVES: &[&str] = &["export."];

/// Cases that check an archive's compression, or restore one.
const COMPRESSION: &[&str] = &[
    "export.compress",
    "export.default",
    "export.example",
    "export.members",
    "validation.export",
    "create-image.with-export",
    "import.gzip",
    "import.none",
    "import.zstd",
];

const fn mutant(name: &'static str, deviation: Deviation, description: &'static str) -> Mutant {
    Mutant {
        name,
        deviation,
        description,
        filters: &[],
        equivalent: None,
        fast: None,
        vm: false,
    }
}

impl Mutant {
    const fn on(mut self, filters: &'static [&'static str]) -> Mutant {
        self.filters = filters;
        self
    }

    const fn fast(mut self, filters: &'static [&'static str]) -> Mutant {
        self.fast = Some(filters);
        self
    }

    const fn in_vm(mut self) -> Mutant {
        self.vm = true;
        self
    }

    const fn equivalent(mut self, why: &'static str) -> Mutant {
        self.equivalent = Some(why);
        self
    }
}

/// The control run: the shim passing everything through.
pub const CONTROL: Mutant = mutant(
    "control",
    Deviation::Control,
    "no deviation: the shim passes every command to the target unchanged",
);

use Deviation as D;

pub const CATALOG: &[Mutant] = &[
    // --- compression ---
    mutant(
        "compress-gzip-as-zstd",
        D::CompressionReplaced { from: "gzip", to: "zstd" },
        "`--compress gzip` writes a zstd archive",
    )
    .on(COMPRESSION)
    .fast(&["export.compress-gzip"]),
    mutant(
        "compress-none-as-gzip",
        D::CompressionReplaced { from: "none", to: "gzip" },
        "`--compress none` writes a gzip archive",
    )
    .on(COMPRESSION),
    mutant(
        "compress-zstd-as-none",
        D::CompressionReplaced { from: "zstd", to: "none" },
        "an explicit `--compress zstd` writes a plain tar",
    )
    .on(COMPRESSION),
    mutant(
        "default-gzip",
        D::DefaultCompression("gzip"),
        "without `--compress`, the archive is gzip instead of zstd",
    )
    .on(COMPRESSION),
    mutant(
        "always-plain-tar",
        D::Archive(ArchiveEdit::Decompressed),
        "every archive is written as a plain tar, whatever `--compress` says",
    )
    .on(COMPRESSION),
    mutant(
        "compress-case-sensitive",
        D::CompressionCaseSensitive,
        "`--compress NONE` is refused: only lowercase names are accepted",
    )
    .on(&["export.compress", "validation.bad-compression", "validation.compress"]),
    mutant(
        "compress-value-checked-first",
        D::CompressionValueCheckedFirst,
        "an unknown `--compress` value is refused before `--compress` without `--export` is",
    )
    .on(&["validation.bad-compression", "validation.compress"]),
    mutant(
        "zstd-level-19",
        D::Archive(ArchiveEdit::ZstdLevel(19)),
        "zstd archives are compressed at level 19 instead of 3",
    )
    .on(COMPRESSION)
    .equivalent("the man page and podman promise zstd, not a compression level; any level decodes the same"),
    // --- options that never reach the target ---
    mutant(
        "drop-leave-running",
        D::FlagDropped { verbs: CHECKPOINT, long: "leave-running" },
        "`--leave-running`/`-R` is ignored: the container stops",
    )
    .on(&["leave-running", "export.bad-path", "create-image"])
    .fast(&["leave-running.stays-running"]),
    mutant(
        "drop-tcp-established",
        D::FlagDropped { verbs: BOTH, long: "tcp-established" },
        "`--tcp-established` is ignored by checkpoint and restore",
    )
    .on(&["tcp"]),
    mutant(
        "drop-file-locks",
        D::FlagDropped { verbs: BOTH, long: "file-locks" },
        "`--file-locks` is ignored by checkpoint and restore",
    )
    .on(&["file-locks"]),
    mutant(
        "drop-ignore-rootfs",
        D::FlagDropped { verbs: CHECKPOINT, long: "ignore-rootfs" },
        "checkpoint ignores `--ignore-rootfs`: the archive has the rootfs changes",
    )
    .on(&["ignore-rootfs"]),
    mutant(
        "drop-ignore-volumes",
        D::FlagDropped { verbs: CHECKPOINT, long: "ignore-volumes" },
        "checkpoint ignores `--ignore-volumes`: the archive has the volumes",
    )
    .on(&["ignore-volumes"]),
    mutant(
        "restore-drop-ignore-rootfs",
        D::FlagDropped { verbs: RESTORE, long: "ignore-rootfs" },
        "restore ignores `--ignore-rootfs`: the archive's rootfs changes are applied",
    )
    .on(&["ignore-rootfs"]),
    mutant(
        "restore-drop-ignore-volumes",
        D::FlagDropped { verbs: RESTORE, long: "ignore-volumes" },
        "restore ignores `--ignore-volumes`: the archive's volumes are restored",
    )
    .on(&["ignore-volumes", "import.volume"]),
    mutant(
        "drop-keep",
        D::FlagDropped { verbs: BOTH, long: "keep" },
        "`--keep`/`-k` is ignored: CRIU's files are deleted",
    )
    .on(&["keep"]),
    mutant(
        "drop-create-image",
        D::FlagDropped { verbs: CHECKPOINT, long: "create-image" },
        "`--create-image IMAGE` is ignored: no image is made",
    )
    .on(&["create-image"]),
    mutant(
        "drop-print-stats",
        D::FlagDropped { verbs: BOTH, long: "print-stats" },
        "`--print-stats` is ignored: the names are printed",
    )
    .on(&["print-stats"]),
    mutant(
        "restore-drop-name",
        D::FlagDropped { verbs: RESTORE, long: "name" },
        "restore ignores `--name`/`-n`: the copy gets the checkpointed container's name",
    )
    .on(&["import", "create-image.restore", "leave-running.export", "interop.from-peer"]),
    // --- options that are always on ---
    mutant(
        "import-ignores-rootfs",
        D::FlagAdded { verbs: RESTORE, long: "ignore-rootfs" },
        "restore always leaves out the archive's rootfs changes, as with `--ignore-rootfs`",
    )
    .on(&["import.rootfs", "interop.from-peer-rootfs"]),
    mutant(
        "import-ignores-volumes",
        D::FlagAdded { verbs: RESTORE, long: "ignore-volumes" },
        "restore always leaves out the archive's volumes, as with `--ignore-volumes`",
    )
    .on(&["import.volume", "interop.from-peer-volume"]),
    mutant(
        "checkpoint-leaves-running",
        D::FlagAdded { verbs: CHECKPOINT, long: "leave-running" },
        "checkpoint always leaves the container running",
    )
    .on(&["basic", "all", "latest"]),
    mutant(
        "tcp-established-by-default",
        D::FlagAdded { verbs: BOTH, long: "tcp-established" },
        "established TCP connections are always checkpointed and restored",
    )
    .on(&["tcp"]),
    mutant(
        "file-locks-by-default",
        D::FlagAdded { verbs: CHECKPOINT, long: "file-locks" },
        "file locks are always checkpointed",
    )
    .on(&["file-locks"]),
    mutant(
        "keep-by-default",
        D::FlagAdded { verbs: BOTH, long: "keep" },
        "CRIU's files are always kept, as with `--keep`",
    )
    .on(&["basic.by-name", "basic.state-after-restore", "keep", "leave-running.stays"]),
    mutant(
        "ignore-rootfs-drops-volumes",
        D::FlagImplies { verbs: CHECKPOINT, when: "ignore-rootfs", also: "ignore-volumes" },
        "checkpoint `--ignore-rootfs` also leaves the volumes out of the archive",
    )
    .on(&["ignore-rootfs"]),
    mutant(
        "ignore-volumes-drops-rootfs",
        D::FlagImplies { verbs: CHECKPOINT, when: "ignore-volumes", also: "ignore-rootfs" },
        "checkpoint `--ignore-volumes` also leaves the root file-system changes out of the archive",
    )
    .on(&["ignore-volumes"]),
    mutant(
        "leave-running-no-dump",
        D::LeaveRunningNoDump,
        "`checkpoint --leave-running` (no `--export`, no `--create-image`) prints the names and \
         takes no checkpoint",
    )
    .on(&["leave-running"]),
    mutant(
        "keep-deletes-files",
        D::KeepDeletesFiles,
        "`checkpoint --keep` deletes CRIU's log and statistics files afterwards, also when the \
         checkpoint failed",
    )
    .on(&["keep"]),
    mutant(
        "pre-checkpoint-unsupported-full-dump",
        D::FlagReplaced { verbs: CHECKPOINT, from: "pre-checkpoint", to: "leave-running" },
        "without soft-dirty tracking, `--pre-checkpoint` silently takes a full checkpoint and \
         leaves the container running instead of refusing",
    )
    .on(&["pre-checkpoint.unsupported"]),
    mutant(
        "with-previous-unchecked",
        D::FlagDropped { verbs: CHECKPOINT, long: "with-previous" },
        "without soft-dirty tracking, `--with-previous` is not refused: a full checkpoint is taken",
    )
    .on(&["pre-checkpoint.unsupported"]),
    // --- the archive ---
    mutant(
        "archive-without-stats-dump",
        D::Archive(ArchiveEdit::Without("stats-dump")),
        "the archive has no `stats-dump`",
    )
    .on(ARCHIVES)
    .fast(&["export.stats-dump"]),
    mutant(
        "archive-without-config-dump",
        D::Archive(ArchiveEdit::Without("config.dump")),
        "the archive has no `config.dump`",
    )
    .on(ARCHIVES),
    mutant(
        "archive-without-rootfs-diff",
        D::Archive(ArchiveEdit::Without("rootfs-diff.tar")),
        "the archive has no `rootfs-diff.tar`",
    )
    .on(ARCHIVES),
    mutant(
        "archive-without-volumes",
        D::Archive(ArchiveEdit::Without("volumes/")),
        "the archive has no `volumes/<name>.tar`",
    )
    .on(ARCHIVES),
    mutant(
        "archive-with-dump-log",
        D::Archive(ArchiveEdit::Extra { path: "dump.log", content: "(00.000000) Dumping finished successfully\n" }),
        "the archive has an extra `dump.log`",
    )
    .on(ARCHIVES),
    mutant(
        "archive-deleted-files-emptied",
        D::Archive(ArchiveEdit::DeletedFilesEmptied),
        "`deleted.files` lists no deletion (`[]`)",
    )
    .on(ARCHIVES),
    // --- what the independent readers (checkpointctl, crit) make of the archive ---
    mutant(
        "archive-manager-not-libpod",
        D::Archive(ArchiveEdit::Manager("refpod")),
        "spec.dump's `io.container.manager` is `refpod` (as refpod wrote it), not podman's `libpod`; \
         killed by oracle::checkpointctl, which reads the engine as `containerd` and no name",
    )
    .on(READ_ARCHIVES),
    mutant(
        "archive-pstree-first-dropped",
        D::Archive(ArchiveEdit::PstreeFirstDropped),
        "`checkpoint/pstree.img` lacks its first entry, the container's first process; killed by \
         oracle::crit (core-1.img belongs to no process, the workload's process is missing)",
    )
    .on(READ_ARCHIVES),
    mutant(
        "archive-core-image-unreadable",
        D::Archive(ArchiveEdit::CriuMagicBroken("checkpoint/core-1.img")),
        "`checkpoint/core-1.img` has a broken magic; killed by oracle::crit (crit cannot decode it)",
    )
    .on(READ_ARCHIVES),
    mutant(
        "archive-members-sorted",
        D::Archive(ArchiveEdit::Sorted),
        "the archive's members are in path order, not in the order podman walks them",
    )
    .on(ARCHIVES)
    .equivalent("the order of members is not part of the archive layout; tar readers do not depend on it"),
    // --- the checkpoint image ---
    mutant(
        "image-saved-without-annotations",
        D::SavedWithoutAnnotations,
        "a checkpoint image saved as oci-archive has no annotations in its manifest, though \
         `image inspect` shows them; killed by oracle::skopeo (skopeo reads no annotation)",
    )
    .on(&["create-image.annotations"]),
    mutant(
        "image-without-runtime-version",
        D::Annotation(AnnotationEdit::Dropped("runtime.version")),
        "`image inspect` lacks the `runtime.version` annotation",
    )
    .on(&["create-image"]),
    mutant(
        "image-kernel-truncated",
        D::Annotation(AnnotationEdit::KernelTruncated),
        "the `host.kernel` annotation lacks the local version (`6.1.0` for `6.1.0-40-amd64`)",
    )
    .on(&["create-image"]),
    mutant(
        "image-criu-dotted",
        D::Annotation(AnnotationEdit::CriuDotted),
        "the `criu.version` annotation is `4.2.1` instead of `40201`",
    )
    .on(&["create-image"])
    .fast(&["create-image.annotations"]),
    // --- --print-stats ---
    mutant(
        "stats-warning-line",
        D::Stats(StatsEdit::WarningLine),
        "a warning line on stdout before the statistics JSON",
    )
    .on(&["print-stats"]),
    mutant(
        "stats-duration-renamed",
        D::Stats(StatsEdit::DurationRenamed),
        "`podman_<kind>_duration` is called `podman_duration`",
    )
    .on(&["print-stats"])
    .fast(&["print-stats.checkpoint"]),
    mutant(
        "stats-duration-as-string",
        D::Stats(StatsEdit::DurationAsString),
        "`runtime_<kind>_duration` is a string",
    )
    .on(&["print-stats"]),
    mutant(
        "stats-runtime-exceeds-podman",
        D::Stats(StatsEdit::RuntimeExceedsPodman),
        "`runtime_<kind>_duration` is longer than the podman duration around it",
    )
    .on(&["print-stats"]),
    mutant(
        "stats-criu-empty",
        D::Stats(StatsEdit::CriuEmptied),
        "`criu_statistics` is `{}`: CRIU's statistics are never read",
    )
    .on(&["print-stats"]),
    mutant(
        "stats-durations-zero",
        D::Stats(StatsEdit::DurationsZeroed),
        "`podman_<kind>_duration` and `runtime_<kind>_duration` are 0: nothing is timed",
    )
    .on(&["print-stats"]),
    mutant(
        "stats-pages-written-off",
        D::Stats(StatsEdit::PagesWrittenOff),
        "`pages_written` is one page off what CRIU wrote (still not 0 and not above the pages scanned)",
    )
    .on(&["print-stats"])
    .fast(&["print-stats.with-export"]),
    mutant(
        "stats-first-container-only",
        D::Stats(StatsEdit::FirstContainerOnly),
        "statistics for the first container only",
    )
    .on(&["print-stats"]),
    // --- the command line ---
    mutant(
        "validation-exits-zero",
        D::ValidationExitsZero,
        "a refused command line exits 0 (its error message is still printed)",
    )
    .on(&["validation"])
    .fast(&["validation.all-and-latest"]),
    mutant(
        "errors-exit-one",
        D::ErrorsExitOne,
        "checkpoint and restore errors exit 1 instead of 125",
    )
    .on(&["validation", "export.bad-path", "tcp.without", "file-locks.without", "reliability.concurrent"]),
    mutant(
        "errors-reworded",
        D::ErrorsReworded,
        "checkpoint and restore errors say the same in other words",
    )
    .on(&["validation", "export.bad-path", "latest.newest-not-running"]),
    mutant(
        "full-ids-printed",
        D::FullIdsPrinted,
        "checkpoint and restore print full IDs instead of the names given",
    )
    .on(&["basic", "keep", "leave-running.short"]),
    mutant(
        "restore-prints-names",
        D::RestorePrintsNames,
        "restore prints the container's name where podman prints its full ID (`--import`, an image, `--all`, `--latest`)",
    )
    .on(&["import", "create-image.restore", "latest.short-flag-restore", "all.several", "leave-running.export"]),
    mutant(
        "all-first-only",
        D::AllFirstOnly,
        "`--all` acts on the first container only",
    )
    .on(&["all"]),
    mutant(
        "all-none-fails",
        D::AllNoneFails,
        "`checkpoint --all` with no running container fails instead of doing nothing",
    )
    .on(&["all"]),
    mutant(
        "one-at-a-time",
        D::OneAtATime,
        "named containers are checkpointed one at a time, so one unknown name does not stop the others",
    )
    .on(&["validation.one-unknown", "basic.several", "print-stats.several"]),
    mutant(
        "export-clobbered-on-failure",
        D::ExportClobberedOnFailure,
        "a failed checkpoint with `--export` leaves an empty file at the export path",
    )
    .on(&["validation.export", "export.bad-path", "reliability.full-disk"]),
    mutant(
        "failed-export-stops",
        D::FailedExportStops,
        "a checkpoint with `--export` that fails leaves its containers stopped instead of running",
    )
    .on(&["reliability.full-disk", "export.bad-path"]),
    mutant(
        "checkpoint-takes-others-result",
        D::CheckpointTakesOthersResult,
        "a checkpoint that loses to a concurrent one waits for it and reports its success as its own",
    )
    .on(&["reliability.concurrent"]),
    // --- hostile archives ---
    // Killed (2026-12-07) by the escape or the victim of every path case; against podman only by
    // those it passes, among them `longname-bomb`, `pax-longname-bomb` and `size-overflow`
    // (the traversal behind the bomb or the overflow, which this reader reaches).
    mutant(
        "import-unsanitised",
        D::ImportUnsanitised(Flaw::Paths),
        "`restore --import` first extracts the archive beside it naively, with a C extractor's tar reader (sizes rounded with wrapping arithmetic, long names cut at their first NUL): names, `..`, symlinks and hard links as written, inner tars and `deleted.files` too",
    )
    .on(&["hostile.absolute", "traversal", "symlink", "hardlink", "hostile.duplicate", "hostile.non-utf8", "hostile.longname-bomb", "hostile.pax-longname-bomb", "hostile.size-overflow"])
    .fast(&["hostile.symlink-relative-write"]),
    // Killed (2026-12-07, `--bin target/debug/refpod`: podman fails these cases already) by
    // `no_hazard` in device-node, rootfs-device-node, setuid, rootfs-setuid, decompression-bomb
    // (a 5 GiB file), huge-declared-size (1 TiB).
    mutant(
        "import-headers-trusted",
        D::ImportUnsanitised(Flaw::Headers),
        "the naive extraction also trusts the headers: device nodes made, setuid and setgid bits kept, each file preallocated at its declared size",
    )
    .on(&["hostile.device-node", "hostile.rootfs-device-node", "hostile.setuid", "hostile.rootfs-setuid", "hostile.decompression-bomb", "hostile.huge-declared-size"]),
    // Killed (2026-12-07, refpod) by `intact` in meta-symlink-network-status (the victim
    // rewritten) and meta-symlink-checkpoint (deleted).
    mutant(
        "import-follows-metadata-links",
        D::ImportUnsanitised(Flaw::MetadataLinks),
        "the naive extraction also rewrites `network.status` and removes the images of `checkpoint/` as found, through the symlink the archive made",
    )
    .on(&["hostile.meta-symlink"]),
    // Killed (2026-12-07, refpod) by `no_file` in meta-runtime-path.
    mutant(
        "import-archive-runtime",
        D::ImportUnsanitised(Flaw::ArchiveRuntime),
        "the naive extraction also runs config.dump's `runtime` when it is a path, as the OCI runtime would be",
    )
    .on(&["hostile.meta-runtime-path"]),
    mutant(
        "import-leaves-container",
        D::ImportLeavesContainer,
        "a failed `restore --import` leaves the container it created from `config.dump`",
    )
    .on(&["hostile.traversal", "hostile.hardlink", "hostile.symlink-relative", "hostile.non-utf8", "hostile.rootfs"]),
    mutant(
        "import-failure-exits-zero",
        D::ImportFailureExitsZero,
        "a failed `restore --import` exits 0 (its error message is still printed)",
    )
    .on(&["hostile"]),
    // --- the container's state ---
    mutant(
        "restore-restarts",
        D::RestoreRestarts,
        "an in-place restore starts the container afresh (`start`): the workload begins again",
    )
    .on(&[
        "basic.restore-continues",
        "basic.checkpoint-twice",
        "basic.state-after-restore",
        "keep.restore",
        "file-locks",
        "tcp.established",
        "print-stats.restore",
    ])
    .fast(&["basic.restore-continues"]),
    mutant(
        "inspect-not-checkpointed",
        D::Inspect(InspectEdit::NotCheckpointed),
        "`container inspect` reports `Checkpointed: false`",
    )
    .on(&["basic", "keep", "all", "latest"])
    .fast(&["basic.by-name"]),
    mutant(
        "inspect-not-restored",
        D::Inspect(InspectEdit::NotRestored),
        "`container inspect` reports `Restored: false`",
    )
    .on(&[
        "basic.state-after-restore",
        "keep.restore",
        "import.",
        "leave-running.export",
        "interop.from-peer",
    ]),
    mutant(
        "pre-checkpoint-full-dump",
        D::FlagDropped { verbs: CHECKPOINT, long: "pre-checkpoint" },
        "`--pre-checkpoint`/`-P` is ignored: a full checkpoint is taken instead of a pre-dump",
    )
    .on(&["pre-checkpoint."])
    .in_vm(),
    mutant(
        "with-previous-ignored",
        D::FlagDropped { verbs: CHECKPOINT, long: "with-previous" },
        "`--with-previous` is ignored: the checkpoint dumps every page again, as if there were \
         no pre-checkpoint",
    )
    .on(&["pre-checkpoint."])
    .in_vm(),
];

/// Case groups no mutant runs, and why (the report gives the reason with each case).
pub const NOT_RUN: &[(&str, &str)] = &[(
    "pre-checkpoint.",
    "needs soft-dirty memory tracking, which the host kernel lacks, so it is skipped in the `ns` \
     sandbox; its mutants (`pre-checkpoint-full-dump`, `with-previous-ignored`) run in the `vm` \
     sandbox: `cargo xtask mutants --sandbox vm` (docs/mutants-vm.md)",
)];

/// The pre-checkpoint cases that need the ABSENCE of soft-dirty tracking: they run in `ns`.
const RUN_WITHOUT_SOFT_DIRTY: &str = "pre-checkpoint.unsupported";

/// Why no mutant runs the case, when the catalog says.
pub fn not_run(case: &str) -> Option<&'static str> {
    if case.starts_with(RUN_WITHOUT_SOFT_DIRTY) {
        return None;
    }
    NOT_RUN
        .iter()
        .find(|(prefix, _)| case.starts_with(prefix))
        .map(|(_, why)| *why)
}

pub fn find(name: &str) -> Option<&'static Mutant> {
    std::iter::once(&CONTROL)
        .chain(CATALOG)
        .find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_findable() {
        let mut names: Vec<&str> = CATALOG.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
        assert!(find("control").is_some());
        assert!(CATALOG.iter().all(|m| find(m.name) == Some(m)));
        assert!(find("nope").is_none());
    }

    #[test]
    fn every_mutant_deviates_and_is_described() {
        assert!(CATALOG.len() >= 25);
        for m in CATALOG {
            assert_ne!(m.deviation, Deviation::Control, "{}", m.name);
            assert!(
                !m.description.is_empty() && !m.filters.is_empty(),
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn the_fast_subset_is_small() {
        let fast: Vec<_> = CATALOG.iter().filter_map(|m| m.fast).collect();
        assert!((5..=11).contains(&fast.len()));
        assert!(fast.iter().all(|f| f.len() == 1));
    }
}
