//! Share groups (KIP-932, Kafka 4.1+ stable; production-ready in 4.2):
//! ShareGroupHeartbeat (76), ShareFetch (78) and ShareAcknowledge (79), v1.
//!
//! A share consumer joins with ShareGroupHeartbeat (member epoch 0, a member
//! id of its own), is told which partitions to fetch from, and fetches them
//! with ShareFetch in a share session per broker: the broker answers with
//! record batches and the offset ranges it *acquired* for this member (each
//! with its delivery count), locked for `share.record.lock.duration.ms`.
//! The member acknowledges each record (ACCEPT, RELEASE or REJECT), in its
//! next ShareFetch or in a ShareAcknowledge.

use bytes::Bytes;
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckAckBatch,
};
use kafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch, FetchPartition, FetchTopic, ForgottenTopic,
};
use kafka_protocol::messages::{
    GroupId, ShareAcknowledgeRequest, ShareFetchRequest, ShareGroupHeartbeatRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

/// Member epoch to leave a share group.
pub const SHARE_LEAVE_EPOCH: i32 = -1;
/// Share session epoch that opens a new session.
pub const SHARE_SESSION_OPEN: i32 = 0;
/// Share session epoch that closes the session.
pub const SHARE_SESSION_CLOSE: i32 = -1;

/// How a record is acknowledged (`AcknowledgeType` in Kafka's client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i8)]
pub enum AckType {
    /// An offset that holds no record (a gap left by compaction or a
    /// transaction marker).
    Gap = 0,
    /// Processed: never delivered again.
    Accept = 1,
    /// Not processed: delivered again (to any member) while the delivery
    /// count stays under the limit.
    Release = 2,
    /// Unprocessable: archived, never delivered again.
    Reject = 3,
}

impl AckType {
    /// The wire value.
    pub fn wire(self) -> i8 {
        self as i8
    }

    /// Kafka's name (`ACCEPT`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AckType::Gap => "GAP",
            AckType::Accept => "ACCEPT",
            AckType::Release => "RELEASE",
            AckType::Reject => "REJECT",
        }
    }
}

/// Consecutive offsets `first..=last` acknowledged the same way (or one
/// type per offset, `types.len() == last - first + 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckBatch {
    /// First offset.
    pub first: i64,
    /// Last offset (inclusive).
    pub last: i64,
    /// One type for the whole range, or one per offset.
    pub types: Vec<AckType>,
}

/// The fields of a ShareGroupHeartbeat request.
#[derive(Debug, Clone)]
pub struct ShareHeartbeatParams<'a> {
    /// Group id.
    pub group_id: &'a str,
    /// The member id the client made up.
    pub member_id: &'a str,
    /// 0 to join, -1 to leave, else the current epoch.
    pub member_epoch: i32,
    /// Rack (sent on join only).
    pub rack_id: Option<&'a str>,
    /// Subscribed topics (`None`: unchanged since the last heartbeat).
    pub subscribed_topic_names: Option<&'a [String]>,
}

/// A ShareGroupHeartbeat request.
pub fn share_group_heartbeat_request(p: &ShareHeartbeatParams<'_>) -> ShareGroupHeartbeatRequest {
    let mut req = ShareGroupHeartbeatRequest::default();
    req.group_id = GroupId(strb(p.group_id));
    req.member_id = strb(p.member_id);
    req.member_epoch = p.member_epoch;
    req.rack_id = p.rack_id.map(strb);
    req.subscribed_topic_names =
        p.subscribed_topic_names.map(|ts| ts.iter().map(|t| TopicName(strb(t))).collect());
    req
}

/// One partition of a ShareFetch or ShareAcknowledge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePartitionReq {
    /// Topic id.
    pub topic_id: [u8; 16],
    /// Partition.
    pub partition: i32,
    /// Acknowledgements piggybacked on this request.
    pub acks: Vec<AckBatch>,
}

