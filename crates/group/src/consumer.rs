//! [`GroupConsumer`]: group membership composed with the fetcher. Partitions
//! the group assigns start from the group's committed offsets (else
//! `auto.offset.reset`); revoked ones stop fetching and get their processed
//! offsets committed before the rebalance goes on; lost ones are dropped
//! without a commit.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use kwire_fetch::{
    ConsumerRecord, FetchEvent, FetchedChunk, Fetcher, IsolationLevel, OffsetReset, OffsetSpec, RecordBuffer,
    StartOffset, TopicPartition, list_offsets,
};
use kwire_meta::{Cluster, MetaError};
use kwire_proto::msg::txn::TxnGroupMetadata;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::driver::{Cmd, Driver};
use crate::member::MemberEvent;
use crate::{GroupConfig, GroupError};

/// What [`GroupConsumer::next`] returns.
#[derive(Debug, Clone)]
pub enum GroupEvent {
    /// Records of one partition.
    Records(FetchedChunk),
    /// Partitions newly assigned to this member (Kafka's `onPartitionsAssigned`).
    Assigned(Vec<TopicPartition>),
    /// Partitions taken away in a rebalance (`onPartitionsRevoked`): no more
    /// records come for them. Mark what was processed now; the offsets are
    /// committed (with auto-commit) when [`GroupConsumer::next`] is called again,
    /// and only then does the rebalance go on.
    Revoked(Vec<TopicPartition>),
    /// Partitions lost (`onPartitionsLost`): this member was fenced or timed
    /// out, another may own them already; nothing is committed for them.
    Lost(Vec<TopicPartition>),
    /// A position was out of range and was reset by `auto.offset.reset`.
    Reset {
        /// The partition.
        tp: Arc<TopicPartition>,
        /// Old position.
        from: i64,
        /// New position.
        to: i64,
    },
}

/// Callbacks on rebalances, called from inside [`GroupConsumer::next`] (and
/// `close`) right before the matching [`GroupEvent`] is returned.
pub trait RebalanceListener: Send {
    /// Partitions were assigned.
    fn on_partitions_assigned(&mut self, _partitions: &[TopicPartition]) {}
    /// Partitions are being revoked (commit happens after the event is handled).
    fn on_partitions_revoked(&mut self, _partitions: &[TopicPartition]) {}
    /// Partitions were lost.
    fn on_partitions_lost(&mut self, _partitions: &[TopicPartition]) {}
}

type CommitReply = oneshot::Receiver<Result<(), GroupError>>;

#[derive(Debug, Clone, Copy)]
struct Position {
    /// Next offset to commit (everything before it is processed).
    processed: i64,
    /// Last committed offset known.
    committed: Option<i64>,
}

