//! Images in a local OCI image layout (`<root>/images`): index.json names the manifests
//! (`org.opencontainers.image.ref.name`), blobs are content-addressed. An image's ID is the
//! digest of its config, as podman's is. Layers are stored uncompressed and extracted on first use
//! into `<root>/layers/<diff id>`, the overlay's lower dirs.

use crate::ids;
use crate::store::{self, Store};
use anyhow::{bail, Context, Result};
use oci_spec::image::{
    Arch, Descriptor, Digest, History, ImageConfiguration, ImageIndex, ImageManifest, MediaType,
    Os, RootFs,
};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The mode of every layer's root folder, as containers/storage makes it.
pub const LAYER_ROOT_MODE: u32 = 0o555;

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One image: its names, manifest and config.
pub struct Image {
    /// The config digest without `sha256:`.
    pub id: String,
    pub names: Vec<String>,
    pub manifest_digest: String,
    pub manifest: ImageManifest,
    pub config: ImageConfiguration,
}

impl Image {
    /// Diff IDs (without `sha256:`), bottom layer first.
    pub fn diff_ids(&self) -> Vec<String> {
        self.config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| d.trim_start_matches("sha256:").to_string())
            .collect()
    }

    pub fn annotations(&self) -> HashMap<String, String> {
        self.manifest.annotations().clone().unwrap_or_default()
    }
}

/// `x` -> `localhost/x:latest`; a name without a tag gets `:latest`.
pub fn normalize(name: &str) -> String {
    let mut n = name.to_string();
    let last = n.rsplit('/').next().unwrap_or("").to_string();
    if !n.contains('/') {
        n = format!("localhost/{n}");
    }
    if !last.contains(':') && !last.contains('@') {
        n.push_str(":latest");
    }
    n
}

fn layout(store: &Store) -> PathBuf {
    store.dir("images")
}

fn blob_path(store: &Store, hex: &str) -> PathBuf {
    layout(store).join("blobs").join("sha256").join(hex)
}

fn load_index(store: &Store) -> Result<ImageIndex> {
    let path = layout(store).join("index.json");
    if !path.exists() {
        return Ok(serde_json::from_value(
            json!({"schemaVersion": 2, "manifests": []}),
        )?);
    }
    Ok(ImageIndex::from_file(&path)?)
}

fn save_index(store: &Store, index: &ImageIndex) -> Result<()> {
    let dir = layout(store);
    if !dir.join("oci-layout").exists() {
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    }
    store::write_json_atomic(&dir.join("index.json"), index)
}

/// Streams `reader` into the blob store; returns (hex digest, size).
fn put_blob(store: &Store, mut reader: impl Read) -> Result<(String, u64)> {
    let dir = layout(store).join("blobs").join("sha256");
    fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(".tmp-{}", ids::random_hex(8)));
    let mut file = File::create(&tmp)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    let result: Result<()> = (|| {
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])?;
            size += n as u64;
        }
        file.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let hex = ids::hex(&hasher.finalize());
    fs::rename(&tmp, dir.join(&hex))?;
    Ok((hex, size))
}

fn digest(hex: &str) -> Result<Digest> {
    Ok(Digest::from_str(&format!("sha256:{hex}"))?)
}

fn descriptor(media: MediaType, hex: &str, size: u64) -> Result<Descriptor> {
    Ok(Descriptor::new(media, size, digest(hex)?))
}

/// Every image in the store.
pub fn list(store: &Store) -> Result<Vec<Image>> {
    let index = load_index(store)?;
    let mut by_manifest: Vec<Image> = vec![];
    for d in index.manifests() {
        let hex = d.digest().digest().to_string();
        let name = d
            .annotations()
            .as_ref()
            .and_then(|a| a.get(REF_NAME).cloned());
        if let Some(img) = by_manifest.iter_mut().find(|i| i.manifest_digest == hex) {
            img.names.extend(name);
            continue;
        }
        let manifest = ImageManifest::from_file(blob_path(store, &hex))?;
        let config_hex = manifest.config().digest().digest().to_string();
        let config = ImageConfiguration::from_file(blob_path(store, &config_hex))?;
        by_manifest.push(Image {
            id: config_hex,
            names: name.into_iter().collect(),
            manifest_digest: hex,
            manifest,
            config,
        });
    }
    Ok(by_manifest)
}

