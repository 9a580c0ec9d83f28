//! Produce (0) and InitProducerId (22): typed request builders and
//! bounds-checked response decoders. Crates above `conn` build requests here
//! and never touch `kafka-protocol`'s structs.

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProducerId, TopicName, TransactionalId};
use kafka_protocol::protocol::StrBytes;

pub use kafka_protocol::messages::{InitProducerIdRequest, ProduceRequest};

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

/// One partition's produce outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionProduceResponse {
    /// Partition index.
    pub partition: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Offset of the first record of the batch.
    pub base_offset: i64,
    /// Broker append time for LogAppendTime topics, else -1.
    pub log_append_time_ms: i64,
    /// Log start offset (v5+), -1 if unknown.
    pub log_start_offset: i64,
    /// Per-record errors (v8+): batch index and message.
    pub record_errors: Vec<(i32, Option<String>)>,
    /// The broker's explanation (v8+).
    pub error_message: Option<String>,
    /// New leader hint (v10+, tagged): (leader id, epoch), (-1, -1) if absent.
    pub current_leader: (i32, i32),
}

/// Decoded Produce response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProduceResponse {
    /// Per topic: name and partition outcomes.
    pub topics: Vec<(String, Vec<PartitionProduceResponse>)>,
    /// Throttle.
    pub throttle_time_ms: i32,
}

impl Response for ProduceResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 9;
        let mut r = Reader::new(body);
        let topics = r.array(flex, 6, |r| {
            let name = r.string(flex)?;
            let parts = r.array(flex, 22, |r| {
                let mut p = PartitionProduceResponse {
                    partition: r.i32()?,
                    error_code: ErrorCode(r.i16()?),
                    base_offset: r.i64()?,
                    log_append_time_ms: r.i64()?,
                    log_start_offset: if v >= 5 { r.i64()? } else { -1 },
                    record_errors: Vec::new(),
                    error_message: None,
                    current_leader: (-1, -1),
                };
                if v >= 8 {
                    p.record_errors = r.array(flex, 5, |r| {
                        let idx = r.i32()?;
                        let msg = r.nullable_string(flex)?;
                        r.skip_tagged_fields(flex)?;
                        Ok((idx, msg))
                    })?;
                    p.error_message = r.nullable_string(flex)?;
                }
                r.tagged_fields(flex, |tag, f| {
                    if tag == 0 {
                        p.current_leader = (f.i32()?, f.i32()?);
                    }
                    Ok(())
                })?;
                Ok(p)
            })?;
            r.skip_tagged_fields(flex)?;
            Ok((name, parts))
        })?;
        let throttle_time_ms = r.i32()?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(ProduceResponse { topics, throttle_time_ms })
    }
}

/// Decoded InitProducerId response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InitProducerIdResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Assigned producer id.
    pub producer_id: i64,
    /// Assigned epoch.
    pub producer_epoch: i16,
}

impl Response for InitProducerIdResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 2;
        let mut r = Reader::new(body);
        let out = InitProducerIdResponse {
            throttle_time_ms: r.i32()?,
            error_code: ErrorCode(r.i16()?),
            producer_id: r.i64()?,
            producer_epoch: r.i16()?,
        };
        if v >= 6 {
            r.i64()?;
            r.i16()?;
        }
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(out)
    }
}

/// A ProduceRequest with `acks` (-1 all, 1 leader, 0 none), the broker-side
/// `timeout_ms`, and one encoded record batch per partition, grouped by topic
/// in the order topics first appear.
pub fn produce_request<'a>(
    acks: i16,
    timeout_ms: i32,
    transactional_id: Option<&str>,
    batches: impl IntoIterator<Item = (&'a str, i32, Bytes)>,
) -> ProduceRequest {
    let mut pr = ProduceRequest::default();
    pr.acks = acks;
    pr.timeout_ms = timeout_ms;
    pr.transactional_id = transactional_id.map(|t| TransactionalId(StrBytes::from_string(t.to_owned())));
    let mut topics: Vec<TopicProduceData> = Vec::new();
    for (topic, partition, records) in batches {
        let mut pd = PartitionProduceData::default();
        pd.index = partition;
        pd.records = Some(records);
        match topics.iter_mut().find(|t| t.name.0.as_str() == topic) {
            Some(t) => t.partition_data.push(pd),
            None => {
                let mut t = TopicProduceData::default();
                t.name = TopicName(StrBytes::from_string(topic.to_owned()));
                t.partition_data.push(pd);
                topics.push(t);
            }
        }
    }
    pr.topic_data = topics;
    pr
}

