//! OffsetCommit and OffsetFetch, sans-IO: request builders for every version
//! kwire speaks and pure classifiers of the answers (what Kafka's client does
//! with each error code).

use std::collections::BTreeMap;

use kwire_fetch::TopicPartition;
use kwire_proto::ErrorCode;
use kwire_proto::msg::group::{
    CommitMember, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
    offset_commit_request, offset_fetch_request,
};

use crate::member::CommitIdentity;

/// What to do after an offset request's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetVerdict {
    /// Success.
    Done,
    /// Retry after a backoff (COORDINATOR_LOAD_IN_PROGRESS, UNSTABLE_OFFSET_COMMIT, ...).
    Retry(ErrorCode),
    /// The coordinator moved: find it again, then retry.
    RefindCoordinator(ErrorCode),
    /// The member is not (or no longer) in the generation: the commit failed
    /// and the membership must react (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
    /// REBALANCE_IN_PROGRESS, FENCED_MEMBER_EPOCH, FENCED_INSTANCE_ID).
    Membership(ErrorCode),
    /// Retrying can't help.
    Fatal(ErrorCode),
}

/// Classifies one error code of an offset request.
pub fn classify(code: ErrorCode) -> OffsetVerdict {
    match code {
        ErrorCode::NONE => OffsetVerdict::Done,
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::REQUEST_TIMED_OUT => {
            OffsetVerdict::RefindCoordinator(code)
        }
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        | ErrorCode::UNSTABLE_OFFSET_COMMIT
        | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        | ErrorCode::STALE_MEMBER_EPOCH => OffsetVerdict::Retry(code),
        ErrorCode::UNKNOWN_MEMBER_ID
        | ErrorCode::ILLEGAL_GENERATION
        | ErrorCode::REBALANCE_IN_PROGRESS
        | ErrorCode::FENCED_MEMBER_EPOCH
        | ErrorCode::FENCED_INSTANCE_ID => OffsetVerdict::Membership(code),
        c if c.is_retriable() => OffsetVerdict::Retry(c),
        c => OffsetVerdict::Fatal(c),
    }
}

/// The most severe verdict of several codes (fatal, then membership,
/// then coordinator, then retry).
fn worst(codes: impl Iterator<Item = ErrorCode>) -> OffsetVerdict {
    let rank = |v: &OffsetVerdict| match v {
        OffsetVerdict::Done => 0,
        OffsetVerdict::Retry(_) => 1,
        OffsetVerdict::RefindCoordinator(_) => 2,
        OffsetVerdict::Membership(_) => 3,
        OffsetVerdict::Fatal(_) => 4,
    };
    codes.map(classify).max_by_key(rank).unwrap_or(OffsetVerdict::Done)
}

/// An OffsetCommit of `offsets` (the next offset to read, per partition) at
/// `version`. Without an identity it is an admin commit (generation -1),
/// which the coordinator only accepts while the group has no members.
pub fn commit_request(
    group_id: &str,
    identity: Option<&CommitIdentity>,
    offsets: &BTreeMap<TopicPartition, i64>,
    version: i16,
) -> OffsetCommitRequest {
    let member = identity.map(|id| CommitMember {
        generation_or_epoch: id.generation_or_epoch,
        member_id: &id.member_id,
        instance_id: id.instance_id.as_deref(),
    });
    offset_commit_request(
        group_id,
        member,
        offsets.iter().map(|(tp, offset)| (tp.topic.as_str(), tp.partition, *offset)),
        version,
    )
}

/// The outcome of an OffsetCommit: the worst verdict, and per partition its code.
pub fn commit_outcome(resp: &OffsetCommitResponse) -> (OffsetVerdict, Vec<(TopicPartition, ErrorCode)>) {
    let codes: Vec<(TopicPartition, ErrorCode)> = resp
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| (TopicPartition::new(t.name.clone(), p.partition), p.error_code))
        })
        .collect();
    (worst(codes.iter().map(|(_, c)| *c)), codes)
}

/// An OffsetFetch of `partitions` (`None`: every partition with a committed
/// offset; needs v2+) for `group_id` at `version`, asking for stable offsets
/// (v7+: no offsets of pending transactions).
pub fn fetch_request(
    group_id: &str,
    partitions: Option<&[TopicPartition]>,
    version: i16,
) -> OffsetFetchRequest {
    offset_fetch_request(
        group_id,
        partitions.map(|ps| ps.iter().map(|tp| (tp.topic.as_str(), tp.partition))),
        version,
    )
}

