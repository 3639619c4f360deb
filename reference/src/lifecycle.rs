//! Container lifecycle: create, run, start, stop, pause, exec, rm.

use crate::cli::{RmArgs, RunArgs};
use crate::container::{Container, ContainerConfig, ContainerState, NamedVolume, Paths, Status};
use crate::errors::{self, Exit};
use crate::ids::{ContainerId, Name};
use crate::monitor;
use crate::netns;
use crate::rootfs;
use crate::runtime::Runtime;
use crate::spec;
use crate::store::Store;
use crate::{images, volumes};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

/// The runtime's view wins over a stale "running": a container whose init is gone has exited
/// (its monitor records that a moment later). Only in memory; callers that save, save it.
pub fn refresh(c: &mut Container) {
    if !matches!(c.state.status, Status::Running | Status::Paused) {
        return;
    }
    let alive = Runtime::new(&c.config.runtime)
        .ok()
        .and_then(|rt| rt.state(&c.config.id).ok().flatten())
        .filter(|s| s.status != "stopped");
    if alive.is_none() {
        c.state.status = Status::Exited;
        c.state.pid = 0;
        if c.state.finished_at.is_none() {
            c.state.finished_at = Some(chrono::Utc::now());
        }
    }
}

/// Loads a container under its lock, refreshed.
pub fn load_locked(store: &Store, id: &ContainerId) -> Result<(crate::lock::Lock, Container)> {
    let lock = store.lock_container(id)?;
    let mut c = Container::load(store, id)?.with_context(|| {
        format!("no container with name or ID \"{id}\" found: no such container")
    })?;
    refresh(&mut c);
    Ok((lock, c))
}

pub fn layer_dirs(store: &Store, config: &ContainerConfig) -> Vec<PathBuf> {
    config
        .rootfs_layers
        .iter()
        .map(|d| store.dir("layers").join(d))
        .collect()
}

pub fn mount_rootfs(store: &Store, c: &Container) -> Result<()> {
    let p = c.paths(store);
    rootfs::mount_overlay(&layer_dirs(store, &c.config), &p.upper, &p.work, &p.merged)
}

/// Fails with podman's words when the name is taken. Call with the names lock held.
pub fn check_name_free(store: &Store, name: &Name) -> Result<()> {
    if let Some(other) = store.list()?.into_iter().find(|c| c.config.name == *name) {
        bail!(
            "creating container storage: the container name \"{name}\" is already in use by {}. You have to remove that container to be able to reuse that name: that name is already in use",
            other.config.id
        );
    }
    Ok(())
}

