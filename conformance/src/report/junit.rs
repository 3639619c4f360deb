//! JUnit XML, for CI systems that show test results from it.
//!
//! One `<testsuite name="checkpoint-conformance">` carries the [`Environment`](super::Environment)
//! as `<properties>` and one `<testcase>` per case: the classname is the case's group (its id up to
//! the last `.`), the name is the full id. A failed or xpassed case has a `<failure>`, a skipped or
//! xfailed case a `<skipped>`, each with the reason as `message` (on one line) and as text (in
//! full); the case's recorded commands are its `<system-out>`.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{CaseReport, RunReport, Status};

/// The name of the report and of its only test suite.
pub const SUITE_NAME: &str = "checkpoint-conformance";

/// The report as JUnit XML.
pub fn render(report: &RunReport) -> String {
    let mut suite = TestSuite::new(SUITE_NAME);
    suite.add_properties(report.environment.fields());
    let total: u64 = report.cases.iter().map(|c| c.duration_ms).sum();
    suite.set_time(Duration::from_millis(total));
    suite.add_test_cases(report.cases.iter().map(test_case));

    let mut junit = Report::new(SUITE_NAME);
    junit.set_time(Duration::from_millis(total));
    junit.add_test_suite(suite);
    junit
        .to_string()
        .expect("serializing JUnit XML into memory does not fail")
}

fn test_case(case: &CaseReport) -> TestCase {
    let mut status = match case.status {
        Status::Passed => TestCaseStatus::success(),
        Status::Failed | Status::Xpassed => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Status::Skipped | Status::Xfailed => TestCaseStatus::skipped(),
    };
    if case.status != Status::Passed {
        status.set_type(case.status.as_str());
        let reason = match (case.status, case.reason.as_deref()) {
            (_, Some(reason)) if !reason.trim().is_empty() => reason,
            (Status::Xpassed, _) => "expected to fail but passed",
            _ => case.status.as_str(),
        };
        status.set_message(one_line(reason));
        status.set_description(reason);
    }

    let mut test_case = TestCase::new(case.id.as_str(), status);
    test_case.set_classname(case.group().unwrap_or(SUITE_NAME));
    test_case.set_time(Duration::from_millis(case.duration_ms));
    if !case.log.is_empty() {
        test_case.set_system_out(case.log.as_str());
    }
    test_case
}

/// `text` on one line (XML attribute values lose their newlines anyway): its non-blank lines,
/// trimmed and joined with `; `.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{case, sample};
    use crate::report::{Environment, RunReport};

    #[test]
    fn one_suite_with_properties_and_a_testcase_per_case() {
        let xml = render(&sample());
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert_eq!(xml.matches("<testsuite ").count(), 1, "{xml}");
        assert!(
            xml.contains(r#"<testsuite name="checkpoint-conformance""#),
            "{xml}"
        );
        assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
        // failed and xpassed are failures; skipped and xfailed are skipped.
        assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
        assert_eq!(xml.matches("<skipped").count(), 2, "{xml}");
        assert!(
            xml.contains(r#"<property name="target" value="/usr/bin/podman"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<property name="sandbox" value="ns (trixie)"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<testcase name="checkpoint.pre-checkpoint.export" classname="checkpoint.pre-checkpoint" time="1.500">"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<system-out>$ podman container checkpoint"),
            "{xml}"
        );
    }

    #[test]
    fn parses_back_with_the_statuses_and_reasons() {
        let xml = render(&sample());
        let parsed = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(parsed.name.as_str(), SUITE_NAME);
        assert_eq!(parsed.test_suites.len(), 1);
        let suite = &parsed.test_suites[0];
        assert_eq!(suite.name.as_str(), SUITE_NAME);
        assert_eq!(suite.tests, 5);
        assert_eq!(suite.failures, 2);
        assert_eq!(suite.properties.len(), 12);
        assert_eq!(suite.properties[1].name.as_str(), "target_version");
        assert_eq!(suite.properties[1].value.as_str(), "5.4.2");

        let by_name = |name: &str| {
            suite
                .test_cases
                .iter()
                .find(|c| c.name.as_str() == name)
                .unwrap_or_else(|| panic!("no testcase {name}"))
        };
        let passed = by_name("checkpoint.basic.running");
        assert!(matches!(passed.status, TestCaseStatus::Success { .. }));
        assert_eq!(passed.classname.as_deref(), Some("checkpoint.basic"));
        assert_eq!(passed.time, Some(Duration::from_millis(1500)));

        match &by_name("checkpoint.export.archive").status {
            TestCaseStatus::NonSuccess {
                kind,
                message,
                ty,
                description,
                ..
            } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                assert_eq!(
                    message.as_deref(),
                    Some("archive has no config.dump; spec.dump is empty")
                );
                assert_eq!(ty.as_deref(), Some("failed"));
                assert_eq!(
                    description.as_deref(),
                    Some("archive has no config.dump\nspec.dump is empty")
                );
            }
            other => panic!("failed case is {other:?}"),
        }
        match &by_name("checkpoint.keep.logs").status {
            TestCaseStatus::NonSuccess { message, ty, .. } => {
                assert_eq!(
                    message.as_deref(),
                    Some("expected to fail (old bug) but passed")
                );
                assert_eq!(ty.as_deref(), Some("xpassed"));
            }
            other => panic!("xpassed case is {other:?}"),
        }
        for (name, ty, reason) in [
            ("restore.tcp.established", "skipped", "no network"),
            (
                "checkpoint.pre-checkpoint.export",
                "xfailed",
                "no soft-dirty; findings: pre-checkpoint failed",
            ),
        ] {
            match &by_name(name).status {
                TestCaseStatus::Skipped { message, ty: t, .. } => {
                    assert_eq!(message.as_deref(), Some(reason));
                    assert_eq!(t.as_deref(), Some(ty));
                }
                other => panic!("{name} is {other:?}"),
            }
        }
    }

    #[test]
    fn escapes_markup_and_handles_ids_without_group() {
        let mut c = case("lonely", Status::Failed, Some("got <none> & \"x\""));
        c.log = "$ echo '<b>'\n\u{1b}[31mred\u{1b}[0m\n".into();
        let report = RunReport::new(Environment::default(), vec![c]);
        let xml = render(&report);
        assert!(
            xml.contains(r#"classname="checkpoint-conformance""#),
            "{xml}"
        );
        assert!(!xml.contains("<none>"), "{xml}");
        assert!(!xml.contains('\u{1b}'), "{xml}");
        let parsed = Report::deserialize_from_str(&xml).unwrap();
        let tc = &parsed.test_suites[0].test_cases[0];
        // (The parser trims the text node; the XML itself keeps the trailing newline.)
        assert!(xml.contains("red\n</system-out>"), "{xml}");
        assert_eq!(tc.system_out.as_deref(), Some("$ echo '<b>'\nred"));
        match &tc.status {
            TestCaseStatus::NonSuccess { message, .. } => {
                assert_eq!(message.as_deref(), Some("got <none> & \"x\""))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_empty_run_is_an_empty_suite() {
        let xml = render(&RunReport::new(Environment::default(), vec![]));
        assert!(xml.contains("<testsuite "), "{xml}");
        assert!(!xml.contains("<testcase"), "{xml}");
    }
}
