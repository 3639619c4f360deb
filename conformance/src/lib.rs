//! The conformance suite for `podman container checkpoint` (see ARCHITECTURE.md for the map).

pub mod alone;
pub mod case;
pub mod expectations;
pub mod hostile;
pub mod interrupt;
pub mod names;
pub mod oracle;
pub mod partition;
pub mod probe;
pub mod report;
pub mod runner;
pub mod service;
pub mod share;
pub mod suite;
pub mod target;
pub mod workload;
