//! The simple way to read partitions: [`Consumer`] hands out owned
//! [`ConsumerRecord`]s, a bounded number per [`poll`](Consumer::poll), on top
//! of the zero-copy [`Fetcher`]. A record's key, value and headers are
//! [`Bytes`] slices of the fetched buffer: nothing is copied, the buffer
//! lives as long as a record that points into it.
//!
//! [`RecordBuffer`] is the piece that turns a [`FetchedChunk`] into owned
//! records and hands them out; the group consumer uses it too.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use kwire_meta::Cluster;
use kwire_proto::records::{Header, TimestampType};

use crate::offsets::{Unreachable, list_offsets_with};
use crate::{
    FetchConfig, FetchError, FetchEvent, FetchedChunk, Fetcher, IsolationLevel, OffsetSpec, StartOffset,
    TopicPartition, list_offsets,
};

/// One record, owned: its key, value and headers share the fetched buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp in ms since the epoch (see `timestamp_type`).
    pub timestamp: i64,
    /// Whether the producer or the broker set the timestamp.
    pub timestamp_type: TimestampType,
    /// Key, `None` for null.
    pub key: Option<Bytes>,
    /// Value, `None` for null (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in wire order, duplicate keys kept.
    pub headers: Vec<Header>,
}

impl ConsumerRecord {
    /// The record's partition as a [`TopicPartition`].
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(&*self.topic, self.partition)
    }

    /// The key as UTF-8 text, if there is one and it is valid UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        self.key.as_deref().and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The value as UTF-8 text, if there is one and it is valid UTF-8.
    pub fn value_str(&self) -> Option<&str> {
        self.value.as_deref().and_then(|v| std::str::from_utf8(v).ok())
    }
}

impl FetchedChunk {
    /// The chunk's records as owned [`ConsumerRecord`]s, filtered as
    /// [`for_each_record`](Self::for_each_record) filters them (at or after
    /// `fetch_offset`, no control records, no aborted transactions under
    /// read_committed). Keys, values and headers share the chunk's buffer.
    pub fn to_records(&self) -> Result<Vec<ConsumerRecord>, FetchError> {
        let mut out = Vec::new();
        self.push_records(|r| out.push(r))?;
        Ok(out)
    }

    /// Hands each of [`to_records`](Self::to_records)' records to `push`.
    fn push_records(&self, mut push: impl FnMut(ConsumerRecord)) -> Result<(), FetchError> {
        let topic: Arc<str> = Arc::from(self.tp.topic.as_str());
        self.for_each_record(|batch, rec| {
            let owned = rec.to_record();
            push(ConsumerRecord {
                topic: topic.clone(),
                partition: self.tp.partition,
                offset: rec.offset,
                timestamp: owned.timestamp,
                timestamp_type: batch.header.timestamp_type(),
                key: owned.key,
                value: owned.value,
                headers: owned.headers,
            });
            std::ops::ControlFlow::Continue(())
        })?;
        Ok(())
    }
}

/// Owned records of one partition handed out by [`RecordBuffer::take`].
#[derive(Debug, Clone)]
pub struct PolledRecords {
    /// The partition.
    pub tp: Arc<TopicPartition>,
    /// Records in offset order; empty when a chunk held only records a
    /// consumer doesn't see (control records, aborted transactions).
    pub records: Vec<ConsumerRecord>,
    /// Where the partition's reading goes on after these records: the next
    /// buffered record's offset, or the chunk's `next_offset` once it is drained.
    pub next_offset: i64,
}

/// One chunk's records as owned [`ConsumerRecord`]s, handed out at most `max`
/// at a time (`max.poll.records`). What [`Consumer`] and the group
/// consumer's `poll` are built on; a consumer of one's own on the
/// [`Fetcher`] can use it as well.
///
/// A chunk is decoded into runs of at most [`run`](Self::with_run) records
/// each; [`take`](Self::take) hands a run out as it is when it fits in
/// `max` (no record is moved twice), so the run length should be the
/// consumer's `max.poll.records`.
#[derive(Debug)]
pub struct RecordBuffer {
    runs: VecDeque<VecDeque<ConsumerRecord>>,
    len: usize,
    run: usize,
    chunk: Option<(Arc<TopicPartition>, i64)>,
}

