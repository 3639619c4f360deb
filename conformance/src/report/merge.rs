//! Joins the JSON reports of several machines or shards (`--partition k/n`) into the report one
//! run would have written (`cargo xtask report merge`).
//!
//! Reports of different environments (another target, version, runtime, suite, kernel...) are
//! refused unless mixing is asked for: a merged report claims one environment. Two reports holding
//! the same case are always refused (which verdict would be the true one?). Shards must come from
//! one `--partition k/n` series and cover 1..n exactly once, so that a missing shard cannot pass
//! for a smaller suite.

use super::{CaseReport, Environment, RunReport, Summary};
use std::collections::{BTreeMap, BTreeSet};

/// A report and where it came from (its file), for the error messages.
pub struct Input<'a> {
    pub name: &'a str,
    pub report: &'a RunReport,
}

/// The fields of an environment that say which implementation ran where, as compared by the
/// merge: paths reduced to their file names (a sandbox's cache folder differs between machines,
/// not the engine), and the service to whether there was one (its socket is new every run).
pub fn fingerprint(env: &Environment) -> Vec<(&'static str, String)> {
    env.fields()
        .into_iter()
        .map(|(name, value)| {
            let value = match name {
                "service" if value.is_empty() => String::new(),
                "service" => "podman system service".to_string(),
                _ => without_folders(value),
            };
            (name, value)
        })
        .collect()
}

