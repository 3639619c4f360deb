//! Facts about the host, read from the host itself, and the engine's version: for `info` and for
//! the annotations of a checkpoint image.

use std::process::Command;

/// refpod's version (`--version`, `info`, the `podman.version` annotation).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub struct HostFacts {
    pub arch: String,
    pub kernel: String,
    pub cgroups_version: String,
    pub distribution_name: String,
    pub distribution_version: String,
    /// CRIU's version as podman encodes it: 4.2.1 -> 40201.
    pub criu_version: Option<u32>,
    /// `conmon --version` of the host's conmon, which podman reports; refpod itself uses its own
    /// monitor.
    pub conmon_version: String,
}

/// Go's name for the machine, as podman reports it.
pub fn go_arch(machine: &str) -> &str {
    match machine {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" => "386",
        "armv7l" | "armv6l" => "arm",
        "ppc64le" => "ppc64le",
        other => other,
    }
}

/// `Version: 4.2.1` -> 40201.
pub fn criu_version_number(output: &str) -> Option<u32> {
    let v = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))?;
    let mut parts = v.trim().split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some(major * 10000 + minor * 100 + patch)
}

/// As podman's `GetHostDistributionInfo` (libpod/info.go): the last `KEY=` line, its `"`
/// trimmed, or "unknown" (Debian testing has no VERSION_ID).
fn os_release(key: &str) -> String {
    std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .next_back()
        .map_or_else(
            || "unknown".to_string(),
            |v| v.trim_matches('"').to_string(),
        )
}

fn output_of(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn cgroups_version() -> &'static str {
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "v2",
        _ => "v1",
    }
}

/// Whether CRIU can track memory changes (soft-dirty), needed by pre-checkpoints.
pub fn criu_mem_track() -> bool {
    Command::new("criu")
        .args(["check", "--feature", "mem_dirty_track"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

impl HostFacts {
    pub fn read() -> HostFacts {
        let uts = nix::sys::utsname::uname().ok();
        let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uts.as_ref()
                .map(|u| f(u).to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        HostFacts {
            arch: go_arch(&field(|u| u.machine())).to_string(),
            kernel: field(|u| u.release()),
            cgroups_version: cgroups_version().into(),
            distribution_name: os_release("ID"),
            distribution_version: os_release("VERSION_ID"),
            criu_version: output_of("criu", &["--version"])
                .as_deref()
                .and_then(criu_version_number),
            conmon_version: output_of("conmon", &["--version"])
                .map(|v| v.lines().next().unwrap_or("").to_string())
                .unwrap_or_else(|| "none (refpod monitors containers itself)".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criu_versions_are_integers() {
        assert_eq!(criu_version_number("Version: 4.2.1\n"), Some(40201));
        assert_eq!(
            criu_version_number("Version: 3.17\nGitID: v3.17"),
            Some(31700)
        );
        assert_eq!(criu_version_number("nope"), None);
        assert_eq!(go_arch("x86_64"), "amd64");
    }
}
