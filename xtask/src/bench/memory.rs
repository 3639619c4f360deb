//! What the benchmarks' workloads keep in memory. Compressors behave very differently on random
//! bytes, zeros and text, so each benchmark measures several profiles. Each workload is the test
//! image's busybox shell holding N MiB in shell variables, filled by busybox tools at start (the
//! image holds nothing else), then forking no more: a loop of `sleep 0.2` forks the big shell five
//! times a second, and a dump that catches a child between fork and exec writes its N MiB twice
//! (seen at 1 GiB: 2 GiB dumped).

use anyhow::{bail, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// base64 of random bytes: 6 bits of entropy a byte, no repeats (deflate stores it).
    Random,
    /// One byte repeated: pages written but holding one value, as zeroed pages compress (a shell
    /// variable cannot hold NUL bytes, so the byte is `0`, 0x30).
    Zeros,
    /// A heap of JSON-like records: keys repeated, values random.
    Text,
    /// A third of each of the above.
    Mixed,
}

/// One record a line, ~135 bytes, fields drawn by awk's rand(); `n` bytes in all.
const RECORDS: &str = r#"awk -v n=BYTES 'BEGIN { srand(7); s = 0; while (s < n) { r = sprintf("{\"id\":%d,\"user\":\"u%06d\",\"email\":\"u%06d@example.org\",\"score\":%.4f,\"active\":%s,\"tags\":[\"t%d\",\"t%d\"],\"ts\":\"2026-12-%02dT%02d:%02d:%02dZ\"}\n", s, int(rand()*1000000), int(rand()*1000000), rand()*100, (rand() < 0.5 ? "true" : "false"), int(rand()*50), int(rand()*50), 1 + int(rand()*28), int(rand()*24), int(rand()*60), int(rand()*60)); printf "%s", r; s += length(r) } }'"#;

impl Profile {
    pub fn parse(name: &str) -> Result<Profile> {
        Ok(match name {
            "random" => Profile::Random,
            "zeros" => Profile::Zeros,
            "text" => Profile::Text,
            "mixed" => Profile::Mixed,
            _ => bail!("unknown memory profile {name:?}: random, zeros, text or mixed"),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Random => "random",
            Profile::Zeros => "zeros",
            Profile::Text => "text",
            Profile::Mixed => "mixed",
        }
    }

    /// The shell command filling `bytes` of memory into variable `var`.
    fn fill(self, var: &str, bytes: u64) -> String {
        match self {
            // busybox `head -c` takes no M suffix; 3/4 of the bytes in base64 are the bytes.
            Profile::Random => format!(
                "{var}=$(head -c {} /dev/urandom | base64 -w0)",
                bytes * 3 / 4
            ),
            Profile::Zeros => format!("{var}=$(head -c {bytes} /dev/zero | tr '\\0' 0)"),
            Profile::Text => format!("{var}=$({})", RECORDS.replace("BYTES", &bytes.to_string())),
            Profile::Mixed => {
                let third = bytes / 3;
                [
                    Profile::Random.fill("r", third),
                    Profile::Zeros.fill("z", third),
                    Profile::Text.fill("t", bytes - 2 * third),
                ]
                .join("; ")
            }
        }
    }

    /// The container's `sh -c` command: fill N MiB, then wait without forking.
    pub fn command(self, size_mib: u64) -> String {
        format!(
            "{}; sleep infinity & echo ready > /ready; wait",
            self.fill("d", size_mib * 1024 * 1024)
        )
    }
}

/// `random,zeros` as profiles.
pub fn parse_list(names: &[String]) -> Result<Vec<Profile>> {
    names.iter().map(|n| Profile::parse(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_fills_its_size_then_waits() {
        for p in [
            Profile::Random,
            Profile::Zeros,
            Profile::Text,
            Profile::Mixed,
        ] {
            let c = p.command(64);
            assert!(
                c.ends_with("; sleep infinity & echo ready > /ready; wait"),
                "{c}"
            );
            assert_eq!(Profile::parse(p.name()).unwrap(), p);
        }
        assert!(Profile::Random
            .command(4)
            .contains("head -c 3145728 /dev/urandom"));
        assert!(Profile::Text.command(1).contains("awk -v n=1048576 "));
        let mixed = Profile::Mixed.command(3);
        assert!(mixed.contains("head -c 786432 /dev/urandom"), "{mixed}");
        assert!(mixed.contains("head -c 1048576 /dev/zero"), "{mixed}");
        assert!(Profile::parse("pointers").is_err());
    }
}
