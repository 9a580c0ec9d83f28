//! The producer's sans-IO core: per-partition accumulation, batch closing,
//! sequence numbers, request planning, and what to do with every response.
//!
//! No sockets here: the driver task in `producer.rs` asks [`Engine::drain`]
//! for requests to send, hands back their outcomes with
//! [`Engine::on_response`], and runs InitProducerId when the engine asks for
//! an epoch bump. Time is an input, so tests run on tokio's paused clock.
//!
//! Ordering and exactly-once (idempotence on):
//! - sequence numbers are assigned when a batch closes, in order per partition;
//! - up to `max.in.flight` batches per partition are in flight; when one comes
//!   back with a retriable error, it and every later batch of that partition
//!   go back to the queue in their original order, and retried batches are
//!   sent one at a time until the partition has caught up;
//! - a batch whose outcome is unknown (disconnect, timeout) is retried with
//!   the same producer id, epoch and sequence, so the broker drops it if it
//!   was in fact written;
//! - the epoch is bumped (InitProducerId) only when sequences can't continue
//!   (OUT_OF_ORDER_SEQUENCE_NUMBER on the first batch in line,
//!   UNKNOWN_PRODUCER_ID, an expired batch that had been sent, a split); a
//!   queued batch whose outcome is unknown is then failed rather than re-sent
//!   under the new epoch, where the broker could no longer recognise it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kwire_conn::ConnError;
use kwire_meta::{RetryAction, classify};
use kwire_proto::ErrorCode;
use kwire_proto::msg::produce::ProduceResponse;
use kwire_proto::records::{
    Append, BatchOptions, DecodeOptions, EncodedBatch, Header, RecordBatchBuilder, batches,
};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{ProduceError, ProducerConfig};

/// Topic and partition.
pub(crate) type Key = (Arc<str>, i32);

/// A fast non-cryptographic hasher (FxHash's multiply-rotate) for the maps
/// hit once per record; keys are topic names and partitions, not attacker input.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_i32(&mut self, n: i32) {
        self.write_u64(n as u32 as u64);
    }
    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type Fx = std::hash::BuildHasherDefault<FxHasher>;

/// What the broker said about a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchAck {
    pub base_offset: i64,
    pub log_append_time: i64,
}

#[derive(Debug)]
struct Segment {
    first: u32,
    count: u32,
    result: Option<Result<BatchAck, ProduceError>>,
}

#[derive(Debug, Default)]
struct SharedState {
    segments: Vec<Segment>,
    pending: usize,
}

/// Completion state shared by every record of one batch (and of the batches
/// it may be split into): one allocation per batch, not per record.
#[derive(Debug, Default)]
pub(crate) struct BatchShared {
    state: Mutex<SharedState>,
    pub(crate) notify: Notify,
}

