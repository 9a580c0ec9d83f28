//! Per-batch progress, shaped like Spark's `StreamingQueryProgress`.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value as J, json};

use crate::checkpoint::offsets_json;
use crate::time::format_timestamp_iso;
use crate::trigger::PartitionOffsets;

/// How progress is reported (on stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// Nothing.
    #[default]
    Off,
    /// One human-readable line per batch (`kwire -v stream ...`).
    Text,
    /// One JSON object per batch, Spark's progress fields (`--progress json`).
    Json,
}

/// Timings of one batch, Spark's `durationMs` keys.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Durations {
    pub latest_offset: Duration,
    pub wal_commit: Duration,
    pub add_batch: Duration,
    pub commit_offsets: Duration,
    pub trigger_execution: Duration,
}

pub(crate) struct BatchReport<'a> {
    pub batch_id: u64,
    pub input_rows: u64,
    pub output_rows: u64,
    pub trigger_start: Instant,
    pub wall_ms: i64,
    pub durations: Durations,
    pub watermark_ms: Option<i64>,
    pub state_rows: Option<usize>,
    pub start: &'a PartitionOffsets,
    pub end: &'a PartitionOffsets,
    pub latest: Option<&'a PartitionOffsets>,
}

pub(crate) struct Reporter {
    pub mode: Progress,
    pub id: String,
    pub run_id: String,
    pub source: String,
    pub sink: String,
    last_trigger_start: Option<Instant>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn iso(ms: i64) -> String {
    let mut s = String::new();
    format_timestamp_iso(ms.saturating_mul(1000), &mut s);
    s
}

fn rate(rows: u64, secs: f64) -> f64 {
    if secs > 0.0 { rows as f64 / secs } else { 0.0 }
}

fn offsets_value(o: &PartitionOffsets) -> J {
    serde_json::from_str(&offsets_json(o)).unwrap_or(J::Null)
}

impl Reporter {
    pub(crate) fn new(mode: Progress, id: String, source: String, sink: String) -> Reporter {
        Reporter { mode, id, run_id: new_id(), source, sink, last_trigger_start: None }
    }

    pub(crate) fn report(&mut self, r: &BatchReport<'_>) {
        let input_secs =
            self.last_trigger_start.map(|l| r.trigger_start.saturating_duration_since(l).as_secs_f64());
        self.last_trigger_start = Some(r.trigger_start);
        let in_rate = input_secs.map_or(0.0, |s| rate(r.input_rows, s));
        let proc_rate = rate(r.input_rows, r.durations.trigger_execution.as_secs_f64());
        let d = &r.durations;
        match self.mode {
            Progress::Off => {}
            Progress::Text => {
                let mut line = format!(
                    "Batch {}: {} input rows, {:.1} rows/s input, {:.1} rows/s processed, {} ms (latestOffset {}, walCommit {}, addBatch {}, commitOffsets {})",
                    r.batch_id,
                    r.input_rows,
                    in_rate,
                    proc_rate,
                    ms(d.trigger_execution),
                    ms(d.latest_offset),
                    ms(d.wal_commit),
                    ms(d.add_batch),
                    ms(d.commit_offsets),
                );
                if let Some(w) = r.watermark_ms {
                    line.push_str(&format!(", watermark {}", iso(w)));
                }
                if let Some(n) = r.state_rows {
                    line.push_str(&format!(", {n} state rows"));
                }
                line.push_str(&format!(", {} output rows", r.output_rows));
                eprintln!("{line}");
            }
            Progress::Json => {
                let mut doc = json!({
                    "id": self.id,
                    "runId": self.run_id,
                    "name": J::Null,
                    "timestamp": iso(r.wall_ms),
                    "batchId": r.batch_id,
                    "numInputRows": r.input_rows,
                    "inputRowsPerSecond": in_rate,
                    "processedRowsPerSecond": proc_rate,
                    "durationMs": {
                        "addBatch": ms(d.add_batch),
                        "commitOffsets": ms(d.commit_offsets),
                        "latestOffset": ms(d.latest_offset),
                        "triggerExecution": ms(d.trigger_execution),
                        "walCommit": ms(d.wal_commit),
                    },
                    "stateOperators": match r.state_rows {
                        Some(n) => json!([{"operatorName": "stateStoreSave", "numRowsTotal": n}]),
                        None => json!([]),
                    },
                    "sources": [{
                        "description": format!("KafkaV2[{}]", self.source),
                        "startOffset": offsets_value(r.start),
                        "endOffset": offsets_value(r.end),
                        "latestOffset": r.latest.map_or(J::Null, offsets_value),
                        "numInputRows": r.input_rows,
                        "inputRowsPerSecond": in_rate,
                        "processedRowsPerSecond": proc_rate,
                    }],
                    "sink": {"description": self.sink, "numOutputRows": r.output_rows},
                });
                if let (Some(w), Some(o)) = (r.watermark_ms, doc.as_object_mut()) {
                    o.insert("eventTime".into(), json!({"watermark": iso(w)}));
                }
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{doc}");
            }
        }
    }
}

/// A random-enough UUID-shaped id (time, pid, a counter; no RNG dependency).
pub(crate) fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ (u64::from(std::process::id()) << 32) ^ N.fetch_add(1, Ordering::Relaxed);
    let mut next = || {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}
