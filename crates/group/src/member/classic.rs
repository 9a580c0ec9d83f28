//! The classic group protocol: JoinGroup (with the MEMBER_ID_REQUIRED round),
//! SyncGroup (the leader runs the assignor), Heartbeat on its own schedule,
//! LeaveGroup; eager or cooperative rebalancing depending on the assignors.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kwire_fetch::TopicPartition;
use kwire_proto::ErrorCode;
use kwire_proto::msg::group::{
    ConsumerAssignment, ConsumerSubscription, HeartbeatResponse, JoinGroupParams, JoinGroupResponse,
    SyncGroupParams, SyncGroupResponse, TopicPartitions, heartbeat_request, join_group_request,
    leave_group_request, sync_group_request,
};

use super::{
    CommitIdentity, CoordRequest, CoordResponse, CoordinatorError, CoordinatorInfo, Core, MemberEvent,
    TopicMeta, by_topic, min_instant, ms_i32,
};
use crate::GroupError;
use crate::assignor::{AssignorKind, CustomAssignorRef, MemberSubscription};

const PROTOCOL_TYPE: &str = "consumer";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Needs to (re)join.
    Unjoined,
    /// JoinGroup in flight.
    Joining,
    /// Leader: waiting for metadata to run the assignor.
    Assigning,
    /// SyncGroup in flight.
    Syncing,
    /// Member of a generation; heartbeating.
    Stable,
    /// LeaveGroup in flight.
    Leaving,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Join,
    Sync,
    Leave,
}

/// The protocol (assignor) the group chose.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Protocol {
    Builtin(AssignorKind),
    Custom(CustomAssignorRef),
}

impl Protocol {
    fn name(&self) -> &str {
        match self {
            Protocol::Builtin(k) => k.name(),
            Protocol::Custom(c) => c.0.name(),
        }
    }
}

#[derive(Debug)]
struct LeaderWork {
    protocol: Protocol,
    members: Vec<MemberSubscription>,
    versions: BTreeMap<String, i16>,
}

#[derive(Debug)]
pub(super) struct Classic {
    pub(super) core: Core,
    pub(super) member_id: String,
    generation: i32,
    protocol: Option<Protocol>,
    cooperative: bool,
    state: State,
    rejoin: Option<String>,
    join_attempts: u32,
    join_retry_at: Option<Instant>,
    inflight: Option<(u64, Pending)>,
    heartbeat: Option<(u64, i32)>,
    hb_next: Instant,
    hb_last_ok: Instant,
    leader: Option<LeaderWork>,
    /// Partition counts the leader assigned with; a change triggers a rebalance.
    snapshot: Option<BTreeMap<String, i32>>,
}

impl Classic {
    pub(super) fn new(core: Core) -> Self {
        let now = core.last_poll;
        // Cooperative only if every configured assignor supports it (Kafka's rule).
        let cooperative = core.cfg.custom_assignor.is_none()
            && !core.cfg.assignors.is_empty()
            && core.cfg.assignors.iter().all(|a| a.cooperative());
        Classic {
            core,
            member_id: String::new(),
            generation: -1,
            protocol: None,
            cooperative,
            state: State::Unjoined,
            rejoin: None,
            join_attempts: 0,
            join_retry_at: None,
            inflight: None,
            heartbeat: None,
            hb_next: now,
            hb_last_ok: now,
            leader: None,
            snapshot: None,
        }
    }

    fn versions(&self) -> Option<super::GroupApiVersions> {
        self.core.coordinator().map(|c| c.versions)
    }

