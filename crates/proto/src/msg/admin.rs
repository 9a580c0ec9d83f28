//! Topic and config administration: CreateTopics (19), DeleteTopics (20),
//! DeleteRecords (21), CreatePartitions (37), DescribeConfigs (32),
//! IncrementalAlterConfigs (44), DescribeLogDirs (35).

use bytes::Bytes;
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::protocol::StrBytes;

pub use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteRecordsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest, DescribeLogDirsRequest, IncrementalAlterConfigsRequest,
};

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

/// Per-topic (or per-resource) outcome of an admin request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicResult {
    /// Topic (or resource) name; `None` only for DeleteTopics by id.
    pub name: Option<String>,
    /// Topic id when the broker reports one.
    pub topic_id: [u8; 16],
    /// Outcome.
    pub error_code: ErrorCode,
    /// The broker's explanation.
    pub error_message: Option<String>,
}

/// CreateTopics result for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreatedTopic {
    /// Outcome, name, id, message.
    pub result: TopicResult,
    /// Partitions created (v5+; -1 if unknown).
    pub num_partitions: i32,
    /// Replication factor (v5+; -1 if unknown).
    pub replication_factor: i16,
    /// Configs of the new topic (v5+).
    pub configs: Vec<ConfigEntry>,
}

/// One configuration value as the broker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigEntry {
    /// Key.
    pub name: String,
    /// Value (null for sensitive values).
    pub value: Option<String>,
    /// Read-only.
    pub read_only: bool,
    /// Where the value comes from (Kafka's ConfigSource: 1 topic, 4 static broker, 5 default, …).
    pub source: i8,
    /// Sensitive (password-like).
    pub sensitive: bool,
    /// Where else the value is set, strongest first (DescribeConfigs v1+ with
    /// synonyms requested): `(name, value, source)`.
    pub synonyms: Vec<ConfigSynonym>,
}

/// One synonym of a config value (DescribeConfigs v1+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigSynonym {
    /// Key (may differ from the entry's, e.g. `log.retention.ms` for `retention.ms`).
    pub name: String,
    /// Value (null for sensitive values).
    pub value: Option<String>,
    /// Kafka's ConfigSource.
    pub source: i8,
}

/// Decoded CreateTopics response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateTopicsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// One per requested topic.
    pub topics: Vec<CreatedTopic>,
}

impl Response for CreateTopicsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 5;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 2 { r.i32()? } else { 0 };
        let topics = r.array(flex, 4, |r| {
            let name = r.string(flex)?;
            let topic_id = if v >= 7 { r.uuid()? } else { [0; 16] };
            let error_code = ErrorCode(r.i16()?);
            let error_message = if v >= 1 { r.nullable_string(flex)? } else { None };
            let mut t = CreatedTopic {
                result: TopicResult { name: Some(name), topic_id, error_code, error_message },
                num_partitions: -1,
                replication_factor: -1,
                configs: Vec::new(),
            };
            if v >= 5 {
                t.num_partitions = r.i32()?;
                t.replication_factor = r.i16()?;
                t.configs = r
                    .nullable_array_len(flex, 5)?
                    .map(|n| -> Result<Vec<ConfigEntry>, DecodeError> {
                        let mut out = Vec::with_capacity(n.min(256));
                        for _ in 0..n {
                            let c = ConfigEntry {
                                name: r.string(flex)?,
                                value: r.nullable_string(flex)?,
                                read_only: r.bool()?,
                                source: r.i8()?,
                                sensitive: r.bool()?,
                                synonyms: Vec::new(),
                            };
                            r.skip_tagged_fields(flex)?;
                            out.push(c);
                        }
                        Ok(out)
                    })
                    .transpose()?
                    .unwrap_or_default();
            }
            r.skip_tagged_fields(flex)?;
            Ok(t)
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(CreateTopicsResponse { throttle_time_ms, topics })
    }
}

/// Decoded DeleteTopics response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteTopicsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// One per requested topic.
    pub topics: Vec<TopicResult>,
}