/// The fields of a ShareFetch request.
#[derive(Debug, Clone)]
pub struct ShareFetchParams<'a> {
    /// Group id.
    pub group_id: &'a str,
    /// Member id.
    pub member_id: &'a str,
    /// The share session's epoch (0 opens one; -1 closes it).
    pub session_epoch: i32,
    /// Longest time the broker waits for records.
    pub max_wait_ms: i32,
    /// Fewest bytes the broker waits for.
    pub min_bytes: i32,
    /// Most bytes in the answer.
    pub max_bytes: i32,
    /// Most records to acquire (`max.poll.records`).
    pub max_records: i32,
    /// Records per acquired batch (a hint).
    pub batch_size: i32,
    /// Partitions to add to the session or to acknowledge on (with a
    /// session open, only what changed).
    pub partitions: &'a [SharePartitionReq],
    /// Partitions to take out of the session.
    pub forgotten: &'a [([u8; 16], i32)],
}

fn batches<T>(acks: &[AckBatch], mk: impl Fn(i64, i64, Vec<i8>) -> T) -> Vec<T> {
    acks.iter().map(|b| mk(b.first, b.last, b.types.iter().map(|t| t.wire()).collect())).collect()
}

/// A ShareFetch request.
pub fn share_fetch_request(p: &ShareFetchParams<'_>) -> ShareFetchRequest {
    let mut req = ShareFetchRequest::default();
    req.group_id = Some(GroupId(strb(p.group_id)));
    req.member_id = Some(strb(p.member_id));
    req.share_session_epoch = p.session_epoch;
    req.max_wait_ms = p.max_wait_ms;
    req.min_bytes = p.min_bytes;
    req.max_bytes = p.max_bytes;
    req.max_records = p.max_records;
    req.batch_size = p.batch_size;
    let mut topics: Vec<FetchTopic> = Vec::new();
    for sp in p.partitions {
        let mut fp = FetchPartition::default();
        fp.partition_index = sp.partition;
        fp.acknowledgement_batches = batches(&sp.acks, |f, l, t| {
            let mut b = AcknowledgementBatch::default();
            b.first_offset = f;
            b.last_offset = l;
            b.acknowledge_types = t;
            b
        });
        let id = uuid::Uuid::from_bytes(sp.topic_id);
        match topics.iter_mut().find(|t| t.topic_id == id) {
            Some(t) => t.partitions.push(fp),
            None => {
                let mut t = FetchTopic::default();
                t.topic_id = id;
                t.partitions = vec![fp];
                topics.push(t);
            }
        }
    }
    req.topics = topics;
    let mut forgotten: Vec<ForgottenTopic> = Vec::new();
    for (id, part) in p.forgotten {
        let id = uuid::Uuid::from_bytes(*id);
        match forgotten.iter_mut().find(|t| t.topic_id == id) {
            Some(t) => t.partitions.push(*part),
            None => {
                let mut t = ForgottenTopic::default();
                t.topic_id = id;
                t.partitions = vec![*part];
                forgotten.push(t);
            }
        }
    }
    req.forgotten_topics_data = forgotten;
    req
}

/// A ShareAcknowledge request (acknowledgements without fetching, e.g. on close).
pub fn share_acknowledge_request(
    group_id: &str,
    member_id: &str,
    session_epoch: i32,
    partitions: &[SharePartitionReq],
) -> ShareAcknowledgeRequest {
    let mut req = ShareAcknowledgeRequest::default();
    req.group_id = Some(GroupId(strb(group_id)));
    req.member_id = Some(strb(member_id));
    req.share_session_epoch = session_epoch;
    let mut topics: Vec<AcknowledgeTopic> = Vec::new();
    for sp in partitions {
        let mut ap = AcknowledgePartition::default();
        ap.partition_index = sp.partition;
        ap.acknowledgement_batches = batches(&sp.acks, |f, l, t| {
            let mut b = AckAckBatch::default();
            b.first_offset = f;
            b.last_offset = l;
            b.acknowledge_types = t;
            b
        });
        let id = uuid::Uuid::from_bytes(sp.topic_id);
        match topics.iter_mut().find(|t| t.topic_id == id) {
            Some(t) => t.partitions.push(ap),
            None => {
                let mut t = AcknowledgeTopic::default();
                t.topic_id = id;
                t.partitions = vec![ap];
                topics.push(t);
            }
        }
    }
    req.topics = topics;
    req
}

