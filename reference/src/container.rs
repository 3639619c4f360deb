//! A container on disk: its configuration (what it is, exported as `config.dump` with podman's key
//! names) and its state (what it is doing), both in `containers/<id>/state.json`.

use crate::ids::{ContainerId, Name};
use crate::runtime::Runtime;
use crate::store::{self, Store};
use crate::{netns, rootfs};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::PathBuf;

/// podman's `ContainerNamedVolume` key names, so that either engine reads the other's config.dump
/// (`Name`/`Dest`: what refpod wrote before, still read from older state files).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct NamedVolume {
    #[serde(rename = "volumeName", alias = "Name")]
    pub name: Name,
    #[serde(rename = "dest", alias = "Dest")]
    pub dest: String,
}

/// What the container is; fixed at creation. Key names follow podman's `ContainerConfig` where
/// podman has the same field, so that this is podman's `config.dump` too: refpod reads podman's
/// (unknown keys are ignored) and podman reads refpod's (`createNetNS`, `networkMode`: refpod's
/// loopback-only namespace is podman's `--network none`).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ContainerConfig {
    pub id: ContainerId,
    pub name: Name,
    #[serde(rename = "rootfsImageID")]
    pub rootfs_image_id: String,
    #[serde(rename = "rootfsImageName")]
    pub rootfs_image_name: String,
    #[serde(rename = "RawImageName")]
    pub raw_image_name: String,
    /// Diff IDs of the image's layers, bottom first: the overlay's lower dirs. Absent from
    /// podman's config.dump; an import takes them from the image found by ID or name.
    #[serde(rename = "rootfsLayers", default)]
    pub rootfs_layers: Vec<String>,
    pub runtime: String,
    #[serde(rename = "createdTime")]
    pub created_time: DateTime<Utc>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(rename = "namedVolumes", default)]
    pub named_volumes: Vec<NamedVolume>,
    /// Host paths bind-mounted into the container: (source, destination).
    #[serde(rename = "bindMounts", default)]
    pub bind_mounts: Vec<(String, String)>,
    #[serde(default)]
    pub autoremove: bool,
    /// For podman's import: a network namespace of the container's own, with loopback only.
    #[serde(rename = "createNetNS", default = "yes")]
    pub create_netns: bool,
    #[serde(rename = "networkMode", default = "network_none")]
    pub network_mode: String,
}

fn yes() -> bool {
    true
}

fn network_none() -> String {
    "none".into()
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Exited => "exited",
        }
    }
}

/// What the container is doing.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ContainerState {
    pub status: Status,
    pub pid: i32,
    pub exit_code: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub checkpointed: bool,
    pub checkpointed_at: Option<DateTime<Utc>>,
    pub restored: bool,
    pub restored_at: Option<DateTime<Utc>>,
    pub checkpoint_path: String,
    pub checkpoint_log: String,
    pub restore_log: String,
    /// New (random) on every start or restore: a monitor only acts on the run it started.
    pub generation: u64,
}

