//! A simulated Kafka cluster for the producer's sans-IO tests.
//!
//! [`SimCluster`] keeps, per partition, a leader, a log and the broker's
//! producer state, and answers Produce requests (acks=all) with the rules of
//! Kafka's `ProducerStateManager` / `ProducerAppendInfo` and
//! `UnifiedLog.analyzeAndValidateProducerState`:
//!
//! - only the leader accepts writes (else NOT_LEADER_OR_FOLLOWER);
//! - a batch equal (same epoch, same first and last sequence) to one of the
//!   producer's last 5 batches is a duplicate: answered with its original
//!   offset and not written again;
//! - an epoch below the producer's current one is fenced (INVALID_PRODUCER_EPOCH);
//! - a new epoch starts at sequence 0, the same epoch continues at last + 1
//!   (wrapping after `i32::MAX`), else OUT_OF_ORDER_SEQUENCE_NUMBER;
//! - a producer the partition has no state for may start at any sequence;
//! - a batch holding a record marked invalid ([`SimCluster::make_invalid`])
//!   is refused with INVALID_RECORD on every attempt, as Kafka refuses a
//!   batch whose content fails validation (which it checks before looking
//!   for duplicates).
//!
//! Replication is perfect: a new leader has the same log and producer state.
//! Pure and deterministic: no IO, no clock (time is an input).
//!
//! [`txn`] adds a transaction coordinator: transactional ids, fencing,
//! AddPartitionsToTxn, EndTxn with markers written later (the
//! CONCURRENT_TRANSACTIONS window), timeouts, transactional offset commits,
//! and the partition leader's check that a transactional batch belongs to
//! an ongoing transaction (KIP-890 part 1 verification).

// Test harness (also built for fuzzing with the `sim` feature): its checks
// are panics by design, and the unit tests' helpers are unused there.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(not(test), allow(dead_code))]

mod txn;

pub(crate) use txn::TxnCoordinator;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kwire_proto::ErrorCode;
use kwire_proto::msg::produce::{PartitionProduceResponse, ProduceResponse};
use kwire_proto::records::{Batch, DecodeOptions, NO_PRODUCER_ID, RecordsError, batches};

/// How many batches per producer the broker remembers for duplicate detection
/// (Kafka's `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`).
const BATCHES_TO_RETAIN: usize = 5;

/// The epoch of a producer the partition has no state for
/// (Kafka's `RecordBatch.NO_PRODUCER_EPOCH`).
const NO_EPOCH: i16 = -1;

/// The simulated cluster: topics, partitions, their leaders, logs and producer state.
#[derive(Debug)]
pub(crate) struct SimCluster {
    brokers: i32,
    topics: BTreeMap<String, Vec<SimPartition>>,
    /// Answer duplicates with DUPLICATE_SEQUENCE_NUMBER and base offset -1, as
    /// brokers before Kafka 1.0 (KAFKA-5793) did, instead of NONE and the
    /// original offset.
    pub(crate) duplicate_as_error: bool,
    /// The transaction coordinator.
    pub(crate) txn: TxnCoordinator,
    /// Record values whose batches fail validation.
    invalid: HashSet<Bytes>,
}

/// One record as stored in a partition log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub offset: i64,
    pub producer_id: i64,
    pub epoch: i16,
    pub sequence: i32,
    pub value: Option<Bytes>,
    /// Written by a transactional producer.
    pub transactional: bool,
    /// A transaction marker (control record): Some(true) commit, Some(false) abort.
    pub control: Option<bool>,
}

#[derive(Debug, Default)]
struct SimPartition {
    leader: Option<i32>,
    /// Produce requests the leader still refuses (KAFKA-14312).
    not_ready: u32,
    log: Vec<Stored>,
    producers: BTreeMap<i64, ProducerEntry>,
}

/// What the broker knows of one producer on one partition.
#[derive(Debug, Clone)]
struct ProducerEntry {
    epoch: i16,
    /// The last appended batches, oldest first, at most [`BATCHES_TO_RETAIN`].
    batches: VecDeque<BatchMeta>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    first_offset: i64,
    last_offset: i64,
}

