//! The simulated transaction coordinator, after Kafka's
//! `TransactionCoordinator` / `TransactionMetadata` (classic protocol, and
//! the epoch bump at every EndTxn that transaction version 2 brings):
//!
//! - InitProducerId fences: every call bumps the id's epoch; one that finds
//!   a transaction ongoing aborts it first (markers at the bumped epoch) and
//!   answers CONCURRENT_TRANSACTIONS until the abort is complete; the
//!   current id and epoch (KIP-360) must match, or the caller is fenced; a
//!   retry of a bump that already happened gets the same answer.
//! - AddPartitionsToTxn / AddOffsetsToTxn start or extend the transaction;
//!   an older epoch is PRODUCER_FENCED; during a commit or abort whose
//!   markers are not written yet, CONCURRENT_TRANSACTIONS.
//! - EndTxn moves to PrepareCommit/PrepareAbort and answers; the markers
//!   are written later ([`SimCluster::complete_transactions`]). A retried
//!   EndTxn with the same result succeeds, the other result is
//!   INVALID_TXN_STATE; with nothing ongoing, INVALID_TXN_STATE.
//! - A transaction open longer than its timeout is aborted by the
//!   coordinator with a bumped epoch (the producer is fenced).
//! - TxnOffsetCommit (to the group coordinator) checks the member's
//!   generation (KIP-447) and stays pending until the commit marker.
//! - A partition leader writes a transactional batch only for a producer
//!   whose transaction holds that partition at that epoch (KIP-890 part 1).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kwire_proto::ErrorCode;

use super::{NO_EPOCH, ProducerEntry, Refusal, SimCluster, Stored};

/// What the coordinator holds per transactional id.
#[derive(Debug, Clone)]
pub(crate) struct SimTxn {
    pub producer_id: i64,
    pub epoch: i16,
    /// The epoch before the last InitProducerId bump (its retry gets the same answer).
    prev_init_epoch: Option<i16>,
    /// The epoch before the last EndTxn bump (TV2).
    prev_end_epoch: Option<i16>,
    state: CoordState,
    partitions: BTreeSet<(String, i32)>,
    groups: BTreeSet<String>,
    /// (group, topic, partition) → offset, committed with the transaction.
    pending_offsets: BTreeMap<(String, String, i32), i64>,
    started: Option<Instant>,
    /// Answer InitProducerId with this when the abort it started is complete.
    fencing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CoordState {
    Empty,
    Ongoing,
    /// EndTxn answered; markers not written yet.
    Prepare(bool),
    Complete(bool),
}

/// The coordinator (one for every transactional id).
#[derive(Debug)]
pub(crate) struct TxnCoordinator {
    /// The broker it lives on (requests elsewhere: NOT_COORDINATOR).
    pub broker: i32,
    /// `transaction.timeout.ms`.
    pub timeout: Duration,
    /// EndTxn bumps the epoch and answers with it (a Kafka 4 coordinator
    /// answering EndTxn v5).
    pub end_bumps: bool,
    /// Transaction version 2: a transactional batch adds its partition to
    /// the transaction, TxnOffsetCommit its group, EndTxn bumps the epoch, and
    /// an abort with nothing ongoing is allowed (it bumps the epoch too).
    pub tv2: bool,
    next_producer_id: i64,
    ids: BTreeMap<String, SimTxn>,
    /// group → its current generation.
    pub generations: BTreeMap<String, i32>,
    /// (group, topic, partition) → committed offset.
    pub group_offsets: BTreeMap<(String, String, i32), i64>,
    /// Every value a group offset took, in order.
    pub offset_history: Vec<((String, String, i32), i64)>,
    /// Transactional batches refused because their partition was not in the
    /// producer's transaction: (producer id, epoch, topic, partition).
    pub unverified: Vec<(i64, i16, String, i32)>,
}

impl Default for TxnCoordinator {
    fn default() -> Self {
        TxnCoordinator {
            broker: 1,
            timeout: Duration::from_secs(60),
            end_bumps: false,
            tv2: false,
            next_producer_id: 5000,
            ids: BTreeMap::new(),
            generations: BTreeMap::new(),
            group_offsets: BTreeMap::new(),
            offset_history: Vec::new(),
            unverified: Vec::new(),
        }
    }
}

impl SimTxn {
    /// A new transaction begins.
    fn start(&mut self, now: Instant) {
        self.state = CoordState::Ongoing;
        self.started = Some(now);
        self.partitions.clear();
        self.groups.clear();
        self.pending_offsets.clear();
    }
}

/// The epoch check shared by the coordinator's requests.
fn check_epoch(t: &SimTxn, producer_id: i64, epoch: i16) -> Result<(), ErrorCode> {
    if producer_id != t.producer_id {
        return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
    }
    if epoch < t.epoch {
        return Err(ErrorCode::PRODUCER_FENCED);
    }
    if epoch > t.epoch {
        return Err(ErrorCode::INVALID_PRODUCER_EPOCH);
    }
    Ok(())
}

impl TxnCoordinator {
    /// The partition leader's verification of a transactional batch (with
    /// TV2: the implicit AddPartitionsToTxn it makes).
    pub(super) fn verify(
        &mut self,
        pid: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
        now: Instant,
    ) -> Result<(), Refusal> {
        let tv2 = self.tv2;
        let Some(t) = self.ids.values_mut().find(|t| t.producer_id == pid) else {
            return Err((ErrorCode::INVALID_PRODUCER_ID_MAPPING, format!("no transactional producer {pid}")));
        };
        if epoch < t.epoch {
            let msg = format!("epoch {epoch} is older than the current epoch {}", t.epoch);
            return Err((ErrorCode::INVALID_PRODUCER_EPOCH, msg));
        }
        let key = (topic.to_owned(), partition);
        if tv2 && t.epoch == epoch {
            match t.state {
                CoordState::Prepare(_) => {
                    let msg = "the previous transaction is being completed".to_owned();
                    return Err((ErrorCode::CONCURRENT_TRANSACTIONS, msg));
                }
                CoordState::Empty | CoordState::Complete(_) => t.start(now),
                CoordState::Ongoing => {}
            }
            t.partitions.insert(key);
            return Ok(());
        }
        if t.epoch != epoch || t.state != CoordState::Ongoing || !t.partitions.contains(&key) {
            self.unverified.push((pid, epoch, topic.to_owned(), partition));
            let msg =
                format!("{topic}-{partition} is not in an ongoing transaction of producer {pid}/{epoch}");
            return Err((ErrorCode::INVALID_TXN_STATE, msg));
        }
        Ok(())
    }

