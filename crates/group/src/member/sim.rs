//! A simulated group coordinator for the classic protocol, and random fault
//! schedules that drive several [`Membership`]s against it on a virtual clock.
//!
//! [`SimCoordinator`] follows the rules of Kafka's `GroupCoordinator`
//! (core/src/main/scala/kafka/coordinator/group/GroupCoordinator.scala):
//!
//! - JoinGroup: v4+ members without an id get one and MEMBER_ID_REQUIRED
//!   (they are *pending* until they come back with it, and expire after the
//!   session timeout if they don't); a known member's join in Stable returns
//!   the current generation unless it is the leader or its metadata changed
//!   (then a rebalance); unknown ids get UNKNOWN_MEMBER_ID.
//! - The join phase waits for every known (and pending) member up to the
//!   largest rebalance timeout (an empty group first waits
//!   `group.initial.rebalance.delay.ms`), then removes the members that did
//!   not rejoin, bumps the generation, picks the protocol by vote and a leader
//!   (the old one if it rejoined), and answers every parked JoinGroup; the
//!   leader gets the members' metadata.
//! - SyncGroup: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS
//!   while preparing; the leader's assignment is stored (as in
//!   `__consumer_offsets`), handed to every parked follower, and the group
//!   becomes Stable; members that don't sync within the rebalance timeout are
//!   removed (Kafka 3.x's pending-sync timer).
//! - Heartbeat: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS
//!   while preparing; a member that neither heartbeats nor waits in a join or
//!   sync for a session timeout is removed (a rebalance follows).
//! - LeaveGroup: the member is removed (a rebalance follows).
//! - OffsetCommit: accepted only from a member of the current generation,
//!   outside CompletingRebalance.
//! - A coordinator move: the old broker answers what it parked with
//!   NOT_COORDINATOR and refuses everything after; the new one loads the last
//!   *stored* state (the generation whose assignment was written, Stable, every
//!   session restarted), answering COORDINATOR_LOAD_IN_PROGRESS while loading
//!   (Heartbeat: NONE, SyncGroup: REBALANCE_IN_PROGRESS, as Kafka does).
//!
//! [`SimConsumerCoordinator`] is the KIP-848 side (`group.protocol=consumer`,
//! ConsumerGroupHeartbeat): group and member epochs, a server-side target
//! assignment, and a partition given to a new owner only after the previous
//! owner's heartbeat shows it revoked.
//!
//! The schedules ([`run`], [`run_bytes`]): 2-5 members (more join later) on a
//! virtual clock, each with a driver (one connection to the coordinator,
//! requests handled in order) and an application (polls, commits, finishes
//! revocations after a while). Faults, drawn every 100 ms until the quiet
//! phase: answers delayed, connections closed (the broker may have acted on
//! the request in hand), the coordinator moving (loading, stale
//! FindCoordinator answers), failed lookups, applications that stop polling,
//! crashes, leaves, late joins, partitions added. Checked at every step:
//! no partition owned by two members the coordinator would accept a commit
//! from; each member's owned set is what its events told the application;
//! eager members rejoin owning nothing and revoke everything, cooperative
//! ones revoke only what moves; no member owns what the coordinator gave
//! another; no member sends more than 30 requests in a virtual second; no
//! member fails. After the quiet phase starts, the group must settle within
//! a bound: every live member in the coordinator's current generation (or
//! epoch), owning exactly its assignment, the assignments disjoint and
//! covering every partition. A step limit ends every run.

// Test harness (also built for fuzzing with the `sim` feature): its checks
// are panics by design.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(not(test), allow(dead_code))]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kwire_fetch::TopicPartition;
use kwire_proto::ErrorCode;
use kwire_proto::msg::group::{
    ConsumerAssignment, ConsumerSubscription, HeartbeatRequest, HeartbeatResponse, JoinGroupMember,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, LeftMember, SyncGroupRequest,
    SyncGroupResponse,
};

use super::{
    CommitIdentity, CoordRequest, CoordResponse, CoordinatorError, CoordinatorInfo, GroupApiVersions,
    MemberEvent, Membership, TopicMeta, Transmit,
};
use crate::{AssignorKind, GroupConfig};

// ---------------------------------------------------------------------------
// The coordinator.

const INCONSISTENT_GROUP_PROTOCOL: ErrorCode = ErrorCode(23);

/// Who a parked request answers: the member (its index in the runner) and
/// its connection (a closed connection's answers are dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) member: usize,
    pub(crate) conn: u64,
}

/// The coordinator's answer to a request: now, or later (parked: a JoinGroup
/// waiting for the join phase, a SyncGroup waiting for the leader).
#[derive(Debug)]
pub(crate) enum Handled {
    Now(CoordResponse),
    Parked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

#[derive(Debug, Clone)]
struct SimMember {
    protocols: Vec<(String, Bytes)>,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    last_heartbeat: Instant,
    awaiting_join: Option<(Token, u64)>,
    awaiting_sync: Option<(Token, u64)>,
    assignment: Bytes,
    /// Order of joining (Kafka picks a new leader among joined members in
    /// its members map's order).
    order: u64,
}

impl SimMember {
    fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols.iter().find(|(n, _)| n == protocol).map(|(_, m)| m.clone()).unwrap_or_default()
    }
    /// Kafka's `hasSatisfiedHeartbeat`: a member waiting in a join or a
    /// sync does not expire.
    fn expired(&self, now: Instant) -> bool {
        self.awaiting_join.is_none()
            && self.awaiting_sync.is_none()
            && now >= self.last_heartbeat + self.session_timeout
    }
}

/// What `__consumer_offsets` holds for the group (its last stored generation).
#[derive(Debug, Clone)]
struct Stored {
    generation: i32,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, SimMember>,
}

#[derive(Debug, Clone)]
struct Group {
    state: GState,
    generation: i32,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, SimMember>,
    /// Member ids handed out with MEMBER_ID_REQUIRED: expiry.
    pending: BTreeMap<String, Instant>,
    /// When the join phase ends at the latest.
    join_deadline: Option<Instant>,
    /// The initial delayed join (an empty group): time left to extend it,
    /// and whether a member joined during the current delay.
    initial: Option<(Duration, bool)>,
    /// Members of a completed join that have not synced, and the deadline.
    pending_sync: BTreeSet<String>,
    sync_deadline: Option<Instant>,
}

impl Group {
    fn empty() -> Group {
        Group {
            state: GState::Empty,
            generation: 0,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: BTreeMap::new(),
            join_deadline: None,
            initial: None,
            pending_sync: BTreeSet::new(),
            sync_deadline: None,
        }
    }
}

/// The simulated group coordinator of one group on a cluster of brokers
/// `1..=brokers`.
#[derive(Debug)]
pub(crate) struct SimCoordinator {
    /// The broker that is the coordinator now.
    pub(crate) node: i32,
    brokers: i32,
    /// The previous coordinator (FindCoordinator may still name it for a while).
    pub(crate) previous: i32,
    loading_until: Instant,
    group: Group,
    stored: Stored,
    /// Every stored generation's assignment (member → partitions).
    pub(crate) history: BTreeMap<i32, BTreeMap<String, BTreeSet<TopicPartition>>>,
    next_member: u64,
    next_order: u64,
    initial_delay: Duration,
    replies: Vec<(Token, u64, CoordResponse)>,
    /// Rebalances started, for the report.
    pub(crate) rebalances: u64,
    pub(crate) log: Vec<String>,
    trace: bool,
}

fn join_error(code: ErrorCode, member_id: &str) -> CoordResponse {
    CoordResponse::JoinGroup(JoinGroupResponse {
        error_code: code,
        generation_id: -1,
        member_id: member_id.to_owned(),
        ..Default::default()
    })
}

fn sync_error(code: ErrorCode) -> CoordResponse {
    CoordResponse::SyncGroup(SyncGroupResponse { error_code: code, ..Default::default() })
}

fn hb(code: ErrorCode) -> CoordResponse {
    CoordResponse::Heartbeat(HeartbeatResponse { throttle_time_ms: 0, error_code: code })
}

fn leave_error(code: ErrorCode) -> CoordResponse {
    CoordResponse::LeaveGroup(LeaveGroupResponse { error_code: code, ..Default::default() })
}

