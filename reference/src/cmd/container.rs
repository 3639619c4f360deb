//! Container commands: `create`, `run`, `start`, `stop`, `pause`, `unpause`, `exec`, `rm`,
//! `container exists|checkpoint|restore`, and the internal `monitor`.

use super::cli::{CheckpointArgs, MonitorArgs, RestoreArgs, RmArgs, RunArgs};
use super::outcomes::{each, Outcomes};
use crate::archive::Compression;
use crate::checkpoint::{self, RUNTIME_NAME_ANNOTATION};
use crate::container::{Container, ContainerConfig, ContainerState, NamedVolume, Status};
use crate::criu_stats::{self, Entry};
use crate::errors::Exit;
use crate::ids::{ContainerId, Name};
use crate::monitor::{self, Job};
use crate::runtime::{RestoreFlags, Runtime};
use crate::store::Store;
use crate::{hostinfo, images, lifecycle, restore};
use anyhow::{anyhow, bail, Result};
use std::time::Instant;

/// `create`: prints the new container's ID.
pub fn create(store: &Store, args: &RunArgs) -> Result<()> {
    let c = new_container(store, args)?;
    lifecycle::create(store, &c)?;
    println!("{}", c.config.id);
    Ok(())
}

/// `run -d`: created, then started.
pub fn run(store: &Store, args: &RunArgs) -> Result<()> {
    let mut c = new_container(store, args)?;
    lifecycle::create(store, &c)?;
    lifecycle::start_created(store, &mut c)?;
    println!("{}", c.config.id);
    Ok(())
}

/// The container `args` describe, checked in podman's order: the image, the runtime, the
/// command, the volumes, the name.
fn new_container(store: &Store, args: &RunArgs) -> Result<Container> {
    let image = images::find(store, &args.image)?
        .ok_or_else(|| anyhow::anyhow!("{}: image not known", args.image))?;
    let runtime = Runtime::new(&store.default_runtime())?;
    if args.command.is_empty() {
        bail!("no command or entrypoint provided, and no CMD or ENTRYPOINT from image");
    }
    images::extract_layers(store, &image)?;
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
        id,
    };
    Ok(Container {
        config,
        state: ContainerState::new(),
    })
}

pub fn start(store: &Store, names: &[String]) -> Result<()> {
    each(names, |name| {
        lifecycle::start(store, &store.resolve(name)?)?;
        Ok(Some(name.clone()))
    })
}

pub fn stop(store: &Store, names: &[String], timeout: u64) -> Result<()> {
    each(names, |name| {
        lifecycle::stop(store, &store.resolve(name)?, timeout)?;
        Ok(Some(name.clone()))
    })
}

pub fn pause(store: &Store, names: &[String]) -> Result<()> {
    each(names, |name| {
        lifecycle::pause(store, &store.resolve(name)?)?;
        Ok(Some(name.clone()))
    })
}

pub fn unpause(store: &Store, names: &[String]) -> Result<()> {
    each(names, |name| {
        lifecycle::unpause(store, &store.resolve(name)?)?;
        Ok(Some(name.clone()))
    })
}

/// `exec`: the command's output and exit status pass through.
pub fn exec(store: &Store, name: &str, command: &[String]) -> Result<()> {
    match lifecycle::exec(store, name, command)? {
        0 => Ok(()),
        code => Err(Exit::Silent(code).into()),
    }
}

/// `rm [-f] [-i] [-t SECS]`: a running or paused container only with `-f`; one removed meanwhile
/// is not an error, nor is a missing one with `-i`.
pub fn rm(store: &Store, args: &RmArgs) -> Result<()> {
    each(&args.containers, |name| {
        let Some(id) = store.find(name)? else {
            if args.ignore {
                return Ok(None);
            }
            return Err(Exit::Message(
                1,
                format!("no container with ID or name \"{name}\" found: no such container"),
            )
            .into());
        };
        let Ok((_lock, mut c)) = lifecycle::load_locked(store, &id) else {
            return Ok(None); // removed meanwhile
        };
        if matches!(c.state.status, Status::Running | Status::Paused) {
            if !args.force {
                return Err(Exit::Message(2, format!(
                    "cannot remove container {id} as it is {} - running or paused containers cannot be removed without force: container state improper",
                    c.state.status.as_str()
                )).into());
            }
            lifecycle::stop_locked(store, &mut c, args.time.unwrap_or(10))?;
        }
        c.remove(store)?;
        Ok(Some(name.clone()))
    })
}

