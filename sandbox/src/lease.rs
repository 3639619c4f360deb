//! A run's hold on a sandbox. A suite run must leave no process behind, yet several runs (the mutant
//! harness, tests, a user in another terminal) may share one sandbox. Each run holds a shared flock
//! on `<build>.runs` for as long as it uses the sandbox; the last one to let go stops the sandbox if a
//! run started it (a marker file says so). A sandbox started by `cargo xtask sandbox start` or by a
//! test is left as it is.

use crate::sandbox::Sandbox;
use anyhow::{Context, Result};
use std::fs::File;
use std::path::PathBuf;

impl Sandbox {
    /// Starts the sandbox for a run (building it if needed) and holds it until the lease is
    /// dropped; then the last run stops it if a run started it.
    pub fn lease(&self) -> Result<Lease> {
        Lease::take(self)
    }
}

pub struct Lease {
    sandbox: Sandbox,
    /// `None` for the host backend, which has nothing to start or stop.
    hold: Option<(File, PathBuf)>,
}

impl Lease {
    fn take(sandbox: &Sandbox) -> Result<Lease> {
        let status = sandbox.status();
        if status.backend == "none" {
            sandbox.start()?;
            return Ok(Lease {
                sandbox: sandbox.clone(),
                hold: None,
            });
        }
        let runs = status.dir.with_extension("runs");
        let marker = status.dir.with_extension("started-by-run");
        if let Some(cache) = runs.parent() {
            std::fs::create_dir_all(cache)
                .with_context(|| format!("creating the sandbox cache {}", cache.display()))?;
        }
        let file = File::create(&runs).with_context(|| format!("creating {}", runs.display()))?;
        file.lock_shared()
            .with_context(|| format!("locking {}", runs.display()))?;
        if !sandbox.status().running {
            sandbox.start()?;
            let pid = sandbox.status().init_pid.unwrap_or(0);
            std::fs::write(&marker, pid.to_string())
                .with_context(|| format!("creating {}", marker.display()))?;
        }
        Ok(Lease {
            sandbox: sandbox.clone(),
            hold: Some((file, marker)),
        })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some((file, marker)) = self.hold.take() else {
            return;
        };
        // Exclusive without waiting: it succeeds only when no other run holds the sandbox.
        let last = file.try_lock().is_ok();
        let started_by_a_run = std::fs::read_to_string(&marker).is_ok_and(|pid| {
            Some(pid.trim())
                == self
                    .sandbox
                    .status()
                    .init_pid
                    .map(|p| p.to_string())
                    .as_deref()
        });
        if last && started_by_a_run {
            if let Err(e) = self.sandbox.stop() {
                eprintln!("warning: stopping the sandbox after the run: {e:#}");
            }
            let _ = std::fs::remove_file(&marker);
        }
    }
}
