//! Runs one case: set up its containers, run its steps through the target, judge each step's
//! artefacts with the oracles, and remove everything the case created, whatever happened.

use crate::case::{
    Action, AnnotationStep, ArchiveStep, Case, Command, ContainerSpec, HostileStep, KeptStep,
    SetupState, StatsKindName, TmpfsStep,
};
use crate::hostile::{self, Aim};
use crate::oracle::image::ContainerFacts;
use crate::oracle::stats::StatsKind;
use crate::oracle::{archive, image, progress, state, stats, Finding};
use crate::probe::Capabilities;
use crate::target::{Call, Target};
use crate::workload::{self, Catalog, Progress};
use crate::{interrupt, names::Names};
use ckpt_sandbox::TEST_IMAGE;
use regex::Regex;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod readers;

/// Progress a running workload must reach before the steps, unless the case says otherwise: its
/// first line, written once its setup is done (file written, lock taken, connection up, memory
/// filled). A restart shows by the workload's start token, not by how far it counted.
const DEFAULT_WAIT_PROGRESS: u64 = 1;
/// How often a workload's progress is read while waiting for it.
const POLL: Duration = Duration::from_millis(50);
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What a run shares between its cases.
pub struct Context {
    pub target: Target,
    /// The second engine of the interop cases (`--peer`): it restores what the target exported
    /// and exports what the target restores.
    pub peer: Option<Target>,
    pub caps: Capabilities,
    pub catalog: Catalog,
    pub checkpoint_schema: serde_json::Value,
    pub restore_schema: serde_json::Value,
    /// Unique to this run: every name and file of the run starts with it.
    pub run_id: String,
    /// Every name the run handed out that no case has cleaned up yet.
    pub live: std::sync::Arc<crate::names::Live>,
    /// Per-case budget.
    pub timeout: Duration,
    /// How long a workload may take to show progress, and a restored one to move on (longer under
    /// emulation, where every command takes seconds).
    pub progress_wait: Duration,
    /// Host folder seen at the same path inside the sandbox.
    pub share: PathBuf,
    /// The engine behind a remote target (the podman that runs its service): the cleanup's last
    /// resort for what the client cannot remove (podman-remote's `rm` panics on some containers a
    /// hostile import leaves).
    pub server: Option<Target>,
}

impl Context {
    /// Every engine that may hold a name of the run: the target, the peer, the server.
    pub fn engines(&self) -> impl Iterator<Item = &Target> {
        std::iter::once(&self.target)
            .chain(self.peer.as_ref())
            .chain(self.server.as_ref())
    }
}

/// The result of one case: its findings (empty = passed) and the log of what it did.
pub struct CaseResult {
    pub findings: Vec<Finding>,
    pub log: String,
}

struct CaseRun<'a> {
    ctx: &'a Context,
    case: &'a Case,
    names: Names,
    deadline: Instant,
    log: String,
    marks: HashMap<String, Progress>,
    facts: HashMap<String, ContainerFacts>,
    saved_stats: HashMap<String, serde_json::Value>,
    /// `container inspect` of each declared container right after its setup (the readers check
    /// an archive against it).
    created: HashMap<String, serde_json::Value>,
    /// tmpfs mounted by the case inside the sandbox, unmounted at cleanup.
    mounts: Vec<String>,
    /// The stderr of the last `run`/`peer`/`exec` step, for `kept = { log_in_error = true }`.
    last_stderr: String,
}

pub fn run_case(ctx: &Context, case: &Case) -> CaseResult {
    let mut run = CaseRun {
        ctx,
        case,
        names: Names::new(&ctx.run_id, &case.id, &ctx.share, ctx.live.clone()),
        deadline: Instant::now() + ctx.timeout,
        log: String::new(),
        marks: HashMap::new(),
        facts: HashMap::new(),
        saved_stats: HashMap::new(),
        created: HashMap::new(),
        mounts: vec![],
        last_stderr: String::new(),
    };
    let findings = run.setup_and_steps();
    run.cleanup();
    CaseResult {
        findings,
        log: run.log,
    }
}

/// The contract's "no such container" (TARGET.md): exit 125 saying so. Exit 125 alone is not
/// enough: podman-remote reports a panic of the service (a recovered nil dereference) with exit
/// 125 too, and a check that a container is gone must not pass on it.
fn is_no_such_container(call: &Call) -> bool {
    call.exit == Some(125) && call.stderr.to_lowercase().contains("no such container")
}

