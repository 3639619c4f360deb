//! refpod for real in the ns sandbox: a container is checkpointed into an archive, restored from
//! it as a second container that carries on counting, and everything is removed again; with each
//! runtime. It uses a root folder of its own, so it never meets a suite run's containers.

use ckpt_sandbox::{testing, Sandbox, TEST_IMAGE, TEST_IMAGE_TARBALL};
use std::path::Path;
use std::time::Duration;
use test_support::Engine;

fn round_trip(sandbox: &Sandbox, bin: &Path, runtime: &str) {
    let tag = format!("{runtime}-{}", std::process::id());
    let root = format!("/var/lib/refpod-selftest-{tag}");
    let p = Engine {
        sandbox,
        argv: [bin.to_str().unwrap(), "--root", &root, "--runtime", runtime]
            .map(String::from)
            .to_vec(),
    };
    let share = sandbox
        .share_dir()
        .unwrap()
        .join("refpod-selftest")
        .join(&tag);
    std::fs::create_dir_all(&share).unwrap();
    let archive = share.join("ckpt.tar.zst");
    let (a, b) = (format!("a-{tag}"), format!("b-{tag}"));

    p.ok(&["import", TEST_IMAGE_TARBALL, TEST_IMAGE]);
    p.ok(&["run", "-d", "--name", &a, TEST_IMAGE, "counter"]);
    let (mark, _) = p.wait_count(&a, 5, Duration::from_secs(10));
    let out = p.ok(&[
        "container",
        "checkpoint",
        "-e",
        archive.to_str().unwrap(),
        &a,
    ]);
    assert_eq!(out, format!("{a}\n"));
    let inspect = p.ok(&["container", "inspect", &a]);
    assert!(inspect.contains("\"Checkpointed\": true"), "{inspect}");
    let head = std::fs::read(&archive).unwrap();
    assert!(
        head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]),
        "the default compression is zstd"
    );
    let names = test_support::members(&archive);
    for want in [
        "config.dump",
        "spec.dump",
        "stats-dump",
        "checkpoint/inventory.img",
    ] {
        assert!(names.iter().any(|n| n == want), "no {want} in {names:?}");
    }
    p.ok(&[
        "container",
        "restore",
        "-i",
        archive.to_str().unwrap(),
        "--name",
        &b,
    ]);
    let (now, _) = p.count(&b).expect("the copy runs");
    assert!(now >= mark, "the copy started again: {now} < {mark}");
    p.wait_count(&b, now + 1, Duration::from_secs(10));

    p.ok(&["rm", "-f", "-t", "0", &a, &b]);
    p.ok(&["rmi", "-f", TEST_IMAGE]);
    let leftovers = p.ok(&["ps", "-a"]);
    assert_eq!(leftovers.lines().count(), 1, "{leftovers}");
    let _ = std::fs::remove_dir_all(&share);
    let rm = sandbox
        .command(&["rm", "-rf", root.as_str()])
        .unwrap()
        .output()
        .unwrap();
    assert!(rm.status.success());
}

#[test]
fn checkpoint_export_and_import_with_crun_and_runc() {
    let Some(sandbox) = testing::started_sandbox_or_skip("refpod round trip") else {
        return;
    };
    let bin = sandbox
        .install_binary(Path::new(env!("CARGO_BIN_EXE_refpod")))
        .unwrap();
    for runtime in ["crun", "runc"] {
        round_trip(&sandbox, &bin, runtime);
    }
}
