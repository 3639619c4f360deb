//! The sandbox for real: a podman container checkpointed and restored with CRIU carries on where it
//! stopped, and `destroy` leaves the machine as it was.

use ckpt_sandbox::{host, testing, Config, Sandbox};
use std::collections::BTreeSet;
use std::process::Output;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The two tests compare machine-wide state (mounts, cgroups): run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

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

fn count(sandbox: &Sandbox, name: &str) -> u64 {
    // "COUNT BOOT" (fixtures/workloads.toml)
    ok(sandbox, &["podman", "exec", name, "cat", "/count"])
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("the counter file starts with a number")
}

fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes the container even when an assertion fails.
struct Container<'a>(&'a Sandbox, String);
impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = run(self.0, &["podman", "rm", "-f", "-t", "0", &self.1]);
    }
}

#[test]
fn checkpointed_counter_carries_on_after_restore() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(sandbox) =
        testing::started_sandbox_or_skip("checkpointed_counter_carries_on_after_restore")
    else {
        return;
    };
    let name = format!("lifecycle-{}", std::process::id());
    ok(
        &sandbox,
        &[
            "podman",
            "run",
            "-d",
            "--name",
            &name,
            "localhost/busybox:latest",
            "counter",
        ],
    );
    let _guard = Container(&sandbox, name.clone());
    // Let it count far enough that a restart from 1 cannot be mistaken for carrying on.
    poll("the counter to reach 10", || {
        (count(&sandbox, &name) >= 10).then_some(())
    });
    let before = count(&sandbox, &name);

    let stdout = ok(&sandbox, &["podman", "container", "checkpoint", &name]);
    assert_eq!(
        stdout,
        format!("{name}\n"),
        "checkpoint prints the name it was given"
    );
    let state = ok(
        &sandbox,
        &[
            "podman",
            "inspect",
            &name,
            "--format",
            "{{.State.Status}} {{.State.Checkpointed}}",
        ],
    );
    assert_eq!(
        state.trim(),
        "exited true",
        "a checkpointed container is exited and marked"
    );
    let images = ok(&sandbox, &["sh", "-c", &format!(
        "ls /var/lib/containers/storage/overlay-containers/$(podman inspect --format '{{{{.Id}}}}' {name})/userdata/checkpoint"
    )]);
    assert!(
        images.contains("inventory.img"),
        "CRIU wrote its images: {images}"
    );
    assert!(
        images.contains("pages-1.img"),
        "CRIU dumped memory pages: {images}"
    );

    ok(&sandbox, &["podman", "container", "restore", &name]);
    let after = count(&sandbox, &name);
    assert!(
        after >= before,
        "the counter restarted: {after} after restore, {before} before the checkpoint"
    );
    poll("the restored counter to move on", || {
        (count(&sandbox, &name) > after).then_some(())
    });
}

/// What a sandbox could leave on the host.
#[derive(Debug, PartialEq)]
struct HostTrace {
    mounts: Vec<String>,
    cgroups: BTreeSet<String>,
    sandbox_processes: Vec<i32>,
}

fn trace(mount_ns: Option<&str>) -> HostTrace {
    let cgroups = host::cgroup2_mount()
        .map(|root| host::cgroup_dirs(&root))
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.display().to_string())
        .collect();
    HostTrace {
        mounts: host::mount_lines(),
        cgroups,
        sandbox_processes: mount_ns
            .map(host::processes_in_mount_namespace)
            .unwrap_or_default(),
    }
}