impl Response for DeleteTopicsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 4;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 1 { r.i32()? } else { 0 };
        let topics = r.array(flex, 3, |r| {
            let name = r.nullable_string(flex)?;
            let topic_id = if v >= 6 { r.uuid()? } else { [0; 16] };
            let error_code = ErrorCode(r.i16()?);
            let error_message = if v >= 5 { r.nullable_string(flex)? } else { None };
            r.skip_tagged_fields(flex)?;
            Ok(TopicResult { name, topic_id, error_code, error_message })
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(DeleteTopicsResponse { throttle_time_ms, topics })
    }
}

/// One partition's outcome of DeleteRecords.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeletedRecords {
    /// Partition.
    pub partition: i32,
    /// The partition's log start offset now (-1 on error).
    pub low_watermark: i64,
    /// Error, if any.
    pub error_code: ErrorCode,
}

/// Decoded DeleteRecords response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteRecordsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Per topic, its partitions' outcomes.
    pub topics: Vec<(String, Vec<DeletedRecords>)>,
}

impl Response for DeleteRecordsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 2;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let topics = r.array(flex, 2, |r| {
            let name = r.string(flex)?;
            let parts = r.array(flex, 14, |r| {
                let partition = r.i32()?;
                let low_watermark = r.i64()?;
                let error_code = ErrorCode(r.i16()?);
                r.skip_tagged_fields(flex)?;
                Ok(DeletedRecords { partition, low_watermark, error_code })
            })?;
            r.skip_tagged_fields(flex)?;
            Ok((name, parts))
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(DeleteRecordsResponse { throttle_time_ms, topics })
    }
}

/// A DeleteRecords request: delete the records of each (topic, partition)
/// before `offset` (-1: before the high watermark, everything).
pub fn delete_records_request<'a>(
    timeout_ms: i32,
    parts: impl IntoIterator<Item = (&'a str, i32, i64)>,
) -> DeleteRecordsRequest {
    let mut req = DeleteRecordsRequest::default();
    req.timeout_ms = timeout_ms;
    for (topic, partition, offset) in parts {
        let mut p = DeleteRecordsPartition::default();
        p.partition_index = partition;
        p.offset = offset;
        match req.topics.iter_mut().find(|t| t.name.0.as_str() == topic) {
            Some(t) => t.partitions.push(p),
            None => {
                let mut t = DeleteRecordsTopic::default();
                t.name = TopicName(strb(topic));
                t.partitions.push(p);
                req.topics.push(t);
            }
        }
    }
    req
}

/// One partition's replica in a log directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogDirReplica {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Bytes on disk.
    pub size: i64,
    /// How far the replica is behind the log end (future replicas: behind the current one).
    pub offset_lag: i64,
    /// A future replica (being moved here by an alter-log-dirs reassignment).
    pub is_future: bool,
}

/// One log directory of a broker.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogDir {
    /// Error for the directory (KAFKA_STORAGE_ERROR for an offline one).
    pub error_code: ErrorCode,
    /// Its path on the broker.
    pub path: String,
    /// Replicas in it.
    pub replicas: Vec<LogDirReplica>,
    /// Size of the volume (v4+; -1 before).
    pub total_bytes: i64,
    /// Free space on the volume (v4+; -1 before).
    pub usable_bytes: i64,
}

/// Decoded DescribeLogDirs response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeLogDirsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Top-level error (v3+).
    pub error_code: ErrorCode,
    /// The broker's log directories.
    pub dirs: Vec<LogDir>,
}

