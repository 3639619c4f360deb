//! What the workspace's integration tests share (as cargo's `cargo-test-support` does for cargo):
//! an engine run inside the sandbox ([`Engine`]), the suite run in process from command-line words
//! ([`run_suite`]), the member names of an archive ([`members`]) and what the sandbox holds
//! ([`inventory`]). Each helper panics with what went wrong: it is for tests only.

use ckpt_sandbox::Sandbox;
use clap::Parser;
use conformance::report::{RunReport, Status};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// A podman-compatible engine inside a sandbox: its program and the words before each command
/// (`["podman"]`, or `[refpod, "--root", dir, "--runtime", "runc"]`).
pub struct Engine<'a> {
    pub sandbox: &'a Sandbox,
    pub argv: Vec<String>,
}

/// What a command printed, and how it ended (-1: killed by a signal).
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl<'a> Engine<'a> {
    /// The sandbox's own podman.
    pub fn podman(sandbox: &'a Sandbox) -> Engine<'a> {
        Engine {
            sandbox,
            argv: vec!["podman".into()],
        }
    }

    pub fn run(&self, args: &[&str]) -> Ran {
        let mut argv = self.argv.clone();
        argv.extend(args.iter().map(|a| a.to_string()));
        let out = self
            .sandbox
            .command(&argv)
            .unwrap()
            .output()
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let ran = self.run(args);
        assert_eq!(
            ran.code, 0,
            "{:?} {args:?} failed: {}",
            self.argv, ran.stderr
        );
        ran.stdout
    }

    /// The counter workload's last line in its `/count` ("COUNT BOOT", fixtures/workloads.toml),
    /// if the container answers.
    pub fn count(&self, name: &str) -> Option<(u64, String)> {
        let ran = self.run(&["exec", name, "tail", "-n", "1", "/count"]);
        let mut words = ran.stdout.split_whitespace();
        let count = words.next()?.parse().ok()?;
        let boot = words.next()?.to_string();
        (ran.code == 0).then_some((count, boot))
    }

    /// Waits (at most `within`) until the counter of `name` reaches `at_least`; what it read then.
    pub fn wait_count(&self, name: &str, at_least: u64, within: Duration) -> (u64, String) {
        let until = Instant::now() + within;
        loop {
            if let Some(read) = self.count(name).filter(|(n, _)| *n >= at_least) {
                return read;
            }
            assert!(
                Instant::now() < until,
                "{name} did not count to {at_least} in {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Container names, sorted.
    pub fn containers(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .ok(&["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .map(String::from)
            .collect();
        names.sort();
        names
    }
}

/// The sandbox podman's containers, volumes and images, by name, sorted: a run must leave it as
/// it found it.
pub fn inventory(sandbox: &Sandbox) -> Vec<String> {
    let podman = Engine::podman(sandbox);
    let mut all = vec![];
    let listings: [(&str, &[&str]); 3] = [
        ("ps", &["ps", "-a", "--format", "{{.Names}}"]),
        ("volume", &["volume", "ls", "--format", "{{.Name}}"]),
        (
            "images",
            &["images", "--format", "{{.Repository}}:{{.Tag}}"],
        ),
    ];
    for (what, args) in listings {
        all.extend(podman.ok(args).lines().map(|l| format!("{what}: {l}")));
    }
    all.sort();
    all
}

#[derive(Parser)]
struct SuiteCli {
    #[command(flatten)]
    suite: conformance::suite::SuiteArgs,
}

/// Runs the suite in this process with these command-line words (after the program name), as
/// `conformance WORDS...` would; its report.
pub fn run_suite<S: AsRef<str>>(words: &[S]) -> RunReport {
    let argv = std::iter::once("conformance").chain(words.iter().map(AsRef::as_ref));
    let cli = SuiteCli::try_parse_from(argv).expect("the suite's words parse");
    conformance::suite::execute(&cli.suite).expect("the suite ran")
}

/// The cases of a report that neither passed nor were skipped, one line each.
pub fn not_passed(report: &RunReport) -> Vec<String> {
    report
        .cases
        .iter()
        .filter(|c| !matches!(c.status, Status::Passed | Status::Skipped))
        .map(|c| {
            format!(
                "{} ({}): {}",
                c.id,
                c.status,
                c.reason.as_deref().unwrap_or("")
            )
        })
        .collect()
}

/// The member names of a tar archive, plain, gzip or zstd (told by its first bytes).
pub fn members(path: &Path) -> Vec<String> {
    let mut head = [0u8; 4];
    let mut file = std::fs::File::open(path).unwrap();
    let n = file.read(&mut head).unwrap();
    let file = std::fs::File::open(path).unwrap();
    let reader: Box<dyn Read> = match &head[..n] {
        [0x28, 0xb5, 0x2f, 0xfd] => Box::new(zstd::Decoder::new(file).unwrap()),
        [0x1f, 0x8b, ..] => Box::new(flate2::read::GzDecoder::new(file)),
        _ => Box::new(file),
    };
    tar::Archive::new(reader)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

/// A command's stdout then stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The workspace's `target/` folder (or `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// refpod, built (debug) for tests of other crates that need it as an engine.
pub fn refpod() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--package", "refpod"])
        .status()
        .unwrap();
    assert!(status.success(), "building refpod failed");
    target_dir().join("debug/refpod")
}
