//! Fetch (1) and ListOffsets (2): typed request builders and response
//! decoders. Record data stays a zero-copy slice of the response buffer;
//! `records::` decodes it lazily. Crates above `conn` build requests here and
//! never touch `kafka-protocol`'s structs.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request as kfr;
use kafka_protocol::messages::list_offsets_request as klo;
use kafka_protocol::messages::{BrokerId, TopicName};
use kafka_protocol::protocol::StrBytes;

pub use kafka_protocol::messages::{FetchRequest, ListOffsetsRequest};

/// Request-wide settings of a Fetch request.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchParams<'a> {
    /// `fetch.max.wait.ms`.
    pub max_wait_ms: i32,
    /// `fetch.min.bytes`.
    pub min_bytes: i32,
    /// `fetch.max.bytes`.
    pub max_bytes: i32,
    /// 0 read_uncommitted, 1 read_committed.
    pub isolation_level: i8,
    /// Fetch session id (KIP-227; 0 for none), v7+.
    pub session_id: i32,
    /// Fetch session epoch (-1: no session, 0: new), v7+.
    pub session_epoch: i32,
    /// `client.rack` (KIP-392), v11+.
    pub rack: &'a str,
}

/// One partition to fetch.
#[derive(Debug, Clone, Copy)]
pub struct FetchPartitionSpec<'a> {
    /// Topic name (v0-12).
    pub topic: &'a str,
    /// Topic id (v13+).
    pub topic_id: [u8; 16],
    /// Partition.
    pub partition: i32,
    /// Where to read from.
    pub offset: i64,
    /// The leader epoch the client knows (v9+; -1 unknown).
    pub leader_epoch: i32,
    /// The leader epoch of the last batch fetched (v12+, KIP-320: the
    /// broker answers with a diverging epoch when the log was truncated
    /// below `offset`; -1 unknown).
    pub last_fetched_epoch: i32,
    /// `max.partition.fetch.bytes`.
    pub max_bytes: i32,
}

/// A Fetch request of `version`: `include` partitions grouped by topic
/// (names or, from v13, ids), and the session's `forgotten` partitions
/// (topic, topic id, partition; v7+).
pub fn fetch_request<'a>(
    version: i16,
    params: &FetchParams<'_>,
    include: impl IntoIterator<Item = FetchPartitionSpec<'a>>,
    forgotten: impl IntoIterator<Item = (&'a str, [u8; 16], i32)>,
) -> FetchRequest {
    let mut req = FetchRequest::default();
    if version <= 14 {
        req.replica_id = BrokerId(-1);
    } else {
        req.replica_state.replica_id = BrokerId(-1);
    }
    req.max_wait_ms = params.max_wait_ms;
    req.min_bytes = params.min_bytes;
    req.max_bytes = params.max_bytes;
    req.isolation_level = params.isolation_level;
    if version >= 7 {
        req.session_id = params.session_id;
        req.session_epoch = params.session_epoch;
    }
    if version >= 11 {
        req.rack_id = StrBytes::from_string(params.rack.to_owned());
    }
    let mut topics: BTreeMap<&str, ([u8; 16], Vec<kfr::FetchPartition>)> = BTreeMap::new();
    for p in include {
        let mut fp = kfr::FetchPartition::default();
        fp.partition = p.partition;
        if version >= 9 {
            fp.current_leader_epoch = p.leader_epoch;
        }
        if version >= 12 {
            fp.last_fetched_epoch = p.last_fetched_epoch;
        }
        fp.fetch_offset = p.offset;
        fp.partition_max_bytes = p.max_bytes;
        topics.entry(p.topic).or_insert_with(|| (p.topic_id, Vec::new())).1.push(fp);
    }
    req.topics = topics
        .into_iter()
        .map(|(name, (id, partitions))| {
            let mut t = kfr::FetchTopic::default();
            if version >= 13 {
                t.topic_id = uuid::Uuid::from_bytes(id);
            } else {
                t.topic = TopicName(StrBytes::from_string(name.to_owned()));
            }
            t.partitions = partitions;
            t
        })
        .collect();
    if version >= 7 {
        let mut f: BTreeMap<&str, ([u8; 16], Vec<i32>)> = BTreeMap::new();
        for (name, id, partition) in forgotten {
            f.entry(name).or_insert_with(|| (id, Vec::new())).1.push(partition);
        }
        req.forgotten_topics_data = f
            .into_iter()
            .map(|(name, (id, partitions))| {
                let mut t = kfr::ForgottenTopic::default();
                if version >= 13 {
                    t.topic_id = uuid::Uuid::from_bytes(id);
                } else {
                    t.topic = TopicName(StrBytes::from_string(name.to_owned()));
                }
                t.partitions = partitions;
                t
            })
            .collect();
    }
    req
}

