//! The transaction state machine (KIP-98, KIP-447, KIP-890), sans-IO: time
//! is an input, requests to the transaction coordinator come out of
//! [`TxnManager::poll_request`], their outcomes go back in through
//! [`TxnManager::handle_response`]. The [`Engine`](crate::engine::Engine)
//! owns one for a producer with a `transactional.id`.
//!
//! States: Uninitialized → Initializing → Ready → InTransaction →
//! Committing/Aborting → Ready, plus AbortableError, FatalError and Fenced.
//! Rules (after Kafka's `TransactionManager` and franz-go's `txn.go`):
//! ErrorCode::CONCURRENT_TRANSACTIONS and COORDINATOR_LOAD_IN_PROGRESS are retried with
//! backoff; NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE (or no answer) look
//! the coordinator up again; INVALID_PRODUCER_EPOCH / PRODUCER_FENCED fence
//! the producer; ErrorCode::TRANSACTION_ABORTABLE makes the transaction abortable; an
//! EndTxn(commit) without an answer is retried as the same commit, never
//! turned into an abort. After an abort that followed a failed batch, the
//! classic protocol (TV1) re-initializes with the current producer id and
//! epoch (KIP-360) so that the partitions' sequences start afresh under a
//! bumped epoch. With transaction version 2 (KIP-890 part 2, learnt from
//! the coordinator at InitProducerId) there is no AddPartitionsToTxn or
//! AddOffsetsToTxn: Produce v12 and TxnOffsetCommit v5 add their partition
//! or group, and every EndTxn answers with the bumped epoch of the next
//! transaction.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kwire_proto::ErrorCode;
use kwire_proto::msg::txn::TxnGroupMetadata;

use crate::batch::Key;

/// How often a TV2 abort refused with INVALID_TXN_STATE (the previous
/// transaction still completing) is retried before that is fatal.
const TV2_ABORT_RETRIES: u32 = 10;

/// The first retry after CONCURRENT_TRANSACTIONS.
const CONCURRENT_TRANSACTIONS_BACKOFF: Duration = Duration::from_millis(20);

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
    /// AddOffsetsToTxn: the group's offsets will be part of the transaction.
    AddOffsets { group_id: String },
    /// TxnOffsetCommit to the group's coordinator (KIP-447: with the
    /// member's generation, so that a zombie is fenced).
    TxnOffsetCommit { group: TxnGroupMetadata, offsets: Vec<(Key, i64)> },
}