/// The committed offsets in an OffsetFetch answer (partitions without one
/// are left out), or the verdict if the answer is an error.
pub fn fetch_outcome(resp: &OffsetFetchResponse) -> Result<BTreeMap<TopicPartition, i64>, OffsetVerdict> {
    let mut out = BTreeMap::new();
    for g in &resp.groups {
        match classify(g.error_code) {
            OffsetVerdict::Done => {}
            v => return Err(v),
        }
        for t in &g.topics {
            for p in &t.partitions {
                match classify(p.error_code) {
                    OffsetVerdict::Done => {
                        if p.committed_offset >= 0 {
                            out.insert(TopicPartition::new(t.name.clone(), p.partition), p.committed_offset);
                        }
                    }
                    // A partition that doesn't exist has no committed offset.
                    _ if p.error_code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => {}
                    v => return Err(v),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kwire_proto::msg::group::{
        CommittedGroup, CommittedPartition, CommittedTopic, PartitionResult, TopicResults,
    };

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    #[test]
    fn requests_cover_every_partition_at_every_version() {
        let offsets: BTreeMap<TopicPartition, i64> = [(tp(0), 5), (tp(1), 7)].into_iter().collect();
        let id =
            CommitIdentity { generation_or_epoch: 3, member_id: "m".into(), instance_id: Some("i".into()) };
        for v in 2..=9 {
            for identity in [None, Some(&id)] {
                let r = commit_request("g", identity, &offsets, v);
                assert_eq!(r.topics[0].partitions.len(), 2);
            }
        }
        for v in 1..=9 {
            let parts = [tp(0), tp(1)];
            for p in [Some(&parts[..]), None] {
                if p.is_none() && v < 2 {
                    continue;
                }
                let r = fetch_request("g", p, v);
                let topics = if v <= 7 {
                    r.topics.as_ref().map(Vec::len)
                } else {
                    r.groups[0].topics.as_ref().map(Vec::len)
                };
                assert_eq!(topics, p.map(|_| 1));
            }
        }
    }

    #[test]
    fn commit_errors_follow_kafka() {
        assert_eq!(classify(ErrorCode::NONE), OffsetVerdict::Done);
        assert_eq!(
            classify(ErrorCode::ILLEGAL_GENERATION),
            OffsetVerdict::Membership(ErrorCode::ILLEGAL_GENERATION)
        );
        assert_eq!(
            classify(ErrorCode::REBALANCE_IN_PROGRESS),
            OffsetVerdict::Membership(ErrorCode::REBALANCE_IN_PROGRESS)
        );
        assert_eq!(
            classify(ErrorCode::NOT_COORDINATOR),
            OffsetVerdict::RefindCoordinator(ErrorCode::NOT_COORDINATOR)
        );
        assert_eq!(
            classify(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            OffsetVerdict::Retry(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
        );
        assert_eq!(
            classify(ErrorCode::STALE_MEMBER_EPOCH),
            OffsetVerdict::Retry(ErrorCode::STALE_MEMBER_EPOCH)
        );
        assert_eq!(
            classify(ErrorCode::GROUP_AUTHORIZATION_FAILED),
            OffsetVerdict::Fatal(ErrorCode::GROUP_AUTHORIZATION_FAILED)
        );
        let resp = OffsetCommitResponse {
            throttle_time_ms: 0,
            topics: vec![TopicResults {
                name: "t".into(),
                partitions: vec![
                    PartitionResult { partition: 0, error_code: ErrorCode::NONE },
                    PartitionResult { partition: 1, error_code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS },
                    PartitionResult { partition: 2, error_code: ErrorCode::UNKNOWN_MEMBER_ID },
                ],
            }],
        };
        let (v, codes) = commit_outcome(&resp);
        assert_eq!(v, OffsetVerdict::Membership(ErrorCode::UNKNOWN_MEMBER_ID));
        assert_eq!(codes.len(), 3);
    }

    #[test]
    fn fetch_outcome_skips_partitions_without_offsets() {
        let resp = OffsetFetchResponse {
            throttle_time_ms: 0,
            groups: vec![CommittedGroup {
                group_id: String::new(),
                error_code: ErrorCode::NONE,
                topics: vec![CommittedTopic {
                    name: "t".into(),
                    partitions: vec![
                        CommittedPartition { partition: 0, committed_offset: 10, ..Default::default() },
                        CommittedPartition { partition: 1, committed_offset: -1, ..Default::default() },
                    ],
                }],
            }],
        };
        let got = fetch_outcome(&resp).unwrap();
        assert_eq!(got.into_iter().collect::<Vec<_>>(), vec![(tp(0), 10)]);
        let mut bad = resp.clone();
        bad.groups[0].error_code = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
        assert_eq!(fetch_outcome(&bad), Err(OffsetVerdict::Retry(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)));
        let mut bad = resp;
        bad.groups[0].topics[0].partitions[0].error_code = ErrorCode::UNSTABLE_OFFSET_COMMIT;
        assert_eq!(fetch_outcome(&bad), Err(OffsetVerdict::Retry(ErrorCode::UNSTABLE_OFFSET_COMMIT)));
    }
}
