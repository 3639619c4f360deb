//! CRIU's statistics files (`stats-dump`, `stats-restore`) decoded for `--print-stats`.
//!
//! Layout (go-criu stats/types.go): little-endian u32 magics 0x55105940 (image service) and
//! 0x57093306 (stats), the protobuf size as u32 at offset 8, the `stats_entry` message at 12.
//! Field numbers from checkpoint-restore/criu images/stats.proto:
//! `stats_entry { dump_stats_entry dump = 1; restore_stats_entry restore = 2; }`,
//! `dump_stats_entry { freezing_time = 1; frozen_time = 2; memdump_time = 3; memwrite_time = 4;
//! pages_scanned = 5; pages_skipped_parent = 6; pages_written = 7; irmap_resolve = 8; pages_lazy = 9; ... }`,
//! `restore_stats_entry { pages_compared = 1; pages_skipped_cow = 2; forking_time = 3;
//! restore_time = 4; pages_restored = 5; }`.

use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

const IMG_SERVICE_MAGIC: u32 = 0x5510_5940;
const STATS_MAGIC: u32 = 0x5709_3306;

/// podman's `CRIUCheckpointRestoreStatistics`: every field `omitempty`.
#[derive(Serialize, Default, Debug, PartialEq, Eq)]
pub struct CriuStatistics {
    #[serde(skip_serializing_if = "is_zero")]
    pub freezing_time: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub frozen_time: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub memdump_time: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub memwrite_time: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub pages_scanned: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub pages_written: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub pages_compared: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub pages_skipped_cow: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub forking_time: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub restore_time: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub pages_restored: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).context("truncated varint")?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("varint longer than 10 bytes")
}

/// A message's varint fields and length-delimited fields, by field number.
type Fields<'a> = (HashMap<u64, u64>, HashMap<u64, &'a [u8]>);

fn fields(buf: &[u8]) -> Result<Fields<'_>> {
    let (mut ints, mut bytes) = (HashMap::new(), HashMap::new());
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (number, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                ints.insert(number, varint(buf, &mut pos)?);
            }
            1 => pos += 8,
            2 => {
                let len = varint(buf, &mut pos)? as usize;
                let end = pos
                    .checked_add(len)
                    .filter(|e| *e <= buf.len())
                    .context("truncated field")?;
                bytes.insert(number, &buf[pos..end]);
                pos = end;
            }
            5 => pos += 4,
            other => bail!("unsupported protobuf wire type {other}"),
        }
    }
    if pos > buf.len() {
        bail!("truncated protobuf");
    }
    Ok((ints, bytes))
}

/// Decodes a whole stats file.
pub fn decode(data: &[u8]) -> Result<CriuStatistics> {
    let word = |at: usize| -> Result<u32> {
        let b = data
            .get(at..at + 4)
            .context("stats file shorter than its header")?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if word(0)? != IMG_SERVICE_MAGIC || word(4)? != STATS_MAGIC {
        bail!("not a CRIU stats image (bad magic)");
    }
    let size = word(8)? as usize;
    let body = data
        .get(12..12 + size)
        .context("stats file shorter than its size field")?;
    let (_, entries) = fields(body)?;
    let mut s = CriuStatistics::default();
    if let Some(dump) = entries.get(&1) {
        let (f, _) = fields(dump)?;
        let get = |n| f.get(&n).copied().unwrap_or(0);
        s.freezing_time = get(1);
        s.frozen_time = get(2);
        s.memdump_time = get(3);
        s.memwrite_time = get(4);
        s.pages_scanned = get(5);
        s.pages_written = get(7);
    }
    if let Some(restore) = entries.get(&2) {
        let (f, _) = fields(restore)?;
        let get = |n| f.get(&n).copied().unwrap_or(0);
        s.pages_compared = get(1);
        s.pages_skipped_cow = get(2);
        s.forking_time = get(3);
        s.restore_time = get(4);
        s.pages_restored = get(5);
    }
    Ok(s)
}

pub fn read(path: &Path) -> Result<CriuStatistics> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    decode(&data).with_context(|| format!("decoding {}", path.display()))
}

