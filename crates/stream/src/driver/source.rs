//! The Kafka source: which partitions exist, their offsets, and the records
//! of a batch's offset ranges, read with a [`Fetcher`] (no consumer group;
//! like Spark's source, nothing is committed to Kafka).
//!
//! Partitions stay assigned across batches so the fetcher keeps reading
//! ahead; data past a batch's end offsets is buffered for the next batch. A
//! partition whose read-ahead exceeds [`Source`]'s buffer cap is unassigned
//! until a batch needs its data (bounded memory whatever the batch sizes).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kwire_fetch::{
    FetchConfig, FetchError, FetchEvent, FetchedChunk, Fetcher, IsolationLevel, OffsetSpec, StartOffset,
    list_offsets,
};
use kwire_meta::Cluster;
use kwire_proto::ErrorCode;

use super::stop::Stop;
use super::{Subscription, data_loss};
use crate::error::StreamError;
use crate::trigger::{PartitionOffsets, TopicPartition};

/// One piece of a batch: records `lo <= offset < hi` of a chunk.
pub(crate) enum Piece {
    Chunk(FetchedChunk, i64, i64),
    Done,
    Stopped,
}

/// What [`Source::discover`] found.
#[derive(Debug, Default)]
pub(crate) struct Discovered {
    pub parts: BTreeSet<TopicPartition>,
    /// Subscribed topics that do not exist.
    pub missing: Vec<String>,
    /// Topics whose metadata had a transient error (their partitions are
    /// neither new nor gone).
    pub unsure: Vec<String>,
}

struct Part {
    ftp: kwire_fetch::TopicPartition,
    buf: VecDeque<FetchedChunk>,
    bytes: usize,
    /// The next offset to hand out.
    pos: i64,
    /// Where the fetcher continues (the end of the buffered data).
    fetch_next: i64,
    /// Currently assigned to the fetcher (false: paused or failed).
    assigned: bool,
    /// End offset of the current batch for this partition.
    goal: i64,
}

pub(crate) struct Source {
    cluster: Cluster,
    sub: Subscription,
    pattern: Option<regex::Regex>,
    isolation: IsolationLevel,
    fetcher: Fetcher,
    parts: BTreeMap<TopicPartition, Part>,
    fail_on_data_loss: bool,
    buffer_cap: usize,
    /// Partitions found deleted while reading (failOnDataLoss off).
    gone: Vec<TopicPartition>,
    /// Set once the query runs: lookups then wait out a cluster they can't
    /// reach ([`RIDE_OUT`]) instead of failing; a stop request ends the wait.
    patient: Option<Stop>,
    /// A lookup gave up because a stop was requested ([`Source::halted`]).
    halted: AtomicBool,
}

/// How long a running query's metadata and offset lookups wait for a cluster
/// they cannot reach before the query fails. Spark's offset reader waits
/// about as long: each admin call up to `default.api.timeout.ms` (60 s),
/// tried `fetchOffset.numRetries` (3) times. Before the query runs, an
/// unreachable cluster fails it at once, as every other command does.
pub(crate) const RIDE_OUT: Duration = Duration::from_secs(180);

/// How long a latest offset below the position is asked again before it
/// counts as data loss. A new leader's high watermark can lag its
/// predecessor's until the followers' next fetch tells it: in a 30-minute
/// soak broker 1 took a partition over at log end 28520 with high watermark
/// 28264, and a query that had read up to 28520 failed on "offset was
/// changed from 28520 to 28264" though nothing was lost.
pub(crate) const CONFIRM_LOSS: Duration = Duration::from_secs(5);

/// True when `e` means the cluster could not be reached or did not answer
/// (refused, reset, unanswered connects, every bootstrap server down, a
/// request timed out): worth waiting out. Authentication, TLS and protocol
/// violations are not.
pub(crate) fn unreachable(e: &StreamError) -> bool {
    let conn = match e {
        StreamError::Meta(m) => m.conn(),
        StreamError::Fetch(f) => f.conn(),
        _ => None,
    };
    conn.is_some_and(|c| c.is_unreachable())
}