/// A ListOffsets request of `version`: for each (topic, partition, current
/// leader epoch, timestamp) — timestamp -2 earliest, -1 latest, else the
/// first offset at or after it — grouped by topic.
pub fn list_offsets_request<'a>(
    version: i16,
    isolation_level: i8,
    timeout_ms: i32,
    partitions: impl IntoIterator<Item = (&'a str, i32, i32, i64)>,
) -> ListOffsetsRequest {
    let mut topics: BTreeMap<&str, Vec<klo::ListOffsetsPartition>> = BTreeMap::new();
    for (topic, partition, leader_epoch, timestamp) in partitions {
        let mut p = klo::ListOffsetsPartition::default();
        p.partition_index = partition;
        if version >= 4 {
            p.current_leader_epoch = leader_epoch;
        }
        p.timestamp = timestamp;
        topics.entry(topic).or_default().push(p);
    }
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    if version >= 2 {
        req.isolation_level = isolation_level;
    }
    if version >= 10 {
        req.timeout_ms = timeout_ms;
    }
    req.topics = topics
        .into_iter()
        .map(|(name, parts)| {
            let mut t = klo::ListOffsetsTopic::default();
            t.name = TopicName(StrBytes::from_string(name.to_owned()));
            t.partitions = parts;
            t
        })
        .collect();
    req
}

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

/// A transaction aborted within the fetched range (read_committed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTransaction {
    /// Producer id of the aborted transaction.
    pub producer_id: i64,
    /// Its first offset.
    pub first_offset: i64,
}

/// One partition of a fetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartition {
    /// Partition index.
    pub partition: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// High watermark.
    pub high_watermark: i64,
    /// Last stable offset (-1 if unknown).
    pub last_stable_offset: i64,
    /// Log start offset (v5+, -1 if unknown).
    pub log_start_offset: i64,
    /// Diverging epoch (v12+, tagged): (epoch, end offset), or (-1, -1).
    pub diverging_epoch: (i32, i64),
    /// Leader hint (v12+, tagged): (leader id, epoch), or (-1, -1).
    pub current_leader: (i32, i32),
    /// Aborted transactions (read_committed), `None` if not sent.
    pub aborted_transactions: Option<Vec<AbortedTransaction>>,
    /// Preferred read replica (v11+), -1 if none.
    pub preferred_read_replica: i32,
    /// Raw record batches, a slice of the response buffer.
    pub records: Bytes,
}

/// One topic of a fetch response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchTopic {
    /// Topic name (v4-v12); empty for v13+.
    pub name: String,
    /// Topic id (v13+), zeros before.
    pub topic_id: [u8; 16],
    /// Partitions.
    pub partitions: Vec<FetchPartition>,
}

/// Decoded Fetch response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Top-level error (v7+), e.g. FETCH_SESSION_ID_NOT_FOUND.
    pub error_code: ErrorCode,
    /// Fetch session id (v7+).
    pub session_id: i32,
    /// Topics.
    pub topics: Vec<FetchTopic>,
}

