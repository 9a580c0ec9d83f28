//! Distributed mode (`--application-id APP`): every process started with the
//! same application id is an instance of one application, scaled out over
//! Kafka itself as Kafka Streams does (consumer group, repartition and
//! changelog topics, transactions), with the query semantics of the single
//! process. The formats and the sans-IO pieces are in [`crate::task`]; the
//! whole picture is in `docs/stream.md`.
//!
//! Each instance is a member of the consumer group `APP` subscribed to the
//! input topics and `APP-repartition`, and loops over batches:
//!
//! 1. records of input partitions go through the query into a first-stage
//!    engine ([`Engine::partial_stage`]); records of repartition partition
//!    `p` are partial groups, merged into task `p`'s state;
//! 2. at the end of a batch (every `commit_interval`, or at a rebalance) the
//!    first stage's partial groups are sent to `APP-repartition`, keyed by the
//!    grouping key; each task with input finishes its batch: changed groups
//!    to `APP-aggregate-changelog` partition `p`, rows to the sink;
//! 3. the consumed offsets commit: with `exactly_once_v2` all of the above is
//!    one transaction of the instance's transactional producer, with the
//!    offsets sent into it (KIP-447: a member fenced by a rebalance can't
//!    commit); with `at_least_once` the producer is idempotent, every write is
//!    acknowledged, then the offsets are committed.
//!
//! A task assigned to an instance first restores its state from its
//! changelog partition (under exactly-once read_committed up to the high
//! watermark, waiting out transactions still open there). Anything that fails a transaction (a fenced generation, a
//! lost partition, a broker error) aborts it; the instance then drops its
//! tasks and rejoins, and the partitions restart from the committed offsets
//! and the committed changelog.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kwire_fetch::{Consumer, FetchedChunk, IsolationLevel, OffsetReset, StartOffset};
use kwire_group::{CustomAssignorRef, GroupConfig, GroupConsumer, GroupError, GroupEvent};
use kwire_meta::{Cluster, NewTopic};
use kwire_produce::{DeliveryFuture, ProduceError, Producer, ProducerConfig, ProducerRecord};
use kwire_proto::ErrorCode;
use tokio::time::Instant;

use super::assignor::{StreamAssignor, TaskBook, lock};
use super::{FeedMode, RunSummary, SinkSpec, Stop, StreamConfig, Subscription, feed};
use crate::assign::{Held, MemberTasks};
use crate::engine::Engine;
use crate::error::StreamError;
use crate::plan::Plan;
use crate::show::console_batch;
use crate::sink::kafka_record;
use crate::task::{
    Exchange, Restore, changelog_records, decode_exchange, encode_marker, encode_partial, key_json,
};
use crate::trigger::{TopicPartition, Trigger};
use crate::value::Row;

/// Kafka Streams' `processing.guarantee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessingGuarantee {
    /// Every write acknowledged before the offsets commit: after a crash a
    /// batch is processed again, so counts can exceed the truth.
    #[default]
    AtLeastOnce,
    /// One transaction per batch for output, changelog, repartition writes
    /// and the consumed offsets (KIP-447; Kafka 2.5 or later).
    ExactlyOnceV2,
}

impl ProcessingGuarantee {
    /// Parse Kafka Streams' names: `at_least_once`, `exactly_once_v2`.
    pub fn parse(s: &str) -> Result<ProcessingGuarantee, String> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "at_least_once" => Ok(ProcessingGuarantee::AtLeastOnce),
            "exactly_once_v2" | "exactly_once_beta" => Ok(ProcessingGuarantee::ExactlyOnceV2),
            "exactly_once" => Err(
                "exactly_once (one producer per task) was removed in Kafka Streams 4.0; use exactly_once_v2"
                    .into(),
            ),
            _ => Err(format!("unknown processing guarantee '{s}': use at_least_once or exactly_once_v2")),
        }
    }

    /// Kafka Streams' name.
    pub fn name(self) -> &'static str {
        match self {
            ProcessingGuarantee::AtLeastOnce => "at_least_once",
            ProcessingGuarantee::ExactlyOnceV2 => "exactly_once_v2",
        }
    }
}

/// A distributed query's settings (`StreamConfig::app`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AppConfig {
    /// Kafka Streams' `application.id`: the group id and the prefix of the
    /// internal topics.
    pub application_id: String,
    /// `processing.guarantee`.
    pub guarantee: ProcessingGuarantee,
    /// Partitions of `APP-repartition` and the changelog (default: the input
    /// topics' largest partition count).
    pub repartition_partitions: Option<i32>,
    /// Replication factor of the topics kwire creates (default: 3, or the
    /// number of brokers if fewer).
    pub replication_factor: Option<i16>,
    /// How long a batch gathers records before it commits (Kafka Streams'
    /// `commit.interval.ms`; default 100 ms; an interval trigger sets it).
    pub commit_interval: Duration,
    /// Group membership (session timeout, ...); the group id is the
    /// application id.
    pub group: GroupConfig,
    /// Kafka Streams' `num.standby.replicas`: how many other instances keep
    /// a warm copy of each task's state, so a task that moves (an instance
    /// stops or dies) resumes without replaying its whole changelog.
    pub num_standby_replicas: usize,
}

