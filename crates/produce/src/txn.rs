//! The transaction state machine (KIP-98, KIP-447, KIP-890), sans-IO: time
//! is an input, requests to the transaction coordinator come out of
//! [`TxnManager::poll_request`], their outcomes go back in through
//! [`TxnManager::handle_response`]. Not yet wired into the
//! [`Engine`](crate::engine::Engine) (a later slice).
//!
//! States: Uninitialized → Initializing → Ready → InTransaction →
//! Committing/Aborting → Ready, plus AbortableError, FatalError and Fenced.
//! Rules (after Kafka's `TransactionManager` and franz-go's `txn.go`):
//! CONCURRENT_TRANSACTIONS and COORDINATOR_LOAD_IN_PROGRESS are retried with
//! backoff; NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE (or no answer) look
//! the coordinator up again; INVALID_PRODUCER_EPOCH / PRODUCER_FENCED fence
//! the producer; TRANSACTION_ABORTABLE makes the transaction abortable; an
//! EndTxn(commit) without an answer is retried as the same commit, never
//! turned into an abort.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kwire_proto::ErrorCode;

use crate::batch::Key;

/// CONCURRENT_TRANSACTIONS (51): the previous transaction is still being completed.
pub(crate) const CONCURRENT_TRANSACTIONS: ErrorCode = ErrorCode(51);
/// INVALID_TXN_STATE (48).
pub(crate) const INVALID_TXN_STATE: ErrorCode = ErrorCode(48);
/// TRANSACTION_ABORTABLE (120, KIP-890).
pub(crate) const TRANSACTION_ABORTABLE: ErrorCode = ErrorCode(120);

/// Where the transactional producer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TxnState {
    /// `init()` not called yet.
    Uninitialized,
    /// Looking up the coordinator / waiting for InitProducerId.
    Initializing,
    /// No open transaction.
    Ready,
    /// A transaction is open.
    InTransaction,
    /// EndTxn(commit) requested (retried until it has an answer).
    Committing,
    /// EndTxn(abort) requested.
    Aborting,
    /// The transaction can only be aborted.
    AbortableError(String),
    /// Nothing more can be done with this producer.
    FatalError(String),
    /// Another producer with the same transactional id took over.
    Fenced,
}

/// A request for the transaction coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TxnRequest {
    /// FindCoordinator (key type TRANSACTION).
    FindCoordinator,
    /// InitProducerId with the transactional id (and the current producer
    /// id/epoch when re-initializing, KIP-360).
    InitProducerId { current: Option<(i64, i16)> },
    /// AddPartitionsToTxn (classic path).
    AddPartitions(Vec<Key>),
    /// EndTxn.
    EndTxn { commit: bool },
}

/// The outcome of a [`TxnRequest`], as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TxnResponse {
    /// FindCoordinator: the coordinator's node id, or an error.
    Coordinator(Result<i32, ErrorCode>),
    /// InitProducerId.
    InitProducerId { code: ErrorCode, producer_id: i64, epoch: i16 },
    /// AddPartitionsToTxn: per partition.
    AddPartitions(Vec<(Key, ErrorCode)>),
    /// EndTxn (producer id and epoch -1 before v5).
    EndTxn { code: ErrorCode, producer_id: i64, epoch: i16 },
    /// Sent, no answer (timeout, connection lost).
    Lost(String),
}

/// The transaction manager.
#[derive(Debug)]
pub(crate) struct TxnManager {
    state: TxnState,
    /// Transaction version 2 (KIP-890): partitions are added implicitly by
    /// Produce, and EndTxn bumps the epoch.
    tv2: bool,
    coordinator: Option<i32>,
    producer: Option<(i64, i16)>,
    /// Partitions in the open transaction (added).
    added: BTreeSet<Key>,
    /// Partitions to add before their batches may go.
    pending: BTreeSet<Key>,
    /// Partitions in the AddPartitionsToTxn in flight.
    adding: BTreeSet<Key>,
    in_flight: Option<TxnRequest>,
    /// After a finished EndTxn: what it was.
    end: Option<bool>,
    retry_at: Option<Instant>,
    backoff: Duration,
    attempts: u32,
}

