//! Metadata (key 3): brokers, controller, cluster id, topics and partitions.

use bytes::Bytes;
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::protocol::StrBytes;

pub use kafka_protocol::messages::MetadataRequest;

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

/// A broker as advertised in metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// Broker (node) id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Rack, if configured (v1+).
    pub rack: Option<String>,
}

/// One partition's leadership and replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition error (LEADER_NOT_AVAILABLE during elections, …).
    pub error_code: ErrorCode,
    /// Partition index.
    pub partition: i32,
    /// Leader broker id, -1 if none.
    pub leader_id: i32,
    /// Leader epoch (v7+), -1 if unknown.
    pub leader_epoch: i32,
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replica ids.
    pub isr: Vec<i32>,
    /// Offline replica ids (v5+).
    pub offline_replicas: Vec<i32>,
}

/// One topic's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Topic error (UNKNOWN_TOPIC_OR_PARTITION, …).
    pub error_code: ErrorCode,
    /// Name (null only for unknown topics queried by id, v12+).
    pub name: Option<String>,
    /// Topic id (v10+), all zeros if unknown.
    pub topic_id: [u8; 16],
    /// Internal topic (`__consumer_offsets`, …) (v1+).
    pub is_internal: bool,
    /// Partitions.
    pub partitions: Vec<PartitionMetadata>,
}

/// Decoded Metadata response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataResponse {
    /// Throttle time (v3+).
    pub throttle_time_ms: i32,
    /// Live brokers.
    pub brokers: Vec<Broker>,
    /// Cluster id (v2+).
    pub cluster_id: Option<String>,
    /// Controller id (v1+), -1 if unknown.
    pub controller_id: i32,
    /// Topics.
    pub topics: Vec<TopicMetadata>,
    /// Top-level error (v13+).
    pub error_code: ErrorCode,
}

impl Response for MetadataResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 9;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 3 { r.i32()? } else { 0 };
        let brokers = r.array(flex, 10, |r| {
            let b = Broker {
                node_id: r.i32()?,
                host: r.string(flex)?,
                port: r.i32()?,
                rack: if v >= 1 { r.nullable_string(flex)? } else { None },
            };
            r.skip_tagged_fields(flex)?;
            Ok(b)
        })?;
        let cluster_id = if v >= 2 { r.nullable_string(flex)? } else { None };
        let controller_id = if v >= 1 { r.i32()? } else { -1 };
        let topics = r.array(flex, 6, |r| {
            let error_code = ErrorCode(r.i16()?);
            let name = r.nullable_string(flex)?;
            let topic_id = if v >= 10 { r.uuid()? } else { [0; 16] };
            let is_internal = if v >= 1 { r.bool()? } else { false };
            let partitions = r.array(flex, 14, |r| {
                let p = PartitionMetadata {
                    error_code: ErrorCode(r.i16()?),
                    partition: r.i32()?,
                    leader_id: r.i32()?,
                    leader_epoch: if v >= 7 { r.i32()? } else { -1 },
                    replicas: r.i32_array(flex)?,
                    isr: r.i32_array(flex)?,
                    offline_replicas: if v >= 5 { r.i32_array(flex)? } else { Vec::new() },
                };
                r.skip_tagged_fields(flex)?;
                Ok(p)
            })?;
            if v >= 8 {
                r.i32()?; // topic_authorized_operations
            }
            r.skip_tagged_fields(flex)?;
            Ok(TopicMetadata { error_code, name, topic_id, is_internal, partitions })
        })?;
        if (8..=10).contains(&v) {
            r.i32()?; // cluster_authorized_operations
        }
        let error_code = if v >= 13 { ErrorCode(r.i16()?) } else { ErrorCode::NONE };
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(MetadataResponse { throttle_time_ms, brokers, cluster_id, controller_id, topics, error_code })
    }
}

/// A Metadata request for `topics` (`None`: every topic), letting the broker
/// auto-create missing topics if `allow_auto_topic_creation` (v4+).
pub fn metadata_request<S: AsRef<str>>(
    topics: Option<&[S]>,
    allow_auto_topic_creation: bool,
) -> MetadataRequest {
    let mut req = MetadataRequest::default();
    req.topics = topics.map(|ts| {
        ts.iter()
            .map(|t| {
                let mut mt = MetadataRequestTopic::default();
                mt.name = Some(TopicName(StrBytes::from_string(t.as_ref().to_owned())));
                mt
            })
            .collect()
    });
    req.allow_auto_topic_creation = allow_auto_topic_creation;
    req
}

impl Request for MetadataRequest {
    const KEY: ApiKey = ApiKey::Metadata;
    type Response = MetadataResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::metadata_response as kp;
    use kafka_protocol::messages::{BrokerId, TopicName};
    use kafka_protocol::protocol::StrBytes;
    use proptest::prelude::*;

    type Part = (i16, i32, i32, i32, Vec<i32>, Vec<i32>, Vec<i32>);
    type Topic = (i16, Option<String>, [u8; 16], bool, Vec<Part>);

    fn ids() -> impl Strategy<Value = Vec<i32>> {
        proptest::collection::vec(any::<i32>(), 0..4)
    }

    fn arb_topic() -> impl Strategy<Value = Topic> {
        (
            any::<i16>(),
            proptest::option::of("[a-zA-Z0-9._-]{0,20}"),
            any::<[u8; 16]>(),
            any::<bool>(),
            proptest::collection::vec(
                (any::<i16>(), any::<i32>(), any::<i32>(), any::<i32>(), ids(), ids(), ids()),
                0..4,
            ),
        )
    }

