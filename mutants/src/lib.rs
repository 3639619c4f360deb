//! Mutants of a target, to measure what the conformance suite catches (`cargo xtask mutants`).
//!
//! A mutant is the real target behind a shim (`mutant-shim`) that deviates in exactly one
//! documented way ([`catalog`]). The [`harness`] runs the suite against each and reports which
//! cases kill which mutant; the shim's pure parts are [`args`] (the command line), [`archive`]
//! (rewriting an export), [`extract`] (a naive extractor, for the hostile archives) and [`output`] (JSON and error messages).

pub mod archive;
pub mod args;
pub mod catalog;
pub mod extract;
pub mod harness;
pub mod output;
pub mod shim;
