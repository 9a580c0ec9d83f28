//! The fetch manager: one task that owns every assigned partition's position,
//! keeps one Fetch in flight per leader broker (all of that broker's
//! partitions in one request, with an incremental fetch session), and hands
//! data to the application through a bounded queue, so the next fetch is on
//! the wire while the application works on the current one.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kwire_conn::ConnError;
use kwire_meta::{Cluster, RetryAction, classify};
use kwire_proto::ErrorCode;
use kwire_proto::api::ApiKey;
use kwire_proto::kafka_protocol::messages::{
    BrokerId, FetchRequest, TopicName,
    fetch_request::{FetchPartition, FetchTopic, ForgottenTopic},
};
use kwire_proto::kafka_protocol::protocol::StrBytes;
use kwire_proto::msg::fetch::FetchResponse;
use kwire_proto::props::{Properties, PropsError};
use kwire_proto::records::{DecodeOptions, batches};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::offsets::{OffsetSpec, list_offsets};
use crate::{FetchError, FetchedChunk, IsolationLevel, TopicPartition};

/// What to do when a position is out of range (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// Jump to the log start.
    Earliest,
    /// Jump to the log end.
    #[default]
    Latest,
    /// Report an error for the partition.
    None,
}

/// Where a newly assigned partition starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    /// Log start.
    Earliest,
    /// Log end (only new records).
    Latest,
    /// An absolute offset (out of range → the reset policy).
    Offset(i64),
    /// `n` records before the log end (clamped at the log start).
    FromEnd(i64),
    /// The first record at or after a time (ms since epoch).
    Timestamp(i64),
}

/// Fetcher settings, with Kafka's consumer defaults.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// `fetch.max.wait.ms`.
    pub max_wait: Duration,
    /// `fetch.min.bytes`.
    pub min_bytes: i32,
    /// `fetch.max.bytes`.
    pub max_bytes: i32,
    /// `max.partition.fetch.bytes`.
    pub max_partition_bytes: i32,
    /// `isolation.level`.
    pub isolation: IsolationLevel,
    /// `check.crcs`.
    pub check_crcs: bool,
    /// `auto.offset.reset`.
    pub reset: OffsetReset,
    /// Use incremental fetch sessions (KIP-227).
    pub sessions: bool,
    /// Largest decompressed batch accepted.
    pub max_decompressed: usize,
    /// Fetch responses buffered ahead of the application, per fetcher.
    pub prefetch: usize,
    /// `client.rack` (for rack-aware fetching, Fetch v11+).
    pub rack: String,
    /// Fail a partition (a [`FetchEvent::Error`]) when its fetches have kept
    /// failing (disconnects, timeouts) for this long since it was assigned or
    /// last fetched successfully. `None` (the default) retries forever, like
    /// Kafka's consumer; `kwire consume` sets the request timeout.
    pub give_up_after: Option<Duration>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 52_428_800,
            max_partition_bytes: 1_048_576,
            isolation: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            reset: OffsetReset::Latest,
            sessions: true,
            // 64 MiB: a batch inflating past it is a decompression bomb, and
            // the cap bounds the memory one hostile fetch can cost.
            max_decompressed: kwire_proto::records::compression::DEFAULT_MAX_DECOMPRESSED,
            prefetch: 4,
            rack: String::new(),
            give_up_after: None,
        }
    }
}

impl FetchConfig {
    /// Reads Kafka's consumer property names from `props`: `fetch.max.wait.ms`,
    /// `fetch.min.bytes`, `fetch.max.bytes`, `max.partition.fetch.bytes`,
    /// `isolation.level`, `check.crcs`, `auto.offset.reset`, `client.rack`.
    pub fn apply_props(&mut self, props: &Properties) -> Result<(), PropsError> {
        if let Some(d) = props.get_ms("fetch.max.wait.ms")? {
            self.max_wait = d;
        }
        if let Some(n) = props.get_uint::<i32>("fetch.min.bytes")? {
            self.min_bytes = n;
        }
        if let Some(n) = props.get_uint::<i32>("fetch.max.bytes")? {
            self.max_bytes = n.max(1);
        }
        if let Some(n) = props.get_uint::<i32>("max.partition.fetch.bytes")? {
            self.max_partition_bytes = n.max(1);
        }
        if let Some(l) = props.get_with("isolation.level", IsolationLevel::parse)? {
            self.isolation = l;
        }
        if let Some(b) = props.get_bool("check.crcs")? {
            self.check_crcs = b;
        }
        if let Some(r) = props.get_with("auto.offset.reset", |v| match v.to_ascii_lowercase().as_str() {
            "earliest" => Ok(OffsetReset::Earliest),
            "latest" => Ok(OffsetReset::Latest),
            "none" => Ok(OffsetReset::None),
            _ => Err("expected earliest, latest or none".to_owned()),
        })? {
            self.reset = r;
        }
        if let Some(r) = props.get("client.rack") {
            self.rack = r.to_owned();
        }
        Ok(())
    }
}