/// Makes the folders of a new container and writes its state. Call with the names lock held.
pub fn create_files(store: &Store, c: &Container, spec: &oci_spec::runtime::Spec) -> Result<()> {
    let p = c.paths(store);
    for d in [&p.userdata, &p.upper, &p.work, &p.merged] {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    fs::create_dir_all(p.userdata.join("artifacts"))?;
    spec.save(p.userdata.join("config.json"))?;
    c.save(store)
}

/// `run -d` / `create`.
pub fn run_cmd(store: &Store, args: &RunArgs, start: bool) -> Result<()> {
    let image = images::find(store, &args.image)?
        .ok_or_else(|| anyhow::anyhow!("{}: image not known", args.image))?;
    let runtime = Runtime::new(&store.default_runtime())?;
    if args.command.is_empty() {
        bail!("no command or entrypoint provided, and no CMD or ENTRYPOINT from image");
    }
    images::layer_dirs(store, &image)?;
    let mut named_volumes = vec![];
    let mut bind_mounts = vec![];
    for v in &args.volume {
        let mut parts = v.splitn(3, ':');
        let (src, dest) = match (parts.next(), parts.next()) {
            (Some(s), Some(d)) if d.starts_with('/') => (s.to_string(), d.to_string()),
            _ => bail!("invalid volume specification {v:?}: expected SOURCE:/path"),
        };
        if src.starts_with('/') {
            bind_mounts.push((src, dest));
        } else {
            named_volumes.push(NamedVolume {
                name: Name::parse(&src)?,
                dest,
            });
        }
    }
    let id = ContainerId::random();
    let name = match &args.name {
        Some(n) => Name::parse(n)?,
        None => Name::parse(&format!("refpod_{}", id.short()))?,
    };
    let config = ContainerConfig {
        name,
        rootfs_image_id: image.id.clone(),
        rootfs_image_name: image
            .names
            .first()
            .cloned()
            .unwrap_or_else(|| images::normalize(&args.image)),
        raw_image_name: args.image.clone(),
        rootfs_layers: image.diff_ids(),
        runtime: runtime.name.clone(),
        created_time: chrono::Utc::now(),
        command: args.command.clone(),
        named_volumes,
        bind_mounts,
        autoremove: args.rm,
        create_netns: true,
        network_mode: "none".into(),
        id: id.clone(),
    };
    let mut c = Container {
        config,
        state: ContainerState::new(),
    };
    {
        let _names = store.lock_names()?;
        check_name_free(store, &c.config.name)?;
        for v in &c.config.named_volumes {
            volumes::ensure(store, &v.name)?;
        }
        let spec = spec::build(store, &c.config, &Paths::new(store, &id).merged)?;
        create_files(store, &c, &spec)?;
    }
    if start {
        let _lock = store.lock_container(&id)?;
        if let Err(e) = start_locked(store, &mut c) {
            if c.config.autoremove {
                let _ = remove_container(store, &c);
            }
            return Err(e);
        }
    }
    println!("{id}");
    Ok(())
}

/// Starts a created or exited container. The caller holds its lock.
pub fn start_locked(store: &Store, c: &mut Container) -> Result<()> {
    netns::ensure(&c.config.id)?;
    mount_rootfs(store, c)?;
    for v in &c.config.named_volumes {
        volumes::ensure(store, &v.name)?;
    }
    let rt = Runtime::new(&c.config.runtime)?;
    rt.delete(&c.config.id);
    match monitor::start(store, c, None) {
        Ok(started) => {
            c.state.status = Status::Running;
            c.state.pid = started.pid;
            c.state.exit_code = 0;
            c.state.started_at = Some(chrono::Utc::now());
            c.state.finished_at = None;
            c.state.checkpointed = false;
            c.state.restored = false;
            c.state.checkpointed_at = None;
            c.state.restored_at = None;
            c.state.checkpoint_path.clear();
            c.state.checkpoint_log.clear();
            c.state.restore_log.clear();
            c.save(store)
        }
        Err(e) => {
            rootfs::unmount(&c.paths(store).merged);
            Err(e)
        }
    }
}

pub fn start_cmd(store: &Store, names: &[String]) -> Result<()> {
    let mut errs = vec![];
    for name in names {
        let r = (|| -> Result<()> {
            let id = store.resolve(name)?;
            let (_lock, mut c) = load_locked(store, &id)?;
            if c.state.status == Status::Running {
                return Ok(());
            }
            if c.state.status == Status::Paused {
                bail!("\"paused\" is not running, cannot start: container state improper");
            }
            start_locked(store, &mut c)
        })();
        match r {
            Ok(()) => println!("{name}"),
            Err(e) => errs.push(e),
        }
    }
    errors::report_all(errs)
}

/// Stops a running or paused container: SIGTERM, then SIGKILL after `timeout`. The caller holds
/// its lock.
pub fn stop_locked(store: &Store, c: &mut Container, timeout: u64) -> Result<()> {
    let rt = Runtime::new(&c.config.runtime)?;
    let id = c.config.id.clone();
    if c.state.status == Status::Paused {
        let _ = rt.resume(&id);
    }
    let mut stopped = false;
    if timeout > 0 && rt.kill(&id, "TERM").is_ok() {
        stopped = rt.wait_stopped(&id, Duration::from_secs(timeout));
    }
    if !stopped {
        let _ = rt.kill(&id, "KILL");
        if !rt.wait_stopped(&id, Duration::from_secs(10)) {
            bail!("container {id} did not stop after SIGKILL");
        }
    }
    c.state.status = Status::Exited;
    c.state.pid = 0;
    c.state.finished_at = Some(chrono::Utc::now());
    rt.delete(&id);
    rootfs::unmount(&c.paths(store).merged);
    c.save(store)
}

pub fn stop_cmd(store: &Store, names: &[String], timeout: u64) -> Result<()> {
    let mut errs = vec![];
    for name in names {
        let r = (|| -> Result<()> {
            let id = store.resolve(name)?;
            let (_lock, mut c) = load_locked(store, &id)?;
            if matches!(c.state.status, Status::Running | Status::Paused) {
                stop_locked(store, &mut c, timeout)?;
            }
            Ok(())
        })();
        match r {
            Ok(()) => println!("{name}"),
            Err(e) => errs.push(e),
        }
    }
    errors::report_all(errs)
}

pub fn pause_cmd(store: &Store, names: &[String], pause: bool) -> Result<()> {
    let mut errs = vec![];
    for name in names {
        let r = (|| -> Result<()> {
            let id = store.resolve(name)?;
            let (_lock, mut c) = load_locked(store, &id)?;
            let rt = Runtime::new(&c.config.runtime)?;
            if pause {
                if c.state.status != Status::Running {
                    bail!(
                        "\"{}\" is not running, can't pause: container state improper",
                        c.state.status.as_str()
                    );
                }
                rt.pause(&id)?;
                c.state.status = Status::Paused;
            } else {
                if c.state.status != Status::Paused {
                    bail!(
                        "\"{}\" is not paused, can't unpause: container state improper",
                        c.state.status.as_str()
                    );
                }
                rt.resume(&id)?;
                c.state.status = Status::Running;
            }
            c.save(store)
        })();
        match r {
            Ok(()) => println!("{name}"),
            Err(e) => errs.push(e),
        }
    }
    errors::report_all(errs)
}

/// `exec`: the command's output and exit status pass through.
pub fn exec_cmd(store: &Store, name: &str, command: &[String]) -> Result<()> {
    let id = store.resolve(name)?;
    let mut c = Container::load(store, &id)?.context("the container is gone")?;
    refresh(&mut c);
    if c.state.status != Status::Running {
        bail!("can only create exec sessions on running containers: container state improper");
    }
    match Runtime::new(&c.config.runtime)?.exec(&id, command)? {
        0 => Ok(()),
        code => Err(Exit::Silent(code).into()),
    }
}

/// Removes a container that is not running. The caller holds its lock.
pub fn remove_container(store: &Store, c: &Container) -> Result<()> {
    Runtime::new(&c.config.runtime)?.delete(&c.config.id);
    let merged = c.paths(store).merged;
    rootfs::unmount(&merged);
    if rootfs::is_mounted(&merged) {
        bail!("the rootfs of {} is still mounted", c.config.id);
    }
    netns::remove(&c.config.id);
    Container::remove_files(store, &c.config.id)
}

/// Stops (if needed) and removes a container.
pub fn force_remove(store: &Store, id: &ContainerId, timeout: u64) -> Result<()> {
    let (_lock, mut c) = load_locked(store, id)?;
    if matches!(c.state.status, Status::Running | Status::Paused) {
        stop_locked(store, &mut c, timeout)?;
    }
    remove_container(store, &c)
}

pub fn rm_cmd(store: &Store, args: &RmArgs) -> Result<()> {
    let mut errs = vec![];
    for name in &args.containers {
        let r = (|| -> Result<bool> {
            let Some(id) = store.find(name)? else {
                if args.ignore {
                    return Ok(false);
                }
                return Err(Exit::Message(
                    1,
                    format!("no container with ID or name \"{name}\" found: no such container"),
                )
                .into());
            };
            let Ok((_lock, mut c)) = load_locked(store, &id) else {
                return Ok(false); // removed meanwhile
            };
            if matches!(c.state.status, Status::Running | Status::Paused) {
                if !args.force {
                    return Err(Exit::Message(2, format!(
                        "cannot remove container {id} as it is {} - running or paused containers cannot be removed without force: container state improper",
                        c.state.status.as_str()
                    )).into());
                }
                stop_locked(store, &mut c, args.time.unwrap_or(10))?;
            }
            remove_container(store, &c)?;
            Ok(true)
        })();
        match r {
            Ok(true) => println!("{name}"),
            Ok(false) => {}
            Err(e) => errs.push(e),
        }
    }
    errors::report_all(errs)
}
