//! `--partition k/n`: one of `n` shards of the suite, so that several machines can run one suite
//! between them and `cargo xtask report merge` can join their reports.
//!
//! A case's shard depends on its id alone (FNV-1a, a fixed hash, not std's randomized one): it
//! lands in the same shard whatever the order of the files, the filters or the machine, and the
//! `n` shards of one selection are disjoint and cover it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (1-based: `1/3`, `2/3`, `3/3`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Partition {
    pub index: u32,
    pub count: u32,
}

impl Partition {
    /// Whether the case `id` belongs to this shard.
    pub fn contains(&self, id: &str) -> bool {
        shard_of(id, self.count) == self.index
    }
}

/// The shard (1..=count) of the case `id`.
pub fn shard_of(id: &str, count: u32) -> u32 {
    (fnv1a(id.as_bytes()) % u64::from(count.max(1))) as u32 + 1
}

/// FNV-1a, 64 bits: stable across Rust versions, platforms and runs.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl FromStr for Partition {
    type Err = String;

    fn from_str(s: &str) -> Result<Partition, String> {
        let usage = || format!("--partition {s:?}: expected k/n with 1 <= k <= n, e.g. 2/3");
        let (k, n) = s.split_once('/').ok_or_else(usage)?;
        let index: u32 = k.trim().parse().map_err(|_| usage())?;
        let count: u32 = n.trim().parse().map_err(|_| usage())?;
        if index == 0 || count == 0 || index > count {
            return Err(usage());
        }
        Ok(Partition { index, count })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!(
            "2/3".parse::<Partition>(),
            Ok(Partition { index: 2, count: 3 })
        );
        assert_eq!("1/1".parse::<Partition>().unwrap().to_string(), "1/1");
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "", "/", "-1/3"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hash_is_fixed() {
        // FNV-1a's published test vectors: a change of algorithm would move cases between shards.
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn shards_are_disjoint_cover_everything_and_ignore_order() {
        let ids: Vec<String> = (0..200)
            .map(|i| format!("group{}.case-{i}", i % 7))
            .collect();
        for n in 1..=5 {
            let shards: Vec<Partition> =
                (1..=n).map(|index| Partition { index, count: n }).collect();
            for id in &ids {
                let holders = shards.iter().filter(|p| p.contains(id)).count();
                assert_eq!(holders, 1, "{id} in {holders} shards of {n}");
            }
            // Every shard gets some of 200 cases (the hash spreads them).
            for p in &shards {
                assert!(ids.iter().any(|id| p.contains(id)), "shard {p} is empty");
            }
        }
        // The shard depends on the id alone.
        let mut reversed = ids.clone();
        reversed.reverse();
        let p = Partition { index: 2, count: 3 };
        let mut a: Vec<_> = ids.iter().filter(|id| p.contains(id)).collect();
        let mut b: Vec<_> = reversed.iter().filter(|id| p.contains(id)).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }
}