impl Response for DescribeLogDirsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 2;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = if v >= 3 { ErrorCode(r.i16()?) } else { ErrorCode::NONE };
        let dirs = r.array(flex, 4, |r| {
            let error_code = ErrorCode(r.i16()?);
            let path = r.string(flex)?;
            let mut replicas = Vec::new();
            let topics = r.array(flex, 2, |r| {
                let topic = r.string(flex)?;
                let parts = r.array(flex, 21, |r| {
                    let partition = r.i32()?;
                    let size = r.i64()?;
                    let offset_lag = r.i64()?;
                    let is_future = r.bool()?;
                    r.skip_tagged_fields(flex)?;
                    Ok((partition, size, offset_lag, is_future))
                })?;
                r.skip_tagged_fields(flex)?;
                Ok((topic, parts))
            })?;
            for (topic, parts) in topics {
                for (partition, size, offset_lag, is_future) in parts {
                    replicas.push(LogDirReplica {
                        topic: topic.clone(),
                        partition,
                        size,
                        offset_lag,
                        is_future,
                    });
                }
            }
            let (total_bytes, usable_bytes) = if v >= 4 { (r.i64()?, r.i64()?) } else { (-1, -1) };
            r.skip_tagged_fields(flex)?;
            Ok(LogDir { error_code, path, replicas, total_bytes, usable_bytes })
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(DescribeLogDirsResponse { throttle_time_ms, error_code, dirs })
    }
}

/// A DescribeLogDirs request for every topic's replicas.
pub fn describe_log_dirs_request() -> DescribeLogDirsRequest {
    let mut req = DescribeLogDirsRequest::default();
    req.topics = None;
    req
}

/// Decoded CreatePartitions response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreatePartitionsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// One per topic.
    pub topics: Vec<TopicResult>,
}

impl Response for CreatePartitionsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 2;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let topics = r.array(flex, 4, |r| {
            let t = TopicResult {
                name: Some(r.string(flex)?),
                topic_id: [0; 16],
                error_code: ErrorCode(r.i16()?),
                error_message: r.nullable_string(flex)?,
            };
            r.skip_tagged_fields(flex)?;
            Ok(t)
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(CreatePartitionsResponse { throttle_time_ms, topics })
    }
}

/// One resource's configs from DescribeConfigs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceConfigs {
    /// Outcome for this resource.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// Resource type (2 topic, 4 broker, …).
    pub resource_type: i8,
    /// Resource name (topic name, broker id).
    pub resource_name: String,
    /// Entries.
    pub configs: Vec<ConfigEntry>,
}

/// Decoded DescribeConfigs response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeConfigsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// One per resource.
    pub resources: Vec<ResourceConfigs>,
}

impl Response for DescribeConfigsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 4;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let resources = r.array(flex, 6, |r| {
            let error_code = ErrorCode(r.i16()?);
            let error_message = r.nullable_string(flex)?;
            let resource_type = r.i8()?;
            let resource_name = r.string(flex)?;
            let configs = r.array(flex, 5, |r| {
                let name = r.string(flex)?;
                let value = r.nullable_string(flex)?;
                let read_only = r.bool()?;
                let mut source = -1;
                if v == 0 {
                    // is_default in v0
                    if r.bool()? {
                        source = 5;
                    }
                } else {
                    source = r.i8()?;
                }
                let sensitive = r.bool()?;
                let mut synonyms = Vec::new();
                if v >= 1 {
                    synonyms = r.array(flex, 3, |r| {
                        let name = r.string(flex)?;
                        let value = r.nullable_string(flex)?;
                        let source = r.i8()?;
                        r.skip_tagged_fields(flex)?;
                        Ok(ConfigSynonym { name, value, source })
                    })?;
                }
                if v >= 3 {
                    r.i8()?; // config_type
                    r.nullable_string(flex)?; // documentation
                }
                r.skip_tagged_fields(flex)?;
                Ok(ConfigEntry { name, value, read_only, source, sensitive, synonyms })
            })?;
            r.skip_tagged_fields(flex)?;
            Ok(ResourceConfigs { error_code, error_message, resource_type, resource_name, configs })
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(DescribeConfigsResponse { throttle_time_ms, resources })
    }
}

/// Decoded IncrementalAlterConfigs response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IncrementalAlterConfigsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// One per resource (configs left empty).
    pub resources: Vec<ResourceConfigs>,
}

