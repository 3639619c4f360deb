//! podman-remote as a target: a client of the REST API, with nothing to talk to until a
//! `podman system service` listens. A run whose target is such a client starts a service of its
//! own inside the sandbox, on a socket of its own (so that two runs never stop each other's),
//! points the client at it with `--url`, and stops it at the end of the run, whatever happens:
//! [`Service`] stops it when dropped, after the final sweep, also after an interrupt or an error.
//! A run killed by SIGKILL leaves it to the sandbox's `stop`, which ends every process inside.

use crate::target::{Call, Target};
use anyhow::{Context as _, Result};
use std::time::{Duration, Instant};

const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a started service may take before its socket answers.
const READY_WAIT: Duration = Duration::from_secs(30);
/// How long a stopped service may take to shut down before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// What podman's remote client says, and only it, when no service answers on its socket
/// (`pkg/bindings/connection.go`): a local podman never dials a socket for `info`.
const NO_SERVICE: &str = "unable to connect to Podman socket";

/// Whether `info` failed the way a remote client fails with no service to talk to.
pub fn is_remote_without_service(info: &Call) -> bool {
    !info.ok() && info.stderr.contains(NO_SERVICE)
}

/// The service's socket for a run: under /run (a tmpfs of the sandbox), unique to the run.
pub fn socket_url(run_id: &str) -> String {
    format!("unix:///run/podman/ckpt-{run_id}.sock")
}

/// The shell command that starts the service detached (a session of its own, no pipe of ours
/// held, so that neither `timeout` nor the bounded runner wait for it) and records its PID
/// (`setsid` in a background job is no group leader, so it execs podman in place: `$!` is podman).
fn start_script(server_args: &[String], url: &str, pidfile: &str) -> String {
    let args: Vec<String> = server_args.iter().map(|a| quote(a)).collect();
    format!(
        "mkdir -p /run/podman || exit 1; setsid podman {args} system service --time=0 {url} \
         </dev/null >{pid}.log 2>&1 & echo $! > {pid}",
        pid = quote(pidfile),
        args = args.join(" "),
        url = quote(url),
    )
}

/// The shell command that stops it: SIGTERM, a grace, then SIGKILL; the socket file goes too. The
/// service is found by its PID file and by its command line, which names the run's own socket
/// (so no other run's service is touched); the command fails if it is still there at the end.
fn stop_script(pidfile: &str, url: &str) -> String {
    let tries = STOP_WAIT.as_millis() / 100;
    let socket = url.trim_start_matches("unix://");
    format!(
        "pids=\"$(cat {pid} 2>/dev/null) $(pgrep -f -- {pattern})\"; \
         [ -n \"${{pids# }}\" ] && kill -TERM $pids 2>/dev/null; i=0; \
         while pgrep -f -- {pattern} >/dev/null && [ $i -lt {tries} ]; do sleep 0.1; i=$((i+1)); done; \
         pgrep -f -- {pattern} | xargs -r kill -KILL; sleep 0.2; rm -f {pid} {pid}.log {sock}; \
         ! pgrep -f -- {pattern}",
        pid = quote(pidfile),
        pattern = quote(&format!("system service --time=0 {url}$")),
        sock = quote(socket),
    )
}

/// Single-quoted for sh; our own strings never hold a quote, but an argument might.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A service this run started; stopped when dropped.
pub struct Service {
    runner: Target,
    pidfile: String,
    pub url: String,
}

