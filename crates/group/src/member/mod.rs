//! Group membership as a sans-IO state machine.
//!
//! [`Membership`] knows nothing of sockets or clocks: the driver feeds it
//! responses, metadata, application signals and the current time (`handle_*`),
//! and asks it what to send next ([`Membership::poll_transmit`]), what happened
//! ([`Membership::poll_event`]) and when to wake it up
//! ([`Membership::poll_timeout`]). It speaks the classic protocol
//! (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup) or KIP-848
//! (ConsumerGroupHeartbeat), chosen by [`GroupConfig::protocol`], and handles
//! every error code the way Kafka's Java consumer does.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use kwire_group::GroupConfig;
//! use kwire_group::member::{Membership, Transmit};
//!
//! let now = Instant::now();
//! let mut m = Membership::new(&GroupConfig::new("g"), vec!["voters".into()], now);
//! // The first thing a member needs is its coordinator.
//! assert!(matches!(m.poll_transmit(now), Some(Transmit::FindCoordinator)));
//! assert!(m.poll_transmit(now).is_none());
//! ```

mod classic;
mod consumer;
pub(crate) use consumer::new_member_id;
#[cfg(any(test, feature = "sim"))]
pub(crate) mod sim;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use kwire_fetch::TopicPartition;
use kwire_proto::ErrorCode;
use kwire_proto::msg::group::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, HeartbeatRequest, HeartbeatResponse,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest,
    SyncGroupResponse,
};

use crate::{GroupConfig, GroupError, GroupProtocol};

/// A request for the group coordinator, with the version to send it at.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum CoordRequest {
    JoinGroup(JoinGroupRequest, i16),
    SyncGroup(SyncGroupRequest, i16),
    Heartbeat(HeartbeatRequest, i16),
    LeaveGroup(LeaveGroupRequest, i16),
    ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest, i16),
}

impl CoordRequest {
    /// Kafka's name of the API, for logs.
    pub fn api(&self) -> &'static str {
        match self {
            CoordRequest::JoinGroup(..) => "JoinGroup",
            CoordRequest::SyncGroup(..) => "SyncGroup",
            CoordRequest::Heartbeat(..) => "Heartbeat",
            CoordRequest::LeaveGroup(..) => "LeaveGroup",
            CoordRequest::ConsumerGroupHeartbeat(..) => "ConsumerGroupHeartbeat",
        }
    }
}

/// A decoded coordinator response.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum CoordResponse {
    JoinGroup(JoinGroupResponse),
    SyncGroup(SyncGroupResponse),
    Heartbeat(HeartbeatResponse),
    LeaveGroup(LeaveGroupResponse),
    ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse),
}

/// Something the driver must do for the state machine.
// A few of these per second at most: the size of the request variant doesn't matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Transmit {
    /// Find the group coordinator (FindCoordinator to any broker), connect to
    /// it, and report with [`Membership::handle_coordinator`].
    FindCoordinator,
    /// Fetch metadata of these topics and report with [`Membership::handle_metadata`].
    Metadata(Vec<String>),
    /// Send a request to the coordinator and report the outcome with
    /// [`Membership::handle_response`] quoting `id`.
    Request {
        /// Identifies the answer.
        id: u64,
        /// The request.
        request: CoordRequest,
        /// A timeout longer than the default request timeout (JoinGroup waits
        /// for the whole rebalance).
        timeout: Option<Duration>,
    },
}

/// Versions the coordinator and kwire share, per group API (`None`: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct GroupApiVersions {
    pub join_group: Option<i16>,
    pub sync_group: Option<i16>,
    pub heartbeat: Option<i16>,
    pub leave_group: Option<i16>,
    pub offset_commit: Option<i16>,
    pub offset_fetch: Option<i16>,
    pub consumer_group_heartbeat: Option<i16>,
}

/// The coordinator found (and connected to) by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoordinatorInfo {
    /// Broker id.
    pub node_id: i32,
    /// API versions negotiated with it.
    pub versions: GroupApiVersions,
}