impl Response for IncrementalAlterConfigsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 1;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let resources = r.array(flex, 5, |r| {
            let res = ResourceConfigs {
                error_code: ErrorCode(r.i16()?),
                error_message: r.nullable_string(flex)?,
                resource_type: r.i8()?,
                resource_name: r.string(flex)?,
                configs: Vec::new(),
            };
            r.skip_tagged_fields(flex)?;
            Ok(res)
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(IncrementalAlterConfigsResponse { throttle_time_ms, resources })
    }
}

fn strb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// One topic of a CreateTopics request.
#[derive(Debug, Clone, Copy)]
pub struct CreatableTopicSpec<'a> {
    /// Name.
    pub name: &'a str,
    /// Partitions, -1 for the broker's `num.partitions`.
    pub partitions: i32,
    /// Replication factor, -1 for the broker's `default.replication.factor`.
    pub replication_factor: i16,
    /// Topic configs (key, value).
    pub configs: &'a [(String, String)],
}

/// A CreateTopics request.
pub fn create_topics_request<'a>(
    timeout_ms: i32,
    validate_only: bool,
    topics: impl IntoIterator<Item = CreatableTopicSpec<'a>>,
) -> CreateTopicsRequest {
    let mut req = CreateTopicsRequest::default();
    req.timeout_ms = timeout_ms;
    req.validate_only = validate_only;
    req.topics = topics
        .into_iter()
        .map(|t| {
            let mut ct = CreatableTopic::default();
            ct.name = TopicName(strb(t.name));
            ct.num_partitions = t.partitions;
            ct.replication_factor = t.replication_factor;
            ct.configs = t
                .configs
                .iter()
                .map(|(k, v)| {
                    let mut c = CreatableTopicConfig::default();
                    c.name = strb(k);
                    c.value = Some(strb(v));
                    c
                })
                .collect();
            ct
        })
        .collect();
    req
}

/// A DeleteTopics request for version `v`: names go in `topics` from v6,
/// in `topic_names` before.
pub fn delete_topics_request<S: AsRef<str>>(v: i16, timeout_ms: i32, names: &[S]) -> DeleteTopicsRequest {
    let mut req = DeleteTopicsRequest::default();
    req.timeout_ms = timeout_ms;
    if v >= 6 {
        req.topics = names
            .iter()
            .map(|n| {
                let mut s = DeleteTopicState::default();
                s.name = Some(TopicName(strb(n.as_ref())));
                s
            })
            .collect();
    } else {
        req.topic_names = names.iter().map(|n| TopicName(strb(n.as_ref()))).collect();
    }
    req
}

/// A CreatePartitions request growing `topic` to `total` partitions
/// (assignments left to the broker).
pub fn create_partitions_request(
    timeout_ms: i32,
    validate_only: bool,
    topic: &str,
    total: i32,
) -> CreatePartitionsRequest {
    let mut req = CreatePartitionsRequest::default();
    req.timeout_ms = timeout_ms;
    req.validate_only = validate_only;
    let mut t = CreatePartitionsTopic::default();
    t.name = TopicName(strb(topic));
    t.count = total;
    t.assignments = None;
    req.topics = vec![t];
    req
}

/// A DescribeConfigs request for resources of one type (`resource_type`:
/// 2 topic, 4 broker), all keys (`None`) or just `keys`.
pub fn describe_configs_request<S: AsRef<str>>(
    resource_type: i8,
    names: &[S],
    keys: Option<&[&str]>,
) -> DescribeConfigsRequest {
    let mut req = DescribeConfigsRequest::default();
    req.resources = names
        .iter()
        .map(|n| {
            let mut r = DescribeConfigsResource::default();
            r.resource_type = resource_type;
            r.resource_name = strb(n.as_ref());
            r.configuration_keys = keys.map(|ks| ks.iter().map(|k| strb(k)).collect());
            r
        })
        .collect();
    req
}

