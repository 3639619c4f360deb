//! The HTML scoreboard: several reports side by side, one column per target (a matrix cell, a
//! machine), one row per case, grouped, with the sentence each case checks.
//!
//! A pure function, reports in, one self-contained HTML page out: no script, no network, inline
//! CSS. A status shows as a word and a colour (never colour alone); the reason of a non-pass is
//! one click away (`<details>`). Rows where the targets differ, and cells whose status changed
//! against a previous run, are marked by text as well as colour. Every text from a report is
//! escaped: reports carry what the target printed.

use super::{merge, CaseReport, RunReport, Status};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// One column of the board.
pub struct Column<'a> {
    /// Its name: the matrix cell, or the report's file name.
    pub title: String,
    /// The run's report; `None` when the run wrote none (then `note` says why).
    pub report: Option<&'a RunReport>,
    /// Shown under the title, e.g. the exit status of the run or why there is no report.
    pub note: Option<String>,
    /// The same target's report of an earlier run: cells whose status changed are marked.
    pub previous: Option<&'a RunReport>,
}

/// The background of each status; the browser test counts these pixels, so they are distinct.
pub const COLOURS: [(Status, &str); 5] = [
    (Status::Passed, "#b7ebc0"),
    (Status::Failed, "#ffb3b3"),
    (Status::Xfailed, "#ffd699"),
    (Status::Xpassed, "#d9b3ff"),
    (Status::Skipped, "#d0d5dc"),
];

/// The background of the case column (the browser test finds it at the left edge).
pub const CASE_COLUMN: &str = "#f3f6fa";
/// The background of the case column in a row where the targets differ.
pub const DIFFERS: &str = "#fff0a0";

