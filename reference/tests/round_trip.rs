//! refpod for real in the ns sandbox: a container is checkpointed into an archive, restored from
//! it as a second container that carries on counting, and everything is removed again; with each
//! runtime. It uses a root folder of its own, so it never meets a suite run's containers.

use ckpt_sandbox::{testing, Sandbox};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Refpod<'a> {
    sandbox: &'a Sandbox,
    bin: PathBuf,
    root: String,
    runtime: &'a str,
}

impl Refpod<'_> {
    /// Runs refpod inside; returns (exit status, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut argv = vec![
            self.bin.display().to_string(),
            "--root".into(),
            self.root.clone(),
            "--runtime".into(),
            self.runtime.into(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        let out = self.sandbox.command(&argv).unwrap().output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "refpod {args:?}: {err}");
        out
    }

    fn progress(&self, name: &str) -> Option<u64> {
        let (code, out, _) = self.run(&["exec", name, "tail", "-n", "1", "/count"]);
        // "COUNT BOOT" (fixtures/workloads.toml)
        let count = out.split_whitespace().next()?.parse().ok();
        (code == 0).then_some(count).flatten()
    }

    /// Waits until the counter of `name` reaches `at_least`.
    fn wait_progress(&self, name: &str, at_least: u64) -> u64 {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(p) = self.progress(name).filter(|p| *p >= at_least) {
                return p;
            }
            assert!(Instant::now() < until, "{name} never reached {at_least}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The member names of a zstd-compressed tar.
fn members(path: &Path) -> Vec<String> {
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    assert_eq!(
        head,
        [0x28, 0xb5, 0x2f, 0xfd],
        "the default compression is zstd"
    );
    let dec = zstd::Decoder::new(std::fs::File::open(path).unwrap()).unwrap();
    tar::Archive::new(dec)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

fn round_trip(sandbox: &Sandbox, bin: &Path, runtime: &str) {
    let tag = format!("{runtime}-{}", std::process::id());
    let p = Refpod {
        sandbox,
        bin: bin.to_path_buf(),
        root: format!("/var/lib/refpod-selftest-{tag}"),
        runtime,
    };
    let share = sandbox
        .share_dir()
        .unwrap()
        .join("refpod-selftest")
        .join(&tag);
    std::fs::create_dir_all(&share).unwrap();
    let archive = share.join("ckpt.tar.zst");
    let (a, b) = (format!("a-{tag}"), format!("b-{tag}"));

    p.ok(&[
        "import",
        "/root/busybox-image.tar",
        "localhost/busybox:latest",
    ]);
    p.ok(&[
        "run",
        "-d",
        "--name",
        &a,
        "localhost/busybox:latest",
        "counter",
    ]);
    let mark = p.wait_progress(&a, 5);
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
    let names = members(&archive);
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
    let now = p.progress(&b).expect("the copy runs");
    assert!(now >= mark, "the copy started again: {now} < {mark}");
    p.wait_progress(&b, now + 1);

    p.ok(&["rm", "-f", "-t", "0", &a, &b]);
    p.ok(&["rmi", "-f", "localhost/busybox:latest"]);
    let leftovers = p.ok(&["ps", "-a"]);
    assert_eq!(leftovers.lines().count(), 1, "{leftovers}");
    let _ = std::fs::remove_dir_all(&share);
    let rm = sandbox
        .command(&["rm", "-rf", p.root.as_str()])
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
