//! The producer handle and its driver task.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kwire_conn::rt::{lock, sleep_until};
use kwire_conn::{ConnError, ConnPurpose};
use kwire_meta::retry::{RetryPolicy, Step};
use kwire_meta::{Cluster, MetaError, RetryAction, classify};
use kwire_proto::ErrorCode;
use kwire_proto::api::ApiKey;
use kwire_proto::msg::produce::{ProduceRequest, init_producer_id_request, produce_request};
use kwire_proto::records::Header;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use crate::accumulator::Appended;
use crate::batch::BatchAck;
use crate::engine::{Engine, SendOutcome};
use crate::partitioner::Partitioner;
use crate::planner::Request;
use crate::{Acks, ProduceError, ProducerConfig, TopicPartition, TxnGroupMetadata};

/// A record to send; everything is borrowed and copied into a batch by `send`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProducerRecord<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// Key (`None`: null).
    pub key: Option<&'a [u8]>,
    /// Value (`None`: null, a tombstone on compacted topics).
    pub value: Option<&'a [u8]>,
    /// Headers, in order; duplicate keys and null values are kept.
    pub headers: &'a [Header],
    /// Timestamp in ms since the epoch; `None`: now.
    pub timestamp: Option<i64>,
}

impl<'a> ProducerRecord<'a> {
    /// A record with a value and nothing else; add the rest with the
    /// builder methods:
    ///
    /// ```
    /// use kwire_produce::{Header, ProducerRecord};
    /// let headers = [Header::new("source".to_owned(), Some("cli".into()))];
    /// let rec = ProducerRecord::new("voters", br#"{"gender":"F"}"#).key(b"alice").headers(&headers);
    /// assert_eq!(rec.key, Some(&b"alice"[..]));
    /// ```
    pub fn new(topic: &'a str, value: &'a [u8]) -> Self {
        ProducerRecord { topic, value: Some(value), ..Default::default() }
    }

    /// A record with a null value: a tombstone on a compacted topic.
    pub fn tombstone(topic: &'a str, key: &'a [u8]) -> Self {
        ProducerRecord { topic, key: Some(key), ..Default::default() }
    }

    /// Sets the key (records with the same key go to the same partition).
    pub fn key(mut self, key: &'a [u8]) -> Self {
        self.key = Some(key);
        self
    }

    /// Sends to this partition instead of the partitioner's choice.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the headers (in order; duplicate keys and null values are kept).
    pub fn headers(mut self, headers: &'a [Header]) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the timestamp, in ms since the epoch (default: now).
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }
}

/// Where an acknowledged record ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset, or -1 when unknown (acks=0, or a duplicate the broker dropped).
    pub offset: i64,
    /// The record's timestamp (the broker's for LogAppendTime topics).
    pub timestamp: i64,
}

struct Segment {
    first: u32,
    count: u32,
    result: Result<BatchAck, ProduceError>,
}

/// The delivery handle of one batch's records: the engine reports outcomes
/// per batch (or per half of a split batch), the records' futures read them.
/// One allocation per batch, not per record.
#[derive(Default)]
pub(crate) struct BatchShared {
    segments: Mutex<Vec<Segment>>,
    /// Some segment has an outcome: until then a record's future answers
    /// "not yet" without taking the lock (an application that polls every
    /// pending future after each send does so once per record).
    any: AtomicBool,
    notify: Notify,
}

impl std::fmt::Debug for BatchShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchShared").finish_non_exhaustive()
    }
}

impl BatchShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Segment>> {
        lock(&self.segments)
    }

    /// The outcome for record `index`, once its batch has one.
    fn result(&self, index: u32) -> Option<Result<(BatchAck, u32), ProduceError>> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let segs = self.lock();
        let seg = segs.iter().find(|s| index >= s.first && index - s.first < s.count)?;
        match &seg.result {
            Ok(ack) => Some(Ok((*ack, index - seg.first))),
            Err(e) => Some(Err(e.clone())),
        }
    }

    fn complete(&self, first: u32, count: u32, result: Result<BatchAck, ProduceError>) {
        self.lock().push(Segment { first, count, result });
        self.any.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }
}

