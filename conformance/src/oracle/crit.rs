//! CRIU's images in a checkpoint archive, as `crit decode` (CRIU's own image tool, python3-pycriu)
//! prints them: inventory, pstree, and the core and mm image of every process in the tree.
//!
//! The runner decodes every `checkpoint/{inventory,pstree,core-*,mm-*}.img` of the archive and
//! hands the outputs here; crit's output is untrusted text, parsed into typed structs.

use super::processes::Process;
use super::Finding;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// The images the runner decodes: a predicate on archive member paths under `checkpoint/`.
pub fn decoded_image(name: &str) -> bool {
    name == "inventory.img"
        || name == "pstree.img"
        || ((name.starts_with("core-") || name.starts_with("mm-")) && name.ends_with(".img"))
}

/// crit's output for one image: its JSON, or why it could not decode it.
pub type Decoded = BTreeMap<String, Result<String, String>>;

/// Largest crit output parsed (a core image of a big process is some tens of KiB).
const MAX_OUTPUT: usize = 16 << 20;

#[derive(Deserialize)]
struct Image<T> {
    magic: String,
    entries: Vec<T>,
}

#[derive(Deserialize)]
struct Inventory {
    img_version: u32,
}

#[derive(Deserialize)]
struct PstreeEntry {
    pid: u32,
    ppid: u32,
    #[serde(default)]
    threads: Vec<u32>,
}

#[derive(Deserialize)]
struct Core {
    tc: Option<TaskCore>,
}

#[derive(Deserialize)]
struct TaskCore {
    comm: String,
}

#[derive(Deserialize)]
struct Mm {
    #[serde(default)]
    vmas: Vec<serde_json::Value>,
}

fn parse<T: for<'de> Deserialize<'de>>(
    decoded: &Decoded,
    file: &str,
    magic: &str,
) -> Result<Vec<T>, Finding> {
    let text = match decoded.get(file) {
        None => return Err(format!("crit: the archive has no checkpoint/{file}")),
        Some(Err(e)) => return Err(format!("crit cannot decode checkpoint/{file}: {e}")),
        Some(Ok(text)) => text,
    };
    if text.len() > MAX_OUTPUT {
        return Err(format!(
            "crit: checkpoint/{file} decodes to {} bytes, more than the {MAX_OUTPUT} read",
            text.len()
        ));
    }
    let image: Image<T> = serde_json::from_str(text).map_err(|e| {
        format!("crit decode of checkpoint/{file} is not the {magic} image expected: {e}")
    })?;
    if image.magic != magic {
        return Err(format!(
            "crit: checkpoint/{file} is a {} image, expected {magic}",
            image.magic
        ));
    }
    Ok(image.entries)
}

