//! Runs a long provisioning script and shows which step it is on and for how long, never a silent
//! minute. The script announces steps with lines `STEP <what>`; other output is kept for errors.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HEARTBEAT: Duration = Duration::from_secs(15);

/// Runs `cmd`, printing each step with the elapsed time; on failure the error carries the last
/// lines of output.
pub fn run_steps(label: &str, mut cmd: Command) -> Result<()> {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let current = Arc::new(Mutex::new((String::from("starting"), Instant::now())));
    let done = Arc::new(Mutex::new(false));

    let heartbeat = {
        let (current, done, label) = (current.clone(), done.clone(), label.to_string());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            if *done.lock().unwrap() {
                return;
            }
            let mut cur = current.lock().unwrap();
            if cur.1.elapsed() >= HEARTBEAT {
                eprintln!(
                    "[{label}]   ... still {} ({} s in all)",
                    cur.0,
                    start.elapsed().as_secs()
                );
                cur.1 = Instant::now();
            }
        })
    };

    let tail = Arc::new(Mutex::new(Vec::<String>::new()));
    let stderr_reader = {
        let tail = tail.clone();
        let stderr = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                push_tail(&tail, line);
            }
        })
    };
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(step) = line.strip_prefix("STEP ") {
            eprintln!(
                "[{label}] {step} (at {:.0} s)",
                start.elapsed().as_secs_f64()
            );
            *current.lock().unwrap() = (step.to_string(), Instant::now());
        } else {
            push_tail(&tail, line);
        }
    }
    let status = child.wait()?;
    let _ = stderr_reader.join();
    *done.lock().unwrap() = true;
    let _ = heartbeat.join();
    if !status.success() {
        let step = current.lock().unwrap().0.clone();
        let output = tail.lock().unwrap().join("\n");
        if output.contains("No space left on device") {
            bail!(
                "{label}: the disk filled up during '{step}': free some space, or point \
                 CKPT_SANDBOX_CACHE (or --cache-dir) at a larger disk\n{output}"
            );
        }
        bail!("{label}: '{step}' failed ({status}):\n{output}");
    }
    eprintln!("[{label}] done in {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn push_tail(tail: &Mutex<Vec<String>>, line: String) {
    let mut t = tail.lock().unwrap();
    t.push(line);
    if t.len() > 30 {
        t.remove(0);
    }
}