const CSS: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 0.5em; color: #111; background: #fff; }
h1 { font-size: 1.3em; margin: 0.2em 0; }
p.meta, ul.legend { margin: 0.3em 0; font-size: 0.9em; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.3em 0.8em; }
ul.legend span { padding: 0 0.4em; border: 1px solid #888; }
.scroll { overflow-x: auto; border: 1px solid #bbb; width: fit-content; max-width: 100%; }
table { border-collapse: separate; border-spacing: 0; }
th, td { border-right: 1px solid #ccc; border-bottom: 1px solid #ccc; padding: 0.25em 0.4em;
  vertical-align: top; text-align: left; }
thead th { background: #e4e8ee; font-weight: normal; min-width: 9em; max-width: 15em; }
thead th .name { font-weight: bold; }
.fp, .sum, .note, .spec, .was { font-size: 0.8em; color: #333; }
.note { color: #8a1c00; }
th.case { position: sticky; left: 0; z-index: 1; background: CASE; min-width: 12em;
  max-width: 30em; font-weight: normal; }
thead th.case { z-index: 2; background: #e4e8ee; }
tr.differs th.case { background: DIFFERS; }
.mark { font-weight: bold; }
th.group { position: sticky; left: 0; background: #dfe3ea; text-align: left; }
td { min-width: 6.5em; }
td.none { background: #fff; color: #666; }
td.changed { box-shadow: inset 0 0 0 3px #1f4fd6; }
details > summary { cursor: pointer; }
pre { white-space: pre-wrap; word-break: break-word; font-size: 0.8em; max-width: 40em;
  margin: 0.2em 0; }
dl { margin: 0; font-size: 0.8em; } dt { font-weight: bold; } dd { margin: 0 0 0.2em 0.5em; }
.narrow { display: none; }
#only-notable:checked ~ .scroll tr.same { display: none; }
label { font-size: 0.9em; }
@media (max-width: 700px) {
  th.case { min-width: 9em; max-width: 45vw; }
  .wide { display: none; }
  .narrow { display: block; }
}
"#;

/// Escapes text for an HTML element or attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn colour(status: Status) -> &'static str {
    COLOURS
        .iter()
        .find(|(s, _)| *s == status)
        .map(|(_, c)| *c)
        .expect("every status has a colour")
}

/// The words of a cell: the status, with a sign so that it reads without colour.
fn label(status: Status) -> &'static str {
    match status {
        Status::Passed => "✓ passed",
        Status::Failed => "✗ failed",
        Status::Skipped => "– skipped",
        Status::Xfailed => "✗ xfailed",
        Status::Xpassed => "! xpassed",
    }
}

/// The reason a report skipped its cases for, when it skipped every one (a target that cannot
/// checkpoint at all, probed once): that column says it once, in its header. The most frequent
/// reason, when a few cases had their own.
pub fn whole_run_skip(report: &RunReport) -> Option<&str> {
    if report.cases.is_empty() || report.cases.iter().any(|c| c.status != Status::Skipped) {
        return None;
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &report.cases {
        *counts
            .entry(case.reason.as_deref().unwrap_or(""))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(reason, _)| reason)
}

/// What the board found out, for its caller (the matrix prints it) and the tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Case ids whose status differs between the columns compared.
    pub differing: Vec<String>,
    /// (column title, case id) of the cells whose status changed against the previous run.
    pub changed: Vec<(String, String)>,
}

struct Board<'a> {
    /// Per column, its cases by id.
    cases: Vec<BTreeMap<&'a str, &'a CaseReport>>,
    previous: Vec<Option<BTreeMap<&'a str, Status>>>,
    /// Per column, whether its statuses take part in the comparison: not a column without a
    /// report, nor one skipped whole (it would make every row differ).
    compared: Vec<bool>,
    ids: BTreeSet<&'a str>,
}

impl<'a> Board<'a> {
    fn new(columns: &'a [Column<'a>]) -> Board<'a> {
        let cases: Vec<BTreeMap<&str, &CaseReport>> = columns
            .iter()
            .map(|c| {
                c.report
                    .map(|r| r.cases.iter().map(|c| (c.id.as_str(), c)).collect())
                    .unwrap_or_default()
            })
            .collect();
        let previous = columns
            .iter()
            .map(|c| {
                c.previous
                    .map(|r| r.cases.iter().map(|c| (c.id.as_str(), c.status)).collect())
            })
            .collect();
        let compared = columns
            .iter()
            .map(|c| c.report.is_some_and(|r| whole_run_skip(r).is_none()))
            .collect();
        let ids = cases.iter().flat_map(|m| m.keys().copied()).collect();
        Board {
            cases,
            previous,
            compared,
            ids,
        }
    }

    /// Whether the compared columns disagree on `id` (a column that did not run it counts as
    /// one more state).
    fn differs(&self, id: &str) -> bool {
        let states: std::collections::HashSet<Option<Status>> = self
            .cases
            .iter()
            .zip(&self.compared)
            .filter(|(_, compared)| **compared)
            .map(|(cases, _)| cases.get(id).map(|c| c.status))
            .collect();
        states.len() > 1
    }

    /// The status of `id` in column `col`'s previous run, when it changed since
    /// (`Some(None)`: the previous run did not have it).
    fn change(&self, col: usize, id: &str) -> Option<Option<Status>> {
        let previous = self.previous[col].as_ref()?;
        let now = self.cases[col].get(id)?.status;
        match previous.get(id) {
            Some(&was) if was == now => None,
            was => Some(was.copied()),
        }
    }

    /// Whether the row of `id` is worth a look: the targets differ, or a cell changed.
    fn notable(&self, id: &str, columns: usize) -> bool {
        self.differs(id) || (0..columns).any(|col| self.change(col, id).is_some())
    }

    fn findings(&self, columns: &[Column]) -> Findings {
        let mut findings = Findings::default();
        for id in &self.ids {
            if self.differs(id) {
                findings.differing.push(id.to_string());
            }
            for (col, column) in columns.iter().enumerate() {
                if self.change(col, id).is_some() {
                    findings
                        .changed
                        .push((column.title.clone(), id.to_string()));
                }
            }
        }
        findings
    }
}

/// What [`render`] would mark, without the HTML.
pub fn findings(columns: &[Column]) -> Findings {
    Board::new(columns).findings(columns)
}

/// The whole page. `title` heads it; `meta` (e.g. when and where the matrix ran) is printed
/// under it.
pub fn render(title: &str, meta: &str, columns: &[Column]) -> String {
    let board = Board::new(columns);
    let findings = board.findings(columns);
    let mut html = String::new();
    let css = CSS.replace("CASE", CASE_COLUMN).replace("DIFFERS", DIFFERS);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>{css}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
    if !meta.is_empty() {
        let _ = writeln!(html, "<p class=\"meta\">{}</p>", escape(meta));
    }
    let _ = writeln!(
        html,
        "<p class=\"meta\">{} cases × {} targets; <span class=\"mark\">≠</span> {} rows where \
         the targets differ{}; changed since the previous run: {}.</p>",
        board.ids.len(),
        columns.len(),
        findings.differing.len(),
        if board.compared.iter().filter(|c| !**c).count() > 0 {
            " (targets without a report or skipped whole are not compared)"
        } else {
            ""
        },
        if columns.iter().any(|c| c.previous.is_some()) {
            format!("{} cells", findings.changed.len())
        } else {
            "no previous run given".to_string()
        }
    );
    html.push_str("<ul class=\"legend\">");
    for (status, c) in COLOURS {
        let _ = write!(
            html,
            "<li><span style=\"background:{c}\">{}</span></li>",
            label(status)
        );
    }
    let _ = write!(
        html,
        "<li><span style=\"background:{DIFFERS}\">≠ differs</span> the targets disagree</li>"
    );
    if columns.iter().any(|c| c.previous.is_some()) {
        html.push_str(
            "<li><span style=\"box-shadow: inset 0 0 0 3px #1f4fd6\">changed</span> since the \
             previous run</li>",
        );
    }
    html.push_str("</ul>\n");
    // A checkbox and a CSS rule, no script: the board of a whole suite is long.
    html.push_str(
        "<input type=\"checkbox\" id=\"only-notable\"><label for=\"only-notable\"> only the rows \
         where the targets differ or a cell changed</label>\n",
    );

    html.push_str(
        "<div class=\"scroll\">\n<table>\n<thead><tr><th class=\"case\" scope=\"col\">case</th>",
    );
    for column in columns {
        header(&mut html, column);
    }
    html.push_str("</tr></thead>\n<tbody>\n");

    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for id in &board.ids {
        let group = id.rsplit_once('.').map(|(g, _)| g).unwrap_or("");
        groups.entry(group).or_default().push(id);
    }
    for (group, ids) in &groups {
        let differing = ids.iter().filter(|id| board.differs(id)).count();
        let notable = ids.iter().any(|id| board.notable(id, columns.len()));
        let _ = writeln!(
            html,
            "<tr{}><th class=\"group\" scope=\"rowgroup\" colspan=\"{}\">{} <span class=\"fp\">({} \
             case{}{})</span></th></tr>",
            if notable { "" } else { " class=\"same\"" },
            columns.len() + 1,
            escape(group),
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            if differing > 0 {
                format!(", ≠ {differing} differ")
            } else {
                String::new()
            }
        );
        for id in ids {
            row(&mut html, &board, columns, id);
        }
    }
    html.push_str("</tbody>\n</table>\n</div>\n");
    environments(&mut html, columns);
    html.push_str("</body>\n</html>\n");
    html
}

fn header(html: &mut String, column: &Column) {
    let _ = write!(
        html,
        "<th scope=\"col\"><div class=\"name\">{}</div>",
        escape(&column.title)
    );
    if let Some(report) = column.report {
        let env = &report.environment;
        let fp = merge::fingerprint(env);
        let get = |name: &str| {
            fp.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        for line in [
            format!("{} {}", get("target"), env.target_version),
            // `crun version 1.21` says its name already.
            if env.runtime_version.contains(&env.runtime) {
                env.runtime_version.clone()
            } else {
                format!("{} {}", env.runtime, env.runtime_version)
            },
            format!("CRIU {} · kernel {}", env.criu_version, env.kernel),
            env.sandbox.clone(),
        ] {
            let _ = write!(html, "<div class=\"fp\">{}</div>", escape(line.trim()));
        }
        if let Some(reason) = whole_run_skip(report) {
            let _ = write!(
                html,
                "<div class=\"note\">skipped: {}</div>",
                escape(if reason.is_empty() {
                    "no reason"
                } else {
                    reason
                })
            );
        } else {
            let s = &report.summary;
            let mut parts = vec![format!("{} passed", s.passed)];
            for (n, word) in [
                (s.failed, "failed"),
                (s.xfailed, "xfailed"),
                (s.xpassed, "xpassed"),
                (s.skipped, "skipped"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} {word}"));
                }
            }
            let _ = write!(html, "<div class=\"sum\">{}</div>", parts.join(" · "));
        }
        if let Some(p) = report.partition {
            let _ = write!(html, "<div class=\"note\">shard {p} only</div>");
        }
    }
    if let Some(note) = &column.note {
        let _ = write!(html, "<div class=\"note\">{}</div>", escape(note));
    }
    html.push_str("</th>");
}

fn row(html: &mut String, board: &Board, columns: &[Column], id: &str) {
    let differs = board.differs(id);
    let case = board.cases.iter().find_map(|m| m.get(id)).copied();
    let _ = write!(
        html,
        "<tr{}><th class=\"case\" scope=\"row\">{}<code>{}</code>",
        if differs {
            " class=\"differs\""
        } else if !board.notable(id, columns.len()) {
            " class=\"same\""
        } else {
            ""
        },
        if differs {
            "<span class=\"mark\">≠ </span>"
        } else {
            ""
        },
        escape(id)
    );
    if let Some(case) = case {
        let covers = case.covers.join(" ");
        let spec = if covers.is_empty() {
            escape(&case.spec)
        } else {
            format!("<code>{}</code> {}", escape(&covers), escape(&case.spec))
        };
        let _ = write!(
            html,
            "<div class=\"spec wide\">{spec}</div><details class=\"spec narrow\">\
             <summary>spec</summary>{spec}</details>"
        );
    }
    html.push_str("</th>");
    for (col, column) in columns.iter().enumerate() {
        cell(html, board, col, column, id);
    }
    html.push_str("</tr>\n");
}

fn cell(html: &mut String, board: &Board, col: usize, column: &Column, id: &str) {
    let Some(case) = board.cases[col].get(id) else {
        let text = if column.report.is_some() {
            "not run"
        } else {
            "no report"
        };
        let _ = write!(html, "<td class=\"none\">{text}</td>");
        return;
    };
    let change = board.change(col, id);
    let _ = write!(
        html,
        "<td class=\"{}{}\" style=\"background:{}\">",
        case.status,
        if change.is_some() { " changed" } else { "" },
        colour(case.status)
    );
    let header_reason = column.report.and_then(whole_run_skip);
    match &case.reason {
        // A column skipped whole says its reason in the header, not in every cell.
        Some(reason) if !reason.is_empty() && header_reason != Some(reason.as_str()) => {
            let _ = write!(
                html,
                "<details><summary>{}</summary><pre>{}</pre></details>",
                label(case.status),
                escape(reason)
            );
        }
        _ => html.push_str(label(case.status)),
    }
    match change {
        Some(Some(was)) => {
            let _ = write!(html, "<div class=\"was\">changed, was {was}</div>");
        }
        Some(None) => html.push_str("<div class=\"was\">changed, new case</div>"),
        None => {}
    }
    html.push_str("</td>");
}

/// Each column's whole environment fingerprint, below the board.
fn environments(html: &mut String, columns: &[Column]) {
    html.push_str("<h2 style=\"font-size:1.1em\">Environments</h2>\n");
    for column in columns {
        let _ = write!(
            html,
            "<details><summary>{}</summary><dl>",
            escape(&column.title)
        );
        if let Some(report) = column.report {
            for (name, value) in report.environment.fields() {
                if !value.is_empty() {
                    let _ = write!(html, "<dt>{name}</dt><dd>{}</dd>", escape(value));
                }
            }
        }
        if let Some(note) = &column.note {
            let _ = write!(html, "<dt>note</dt><dd>{}</dd>", escape(note));
        }
        html.push_str("</dl></details>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{case, sample};

    fn column<'a>(title: &str, report: &'a RunReport) -> Column<'a> {
        Column {
            title: title.into(),
            report: Some(report),
            note: None,
            previous: None,
        }
    }

    /// The `<tr>` of the case `id`.
    fn row_of<'h>(html: &'h str, id: &str) -> &'h str {
        let at = html
            .find(&format!("<code>{id}</code>"))
            .unwrap_or_else(|| panic!("no row {id}"));
        let start = html[..at].rfind("<tr").unwrap();
        let end = at + html[at..].find("</tr>").unwrap();
        &html[start..end]
    }

    #[test]
    fn everything_from_a_report_is_escaped() {
        let mut report = sample();
        report.cases[1].reason = Some("</pre></details><script>alert('x')</script> & \"q\"".into());
        report.cases[0].spec = "<img src=x onerror=alert(1)>".into();
        report.cases[0].id = "g.<b>".into();
        report.environment.target_version = "<i>5</i>".into();
        let html = render("<title>", "a & b", &[column("c<1>", &report)]);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>"));
        assert!(!html.contains("<i>5"));
        assert!(!html.contains("c<1>"));
        assert!(html.contains(
            "&lt;/pre&gt;&lt;/details&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        ));
        assert!(html.contains("<title>&lt;title&gt;</title>"));
        assert!(html.contains("a &amp; b"));
        // Exactly the page's own elements: one table, no script.
        assert_eq!(html.matches("<table>").count(), 1);
        assert!(!html.to_lowercase().contains("<script"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[test]
    fn a_cell_shows_its_status_in_words_and_its_reason_one_click_away() {
        let report = sample();
        let html = render("t", "", &[column("podman", &report)]);
        let failed = row_of(&html, "checkpoint.export.archive");
        assert!(failed.contains(
            "<details><summary>✗ failed</summary><pre>archive has no config.dump\nspec.dump is empty</pre></details>"
        ), "{failed}");
        assert!(failed.contains("background:#ffb3b3"));
        let passed = row_of(&html, "checkpoint.basic.running");
        assert!(passed.contains("✓ passed</td>") && !passed.contains("<details><summary>✓"));
        // The case's sentence and options are in its row.
        assert!(passed.contains("<code>--export</code> checkpoint.basic.running does what"));
        // Grouped: one group row per group, in order.
        assert!(html.contains("scope=\"rowgroup\" colspan=\"2\">checkpoint.basic "));
        let header = &html[html.find("<thead>").unwrap()..html.find("</thead>").unwrap()];
        for fact in [
            "/usr/bin/podman 5.4.2",
            "crun 1.21",
            "CRIU 4.2 · kernel 6.12.0",
            "ns (trixie)",
            "1 passed · 1 failed · 1 xfailed · 1 xpassed · 1 skipped",
        ] {
            // Paths are shortened to the engine's name.
            let fact = fact.replace("/usr/bin/", "");
            assert!(header.contains(&fact), "{fact} not in {header}");
        }
        assert!(
            html.contains("<dt>readers</dt><dd>checkpointctl 1.3.0, crit 4.2, skopeo 1.18.0</dd>")
        );
    }

    #[test]
    fn rows_where_targets_differ_are_marked() {
        let a = sample();
        let mut b = sample();
        b.cases[0].status = Status::Failed;
        b.cases[0].reason = Some("broken".into());
        b.cases.retain(|c| c.id != "restore.tcp.established");
        let columns = [column("a", &a), column("b", &b)];
        let html = render("t", "", &columns);
        let differing = row_of(&html, "checkpoint.basic.running");
        assert!(
            differing.starts_with("<tr class=\"differs\">"),
            "{differing}"
        );
        assert!(differing.contains("≠ "));
        // A case one column did not run differs too, and says so.
        let missing = row_of(&html, "restore.tcp.established");
        assert!(missing.starts_with("<tr class=\"differs\">"));
        assert!(missing.contains("<td class=\"none\">not run</td>"));
        let same = row_of(&html, "checkpoint.export.archive");
        assert!(same.starts_with("<tr class=\"same\">"), "{same}");
        // Those rows are hidden by a checkbox and a CSS rule: no script.
        assert!(html.contains("#only-notable:checked ~ .scroll tr.same { display: none; }"));
        assert_eq!(
            findings(&columns).differing,
            ["checkpoint.basic.running", "restore.tcp.established"]
        );
        assert!(html.contains("≠</span> 2 rows where the targets differ"));
    }

    #[test]
    fn a_column_skipped_whole_says_why_once_and_is_not_compared() {
        let a = sample();
        let mut skipped = RunReport::new(
            a.environment.clone(),
            a.cases
                .iter()
                .map(|c| {
                    case(
                        &c.id,
                        Status::Skipped,
                        Some(
                            "runtime runsc: configured runtime does not support checkpoint/restore",
                        ),
                    )
                })
                .collect(),
        );
        // A case skipped for a reason of its own keeps it in its cell.
        skipped.cases[2].reason = Some("a reason of its own".into());
        let columns = [column("podman crun", &a), column("podman runsc", &skipped)];
        let html = render("t", "", &columns);
        assert!(html.contains(
            "<div class=\"note\">skipped: runtime runsc: configured runtime does not support checkpoint/restore</div>"
        ));
        assert_eq!(
            html.matches("configured runtime does not").count(),
            1,
            "in the header only"
        );
        assert!(row_of(&html, "restore.tcp.established").contains(
            "<details><summary>– skipped</summary><pre>a reason of its own</pre></details>"
        ));
        assert!(findings(&columns).differing.is_empty());
        assert!(!html.contains("class=\"differs\""));
        assert!(html.contains("0 rows where the targets differ (targets without a report or skipped whole are not compared)"));
    }

    #[test]
    fn cells_changed_since_the_previous_run_are_marked() {
        let now = sample();
        let mut before = sample();
        before.cases[1].status = Status::Passed; // checkpoint.export.archive now fails
        before.cases.retain(|c| c.id != "checkpoint.keep.logs"); // new since
        let columns = [Column {
            previous: Some(&before),
            ..column("podman", &now)
        }];
        let html = render("t", "", &columns);
        let changed = row_of(&html, "checkpoint.export.archive");
        assert!(
            changed.contains("<td class=\"failed changed\""),
            "{changed}"
        );
        assert!(changed.contains("changed, was passed"));
        assert!(row_of(&html, "checkpoint.keep.logs").contains("changed, new case"));
        assert!(!row_of(&html, "checkpoint.basic.running").contains("changed"));
        assert!(row_of(&html, "checkpoint.basic.running").starts_with("<tr class=\"same\">"));
        assert!(
            changed.starts_with("<tr>"),
            "a changed row is notable: {changed}"
        );
        assert_eq!(
            findings(&columns).changed,
            [
                (
                    "podman".to_string(),
                    "checkpoint.export.archive".to_string()
                ),
                ("podman".to_string(), "checkpoint.keep.logs".to_string())
            ]
        );
        assert!(html.contains("changed since the previous run: 2 cells."));
    }

    #[test]
    fn a_run_without_report_is_a_column_that_says_so() {
        let a = sample();
        let columns = [
            column("a", &a),
            Column {
                title: "broken".into(),
                report: None,
                note: Some("exit status 2: no report <sandbox>".into()),
                previous: None,
            },
        ];
        let html = render("t", "", &columns);
        assert!(html.contains("exit status 2: no report &lt;sandbox&gt;"));
        assert!(
            row_of(&html, "checkpoint.basic.running").contains("<td class=\"none\">no report</td>")
        );
        assert!(findings(&columns).differing.is_empty());
    }
}
