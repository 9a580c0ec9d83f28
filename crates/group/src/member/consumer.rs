//! KIP-848 (`group.protocol=consumer`): one ConsumerGroupHeartbeat carries
//! everything; the coordinator computes assignments and the member
//! reconciles (revoke what left the target, then take what joined it),
//! acknowledging by reporting what it owns in the next heartbeat.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use kwire_fetch::TopicPartition;
use kwire_proto::ErrorCode;
use kwire_proto::msg::group::{
    ConsumerGroupHeartbeatParams, ConsumerGroupHeartbeatResponse, TopicIdPartitions,
    consumer_group_heartbeat_request,
};

use super::{
    CommitIdentity, CoordRequest, CoordResponse, CoordinatorError, CoordinatorInfo, Core, MemberEvent,
    TopicMeta, min_instant, ms_i32,
};
use crate::GroupError;

/// Epoch to leave the group (dynamic member).
const LEAVE_EPOCH: i32 = -1;
/// Epoch to leave temporarily (static member).
const STATIC_LEAVE_EPOCH: i32 = -2;

#[derive(Debug)]
pub(super) struct Consumer {
    pub(super) core: Core,
    pub(super) member_id: String,
    epoch: i32,
    version: Option<i16>,
    heartbeat: Option<(u64, i32)>,
    hb_next: Instant,
    hb_interval: Duration,
    hb_attempts: u32,
    leaving: Option<u64>,
    /// The latest target assignment from the coordinator.
    target: Option<Vec<TopicIdPartitions>>,
    names: HashMap<[u8; 16], String>,
    ids: HashMap<String, [u8; 16]>,
}

/// A member id for KIP-848 v1, which the client generates: 16 random bytes
/// in Kafka's URL-safe base64 form.
pub(crate) fn new_member_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        chunk.copy_from_slice(&h.finish().to_be_bytes());
    }
    kwire_meta::base64_url(&bytes)
}

impl Consumer {
    pub(super) fn new(core: Core) -> Self {
        let now = core.last_poll;
        let hb_interval = core.heartbeat_interval;
        Consumer {
            core,
            member_id: new_member_id(),
            epoch: 0,
            version: None,
            heartbeat: None,
            hb_next: now,
            hb_interval,
            hb_attempts: 0,
            leaving: None,
            target: None,
            names: HashMap::new(),
            ids: HashMap::new(),
        }
    }

