//! `--print-stats` output of checkpoint and restore (spec §9): exactly one JSON document that
//! matches the schema in fixtures/schema, with durations that nest.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::Finding;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatsKind {
    Checkpoint,
    Restore,
}

impl StatsKind {
    fn name(self) -> &'static str {
        match self {
            StatsKind::Checkpoint => "checkpoint",
            StatsKind::Restore => "restore",
        }
    }
}

/// Reads `<fixtures_dir>/schema/<kind>-stats.schema.json`.
pub fn load_schema(kind: StatsKind, fixtures_dir: &Path) -> Result<Value, String> {
    let path = fixtures_dir
        .join("schema")
        .join(format!("{}-stats.schema.json", kind.name()));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

pub fn check_stats(
    stdout: &str,
    kind: StatsKind,
    schema: &Value,
    expected_ids: &[String],
) -> Vec<Finding> {
    let mut f = Vec::new();
    let Some(doc) = single_document(stdout, &mut f) else {
        return f;
    };
    match jsonschema::validator_for(schema) {
        Ok(v) => {
            for e in v.iter_errors(&doc) {
                let at = match e.instance_path.as_str() {
                    "" => "/",
                    p => p,
                };
                f.push(format!(
                    "expected {} stats to match the schema, found at {at}: {e}",
                    kind.name()
                ));
            }
        }
        Err(e) => f.push(format!("the {} stats schema is invalid: {e}", kind.name())),
    }
    check_relations(&doc, kind, &mut f);
    if !expected_ids.is_empty() {
        check_ids(&doc, expected_ids, &mut f);
    }
    f
}

/// The one JSON document on stdout. Text around it (a warning line, say) is a finding, but the
/// document is still checked when it can be found: podman starts it on a line of its own.
fn single_document(stdout: &str, f: &mut Vec<Finding>) -> Option<Value> {
    let text = stdout.trim();
    if text.is_empty() {
        f.push("expected one JSON document on stdout, found nothing".to_string());
        return None;
    }
    let start = if text.starts_with(['{', '[']) {
        0
    } else {
        let Some(at) = line_starts(text).find(|&i| text[i..].trim_start().starts_with('{')) else {
            f.push(format!(
                "expected one JSON document on stdout, found text: {:?}",
                first_line(text)
            ));
            return None;
        };
        f.push(format!(
            "expected only a JSON document on stdout, found text before it: {:?}",
            first_line(text)
        ));
        at
    };
    let mut docs = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    let doc = match docs.next() {
        Some(Ok(doc)) => doc,
        Some(Err(e)) => {
            f.push(format!(
                "expected a JSON document on stdout, found invalid JSON: {e}"
            ));
            return None;
        }
        None => {
            f.push("expected one JSON document on stdout, found none".to_string());
            return None;
        }
    };
    let rest = text[start + docs.byte_offset()..].trim();
    if !rest.is_empty() {
        f.push(format!(
            "expected only a JSON document on stdout, found text after it: {:?}",
            first_line(rest)
        ));
    }
    Some(doc)
}

fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1))
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(200) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

fn int(v: &Value, key: &str) -> Option<i128> {
    let n = v.get(key)?;
    n.as_u64()
        .map(i128::from)
        .or_else(|| n.as_i64().map(i128::from))
}