impl Default for RecordBuffer {
    fn default() -> Self {
        Self::with_run(DEFAULT_RUN)
    }
}

/// Kafka's default `max.poll.records`.
const DEFAULT_RUN: usize = 500;

/// The most records' room a run reserves up front (about 512 KiB).
const RUN_ROOM_MAX: usize = 4_096;

impl RecordBuffer {
    /// An empty buffer decoding runs of 500 records (Kafka's default
    /// `max.poll.records`).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty buffer decoding runs of `run` records (at least one): the
    /// `max` its [`take`](Self::take) is called with.
    pub fn with_run(run: usize) -> Self {
        RecordBuffer { runs: VecDeque::new(), len: 0, run: run.max(1), chunk: None }
    }

    /// Decodes `chunk` into the buffer, replacing whatever was left in it.
    /// On corrupt data the buffer is left empty and the error names the
    /// partition and offset.
    pub fn fill(&mut self, chunk: &FetchedChunk) -> Result<(), FetchError> {
        self.clear();
        let (runs, run) = (&mut self.runs, self.run);
        let mut current: VecDeque<ConsumerRecord> = VecDeque::new();
        let decoded = chunk.push_records(|r| {
            if current.len() == run {
                runs.push_back(std::mem::take(&mut current));
            }
            if current.capacity() == 0 {
                // A run is allocated once at its full length when that is
                // the usual max.poll.records; a huge one grows as it fills
                // (a run's room never comes from what batch headers claim).
                current.reserve_exact(run.min(RUN_ROOM_MAX));
            }
            current.push_back(r);
        });
        if let Err(e) = decoded {
            self.clear();
            return Err(e);
        }
        if !current.is_empty() {
            self.runs.push_back(current);
        }
        self.len = self.runs.iter().map(VecDeque::len).sum();
        self.chunk = Some((chunk.tp.clone(), chunk.next_offset));
        Ok(())
    }

    /// Up to `max` records (at least one), and where the partition goes on
    /// after them; `None` once the buffer is empty.
    pub fn take(&mut self, max: usize) -> Option<PolledRecords> {
        let (tp, chunk_end) = self.chunk.clone()?;
        let max = max.max(1);
        let records = match self.runs.front_mut() {
            None => Vec::new(),
            // A whole run from its start: no record moves (a run is a
            // VecDeque so that a small `max` takes from its front cheaply).
            Some(front) if front.len() <= max => self.runs.pop_front().map(Vec::from).unwrap_or_default(),
            Some(front) => front.drain(..max).collect(),
        };
        self.len -= records.len();
        let next_offset = match self.runs.front().and_then(|r| r.front()) {
            Some(next) => next.offset,
            None => {
                self.chunk = None;
                chunk_end
            }
        };
        Some(PolledRecords { tp, records, next_offset })
    }

    /// Records waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is waiting (not even the end of a drained chunk).
    pub fn is_empty(&self) -> bool {
        self.chunk.is_none()
    }

    /// Drops everything buffered.
    pub fn clear(&mut self) {
        self.runs.clear();
        self.len = 0;
        self.chunk = None;
    }

    /// Drops what is buffered for any of `parts` (unassigned, revoked, lost).
    pub fn discard(&mut self, parts: &[TopicPartition]) {
        if self.chunk.as_ref().is_some_and(|(tp, _)| parts.contains(tp)) {
            self.clear();
        }
    }
}

/// Reads assigned partitions as owned records: the simple API beside the
/// zero-copy [`Fetcher`] (which it runs on, and which stays reachable
/// through [`fetcher`](Self::fetcher)).
///
/// Start offsets are resolved when partitions are assigned, so
/// [`position`](Self::position) is known from then on; the fetcher keeps one
/// fetch per broker in flight while the application works.
///
/// ```no_run
/// # async fn demo() -> Result<(), kwire_fetch::FetchError> {
/// use kwire_fetch::{Consumer, FetchConfig, StartOffset};
/// use kwire_meta::{Cluster, ClusterConfig};
///
/// let cluster = Cluster::new(ClusterConfig::default());
/// let mut consumer = Consumer::start(cluster, FetchConfig::default())?;
/// consumer.assign_topics(&["voters"], StartOffset::Earliest).await?;
/// // Read what the topic holds now, then stop.
/// let ends = consumer.end_offsets().await?;
/// while !consumer.reached(&ends) {
///     for rec in consumer.poll().await? {
///         println!("{}-{}@{}: {:?}", rec.topic, rec.partition, rec.offset, rec.value_str());
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Consumer {
    fetcher: Fetcher,
    buffer: RecordBuffer,
    positions: BTreeMap<TopicPartition, i64>,
    max_poll_records: usize,
}

