//! A checkpoint archive as checkpointctl (the checkpoint-restore project's archive reader) reads it:
//! `checkpointctl inspect --format json --ps-tree --files --mounts --stats ARCHIVE` must report
//! what it reports for a podman export of the same container: engine `Podman` (checkpointctl tells
//! the engine by spec.dump's `io.container.manager`, and takes any manager but `libpod` or `cri-o`
//! for containerd, whose name it then reads from a CRI annotation), the container's name, ID,
//! image and runtime, the sizes of what the archive holds, the dump statistics, and the process
//! tree that CRIU's images hold.

use super::archive::Archive;
use super::processes::Process;
use super::Finding;
use serde::Deserialize;

/// Largest output parsed: the JSON of one archive is a few KiB.
const MAX_OUTPUT: usize = 16 << 20;

/// One archive, as `RenderJSONView` prints it (checkpointctl 1.3.0, `internal/json.go`).
#[derive(Debug, Deserialize)]
struct Node {
    container_name: String,
    image: String,
    id: String,
    runtime: String,
    #[serde(default)]
    created: String,
    engine: String,
    checkpoint_size: Sizes,
    statistics: Option<Statistics>,
    process_tree: Option<PsNode>,
    #[serde(default)]
    file_descriptors: Vec<FdNode>,
    #[serde(default)]
    mounts: Vec<Mount>,
}

/// Fields checkpointctl leaves out when zero.
#[derive(Debug, Deserialize)]
struct Sizes {
    #[serde(default)]
    total_size: u64,
    #[serde(default)]
    memory_pages_size: u64,
    #[serde(default)]
    root_fs_diff_size: u64,
}

#[derive(Debug, Deserialize)]
struct Statistics {
    #[serde(default)]
    frozen_time: u64,
    #[serde(default)]
    pages_scanned: u64,
    #[serde(default)]
    pages_written: u64,
}

#[derive(Debug, Deserialize)]
struct PsNode {
    pid: u32,
    command: String,
    #[serde(default)]
    children: Vec<PsNode>,
}

#[derive(Debug, Deserialize)]
struct FdNode {
    pid: u32,
}

#[derive(Debug, Deserialize)]
struct Mount {
    destination: String,
}

/// What a podman export of the container reads as.
pub struct Expect<'a> {
    /// The container's name as the case created it.
    pub name: &'a str,
    /// Its full ID, from `container inspect` when it was created.
    pub id: &'a str,
    /// The image name it was created from, as config.dump's `rootfsImageName` holds it.
    pub image: &'a str,
    /// Its OCI runtime (`inspect` `OCIRuntime`).
    pub runtime: &'a str,
    /// Mount destinations the container was created with (its volumes).
    pub mounts: &'a [String],
    /// The tree crit decoded from the same archive: both readers must see the same processes.
    pub tree: &'a [Process],
}

/// Judges checkpointctl's JSON for one archive against the expectation and the archive's own
/// listing (read by the suite's reader), for the sizes.
pub fn check(output: &str, archive: &Archive, expect: &Expect) -> Vec<Finding> {
    if output.len() > MAX_OUTPUT {
        return vec![format!(
            "checkpointctl printed {} bytes, more than the {MAX_OUTPUT} read",
            output.len()
        )];
    }
    let nodes: Vec<Node> = match serde_json::from_str(output) {
        Ok(n) => n,
        Err(e) => return vec![format!("checkpointctl's JSON is not its archive view: {e}")],
    };
    let [node] = nodes.as_slice() else {
        return vec![format!(
            "checkpointctl read {} containers in the archive, expected one",
            nodes.len()
        )];
    };
    let mut f = vec![];
    if node.engine != "Podman" {
        f.push(format!(
            "checkpointctl reads the engine as `{}`, a podman export reads as `Podman` \
             (spec.dump's io.container.manager must be `libpod`)",
            node.engine
        ));
    }
    let fields = [
        ("container name", &node.container_name, expect.name),
        ("ID", &node.id, expect.id),
        ("image", &node.image, expect.image),
        ("runtime", &node.runtime, expect.runtime),
    ];
    for (what, got, want) in fields {
        if got != want {
            f.push(format!(
                "checkpointctl reads the {what} as {got:?}, expected {want:?}"
            ));
        }
    }
    if node.created.is_empty() || node.created.starts_with("0001-") {
        f.push(format!(
            "checkpointctl reads no creation time ({:?})",
            node.created
        ));
    }
    f.extend(check_sizes(&node.checkpoint_size, archive));
    match &node.statistics {
        Some(s)
            if s.pages_written > 0 && s.pages_scanned >= s.pages_written && s.frozen_time > 0 => {}
        Some(s) => f.push(format!(
            "checkpointctl reads implausible dump statistics: {s:?} (pages written > 0, \
             scanned >= written, frozen time > 0 expected)"
        )),
        None => f.push("checkpointctl reads no dump statistics (stats-dump)".into()),
    }
    for dest in expect.mounts {
        if !node.mounts.iter().any(|m| m.destination == *dest) {
            f.push(format!(
                "checkpointctl lists no mount at {dest} in spec.dump"
            ));
        }
    }
    match &node.process_tree {
        Some(root) => {
            let mut seen = vec![];
            flatten(root, 0, &mut seen);
            let mine: Vec<(u32, &str)> = seen.iter().map(|p| (p.pid, p.comm.as_str())).collect();
            let mut crit: Vec<(u32, &str)> = expect
                .tree
                .iter()
                .map(|p| (p.pid, p.comm.as_str()))
                .collect();
            let mut sorted = mine.clone();
            sorted.sort();
            crit.sort();
            if sorted != crit {
                f.push(format!(
                    "checkpointctl's process tree {mine:?} is not the one crit decodes {crit:?}"
                ));
            }
            for p in &seen {
                if !node.file_descriptors.iter().any(|d| d.pid == p.pid) {
                    f.push(format!(
                        "checkpointctl lists no open files of pid {} ({})",
                        p.pid, p.comm
                    ));
                }
            }
        }
        None => f.push("checkpointctl reads no process tree".into()),
    }
    f
}

