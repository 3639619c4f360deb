//! The shim: one binary that is every mutant. The harness installs a copy per mutant with
//! `<binary>.toml` next to it, because the suite runs its target with a clean environment:
//!
//! ```toml
//! mutant = "drop-keep"   # a name of the catalog
//! target = "podman"      # the real target inside the sandbox: a name on PATH or a path
//! ```
//!
//! A command the mutant does not concern is handed to the real target with `exec`, untouched.
//! Otherwise the shim runs the real target (perhaps with changed arguments, perhaps more than
//! once), changes what the deviation changes, and prints the result.

use crate::archive;
use crate::args::{CommandLine, Options, Verb};
use crate::catalog::{self, Deviation as D};
use crate::extract;
use crate::output;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShimConfig {
    pub mutant: String,
    pub target: String,
}

impl ShimConfig {
    /// Where the configuration of the shim installed at `binary` is.
    pub fn path_for(binary: &Path) -> PathBuf {
        let mut name = binary.file_name().unwrap_or_default().to_os_string();
        name.push(".toml");
        binary.with_file_name(name)
    }

    pub fn write_for(&self, binary: &Path) -> Result<()> {
        let path = Self::path_for(binary);
        std::fs::write(&path, toml::to_string(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }

    fn load() -> Result<ShimConfig> {
        let exe = std::env::current_exe().context("finding the shim's own path")?;
        let path = Self::path_for(&exe);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (written by `cargo xtask mutants`)",
                path.display()
            )
        })?;
        toml::from_str(&text).with_context(|| format!("in {}", path.display()))
    }
}

/// What the shim prints and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Reply {
    fn error(message: String) -> Reply {
        Reply {
            stdout: String::new(),
            stderr: format!("Error: {message}\n"),
            code: 125,
        }
    }

    fn ok(&self) -> bool {
        self.code == 0
    }
}

/// The real target with the global options it was called with.
struct Real {
    bin: String,
    global: Vec<String>,
}

impl Real {
    fn command(&self, args: &[String]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(&self.global).args(args);
        c
    }

    fn run(&self, args: &[String]) -> Reply {
        match self.command(args).stdin(Stdio::null()).output() {
            Ok(out) => Reply {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                code: out.status.code().unwrap_or(125),
            },
            Err(e) => Reply::error(format!("mutant shim: cannot run {}: {e}", self.bin)),
        }
    }

    /// The command as it was given.
    fn same(&self, cl: &CommandLine) -> Reply {
        self.run(&cl.command(cl.rest.clone()))
    }

    /// A checkpoint or restore with these options.
    fn verb(&self, cl: &CommandLine, options: &Options) -> Reply {
        self.run(&cl.command(options.to_args()))
    }

    /// A field of the container's `inspect` (`Id`, `Name`, `State.CheckpointLog`).
    fn inspect(&self, container: &str, field: &str) -> Option<String> {
        let reply = self.run(&words(&["container", "inspect", container]));
        let v: serde_json::Value = serde_json::from_str(&reply.stdout).ok()?;
        let value = field.split('.').fold(&v[0], |v, key| &v[key]);
        value.as_str().filter(|s| !s.is_empty()).map(String::from)
    }

    fn full_id(&self, container: &str) -> Option<String> {
        self.inspect(container, "Id")
    }

    fn name(&self, container: &str) -> Option<String> {
        self.inspect(container, "Name")
    }

    /// A boolean of the container's `State`.
    fn inspect_state(&self, container: &str, field: &str) -> Option<bool> {
        let reply = self.run(&words(&["container", "inspect", container]));
        let v: serde_json::Value = serde_json::from_str(&reply.stdout).ok()?;
        v[0]["State"][field].as_bool()
    }

