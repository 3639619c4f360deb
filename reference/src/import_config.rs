//! The image config podman's `import TARBALL` writes (containers/image's tarball transport), byte
//! for byte: keys in Go's field order, compact JSON, times in RFC 3339 with Go's trimmed
//! nanoseconds, the creation time being the tarball's mtime. Its digest is the image ID, so the
//! same tarball gets the same ID in refpod and in podman, which finds an imported checkpoint's
//! image by `rootfsImageID` only.

use serde::Serialize;
use std::time::SystemTime;

#[derive(Serialize)]
struct Config<'a> {
    created: &'a str,
    architecture: &'a str,
    os: &'a str,
    config: Empty,
    rootfs: RootFs,
    history: [History<'a>; 1],
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    typ: &'static str,
    diff_ids: [String; 1],
}

#[derive(Serialize)]
struct History<'a> {
    created: &'a str,
    created_by: String,
    comment: &'static str,
}

/// Go's `time.RFC3339Nano` in UTC: the fraction without trailing zeros, none when zero.
fn go_time(t: SystemTime) -> String {
    let t: chrono::DateTime<chrono::Utc> = t.into();
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = format!("{:09}", t.timestamp_subsec_nanos());
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        s.push('.');
        s.push_str(frac);
    }
    s.push('Z');
    s
}

/// The config of a one-layer image whose uncompressed layer has digest `diff_hex`, from a
/// tarball last modified at `mtime`, on `arch` (Go's name: amd64, arm64...).
pub fn podman_import_config(diff_hex: &str, mtime: SystemTime, arch: &str) -> Vec<u8> {
    let created = go_time(mtime);
    let config = Config {
        created: &created,
        architecture: arch,
        os: "linux",
        config: Empty {},
        rootfs: RootFs {
            typ: "layers",
            diff_ids: [format!("sha256:{diff_hex}")],
        },
        history: [History {
            created: &created,
            created_by: format!("/bin/sh -c #(nop) ADD file:{diff_hex} in /"),
            comment: "imported from tarball",
        }],
    };
    serde_json::to_vec(&config).expect("a config serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// The config podman 5.4.2 wrote for the test image, read from its storage.
    #[test]
    fn the_bytes_are_podmans() {
        let diff = "e2e4f054a05d1e419561aa9cf5e87155199ac28520474dd38242dda3d7095a52";
        let mtime = UNIX_EPOCH + Duration::new(1_795_758_299, 665_166_999);
        let want = format!(
            r#"{{"created":"2026-11-27T05:44:59.665166999Z","architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["sha256:{diff}"]}},"history":[{{"created":"2026-11-27T05:44:59.665166999Z","created_by":"/bin/sh -c #(nop) ADD file:{diff} in /","comment":"imported from tarball"}}]}}"#
        );
        let got = podman_import_config(diff, mtime, "amd64");
        assert_eq!(String::from_utf8(got.clone()).unwrap(), want);
        use sha2::Digest;
        assert_eq!(
            crate::ids::hex(&sha2::Sha256::digest(&got)),
            "510f548ad388e8c41f7fb83f76f2d66c1b37ad34de727b03e6815ec150bf1b87"
        );
    }

    #[test]
    fn go_trims_the_fraction() {
        assert_eq!(
            go_time(UNIX_EPOCH + Duration::new(0, 500_000_000)),
            "1970-01-01T00:00:00.5Z"
        );
        assert_eq!(go_time(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
