//! `--print-stats` output of checkpoint and restore (spec §9): exactly one JSON document that
//! matches the schema in fixtures/schema, with durations that nest.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::Finding;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatsKind {
    Checkpoint,
    Restore,
}

impl StatsKind {
    fn name(self) -> &'static str {
        match self {
            StatsKind::Checkpoint => "checkpoint",
            StatsKind::Restore => "restore",
        }
    }
}

/// Reads `<fixtures_dir>/schema/<kind>-stats.schema.json`.
pub fn load_schema(kind: StatsKind, fixtures_dir: &Path) -> Result<Value, String> {
    let path = fixtures_dir
        .join("schema")
        .join(format!("{}-stats.schema.json", kind.name()));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

pub fn check_stats(
    stdout: &str,
    kind: StatsKind,
    schema: &Value,
    expected_ids: &[String],
) -> Vec<Finding> {
    let mut f = Vec::new();
    let Some(doc) = single_document(stdout, &mut f) else {
        return f;
    };
    match jsonschema::validator_for(schema) {
        Ok(v) => {
            for e in v.iter_errors(&doc) {
                let at = match e.instance_path.as_str() {
                    "" => "/",
                    p => p,
                };
                f.push(format!(
                    "expected {} stats to match the schema, found at {at}: {e}",
                    kind.name()
                ));
            }
        }
        Err(e) => f.push(format!("the {} stats schema is invalid: {e}", kind.name())),
    }
    check_relations(&doc, kind, &mut f);
    if !expected_ids.is_empty() {
        check_ids(&doc, expected_ids, &mut f);
    }
    f
}

/// The one JSON document on stdout. Text around it (a warning line, say) is a finding, but the
/// document is still checked when it can be found: podman starts it on a line of its own.
fn single_document(stdout: &str, f: &mut Vec<Finding>) -> Option<Value> {
    let text = stdout.trim();
    if text.is_empty() {
        f.push("expected one JSON document on stdout, found nothing".to_string());
        return None;
    }
    let start = if text.starts_with(['{', '[']) {
        0
    } else {
        let Some(at) = line_starts(text).find(|&i| text[i..].trim_start().starts_with('{')) else {
            f.push(format!(
                "expected one JSON document on stdout, found text: {:?}",
                first_line(text)
            ));
            return None;
        };
        f.push(format!(
            "expected only a JSON document on stdout, found text before it: {:?}",
            first_line(text)
        ));
        at
    };
    let mut docs = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    let doc = match docs.next() {
        Some(Ok(doc)) => doc,
        Some(Err(e)) => {
            f.push(format!(
                "expected a JSON document on stdout, found invalid JSON: {e}"
            ));
            return None;
        }
        None => {
            f.push("expected one JSON document on stdout, found none".to_string());
            return None;
        }
    };
    let rest = text[start + docs.byte_offset()..].trim();
    if !rest.is_empty() {
        f.push(format!(
            "expected only a JSON document on stdout, found text after it: {:?}",
            first_line(rest)
        ));
    }
    Some(doc)
}

fn line_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1))
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(200) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

fn int(v: &Value, key: &str) -> Option<i128> {
    let n = v.get(key)?;
    n.as_u64()
        .map(i128::from)
        .or_else(|| n.as_i64().map(i128::from))
}