/// By name (normalized), full ID or ID prefix.
pub fn find(store: &Store, key: &str) -> Result<Option<Image>> {
    let all = list(store)?;
    let normal = normalize(key);
    let key = key.trim_start_matches("sha256:");
    Ok(all.into_iter().find(|i| {
        i.names.iter().any(|n| *n == normal || n == key)
            || i.id == key
            || (key.len() >= 3
                && i.id.starts_with(key)
                && key.chars().all(|c| c.is_ascii_hexdigit()))
    }))
}

/// Writes a one-layer image from an uncompressed layer tar; returns the image ID.
pub fn create(
    store: &Store,
    name: &str,
    layer: impl Read,
    annotations: HashMap<String, String>,
    comment: &str,
) -> Result<String> {
    let _lock = store.lock_images()?;
    let (layer_hex, layer_size) = put_blob(store, layer)?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let facts = crate::hostinfo::HostFacts::read();
    let mut rootfs = RootFs::default();
    rootfs.set_diff_ids(vec![format!("sha256:{layer_hex}")]);
    let mut history = History::default();
    history.set_created(Some(now.clone()));
    history.set_comment(Some(comment.to_string()));
    let mut config = ImageConfiguration::default();
    config.set_created(Some(now));
    config.set_architecture(Arch::from(facts.arch.as_str()));
    config.set_os(Os::Linux);
    config.set_rootfs(rootfs);
    config.set_history(Some(vec![history]));
    let config = config.to_string()?;
    add(
        store,
        name,
        (&layer_hex, layer_size),
        config.as_bytes(),
        annotations,
    )
}

/// Stores a config and a manifest for a stored layer blob, and names the image. Call with the
/// images lock held.
fn add(
    store: &Store,
    name: &str,
    (layer_hex, layer_size): (&str, u64),
    config: &[u8],
    annotations: HashMap<String, String>,
) -> Result<String> {
    let (config_hex, config_size) = put_blob(store, config)?;
    let manifest: ImageManifest = serde_json::from_value(json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor(MediaType::ImageConfig, &config_hex, config_size)?,
        "layers": [descriptor(MediaType::ImageLayer, layer_hex, layer_size)?],
        "annotations": annotations,
    }))?;
    let (manifest_hex, manifest_size) = put_blob(store, manifest.to_string()?.as_bytes())?;
    let mut index = load_index(store)?;
    // A name points at one image: take it from any other.
    let mut manifests = index.manifests().clone();
    manifests.retain(|d| ref_name(d).as_deref() != Some(name));
    let mut d = descriptor(MediaType::ImageManifest, &manifest_hex, manifest_size)?;
    d.set_annotations(Some(HashMap::from([(
        REF_NAME.to_string(),
        name.to_string(),
    )])));
    manifests.push(d);
    index.set_manifests(manifests);
    save_index(store, &index)?;
    Ok(config_hex)
}

fn ref_name(d: &Descriptor) -> Option<String> {
    d.annotations()
        .as_ref()
        .and_then(|a| a.get(REF_NAME).cloned())
}

/// The layer tar of a one-layer image (a checkpoint image).
pub fn open_single_layer(store: &Store, image: &Image) -> Result<File> {
    let layers = image.manifest.layers();
    if layers.len() != 1 {
        bail!("image {} has {} layers, not one", image.id, layers.len());
    }
    Ok(File::open(blob_path(store, layers[0].digest().digest()))?)
}

