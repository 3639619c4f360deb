//! The spec of an imported checkpoint (`spec.dump`, refpod's or podman's) adapted to the container
//! that imports it. What belongs to the exporting engine is replaced by this host's: the root, the
//! cgroup and network namespace paths, named volumes' sources, hooks (the exporter's programs),
//! and the per-container files the exporter bind-mounted from its own container folder (podman:
//! `/etc/hosts`, `/etc/resolv.conf`, `/etc/hostname`, `/run/.containerenv` and `/dev/shm` from
//! `.../overlay-containers/<id>/userdata/`). CRIU restored those as external bind mounts: each must
//! be there again at the same destination, from a file of the importing container's own.

use crate::container::ContainerConfig;
use crate::spec;
use crate::store::Store;
use crate::volumes;
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

/// A file or folder the imported container needs in its userdata before the restore.
#[derive(Debug, PartialEq, Eq)]
pub enum Provided {
    File {
        name: String,
        content: Vec<u8>,
    },
    /// Filled from the archive's `devshm-checkpoint.tar` when it has one.
    ShmDir {
        name: String,
    },
}

impl Provided {
    pub fn name(&self) -> &str {
        match self {
            Provided::File { name, .. } | Provided::ShmDir { name } => name,
        }
    }
}

/// The folder of the exporter's container files: podman names it `userdata`.
const EXPORTER_FOLDER: &str = "userdata";

/// Where the importing container keeps its own copies, in its userdata: a folder of their own, so
/// that no name from the archive can stand for one of refpod's files (`config.json`...).
pub const PROVIDED_FOLDER: &str = "provided";

/// The exporter's per-container file behind a bind mount's source, if it is one: its file name.
fn exporter_file(source: &Path) -> Option<String> {
    let parent = source.parent()?.file_name()?;
    if parent != EXPORTER_FOLDER {
        return None;
    }
    Some(source.file_name()?.to_string_lossy().into_owned())
}

/// What this host puts behind an exporter file bind-mounted at `destination`.
fn provide(name: &str, destination: &str, config: &ContainerConfig, hostname: &str) -> Provided {
    let name = name.to_string();
    let content = match destination {
        "/dev/shm" => return Provided::ShmDir { name },
        "/etc/hosts" => format!("127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t{hostname}\n"),
        "/etc/hostname" => format!("{hostname}\n"),
        "/etc/resolv.conf" => std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        "/run/.containerenv" => format!(
            "engine=\"refpod\"\nname=\"{}\"\nid=\"{}\"\n",
            config.name, config.id
        ),
        _ => String::new(),
    };
    Provided::File {
        name,
        content: content.into_bytes(),
    }
}

/// The namespaces every container has of its own; without one it shares the host's.
const OWN_NAMESPACES: [LinuxNamespaceType; 5] = [
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Mount,
];

/// What an imported spec asks for beyond a default container: bind mounts of host paths (other
/// than the exporter's own container files and named volumes, which are replaced by this host's),
/// capabilities beyond podman's default set, a missing or joined namespace, host devices. Each is
/// one line; none for a plain `podman run` or `refpod run` container. Another machine's archive
/// must not hand these to whoever restores it (`--privileged -v /:/host`): the import refuses them
/// unless `--import-privileged` is given.
pub fn privileges(spec: &Spec, config: &ContainerConfig) -> Vec<String> {
    let mut out = vec![];
    if let Some(caps) = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
    {
        let sets = [
            caps.bounding(),
            caps.effective(),
            caps.permitted(),
            caps.inheritable(),
            caps.ambient(),
        ];
        let mut extra: Vec<String> = sets
            .into_iter()
            .flatten()
            .flatten()
            .map(|c| format!("CAP_{}", c.to_string().trim_start_matches("CAP_")))
            .filter(|c| !spec::CAPABILITIES.contains(&c.as_str()))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            out.push(format!("capabilities {}", extra.join(", ")));
        }
    }
    let linux = spec.linux().as_ref();
    let namespaces = linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for want in OWN_NAMESPACES {
        match namespaces.iter().find(|n| n.typ() == want) {
            None => {
                out.push(format!("no {want:?} namespace of its own (the host's)").to_lowercase())
            }
            // refpod replaces the network namespace with its own; any other is joined as named.
            Some(n) if want != LinuxNamespaceType::Network && n.path().is_some() => out.push(
                format!(
                    "the {want:?} namespace at {}",
                    n.path().as_ref().unwrap().display()
                )
                .to_lowercase(),
            ),
            Some(_) => {}
        }
    }
    if linux
        .and_then(|l| l.devices().as_ref())
        .is_some_and(|d| !d.is_empty())
    {
        out.push("host devices".into());
    }
    for m in spec.mounts().iter().flatten() {
        let dest = m.destination().display().to_string();
        let bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        let volume = config.named_volumes.iter().any(|v| v.dest == dest);
        let own = m.source().as_deref().and_then(exporter_file).is_some();
        if bind && !volume && !own {
            let src = m
                .source()
                .as_deref()
                .unwrap_or(Path::new(""))
                .display()
                .to_string();
            out.push(format!("a bind mount of the host's {src} at {dest}"));
        }
    }
    out
}

