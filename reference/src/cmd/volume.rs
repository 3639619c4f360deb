//! `volume create|rm|ls|exists`.

use super::outcomes::Outcomes;
use crate::errors::Exit;
use crate::ids::Name;
use crate::store::Store;
use crate::{lifecycle, volumes};
use anyhow::{bail, Result};

pub fn create(store: &Store, name: &str) -> Result<()> {
    let name = Name::parse(name).map_err(|e| anyhow::anyhow!("invalid volume name: {e}"))?;
    if !volumes::ensure(store, &name)? {
        bail!("volume with name {name} already exists: volume already exists");
    }
    println!("{name}");
    Ok(())
}

pub fn exists(store: &Store, name: &str) -> Result<()> {
    if Name::parse(name).is_ok_and(|n| volumes::exists(store, &n)) {
        Ok(())
    } else {
        Err(Exit::Silent(1).into())
    }
}

pub fn ls(store: &Store) -> Result<()> {
    println!("DRIVER      VOLUME NAME");
    for n in volumes::list(store)? {
        println!("local       {n}");
    }
    Ok(())
}

/// `volume rm [-f]`: a volume in use is refused, or with -f removed with its containers. A
/// failure to list the containers or to remove one ends the command there.
pub fn rm(store: &Store, names: &[String], force: bool) -> Result<()> {
    let mut outcomes = Outcomes::default();
    for name in names {
        let Some(name) = Name::parse(name).ok().filter(|n| volumes::exists(store, n)) else {
            outcomes.add(Err(Exit::Message(
                1,
                format!("no volume with name \"{name}\" found: no such volume"),
            )
            .into()));
            continue;
        };
        let users: Vec<_> = store
            .list()?
            .into_iter()
            .filter(|c| c.config.named_volumes.iter().any(|v| v.name == name))
            .collect();
        if !users.is_empty() && !force {
            let ids: Vec<&str> = users.iter().map(|c| c.config.id.as_str()).collect();
            outcomes.add(Err(Exit::Message(
                2,
                format!(
                    "volume {name} is being used by the following container(s): {}: volume is being used",
                    ids.join(", ")
                ),
            )
            .into()));
            continue;
        }
        for c in users {
            lifecycle::force_remove(store, &c.config.id, 0)?;
        }
        outcomes.add(volumes::remove(store, &name).map(|()| Some(name.to_string())));
    }
    outcomes.finish()
}
