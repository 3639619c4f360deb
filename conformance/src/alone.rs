//! Cases that act on every container (`--all`, `--latest`) run alone in the sandbox, across every
//! process that uses it: two suite runs, or a run and a benchmark, share one sandbox, and such a
//! case would otherwise checkpoint the other's containers. A lock file in the share folder: such a
//! case holds it exclusively, every other case (and a benchmark) shared. A second file is a
//! turnstile, so that a waiting exclusive holder is not starved by a stream of shared ones.

use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::Path;

/// A hold on the sandbox, released when dropped.
pub struct Hold {
    _main: Flock<File>,
    _gate: Option<Flock<File>>,
}

fn open(dir: &Path, name: &str) -> std::io::Result<File> {
    std::fs::create_dir_all(dir)?;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(name))
}

fn lock(file: File, arg: FlockArg) -> std::io::Result<Flock<File>> {
    Flock::lock(file, arg).map_err(|(_, e)| std::io::Error::from(e))
}

/// The folder holding the lock files: in the share folder, which every user of the sandbox sees.
fn locks(share: &Path) -> std::path::PathBuf {
    share.join(".locks")
}

/// Held by a case that sees only its own containers, and by a benchmark.
pub fn shared(share: &Path) -> std::io::Result<Hold> {
    let dir = locks(share);
    let gate = lock(open(&dir, "gate")?, FlockArg::LockExclusive)?;
    let main = lock(open(&dir, "cases")?, FlockArg::LockShared)?;
    drop(gate);
    Ok(Hold {
        _main: main,
        _gate: None,
    })
}

/// Held by a case that acts on every container: no other case of any run is under way meanwhile.
pub fn exclusive(share: &Path) -> std::io::Result<Hold> {
    let dir = locks(share);
    let gate = lock(open(&dir, "gate")?, FlockArg::LockExclusive)?;
    let main = lock(open(&dir, "cases")?, FlockArg::LockExclusive)?;
    Ok(Hold {
        _main: main,
        _gate: Some(gate),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn an_exclusive_hold_waits_for_shared_ones_and_keeps_new_ones_out() {
        let dir = tempfile::tempdir().unwrap();
        let first = shared(dir.path()).unwrap();
        let alone = Arc::new(AtomicBool::new(false));
        let (d, a) = (dir.path().to_path_buf(), alone.clone());
        let writer = std::thread::spawn(move || {
            let _hold = exclusive(&d).unwrap();
            a.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            a.store(false, Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(200));
        assert!(!alone.load(Ordering::SeqCst), "ran beside a shared hold");
        drop(first);
        std::thread::sleep(Duration::from_millis(100));
        // The writer now runs; a new shared hold waits until it is done.
        let _second = shared(dir.path()).unwrap();
        assert!(
            !alone.load(Ordering::SeqCst),
            "a shared hold beside the exclusive one"
        );
        writer.join().unwrap();
    }
}
