//! `--pre-checkpoint` and `--with-previous` need soft-dirty memory tracking, which the host kernel
//! lacks, so in the `ns` sandbox their cases are skipped. Here they run where they can: the `vm`
//! sandbox (Debian's kernel under qemu), against refpod and against podman, and every one of them
//! must pass; none may be skipped.
//!
//! Under software emulation this takes minutes, so it runs only with `CKPT_VM_TESTS=1` (a SKIPPED
//! line says so otherwise); CI sets it.

use ckpt_sandbox::{Backend, Config, Sandbox};
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    suite: conformance::suite::SuiteArgs,
}

/// Runs the pre-checkpoint cases (and the validation case of the two options) against `bin` in the
/// vm sandbox; returns the statuses by case id.
fn run_in_vm(bin: &str) -> Vec<(String, String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let cli = Cli::parse_from([
        "conformance",
        "--quiet",
        "--sandbox",
        "vm",
        "--jobs",
        "1",
        "--bin",
        bin,
        "--report-json",
        json.to_str().unwrap(),
        "pre-checkpoint",
    ]);
    conformance::suite::run(cli.suite).expect("the suite ran");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
                c["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn pre_checkpoint_cases_pass_in_the_vm_on_refpod_and_podman() {
    if std::env::var("CKPT_VM_TESTS").as_deref() != Ok("1") {
        eprintln!(
            "SKIPPED pre_checkpoint_cases_pass_in_the_vm_on_refpod_and_podman: the vm sandbox \
             boots qemu, which takes minutes under software emulation: set CKPT_VM_TESTS=1 to run it"
        );
        return;
    }
    // One boot for both targets: each suite run would otherwise start the vm and stop it again.
    let vm = Sandbox::new(Config {
        backend: Backend::Vm,
        ..Config::from_env()
    })
    .unwrap();
    let lease = vm.lease().expect("starting the vm sandbox");
    let mut problems = vec![];
    for bin in [env!("CARGO_BIN_EXE_refpod"), "podman"] {
        let cases = run_in_vm(bin);
        assert!(
            cases.len() >= 5,
            "{bin}: expected the pre-checkpoint group, found {cases:?}"
        );
        for (id, status, reason) in cases {
            // These check the refusal where soft-dirty tracking is missing: in the vm, which has
            // it, they must be skipped with that reason; every other case must pass.
            let expected = if id.starts_with("pre-checkpoint.unsupported-") {
                "skipped"
            } else {
                "passed"
            };
            if status != expected {
                problems.push(format!(
                    "{bin}: {id} {status} (expected {expected}): {reason}"
                ));
            }
        }
    }
    drop(lease);
    assert!(
        problems.is_empty(),
        "every pre-checkpoint case must pass in the vm:\n{}",
        problems.join("\n")
    );
}
