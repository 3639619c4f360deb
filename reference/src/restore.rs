//! `container restore`: in place from `<userdata>/checkpoint`, or as a new container from an
//! exported archive (`--import`) or a checkpoint image, through the runtime's `restore`.

use crate::container::{Container, ContainerConfig, ContainerState, Status};
use crate::criu_stats::{self, Entry};
use crate::ids::{ContainerId, Name};
use crate::import_spec::{self, Provided};
use crate::monitor;
use crate::runtime::{RestoreFlags, Runtime};
use crate::store::Store;
use crate::{archive, beneath, images, lifecycle, netns, rootfs, runtime, volumes};
use anyhow::{anyhow, bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// What `container restore` does to each container: its options but the selection.
pub struct Options {
    pub keep: bool,
    pub tcp_established: bool,
    pub file_locks: bool,
    /// `--name`: the import gets this name and a new ID.
    pub name: Option<String>,
    pub import_previous: Option<PathBuf>,
    pub ignore_rootfs: bool,
    pub ignore_volumes: bool,
    pub import_privileged: bool,
    pub print_stats: bool,
}

/// Restores a checkpointed container in place.
pub fn in_place(store: &Store, id: &ContainerId, a: &Options) -> Result<Option<Entry>> {
    let (_lock, mut c) = lifecycle::load_locked(store, id)?;
    restore_locked(store, &mut c, a)
}

/// Restores a created or exited container from its checkpoint. The caller holds its lock.
fn restore_locked(store: &Store, c: &mut Container, a: &Options) -> Result<Option<Entry>> {
    let id = c.config.id.clone();
    if !matches!(c.state.status, Status::Created | Status::Exited) {
        bail!("container {id} is running or paused, cannot restore: container state improper");
    }
    let p = c.paths(store);
    let ud = p.userdata.clone();
    let inventory = p.checkpoint().join("inventory.img");
    if !inventory.exists() {
        bail!(
            "a complete checkpoint for this container cannot be found, cannot restore: faccessat {}: no such file or directory",
            inventory.display()
        );
    }
    let rt = Runtime::new(&c.config.runtime)?;
    rt.delete(&id);
    netns::ensure(&id)?;
    lifecycle::mount_rootfs(store, c)?;
    for v in &c.config.named_volumes {
        volumes::ensure(store, &v.name)?;
    }
    for f in ["restore.log", "stats-restore"] {
        let _ = fs::remove_file(ud.join(f));
    }
    let flags = RestoreFlags {
        tcp_established: a.tcp_established,
        file_locks: a.file_locks,
    };
    let started = match monitor::start(store, c, Some(flags)) {
        Ok(s) => s,
        Err(e) => {
            rootfs::unmount(&p.merged);
            return Err(e);
        }
    };
    let stats = if a.print_stats {
        Some(
            criu_stats::read(&ud.join("stats-restore"))
                .context("displaying restore statistics not possible")?,
        )
    } else {
        None
    };
    let now = chrono::Utc::now();
    let s = &mut c.state;
    s.status = Status::Running;
    s.pid = started.pid;
    s.exit_code = 0;
    s.started_at = Some(now);
    s.finished_at = None;
    s.restored = true;
    s.restored_at = Some(now);
    s.checkpointed = false;
    s.checkpointed_at = None;
    if a.keep {
        s.restore_log = ud.join("restore.log").display().to_string();
    } else {
        let _ = fs::remove_dir_all(p.checkpoint());
        let _ = fs::remove_dir_all(p.pre_checkpoint());
        for f in [
            "restore.log",
            "dump.log",
            "stats-dump",
            "stats-restore",
            "network.status",
        ] {
            let _ = fs::remove_file(ud.join(f));
        }
        s.checkpoint_path.clear();
        s.checkpoint_log.clear();
        s.restore_log.clear();
    }
    c.save(store)?;
    Ok(stats.map(|st| Entry::new("restore", &id, started.runtime_duration, st)))
}

/// `restore --import FILE`.
pub fn import_archive(store: &Store, file: &Path, a: &Options) -> Result<(String, Option<Entry>)> {
    let tmp = store.temp_dir("import")?;
    let result = (|| {
        let reader = archive::open(file).map_err(|e| {
            anyhow!(
                "failed extracting runtime information from {f}: failed to open checkpoint archive {f} for import: {e}",
                f = file.display()
            )
        })?;
        archive::unpack(reader, &tmp)
            .with_context(|| format!("unpacking checkpoint archive {}", file.display()))?;
        import_dir(store, &tmp, &file.display().to_string(), a)
    })();
    let _ = fs::remove_dir_all(&tmp);
    result
}

/// `restore IMAGE`: the image's single layer is an export archive.
pub fn import_image(
    store: &Store,
    img: &images::Image,
    name: &str,
    a: &Options,
) -> Result<(String, Option<Entry>)> {
    let tmp = store.temp_dir("import")?;
    let result = (|| {
        archive::unpack(images::open_single_layer(store, img)?, &tmp)?;
        import_dir(store, &tmp, name, a)
    })()
    .with_context(|| format!("unable to import checkpoint from image: {name:?}"));
    let _ = fs::remove_dir_all(&tmp);
    result
}

/// Writes what the imported spec bind-mounts from the container's userdata; `/dev/shm`'s folder
/// gets the content of the archive's `devshm-checkpoint.tar`.
fn provide_files(userdata: &Path, provided: &[Provided], archive: &Path) -> Result<()> {
    let dir = userdata.join(import_spec::PROVIDED_FOLDER);
    fs::create_dir_all(&dir)?;
    for p in provided {
        match p {
            Provided::File { name, content } => fs::write(dir.join(name), content)?,
            Provided::ShmDir { name } => {
                let shm = dir.join(name);
                fs::create_dir_all(&shm)?;
                if let Some(tar) = beneath::file(archive, "devshm-checkpoint.tar")? {
                    archive::unpack(tar, &shm).context("extracting devshm-checkpoint.tar")?;
                }
            }
        }
    }
    Ok(())
}

/// An imported name that is the start of another container's ID would stand for that container
/// (a name is looked up before an ID prefix, as in podman): `rm <short id>` would remove the
/// import instead.
fn check_not_an_id(store: &Store, name: &Name) -> Result<()> {
    if let Some(other) = store
        .list()?
        .iter()
        .find(|c| c.config.id.starts_with(&**name))
    {
        bail!(
            "the name {name} is the start of the ID of container {} ({}): it would stand for that container",
            other.config.name,
            other.config.id.short()
        );
    }
    Ok(())
}

/// Makes a container from an unpacked archive and restores it.
fn import_dir(
    store: &Store,
    dir: &Path,
    source: &str,
    a: &Options,
) -> Result<(String, Option<Entry>)> {
    let config_dump = beneath::read(dir, "config.dump")
        .and_then(|c| c.context("no config.dump"))
        .with_context(|| format!("failed extracting runtime information from {source}"))?;
    // IDs and names are checked here (ids.rs): nothing from the archive reaches a path unchecked.
    let mut config: ContainerConfig = serde_json::from_slice(&config_dump)
        .with_context(|| format!("reading config.dump of {source}"))?;
    match &store.runtime_flag {
        Some(want) if *want != config.runtime => bail!(
            "checkpoint archive {source} was created with runtime '{}' and cannot be restored with runtime '{want}'",
            config.runtime
        ),
        _ => {
            runtime::check_name(&config.runtime)
                .with_context(|| format!("config.dump of {source}"))?;
        }
    }
    let spec_dump: oci_spec::runtime::Spec = beneath::read(dir, "spec.dump")
        .and_then(|s| s.context("no spec.dump"))
        .and_then(|s| Ok(serde_json::from_slice(&s)?))
        .with_context(|| format!("reading spec.dump of {source}"))?;
    let asked = import_spec::privileges(&spec_dump, &config);
    if !asked.is_empty() && !a.import_privileged {
        bail!(
            "spec.dump of {source} asks for more than a default container: {}; refpod grants that only with --import-privileged",
            asked.join("; ")
        );
    }
    let image = images::find(store, &config.rootfs_image_id)?
        .or(images::find(store, &config.rootfs_image_name)?)
        .ok_or_else(|| anyhow!("{}: image not known", config.rootfs_image_name))?;
    images::extract_layers(store, &image)?;
    config.rootfs_layers = image.diff_ids();
    // Whatever network the exporter gave it, here it gets refpod's own loopback-only namespace.
    config.create_netns = true;
    config.network_mode = "none".into();
    if let Some(name) = &a.name {
        config.name = Name::parse(name)?;
        config.id = ContainerId::random();
    }
    let id = config.id.clone();
    let mut c = Container {
        config,
        state: ContainerState::new(),
    };
    let mut new_volumes = vec![];
    let mut provided = vec![];
    let made = (|| -> Result<()> {
        let _names = store.lock_names()?;
        lifecycle::check_name_free(store, &c.config.name)?;
        check_not_an_id(store, &c.config.name)?;
        if store.container_dir(&id).exists() {
            bail!("creating container storage: that ID is already in use");
        }
        for v in &c.config.named_volumes {
            if a.ignore_volumes {
                continue;
            }
            if volumes::exists(store, &v.name) {
                bail!("volume with name {} already exists. Use --ignore-volumes to not restore content of volumes", v.name);
            }
            let tar = dir.join("volumes").join(format!("{}.tar", v.name));
            if beneath::file(dir, &format!("volumes/{}.tar", v.name))?.is_none() {
                bail!(
                    "failed to open volume file {}: open {}: no such file or directory",
                    tar.display(),
                    tar.display()
                );
            }
        }
        for v in &c.config.named_volumes {
            if volumes::ensure(store, &v.name)? {
                new_volumes.push(v.name.clone());
            }
            if !a.ignore_volumes {
                let tar = beneath::file(dir, &format!("volumes/{}.tar", v.name))?
                    .context("the volume's tar is gone")?;
                archive::unpack(tar, &volumes::data_dir(store, &v.name))
                    .with_context(|| format!("restoring volume {}", v.name))?;
            }
        }
        let p = c.paths(store);
        let (spec, files) =
            import_spec::adapt(store, spec_dump, &c.config, &p.merged, &p.userdata)?;
        provided = files;
        c.state.status = Status::Exited;
        c.state.checkpointed = true;
        lifecycle::create_files(store, &c, &spec)?;
        Ok(())
    })();
    if let Err(e) = made {
        for v in &new_volumes {
            let _ = volumes::remove(store, v);
        }
        return Err(e);
    }
    let _lock = store.lock_container(&id)?;
    let restored = (|| -> Result<Option<Entry>> {
        let p = c.paths(store);
        provide_files(&p.userdata, &provided, dir)
            .context("providing the files bind-mounted into the container")?;
        if !a.ignore_rootfs {
            if let Some(diff) = beneath::file(dir, "rootfs-diff.tar")? {
                archive::unpack(diff, &p.upper).context("applying rootfs-diff.tar")?;
            }
            if let Some(deleted) = beneath::read(dir, "deleted.files")? {
                let list: Vec<String> =
                    serde_json::from_slice(&deleted).context("reading deleted.files")?;
                for path in list {
                    rootfs::add_whiteout(&p.upper, path.trim_start_matches('/'))?;
                }
            }
        }
        if !beneath::plain_dir(dir, "checkpoint", &[beneath::PARENT_LINK])? {
            bail!("the archive has no checkpoint/ folder");
        }
        fs::rename(dir.join("checkpoint"), p.checkpoint())?;
        if let Some(prev) = &a.import_previous {
            let tmp = store.temp_dir("import-previous")?;
            let r = (|| -> Result<()> {
                archive::unpack(archive::open(prev)?, &tmp)?;
                if !beneath::plain_dir(&tmp, "pre-checkpoint", &[])? {
                    bail!("the previous archive has no pre-checkpoint/ folder");
                }
                fs::rename(tmp.join("pre-checkpoint"), p.pre_checkpoint())
                    .context("the previous archive has no pre-checkpoint/ folder")?;
                Ok(())
            })();
            let _ = fs::remove_dir_all(&tmp);
            r.with_context(|| format!("importing {}", prev.display()))?;
        }
        for f in ["network.status", "ctr.log"] {
            if let Some(content) = beneath::read(dir, f)? {
                fs::write(p.userdata.join(f), content)?;
            }
        }
        restore_locked(store, &mut c, a)
    })();
    match restored {
        Ok(entry) => Ok((id.to_string(), entry)),
        Err(e) => {
            let _ = c.remove(store);
            for v in &new_volumes {
                let _ = volumes::remove(store, v);
            }
            Err(e)
        }
    }
}
