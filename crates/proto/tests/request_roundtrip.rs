//! Round trips for every request kwire encodes, at every version it uses
//! (`KWIRE_VERSIONS`): the request is filled the way kwire's clients fill it
//! (the same fields, gated on the same versions, with arbitrary values),
//! framed with [`encode_request`], and must read back — size prefix, request
//! header (api key, version, correlation id, client id) and body (decoded with
//! `kafka-protocol`'s broker-side decoder, every byte consumed) — to exactly
//! what was encoded. A last test checks every API in `KWIRE_VERSIONS` has a
//! round trip here.

use std::fmt::Debug;

use bytes::{Buf, Bytes};
use kwire_proto::api::{ApiKey, KWIRE_VERSIONS, kwire_versions, request_header_version};
use kwire_proto::encode_request;
use kwire_proto::kafka_protocol::messages::*;
use kwire_proto::kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use uuid::Uuid;

/// APIs covered below; `every_kwire_api_has_a_round_trip` keeps it in sync.
const COVERED: &[ApiKey] = &[
    ApiKey::Metadata,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DeleteRecords,
    ApiKey::DescribeLogDirs,
    ApiKey::CreatePartitions,
    ApiKey::DescribeConfigs,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::DescribeClientQuotas,
    ApiKey::AlterClientQuotas,
    ApiKey::DescribeUserScramCredentials,
    ApiKey::AlterUserScramCredentials,
    ApiKey::Produce,
    ApiKey::InitProducerId,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
    ApiKey::TxnOffsetCommit,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::ListGroups,
    ApiKey::DescribeGroups,
    ApiKey::DeleteGroups,
    ApiKey::OffsetDelete,
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::ConsumerGroupDescribe,
    ApiKey::SaslHandshake,
    ApiKey::SaslAuthenticate,
    ApiKey::ListTransactions,
    ApiKey::DescribeTransactions,
    ApiKey::DescribeProducers,
    ApiKey::WriteTxnMarkers,
    ApiKey::ShareGroupHeartbeat,
    ApiKey::ShareFetch,
    ApiKey::ShareAcknowledge,
    ApiKey::AlterPartitionReassignments,
    ApiKey::ListPartitionReassignments,
    ApiKey::ElectLeaders,
    ApiKey::UpdateFeatures,
    ApiKey::DescribeQuorum,
    ApiKey::ShareGroupDescribe,
    ApiKey::DescribeShareGroupOffsets,
    ApiKey::AlterShareGroupOffsets,
    ApiKey::DeleteShareGroupOffsets,
    ApiKey::DescribeAcls,
    ApiKey::CreateAcls,
    ApiKey::DeleteAcls,
];

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn versions(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let v = kwire_versions(key).expect("kwire uses this API");
    v.min..=v.max
}

/// Frames `req` as kwire does and checks it reads back to itself.
fn round_trip<R>(
    key: ApiKey,
    version: i16,
    cid: i32,
    client_id: Option<&str>,
    req: &R,
) -> Result<(), TestCaseError>
where
    R: Encodable + Decodable + PartialEq + Debug,
{
    let frame = encode_request(key, version, cid, client_id, req)
        .map_err(|e| TestCaseError::fail(format!("{key:?} v{version}: encode failed: {e}")))?
        .freeze();
    let size = i32::from_be_bytes(frame[..4].try_into().unwrap());
    prop_assert_eq!(size as usize, frame.len() - 4, "{:?} v{}: size prefix", key, version);
    let mut buf: Bytes = frame.slice(4..);
    let header = RequestHeader::decode(&mut buf, request_header_version(key, version))
        .map_err(|e| TestCaseError::fail(format!("{key:?} v{version}: header: {e}")))?;
    prop_assert_eq!(header.request_api_key, key as i16);
    prop_assert_eq!(header.request_api_version, version);
    prop_assert_eq!(header.correlation_id, cid);
    prop_assert_eq!(header.client_id.as_deref(), client_id);
    let body_len = buf.len();
    let decoded = R::decode(&mut buf, version)
        .map_err(|e| TestCaseError::fail(format!("{key:?} v{version}: body: {e}")))?;
    prop_assert_eq!(
        buf.remaining(),
        0,
        "{:?} v{}: {} of {} body bytes left over",
        key,
        version,
        buf.remaining(),
        body_len
    );
    prop_assert_eq!(&decoded, req, "{:?} v{}", key, version);
    // And the decoded request encodes to the same bytes (nothing was dropped).
    let again = encode_request(key, version, cid, client_id, &decoded)
        .map_err(|e| TestCaseError::fail(format!("{key:?} v{version}: re-encode: {e}")))?;
    prop_assert_eq!(&again[..], &frame[..], "{:?} v{}: re-encoding differs", key, version);
    Ok(())
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{0,16}"
}

fn text() -> impl Strategy<Value = String> {
    // Any Unicode, including multi-byte characters.
    ".{0,12}"
}

fn client_id() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(name())
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<[u8; 16]>().prop_map(Uuid::from_bytes)
}

fn blob() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..64).prop_map(Bytes::from)
}

