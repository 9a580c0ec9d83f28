//! Partition reassignment, leader elections, features and the KRaft quorum
//! (what `kafka-reassign-partitions.sh`, `kafka-leader-election.sh`,
//! `kafka-features.sh` and `kafka-metadata-quorum.sh` send):
//! AlterPartitionReassignments (45), ListPartitionReassignments (46),
//! ElectLeaders (43), UpdateFeatures (57) and DescribeQuorum (55).
//! DescribeFeatures is ApiVersions' supported/finalized features
//! ([`crate::msg::api_versions`]).
//!
//! Requests are `kafka-protocol` structs built by the functions here; the
//! responses are decoded by kwire's bounds-checked [`Reader`].

use bytes::Bytes;
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::describe_quorum_request as dq;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::update_features_request::FeatureUpdateKey;
use kafka_protocol::messages::{BrokerId, TopicName};
use kafka_protocol::protocol::StrBytes;

pub use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, DescribeQuorumRequest, ElectLeadersRequest,
    ListPartitionReassignmentsRequest, UpdateFeaturesRequest,
};

use crate::api::ApiKey;
use crate::wire::{DResult, Reader};
use crate::{DecodeError, ErrorCode, Request, Response};

/// ELECTION_NOT_NEEDED: the partition already has the leader the election would pick.
pub const ELECTION_NOT_NEEDED: ErrorCode = ErrorCode(84);
/// NO_REASSIGNMENT_IN_PROGRESS: a cancel found nothing to cancel.
pub const NO_REASSIGNMENT_IN_PROGRESS: ErrorCode = ErrorCode(85);

/// The metadata log's topic, the one partition DescribeQuorum asks about.
pub const METADATA_TOPIC: &str = "__cluster_metadata";

