//! The shim binary end to end, installed as the harness installs it (a copy named `mutant-<name>`
//! with its TOML next to it), in front of a fake target: a shell script that prints the arguments
//! it was given, answers `container inspect`, and writes a plain tar for `checkpoint -e FILE`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ID: &str = "bf38382b8b700a0b8b9514403d1b68be97d426141f28f71ad26cf25866951349";

const FAKE_TARGET: &str = r#"#!/bin/sh
echo "$*" >>"$(dirname "$0")/calls"
case "$1 $2" in
"container inspect")
    case "$3" in missing*) echo "Error: no such container $3" >&2; exit 125 ;; esac
    printf '[{"Id": "%s", "Name": "%s", "State": {"Status": "exited", "Checkpointed": true}}]\n' "$ID" "$3"
    exit 0 ;;
"container checkpoint")
    prev=""
    for a in "$@"; do
        [ "$prev" = "-e" ] && out=$a
        [ "$a" = "--latest" ] && latest=1
        prev=$a
    done
    if [ -n "$latest" ]; then
        echo "Error: --all and --latest cannot be used together" >&2
        exit 125
    fi
    if [ -n "$out" ]; then
        d=$(mktemp -d)
        echo stats >"$d/stats-dump"
        echo '{}' >"$d/config.dump"
        tar -C "$d" -cf "$out" config.dump stats-dump
        rm -r "$d"
    fi ;;
"container restore")
    if [ "$3" = "-i" ]; then
        echo "Error: a complete checkpoint for this container cannot be found" >&2
        exit 125
    fi ;;
esac
echo "args: $*"
"#;

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, FAKE_TARGET.replace("$ID", ID)).unwrap();
        chmod_x(&target);
        Setup { dir }
    }

    /// Installs the shim as `mutant-<name>` and runs it with `args`.
    fn run(&self, mutant: &str, args: &[&str]) -> Output {
        let shim = self.dir.path().join(format!("mutant-{mutant}"));
        std::fs::copy(env!("CARGO_BIN_EXE_mutant-shim"), &shim).unwrap();
        mutants::shim::ShimConfig {
            mutant: mutant.into(),
            target: self.dir.path().join("target").display().to_string(),
        }
        .write_for(&shim)
        .unwrap();
        // As the suite runs a target: a clean environment.
        let mut command = Command::new(&shim);
        command.args(args).env_clear().env("PATH", "/usr/bin:/bin");
        output(&mut command)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Runs it, again while the copy just made is "busy": a test thread that forks while another
/// one writes its copy holds that file open for writing until it execs.
fn output(command: &mut Command) -> Output {
    for _ in 0..50 {
        match command.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            result => return result.unwrap(),
        }
    }
    panic!("the shim stayed busy")
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_control_passes_everything_through() {
    let s = Setup::new();
    let out = s.run(
        "control",
        &["--runtime", "runc", "container", "checkpoint", "-R", "c"],
    );
    assert_eq!(
        stdout(&out),
        "args: --runtime runc container checkpoint -R c\n"
    );
    let out = s.run("control", &["container", "checkpoint", "--all", "--latest"]);
    assert_eq!(out.status.code(), Some(125));
    let out = s.run("control", &["exec", "c", "cat", "/count"]);
    assert_eq!(stdout(&out), "args: exec c cat /count\n");
}

#[test]
fn an_option_is_dropped_added_or_changed() {
    let s = Setup::new();
    let out = s.run("drop-keep", &["container", "checkpoint", "-k", "c"]);
    assert_eq!(stdout(&out), "args: container checkpoint c\n");
    let out = s.run("keep-by-default", &["container", "restore", "c"]);
    assert_eq!(stdout(&out), "args: container restore --keep c\n");
    let out = s.run("drop-keep", &["container", "inspect", "c"]);
    assert!(stdout(&out).contains("\"Checkpointed\": true"));

    let file = s.file("ckpt.tar");
    let f = file.to_str().unwrap();
    let out = s.run(
        "compress-gzip-as-zstd",
        &["container", "checkpoint", "-e", f, "-c", "GZIP", "c"],
    );
    assert_eq!(
        stdout(&out),
        format!("args: container checkpoint -e {f} --compress=zstd c\n")
    );
}

#[test]
fn the_archive_is_rewritten_after_the_target_wrote_it() {
    let s = Setup::new();
    let file = s.file("ckpt.tar");
    let f = file.to_str().unwrap();
    let out = s.run("control", &["container", "checkpoint", "-e", f, "c"]);
    assert!(out.status.success());
    assert_eq!(test_support::members(&file), ["config.dump", "stats-dump"]);

    let out = s.run(
        "archive-without-stats-dump",
        &["container", "checkpoint", "-e", f, "c"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(test_support::members(&file), ["config.dump"]);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[257..262], b"ustar", "still a plain tar");
}

#[test]
fn outputs_and_exit_statuses_deviate() {
    let s = Setup::new();
    let out = s.run("inspect-not-checkpointed", &["container", "inspect", "c"]);
    assert!(stdout(&out).contains("\"Checkpointed\": false"));

    let out = s.run("full-ids-printed", &["container", "checkpoint", "c"]);
    assert!(stdout(&out).contains(ID), "{}", stdout(&out));

    let args = ["container", "checkpoint", "--all", "--latest"];
    assert_eq!(s.run("control", &args).status.code(), Some(125));
    let out = s.run("validation-exits-zero", &args);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used together"));
    let out = s.run("errors-reworded", &args);
    assert!(String::from_utf8_lossy(&out.stderr).contains("are mutually exclusive"));
}

#[test]
fn without_its_configuration_the_shim_says_so() {
    let s = Setup::new();
    let shim = s.file("mutant-lost");
    std::fs::copy(env!("CARGO_BIN_EXE_mutant-shim"), &shim).unwrap();
    let out = output(Command::new(&shim).arg("--version"));
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mutant-lost.toml"), "{err}");
}

/// A plain tar export with a `config.dump` naming `missing-h` and a member `../escape`.
fn hostile_export(path: &Path) {
    let mut b = tar::Builder::new(vec![]);
    let config = br#"{"name": "missing-h", "rootfsImageName": "localhost/busybox:latest", "command": ["sh"]}"#;
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o600);
    h.set_size(config.len() as u64);
    b.append_data(&mut h, "config.dump", &config[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(1);
    h.as_old_mut().name[..9].copy_from_slice(b"../escape");
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    std::fs::write(path, b.into_inner().unwrap()).unwrap();
}

#[test]
fn a_failed_import_deviates() {
    let s = Setup::new();
    let archive = s.file("in/h.tar");
    std::fs::create_dir(s.file("in")).unwrap();
    hostile_export(&archive);
    let args = ["container", "restore", "-i", archive.to_str().unwrap()];

    let out = s.run("import-failure-exits-zero", &args);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error:"));

    let out = s.run("import-leaves-container", &args);
    assert_eq!(out.status.code(), Some(125));
    let calls = std::fs::read_to_string(s.file("calls")).unwrap();
    assert!(
        calls.contains("create --name missing-h localhost/busybox:latest sh"),
        "{calls}"
    );

    assert!(!s.file("in/escape").exists());
    let out = s.run("import-unsanitised", &args);
    assert_eq!(out.status.code(), Some(125));
    assert!(s.file("in/h.tar.extract/config.dump").exists());
    assert!(
        s.file("in/escape").exists(),
        "`../escape` lands beside the extraction folder"
    );
}