    pub(super) fn step(&mut self, now: Instant) {
        if self.core.failed || self.core.left {
            return;
        }
        if self.core.leave_requested {
            if self.state != State::Leaving {
                self.start_leave(now);
            }
            return;
        }
        if self.core.poll_expired {
            return;
        }
        if self.core.coordinator().is_none() {
            self.core.maybe_find(now);
            return;
        }
        if self.core.metadata_retry && self.state == State::Assigning && now >= self.core.next_metadata {
            self.request_leader_metadata();
        }
        match self.state {
            State::Stable => {
                if self.rejoin.is_some() && self.core.pending_revoke.is_none() {
                    self.begin_rejoin();
                }
                if self.state == State::Stable {
                    self.maybe_heartbeat(now);
                    if self.snapshot.is_some() && now >= self.core.next_metadata {
                        let topics = self.core.topics.clone();
                        self.core.request_metadata(topics);
                    }
                }
                if self.state == State::Unjoined {
                    self.maybe_join(now);
                }
            }
            State::Unjoined => self.maybe_join(now),
            State::Joining | State::Assigning | State::Syncing | State::Leaving => {}
        }
    }

    pub(super) fn timeout(&self) -> Option<Instant> {
        // Past max.poll.interval.ms nothing is due until the application
        // polls again (`step` does nothing): a deadline here would be a past
        // one the driver wakes up for again and again.
        if self.core.failed || self.core.left || self.core.poll_expired {
            return None;
        }
        let mut t = None;
        match self.core.coord {
            super::Coord::Unknown { retry_at } => t = Some(retry_at),
            super::Coord::Finding => {}
            super::Coord::Known(_) => {
                if self.state == State::Stable && self.heartbeat.is_none() {
                    t = min_instant(t, Some(self.hb_next));
                }
                if self.state == State::Stable {
                    t = min_instant(t, Some(self.hb_last_ok + self.core.session_timeout));
                    // The next refresh is due once the one in flight is answered.
                    if self.snapshot.is_some() && !self.core.metadata_inflight {
                        t = min_instant(t, Some(self.core.next_metadata));
                    }
                }
                if self.state == State::Unjoined {
                    t = min_instant(t, self.join_retry_at);
                }
                if self.state == State::Assigning && self.core.metadata_retry && !self.core.metadata_inflight
                {
                    t = min_instant(t, Some(self.core.next_metadata));
                }
            }
        }
        if self.in_group() {
            t = min_instant(t, self.core.poll_deadline());
        }
        t
    }

    fn in_group(&self) -> bool {
        !self.core.leave_requested && (!self.member_id.is_empty() || self.state != State::Unjoined)
    }

    pub(super) fn on_timeout(&mut self, now: Instant) {
        if self.core.failed || self.core.left || self.core.leave_requested {
            return;
        }
        if self.in_group() && self.core.poll_deadline().is_some_and(|d| now >= d) {
            self.poll_expired(now);
            return;
        }
        if self.state == State::Stable
            && self.core.coordinator().is_some()
            && now >= self.hb_last_ok + self.core.session_timeout
        {
            self.mark_coordinator_unknown(now, "no heartbeat answer within the session timeout");
        }
    }

    /// `max.poll.interval.ms` passed without a poll: leave the group (Kafka's
    /// client does, so the partitions move to a member that makes progress).
    fn poll_expired(&mut self, now: Instant) {
        tracing::warn!(
            group = %self.core.group_id,
            max_poll_interval_ms = self.core.max_poll_interval.as_millis() as u64,
            "the application did not poll within max.poll.interval.ms; leaving the group"
        );
        if self.core.instance_id.is_none() && !self.member_id.is_empty() {
            if let Some(req) = self.leave_request() {
                self.core.send(req, None);
            }
        }
        self.core.poll_expired = true;
        self.inflight = None;
        self.heartbeat = None;
        self.reset_generation(now);
        self.state = State::Unjoined;
    }

    pub(super) fn on_poll_resumed(&mut self, now: Instant) {
        self.state = State::Unjoined;
        self.join_retry_at = Some(now);
    }

    pub(super) fn on_coordinator(&mut self, now: Instant, result: Result<CoordinatorInfo, CoordinatorError>) {
        if self.core.on_coordinator(now, result) {
            self.hb_last_ok = now;
            self.hb_next = now;
            if let Some(v) = self.versions() {
                if v.join_group.is_none() || v.sync_group.is_none() || v.heartbeat.is_none() {
                    let e = GroupError::Unsupported(format!(
                        "the group coordinator (broker {}) does not support the classic group protocol \
                         in a version kwire speaks",
                        self.core.coordinator().map_or(-1, |c| c.node_id)
                    ));
                    self.core.fail(e);
                }
            }
        }
    }