/// An InitProducerId request. `transactional_id: None` asks for a producer
/// id for idempotence (the broker always hands out a new one); `current`
/// (producer id and epoch, KIP-360, v3+) lets a transactional producer
/// bump its own epoch.
pub fn init_producer_id_request(
    transactional_id: Option<&str>,
    transaction_timeout_ms: i32,
    current: Option<(i64, i16)>,
) -> InitProducerIdRequest {
    let mut req = InitProducerIdRequest::default();
    req.transactional_id = transactional_id.map(|t| TransactionalId(StrBytes::from_string(t.to_owned())));
    req.transaction_timeout_ms = transaction_timeout_ms;
    let (pid, epoch) = current.unwrap_or((-1, -1));
    req.producer_id = ProducerId(pid);
    req.producer_epoch = epoch;
    req
}

impl Request for ProduceRequest {
    const KEY: ApiKey = ApiKey::Produce;
    type Response = ProduceResponse;
}

impl Request for InitProducerIdRequest {
    const KEY: ApiKey = ApiKey::InitProducerId;
    type Response = InitProducerIdResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::{
        BrokerId, ProducerId, TopicName, init_producer_id_response as ip, produce_response as kp,
    };

    #[test]
    fn produce_request_groups_partitions_by_topic_in_order() {
        let b = Bytes::from_static(b"batch");
        let pr = produce_request(-1, 30_000, None, [("a", 0, b.clone()), ("b", 1, b.clone()), ("a", 2, b)]);
        assert_eq!((pr.acks, pr.timeout_ms), (-1, 30_000));
        let names: Vec<(&str, Vec<i32>)> = pr
            .topic_data
            .iter()
            .map(|t| (t.name.0.as_str(), t.partition_data.iter().map(|p| p.index).collect()))
            .collect();
        assert_eq!(names, vec![("a", vec![0, 2]), ("b", vec![1])]);
        let ip = init_producer_id_request(None, i32::MAX, None);
        assert_eq!((ip.producer_id.0, ip.producer_epoch, ip.transactional_id), (-1, -1, None));
        let ip = init_producer_id_request(Some("tx"), 60_000, Some((7, 3)));
        assert_eq!((ip.producer_id.0, ip.producer_epoch), (7, 3));
        assert_eq!(ip.transactional_id.as_ref().map(|t| t.0.as_str()), Some("tx"));
    }

    #[test]
    fn produce_all_versions() {
        for v in 3..=12 {
            let mut m = kp::ProduceResponse::default();
            m.throttle_time_ms = 5;
            let mut p = kp::PartitionProduceResponse::default();
            p.index = 2;
            p.error_code = 6;
            p.base_offset = 1234;
            p.log_append_time_ms = 99;
            if v >= 5 {
                p.log_start_offset = 10;
            }
            if v >= 8 {
                let mut e = kp::BatchIndexAndErrorMessage::default();
                e.batch_index = 3;
                e.batch_index_error_message = Some(sb("bad record"));
                p.record_errors = vec![e];
                p.error_message = Some(sb("not leader"));
            }
            if v >= 10 {
                p.current_leader.leader_id = BrokerId(2);
                p.current_leader.leader_epoch = 7;
            }
            let mut t = kp::TopicProduceResponse::default();
            t.name = TopicName(sb("voters"));
            t.partition_responses = vec![p];
            m.responses = vec![t];
            let bytes = encode(&m, v);
            let d = ProduceResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.throttle_time_ms, 5);
            let (name, parts) = &d.topics[0];
            assert_eq!(name, "voters");
            let p = &parts[0];
            assert_eq!(
                (p.partition, p.error_code, p.base_offset, p.log_append_time_ms),
                (2, ErrorCode(6), 1234, 99)
            );
            assert_eq!(p.log_start_offset, if v >= 5 { 10 } else { -1 });
            if v >= 8 {
                assert_eq!(p.record_errors, vec![(3, Some("bad record".to_owned()))]);
                assert_eq!(p.error_message.as_deref(), Some("not leader"));
            }
            assert_eq!(p.current_leader, if v >= 10 { (2, 7) } else { (-1, -1) });
            all_prefixes_fail(&bytes, |b| ProduceResponse::decode(b, v));
        }
    }

    #[test]
    fn init_producer_id_all_versions() {
        for v in 0..=6 {
            let mut m = ip::InitProducerIdResponse::default();
            m.producer_id = ProducerId(4242);
            m.producer_epoch = 3;
            m.error_code = 0;
            let bytes = encode(&m, v);
            let d = InitProducerIdResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!((d.producer_id, d.producer_epoch, d.error_code), (4242, 3, ErrorCode::NONE));
            all_prefixes_fail(&bytes, |b| InitProducerIdResponse::decode(b, v));
        }
    }
}
