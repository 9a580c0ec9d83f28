//! The segment dumper behind `kwire dump-log` (kafka-dump-log.sh): walks a
//! `.log` segment's batches with kwire's own record batch decoder and prints
//! them, and their records, in the exact text Kafka 4.x's `DumpLogSegments`
//! prints.
//!
//! A segment file is hostile input (a crashed disk, a truncated copy): every
//! length is bounded by the bytes present, decompression is capped, a bad
//! CRC is reported as `isvalid: false` (not an error), and corruption ends the
//! walk with an error naming the byte position, never a panic.
//!
//! ```
//! use bytes::Bytes;
//! use kwire_cli::dump_log::{DumpOptions, dump_segment};
//! use kwire_proto::records::{BatchOptions, Record, encode_batch};
//!
//! let rec = Record { timestamp: 5, value: Some(Bytes::from_static(b"v")), ..Default::default() };
//! let segment = encode_batch(&[rec], BatchOptions::default()).unwrap().into_bytes();
//! let mut out = Vec::new();
//! let opts = DumpOptions { print_data: true, ..Default::default() };
//! let summary = dump_segment(segment, &opts, &mut out).unwrap();
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.contains("| offset: 0 CreateTime: 5 keySize: -1 valueSize: 1"));
//! assert!(text.ends_with("payload: v\n"));
//! assert!(summary.error.is_none());
//! ```

use std::fmt::Write as _;
use std::io::{self, Write};

use bytes::Bytes;
use kwire_proto::records::{Batch, ControlRecord, ControlType, DecodeOptions, TimestampType, batches};

/// What to print, as kafka-dump-log.sh's flags say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpOptions {
    /// `--print-data-log`: print keys and values (implies `deep`).
    pub print_data: bool,
    /// `--deep-iteration`: print every record, not only batches.
    pub deep: bool,
    /// `--skip-record-metadata`: leave offsets, timestamps and sizes out of record lines.
    pub skip_record_metadata: bool,
    /// Cap on one batch's decompressed records (bytes).
    pub max_decompressed: usize,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            print_data: false,
            deep: false,
            skip_record_metadata: false,
            max_decompressed: DecodeOptions::default().max_decompressed,
        }
    }
}

/// What a dump found besides what it printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpSummary {
    /// Batches printed.
    pub batches: u64,
    /// Records printed (deep iteration only).
    pub records: u64,
    /// Batches whose stored CRC did not match.
    pub bad_crc: u64,
    /// Bytes after the last whole batch (a truncated tail).
    pub trailing_bytes: usize,
    /// Offsets not followed by the next one: (offset, the offset after it).
    pub non_consecutive: Vec<(i64, i64)>,
    /// Corruption that stopped the walk or a batch's records, if any: one
    /// line naming the byte position.
    pub error: Option<String>,
}

/// Prints `segment` (a `.log` file's bytes) to `out`: one line per batch, and
/// with deep iteration one `| ...` line per record. Stops at the first
/// undecodable batch (reported in [`DumpSummary::error`]); a batch whose
/// records cannot be decoded is reported there too and the walk continues
/// at the next batch. Only `out`'s errors are returned as `Err`.
pub fn dump_segment(segment: Bytes, opts: &DumpOptions, out: &mut impl Write) -> io::Result<DumpSummary> {
    walk(segment, opts, &mut TextSink { out, opts, line: String::new() })
}

/// As [`dump_segment`], but one JSON object per batch and line (JSON Lines),
/// with the batch's records in `"records"` under deep iteration: the same
/// fields the text names, in snake case, keys and values as text (Java's
/// UTF-8 reading) with `--print-data-log`.
pub fn dump_segment_json(
    segment: Bytes,
    opts: &DumpOptions,
    out: &mut impl Write,
) -> io::Result<DumpSummary> {
    let mut sink = JsonSink { out, opts, batch: None };
    let sum = walk(segment, opts, &mut sink)?;
    sink.flush_batch()?;
    Ok(sum)
}