/// What the fetcher reports.
#[derive(Debug, Clone)]
pub enum FetchEvent {
    /// New data for a partition.
    Records(FetchedChunk),
    /// The partition's position moved without data (reset after out-of-range).
    Reset {
        /// The partition.
        tp: Arc<TopicPartition>,
        /// Old position.
        from: i64,
        /// New position.
        to: i64,
    },
    /// A partition failed for good (e.g. out of range with reset=none, not
    /// authorized); it is no longer fetched.
    Error {
        /// The partition.
        tp: Arc<TopicPartition>,
        /// Why.
        error: FetchError,
    },
}

enum Cmd {
    Assign(Vec<(TopicPartition, StartOffset, u64)>),
    Unassign(Vec<TopicPartition>),
}

/// Handle to a running fetcher. Dropping it stops the fetch task.
pub struct Fetcher {
    cmd: mpsc::UnboundedSender<Cmd>,
    events: mpsc::Receiver<FetchEvent>,
    epochs: Arc<Mutex<HashMap<TopicPartition, u64>>>,
    next_epoch: u64,
    cluster: Cluster,
    cfg: FetchConfig,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").field("cfg", &self.cfg).finish()
    }
}

impl Fetcher {
    /// Starts a fetcher task on the current tokio runtime.
    pub fn start(cluster: Cluster, cfg: FetchConfig) -> Fetcher {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::channel(cfg.prefetch.max(1));
        let manager = Manager {
            cluster: cluster.clone(),
            cfg: cfg.clone(),
            parts: BTreeMap::new(),
            sessions: HashMap::new(),
            inflight: HashSet::new(),
            ready: VecDeque::new(),
            decode: DecodeOptions::default()
                .verify_crc(cfg.check_crcs)
                .max_decompressed(cfg.max_decompressed),
        };
        tokio::spawn(manager.run(cmd_rx, ev_tx));
        Fetcher {
            cmd: cmd_tx,
            events: ev_rx,
            epochs: Arc::new(Mutex::new(HashMap::new())),
            next_epoch: 1,
            cluster,
            cfg,
        }
    }

    /// The cluster this fetcher reads from.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The settings.
    pub fn config(&self) -> &FetchConfig {
        &self.cfg
    }

    /// Starts fetching `parts` from their start offsets (re-assigning a
    /// partition restarts it from the new start offset).
    pub fn assign(&mut self, parts: Vec<(TopicPartition, StartOffset)>) -> Result<(), FetchError> {
        let mut epochs = lock(&self.epochs);
        let mut out = Vec::with_capacity(parts.len());
        for (tp, start) in parts {
            let e = self.next_epoch;
            self.next_epoch += 1;
            epochs.insert(tp.clone(), e);
            out.push((tp, start, e));
        }
        drop(epochs);
        self.cmd.send(Cmd::Assign(out)).map_err(|_| FetchError::Stopped)
    }

    /// Stops fetching `parts`; data already buffered for them is dropped.
    pub fn unassign(&mut self, parts: Vec<TopicPartition>) -> Result<(), FetchError> {
        {
            let mut epochs = lock(&self.epochs);
            for tp in &parts {
                epochs.remove(tp);
            }
        }
        self.cmd.send(Cmd::Unassign(parts)).map_err(|_| FetchError::Stopped)
    }

