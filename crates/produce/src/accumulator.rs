//! The record accumulator: per partition, an open batch that records are
//! appended to, and the closed batches waiting to be sent for the first time
//! (they get their sequence numbers from the [`Sequencer`](crate::sequence::Sequencer)
//! when they are sent, as in Kafka's Java producer).
//!
//! A batch closes when it is full, when `linger.ms` has passed since its
//! first record, or on flush. The accumulator knows nothing of brokers,
//! producer ids or responses.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kwire_proto::records::{Append, BatchOptions, Header, RecordBatchBuilder, V2_HEADER_SIZE};

use crate::batch::{Batch, Fx, Key, Reports};
use crate::{ProduceError, ProducerConfig};

struct Open<D> {
    created: Instant,
    delivery: D,
    permits: usize,
}

struct PartAcc<D> {
    builder: RecordBatchBuilder,
    open: Option<Open<D>>,
    /// Closed, never sent, in append order.
    ready: VecDeque<Batch<D>>,
}

/// Result of one append attempt.
pub(crate) enum Appended<D> {
    /// In the open batch: the record is `(handle, index)`.
    Done(D, u32),
    /// No open batch: reserve this many bytes of `buffer.memory`, then
    /// [`Accumulator::open_batch`] and try again.
    NeedBatch(usize),
}

/// Per-partition open and closed batches.
pub(crate) struct Accumulator<D> {
    opts: BatchOptions,
    batch_size: usize,
    linger: Duration,
    delivery_timeout: Duration,
    max_request_size: usize,
    buffer_memory: usize,
    topics: HashSet<Arc<str>, Fx>,
    parts: HashMap<Key, PartAcc<D>, Fx>,
    /// Partitions with closed batches (the planner's candidates).
    pub(crate) with_ready: HashSet<Key, Fx>,
    /// A batch closed since the driver last looked (a reason to plan now).
    pub(crate) closed_hint: bool,
}

impl<D: Clone> Accumulator<D> {
    pub(crate) fn new(cfg: &ProducerConfig) -> Self {
        Accumulator {
            opts: BatchOptions::default()
                .compression(cfg.compression)
                .compression_level(cfg.compression_level)
                .max_batch_bytes(cfg.batch_size)
                .transactional(cfg.transactional_id.is_some()),
            batch_size: cfg.batch_size,
            linger: cfg.linger,
            delivery_timeout: cfg.delivery_timeout,
            max_request_size: cfg.max_request_size,
            buffer_memory: cfg.buffer_memory,
            topics: HashSet::default(),
            parts: HashMap::default(),
            with_ready: HashSet::default(),
            closed_hint: false,
        }
    }

    /// Batch options (codec, size) for new batches, e.g. the halves of a split.
    pub(crate) fn options(&self) -> BatchOptions {
        self.opts.clone()
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

    /// Appends one record to `key`'s open batch, closing it when full.
    /// `stamp` gives the producer state to encode into a batch if it closes
    /// (what it will most likely be sent with, so that sending needs no copy).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn try_append(
        &mut self,
        key: &Key,
        timestamp: i64,
        rkey: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        stamp: impl FnOnce() -> (i64, i16, i32),
    ) -> Result<Appended<D>, ProduceError> {
        let need = RecordBatchBuilder::size_upper_bound(rkey, value, headers) + V2_HEADER_SIZE;
        if need > self.max_request_size {
            return Err(ProduceError::RecordTooLarge {
                size: need,
                limit: self.max_request_size,
                setting: "max.request.size",
            });
        }
        if need > self.buffer_memory {
            return Err(ProduceError::RecordTooLarge {
                size: need,
                limit: self.buffer_memory,
                setting: "buffer.memory",
            });
        }
        // No open batch (and maybe no state yet) for the partition: the
        // caller reserves memory and opens one. The common case, an open
        // batch, costs one lookup and no clone of the key.
        let need_batch = Appended::NeedBatch(need.max(self.batch_size));
        let Some(part) = self.parts.get_mut(key) else { return Ok(need_batch) };
        let Some(delivery) = part.open.as_ref().map(|o| o.delivery.clone()) else { return Ok(need_batch) };
        match part.builder.try_append(timestamp, rkey, value, headers)? {
            Append::Appended => {
                let index = (part.builder.len() - 1) as u32;
                if part.builder.estimated_size() >= self.batch_size {
                    self.close(key, stamp())?;
                }
                Ok(Appended::Done(delivery, index))
            }
            Append::Full => {
                self.close(key, stamp())?;
                Ok(Appended::NeedBatch(need.max(self.batch_size)))
            }
        }
    }

    /// Opens a batch for `key` with `permits` bytes of `buffer.memory`.
    /// Returns false (the caller gives the bytes back) if one is open already.
    pub(crate) fn open_batch(&mut self, key: &Key, permits: usize, delivery: D, now: Instant) -> bool {
        let opts = &self.opts;
        let part = self.parts.entry(key.clone()).or_insert_with(|| PartAcc {
            builder: RecordBatchBuilder::new(opts.clone()),
            open: None,
            ready: VecDeque::new(),
        });
        if part.open.is_some() {
            return false;
        }
        part.open = Some(Open { created: now, delivery, permits });
        true
    }

