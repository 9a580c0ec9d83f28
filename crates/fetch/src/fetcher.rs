//! The fetch driver: one task that runs the sans-IO [`FetchCore`] against
//! the cluster. It looks up leaders and start offsets when the core asks,
//! sends the core's Fetch requests (one in flight per leader broker, all of
//! that broker's partitions in one request, with an incremental fetch
//! session), feeds every answer or transport failure back, and hands the
//! core's events to the application through a bounded queue, so the next
//! fetch is on the wire while the application works on the current one.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kwire_conn::rt::lock;
use kwire_conn::{ConnError, ConnPurpose};
use kwire_meta::Cluster;
use kwire_proto::api::ApiKey;
use kwire_proto::msg::fetch::{FetchParams, FetchPartitionSpec, FetchRequest, fetch_request};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::core::{FetchCore, FetchOutcome, FetchPlan, LeaderAnswer, OffsetLookup};
use crate::offsets::list_offsets;
use crate::{FetchConfig, FetchError, FetchEvent, IsolationLevel, StartOffset, TopicPartition};

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
        let backoff = cluster.retry_backoff();
        let manager = Manager {
            cluster: cluster.clone(),
            cfg: cfg.clone(),
            core: FetchCore::new(cfg.clone(), backoff),
            purpose: ConnPurpose::FetchFor(NEXT_FETCHER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
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

/// What an offset lookup task returns: the lookup and one map per spec, or
/// the first error.
type LookupDone = (OffsetLookup, Result<Vec<BTreeMap<TopicPartition, i64>>, FetchError>);

/// Runs one [`OffsetLookup`] (ListOffsets at its leader, retried).
async fn look_up(cluster: Cluster, isolation: IsolationLevel, lookup: OffsetLookup) -> LookupDone {
    let mut maps = Vec::with_capacity(lookup.specs.len());
    for spec in &lookup.specs {
        match list_offsets(&cluster, &lookup.partitions, *spec, isolation).await {
            Ok(m) => maps.push(m.into_iter().map(|(tp, a)| (tp, a.offset)).collect()),
            Err(e) => return (lookup, Err(e)),
        }
    }
    (lookup, Ok(maps))
}

/// The fetch task: the core plus the cluster it talks to.
struct Manager {
    cluster: Cluster,
    cfg: FetchConfig,
    core: FetchCore,
    /// This fetcher's own connections (see [`ConnPurpose::FetchFor`]).
    purpose: ConnPurpose,
}

/// Ids of fetchers, for their connections.
static NEXT_FETCHER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// What one in-flight fetch task returns: the plan's id, its broker, and
/// what became of it.
type Done = (u64, i32, FetchOutcome);

impl Manager {
    async fn run(self, cmds: mpsc::UnboundedReceiver<Cmd>, events: mpsc::Sender<FetchEvent>) {
        let (cluster, purpose) = (self.cluster.clone(), self.purpose);
        self.fetch_loop(cmds, events).await;
        cluster.pool().release(purpose);
    }

    async fn fetch_loop(mut self, mut cmds: mpsc::UnboundedReceiver<Cmd>, events: mpsc::Sender<FetchEvent>) {
        let mut tasks: JoinSet<Done> = JoinSet::new();
        // Task → plan, to answer the core for a fetch task that panicked.
        let mut plans: HashMap<tokio::task::Id, u64> = HashMap::new();
        // Offset lookups run on their own tasks, so that a leader that does
        // not answer holds up neither the fetches nor the other lookups.
        let mut lookups: JoinSet<LookupDone> = JoinSet::new();
        let mut lookup_of: HashMap<tokio::task::Id, OffsetLookup> = HashMap::new();
        loop {
            self.resolve_leaders().await;
            for lookup in self.core.poll_offsets(Instant::now()) {
                let task = lookups.spawn(look_up(self.cluster.clone(), self.cfg.isolation, lookup.clone()));
                lookup_of.insert(task.id(), lookup);
            }
            for plan in self.core.poll_fetches(Instant::now()) {
                let id = plan.id;
                let task = self.launch(plan, &mut tasks);
                plans.insert(task, id);
            }
            let wake = self.core.next_wake();
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    Some(Cmd::Assign(list)) => self.core.assign(list, Instant::now()),
                    Some(Cmd::Unassign(list)) => self.core.unassign(list),
                    None => return,
                },
                permit = events.reserve(), if self.core.has_events() => match permit {
                    Ok(p) => {
                        if let Some(ev) = self.core.pop_event() {
                            p.send(ev);
                        }
                    }
                    Err(_) => return,
                },
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => match done {
                    Ok((task, (id, broker, outcome))) => {
                        plans.remove(&task);
                        if matches!(outcome, FetchOutcome::Lost(_)) {
                            // The broker may be gone: drop its connection.
                            let pool = self.cluster.pool().clone();
                            tokio::spawn(async move { pool.invalidate(broker).await });
                        }
                        self.core.handle_fetch(id, outcome, Instant::now());
                    }
                    Err(e) => {
                        // Without an answer the core would keep the broker busy forever.
                        if let Some(id) = plans.remove(&e.id()) {
                            let error = FetchError::Invalid(format!("the fetch task failed: {e}"));
                            self.core.handle_fetch(id, FetchOutcome::Lost(error), Instant::now());
                        }
                    }
                },
                Some(done) = lookups.join_next_with_id(), if !lookups.is_empty() => match done {
                    Ok((task, (lookup, answer))) => {
                        lookup_of.remove(&task);
                        self.core.handle_offsets(lookup, answer, Instant::now());
                    }
                    Err(e) => {
                        if let Some(lookup) = lookup_of.remove(&e.id()) {
                            let error = FetchError::Meta(kwire_meta::MetaError::Invalid(format!(
                                "the offset lookup task failed: {e}"
                            )));
                            self.core.handle_offsets(lookup, Err(error), Instant::now());
                        }
                    }
                },
                _ = sleep_until(wake), if wake.is_some() => {}
            }
        }
    }

    /// Looks up the leaders the core asks for.
    async fn resolve_leaders(&mut self) {
        let now = Instant::now();
        // Leaders first (positions need a leader for ListOffsets too).
        if let Some(lookup) = self.core.poll_leaders(now) {
            for t in &lookup.topics {
                self.cluster.invalidate_topic(t);
            }
            let answer = match self.cluster.fetch_metadata(Some(&lookup.topics)).await {
                Ok(md) => Ok(lookup
                    .partitions
                    .iter()
                    .map(|tp| (tp.clone(), LeaderAnswer::from_metadata(&md, tp)))
                    .collect()),
                Err(e) => Err(e.to_string()),
            };
            self.core.handle_leaders(lookup, answer, now);
        }
    }

    /// Sends one planned Fetch on its own task.
    fn launch(&mut self, plan: FetchPlan, tasks: &mut JoinSet<Done>) -> tokio::task::Id {
        let cluster = self.cluster.clone();
        let cfg = self.cfg.clone();
        let purpose = self.purpose;
        tasks
            .spawn(async move {
                let broker = plan.broker;
                let result = async {
                    let conn = cluster.broker_for(broker, purpose).await.map_err(|e| match e {
                        kwire_meta::MetaError::Conn(c) => c,
                        other => {
                            ConnError::Io { addr: format!("broker {broker}"), reason: other.to_string() }
                        }
                    })?;
                    let mut version = conn.version(ApiKey::Fetch)?;
                    if !plan.use_topic_ids {
                        version = version.min(12);
                    }
                    let req = build_request(&cfg, version, &plan);
                    let timeout = conn_timeout(&cluster, &cfg);
                    conn.send_with(&req, version, timeout).await.map(|r| (version, r))
                }
                .await;
                let outcome = match result {
                    Ok((version, response)) => FetchOutcome::Response { version, response },
                    // Wrong credentials or certificates, or a broker that broke the
                    // protocol: fail the partitions, don't retry.
                    Err(e) if e.is_fatal() => FetchOutcome::Fatal(e.into()),
                    Err(e) => FetchOutcome::Lost(e.into()),
                };
                (plan.id, broker, outcome)
            })
            .id()
    }
}