/// The finding when checkpointctl exits non-zero: its error, without a Go stack trace.
pub fn unreadable(exit: Option<i32>, stderr: &str) -> Finding {
    let first = stderr.trim().lines().next().unwrap_or("no error text");
    if stderr.contains("goroutine ") {
        // A limitation of 1.3.0, in its source: go-criu 7.2's ExplorePs appends each process to
        // its parent's entry without looking it up, so a parent missing from pstree.img crashes it.
        format!(
            "checkpointctl crashed reading the archive (exit {exit:?}: {first}); checkpointctl \
             1.3.0 (go-criu 7.2 ExplorePs) crashes when a process's parent is not in pstree.img: \
             see crit's findings"
        )
    } else {
        format!("checkpointctl cannot read the archive (exit {exit:?}): {first}")
    }
}

fn flatten(node: &PsNode, ppid: u32, out: &mut Vec<Process>) {
    out.push(Process {
        pid: node.pid,
        ppid,
        comm: node.command.clone(),
    });
    for child in &node.children {
        flatten(child, node.pid, out);
    }
}

/// checkpointctl's sizes are sums over the archive's members: they must be the suite's sums.
fn check_sizes(sizes: &Sizes, archive: &Archive) -> Vec<Finding> {
    let regular = |m: &&super::archive::Member| m.kind == super::archive::MemberKind::File;
    let sum = |prefix: &str| -> u64 {
        archive
            .members
            .iter()
            .filter(regular)
            .filter(|m| m.path.starts_with(prefix))
            .map(|m| m.size)
            .sum()
    };
    let diff = archive
        .members
        .iter()
        .filter(regular)
        .find(|m| m.path == "rootfs-diff.tar")
        .map_or(0, |m| m.size);
    let mut f = vec![];
    let checks = [
        ("checkpoint size", sizes.total_size, sum("checkpoint/")),
        (
            "memory pages size",
            sizes.memory_pages_size,
            sum("checkpoint/pages-"),
        ),
        ("rootfs diff size", sizes.root_fs_diff_size, diff),
    ];
    for (what, got, want) in checks {
        if got != want {
            f.push(format!(
                "checkpointctl reads the {what} as {got} bytes, the archive holds {want}"
            ));
        }
    }
    if sizes.total_size == 0 {
        f.push("checkpointctl reads an empty checkpoint".into());
    }
    f
}

#[cfg(test)]
mod tests {
    use super::super::archive::{Compression, Member, MemberKind};
    use super::*;

    fn file(path: &str, size: u64) -> Member {
        Member {
            path: path.into(),
            kind: MemberKind::File,
            link_target: None,
            size,
            data: None,
        }
    }

    fn archive() -> Archive {
        Archive {
            compression: Compression::Zstd,
            members: vec![
                file("config.dump", 10),
                file("checkpoint/inventory.img", 40),
                file("checkpoint/pages-1.img", 4096),
                file("rootfs-diff.tar", 2048),
            ],
        }
    }

    fn tree() -> Vec<Process> {
        vec![
            Process {
                pid: 1,
                ppid: 0,
                comm: "counter".into(),
            },
            Process {
                pid: 7,
                ppid: 1,
                comm: "sleep".into(),
            },
        ]
    }