fn strb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// Groups `(topic, partition, x)` by topic, keeping first-seen topic order.
fn by_topic<T>(items: impl IntoIterator<Item = (String, i32, T)>) -> Vec<(String, Vec<(i32, T)>)> {
    let mut out: Vec<(String, Vec<(i32, T)>)> = Vec::new();
    for (t, p, x) in items {
        match out.iter_mut().find(|(n, _)| *n == t) {
            Some((_, v)) => v.push((p, x)),
            None => out.push((t, vec![(p, x)])),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Requests.

/// An AlterPartitionReassignments request: per partition, the target
/// replicas (`Some`) or a cancel of its ongoing reassignment (`None`).
pub fn alter_partition_reassignments_request(
    timeout_ms: i32,
    parts: impl IntoIterator<Item = (String, i32, Option<Vec<i32>>)>,
) -> AlterPartitionReassignmentsRequest {
    let mut req = AlterPartitionReassignmentsRequest::default();
    req.timeout_ms = timeout_ms;
    req.topics = by_topic(parts)
        .into_iter()
        .map(|(name, ps)| {
            let mut t = ReassignableTopic::default();
            t.name = TopicName(strb(&name));
            t.partitions = ps
                .into_iter()
                .map(|(p, replicas)| {
                    let mut rp = ReassignablePartition::default();
                    rp.partition_index = p;
                    rp.replicas = replicas.map(|r| r.into_iter().map(BrokerId).collect());
                    rp
                })
                .collect();
            t
        })
        .collect();
    req
}

/// A ListPartitionReassignments request for some partitions (`None`: every
/// ongoing reassignment in the cluster).
pub fn list_partition_reassignments_request(
    timeout_ms: i32,
    parts: Option<&[(String, i32)]>,
) -> ListPartitionReassignmentsRequest {
    let mut req = ListPartitionReassignmentsRequest::default();
    req.timeout_ms = timeout_ms;
    req.topics = parts.map(|ps| {
        by_topic(ps.iter().map(|(t, p)| (t.clone(), *p, ())))
            .into_iter()
            .map(|(name, ps)| {
                let mut t = ListPartitionReassignmentsTopics::default();
                t.name = TopicName(strb(&name));
                t.partition_indexes = ps.into_iter().map(|(p, _)| p).collect();
                t
            })
            .collect()
    });
    req
}

/// Kafka's election types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    /// Move leadership to the first replica in the assignment if it is in sync.
    Preferred = 0,
    /// Elect a leader even from out-of-sync replicas when no in-sync one is alive.
    Unclean = 1,
}

/// An ElectLeaders request (`None`: every partition of the cluster).
pub fn elect_leaders_request(
    election: ElectionType,
    parts: Option<&[(String, i32)]>,
    timeout_ms: i32,
) -> ElectLeadersRequest {
    let mut req = ElectLeadersRequest::default();
    req.election_type = election as i8;
    req.timeout_ms = timeout_ms;
    req.topic_partitions = parts.map(|ps| {
        by_topic(ps.iter().map(|(t, p)| (t.clone(), *p, ())))
            .into_iter()
            .map(|(name, ps)| {
                let mut t = TopicPartitions::default();
                t.topic = TopicName(strb(&name));
                t.partitions = ps.into_iter().map(|(p, _)| p).collect();
                t
            })
            .collect()
    });
    req
}

/// How an UpdateFeatures request may change a feature's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureUpgradeType {
    /// Only raise the level.
    Upgrade = 1,
    /// Lower it, keeping metadata (the safe downgrade).
    SafeDowngrade = 2,
    /// Lower it even if metadata is lost.
    UnsafeDowngrade = 3,
}

/// An UpdateFeatures request at version `v`: each feature to `level` (0
/// disables it). v0 knows only "allow downgrade"; `validate_only` is v1+.
pub fn update_features_request(
    v: i16,
    timeout_ms: i32,
    updates: &[(String, i16, FeatureUpgradeType)],
    validate_only: bool,
) -> UpdateFeaturesRequest {
    let mut req = UpdateFeaturesRequest::default();
    req.timeout_ms = timeout_ms;
    req.validate_only = v >= 1 && validate_only;
    req.feature_updates = updates
        .iter()
        .map(|(name, level, ty)| {
            let mut k = FeatureUpdateKey::default();
            k.feature = strb(name);
            k.max_version_level = *level;
            if v >= 1 {
                k.upgrade_type = *ty as i8;
            } else {
                k.allow_downgrade = *ty != FeatureUpgradeType::Upgrade;
            }
            k
        })
        .collect();
    req
}

/// A DescribeQuorum request for the metadata log (`__cluster_metadata-0`).
pub fn describe_quorum_request() -> DescribeQuorumRequest {
    let mut p = dq::PartitionData::default();
    p.partition_index = 0;
    let mut t = dq::TopicData::default();
    t.topic_name = TopicName(strb(METADATA_TOPIC));
    t.partitions = vec![p];
    let mut req = DescribeQuorumRequest::default();
    req.topics = vec![t];
    req
}

// ---------------------------------------------------------------------------
// Responses.

/// Outcome for one partition (reassignment or election).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionOutcome {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// The broker's explanation.
    pub error_message: Option<String>,
}

/// Decoded AlterPartitionReassignments response (all versions flexible).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlterPartitionReassignmentsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Top-level outcome (e.g. NOT_CONTROLLER, CLUSTER_AUTHORIZATION_FAILED).
    pub error_code: ErrorCode,
    /// The broker's explanation.
    pub error_message: Option<String>,
    /// Per partition.
    pub partitions: Vec<PartitionOutcome>,
}

impl Response for AlterPartitionReassignmentsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        if v >= 1 {
            r.bool()?; // allow_replication_factor_change, as sent
        }
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(true)?;
        let mut partitions = Vec::new();
        let n = r.array_len(true, 3)?;
        for _ in 0..n {
            let topic = r.string(true)?;
            let m = r.array_len(true, 8)?;
            for _ in 0..m {
                let partition = r.i32()?;
                let error_code = ErrorCode(r.i16()?);
                let error_message = r.nullable_string(true)?;
                r.skip_tagged_fields(true)?;
                partitions.push(PartitionOutcome {
                    topic: topic.clone(),
                    partition,
                    error_code,
                    error_message,
                });
            }
            r.skip_tagged_fields(true)?;
        }
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(AlterPartitionReassignmentsResponse { throttle_time_ms, error_code, error_message, partitions })
    }
}

/// One ongoing reassignment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OngoingReassignment {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The current replica set (old and new while it runs).
    pub replicas: Vec<i32>,
    /// Replicas being added.
    pub adding: Vec<i32>,
    /// Replicas being removed.
    pub removing: Vec<i32>,
}