/// Where the walk's batches and records go.
trait Sink {
    fn batch(&mut self, b: &Batch, position: usize, valid: bool) -> io::Result<()>;
    fn record(&mut self, b: &Batch, rec: &kwire_proto::records::RecordRef<'_>) -> io::Result<()>;
}

struct TextSink<'a, W: Write> {
    out: &'a mut W,
    opts: &'a DumpOptions,
    line: String,
}

impl<W: Write> Sink for TextSink<'_, W> {
    fn batch(&mut self, b: &Batch, position: usize, valid: bool) -> io::Result<()> {
        self.line.clear();
        batch_line(&mut self.line, b, position, valid);
        writeln!(self.out, "{}", self.line)
    }

    fn record(&mut self, b: &Batch, rec: &kwire_proto::records::RecordRef<'_>) -> io::Result<()> {
        self.line.clear();
        record_line(&mut self.line, b, rec, self.opts);
        writeln!(self.out, "{}", self.line)
    }
}

struct JsonSink<'a, W: Write> {
    out: &'a mut W,
    opts: &'a DumpOptions,
    /// The batch being filled with its records, written when the next starts.
    batch: Option<serde_json::Value>,
}

impl<W: Write> JsonSink<'_, W> {
    fn flush_batch(&mut self) -> io::Result<()> {
        match self.batch.take() {
            Some(b) => writeln!(self.out, "{b}"),
            None => Ok(()),
        }
    }
}

impl<W: Write> Sink for JsonSink<'_, W> {
    fn batch(&mut self, b: &Batch, position: usize, valid: bool) -> io::Result<()> {
        self.flush_batch()?;
        let h = &b.header;
        let mut o = serde_json::json!({
            "base_offset": h.base_offset, "last_offset": h.last_offset(), "count": h.record_count,
            "base_sequence": h.base_sequence, "last_sequence": h.last_sequence(),
            "producer_id": h.producer_id, "producer_epoch": h.producer_epoch,
            "partition_leader_epoch": h.partition_leader_epoch,
            "is_transactional": h.is_transactional(), "is_control": h.is_control(),
            "delete_horizon_ms": h.delete_horizon_ms(), "position": position,
            "timestamp_type": ts_type(b), "max_timestamp": h.max_timestamp, "size": b.raw().len(),
            "magic": b.magic(), "compression": b.compression().name(), "crc": h.crc, "crc_valid": valid,
        });
        if self.opts.deep || self.opts.print_data {
            o["records"] = serde_json::json!([]);
        }
        self.batch = Some(o);
        Ok(())
    }

    fn record(&mut self, b: &Batch, rec: &kwire_proto::records::RecordRef<'_>) -> io::Result<()> {
        let mut r = serde_json::json!({
            "offset": rec.offset, "timestamp": rec.timestamp,
            "key_size": size_of(rec.key), "value_size": size_of(rec.value),
        });
        if b.magic() >= 2 {
            r["sequence"] = record_sequence(b, rec.offset).into();
            r["header_keys"] = rec.headers().map(|h| java_utf8(h.key)).collect::<Vec<_>>().into();
        }
        if b.is_control() {
            r["control"] = match ControlRecord::parse(rec.key, rec.value) {
                Ok(ControlRecord { kind: ControlType::Abort, coordinator_epoch, .. }) => {
                    serde_json::json!({"type": "ABORT", "coordinator_epoch": coordinator_epoch})
                }
                Ok(ControlRecord { kind: ControlType::Commit, coordinator_epoch, .. }) => {
                    serde_json::json!({"type": "COMMIT", "coordinator_epoch": coordinator_epoch})
                }
                Ok(ControlRecord { kind: ControlType::Other(id), .. }) => {
                    serde_json::json!({"type": control_name(id), "id": id})
                }
                Err(e) => serde_json::json!({"type": "UNKNOWN", "error": e.to_string()}),
            };
        } else if self.opts.print_data {
            r["key"] = rec.key.map(java_utf8).into();
            r["payload"] = rec.value.map(java_utf8).into();
        }
        if let Some(serde_json::Value::Array(records)) =
            self.batch.as_mut().and_then(|o| o.get_mut("records"))
        {
            records.push(r);
        }
        Ok(())
    }
}