/// Topic → partitions.
fn topic_parts() -> impl Strategy<Value = Vec<(String, Vec<i32>)>> {
    vec((name(), vec(any::<i32>(), 0..4)), 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn metadata(cid in any::<i32>(), client in client_id(), topics in proptest::option::of(vec(name(), 0..5)),
                auto in any::<bool>()) {
        for v in versions(ApiKey::Metadata) {
            let mut req = MetadataRequest::default();
            req.topics = topics.as_ref().map(|ts| {
                ts.iter()
                    .map(|t| {
                        let mut mt = metadata_request::MetadataRequestTopic::default();
                        mt.name = Some(TopicName(sb(t)));
                        mt
                    })
                    .collect()
            });
            if v >= 4 {
                req.allow_auto_topic_creation = auto;
            }
            round_trip(ApiKey::Metadata, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn api_versions(cid in any::<i32>(), client in client_id(), sw in "[a-z][a-z0-9.-]{0,10}[a-z0-9]",
                    swv in "[0-9][a-z0-9.-]{0,10}[a-z0-9]") {
        for v in versions(ApiKey::ApiVersions) {
            let mut req = ApiVersionsRequest::default();
            if v >= 3 {
                req.client_software_name = sb(&sw);
                req.client_software_version = sb(&swv);
            }
            round_trip(ApiKey::ApiVersions, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn create_topics(cid in any::<i32>(), client in client_id(), timeout in any::<i32>(), validate in any::<bool>(),
                     topics in vec((name(), any::<i32>(), any::<i16>(), vec((name(), proptest::option::of(text())), 0..3)), 0..4)) {
        for v in versions(ApiKey::CreateTopics) {
            let mut req = CreateTopicsRequest::default();
            req.timeout_ms = timeout;
            req.validate_only = validate;
            req.topics = topics
                .iter()
                .map(|(n, parts, rf, configs)| {
                    let mut ct = create_topics_request::CreatableTopic::default();
                    ct.name = TopicName(sb(n));
                    ct.num_partitions = *parts;
                    ct.replication_factor = *rf;
                    ct.configs = configs
                        .iter()
                        .map(|(k, val)| {
                            let mut c = create_topics_request::CreatableTopicConfig::default();
                            c.name = sb(k);
                            c.value = val.as_deref().map(sb);
                            c
                        })
                        .collect();
                    ct
                })
                .collect();
            round_trip(ApiKey::CreateTopics, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn describe_log_dirs(cid in any::<i32>(), client in client_id()) {
        for v in versions(ApiKey::DescribeLogDirs) {
            let req = kwire_proto::msg::admin::describe_log_dirs_request();
            round_trip(ApiKey::DescribeLogDirs, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn delete_records(cid in any::<i32>(), client in client_id(), timeout in any::<i32>(),
                      parts in vec((name(), any::<i32>(), any::<i64>()), 0..6)) {
        for v in versions(ApiKey::DeleteRecords) {
            let req = kwire_proto::msg::admin::delete_records_request(
                timeout,
                parts.iter().map(|(t, p, o)| (t.as_str(), *p, *o)),
            );
            round_trip(ApiKey::DeleteRecords, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn delete_topics(cid in any::<i32>(), client in client_id(), timeout in any::<i32>(), names in vec(name(), 0..5)) {
        for v in versions(ApiKey::DeleteTopics) {
            let mut req = DeleteTopicsRequest::default();
            req.timeout_ms = timeout;
            if v >= 6 {
                req.topics = names
                    .iter()
                    .map(|n| {
                        let mut s = delete_topics_request::DeleteTopicState::default();
                        s.name = Some(TopicName(sb(n)));
                        s
                    })
                    .collect();
            } else {
                req.topic_names = names.iter().map(|n| TopicName(sb(n))).collect();
            }
            round_trip(ApiKey::DeleteTopics, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn create_partitions(cid in any::<i32>(), client in client_id(), timeout in any::<i32>(), validate in any::<bool>(),
                         topic in name(), count in any::<i32>()) {
        for v in versions(ApiKey::CreatePartitions) {
            let mut req = CreatePartitionsRequest::default();
            req.timeout_ms = timeout;
            req.validate_only = validate;
            let mut t = create_partitions_request::CreatePartitionsTopic::default();
            t.name = TopicName(sb(&topic));
            t.count = count;
            t.assignments = None;
            req.topics = vec![t];
            round_trip(ApiKey::CreatePartitions, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn describe_configs(cid in any::<i32>(), client in client_id(),
                        resources in vec((any::<i8>(), name(), proptest::option::of(vec(name(), 0..4))), 0..4)) {
        for v in versions(ApiKey::DescribeConfigs) {
            let mut req = DescribeConfigsRequest::default();
            req.resources = resources
                .iter()
                .map(|(ty, n, keys)| {
                    let mut r = describe_configs_request::DescribeConfigsResource::default();
                    r.resource_type = *ty;
                    r.resource_name = sb(n);
                    r.configuration_keys = keys.as_ref().map(|ks| ks.iter().map(|k| sb(k)).collect());
                    r
                })
                .collect();
            round_trip(ApiKey::DescribeConfigs, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn incremental_alter_configs(cid in any::<i32>(), client in client_id(), validate in any::<bool>(),
                                 ty in any::<i8>(), res in name(),
                                 ops in vec((name(), any::<i8>(), proptest::option::of(text())), 0..4)) {
        for v in versions(ApiKey::IncrementalAlterConfigs) {
            let mut req = IncrementalAlterConfigsRequest::default();
            req.validate_only = validate;
            let mut r = incremental_alter_configs_request::AlterConfigsResource::default();
            r.resource_type = ty;
            r.resource_name = sb(&res);
            r.configs = ops
                .iter()
                .map(|(k, op, val)| {
                    let mut c = incremental_alter_configs_request::AlterableConfig::default();
                    c.name = sb(k);
                    c.config_operation = *op;
                    c.value = val.as_deref().map(sb);
                    c
                })
                .collect();
            req.resources = vec![r];
            round_trip(ApiKey::IncrementalAlterConfigs, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn describe_client_quotas(cid in any::<i32>(), client in client_id(), strict in any::<bool>(),
                              comps in vec((name(), 0i8..3, proptest::option::of(name())), 0..3)) {
        for v in versions(ApiKey::DescribeClientQuotas) {
            let mut req = DescribeClientQuotasRequest::default();
            req.strict = strict;
            req.components = comps
                .iter()
                .map(|(t, m, n)| {
                    let mut c = describe_client_quotas_request::ComponentData::default();
                    c.entity_type = sb(t);
                    c.match_type = *m;
                    c._match = n.as_deref().map(sb);
                    c
                })
                .collect();
            round_trip(ApiKey::DescribeClientQuotas, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn alter_client_quotas(cid in any::<i32>(), client in client_id(), validate in any::<bool>(),
                           entries in vec((vec((name(), proptest::option::of(name())), 1..3),
                                           vec((name(), any::<f64>(), any::<bool>()), 0..3)), 0..3)) {
        for v in versions(ApiKey::AlterClientQuotas) {
            let mut req = AlterClientQuotasRequest::default();
            req.validate_only = validate;
            req.entries = entries
                .iter()
                .map(|(ents, ops)| {
                    let mut e = alter_client_quotas_request::EntryData::default();
                    e.entity = ents
                        .iter()
                        .map(|(t, n)| {
                            let mut d = alter_client_quotas_request::EntityData::default();
                            d.entity_type = sb(t);
                            d.entity_name = n.as_deref().map(sb);
                            d
                        })
                        .collect();
                    e.ops = ops
                        .iter()
                        .map(|(k, val, rm)| {
                            let mut o = alter_client_quotas_request::OpData::default();
                            o.key = sb(k);
                            o.value = if val.is_nan() { 0.0 } else { *val };
                            o.remove = *rm;
                            o
                        })
                        .collect();
                    e
                })
                .collect();
            round_trip(ApiKey::AlterClientQuotas, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn describe_user_scram_credentials(cid in any::<i32>(), client in client_id(),
                                       users in proptest::option::of(vec(name(), 0..3))) {
        for v in versions(ApiKey::DescribeUserScramCredentials) {
            let mut req = DescribeUserScramCredentialsRequest::default();
            req.users = users.as_ref().map(|us| {
                us.iter()
                    .map(|u| {
                        let mut n = describe_user_scram_credentials_request::UserName::default();
                        n.name = sb(u);
                        n
                    })
                    .collect()
            });
            round_trip(ApiKey::DescribeUserScramCredentials, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn alter_user_scram_credentials(cid in any::<i32>(), client in client_id(),
                                    dels in vec((name(), any::<i8>()), 0..3),
                                    ups in vec((name(), any::<i8>(), any::<i32>(), blob(), blob()), 0..3)) {
        for v in versions(ApiKey::AlterUserScramCredentials) {
            let mut req = AlterUserScramCredentialsRequest::default();
            req.deletions = dels
                .iter()
                .map(|(u, m)| {
                    let mut d = alter_user_scram_credentials_request::ScramCredentialDeletion::default();
                    d.name = sb(u);
                    d.mechanism = *m;
                    d
                })
                .collect();
            req.upsertions = ups
                .iter()
                .map(|(u, m, i, salt, pw)| {
                    let mut x = alter_user_scram_credentials_request::ScramCredentialUpsertion::default();
                    x.name = sb(u);
                    x.mechanism = *m;
                    x.iterations = *i;
                    x.salt = salt.clone();
                    x.salted_password = pw.clone();
                    x
                })
                .collect();
            round_trip(ApiKey::AlterUserScramCredentials, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn produce(cid in any::<i32>(), client in client_id(), acks in prop_oneof![Just(-1i16), Just(0), Just(1)],
               timeout in any::<i32>(), topics in vec((name(), vec((any::<i32>(), proptest::option::of(blob())), 0..3)), 0..3)) {
        for v in versions(ApiKey::Produce) {
            let mut req = ProduceRequest::default();
            req.acks = acks;
            req.timeout_ms = timeout;
            req.topic_data = topics
                .iter()
                .map(|(n, parts)| {
                    let mut t = produce_request::TopicProduceData::default();
                    t.name = TopicName(sb(n));
                    t.partition_data = parts
                        .iter()
                        .map(|(p, records)| {
                            let mut pd = produce_request::PartitionProduceData::default();
                            pd.index = *p;
                            pd.records = records.clone();
                            pd
                        })
                        .collect();
                    t
                })
                .collect();
            round_trip(ApiKey::Produce, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn init_producer_id(cid in any::<i32>(), client in client_id(), bump in proptest::option::of((any::<i64>(), any::<i16>()))) {
        for v in versions(ApiKey::InitProducerId) {
            let mut req = InitProducerIdRequest::default();
            req.transactional_id = None;
            req.transaction_timeout_ms = i32::MAX;
            if let (Some((pid, epoch)), true) = (bump, v >= 3) {
                req.producer_id = ProducerId(pid);
                req.producer_epoch = epoch;
            }
            round_trip(ApiKey::InitProducerId, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn fetch(cid in any::<i32>(), client in client_id(), max_wait in any::<i32>(), min_bytes in any::<i32>(),
             max_bytes in any::<i32>(), isolation in 0i8..=1, session in (any::<i32>(), any::<i32>()),
             rack in name(), topics in vec((name(), uuid(), vec((any::<i32>(), any::<i32>(), any::<i64>(), any::<i32>()), 0..3)), 0..3)) {
        for v in versions(ApiKey::Fetch) {
            let mut req = FetchRequest::default();
            if v <= 14 {
                req.replica_id = BrokerId(-1);
            } else {
                req.replica_state.replica_id = BrokerId(-1);
            }
            req.max_wait_ms = max_wait;
            req.min_bytes = min_bytes;
            req.max_bytes = max_bytes;
            req.isolation_level = isolation;
            if v >= 7 {
                req.session_id = session.0;
                req.session_epoch = session.1;
            }
            if v >= 11 {
                req.rack_id = sb(&rack);
            }
            req.topics = topics
                .iter()
                .map(|(n, id, parts)| {
                    let mut t = fetch_request::FetchTopic::default();
                    if v >= 13 {
                        t.topic_id = *id;
                    } else {
                        t.topic = TopicName(sb(n));
                    }
                    t.partitions = parts
                        .iter()
                        .map(|(p, epoch, offset, max)| {
                            let mut fp = fetch_request::FetchPartition::default();
                            fp.partition = *p;
                            if v >= 9 {
                                fp.current_leader_epoch = *epoch;
                            }
                            fp.fetch_offset = *offset;
                            fp.partition_max_bytes = *max;
                            fp
                        })
                        .collect();
                    t
                })
                .collect();
            round_trip(ApiKey::Fetch, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn list_offsets(cid in any::<i32>(), client in client_id(), isolation in 0i8..=1, timeout in any::<i32>(),
                    topics in vec((name(), vec((any::<i32>(), any::<i32>(), any::<i64>()), 0..3)), 0..3)) {
        for v in versions(ApiKey::ListOffsets) {
            let mut req = ListOffsetsRequest::default();
            req.replica_id = BrokerId(-1);
            if v >= 2 {
                req.isolation_level = isolation;
            }
            if v >= 10 {
                req.timeout_ms = timeout;
            }
            req.topics = topics
                .iter()
                .map(|(n, parts)| {
                    let mut t = list_offsets_request::ListOffsetsTopic::default();
                    t.name = TopicName(sb(n));
                    t.partitions = parts
                        .iter()
                        .map(|(p, epoch, ts)| {
                            let mut lp = list_offsets_request::ListOffsetsPartition::default();
                            lp.partition_index = *p;
                            if v >= 4 {
                                lp.current_leader_epoch = *epoch;
                            }
                            lp.timestamp = *ts;
                            lp
                        })
                        .collect();
                    t
                })
                .collect();
            round_trip(ApiKey::ListOffsets, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn find_coordinator(cid in any::<i32>(), client in client_id(), group in text()) {
        for v in versions(ApiKey::FindCoordinator) {
            let mut req = FindCoordinatorRequest::default();
            if v >= 4 {
                req.coordinator_keys = vec![sb(&group)];
            } else {
                req.key = sb(&group);
            }
            round_trip(ApiKey::FindCoordinator, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn join_group(cid in any::<i32>(), client in client_id(), group in text(), session in any::<i32>(),
                  rebalance in any::<i32>(), member in name(), instance in proptest::option::of(name()),
                  protocols in vec((name(), blob()), 0..3), reason in proptest::option::of(text())) {
        for v in versions(ApiKey::JoinGroup) {
            let mut req = JoinGroupRequest::default();
            req.group_id = GroupId(sb(&group));
            req.session_timeout_ms = session;
            if v >= 1 {
                req.rebalance_timeout_ms = rebalance;
            }
            req.member_id = sb(&member);
            if v >= 5 {
                req.group_instance_id = instance.as_deref().map(sb);
            }
            req.protocol_type = sb("consumer");
            req.protocols = protocols
                .iter()
                .map(|(n, m)| {
                    let mut p = join_group_request::JoinGroupRequestProtocol::default();
                    p.name = sb(n);
                    p.metadata = m.clone();
                    p
                })
                .collect();
            if v >= 8 {
                req.reason = reason.as_deref().map(sb);
            }
            round_trip(ApiKey::JoinGroup, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn sync_group(cid in any::<i32>(), client in client_id(), group in text(), generation in any::<i32>(),
                  member in name(), instance in proptest::option::of(name()), protocol in proptest::option::of(name()),
                  assignments in vec((name(), blob()), 0..3)) {
        for v in versions(ApiKey::SyncGroup) {
            let mut req = SyncGroupRequest::default();
            req.group_id = GroupId(sb(&group));
            req.generation_id = generation;
            req.member_id = sb(&member);
            if v >= 3 {
                req.group_instance_id = instance.as_deref().map(sb);
            }
            if v >= 5 {
                req.protocol_type = Some(sb("consumer"));
                req.protocol_name = protocol.as_deref().map(sb);
            }
            req.assignments = assignments
                .iter()
                .map(|(m, a)| {
                    let mut x = sync_group_request::SyncGroupRequestAssignment::default();
                    x.member_id = sb(m);
                    x.assignment = a.clone();
                    x
                })
                .collect();
            round_trip(ApiKey::SyncGroup, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn heartbeat(cid in any::<i32>(), client in client_id(), group in text(), generation in any::<i32>(),
                 member in name(), instance in proptest::option::of(name())) {
        for v in versions(ApiKey::Heartbeat) {
            let mut req = HeartbeatRequest::default();
            req.group_id = GroupId(sb(&group));
            req.generation_id = generation;
            req.member_id = sb(&member);
            if v >= 3 {
                req.group_instance_id = instance.as_deref().map(sb);
            }
            round_trip(ApiKey::Heartbeat, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn leave_group(cid in any::<i32>(), client in client_id(), group in text(), member in name()) {
        for v in versions(ApiKey::LeaveGroup) {
            let mut req = LeaveGroupRequest::default();
            req.group_id = GroupId(sb(&group));
            if v <= 2 {
                req.member_id = sb(&member);
            } else {
                let mut m = leave_group_request::MemberIdentity::default();
                m.member_id = sb(&member);
                m.group_instance_id = None;
                if v >= 5 {
                    m.reason = Some(sb("the consumer is being closed"));
                }
                req.members = vec![m];
            }
            round_trip(ApiKey::LeaveGroup, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn offset_commit(cid in any::<i32>(), client in client_id(), group in text(),
                     member in proptest::option::of((any::<i32>(), name(), proptest::option::of(name()))),
                     topics in vec((name(), vec((any::<i32>(), any::<i64>()), 0..3)), 0..3)) {
        for v in versions(ApiKey::OffsetCommit) {
            let mut req = OffsetCommitRequest::default();
            req.group_id = GroupId(sb(&group));
            match &member {
                Some((generation, id, instance)) => {
                    req.generation_id_or_member_epoch = *generation;
                    req.member_id = sb(id);
                    if v >= 7 {
                        req.group_instance_id = instance.as_deref().map(sb);
                    }
                }
                None => {
                    req.generation_id_or_member_epoch = -1;
                    req.member_id = StrBytes::default();
                }
            }
            if v <= 4 {
                req.retention_time_ms = -1;
            }
            req.topics = topics
                .iter()
                .map(|(n, parts)| {
                    let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
                    t.name = TopicName(sb(n));
                    t.partitions = parts
                        .iter()
                        .map(|(p, off)| {
                            let mut x = offset_commit_request::OffsetCommitRequestPartition::default();
                            x.partition_index = *p;
                            x.committed_offset = *off;
                            if v >= 6 {
                                x.committed_leader_epoch = -1;
                            }
                            x.committed_metadata = Some(StrBytes::default());
                            x
                        })
                        .collect();
                    t
                })
                .collect();
            round_trip(ApiKey::OffsetCommit, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn offset_fetch(cid in any::<i32>(), client in client_id(), group in text(),
                    partitions in proptest::option::of(topic_parts())) {
        for v in versions(ApiKey::OffsetFetch) {
            let mut req = OffsetFetchRequest::default();
            if v >= 7 {
                req.require_stable = true;
            }
            if v <= 7 {
                req.group_id = GroupId(sb(&group));
                req.topics = partitions.as_ref().map(|ps| {
                    ps.iter()
                        .map(|(n, parts)| {
                            let mut t = offset_fetch_request::OffsetFetchRequestTopic::default();
                            t.name = TopicName(sb(n));
                            t.partition_indexes = parts.clone();
                            t
                        })
                        .collect()
                });
            } else {
                let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
                g.group_id = GroupId(sb(&group));
                if v >= 9 {
                    g.member_epoch = -1;
                }
                g.topics = partitions.as_ref().map(|ps| {
                    ps.iter()
                        .map(|(n, parts)| {
                            let mut t = offset_fetch_request::OffsetFetchRequestTopics::default();
                            t.name = TopicName(sb(n));
                            t.partition_indexes = parts.clone();
                            t
                        })
                        .collect()
                });
                req.groups = vec![g];
            }
            round_trip(ApiKey::OffsetFetch, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn list_groups(cid in any::<i32>(), client in client_id()) {
        for v in versions(ApiKey::ListGroups) {
            round_trip(ApiKey::ListGroups, v, cid, client.as_deref(), &ListGroupsRequest::default())?;
        }
    }

    #[test]
    fn describe_groups(cid in any::<i32>(), client in client_id(), groups in vec(text(), 0..4)) {
        for v in versions(ApiKey::DescribeGroups) {
            let mut req = DescribeGroupsRequest::default();
            req.groups = groups.iter().map(|g| GroupId(sb(g))).collect();
            round_trip(ApiKey::DescribeGroups, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn delete_groups(cid in any::<i32>(), client in client_id(), groups in vec(text(), 0..4)) {
        for v in versions(ApiKey::DeleteGroups) {
            let mut req = DeleteGroupsRequest::default();
            req.groups_names = groups.iter().map(|g| GroupId(sb(g))).collect();
            round_trip(ApiKey::DeleteGroups, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn offset_delete(cid in any::<i32>(), client in client_id(), group in text(), topics in topic_parts()) {
        for v in versions(ApiKey::OffsetDelete) {
            let mut req = OffsetDeleteRequest::default();
            req.group_id = GroupId(sb(&group));
            req.topics = topics
                .iter()
                .map(|(n, parts)| {
                    let mut t = offset_delete_request::OffsetDeleteRequestTopic::default();
                    t.name = TopicName(sb(n));
                    t.partitions = parts
                        .iter()
                        .map(|p| {
                            let mut x = offset_delete_request::OffsetDeleteRequestPartition::default();
                            x.partition_index = *p;
                            x
                        })
                        .collect();
                    t
                })
                .collect();
            round_trip(ApiKey::OffsetDelete, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn consumer_group_heartbeat(cid in any::<i32>(), client in client_id(), group in text(), member in name(),
                                epoch in any::<i32>(), instance in proptest::option::of(name()),
                                rack in proptest::option::of(name()), rebalance in any::<i32>(),
                                topics in vec(name(), 0..4), assignor in proptest::option::of(name()),
                                owned in proptest::option::of(vec((uuid(), vec(any::<i32>(), 0..4)), 0..3))) {
        for v in versions(ApiKey::ConsumerGroupHeartbeat) {
            let mut req = ConsumerGroupHeartbeatRequest::default();
            req.group_id = GroupId(sb(&group));
            req.member_id = sb(&member);
            req.member_epoch = epoch;
            req.instance_id = instance.as_deref().map(sb);
            req.rack_id = rack.as_deref().map(sb);
            req.rebalance_timeout_ms = rebalance;
            req.subscribed_topic_names = Some(topics.iter().map(|t| TopicName(sb(t))).collect());
            req.server_assignor = assignor.as_deref().map(sb);
            req.topic_partitions = owned.as_ref().map(|o| {
                o.iter()
                    .map(|(id, parts)| {
                        let mut t = consumer_group_heartbeat_request::TopicPartitions::default();
                        t.topic_id = *id;
                        t.partitions = parts.clone();
                        t
                    })
                    .collect()
            });
            round_trip(ApiKey::ConsumerGroupHeartbeat, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn consumer_group_describe(cid in any::<i32>(), client in client_id(), groups in vec(text(), 0..4)) {
        for v in versions(ApiKey::ConsumerGroupDescribe) {
            let mut req = ConsumerGroupDescribeRequest::default();
            req.group_ids = groups.iter().map(|g| GroupId(sb(g))).collect();
            round_trip(ApiKey::ConsumerGroupDescribe, v, cid, client.as_deref(), &req)?;
        }
    }

    #[test]
    fn sasl(cid in any::<i32>(), client in client_id(), mechanism in name(), token in blob()) {
        for v in versions(ApiKey::SaslHandshake) {
            let mut req = SaslHandshakeRequest::default();
            req.mechanism = sb(&mechanism);
            round_trip(ApiKey::SaslHandshake, v, cid, client.as_deref(), &req)?;
        }
        for v in versions(ApiKey::SaslAuthenticate) {
            let mut req = SaslAuthenticateRequest::default();
            req.auth_bytes = token.clone();
            round_trip(ApiKey::SaslAuthenticate, v, cid, client.as_deref(), &req)?;
        }
    }
}

proptest! {
    #[test]
    fn transaction_admin(cid in any::<i32>(), client in client_id(), ids in vec(text(), 0..4),
                         states in vec(name(), 0..3), pids in vec(any::<i64>(), 0..3),
                         duration in any::<i64>(), pattern in proptest::option::of(text()),
                         topic in name(), parts in vec(any::<i32>(), 0..4), pid in any::<i64>(),
                         epoch in any::<i16>(), coord in any::<i32>(), commit in any::<bool>()) {
        use kwire_proto::msg::txn_admin::*;
        for v in versions(ApiKey::ListTransactions) {
            let f = ListTransactionsFilter {
                states: states.clone(),
                producer_ids: pids.clone(),
                duration_ms: (v >= 1).then_some(duration),
                transactional_id_pattern: if v >= 2 { pattern.clone() } else { None },
            };
            round_trip(ApiKey::ListTransactions, v, cid, client.as_deref(), &list_transactions_request(&f))?;
        }
        for v in versions(ApiKey::DescribeTransactions) {
            round_trip(ApiKey::DescribeTransactions, v, cid, client.as_deref(), &describe_transactions_request(&ids))?;
        }
        for v in versions(ApiKey::DescribeProducers) {
            let req = describe_producers_request([(topic.as_str(), &parts[..])]);
            round_trip(ApiKey::DescribeProducers, v, cid, client.as_deref(), &req)?;
        }
        for v in versions(ApiKey::WriteTxnMarkers) {
            let req = write_txn_markers_request(&TxnMarkerSpec {
                producer_id: pid,
                producer_epoch: epoch,
                coordinator_epoch: coord,
                commit,
                topic: &topic,
                partitions: &parts,
            });
            round_trip(ApiKey::WriteTxnMarkers, v, cid, client.as_deref(), &req)?;
        }
        for v in versions(ApiKey::FindCoordinator).filter(|v| *v >= 1) {
            let req = find_transaction_coordinator_request(v, ids.first().map(String::as_str).unwrap_or("tx"));
            round_trip(ApiKey::FindCoordinator, v, cid, client.as_deref(), &req)?;
        }
    }
}

proptest! {
    #[test]
    fn share_groups(cid in any::<i32>(), client in client_id(), group in name(), member in text(),
                    epoch in any::<i32>(), topics in vec(name(), 0..3), join in any::<bool>(),
                    session in any::<i32>(), parts in vec((any::<u8>(), any::<i32>(), any::<i64>(), 0i64..5, 0u8..4), 0..5),
                    wait in any::<i32>(), max in any::<i32>()) {
        use kwire_proto::msg::share::*;
        for v in versions(ApiKey::ShareGroupHeartbeat) {
            let req = share_group_heartbeat_request(&ShareHeartbeatParams {
                group_id: &group,
                member_id: &member,
                member_epoch: epoch,
                rack_id: join.then_some("rack"),
                subscribed_topic_names: join.then_some(&topics[..]),
            });
            round_trip(ApiKey::ShareGroupHeartbeat, v, cid, client.as_deref(), &req)?;
        }
        let types = [AckType::Gap, AckType::Accept, AckType::Release, AckType::Reject];
        let reqs: Vec<SharePartitionReq> = parts
            .iter()
            .map(|(t, p, first, n, ty)| SharePartitionReq {
                topic_id: [*t % 3; 16],
                partition: *p,
                acks: vec![AckBatch { first: *first, last: first.saturating_add(*n), types: vec![types[*ty as usize]] }],
            })
            .collect();
        let forgotten: Vec<([u8; 16], i32)> = parts.iter().map(|(t, p, ..)| ([*t; 16], *p)).collect();
        for v in versions(ApiKey::ShareFetch) {
            let req = share_fetch_request(&ShareFetchParams {
                group_id: &group,
                member_id: &member,
                session_epoch: session,
                max_wait_ms: wait,
                min_bytes: 1,
                max_bytes: max,
                max_records: max,
                batch_size: max,
                partitions: &reqs,
                forgotten: &forgotten,
            });
            round_trip(ApiKey::ShareFetch, v, cid, client.as_deref(), &req)?;
        }
        for v in versions(ApiKey::ShareAcknowledge) {
            let req = share_acknowledge_request(&group, &member, session, &reqs);
            round_trip(ApiKey::ShareAcknowledge, v, cid, client.as_deref(), &req)?;
        }
    }
}

proptest! {
    #[test]
    fn share_group_admin(cid in any::<i32>(), client in client_id(), group in name(), topics in vec(name(), 0..3),
                         offsets in vec((0usize..3, any::<i32>(), any::<i64>()), 0..6), all in any::<bool>()) {
        use kwire_proto::msg::share_admin::*;
        for v in versions(ApiKey::ShareGroupDescribe) {
            round_trip(ApiKey::ShareGroupDescribe, v, cid, client.as_deref(), &share_group_describe_request(&[&group]))?;
        }
        let names: Vec<String> = if topics.is_empty() { vec!["t".to_owned()] } else { topics.clone() };
        let sel: Vec<(String, Vec<i32>)> = names.iter().map(|t| (t.clone(), vec![0, 1])).collect();
        for v in versions(ApiKey::DescribeShareGroupOffsets) {
            let req = describe_share_group_offsets_request(&group, (!all).then_some(&sel[..]));
            round_trip(ApiKey::DescribeShareGroupOffsets, v, cid, client.as_deref(), &req)?;
        }
        for v in versions(ApiKey::AlterShareGroupOffsets) {
            let req = alter_share_group_offsets_request(
                &group,
                offsets.iter().map(|(t, p, o)| (names[*t % names.len()].as_str(), *p, *o)),
            );
            round_trip(ApiKey::AlterShareGroupOffsets, v, cid, client.as_deref(), &req)?;
        }
        for v in versions(ApiKey::DeleteShareGroupOffsets) {
            let req = delete_share_group_offsets_request(&group, &topics);
            round_trip(ApiKey::DeleteShareGroupOffsets, v, cid, client.as_deref(), &req)?;
        }
        let req = list_share_groups_request(&["Empty", "Stable"]);
        round_trip(ApiKey::ListGroups, 5, cid, client.as_deref(), &req)?;
    }
}

#[test]
fn every_kwire_api_has_a_round_trip() {
    for (k, _) in KWIRE_VERSIONS {
        assert!(COVERED.contains(k), "{k:?} is in KWIRE_VERSIONS but has no request round trip here");
    }
    assert_eq!(COVERED.len(), KWIRE_VERSIONS.len());
}

proptest! {
    #[test]
    fn transactions(cid in any::<i32>(), client in client_id(), pid in any::<i64>(), epoch in any::<i16>(),
                    gen_id in any::<i32>(), commit in any::<bool>(), off in any::<i64>()) {
        use kwire_proto::msg::txn::*;
        let p = TxnProducer { transactional_id: "tx", producer_id: pid, producer_epoch: epoch };
        for v in versions(ApiKey::AddPartitionsToTxn) {
            let req = add_partitions_to_txn_request(p, [("a", 0), ("b", 2)]);
            round_trip(ApiKey::AddPartitionsToTxn, v, cid, client.as_deref(), &req)?;
        }
        for v in versions(ApiKey::AddOffsetsToTxn) {
            round_trip(ApiKey::AddOffsetsToTxn, v, cid, client.as_deref(), &add_offsets_to_txn_request(p, "g"))?;
        }
        for v in versions(ApiKey::EndTxn) {
            round_trip(ApiKey::EndTxn, v, cid, client.as_deref(), &end_txn_request(p, commit))?;
        }
        let g = TxnGroupMetadata { group_id: "g".into(), generation_id: gen_id, member_id: "m".into(), group_instance_id: Some("i".into()) };
        for v in versions(ApiKey::TxnOffsetCommit) {
            let req = txn_offset_commit_request(p, &g, [("a", 0, off)], v);
            round_trip(ApiKey::TxnOffsetCommit, v, cid, client.as_deref(), &req)?;
        }
    }
}

proptest! {
    #[test]
    fn reassignments_elections_features_quorum(cid in any::<i32>(), client in client_id(), timeout in any::<i32>(),
                    parts in vec((name(), any::<i32>(), proptest::option::of(vec(any::<i32>(), 0..4))), 0..5),
                    all in any::<bool>(), level in any::<i16>(), validate in any::<bool>(), ty in 1u8..=3) {
        use kwire_proto::msg::reassign::*;
        for v in versions(ApiKey::AlterPartitionReassignments) {
            let req = alter_partition_reassignments_request(timeout, parts.clone());
            round_trip(ApiKey::AlterPartitionReassignments, v, cid, client.as_deref(), &req)?;
        }
        let tps: Vec<(String, i32)> = parts.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
        let sel = (!all).then_some(&tps[..]);
        for v in versions(ApiKey::ListPartitionReassignments) {
            let req = list_partition_reassignments_request(timeout, sel);
            round_trip(ApiKey::ListPartitionReassignments, v, cid, client.as_deref(), &req)?;
        }
        for v in versions(ApiKey::ElectLeaders) {
            let kind = if validate { ElectionType::Unclean } else { ElectionType::Preferred };
            round_trip(ApiKey::ElectLeaders, v, cid, client.as_deref(), &elect_leaders_request(kind, sel, timeout))?;
        }
        let ty = match ty { 1 => FeatureUpgradeType::Upgrade, 2 => FeatureUpgradeType::SafeDowngrade, _ => FeatureUpgradeType::UnsafeDowngrade };
        let ups: Vec<(String, i16, FeatureUpgradeType)> = tps.iter().map(|(t, _)| (t.clone(), level, ty)).collect();
        for v in versions(ApiKey::UpdateFeatures) {
            let req = update_features_request(v, timeout, &ups, validate);
            round_trip(ApiKey::UpdateFeatures, v, cid, client.as_deref(), &req)?;
        }
        for v in versions(ApiKey::DescribeQuorum) {
            round_trip(ApiKey::DescribeQuorum, v, cid, client.as_deref(), &describe_quorum_request())?;
        }
    }
}

proptest! {
    #[test]
    fn acls(cid in any::<i32>(), client in client_id(), name in proptest::option::of(text()),
            principal in proptest::option::of(text()), host in proptest::option::of(text()),
            codes in vec(any::<i8>(), 4..5), n in 0usize..3) {
        use kwire_proto::msg::acls::*;
        let f = WireAclFilter {
            resource_type: codes[0],
            resource_name: name.clone(),
            pattern_type: codes[1],
            principal: principal.clone(),
            host: host.clone(),
            operation: codes[2],
            permission: codes[3],
        };
        let a = WireAcl {
            resource_type: codes[0],
            resource_name: name.clone().unwrap_or_default(),
            pattern_type: codes[1],
            principal: principal.clone().unwrap_or_default(),
            host: host.clone().unwrap_or_default(),
            operation: codes[2],
            permission: codes[3],
        };
        for v in versions(ApiKey::DescribeAcls) {
            round_trip(ApiKey::DescribeAcls, v, cid, client.as_deref(), &describe_acls_request(&f))?;
        }
        for v in versions(ApiKey::CreateAcls) {
            round_trip(ApiKey::CreateAcls, v, cid, client.as_deref(), &create_acls_request(&vec![a.clone(); n]))?;
        }
        for v in versions(ApiKey::DeleteAcls) {
            round_trip(ApiKey::DeleteAcls, v, cid, client.as_deref(), &delete_acls_request(&vec![f.clone(); n]))?;
        }
    }
}
