//! Transactions, the client's side (KIP-98, KIP-447, KIP-890):
//! FindCoordinator (10) for a transactional id, AddPartitionsToTxn (24),
//! AddOffsetsToTxn (25), EndTxn (26) and TxnOffsetCommit (28): typed request
//! builders and bounds-checked response decoders. InitProducerId with a
//! transactional id is in [`produce`](super::produce).
//!
//! Clients send AddPartitionsToTxn v0-v3 (one transaction per request); the
//! batched v4+ form is for brokers verifying partitions (KIP-890 part 1), but
//! its response is decoded too, as one [`TxnPartitionResults`] per
//! transaction.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{GroupId, ProducerId, TopicName, TransactionalId};
use kafka_protocol::protocol::StrBytes;

pub use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, FindCoordinatorRequest,
    TxnOffsetCommitRequest,
};

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

/// FindCoordinator's `key_type` for a transactional id.
pub use super::txn_admin::COORDINATOR_KEY_TYPE_TRANSACTION as KEY_TYPE_TRANSACTION;

fn strb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn str_min(flex: bool) -> usize {
    if flex { 1 } else { 2 }
}

fn arr_min(flex: bool) -> usize {
    if flex { 1 } else { 4 }
}

/// The producer a transactional request speaks for: its transactional id,
/// producer id and epoch.
#[derive(Debug, Clone, Copy)]
pub struct TxnProducer<'a> {
    /// `transactional.id`.
    pub transactional_id: &'a str,
    /// Producer id from InitProducerId.
    pub producer_id: i64,
    /// Its current epoch.
    pub producer_epoch: i16,
}

pub use super::txn_admin::find_transaction_coordinator_request;

/// An AddPartitionsToTxn request (v0-v3, the client's form): adds
/// `partitions` (topic, partition) to `p`'s transaction, topics sorted by
/// name, partitions in the order given.
pub fn add_partitions_to_txn_request<'a>(
    p: TxnProducer<'_>,
    partitions: impl IntoIterator<Item = (&'a str, i32)>,
) -> AddPartitionsToTxnRequest {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, part) in partitions {
        by_topic.entry(t).or_default().push(part);
    }
    let mut req = AddPartitionsToTxnRequest::default();
    req.v3_and_below_transactional_id = TransactionalId(strb(p.transactional_id));
    req.v3_and_below_producer_id = ProducerId(p.producer_id);
    req.v3_and_below_producer_epoch = p.producer_epoch;
    req.v3_and_below_topics = by_topic
        .into_iter()
        .map(|(name, parts)| {
            let mut t = AddPartitionsToTxnTopic::default();
            t.name = TopicName(strb(name));
            t.partitions = parts;
            t
        })
        .collect();
    req
}

/// An AddOffsetsToTxn request: `group_id`'s offsets will be part of `p`'s
/// transaction (the coordinator adds the group's `__consumer_offsets`
/// partition).
pub fn add_offsets_to_txn_request(p: TxnProducer<'_>, group_id: &str) -> AddOffsetsToTxnRequest {
    let mut req = AddOffsetsToTxnRequest::default();
    req.transactional_id = TransactionalId(strb(p.transactional_id));
    req.producer_id = ProducerId(p.producer_id);
    req.producer_epoch = p.producer_epoch;
    req.group_id = GroupId(strb(group_id));
    req
}

/// The consumer group member whose offsets go into a transaction (KIP-447):
/// the group coordinator fences a zombie whose generation is stale.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// Generation id (-1: unknown; the broker then checks nothing).
    pub generation_id: i32,
    /// Member id ("" if unknown).
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

