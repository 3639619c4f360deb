//! A checkpoint image (`--create-image`), saved by the target with `image save --format
//! oci-archive` and read by skopeo (`skopeo inspect --raw` for the manifest, `skopeo inspect` for
//! the layers): the manifest carries the annotations `image inspect` shows, and the image has one
//! layer, whose content is a checkpoint archive's (man: "the checkpoint image ... the same format
//! as --export": podman extracts its export into the image's only layer).

use super::archive::{self, Archive, ArchiveExpect};
use super::Finding;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Largest skopeo output parsed: a manifest is a few KiB.
const MAX_OUTPUT: usize = 4 << 20;

#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    layers: Vec<Descriptor>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct Descriptor {
    pub digest: String,
}

/// `skopeo inspect` (not raw): what it makes of the image's layers.
#[derive(Debug, Deserialize)]
struct Inspect {
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// The digest of the manifest's only layer, for the runner to read that blob; None when the
/// manifest is not one skopeo printed or has another number of layers (`check` says why).
pub fn single_layer(raw_manifest: &str) -> Option<String> {
    let m: Manifest = serde_json::from_str(raw_manifest).ok()?;
    match m.layers.as_slice() {
        [one] => Some(one.digest.clone()),
        _ => None,
    }
}

/// Judges skopeo's view of the saved image against the annotations `image inspect` showed, and
/// the content of its layer (as read by the suite's archive reader) against an export's layout.
pub fn check(
    raw_manifest: &str,
    inspect: &str,
    annotations: &serde_json::Map<String, serde_json::Value>,
    layer: Result<&Archive, String>,
) -> Vec<Finding> {
    if raw_manifest.len() > MAX_OUTPUT || inspect.len() > MAX_OUTPUT {
        return vec![format!(
            "skopeo printed more than the {MAX_OUTPUT} bytes read"
        )];
    }
    let manifest: Manifest = match serde_json::from_str(raw_manifest) {
        Ok(m) => m,
        Err(e) => {
            return vec![format!(
                "`skopeo inspect --raw` printed no OCI manifest: {e}"
            )]
        }
    };
    let mut f = vec![];
    if manifest.schema_version != 2 {
        f.push(format!(
            "skopeo reads manifest schema version {}, expected 2",
            manifest.schema_version
        ));
    }
    let shown: BTreeMap<String, String> = annotations
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), String::from),
            )
        })
        .collect();
    // skopeo's manifest holds every annotation `image inspect` shows, with the same value.
    for (key, value) in &shown {
        match manifest.annotations.get(key) {
            Some(v) if v == value => {}
            Some(v) => f.push(format!(
                "skopeo reads annotation {key} as {v:?}, `image inspect` shows {value:?}"
            )),
            None => f.push(format!(
                "skopeo reads no annotation {key} (`image inspect` shows {value:?})"
            )),
        }
    }
    if manifest.layers.len() != 1 {
        f.push(format!(
            "skopeo reads {} layers, a checkpoint image has one",
            manifest.layers.len()
        ));
    }
    match serde_json::from_str::<Inspect>(inspect) {
        Ok(i) => {
            let raw: Vec<&String> = manifest.layers.iter().map(|l| &l.digest).collect();
            if i.layers.iter().collect::<Vec<_>>() != raw {
                f.push(format!(
                    "`skopeo inspect` lists layers {:?}, its raw manifest {raw:?}",
                    i.layers
                ));
            }
        }
        Err(e) => f.push(format!(
            "`skopeo inspect` printed no image description: {e}"
        )),
    }
    match layer {
        Ok(layer) => {
            let expect = ArchiveExpect {
                members: vec!["@export".into()],
                ..ArchiveExpect::default()
            };
            f.extend(
                archive::check_archive_parsed(layer, &expect)
                    .into_iter()
                    .map(|e| format!("the image's layer is not an export's content: {e}")),
            );
        }
        Err(e) => f.push(format!("the image's layer cannot be read: {e}")),
    }
    f
}

