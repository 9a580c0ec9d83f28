//! The fetcher's sans-IO core: every assigned partition's position and state
//! (waiting for its leader, for its start offset, fetchable, backing off,
//! failed), the fetch session per broker, leader epochs, log truncation
//! detection (KIP-320: each fetch names the epoch of the last batch read;
//! a leader whose log diverged answers with the diverging epoch, and the
//! position goes back to the first offset known to diverge), offset resets,
//! and the planning of the Fetch requests. No sockets, no tokio, no locks: time is
//! an input (`std::time::Instant`), lookups and requests come out of the
//! `poll_*` methods, their answers go back in through the `handle_*` methods,
//! and what the application sees comes out of [`FetchCore::pop_event`]. The
//! driver in `fetcher.rs` moves bytes.
//!
//! One turn of the driver's loop:
//! 1. [`FetchCore::poll_leaders`] → a metadata lookup → [`FetchCore::handle_leaders`];
//! 2. [`FetchCore::poll_offsets`] → ListOffsets lookups → [`FetchCore::handle_offsets`];
//! 3. [`FetchCore::poll_fetches`] → Fetch requests, one per broker with none
//!    in flight; each answer (or transport failure) → [`FetchCore::handle_fetch`];
//! 4. sleep until [`FetchCore::next_wake`], a command or an answer.

mod session;

#[cfg(any(test, feature = "sim"))]
pub(crate) mod sim;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kwire_meta::retry::Backoff;
use kwire_meta::{Metadata, RetryAction, classify};
use kwire_proto::ErrorCode;
use kwire_proto::msg::fetch::FetchResponse;
use kwire_proto::records::{DecodeOptions, RecordsError, batches};

pub(crate) use session::{Sent, Session};

use crate::{
    FetchConfig, FetchError, FetchEvent, FetchedChunk, OffsetReset, OffsetSpec, StartOffset, TopicPartition,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    /// Needs its start offset resolved.
    NeedsOffset(StartOffset),
    /// Its start offset is being looked up (the [`OffsetLookup`] with this id).
    LookingUp(StartOffset, u64),
    /// Needs its leader looked up (after `at`).
    NeedsLeader(Instant),
    /// Ready to fetch from its leader.
    Ready,
    /// Waiting before the next fetch (retriable error).
    Backoff(Instant),
    /// Failed for good.
    Failed,
}

#[derive(Debug)]
struct Part {
    tp: Arc<TopicPartition>,
    topic_id: [u8; 16],
    /// Assignment epoch (the handle's, to drop data of an old assignment).
    epoch: u64,
    /// Next offset to fetch (-1: not known yet).
    position: i64,
    leader: i32,
    leader_epoch: i32,
    /// Leader epoch of the last batch delivered (-1: none since the position
    /// was set), sent as `last_fetched_epoch` so that the leader can tell
    /// when its log diverged from what was read (KIP-320).
    last_fetched_epoch: i32,
    status: Status,
    /// The start spec of a partition that went to look up its leader before
    /// its start offset was resolved: resolved once the leader is known.
    pending_start: Option<StartOffset>,
    retries: u32,
    /// When the partition was assigned or last fetched successfully.
    ok_since: Instant,
}

impl Part {
    /// Looks the leader up again after `at`. A partition still waiting for
    /// its start offset keeps its start spec, to resolve once the leader is
    /// known (without it, it would become fetchable with no position and
    /// never be fetched).
    fn wait_for_leader(&mut self, at: Instant) {
        if let Status::NeedsOffset(start) = self.status {
            self.pending_start = Some(start);
        }
        self.status = Status::NeedsLeader(at);
    }
}

/// A metadata lookup the core wants: refresh `topics`, then answer for each
/// of `partitions` through [`FetchCore::handle_leaders`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaderLookup {
    /// Topics to refresh, sorted, without duplicates.
    pub topics: Vec<String>,
    /// Partitions whose leader is wanted.
    pub partitions: Vec<TopicPartition>,
}

