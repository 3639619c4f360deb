//! The suite itself, run for real against podman in the ns sandbox: it passes, it writes its reports,
//! a malformed case fails alone, and it leaves no container, volume or image behind, even when
//! interrupted.

use ckpt_sandbox::{testing, Sandbox};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use test_support::{inventory, refpod, text};

/// The tests count the sandbox's containers: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn suite() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_conformance"));
    cmd.arg("--quiet");
    cmd
}

fn report(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_whole_suite_passes_on_podman_and_leaves_nothing_behind() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(sandbox) = testing::started_sandbox_or_skip("the_whole_suite_passes_on_podman") else {
        return;
    };
    let before = inventory(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let (json, junit, tap) = (
        dir.path().join("r.json"),
        dir.path().join("r.xml"),
        dir.path().join("r.tap"),
    );
    let out = suite()
        .arg("--peer")
        .arg(refpod())
        .arg("--report-json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .arg("--tap")
        .arg(&tap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the suite failed on podman:\n{}",
        text(&out)
    );
    assert_eq!(
        inventory(&sandbox),
        before,
        "the suite left something behind"
    );

    let r = report(&json);
    let summary = &r["summary"];
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["xpassed"], 0);
    assert!(summary["passed"].as_u64().unwrap() >= 60, "{summary}");
    assert_eq!(r["environment"]["target"], "podman");
    assert!(
        r["environment"]["criu_version"]
            .as_str()
            .unwrap()
            .contains("4."),
        "{}",
        r["environment"]
    );
    for case in r["cases"].as_array().unwrap() {
        if case["status"] == "skipped" {
            assert!(
                !case["reason"].as_str().unwrap_or("").is_empty(),
                "a skip without a reason: {case}"
            );
        }
        if case["id"].as_str().unwrap().starts_with("interop.") {
            assert_eq!(case["status"], "passed", "with refpod as the peer: {case}");
        }
        assert!(!case["spec"].as_str().unwrap().is_empty(), "{case}");
    }
    let cases = r["cases"].as_array().unwrap().len();
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase").count(), cases);
    let tap = std::fs::read_to_string(&tap).unwrap();
    assert!(tap.contains(&format!("1..{cases}")), "{tap}");
}

#[test]
fn a_malformed_case_fails_alone_naming_its_file_and_field() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if testing::started_sandbox_or_skip("a_malformed_case_fails_alone").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases/basic");
    std::fs::create_dir_all(&cases).unwrap();
    std::fs::copy(
        fixtures().join("workloads.toml"),
        dir.path().join("workloads.toml"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("schema")).unwrap();
    for schema in ["checkpoint-stats.schema.json", "restore-stats.schema.json"] {
        std::fs::copy(
            fixtures().join("schema").join(schema),
            dir.path().join("schema").join(schema),
        )
        .unwrap();
    }
    std::fs::copy(
        fixtures().join("cases/basic/by-name.toml"),
        cases.join("by-name.toml"),
    )
    .unwrap();
    let broken = std::fs::read_to_string(fixtures().join("cases/basic/by-name.toml"))
        .unwrap()
        .replace("stdout =", "stdot =");
    std::fs::write(cases.join("broken.toml"), broken).unwrap();

    let json = dir.path().join("r.json");
    let out = suite()
        .arg("--fixtures")
        .arg(dir.path())
        .arg("--report-json")
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = report(&json);
    let by_id = |id: &str| {
        r["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("basic.by-name")["status"], "passed");
    let broken = by_id("basic.broken");
    assert_eq!(broken["status"], "failed");
    let reason = broken["reason"].as_str().unwrap();
    assert!(
        reason.contains("broken.toml") && reason.contains("stdot"),
        "{reason}"
    );
}

#[test]
fn an_interrupted_run_removes_what_it_created() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(sandbox) =
        testing::started_sandbox_or_skip("an_interrupted_run_removes_what_it_created")
    else {
        return;
    };
    let before = inventory(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let mut child = suite()
        .args(["--report-json"])
        .arg(dir.path().join("r.json"))
        .args(["import", "export"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Interrupt while cases are in the middle of their steps, with containers and volumes up.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(500));
        if inventory(&sandbox).len() >= before.len() + 2 {
            break;
        }
    }
    assert!(
        inventory(&sandbox).len() > before.len(),
        "the run never created anything"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "an interrupted run exits 130");
    assert_eq!(
        inventory(&sandbox),
        before,
        "the interrupted run left something behind"
    );
}

/// Two runs on one sandbox never see each other's containers: the `--all` cases of one would
/// checkpoint the other's (the lock that makes them run alone holds across processes).
#[test]
fn two_runs_at_once_do_not_see_each_other() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(sandbox) = testing::started_sandbox_or_skip("two_runs_at_once_do_not_see_each_other")
    else {
        return;
    };
    let before = inventory(&sandbox);
    // One run of the cases that act on every container, one of cases whose containers must keep
    // running; each started while the other is under way.
    let dir = tempfile::tempdir().unwrap();
    let spawn = |filter: &str| {
        suite()
            .args(["--jobs", "2", filter, "--report-json"])
            .arg(dir.path().join(format!("{filter}json")))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let basic = spawn("basic.");
    std::thread::sleep(Duration::from_secs(2));
    let all = spawn("all.");
    for (name, child) in [("all.", all), ("basic.", basic)] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "the run of {name} failed beside the other:\n{}",
            text(&out)
        );
    }
    assert_eq!(
        inventory(&sandbox),
        before,
        "the runs left something behind"
    );
}

/// What a run leaves of podman's API services in the sandbox: their processes and sockets.
fn services(sandbox: &Sandbox) -> String {
    let out = sandbox
        .command(&[
            "sh",
            "-c",
            "ps -eo pid,args | grep '[s]ystem service'; ls /run/podman 2>/dev/null",
        ])
        .unwrap()
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// podman-remote as the target: the run starts its own `podman system service`, the cases go
/// through the REST API (the compression is not forwarded: an xfail of its expectations file),
/// and at the end neither the service nor its socket is left.
#[test]
fn podman_remote_runs_through_a_service_the_run_stops() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(sandbox) =
        testing::started_sandbox_or_skip("podman_remote_runs_through_a_service_the_run_stops")
    else {
        return;
    };
    let before = inventory(&sandbox);
    let services_before = services(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = suite()
        .args(["--bin", "podman-remote", "--exact", "--report-json"])
        .arg(&json)
        .args([
            "basic.by-name",
            "basic.exec-after-restore",
            "import.prints-id",
            "export.compress-gzip",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let r = report(&json);
    assert_eq!(
        r["environment"]["target"], "podman-remote",
        "{}",
        r["environment"]
    );
    let service = r["environment"]["service"].as_str().unwrap();
    assert!(service.contains("unix:///run/podman/ckpt-"), "{service}");
    assert_eq!(r["summary"]["failed"], 0, "{}", r["summary"]);
    assert_eq!(r["summary"]["xfailed"], 1, "{}", r["summary"]);
    assert_eq!(r["summary"]["passed"], 3, "{}", r["summary"]);
    assert_eq!(
        services(&sandbox),
        services_before,
        "the run left its service behind"
    );
    assert_eq!(inventory(&sandbox), before, "the run left something behind");
}
