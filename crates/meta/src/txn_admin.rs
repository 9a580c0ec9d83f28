//! Transaction administration, what `kafka-transactions.sh` does: list the
//! transactions every coordinator knows, describe one transactional id,
//! describe a partition's active producers, abort a hanging transaction and
//! find hanging transactions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kwire_meta::MetaError> {
//! use kwire_meta::{Cluster, ClusterConfig, txn_admin};
//! let cluster = Cluster::new(ClusterConfig::default());
//! for t in txn_admin::list_transactions(&cluster, &Default::default()).await? {
//!     println!("{} on {}: {} (producer {})", t.transactional_id, t.coordinator_id, t.state, t.producer_id);
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kwire_conn::{ConnError, Connection};
use kwire_proto::api::ApiKey;
use kwire_proto::msg::txn_admin::{
    TxnMarkerSpec, describe_producers_request, describe_transactions_request, list_transactions_request,
    write_txn_markers_request,
};
use kwire_proto::{ErrorCode, TopicPartition};

pub use kwire_proto::msg::txn_admin::{ListTransactionsFilter, ProducerState};

use crate::coordinator::CoordinatorKey;
use crate::retry::{RetryPolicy, Step};
use crate::{Cluster, MetaError, Retrier};

/// TRANSACTIONAL_ID_NOT_FOUND (Kafka 3.0+).
const TRANSACTIONAL_ID_NOT_FOUND: ErrorCode = ErrorCode(105);

/// Most partitions per DescribeProducers request (as Kafka's tool batches).
const MAX_BATCH: usize = 500;

/// One transaction as a coordinator lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionListing {
    /// The transactional id.
    pub transactional_id: String,
    /// The broker coordinating it.
    pub coordinator_id: i32,
    /// Its current producer id.
    pub producer_id: i64,
    /// State (`Empty`, `Ongoing`, `PrepareCommit`, `CompleteAbort`, …).
    pub state: String,
}

/// The state of one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    /// The broker coordinating it.
    pub coordinator_id: i32,
    /// The transactional id.
    pub transactional_id: String,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// State (`Ongoing`, …).
    pub state: String,
    /// The producer's `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// Start of the current transaction (ms since the epoch), if one is open.
    pub start_time_ms: Option<i64>,
    /// Partitions in the transaction (while preparing to commit or abort:
    /// those still waiting for their marker), in the coordinator's order.
    pub partitions: Vec<TopicPartition>,
}

/// Which transaction to abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortSpec {
    /// The open transaction whose first offset on the partition is this
    /// (brokers 3.0+: the producer is found with DescribeProducers).
    StartOffset(i64),
    /// A producer given explicitly (any broker).
    Producer {
        /// Producer id.
        producer_id: i64,
        /// Producer epoch.
        producer_epoch: i16,
        /// Coordinator epoch; negative values become 0 (as Kafka's tool does:
        /// 0 is at most any real epoch).
        coordinator_epoch: i32,
    },
}

/// The marker an abort wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTransaction {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Coordinator epoch the marker carried.
    pub coordinator_epoch: i32,
    /// The leader that wrote it.
    pub leader: i32,
}

/// Where to look for hanging transactions (at least a broker or a topic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HangingFilter {
    /// Partitions with a replica on this broker, described on that broker.
    pub broker_id: Option<i32>,
    /// Only this topic.
    pub topic: Option<String>,
    /// Only this partition (needs `topic`).
    pub partition: Option<i32>,
}

/// An open transaction no coordinator will finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HangingTransaction {
    /// The partition.
    pub partition: TopicPartition,
    /// The producer holding it open.
    pub producer: ProducerState,
}

fn broker_err(context: String, code: ErrorCode, message: Option<String>) -> MetaError {
    MetaError::Broker { context, code, message }
}

fn unsupported(e: ConnError, what: &str) -> MetaError {
    match e {
        ConnError::UnsupportedApi { .. } => MetaError::Invalid(format!("{what}: {e}")),
        e => e.into(),
    }
}

