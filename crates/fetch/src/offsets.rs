//! ListOffsets: earliest, latest and by-timestamp offsets per partition,
//! sent to each partition's leader, retried on leadership changes.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::Duration;

use kwire_meta::retry::{RetryPolicy, Step};
use kwire_meta::{Cluster, RetryAction, classify};
use kwire_proto::api::ApiKey;
use kwire_proto::msg::fetch::list_offsets_request;

use crate::{FetchError, IsolationLevel, TopicPartition};

/// Which offset to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (high watermark; last stable offset under read_committed).
    Latest,
    /// The first offset whose timestamp is at or after this time (ms since epoch);
    /// the log end offset if there is none.
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => kwire_proto::EARLIEST_OFFSET,
            OffsetSpec::Latest => kwire_proto::LATEST_OFFSET,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// The answer for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAnswer {
    /// The offset.
    pub offset: i64,
    /// Timestamp of that record (for timestamp lookups), else -1.
    pub timestamp: i64,
    /// Leader epoch at that offset, -1 if unknown.
    pub leader_epoch: i32,
}

/// Looks up `spec` for every partition in `partitions`, grouping requests by
/// leader. A timestamp with no record at or after it resolves to the log end
/// offset (what a consumer seeking there would read next).
pub async fn list_offsets(
    cluster: &Cluster,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
    isolation: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, OffsetAnswer>, FetchError> {
    Ok(list_offsets_with(cluster, partitions, spec, isolation, Unreachable::Retry).await?.0)
}

/// What a lookup does with the partitions of a leader it cannot reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreachable {
    /// Retries them with the others (up to the lookup's rounds).
    Retry,
    /// Leaves them out at once and returns them apart.
    Skip,
}

/// [`list_offsets`], and with [`Unreachable::Skip`] also the partitions left
/// out because their leader could not be reached.
pub(crate) async fn list_offsets_with(
    cluster: &Cluster,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
    isolation: IsolationLevel,
    unreachable: Unreachable,
) -> Result<(BTreeMap<TopicPartition, OffsetAnswer>, Vec<TopicPartition>), FetchError> {
    let (mut out, mut skipped) =
        lookup_with(cluster, partitions, spec.wire(), 1, isolation, unreachable).await?;
    // A timestamp past the end gives offset -1: resolve it to the end offset.
    if let OffsetSpec::Timestamp(_) = spec {
        let past_end: Vec<TopicPartition> =
            out.iter().filter(|(_, a)| a.offset < 0).map(|(tp, _)| tp.clone()).collect();
        if !past_end.is_empty() {
            let (ends, also_skipped) =
                lookup_with(cluster, &past_end, OffsetSpec::Latest.wire(), 1, isolation, unreachable).await?;
            for tp in also_skipped {
                out.remove(&tp);
                skipped.push(tp);
            }
            for (tp, a) in ends {
                out.insert(
                    tp,
                    OffsetAnswer { offset: a.offset, timestamp: -1, leader_epoch: a.leader_epoch },
                );
            }
        }
    }
    Ok((out, skipped))
}

/// Every lookup `kafka-get-offsets.sh --time` can make, including the ones
/// that need newer brokers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetQuery {
    /// `-1`: the log end offset (high watermark).
    Latest,
    /// `-2`: the log start offset.
    Earliest,
    /// `-3` (KIP-734, ListOffsets v7+, Kafka 3.0+): the offset of the record
    /// with the largest timestamp.
    MaxTimestamp,
    /// `-4` (KIP-405, ListOffsets v8+, Kafka 3.4+): the first offset still on local
    /// disk (equals the log start offset without tiered storage).
    EarliestLocal,
    /// `-5` (KIP-1005, ListOffsets v9+, Kafka 3.9+): the last offset uploaded to tiered
    /// storage (none without it).
    LatestTiered,
    /// A time in ms since the epoch: the first offset whose timestamp is at
    /// or after it (none if there is no such record).
    Timestamp(i64),
}

