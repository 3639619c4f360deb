//! Capabilities: facts of the machine and the target, probed once at the start of a run. They decide
//! skips (`requires`), fingerprint the environment in reports, and are what the annotation oracle
//! checks a checkpoint image against. They are read from the machine itself (`uname`, `criu`, the
//! runtime's own `--version`), never from the target's claims, except the target's version and its
//! default runtime name.

use crate::oracle::image::HostFacts;
use crate::report::Environment;
use crate::target::{Call, Target};
use std::time::Duration;

const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a case that needs a second engine is skipped in a run without one.
pub const NO_PEER: &str = "needs a second engine to exchange archives with: run with --peer BIN \
(`cargo xtask conformance` sets podman, or refpod when the target is podman)";

#[derive(Debug, Clone)]
pub struct Capabilities {
    pub facts: HostFacts,
    /// `Err(reason)` when CRIU is missing or unusable.
    pub criu: Result<(), String>,
    /// `Err(reason)` without soft-dirty memory tracking (needed by --pre-checkpoint).
    pub soft_dirty: Result<(), String>,
    pub root: bool,
    /// `Err(reason)` when the run has no peer engine (`--peer`).
    pub peer: Result<(), String>,
    /// `Err(reason)` when the target cannot checkpoint with its runtime at all (podman refuses
    /// runsc): every case is skipped with it, [`probe_runtime`].
    pub checkpoint: Result<(), String>,
    pub environment: Environment,
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// Go's name for the architecture, as podman reports it.
pub fn go_arch(machine: &str) -> String {
    match machine {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "i686" | "i386" => "386",
        "armv7l" => "arm",
        other => other,
    }
    .to_string()
}

/// `Version: 4.2.1` -> 40201, as podman encodes it in the criu.version annotation.
pub fn criu_version_number(output: &str) -> Option<u32> {
    let line = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))?;
    let mut parts = line.trim().split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some(major * 10000 + minor * 100 + patch)
}

/// A field of /etc/os-release read as podman's `GetHostDistributionInfo` (libpod/info.go, the
/// same in 5.4.2 and 5.8) reads it: every line starting with `KEY=` sets it (the last one wins),
/// with its `"` trimmed; "unknown" without one (Debian testing has no VERSION_ID) or without
/// the file.
fn os_release_field(text: &str, key: &str) -> String {
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .next_back()
        .map_or_else(
            || "unknown".to_string(),
            |v| v.trim_matches('"').to_string(),
        )
}

/// The independent readers of what a target writes (checkpointctl, crit, skopeo), each with the
/// version of its Debian package (Debian's checkpointctl 1.3.0 reports no version of its own), or
/// `missing` (then the oracles that need it say so in their findings).
fn readers_versions(out: &dyn Fn(&str) -> String) -> String {
    [
        ("checkpointctl", "checkpointctl"),
        ("crit", "python3-pycriu"),
        ("skopeo", "skopeo"),
    ]
    .iter()
    .map(|(name, package)| {
        let text = out(&format!(
            "dpkg-query -W -f '${{Version}}' {package} 2>/dev/null"
        ));
        format!("{name} {}", reader_version(&text).unwrap_or("missing"))
    })
    .collect::<Vec<_>>()
    .join(", ")
}

/// The first version-like word of a reader's output: `skopeo version 1.18.0` -> `1.18.0`.
fn reader_version(text: &str) -> Option<&str> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('.'))
}

