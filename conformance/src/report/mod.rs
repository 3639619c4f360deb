//! The result model of one run and the writers that turn it into files: JSON (`--report-json`),
//! JUnit XML and TAP version 14.
//!
//! A [`RunReport`] is built once, after every case has run, from the [`Environment`] the run saw
//! and one [`CaseReport`] per case; each writer is a pure `render(&RunReport) -> String`, and
//! [`write`] puts a rendering on disk atomically.

use std::fmt;
use std::fs;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

pub mod format;
pub mod json;
pub mod junit;
pub mod merge;
pub mod scoreboard;
pub mod tap;

pub use crate::partition::Partition;

/// The verdict on one case, after the expectations file has been taken into account.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The case ran and every check held.
    Passed,
    /// The case ran and at least one check did not hold, and no expectation excused it.
    Failed,
    /// The case did not run (the expectations file, or the case itself, said so).
    Skipped,
    /// The case failed, as the expectations file said it would.
    Xfailed,
    /// The case passed although the expectations file said it would fail: the entry is stale and
    /// the run fails until it is removed.
    Xpassed,
}

impl Status {
    /// The lowercase name used in the JSON report (`"passed"`, `"xfailed"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Xfailed => "xfailed",
            Status::Xpassed => "xpassed",
        }
    }

    /// Whether this status makes the run fail (`failed` and `xpassed`).
    pub fn fails_run(self) -> bool {
        matches!(self, Status::Failed | Status::Xpassed)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the run was pointed at and where it ran. Every field is free text as the probes found it;
/// an empty string means "not found out".
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct Environment {
    /// The executable under test (e.g. `/usr/bin/podman`).
    pub target: String,
    /// Its version (e.g. `5.4.2`).
    pub target_version: String,
    /// The OCI runtime it drives (e.g. `crun`).
    pub runtime: String,
    pub runtime_version: String,
    pub criu_version: String,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// `1` or `2`.
    pub cgroup_version: String,
    pub distribution: String,
    /// The sandbox backend, e.g. `ns (trixie)`.
    pub sandbox: String,
    /// The second engine of the interop cases and its version (`podman 5.4.2`), empty without one.
    pub peer: String,
    /// The independent readers that judged what the target wrote, with their versions
    /// (`checkpointctl 1.3.0, crit 4.2, skopeo 1.18.0`); a reader missing from the sandbox says so.
    pub readers: String,
    /// The API service a remote client (podman-remote) was pointed at, which the run started and
    /// stopped; empty for any other target.
    pub service: String,
}

impl Environment {
    /// The fields as `(name, value)` pairs, in declaration order (used for JUnit properties).
    pub fn fields(&self) -> [(&'static str, &str); 12] {
        [
            ("target", &self.target),
            ("target_version", &self.target_version),
            ("runtime", &self.runtime),
            ("runtime_version", &self.runtime_version),
            ("criu_version", &self.criu_version),
            ("kernel", &self.kernel),
            ("cgroup_version", &self.cgroup_version),
            ("distribution", &self.distribution),
            ("sandbox", &self.sandbox),
            ("peer", &self.peer),
            ("readers", &self.readers),
            ("service", &self.service),
        ]
    }
}

/// The result of one case.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CaseReport {
    /// The case id, e.g. `checkpoint.pre-checkpoint.export`.
    pub id: String,
    pub status: Status,
    pub duration_ms: u64,
    /// The man-page options the case exercises, e.g. `--export`.
    pub covers: Vec<String>,
    /// The sentence the case checks.
    pub spec: String,
    /// Failure findings joined by newlines, the skip reason, or the xfail/xpass explanation.
    /// Omitted from the JSON when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The commands the case ran and what they printed; only the JUnit writer shows it
    /// (as `system-out`).
    #[serde(skip)]
    pub log: String,
}

impl CaseReport {
    /// The group of the case: its id up to the last `.` (`checkpoint.pre-checkpoint` for
    /// `checkpoint.pre-checkpoint.export`), or `None` for an id without a `.`.
    pub fn group(&self) -> Option<&str> {
        self.id.rsplit_once('.').map(|(group, _)| group)
    }
}

/// How many cases ended in each status.
#[derive(Serialize, Deserialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub xfailed: usize,
    pub xpassed: usize,
}

impl Summary {
    /// Counts the statuses of `cases`.
    pub fn of(cases: &[CaseReport]) -> Summary {
        let mut summary = Summary::default();
        for case in cases {
            match case.status {
                Status::Passed => summary.passed += 1,
                Status::Failed => summary.failed += 1,
                Status::Skipped => summary.skipped += 1,
                Status::Xfailed => summary.xfailed += 1,
                Status::Xpassed => summary.xpassed += 1,
            }
        }
        summary
    }

    /// The number of cases counted.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped + self.xfailed + self.xpassed
    }
}

impl fmt::Display for Summary {
    /// `3 passed, 1 failed, 2 skipped, 1 xfailed, 0 xpassed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped, {} xfailed, {} xpassed",
            self.passed, self.failed, self.skipped, self.xfailed, self.xpassed
        )
    }
}

/// Where a run's time went, for `cargo xtask bench suite`: what is not in the commands is the
/// suite's own overhead (with one job; with more, the commands overlap and their sum exceeds the wall).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// From the start of the run to its report.
    pub wall_ms: u64,
    /// The summed wall time of every command the run ran in the sandbox.
    pub command_ms: u64,
    /// How many commands it ran there.
    pub commands: u64,
    /// Time cases slept between polls of a workload's progress (part of the overhead).
    pub wait_ms: u64,
    /// Cases run at once (`--jobs`).
    pub jobs: usize,
}