/// How a partition's part of a request ends.
enum Outcome {
    /// Everything was validated: append these records, install these entries.
    Append { records: Vec<Stored>, updates: BTreeMap<i64, ProducerEntry> },
    /// A batch was already written at this base offset.
    Duplicate(i64),
}

/// A refusal: the error and the broker's message.
type Refusal = (ErrorCode, String);

impl SimCluster {
    /// `brokers` broker ids 1..=brokers; each (topic, partitions) gets partitions
    /// with leader = broker (p % brokers) + 1.
    pub(crate) fn new(brokers: i32, topics: &[(&str, i32)]) -> SimCluster {
        let brokers = brokers.max(1);
        let topics = topics
            .iter()
            .map(|&(name, n)| {
                let parts =
                    (0..n).map(|p| SimPartition { leader: Some(p % brokers + 1), ..Default::default() });
                (name.to_owned(), parts.collect())
            })
            .collect();
        SimCluster {
            brokers,
            topics,
            duplicate_as_error: false,
            txn: TxnCoordinator::default(),
            invalid: HashSet::new(),
        }
    }

    /// The current leader of a partition (what fresh metadata would say), or
    /// None while there is none (or the partition does not exist).
    pub(crate) fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.part(topic, partition).and_then(|p| p.leader)
    }

    /// Moves leadership (the new leader has the same log and producer state:
    /// replicated). Panics for an unknown partition or broker (a test bug).
    pub(crate) fn move_leader(&mut self, topic: &str, partition: i32, to: Option<i32>) {
        assert!(to.is_none_or(|b| (1..=self.brokers).contains(&b)), "no broker {to:?}");
        self.part_mut(topic, partition).leader = to;
    }

    /// A fresh partition whose leader is "not ready": the next `n` produce
    /// requests that reach the leader for it answer NOT_LEADER_OR_FOLLOWER
    /// (the KAFKA-14312 new-partition hazard).
    pub(crate) fn set_not_ready(&mut self, topic: &str, partition: i32, n: u32) {
        self.part_mut(topic, partition).not_ready = n;
    }

    /// Makes the broker forget all producer state of a partition (as after
    /// retention deleted everything), keeping the log.
    pub(crate) fn forget_producers(&mut self, topic: &str, partition: i32) {
        self.part_mut(topic, partition).producers.clear();
    }

    /// Marks the records of `data` (a partition's part of a request) invalid,
    /// so that this batch and every retry of it is refused with
    /// INVALID_RECORD, unless one of them is already in the partition's log
    /// (content that was written once is valid); returns whether it did.
    pub(crate) fn make_invalid(&mut self, topic: &str, partition: i32, data: &Bytes) -> bool {
        let values = record_values(data);
        let log = self.log(topic, partition);
        if values.is_empty() || log.iter().any(|r| r.value.as_ref().is_some_and(|v| values.contains(v))) {
            return false;
        }
        self.invalid.extend(values);
        true
    }

    /// Handles one ProduceRequest (acks=all) sent to `broker`: each element is
    /// (topic, partition, v2 record batch bytes as the producer encoded them).
    /// Returns the response the broker would send (`now` starts a transaction
    /// that a transactional batch opens under transaction version 2).
    pub(crate) fn produce(
        &mut self,
        broker: i32,
        parts: &[(Arc<str>, i32, Bytes)],
        now: Instant,
    ) -> ProduceResponse {
        let mut topics: Vec<(String, Vec<PartitionProduceResponse>)> = Vec::new();
        for (topic, partition, data) in parts {
            let (error_code, base_offset, error_message) =
                match self.produce_one(broker, topic, *partition, data, now) {
                    Ok(base) => (ErrorCode::NONE, base, None),
                    Err((code, msg)) => (code, -1, Some(msg)),
                };
            let resp = PartitionProduceResponse {
                partition: *partition,
                error_code,
                base_offset,
                log_append_time_ms: -1,
                log_start_offset: if error_code.is_ok() { 0 } else { -1 },
                record_errors: Vec::new(),
                error_message,
                current_leader: (-1, -1),
            };
            match topics.iter_mut().find(|(name, _)| name.as_str() == &**topic) {
                Some((_, list)) => list.push(resp),
                None => topics.push((topic.to_string(), vec![resp])),
            }
        }
        ProduceResponse { topics, throttle_time_ms: 0 }
    }

    /// The records of a partition's log in offset order (empty for an unknown partition).
    pub(crate) fn log(&self, topic: &str, partition: i32) -> &[Stored] {
        self.part(topic, partition).map_or(&[], |p| &p.log)
    }

    fn part(&self, topic: &str, partition: i32) -> Option<&SimPartition> {
        let idx = usize::try_from(partition).ok()?;
        self.topics.get(topic)?.get(idx)
    }

    fn part_mut(&mut self, topic: &str, partition: i32) -> &mut SimPartition {
        let idx = usize::try_from(partition).ok();
        match self.topics.get_mut(topic).zip(idx).and_then(|(t, i)| t.get_mut(i)) {
            Some(p) => p,
            None => panic!("sim: no partition {topic}-{partition}"),
        }
    }

    /// One partition's part of a request: the base offset written (or of the
    /// duplicate), or the refusal.
    fn produce_one(
        &mut self,
        broker: i32,
        topic: &str,
        partition: i32,
        data: &Bytes,
        now: Instant,
    ) -> Result<i64, Refusal> {
        let as_error = self.duplicate_as_error;
        let idx = usize::try_from(partition).ok();
        let Some(part) = self.topics.get_mut(topic).zip(idx).and_then(|(t, i)| t.get_mut(i)) else {
            let msg = format!("{topic}-{partition} does not exist");
            return Err((ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, msg));
        };
        if part.leader != Some(broker) {
            let msg = format!("broker {broker} is not the leader of {topic}-{partition}");
            return Err((ErrorCode::NOT_LEADER_OR_FOLLOWER, msg));
        }
        if part.not_ready > 0 {
            part.not_ready -= 1;
            let msg = format!("leader {broker} of {topic}-{partition} is not ready");
            return Err((ErrorCode::NOT_LEADER_OR_FOLLOWER, msg));
        }
        if !self.invalid.is_empty() && record_values(data).iter().any(|v| self.invalid.contains(v)) {
            let msg = format!("a record for {topic}-{partition} is invalid");
            return Err((ErrorCode::INVALID_RECORD, msg));
        }
        if let Some((pid, epoch)) = transactional_producer(data) {
            self.txn.verify(pid, epoch, topic, partition, now)?;
        }
        let part = self.part_mut(topic, partition);
        match part.analyze(data)? {
            Outcome::Duplicate(_) if as_error => {
                Err((ErrorCode::DUPLICATE_SEQUENCE_NUMBER, "duplicate batch".to_owned()))
            }
            Outcome::Duplicate(base) => Ok(base),
            Outcome::Append { records, updates } => {
                let base = records.first().map_or(part.log_end(), |r| r.offset);
                part.log.extend(records);
                part.producers.extend(updates);
                Ok(base)
            }
        }
    }
}

