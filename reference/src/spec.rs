//! The OCI runtime spec (config.json) of a new container: new pid, mount, ipc, uts, cgroup and
//! network namespaces (loopback only), the overlay as root, named volumes and bind mounts. The
//! spec of an imported archive is adapted in `import_spec.rs`.

use crate::container::ContainerConfig;
use crate::ids::ContainerId;
use crate::netns;
use crate::runtime;
use crate::store::Store;
use crate::volumes;
use anyhow::{Context, Result};
use oci_spec::runtime::{
    Capability, Linux, LinuxCapabilities, LinuxNamespace, LinuxNamespaceType, Mount, Spec,
};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// podman's default capability set.
pub const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

pub fn bind(destination: &str, source: &Path) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(destination));
    m.set_typ(Some("bind".into()));
    m.set_source(Some(source.to_path_buf()));
    m.set_options(Some(vec!["rbind".into(), "rprivate".into()]));
    m
}

/// The container joins its own pinned network namespace (see netns.rs).
pub fn set_netns(linux: &mut Linux, id: &ContainerId) {
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    namespaces.retain(|n| n.typ() != LinuxNamespaceType::Network);
    let mut net = LinuxNamespace::default();
    net.set_typ(LinuxNamespaceType::Network);
    net.set_path(Some(netns::path(id)));
    namespaces.push(net);
    linux.set_namespaces(Some(namespaces));
}

/// The spec for a new container whose overlay is mounted at `rootfs`.
pub fn build(store: &Store, config: &ContainerConfig, rootfs: &Path) -> Result<Spec> {
    let mut spec = Spec::default();
    spec.set_version("1.0.2".into());
    spec.set_hostname(Some(config.id.short().to_string()));
    let mut root = spec.root().clone().unwrap_or_default();
    root.set_path(rootfs.to_path_buf());
    root.set_readonly(Some(false));
    spec.set_root(Some(root));

    let process = spec
        .process_mut()
        .as_mut()
        .context("the default spec has a process")?;
    process.set_args(Some(config.command.clone()));
    process.set_env(Some(vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        "container=refpod".into(),
        "HOME=/root".into(),
        format!("HOSTNAME={}", config.id.short()),
    ]));
    process.set_no_new_privileges(Some(false));
    // By their spec names (serde): oci-spec's FromStr wants them without `CAP_`.
    let caps: HashSet<Capability> = CAPABILITIES
        .iter()
        .map(|c| serde_json::from_value(serde_json::Value::from(*c)))
        .collect::<Result<_, _>>()
        .context("a capability name")?;
    let mut lc = LinuxCapabilities::default();
    lc.set_bounding(Some(caps.clone()));
    lc.set_effective(Some(caps.clone()));
    lc.set_permitted(Some(caps));
    lc.set_inheritable(None);
    lc.set_ambient(None);
    process.set_capabilities(Some(lc));

    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for v in &config.named_volumes {
        mounts.push(bind(&v.dest, &volumes::data_dir(store, &v.name)));
    }
    for (src, dest) in &config.bind_mounts {
        mounts.push(bind(dest, Path::new(src)));
    }
    spec.set_mounts(Some(mounts));

    let linux = spec
        .linux_mut()
        .as_mut()
        .context("the default spec has linux")?;
    linux.set_cgroups_path(Some(PathBuf::from(runtime::cgroups_path(&config.id))));
    set_netns(linux, &config.id);
    let mut annotations = HashMap::new();
    // As podman writes it: readers of a checkpoint archive (checkpointctl) tell the engine by this
    // annotation, and take any manager but `libpod` or `cri-o` for containerd.
    annotations.insert("io.container.manager".to_string(), "libpod".to_string());
    spec.set_annotations(Some(annotations));
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_capability_is_granted() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::open(t.path(), None).unwrap();
        let config: ContainerConfig = serde_json::from_value(serde_json::json!({
            "id": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "name": "c", "rootfsImageID": "", "rootfsImageName": "",
            "RawImageName": "", "runtime": "crun", "createdTime": "2026-01-01T00:00:00Z",
        }))
        .unwrap();
        let spec = build(&store, &config, Path::new("/r")).unwrap();
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), CAPABILITIES.len());
    }
}