impl AppConfig {
    /// Defaults: at_least_once, repartition partitions as the input, 100 ms batches.
    pub fn new(application_id: impl Into<String>) -> AppConfig {
        let application_id = application_id.into();
        AppConfig {
            group: GroupConfig::new(application_id.clone()),
            application_id,
            guarantee: ProcessingGuarantee::AtLeastOnce,
            repartition_partitions: None,
            replication_factor: None,
            commit_interval: Duration::from_millis(100),
            num_standby_replicas: 0,
        }
    }

    /// The repartition topic: `APP-repartition`.
    pub fn repartition_topic(&self) -> String {
        format!("{}-repartition", self.application_id)
    }

    /// The changelog topic of the aggregation state: `APP-aggregate-changelog`.
    pub fn changelog_topic(&self) -> String {
        format!("{}-aggregate-changelog", self.application_id)
    }

    /// What is wrong with the query for distributed mode, before any broker contact.
    pub(crate) fn check(&self, cfg: &StreamConfig) -> Result<(), String> {
        let id = &self.application_id;
        if id.is_empty()
            || id.len() > 200
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(format!(
                "invalid application id '{id}': 1-200 characters of ASCII letters, digits, '.', '_' and '-' (it prefixes topic names)"
            ));
        }
        let single = |what: &str| {
            Err(format!("{what} is not supported with --application-id (a single-process option)"))
        };
        if !matches!(cfg.subscription, Subscription::Topics(_)) {
            return single("--topic-pattern or --assign");
        }
        if cfg.checkpoint.is_some() {
            return Err("--checkpoint and --application-id exclude each other: a distributed query keeps its progress in Kafka (group offsets, changelog)".into());
        }
        if cfg.ending_offsets.is_some() {
            return single("--ending-offsets");
        }
        if cfg.max_offsets_per_trigger.is_some() {
            return single("--max-offsets-per-trigger");
        }
        if matches!(cfg.trigger, Trigger::Once | Trigger::AvailableNow) {
            return single("--trigger once/available-now");
        }
        if !matches!(cfg.starting_offsets, super::StartingOffsets::Earliest | super::StartingOffsets::Latest)
        {
            return Err(
                "a distributed query starts from its group's committed offsets, else from the earliest or the latest (Kafka Streams' auto.offset.reset); --starting-offsets per partition and --starting-timestamp are not supported with --application-id"
                    .into(),
            );
        }
        if matches!(cfg.sink, SinkSpec::Jsonl(_)) {
            return Err("the jsonl sink is per process; use --sink kafka:TOPIC (or the console) with --application-id".into());
        }
        if self.repartition_partitions.is_some_and(|n| n < 1) {
            return Err("--repartition-partitions must be at least 1".into());
        }
        if self.replication_factor.is_some_and(|n| n < 1) {
            return Err("--replication-factor must be at least 1".into());
        }
        Ok(())
    }
}

