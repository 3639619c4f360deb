//! `container checkpoint`: podman's validation order and messages, a real dump through the OCI
//! runtime, then the export archive or checkpoint image, and the state afterwards.
//!
//! One difference from podman, on purpose: when an archive or image is to be written and the
//! container is to stop, refpod pauses it, dumps with `--leave-running` (CRIU leaves a paused
//! cgroup paused), writes the archive, and only then kills it. A failed export (a full disk)
//! therefore resumes the container as it was, where podman leaves it stopped.

use crate::archive::{AtomicFile, Compression, Encoder};
use crate::checkpoint_archive::{self, Options};
use crate::container::{Container, Status};
use crate::criu_stats::{self, Entry};
use crate::hostinfo::{self, HostFacts};
use crate::ids::ContainerId;
use crate::runtime::{DumpOptions, Runtime};
use crate::store::Store;
use crate::{images, lifecycle, rootfs};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Duration;

const ANNOTATION: &str = "io.podman.annotations.checkpoint.";

/// What `container checkpoint` does to each container: its options but the selection.
pub struct Request {
    pub keep: bool,
    pub leave_running: bool,
    pub tcp_established: bool,
    pub file_locks: bool,
    pub export: Option<PathBuf>,
    pub ignore_rootfs: bool,
    pub ignore_volumes: bool,
    pub pre_checkpoint: bool,
    pub with_previous: bool,
    pub print_stats: bool,
    pub compression: Compression,
    /// `--create-image`, normalized.
    pub image: Option<String>,
}

/// The container created last, in any state.
pub fn latest(store: &Store) -> Result<Option<ContainerId>> {
    Ok(store
        .list()?
        .into_iter()
        .max_by_key(|c| c.config.created_time)
        .map(|c| c.config.id))
}

/// Checkpoints one container; its statistics with `--print-stats`.
pub fn checkpoint_one(store: &Store, id: &ContainerId, req: &Request) -> Result<Option<Entry>> {
    let a = req;
    let (_lock, mut c) = lifecycle::load_locked(store, id)?;
    let p = c.paths(store);
    let ud = p.userdata.clone();
    if a.with_previous && !p.pre_checkpoint().exists() {
        bail!(
            "faccessat {}: no such file or directory",
            p.pre_checkpoint().display()
        );
    }
    if c.state.status != Status::Running {
        bail!(
            "\"{}\" is not running, cannot checkpoint: container state improper",
            c.state.status.as_str()
        );
    }
    if c.config.autoremove && a.export.is_none() {
        bail!("cannot checkpoint containers that have been started with '--rm' unless '--export' is used");
    }
    let rt = Runtime::new(&c.config.runtime)?;
    let stop_after = !a.leave_running && !a.pre_checkpoint;
    let writes_archive = a.export.is_some() || req.image.is_some();
    // Keep the container whole until its archive is safely written (see the module comment).
    let hold = writes_archive && stop_after;

    let images_dir = if a.pre_checkpoint {
        p.pre_checkpoint()
    } else {
        p.checkpoint()
    };
    let _ = fs::remove_dir_all(&images_dir);
    for f in ["dump.log", "stats-dump"] {
        let _ = fs::remove_file(ud.join(f));
    }
    if hold {
        rt.pause(id)?;
    }
    let opts = DumpOptions {
        leave_running: a.leave_running || hold,
        tcp_established: a.tcp_established,
        file_locks: a.file_locks,
        pre_dump: a.pre_checkpoint,
        with_previous: a.with_previous,
    };
    let runtime_duration = match rt.checkpoint(id, &ud, opts) {
        Ok(d) => d,
        Err(e) => {
            if hold {
                let _ = rt.resume(id);
            }
            return Err(e);
        }
    };
    let written = after_dump(store, &c, req, &ud);
    let stats = match written {
        Ok(stats) => stats,
        Err(e) => {
            if hold {
                let _ = rt.resume(id);
            }
            return Err(e);
        }
    };
    if hold {
        // The archive is safe: now the container stops, as a plain dump would have stopped it.
        let _ = rt.kill(id, "KILL");
        if !rt.wait_stopped(id, Duration::from_secs(10)) {
            bail!("container {id} did not stop after its checkpoint was written");
        }
    }

    let now = chrono::Utc::now();
    if stop_after {
        c.state.status = Status::Exited;
        c.state.pid = 0;
        c.state.checkpointed = true;
        c.state.checkpointed_at = Some(now);
        c.state.restored = false;
        c.state.restored_at = None;
        rt.delete(id);
        rootfs::unmount(&p.merged);
    }
    c.state.finished_at = Some(now);
    c.state.checkpoint_path = p.checkpoint().display().to_string();
    c.state.checkpoint_log = if a.keep || a.pre_checkpoint {
        ud.join("dump.log").display().to_string()
    } else {
        String::new()
    };
    if !a.keep && !a.pre_checkpoint {
        for f in ["dump.log", "stats-dump"] {
            let _ = fs::remove_file(ud.join(f));
        }
    }
    if c.config.autoremove && stop_after {
        c.remove(store)?;
    } else {
        c.save(store)?;
    }
    Ok(stats.map(|s| Entry::new("checkpoint", id, runtime_duration, s)))
}

