//! The independent readers of an exported archive, run inside the sandbox on the file the target
//! wrote (the case's folder is at the same path on both sides): `checkpointctl inspect` and
//! `crit decode` on an export, `skopeo inspect` on a checkpoint image the target saved. Their
//! output goes, untrusted, to the pure oracles `oracle::checkpointctl`, `oracle::crit`,
//! `oracle::processes` and `oracle::skopeo`.

use super::CaseRun;
use crate::case::ArchiveStep;
use crate::oracle::archive::{self, Archive};
use crate::oracle::checkpointctl::{self, Expect};
use crate::oracle::processes::{self, ProcessExpect};
use crate::oracle::{crit, skopeo, Finding};

impl CaseRun<'_> {
    /// Judges a full export with checkpointctl and crit. The container it came from is the step's
    /// `container`, else the case's one declared container.
    pub(super) fn read_independently(
        &mut self,
        step: &ArchiveStep,
        path: &str,
        archive: &Archive,
    ) -> Result<Vec<Finding>, Finding> {
        if !archive
            .members
            .iter()
            .any(|m| m.path == "checkpoint/inventory.img")
        {
            // checkpointctl and crit read a checkpoint; a pre-checkpoint export holds none.
            self.log.push_str(
                "# readers: no checkpoint/inventory.img (a pre-checkpoint export), not read by checkpointctl or crit\n",
            );
            return Ok(vec![]);
        }
        let declared = &self.case.containers;
        let spec = match &step.container {
            Some(key) => declared
                .iter()
                .find(|c| c.name == key.strip_prefix("peer:").unwrap_or(key))
                .ok_or(format!(
                    "the archive's `container = {key:?}` is not declared"
                ))?,
            None if declared.len() == 1 => &declared[0],
            None => {
                return Err(format!(
                    "the case declares {} containers: the archive step must say which one it \
                     holds (`container = \"c\"`) for checkpointctl and crit to judge it",
                    declared.len()
                ))
            }
        };
        let inspect = self
            .created
            .get(&spec.name)
            .cloned()
            .ok_or(format!("no inspect of `{}` from its setup", spec.name))?;
        let text = |key: &str| inspect[key].as_str().unwrap_or_default().to_string();
        let mounts: Vec<String> = inspect["Mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["Destination"].as_str().map(String::from))
            .collect();
        let workload = &self.ctx.catalog[&spec.workload];
        let want_processes = ProcessExpect {
            processes: workload.processes.clone(),
            transient: workload.transient.clone(),
        };

        let decoded = self.crit_decode(path, archive)?;
        let (mut findings, tree) = crit::check_images(&decoded);
        if want_processes.processes.is_empty() {
            findings.push(format!(
                "workload `{}` declares no `processes` in the catalog: crit's process tree cannot be judged",
                spec.workload
            ));
        } else if findings.is_empty() {
            // Only on a tree crit could decode whole: a process it lost would be reported twice.
            findings.extend(processes::check_processes("crit", &tree, &want_processes));
        }

        let argv = [
            "checkpointctl",
            "inspect",
            "--format",
            "json",
            "--ps-tree",
            "--files",
            "--mounts",
            "--stats",
            path,
        ];
        let call = self
            .ctx
            .target
            .run_inside(argv.map(String::from).to_vec(), self.budget()?);
        self.log.push_str(&call.render());
        if !call.ok() {
            findings.push(checkpointctl::unreadable(call.exit, &call.stderr));
            return Ok(findings);
        }
        let expect = Expect {
            name: &text("Name"),
            id: &text("Id"),
            image: &text("ImageName"),
            runtime: &text("OCIRuntime"),
            mounts: &mounts,
            tree: &tree,
        };
        findings.extend(checkpointctl::check(&call.stdout, archive, &expect));
        Ok(findings)
    }

    /// Writes the archive's CRIU images beside it and decodes each with `crit decode` inside the
    /// sandbox; an image crit cannot decode keeps crit's error.
    fn crit_decode(&mut self, path: &str, archive: &Archive) -> Result<crit::Decoded, Finding> {
        let dir = format!("{path}.crit");
        // The share folder is the target's to change: every file here is opened beneath it
        // without following links.
        let share = crate::share::Share::new(&self.ctx.share);
        share.create_dir_all(dir.as_ref())?;
        let mut names = vec![];
        for m in &archive.members {
            let Some(name) = m.path.strip_prefix("checkpoint/") else {
                continue;
            };
            if !crit::decoded_image(name) || name.contains('/') {
                continue;
            }
            let data = m
                .data
                .as_ref()
                .ok_or(format!("checkpoint/{name} was too big to keep"))?;
            share.write(format!("{dir}/{name}").as_ref(), data)?;
            names.push(name.to_string());
        }
        // One shell for all images: `crit decode -i X -o X.json`, its errors in X.err.
        let script = "cd \"$1\" && shift && for f; do crit decode -i \"$f\" -o \"$f.json\" 2>\"$f.err\" || rm -f \"$f.json\"; done";
        let mut argv: Vec<String> = ["sh", "-c", script, "sh", &dir].map(String::from).to_vec();
        argv.extend(names.iter().cloned());
        self.inside_ok(argv, "cannot run crit in the sandbox")?;
        let mut decoded = crit::Decoded::new();
        for name in names {
            let json = share.read_to_string(format!("{dir}/{name}.json").as_ref());
            let result = json.map_err(|_| {
                let err = share
                    .read_to_string(format!("{dir}/{name}.err").as_ref())
                    .unwrap_or_default();
                let last = err
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("no error text")
                    .to_string();
                last
            });
            decoded.insert(name, result);
        }
        Ok(decoded)
    }
}