/// A position whose start offset the fetcher is still looking up.
const UNKNOWN: i64 = -1;

impl Consumer {
    /// Starts a fetcher with `cfg` on the current tokio runtime (after
    /// checking `cfg`); nothing is read until partitions are assigned.
    pub fn start(cluster: Cluster, cfg: FetchConfig) -> Result<Consumer, FetchError> {
        cfg.validate()?;
        Ok(Consumer::from_fetcher(Fetcher::start(cluster, cfg)))
    }

    /// A consumer on an existing fetcher. Only partitions assigned through
    /// [`assign`](Self::assign) are read; records of partitions the fetcher
    /// had before are dropped.
    pub fn from_fetcher(fetcher: Fetcher) -> Consumer {
        let max_poll_records = fetcher.config().max_poll_records.max(1);
        Consumer {
            fetcher,
            buffer: RecordBuffer::with_run(max_poll_records),
            positions: BTreeMap::new(),
            max_poll_records,
        }
    }

    /// The fetcher underneath: the zero-copy path ([`Fetcher::next`],
    /// [`FetchedChunk::for_each_record`]). Reading from it directly bypasses
    /// this consumer's positions.
    pub fn fetcher(&mut self) -> &mut Fetcher {
        &mut self.fetcher
    }

    /// Gives the fetcher back (records buffered here are dropped).
    pub fn into_fetcher(self) -> Fetcher {
        self.fetcher
    }

    /// Reads `parts` from their start offsets, looked up now (ListOffsets):
    /// earliest, latest, an offset, `n` before the end, or the first record
    /// at or after a timestamp (the end offset when there is none). Assigning
    /// a partition again moves it to the new start.
    ///
    /// When a leader cannot be reached for the lookup (a broker down or cut
    /// off), the partitions are assigned anyway: the fetcher looks their
    /// starts up itself, retrying, while the other partitions are read, and
    /// [`position`](Self::position) is `None` until it knows.
    pub async fn assign(&mut self, parts: Vec<(TopicPartition, StartOffset)>) -> Result<(), FetchError> {
        let starts: Vec<(TopicPartition, StartOffset, i64)> = match self.resolve(&parts).await {
            Ok(starts) => starts
                .into_iter()
                .zip(parts)
                .map(|((tp, found), (_, start))| match found {
                    Some(o) => (tp, StartOffset::Offset(o), o),
                    // Its leader could not be reached: the fetcher looks it up.
                    None => (tp, start, UNKNOWN),
                })
                .collect(),
            Err(e) if e.conn().is_some() => {
                tracing::info!(error = %e, "start offsets not looked up now; the fetcher will, retrying");
                parts
                    .into_iter()
                    .map(|(tp, start)| match start {
                        StartOffset::Offset(o) => (tp, start, o),
                        other => (tp, other, UNKNOWN),
                    })
                    .collect()
            }
            Err(e) => return Err(e),
        };
        let tps: Vec<TopicPartition> = starts.iter().map(|(tp, _, _)| tp.clone()).collect();
        self.buffer.discard(&tps);
        self.fetcher.assign(starts.iter().map(|(tp, start, _)| (tp.clone(), *start)).collect())?;
        self.positions.extend(starts.into_iter().map(|(tp, _, o)| (tp, o)));
        Ok(())
    }