/// The pending outcome of one `send`.
#[derive(Debug)]
pub struct DeliveryFuture {
    shared: Arc<BatchShared>,
    index: u32,
    topic: Arc<str>,
    partition: i32,
    timestamp: i64,
}

impl DeliveryFuture {
    /// The partition the record went to.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The outcome if already known.
    pub fn try_result(&self) -> Option<Result<RecordMetadata, ProduceError>> {
        self.shared.result(self.index).map(|r| {
            r.map(|(ack, rel)| RecordMetadata {
                topic: self.topic.clone(),
                partition: self.partition,
                offset: if ack.base_offset < 0 { -1 } else { ack.base_offset + i64::from(rel) },
                timestamp: if ack.log_append_time >= 0 { ack.log_append_time } else { self.timestamp },
            })
        })
    }

    /// Waits for the broker's acknowledgement (or the error).
    pub async fn wait(self) -> Result<RecordMetadata, ProduceError> {
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(r) = self.try_result() {
                return r;
            }
            notified.await;
        }
    }
}

struct Inner {
    cluster: Cluster,
    cfg: ProducerConfig,
    engine: Mutex<Engine<Arc<BatchShared>>>,
    partitioner: Mutex<Partitioner>,
    memory: Semaphore,
    wake: Notify,
    progress: Notify,
    closed: AtomicBool,
    stop: Notify,
}

impl Inner {
    fn engine(&self) -> std::sync::MutexGuard<'_, Engine<Arc<BatchShared>>> {
        lock(&self.engine)
    }

    /// Delivers the engine's completions and returns freed buffer memory.
    fn settle(&self, e: &mut Engine<Arc<BatchShared>>) {
        let done = e.take_completions();
        let freed = e.take_freed();
        if freed > 0 {
            self.memory.add_permits(freed);
        }
        for c in done {
            c.delivery.complete(c.first, c.count, c.result);
        }
    }
}

/// An asynchronous Kafka producer (acks, idempotence, batching, retries).
/// Cheap to clone; every clone shares the same buffers and connections.
///
/// ```no_run
/// # async fn demo() -> Result<(), kwire_produce::ProduceError> {
/// use kwire_meta::{Cluster, ClusterConfig};
/// use kwire_produce::{Producer, ProducerConfig, ProducerRecord};
///
/// let producer = Producer::new(Cluster::new(ClusterConfig::default()), ProducerConfig::default()).await?;
/// let ack = producer.send(ProducerRecord::new("voters", br#"{"gender":"F"}"#)).await?;
/// let meta = ack.wait().await?;
/// println!("written to partition {} at offset {}", meta.partition, meta.offset);
/// producer.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("cfg", &self.inner.cfg).finish()
    }
}