    /// Whether the container is checkpointed once it stops running (another checkpoint may be
    /// dumping it), waiting at most 30 s.
    fn checkpointed_by_now(&self, container: &str) -> bool {
        for _ in 0..60 {
            if self.inspect_state(container, "Running") != Some(true) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        self.inspect_state(container, "Checkpointed") == Some(true)
    }

    fn is_container(&self, name: &str) -> bool {
        self.run(&words(&["container", "inspect", name])).ok()
    }
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

pub fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mutant = match ShimConfig::load() {
        Ok(config) => match catalog::find(&config.mutant) {
            Some(m) => (m, config.target),
            None => return fail(&format!("no mutant {:?} in the catalog", config.mutant)),
        },
        Err(e) => return fail(&format!("{e:#}")),
    };
    let (mutant, target) = mutant;
    let cl = CommandLine::parse(&argv);
    let real = Real {
        bin: target,
        global: cl.global.clone(),
    };
    match respond(&real, mutant.deviation, &cl) {
        Some(reply) => {
            print!("{}", reply.stdout);
            eprint!("{}", reply.stderr);
            ExitCode::from(reply.code.clamp(0, 255) as u8)
        }
        None => {
            let e = Command::new(&real.bin).args(&argv).exec();
            fail(&format!("cannot run {}: {e}", real.bin))
        }
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("Error: mutant shim: {message}");
    ExitCode::from(125)
}

/// The reply of the mutant, or `None` when the deviation does not concern this command.
fn respond(real: &Real, deviation: D, cl: &CommandLine) -> Option<Reply> {
    match deviation {
        D::Control => None,
        D::Inspect(edit) if cl.is(&["container", "inspect"]) => {
            let mut reply = real.same(cl);
            if reply.ok() {
                reply.stdout = output::edit_inspect(&reply.stdout, edit);
            }
            Some(reply)
        }
        D::Annotation(edit) if cl.is(&["image", "inspect"]) => {
            let mut reply = real.same(cl);
            if reply.ok() {
                reply.stdout = output::edit_annotations(&reply.stdout, edit);
            }
            Some(reply)
        }
        D::SavedWithoutAnnotations if cl.is(&["image", "save"]) => {
            let mut reply = real.same(cl);
            let output = output_file(&cl.rest);
            if let (true, Some(path)) = (reply.ok(), output) {
                let edited = std::fs::read(&path)
                    .map_err(anyhow::Error::from)
                    .and_then(|tar| archive::manifest_annotations_dropped(&tar))
                    .and_then(|tar| Ok(std::fs::write(&path, tar)?));
                if let Err(e) = edited {
                    reply.stderr += &format!("Error: mutant shim: {e:#}\n");
                    reply.code = 125;
                }
            }
            Some(reply)
        }
        D::Inspect(_) | D::Annotation(_) | D::SavedWithoutAnnotations => None,
        _ => {
            let verb = cl.verb()?;
            let options = cl.options()?;
            respond_verb(real, deviation, cl, verb, options)
        }
    }
}

const ALGORITHMS: &[&str] = &["gzip", "none", "zstd"];

fn unsupported_compression(value: &str) -> Reply {
    Reply::error(format!(
        "selected compression algorithm ({value:?}) not supported. Please select one from: gzip, none, zstd"
    ))
}

/// Deviations of `container checkpoint` and `container restore`.
fn respond_verb(
    real: &Real,
    deviation: D,
    cl: &CommandLine,
    verb: Verb,
    mut options: Options,
) -> Option<Reply> {
    let checkpoint = verb == Verb::Checkpoint;
    let compress = options.value("compress").map(String::from);
    let export = options.value("export").map(PathBuf::from);
    match deviation {
        D::CompressionReplaced { from, to } => {
            if !checkpoint || !compress.as_deref()?.eq_ignore_ascii_case(from) {
                return None;
            }
            options.set_value("compress", to);
            Some(real.verb(cl, &options))
        }
        D::DefaultCompression(algorithm) => {
            if !checkpoint || export.is_none() || compress.is_some() {
                return None;
            }
            options.add("compress", Some(algorithm));
            Some(real.verb(cl, &options))
        }
        D::CompressionCaseSensitive => {
            let value = compress.filter(|v| checkpoint && *v != v.to_lowercase())?;
            Some(unsupported_compression(&value))
        }
        D::CompressionValueCheckedFirst => {
            let known = |v: &String| ALGORITHMS.iter().any(|a| a.eq_ignore_ascii_case(v));
            let value = compress.filter(|v| checkpoint && !known(v))?;
            Some(unsupported_compression(&value))
        }
        D::FlagDropped { verbs, long } => {
            if !verbs.contains(&verb) || !options.remove(long) {
                return None;
            }
            Some(real.verb(cl, &options))
        }
        D::FlagAdded { verbs, long } => {
            if !verbs.contains(&verb) || options.has(long) {
                return None;
            }
            options.add(long, None);
            Some(real.verb(cl, &options))
        }
        D::FlagImplies { verbs, when, also } => {
            if !verbs.contains(&verb) || !options.has(when) || options.has(also) {
                return None;
            }
            options.add(also, None);
            Some(real.verb(cl, &options))
        }
        D::FlagReplaced { verbs, from, to } => {
            if !verbs.contains(&verb) || !options.remove(from) {
                return None;
            }
            if !options.has(to) {
                options.add(to, None);
            }
            Some(real.verb(cl, &options))
        }
        D::LeaveRunningNoDump => {
            let dumps_elsewhere = ["export", "create-image", "pre-checkpoint", "all", "latest"];
            if !checkpoint
                || !options.has("leave-running")
                || dumps_elsewhere.iter().any(|o| options.has(o))
            {
                return None;
            }
            let names = options.positionals();
            if names.is_empty() || !names.iter().all(|n| real.is_container(n)) {
                return None;
            }
            Some(Reply {
                stdout: names.iter().map(|n| format!("{n}\n")).collect(),
                stderr: String::new(),
                code: 0,
            })
        }
        D::KeepDeletesFiles => {
            if !checkpoint || !options.has("keep") {
                return None;
            }
            let names: Vec<String> = options
                .positionals()
                .iter()
                .map(|s| s.to_string())
                .collect();
            let reply = real.verb(cl, &options);
            for name in &names {
                delete_kept_files(real, name, &reply.stderr);
            }
            Some(reply)
        }
        D::Archive(edit) => {
            let path = export.filter(|_| checkpoint)?;
            let mut reply = real.verb(cl, &options);
            if reply.ok() {
                if let Err(e) = archive::edit_file(&path, edit) {
                    reply.stderr += &format!("Error: mutant shim: {e:#}\n");
                    reply.code = 125;
                }
            }
            Some(reply)
        }
        D::Stats(edit) => {
            if !options.has("print-stats") {
                return None;
            }
            let mut reply = real.verb(cl, &options);
            if reply.ok() {
                reply.stdout = output::edit_stats(&reply.stdout, edit);
            }
            Some(reply)
        }
        D::ValidationExitsZero => {
            let mut reply = real.verb(cl, &options);
            if reply.code == 125 && output::is_validation_error(&reply.stderr) {
                reply.code = 0;
            }
            Some(reply)
        }
        D::ErrorsExitOne => {
            let mut reply = real.verb(cl, &options);
            if reply.code == 125 {
                reply.code = 1;
            }
            Some(reply)
        }
        D::ErrorsReworded => {
            let mut reply = real.verb(cl, &options);
            reply.stderr = output::reword(&reply.stderr);
            Some(reply)
        }
        D::FullIdsPrinted => {
            // With --all, --latest or --import podman prints full IDs already.
            let ids_already = ["all", "latest", "import", "print-stats"];
            if ids_already.iter().any(|o| options.has(o)) {
                return None;
            }
            let mut reply = real.verb(cl, &options);
            if reply.ok() {
                reply.stdout = reply
                    .stdout
                    .lines()
                    .map(|l| real.full_id(l).unwrap_or_else(|| l.to_string()) + "\n")
                    .collect();
            }
            Some(reply)
        }
        D::RestorePrintsNames => {
            if checkpoint || options.has("print-stats") {
                return None;
            }
            let mut reply = real.verb(cl, &options);
            if reply.ok() {
                reply.stdout = reply
                    .stdout
                    .lines()
                    .map(|l| real.name(l).unwrap_or_else(|| l.to_string()) + "\n")
                    .collect();
            }
            Some(reply)
        }
        D::AllFirstOnly => {
            if !options.has("all") || options.has("print-stats") {
                return None;
            }
            let mut reply = real.verb(cl, &options);
            if reply.ok() {
                let ids: Vec<String> = reply.stdout.lines().map(String::from).collect();
                // Undo the others with the target's own inverse command.
                let undo = if checkpoint { "restore" } else { "checkpoint" };
                for id in ids.iter().skip(1) {
                    real.run(&words(&["container", undo, id]));
                }
                reply.stdout = ids.first().map(|id| format!("{id}\n")).unwrap_or_default();
            }
            Some(reply)
        }
        D::AllNoneFails => {
            if !checkpoint || !options.has("all") {
                return None;
            }
            let reply = real.verb(cl, &options);
            if reply.ok() && reply.stdout.trim().is_empty() {
                return Some(Reply::error("no running containers to checkpoint".into()));
            }
            Some(reply)
        }
        D::OneAtATime => {
            let names: Vec<String> = options
                .positionals()
                .iter()
                .map(|s| s.to_string())
                .collect();
            if !checkpoint || names.len() < 2 || options.has("print-stats") {
                return None;
            }
            let mut all = Reply {
                stdout: String::new(),
                stderr: String::new(),
                code: 0,
            };
            for name in &names {
                options.set_positionals(&[name]);
                let reply = real.verb(cl, &options);
                all.stdout += &reply.stdout;
                all.stderr += &reply.stderr;
                if !reply.ok() {
                    all.code = reply.code;
                }
            }
            Some(all)
        }
        D::ExportClobberedOnFailure => {
            let path = export.filter(|_| checkpoint)?;
            let reply = real.verb(cl, &options);
            if !reply.ok() && path.parent().is_some_and(Path::is_dir) {
                let _ = std::fs::write(&path, b"");
            }
            Some(reply)
        }
        D::RestoreRestarts => {
            let names = options.positionals();
            let in_place = !checkpoint
                && !["import", "all", "latest"].iter().any(|o| options.has(o))
                && !names.is_empty()
                && names.iter().all(|n| real.is_container(n));
            if !in_place {
                return None;
            }
            let mut start = words(&["start"]);
            start.extend(names.iter().map(|n| n.to_string()));
            Some(real.run(&start))
        }
        D::ImportUnsanitised(flaw) => {
            let archive = PathBuf::from(options.value("import").filter(|_| !checkpoint)?);
            let mut name = archive.file_name()?.to_os_string();
            name.push(".extract");
            // Best effort, as the engine it stands for: whatever it extracted stays.
            let _ = extract::import(&archive, &archive.with_file_name(name), flaw);
            Some(real.same(cl))
        }
        D::ImportLeavesContainer => {
            let archive = PathBuf::from(options.value("import").filter(|_| !checkpoint)?);
            let reply = real.same(cl);
            if !reply.ok() {
                leave_container(real, &archive, options.value("name"));
            }
            Some(reply)
        }
        D::ImportFailureExitsZero => {
            options.value("import").filter(|_| !checkpoint)?;
            let mut reply = real.same(cl);
            reply.code = 0;
            Some(reply)
        }
        D::CheckpointTakesOthersResult => {
            let names: Vec<String> = options
                .positionals()
                .iter()
                .map(|s| s.to_string())
                .collect();
            if !checkpoint || names.is_empty() || options.has("all") || options.has("latest") {
                return None;
            }
            let reply = real.verb(cl, &options);
            if reply.ok() || !names.iter().all(|n| real.checkpointed_by_now(n)) {
                return Some(reply);
            }
            Some(Reply {
                stdout: names.iter().map(|n| format!("{n}\n")).collect(),
                stderr: String::new(),
                code: 0,
            })
        }
        D::FailedExportStops => {
            export.filter(|_| checkpoint)?;
            let names = options.positionals();
            let running: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| real.inspect_state(n, "Running") == Some(true))
                .collect();
            let reply = real.verb(cl, &options);
            if !reply.ok() {
                for name in running {
                    real.run(&words(&["stop", "-t", "0", name]));
                }
            }
            Some(reply)
        }
        D::Control | D::Inspect(_) | D::Annotation(_) | D::SavedWithoutAnnotations => None,
    }
}

/// What an engine that ignores `--keep` after the fact would leave: CRIU's log (where `inspect`
/// says, or where the error names it) and the `stats-dump` beside it, deleted.
fn delete_kept_files(real: &Real, container: &str, stderr: &str) {
    let from_inspect = real.inspect(container, "State.CheckpointLog");
    let from_error = stderr
        .split(|c: char| c.is_whitespace() || c == ':' || c == '"')
        .find(|w| w.starts_with('/') && w.ends_with("/dump.log"))
        .map(String::from);
    for log in from_inspect.into_iter().chain(from_error) {
        let log = PathBuf::from(log);
        let _ = std::fs::remove_file(log.with_file_name("stats-dump"));
        let _ = std::fs::remove_file(&log);
    }
}

/// The file of `image save -o FILE` / `--output FILE` / `--output=FILE`.
fn output_file(rest: &[String]) -> Option<std::path::PathBuf> {
    let mut args = rest.iter();
    while let Some(a) = args.next() {
        if a == "-o" || a == "--output" {
            return args.next().map(Into::into);
        }
        if let Some(v) = a.strip_prefix("--output=") {
            return Some(v.into());
        }
    }
    None
}

/// What podman does before it fails: the container of the archive's `config.dump` (or `--name`)
/// is created, unless it already exists.
fn leave_container(real: &Real, archive: &Path, name: Option<&str>) {
    let Ok(bytes) = archive::read_member(archive, "config.dump", 1 << 20) else {
        return;
    };
    let Ok(config) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return;
    };
    let (Some(name), Some(image)) = (
        name.or(config["name"].as_str()),
        config["rootfsImageName"].as_str(),
    ) else {
        return;
    };
    if real.is_container(name) {
        return;
    }
    let mut create = words(&["create", "--name", name, image]);
    match config["command"].as_array() {
        Some(cmd) if !cmd.is_empty() => {
            create.extend(cmd.iter().filter_map(|w| w.as_str().map(String::from)))
        }
        _ => create.push("true".into()),
    }
    real.run(&create);
}