/// A sandbox of its own, in a temporary cache, made from a copy of the shared build (no rebuild).
fn copy_of(shared: &Sandbox) -> (tempfile::TempDir, Sandbox) {
    let cache = tempfile::Builder::new()
        .prefix(".copy-test-")
        .tempdir_in(ckpt_sandbox::default_cache_dir())
        .unwrap();
    let built = shared.status().dir;
    let status = std::process::Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(&built)
        .arg(cache.path())
        .status()
        .unwrap();
    assert!(status.success(), "copying the sandbox build");
    let copy_dir = cache.path().join(built.file_name().unwrap());
    for stale in ["state.json", "init.log", "unshare.pid"] {
        let _ = std::fs::remove_file(copy_dir.join(stale));
    }
    let sandbox = Sandbox::new(Config {
        cache_dir: cache.path().to_path_buf(),
        ..Config::from_env()
    })
    .unwrap();
    (cache, sandbox)
}

#[test]
fn the_last_run_stops_the_sandbox_a_run_started() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(shared) =
        testing::started_sandbox_or_skip("the_last_run_stops_the_sandbox_a_run_started")
    else {
        return;
    };
    let (_cache, sandbox) = copy_of(&shared);
    assert!(!sandbox.status().running);

    let first = sandbox.lease().unwrap();
    assert!(sandbox.status().running, "a lease starts the sandbox");
    let second = sandbox.lease().unwrap();
    drop(first);
    assert!(
        sandbox.status().running,
        "another run still holds the sandbox"
    );
    drop(second);
    assert!(
        !sandbox.status().running,
        "the last run stops the sandbox a run started"
    );

    // Started by hand (`cargo xtask sandbox start`): a run leaves it running.
    sandbox.start().unwrap();
    drop(sandbox.lease().unwrap());
    assert!(
        sandbox.status().running,
        "a run stopped a sandbox it did not start"
    );
    sandbox.destroy().unwrap();
}

#[test]
fn destroy_leaves_the_machine_as_it_was() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(shared) = testing::started_sandbox_or_skip("destroy_leaves_the_machine_as_it_was")
    else {
        return;
    };
    // Destroy a copy of the shared build, so that other tests keep theirs.
    let (_cache, sandbox) = copy_of(&shared);
    let copy_dir = sandbox.status().dir;

    let before = trace(None);
    sandbox.start().unwrap();
    let init = sandbox.status().init_pid.expect("running");
    let mount_ns = host::mount_namespace(init).unwrap();
    ok(
        &sandbox,
        &[
            "podman",
            "run",
            "-d",
            "--name",
            "destroy-me",
            "localhost/busybox:latest",
            "counter",
        ],
    );
    ok(&sandbox, &["podman", "volume", "create", "destroy-vol"]);
    assert!(
        !trace(Some(&mount_ns)).sandbox_processes.is_empty(),
        "the sandbox runs processes"
    );

    // The cgroup2 tree is the host's: other sandboxes may add cgroups meanwhile, so the ones that
    // must be gone are those named after this sandbox's containers.
    let ids = ok(&sandbox, &["podman", "ps", "-a", "-q", "--no-trunc"]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    assert!(!ids.is_empty());

    // Other software's cgroup, made on the host's tree while the sandbox runs: not the sandbox's.
    let foreign = host::cgroup2_mount()
        .unwrap()
        .join(format!("not-the-sandbox-{}", std::process::id()));
    std::fs::create_dir(&foreign).unwrap();

    sandbox.destroy().unwrap();
    let foreign_kept = foreign.is_dir();
    let _ = std::fs::remove_dir(&foreign);
    assert!(foreign_kept, "stop removed another program's cgroup");
    let after = trace(Some(&mount_ns));
    assert_eq!(
        after.sandbox_processes,
        Vec::<i32>::new(),
        "processes left behind"
    );
    assert_eq!(after.mounts, before.mounts, "mounts left behind");
    let left: Vec<_> = after
        .cgroups
        .difference(&before.cgroups)
        .filter(|cgroup| ids.iter().any(|id| cgroup.contains(id)))
        .collect();
    assert!(left.is_empty(), "cgroups left behind: {left:?}");
    assert!(!copy_dir.exists(), "the build is deleted");
    let status = sandbox.status();
    assert!(!status.built && !status.running);
}
