//! Named volumes: folders `<root>/volumes/<name>/_data`, bind-mounted into containers.

use crate::ids::Name;
use crate::store::Store;
use anyhow::Result;
use std::fs;
use std::path::PathBuf;

pub fn data_dir(store: &Store, name: &Name) -> PathBuf {
    store.dir("volumes").join(name).join("_data")
}

pub fn exists(store: &Store, name: &Name) -> bool {
    data_dir(store, name).is_dir()
}

/// Creates the volume if it is missing; true when it was created.
pub fn ensure(store: &Store, name: &Name) -> Result<bool> {
    if exists(store, name) {
        return Ok(false);
    }
    fs::create_dir_all(data_dir(store, name))?;
    Ok(true)
}

pub fn remove(store: &Store, name: &Name) -> Result<()> {
    fs::remove_dir_all(store.dir("volumes").join(name))?;
    Ok(())
}

/// The names of every volume, sorted.
pub fn list(store: &Store) -> Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(store.dir("volumes"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}
