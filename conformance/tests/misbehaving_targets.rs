//! Targets that misbehave: the suite fails their cases with a clear reason, carries on with the
//! other cases, and still removes every container it created. Each target is a shell wrapper around
//! the sandbox's podman that breaks one command.

use ckpt_sandbox::{testing, Sandbox};
use serde_json::Value;
use std::process::Command;

/// Containers in the sandbox, by name.
fn containers(sandbox: &Sandbox) -> Vec<String> {
    test_support::Engine::podman(sandbox).containers()
}

/// Runs two cases against a wrapper whose `container checkpoint` does `behaviour`; returns the report.
fn run_against(sandbox: &Sandbox, name: &str, behaviour: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join(name);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# A target that misbehaves on checkpoint.\nif [ \"$1 $2\" = \"container checkpoint\" ]; then\n{behaviour}\nfi\nexec podman \"$@\"\n"
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    let before = containers(sandbox);
    let json = dir.path().join("r.json");
    let out = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args(["--quiet", "--timeout", "20", "--exact", "--bin"])
        .arg(&script)
        .arg("--report-json")
        .arg(&json)
        .args(["basic.by-name", "validation.no-arguments"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{name}: the run must fail:\n{all}"
    );
    assert_eq!(
        containers(sandbox),
        before,
        "{name}: containers left behind"
    );
    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
}

fn status_and_reason(report: &Value, id: &str) -> (String, String) {
    let case = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap();
    (
        case["status"].as_str().unwrap().into(),
        case["reason"].as_str().unwrap_or("").into(),
    )
}

#[test]
fn misbehaving_targets_fail_their_cases_and_leave_nothing_behind() {
    let Some(sandbox) = testing::started_sandbox_or_skip("misbehaving_targets") else {
        return;
    };
    let targets = [
        ("hangs", "sleep 600", "hung"),
        ("crashes", "kill -SEGV $$", "exit status 139"),
        (
            "prints-garbage",
            "head -c 300 /dev/urandom | tr -d '\\000'; exit 0",
            "stdout was",
        ),
        ("does-nothing", "echo \"$3\"; exit 0", "State.Status"),
        // A child in a session of its own keeps stdout open: `timeout` cannot reach it, and a
        // reader waiting for the end of the output would wait for ever.
        (
            "detaches-holding-stdout",
            "setsid sleep 600 & echo \"$3\"; exit 0",
            "State.Status",
        ),
        // Output without end: kept up to a cap, the command killed at its timeout.
        ("prints-without-end", "exec yes", "hung"),
    ];
    for (name, behaviour, expected) in targets {
        let report = run_against(&sandbox, name, behaviour);
        let (status, reason) = status_and_reason(&report, "basic.by-name");
        assert_eq!(status, "failed", "{name}: {reason}");
        assert!(
            reason.contains(expected),
            "{name}: the reason should say {expected:?}: {reason}"
        );
        // The other case still ran, and still judged its own artefacts.
        let (status, _) = status_and_reason(&report, "validation.no-arguments");
        assert_ne!(status, "skipped", "{name}");
    }
}