impl Producer {
    /// Creates a producer: with idempotence, gets a producer id first.
    pub async fn new(cluster: Cluster, cfg: ProducerConfig) -> Result<Producer, ProduceError> {
        cfg.validate()?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9);
        let inner = Arc::new(Inner {
            engine: Mutex::new(Engine::new(cfg.clone())),
            partitioner: Mutex::new(Partitioner::new(cfg.partitioner, cfg.batch_size, seed)),
            memory: Semaphore::new(cfg.buffer_memory.min(Semaphore::MAX_PERMITS)),
            wake: Notify::new(),
            progress: Notify::new(),
            closed: AtomicBool::new(false),
            stop: Notify::new(),
            cluster,
            cfg,
        });
        let transactional = inner.cfg.transactional_id.is_some();
        if inner.cfg.idempotence && !transactional {
            let (pid, epoch) = init_producer_id(&inner, true).await?;
            inner.engine().on_producer_id(pid, epoch);
        }
        tokio::spawn(drive(inner.clone()));
        let producer = Producer { inner };
        if transactional {
            // Java's initTransactions(): find the coordinator, get the id's
            // producer id and a new epoch (fencing older instances, and
            // completing whatever transaction they left open).
            producer.inner.engine().txn_init()?;
            if let Err(e) = producer.wait_txn("initialize the transactional producer").await {
                producer.inner.closed.store(true, Ordering::Release);
                producer.inner.stop.notify_one();
                return Err(e);
            }
        }
        Ok(producer)
    }

    /// Opens a transaction (a producer with `transactional.id` only): every
    /// record sent until [`commit_transaction`](Self::commit_transaction) or
    /// [`abort_transaction`](Self::abort_transaction) belongs to it.
    pub fn begin_transaction(&self) -> Result<(), ProduceError> {
        self.inner.engine().txn_begin()
    }

    /// Commits the open transaction: sends what is buffered, waits for every
    /// record of it, then ends it with a commit. If a record failed, the
    /// transaction can only be aborted
    /// ([`ProduceError::TransactionAbortable`]). When the outcome is not known
    /// within `max.block.ms`, an error says so and the commit goes on: call
    /// it again to wait (it is never turned into an abort).
    pub async fn commit_transaction(&self) -> Result<(), ProduceError> {
        self.inner.engine().txn_commit()?;
        self.inner.wake.notify_one();
        self.wait_txn("commit the transaction").await
    }

    /// Aborts the open transaction: records not yet sent fail with
    /// [`ProduceError::TransactionAborted`], the ones in flight are waited
    /// for, and the transaction ends with an abort (read_committed consumers
    /// never see its records).
    pub async fn abort_transaction(&self) -> Result<(), ProduceError> {
        {
            let mut e = self.inner.engine();
            e.txn_abort()?;
            self.inner.settle(&mut e);
        }
        self.inner.wake.notify_one();
        self.wait_txn("abort the transaction").await
    }

    /// Sends a consumer group member's offsets (the next offset to read, per
    /// partition) into the open transaction (Kafka's
    /// `sendOffsetsToTransaction`, KIP-447): they are committed with the
    /// transaction's records, or not at all. `group` comes from
    /// `GroupConsumer::group_metadata()`: with its generation and member id
    /// the group coordinator refuses a member that a rebalance replaced (the
    /// transaction must then be aborted). Returns once the offsets are in the
    /// transaction.
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: impl IntoIterator<Item = (TopicPartition, i64)>,
        group: &TxnGroupMetadata,
    ) -> Result<(), ProduceError> {
        let offsets: Vec<_> = {
            let mut e = self.inner.engine();
            offsets.into_iter().map(|(tp, o)| (e.key(&tp.topic, tp.partition), o)).collect()
        };
        if offsets.is_empty() {
            return Ok(());
        }
        self.inner.engine().txn_send_offsets(group.clone(), offsets)?;
        self.wait_txn_until("send offsets to the transaction", |e| !e.txn_offsets_pending()).await
    }

    /// Waits until the transaction manager is at rest (no open transaction)
    /// or failed, for up to `max.block.ms`.
    async fn wait_txn(&self, what: &str) -> Result<(), ProduceError> {
        use crate::txn::TxnState;
        self.wait_txn_until(what, |e| e.txn_state() == Some(&TxnState::Ready)).await
    }

    /// Waits until `done` holds or the transaction failed, for up to
    /// `max.block.ms`.
    async fn wait_txn_until(
        &self,
        what: &str,
        done: impl Fn(&Engine<Arc<BatchShared>>) -> bool,
    ) -> Result<(), ProduceError> {
        use crate::txn::TxnState;
        let inner = &self.inner;
        let deadline = Instant::now() + inner.cfg.max_block;
        inner.wake.notify_one();
        loop {
            let notified = inner.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let e = inner.engine();
                if done(&e) {
                    return Ok(());
                }
                match e.txn_state() {
                    None => {
                        return Err(ProduceError::TransactionState(
                            "transactions need a transactional.id".into(),
                        ));
                    }
                    Some(TxnState::AbortableError(why)) => {
                        return Err(ProduceError::TransactionAbortable(why.clone()));
                    }
                    Some(TxnState::FatalError(why)) => {
                        return Err(ProduceError::TransactionFatal(why.clone()));
                    }
                    Some(TxnState::Fenced) => {
                        return Err(ProduceError::Fenced {
                            code: ErrorCode::PRODUCER_FENCED,
                            detail: Some("another producer with the same transactional.id took over".into()),
                        });
                    }
                    Some(_) => {}
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(ProduceError::TransactionState(format!(
                    "could not {what} within max.block.ms ({} ms); it goes on: call it again to wait",
                    inner.cfg.max_block.as_millis()
                )));
            }
        }
    }

    /// The settings.
    pub fn config(&self) -> &ProducerConfig {
        &self.inner.cfg
    }

    /// The producer id and epoch (-1, -1 without idempotence).
    pub fn producer_id(&self) -> (i64, i16) {
        self.inner.engine().producer()
    }

    /// Queues a record; resolves once it is in a batch (waiting for
    /// `buffer.memory` and for topic metadata up to `max.block.ms`). The
    /// returned future resolves when the broker acknowledges it.
    pub async fn send(&self, rec: ProducerRecord<'_>) -> Result<DeliveryFuture, ProduceError> {
        let inner = &self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(ProduceError::Closed);
        }
        let n = self.partitions(rec.topic).await?;
        let partition = match rec.partition {
            Some(p) if p >= 0 && (p as u32) < n.get() => p,
            Some(p) => {
                return Err(ProduceError::UnknownPartition {
                    topic: rec.topic.to_owned(),
                    partition: p,
                    partitions: n.get(),
                });
            }
            None => {
                let size = rec.key.map_or(0, <[u8]>::len) + rec.value.map_or(0, <[u8]>::len);
                lock(&inner.partitioner).partition(rec.topic, rec.key, size, n)
            }
        };
        let timestamp = rec.timestamp.unwrap_or_else(now_ms);
        // Read the clock only when a batch must be opened (once per batch,
        // not per record: a clock read is a visible share of a send's cost).
        let mut deadline: Option<Instant> = None;
        loop {
            let (appended, topic, wake) = {
                let mut engine = inner.engine();
                let key = engine.key(rec.topic, partition);
                let a = engine.try_append(&key, timestamp, rec.key, rec.value, rec.headers)?;
                let wake = engine.take_closed_hint();
                (a, key.0, wake)
            };
            if wake {
                inner.wake.notify_one();
            }
            match appended {
                Appended::Done(shared, index) => {
                    return Ok(DeliveryFuture { shared, index, topic, partition, timestamp });
                }
                Appended::NeedBatch(bytes) => {
                    let permits = u32::try_from(bytes).unwrap_or(u32::MAX);
                    let acquire = inner.memory.acquire_many(permits);
                    let deadline = *deadline.get_or_insert_with(|| Instant::now() + inner.cfg.max_block);
                    let permit = match tokio::time::timeout_at(deadline, acquire).await {
                        Ok(Ok(p)) => p,
                        Ok(Err(_)) => return Err(ProduceError::Closed),
                        Err(_) => {
                            return Err(ProduceError::BufferFull {
                                buffer_memory: inner.cfg.buffer_memory,
                                max_block: inner.cfg.max_block,
                            });
                        }
                    };
                    permit.forget();
                    let key = (topic, partition);
                    let shared = Arc::new(BatchShared::default());
                    let opened = inner.engine().open_batch(&key, bytes, shared, std::time::Instant::now());
                    if opened {
                        // The driver must learn the new batch's linger deadline.
                        inner.wake.notify_one();
                    } else {
                        inner.memory.add_permits(bytes);
                    }
                }
            }
        }
    }

    /// Sends one record and waits for its acknowledgement (after up to
    /// `linger.ms` in its batch): the simple way, one await per record.
    /// [`send`](Self::send) returns as soon as the record is in a batch, so
    /// many records are in flight at once: use it for throughput.
    ///
    /// ```no_run
    /// # async fn demo(producer: kwire_produce::Producer) -> Result<(), kwire_produce::ProduceError> {
    /// use kwire_produce::ProducerRecord;
    /// let meta = producer.send_and_wait(ProducerRecord::new("voters", b"{}").key(b"alice")).await?;
    /// println!("partition {} offset {}", meta.partition, meta.offset);
    /// # Ok(()) }
    /// ```
    pub async fn send_and_wait(&self, rec: ProducerRecord<'_>) -> Result<RecordMetadata, ProduceError> {
        self.send(rec).await?.wait().await
    }

    /// Partition count of `topic`, waiting for metadata up to `max.block.ms`.
    async fn partitions(&self, topic: &str) -> Result<NonZeroU32, ProduceError> {
        let cluster = &self.inner.cluster;
        // The count as last known, however old: the driver's leader lookups
        // refresh metadata that has outlived metadata.max.age.ms (as Java's
        // sender does), and a send need not read the clock to check.
        if let Some(t) = cluster.known_topic(topic) {
            if let Some(n) = NonZeroU32::new(t.partitions.len() as u32) {
                return Ok(n);
            }
        }
        kwire_meta::admin::validate_topic_name(topic)?;
        let auto_create = self.inner.cfg.allow_auto_create_topics;
        let names = [topic.to_owned()];
        let names = &names;
        let policy = RetryPolicy::within(self.inner.cfg.max_block).max_pause(Duration::from_millis(250));
        // A cluster this producer has reached before may be unreachable for a
        // moment (a network blip, every broker restarting): like Java's
        // producer, wait for its metadata up to max.block.ms. One never
        // reached (a wrong address) fails at once.
        let reached_before = cluster.last_metadata().is_some();
        let found = cluster
            .with_retry("topic metadata", policy, |_| async move {
                let md = match cluster.fetch_metadata_opts(Some(names), auto_create).await {
                    Ok(md) => md,
                    Err(e) if reached_before && e.conn().is_some_and(|c| !c.is_fatal()) => {
                        return Ok(Step::Retry(ProduceError::Meta(e)));
                    }
                    Err(e) => return Err(e.into()),
                };
                let partitions = md.topics.get(topic).map_or(0, |t| t.partitions.len() as u32);
                if let Some(n) = NonZeroU32::new(partitions) {
                    return Ok(Step::Done(n));
                }
                let code = md.topic_errors.get(topic).copied();
                let retriable = code.is_none_or(|c| classify(c) != RetryAction::Fatal)
                    && (auto_create || code != Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
                let code = code.unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
                if !retriable {
                    return Err(topic_error(topic, code));
                }
                Ok(Step::Retry(topic_error(topic, code)))
            })
            .await?;
        found.map_err(|gave_up| gave_up.last)
    }

    /// Sends everything buffered now and waits until every record sent so
    /// far is acknowledged or failed.
    pub async fn flush(&self) -> Result<(), ProduceError> {
        let inner = &self.inner;
        loop {
            let notified = inner.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut e = inner.engine();
                if e.outstanding() == 0 {
                    e.set_flushing(false);
                    return Ok(());
                }
                e.set_flushing(true);
            }
            inner.wake.notify_one();
            notified.await;
        }
    }

    /// Flushes, then stops the producer. Records sent afterwards fail with
    /// [`ProduceError::Closed`].
    pub async fn close(&self) -> Result<(), ProduceError> {
        let open = matches!(
            self.inner.engine().txn_state(),
            Some(crate::txn::TxnState::InTransaction | crate::txn::TxnState::AbortableError(_))
        );
        if open {
            // As Kafka's producer does on close: abort what was not committed.
            tracing::info!("aborting the open transaction on close");
            let _ = self.abort_transaction().await;
        }
        let r = self.flush().await;
        self.inner.closed.store(true, Ordering::Release);
        self.inner.stop.notify_one();
        r
    }
}