/// [`describe_configs_request`] that also asks for each value's synonyms
/// (where else it is set: the topic, the broker, the cluster default, …).
pub fn describe_configs_with_synonyms_request<S: AsRef<str>>(
    resource_type: i8,
    names: &[S],
    keys: Option<&[&str]>,
) -> DescribeConfigsRequest {
    let mut req = describe_configs_request(resource_type, names, keys);
    req.include_synonyms = true;
    req
}

/// An IncrementalAlterConfigs request for one resource. Each op is
/// `(key, Some(value))` to set (operation 0) or `(key, None)` to delete
/// (operation 1).
pub fn incremental_alter_configs_request<'a>(
    resource_type: i8,
    name: &str,
    ops: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    let mut req = IncrementalAlterConfigsRequest::default();
    req.validate_only = validate_only;
    let mut res = AlterConfigsResource::default();
    res.resource_type = resource_type;
    res.resource_name = strb(name);
    res.configs = ops
        .into_iter()
        .map(|(k, v)| {
            let mut c = AlterableConfig::default();
            c.name = strb(k);
            match v {
                Some(v) => {
                    c.config_operation = 0;
                    c.value = Some(strb(v));
                }
                None => c.config_operation = 1,
            }
            c
        })
        .collect();
    req.resources = vec![res];
    req
}

impl Request for CreateTopicsRequest {
    const KEY: ApiKey = ApiKey::CreateTopics;
    type Response = CreateTopicsResponse;
}

impl Request for DeleteTopicsRequest {
    const KEY: ApiKey = ApiKey::DeleteTopics;
    type Response = DeleteTopicsResponse;
}

impl Request for DeleteRecordsRequest {
    const KEY: ApiKey = ApiKey::DeleteRecords;
    type Response = DeleteRecordsResponse;
}

impl Request for DescribeLogDirsRequest {
    const KEY: ApiKey = ApiKey::DescribeLogDirs;
    type Response = DescribeLogDirsResponse;
}

impl Request for CreatePartitionsRequest {
    const KEY: ApiKey = ApiKey::CreatePartitions;
    type Response = CreatePartitionsResponse;
}

impl Request for DescribeConfigsRequest {
    const KEY: ApiKey = ApiKey::DescribeConfigs;
    type Response = DescribeConfigsResponse;
}

impl Request for IncrementalAlterConfigsRequest {
    const KEY: ApiKey = ApiKey::IncrementalAlterConfigs;
    type Response = IncrementalAlterConfigsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::{
        TopicName, create_partitions_response as cp, create_topics_response as ct,
        delete_topics_response as dt, describe_configs_response as dc,
        incremental_alter_configs_response as iac,
    };

    fn tn(s: &str) -> TopicName {
        TopicName(sb(s))
    }

