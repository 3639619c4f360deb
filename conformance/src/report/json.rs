//! The JSON document written by `--report-json FILE`:
//!
//! ```json
//! {
//!   "environment": {"target": "...", "target_version": "...", "runtime": "...", ...},
//!   "summary": {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0, "xpassed": 0},
//!   "cases": [
//!     {"id": "...", "status": "failed", "duration_ms": 0, "covers": ["--export"],
//!      "spec": "...", "reason": "..."}
//!   ],
//!   "timing": {"wall_ms": 0, "command_ms": 0, "commands": 0, "wait_ms": 0, "jobs": 2},
//!   "partition": {"index": 2, "count": 3}
//! }
//! ```
//!
//! `status` is one of `passed`, `failed`, `skipped`, `xfailed`, `xpassed`; `reason` is left out
//! when the case has none (a plain pass). Cases keep the order they ran in. `timing` (what a real
//! run spent in the commands it ran in the sandbox, and in all) is left out when unknown;
//! `partition` (`--partition k/n`) only for a shard. `RunReport::read` reads the document back.

use super::RunReport;

/// The report as pretty-printed JSON, ending with a newline.
pub fn render(report: &RunReport) -> String {
    let mut text = serde_json::to_string_pretty(report)
        .expect("a RunReport has only string keys and always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;
    use serde_json::Value;

    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn has_the_documented_shape() {
        let report = sample();
        let text = render(&report);
        assert!(text.ends_with("}\n"));
        let doc: Value = serde_json::from_str(&text).unwrap();

        assert_eq!(keys(&doc), ["cases", "environment", "summary"]);
        assert_eq!(
            keys(&doc["environment"]),
            [
                "cgroup_version",
                "criu_version",
                "distribution",
                "kernel",
                "peer",
                "readers",
                "runtime",
                "runtime_version",
                "sandbox",
                "service",
                "target",
                "target_version"
            ]
        );
        assert_eq!(doc["environment"]["target"], "/usr/bin/podman");
        assert_eq!(doc["environment"]["sandbox"], "ns (trixie)");

        assert_eq!(
            doc["summary"],
            serde_json::json!({"passed": 1, "failed": 1, "skipped": 1, "xfailed": 1, "xpassed": 1})
        );

        let cases = doc["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 5);
        // A plain pass has no reason; the log never reaches the JSON.
        assert_eq!(
            keys(&cases[0]),
            ["covers", "duration_ms", "id", "spec", "status"]
        );
        for case in &cases[1..] {
            assert_eq!(
                keys(case),
                ["covers", "duration_ms", "id", "reason", "spec", "status"]
            );
        }
        assert_eq!(
            cases[1],
            serde_json::json!({
                "id": "checkpoint.export.archive",
                "status": "failed",
                "duration_ms": 1500,
                "covers": ["--export"],
                "spec": "checkpoint.export.archive does what the man page says",
                "reason": "archive has no config.dump\nspec.dump is empty",
            })
        );
        let statuses: Vec<&str> = cases
            .iter()
            .map(|c| c["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["passed", "failed", "skipped", "xfailed", "xpassed"]
        );
    }
}