impl Response for FetchResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 12;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let (error_code, session_id) =
            if v >= 7 { (ErrorCode(r.i16()?), r.i32()?) } else { (ErrorCode::NONE, 0) };
        let topics = r.array(flex, 3, |r| {
            let (name, topic_id) =
                if v >= 13 { (String::new(), r.uuid()?) } else { (r.string(flex)?, [0; 16]) };
            let partitions = r.array(flex, 30, |r| {
                let partition = r.i32()?;
                let error_code = ErrorCode(r.i16()?);
                let high_watermark = r.i64()?;
                let last_stable_offset = r.i64()?;
                let log_start_offset = if v >= 5 { r.i64()? } else { -1 };
                let aborted_transactions = r
                    .nullable_array_len(flex, 16)?
                    .map(|n| -> Result<Vec<AbortedTransaction>, DecodeError> {
                        let mut out = Vec::with_capacity(n.min(256));
                        for _ in 0..n {
                            out.push(AbortedTransaction { producer_id: r.i64()?, first_offset: r.i64()? });
                            r.skip_tagged_fields(flex)?;
                        }
                        Ok(out)
                    })
                    .transpose()?;
                let preferred_read_replica = if v >= 11 { r.i32()? } else { -1 };
                let records = r.nullable_bytes(flex)?.unwrap_or_default();
                let mut p = FetchPartition {
                    partition,
                    error_code,
                    high_watermark,
                    last_stable_offset,
                    log_start_offset,
                    diverging_epoch: (-1, -1),
                    current_leader: (-1, -1),
                    aborted_transactions,
                    preferred_read_replica,
                    records,
                };
                r.tagged_fields(flex, |tag, f| {
                    match tag {
                        0 => {
                            p.diverging_epoch = (f.i32()?, f.i64()?);
                        }
                        1 => {
                            p.current_leader = (f.i32()?, f.i32()?);
                        }
                        _ => {}
                    }
                    Ok(())
                })?;
                Ok(p)
            })?;
            r.skip_tagged_fields(flex)?;
            Ok(FetchTopic { name, topic_id, partitions })
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(FetchResponse { throttle_time_ms, error_code, session_id, topics })
    }
}

/// One partition's ListOffsets answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOffsetsPartition {
    /// Partition index.
    pub partition: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Timestamp of the found record (-1 for earliest/latest).
    pub timestamp: i64,
    /// The offset (-1 if no record at or after a timestamp).
    pub offset: i64,
    /// Leader epoch (v4+), -1 if unknown.
    pub leader_epoch: i32,
}

/// Decoded ListOffsets response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListOffsetsResponse {
    /// Throttle (v2+).
    pub throttle_time_ms: i32,
    /// Per topic.
    pub topics: Vec<(String, Vec<ListOffsetsPartition>)>,
}

impl Response for ListOffsetsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 6;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 2 { r.i32()? } else { 0 };
        let topics = r.array(flex, 6, |r| {
            let name = r.string(flex)?;
            let parts = r.array(flex, 22, |r| {
                let p = ListOffsetsPartition {
                    partition: r.i32()?,
                    error_code: ErrorCode(r.i16()?),
                    timestamp: r.i64()?,
                    offset: r.i64()?,
                    leader_epoch: if v >= 4 { r.i32()? } else { -1 },
                };
                r.skip_tagged_fields(flex)?;
                Ok(p)
            })?;
            r.skip_tagged_fields(flex)?;
            Ok((name, parts))
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(ListOffsetsResponse { throttle_time_ms, topics })
    }
}

impl Request for FetchRequest {
    const KEY: ApiKey = ApiKey::Fetch;
    type Response = FetchResponse;
}

impl Request for ListOffsetsRequest {
    const KEY: ApiKey = ApiKey::ListOffsets;
    type Response = ListOffsetsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::{
        BrokerId, ProducerId, TopicName, fetch_response as kp, list_offsets_response as lo,
    };

    #[test]
    fn fetch_request_builder_names_topics_before_v13_and_ids_from_v13() {
        let params = FetchParams {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 50,
            session_epoch: -1,
            ..Default::default()
        };
        let spec = |topic, partition| FetchPartitionSpec {
            topic,
            topic_id: [if topic == "a" { 1 } else { 2 }; 16],
            partition,
            offset: 7,
            leader_epoch: 3,
            last_fetched_epoch: 2,
            max_bytes: 10,
        };
        for v in [4i16, 12, 13, 16] {
            let req =
                fetch_request(v, &params, [spec("b", 1), spec("a", 0), spec("a", 2)], [("c", [9; 16], 4)]);
            assert_eq!(req.topics.len(), 2, "v{v}");
            let a = &req.topics[0];
            assert_eq!(a.partitions.iter().map(|p| p.partition).collect::<Vec<_>>(), vec![0, 2]);
            if v >= 13 {
                assert_eq!(a.topic_id, uuid::Uuid::from_bytes([1; 16]));
                assert!(a.topic.0.is_empty());
            } else {
                assert_eq!(a.topic.0.as_str(), "a");
            }
            assert_eq!(a.partitions[0].current_leader_epoch, if v >= 9 { 3 } else { -1 });
            assert_eq!(a.partitions[0].last_fetched_epoch, if v >= 12 { 2 } else { -1 });
            assert_eq!(req.forgotten_topics_data.len(), usize::from(v >= 7));
            assert!(encode(&req, v).len() > 20, "v{v} encodes");
        }
        let lo = list_offsets_request(5, 1, 1000, [("t", 0, 2, -2), ("t", 1, 2, -1)]);
        assert_eq!((lo.isolation_level, lo.topics.len(), lo.topics[0].partitions.len()), (1, 1, 2));
        assert_eq!(lo.topics[0].partitions[1].timestamp, -1);
    }