    /// The transactions of `id` as the coordinator sees them (tests).
    pub(crate) fn get(&self, id: &str) -> Option<&SimTxn> {
        self.ids.get(id)
    }
}

impl SimCluster {
    fn coordinator_here(&self, broker: i32) -> Result<(), ErrorCode> {
        if broker == self.txn.broker { Ok(()) } else { Err(ErrorCode::NOT_COORDINATOR) }
    }

    /// InitProducerId with a transactional id, sent to `broker`.
    pub(crate) fn init_producer_id(
        &mut self,
        broker: i32,
        id: &str,
        current: Option<(i64, i16)>,
        now: Instant,
    ) -> Result<(i64, i16), ErrorCode> {
        self.coordinator_here(broker)?;
        self.expire_transactions(now);
        let Some(t) = self.txn.ids.get_mut(id) else {
            let pid = self.txn.next_producer_id;
            self.txn.next_producer_id += 1;
            let fresh = SimTxn {
                producer_id: pid,
                epoch: 0,
                prev_init_epoch: None,
                prev_end_epoch: None,
                state: CoordState::Empty,
                partitions: BTreeSet::new(),
                groups: BTreeSet::new(),
                pending_offsets: BTreeMap::new(),
                started: None,
                fencing: false,
            };
            self.txn.ids.insert(id.to_owned(), fresh);
            return Ok((pid, 0));
        };
        if let Some((pid, epoch)) = current {
            if pid != t.producer_id {
                return Err(ErrorCode::PRODUCER_FENCED);
            }
            if Some(epoch) == t.prev_init_epoch
                && matches!(t.state, CoordState::Empty | CoordState::Complete(_))
            {
                // The answer to this very call was lost: the same again.
                return Ok((t.producer_id, t.epoch));
            }
            if epoch != t.epoch {
                return Err(ErrorCode::PRODUCER_FENCED);
            }
        }
        match t.state {
            CoordState::Prepare(_) => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
            CoordState::Ongoing => {
                // Fence the old epoch and abort what it left open.
                t.epoch += 1;
                t.state = CoordState::Prepare(false);
                t.fencing = true;
                Err(ErrorCode::CONCURRENT_TRANSACTIONS)
            }
            CoordState::Empty | CoordState::Complete(_) => {
                t.prev_init_epoch = Some(t.epoch);
                t.epoch += 1;
                t.fencing = false;
                Ok((t.producer_id, t.epoch))
            }
        }
    }

