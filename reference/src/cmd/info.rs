//! `info --format json`: podman's key names for what the suite reads.

use crate::hostinfo::{HostFacts, VERSION};
use crate::runtime::Runtime;
use crate::store::Store;
use anyhow::Result;
use serde_json::json;

pub fn info(store: &Store, _format: Option<&str>) -> Result<()> {
    let facts = HostFacts::read();
    let rt = Runtime::new(&store.default_runtime())?;
    let v = json!({
        "host": {
            "arch": facts.arch,
            "kernel": facts.kernel,
            "cgroupVersion": facts.cgroups_version,
            "distribution": {
                "distribution": facts.distribution_name,
                "version": facts.distribution_version,
            },
            "ociRuntime": {
                "name": rt.name,
                "path": rt.path,
                "version": rt.version(),
            },
            "criuVersion": facts.criu_version,
        },
        "store": { "graphRoot": store.root },
        "version": { "Version": VERSION },
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}