impl TxnManager {
    pub(crate) fn new(tv2: bool, backoff: Duration) -> Self {
        TxnManager {
            state: TxnState::Uninitialized,
            tv2,
            coordinator: None,
            producer: None,
            added: BTreeSet::new(),
            pending: BTreeSet::new(),
            adding: BTreeSet::new(),
            in_flight: None,
            end: None,
            retry_at: None,
            backoff,
            attempts: 0,
        }
    }

    pub(crate) fn state(&self) -> &TxnState {
        &self.state
    }

    pub(crate) fn producer(&self) -> Option<(i64, i16)> {
        self.producer
    }

    pub(crate) fn coordinator(&self) -> Option<i32> {
        self.coordinator
    }

    /// Starts InitProducerId.
    pub(crate) fn init(&mut self) -> Result<(), String> {
        match self.state {
            TxnState::Uninitialized => {
                self.state = TxnState::Initializing;
                Ok(())
            }
            ref s => Err(format!("init() in state {s:?}")),
        }
    }

    /// Opens a transaction.
    pub(crate) fn begin(&mut self) -> Result<(), String> {
        match self.state {
            TxnState::Ready => {
                self.state = TxnState::InTransaction;
                self.added.clear();
                self.end = None;
                Ok(())
            }
            ref s => Err(format!("begin() in state {s:?}")),
        }
    }

    /// `key` gets a batch in this transaction: true when its batches may be
    /// sent now (already added, or TV2 adds it implicitly).
    pub(crate) fn add_partition(&mut self, key: &Key) -> Result<bool, String> {
        if self.state != TxnState::InTransaction {
            return Err(format!("send in state {:?}: begin() first", self.state));
        }
        if self.tv2 || self.added.contains(key) {
            self.added.insert(key.clone());
            return Ok(true);
        }
        if !self.adding.contains(key) {
            self.pending.insert(key.clone());
        }
        Ok(false)
    }

    /// Whether `key`'s batches may be planned.
    pub(crate) fn may_send(&self, key: &Key) -> bool {
        self.state == TxnState::InTransaction && self.added.contains(key)
    }

    /// A batch of the transaction failed: it can only be aborted.
    pub(crate) fn batch_failed(&mut self, why: &str) {
        if matches!(self.state, TxnState::InTransaction | TxnState::Committing) && self.end.is_none() {
            self.state = TxnState::AbortableError(why.to_owned());
        }
    }

    /// Commits (`outstanding` batches of the transaction must be 0 first:
    /// the caller keeps polling until they completed).
    pub(crate) fn commit(&mut self) -> Result<(), String> {
        match self.state {
            TxnState::InTransaction => {
                self.state = TxnState::Committing;
                Ok(())
            }
            TxnState::Committing => Ok(()),
            ref s => Err(format!("commit() in state {s:?}")),
        }
    }

    /// Aborts the open (or abortable) transaction.
    pub(crate) fn abort(&mut self) -> Result<(), String> {
        match self.state {
            TxnState::InTransaction | TxnState::AbortableError(_) => {
                self.state = TxnState::Aborting;
                self.pending.clear();
                Ok(())
            }
            TxnState::Aborting => Ok(()),
            ref s => Err(format!("abort() in state {s:?}")),
        }
    }

    /// The next request for the coordinator, if one is due. `outstanding`:
    /// batches of the transaction without a final outcome (EndTxn waits for
    /// them).
    pub(crate) fn poll_request(&mut self, now: Instant, outstanding: usize) -> Option<TxnRequest> {
        if self.in_flight.is_some() || self.retry_at.is_some_and(|t| t > now) {
            return None;
        }
        let needs_coordinator =
            matches!(self.state, TxnState::Initializing | TxnState::Committing | TxnState::Aborting)
                || (self.state == TxnState::InTransaction && !self.pending.is_empty());
        if needs_coordinator && self.coordinator.is_none() {
            return self.send(TxnRequest::FindCoordinator);
        }
        let req = match self.state {
            TxnState::Initializing => TxnRequest::InitProducerId { current: None },
            TxnState::InTransaction if !self.pending.is_empty() => {
                self.adding = std::mem::take(&mut self.pending);
                TxnRequest::AddPartitions(self.adding.iter().cloned().collect())
            }
            TxnState::Committing if outstanding == 0 => TxnRequest::EndTxn { commit: true },
            TxnState::Aborting if outstanding == 0 => TxnRequest::EndTxn { commit: false },
            _ => return None,
        };
        self.send(req)
    }