impl TxnGroupMetadata {
    /// Metadata with only the group id (no fencing by generation).
    pub fn new(group_id: &str) -> Self {
        TxnGroupMetadata {
            group_id: group_id.to_owned(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// A TxnOffsetCommit request at `version` committing `offsets` (topic,
/// partition, next offset to read) for `group` within `p`'s transaction,
/// topics sorted by name. The member's generation, id and instance id go in
/// from v3 (KIP-447).
pub fn txn_offset_commit_request<'a>(
    p: TxnProducer<'_>,
    group: &TxnGroupMetadata,
    offsets: impl IntoIterator<Item = (&'a str, i32, i64)>,
    version: i16,
) -> TxnOffsetCommitRequest {
    let mut req = TxnOffsetCommitRequest::default();
    req.transactional_id = TransactionalId(strb(p.transactional_id));
    req.group_id = GroupId(strb(&group.group_id));
    req.producer_id = ProducerId(p.producer_id);
    req.producer_epoch = p.producer_epoch;
    if version >= 3 {
        req.generation_id = group.generation_id;
        req.member_id = strb(&group.member_id);
        req.group_instance_id = group.group_instance_id.as_deref().map(strb);
    }
    let mut topics: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
    for (topic, partition, offset) in offsets {
        let mut part = TxnOffsetCommitRequestPartition::default();
        part.partition_index = partition;
        part.committed_offset = offset;
        if version >= 2 {
            part.committed_leader_epoch = -1;
        }
        part.committed_metadata = Some(StrBytes::default());
        topics.entry(topic).or_default().push(part);
    }
    req.topics = topics
        .into_iter()
        .map(|(name, partitions)| {
            let mut t = TxnOffsetCommitRequestTopic::default();
            t.name = TopicName(strb(name));
            t.partitions = partitions;
            t
        })
        .collect();
    req
}

/// An EndTxn request: commit (`committed`) or abort `p`'s transaction.
pub fn end_txn_request(p: TxnProducer<'_>, committed: bool) -> EndTxnRequest {
    let mut req = EndTxnRequest::default();
    req.transactional_id = TransactionalId(strb(p.transactional_id));
    req.producer_id = ProducerId(p.producer_id);
    req.producer_epoch = p.producer_epoch;
    req.committed = committed;
    req
}

/// One topic's per-partition outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnTopicResult {
    /// Topic name.
    pub name: String,
    /// (partition, outcome).
    pub partitions: Vec<(i32, ErrorCode)>,
}

/// One transaction's outcomes in an AddPartitionsToTxn response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnPartitionResults {
    /// The transactional id (v4+; empty before, where a request carries one).
    pub transactional_id: String,
    /// Per topic.
    pub topics: Vec<TxnTopicResult>,
}

/// Decoded AddPartitionsToTxn response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddPartitionsToTxnResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Request-level error (v4+; NONE before).
    pub error_code: ErrorCode,
    /// One entry (v0-v3) or one per transaction (v4+).
    pub results: Vec<TxnPartitionResults>,
}

impl AddPartitionsToTxnResponse {
    /// Every (topic, partition, outcome), over all transactions.
    pub fn partitions(&self) -> impl Iterator<Item = (&str, i32, ErrorCode)> {
        self.results
            .iter()
            .flat_map(|t| t.topics.iter())
            .flat_map(|t| t.partitions.iter().map(move |(p, e)| (t.name.as_str(), *p, *e)))
    }
}

/// Topics with per-partition (index, error) results: the shape shared by
/// AddPartitionsToTxn and TxnOffsetCommit responses.
fn txn_topic_results(r: &mut Reader, flex: bool) -> Result<Vec<TxnTopicResult>, DecodeError> {
    let tags = usize::from(flex);
    r.array(flex, str_min(flex) + arr_min(flex) + tags, |r| {
        let name = r.string(flex)?;
        let partitions = r.array(flex, 6 + tags, |r| {
            let p = (r.i32()?, ErrorCode(r.i16()?));
            r.skip_tagged_fields(flex)?;
            Ok(p)
        })?;
        r.skip_tagged_fields(flex)?;
        Ok(TxnTopicResult { name, partitions })
    })
}

impl Response for AddPartitionsToTxnResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 3;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let (error_code, results) = if v >= 4 {
            let error_code = ErrorCode(r.i16()?);
            let results = r.array(true, 3, |r| {
                let transactional_id = r.string(true)?;
                let topics = txn_topic_results(r, true)?;
                r.skip_tagged_fields(true)?;
                Ok(TxnPartitionResults { transactional_id, topics })
            })?;
            (error_code, results)
        } else {
            let topics = txn_topic_results(&mut r, flex)?;
            (ErrorCode::NONE, vec![TxnPartitionResults { transactional_id: String::new(), topics }])
        };
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(AddPartitionsToTxnResponse { throttle_time_ms, error_code, results })
    }
}

