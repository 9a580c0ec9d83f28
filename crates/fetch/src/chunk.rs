//! Fetched data handed to the application: one partition's record batches
//! from one Fetch response, decoded lazily and filtered on iteration.

use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;
use kwire_proto::msg::fetch::AbortedTransaction;
use kwire_proto::records::{Batch, ControlType, DecodeOptions, RecordRef, batches};

use crate::{FetchError, IsolationLevel, TopicPartition};

/// One partition's data from one Fetch response.
#[derive(Debug, Clone)]
pub struct FetchedChunk {
    /// The partition.
    pub tp: Arc<TopicPartition>,
    /// The offset this fetch started at: records before it (inside a
    /// compressed batch that began earlier) are skipped.
    pub fetch_offset: i64,
    /// The offset after the last complete batch: where the next fetch starts.
    pub next_offset: i64,
    /// High watermark at the time of the fetch.
    pub high_watermark: i64,
    /// Last stable offset at the time of the fetch (-1 if unknown).
    pub last_stable_offset: i64,
    /// Log start offset at the time of the fetch (-1 if unknown).
    pub log_start_offset: i64,
    pub(crate) records: Bytes,
    pub(crate) aborted: Option<Vec<AbortedTransaction>>,
    pub(crate) isolation: IsolationLevel,
    pub(crate) decode: DecodeOptions,
    pub(crate) assignment_epoch: u64,
}

impl FetchedChunk {
    /// A chunk of record batches of `tp` fetched some other way (a share
    /// fetch, a file), read from `fetch_offset` on as read_uncommitted: the
    /// records of control batches are skipped, nothing else is filtered.
    pub fn from_records(
        tp: Arc<TopicPartition>,
        fetch_offset: i64,
        records: Bytes,
        decode: DecodeOptions,
    ) -> Self {
        FetchedChunk {
            tp,
            fetch_offset,
            next_offset: -1,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            records,
            aborted: None,
            isolation: IsolationLevel::ReadUncommitted,
            decode,
            assignment_epoch: 0,
        }
    }

    /// Raw bytes of the record batches (e.g. to forward unchanged).
    pub fn raw(&self) -> &Bytes {
        &self.records
    }

    /// Calls `f` for every record at or after `fetch_offset`, in offset order,
    /// skipping control batches and (under read_committed) records of aborted
    /// transactions. `f` may stop early with `ControlFlow::Break`. Returns the
    /// number of records passed to `f`.
    pub fn for_each_record(
        &self,
        mut f: impl FnMut(&Batch, &RecordRef<'_>) -> ControlFlow<()>,
    ) -> Result<usize, FetchError> {
        let err = |source| FetchError::Records {
            topic: self.tp.topic.clone(),
            partition: self.tp.partition,
            offset: self.fetch_offset,
            cause: source,
        };
        let mut aborted: Vec<AbortedTransaction> = match (&self.aborted, self.isolation) {
            (Some(a), IsolationLevel::ReadCommitted) => {
                let mut a = a.clone();
                // Pop from the end in first-offset order.
                a.sort_by_key(|t| std::cmp::Reverse(t.first_offset));
                a
            }
            _ => Vec::new(),
        };
        let mut active_aborts: Vec<i64> = Vec::new();
        let mut count = 0;
        for batch in batches(self.records.clone(), &self.decode) {
            let batch = batch.map_err(err)?;
            if batch.next_offset() <= self.fetch_offset {
                continue;
            }
            if self.isolation == IsolationLevel::ReadCommitted {
                while aborted.last().is_some_and(|t| t.first_offset <= batch.last_offset()) {
                    if let Some(t) = aborted.pop() {
                        active_aborts.push(t.producer_id);
                    }
                }
                if batch.is_control() {
                    if let Ok(Some(ctl)) = batch.control_record() {
                        if ctl.kind == ControlType::Abort {
                            active_aborts.retain(|p| *p != batch.producer_id());
                        }
                    }
                    continue;
                }
                if batch.is_transactional() && active_aborts.contains(&batch.producer_id()) {
                    continue;
                }
            } else if batch.is_control() {
                continue;
            }
            for rec in batch.records().map_err(err)? {
                let rec = rec.map_err(err)?;
                if rec.offset < self.fetch_offset {
                    continue;
                }
                count += 1;
                if f(&batch, &rec).is_break() {
                    return Ok(count);
                }
            }
        }
        Ok(count)
    }
}
