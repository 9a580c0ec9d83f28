//! The sequence/epoch manager: which batch of a partition may be sent next,
//! with which producer id, epoch and sequence, and what every response means
//! for them. Sans-IO: time is an input, outcomes go to [`Reports`].
//!
//! Per partition it keeps the *window*: the batches that have a sequence
//! number and no final outcome yet, in sequence order. The rules, after
//! Kafka's Java producer (`TransactionManager`, `RecordAccumulator`; KIP-98,
//! KIP-360, KIP-890 part 1) and franz-go's `sink.go`:
//!
//! - Sequences are assigned when a batch is first sent. Up to
//!   `max.in.flight.requests.per.connection` batches of a partition are in
//!   flight, all to the same broker — but only one until the partition has
//!   answered OK under its current producer id and epoch (*confirmed*).
//!   A broker with no state for the producer accepts any first sequence, so
//!   a second batch could land before a first one that was turned away
//!   (NOT_LEADER_OR_FOLLOWER on a brand-new partition: KAFKA-14312); one at a
//!   time until the first OK rules that out. Any retriable error drops the
//!   partition back to one at a time.
//! - A batch that failed retriably is retried with the same producer state,
//!   in order: it goes out only when no later batch of its partition is in
//!   flight. A batch behind it is retried too, never failed.
//! - `DUPLICATE_SEQUENCE_NUMBER` is success. `OUT_OF_ORDER_SEQUENCE_NUMBER`
//!   on a batch that is not the first unacknowledged one is retried as is (an
//!   earlier batch will fill the gap); on the first one it means the broker's
//!   state and ours disagree: the partition's epoch is bumped.
//!   `UNKNOWN_PRODUCER_ID` bumps unless the response has no log start offset
//!   or the batch was already re-sequenced. `INVALID_PRODUCER_EPOCH` /
//!   `PRODUCER_FENCED` need a new producer id.
//! - A bump waits until none of the partition's batches is in flight. The
//!   producer's epoch goes up by one (locally, as Kafka's Java producer does
//!   for an idempotent producer; the broker takes a higher epoch that starts
//!   at sequence 0), or a new producer id is fetched when the epoch is
//!   exhausted or fenced. The partition's unacknowledged batches are then
//!   re-sequenced from 0 in their original order — except those a request
//!   may have written (sent, no answer): re-sending them under the new epoch
//!   could write them twice, so they are reported with an unknown outcome.
//!   Other partitions keep their epoch until their own windows are empty.
//! - A batch known not to be written while a later batch of its partition
//!   is acknowledged was *overtaken*: only a broker that lost the producer's
//!   state takes a batch out of sequence, and writing the earlier one now,
//!   as is or re-sequenced, would put it after records sent after it. It
//!   fails at once (OUT_OF_ORDER_SEQUENCE_NUMBER, not written). So does,
//!   at a bump, one with a later batch that may have been written (sent, no
//!   answer): re-sequenced, it would land after that one if it was.
//! - A batch that fails for good (delivery timeout, retries exhausted, a
//!   non-retriable error) leaves a gap: if nothing after it reached the
//!   broker, the later sequences close up; otherwise the partition bumps.
//!   A batch in flight when its delivery timeout passes is reported then
//!   (outcome unknown) and kept in the window until its response, which
//!   still settles the sequence state.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kwire_meta::{RetryAction, classify};
use kwire_proto::ErrorCode;
use kwire_proto::records::BatchOptions;

use crate::batch::{Batch, BatchAck, Fx, Key, Reports, seq_add, split};
use crate::{ProduceError, ProducerConfig};

