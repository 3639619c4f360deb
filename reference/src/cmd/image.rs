//! `import`, `image exists|inspect|ls|rm`, `rmi` (`image save` is the engine's `images::save`).

use super::outcomes::each;
use crate::errors::Exit;
use crate::images;
use crate::store::Store;
use anyhow::Result;
use serde_json::json;
use std::path::Path;

pub fn import(store: &Store, tarball: &Path, name: &str) -> Result<()> {
    let id = images::import(store, tarball, name)?;
    println!("sha256:{id}");
    Ok(())
}

pub fn exists(store: &Store, name: &str) -> Result<()> {
    match images::find(store, name)? {
        Some(_) => Ok(()),
        None => Err(Exit::Silent(1).into()),
    }
}

pub fn inspect(store: &Store, names: &[String]) -> Result<()> {
    let mut out = vec![];
    for name in names {
        let img =
            images::find(store, name)?.ok_or_else(|| anyhow::anyhow!("{name}: image not known"))?;
        let size: i64 = img.manifest.layers().iter().map(|l| l.size() as i64).sum();
        out.push(json!({
            "Id": img.id,
            "Digest": format!("sha256:{}", img.manifest_digest),
            "RepoTags": img.names,
            "RepoDigests": [],
            "Created": img.config.created(),
            "Architecture": img.config.architecture().to_string(),
            "Os": img.config.os().to_string(),
            "Size": size,
            "Annotations": img.annotations(),
            "RootFS": { "Type": "layers", "Layers": img.config.rootfs().diff_ids() },
        }));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

pub fn ls(store: &Store) -> Result<()> {
    println!("{:<50} {:<14}", "REPOSITORY:TAG", "IMAGE ID");
    for img in images::list(store)? {
        for n in &img.names {
            println!("{:<50} {:<14}", n, &img.id[..12]);
        }
    }
    Ok(())
}

/// `rmi [-f] IMG...`: an unknown image is an error unless `-f`.
pub fn rmi(store: &Store, names: &[String], force: bool) -> Result<()> {
    each(names, |name| match images::remove(store, name)? {
        true => Ok(None),
        false if force => Ok(None),
        false => Err(Exit::Message(1, format!("{name}: image not known")).into()),
    })
}
