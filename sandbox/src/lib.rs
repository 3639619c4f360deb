//! Sandboxes: places where real containers run (real podman, OCI runtime and CRIU).
//!
//! - [`Backend::Ns`]: a Debian userland (podman stack + CRIU >= 4.2) built from Debian's packages into a
//!   cache folder, run in private PID, mount and network namespaces on the host kernel.
//! - [`Backend::Vm`]: the same userland booted under qemu with Debian's own kernel, for what the host
//!   kernel lacks (soft-dirty memory tracking, needed by `--pre-checkpoint`).
//! - [`Backend::None`]: the host as it is, for machines that already run podman + CRIU.
//!
//! The suite only needs [`Sandbox::command`] (run something inside) and [`Sandbox::share_dir`] (a host
//! folder seen at the same path inside).

mod args;
pub mod bounded;
mod build_dir;
mod config;
pub mod host;
mod lease;
mod ns;
mod progress;
pub mod recipe;
mod sandbox;
pub mod testing;
mod vm;

pub use args::SandboxArgs;
pub use config::{default_cache_dir, Backend, Config, Status, SUITES};
pub use host::Unavailable;
pub use lease::Lease;
pub use recipe::{TEST_IMAGE, TEST_IMAGE_TARBALL};
pub use sandbox::{Sandbox, SandboxCommand};