/// Whether a coordinator/leader error is worth another round after backoff.
fn transient(code: ErrorCode) -> bool {
    code.is_retriable()
        || matches!(
            code,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
                | ErrorCode::COORDINATOR_NOT_AVAILABLE
                | ErrorCode::NOT_COORDINATOR
                | ErrorCode::NOT_LEADER_OR_FOLLOWER
        )
}

/// The retry state of one admin call: the cluster's one retry loop
/// ([`Cluster::retrier`]) within the request timeout.
struct Deadline<'a> {
    retrier: Retrier<'a>,
}

impl<'a> Deadline<'a> {
    fn new(cluster: &'a Cluster, what: &'a str) -> Self {
        let policy = RetryPolicy::within(cluster.config().conn.request_timeout);
        Deadline { retrier: cluster.retrier(what, policy) }
    }

    /// Sleeps before the next attempt, or returns the typed give-up error
    /// (with `last`) once time is up.
    async fn retry(&mut self, last: MetaError) -> Result<(), MetaError> {
        match self.retrier.next::<(), _>(Step::Retry(last)).await {
            Ok(_) => Ok(()),
            Err(gave_up) => Err(gave_up.into_error()),
        }
    }
}

/// Every transaction of every coordinator (ListTransactions to each broker),
/// sorted by coordinator, each coordinator's in its order. `filter`'s
/// duration needs brokers 3.8+ and its pattern 4.1+ (an error says so).
pub async fn list_transactions(
    cluster: &Cluster,
    filter: &ListTransactionsFilter,
) -> Result<Vec<TransactionListing>, MetaError> {
    let md = cluster.fetch_metadata(Some(&[])).await?;
    let req = list_transactions_request(filter);
    let mut out = Vec::new();
    for id in md.brokers.keys() {
        let mut deadline = Deadline::new(cluster, "list transactions");
        let resp = loop {
            let conn = cluster.broker(*id).await?;
            let v =
                conn.version(ApiKey::ListTransactions).map_err(|e| unsupported(e, "list transactions"))?;
            if filter.duration_ms.is_some() && v < 1 {
                return Err(MetaError::Invalid(format!(
                    "broker {id} cannot filter transactions by duration (needs ListTransactions v1, Kafka 3.8+; it speaks v{v})"
                )));
            }
            if filter.transactional_id_pattern.is_some() && v < 2 {
                return Err(MetaError::Invalid(format!(
                    "broker {id} cannot filter transactions by id pattern (needs ListTransactions v2, Kafka 4.1+; it speaks v{v})"
                )));
            }
            let resp = conn.send_version(&req, v).await?;
            if resp.error_code.is_err() {
                let e = broker_err(format!("list transactions on broker {id}"), resp.error_code, None);
                if transient(resp.error_code) {
                    deadline.retry(e).await?;
                    continue;
                }
                return Err(e);
            }
            break resp;
        };
        out.extend(resp.transactions.into_iter().map(|t| TransactionListing {
            transactional_id: t.transactional_id,
            coordinator_id: *id,
            producer_id: t.producer_id,
            state: t.state,
        }));
    }
    Ok(out)
}

/// The transaction coordinator of `id` and a connection to it (one round).
async fn find_transaction_coordinator(cluster: &Cluster, id: &str) -> Result<(i32, Connection), MetaError> {
    crate::coordinator::find_coordinator(cluster, CoordinatorKey::Transaction(id)).await
}

