//! Spreading a suite over machines gives the verdicts of one run: the same cases run against
//! refpod whole and as three shards (`--partition k/3`), and the shards' reports, merged, hold
//! the same cases with the same statuses as the whole run's. A few fast cases of several groups
//! keep it to a few minutes.

use ckpt_sandbox::testing;
use conformance::report::{merge, RunReport, Status};
use std::path::Path;

const FILTERS: [&str; 4] = [
    "export.compress-",
    "validation.not-running-",
    "hostile.absolute",
    "hostile.setuid",
];

fn run(json: &Path, partition: Option<&str>) -> RunReport {
    let mut argv = vec![
        "--quiet".to_string(),
        "--bin".into(),
        env!("CARGO_BIN_EXE_refpod").into(),
        "--report-json".into(),
        json.display().to_string(),
    ];
    if let Some(p) = partition {
        argv.extend(["--partition".into(), p.into()]);
    }
    argv.extend(FILTERS.iter().map(|f| f.to_string()));
    test_support::run_suite(&argv);
    // What a machine of the sharded run hands on is its JSON: merge what was written.
    RunReport::read(json).unwrap()
}

fn statuses(report: &RunReport) -> Vec<(String, Status)> {
    report
        .cases
        .iter()
        .map(|c| (c.id.clone(), c.status))
        .collect()
}

#[test]
fn three_shards_merged_are_the_whole_run() {
    if testing::started_sandbox_or_skip("three_shards_merged_are_the_whole_run").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let whole = run(&dir.path().join("whole.json"), None);
    assert!(whole.cases.len() >= 8, "{:?}", statuses(&whole));
    assert!(whole.partition.is_none());

    let shards: Vec<RunReport> = (1..=3)
        .map(|k| {
            run(
                &dir.path().join(format!("{k}.json")),
                Some(&format!("{k}/3")),
            )
        })
        .collect();
    for (k, shard) in shards.iter().enumerate() {
        let p = shard
            .partition
            .expect("a shard's report names its partition");
        assert_eq!((p.index, p.count), (k as u32 + 1, 3));
        assert!(
            shard.cases.len() < whole.cases.len(),
            "shard {p} ran every case"
        );
    }
    let names = ["1.json", "2.json", "3.json"];
    let inputs: Vec<merge::Input> = shards
        .iter()
        .zip(names)
        .map(|(report, name)| merge::Input { name, report })
        .collect();
    let merged = merge::merge(&inputs, false).expect("the shards of one run merge");
    assert_eq!(statuses(&merged), statuses(&whole));
    assert_eq!(merged.summary, whole.summary);
    assert_eq!(
        merge::fingerprint(&merged.environment),
        merge::fingerprint(&whole.environment)
    );
    // Two shards are not the whole run, and the merge says so.
    let err = merge::merge(&inputs[..2], false).unwrap_err();
    assert!(err.contains("3/3 missing"), "{err}");
}
