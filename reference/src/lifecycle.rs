//! Container lifecycle: create, start, stop, pause, exec, remove.

use crate::container::{Container, Paths, Status};
use crate::ids::{ContainerId, Name};
use crate::monitor;
use crate::netns;
use crate::rootfs;
use crate::runtime::Runtime;
use crate::spec;
use crate::store::Store;
use crate::volumes;
use anyhow::{bail, Context, Result};
use std::fs;
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

pub fn mount_rootfs(store: &Store, c: &Container) -> Result<()> {
    let p = c.paths(store);
    rootfs::mount_overlay(&c.lower_dirs(store), &p.upper, &p.work, &p.merged)
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

/// Creates a new container: claims its name, makes its named volumes, its spec and its folders.
pub fn create(store: &Store, c: &Container) -> Result<()> {
    let _names = store.lock_names()?;
    check_name_free(store, &c.config.name)?;
    for v in &c.config.named_volumes {
        volumes::ensure(store, &v.name)?;
    }
    let spec = spec::build(store, &c.config, &Paths::new(store, &c.config.id).merged)?;
    create_files(store, c, &spec)
}

/// Starts a container just created (`run`); a `--rm` one that fails to start is removed.
pub fn start_created(store: &Store, c: &mut Container) -> Result<()> {
    let _lock = store.lock_container(&c.config.id)?;
    if let Err(e) = start_locked(store, c) {
        if c.config.autoremove {
            let _ = c.remove(store);
        }
        return Err(e);
    }
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

/// `start`: a running container is left as it is.
pub fn start(store: &Store, id: &ContainerId) -> Result<()> {
    let (_lock, mut c) = load_locked(store, id)?;
    if c.state.status == Status::Running {
        return Ok(());
    }
    if c.state.status == Status::Paused {
        bail!("\"paused\" is not running, cannot start: container state improper");
    }
    start_locked(store, &mut c)
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

/// `stop`: a container that is not running or paused is left as it is.
pub fn stop(store: &Store, id: &ContainerId, timeout: u64) -> Result<()> {
    let (_lock, mut c) = load_locked(store, id)?;
    if matches!(c.state.status, Status::Running | Status::Paused) {
        stop_locked(store, &mut c, timeout)?;
    }
    Ok(())
}

pub fn pause(store: &Store, id: &ContainerId) -> Result<()> {
    let (_lock, mut c) = load_locked(store, id)?;
    let rt = Runtime::new(&c.config.runtime)?;
    if c.state.status != Status::Running {
        bail!(
            "\"{}\" is not running, can't pause: container state improper",
            c.state.status.as_str()
        );
    }
    rt.pause(id)?;
    c.state.status = Status::Paused;
    c.save(store)
}

pub fn unpause(store: &Store, id: &ContainerId) -> Result<()> {
    let (_lock, mut c) = load_locked(store, id)?;
    let rt = Runtime::new(&c.config.runtime)?;
    if c.state.status != Status::Paused {
        bail!(
            "\"{}\" is not paused, can't unpause: container state improper",
            c.state.status.as_str()
        );
    }
    rt.resume(id)?;
    c.state.status = Status::Running;
    c.save(store)
}

/// `exec`: the command's output passes through; returns its exit status.
pub fn exec(store: &Store, name: &str, command: &[String]) -> Result<i32> {
    let id = store.resolve(name)?;
    let mut c = Container::load(store, &id)?.context("the container is gone")?;
    refresh(&mut c);
    if c.state.status != Status::Running {
        bail!("can only create exec sessions on running containers: container state improper");
    }
    Runtime::new(&c.config.runtime)?.exec(&id, command)
}

/// Stops (if needed) and removes a container.
pub fn force_remove(store: &Store, id: &ContainerId, timeout: u64) -> Result<()> {
    let (_lock, mut c) = load_locked(store, id)?;
    if matches!(c.state.status, Status::Running | Status::Paused) {
        stop_locked(store, &mut c, timeout)?;
    }
    c.remove(store)
}