/// Run `cfg` (with `cfg.app` set) as one instance of the application until stopped.
pub(crate) async fn run(cluster: Cluster, cfg: StreamConfig, stop: Stop) -> Result<RunSummary, StreamError> {
    let plan = cfg.validate()?;
    let app = cfg
        .app
        .clone()
        .ok_or_else(|| StreamError::State("distributed mode without an application id".into()))?;
    let Subscription::Topics(inputs) = &cfg.subscription else {
        return Err(StreamError::State("distributed mode reads topics".into()));
    };
    let topo = Topology::prepare(&cluster, &app, inputs, &plan, &cfg.sink).await?;
    let eos = app.guarantee == ProcessingGuarantee::ExactlyOnceV2;
    let mut pcfg: ProducerConfig = cfg.producer.clone();
    pcfg.idempotence = true;
    if eos {
        pcfg.transactional_id = Some(format!("{}-{}", app.application_id, instance_suffix()));
        if pcfg.transaction_timeout == ProducerConfig::default().transaction_timeout {
            // Kafka Streams' default under exactly-once: a killed instance's
            // open transaction blocks its partitions' readers this long.
            pcfg.transaction_timeout = Duration::from_secs(10);
        }
    }
    let producer = Producer::new(cluster.clone(), pcfg).await?;
    let mut gcfg = app.group.clone();
    gcfg.group_id = app.application_id.clone();
    gcfg.auto_commit = false;
    // The internal topics always start at the earliest offset (a task must
    // see every partial sent to it); the inputs where --starting-offsets says,
    // when the group has no committed offset for them.
    gcfg.auto_offset_reset = OffsetReset::Earliest;
    if cfg.starting_offsets == super::StartingOffsets::Latest {
        for t in inputs {
            gcfg.topic_offset_reset.insert(t.clone(), OffsetReset::Latest);
        }
    }
    gcfg.fetch = cfg.fetch.clone();
    gcfg.fetch.isolation = if eos { IsolationLevel::ReadCommitted } else { cfg.fetch.isolation };
    let book = Arc::new(Mutex::new(TaskBook::default()));
    let mut topics = inputs.clone();
    if let Some((repartition, _)) = &topo.repartition {
        topics.push(repartition.clone());
        gcfg.custom_assignor = Some(CustomAssignorRef(Arc::new(StreamAssignor {
            repartition: repartition.clone(),
            standbys: app.num_standby_replicas,
            book: book.clone(),
        })));
    }
    let consumer = GroupConsumer::subscribe(cluster.clone(), gcfg.clone(), topics.clone())?;
    let interval = match cfg.trigger {
        Trigger::ProcessingTime { interval_ms } => {
            Duration::from_millis(u64::try_from(interval_ms).unwrap_or(1))
        }
        _ => app.commit_interval,
    };
    let feed_mode = FeedMode { headers: cfg.query.include_headers, batched: None };
    let mut inst = Instance {
        first: Engine::partial_stage(plan.clone()),
        plan,
        cluster,
        topo,
        eos,
        producer,
        consumer,
        gcfg,
        topics,
        tasks: BTreeMap::new(),
        positions: BTreeMap::new(),
        changelog_acks: BTreeMap::new(),
        warm: BTreeMap::new(),
        standby_reader: None,
        book,
        pending: Vec::new(),
        first_max_event: None,
        sent_max_event: None,
        in_txn: false,
        batch_id: 0,
        interval,
        feed_mode,
        console: match &cfg.sink {
            SinkSpec::Console(o) => Some(*o),
            _ => None,
        },
        fetch_isolation: if eos { IsolationLevel::ReadCommitted } else { cfg.fetch.isolation },
        fetch: cfg.fetch.clone(),
        summary: RunSummary::default(),
        progress: cfg.progress != super::Progress::Off,
    };
    let result = inst.run(stop).await;
    let Instance { consumer, producer, summary, .. } = inst;
    let _ = consumer.close().await;
    let closed = producer.close().await;
    result?;
    closed?;
    Ok(summary)
}

/// Where to read a changelog partition from for a state that includes
/// everything before `position`.
fn start_at(position: i64) -> StartOffset {
    if position > 0 { StartOffset::Offset(position) } else { StartOffset::Earliest }
}

/// The standby tasks' next changelog records (never, without standbys).
async fn poll_standbys(
    reader: &mut Option<Consumer>,
) -> Result<Vec<kwire_fetch::ConsumerRecord>, kwire_fetch::FetchError> {
    match reader {
        Some(c) => c.poll().await,
        None => std::future::pending().await,
    }
}