    /// The transaction `id` at (`pid`, `epoch`), ready to take partitions or
    /// groups: Ongoing (started now if it was not).
    fn ongoing(
        &mut self,
        broker: i32,
        id: &str,
        pid: i64,
        epoch: i16,
        now: Instant,
    ) -> Result<&mut SimTxn, ErrorCode> {
        self.coordinator_here(broker)?;
        self.expire_transactions(now);
        let t = self.txn.ids.get_mut(id).ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
        check_epoch(t, pid, epoch)?;
        match t.state {
            CoordState::Prepare(_) => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
            CoordState::Ongoing => Ok(t),
            CoordState::Empty | CoordState::Complete(_) => {
                t.start(now);
                Ok(t)
            }
        }
    }

    /// AddPartitionsToTxn: the code per partition.
    pub(crate) fn add_partitions(
        &mut self,
        broker: i32,
        id: &str,
        (pid, epoch): (i64, i16),
        parts: &[(String, i32)],
        now: Instant,
    ) -> Vec<ErrorCode> {
        let unknown: Vec<bool> = parts.iter().map(|(t, p)| self.part(t, *p).is_none()).collect();
        if unknown.iter().any(|u| *u) {
            let codes = unknown.iter().map(|u| {
                if *u { ErrorCode::UNKNOWN_TOPIC_OR_PARTITION } else { ErrorCode::OPERATION_NOT_ATTEMPTED }
            });
            return codes.collect();
        }
        match self.ongoing(broker, id, pid, epoch, now) {
            Ok(t) => {
                t.partitions.extend(parts.iter().cloned());
                vec![ErrorCode::NONE; parts.len()]
            }
            Err(code) => vec![code; parts.len()],
        }
    }

    /// AddOffsetsToTxn.
    pub(crate) fn add_offsets(
        &mut self,
        broker: i32,
        id: &str,
        (pid, epoch): (i64, i16),
        group: &str,
        now: Instant,
    ) -> ErrorCode {
        match self.ongoing(broker, id, pid, epoch, now) {
            Ok(t) => {
                t.groups.insert(group.to_owned());
                ErrorCode::NONE
            }
            Err(code) => code,
        }
    }

    /// TxnOffsetCommit, to the group coordinator (any broker here).
    pub(crate) fn txn_offset_commit(
        &mut self,
        id: &str,
        (pid, epoch): (i64, i16),
        group: &str,
        generation: i32,
        offsets: &[(String, i32, i64)],
        now: Instant,
    ) -> ErrorCode {
        self.expire_transactions(now);
        let current = self.txn.generations.get(group).copied().unwrap_or(-1);
        if generation >= 0 && generation != current {
            return ErrorCode::ILLEGAL_GENERATION;
        }
        let Some(t) = self.txn.ids.get_mut(id) else { return ErrorCode::INVALID_PRODUCER_ID_MAPPING };
        if epoch < t.epoch {
            return ErrorCode::PRODUCER_FENCED;
        }
        if self.txn.tv2 && t.epoch == epoch && t.producer_id == pid {
            match t.state {
                CoordState::Prepare(_) => return ErrorCode::CONCURRENT_TRANSACTIONS,
                CoordState::Empty | CoordState::Complete(_) => t.start(now),
                CoordState::Ongoing => {}
            }
            t.groups.insert(group.to_owned());
        }
        if t.epoch != epoch
            || t.producer_id != pid
            || t.state != CoordState::Ongoing
            || !t.groups.contains(group)
        {
            return ErrorCode::INVALID_TXN_STATE;
        }
        for (topic, p, o) in offsets {
            t.pending_offsets.insert((group.to_owned(), topic.clone(), *p), *o);
        }
        ErrorCode::NONE
    }

