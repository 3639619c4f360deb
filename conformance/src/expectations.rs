//! The expectations file: the cases a target is known to fail (`xfail`) or cannot run (`skip`),
//! each with the reason, and [`reconcile`], which turns what a case did into its reported
//! [`Status`].
//!
//! ```toml
//! # podman 5.4.2 in the ns sandbox (host kernel without soft-dirty tracking)
//! [cases."checkpoint.pre-checkpoint.export"]
//! expect = "xfail"           # or "skip"
//! reason = "the host kernel has no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)"
//! ```
//!
//! Every entry needs both keys and a non-empty reason; any other key is an error. An entry whose
//! id matches no case is not an error here: [`Expectations::unknown_ids`] lists them so the caller
//! can warn.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use anyhow::{anyhow, bail, Context as _};
use serde::Deserialize;
use toml::Spanned;

use crate::report::Status;

/// What the file says about a case.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Expected {
    /// The case is known to fail: a failure is reported as `xfailed`, a pass as `xpassed`.
    Xfail,
    /// The case is not run at all and is reported as `skipped`.
    Skip,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Xfail => "xfail",
            Expected::Skip => "skip",
        })
    }
}

/// One entry of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub expect: Expected,
    /// Why; never empty.
    pub reason: String,
}

/// The parsed expectations file, keyed by case id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    origin: String,
    cases: BTreeMap<String, Expectation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    cases: BTreeMap<String, RawExpectation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectation {
    expect: Expected,
    reason: Spanned<String>,
}

impl Expectations {
    /// No expectations: every case is run and reported as it is.
    pub fn empty() -> Expectations {
        Expectations::default()
    }

    /// Reads and parses the file at `path`. Errors name the file and, for a malformed entry, the
    /// line, column and key.
    pub fn load(path: &Path) -> anyhow::Result<Expectations> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the expectations file {}", path.display()))?;
        Expectations::parse(&text, &path.display().to_string())
    }

    /// Parses the text of an expectations file; `origin` (usually the path) names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Expectations> {
        let raw: RawFile =
            toml::from_str(text).map_err(|e| anyhow!("invalid expectations file {origin}: {e}"))?;
        let mut cases = BTreeMap::new();
        for (id, entry) in raw.cases {
            let span = entry.reason.span();
            let reason = entry.reason.into_inner();
            if reason.trim().is_empty() {
                let (line, column) = line_column(text, span.start);
                bail!(
                    "invalid expectations file {origin}: line {line}, column {column}: \
                     case \"{id}\" has an empty `reason`; say why it is expected to {}",
                    entry.expect
                );
            }
            cases.insert(
                id,
                Expectation {
                    expect: entry.expect,
                    reason,
                },
            );
        }
        Ok(Expectations {
            origin: origin.to_string(),
            cases,
        })
    }

    /// Where the expectations came from (the `origin` given to [`parse`](Self::parse), the path
    /// given to [`load`](Self::load), or `""` for [`empty`](Self::empty)).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The expectation for `case_id`, if the file has one.
    pub fn get(&self, case_id: &str) -> Option<&Expectation> {
        self.cases.get(case_id)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// The entries, sorted by case id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Expectation)> {
        self.cases.iter().map(|(id, e)| (id.as_str(), e))
    }

    /// The ids in the file that match none of `known` (the ids of the cases that exist), sorted.
    /// They are usually typos or cases that were renamed: the caller warns about them.
    pub fn unknown_ids<'a>(&self, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let known: HashSet<&str> = known.into_iter().collect();
        self.cases
            .keys()
            .filter(|id| !known.contains(id.as_str()))
            .cloned()
            .collect()
    }
}

/// The 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// What a case did, before the expectations file is taken into account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// At least one check did not hold: the findings, joined by newlines.
    Failed(String),
    /// The case could not run: why.
    Skipped(String),
}