/// The extracted layers of an image, bottom first, extracting any that are not yet.
pub fn extract_layers(store: &Store, image: &Image) -> Result<Vec<PathBuf>> {
    let mut dirs = vec![];
    for (desc, diff_id) in image.manifest.layers().iter().zip(image.diff_ids()) {
        let dir = store.dir("layers").join(&diff_id);
        if !dir.exists() {
            let _lock = store.lock_images()?;
            if !dir.exists() {
                let tmp = store.temp_dir("layer")?;
                let blob = File::open(blob_path(store, desc.digest().digest()))?;
                let reader: Box<dyn Read> = match desc.media_type() {
                    MediaType::ImageLayerGzip => Box::new(flate2::read::GzDecoder::new(blob)),
                    MediaType::ImageLayerZstd => Box::new(zstd::Decoder::new(blob)?),
                    _ => Box::new(blob),
                };
                crate::archive::unpack_image_layer(reader, &tmp)
                    .with_context(|| format!("extracting layer {diff_id}"))?;
                fs::rename(&tmp, &dir)?;
            }
        }
        // containers/storage gives a layer's root 0555 whatever the tarball says, and a
        // container's root the mode of its image's: CRIU checks it on restore, so a checkpoint
        // moves between refpod and podman only when both agree. (Also fixes layers extracted
        // before refpod did this.)
        if fs::metadata(&dir)?.permissions().mode() & 0o7777 != LAYER_ROOT_MODE {
            fs::set_permissions(&dir, fs::Permissions::from_mode(LAYER_ROOT_MODE))?;
        }
        dirs.push(dir);
    }
    Ok(dirs)
}

/// `import TARBALL IMG`: one uncompressed layer holding the tarball's files, under the config
/// podman's `import` writes for it, byte for byte (`import_config.rs`): the image ID is the
/// config's digest, so both engines give the same tarball the same ID, and each finds the image
/// of the other's checkpoint archive by its `rootfsImageID`. Returns the image ID.
pub fn import(store: &Store, tarball: &Path, name: &str) -> Result<String> {
    let reader =
        crate::archive::open(tarball).with_context(|| format!("opening {}", tarball.display()))?;
    let mtime = fs::metadata(tarball)?.modified()?;
    let _lock = store.lock_images()?;
    let (layer_hex, layer_size) = put_blob(store, reader)?;
    let facts = crate::hostinfo::HostFacts::read();
    let config = crate::import_config::podman_import_config(&layer_hex, mtime, &facts.arch);
    add(
        store,
        &normalize(name),
        (&layer_hex, layer_size),
        &config,
        HashMap::new(),
    )
}

