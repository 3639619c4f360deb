//! `--pre-checkpoint` and `--with-previous` need soft-dirty memory tracking, which the host kernel
//! lacks, so in the `ns` sandbox their cases are skipped. Here they run where they can: the `vm`
//! sandbox (Debian's kernel under qemu), against refpod and against podman, and every one of them
//! must pass; none may be skipped.
//!
//! Under software emulation this takes minutes, so it runs only with `CKPT_VM_TESTS=1` (a SKIPPED
//! line says so otherwise); CI sets it.

use ckpt_sandbox::{Backend, Config, Sandbox};
/// Runs the pre-checkpoint cases (and the validation case of the two options) against `bin` in the
/// vm sandbox; returns the statuses by case id.
fn run_in_vm(bin: &str) -> Vec<(String, String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let report = test_support::run_suite(&[
        "--quiet",
        "--report-json",
        json.to_str().unwrap(),
        "--sandbox",
        "vm",
        "--jobs",
        "1",
        "--bin",
        bin,
        "pre-checkpoint",
    ]);
    report
        .cases
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                c.status.to_string(),
                c.reason.clone().unwrap_or_default(),
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
