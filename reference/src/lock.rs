//! File locks (flock) that make refpod safe against two commands at once. A container's lock is
//! held for the whole of any change to it; the store lock guards names and IDs while a container
//! is created; the image lock guards the image layout. Locks die with their process.

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::path::Path;

pub struct Lock {
    _flock: Flock<File>,
}

/// Blocks until the exclusive lock on `path` is ours.
pub fn acquire(path: &Path) -> Result<Lock> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))?;
    let flock = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(Lock { _flock: flock })
}
