//! The container's `State` in `podman container inspect` after checkpoint or restore (spec §5).

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::Finding;

/// What a case expects of `State`; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateExpect {
    pub exists: Option<bool>,
    /// `State.Status`, e.g. "exited", "running".
    pub status: Option<String>,
    pub running: Option<bool>,
    pub paused: Option<bool>,
    pub checkpointed: Option<bool>,
    pub restored: Option<bool>,
    /// true: a set time; false: absent or the zero time.
    pub checkpointed_at: Option<bool>,
    pub restored_at: Option<bool>,
    /// "" means absent or empty; anything else is a regex that must match.
    pub checkpoint_path: Option<String>,
    pub checkpoint_log: Option<String>,
    pub restore_log: Option<String>,
}

/// `inspect` is the container's object from the inspect array, `None` when it does not exist.
pub fn check_state(inspect: Option<&Value>, expect: &StateExpect) -> Vec<Finding> {
    let mut f = Vec::new();
    let Some(inspect) = inspect else {
        if expect.exists == Some(true) {
            f.push("expected the container to exist, found no such container".to_string());
        } else if expects_state(expect) {
            f.push("container does not exist".to_string());
        }
        return f;
    };
    if expect.exists == Some(false) {
        f.push("expected the container not to exist, found it in inspect".to_string());
    }
    if !expects_state(expect) {
        return f;
    }
    let Some(state) = inspect.get("State").filter(|s| s.is_object()) else {
        f.push("expected a State object in the inspect output, found none".to_string());
        return f;
    };
    if let Some(want) = &expect.status {
        match state.get("Status") {
            Some(Value::String(s)) if s == want => {}
            other => f.push(format!(
                "expected State.Status {want:?}, found {}",
                shown(other)
            )),
        }
    }
    let flags = [
        ("Running", expect.running),
        ("Paused", expect.paused),
        ("Checkpointed", expect.checkpointed),
        ("Restored", expect.restored),
    ];
    for (key, want) in flags {
        if let Some(want) = want {
            check_flag(state, key, want, &mut f);
        }
    }
    let times = [
        ("CheckpointedAt", expect.checkpointed_at),
        ("RestoredAt", expect.restored_at),
    ];
    for (key, want) in times {
        if let Some(want) = want {
            check_time(state, key, want, &mut f);
        }
    }
    let paths = [
        ("CheckpointPath", &expect.checkpoint_path),
        ("CheckpointLog", &expect.checkpoint_log),
        ("RestoreLog", &expect.restore_log),
    ];
    for (key, want) in paths {
        if let Some(want) = want {
            check_path(state, key, want, &mut f);
        }
    }
    f
}

/// Whether anything besides `exists` is expected.
fn expects_state(e: &StateExpect) -> bool {
    *e != StateExpect {
        exists: e.exists,
        ..Default::default()
    }
}

fn shown(v: Option<&Value>) -> String {
    match v {
        None => "it absent".to_string(),
        Some(v) => v.to_string(),
    }
}

/// Podman omits `Checkpointed` and `Restored` when false, so absent reads as false.
fn check_flag(state: &Value, key: &str, want: bool, f: &mut Vec<Finding>) {
    let found = match state.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return f.push(format!(
                "expected State.{key} to be a boolean, found {other}"
            ))
        }
    };
    if found != want {
        let how = if state.get(key).is_none() {
            " (absent)"
        } else {
            ""
        };
        f.push(format!("expected State.{key} {want}, found {found}{how}"));
    }
}

/// Go's zero `time.Time` marshals as 0001-01-01T00:00:00Z; `omitempty` never drops it.
fn check_time(state: &Value, key: &str, want_set: bool, f: &mut Vec<Finding>) {
    let value = state.get(key);
    let set = match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s.is_empty() || s.starts_with("0001-01-01T00:00:00") => false,
        Some(Value::String(s)) if looks_like_time(s) => true,
        Some(other) => {
            return f.push(format!(
                "expected State.{key} to be an RFC 3339 time, found {other}"
            ))
        }
    };
    if set != want_set {
        let want = if want_set {
            "a set time"
        } else {
            "absent or the zero time"
        };
        f.push(format!(
            "expected State.{key} {want}, found {}",
            shown(value)
        ));
    }
}

fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
}