/// What the metadata said about one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaderAnswer {
    /// It has a leader.
    Leader {
        /// Topic id (zeros: none).
        topic_id: [u8; 16],
        /// Leader broker.
        leader: i32,
        /// Leader epoch (-1: unknown).
        leader_epoch: i32,
    },
    /// The topic exists with `partitions` partitions, and not this one.
    NoSuchPartition {
        /// The topic's partition count.
        partitions: usize,
    },
    /// No leader now (or no such topic): the code the broker gave.
    Unavailable(ErrorCode),
}

impl LeaderAnswer {
    /// Reads `tp`'s answer out of a metadata response.
    pub fn from_metadata(md: &Metadata, tp: &TopicPartition) -> LeaderAnswer {
        let info = md.topics.get(&tp.topic);
        let pinfo = info.and_then(|t| t.partitions.iter().find(|x| x.partition == tp.partition));
        match (info, pinfo) {
            (Some(t), Some(pi)) if pi.leader >= 0 => {
                LeaderAnswer::Leader { topic_id: t.id, leader: pi.leader, leader_epoch: pi.leader_epoch }
            }
            (Some(t), None) => LeaderAnswer::NoSuchPartition { partitions: t.partitions.len() },
            _ => LeaderAnswer::Unavailable(
                md.topic_errors.get(&tp.topic).copied().unwrap_or(ErrorCode::LEADER_NOT_AVAILABLE),
            ),
        }
    }
}

/// A ListOffsets lookup the core wants: run `specs` in order for
/// `partitions` (stopping at the first error) and hand every answer map to
/// [`FetchCore::handle_offsets`] in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetLookup {
    /// Answers apply only to partitions still waiting for this lookup (a
    /// partition re-assigned meanwhile waits for a newer one).
    pub id: u64,
    /// The partitions' leader: one lookup per leader, so that a leader that
    /// cannot be reached holds up only its own partitions.
    pub leader: i32,
    /// Where the partitions start.
    pub start: StartOffset,
    /// Partitions to resolve.
    pub partitions: Vec<TopicPartition>,
    /// Lookups to run, in order.
    pub specs: Vec<OffsetSpec>,
}

/// One Fetch request to send: the driver encodes it for the broker's
/// version and sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchPlan {
    /// Id to hand back with the outcome.
    pub id: u64,
    /// Broker to send it to.
    pub broker: i32,
    /// Every partition has a topic id: Fetch v13+ may be used.
    pub use_topic_ids: bool,
    /// Session id.
    pub session_id: i32,
    /// Session epoch (-1: no session).
    pub session_epoch: i32,
    /// Partitions listed, with offset and leader epoch.
    pub include: Vec<(TopicPartition, Sent)>,
    /// Partitions the session drops.
    pub forgotten: Vec<TopicPartition>,
    /// Topic ids by name, for v13+.
    pub topic_ids: HashMap<String, [u8; 16]>,
}

/// What became of a Fetch, as the driver saw it.
#[derive(Debug)]
pub(crate) enum FetchOutcome {
    /// The broker answered (decoded at `version`).
    Response {
        /// Version the request was sent (and the answer decoded) at.
        version: i16,
        /// The answer.
        response: FetchResponse,
    },
    /// No answer (no connection, disconnect, timeout): retry after a backoff
    /// and a leader lookup, from the same positions. The error is reported
    /// if the partition gives up (`give_up_after`).
    Lost(FetchError),
    /// Retrying can't help (credentials, certificates, a broker that broke
    /// the protocol): the broker's partitions fail with this error.
    Fatal(FetchError),
}

#[derive(Debug)]
struct InFlight {
    broker: i32,
    full: bool,
    /// Partition → (assignment epoch, fetch offset) as sent (or as held by the session).
    requested: HashMap<TopicPartition, (u64, i64)>,
}

/// The fetcher's state machine.
#[derive(Debug)]
pub(crate) struct FetchCore {
    cfg: FetchConfig,
    backoff: Backoff,
    decode: DecodeOptions,
    parts: BTreeMap<TopicPartition, Part>,
    sessions: HashMap<i32, Session>,
    inflight: HashMap<u64, InFlight>,
    next_id: u64,
    ready: VecDeque<FetchEvent>,
}