    pub(super) fn step(&mut self, now: Instant) {
        if self.core.failed || self.core.left {
            return;
        }
        if self.core.leave_requested {
            if self.leaving.is_none() {
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
        if self.core.metadata_retry && now >= self.core.next_metadata {
            self.reconcile(now);
        }
        if self.heartbeat.is_none() && now >= self.hb_next {
            self.send_heartbeat(now, self.epoch);
        }
    }

    pub(super) fn timeout(&self) -> Option<Instant> {
        // Nothing is due past max.poll.interval.ms until the application
        // polls, nor while the leave heartbeat waits for its answer (`step`
        // sends nothing then): a past deadline here would make the driver
        // spin.
        if self.core.failed || self.core.left || self.core.poll_expired || self.leaving.is_some() {
            return None;
        }
        let mut t = match self.core.coord {
            super::Coord::Unknown { retry_at } => Some(retry_at),
            super::Coord::Finding => None,
            super::Coord::Known(_) => self.heartbeat.is_none().then_some(self.hb_next),
        };
        // `step` retries metadata only with a known coordinator.
        if self.core.metadata_retry && !self.core.metadata_inflight && self.core.coordinator().is_some() {
            t = min_instant(t, Some(self.core.next_metadata));
        }
        if self.epoch > 0 && !self.core.leave_requested {
            t = min_instant(t, self.core.poll_deadline());
        }
        t
    }

    pub(super) fn on_timeout(&mut self, now: Instant) {
        if self.core.failed || self.core.left || self.core.leave_requested {
            return;
        }
        if self.epoch > 0 && self.core.poll_deadline().is_some_and(|d| now >= d) {
            tracing::warn!(
                group = %self.core.group_id,
                "the application did not poll within max.poll.interval.ms; leaving the group"
            );
            let epoch = if self.core.instance_id.is_some() { STATIC_LEAVE_EPOCH } else { LEAVE_EPOCH };
            if self.core.coordinator().is_some() {
                self.send_heartbeat(now, epoch);
            }
            self.core.poll_expired = true;
            self.heartbeat = None;
            self.fence(now);
        }
    }

    pub(super) fn on_poll_resumed(&mut self, now: Instant) {
        self.epoch = 0;
        self.hb_next = now;
    }

    pub(super) fn on_coordinator(&mut self, now: Instant, result: Result<CoordinatorInfo, CoordinatorError>) {
        if self.core.on_coordinator(now, result) {
            self.hb_next = now;
            self.version = self.core.coordinator().and_then(|c| c.versions.consumer_group_heartbeat);
            if self.version.is_none() {
                let node = self.core.coordinator().map_or(-1, |c| c.node_id);
                self.core.fail(unsupported(node));
            }
        }
    }

    pub(super) fn mark_coordinator_unknown(&mut self, now: Instant, reason: &str) {
        if self.core.forget_coordinator(now, reason) {
            self.heartbeat = None;
            if self.leaving.take().is_some() {
                self.core.left();
            }
        }
    }

    /// Fenced (or expelled): everything owned is lost; rejoin with epoch 0
    /// and the same member id.
    fn fence(&mut self, now: Instant) {
        self.epoch = 0;
        self.target = None;
        self.core.lose_all();
        self.hb_next = now;
    }

    pub(super) fn on_rejoin_request(&mut self, now: Instant, _reason: &str) {
        // The coordinator drives rebalances; a prompt heartbeat reports changes.
        self.hb_next = self.hb_next.min(now);
    }

    pub(super) fn on_revoke_done(&mut self, now: Instant, _rejoin_after: bool) {
        // Report the smaller ownership at once, then take what was added.
        self.reconcile(now);
        self.hb_next = now;
    }

    fn send_heartbeat(&mut self, now: Instant, epoch: i32) -> Option<u64> {
        let v = self.version?;
        // v0: the coordinator picks the id on the first join.
        let member_id = if v == 0 && epoch == 0 && self.epoch == 0 && self.member_id.is_empty() {
            ""
        } else {
            self.member_id.as_str()
        };
        let mut owned: BTreeMap<[u8; 16], Vec<i32>> = BTreeMap::new();
        for tp in &self.core.owned {
            if let Some(id) = self.ids.get(&tp.topic) {
                owned.entry(*id).or_default().push(tp.partition);
            }
        }
        let owned: Vec<([u8; 16], Vec<i32>)> = owned.into_iter().collect();
        let req = consumer_group_heartbeat_request(&ConsumerGroupHeartbeatParams {
            group_id: &self.core.group_id,
            member_id,
            member_epoch: epoch,
            instance_id: self.core.instance_id.as_deref(),
            rack_id: self.core.rack.as_deref(),
            rebalance_timeout_ms: ms_i32(self.core.max_poll_interval),
            subscribed_topic_names: &self.core.topics,
            server_assignor: self.core.cfg.remote_assignor.as_deref(),
            topic_partitions: &owned,
        });
        let id = self.core.send(CoordRequest::ConsumerGroupHeartbeat(req, v), None);
        self.heartbeat = Some((id, epoch));
        self.hb_next = now + self.hb_interval;
        Some(id)
    }

    fn start_leave(&mut self, now: Instant) {
        self.heartbeat = None;
        if self.epoch > 0 && self.core.coordinator().is_some() {
            let epoch = if self.core.instance_id.is_some() { STATIC_LEAVE_EPOCH } else { LEAVE_EPOCH };
            tracing::info!(group = %self.core.group_id, member = %self.member_id, "leaving the group");
            if let Some(id) = self.send_heartbeat(now, epoch) {
                self.heartbeat = None;
                self.leaving = Some(id);
                return;
            }
        }
        self.leaving = Some(0);
        self.core.left();
    }

    pub(super) fn on_response(&mut self, now: Instant, id: u64, result: Result<CoordResponse, String>) {
        if self.core.failed || self.core.left {
            return;
        }
        if self.leaving == Some(id) {
            self.leaving = None;
            self.core.left();
            return;
        }
        let Some((hb_id, sent_epoch)) = self.heartbeat else { return };
        if hb_id != id {
            return;
        }
        self.heartbeat = None;
        let r = match result {
            Ok(CoordResponse::ConsumerGroupHeartbeat(r)) => r,
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(group = %self.core.group_id, error = %e, "heartbeat failed");
                self.mark_coordinator_unknown(now, "heartbeat failed");
                return;
            }
        };
        self.on_heartbeat(now, r, sent_epoch);
    }

    fn on_heartbeat(&mut self, now: Instant, r: ConsumerGroupHeartbeatResponse, sent_epoch: i32) {
        match r.error_code {
            ErrorCode::NONE => {}
            ErrorCode::FENCED_MEMBER_EPOCH | ErrorCode::UNKNOWN_MEMBER_ID => {
                tracing::info!(group = %self.core.group_id, code = %r.error_code, "fenced by the coordinator; rejoining");
                if sent_epoch == self.epoch {
                    self.fence(now);
                }
                return;
            }
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
                self.mark_coordinator_unknown(now, "heartbeat answered NOT_COORDINATOR");
                return;
            }
            ErrorCode::UNRELEASED_INSTANCE_ID => {
                let e = GroupError::broker(
                    format!(
                        "join group '{}' as group.instance.id '{}'",
                        self.core.group_id,
                        self.core.instance_id.as_deref().unwrap_or("")
                    ),
                    r.error_code,
                    r.error_message.or_else(|| {
                        Some("another member with this instance id is still in the group".into())
                    }),
                );
                self.core.fail(e);
                return;
            }
            ErrorCode::FENCED_INSTANCE_ID => {
                let e = self.core.fenced_instance();
                self.core.fail(e);
                return;
            }
            ErrorCode::UNSUPPORTED_VERSION => {
                let node = self.core.coordinator().map_or(-1, |c| c.node_id);
                self.core.fail(unsupported(node));
                return;
            }
            code if code.is_retriable() => {
                self.hb_attempts = self.hb_attempts.saturating_add(1);
                self.hb_next = now + self.core.backoff(self.hb_attempts);
                return;
            }
            code => {
                let e = self.core.broker_error("heartbeat in", code, r.error_message);
                self.core.fail(e);
                return;
            }
        }
        self.hb_attempts = 0;
        self.core.coord_failures = 0;
        if let Some(id) = r.member_id.filter(|m| !m.is_empty()) {
            self.member_id = id;
        }
        if self.epoch != r.member_epoch {
            tracing::debug!(group = %self.core.group_id, epoch = r.member_epoch, "member epoch");
        }
        self.epoch = r.member_epoch;
        if let Ok(ms) = u64::try_from(r.heartbeat_interval_ms) {
            if ms > 0 {
                self.hb_interval = Duration::from_millis(ms);
                self.hb_next = now + self.hb_interval;
            }
        }
        if let Some(a) = r.assignment {
            self.target = Some(a);
        }
        self.reconcile(now);
    }

