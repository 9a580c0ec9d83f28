//! Share groups (KIP-932, "queues for Kafka"; production-ready in Kafka
//! 4.2): many members consume the same partitions, each record is delivered
//! to one member at a time under an acquisition lock, and each member
//! acknowledges each record: [`AckType::Accept`] (done),
//! [`AckType::Release`] (deliver it again, to anyone, while its delivery
//! count stays under the group's `share.delivery.count.limit`) or
//! [`AckType::Reject`] (unprocessable: never again).
//!
//! [`ShareConsumer`] is the member: it joins with ShareGroupHeartbeat (on a
//! task of its own, so heartbeats keep going while the application works),
//! fetches with ShareFetch in a share session per broker and piggybacks its
//! acknowledgements on the next fetch, or sends them with ShareAcknowledge
//! on [`commit`](ShareConsumer::commit) and [`close`](ShareConsumer::close).
//! As Kafka's `KafkaShareConsumer` in its default (implicit) mode, the
//! records a [`poll`](ShareConsumer::poll) returned and the application did
//! not acknowledge otherwise are accepted by the next poll, commit or close.
//! The sans-IO parts are in [`core`].
//!
//! ```no_run
//! # async fn f(cluster: kwire_meta::Cluster) -> Result<(), kwire_group::GroupError> {
//! use std::time::Duration;
//! use kwire_group::share::{AckType, ShareConfig, ShareConsumer};
//! let mut c = ShareConsumer::subscribe(cluster, ShareConfig::new("jobs"), vec!["tasks".into()]).await?;
//! loop {
//!     for r in c.poll(Duration::from_secs(1)).await? {
//!         if r.record.value.is_none() {
//!             c.acknowledge(&r, AckType::Reject); // the others are accepted
//!         }
//!     }
//! }
//! # }
//! ```

pub mod admin;
pub mod core;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kwire_conn::{ConnPurpose, Connection};
use kwire_fetch::TopicPartition;
use kwire_meta::Cluster;
use kwire_meta::coordinator::{CoordinatorKey, find_coordinator};
use kwire_proto::ErrorCode;
use kwire_proto::api::ApiKey;
pub use kwire_proto::msg::share::AckType;
use kwire_proto::msg::share::{
    SHARE_SESSION_CLOSE, ShareFetchParams, ShareFetchResponse, ShareHeartbeatParams, SharePartitionReq,
    share_acknowledge_request, share_fetch_request, share_group_heartbeat_request,
};
use kwire_proto::records::DecodeOptions;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

pub use self::core::ShareRecord;
use self::core::{AckBook, HeartbeatOutcome, SessionEpochs, ShareMember, TopicId, acquired_records};
use crate::GroupError;

/// A share consumer's settings (Kafka's share consumer defaults).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShareConfig {
    /// `group.id`.
    pub group_id: String,
    /// `client.rack`.
    pub client_rack: Option<String>,
    /// `max.poll.records`: most records a ShareFetch acquires.
    pub max_poll_records: i32,
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait: Duration,
    /// `fetch.min.bytes`.
    pub fetch_min_bytes: i32,
    /// `fetch.max.bytes`.
    pub fetch_max_bytes: i32,
    /// Record decoding limits.
    pub decode: DecodeOptions,
}

impl ShareConfig {
    /// Defaults for `group_id`.
    pub fn new(group_id: impl Into<String>) -> Self {
        ShareConfig {
            group_id: group_id.into(),
            client_rack: None,
            max_poll_records: 500,
            fetch_max_wait: Duration::from_millis(500),
            fetch_min_bytes: 1,
            fetch_max_bytes: 50 << 20,
            decode: DecodeOptions::default(),
        }
    }
}

/// An acknowledgement the broker refused (e.g. INVALID_RECORD_STATE: the
/// record's acquisition lock had expired and it went to another member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckFailure {
    /// The partition.
    pub tp: TopicPartition,
    /// Why.
    pub code: ErrorCode,
}

/// The assignment as the heartbeat task publishes it.
#[derive(Debug, Clone, Default)]
struct Assignment {
    parts: BTreeMap<TopicId, Vec<i32>>,
}

/// A member of a share group. See the [module docs](self).
pub struct ShareConsumer {
    cluster: Cluster,
    cfg: ShareConfig,
    member_id: String,
    assignment: watch::Receiver<Assignment>,
    failure: Arc<Mutex<Option<GroupError>>>,
    leave: mpsc::UnboundedSender<()>,
    heartbeats: tokio::task::JoinHandle<()>,
    names: HashMap<TopicId, String>,
    sessions: SessionEpochs,
    acks: AckBook,
    /// Records the last poll returned (implicitly accepted by the next one).
    delivered: Vec<(TopicId, i32, i64)>,
    ack_failures: Vec<AckFailure>,
    /// This consumer's fetch connections.
    purpose: ConnPurpose,
}