    /// Closes `key`'s open batch and queues it. An empty one (its first
    /// append failed) is given back: `Ok(Some(permits))`.
    pub(crate) fn close(&mut self, key: &Key, stamp: (i64, i16, i32)) -> Result<Option<usize>, ProduceError> {
        let Some(part) = self.parts.get_mut(key) else { return Ok(None) };
        let Some(open) = part.open.take() else { return Ok(None) };
        if part.builder.is_empty() {
            return Ok(Some(open.permits));
        }
        let (pid, epoch, seq) = stamp;
        let stamp = if pid >= 0 {
            // Where this batch will most likely sit in the partition's sequence.
            let queued: i32 = part.ready.iter().map(Batch::count).sum();
            let seq = crate::batch::seq_add(seq, queued);
            part.builder.set_producer_state(pid, epoch, seq);
            (pid, epoch, seq)
        } else {
            (-1, -1, -1)
        };
        let bytes = part.builder.finish()?;
        part.ready.push_back(Batch {
            bytes,
            delivery: open.delivery,
            first: 0,
            created: open.created,
            permits: open.permits,
            attempts: 0,
            last_error: None,
            maybe_written: false,
            stamp,
        });
        self.with_ready.insert(key.clone());
        self.closed_hint = true;
        Ok(None)
    }

    /// Keys whose open batch is due: `linger.ms` passed, or flushing.
    pub(crate) fn due(&self, now: Instant, flushing: bool) -> Vec<Key> {
        self.parts
            .iter()
            .filter(|(_, p)| p.open.as_ref().is_some_and(|o| flushing || o.created + self.linger <= now))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The oldest closed batch of `key`.
    pub(crate) fn front(&self, key: &Key) -> Option<&Batch<D>> {
        self.parts.get(key)?.ready.front()
    }

    /// Takes the oldest closed batch of `key`.
    pub(crate) fn pop(&mut self, key: &Key) -> Option<Batch<D>> {
        let part = self.parts.get_mut(key)?;
        let b = part.ready.pop_front();
        if part.ready.is_empty() {
            self.with_ready.remove(key);
        }
        b
    }

    /// Fails every open or queued batch whose `delivery.timeout.ms` has
    /// passed: they were never sent, so they were not written. `why` says
    /// what held a partition's batches back.
    pub(crate) fn expire(&mut self, now: Instant, reports: &mut Reports<D>, why: impl Fn(&Key) -> String) {
        let timeout = self.delivery_timeout;
        for (key, part) in self.parts.iter_mut() {
            if part.open.as_ref().is_some_and(|o| o.created + timeout <= now) {
                if let Some(open) = part.open.take() {
                    let count = part.builder.len() as u32;
                    let _ = part.builder.finish();
                    reports.freed += open.permits;
                    let err = timeout_error(key, timeout, Some(&why(key)));
                    reports.report(open.delivery, 0, count, Err(err));
                }
            }
            while part.ready.front().is_some_and(|b| b.created + timeout <= now) {
                if let Some(b) = part.ready.pop_front() {
                    reports.freed += b.permits;
                    let last = b.last_error.clone().unwrap_or_else(|| why(key));
                    let err = timeout_error(key, timeout, Some(&last));
                    reports.report_batch(b, Err(err));
                }
            }
            if part.ready.is_empty() {
                self.with_ready.remove(key);
            }
        }
    }

    /// The earliest future linger or delivery deadline.
    pub(crate) fn next_wake(&self, at: &mut impl FnMut(Instant)) {
        for part in self.parts.values() {
            if let Some(o) = &part.open {
                at(o.created + self.linger);
                at(o.created + self.delivery_timeout);
            }
            if let Some(b) = part.ready.front() {
                at(b.created + self.delivery_timeout);
            }
        }
    }

    /// Fails every open and queued batch with `err`: none was sent.
    pub(crate) fn abort_all(&mut self, err: &ProduceError, reports: &mut Reports<D>) {
        for part in self.parts.values_mut() {
            if let Some(o) = part.open.take() {
                let count = part.builder.len() as u32;
                let _ = part.builder.finish();
                reports.freed += o.permits;
                reports.report(o.delivery, 0, count, Err(err.clone()));
            }
            for b in part.ready.drain(..) {
                reports.freed += b.permits;
                reports.report_batch(b, Err(err.clone()));
            }
        }
        self.with_ready.clear();
    }
}

fn timeout_error(key: &Key, timeout: Duration, last: Option<&str>) -> ProduceError {
    ProduceError::Timeout {
        topic: key.0.to_string(),
        partition: key.1,
        timeout,
        last: last.map(str::to_owned),
        maybe_written: false,
    }
}