    /// Moves ownership towards the target: revoke first (the application
    /// commits), then take the new partitions.
    fn reconcile(&mut self, now: Instant) {
        if self.core.pending_revoke.is_some() || self.epoch <= 0 {
            return;
        }
        let Some(target) = &self.target else { return };
        let mut wanted = BTreeSet::new();
        let mut unknown = false;
        for t in target {
            match self.names.get(&t.topic_id) {
                Some(name) => {
                    wanted.extend(t.partitions.iter().map(|p| TopicPartition::new(name.clone(), *p)));
                }
                None => unknown = true,
            }
        }
        if unknown {
            if !self.core.metadata_inflight && (!self.core.metadata_retry || now >= self.core.next_metadata) {
                let topics = self.core.topics.clone();
                self.core.request_metadata(topics);
            }
            return;
        }
        let revoked: Vec<TopicPartition> = self.core.owned.difference(&wanted).cloned().collect();
        if !revoked.is_empty() {
            self.core.revoke(revoked, false);
            return;
        }
        let added: Vec<TopicPartition> = wanted.difference(&self.core.owned).cloned().collect();
        if !added.is_empty() {
            self.core.owned.extend(added.iter().cloned());
            tracing::info!(
                group = %self.core.group_id,
                epoch = self.epoch,
                assigned = self.core.owned.len(),
                added = added.len(),
                "assignment reconciled"
            );
            self.core.events.push_back(MemberEvent::Assigned {
                added,
                assignment: self.core.owned.iter().cloned().collect(),
            });
            // Acknowledge promptly.
            self.hb_next = now;
        }
    }

    pub(super) fn on_metadata(&mut self, now: Instant, topics: Vec<TopicMeta>) {
        for t in topics {
            self.names.insert(t.id, t.name.clone());
            self.ids.insert(t.name, t.id);
        }
        self.reconcile(now);
    }

    pub(super) fn on_commit_error(&mut self, now: Instant, code: ErrorCode) {
        if matches!(code, ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_MEMBER_EPOCH) && self.epoch > 0 {
            self.fence(now);
        }
    }

    pub(super) fn identity(&self) -> Option<CommitIdentity> {
        (self.epoch > 0 && !self.core.leave_requested).then(|| CommitIdentity {
            generation_or_epoch: self.epoch,
            member_id: self.member_id.clone(),
            instance_id: self.core.instance_id.clone(),
        })
    }
}

fn unsupported(node: i32) -> GroupError {
    GroupError::Unsupported(format!(
        "group.protocol=consumer (KIP-848) is not supported by the group coordinator (broker {node}): it \
         needs Kafka 4.0 or newer with the consumer rebalance protocol enabled; use group.protocol=classic"
    ))
}