/// Why the coordinator could not be found.
#[derive(Debug, Clone)]
pub enum CoordinatorError {
    /// Try again after a backoff (COORDINATOR_NOT_AVAILABLE, a broker down, ...).
    Retriable(String),
    /// Retrying can't help (GROUP_AUTHORIZATION_FAILED, ...).
    Fatal(GroupError),
}

/// One topic of a metadata answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    /// Name.
    pub name: String,
    /// Topic id.
    pub id: [u8; 16],
    /// Partition count.
    pub partitions: i32,
}

/// What the state machine tells the application (through the driver).
#[derive(Debug, Clone)]
pub enum MemberEvent {
    /// Give these partitions up: stop fetching them, commit what was
    /// processed, then call [`Membership::handle_revoked`] with `id`. The
    /// rebalance waits for that.
    Revoke {
        /// Quote in [`Membership::handle_revoked`].
        id: u64,
        /// The partitions.
        partitions: Vec<TopicPartition>,
    },
    /// These partitions were lost (this member was fenced, kicked out, or did
    /// not poll in time): another member may own them already, so nothing
    /// may be committed for them.
    Lost(Vec<TopicPartition>),
    /// A rebalance completed.
    Assigned {
        /// Partitions new to this member (start them from committed offsets).
        added: Vec<TopicPartition>,
        /// The whole assignment.
        assignment: Vec<TopicPartition>,
    },
    /// Membership failed for good.
    Failed(GroupError),
    /// The member left the group (after [`Membership::leave`]).
    Left,
}

/// Who this member is in the group, for OffsetCommit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitIdentity {
    /// Generation (classic) or member epoch (KIP-848).
    pub generation_or_epoch: i32,
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
}

/// The membership state machine (classic or KIP-848, per the configuration).
#[derive(Debug)]
pub struct Membership {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Classic(Box<classic::Classic>),
    Consumer(Box<consumer::Consumer>),
}

macro_rules! each {
    ($self:ident, $m:ident => $e:expr) => {
        match &$self.inner {
            Inner::Classic($m) => $e,
            Inner::Consumer($m) => $e,
        }
    };
    (mut $self:ident, $m:ident => $e:expr) => {
        match &mut $self.inner {
            Inner::Classic($m) => $e,
            Inner::Consumer($m) => $e,
        }
    };
}

impl Membership {
    /// A member of `cfg.group_id` subscribing to `topics`, not yet joined.
    pub fn new(cfg: &GroupConfig, topics: Vec<String>, now: Instant) -> Self {
        let mut topics = topics;
        topics.sort();
        topics.dedup();
        let core = Core::new(cfg, topics, now);
        let inner = match cfg.protocol {
            GroupProtocol::Classic => Inner::Classic(Box::new(classic::Classic::new(core))),
            GroupProtocol::Consumer => Inner::Consumer(Box::new(consumer::Consumer::new(core))),
        };
        Membership { inner }
    }

