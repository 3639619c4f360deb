//! The 14 `io.podman.annotations.checkpoint.*` annotations of a `--create-image` checkpoint image
//! (spec §8), compared with what the host and the container really are.

use serde_json::{Map, Value};

use super::Finding;

/// What the host reports (`podman info`, `uname -r`, os-release...), gathered by the runner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// Go-style: amd64, arm64.
    pub arch: String,
    /// `uname -r`.
    pub kernel: String,
    /// "v2" or "v1".
    pub cgroups_version: String,
    pub runtime_name: String,
    /// First line of `<runtime> --version`, e.g. "crun version 1.21".
    pub runtime_version: String,
    /// 40201 for CRIU 4.2.1.
    pub criu_version: u32,
    /// e.g. "conmon version 2.1.12"; None when the target uses no conmon.
    pub conmon_version: Option<String>,
    /// e.g. "5.4.2".
    pub target_version: String,
    /// os-release ID, "unknown" without one (as podman reads it: `probe.rs`).
    pub distribution_name: String,
    /// os-release VERSION_ID, "unknown" without one (Debian testing), as podman writes it.
    pub distribution_version: String,
}

/// The checkpointed container, from `podman container inspect`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerFacts {
    pub name: String,
    pub raw_image_name: String,
    pub image_id: String,
    pub image_name: String,
}

const PREFIX: &str = "io.podman.annotations.checkpoint.";

/// Identical in podman 4.3.1, 5.x and main.
pub const ANNOTATION_KEYS: [&str; 14] = [
    "io.podman.annotations.checkpoint.name",
    "io.podman.annotations.checkpoint.rawImageName",
    "io.podman.annotations.checkpoint.rootfsImageID",
    "io.podman.annotations.checkpoint.rootfsImageName",
    "io.podman.annotations.checkpoint.podman.version",
    "io.podman.annotations.checkpoint.criu.version",
    "io.podman.annotations.checkpoint.runtime.name",
    "io.podman.annotations.checkpoint.runtime.version",
    "io.podman.annotations.checkpoint.conmon.version",
    "io.podman.annotations.checkpoint.host.arch",
    "io.podman.annotations.checkpoint.host.kernel",
    "io.podman.annotations.checkpoint.cgroups.version",
    "io.podman.annotations.checkpoint.distribution.version",
    "io.podman.annotations.checkpoint.distribution.name",
];

enum Rule<'a> {
    Equals(&'a str),
    Contains(&'a str),
    NonEmpty,
    CriuVersion(u32),
}

pub fn check_annotations(
    annotations: &Map<String, Value>,
    host: &HostFacts,
    ctr: &ContainerFacts,
) -> Vec<Finding> {
    let mut f = Vec::new();
    let rules = [
        ("name", Rule::Equals(&ctr.name)),
        ("rawImageName", Rule::Equals(&ctr.raw_image_name)),
        ("rootfsImageID", Rule::Equals(&ctr.image_id)),
        ("rootfsImageName", Rule::Equals(&ctr.image_name)),
        ("podman.version", Rule::Equals(&host.target_version)),
        ("criu.version", Rule::CriuVersion(host.criu_version)),
        ("runtime.name", Rule::Equals(&host.runtime_name)),
        // Podman stores the runtime's whole multi-line `--version` output.
        ("runtime.version", Rule::Contains(&host.runtime_version)),
        (
            "conmon.version",
            match &host.conmon_version {
                Some(v) => Rule::Contains(v),
                None => Rule::NonEmpty,
            },
        ),
        ("host.arch", Rule::Equals(&host.arch)),
        ("host.kernel", Rule::Equals(&host.kernel)),
        ("cgroups.version", Rule::Equals(&host.cgroups_version)),
        (
            "distribution.version",
            Rule::Equals(&host.distribution_version),
        ),
        ("distribution.name", Rule::Equals(&host.distribution_name)),
    ];
    for (suffix, rule) in rules {
        let key = format!("{PREFIX}{suffix}");
        let value = match annotations.get(&key) {
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                f.push(format!(
                    "expected annotation {key} to be a string, found {other}"
                ));
                continue;
            }
            None => {
                f.push(format!("expected annotation {key}, found none"));
                continue;
            }
        };
        if let Some(problem) = apply(&rule, value) {
            f.push(format!("expected annotation {key} {problem}"));
        }
    }
    f
}