fn check_path(state: &Value, key: &str, want: &str, f: &mut Vec<Finding>) {
    let found = match state.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => {
            return f.push(format!(
                "expected State.{key} to be a string, found {other}"
            ))
        }
    };
    if want.is_empty() {
        if let Some(s) = found.filter(|s| !s.is_empty()) {
            f.push(format!(
                "expected State.{key} to be absent or empty, found {s:?}"
            ));
        }
        return;
    }
    let re = match Regex::new(want) {
        Ok(re) => re,
        Err(e) => return f.push(format!("the case's regex for State.{key} is invalid: {e}")),
    };
    match found {
        Some(s) if re.is_match(s) => {}
        Some(s) => f.push(format!(
            "expected State.{key} to match /{want}/, found {s:?}"
        )),
        None => f.push(format!(
            "expected State.{key} to match /{want}/, found it absent"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BUNDLE: &str = "/var/lib/containers/storage/overlay-containers/bf38382b8b700a0b8b9514403d1b68be97d426141f28f71ad26cf25866951349/userdata";

    /// After `checkpoint --keep` (spec §5): exited, checkpointed, path and log set.
    fn checkpointed() -> Value {
        json!({
            "Id": "bf38382b8b700a0b8b9514403d1b68be97d426141f28f71ad26cf25866951349",
            "State": {
                "OciVersion": "1.2.0",
                "Status": "exited",
                "Running": false,
                "Paused": false,
                "Restarting": false,
                "OOMKilled": false,
                "Dead": false,
                "Pid": 0,
                "ExitCode": 0,
                "StartedAt": "2026-11-27T01:48:00.123456789Z",
                "FinishedAt": "2026-11-27T01:48:05.523456789Z",
                "CheckpointedAt": "2026-11-27T01:48:05.42Z",
                "RestoredAt": "0001-01-01T00:00:00Z",
                "Checkpointed": true,
                "CheckpointPath": format!("{BUNDLE}/checkpoint"),
                "CheckpointLog": format!("{BUNDLE}/dump.log")
            }
        })
    }

    fn expect_checkpointed() -> StateExpect {
        StateExpect {
            exists: Some(true),
            status: Some("exited".into()),
            running: Some(false),
            paused: Some(false),
            checkpointed: Some(true),
            restored: Some(false),
            checkpointed_at: Some(true),
            restored_at: Some(false),
            checkpoint_path: Some("userdata/checkpoint$".into()),
            checkpoint_log: Some("userdata/dump\\.log$".into()),
            restore_log: Some(String::new()),
        }
    }

    fn one_finding_containing(findings: &[Finding], needle: &str) {
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(findings[0].contains(needle), "{findings:#?}");
    }

    #[test]
    fn checkpointed_container_has_no_findings() {
        assert!(check_state(Some(&checkpointed()), &expect_checkpointed()).is_empty());
    }

    #[test]
    fn restored_container_has_no_findings() {
        let v = json!({"State": {
            "Status": "running", "Running": true, "Paused": false, "Restored": true,
            "CheckpointedAt": "0001-01-01T00:00:00Z", "RestoredAt": "2026-11-27T01:49:00Z",
            "RestoreLog": format!("{BUNDLE}/restore.log")
        }});
        let e = StateExpect {
            status: Some("running".into()),
            running: Some(true),
            checkpointed: Some(false),
            restored: Some(true),
            checkpointed_at: Some(false),
            restored_at: Some(true),
            checkpoint_path: Some(String::new()),
            checkpoint_log: Some(String::new()),
            restore_log: Some("restore\\.log$".into()),
            ..Default::default()
        };
        assert_eq!(check_state(Some(&v), &e), Vec::<Finding>::new());
    }

    #[test]
    fn running_where_exited_expected() {
        let mut v = checkpointed();
        v["State"]["Status"] = json!("running");
        v["State"]["Running"] = json!(true);
        let f = check_state(Some(&v), &expect_checkpointed());
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f[0].contains("State.Status \"exited\", found \"running\""));
        assert!(f[1].contains("State.Running false, found true"));
    }

    #[test]
    fn checkpointed_absent_where_true_expected() {
        let mut v = checkpointed();
        v["State"].as_object_mut().unwrap().remove("Checkpointed");
        one_finding_containing(
            &check_state(Some(&v), &expect_checkpointed()),
            "State.Checkpointed true, found false (absent)",
        );
    }

    #[test]
    fn checkpointed_at_zero_where_set_expected() {
        let mut v = checkpointed();
        v["State"]["CheckpointedAt"] = json!("0001-01-01T00:00:00Z");
        one_finding_containing(
            &check_state(Some(&v), &expect_checkpointed()),
            "State.CheckpointedAt a set time",
        );
        v["State"]["CheckpointedAt"] = json!(12);
        one_finding_containing(&check_state(Some(&v), &expect_checkpointed()), "RFC 3339");
    }

    #[test]
    fn checkpoint_log_regex_not_matching() {
        let mut v = checkpointed();
        v["State"]["CheckpointLog"] = json!(format!("{BUNDLE}/restore.log"));
        one_finding_containing(
            &check_state(Some(&v), &expect_checkpointed()),
            "State.CheckpointLog to match /userdata/dump\\.log$/",
        );
        v["State"].as_object_mut().unwrap().remove("CheckpointLog");
        one_finding_containing(
            &check_state(Some(&v), &expect_checkpointed()),
            "found it absent",
        );
    }

    #[test]
    fn log_present_where_empty_expected() {
        let e = StateExpect {
            checkpoint_log: Some(String::new()),
            ..Default::default()
        };
        one_finding_containing(&check_state(Some(&checkpointed()), &e), "absent or empty");
    }

    #[test]
    fn invalid_regex_is_a_finding() {
        let e = StateExpect {
            checkpoint_path: Some("(".into()),
            ..Default::default()
        };
        one_finding_containing(&check_state(Some(&checkpointed()), &e), "invalid");
    }

    #[test]
    fn missing_container() {
        one_finding_containing(
            &check_state(None, &expect_checkpointed()),
            "found no such container",
        );
        let e = StateExpect {
            status: Some("exited".into()),
            ..Default::default()
        };
        assert_eq!(
            check_state(None, &e),
            vec!["container does not exist".to_string()]
        );
        let gone = StateExpect {
            exists: Some(false),
            ..Default::default()
        };
        assert!(check_state(None, &gone).is_empty());
        one_finding_containing(&check_state(Some(&checkpointed()), &gone), "not to exist");
    }

    #[test]
    fn expectations_parse_from_toml() {
        let e: StateExpect =
            toml::from_str("status = \"exited\"\ncheckpointed = true\ncheckpoint_log = \"\"")
                .unwrap();
        assert_eq!(e.checkpoint_log.as_deref(), Some(""));
        assert!(toml::from_str::<StateExpect>("Status = \"exited\"").is_err());
    }
}
