//! The tokio driver of `kwire stream`: a Kafka source on [`kwire_fetch`]
//! (no consumer group), the sans-IO [`Engine`], sinks, triggers, checkpoints
//! and signals.
//!
//! Per trigger the driver lists the partitions' latest offsets, plans the
//! batch's end offsets ([`plan_batch_end`]: rate limit, available-now
//! target, ending offsets), and then, in the order the checkpoint relies on:
//! writes `offsets/N`, reads exactly those offset ranges into the engine
//! (one record at a time, borrowing the fetched bytes), hands the rows to the
//! sink and makes them durable (`sinks/N`), saves the state, writes
//! `commits/N`. A restart resumes after the last commit or re-runs the last
//! planned batch with the same offsets (see [`crate::checkpoint`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), kwire_stream::StreamError> {
//! use kwire_meta::{Cluster, ClusterConfig};
//! use kwire_stream::driver::{StartingOffsets, StreamConfig, Subscription, run};
//! use kwire_stream::{OutputMode, QuerySpec, Trigger};
//!
//! let query = QuerySpec {
//!     schema: Some("gender STRING, age LONG, party STRING".into()),
//!     group_by: vec!["gender, party".into()],
//!     output_mode: OutputMode::Complete,
//!     ..QuerySpec::default()
//! };
//! let mut cfg = StreamConfig::new(Subscription::Topics(vec!["voters".into()]), query);
//! cfg.starting_offsets = StartingOffsets::Earliest;
//! cfg.trigger = Trigger::AvailableNow;
//! let summary = run(Cluster::new(ClusterConfig::default()), cfg).await?;
//! eprintln!("{} batches, {} rows", summary.batches, summary.input_rows);
//! # Ok(()) }
//! ```

mod app;
mod assignor;
mod progress;
mod sink;
mod source;
mod stop;

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kwire_fetch::{FetchConfig, FetchError, FetchedChunk, IsolationLevel, OffsetSpec};
use kwire_meta::Cluster;
use kwire_produce::ProducerConfig;
use kwire_proto::records::{Batch, DecodeOptions, TimestampType, batches};
use kwire_proto::{EARLIEST_OFFSET, LATEST_OFFSET};

pub use self::app::{AppConfig, ProcessingGuarantee};
pub use self::progress::Progress;
pub use self::sink::SinkSpec;
pub use self::stop::Stop;

use self::progress::{BatchReport, Durations, Reporter};
use self::sink::Sink;
use self::source::{Discovered, Piece, Source};
use self::stop::{Crash, CrashPoint};
use crate::checkpoint::{Checkpoint, CheckpointMeta, CommitEntry, OffsetEntry, Recovery};
use crate::engine::Engine;
use crate::error::{StreamError, StreamOption};
use crate::plan::{Plan, QuerySpec};
use crate::record::{RecordHeader, SourceRecord};
use crate::trigger::{PartitionOffsets, TopicPartition, Trigger, plan_batch_end, processing_time_step};

/// Which partitions a query reads: Spark's `subscribe`, `subscribePattern`
/// and `assign` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// Every partition of these topics; partitions added later are read from
    /// their earliest offset.
    Topics(Vec<String>),
    /// Every partition of every non-internal topic whose whole name matches
    /// this regular expression (like Java's `Pattern.matches`).
    Pattern(String),
    /// Exactly these partitions.
    Assign(Vec<TopicPartition>),
}

impl Subscription {
    /// Spark's description: `Subscribe[voters]`, `SubscribePattern[v.*]`, `Assign[voters-0, voters-1]`.
    pub fn describe(&self) -> String {
        match self {
            Subscription::Topics(t) => format!("Subscribe[{}]", t.join(", ")),
            Subscription::Pattern(p) => format!("SubscribePattern[{p}]"),
            Subscription::Assign(tps) => format!("Assign[{}]", tp_list(tps.iter())),
        }
    }
}

fn tp_name(tp: &TopicPartition) -> String {
    format!("{}-{}", tp.topic, tp.partition)
}

fn tp_list<'a>(tps: impl Iterator<Item = &'a TopicPartition>) -> String {
    tps.map(tp_name).collect::<Vec<_>>().join(", ")
}

/// Where a query without a checkpoint starts (`startingOffsets` /
/// `startingTimestamp`); ignored when a checkpoint exists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StartingOffsets {
    /// The log start of every partition.
    Earliest,
    /// The log end: only records written after the start (Spark's default).
    #[default]
    Latest,
    /// Per partition (`-2` earliest, `-1` latest); must name every partition.
    Specific(PartitionOffsets),
    /// The first record at or after this time (ms since the epoch); the log
    /// end where there is none.
    Timestamp(i64),
}

/// Where a bounded run stops (`endingOffsets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndingOffsets {
    /// The log end of every partition when the query starts.
    Latest,
    /// Per partition (`-1` = latest at start); must name every partition.
    Specific(PartitionOffsets),
}