impl ContainerState {
    pub fn new() -> ContainerState {
        ContainerState {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            started_at: None,
            finished_at: None,
            checkpointed: false,
            checkpointed_at: None,
            restored: false,
            restored_at: None,
            checkpoint_path: String::new(),
            checkpoint_log: String::new(),
            restore_log: String::new(),
            generation: 0,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Container {
    pub config: ContainerConfig,
    pub state: ContainerState,
}

/// The paths of one container.
pub struct Paths {
    pub dir: PathBuf,
    /// The OCI bundle: config.json, checkpoint/, dump.log, ctr.log...
    pub userdata: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

impl Paths {
    pub fn new(store: &Store, id: &ContainerId) -> Paths {
        let dir = store.container_dir(id);
        Paths {
            userdata: dir.join("userdata"),
            upper: dir.join("upper"),
            work: dir.join("work"),
            merged: dir.join("merged"),
            dir,
        }
    }

    pub fn checkpoint(&self) -> PathBuf {
        self.userdata.join("checkpoint")
    }

    pub fn pre_checkpoint(&self) -> PathBuf {
        self.userdata.join("pre-checkpoint")
    }
}

impl Container {
    pub fn paths(&self, store: &Store) -> Paths {
        Paths::new(store, &self.config.id)
    }

    /// `None` when the container does not exist (or is being removed).
    pub fn load(store: &Store, id: &ContainerId) -> Result<Option<Container>> {
        let path = store.container_dir(id).join("state.json");
        match fs::read(&path) {
            Ok(bytes) => {
                let c: Container = serde_json::from_slice(&bytes)
                    .with_context(|| format!("reading {}", path.display()))?;
                if c.config.id != *id {
                    bail!("{} names another container", path.display());
                }
                Ok(Some(c))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, store: &Store) -> Result<()> {
        store::write_json_atomic(
            &store.container_dir(&self.config.id).join("state.json"),
            self,
        )
    }

    /// The overlay's lower dirs: the extracted layers of its image, bottom first.
    pub fn lower_dirs(&self, store: &Store) -> Vec<PathBuf> {
        self.config
            .rootfs_layers
            .iter()
            .map(|d| store.dir("layers").join(d))
            .collect()
    }

    /// Removes a container that is not running: the runtime's record, its mount, network
    /// namespace and folder. The caller holds its lock.
    pub fn remove(&self, store: &Store) -> Result<()> {
        Runtime::new(&self.config.runtime)?.delete(&self.config.id);
        let merged = self.paths(store).merged;
        rootfs::unmount(&merged);
        if rootfs::is_mounted(&merged) {
            bail!("the rootfs of {} is still mounted", self.config.id);
        }
        netns::remove(&self.config.id);
        Container::remove_files(store, &self.config.id)
    }

    /// Removes the container's folder: renamed away first, so that lookups never see it half gone.
    pub fn remove_files(store: &Store, id: &ContainerId) -> Result<()> {
        let dir = store.container_dir(id);
        let trash = store
            .dir("containers")
            .join(format!(".removing-{id}-{}", crate::ids::random_hex(4)));
        if fs::rename(&dir, &trash).is_ok() {
            fs::remove_dir_all(&trash).with_context(|| format!("removing {}", trash.display()))?;
        }
        Ok(())
    }
}

/// Container lookups, beside the type they load (the store itself knows only folders and locks).
impl Store {
    /// Every container, in no particular order. Half-removed folders are skipped.
    pub fn list(&self) -> Result<Vec<Container>> {
        let mut out = vec![];
        for entry in fs::read_dir(self.root.join("containers"))? {
            let entry = entry?;
            // Half-removed folders (`.removing-…`) and anything else that is not an ID.
            let Ok(id) = ContainerId::parse(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            if let Ok(Some(c)) = Container::load(self, &id) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Resolves a name, a full ID or a unique ID prefix, as podman does (exact ID, then name,
    /// then prefix).
    pub fn find(&self, key: &str) -> Result<Option<ContainerId>> {
        let key = key.trim_start_matches('/');
        if key.is_empty() {
            return Ok(None);
        }
        let all = self.list()?;
        if let Some(c) = all.iter().find(|c| c.config.id == *key) {
            return Ok(Some(c.config.id.clone()));
        }
        if let Some(c) = all.iter().find(|c| c.config.name == *key) {
            return Ok(Some(c.config.id.clone()));
        }
        let matches: Vec<&Container> = all
            .iter()
            .filter(|c| c.config.id.starts_with(key))
            .collect();
        match matches.len() {
            0 => Ok(None),
            1 => Ok(Some(matches[0].config.id.clone())),
            _ => bail!("more than one result for container ID {key}: container already exists"),
        }
    }

    /// Like [`Store::find`], with podman's error for a missing container.
    pub fn resolve(&self, key: &str) -> Result<ContainerId> {
        self.find(key)?.ok_or_else(|| {
            anyhow::anyhow!("no container with name or ID \"{key}\" found: no such container")
        })
    }
}
