//! Oracles: pure functions from artefacts (bytes, JSON, numbers) to findings. An empty list of
//! findings means the artefact is what the case expects. None of them takes a Target, so each is
//! unit-tested with wrong artefacts.

pub mod archive;
pub mod checkpointctl;
pub mod crit;
pub mod image;
pub mod processes;
pub mod progress;
pub mod skopeo;
pub mod state;
pub mod stats;

/// One reason an artefact is not what was expected, phrased for the person reading the report.
pub type Finding = String;
