//! Commands over several names, as podman runs them: each name on its own, a failure does not
//! stop the others; what succeeds is printed as it goes, and at the end every error but the last
//! is printed as `Error: ...` and the last one is returned (the exit status is its).

use anyhow::Result;

#[derive(Default)]
pub struct Outcomes {
    errors: Vec<anyhow::Error>,
}

impl Outcomes {
    /// One name's outcome: `Ok(Some(line))` prints the line on stdout, `Ok(None)` nothing.
    pub fn add(&mut self, outcome: Result<Option<String>>) {
        match outcome {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {}
            Err(e) => self.errors.push(e),
        }
    }

    pub fn finish(mut self) -> Result<()> {
        let Some(last) = self.errors.pop() else {
            return Ok(());
        };
        for e in self.errors {
            eprintln!("Error: {e:#}");
        }
        Err(last)
    }
}

/// Runs `f` on each item in order and reports as [`Outcomes`] does.
pub fn each<T>(
    items: impl IntoIterator<Item = T>,
    mut f: impl FnMut(T) -> Result<Option<String>>,
) -> Result<()> {
    let mut outcomes = Outcomes::default();
    for item in items {
        outcomes.add(f(item));
    }
    outcomes.finish()
}
