//! TAP version 14, for harnesses that read the Test Anything Protocol (`prove`, `tap-parser`, ...).
//!
//! ```text
//! TAP version 14
//! 1..5
//! ok 1 - checkpoint.basic.running
//! not ok 2 - checkpoint.export.archive
//!   ---
//!   message: |-
//!     archive has no config.dump
//!     spec.dump is empty
//!   ...
//! ok 3 - restore.tcp.established # SKIP no network
//! not ok 4 - checkpoint.pre-checkpoint.export # TODO no soft-dirty; findings: ...
//!   ---
//!   message: "no soft-dirty; findings: ..."
//!   ...
//! not ok 5 - checkpoint.keep.logs
//!   ---
//!   message: "expected to fail (old bug) but passed"
//!   ...
//! ```
//!
//! A skipped case is `ok ... # SKIP reason`; an xfailed case is `not ok ... # TODO reason` (TAP's
//! TODO is an expected failure, which does not fail the run); an xpassed case is a plain `not ok`,
//! because a stale xfail entry must fail the run. Every `not ok` line is followed by a YAML
//! diagnostic block whose `message` is the full reason. In descriptions and directive reasons `\`
//! and `#` are escaped as `\\` and `\#`, and line breaks become `; `.

use std::fmt::Write as _;

use super::{CaseReport, RunReport, Status};

/// The report as a TAP version 14 stream, ending with a newline.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    out.push_str("TAP version 14\n");
    let _ = writeln!(out, "1..{}", report.cases.len());
    for (index, case) in report.cases.iter().enumerate() {
        test_point(&mut out, index + 1, case);
    }
    out
}

fn test_point(out: &mut String, number: usize, case: &CaseReport) {
    let id = escape(&case.id);
    let reason = case.reason.as_deref().filter(|r| !r.trim().is_empty());
    match case.status {
        Status::Passed => {
            let _ = writeln!(out, "ok {number} - {id}");
        }
        Status::Failed => {
            let _ = writeln!(out, "not ok {number} - {id}");
            yaml_block(out, reason.unwrap_or("failed"));
        }
        Status::Skipped => {
            let _ = writeln!(out, "ok {number} - {id}{}", directive("SKIP", reason));
        }
        Status::Xfailed => {
            let _ = writeln!(out, "not ok {number} - {id}{}", directive("TODO", reason));
            yaml_block(out, reason.unwrap_or("expected to fail"));
        }
        Status::Xpassed => {
            let _ = writeln!(out, "not ok {number} - {id}");
            // The runner's reason (see `expectations::reconcile`) already reads
            // "expected to fail (...) but passed"; do not say it twice.
            let message = match reason {
                None => "expected to fail but passed".to_string(),
                Some(r) if r.starts_with("expected to fail") => r.to_string(),
                Some(r) => format!("expected to fail but passed: {r}"),
            };
            yaml_block(out, &message);
        }
    }
}

/// ` # SKIP reason` (or ` # SKIP` without a reason).
fn directive(name: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!(" # {name} {}", escape(reason)),
        None => format!(" # {name}"),
    }
}

/// `text` made safe for a test point line: on one line (non-blank lines trimmed and joined with
/// `; `), without control characters, with `\` and `#` escaped.
fn escape(text: &str) -> String {
    let one_line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let mut escaped = String::with_capacity(one_line.len());
    for c in one_line.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '#' => escaped.push_str("\\#"),
            '\t' => escaped.push(' '),
            c if c.is_control() => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// A YAML diagnostic block with `message`: a double-quoted scalar for one line, a literal block
/// scalar for several.
fn yaml_block(out: &mut String, message: &str) {
    let message: String = message
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect();
    let message = message.trim_end_matches('\n');
    out.push_str("  ---\n");
    if message.contains('\n') {
        let first = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        // A block whose first line is indented needs an explicit indentation indicator.
        let header = if first.starts_with([' ', '\t']) {
            "|2-"
        } else {
            "|-"
        };
        let _ = writeln!(out, "  message: {header}");
        for line in message.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "    {line}");
            }
        }
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        let quoted = serde_json::to_string(message).expect("a string always serializes");
        let _ = writeln!(out, "  message: {quoted}");
    }
    out.push_str("  ...\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{case, sample};
    use crate::report::{Environment, RunReport};

    #[test]
    fn all_five_statuses() {
        let expected = "\
TAP version 14
1..5
ok 1 - checkpoint.basic.running
not ok 2 - checkpoint.export.archive
  ---
  message: |-
    archive has no config.dump
    spec.dump is empty
  ...
ok 3 - restore.tcp.established # SKIP no network
not ok 4 - checkpoint.pre-checkpoint.export # TODO no soft-dirty; findings: pre-checkpoint failed
  ---
  message: \"no soft-dirty; findings: pre-checkpoint failed\"
  ...
not ok 5 - checkpoint.keep.logs
  ---
  message: \"expected to fail (old bug) but passed\"
  ...
";
        assert_eq!(render(&sample()), expected);
    }

    #[test]
    fn escapes_hashes_backslashes_and_newlines() {
        let report = RunReport::new(
            Environment::default(),
            vec![
                case("odd#id\\x", Status::Skipped, Some("needs #42\nand\\more")),
                case(
                    "g.xfail",
                    Status::Xfailed,
                    Some("bug #7; findings: a\n  indented: b"),
                ),
                case("g.fail", Status::Failed, Some("say \"hi\" # now\u{7}")),
            ],
        );
        let expected = "\
TAP version 14
1..3
ok 1 - odd\\#id\\\\x # SKIP needs \\#42; and\\\\more
not ok 2 - g.xfail # TODO bug \\#7; findings: a; indented: b
  ---
  message: |-
    bug #7; findings: a
      indented: b
  ...
not ok 3 - g.fail
  ---
  message: \"say \\\"hi\\\" # now\"
  ...
";
        assert_eq!(render(&report), expected);
    }

    #[test]
    fn missing_reasons_and_an_empty_run() {
        let report = RunReport::new(
            Environment::default(),
            vec![
                case("g.skip", Status::Skipped, None),
                case("g.xfail", Status::Xfailed, Some("  ")),
                case("g.xpass", Status::Xpassed, None),
                case("g.xpass2", Status::Xpassed, Some("stale entry")),
                case("g.fail", Status::Failed, None),
            ],
        );
        let expected = "\
TAP version 14
1..5
ok 1 - g.skip # SKIP
not ok 2 - g.xfail # TODO
  ---
  message: \"expected to fail\"
  ...
not ok 3 - g.xpass
  ---
  message: \"expected to fail but passed\"
  ...
not ok 4 - g.xpass2
  ---
  message: \"expected to fail but passed: stale entry\"
  ...
not ok 5 - g.fail
  ---
  message: \"failed\"
  ...
";
        assert_eq!(render(&report), expected);

        let empty = RunReport::new(Environment::default(), vec![]);
        assert_eq!(render(&empty), "TAP version 14\n1..0\n");
    }

    #[test]
    fn block_with_indented_first_line_has_an_indentation_indicator() {
        let mut out = String::new();
        yaml_block(&mut out, "  first\nsecond\n\nthird\n");
        assert_eq!(
            out,
            "  ---\n  message: |2-\n      first\n    second\n\n    third\n  ...\n"
        );
    }
}