impl Capabilities {
    pub fn probe(target: &Target, runtime: Option<&str>, sandbox_label: &str) -> Capabilities {
        let sh = |cmd: &str| {
            target.run_inside(vec!["sh".into(), "-c".into(), cmd.into()], PROBE_TIMEOUT)
        };
        let out = |cmd: &str| sh(cmd).stdout.trim().to_string();

        let target_version = target
            .call(&["--version".into()], PROBE_TIMEOUT)
            .stdout
            .split_whitespace()
            .next_back()
            .unwrap_or("")
            .to_string();
        let runtime_name = match runtime {
            Some(r) => r.to_string(),
            None => {
                let info = target.call(
                    &["info".into(), "--format".into(), "json".into()],
                    PROBE_TIMEOUT,
                );
                serde_json::from_str::<serde_json::Value>(&info.stdout)
                    .ok()
                    .and_then(|v| {
                        v.pointer("/host/ociRuntime/name")?
                            .as_str()
                            .map(String::from)
                    })
                    .unwrap_or_else(|| "crun".into())
            }
        };
        let runtime_version = first_line(&out(&format!("{runtime_name} --version")));
        let criu_call = sh("criu --version");
        let criu_version = criu_version_number(&criu_call.stdout).unwrap_or(0);
        let conmon = out("command -v conmon >/dev/null && conmon --version");
        let os_release = out("cat /etc/os-release");
        let cgroup_fs = out("stat -fc %T /sys/fs/cgroup");

        let facts = HostFacts {
            arch: go_arch(&out("uname -m")),
            kernel: out("uname -r"),
            cgroups_version: if cgroup_fs == "cgroup2fs" { "v2" } else { "v1" }.into(),
            runtime_name: runtime_name.clone(),
            runtime_version: runtime_version.clone(),
            criu_version,
            conmon_version: (!conmon.is_empty()).then(|| first_line(&conmon)),
            target_version: target_version.clone(),
            distribution_name: os_release_field(&os_release, "ID"),
            distribution_version: os_release_field(&os_release, "VERSION_ID"),
        };
        let criu = if criu_version == 0 {
            Err(format!(
                "CRIU is not usable: `criu --version` said {:?}",
                criu_call.stderr.trim()
            ))
        } else {
            Ok(())
        };
        let dirty = sh("criu check --feature mem_dirty_track");
        let soft_dirty = if dirty.ok() {
            Ok(())
        } else {
            Err(format!(
                "no soft-dirty memory tracking on kernel {} (`criu check --feature mem_dirty_track`: {})",
                facts.kernel,
                first_line(&format!("{}{}", dirty.stdout, dirty.stderr))
            ))
        };
        let root = out("id -u") == "0";
        let environment = Environment {
            target: target.bin.clone(),
            target_version,
            runtime: runtime_name,
            runtime_version,
            criu_version: first_line(&criu_call.stdout)
                .trim_start_matches("Version:")
                .trim()
                .to_string(),
            kernel: facts.kernel.clone(),
            cgroup_version: facts.cgroups_version.clone(),
            distribution: format!("{} {}", facts.distribution_name, facts.distribution_version),
            sandbox: sandbox_label.to_string(),
            peer: String::new(),
            readers: readers_versions(&out),
            service: String::new(),
        };
        Capabilities {
            facts,
            criu,
            soft_dirty,
            root,
            peer: Err(NO_PEER.to_string()),
            checkpoint: Ok(()),
            environment,
        }
    }

    /// Why the case cannot run here, if it cannot.
    pub fn unmet(&self, requires: &[String]) -> Option<String> {
        // Every case checkpoints: a target that cannot, with this runtime, runs none.
        if let Err(reason) = &self.checkpoint {
            return Some(reason.clone());
        }
        requires.iter().find_map(|r| match r.as_str() {
            "criu" => self.criu.clone().err(),
            "soft-dirty" => self.soft_dirty.clone().err(),
            // The cases that check the refusal where memory tracking is missing.
            "no-soft-dirty" => self.soft_dirty.is_ok().then(|| {
                "checks the refusal without soft-dirty memory tracking, and this kernel has it"
                    .to_string()
            }),
            "root" => (!self.root).then(|| "needs root inside the sandbox".to_string()),
            "peer" => self.peer.clone().err(),
            other => match other.strip_prefix("runtime:") {
                Some(rt) if rt == self.facts.runtime_name => None,
                Some(rt) => Some(format!(
                    "needs the OCI runtime {rt}; this run uses {}",
                    self.facts.runtime_name
                )),
                None => Some(format!("unknown requirement {other:?}")),
            },
        })
    }
}

/// What one probe of the runtime found: whether a run can judge checkpoints at all.
#[derive(Debug, PartialEq)]
pub enum RuntimeProbe {
    /// The target creates a container with the runtime and does not refuse to checkpoint it.
    Usable,
    /// The target cannot checkpoint with this runtime (podman: "configured runtime does not
    /// support checkpoint/restore"; refpod runs only crun and runc): a whole-run skip, the reason.
    Refused(String),
    /// The runtime given with `--runtime` is nowhere in the sandbox: a usage error, not a skip.
    Missing(String),
}