/// A streaming query: source, query, trigger, sink, checkpoint.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// The partitions to read.
    pub subscription: Subscription,
    /// Where to start without a checkpoint.
    pub starting_offsets: StartingOffsets,
    /// Stop once these offsets are reached (a bounded run).
    pub ending_offsets: Option<EndingOffsets>,
    /// `maxOffsetsPerTrigger`: at most this many offsets per batch, split
    /// across partitions in proportion to what each has (ignored by `once`).
    pub max_offsets_per_trigger: Option<u64>,
    /// `failOnDataLoss`: records deleted before they were read fail the query
    /// (true) or are skipped with a warning (false).
    pub fail_on_data_loss: bool,
    /// The query.
    pub query: QuerySpec,
    /// When batches run.
    pub trigger: Trigger,
    /// Where rows go.
    pub sink: SinkSpec,
    /// Checkpoint directory (exactly-once restarts).
    pub checkpoint: Option<PathBuf>,
    /// Per-batch progress on stderr.
    pub progress: Progress,
    /// Fetcher settings (`fetch.max.bytes`, `isolation.level`, ...).
    pub fetch: FetchConfig,
    /// Producer settings of the Kafka sink (acks=all by default).
    pub producer: ProducerConfig,
    /// How often an unbounded query looks for new partitions and topics.
    pub partition_discovery: Duration,
    /// Distributed mode (`--application-id`): this process is one instance
    /// of an application scaled out over a consumer group (see [`AppConfig`]).
    pub app: Option<AppConfig>,
}

impl StreamConfig {
    /// A query with Spark's defaults: latest offsets, no rate limit,
    /// failOnDataLoss on, default trigger, console sink, no checkpoint.
    pub fn new(subscription: Subscription, query: QuerySpec) -> StreamConfig {
        let mut fetch = FetchConfig::default();
        fetch.max_partition_bytes = 8 << 20;
        StreamConfig {
            subscription,
            starting_offsets: StartingOffsets::Latest,
            ending_offsets: None,
            max_offsets_per_trigger: None,
            fail_on_data_loss: true,
            query,
            trigger: Trigger::Default,
            sink: SinkSpec::default(),
            checkpoint: None,
            progress: Progress::Off,
            fetch,
            producer: ProducerConfig::default(),
            partition_discovery: Duration::from_secs(5),
            app: None,
        }
    }

    /// Check everything that can be checked without a broker, and plan the
    /// query: Spark's analysis errors (output modes, unresolved columns, ...)
    /// and invalid option combinations, before anything is read.
    pub fn validate(&self) -> Result<Plan, StreamError> {
        let plan = Plan::new(&self.query)?;
        let err = |option, m: String| Err(StreamError::option(option, m));
        if self.max_offsets_per_trigger == Some(0) {
            return err(
                StreamOption::MaxOffsetsPerTrigger,
                "Option 'maxOffsetsPerTrigger' must be a positive number, got 0".into(),
            );
        }
        match &self.subscription {
            Subscription::Topics(ts) if ts.is_empty() || ts.iter().any(|t| t.trim().is_empty()) => {
                return err(StreamOption::Subscribe, "No topics to subscribe to".into());
            }
            Subscription::Pattern(p) if p.is_empty() => {
                return err(StreamOption::SubscribePattern, "Pattern to subscribe is empty".into());
            }
            Subscription::Pattern(p) => {
                if let Err(e) = regex::Regex::new(p) {
                    return Err(invalid_pattern(p, &e));
                }
            }
            Subscription::Assign(tps) if tps.is_empty() => {
                return err(StreamOption::Assign, "No topic partitions to assign".into());
            }
            _ => {}
        }
        let bad_start = match &self.starting_offsets {
            StartingOffsets::Specific(m) => m.iter().find(|(_, o)| **o < -2),
            _ => None,
        };
        if let Some((tp, o)) = bad_start {
            return err(
                StreamOption::StartingOffsets,
                format!(
                    "invalid starting offset {o} for {}: use an offset >= 0, -1 for latest or -2 for earliest",
                    tp_name(tp)
                ),
            );
        }
        let bad_end = match &self.ending_offsets {
            Some(EndingOffsets::Specific(m)) => m.iter().find(|(_, o)| **o < -1),
            _ => None,
        };
        if let Some((tp, o)) = bad_end {
            return err(
                StreamOption::EndingOffsets,
                if *o == EARLIEST_OFFSET {
                    format!("Ending offset for {} can't be earliest (-2)", tp_name(tp))
                } else {
                    format!(
                        "invalid ending offset {o} for {}: use an offset >= 0 or -1 for latest",
                        tp_name(tp)
                    )
                },
            );
        }
        if matches!(&self.sink, SinkSpec::Kafka(t) if t.trim().is_empty()) {
            return err(StreamOption::SinkTopic, "the Kafka sink needs a topic".into());
        }
        if let Some(app) = &self.app {
            app.check(self).map_err(|m| StreamError::option(StreamOption::ApplicationId, m))?;
        }
        Ok(plan)
    }