/// The walk behind both formats.
fn walk(segment: Bytes, opts: &DumpOptions, sink: &mut impl Sink) -> io::Result<DumpSummary> {
    let total = segment.len();
    let decode = DecodeOptions::default().verify_crc(false).max_decompressed(opts.max_decompressed);
    let deep = opts.deep || opts.print_data;
    let mut iter = batches(segment, &decode);
    let mut sum = DumpSummary::default();
    let mut last_offset: Option<i64> = None;
    loop {
        let position = total - iter.remaining().len();
        let batch = match iter.next() {
            None => break,
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                sum.error = Some(format!("corrupt batch at position {position}: {e}"));
                return Ok(sum);
            }
        };
        let valid = crc_valid(&batch);
        if !valid {
            sum.bad_crc += 1;
        }
        sink.batch(&batch, position, valid)?;
        sum.batches += 1;
        if !deep {
            continue;
        }
        let records = match batch.records() {
            Ok(r) => r,
            Err(e) => {
                sum.error
                    .get_or_insert(format!("batch at position {position}: cannot read its records: {e}"));
                continue;
            }
        };
        for rec in records {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    sum.error.get_or_insert(format!("batch at position {position}: corrupt record: {e}"));
                    break;
                }
            };
            if let Some(prev) = last_offset
                && rec.offset != prev.wrapping_add(1)
            {
                sum.non_consecutive.push((prev, rec.offset));
            }
            last_offset = Some(rec.offset);
            sink.record(&batch, &rec)?;
            sum.records += 1;
        }
    }
    sum.trailing_bytes = iter.incomplete().unwrap_or(0);
    Ok(sum)
}

/// Whether the stored CRC matches: the batch decoded again with the check on.
fn crc_valid(batch: &Batch) -> bool {
    matches!(batches(batch.raw().clone(), &DecodeOptions::default()).next(), Some(Ok(_)))
}

fn ts_type(batch: &Batch) -> &'static str {
    if batch.magic() == 0 {
        return "NoTimestampType";
    }
    match batch.header.timestamp_type() {
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
    }
}

/// `DumpLogSegments.printBatchLevel`.
fn batch_line(s: &mut String, b: &Batch, position: usize, valid: bool) {
    let h = &b.header;
    if b.magic() >= 2 {
        let horizon = match h.delete_horizon_ms() {
            Some(ms) => format!("OptionalLong[{ms}]"),
            None => "OptionalLong.empty".to_owned(),
        };
        let _ = write!(
            s,
            "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} producerId: {} \
             producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} deleteHorizonMs: {}",
            h.base_offset,
            h.last_offset(),
            h.record_count,
            h.base_sequence,
            h.last_sequence(),
            h.producer_id,
            h.producer_epoch,
            h.partition_leader_epoch,
            h.is_transactional(),
            h.is_control(),
            horizon
        );
    } else {
        let _ = write!(s, "offset: {}", h.last_offset());
    }
    let _ = write!(
        s,
        " position: {position} {}: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {valid}",
        ts_type(b),
        h.max_timestamp,
        b.raw().len(),
        b.magic(),
        b.compression().name(),
        h.crc
    );
}

/// Sequence of the record at `offset`: the batch's base sequence plus the
/// offset delta, wrapping past `i32::MAX` to 0 (-1 without a sequence).
fn record_sequence(b: &Batch, offset: i64) -> i64 {
    let base = b.header.base_sequence;
    if base < 0 {
        return -1;
    }
    let delta = offset.saturating_sub(b.header.base_offset);
    (i64::from(base).saturating_add(delta)) % (i64::from(i32::MAX) + 1)
}

fn size_of(field: Option<&[u8]>) -> i64 {
    field.map_or(-1, |f| f.len() as i64)
}