    proptest! {
        #[test]
        fn matches_kafka_protocol(
            v in 0i16..=13,
            brokers in proptest::collection::vec((any::<i32>(), "[a-z0-9.]{0,15}", any::<i32>(), proptest::option::of("[a-z0-9]{0,5}")), 0..4),
            cluster_id in proptest::option::of("[A-Za-z0-9_-]{0,22}"),
            controller in any::<i32>(),
            throttle in any::<i32>(),
            top_err in any::<i16>(),
            topics in proptest::collection::vec(arb_topic(), 0..4),
        ) {
            let mut m = kp::MetadataResponse::default();
            if v >= 3 { m.throttle_time_ms = throttle; }
            m.brokers = brokers.iter().map(|(id, host, port, rack)| {
                let mut b = kp::MetadataResponseBroker::default();
                b.node_id = BrokerId(*id); b.host = sb(host); b.port = *port;
                if v >= 1 { b.rack = rack.as_deref().map(sb); }
                b
            }).collect();
            if v >= 2 { m.cluster_id = cluster_id.as_deref().map(sb); }
            if v >= 1 { m.controller_id = BrokerId(controller); }
            if v >= 13 { m.error_code = top_err; }
            m.topics = topics.iter().map(|(err, name, id, internal, parts)| {
                let mut t = kp::MetadataResponseTopic::default();
                t.error_code = *err;
                // Only v12+ allows a null name.
                t.name = if v >= 12 { name.as_deref().map(|n| TopicName(sb(n))) } else { Some(TopicName(sb(name.as_deref().unwrap_or("")))) };
                if v >= 10 { t.topic_id = uuid::Uuid::from_bytes(*id); }
                if v >= 1 { t.is_internal = *internal; }
                if v >= 8 { t.topic_authorized_operations = 7; }
                t.partitions = parts.iter().map(|(e, idx, leader, epoch, reps, isr, off)| {
                    let mut p = kp::MetadataResponsePartition::default();
                    p.error_code = *e; p.partition_index = *idx; p.leader_id = BrokerId(*leader);
                    if v >= 7 { p.leader_epoch = *epoch; }
                    p.replica_nodes = reps.iter().map(|&x| BrokerId(x)).collect();
                    p.isr_nodes = isr.iter().map(|&x| BrokerId(x)).collect();
                    if v >= 5 { p.offline_replicas = off.iter().map(|&x| BrokerId(x)).collect(); }
                    p
                }).collect();
                t
            }).collect();
            if (8..=10).contains(&v) { m.cluster_authorized_operations = 0; }
            let bytes = encode(&m, v);
            let ours = MetadataResponse::decode(bytes.clone(), v).unwrap();
            prop_assert_eq!(ours.throttle_time_ms, m.throttle_time_ms);
            prop_assert_eq!(ours.brokers.len(), m.brokers.len());
            for (a, b) in ours.brokers.iter().zip(&m.brokers) {
                prop_assert_eq!(a.node_id, b.node_id.0);
                prop_assert_eq!(a.host.as_str(), b.host.as_str());
                prop_assert_eq!(a.port, b.port);
                prop_assert_eq!(a.rack.as_deref(), b.rack.as_ref().map(StrBytes::as_str));
            }
            prop_assert_eq!(ours.cluster_id.as_deref(), m.cluster_id.as_ref().map(StrBytes::as_str));
            prop_assert_eq!(ours.controller_id, if v >= 1 { controller } else { -1 });
            prop_assert_eq!(ours.error_code.0, m.error_code);
            prop_assert_eq!(ours.topics.len(), m.topics.len());
            for (a, b) in ours.topics.iter().zip(&m.topics) {
                prop_assert_eq!(a.error_code.0, b.error_code);
                prop_assert_eq!(a.name.as_deref(), b.name.as_ref().map(|n| n.0.as_str()));
                prop_assert_eq!(&a.topic_id[..], b.topic_id.as_bytes());
                prop_assert_eq!(a.is_internal, b.is_internal);
                prop_assert_eq!(a.partitions.len(), b.partitions.len());
                for (x, y) in a.partitions.iter().zip(&b.partitions) {
                    prop_assert_eq!(x.error_code.0, y.error_code);
                    prop_assert_eq!(x.partition, y.partition_index);
                    prop_assert_eq!(x.leader_id, y.leader_id.0);
                    prop_assert_eq!(x.leader_epoch, if v >= 7 { y.leader_epoch } else { -1 });
                    prop_assert_eq!(&x.replicas, &y.replica_nodes.iter().map(|b| b.0).collect::<Vec<_>>());
                    prop_assert_eq!(&x.isr, &y.isr_nodes.iter().map(|b| b.0).collect::<Vec<_>>());
                    prop_assert_eq!(&x.offline_replicas, &y.offline_replicas.iter().map(|b| b.0).collect::<Vec<_>>());
                }
            }
            all_prefixes_fail(&bytes, |b| MetadataResponse::decode(b, v));
        }
    }

    #[test]
    fn metadata_request_builder() {
        let all = metadata_request::<&str>(None, false);
        assert!(all.topics.is_none());
        assert!(!all.allow_auto_topic_creation);
        let some = metadata_request(Some(&["a".to_owned(), "b".to_owned()][..]), true);
        let names: Vec<_> =
            some.topics.unwrap().iter().map(|t| t.name.as_ref().unwrap().0.as_str().to_owned()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(some.allow_auto_topic_creation);
    }

    #[test]
    fn the_four_bytes_that_abort_kafka_protocol_are_rejected() {
        // `MetadataResponse::decode` in kafka-protocol 0.18 aborts the process on these.
        let hostile = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]);
        for v in 0..=13 {
            assert!(MetadataResponse::decode(hostile.clone(), v).is_err());
        }
    }
}
