//! `inspect` and `ps`, with podman's field names. `Checkpointed`, `Restored`, `CheckpointPath`,
//! `CheckpointLog` and `RestoreLog` are omitted when false or empty (podman's `omitempty`);
//! `CheckpointedAt` and `RestoredAt` are always there, Go's zero time when unset.

use super::outcomes::Outcomes;
use crate::container::{Container, Status};
use crate::lifecycle::refresh;
use crate::store::Store;
use crate::volumes;
use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn time(t: &Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true))
        .unwrap_or_else(|| ZERO_TIME.into())
}

fn render(store: &Store, c: &Container) -> Value {
    let s = &c.state;
    let mut state = Map::new();
    state.insert("OciVersion".into(), json!("1.0.2"));
    state.insert("Status".into(), json!(s.status.as_str()));
    state.insert("Running".into(), json!(s.status == Status::Running));
    state.insert("Paused".into(), json!(s.status == Status::Paused));
    state.insert("Restarting".into(), json!(false));
    state.insert("OOMKilled".into(), json!(false));
    state.insert("Dead".into(), json!(false));
    state.insert("Pid".into(), json!(s.pid));
    state.insert("ExitCode".into(), json!(s.exit_code));
    state.insert("Error".into(), json!(""));
    state.insert("StartedAt".into(), json!(time(&s.started_at)));
    state.insert("FinishedAt".into(), json!(time(&s.finished_at)));
    state.insert("CheckpointedAt".into(), json!(time(&s.checkpointed_at)));
    state.insert("RestoredAt".into(), json!(time(&s.restored_at)));
    if s.checkpointed {
        state.insert("Checkpointed".into(), json!(true));
    }
    if s.restored {
        state.insert("Restored".into(), json!(true));
    }
    for (key, value) in [
        ("CheckpointPath", &s.checkpoint_path),
        ("CheckpointLog", &s.checkpoint_log),
        ("RestoreLog", &s.restore_log),
    ] {
        if !value.is_empty() {
            state.insert(key.into(), json!(value));
        }
    }
    let p = c.paths(store);
    let mounts: Vec<Value> = c
        .config
        .named_volumes
        .iter()
        .map(|v| {
            json!({
                "Type": "volume",
                "Name": v.name,
                "Source": volumes::data_dir(store, &v.name),
                "Destination": v.dest,
                "RW": true,
            })
        })
        .chain(c.config.bind_mounts.iter().map(
            |(src, dest)| json!({ "Type": "bind", "Source": src, "Destination": dest, "RW": true }),
        ))
        .collect();
    json!({
        "Id": c.config.id,
        "Created": c.config.created_time.to_rfc3339_opts(SecondsFormat::Nanos, true),
        "Path": c.config.command.first(),
        "Args": c.config.command.get(1..).unwrap_or_default(),
        "State": state,
        "Image": c.config.rootfs_image_id,
        "ImageName": c.config.rootfs_image_name,
        "Rootfs": "",
        "ResolvConfPath": "",
        "HostnamePath": "",
        "HostsPath": "",
        "StaticDir": p.userdata,
        "OCIConfigPath": p.userdata.join("config.json"),
        "OCIRuntime": c.config.runtime,
        "LogPath": p.userdata.join("ctr.log"),
        "Name": c.config.name,
        "RestartCount": 0,
        "Driver": "overlay",
        "MountLabel": "",
        "ProcessLabel": "",
        "Mounts": mounts,
        "GraphDriver": {
            "Name": "overlay",
            "Data": { "UpperDir": p.upper, "WorkDir": p.work, "MergedDir": p.merged },
        },
        "Config": {
            "Hostname": c.config.id.short(),
            "Cmd": c.config.command,
            "Image": c.config.raw_image_name,
        },
        "HostConfig": { "AutoRemove": c.config.autoremove },
    })
}

pub fn inspect(store: &Store, names: &[String]) -> Result<()> {
    let mut out = vec![];
    let mut outcomes = Outcomes::default();
    for name in names {
        let found = store.resolve(name).and_then(|id| {
            Container::load(store, &id)?.ok_or_else(|| anyhow::anyhow!("no such container {name}"))
        });
        outcomes.add(found.map(|mut c| {
            refresh(&mut c);
            out.push(render(store, &c));
            None
        }));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    outcomes.finish()
}

pub fn ps(store: &Store, all: bool) -> Result<()> {
    let mut list = store.list()?;
    list.sort_by_key(|c| c.config.created_time);
    println!(
        "{:<14} {:<30} {:<10} NAMES",
        "CONTAINER ID", "IMAGE", "STATUS"
    );
    for mut c in list {
        refresh(&mut c);
        if !all && c.state.status != Status::Running {
            continue;
        }
        println!(
            "{:<14} {:<30} {:<10} {}",
            c.config.id.short(),
            c.config.rootfs_image_name,
            c.state.status.as_str(),
            c.config.name
        );
    }
    Ok(())
}