impl SimPartition {
    fn log_end(&self) -> i64 {
        self.log.last().map_or(0, |r| r.offset + 1)
    }

    /// Validates every batch of `data` against the producer state, as if
    /// appended in order; nothing is changed. One bad batch refuses them all.
    fn analyze(&self, data: &Bytes) -> Result<Outcome, Refusal> {
        let corrupt = |e: RecordsError| (ErrorCode::CORRUPT_MESSAGE, e.to_string());
        let mut next = self.log_end();
        let mut records = Vec::new();
        let mut updates: BTreeMap<i64, ProducerEntry> = BTreeMap::new();
        let mut iter = batches(data.clone(), &DecodeOptions::default());
        for batch in iter.by_ref() {
            let batch = batch.map_err(corrupt)?;
            let h = &batch.header;
            if batch.magic() != 2 || h.record_count <= 0 || h.last_offset_delta != h.record_count - 1 {
                return Err((ErrorCode::CORRUPT_MESSAGE, "not a well-formed v2 batch".to_owned()));
            }
            let (first_offset, last_offset) = (next, next + i64::from(h.last_offset_delta));
            if h.producer_id != NO_PRODUCER_ID {
                let committed = self.producers.get(&h.producer_id);
                // Duplicates first: a retry of one of the last 5 written batches.
                if let Some(dup) = committed.and_then(|e| e.find_duplicate(&batch)) {
                    return Ok(Outcome::Duplicate(dup.first_offset));
                }
                let current = updates.get(&h.producer_id).or(committed);
                let mut entry = current.cloned().unwrap_or(ProducerEntry::EMPTY);
                entry.check_and_update(&batch, committed.is_some(), first_offset, last_offset)?;
                updates.insert(h.producer_id, entry);
            }
            let mut count = 0;
            for rec in batch.records().map_err(corrupt)? {
                let rec = rec.map_err(corrupt)?;
                records.push(Stored {
                    offset: next + count,
                    producer_id: h.producer_id,
                    epoch: h.producer_epoch,
                    sequence: seq_add(h.base_sequence, count),
                    value: rec.value_bytes(),
                    transactional: h.is_transactional(),
                    control: None,
                });
                count += 1;
            }
            if count != i64::from(h.record_count) {
                return Err((ErrorCode::CORRUPT_MESSAGE, "record count mismatch".to_owned()));
            }
            next = last_offset + 1;
        }
        if iter.incomplete().is_some() || records.is_empty() {
            return Err((ErrorCode::CORRUPT_MESSAGE, "truncated or empty records".to_owned()));
        }
        Ok(Outcome::Append { records, updates })
    }
}

