//! `cargo xtask report merge|scoreboard` as a user runs them, on report files (no sandbox).

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

fn report(version: &str, partition: Option<(u32, u32)>, cases: &[(&str, &str)]) -> Value {
    let mut doc = json!({
        "environment": {"target": "podman", "target_version": version, "runtime": "crun",
                        "sandbox": "ns (trixie)", "kernel": "6.12"},
        "summary": {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0, "xpassed": 0},
        "cases": cases.iter().map(|(id, status)| json!({
            "id": id, "status": status, "duration_ms": 5, "covers": ["--export"],
            "spec": "man --export: <a sentence>", "reason": "why <b>"
        })).collect::<Vec<_>>(),
    });
    if let Some((index, count)) = partition {
        doc["partition"] = json!({"index": index, "count": count});
    }
    doc
}

fn write(dir: &Path, name: &str, doc: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(doc).unwrap()).unwrap();
    path.display().to_string()
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn merge_writes_one_report_and_a_scoreboard_and_refuses_what_is_not_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.json",
        &report("5.4.2", Some((1, 2)), &[("g.one", "passed")]),
    );
    let b = write(
        dir.path(),
        "b.json",
        &report(
            "5.4.2",
            Some((2, 2)),
            &[("g.two", "xfailed"), ("h.three", "passed")],
        ),
    );
    let out = dir.path().join("merged.json");
    let html = dir.path().join("merged.html");
    let done = xtask(&[
        "report",
        "merge",
        &b,
        &a,
        "--out",
        out.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let merged: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let ids: Vec<&str> = merged["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["g.one", "g.two", "h.three"]);
    assert_eq!(
        merged["summary"],
        json!({"passed": 2, "failed": 0, "skipped": 0, "xfailed": 1, "xpassed": 0})
    );
    assert!(merged.get("partition").is_none());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<code>g.two</code>") && page.contains("why &lt;b&gt;"));

    // One shard alone, or a report of another version, is refused with the reason.
    let refused = xtask(&["report", "merge", &a]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("2/2 missing"));
    let other = write(
        dir.path(),
        "c.json",
        &report("5.8.6", Some((2, 2)), &[("g.two", "passed")]),
    );
    let refused = xtask(&["report", "merge", &a, &other]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("target_version"),
        "{stderr}"
    );
    let mixed = xtask(&["report", "merge", &a, &other, "--allow-mixed"]);
    assert!(
        mixed.status.success(),
        "{}",
        String::from_utf8_lossy(&mixed.stderr)
    );
    let printed: Value = serde_json::from_slice(&mixed.stdout).unwrap();
    assert_eq!(printed["environment"]["target_version"], "5.4.2 | 5.8.6");
}

#[test]
fn scoreboard_puts_reports_side_by_side_against_a_previous_run() {
    let dir = tempfile::tempdir().unwrap();
    let now = dir.path().join("now");
    let before = dir.path().join("before");
    std::fs::create_dir_all(&now).unwrap();
    std::fs::create_dir_all(&before).unwrap();
    let x = write(
        &now,
        "podman.json",
        &report("5.4.2", None, &[("g.one", "failed")]),
    );
    let y = write(
        &now,
        "refpod.json",
        &report("5.4.2", None, &[("g.one", "passed")]),
    );
    write(
        &before,
        "podman.json",
        &report("5.4.2", None, &[("g.one", "passed")]),
    );
    let html = dir.path().join("board.html");
    let done = xtask(&[
        "report",
        "scoreboard",
        &x,
        &y,
        "--html",
        html.to_str().unwrap(),
        "--previous",
        before.to_str().unwrap(),
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<div class=\"name\">podman</div>"));
    assert!(page.contains("<div class=\"name\">refpod</div>"));
    assert!(page.contains("<tr class=\"differs\">"));
    assert!(page.contains("changed, was passed"));
}
