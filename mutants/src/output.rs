//! Deviations of what the target prints: the `--print-stats` JSON, `container inspect` and
//! `image inspect` JSON, and error messages. Output that is not what the edit expects (no JSON,
//! another shape) is passed on unchanged.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsEdit {
    /// A warning line on stdout before the JSON.
    WarningLine,
    /// `podman_<kind>_duration` is called `podman_duration`.
    DurationRenamed,
    /// `runtime_<kind>_duration` is a string ("182184").
    DurationAsString,
    /// `runtime_<kind>_duration` is longer than the podman duration that contains it.
    RuntimeExceedsPodman,
    /// Statistics for the first container only.
    FirstContainerOnly,
    /// `criu_statistics` is `{}`: the engine never read CRIU's statistics.
    CriuEmptied,
    /// The podman and runtime durations are 0: not measured.
    DurationsZeroed,
    /// `pages_written` is one page off what CRIU wrote (still plausible: not above the pages
    /// scanned, not 0).
    PagesWrittenOff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectEdit {
    /// `State.Checkpointed` is false.
    NotCheckpointed,
    /// `State.Restored` is false.
    NotRestored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationEdit {
    /// This checkpoint annotation is missing.
    Dropped(&'static str),
    /// `host.kernel` is the release without its local version ("6.1.0" for "6.1.0-40-amd64").
    KernelTruncated,
    /// `criu.version` is dotted ("4.2.1") instead of podman's integer ("40201").
    CriuDotted,
}

const ANNOTATION: &str = "io.podman.annotations.checkpoint.";

/// JSON as podman prints it: four-space indentation and a final newline.
fn print(value: &Value) -> String {
    let mut out = vec![];
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    value
        .serialize(&mut ser)
        .expect("a JSON value always serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8") + "\n"
}

/// Applies `edit` to the JSON in `stdout`; unchanged when it holds no JSON.
fn edit_json(stdout: &str, edit: impl FnOnce(&mut Value)) -> String {
    match serde_json::from_str::<Value>(stdout) {
        Ok(mut v) => {
            edit(&mut v);
            print(&v)
        }
        Err(_) => stdout.to_string(),
    }
}

pub fn edit_stats(stdout: &str, edit: StatsEdit) -> String {
    if edit == StatsEdit::WarningLine {
        return format!("WARN[0000] CRIU statistics may be incomplete\n{stdout}");
    }
    edit_json(stdout, |doc| {
        let Some(obj) = doc.as_object_mut() else {
            return;
        };
        let podman_key = obj
            .keys()
            .find(|k| k.starts_with("podman_") && k.ends_with("_duration"))
            .cloned();
        let podman = podman_key
            .as_ref()
            .and_then(|k| obj[k].as_u64())
            .unwrap_or(0);
        if edit == StatsEdit::DurationsZeroed {
            if let Some(k) = &podman_key {
                obj[k] = Value::from(0);
            }
        }
        if edit == StatsEdit::DurationRenamed {
            if let Some(k) = podman_key {
                let v = obj.remove(&k).expect("the key was just found");
                obj.insert("podman_duration".into(), v);
            }
            return;
        }
        let Some(containers) = obj
            .get_mut("container_statistics")
            .and_then(Value::as_array_mut)
        else {
            return;
        };
        if edit == StatsEdit::FirstContainerOnly {
            containers.truncate(1);
            return;
        }
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            match edit {
                StatsEdit::CriuEmptied => {
                    c.insert("criu_statistics".into(), serde_json::json!({}));
                    continue;
                }
                StatsEdit::PagesWrittenOff => {
                    let criu = c.get_mut("criu_statistics").and_then(Value::as_object_mut);
                    // Only where CRIU reported pages written (restore statistics have none).
                    if let Some(pages) = criu.and_then(|c| c.get_mut("pages_written")) {
                        let n = pages.as_u64().unwrap_or(0);
                        *pages = Value::from(if n > 1 { n - 1 } else { n + 1 });
                    }
                    continue;
                }
                _ => {}
            }
            let Some(key) = c
                .keys()
                .find(|k| k.starts_with("runtime_") && k.ends_with("_duration"))
                .cloned()
            else {
                continue;
            };
            c[&key] = match edit {
                StatsEdit::DurationAsString => Value::String(c[&key].to_string()),
                StatsEdit::DurationsZeroed => Value::from(0),
                _ => Value::from(podman + 1),
            };
        }
    })
}

pub fn edit_inspect(stdout: &str, edit: InspectEdit) -> String {
    let key = match edit {
        InspectEdit::NotCheckpointed => "Checkpointed",
        InspectEdit::NotRestored => "Restored",
    };
    edit_json(stdout, |doc| {
        for c in doc.as_array_mut().into_iter().flatten() {
            if let Some(state) = c.get_mut("State").and_then(Value::as_object_mut) {
                state.insert(key.into(), Value::Bool(false));
            }
        }
    })
}

/// 40201 -> "4.2.1".
fn dotted(version: &str) -> Option<String> {
    let n: u32 = version.parse().ok()?;
    Some(format!("{}.{}.{}", n / 10000, n / 100 % 100, n % 100))
}

pub fn edit_annotations(stdout: &str, edit: AnnotationEdit) -> String {
    edit_json(stdout, |doc| {
        for image in doc.as_array_mut().into_iter().flatten() {
            let Some(a) = image.get_mut("Annotations").and_then(Value::as_object_mut) else {
                continue;
            };
            match edit {
                AnnotationEdit::Dropped(suffix) => {
                    a.remove(&format!("{ANNOTATION}{suffix}"));
                }
                AnnotationEdit::KernelTruncated => {
                    if let Some(Value::String(k)) = a.get_mut(&format!("{ANNOTATION}host.kernel")) {
                        k.truncate(k.find('-').unwrap_or(k.len()));
                    }
                }
                AnnotationEdit::CriuDotted => {
                    if let Some(v) = a.get_mut(&format!("{ANNOTATION}criu.version")) {
                        if let Some(d) = v.as_str().and_then(dotted) {
                            *v = Value::String(d);
                        }
                    }
                }
            }
        }
    })
}

/// podman's refusals of an invalid command line, before anything is done.
const VALIDATION_ERRORS: &[&str] = &[
    "cannot be used together",
    "can not be used with",
    "can only be used with",
    "no arguments are needed with",
    "you must provide at least one name or id",
    "not supported. Please select one from",
    "unless '--export' is used",
];

pub fn is_validation_error(stderr: &str) -> bool {
    VALIDATION_ERRORS.iter().any(|e| stderr.contains(e))
}

/// Another engine's wording of podman's checkpoint and restore errors.
const REWORDED: &[(&str, &str)] = &[
    ("cannot be used together", "are mutually exclusive"),
    ("can not be used with", "conflicts with"),
    ("can only be used with", "requires"),
    (
        "no arguments are needed with",
        "no container may be named with",
    ),
    (
        "you must provide at least one name or id",
        "no container given",
    ),
    (
        "not supported. Please select one from",
        "unknown; use one of",
    ),
    ("unless '--export' is used", "without '--export'"),
    ("container state improper", "invalid container state"),
    ("no such container", "container not found"),
    ("cannot restore", "restore impossible"),
];

pub fn reword(stderr: &str) -> String {
    REWORDED
        .iter()
        .fold(stderr.to_string(), |s, (from, to)| s.replace(from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "bf38382b8b700a0b8b9514403d1b68be97d426141f28f71ad26cf25866951349";

    fn checkpoint_stats(ids: &[&str]) -> String {
        let containers: Vec<Value> = ids
            .iter()
            .map(|id| {
                serde_json::json!({
                    "Id": id,
                    "runtime_checkpoint_duration": 182184,
                    "criu_statistics": {"frozen_time": 70370, "pages_written": 34}
                })
            })
            .collect();
        print(&serde_json::json!({
            "podman_checkpoint_duration": 264442,
            "container_statistics": containers
        }))
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn a_warning_line_goes_before_the_json() {
        let out = edit_stats(&checkpoint_stats(&[ID]), StatsEdit::WarningLine);
        let (first, rest) = out.split_once('\n').unwrap();
        assert!(first.starts_with("WARN"));
        assert_eq!(parse(rest), parse(&checkpoint_stats(&[ID])));
    }

    #[test]
    fn renames_the_duration_and_changes_its_type() {
        let v = parse(&edit_stats(
            &checkpoint_stats(&[ID]),
            StatsEdit::DurationRenamed,
        ));
        assert_eq!(v["podman_duration"], 264442);
        assert!(v.get("podman_checkpoint_duration").is_none());

        let v = parse(&edit_stats(
            &checkpoint_stats(&[ID]),
            StatsEdit::DurationAsString,
        ));
        assert_eq!(
            v["container_statistics"][0]["runtime_checkpoint_duration"],
            "182184"
        );
        assert_eq!(v["podman_checkpoint_duration"], 264442);
    }

    #[test]
    fn empties_zeroes_and_shifts_the_numbers() {
        let one = checkpoint_stats(&[ID]);
        let v = parse(&edit_stats(&one, StatsEdit::CriuEmptied));
        assert_eq!(
            v["container_statistics"][0]["criu_statistics"],
            serde_json::json!({})
        );
        assert_eq!(v["podman_checkpoint_duration"], 264442);
        let v = parse(&edit_stats(&one, StatsEdit::DurationsZeroed));
        assert_eq!(v["podman_checkpoint_duration"], 0);
        assert_eq!(
            v["container_statistics"][0]["runtime_checkpoint_duration"],
            0
        );
        assert_eq!(
            v["container_statistics"][0]["criu_statistics"]["frozen_time"],
            70370
        );
        let v = parse(&edit_stats(&one, StatsEdit::PagesWrittenOff));
        assert_eq!(
            v["container_statistics"][0]["criu_statistics"]["pages_written"],
            33
        );
        // Restore statistics have no pages_written: nothing to shift.
        let restore = r#"{"podman_restore_duration": 5, "container_statistics": [{"criu_statistics": {"pages_restored": 3}}]}"#;
        let v = parse(&edit_stats(restore, StatsEdit::PagesWrittenOff));
        assert!(v["container_statistics"][0]["criu_statistics"]
            .get("pages_written")
            .is_none());
    }

    #[test]
    fn breaks_the_relation_and_drops_containers() {
        let two = checkpoint_stats(&[ID, ID]);
        let v = parse(&edit_stats(&two, StatsEdit::RuntimeExceedsPodman));
        for c in v["container_statistics"].as_array().unwrap() {
            assert_eq!(c["runtime_checkpoint_duration"], 264443);
        }
        let v = parse(&edit_stats(&two, StatsEdit::FirstContainerOnly));
        assert_eq!(v["container_statistics"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn restore_stats_are_edited_the_same_way() {
        let restore = r#"{"podman_restore_duration": 10, "container_statistics": [{"Id": "x", "runtime_restore_duration": 5}]}"#;
        let v = parse(&edit_stats(restore, StatsEdit::RuntimeExceedsPodman));
        assert_eq!(v["container_statistics"][0]["runtime_restore_duration"], 11);
        let v = parse(&edit_stats(restore, StatsEdit::DurationRenamed));
        assert_eq!(v["podman_duration"], 10);
    }

    #[test]
    fn what_is_not_json_passes_unchanged() {
        assert_eq!(edit_stats("c1\n", StatsEdit::DurationAsString), "c1\n");
        assert_eq!(edit_inspect("", InspectEdit::NotCheckpointed), "");
    }

    #[test]
    fn inspect_flags_are_cleared() {
        let inspect = r#"[{"Id": "x", "State": {"Status": "exited", "Checkpointed": true}}]"#;
        let v = parse(&edit_inspect(inspect, InspectEdit::NotCheckpointed));
        assert_eq!(v[0]["State"]["Checkpointed"], false);
        assert_eq!(v[0]["State"]["Status"], "exited");
        let v = parse(&edit_inspect(inspect, InspectEdit::NotRestored));
        assert_eq!(v[0]["State"]["Restored"], false);
        assert_eq!(v[0]["State"]["Checkpointed"], true);
    }

    #[test]
    fn annotations_are_dropped_or_changed() {
        let image = r#"[{"Id": "i", "Annotations": {
            "io.podman.annotations.checkpoint.host.kernel": "6.1.0-40-amd64",
            "io.podman.annotations.checkpoint.criu.version": "40201",
            "io.podman.annotations.checkpoint.runtime.version": "crun version 1.21"}}]"#;
        let key = |s: &str| format!("{ANNOTATION}{s}");
        let v = parse(&edit_annotations(image, AnnotationEdit::KernelTruncated));
        assert_eq!(v[0]["Annotations"][key("host.kernel")], "6.1.0");
        let v = parse(&edit_annotations(image, AnnotationEdit::CriuDotted));
        assert_eq!(v[0]["Annotations"][key("criu.version")], "4.2.1");
        let v = parse(&edit_annotations(
            image,
            AnnotationEdit::Dropped("runtime.version"),
        ));
        assert!(v[0]["Annotations"].get(key("runtime.version")).is_none());
        assert_eq!(v[0]["Annotations"].as_object().unwrap().len(), 2);
    }

    #[test]
    fn validation_errors_are_recognised_and_reworded() {
        let e = "Error: --all and --latest cannot be used together\n";
        assert!(is_validation_error(e));
        assert_eq!(
            reword(e),
            "Error: --all and --latest are mutually exclusive\n"
        );
        let e = "Error: \"exited\" is not running, cannot checkpoint: container state improper\n";
        assert!(!is_validation_error(e));
        assert!(reword(e).ends_with("invalid container state\n"));
    }
}