/// `image save --format oci-archive -o FILE IMG`: the image as an OCI layout in a tar (index.json
/// naming it, its manifest, config and layers as blobs), as podman writes one. Written to a
/// temporary file beside FILE and renamed.
pub fn save(store: &Store, name: &str, output: &Path, format: &str) -> Result<()> {
    if format != "oci-archive" {
        bail!("unsupported image format {format:?}: refpod saves oci-archive only");
    }
    let img = find(store, name)?.ok_or_else(|| anyhow::anyhow!("{name}: image not known"))?;
    let manifest_path = blob_path(store, &img.manifest_digest);
    let manifest_size = fs::metadata(&manifest_path)?.len();
    let mut desc = descriptor(
        MediaType::ImageManifest,
        &img.manifest_digest,
        manifest_size,
    )?;
    let ref_name = img
        .names
        .first()
        .cloned()
        .unwrap_or_else(|| normalize(name));
    desc.set_annotations(Some(HashMap::from([(REF_NAME.to_string(), ref_name)])));
    let index = json!({"schemaVersion": 2, "manifests": [desc]});

    let tmp = output.with_file_name(format!(
        ".{}.tmp-{}",
        output
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("save"),
        ids::random_hex(8)
    ));
    let result: Result<()> = (|| {
        let mut tar = tar::Builder::new(File::create(&tmp)?);
        let mut add = |path: &str, data: &[u8]| -> Result<()> {
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            tar.append_data(&mut h, path, data)?;
            Ok(())
        };
        add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        add("index.json", &serde_json::to_vec(&index)?)?;
        let mut blobs = vec![img.manifest_digest.clone()];
        blobs.push(img.manifest.config().digest().digest().to_string());
        blobs.extend(
            img.manifest
                .layers()
                .iter()
                .map(|l| l.digest().digest().to_string()),
        );
        for hex in blobs {
            let path = format!("blobs/sha256/{hex}");
            let mut file = File::open(blob_path(store, &hex))?;
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_size(file.metadata()?.len());
            tar.append_data(&mut h, &path, &mut file)?;
        }
        tar.into_inner()?.sync_all()?;
        fs::rename(&tmp, output)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("saving {name} to {}", output.display()))
}

/// `rmi`: untags the image `key` names (all of its names when `key` is its ID), printing podman's
/// `Untagged:` and `Deleted:` lines; an image left without names is deleted with the blobs only it
/// used. False when there is no such image.
pub fn remove(store: &Store, key: &str) -> Result<bool> {
    let Some(img) = find(store, key)? else {
        return Ok(false);
    };
    let _lock = store.lock_images()?;
    let mut index = load_index(store)?;
    let normal = normalize(key);
    let by_name = img.names.contains(&normal);
    let mut manifests = index.manifests().clone();
    manifests.retain(|d| {
        let same = d.digest().digest() == img.manifest_digest;
        !(same && (!by_name || ref_name(d).as_deref() == Some(normal.as_str())))
    });
    index.set_manifests(manifests);
    save_index(store, &index)?;
    for n in img.names.iter().filter(|n| !by_name || **n == normal) {
        println!("Untagged: {n}");
    }
    if !index
        .manifests()
        .iter()
        .any(|d| d.digest().digest() == img.manifest_digest)
    {
        println!("Deleted: {}", img.id);
        collect_garbage(store, &index)?;
    }
    Ok(true)
}

/// Deletes blobs that no manifest in the index refers to, and extracted layers nothing uses.
fn collect_garbage(store: &Store, index: &ImageIndex) -> Result<()> {
    let mut keep = BTreeSet::new();
    let mut keep_layers = BTreeSet::new();
    for d in index.manifests() {
        let hex = d.digest().digest().to_string();
        if let Ok(m) = ImageManifest::from_file(blob_path(store, &hex)) {
            let config_hex = m.config().digest().digest().to_string();
            if let Ok(c) = ImageConfiguration::from_file(blob_path(store, &config_hex)) {
                keep_layers.extend(
                    c.rootfs()
                        .diff_ids()
                        .iter()
                        .map(|d| d.trim_start_matches("sha256:").to_string()),
                );
            }
            keep.insert(config_hex);
            keep.extend(m.layers().iter().map(|l| l.digest().digest().to_string()));
        }
        keep.insert(hex);
    }
    let blobs = layout(store).join("blobs").join("sha256");
    for e in fs::read_dir(&blobs)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && !keep.contains(&name) {
            let _ = fs::remove_file(e.path());
        }
    }
    for c in store.list()? {
        keep_layers.extend(c.config.rootfs_layers.iter().cloned());
    }
    for e in fs::read_dir(store.dir("layers"))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !keep_layers.contains(&name) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_as_podman_does() {
        assert_eq!(normalize("x"), "localhost/x:latest");
        assert_eq!(normalize("localhost/x"), "localhost/x:latest");
        assert_eq!(normalize("localhost/x:1"), "localhost/x:1");
        assert_eq!(normalize("quay.io/a/b:2"), "quay.io/a/b:2");
    }

    #[test]
    fn an_image_round_trips_through_the_layout() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::open(t.path(), None).unwrap();
        let ann = HashMap::from([("k".to_string(), "v".to_string())]);
        let id = create(&store, "localhost/a:latest", &b"layer"[..], ann, "test").unwrap();
        let img = find(&store, "a").unwrap().unwrap();
        assert_eq!(img.id, id);
        assert_eq!(img.annotations()["k"], "v");
        assert!(find(&store, &id[..12]).unwrap().is_some());
        assert!(remove(&store, "localhost/a:latest").unwrap());
        assert!(find(&store, "a").unwrap().is_none());
    }
}
