//! The OCI runtime of a run, probed once: a runtime the target cannot checkpoint with (runsc, gVisor)
//! skips the whole run with the target's own reason, never as one failure per case; a runtime that
//! is not installed is a usage error; a runtime that works (runc) runs the cases.

use ckpt_sandbox::{testing, Sandbox};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The tests count the sandbox's containers: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Cases of several groups; none of them may run under runsc.
const CASES: [&str; 4] = [
    "basic.by-name",
    "validation.no-arguments",
    "export.compress-gzip",
    "hostile.traversal",
];

fn refpod() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--package", "refpod"])
        .status()
        .unwrap();
    assert!(status.success(), "building refpod failed");
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("debug/refpod")
}

fn containers(sandbox: &Sandbox) -> String {
    let out = sandbox
        .command(&["podman", "ps", "-a", "--format", "{{.Names}}"])
        .unwrap()
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs [`CASES`] against `bin` with `--runtime runtime`: the exit status, the console, the report.
fn run(bin: &str, runtime: &str) -> (Option<i32>, String, Option<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args(["--quiet", "--exact", "--bin", bin])
        .args(["--runtime", runtime, "--report-json"])
        .arg(&json)
        .args(CASES)
        .output()
        .unwrap();
    let report = std::fs::read(&json)
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    (out.status.code(), text(&out), report)
}

/// Every case skipped with one reason holding `words`, and the run a success.
fn all_skipped(
    bin: &str,
    (code, console, report): (Option<i32>, String, Option<Value>),
    words: &str,
) {
    assert_eq!(
        code,
        Some(0),
        "{bin}: a skipped run is no failure:\n{console}"
    );
    assert!(
        console.contains("the whole run skipped") && console.contains(words),
        "{bin}: the summary must say why:\n{console}"
    );
    let report = report.expect("a report");
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), CASES.len(), "{report}");
    for case in cases {
        assert_eq!(case["status"], "skipped", "{bin}: {case}");
        let reason = case["reason"].as_str().unwrap();
        assert!(
            reason.contains(words) && reason.contains("runsc"),
            "{bin}: {case}"
        );
    }
}

#[test]
fn a_runtime_that_cannot_checkpoint_skips_the_whole_run_with_its_reason() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(sandbox) = testing::started_sandbox_or_skip("runsc_skips_the_whole_run") else {
        return;
    };
    // podman refuses: "configured runtime does not support checkpoint/restore".
    all_skipped(
        "podman",
        run("podman", "runsc"),
        "does not support checkpoint/restore",
    );
    // refpod runs only crun and runc, and says so.
    let refpod = refpod();
    all_skipped(
        "refpod",
        run(refpod.to_str().unwrap(), "runsc"),
        "refpod runs only crun or runc",
    );
    // Other runs may share the sandbox: only the probe's own containers are looked for.
    let left = containers(&sandbox);
    assert!(
        !left.contains("-probe-runtime"),
        "the probe left a container: {left}"
    );
}

#[test]
fn a_runtime_that_is_not_installed_is_a_usage_error() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(_sandbox) = testing::started_sandbox_or_skip("missing_runtime_is_an_error") else {
        return;
    };
    let (code, console, _) = run("podman", "no-such-runtime");
    assert_eq!(code, Some(2), "{console}");
    assert!(
        console.contains("no OCI runtime \"no-such-runtime\" in the sandbox"),
        "{console}"
    );
    assert!(
        !console.contains("test result"),
        "no case may run:\n{console}"
    );
}

#[test]
fn a_runtime_that_can_checkpoint_runs_the_cases() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(_sandbox) = testing::started_sandbox_or_skip("runc_runs_the_cases") else {
        return;
    };
    let (code, console, report) = run("podman", "runc");
    let report = report.expect("a report");
    let summary = &report["summary"];
    assert_eq!(summary["skipped"], 0, "{summary}\n{console}");
    assert_eq!(summary["failed"], 0, "{summary}\n{console}");
    assert_eq!(summary["passed"], 4, "{summary}\n{console}");
    assert_eq!(report["environment"]["runtime"], "runc", "{report}");
    assert_eq!(code, Some(0), "{console}");
}