    #[test]
    fn fetch_all_versions() {
        for v in 4..=18 {
            let mut m = kp::FetchResponse::default();
            m.throttle_time_ms = 1;
            if v >= 7 {
                m.error_code = 0;
                m.session_id = 77;
            }
            let mut p = kp::PartitionData::default();
            p.partition_index = 4;
            p.error_code = 1;
            p.high_watermark = 500;
            p.last_stable_offset = 450;
            if v >= 5 {
                p.log_start_offset = 3;
            }
            let mut a = kp::AbortedTransaction::default();
            a.producer_id = ProducerId(9);
            a.first_offset = 100;
            p.aborted_transactions = Some(vec![a]);
            if v >= 11 {
                p.preferred_read_replica = BrokerId(-1);
            }
            if v >= 12 {
                p.current_leader.leader_id = BrokerId(3);
                p.current_leader.leader_epoch = 8;
                p.diverging_epoch.epoch = 2;
                p.diverging_epoch.end_offset = 40;
            }
            p.records = Some(Bytes::from_static(b"batches"));
            let mut t = kp::FetchableTopicResponse::default();
            if v >= 13 {
                t.topic_id = uuid::Uuid::from_bytes([5; 16]);
            } else {
                t.topic = TopicName(sb("voters"));
            }
            t.partitions = vec![p, kp::PartitionData::default()];
            m.responses = vec![t];
            let bytes = encode(&m, v);
            let d = FetchResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.session_id, if v >= 7 { 77 } else { 0 });
            let t = &d.topics[0];
            if v >= 13 {
                assert_eq!(t.topic_id, [5; 16]);
            } else {
                assert_eq!(t.name, "voters");
            }
            let p = &t.partitions[0];
            assert_eq!(
                (p.partition, p.error_code, p.high_watermark, p.last_stable_offset),
                (4, ErrorCode(1), 500, 450)
            );
            assert_eq!(p.log_start_offset, if v >= 5 { 3 } else { -1 });
            assert_eq!(
                p.aborted_transactions,
                Some(vec![AbortedTransaction { producer_id: 9, first_offset: 100 }])
            );
            assert_eq!(&p.records[..], b"batches");
            if v >= 12 {
                assert_eq!(p.current_leader, (3, 8));
                assert_eq!(p.diverging_epoch, (2, 40));
            }
            assert_eq!(t.partitions[1].records.len(), 0);
            all_prefixes_fail(&bytes, |b| FetchResponse::decode(b, v));
        }
    }

    #[test]
    fn list_offsets_all_versions() {
        for v in 1..=10 {
            let mut m = lo::ListOffsetsResponse::default();
            if v >= 2 {
                m.throttle_time_ms = 4;
            }
            let mut p = lo::ListOffsetsPartitionResponse::default();
            p.partition_index = 1;
            p.timestamp = 1_700_000_000_000;
            p.offset = 42;
            if v >= 4 {
                p.leader_epoch = 6;
            }
            let mut t = lo::ListOffsetsTopicResponse::default();
            t.name = TopicName(sb("t"));
            t.partitions = vec![p];
            m.topics = vec![t];
            let bytes = encode(&m, v);
            let d = ListOffsetsResponse::decode(bytes.clone(), v).unwrap();
            let (name, parts) = &d.topics[0];
            assert_eq!(name, "t");
            assert_eq!((parts[0].partition, parts[0].offset, parts[0].timestamp), (1, 42, 1_700_000_000_000));
            assert_eq!(parts[0].leader_epoch, if v >= 4 { 6 } else { -1 });
            all_prefixes_fail(&bytes, |b| ListOffsetsResponse::decode(b, v));
        }
    }
}