/// Decoded ListPartitionReassignments response (v0, flexible).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPartitionReassignmentsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Top-level outcome.
    pub error_code: ErrorCode,
    /// The broker's explanation.
    pub error_message: Option<String>,
    /// Ongoing reassignments.
    pub reassignments: Vec<OngoingReassignment>,
}

impl Response for ListPartitionReassignmentsResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(true)?;
        let mut reassignments = Vec::new();
        let n = r.array_len(true, 3)?;
        for _ in 0..n {
            let topic = r.string(true)?;
            let m = r.array_len(true, 8)?;
            for _ in 0..m {
                let partition = r.i32()?;
                let replicas = r.i32_array(true)?;
                let adding = r.i32_array(true)?;
                let removing = r.i32_array(true)?;
                r.skip_tagged_fields(true)?;
                reassignments.push(OngoingReassignment {
                    topic: topic.clone(),
                    partition,
                    replicas,
                    adding,
                    removing,
                });
            }
            r.skip_tagged_fields(true)?;
        }
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(ListPartitionReassignmentsResponse { throttle_time_ms, error_code, error_message, reassignments })
    }
}

/// Decoded ElectLeaders response (v0-v1 classic, v2 flexible).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElectLeadersResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Top-level outcome (v1+).
    pub error_code: ErrorCode,
    /// Per partition.
    pub partitions: Vec<PartitionOutcome>,
}

impl Response for ElectLeadersResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 2;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = if v >= 1 { ErrorCode(r.i16()?) } else { ErrorCode::NONE };
        let (str_min, arr_min) = if flex { (1, 1) } else { (2, 4) };
        let tags = usize::from(flex);
        let mut partitions = Vec::new();
        let n = r.array_len(flex, str_min + arr_min + tags)?;
        for _ in 0..n {
            let topic = r.string(flex)?;
            let m = r.array_len(flex, 6 + str_min + tags)?;
            for _ in 0..m {
                let partition = r.i32()?;
                let error_code = ErrorCode(r.i16()?);
                let error_message = r.nullable_string(flex)?;
                r.skip_tagged_fields(flex)?;
                partitions.push(PartitionOutcome {
                    topic: topic.clone(),
                    partition,
                    error_code,
                    error_message,
                });
            }
            r.skip_tagged_fields(flex)?;
        }
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(ElectLeadersResponse { throttle_time_ms, error_code, partitions })
    }
}

/// One feature's outcome in an UpdateFeatures response (v0-v1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeatureOutcome {
    /// Feature name.
    pub feature: String,
    /// Outcome.
    pub error_code: ErrorCode,
    /// The broker's explanation.
    pub error_message: Option<String>,
}

/// Decoded UpdateFeatures response (all versions flexible; v2 has only the
/// top-level outcome).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateFeaturesResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Top-level outcome.
    pub error_code: ErrorCode,
    /// The broker's explanation.
    pub error_message: Option<String>,
    /// Per feature (v0-v1).
    pub results: Vec<FeatureOutcome>,
}

impl Response for UpdateFeaturesResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(true)?;
        let results = if v <= 1 {
            r.array(true, 5, |r| {
                let f = FeatureOutcome {
                    feature: r.string(true)?,
                    error_code: ErrorCode(r.i16()?),
                    error_message: r.nullable_string(true)?,
                };
                r.skip_tagged_fields(true)?;
                Ok(f)
            })?
        } else {
            Vec::new()
        };
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(UpdateFeaturesResponse { throttle_time_ms, error_code, error_message, results })
    }
}

/// A voter's or observer's replication state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumReplica {
    /// Node id.
    pub replica_id: i32,
    /// Its log directory id (v2+; zeros before).
    pub directory_id: [u8; 16],
    /// Its log end offset (-1: unknown).
    pub log_end_offset: i64,
    /// When the leader last heard a fetch from it (ms, v1+; -1: unknown).
    pub last_fetch_timestamp: i64,
    /// When it was last caught up (ms, v1+; -1: unknown).
    pub last_caught_up_timestamp: i64,
}

/// A node's listener (v2+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumListener {
    /// Listener name.
    pub name: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// A quorum node and its listeners (v2+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumNode {
    /// Node id.
    pub node_id: i32,
    /// Listeners.
    pub listeners: Vec<QuorumListener>,
}