impl FetchCore {
    /// A core with nothing assigned.
    pub fn new(cfg: FetchConfig, backoff: Backoff) -> FetchCore {
        let decode =
            DecodeOptions::default().verify_crc(cfg.check_crcs).max_decompressed(cfg.max_decompressed);
        FetchCore {
            cfg,
            backoff,
            decode,
            parts: BTreeMap::new(),
            sessions: HashMap::new(),
            inflight: HashMap::new(),
            next_id: 1,
            ready: VecDeque::new(),
        }
    }

    /// Starts (or restarts) `parts`, each with its assignment epoch.
    pub fn assign(&mut self, parts: Vec<(TopicPartition, StartOffset, u64)>, now: Instant) {
        for (tp, start, epoch) in parts {
            let arc = Arc::new(tp.clone());
            self.parts.insert(
                tp,
                Part {
                    tp: arc,
                    topic_id: [0; 16],
                    epoch,
                    position: -1,
                    leader: -1,
                    leader_epoch: -1,
                    last_fetched_epoch: -1,
                    status: Status::NeedsOffset(start),
                    pending_start: None,
                    retries: 0,
                    ok_since: now,
                },
            );
        }
    }

    /// Stops `parts` and drops their undelivered events.
    pub fn unassign(&mut self, parts: Vec<TopicPartition>) {
        for tp in parts {
            self.parts.remove(&tp);
        }
        let parts = &self.parts;
        self.ready.retain(|ev| match ev {
            FetchEvent::Records(c) => parts.get(c.tp.as_ref()).is_some_and(|p| p.epoch == c.assignment_epoch),
            FetchEvent::Reset { tp, .. } | FetchEvent::Error { tp, .. } => parts.contains_key(tp.as_ref()),
        });
    }

    /// The next event for the application.
    pub fn pop_event(&mut self) -> Option<FetchEvent> {
        self.ready.pop_front()
    }

    /// Whether events wait for the application.
    pub fn has_events(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Fetches in flight.
    #[cfg(test)]
    pub fn requests_in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// When a backoff or a delayed leader lookup ends.
    pub fn next_wake(&self) -> Option<Instant> {
        self.parts
            .values()
            .filter_map(|p| match p.status {
                Status::NeedsLeader(t) | Status::Backoff(t) => Some(t),
                _ => None,
            })
            .min()
    }

    /// A partition's next fetch offset (-1 while unknown), for tests and the driver.
    #[cfg(test)]
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.parts.get(tp).map(|p| p.position)
    }

    /// Ends backoffs that are over.
    fn tick(&mut self, now: Instant) {
        for p in self.parts.values_mut() {
            if let Status::Backoff(t) = p.status {
                if t <= now {
                    p.status = Status::Ready;
                }
            }
        }
    }