/// Everything one run found: the document behind every report format.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub environment: Environment,
    pub summary: Summary,
    pub cases: Vec<CaseReport>,
    /// Set by a real run; omitted from the JSON when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// The shard this run was (`--partition k/n`); omitted for a whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
}

impl RunReport {
    /// A report of `cases` (kept in the given order) with the summary computed from them.
    pub fn new(environment: Environment, cases: Vec<CaseReport>) -> RunReport {
        let summary = Summary::of(&cases);
        RunReport {
            environment,
            summary,
            cases,
            timing: None,
            partition: None,
        }
    }

    /// Reads a JSON report (`--report-json`) back; the summary is recomputed from the cases, so a
    /// hand-edited file cannot claim other counts than its cases.
    pub fn read(path: &Path) -> anyhow::Result<RunReport> {
        let bytes =
            fs::read(path).with_context(|| format!("reading the report {}", path.display()))?;
        let mut report: RunReport = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a JSON report of the suite", path.display()))?;
        report.summary = Summary::of(&report.cases);
        Ok(report)
    }

    /// Whether the run succeeded: no case failed and none passed against an xfail expectation.
    pub fn is_success(&self) -> bool {
        self.summary.failed == 0 && self.summary.xpassed == 0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A case with the given id, status and reason, and fixed other fields.
    pub(crate) fn case(id: &str, status: Status, reason: Option<&str>) -> CaseReport {
        CaseReport {
            id: id.to_string(),
            status,
            duration_ms: 1500,
            covers: vec!["--export".to_string()],
            spec: format!("{id} does what the man page says"),
            reason: reason.map(str::to_string),
            log: format!("$ podman container checkpoint {id}\n"),
        }
    }

    /// One case of every status, in the order passed, failed, skipped, xfailed, xpassed.
    pub(crate) fn sample() -> RunReport {
        let environment = Environment {
            target: "/usr/bin/podman".into(),
            target_version: "5.4.2".into(),
            runtime: "crun".into(),
            runtime_version: "1.21".into(),
            criu_version: "4.2".into(),
            kernel: "6.12.0".into(),
            cgroup_version: "2".into(),
            distribution: "Debian GNU/Linux 13 (trixie)".into(),
            sandbox: "ns (trixie)".into(),
            peer: "refpod 0.1.0".into(),
            readers: "checkpointctl 1.3.0, crit 4.2, skopeo 1.18.0".into(),
            service: String::new(),
        };
        RunReport::new(
            environment,
            vec![
                case("checkpoint.basic.running", Status::Passed, None),
                case(
                    "checkpoint.export.archive",
                    Status::Failed,
                    Some("archive has no config.dump\nspec.dump is empty"),
                ),
                case(
                    "restore.tcp.established",
                    Status::Skipped,
                    Some("no network"),
                ),
                case(
                    "checkpoint.pre-checkpoint.export",
                    Status::Xfailed,
                    Some("no soft-dirty; findings: pre-checkpoint failed"),
                ),
                case(
                    "checkpoint.keep.logs",
                    Status::Xpassed,
                    Some("expected to fail (old bug) but passed"),
                ),
            ],
        )
    }

    #[test]
    fn summary_counts_each_status() {
        let report = sample();
        assert_eq!(
            report.summary,
            Summary {
                passed: 1,
                failed: 1,
                skipped: 1,
                xfailed: 1,
                xpassed: 1
            }
        );
        assert_eq!(report.summary.total(), 5);
        assert_eq!(
            report.summary.to_string(),
            "1 passed, 1 failed, 1 skipped, 1 xfailed, 1 xpassed"
        );
        let empty = RunReport::new(Environment::default(), vec![]);
        assert_eq!(empty.summary, Summary::default());
        assert!(empty.is_success());
    }

    #[test]
    fn success_needs_no_failure_and_no_xpass() {
        let ok = |statuses: &[Status]| {
            let cases = statuses
                .iter()
                .enumerate()
                .map(|(i, s)| case(&format!("g.c{i}"), *s, Some("r")))
                .collect();
            RunReport::new(Environment::default(), cases).is_success()
        };
        assert!(ok(&[Status::Passed, Status::Skipped, Status::Xfailed]));
        assert!(!ok(&[Status::Passed, Status::Failed]));
        assert!(!ok(&[Status::Passed, Status::Xpassed]));
        assert!(!ok(&[Status::Xpassed]));
    }

    #[test]
    fn status_names() {
        for (status, name) in [
            (Status::Passed, "passed"),
            (Status::Failed, "failed"),
            (Status::Skipped, "skipped"),
            (Status::Xfailed, "xfailed"),
            (Status::Xpassed, "xpassed"),
        ] {
            assert_eq!(status.as_str(), name);
            assert_eq!(serde_json::to_value(status).unwrap(), name);
            let back: Status = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(back, status);
        }
    }

    #[test]
    fn group_is_the_id_before_the_last_dot() {
        let c = case("checkpoint.pre-checkpoint.export", Status::Passed, None);
        assert_eq!(c.group(), Some("checkpoint.pre-checkpoint"));
        assert_eq!(case("lonely", Status::Passed, None).group(), None);
    }
}
