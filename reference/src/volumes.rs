//! Named volumes: folders `<root>/volumes/<name>/_data`, bind-mounted into containers.

use crate::errors::Exit;
use crate::ids::Name;
use crate::store::Store;
use anyhow::{bail, Result};
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

pub fn create_cmd(store: &Store, name: &str) -> Result<()> {
    let name = Name::parse(name).map_err(|e| anyhow::anyhow!("invalid volume name: {e}"))?;
    if !ensure(store, &name)? {
        bail!("volume with name {name} already exists: volume already exists");
    }
    println!("{name}");
    Ok(())
}

pub fn exists_cmd(store: &Store, name: &str) -> Result<()> {
    if Name::parse(name).is_ok_and(|n| exists(store, &n)) {
        Ok(())
    } else {
        Err(Exit::Silent(1).into())
    }
}

pub fn ls_cmd(store: &Store) -> Result<()> {
    println!("DRIVER      VOLUME NAME");
    let mut names: Vec<String> = fs::read_dir(store.dir("volumes"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        println!("local       {n}");
    }
    Ok(())
}

/// `volume rm [-f]`: a volume in use is refused, or with -f removed with its containers.
pub fn rm_cmd(store: &Store, names: &[String], force: bool) -> Result<()> {
    let mut errors = vec![];
    for name in names {
        let Some(name) = Name::parse(name).ok().filter(|n| exists(store, n)) else {
            errors.push(anyhow::Error::new(Exit::Message(
                1,
                format!("no volume with name \"{name}\" found: no such volume"),
            )));
            continue;
        };
        let users: Vec<_> = store
            .list()?
            .into_iter()
            .filter(|c| c.config.named_volumes.iter().any(|v| v.name == name))
            .collect();
        if !users.is_empty() && !force {
            let ids: Vec<&str> = users.iter().map(|c| c.config.id.as_str()).collect();
            errors.push(anyhow::Error::new(Exit::Message(
                2,
                format!(
                    "volume {name} is being used by the following container(s): {}: volume is being used",
                    ids.join(", ")
                ),
            )));
            continue;
        }
        for c in users {
            crate::lifecycle::force_remove(store, &c.config.id, 0)?;
        }
        match remove(store, &name) {
            Ok(()) => println!("{name}"),
            Err(e) => errors.push(e),
        }
    }
    crate::errors::report_all(errors)
}
