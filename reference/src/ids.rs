//! Container IDs and names (container and volume names). They come from the command line, from an
//! archive's `config.dump` (another machine's) and from state files, and they are joined into store
//! paths (`containers/<id>`, `locks/<id>.lock`, `/run/refpod/netns/<id>`, `volumes/<name>`): each is
//! checked once, when it is made, and every path join takes the checked type. Deserialising checks
//! too, so a `config.dump` or `state.json` with a bad one does not load.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Read;
use std::ops::Deref;

/// `n` random bytes as hex, from the kernel's generator.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("reading /dev/urandom");
    hex(&buf)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 lowercase hex digits, as podman's: no `/`, no `..`, and always 12 bytes to shorten.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerId(String);

impl ContainerId {
    pub fn parse(s: &str) -> Result<ContainerId> {
        let ok = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            bail!("invalid container ID {s:?}: an ID is 64 lowercase hex digits");
        }
        Ok(ContainerId(s.to_string()))
    }

    /// A new random ID.
    pub fn random() -> ContainerId {
        ContainerId(random_hex(32))
    }

    /// The 12-digit short ID (`ps`, the hostname).
    pub fn short(&self) -> &str {
        &self.0[..12]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A container or volume name, podman's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, so never a path.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

/// Longer than any file name can be.
const MAX_NAME: usize = 255;

impl Name {
    pub fn parse(s: &str) -> Result<Name> {
        let ok = s.len() <= MAX_NAME
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !ok {
            bail!("invalid name {s:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
        }
        Ok(Name(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_like {
    ($t:ident) => {
        impl TryFrom<String> for $t {
            type Error = anyhow::Error;
            fn try_from(s: String) -> Result<$t> {
                $t::parse(&s)
            }
        }

        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }

        impl Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<std::path::Path> for $t {
            fn as_ref(&self) -> &std::path::Path {
                std::path::Path::new(&self.0)
            }
        }

        impl AsRef<std::ffi::OsStr> for $t {
            fn as_ref(&self) -> &std::ffi::OsStr {
                std::ffi::OsStr::new(&self.0)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

string_like!(ContainerId);
string_like!(Name);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_lowercase_hex() {
        let good = "0123456789abcdef".repeat(4);
        assert_eq!(ContainerId::parse(&good).unwrap().short(), "0123456789ab");
        for bad in [
            "",
            "abc",
            "../../../../tmp/x",
            &"A".repeat(64),
            &format!("{}/", &good[..63]),
            &format!("{good}0"),
        ] {
            assert!(ContainerId::parse(bad).is_err(), "{bad:?}");
        }
        // A config.dump or state.json with a bad ID does not load.
        assert!(serde_json::from_str::<ContainerId>("\"../x\"").is_err());
        assert_eq!(ContainerId::random().len(), 64);
    }

    #[test]
    fn names_are_never_paths() {
        for good in ["c", "cc-h_1.x", "refpod_0123456789ab"] {
            Name::parse(good).unwrap();
        }
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            "/a",
            ".a",
            "-a",
            "a b",
            &"a".repeat(256),
        ] {
            assert!(Name::parse(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<Name>("\"a/../b\"").is_err());
    }
}