/// The outcome of a [`TxnRequest`], as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TxnResponse {
    /// FindCoordinator: the coordinator's node id, or an error.
    Coordinator(Result<i32, ErrorCode>),
    /// InitProducerId; `tv2`: the coordinator's cluster runs transaction
    /// version 2 (finalized `transaction.version` ≥ 2) and speaks the
    /// versions it needs (Produce v12, TxnOffsetCommit v5, EndTxn v5).
    InitProducerId { code: ErrorCode, producer_id: i64, epoch: i16, tv2: bool },
    /// AddPartitionsToTxn: per partition.
    AddPartitions(Vec<(Key, ErrorCode)>),
    /// EndTxn (producer id and epoch -1 before v5).
    EndTxn { code: ErrorCode, producer_id: i64, epoch: i16 },
    /// AddOffsetsToTxn.
    AddOffsets(ErrorCode),
    /// TxnOffsetCommit: the first error of any partition (or NONE).
    TxnOffsetCommit(ErrorCode),
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
    /// A batch of the transaction failed: after the abort, bump the epoch.
    rebump: bool,
    /// Offsets to send into the transaction (until TxnOffsetCommit succeeds).
    offsets: Option<(TxnGroupMetadata, Vec<(Key, i64)>)>,
    /// Groups whose offsets are part of the open transaction.
    groups: BTreeSet<String>,
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
            rebump: false,
            offsets: None,
            groups: BTreeSet::new(),
        }
    }

    /// Sends a consumer group's offsets into the open transaction: they
    /// commit (or abort) with it. Done once [`offsets_pending`](Self::offsets_pending) is false.
    pub(crate) fn send_offsets(
        &mut self,
        group: TxnGroupMetadata,
        offsets: Vec<(Key, i64)>,
    ) -> Result<(), String> {
        if self.state != TxnState::InTransaction {
            return Err(format!(
                "send_offsets_to_transaction in state {:?}: begin a transaction first",
                self.state
            ));
        }
        if self.offsets.is_some() {
            return Err("the previous send_offsets_to_transaction has not completed".to_owned());
        }
        self.offsets = Some((group, offsets));
        Ok(())
    }

    /// Whether offsets sent into the transaction wait to be committed in it.
    pub(crate) fn offsets_pending(&self) -> bool {
        self.offsets.is_some()
    }

    /// When the next retry is due, if one waits.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.retry_at
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

    /// Whether transaction version 2 is in use (partitions are added by
    /// Produce v12, the group by TxnOffsetCommit v5).
    pub(crate) fn tv2(&self) -> bool {
        self.tv2
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
            return Err(match &self.state {
                TxnState::Ready | TxnState::Uninitialized => {
                    "no transaction is open: call begin_transaction() first".to_owned()
                }
                TxnState::AbortableError(why) => format!("the transaction must be aborted ({why})"),
                TxnState::Committing | TxnState::Aborting => "the transaction is being completed".to_owned(),
                s => format!("cannot send in state {s:?}"),
            });
        }
        if self.added.contains(key) {
            return Ok(true);
        }
        if self.tv2 {
            self.added.insert(key.clone());
            return Ok(true);
        }
        if !self.adding.contains(key) {
            self.pending.insert(key.clone());
        }
        Ok(false)
    }

    /// Whether `key`'s new batches may be planned (retries of batches sent
    /// once always go: an abort waits for their outcome).
    pub(crate) fn may_send(&self, key: &Key) -> bool {
        matches!(self.state, TxnState::InTransaction | TxnState::Committing) && self.added.contains(key)
    }

    /// A batch of the transaction failed: it can only be aborted.
    pub(crate) fn batch_failed(&mut self, why: &str) {
        if matches!(self.state, TxnState::InTransaction | TxnState::Committing) && self.end.is_none() {
            self.state = TxnState::AbortableError(why.to_owned());
        }
        if matches!(self.state, TxnState::InTransaction | TxnState::Committing | TxnState::AbortableError(_))
        {
            self.rebump = true;
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
                self.offsets = None;
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
        let empty = self.added.is_empty()
            && self.adding.is_empty()
            && self.pending.is_empty()
            && self.groups.is_empty()
            && self.offsets.is_none();
        if matches!(self.state, TxnState::Committing | TxnState::Aborting) && outstanding == 0 && empty {
            // Nothing reached the coordinator: there is nothing to end (it
            // would answer INVALID_TXN_STATE), as Kafka's producer does.
            self.finish(self.state == TxnState::Committing, -1);
            return None;
        }
        let needs_coordinator =
            matches!(self.state, TxnState::Initializing | TxnState::Committing | TxnState::Aborting)
                || !self.pending.is_empty()
                || self.offsets.is_some();
        if needs_coordinator && self.coordinator.is_none() {
            return self.send(TxnRequest::FindCoordinator);
        }
        let req = match self.state {
            TxnState::Initializing => TxnRequest::InitProducerId { current: self.producer },
            // Partitions still to add go first, also once the commit was asked
            // for (their batches wait for them; EndTxn waits for the batches).
            // While aborting, pending partitions are those whose
            // AddPartitionsToTxn got no answer: asking again tells whether the
            // transaction holds them (then the abort must reach them).
            TxnState::InTransaction | TxnState::Committing | TxnState::Aborting
                if !self.pending.is_empty() =>
            {
                self.adding = std::mem::take(&mut self.pending);
                TxnRequest::AddPartitions(self.adding.iter().cloned().collect())
            }
            TxnState::InTransaction | TxnState::Committing if self.offsets.is_some() => {
                let Some((group, offsets)) = &self.offsets else { return None };
                // TV2: TxnOffsetCommit adds the group to the transaction itself.
                if self.tv2 || self.groups.contains(&group.group_id) {
                    TxnRequest::TxnOffsetCommit { group: group.clone(), offsets: offsets.clone() }
                } else {
                    TxnRequest::AddOffsets { group_id: group.group_id.clone() }
                }
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
        self.retry_after(self.backoff, now);
    }

    /// Retries after `base`, doubling with every attempt, at most 1 s.
    fn retry_after(&mut self, base: Duration, now: Instant) {
        self.attempts = self.attempts.saturating_add(1);
        let f = 1u32 << (self.attempts - 1).min(8);
        self.retry_at = Some(now + base.saturating_mul(f).min(Duration::from_secs(1)));
    }

    /// Another producer took the transactional id (PRODUCER_FENCED or
    /// INVALID_PRODUCER_EPOCH from a partition leader, too).
    pub(crate) fn fence(&mut self) {
        self.state = TxnState::Fenced;
        self.pending.clear();
        self.adding.clear();
        self.offsets = None;
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
            TxnResponse::InitProducerId { code, .. }
            | TxnResponse::EndTxn { code, .. }
            | TxnResponse::AddOffsets(code)
            | TxnResponse::TxnOffsetCommit(code) => *code,
            // The partition that failed, not the ones the broker then did
            // not attempt.
            TxnResponse::AddPartitions(parts) => parts
                .iter()
                .map(|(_, c)| *c)
                .filter(|c| c.is_err())
                .min_by_key(|c| *c == ErrorCode::OPERATION_NOT_ATTEMPTED)
                .unwrap_or(ErrorCode::NONE),
            TxnResponse::Lost(_) => ErrorCode::NONE,
        };
        let fencing = matches!(code, ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED);
        if self.state == TxnState::Aborting
            && code.is_err()
            && !fencing
            && matches!(
                req,
                TxnRequest::AddPartitions(_)
                    | TxnRequest::AddOffsets { .. }
                    | TxnRequest::TxnOffsetCommit { .. }
            )
        {
            // Refused while aborting: what it asked for is not in the
            // transaction, and the abort needs none of it.
            self.adding.clear();
            if matches!(code, ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE) {
                self.coordinator = None;
            }
            return;
        }
        if self.tv2
            && code == ErrorCode::INVALID_TXN_STATE
            && matches!(req, TxnRequest::EndTxn { commit: false })
            && self.attempts < TV2_ABORT_RETRIES
        {
            // TV2 lets an abort end a transaction the coordinator never saw,
            // but not while it still writes the previous one's markers:
            // that refusal goes once they are written.
            return self.retry_after(CONCURRENT_TRANSACTIONS_BACKOFF.min(self.backoff), now);
        }
        match code {
            ErrorCode::NONE => {}
            // The previous transaction's markers are being written, which
            // takes milliseconds: retry soon (Kafka's producer waits 20 ms).
            ErrorCode::CONCURRENT_TRANSACTIONS => {
                self.requeue(req);
                return self.retry_after(CONCURRENT_TRANSACTIONS_BACKOFF.min(self.backoff), now);
            }
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            | ErrorCode::REQUEST_TIMED_OUT => {
                self.requeue(req);
                return self.retry_later(now);
            }
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
                self.coordinator = None;
                self.requeue(req);
                return self.retry_later(now);
            }
            ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED => return self.fence(),
            // The group moved on without this member (a rebalance): its
            // offsets can't be committed, so neither can the transaction.
            ErrorCode::ILLEGAL_GENERATION
            | ErrorCode::UNKNOWN_MEMBER_ID
            | ErrorCode::FENCED_INSTANCE_ID
            | ErrorCode::GROUP_AUTHORIZATION_FAILED
                if self.state != TxnState::Aborting =>
            {
                self.offsets = None;
                self.state = TxnState::AbortableError(format!(
                    "the consumer group's offsets could not be committed in the transaction: {code}"
                ));
                return;
            }
            ErrorCode::TRANSACTION_ABORTABLE | ErrorCode::TOPIC_AUTHORIZATION_FAILED
                if self.state != TxnState::Aborting =>
            {
                self.adding.clear();
                self.state = TxnState::AbortableError(format!("the transaction coordinator answered {code}"));
                return;
            }
            c => {
                self.state = TxnState::FatalError(format!("the transaction coordinator answered {c}"));
                return;
            }
        }
        self.attempts = 0;
        match resp {
            TxnResponse::InitProducerId { producer_id, epoch, tv2, .. } => {
                self.producer = Some((producer_id, epoch));
                self.tv2 = tv2;
                self.rebump = false;
                self.state = TxnState::Ready;
            }
            TxnResponse::AddPartitions(parts) => {
                for (k, _) in parts {
                    self.adding.remove(&k);
                    self.added.insert(k);
                }
            }
            TxnResponse::AddOffsets(_) => {
                if let TxnRequest::AddOffsets { group_id } = req {
                    self.groups.insert(group_id);
                }
            }
            TxnResponse::TxnOffsetCommit(_) => {
                if let TxnRequest::TxnOffsetCommit { group, .. } = req {
                    self.groups.insert(group.group_id);
                }
                self.offsets = None;
            }
            TxnResponse::EndTxn { producer_id, epoch, .. } => {
                // EndTxn v5 answers with the id and epoch for the next
                // transaction: a broker with transaction.version 2 bumps the
                // epoch at every end (KIP-890), whichever way partitions
                // were added.
                if producer_id >= 0 {
                    self.producer = Some((producer_id, epoch));
                }
                self.finish(self.state == TxnState::Committing, producer_id);
            }
            _ => {}
        }
    }

    /// The transaction ended (`producer_id` ≥ 0: a v5 EndTxn bumped the epoch).
    fn finish(&mut self, committed: bool, producer_id: i64) {
        self.end = Some(committed);
        self.added.clear();
        self.groups.clear();
        self.offsets = None;
        self.state = if !committed && self.rebump && producer_id < 0 {
            TxnState::Initializing
        } else {
            self.rebump = false;
            TxnState::Ready
        };
    }

    /// `req` was refused with a retriable error: whatever it asked for is to
    /// be asked again. Partitions refused while aborting are not in the
    /// transaction and no batch of theirs will go: dropped.
    fn requeue(&mut self, req: TxnRequest) {
        if let TxnRequest::AddPartitions(keys) = req {
            if self.state != TxnState::Aborting {
                self.pending.extend(keys);
            }
            self.adding.clear();
        }
    }

    /// How the last transaction ended: Some(true) committed.
    #[cfg(test)]
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
            TxnResponse::InitProducerId { code: ErrorCode::NONE, producer_id: 7, epoch: 0, tv2 },
            now,
        );
        assert_eq!(m.state(), &TxnState::Ready);
        m
    }

    #[test]
    fn an_empty_transaction_ends_without_asking_the_coordinator() {
        let now = Instant::now();
        let mut m = ready(false, now);
        m.begin().unwrap();
        m.commit().unwrap();
        assert_eq!(m.poll_request(now, 0), None);
        assert_eq!((m.state(), m.last_end()), (&TxnState::Ready, Some(true)));
        m.begin().unwrap();
        m.abort().unwrap();
        assert_eq!(m.poll_request(now, 0), None);
        assert_eq!((m.state(), m.last_end()), (&TxnState::Ready, Some(false)));
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
    fn partitions_added_just_before_the_commit_are_still_added_first() {
        let now = Instant::now();
        let mut m = ready(false, now);
        m.begin().unwrap();
        assert!(!m.add_partition(&key(4)).unwrap());
        m.commit().unwrap();
        assert_eq!(m.poll_request(now, 1), Some(TxnRequest::AddPartitions(vec![key(4)])));
        m.handle_response(TxnResponse::AddPartitions(vec![(key(4), ErrorCode::NONE)]), now);
        assert!(m.may_send(&key(4)), "its batches may go while committing");
        assert_eq!(m.poll_request(now, 1), None, "the batch goes first");
        assert_eq!(m.poll_request(now, 0), Some(TxnRequest::EndTxn { commit: true }));
    }

    #[test]
    fn lost_commit_is_retried_as_a_commit_after_finding_the_coordinator() {
        let now = Instant::now();
        let mut m = ready(false, now);
        m.begin().unwrap();
        m.add_partition(&key(0)).unwrap();
        assert!(m.poll_request(now, 0).is_some());
        m.handle_response(TxnResponse::AddPartitions(vec![(key(0), ErrorCode::NONE)]), now);
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
        m.handle_response(
            TxnResponse::AddPartitions(vec![(key(1), ErrorCode::CONCURRENT_TRANSACTIONS)]),
            now,
        );
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
        m.add_partition(&key(0)).unwrap();
        m.commit().unwrap();
        assert_eq!(m.poll_request(now, 0), Some(TxnRequest::EndTxn { commit: true }));
        m.handle_response(
            TxnResponse::EndTxn { code: ErrorCode::TRANSACTION_ABORTABLE, producer_id: -1, epoch: -1 },
            now,
        );
        assert!(matches!(m.state(), TxnState::AbortableError(_)));
    }

    #[test]
    fn tv2_commits_offsets_without_add_offsets_and_retries_an_abort_refused_mid_completion() {
        let now = Instant::now();
        let mut m = ready(true, now);
        assert!(m.tv2());
        m.begin().unwrap();
        let group = TxnGroupMetadata::new("g");
        m.send_offsets(group.clone(), vec![(key(0), 5)]).unwrap();
        let Some(TxnRequest::TxnOffsetCommit { offsets, .. }) = m.poll_request(now, 0) else {
            panic!("TV2 sends TxnOffsetCommit without AddOffsetsToTxn");
        };
        assert_eq!(offsets, vec![(key(0), 5)]);
        m.handle_response(TxnResponse::TxnOffsetCommit(ErrorCode::NONE), now);
        m.commit().unwrap();
        assert_eq!(m.poll_request(now, 0), Some(TxnRequest::EndTxn { commit: true }), "the group is in it");
        m.handle_response(TxnResponse::EndTxn { code: ErrorCode::NONE, producer_id: 7, epoch: 1 }, now);
        m.begin().unwrap();
        assert!(m.add_partition(&key(1)).unwrap());
        m.abort().unwrap();
        assert_eq!(m.poll_request(now, 0), Some(TxnRequest::EndTxn { commit: false }));
        // The previous transaction's markers are still being written.
        m.handle_response(
            TxnResponse::EndTxn { code: ErrorCode::INVALID_TXN_STATE, producer_id: -1, epoch: -1 },
            now,
        );
        assert_eq!(m.state(), &TxnState::Aborting);
        let later = now + Duration::from_millis(50);
        assert_eq!(m.poll_request(later, 0), Some(TxnRequest::EndTxn { commit: false }));
        m.handle_response(TxnResponse::EndTxn { code: ErrorCode::NONE, producer_id: 7, epoch: 2 }, later);
        assert_eq!((m.state(), m.producer()), (&TxnState::Ready, Some((7, 2))));
    }
}