impl CaseRun<'_> {
    fn setup_and_steps(&mut self) -> Vec<Finding> {
        let share = crate::share::Share::new(&self.ctx.share);
        if let Err(e) = share.create_dir_all(self.names.files_dir()) {
            return vec![format!("cannot create the case's folder: {e}")];
        }
        for spec in &self.case.containers {
            if let Err(f) = self.set_up(spec) {
                return vec![format!("setup of container `{}`: {f}", spec.name)];
            }
        }
        for (i, step) in self.case.steps.iter().enumerate() {
            if interrupt::requested() {
                return vec!["interrupted".into()];
            }
            let findings = match self.step(step) {
                Ok(f) => f,
                Err(f) => vec![f],
            };
            if !findings.is_empty() {
                let action = step.name();
                return findings
                    .into_iter()
                    .map(|f| format!("step {} ({action}): {f}", i + 1))
                    .collect();
            }
        }
        vec![]
    }

    /// Time left for one call.
    fn budget(&self) -> Result<Duration, Finding> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(format!(
                "the case ran out of its {} s",
                self.ctx.timeout.as_secs()
            ))
        } else {
            Ok(left)
        }
    }

    /// The engine a call goes to: the target, or the peer.
    fn engine(&self, peer: bool) -> Result<&Target, Finding> {
        if !peer {
            return Ok(&self.ctx.target);
        }
        self.ctx
            .peer
            .as_ref()
            .ok_or_else(|| crate::probe::NO_PEER.to_string())
    }

    fn call(&mut self, args: &[String]) -> Result<Call, Finding> {
        self.call_on(false, args)
    }

    fn call_on(&mut self, peer: bool, args: &[String]) -> Result<Call, Finding> {
        let call = self.engine(peer)?.call(args, self.budget()?);
        self.log.push_str(&call.render());
        if call.exit.is_none() {
            return Err(format!(
                "`{}` hung: killed at the case's timeout",
                args.join(" ")
            ));
        }
        Ok(call)
    }

    fn call_ok(&mut self, args: &[String]) -> Result<Call, Finding> {
        self.call_ok_on(false, args)
    }

    fn call_ok_on(&mut self, peer: bool, args: &[String]) -> Result<Call, Finding> {
        let call = self.call_on(peer, args)?;
        if !call.ok() {
            return Err(format!(
                "`{}` failed with exit {}: {}",
                args.join(" "),
                call.exit.unwrap_or(-1),
                call.stderr.trim()
            ));
        }
        Ok(call)
    }

    fn resolve(&mut self, text: &str) -> Result<String, Finding> {
        let mut out = String::new();
        let mut last = 0;
        for m in crate::case::PLACEHOLDER.find_iter(text) {
            out.push_str(&text[last..m.start()]);
            let inner = &m.as_str()[1..m.as_str().len() - 1];
            let value = match inner.split_once(':') {
                Some(("id", c)) => self.full_id(c)?,
                Some(("shortid", c)) => self.full_id(c)?.chars().take(12).collect(),
                _ => self.names.resolve(inner, &self.case.containers)?,
            };
            out.push_str(&value);
            last = m.end();
        }
        out.push_str(&text[last..]);
        Ok(out)
    }

    fn resolve_all(&mut self, args: &[String]) -> Result<Vec<String>, Finding> {
        args.iter().map(|a| self.resolve(a)).collect()
    }

    /// A container's real name from a key: `c` (declared) or `name:x`.
    fn container(&mut self, key: &str) -> Result<String, Finding> {
        self.resolve(&format!("{{{key}}}"))
    }

    /// A key's engine and real name: `peer:c` / `peer:name:x` is that container in the peer;
    /// any other key is in the target (a container declared with `peer = true` is set up in the
    /// peer, and its steps call it `peer:c`; `c` is then the copy the target restored).
    fn locate(&mut self, key: &str) -> Result<(bool, String), Finding> {
        match key.strip_prefix("peer:") {
            Some(bare) => Ok((true, self.container(bare)?)),
            None => Ok((false, self.container(key)?)),
        }
    }

    fn inspect_on(&mut self, peer: bool, name: &str) -> Result<Option<serde_json::Value>, Finding> {
        let call = self.call_on(peer, &["container".into(), "inspect".into(), name.into()])?;
        if is_no_such_container(&call) {
            return Ok(None);
        }
        if !call.ok() {
            // A crash is not "no such container": a check that it is gone must not pass on it.
            let head: Vec<&str> = call.stderr.trim().lines().take(3).collect();
            return Err(format!(
                "`container inspect {name}` failed with exit {}: {}",
                call.exit.unwrap_or(-1),
                head.join(" / ")
            ));
        }
        let value: serde_json::Value = serde_json::from_str(&call.stdout)
            .map_err(|e| format!("`container inspect {name}` printed no JSON: {e}"))?;
        Ok(value
            .as_array()
            .and_then(|a| a.first())
            .cloned()
            .or(Some(value)))
    }

    fn full_id(&mut self, key: &str) -> Result<String, Finding> {
        let (peer, name) = self.locate(key)?;
        let inspect = self
            .inspect_on(peer, &name)?
            .ok_or(format!("container {name} does not exist"))?;
        inspect["Id"]
            .as_str()
            .map(String::from)
            .ok_or(format!("`container inspect {name}` has no Id"))
    }

    fn set_up(&mut self, spec: &ContainerSpec) -> Result<(), Finding> {
        let workload = self
            .ctx
            .catalog
            .get(&spec.workload)
            .ok_or(format!("unknown workload `{}`", spec.workload))?
            .clone();
        let name = self.container(&spec.name)?;
        let verb = if spec.state == SetupState::Created {
            "create"
        } else {
            "run"
        };
        let mut args = vec![verb.to_string()];
        if verb == "run" {
            args.push("-d".into());
        }
        args.extend(["--name".into(), name.clone()]);
        args.extend(self.resolve_all(&spec.options)?);
        args.push(TEST_IMAGE.into());
        args.extend(workload.command.iter().cloned());
        let peer = spec.peer;
        self.call_ok_on(peer, &args)?;

        let inspect = self
            .inspect_on(peer, &name)?
            .ok_or("it does not exist after creation")?;
        let text = |key: &str| inspect[key].as_str().unwrap_or_default().to_string();
        self.facts.insert(
            spec.name.clone(),
            ContainerFacts {
                name: name.clone(),
                raw_image_name: TEST_IMAGE.into(),
                image_id: text("Image"),
                image_name: text("ImageName"),
            },
        );
        self.created.insert(spec.name.clone(), inspect.clone());
        match spec.state {
            SetupState::Running => {
                let want = spec.wait_progress.unwrap_or(DEFAULT_WAIT_PROGRESS);
                self.wait_progress(
                    peer,
                    &name,
                    &workload.progress,
                    &format!("reach {want}"),
                    |p| p.count >= want,
                )?;
            }
            SetupState::Created => {}
            SetupState::Exited => {
                self.call_ok_on(peer, &["stop".into(), "-t".into(), "0".into(), name])?;
            }
            SetupState::Paused => {
                self.call_ok_on(peer, &["pause".into(), name])?;
            }
        }
        Ok(())
    }

    fn progress_file(&self, key: &str) -> Result<String, Finding> {
        let key = key.strip_prefix("peer:").unwrap_or(key);
        let spec = self
            .case
            .containers
            .iter()
            .find(|c| c.name == key || key.strip_prefix("name:").is_some())
            .ok_or(format!(
                "no declared container `{key}` to read progress from"
            ))?;
        // A container restored under a new name runs the same workload as the first declared one.
        Ok(self.ctx.catalog[&spec.workload].progress.clone())
    }

    fn read_progress(
        &mut self,
        peer: bool,
        name: &str,
        file: &str,
    ) -> Result<Option<Progress>, Finding> {
        let mut args = vec!["exec".to_string(), name.to_string()];
        args.extend(workload::tail_argv(file));
        let call = self.call_on(peer, &args)?;
        Ok(if call.ok() {
            workload::parse_progress(&call.stdout)
        } else {
            None
        })
    }

    /// Reads the progress of `name` until a reading is `done` (`what` it waits for, for the error).
    fn wait_progress(
        &mut self,
        peer: bool,
        name: &str,
        file: &str,
        what: &str,
        done: impl Fn(&Progress) -> bool,
    ) -> Result<Progress, Finding> {
        let until = Instant::now() + self.ctx.progress_wait;
        let mut last = None;
        loop {
            last = self.read_progress(peer, name, file)?.or(last);
            if let Some(p) = last.as_ref().filter(|p| done(p)) {
                return Ok(p.clone());
            }
            if Instant::now() > until {
                return Err(format!(
                    "the workload in {name} did not {what} in {} s (last seen: {last:?})",
                    self.ctx.progress_wait.as_secs()
                ));
            }
            self.ctx.target.wait(POLL);
        }
    }

    /// The first reading that differs from `from`: counted on, or started again with a new token.
    fn wait_moved_on(
        &mut self,
        peer: bool,
        name: &str,
        file: &str,
        from: Option<&Progress>,
    ) -> Option<Progress> {
        let (count, boot) = from.map_or((0, None), |p| (p.count, Some(p.boot.clone())));
        self.wait_progress(peer, name, file, &format!("move on from {count}"), |p| {
            p.count > count || boot.as_ref().is_some_and(|b| *b != p.boot)
        })
        .ok()
    }

    /// Runs one step's action and judges what it produced.
    fn step(&mut self, step: &Action) -> Result<Vec<Finding>, Finding> {
        match step {
            Action::Run(c) => {
                let args = self.resolve_all(&c.args)?;
                self.command_step(c, false, args)
            }
            Action::Peer(c) => {
                let args = self.resolve_all(&c.args)?;
                self.command_step(c, true, args)
            }
            Action::Exec(c) => {
                let mut args = self.resolve_all(&c.args)?;
                args.insert(0, "exec".into());
                self.command_step(c, false, args)
            }
            Action::Mark(keys) => self.mark(keys).map(|()| vec![]),
            Action::Continues(keys) => self.each(keys, |run, key| run.continues(key)),
            Action::State(expected) => self.state(expected),
            Action::Archive(a) => self.archive(a),
            Action::Annotations(a) => self.annotations(a),
            Action::Gone(keys) => self.each(keys, |run, key| run.gone(key)),
            Action::FewerPages(f) => {
                let get = |name: &str| {
                    self.saved_stats
                        .get(name)
                        .ok_or(format!("no statistics saved as `{name}` before this step"))
                };
                Ok(stats::check_fewer_pages(get(&f.saved)?, get(&f.than)?))
            }
            Action::Tmpfs(t) => self.tmpfs(t).map(|()| vec![]),
            Action::Race(commands) => self.race(commands),
            Action::NoFile(files) => self.each(files, |run, file| run.no_file(file)),
            Action::Hostile(h) => self.hostile(h).map(|()| vec![]),
            Action::Intact(victims) => self.each(victims, |run, v| {
                let path = run.resolve(v)?;
                run.intact(&path)
            }),
            Action::Kept(k) => self.kept_step(k),
            Action::NoHazard(tag) => {
                let tag = self.resolve(tag)?;
                self.no_hazard(&tag)
            }
        }
    }

    /// One check per item, their findings together; the first error ends the step.
    fn each(
        &mut self,
        items: &[String],
        mut check: impl FnMut(&mut Self, &str) -> Result<Vec<Finding>, Finding>,
    ) -> Result<Vec<Finding>, Finding> {
        let mut findings = vec![];
        for item in items {
            findings.extend(check(self, item)?);
        }
        Ok(findings)
    }

    fn mark(&mut self, keys: &[String]) -> Result<(), Finding> {
        for key in keys {
            let (peer, name) = self.locate(key)?;
            let file = self.progress_file(key)?;
            let p = self
                .read_progress(peer, &name, &file)?
                .ok_or(format!("cannot read the progress of {name}"))?;
            self.marks.insert(key.clone(), p);
        }
        Ok(())
    }

    fn state(
        &mut self,
        expected: &BTreeMap<String, state::StateExpect>,
    ) -> Result<Vec<Finding>, Finding> {
        let mut findings = vec![];
        for (key, expect) in expected {
            let (peer, name) = self.locate(key)?;
            let inspect = self.inspect_on(peer, &name)?;
            findings.extend(
                state::check_state(inspect.as_ref(), expect)
                    .into_iter()
                    .map(|f| format!("{key}: {f}")),
            );
        }
        Ok(findings)
    }

    fn archive(&mut self, a: &ArchiveStep) -> Result<Vec<Finding>, Finding> {
        let path = self.resolve(&a.file)?;
        let bytes = crate::share::Share::new(&self.ctx.share)
            .read(path.as_ref())
            .map_err(|e| format!("no archive at {path}: {e}"))?;
        self.log
            .push_str(&format!("# archive {path}: {} bytes\n", bytes.len()));
        // Volume names are placeholders too (`volumes = ["{vol:data}"]`).
        let mut expect = a.expect.clone();
        expect.volumes = self.resolve_all(&expect.volumes)?;
        for file in &mut expect.volume_files {
            file.volume = self.resolve(&file.volume)?;
        }
        let parsed = match archive::read_archive_with_images(&bytes) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Ok(vec![format!(
                    "expected a readable checkpoint archive, found: {e}"
                )])
            }
        };
        let findings = archive::check_archive_parsed(&parsed, &expect);
        if !findings.is_empty() {
            return Ok(findings);
        }
        self.read_independently(a, &path, &parsed)
    }

    fn annotations(&mut self, a: &AnnotationStep) -> Result<Vec<Finding>, Finding> {
        let image = self.resolve(&a.image)?;
        let facts = self
            .facts
            .get(&a.container)
            .cloned()
            .ok_or(format!("no declared container `{}`", a.container))?;
        let call = self.call(&["image".into(), "inspect".into(), image.clone()])?;
        if !call.ok() {
            return Ok(vec![format!("no image {image}: {}", call.stderr.trim())]);
        }
        let value: serde_json::Value = serde_json::from_str(&call.stdout)
            .map_err(|e| format!("`image inspect {image}` printed no JSON: {e}"))?;
        let first = value.as_array().and_then(|a| a.first()).unwrap_or(&value);
        let Some(annotations) = first["Annotations"].as_object() else {
            return Ok(vec![format!("image {image} has no Annotations")]);
        };
        let findings = image::check_annotations(annotations, &self.ctx.caps.facts, &facts);
        if !findings.is_empty() {
            return Ok(findings);
        }
        let annotations = annotations.clone();
        self.read_image_independently(&image, &annotations)
    }

    fn tmpfs(&mut self, t: &TmpfsStep) -> Result<(), Finding> {
        let dir = self.resolve(&t.dir)?;
        crate::share::Share::new(&self.ctx.share).create_dir_all(dir.as_ref())?;
        let argv = [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &format!("size={}", t.size),
            "tmpfs",
            &dir,
        ];
        self.inside_ok(
            argv.map(String::from).to_vec(),
            &format!("could not mount a tmpfs on {dir}"),
        )?;
        self.mounts.push(dir);
        Ok(())
    }

    /// The file does not exist, looked up inside the sandbox: a tmpfs mounted there is invisible
    /// from the host.
    fn no_file(&mut self, file: &str) -> Result<Vec<Finding>, Finding> {
        let path = self.resolve(file)?;
        let argv = vec!["test".to_string(), "-e".to_string(), path.clone()];
        let call = self.ctx.target.run_inside(argv, self.budget()?);
        self.log.push_str(&call.render());
        match call.exit {
            Some(1) => Ok(vec![]),
            Some(0) => Ok(vec![format!("{path} exists")]),
            other => Err(format!("cannot tell whether {path} exists ({other:?})")),
        }
    }

    /// The container is gone within 5 s.
    fn gone(&mut self, key: &str) -> Result<Vec<Finding>, Finding> {
        let (peer, name) = self.locate(key)?;
        let until = Instant::now() + Duration::from_secs(5);
        while self.inspect_on(peer, &name)?.is_some() {
            if Instant::now() > until {
                return Ok(vec![format!("{name} still exists 5 s later")]);
            }
            self.ctx.target.wait(Duration::from_millis(200));
        }
        Ok(vec![])
    }

    fn kept_step(&mut self, k: &KeptStep) -> Result<Vec<Finding>, Finding> {
        let mut findings = vec![];
        for key in &k.containers {
            findings.extend(self.kept(key, k.stats)?);
        }
        if k.log_in_error {
            match log_named_in(&self.last_stderr) {
                Some(log) => findings.extend(self.kept_files("the error's log", &log, k.stats)?),
                None => findings
                    .push("the error names no CRIU log (an absolute path ending in .log)".into()),
            }
        }
        Ok(findings)
    }

    /// CRIU's log (`inspect`'s `CheckpointLog`) and, with `stats`, the `stats-dump` beside it
    /// are non-empty files inside the sandbox: `--keep` kept them.
    fn kept(&mut self, key: &str, stats: bool) -> Result<Vec<Finding>, Finding> {
        let (peer, name) = self.locate(key)?;
        let inspect = self
            .inspect_on(peer, &name)?
            .ok_or(format!("container {name} does not exist"))?;
        let log = inspect["State"]["CheckpointLog"]
            .as_str()
            .unwrap_or_default();
        if log.is_empty() {
            return Ok(vec![format!(
                "{key}: inspect names no CheckpointLog to find CRIU's files by"
            )]);
        }
        let log = log.to_string();
        self.kept_files(key, &log, stats)
    }

    /// `log` and, with `stats`, the `stats-dump` beside it are non-empty files in the sandbox.
    fn kept_files(&mut self, key: &str, log: &str, stats: bool) -> Result<Vec<Finding>, Finding> {
        // Prints the files that are missing or empty.
        let script = r#"for f in "$@"; do [ -f "$f" ] && [ -s "$f" ] || echo "$f"; done"#;
        let mut argv = ["sh", "-c", script, "sh", log].map(String::from).to_vec();
        if stats {
            let dir = log.rsplit_once('/').map_or("", |(d, _)| d);
            argv.push(format!("{dir}/stats-dump"));
        }
        let call = self.inside_ok(argv, &format!("cannot look at {log}"))?;
        Ok(call
            .stdout
            .lines()
            .map(|f| format!("{key}: {f} is gone or empty after --keep"))
            .collect())
    }

    /// Writes a hostile archive aimed at this case's names, and plants its victim inside the
    /// sandbox. The archive names the target's own test image, so that it gets past "image not
    /// known" to the extraction.
    fn hostile(&mut self, h: &HostileStep) -> Result<(), Finding> {
        let attack = hostile::attack(&h.archive).ok_or(format!("no attack `{}`", h.archive))?;
        let call = self.call_ok(&["image".into(), "inspect".into(), TEST_IMAGE.into()])?;
        let inspect: serde_json::Value = serde_json::from_str(&call.stdout)
            .map_err(|e| format!("`image inspect {TEST_IMAGE}` printed no JSON: {e}"))?;
        let image_id = inspect[0]["Id"]
            .as_str()
            .ok_or(format!("`image inspect {TEST_IMAGE}` has no Id"))?
            .to_string();
        let name = self.resolve(&h.name)?;
        // The archive's container may be named after no name of the case (`{shortid:c}`): an
        // engine that imports it must not keep it after the case.
        self.names.remove_at_cleanup(&name);
        let volume = match &h.volume {
            Some(v) => self.resolve(v)?,
            None => format!("{name}-volume"),
        };
        let aim = Aim {
            name,
            image_id,
            image_name: TEST_IMAGE.into(),
            volume,
            escape: self.resolve(&h.escape)?,
            victim: self.resolve(&h.victim)?,
            runtime: self.ctx.caps.facts.runtime_name.clone(),
        };
        let plant = [
            "sh",
            "-c",
            "printf %s \"$1\" > \"$2\"",
            "sh",
            hostile::VICTIM_CONTENT,
            &aim.victim,
        ];
        self.inside_ok(
            plant.map(String::from).to_vec(),
            &format!("cannot plant the victim {}", aim.victim),
        )?;
        let path = self.resolve(&h.file)?;
        let bytes = attack.build(&aim);
        let share = crate::share::Share::new(&self.ctx.share);
        share.write(path.as_ref(), &bytes)?;
        if let Some((helper, content)) = hostile::helper(attack.name, &aim) {
            share.write_mode(helper.as_ref(), &content, 0o755)?;
        }
        self.log.push_str(&format!(
            "# hostile archive `{}` ({}): {path}, {} bytes\n",
            attack.name,
            attack.what,
            bytes.len()
        ));
        Ok(())
    }

    /// Runs a helper command inside the sandbox (not the target), logged; a failure is an error
    /// that says what could not be done.
    fn inside_ok(&mut self, argv: Vec<String>, what: &str) -> Result<crate::target::Call, Finding> {
        let call = self.ctx.target.run_inside(argv, self.budget()?);
        self.log.push_str(&call.render());
        if !call.ok() {
            return Err(format!(
                "{what} (exit {:?}): {}",
                call.exit,
                call.stderr.trim()
            ));
        }
        Ok(call)
    }

    /// A planted victim, looked up inside the sandbox: a regular file, one link, its content.
    fn intact(&mut self, path: &str) -> Result<Vec<Finding>, Finding> {
        let script = "if [ -L \"$1\" ] || [ ! -f \"$1\" ]; then echo not-a-file; exit 0; fi; stat -c %h \"$1\"; cat \"$1\"";
        let argv = ["sh", "-c", script, "sh", path].map(String::from).to_vec();
        let call = self.inside_ok(argv, &format!("cannot look at {path}"))?;
        let (links, content) = call.stdout.split_once('\n').unwrap_or((&call.stdout, ""));
        Ok(if links == "not-a-file" {
            vec![format!(
                "{path} was planted as a file and is now gone or not a regular file"
            )]
        } else if links != "1" {
            vec![format!(
                "{path} has {links} hard links: the archive linked to it"
            )]
        } else if content != hostile::VICTIM_CONTENT {
            vec![format!("{path} was overwritten: it holds {content:?}")]
        } else {
            vec![]
        })
    }

    /// Searches the whole sandbox (every mount but /proc, /sys and /dev) for what a hostile
    /// archive named after the case would leave: a device node, a setuid or setgid file, a file of
    /// more than 64 MiB (its apparent size: a sparse file counts, as the space it may take).
    fn no_hazard(&mut self, tag: &str) -> Result<Vec<Finding>, Finding> {
        if tag.is_empty()
            || !tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(format!("no_hazard: {tag:?} is not a plain name"));
        }
        let named = format!("*{tag}*");
        let argv = [
            "find",
            "/",
            "(",
            "-path",
            "/proc",
            "-o",
            "-path",
            "/sys",
            "-o",
            "-path",
            "/dev",
            ")",
            "-prune",
            "-o",
            "-name",
            &named,
            "(",
            "(",
            "-type",
            "b",
            "-o",
            "-type",
            "c",
            ")",
            "-printf",
            "a device node: %p (%M)\n",
            "-o",
            "-type",
            "f",
            "-perm",
            "/6000",
            "-printf",
            "a setuid/setgid file: %p (%M)\n",
            "-o",
            "-type",
            "f",
            "-size",
            "+65536k",
            "-printf",
            "a file of %s bytes: %p\n",
            ")",
        ];
        let call = self
            .ctx
            .target
            .run_inside(argv.map(String::from).to_vec(), self.budget()?);
        self.log.push_str(&call.render());
        // Exit 1 with only vanished files (other cases remove theirs meanwhile) still searched all.
        let vanished = call
            .stderr
            .lines()
            .all(|l| l.ends_with("No such file or directory"));
        if !(call.ok() || call.exit == Some(1) && vanished) {
            return Err(format!(
                "cannot search the sandbox ({:?}): {}",
                call.exit,
                call.stderr.trim()
            ));
        }
        Ok(call
            .stdout
            .lines()
            .map(|l| format!("left by the import: {l}"))
            .collect())
    }

    /// A `run`, `peer` or `exec` and the checks on what it produced.
    fn command_step(
        &mut self,
        step: &Command,
        on_peer: bool,
        args: Vec<String>,
    ) -> Result<Vec<Finding>, Finding> {
        // Progress of the containers that must stay untouched, read before the command.
        let mut before = vec![];
        for key in &step.untouched {
            let (peer, name) = self.locate(key)?;
            let file = self.progress_file(key)?;
            let p = self.read_progress(peer, &name, &file)?;
            before.push((key.clone(), peer, name, file, p));
        }
        let call = self.call_on(on_peer, &args)?;
        self.last_stderr.clone_from(&call.stderr);
        let mut findings = vec![];
        let want_exit = step.exit;
        if call.exit != Some(want_exit) {
            findings.push(format!(
                "exit status {}, expected {want_exit}{}",
                call.exit.unwrap_or(-1),
                if call.stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!(" (stderr: {})", call.stderr.trim())
                }
            ));
        }
        if let Some(want) = &step.stdout {
            let want = self.resolve(want)?;
            if call.stdout != want {
                findings.push(format!("stdout was {:?}, expected {:?}", call.stdout, want));
            }
        }
        if let Some(pattern) = &step.stderr {
            let pattern = self.resolve(pattern)?;
            let re = Regex::new(&pattern).map_err(|e| format!("bad stderr regex: {e}"))?;
            if !re.is_match(&call.stderr) {
                findings.push(format!(
                    "stderr {:?} does not match /{pattern}/",
                    call.stderr.trim()
                ));
            }
        }
        if let Some(s) = &step.stats {
            let mut ids = vec![];
            for key in &s.containers {
                ids.push(self.full_id(key)?);
            }
            let (kind, schema) = match s.kind {
                StatsKindName::Checkpoint => (StatsKind::Checkpoint, &self.ctx.checkpoint_schema),
                StatsKindName::Restore => (StatsKind::Restore, &self.ctx.restore_schema),
            };
            findings.extend(stats::check_stats(&call.stdout, kind, schema, &ids));
            if let Some(file) = &s.archive {
                let path = self.resolve(file)?;
                let bytes = crate::share::Share::new(&self.ctx.share)
                    .read(path.as_ref())
                    .map_err(|e| format!("no archive at {path}: {e}"))?;
                findings.extend(stats::check_against_archive(&call.stdout, &bytes));
            }
            if let Some(name) = &s.save {
                let parsed = serde_json::from_str(call.stdout.trim()).unwrap_or_default();
                self.saved_stats.insert(name.clone(), parsed);
            }
        }
        for (key, peer, name, file, p) in before {
            let running = self
                .inspect_on(peer, &name)?
                .and_then(|i| i["State"]["Running"].as_bool())
                .unwrap_or(false);
            if !running {
                findings.push(format!("{key} is no longer running"));
                continue;
            }
            let later = self.wait_moved_on(peer, &name, &file, p.as_ref());
            findings.extend(progress::check_moves_on(&key, p.as_ref(), later.as_ref()));
        }
        Ok(findings)
    }

    /// The workload carries on from its mark, and still moves.
    fn continues(&mut self, key: &str) -> Result<Vec<Finding>, Finding> {
        // A copy restored under a new name carries on from the one container that was marked.
        let only_mark = (self.marks.len() == 1)
            .then(|| self.marks.values().next())
            .flatten();
        let mark = self.marks.get(key).or(only_mark).cloned().ok_or(format!(
            "`continues` on {key} needs a `mark` step before it"
        ))?;
        let (peer, name) = self.locate(key)?;
        let file = self.progress_file(key)?;
        let now = self.read_progress(peer, &name, &file)?;
        let later = match &now {
            Some(now) => self.wait_moved_on(peer, &name, &file, Some(now)),
            None => None,
        };
        Ok(progress::check_continues(
            key,
            &mark,
            now.as_ref(),
            later.as_ref(),
        ))
    }

    /// Runs the commands at once; exactly one may succeed, the others must be refused with 125.
    fn race(&mut self, commands: &[Vec<String>]) -> Result<Vec<Finding>, Finding> {
        let argvs = commands
            .iter()
            .map(|argv| self.resolve_all(argv))
            .collect::<Result<Vec<_>, _>>()?;
        let budget = self.budget()?;
        let target = &self.ctx.target;
        let calls: Vec<Call> = std::thread::scope(|scope| {
            let handles: Vec<_> = argvs
                .iter()
                .map(|args| scope.spawn(move || target.call(args, budget)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a race thread panicked"))
                .collect()
        });
        for call in &calls {
            self.log.push_str(&call.render());
        }
        let winners = calls.iter().filter(|c| c.ok()).count();
        let mut findings = vec![];
        if winners != 1 {
            findings.push(format!(
                "{winners} of {} concurrent commands succeeded, expected exactly one",
                calls.len()
            ));
        }
        for call in calls.iter().filter(|c| !c.ok()) {
            if call.exit != Some(125) || !call.stderr.contains("Error:") {
                findings.push(format!(
                    "a losing command must fail cleanly (exit 125, `Error: ...`), got exit {:?}: {}",
                    call.exit,
                    call.stderr.trim()
                ));
            }
        }
        Ok(findings)
    }

    /// Removes every container, volume and image the case created, and its files. A name may
    /// live in either engine (an archive restored in the peer keeps its names): both remove it.
    fn cleanup(&mut self) {
        let (containers, volumes, images) = self.names.created();
        let t = &self.ctx.target;
        for args in removals(&containers, &volumes, &images) {
            let by_target = t.call(&args, CLEANUP_TIMEOUT);
            self.log.push_str(&by_target.render());
            // The server only where the client failed: it is the last resort, not a second pass.
            let others = self
                .ctx
                .peer
                .iter()
                .chain(self.ctx.server.iter().filter(|_| !by_target.ok()));
            for engine in others {
                self.log
                    .push_str(&engine.call(&args, CLEANUP_TIMEOUT).render());
            }
        }
        for dir in std::mem::take(&mut self.mounts) {
            let argv = vec!["umount".to_string(), "-l".to_string(), dir];
            self.log
                .push_str(&t.run_inside(argv, CLEANUP_TIMEOUT).render());
        }
        let _ = std::fs::remove_dir_all(self.names.files_dir());
    }
}

/// The first absolute path ending in `.log` in an error text ("Please check CRIU logfile
/// /x/userdata/dump.log: Invalid exchange"; podman with runc quotes it in a logrus line,
/// `msg="--- Quoting \"/x/userdata/dump.log\""`, hence the backslash).
fn log_named_in(stderr: &str) -> Option<String> {
    stderr
        .split(|c: char| c.is_whitespace() || ['"', '\'', '`', '\\'].contains(&c))
        .map(|w| w.trim_end_matches([':', ',', '.', ';', ')']))
        .find(|w| w.starts_with('/') && w.ends_with(".log"))
        .map(String::from)
}

/// The commands that remove these containers, volumes and images from an engine.
pub fn removals(containers: &[String], volumes: &[String], images: &[String]) -> Vec<Vec<String>> {
    let mut out = vec![];
    if !containers.is_empty() {
        let mut args: Vec<String> = ["rm", "-f", "-t", "0", "--ignore"]
            .map(String::from)
            .to_vec();
        args.extend(containers.iter().cloned());
        out.push(args);
    }
    for v in volumes {
        out.push(
            ["volume", "rm", "-f", v.as_str()]
                .map(String::from)
                .to_vec(),
        );
    }
    for i in images {
        out.push(["rmi", "-f", i.as_str()].map(String::from).to_vec());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{is_no_such_container, log_named_in};
    use crate::target::Call;

    #[test]
    fn only_an_error_saying_so_means_no_such_container() {
        let call = |exit, stderr: &str| Call {
            argv: vec![],
            exit: Some(exit),
            stdout: String::new(),
            stderr: stderr.into(),
            duration: std::time::Duration::ZERO,
        };
        assert!(is_no_such_container(&call(
            125,
            "Error: no such container \"x\"\n"
        )));
        assert!(is_no_such_container(&call(
            125,
            "Error: no container with name or ID \"x\" found: no such container\n"
        )));
        // podman-remote 5.4.2's inspect of a container made from a spec without capabilities: the
        // service's panic, recovered, comes back with exit 125.
        assert!(!is_no_such_container(&call(
            125,
            "Error: runtime error: invalid memory address or nil pointer dereference\n"
        )));
        assert!(!is_no_such_container(&call(
            1,
            "Error: no such container \"x\"\n"
        )));
    }

    #[test]
    fn the_log_an_error_names() {
        let crun = "CRIU checkpointing failed -52.  Please check CRIU logfile /var/lib/x/userdata/dump.log: Invalid exchange\nError: `/usr/bin/crun checkpoint --work-path /var/lib/x/userdata id` failed: exit status 1\n";
        assert_eq!(
            log_named_in(crun).as_deref(),
            Some("/var/lib/x/userdata/dump.log")
        );
        // podman 5.8.6 with runc 1.3.6 (observed 2026-12-07).
        let runc = "time=\"2026-12-07T22:33:18Z\" level=warning msg=\"--- Quoting \\\"/var/lib/x/userdata/dump.log\\\"\"\n";
        assert_eq!(
            log_named_in(runc).as_deref(),
            Some("/var/lib/x/userdata/dump.log")
        );
        assert_eq!(log_named_in("Error: it failed\n"), None);
        assert_eq!(log_named_in("see dump.log"), None);
    }
}