/// The most bytes read of a saved image's layer blob.
const MAX_LAYER: u64 = 4 << 30;

impl CaseRun<'_> {
    /// Saves a checkpoint image with the target's `image save --format oci-archive` and has skopeo
    /// read it; its layer, read from the saved file, must hold an export's members.
    pub(super) fn read_image_independently(
        &mut self,
        image: &str,
        annotations: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<Finding>, Finding> {
        let path = format!("{}/image.oci.tar", self.names.files_dir().display());
        let save = [
            "image",
            "save",
            "--format",
            "oci-archive",
            "-o",
            &path,
            image,
        ];
        let call = self.call(&save.map(String::from))?;
        if !call.ok() {
            return Ok(vec![format!(
                "`image save --format oci-archive` of {image} failed (exit {:?}): {}",
                call.exit,
                call.stderr.trim()
            )]);
        }
        let mut outputs = vec![];
        for raw in [true, false] {
            let mut argv = vec!["skopeo".to_string(), "inspect".to_string()];
            if raw {
                argv.push("--raw".into());
            }
            argv.push(format!("oci-archive:{path}"));
            let call = self.ctx.target.run_inside(argv, self.budget()?);
            self.log.push_str(&call.render());
            if !call.ok() {
                return Ok(vec![format!(
                    "skopeo cannot read the saved image (exit {:?}): {}",
                    call.exit,
                    call.stderr.trim()
                )]);
            }
            outputs.push(call.stdout);
        }
        let layer = match skopeo::single_layer(&outputs[0]) {
            Some(digest) => crate::share::Share::new(&self.ctx.share)
                .open_read(path.as_ref())
                .and_then(|file| read_blob(file, &path, &digest))
                .and_then(|b| archive::read_archive(&b)),
            None => Err("the manifest has not exactly one layer".to_string()),
        };
        Ok(skopeo::check(
            &outputs[0],
            &outputs[1],
            annotations,
            layer.as_ref().map_err(Clone::clone),
        ))
    }
}

/// The blob `sha256:<hex>` of an OCI archive (a tar of an OCI layout), bounded.
fn read_blob(file: std::fs::File, oci_archive: &str, digest: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or(format!("layer digest {digest:?} is not a sha256 digest"))?;
    let want = format!("blobs/sha256/{hex}");
    let mut tar = tar::Archive::new(file.take(MAX_LAYER * 2));
    let entries = tar.entries().map_err(|e| format!("{oci_archive}: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("{oci_archive}: {e}"))?;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if path.trim_start_matches("./") == want {
            let mut out = vec![];
            (&mut entry)
                .take(MAX_LAYER)
                .read_to_end(&mut out)
                .map_err(|e| format!("{want}: {e}"))?;
            return Ok(out);
        }
    }
    Err(format!("{oci_archive} holds no {want}"))
}
