//! The `vm` sandbox for real: it boots Debian's kernel, which tracks soft-dirty memory, so podman's
//! `--pre-checkpoint` and `--with-previous` work there; the counter carries on after the restore; and
//! `stop` leaves no qemu and nothing of the run behind.
//!
//! Under software emulation a boot takes about a minute and every podman command 1-3 s, so this runs
//! only with `CKPT_VM_TESTS=1` (a SKIPPED line says so otherwise).

use ckpt_sandbox::{Backend, Config, Sandbox};
use std::time::{Duration, Instant};

fn vm_or_skip(test: &str) -> Option<Sandbox> {
    if std::env::var("CKPT_VM_TESTS").as_deref() != Ok("1") {
        eprintln!(
            "SKIPPED {test}: the vm sandbox boots qemu, which takes minutes under software \
             emulation: set CKPT_VM_TESTS=1 to run it"
        );
        return None;
    }
    let sandbox = Sandbox::new(Config {
        backend: Backend::Vm,
        ..Config::from_env()
    })
    .unwrap();
    let started = Instant::now();
    sandbox
        .build()
        .unwrap_or_else(|e| panic!("{test}: building the vm sandbox: {e:#}"));
    eprintln!("[{test}] built in {:.0} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    sandbox
        .start()
        .unwrap_or_else(|e| panic!("{test}: starting the vm sandbox: {e:#}"));
    eprintln!(
        "[{test}] started in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Some(sandbox)
}

fn ok(sandbox: &Sandbox, argv: &[&str]) -> String {
    let out = sandbox
        .command(argv)
        .unwrap()
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e:#}"));
    assert!(
        out.status.success(),
        "{argv:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn count(sandbox: &Sandbox, name: &str) -> u64 {
    // "COUNT BOOT" (fixtures/workloads.toml)
    ok(sandbox, &["podman", "exec", name, "cat", "/count"])
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("the counter file starts with a number")
}

/// Processes whose command line names the build folder: the sandbox's qemu.
fn qemus_of(dir: &std::path::Path) -> Vec<i32> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn pre_checkpoint_then_with_previous_restores_a_counter() {
    let test = "pre_checkpoint_then_with_previous_restores_a_counter";
    let Some(sandbox) = vm_or_skip(test) else {
        return;
    };
    let started = Instant::now();
    let dirty = ok(&sandbox, &["criu", "check", "--feature", "mem_dirty_track"]);
    assert!(dirty.contains("is supported"), "criu check: {dirty}");

    let name = "vm-counter";
    let _ = sandbox
        .command(&["podman", "rm", "-f", "-t", "0", name])
        .unwrap()
        .output();
    ok(
        &sandbox,
        &[
            "podman",
            "run",
            "-d",
            "--name",
            name,
            "localhost/busybox:latest",
            "counter",
        ],
    );
    // Let it count far enough that a restart from 1 cannot pass for carrying on. `/count` appears
    // only at the container's first tick, so a failed read is a zero.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = sandbox
            .command(&["podman", "exec", name, "cat", "/count"])
            .unwrap()
            .output()
            .unwrap();
        let n: u64 = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if n >= 10 {
            break;
        }
        assert!(Instant::now() < deadline, "the counter never reached 10");
    }
    ok(
        &sandbox,
        &[
            "podman",
            "container",
            "checkpoint",
            "--pre-checkpoint",
            name,
        ],
    );
    let state = ok(
        &sandbox,
        &["podman", "inspect", name, "--format", "{{.State.Status}}"],
    );
    assert_eq!(
        state.trim(),
        "running",
        "a pre-checkpoint leaves it running"
    );
    // The count goes on until the checkpoint freezes it: whatever it was then is at least this.
    let before = count(&sandbox, name);
    ok(
        &sandbox,
        &["podman", "container", "checkpoint", "--with-previous", name],
    );
    let dir = ok(&sandbox, &["sh", "-c", &format!(
        "ls /var/lib/containers/storage/overlay-containers/$(podman inspect --format '{{{{.Id}}}}' {name})/userdata/checkpoint"
    )]);
    assert!(
        dir.split_whitespace().any(|f| f == "parent"),
        "the final checkpoint links its pre-checkpoint as parent: {dir}"
    );
    ok(&sandbox, &["podman", "container", "restore", name]);
    let after = count(&sandbox, name);
    assert!(
        after >= before,
        "the counter restarted: {after} after restore, {before} before the checkpoint"
    );
    ok(&sandbox, &["podman", "rm", "-f", "-t", "0", name]);
    eprintln!(
        "[{test}] checked in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let dir = sandbox.status().dir;
    assert!(!qemus_of(&dir).is_empty(), "qemu runs the sandbox");
    sandbox.stop().unwrap();
    assert_eq!(qemus_of(&dir), Vec::<i32>::new(), "qemu outlived stop");
    for left in ["overlay.qcow2", "agent", "qemu.pid", "state.json"] {
        assert!(!dir.join(left).exists(), "stop left {left} behind");
    }
    assert!(!sandbox.status().running);
}
