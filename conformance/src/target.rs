//! The target: the podman-compatible executable under test, with its global arguments, run inside a
//! sandbox. Every call is recorded (argv, exit status, stdout, stderr, wall time) for the case's log
//! and for the benchmark of the suite's own overhead.

use ckpt_sandbox::bounded::Limits;
use ckpt_sandbox::Sandbox;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a run's commands cost: their number and summed wall time, and the time cases slept
/// waiting for workloads, for the benchmark of the suite's own overhead (`cargo xtask bench
/// suite`). Owned by the run and shared by its engines, so two runs in one process (the mutants
/// harness) never add up.
#[derive(Debug, Default)]
pub struct Tally {
    commands: AtomicU64,
    command_nanos: AtomicU64,
    wait_nanos: AtomicU64,
}

impl Tally {
    /// How many commands ran in the sandbox, and their summed wall time.
    pub fn commands(&self) -> (u64, Duration) {
        (
            self.commands.load(Ordering::Relaxed),
            Duration::from_nanos(self.command_nanos.load(Ordering::Relaxed)),
        )
    }

    /// The summed time cases slept in [`Target::wait`].
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.wait_nanos.load(Ordering::Relaxed))
    }

    fn command(&self, d: Duration) {
        self.commands.fetch_add(1, Ordering::Relaxed);
        self.command_nanos
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// Bytes kept of a command's stdout and of its stderr: far more than any real output of the
/// command surface (inspect of every container), far less than a target printing without end.
const MAX_OUTPUT: usize = 16 << 20;

#[derive(Clone)]
pub struct Target {
    sandbox: Sandbox,
    /// The executable's path or name inside the sandbox.
    pub bin: String,
    /// Arguments before the subcommand, e.g. `--runtime runc`.
    pub global_args: Vec<String>,
    /// The run's tally, shared by its engines ([`Target::counted_in`]).
    tally: Arc<Tally>,
}

/// One recorded call.
#[derive(Clone, Debug)]
pub struct Call {
    pub argv: Vec<String>,
    /// `None` when the call was killed at its timeout.
    pub exit: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
}

impl Call {
    pub fn ok(&self) -> bool {
        self.exit == Some(0)
    }

    /// One block of a case log: the command, its status and time, and its output.
    pub fn render(&self) -> String {
        let mut s = format!(
            "$ {}\n  -> {} in {:.2} s\n",
            self.argv.join(" "),
            match self.exit {
                Some(code) => format!("exit {code}"),
                None => "killed at its timeout".to_string(),
            },
            self.duration.as_secs_f64()
        );
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if !text.is_empty() {
                let _ = writeln!(
                    s,
                    "  {name}: {}",
                    shorten(text).replace('\n', "\n          ")
                );
            }
        }
        s
    }
}

/// Long outputs (inspect JSON) keep their head in the log.
fn shorten(text: &str) -> String {
    const LINES: usize = 12;
    let lines: Vec<&str> = text.trim_end().lines().collect();
    if lines.len() <= LINES {
        return lines.join("\n");
    }
    format!(
        "{}\n... ({} more lines)",
        lines[..LINES].join("\n"),
        lines.len() - LINES
    )
}

impl Target {
    pub fn new(sandbox: Sandbox, bin: String, global_args: Vec<String>) -> Target {
        Target {
            sandbox,
            bin,
            global_args,
            tally: Arc::default(),
        }
    }

    /// The same target, its commands counted in `tally`.
    pub fn counted_in(self, tally: &Arc<Tally>) -> Target {
        Target {
            tally: tally.clone(),
            ..self
        }
    }

    pub fn tally(&self) -> &Arc<Tally> {
        &self.tally
    }

    /// Sleeps while a case waits for a workload to move on, counted apart from the suite's own
    /// work.
    pub fn wait(&self, d: Duration) {
        std::thread::sleep(d);
        self.tally
            .wait_nanos
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Runs the target with `args` (after the global ones), killed after `timeout`.
    pub fn call(&self, args: &[String], timeout: Duration) -> Call {
        let mut argv = vec![self.bin.clone()];
        argv.extend(self.global_args.iter().cloned());
        argv.extend(args.iter().cloned());
        self.run_inside(argv, timeout)
    }

    /// Runs any command inside the sandbox (not the target), e.g. `criu --version`.
    pub fn run_inside(&self, argv: Vec<String>, timeout: Duration) -> Call {
        // `timeout` runs inside, so that the target and everything it started are killed there:
        // killing our side of `nsenter` would leave them running.
        let secs = timeout.as_secs().max(1).to_string();
        let mut wrapped = vec!["timeout".into(), "-k".into(), "2".into(), secs];
        wrapped.extend(argv.iter().cloned());
        // Bounded on our side too: `timeout` cannot reach a child that left its process group
        // (setsid) while holding the output, nor stop a target that prints without end.
        let limits = Limits {
            deadline: timeout.max(Duration::from_secs(1)) + Duration::from_secs(3),
            max_output: MAX_OUTPUT,
        };
        let start = Instant::now();
        let output = self
            .sandbox
            .command(&wrapped)
            .and_then(|mut c| c.output_bounded(limits));
        let duration = start.elapsed();
        self.tally.command(duration);
        match output {
            Ok(out) => {
                // A command killed by a signal reports 128 + the signal, as a shell would.
                let code = out.status.code().or_else(|| {
                    std::os::unix::process::ExitStatusExt::signal(&out.status).map(|s| 128 + s)
                });
                let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                if let Some(note) = out.note() {
                    stderr.push_str(&format!("\n[the suite: {note}]\n"));
                }
                Call {
                    argv,
                    // timeout(1) exits 124 when it had to kill the command.
                    exit: code.filter(|c| *c != 124 && !out.timed_out),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr,
                    duration,
                }
            }
            Err(e) => Call {
                argv,
                exit: Some(-1),
                stdout: String::new(),
                stderr: format!("could not run the command in the sandbox: {e:#}"),
                duration,
            },
        }
    }
}