impl std::fmt::Debug for ShareConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareConsumer")
            .field("group", &self.cfg.group_id)
            .field("member", &self.member_id)
            .finish()
    }
}

static NEXT_CONSUMER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1 << 40);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ShareConsumer {
    /// Joins share group `cfg.group_id` subscribed to `topics`. Fails at once
    /// when a topic does not exist or the cluster has no share groups (Kafka
    /// before 4.1, or the `share.version` feature off).
    pub async fn subscribe(
        cluster: Cluster,
        cfg: ShareConfig,
        topics: Vec<String>,
    ) -> Result<Self, GroupError> {
        if cfg.group_id.trim().is_empty() {
            return Err(GroupError::Invalid("a share group needs a group id".into()));
        }
        if topics.is_empty() {
            return Err(GroupError::Invalid("a share consumer needs at least one topic".into()));
        }
        let mut names = HashMap::new();
        for t in &topics {
            let info = cluster.topic(t).await.map_err(|e| match e.code() {
                Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => {
                    GroupError::Invalid(format!("topic '{t}' does not exist"))
                }
                _ => e.into(),
            })?;
            names.insert(info.id, t.clone());
        }
        if cluster.any_broker().await?.version(ApiKey::ShareGroupHeartbeat).is_err() {
            return Err(GroupError::Unsupported(
                "this cluster has no share groups (KIP-932 needs Kafka 4.1 or newer with the share.version feature enabled)"
                    .into(),
            ));
        }
        let member_id = crate::member::new_member_id();
        let member = ShareMember::new(
            &cfg.group_id,
            member_id.clone(),
            topics,
            cfg.client_rack.clone(),
            Instant::now().into_std(),
        );
        let (tx, rx) = watch::channel(Assignment::default());
        let (leave_tx, leave_rx) = mpsc::unbounded_channel();
        let failure = Arc::new(Mutex::new(None));
        let heartbeats = tokio::spawn(heartbeat_loop(
            cluster.clone(),
            cfg.group_id.clone(),
            member,
            None,
            tx,
            leave_rx,
            failure.clone(),
        ));
        Ok(ShareConsumer {
            cluster,
            cfg,
            member_id,
            assignment: rx,
            failure,
            leave: leave_tx,
            heartbeats,
            names,
            sessions: SessionEpochs::default(),
            acks: AckBook::new(),
            delivered: Vec::new(),
            ack_failures: Vec::new(),
            purpose: ConnPurpose::FetchFor(NEXT_CONSUMER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
        })
    }

    /// The member id.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The partitions assigned now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        let a = self.assignment.borrow();
        let mut out: Vec<TopicPartition> = a
            .parts
            .iter()
            .filter_map(|(id, ps)| self.names.get(id).map(|n| (n, ps)))
            .flat_map(|(n, ps)| ps.iter().map(move |p| TopicPartition::new(n.as_str(), *p)))
            .collect();
        out.sort();
        out
    }

    /// Acknowledge one record of the last poll (sent with the next fetch,
    /// [`commit`](Self::commit) or [`close`](Self::close)).
    pub fn acknowledge(&mut self, rec: &ShareRecord, t: AckType) {
        if let Some(id) = self.id_of(&rec.record.topic) {
            self.acks.add(id, rec.record.partition, rec.record.offset, t);
        }
    }

    /// Acknowledgements the broker refused since the last call.
    pub fn take_ack_failures(&mut self) -> Vec<AckFailure> {
        std::mem::take(&mut self.ack_failures)
    }

    fn id_of(&self, topic: &str) -> Option<TopicId> {
        self.names.iter().find(|(_, n)| n.as_str() == topic).map(|(id, _)| *id)
    }

    fn check_failed(&self) -> Result<(), GroupError> {
        match lock(&self.failure).clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Accept what the last poll returned and the application left alone.
    fn implicit_accept(&mut self) {
        for (id, p, o) in std::mem::take(&mut self.delivered) {
            self.acks.add_if_absent(id, p, o, AckType::Accept);
        }
    }

    /// The next records, waiting up to `timeout` for some (an empty result
    /// when none came). Accepts the previous poll's records first (those the
    /// application did not acknowledge otherwise).
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ShareRecord>, GroupError> {
        self.implicit_accept();
        let deadline = Instant::now() + timeout;
        loop {
            self.check_failed()?;
            let got = self.fetch_round(deadline).await?;
            if !got.is_empty() || Instant::now() >= deadline {
                self.delivered = got
                    .iter()
                    .filter_map(|r| {
                        self.id_of(&r.record.topic).map(|id| (id, r.record.partition, r.record.offset))
                    })
                    .collect();
                return Ok(got);
            }
        }
    }

    /// Partitions assigned now, by leader.
    async fn by_leader(&self) -> BTreeMap<i32, BTreeSet<(TopicId, i32)>> {
        let parts = self.assignment.borrow().parts.clone();
        let mut out: BTreeMap<i32, BTreeSet<(TopicId, i32)>> = BTreeMap::new();
        for (id, ps) in parts {
            let Some(name) = self.names.get(&id) else { continue };
            let Ok(info) = self.cluster.topic(name).await else { continue };
            for p in ps {
                if let Some(pi) = info.partitions.iter().find(|pi| pi.partition == p) {
                    if pi.leader >= 0 {
                        out.entry(pi.leader).or_default().insert((id, p));
                    }
                }
            }
        }
        out
    }

    /// One ShareFetch to every broker that leads an assigned partition (or
    /// holds a session to trim), in parallel.
    async fn fetch_round(&mut self, deadline: Instant) -> Result<Vec<ShareRecord>, GroupError> {
        let leaders = self.by_leader().await;
        let mut brokers: BTreeSet<i32> = leaders.keys().copied().collect();
        brokers.extend(self.sessions.brokers());
        // Acknowledgements for partitions no longer assigned here are moot:
        // the broker released those records when the assignment changed.
        let assigned: BTreeSet<(TopicId, i32)> = leaders.values().flatten().copied().collect();
        for (id, p) in self.acks.partitions() {
            if !assigned.contains(&(id, p)) {
                self.acks.forget(id, p);
            }
        }
        if brokers.is_empty() {
            // Nothing assigned yet: wait for the assignment (or the deadline).
            let mut rx = self.assignment.clone();
            let _ = tokio::time::timeout_at(deadline, rx.changed()).await;
            return Ok(Vec::new());
        }
        let wait = self.cfg.fetch_max_wait.min(deadline.saturating_duration_since(Instant::now()));
        let mut tasks = tokio::task::JoinSet::new();
        for b in brokers {
            let want: BTreeSet<(TopicId, i32)> = leaders.get(&b).cloned().unwrap_or_default();
            let epoch = self.sessions.epoch(b);
            let in_session = self.sessions.partitions(b);
            if want.is_empty() && in_session.is_empty() {
                continue;
            }
            let mut parts: Vec<SharePartitionReq> = Vec::new();
            let mut sent_acks = Vec::new();
            for &(id, p) in &want {
                // Acknowledgements may not ride on a request that opens a session.
                let acks = if epoch > 0 { self.acks.take(id, p) } else { Vec::new() };
                if epoch == 0 || !in_session.contains(&(id, p)) || !acks.is_empty() {
                    if !acks.is_empty() {
                        sent_acks.push((id, p, acks.clone()));
                    }
                    parts.push(SharePartitionReq { topic_id: id, partition: p, acks });
                }
            }
            let forgotten: Vec<(TopicId, i32)> =
                if epoch == 0 { Vec::new() } else { in_session.difference(&want).copied().collect() };
            let req = share_fetch_request(&ShareFetchParams {
                group_id: &self.cfg.group_id,
                member_id: &self.member_id,
                session_epoch: epoch,
                max_wait_ms: i32::try_from(wait.as_millis()).unwrap_or(i32::MAX),
                min_bytes: self.cfg.fetch_min_bytes,
                max_bytes: self.cfg.fetch_max_bytes,
                max_records: self.cfg.max_poll_records,
                batch_size: self.cfg.max_poll_records,
                partitions: &parts,
                forgotten: &forgotten,
            });
            let cluster = self.cluster.clone();
            let purpose = self.purpose;
            let timeout = wait + Duration::from_secs(30);
            tasks.spawn(async move {
                let r: Result<ShareFetchResponse, String> = async {
                    let conn: Connection = cluster.broker_for(b, purpose).await.map_err(|e| e.to_string())?;
                    let v = conn.version(ApiKey::ShareFetch).map_err(|e| e.to_string())?;
                    conn.send_with(&req, v, timeout).await.map_err(|e| e.to_string())
                }
                .await;
                (b, want, sent_acks, r)
            });
        }
        let mut out = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let Ok((b, want, sent_acks, r)) = done else { continue };
            let resp = match r {
                Ok(resp) => resp,
                Err(e) => {
                    tracing::debug!(broker = b, error = %e, "share fetch failed; opening a new session");
                    self.requeue(sent_acks);
                    self.sessions.reset(b);
                    self.cluster.pool().invalidate(b).await;
                    continue;
                }
            };
            match resp.error_code {
                ErrorCode::NONE => {}
                ErrorCode::SHARE_SESSION_NOT_FOUND | ErrorCode::INVALID_SHARE_SESSION_EPOCH => {
                    tracing::debug!(broker = b, code = %resp.error_code.name(), "share session reset");
                    self.requeue(sent_acks);
                    self.sessions.reset(b);
                    continue;
                }
                ErrorCode::SHARE_SESSION_LIMIT_REACHED => {
                    self.requeue(sent_acks);
                    self.sessions.reset(b);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_MEMBER_EPOCH => {
                    // The heartbeat task rejoins; the broker released our records.
                    self.sessions.reset(b);
                    continue;
                }
                code => {
                    return Err(GroupError::broker(
                        format!("share fetch from broker {b}"),
                        code,
                        resp.error_message,
                    ));
                }
            }
            tracing::debug!(
                broker = b,
                epoch = self.sessions.epoch(b),
                partitions = ?resp.topics.iter().flat_map(|t| t.partitions.iter().map(|p| (p.partition, p.error_code.0, p.ack_error_code.0, p.records.len(), p.acquired.len()))).collect::<Vec<_>>(),
                "share fetch answered"
            );
            self.sessions.advance(b, want);
            for t in resp.topics {
                let Some(name) = self.names.get(&t.topic_id).cloned() else { continue };
                for p in t.partitions {
                    let tp = Arc::new(TopicPartition::new(name.as_str(), p.partition));
                    if p.ack_error_code.is_err() {
                        tracing::warn!(%tp, code = %p.ack_error_code.name(), "acknowledgements refused");
                        self.ack_failures.push(AckFailure { tp: (*tp).clone(), code: p.ack_error_code });
                    }
                    match p.error_code {
                        ErrorCode::NONE => {}
                        ErrorCode::NOT_LEADER_OR_FOLLOWER
                        | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                        | ErrorCode::FENCED_LEADER_EPOCH
                        | ErrorCode::UNKNOWN_TOPIC_ID
                        | ErrorCode::LEADER_NOT_AVAILABLE => {
                            self.cluster.invalidate_topic(&name);
                            self.sessions.reset(b);
                            continue;
                        }
                        code => {
                            return Err(GroupError::broker(
                                format!("share fetch of {tp}"),
                                code,
                                p.error_message,
                            ));
                        }
                    }
                    let (recs, gaps) = acquired_records(tp, p.records, &p.acquired, self.cfg.decode)?;
                    for g in gaps {
                        self.acks.add(t.topic_id, p.partition, g, AckType::Gap);
                    }
                    out.extend(recs);
                }
            }
        }
        Ok(out)
    }

    /// Puts acknowledgements that did not reach the broker back in the book
    /// (kwire's own batches: one type per range).
    fn requeue(&mut self, sent: Vec<(TopicId, i32, Vec<kwire_proto::msg::share::AckBatch>)>) {
        for (id, p, batches) in sent {
            for b in batches {
                let t = b.types.first().copied().unwrap_or(AckType::Accept);
                // Bounded by the batch (at most MAX_GAPS or a fetch's records);
                // checked so that a range ending at i64::MAX cannot overflow.
                let mut o = Some(b.first);
                while let Some(off) = o.filter(|off| *off <= b.last) {
                    self.acks.add_if_absent(id, p, off, t);
                    o = off.checked_add(1);
                }
            }
        }
    }

    /// Sends every waiting acknowledgement now (ShareAcknowledge), including
    /// the implicit accepts of the last poll; returns the ones refused.
    pub async fn commit(&mut self) -> Result<Vec<AckFailure>, GroupError> {
        self.implicit_accept();
        self.acknowledge_all(false).await?;
        Ok(self.take_ack_failures())
    }

    async fn acknowledge_all(&mut self, closing: bool) -> Result<(), GroupError> {
        let leaders = self.by_leader().await;
        let mut brokers: BTreeSet<i32> = self.sessions.brokers().into_iter().collect();
        if !closing {
            brokers.retain(|b| leaders.contains_key(b));
        }
        for b in brokers {
            let epoch = self.sessions.epoch(b);
            if epoch == 0 {
                continue;
            }
            let in_session = self.sessions.partitions(b);
            let parts: Vec<SharePartitionReq> = in_session
                .iter()
                .map(|&(id, p)| SharePartitionReq { topic_id: id, partition: p, acks: self.acks.take(id, p) })
                .filter(|r| !r.acks.is_empty())
                .collect();
            if parts.is_empty() && !closing {
                continue;
            }
            let req = share_acknowledge_request(
                &self.cfg.group_id,
                &self.member_id,
                if closing { SHARE_SESSION_CLOSE } else { epoch },
                &parts,
            );
            let conn = self.cluster.broker_for(b, self.purpose).await?;
            let resp = match conn.send(&req).await {
                Ok(r) => r,
                Err(e) => {
                    self.sessions.reset(b);
                    return Err(GroupError::Meta(e.into()));
                }
            };
            if closing {
                self.sessions.reset(b);
            } else {
                self.sessions.advance(b, in_session);
            }
            if resp.error_code.is_err() {
                return Err(GroupError::broker(
                    format!("share acknowledge to broker {b}"),
                    resp.error_code,
                    resp.error_message,
                ));
            }
            for t in resp.topics {
                let name = self.names.get(&t.topic_id).cloned().unwrap_or_default();
                for p in t.partitions {
                    if p.error_code.is_err() {
                        self.ack_failures.push(AckFailure {
                            tp: TopicPartition::new(name.as_str(), p.partition),
                            code: p.error_code,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Accepts the last poll's records, sends every waiting acknowledgement,
    /// closes the share sessions and leaves the group.
    pub async fn close(mut self) -> Result<Vec<AckFailure>, GroupError> {
        self.implicit_accept();
        let acked = self.acknowledge_all(true).await;
        let _ = self.leave.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.heartbeats).await;
        self.cluster.pool().release(self.purpose);
        acked?;
        Ok(self.take_ack_failures())
    }
}

impl Drop for ShareConsumer {
    fn drop(&mut self) {
        let _ = self.leave.send(());
    }
}

/// The member's heartbeats, on their own task.
async fn heartbeat_loop(
    cluster: Cluster,
    group: String,
    mut member: ShareMember,
    mut coord: Option<Connection>,
    assignment: watch::Sender<Assignment>,
    mut leave: mpsc::UnboundedReceiver<()>,
    failure: Arc<Mutex<Option<GroupError>>>,
) {
    let mut leaving = false;
    loop {
        if coord.is_none() {
            match find_coordinator(&cluster, CoordinatorKey::Group(&group)).await {
                Ok((_, c)) => coord = Some(c),
                Err(e) => {
                    if leaving {
                        return;
                    }
                    tracing::debug!(group = %group, error = %e, "share group coordinator not found; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
        }
        let now = Instant::now().into_std();
        if let (Some(hb), Some(c)) = (member.poll_heartbeat(now), coord.as_ref()) {
            let topics = hb.subscribed.clone();
            let req = share_group_heartbeat_request(&ShareHeartbeatParams {
                group_id: &group,
                member_id: member.member_id(),
                member_epoch: hb.member_epoch,
                rack_id: hb.rack.as_deref(),
                subscribed_topic_names: topics.as_deref(),
            });
            let r = c.send(&req).await.map_err(|e| e.to_string());
            match member.on_response(Instant::now().into_std(), r) {
                Ok(HeartbeatOutcome::Same) => {}
                Ok(HeartbeatOutcome::Assigned(parts)) => {
                    tracing::info!(group = %group, partitions = parts.values().map(Vec::len).sum::<usize>(), "share assignment");
                    let _ = assignment.send(Assignment { parts });
                }
                Ok(HeartbeatOutcome::Rejoin) => {
                    let _ = assignment.send(Assignment::default());
                }
                Ok(HeartbeatOutcome::FindCoordinator) => coord = None,
                Ok(HeartbeatOutcome::Left) => return,
                Err(e) => {
                    tracing::warn!(group = %group, error = %e, "share group membership failed");
                    *lock(&failure) = Some(e);
                    return;
                }
            }
        }
        if member.has_left() {
            return;
        }
        let wake = Instant::from_std(member.next_heartbeat());
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            cmd = leave.recv(), if !leaving => {
                let _ = cmd;
                leaving = true;
                member.leave();
            }
        }
    }
}