    fn bounded(&self) -> bool {
        self.trigger.is_bounded() || self.ending_offsets.is_some()
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunSummary {
    /// Batches committed in this run (including a re-run one).
    pub batches: u64,
    /// Records read in this run.
    pub input_rows: u64,
    /// The run ended because a stop was requested (Ctrl-C, SIGTERM).
    pub stopped: bool,
}

/// Run a query until its trigger says it is done (`once`, `available-now`,
/// `ending_offsets`) or Ctrl-C / SIGTERM asks it to stop.
pub async fn run(cluster: Cluster, cfg: StreamConfig) -> Result<RunSummary, StreamError> {
    run_until(cluster, cfg, Stop::on_signals()).await
}

/// [`run`] with a caller-provided stop request instead of the process signals.
pub async fn run_until(cluster: Cluster, cfg: StreamConfig, stop: Stop) -> Result<RunSummary, StreamError> {
    if cfg.app.is_some() {
        return app::run(cluster, cfg, stop).await;
    }
    let (driver, found) = Driver::start(cluster, cfg, stop).await?;
    driver.run(found).await
}

/// A `subscribePattern` that is not a regular expression (one line).
pub(crate) fn invalid_pattern(p: &str, e: &regex::Error) -> StreamError {
    StreamError::option(
        StreamOption::SubscribePattern,
        format!("invalid topic pattern {p:?}: {}", e.to_string().replace('\n', " ")),
    )
}

/// Spark's data-loss report: an error with failOnDataLoss, else a warning.
pub(crate) fn data_loss(fail: bool, message: String) -> Result<(), StreamError> {
    const WHAT: &str = "Some data may have been lost because they are not available in Kafka any more; either the data was aged out by Kafka or the topic may have been deleted before all the data in the topic was processed.";
    if fail {
        Err(StreamError::DataLoss(format!(
            "{message}. {WHAT} If you don't want your streaming query to fail on such cases, set the source option \"failOnDataLoss\" to \"false\"."
        )))
    } else {
        tracing::warn!(
            "{message}. {WHAT} If you want your streaming query to fail on such cases, set the source option \"failOnDataLoss\" to \"true\"."
        );
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Ran,
    Idle,
    Stopped,
}

struct Driver {
    cfg: StreamConfig,
    engine: Engine,
    stateful: bool,
    projection: bool,
    has_watermark: bool,
    source: Source,
    sink: Sink,
    cp: Option<Checkpoint>,
    from: PartitionOffsets,
    next_batch_id: u64,
    wm_floor: i64,
    rerun: Option<OffsetEntry>,
    target: Option<PartitionOffsets>,
    stop: Stop,
    crash: Crash,
    reporter: Reporter,
    last_discovery: Instant,
    summary: RunSummary,
}

impl Driver {
    async fn start(
        cluster: Cluster,
        cfg: StreamConfig,
        stop: Stop,
    ) -> Result<(Driver, Discovered), StreamError> {
        let plan = cfg.validate()?;
        let crash = Crash::from_env()?;
        let source =
            Source::new(cluster.clone(), cfg.subscription.clone(), cfg.fetch.clone(), cfg.fail_on_data_loss)?;
        let found = source.discover().await?;
        if !found.missing.is_empty() {
            let list = found.missing.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
            let one = found.missing.len() == 1;
            if cfg.bounded() || matches!(cfg.subscription, Subscription::Assign(_)) {
                return Err(StreamError::Source(format!(
                    "topic{} {list} {} not exist",
                    if one { "" } else { "s" },
                    if one { "does" } else { "do" }
                )));
            }
            tracing::warn!(
                "topic{} {list} {} not exist (yet); the query reads {} once created",
                if one { "" } else { "s" },
                if one { "does" } else { "do" },
                if one { "it" } else { "them" }
            );
        }
        let missing = match &cfg.subscription {
            Subscription::Assign(tps) => tps.iter().find(|tp| !found.parts.contains(*tp)),
            _ => None,
        };
        if let Some(tp) = missing {
            return Err(StreamError::option(
                StreamOption::Assign,
                format!("partition {} of topic '{}' does not exist", tp.partition, tp.topic),
            ));
        }
        let sink = Sink::open(&cfg.sink, &cluster, &cfg.producer, plan.key_columns()).await?;
        let meta = CheckpointMeta {
            id: progress::new_id(),
            signature: plan.state_signature(),
            sources: vec![cfg.subscription.describe()],
            description: plan.description().to_string(),
        };
        let (cp, recovery) = match &cfg.checkpoint {
            Some(dir) => {
                let (cp, r) = Checkpoint::open(dir, &meta)?;
                (Some(cp), r)
            }
            None => (None, Recovery::Fresh),
        };
        let stateful = plan.is_aggregation();
        let has_watermark = plan.spec().watermark.is_some();
        let mut engine = Engine::new(plan);
        let mut rerun = None;
        let mut next_batch_id = 0;
        let mut wm_floor = 0;
        let from = match recovery {
            Recovery::Fresh => starting_offsets(&source, &cfg.starting_offsets, &found.parts).await?,
            Recovery::Resume { next_batch_id: n, start, next_watermark_ms, state } => {
                if let Some(s) = state {
                    engine.restore(s)?;
                }
                next_batch_id = n;
                wm_floor = next_watermark_ms;
                start
            }
            Recovery::Rerun { batch, state } => {
                if let Some(s) = state {
                    engine.restore(s)?;
                }
                next_batch_id = batch.batch_id;
                let start = batch.start.clone();
                rerun = Some(batch);
                start
            }
        };
        let id = cp.as_ref().map_or_else(|| meta.id.clone(), |c| c.id().to_string());
        let reporter = Reporter::new(cfg.progress, id, cfg.subscription.describe(), cfg.sink.describe());
        let driver = Driver {
            engine,
            stateful,
            projection: !stateful,
            has_watermark,
            source,
            sink,
            cp,
            from,
            next_batch_id,
            wm_floor,
            rerun,
            target: None,
            stop,
            crash,
            reporter,
            last_discovery: Instant::now(),
            summary: RunSummary::default(),
            cfg,
        };
        Ok((driver, found))
    }

    async fn run(mut self, found: Discovered) -> Result<RunSummary, StreamError> {
        self.source.be_patient(self.stop.clone());
        if let Some(entry) = self.rerun.take() {
            tracing::info!("re-running batch {} with its checkpointed offsets", entry.batch_id);
            let t0 = Instant::now();
            if self.execute(entry, true, t0, now_ms(), Durations::default(), None).await? == Step::Stopped {
                self.summary.stopped = true;
                self.sink.close().await?;
                return Ok(self.summary);
            }
            if self.cfg.trigger == Trigger::Once {
                self.sink.close().await?;
                return Ok(self.summary);
            }
        }
        if let Err(e) = self.reconcile(&found).await {
            return self.stopped_or(e).await;
        }
        self.target = match self.bounded_target().await {
            Ok(t) => t,
            Err(e) => return self.stopped_or(e).await,
        };
        self.source.set_positions(&self.from)?;
        self.last_discovery = Instant::now();
        let step = match self.cfg.trigger {
            Trigger::Once => self.step().await?,
            Trigger::AvailableNow => loop {
                let s = self.step().await?;
                if s != Step::Ran {
                    break s;
                }
            },
            Trigger::Default => loop {
                if self.stop.requested() {
                    break Step::Stopped;
                }
                match self.step().await? {
                    Step::Ran => {}
                    Step::Stopped => break Step::Stopped,
                    Step::Idle => {
                        if self.reached_target() {
                            break Step::Idle;
                        }
                        // Wait for new data (or a second, to look for new partitions).
                        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
                        if self.source.idle(deadline, &mut self.stop, true).await? {
                            break Step::Stopped;
                        }
                    }
                }
            },
            Trigger::ProcessingTime { interval_ms } => loop {
                if self.stop.requested() {
                    break Step::Stopped;
                }
                let trigger_ms = now_ms();
                let s = self.step().await?;
                if s == Step::Stopped || (s == Step::Idle && self.reached_target()) {
                    break s;
                }
                let now = now_ms();
                let next = processing_time_step(interval_ms, trigger_ms, now);
                if let Some(w) = next.warning {
                    tracing::warn!("{w}");
                }
                let wait = u64::try_from(next.next_ms.saturating_sub(now)).unwrap_or(0);
                let deadline = tokio::time::Instant::now() + Duration::from_millis(wait);
                if self.source.idle(deadline, &mut self.stop, false).await? {
                    break Step::Stopped;
                }
            },
        };
        self.summary.stopped = step == Step::Stopped || self.stop.requested();
        self.sink.close().await?;
        Ok(self.summary)
    }

    /// `e`, unless a lookup gave up on a stop request before any batch
    /// started: then the run stops cleanly.
    async fn stopped_or(mut self, e: StreamError) -> Result<RunSummary, StreamError> {
        if !self.source.halted() {
            return Err(e);
        }
        self.summary.stopped = true;
        self.sink.close().await?;
        Ok(self.summary)
    }

    /// For a bounded run: the offsets to stop at.
    async fn bounded_target(&self) -> Result<Option<PartitionOffsets>, StreamError> {
        if !matches!(self.cfg.trigger, Trigger::AvailableNow) && self.cfg.ending_offsets.is_none() {
            return Ok(None);
        }
        let latest = self.source.list(self.from.keys(), OffsetSpec::Latest).await?;
        let mut target = match &self.cfg.ending_offsets {
            None | Some(EndingOffsets::Latest) => latest.clone(),
            Some(EndingOffsets::Specific(m)) => {
                let have: BTreeSet<&TopicPartition> = self.from.keys().collect();
                let given: BTreeSet<&TopicPartition> = m.keys().collect();
                if have != given {
                    return Err(StreamError::option(
                        StreamOption::EndingOffsets,
                        format!(
                            "If endingOffsets contains specific offsets, you must specify all TopicPartitions. Use -1 for latest. Specified: [{}] Assigned: [{}]",
                            tp_list(given.into_iter()),
                            tp_list(have.into_iter())
                        ),
                    ));
                }
                m.iter()
                    .map(|(tp, &o)| {
                        (tp.clone(), if o == -1 { latest.get(tp).copied().unwrap_or(0) } else { o })
                    })
                    .collect()
            }
        };
        if self.cfg.trigger == Trigger::AvailableNow {
            for (tp, t) in target.iter_mut() {
                if let Some(l) = latest.get(tp) {
                    *t = (*t).min(*l);
                }
            }
        }
        Ok(Some(target))
    }

    fn reached_target(&self) -> bool {
        self.target.as_ref().is_some_and(|t| t.iter().all(|(tp, e)| self.from.get(tp).is_none_or(|f| f >= e)))
    }

    /// Bring the partition set up to date: partitions that are gone are data
    /// loss, new ones start at their earliest offset (Spark: "Added partition
    /// ... starts from ... instead of 0" is data loss too).
    async fn reconcile(&mut self, found: &Discovered) -> Result<(), StreamError> {
        let unsure: BTreeSet<&str> = found.unsure.iter().map(String::as_str).collect();
        let gone: Vec<TopicPartition> = self
            .from
            .keys()
            .filter(|tp| !found.parts.contains(*tp) && !unsure.contains(tp.topic.as_str()))
            .cloned()
            .collect();
        if !gone.is_empty() {
            data_loss(
                self.cfg.fail_on_data_loss,
                format!("[{}] are gone. Some data may have been missed", tp_list(gone.iter())),
            )?;
            for tp in &gone {
                self.from.remove(tp);
            }
        }
        let new: Vec<TopicPartition> =
            found.parts.iter().filter(|tp| !self.from.contains_key(*tp)).cloned().collect();
        if !new.is_empty() {
            let earliest = self.source.list(&new, OffsetSpec::Earliest).await?;
            for (tp, o) in earliest {
                if o != 0 {
                    data_loss(
                        self.cfg.fail_on_data_loss,
                        format!(
                            "Added partition {} starts from {o} instead of 0. Some data may have been missed",
                            tp_name(&tp)
                        ),
                    )?;
                }
                tracing::info!("reading new partition {} from offset {o}", tp_name(&tp));
                self.from.insert(tp, o);
            }
        }
        Ok(())
    }

    async fn discover_if_due(&mut self) -> Result<(), StreamError> {
        if self.target.is_some()
            || matches!(self.cfg.subscription, Subscription::Assign(_))
            || self.last_discovery.elapsed() < self.cfg.partition_discovery
        {
            return Ok(());
        }
        self.last_discovery = Instant::now();
        let found = self.source.discover().await?;
        self.reconcile(&found).await?;
        self.source.set_positions(&self.from)
    }

    /// The latest offsets the next batch may read up to.
    async fn latest(&mut self) -> Result<PartitionOffsets, StreamError> {
        if let Some(t) = self.target.as_ref().filter(|_| self.cfg.trigger == Trigger::AvailableNow) {
            return Ok(t.clone());
        }
        let mut now = self.source.list(self.from.keys(), OffsetSpec::Latest).await?;
        for (tp, l) in now.iter_mut() {
            if let Some(f) = self.from.get(tp).copied().filter(|f| *l < *f) {
                *l = self.source.confirm_latest(tp, f, *l).await?;
            }
        }
        let mut moved = false;
        for (tp, l) in &now {
            if let Some(f) = self.from.get_mut(tp).filter(|f| *l < **f) {
                data_loss(
                    self.cfg.fail_on_data_loss,
                    format!(
                        "Partition {}'s offset was changed from {f} to {l}, some data may have been missed",
                        tp_name(tp)
                    ),
                )?;
                *f = *l;
                moved = true;
            }
        }
        if moved {
            self.source.set_positions(&self.from)?;
        }
        if let Some(t) = &self.target {
            for (tp, l) in now.iter_mut() {
                if let Some(x) = t.get(tp) {
                    *l = (*l).min(*x);
                }
            }
        }
        Ok(now)
    }

    /// One trigger: plan a batch and run it, if there is new data (or a
    /// batch without data is due for the watermark).
    async fn step(&mut self) -> Result<Step, StreamError> {
        let t0 = Instant::now();
        let wall = now_ms();
        for tp in self.source.take_gone() {
            self.from.remove(&tp);
        }
        for (tp, off) in self.from.iter_mut() {
            if let Some(p) = self.source.position(tp).filter(|p| *p > *off) {
                *off = p; // records skipped after data loss
            }
        }
        // A stop request ends the lookups (which may be waiting out an
        // unreachable cluster): nothing of the batch is written yet.
        let looked_up = match self.discover_if_due().await {
            Ok(()) => self.latest().await,
            Err(e) => Err(e),
        };
        let latest = match looked_up {
            Err(_) if self.source.halted() => return Ok(Step::Stopped),
            r => r?,
        };
        let limit = self.cfg.max_offsets_per_trigger;
        let end = match plan_batch_end(self.cfg.trigger, limit, &self.from, &latest) {
            Some(mut end) => {
                for (tp, e) in end.iter_mut() {
                    if let Some(f) = self.from.get(tp) {
                        *e = (*e).max(*f);
                    }
                }
                end
            }
            None if self.engine.needs_no_data_batch() => self.from.clone(),
            None => return Ok(Step::Idle),
        };
        let entry = OffsetEntry {
            batch_id: self.next_batch_id,
            batch_watermark_ms: self.engine.next_watermark_ms().max(self.wm_floor),
            batch_timestamp_ms: wall,
            start: self.from.clone(),
            end,
            sink: self.sink.position()?,
        };
        let mut dur = Durations { latest_offset: t0.elapsed(), ..Durations::default() };
        if let Some(cp) = &self.cp {
            let t = Instant::now();
            cp.write_offsets(&entry)?;
            dur.wal_commit = t.elapsed();
        }
        self.execute(entry, false, t0, wall, dur, Some(latest)).await
    }

    /// Run a planned batch (its `offsets/N` is already written).
    async fn execute(
        &mut self,
        entry: OffsetEntry,
        rerun: bool,
        t0: Instant,
        wall: i64,
        mut dur: Durations,
        latest: Option<PartitionOffsets>,
    ) -> Result<Step, StreamError> {
        let id = entry.batch_id;
        self.crash.at(CrashPoint::AfterOffsets, id);
        let t_add = Instant::now();
        let skip = rerun && self.cp.as_ref().is_some_and(|c| c.sink_done(id));
        if skip {
            tracing::info!("batch {id} already reached the sink before the restart; not writing it again");
        }
        self.sink.begin(self.engine.output_schema(), if rerun { entry.sink.as_ref() } else { None }, skip)?;
        self.engine.begin_batch(id, entry.batch_watermark_ms);
        match self.read_batch(&entry).await {
            Ok(true) => {}
            Ok(false) => {
                self.sink.abort();
                tracing::info!(
                    "batch {id} abandoned; it is re-run from its checkpointed offsets on the next start"
                );
                return Ok(Step::Stopped);
            }
            Err(e) => {
                self.sink.abort();
                return Err(e);
            }
        }
        let out = self.engine.finish_batch();
        self.crash.at(CrashPoint::BeforeSink, id);
        self.sink.rows(self.engine.output_schema(), &out.rows).await?;
        let output_rows = self.sink.finish(id).await?;
        self.crash.at(CrashPoint::SinkWritten, id);
        if let Some(cp) = self.cp.as_ref().filter(|_| !skip) {
            cp.write_sink_done(id)?;
        }
        dur.add_batch = t_add.elapsed();
        self.crash.at(CrashPoint::AfterSink, id);
        let t_commit = Instant::now();
        if let Some(cp) = &self.cp {
            if self.stateful {
                cp.write_state(id, &self.engine.snapshot())?;
            }
            self.crash.at(CrashPoint::AfterState, id);
            cp.write_commit(id, &CommitEntry { next_batch_watermark_ms: self.engine.next_watermark_ms() })?;
        }
        self.crash.at(CrashPoint::AfterCommit, id);
        dur.commit_offsets = t_commit.elapsed();
        dur.trigger_execution = t0.elapsed();
        for (tp, e) in &entry.end {
            self.from.insert(tp.clone(), *e);
        }
        self.next_batch_id = id + 1;
        self.summary.batches += 1;
        self.summary.input_rows += out.input_rows;
        self.reporter.report(&BatchReport {
            batch_id: id,
            input_rows: out.input_rows,
            output_rows,
            trigger_start: t0,
            wall_ms: wall,
            durations: dur,
            watermark_ms: self.has_watermark.then_some(out.watermark_ms),
            state_rows: self.stateful.then_some(out.state_rows),
            start: &entry.start,
            end: &entry.end,
            latest: latest.as_ref(),
        });
        Ok(Step::Ran)
    }

    /// Feed the batch's records to the engine (and, for projections, its rows
    /// to the sink as they come). False when a stop request abandoned it.
    async fn read_batch(&mut self, entry: &OffsetEntry) -> Result<bool, StreamError> {
        self.source.begin_batch(&entry.start, &entry.end)?;
        let headers = self.cfg.query.include_headers;
        let batched = (!headers && self.cfg.fetch.isolation == IsolationLevel::ReadUncommitted).then(|| {
            DecodeOptions::default()
                .verify_crc(self.cfg.fetch.check_crcs)
                .max_decompressed(self.cfg.fetch.max_decompressed)
        });
        let mode = FeedMode { headers, batched };
        let mut pieces = 0u64;
        loop {
            match self.source.next_piece(&mut self.stop).await? {
                Piece::Chunk(c, lo, hi) => {
                    feed(&mut self.engine, &c, lo, hi, mode)?;
                    if self.projection {
                        let rows = self.engine.take_rows();
                        if !rows.is_empty() {
                            self.sink.rows(self.engine.output_schema(), &rows).await?;
                        }
                    }
                    pieces += 1;
                    if pieces == 1 {
                        self.crash.at(CrashPoint::MidBatch, entry.batch_id);
                    }
                }
                Piece::Done => return Ok(true),
                Piece::Stopped => return Ok(false),
            }
        }
    }
}

/// How [`feed`] decodes chunks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeedMode {
    /// Build the `headers` column.
    headers: bool,
    /// read_uncommitted without headers: decode the chunk's record batches
    /// here and hand each Kafka batch's records to the engine in one call.
    /// Otherwise (read_committed filtering, headers) go record by record
    /// through [`FetchedChunk::for_each_record`].
    batched: Option<DecodeOptions>,
}

/// Feed the records `lo <= offset < hi` of a chunk to the engine, borrowing
/// keys, values and headers from the fetched bytes (no per-record allocation).
fn feed(engine: &mut Engine, c: &FetchedChunk, lo: i64, hi: i64, mode: FeedMode) -> Result<u64, StreamError> {
    let topic = c.tp.topic.as_str();
    let partition = c.tp.partition;
    let corrupt = |source| {
        StreamError::Fetch(FetchError::Records {
            topic: topic.to_string(),
            partition,
            offset: c.fetch_offset,
            cause: source,
        })
    };
    let ts_type = |b: &Batch| match b.header.timestamp_type() {
        TimestampType::LogAppendTime => 1,
        TimestampType::CreateTime => 0,
    };
    let mut n = 0u64;
    if let Some(opts) = &mode.batched {
        for b in batches(c.raw().clone(), opts) {
            let b = b.map_err(corrupt)?;
            if b.next_offset() <= lo || b.is_control() {
                continue;
            }
            if b.base_offset() >= hi {
                break;
            }
            let timestamp_type = ts_type(&b);
            let mut bad = None;
            let records = b.records().map_err(corrupt)?;
            engine.process(
                records
                    .map_while(|r| r.map_err(|e| bad = Some(e)).ok())
                    .filter(|r| r.offset >= lo && r.offset < hi)
                    .map(|r| {
                        n += 1;
                        SourceRecord {
                            key: r.key,
                            value: r.value,
                            topic,
                            partition,
                            offset: r.offset,
                            timestamp_ms: r.timestamp,
                            timestamp_type,
                            headers: &[],
                        }
                    }),
            )?;
            if let Some(e) = bad {
                return Err(corrupt(e));
            }
        }
        return Ok(n);
    }
    let mut failed: Option<StreamError> = None;
    c.for_each_record(|batch, rec| {
        if rec.offset < lo {
            return ControlFlow::Continue(());
        }
        if rec.offset >= hi {
            return ControlFlow::Break(());
        }
        let hs: Vec<RecordHeader<'_>> = if mode.headers {
            rec.headers()
                .map(|h| RecordHeader {
                    key: std::str::from_utf8(h.key).unwrap_or("\u{fffd}"),
                    value: h.value,
                })
                .collect()
        } else {
            Vec::new()
        };
        let r = SourceRecord {
            key: rec.key,
            value: rec.value,
            topic,
            partition,
            offset: rec.offset,
            timestamp_ms: rec.timestamp,
            timestamp_type: ts_type(batch),
            headers: &hs,
        };
        match engine.process(std::iter::once(r)) {
            Ok(()) => {
                n += 1;
                ControlFlow::Continue(())
            }
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(n),
    }
}

/// The starting offsets of a query without a checkpoint.
async fn starting_offsets(
    source: &Source,
    start: &StartingOffsets,
    parts: &BTreeSet<TopicPartition>,
) -> Result<PartitionOffsets, StreamError> {
    match start {
        StartingOffsets::Earliest => source.list(parts, OffsetSpec::Earliest).await,
        StartingOffsets::Latest => source.list(parts, OffsetSpec::Latest).await,
        StartingOffsets::Timestamp(t) => source.list(parts, OffsetSpec::Timestamp(*t)).await,
        StartingOffsets::Specific(m) => {
            let given: BTreeSet<&TopicPartition> = m.keys().collect();
            let have: BTreeSet<&TopicPartition> = parts.iter().collect();
            if given != have {
                return Err(StreamError::option(
                    StreamOption::StartingOffsets,
                    format!(
                        "assertion failed: If startingOffsets contains specific offsets, you must specify all TopicPartitions. Use -1 for latest, -2 for earliest. Specified: [{}] Assigned: [{}]",
                        tp_list(given.into_iter()),
                        tp_list(have.into_iter())
                    ),
                ));
            }
            let earliest = source
                .list(
                    m.iter().filter(|(_, o)| **o == EARLIEST_OFFSET).map(|(tp, _)| tp),
                    OffsetSpec::Earliest,
                )
                .await?;
            let latest = source
                .list(m.iter().filter(|(_, o)| **o == LATEST_OFFSET).map(|(tp, _)| tp), OffsetSpec::Latest)
                .await?;
            Ok(m.iter()
                .map(|(tp, &o)| {
                    let v = match o {
                        EARLIEST_OFFSET => earliest.get(tp).copied().unwrap_or(0),
                        LATEST_OFFSET => latest.get(tp).copied().unwrap_or(0),
                        o => o,
                    };
                    (tp.clone(), v)
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OutputMode;

    fn voters() -> QuerySpec {
        QuerySpec {
            schema: Some("gender STRING, age LONG, party STRING".into()),
            group_by: vec!["gender, party".into()],
            output_mode: OutputMode::Complete,
            ..QuerySpec::default()
        }
    }

    #[test]
    fn sinks_parse() {
        assert!(matches!(SinkSpec::parse("console"), Ok(SinkSpec::Console(_))));
        assert_eq!(SinkSpec::parse("jsonl:/tmp/x").ok(), Some(SinkSpec::Jsonl("/tmp/x".into())));
        assert_eq!(SinkSpec::parse("kafka:out").ok(), Some(SinkSpec::Kafka("out".into())));
        for bad in ["", "jsonl:", "kafka:", "file:/x", "parquet"] {
            assert!(SinkSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_happens_before_any_io() {
        let sub = Subscription::Topics(vec!["voters".into()]);
        let ok = StreamConfig::new(sub.clone(), voters());
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.query.output_mode = OutputMode::Append;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.starts_with("Append output mode not supported"), "{e}");
        let mut c = ok.clone();
        c.max_offsets_per_trigger = Some(0);
        assert!(c.validate().unwrap_err().to_string().contains("maxOffsetsPerTrigger"));
        let mut c = ok.clone();
        c.subscription = Subscription::Pattern("voters(".into());
        let e = c.validate().unwrap_err();
        assert!(e.to_string().starts_with("invalid topic pattern \"voters(\": "), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
        assert!(
            matches!(e, StreamError::InvalidOption { option: StreamOption::SubscribePattern, .. }),
            "{e:?}"
        );
        let mut c = ok.clone();
        c.ending_offsets = Some(EndingOffsets::Specific([(TopicPartition::new("voters", 0), -2)].into()));
        assert!(c.validate().unwrap_err().to_string().contains("can't be earliest"));
        let mut c = ok.clone();
        c.starting_offsets = StartingOffsets::Specific([(TopicPartition::new("voters", 0), -3)].into());
        assert!(c.validate().unwrap_err().to_string().contains("invalid starting offset -3"));
        let mut c = ok;
        c.sink = SinkSpec::Kafka("out".into());
        assert!(c.validate().is_ok());
    }

    /// Option errors say which option (Spark's name), so a front end can name
    /// its own flag; their text names no command-line flag.
    #[test]
    fn option_errors_are_typed() {
        let option_of = |c: &StreamConfig| match c.validate() {
            Err(StreamError::InvalidOption { option, message }) => {
                assert!(!message.contains("--"), "{message}");
                Some(option)
            }
            _ => None,
        };
        let base = StreamConfig::new(Subscription::Topics(vec!["voters".into()]), voters());
        let mut c = base.clone();
        c.max_offsets_per_trigger = Some(0);
        assert_eq!(option_of(&c), Some(StreamOption::MaxOffsetsPerTrigger));
        c = base.clone();
        c.subscription = Subscription::Topics(vec![" ".into()]);
        assert_eq!(option_of(&c), Some(StreamOption::Subscribe));
        c.subscription = Subscription::Pattern(String::new());
        assert_eq!(option_of(&c), Some(StreamOption::SubscribePattern));
        c.subscription = Subscription::Assign(Vec::new());
        assert_eq!(option_of(&c), Some(StreamOption::Assign));
        c = base.clone();
        c.ending_offsets = Some(EndingOffsets::Specific([(TopicPartition::new("voters", 0), -5)].into()));
        assert_eq!(option_of(&c), Some(StreamOption::EndingOffsets));
        c = base.clone();
        c.starting_offsets = StartingOffsets::Specific([(TopicPartition::new("voters", 0), -3)].into());
        assert_eq!(option_of(&c), Some(StreamOption::StartingOffsets));
        c = base.clone();
        c.sink = SinkSpec::Kafka(" ".into());
        assert_eq!(option_of(&c), Some(StreamOption::SinkTopic));
        c = base.clone();
        c.query.window = Some("timestamp".into());
        assert_eq!(option_of(&c), Some(StreamOption::Window));
        c = base;
        c.query.group_by = vec!["gender".into()];
        c.query.watermark = Some("10 seconds".into());
        assert_eq!(option_of(&c), Some(StreamOption::Watermark));
        assert_eq!(StreamOption::SubscribePattern.to_string(), "subscribePattern");
    }

    #[test]
    fn descriptions_are_sparks() {
        assert_eq!(Subscription::Topics(vec!["a".into(), "b".into()]).describe(), "Subscribe[a, b]");
        assert_eq!(Subscription::Pattern("v.*".into()).describe(), "SubscribePattern[v.*]");
        let tps = vec![TopicPartition::new("v", 0), TopicPartition::new("v", 1)];
        assert_eq!(Subscription::Assign(tps).describe(), "Assign[v-0, v-1]");
    }

    #[test]
    fn data_loss_fails_or_warns() {
        let e = data_loss(true, "x-0: gone".into()).unwrap_err().to_string();
        assert!(e.starts_with("x-0: gone. Some data may have been lost"), "{e}");
        assert!(e.contains("\"failOnDataLoss\" to \"false\""), "{e}");
        assert!(data_loss(false, "x-0: gone".into()).is_ok());
    }

    #[test]
    fn ids_look_like_uuids() {
        let a = progress::new_id();
        let b = progress::new_id();
        assert_ne!(a, b);
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, vec![8, 4, 4, 4, 12], "{a}");
    }
}
