//! The sans-IO parts of a share consumer: the membership's heartbeat state
//! machine ([`ShareMember`]), the acknowledgements waiting to be sent
//! ([`AckBook`]), the records of a ShareFetch answer that were acquired for
//! this member ([`acquired_records`]) and the share session epochs
//! ([`SessionEpochs`]). The driver ([`super::ShareConsumer`]) owns the
//! sockets and the clock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kwire_fetch::{ConsumerRecord, FetchedChunk, TopicPartition};
use kwire_proto::ErrorCode;
use kwire_proto::msg::share::{AckBatch, AckType, Acquired, SHARE_LEAVE_EPOCH, ShareGroupHeartbeatResponse};
use kwire_proto::records::DecodeOptions;

use crate::GroupError;

/// A topic id.
pub type TopicId = [u8; 16];

/// What the next ShareGroupHeartbeat carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatSend {
    /// The member epoch (0 to join, -1 to leave).
    pub member_epoch: i32,
    /// The subscription, on a join (and after it changed).
    pub subscribed: Option<Vec<String>>,
    /// The rack, on a join.
    pub rack: Option<String>,
}

/// What a heartbeat answer means for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    /// Nothing changed.
    Same,
    /// A new assignment (topic id → partitions): fetch these, forget others.
    Assigned(BTreeMap<TopicId, Vec<i32>>),
    /// The member was fenced or is unknown: it rejoins with epoch 0 and owns
    /// nothing until then (records it holds are released by the broker).
    Rejoin,
    /// The coordinator moved or is unavailable: find it again.
    FindCoordinator,
    /// The member left the group.
    Left,
}

/// A share group member's heartbeats (ShareGroupHeartbeat, KIP-932): join
/// with epoch 0 and the subscription, heartbeat at the interval the
/// coordinator gives, take assignments, rejoin when fenced, leave with -1.
#[derive(Debug)]
pub struct ShareMember {
    group_id: String,
    member_id: String,
    topics: Vec<String>,
    rack: Option<String>,
    epoch: i32,
    interval: Duration,
    next: Instant,
    inflight: bool,
    failures: u32,
    leaving: bool,
    left: bool,
}

impl ShareMember {
    /// A member of `group_id` subscribed to `topics`, not yet joined.
    pub fn new(
        group_id: &str,
        member_id: String,
        topics: Vec<String>,
        rack: Option<String>,
        now: Instant,
    ) -> Self {
        let mut topics = topics;
        topics.sort();
        topics.dedup();
        ShareMember {
            group_id: group_id.to_owned(),
            member_id,
            topics,
            rack,
            epoch: 0,
            interval: Duration::from_secs(5),
            next: now,
            inflight: false,
            failures: 0,
            leaving: false,
            left: false,
        }
    }

    /// The member id (the client makes it up, as KIP-848 members do).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The member epoch (0 until joined).
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    /// Whether the member has left.
    pub fn has_left(&self) -> bool {
        self.left
    }

    /// When the next heartbeat is due.
    pub fn next_heartbeat(&self) -> Instant {
        self.next
    }

    /// The heartbeat to send now, if one is due (one at a time).
    pub fn poll_heartbeat(&mut self, now: Instant) -> Option<HeartbeatSend> {
        if self.inflight || self.left || (now < self.next && !self.leaving) {
            return None;
        }
        self.inflight = true;
        if self.leaving {
            return Some(HeartbeatSend { member_epoch: SHARE_LEAVE_EPOCH, subscribed: None, rack: None });
        }
        let joining = self.epoch == 0;
        Some(HeartbeatSend {
            member_epoch: self.epoch,
            subscribed: joining.then(|| self.topics.clone()),
            rack: if joining { self.rack.clone() } else { None },
        })
    }

    /// Leave at the next [`poll_heartbeat`](Self::poll_heartbeat) (at once
    /// unless a heartbeat is in flight).
    pub fn leave(&mut self) {
        if self.epoch == 0 && !self.inflight {
            self.left = true;
        }
        self.leaving = true;
    }