impl Service {
    /// When `target` is a remote client with no service answering, starts one and points the
    /// target at it: the target's global arguments (`--runtime`, which the client does not take)
    /// go to the service, the client gets `--url`. Any other target is left alone: `None`.
    pub fn start_if_remote(target: &mut Target, run_id: &str) -> Result<Option<Service>> {
        let bare = Target::new(target.sandbox().clone(), target.bin.clone(), vec![]);
        let info = bare.call(&["info".into()], PROBE_TIMEOUT);
        if !is_remote_without_service(&info) {
            return Ok(None);
        }
        let server_args = std::mem::take(&mut target.global_args);
        let url = socket_url(run_id);
        let socket = url.trim_start_matches("unix://").to_string();
        let service = Service {
            runner: target.clone(),
            pidfile: format!("{socket}.pid"),
            url: url.clone(),
        };
        let start = target.run_inside(
            vec![
                "sh".into(),
                "-c".into(),
                start_script(&server_args, &url, &service.pidfile),
            ],
            PROBE_TIMEOUT,
        );
        anyhow::ensure!(
            start.ok(),
            "starting `podman system service` for {}:\n{}",
            target.bin,
            start.render()
        );
        // From here on, dropping `service` stops it, also when it never answers.
        target.global_args = vec!["--url".into(), url.clone()];
        let started = Instant::now();
        loop {
            let info = target.call(
                &[
                    "info".into(),
                    "--format".into(),
                    "{{.Host.ServiceIsRemote}}".into(),
                ],
                PROBE_TIMEOUT,
            );
            if info.ok() {
                anyhow::ensure!(
                    info.stdout.trim() == "true",
                    "{} answered `info` through {url} but does not call itself a remote client:\n{}",
                    target.bin,
                    info.render()
                );
                return Ok(Some(service));
            }
            if started.elapsed() > READY_WAIT {
                let log = target.run_inside(
                    vec!["cat".into(), format!("{}.log", service.pidfile)],
                    PROBE_TIMEOUT,
                );
                return Err(anyhow::anyhow!("{}", info.render())).with_context(|| {
                    format!(
                        "the service on {url} did not answer within {} s; its log:\n{}",
                        READY_WAIT.as_secs(),
                        log.stdout
                    )
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stop(&self) -> Call {
        self.runner.run_inside(
            vec![
                "sh".into(),
                "-c".into(),
                stop_script(&self.pidfile, &self.url),
            ],
            STOP_WAIT + Duration::from_secs(5),
        )
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let stop = self.stop();
        if !stop.ok() {
            eprintln!("stopping the service on {}:\n{}", self.url, stop.render());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(exit: i32, stderr: &str) -> Call {
        Call {
            argv: vec!["podman-remote".into(), "info".into()],
            exit: Some(exit),
            stdout: String::new(),
            stderr: stderr.into(),
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn only_a_client_that_cannot_reach_its_socket_needs_a_service() {
        // As podman-remote 5.4.2 says it with no service on /run/podman/podman.sock.
        let refused =
            "Cannot connect to Podman. Please verify your connection to the Linux system \
            using `podman system connection list`, or try `podman machine init` and `podman \
            machine start` to manage a new Linux VM\nError: unable to connect to Podman socket: \
            Get \"http://d/v5.4.2/libpod/_ping\": dial unix /run/podman/podman.sock: connect: no \
            such file or directory\n";
        assert!(is_remote_without_service(&call(125, refused)));
        assert!(!is_remote_without_service(&call(0, "")));
        // A local engine failing for another reason is not taken for a remote client.
        assert!(!is_remote_without_service(&call(
            125,
            "Error: could not get runtime: permission denied"
        )));
        // Nor is one that printed the words but succeeded.
        assert!(!is_remote_without_service(&call(0, refused)));
    }

    #[test]
    fn each_run_has_its_own_socket_and_the_service_is_detached_and_stopped() {
        assert_ne!(socket_url("a1"), socket_url("b2"));
        let url = socket_url("a1");
        let start = start_script(&["--runtime".into(), "runc".into()], &url, "/run/p.pid");
        assert!(
            start.contains("setsid podman '--runtime' 'runc' system service --time=0 'unix:///run/podman/ckpt-a1.sock'"),
            "{start}"
        );
        assert!(
            start.ends_with("</dev/null >'/run/p.pid'.log 2>&1 & echo $! > '/run/p.pid'"),
            "{start}"
        );
        let stop = stop_script("/run/p.pid", &url);
        assert!(stop.contains("kill -TERM $pids") && stop.contains("xargs -r kill -KILL"));
        assert!(
            stop.contains("pgrep -f -- 'system service --time=0 unix:///run/podman/ckpt-a1.sock$'"),
            "{stop}"
        );
        assert!(stop.contains("rm -f '/run/p.pid'"), "{stop}");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