fn containers(doc: &Value) -> &[Value] {
    doc.get("container_statistics")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Podman's duration wraps the runtime's, which wraps CRIU's frozen (dump) or restore time.
/// Absent or mistyped numbers are left to the schema.
fn check_relations(doc: &Value, kind: StatsKind, f: &mut Vec<Finding>) {
    let k = kind.name();
    let (podman_key, runtime_key) = (
        format!("podman_{k}_duration"),
        format!("runtime_{k}_duration"),
    );
    let criu_key = match kind {
        StatsKind::Checkpoint => "frozen_time",
        StatsKind::Restore => "restore_time",
    };
    let podman = int(doc, &podman_key);
    for (i, c) in containers(doc).iter().enumerate() {
        let runtime = int(c, &runtime_key);
        if let (Some(p), Some(r)) = (podman, runtime) {
            if r > p {
                f.push(format!(
                    "expected {podman_key} ({p}) >= {runtime_key} ({r}) of container_statistics[{i}]"
                ));
            }
        }
        let Some(criu) = c.get("criu_statistics") else {
            continue;
        };
        if let (Some(r), Some(t)) = (runtime, int(criu, criu_key)) {
            if t > r {
                f.push(format!(
                    "expected {runtime_key} ({r}) >= {criu_key} ({t}) in container_statistics[{i}]"
                ));
            }
        }
        if kind == StatsKind::Checkpoint {
            if let (Some(w), Some(s)) = (int(criu, "pages_written"), int(criu, "pages_scanned")) {
                if w > s {
                    f.push(format!(
                        "expected pages_written ({w}) <= pages_scanned ({s}) in container_statistics[{i}]"
                    ));
                }
            }
        }
    }
}

fn check_ids(doc: &Value, expected: &[String], f: &mut Vec<Finding>) {
    let want: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    let found: BTreeSet<&str> = containers(doc)
        .iter()
        .filter_map(|c| c.get("Id").and_then(Value::as_str))
        .collect();
    if found != want {
        f.push(format!(
            "expected container_statistics for the IDs {want:?}, found {found:?}"
        ));
    }
}

/// CRIU's page size on the machines the suite runs on (x86_64, 4 KiB pages).
const PAGE_SIZE: u64 = 4096;

/// `dump_stats_entry` fields (criu images/stats.proto) and podman's JSON names for them.
const DUMP_FIELDS: &[(u64, &str)] = &[
    (1, "freezing_time"),
    (2, "frozen_time"),
    (3, "memdump_time"),
    (4, "memwrite_time"),
    (5, "pages_scanned"),
    (7, "pages_written"),
];

/// The statistics of a checkpoint that also exported an archive, against that archive: podman
/// copies them from the `stats-dump` CRIU wrote (and the archive carries), and CRIU wrote
/// `pages_written` pages into the page images. Made-up or zeroed numbers disagree with both.
pub fn check_against_archive(stdout: &str, archive_bytes: &[u8]) -> Vec<Finding> {
    // A stdout that is not one document is already a finding of `check_stats`.
    let Some(doc) = single_document(stdout, &mut vec![]) else {
        return vec![];
    };
    let [container] = containers(&doc) else {
        return vec![format!(
            "expected the statistics of the one exported container, found {} entries",
            containers(&doc).len()
        )];
    };
    let archive = match super::archive::read_archive(archive_bytes) {
        Ok(a) => a,
        Err(e) => {
            return vec![format!(
                "cannot read the archive to compare statistics: {e}"
            )]
        }
    };
    let mut f = vec![];
    let criu = &container["criu_statistics"];
    let stats_dump = archive
        .members
        .iter()
        .rev()
        .find(|m| m.path == "stats-dump")
        .and_then(|m| m.data.as_deref());
    match stats_dump.map(decode_dump_stats) {
        None => f.push("expected a `stats-dump` in the archive to compare with".to_string()),
        Some(Err(e)) => f.push(format!("the archive's stats-dump: {e}")),
        Some(Ok(dump)) => {
            for (number, key) in DUMP_FIELDS {
                // omitempty: an absent field stands for 0.
                let want = dump.get(number).copied().unwrap_or(0);
                let found = int(criu, key).unwrap_or(0);
                if found != i128::from(want) {
                    f.push(format!(
                        "expected {key} {want}, as in the archive's stats-dump, found {found}"
                    ));
                }
            }
        }
    }
    let page_bytes: u64 = archive
        .members
        .iter()
        .filter(|m| {
            let name = m.path.rsplit('/').next().unwrap_or("");
            (m.path.starts_with("checkpoint/") || m.path.starts_with("pre-checkpoint/"))
                && name.starts_with("pages-")
                && name.ends_with(".img")
        })
        .map(|m| m.size)
        .sum();
    let written = int(criu, "pages_written").unwrap_or(0);
    if written * i128::from(PAGE_SIZE) != i128::from(page_bytes) {
        f.push(format!(
            "expected pages_written ({written}) to be the pages in the archive's page images \
             ({page_bytes} bytes = {} pages of {PAGE_SIZE})",
            page_bytes as f64 / PAGE_SIZE as f64
        ));
    }
    f
}

/// The varint fields of `stats_entry.dump` (field 1) in a CRIU `stats-dump` image: two magics,
/// the message size, the message.
fn decode_dump_stats(data: &[u8]) -> Result<std::collections::BTreeMap<u64, u64>, String> {
    let size = data
        .get(8..12)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or("shorter than its 12-byte header")?;
    let entry = data
        .get(12..12 + size)
        .ok_or("shorter than the message size its header gives")?;
    let dump = protobuf_fields(entry)?
        .into_iter()
        .find_map(|(n, v)| match (n, v) {
            (1, Field::Bytes(b)) => Some(b),
            _ => None,
        })
        .ok_or("no dump statistics (stats_entry field 1)")?;
    Ok(protobuf_fields(dump)?
        .into_iter()
        .filter_map(|(n, v)| match v {
            Field::Varint(x) => Some((n, x)),
            Field::Bytes(_) => None,
        })
        .collect())
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The top-level fields of a protobuf message; fixed-width fields are skipped.
fn protobuf_fields(mut data: &[u8]) -> Result<Vec<(u64, Field<'_>)>, String> {
    fn varint(data: &mut &[u8]) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = data.split_first().ok_or("truncated varint")?;
            *data = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }
    let mut out = vec![];
    while !data.is_empty() {
        let key = varint(&mut data)?;
        let skip = |data: &mut &[u8], n: usize| -> Result<(), String> {
            *data = data.get(n..).ok_or("truncated fixed-width field")?;
            Ok(())
        };
        match key & 7 {
            0 => out.push((key >> 3, Field::Varint(varint(&mut data)?))),
            1 => skip(&mut data, 8)?,
            5 => skip(&mut data, 4)?,
            2 => {
                let len = usize::try_from(varint(&mut data)?).map_err(|e| e.to_string())?;
                let bytes = data.get(..len).ok_or("truncated length-delimited field")?;
                data = &data[len..];
                out.push((key >> 3, Field::Bytes(bytes)));
            }
            other => return Err(format!("unknown protobuf wire type {other}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "bf38382b8b700a0b8b9514403d1b68be97d426141f28f71ad26cf25866951349";

    /// Approach A's real output (real-podman-here.md), indented as podman does.
    const CHECKPOINT: &str = r#"{
    "podman_checkpoint_duration": 264442,
    "container_statistics": [
        {
            "Id": "bf38382b8b700a0b8b9514403d1b68be97d426141f28f71ad26cf25866951349",
            "runtime_checkpoint_duration": 182184,
            "criu_statistics": {
                "freezing_time": 100799,
                "frozen_time": 70370,
                "memdump_time": 934,
                "memwrite_time": 142,
                "pages_scanned": 50,
                "pages_written": 34
            }
        }
    ]
}
"#;

    const RESTORE: &str = r#"{
    "podman_restore_duration": 139704,
    "container_statistics": [
        {
            "Id": "bf38382b8b700a0b8b9514403d1b68be97d426141f28f71ad26cf25866951349",
            "runtime_restore_duration": 97602,
            "criu_statistics": {
                "pages_compared": 9,
                "pages_skipped_cow": 2,
                "forking_time": 236,
                "restore_time": 60232,
                "pages_restored": 32
            }
        }
    ]
}
"#;

    fn schema(kind: StatsKind) -> Value {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        load_schema(kind, &fixtures).unwrap()
    }

    fn check(stdout: &str, kind: StatsKind) -> Vec<Finding> {
        check_stats(stdout, kind, &schema(kind), &[ID.to_string()])
    }

    /// The real checkpoint output with one change.
    fn edited(kind: StatsKind, edit: impl FnOnce(&mut Value)) -> String {
        let text = match kind {
            StatsKind::Checkpoint => CHECKPOINT,
            StatsKind::Restore => RESTORE,
        };
        let mut v: Value = serde_json::from_str(text).unwrap();
        edit(&mut v);
        serde_json::to_string_pretty(&v).unwrap()
    }

    fn one_finding_containing(findings: &[Finding], needle: &str) {
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(findings[0].contains(needle), "{findings:#?}");
    }

    #[test]
    fn real_outputs_have_no_findings() {
        assert_eq!(
            check(CHECKPOINT, StatsKind::Checkpoint),
            Vec::<Finding>::new()
        );
        assert_eq!(check(RESTORE, StatsKind::Restore), Vec::<Finding>::new());
        // All containers may have failed.
        let none = r#"{"podman_checkpoint_duration": 5, "container_statistics": null}"#;
        assert!(check_stats(
            none,
            StatsKind::Checkpoint,
            &schema(StatsKind::Checkpoint),
            &[]
        )
        .is_empty());
    }

    #[test]
    fn zeros_and_empty_criu_statistics_are_faked_stats() {
        // The issue's fake: what a broken engine prints without running CRIU.
        let fake = format!(
            r#"{{"podman_checkpoint_duration":0,"container_statistics":[{{"Id":"{ID}","runtime_checkpoint_duration":0,"criu_statistics":{{}}}}]}}"#
        );
        let f = check(&fake, StatsKind::Checkpoint);
        for needle in [
            "/podman_checkpoint_duration",
            "/runtime_checkpoint_duration",
            "frozen_time",
            "pages_written",
        ] {
            assert!(f.iter().any(|x| x.contains(needle)), "{needle}: {f:#?}");
        }
        // A zero CRIU time is no real time (podman would have left it out).
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"]["memdump_time"] = json!(0);
        });
        one_finding_containing(&check(&out, StatsKind::Checkpoint), "memdump_time");
        // Restore: the times and pages restored are required, the copy-on-write counts are not.
        let out = edited(StatsKind::Restore, |v| {
            let c = v["container_statistics"][0]["criu_statistics"]
                .as_object_mut()
                .unwrap();
            c.remove("pages_compared");
            c.remove("pages_skipped_cow");
        });
        assert!(check(&out, StatsKind::Restore).is_empty());
        let out = edited(StatsKind::Restore, |v| {
            v["container_statistics"][0]["criu_statistics"] = json!({});
        });
        assert_eq!(check(&out, StatsKind::Restore).len(), 3); // one per missing field
    }

    /// A stats-dump image as CRIU writes it, with these dump_stats_entry varints.
    fn stats_dump(fields: &[(u8, u64)]) -> Vec<u8> {
        fn varint(mut v: u64, out: &mut Vec<u8>) {
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        let mut dump = vec![];
        for &(n, v) in fields {
            dump.push(n << 3);
            varint(v, &mut dump);
        }
        let mut entry = vec![0x0a]; // field 1, length-delimited
        varint(dump.len() as u64, &mut entry);
        entry.extend(&dump);
        let mut out = 0x5510_5940u32.to_le_bytes().to_vec();
        out.extend(0x5709_3306u32.to_le_bytes());
        out.extend((entry.len() as u32).to_le_bytes());
        out.extend(entry);
        out
    }

    fn archive_with(stats: &[u8], pages: usize) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in [
            ("stats-dump", stats.to_vec()),
            ("checkpoint/pages-1.img", vec![7; pages * 4096]),
            ("checkpoint/pagemap-1.img", vec![1; 100]),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o600);
            h.set_cksum();
            b.append_data(&mut h, path, data.as_slice()).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// CHECKPOINT's numbers, with pages_skipped_parent (6) which podman does not print.
    const REAL_DUMP: &[(u8, u64)] = &[
        (1, 100799),
        (2, 70370),
        (3, 934),
        (4, 142),
        (5, 50),
        (6, 0),
        (7, 34),
    ];

    #[test]
    fn statistics_agree_with_the_archive() {
        let archive = archive_with(&stats_dump(REAL_DUMP), 34);
        assert_eq!(
            check_against_archive(CHECKPOINT, &archive),
            Vec::<Finding>::new()
        );
    }

    #[test]
    fn made_up_statistics_disagree_with_the_archive() {
        let archive = archive_with(&stats_dump(REAL_DUMP), 34);
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"]["pages_written"] = json!(33);
        });
        let f = check_against_archive(&out, &archive);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f[0].contains("pages_written 34, as in the archive's stats-dump, found 33"));
        assert!(f[1].contains("page images"));
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"]["frozen_time"] = json!(70000);
        });
        one_finding_containing(&check_against_archive(&out, &archive), "frozen_time 70370");
        // Page images that do not hold the pages reported.
        let short = archive_with(&stats_dump(REAL_DUMP), 30);
        one_finding_containing(&check_against_archive(CHECKPOINT, &short), "page images");
        // No stats-dump, or a broken one.
        let broken = archive_with(&stats_dump(REAL_DUMP)[..14], 34);
        one_finding_containing(&check_against_archive(CHECKPOINT, &broken), "stats-dump");
        one_finding_containing(&check_against_archive(CHECKPOINT, b"junk"), "cannot read");
    }

    #[test]
    fn protobuf_reader_never_panics_on_junk() {
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 255) as u8).collect();
            let _ = decode_dump_stats(&junk);
            let _ = protobuf_fields(&junk);
        }
        assert!(protobuf_fields(&[0xff; 11]).is_err());
    }

    #[test]
    fn renamed_field() {
        let out = edited(StatsKind::Checkpoint, |v| {
            let c = v["container_statistics"][0].as_object_mut().unwrap();
            let s = c.remove("criu_statistics").unwrap();
            c.insert("criu".into(), s);
        });
        let f = check(&out, StatsKind::Checkpoint);
        assert!(!f.is_empty(), "{f:#?}");
        assert!(
            f.iter().all(|x| x.contains("/container_statistics/0")),
            "{f:#?}"
        );
        assert!(f.iter().any(|x| x.contains("criu")), "{f:#?}");
    }

    #[test]
    fn field_of_wrong_type() {
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"]["frozen_time"] = json!("70370");
        });
        one_finding_containing(
            &check(&out, StatsKind::Checkpoint),
            "/container_statistics/0/criu_statistics/frozen_time",
        );
    }

    #[test]
    fn bad_id_and_negative_duration() {
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["Id"] = json!("bf38382b8b70");
        });
        let f = check(&out, StatsKind::Checkpoint);
        assert_eq!(f.len(), 2, "{f:#?}"); // the schema's pattern and the ID set
        assert!(f[0].contains("/container_statistics/0/Id") && f[1].contains("IDs"));
        let out = edited(StatsKind::Restore, |v| {
            v["podman_restore_duration"] = json!(-1)
        });
        // The schema's minimum, and -1 < runtime_restore_duration.
        assert_eq!(check(&out, StatsKind::Restore).len(), 2);
    }

    #[test]
    fn warning_line_before_the_json() {
        let out =
            format!("time=\"2026-11-27T01:48:00Z\" level=warning msg=\"{{oops}}\"\n{CHECKPOINT}");
        one_finding_containing(&check(&out, StatsKind::Checkpoint), "text before it");
        let out = format!("{CHECKPOINT}\n{ID}\n");
        one_finding_containing(&check(&out, StatsKind::Checkpoint), "text after it");
        one_finding_containing(&check(ID, StatsKind::Checkpoint), "found text");
        one_finding_containing(&check("  \n", StatsKind::Checkpoint), "found nothing");
        one_finding_containing(&check("{\"podman", StatsKind::Checkpoint), "invalid JSON");
        let two = format!("{CHECKPOINT}{CHECKPOINT}");
        one_finding_containing(&check(&two, StatsKind::Checkpoint), "text after it");
    }

    #[test]
    fn runtime_longer_than_podman() {
        let out = edited(StatsKind::Checkpoint, |v| {
            v["podman_checkpoint_duration"] = json!(182183)
        });
        one_finding_containing(
            &check(&out, StatsKind::Checkpoint),
            "podman_checkpoint_duration (182183) >= runtime_checkpoint_duration (182184)",
        );
        let out = edited(StatsKind::Restore, |v| {
            v["container_statistics"][0]["criu_statistics"]["restore_time"] = json!(97603);
        });
        one_finding_containing(
            &check(&out, StatsKind::Restore),
            "runtime_restore_duration (97602) >= restore_time (97603)",
        );
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"]["frozen_time"] = json!(200000);
        });
        one_finding_containing(
            &check(&out, StatsKind::Checkpoint),
            ">= frozen_time (200000)",
        );
    }

    #[test]
    fn more_pages_written_than_scanned() {
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"]["pages_written"] = json!(51);
        });
        one_finding_containing(
            &check(&out, StatsKind::Checkpoint),
            "pages_written (51) <= pages_scanned (50)",
        );
    }

    #[test]
    fn restore_fields_in_checkpoint_stats_and_vice_versa() {
        let out = edited(StatsKind::Checkpoint, |v| {
            v["container_statistics"][0]["criu_statistics"]["pages_restored"] = json!(32);
        });
        one_finding_containing(&check(&out, StatsKind::Checkpoint), "pages_restored");
        let f = check(RESTORE, StatsKind::Checkpoint);
        assert!(
            f.iter().any(|x| x.contains("podman_restore_duration")),
            "{f:#?}"
        );
        let f = check(CHECKPOINT, StatsKind::Restore);
        assert!(f.iter().any(|x| x.contains("frozen_time")), "{f:#?}");
    }

    #[test]
    fn unexpected_ids() {
        let other = "0".repeat(64);
        let f = check_stats(
            CHECKPOINT,
            StatsKind::Checkpoint,
            &schema(StatsKind::Checkpoint),
            &[ID.into(), other],
        );
        one_finding_containing(&f, "IDs");
        let none = r#"{"podman_checkpoint_duration": 5, "container_statistics": null}"#;
        one_finding_containing(&check(none, StatsKind::Checkpoint), "found {}");
    }

    #[test]
    fn missing_schema_file_is_an_error() {
        assert!(load_schema(StatsKind::Restore, Path::new("/nonexistent")).is_err());
    }
}