impl Source {
    pub(crate) fn new(
        cluster: Cluster,
        sub: Subscription,
        mut fetch: FetchConfig,
        fail_on_data_loss: bool,
    ) -> Result<Source, StreamError> {
        let pattern = match &sub {
            Subscription::Pattern(p) => {
                Some(regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| super::invalid_pattern(p, &e))?)
            }
            _ => None,
        };
        // Out-of-range positions are data loss, decided here, not reset silently.
        fetch.reset = kwire_fetch::OffsetReset::None;
        let isolation = fetch.isolation;
        let buffer_cap = (fetch.max_partition_bytes.max(1) as usize).saturating_mul(8).max(16 << 20);
        // The fetcher gets its own connections: a broker answers one request
        // per connection at a time, so a ListOffsets would otherwise wait
        // behind a long-polling Fetch (up to fetch.max.wait.ms) every batch.
        let fetcher = Fetcher::start(Cluster::new(cluster.config().clone()), fetch);
        Ok(Source {
            cluster,
            sub,
            pattern,
            isolation,
            fetcher,
            parts: BTreeMap::new(),
            fail_on_data_loss,
            buffer_cap,
            gone: Vec::new(),
            patient: None,
            halted: AtomicBool::new(false),
        })
    }

    /// From now on, lookups wait out an unreachable cluster for up to
    /// [`RIDE_OUT`] (or until `stop`).
    pub(crate) fn be_patient(&mut self, stop: Stop) {
        self.patient = Some(stop);
    }

    /// True once a lookup ended early because a stop was requested (its
    /// error says so; the driver then stops instead of failing).
    pub(crate) fn halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }

    /// Runs `lookup`; once [`be_patient`](Self::be_patient), again with
    /// backoff while it fails with an [`unreachable`] cluster, for up to
    /// [`RIDE_OUT`]. A stop request ends it at once, even mid-lookup, with
    /// an error and [`halted`](Self::halted) set.
    async fn ride_out<T, Fut>(&self, what: &str, mut lookup: impl FnMut() -> Fut) -> Result<T, StreamError>
    where
        Fut: Future<Output = Result<T, StreamError>>,
    {
        let Some(stop) = &self.patient else { return lookup().await };
        let mut stop = stop.clone();
        let halt = || {
            self.halted.store(true, Ordering::Relaxed);
            Err(StreamError::Source(format!("{what}: stopped while waiting for the cluster")))
        };
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            let r = tokio::select! {
                r = lookup() => r,
                _ = stop.wait() => return halt(),
            };
            match r {
                Err(e) if unreachable(&e) && start.elapsed() < RIDE_OUT => {
                    if attempt == 0 {
                        tracing::warn!("{what}: {e}; retrying for up to {} s", RIDE_OUT.as_secs());
                    }
                    attempt += 1;
                    tokio::select! {
                        _ = tokio::time::sleep(self.cluster.backoff(attempt)) => {}
                        _ = stop.wait() => return halt(),
                    }
                }
                Err(e) => return Err(e),
                Ok(t) => {
                    if attempt > 0 {
                        tracing::info!("{what}: the cluster answers again after {:.1?}", start.elapsed());
                    }
                    return Ok(t);
                }
            }
        }
    }

    /// The partitions the subscription covers now.
    pub(crate) async fn discover(&self) -> Result<Discovered, StreamError> {
        let mut attempt = 0u32;
        loop {
            let (mut found, transient) =
                self.ride_out("partition discovery", || self.discover_once()).await?;
            if transient.is_empty() || attempt >= 20 {
                found.unsure = transient;
                return Ok(found);
            }
            attempt += 1;
            tokio::time::sleep(self.cluster.backoff(attempt)).await;
        }
    }

    /// One metadata round; also returns topics with a transient error
    /// (e.g. LEADER_NOT_AVAILABLE just after creation).
    async fn discover_once(&self) -> Result<(Discovered, Vec<String>), StreamError> {
        let mut d = Discovered::default();
        let mut transient = Vec::new();
        let topics: Option<Vec<String>> = match &self.sub {
            Subscription::Topics(ts) => Some(ts.clone()),
            Subscription::Pattern(_) => None,
            Subscription::Assign(tps) => {
                let mut t: Vec<String> = tps.iter().map(|tp| tp.topic.clone()).collect();
                t.sort();
                t.dedup();
                Some(t)
            }
        };
        let md = self.cluster.fetch_metadata(topics.as_deref()).await?;
        match &self.sub {
            Subscription::Pattern(_) => {
                for (name, info) in &md.topics {
                    if !info.internal && self.pattern.as_ref().is_some_and(|re| re.is_match(name)) {
                        d.parts
                            .extend(info.partitions.iter().map(|p| TopicPartition::new(name, p.partition)));
                    }
                }
            }
            _ => {
                for t in topics.unwrap_or_default() {
                    match (md.topics.get(&t), md.topic_errors.get(&t)) {
                        (Some(info), _) => {
                            let wanted = |p: i32| match &self.sub {
                                Subscription::Assign(tps) => {
                                    tps.iter().any(|x| x.topic == t && x.partition == p)
                                }
                                _ => true,
                            };
                            d.parts.extend(
                                info.partitions
                                    .iter()
                                    .filter(|p| wanted(p.partition))
                                    .map(|p| TopicPartition::new(&t, p.partition)),
                            );
                        }
                        (None, Some(&code)) if code != ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => {
                            transient.push(t.clone())
                        }
                        _ => d.missing.push(t.clone()),
                    }
                }
            }
        }
        Ok((d, transient))
    }

    /// Offsets of `tps` by `spec`.
    pub(crate) async fn list(
        &self,
        tps: impl IntoIterator<Item = &TopicPartition>,
        spec: OffsetSpec,
    ) -> Result<PartitionOffsets, StreamError> {
        let f: Vec<TopicPartition> = tps.into_iter().cloned().collect();
        if f.is_empty() {
            return Ok(PartitionOffsets::new());
        }
        let got = self
            .ride_out("offset lookup", || async {
                Ok(list_offsets(&self.cluster, &f, spec, self.isolation).await?)
            })
            .await?;
        Ok(got.into_iter().map(|(tp, a)| (TopicPartition::new(tp.topic, tp.partition), a.offset)).collect())
    }

    /// The latest offset of `tp`, asked again while it stays below `at`
    /// (the position the query has reached), for up to [`CONFIRM_LOSS`]:
    /// `first` is the answer that was below. Returns the first answer not
    /// below `at`, else the last one (then offsets really went missing).
    pub(crate) async fn confirm_latest(
        &self,
        tp: &TopicPartition,
        at: i64,
        first: i64,
    ) -> Result<i64, StreamError> {
        let start = Instant::now();
        let mut latest = first;
        let mut attempt = 0u32;
        while latest < at && start.elapsed() < CONFIRM_LOSS {
            attempt += 1;
            self.cluster.invalidate_topic(&tp.topic);
            tokio::time::sleep(self.cluster.backoff(attempt).min(Duration::from_millis(500))).await;
            let one = [tp.clone()];
            latest = self.list(&one, OffsetSpec::Latest).await?.get(tp).copied().unwrap_or(latest);
        }
        if attempt > 0 && latest >= at {
            tracing::warn!(
                "{}-{}: the latest offset was {first}, below the {at} already read, and is {latest} {:.1?} later \
                 (a new leader's high watermark catching up)",
                tp.topic,
                tp.partition,
                start.elapsed()
            );
        }
        Ok(latest)
    }

    /// Partitions found deleted while reading since the last call.
    pub(crate) fn take_gone(&mut self) -> Vec<TopicPartition> {
        std::mem::take(&mut self.gone)
    }

    /// Where the source really is for each partition: ahead of `from` only
    /// after records were skipped (data loss with failOnDataLoss off).
    pub(crate) fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.parts.get(tp).map(|p| if p.buf.is_empty() { p.pos.max(p.fetch_next) } else { p.pos })
    }

    /// Make the fetch positions match `from`: partitions not in it are
    /// dropped, partitions elsewhere restart at their offset, the others keep
    /// their read-ahead.
    pub(crate) fn set_positions(&mut self, from: &PartitionOffsets) -> Result<(), StreamError> {
        let drop: Vec<TopicPartition> =
            self.parts.keys().filter(|tp| !from.contains_key(*tp)).cloned().collect();
        if !drop.is_empty() {
            let mut f = Vec::new();
            for tp in &drop {
                if let Some(p) = self.parts.remove(tp) {
                    if p.assigned {
                        f.push(p.ftp);
                    }
                }
            }
            if !f.is_empty() {
                self.fetcher.unassign(f)?;
            }
        }
        let mut assign = Vec::new();
        for (tp, &off) in from {
            match self.parts.get_mut(tp) {
                Some(p)
                    if p.pos == off
                        && (p.buf.is_empty() || p.buf.front().is_some_and(|c| c.fetch_offset <= off)) =>
                {
                    p.goal = off;
                }
                Some(p) => {
                    p.buf.clear();
                    p.bytes = 0;
                    p.pos = off;
                    p.fetch_next = off;
                    p.goal = off;
                    p.assigned = true;
                    assign.push((p.ftp.clone(), StartOffset::Offset(off)));
                }
                None => {
                    let f = tp.clone();
                    assign.push((f.clone(), StartOffset::Offset(off)));
                    self.parts.insert(
                        tp.clone(),
                        Part {
                            ftp: f,
                            buf: VecDeque::new(),
                            bytes: 0,
                            pos: off,
                            fetch_next: off,
                            assigned: true,
                            goal: off,
                        },
                    );
                }
            }
        }
        if !assign.is_empty() {
            self.fetcher.assign(assign)?;
        }
        Ok(())
    }

    /// Start reading a batch: records from `start` up to `end` (exclusive).
    pub(crate) fn begin_batch(
        &mut self,
        start: &PartitionOffsets,
        end: &PartitionOffsets,
    ) -> Result<(), StreamError> {
        self.set_positions(start)?;
        for (tp, p) in self.parts.iter_mut() {
            p.goal = end.get(tp).copied().unwrap_or(p.pos);
        }
        Ok(())
    }

    /// The next piece of the open batch, waiting for the fetcher as needed.
    pub(crate) async fn next_piece(&mut self, stop: &mut Stop) -> Result<Piece, StreamError> {
        loop {
            let mut pending = false;
            let mut resume: Vec<TopicPartition> = Vec::new();
            for (tp, p) in self.parts.iter_mut() {
                while let Some(front) = p.buf.front() {
                    if p.pos >= p.goal {
                        break;
                    }
                    if front.next_offset <= p.pos {
                        p.bytes = p.bytes.saturating_sub(front.raw().len());
                        p.buf.pop_front();
                        continue;
                    }
                    let (lo, hi) = (p.pos, p.goal);
                    if front.next_offset <= hi {
                        let Some(c) = p.buf.pop_front() else { break };
                        p.bytes = p.bytes.saturating_sub(c.raw().len());
                        p.pos = c.next_offset;
                        return Ok(Piece::Chunk(c, lo, hi));
                    }
                    let c = front.clone();
                    p.pos = hi;
                    return Ok(Piece::Chunk(c, lo, hi));
                }
                if p.buf.is_empty() && p.fetch_next > p.pos {
                    // records skipped after data loss
                    p.pos = p.fetch_next;
                }
                if p.pos >= p.goal {
                    continue;
                }
                pending = true;
                if !p.assigned {
                    resume.push(tp.clone());
                }
            }
            if !resume.is_empty() {
                let mut list = Vec::new();
                for tp in &resume {
                    if let Some(p) = self.parts.get_mut(tp) {
                        p.assigned = true;
                        list.push((p.ftp.clone(), StartOffset::Offset(p.fetch_next)));
                    }
                }
                self.fetcher.assign(list)?;
            }
            if !pending {
                return Ok(Piece::Done);
            }
            tokio::select! {
                ev = self.fetcher.next() => self.on_event(ev).await?,
                _ = stop.wait() => return Ok(Piece::Stopped),
            }
        }
    }

    /// Between batches: wait for the fetcher to deliver data (buffered for the
    /// next batch), at most until `deadline`. Returns true when a stop was requested.
    pub(crate) async fn idle(
        &mut self,
        deadline: tokio::time::Instant,
        stop: &mut Stop,
        one: bool,
    ) -> Result<bool, StreamError> {
        loop {
            tokio::select! {
                ev = self.fetcher.next() => {
                    self.on_event(ev).await?;
                    if one {
                        return Ok(false);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return Ok(false),
                _ = stop.wait() => return Ok(true),
            }
        }
    }

    async fn on_event(&mut self, ev: Option<FetchEvent>) -> Result<(), StreamError> {
        match ev {
            None => Err(StreamError::Fetch(FetchError::Stopped)),
            Some(FetchEvent::Records(c)) => {
                let key = TopicPartition::new(c.tp.topic.as_str(), c.tp.partition);
                let cap = self.buffer_cap;
                if let Some(p) =
                    self.parts.get_mut(&key).filter(|p| p.assigned && c.fetch_offset == p.fetch_next)
                {
                    p.fetch_next = c.next_offset;
                    p.bytes += c.raw().len();
                    p.buf.push_back(c);
                    if p.pos >= p.goal && p.bytes > cap {
                        // Enough read-ahead: pause until a batch needs it.
                        p.assigned = false;
                        self.fetcher.unassign(vec![p.ftp.clone()])?;
                    }
                }
                Ok(())
            }
            Some(FetchEvent::Reset { .. }) => Ok(()),
            Some(FetchEvent::Error { tp, error }) => self.on_error(&tp, error).await,
        }
    }

    async fn on_error(
        &mut self,
        tp: &kwire_fetch::TopicPartition,
        error: FetchError,
    ) -> Result<(), StreamError> {
        let key = TopicPartition::new(tp.topic.as_str(), tp.partition);
        let Some(at) = self.parts.get(&key).map(|p| p.fetch_next) else { return Ok(()) };
        let out_of_range =
            matches!(&error, FetchError::Partition { code, .. } if *code == ErrorCode::OFFSET_OUT_OF_RANGE);
        let deleted = matches!(&error, FetchError::Invalid(m) if m.contains("does not exist"));
        if out_of_range {
            let one = [key.clone()];
            let earliest = self.list(&one, OffsetSpec::Earliest).await?.get(&key).copied().unwrap_or(at);
            let mut latest = self.list(&one, OffsetSpec::Latest).await?.get(&key).copied().unwrap_or(at);
            if latest < at {
                tracing::warn!("{}-{}: the fetch at offset {at} was out of range", key.topic, key.partition);
                latest = self.confirm_latest(&key, at, latest).await?;
            }
            let to = if at < earliest {
                data_loss(
                    self.fail_on_data_loss,
                    format!(
                        "Cannot fetch offset {at} of {}-{}: the log now starts at offset {earliest}, so offsets {at} to {} were deleted before the query read them",
                        key.topic,
                        key.partition,
                        earliest - 1
                    ),
                )?;
                earliest
            } else if at > latest {
                data_loss(
                    self.fail_on_data_loss,
                    format!(
                        "Partition {}-{}'s offset was changed from {at} to {latest}, some data may have been missed",
                        key.topic, key.partition
                    ),
                )?;
                latest
            } else {
                at // moved back into range meanwhile: just retry
            };
            if let Some(p) = self.parts.get_mut(&key) {
                p.fetch_next = to;
                p.assigned = true;
                let f = p.ftp.clone();
                self.fetcher.assign(vec![(f, StartOffset::Offset(to))])?;
            }
            Ok(())
        } else if deleted {
            data_loss(
                self.fail_on_data_loss,
                format!("[{}-{}] are gone. Some data may have been missed", key.topic, key.partition),
            )?;
            if let Some(p) = self.parts.get_mut(&key) {
                p.assigned = false;
                p.buf.clear();
                p.bytes = 0;
                p.goal = p.pos;
            }
            self.gone.push(key);
            Ok(())
        } else {
            Err(StreamError::Source(format!("cannot read {}-{}: {error}", key.topic, key.partition)))
        }
    }
}