    /// EndTxn: the code, and (TV2) the producer id and epoch for the next
    /// transaction (-1, -1 otherwise).
    pub(crate) fn end_txn(
        &mut self,
        broker: i32,
        id: &str,
        (pid, epoch): (i64, i16),
        commit: bool,
        now: Instant,
    ) -> (ErrorCode, i64, i16) {
        if let Err(code) = self.coordinator_here(broker) {
            return (code, -1, -1);
        }
        self.expire_transactions(now);
        let (tv2, bumps) = (self.txn.tv2, self.txn.end_bumps || self.txn.tv2);
        let Some(t) = self.txn.ids.get_mut(id) else {
            return (ErrorCode::INVALID_PRODUCER_ID_MAPPING, -1, -1);
        };
        let answer = |t: &SimTxn| {
            if bumps { (ErrorCode::NONE, t.producer_id, t.epoch) } else { (ErrorCode::NONE, -1, -1) }
        };
        // A retry of an EndTxn that bumped the epoch (TV2).
        if bumps && pid == t.producer_id && Some(epoch) == t.prev_end_epoch {
            return match t.state {
                CoordState::Complete(c) | CoordState::Prepare(c) if c == commit && !t.fencing => answer(t),
                CoordState::Empty => (ErrorCode::PRODUCER_FENCED, -1, -1),
                _ => (ErrorCode::INVALID_TXN_STATE, -1, -1),
            };
        }
        if let Err(code) = check_epoch(t, pid, epoch) {
            return (code, -1, -1);
        }
        match t.state {
            // TV2: the client may not know whether anything reached the
            // transaction; an abort of nothing bumps the epoch.
            CoordState::Empty | CoordState::Complete(_) if tv2 && !commit => {
                t.prev_end_epoch = Some(t.epoch);
                t.epoch += 1;
                t.state = CoordState::Complete(false);
                answer(t)
            }
            CoordState::Ongoing => {
                t.state = CoordState::Prepare(commit);
                if bumps {
                    t.prev_end_epoch = Some(t.epoch);
                    t.epoch += 1;
                }
                answer(t)
            }
            CoordState::Prepare(c) if c == commit => (ErrorCode::CONCURRENT_TRANSACTIONS, -1, -1),
            CoordState::Complete(c) if c == commit && !bumps => answer(t),
            _ => (ErrorCode::INVALID_TXN_STATE, -1, -1),
        }
    }

    /// Aborts (bumping the epoch) every transaction open longer than the timeout.
    pub(crate) fn expire_transactions(&mut self, now: Instant) {
        let timeout = self.txn.timeout;
        for t in self.txn.ids.values_mut() {
            if t.state == CoordState::Ongoing && t.started.is_some_and(|s| s + timeout <= now) {
                t.epoch += 1;
                t.state = CoordState::Prepare(false);
                t.fencing = true;
            }
        }
    }

    /// Writes the markers of every transaction being completed.
    pub(crate) fn complete_transactions(&mut self) {
        let ids: Vec<String> = self.txn.ids.keys().cloned().collect();
        for id in ids {
            self.complete_transaction(&id);
        }
    }

    /// Writes the markers of `id`'s transaction if it is being completed.
    pub(crate) fn complete_transaction(&mut self, id: &str) {
        let Some(t) = self.txn.ids.get_mut(id) else { return };
        let CoordState::Prepare(commit) = t.state else { return };
        t.state = CoordState::Complete(commit);
        let (pid, epoch) = (t.producer_id, t.epoch);
        let parts = std::mem::take(&mut t.partitions);
        let offsets = std::mem::take(&mut t.pending_offsets);
        t.groups.clear();
        t.started = None;
        if commit {
            for (k, o) in offsets {
                self.txn.offset_history.push((k.clone(), o));
                self.txn.group_offsets.insert(k, o);
            }
        }
        for (topic, p) in parts {
            self.write_marker(&topic, p, pid, epoch, commit);
        }
    }

    fn write_marker(&mut self, topic: &str, partition: i32, pid: i64, epoch: i16, commit: bool) {
        let part = self.part_mut(topic, partition);
        let offset = part.log_end();
        part.log.push(Stored {
            offset,
            producer_id: pid,
            epoch,
            sequence: -1,
            value: None,
            transactional: true,
            control: Some(commit),
        });
        let entry = part.producers.entry(pid).or_insert(ProducerEntry::EMPTY);
        if entry.epoch == NO_EPOCH || epoch > entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
    }