/// The status to report for a case that ended in `outcome`, given the file's `expectation` for it,
/// with the reason to show:
///
/// | outcome          | no expectation          | `xfail` (reason R)                          | `skip` (reason R) |
/// |------------------|-------------------------|---------------------------------------------|-------------------|
/// | `Passed`         | passed, no reason       | xpassed, "expected to fail (R) but passed" | skipped, R        |
/// | `Failed(F)`      | failed, F               | xfailed, "R; findings: F"                   | skipped, R        |
/// | `Skipped(S)`     | skipped, S              | skipped, S                                  | skipped, R        |
///
/// The runner does not run a case the file skips, but the function is total.
pub fn reconcile(outcome: Outcome, expectation: Option<&Expectation>) -> (Status, Option<String>) {
    match (outcome, expectation) {
        (
            _,
            Some(Expectation {
                expect: Expected::Skip,
                reason,
            }),
        ) => (Status::Skipped, Some(reason.clone())),
        (Outcome::Skipped(reason), _) => (Status::Skipped, Some(reason)),
        (Outcome::Passed, None) => (Status::Passed, None),
        (Outcome::Failed(findings), None) => (Status::Failed, Some(findings)),
        (
            Outcome::Passed,
            Some(Expectation {
                expect: Expected::Xfail,
                reason,
            }),
        ) => (
            Status::Xpassed,
            Some(format!("expected to fail ({reason}) but passed")),
        ),
        (
            Outcome::Failed(findings),
            Some(Expectation {
                expect: Expected::Xfail,
                reason,
            }),
        ) => (
            Status::Xfailed,
            Some(format!("{reason}; findings: {findings}")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
# podman 5.4.2 in the ns sandbox (host kernel without soft-dirty tracking)
[cases."checkpoint.pre-checkpoint.export"]
expect = "xfail"           # or "skip"
reason = "the host kernel has no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)"

[cases."restore.tcp.established"]
expect = "skip"
reason = "the sandbox has no network"
"#;

    fn xfail(reason: &str) -> Expectation {
        Expectation {
            expect: Expected::Xfail,
            reason: reason.into(),
        }
    }

    fn skip(reason: &str) -> Expectation {
        Expectation {
            expect: Expected::Skip,
            reason: reason.into(),
        }
    }

    fn parse_err(text: &str) -> String {
        format!(
            "{:#}",
            Expectations::parse(text, "fixtures/expectations/x.toml").unwrap_err()
        )
    }

    #[test]
    fn parses_a_valid_file() {
        let e = Expectations::parse(VALID, "x.toml").unwrap();
        assert_eq!(e.len(), 2);
        assert!(!e.is_empty());
        assert_eq!(e.origin(), "x.toml");
        assert_eq!(
            e.get("checkpoint.pre-checkpoint.export"),
            Some(&xfail(
                "the host kernel has no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)"
            ))
        );
        assert_eq!(
            e.get("restore.tcp.established"),
            Some(&skip("the sandbox has no network"))
        );
        assert_eq!(e.get("checkpoint.basic.running"), None);
        let ids: Vec<&str> = e.iter().map(|(id, _)| id).collect();
        assert_eq!(
            ids,
            [
                "checkpoint.pre-checkpoint.export",
                "restore.tcp.established"
            ]
        );
    }

    #[test]
    fn empty_and_comment_only_files_expect_nothing() {
        assert!(Expectations::empty().is_empty());
        assert_eq!(Expectations::empty().get("a.b"), None);
        let e = Expectations::parse("# nothing known to fail\n", "x.toml").unwrap();
        assert!(e.is_empty());
    }

    #[test]
    fn loads_from_disk_and_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("podman-5.4.2-ns.toml");
        std::fs::write(&path, VALID).unwrap();
        let e = Expectations::load(&path).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e.origin(), path.display().to_string());

        let missing = dir.path().join("nope.toml");
        let err = format!("{:#}", Expectations::load(&missing).unwrap_err());
        assert!(err.contains("nope.toml"), "{err}");
    }

    #[test]
    fn an_unknown_field_is_named_with_the_file() {
        let err =
            parse_err("[cases.\"a.b\"]\nexpect = \"xfail\"\nreason = \"r\"\nticket = \"#12\"\n");
        assert!(err.contains("fixtures/expectations/x.toml"), "{err}");
        assert!(err.contains("ticket"), "{err}");
        assert!(err.contains("line 4"), "{err}");

        let err = parse_err("[case.\"a.b\"]\nexpect = \"xfail\"\nreason = \"r\"\n");
        assert!(err.contains("fixtures/expectations/x.toml"), "{err}");
        assert!(err.contains("case"), "{err}");
    }

    #[test]
    fn a_missing_reason_is_an_error() {
        let err = parse_err("[cases.\"a.b\"]\nexpect = \"xfail\"\n");
        assert!(err.contains("fixtures/expectations/x.toml"), "{err}");
        assert!(err.contains("missing field `reason`"), "{err}");
    }

    #[test]
    fn an_empty_reason_is_an_error_naming_the_case() {
        let err = parse_err("[cases.\"a.b\"]\nexpect = \"skip\"\nreason = \"  \"\n");
        assert!(err.contains("fixtures/expectations/x.toml"), "{err}");
        assert!(err.contains("\"a.b\""), "{err}");
        assert!(err.contains("empty `reason`"), "{err}");
        assert!(err.contains("line 3, column 10"), "{err}");
    }

    #[test]
    fn an_unknown_expect_value_is_an_error() {
        let err = parse_err("[cases.\"a.b\"]\nexpect = \"flaky\"\nreason = \"r\"\n");
        assert!(err.contains("fixtures/expectations/x.toml"), "{err}");
        assert!(err.contains("flaky"), "{err}");
        assert!(err.contains("xfail") && err.contains("skip"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_missing_expect_and_bad_toml_are_errors() {
        let err = parse_err("[cases.\"a.b\"]\nreason = \"r\"\n");
        assert!(err.contains("missing field `expect`"), "{err}");
        let err = parse_err("[cases.\"a.b\"\nexpect = \"skip\"\n");
        assert!(err.contains("fixtures/expectations/x.toml"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn unknown_ids_are_the_entries_without_a_case() {
        let e = Expectations::parse(VALID, "x.toml").unwrap();
        let known = [
            "checkpoint.pre-checkpoint.export",
            "checkpoint.basic.running",
        ];
        assert_eq!(e.unknown_ids(known), ["restore.tcp.established"]);
        let all = [
            "checkpoint.pre-checkpoint.export".to_string(),
            "restore.tcp.established".to_string(),
        ];
        assert!(e.unknown_ids(all.iter().map(String::as_str)).is_empty());
        assert_eq!(e.unknown_ids([]).len(), 2);
        assert!(Expectations::empty().unknown_ids([]).is_empty());
    }

    #[test]
    fn reconcile_without_expectation() {
        assert_eq!(reconcile(Outcome::Passed, None), (Status::Passed, None));
        assert_eq!(
            reconcile(Outcome::Failed("a\nb".into()), None),
            (Status::Failed, Some("a\nb".into()))
        );
        assert_eq!(
            reconcile(Outcome::Skipped("no criu".into()), None),
            (Status::Skipped, Some("no criu".into()))
        );
    }

    #[test]
    fn reconcile_with_xfail() {
        let x = xfail("no soft-dirty");
        assert_eq!(
            reconcile(Outcome::Passed, Some(&x)),
            (
                Status::Xpassed,
                Some("expected to fail (no soft-dirty) but passed".into())
            )
        );
        assert_eq!(
            reconcile(Outcome::Failed("pre-dump failed".into()), Some(&x)),
            (
                Status::Xfailed,
                Some("no soft-dirty; findings: pre-dump failed".into())
            )
        );
        assert_eq!(
            reconcile(Outcome::Skipped("no criu".into()), Some(&x)),
            (Status::Skipped, Some("no criu".into()))
        );
    }

    #[test]
    fn reconcile_with_skip_always_skips_with_the_file_reason() {
        let s = skip("no network");
        for outcome in [
            Outcome::Passed,
            Outcome::Failed("f".into()),
            Outcome::Skipped("other".into()),
        ] {
            assert_eq!(
                reconcile(outcome, Some(&s)),
                (Status::Skipped, Some("no network".into()))
            );
        }
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ab\n", 3), (2, 1));
    }
}