fn containers(doc: &Value) -> &[Value] {
    doc.get("container_statistics")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Podman's duration wraps the runtime's, which wraps CRIU's frozen (dump) or restore time.
/// Absent or mistyped numbers are left to the schema.
fn check_relations(doc: &Value, kind: StatsKind, f: &mut Vec<Finding>) {
    let k = kind.name();
    let (podman_key, runtime_key) = (
        format!("podman_{k}_duration"),
        format!("runtime_{k}_duration"),
    );
    let criu_key = match kind {
        StatsKind::Checkpoint => "frozen_time",
        StatsKind::Restore => "restore_time",
    };
    let podman = int(doc, &podman_key);
    for (i, c) in containers(doc).iter().enumerate() {
        let runtime = int(c, &runtime_key);
        if let (Some(p), Some(r)) = (podman, runtime) {
            if r > p {
                f.push(format!(
                    "expected {podman_key} ({p}) >= {runtime_key} ({r}) of container_statistics[{i}]"
                ));
            }
        }
        let Some(criu) = c.get("criu_statistics") else {
            continue;
        };
        if let (Some(r), Some(t)) = (runtime, int(criu, criu_key)) {
            if t > r {
                f.push(format!(
                    "expected {runtime_key} ({r}) >= {criu_key} ({t}) in container_statistics[{i}]"
                ));
            }
        }
        if kind == StatsKind::Checkpoint {
            if let (Some(w), Some(s)) = (int(criu, "pages_written"), int(criu, "pages_scanned")) {
                if w > s {
                    f.push(format!(
                        "expected pages_written ({w}) <= pages_scanned ({s}) in container_statistics[{i}]"
                    ));
                }
            }
        }
    }
}

fn check_ids(doc: &Value, expected: &[String], f: &mut Vec<Finding>) {
    let want: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    let found: BTreeSet<&str> = containers(doc)
        .iter()
        .filter_map(|c| c.get("Id").and_then(Value::as_str))
        .collect();
    if found != want {
        f.push(format!(
            "expected container_statistics for the IDs {want:?}, found {found:?}"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "bf38382b8b700a0b8b9514403d1b68be97d426141f28f71ad26cf25866951349";

    /// Approach A's real output (real-podman-here.md), indented as podman does.
    const CHECKPOINT: &str = r#"{
    "podman_checkpoint_duration": 264442,
    "container_statistics": [
        {
            "Id": "bf38382b8b700a0b8b9514403d1b68be97d426141f28f71ad26cf25866951349",
            "runtime_checkpoint_duration": 182184,
            "criu_statistics": {
                "freezing_time": 100799,
                "frozen_time": 70370,
                "memdump_time": 934,
                "memwrite_time": 142,
                "pages_scanned": 50,
                "pages_written": 34
            }
        }
    ]
}
"#;

    const RESTORE: &str = r#"{
    "podman_restore_duration": 139704,
    "container_statistics": [
        {
            "Id": "bf38382b8b700a0b8b9514403d1b68be97d426141f28f71ad26cf25866951349",
            "runtime_restore_duration": 97602,
            "criu_statistics": {
                "pages_compared": 9,
                "pages_skipped_cow": 2,
                "forking_time": 236,
                "restore_time": 60232,
                "pages_restored": 32
            }
        }
    ]
}
"#;

    fn schema(kind: StatsKind) -> Value {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        load_schema(kind, &fixtures).unwrap()
    }

    fn check(stdout: &str, kind: StatsKind) -> Vec<Finding> {
        check_stats(stdout, kind, &schema(kind), &[ID.to_string()])
    }

    /// The real checkpoint output with one change.
    fn edited(kind: StatsKind, edit: impl FnOnce(&mut Value)) -> String {
        let text = match kind {
            StatsKind::Checkpoint => CHECKPOINT,
            StatsKind::Restore => RESTORE,
        };
        let mut v: Value = serde_json::from_str(text).unwrap();
        edit(&mut v);
        serde_json::to_string_pretty(&v).unwrap()
    }

    fn one_finding_containing(findings: &[Finding], needle: &str) {
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(findings[0].contains(needle), "{findings:#?}");
    }

    #[test]
    fn real_outputs_have_no_findings() {
        assert_eq!(
            check(CHECKPOINT, StatsKind::Checkpoint),
            Vec::<Finding>::new()
        );
        assert_eq!(check(RESTORE, StatsKind::Restore), Vec::<Finding>::new());
        // Every criu field is omitempty, and all containers may have failed.
        let minimal = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"] = json!({});
        });
        assert!(check(&minimal, StatsKind::Checkpoint).is_empty());
        let none = r#"{"podman_checkpoint_duration": 5, "container_statistics": null}"#;
        assert!(check_stats(
            none,
            StatsKind::Checkpoint,
            &schema(StatsKind::Checkpoint),
            &[]
        )
        .is_empty());
    }

    #[test]
    fn renamed_field() {
        let out = edited(StatsKind::Checkpoint, |v| {
            let c = v["container_statistics"][0].as_object_mut().unwrap();
            let s = c.remove("criu_statistics").unwrap();
            c.insert("criu".into(), s);
        });
        let f = check(&out, StatsKind::Checkpoint);
        assert!(!f.is_empty(), "{f:#?}");
        assert!(
            f.iter().all(|x| x.contains("/container_statistics/0")),
            "{f:#?}"
        );
        assert!(f.iter().any(|x| x.contains("criu")), "{f:#?}");
    }

    #[test]
    fn field_of_wrong_type() {
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"]["frozen_time"] = json!("70370");
        });
        one_finding_containing(
            &check(&out, StatsKind::Checkpoint),
            "/container_statistics/0/criu_statistics/frozen_time",
        );
    }

    #[test]
    fn bad_id_and_negative_duration() {
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["Id"] = json!("bf38382b8b70");
        });
        let f = check(&out, StatsKind::Checkpoint);
        assert_eq!(f.len(), 2, "{f:#?}"); // the schema's pattern and the ID set
        assert!(f[0].contains("/container_statistics/0/Id") && f[1].contains("IDs"));
        let out = edited(StatsKind::Restore, |v| {
            v["podman_restore_duration"] = json!(-1)
        });
        // The schema's minimum, and -1 < runtime_restore_duration.
        assert_eq!(check(&out, StatsKind::Restore).len(), 2);
    }

    #[test]
    fn warning_line_before_the_json() {
        let out =
            format!("time=\"2026-11-27T01:48:00Z\" level=warning msg=\"{{oops}}\"\n{CHECKPOINT}");
        one_finding_containing(&check(&out, StatsKind::Checkpoint), "text before it");
        let out = format!("{CHECKPOINT}\n{ID}\n");
        one_finding_containing(&check(&out, StatsKind::Checkpoint), "text after it");
        one_finding_containing(&check(ID, StatsKind::Checkpoint), "found text");
        one_finding_containing(&check("  \n", StatsKind::Checkpoint), "found nothing");
        one_finding_containing(&check("{\"podman", StatsKind::Checkpoint), "invalid JSON");
        let two = format!("{CHECKPOINT}{CHECKPOINT}");
        one_finding_containing(&check(&two, StatsKind::Checkpoint), "text after it");
    }

    #[test]
    fn runtime_longer_than_podman() {
        let out = edited(StatsKind::Checkpoint, |v| {
            v["podman_checkpoint_duration"] = json!(182183)
        });
        one_finding_containing(
            &check(&out, StatsKind::Checkpoint),
            "podman_checkpoint_duration (182183) >= runtime_checkpoint_duration (182184)",
        );
        let out = edited(StatsKind::Restore, |v| {
            v["container_statistics"][0]["criu_statistics"]["restore_time"] = json!(97603);
        });
        one_finding_containing(
            &check(&out, StatsKind::Restore),
            "runtime_restore_duration (97602) >= restore_time (97603)",
        );
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"]["frozen_time"] = json!(200000);
        });
        one_finding_containing(
            &check(&out, StatsKind::Checkpoint),
            ">= frozen_time (200000)",
        );
    }

    #[test]
    fn more_pages_written_than_scanned() {
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"]["pages_written"] = json!(51);
        });
        one_finding_containing(
            &check(&out, StatsKind::Checkpoint),
            "pages_written (51) <= pages_scanned (50)",
        );
    }

    #[test]
    fn restore_fields_in_checkpoint_stats_and_vice_versa() {
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"]["pages_restored"] = json!(32);
        });
        one_finding_containing(&check(&out, StatsKind::Checkpoint), "pages_restored");
        let f = check(RESTORE, StatsKind::Checkpoint);
        assert!(
            f.iter().any(|x| x.contains("podman_restore_duration")),
            "{f:#?}"
        );
        let f = check(CHECKPOINT, StatsKind::Restore);
        assert!(f.iter().any(|x| x.contains("frozen_time")), "{f:#?}");
    }

    #[test]
    fn unexpected_ids() {
        let other = "0".repeat(64);
        let f = check_stats(
            CHECKPOINT,
            StatsKind::Checkpoint,
            &schema(StatsKind::Checkpoint),
            &[ID.into(), other],
        );
        one_finding_containing(&f, "IDs");
        let none = r#"{"podman_checkpoint_duration": 5, "container_statistics": null}"#;
        one_finding_containing(&check(none, StatsKind::Checkpoint), "found {}");
    }

    #[test]
    fn missing_schema_file_is_an_error() {
        assert!(load_schema(StatsKind::Restore, Path::new("/nonexistent")).is_err());
    }
}