fn strb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// Decoded ShareGroupHeartbeat response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareGroupHeartbeatResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// Member id.
    pub member_id: Option<String>,
    /// The member's epoch.
    pub member_epoch: i32,
    /// Heartbeat interval.
    pub heartbeat_interval_ms: i32,
    /// The assignment, when it changed: (topic id, partitions).
    pub assignment: Option<Vec<([u8; 16], Vec<i32>)>>,
}

impl Response for ShareGroupHeartbeatResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(true)?;
        let member_id = r.nullable_string(true)?;
        let member_epoch = r.i32()?;
        let heartbeat_interval_ms = r.i32()?;
        let assignment = match r.i8()? {
            1 => {
                let a = r.array(true, 18, |r| {
                    let id = r.uuid()?;
                    let parts = r.i32_array(true)?;
                    r.skip_tagged_fields(true)?;
                    Ok((id, parts))
                })?;
                r.skip_tagged_fields(true)?;
                Some(a)
            }
            -1 => None,
            _ => return Err(DecodeError::Invalid("nullable struct marker is neither 1 nor -1")),
        };
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(ShareGroupHeartbeatResponse {
            throttle_time_ms,
            error_code,
            error_message,
            member_id,
            member_epoch,
            heartbeat_interval_ms,
            assignment,
        })
    }
}

/// Offsets `first..=last` acquired for this member, delivered for the
/// `delivery_count`-th time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acquired {
    /// First offset.
    pub first: i64,
    /// Last offset (inclusive).
    pub last: i64,
    /// How many times these records have been delivered (1 the first time).
    pub delivery_count: i16,
}

/// One partition of a ShareFetch answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SharePartitionData {
    /// Partition.
    pub partition: i32,
    /// Fetch outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// Outcome of the acknowledgements sent with the request.
    pub ack_error_code: ErrorCode,
    /// Explanation.
    pub ack_error_message: Option<String>,
    /// The leader, when it moved (-1 unknown).
    pub leader_id: i32,
    /// Its epoch.
    pub leader_epoch: i32,
    /// Record batches (only the records in `acquired` are this member's).
    pub records: Bytes,
    /// What was acquired.
    pub acquired: Vec<Acquired>,
}

/// Partitions of one topic in a share answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareTopicData<P> {
    /// Topic id.
    pub topic_id: [u8; 16],
    /// Partitions.
    pub partitions: Vec<P>,
}

/// A broker named in a share answer (for moved leaders).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareNode {
    /// Broker id.
    pub node_id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Rack.
    pub rack: Option<String>,
}

fn nodes(r: &mut Reader) -> Result<Vec<ShareNode>, DecodeError> {
    r.array(true, 11, |r| {
        let node_id = r.i32()?;
        let host = r.string(true)?;
        let port = r.i32()?;
        let rack = r.nullable_string(true)?;
        r.skip_tagged_fields(true)?;
        Ok(ShareNode { node_id, host, port, rack })
    })
}

fn leader(r: &mut Reader) -> Result<(i32, i32), DecodeError> {
    let id = r.i32()?;
    let epoch = r.i32()?;
    r.skip_tagged_fields(true)?;
    Ok((id, epoch))
}

/// Decoded ShareFetch response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareFetchResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Top-level outcome (session errors).
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// How long acquired records stay locked.
    pub acquisition_lock_timeout_ms: i32,
    /// Per topic.
    pub topics: Vec<ShareTopicData<SharePartitionData>>,
    /// Brokers of moved leaders.
    pub node_endpoints: Vec<ShareNode>,
}