impl OffsetQuery {
    /// The ListOffsets `timestamp` field for this query.
    pub fn wire(self) -> i64 {
        match self {
            OffsetQuery::Latest => kwire_proto::LATEST_OFFSET,
            OffsetQuery::Earliest => kwire_proto::EARLIEST_OFFSET,
            OffsetQuery::MaxTimestamp => -3,
            OffsetQuery::EarliestLocal => -4,
            OffsetQuery::LatestTiered => -5,
            OffsetQuery::Timestamp(t) => t,
        }
    }

    /// The lowest ListOffsets version that carries this query.
    pub fn min_version(self) -> i16 {
        match self {
            OffsetQuery::MaxTimestamp => 7,
            OffsetQuery::EarliestLocal => 8,
            OffsetQuery::LatestTiered => 9,
            _ => 1,
        }
    }

    /// Kafka's name for the query (`latest`, `max-timestamp`, ...), or the
    /// timestamp.
    pub fn name(self) -> String {
        match self {
            OffsetQuery::Latest => "latest".into(),
            OffsetQuery::Earliest => "earliest".into(),
            OffsetQuery::MaxTimestamp => "max-timestamp".into(),
            OffsetQuery::EarliestLocal => "earliest-local".into(),
            OffsetQuery::LatestTiered => "latest-tiered".into(),
            OffsetQuery::Timestamp(t) => t.to_string(),
        }
    }
}