/// The error for a topic whose metadata has no partitions (`code` from the broker).
fn topic_error(topic: &str, code: ErrorCode) -> ProduceError {
    let message =
        (code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION).then(|| format!("topic '{topic}' does not exist"));
    MetaError::Broker { context: format!("topic '{topic}'"), code, message }.into()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// True for errors that mean no broker could be reached at all (refused,
/// unresolvable, unanswered connects on every address).
fn unreachable(e: &ProduceError) -> bool {
    matches!(
        e,
        ProduceError::Meta(MetaError::Conn(
            ConnError::Connect { .. }
                | ConnError::ConnectTimeout { .. }
                | ConnError::Resolve { .. }
                | ConnError::NoBootstrap(_)
        ))
    )
}

/// InitProducerId for an idempotent producer (a new producer id: the
/// broker gives every non-transactional request a fresh one), trying each
/// broker in turn (one may still be loading its producer-id block). Gives up
/// after `max.block.ms`; with `first`, at once when no broker can be reached
/// at all, as every other command does.
async fn init_producer_id(inner: &Inner, first: bool) -> Result<(i64, i16), ProduceError> {
    let cluster = &inner.cluster;
    let start = Instant::now();
    let policy = RetryPolicy::within(inner.cfg.max_block);
    let found = cluster
        .with_retry("InitProducerId", policy, |n| async move {
            let result = async {
                let ids = cluster.pool().broker_ids();
                let conn = if ids.is_empty() {
                    cluster.any_broker().await?
                } else {
                    // One broker after the other.
                    let id = ids[n.saturating_sub(1) as usize % ids.len()];
                    match cluster.broker(id).await {
                        Ok(c) => c,
                        Err(_) => cluster.any_broker().await?,
                    }
                };
                let v = conn.version(ApiKey::InitProducerId)?;
                let req = init_producer_id_request(None, i32::MAX, None);
                Ok::<_, ProduceError>(conn.send_version(&req, v).await?)
            }
            .await;
            let last = match result {
                Ok(r) if r.error_code.is_ok() => {
                    tracing::debug!(producer_id = r.producer_id, epoch = r.producer_epoch, "InitProducerId");
                    return Ok(Step::Done((r.producer_id, r.producer_epoch)));
                }
                Ok(r) if r.error_code == ErrorCode::CLUSTER_AUTHORIZATION_FAILED => {
                    return Err(ProduceError::Authorization {
                        resource: "the cluster (IdempotentWrite, needed for enable.idempotence=true)".into(),
                        code: r.error_code,
                    });
                }
                Ok(r) if classify(r.error_code) == RetryAction::Fatal => {
                    return Err(ProduceError::ProducerId {
                        waited: start.elapsed(),
                        last: format!("InitProducerId failed: {}", r.error_code),
                    });
                }
                Ok(r) => format!("InitProducerId: {}", r.error_code),
                // Wrong credentials or certificates, or a broker that broke the
                // protocol: retrying would only hammer the brokers.
                Err(e) if e.conn().is_some_and(ConnError::is_fatal) => return Err(e),
                Err(e) if first && n == 1 && unreachable(&e) => return Err(e),
                Err(e) => e.to_string(),
            };
            if n == 3 {
                tracing::info!(last = %last, "still waiting for a producer id (idempotence) from the brokers");
            }
            Ok(Step::Retry(last))
        })
        .await?;
    found.map_err(|gave_up| ProduceError::ProducerId { waited: gave_up.waited, last: gave_up.last })
}

type SendResult = (u64, SendOutcome);

/// The driver: asks the engine for requests, hands them to per-broker
/// lanes, feeds outcomes back, delivers completions. All protocol decisions
/// are the engine's.
async fn drive(inner: Arc<Inner>) {
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<SendResult>();
    let (pid_tx, mut pid_rx) = tokio::sync::mpsc::unbounded_channel::<Result<(i64, i16), ProduceError>>();
    let (txn_tx, mut txn_rx) = tokio::sync::mpsc::unbounded_channel::<crate::txn::TxnResponse>();
    let mut lanes: HashMap<i32, tokio::sync::mpsc::UnboundedSender<Request>> = HashMap::new();
    let mut pid_pending = false;
    let refreshing: Arc<Mutex<HashSet<Arc<str>>>> = Arc::new(Mutex::new(HashSet::new()));
    loop {
        let now = std::time::Instant::now();
        let cluster = inner.cluster.clone();
        let leader_of = move |topic: &str, partition: i32| -> Option<i32> {
            let t = cluster.cached_topic(topic)?;
            let p = t.partitions.iter().find(|p| p.partition == partition)?;
            (p.leader >= 0).then_some(p.leader)
        };
        let (polled, txn_call, wake_at) = {
            let mut e = inner.engine();
            let p = e.poll_requests(now, &leader_of);
            let _ = e.take_closed_hint();
            let txn_call = e.poll_txn_request(now).map(|req| (req, txn_call(&inner.cfg, &e)));
            inner.settle(&mut e);
            (p, txn_call, e.next_wake(now))
        };
        if let Some((req, call)) = txn_call {
            tracing::debug!(request = ?req, coordinator = ?call.coordinator, "transaction coordinator request");
            let cluster = inner.cluster.clone();
            let tx = txn_tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(crate::txn_io::execute(&cluster, &call, &req).await);
            });
        }
        inner.progress.notify_waiters();
        if polled.need_producer_id && !pid_pending {
            pid_pending = true;
            let inner2 = inner.clone();
            let tx = pid_tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(init_producer_id(&inner2, false).await);
            });
        }
        for topic in polled.refresh {
            spawn_refresh(&inner, &refreshing, topic);
        }
        for req in polled.requests {
            let broker = req.broker;
            let lane =
                lanes.entry(broker).or_insert_with(|| spawn_lane(inner.clone(), broker, done_tx.clone()));
            if let Err(e) = lane.send(req) {
                // The lane ended (it never does while we hold its sender); answer at once.
                let _ = done_tx.send((e.0.id, SendOutcome::NotSent(format!("no lane to broker {broker}"))));
            }
        }
        tokio::select! {
            _ = inner.wake.notified() => {}
            Some((id, outcome)) = done_rx.recv() => {
                let refresh = {
                    let mut e = inner.engine();
                    let r = e.handle_response(id, outcome, std::time::Instant::now());
                    inner.settle(&mut e);
                    r
                };
                for t in refresh {
                    inner.cluster.invalidate_topic(&t);
                    spawn_refresh(&inner, &refreshing, t);
                }
            }
            Some(resp) = txn_rx.recv() => {
                tracing::debug!(response = ?resp, "transaction coordinator response");
                let mut e = inner.engine();
                e.handle_txn_response(resp, std::time::Instant::now());
                inner.settle(&mut e);
            }
            Some(r) = pid_rx.recv() => {
                pid_pending = false;
                let mut e = inner.engine();
                match r {
                    Ok((pid, epoch)) => e.on_producer_id(pid, epoch),
                    Err(err) => {
                        tracing::warn!(error = %err, "no producer id; failing buffered records");
                        e.abort_all(&err);
                        inner.settle(&mut e);
                    }
                }
            }
            _ = sleep_until(wake_at.map(tokio::time::Instant::from_std)) => {}
            _ = inner.stop.notified() => {
                let mut e = inner.engine();
                if !(e.outstanding() == 0 && e.requests_in_flight() == 0) {
                    // close() flushed; anything left is failed.
                    e.abort_all(&ProduceError::Closed);
                    inner.settle(&mut e);
                    drop(e);
                    inner.progress.notify_waiters();
                }
                return;
            }
        }
    }
}