    fn podman() -> serde_json::Value {
        serde_json::json!([{
            "container_name": "c1", "image": "localhost/busybox:latest", "id": "abc123",
            "runtime": "crun", "created": "2026-01-01T00:00:00Z", "engine": "Podman",
            "checkpoint_size": {"total_size": 4136, "memory_pages_size": 4096, "root_fs_diff_size": 2048},
            "statistics": {"freezing_time": 10, "frozen_time": 200, "memdump_time": 5,
                           "memwrite_time": 5, "pages_scanned": 90, "pages_written": 20},
            "process_tree": {"pid": 1, "command": "counter", "cmdline": "/bin/sh /usr/bin/counter",
                             "children": [{"pid": 7, "command": "sleep"}]},
            "file_descriptors": [{"pid": 1, "open_files": []}, {"pid": 7}],
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                       {"destination": "/vol", "type": "bind", "source": "/x"}]
        }])
    }

    fn judge(v: &serde_json::Value) -> Vec<Finding> {
        let t = tree();
        let mounts = vec!["/vol".to_string()];
        let expect = Expect {
            name: "c1",
            id: "abc123",
            image: "localhost/busybox:latest",
            runtime: "crun",
            mounts: &mounts,
            tree: &t,
        };
        check(&v.to_string(), &archive(), &expect)
    }

    #[test]
    fn a_podman_export_passes() {
        assert_eq!(judge(&podman()), Vec::<Finding>::new());
    }

    #[test]
    fn an_archive_read_as_containerd_is_found() {
        // What checkpointctl printed for refpod's archives: manager `refpod` -> containerd, and
        // the name from a CRI annotation that is not there.
        let mut v = podman();
        v[0]["engine"] = "containerd".into();
        v[0]["container_name"] = "".into();
        let f = judge(&v);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].contains("`containerd`"));
        assert!(f[1].contains("container name as \"\""));
    }

    #[test]
    fn wrong_fields_are_found() {
        for (key, value) in [
            ("id", "other"),
            ("image", "x"),
            ("runtime", "runc"),
            ("created", ""),
        ] {
            let mut v = podman();
            v[0][key] = value.into();
            assert_eq!(judge(&v).len(), 1, "{key}");
        }
    }

    #[test]
    fn sizes_not_those_of_the_archive_are_found() {
        let mut v = podman();
        v[0]["checkpoint_size"] =
            serde_json::json!({"total_size": 4136, "memory_pages_size": 4096});
        let f = judge(&v);
        assert!(
            f[0].contains("rootfs diff size as 0 bytes, the archive holds 2048"),
            "{f:?}"
        );
    }

    #[test]
    fn missing_statistics_tree_mounts_or_files_are_found() {
        for key in ["statistics", "process_tree", "mounts", "file_descriptors"] {
            let mut v = podman();
            v[0].as_object_mut().unwrap().remove(key);
            assert!(!judge(&v).is_empty(), "{key}");
        }
        let mut v = podman();
        v[0]["statistics"]["pages_written"] = 0.into();
        assert!(!judge(&v).is_empty());
    }

    #[test]
    fn a_tree_other_than_crits_is_found() {
        let mut v = podman();
        v[0]["process_tree"]["children"][0]["command"] = "mv".into();
        let f = judge(&v);
        assert!(f[0].contains("not the one crit decodes"), "{f:?}");
    }

    #[test]
    fn garbage_or_several_containers_are_findings() {
        assert!(!check("not json", &archive(), &dummy()).is_empty());
        assert!(!check("[]", &archive(), &dummy()).is_empty());
        let two = serde_json::json!([podman()[0], podman()[0]]).to_string();
        assert!(check(&two, &archive(), &dummy())[0].contains("2 containers"));
    }

    #[test]
    fn a_crash_is_named_a_crash_without_its_stack() {
        let panic =
            "panic: runtime error: invalid memory address\n\ngoroutine 1 [running]:\nmain.main()";
        let f = unreadable(Some(2), panic);
        assert!(
            f.contains("crashed") && f.contains("invalid memory address"),
            "{f}"
        );
        assert!(!f.contains("main.main"), "{f}");
        let f = unreadable(
            Some(1),
            "Error: failed to get process tree: unknown magic 0xdeadbeef\n",
        );
        assert!(f.ends_with("unknown magic 0xdeadbeef"), "{f}");
    }

    fn dummy() -> Expect<'static> {
        Expect {
            name: "",
            id: "",
            image: "",
            runtime: "",
            mounts: &[],
            tree: &[],
        }
    }
}
