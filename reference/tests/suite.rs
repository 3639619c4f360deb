//! The proof that the suite is right: the whole conformance suite passes on refpod, 100%, with no
//! expectations file (only cases whose probed requirement this machine lacks are skipped).

use ckpt_sandbox::testing;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    suite: conformance::suite::SuiteArgs,
}

#[test]
fn the_whole_suite_passes_on_refpod() {
    if testing::started_sandbox_or_skip("the_whole_suite_passes_on_refpod").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let cli = Cli::parse_from([
        "conformance",
        "--quiet",
        "--bin",
        env!("CARGO_BIN_EXE_refpod"),
        // The interop cases exchange archives with podman, both ways.
        "--peer",
        "podman",
        "--report-json",
        json.to_str().unwrap(),
    ]);
    conformance::suite::run(cli.suite).expect("the suite ran");

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let summary = &report["summary"];
    let failures: Vec<_> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "passed" && c["status"] != "skipped")
        .map(|c| format!("{} ({}): {}", c["id"], c["status"], c["reason"]))
        .collect();
    assert!(
        failures.is_empty(),
        "refpod must pass every case:\n{}",
        failures.join("\n")
    );
    assert!(summary["passed"].as_u64().unwrap() >= 80, "{summary}");
    let interop = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("interop."))
        .count();
    assert!(interop >= 4, "the interop cases ran: {interop}");
    for case in report["cases"].as_array().unwrap() {
        if case["status"] == "skipped" {
            let reason = case["reason"].as_str().unwrap_or("");
            assert!(
                reason.contains("soft-dirty"),
                "only missing soft-dirty tracking may skip a case here: {case}"
            );
        }
    }
}