/// The state of one quorum partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumPartition {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// The broker's explanation (v2+).
    pub error_message: Option<String>,
    /// Leader id.
    pub leader_id: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// High watermark.
    pub high_watermark: i64,
    /// Voters.
    pub voters: Vec<QuorumReplica>,
    /// Observers (brokers that only replicate).
    pub observers: Vec<QuorumReplica>,
}

/// Decoded DescribeQuorum response (all versions flexible).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeQuorumResponse {
    /// Top-level outcome.
    pub error_code: ErrorCode,
    /// The broker's explanation (v2+).
    pub error_message: Option<String>,
    /// Partitions.
    pub partitions: Vec<QuorumPartition>,
    /// Nodes (v2+).
    pub nodes: Vec<QuorumNode>,
}

fn replica(r: &mut Reader, v: i16) -> DResult<QuorumReplica> {
    let replica_id = r.i32()?;
    let directory_id = if v >= 2 { r.uuid()? } else { [0; 16] };
    let log_end_offset = r.i64()?;
    let (last_fetch_timestamp, last_caught_up_timestamp) =
        if v >= 1 { (r.i64()?, r.i64()?) } else { (-1, -1) };
    r.skip_tagged_fields(true)?;
    Ok(QuorumReplica {
        replica_id,
        directory_id,
        log_end_offset,
        last_fetch_timestamp,
        last_caught_up_timestamp,
    })
}

impl Response for DescribeQuorumResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let error_code = ErrorCode(r.i16()?);
        let error_message = if v >= 2 { r.nullable_string(true)? } else { None };
        let replica_min = 4 + 8 + 1 + if v >= 2 { 16 } else { 0 } + if v >= 1 { 16 } else { 0 };
        let mut partitions = Vec::new();
        let n = r.array_len(true, 3)?;
        for _ in 0..n {
            let topic = r.string(true)?;
            let m = r.array_len(true, 23)?;
            for _ in 0..m {
                let partition = r.i32()?;
                let error_code = ErrorCode(r.i16()?);
                let error_message = if v >= 2 { r.nullable_string(true)? } else { None };
                let leader_id = r.i32()?;
                let leader_epoch = r.i32()?;
                let high_watermark = r.i64()?;
                let voters = r.array(true, replica_min, |r| replica(r, v))?;
                let observers = r.array(true, replica_min, |r| replica(r, v))?;
                r.skip_tagged_fields(true)?;
                partitions.push(QuorumPartition {
                    topic: topic.clone(),
                    partition,
                    error_code,
                    error_message,
                    leader_id,
                    leader_epoch,
                    high_watermark,
                    voters,
                    observers,
                });
            }
            r.skip_tagged_fields(true)?;
        }
        let nodes = if v >= 2 {
            r.array(true, 6, |r| {
                let node_id = r.i32()?;
                let listeners = r.array(true, 5, |r| {
                    let l = QuorumListener { name: r.string(true)?, host: r.string(true)?, port: r.u16()? };
                    r.skip_tagged_fields(true)?;
                    Ok(l)
                })?;
                r.skip_tagged_fields(true)?;
                Ok(QuorumNode { node_id, listeners })
            })?
        } else {
            Vec::new()
        };
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(DescribeQuorumResponse { error_code, error_message, partitions, nodes })
    }
}

impl Request for AlterPartitionReassignmentsRequest {
    const KEY: ApiKey = ApiKey::AlterPartitionReassignments;
    type Response = AlterPartitionReassignmentsResponse;
}

impl Request for ListPartitionReassignmentsRequest {
    const KEY: ApiKey = ApiKey::ListPartitionReassignments;
    type Response = ListPartitionReassignmentsResponse;
}

impl Request for ElectLeadersRequest {
    const KEY: ApiKey = ApiKey::ElectLeaders;
    type Response = ElectLeadersResponse;
}

impl Request for UpdateFeaturesRequest {
    const KEY: ApiKey = ApiKey::UpdateFeatures;
    type Response = UpdateFeaturesResponse;
}

impl Request for DescribeQuorumRequest {
    const KEY: ApiKey = ApiKey::DescribeQuorum;
    type Response = DescribeQuorumResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::{
        alter_partition_reassignments_response as ar, describe_quorum_response as dqr,
        elect_leaders_response as el, list_partition_reassignments_response as lr,
        update_features_response as uf,
    };