    /// Reads every partition of `topics` from `start`; returns the partitions.
    pub async fn assign_topics(
        &mut self,
        topics: &[&str],
        start: StartOffset,
    ) -> Result<Vec<TopicPartition>, FetchError> {
        let mut parts = Vec::new();
        for topic in topics {
            let info = self.fetcher.cluster().topic(topic).await?;
            parts.extend(info.partitions.iter().map(|p| TopicPartition::new(*topic, p.partition)));
        }
        self.assign(parts.iter().map(|tp| (tp.clone(), start)).collect()).await?;
        Ok(parts)
    }

    /// Stops reading `parts`; records buffered for them are dropped.
    pub fn unassign(&mut self, parts: Vec<TopicPartition>) -> Result<(), FetchError> {
        self.buffer.discard(&parts);
        for tp in &parts {
            self.positions.remove(tp);
        }
        self.fetcher.unassign(parts)
    }

    /// Partitions being read, sorted.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.positions.keys().cloned().collect()
    }

    /// The offset of the next record [`poll`](Self::poll) hands out for `tp`
    /// (after everything handed out so far); `None` if `tp` isn't assigned
    /// or its start offset is still being looked up (see [`assign`](Self::assign)).
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.positions.get(tp).copied().filter(|p| *p != UNKNOWN)
    }

    /// The current end offset of every assigned partition (the high
    /// watermark; the last stable offset under read_committed).
    pub async fn end_offsets(&self) -> Result<BTreeMap<TopicPartition, i64>, FetchError> {
        self.ends(self.fetcher.config().isolation).await
    }

    /// The high watermark of every assigned partition, whatever the
    /// isolation level. Under read_committed, [`poll_to`](Self::poll_to)
    /// these waits until every transaction below them has ended (the
    /// committed records handed out, the aborted ones skipped). State
    /// restored from a changelog that other producers write in
    /// transactions needs this rather than the last stable offset: a
    /// transaction whose consumed offsets are already committed may still
    /// be open on the changelog's partition (its marker not yet written
    /// there), and reading only to the last stable offset would leave it
    /// out of the state for good (KAFKA-10167).
    pub async fn high_watermarks(&self) -> Result<BTreeMap<TopicPartition, i64>, FetchError> {
        self.ends(IsolationLevel::ReadUncommitted).await
    }

    async fn ends(&self, isolation: IsolationLevel) -> Result<BTreeMap<TopicPartition, i64>, FetchError> {
        let parts = self.assignment();
        let answer = list_offsets(self.fetcher.cluster(), &parts, OffsetSpec::Latest, isolation).await?;
        Ok(answer.into_iter().map(|(tp, a)| (tp, a.offset)).collect())
    }

    /// Whether every partition in `ends` has been read up to its offset there
    /// (partitions not assigned count as done): with
    /// [`end_offsets`](Self::end_offsets), "read what is there now".
    pub fn reached(&self, ends: &BTreeMap<TopicPartition, i64>) -> bool {
        // A start still being looked up is only known to be reached for an
        // empty log.
        ends.iter()
            .all(|(tp, end)| self.positions.get(tp).is_none_or(|p| p >= end || (*p == UNKNOWN && *end == 0)))
    }

    /// The next records: at most `max.poll.records`, all of one partition,
    /// in offset order. Waits until there are some. Cancel-safe: wrap it in
    /// `tokio::time::timeout` to wait a bounded time without losing records.
    ///
    /// A partition that fails for good (not authorized, out of range with
    /// `auto.offset.reset=none`, corrupt data) is an error from this call;
    /// it is then no longer read, and the next call goes on with the others.
    pub async fn poll(&mut self) -> Result<Vec<ConsumerRecord>, FetchError> {
        let max = self.max_poll_records;
        self.poll_up_to(max).await
    }

    /// The next record (see [`poll`](Self::poll)).
    pub async fn next_record(&mut self) -> Result<ConsumerRecord, FetchError> {
        let mut one = self.poll_up_to(1).await?;
        one.pop().ok_or(FetchError::Invalid("poll returned no record".to_owned()))
    }

    /// The next records before `ends` (from [`end_offsets`](Self::end_offsets)),
    /// or `None` once every partition has been read up to its end there
    /// (also when what remains are only transaction markers or aborted
    /// records, which [`poll`](Self::poll) would wait past). Records at or
    /// after their partition's end are left out. Cancel-safe.
    pub async fn poll_to(
        &mut self,
        ends: &BTreeMap<TopicPartition, i64>,
    ) -> Result<Option<Vec<ConsumerRecord>>, FetchError> {
        let max = self.max_poll_records;
        let mut recs = match self.poll_inner(max, Some(ends)).await? {
            Some(r) => r,
            None => return Ok(None),
        };
        recs.retain(|r| ends.get(&r.topic_partition()).is_some_and(|end| r.offset < *end));
        Ok(Some(recs))
    }

    async fn poll_up_to(&mut self, max: usize) -> Result<Vec<ConsumerRecord>, FetchError> {
        match self.poll_inner(max, None).await? {
            Some(r) => Ok(r),
            None => Err(FetchError::Invalid("poll ended without an end".to_owned())),
        }
    }

    async fn poll_inner(
        &mut self,
        max: usize,
        until: Option<&BTreeMap<TopicPartition, i64>>,
    ) -> Result<Option<Vec<ConsumerRecord>>, FetchError> {
        loop {
            if let Some(ends) = until {
                if self.buffer.is_empty() && self.reached(ends) {
                    return Ok(None);
                }
            }
            if let Some(p) = self.buffer.take(max) {
                if let Some(pos) = self.positions.get_mut(p.tp.as_ref()) {
                    *pos = p.next_offset;
                    if !p.records.is_empty() {
                        return Ok(Some(p.records));
                    }
                }
                continue;
            }
            if self.positions.is_empty() {
                return Err(FetchError::Invalid(
                    "no partition is assigned: assign some before polling".into(),
                ));
            }
            let Some(event) = self.fetcher.next().await else { return Err(FetchError::Stopped) };
            match event {
                FetchEvent::Records(chunk) => {
                    if !self.positions.contains_key(chunk.tp.as_ref()) {
                        continue;
                    }
                    if let Err(e) = self.buffer.fill(&chunk) {
                        // The fetcher goes on after the chunk; so does the position.
                        self.positions.insert(chunk.tp.as_ref().clone(), chunk.next_offset);
                        return Err(e);
                    }
                }
                FetchEvent::Reset { tp, from, to } => {
                    tracing::info!(%tp, from, to, "position reset (out of range, or the log was truncated)");
                    if let Some(pos) = self.positions.get_mut(tp.as_ref()) {
                        *pos = to;
                    }
                }
                FetchEvent::Error { tp, error } => {
                    // The fetcher has dropped it; forget it here too.
                    let tp = tp.as_ref().clone();
                    self.unassign(vec![tp])?;
                    return Err(error);
                }
            }
        }
    }

    /// Start offsets of `parts`, one ListOffsets round per kind of start.
    async fn resolve(
        &self,
        parts: &[(TopicPartition, StartOffset)],
    ) -> Result<Vec<(TopicPartition, Option<i64>)>, FetchError> {
        let cluster = self.fetcher.cluster();
        let isolation = self.fetcher.config().isolation;
        let mut specs: BTreeMap<SpecKey, Vec<TopicPartition>> = BTreeMap::new();
        for (tp, start) in parts {
            match start {
                StartOffset::Offset(o) if *o < 0 => {
                    return Err(FetchError::Invalid(format!("{tp}: invalid start offset {o}")));
                }
                StartOffset::Offset(_) => {}
                StartOffset::Earliest => specs.entry(SpecKey::Earliest).or_default().push(tp.clone()),
                StartOffset::Latest => specs.entry(SpecKey::Latest).or_default().push(tp.clone()),
                StartOffset::Timestamp(t) => {
                    specs.entry(SpecKey::Timestamp(*t)).or_default().push(tp.clone())
                }
                StartOffset::FromEnd(n) if *n < 0 => {
                    return Err(FetchError::Invalid(format!("{tp}: invalid count from the end {n}")));
                }
                StartOffset::FromEnd(_) => {
                    specs.entry(SpecKey::Earliest).or_default().push(tp.clone());
                    specs.entry(SpecKey::Latest).or_default().push(tp.clone());
                }
            }
        }
        let mut found: BTreeMap<(SpecKey, TopicPartition), i64> = BTreeMap::new();
        let mut skipped: BTreeSet<TopicPartition> = BTreeSet::new();
        for (key, tps) in specs {
            let spec = match key {
                SpecKey::Earliest => OffsetSpec::Earliest,
                SpecKey::Latest => OffsetSpec::Latest,
                SpecKey::Timestamp(t) => OffsetSpec::Timestamp(t),
            };
            let (answers, unreachable) =
                list_offsets_with(cluster, &tps, spec, isolation, Unreachable::Skip).await?;
            for (tp, a) in answers {
                found.insert((key, tp), a.offset);
            }
            if !unreachable.is_empty() {
                tracing::info!(
                    partitions = unreachable.len(),
                    "start offsets not looked up now (leader unreachable); the fetcher will, retrying"
                );
            }
            skipped.extend(unreachable);
        }
        let missing = |tp: &TopicPartition| FetchError::Invalid(format!("{tp}: the broker gave no offset"));
        let mut out = Vec::with_capacity(parts.len());
        for (tp, start) in parts {
            if skipped.contains(tp) {
                out.push((tp.clone(), None));
                continue;
            }
            let get = |key: SpecKey| found.get(&(key, tp.clone())).copied().ok_or_else(|| missing(tp));
            let offset = match *start {
                StartOffset::Offset(o) => o,
                StartOffset::Earliest => get(SpecKey::Earliest)?,
                StartOffset::Latest => get(SpecKey::Latest)?,
                StartOffset::Timestamp(t) => get(SpecKey::Timestamp(t))?,
                StartOffset::FromEnd(n) => {
                    get(SpecKey::Latest)?.saturating_sub(n).max(get(SpecKey::Earliest)?)
                }
            };
            out.push((tp.clone(), Some(offset)));
        }
        Ok(out)
    }
}