/// What happened to one partition's batch in a request.
#[derive(Debug)]
pub(crate) enum PartOutcome {
    /// Written (or a duplicate of a written batch).
    Acked(BatchAck),
    /// The broker answered with an error for this partition.
    Error {
        /// The error.
        code: ErrorCode,
        /// The broker's message.
        message: Option<String>,
        /// The partition's log start offset (-1 if the broker didn't know).
        log_start_offset: i64,
    },
    /// Never reached the broker (no connection): safe to retry as is.
    NotSent(String),
    /// Sent, but no answer (timeout, connection lost): it may be written.
    Lost(String),
    /// Retrying can't help (wrong credentials, a broker that broke the protocol).
    Fatal {
        /// The error to report.
        error: ProduceError,
        /// Whether the request may have been written.
        maybe_written: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting to be sent (first time or again).
    Ready,
    /// In the request with this id.
    InFlight(u64),
    /// Acknowledged; kept until the batches before it are.
    Acked,
}

#[derive(Debug)]
struct Slot<D> {
    batch: Batch<D>,
    seq: i32,
    state: State,
    /// Its outcome was reported already (delivery timeout while in flight).
    reported: bool,
    /// Re-sequenced by an epoch bump.
    reset: bool,
}

#[derive(Debug)]
struct PartSeq<D> {
    /// The producer id and epoch this partition's sequences belong to.
    pid: i64,
    epoch: i16,
    next_seq: i32,
    window: VecDeque<Slot<D>>,
    inflight: usize,
    broker: Option<i32>,
    confirmed: bool,
    /// Re-sequence under a newer epoch once nothing is in flight.
    bump: bool,
    /// ... under a new producer id (fenced).
    new_pid: bool,
    retry_at: Option<Instant>,
}

impl<D> PartSeq<D> {
    fn new(confirmed: bool) -> Self {
        PartSeq {
            pid: -1,
            epoch: -1,
            next_seq: 0,
            window: VecDeque::new(),
            inflight: 0,
            broker: None,
            confirmed,
            bump: false,
            new_pid: false,
            retry_at: None,
        }
    }

    /// Whether the batch at `i` was overtaken: known not to be written while
    /// a later batch of the partition is acknowledged. A broker accepts a
    /// batch out of sequence only when it has lost this producer's state
    /// (retention, expiry); once it has, writing this batch, as is or
    /// re-sequenced after a bump, would put it after records sent after it.
    fn overtaken(&self, i: usize) -> bool {
        self.window.get(i).is_some_and(|s| !s.batch.maybe_written)
            && self.window.iter().skip(i + 1).any(|s| s.state == State::Acked)
    }
}

/// The error of an overtaken batch (see [`PartSeq::overtaken`]): a later
/// batch of its partition was written (or, `certain` false, may have been
/// written) before it.
fn overtaken_error(key: &Key, certain: bool) -> ProduceError {
    let (was, would) = if certain { ("was", "would") } else { ("may have been", "could") };
    ProduceError::Broker {
        topic: key.0.to_string(),
        partition: key.1,
        code: ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: Some(format!(
            "a later batch of the partition {was} written before this one (the broker had lost this \
             producer's state); not written, as writing it now {would} break the partition's order"
        )),
    }
}

/// What a partition may send next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Nothing now.
    Nothing,
    /// The window's batch at this index (a retry or a split half).
    Slot(usize),
    /// A new batch from the accumulator, if it has one.
    New,
}

/// Settings the rules need.
#[derive(Debug, Clone)]
struct Limits {
    idempotent: bool,
    /// A transactional producer: its epoch comes from the transaction
    /// coordinator only, so a sequence error fails the batch (the
    /// transaction is then aborted and the epoch bumped there) instead of
    /// bumping the epoch here, and a fenced epoch is final.
    transactional: bool,
    max_in_flight: usize,
    retries: u32,
    delivery_timeout: Duration,
    retry_backoff: Duration,
    retry_backoff_max: Duration,
}

/// The sequence/epoch manager.
pub(crate) struct Sequencer<D> {
    lim: Limits,
    split_opts: BatchOptions,
    pid: i64,
    epoch: i16,
    need_pid: bool,
    parts: HashMap<Key, PartSeq<D>, Fx>,
}

impl<D: Clone> Sequencer<D> {
    pub(crate) fn new(cfg: &ProducerConfig, split_opts: BatchOptions) -> Self {
        Sequencer {
            lim: Limits {
                idempotent: cfg.idempotence,
                transactional: cfg.transactional_id.is_some(),
                max_in_flight: cfg.max_in_flight.max(1),
                retries: cfg.retries,
                delivery_timeout: cfg.delivery_timeout,
                retry_backoff: cfg.retry_backoff,
                retry_backoff_max: cfg.retry_backoff_max,
            },
            split_opts,
            pid: -1,
            epoch: -1,
            need_pid: false,
            parts: HashMap::default(),
        }
    }

