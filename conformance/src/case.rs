//! A case is one TOML file under `fixtures/cases/`: what it covers, what it needs, the containers it
//! sets up, and a list of steps, each one action with the checks on what that action produced.
//! The file format is documented in `fixtures/cases/README.md`.

use crate::oracle::archive::ArchiveExpect;
use crate::oracle::state::StateExpect;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// A case file as written: the steps still flat tables of optional fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    covers: Vec<String>,
    spec: String,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default, rename = "container")]
    containers: Vec<ContainerSpec>,
    #[serde(rename = "step")]
    steps: Vec<StepFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    /// Logical name, used as `{name}` in steps.
    pub name: String,
    /// A workload of `fixtures/workloads.toml`.
    pub workload: String,
    /// Extra `run` options, e.g. `["--rm"]` or `["-v", "{vol:data}:/vol"]`.
    #[serde(default)]
    pub options: Vec<String>,
    /// The state it is left in before the steps.
    #[serde(default)]
    pub state: SetupState,
    /// Progress to reach before the steps (default: the workload's first line).
    pub wait_progress: Option<u64>,
    /// Set up in the peer engine instead of the target (needs `requires = ["peer"]`).
    #[serde(default)]
    pub peer: bool,
}

#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SetupState {
    #[default]
    Running,
    /// `create`d, never started.
    Created,
    /// Started, then stopped.
    Exited,
    Paused,
}