/// What a transport error means for a request that was (or wasn't) sent.
fn send_failure(err: ConnError, sent: bool) -> SendOutcome {
    if err.is_fatal() {
        // A protocol violation in the response: the request was processed.
        let maybe_written = sent && err.is_protocol_violation();
        return SendOutcome::Fatal { error: err.into(), maybe_written };
    }
    if sent { SendOutcome::Lost(err.to_string()) } else { SendOutcome::NotSent(err.to_string()) }
}

/// A lane writes one broker's requests to its connection strictly in the
/// order the engine planned them, and hands the outcomes back in the same
/// order.
fn spawn_lane(
    inner: Arc<Inner>,
    broker: i32,
    done: tokio::sync::mpsc::UnboundedSender<SendResult>,
) -> tokio::sync::mpsc::UnboundedSender<Request> {
    type Waiting = (u64, i16, Option<kwire_conn::PendingResponse<ProduceRequest>>);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Request>();
    let (wtx, mut wrx) = tokio::sync::mpsc::unbounded_channel::<Result<Waiting, SendResult>>();
    let done2 = done.clone();
    let inner2 = inner.clone();
    tokio::spawn(async move {
        while let Some(next) = wrx.recv().await {
            let out = match next {
                Ok((id, _, None)) => (id, SendOutcome::Written),
                Ok((id, version, Some(p))) => match p.wait(version).await {
                    Ok(r) => (id, SendOutcome::Response(r)),
                    Err(e) => {
                        if e.is_disconnect() {
                            inner2.cluster.pool().invalidate(broker).await;
                        }
                        (id, send_failure(e, true))
                    }
                },
                Err(early) => early,
            };
            if done2.send(out).is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(req) = rx.recv().await {
            let conn = match inner.cluster.broker_for(broker, ConnPurpose::Produce).await {
                Ok(c) => c,
                Err(e) => {
                    let out = match e {
                        MetaError::Conn(c) => send_failure(c, false),
                        other => SendOutcome::NotSent(format!("broker {broker}: {other}")),
                    };
                    let _ = wtx.send(Err((req.id, out)));
                    continue;
                }
            };
            let version = match conn.version(ApiKey::Produce) {
                Ok(v) => v.min(inner.engine().max_produce_version()),
                Err(e) => {
                    let _ = wtx.send(Err((req.id, send_failure(e, false))));
                    continue;
                }
            };
            let pr = build_request(&inner.cfg, &req);
            let queued = if inner.cfg.acks == Acks::None {
                conn.enqueue_oneway(&pr, version).map(|()| None)
            } else {
                conn.enqueue(&pr, version, inner.cfg.request_timeout + Duration::from_secs(5)).map(Some)
            };
            let msg = match queued {
                Ok(p) => Ok((req.id, version, p)),
                Err(e) => Err((req.id, send_failure(e, false))),
            };
            if wtx.send(msg).is_err() {
                return;
            }
        }
    });
    tx
}

fn spawn_refresh(inner: &Arc<Inner>, refreshing: &Arc<Mutex<HashSet<Arc<str>>>>, topic: Arc<str>) {
    {
        let mut r = lock(refreshing);
        if !r.insert(topic.clone()) {
            return;
        }
    }
    let inner = inner.clone();
    let refreshing = refreshing.clone();
    tokio::spawn(async move {
        // Rate-limit refreshes of one topic to one per retry backoff.
        let _ = inner.cluster.fetch_metadata(Some(&[topic.to_string()])).await;
        tokio::time::sleep(inner.cfg.retry_backoff).await;
        lock(&refreshing).remove(&topic);
        inner.wake.notify_one();
    });
}

fn build_request(cfg: &ProducerConfig, req: &Request) -> ProduceRequest {
    let timeout_ms = i32::try_from(cfg.request_timeout.as_millis()).unwrap_or(i32::MAX);
    let batches = req.batches.iter().map(|((topic, partition), bytes)| (&**topic, *partition, bytes.clone()));
    produce_request(cfg.acks.wire(), timeout_ms, cfg.transactional_id.as_deref(), batches)
}

/// What a transaction coordinator call needs from the engine now.
fn txn_call(cfg: &ProducerConfig, e: &Engine<Arc<BatchShared>>) -> crate::txn_io::TxnCall {
    crate::txn_io::TxnCall {
        transactional_id: Arc::from(cfg.transactional_id.as_deref().unwrap_or_default()),
        timeout_ms: i32::try_from(cfg.transaction_timeout.as_millis()).unwrap_or(i32::MAX),
        coordinator: e.txn_coordinator(),
        producer: e.txn_producer(),
    }
}