    pub(super) fn mark_coordinator_unknown(&mut self, now: Instant, reason: &str) {
        if self.core.forget_coordinator(now, reason) {
            self.heartbeat = None;
            match self.inflight.take() {
                Some((_, Pending::Join | Pending::Sync)) => {
                    self.state = State::Unjoined;
                    self.join_retry_at = Some(now);
                }
                Some((_, Pending::Leave)) => self.core.left(),
                None => {}
            }
            if self.state == State::Assigning {
                self.state = State::Unjoined;
                self.leader = None;
            }
        }
    }

    /// Forgets member id and generation (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION):
    /// whatever this member owned is lost.
    fn reset_generation(&mut self, now: Instant) {
        self.member_id.clear();
        self.generation = -1;
        self.protocol = None;
        self.leader = None;
        self.snapshot = None;
        self.core.lose_all();
        self.state = State::Unjoined;
        self.join_retry_at = Some(now);
    }

    pub(super) fn on_rejoin_request(&mut self, now: Instant, reason: &str) {
        match self.state {
            State::Stable if self.rejoin.is_none() => {
                tracing::info!(group = %self.core.group_id, reason, "rejoining the group");
                self.rejoin = Some(reason.to_owned());
            }
            State::Unjoined => self.join_retry_at = Some(self.join_retry_at.map_or(now, |t| t.min(now))),
            _ => {}
        }
    }

    /// Leaves the stable state for a rejoin: eager members first give up
    /// everything (and wait for the application to finish that).
    fn begin_rejoin(&mut self) {
        if !self.cooperative && !self.core.owned.is_empty() {
            let all: Vec<TopicPartition> = self.core.owned.iter().cloned().collect();
            self.core.revoke(all, false);
            return;
        }
        self.state = State::Unjoined;
        self.join_retry_at = None;
    }

    pub(super) fn on_revoke_done(&mut self, _now: Instant, rejoin_after: bool) {
        if rejoin_after && self.rejoin.is_none() {
            self.rejoin = Some("partitions were revoked".to_owned());
        }
    }

    fn maybe_join(&mut self, now: Instant) {
        if self.core.pending_revoke.is_some() || self.inflight.is_some() {
            return;
        }
        if self.join_retry_at.is_some_and(|t| now < t) {
            return;
        }
        let Some(v) = self.versions().and_then(|v| v.join_group) else { return };
        if self.core.instance_id.is_some() && v < 5 {
            let e = GroupError::Unsupported(format!(
                "group.instance.id (static membership) needs JoinGroup v5 (Kafka 2.3+); the coordinator speaks v{v}"
            ));
            self.core.fail(e);
            return;
        }
        let subscription = ConsumerSubscription {
            version: 3,
            topics: self.core.topics.clone(),
            user_data: self.core.cfg.custom_assignor.as_ref().and_then(|c| c.0.subscription_user_data()),
            owned_partitions: by_topic(&self.core.owned)
                .into_iter()
                .map(|(topic, partitions)| TopicPartitions { topic, partitions })
                .collect(),
            generation_id: self.generation,
            rack_id: self.core.rack.clone(),
        };
        let metadata = match subscription.encode() {
            Ok(b) => b,
            Err(e) => {
                self.core.fail(GroupError::Invalid(e.to_string()));
                return;
            }
        };
        let protocol_names: Vec<&str> = (self.core.cfg.custom_assignor.iter().map(|c| c.0.name()))
            .chain(self.core.cfg.assignors.iter().map(|a| a.name()))
            .collect();
        let req = join_group_request(
            v,
            &JoinGroupParams {
                group_id: &self.core.group_id,
                session_timeout_ms: ms_i32(self.core.session_timeout),
                rebalance_timeout_ms: ms_i32(self.core.max_poll_interval),
                member_id: &self.member_id,
                group_instance_id: self.core.instance_id.as_deref(),
                protocol_type: PROTOCOL_TYPE,
                protocol_names: &protocol_names,
                metadata,
                reason: self.rejoin.as_deref(),
            },
        );
        // JoinGroup waits for the whole rebalance (up to the rebalance timeout).
        let timeout = self.core.max_poll_interval + Duration::from_secs(5);
        let id = self.core.send(CoordRequest::JoinGroup(req, v), Some(timeout));
        self.inflight = Some((id, Pending::Join));
        self.state = State::Joining;
        self.rejoin = None;
        self.join_retry_at = None;
    }