/// Pages CRIU wrote, summed over the containers of a `--print-stats` document.
pub fn pages_written(stats: &Value) -> Option<u64> {
    stats["container_statistics"]
        .as_array()?
        .iter()
        .map(|c| c["criu_statistics"]["pages_written"].as_u64())
        .sum()
}

/// `--with-previous` must write fewer pages than a full dump: only those dirtied since the
/// pre-checkpoint (the effect of soft-dirty tracking, not the exit code).
pub fn check_fewer_pages(incremental: &Value, full: &Value) -> Vec<Finding> {
    match (pages_written(incremental), pages_written(full)) {
        (Some(inc), Some(full)) if inc < full => vec![],
        (Some(inc), Some(full)) => vec![format!(
            "the dump on top of a pre-checkpoint wrote {inc} pages, a full dump {full}: no fewer"
        )],
        _ => vec!["pages_written is missing from the statistics to compare".to_string()],
    }
}

#[cfg(test)]
mod fewer_pages_tests {
    use super::*;
    use serde_json::json;

    fn stats(pages: u64) -> Value {
        json!({"container_statistics": [{"criu_statistics": {"pages_written": pages}}]})
    }

    #[test]
    fn an_incremental_dump_writes_fewer_pages() {
        assert!(check_fewer_pages(&stats(3), &stats(40)).is_empty());
    }

    #[test]
    fn a_full_dump_disguised_as_incremental_fails() {
        assert_eq!(check_fewer_pages(&stats(40), &stats(40)).len(), 1);
        assert_eq!(check_fewer_pages(&json!({}), &stats(40)).len(), 1);
    }
}