/// Everything between the dump and the state change; a failure here leaves the container as it
/// was. Returns the statistics when asked for.
fn after_dump(
    store: &Store,
    c: &Container,
    req: &Request,
    ud: &Path,
) -> Result<Option<criu_stats::CriuStatistics>> {
    let a = req;
    if a.with_previous {
        // CRIU records the parent as given; the archive needs the relative link (criu#116).
        let parent = ud.join("checkpoint").join("parent");
        let _ = fs::remove_file(&parent);
        std::os::unix::fs::symlink("../pre-checkpoint", &parent)?;
    }
    fs::write(ud.join("network.status"), "null")?;
    let stats = if a.print_stats {
        Some(
            criu_stats::read(&ud.join("stats-dump"))
                .context("displaying checkpointing statistics not possible")?,
        )
    } else {
        None
    };
    let opts = Options {
        pre_checkpoint: a.pre_checkpoint,
        ignore_rootfs: a.ignore_rootfs,
        ignore_volumes: a.ignore_volumes,
    };
    // podman writes the archive when both are given, and no image.
    if let Some(path) = &a.export {
        // Flushed to disk only when the container stops afterwards: then the archive is the only
        // copy of its state. A running container's snapshot is not worth the fsync (measured:
        // 0.3-0.6 s of 2.7 s at 1 GiB, zstd; podman never syncs its export), and the rename
        // alone already keeps a failed export from leaving a partial archive.
        let durable = !a.leave_running && !a.pre_checkpoint;
        export(store, c, &opts, path, req.compression, durable)?;
    } else if let Some(name) = &req.image {
        create_image(store, c, &opts, name)?;
    }
    Ok(stats)
}

fn export(
    store: &Store,
    c: &Container,
    opts: &Options,
    path: &Path,
    compression: Compression,
    durable: bool,
) -> Result<()> {
    let mut file = AtomicFile::create(path).with_context(|| {
        format!(
            "creating checkpoint export file {:?}",
            path.display().to_string()
        )
    })?;
    let written = (|| -> Result<()> {
        let enc = Encoder::new(file.file(), compression)?;
        let enc = checkpoint_archive::write(store, c, opts, enc)?;
        enc.finish()?;
        Ok(())
    })();
    written
        .and_then(|()| Ok(file.commit(durable)?))
        .with_context(|| {
            format!(
                "writing checkpoint export file {:?}",
                path.display().to_string()
            )
        })
}

/// A one-layer image holding the archive members at `/`, with podman's 14 annotations.
fn create_image(store: &Store, c: &Container, opts: &Options, name: &str) -> Result<()> {
    let tmp = store.temp_dir("checkpoint-image")?;
    let result = (|| -> Result<()> {
        let layer = tmp.join("layer.tar");
        let f = checkpoint_archive::write(store, c, opts, File::create(&layer)?)?;
        f.sync_all()?;
        drop(f);
        images::create(
            store,
            name,
            File::open(&layer)?,
            annotations(c)?,
            &format!("checkpoint of container {}", c.config.name),
        )?;
        Ok(())
    })();
    let _ = fs::remove_dir_all(&tmp);
    result.with_context(|| format!("creating checkpoint image {name}"))
}

fn annotations(c: &Container) -> Result<HashMap<String, String>> {
    let facts = HostFacts::read();
    let rt = Runtime::new(&c.config.runtime)?;
    let values = [
        ("name", c.config.name.to_string()),
        ("rawImageName", c.config.raw_image_name.clone()),
        ("rootfsImageID", c.config.rootfs_image_id.clone()),
        ("rootfsImageName", c.config.rootfs_image_name.clone()),
        ("podman.version", hostinfo::VERSION.to_string()),
        (
            "criu.version",
            facts
                .criu_version
                .context("cannot read CRIU's version (`criu --version`)")?
                .to_string(),
        ),
        ("runtime.name", rt.name.clone()),
        ("runtime.version", rt.version()),
        ("conmon.version", facts.conmon_version.clone()),
        ("host.arch", facts.arch.clone()),
        ("host.kernel", facts.kernel.clone()),
        ("cgroups.version", facts.cgroups_version.clone()),
        ("distribution.version", facts.distribution_version.clone()),
        ("distribution.name", facts.distribution_name.clone()),
    ];
    Ok(values
        .into_iter()
        .map(|(k, v)| (format!("{ANNOTATION}{k}"), v))
        .collect())
}

pub const RUNTIME_NAME_ANNOTATION: &str = "io.podman.annotations.checkpoint.runtime.name";