    #[test]
    fn admin_request_builders() {
        let cfg = [("retention.ms".to_owned(), "1000".to_owned())];
        let ct = create_topics_request(
            5000,
            true,
            [CreatableTopicSpec { name: "t", partitions: 3, replication_factor: -1, configs: &cfg }],
        );
        assert_eq!((ct.timeout_ms, ct.validate_only, ct.topics.len()), (5000, true, 1));
        let t = &ct.topics[0];
        assert_eq!((t.name.0.as_str(), t.num_partitions, t.replication_factor), ("t", 3, -1));
        assert_eq!(t.configs[0].name.as_str(), "retention.ms");
        assert_eq!(t.configs[0].value.as_deref(), Some("1000"));

        let d5 = delete_topics_request(5, 100, &["a", "b"]);
        assert!(d5.topics.is_empty());
        assert_eq!(d5.topic_names.iter().map(|n| n.0.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let d6 = delete_topics_request(6, 100, &["a"]);
        assert!(d6.topic_names.is_empty());
        assert_eq!(d6.topics[0].name.as_ref().map(|n| n.0.as_str()), Some("a"));
        assert_eq!(d6.timeout_ms, 100);

        let cp = create_partitions_request(7, false, "x", 12);
        assert_eq!((cp.timeout_ms, cp.validate_only), (7, false));
        assert_eq!((cp.topics[0].name.0.as_str(), cp.topics[0].count), ("x", 12));
        assert!(cp.topics[0].assignments.is_none());

        let dc = describe_configs_request(2, &["x".to_owned()], Some(&["a.b"]));
        assert_eq!((dc.resources[0].resource_type, dc.resources[0].resource_name.as_str()), (2, "x"));
        assert_eq!(dc.resources[0].configuration_keys.as_ref().unwrap()[0].as_str(), "a.b");
        assert!(describe_configs_request(4, &["1"], None).resources[0].configuration_keys.is_none());

        let ia = incremental_alter_configs_request(2, "x", [("k", Some("v")), ("d", None)], true);
        assert!(ia.validate_only);
        let r = &ia.resources[0];
        assert_eq!((r.resource_type, r.resource_name.as_str()), (2, "x"));
        let ops: Vec<_> = r.configs.iter().map(|c| (c.name.as_str(), c.config_operation)).collect();
        assert_eq!(ops, [("k", 0), ("d", 1)]);
        assert_eq!(r.configs[0].value.as_deref(), Some("v"));
    }

    #[test]
    fn create_topics_all_versions() {
        for v in 2..=7 {
            let mut m = ct::CreateTopicsResponse::default();
            m.throttle_time_ms = 12;
            let mut a = ct::CreatableTopicResult::default();
            a.name = tn("alpha");
            a.error_code = 36;
            a.error_message = Some(sb("Topic 'alpha' already exists."));
            let mut b = ct::CreatableTopicResult::default();
            b.name = tn("beta");
            if v >= 7 {
                b.topic_id = uuid::Uuid::from_bytes([7; 16]);
            }
            if v >= 5 {
                b.num_partitions = 3;
                b.replication_factor = 2;
                let mut c = ct::CreatableTopicConfigs::default();
                c.name = sb("retention.ms");
                c.value = Some(sb("1000"));
                c.config_source = 1;
                b.configs = Some(vec![c]);
                b.topic_config_error_code = 0;
            }
            m.topics = vec![a, b];
            let bytes = encode(&m, v);
            let d = CreateTopicsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.throttle_time_ms, 12);
            assert_eq!(d.topics.len(), 2);
            assert_eq!(d.topics[0].result.name.as_deref(), Some("alpha"));
            assert_eq!(d.topics[0].result.error_code, ErrorCode::TOPIC_ALREADY_EXISTS);
            assert_eq!(d.topics[0].result.error_message.as_deref(), Some("Topic 'alpha' already exists."));
            assert_eq!(d.topics[1].result.name.as_deref(), Some("beta"));
            if v >= 7 {
                assert_eq!(d.topics[1].result.topic_id, [7; 16]);
            }
            if v >= 5 {
                assert_eq!((d.topics[1].num_partitions, d.topics[1].replication_factor), (3, 2));
                assert_eq!(d.topics[1].configs[0].name, "retention.ms");
                assert_eq!(d.topics[1].configs[0].value.as_deref(), Some("1000"));
                assert_eq!(d.topics[1].configs[0].source, 1);
            }
            all_prefixes_fail(&bytes, |b| CreateTopicsResponse::decode(b, v));
        }
    }

    #[test]
    fn delete_topics_all_versions() {
        for v in 1..=6 {
            let mut m = dt::DeleteTopicsResponse::default();
            m.throttle_time_ms = 3;
            let mut a = dt::DeletableTopicResult::default();
            a.name = Some(tn("gone"));
            a.error_code = 3;
            if v >= 5 {
                a.error_message = Some(sb("nope"));
            }
            if v >= 6 {
                a.topic_id = uuid::Uuid::from_bytes([1; 16]);
            }
            m.responses = vec![a];
            let bytes = encode(&m, v);
            let d = DeleteTopicsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.throttle_time_ms, 3);
            assert_eq!(d.topics[0].name.as_deref(), Some("gone"));
            assert_eq!(d.topics[0].error_code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
            assert_eq!(d.topics[0].error_message.as_deref(), (v >= 5).then_some("nope"));
            if v >= 6 {
                assert_eq!(d.topics[0].topic_id, [1; 16]);
            }
            all_prefixes_fail(&bytes, |b| DeleteTopicsResponse::decode(b, v));
        }
    }

    #[test]
    fn delete_records_all_versions() {
        use kafka_protocol::messages::delete_records_response as dr;
        for v in 0..=2 {
            let mut m = dr::DeleteRecordsResponse::default();
            m.throttle_time_ms = 4;
            let mut t = dr::DeleteRecordsTopicResult::default();
            t.name = tn("old");
            let mut p = dr::DeleteRecordsPartitionResult::default();
            p.partition_index = 2;
            p.low_watermark = 77;
            let mut q = dr::DeleteRecordsPartitionResult::default();
            q.partition_index = 0;
            q.low_watermark = -1;
            q.error_code = 1;
            t.partitions = vec![p, q];
            m.topics = vec![t];
            let bytes = encode(&m, v);
            let d = DeleteRecordsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.throttle_time_ms, 4);
            assert_eq!(d.topics.len(), 1);
            assert_eq!(d.topics[0].0, "old");
            assert_eq!(
                d.topics[0].1,
                [
                    DeletedRecords { partition: 2, low_watermark: 77, error_code: ErrorCode::NONE },
                    DeletedRecords {
                        partition: 0,
                        low_watermark: -1,
                        error_code: ErrorCode::OFFSET_OUT_OF_RANGE
                    },
                ]
            );
            all_prefixes_fail(&bytes, |b| DeleteRecordsResponse::decode(b, v));
        }
        let req = delete_records_request(500, [("a", 0, 3), ("b", 1, -1), ("a", 2, 9)]);
        assert_eq!(req.timeout_ms, 500);
        let got: Vec<(String, Vec<(i32, i64)>)> = req
            .topics
            .iter()
            .map(|t| {
                (t.name.0.to_string(), t.partitions.iter().map(|p| (p.partition_index, p.offset)).collect())
            })
            .collect();
        assert_eq!(got, [("a".to_owned(), vec![(0, 3), (2, 9)]), ("b".to_owned(), vec![(1, -1)])]);
    }

