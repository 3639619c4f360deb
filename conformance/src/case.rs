//! A case is one TOML file under `fixtures/cases/`: what it covers, what it needs, the containers it
//! sets up, and a list of steps, each one action with the checks on what that action produced.
//! The file format is documented in `fixtures/cases/README.md`.

use crate::oracle::archive::ArchiveExpect;
use crate::oracle::state::StateExpect;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// Man-page options the case exercises, spelled as in the man page (`--export`); empty for the
    /// command without options.
    #[serde(default)]
    pub covers: Vec<String>,
    /// The man-page sentence or podman fact the case checks, with its source.
    pub spec: String,
    /// Capabilities the case needs: `criu`, `soft-dirty` (or its absence, `no-soft-dirty`), `root`, `runtime:<name>`, `peer` (a
    /// second engine, `--peer`: needed by `peer` steps and peer containers).
    #[serde(default)]
    pub requires: Vec<String>,
    /// Containers created before the steps, in this order (the last is the latest).
    #[serde(default, rename = "container")]
    pub containers: Vec<ContainerSpec>,
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
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

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Step {
    // --- actions: exactly one per step ---
    /// Run the target with these arguments.
    pub run: Option<Vec<String>>,
    /// Run the peer engine (`--peer`) with these arguments, like `run`.
    pub peer: Option<Vec<String>>,
    /// Run a command inside a container through the target's `exec`: `["{c}", "cat", "/x"]`.
    pub exec: Option<Vec<String>>,
    /// Record the workload progress of these containers (read later by `continues`).
    pub mark: Option<Vec<String>>,
    /// These containers' workloads carry on from their mark (not restarted) and still move on.
    pub continues: Option<Vec<String>>,
    /// Container state through `inspect`, per container.
    pub state: Option<BTreeMap<String, StateExpect>>,
    /// An exported archive and what it must hold.
    pub archive: Option<ArchiveStep>,
    /// A checkpoint image's 14 annotations, cross-checked with the machine and the container.
    pub annotations: Option<AnnotationStep>,
    /// Wait until a container is gone (e.g. `--rm` removal after export), at most a few seconds.
    pub gone: Option<Vec<String>>,
    /// Saved `--print-stats` of one dump wrote fewer pages than those of another.
    pub fewer_pages: Option<FewerPages>,
    /// Mount a small tmpfs on a folder inside the sandbox (a full disk), removed after the case.
    pub tmpfs: Option<TmpfsStep>,
    /// Run these target commands at the same time: exactly one must succeed, the others exit 125.
    pub race: Option<Vec<Vec<String>>>,
    /// These files must not exist (e.g. no partial archive after a failed export).
    pub no_file: Option<Vec<String>>,
    /// Write a hostile archive (`conformance::hostile`) to the case's folder, and plant its victim.
    pub hostile: Option<HostileStep>,
    /// Victims planted by a `hostile` step, inside the sandbox: still a regular file with one
    /// link and the content planted.
    pub intact: Option<Vec<String>>,
    /// CRIU's files are on disk (`--keep`): the log that `inspect` names as `CheckpointLog`,
    /// and (unless `stats = false`) the `stats-dump` CRIU wrote beside it, non-empty files
    /// inside the sandbox.
    pub kept: Option<KeptStep>,
    /// Nothing whose name contains this (`{name:h}`: the hostile archive names its device nodes,
    /// setuid files and bombs after the case) is, anywhere in the sandbox, a device node, a file
    /// with the setuid or setgid bit, or a file of more than 64 MiB.
    pub no_hazard: Option<String>,

    // --- checks on a `run` or `exec` ---
    /// Expected exit status (default 0).
    pub exit: Option<i32>,
    /// Exact expected stdout, after placeholders are replaced.
    pub stdout: Option<String>,
    /// A regex that stderr must match.
    pub stderr: Option<String>,
    /// stdout is `--print-stats` JSON of this kind (`checkpoint` or `restore`).
    pub stats: Option<StatsStep>,
    /// Containers the command must leave untouched: still running, workload still moving.
    #[serde(default)]
    pub untouched: Vec<String>,
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

#[derive(Debug, Deserialize)]
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

impl Step {
    /// The step's one action, as a word for logs and errors.
    pub fn action(&self) -> Result<&'static str> {
        let actions = [
            ("run", self.run.is_some()),
            ("peer", self.peer.is_some()),
            ("exec", self.exec.is_some()),
            ("mark", self.mark.is_some()),
            ("continues", self.continues.is_some()),
            ("state", self.state.is_some()),
            ("archive", self.archive.is_some()),
            ("annotations", self.annotations.is_some()),
            ("gone", self.gone.is_some()),
            ("fewer_pages", self.fewer_pages.is_some()),
            ("tmpfs", self.tmpfs.is_some()),
            ("race", self.race.is_some()),
            ("no_file", self.no_file.is_some()),
            ("hostile", self.hostile.is_some()),
            ("intact", self.intact.is_some()),
            ("kept", self.kept.is_some()),
            ("no_hazard", self.no_hazard.is_some()),
        ];
        let present: Vec<_> = actions
            .iter()
            .filter(|(_, p)| *p)
            .map(|(a, _)| *a)
            .collect();
        match present.as_slice() {
            [one] => Ok(one),
            [] => bail!("a step needs one action (see fixtures/cases/README.md)"),
            many => bail!("a step has one action, this one has {}", many.join(" and ")),
        }
    }

    /// Whether the step judges an artefact (not only an exit status).
    fn judges_artefact(&self) -> bool {
        self.stdout.is_some()
            || self.stderr.is_some()
            || self.stats.is_some()
            || !self.untouched.is_empty()
            || !matches!(
                self.action(),
                Ok("run") | Ok("peer") | Ok("exec") | Ok("mark") | Ok("hostile")
            )
    }
}