    fn maybe_heartbeat(&mut self, now: Instant) {
        if self.heartbeat.is_some() || now < self.hb_next {
            return;
        }
        let Some(v) = self.versions().and_then(|v| v.heartbeat) else { return };
        let req = heartbeat_request(
            v,
            &self.core.group_id,
            self.generation,
            &self.member_id,
            self.core.instance_id.as_deref(),
        );
        let id = self.core.send(CoordRequest::Heartbeat(req, v), None);
        self.heartbeat = Some((id, self.generation));
        self.hb_next = now + self.core.heartbeat_interval;
    }

    fn leave_request(&self) -> Option<CoordRequest> {
        let v = self.versions()?.leave_group?;
        let req = leave_group_request(
            v,
            &self.core.group_id,
            &self.member_id,
            Some("the consumer is being closed"),
        );
        Some(CoordRequest::LeaveGroup(req, v))
    }

    fn start_leave(&mut self, _now: Instant) {
        self.inflight = None;
        self.heartbeat = None;
        let dynamic = self.core.instance_id.is_none();
        if dynamic && !self.member_id.is_empty() && self.core.coordinator().is_some() {
            if let Some(req) = self.leave_request() {
                tracing::info!(group = %self.core.group_id, member = %self.member_id, "leaving the group");
                let id = self.core.send(req, None);
                self.inflight = Some((id, Pending::Leave));
                self.state = State::Leaving;
                return;
            }
        }
        self.state = State::Leaving;
        self.core.left();
    }