impl Response for ShareFetchResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(true)?;
        let acquisition_lock_timeout_ms = r.i32()?;
        let topics = r.array(true, 18, |r| {
            let topic_id = r.uuid()?;
            let partitions = r.array(true, 20, |r| {
                let partition = r.i32()?;
                let error_code = ErrorCode(r.i16()?);
                let error_message = r.nullable_string(true)?;
                let ack_error_code = ErrorCode(r.i16()?);
                let ack_error_message = r.nullable_string(true)?;
                let (leader_id, leader_epoch) = leader(r)?;
                let records = r.nullable_bytes(true)?.unwrap_or_default();
                let acquired = r.array(true, 19, |r| {
                    let first = r.i64()?;
                    let last = r.i64()?;
                    let delivery_count = r.i16()?;
                    r.skip_tagged_fields(true)?;
                    Ok(Acquired { first, last, delivery_count })
                })?;
                r.skip_tagged_fields(true)?;
                Ok(SharePartitionData {
                    partition,
                    error_code,
                    error_message,
                    ack_error_code,
                    ack_error_message,
                    leader_id,
                    leader_epoch,
                    records,
                    acquired,
                })
            })?;
            r.skip_tagged_fields(true)?;
            Ok(ShareTopicData { topic_id, partitions })
        })?;
        let node_endpoints = nodes(&mut r)?;
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(ShareFetchResponse {
            throttle_time_ms,
            error_code,
            error_message,
            acquisition_lock_timeout_ms,
            topics,
            node_endpoints,
        })
    }
}

/// One partition of a ShareAcknowledge answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareAckPartition {
    /// Partition.
    pub partition: i32,
    /// Outcome of its acknowledgements.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// The leader, when it moved.
    pub leader_id: i32,
    /// Its epoch.
    pub leader_epoch: i32,
}

/// Decoded ShareAcknowledge response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareAcknowledgeResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Top-level outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// Per topic.
    pub topics: Vec<ShareTopicData<ShareAckPartition>>,
    /// Brokers of moved leaders.
    pub node_endpoints: Vec<ShareNode>,
}

impl Response for ShareAcknowledgeResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(true)?;
        let topics = r.array(true, 18, |r| {
            let topic_id = r.uuid()?;
            let partitions = r.array(true, 16, |r| {
                let partition = r.i32()?;
                let error_code = ErrorCode(r.i16()?);
                let error_message = r.nullable_string(true)?;
                let (leader_id, leader_epoch) = leader(r)?;
                r.skip_tagged_fields(true)?;
                Ok(ShareAckPartition { partition, error_code, error_message, leader_id, leader_epoch })
            })?;
            r.skip_tagged_fields(true)?;
            Ok(ShareTopicData { topic_id, partitions })
        })?;
        let node_endpoints = nodes(&mut r)?;
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(ShareAcknowledgeResponse { throttle_time_ms, error_code, error_message, topics, node_endpoints })
    }
}

impl Request for ShareGroupHeartbeatRequest {
    const KEY: ApiKey = ApiKey::ShareGroupHeartbeat;
    type Response = ShareGroupHeartbeatResponse;
}

impl Request for ShareFetchRequest {
    const KEY: ApiKey = ApiKey::ShareFetch;
    type Response = ShareFetchResponse;
}

impl Request for ShareAcknowledgeRequest {
    const KEY: ApiKey = ApiKey::ShareAcknowledge;
    type Response = ShareAcknowledgeResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::share_acknowledge_response as sar;
    use kafka_protocol::messages::share_fetch_response as sfr;
    use kafka_protocol::messages::share_group_heartbeat_response as sgh;

    fn uuid(b: u8) -> uuid::Uuid {
        uuid::Uuid::from_bytes([b; 16])
    }

    #[test]
    fn share_group_heartbeat_response_round_trips() {
        for with_assignment in [false, true] {
            let mut m = sgh::ShareGroupHeartbeatResponse::default();
            m.member_id = Some(sb("m-1"));
            m.member_epoch = 4;
            m.heartbeat_interval_ms = 5000;
            if with_assignment {
                let mut tp = sgh::TopicPartitions::default();
                tp.topic_id = uuid(7);
                tp.partitions = vec![0, 1, 5];
                let mut a = sgh::Assignment::default();
                a.topic_partitions = vec![tp];
                m.assignment = Some(a);
            }
            let bytes = encode(&m, 1);
            let d = ShareGroupHeartbeatResponse::decode(bytes.clone(), 1).unwrap();
            assert_eq!(
                (d.member_epoch, d.heartbeat_interval_ms, d.member_id.as_deref()),
                (4, 5000, Some("m-1"))
            );
            assert_eq!(d.assignment, with_assignment.then(|| vec![([7; 16], vec![0, 1, 5])]));
            all_prefixes_fail(&bytes, |b| ShareGroupHeartbeatResponse::decode(b, 1));
        }
    }