    /// The next thing to send or do, if any.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        each!(mut self, m => {
            if m.core.transmits.is_empty() {
                m.step(now);
            }
            m.core.transmits.pop_front()
        })
    }

    /// The next event for the application, if any.
    pub fn poll_event(&mut self) -> Option<MemberEvent> {
        each!(mut self, m => m.core.events.pop_front())
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        each!(self, m => m.timeout())
    }

    /// Time passed: heartbeats fall due, sessions and poll intervals expire, backoffs end.
    pub fn handle_timeout(&mut self, now: Instant) {
        each!(mut self, m => {
            m.on_timeout(now);
            m.step(now);
        })
    }

    /// Outcome of [`Transmit::FindCoordinator`].
    pub fn handle_coordinator(&mut self, now: Instant, result: Result<CoordinatorInfo, CoordinatorError>) {
        each!(mut self, m => {
            m.on_coordinator(now, result);
            m.step(now);
        })
    }

    /// Outcome of [`Transmit::Request`] `id`: the response, or a transport error.
    pub fn handle_response(&mut self, now: Instant, id: u64, result: Result<CoordResponse, String>) {
        each!(mut self, m => {
            m.on_response(now, id, result);
            m.step(now);
        })
    }

    /// Outcome of [`Transmit::Metadata`]: the topics that exist.
    pub fn handle_metadata(&mut self, now: Instant, result: Result<Vec<TopicMeta>, String>) {
        each!(mut self, m => {
            m.core.metadata_inflight = false;
            match result {
                Ok(topics) => {
                    m.core.next_metadata = now + m.core.metadata_max_age;
                    m.on_metadata(now, topics);
                    m.step(now);
                }
                Err(e) => {
                    tracing::debug!(group = %m.core.group_id, error = %e, "metadata request failed");
                    m.core.next_metadata = now + m.core.backoff(1);
                    m.core.metadata_retry = true;
                }
            }
        })
    }

    /// The application polled (it is alive: resets `max.poll.interval.ms`).
    pub fn handle_poll(&mut self, now: Instant) {
        each!(mut self, m => {
            m.core.last_poll = now;
            if m.core.poll_expired {
                m.core.poll_expired = false;
                tracing::info!(group = %m.core.group_id, "polled again after the poll timeout; rejoining");
                m.on_poll_resumed(now);
                m.step(now);
            }
        })
    }

    /// Whether the application is inside a poll, waiting for data (the poll
    /// interval does not run while it waits).
    pub fn handle_app_waiting(&mut self, now: Instant, waiting: bool) {
        each!(mut self, m => {
            m.core.app_waiting = waiting;
            m.core.last_poll = now;
        })
    }

    /// The application finished the revocation `id` (stopped fetching, committed).
    pub fn handle_revoked(&mut self, now: Instant, id: u64) {
        each!(mut self, m => {
            let Some(p) = m.core.pending_revoke.take() else { return };
            if p.id != id {
                m.core.pending_revoke = Some(p);
                return;
            }
            for tp in &p.partitions {
                m.core.owned.remove(tp);
            }
            m.on_revoke_done(now, p.rejoin_after);
            m.step(now);
        })
    }

    /// An OffsetCommit (or OffsetFetch) got `code`, which may say this member
    /// left the generation (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
    /// FENCED_MEMBER_EPOCH, ...) or that the coordinator moved.
    pub fn handle_commit_error(&mut self, now: Instant, code: ErrorCode) {
        each!(mut self, m => {
            if matches!(code, ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE) {
                m.mark_coordinator_unknown(now, "an offset request got NOT_COORDINATOR");
            } else if code == ErrorCode::FENCED_INSTANCE_ID {
                let e = m.core.fenced_instance();
                m.core.fail(e);
            } else {
                m.on_commit_error(now, code);
            }
            m.step(now);
        })
    }

    /// Asks for a rebalance (e.g. after the subscription's metadata changed).
    pub fn request_rejoin(&mut self, now: Instant, reason: &str) {
        each!(mut self, m => {
            m.on_rejoin_request(now, reason);
            m.step(now);
        })
    }

    /// Leaves the group: LeaveGroup (dynamic classic members), or a final
    /// ConsumerGroupHeartbeat; [`MemberEvent::Left`] follows. Static classic
    /// members leave without telling the coordinator, like Kafka's client, so
    /// a restart within the session timeout keeps their partitions.
    pub fn leave(&mut self, now: Instant) {
        each!(mut self, m => {
            if !m.core.leave_requested {
                m.core.leave_requested = true;
                m.step(now);
            }
        })
    }

    /// The identity to commit offsets with, if this member is in a stable
    /// generation (Kafka fails commits during a rebalance).
    pub fn commit_identity(&self) -> Option<CommitIdentity> {
        each!(self, m => m.identity())
    }

    /// The partitions this member owns (including partitions being revoked).
    pub fn owned(&self) -> &BTreeSet<TopicPartition> {
        each!(self, m => &m.core.owned)
    }

    /// The coordinator, if known.
    pub fn coordinator(&self) -> Option<CoordinatorInfo> {
        each!(self, m => match m.core.coord {
            Coord::Known(c) => Some(c),
            _ => None,
        })
    }

    /// Member id (empty before the first join).
    pub fn member_id(&self) -> &str {
        each!(self, m => &m.member_id)
    }

    /// The group id.
    pub fn group_id(&self) -> &str {
        each!(self, m => &m.core.group_id)
    }

    /// True once the member failed or left.
    pub fn is_terminated(&self) -> bool {
        each!(self, m => m.core.failed || m.core.left)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coord {
    Unknown { retry_at: Instant },
    Finding,
    Known(CoordinatorInfo),
}

#[derive(Debug)]
struct PendingRevoke {
    id: u64,
    partitions: Vec<TopicPartition>,
    /// Rejoin once the revocation is done (cooperative protocol).
    rejoin_after: bool,
}

/// State shared by both protocols: configuration, coordinator, queues,
/// ownership, the application's poll timer.
#[derive(Debug)]
struct Core {
    group_id: String,
    instance_id: Option<String>,
    rack: Option<String>,
    topics: Vec<String>,
    session_timeout: Duration,
    heartbeat_interval: Duration,
    max_poll_interval: Duration,
    retry_backoff: Duration,
    retry_backoff_max: Duration,
    metadata_max_age: Duration,
    cfg: GroupConfig,

    coord: Coord,
    find_attempts: u32,
    /// Coordinator failures since the last good answer from a coordinator.
    coord_failures: u32,
    next_id: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MemberEvent>,
    owned: BTreeSet<TopicPartition>,
    pending_revoke: Option<PendingRevoke>,
    next_revoke_id: u64,

    last_poll: Instant,
    app_waiting: bool,
    poll_expired: bool,

    metadata_inflight: bool,
    metadata_retry: bool,
    next_metadata: Instant,

    leave_requested: bool,
    left: bool,
    failed: bool,
}

impl Core {
    fn new(cfg: &GroupConfig, topics: Vec<String>, now: Instant) -> Self {
        Core {
            group_id: cfg.group_id.clone(),
            instance_id: cfg.group_instance_id.clone(),
            rack: cfg.client_rack.clone(),
            topics,
            session_timeout: cfg.session_timeout,
            heartbeat_interval: cfg.heartbeat_interval,
            max_poll_interval: cfg.max_poll_interval,
            retry_backoff: cfg.retry_backoff,
            retry_backoff_max: cfg.retry_backoff_max,
            metadata_max_age: cfg.metadata_max_age,
            cfg: cfg.clone(),
            coord: Coord::Unknown { retry_at: now },
            find_attempts: 0,
            coord_failures: 0,
            next_id: 1,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            owned: BTreeSet::new(),
            pending_revoke: None,
            next_revoke_id: 1,
            last_poll: now,
            app_waiting: false,
            poll_expired: false,
            metadata_inflight: false,
            metadata_retry: false,
            next_metadata: now,
            leave_requested: false,
            left: false,
            failed: false,
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.retry_backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.retry_backoff_max.max(self.retry_backoff))
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn send(&mut self, request: CoordRequest, timeout: Option<Duration>) -> u64 {
        let id = self.next_id();
        tracing::debug!(group = %self.group_id, api = request.api(), id, "sending");
        self.transmits.push_back(Transmit::Request { id, request, timeout });
        id
    }

    fn coordinator(&self) -> Option<CoordinatorInfo> {
        match self.coord {
            Coord::Known(c) => Some(c),
            _ => None,
        }
    }

    /// Asks for the coordinator if it is unknown and the backoff has passed.
    fn maybe_find(&mut self, now: Instant) {
        if let Coord::Unknown { retry_at } = self.coord {
            if now >= retry_at {
                self.coord = Coord::Finding;
                self.transmits.push_back(Transmit::FindCoordinator);
            }
        }
    }

    /// Records the coordinator; returns false if the search failed.
    fn on_coordinator(&mut self, now: Instant, result: Result<CoordinatorInfo, CoordinatorError>) -> bool {
        if self.coord != Coord::Finding {
            return false;
        }
        match result {
            Ok(info) => {
                tracing::info!(group = %self.group_id, coordinator = info.node_id, "found the group coordinator");
                self.coord = Coord::Known(info);
                self.find_attempts = 0;
                true
            }
            Err(CoordinatorError::Retriable(why)) => {
                self.find_attempts = self.find_attempts.saturating_add(1);
                let wait = self.backoff(self.find_attempts);
                tracing::debug!(group = %self.group_id, error = %why, ?wait, "coordinator not found yet");
                self.coord = Coord::Unknown { retry_at: now + wait };
                false
            }
            Err(CoordinatorError::Fatal(e)) => {
                self.fail(e);
                false
            }
        }
    }

    fn forget_coordinator(&mut self, now: Instant, reason: &str) -> bool {
        if let Coord::Known(c) = self.coord {
            // Back off while the coordinator keeps failing (it may still be
            // moving: FindCoordinator can name the old one for a while).
            let wait = self.backoff(self.coord_failures);
            self.coord_failures = self.coord_failures.saturating_add(1);
            tracing::info!(
                group = %self.group_id,
                coordinator = c.node_id,
                reason,
                retry_in_ms = wait.as_millis() as u64,
                "coordinator unknown; rediscovering"
            );
            self.coord = Coord::Unknown { retry_at: now + wait };
            // Requests queued for it and not yet taken by the driver are
            // never sent (to no coordinator, or to the next one found): the
            // caller treats them as failed, as it does the ones in flight.
            self.transmits.retain(|t| !matches!(t, Transmit::Request { .. }));
            true
        } else {
            false
        }
    }

    fn fail(&mut self, e: GroupError) {
        if self.failed {
            return;
        }
        // The application gets the error as `MemberEvent::Failed`; a warning here
        // would print it twice (the CLI's one-line-error rule).
        tracing::debug!(group = %self.group_id, error = %e, "group membership failed");
        self.failed = true;
        self.transmits.clear();
        self.events.push_back(MemberEvent::Failed(e));
    }

    fn fenced_instance(&self) -> GroupError {
        GroupError::FencedInstance {
            group: self.group_id.clone(),
            instance: self.instance_id.clone().unwrap_or_default(),
        }
    }

    fn broker_error(&self, what: &str, code: ErrorCode, message: Option<String>) -> GroupError {
        GroupError::broker(format!("{what} group '{}'", self.group_id), code, message)
    }

    /// Everything owned is lost: tell the application, forget it.
    fn lose_all(&mut self) {
        self.pending_revoke = None;
        if !self.owned.is_empty() {
            let lost: Vec<TopicPartition> = std::mem::take(&mut self.owned).into_iter().collect();
            tracing::info!(group = %self.group_id, partitions = lost.len(), "partitions lost");
            self.events.push_back(MemberEvent::Lost(lost));
        }
    }

    fn revoke(&mut self, partitions: Vec<TopicPartition>, rejoin_after: bool) {
        let id = self.next_revoke_id;
        self.next_revoke_id += 1;
        self.pending_revoke = Some(PendingRevoke { id, partitions: partitions.clone(), rejoin_after });
        self.events.push_back(MemberEvent::Revoke { id, partitions });
    }

    fn request_metadata(&mut self, topics: Vec<String>) {
        if !self.metadata_inflight {
            self.metadata_inflight = true;
            self.metadata_retry = false;
            self.transmits.push_back(Transmit::Metadata(topics));
        }
    }

    /// Whether the poll interval ran out (the application is outside a poll for too long).
    fn poll_deadline(&self) -> Option<Instant> {
        (!self.app_waiting && !self.poll_expired).then(|| self.last_poll + self.max_poll_interval)
    }

    fn left(&mut self) {
        if !self.left {
            self.left = true;
            self.owned.clear();
            self.pending_revoke = None;
            self.events.push_back(MemberEvent::Left);
        }
    }
}

/// Groups partitions by topic, in order.
fn by_topic(parts: &BTreeSet<TopicPartition>) -> BTreeMap<String, Vec<i32>> {
    let mut m: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for tp in parts {
        m.entry(tp.topic.clone()).or_default().push(tp.partition);
    }
    m
}

fn ms_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn min_instant(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
