//! The proof that the suite is right: the whole conformance suite passes on refpod, 100%, with no
//! expectations file (only cases whose probed requirement this machine lacks are skipped).

use ckpt_sandbox::testing;
use conformance::report::Status;

#[test]
fn the_whole_suite_passes_on_refpod() {
    if testing::started_sandbox_or_skip("the_whole_suite_passes_on_refpod").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let report = test_support::run_suite(&[
        "--quiet",
        "--bin",
        env!("CARGO_BIN_EXE_refpod"),
        // The interop cases exchange archives with podman, both ways.
        "--peer",
        "podman",
        "--report-json",
        json.to_str().unwrap(),
    ]);
    let failures = test_support::not_passed(&report);
    assert!(
        failures.is_empty(),
        "refpod must pass every case:\n{}",
        failures.join("\n")
    );
    assert!(report.summary.passed >= 80, "{}", report.summary);
    let interop = report
        .cases
        .iter()
        .filter(|c| c.id.starts_with("interop."))
        .count();
    assert!(interop >= 4, "the interop cases ran: {interop}");
    for case in &report.cases {
        if case.status == Status::Skipped {
            let reason = case.reason.as_deref().unwrap_or("");
            assert!(
                reason.contains("soft-dirty"),
                "only missing soft-dirty tracking may skip a case here: {} {reason}",
                case.id
            );
        }
    }
}