fn conn_timeout(cluster: &Cluster, cfg: &FetchConfig) -> Duration {
    cluster.config().conn.request_timeout + cfg.max_wait
}

/// Encodes `plan` as a Fetch request of `version`.
fn build_request(cfg: &FetchConfig, version: i16, plan: &FetchPlan) -> FetchRequest {
    let params = FetchParams {
        max_wait_ms: i32::try_from(cfg.max_wait.as_millis()).unwrap_or(i32::MAX),
        min_bytes: cfg.min_bytes,
        max_bytes: cfg.max_bytes,
        isolation_level: cfg.isolation as i8,
        session_id: plan.session_id,
        session_epoch: plan.session_epoch,
        rack: &cfg.rack,
    };
    let id = |name: &str| plan.topic_ids.get(name).copied().unwrap_or([0; 16]);
    let include = plan.include.iter().map(|(tp, s)| FetchPartitionSpec {
        topic: tp.topic.as_str(),
        topic_id: id(&tp.topic),
        partition: tp.partition,
        offset: s.offset,
        leader_epoch: s.leader_epoch,
        last_fetched_epoch: s.last_fetched_epoch,
        max_bytes: cfg.max_partition_bytes,
    });
    let forgotten = plan.forgotten.iter().map(|tp| (tp.topic.as_str(), id(&tp.topic), tp.partition));
    fetch_request(version, &params, include, forgotten)
}

/// The core's std deadline as a tokio sleep.
async fn sleep_until(t: Option<Instant>) {
    kwire_conn::rt::sleep_until(t.map(tokio::time::Instant::from_std)).await
}