/// A member of a consumer group that reads its assigned partitions.
///
/// ```no_run
/// # async fn demo() -> Result<(), kwire_group::GroupError> {
/// use kwire_group::{GroupConfig, GroupConsumer, GroupEvent};
/// use kwire_meta::{Cluster, ClusterConfig};
///
/// let cluster = Cluster::new(ClusterConfig::default());
/// let mut cfg = GroupConfig::new("voters-app");
/// cfg.auto_offset_store = false; // commit only what was processed
/// let mut consumer = GroupConsumer::subscribe(cluster, cfg, vec!["voters".into()])?;
/// loop {
///     match consumer.next().await? {
///         GroupEvent::Records(chunk) => {
///             let mut last = None;
///             chunk.for_each_record(|_batch, rec| {
///                 // ... process rec ...
///                 last = Some(rec.offset);
///                 std::ops::ControlFlow::Continue(())
///             })?;
///             consumer.mark_processed(&chunk.tp, chunk.next_offset);
///         }
///         GroupEvent::Assigned(p) => println!("assigned {p:?}"),
///         _ => {}
///     }
/// }
/// # }
/// ```
pub struct GroupConsumer {
    cluster: Cluster,
    cfg: GroupConfig,
    fetcher: Fetcher,
    cmd: mpsc::UnboundedSender<Cmd>,
    events: mpsc::UnboundedReceiver<MemberEvent>,
    positions: BTreeMap<TopicPartition, Position>,
    pending: VecDeque<GroupEvent>,
    revoking: Option<(u64, Vec<TopicPartition>)>,
    /// Assigned partitions whose start offsets are being looked up.
    starting: Option<Vec<TopicPartition>>,
    last_chunk: Option<(Arc<TopicPartition>, i64)>,
    next_auto_commit: Instant,
    auto_commit: Option<(CommitReply, BTreeMap<TopicPartition, i64>)>,
    listener: Option<Box<dyn RebalanceListener>>,
    failed: Option<GroupError>,
    /// Records of the last chunk not yet handed out by `poll`.
    buffer: RecordBuffer,
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("group", &self.cfg.group_id)
            .field("assignment", &self.positions.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Tells the membership task whether the application is inside `next()`;
/// `max.poll.interval.ms` only runs while it is outside.
struct PollGuard(mpsc::UnboundedSender<Cmd>);

impl PollGuard {
    fn enter(tx: &mpsc::UnboundedSender<Cmd>) -> Self {
        let _ = tx.send(Cmd::Poll { waiting: true });
        PollGuard(tx.clone())
    }
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        let _ = self.0.send(Cmd::Poll { waiting: false });
    }
}

impl GroupConsumer {
    /// Joins `cfg.group_id` subscribed to `topics` (on the current tokio
    /// runtime). Membership starts at once in a background task; records and
    /// rebalance events come from [`next`](Self::next).
    pub fn subscribe(cluster: Cluster, cfg: GroupConfig, topics: Vec<String>) -> Result<Self, GroupError> {
        cfg.validate().map_err(GroupError::Invalid)?;
        cfg.fetch.validate()?;
        if topics.is_empty() {
            return Err(GroupError::Invalid("subscribe to at least one topic".into()));
        }
        let buffer = RecordBuffer::with_run(cfg.fetch.max_poll_records);
        let mut fetch = cfg.fetch.clone();
        fetch.reset = cfg.auto_offset_reset;
        let fetcher = Fetcher::start(cluster.clone(), fetch);
        let (cmd, events) = Driver::spawn(cluster.clone(), cfg.clone(), topics);
        Ok(GroupConsumer {
            cluster,
            next_auto_commit: Instant::now() + cfg.auto_commit_interval,
            cfg,
            fetcher,
            cmd,
            events,
            positions: BTreeMap::new(),
            pending: VecDeque::new(),
            revoking: None,
            starting: None,
            last_chunk: None,
            auto_commit: None,
            listener: None,
            failed: None,
            buffer,
        })
    }

    /// Sets the rebalance callbacks.
    pub fn set_listener(&mut self, listener: Box<dyn RebalanceListener>) {
        self.listener = Some(listener);
    }

    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.cfg.group_id
    }

