//! The scoreboard as a reader sees it: rendered by a real browser (Debian's
//! `chromium-headless-shell`, installed in the sandbox by its recipe) at a desktop and at a phone
//! width, and the screenshots checked, not the HTML text: the status colours of the cells are on
//! screen, the page is not blank, and at phone width the case column and whole cells are still
//! there (the table scrolls sideways instead of being squashed).
//!
//! The screenshots are kept in `target/tmp/scoreboard-browser/` for a human to look at.

use ckpt_sandbox::{bounded, testing};
use conformance::report::scoreboard::{self, Column, CASE_COLUMN, COLOURS, DIFFERS};
use conformance::report::{CaseReport, Environment, RunReport, Status};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn case(id: &str, status: Status, reason: Option<&str>) -> CaseReport {
    CaseReport {
        id: id.into(),
        status,
        duration_ms: 900,
        covers: vec!["--export".into()],
        spec: format!("man --export: the sentence that {id} checks."),
        reason: reason.map(String::from),
        log: String::new(),
    }
}

fn environment(target: &str, version: &str, sandbox: &str) -> Environment {
    Environment {
        target: target.into(),
        target_version: version.into(),
        runtime: "crun".into(),
        runtime_version: "crun version 1.21".into(),
        criu_version: "4.2.1".into(),
        kernel: "6.18.44".into(),
        cgroup_version: "v2".into(),
        distribution: "debian 13".into(),
        sandbox: sandbox.into(),
        peer: "refpod 0.1.0".into(),
        readers: "checkpointctl 1.3.0, crit 4.1.1, skopeo 1.18.0".into(),
        service: String::new(),
    }
}