#[cfg(test)]
mod tests {
    use super::super::archive::{Compression, Member, MemberKind};
    use super::*;

    const KEY: &str = "io.podman.annotations.checkpoint.name";

    fn manifest(layers: usize, name: &str) -> String {
        let layers: Vec<_> = (0..layers)
            .map(|i| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{i}"), "size": 1}))
            .collect();
        serde_json::json!({"schemaVersion": 2, "config": {"digest": "sha256:c"}, "layers": layers,
                           "annotations": {KEY: name}})
        .to_string()
    }

    fn inspect(layers: usize) -> String {
        let layers: Vec<String> = (0..layers).map(|i| format!("sha256:{i}")).collect();
        serde_json::json!({"Name": "x", "Layers": layers}).to_string()
    }

    fn shown() -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert(KEY.into(), "c1".into());
        m
    }

    fn export_layer() -> Archive {
        let file = |p: &str| Member {
            path: p.into(),
            kind: MemberKind::File,
            link_target: None,
            size: 1,
            data: None,
        };
        let dir = |p: &str| Member {
            kind: MemberKind::Dir,
            ..file(p)
        };
        Archive {
            compression: Compression::None,
            members: vec![
                dir("artifacts/"),
                file("config.dump"),
                file("spec.dump"),
                file("network.status"),
                file("stats-dump"),
                dir("checkpoint/"),
                file("checkpoint/inventory.img"),
                file("checkpoint/pstree.img"),
                file("checkpoint/pages-1.img"),
            ],
        }
    }

    #[test]
    fn a_podman_checkpoint_image_passes() {
        let f = check(
            &manifest(1, "c1"),
            &inspect(1),
            &shown(),
            Ok(&export_layer()),
        );
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(
            single_layer(&manifest(1, "c1")).as_deref(),
            Some("sha256:0")
        );
    }

    #[test]
    fn missing_or_other_annotations_are_found() {
        let f = check(
            &manifest(1, "other"),
            &inspect(1),
            &shown(),
            Ok(&export_layer()),
        );
        assert!(f[0].contains("as \"other\""), "{f:?}");
        let bare = serde_json::json!({"schemaVersion": 2, "layers": [{"digest": "sha256:0"}]});
        let f = check(
            &bare.to_string(),
            &inspect(1),
            &shown(),
            Ok(&export_layer()),
        );
        assert!(f[0].contains("no annotation"), "{f:?}");
    }

    #[test]
    fn two_layers_or_a_layer_not_an_export_are_found() {
        let f = check(
            &manifest(2, "c1"),
            &inspect(2),
            &shown(),
            Ok(&export_layer()),
        );
        assert!(f.iter().any(|f| f.contains("2 layers")), "{f:?}");
        assert_eq!(single_layer(&manifest(2, "c1")), None);
        let mut layer = export_layer();
        layer.members.retain(|m| m.path != "config.dump");
        let f = check(&manifest(1, "c1"), &inspect(1), &shown(), Ok(&layer));
        assert!(f[0].contains("not an export's content"), "{f:?}");
        let f = check(
            &manifest(1, "c1"),
            &inspect(1),
            &shown(),
            Err("gone".into()),
        );
        assert!(f[0].contains("cannot be read"), "{f:?}");
    }

    #[test]
    fn garbage_and_disagreeing_views_are_findings() {
        assert!(!check("{", &inspect(1), &shown(), Ok(&export_layer())).is_empty());
        let f = check(
            &manifest(1, "c1"),
            &inspect(0),
            &shown(),
            Ok(&export_layer()),
        );
        assert!(f[0].contains("`skopeo inspect` lists layers"), "{f:?}");
        let f = check(&manifest(1, "c1"), "[]", &shown(), Ok(&export_layer()));
        assert!(f[0].contains("no image description"), "{f:?}");
    }
}
