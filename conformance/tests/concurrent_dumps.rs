//! CRIU dumps of different containers are independent, so the suite may run cases in parallel
//! (`--jobs`): two containers checkpointed at the same moment with podman, then restored at the same
//! moment, each carry on from their own count and with their own start token (fixtures/workloads.toml),
//! neither from the other's nor started again.

use ckpt_sandbox::{testing, Sandbox};
use std::process::Output;
use std::time::{Duration, Instant};

fn run(sandbox: &Sandbox, argv: &[&str]) -> Output {
    sandbox
        .command(argv)
        .unwrap()
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}

fn ok(sandbox: &Sandbox, argv: &[&str]) -> String {
    let out = run(sandbox, argv);
    assert!(
        out.status.success(),
        "{argv:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The counter workload's progress: the count and the start token in its `/count`.
fn count(sandbox: &Sandbox, name: &str) -> (u64, String) {
    let line = ok(sandbox, &["podman", "exec", name, "cat", "/count"]);
    let mut words = line.split_whitespace();
    let n = words.next().and_then(|n| n.parse().ok());
    let boot = words.next().map(String::from);
    n.zip(boot)
        .unwrap_or_else(|| panic!("{name}: /count holds {line:?}, not \"COUNT BOOT\""))
}

/// Waits until the counter of `name` passes `at_least`; returns what it read then.
fn wait_count(sandbox: &Sandbox, name: &str, at_least: u64) -> (u64, String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (n, boot) = count(sandbox, name);
        if n >= at_least {
            return (n, boot);
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not count to {at_least} (at {n})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `podman ARGS NAME` for both names at once; both must succeed.
fn both_at_once(sandbox: &Sandbox, args: &[&str], names: [&str; 2]) {
    std::thread::scope(|scope| {
        let runs = names.map(|name| {
            scope.spawn(move || {
                let mut argv = vec!["podman"];
                argv.extend_from_slice(args);
                argv.push(name);
                (name, run(sandbox, &argv))
            })
        });
        for r in runs {
            let (name, out) = r.join().unwrap();
            assert!(
                out.status.success(),
                "podman {} {name}, run alongside the same for the other container, failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
}

/// Removes the containers even when an assertion fails.
struct Containers<'a>(&'a Sandbox, [String; 2]);
impl Drop for Containers<'_> {
    fn drop(&mut self) {
        let [a, b] = &self.1;
        let _ = run(self.0, &["podman", "rm", "-f", "-t", "0", a, b]);
    }
}

#[test]
fn two_containers_checkpointed_and_restored_at_once_each_carry_on() {
    let Some(sandbox) = testing::started_sandbox_or_skip("concurrent_dumps") else {
        return;
    };
    let id = std::process::id();
    let (ahead, behind) = (
        format!("concurrent-ahead-{id}"),
        format!("concurrent-behind-{id}"),
    );
    let _guard = Containers(&sandbox, [ahead.clone(), behind.clone()]);
    let start = |name: &str| {
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
        )
    };
    // One counter well ahead of the other: a restore that mixed up the two dumps shows as a count
    // jumping to the other's.
    start(&ahead);
    wait_count(&sandbox, &ahead, 40);
    start(&behind);
    wait_count(&sandbox, &behind, 5);

    let names = [ahead.as_str(), behind.as_str()];
    for round in 1..=3 {
        let marks = names.map(|n| count(&sandbox, n));
        both_at_once(&sandbox, &["container", "checkpoint"], names);
        both_at_once(&sandbox, &["container", "restore"], names);
        let ahead_mark = marks[0].0;
        for (name, (mark, boot)) in names.into_iter().zip(marks) {
            // Moving again after the restore, from where it was, as the same process.
            let (after, after_boot) = count(&sandbox, name);
            let (later, later_boot) = wait_count(&sandbox, name, after + 1);
            assert!(
                after >= mark,
                "round {round}: {name} restarted: {after} after the restore, {mark} before"
            );
            assert!(
                after_boot == boot && later_boot == boot,
                "round {round}: {name} has another start token after the restore ({boot} before, \
                 {after_boot} then {later_boot}): restarted, or restored from the other's dump"
            );
            if name == behind {
                assert!(
                    later < ahead_mark,
                    "round {round}: {behind} carries on from {later}, the count of {ahead} ({ahead_mark}), not its own ({mark})"
                );
            }
        }
    }
}