pub fn exists(store: &Store, name: &str) -> Result<()> {
    match store.find(name)? {
        Some(_) => Ok(()),
        None => Err(Exit::Silent(1).into()),
    }
}

/// The hidden `monitor` command, which `monitor::start` spawns.
pub fn monitor(store: &Store, a: &MonitorArgs) -> Result<()> {
    let job = Job {
        id: ContainerId::parse(&a.id)?,
        generation: a.generation,
        sync_fd: a.sync_fd,
        restore: a.restore.then_some(RestoreFlags {
            tcp_established: a.tcp_established,
            file_locks: a.file_locks,
        }),
    };
    monitor::monitor_main(store, &job)
}

/// `container checkpoint`: podman's argument and option checks, in its order; every name is
/// resolved before anything happens.
pub fn checkpoint(store: &Store, a: &CheckpointArgs) -> Result<()> {
    let start = Instant::now();
    // The argument checks (podman's validate.CheckAllLatestAndIDFile)...
    if a.all && a.latest {
        bail!("--all and --latest cannot be used together");
    }
    if a.all && !a.containers.is_empty() {
        bail!("no arguments are needed with --all");
    }
    if a.latest && !a.containers.is_empty() {
        bail!("--latest and containers cannot be used together");
    }
    if !a.all && !a.latest && a.containers.is_empty() {
        bail!("you must provide at least one name or id");
    }
    // ...then the option checks, in podman's order.
    let compression = match &a.compress {
        Some(name) => {
            if a.export.is_none() {
                bail!("--compress can only be used with --export");
            }
            Compression::parse(name).ok_or_else(|| {
                anyhow!("selected compression algorithm (\"{name}\") not supported. Please select one from: gzip, none, zstd")
            })?
        }
        None => Compression::Zstd,
    };
    if !nix::unistd::geteuid().is_root() {
        bail!("checkpointing a container requires root");
    }
    if a.export.is_none() && a.ignore_rootfs {
        bail!("--ignore-rootfs can only be used with --export");
    }
    if a.export.is_none() && a.ignore_volumes {
        bail!("--ignore-volumes can only be used with --export");
    }
    if a.with_previous && a.pre_checkpoint {
        bail!("--with-previous can not be used with --pre-checkpoint");
    }
    if (a.with_previous || a.pre_checkpoint) && !hostinfo::criu_mem_track() {
        bail!("system (architecture/kernel/CRIU) does not support memory tracking");
    }
    // Every name is resolved before anything happens.
    let targets: Vec<(String, ContainerId)> = if a.all {
        let mut running = vec![];
        for mut c in store.list()? {
            lifecycle::refresh(&mut c);
            if c.state.status == Status::Running {
                running.push(c);
            }
        }
        running.sort_by_key(|c| c.config.created_time);
        running
            .into_iter()
            .map(|c| (c.config.id.to_string(), c.config.id))
            .collect()
    } else if a.latest {
        checkpoint::latest(store)?
            .map(|id| vec![(id.to_string(), id)])
            .unwrap_or_default()
    } else {
        a.containers
            .iter()
            .map(|n| Ok((n.clone(), store.resolve(n)?)))
            .collect::<Result<_>>()?
    };
    let req = checkpoint::Request {
        keep: a.keep,
        leave_running: a.leave_running,
        tcp_established: a.tcp_established,
        file_locks: a.file_locks,
        export: a.export.clone(),
        ignore_rootfs: a.ignore_rootfs,
        ignore_volumes: a.ignore_volumes,
        pre_checkpoint: a.pre_checkpoint,
        with_previous: a.with_previous,
        print_stats: a.print_stats,
        compression,
        image: a.create_image.as_deref().map(images::normalize),
    };
    let mut entries = vec![];
    let mut outcomes = Outcomes::default();
    for (raw, id) in targets {
        outcomes.add(checkpoint::checkpoint_one(store, &id, &req).map(|entry| {
            entries.extend(entry);
            (!a.print_stats).then_some(raw)
        }));
    }
    if a.print_stats {
        criu_stats::print("checkpoint", start.elapsed(), entries)?;
    }
    outcomes.finish()
}