/// A kind of ListOffsets lookup (for grouping partitions by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SpecKey {
    Earliest,
    Latest,
    Timestamp(i64),
}

#[cfg(test)]
mod tests {
    use kwire_proto::records::{BatchOptions, Compression, DecodeOptions, Record, encode_batch};

    use super::*;
    use crate::IsolationLevel;

    fn chunk(base: i64, fetch_offset: i64, compression: Compression) -> FetchedChunk {
        chunk_of(5, base, fetch_offset, compression)
    }

    fn chunk_of(n: i64, base: i64, fetch_offset: i64, compression: Compression) -> FetchedChunk {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                timestamp: 1_000 + i,
                key: (i % 2 == 0).then(|| Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(format!("v{i}"))),
                headers: vec![Header::new("h", Some(Bytes::from(format!("{i}"))))],
            })
            .collect();
        let mut opts = BatchOptions::default();
        opts.base_offset = base;
        opts.compression = compression;
        let batch = encode_batch(&records, opts).unwrap();
        FetchedChunk {
            tp: Arc::new(TopicPartition::new("t", 3)),
            fetch_offset,
            next_offset: base + n,
            high_watermark: base + n,
            last_stable_offset: base + n,
            log_start_offset: 0,
            records: batch.into_bytes(),
            aborted: None,
            isolation: IsolationLevel::ReadUncommitted,
            decode: DecodeOptions::default(),
            assignment_epoch: 0,
        }
    }

    #[test]
    fn owned_records_share_the_buffer_and_keep_every_field() {
        for compression in [Compression::None, Compression::Lz4] {
            let c = chunk(10, 12, compression);
            let recs = c.to_records().unwrap();
            assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), [12, 13, 14]);
            let r = &recs[0];
            assert_eq!((&*r.topic, r.partition, r.timestamp), ("t", 3, 1_002));
            assert_eq!(r.timestamp_type, TimestampType::CreateTime);
            assert_eq!((r.key_str(), r.value_str()), (Some("k2"), Some("v2")));
            assert_eq!(recs[1].key, None);
            assert_eq!(r.headers, vec![Header::new("h", Some(Bytes::from("2")))]);
            assert_eq!(r.topic_partition(), TopicPartition::new("t", 3));
            if compression == Compression::None {
                // Zero-copy: the value points into the fetched bytes.
                let raw = c.raw().as_ptr_range();
                assert!(raw.contains(&r.value.as_ref().unwrap().as_ptr()));
            }
        }
    }

    #[test]
    fn the_buffer_hands_out_at_most_max_and_says_where_reading_goes_on() {
        let mut b = RecordBuffer::new();
        assert!(b.take(10).is_none());
        b.fill(&chunk(10, 11, Compression::None)).unwrap();
        assert_eq!(b.len(), 4);
        let p = b.take(3).unwrap();
        assert_eq!(p.records.iter().map(|r| r.offset).collect::<Vec<_>>(), [11, 12, 13]);
        assert_eq!(p.next_offset, 14);
        let p = b.take(3).unwrap();
        assert_eq!(p.records.iter().map(|r| r.offset).collect::<Vec<_>>(), [14]);
        assert_eq!(p.next_offset, 15, "drained: the chunk's next offset");
        assert!(b.is_empty() && b.take(3).is_none());

        // Nothing at or after the fetch offset: no records, but the position moves.
        b.fill(&chunk(10, 15, Compression::None)).unwrap();
        let p = b.take(3).unwrap();
        assert!(p.records.is_empty());
        assert_eq!(p.next_offset, 15);

        // Revoked partitions' records go.
        b.fill(&chunk(10, 10, Compression::None)).unwrap();
        b.discard(&[TopicPartition::new("t", 2)]);
        assert_eq!(b.len(), 5);
        b.discard(&[TopicPartition::new("t", 3)]);
        assert!(b.is_empty());
        // max 0 still hands out one record.
        b.fill(&chunk(10, 10, Compression::None)).unwrap();
        assert_eq!(b.take(0).unwrap().records.len(), 1);
    }

    #[test]
    fn the_buffer_hands_out_whole_runs_without_moving_them() {
        let mut b = RecordBuffer::with_run(300);
        b.fill(&chunk_of(1_000, 0, 0, Compression::None)).unwrap();
        assert_eq!(b.len(), 1_000);
        let mut next = 0;
        for want in [300, 300, 300, 100] {
            let run = b.runs.front().map(|r| r.as_slices().0.as_ptr());
            let p = b.take(300).unwrap();
            assert_eq!(Some(p.records.as_ptr()), run, "the decoded run itself is handed out");
            assert_eq!((p.records.len(), p.records[0].offset), (want, next));
            next += want as i64;
            assert_eq!(p.next_offset, next);
        }
        assert!(b.take(300).is_none() && b.is_empty());
        assert_eq!(b.len(), 0);

        // A smaller max splits a run; a larger one still hands out one run.
        b.fill(&chunk_of(700, 0, 0, Compression::None)).unwrap();
        let p = b.take(200).unwrap();
        assert_eq!((p.records.len(), p.next_offset, b.len()), (200, 200, 500));
        let p = b.take(1_000).unwrap();
        assert_eq!((p.records.len(), p.records[0].offset, p.next_offset), (100, 200, 300));
        let p = b.take(1_000).unwrap();
        assert_eq!((p.records.len(), p.next_offset), (300, 600));
        let p = b.take(1_000).unwrap();
        assert_eq!((p.records.len(), p.next_offset), (100, 700));
        assert!(b.is_empty());

        // max.poll.records of a million: a small chunk's run does not reserve a million records.
        let mut b = RecordBuffer::with_run(1_000_000);
        b.fill(&chunk_of(10, 0, 0, Compression::None)).unwrap();
        assert!(b.runs[0].capacity() <= RUN_ROOM_MAX, "{}", b.runs[0].capacity());
        assert_eq!(b.take(1_000_000).unwrap().records.len(), 10);
    }

    #[test]
    fn corrupt_data_is_an_error_naming_the_partition() {
        let mut c = chunk(10, 10, Compression::None);
        let mut raw = c.records.to_vec();
        let last = raw.len() - 1;
        raw[last] ^= 0xff;
        c.records = Bytes::from(raw);
        let mut b = RecordBuffer::new();
        let e = b.fill(&c).unwrap_err();
        assert!(e.to_string().starts_with("t-3 at offset 10"), "{e}");
        assert!(b.is_empty());
    }
}