    #[test]
    fn share_fetch_response_round_trips() {
        let mut m = sfr::ShareFetchResponse::default();
        m.acquisition_lock_timeout_ms = 30_000;
        let mut p = sfr::PartitionData::default();
        p.partition_index = 2;
        p.acknowledge_error_code = ErrorCode::INVALID_RECORD_STATE.0;
        p.current_leader.leader_id = 1;
        p.current_leader.leader_epoch = 3;
        p.records = Some(Bytes::from_static(b"batches"));
        let mut a = sfr::AcquiredRecords::default();
        a.first_offset = 10;
        a.last_offset = 19;
        a.delivery_count = 2;
        p.acquired_records = vec![a];
        let mut t = sfr::ShareFetchableTopicResponse::default();
        t.topic_id = uuid(5);
        t.partitions = vec![p, sfr::PartitionData::default()];
        m.responses = vec![t];
        let mut n = sfr::NodeEndpoint::default();
        n.node_id = kafka_protocol::messages::BrokerId(1);
        n.host = sb("h");
        n.port = 9092;
        m.node_endpoints = vec![n];
        let bytes = encode(&m, 1);
        let d = ShareFetchResponse::decode(bytes.clone(), 1).unwrap();
        assert_eq!(d.acquisition_lock_timeout_ms, 30_000);
        let p = &d.topics[0].partitions[0];
        assert_eq!(
            (d.topics[0].topic_id, p.partition, p.ack_error_code),
            ([5; 16], 2, ErrorCode::INVALID_RECORD_STATE)
        );
        assert_eq!((p.leader_id, p.leader_epoch, &p.records[..]), (1, 3, &b"batches"[..]));
        assert_eq!(p.acquired, vec![Acquired { first: 10, last: 19, delivery_count: 2 }]);
        assert!(d.topics[0].partitions[1].records.is_empty());
        assert_eq!((d.node_endpoints[0].node_id, d.node_endpoints[0].port), (1, 9092));
        all_prefixes_fail(&bytes, |b| ShareFetchResponse::decode(b, 1));
    }

    #[test]
    fn share_acknowledge_response_round_trips() {
        let mut m = sar::ShareAcknowledgeResponse::default();
        let mut p = sar::PartitionData::default();
        p.partition_index = 1;
        p.error_code = ErrorCode::INVALID_RECORD_STATE.0;
        let mut t = sar::ShareAcknowledgeTopicResponse::default();
        t.topic_id = uuid(3);
        t.partitions = vec![p];
        m.responses = vec![t];
        let bytes = encode(&m, 1);
        let d = ShareAcknowledgeResponse::decode(bytes.clone(), 1).unwrap();
        assert_eq!(d.topics[0].partitions[0].error_code, ErrorCode::INVALID_RECORD_STATE);
        all_prefixes_fail(&bytes, |b| ShareAcknowledgeResponse::decode(b, 1));
    }

    #[test]
    fn requests_group_partitions_by_topic() {
        let parts = [
            SharePartitionReq { topic_id: [1; 16], partition: 0, acks: vec![] },
            SharePartitionReq {
                topic_id: [1; 16],
                partition: 1,
                acks: vec![AckBatch { first: 3, last: 5, types: vec![AckType::Accept] }],
            },
            SharePartitionReq { topic_id: [2; 16], partition: 0, acks: vec![] },
        ];
        let req = share_fetch_request(&ShareFetchParams {
            group_id: "g",
            member_id: "m",
            session_epoch: 0,
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            max_records: 500,
            batch_size: 500,
            partitions: &parts,
            forgotten: &[([2; 16], 1), ([2; 16], 2)],
        });
        assert_eq!(req.topics.len(), 2);
        assert_eq!(req.topics[0].partitions.len(), 2);
        assert_eq!(req.topics[0].partitions[1].acknowledgement_batches[0].acknowledge_types, vec![1]);
        assert_eq!(req.forgotten_topics_data[0].partitions, vec![1, 2]);
        let ack = share_acknowledge_request("g", "m", 3, &parts[1..2]);
        assert_eq!(ack.topics[0].partitions[0].acknowledgement_batches[0].first_offset, 3);
    }
}
