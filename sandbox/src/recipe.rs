//! The provisioning recipe: the scripts and workloads that build a sandbox, embedded in the binary so
//! that its hash keys the cache. Any change to a recipe file changes the key and forces a rebuild.

use sha2::{Digest, Sha256};
use std::path::Path;

/// The image every test container runs, built by `provision.sh` (its rootfs is the sandbox's busybox).
pub const TEST_IMAGE: &str = "localhost/busybox:latest";
/// The test image's rootfs tarball inside the sandbox, for engines that do not hold the image yet
/// (`podman import` it under [`TEST_IMAGE`]).
pub const TEST_IMAGE_TARBALL: &str = "/root/busybox-image.tar";

/// Every file of the recipe, as (relative path, contents, executable).
pub const FILES: &[(&str, &str)] = &[
    ("provision.sh", include_str!("../recipe/provision.sh")),
    ("ns-init.sh", include_str!("../recipe/ns-init.sh")),
    (
        "workloads/counter",
        include_str!("../recipe/workloads/counter"),
    ),
    (
        "workloads/tcp-loopback",
        include_str!("../recipe/workloads/tcp-loopback"),
    ),
    (
        "workloads/flock-holder",
        include_str!("../recipe/workloads/flock-holder"),
    ),
    (
        "workloads/volume-writer",
        include_str!("../recipe/workloads/volume-writer"),
    ),
    (
        "workloads/rootfs-changer",
        include_str!("../recipe/workloads/rootfs-changer"),
    ),
];

/// The `vm` backend's own recipe, on top of the finished `ns` build. Kept apart from [`FILES`] so
/// that changing it rebuilds only the VM image, never every `ns` sandbox.
pub const VM_FILES: &[(&str, &str)] = &[
    ("vm-provision.sh", include_str!("../recipe/vm-provision.sh")),
    ("vm-init.sh", include_str!("../recipe/vm-init.sh")),
    ("vm-agent.sh", include_str!("../recipe/vm-agent.sh")),
];

/// Names of the workloads baked into the test image (`/bin/<name>`).
pub fn workload_names() -> impl Iterator<Item = &'static str> {
    FILES
        .iter()
        .filter_map(|(path, _)| path.strip_prefix("workloads/"))
}

/// A short, stable hash of the recipe for one Debian suite.
pub fn key(suite: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(suite.as_bytes());
    for (path, contents) in FILES {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update(contents.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// A short, stable hash of the `vm` recipe: the `ns` recipe it starts from plus its own files.
pub fn vm_key(suite: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(key(suite).as_bytes());
    for (path, contents) in VM_FILES {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update(contents.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the `ns` recipe files under `dir`, all executable.
pub fn write_to(dir: &Path) -> std::io::Result<()> {
    write_files(dir, FILES)
}

/// Writes the `vm` recipe files under `dir`, all executable.
pub fn write_vm_to(dir: &Path) -> std::io::Result<()> {
    write_files(dir, VM_FILES)
}

fn write_files(dir: &Path, files: &[(&str, &str)]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for (path, contents) in files {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().expect("recipe paths have a parent"))?;
        std::fs::write(&target, contents)?;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_suite_and_is_stable() {
        assert_eq!(key("trixie"), key("trixie"));
        assert_ne!(key("trixie"), key("forky"));
        assert_eq!(key("trixie").len(), 12);
    }

    #[test]
    fn vm_key_differs_from_the_ns_key() {
        assert_eq!(vm_key("trixie"), vm_key("trixie"));
        assert_ne!(vm_key("trixie"), key("trixie"));
        assert_ne!(vm_key("trixie"), vm_key("forky"));
    }

    #[test]
    fn catalog_lists_every_workload() {
        let names: Vec<_> = workload_names().collect();
        assert_eq!(
            names,
            [
                "counter",
                "tcp-loopback",
                "flock-holder",
                "volume-writer",
                "rootfs-changer"
            ]
        );
    }
}