/// The adapted spec, and the files the caller must create in `<userdata>/provided/` before
/// restoring it.
pub fn adapt(
    store: &Store,
    mut spec: Spec,
    config: &ContainerConfig,
    rootfs: &Path,
    userdata: &Path,
) -> Result<(Spec, Vec<Provided>)> {
    let mut root = spec.root().clone().unwrap_or_default();
    root.set_path(rootfs.to_path_buf());
    spec.set_root(Some(root));
    spec.set_hooks(None);
    if let Some(linux) = spec.linux_mut().as_mut() {
        linux.set_cgroups_path(Some(PathBuf::from(crate::runtime::cgroups_path(
            &config.id,
        ))));
        spec::set_netns(linux, &config.id);
    }
    let hostname = spec.hostname().clone().unwrap_or_default();
    let mut provided: Vec<Provided> = vec![];
    if let Some(mounts) = spec.mounts_mut().as_mut() {
        for m in mounts.iter_mut() {
            let dest = m.destination().display().to_string();
            if let Some(v) = config.named_volumes.iter().find(|v| v.dest == dest) {
                m.set_source(Some(volumes::data_dir(store, &v.name)));
                continue;
            }
            let is_bind = m.typ().as_deref() == Some("bind");
            let Some(name) = m
                .source()
                .as_deref()
                .filter(|_| is_bind)
                .and_then(exporter_file)
            else {
                continue;
            };
            if provided.iter().any(|p| p.name() == name) {
                bail!("spec.dump: {name} is bind-mounted twice");
            }
            m.set_source(Some(userdata.join(PROVIDED_FOLDER).join(&name)));
            provided.push(provide(&name, &dest, config, &hostname));
        }
    }
    Ok((spec, provided))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Mount;

    #[test]
    fn podmans_userdata_files_become_the_importers() {
        let mut m = Mount::default();
        m.set_destination("/etc/hosts".into());
        m.set_typ(Some("bind".into()));
        m.set_source(Some(
            "/run/containers/storage/overlay-containers/abc/userdata/hosts".into(),
        ));
        assert_eq!(
            exporter_file(m.source().as_deref().unwrap()).as_deref(),
            Some("hosts")
        );
        assert_eq!(exporter_file(Path::new("/srv/data")), None);
        assert_eq!(exporter_file(Path::new("/")), None);
    }

    fn config() -> ContainerConfig {
        serde_json::from_value(serde_json::json!({
            "id": "0123456789abcdef".repeat(4), "name": "c", "rootfsImageID": "", "rootfsImageName": "",
            "RawImageName": "", "runtime": "crun", "createdTime": "2026-01-01T00:00:00Z",
            "namedVolumes": [{ "volumeName": "v", "dest": "/vol" }]
        }))
        .unwrap()
    }

    fn podman_spec(change: impl FnOnce(&mut serde_json::Value)) -> Spec {
        let caps = spec::CAPABILITIES;
        let ud = "/run/containers/storage/overlay-containers/abc/userdata";
        let mut v = serde_json::json!({
            "ociVersion": "1.2.0",
            "process": { "user": { "uid": 0, "gid": 0 }, "cwd": "/", "args": ["sh"], "capabilities": { "bounding": caps, "effective": caps, "permitted": caps } },
            "root": { "path": "rootfs" },
            "mounts": [
                { "destination": "/proc", "type": "proc", "source": "proc" },
                { "destination": "/vol", "type": "bind", "source": "/var/lib/containers/storage/volumes/v/_data" },
                { "destination": "/etc/hosts", "type": "bind", "source": format!("{ud}/hosts") }
            ],
            "linux": { "namespaces": [{ "type": "pid" }, { "type": "network", "path": "/run/netns/x" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }] }
        });
        change(&mut v);
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn privileged_specs_are_told_apart() {
        assert_eq!(
            privileges(&podman_spec(|_| {}), &config()),
            Vec::<String>::new()
        );
        let host_root = podman_spec(|v| {
            v["mounts"].as_array_mut().unwrap().push(serde_json::json!(
                { "destination": "/host", "type": "bind", "source": "/", "options": ["rbind"] }))
        });
        assert_eq!(
            privileges(&host_root, &config()),
            ["a bind mount of the host's / at /host"]
        );
        let all_caps = podman_spec(|v| {
            v["process"]["capabilities"]["bounding"] =
                serde_json::json!(["CAP_SYS_ADMIN", "CAP_CHOWN"])
        });
        assert_eq!(
            privileges(&all_caps, &config()),
            ["capabilities CAP_SYS_ADMIN"]
        );
        let host_ns = podman_spec(
            |v| v["linux"]["namespaces"] = serde_json::json!([{ "type": "network" }, { "type": "pid", "path": "/proc/1/ns/pid" }]),
        );
        let got = privileges(&host_ns, &config());
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got.iter().any(|r| r.contains("/proc/1/ns/pid")), "{got:?}");
        assert!(
            got.iter().any(|r| r.contains("no mount namespace")),
            "{got:?}"
        );
    }

    #[test]
    fn a_podman_spec_gets_this_hosts_paths() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::open(t.path(), None).unwrap();
        let ud = "/var/lib/containers/storage/overlay-containers/abc/userdata";
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "root": { "path": "/var/lib/containers/storage/overlay/x/merged" },
            "hostname": "abc",
            "hooks": { "prestart": [{ "path": "/usr/libexec/podman/hook" }] },
            "mounts": [
                { "destination": "/vol", "type": "bind", "source": "/var/lib/containers/storage/volumes/v/_data" },
                { "destination": "/dev/shm", "type": "bind", "source": format!("{ud}/shm") },
                { "destination": "/etc/hosts", "type": "bind", "source": format!("{ud}/hosts") },
                { "destination": "/srv", "type": "bind", "source": "/srv" }
            ],
            "linux": { "cgroupsPath": "/libpod_parent/libpod-abc", "namespaces": [{ "type": "network", "path": "/run/netns/x" }] }
        }))
        .unwrap();
        let config: ContainerConfig = serde_json::from_value(serde_json::json!({
            "id": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "name": "c", "rootfsImageID": "", "rootfsImageName": "",
            "RawImageName": "", "runtime": "crun", "createdTime": "2026-01-01T00:00:00Z",
            "namedVolumes": [{ "volumeName": "v", "dest": "/vol" }]
        }))
        .unwrap();
        let (spec, provided) =
            adapt(&store, spec, &config, Path::new("/r"), Path::new("/u")).unwrap();
        assert_eq!(spec.root().as_ref().unwrap().path(), Path::new("/r"));
        assert!(spec.hooks().is_none());
        let sources: Vec<_> = spec
            .mounts()
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| m.source().clone().unwrap())
            .collect();
        assert_eq!(
            sources[0],
            volumes::data_dir(&store, &crate::ids::Name::parse("v").unwrap())
        );
        assert_eq!(sources[1], Path::new("/u/provided/shm"));
        assert_eq!(sources[2], Path::new("/u/provided/hosts"));
        assert_eq!(sources[3], Path::new("/srv"), "a user's bind mount stays");
        assert_eq!(provided[0], Provided::ShmDir { name: "shm".into() });
        assert_eq!(provided[1].name(), "hosts");
        let linux = spec.linux().as_ref().unwrap();
        assert_eq!(
            linux.cgroups_path().as_deref(),
            Some(Path::new(&format!(
                "/refpod/{}",
                "0123456789abcdef".repeat(4)
            )))
        );
    }
}
