//! The producer's sans-IO core: the [`Accumulator`] (open and closed
//! batches), the [`Sequencer`] (sequence numbers, epochs, what every
//! response means) and the [planner](crate::planner) (which batches go in
//! which request), behind one small API. No sockets, no tokio, no locks:
//! time is an input (`std::time::Instant`), requests come out of
//! [`Engine::poll_requests`], their outcomes go back in through
//! [`Engine::handle_response`], and the final outcome of every batch comes out
//! of [`Engine::take_completions`]. The driver in `producer.rs` moves bytes
//! and delivers completions to the records' futures.
//!
//! `D` is the driver's delivery handle for one batch's records (the driver
//! uses an `Arc` with a mutex and a notifier; tests use plain ids).
//!
//! A producer with a `transactional.id` also holds the transaction manager
//! ([`TxnManager`]): a record may only be appended inside a transaction, a
//! partition's batches are held until the partition is in the transaction,
//! every failed batch makes the transaction abortable, a fenced epoch fences
//! the producer, and the coordinator's requests come out of
//! [`Engine::poll_txn_request`] (EndTxn only once no batch of the
//! transaction is left without an outcome).

use std::sync::Arc;
use std::time::Instant;

use kwire_proto::ErrorCode;
use kwire_proto::msg::produce::ProduceResponse;
use kwire_proto::records::Header;

use crate::accumulator::{Accumulator, Appended};
use crate::batch::{BatchAck, Completion, Key, Reports};
use crate::planner::{InFlight, Request, plan};
use crate::sequence::{PartOutcome, Sequencer};
use crate::txn::{TxnManager, TxnRequest, TxnResponse, TxnState};
use crate::{ProduceError, ProducerConfig};

/// What became of a request, as the driver saw it.
#[derive(Debug)]
pub(crate) enum SendOutcome {
    /// The broker's response (acks 1 or all).
    Response(ProduceResponse),
    /// acks=0: written to the socket; no answer comes.
    Written,
    /// It never left: no connection to the broker. Safe to retry as is.
    NotSent(String),
    /// Sent, and no answer (request timeout, connection lost): the broker
    /// may have written it.
    Lost(String),
    /// Retrying can't help: wrong credentials or certificates, a broker that
    /// broke the protocol.
    Fatal {
        /// What to report.
        error: ProduceError,
        /// Whether the request may have been written.
        maybe_written: bool,
    },
}

/// What [`Engine::poll_requests`] wants done.
#[derive(Debug, Default)]
pub(crate) struct Polled {
    /// Requests to send, each to its broker, in this order.
    pub requests: Vec<Request>,
    /// Topics whose leaders are unknown or stale.
    pub refresh: Vec<Arc<str>>,
    /// Run InitProducerId, then [`Engine::on_producer_id`].
    pub need_producer_id: bool,
}

/// The producer core.
pub(crate) struct Engine<D> {
    cfg: ProducerConfig,
    acc: Accumulator<D>,
    seq: Sequencer<D>,
    inflight: InFlight,
    reports: Reports<D>,
    flushing: bool,
    txn: Option<TxnManager>,
    /// Completions already looked at for the transaction.
    seen: usize,
}

impl<D: Clone> Engine<D> {
    pub(crate) fn new(cfg: ProducerConfig) -> Self {
        let acc = Accumulator::new(&cfg);
        let seq = Sequencer::new(&cfg, acc.options());
        let txn = cfg.transactional_id.as_ref().map(|_| TxnManager::new(false, cfg.retry_backoff));
        Engine {
            cfg,
            acc,
            seq,
            inflight: InFlight::default(),
            reports: Reports::default(),
            flushing: false,
            txn,
            seen: 0,
        }
    }

    /// The interned key of `topic`/`partition`.
    pub(crate) fn key(&mut self, topic: &str, partition: i32) -> Key {
        self.acc.key(topic, partition)
    }