    #[test]
    fn describe_log_dirs_all_versions() {
        use kafka_protocol::messages::describe_log_dirs_response as dl;
        for v in 1..=4 {
            let mut m = dl::DescribeLogDirsResponse::default();
            m.throttle_time_ms = 5;
            if v >= 3 {
                m.error_code = 0;
            }
            let mut dir = dl::DescribeLogDirsResult::default();
            dir.log_dir = sb("/data");
            let mut t = dl::DescribeLogDirsTopic::default();
            t.name = tn("t");
            let mut p = dl::DescribeLogDirsPartition::default();
            p.partition_index = 1;
            p.partition_size = 989;
            p.offset_lag = 2;
            p.is_future_key = true;
            t.partitions = vec![p];
            dir.topics = vec![t];
            if v >= 4 {
                dir.total_bytes = 1000;
                dir.usable_bytes = 400;
            }
            let mut offline = dl::DescribeLogDirsResult::default();
            offline.error_code = 56;
            offline.log_dir = sb("/bad");
            m.results = vec![dir, offline];
            let bytes = encode(&m, v);
            let d = DescribeLogDirsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.throttle_time_ms, 5);
            assert_eq!(d.dirs.len(), 2);
            assert_eq!(
                d.dirs[0].replicas,
                [LogDirReplica {
                    topic: "t".into(),
                    partition: 1,
                    size: 989,
                    offset_lag: 2,
                    is_future: true
                }]
            );
            assert_eq!((d.dirs[0].path.as_str(), d.dirs[1].path.as_str()), ("/data", "/bad"));
            assert_eq!(d.dirs[1].error_code, ErrorCode::KAFKA_STORAGE_ERROR);
            let sizes = if v >= 4 { (1000, 400) } else { (-1, -1) };
            assert_eq!((d.dirs[0].total_bytes, d.dirs[0].usable_bytes), sizes);
            all_prefixes_fail(&bytes, |b| DescribeLogDirsResponse::decode(b, v));
        }
    }

    #[test]
    fn create_partitions_all_versions() {
        for v in 0..=3 {
            let mut m = cp::CreatePartitionsResponse::default();
            let mut a = cp::CreatePartitionsTopicResult::default();
            a.name = tn("t");
            a.error_code = 37;
            a.error_message =
                Some(sb("Topic currently has 3 partitions, which is higher than the requested 2."));
            m.results = vec![a];
            let bytes = encode(&m, v);
            let d = CreatePartitionsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.topics[0].name.as_deref(), Some("t"));
            assert_eq!(d.topics[0].error_code, ErrorCode::INVALID_PARTITIONS);
            assert!(d.topics[0].error_message.as_deref().unwrap().contains("higher"));
            all_prefixes_fail(&bytes, |b| CreatePartitionsResponse::decode(b, v));
        }
    }

    #[test]
    fn describe_configs_all_versions() {
        for v in 1..=4 {
            let mut m = dc::DescribeConfigsResponse::default();
            let mut res = dc::DescribeConfigsResult::default();
            res.resource_type = 2;
            res.resource_name = sb("t");
            let mut c = dc::DescribeConfigsResourceResult::default();
            c.name = sb("min.insync.replicas");
            c.value = Some(sb("2"));
            c.config_source = 4;
            let mut syn = dc::DescribeConfigsSynonym::default();
            syn.name = sb("min.insync.replicas");
            syn.value = Some(sb("2"));
            syn.source = 4;
            c.synonyms = vec![syn];
            if v >= 3 {
                c.config_type = 3;
                c.documentation = Some(sb("docs"));
            }
            let mut s = dc::DescribeConfigsResourceResult::default();
            s.name = sb("sasl.jaas.config");
            s.value = None;
            s.is_sensitive = true;
            s.read_only = true;
            res.configs = vec![c, s];
            m.results = vec![res];
            let bytes = encode(&m, v);
            let d = DescribeConfigsResponse::decode(bytes.clone(), v).unwrap();
            let r = &d.resources[0];
            assert_eq!((r.resource_type, r.resource_name.as_str()), (2, "t"));
            assert_eq!(r.configs[0].name, "min.insync.replicas");
            assert_eq!(r.configs[0].value.as_deref(), Some("2"));
            assert_eq!(r.configs[0].source, 4);
            let syn =
                ConfigSynonym { name: "min.insync.replicas".into(), value: Some("2".into()), source: 4 };
            assert_eq!(r.configs[0].synonyms, vec![syn]);
            assert!(r.configs[1].sensitive && r.configs[1].read_only && r.configs[1].value.is_none());
            all_prefixes_fail(&bytes, |b| DescribeConfigsResponse::decode(b, v));
        }
    }

    #[test]
    fn incremental_alter_configs_all_versions() {
        for v in 0..=1 {
            let mut m = iac::IncrementalAlterConfigsResponse::default();
            let mut a = iac::AlterConfigsResourceResponse::default();
            a.error_code = 40;
            a.error_message = Some(sb("Unknown topic config name: bogus"));
            a.resource_type = 2;
            a.resource_name = sb("t");
            m.responses = vec![a];
            let bytes = encode(&m, v);
            let d = IncrementalAlterConfigsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.resources[0].error_code, ErrorCode::INVALID_CONFIG);
            assert_eq!(d.resources[0].resource_name, "t");
            all_prefixes_fail(&bytes, |b| IncrementalAlterConfigsResponse::decode(b, v));
        }
    }
}