/// Judges the decoded images; returns the findings and the process tree (pid, ppid, comm) found,
/// for the process check and to compare with another reader.
pub fn check_images(decoded: &Decoded) -> (Vec<Finding>, Vec<Process>) {
    let mut f = vec![];
    match parse::<Inventory>(decoded, "inventory.img", "INVENTORY") {
        Ok(entries) if entries.len() == 1 && entries[0].img_version > 0 => {}
        Ok(entries) => f.push(format!(
            "crit: inventory.img has {} entries, expected one with an image version",
            entries.len()
        )),
        Err(e) => f.push(e),
    }
    let pstree = match parse::<PstreeEntry>(decoded, "pstree.img", "PSTREE") {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => {
            f.push("crit: pstree.img lists no process".into());
            return (f, vec![]);
        }
        Err(e) => {
            f.push(e);
            return (f, vec![]);
        }
    };
    let mut tree = vec![];
    let mut reached = BTreeSet::new();
    let mut pids = BTreeSet::new();
    for entry in &pstree {
        if !pids.insert(entry.pid) {
            f.push(format!("crit: pstree.img lists pid {} twice", entry.pid));
        }
        // The main thread's core image carries the task's command name; every thread has one.
        let threads = if entry.threads.is_empty() {
            vec![entry.pid]
        } else {
            entry.threads.clone()
        };
        let mut comm = None;
        for tid in threads {
            let file = format!("core-{tid}.img");
            reached.insert(file.clone());
            match parse::<Core>(decoded, &file, "CORE") {
                Ok(cores) => {
                    if tid == entry.pid {
                        comm = cores.into_iter().next().and_then(|c| c.tc).map(|t| t.comm);
                    }
                }
                Err(e) => f.push(e),
            }
        }
        let file = format!("mm-{}.img", entry.pid);
        reached.insert(file.clone());
        match parse::<Mm>(decoded, &file, "MM") {
            Ok(mm) if mm.first().is_some_and(|m| !m.vmas.is_empty()) => {}
            Ok(_) => f.push(format!("crit: {file} has no memory areas")),
            Err(e) => f.push(e),
        }
        match comm {
            Some(comm) => tree.push(Process {
                pid: entry.pid,
                ppid: entry.ppid,
                comm,
            }),
            None => f.push(format!(
                "crit: pid {} of pstree.img has no command name in core-{0}.img",
                entry.pid
            )),
        }
    }
    let roots = pstree.iter().filter(|e| !pids.contains(&e.ppid)).count();
    if roots != 1 {
        f.push(format!(
            "crit: pstree.img has {roots} processes whose parent is not in the tree, expected one root"
        ));
    }
    // An image of a process the tree does not list: the tree lost an entry.
    for file in decoded.keys() {
        let per_process = file.starts_with("core-") || file.starts_with("mm-");
        if per_process && !reached.contains(file) {
            f.push(format!(
                "crit: checkpoint/{file} belongs to no process of pstree.img"
            ));
        }
    }
    (f, tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Result<String, String> {
        Ok(s.to_string())
    }

    fn good() -> Decoded {
        let mut d = Decoded::new();
        d.insert(
            "inventory.img".into(),
            ok(r#"{"magic":"INVENTORY","entries":[{"img_version":2,"fdinfo_per_id":true}]}"#),
        );
        d.insert(
            "pstree.img".into(),
            ok(r#"{"magic":"PSTREE","entries":[{"pid":1,"ppid":0,"pgid":1,"sid":0,"threads":[1]},{"pid":7,"ppid":1,"pgid":1,"sid":0,"threads":[7]}]}"#),
        );
        for (pid, comm) in [(1, "counter"), (7, "sleep")] {
            d.insert(
                format!("core-{pid}.img"),
                ok(&format!(
                    r#"{{"magic":"CORE","entries":[{{"mtype":"X86_64","tc":{{"task_state":1,"comm":"{comm}"}}}}]}}"#
                )),
            );
            d.insert(
                format!("mm-{pid}.img"),
                ok(r#"{"magic":"MM","entries":[{"mm_start_code":"0x1","vmas":[{"start":"0x1000"}]}]}"#),
            );
        }
        d
    }

    #[test]
    fn a_well_formed_tree_passes_and_is_returned() {
        let (f, tree) = check_images(&good());
        assert!(f.is_empty(), "{f:?}");
        let comms: Vec<&str> = tree.iter().map(|p| p.comm.as_str()).collect();
        assert_eq!(comms, ["counter", "sleep"]);
    }

    #[test]
    fn an_image_crit_cannot_decode_is_found() {
        let mut d = good();
        d.insert("core-7.img".into(), Err("Unknown magic 0xdeadbeef".into()));
        let (f, _) = check_images(&d);
        assert!(f
            .iter()
            .any(|f| f.contains("cannot decode checkpoint/core-7.img")));
    }

    #[test]
    fn wrong_json_or_magic_is_found() {
        let mut d = good();
        d.insert("pstree.img".into(), ok("[1, 2"));
        assert!(!check_images(&d).0.is_empty());
        let mut d = good();
        d.insert("mm-1.img".into(), ok(r#"{"magic":"CORE","entries":[]}"#));
        assert!(check_images(&d).0.iter().any(|f| f.contains("expected MM")));
        let mut d = good();
        d.remove("inventory.img");
        assert!(check_images(&d)
            .0
            .iter()
            .any(|f| f.contains("no checkpoint/inventory")));
    }

    #[test]
    fn a_dropped_pstree_entry_is_found() {
        let mut d = good();
        d.insert(
            "pstree.img".into(),
            ok(r#"{"magic":"PSTREE","entries":[{"pid":7,"ppid":1,"threads":[7]}]}"#),
        );
        let (f, _) = check_images(&d);
        assert!(
            f.iter()
                .any(|f| f.contains("core-1.img belongs to no process")),
            "{f:?}"
        );
        let mut d = good();
        d.insert(
            "pstree.img".into(),
            ok(r#"{"magic":"PSTREE","entries":[]}"#),
        );
        assert!(check_images(&d).0.iter().any(|f| f.contains("no process")));
    }

    #[test]
    fn a_process_without_its_images_or_name_is_found() {
        let mut d = good();
        d.remove("mm-7.img");
        assert!(check_images(&d).0.iter().any(|f| f.contains("mm-7.img")));
        let mut d = good();
        d.insert(
            "core-1.img".into(),
            ok(r#"{"magic":"CORE","entries":[{}]}"#),
        );
        assert!(check_images(&d)
            .0
            .iter()
            .any(|f| f.contains("no command name")));
    }
}