/// `container restore`: podman's checks, in its order, then each container in place, the
/// `--import`ed archive, or each checkpoint image.
pub fn restore(store: &Store, a: &RestoreArgs) -> Result<()> {
    let start = Instant::now();
    if a.all && a.latest {
        bail!("--all and --latest cannot be used together");
    }
    if !nix::unistd::geteuid().is_root() {
        bail!("restoring a container requires root");
    }
    // A name is a container first (podman #15055), else maybe a checkpoint image.
    let mut exists = false;
    for n in &a.containers {
        if store.find(n)?.is_some() {
            exists = true;
            break;
        }
    }
    let mut from_image = false;
    if !exists {
        for n in &a.containers {
            if let Some(img) = images::find(store, n)? {
                let ann = img.annotations();
                let Some(rt) = ann.get(RUNTIME_NAME_ANNOTATION) else {
                    bail!("image is not a checkpoint: {n}");
                };
                if let Some(want) = &store.runtime_flag {
                    if want != rt {
                        bail!("container image \"{n}\" requires runtime: \"{rt}\"");
                    }
                }
                from_image = true;
            }
        }
    }
    let not_import = !from_image && a.import.is_none();
    if not_import && a.import_previous.is_some() {
        bail!("--import-previous can only be used with image or --import");
    }
    if not_import && a.ignore_rootfs {
        bail!("--ignore-rootfs can only be used with image or --import");
    }
    if not_import && a.ignore_volumes {
        bail!("--ignore-volumes can only be used with image or --import");
    }
    if not_import && a.name.is_some() {
        bail!("--name can only be used with image or --import");
    }
    if a.name.is_some() && a.tcp_established {
        bail!("--tcp-established cannot be used with --name");
    }
    if a.import.is_some() {
        if a.all || a.latest {
            bail!("cannot use --import with --all or --latest");
        }
        if !a.containers.is_empty() {
            bail!("cannot use --import with positional arguments");
        }
    }
    if (a.all || a.latest) && !a.containers.is_empty() {
        bail!("--all or --latest and containers cannot be used together");
    }
    if a.containers.is_empty() && !a.all && !a.latest && a.import.is_none() {
        bail!("you must provide at least one name or id");
    }
    if a.containers.len() > 1 && a.name.is_some() {
        bail!("--name can only be used with one checkpoint image");
    }

    let opts = restore::Options {
        keep: a.keep,
        tcp_established: a.tcp_established,
        file_locks: a.file_locks,
        name: a.name.clone(),
        import_previous: a.import_previous.clone(),
        ignore_rootfs: a.ignore_rootfs,
        ignore_volumes: a.ignore_volumes,
        import_privileged: a.import_privileged,
        print_stats: a.print_stats,
    };
    let mut entries = vec![];
    let mut outcomes = Outcomes::default();
    let mut done = |r: Result<(String, Option<Entry>)>| {
        outcomes.add(r.map(|(shown, entry)| {
            entries.extend(entry);
            (!a.print_stats).then_some(shown)
        }))
    };
    if let Some(file) = &a.import {
        done(restore::import_archive(store, file, &opts));
    } else if a.all || a.latest {
        let ids: Vec<ContainerId> = if a.all {
            let mut list = store.list()?;
            list.sort_by_key(|c| c.config.created_time);
            list.into_iter()
                .filter(|c| c.state.status == Status::Exited && c.state.checkpointed)
                .map(|c| c.config.id)
                .collect()
        } else {
            checkpoint::latest(store)?.into_iter().collect()
        };
        for id in ids {
            done(restore::in_place(store, &id, &opts).map(|e| (id.to_string(), e)));
        }
    } else {
        for name in &a.containers {
            let r = match store.find(name)? {
                Some(id) => restore::in_place(store, &id, &opts).map(|e| (name.clone(), e)),
                None => match images::find(store, name)? {
                    Some(img) => restore::import_image(store, &img, name, &opts),
                    None => Err(anyhow!("no such container or image: {name}")),
                },
            };
            done(r);
        }
    }
    if a.print_stats {
        criu_stats::print("restore", start.elapsed(), entries)?;
    }
    outcomes.finish()
}