impl BatchShared {
    fn new() -> Arc<Self> {
        Arc::new(BatchShared::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SharedState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The outcome for record `index`, once its segment has one.
    pub(crate) fn result(&self, index: u32) -> Option<Result<(BatchAck, u32), ProduceError>> {
        let st = self.lock();
        let seg = st.segments.iter().find(|s| index >= s.first && index < s.first + s.count)?;
        match seg.result.as_ref()? {
            Ok(ack) => Some(Ok((*ack, index - seg.first))),
            Err(e) => Some(Err(e.clone())),
        }
    }

    fn add_segment(&self, first: u32, count: u32) {
        let mut st = self.lock();
        st.segments.push(Segment { first, count, result: None });
        st.pending += 1;
    }

    fn split_segment(&self, first: u32, at: u32) {
        let mut st = self.lock();
        if let Some(i) = st.segments.iter().position(|s| s.first == first) {
            let count = st.segments[i].count;
            st.segments[i].count = at;
            st.segments.push(Segment { first: first + at, count: count - at, result: None });
            st.pending += 1;
        }
    }

    /// Records the outcome of the segment starting at `first`; true when this
    /// completed the whole batch.
    fn complete(&self, first: u32, result: Result<BatchAck, ProduceError>) -> bool {
        let all_done = {
            let mut st = self.lock();
            let Some(seg) = st.segments.iter_mut().find(|s| s.first == first && s.result.is_none()) else {
                return false;
            };
            seg.result = Some(result);
            st.pending -= 1;
            st.pending == 0
        };
        if all_done {
            self.notify.notify_waiters();
        }
        all_done
    }
}

struct Open {
    created: Instant,
    shared: Arc<BatchShared>,
    permits: usize,
}

/// A closed batch, queued or in flight.
pub(crate) struct Closed {
    pub(crate) batch: EncodedBatch,
    shared: Arc<BatchShared>,
    seg_first: u32,
    order: u64,
    created: Instant,
    base_seq: i32,
    epoch: i16,
    attempts: u32,
    sent: bool,
    maybe_written: bool,
    last_error: Option<String>,
    permits: usize,
}

struct Part {
    builder: RecordBatchBuilder,
    open: Option<Open>,
    queue: VecDeque<Closed>,
    inflight: usize,
    next_seq: i32,
    /// The next sequence the broker expects when everything sent so far was acked.
    acked_seq: i32,
    retry_at: Option<Instant>,
}

/// A planned ProduceRequest: the batches it carries are owned by it while in flight.
pub(crate) struct Request {
    pub(crate) broker: i32,
    pub(crate) batches: Vec<(Key, Closed)>,
}

/// What [`Engine::drain`] wants done.
#[derive(Default)]
pub(crate) struct Drained {
    pub(crate) requests: Vec<Request>,
    /// Run InitProducerId, then call [`Engine::on_producer`].
    pub(crate) need_bump: bool,
    /// Topics whose leaders are unknown or stale.
    pub(crate) refresh: Vec<Arc<str>>,
}

/// Result of one append attempt.
pub(crate) enum Appended {
    /// In the batch: the record's future is `(batch, index)`.
    Done(Arc<BatchShared>, u32),
    /// No open batch: reserve this many bytes of `buffer.memory`, then
    /// [`Engine::open_batch`] and try again.
    NeedBatch(usize),
}

/// The producer core.
pub(crate) struct Engine {
    cfg: ProducerConfig,
    topics: HashSet<Arc<str>, Fx>,
    parts: HashMap<Key, Part, Fx>,
    /// A batch was closed since the driver last looked.
    pub(crate) closed_hint: bool,
    producer_id: i64,
    epoch: i16,
    bump_needed: bool,
    broker_inflight: HashMap<i32, usize>,
    flushing: bool,
    outstanding: usize,
    freed: usize,
    next_order: u64,
}

impl Engine {
    pub(crate) fn new(cfg: ProducerConfig) -> Self {
        Engine {
            cfg,
            topics: HashSet::default(),
            parts: HashMap::default(),
            closed_hint: false,
            producer_id: -1,
            epoch: -1,
            bump_needed: false,
            broker_inflight: HashMap::new(),
            flushing: false,
            outstanding: 0,
            freed: 0,
            next_order: 0,
        }
    }

    /// The interned key of `topic`/`partition`.
    pub(crate) fn key(&mut self, topic: &str, partition: i32) -> Key {
        let arc = match self.topics.get(topic) {
            Some(a) => a.clone(),
            None => {
                let a: Arc<str> = Arc::from(topic);
                self.topics.insert(a.clone());
                a
            }
        };
        (arc, partition)
    }

    fn idempotent(&self) -> bool {
        self.cfg.idempotence
    }

    /// Batches created and not yet completed.
    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Bytes of `buffer.memory` released since the last call.
    pub(crate) fn take_freed(&mut self) -> usize {
        std::mem::take(&mut self.freed)
    }

    /// Sends everything buffered without waiting for `linger.ms` until unset.
    pub(crate) fn set_flushing(&mut self, on: bool) {
        self.flushing = on;
    }

    /// The current producer id and epoch.
    pub(crate) fn producer(&self) -> (i64, i16) {
        (self.producer_id, self.epoch)
    }

    fn batch_options(&self) -> BatchOptions {
        BatchOptions::default()
            .compression(self.cfg.compression)
            .compression_level(self.cfg.compression_level)
            .max_batch_bytes(self.cfg.batch_size)
    }

    /// Appends one record to `key`'s open batch (closing it when full).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn try_append(
        &mut self,
        key: &Key,
        timestamp: i64,
        rkey: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        now: Instant,
    ) -> Result<Appended, ProduceError> {
        let need =
            RecordBatchBuilder::size_upper_bound(rkey, value, headers) + kwire_proto::records::V2_HEADER_SIZE;
        if need > self.cfg.max_request_size {
            return Err(ProduceError::RecordTooLarge {
                size: need,
                limit: self.cfg.max_request_size,
                setting: "max.request.size",
            });
        }
        if need > self.cfg.buffer_memory {
            return Err(ProduceError::RecordTooLarge {
                size: need,
                limit: self.cfg.buffer_memory,
                setting: "buffer.memory",
            });
        }
        let opts = self.batch_options();
        let part = self.parts.entry(key.clone()).or_insert_with(|| Part {
            builder: RecordBatchBuilder::new(opts),
            open: None,
            queue: VecDeque::new(),
            inflight: 0,
            next_seq: 0,
            acked_seq: 0,
            retry_at: None,
        });
        let Some(open) = part.open.as_ref() else {
            return Ok(Appended::NeedBatch(need.max(self.cfg.batch_size)));
        };
        let shared = open.shared.clone();
        match part.builder.try_append(timestamp, rkey, value, headers)? {
            Append::Appended => {
                let index = (part.builder.len() - 1) as u32;
                if part.builder.estimated_size() >= self.cfg.batch_size {
                    self.close(key, now)?;
                }
                Ok(Appended::Done(shared, index))
            }
            Append::Full => {
                self.close(key, now)?;
                Ok(Appended::NeedBatch(need.max(self.cfg.batch_size)))
            }
        }
    }

    /// Opens a batch for `key` with `permits` bytes reserved. Returns false
    /// (the caller gives the bytes back) if another caller opened one first.
    pub(crate) fn open_batch(&mut self, key: &Key, permits: usize, now: Instant) -> bool {
        let Some(part) = self.parts.get_mut(key) else { return false };
        if part.open.is_some() {
            return false;
        }
        part.open = Some(Open { created: now, shared: BatchShared::new(), permits });
        self.outstanding += 1;
        true
    }

    /// Closes `key`'s open batch: stamps producer id, epoch and sequence,
    /// compresses, and queues it.
    fn close(&mut self, key: &Key, _now: Instant) -> Result<(), ProduceError> {
        let idempotent = self.idempotent();
        let (pid, epoch) = (self.producer_id, self.epoch);
        let Some(part) = self.parts.get_mut(key) else { return Ok(()) };
        let Some(open) = part.open.take() else { return Ok(()) };
        if part.builder.is_empty() {
            // Nothing was appended (the first append failed): give the batch back.
            self.outstanding -= 1;
            self.freed += open.permits;
            return Ok(());
        }
        let base_seq = if idempotent { part.next_seq } else { -1 };
        if idempotent {
            part.builder.set_producer_state(pid, epoch, base_seq);
        }
        let batch = part.builder.finish()?;
        let count = batch.record_count();
        if idempotent {
            part.next_seq = seq_add(part.next_seq, count);
        }
        open.shared.add_segment(0, count as u32);
        let order = self.next_order;
        self.next_order += 1;
        self.closed_hint = true;
        part.queue.push_back(Closed {
            batch,
            shared: open.shared,
            seg_first: 0,
            order,
            created: open.created,
            base_seq,
            epoch,
            attempts: 0,
            sent: false,
            maybe_written: false,
            last_error: None,
            permits: open.permits,
        });
        Ok(())
    }

    /// When the driver should next call [`drain`](Self::drain) even without
    /// news (a response, a new batch): the earliest future linger, backoff or
    /// delivery deadline. Deadlines already past don't count: whatever they
    /// allowed is waiting for something else (a response), and counting them
    /// would spin the driver.
    pub(crate) fn next_wake(&self, now: Instant) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Instant| {
            if x > now {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for part in self.parts.values() {
            if let Some(o) = &part.open {
                at(o.created + self.cfg.linger);
                at(o.created + self.cfg.delivery_timeout);
            }
            if let Some(front) = part.queue.front() {
                if let Some(r) = part.retry_at {
                    at(r);
                }
                at(front.created + self.cfg.delivery_timeout);
            }
        }
        t
    }

    fn backoff(&self, attempts: u32) -> Duration {
        self.cfg.retry_backoff.saturating_mul(1u32 << attempts.min(16)).min(self.cfg.retry_backoff_max)
    }

    /// Expires old batches, closes lingering ones, and plans requests.
    pub(crate) fn drain(&mut self, now: Instant, leader_of: &dyn Fn(&str, i32) -> Option<i32>) -> Drained {
        let mut out = Drained::default();
        self.expire(now);
        let keys: Vec<Key> = self.parts.keys().cloned().collect();
        for key in &keys {
            let due = self
                .parts
                .get(key)
                .and_then(|p| p.open.as_ref())
                .is_some_and(|o| self.flushing || o.created + self.cfg.linger <= now);
            if due {
                if let Err(e) = self.close(key, now) {
                    tracing::warn!(error = %e, "closing a batch failed");
                }
            }
        }
        let total_inflight: usize = self.broker_inflight.values().sum();
        if self.bump_needed {
            out.need_bump = total_inflight == 0;
            return out;
        }
        // Candidates per broker, oldest batches first.
        let mut by_broker: HashMap<i32, Vec<Key>> = HashMap::new();
        let mut refresh: Vec<Arc<str>> = Vec::new();
        for (key, part) in &self.parts {
            if part.queue.is_empty() || part.retry_at.is_some_and(|r| r > now) {
                continue;
            }
            match leader_of(&key.0, key.1) {
                Some(b) if b >= 0 => by_broker.entry(b).or_default().push(key.clone()),
                _ => {
                    if !refresh.contains(&key.0) {
                        refresh.push(key.0.clone());
                    }
                }
            }
        }
        out.refresh = refresh;
        for (broker, mut keys) in by_broker {
            keys.sort_by_key(|k| {
                self.parts.get(k).and_then(|p| p.queue.front()).map_or(u64::MAX, |c| c.order)
            });
            loop {
                if self.broker_inflight.get(&broker).copied().unwrap_or(0) >= self.cfg.max_in_flight {
                    break;
                }
                let mut req = Request { broker, batches: Vec::new() };
                let mut size = 0usize;
                for key in &keys {
                    let sendable = self.parts.get(key).is_some_and(|p| self.can_send(p));
                    if !sendable {
                        continue;
                    }
                    let (pid, epoch, idem) = (self.producer_id, self.epoch, self.idempotent());
                    let Some(part) = self.parts.get_mut(key) else { continue };
                    let len = part.queue.front().map_or(0, |c| c.batch.len());
                    if !req.batches.is_empty() && size + len > self.cfg.max_request_size {
                        continue;
                    }
                    let Some(mut c) = part.queue.pop_front() else { continue };
                    if idem && c.epoch != epoch {
                        c.batch = c.batch.with_producer_state(pid, epoch, c.base_seq);
                        c.epoch = epoch;
                    }
                    c.sent = true;
                    c.attempts += 1;
                    part.inflight += 1;
                    size += len;
                    req.batches.push((key.clone(), c));
                }
                if req.batches.is_empty() {
                    break;
                }
                *self.broker_inflight.entry(broker).or_insert(0) += 1;
                out.requests.push(req);
            }
        }
        out
    }

    fn can_send(&self, part: &Part) -> bool {
        let Some(front) = part.queue.front() else { return false };
        if self.idempotent() && front.sent {
            // A retried batch goes alone, so nothing overtakes it.
            return part.inflight == 0;
        }
        part.inflight < self.cfg.max_in_flight
    }

    fn expire(&mut self, now: Instant) {
        let timeout = self.cfg.delivery_timeout;
        let idempotent = self.idempotent();
        let mut failed: Vec<(Key, Closed)> = Vec::new();
        let mut bump = false;
        let mut expired_open: Vec<(Key, Open, u32)> = Vec::new();
        for (key, part) in self.parts.iter_mut() {
            if part.open.as_ref().is_some_and(|o| o.created + timeout <= now) {
                // A batch that never got closed (no leader to send to) was never sent.
                if let Some(open) = part.open.take() {
                    let count = part.builder.len() as u32;
                    let _ = part.builder.finish();
                    expired_open.push((key.clone(), open, count));
                }
            }
            while part.queue.front().is_some_and(|c| c.created + timeout <= now) {
                if let Some(c) = part.queue.pop_front() {
                    if idempotent && c.sent {
                        bump = true;
                    }
                    failed.push((key.clone(), c));
                }
            }
        }
        for (key, open, count) in expired_open {
            let err = ProduceError::Timeout {
                topic: key.0.to_string(),
                partition: key.1,
                timeout,
                last: Some("no leader to send to".to_owned()),
                maybe_written: false,
            };
            open.shared.add_segment(0, count.max(1));
            if open.shared.complete(0, Err(err)) {
                self.outstanding = self.outstanding.saturating_sub(1);
            }
            self.freed += open.permits;
        }
        for (key, c) in failed {
            let err = ProduceError::Timeout {
                topic: key.0.to_string(),
                partition: key.1,
                timeout,
                last: c.last_error.clone(),
                maybe_written: c.maybe_written,
            };
            self.finish(c, Err(err));
        }
        if bump {
            self.bump_needed = true;
        }
    }

    fn finish(&mut self, c: Closed, result: Result<BatchAck, ProduceError>) {
        if c.shared.complete(c.seg_first, result) {
            self.outstanding = self.outstanding.saturating_sub(1);
        }
        self.freed += c.permits;
    }

    /// Handles the outcome of a request planned by [`drain`](Self::drain).
    /// `Ok(None)` means acks=0 (written to the socket, no answer).
    pub(crate) fn on_response(
        &mut self,
        req: Request,
        result: Result<Option<ProduceResponse>, ConnError>,
        now: Instant,
    ) -> Vec<Arc<str>> {
        let mut refresh = Vec::new();
        if let Some(n) = self.broker_inflight.get_mut(&req.broker) {
            *n = n.saturating_sub(1);
        }
        for (key, c) in req.batches {
            if let Some(p) = self.parts.get_mut(&key) {
                p.inflight = p.inflight.saturating_sub(1);
            }
            let resp = match &result {
                Err(e) if e.is_fatal() => {
                    // Wrong credentials or certificates, or a broker that broke
                    // the protocol: retrying can't help.
                    self.finish(c, Err(ProduceError::Conn(e.clone())));
                    continue;
                }
                Err(e) => {
                    let msg = e.to_string();
                    refresh.push(key.0.clone());
                    self.retry(&key, c, msg, true, now);
                    continue;
                }
                Ok(None) => {
                    self.ack(&key, c, BatchAck { base_offset: -1, log_append_time: -1 });
                    continue;
                }
                Ok(Some(r)) => r,
            };
            let found = resp
                .topics
                .iter()
                .filter(|(t, _)| t.as_str() == &*key.0)
                .flat_map(|(_, ps)| ps.iter())
                .find(|p| p.partition == key.1);
            let Some(p) = found else {
                self.retry(&key, c, "the broker did not answer for this partition".to_owned(), true, now);
                continue;
            };
            let code = p.error_code;
            let message =
                p.error_message.clone().or_else(|| p.record_errors.first().and_then(|(_, m)| m.clone()));
            let describe =
                || format!("{code}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default());
            match code {
                ErrorCode::NONE => self.ack(
                    &key,
                    c,
                    BatchAck { base_offset: p.base_offset, log_append_time: p.log_append_time_ms },
                ),
                ErrorCode::DUPLICATE_SEQUENCE_NUMBER => {
                    self.ack(&key, c, BatchAck { base_offset: -1, log_append_time: -1 })
                }
                ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER if self.idempotent() => {
                    let first_in_line = self.parts.get(&key).is_some_and(|p| p.acked_seq == c.base_seq);
                    if first_in_line {
                        // The broker lost track of us: this batch fails, the epoch is bumped.
                        self.bump_needed = true;
                        self.fail(&key, c, code, message);
                    } else {
                        self.retry(&key, c, describe(), false, now);
                    }
                }
                ErrorCode::UNKNOWN_PRODUCER_ID | ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode(90)
                    if self.idempotent() =>
                {
                    self.bump_needed = true;
                    self.retry(&key, c, describe(), false, now);
                }
                ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE => {
                    self.split_or_fail(&key, c, code, message, now);
                }
                ErrorCode::REQUEST_TIMED_OUT | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND => {
                    self.retry(&key, c, describe(), true, now);
                }
                _ => match classify(code) {
                    RetryAction::Fatal | RetryAction::Done => self.fail(&key, c, code, message),
                    action => {
                        if action == RetryAction::RefreshMetadata {
                            refresh.push(key.0.clone());
                        }
                        self.retry(&key, c, describe(), false, now);
                    }
                },
            }
        }
        refresh
    }

    fn ack(&mut self, key: &Key, c: Closed, ack: BatchAck) {
        if let Some(p) = self.parts.get_mut(key) {
            // Advance only contiguously (responses can arrive out of order
            // across reconnects).
            if c.base_seq >= 0 && c.epoch == self.epoch && c.base_seq == p.acked_seq {
                p.acked_seq = seq_add(c.base_seq, c.batch.record_count());
            }
        }
        self.finish(c, Ok(ack));
    }

    fn fail(&mut self, key: &Key, c: Closed, code: ErrorCode, message: Option<String>) {
        let err = ProduceError::Broker { topic: key.0.to_string(), partition: key.1, code, message };
        self.finish(c, Err(err));
    }

    /// Puts `c` back in its partition's queue, in order, unless time or
    /// retries ran out.
    fn retry(&mut self, key: &Key, mut c: Closed, error: String, maybe_written: bool, now: Instant) {
        tracing::debug!(topic = %key.0, partition = key.1, attempts = c.attempts, %error, "retrying batch");
        c.last_error = Some(error);
        c.maybe_written |= maybe_written;
        if c.created + self.cfg.delivery_timeout <= now || c.attempts > self.cfg.retries {
            if self.idempotent() && c.sent {
                self.bump_needed = true;
            }
            let err = if c.attempts > self.cfg.retries {
                ProduceError::Broker {
                    topic: key.0.to_string(),
                    partition: key.1,
                    code: ErrorCode::NONE,
                    message: Some(format!(
                        "retries ({}) exhausted; last error: {}",
                        self.cfg.retries,
                        c.last_error.as_deref().unwrap_or("")
                    )),
                }
            } else {
                ProduceError::Timeout {
                    topic: key.0.to_string(),
                    partition: key.1,
                    timeout: self.cfg.delivery_timeout,
                    last: c.last_error.clone(),
                    maybe_written: c.maybe_written,
                }
            };
            self.finish(c, Err(err));
            return;
        }
        let backoff = self.backoff(c.attempts);
        let Some(part) = self.parts.get_mut(key) else { return };
        let pos = part.queue.iter().position(|q| q.order > c.order).unwrap_or(part.queue.len());
        part.queue.insert(pos, c);
        part.retry_at = Some(now + backoff);
    }

    fn split_or_fail(
        &mut self,
        key: &Key,
        c: Closed,
        code: ErrorCode,
        message: Option<String>,
        now: Instant,
    ) {
        let count = c.batch.record_count();
        if count <= 1 {
            let err = ProduceError::Broker {
                topic: key.0.to_string(),
                partition: key.1,
                code,
                message: Some(format!(
                    "record of {} bytes is larger than the topic's max.message.bytes{}",
                    c.batch.len(),
                    message.map(|m| format!(": {m}")).unwrap_or_default()
                )),
            };
            self.finish(c, Err(err));
            return;
        }
        match split(&c.batch, self.batch_options()) {
            Ok((a, b)) => {
                let half = a.record_count() as u32;
                c.shared.split_segment(c.seg_first, half);
                let base = |batch: EncodedBatch, seg_first: u32, permits: usize| Closed {
                    batch,
                    shared: c.shared.clone(),
                    seg_first,
                    order: c.order,
                    created: c.created,
                    base_seq: c.base_seq,
                    epoch: c.epoch,
                    attempts: c.attempts,
                    sent: false,
                    maybe_written: false,
                    last_error: Some(code.to_string()),
                    permits,
                };
                let first = base(a, c.seg_first, c.permits);
                let second = base(b, c.seg_first + half, 0);
                if self.idempotent() {
                    // New batches need new sequences: bump the epoch, which
                    // re-sequences everything queued.
                    self.bump_needed = true;
                }
                let Some(part) = self.parts.get_mut(key) else { return };
                let pos = part.queue.iter().position(|q| q.order > first.order).unwrap_or(part.queue.len());
                part.queue.insert(pos, second);
                part.queue.insert(pos, first);
                part.retry_at = Some(now);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot split a batch");
                self.fail(key, c, code, message);
            }
        }
    }

    /// A new producer id/epoch (after InitProducerId): sequences restart at 0
    /// and every queued batch is re-sequenced in order; batches whose outcome
    /// is unknown are failed instead of being written twice.
    pub(crate) fn on_producer(&mut self, producer_id: i64, epoch: i16) {
        let bump = self.producer_id >= 0;
        self.producer_id = producer_id;
        self.epoch = epoch;
        self.bump_needed = false;
        if !bump {
            return;
        }
        let mut failed = Vec::new();
        for (key, part) in self.parts.iter_mut() {
            part.next_seq = 0;
            part.acked_seq = 0;
            let mut kept = VecDeque::with_capacity(part.queue.len());
            for mut c in part.queue.drain(..) {
                if c.maybe_written {
                    failed.push((key.clone(), c));
                    continue;
                }
                c.batch = c.batch.with_producer_state(producer_id, epoch, part.next_seq);
                c.base_seq = part.next_seq;
                c.epoch = epoch;
                c.sent = false;
                part.next_seq = seq_add(part.next_seq, c.batch.record_count());
                kept.push_back(c);
            }
            part.queue = kept;
        }
        for (key, c) in failed {
            let err = ProduceError::Broker {
                topic: key.0.to_string(),
                partition: key.1,
                code: ErrorCode::NONE,
                message: Some(format!(
                    "outcome unknown ({}); not re-sent after the producer epoch was bumped, to avoid a duplicate",
                    c.last_error.as_deref().unwrap_or("no answer")
                )),
            };
            self.finish(c, Err(err));
        }
    }

    /// Fails everything (the producer is shutting down without flushing).
    pub(crate) fn abort_all(&mut self, why: &ProduceError) {
        let mut all = Vec::new();
        for part in self.parts.values_mut() {
            if let Some(open) = part.open.take() {
                let count = part.builder.len() as u32;
                let _ = part.builder.finish();
                open.shared.add_segment(0, count.max(1));
                if open.shared.complete(0, Err(why.clone())) {
                    self.outstanding = self.outstanding.saturating_sub(1);
                }
                self.freed += open.permits;
            }
            all.extend(part.queue.drain(..));
        }
        for c in all {
            self.finish(c, Err(why.clone()));
        }
    }
}

/// Kafka's sequence arithmetic: wraps to 0 after i32::MAX.
fn seq_add(seq: i32, n: i32) -> i32 {
    let s = i64::from(seq) + i64::from(n);
    if s > i64::from(i32::MAX) { (s - i64::from(i32::MAX) - 1) as i32 } else { s as i32 }
}

/// Splits a closed batch's records into two batches of about half each.
fn split(batch: &EncodedBatch, opts: BatchOptions) -> Result<(EncodedBatch, EncodedBatch), ProduceError> {
    let mut records = Vec::new();
    for b in batches(batch.bytes().clone(), &DecodeOptions::default()) {
        let b = b?;
        for r in b.records()? {
            records.push(r?.to_record());
        }
    }
    let half = records.len() / 2;
    let build = |rs: &[kwire_proto::records::Record]| -> Result<EncodedBatch, ProduceError> {
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
    use kwire_proto::msg::produce::PartitionProduceResponse;

    fn cfg() -> ProducerConfig {
        ProducerConfig { batch_size: 200, linger: Duration::from_millis(10), ..ProducerConfig::default() }
    }

    fn engine() -> Engine {
        let mut e = Engine::new(cfg());
        e.on_producer(1000, 0);
        e
    }

    fn leader(_: &str, _: i32) -> Option<i32> {
        Some(1)
    }

    /// Appends `n` records of `size` bytes to t-0, opening batches as needed.
    fn append(e: &mut Engine, n: usize, size: usize, now: Instant) -> Vec<(Arc<BatchShared>, u32)> {
        let key = e.key("t", 0);
        let value = vec![b'x'; size];
        let mut out = Vec::new();
        for _ in 0..n {
            loop {
                match e.try_append(&key, 1, None, Some(&value), &[], now).unwrap() {
                    Appended::Done(s, i) => {
                        out.push((s, i));
                        break;
                    }
                    Appended::NeedBatch(bytes) => assert!(e.open_batch(&key, bytes, now)),
                }
            }
        }
        out
    }

    fn response(code: ErrorCode, base_offset: i64) -> ProduceResponse {
        ProduceResponse {
            topics: vec![(
                "t".to_owned(),
                vec![PartitionProduceResponse {
                    partition: 0,
                    error_code: code,
                    base_offset,
                    log_append_time_ms: -1,
                    log_start_offset: 0,
                    record_errors: vec![],
                    error_message: None,
                    current_leader: (-1, -1),
                }],
            )],
            throttle_time_ms: 0,
        }
    }

    fn offsets(recs: &[(Arc<BatchShared>, u32)]) -> Vec<Option<i64>> {
        recs.iter()
            .map(|(s, i)| {
                s.result(*i)
                    .and_then(|r| r.ok())
                    .map(|(ack, rel)| if ack.base_offset < 0 { -1 } else { ack.base_offset + i64::from(rel) })
            })
            .collect()
    }

    fn seqs(req: &Request) -> Vec<i32> {
        req.batches.iter().map(|(_, c)| c.base_seq).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn linger_then_send_then_ack() {
        let mut e = engine();
        let t0 = Instant::now();
        let recs = append(&mut e, 3, 10, t0);
        // Not full, linger not over: nothing to send.
        assert!(e.drain(t0, &leader).requests.is_empty());
        assert_eq!(e.next_wake(t0), Some(t0 + Duration::from_millis(10)));
        let t1 = t0 + Duration::from_millis(10);
        let mut d = e.drain(t1, &leader);
        assert_eq!(d.requests.len(), 1);
        let req = d.requests.remove(0);
        assert_eq!(seqs(&req), vec![0]);
        assert!(e.on_response(req, Ok(Some(response(ErrorCode::NONE, 500))), t1).is_empty());
        assert_eq!(offsets(&recs), vec![Some(500), Some(501), Some(502)]);
        assert_eq!(e.outstanding(), 0);
        assert!(e.take_freed() >= 200);
    }

    #[tokio::test(start_paused = true)]
    async fn full_batches_pipeline_up_to_max_in_flight_with_consecutive_sequences() {
        let mut e = engine();
        let now = Instant::now();
        // ~60-byte records in 200-byte batches: 2 per batch.
        let recs = append(&mut e, 14, 60, now);
        let d = e.drain(now, &leader);
        assert_eq!(d.requests.len(), 5, "max.in.flight = 5 requests per broker");
        let all: Vec<i32> = d.requests.iter().flat_map(seqs).collect();
        let mut expect = 0;
        for s in &all {
            assert_eq!(*s, expect);
            expect += 2;
        }
        for (i, req) in d.requests.into_iter().enumerate() {
            e.on_response(req, Ok(Some(response(ErrorCode::NONE, 100 + 2 * i as i64))), now);
        }
        assert_eq!(offsets(&recs[..10]), (100..110).map(Some).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn failed_batch_and_its_followers_retry_in_order_one_at_a_time() {
        let mut e = engine();
        let now = Instant::now();
        let recs = append(&mut e, 6, 60, now); // 3 batches: seq 0, 2, 4
        let now = now + Duration::from_millis(10); // the last one closes after linger.ms
        let mut reqs = e.drain(now, &leader).requests;
        assert_eq!(reqs.len(), 3);
        let r3 = reqs.pop().unwrap();
        let r2 = reqs.pop().unwrap();
        let r1 = reqs.pop().unwrap();
        // The leader moved: the first fails NOT_LEADER, the rest OUT_OF_ORDER.
        let refresh = e.on_response(r1, Ok(Some(response(ErrorCode::NOT_LEADER_OR_FOLLOWER, -1))), now);
        assert_eq!(refresh.len(), 1, "metadata refresh requested");
        e.on_response(r2, Ok(Some(response(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1))), now);
        e.on_response(r3, Ok(Some(response(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1))), now);
        assert!(!e.bump_needed, "not first in line: plain retries");
        assert!(e.drain(now, &leader).requests.is_empty(), "backoff");
        let later = now + Duration::from_secs(2);
        let mut sent = Vec::new();
        for base in [10, 12, 14] {
            let mut d = e.drain(later, &leader);
            assert_eq!(d.requests.len(), 1, "retried batches go one at a time");
            let req = d.requests.remove(0);
            sent.extend(seqs(&req));
            e.on_response(req, Ok(Some(response(ErrorCode::NONE, base))), later);
        }
        assert_eq!(sent, vec![0, 2, 4], "original order and sequences");
        assert_eq!(offsets(&recs), (10..16).map(Some).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn out_of_order_on_the_first_batch_fails_it_and_bumps_the_epoch() {
        let mut e = engine();
        let now = Instant::now();
        let recs = append(&mut e, 4, 60, now); // seq 0 and 2
        let now = now + Duration::from_millis(10);
        let mut reqs = e.drain(now, &leader).requests;
        let r2 = reqs.pop().unwrap();
        let r1 = reqs.pop().unwrap();
        e.on_response(r1, Ok(Some(response(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1))), now);
        assert!(e.bump_needed);
        assert!(
            matches!(recs[0].0.result(0), Some(Err(ProduceError::Broker { code, .. })) if code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        // Nothing new goes out until in-flight requests are back.
        assert!(!e.drain(now, &leader).need_bump);
        e.on_response(r2, Ok(Some(response(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1))), now);
        let d = e.drain(now + Duration::from_secs(1), &leader);
        assert!(d.need_bump && d.requests.is_empty());
        e.on_producer(1000, 1);
        let mut d = e.drain(now + Duration::from_secs(2), &leader);
        let req = d.requests.remove(0);
        assert_eq!(seqs(&req), vec![0], "re-sequenced from 0 under the new epoch");
        assert_eq!(req.batches[0].1.epoch, 1);
        e.on_response(req, Ok(Some(response(ErrorCode::NONE, 7))), now);
        assert_eq!(offsets(&recs[2..]), vec![Some(7), Some(8)]);
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_outcome_is_retried_with_the_same_sequence() {
        let mut e = engine();
        let now = Instant::now();
        let recs = append(&mut e, 2, 60, now);
        let now = now + Duration::from_millis(10);
        let req = e.drain(now, &leader).requests.remove(0);
        let gone = ConnError::Closed { addr: "b1".into(), detail: "" };
        e.on_response(req, Err(gone), now);
        let later = now + Duration::from_secs(2);
        let req = e.drain(later, &leader).requests.remove(0);
        assert_eq!(
            (seqs(&req), req.batches[0].1.epoch),
            (vec![0], 0),
            "same producer state: the broker dedups"
        );
        // The broker had written it: it answers DUPLICATE_SEQUENCE_NUMBER.
        e.on_response(req, Ok(Some(response(ErrorCode::DUPLICATE_SEQUENCE_NUMBER, -1))), later);
        assert_eq!(offsets(&recs), vec![Some(-1), Some(-1)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_bump_fails_queued_batches_whose_outcome_is_unknown() {
        let mut e = engine();
        let now = Instant::now();
        let recs = append(&mut e, 4, 60, now); // seq 0, 2
        let now = now + Duration::from_millis(10);
        let mut reqs = e.drain(now, &leader).requests;
        let r2 = reqs.pop().unwrap();
        let r1 = reqs.pop().unwrap();
        e.on_response(r1, Ok(Some(response(ErrorCode::UNKNOWN_PRODUCER_ID, -1))), now);
        e.on_response(r2, Err(ConnError::Closed { addr: "b1".into(), detail: "" }), now);
        assert!(e.drain(now, &leader).need_bump);
        e.on_producer(1000, 1);
        assert!(recs[2].0.result(0).is_some_and(|r| r.is_err()), "maybe-written batch failed, not re-sent");
        let later = now + Duration::from_secs(2);
        let req = e.drain(later, &leader).requests.remove(0);
        assert_eq!(seqs(&req), vec![0]);
        e.on_response(req, Ok(Some(response(ErrorCode::NONE, 0))), later);
        assert_eq!(offsets(&recs[..2]), vec![Some(0), Some(1)]);
    }

    #[tokio::test(start_paused = true)]
    async fn delivery_timeout_expires_batches() {
        let mut e = Engine::new(ProducerConfig { delivery_timeout: Duration::from_secs(5), ..cfg() });
        e.on_producer(1, 0);
        let now = Instant::now();
        let recs = append(&mut e, 1, 10, now);
        // No leader: nothing sent, topic refresh requested.
        let d = e.drain(now + Duration::from_millis(20), &|_, _| None);
        assert_eq!(d.refresh.len(), 1);
        let d = e.drain(now + Duration::from_secs(6), &|_, _| None);
        assert!(d.requests.is_empty());
        assert!(matches!(recs[0].0.result(0), Some(Err(ProduceError::Timeout { .. }))));
        assert_eq!(e.outstanding(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn message_too_large_splits_and_every_record_gets_its_offset() {
        let mut e = Engine::new(ProducerConfig { batch_size: 2000, ..cfg() });
        e.on_producer(1, 0);
        let now = Instant::now();
        let recs = append(&mut e, 10, 50, now);
        let t = now + Duration::from_millis(20);
        let req = e.drain(t, &leader).requests.remove(0);
        e.on_response(req, Ok(Some(response(ErrorCode::MESSAGE_TOO_LARGE, -1))), t);
        assert!(e.drain(t, &leader).need_bump, "halves need fresh sequences");
        e.on_producer(1, 1);
        let mut base = 40;
        let mut batches = 0;
        while e.outstanding() > 0 {
            let d = e.drain(t, &leader);
            for req in d.requests {
                let n: i32 = req.batches.iter().map(|(_, c)| c.batch.record_count()).sum();
                e.on_response(req, Ok(Some(response(ErrorCode::NONE, base))), t);
                base += i64::from(n);
                batches += 1;
            }
        }
        assert_eq!(batches, 2);
        assert_eq!(offsets(&recs), (40..50).map(Some).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn a_single_oversized_record_fails_clearly() {
        let mut e = engine();
        let now = Instant::now();
        let recs = append(&mut e, 1, 500, now);
        let req = e.drain(now, &leader).requests.remove(0);
        e.on_response(req, Ok(Some(response(ErrorCode::MESSAGE_TOO_LARGE, -1))), now);
        let err = recs[0].0.result(0).unwrap().unwrap_err().to_string();
        assert!(err.contains("max.message.bytes"), "{err}");
    }

    #[test]
    fn sequence_numbers_wrap_like_kafka() {
        assert_eq!(seq_add(i32::MAX, 1), 0);
        assert_eq!(seq_add(i32::MAX - 1, 3), 1);
        assert_eq!(seq_add(5, 3), 8);
    }
}