/// Pages CRIU wrote, summed over the containers of a `--print-stats` document.
pub fn pages_written(stats: &Value) -> Option<u64> {
    stats["container_statistics"]
        .as_array()?
        .iter()
        .map(|c| c["criu_statistics"]["pages_written"].as_u64())
        .sum()
}

/// `--with-previous` must write fewer pages than a full dump: only those dirtied since the
/// pre-checkpoint (the effect of soft-dirty tracking, not the exit code).
pub fn check_fewer_pages(incremental: &Value, full: &Value) -> Vec<Finding> {
    match (pages_written(incremental), pages_written(full)) {
        (Some(inc), Some(full)) if inc < full => vec![],
        (Some(inc), Some(full)) => vec![format!(
            "the dump on top of a pre-checkpoint wrote {inc} pages, a full dump {full}: no fewer"
        )],
        _ => vec!["pages_written is missing from the statistics to compare".to_string()],
    }
}

#[cfg(test)]
mod fewer_pages_tests {
    use super::*;
    use serde_json::json;

    fn stats(pages: u64) -> Value {
        json!({"container_statistics": [{"criu_statistics": {"pages_written": pages}}]})
    }

    #[test]
    fn an_incremental_dump_writes_fewer_pages() {
        assert!(check_fewer_pages(&stats(3), &stats(40)).is_empty());
    }

    #[test]
    fn a_full_dump_disguised_as_incremental_fails() {
        assert_eq!(check_fewer_pages(&stats(40), &stats(40)).len(), 1);
        assert_eq!(check_fewer_pages(&json!({}), &stats(40)).len(), 1);
    }
}