    pub(super) fn on_response(&mut self, now: Instant, id: u64, result: Result<CoordResponse, String>) {
        if self.core.failed || self.core.left {
            return;
        }
        if let Some((hb_id, hb_generation)) = self.heartbeat {
            if hb_id == id {
                self.heartbeat = None;
                match result {
                    Ok(CoordResponse::Heartbeat(r)) => self.on_heartbeat(now, r, hb_generation),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(group = %self.core.group_id, error = %e, "heartbeat failed");
                        self.mark_coordinator_unknown(now, "heartbeat failed");
                    }
                }
                return;
            }
        }
        let Some((pid, pending)) = self.inflight else { return };
        if pid != id {
            return;
        }
        self.inflight = None;
        match (pending, result) {
            (Pending::Leave, _) => self.core.left(),
            (_, Err(e)) => {
                tracing::debug!(group = %self.core.group_id, error = %e, "request to the coordinator failed");
                self.state = State::Unjoined;
                self.mark_coordinator_unknown(now, "request failed");
                self.join_retry_at = Some(now);
            }
            (Pending::Join, Ok(CoordResponse::JoinGroup(r))) => self.on_join(now, r),
            (Pending::Sync, Ok(CoordResponse::SyncGroup(r))) => self.on_sync(now, r),
            (_, Ok(_)) => {
                self.state = State::Unjoined;
                self.join_retry_at = Some(now);
            }
        }
    }

    fn retry_join(&mut self, now: Instant, backoff: bool) {
        self.state = State::Unjoined;
        if backoff {
            self.join_attempts = self.join_attempts.saturating_add(1);
            self.join_retry_at = Some(now + self.core.backoff(self.join_attempts));
        } else {
            self.join_retry_at = Some(now);
        }
    }

    fn on_join(&mut self, now: Instant, r: JoinGroupResponse) {
        match r.error_code {
            ErrorCode::NONE => {}
            ErrorCode::MEMBER_ID_REQUIRED => {
                // KIP-394: rejoin at once with the id the coordinator picked.
                tracing::debug!(group = %self.core.group_id, member = %r.member_id, "member id assigned");
                self.member_id = r.member_id;
                self.retry_join(now, false);
                return;
            }
            ErrorCode::UNKNOWN_MEMBER_ID => {
                self.reset_generation(now);
                return;
            }
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS | ErrorCode::REBALANCE_IN_PROGRESS => {
                self.retry_join(now, true);
                return;
            }
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
                self.retry_join(now, true);
                self.mark_coordinator_unknown(now, "JoinGroup answered NOT_COORDINATOR");
                return;
            }
            ErrorCode::FENCED_INSTANCE_ID => {
                let e = self.core.fenced_instance();
                self.core.fail(e);
                return;
            }
            code => {
                let e = self.core.broker_error("join", code, None);
                self.core.fail(e);
                return;
            }
        }
        if r.protocol_type.as_deref().is_some_and(|t| t != PROTOCOL_TYPE) {
            let e = self.core.broker_error("join", ErrorCode(23), r.protocol_type.clone());
            self.core.fail(e);
            return;
        }
        let protocol = match (r.protocol_name.as_deref(), &self.core.cfg.custom_assignor) {
            (Some(name), Some(c)) if c.0.name() == name => Some(Protocol::Custom(c.clone())),
            (name, _) => name
                .and_then(AssignorKind::from_name)
                .filter(|p| self.core.cfg.assignors.contains(p))
                .map(Protocol::Builtin),
        };
        let Some(protocol) = protocol else {
            let e = GroupError::broker(
                format!("join group '{}'", self.core.group_id),
                ErrorCode(23),
                Some(format!(
                    "the group chose protocol {:?}, which this member did not offer",
                    r.protocol_name
                )),
            );
            self.core.fail(e);
            return;
        };
        self.core.coord_failures = 0;
        self.member_id = r.member_id.clone();
        self.generation = r.generation_id;
        self.protocol = Some(protocol.clone());
        self.join_attempts = 0;
        tracing::info!(
            group = %self.core.group_id,
            generation = r.generation_id,
            member = %r.member_id,
            leader = r.leader == r.member_id,
            protocol = protocol.name(),
            "joined the group"
        );
        if r.leader == r.member_id && !r.skip_assignment {
            let mut members = Vec::with_capacity(r.members.len());
            let mut versions = BTreeMap::new();
            for m in r.members {
                match ConsumerSubscription::decode(m.metadata.clone()) {
                    Ok(s) => {
                        versions.insert(m.member_id.clone(), s.version);
                        members.push(MemberSubscription {
                            member_id: m.member_id,
                            instance_id: m.group_instance_id,
                            topics: s.topics,
                            owned: s
                                .owned_partitions
                                .into_iter()
                                .flat_map(|tp| {
                                    let t = tp.topic;
                                    tp.partitions.into_iter().map(move |p| TopicPartition::new(t.clone(), p))
                                })
                                .collect(),
                            generation: s.generation_id,
                            user_data: s.user_data,
                        });
                    }
                    Err(e) => {
                        let e = GroupError::Invalid(format!(
                            "group '{}': member {} sent an unreadable subscription: {e}",
                            self.core.group_id, m.member_id
                        ));
                        self.core.fail(e);
                        return;
                    }
                }
            }
            self.leader = Some(LeaderWork { protocol, members, versions });
            self.state = State::Assigning;
            self.request_leader_metadata();
        } else {
            self.snapshot = None;
            self.send_sync(Vec::new());
        }
    }

    fn request_leader_metadata(&mut self) {
        let Some(work) = &self.leader else { return };
        let mut topics: Vec<String> = work.members.iter().flat_map(|m| m.topics.iter().cloned()).collect();
        topics.sort();
        topics.dedup();
        self.core.request_metadata(topics);
    }

    pub(super) fn on_metadata(&mut self, now: Instant, topics: Vec<TopicMeta>) {
        let counts: BTreeMap<String, i32> = topics.into_iter().map(|t| (t.name, t.partitions)).collect();
        if self.state == State::Assigning {
            let Some(work) = self.leader.take() else { return };
            let subscribed: BTreeSet<&String> = work.members.iter().flat_map(|m| m.topics.iter()).collect();
            let assignment: BTreeMap<String, (Vec<TopicPartition>, Option<Bytes>)> = match &work.protocol {
                Protocol::Builtin(k) => {
                    k.assign(&work.members, &counts).into_iter().map(|(m, p)| (m, (p, None))).collect()
                }
                Protocol::Custom(c) => {
                    let known: BTreeMap<String, i32> = counts
                        .iter()
                        .filter(|(t, _)| subscribed.contains(t))
                        .map(|(t, n)| (t.clone(), *n))
                        .collect();
                    let mut a = c.0.assign(&work.members, &known);
                    work.members
                        .iter()
                        .map(|m| {
                            let ma = a.remove(&m.member_id).unwrap_or_default();
                            (m.member_id.clone(), (ma.partitions, ma.user_data))
                        })
                        .collect()
                }
            };
            let mut out = Vec::with_capacity(assignment.len());
            for (member, (parts, user_data)) in assignment {
                let set: BTreeSet<TopicPartition> = parts.into_iter().collect();
                let a = ConsumerAssignment {
                    version: work.versions.get(&member).copied().unwrap_or(3).clamp(0, 3),
                    partitions: by_topic(&set)
                        .into_iter()
                        .map(|(topic, partitions)| TopicPartitions { topic, partitions })
                        .collect(),
                    user_data,
                };
                match a.encode() {
                    Ok(b) => out.push((member, b)),
                    Err(e) => {
                        self.core.fail(GroupError::Invalid(e.to_string()));
                        return;
                    }
                }
            }
            self.snapshot = Some(
                counts.iter().filter(|(t, _)| subscribed.contains(t)).map(|(t, n)| (t.clone(), *n)).collect(),
            );
            self.core.next_metadata = now + self.core.metadata_max_age;
            self.send_sync(out);
        } else if self.state == State::Stable {
            if let Some(snap) = &self.snapshot {
                let current: BTreeMap<String, i32> =
                    counts.into_iter().filter(|(t, _)| self.core.topics.contains(t)).collect();
                let changed = self.core.topics.iter().any(|t| current.get(t) != snap.get(t));
                if changed {
                    tracing::info!(group = %self.core.group_id, "subscribed topics changed; rebalancing");
                    self.on_rejoin_request(now, "the partitions of a subscribed topic changed");
                }
            }
        }
    }

    fn send_sync(&mut self, assignments: Vec<(String, Bytes)>) {
        let Some(v) = self.versions().and_then(|v| v.sync_group) else { return };
        let req = sync_group_request(
            v,
            &SyncGroupParams {
                group_id: &self.core.group_id,
                generation_id: self.generation,
                member_id: &self.member_id,
                group_instance_id: self.core.instance_id.as_deref(),
                protocol_type: PROTOCOL_TYPE,
                protocol_name: self.protocol.as_ref().map(|p| p.name()),
            },
            assignments,
        );
        let timeout = self.core.max_poll_interval + Duration::from_secs(5);
        let id = self.core.send(CoordRequest::SyncGroup(req, v), Some(timeout));
        self.inflight = Some((id, Pending::Sync));
        self.state = State::Syncing;
    }

    fn on_sync(&mut self, now: Instant, r: SyncGroupResponse) {
        match r.error_code {
            ErrorCode::NONE => {}
            ErrorCode::REBALANCE_IN_PROGRESS => {
                self.retry_join(now, false);
                return;
            }
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION => {
                self.reset_generation(now);
                return;
            }
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
                self.retry_join(now, true);
                self.mark_coordinator_unknown(now, "SyncGroup answered NOT_COORDINATOR");
                return;
            }
            ErrorCode::FENCED_INSTANCE_ID => {
                let e = self.core.fenced_instance();
                self.core.fail(e);
                return;
            }
            code => {
                let e = self.core.broker_error("sync", code, None);
                self.core.fail(e);
                return;
            }
        }
        let ours = self.protocol.as_ref().map(Protocol::name);
        if r.protocol_name.as_deref().is_some_and(|p| Some(p) != ours)
            || r.protocol_type.as_deref().is_some_and(|t| t != PROTOCOL_TYPE)
        {
            let e = self.core.broker_error("sync", ErrorCode(23), r.protocol_name.clone());
            self.core.fail(e);
            return;
        }
        let assignment = match ConsumerAssignment::decode(r.assignment) {
            Ok(a) => a,
            Err(e) => {
                let e = GroupError::Invalid(format!(
                    "group '{}': the leader sent an unreadable assignment: {e}",
                    self.core.group_id
                ));
                self.core.fail(e);
                return;
            }
        };
        if let Some(Protocol::Custom(c)) = &self.protocol {
            c.0.on_assignment(assignment.user_data.as_deref());
        }
        let new: BTreeSet<TopicPartition> = assignment
            .partitions
            .into_iter()
            .flat_map(|tp| {
                let t = tp.topic;
                tp.partitions.into_iter().map(move |p| TopicPartition::new(t.clone(), p))
            })
            .collect();
        self.state = State::Stable;
        self.hb_last_ok = now;
        self.hb_next = now + self.core.heartbeat_interval;
        let revoked: Vec<TopicPartition> = self.core.owned.difference(&new).cloned().collect();
        let added: Vec<TopicPartition> = new.difference(&self.core.owned).cloned().collect();
        tracing::info!(
            group = %self.core.group_id,
            generation = self.generation,
            assigned = new.len(),
            added = added.len(),
            revoked = revoked.len(),
            "rebalance complete"
        );
        if !revoked.is_empty() {
            // Cooperative: give these up first, then rejoin so they can move.
            self.core.revoke(revoked, true);
        }
        self.core.owned.extend(new.iter().cloned());
        self.core.events.push_back(MemberEvent::Assigned { added, assignment: new.into_iter().collect() });
    }

    fn on_heartbeat(&mut self, now: Instant, r: HeartbeatResponse, sent_generation: i32) {
        match r.error_code {
            ErrorCode::NONE => {
                self.hb_last_ok = now;
                self.core.coord_failures = 0;
            }
            ErrorCode::REBALANCE_IN_PROGRESS => {
                self.hb_last_ok = now;
                self.core.coord_failures = 0;
                if self.state == State::Stable {
                    self.on_rejoin_request(now, "the group is rebalancing");
                }
            }
            ErrorCode::ILLEGAL_GENERATION | ErrorCode::UNKNOWN_MEMBER_ID => {
                if self.state == State::Stable && sent_generation == self.generation {
                    tracing::info!(group = %self.core.group_id, code = %r.error_code, "heartbeat: no longer in the generation");
                    self.reset_generation(now);
                }
            }
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
                self.mark_coordinator_unknown(now, "heartbeat answered NOT_COORDINATOR");
            }
            ErrorCode::FENCED_INSTANCE_ID => {
                let e = self.core.fenced_instance();
                self.core.fail(e);
            }
            code => {
                let e = self.core.broker_error("heartbeat in", code, None);
                self.core.fail(e);
            }
        }
    }

    pub(super) fn on_commit_error(&mut self, now: Instant, code: ErrorCode) {
        match code {
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION if self.state == State::Stable => {
                self.reset_generation(now);
            }
            ErrorCode::REBALANCE_IN_PROGRESS => {
                self.on_rejoin_request(now, "a commit found the group rebalancing")
            }
            _ => {}
        }
    }

    pub(super) fn identity(&self) -> Option<CommitIdentity> {
        (self.state == State::Stable && self.generation >= 0 && !self.core.leave_requested).then(|| {
            CommitIdentity {
                generation_or_epoch: self.generation,
                member_id: self.member_id.clone(),
                instance_id: self.core.instance_id.clone(),
            }
        })
    }
}