    /// Appends one record to `key`'s open batch (closing it when full).
    pub(crate) fn try_append(
        &mut self,
        key: &Key,
        timestamp: i64,
        rkey: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<Appended<D>, ProduceError> {
        if let Some(txn) = &mut self.txn {
            txn.add_partition(key).map_err(ProduceError::TransactionState)?;
        }
        let seq = &self.seq;
        self.acc.try_append(key, timestamp, rkey, value, headers, || seq.stamp(key))
    }

    /// Opens a batch for `key` with `permits` bytes of `buffer.memory`
    /// reserved and `delivery` as its records' handle. False (the caller
    /// gives the bytes back) if another caller opened one first.
    pub(crate) fn open_batch(&mut self, key: &Key, permits: usize, delivery: D, now: Instant) -> bool {
        let opened = self.acc.open_batch(key, permits, delivery, now);
        if opened {
            self.reports.outstanding += 1;
        }
        opened
    }

    /// A batch closed since the last call (the driver should plan now).
    pub(crate) fn take_closed_hint(&mut self) -> bool {
        std::mem::take(&mut self.acc.closed_hint)
    }

    /// Batches without a final outcome.
    pub(crate) fn outstanding(&self) -> usize {
        self.reports.outstanding
    }

    /// Requests in flight.
    pub(crate) fn requests_in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Bytes of `buffer.memory` released since the last call.
    pub(crate) fn take_freed(&mut self) -> usize {
        std::mem::take(&mut self.reports.freed)
    }

    /// Outcomes since the last call, for the driver to deliver.
    pub(crate) fn take_completions(&mut self) -> Vec<Completion<D>> {
        self.watch_completions();
        self.seen = 0;
        std::mem::take(&mut self.reports.completions)
    }

    /// While set, batches close without waiting for `linger.ms`.
    pub(crate) fn set_flushing(&mut self, on: bool) {
        self.flushing = on;
    }

    /// What the transaction learns from batches that got their outcome: a
    /// fenced epoch fences the producer, any other failure makes the
    /// transaction abortable.
    fn watch_completions(&mut self) {
        let Some(txn) = &mut self.txn else { return };
        for c in &self.reports.completions[self.seen..] {
            match &c.result {
                Ok(_) | Err(ProduceError::TransactionAborted) => {}
                Err(ProduceError::Fenced { .. }) => txn.fence(),
                Err(e) => txn.batch_failed(&e.to_string()),
            }
        }
        self.seen = self.reports.completions.len();
    }

    /// The transaction's state (None without a `transactional.id`).
    pub(crate) fn txn_state(&self) -> Option<&TxnState> {
        self.txn.as_ref().map(TxnManager::state)
    }

    /// The highest Produce version to use: 12 (a transactional batch adds its
    /// partition to the transaction) only with transaction version 2.
    pub(crate) fn max_produce_version(&self) -> i16 {
        if self.txn.as_ref().is_some_and(TxnManager::tv2) { 12 } else { 11 }
    }

    /// The transaction coordinator, if known.
    pub(crate) fn txn_coordinator(&self) -> Option<i32> {
        self.txn.as_ref().and_then(TxnManager::coordinator)
    }

    /// The producer id and epoch the transaction coordinator gave.
    pub(crate) fn txn_producer(&self) -> Option<(i64, i16)> {
        self.txn.as_ref().and_then(TxnManager::producer)
    }

    /// The transaction manager, or the error for a producer without one.
    fn txn_mut(&mut self) -> Result<&mut TxnManager, ProduceError> {
        self.txn
            .as_mut()
            .ok_or_else(|| ProduceError::TransactionState("transactions need a transactional.id".to_owned()))
    }

    /// Starts FindCoordinator + InitProducerId (the driver then polls).
    pub(crate) fn txn_init(&mut self) -> Result<(), ProduceError> {
        self.txn_mut()?.init().map_err(ProduceError::TransactionState)
    }

    /// Opens a transaction.
    pub(crate) fn txn_begin(&mut self) -> Result<(), ProduceError> {
        let txn = self.txn_mut()?;
        match txn.state() {
            TxnState::Fenced => return Err(fenced()),
            TxnState::FatalError(why) => return Err(ProduceError::TransactionFatal(why.clone())),
            _ => {}
        }
        txn.begin().map_err(ProduceError::TransactionState)
    }

    /// Asks to commit: open batches close at once, EndTxn(commit) follows
    /// once every batch of the transaction has its outcome.
    pub(crate) fn txn_commit(&mut self) -> Result<(), ProduceError> {
        let txn = self.txn_mut()?;
        match txn.state() {
            TxnState::AbortableError(why) => return Err(ProduceError::TransactionAbortable(why.clone())),
            TxnState::Fenced => return Err(fenced()),
            TxnState::FatalError(why) => return Err(ProduceError::TransactionFatal(why.clone())),
            _ => {}
        }
        txn.commit().map_err(ProduceError::TransactionState)?;
        self.flushing = true;
        Ok(())
    }

    /// Asks to abort: every batch of the transaction not yet sent fails with
    /// [`ProduceError::TransactionAborted`]; EndTxn(abort) follows once the
    /// ones in flight have their outcome (a late write after the abort
    /// marker would open a transaction nobody ends).
    pub(crate) fn txn_abort(&mut self) -> Result<(), ProduceError> {
        let txn = self.txn_mut()?;
        match txn.state() {
            TxnState::Fenced => return Err(fenced()),
            TxnState::FatalError(why) => return Err(ProduceError::TransactionFatal(why.clone())),
            _ => {}
        }
        txn.abort().map_err(ProduceError::TransactionState)?;
        self.acc.abort_all(&ProduceError::TransactionAborted, &mut self.reports);
        self.flushing = true;
        Ok(())
    }

    /// Sends a consumer group's offsets (next offset to read per partition)
    /// into the open transaction.
    pub(crate) fn txn_send_offsets(
        &mut self,
        group: kwire_proto::msg::txn::TxnGroupMetadata,
        offsets: Vec<(Key, i64)>,
    ) -> Result<(), ProduceError> {
        let txn = self.txn_mut()?;
        match txn.state() {
            TxnState::AbortableError(why) => return Err(ProduceError::TransactionAbortable(why.clone())),
            TxnState::Fenced => return Err(fenced()),
            _ => {}
        }
        txn.send_offsets(group, offsets).map_err(ProduceError::TransactionState)
    }

    /// Whether offsets sent into the transaction are not committed in it yet.
    pub(crate) fn txn_offsets_pending(&self) -> bool {
        self.txn.as_ref().is_some_and(TxnManager::offsets_pending)
    }

    /// The next request for the transaction coordinator, if one is due.
    pub(crate) fn poll_txn_request(&mut self, now: Instant) -> Option<TxnRequest> {
        self.watch_completions();
        let outstanding = self.reports.outstanding;
        let req = self.txn.as_mut()?.poll_request(now, outstanding);
        if matches!(req, Some(TxnRequest::EndTxn { .. })) {
            self.flushing = false;
        }
        req
    }

    /// The outcome of the request [`poll_txn_request`](Self::poll_txn_request)
    /// gave. A new producer id or epoch goes to the sequencer (sequences
    /// restart at 0); a fenced producer fails everything it still holds.
    pub(crate) fn handle_txn_response(&mut self, resp: TxnResponse, now: Instant) {
        let Some(txn) = &mut self.txn else { return };
        txn.handle_response(resp, now);
        let producer = txn.producer();
        let is_fenced = *txn.state() == TxnState::Fenced;
        if let Some((pid, epoch)) = producer {
            if (pid, epoch) != self.seq.producer() {
                self.seq.on_producer_id(pid, epoch);
            }
        }
        if is_fenced {
            self.acc.abort_all(&fenced(), &mut self.reports);
        }
    }

    /// The producer id and epoch new batches get.
    pub(crate) fn producer(&self) -> (i64, i16) {
        self.seq.producer()
    }

    /// A producer id and epoch from InitProducerId.
    pub(crate) fn on_producer_id(&mut self, producer_id: i64, epoch: i16) {
        self.seq.on_producer_id(producer_id, epoch);
    }

    /// Expires old batches, closes lingering ones, and plans the requests
    /// that can go now. `leader_of` reads the metadata cache.
    pub(crate) fn poll_requests(
        &mut self,
        now: Instant,
        leader_of: &dyn Fn(&str, i32) -> Option<i32>,
    ) -> Polled {
        let seq = &self.seq;
        self.acc.expire(now, &mut self.reports, |key| match seq.held_by(key) {
            Some(why) => why,
            None => match leader_of(&key.0, key.1) {
                None => "not sent: no leader to send to".to_owned(),
                Some(b) => format!("not sent yet (leader: broker {b})"),
            },
        });
        self.seq.expire(now, &mut self.reports);
        for key in self.acc.due(now, self.flushing) {
            // With linger.ms=0, a batch that is not full and whose partition
            // waits for an answer stays open and takes more records: it goes
            // out when the answer comes (or once full). Without this, every
            // record was its own request while the window had room, and those
            // tiny requests queued behind each other on the broker's
            // connection: send-to-ack latency at a steady 50,000 records/s
            // had a p50 of several ms (krafka and franz-go batch this way).
            // With a linger the batches are already grouped, and holding
            // them too measured 15% less throughput at linger 5 ms in one
            // run (this machine's run-to-run noise is about as large). A
            // flush sends at once.
            if !self.flushing && self.cfg.linger.is_zero() && self.seq.awaiting_answer(&key) {
                continue;
            }
            let stamp = self.seq.stamp(&key);
            match self.acc.close(&key, stamp) {
                Ok(Some(permits)) => {
                    self.reports.freed += permits;
                    self.reports.outstanding = self.reports.outstanding.saturating_sub(1);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "closing a batch failed"),
            }
        }
        let mut out = Polled::default();
        let txn = self.txn.as_ref();
        let may_send = |k: &Key| txn.is_none_or(|t| t.may_send(k));
        out.requests = plan(
            &mut self.acc,
            &mut self.seq,
            &mut self.inflight,
            self.cfg.max_in_flight.max(1),
            self.cfg.max_request_size,
            now,
            leader_of,
            &may_send,
            &mut self.reports,
            &mut out.refresh,
        );
        // A transactional producer's id and epoch come from its coordinator.
        out.need_producer_id = self.txn.is_none() && self.seq.needs_producer_id();
        out
    }

    /// When [`poll_requests`](Self::poll_requests) should run next without
    /// other news: the earliest future linger, backoff or delivery deadline.
    /// Deadlines already past don't count (whatever they allowed waits for
    /// something else, e.g. a response): counting them would spin the driver.
    pub(crate) fn next_wake(&self, now: Instant) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Instant| {
            if x > now {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        self.acc.next_wake(&mut at);
        self.seq.next_wake(&mut at);
        if let Some(w) = self.txn.as_ref().and_then(TxnManager::next_wake) {
            at(w);
        }
        t
    }

    /// The outcome of request `id`. Returns topics whose metadata should be
    /// refreshed.
    pub(crate) fn handle_response(&mut self, id: u64, outcome: SendOutcome, now: Instant) -> Vec<Arc<str>> {
        let mut refresh = Vec::new();
        let Some((_broker, keys)) = self.inflight.complete(id) else { return refresh };
        for key in keys {
            let part = match &outcome {
                SendOutcome::Written => PartOutcome::Acked(BatchAck { base_offset: -1, log_append_time: -1 }),
                SendOutcome::NotSent(why) => PartOutcome::NotSent(why.clone()),
                SendOutcome::Lost(why) => PartOutcome::Lost(why.clone()),
                SendOutcome::Fatal { error, maybe_written } => {
                    PartOutcome::Fatal { error: error.clone(), maybe_written: *maybe_written }
                }
                SendOutcome::Response(resp) => partition_outcome(resp, &key),
            };
            self.seq.outcome(&key, id, part, now, &mut self.reports, &mut refresh);
        }
        refresh.dedup();
        refresh
    }

    /// Fails everything buffered or in flight with `why` (shutdown without
    /// flush, or no producer id to be had).
    pub(crate) fn abort_all(&mut self, why: &ProduceError) {
        self.acc.abort_all(why, &mut self.reports);
        self.seq.abort_all(why, &mut self.reports);
        self.inflight = InFlight::default();
    }

    /// How the last transaction ended: Some(true) committed.
    #[cfg(test)]
    pub(crate) fn txn_last_end(&self) -> Option<bool> {
        self.txn.as_ref().and_then(TxnManager::last_end)
    }

    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn sequencer(&self) -> &Sequencer<D> {
        &self.seq
    }
}

fn fenced() -> ProduceError {
    ProduceError::Fenced {
        code: ErrorCode::PRODUCER_FENCED,
        detail: Some("another producer with the same transactional.id took over".to_owned()),
    }
}

/// `key`'s part of a produce response.
fn partition_outcome(resp: &ProduceResponse, key: &Key) -> PartOutcome {
    let found = resp
        .topics
        .iter()
        .filter(|(t, _)| t.as_str() == &*key.0)
        .flat_map(|(_, ps)| ps.iter())
        .find(|p| p.partition == key.1);
    let Some(p) = found else {
        return PartOutcome::Lost("the broker's response left this partition out".to_owned());
    };
    if p.error_code == ErrorCode::NONE {
        return PartOutcome::Acked(BatchAck {
            base_offset: p.base_offset,
            log_append_time: p.log_append_time_ms,
        });
    }
    let message = p.error_message.clone().or_else(|| p.record_errors.first().and_then(|(_, m)| m.clone()));
    PartOutcome::Error { code: p.error_code, message, log_start_offset: p.log_start_offset }
}