/// Looks up `query` for every partition in `partitions` as the broker
/// answers it, with no resolution: `offset` is -1 where there is none (a
/// timestamp past the last record, no tiered storage). A leader whose
/// ListOffsets version is too old for the query is an error naming the
/// version needed.
///
/// ```no_run
/// # async fn f(cluster: &kwire_meta::Cluster) -> Result<(), kwire_fetch::FetchError> {
/// use kwire_fetch::{IsolationLevel, OffsetQuery, TopicPartition, query_offsets};
/// let tps = [TopicPartition::new("voters", 0)];
/// let answers = query_offsets(cluster, &tps, OffsetQuery::MaxTimestamp, IsolationLevel::ReadUncommitted).await?;
/// for (tp, a) in answers {
///     println!("{}:{}:{}", tp.topic, tp.partition, a.offset);
/// }
/// # Ok(()) }
/// ```
pub async fn query_offsets(
    cluster: &Cluster,
    partitions: &[TopicPartition],
    query: OffsetQuery,
    isolation: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, OffsetAnswer>, FetchError> {
    lookup(cluster, partitions, query.wire(), query.min_version(), isolation).await
}

/// One ListOffsets lookup of the wire `timestamp` per partition, needing at
/// least ListOffsets `min_version`, grouped by leader and retried.
async fn lookup(
    cluster: &Cluster,
    partitions: &[TopicPartition],
    timestamp: i64,
    min_version: i16,
    isolation: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, OffsetAnswer>, FetchError> {
    Ok(lookup_with(cluster, partitions, timestamp, min_version, isolation, Unreachable::Retry).await?.0)
}

/// [`lookup`]; with [`Unreachable::Skip`], the partitions of a leader that
/// cannot be connected to (or drops the connection) are returned apart at
/// once instead of retried.
async fn lookup_with(
    cluster: &Cluster,
    partitions: &[TopicPartition],
    timestamp: i64,
    min_version: i16,
    isolation: IsolationLevel,
    unreachable: Unreachable,
) -> Result<(BTreeMap<TopicPartition, OffsetAnswer>, Vec<TopicPartition>), FetchError> {
    let timeout = cluster.config().conn.request_timeout;
    let mut out = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut todo: Vec<TopicPartition> = partitions.to_vec();
    // Each round asks the leaders of the partitions still unanswered; up to 20 rounds.
    let policy = RetryPolicy::attempts(20).min_pause(Duration::from_millis(50));
    let mut retrier = cluster.retrier("ListOffsets", policy);
    loop {
        let step = 'round: {
            let by_leader = match cluster.by_leader(&todo, timeout).await {
                Ok(b) => b,
                // No broker answered the metadata request (the cluster
                // restarting, a partition): a failed round like the others.
                Err(e) if e.conn().is_some_and(|c| c.is_unreachable()) => break 'round Step::Retry(e.into()),
                Err(e) => return Err(e.into()),
            };
            let mut retry = Vec::new();
            let mut last_err = None;
            for (leader, tps) in by_leader {
                let conn = match cluster.broker(leader).await {
                    Ok(c) => c,
                    Err(e) if unreachable == Unreachable::Skip && e.conn().is_some_and(|c| !c.is_fatal()) => {
                        skipped.extend(tps.into_iter().map(|(tp, _)| tp));
                        continue;
                    }
                    Err(e) => {
                        // The leader may be gone for good (killed, replaced):
                        // ask again who leads before the next round.
                        forget_leaders(cluster, &tps);
                        last_err = Some(FetchError::from(e));
                        retry.extend(tps.into_iter().map(|(tp, _)| tp));
                        continue;
                    }
                };
                let v = conn.version(ApiKey::ListOffsets)?;
                if v < min_version {
                    return Err(FetchError::Invalid(format!(
                        "broker {leader} speaks ListOffsets up to v{v}; timestamp {timestamp} needs v{min_version}+ ({})",
                        needs(min_version)
                    )));
                }
                let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
                let parts =
                    tps.iter().map(|(tp, epoch)| (tp.topic.as_str(), tp.partition, *epoch, timestamp));
                let req = list_offsets_request(v, isolation as i8, timeout_ms, parts);
                let resp = match conn.send_version(&req, v).await {
                    Ok(r) => r,
                    Err(e) if unreachable == Unreachable::Skip && !e.is_fatal() => {
                        // No answer (gone, or not within the request timeout).
                        cluster.pool().invalidate(leader).await;
                        skipped.extend(tps.into_iter().map(|(tp, _)| tp));
                        continue;
                    }
                    Err(e) if e.is_disconnect() => {
                        cluster.pool().invalidate(leader).await;
                        forget_leaders(cluster, &tps);
                        last_err = Some(e.into());
                        retry.extend(tps.into_iter().map(|(tp, _)| tp));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                for (name, parts) in resp.topics {
                    for p in parts {
                        let tp = TopicPartition::new(name.clone(), p.partition);
                        let action = classify(p.error_code);
                        if action == RetryAction::Done {
                            let answer = OffsetAnswer {
                                offset: p.offset,
                                timestamp: p.timestamp,
                                leader_epoch: p.leader_epoch,
                            };
                            out.insert(tp, answer);
                            continue;
                        }
                        let e = FetchError::Partition {
                            topic: tp.topic.clone(),
                            partition: tp.partition,
                            code: p.error_code,
                            detail: Some("ListOffsets".to_owned()),
                        };
                        match action {
                            RetryAction::Fatal => return Err(e),
                            RetryAction::RefreshMetadata => cluster.invalidate_topic(&tp.topic),
                            _ => {}
                        }
                        last_err = Some(e);
                        retry.push(tp);
                    }
                }
            }
            todo = retry;
            match last_err {
                Some(e) if !todo.is_empty() => Step::Retry(e),
                _ => Step::Done(()),
            }
        };
        match retrier.next(step).await {
            Ok(ControlFlow::Break(())) => return Ok((out, skipped)),
            Ok(ControlFlow::Continue(())) => {}
            Err(gave_up) => return Err(gave_up.last),
        }
    }
}

/// Drops the cached metadata of the topics of `tps` (their leader could not
/// be reached), so the next round looks the leaders up again, as Kafka's
/// consumer requests a metadata update after a disconnect.
fn forget_leaders<T>(cluster: &Cluster, tps: &[(TopicPartition, T)]) {
    let mut seen: Vec<&str> = Vec::new();
    for (tp, _) in tps {
        if !seen.contains(&tp.topic.as_str()) {
            seen.push(&tp.topic);
            cluster.invalidate_topic(&tp.topic);
        }
    }
}

/// The Kafka release that brought ListOffsets `v`, for error messages.
fn needs(v: i16) -> &'static str {
    match v {
        7 => "Kafka 3.0 or newer, KIP-734",
        8 => "Kafka 3.4 or newer, KIP-405",
        9 => "Kafka 3.9 or newer, KIP-1005",
        _ => "a newer broker",
    }
}
