//! The conformance suite (see ARCHITECTURE.md).