/// One `[[step]]` as written: exactly one action field, plus command checks for `run`, `peer`
/// and `exec`. [`StepFile::into_action`] turns it into an [`Action`].
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StepFile {
    // --- actions: exactly one per step ---
    /// Run the target with these arguments.
    run: Option<Vec<String>>,
    /// Run the peer engine (`--peer`) with these arguments, like `run`.
    peer: Option<Vec<String>>,
    /// Run a command inside a container through the target's `exec`: `["{c}", "cat", "/x"]`.
    exec: Option<Vec<String>>,
    /// Record the workload progress of these containers (read later by `continues`).
    mark: Option<Vec<String>>,
    /// These containers' workloads carry on from their mark (not restarted) and still move on.
    continues: Option<Vec<String>>,
    /// Container state through `inspect`, per container.
    state: Option<BTreeMap<String, StateExpect>>,
    /// An exported archive and what it must hold.
    archive: Option<ArchiveStep>,
    /// A checkpoint image's 14 annotations, cross-checked with the machine and the container.
    annotations: Option<AnnotationStep>,
    /// Wait until a container is gone (e.g. `--rm` removal after export), at most a few seconds.
    gone: Option<Vec<String>>,
    /// Saved `--print-stats` of one dump wrote fewer pages than those of another.
    fewer_pages: Option<FewerPages>,
    /// Mount a small tmpfs on a folder inside the sandbox (a full disk), removed after the case.
    tmpfs: Option<TmpfsStep>,
    /// Run these target commands at the same time: exactly one must succeed, the others exit 125.
    race: Option<Vec<Vec<String>>>,
    /// These files must not exist (e.g. no partial archive after a failed export).
    no_file: Option<Vec<String>>,
    /// Write a hostile archive (`conformance::hostile`) to the case's folder, and plant its victim.
    hostile: Option<HostileStep>,
    /// Victims planted by a `hostile` step, inside the sandbox: still a regular file with one
    /// link and the content planted.
    intact: Option<Vec<String>>,
    /// CRIU's files are on disk (`--keep`): the log that `inspect` names as `CheckpointLog`,
    /// and (unless `stats = false`) the `stats-dump` CRIU wrote beside it, non-empty files
    /// inside the sandbox.
    kept: Option<KeptStep>,
    /// Nothing whose name contains this (`{name:h}`: the hostile archive names its device nodes,
    /// setuid files and bombs after the case) is, anywhere in the sandbox, a device node, a file
    /// with the setuid or setgid bit, or a file of more than 64 MiB.
    no_hazard: Option<String>,

    // --- checks on a `run` or `exec` ---
    /// Expected exit status (default 0).
    exit: Option<i32>,
    /// Exact expected stdout, after placeholders are replaced.
    stdout: Option<String>,
    /// A regex that stderr must match.
    stderr: Option<String>,
    /// stdout is `--print-stats` JSON of this kind (`checkpoint` or `restore`).
    stats: Option<StatsStep>,
    /// Containers the command must leave untouched: still running, workload still moving.
    #[serde(default)]
    untouched: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveStep {
    pub file: String,
    /// The container the archive holds (`c`, or `peer:c` for the peer's), for checkpointctl and
    /// crit; by default the case's one declared container.
    pub container: Option<String>,
    #[serde(default)]
    pub expect: ArchiveExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostileStep {
    /// An attack of `conformance::hostile::ATTACKS`, e.g. `symlink-write`.
    pub archive: String,
    /// Where the archive is written: `{file:h.tar}`.
    pub file: String,
    /// The container name in its config.dump: `{name:h}` (removed after the case if left behind).
    pub name: String,
    /// The absolute path the attack tries to create: `{file:escape}`.
    pub escape: String,
    /// The absolute path of a file, planted with known content, that the attack tries to
    /// overwrite, link or delete: `{file:victim}`.
    pub victim: String,
    /// The named volume in config.dump, for the `volume-*` attacks: `{vol:v}`.
    pub volume: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationStep {
    pub image: String,
    /// The container the image was made from.
    pub container: String,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct StatsStep {
    pub kind: StatsKindName,
    /// Containers whose full IDs the statistics must list.
    #[serde(default)]
    pub containers: Vec<String>,
    /// Keep the statistics under this name, for `fewer_pages`.
    pub save: Option<String>,
    /// The archive the same command exported (`{file:x}`): the statistics must agree with the
    /// `stats-dump` CRIU wrote into it and with its page images.
    pub archive: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptStep {
    /// Containers whose `CheckpointLog` (inspect) names CRIU's log.
    #[serde(default)]
    pub containers: Vec<String>,
    /// The log the previous command's error names ("Please check CRIU logfile PATH"): after a
    /// failed checkpoint, the only place that tells a user where to look.
    #[serde(default)]
    pub log_in_error: bool,
    /// Whether CRIU wrote statistics: only a dump that succeeded does.
    #[serde(default = "yes")]
    pub stats: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TmpfsStep {
    /// The folder, e.g. `{file:small}`: created, then a tmpfs of `size` mounted on it.
    pub dir: String,
    /// tmpfs size, e.g. `64k`.
    pub size: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FewerPages {
    /// Saved statistics of the dump on top of a pre-checkpoint.
    pub saved: String,
    /// Saved statistics of a full dump to compare with.
    pub than: String,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum StatsKindName {
    Checkpoint,
    Restore,
}

/// What one step does, with the checks that apply to it.
#[derive(Debug)]
pub enum Action {
    /// Run the target with these arguments.
    Run(Command),
    /// Run the peer engine (`--peer`) with these arguments, like `Run`.
    Peer(Command),
    /// Run a command inside a container through the target's `exec` (`["{c}", "cat", "/x"]`).
    Exec(Command),
    /// Record the workload progress of these containers (read later by `Continues`).
    Mark(Vec<String>),
    /// These containers' workloads carry on from their mark (not restarted) and still move on.
    Continues(Vec<String>),
    /// Container state through `inspect`, per container.
    State(BTreeMap<String, StateExpect>),
    /// An exported archive and what it must hold.
    Archive(ArchiveStep),
    /// A checkpoint image's annotations, cross-checked with the machine and the container.
    Annotations(AnnotationStep),
    /// These containers are gone within a few seconds (`--rm` removal after an export).
    Gone(Vec<String>),
    /// Saved `--print-stats` of one dump wrote fewer pages than those of another.
    FewerPages(FewerPages),
    /// Mount a small tmpfs on a folder inside the sandbox (a full disk).
    Tmpfs(TmpfsStep),
    /// Target commands at the same time: exactly one succeeds, the others exit 125.
    Race(Vec<Vec<String>>),
    /// These files do not exist.
    NoFile(Vec<String>),
    /// Write a hostile archive to the case's folder and plant its victim.
    Hostile(HostileStep),
    /// Victims planted by a `Hostile` step are intact.
    Intact(Vec<String>),
    /// CRIU's files are on disk (`--keep`).
    Kept(KeptStep),
    /// No device node, setuid/setgid file or bomb named after this tag anywhere in the sandbox.
    NoHazard(String),
}

/// A target, peer or `exec` command and the checks on what it produced.
#[derive(Debug)]
pub struct Command {
    pub args: Vec<String>,
    /// Expected exit status.
    pub exit: i32,
    /// Exact expected stdout, after placeholders are replaced.
    pub stdout: Option<String>,
    /// A regex that stderr must match.
    pub stderr: Option<String>,
    /// stdout is `--print-stats` JSON of this kind.
    pub stats: Option<StatsStep>,
    /// Containers the command must leave untouched: still running, workload still moving.
    pub untouched: Vec<String>,
}

impl Command {
    /// Whether a check looks at more than the exit status.
    fn judges_artefact(&self) -> bool {
        self.stdout.is_some()
            || self.stderr.is_some()
            || self.stats.is_some()
            || !self.untouched.is_empty()
    }
}

impl StepFile {
    /// The one action of the step; command checks only where they apply.
    fn into_action(self) -> Result<Action> {
        let s = self;
        let present: Vec<&str> = [
            ("run", s.run.is_some()),
            ("peer", s.peer.is_some()),
            ("exec", s.exec.is_some()),
            ("mark", s.mark.is_some()),
            ("continues", s.continues.is_some()),
            ("state", s.state.is_some()),
            ("archive", s.archive.is_some()),
            ("annotations", s.annotations.is_some()),
            ("gone", s.gone.is_some()),
            ("fewer_pages", s.fewer_pages.is_some()),
            ("tmpfs", s.tmpfs.is_some()),
            ("race", s.race.is_some()),
            ("no_file", s.no_file.is_some()),
            ("hostile", s.hostile.is_some()),
            ("intact", s.intact.is_some()),
            ("kept", s.kept.is_some()),
            ("no_hazard", s.no_hazard.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
        match present.as_slice() {
            [_] => {}
            [] => bail!("a step needs one action (see fixtures/cases/README.md)"),
            many => bail!("a step has one action, this one has {}", many.join(" and ")),
        }
        let has_checks = s.exit.is_some()
            || s.stdout.is_some()
            || s.stderr.is_some()
            || s.stats.is_some()
            || !s.untouched.is_empty();
        if let Some(re) = &s.stderr {
            // Placeholders are replaced by names before the regex is compiled.
            regex::Regex::new(&PLACEHOLDER.replace_all(re, "x")).context("field `stderr`")?;
        }
        let command = |args: Vec<String>| Command {
            args,
            exit: s.exit.unwrap_or(0),
            stdout: s.stdout.clone(),
            stderr: s.stderr.clone(),
            stats: s.stats.clone(),
            untouched: s.untouched.clone(),
        };
        let action = if let Some(args) = s.run.clone() {
            Action::Run(command(args))
        } else if let Some(args) = s.peer.clone() {
            Action::Peer(command(args))
        } else if let Some(args) = s.exec.clone() {
            if args.is_empty() {
                bail!("field `exec`: name the container first");
            }
            Action::Exec(command(args))
        } else if has_checks {
            bail!("exit/stdout/stderr/stats/untouched only apply to run, peer or exec");
        } else if let Some(keys) = s.mark {
            Action::Mark(keys)
        } else if let Some(keys) = s.continues {
            Action::Continues(keys)
        } else if let Some(expected) = s.state {
            Action::State(expected)
        } else if let Some(a) = s.archive {
            Action::Archive(a)
        } else if let Some(a) = s.annotations {
            Action::Annotations(a)
        } else if let Some(keys) = s.gone {
            Action::Gone(keys)
        } else if let Some(f) = s.fewer_pages {
            Action::FewerPages(f)
        } else if let Some(t) = s.tmpfs {
            Action::Tmpfs(t)
        } else if let Some(commands) = s.race {
            Action::Race(commands)
        } else if let Some(files) = s.no_file {
            Action::NoFile(files)
        } else if let Some(h) = s.hostile {
            h.validate()?;
            Action::Hostile(h)
        } else if let Some(victims) = s.intact {
            Action::Intact(victims)
        } else if let Some(k) = s.kept {
            if k.containers.is_empty() && !k.log_in_error {
                bail!("field `kept`: name `containers` or set `log_in_error`");
            }
            Action::Kept(k)
        } else if let Some(tag) = s.no_hazard {
            Action::NoHazard(tag)
        } else {
            unreachable!("exactly one action is present")
        };
        Ok(action)
    }
}

impl HostileStep {
    fn validate(&self) -> Result<()> {
        let Some(attack) = crate::hostile::attack(&self.archive) else {
            let known: Vec<&str> = crate::hostile::ATTACKS.iter().map(|a| a.name).collect();
            bail!(
                "field `hostile.archive`: no attack {:?} (known: {})",
                self.archive,
                known.join(", ")
            );
        };
        if attack.name.starts_with("volume-") && self.volume.is_none() {
            bail!(
                "field `hostile.volume`: the {} attack needs a volume (`{{vol:v}}`)",
                attack.name
            );
        }
        Ok(())
    }
}

impl Action {
    /// The action as a word, for logs and errors (the field name of the case file).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Run(_) => "run",
            Action::Peer(_) => "peer",
            Action::Exec(_) => "exec",
            Action::Mark(_) => "mark",
            Action::Continues(_) => "continues",
            Action::State(_) => "state",
            Action::Archive(_) => "archive",
            Action::Annotations(_) => "annotations",
            Action::Gone(_) => "gone",
            Action::FewerPages(_) => "fewer_pages",
            Action::Tmpfs(_) => "tmpfs",
            Action::Race(_) => "race",
            Action::NoFile(_) => "no_file",
            Action::Hostile(_) => "hostile",
            Action::Intact(_) => "intact",
            Action::Kept(_) => "kept",
            Action::NoHazard(_) => "no_hazard",
        }
    }

    /// Whether the step judges an artefact (not only an exit status).
    fn judges_artefact(&self) -> bool {
        match self {
            Action::Run(c) | Action::Peer(c) | Action::Exec(c) => c.judges_artefact(),
            Action::Mark(_) | Action::Hostile(_) => false,
            _ => true,
        }
    }

    /// The container keys the step names (`c`, `peer:c`).
    fn keys(&self) -> Vec<&String> {
        match self {
            Action::Run(c) | Action::Peer(c) | Action::Exec(c) => c.untouched.iter().collect(),
            Action::Mark(keys) | Action::Continues(keys) | Action::Gone(keys) => {
                keys.iter().collect()
            }
            Action::State(expected) => expected.keys().collect(),
            _ => vec![],
        }
    }
}

/// A parsed, validated case.
#[derive(Debug)]
pub struct Case {
    /// From the path: `fixtures/cases/export/compress-gzip.toml` is `export.compress-gzip`.
    pub id: String,
    pub path: PathBuf,
    /// Man-page options the case exercises, spelled as in the man page (`--export`); empty for
    /// the command without options.
    pub covers: Vec<String>,
    /// The man-page sentence or podman fact the case checks, with its source.
    pub spec: String,
    /// Capabilities the case needs: `criu`, `soft-dirty` (or its absence, `no-soft-dirty`),
    /// `root`, `runtime:<name>`, `peer` (a second engine, `--peer`).
    pub requires: Vec<String>,
    /// Containers created before the steps, in this order (the last is the latest).
    pub containers: Vec<ContainerSpec>,
    pub steps: Vec<Action>,
}

impl Case {
    pub fn parse(id: String, path: PathBuf, text: &str) -> Result<Case> {
        let file: CaseFile = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        let steps = file
            .steps
            .into_iter()
            .enumerate()
            .map(|(i, step)| {
                step.into_action()
                    .with_context(|| format!("step {}", i + 1))
            })
            .collect::<Result<Vec<_>>>()
            .with_context(|| format!("{}", path.display()))?;
        let case = Case {
            id,
            path,
            covers: file.covers,
            spec: file.spec,
            requires: file.requires,
            containers: file.containers,
            steps,
        };
        case.validate()
            .with_context(|| format!("{}", case.path.display()))?;
        Ok(case)
    }

    fn validate(&self) -> Result<()> {
        if let Some(bad) = self.covers.iter().find(|c| !c.starts_with("--")) {
            bail!("field `covers`: {bad:?} is not a man-page option (spelled `--name`)");
        }
        if self.spec.trim().is_empty() {
            bail!("field `spec`: cite the sentence or fact the case checks");
        }
        if self.steps.is_empty() {
            bail!("field `step`: a case needs at least one step");
        }
        if !self.steps.iter().any(Action::judges_artefact) {
            bail!("the case only checks exit statuses: judge an artefact (stdout, stderr, state, archive, ...)");
        }
        if self.uses_peer() && !self.requires.iter().any(|r| r == "peer") {
            bail!("field `requires`: the case uses the peer engine, add \"peer\"");
        }
        let mut names = std::collections::BTreeSet::new();
        for c in &self.containers {
            if !names.insert(c.name.as_str()) {
                bail!("container `{}` is declared twice", c.name);
            }
        }
        Ok(())
    }

    /// Whether a step, a container or a key (`peer:c`) involves the peer engine.
    fn uses_peer(&self) -> bool {
        self.containers.iter().any(|c| c.peer)
            || self.steps.iter().any(|s| {
                matches!(s, Action::Peer(_)) || s.keys().iter().any(|k| k.starts_with("peer:"))
            })
    }

    /// Cases that use `--all` or `--latest` see every container: they run alone.
    pub fn exclusive(&self) -> bool {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Action::Run(c) | Action::Peer(c) => Some(&c.args),
                _ => None,
            })
            .any(|argv| {
                argv.iter()
                    .any(|a| matches!(a.as_str(), "--all" | "-a" | "--latest" | "-l"))
            })
    }

    /// The group of the case (`export` for `export.compress-gzip`).
    pub fn group(&self) -> &str {
        self.id.split('.').next().unwrap_or(&self.id)
    }
}

/// `{c}`, `{id:c}`, `{file:ckpt.tar}`, ...: the placeholders of case files, replaced by the run's
/// names (`names.rs`) before a step runs.
pub static PLACEHOLDER: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"\{([a-z_]+:)?[A-Za-z0-9_./-]+\}").unwrap());

/// Loads every `*.toml` under `dir`. A file that does not parse gives an `Err` entry naming the file
/// and the field; the others still load.
pub fn load_dir(dir: &Path) -> Result<Vec<Result<Case, (String, anyhow::Error)>>> {
    let mut paths = Vec::new();
    collect(dir, &mut paths).with_context(|| format!("reading the cases in {}", dir.display()))?;
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|path| {
            let id = case_id(dir, &path);
            std::fs::read_to_string(&path)
                .map_err(anyhow::Error::from)
                .and_then(|text| Case::parse(id.clone(), path.clone(), &text))
                .map_err(|e| (id, e))
        })
        .collect())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

fn case_id(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path).with_extension("");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Case> {
        Case::parse("t.case".into(), "fixtures/cases/t/case.toml".into(), text)
    }

    const GOOD: &str = r#"
covers = ["--export", "--compress"]
spec = "man: Possible algorithms are zstd, none and gzip."
requires = ["criu"]
[[container]]
name = "c"
workload = "counter"
[[step]]
run = ["container", "checkpoint", "-e", "{file:a.tar.gz}", "--compress", "gzip", "{c}"]
stdout = "{c}\n"
[[step]]
[step.archive]
file = "{file:a.tar.gz}"
expect = { compression = "gzip", members = ["@export"] }
"#;

    #[test]
    fn a_good_case_parses() {
        let case = parse(GOOD).unwrap();
        assert_eq!(case.steps.len(), 2);
        assert_eq!(case.steps[1].name(), "archive");
        assert!(!case.exclusive());
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let err = parse(&GOOD.replace("stdout =", "stdou ="))
            .unwrap_err()
            .to_string();
        assert!(err.contains("fixtures/cases/t/case.toml"), "{err}");
        assert!(err.contains("stdou"), "{err}");
        let err = parse(&GOOD.replace(
            "covers = [\"--export\", \"--compress\"]",
            "covers = [\"-e\"]",
        ))
        .unwrap_err();
        assert!(format!("{err:#}").contains("covers"), "{err:#}");
    }

    #[test]
    fn a_step_has_exactly_one_action() {
        let two = GOOD.replace("stdout = \"{c}\\n\"", "stdout = \"{c}\\n\"\nmark = [\"c\"]");
        let err = format!("{:#}", parse(&two).unwrap_err());
        assert!(err.contains("run and mark"), "{err}");
    }

    #[test]
    fn exit_status_alone_is_not_a_case() {
        let text = r#"
covers = ["--all"]
spec = "x"
[[step]]
run = ["container", "checkpoint", "--all"]
exit = 0
"#;
        let err = format!("{:#}", parse(text).unwrap_err());
        assert!(err.contains("only checks exit statuses"), "{err}");
    }

    #[test]
    fn a_case_using_the_peer_requires_it() {
        let text = r#"
spec = "x"
requires = ["criu"]
[[container]]
name = "c"
workload = "counter"
[[step]]
peer = ["container", "restore", "-i", "{file:a.tar}"]
[[step]]
continues = ["peer:c"]
"#;
        let err = format!("{:#}", parse(text).unwrap_err());
        assert!(err.contains("add \"peer\""), "{err}");
        let case = parse(&text.replace("[\"criu\"]", "[\"criu\", \"peer\"]")).unwrap();
        assert_eq!(case.steps[0].name(), "peer");
        let keys_only = text.replace("peer = [", "run = [");
        assert!(
            parse(&keys_only).is_err(),
            "a `peer:` key needs the peer too"
        );
    }

    #[test]
    fn all_and_latest_make_a_case_exclusive() {
        let text = GOOD.replace(
            "\"-e\", \"{file:a.tar.gz}\"",
            "\"-l\", \"-e\", \"{file:a.tar.gz}\"",
        );
        assert!(parse(&text).unwrap().exclusive());
    }

    #[test]
    fn hostile_steps_name_a_known_attack() {
        let case = |step: &str| {
            format!("spec = \"x\"\n[[step]]\n{step}\n[[step]]\nintact = [\"{{file:victim}}\"]\n")
        };
        let good = "hostile = { archive = \"traversal\", file = \"{file:h.tar}\", name = \"{name:h}\", escape = \"{file:escape}\", victim = \"{file:victim}\" }";
        let parsed = parse(&case(good)).unwrap();
        assert_eq!(parsed.steps[0].name(), "hostile");
        let err = format!(
            "{:#}",
            parse(&case(&good.replace("traversal", "travesal"))).unwrap_err()
        );
        assert!(
            err.contains("no attack \"travesal\"") && err.contains("symlink-write"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            parse(&case(&good.replace("traversal", "volume-traversal"))).unwrap_err()
        );
        assert!(err.contains("needs a volume"), "{err}");
        // Writing a hostile archive judges nothing by itself.
        let alone = "spec = \"x\"\n[[step]]\n".to_string() + good;
        let err = format!("{:#}", parse(&alone).unwrap_err());
        assert!(err.contains("only checks exit statuses"), "{err}");
    }

    #[test]
    fn ids_come_from_paths() {
        assert_eq!(
            case_id(
                Path::new("/f/cases"),
                Path::new("/f/cases/export/compress-gzip.toml")
            ),
            "export.compress-gzip"
        );
    }
}

#[cfg(test)]
mod fixtures {
    /// Every case shipped in fixtures/ parses and validates.
    #[test]
    fn every_shipped_case_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cases");
        let errors: Vec<String> = super::load_dir(&dir)
            .unwrap()
            .into_iter()
            .filter_map(|c| c.err().map(|(id, e)| format!("{id}: {e:#}")))
            .collect();
        assert!(errors.is_empty(), "{}", errors.join("\n"));
    }

    /// The cases cover every option of the man page and each of its examples.
    #[test]
    fn the_cases_cover_every_option_and_example_of_the_man_page() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cases");
        let cases: Vec<_> = super::load_dir(&dir)
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        let covered: std::collections::BTreeSet<&str> = cases
            .iter()
            .flat_map(|c| c.covers.iter().map(String::as_str))
            .collect();
        let options = [
            "--all",
            "--compress",
            "--create-image",
            "--export",
            "--file-locks",
            "--ignore-rootfs",
            "--ignore-volumes",
            "--keep",
            "--latest",
            "--leave-running",
            "--pre-checkpoint",
            "--print-stats",
            "--tcp-established",
            "--with-previous",
        ];
        let missing: Vec<_> = options.iter().filter(|o| !covered.contains(*o)).collect();
        assert!(missing.is_empty(), "options no case covers: {missing:?}");
        for example in ["Example 1", "Example 2", "Examples 3 and 4", "Example 5"] {
            assert!(
                cases.iter().any(|c| c.spec.contains(example)),
                "no case cites the man page's {example}"
            );
        }
        assert!(cases.len() >= 60, "only {} cases", cases.len());
        let validation = cases.iter().filter(|c| c.group() == "validation").count();
        assert!(validation >= 13, "only {validation} validation cases");
    }
}