/// One `| offset: ...` line (the `DumpLogSegments.dumpLog` record loop).
fn record_line(s: &mut String, b: &Batch, rec: &kwire_proto::records::RecordRef<'_>, opts: &DumpOptions) {
    let mut prefix = "";
    // Kafka prints the `| ` indent before metadata or contents; a record
    // line with neither is empty.
    if !opts.skip_record_metadata || (opts.print_data && !b.is_control()) {
        s.push_str("| ");
    }
    if !opts.skip_record_metadata {
        let _ = write!(
            s,
            "offset: {} {}: {} keySize: {} valueSize: {}",
            rec.offset,
            ts_type(b),
            rec.timestamp,
            size_of(rec.key),
            size_of(rec.value)
        );
        prefix = " ";
        if b.magic() >= 2 {
            let keys: Vec<String> = rec.headers().map(|h| java_utf8(h.key)).collect();
            let _ =
                write!(s, " sequence: {} headerKeys: [{}]", record_sequence(b, rec.offset), keys.join(","));
        } else {
            // Legacy messages: the (wrapper) message's CRC.
            let _ = write!(s, " crc: {} isvalid: {}", b.header.crc, crc_valid(b));
        }
        if b.is_control() {
            match ControlRecord::parse(rec.key, rec.value) {
                Ok(ControlRecord {
                    kind: kind @ (ControlType::Abort | ControlType::Commit),
                    coordinator_epoch,
                    ..
                }) => {
                    let name = if kind == ControlType::Abort { "ABORT" } else { "COMMIT" };
                    let epoch = coordinator_epoch.map_or_else(|| "?".to_owned(), |e| e.to_string());
                    let _ = write!(s, " endTxnMarker: {name} coordinatorEpoch: {epoch}");
                }
                Ok(ControlRecord { kind: ControlType::Other(id), .. }) => {
                    let _ = write!(s, " controlType: {}({id})", control_name(id));
                }
                Err(e) => {
                    let _ = write!(s, " controlType: UNKNOWN (undecodable: {e})");
                }
            }
        }
    }
    if opts.print_data && !b.is_control() {
        if let Some(k) = rec.key {
            let _ = write!(s, "{prefix}key: {}", java_utf8(k));
            prefix = " ";
        }
        if let Some(v) = rec.value {
            let _ = write!(s, "{prefix}payload: {}", java_utf8(v));
        }
    }
}

/// Bytes as text the way Java's `new String(bytes, UTF_8)` reads them (what
/// the Java tool prints): invalid sequences become U+FFFD as in Rust's lossy
/// conversion, except that an encoded surrogate (`ED A0..BF 80..BF`) is one
/// replacement character, not three, and a truncated sequence at the end is
/// one.
pub fn java_utf8(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    let mut rest = b;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                out.push('\u{FFFD}');
                let cont = |i: usize| bad.get(i).is_some_and(|x| (0x80..=0xbf).contains(x));
                let n = match e.error_len() {
                    None => bad.len(),
                    Some(_)
                        if bad.first() == Some(&0xed)
                            && bad.get(1).is_some_and(|x| *x >= 0xa0)
                            && cont(1)
                            && cont(2) =>
                    {
                        3
                    }
                    Some(n) => n,
                };
                rest = bad.get(n..).unwrap_or_default();
            }
        }
    }
    out
}

/// Kafka's `ControlRecordType` names.
fn control_name(id: i16) -> &'static str {
    match id {
        2 => "LEADER_CHANGE",
        3 => "SNAPSHOT_HEADER",
        4 => "SNAPSHOT_FOOTER",
        5 => "KRAFT_VERSION",
        6 => "KRAFT_VOTERS",
        _ => "UNKNOWN",
    }
}

/// The base offset a segment's file name carries (`00000000000000000042.log`
/// → 42), or `None` if the name is not a `.log` segment's.
pub fn segment_start_offset(file_name: &str) -> Option<i64> {
    let stem = file_name.strip_suffix(".log")?;
    let stem = stem.split('.').next()?;
    if stem.is_empty() || !stem.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

#[cfg(test)]
mod tests;