/// Decoded AddOffsetsToTxn response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddOffsetsToTxnResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
}

impl Response for AddOffsetsToTxnResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 3;
        let mut r = Reader::new(body);
        let out = AddOffsetsToTxnResponse { throttle_time_ms: r.i32()?, error_code: ErrorCode(r.i16()?) };
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(out)
    }
}

/// Decoded TxnOffsetCommit response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnOffsetCommitResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Per topic.
    pub topics: Vec<TxnTopicResult>,
}

impl Response for TxnOffsetCommitResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 3;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let topics = txn_topic_results(&mut r, flex)?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(TxnOffsetCommitResponse { throttle_time_ms, topics })
    }
}

/// Decoded EndTxn response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndTxnResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// The producer id for the next transaction (v5+, KIP-890; -1 before).
    pub producer_id: i64,
    /// Its epoch, bumped by the coordinator (v5+; -1 before).
    pub producer_epoch: i16,
}

impl Response for EndTxnResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 3;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let (producer_id, producer_epoch) = if v >= 5 { (r.i64()?, r.i16()?) } else { (-1, -1) };
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(EndTxnResponse { throttle_time_ms, error_code, producer_id, producer_epoch })
    }
}

impl Request for AddPartitionsToTxnRequest {
    const KEY: ApiKey = ApiKey::AddPartitionsToTxn;
    type Response = AddPartitionsToTxnResponse;
}

impl Request for AddOffsetsToTxnRequest {
    const KEY: ApiKey = ApiKey::AddOffsetsToTxn;
    type Response = AddOffsetsToTxnResponse;
}

impl Request for TxnOffsetCommitRequest {
    const KEY: ApiKey = ApiKey::TxnOffsetCommit;
    type Response = TxnOffsetCommitResponse;
}

impl Request for EndTxnRequest {
    const KEY: ApiKey = ApiKey::EndTxn;
    type Response = EndTxnResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use bytes::BytesMut;
    use kafka_protocol::messages::{
        add_offsets_to_txn_response as ao, add_partitions_to_txn_response as ap, end_txn_response as et,
        txn_offset_commit_response as to,
    };
    use kafka_protocol::protocol::{Decodable, Encodable};
    use proptest::prelude::*;

    const P: TxnProducer<'static> =
        TxnProducer { transactional_id: "tx", producer_id: 42, producer_epoch: 3 };

    fn roundtrip<M: Encodable + Decodable>(m: &M, v: i16) -> M {
        let mut b = BytesMut::new();
        m.encode(&mut b, v).unwrap();
        M::decode(&mut b.freeze(), v).unwrap()
    }

    #[test]
    fn find_coordinator_asks_for_the_transaction_key_type() {
        for v in 1..=6 {
            let r = roundtrip(&find_transaction_coordinator_request(v, "tx"), v);
            assert_eq!(r.key_type, KEY_TYPE_TRANSACTION);
            if v >= 4 {
                assert_eq!(r.coordinator_keys.iter().map(StrBytes::as_str).collect::<Vec<_>>(), ["tx"]);
            } else {
                assert_eq!(r.key.as_str(), "tx");
            }
        }
    }

