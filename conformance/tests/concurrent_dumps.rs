//! CRIU dumps of different containers are independent, so the suite may run cases in parallel
//! (`--jobs`): two containers checkpointed at the same moment with podman, then restored at the same
//! moment, each carry on from their own count and with their own start token (fixtures/workloads.toml),
//! neither from the other's nor started again.

use ckpt_sandbox::{testing, Sandbox, TEST_IMAGE};
use std::time::Duration;
use test_support::Engine;

/// How long a counter may take to reach a count.
const WITHIN: Duration = Duration::from_secs(15);

/// The counter's progress, which must be readable.
fn count(podman: &Engine, name: &str) -> (u64, String) {
    podman
        .count(name)
        .unwrap_or_else(|| panic!("{name}: /count holds no \"COUNT BOOT\""))
}

/// Runs `podman ARGS NAME` for both names at once; both must succeed.
fn both_at_once(podman: &Engine, args: &[&str], names: [&str; 2]) {
    std::thread::scope(|scope| {
        let runs = names.map(|name| {
            scope.spawn(move || {
                let mut argv = args.to_vec();
                argv.push(name);
                (name, podman.run(&argv))
            })
        });
        for r in runs {
            let (name, out) = r.join().unwrap();
            assert_eq!(
                out.code,
                0,
                "podman {} {name}, run alongside the same for the other container, failed: {}",
                args.join(" "),
                out.stderr
            );
        }
    });
}

/// Removes the containers even when an assertion fails.
struct Containers<'a>(&'a Sandbox, [String; 2]);
impl Drop for Containers<'_> {
    fn drop(&mut self) {
        let [a, b] = &self.1;
        let _ = Engine::podman(self.0).run(&["rm", "-f", "-t", "0", a, b]);
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
    let podman = Engine::podman(&sandbox);
    let start = |name: &str| podman.ok(&["run", "-d", "--name", name, TEST_IMAGE, "counter"]);
    // One counter well ahead of the other: a restore that mixed up the two dumps shows as a count
    // jumping to the other's.
    start(&ahead);
    podman.wait_count(&ahead, 40, WITHIN);
    start(&behind);
    podman.wait_count(&behind, 5, WITHIN);

    let names = [ahead.as_str(), behind.as_str()];
    for round in 1..=3 {
        let marks = names.map(|n| count(&podman, n));
        both_at_once(&podman, &["container", "checkpoint"], names);
        both_at_once(&podman, &["container", "restore"], names);
        let ahead_mark = marks[0].0;
        for (name, (mark, boot)) in names.into_iter().zip(marks) {
            // Moving again after the restore, from where it was, as the same process.
            let (after, after_boot) = count(&podman, name);
            let (later, later_boot) = podman.wait_count(name, after + 1, WITHIN);
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