/// Two engines that differ on some cases (every status on screen), one previous run, and a
/// runtime that cannot checkpoint (a column skipped whole).
fn reports() -> (RunReport, RunReport, RunReport, RunReport) {
    let ids = [
        "export.compress-gzip",
        "export.compress-zstd",
        "export.members",
        "hostile.absolute",
        "hostile.setuid",
        "hostile.traversal",
        "validation.not-running-created",
        "validation.not-running-exited",
    ];
    let a = RunReport::new(
        environment("refpod", "0.1.0", "ns (trixie)"),
        ids.iter()
            .map(|id| case(id, Status::Passed, None))
            .collect(),
    );
    let b = RunReport::new(
        environment("podman", "5.4.2", "ns (trixie)"),
        ids.iter()
            .map(|id| match *id {
                "hostile.absolute" | "hostile.setuid" => case(
                    id,
                    Status::Xfailed,
                    Some("expected: extracts outside its destination <script>alert(1)</script>"),
                ),
                "hostile.traversal" => case(id, Status::Failed, Some("wrote /etc/owned")),
                "export.members" => case(id, Status::Xpassed, Some("expected to fail, passed")),
                "validation.not-running-exited" => {
                    case(id, Status::Skipped, Some("needs the peer"))
                }
                _ => case(id, Status::Passed, None),
            })
            .collect(),
    );
    let mut before = b.clone();
    before.cases[0].status = Status::Failed;
    let runsc = RunReport::new(
        environment("podman", "5.4.2", "ns (trixie)"),
        ids.iter()
            .map(|id| {
                case(
                    id,
                    Status::Skipped,
                    Some("runtime runsc: configured runtime does not support checkpoint/restore"),
                )
            })
            .collect(),
    );
    (a, b, before, runsc)
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

struct Shot {
    width: usize,
    height: usize,
    /// RGB, row by row.
    pixels: Vec<[u8; 3]>,
}

impl Shot {
    fn load(path: &Path) -> Shot {
        let mut decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = info.color_type.samples();
        assert!(
            info.bit_depth == png::BitDepth::Eight && channels >= 3,
            "{info:?}"
        );
        let pixels = buf[..info.buffer_size()]
            .chunks(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Shot {
            width: info.width as usize,
            height: info.height as usize,
            pixels,
        }
    }

    fn count(&self, colour: [u8; 3]) -> usize {
        self.pixels.iter().filter(|p| **p == colour).count()
    }

    /// The longest horizontal run of `colour` on any line: how wide its widest box is.
    fn widest(&self, colour: [u8; 3]) -> usize {
        let mut best = 0;
        for line in self.pixels.chunks(self.width) {
            let mut run = 0;
            for p in line {
                run = if *p == colour { run + 1 } else { 0 };
                best = best.max(run);
            }
        }
        best
    }

    /// Pixels of `colour` within the `x < limit` strip.
    fn count_left_of(&self, colour: [u8; 3], limit: usize) -> usize {
        self.pixels
            .chunks(self.width)
            .map(|line| {
                line[..limit.min(self.width)]
                    .iter()
                    .filter(|p| **p == colour)
                    .count()
            })
            .sum()
    }
}

/// Renders `page` (a file in the share folder) at `width`x`height` into `png`.
fn screenshot(sandbox: &ckpt_sandbox::Sandbox, page: &Path, png: &Path, size: (u32, u32)) {
    let profile = png.with_extension("profile");
    let argv: Vec<String> = vec![
        "chromium-headless-shell".into(),
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--hide-scrollbars".into(),
        format!("--user-data-dir={}", profile.display()),
        format!("--screenshot={}", png.display()),
        format!("--window-size={},{}", size.0, size.1),
        format!("file://{}", page.display()),
    ];
    let out = sandbox
        .command(&argv)
        .unwrap()
        .output_bounded(bounded::Limits {
            deadline: Duration::from_secs(120),
            max_output: 1 << 20,
        })
        .unwrap();
    assert!(
        out.status.success() && !out.timed_out && png.exists(),
        "chromium-headless-shell failed ({:?}, timed out: {}):\n{}\n{}",
        out.status,
        out.timed_out,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&profile);
}

#[test]
fn the_scoreboard_renders_in_a_real_browser_at_desktop_and_phone_width() {
    let Some(sandbox) = testing::started_sandbox_or_skip(
        "the_scoreboard_renders_in_a_real_browser_at_desktop_and_phone_width",
    ) else {
        return;
    };
    let (a, b, before, runsc) = reports();
    let columns = [
        Column {
            title: "refpod-trixie-crun-ns".into(),
            report: Some(&a),
            note: None,
            previous: None,
        },
        Column {
            title: "podman-trixie-crun-ns".into(),
            report: Some(&b),
            note: Some("exit status 1".into()),
            previous: Some(&before),
        },
        Column {
            title: "podman-trixie-runsc-ns".into(),
            report: Some(&runsc),
            note: None,
            previous: None,
        },
    ];
    let html = scoreboard::render("scoreboard browser test", "synthetic reports", &columns);
    let dir = sandbox
        .share_dir()
        .unwrap()
        .join(format!("scoreboard-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("scoreboard.html");
    std::fs::write(&page, &html).unwrap();
    let kept = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scoreboard-browser");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(kept.join("scoreboard.html"), &html).unwrap();

    let mut shots = vec![];
    for (name, size) in [("desktop", (1280, 900)), ("phone", (390, 844))] {
        let png = dir.join(format!("{name}.png"));
        screenshot(&sandbox, &page, &png, size);
        std::fs::copy(&png, kept.join(format!("{name}.png"))).unwrap();
        let shot = Shot::load(&png);
        assert_eq!(
            (shot.width, shot.height),
            (size.0 as usize, size.1 as usize)
        );
        eprintln!("{name}: {}", kept.join(format!("{name}.png")).display());
        shots.push((name, shot));
    }
    let _ = std::fs::remove_dir_all(&dir);

    for (name, shot) in &shots {
        // Not blank: much is drawn, in many colours (text is anti-aliased).
        let white = shot.count([255, 255, 255]);
        assert!(
            white < shot.pixels.len() * 9 / 10,
            "{name}: {white} of {} pixels are white",
            shot.pixels.len()
        );
        let mut distinct: Vec<[u8; 3]> = shot.pixels.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(
            distinct.len() > 50,
            "{name}: only {} colours",
            distinct.len()
        );
        // The sticky case column is drawn at the left edge, whole (9em at least: the ids
        // are readable), with the rows where the targets differ marked.
        assert!(
            shot.count_left_of(rgb(CASE_COLUMN), 60) > 2000,
            "{name}: no case column at the left edge"
        );
        assert!(
            shot.widest(rgb(CASE_COLUMN)) >= 110,
            "{name}: the case column is {} px wide",
            shot.widest(rgb(CASE_COLUMN))
        );
        assert!(
            shot.count(rgb(DIFFERS)) > 1000,
            "{name}: no differing row marked"
        );
    }

    // At desktop width every status colour shows, in whole cells.
    let desktop = &shots[0].1;
    for (status, colour) in COLOURS {
        let n = desktop.count(rgb(colour));
        assert!(n > 1000, "desktop: {n} pixels of {status} ({colour})");
        assert!(
            desktop.widest(rgb(colour)) >= 80,
            "desktop: {status} cells are {} px wide",
            desktop.widest(rgb(colour))
        );
    }
    // At phone width the first target's cells are on screen beside the case column, as wide
    // as at the desktop (not squashed: the table scrolls).
    let phone = &shots[1].1;
    let passed = rgb(COLOURS[0].1);
    assert!(
        phone.count(passed) > 1000,
        "phone: no passed cell on screen"
    );
    assert!(
        phone.widest(passed) >= 80,
        "phone: cells squashed to {} px",
        phone.widest(passed)
    );
}