    /// Partitions currently assigned to this member.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.positions.keys().cloned().collect()
    }

    /// The offset that would be committed for `tp` (next offset after the processed records).
    pub fn processed(&self, tp: &TopicPartition) -> Option<i64> {
        self.positions.get(tp).map(|p| p.processed)
    }

    /// Records that everything before `next_offset` in `tp` is processed, so a
    /// commit covers it. Offsets only move forward; unassigned partitions are ignored.
    pub fn mark_processed(&mut self, tp: &TopicPartition, next_offset: i64) {
        if let Some(p) = self.positions.get_mut(tp) {
            p.processed = p.processed.max(next_offset);
        }
    }

    /// The next records or rebalance event. Heartbeats do not depend on how
    /// often this is called; but if the application stays away from it longer
    /// than `max.poll.interval.ms`, the member leaves the group (its
    /// partitions are then [`Lost`](GroupEvent::Lost)) and rejoins on the next call.
    pub async fn next(&mut self) -> Result<GroupEvent, GroupError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let _guard = PollGuard::enter(&self.cmd);
        self.auto_store();
        self.finish_revoke().await;
        self.finish_start().await?;
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Ok(ev);
            }
            self.maybe_auto_commit();
            let auto_commit_at =
                (self.cfg.auto_commit && self.auto_commit.is_none()).then_some(self.next_auto_commit);
            tokio::select! {
                biased;
                ev = self.events.recv() => match ev {
                    Some(ev) => self.on_member_event(ev).await?,
                    None => {
                        let e = self.failed.clone().unwrap_or(GroupError::Closed);
                        self.failed = Some(e.clone());
                        return Err(e);
                    }
                },
                r = async { match &mut self.auto_commit { Some((rx, _)) => rx.await, None => std::future::pending().await } },
                    if self.auto_commit.is_some() => {
                    let offsets = self.auto_commit.take().map(|(_, o)| o).unwrap_or_default();
                    match r {
                        Ok(Ok(())) => self.committed(&offsets),
                        Ok(Err(e)) => log_commit_failure(&self.cfg.group_id, &e),
                        Err(_) => {}
                    }
                }
                ev = self.fetcher.next() => match ev {
                    Some(ev) => {
                        if let Some(ev) = self.on_fetch_event(ev)? {
                            return Ok(ev);
                        }
                    }
                    None => return Err(GroupError::Fetch(kwire_fetch::FetchError::Stopped)),
                },
                _ = sleep_until(auto_commit_at), if auto_commit_at.is_some() => {}
            }
        }
    }

    /// The next records as owned [`ConsumerRecord`]s: at most
    /// `max.poll.records`, all of one partition, in offset order. The simple
    /// API beside [`next`](Self::next): rebalances are handled inside (the
    /// [`RebalanceListener`] is still called), and what a call returned
    /// counts as processed when `poll` or [`commit`](Self::commit) is called
    /// next (with `enable.auto.offset.store`, the default; else mark
    /// records with [`mark_processed`](Self::mark_processed)).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), kwire_group::GroupError> {
    /// use kwire_fetch::OffsetReset;
    /// use kwire_group::{GroupConfig, GroupConsumer};
    /// use kwire_meta::{Cluster, ClusterConfig};
    ///
    /// let cluster = Cluster::new(ClusterConfig::default());
    /// let cfg = GroupConfig::builder("voters-app")
    ///     .auto_offset_reset(OffsetReset::Earliest)
    ///     .auto_commit(false)
    ///     .build()?;
    /// let mut consumer = GroupConsumer::subscribe(cluster, cfg, vec!["voters".into()])?;
    /// loop {
    ///     for rec in consumer.poll().await? {
    ///         println!("{}-{}@{}: {:?}", rec.topic, rec.partition, rec.offset, rec.value_str());
    ///     }
    ///     consumer.commit().await?; // everything poll returned so far
    /// }
    /// # }
    /// ```
    pub async fn poll(&mut self) -> Result<Vec<ConsumerRecord>, GroupError> {
        let max = self.cfg.fetch.max_poll_records;
        self.poll_up_to(max).await
    }

    /// The next record (see [`poll`](Self::poll)).
    pub async fn next_record(&mut self) -> Result<ConsumerRecord, GroupError> {
        let mut one = self.poll_up_to(1).await?;
        one.pop().ok_or_else(|| GroupError::Invalid("poll returned no record".to_owned()))
    }

    async fn poll_up_to(&mut self, max: usize) -> Result<Vec<ConsumerRecord>, GroupError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.auto_store();
        loop {
            if let Some(p) = self.buffer.take(max) {
                if self.positions.contains_key(p.tp.as_ref()) {
                    self.last_chunk = Some((p.tp, p.next_offset));
                    if !p.records.is_empty() {
                        return Ok(p.records);
                    }
                    // Only control records (or aborted ones): count them as
                    // processed at once, like `next` does for a whole chunk.
                    self.auto_store();
                }
                continue;
            }
            if let GroupEvent::Records(chunk) = self.next().await? {
                // What `take` hands out counts as processed, not the whole
                // chunk; a chunk that fails to decode counts for nothing.
                self.last_chunk = None;
                self.buffer.fill(&chunk)?;
            }
        }
    }

    /// for the answer (Kafka's `commitSync`).
    pub async fn commit(&mut self) -> Result<(), GroupError> {
        self.commit_inner().await
    }

    /// The member's group id, generation and member id now, to send offsets
    /// into a transaction with (KIP-447: the group coordinator then fences a
    /// zombie whose generation is gone). [`GroupError::RebalanceInProgress`]
    /// while the group rebalances.
    pub async fn group_metadata(&self) -> Result<TxnGroupMetadata, GroupError> {
        let (reply, rx) = oneshot::channel();
        self.cmd.send(Cmd::Identity { reply }).map_err(|_| GroupError::Closed)?;
        let id = rx.await.map_err(|_| GroupError::Closed)?;
        let id = id.ok_or_else(|| GroupError::RebalanceInProgress(self.cfg.group_id.clone()))?;
        Ok(TxnGroupMetadata {
            group_id: self.cfg.group_id.clone(),
            generation_id: id.generation_or_epoch,
            member_id: id.member_id,
            group_instance_id: id.instance_id,
        })
    }

    /// The offsets to commit for everything handed out so far (next offset
    /// to read per partition) that are not committed yet, and marks them
    /// committed: for an application that commits them itself, inside a
    /// transaction ([`TxnGroupMetadata`]). If that commit fails, the next
    /// consumer of the partitions starts from the last committed offsets.
    pub fn take_uncommitted(&mut self) -> BTreeMap<TopicPartition, i64> {
        self.auto_store();
        let offsets = self.uncommitted(None);
        self.committed(&offsets);
        offsets
    }

    async fn commit_inner(&mut self) -> Result<(), GroupError> {
        self.auto_store();
        let offsets = self.uncommitted(None);
        if offsets.is_empty() {
            return Ok(());
        }
        self.commit_now(offsets).await
    }

    /// Leaves the group: commits processed offsets (with auto-commit),
    /// revokes everything, sends LeaveGroup, and stops the fetcher.
    pub async fn close(mut self) -> Result<(), GroupError> {
        self.auto_store();
        self.finish_revoke().await;
        let mut result = Ok(());
        if self.cfg.auto_commit && self.failed.is_none() {
            let offsets = self.uncommitted(None);
            if !offsets.is_empty() {
                if let Err(e) = self.commit_now(offsets).await {
                    log_commit_failure(&self.cfg.group_id, &e);
                    result = Err(e);
                }
            }
        }
        let all = self.assignment();
        if !all.is_empty() {
            if let Some(l) = self.listener.as_mut() {
                l.on_partitions_revoked(&all);
            }
        }
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Cmd::Leave { reply: tx }).is_ok() {
            let _ = tokio::time::timeout(self.cfg.request_timeout, rx).await;
        }
        result
    }

    fn auto_store(&mut self) {
        if let Some((tp, next)) = self.last_chunk.take() {
            if self.cfg.auto_offset_store {
                self.mark_processed(&tp, next);
            }
        }
    }

    fn uncommitted(&self, only: Option<&[TopicPartition]>) -> BTreeMap<TopicPartition, i64> {
        self.positions
            .iter()
            .filter(|(tp, _)| only.is_none_or(|o| o.contains(tp)))
            .filter(|(_, p)| p.processed >= 0 && p.committed != Some(p.processed))
            .map(|(tp, p)| (tp.clone(), p.processed))
            .collect()
    }

    fn committed(&mut self, offsets: &BTreeMap<TopicPartition, i64>) {
        for (tp, o) in offsets {
            if let Some(p) = self.positions.get_mut(tp) {
                p.committed = Some(*o);
            }
        }
    }

    async fn commit_now(&mut self, offsets: BTreeMap<TopicPartition, i64>) -> Result<(), GroupError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Cmd::Commit { offsets: offsets.clone(), reply: tx }).map_err(|_| GroupError::Closed)?;
        rx.await.map_err(|_| GroupError::Closed)??;
        self.committed(&offsets);
        Ok(())
    }

    fn maybe_auto_commit(&mut self) {
        if !self.cfg.auto_commit || self.auto_commit.is_some() || Instant::now() < self.next_auto_commit {
            return;
        }
        self.next_auto_commit = Instant::now() + self.cfg.auto_commit_interval;
        let offsets = self.uncommitted(None);
        if offsets.is_empty() {
            return;
        }
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Cmd::Commit { offsets: offsets.clone(), reply: tx }).is_ok() {
            self.auto_commit = Some((rx, offsets));
        }
    }

    /// Completes a revocation the application has seen: commit what was
    /// processed (with auto-commit), forget the partitions, let the rebalance go on.
    async fn finish_revoke(&mut self) {
        // Cancel-safe: the revocation stays pending until RevokeDone is sent,
        // so a `next` dropped mid-commit finishes it on the next call.
        let Some((id, parts)) = self.revoking.clone() else { return };
        if self.cfg.auto_commit {
            let offsets = self.uncommitted(Some(&parts));
            if !offsets.is_empty() {
                if let Err(e) = self.commit_now(offsets).await {
                    log_commit_failure(&self.cfg.group_id, &e);
                }
            }
        }
        for tp in &parts {
            self.positions.remove(tp);
        }
        self.revoking = None;
        let _ = self.cmd.send(Cmd::RevokeDone(id));
    }

    /// Starts newly assigned partitions and queues the `Assigned` event.
    /// Cancel-safe: the partitions stay in `starting` until they are started,
    /// so a `next` dropped while their offsets are looked up (a `select!`
    /// with a timer) starts them on the next call instead of losing them.
    async fn finish_start(&mut self) -> Result<(), GroupError> {
        let Some(added) = self.starting.clone() else { return Ok(()) };
        self.start(&added).await?;
        self.starting = None;
        if let Some(l) = self.listener.as_mut() {
            l.on_partitions_assigned(&added);
        }
        self.pending.push_back(GroupEvent::Assigned(added));
        Ok(())
    }

    async fn on_member_event(&mut self, ev: MemberEvent) -> Result<(), GroupError> {
        match ev {
            MemberEvent::Revoke { id, partitions } => {
                let _ = self.fetcher.unassign(partitions.clone());
                self.buffer.discard(&partitions);
                if let Some(l) = self.listener.as_mut() {
                    l.on_partitions_revoked(&partitions);
                }
                self.revoking = Some((id, partitions.clone()));
                self.pending.push_back(GroupEvent::Revoked(partitions));
            }
            MemberEvent::Lost(partitions) => {
                let _ = self.fetcher.unassign(partitions.clone());
                self.buffer.discard(&partitions);
                for tp in &partitions {
                    self.positions.remove(tp);
                }
                if let Some((_, r)) = &self.revoking {
                    if r.iter().all(|tp| partitions.contains(tp)) {
                        self.revoking = None;
                    }
                }
                if let Some(l) = self.listener.as_mut() {
                    l.on_partitions_lost(&partitions);
                }
                self.pending.push_back(GroupEvent::Lost(partitions));
            }
            MemberEvent::Assigned { added, .. } => {
                // (`next` finished any earlier start before taking events.)
                self.starting = Some(added);
                self.finish_start().await?;
            }
            MemberEvent::Failed(e) => {
                self.failed = Some(e.clone());
                return Err(e);
            }
            MemberEvent::Left => {}
        }
        Ok(())
    }

    /// Start positions of newly assigned partitions: the committed offset,
    /// else `auto.offset.reset`.
    async fn start(&mut self, added: &[TopicPartition]) -> Result<(), GroupError> {
        if added.is_empty() {
            return Ok(());
        }
        let committed = self.fetch_committed(added).await?;
        let missing: Vec<TopicPartition> =
            added.iter().filter(|tp| !committed.contains_key(*tp)).cloned().collect();
        let mut starts: BTreeMap<TopicPartition, i64> = committed.clone();
        // One ListOffsets round per reset policy (the group's, and any per-topic one).
        let mut by_reset: BTreeMap<u8, (OffsetReset, Vec<TopicPartition>)> = BTreeMap::new();
        for tp in missing {
            let reset =
                self.cfg.topic_offset_reset.get(&tp.topic).copied().unwrap_or(self.cfg.auto_offset_reset);
            let key = match reset {
                OffsetReset::Earliest => 0,
                OffsetReset::Latest => 1,
                OffsetReset::None => 2,
            };
            by_reset.entry(key).or_insert_with(|| (reset, Vec::new())).1.push(tp);
        }
        for (reset, parts) in by_reset.into_values() {
            let spec = match reset {
                OffsetReset::Earliest => OffsetSpec::Earliest,
                OffsetReset::Latest => OffsetSpec::Latest,
                OffsetReset::None => {
                    let tp = &parts[0];
                    return Err(GroupError::NoOffset {
                        group: self.cfg.group_id.clone(),
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                    });
                }
            };
            let isolation: IsolationLevel = self.cfg.fetch.isolation;
            for (tp, a) in list_offsets(&self.cluster, &parts, spec, isolation).await? {
                starts.insert(tp, a.offset);
            }
        }
        let mut assign = Vec::with_capacity(added.len());
        for tp in added {
            let Some(&start) = starts.get(tp) else { continue };
            tracing::debug!(group = %self.cfg.group_id, %tp, start, committed = committed.contains_key(tp), "starting");
            self.positions
                .insert(tp.clone(), Position { processed: start, committed: committed.get(tp).copied() });
            assign.push((tp.clone(), StartOffset::Offset(start)));
        }
        self.fetcher.assign(assign)?;
        Ok(())
    }

    async fn fetch_committed(
        &mut self,
        parts: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>, GroupError> {
        let mut attempt = 0u32;
        loop {
            let (tx, rx) = oneshot::channel();
            self.cmd
                .send(Cmd::Fetch { partitions: parts.to_vec(), reply: tx })
                .map_err(|_| GroupError::Closed)?;
            match rx.await.map_err(|_| GroupError::Closed)? {
                Ok(map) => return Ok(map),
                Err(e @ (GroupError::Timeout(_) | GroupError::Meta(MetaError::Conn(_)))) if attempt < 3 => {
                    attempt += 1;
                    tracing::debug!(group = %self.cfg.group_id, error = %e, "fetching committed offsets; retrying");
                    tokio::time::sleep(self.cfg.backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn on_fetch_event(&mut self, ev: FetchEvent) -> Result<Option<GroupEvent>, GroupError> {
        match ev {
            FetchEvent::Records(chunk) => {
                if !self.positions.contains_key(chunk.tp.as_ref()) {
                    return Ok(None);
                }
                self.last_chunk = Some((chunk.tp.clone(), chunk.next_offset));
                Ok(Some(GroupEvent::Records(chunk)))
            }
            FetchEvent::Reset { tp, from, to } => {
                let Some(p) = self.positions.get_mut(tp.as_ref()) else { return Ok(None) };
                p.processed = to;
                Ok(Some(GroupEvent::Reset { tp, from, to }))
            }
            FetchEvent::Error { tp, error } => {
                if !self.positions.contains_key(tp.as_ref()) {
                    return Ok(None);
                }
                Err(GroupError::Fetch(error))
            }
        }
    }
}

fn log_commit_failure(group: &str, e: &GroupError) {
    match e {
        GroupError::RebalanceInProgress(_) => tracing::debug!(group, error = %e, "commit skipped"),
        _ => tracing::warn!(group, error = %e, "offset commit failed"),
    }
}

use kwire_conn::rt::sleep_until;