    /// The producer id and epoch new batches get.
    pub(crate) fn producer(&self) -> (i64, i16) {
        (self.pid, self.epoch)
    }

    /// A producer id is needed (fenced, or the epoch is exhausted): run
    /// InitProducerId, then [`on_producer_id`](Self::on_producer_id).
    pub(crate) fn needs_producer_id(&self) -> bool {
        self.lim.idempotent && (self.need_pid || self.pid < 0)
    }

    /// A new producer id and epoch from InitProducerId.
    pub(crate) fn on_producer_id(&mut self, pid: i64, epoch: i16) {
        tracing::debug!(producer_id = pid, epoch, "new producer id");
        self.pid = pid;
        self.epoch = epoch;
        self.need_pid = false;
    }

    /// The producer state a batch closing now for `key` will most likely be
    /// sent with (the accumulator adds the records queued before it).
    pub(crate) fn stamp(&self, key: &Key) -> (i64, i16, i32) {
        if !self.lim.idempotent {
            return (-1, -1, -1);
        }
        match self.parts.get(key) {
            Some(p) if (p.pid, p.epoch) == (self.pid, self.epoch) && !p.bump => (p.pid, p.epoch, p.next_seq),
            _ => (self.pid, self.epoch, 0),
        }
    }

    /// Partitions with something in their window (retries, halves, bumps).
    pub(crate) fn busy_keys(&self) -> impl Iterator<Item = &Key> {
        self.parts.iter().filter(|(_, p)| p.window.iter().any(|s| s.state == State::Ready)).map(|(k, _)| k)
    }

    /// Whether `key` has a request in flight and no batch waiting to be
    /// (re)sent: then a batch that is not full can wait for the answer and
    /// go out with more records in it.
    pub(crate) fn awaiting_answer(&self, key: &Key) -> bool {
        self.parts
            .get(key)
            .is_some_and(|p| p.inflight > 0 && !p.window.iter().any(|s| s.state == State::Ready))
    }

    /// When its first waiting batch was created (for oldest-first planning).
    pub(crate) fn oldest_ready(&self, key: &Key) -> Option<Instant> {
        let p = self.parts.get(key)?;
        p.window.iter().find(|s| s.state == State::Ready).map(|s| s.batch.created)
    }

    /// Size of the window's batch at `idx`.
    pub(crate) fn len_at(&self, key: &Key, idx: usize) -> usize {
        self.parts.get(key).and_then(|p| p.window.get(idx)).map_or(0, |s| s.batch.bytes.len())
    }

    /// What `key` may send to `leader` now. Applies a pending epoch bump
    /// when the partition has nothing in flight.
    pub(crate) fn next(&mut self, key: &Key, leader: i32, now: Instant, reports: &mut Reports<D>) -> Next {
        let lim = &self.lim;
        let Some(p) = self.parts.get_mut(key) else {
            return if self.lim.idempotent && (self.need_pid || self.pid < 0) {
                Next::Nothing
            } else {
                Next::New
            };
        };
        if p.retry_at.is_some_and(|t| t > now)
            || (p.inflight > 0 && p.broker != Some(leader))
            || p.inflight >= lim.max_in_flight
            || (p.inflight > 0 && !p.confirmed)
        {
            return Next::Nothing;
        }
        if p.bump && (p.inflight > 0 || !self.apply_bump(key, reports)) {
            return Next::Nothing;
        }
        let Some(p) = self.parts.get(key) else { return Next::Nothing };
        if let Some(i) = p.window.iter().position(|s| s.state == State::Ready) {
            // Retries go in order: never behind a later batch in flight.
            if p.window.iter().skip(i + 1).any(|s| matches!(s.state, State::InFlight(_))) {
                return Next::Nothing;
            }
            return Next::Slot(i);
        }
        if self.lim.idempotent {
            if self.need_pid || self.pid < 0 {
                return Next::Nothing;
            }
            // A partition moves to a newer producer id or epoch only when
            // nothing under the old one is unresolved.
            if (p.pid, p.epoch) != (self.pid, self.epoch) && !p.window.is_empty() {
                return Next::Nothing;
            }
        }
        Next::New
    }