    /// What a read_committed consumer reads from a partition: records not
    /// written in a transaction, and those of committed transactions (a
    /// record belongs to the first marker of its producer after it). Also
    /// returns how many transactional records have no marker yet.
    pub(crate) fn read_committed(&self, topic: &str, partition: i32) -> (Vec<Stored>, usize) {
        let log = self.log(topic, partition);
        let mut out = Vec::new();
        let mut open = 0;
        for (i, r) in log.iter().enumerate() {
            if r.control.is_some() {
                continue;
            }
            if !r.transactional {
                out.push(r.clone());
                continue;
            }
            let marker = log[i + 1..].iter().find(|m| m.producer_id == r.producer_id && m.control.is_some());
            match marker.and_then(|m| m.control) {
                Some(true) => out.push(r.clone()),
                Some(false) => {}
                None => open += 1,
            }
        }
        (out, open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use bytes::Bytes;
    use kwire_proto::records::{BatchOptions, RecordBatchBuilder};

    fn txn_batch(pid: i64, epoch: i16, seq: i32, values: &[&str]) -> Bytes {
        let mut b = RecordBatchBuilder::new(BatchOptions::default().transactional(true));
        b.set_producer_state(pid, epoch, seq);
        for v in values {
            b.append(1, None, Some(v.as_bytes()), &[]).expect("append");
        }
        b.finish().expect("finish").into_bytes()
    }

    fn produce(c: &mut SimCluster, p: i32, data: Bytes) -> ErrorCode {
        let leader = c.leader("t", p).expect("leader");
        c.produce(leader, &[(Arc::from("t"), p, data)], Instant::now()).topics[0].1[0].error_code
    }

    fn visible(c: &SimCluster, p: i32) -> Vec<String> {
        let (recs, _) = c.read_committed("t", p);
        recs.iter()
            .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
            .collect()
    }

    fn t0() -> (String, i32) {
        ("t".to_owned(), 0)
    }

    #[test]
    fn commit_and_abort_decide_what_read_committed_sees() {
        let now = Instant::now();
        let mut c = SimCluster::new(1, &[("t", 1)]);
        let (pid, e) = c.init_producer_id(1, "tx", None, now).unwrap();
        // Not added yet: refused (verification).
        assert_eq!(produce(&mut c, 0, txn_batch(pid, e, 0, &["early"])), ErrorCode::INVALID_TXN_STATE);
        assert_eq!(c.txn.unverified.len(), 1);
        assert_eq!(c.add_partitions(1, "tx", (pid, e), &[t0()], now), [ErrorCode::NONE]);
        assert_eq!(produce(&mut c, 0, txn_batch(pid, e, 0, &["a", "b"])), ErrorCode::NONE);
        assert_eq!(c.read_committed("t", 0).1, 2, "open until the marker");
        assert_eq!(c.end_txn(1, "tx", (pid, e), true, now).0, ErrorCode::NONE);
        assert_eq!(c.end_txn(1, "tx", (pid, e), true, now).0, ErrorCode::CONCURRENT_TRANSACTIONS);
        assert_eq!(c.add_partitions(1, "tx", (pid, e), &[t0()], now), [ErrorCode::CONCURRENT_TRANSACTIONS]);
        c.complete_transactions();
        assert_eq!(c.end_txn(1, "tx", (pid, e), true, now).0, ErrorCode::NONE, "a retried commit");
        assert_eq!(c.end_txn(1, "tx", (pid, e), false, now).0, ErrorCode::INVALID_TXN_STATE);
        assert_eq!(visible(&c, 0), ["a", "b"]);
        assert_eq!(c.add_partitions(1, "tx", (pid, e), &[t0()], now), [ErrorCode::NONE]);
        assert_eq!(produce(&mut c, 0, txn_batch(pid, e, 2, &["c"])), ErrorCode::NONE);
        assert_eq!(c.end_txn(1, "tx", (pid, e), false, now).0, ErrorCode::NONE);
        c.complete_transactions();
        assert_eq!(visible(&c, 0), ["a", "b"]);
        assert_eq!(c.read_committed("t", 0).1, 0);
        assert_eq!(c.end_txn(1, "tx", (pid, e), false, now).0, ErrorCode::NONE);
        assert_eq!(c.end_txn(2, "tx", (pid, e), false, now).0, ErrorCode::NOT_COORDINATOR);
    }

    #[test]
    fn a_new_instance_fences_the_old_and_aborts_its_open_transaction() {
        let now = Instant::now();
        let mut c = SimCluster::new(1, &[("t", 1)]);
        let (pid, e) = c.init_producer_id(1, "tx", None, now).unwrap();
        c.add_partitions(1, "tx", (pid, e), &[t0()], now);
        assert_eq!(produce(&mut c, 0, txn_batch(pid, e, 0, &["zombie"])), ErrorCode::NONE);
        assert_eq!(c.init_producer_id(1, "tx", None, now), Err(ErrorCode::CONCURRENT_TRANSACTIONS));
        c.complete_transactions();
        let (pid2, e2) = c.init_producer_id(1, "tx", None, now).unwrap();
        assert_eq!((pid2, e2), (pid, e + 2));
        assert_eq!(produce(&mut c, 0, txn_batch(pid, e, 1, &["late"])), ErrorCode::INVALID_PRODUCER_EPOCH);
        assert_eq!(c.end_txn(1, "tx", (pid, e), true, now).0, ErrorCode::PRODUCER_FENCED);
        assert_eq!(c.init_producer_id(1, "tx", Some((pid, e)), now), Err(ErrorCode::PRODUCER_FENCED));
        assert!(visible(&c, 0).is_empty());
        // The new epoch starts at sequence 0 after the fencing marker.
        c.add_partitions(1, "tx", (pid2, e2), &[t0()], now);
        assert_eq!(
            produce(&mut c, 0, txn_batch(pid2, e2, 3, &["x"])),
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
        );
        assert_eq!(produce(&mut c, 0, txn_batch(pid2, e2, 0, &["x"])), ErrorCode::NONE);
    }

    #[test]
    fn timeouts_abort_and_fence_and_tv2_bumps_at_every_end() {
        let now = Instant::now();
        let mut c = SimCluster::new(1, &[("t", 1)]);
        c.txn.timeout = Duration::from_secs(1);
        c.txn.end_bumps = true;
        let (pid, e) = c.init_producer_id(1, "tx", None, now).unwrap();
        c.add_partitions(1, "tx", (pid, e), &[t0()], now);
        assert_eq!(produce(&mut c, 0, txn_batch(pid, e, 0, &["a"])), ErrorCode::NONE);
        assert_eq!(c.end_txn(1, "tx", (pid, e), true, now), (ErrorCode::NONE, pid, e + 1));
        assert_eq!(c.end_txn(1, "tx", (pid, e), true, now), (ErrorCode::NONE, pid, e + 1), "retry");
        c.complete_transactions();
        assert_eq!(visible(&c, 0), ["a"]);
        let e = e + 1;
        c.add_partitions(1, "tx", (pid, e), &[t0()], now);
        let later = now + Duration::from_secs(2);
        assert_eq!(c.end_txn(1, "tx", (pid, e), true, later).0, ErrorCode::PRODUCER_FENCED, "timed out");
        c.complete_transactions();
        assert_eq!(c.read_committed("t", 0).1, 0);
    }

    #[test]
    fn offsets_commit_with_the_transaction_and_check_the_generation() {
        let now = Instant::now();
        let mut c = SimCluster::new(1, &[("t", 1)]);
        c.txn.generations.insert("g".into(), 3);
        let (pid, e) = c.init_producer_id(1, "tx", None, now).unwrap();
        let offs = [("in".to_owned(), 0, 10)];
        assert_eq!(c.txn_offset_commit("tx", (pid, e), "g", 3, &offs, now), ErrorCode::INVALID_TXN_STATE);
        assert_eq!(c.add_offsets(1, "tx", (pid, e), "g", now), ErrorCode::NONE);
        assert_eq!(c.txn_offset_commit("tx", (pid, e), "g", 2, &offs, now), ErrorCode::ILLEGAL_GENERATION);
        assert_eq!(c.txn_offset_commit("tx", (pid, e), "g", 3, &offs, now), ErrorCode::NONE);
        assert!(c.txn.group_offsets.is_empty());
        c.end_txn(1, "tx", (pid, e), false, now);
        c.complete_transactions();
        assert!(c.txn.group_offsets.is_empty(), "aborted offsets are never committed");
        c.add_offsets(1, "tx", (pid, e), "g", now);
        c.txn_offset_commit("tx", (pid, e), "g", 3, &offs, now);
        c.end_txn(1, "tx", (pid, e), true, now);
        c.complete_transactions();
        assert_eq!(c.txn.group_offsets.values().copied().collect::<Vec<_>>(), [10]);
        assert_eq!(c.txn.get("tx").map(|t| t.epoch), Some(e));
    }
}
