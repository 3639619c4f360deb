//! The plot of `docs/benchmarks-checkpoint.svg`: the speedup podman / candidate against dirty
//! memory, one line per memory profile and compression (colour = profile, dash = compression),
//! each point the median of the runs' ratios with a bar from their least to their greatest; a
//! line marks the goal. Plain SVG text.

use super::checkpoint::CheckpointResults;
use std::fmt::Write as _;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 460.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 220.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 60.0;

/// A round step giving about five ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// A tick's text with as many decimals as its step needs: `0.6`, not `0.6000000000000001`.
fn label(value: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    format!("{value:.decimals$}")
}

/// One line: its label, colour, dash pattern and (MiB, min, median, max) points.
struct Series {
    label: String,
    colour: &'static str,
    dash: &'static str,
    points: Vec<(f64, f64, f64, f64)>,
}

const COLOURS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#7f7f7f",
];

fn series(c: &CheckpointResults) -> Vec<Series> {
    let mut keys: Vec<(&str, &str)> = vec![];
    for r in &c.rows {
        if !keys.contains(&(r.profile.as_str(), r.compress.as_str())) {
            keys.push((&r.profile, &r.compress));
        }
    }
    let mut profiles: Vec<&str> = vec![];
    for (p, _) in &keys {
        if !profiles.contains(p) {
            profiles.push(p);
        }
    }
    keys.iter()
        .map(|&(profile, compress)| {
            let i = profiles.iter().position(|p| *p == profile).unwrap_or(0);
            Series {
                label: format!("{profile}, {compress}"),
                colour: COLOURS[i % COLOURS.len()],
                dash: match compress {
                    "zstd" => "",
                    "gzip" => "8 4",
                    _ => "2 4",
                },
                points: c
                    .rows
                    .iter()
                    .filter(|r| r.profile == profile && r.compress == compress)
                    .map(|r| {
                        let (min, med, max) =
                            super::common::spread(&r.podman.times_s, &r.candidate.times_s);
                        (r.size_mib as f64, min, med, max)
                    })
                    .collect(),
            }
        })
        .collect()
}

pub fn checkpoint_svg(c: &CheckpointResults) -> String {
    let all = series(c);
    let max_x = all
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let max_y = all
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.3))
        .filter(|y| y.is_finite())
        .fold(super::checkpoint::GOAL_SPEEDUP, f64::max);
    // Sizes in MiB (64, 256, 1024) read best in quarters of the largest.
    let step_x = if max_x % 4.0 == 0.0 {
        max_x / 4.0
    } else {
        tick_step(max_x)
    };
    let step_y = tick_step(max_y);
    let (top_x, top_y) = (
        (max_x / step_x).ceil() * step_x,
        (max_y / step_y).ceil() * step_y,
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |v: f64| LEFT + v / top_x * plot_w;
    let y = |v: f64| TOP + plot_h - v / top_y * plot_h;

    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">checkpoint --leave-running --export: podman / {} (median, least to greatest)</text>\n",
        LEFT + plot_w / 2.0,
        c.candidate_name(),
    );
    // The goal, and where both are as fast.
    for (v, colour) in [(super::checkpoint::GOAL_SPEEDUP, "#2ca02c"), (1.0, "#000")] {
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"{colour}\" stroke-dasharray=\"1 3\"/>",
            LEFT + plot_w,
            y(v),
        );
    }
    for i in 0..=(top_y / step_y).round() as usize {
        let tick = i as f64 * step_y;
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{4}</text>",
            LEFT + plot_w,
            y(tick),
            LEFT - 6.0,
            y(tick) + 4.0,
            label(tick, step_y),
        );
    }
    for i in 0..=(top_x / step_x).round() as usize {
        let tick = i as f64 * step_x;
        let _ = writeln!(
            svg,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{TOP}\" y2=\"{1:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\">{3}</text>",
            x(tick),
            TOP + plot_h,
            TOP + plot_h + 18.0,
            label(tick, step_x),
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">dirty memory (MiB)</text>\n\
         <text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\">podman / candidate (x)</text>",
        LEFT + plot_w / 2.0,
        HEIGHT - 16.0,
        TOP + plot_h / 2.0
    );
    for (i, s) in all.iter().enumerate() {
        let path: Vec<String> = s
            .points
            .iter()
            .map(|(px, _, py, _)| format!("{:.1},{:.1}", x(*px), y(*py)))
            .collect();
        for (px, lo, _, hi) in &s.points {
            let _ = writeln!(
                svg,
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" stroke=\"{3}\"/>",
                x(*px),
                y(*lo),
                y(*hi),
                s.colour
            );
        }
        let _ = writeln!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\"/>",
            path.join(" "),
            s.colour,
            s.dash
        );
        for p in &path {
            let (px, py) = p.split_once(',').unwrap_or_default();
            let _ = writeln!(
                svg,
                "<circle cx=\"{px}\" cy=\"{py}\" r=\"3\" fill=\"{}\"/>",
                s.colour
            );
        }
        let ly = TOP + 10.0 + i as f64 * 18.0;
        let lx = WIDTH - RIGHT + 16.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{lx}\" x2=\"{:.1}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            lx + 30.0,
            s.colour,
            s.dash,
            lx + 36.0,
            ly + 4.0,
            s.label
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(1024.0), 500.0);
        assert_eq!(tick_step(7.3), 2.0);
        assert_eq!(tick_step(0.9), 0.2);
        assert_eq!(label(3.0 * 0.2, 0.2), "0.6");
        assert_eq!(label(1000.0, 500.0), "1000");
    }
}