/// The partitions of an encoded assignment.
pub(crate) fn partitions_of(b: &Bytes) -> BTreeSet<TopicPartition> {
    ConsumerAssignment::decode(b.clone())
        .map(|a| {
            a.partitions
                .into_iter()
                .flat_map(|tp| {
                    let t = tp.topic;
                    tp.partitions.into_iter().map(move |p| TopicPartition::new(t.clone(), p))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl SimCoordinator {
    pub(crate) fn new(brokers: i32, node: i32, initial_delay: Duration, now: Instant) -> Self {
        SimCoordinator {
            node,
            brokers,
            previous: node,
            loading_until: now,
            group: Group::empty(),
            stored: Stored { generation: 0, protocol: None, leader: None, members: BTreeMap::new() },
            history: BTreeMap::new(),
            next_member: 1,
            next_order: 0,
            initial_delay,
            replies: Vec::new(),
            rebalances: 0,
            log: Vec::new(),
            trace: false,
        }
    }

    fn note(&mut self, s: String) {
        if self.trace {
            eprintln!("    coordinator: {s}");
        }
        if self.log.len() >= 64 {
            self.log.remove(0);
        }
        self.log.push(s);
    }

    pub(crate) fn state(&self) -> GState {
        self.group.state
    }

    pub(crate) fn generation(&self) -> i32 {
        self.group.generation
    }

    pub(crate) fn member_ids(&self) -> BTreeSet<String> {
        self.group.members.keys().cloned().collect()
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.group.pending.is_empty()
    }

    pub(crate) fn loading(&self, now: Instant) -> bool {
        now < self.loading_until
    }

    /// Answers to parked requests produced since the last call.
    pub(crate) fn take_replies(&mut self) -> Vec<(Token, u64, CoordResponse)> {
        std::mem::take(&mut self.replies)
    }

    /// FindCoordinator's answer.
    pub(crate) fn find(&self, stale: bool) -> i32 {
        if stale { self.previous } else { self.node }
    }

    /// The next instant [`tick`](Self::tick) has work.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let g = &self.group;
        let mut t: Option<Instant> = None;
        let mut at = |i: Instant| t = Some(t.map_or(i, |t: Instant| t.min(i)));
        if let Some(d) = g.join_deadline {
            at(d);
        }
        if let Some(d) = g.sync_deadline {
            at(d);
        }
        for e in g.pending.values() {
            at(*e);
        }
        for m in g.members.values() {
            if m.awaiting_join.is_none() && m.awaiting_sync.is_none() {
                at(m.last_heartbeat + m.session_timeout);
            }
        }
        t.map(|t0| t0.max(self.loading_until))
    }

    /// The coordinator moves to `node`: the old broker answers what it
    /// parked with NOT_COORDINATOR; the new one loads the stored state.
    pub(crate) fn move_to(&mut self, now: Instant, node: i32, load: Duration) {
        let node = if node == self.node { 1 + node % self.brokers } else { node };
        for m in self.group.members.values_mut() {
            if let Some((tok, id)) = m.awaiting_join.take() {
                self.replies.push((tok, id, join_error(ErrorCode::NOT_COORDINATOR, "")));
            }
            if let Some((tok, id)) = m.awaiting_sync.take() {
                self.replies.push((tok, id, sync_error(ErrorCode::NOT_COORDINATOR)));
            }
        }
        self.previous = self.node;
        self.node = node;
        self.loading_until = now + load;
        let s = self.stored.clone();
        let mut members = s.members;
        for m in members.values_mut() {
            m.last_heartbeat = self.loading_until;
            m.awaiting_join = None;
            m.awaiting_sync = None;
        }
        self.group = Group {
            state: if members.is_empty() { GState::Empty } else { GState::Stable },
            generation: s.generation,
            protocol: s.protocol,
            leader: s.leader,
            members,
            ..Group::empty()
        };
        self.note(format!(
            "moved to broker {node} (loading {} ms): generation {} {:?} members {:?}",
            load.as_millis(),
            self.group.generation,
            self.group.state,
            self.group.members.keys().collect::<Vec<_>>()
        ));
    }

    /// Whether an OffsetCommit from this identity would be accepted now
    /// (ignoring where it is sent and the loading phase).
    pub(crate) fn accepts_commit(&self, id: &CommitIdentity) -> bool {
        self.commit_code(id) == ErrorCode::NONE
    }

    fn commit_code(&self, id: &CommitIdentity) -> ErrorCode {
        let g = &self.group;
        if !g.members.contains_key(&id.member_id) {
            ErrorCode::UNKNOWN_MEMBER_ID
        } else if id.generation_or_epoch != g.generation {
            ErrorCode::ILLEGAL_GENERATION
        } else if g.state == GState::CompletingRebalance {
            ErrorCode::REBALANCE_IN_PROGRESS
        } else {
            ErrorCode::NONE
        }
    }

    /// An OffsetCommit sent to `node` (its offsets don't matter here): the
    /// error code Kafka answers. An accepted commit counts as a heartbeat.
    pub(crate) fn commit(&mut self, now: Instant, node: i32, id: &CommitIdentity) -> ErrorCode {
        if node != self.node {
            return ErrorCode::NOT_COORDINATOR;
        }
        if self.loading(now) {
            return ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
        }
        let code = self.commit_code(id);
        if code == ErrorCode::NONE {
            if let Some(m) = self.group.members.get_mut(&id.member_id) {
                m.last_heartbeat = now;
            }
        }
        code
    }

    /// A request arrives at broker `node`.
    pub(crate) fn handle(
        &mut self,
        now: Instant,
        node: i32,
        tok: Token,
        id: u64,
        req: &CoordRequest,
    ) -> Handled {
        if node != self.node {
            return Handled::Now(match req {
                CoordRequest::JoinGroup(..) => join_error(ErrorCode::NOT_COORDINATOR, ""),
                CoordRequest::SyncGroup(..) => sync_error(ErrorCode::NOT_COORDINATOR),
                CoordRequest::Heartbeat(..) => hb(ErrorCode::NOT_COORDINATOR),
                CoordRequest::LeaveGroup(..) => leave_error(ErrorCode::NOT_COORDINATOR),
                CoordRequest::ConsumerGroupHeartbeat(..) => {
                    panic!("the simulated coordinator speaks the classic protocol only")
                }
            });
        }
        let loading = self.loading(now);
        // Deadlines that passed before this request (sessions, join phase).
        self.tick(now);
        match req {
            CoordRequest::JoinGroup(r, v) => {
                if loading {
                    return Handled::Now(join_error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, ""));
                }
                self.join(now, tok, id, r, *v)
            }
            CoordRequest::SyncGroup(r, _) => {
                if loading {
                    return Handled::Now(sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
                }
                self.sync(now, tok, id, r)
            }
            CoordRequest::Heartbeat(r, _) => {
                if loading {
                    return Handled::Now(hb(ErrorCode::NONE));
                }
                Handled::Now(hb(self.heartbeat(now, r)))
            }
            CoordRequest::LeaveGroup(r, v) => {
                if loading {
                    return Handled::Now(leave_error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
                }
                Handled::Now(self.leave(now, r, *v))
            }
            CoordRequest::ConsumerGroupHeartbeat(..) => {
                panic!("the simulated coordinator speaks the classic protocol only")
            }
        }
    }

    fn join(&mut self, now: Instant, tok: Token, id: u64, r: &JoinGroupRequest, v: i16) -> Handled {
        let protocols: Vec<(String, Bytes)> =
            r.protocols.iter().map(|p| (p.name.to_string(), p.metadata.clone())).collect();
        if r.protocol_type.as_str() != "consumer" || protocols.is_empty() {
            return Handled::Now(join_error(INCONSISTENT_GROUP_PROTOCOL, ""));
        }
        // Every member must share a protocol with the group.
        if self.group.state != GState::Empty
            && !self
                .group
                .members
                .values()
                .all(|m| m.protocols.iter().any(|(n, _)| protocols.iter().any(|p| &p.0 == n)))
        {
            return Handled::Now(join_error(INCONSISTENT_GROUP_PROTOCOL, ""));
        }
        let session_timeout = Duration::from_millis(r.session_timeout_ms.max(0) as u64);
        let rebalance_timeout = if v >= 1 {
            Duration::from_millis(r.rebalance_timeout_ms.max(0) as u64)
        } else {
            session_timeout
        };
        let member_id = r.member_id.to_string();
        if member_id.is_empty() {
            let new_id = format!("consumer-{}", self.next_member);
            self.next_member += 1;
            if v >= 4 {
                // KIP-394: the member must come back with its id.
                self.group.pending.insert(new_id.clone(), now + session_timeout);
                self.note(format!("{new_id}: MEMBER_ID_REQUIRED"));
                return Handled::Now(join_error(ErrorCode::MEMBER_ID_REQUIRED, &new_id));
            }
            self.add_member(now, tok, id, new_id, protocols, session_timeout, rebalance_timeout);
            return Handled::Parked;
        }
        if self.group.pending.remove(&member_id).is_some() {
            self.add_member(now, tok, id, member_id, protocols, session_timeout, rebalance_timeout);
            return Handled::Parked;
        }
        let Some(m) = self.group.members.get_mut(&member_id) else {
            return Handled::Now(join_error(ErrorCode::UNKNOWN_MEMBER_ID, &member_id));
        };
        let same = m.protocols == protocols;
        m.session_timeout = session_timeout;
        m.rebalance_timeout = rebalance_timeout;
        m.last_heartbeat = now;
        let is_leader = self.group.leader.as_deref() == Some(member_id.as_str());
        match self.group.state {
            GState::PreparingRebalance => {
                let m = self.group.members.get_mut(&member_id).expect("member");
                m.protocols = protocols;
                m.awaiting_join = Some((tok, id));
                self.try_complete_join(now);
                Handled::Parked
            }
            GState::CompletingRebalance if same => {
                // It missed the join response: the current generation again.
                Handled::Now(self.join_result(&member_id))
            }
            GState::Stable if same && !is_leader => Handled::Now(self.join_result(&member_id)),
            GState::CompletingRebalance | GState::Stable | GState::Empty => {
                let m = self.group.members.get_mut(&member_id).expect("member");
                m.protocols = protocols;
                m.awaiting_join = Some((tok, id));
                self.prepare_rebalance(now, &format!("{member_id} rejoins"));
                self.try_complete_join(now);
                Handled::Parked
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_member(
        &mut self,
        now: Instant,
        tok: Token,
        id: u64,
        member_id: String,
        protocols: Vec<(String, Bytes)>,
        session_timeout: Duration,
        rebalance_timeout: Duration,
    ) {
        self.next_order += 1;
        self.group.members.insert(
            member_id.clone(),
            SimMember {
                protocols,
                session_timeout,
                rebalance_timeout,
                last_heartbeat: now,
                awaiting_join: Some((tok, id)),
                awaiting_sync: None,
                assignment: Bytes::new(),
                order: self.next_order,
            },
        );
        // Kafka extends the initial delay only for a group's first generation.
        if let Some((_, added)) = &mut self.group.initial {
            *added |= self.group.generation == 0;
        }
        if self.group.state != GState::PreparingRebalance {
            self.prepare_rebalance(now, &format!("{member_id} joins"));
        }
        self.try_complete_join(now);
    }

    fn join_result(&self, member_id: &str) -> CoordResponse {
        let g = &self.group;
        let protocol = g.protocol.clone().unwrap_or_default();
        let leader = g.leader.clone().unwrap_or_default();
        let members = if leader == member_id {
            let mut ms: Vec<(&String, &SimMember)> = g.members.iter().collect();
            ms.sort_by_key(|(_, m)| m.order);
            ms.into_iter()
                .map(|(id, m)| JoinGroupMember {
                    member_id: id.clone(),
                    group_instance_id: None,
                    metadata: m.metadata(&protocol),
                })
                .collect()
        } else {
            Vec::new()
        };
        CoordResponse::JoinGroup(JoinGroupResponse {
            throttle_time_ms: 0,
            error_code: ErrorCode::NONE,
            generation_id: g.generation,
            protocol_type: Some("consumer".into()),
            protocol_name: Some(protocol),
            leader,
            skip_assignment: false,
            member_id: member_id.to_owned(),
            members,
        })
    }

    /// Kafka's `prepareRebalance`.
    fn prepare_rebalance(&mut self, now: Instant, why: &str) {
        if self.group.state == GState::PreparingRebalance {
            return;
        }
        self.rebalances += 1;
        if self.group.state == GState::CompletingRebalance {
            // resetAndPropagateAssignmentError
            for m in self.group.members.values_mut() {
                m.assignment = Bytes::new();
                if let Some((tok, id)) = m.awaiting_sync.take() {
                    m.last_heartbeat = now;
                    self.replies.push((tok, id, sync_error(ErrorCode::REBALANCE_IN_PROGRESS)));
                }
            }
        }
        self.group.pending_sync.clear();
        self.group.sync_deadline = None;
        let rebalance_timeout =
            self.group.members.values().map(|m| m.rebalance_timeout).max().unwrap_or_default();
        if self.group.state == GState::Empty && !self.initial_delay.is_zero() {
            let delay = self.initial_delay.min(rebalance_timeout);
            self.group.initial = Some((rebalance_timeout.saturating_sub(delay), false));
            self.group.join_deadline = Some(now + delay);
        } else {
            self.group.initial = None;
            self.group.join_deadline = Some(now + rebalance_timeout);
        }
        self.group.state = GState::PreparingRebalance;
        self.note(format!("preparing rebalance (generation {}): {why}", self.group.generation));
    }

    fn all_joined(&self) -> bool {
        self.group.pending.is_empty() && self.group.members.values().all(|m| m.awaiting_join.is_some())
    }

    fn try_complete_join(&mut self, now: Instant) {
        if self.group.state == GState::PreparingRebalance && self.group.initial.is_none() && self.all_joined()
        {
            self.complete_join(now);
        }
    }

    /// Kafka's `onCompleteJoin`.
    fn complete_join(&mut self, now: Instant) {
        // Dynamic members that did not rejoin are removed.
        let gone: Vec<String> = self
            .group
            .members
            .iter()
            .filter(|(_, m)| m.awaiting_join.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for id in &gone {
            self.group.members.remove(id);
        }
        if !gone.is_empty() {
            self.note(format!("join phase over without {gone:?}: removed"));
        }
        self.group.join_deadline = None;
        self.group.initial = None;
        let g = &mut self.group;
        if g.members.is_empty() {
            g.generation += 1;
            g.protocol = None;
            g.leader = None;
            g.state = GState::Empty;
            self.note(format!("generation {}: empty", self.group.generation));
            self.store();
            return;
        }
        // The leader: the old one if it rejoined, else the first member.
        if !g.leader.as_ref().is_some_and(|l| g.members.contains_key(l)) {
            g.leader = g.members.iter().min_by_key(|(_, m)| m.order).map(|(k, _)| k.clone());
        }
        g.generation += 1;
        // The protocol: candidates every member supports; each member votes
        // for its most preferred one.
        let first: Vec<String> = g
            .members
            .values()
            .next()
            .map(|m| m.protocols.iter().map(|p| p.0.clone()).collect())
            .unwrap_or_default();
        let candidates: Vec<String> = first
            .into_iter()
            .filter(|n| g.members.values().all(|m| m.protocols.iter().any(|p| &p.0 == n)))
            .collect();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in g.members.values() {
            if let Some((n, _)) = m.protocols.iter().find(|p| candidates.contains(&p.0)) {
                *votes.entry(n.as_str()).or_default() += 1;
            }
        }
        g.protocol = votes.iter().max_by_key(|(_, c)| **c).map(|(n, _)| (*n).to_owned());
        g.state = GState::CompletingRebalance;
        g.pending_sync = g.members.keys().cloned().collect();
        let rebalance_timeout = g.members.values().map(|m| m.rebalance_timeout).max().unwrap_or_default();
        g.sync_deadline = Some(now + rebalance_timeout);
        let ids: Vec<String> = g.members.keys().cloned().collect();
        self.note(format!(
            "generation {}: {:?}, leader {:?}, protocol {:?}",
            self.group.generation, ids, self.group.leader, self.group.protocol
        ));
        for id in ids {
            let resp = self.join_result(&id);
            let m = self.group.members.get_mut(&id).expect("member");
            m.last_heartbeat = now;
            if let Some((tok, rid)) = m.awaiting_join.take() {
                self.replies.push((tok, rid, resp));
            }
        }
    }

    fn store(&mut self) {
        let g = &self.group;
        self.stored = Stored {
            generation: g.generation,
            protocol: g.protocol.clone(),
            leader: g.leader.clone(),
            members: g.members.clone(),
        };
        let a: BTreeMap<String, BTreeSet<TopicPartition>> =
            g.members.iter().map(|(k, m)| (k.clone(), partitions_of(&m.assignment))).collect();
        self.history.insert(g.generation, a);
    }

    fn sync(&mut self, now: Instant, tok: Token, id: u64, r: &SyncGroupRequest) -> Handled {
        let member_id = r.member_id.to_string();
        let g = &mut self.group;
        let Some(m) = g.members.get_mut(&member_id) else {
            return Handled::Now(sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
        };
        if r.generation_id != g.generation {
            return Handled::Now(sync_error(ErrorCode::ILLEGAL_GENERATION));
        }
        if r.protocol_name.as_ref().is_some_and(|p| Some(p.as_str()) != g.protocol.as_deref()) {
            return Handled::Now(sync_error(INCONSISTENT_GROUP_PROTOCOL));
        }
        match g.state {
            GState::Empty => Handled::Now(sync_error(ErrorCode::UNKNOWN_MEMBER_ID)),
            GState::PreparingRebalance => Handled::Now(sync_error(ErrorCode::REBALANCE_IN_PROGRESS)),
            GState::Stable => {
                m.last_heartbeat = now;
                let assignment = m.assignment.clone();
                g.pending_sync.remove(&member_id);
                Handled::Now(CoordResponse::SyncGroup(SyncGroupResponse {
                    throttle_time_ms: 0,
                    error_code: ErrorCode::NONE,
                    protocol_type: Some("consumer".into()),
                    protocol_name: g.protocol.clone(),
                    assignment,
                }))
            }
            GState::CompletingRebalance => {
                m.awaiting_sync = Some((tok, id));
                m.last_heartbeat = now;
                g.pending_sync.remove(&member_id);
                if g.leader.as_deref() == Some(member_id.as_str()) {
                    let given: BTreeMap<String, Bytes> = r
                        .assignments
                        .iter()
                        .map(|a| (a.member_id.to_string(), a.assignment.clone()))
                        .collect();
                    for (mid, m) in g.members.iter_mut() {
                        m.assignment = given.get(mid).cloned().unwrap_or_default();
                    }
                    // Stored first, then Stable and the answers.
                    g.state = GState::Stable;
                    g.pending_sync.clear();
                    g.sync_deadline = None;
                    self.store();
                    let protocol = self.group.protocol.clone();
                    let summary: Vec<String> = self
                        .group
                        .members
                        .iter()
                        .map(|(k, m)| {
                            format!(
                                "{k}={:?}",
                                partitions_of(&m.assignment).iter().map(|t| t.partition).collect::<Vec<_>>()
                            )
                        })
                        .collect();
                    self.note(format!("generation {} stable: {}", self.group.generation, summary.join(" ")));
                    for m in self.group.members.values_mut() {
                        if let Some((tok, rid)) = m.awaiting_sync.take() {
                            self.replies.push((
                                tok,
                                rid,
                                CoordResponse::SyncGroup(SyncGroupResponse {
                                    throttle_time_ms: 0,
                                    error_code: ErrorCode::NONE,
                                    protocol_type: Some("consumer".into()),
                                    protocol_name: protocol.clone(),
                                    assignment: m.assignment.clone(),
                                }),
                            ));
                        }
                    }
                }
                Handled::Parked
            }
        }
    }

    fn heartbeat(&mut self, now: Instant, r: &HeartbeatRequest) -> ErrorCode {
        let g = &mut self.group;
        if g.state == GState::Empty {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        }
        let Some(m) = g.members.get_mut(r.member_id.as_str()) else {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        };
        if r.generation_id != g.generation {
            return ErrorCode::ILLEGAL_GENERATION;
        }
        m.last_heartbeat = now;
        match g.state {
            GState::PreparingRebalance => ErrorCode::REBALANCE_IN_PROGRESS,
            _ => ErrorCode::NONE,
        }
    }

    fn leave(&mut self, now: Instant, r: &LeaveGroupRequest, v: i16) -> CoordResponse {
        let ids: Vec<String> = if v <= 2 {
            vec![r.member_id.to_string()]
        } else {
            r.members.iter().map(|m| m.member_id.to_string()).collect()
        };
        let mut results = Vec::new();
        for id in &ids {
            let code = if self.group.pending.remove(id).is_some() {
                self.try_complete_join(now);
                ErrorCode::NONE
            } else if self.group.members.contains_key(id) {
                self.remove_member(now, id, "left");
                ErrorCode::NONE
            } else {
                ErrorCode::UNKNOWN_MEMBER_ID
            };
            results.push(LeftMember { member_id: id.clone(), group_instance_id: None, error_code: code });
        }
        if v <= 2 {
            let code = results.first().map_or(ErrorCode::NONE, |m| m.error_code);
            leave_error(code)
        } else {
            CoordResponse::LeaveGroup(LeaveGroupResponse {
                throttle_time_ms: 0,
                error_code: ErrorCode::NONE,
                members: results,
            })
        }
    }

    /// Kafka's `removeMemberAndUpdateGroup`.
    fn remove_member(&mut self, now: Instant, id: &str, why: &str) {
        let Some(m) = self.group.members.remove(id) else { return };
        // A parked request of a removed member is answered UNKNOWN_MEMBER_ID.
        if let Some((tok, rid)) = m.awaiting_join {
            self.replies.push((tok, rid, join_error(ErrorCode::UNKNOWN_MEMBER_ID, id)));
        }
        if let Some((tok, rid)) = m.awaiting_sync {
            self.replies.push((tok, rid, sync_error(ErrorCode::UNKNOWN_MEMBER_ID)));
        }
        self.group.pending_sync.remove(id);
        self.note(format!("{id} removed: {why}"));
        match self.group.state {
            GState::Empty => {}
            GState::Stable | GState::CompletingRebalance => {
                self.prepare_rebalance(now, &format!("{id} {why}"));
                self.try_complete_join(now);
            }
            GState::PreparingRebalance => self.try_complete_join(now),
        }
    }

    /// Time passed: sessions, pending members, the join and sync phases.
    pub(crate) fn tick(&mut self, now: Instant) {
        if self.loading(now) {
            return;
        }
        loop {
            let expired_pending: Vec<String> =
                self.group.pending.iter().filter(|(_, e)| now >= **e).map(|(k, _)| k.clone()).collect();
            for id in &expired_pending {
                self.group.pending.remove(id);
                self.note(format!("pending {id} expired"));
                self.try_complete_join(now);
            }
            let expired: Option<String> =
                self.group.members.iter().find(|(_, m)| m.expired(now)).map(|(k, _)| k.clone());
            if let Some(id) = &expired {
                self.remove_member(now, id, "session expired");
                continue;
            }
            if self.group.state == GState::PreparingRebalance
                && self.group.join_deadline.is_some_and(|d| now >= d)
            {
                match self.group.initial {
                    Some((remaining, true)) if !remaining.is_zero() => {
                        let delay = self.initial_delay.min(remaining);
                        self.group.initial = Some((remaining - delay, false));
                        self.group.join_deadline = Some(now + delay);
                    }
                    _ => {
                        if self.group.members.values().any(|m| m.awaiting_join.is_some())
                            || self.group.members.is_empty()
                        {
                            self.complete_join(now);
                        } else {
                            // No member rejoined: wait another rebalance timeout
                            // (sessions remove the silent ones).
                            let rt = self
                                .group
                                .members
                                .values()
                                .map(|m| m.rebalance_timeout)
                                .max()
                                .unwrap_or_default();
                            self.group.initial = None;
                            self.group.join_deadline = Some(now + rt);
                        }
                    }
                }
                continue;
            }
            if self.group.state == GState::CompletingRebalance
                && self.group.sync_deadline.is_some_and(|d| now >= d)
            {
                let late: Vec<String> = self.group.pending_sync.iter().cloned().collect();
                self.group.sync_deadline = None;
                for id in late {
                    self.remove_member(now, &id, "did not sync in time");
                }
                continue;
            }
            break;
        }
    }
}

// ---------------------------------------------------------------------------
// The KIP-848 coordinator (`group.protocol=consumer`).

/// A KIP-848 member's reconciliation state (Kafka's `MemberState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CState {
    /// Owns its whole assignment at the current epoch.
    Stable,
    /// Must give up `pending` (its epoch advances once its heartbeat shows it did).
    Unrevoked,
    /// Waits for partitions of its target that another member still owns.
    Unreleased,
}

#[derive(Debug, Clone)]
struct CMember {
    id: String,
    epoch: i32,
    previous_epoch: i32,
    state: CState,
    assigned: BTreeSet<i32>,
    pending: BTreeSet<i32>,
    rebalance_timeout: Duration,
    last_heartbeat: Instant,
    revoke_deadline: Option<Instant>,
}

/// The simulated KIP-848 group coordinator, after Kafka's
/// `GroupMetadataManager.consumerGroupHeartbeat` and `CurrentAssignmentBuilder`:
/// a join (epoch 0) or a leave (-1) or a lost member bumps the group epoch;
/// the target assignment (uniform, sticky) is recomputed for the new epoch;
/// each member then reconciles on its heartbeats: it first gives up what
/// left its target (its epoch stays until a heartbeat shows the partitions
/// released), then advances to the target epoch, and gets a partition only
/// once no other member holds it (assigned or pending revocation). Stale
/// epochs are fenced (FENCED_MEMBER_EPOCH; the previous epoch is accepted
/// while the member owns nothing outside its assignment); members that
/// don't heartbeat for a session timeout, or don't revoke within their
/// rebalance timeout, are removed. The group's state is written as it
/// changes, so a coordinator move keeps all of it (sessions restart).
#[derive(Debug)]
pub(crate) struct SimConsumerCoordinator {
    pub(crate) node: i32,
    brokers: i32,
    pub(crate) previous: i32,
    loading_until: Instant,
    partitions: i32,
    group_epoch: i32,
    assignment_epoch: i32,
    /// Member seq → target partitions.
    target: BTreeMap<u64, BTreeSet<i32>>,
    /// By seq (join order), so nothing depends on the clients' random ids.
    members: BTreeMap<u64, CMember>,
    next_seq: u64,
    session_timeout: Duration,
    pub(crate) log: Vec<String>,
    trace: bool,
    pub(crate) rebalances: u64,
}

fn cg_response(code: ErrorCode) -> CoordResponse {
    CoordResponse::ConsumerGroupHeartbeat(kwire_proto::msg::group::ConsumerGroupHeartbeatResponse {
        error_code: code,
        ..Default::default()
    })
}

impl SimConsumerCoordinator {
    pub(crate) fn new(
        brokers: i32,
        node: i32,
        partitions: i32,
        session_timeout: Duration,
        now: Instant,
    ) -> Self {
        SimConsumerCoordinator {
            node,
            brokers,
            previous: node,
            loading_until: now,
            partitions,
            group_epoch: 0,
            assignment_epoch: 0,
            target: BTreeMap::new(),
            members: BTreeMap::new(),
            next_seq: 1,
            session_timeout,
            log: Vec::new(),
            trace: false,
            rebalances: 0,
        }
    }

    fn note(&mut self, s: String) {
        if self.trace {
            eprintln!("    coordinator: {s}");
        }
        if self.log.len() >= 64 {
            self.log.remove(0);
        }
        self.log.push(s);
    }

    fn seq_of(&self, id: &str) -> Option<u64> {
        self.members.iter().find(|(_, m)| m.id == id).map(|(s, _)| *s)
    }

    fn bump(&mut self, why: &str) {
        self.group_epoch += 1;
        self.rebalances += 1;
        let e = self.group_epoch;
        self.note(format!("group epoch {e}: {why}"));
    }

    pub(crate) fn set_partitions(&mut self, n: i32) {
        if n != self.partitions {
            self.partitions = n;
            self.bump("partitions added");
        }
    }

    fn remove(&mut self, seq: u64, why: &str) {
        if let Some(m) = self.members.remove(&seq) {
            self.target.remove(&seq);
            self.bump(&format!("{} {why}", m.id));
        }
    }

    /// The target assignment for the group epoch: uniform, keeping what
    /// each member had where its share allows.
    fn compute_target(&mut self) {
        let seqs: Vec<u64> = self.members.keys().copied().collect();
        let n = seqs.len() as i32;
        let mut target: BTreeMap<u64, BTreeSet<i32>> = BTreeMap::new();
        if n > 0 {
            let base = self.partitions / n;
            let extra = self.partitions % n;
            let mut taken = BTreeSet::new();
            let quota = |i: usize| (base + i32::from((i as i32) < extra)) as usize;
            for (i, s) in seqs.iter().enumerate() {
                let keep: BTreeSet<i32> = self
                    .target
                    .get(s)
                    .map(|t| t.iter().copied().filter(|p| *p < self.partitions).take(quota(i)).collect())
                    .unwrap_or_default();
                taken.extend(keep.iter().copied());
                target.insert(*s, keep);
            }
            let mut free = (0..self.partitions).filter(|p| !taken.contains(p));
            for (i, s) in seqs.iter().enumerate() {
                let t = target.entry(*s).or_default();
                while t.len() < quota(i) {
                    let Some(p) = free.next() else { break };
                    t.insert(p);
                }
            }
        }
        self.target = target;
        self.assignment_epoch = self.group_epoch;
        let summary: Vec<String> = self
            .target
            .iter()
            .map(|(s, t)| format!("{}={:?}", self.members.get(s).map_or("?", |m| m.id.as_str()), t))
            .collect();
        let e = self.assignment_epoch;
        self.note(format!("target of epoch {e}: {}", summary.join(" ")));
    }

    /// Partitions another member than `seq` holds (assigned or being revoked).
    fn held_by_others(&self, seq: u64) -> BTreeSet<i32> {
        self.members
            .iter()
            .filter(|(s, _)| **s != seq)
            .flat_map(|(_, m)| m.assigned.iter().chain(m.pending.iter()).copied())
            .collect()
    }

    /// Kafka's `CurrentAssignmentBuilder`.
    fn reconcile(&mut self, now: Instant, seq: u64, owned: &BTreeSet<i32>) {
        for _ in 0..4 {
            let others = self.held_by_others(seq);
            let target = self.target.get(&seq).cloned().unwrap_or_default();
            let epoch = self.assignment_epoch;
            let Some(m) = self.members.get_mut(&seq) else { return };
            match m.state {
                CState::Unrevoked => {
                    if owned.is_disjoint(&m.pending) {
                        m.pending.clear();
                        m.revoke_deadline = None;
                        // Revoked: next, the assignment of the current
                        // target (which may have changed meanwhile).
                        m.state = CState::Stable;
                        continue;
                    }
                    return;
                }
                CState::Stable if m.epoch == epoch => return,
                CState::Unreleased if m.epoch == epoch => {
                    let give: Vec<i32> = target.iter().copied().filter(|p| !others.contains(p)).collect();
                    m.assigned.extend(give);
                    if m.assigned == target {
                        m.state = CState::Stable;
                    }
                    return;
                }
                CState::Stable | CState::Unreleased => {
                    let revoke: BTreeSet<i32> = m.assigned.difference(&target).copied().collect();
                    if !revoke.is_empty() {
                        m.assigned = m.assigned.intersection(&target).copied().collect();
                        m.pending = revoke;
                        m.state = CState::Unrevoked;
                        m.revoke_deadline = Some(now + m.rebalance_timeout);
                        return;
                    }
                    m.previous_epoch = m.epoch;
                    m.epoch = epoch;
                    m.state = CState::Unreleased;
                }
            }
        }
    }

    fn response(&self, seq: u64) -> CoordResponse {
        let m = &self.members[&seq];
        CoordResponse::ConsumerGroupHeartbeat(kwire_proto::msg::group::ConsumerGroupHeartbeatResponse {
            throttle_time_ms: 0,
            error_code: ErrorCode::NONE,
            error_message: None,
            member_id: Some(m.id.clone()),
            member_epoch: m.epoch,
            heartbeat_interval_ms: 1000,
            assignment: Some(vec![kwire_proto::msg::group::TopicIdPartitions {
                topic_id: TOPIC_ID,
                topic_name: String::new(),
                partitions: m.assigned.iter().copied().collect(),
            }]),
        })
    }

    pub(crate) fn handle(&mut self, now: Instant, node: i32, req: &CoordRequest) -> CoordResponse {
        let CoordRequest::ConsumerGroupHeartbeat(r, _) = req else {
            panic!("the simulated KIP-848 coordinator speaks ConsumerGroupHeartbeat only")
        };
        if node != self.node {
            return cg_response(ErrorCode::NOT_COORDINATOR);
        }
        if now < self.loading_until {
            return cg_response(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
        }
        self.tick(now);
        let id = r.member_id.to_string();
        let owned: BTreeSet<i32> = r
            .topic_partitions
            .iter()
            .flatten()
            .filter(|t| *t.topic_id.as_bytes() == TOPIC_ID)
            .flat_map(|t| t.partitions.iter().copied())
            .collect();
        let seq = match r.member_epoch {
            -1 | -2 => {
                let Some(seq) = self.seq_of(&id) else {
                    return cg_response(ErrorCode::UNKNOWN_MEMBER_ID);
                };
                self.remove(seq, "left");
                return CoordResponse::ConsumerGroupHeartbeat(
                    kwire_proto::msg::group::ConsumerGroupHeartbeatResponse {
                        member_id: Some(id),
                        member_epoch: r.member_epoch,
                        ..Default::default()
                    },
                );
            }
            0 => {
                if id.is_empty() {
                    return cg_response(ErrorCode(42)); // INVALID_REQUEST: v1 members pick their id
                }
                // A member (re)joining starts from nothing.
                if let Some(old) = self.seq_of(&id) {
                    self.members.remove(&old);
                    self.target.remove(&old);
                }
                let seq = self.next_seq;
                self.next_seq += 1;
                self.members.insert(
                    seq,
                    CMember {
                        id: id.clone(),
                        epoch: 0,
                        previous_epoch: -1,
                        state: CState::Stable,
                        assigned: BTreeSet::new(),
                        pending: BTreeSet::new(),
                        rebalance_timeout: Duration::from_millis(r.rebalance_timeout_ms.max(0) as u64),
                        last_heartbeat: now,
                        revoke_deadline: None,
                    },
                );
                self.bump(&format!("{id} joins"));
                seq
            }
            e => {
                let Some(seq) = self.seq_of(&id) else {
                    return cg_response(ErrorCode::UNKNOWN_MEMBER_ID);
                };
                let m = &self.members[&seq];
                let ok = e == m.epoch || (e == m.previous_epoch && owned.is_subset(&m.assigned));
                if !ok {
                    return cg_response(ErrorCode::FENCED_MEMBER_EPOCH);
                }
                seq
            }
        };
        if let Some(m) = self.members.get_mut(&seq) {
            m.last_heartbeat = now;
        }
        if self.group_epoch > self.assignment_epoch {
            self.compute_target();
        }
        self.reconcile(now, seq, &owned);
        self.response(seq)
    }

    pub(crate) fn tick(&mut self, now: Instant) {
        if now < self.loading_until {
            return;
        }
        let gone: Vec<(u64, &'static str)> = self
            .members
            .iter()
            .filter_map(|(s, m)| {
                if now >= m.last_heartbeat + self.session_timeout {
                    Some((*s, "session expired"))
                } else if m.revoke_deadline.is_some_and(|d| now >= d) {
                    Some((*s, "did not revoke within the rebalance timeout"))
                } else {
                    None
                }
            })
            .collect();
        for (s, why) in gone {
            self.remove(s, why);
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.members
            .values()
            .flat_map(|m| std::iter::once(m.last_heartbeat + self.session_timeout).chain(m.revoke_deadline))
            .min()
            .map(|t| t.max(self.loading_until))
    }

    pub(crate) fn move_to(&mut self, now: Instant, node: i32, load: Duration) {
        let node = if node == self.node { 1 + node % self.brokers } else { node };
        self.previous = self.node;
        self.node = node;
        self.loading_until = now + load;
        for m in self.members.values_mut() {
            m.last_heartbeat = self.loading_until;
        }
        self.note(format!("moved to broker {node} (loading {} ms)", load.as_millis()));
    }

    fn commit_code(&self, id: &CommitIdentity) -> ErrorCode {
        match self.seq_of(&id.member_id).map(|s| &self.members[&s]) {
            None => ErrorCode::UNKNOWN_MEMBER_ID,
            Some(m) if id.generation_or_epoch == m.epoch => ErrorCode::NONE,
            Some(m) if id.generation_or_epoch < m.epoch => ErrorCode::STALE_MEMBER_EPOCH,
            Some(_) => ErrorCode::FENCED_MEMBER_EPOCH,
        }
    }

    /// Per member id: (epoch, assigned) once every member is stable at the
    /// group epoch; else why not.
    fn settled(&self) -> Result<BTreeMap<String, (i32, BTreeSet<TopicPartition>)>, String> {
        let mut out = BTreeMap::new();
        for m in self.members.values() {
            if m.state != CState::Stable
                || m.epoch != self.group_epoch
                || self.assignment_epoch != self.group_epoch
            {
                return Err(format!(
                    "{} {:?} at epoch {} (group epoch {}, assignment epoch {})",
                    m.id, m.state, m.epoch, self.group_epoch, self.assignment_epoch
                ));
            }
            out.insert(
                m.id.clone(),
                (m.epoch, m.assigned.iter().map(|p| TopicPartition::new(TOPIC, *p)).collect()),
            );
        }
        Ok(out)
    }
}

/// The coordinator of the run's protocol.
// One per run: the size difference doesn't matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Coord {
    Classic(SimCoordinator),
    Consumer(SimConsumerCoordinator),
}

impl Coord {
    fn node(&self) -> i32 {
        match self {
            Coord::Classic(c) => c.node,
            Coord::Consumer(c) => c.node,
        }
    }
    fn find(&self, stale: bool) -> i32 {
        match self {
            Coord::Classic(c) => c.find(stale),
            Coord::Consumer(c) => {
                if stale {
                    c.previous
                } else {
                    c.node
                }
            }
        }
    }
    fn loading(&self, now: Instant) -> bool {
        match self {
            Coord::Classic(c) => c.loading(now),
            Coord::Consumer(c) => now < c.loading_until,
        }
    }
    fn handle(&mut self, now: Instant, node: i32, tok: Token, id: u64, req: &CoordRequest) -> Handled {
        match self {
            Coord::Classic(c) => c.handle(now, node, tok, id, req),
            Coord::Consumer(c) => Handled::Now(c.handle(now, node, req)),
        }
    }
    fn tick(&mut self, now: Instant) {
        match self {
            Coord::Classic(c) => c.tick(now),
            Coord::Consumer(c) => c.tick(now),
        }
    }
    fn next_deadline(&self) -> Option<Instant> {
        match self {
            Coord::Classic(c) => c.next_deadline(),
            Coord::Consumer(c) => c.next_deadline(),
        }
    }
    fn take_replies(&mut self) -> Vec<(Token, u64, CoordResponse)> {
        match self {
            Coord::Classic(c) => c.take_replies(),
            Coord::Consumer(_) => Vec::new(),
        }
    }
    fn move_to(&mut self, now: Instant, node: i32, load: Duration) {
        match self {
            Coord::Classic(c) => c.move_to(now, node, load),
            Coord::Consumer(c) => c.move_to(now, node, load),
        }
    }
    fn set_partitions(&mut self, n: i32) {
        if let Coord::Consumer(c) = self {
            c.set_partitions(n);
        }
    }
    fn commit_code(&self, id: &CommitIdentity) -> ErrorCode {
        match self {
            Coord::Classic(c) => c.commit_code(id),
            Coord::Consumer(c) => c.commit_code(id),
        }
    }
    fn accepts_commit(&self, id: &CommitIdentity) -> bool {
        self.commit_code(id) == ErrorCode::NONE
    }
    /// An OffsetCommit sent to `node`: Kafka's answer (an accepted one
    /// counts as a heartbeat in the classic protocol).
    fn commit(&mut self, now: Instant, node: i32, id: &CommitIdentity) -> ErrorCode {
        match self {
            Coord::Classic(c) => c.commit(now, node, id),
            Coord::Consumer(c) => {
                if node != c.node {
                    ErrorCode::NOT_COORDINATOR
                } else if now < c.loading_until {
                    ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
                } else {
                    c.commit_code(id)
                }
            }
        }
    }
    /// What the coordinator gives this member now: classic, its stored
    /// assignment in the identity's generation; KIP-848, its current assignment.
    fn assignment_of(&self, id: &CommitIdentity) -> Option<BTreeSet<TopicPartition>> {
        match self {
            Coord::Classic(c) => {
                c.history.get(&id.generation_or_epoch).and_then(|h| h.get(&id.member_id)).cloned()
            }
            Coord::Consumer(c) => c
                .seq_of(&id.member_id)
                .map(|s| c.members[&s].assigned.iter().map(|p| TopicPartition::new(TOPIC, *p)).collect()),
        }
    }
    /// What the coordinator holds for members other than this one: classic,
    /// the other assignments of the identity's generation; KIP-848, every
    /// other member's assigned and pending-revocation partitions.
    fn given_to_others(&self, id: &CommitIdentity) -> Vec<(String, BTreeSet<TopicPartition>)> {
        match self {
            Coord::Classic(c) => c
                .history
                .get(&id.generation_or_epoch)
                .map(|h| {
                    h.iter()
                        .filter(|(m, _)| **m != id.member_id)
                        .map(|(m, p)| (m.clone(), p.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            Coord::Consumer(c) => c
                .members
                .values()
                .filter(|m| m.id != id.member_id)
                .map(|m| {
                    (
                        m.id.clone(),
                        m.assigned
                            .iter()
                            .chain(m.pending.iter())
                            .map(|p| TopicPartition::new(TOPIC, *p))
                            .collect(),
                    )
                })
                .collect(),
        }
    }
    /// Per member id: (generation or epoch, assignment) once the group
    /// is settled; else why not.
    fn settled(&self) -> Result<BTreeMap<String, (i32, BTreeSet<TopicPartition>)>, String> {
        match self {
            Coord::Classic(c) => {
                if c.state() != GState::Stable && !c.group.members.is_empty() {
                    return Err(format!("coordinator {:?}", c.state()));
                }
                if c.has_pending() {
                    return Err("pending members".into());
                }
                let g = c.generation();
                Ok(c.group
                    .members
                    .keys()
                    .map(|m| {
                        let a = c.history.get(&g).and_then(|h| h.get(m)).cloned().unwrap_or_default();
                        (m.clone(), (g, a))
                    })
                    .collect())
            }
            Coord::Consumer(c) => c.settled(),
        }
    }
    fn describe(&self) -> String {
        match self {
            Coord::Classic(c) => format!(
                "classic coordinator: broker {} generation {} {:?} members {:?}",
                c.node,
                c.generation(),
                c.state(),
                c.member_ids()
            ),
            Coord::Consumer(c) => format!(
                "KIP-848 coordinator: broker {} group epoch {} assignment epoch {} members {:?}",
                c.node,
                c.group_epoch,
                c.assignment_epoch,
                c.members
                    .values()
                    .map(|m| (m.id.as_str(), m.epoch, m.state, &m.assigned, &m.pending))
                    .collect::<Vec<_>>()
            ),
        }
    }
    fn log(&self) -> &[String] {
        match self {
            Coord::Classic(c) => &c.log,
            Coord::Consumer(c) => &c.log,
        }
    }
    fn rebalances(&self) -> u64 {
        match self {
            Coord::Classic(c) => c.rebalances,
            Coord::Consumer(c) => c.rebalances,
        }
    }
    fn generation(&self) -> i32 {
        match self {
            Coord::Classic(c) => c.generation(),
            Coord::Consumer(c) => c.group_epoch,
        }
    }
}

/// The versions the simulated coordinator speaks.
pub(crate) fn versions(join: i16, leave: i16, kip848: bool) -> GroupApiVersions {
    GroupApiVersions {
        join_group: Some(join),
        sync_group: Some(5),
        heartbeat: Some(4),
        leave_group: Some(leave),
        offset_commit: Some(9),
        offset_fetch: Some(9),
        consumer_group_heartbeat: kip848.then_some(1),
    }
}

// ---------------------------------------------------------------------------
// Random fault schedules: N members on a virtual clock.

/// splitmix64; under fuzzing the input's bytes come first (one per choice),
/// then splitmix64 seeded with the input's length, so every input ends.
pub(crate) struct Rng {
    state: u64,
    bytes: Vec<u8>,
    pos: usize,
}

impl Rng {
    pub(crate) fn seeded(seed: u64) -> Rng {
        Rng { state: seed, bytes: Vec::new(), pos: 0 }
    }
    fn from_bytes(data: &[u8]) -> Rng {
        Rng { state: data.len() as u64, bytes: data.to_vec(), pos: 0 }
    }
    pub(crate) fn next(&mut self) -> u64 {
        if let Some(b) = self.bytes.get(self.pos) {
            self.pos += 1;
            return u64::from(*b).wrapping_mul(0x0101_0101_0101_0101);
        }
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    fn ms(&mut self, max: u64) -> Duration {
        Duration::from_millis(self.below(max + 1))
    }
}

/// Fault rates, in per mille per [`FAULT_TICK`] of virtual time unless said
/// otherwise.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Faults {
    /// Per mille of answers delayed by up to 3 s (else up to 20 ms).
    pub(crate) delay: u64,
    /// A member's connection to the coordinator closes.
    pub(crate) lose: u64,
    /// The coordinator moves to another broker.
    pub(crate) moves: u64,
    /// Per mille of FindCoordinator / Metadata answers that fail.
    pub(crate) find_fail: u64,
    /// A member's application stops polling for a while.
    pub(crate) pause: u64,
    /// A member crashes (no LeaveGroup).
    pub(crate) crash: u64,
    /// A member leaves, or a new one joins.
    pub(crate) churn: u64,
    /// The topic gets more partitions.
    pub(crate) grow: u64,
}

impl Faults {
    pub(crate) const NONE: Faults =
        Faults { delay: 0, lose: 0, moves: 0, find_fail: 0, pause: 0, crash: 0, churn: 0, grow: 0 };
}

const BROKERS: i32 = 3;
const TOPIC: &str = "t";
const TOPIC_ID: [u8; 16] = [7; 16];
const MAX_MEMBERS: usize = 8;
/// Requests (FindCoordinator, Metadata, coordinator requests) one member may
/// send in one virtual second.
const MAX_PER_SECOND: u32 = 30;
const STEP_LIMIT: u64 = 300_000;
/// How often faults are drawn.
const FAULT_TICK: Duration = Duration::from_millis(100);

/// A run's shape (chosen by the input or the seed).
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    pub(crate) members: usize,
    pub(crate) assignors: Vec<AssignorKind>,
    pub(crate) partitions: i32,
    pub(crate) join_version: i16,
    pub(crate) leave_version: i16,
    pub(crate) session: Duration,
    pub(crate) max_poll: Duration,
    pub(crate) initial_delay: Duration,
    /// Virtual time of faults before the quiet phase.
    pub(crate) fault_time: Duration,
    /// KIP-848 (`group.protocol=consumer`) rather than the classic protocol.
    pub(crate) kip848: bool,
    /// Classic: a rolling upgrade to cooperative rebalancing (Kafka's
    /// documented path): each member offers either `range` and
    /// `cooperative-sticky` (so it rebalances eagerly) or only
    /// `cooperative-sticky`.
    pub(crate) upgrade: bool,
}

impl Shape {
    fn pick(rng: &mut Rng) -> Shape {
        const ASSIGNORS: [&[AssignorKind]; 5] = [
            &[AssignorKind::Range],
            &[AssignorKind::RoundRobin],
            &[AssignorKind::Sticky],
            &[AssignorKind::CooperativeSticky],
            &[AssignorKind::Range, AssignorKind::CooperativeSticky],
        ];
        Shape {
            members: 2 + rng.below(4) as usize,
            assignors: ASSIGNORS[rng.below(ASSIGNORS.len() as u64) as usize].to_vec(),
            partitions: 1 + rng.below(6) as i32,
            join_version: [3, 4, 5, 7, 9][rng.below(5) as usize],
            leave_version: [1, 2, 3, 5][rng.below(4) as usize],
            session: Duration::from_secs([6, 10][rng.below(2) as usize]),
            max_poll: Duration::from_secs([8, 15, 30][rng.below(3) as usize]),
            initial_delay: Duration::from_millis([0, 3000][rng.below(2) as usize]),
            fault_time: Duration::from_secs(30 + rng.below(90)),
            kip848: rng.chance(333),
            upgrade: rng.chance(200),
        }
    }
}

#[derive(Debug)]
enum Head {
    Idle,
    /// The head request reaches the broker at.
    Arriving(Instant),
    /// The broker parked it (a join or a sync).
    Parked,
    /// Its answer reaches the member at.
    Answering(Instant, CoordResponse),
}

#[derive(Debug)]
struct Conn {
    node: i32,
    epoch: u64,
    /// Requests in order; the broker handles one at a time (it mutes a
    /// connection until it answered the request in hand).
    queue: VecDeque<(u64, CoordRequest)>,
    head: Head,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Starts at.
    Waiting(Instant),
    Alive,
    /// The application stopped polling until.
    Paused(Instant),
    /// Left (or leaving: `Membership::leave` called).
    Leaving,
    Crashed,
    Done,
}

struct Member {
    name: String,
    m: Membership,
    status: Status,
    eager: bool,
    conn: Option<Conn>,
    find_at: Option<Instant>,
    meta_at: Option<Instant>,
    /// What the application was told it owns.
    app_owned: BTreeSet<TopicPartition>,
    /// The revocation in hand: id, partitions, done at.
    revoke: Option<(u64, Vec<TopicPartition>, Instant)>,
    bucket: (u64, u32),
}

impl Member {
    fn live(&self) -> bool {
        matches!(self.status, Status::Alive | Status::Paused(_) | Status::Leaving)
    }
}

/// The world: the coordinator, the members, the clock.
struct World {
    rng: Rng,
    faults: Faults,
    shape: Shape,
    coord: Coord,
    members: Vec<Member>,
    partitions: i32,
    t0: Instant,
    now: Instant,
    step: u64,
    next_conn: u64,
    moved_at: Option<Instant>,
    /// Faults are drawn every [`FAULT_TICK`] of virtual time.
    next_fault: Instant,
    quiet: bool,
    trace: bool,
    cfg: GroupConfig,
    /// What happened, by kind (for the tests' summary).
    stats: BTreeMap<String, u64>,
    /// Whether a `poll_timeout` left in the past by `handle_timeout` is an error.
    check_spin: bool,
    collect_stats: bool,
}

/// What a finished run did, for the tests' summary.
#[derive(Debug, Default, Clone)]
pub(crate) struct Summary {
    pub(crate) stats: BTreeMap<String, u64>,
    pub(crate) generations: i32,
    pub(crate) rebalances: u64,
    pub(crate) converged_after_ms: u128,
}

fn tps(s: &BTreeSet<TopicPartition>) -> Vec<i32> {
    s.iter().map(|t| t.partition).collect()
}

impl World {
    fn new(mut rng: Rng, faults: Faults, shape: Shape) -> World {
        let t0 = Instant::now();
        let trace = std::env::var_os("KWIRE_SIM_TRACE").is_some();
        let mut cfg = GroupConfig::new("g");
        cfg.session_timeout = shape.session;
        cfg.heartbeat_interval = Duration::from_secs(1);
        cfg.max_poll_interval = shape.max_poll;
        cfg.assignors = shape.assignors.clone();
        cfg.retry_backoff = Duration::from_millis(100);
        cfg.retry_backoff_max = Duration::from_secs(1);
        cfg.metadata_max_age = Duration::from_secs(3);
        let node = 1 + rng.below(BROKERS as u64) as i32;
        let coord = if shape.kip848 {
            cfg.protocol = crate::GroupProtocol::Consumer;
            let mut c = SimConsumerCoordinator::new(BROKERS, node, shape.partitions, shape.session, t0);
            c.trace = trace;
            Coord::Consumer(c)
        } else {
            let mut c = SimCoordinator::new(BROKERS, node, shape.initial_delay, t0);
            c.trace = trace;
            Coord::Classic(c)
        };
        let mut w = World {
            rng,
            faults,
            partitions: shape.partitions,
            shape,
            coord,
            members: Vec::new(),
            t0,
            now: t0,
            step: 0,
            next_conn: 1,
            moved_at: None,
            next_fault: t0,
            quiet: false,
            trace,
            cfg,
            stats: BTreeMap::new(),
            check_spin: false,
            collect_stats: true,
        };
        for i in 0..w.shape.members {
            // Most start at once; some join late.
            let late = if i > 0 && w.rng.chance(300) { w.rng.ms(20_000) } else { Duration::ZERO };
            w.add_member(t0 + late);
        }
        w
    }

    fn add_member(&mut self, start: Instant) {
        let name = format!("M{}", self.members.len());
        let mut cfg = self.cfg.clone();
        if self.shape.upgrade {
            cfg.assignors = if self.rng.chance(500) {
                vec![AssignorKind::Range, AssignorKind::CooperativeSticky]
            } else {
                vec![AssignorKind::CooperativeSticky]
            };
        }
        let m = Membership::new(&cfg, vec![TOPIC.to_owned()], start);
        let eager = !self.shape.kip848 && !cfg.assignors.iter().all(|a| a.cooperative());
        self.members.push(Member {
            name,
            m,
            status: Status::Waiting(start),
            eager,
            conn: None,
            find_at: None,
            meta_at: None,
            app_owned: BTreeSet::new(),
            revoke: None,
            bucket: (0, 0),
        });
    }

    fn count(&mut self, what: impl Into<String>) {
        // Not while fuzzing (run_bytes): the summary is for the seed tests.
        if !self.collect_stats {
            return;
        }
        *self.stats.entry(what.into()).or_default() += 1;
    }

    fn at(&self) -> String {
        format!("step {} at {} ms", self.step, (self.now - self.t0).as_millis())
    }

    fn say(&self, what: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("{:>6} {:>7}ms {}", self.step, (self.now - self.t0).as_millis(), what());
        }
    }

    fn answer_delay(&mut self) -> Duration {
        if !self.quiet && self.rng.chance(self.faults.delay) { self.rng.ms(3_000) } else { self.rng.ms(20) }
    }

    fn all_partitions(&self) -> BTreeSet<TopicPartition> {
        (0..self.partitions).map(|p| TopicPartition::new(TOPIC, p)).collect()
    }

    /// Closes member `i`'s connection: its requests fail; the broker may
    /// have read the one in hand (and acts on it, answering nobody).
    fn close_conn(&mut self, i: usize, why: &str) {
        let Some(mut conn) = self.members[i].conn.take() else { return };
        let now = self.now;
        if let Head::Arriving(_) = conn.head {
            if self.rng.chance(500) {
                if let Some((id, req)) = conn.queue.front() {
                    let tok = Token { member: i, conn: conn.epoch };
                    let _ = self.coord.handle(now, conn.node, tok, *id, req);
                }
            }
        }
        let name = self.members[i].name.clone();
        self.say(|| format!("{name}: connection to broker {} closed ({why})", conn.node));
        if self.members[i].status == Status::Crashed {
            return;
        }
        for (id, _) in conn.queue.drain(..) {
            let e = format!("connection to broker {} closed", conn.node);
            self.members[i].m.handle_response(now, id, Err(e));
        }
    }

    fn next_event(&self) -> Option<Instant> {
        let mut t: Option<Instant> = self.coord.next_deadline();
        if !self.quiet {
            t = Some(t.map_or(self.next_fault, |t| t.min(self.next_fault)));
        }
        let mut at = |i: Option<Instant>| {
            if let Some(i) = i {
                t = Some(t.map_or(i, |t: Instant| t.min(i)));
            }
        };
        for mb in &self.members {
            match mb.status {
                Status::Waiting(s) => at(Some(s)),
                Status::Paused(u) => at(Some(u)),
                Status::Crashed | Status::Done => continue,
                _ => {}
            }
            // A timeout still due after this step's handle_timeout is the
            // driver-spin finding (an error when `check_spin`): the clock
            // doesn't crawl in 1 ms steps for it, it looks again in 50 ms.
            at(mb
                .m
                .poll_timeout()
                .map(|t| if t <= self.now { self.now + Duration::from_millis(50) } else { t }));
            at(mb.find_at);
            at(mb.meta_at);
            if mb.status == Status::Alive {
                at(mb.revoke.as_ref().map(|r| r.2));
            }
            if let Some(c) = &mb.conn {
                match &c.head {
                    Head::Arriving(a) | Head::Answering(a, _) => at(Some(*a)),
                    Head::Idle if !c.queue.is_empty() => at(Some(self.now)),
                    _ => {}
                }
            }
        }
        t
    }

    /// One step; Ok(true) once converged in the quiet phase.
    fn step(&mut self) -> Result<bool, String> {
        self.step += 1;
        if self.step > STEP_LIMIT {
            return Err(format!("no convergence after {STEP_LIMIT} steps"));
        }
        let cap = self.now + Duration::from_millis(1 + self.rng.below(250));
        let next = self.next_event().map_or(cap, |e| e.min(cap));
        self.now = next.max(self.now + Duration::from_millis(1));
        let now = self.now;
        if !self.quiet && now >= self.t0 + self.shape.fault_time {
            self.quiet = true;
            self.say(|| "quiet phase".to_owned());
            for mb in &mut self.members {
                match mb.status {
                    Status::Paused(_) => mb.status = Status::Paused(now),
                    Status::Waiting(s) if s > now => mb.status = Status::Waiting(now),
                    _ => {}
                }
            }
        }
        self.coord.tick(now);
        self.route_replies();
        while !self.quiet && self.next_fault <= now {
            self.next_fault += FAULT_TICK;
            self.faults()?;
        }
        for i in 0..self.members.len() {
            self.drive(i)?;
        }
        self.route_replies();
        self.check()?;
        if self.quiet {
            return self.converged();
        }
        Ok(false)
    }

    /// Parked answers go to their connections (a closed connection's are dropped).
    fn route_replies(&mut self) {
        for (tok, id, resp) in self.coord.take_replies() {
            let d = self.answer_delay();
            let Some(c) = self.members.get_mut(tok.member).and_then(|m| m.conn.as_mut()) else { continue };
            if c.epoch != tok.conn
                || !matches!(c.head, Head::Parked)
                || c.queue.front().map(|q| q.0) != Some(id)
            {
                continue;
            }
            c.head = Head::Answering(self.now + d, resp);
        }
    }

    fn faults(&mut self) -> Result<(), String> {
        let now = self.now;
        let f = self.faults;
        if self.rng.chance(f.moves) {
            let to = 1 + self.rng.below(BROKERS as u64) as i32;
            let load = self.rng.ms(2_000);
            self.coord.move_to(now, to, load);
            self.moved_at = Some(now);
            self.count("fault: coordinator moves");
            self.say(|| format!("coordinator moves to broker {}", self.coord.node()));
        }
        if self.rng.chance(f.lose) {
            let i = self.rng.below(self.members.len() as u64) as usize;
            self.close_conn(i, "fault");
            self.count("fault: connection lost");
        }
        if self.rng.chance(f.grow) && self.partitions < 12 {
            self.partitions += 1 + self.rng.below(2) as i32;
            self.say(|| format!("topic grows to {} partitions", self.partitions));
            self.coord.set_partitions(self.partitions);
            self.count("fault: partitions added");
        }
        let alive: Vec<usize> =
            (0..self.members.len()).filter(|i| self.members[*i].status == Status::Alive).collect();
        let staying = self
            .members
            .iter()
            .filter(|m| matches!(m.status, Status::Alive | Status::Paused(_) | Status::Waiting(_)))
            .count();
        if !alive.is_empty() && self.rng.chance(f.pause) {
            let i = alive[self.rng.below(alive.len() as u64) as usize];
            let d = self.rng.ms(2 * self.shape.max_poll.as_millis() as u64);
            self.members[i].status = Status::Paused(now + d);
            let name = self.members[i].name.clone();
            self.say(|| format!("{name}: stops polling for {} ms", d.as_millis()));
            self.count("fault: stops polling");
        }
        if !alive.is_empty() && staying > 1 && self.rng.chance(f.crash) {
            let i = alive[self.rng.below(alive.len() as u64) as usize];
            self.members[i].status = Status::Crashed;
            let name = self.members[i].name.clone();
            self.say(|| format!("{name}: crashes"));
            self.count("fault: crash");
            self.close_conn(i, "crash");
        }
        if self.rng.chance(f.churn) {
            if self.rng.chance(500) {
                if !alive.is_empty() && staying > 1 {
                    let i = alive[self.rng.below(alive.len() as u64) as usize];
                    self.members[i].status = Status::Leaving;
                    self.members[i].m.leave(now);
                    let name = self.members[i].name.clone();
                    self.say(|| format!("{name}: leaves"));
                    self.count("fault: leave");
                }
            } else if self.members.len() < MAX_MEMBERS {
                let start = now + self.rng.ms(5_000);
                self.add_member(start);
                let name = self.members.last().map(|m| m.name.clone()).unwrap_or_default();
                self.say(|| format!("{name}: will join"));
                self.count("fault: new member");
            }
        }
        Ok(())
    }

    /// Runs member `i`'s driver and application for this instant.
    fn drive(&mut self, i: usize) -> Result<(), String> {
        let now = self.now;
        match self.members[i].status {
            Status::Crashed | Status::Done => return Ok(()),
            Status::Waiting(s) if s > now => return Ok(()),
            Status::Waiting(_) => {
                self.members[i].status = Status::Alive;
                let name = self.members[i].name.clone();
                self.say(|| format!("{name}: starts"));
            }
            Status::Paused(u) if u <= now => {
                self.members[i].status = Status::Alive;
                let name = self.members[i].name.clone();
                self.say(|| format!("{name}: polls again"));
            }
            _ => {}
        }
        let alive = self.members[i].status == Status::Alive;
        if alive {
            self.members[i].m.handle_poll(now);
            // The application finishes a revocation: commits, then says so.
            if self.members[i].revoke.as_ref().is_some_and(|r| r.2 <= now) {
                // The commit may find the member out of the group (Lost).
                self.commit(i);
                self.events(i)?;
                if let Some((id, parts, _)) = self.members[i].revoke.take() {
                    for p in &parts {
                        self.members[i].app_owned.remove(p);
                    }
                    self.members[i].m.handle_revoked(now, id);
                }
            }
            if self.rng.chance(50) {
                self.commit(i);
            }
        }
        if self.members[i].m.poll_timeout().is_some_and(|t| t <= now) {
            self.members[i].m.handle_timeout(now);
        }
        if self.members[i].find_at.is_some_and(|t| t <= now) {
            self.members[i].find_at = None;
            let r = if !self.quiet && self.rng.chance(self.faults.find_fail) {
                Err(CoordinatorError::Retriable("COORDINATOR_NOT_AVAILABLE".into()))
            } else {
                // For a while after a move, brokers may still name the old one.
                let stale = !self.quiet
                    && self.moved_at.is_some_and(|t| now < t + Duration::from_secs(2))
                    && self.rng.chance(500);
                let node = self.coord.find(stale);
                Ok(CoordinatorInfo {
                    node_id: node,
                    versions: versions(self.shape.join_version, self.shape.leave_version, self.shape.kip848),
                })
            };
            let name = self.members[i].name.clone();
            self.say(|| format!("{name}: FindCoordinator -> {r:?}"));
            self.members[i].m.handle_coordinator(now, r);
        }
        if self.members[i].meta_at.is_some_and(|t| t <= now) {
            self.members[i].meta_at = None;
            let r = if !self.quiet && self.rng.chance(self.faults.find_fail) {
                Err("metadata request failed".to_owned())
            } else {
                Ok(vec![TopicMeta { name: TOPIC.into(), id: TOPIC_ID, partitions: self.partitions }])
            };
            self.members[i].m.handle_metadata(now, r);
        }
        // The connection.
        let d = self.answer_delay();
        let mut deliver = None;
        if let Some(c) = self.members[i].conn.as_mut() {
            match &c.head {
                Head::Idle if !c.queue.is_empty() => c.head = Head::Arriving(now + d / 4),
                Head::Arriving(t) if *t <= now => {
                    let (id, req) = c.queue.front().expect("a request in hand");
                    let tok = Token { member: i, conn: c.epoch };
                    c.head = match self.coord.handle(now, c.node, tok, *id, req) {
                        Handled::Now(resp) => Head::Answering(now + d, resp),
                        Handled::Parked => Head::Parked,
                    };
                }
                Head::Answering(t, _) if *t <= now => {
                    let Head::Answering(_, resp) = std::mem::replace(&mut c.head, Head::Idle) else {
                        unreachable!()
                    };
                    let (id, _) = c.queue.pop_front().expect("a request in hand");
                    deliver = Some((id, resp));
                }
                _ => {}
            }
        }
        if let Some((id, resp)) = deliver {
            let name = self.members[i].name.clone();
            self.say(|| format!("{name}: #{id} <- {}", show_response(&resp)));
            let (api, code) = match &resp {
                CoordResponse::JoinGroup(r) => ("JoinGroup", r.error_code),
                CoordResponse::SyncGroup(r) => ("SyncGroup", r.error_code),
                CoordResponse::Heartbeat(r) => ("Heartbeat", r.error_code),
                CoordResponse::LeaveGroup(r) => ("LeaveGroup", r.error_code),
                CoordResponse::ConsumerGroupHeartbeat(r) => ("ConsumerGroupHeartbeat", r.error_code),
            };
            if code != ErrorCode::NONE {
                self.count(format!("answer: {api} {code}"));
            }
            self.members[i].m.handle_response(now, id, Ok(resp));
        }
        self.transmits(i)?;
        self.events(i)?;
        // The driver sleeps until `poll_timeout` and calls `handle_timeout`:
        // a timeout that stays due after that makes it spin.
        if self.check_spin {
            for _ in 0..3 {
                if self.members[i].m.poll_timeout().is_none_or(|t| t > now) {
                    return Ok(());
                }
                self.members[i].m.handle_timeout(now);
                self.transmits(i)?;
                self.events(i)?;
            }
            if let Some(t) = self.members[i].m.poll_timeout().filter(|t| *t <= now) {
                let mb = &self.members[i];
                return Err(format!(
                    "{} ({:?}) would spin: its poll_timeout stays {} ms in the past after handle_timeout \
                     (the driver's sleep_until(poll_timeout) returns at once, again and again); \
                     coordinator known: {}, identity {:?}, owned {:?}\n  {:?}",
                    mb.name,
                    mb.status,
                    (now - t).as_millis(),
                    mb.m.coordinator().is_some(),
                    mb.m.commit_identity().map(|i| i.generation_or_epoch),
                    tps(mb.m.owned()),
                    mb.m
                ));
            }
        }
        Ok(())
    }

    /// An OffsetCommit by member `i` (its offsets don't matter): a refused
    /// one goes back to the member.
    fn commit(&mut self, i: usize) {
        let now = self.now;
        let mb = &mut self.members[i];
        let (Some(id), Some(c)) = (mb.m.commit_identity(), mb.m.coordinator()) else { return };
        let code = self.coord.commit(now, c.node_id, &id);
        if code != ErrorCode::NONE {
            mb.m.handle_commit_error(now, code);
            self.count(format!("commit refused: {code}"));
        } else {
            self.count("commit accepted");
        }
    }

    fn transmits(&mut self, i: usize) -> Result<(), String> {
        let now = self.now;
        while let Some(t) = self.members[i].m.poll_transmit(now) {
            let second = (now - self.t0).as_secs();
            let name = self.members[i].name.clone();
            let b = &mut self.members[i].bucket;
            if b.0 != second {
                *b = (second, 0);
            }
            b.1 += 1;
            if b.1 > MAX_PER_SECOND {
                return Err(format!(
                    "{name} sent more than {MAX_PER_SECOND} requests in virtual second {second} (last: {t:?})"
                ));
            }
            match t {
                Transmit::FindCoordinator => {
                    let d = self.answer_delay();
                    self.members[i].find_at = Some(now + d);
                }
                Transmit::Metadata(_) => {
                    let d = self.answer_delay();
                    self.members[i].meta_at = Some(now + d);
                }
                Transmit::Request { id, request, .. } => {
                    self.say(|| format!("{name}: #{id} -> {}", show_request(&request)));
                    if let CoordRequest::JoinGroup(j, _) = &request {
                        if self.members[i].eager {
                            let owned = self.members[i].m.owned().clone();
                            let sub = j
                                .protocols
                                .first()
                                .and_then(|p| ConsumerSubscription::decode(p.metadata.clone()).ok())
                                .map(|s| s.owned_partitions)
                                .unwrap_or_default();
                            if !owned.is_empty() || sub.iter().any(|t| !t.partitions.is_empty()) {
                                return Err(format!(
                                    "{name} (eager) rejoins owning {:?} (subscription: {sub:?})",
                                    tps(&owned)
                                ));
                            }
                        }
                    }
                    let Some(node) = self.members[i].m.coordinator().map(|c| c.node_id) else {
                        return Err(format!("{name} sent {} with no coordinator", request.api()));
                    };
                    if self.members[i].conn.as_ref().is_some_and(|c| c.node != node) {
                        self.close_conn(i, "another coordinator");
                    }
                    let epoch = self.next_conn;
                    let d = self.answer_delay();
                    let c = self.members[i].conn.get_or_insert_with(|| Conn {
                        node,
                        epoch,
                        queue: VecDeque::new(),
                        head: Head::Idle,
                    });
                    if c.epoch == epoch {
                        self.next_conn += 1;
                    }
                    c.queue.push_back((id, request));
                    if matches!(c.head, Head::Idle) && c.queue.len() == 1 {
                        c.head = Head::Arriving(now + d / 4);
                    }
                }
            }
        }
        Ok(())
    }

    /// The application reads member `i`'s events; each must agree with what
    /// it was told before.
    fn events(&mut self, i: usize) -> Result<(), String> {
        let now = self.now;
        while let Some(ev) = self.members[i].m.poll_event() {
            let name = self.members[i].name.clone();
            self.say(|| format!("{name}: event {}", show_event(&ev)));
            self.count(format!("event: {}", show_event(&ev).split(' ').next().unwrap_or_default()));
            let identity = self.members[i].m.commit_identity();
            let mb = &mut self.members[i];
            match ev {
                MemberEvent::Assigned { added, assignment } => {
                    for p in &added {
                        if !mb.app_owned.insert(p.clone()) {
                            return Err(format!("{name} was assigned {p} which it already owned"));
                        }
                    }
                    let mut expect = mb.app_owned.clone();
                    if let Some((_, parts, _)) = &mb.revoke {
                        for p in parts {
                            expect.remove(p);
                        }
                    }
                    let assignment: BTreeSet<TopicPartition> = assignment.into_iter().collect();
                    if assignment != expect {
                        return Err(format!(
                            "{name}: assignment {:?} but the application owns {:?} (less what it revokes)",
                            tps(&assignment),
                            tps(&expect)
                        ));
                    }
                }
                MemberEvent::Revoke { id, partitions } => {
                    if mb.revoke.is_some() {
                        return Err(format!("{name}: a second revocation while one is in hand"));
                    }
                    let set: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
                    if !set.is_subset(&mb.app_owned) {
                        return Err(format!(
                            "{name}: revoke {:?} but owns {:?}",
                            tps(&set),
                            tps(&mb.app_owned)
                        ));
                    }
                    if mb.eager && set != mb.app_owned {
                        return Err(format!(
                            "{name} (eager) revokes {:?} of {:?}: eager members give up everything",
                            tps(&set),
                            tps(&mb.app_owned)
                        ));
                    }
                    if !mb.eager {
                        // Only what moves: nothing of its own assignment in this generation.
                        if let Some(a) = identity.as_ref().and_then(|id| self.coord.assignment_of(id)) {
                            if !set.is_disjoint(&a) {
                                return Err(format!(
                                    "{name} (cooperative) revokes {:?} although its assignment keeps {:?}",
                                    tps(&set),
                                    tps(&a)
                                ));
                            }
                        }
                    }
                    let done = now + self.rng.ms(1_500);
                    self.members[i].revoke = Some((id, partitions, done));
                }
                MemberEvent::Lost(parts) => {
                    let set: BTreeSet<TopicPartition> = parts.into_iter().collect();
                    if !set.is_subset(&mb.app_owned) {
                        return Err(format!(
                            "{name}: lost {:?} but owns {:?}",
                            tps(&set),
                            tps(&mb.app_owned)
                        ));
                    }
                    for p in &set {
                        mb.app_owned.remove(p);
                    }
                    mb.revoke = None;
                }
                MemberEvent::Failed(e) => return Err(format!("{name} failed: {e}")),
                MemberEvent::Left => {
                    mb.app_owned.clear();
                    mb.revoke = None;
                    if mb.status != Status::Leaving {
                        return Err(format!("{name} left without being asked to"));
                    }
                    mb.status = Status::Done;
                }
            }
        }
        Ok(())
    }

    /// The invariants that hold at every instant.
    fn check(&self) -> Result<(), String> {
        for mb in &self.members {
            if !mb.live() {
                continue;
            }
            if *mb.m.owned() != mb.app_owned {
                return Err(format!(
                    "{} owns {:?} but its events told the application {:?}",
                    mb.name,
                    tps(mb.m.owned()),
                    tps(&mb.app_owned)
                ));
            }
        }
        // Safety: no partition owned by two members the coordinator would
        // accept a commit from.
        let committers: Vec<(&Member, CommitIdentity)> = self
            .members
            .iter()
            .filter(|mb| mb.live())
            .filter_map(|mb| mb.m.commit_identity().map(|id| (mb, id)))
            .filter(|(_, id)| self.coord.accepts_commit(id))
            .collect();
        for (a, (ma, ia)) in committers.iter().enumerate() {
            for (mb, ib) in &committers[a + 1..] {
                let both: Vec<i32> = ma.m.owned().intersection(mb.m.owned()).map(|t| t.partition).collect();
                if !both.is_empty() {
                    return Err(format!(
                        "{} ({} gen {}) and {} ({} gen {}) both own {both:?} and may both commit",
                        ma.name,
                        ia.member_id,
                        ia.generation_or_epoch,
                        mb.name,
                        ib.member_id,
                        ib.generation_or_epoch
                    ));
                }
            }
        }
        // Classic: nobody owns what its generation gave another member.
        // KIP-848: no member still in its epoch owns what the coordinator
        // gave (or is taking back from) another one.
        for mb in self.members.iter().filter(|m| m.live()) {
            let Some(id) = mb.m.commit_identity() else { continue };
            if self.shape.kip848 && !self.coord.accepts_commit(&id) {
                continue;
            }
            for (other, parts) in self.coord.given_to_others(&id) {
                if !parts.is_disjoint(mb.m.owned()) {
                    return Err(format!(
                        "{} ({} gen/epoch {}) owns {:?}, which the coordinator gave to {other}",
                        mb.name,
                        id.member_id,
                        id.generation_or_epoch,
                        tps(&parts.intersection(mb.m.owned()).cloned().collect()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Liveness: in the quiet phase, the group must settle: one stable
    /// generation of every live member, their assignments disjoint and
    /// covering every partition. Ok(true) once it did; an error past the bound.
    fn converged(&self) -> Result<bool, String> {
        let live: Vec<&Member> = self.members.iter().filter(|m| m.live()).collect();
        let why = self.unsettled(&live);
        let Some(why) = why else { return Ok(true) };
        let s = &self.shape;
        let bound = 3 * s.session + 4 * s.max_poll + Duration::from_secs(30);
        if self.now > self.t0 + s.fault_time + bound {
            let states: Vec<String> = self
                .members
                .iter()
                .map(|m| {
                    format!(
                        "{} {:?} id={:?} identity={:?} owned={:?} revoke={:?}",
                        m.name,
                        m.status,
                        m.m.member_id(),
                        m.m.commit_identity().map(|i| i.generation_or_epoch),
                        tps(m.m.owned()),
                        m.revoke.as_ref().map(|r| r.0)
                    )
                })
                .collect();
            return Err(format!(
                "no convergence {} s into the quiet phase: {why}\n  {}\n  {}\n  coordinator log (last): {}",
                bound.as_secs(),
                self.coord.describe(),
                states.join("\n  "),
                self.coord.log().join("\n    ")
            ));
        }
        Ok(false)
    }

    fn unsettled(&self, live: &[&Member]) -> Option<String> {
        if self.coord.loading(self.now) {
            return Some("coordinator loading".into());
        }
        let settled = match self.coord.settled() {
            Ok(s) => s,
            Err(e) => return Some(e),
        };
        let ids: BTreeSet<String> = live.iter().map(|m| m.m.member_id().to_owned()).collect();
        let theirs: BTreeSet<String> = settled.keys().cloned().collect();
        if ids != theirs {
            return Some(format!("live members {ids:?} != coordinator's {theirs:?}"));
        }
        let mut all = BTreeSet::new();
        for mb in live {
            if mb.status == Status::Leaving {
                return Some(format!("{} still leaving", mb.name));
            }
            let (generation, given) = &settled[mb.m.member_id()];
            match mb.m.commit_identity() {
                Some(id) if id.generation_or_epoch == *generation => {}
                other => return Some(format!("{} identity {other:?}", mb.name)),
            }
            if mb.revoke.is_some() {
                return Some(format!("{} revoking", mb.name));
            }
            // It owns what the coordinator gives it.
            if given != mb.m.owned() {
                return Some(format!(
                    "{} owns {:?}, its assignment is {:?}",
                    mb.name,
                    tps(mb.m.owned()),
                    tps(given)
                ));
            }
            for p in mb.m.owned() {
                if !all.insert(p.clone()) {
                    return Some(format!("{p} owned twice"));
                }
            }
        }
        if !live.is_empty() && all != self.all_partitions() {
            return Some(format!("owned {:?} of {} partitions", tps(&all), self.partitions));
        }
        None
    }
}

fn show_request(r: &CoordRequest) -> String {
    match r {
        CoordRequest::JoinGroup(j, v) => format!("JoinGroup v{v} member {:?}", j.member_id.as_str()),
        CoordRequest::SyncGroup(s, _) => format!(
            "SyncGroup gen {} member {:?} ({} assignments)",
            s.generation_id,
            s.member_id.as_str(),
            s.assignments.len()
        ),
        CoordRequest::Heartbeat(h, _) => {
            format!("Heartbeat gen {} member {:?}", h.generation_id, h.member_id.as_str())
        }
        CoordRequest::LeaveGroup(..) => "LeaveGroup".into(),
        CoordRequest::ConsumerGroupHeartbeat(..) => "ConsumerGroupHeartbeat".into(),
    }
}

fn show_response(r: &CoordResponse) -> String {
    match r {
        CoordResponse::JoinGroup(j) => format!(
            "JoinGroup {} gen {} member {:?} leader {:?} ({} members)",
            j.error_code,
            j.generation_id,
            j.member_id,
            j.leader,
            j.members.len()
        ),
        CoordResponse::SyncGroup(s) => {
            format!("SyncGroup {} {:?}", s.error_code, tps(&partitions_of(&s.assignment)))
        }
        CoordResponse::Heartbeat(h) => format!("Heartbeat {}", h.error_code),
        CoordResponse::LeaveGroup(l) => format!("LeaveGroup {}", l.error_code),
        CoordResponse::ConsumerGroupHeartbeat(_) => "ConsumerGroupHeartbeat".into(),
    }
}

fn show_event(e: &MemberEvent) -> String {
    let ps = |v: &[TopicPartition]| v.iter().map(|t| t.partition).collect::<Vec<_>>();
    match e {
        MemberEvent::Revoke { id, partitions } => format!("revoke #{id} {:?}", ps(partitions)),
        MemberEvent::Lost(p) => format!("lost {:?}", ps(p)),
        MemberEvent::Assigned { added, assignment } => {
            format!("assigned +{:?} = {:?}", ps(added), ps(assignment))
        }
        MemberEvent::Failed(e) => format!("failed: {e}"),
        MemberEvent::Left => "left".into(),
    }
}

/// Runs one schedule; an error names the step and the broken invariant.
pub(crate) fn run(rng: Rng, faults: Faults, shape: Option<Shape>) -> Result<Summary, String> {
    run_with(rng, faults, shape, true)
}

fn run_with(rng: Rng, faults: Faults, shape: Option<Shape>, check_spin: bool) -> Result<Summary, String> {
    run_world(rng, faults, shape, check_spin, true)
}

fn run_world(
    rng: Rng,
    faults: Faults,
    shape: Option<Shape>,
    check_spin: bool,
    collect_stats: bool,
) -> Result<Summary, String> {
    let mut rng = rng;
    let shape = shape.unwrap_or_else(|| Shape::pick(&mut rng));
    let mut w = World::new(rng, faults, shape);
    w.check_spin = check_spin;
    w.collect_stats = collect_stats;
    loop {
        match w.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return Err(format!("{}: {e}", w.at())),
        }
    }
    Ok(Summary {
        stats: std::mem::take(&mut w.stats),
        generations: w.coord.generation(),
        rebalances: w.coord.rebalances(),
        converged_after_ms: (w.now - (w.t0 + w.shape.fault_time)).as_millis(),
    })
}

/// A schedule whose shape, fault rates and every choice come from `data`;
/// panics on a broken invariant (the fuzz target's entry point).
pub(crate) fn run_bytes(data: &[u8]) {
    run_bytes_with(data, true)
}

fn run_bytes_with(data: &[u8], check_spin: bool) {
    let mut rng = Rng::from_bytes(data);
    let faults = Faults {
        delay: rng.below(200),
        lose: rng.below(40),
        moves: rng.below(20),
        find_fail: rng.below(300),
        pause: rng.below(15),
        crash: rng.below(10),
        churn: rng.below(15),
        grow: rng.below(10),
    };
    let shape = Shape::pick(&mut rng);
    if let Err(e) = run_world(rng, faults, Some(shape.clone()), check_spin, false) {
        panic!("group sim ({faults:?}, {shape:?}): {e}");
    }
}

#[cfg(test)]
mod tests {
    //! `KWIRE_SIM_SEEDS=N` runs N schedules per test (default 500 each);
    //! `KWIRE_SIM_SEED=S` replays one (with `KWIRE_SIM_TRACE=1`: every step).

    use super::*;

    fn seeds() -> Vec<u64> {
        if let Ok(s) = std::env::var("KWIRE_SIM_SEED") {
            return vec![s.parse().expect("KWIRE_SIM_SEED")];
        }
        let n: u64 = std::env::var("KWIRE_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
        (1..=n).collect()
    }

    fn run_all(name: &str, faults: Faults) {
        let (mut generations, mut rebalances, mut slowest) = (0i64, 0u64, 0u128);
        let mut stats: BTreeMap<String, u64> = BTreeMap::new();
        for seed in seeds() {
            match run(Rng::seeded(seed), faults, None) {
                Ok(s) => {
                    generations += i64::from(s.generations);
                    rebalances += s.rebalances;
                    slowest = slowest.max(s.converged_after_ms);
                    for (k, v) in s.stats {
                        *stats.entry(k).or_default() += v;
                    }
                }
                Err(e) => panic!("{name}: seed {seed} (replay: KWIRE_SIM_SEED={seed}): {e}"),
            }
        }
        eprintln!(
            "{name}: {generations} generations, {rebalances} rebalances, slowest convergence {slowest} ms"
        );
        for (k, v) in &stats {
            eprintln!("  {name}: {k}: {v}");
        }
        assert!(generations > 0);
    }

    /// No faults: the group forms and settles.
    #[test]
    fn a_quiet_group_settles() {
        run_all("quiet", Faults::NONE);
    }

    /// The network and the coordinator: answers delayed, connections lost
    /// (the broker may have acted on the request in hand), the coordinator
    /// moving (loading, stale FindCoordinator answers), failed lookups.
    #[test]
    fn random_network_and_coordinator_faults_keep_every_invariant() {
        run_all("network", Faults { delay: 100, lose: 15, moves: 8, find_fail: 150, ..Faults::NONE });
    }

    /// The members: applications that stop polling, crashes, members that
    /// leave or join late, partitions added.
    #[test]
    fn random_member_faults_keep_every_invariant() {
        run_all("members", Faults { pause: 8, crash: 4, churn: 8, grow: 5, ..Faults::NONE });
    }

    /// Everything at once.
    #[test]
    fn random_faults_of_every_kind_keep_every_invariant() {
        run_all(
            "all",
            Faults { delay: 60, lose: 10, moves: 5, find_fail: 100, pause: 5, crash: 3, churn: 6, grow: 4 },
        );
    }

    /// Schedules that found a fifth cause of the driver spin (a KIP-848
    /// member whose metadata retry fell due while its coordinator was
    /// unknown: `step` looks for the coordinator first, `poll_timeout`
    /// answered the retry), beyond the default seed range.
    #[test]
    fn kip848_metadata_retry_without_a_coordinator_does_not_spin() {
        let network = Faults { delay: 100, lose: 15, moves: 8, find_fail: 150, ..Faults::NONE };
        let all =
            Faults { delay: 60, lose: 10, moves: 5, find_fail: 100, pause: 5, crash: 3, churn: 6, grow: 4 };
        for (seed, faults) in [(736, network), (820, all)] {
            if let Err(e) = run(Rng::seeded(seed), faults, None) {
                panic!("seed {seed}: {e}");
            }
        }
    }

    /// A seed replays the same schedule (KIP-848 member ids are random: the
    /// coordinator orders members by arrival, never by id).
    #[test]
    fn a_seed_replays_the_same_schedule() {
        let faults =
            Faults { delay: 60, lose: 10, moves: 5, find_fail: 100, pause: 5, crash: 3, churn: 6, grow: 4 };
        for seed in 1..=30 {
            let a = run(Rng::seeded(seed), faults, None).unwrap();
            let b = run(Rng::seeded(seed), faults, None).unwrap();
            assert_eq!(
                (a.stats, a.generations, a.rebalances, a.converged_after_ms),
                (b.stats, b.generations, b.rebalances, b.converged_after_ms),
                "seed {seed}"
            );
        }
    }

    // -----------------------------------------------------------------
    // Finding (fixed): the driver spun (its `sleep_until(poll_timeout)`
    // returned at once, again and again) when `poll_timeout` stayed in the
    // past after `handle_timeout`. Every schedule checks this; these tests
    // show each former cause alone.

    fn spin_cfg(protocol: crate::GroupProtocol) -> GroupConfig {
        let mut c = GroupConfig::new("g");
        c.protocol = protocol;
        c.session_timeout = Duration::from_secs(10);
        c.heartbeat_interval = Duration::from_secs(1);
        c.max_poll_interval = Duration::from_secs(30);
        c.metadata_max_age = Duration::from_secs(3);
        c.assignors = vec![AssignorKind::Range];
        c
    }

    /// Answers what `m` sends at `now` as a healthy coordinator would for a
    /// member alone in generation 1 / epoch 1 (leader: it gets metadata
    /// unless `hold_metadata`); returns whether a Metadata request was left
    /// unanswered.
    fn serve(m: &mut Membership, now: Instant, hold_metadata: bool) -> bool {
        let mut held = false;
        while let Some(t) = m.poll_transmit(now) {
            match t {
                Transmit::FindCoordinator => m.handle_coordinator(
                    now,
                    Ok(CoordinatorInfo { node_id: 1, versions: versions(9, 5, true) }),
                ),
                Transmit::Metadata(_) if hold_metadata => held = true,
                Transmit::Metadata(_) => m.handle_metadata(
                    now,
                    Ok(vec![TopicMeta { name: TOPIC.into(), id: TOPIC_ID, partitions: 2 }]),
                ),
                Transmit::Request { id, request, .. } => {
                    let r = match request {
                        CoordRequest::JoinGroup(..) => {
                            let meta =
                                ConsumerSubscription { topics: vec![TOPIC.into()], ..Default::default() }
                                    .encode()
                                    .unwrap();
                            CoordResponse::JoinGroup(JoinGroupResponse {
                                generation_id: 1,
                                protocol_type: Some("consumer".into()),
                                protocol_name: Some("range".into()),
                                leader: "me".into(),
                                member_id: "me".into(),
                                members: vec![JoinGroupMember {
                                    member_id: "me".into(),
                                    group_instance_id: None,
                                    metadata: meta,
                                }],
                                ..Default::default()
                            })
                        }
                        CoordRequest::SyncGroup(s, _) => CoordResponse::SyncGroup(SyncGroupResponse {
                            protocol_type: Some("consumer".into()),
                            protocol_name: Some("range".into()),
                            assignment: s
                                .assignments
                                .first()
                                .map(|a| a.assignment.clone())
                                .unwrap_or_default(),
                            ..Default::default()
                        }),
                        CoordRequest::Heartbeat(..) => hb(ErrorCode::NONE),
                        CoordRequest::LeaveGroup(..) => leave_error(ErrorCode::NONE),
                        CoordRequest::ConsumerGroupHeartbeat(r, _) => CoordResponse::ConsumerGroupHeartbeat(
                            kwire_proto::msg::group::ConsumerGroupHeartbeatResponse {
                                member_id: Some(r.member_id.to_string()),
                                member_epoch: if r.member_epoch < 0 { r.member_epoch } else { 1 },
                                heartbeat_interval_ms: 1000,
                                assignment: Some(vec![kwire_proto::msg::group::TopicIdPartitions {
                                    topic_id: TOPIC_ID,
                                    topic_name: String::new(),
                                    partitions: vec![0, 1],
                                }]),
                                ..Default::default()
                            },
                        ),
                    };
                    m.handle_response(now, id, Ok(r));
                }
            }
        }
        while m.poll_event().is_some() {}
        held
    }

    /// Runs `m` for `secs` of virtual time the way the driver does (wake at
    /// `poll_timeout`, `handle_timeout`, send, repeat); `poll` says whether the
    /// application polls. Panics naming the instant if the driver would spin.
    fn run_driver(m: &mut Membership, t0: Instant, secs: u64, poll: bool, hold_metadata: bool) {
        let mut now = t0;
        let end = t0 + Duration::from_secs(secs);
        serve(m, now, hold_metadata);
        while now < end {
            let wake = m.poll_timeout().unwrap_or(end).min(now + Duration::from_millis(500)).max(now);
            if wake == now && m.poll_timeout().is_some_and(|t| t <= now) {
                // Woken for nothing new: once more, then it spins.
                m.handle_timeout(now);
                serve(m, now, hold_metadata);
                if let Some(t) = m.poll_timeout().filter(|t| *t <= now) {
                    panic!(
                        "at {} ms the driver spins: poll_timeout stays {} ms in the past after handle_timeout",
                        (now - t0).as_millis(),
                        (now - t).as_millis()
                    );
                }
            }
            now = wake.max(now + Duration::from_millis(1));
            if poll {
                m.handle_poll(now);
            }
            m.handle_timeout(now);
            serve(m, now, hold_metadata);
        }
    }

    /// Classic: once the application exceeds max.poll.interval.ms the member
    /// leaves and waits for the next poll, but `poll_timeout` keeps answering
    /// the rejoin instant (`join_retry_at`, set to "now" by the reset) that
    /// `step` never acts on while `poll_expired`: the driver task spins at
    /// 100% CPU for as long as the application is stuck.
    #[test]
    fn classic_a_member_past_max_poll_interval_does_not_spin() {
        let t0 = Instant::now();
        let mut m = Membership::new(&spin_cfg(crate::GroupProtocol::Classic), vec![TOPIC.into()], t0);
        run_driver(&mut m, t0, 60, false, false);
    }

    /// KIP-848: the same after the poll timeout: `fence` sets `hb_next` to
    /// now and `step` sends nothing while `poll_expired`, so `poll_timeout`
    /// (the due heartbeat) stays in the past.
    #[test]
    fn kip848_a_member_past_max_poll_interval_does_not_spin() {
        let t0 = Instant::now();
        let mut m = Membership::new(&spin_cfg(crate::GroupProtocol::Consumer), vec![TOPIC.into()], t0);
        run_driver(&mut m, t0, 60, false, false);
    }

    /// Classic leader: while its periodic metadata refresh is in flight,
    /// `poll_timeout` answers the (past) refresh instant: the driver spins
    /// for the whole round trip, every metadata.max.age.ms (for as long as a
    /// request timeout if the broker does not answer).
    #[test]
    fn classic_a_leader_refreshing_metadata_does_not_spin() {
        let t0 = Instant::now();
        let mut m = Membership::new(&spin_cfg(crate::GroupProtocol::Classic), vec![TOPIC.into()], t0);
        // Joined and assigned first (metadata answered), then refreshes that never return.
        serve(&mut m, t0, false);
        assert!(m.commit_identity().is_some(), "joined");
        run_driver(&mut m, t0, 20, true, true);
    }

    /// KIP-848 leave: `start_leave` sends the leave heartbeat (epoch -1),
    /// which sets `hb_next` one interval ahead and clears `heartbeat`; if the
    /// answer takes longer than that interval, `poll_timeout` answers the
    /// past `hb_next` and `step` (leaving) sends nothing: the driver spins
    /// until the coordinator answers.
    #[test]
    fn kip848_a_member_waiting_for_its_leave_answer_does_not_spin() {
        let t0 = Instant::now();
        let mut m = Membership::new(&spin_cfg(crate::GroupProtocol::Consumer), vec![TOPIC.into()], t0);
        run_driver(&mut m, t0, 5, true, false);
        assert!(m.commit_identity().is_some(), "joined");
        let mut now = t0 + Duration::from_secs(5);
        m.leave(now);
        let Some(Transmit::Request { request: CoordRequest::ConsumerGroupHeartbeat(r, _), .. }) =
            m.poll_transmit(now)
        else {
            panic!("a leave heartbeat")
        };
        assert_eq!(r.member_epoch, -1);
        // The coordinator is slow to answer: 3 s.
        let end = now + Duration::from_secs(3);
        while now < end {
            let wake = m.poll_timeout().unwrap_or(end).min(end);
            if wake <= now {
                m.handle_timeout(now);
                while m.poll_transmit(now).is_some() {}
                if let Some(t) = m.poll_timeout().filter(|t| *t <= now) {
                    panic!(
                        "at {} ms the driver spins: poll_timeout stays {} ms in the past after handle_timeout",
                        (now - t0).as_millis(),
                        (now - t).as_millis()
                    );
                }
            }
            now = wake.max(now + Duration::from_millis(1));
        }
    }

    /// The fuzz target's regression inputs (the driver-spin finding) keep
    /// every invariant, the spin check included.
    #[test]
    fn the_spin_regression_inputs() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/group_sim");
        let mut n = 0;
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            run_bytes_with(&std::fs::read(e.path()).unwrap(), true);
            n += 1;
        }
        assert!(n >= 2, "the regression inputs are there");
    }

    /// The fuzz target's entry point on fixed inputs: schedules chosen byte
    /// by byte keep every invariant (and every input ends).
    #[test]
    fn schedules_from_bytes_keep_every_invariant() {
        let mut source = Rng::seeded(99);
        for n in 0..40usize {
            let data: Vec<u8> = (0..n * 24).map(|_| source.next() as u8).collect();
            run_bytes(&data);
        }
        run_bytes(&[0xff; 600]);
        run_bytes(&[0; 600]);
        run_bytes(&[]);
        // The fuzz target's seed corpus.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/group_sim");
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            run_bytes(&std::fs::read(e.path()).unwrap());
        }
    }

    fn join(member: &str, v: i16) -> CoordRequest {
        let meta =
            ConsumerSubscription { topics: vec![TOPIC.into()], ..Default::default() }.encode().unwrap();
        let req = kwire_proto::msg::group::join_group_request(
            v,
            &kwire_proto::msg::group::JoinGroupParams {
                group_id: "g",
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 20_000,
                member_id: member,
                group_instance_id: None,
                protocol_type: "consumer",
                protocol_names: &["range"],
                metadata: meta,
                reason: None,
            },
        );
        CoordRequest::JoinGroup(req, v)
    }

    fn heartbeat(member: &str, generation: i32) -> CoordRequest {
        CoordRequest::Heartbeat(
            kwire_proto::msg::group::heartbeat_request(4, "g", generation, member, None),
            4,
        )
    }

    fn code(h: Handled) -> ErrorCode {
        match h {
            Handled::Now(CoordResponse::JoinGroup(r)) => r.error_code,
            Handled::Now(CoordResponse::SyncGroup(r)) => r.error_code,
            Handled::Now(CoordResponse::Heartbeat(r)) => r.error_code,
            Handled::Now(CoordResponse::LeaveGroup(r)) => r.error_code,
            other => panic!("{other:?}"),
        }
    }

    /// The coordinator's own rules, by hand: MEMBER_ID_REQUIRED, the join
    /// phase waiting for a known member until the rebalance timeout, then
    /// removing it; heartbeats of the old generation refused.
    #[test]
    fn the_simulated_coordinator_follows_kafkas_join_rules() {
        let t0 = Instant::now();
        let mut c = SimCoordinator::new(1, 1, Duration::ZERO, t0);
        let tok = Token { member: 0, conn: 1 };
        let Handled::Now(CoordResponse::JoinGroup(r)) = c.handle(t0, 1, tok, 1, &join("", 9)) else {
            panic!()
        };
        assert_eq!(r.error_code, ErrorCode::MEMBER_ID_REQUIRED);
        let a = r.member_id;
        assert_eq!(code(c.handle(t0, 1, tok, 2, &join("nobody", 9))), ErrorCode::UNKNOWN_MEMBER_ID);
        assert!(matches!(c.handle(t0, 1, tok, 3, &join(&a, 9)), Handled::Parked));
        let replies = c.take_replies();
        let [(_, 3, CoordResponse::JoinGroup(r))] = &replies[..] else { panic!("{replies:?}") };
        assert_eq!((r.generation_id, r.leader.as_str(), r.members.len()), (1, a.as_str(), 1));
        assert_eq!(c.state(), GState::CompletingRebalance);
        assert!(!c.accepts_commit(&CommitIdentity {
            generation_or_epoch: 1,
            member_id: a.clone(),
            instance_id: None
        }));
        // A second member (v3: no MEMBER_ID_REQUIRED round) starts a rebalance.
        let tok2 = Token { member: 1, conn: 2 };
        assert!(matches!(c.handle(t0, 1, tok2, 1, &join("", 3)), Handled::Parked));
        assert_eq!(c.state(), GState::PreparingRebalance);
        assert_eq!(code(c.handle(t0, 1, tok, 4, &heartbeat(&a, 1))), ErrorCode::REBALANCE_IN_PROGRESS);
        assert_eq!(code(c.handle(t0, 1, tok, 5, &heartbeat(&a, 0))), ErrorCode::ILLEGAL_GENERATION);
        // The first member heartbeats but never rejoins: removed at the rebalance timeout.
        let later = t0 + Duration::from_secs(20);
        c.tick(later);
        assert_eq!(c.generation(), 2);
        assert_eq!(c.member_ids().len(), 1);
        assert!(!c.member_ids().contains(&a));
        assert_eq!(code(c.handle(later, 1, tok, 6, &heartbeat(&a, 2))), ErrorCode::UNKNOWN_MEMBER_ID);
        // Another broker is not the coordinator.
        assert_eq!(code(c.handle(later, 2, tok, 7, &heartbeat(&a, 2))), ErrorCode::NOT_COORDINATOR);
    }
}