    #[test]
    fn request_builders_round_trip_at_every_client_version() {
        for v in 0..=3 {
            let r = roundtrip(&add_partitions_to_txn_request(P, [("b", 1), ("a", 0), ("b", 0)]), v);
            assert_eq!(r.v3_and_below_transactional_id.0.as_str(), "tx");
            assert_eq!((r.v3_and_below_producer_id.0, r.v3_and_below_producer_epoch), (42, 3));
            let got: Vec<_> =
                r.v3_and_below_topics.iter().map(|t| (t.name.0.as_str(), t.partitions.clone())).collect();
            assert_eq!(got, [("a", vec![0]), ("b", vec![1, 0])]);
        }
        for v in 0..=4 {
            let r = roundtrip(&add_offsets_to_txn_request(P, "g"), v);
            assert_eq!((r.transactional_id.0.as_str(), r.group_id.0.as_str()), ("tx", "g"));
            assert_eq!((r.producer_id.0, r.producer_epoch), (42, 3));
        }
        for v in 0..=5 {
            for committed in [true, false] {
                let r = roundtrip(&end_txn_request(P, committed), v);
                assert_eq!((r.transactional_id.0.as_str(), r.producer_id.0), ("tx", 42));
                assert_eq!((r.producer_epoch, r.committed), (3, committed));
            }
        }
        let g = TxnGroupMetadata {
            group_id: "g".into(),
            generation_id: 7,
            member_id: "m-1".into(),
            group_instance_id: Some("i".into()),
        };
        for v in 0..=5 {
            let r =
                roundtrip(&txn_offset_commit_request(P, &g, [("t", 1, 10), ("s", 0, 5), ("t", 0, 9)], v), v);
            assert_eq!((r.transactional_id.0.as_str(), r.group_id.0.as_str()), ("tx", "g"));
            assert_eq!((r.producer_id.0, r.producer_epoch), (42, 3));
            if v >= 3 {
                assert_eq!((r.generation_id, r.member_id.as_str()), (7, "m-1"));
                assert_eq!(r.group_instance_id.as_ref().map(StrBytes::as_str), Some("i"));
            }
            let got: Vec<_> = r
                .topics
                .iter()
                .map(|t| {
                    let ps: Vec<_> =
                        t.partitions.iter().map(|p| (p.partition_index, p.committed_offset)).collect();
                    (t.name.0.as_str(), ps)
                })
                .collect();
            assert_eq!(got, [("s", vec![(0, 5)]), ("t", vec![(1, 10), (0, 9)])]);
            if v >= 2 {
                assert!(r.topics.iter().flat_map(|t| &t.partitions).all(|p| p.committed_leader_epoch == -1));
            }
        }
    }

    fn ap_topic(name: &str, parts: &[(i32, i16)]) -> ap::AddPartitionsToTxnTopicResult {
        let mut t = ap::AddPartitionsToTxnTopicResult::default();
        t.name = TopicName(sb(name));
        t.results_by_partition = parts
            .iter()
            .map(|&(i, e)| {
                let mut p = ap::AddPartitionsToTxnPartitionResult::default();
                p.partition_index = i;
                p.partition_error_code = e;
                p
            })
            .collect();
        t
    }

    fn to_topic(name: &str, parts: &[(i32, i16)]) -> to::TxnOffsetCommitResponseTopic {
        let mut t = to::TxnOffsetCommitResponseTopic::default();
        t.name = TopicName(sb(name));
        t.partitions = parts
            .iter()
            .map(|&(i, e)| {
                let mut p = to::TxnOffsetCommitResponsePartition::default();
                p.partition_index = i;
                p.error_code = e;
                p
            })
            .collect();
        t
    }

    fn ours(topics: &[(String, Vec<(i32, i16)>)]) -> Vec<TxnTopicResult> {
        topics
            .iter()
            .map(|(n, ps)| TxnTopicResult {
                name: n.clone(),
                partitions: ps.iter().map(|&(p, e)| (p, ErrorCode(e))).collect(),
            })
            .collect()
    }

    fn topics() -> impl Strategy<Value = Vec<(String, Vec<(i32, i16)>)>> {
        proptest::collection::vec(
            ("[a-z._-]{1,10}", proptest::collection::vec((any::<i32>(), any::<i16>()), 0..4)),
            0..4,
        )
    }