impl ProducerEntry {
    /// No state: the producer is unknown here (or was forgotten).
    const EMPTY: ProducerEntry = ProducerEntry { epoch: NO_EPOCH, batches: VecDeque::new() };

    fn find_duplicate(&self, batch: &Batch) -> Option<BatchMeta> {
        let h = &batch.header;
        if h.producer_epoch != self.epoch {
            return None;
        }
        self.batches
            .iter()
            .copied()
            .find(|m| m.first_seq == h.base_sequence && m.last_seq == h.last_sequence())
    }

    /// Kafka's `checkProducerEpoch` then `checkSequence`; on success records
    /// the batch (a new epoch starts a fresh batch window). `self` includes the
    /// request's earlier batches; `committed` says whether the partition had
    /// state for the producer before the request (without, any sequence goes).
    fn check_and_update(
        &mut self,
        batch: &Batch,
        committed: bool,
        first_offset: i64,
        last_offset: i64,
    ) -> Result<(), Refusal> {
        let h = &batch.header;
        let (epoch, first_seq) = (h.producer_epoch, h.base_sequence);
        if epoch < self.epoch {
            let msg = format!("epoch {epoch} is older than the current epoch {}", self.epoch);
            return Err((ErrorCode::INVALID_PRODUCER_EPOCH, msg));
        }
        if epoch != self.epoch {
            if self.epoch != NO_EPOCH && first_seq != 0 {
                let msg = format!("new epoch {epoch} must start at sequence 0, not {first_seq}");
                return Err((ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, msg));
            }
            self.batches.clear();
        } else if let Some(last) = self.batches.back().map(|m| m.last_seq)
            && committed
            && !in_sequence(last, first_seq)
        {
            let msg = format!("sequence {first_seq} does not follow {last} (epoch {epoch})");
            return Err((ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, msg));
        } else if self.batches.is_empty() && committed && self.epoch != NO_EPOCH && first_seq != 0 {
            // A marker bumped the epoch: its first batch starts at 0.
            let msg = format!("the first batch of epoch {epoch} must start at sequence 0, not {first_seq}");
            return Err((ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, msg));
        }
        self.epoch = epoch;
        if self.batches.len() == BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        let last_seq = h.last_sequence();
        self.batches.push_back(BatchMeta { first_seq, last_seq, first_offset, last_offset });
        Ok(())
    }
}