/// A random-enough suffix for this instance's transactional id (KIP-447
/// fences zombies through the group generation, not the id).
fn instance_suffix() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}-{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

/// The topics of an application, created on first start.
struct Topology {
    /// `APP-repartition` and its partition count (aggregations only).
    repartition: Option<(String, i32)>,
    /// `APP-aggregate-changelog`.
    changelog: String,
    /// The Kafka sink's topic.
    sink: Option<String>,
}

impl Topology {
    async fn prepare(
        cluster: &Cluster,
        app: &AppConfig,
        inputs: &[String],
        plan: &Plan,
        sink: &SinkSpec,
    ) -> Result<Topology, StreamError> {
        let mut input_partitions = 0;
        for t in inputs {
            let info = cluster.topic(t).await.map_err(|e| match e.code() {
                Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => {
                    StreamError::Source(format!("input topic '{t}' does not exist"))
                }
                _ => e.into(),
            })?;
            input_partitions = input_partitions.max(info.partitions.len() as i32);
        }
        let brokers = cluster.fetch_metadata(Some(&[])).await?.brokers.len();
        let rf = app.replication_factor.unwrap_or_else(|| brokers.clamp(1, 3) as i16);
        let n = app.repartition_partitions.unwrap_or(input_partitions.max(1));
        let sink_topic = match sink {
            SinkSpec::Kafka(t) => Some(t.clone()),
            _ => None,
        };
        let mut want = Vec::new();
        if plan.is_aggregation() {
            want.push((app.repartition_topic(), n, vec![("cleanup.policy", "delete")]));
            want.push((app.changelog_topic(), n, vec![("cleanup.policy", "compact")]));
        }
        if let Some(t) = &sink_topic {
            let policy = if plan.is_aggregation() { "compact" } else { "delete" };
            want.push((t.clone(), n, vec![("cleanup.policy", policy)]));
        }
        let news: Vec<NewTopic> = want
            .iter()
            .map(|(name, n, configs)| {
                let mut t = NewTopic::new(name.clone());
                t.partitions = Some(*n);
                t.replication_factor = Some(rf);
                t.configs = configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                t
            })
            .collect();
        if !news.is_empty() {
            for (t, r) in news.iter().zip(cluster.create_topics(&news, false).await?) {
                match r {
                    Ok(_) => {
                        tracing::info!(topic = %t.name, partitions = n, replication_factor = rf, "created")
                    }
                    Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
                    Err(e) => {
                        return Err(StreamError::Source(format!("cannot create topic '{}': {e}", t.name)));
                    }
                }
            }
        }
        // A topic just created may not be in every broker's metadata yet.
        let names: Vec<String> = want.iter().map(|(name, _, _)| name.clone()).collect();
        if !names.is_empty() && !cluster.wait_for_topics(&names, Duration::from_secs(30)).await? {
            return Err(StreamError::Source(format!(
                "topics {} have no leader for every partition after 30 s",
                names.join(", ")
            )));
        }
        // The changelog's partitions must match the repartition topic's: task p
        // keeps the state of the keys in repartition partition p.
        let mut repartition = None;
        if plan.is_aggregation() {
            let r = cluster.topic(&app.repartition_topic()).await?.partitions.len() as i32;
            let c = cluster.topic(&app.changelog_topic()).await?.partitions.len() as i32;
            if r != c {
                return Err(StreamError::Source(format!(
                    "{} has {r} partitions but {} has {c}: they must be equal (delete both, or the application, to start over)",
                    app.repartition_topic(),
                    app.changelog_topic()
                )));
            }
            repartition = Some((app.repartition_topic(), r));
        }
        Ok(Topology { repartition, changelog: app.changelog_topic(), sink: sink_topic })
    }
}

/// Why a batch's loop ended.
enum BatchEnd {
    /// The interval passed (or a stop was asked): commit what was fed.
    Commit { stopping: bool },
    /// Partitions are being revoked: commit, then drop their tasks.
    Revoked(Vec<TopicPartition>),
    /// Partitions were lost: abort, start over.
    Lost,
}

/// A task's state held without running it.
struct Warm {
    restore: Restore,
    /// The changelog offset the state includes everything before.
    position: i64,
    /// This instance ran the task until the last rebalance took it away; an
    /// assignment that keeps the copy as a standby clears it (another
    /// instance runs the task now).
    was_active: bool,
}

/// Apply an assignment to the state held without running it: drop the
/// copies of tasks this instance neither runs nor stands by for, start an
/// empty copy of each new standby task (unless `running` it still), and mark
/// every standby copy as no longer this instance's active state, so the
/// assignor's stickiness and the restore log name the instance that runs the
/// task now, whichever instance started first.
fn keep_assigned(warm: &mut BTreeMap<i32, Warm>, running: impl Fn(i32) -> bool, mine: &MemberTasks) {
    let keep: BTreeSet<i32> = mine.active.iter().chain(&mine.standby).copied().collect();
    warm.retain(|p, _| keep.contains(p));
    for p in &mine.standby {
        if running(*p) {
            continue;
        }
        warm.entry(*p).and_modify(|w| w.was_active = false).or_insert_with(|| Warm {
            restore: Restore::new(),
            position: 0,
            was_active: false,
        });
    }
}

struct Instance {
    cluster: Cluster,
    plan: Plan,
    topo: Topology,
    eos: bool,
    producer: Producer,
    consumer: GroupConsumer,
    gcfg: GroupConfig,
    topics: Vec<String>,
    /// The first stage's engine for the open batch.
    first: Engine,
    /// Second-stage tasks by repartition partition.
    tasks: BTreeMap<i32, Engine>,
    /// Per task, a changelog offset its state includes everything before.
    positions: BTreeMap<i32, i64>,
    /// Per task, the open batch's last changelog write.
    changelog_acks: BTreeMap<i32, DeliveryFuture>,
    /// State held for tasks not running here: standby copies, and the tasks
    /// a rebalance took until the next assignment says where they go.
    warm: BTreeMap<i32, Warm>,
    /// Reads the changelog partitions of the standby tasks.
    standby_reader: Option<Consumer>,
    /// Shared with the group assignor.
    book: Arc<Mutex<TaskBook>>,
    /// Deliveries of the open batch (at_least_once waits for them).
    pending: Vec<DeliveryFuture>,
    first_max_event: Option<i64>,
    sent_max_event: Option<i64>,
    in_txn: bool,
    batch_id: u64,
    interval: Duration,
    feed_mode: FeedMode,
    console: Option<crate::show::ShowOptions>,
    fetch: kwire_fetch::FetchConfig,
    fetch_isolation: IsolationLevel,
    summary: RunSummary,
    progress: bool,
}

/// A failure that aborts the batch and restarts the instance's membership,
/// rather than stopping the query.
fn abortable(e: &StreamError) -> bool {
    match e {
        StreamError::Produce(p) => {
            !matches!(p, ProduceError::Fenced { .. } | ProduceError::TransactionFatal(_))
        }
        StreamError::Group(g) => !matches!(g, GroupError::Invalid(_)),
        _ => false,
    }
}

impl Instance {
    async fn run(&mut self, mut stop: Stop) -> Result<(), StreamError> {
        loop {
            let end = self.gather(&mut stop).await;
            let end = match end {
                Ok(end) => end,
                Err(e) if abortable(&e) => {
                    self.restart(&e.to_string()).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match end {
                BatchEnd::Lost => self.restart("partitions were lost").await?,
                BatchEnd::Commit { stopping } => {
                    if let Err(e) = self.commit_batch().await {
                        if !abortable(&e) {
                            return Err(e);
                        }
                        self.restart(&e.to_string()).await?;
                    }
                    if stopping {
                        return Ok(());
                    }
                }
                BatchEnd::Revoked(tps) => {
                    if let Err(e) = self.commit_batch().await {
                        if !abortable(&e) {
                            return Err(e);
                        }
                        self.restart(&e.to_string()).await?;
                        continue;
                    }
                    // The state of a task taken away is committed: keep it
                    // warm in case the next assignment gives it back (or
                    // makes this instance its standby).
                    for tp in tps {
                        if self.is_repartition(&tp.topic) {
                            if let Some(engine) = self.tasks.remove(&tp.partition) {
                                let position = self.positions.remove(&tp.partition).unwrap_or(0);
                                let restore = Restore::from_engine(&engine);
                                self.warm.insert(tp.partition, Warm { restore, position, was_active: true });
                            }
                        }
                    }
                    self.publish_held();
                }
            }
        }
    }

    fn is_repartition(&self, topic: &str) -> bool {
        self.topo.repartition.as_ref().is_some_and(|(t, _)| t == topic)
    }

    /// Read records into the open batch until it is due, a stop is asked or
    /// a rebalance takes partitions.
    async fn gather(&mut self, stop: &mut Stop) -> Result<BatchEnd, StreamError> {
        // A task whose watermark moved runs a batch without new data (to
        // emit finished windows, evict state) even if no record comes.
        let mut due: Option<Instant> =
            self.tasks.values().any(Engine::needs_no_data_batch).then(|| Instant::now() + self.interval);
        loop {
            if lock(&self.book).assigned.is_some() {
                self.take_assignment().await?;
            }
            let deadline = due;
            tokio::select! {
                biased;
                _ = stop.wait() => return Ok(BatchEnd::Commit { stopping: true }),
                _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                    return Ok(BatchEnd::Commit { stopping: false });
                }
                ev = self.consumer.next() => match ev? {
                    GroupEvent::Records(chunk) => {
                        self.on_chunk(&chunk)?;
                        self.consumer.mark_processed(&chunk.tp, chunk.next_offset);
                        due.get_or_insert_with(|| Instant::now() + self.interval);
                    }
                    // A restore can wait a while (a killed instance's
                    // transaction open on the changelog lasts until it times
                    // out): a stop abandons it. Nothing of it is committed,
                    // so the next owner restores the task again.
                    GroupEvent::Assigned(tps) => tokio::select! {
                        biased;
                        _ = stop.wait() => {
                            tracing::info!("stopping: restore abandoned");
                            return Ok(BatchEnd::Commit { stopping: true });
                        }
                        r = self.assigned(&tps) => r?,
                    },
                    GroupEvent::Revoked(tps) => return Ok(BatchEnd::Revoked(tps)),
                    GroupEvent::Lost(_) => return Ok(BatchEnd::Lost),
                    GroupEvent::Reset { tp, from, to } => {
                        tracing::warn!(%tp, from, to, "offset out of range: reset to the earliest");
                    }
                },
                recs = poll_standbys(&mut self.standby_reader) => self.on_standby_records(recs?)?,
            }
        }
    }

    fn on_chunk(&mut self, chunk: &FetchedChunk) -> Result<(), StreamError> {
        if self.is_repartition(&chunk.tp.topic) {
            let p = chunk.tp.partition;
            let Some(task) = self.tasks.get_mut(&p) else {
                return Err(StreamError::State(format!("records for task {p}, which was not restored")));
            };
            let mut failed = None;
            let lo = chunk.fetch_offset;
            chunk.for_each_record(|_, rec| {
                if rec.offset < lo {
                    return std::ops::ControlFlow::Continue(());
                }
                let r = match rec.value.map(decode_exchange) {
                    Some(Ok(Exchange::Partial { group: (k, a), max_event_ms })) => {
                        if let Some(m) = max_event_ms {
                            task.observe_event_ms(m);
                        }
                        task.merge_partial(k, a).map(|_| ())
                    }
                    Some(Ok(Exchange::Marker(m))) => {
                        task.observe_event_ms(m);
                        Ok(())
                    }
                    Some(Err(e)) => Err(e),
                    None => Err(StreamError::State("a repartition record without a value".into())),
                };
                match r {
                    Ok(()) => std::ops::ControlFlow::Continue(()),
                    Err(e) => {
                        failed = Some(StreamError::State(format!(
                            "{}-{} offset {}: {e}",
                            chunk.tp.topic, chunk.tp.partition, rec.offset
                        )));
                        std::ops::ControlFlow::Break(())
                    }
                }
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
        } else {
            let n = feed(&mut self.first, chunk, chunk.fetch_offset, i64::MAX, self.feed_mode)?;
            self.summary.input_rows += n;
        }
        Ok(())
    }

    /// Newly assigned repartition partitions: restore their tasks, from the
    /// state held here if there is some (replaying the changelog only from
    /// its position), else from the whole changelog.
    async fn assigned(&mut self, tps: &[TopicPartition]) -> Result<(), StreamError> {
        self.take_assignment().await?;
        let parts: Vec<i32> =
            tps.iter().filter(|tp| self.is_repartition(&tp.topic)).map(|tp| tp.partition).collect();
        if parts.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut held: BTreeMap<i32, (Warm, &'static str)> = BTreeMap::new();
        for p in &parts {
            let w = match self.warm.remove(p) {
                Some(w) => {
                    let from = if w.was_active { "its own state" } else { "a standby copy" };
                    (w, from)
                }
                None => (Warm { restore: Restore::new(), position: 0, was_active: false }, "the changelog"),
            };
            held.insert(*p, w);
        }
        let mut fcfg = self.fetch.clone();
        fcfg.isolation = self.fetch_isolation;
        let mut c = Consumer::start(self.cluster.clone(), fcfg)?;
        let changelog = self.topo.changelog.clone();
        c.assign(
            held.iter()
                .map(|(p, (w, _))| (TopicPartition::new(changelog.as_str(), *p), start_at(w.position)))
                .collect(),
        )
        .await?;
        // Up to the high watermark, not the last stable offset: the
        // transaction that committed a task's consumed offsets may still be
        // open on its changelog partition (the marker not yet written there,
        // e.g. while that partition's leader moves). Read_committed polling
        // waits for it to end, so the state holds everything the committed
        // offsets say was processed (KAFKA-10167).
        let ends = c.high_watermarks().await?;
        if self.fetch_isolation == IsolationLevel::ReadCommitted {
            let stable = c.end_offsets().await?;
            let open: Vec<i32> = ends
                .iter()
                .filter(|(tp, hw)| stable.get(*tp).is_some_and(|lso| lso < *hw))
                .map(|(tp, _)| tp.partition)
                .collect();
            if !open.is_empty() {
                tracing::info!(
                    tasks = ?open,
                    "changelog transactions still open below the end; the restore waits until they end"
                );
            }
        }
        let mut replayed: BTreeMap<i32, u64> = BTreeMap::new();
        while let Some(recs) = c.poll_to(&ends).await? {
            for r in recs {
                if let Some((w, _)) = held.get_mut(&r.partition) {
                    w.restore.apply(r.key.as_deref(), r.value.as_deref())?;
                    *replayed.entry(r.partition).or_default() += 1;
                }
            }
        }
        drop(c);
        for (p, (w, from)) in held {
            let groups = w.restore.groups();
            let mut engine = Engine::new(self.plan.clone());
            engine.set_track_changes(true);
            w.restore.finish(&mut engine)?;
            let end = ends.get(&TopicPartition::new(changelog.as_str(), p)).copied().unwrap_or(0);
            tracing::info!(
                task = p,
                from,
                replayed = replayed.get(&p).copied().unwrap_or(0),
                groups,
                ms = started.elapsed().as_millis() as u64,
                "task restored"
            );
            self.positions.insert(p, end.max(w.position));
            self.tasks.insert(p, engine);
        }
        self.publish_held();
        Ok(())
    }

    /// The latest assignment's tasks (from the assignor's user data): keep
    /// the state of this instance's active and standby tasks, drop the
    /// rest, and read the standby tasks' changelogs.
    async fn take_assignment(&mut self) -> Result<(), StreamError> {
        let Some(mine) = lock(&self.book).assigned.take() else { return Ok(()) };
        keep_assigned(&mut self.warm, |p| self.tasks.contains_key(&p), &mine);
        self.standby_reader = None;
        let standby: Vec<(TopicPartition, StartOffset)> = mine
            .standby
            .iter()
            .filter_map(|p| {
                self.warm
                    .get(p)
                    .map(|w| (TopicPartition::new(self.topo.changelog.as_str(), *p), start_at(w.position)))
            })
            .collect();
        if !standby.is_empty() {
            tracing::info!(tasks = ?mine.standby, "standby tasks");
            let mut fcfg = self.fetch.clone();
            fcfg.isolation = self.fetch_isolation;
            let mut c = Consumer::start(self.cluster.clone(), fcfg)?;
            c.assign(standby).await?;
            self.standby_reader = Some(c);
        }
        self.publish_held();
        Ok(())
    }

    /// Changelog records of standby tasks.
    fn on_standby_records(&mut self, recs: Vec<kwire_fetch::ConsumerRecord>) -> Result<(), StreamError> {
        for r in recs {
            if let Some(w) = self.warm.get_mut(&r.partition) {
                if r.offset < w.position {
                    continue;
                }
                w.restore.apply(r.key.as_deref(), r.value.as_deref())?;
                w.position = r.offset + 1;
            }
        }
        self.publish_held();
        Ok(())
    }

    /// Tell the assignor what state this instance holds.
    fn publish_held(&self) {
        let mut held: BTreeMap<i32, Held> = self
            .warm
            .iter()
            .map(|(p, w)| (*p, Held { position: w.position, active: w.was_active }))
            .collect();
        for p in self.tasks.keys() {
            held.insert(*p, Held { position: self.positions.get(p).copied().unwrap_or(0), active: true });
        }
        lock(&self.book).held = held;
    }

    async fn send(&mut self, rec: ProducerRecord<'_>) -> Result<(), StreamError> {
        let ack = self.send_tracked(rec).await?;
        if !self.eos {
            self.pending.push(ack);
        }
        Ok(())
    }

    /// Send inside the open transaction (beginning one under exactly-once).
    async fn send_tracked(&mut self, rec: ProducerRecord<'_>) -> Result<DeliveryFuture, StreamError> {
        if self.eos && !self.in_txn {
            self.producer.begin_transaction()?;
            self.in_txn = true;
        }
        Ok(self.producer.send(rec).await?)
    }

    /// End the open batch: first-stage partials out, tasks finished
    /// (changelog, sink), offsets committed with the writes.
    async fn commit_batch(&mut self) -> Result<(), StreamError> {
        let schema = self.plan.output_schema().clone();
        let key_columns = self.plan.key_columns().to_vec();
        let mut out_rows: Vec<Row> = Vec::new();
        let mut partials = 0usize;
        // 1. the first stage
        if self.plan.is_aggregation() {
            let (groups, max) = self.first.take_partials();
            if let Some(m) = max {
                self.first_max_event = Some(self.first_max_event.map_or(m, |x| x.max(m)));
            }
            let repartition = self.topo.repartition.clone();
            if let Some((topic, n)) = repartition {
                let max_event = self.first_max_event;
                for g in &groups {
                    let key = key_json(&schema, &key_columns, &g.0);
                    let value = encode_partial(g, max_event);
                    self.send(ProducerRecord {
                        topic: &topic,
                        key: Some(&key),
                        value: Some(&value),
                        ..ProducerRecord::default()
                    })
                    .await?;
                }
                partials = groups.len();
                if max_event.is_some() && max_event != self.sent_max_event {
                    // Every task must see the event time move, also those
                    // that got no partial from this batch.
                    let value = encode_marker(max_event.unwrap_or(i64::MIN));
                    for p in 0..n {
                        self.send(ProducerRecord {
                            topic: &topic,
                            partition: Some(p),
                            value: Some(&value),
                            ..ProducerRecord::default()
                        })
                        .await?;
                    }
                }
            }
        } else {
            out_rows.extend(self.first.take_rows());
            let _ = self.first.take_partials();
        }
        // 2. the tasks with input (or a watermark that moved)
        let changelog = self.topo.changelog.clone();
        let parts: Vec<i32> = self.tasks.keys().copied().collect();
        for p in parts {
            let Some(task) = self.tasks.get_mut(&p) else { continue };
            if !task.batch_open() && !task.needs_no_data_batch() {
                continue;
            }
            let before = task.watermarks();
            let out = task.finish_batch();
            let after = task.watermarks();
            let changes = task.take_changes();
            let records =
                changelog_records(&schema, &key_columns, changes, (after != before).then_some(after));
            out_rows.extend(out.rows);
            for (key, value) in records {
                let ack = self
                    .send_tracked(ProducerRecord {
                        topic: &changelog,
                        partition: Some(p),
                        key: Some(&key),
                        value: value.as_deref(),
                        ..ProducerRecord::default()
                    })
                    .await?;
                if let Some(older) = self.changelog_acks.insert(p, ack) {
                    if !self.eos {
                        self.pending.push(older);
                    }
                }
            }
        }
        // 3. the sink
        if let Some(topic) = self.topo.sink.clone() {
            for r in &out_rows {
                let rec = kafka_record(&schema, &key_columns, r);
                self.send(ProducerRecord {
                    topic: &topic,
                    key: rec.key.as_deref(),
                    value: Some(&rec.value),
                    ..ProducerRecord::default()
                })
                .await?;
            }
        }
        // 4. commit
        if self.eos {
            let offsets = self.consumer.take_uncommitted();
            if !offsets.is_empty() || self.in_txn {
                if !self.in_txn {
                    self.producer.begin_transaction()?;
                    self.in_txn = true;
                }
                let group = self.consumer.group_metadata().await?;
                self.producer.send_offsets_to_transaction(offsets, &group).await?;
                self.producer.commit_transaction().await?;
                self.in_txn = false;
            }
        } else {
            self.producer.flush().await?;
            let pending = std::mem::take(&mut self.pending);
            for ack in pending.iter().chain(self.changelog_acks.values()) {
                match ack.try_result() {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => {
                        return Err(StreamError::Sink("a record was neither acknowledged nor failed".into()));
                    }
                }
            }
            self.consumer.commit().await?;
        }
        // The tasks' states now include their changelogs up to the last write.
        for (p, ack) in std::mem::take(&mut self.changelog_acks) {
            if let (Some(Ok(m)), Some(pos)) = (ack.try_result(), self.positions.get_mut(&p)) {
                if m.offset >= 0 {
                    *pos = (*pos).max(m.offset + 1);
                }
            }
        }
        if let Some(m) = self.first_max_event {
            self.sent_max_event = Some(m);
        }
        // 5. the console, once the batch is committed
        if let Some(opts) = self.console {
            // Only batches whose tasks produced rows: a batch that only sent
            // partials onwards has nothing of this instance's to show.
            if !out_rows.is_empty() {
                let nk = key_columns.len();
                out_rows.sort_by(|a, b| {
                    a.iter()
                        .zip(b)
                        .take(nk)
                        .map(|(x, y)| crate::value::compare(x, y))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                let text = console_batch(self.batch_id, &schema, &out_rows, opts);
                use std::io::Write;
                let mut so = std::io::stdout().lock();
                so.write_all(text.as_bytes())
                    .and_then(|()| so.flush())
                    .map_err(|e| StreamError::Sink(format!("console sink: cannot write to stdout: {e}")))?;
            }
        }
        if self.progress {
            eprintln!(
                "kwire: batch {} committed: {} partial groups out, {} rows out, tasks {:?}",
                self.batch_id,
                partials,
                out_rows.len(),
                self.tasks.keys().collect::<Vec<_>>()
            );
        }
        self.batch_id += 1;
        self.summary.batches += 1;
        Ok(())
    }

    /// Abort the open transaction, drop every task and the first stage's
    /// batch, and rejoin the group: partitions restart from the committed
    /// offsets, tasks from the committed changelog.
    async fn restart(&mut self, why: &str) -> Result<(), StreamError> {
        tracing::warn!(reason = %why, "batch aborted; rejoining and restarting from the committed offsets");
        if self.in_txn {
            self.producer.abort_transaction().await?;
            self.in_txn = false;
        }
        self.pending.clear();
        self.changelog_acks.clear();
        // The running tasks' states may hold the aborted batch: dropped. The
        // warm copies hold only committed changelog records: kept.
        self.tasks.clear();
        self.positions.clear();
        self.publish_held();
        self.first = Engine::partial_stage(self.plan.clone());
        self.sent_max_event = None;
        let fresh = GroupConsumer::subscribe(self.cluster.clone(), self.gcfg.clone(), self.topics.clone())?;
        let old = std::mem::replace(&mut self.consumer, fresh);
        let _ = old.close().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(position: i64, was_active: bool) -> Warm {
        Warm { restore: Restore::new(), position, was_active }
    }

    /// Instance A ran tasks 0..3 alone; B joined and the assignment gave B
    /// task 1 and left A a standby copy of it. That copy is A's standby
    /// state now, whoever started first: the restore after B dies says "a
    /// standby copy", and the assignor no longer ranks A as task 1's active
    /// holder.
    #[test]
    fn a_copy_kept_as_standby_is_no_longer_active_state() {
        let mut warm: BTreeMap<i32, Warm> = [(1, copy(40, true)), (2, copy(7, true))].into_iter().collect();
        let mine = MemberTasks { active: vec![0, 2], standby: vec![1, 3] };
        keep_assigned(&mut warm, |p| p == 0, &mine);
        assert_eq!(warm.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(!warm[&1].was_active, "a standby copy still counts as this instance's active state");
        assert_eq!(warm[&1].position, 40, "the standby copy lost its position");
        assert!(warm[&2].was_active, "a task given back to this instance lost its own state's label");
        assert!(!warm[&3].was_active && warm[&3].position == 0);
    }

    /// Copies of tasks the assignment neither runs here nor stands by for
    /// are dropped; a standby task still running here gets no copy.
    #[test]
    fn unassigned_copies_are_dropped_and_running_tasks_get_none() {
        let mut warm: BTreeMap<i32, Warm> = [(4, copy(3, false)), (5, copy(9, true))].into_iter().collect();
        let mine = MemberTasks { active: vec![], standby: vec![0] };
        keep_assigned(&mut warm, |p| p == 0, &mine);
        assert!(warm.is_empty(), "{:?}", warm.keys().collect::<Vec<_>>());
    }
}
