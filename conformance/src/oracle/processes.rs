//! The processes a workload keeps while it runs, as its catalog entry declares them, against the
//! process tree a reader (crit, checkpointctl) found in a checkpoint.

use super::Finding;
use std::collections::BTreeMap;

/// One process of a dumped tree, as a reader decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// The kernel's command name (`comm`, at most 15 bytes).
    pub comm: String,
}

/// The command names a workload's tree holds at any time (`processes`, as a multiset) and those
/// that come and go (`transient`: the `sleep` of a loop, a `mv`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessExpect {
    pub processes: Vec<String>,
    pub transient: Vec<String>,
}

/// The tree holds exactly the declared processes, plus any number of transient ones, and one root
/// whose command is the first declared process.
pub fn check_processes(reader: &str, tree: &[Process], expect: &ProcessExpect) -> Vec<Finding> {
    let mut f = vec![];
    let roots: Vec<&Process> = tree
        .iter()
        .filter(|p| !tree.iter().any(|q| q.pid == p.ppid))
        .collect();
    match (roots.as_slice(), expect.processes.first()) {
        ([root], Some(first)) if root.comm != *first => f.push(format!(
            "{reader}: the tree's root is `{}` (pid {}), expected the workload's `{first}`",
            root.comm, root.pid
        )),
        ([_], _) => {}
        (roots, _) => f.push(format!(
            "{reader}: the tree has {} roots, expected one: {}",
            roots.len(),
            describe(roots.iter().copied())
        )),
    }
    let mut want: BTreeMap<&str, usize> = BTreeMap::new();
    for name in &expect.processes {
        *want.entry(name).or_default() += 1;
    }
    let mut got: BTreeMap<&str, usize> = BTreeMap::new();
    for p in tree {
        if fork_before_exec(tree, p, expect) {
            continue;
        }
        if !expect.transient.contains(&p.comm) || want.contains_key(p.comm.as_str()) {
            *got.entry(&p.comm).or_default() += 1;
        }
    }
    // A transient name also declared as kept (none today) counts only up to the declared number.
    for name in &expect.transient {
        if let (Some(w), Some(g)) = (want.get(name.as_str()), got.get_mut(name.as_str())) {
            *g = (*g).min(*w);
        }
    }
    if want != got {
        f.push(format!(
            "{reader}: the tree holds {} ({} processes), expected the workload's {:?}{}",
            describe(tree.iter()),
            tree.len(),
            expect.processes,
            if expect.transient.is_empty() {
                String::new()
            } else {
                format!(" and any of {:?}", expect.transient)
            }
        ));
    }
    f
}

/// A transient child caught between its fork and its exec: it still bears its parent's name. Only
/// in a workload that starts transient processes, and only as a leaf whose parent has that name.
fn fork_before_exec(tree: &[Process], p: &Process, expect: &ProcessExpect) -> bool {
    !expect.transient.is_empty()
        && !tree.iter().any(|c| c.ppid == p.pid)
        && tree
            .iter()
            .any(|parent| parent.pid == p.ppid && parent.comm == p.comm)
}

fn describe<'a>(tree: impl Iterator<Item = &'a Process>) -> String {
    let all: Vec<String> = tree
        .map(|p| format!("{}[{}<-{}]", p.comm, p.pid, p.ppid))
        .collect();
    all.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, ppid: u32, comm: &str) -> Process {
        Process {
            pid,
            ppid,
            comm: comm.into(),
        }
    }

    fn counter() -> ProcessExpect {
        ProcessExpect {
            processes: vec!["counter".into()],
            transient: vec!["sleep".into(), "mv".into()],
        }
    }

    #[test]
    fn the_workload_with_or_without_its_sleep_passes() {
        assert!(check_processes("crit", &[p(1, 0, "counter")], &counter()).is_empty());
        let tree = [p(1, 0, "counter"), p(7, 1, "sleep")];
        assert!(check_processes("crit", &tree, &counter()).is_empty());
    }

    #[test]
    fn a_missing_renamed_or_extra_process_is_found() {
        assert_eq!(check_processes("crit", &[], &counter()).len(), 2);
        let renamed = [p(1, 0, "sh")];
        assert_eq!(check_processes("crit", &renamed, &counter()).len(), 2);
        let extra = [p(1, 0, "counter"), p(7, 1, "sh")];
        let f = check_processes("crit", &extra, &counter());
        assert!(f[0].contains("2 processes"), "{f:?}");
        // A second copy that is no fresh fork (it has a child of its own) is extra too.
        let extra = [p(1, 0, "counter"), p(7, 1, "counter"), p(8, 7, "sleep")];
        assert!(!check_processes("crit", &extra, &counter()).is_empty());
    }

    #[test]
    fn a_child_dumped_between_fork_and_exec_passes_where_the_workload_forks() {
        // Seen once on podman: `counter[1<-0] counter[8<-1]`, the `sleep` not yet exec'd.
        let tree = [p(1, 0, "counter"), p(8, 1, "counter")];
        assert!(check_processes("crit", &tree, &counter()).is_empty());
        let no_forks = ProcessExpect {
            processes: vec!["holder".into()],
            transient: vec![],
        };
        let tree = [p(1, 0, "holder"), p(8, 1, "holder")];
        assert!(!check_processes("crit", &tree, &no_forks).is_empty());
    }

    #[test]
    fn two_roots_are_found() {
        // A dropped parent leaves its child without one.
        let tree = [p(7, 1, "sleep"), p(9, 3, "counter")];
        let f = check_processes("crit", &tree, &counter());
        assert!(f.iter().any(|f| f.contains("2 roots")), "{f:?}");
    }
}
