//! Exit statuses other than podman's usual 125.

use std::fmt;

/// An error that decides the exit status itself.
#[derive(Debug)]
pub enum Exit {
    /// Exit with this status and print nothing (`image exists`, a passed-through `exec` status).
    Silent(i32),
    /// Print `Error: <msg>` and exit with this status.
    Message(i32, String),
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Silent(code) => write!(f, "exit status {code}"),
            Exit::Message(_, msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Exit {}