/// The producer id and epoch of `data`'s first batch if it is transactional.
fn transactional_producer(data: &Bytes) -> Option<(i64, i16)> {
    let batch = batches(data.clone(), &DecodeOptions::default()).next()?.ok()?;
    let h = &batch.header;
    h.is_transactional().then_some((h.producer_id, h.producer_epoch))
}

/// Kafka's `inSequence`: `next` follows `last`, 0 following `i32::MAX`.
/// The values of the records of `data` (what decodes of it).
fn record_values(data: &Bytes) -> Vec<Bytes> {
    let mut values = Vec::new();
    for batch in batches(data.clone(), &DecodeOptions::default()).filter_map(Result::ok) {
        if let Ok(records) = batch.records() {
            values.extend(records.filter_map(Result::ok).filter_map(|r| r.value_bytes()));
        }
    }
    values
}

fn in_sequence(last: i32, next: i32) -> bool {
    (last == i32::MAX && next == 0) || i64::from(next) == i64::from(last) + 1
}

/// The sequence `delta` records after `base`, wrapping after `i32::MAX`
/// (-1 stays -1: no idempotence).
fn seq_add(base: i32, delta: i64) -> i32 {
    if base < 0 {
        return base;
    }
    ((i64::from(base) + delta) % (i64::from(i32::MAX) + 1)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use kwire_proto::records::{BatchOptions, RecordBatchBuilder};

    const PID: i64 = 1000;

    fn batch(pid: i64, epoch: i16, seq: i32, values: &[&str]) -> Bytes {
        let mut b = RecordBatchBuilder::new(BatchOptions::default());
        b.set_producer_state(pid, epoch, seq);
        for v in values {
            b.append(1_700_000_000_000, None, Some(v.as_bytes()), &[]).expect("append");
        }
        b.finish().expect("finish").into_bytes()
    }

    fn send(c: &mut SimCluster, broker: i32, topic: &str, p: i32, data: Bytes) -> PartitionProduceResponse {
        let resp = c.produce(broker, &[(Arc::from(topic), p, data)], Instant::now());
        assert_eq!(resp.topics.len(), 1);
        assert_eq!(resp.topics[0].0, topic);
        resp.topics[0].1[0].clone()
    }

    /// Sends one batch to the current leader of t-0; returns (error, base offset).
    fn go(c: &mut SimCluster, epoch: i16, seq: i32, values: &[&str]) -> (ErrorCode, i64) {
        let leader = c.leader("t", 0).expect("leader");
        let r = send(c, leader, "t", 0, batch(PID, epoch, seq, values));
        (r.error_code, r.base_offset)
    }

    fn values(c: &SimCluster) -> Vec<String> {
        let v = c.log("t", 0).iter().map(|r| r.value.clone().unwrap_or_default());
        v.map(|b| String::from_utf8_lossy(&b).into_owned()).collect()
    }

    #[test]
    fn leaders_are_spread() {
        let c = SimCluster::new(3, &[("t", 4), ("u", 1)]);
        let leaders: Vec<_> = (0..4).map(|p| c.leader("t", p)).collect();
        assert_eq!(leaders, [Some(1), Some(2), Some(3), Some(1)]);
        assert_eq!((c.leader("u", 0), c.leader("u", 1), c.leader("x", 0)), (Some(1), None, None));
    }

    #[test]
    fn accepts_in_order_and_appends() {
        let mut c = SimCluster::new(1, &[("t", 1)]);
        assert_eq!(go(&mut c, 0, 0, &["a", "b"]), (ErrorCode::NONE, 0));
        let r = send(&mut c, 1, "t", 0, batch(PID, 0, 2, &["c"]));
        assert_eq!((r.error_code, r.base_offset, r.log_start_offset), (ErrorCode::NONE, 2, 0));
        assert_eq!((r.log_append_time_ms, r.current_leader, r.error_message), (-1, (-1, -1), None));
        let log = c.log("t", 0);
        assert_eq!(log.len(), 3);
        assert_eq!(
            log[2],
            Stored {
                offset: 2,
                producer_id: PID,
                epoch: 0,
                sequence: 2,
                value: Some("c".into()),
                transactional: false,
                control: None
            }
        );
        assert_eq!(log.iter().map(|r| r.sequence).collect::<Vec<_>>(), [0, 1, 2]);
        // A gap in the same epoch is out of order.
        assert_eq!(go(&mut c, 0, 5, &["x"]).0, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        // Non-idempotent batches skip every check.
        assert_eq!(send(&mut c, 1, "t", 0, batch(-1, -1, -1, &["n"])).base_offset, 3);
        assert_eq!(values(&c), ["a", "b", "c", "n"]);
    }

    #[test]
    fn duplicate_within_window_returns_original_offset() {
        let mut c = SimCluster::new(1, &[("t", 1)]);
        for seq in 0..5 {
            assert_eq!(go(&mut c, 0, seq * 2, &["x", "y"]), (ErrorCode::NONE, i64::from(seq) * 2));
        }
        assert_eq!(go(&mut c, 0, 0, &["x", "y"]), (ErrorCode::NONE, 0));
        assert_eq!(go(&mut c, 0, 4, &["x", "y"]), (ErrorCode::NONE, 4));
        assert_eq!(c.log("t", 0).len(), 10);
        // A batch overlapping but not equal to a cached one is out of order.
        assert_eq!(go(&mut c, 0, 4, &["x"]).0, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        c.duplicate_as_error = true;
        assert_eq!(go(&mut c, 0, 8, &["x", "y"]), (ErrorCode::DUPLICATE_SEQUENCE_NUMBER, -1));
        assert_eq!(c.log("t", 0).len(), 10);
    }

    #[test]
    fn duplicate_older_than_five_batches_is_out_of_order() {
        let mut c = SimCluster::new(1, &[("t", 1)]);
        for seq in 0..6 {
            assert_eq!(go(&mut c, 0, seq, &["v"]).0, ErrorCode::NONE);
        }
        assert_eq!(go(&mut c, 0, 0, &["v"]).0, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_eq!(go(&mut c, 0, 1, &["v"]), (ErrorCode::NONE, 1));
        assert_eq!(c.log("t", 0).len(), 6);
    }

    #[test]
    fn older_epoch_is_fenced() {
        let mut c = SimCluster::new(1, &[("t", 1)]);
        assert_eq!(go(&mut c, 3, 0, &["a"]).0, ErrorCode::NONE);
        assert_eq!(go(&mut c, 2, 1, &["b"]).0, ErrorCode::INVALID_PRODUCER_EPOCH);
        // Even a would-be duplicate of the same sequences in an old epoch.
        assert_eq!(go(&mut c, 2, 0, &["a"]).0, ErrorCode::INVALID_PRODUCER_EPOCH);
        assert_eq!(values(&c), ["a"]);
    }

    #[test]
    fn new_epoch_must_start_at_zero() {
        let mut c = SimCluster::new(1, &[("t", 1)]);
        assert_eq!(go(&mut c, 0, 0, &["a", "b", "c"]).0, ErrorCode::NONE);
        assert_eq!(go(&mut c, 1, 3, &["d"]).0, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_eq!(go(&mut c, 1, 0, &["d"]), (ErrorCode::NONE, 3));
        assert_eq!(go(&mut c, 1, 1, &["e"]), (ErrorCode::NONE, 4));
        // The old epoch's batches are no longer duplicates: they are fenced.
        assert_eq!(go(&mut c, 0, 0, &["a", "b", "c"]).0, ErrorCode::INVALID_PRODUCER_EPOCH);
        let epochs: Vec<_> = c.log("t", 0).iter().map(|r| (r.epoch, r.sequence)).collect();
        assert_eq!(epochs, [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]);
    }

    #[test]
    fn no_state_accepts_any_sequence() {
        let mut c = SimCluster::new(1, &[("t", 1)]);
        // The hazard: a partition that never saw the producer takes seq 5...
        assert_eq!(go(&mut c, 0, 5, &["late"]), (ErrorCode::NONE, 0));
        // ...and then the earlier batches can never be written.
        assert_eq!(go(&mut c, 0, 0, &["early"]).0, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_eq!(go(&mut c, 0, 6, &["next"]), (ErrorCode::NONE, 1));
        // Forgetting the producer (retention) reopens it to any sequence, log kept.
        c.forget_producers("t", 0);
        assert_eq!(go(&mut c, 0, 42, &["again"]), (ErrorCode::NONE, 2));
        assert_eq!(go(&mut c, 0, 42, &["again"]), (ErrorCode::NONE, 2));
        assert_eq!(values(&c), ["late", "next", "again"]);
    }

    #[test]
    fn sequence_wraps_after_i32_max() {
        let mut c = SimCluster::new(1, &[("t", 1)]);
        assert_eq!(go(&mut c, 0, i32::MAX - 1, &["a", "b"]).0, ErrorCode::NONE);
        assert_eq!(go(&mut c, 0, 0, &["c"]).0, ErrorCode::NONE);
        let seqs: Vec<_> = c.log("t", 0).iter().map(|r| r.sequence).collect();
        assert_eq!(seqs, [i32::MAX - 1, i32::MAX, 0]);
    }

    #[test]
    fn not_ready_leader_refuses_n_requests() {
        let mut c = SimCluster::new(2, &[("t", 1)]);
        c.set_not_ready("t", 0, 2);
        // A request to a non-leader does not count.
        let r = send(&mut c, 2, "t", 0, batch(PID, 0, 0, &["a"]));
        assert_eq!((r.error_code, r.base_offset), (ErrorCode::NOT_LEADER_OR_FOLLOWER, -1));
        for _ in 0..2 {
            assert_eq!(go(&mut c, 0, 0, &["a"]), (ErrorCode::NOT_LEADER_OR_FOLLOWER, -1));
        }
        assert!(c.log("t", 0).is_empty());
        assert_eq!(go(&mut c, 0, 0, &["a"]), (ErrorCode::NONE, 0));
    }

    #[test]
    fn leader_move_keeps_log_and_producer_state() {
        let mut c = SimCluster::new(3, &[("t", 1)]);
        assert_eq!(go(&mut c, 0, 0, &["a"]).0, ErrorCode::NONE);
        c.move_leader("t", 0, Some(3));
        assert_eq!(c.leader("t", 0), Some(3));
        let r = send(&mut c, 1, "t", 0, batch(PID, 0, 1, &["b"]));
        assert_eq!(r.error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
        // The new leader knows the batch (duplicate) and the next sequence.
        assert_eq!(send(&mut c, 3, "t", 0, batch(PID, 0, 0, &["a"])).base_offset, 0);
        assert_eq!(go(&mut c, 0, 2, &["c"]).0, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_eq!(go(&mut c, 0, 1, &["b"]), (ErrorCode::NONE, 1));
        c.move_leader("t", 0, None);
        assert_eq!(c.leader("t", 0), None);
        for b in 1..=3 {
            let r = send(&mut c, b, "t", 0, batch(PID, 0, 2, &["c"]));
            assert_eq!(r.error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        assert_eq!(values(&c), ["a", "b"]);
    }

    #[test]
    fn invalid_content_is_refused_on_every_attempt_unless_already_written() {
        let mut c = SimCluster::new(1, &[("t", 1)]);
        let first = batch(7, 0, 0, &["a"]);
        assert_eq!(send(&mut c, 1, "t", 0, first.clone()).error_code, ErrorCode::NONE);
        assert!(!c.make_invalid("t", 0, &first), "written content cannot become invalid");
        let second = batch(7, 0, 1, &["b", "c"]);
        assert!(c.make_invalid("t", 0, &second));
        for _ in 0..2 {
            assert_eq!(send(&mut c, 1, "t", 0, second.clone()).error_code, ErrorCode::INVALID_RECORD);
        }
        // The same record in another batch (a new epoch's retry) is refused too.
        assert_eq!(send(&mut c, 1, "t", 0, batch(7, 1, 0, &["c"])).error_code, ErrorCode::INVALID_RECORD);
        assert_eq!(values(&c), vec!["a"]);
    }

    #[test]
    fn corrupt_bytes_are_refused() {
        let mut c = SimCluster::new(1, &[("t", 1)]);
        let good = batch(PID, 0, 0, &["a", "b"]);
        let mut flipped = good.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff; // breaks the CRC
        let mut bad_len = good.to_vec();
        bad_len[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        let cases = [
            Bytes::new(),
            Bytes::from_static(b"garbage"),
            good.slice(..good.len() - 3),
            Bytes::from(flipped),
            Bytes::from(bad_len),
            Bytes::from([good.to_vec(), vec![0; 20]].concat()),
        ];
        for data in cases {
            let r = send(&mut c, 1, "t", 0, data.clone());
            assert_eq!((r.error_code, r.base_offset), (ErrorCode::CORRUPT_MESSAGE, -1), "{data:?}");
        }
        assert!(c.log("t", 0).is_empty());
        // Nothing was recorded: seq 0 is still a first write.
        assert_eq!(send(&mut c, 1, "t", 0, good).error_code, ErrorCode::NONE);
    }

    #[test]
    fn partitions_are_independent_and_grouped_by_topic() {
        let mut c = SimCluster::new(2, &[("a", 2), ("b", 1)]);
        let parts: Vec<(Arc<str>, i32, Bytes)> = vec![
            (Arc::from("a"), 0, batch(PID, 0, 0, &["a0"])),
            (Arc::from("b"), 0, batch(PID, 0, 0, &["b0"])),
            (Arc::from("a"), 1, batch(PID, 0, 0, &["a1"])), // leader is broker 2
            (Arc::from("zz"), 0, batch(PID, 0, 0, &["z"])),
            (Arc::from("b"), 7, batch(PID, 0, 0, &["z"])),
        ];
        let resp = c.produce(1, &parts, Instant::now());
        let got: Vec<_> = resp
            .topics
            .iter()
            .map(|(t, ps)| (t.as_str(), ps.iter().map(|p| (p.partition, p.error_code)).collect::<Vec<_>>()))
            .collect();
        let e = (ErrorCode::NONE, ErrorCode::NOT_LEADER_OR_FOLLOWER, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        assert_eq!(
            got,
            [("a", vec![(0, e.0), (1, e.1)]), ("b", vec![(0, e.0), (7, e.2)]), ("zz", vec![(0, e.2)])]
        );
        assert_eq!((c.log("a", 0).len(), c.log("a", 1).len(), c.log("b", 0).len()), (1, 0, 1));
    }

    #[test]
    fn one_bad_batch_refuses_the_whole_partition() {
        let mut c = SimCluster::new(1, &[("t", 1)]);
        let two = [batch(PID, 0, 0, &["a"]), batch(PID, 0, 1, &["b"])].concat();
        assert_eq!(send(&mut c, 1, "t", 0, Bytes::from(two)).error_code, ErrorCode::NONE);
        let gap = [batch(PID, 0, 2, &["c"]), batch(PID, 0, 4, &["e"])].concat();
        let r = send(&mut c, 1, "t", 0, Bytes::from(gap));
        assert_eq!(r.error_code, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_eq!(values(&c), ["a", "b"]);
        assert_eq!(go(&mut c, 0, 2, &["c"]), (ErrorCode::NONE, 2));
    }
}