/// Every word holding a `/` reduced to what follows its last `/` (`/a/b/refpod 0.1.0` is
/// `refpod 0.1.0`).
fn without_folders(value: &str) -> String {
    value
        .split(' ')
        .map(|word| match word.rsplit_once('/') {
            Some((_, last)) if !last.is_empty() => last,
            _ => word,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Merges `inputs` into one report: cases sorted by id (as a run writes them), summary
/// recomputed, no timing (the shards' times overlap on different machines) and no partition.
/// With `allow_mixed`, a field whose reports differ holds their values joined by ` | `.
pub fn merge(inputs: &[Input], allow_mixed: bool) -> Result<RunReport, String> {
    let first = inputs.first().ok_or("no report to merge")?;
    let base = fingerprint(&first.report.environment);
    let mut differences = vec![];
    for input in &inputs[1..] {
        for ((name, a), (_, b)) in base.iter().zip(fingerprint(&input.report.environment)) {
            if *a != b {
                differences.push(format!(
                    "{name}: {a:?} in {}, {b:?} in {}",
                    first.name, input.name
                ));
            }
        }
    }
    if !differences.is_empty() && !allow_mixed {
        return Err(format!(
            "the reports are of different environments (--allow-mixed merges them anyway):\n  {}",
            differences.join("\n  ")
        ));
    }
    check_partitions(inputs)?;

    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    let mut duplicates = vec![];
    let mut cases: Vec<CaseReport> = vec![];
    for input in inputs {
        for case in &input.report.cases {
            if let Some(other) = owner.insert(&case.id, input.name) {
                duplicates.push(format!("{} (in {other} and {})", case.id, input.name));
            } else {
                cases.push(case.clone());
            }
        }
    }
    if !duplicates.is_empty() {
        return Err(format!(
            "{} case(s) appear in more than one report:\n  {}",
            duplicates.len(),
            duplicates.join("\n  ")
        ));
    }
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    let environment = if differences.is_empty() {
        first.report.environment.clone()
    } else {
        mixed(inputs.iter().map(|i| &i.report.environment))
    };
    Ok(RunReport {
        environment,
        summary: Summary::of(&cases),
        cases,
        timing: None,
        partition: None,
    })
}

/// Either no report is a shard, or all are shards of one `k/n` series covering 1..n exactly once.
fn check_partitions(inputs: &[Input]) -> Result<(), String> {
    let shards: Vec<_> = inputs
        .iter()
        .filter_map(|i| i.report.partition.map(|p| (i.name, p)))
        .collect();
    if shards.is_empty() {
        return Ok(());
    }
    if shards.len() != inputs.len() {
        let whole: Vec<&str> = inputs
            .iter()
            .filter(|i| i.report.partition.is_none())
            .map(|i| i.name)
            .collect();
        return Err(format!(
            "some reports are shards (--partition) and some are not: {}",
            whole.join(", ")
        ));
    }
    let counts: BTreeSet<u32> = shards.iter().map(|(_, p)| p.count).collect();
    if counts.len() > 1 {
        return Err(format!(
            "the shards are of different partitions: {}",
            shards
                .iter()
                .map(|(name, p)| format!("{name} is {p}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let n = shards[0].1.count;
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    for (name, p) in &shards {
        if let Some(other) = seen.insert(p.index, name) {
            return Err(format!("shard {p} is given twice: {other} and {name}"));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !seen.contains_key(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "shard(s) {} missing: the merged report would not be the whole run",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// One environment holding, per field, the distinct values of `envs` joined by ` | ` (through
/// JSON, so that a field added to [`Environment`] is merged too).
fn mixed<'a>(envs: impl Iterator<Item = &'a Environment>) -> Environment {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for env in envs {
        let serde_json::Value::Object(map) = serde_json::to_value(env).expect("serializable")
        else {
            unreachable!("an Environment is a JSON object")
        };
        for (name, value) in map {
            let value = value.as_str().unwrap_or_default().to_string();
            let values = fields.entry(name).or_default();
            if !values.contains(&value) {
                values.push(value);
            }
        }
    }
    let joined: serde_json::Map<String, serde_json::Value> = fields
        .into_iter()
        .map(|(name, values)| (name, values.join(" | ").into()))
        .collect();
    serde_json::from_value(joined.into()).expect("the fields it was made of")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::{shard_of, Partition};
    use crate::report::tests::{case, sample};
    use crate::report::Status;

    fn shard(report: &RunReport, index: u32, count: u32) -> RunReport {
        let p = Partition { index, count };
        let cases = report
            .cases
            .iter()
            .filter(|c| p.contains(&c.id))
            .cloned()
            .collect();
        let mut r = RunReport::new(report.environment.clone(), cases);
        r.partition = Some(p);
        r
    }

    fn inputs(reports: &[RunReport]) -> Vec<Input<'_>> {
        const NAMES: [&str; 4] = ["a.json", "b.json", "c.json", "d.json"];
        reports
            .iter()
            .zip(NAMES)
            .map(|(report, name)| Input { name, report })
            .collect()
    }

    #[test]
    fn the_shards_of_a_run_merge_back_into_it() {
        let whole = sample();
        // The sample's five cases spread over three shards, whatever the split.
        let shards: Vec<RunReport> = [3, 1, 2].iter().map(|&k| shard(&whole, k, 3)).collect();
        let merged = merge(&inputs(&shards), false).unwrap();
        let mut expected = whole.clone();
        expected.cases.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(merged, expected);
        assert_eq!(merged.summary, whole.summary);
        assert!(whole.cases.iter().any(|c| shard_of(&c.id, 3) != 1));
    }

    #[test]
    fn a_missing_or_repeated_shard_is_refused() {
        let whole = sample();
        let (s1, s2, s3) = (
            shard(&whole, 1, 3),
            shard(&whole, 2, 3),
            shard(&whole, 3, 3),
        );
        let err = merge(&inputs(&[s1.clone(), s3.clone()]), false).unwrap_err();
        assert!(err.contains("2/3 missing"), "{err}");
        let err = merge(
            &inputs(&[s1.clone(), s2.clone(), s2.clone(), s3.clone()]),
            false,
        )
        .unwrap_err();
        assert!(
            err.contains("shard 2/3 is given twice: b.json and c.json"),
            "{err}"
        );
        let err = merge(&inputs(&[s1.clone(), shard(&whole, 2, 2)]), false).unwrap_err();
        assert!(err.contains("different partitions"), "{err}");
        let err = merge(&inputs(&[s1, whole]), false).unwrap_err();
        assert!(err.contains("some are not: b.json"), "{err}");
    }

    #[test]
    fn a_case_in_two_reports_is_refused_even_when_mixing() {
        let a = RunReport::new(
            sample().environment,
            vec![case("g.one", Status::Passed, None)],
        );
        let b = RunReport::new(
            sample().environment,
            vec![
                case("g.two", Status::Passed, None),
                case("g.one", Status::Failed, Some("x")),
            ],
        );
        for mixed in [false, true] {
            let err = merge(&inputs(&[a.clone(), b.clone()]), mixed).unwrap_err();
            assert!(err.contains("g.one (in a.json and b.json)"), "{err}");
        }
    }

    #[test]
    fn other_environments_are_refused_unless_mixing_is_asked() {
        let a = RunReport::new(
            sample().environment,
            vec![case("g.one", Status::Passed, None)],
        );
        let mut b = RunReport::new(
            sample().environment,
            vec![case("g.two", Status::Failed, Some("x"))],
        );
        b.environment.target_version = "5.8.6".into();
        b.environment.sandbox = "ns (forky)".into();
        let err = merge(&inputs(&[a.clone(), b.clone()]), false).unwrap_err();
        assert!(
            err.contains(r#"target_version: "5.4.2" in a.json, "5.8.6" in b.json"#),
            "{err}"
        );
        assert!(err.contains("sandbox"), "{err}");
        let merged = merge(&inputs(&[a, b]), true).unwrap();
        assert_eq!(merged.environment.target_version, "5.4.2 | 5.8.6");
        assert_eq!(merged.environment.runtime, "crun");
        assert_eq!(merged.summary.total(), 2);
        assert_eq!(merged.summary.failed, 1);
    }

    #[test]
    fn folders_and_service_sockets_are_not_the_environment() {
        let mut a = sample().environment;
        let mut b = a.clone();
        a.peer = "/root/.cache/x/trixie-1/share/bin/refpod 0.1.0".into();
        b.peer = "/home/ci/.cache/y/trixie-1/share/bin/refpod 0.1.0".into();
        a.service = "podman system service on unix:///run/a.sock".into();
        b.service = "podman system service on unix:///run/b.sock".into();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        b.peer = "/home/ci/share/bin/refpod 0.2.0".into();
        assert_ne!(fingerprint(&a), fingerprint(&b));
        b = a.clone();
        b.service.clear();
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }

    #[test]
    fn nothing_to_merge_is_an_error() {
        assert!(merge(&[], false).is_err());
    }
}
