//! The producer core's vocabulary: partition keys, closed batches and what
//! the core reports about them. No IO, no tokio.

use std::sync::Arc;
use std::time::Instant;

use kwire_proto::records::{BatchOptions, DecodeOptions, EncodedBatch, Record, RecordBatchBuilder, batches};

use crate::ProduceError;

/// Topic and partition.
pub(crate) type Key = (Arc<str>, i32);

/// `BuildHasher` for the maps hit once per record (kwire's FxHash).
pub(crate) type Fx = kwire_proto::hash::FxBuild;

/// What the broker said about an acknowledged batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchAck {
    /// Offset of the first record, or -1 when unknown (acks=0, a duplicate).
    pub base_offset: i64,
    /// The broker's append time for LogAppendTime topics, else -1.
    pub log_append_time: i64,
}

/// The final outcome of `count` records starting at record `first` of the
/// batch whose delivery handle is `delivery`: one per batch (or per half of a
/// split batch), never more than one per record.
#[derive(Debug)]
pub(crate) struct Completion<D> {
    /// The handle the driver gave when the batch was opened.
    pub delivery: D,
    /// Index of the first record within the handle's records.
    pub first: u32,
    /// How many records.
    pub count: u32,
    /// Acknowledged, or why not.
    pub result: Result<BatchAck, ProduceError>,
}

/// A closed batch, queued or sequenced.
#[derive(Debug)]
pub(crate) struct Batch<D> {
    /// The encoded batch, stamped with the producer state it was (or will
    /// be) sent with.
    pub bytes: EncodedBatch,
    /// The driver's delivery handle of the records.
    pub delivery: D,
    /// Index of this batch's first record within `delivery` (non-zero for
    /// the second half of a split batch).
    pub first: u32,
    /// When its first record was appended: `delivery.timeout.ms` counts from here.
    pub created: Instant,
    /// `buffer.memory` bytes released when the batch is done.
    pub permits: usize,
    /// Times sent.
    pub attempts: u32,
    /// The last error, for the final report.
    pub last_error: Option<String>,
    /// A request carrying it went unanswered: the broker may have written it.
    pub maybe_written: bool,
    /// Producer id, epoch and base sequence encoded in `bytes`.
    pub stamp: (i64, i16, i32),
}

impl<D> Batch<D> {
    /// Records in the batch.
    pub fn count(&self) -> i32 {
        self.bytes.record_count()
    }
}

/// Where the core's reports go: completions for the driver to deliver,
/// `buffer.memory` bytes to release, and the count of batches not yet reported
/// (what `flush` waits for).
#[derive(Debug)]
pub(crate) struct Reports<D> {
    /// Outcomes not yet taken by the driver.
    pub completions: Vec<Completion<D>>,
    /// Bytes of `buffer.memory` released and not yet taken.
    pub freed: usize,
    /// Batches (or halves of split batches) without an outcome yet.
    pub outstanding: usize,
}

impl<D> Default for Reports<D> {
    fn default() -> Self {
        Reports { completions: Vec::new(), freed: 0, outstanding: 0 }
    }
}

impl<D> Reports<D> {
    /// The outcome of `count` records from `first` of `delivery`.
    pub fn report(&mut self, delivery: D, first: u32, count: u32, result: Result<BatchAck, ProduceError>) {
        self.outstanding = self.outstanding.saturating_sub(1);
        self.completions.push(Completion { delivery, first, count, result });
    }

    /// The outcome of every record of `b`.
    pub fn report_batch(&mut self, b: Batch<D>, result: Result<BatchAck, ProduceError>) {
        let count = b.count() as u32;
        self.report(b.delivery, b.first, count, result);
    }
}

/// Kafka's sequence arithmetic: wraps to 0 after `i32::MAX`.
pub(crate) fn seq_add(seq: i32, n: i32) -> i32 {
    let s = i64::from(seq) + i64::from(n);
    if s > i64::from(i32::MAX) { (s - i64::from(i32::MAX) - 1) as i32 } else { s as i32 }
}

/// Splits a closed batch's records into two batches of about half each
/// (after MESSAGE_TOO_LARGE). The halves carry no producer state yet.
pub(crate) fn split(
    batch: &EncodedBatch,
    opts: BatchOptions,
) -> Result<(EncodedBatch, EncodedBatch), ProduceError> {
    let mut records: Vec<Record> = Vec::new();
    for b in batches(batch.bytes().clone(), &DecodeOptions::default()) {
        let b = b?;
        for r in b.records()? {
            records.push(r?.to_record());
        }
    }
    let half = records.len() / 2;
    let build = |rs: &[Record]| -> Result<EncodedBatch, ProduceError> {
        let mut builder = RecordBatchBuilder::new(opts.clone());
        for r in rs {
            builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers)?;
        }
        Ok(builder.finish()?)
    };
    Ok((build(&records[..half])?, build(&records[half..])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_wrap_like_kafka() {
        assert_eq!(seq_add(i32::MAX, 1), 0);
        assert_eq!(seq_add(i32::MAX - 1, 3), 1);
        assert_eq!(seq_add(5, 3), 8);
    }
}