    proptest! {
        #[test]
        fn add_partitions_response_matches_kafka_protocol(
            v in 0i16..=5, throttle in any::<i32>(), err in any::<i16>(), ts in topics(),
        ) {
            let mut m = ap::AddPartitionsToTxnResponse::default();
            m.throttle_time_ms = throttle;
            let kp_topics: Vec<_> = ts.iter().map(|(n, ps)| ap_topic(n, ps)).collect();
            if v >= 4 {
                m.error_code = err;
                let mut t = ap::AddPartitionsToTxnResult::default();
                t.transactional_id = TransactionalId(sb("tx"));
                t.topic_results = kp_topics;
                m.results_by_transaction = vec![t];
            } else {
                m.results_by_topic_v3_and_below = kp_topics;
            }
            let bytes = encode(&m, v);
            let d = AddPartitionsToTxnResponse::decode(bytes.clone(), v).unwrap();
            prop_assert_eq!(d.throttle_time_ms, throttle);
            prop_assert_eq!(d.error_code, ErrorCode(if v >= 4 { err } else { 0 }));
            prop_assert_eq!(d.results.len(), 1);
            prop_assert_eq!(&d.results[0].transactional_id, if v >= 4 { "tx" } else { "" });
            prop_assert_eq!(&d.results[0].topics, &ours(&ts));
            prop_assert_eq!(d.partitions().count(), ts.iter().map(|t| t.1.len()).sum::<usize>());
            all_prefixes_fail(&bytes, |b| AddPartitionsToTxnResponse::decode(b, v));
        }

        #[test]
        fn txn_offset_commit_response_matches_kafka_protocol(
            v in 0i16..=5, throttle in any::<i32>(), ts in topics(),
        ) {
            let mut m = to::TxnOffsetCommitResponse::default();
            m.throttle_time_ms = throttle;
            m.topics = ts.iter().map(|(n, ps)| to_topic(n, ps)).collect();
            let bytes = encode(&m, v);
            let d = TxnOffsetCommitResponse::decode(bytes.clone(), v).unwrap();
            prop_assert_eq!(d.throttle_time_ms, throttle);
            prop_assert_eq!(&d.topics, &ours(&ts));
            all_prefixes_fail(&bytes, |b| TxnOffsetCommitResponse::decode(b, v));
        }

        #[test]
        fn end_txn_and_add_offsets_responses_match_kafka_protocol(
            v in 0i16..=5, throttle in any::<i32>(), err in any::<i16>(), pid in any::<i64>(), epoch in any::<i16>(),
        ) {
            let mut m = et::EndTxnResponse::default();
            m.throttle_time_ms = throttle;
            m.error_code = err;
            if v >= 5 {
                m.producer_id = ProducerId(pid);
                m.producer_epoch = epoch;
            }
            let bytes = encode(&m, v);
            let d = EndTxnResponse::decode(bytes.clone(), v).unwrap();
            let want = if v >= 5 { (pid, epoch) } else { (-1, -1) };
            prop_assert_eq!((d.throttle_time_ms, d.error_code), (throttle, ErrorCode(err)));
            prop_assert_eq!((d.producer_id, d.producer_epoch), want);
            all_prefixes_fail(&bytes, |b| EndTxnResponse::decode(b, v));
            if v <= 4 {
                let mut m = ao::AddOffsetsToTxnResponse::default();
                m.throttle_time_ms = throttle;
                m.error_code = err;
                let bytes = encode(&m, v);
                let d = AddOffsetsToTxnResponse::decode(bytes.clone(), v).unwrap();
                prop_assert_eq!((d.throttle_time_ms, d.error_code), (throttle, ErrorCode(err)));
                all_prefixes_fail(&bytes, |b| AddOffsetsToTxnResponse::decode(b, v));
            }
        }
    }

    #[test]
    fn hostile_counts_are_refused_without_allocating() {
        // A topic count of i32::MAX with 6 bytes behind it.
        let mut body = vec![0, 0, 0, 0];
        body.extend_from_slice(&i32::MAX.to_be_bytes());
        body.extend_from_slice(&[0; 6]);
        let r = TxnOffsetCommitResponse::decode(Bytes::from(body.clone()), 0);
        assert!(matches!(r, Err(DecodeError::CountTooLarge { .. })), "{r:?}");
        let r = AddPartitionsToTxnResponse::decode(Bytes::from(body), 2);
        assert!(matches!(r, Err(DecodeError::CountTooLarge { .. })), "{r:?}");
        // Trailing bytes are an error, not ignored.
        let r = EndTxnResponse::decode(Bytes::from_static(&[0, 0, 0, 0, 0, 0, 9]), 1);
        assert!(r.is_err(), "{r:?}");
    }
}