/// The first line of what a failed call said.
fn said(call: &Call) -> String {
    match call.exit {
        None => "killed at its timeout".to_string(),
        Some(_) => first_line(if call.stderr.trim().is_empty() {
            &call.stdout
        } else {
            &call.stderr
        }),
    }
}

/// Judges the probe's two calls: `create` of a container that is never started, then `container
/// checkpoint` of it (`None` when create failed). A created container is not running, so a target
/// that can checkpoint refuses only for that ("container state improper"); one whose runtime
/// cannot says so before looking at the state, as podman does. A failed create is a refusal only
/// for a runtime named with `--runtime` (`explicit`) that is installed: without `--runtime` the
/// target is broken, and its cases must fail and show it.
pub fn judge_runtime(
    bin: &str,
    runtime: &str,
    explicit: bool,
    installed: bool,
    create: &Call,
    checkpoint: Option<&Call>,
) -> RuntimeProbe {
    if !create.ok() {
        return match (explicit, installed) {
            (false, _) => RuntimeProbe::Usable,
            (true, false) => RuntimeProbe::Missing(format!(
                "no OCI runtime {runtime:?} in the sandbox, and `{bin} --runtime {runtime} create` \
                 failed: {}",
                said(create)
            )),
            (true, true) => RuntimeProbe::Refused(format!(
                "{bin} cannot create a container with the OCI runtime {runtime}, let alone \
                 checkpoint it (probed once: {})",
                said(create)
            )),
        };
    }
    match checkpoint {
        Some(call)
            if !call.ok()
                && format!("{}{}", call.stdout, call.stderr)
                    .to_lowercase()
                    .contains("does not support checkpoint") =>
        {
            RuntimeProbe::Refused(format!(
                "{bin} cannot checkpoint with the OCI runtime {runtime} (probed once: {})",
                said(call)
            ))
        }
        _ => RuntimeProbe::Usable,
    }
}

/// Whether `runtime` (a name or a path) is an executable inside the sandbox.
pub fn runtime_installed(target: &Target, runtime: &str) -> bool {
    target
        .run_inside(
            ["sh", "-c", "command -v \"$1\" >/dev/null", "sh", runtime]
                .map(String::from)
                .to_vec(),
            PROBE_TIMEOUT,
        )
        .ok()
}