/// A parsed, validated case.
#[derive(Debug)]
pub struct Case {
    /// From the path: `fixtures/cases/export/compress-gzip.toml` is `export.compress-gzip`.
    pub id: String,
    pub path: PathBuf,
    pub file: CaseFile,
}

impl Case {
    pub fn parse(id: String, path: PathBuf, text: &str) -> Result<Case> {
        let file: CaseFile = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        let case = Case { id, path, file };
        case.validate()
            .with_context(|| format!("{}", case.path.display()))?;
        Ok(case)
    }

    fn validate(&self) -> Result<()> {
        let f = &self.file;
        if let Some(bad) = f.covers.iter().find(|c| !c.starts_with("--")) {
            bail!("field `covers`: {bad:?} is not a man-page option (spelled `--name`)");
        }
        if f.spec.trim().is_empty() {
            bail!("field `spec`: cite the sentence or fact the case checks");
        }
        if f.steps.is_empty() {
            bail!("field `step`: a case needs at least one step");
        }
        for (i, step) in f.steps.iter().enumerate() {
            let action = step.action().with_context(|| format!("step {}", i + 1))?;
            let run_like = matches!(action, "run" | "peer" | "exec");
            let run_checks = step.exit.is_some()
                || step.stdout.is_some()
                || step.stderr.is_some()
                || step.stats.is_some()
                || !step.untouched.is_empty();
            if !run_like && run_checks {
                bail!(
                    "step {}: exit/stdout/stderr/stats/untouched only apply to run, peer or exec",
                    i + 1
                );
            }
            if let Some(h) = &step.hostile {
                let Some(attack) = crate::hostile::attack(&h.archive) else {
                    let known: Vec<&str> = crate::hostile::ATTACKS.iter().map(|a| a.name).collect();
                    bail!(
                        "step {}: field `hostile.archive`: no attack {:?} (known: {})",
                        i + 1,
                        h.archive,
                        known.join(", ")
                    );
                };
                if attack.name.starts_with("volume-") && h.volume.is_none() {
                    bail!(
                        "step {}: field `hostile.volume`: the {} attack needs a volume (`{{vol:v}}`)",
                        i + 1,
                        attack.name
                    );
                }
            }
            if let Some(k) = &step.kept {
                if k.containers.is_empty() && !k.log_in_error {
                    bail!(
                        "step {}: field `kept`: name `containers` or set `log_in_error`",
                        i + 1
                    );
                }
            }
            if let Some(re) = &step.stderr {
                // Placeholders are replaced by names before the regex is compiled.
                regex::Regex::new(&crate::names::PLACEHOLDER.replace_all(re, "x"))
                    .with_context(|| format!("step {}: field `stderr`", i + 1))?;
            }
        }
        if !f.steps.iter().any(Step::judges_artefact) {
            bail!("the case only checks exit statuses: judge an artefact (stdout, stderr, state, archive, ...)");
        }
        if self.uses_peer() && !f.requires.iter().any(|r| r == "peer") {
            bail!("field `requires`: the case uses the peer engine, add \"peer\"");
        }
        let mut names = std::collections::BTreeSet::new();
        for c in &f.containers {
            if !names.insert(c.name.as_str()) {
                bail!("container `{}` is declared twice", c.name);
            }
        }
        Ok(())
    }

    /// Whether a step, a container or a key (`peer:c`) involves the peer engine.
    fn uses_peer(&self) -> bool {
        let f = &self.file;
        let peer_key = |k: &String| k.starts_with("peer:");
        f.containers.iter().any(|c| c.peer)
            || f.steps.iter().any(|s| {
                s.peer.is_some()
                    || s.mark.iter().flatten().any(peer_key)
                    || s.continues.iter().flatten().any(peer_key)
                    || s.gone.iter().flatten().any(peer_key)
                    || s.untouched.iter().any(peer_key)
                    || s.state.iter().flat_map(|m| m.keys()).any(peer_key)
            })
    }

    /// Cases that use `--all` or `--latest` see every container: they run alone.
    pub fn exclusive(&self) -> bool {
        self.file
            .steps
            .iter()
            .filter_map(|s| s.run.as_ref().or(s.peer.as_ref()))
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
        assert_eq!(case.file.steps.len(), 2);
        assert_eq!(case.file.steps[1].action().unwrap(), "archive");
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
        assert_eq!(case.file.steps[0].action().unwrap(), "peer");
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
        assert_eq!(parsed.file.steps[0].action().unwrap(), "hostile");
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
            .flat_map(|c| c.file.covers.iter().map(String::as_str))
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
                cases.iter().any(|c| c.file.spec.contains(example)),
                "no case cites the man page's {example}"
            );
        }
        assert!(cases.len() >= 60, "only {} cases", cases.len());
        let validation = cases.iter().filter(|c| c.group() == "validation").count();
        assert!(validation >= 13, "only {validation} validation cases");
    }
}