    /// Applies `key`'s pending bump; false while it must wait (for a new
    /// producer id).
    fn apply_bump(&mut self, key: &Key, reports: &mut Reports<D>) -> bool {
        let Some(p) = self.parts.get_mut(key) else { return false };
        if self.need_pid || self.pid < 0 {
            return false;
        }
        if (p.pid, p.epoch) == (self.pid, self.epoch) {
            if p.new_pid || self.epoch == i16::MAX {
                self.need_pid = true;
                return false;
            }
            self.epoch += 1;
            tracing::debug!(
                topic = %key.0,
                partition = key.1,
                producer_id = self.pid,
                epoch = self.epoch,
                "producer epoch bumped"
            );
        }
        p.pid = self.pid;
        p.epoch = self.epoch;
        p.bump = false;
        p.new_pid = false;
        p.confirmed = false;
        let mut seq = 0;
        let mut kept = VecDeque::with_capacity(p.window.len());
        // Re-sent under the new epoch, a batch lands after every batch of the
        // old one the broker has: one with a later batch that was or may have
        // been written (a broker that lost our state takes batches out of
        // sequence) can no longer be written in order.
        let mut later_written = vec![false; p.window.len()];
        let mut seen = false;
        for (i, slot) in p.window.iter().enumerate().rev() {
            later_written[i] = seen;
            seen |= slot.state == State::Acked || slot.batch.maybe_written;
        }
        for (mut slot, later_written) in p.window.drain(..).zip(later_written) {
            if slot.state == State::Acked || slot.reported {
                reports.freed += slot.batch.permits;
                continue;
            }
            if later_written && !slot.batch.maybe_written {
                reports.freed += slot.batch.permits;
                reports.report_batch(slot.batch, Err(overtaken_error(key, false)));
                continue;
            }
            if slot.batch.maybe_written {
                let reason = format!(
                    "sent without an answer ({}), then the partition's sequence numbers had to be reset",
                    slot.batch.last_error.as_deref().unwrap_or("no answer")
                );
                let err = ProduceError::UnknownOutcome { topic: key.0.to_string(), partition: key.1, reason };
                reports.freed += slot.batch.permits;
                reports.report_batch(slot.batch, Err(err));
                continue;
            }
            slot.seq = seq;
            slot.reset = true;
            slot.state = State::Ready;
            seq = seq_add(seq, slot.batch.count());
            kept.push_back(slot);
        }
        p.window = kept;
        p.next_seq = seq;
        true
    }

    /// Gives a new batch its sequence; returns its window index.
    pub(crate) fn admit(&mut self, key: &Key, batch: Batch<D>) -> usize {
        let (gpid, gepoch, idem) = (self.pid, self.epoch, self.lim.idempotent);
        let p = self.parts.entry(key.clone()).or_insert_with(|| PartSeq::new(!idem));
        let seq = if idem {
            if (p.pid, p.epoch) != (gpid, gepoch) {
                p.pid = gpid;
                p.epoch = gepoch;
                p.next_seq = 0;
                p.confirmed = false;
            }
            let s = p.next_seq;
            p.next_seq = seq_add(s, batch.count());
            s
        } else {
            -1
        };
        p.window.push_back(Slot { batch, seq, state: State::Ready, reported: false, reset: false });
        p.window.len() - 1
    }

    /// Marks the window's batch at `idx` as sent in request `req` to
    /// `broker`; returns its bytes, stamped with the partition's state.
    pub(crate) fn send(&mut self, key: &Key, idx: usize, req: u64, broker: i32) -> Option<Bytes> {
        let idem = self.lim.idempotent;
        let p = self.parts.get_mut(key)?;
        let slot = p.window.get_mut(idx)?;
        if idem {
            let want = (p.pid, p.epoch, slot.seq);
            if slot.batch.stamp != want {
                slot.batch.bytes = slot.batch.bytes.with_producer_state(want.0, want.1, want.2);
                slot.batch.stamp = want;
            }
        }
        slot.state = State::InFlight(req);
        slot.batch.attempts += 1;
        p.inflight += 1;
        p.broker = Some(broker);
        Some(slot.batch.bytes.bytes().clone())
    }

