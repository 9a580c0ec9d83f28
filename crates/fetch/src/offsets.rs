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
    let timeout = cluster.config().conn.request_timeout;
    let mut out = BTreeMap::new();
    let mut todo: Vec<TopicPartition> = partitions.to_vec();
    // Each round asks the leaders of the partitions still unanswered; up to 20 rounds.
    let policy = RetryPolicy::attempts(20).min_pause(Duration::from_millis(50));
    let mut retrier = cluster.retrier("ListOffsets", policy);
    loop {
        let step = {
            let by_leader = cluster.by_leader(&todo, timeout).await?;
            let mut retry = Vec::new();
            let mut last_err = None;
            for (leader, tps) in by_leader {
                let conn = match cluster.broker(leader).await {
                    Ok(c) => c,
                    Err(e) => {
                        last_err = Some(FetchError::from(e));
                        retry.extend(tps.into_iter().map(|(tp, _)| tp));
                        continue;
                    }
                };
                let v = conn.version(ApiKey::ListOffsets)?;
                let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
                let parts =
                    tps.iter().map(|(tp, epoch)| (tp.topic.as_str(), tp.partition, *epoch, spec.wire()));
                let req = list_offsets_request(v, isolation as i8, timeout_ms, parts);
                let resp = match conn.send_version(&req, v).await {
                    Ok(r) => r,
                    Err(e) if e.is_disconnect() => {
                        cluster.pool().invalidate(leader).await;
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
            // A timestamp past the end gives offset -1: resolve it to the end offset.
            if let OffsetSpec::Timestamp(_) = spec {
                let past_end: Vec<TopicPartition> =
                    out.iter().filter(|(_, a)| a.offset < 0).map(|(tp, _)| tp.clone()).collect();
                if !past_end.is_empty() {
                    let ends =
                        Box::pin(list_offsets(cluster, &past_end, OffsetSpec::Latest, isolation)).await?;
                    for (tp, a) in ends {
                        out.insert(
                            tp,
                            OffsetAnswer { offset: a.offset, timestamp: -1, leader_epoch: a.leader_epoch },
                        );
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
            Ok(ControlFlow::Break(())) => return Ok(out),
            Ok(ControlFlow::Continue(())) => {}
            Err(gave_up) => return Err(gave_up.last),
        }
    }
}