    #[test]
    fn request_builders() {
        let a = alter_partition_reassignments_request(
            5,
            [
                ("t".to_owned(), 0, Some(vec![2, 3])),
                ("u".to_owned(), 1, None),
                ("t".to_owned(), 2, Some(vec![1])),
            ],
        );
        assert_eq!(a.topics.len(), 2);
        assert_eq!(a.topics[0].partitions[1].partition_index, 2);
        assert_eq!(a.topics[1].partitions[0].replicas, None);
        let l = list_partition_reassignments_request(5, Some(&[("t".into(), 0), ("t".into(), 1)]));
        assert_eq!(l.topics.unwrap()[0].partition_indexes, [0, 1]);
        assert!(list_partition_reassignments_request(5, None).topics.is_none());
        let e = elect_leaders_request(ElectionType::Unclean, None, 9);
        assert_eq!((e.election_type, e.topic_partitions.is_none()), (1, true));
        let u = update_features_request(1, 5, &[("x".into(), 0, FeatureUpgradeType::UnsafeDowngrade)], true);
        assert_eq!((u.feature_updates[0].upgrade_type, u.validate_only), (3, true));
        let u0 = update_features_request(0, 5, &[("x".into(), 0, FeatureUpgradeType::SafeDowngrade)], true);
        assert!(u0.feature_updates[0].allow_downgrade && !u0.validate_only);
        assert_eq!(describe_quorum_request().topics[0].topic_name.0.as_str(), METADATA_TOPIC);
    }

