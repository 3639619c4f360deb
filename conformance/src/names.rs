//! Names of what a case creates: unique to the run and the case, so that cases can run side by side
//! and a sweep can find leftovers. Every container, volume and image name handed out is registered,
//! for the case's own cleanup and for the run's final sweep (after a timeout or Ctrl-C).

use crate::case::ContainerSpec;
use crate::oracle::Finding;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Container,
    Volume,
    Image,
}

/// Every name a run handed out and no case has cleaned up yet: what the run's final sweep removes
/// (after a timeout or Ctrl-C). Owned by the run.
#[derive(Debug, Default)]
pub struct Live(Mutex<BTreeSet<(Kind, String)>>);

impl Live {
    /// Names handed out whose case never cleaned up: the final sweep removes them.
    pub fn leftovers(&self) -> Vec<(Kind, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
            .into_iter()
            .collect()
    }
}

/// The names of one case.
pub struct Names {
    live: Arc<Live>,
    prefix: String,
    files: PathBuf,
    created: BTreeSet<(Kind, String)>,
}

impl Names {
    pub fn new(run_id: &str, case_id: &str, share: &Path, live: Arc<Live>) -> Names {
        Names {
            live,
            prefix: format!("cc{run_id}-{case_id}"),
            files: share.join("runs").join(run_id).join(case_id),
            created: BTreeSet::new(),
        }
    }

    /// The case's folder for archives, on the host and (at the same path) inside the sandbox.
    pub fn files_dir(&self) -> &Path {
        &self.files
    }

    /// A container name the case did not hand out but may have made exist (a hostile archive
    /// named after another container's short ID): removed at cleanup like the others.
    pub fn remove_at_cleanup(&mut self, name: &str) {
        self.hand_out(Kind::Container, name.to_string());
    }

    fn hand_out(&mut self, kind: Kind, name: String) -> String {
        self.live.0.lock().unwrap().insert((kind, name.clone()));
        self.created.insert((kind, name.clone()));
        name
    }

    /// Resolves a placeholder's inside (`c`, `name:x`, `vol:x`, `image:x`, `file:x`, `test_image`).
    pub fn resolve(&mut self, inner: &str, declared: &[ContainerSpec]) -> Result<String, Finding> {
        let unique = |x: &str| format!("{}-{x}", self.prefix);
        match inner.split_once(':') {
            None if inner == "test_image" => Ok(ckpt_sandbox::TEST_IMAGE.to_string()),
            None if declared.iter().any(|c| c.name == inner) => {
                Ok(self.hand_out(Kind::Container, unique(inner)))
            }
            None => Err(format!(
                "unknown placeholder {{{inner}}}: declare a container `{inner}`"
            )),
            Some(("name", x)) => Ok(self.hand_out(Kind::Container, unique(x))),
            Some(("vol", x)) => Ok(self.hand_out(Kind::Volume, unique(x))),
            Some(("image", x)) => {
                // podman stores `--create-image NAME` as localhost/NAME:latest.
                Ok(self.hand_out(Kind::Image, format!("localhost/{}:latest", unique(x))))
            }
            Some(("file", x)) if x.split('/').any(|p| p == ".." || p.is_empty()) => {
                Err(format!("{{file:{x}}} must stay inside the case's folder"))
            }
            Some(("file", x)) => Ok(self.files.join(x).display().to_string()),
            Some((other, _)) => Err(format!(
                "unknown placeholder kind `{other}:` in {{{inner}}}"
            )),
        }
    }

    /// What the case created, by kind, for its cleanup; unregistered from the sweep.
    pub fn created(&mut self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let mut live = self.live.0.lock().unwrap();
        let mut out = (vec![], vec![], vec![]);
        for (kind, name) in std::mem::take(&mut self.created) {
            live.remove(&(kind, name.clone()));
            match kind {
                Kind::Container => out.0.push(name),
                Kind::Volume => out.1.push(name),
                Kind::Image => out.2.push(name),
            }
        }
        out
    }
}