    /// The answer to the heartbeat in flight, or the transport error.
    pub fn on_response(
        &mut self,
        now: Instant,
        result: Result<ShareGroupHeartbeatResponse, String>,
    ) -> Result<HeartbeatOutcome, GroupError> {
        self.inflight = false;
        if self.leaving {
            self.left = true;
            self.epoch = 0;
            return Ok(HeartbeatOutcome::Left);
        }
        let r = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(group = %self.group_id, error = %e, "share heartbeat failed");
                self.retry(now);
                return Ok(HeartbeatOutcome::FindCoordinator);
            }
        };
        match r.error_code {
            ErrorCode::NONE => {
                self.failures = 0;
                if r.member_epoch > 0 {
                    self.epoch = r.member_epoch;
                }
                if r.heartbeat_interval_ms > 0 {
                    self.interval = Duration::from_millis(r.heartbeat_interval_ms as u64);
                }
                self.next = now + self.interval;
                Ok(match r.assignment {
                    Some(a) => {
                        let mut m: BTreeMap<TopicId, Vec<i32>> = BTreeMap::new();
                        for (id, parts) in a {
                            let e = m.entry(id).or_default();
                            e.extend(parts);
                            e.sort_unstable();
                            e.dedup();
                        }
                        HeartbeatOutcome::Assigned(m)
                    }
                    None => HeartbeatOutcome::Same,
                })
            }
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_MEMBER_EPOCH => {
                tracing::info!(group = %self.group_id, code = %r.error_code.name(), "share member fenced; rejoining");
                self.epoch = 0;
                self.next = now;
                Ok(HeartbeatOutcome::Rejoin)
            }
            ErrorCode::NOT_COORDINATOR
            | ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => {
                self.retry(now);
                Ok(HeartbeatOutcome::FindCoordinator)
            }
            ErrorCode(23) => Err(GroupError::Invalid(format!(
                "group '{}' is not a share group (a consumer group of that name exists)",
                self.group_id
            ))),
            code => Err(GroupError::broker(
                format!("share group '{}' heartbeat", self.group_id),
                code,
                r.error_message,
            )),
        }
    }

    fn retry(&mut self, now: Instant) {
        self.failures += 1;
        let backoff = Duration::from_millis(100).saturating_mul(1 << self.failures.min(4));
        self.next = now + backoff.min(Duration::from_secs(1));
    }
}

/// Acknowledgements waiting to be sent, per partition.
#[derive(Debug, Default, Clone)]
pub struct AckBook {
    pending: BTreeMap<(TopicId, i32), BTreeMap<i64, AckType>>,
}

impl AckBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Acknowledge `offset` of a partition as `t` (the last word counts).
    pub fn add(&mut self, topic: TopicId, partition: i32, offset: i64, t: AckType) {
        self.pending.entry((topic, partition)).or_default().insert(offset, t);
    }

    /// Acknowledge `offset` as `t` unless the application already did.
    pub fn add_if_absent(&mut self, topic: TopicId, partition: i32, offset: i64, t: AckType) {
        self.pending.entry((topic, partition)).or_default().entry(offset).or_insert(t);
    }

    /// Whether anything waits.
    pub fn is_empty(&self) -> bool {
        self.pending.values().all(BTreeMap::is_empty)
    }

    /// Partitions with acknowledgements waiting.
    pub fn partitions(&self) -> Vec<(TopicId, i32)> {
        self.pending.iter().filter(|(_, m)| !m.is_empty()).map(|(k, _)| *k).collect()
    }

    /// Takes a partition's acknowledgements as wire batches: consecutive
    /// offsets of one type become one range.
    pub fn take(&mut self, topic: TopicId, partition: i32) -> Vec<AckBatch> {
        let Some(m) = self.pending.remove(&(topic, partition)) else { return Vec::new() };
        let mut out: Vec<AckBatch> = Vec::new();
        for (offset, t) in m {
            match out.last_mut() {
                Some(b) if b.last + 1 == offset && b.types == [t] => b.last = offset,
                _ => out.push(AckBatch { first: offset, last: offset, types: vec![t] }),
            }
        }
        out
    }

    /// Drops a partition's acknowledgements (it was taken from this member:
    /// the broker released what it held).
    pub fn forget(&mut self, topic: TopicId, partition: i32) {
        self.pending.remove(&(topic, partition));
    }
}