/// Probes once whether `target` can checkpoint with `runtime` (the name of its `--runtime`, or
/// of its default when `explicit` is false): creates a container named `name` from `image`,
/// asks to checkpoint it, removes it.
pub fn probe_runtime(
    target: &Target,
    runtime: &str,
    explicit: bool,
    image: &str,
    name: &str,
) -> RuntimeProbe {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let create = target.call(
        &args(&["create", "--name", name, image, "true"]),
        PROBE_TIMEOUT,
    );
    let checkpoint = create
        .ok()
        .then(|| target.call(&args(&["container", "checkpoint", name]), PROBE_TIMEOUT));
    target.call(
        &args(&["rm", "-f", "-t", "0", "--ignore", name]),
        PROBE_TIMEOUT,
    );
    let installed = runtime_installed(target, runtime);
    judge_runtime(
        &target.bin,
        runtime,
        explicit,
        installed,
        &create,
        checkpoint.as_ref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(exit: i32, stderr: &str) -> Call {
        Call {
            argv: vec![],
            exit: Some(exit),
            stdout: String::new(),
            stderr: stderr.to_string(),
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn a_runtime_that_cannot_checkpoint_is_refused_with_the_targets_words() {
        // podman 5.4.2 and 5.8.6 with --runtime runsc (observed in the sandbox).
        let refusal = call(
            125,
            "Error: configured runtime does not support checkpoint/restore\n",
        );
        let probe = judge_runtime("podman", "runsc", true, true, &call(0, ""), Some(&refusal));
        let RuntimeProbe::Refused(reason) = probe else {
            panic!("{probe:?}")
        };
        assert!(reason.contains("runsc"), "{reason}");
        assert!(
            reason.contains("does not support checkpoint/restore"),
            "{reason}"
        );
        // Also for the target's default runtime.
        assert!(matches!(
            judge_runtime("podman", "runsc", false, true, &call(0, ""), Some(&refusal)),
            RuntimeProbe::Refused(_)
        ));
    }

    #[test]
    fn a_runtime_that_can_checkpoint_is_usable() {
        // crun and runc: the created container is refused only for its state.
        let state = call(
            125,
            "Error: \"created\" is not running, cannot checkpoint: container state improper\n",
        );
        for explicit in [true, false] {
            assert_eq!(
                judge_runtime("podman", "runc", explicit, true, &call(0, ""), Some(&state)),
                RuntimeProbe::Usable
            );
        }
        // A target that checkpoints even a created container is no refusal either.
        assert_eq!(
            judge_runtime(
                "podman",
                "crun",
                true,
                true,
                &call(0, ""),
                Some(&call(0, ""))
            ),
            RuntimeProbe::Usable
        );
    }

    #[test]
    fn a_failed_create_is_missing_refused_or_left_to_the_cases() {
        let create = call(
            125,
            "Error: default OCI runtime \"nosuch\" not found: invalid argument\n",
        );
        let RuntimeProbe::Missing(reason) =
            judge_runtime("podman", "nosuch", true, false, &create, None)
        else {
            panic!()
        };
        assert!(
            reason.contains("nosuch") && reason.contains("not found"),
            "{reason}"
        );
        // refpod's allowlist: runsc is installed, refpod runs only crun and runc.
        let refpod = call(
            1,
            "Error: unknown OCI runtime \"runsc\": refpod runs only crun or runc (found in PATH)\n",
        );
        let RuntimeProbe::Refused(reason) =
            judge_runtime("refpod", "runsc", true, true, &refpod, None)
        else {
            panic!()
        };
        assert!(reason.contains("refpod runs only crun or runc"), "{reason}");
        // Without --runtime, a target that cannot create is broken: its cases fail.
        assert_eq!(
            judge_runtime("podman", "crun", false, true, &create, None),
            RuntimeProbe::Usable
        );
        // A create killed at its timeout says so.
        let mut hung = call(0, "");
        hung.exit = None;
        let RuntimeProbe::Refused(reason) = judge_runtime("x", "runsc", true, true, &hung, None)
        else {
            panic!()
        };
        assert!(reason.contains("timeout"), "{reason}");
    }

    #[test]
    fn criu_versions_are_encoded_as_podman_does() {
        assert_eq!(criu_version_number("Version: 4.2.1\n"), Some(40201));
        assert_eq!(criu_version_number("Version: 3.17\nGitID: x"), Some(31700));
        assert_eq!(criu_version_number("criu: not found"), None);
    }

    #[test]
    fn reader_versions_are_the_first_version_word() {
        assert_eq!(reader_version("skopeo version 1.18.0"), Some("1.18.0"));
        assert_eq!(
            reader_version("Version: 1.3.0\nGo Version: go1.24"),
            Some("1.3.0")
        );
        assert_eq!(reader_version("4.2-1"), Some("4.2-1"));
        assert_eq!(reader_version("sh: skopeo: not found"), None);
    }

    #[test]
    fn architectures_use_go_names() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
    }

    #[test]
    fn os_release_values_lose_their_quotes() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nVERSION_ID=\"13\"\nID=debian\n";
        assert_eq!(os_release_field(text, "ID"), "debian");
        assert_eq!(os_release_field(text, "VERSION_ID"), "13");
    }

    #[test]
    fn os_release_without_a_field_gives_unknown_as_podman() {
        // Debian testing (forky): no VERSION_ID line.
        let forky = "PRETTY_NAME=\"Debian GNU/Linux forky/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=forky\nID=debian\n";
        assert_eq!(os_release_field(forky, "VERSION_ID"), "unknown");
        assert_eq!(os_release_field(forky, "ID"), "debian");
        assert_eq!(os_release_field("", "ID"), "unknown");
        // The last line wins; only `"` is trimmed, as strings.Trim(v, "\"") does.
        assert_eq!(os_release_field("ID=a\nID=\"b\"\n", "ID"), "b");
        assert_eq!(os_release_field("VERSION_ID='1'\n", "VERSION_ID"), "'1'");
    }
}