    #[test]
    fn alter_partition_reassignments_all_versions() {
        for v in 0..=1 {
            let mut m = ar::AlterPartitionReassignmentsResponse::default();
            m.throttle_time_ms = 3;
            m.error_message = None;
            let mut t = ar::ReassignableTopicResponse::default();
            t.name = TopicName(sb("t"));
            let mut p = ar::ReassignablePartitionResponse::default();
            p.partition_index = 2;
            p.error_code = 85;
            p.error_message = Some(sb("none in progress"));
            let mut q = ar::ReassignablePartitionResponse::default();
            q.error_message = None;
            t.partitions = vec![p, q];
            m.responses = vec![t];
            let bytes = encode(&m, v);
            let d = AlterPartitionReassignmentsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.throttle_time_ms, 3);
            assert_eq!(d.partitions[0].error_code, NO_REASSIGNMENT_IN_PROGRESS);
            assert_eq!(d.partitions[0].error_message.as_deref(), Some("none in progress"));
            assert_eq!((d.partitions[1].topic.as_str(), d.partitions[1].partition), ("t", 0));
            all_prefixes_fail(&bytes, |b| AlterPartitionReassignmentsResponse::decode(b, v));
        }
    }

    #[test]
    fn list_partition_reassignments_v0() {
        let mut m = lr::ListPartitionReassignmentsResponse::default();
        let mut t = lr::OngoingTopicReassignment::default();
        t.name = TopicName(sb("t"));
        let mut p = lr::OngoingPartitionReassignment::default();
        p.partition_index = 1;
        p.replicas = vec![BrokerId(2), BrokerId(1)];
        p.adding_replicas = vec![BrokerId(2)];
        p.removing_replicas = vec![BrokerId(1)];
        t.partitions = vec![p];
        m.topics = vec![t];
        let bytes = encode(&m, 0);
        let d = ListPartitionReassignmentsResponse::decode(bytes.clone(), 0).unwrap();
        assert_eq!(
            d.reassignments,
            [OngoingReassignment {
                topic: "t".into(),
                partition: 1,
                replicas: vec![2, 1],
                adding: vec![2],
                removing: vec![1]
            }]
        );
        all_prefixes_fail(&bytes, |b| ListPartitionReassignmentsResponse::decode(b, 0));
    }

    #[test]
    fn elect_leaders_all_versions() {
        for v in 0..=2 {
            let mut m = el::ElectLeadersResponse::default();
            m.throttle_time_ms = 1;
            if v >= 1 {
                m.error_code = 0;
            }
            let mut t = el::ReplicaElectionResult::default();
            t.topic = TopicName(sb("t"));
            let mut p = el::PartitionResult::default();
            p.partition_id = 4;
            p.error_code = 84;
            p.error_message = Some(sb("Leader election not needed"));
            let mut q = el::PartitionResult::default();
            q.error_message = None;
            t.partition_result = vec![p, q];
            m.replica_election_results = vec![t];
            let bytes = encode(&m, v);
            let d = ElectLeadersResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.partitions[0].error_code, ELECTION_NOT_NEEDED);
            assert_eq!(d.partitions[0].partition, 4);
            assert_eq!(d.partitions[1].error_message, None);
            all_prefixes_fail(&bytes, |b| ElectLeadersResponse::decode(b, v));
        }
    }

    #[test]
    fn update_features_all_versions() {
        for v in 0..=2 {
            let mut m = uf::UpdateFeaturesResponse::default();
            m.error_code = 42;
            m.error_message = Some(sb("bad"));
            if v <= 1 {
                let mut r = uf::UpdatableFeatureResult::default();
                r.feature = sb("group.version");
                r.error_code = 42;
                r.error_message = None;
                m.results = vec![r];
            }
            let bytes = encode(&m, v);
            let d = UpdateFeaturesResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!((d.error_code, d.error_message.as_deref()), (ErrorCode(42), Some("bad")));
            assert_eq!(d.results.len(), usize::from(v <= 1));
            all_prefixes_fail(&bytes, |b| UpdateFeaturesResponse::decode(b, v));
        }
    }

    #[test]
    fn describe_quorum_all_versions() {
        for v in 0..=2 {
            let mut m = dqr::DescribeQuorumResponse::default();
            let mut t = dqr::TopicData::default();
            t.topic_name = TopicName(sb(METADATA_TOPIC));
            let mut p = dqr::PartitionData::default();
            p.leader_id = BrokerId(2);
            p.leader_epoch = 7;
            p.high_watermark = 1234;
            if v < 2 {
                p.error_message = Some(sb(""));
            }
            let mut s = dqr::ReplicaState::default();
            s.replica_id = BrokerId(2);
            s.log_end_offset = 1234;
            if v >= 1 {
                s.last_fetch_timestamp = 99;
                s.last_caught_up_timestamp = 98;
            }
            if v >= 2 {
                s.replica_directory_id = uuid::Uuid::from_bytes([7; 16]);
            }
            p.current_voters = vec![s.clone()];
            s.replica_id = BrokerId(9);
            p.observers = vec![s];
            t.partitions = vec![p];
            m.topics = vec![t];
            if v < 2 {
                m.error_message = Some(sb(""));
            }
            if v >= 2 {
                let mut n = dqr::Node::default();
                n.node_id = BrokerId(2);
                let mut l = dqr::Listener::default();
                l.name = sb("CONTROLLER");
                l.host = sb("127.0.0.1");
                l.port = 30501;
                n.listeners = vec![l];
                m.nodes = vec![n];
            }
            let bytes = encode(&m, v);
            let d = DescribeQuorumResponse::decode(bytes.clone(), v).unwrap();
            let p = &d.partitions[0];
            assert_eq!((p.leader_id, p.leader_epoch, p.high_watermark), (2, 7, 1234));
            assert_eq!((p.voters[0].replica_id, p.observers[0].replica_id), (2, 9));
            let want_ts = if v >= 1 { 99 } else { -1 };
            assert_eq!(p.voters[0].last_fetch_timestamp, want_ts);
            if v >= 2 {
                assert_eq!(p.voters[0].directory_id, [7; 16]);
                assert_eq!(d.nodes[0].listeners[0].port, 30501);
            }
            all_prefixes_fail(&bytes, |b| DescribeQuorumResponse::decode(b, v));
        }
    }

    #[test]
    fn hostile_counts_are_rejected_before_allocating() {
        let body = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]);
        assert!(ListPartitionReassignmentsResponse::decode(body.clone(), 0).is_err());
        assert!(AlterPartitionReassignmentsResponse::decode(body, 0).is_err());
        let body = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(ElectLeadersResponse::decode(body, 1).is_err());
        let body = Bytes::from_static(&[0, 0, 0, 0xff, 0xff, 0xff, 0x7f]);
        assert!(DescribeQuorumResponse::decode(body, 2).is_err());
    }
}