/// Most offsets one answer's gaps are acknowledged for (a broker acquires
/// at most `max.poll.records` per fetch; a hostile one may name any range).
pub const MAX_GAPS: usize = 8192;

/// A record delivered to this member of a share group.
#[derive(Debug, Clone)]
pub struct ShareRecord {
    /// The record.
    pub record: ConsumerRecord,
    /// How many times it has been delivered (1 the first time).
    pub delivery_count: i16,
}

/// The records of a ShareFetch answer for `tp` that fall in the `acquired`
/// ranges, with their delivery counts, and the acquired offsets that hold no
/// record (compacted away, or control records): those are acknowledged as
/// gaps. Records outside the ranges belong to other members.
pub fn acquired_records(
    tp: Arc<TopicPartition>,
    records: Bytes,
    acquired: &[Acquired],
    decode: DecodeOptions,
) -> Result<(Vec<ShareRecord>, Vec<i64>), GroupError> {
    let mut ranges: Vec<Acquired> = acquired.iter().copied().filter(|a| a.first <= a.last).collect();
    ranges.sort_by_key(|a| a.first);
    let Some(lo) = ranges.first().map(|a| a.first) else { return Ok((Vec::new(), Vec::new())) };
    let chunk = FetchedChunk::from_records(tp.clone(), lo, records, decode);
    let all = chunk.to_records().map_err(|e| GroupError::Invalid(format!("share fetch of {tp}: {e}")))?;
    let mut out = Vec::new();
    let mut seen: BTreeSet<i64> = BTreeSet::new();
    for rec in all {
        if let Some(a) = ranges.iter().find(|a| a.first <= rec.offset && rec.offset <= a.last) {
            if seen.insert(rec.offset) {
                out.push(ShareRecord { delivery_count: a.delivery_count, record: rec });
            }
        }
    }
    // Gaps: bounded by the ranges themselves, but a hostile broker could
    // name a huge range: count only up to MAX_GAPS offsets (the rest stay
    // acquired until their lock expires, and come back as gaps again).
    let mut gaps = Vec::new();
    'ranges: for a in &ranges {
        let mut o = a.first;
        while o <= a.last {
            if !seen.contains(&o) {
                gaps.push(o);
                if gaps.len() >= MAX_GAPS {
                    break 'ranges;
                }
            }
            match o.checked_add(1) {
                Some(next) => o = next,
                None => break,
            }
        }
    }
    Ok((out, gaps))
}

/// Share session epochs per broker: 0 opens a session, then 1, 2, ... on
/// each request; an unknown session or a wrong epoch starts over at 0.
#[derive(Debug, Default, Clone)]
pub struct SessionEpochs {
    epochs: BTreeMap<i32, i32>,
    /// Partitions in each broker's session.
    members: BTreeMap<i32, BTreeSet<(TopicId, i32)>>,
}

impl SessionEpochs {
    /// The epoch for the next request to `broker`.
    pub fn epoch(&self, broker: i32) -> i32 {
        self.epochs.get(&broker).copied().unwrap_or(0)
    }

    /// Partitions `broker`'s session holds.
    pub fn partitions(&self, broker: i32) -> BTreeSet<(TopicId, i32)> {
        self.members.get(&broker).cloned().unwrap_or_default()
    }

    /// A request to `broker` with `partitions` in its session succeeded.
    pub fn advance(&mut self, broker: i32, partitions: BTreeSet<(TopicId, i32)>) {
        let e = self.epochs.entry(broker).or_insert(0);
        *e = if *e == i32::MAX { 1 } else { *e + 1 };
        self.members.insert(broker, partitions);
    }

    /// `broker`'s session is gone (an error, a closed connection): the next
    /// request opens a new one with every partition.
    pub fn reset(&mut self, broker: i32) {
        self.epochs.remove(&broker);
        self.members.remove(&broker);
    }

    /// Brokers with a session.
    pub fn brokers(&self) -> Vec<i32> {
        self.epochs.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests;