/// One `container_statistics` entry: `Id`, `runtime_<kind>_duration` (µs), `criu_statistics`.
#[derive(Serialize)]
pub struct Entry {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(flatten)]
    runtime: BTreeMap<String, i64>,
    pub criu_statistics: CriuStatistics,
}

impl Entry {
    /// `kind` is "checkpoint" or "restore".
    pub fn new(kind: &str, id: &str, runtime: Duration, stats: CriuStatistics) -> Entry {
        Entry {
            id: id.to_string(),
            runtime: BTreeMap::from([(
                format!("runtime_{kind}_duration"),
                runtime.as_micros() as i64,
            )]),
            criu_statistics: stats,
        }
    }
}

#[derive(Serialize)]
struct Document {
    #[serde(flatten)]
    total: BTreeMap<String, i64>,
    /// `null` when every container failed, as podman's nil slice.
    container_statistics: Option<Vec<Entry>>,
}

/// Prints podman's `--print-stats` JSON, indented with four spaces.
pub fn print(kind: &str, total: Duration, entries: Vec<Entry>) -> Result<()> {
    let doc = Document {
        total: BTreeMap::from([(format!("podman_{kind}_duration"), total.as_micros() as i64)]),
        container_statistics: (!entries.is_empty()).then_some(entries),
    };
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    doc.serialize(&mut ser)?;
    println!("{}", String::from_utf8(out)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn message(fields: &[(u64, u64)]) -> Vec<u8> {
        let mut m = vec![];
        for (n, v) in fields {
            put_varint(&mut m, n << 3);
            put_varint(&mut m, *v);
        }
        m
    }

    fn file(entry_field: u64, inner: &[u8]) -> Vec<u8> {
        let mut body = vec![];
        put_varint(&mut body, (entry_field << 3) | 2);
        put_varint(&mut body, inner.len() as u64);
        body.extend_from_slice(inner);
        let mut f = vec![];
        f.extend_from_slice(&IMG_SERVICE_MAGIC.to_le_bytes());
        f.extend_from_slice(&STATS_MAGIC.to_le_bytes());
        f.extend_from_slice(&(body.len() as u32).to_le_bytes());
        f.extend_from_slice(&body);
        f
    }

    #[test]
    fn dump_statistics_decode_by_field_number() {
        let inner = message(&[
            (1, 100799),
            (2, 70370),
            (3, 934),
            (4, 142),
            (5, 50),
            (6, 0),
            (7, 34),
            (9, 0),
            (10, 7),
        ]);
        let s = decode(&file(1, &inner)).unwrap();
        assert_eq!(
            (
                s.freezing_time,
                s.frozen_time,
                s.memdump_time,
                s.memwrite_time,
                s.pages_scanned,
                s.pages_written
            ),
            (100799, 70370, 934, 142, 50, 34)
        );
        let json = serde_json::to_value(&s).unwrap();
        assert!(
            json.get("pages_compared").is_none(),
            "zeros are omitted: {json}"
        );
    }

    #[test]
    fn restore_statistics_decode() {
        let inner = message(&[(1, 9), (2, 2), (3, 236), (4, 60232), (5, 32)]);
        let s = decode(&file(2, &inner)).unwrap();
        assert_eq!(
            (
                s.pages_compared,
                s.pages_skipped_cow,
                s.forking_time,
                s.restore_time,
                s.pages_restored
            ),
            (9, 2, 236, 60232, 32)
        );
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(decode(b"short").is_err());
        assert!(decode(&[0u8; 16]).is_err());
        let mut f = file(1, &message(&[(1, 5)]));
        f.truncate(f.len() - 1);
        assert!(decode(&f).is_err());
    }
}