    /// Partitions currently assigned.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        let mut v: Vec<TopicPartition> = lock(&self.epochs).keys().cloned().collect();
        v.sort();
        v
    }

    /// The next event; `None` once the fetcher has stopped.
    pub async fn next(&mut self) -> Option<FetchEvent> {
        loop {
            let ev = self.events.recv().await?;
            let tp = match &ev {
                FetchEvent::Records(c) => {
                    // Drop data for partitions unassigned (or re-assigned) since.
                    if lock(&self.epochs).get(c.tp.as_ref()) != Some(&c.assignment_epoch) {
                        continue;
                    }
                    return Some(ev);
                }
                FetchEvent::Reset { tp, .. } | FetchEvent::Error { tp, .. } => tp.clone(),
            };
            if lock(&self.epochs).contains_key(tp.as_ref()) {
                return Some(ev);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    /// Needs its start offset resolved.
    NeedsOffset(StartOffset),
    /// Needs its leader looked up (after `at`).
    NeedsLeader(Instant),
    /// Ready to fetch from `leader`.
    Ready,
    /// Waiting before the next fetch (retriable error).
    Backoff(Instant),
    /// Failed for good.
    Failed,
}

struct Part {
    tp: Arc<TopicPartition>,
    topic_id: [u8; 16],
    epoch: u64,
    position: i64,
    leader: i32,
    leader_epoch: i32,
    status: Status,
    retries: u32,
    /// When the partition was assigned or last fetched successfully.
    ok_since: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    offset: i64,
    leader_epoch: i32,
}

#[derive(Default)]
struct Session {
    id: i32,
    /// Next epoch to send; 0 means a full fetch (new session).
    epoch: i32,
    /// What the broker's session holds for each partition.
    sent: HashMap<TopicPartition, Sent>,
}

struct Manager {
    cluster: Cluster,
    cfg: FetchConfig,
    parts: BTreeMap<TopicPartition, Part>,
    sessions: HashMap<i32, Session>,
    inflight: HashSet<i32>,
    ready: VecDeque<FetchEvent>,
    decode: DecodeOptions,
}

/// What one in-flight fetch task returns.
struct Done {
    broker: i32,
    version: i16,
    full: bool,
    /// Partition → (assignment epoch, fetch offset) as sent (or as held by the session).
    requested: HashMap<TopicPartition, (u64, i64)>,
    result: Result<FetchResponse, ConnError>,
}

impl Manager {
    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Cmd>, events: mpsc::Sender<FetchEvent>) {
        let mut tasks: JoinSet<Done> = JoinSet::new();
        loop {
            self.resolve().await;
            if self.ready.len() < self.cfg.prefetch.max(1) {
                self.launch(&mut tasks);
            }
            let wake = self.next_wake();
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => return,
                },
                permit = events.reserve(), if !self.ready.is_empty() => match permit {
                    Ok(p) => {
                        if let Some(ev) = self.ready.pop_front() {
                            p.send(ev);
                        }
                    }
                    Err(_) => return,
                },
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok(done) = done {
                        self.complete(done);
                    }
                },
                _ = sleep_until(wake), if wake.is_some() => {}
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Assign(list) => {
                for (tp, start, epoch) in list {
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
                            status: Status::NeedsOffset(start),
                            retries: 0,
                            ok_since: Instant::now(),
                        },
                    );
                }
            }
            Cmd::Unassign(list) => {
                for tp in list {
                    self.parts.remove(&tp);
                }
                let parts = &self.parts;
                self.ready.retain(|ev| match ev {
                    FetchEvent::Records(c) => {
                        parts.get(c.tp.as_ref()).is_some_and(|p| p.epoch == c.assignment_epoch)
                    }
                    FetchEvent::Reset { tp, .. } | FetchEvent::Error { tp, .. } => {
                        parts.contains_key(tp.as_ref())
                    }
                });
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        self.parts
            .values()
            .filter_map(|p| match p.status {
                Status::NeedsLeader(t) | Status::Backoff(t) => Some(t),
                _ => None,
            })
            .min()
    }

    /// Resolves start offsets and leaders of partitions that need them.
    async fn resolve(&mut self) {
        let now = Instant::now();
        for p in self.parts.values_mut() {
            if let Status::Backoff(t) = p.status {
                if t <= now {
                    p.status = Status::Ready;
                }
            }
        }
        // Leaders first (positions need a leader for ListOffsets too).
        let need_leader: Vec<TopicPartition> = self
            .parts
            .iter()
            .filter(|(_, p)| matches!(p.status, Status::NeedsLeader(t) if t <= now) || p.leader < 0)
            .filter(|(_, p)| p.status != Status::Failed)
            .map(|(tp, _)| tp.clone())
            .collect();
        if !need_leader.is_empty() {
            let topics: Vec<String> = {
                let mut t: Vec<String> = need_leader.iter().map(|tp| tp.topic.clone()).collect();
                t.sort();
                t.dedup();
                t
            };
            for t in &topics {
                self.cluster.invalidate_topic(t);
            }
            match self.cluster.fetch_metadata(Some(&topics)).await {
                Ok(md) => {
                    for tp in need_leader {
                        let Some(part) = self.parts.get_mut(&tp) else { continue };
                        let info = md.topics.get(&tp.topic);
                        let pinfo =
                            info.and_then(|t| t.partitions.iter().find(|x| x.partition == tp.partition));
                        match (info, pinfo) {
                            (Some(t), Some(pi)) if pi.leader >= 0 => {
                                part.topic_id = t.id;
                                part.leader = pi.leader;
                                part.leader_epoch = pi.leader_epoch;
                                if matches!(part.status, Status::NeedsLeader(_)) {
                                    part.status = Status::Ready;
                                }
                            }
                            (Some(t), None) => {
                                let n = t.partitions.len();
                                fail(
                                    &mut self.ready,
                                    part,
                                    FetchError::Invalid(format!(
                                        "partition {} does not exist (topic '{}' has {n} partition{})",
                                        tp.partition,
                                        tp.topic,
                                        if n == 1 { "" } else { "s" }
                                    )),
                                );
                            }
                            _ => {
                                let code = md
                                    .topic_errors
                                    .get(&tp.topic)
                                    .copied()
                                    .unwrap_or(ErrorCode::LEADER_NOT_AVAILABLE);
                                part.retries += 1;
                                if code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION && part.retries > 40 {
                                    fail(
                                        &mut self.ready,
                                        part,
                                        FetchError::Invalid(format!("topic '{}' does not exist", tp.topic)),
                                    );
                                } else {
                                    part.leader = -1;
                                    part.status =
                                        Status::NeedsLeader(now + self.cluster.backoff(part.retries.min(4)));
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "metadata refresh failed");
                    for tp in need_leader {
                        if let Some(part) = self.parts.get_mut(&tp) {
                            part.retries += 1;
                            part.status =
                                Status::NeedsLeader(now + self.cluster.backoff(part.retries.min(4)));
                        }
                    }
                }
            }
        }
        // Start offsets, grouped by spec.
        let mut by_spec: BTreeMap<(u8, i64), Vec<TopicPartition>> = BTreeMap::new();
        for (tp, p) in &self.parts {
            if p.leader < 0 {
                continue;
            }
            if let Status::NeedsOffset(s) = p.status {
                let key = match s {
                    StartOffset::Offset(n) => {
                        // No lookup needed.
                        by_spec.entry((0, n)).or_default().push(tp.clone());
                        continue;
                    }
                    StartOffset::Earliest => (1, 0),
                    StartOffset::Latest => (2, 0),
                    StartOffset::FromEnd(n) => (3, n),
                    StartOffset::Timestamp(t) => (4, t),
                };
                by_spec.entry(key).or_default().push(tp.clone());
            }
        }
        for ((kind, arg), tps) in by_spec {
            let result = match kind {
                0 => {
                    for tp in &tps {
                        if let Some(p) = self.parts.get_mut(tp) {
                            p.position = arg;
                            p.status = Status::Ready;
                        }
                    }
                    continue;
                }
                1 => list_offsets(&self.cluster, &tps, OffsetSpec::Earliest, self.cfg.isolation).await,
                2 | 3 => list_offsets(&self.cluster, &tps, OffsetSpec::Latest, self.cfg.isolation).await,
                _ => list_offsets(&self.cluster, &tps, OffsetSpec::Timestamp(arg), self.cfg.isolation).await,
            };
            let result = match (kind, result) {
                (3, Ok(mut ends)) => {
                    // n before the end, but not before the log start.
                    match list_offsets(&self.cluster, &tps, OffsetSpec::Earliest, self.cfg.isolation).await {
                        Ok(starts) => {
                            for (tp, a) in ends.iter_mut() {
                                let start = starts.get(tp).map_or(0, |s| s.offset);
                                a.offset = (a.offset.saturating_sub(arg)).max(start);
                            }
                            Ok(ends)
                        }
                        Err(e) => Err(e),
                    }
                }
                (_, r) => r,
            };
            match result {
                Ok(map) => {
                    for (tp, a) in map {
                        if let Some(p) = self.parts.get_mut(&tp) {
                            if matches!(p.status, Status::NeedsOffset(_)) {
                                if p.position >= 0 && p.position != a.offset {
                                    self.ready.push_back(FetchEvent::Reset {
                                        tp: p.tp.clone(),
                                        from: p.position,
                                        to: a.offset,
                                    });
                                }
                                p.position = a.offset;
                                p.status = Status::Ready;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "offset lookup failed");
                    let fatal = matches!(e, FetchError::Partition { .. } | FetchError::Invalid(_));
                    for tp in tps {
                        if let Some(p) = self.parts.get_mut(&tp) {
                            if fatal {
                                fail(&mut self.ready, p, e.clone());
                            } else {
                                p.retries += 1;
                                p.leader = -1;
                                p.status = Status::NeedsLeader(now + self.cluster.backoff(p.retries.min(4)));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Starts a fetch for every leader that has ready partitions and none in flight.
    fn launch(&mut self, tasks: &mut JoinSet<Done>) {
        let mut by_broker: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        for (tp, p) in &self.parts {
            if p.status == Status::Ready && p.leader >= 0 && p.position >= 0 {
                by_broker.entry(p.leader).or_default().push(tp.clone());
            }
        }
        for broker in by_broker.keys().copied().collect::<Vec<_>>() {
            if self.inflight.contains(&broker) {
                continue;
            }
            let tps = by_broker.remove(&broker).unwrap_or_default();
            self.launch_one(broker, tps, tasks);
        }
    }

    fn launch_one(&mut self, broker: i32, tps: Vec<TopicPartition>, tasks: &mut JoinSet<Done>) {
        let pool = self.cluster.clone();
        let use_ids = tps.iter().all(|tp| self.parts.get(tp).is_some_and(|p| p.topic_id != [0; 16]));
        let session = self.sessions.entry(broker).or_default();
        if !self.cfg.sessions {
            session.id = 0;
            session.epoch = 0;
        }
        let full = session.epoch == 0;
        if full {
            session.sent.clear();
        }
        let mut requested = HashMap::new();
        let mut include: Vec<(TopicPartition, Sent)> = Vec::new();
        let wanted: HashSet<&TopicPartition> = tps.iter().collect();
        for tp in &tps {
            let p = &self.parts[tp];
            let s = Sent { offset: p.position, leader_epoch: p.leader_epoch };
            requested.insert(tp.clone(), (p.epoch, p.position));
            if full || session.sent.get(tp) != Some(&s) {
                include.push((tp.clone(), s));
            }
        }
        let forgotten: Vec<TopicPartition> = if full {
            Vec::new()
        } else {
            session.sent.keys().filter(|tp| !wanted.contains(tp)).cloned().collect()
        };
        for tp in &forgotten {
            session.sent.remove(tp);
        }
        for (tp, s) in &include {
            session.sent.insert(tp.clone(), *s);
        }
        let (session_id, session_epoch) = if self.cfg.sessions {
            (session.id, session.epoch)
        } else {
            (0, -1) // FINAL_EPOCH: no session
        };
        let ids: HashMap<String, [u8; 16]> =
            self.parts.iter().map(|(tp, p)| (tp.topic.clone(), p.topic_id)).collect();
        let cfg = self.cfg.clone();
        self.inflight.insert(broker);
        tasks.spawn(async move {
            let result = async {
                let conn = pool.broker(broker).await.map_err(|e| match e {
                    kwire_meta::MetaError::Conn(c) => c,
                    other => ConnError::Io { addr: format!("broker {broker}"), reason: other.to_string() },
                })?;
                let mut version = conn.version(ApiKey::Fetch)?;
                if !use_ids {
                    version = version.min(12);
                }
                let req = build_request(&cfg, version, session_id, session_epoch, &include, &forgotten, &ids);
                let timeout = conn_timeout(&pool, &cfg);
                conn.send_with(&req, version, timeout).await.map(|r| (version, r))
            }
            .await;
            match result {
                Ok((version, r)) => Done { broker, version, full, requested, result: Ok(r) },
                Err(e) => Done { broker, version: 0, full, requested, result: Err(e) },
            }
        });
    }

    fn complete(&mut self, done: Done) {
        self.inflight.remove(&done.broker);
        let now = Instant::now();
        let resp = match done.result {
            Ok(r) => r,
            Err(e) if e.is_fatal() => {
                // Wrong credentials or certificates, or a broker that broke the
                // protocol: fail the partitions, don't retry.
                for p in self.parts.values_mut() {
                    if p.leader == done.broker && p.status == Status::Ready {
                        fail(&mut self.ready, p, FetchError::Conn(e.clone()));
                    }
                }
                return;
            }
            Err(e) => {
                tracing::debug!(broker = done.broker, error = %e, "fetch failed");
                // The broker may be gone: re-resolve leaders of its partitions.
                self.sessions.remove(&done.broker);
                let pool = self.cluster.pool().clone();
                let b = done.broker;
                tokio::spawn(async move { pool.invalidate(b).await });
                for p in self.parts.values_mut() {
                    if p.leader == done.broker && p.status == Status::Ready {
                        if self.cfg.give_up_after.is_some_and(|d| now.duration_since(p.ok_since) >= d) {
                            fail(&mut self.ready, p, FetchError::Conn(e.clone()));
                            continue;
                        }
                        p.retries += 1;
                        p.status = Status::NeedsLeader(now + self.cluster.backoff(p.retries.min(4)));
                    }
                }
                return;
            }
        };
        // Session bookkeeping.
        if self.cfg.sessions {
            let session = self.sessions.entry(done.broker).or_default();
            if resp.error_code == ErrorCode::FETCH_SESSION_ID_NOT_FOUND
                || resp.error_code == ErrorCode::INVALID_FETCH_SESSION_EPOCH
            {
                tracing::debug!(broker = done.broker, code = %resp.error_code, "fetch session reset");
                *session = Session::default();
                return;
            }
            if done.full {
                session.id = resp.session_id;
                session.epoch = if resp.session_id == 0 { 0 } else { 1 };
            } else {
                session.epoch = if session.epoch >= i32::MAX - 1 { 1 } else { session.epoch + 1 };
            }
        }
        if resp.error_code.is_err() {
            tracing::debug!(broker = done.broker, code = %resp.error_code, "fetch error");
            for p in self.parts.values_mut() {
                if p.leader == done.broker && p.status == Status::Ready {
                    p.status = Status::Backoff(now + self.cluster.backoff(1));
                }
            }
            return;
        }
        let names_by_id: HashMap<[u8; 16], String> =
            self.parts.iter().map(|(tp, p)| (p.topic_id, tp.topic.clone())).collect();
        for t in resp.topics {
            let name = if done.version >= 13 {
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
                    continue; // re-assigned or moved meanwhile
                }
                if pd.current_leader.0 >= 0 && pd.current_leader.0 != part.leader {
                    tracing::debug!(%tp, leader = pd.current_leader.0, "leader moved (hint)");
                }
                match classify(pd.error_code) {
                    RetryAction::Done => {
                        part.retries = 0;
                        part.ok_since = now;
                        if pd.records.is_empty() {
                            continue;
                        }
                        let next = next_offset_of(&pd.records, &self.decode);
                        match next {
                            Some(next) if next > part.position => {
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
                                self.ready.push_back(FetchEvent::Records(chunk));
                            }
                            Some(_) => {}
                            None => {
                                let size = pd.records.len();
                                match first_error(&pd.records, &self.decode) {
                                    Some(source) => fail(
                                        &mut self.ready,
                                        part,
                                        FetchError::Records {
                                            topic: tp.topic.clone(),
                                            partition: tp.partition,
                                            offset: fetch_offset,
                                            cause: source,
                                        },
                                    ),
                                    None => fail(
                                        &mut self.ready,
                                        part,
                                        FetchError::Invalid(format!(
                                            "{tp}: a record batch at offset {fetch_offset} is larger than the \
                                             {size} bytes fetched; raise max.partition.fetch.bytes"
                                        )),
                                    ),
                                }
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
                        part.status = Status::NeedsLeader(now + self.cluster.backoff(part.retries.min(3)));
                    }
                    RetryAction::Retry => {
                        part.retries += 1;
                        part.status = Status::Backoff(now + self.cluster.backoff(part.retries.min(4)));
                    }
                }
            }
        }
    }
}

fn fail(ready: &mut VecDeque<FetchEvent>, part: &mut Part, error: FetchError) {
    part.status = Status::Failed;
    ready.push_back(FetchEvent::Error { tp: part.tp.clone(), error });
}

/// The offset after the last complete batch in `records`, if there is one.
fn next_offset_of(records: &Bytes, opts: &DecodeOptions) -> Option<i64> {
    let mut next = None;
    for b in batches(records.clone(), opts) {
        match b {
            Ok(b) => next = Some(b.next_offset()),
            Err(_) => break,
        }
    }
    next
}

fn first_error(records: &Bytes, opts: &DecodeOptions) -> Option<kwire_proto::records::RecordsError> {
    batches(records.clone(), opts).find_map(Result::err)
}

fn conn_timeout(cluster: &Cluster, cfg: &FetchConfig) -> Duration {
    cluster.config().conn.request_timeout + cfg.max_wait
}

fn build_request(
    cfg: &FetchConfig,
    version: i16,
    session_id: i32,
    session_epoch: i32,
    include: &[(TopicPartition, Sent)],
    forgotten: &[TopicPartition],
    ids: &HashMap<String, [u8; 16]>,
) -> FetchRequest {
    let mut req = FetchRequest::default();
    if version <= 14 {
        req.replica_id = BrokerId(-1);
    } else {
        req.replica_state.replica_id = BrokerId(-1);
    }
    req.max_wait_ms = i32::try_from(cfg.max_wait.as_millis()).unwrap_or(i32::MAX);
    req.min_bytes = cfg.min_bytes;
    req.max_bytes = cfg.max_bytes;
    req.isolation_level = cfg.isolation as i8;
    if version >= 7 {
        req.session_id = session_id;
        req.session_epoch = session_epoch;
    }
    if version >= 11 {
        req.rack_id = StrBytes::from_string(cfg.rack.clone());
    }
    let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
    for (tp, s) in include {
        let mut p = FetchPartition::default();
        p.partition = tp.partition;
        if version >= 9 {
            p.current_leader_epoch = s.leader_epoch;
        }
        p.fetch_offset = s.offset;
        p.partition_max_bytes = cfg.max_partition_bytes;
        topics.entry(tp.topic.as_str()).or_default().push(p);
    }
    let topic_id = |name: &str| uuid_of(ids.get(name).copied().unwrap_or([0; 16]));
    req.topics = topics
        .into_iter()
        .map(|(name, partitions)| {
            let mut t = FetchTopic::default();
            if version >= 13 {
                t.topic_id = topic_id(name);
            } else {
                t.topic = TopicName(StrBytes::from_string(name.to_owned()));
            }
            t.partitions = partitions;
            t
        })
        .collect();
    if version >= 7 {
        let mut f: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in forgotten {
            f.entry(tp.topic.as_str()).or_default().push(tp.partition);
        }
        req.forgotten_topics_data = f
            .into_iter()
            .map(|(name, partitions)| {
                let mut t = ForgottenTopic::default();
                if version >= 13 {
                    t.topic_id = topic_id(name);
                } else {
                    t.topic = TopicName(StrBytes::from_string(name.to_owned()));
                }
                t.partitions = partitions;
                t
            })
            .collect();
    }
    req
}

fn uuid_of(b: [u8; 16]) -> uuid::Uuid {
    uuid::Uuid::from_bytes(b)
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