/// Describes transactional id `id` at its coordinator. An id the coordinator
/// doesn't know is [`MetaError::TransactionalIdNotFound`].
pub async fn describe_transaction(cluster: &Cluster, id: &str) -> Result<TransactionDescription, MetaError> {
    if id.is_empty() {
        return Err(MetaError::Invalid("the transactional id must not be empty".into()));
    }
    let req = describe_transactions_request(&[id]);
    let mut deadline = Deadline::new(cluster, "describe transaction");
    loop {
        let (node, conn) = match find_transaction_coordinator(cluster, id).await {
            Ok(x) => x,
            Err(e) if e.code().is_some_and(transient) || is_disconnect(&e) => {
                deadline.retry(e).await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let v = conn
            .version(ApiKey::DescribeTransactions)
            .map_err(|e| unsupported(e, "describe transactions (Kafka 3.0+)"))?;
        let resp = match conn.send_version(&req, v).await {
            Ok(r) => r,
            Err(e) if e.is_disconnect() => {
                cluster.pool().invalidate(node).await;
                deadline.retry(e.into()).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let Some(t) = resp.transactions.into_iter().find(|t| t.transactional_id == id) else {
            return Err(MetaError::Invalid(format!(
                "broker {node} answered DescribeTransactions without transactional id '{id}'"
            )));
        };
        if t.error_code == TRANSACTIONAL_ID_NOT_FOUND {
            return Err(MetaError::TransactionalIdNotFound(id.to_owned()));
        }
        if t.error_code.is_err() {
            let e = broker_err(format!("describe transactional id '{id}'"), t.error_code, None);
            if transient(t.error_code) {
                deadline.retry(e).await?;
                continue;
            }
            return Err(e);
        }
        let partitions = t
            .topics
            .into_iter()
            .flat_map(|tt| {
                let topic = tt.topic;
                tt.partitions.into_iter().map(move |p| TopicPartition::new(topic.clone(), p))
            })
            .collect();
        return Ok(TransactionDescription {
            coordinator_id: node,
            transactional_id: t.transactional_id,
            producer_id: t.producer_id,
            producer_epoch: t.producer_epoch,
            state: t.state,
            timeout_ms: t.timeout_ms,
            start_time_ms: (t.start_time_ms >= 0).then_some(t.start_time_ms),
            partitions,
        });
    }
}

fn is_disconnect(e: &MetaError) -> bool {
    matches!(e, MetaError::Conn(c) if c.is_disconnect())
}

/// Checks that `tp` exists, with a clear error for an unknown topic or a
/// partition out of range.
async fn check_partition(cluster: &Cluster, tp: &TopicPartition) -> Result<(), MetaError> {
    let t = cluster.topic(&tp.topic).await?;
    if !t.partitions.iter().any(|p| p.partition == tp.partition) {
        return Err(MetaError::Invalid(format!(
            "partition {} does not exist (topic '{}' has {} partitions)",
            tp.partition,
            tp.topic,
            t.partitions.len()
        )));
    }
    Ok(())
}

/// DescribeProducers for `parts` on broker `node`; one result per partition.
async fn describe_producers_on(
    cluster: &Cluster,
    node: i32,
    parts: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, Result<Vec<ProducerState>, MetaError>>, MetaError> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in parts {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    let req = describe_producers_request(by_topic.iter().map(|(t, p)| (*t, &p[..])));
    let conn = cluster.broker(node).await?;
    let v = conn
        .version(ApiKey::DescribeProducers)
        .map_err(|e| unsupported(e, "describe producers (Kafka 3.0+)"))?;
    let resp = conn.send_version(&req, v).await?;
    let mut out = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            let tp = TopicPartition::new(t.topic.clone(), p.partition);
            let r = if p.error_code.is_err() {
                Err(broker_err(
                    format!("describe producers of {tp} on broker {node}"),
                    p.error_code,
                    p.error_message,
                ))
            } else {
                Ok(p.producers)
            };
            out.insert(tp, r);
        }
    }
    Ok(out)
}

/// The active producers of `tp`, as its leader (or broker `broker_id`, any
/// replica) keeps them.
pub async fn describe_producers(
    cluster: &Cluster,
    tp: &TopicPartition,
    broker_id: Option<i32>,
) -> Result<Vec<ProducerState>, MetaError> {
    check_partition(cluster, tp).await?;
    let timeout = cluster.config().conn.request_timeout;
    let mut deadline = Deadline::new(cluster, "describe producers");
    loop {
        let node = match broker_id {
            Some(b) => b,
            None => cluster.leader(&tp.topic, tp.partition, timeout).await?.0,
        };
        let r = match describe_producers_on(cluster, node, std::slice::from_ref(tp)).await {
            Ok(mut m) => m.remove(tp).unwrap_or_else(|| {
                Err(MetaError::Invalid(format!("broker {node} answered DescribeProducers without {tp}")))
            }),
            Err(e) => Err(e),
        };
        match r {
            Err(e) if broker_id.is_none() && (e.code().is_some_and(transient) || is_disconnect(&e)) => {
                cluster.invalidate_topic(&tp.topic);
                deadline.retry(e).await?;
            }
            r => return r,
        }
    }
}

/// The producer whose open transaction on a partition starts at `start_offset`.
pub fn producer_at_start_offset(producers: &[ProducerState], start_offset: i64) -> Option<&ProducerState> {
    producers.iter().find(|p| p.current_txn_start_offset >= 0 && p.current_txn_start_offset == start_offset)
}

/// Aborts an open transaction on `tp` by writing an abort marker at its
/// leader (WriteTxnMarkers, as Kafka's admin client does). With
/// [`AbortSpec::StartOffset`] the producer is looked up first (brokers 3.0+);
/// no open transaction there is [`MetaError::NoOpenTransaction`].
pub async fn abort_transaction(
    cluster: &Cluster,
    tp: &TopicPartition,
    spec: AbortSpec,
) -> Result<AbortedTransaction, MetaError> {
    check_partition(cluster, tp).await?;
    let (producer_id, producer_epoch, coordinator_epoch) = match spec {
        AbortSpec::Producer { producer_id, producer_epoch, coordinator_epoch } => {
            (producer_id, producer_epoch, coordinator_epoch.max(0))
        }
        AbortSpec::StartOffset(start_offset) => {
            let producers = describe_producers(cluster, tp, None).await?;
            let Some(p) = producer_at_start_offset(&producers, start_offset) else {
                return Err(MetaError::NoOpenTransaction {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    start_offset,
                });
            };
            let epoch = i16::try_from(p.producer_epoch).map_err(|_| {
                MetaError::Invalid(format!(
                    "producer {} has epoch {} out of range",
                    p.producer_id, p.producer_epoch
                ))
            })?;
            (p.producer_id, epoch, p.coordinator_epoch.max(0))
        }
    };
    let partitions = [tp.partition];
    let req = write_txn_markers_request(&TxnMarkerSpec {
        producer_id,
        producer_epoch,
        coordinator_epoch,
        commit: false,
        topic: &tp.topic,
        partitions: &partitions,
    });
    let timeout = cluster.config().conn.request_timeout;
    let mut deadline = Deadline::new(cluster, "abort transaction");
    loop {
        let (leader, _) = cluster.leader(&tp.topic, tp.partition, timeout).await?;
        let conn = cluster.broker(leader).await?;
        let v = conn.version(ApiKey::WriteTxnMarkers).map_err(|e| unsupported(e, "abort a transaction"))?;
        let resp = match conn.send_version(&req, v).await {
            Ok(r) => r,
            Err(e) if e.is_disconnect() => {
                cluster.pool().invalidate(leader).await;
                deadline.retry(e.into()).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let code = resp
            .markers
            .iter()
            .filter(|m| m.producer_id == producer_id)
            .flat_map(|m| &m.partitions)
            .find(|p| p.topic == tp.topic && p.partition == tp.partition)
            .map(|p| p.error_code);
        let Some(code) = code else {
            return Err(MetaError::Invalid(format!("broker {leader} answered WriteTxnMarkers without {tp}")));
        };
        if code.is_ok() {
            return Ok(AbortedTransaction { producer_id, producer_epoch, coordinator_epoch, leader });
        }
        let e = broker_err(
            format!(
                "abort the transaction of producer {producer_id} (epoch {producer_epoch}, coordinator epoch {coordinator_epoch}) on {tp}"
            ),
            code,
            None,
        );
        if transient(code) {
            cluster.invalidate_topic(&tp.topic);
            deadline.retry(e).await?;
            continue;
        }
        return Err(e);
    }
}

/// Open transactions on `producers` of `tp` whose last write is more than
/// `max_timeout_ms` before `now_ms`: the candidates for hanging.
pub fn stale_open_transactions(
    tp: &TopicPartition,
    producers: &[ProducerState],
    now_ms: i64,
    max_timeout_ms: i64,
) -> Vec<HangingTransaction> {
    producers
        .iter()
        .filter(|p| {
            p.current_txn_start_offset >= 0 && now_ms.saturating_sub(p.last_timestamp) > max_timeout_ms
        })
        .map(|p| HangingTransaction { partition: tp.clone(), producer: p.clone() })
        .collect()
}

/// Of `candidates`, those no coordinator will finish: the producer id has no
/// transactional id (`ids`), the id has no state (`descriptions` without it),
/// or its transaction doesn't include the partition.
pub fn filter_hanging(
    candidates: Vec<HangingTransaction>,
    ids: &BTreeMap<i64, String>,
    descriptions: &BTreeMap<String, TransactionDescription>,
) -> Vec<HangingTransaction> {
    candidates
        .into_iter()
        .filter(|c| {
            let Some(id) = ids.get(&c.producer.producer_id) else { return true };
            let Some(d) = descriptions.get(id) else { return true };
            !d.partitions.contains(&c.partition)
        })
        .collect()
}

/// Hanging transactions (as `kafka-transactions.sh find-hanging`): open
/// transactions on the searched partitions older than `max_timeout` whose
/// transactional id's coordinator doesn't count the partition in an ongoing
/// transaction. `filter` needs a broker or a topic.
pub async fn find_hanging(
    cluster: &Cluster,
    filter: &HangingFilter,
    max_timeout: Duration,
) -> Result<Vec<HangingTransaction>, MetaError> {
    if filter.broker_id.is_none() && filter.topic.is_none() {
        return Err(MetaError::Invalid(
            "finding hanging transactions needs --topic or --broker-id to limit the search".into(),
        ));
    }
    if filter.partition.is_some() && filter.topic.is_none() {
        return Err(MetaError::Invalid("--partition needs --topic".into()));
    }
    // Partitions to search, grouped by the broker to ask.
    let md = cluster.fetch_metadata(Some(&[])).await?;
    if let Some(b) = filter.broker_id {
        if !md.brokers.contains_key(&b) {
            return Err(MetaError::Invalid(format!("broker {b} is not in the cluster")));
        }
    }
    let topics: Vec<String> = match &filter.topic {
        Some(t) => vec![t.clone()],
        None => cluster.list_topics(false).await?,
    };
    let mut by_broker: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
    for t in &topics {
        let info = cluster.topic(t).await?;
        if let Some(p) = filter.partition {
            if !info.partitions.iter().any(|x| x.partition == p) {
                return Err(MetaError::Invalid(format!(
                    "partition {p} does not exist (topic '{t}' has {} partitions)",
                    info.partitions.len()
                )));
            }
        }
        for p in &info.partitions {
            if filter.partition.is_some_and(|want| want != p.partition) {
                continue;
            }
            let node = match filter.broker_id {
                Some(b) if p.replicas.contains(&b) => b,
                Some(_) => continue,
                None => p.leader,
            };
            if node < 0 {
                return Err(broker_err(
                    format!("leader of {t}-{}", p.partition),
                    ErrorCode::LEADER_NOT_AVAILABLE,
                    None,
                ));
            }
            by_broker.entry(node).or_default().push(TopicPartition::new(t.clone(), p.partition));
        }
    }
    let max_ms = i64::try_from(max_timeout.as_millis()).unwrap_or(i64::MAX);
    let mut candidates = Vec::new();
    for (node, parts) in &by_broker {
        for batch in parts.chunks(MAX_BATCH) {
            let answers = describe_producers_on(cluster, *node, batch).await?;
            let now = now_ms();
            for (tp, r) in answers {
                candidates.extend(stale_open_transactions(&tp, &r?, now, max_ms));
            }
        }
    }
    if candidates.is_empty() {
        return Ok(candidates);
    }
    let pids: BTreeSet<i64> = candidates.iter().map(|c| c.producer.producer_id).collect();
    let listing = list_transactions(
        cluster,
        &ListTransactionsFilter { producer_ids: pids.iter().copied().collect(), ..Default::default() },
    )
    .await?;
    let ids: BTreeMap<i64, String> = listing
        .into_iter()
        .filter(|l| pids.contains(&l.producer_id))
        .map(|l| (l.producer_id, l.transactional_id))
        .collect();
    let mut descriptions = BTreeMap::new();
    for id in ids.values().collect::<BTreeSet<_>>() {
        match describe_transaction(cluster, id).await {
            Ok(d) => {
                descriptions.insert(id.clone(), d);
            }
            Err(MetaError::TransactionalIdNotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filter_hanging(candidates, &ids, &descriptions))
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn producer(pid: i64, start: i64, last_ts: i64) -> ProducerState {
        ProducerState {
            producer_id: pid,
            producer_epoch: 1,
            last_sequence: 10,
            last_timestamp: last_ts,
            coordinator_epoch: 3,
            current_txn_start_offset: start,
        }
    }

    #[test]
    fn start_offset_picks_the_open_transaction_there() {
        let ps = [producer(1, -1, 0), producer(2, 40, 0), producer(3, 7, 0)];
        assert_eq!(producer_at_start_offset(&ps, 7).map(|p| p.producer_id), Some(3));
        assert_eq!(producer_at_start_offset(&ps, 40).map(|p| p.producer_id), Some(2));
        // -1 means "no open transaction", never a start offset.
        assert!(producer_at_start_offset(&ps, -1).is_none());
        assert!(producer_at_start_offset(&ps, 8).is_none());
    }

    #[test]
    fn stale_means_open_and_older_than_the_max_timeout() {
        let tp = TopicPartition::new("t", 0);
        let ps = [producer(1, 5, 1_000), producer(2, -1, 0), producer(3, 9, 90_000), producer(4, 0, 40_000)];
        let c = stale_open_transactions(&tp, &ps, 100_000, 60_000);
        assert_eq!(c.iter().map(|h| h.producer.producer_id).collect::<Vec<_>>(), [1]);
        // Exactly at the limit is not stale (Kafka compares with >).
        assert!(stale_open_transactions(&tp, &ps[3..], 100_000, 60_000).is_empty());
    }

    #[test]
    fn hanging_when_no_coordinator_will_finish_it() {
        let t0 = TopicPartition::new("t", 0);
        let t1 = TopicPartition::new("t", 1);
        let cands = vec![
            HangingTransaction { partition: t0.clone(), producer: producer(1, 0, 0) }, // no id
            HangingTransaction { partition: t0.clone(), producer: producer(2, 0, 0) }, // id without state
            HangingTransaction { partition: t0.clone(), producer: producer(3, 0, 0) }, // t0 in txn
            HangingTransaction { partition: t1.clone(), producer: producer(3, 0, 0) }, // t1 not in txn
        ];
        let ids: BTreeMap<i64, String> = [(2, "gone".to_owned()), (3, "live".to_owned())].into();
        let d = TransactionDescription {
            coordinator_id: 1,
            transactional_id: "live".into(),
            producer_id: 3,
            producer_epoch: 1,
            state: "Ongoing".into(),
            timeout_ms: 60_000,
            start_time_ms: Some(0),
            partitions: vec![t0.clone()],
        };
        let descs: BTreeMap<String, TransactionDescription> = [("live".to_owned(), d)].into();
        let h = filter_hanging(cands, &ids, &descs);
        let got: Vec<_> = h.iter().map(|h| (h.producer.producer_id, h.partition.partition)).collect();
        assert_eq!(got, [(1, 0), (2, 0), (3, 1)]);
    }
}