    /// Applies the outcome of `key`'s batch in request `req`. Topics whose
    /// metadata should be refreshed are added to `refresh`.
    pub(crate) fn outcome(
        &mut self,
        key: &Key,
        req: u64,
        outcome: PartOutcome,
        now: Instant,
        reports: &mut Reports<D>,
        refresh: &mut Vec<Arc<str>>,
    ) {
        let Some(p) = self.parts.get_mut(key) else { return };
        let Some(i) = p.window.iter().position(|s| s.state == State::InFlight(req)) else { return };
        p.inflight = p.inflight.saturating_sub(1);
        if p.inflight == 0 {
            p.broker = None;
        }
        match outcome {
            PartOutcome::Acked(ack) => self.ack(key, i, ack, reports),
            PartOutcome::NotSent(why) => {
                refresh.push(key.0.clone());
                self.retry(key, i, why, false, now, reports);
            }
            PartOutcome::Lost(why) => {
                refresh.push(key.0.clone());
                self.retry(key, i, why, true, now, reports);
            }
            PartOutcome::Fatal { error, maybe_written } => {
                // A response that broke the protocol: the broker did process
                // the request, so its outcome is unknown.
                let error = if maybe_written {
                    if let Some(slot) = self.parts.get_mut(key).and_then(|p| p.window.get_mut(i)) {
                        slot.batch.maybe_written = true;
                    }
                    ProduceError::UnknownOutcome {
                        topic: key.0.to_string(),
                        partition: key.1,
                        reason: error.to_string(),
                    }
                } else {
                    error
                };
                self.terminal(key, i, error, reports);
            }
            PartOutcome::Error { code, message, log_start_offset } => {
                self.on_error(key, i, code, message, log_start_offset, now, reports, refresh)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_error(
        &mut self,
        key: &Key,
        i: usize,
        code: ErrorCode,
        message: Option<String>,
        log_start_offset: i64,
        now: Instant,
        reports: &mut Reports<D>,
        refresh: &mut Vec<Arc<str>>,
    ) {
        let idem = self.lim.idempotent;
        let Some(p) = self.parts.get_mut(key) else { return };
        let Some(slot) = p.window.get_mut(i) else { return };
        tracing::debug!(
            topic = %key.0,
            partition = key.1,
            producer_id = p.pid,
            epoch = p.epoch,
            base_sequence = slot.seq,
            records = slot.batch.count(),
            attempt = slot.batch.attempts,
            error = %code,
            message = message.as_deref().unwrap_or(""),
            "produce error"
        );
        let describe = format!("{code}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default());
        let txn = self.lim.transactional;
        match code {
            ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED if txn => {
                self.terminal(key, i, ProduceError::Fenced { code, detail: message }, reports)
            }
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER | ErrorCode::UNKNOWN_PRODUCER_ID if txn => {
                let err = ProduceError::Broker { topic: key.0.to_string(), partition: key.1, code, message };
                self.terminal(key, i, err, reports)
            }
            // TV2: the leader could not add the partition to the transaction
            // while the previous one's markers are being written; nothing
            // was appended.
            ErrorCode::CONCURRENT_TRANSACTIONS if txn => {
                self.retry(key, i, describe, false, now, reports);
            }
            ErrorCode::DUPLICATE_SEQUENCE_NUMBER if idem => {
                self.ack(key, i, BatchAck { base_offset: -1, log_append_time: -1 }, reports)
            }
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER if idem => {
                // This try was not written. An earlier try that went without
                // an answer keeps the batch possibly written: the broker may
                // have read it and not yet appended it (a request on a closed
                // connection is still handled), and it is appended as soon as
                // the batches before it are, whatever this answer said. With
                // a later batch acknowledged, this may also be an old
                // duplicate the broker no longer recognises (it keeps a
                // producer's last five batches). Only the epoch bump fences
                // such a try; until then the batch stays unknown.
                if i == 0 {
                    // The first unacknowledged batch: a real gap.
                    p.bump = true;
                }
                self.retry(key, i, describe, false, now, reports);
            }
            ErrorCode::UNKNOWN_PRODUCER_ID if idem => {
                // Kafka's rules: no log start offset yet, or already
                // re-sequenced: retry as is; otherwise the broker lost our
                // state (retention): bump and retry.
                if log_start_offset >= 0 && !slot.reset {
                    p.bump = true;
                }
                self.retry(key, i, describe, false, now, reports);
            }
            ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED if idem => {
                p.bump = true;
                p.new_pid = true;
                self.retry(key, i, describe, false, now, reports);
            }
            ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE => {
                self.split_or_fail(key, i, code, message, now, reports)
            }
            // Written, or maybe written, but not (yet) by every in-sync replica:
            // retrying with the same sequence lets the broker deduplicate.
            ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND | ErrorCode::REQUEST_TIMED_OUT => {
                self.retry(key, i, describe, true, now, reports)
            }
            ErrorCode::TOPIC_AUTHORIZATION_FAILED
            | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
            | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED => {
                let resource = if code == ErrorCode::TOPIC_AUTHORIZATION_FAILED {
                    format!("topic '{}'", key.0)
                } else if code == ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED {
                    "the transactional id".to_owned()
                } else {
                    "the cluster (idempotent write)".to_owned()
                };
                self.terminal(key, i, ProduceError::Authorization { resource, code }, reports)
            }
            _ => match classify(code) {
                RetryAction::Fatal | RetryAction::Done => {
                    let err =
                        ProduceError::Broker { topic: key.0.to_string(), partition: key.1, code, message };
                    self.terminal(key, i, err, reports)
                }
                action => {
                    if action == RetryAction::RefreshMetadata {
                        refresh.push(key.0.clone());
                    }
                    self.retry(key, i, describe, false, now, reports)
                }
            },
        }
    }

    fn ack(&mut self, key: &Key, i: usize, ack: BatchAck, reports: &mut Reports<D>) {
        let Some(p) = self.parts.get_mut(key) else { return };
        let Some(slot) = p.window.get_mut(i) else { return };
        slot.state = State::Acked;
        if !slot.reported {
            slot.reported = true;
            let b = &slot.batch;
            reports.report(b.delivery.clone(), b.first, b.count() as u32, Ok(ack));
        }
        p.confirmed = true;
        // Earlier batches waiting for a retry can no longer be written in order.
        if self.lim.idempotent {
            let overtaken: Vec<usize> =
                (0..i).rev().filter(|&j| p.window[j].state == State::Ready && p.overtaken(j)).collect();
            for j in overtaken {
                self.terminal(key, j, overtaken_error(key, true), reports);
            }
        }
        let Some(p) = self.parts.get_mut(key) else { return };
        while p.window.front().is_some_and(|s| s.state == State::Acked) {
            if let Some(s) = p.window.pop_front() {
                reports.freed += s.batch.permits;
            }
        }
    }

    /// Puts the batch at `i` back to be sent again, unless its time or
    /// retries ran out.
    fn retry(
        &mut self,
        key: &Key,
        i: usize,
        why: String,
        maybe_written: bool,
        now: Instant,
        r: &mut Reports<D>,
    ) {
        let lim = self.lim.clone();
        let Some(p) = self.parts.get_mut(key) else { return };
        let Some(slot) = p.window.get_mut(i) else { return };
        slot.batch.maybe_written |= maybe_written;
        slot.state = State::Ready;
        p.confirmed = !lim.idempotent;
        if lim.idempotent && p.overtaken(i) {
            return self.terminal(key, i, overtaken_error(key, true), r);
        }
        let Some(slot) = p.window.get_mut(i) else { return };
        let b = &mut slot.batch;
        tracing::debug!(topic = %key.0, partition = key.1, attempt = b.attempts, error = %why, "retrying batch");
        b.last_error = Some(why);
        let (written, last) = (b.maybe_written, b.last_error.clone().unwrap_or_default());
        if slot.reported || b.created + lim.delivery_timeout <= now {
            let err = ProduceError::Timeout {
                topic: key.0.to_string(),
                partition: key.1,
                timeout: lim.delivery_timeout,
                last: Some(last),
                maybe_written: written,
            };
            return self.terminal(key, i, err, r);
        }
        if b.attempts > lim.retries {
            let err = ProduceError::RetriesExhausted {
                topic: key.0.to_string(),
                partition: key.1,
                retries: lim.retries,
                last,
                maybe_written: written,
            };
            return self.terminal(key, i, err, r);
        }
        let backoff = lim.retry_backoff.saturating_mul(1u32 << b.attempts.min(16)).min(lim.retry_backoff_max);
        let at = now + backoff;
        p.retry_at = Some(p.retry_at.map_or(at, |t| t.max(at)));
    }

    /// The batch at `i` fails for good with `err` (unless reported already).
    /// Its sequence range becomes a gap: later batches that never reached
    /// the broker close it up; otherwise the partition bumps its epoch.
    fn terminal(&mut self, key: &Key, i: usize, err: ProduceError, reports: &mut Reports<D>) {
        let idem = self.lim.idempotent;
        let Some(p) = self.parts.get_mut(key) else { return };
        let Some(slot) = p.window.remove(i) else { return };
        reports.freed += slot.batch.permits;
        let b = slot.batch;
        let count = b.count();
        if !slot.reported {
            // An earlier try went unanswered: this answer doesn't tell
            // whether that one was written.
            let err = if b.maybe_written && !err.maybe_written() {
                let reason = format!("{err}, after an earlier try went unanswered");
                ProduceError::UnknownOutcome { topic: key.0.to_string(), partition: key.1, reason }
            } else {
                err
            };
            reports.report(b.delivery, b.first, count as u32, Err(err));
        }
        if !idem {
            return;
        }
        let later_sent = p.window.iter().skip(i).any(|s| s.batch.attempts > 0);
        if b.maybe_written || later_sent || p.bump {
            p.bump = true;
        } else {
            let mut seq = slot.seq;
            for later in p.window.iter_mut().skip(i) {
                later.seq = seq;
                seq = seq_add(seq, later.batch.count());
            }
            p.next_seq = seq;
        }
    }

    fn split_or_fail(
        &mut self,
        key: &Key,
        i: usize,
        code: ErrorCode,
        message: Option<String>,
        now: Instant,
        reports: &mut Reports<D>,
    ) {
        let opts = self.split_opts.clone();
        let Some(p) = self.parts.get_mut(key) else { return };
        let Some(slot) = p.window.get(i) else { return };
        let too_large = |detail: String| ProduceError::Broker {
            topic: key.0.to_string(),
            partition: key.1,
            code,
            message: Some(format!(
                "{detail}{}",
                message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
            )),
        };
        if slot.batch.count() <= 1 || slot.reported {
            let err = too_large(format!(
                "record of {} bytes is larger than the topic's max.message.bytes",
                slot.batch.bytes.len()
            ));
            return self.terminal(key, i, err, reports);
        }
        match split(&slot.batch.bytes, opts) {
            Ok((a, b)) => {
                let Some(slot) = p.window.remove(i) else { return };
                let old = slot.batch;
                let half = a.record_count();
                let mk = |bytes, first, permits| Batch {
                    bytes,
                    delivery: old.delivery.clone(),
                    first,
                    created: old.created,
                    permits,
                    attempts: old.attempts,
                    last_error: Some(code.to_string()),
                    maybe_written: false,
                    stamp: (-1, -1, -1),
                };
                let second = Slot {
                    batch: mk(b, old.first + half as u32, 0),
                    seq: if slot.seq >= 0 { seq_add(slot.seq, half) } else { -1 },
                    state: State::Ready,
                    reported: false,
                    reset: slot.reset,
                };
                let first = Slot {
                    batch: mk(a, old.first, old.permits),
                    seq: slot.seq,
                    state: State::Ready,
                    reported: false,
                    reset: slot.reset,
                };
                p.window.insert(i, second);
                p.window.insert(i, first);
                reports.outstanding += 1;
                p.confirmed = !self.lim.idempotent;
                p.retry_at = Some(now);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot split a batch");
                let err = too_large("the batch is too large and could not be split".to_owned());
                self.terminal(key, i, err, reports);
            }
        }
    }

    /// Reports every batch whose `delivery.timeout.ms` has passed: a waiting
    /// one fails for good; one in flight is reported now (it may be
    /// written) and settled when its response comes.
    pub(crate) fn expire(&mut self, now: Instant, reports: &mut Reports<D>) {
        let timeout = self.lim.delivery_timeout;
        let keys: Vec<Key> = self
            .parts
            .iter()
            .filter(|(_, p)| p.window.iter().any(|s| !s.reported && s.batch.created + timeout <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            let expired = |p: &PartSeq<D>| {
                p.window.iter().position(|s| !s.reported && s.batch.created + timeout <= now)
            };
            while let Some((p, i)) = self.parts.get_mut(&key).and_then(|p| expired(p).map(|i| (p, i))) {
                let broker = p.broker;
                let slot = &mut p.window[i];
                // In flight with no error yet: say whose answer is missing.
                let unanswered = match (slot.state, broker) {
                    (State::InFlight(_), Some(b)) => Some(format!("no answer from broker {b} yet")),
                    (State::InFlight(_), None) => Some("no answer yet".to_owned()),
                    _ => None,
                };
                let err = ProduceError::Timeout {
                    topic: key.0.to_string(),
                    partition: key.1,
                    timeout,
                    last: slot.batch.last_error.clone().or(unanswered),
                    maybe_written: slot.batch.maybe_written || matches!(slot.state, State::InFlight(_)),
                };
                match slot.state {
                    State::InFlight(_) => {
                        slot.reported = true;
                        let b = &slot.batch;
                        reports.report(b.delivery.clone(), b.first, b.count() as u32, Err(err));
                    }
                    _ => self.terminal(&key, i, err, reports),
                }
            }
        }
    }

    /// Why a partition's later batches wait, if an earlier batch of it is
    /// still unanswered or being retried (a new partition sends one batch
    /// until its first OK; with linger.ms=0 a batch that is not full waits
    /// for the partition's answer): for the error of a batch that expires
    /// unsent, which would otherwise blame the leader.
    pub(crate) fn held_by(&self, key: &Key) -> Option<String> {
        let slot = self.parts.get(key)?.window.iter().find(|s| s.state != State::Acked)?;
        Some(match &slot.batch.last_error {
            Some(e) => {
                format!("not sent: waiting for an earlier batch of the partition (its last error: {e})")
            }
            None => "not sent: waiting for an earlier batch of the partition".to_owned(),
        })
    }

    /// Earliest future retry or delivery deadline.
    pub(crate) fn next_wake(&self, at: &mut impl FnMut(Instant)) {
        for p in self.parts.values() {
            if let Some(t) = p.retry_at {
                at(t);
            }
            if let Some(s) = p.window.iter().find(|s| !s.reported && s.state != State::Acked) {
                at(s.batch.created + self.lim.delivery_timeout);
            }
        }
    }

    /// Reports every batch with `err` (the producer shuts down or lost its
    /// producer id); those that may have been written say so.
    pub(crate) fn abort_all(&mut self, err: &ProduceError, reports: &mut Reports<D>) {
        for (key, p) in self.parts.iter_mut() {
            for slot in p.window.drain(..) {
                reports.freed += slot.batch.permits;
                if slot.reported || slot.state == State::Acked {
                    continue;
                }
                let b = slot.batch;
                let e = if b.maybe_written || matches!(slot.state, State::InFlight(_)) {
                    ProduceError::UnknownOutcome {
                        topic: key.0.to_string(),
                        partition: key.1,
                        reason: err.to_string(),
                    }
                } else {
                    err.clone()
                };
                reports.report_batch(b, Err(e));
            }
            p.inflight = 0;
            p.broker = None;
        }
    }

    /// Batches of `key` without a final outcome (tests).
    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn unresolved(&self, key: &Key) -> usize {
        self.parts.get(key).map_or(0, |p| p.window.len())
    }

    #[cfg(test)]
    pub(crate) fn debug_state(&self, key: &Key) -> Option<(i64, i16, i32, bool, bool)> {
        self.parts.get(key).map(|p| (p.pid, p.epoch, p.next_seq, p.confirmed, p.bump))
    }
}