/// What is wrong with the value under the rule, phrased to follow "expected annotation K".
fn apply(rule: &Rule, value: &str) -> Option<String> {
    match rule {
        Rule::Equals(want) if value != *want => Some(format!("= {want:?}, found {value:?}")),
        Rule::Contains(want) if !contains_version(value, want) => {
            Some(format!("to contain {want:?}, found {value:?}"))
        }
        Rule::NonEmpty if value.is_empty() => Some("to be non-empty, found \"\"".to_string()),
        // An integer such as 40201 for 4.2.1, never the dotted form.
        Rule::CriuVersion(want) => match value.parse::<u32>() {
            Ok(n) if value.bytes().all(|b| b.is_ascii_digit()) && n == *want => None,
            Ok(_) if value.bytes().all(|b| b.is_ascii_digit()) => {
                Some(format!("= \"{want}\", found {value:?}"))
            }
            _ => Some(format!(
                "to be CRIU's version as a decimal integer (\"{want}\"), found {value:?}"
            )),
        },
        _ => None,
    }
}

/// `want` occurs in `value` and is not the start of a longer version ("crun version 1.2" is not
/// in "crun version 1.21").
fn contains_version(value: &str, want: &str) -> bool {
    value.match_indices(want).any(|(i, _)| {
        let next = value[i + want.len()..].chars().next();
        let prev = value[..i].chars().next_back();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
            && !prev.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Approach A's real annotations (real-podman-here.md).
    const REAL: &str = r#"{
      "io.podman.annotations.checkpoint.cgroups.version": "v2",
      "io.podman.annotations.checkpoint.conmon.version": "conmon version 2.1.12, commit: unknown",
      "io.podman.annotations.checkpoint.criu.version": "40201",
      "io.podman.annotations.checkpoint.distribution.name": "debian",
      "io.podman.annotations.checkpoint.distribution.version": "13",
      "io.podman.annotations.checkpoint.host.arch": "amd64",
      "io.podman.annotations.checkpoint.host.kernel": "6.18.44-fc-v657",
      "io.podman.annotations.checkpoint.name": "ci",
      "io.podman.annotations.checkpoint.podman.version": "5.4.2",
      "io.podman.annotations.checkpoint.rawImageName": "localhost/busybox:latest",
      "io.podman.annotations.checkpoint.rootfsImageID": "4ca026eb4088aa7210c33095fc18872a2461112edc3e9017da4ae6a22509c9e4",
      "io.podman.annotations.checkpoint.rootfsImageName": "localhost/busybox:latest",
      "io.podman.annotations.checkpoint.runtime.name": "crun",
      "io.podman.annotations.checkpoint.runtime.version": "crun version 1.21\ncommit: 10269840aa07fb7e6b7e1acff6198692d8ff5c88\nrundir: /run/crun\nspec: 1.0.0\n+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +CRIU +WASM:wasmedge +YAJL",
      "org.opencontainers.image.base.digest": "",
      "org.opencontainers.image.base.name": ""
    }"#;

    fn real() -> Map<String, Value> {
        serde_json::from_str(REAL).unwrap()
    }

    fn host() -> HostFacts {
        HostFacts {
            arch: "amd64".into(),
            kernel: "6.18.44-fc-v657".into(),
            cgroups_version: "v2".into(),
            runtime_name: "crun".into(),
            runtime_version: "crun version 1.21".into(),
            criu_version: 40201,
            conmon_version: Some("conmon version 2.1.12".into()),
            target_version: "5.4.2".into(),
            distribution_name: "debian".into(),
            distribution_version: "13".into(),
        }
    }

    fn ctr() -> ContainerFacts {
        ContainerFacts {
            name: "ci".into(),
            raw_image_name: "localhost/busybox:latest".into(),
            image_id: "4ca026eb4088aa7210c33095fc18872a2461112edc3e9017da4ae6a22509c9e4".into(),
            image_name: "localhost/busybox:latest".into(),
        }
    }

    fn one_finding_containing(findings: &[Finding], needle: &str) {
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(findings[0].contains(needle), "{findings:#?}");
    }

    #[test]
    fn real_annotations_have_no_findings() {
        assert_eq!(
            check_annotations(&real(), &host(), &ctr()),
            Vec::<Finding>::new()
        );
        let no_conmon = HostFacts {
            conmon_version: None,
            ..host()
        };
        assert!(check_annotations(&real(), &no_conmon, &ctr()).is_empty());
        assert!(ANNOTATION_KEYS.iter().all(|k| real().contains_key(*k)));
    }

    #[test]
    fn distribution_version_unknown_on_testing() {
        // Debian testing has no VERSION_ID: podman writes "unknown", never "".
        let testing = HostFacts {
            distribution_version: "unknown".into(),
            ..host()
        };
        let mut a = real();
        let key = "io.podman.annotations.checkpoint.distribution.version";
        a.insert(key.into(), Value::String("unknown".into()));
        assert!(check_annotations(&a, &testing, &ctr()).is_empty());
        a.insert(key.into(), Value::String(String::new()));
        one_finding_containing(&check_annotations(&a, &testing, &ctr()), key);
    }

    #[test]
    fn missing_annotation() {
        for key in ANNOTATION_KEYS {
            let mut a = real();
            a.remove(key);
            one_finding_containing(
                &check_annotations(&a, &host(), &ctr()),
                &format!("{key}, found none"),
            );
        }
    }

    #[test]
    fn non_string_annotation() {
        let mut a = real();
        a.insert(format!("{PREFIX}criu.version"), Value::from(40201));
        one_finding_containing(
            &check_annotations(&a, &host(), &ctr()),
            "to be a string, found 40201",
        );
    }

    #[test]
    fn wrong_kernel() {
        let mut a = real();
        a.insert(
            format!("{PREFIX}host.kernel"),
            "6.12.117+deb13-amd64".into(),
        );
        one_finding_containing(
            &check_annotations(&a, &host(), &ctr()),
            "host.kernel = \"6.18.44-fc-v657\", found \"6.12.117+deb13-amd64\"",
        );
    }

    #[test]
    fn dotted_criu_version() {
        let mut a = real();
        a.insert(format!("{PREFIX}criu.version"), "4.2.1".into());
        one_finding_containing(
            &check_annotations(&a, &host(), &ctr()),
            "decimal integer (\"40201\"), found \"4.2.1\"",
        );
        a.insert(format!("{PREFIX}criu.version"), "40101".into());
        one_finding_containing(
            &check_annotations(&a, &host(), &ctr()),
            "= \"40201\", found \"40101\"",
        );
        a.insert(format!("{PREFIX}criu.version"), "+40201".into());
        one_finding_containing(&check_annotations(&a, &host(), &ctr()), "decimal integer");
    }

    #[test]
    fn wrong_runtime_and_conmon_versions() {
        let mut a = real();
        a.insert(
            format!("{PREFIX}runtime.version"),
            "crun version 1.20".into(),
        );
        a.insert(format!("{PREFIX}conmon.version"), String::new().into());
        let f = check_annotations(&a, &host(), &ctr());
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f[0].contains("runtime.version to contain \"crun version 1.21\""));
        assert!(f[1].contains("conmon.version to contain"));
        let no_conmon = HostFacts {
            conmon_version: None,
            ..host()
        };
        let f = check_annotations(&a, &no_conmon, &ctr());
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f[1].contains("conmon.version to be non-empty"), "{f:#?}");
        // A shorter version is not a match for a longer one.
        let short = HostFacts {
            runtime_version: "crun version 1.2".into(),
            ..host()
        };
        one_finding_containing(
            &check_annotations(&real(), &short, &ctr()),
            "runtime.version",
        );
    }

    #[test]
    fn container_facts_differ() {
        let other = ContainerFacts {
            name: "other".into(),
            ..ctr()
        };
        one_finding_containing(
            &check_annotations(&real(), &host(), &other),
            "checkpoint.name = \"other\", found \"ci\"",
        );
    }
}
