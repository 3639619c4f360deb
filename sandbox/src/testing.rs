//! For test binaries: a started sandbox, or a SKIP with the reason where this machine cannot provide
//! one. With `CKPT_REQUIRE_SANDBOX=1` (CI sets it) such a skip is a failure instead.

use crate::config::Config;
use crate::host::Unavailable;
use crate::sandbox::Sandbox;

/// The default sandbox (ns, trixie, default cache), built and started; `None` means "skip".
pub fn started_sandbox_or_skip(test: &str) -> Option<Sandbox> {
    let result = Sandbox::new(Config::from_env()).and_then(|s| s.start().map(|_| s));
    match result {
        Ok(sandbox) => Some(sandbox),
        Err(e) if e.downcast_ref::<Unavailable>().is_some() => {
            if std::env::var("CKPT_REQUIRE_SANDBOX").as_deref() == Ok("1") {
                panic!("{test}: CKPT_REQUIRE_SANDBOX=1, but no sandbox here: {e}");
            }
            eprintln!("SKIPPED {test}: no sandbox on this machine: {e}");
            None
        }
        Err(e) => panic!("{test}: the sandbox failed: {e:#}"),
    }
}