    fn send(&mut self, req: TxnRequest) -> Option<TxnRequest> {
        self.in_flight = Some(req.clone());
        Some(req)
    }

    fn retry_later(&mut self, now: Instant) {
        self.attempts = self.attempts.saturating_add(1);
        let f = 1u32 << self.attempts.min(8);
        self.retry_at = Some(now + self.backoff.saturating_mul(f).min(Duration::from_secs(1)));
    }

    fn fence(&mut self) {
        self.state = TxnState::Fenced;
        self.pending.clear();
        self.adding.clear();
    }

    /// The outcome of the request [`poll_request`](Self::poll_request) gave.
    pub(crate) fn handle_response(&mut self, resp: TxnResponse, now: Instant) {
        let Some(req) = self.in_flight.take() else { return };
        if let TxnResponse::Lost(_) = &resp {
            // The same request goes again (a commit stays a commit).
            self.coordinator = None;
            if let TxnRequest::AddPartitions(keys) = req {
                self.pending.extend(keys);
                self.adding.clear();
            }
            return self.retry_later(now);
        }
        let code = match &resp {
            TxnResponse::Coordinator(Ok(node)) => {
                self.coordinator = Some(*node);
                self.attempts = 0;
                return;
            }
            TxnResponse::Coordinator(Err(code)) => *code,
            TxnResponse::InitProducerId { code, .. } | TxnResponse::EndTxn { code, .. } => *code,
            TxnResponse::AddPartitions(parts) => {
                parts.iter().map(|(_, c)| *c).find(|c| c.is_err()).unwrap_or(ErrorCode::NONE)
            }
            TxnResponse::Lost(_) => ErrorCode::NONE,
        };
        match code {
            ErrorCode::NONE => {}
            CONCURRENT_TRANSACTIONS | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => {
                self.requeue(req);
                return self.retry_later(now);
            }
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
                self.coordinator = None;
                self.requeue(req);
                return self.retry_later(now);
            }
            ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED => return self.fence(),
            TRANSACTION_ABORTABLE if self.state != TxnState::Aborting => {
                self.adding.clear();
                self.state = TxnState::AbortableError(format!("the broker answered {code}"));
                return;
            }
            c => {
                self.state = TxnState::FatalError(format!("the transaction coordinator answered {c}"));
                return;
            }
        }
        self.attempts = 0;
        match resp {
            TxnResponse::InitProducerId { producer_id, epoch, .. } => {
                self.producer = Some((producer_id, epoch));
                self.state = TxnState::Ready;
            }
            TxnResponse::AddPartitions(parts) => {
                for (k, _) in parts {
                    self.adding.remove(&k);
                    self.added.insert(k);
                }
            }
            TxnResponse::EndTxn { producer_id, epoch, .. } => {
                if self.tv2 && producer_id >= 0 {
                    self.producer = Some((producer_id, epoch));
                }
                self.end = Some(self.state == TxnState::Committing);
                self.added.clear();
                self.state = TxnState::Ready;
            }
            _ => {}
        }
    }

    fn requeue(&mut self, req: TxnRequest) {
        if let TxnRequest::AddPartitions(keys) = req {
            self.pending.extend(keys);
            self.adding.clear();
        }
    }

    /// How the last transaction ended: Some(true) committed.
    pub(crate) fn last_end(&self) -> Option<bool> {
        self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn key(p: i32) -> Key {
        (Arc::from("t"), p)
    }

    fn ready(tv2: bool, now: Instant) -> TxnManager {
        let mut m = TxnManager::new(tv2, Duration::from_millis(10));
        m.init().unwrap();
        assert_eq!(m.poll_request(now, 0), Some(TxnRequest::FindCoordinator));
        m.handle_response(TxnResponse::Coordinator(Ok(2)), now);
        assert_eq!(m.poll_request(now, 0), Some(TxnRequest::InitProducerId { current: None }));
        m.handle_response(
            TxnResponse::InitProducerId { code: ErrorCode::NONE, producer_id: 7, epoch: 0 },
            now,
        );
        assert_eq!(m.state(), &TxnState::Ready);
        m
    }

    #[test]
    fn classic_commit_adds_partitions_then_waits_for_batches() {
        let now = Instant::now();
        let mut m = ready(false, now);
        m.begin().unwrap();
        assert!(!m.add_partition(&key(0)).unwrap());
        assert!(!m.may_send(&key(0)));
        assert_eq!(m.poll_request(now, 1), Some(TxnRequest::AddPartitions(vec![key(0)])));
        m.handle_response(TxnResponse::AddPartitions(vec![(key(0), ErrorCode::NONE)]), now);
        assert!(m.may_send(&key(0)));
        assert!(m.add_partition(&key(0)).unwrap());
        m.commit().unwrap();
        assert_eq!(m.poll_request(now, 1), None, "EndTxn waits for the transaction's batches");
        assert_eq!(m.poll_request(now, 0), Some(TxnRequest::EndTxn { commit: true }));
        m.handle_response(TxnResponse::EndTxn { code: ErrorCode::NONE, producer_id: -1, epoch: -1 }, now);
        assert_eq!((m.state(), m.last_end(), m.producer()), (&TxnState::Ready, Some(true), Some((7, 0))));
    }

    #[test]
    fn lost_commit_is_retried_as_a_commit_after_finding_the_coordinator() {
        let now = Instant::now();
        let mut m = ready(false, now);
        m.begin().unwrap();
        m.commit().unwrap();
        assert_eq!(m.poll_request(now, 0), Some(TxnRequest::EndTxn { commit: true }));
        m.handle_response(TxnResponse::Lost("timeout".into()), now);
        assert!(m.abort().is_err(), "an unknown commit outcome is never turned into an abort");
        assert_eq!(m.poll_request(now, 0), None, "backoff");
        let later = now + Duration::from_secs(2);
        assert_eq!(m.poll_request(later, 0), Some(TxnRequest::FindCoordinator));
        m.handle_response(TxnResponse::Coordinator(Ok(3)), later);
        assert_eq!(m.poll_request(later, 0), Some(TxnRequest::EndTxn { commit: true }));
    }

    #[test]
    fn concurrent_transactions_retries_and_fencing_is_typed() {
        let now = Instant::now();
        let mut m = ready(false, now);
        m.begin().unwrap();
        m.add_partition(&key(1)).unwrap();
        assert!(m.poll_request(now, 0).is_some());
        m.handle_response(TxnResponse::AddPartitions(vec![(key(1), CONCURRENT_TRANSACTIONS)]), now);
        assert_eq!(m.state(), &TxnState::InTransaction);
        assert_eq!(m.poll_request(now, 0), None);
        let later = now + Duration::from_secs(2);
        assert_eq!(m.poll_request(later, 0), Some(TxnRequest::AddPartitions(vec![key(1)])));
        m.handle_response(TxnResponse::AddPartitions(vec![(key(1), ErrorCode::PRODUCER_FENCED)]), later);
        assert_eq!(m.state(), &TxnState::Fenced);
        assert!(m.commit().is_err() && m.begin().is_err());
    }

    #[test]
    fn abortable_then_abort_then_next_transaction_commits_and_tv2_adopts_the_epoch() {
        let now = Instant::now();
        let mut m = ready(true, now);
        m.begin().unwrap();
        assert!(m.add_partition(&key(0)).unwrap(), "TV2 adds partitions implicitly");
        m.batch_failed("record too large");
        assert!(m.commit().is_err(), "never committable after a failed batch");
        m.abort().unwrap();
        assert_eq!(m.poll_request(now, 0), Some(TxnRequest::EndTxn { commit: false }));
        m.handle_response(TxnResponse::EndTxn { code: ErrorCode::NONE, producer_id: 7, epoch: 1 }, now);
        assert_eq!((m.last_end(), m.producer()), (Some(false), Some((7, 1))));
        m.begin().unwrap();
        m.commit().unwrap();
        assert_eq!(m.poll_request(now, 0), Some(TxnRequest::EndTxn { commit: true }));
        m.handle_response(
            TxnResponse::EndTxn { code: TRANSACTION_ABORTABLE, producer_id: -1, epoch: -1 },
            now,
        );
        assert!(matches!(m.state(), TxnState::AbortableError(_)));
    }
}