    /// The partitions whose leader must be looked up now (newly assigned,
    /// after a leader move or a lost fetch), if any.
    pub fn poll_leaders(&mut self, now: Instant) -> Option<LeaderLookup> {
        self.tick(now);
        let partitions: Vec<TopicPartition> = self
            .parts
            .iter()
            .filter(|(_, p)| match p.status {
                // Waits out its backoff, even with no leader known.
                Status::NeedsLeader(t) => t <= now,
                Status::Failed => false,
                _ => p.leader < 0,
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        if partitions.is_empty() {
            return None;
        }
        let mut topics: Vec<String> = partitions.iter().map(|tp| tp.topic.clone()).collect();
        topics.sort();
        topics.dedup();
        Some(LeaderLookup { topics, partitions })
    }

    /// The answer to a [`LeaderLookup`]: one [`LeaderAnswer`] per partition,
    /// or why the metadata request failed.
    pub fn handle_leaders(
        &mut self,
        lookup: LeaderLookup,
        answer: Result<Vec<(TopicPartition, LeaderAnswer)>, String>,
        now: Instant,
    ) {
        let answers = match answer {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(error = %e, "metadata refresh failed");
                for tp in lookup.partitions {
                    if let Some(part) = self.parts.get_mut(&tp) {
                        part.retries += 1;
                        let at = now + self.backoff.delay(part.retries.min(4));
                        part.wait_for_leader(at);
                    }
                }
                return;
            }
        };
        for (tp, a) in answers {
            let Some(part) = self.parts.get_mut(&tp) else { continue };
            if part.status == Status::Failed {
                continue;
            }
            match a {
                LeaderAnswer::Leader { topic_id, leader, leader_epoch } => {
                    part.topic_id = topic_id;
                    part.leader = leader;
                    part.leader_epoch = leader_epoch;
                    if matches!(part.status, Status::NeedsLeader(_)) {
                        part.status = match part.pending_start.take() {
                            Some(start) => Status::NeedsOffset(start),
                            None => Status::Ready,
                        };
                    }
                }
                LeaderAnswer::NoSuchPartition { partitions: n } => fail(
                    &mut self.ready,
                    part,
                    FetchError::Invalid(format!(
                        "partition {} does not exist (topic '{}' has {n} partition{})",
                        tp.partition,
                        tp.topic,
                        if n == 1 { "" } else { "s" }
                    )),
                ),
                LeaderAnswer::Unavailable(code) => {
                    part.retries += 1;
                    if code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION && part.retries > 40 {
                        fail(
                            &mut self.ready,
                            part,
                            FetchError::Invalid(format!("topic '{}' does not exist", tp.topic)),
                        );
                    } else {
                        part.leader = -1;
                        let at = now + self.backoff.delay(part.retries.min(4));
                        part.wait_for_leader(at);
                    }
                }
            }
        }
    }

    /// Start offsets to look up, grouped by start spec (partitions with a
    /// leader only). Absolute start offsets need no lookup and are applied here.
    pub fn poll_offsets(&mut self, now: Instant) -> Vec<OffsetLookup> {
        self.tick(now);
        let mut by_spec: BTreeMap<(u8, i64, i32), (StartOffset, Vec<TopicPartition>)> = BTreeMap::new();
        for (tp, p) in self.parts.iter_mut() {
            if p.leader < 0 {
                continue;
            }
            if let Status::NeedsOffset(s) = p.status {
                let (kind, arg) = match s {
                    StartOffset::Offset(n) => {
                        p.position = n;
                        p.last_fetched_epoch = -1;
                        p.status = Status::Ready;
                        continue;
                    }
                    StartOffset::Earliest => (1, 0),
                    StartOffset::Latest => (2, 0),
                    StartOffset::FromEnd(n) => (3, n),
                    StartOffset::Timestamp(t) => (4, t),
                };
                by_spec.entry((kind, arg, p.leader)).or_insert_with(|| (s, Vec::new())).1.push(tp.clone());
            }
        }
        let mut out = Vec::with_capacity(by_spec.len());
        for ((_, _, leader), (start, partitions)) in by_spec {
            let id = self.next_id;
            self.next_id += 1;
            for tp in &partitions {
                if let Some(p) = self.parts.get_mut(tp) {
                    p.status = Status::LookingUp(start, id);
                }
            }
            let specs = match start {
                StartOffset::Earliest => vec![OffsetSpec::Earliest],
                StartOffset::Latest | StartOffset::Offset(_) => vec![OffsetSpec::Latest],
                // n before the end, but not before the log start.
                StartOffset::FromEnd(_) => vec![OffsetSpec::Latest, OffsetSpec::Earliest],
                StartOffset::Timestamp(t) => vec![OffsetSpec::Timestamp(t)],
            };
            out.push(OffsetLookup { id, leader, start, partitions, specs });
        }
        out
    }

    /// The answers to an [`OffsetLookup`]: one map per spec, in order, or the
    /// first error.
    pub fn handle_offsets(
        &mut self,
        lookup: OffsetLookup,
        answer: Result<Vec<BTreeMap<TopicPartition, i64>>, FetchError>,
        now: Instant,
    ) {
        let result = answer.and_then(|mut maps| {
            let mut first = if maps.is_empty() { BTreeMap::new() } else { maps.swap_remove(0) };
            if let StartOffset::FromEnd(n) = lookup.start {
                let Some(starts) = maps.first() else {
                    return Err(FetchError::Invalid("ListOffsets: log start offsets missing".to_owned()));
                };
                for (tp, off) in first.iter_mut() {
                    let start = starts.get(tp).copied().unwrap_or(0);
                    *off = off.saturating_sub(n).max(start);
                }
            }
            Ok(first)
        });
        let id = lookup.id;
        let waiting = |p: &Part| matches!(p.status, Status::LookingUp(_, i) if i == id);
        match result {
            Ok(mut map) => {
                for tp in &lookup.partitions {
                    let Some(p) = self.parts.get_mut(tp) else { continue };
                    if !waiting(p) {
                        continue;
                    }
                    let Some(offset) = map.remove(tp) else {
                        // No answer for it: look it up again after a pause.
                        p.status = Status::NeedsOffset(lookup.start);
                        p.retries += 1;
                        let at = now + self.backoff.delay(p.retries.min(4));
                        p.wait_for_leader(at);
                        continue;
                    };
                    if p.position >= 0 && p.position != offset {
                        self.ready.push_back(FetchEvent::Reset {
                            tp: p.tp.clone(),
                            from: p.position,
                            to: offset,
                        });
                    }
                    p.position = offset;
                    p.last_fetched_epoch = -1;
                    p.status = Status::Ready;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, leader = lookup.leader, "offset lookup failed");
                let fatal = matches!(e, FetchError::Partition { .. } | FetchError::Invalid(_));
                for tp in lookup.partitions {
                    let Some(p) = self.parts.get_mut(&tp) else { continue };
                    if !waiting(p) {
                        continue;
                    }
                    p.status = Status::NeedsOffset(lookup.start);
                    if fatal {
                        fail(&mut self.ready, p, e.clone());
                    } else {
                        p.retries += 1;
                        p.leader = -1;
                        let at = now + self.backoff.delay(p.retries.min(4));
                        p.wait_for_leader(at);
                    }
                }
            }
        }
    }

    /// A Fetch for every leader that has fetchable partitions and no fetch
    /// in flight, unless the application is `prefetch` events behind.
    pub fn poll_fetches(&mut self, now: Instant) -> Vec<FetchPlan> {
        self.tick(now);
        if self.ready.len() >= self.cfg.prefetch.max(1) {
            return Vec::new();
        }
        let mut by_broker: BTreeMap<i32, Vec<(TopicPartition, Sent)>> = BTreeMap::new();
        for (tp, p) in &self.parts {
            if p.status == Status::Ready && p.leader >= 0 && p.position >= 0 {
                by_broker.entry(p.leader).or_default().push((
                    tp.clone(),
                    Sent {
                        offset: p.position,
                        leader_epoch: p.leader_epoch,
                        last_fetched_epoch: p.last_fetched_epoch,
                    },
                ));
            }
        }
        let busy: Vec<i32> = self.inflight.values().map(|f| f.broker).collect();
        let mut out = Vec::new();
        for (broker, wanted) in by_broker {
            if busy.contains(&broker) {
                continue;
            }
            let use_topic_ids =
                wanted.iter().all(|(tp, _)| self.parts.get(tp).is_some_and(|p| p.topic_id != [0; 16]));
            let plan = self.sessions.entry(broker).or_default().plan(self.cfg.sessions, &wanted);
            let requested = wanted
                .iter()
                .filter_map(|(tp, s)| self.parts.get(tp).map(|p| (tp.clone(), (p.epoch, s.offset))))
                .collect();
            let id = self.next_id;
            self.next_id += 1;
            self.inflight.insert(id, InFlight { broker, full: plan.full, requested });
            let topic_ids = self.parts.iter().map(|(tp, p)| (tp.topic.clone(), p.topic_id)).collect();
            out.push(FetchPlan {
                id,
                broker,
                use_topic_ids,
                session_id: plan.session_id,
                session_epoch: plan.session_epoch,
                include: plan.include,
                forgotten: plan.forgotten,
                topic_ids,
            });
        }
        out
    }

    /// What became of the Fetch `id`. An id the core doesn't know (already
    /// answered) is ignored.
    pub fn handle_fetch(&mut self, id: u64, outcome: FetchOutcome, now: Instant) {
        let Some(done) = self.inflight.remove(&id) else { return };
        let (version, resp) = match outcome {
            FetchOutcome::Response { version, response } => (version, response),
            FetchOutcome::Fatal(e) => {
                for p in self.parts.values_mut() {
                    if p.leader == done.broker && p.status == Status::Ready {
                        fail(&mut self.ready, p, e.clone());
                    }
                }
                return;
            }
            FetchOutcome::Lost(e) => {
                tracing::debug!(broker = done.broker, error = %e, "fetch failed");
                // The broker may be gone: re-resolve leaders of its partitions,
                // and start a new session with whichever broker leads them.
                self.sessions.remove(&done.broker);
                for p in self.parts.values_mut() {
                    if p.leader == done.broker && p.status == Status::Ready {
                        if self.cfg.give_up_after.is_some_and(|d| now.duration_since(p.ok_since) >= d) {
                            fail(&mut self.ready, p, e.clone());
                            continue;
                        }
                        p.retries += 1;
                        p.status = Status::NeedsLeader(now + self.backoff.delay(p.retries.min(4)));
                    }
                }
                return;
            }
        };
        if self.cfg.sessions {
            let session = self.sessions.entry(done.broker).or_default();
            if resp.error_code == ErrorCode::FETCH_SESSION_ID_NOT_FOUND
                || resp.error_code == ErrorCode::INVALID_FETCH_SESSION_EPOCH
            {
                tracing::debug!(broker = done.broker, code = %resp.error_code, "fetch session reset");
                *session = Session::default();
                return;
            }
            session.answered(done.full, resp.session_id);
        }
        if resp.error_code.is_err() {
            tracing::debug!(broker = done.broker, code = %resp.error_code, "fetch error");
            for p in self.parts.values_mut() {
                if p.leader == done.broker && p.status == Status::Ready {
                    p.status = Status::Backoff(now + self.backoff.delay(1));
                }
            }
            return;
        }
        let names_by_id: HashMap<[u8; 16], String> =
            self.parts.iter().map(|(tp, p)| (p.topic_id, tp.topic.clone())).collect();
        for t in resp.topics {
            let name = if version >= 13 {
                match names_by_id.get(&t.topic_id) {
                    Some(n) => n.clone(),
                    None => continue,
                }
            } else {
                t.name
            };
            for pd in t.partitions {
                let tp = TopicPartition::new(name.clone(), pd.partition);
                let Some(&(epoch, fetch_offset)) = done.requested.get(&tp) else { continue };
                let Some(part) = self.parts.get_mut(&tp) else { continue };
                if part.epoch != epoch || part.position != fetch_offset {
                    continue; // re-assigned or moved meanwhile (or listed twice)
                }
                if pd.current_leader.0 >= 0 && pd.current_leader.0 != part.leader {
                    tracing::debug!(%tp, leader = pd.current_leader.0, "leader moved (hint)");
                }
                self.partition_answer(tp, epoch, fetch_offset, pd, now);
            }
        }
    }

    /// One partition's part of a Fetch answer.
    fn partition_answer(
        &mut self,
        tp: TopicPartition,
        epoch: u64,
        fetch_offset: i64,
        pd: kwire_proto::msg::fetch::FetchPartition,
        now: Instant,
    ) {
        let Some(part) = self.parts.get_mut(&tp) else { return };
        match classify(pd.error_code) {
            RetryAction::Done if pd.diverging_epoch.0 >= 0 => {
                part.retries = 0;
                part.ok_since = now;
                let (epoch, end_offset) = pd.diverging_epoch;
                truncated(&mut self.ready, part, self.cfg.reset, epoch, end_offset);
            }
            RetryAction::Done => {
                part.retries = 0;
                part.ok_since = now;
                if pd.records.is_empty() {
                    return;
                }
                match next_offset_of(&pd.records, &self.decode) {
                    Some((next, last_epoch)) if next > part.position => {
                        let chunk = FetchedChunk {
                            tp: part.tp.clone(),
                            fetch_offset,
                            next_offset: next,
                            high_watermark: pd.high_watermark,
                            last_stable_offset: pd.last_stable_offset,
                            log_start_offset: pd.log_start_offset,
                            records: pd.records,
                            aborted: pd.aborted_transactions,
                            isolation: self.cfg.isolation,
                            decode: self.decode,
                            assignment_epoch: epoch,
                        };
                        part.position = next;
                        part.last_fetched_epoch = last_epoch;
                        self.ready.push_back(FetchEvent::Records(chunk));
                    }
                    Some(_) => {}
                    None => {
                        let size = pd.records.len();
                        let error = match first_error(&pd.records, &self.decode) {
                            Some(cause) => FetchError::Records {
                                topic: tp.topic.clone(),
                                partition: tp.partition,
                                offset: fetch_offset,
                                cause,
                            },
                            None => FetchError::Invalid(format!(
                                "{tp}: a record batch at offset {fetch_offset} is larger than the \
                                 {size} bytes fetched; raise max.partition.fetch.bytes"
                            )),
                        };
                        fail(&mut self.ready, part, error);
                    }
                }
            }
            _ if pd.error_code == ErrorCode::OFFSET_OUT_OF_RANGE => match self.cfg.reset {
                OffsetReset::Earliest => part.status = Status::NeedsOffset(StartOffset::Earliest),
                OffsetReset::Latest => part.status = Status::NeedsOffset(StartOffset::Latest),
                OffsetReset::None => fail(
                    &mut self.ready,
                    part,
                    FetchError::Partition {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        code: pd.error_code,
                        detail: Some(format!(
                            "offset {fetch_offset} is outside [{}, {}] and auto.offset.reset is none",
                            pd.log_start_offset, pd.high_watermark
                        )),
                    },
                ),
            },
            RetryAction::Fatal => fail(
                &mut self.ready,
                part,
                FetchError::Partition {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    code: pd.error_code,
                    detail: None,
                },
            ),
            RetryAction::RefreshMetadata | RetryAction::RefindCoordinator => {
                tracing::debug!(%tp, code = %pd.error_code, "leader changed; refreshing metadata");
                part.retries += 1;
                part.status = Status::NeedsLeader(now + self.backoff.delay(part.retries.min(3)));
            }
            RetryAction::Retry => {
                part.retries += 1;
                part.status = Status::Backoff(now + self.backoff.delay(part.retries.min(4)));
            }
        }
    }
}

fn fail(ready: &mut VecDeque<FetchEvent>, part: &mut Part, error: FetchError) {
    part.status = Status::Failed;
    ready.push_back(FetchEvent::Error { tp: part.tp.clone(), error });
}

/// The leader's log diverged from what `part` read (KIP-320): the leader
/// says its log holds epoch `epoch` only up to `end_offset`. As Kafka's
/// consumer does: when that is below the position, go back to the first
/// offset known to diverge (reported as a reset, so that the application
/// knows the records it had from there on are gone from the log), or fail
/// with [`FetchError::Truncated`] when `auto.offset.reset` is none; when
/// the leader can't name the offset, reset by the policy.
fn truncated(
    ready: &mut VecDeque<FetchEvent>,
    part: &mut Part,
    reset: OffsetReset,
    epoch: i32,
    end_offset: i64,
) {
    let tp = part.tp.clone();
    let from = part.position;
    if end_offset >= 0 && end_offset >= from {
        // Not below the position: nothing read was lost; fetch on, naming
        // the epoch the leader knows.
        part.last_fetched_epoch = epoch;
        return;
    }
    let to = (end_offset >= 0).then_some(end_offset);
    match (reset, to) {
        (OffsetReset::None, _) => fail(
            ready,
            part,
            FetchError::Truncated {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset: from,
                diverging: to,
            },
        ),
        (_, Some(to)) => {
            tracing::info!(%tp, offset = from, diverging = to, "Truncation detected, resetting offset to the first offset known to diverge");
            part.position = to;
            part.last_fetched_epoch = epoch;
            ready.push_back(FetchEvent::Reset { tp, from, to });
        }
        (reset, None) => {
            tracing::info!(%tp, offset = from, "Truncation detected, resetting offset by auto.offset.reset");
            part.status = Status::NeedsOffset(match reset {
                OffsetReset::Latest => StartOffset::Latest,
                _ => StartOffset::Earliest,
            });
        }
    }
}

/// The offset after the last complete batch in `records`, and that batch's
/// partition leader epoch, if there is one.
fn next_offset_of(records: &Bytes, opts: &DecodeOptions) -> Option<(i64, i32)> {
    let mut next = None;
    for b in batches(records.clone(), opts) {
        match b {
            Ok(b) => next = Some((b.next_offset(), b.header.partition_leader_epoch)),
            Err(_) => break,
        }
    }
    next
}

fn first_error(records: &Bytes, opts: &DecodeOptions) -> Option<RecordsError> {
    batches(records.clone(), opts).find_map(Result::err)
}
