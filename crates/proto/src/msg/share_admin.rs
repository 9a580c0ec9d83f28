//! Share group administration (KIP-932, what `kafka-share-groups.sh` sends):
//! ShareGroupDescribe (77, v1), DescribeShareGroupOffsets (90, v0),
//! AlterShareGroupOffsets (91, v0), DeleteShareGroupOffsets (92, v0), and
//! ListGroups (16) with the `share` type filter (v5). Deleting a share group
//! is DeleteGroups (42), as for other groups.

use bytes::Bytes;
use kafka_protocol::messages::alter_share_group_offsets_request::{
    AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
use kafka_protocol::messages::describe_share_group_offsets_request::{
    DescribeShareGroupOffsetsRequestGroup, DescribeShareGroupOffsetsRequestTopic,
};
pub use kafka_protocol::messages::{
    AlterShareGroupOffsetsRequest, DeleteShareGroupOffsetsRequest, DescribeShareGroupOffsetsRequest,
    ShareGroupDescribeRequest,
};
use kafka_protocol::messages::{GroupId, ListGroupsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

fn strb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// A ListGroups request for share groups only (the `types_filter` of v5;
/// older versions ignore it, so callers filter the answer by type too).
/// `states`: only groups in these states (v4+), empty for all.
pub fn list_share_groups_request<S: AsRef<str>>(states: &[S]) -> ListGroupsRequest {
    let mut req = ListGroupsRequest::default();
    req.types_filter = vec![strb("share")];
    req.states_filter = states.iter().map(|s| strb(s.as_ref())).collect();
    req
}

/// A ShareGroupDescribe request for `groups`.
pub fn share_group_describe_request<S: AsRef<str>>(groups: &[S]) -> ShareGroupDescribeRequest {
    let mut req = ShareGroupDescribeRequest::default();
    req.group_ids = groups.iter().map(|g| GroupId(strb(g.as_ref()))).collect();
    req
}

/// A DescribeShareGroupOffsets request for `group`: `topics` None asks for
/// every partition the group has state for; Some((topic, partitions)) asks
/// for those.
pub fn describe_share_group_offsets_request(
    group: &str,
    topics: Option<&[(String, Vec<i32>)]>,
) -> DescribeShareGroupOffsetsRequest {
    let mut g = DescribeShareGroupOffsetsRequestGroup::default();
    g.group_id = GroupId(strb(group));
    g.topics = topics.map(|ts| {
        ts.iter()
            .map(|(t, ps)| {
                let mut rt = DescribeShareGroupOffsetsRequestTopic::default();
                rt.topic_name = TopicName(strb(t));
                rt.partitions = ps.clone();
                rt
            })
            .collect()
    });
    let mut req = DescribeShareGroupOffsetsRequest::default();
    req.groups = vec![g];
    req
}

/// An AlterShareGroupOffsets request: set `group`'s start offset of each
/// (topic, partition, offset), topics in the order first named.
pub fn alter_share_group_offsets_request<'a>(
    group: &str,
    offsets: impl IntoIterator<Item = (&'a str, i32, i64)>,
) -> AlterShareGroupOffsetsRequest {
    let mut topics: Vec<AlterShareGroupOffsetsRequestTopic> = Vec::new();
    for (t, p, o) in offsets {
        let mut rp = AlterShareGroupOffsetsRequestPartition::default();
        rp.partition_index = p;
        rp.start_offset = o;
        match topics.iter_mut().find(|rt| rt.topic_name.0.as_str() == t) {
            Some(rt) => rt.partitions.push(rp),
            None => {
                let mut rt = AlterShareGroupOffsetsRequestTopic::default();
                rt.topic_name = TopicName(strb(t));
                rt.partitions = vec![rp];
                topics.push(rt);
            }
        }
    }
    let mut req = AlterShareGroupOffsetsRequest::default();
    req.group_id = GroupId(strb(group));
    req.topics = topics;
    req
}

/// A DeleteShareGroupOffsets request: forget `group`'s state of `topics`.
pub fn delete_share_group_offsets_request<S: AsRef<str>>(
    group: &str,
    topics: &[S],
) -> DeleteShareGroupOffsetsRequest {
    let mut req = DeleteShareGroupOffsetsRequest::default();
    req.group_id = GroupId(strb(group));
    req.topics = topics
        .iter()
        .map(|t| {
            let mut rt = DeleteShareGroupOffsetsRequestTopic::default();
            rt.topic_name = TopicName(strb(t.as_ref()));
            rt
        })
        .collect();
    req
}

/// One member of a described share group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareMember {
    /// Member id.
    pub member_id: String,
    /// Rack.
    pub rack_id: Option<String>,
    /// The member's epoch.
    pub member_epoch: i32,
    /// Client id.
    pub client_id: String,
    /// Host as the broker sees it (`/127.0.0.1`).
    pub client_host: String,
    /// Subscribed topics.
    pub subscribed_topic_names: Vec<String>,
    /// Assignment: (topic id, topic name, partitions).
    pub assignment: Vec<([u8; 16], String, Vec<i32>)>,
}

/// One group of a ShareGroupDescribe answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareDescribedGroup {
    /// Outcome (GROUP_ID_NOT_FOUND for no such share group).
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// Group id.
    pub group_id: String,
    /// State: `Empty`, `Stable`, `Dead`.
    pub group_state: String,
    /// Group epoch.
    pub group_epoch: i32,
    /// Assignment epoch.
    pub assignment_epoch: i32,
    /// Assignor (`simple`).
    pub assignor_name: String,
    /// Members.
    pub members: Vec<ShareMember>,
    /// Authorized operations bit field.
    pub authorized_operations: i32,
}

/// Decoded ShareGroupDescribe response (v1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareGroupDescribeResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Per group.
    pub groups: Vec<ShareDescribedGroup>,
}

impl Response for ShareGroupDescribeResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let groups = r.array(true, 2 + 1 + 1 + 1 + 4 + 4 + 1 + 1 + 4 + 1, |r| {
            let error_code = ErrorCode(r.i16()?);
            let error_message = r.nullable_string(true)?;
            let group_id = r.string(true)?;
            let group_state = r.string(true)?;
            let group_epoch = r.i32()?;
            let assignment_epoch = r.i32()?;
            let assignor_name = r.string(true)?;
            let members = r.array(true, 1 + 1 + 4 + 1 + 1 + 1 + 2 + 1, |r| {
                let member_id = r.string(true)?;
                let rack_id = r.nullable_string(true)?;
                let member_epoch = r.i32()?;
                let client_id = r.string(true)?;
                let client_host = r.string(true)?;
                let subscribed_topic_names = r.array(true, 1, |r| r.string(true))?;
                // Assignment: a struct (not nullable) with its own tagged fields.
                let assignment = r.array(true, 16 + 1 + 1 + 1, |r| {
                    let id = r.uuid()?;
                    let name = r.string(true)?;
                    let parts = r.i32_array(true)?;
                    r.skip_tagged_fields(true)?;
                    Ok((id, name, parts))
                })?;
                r.skip_tagged_fields(true)?;
                r.skip_tagged_fields(true)?;
                Ok(ShareMember {
                    member_id,
                    rack_id,
                    member_epoch,
                    client_id,
                    client_host,
                    subscribed_topic_names,
                    assignment,
                })
            })?;
            let authorized_operations = r.i32()?;
            r.skip_tagged_fields(true)?;
            Ok(ShareDescribedGroup {
                error_code,
                error_message,
                group_id,
                group_state,
                group_epoch,
                assignment_epoch,
                assignor_name,
                members,
                authorized_operations,
            })
        })?;
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(ShareGroupDescribeResponse { throttle_time_ms, groups })
    }
}

/// One partition's start offset in a DescribeShareGroupOffsets answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareOffsetPartition {
    /// Partition.
    pub partition: i32,
    /// The share-partition start offset (-1: none yet).
    pub start_offset: i64,
    /// Leader epoch (-1 unknown).
    pub leader_epoch: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
}

/// One topic in a DescribeShareGroupOffsets answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareOffsetTopic {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub topic_id: [u8; 16],
    /// Per partition.
    pub partitions: Vec<ShareOffsetPartition>,
}

/// One group in a DescribeShareGroupOffsets answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareOffsetGroup {
    /// Group id.
    pub group_id: String,
    /// Per topic.
    pub topics: Vec<ShareOffsetTopic>,
    /// Group-level outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
}

/// Decoded DescribeShareGroupOffsets response (v0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeShareGroupOffsetsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Per group.
    pub groups: Vec<ShareOffsetGroup>,
}

impl Response for DescribeShareGroupOffsetsResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let groups = r.array(true, 1 + 1 + 2 + 1 + 1, |r| {
            let group_id = r.string(true)?;
            let topics = r.array(true, 1 + 16 + 1 + 1, |r| {
                let name = r.string(true)?;
                let topic_id = r.uuid()?;
                let partitions = r.array(true, 4 + 8 + 4 + 2 + 1 + 1, |r| {
                    let p = ShareOffsetPartition {
                        partition: r.i32()?,
                        start_offset: r.i64()?,
                        leader_epoch: r.i32()?,
                        error_code: ErrorCode(r.i16()?),
                        error_message: r.nullable_string(true)?,
                    };
                    r.skip_tagged_fields(true)?;
                    Ok(p)
                })?;
                r.skip_tagged_fields(true)?;
                Ok(ShareOffsetTopic { name, topic_id, partitions })
            })?;
            let error_code = ErrorCode(r.i16()?);
            let error_message = r.nullable_string(true)?;
            r.skip_tagged_fields(true)?;
            Ok(ShareOffsetGroup { group_id, topics, error_code, error_message })
        })?;
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(DescribeShareGroupOffsetsResponse { throttle_time_ms, groups })
    }
}

/// One partition's outcome in an AlterShareGroupOffsets answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareAlterPartition {
    /// Partition.
    pub partition: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
}

/// One topic's outcomes in an AlterShareGroupOffsets answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareAlterTopic {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub topic_id: [u8; 16],
    /// Per partition.
    pub partitions: Vec<ShareAlterPartition>,
}

/// Decoded AlterShareGroupOffsets response (v0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlterShareGroupOffsetsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Top-level outcome (NON_EMPTY_GROUP while members are active).
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// Per topic.
    pub topics: Vec<ShareAlterTopic>,
}

impl Response for AlterShareGroupOffsetsResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(true)?;
        let topics = r.array(true, 1 + 16 + 1 + 1, |r| {
            let name = r.string(true)?;
            let topic_id = r.uuid()?;
            let partitions = r.array(true, 4 + 2 + 1 + 1, |r| {
                let p = ShareAlterPartition {
                    partition: r.i32()?,
                    error_code: ErrorCode(r.i16()?),
                    error_message: r.nullable_string(true)?,
                };
                r.skip_tagged_fields(true)?;
                Ok(p)
            })?;
            r.skip_tagged_fields(true)?;
            Ok(ShareAlterTopic { name, topic_id, partitions })
        })?;
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(AlterShareGroupOffsetsResponse { throttle_time_ms, error_code, error_message, topics })
    }
}

/// One topic's outcome in a DeleteShareGroupOffsets answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareDeleteTopic {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub topic_id: [u8; 16],
    /// Outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
}

/// Decoded DeleteShareGroupOffsets response (v0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteShareGroupOffsetsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Top-level outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// Per topic.
    pub topics: Vec<ShareDeleteTopic>,
}

impl Response for DeleteShareGroupOffsetsResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(true)?;
        let topics = r.array(true, 1 + 16 + 2 + 1 + 1, |r| {
            let t = ShareDeleteTopic {
                name: r.string(true)?,
                topic_id: r.uuid()?,
                error_code: ErrorCode(r.i16()?),
                error_message: r.nullable_string(true)?,
            };
            r.skip_tagged_fields(true)?;
            Ok(t)
        })?;
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(DeleteShareGroupOffsetsResponse { throttle_time_ms, error_code, error_message, topics })
    }
}

impl Request for ShareGroupDescribeRequest {
    const KEY: ApiKey = ApiKey::ShareGroupDescribe;
    type Response = ShareGroupDescribeResponse;
}

impl Request for DescribeShareGroupOffsetsRequest {
    const KEY: ApiKey = ApiKey::DescribeShareGroupOffsets;
    type Response = DescribeShareGroupOffsetsResponse;
}

impl Request for AlterShareGroupOffsetsRequest {
    const KEY: ApiKey = ApiKey::AlterShareGroupOffsets;
    type Response = AlterShareGroupOffsetsResponse;
}

impl Request for DeleteShareGroupOffsetsRequest {
    const KEY: ApiKey = ApiKey::DeleteShareGroupOffsets;
    type Response = DeleteShareGroupOffsetsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::alter_share_group_offsets_response as asr;
    use kafka_protocol::messages::delete_share_group_offsets_response as dsr;
    use kafka_protocol::messages::describe_share_group_offsets_response as dso;
    use kafka_protocol::messages::share_group_describe_response as sgd;

    fn uuid(b: u8) -> uuid::Uuid {
        uuid::Uuid::from_bytes([b; 16])
    }

    #[test]
    fn share_group_describe_response_round_trips() {
        let mut tp = sgd::TopicPartitions::default();
        tp.topic_id = uuid(4);
        tp.topic_name = TopicName(sb("t"));
        tp.partitions = vec![0, 2];
        let mut m = sgd::Member::default();
        m.member_id = sb("m-1");
        m.rack_id = Some(sb("r1"));
        m.member_epoch = 3;
        m.client_id = sb("c");
        m.client_host = sb("/127.0.0.1");
        m.subscribed_topic_names = vec![TopicName(sb("t"))];
        m.assignment.topic_partitions = vec![tp];
        let mut g = sgd::DescribedGroup::default();
        g.group_id = GroupId(sb("g"));
        g.group_state = sb("Stable");
        g.group_epoch = 5;
        g.assignment_epoch = 5;
        g.assignor_name = sb("simple");
        g.members = vec![m, sgd::Member::default()];
        g.authorized_operations = 7;
        let mut missing = sgd::DescribedGroup::default();
        missing.error_code = ErrorCode::GROUP_ID_NOT_FOUND.0;
        missing.error_message = Some(sb("no"));
        let mut resp = sgd::ShareGroupDescribeResponse::default();
        resp.groups = vec![g, missing];
        let bytes = encode(&resp, 1);
        let d = ShareGroupDescribeResponse::decode(bytes.clone(), 1).unwrap();
        let g = &d.groups[0];
        assert_eq!((g.group_id.as_str(), g.group_state.as_str(), g.group_epoch), ("g", "Stable", 5));
        assert_eq!((g.assignor_name.as_str(), g.authorized_operations), ("simple", 7));
        let m = &g.members[0];
        assert_eq!((m.member_id.as_str(), m.rack_id.as_deref(), m.member_epoch), ("m-1", Some("r1"), 3));
        assert_eq!((m.client_id.as_str(), m.client_host.as_str()), ("c", "/127.0.0.1"));
        assert_eq!(m.subscribed_topic_names, vec!["t".to_owned()]);
        assert_eq!(m.assignment, vec![([4; 16], "t".to_owned(), vec![0, 2])]);
        assert_eq!(d.groups[1].error_code, ErrorCode::GROUP_ID_NOT_FOUND);
        all_prefixes_fail(&bytes, |b| ShareGroupDescribeResponse::decode(b, 1));
    }

    #[test]
    fn describe_share_group_offsets_response_round_trips() {
        let mut p = dso::DescribeShareGroupOffsetsResponsePartition::default();
        p.partition_index = 1;
        p.start_offset = 42;
        p.leader_epoch = 2;
        let mut bad = dso::DescribeShareGroupOffsetsResponsePartition::default();
        bad.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0;
        bad.error_message = Some(sb("gone"));
        let mut t = dso::DescribeShareGroupOffsetsResponseTopic::default();
        t.topic_name = TopicName(sb("t"));
        t.topic_id = uuid(9);
        t.partitions = vec![p, bad];
        let mut g = dso::DescribeShareGroupOffsetsResponseGroup::default();
        g.group_id = GroupId(sb("g"));
        g.topics = vec![t];
        let mut resp = dso::DescribeShareGroupOffsetsResponse::default();
        resp.groups = vec![g];
        let bytes = encode(&resp, 0);
        let d = DescribeShareGroupOffsetsResponse::decode(bytes.clone(), 0).unwrap();
        let t = &d.groups[0].topics[0];
        assert_eq!((d.groups[0].group_id.as_str(), t.name.as_str(), t.topic_id), ("g", "t", [9; 16]));
        assert_eq!(
            t.partitions[0],
            ShareOffsetPartition {
                partition: 1,
                start_offset: 42,
                leader_epoch: 2,
                error_code: ErrorCode::NONE,
                error_message: None
            }
        );
        assert_eq!(t.partitions[1].error_code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        all_prefixes_fail(&bytes, |b| DescribeShareGroupOffsetsResponse::decode(b, 0));
    }

    #[test]
    fn alter_and_delete_share_group_offsets_responses_round_trip() {
        let mut p = asr::AlterShareGroupOffsetsResponsePartition::default();
        p.partition_index = 3;
        p.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0;
        let mut t = asr::AlterShareGroupOffsetsResponseTopic::default();
        t.topic_name = TopicName(sb("t"));
        t.topic_id = uuid(1);
        t.partitions = vec![p];
        let mut resp = asr::AlterShareGroupOffsetsResponse::default();
        resp.error_code = ErrorCode::NON_EMPTY_GROUP.0;
        resp.error_message = Some(sb("busy"));
        resp.responses = vec![t];
        let bytes = encode(&resp, 0);
        let d = AlterShareGroupOffsetsResponse::decode(bytes.clone(), 0).unwrap();
        assert_eq!((d.error_code, d.error_message.as_deref()), (ErrorCode::NON_EMPTY_GROUP, Some("busy")));
        assert_eq!((d.topics[0].partitions[0].partition, d.topics[0].topic_id), (3, [1; 16]));
        all_prefixes_fail(&bytes, |b| AlterShareGroupOffsetsResponse::decode(b, 0));

        let mut t = dsr::DeleteShareGroupOffsetsResponseTopic::default();
        t.topic_name = TopicName(sb("u"));
        t.topic_id = uuid(2);
        t.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0;
        let mut resp = dsr::DeleteShareGroupOffsetsResponse::default();
        resp.responses = vec![t];
        let bytes = encode(&resp, 0);
        let d = DeleteShareGroupOffsetsResponse::decode(bytes.clone(), 0).unwrap();
        assert_eq!(
            (d.topics[0].name.as_str(), d.topics[0].error_code),
            ("u", ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
        all_prefixes_fail(&bytes, |b| DeleteShareGroupOffsetsResponse::decode(b, 0));
    }

    #[test]
    fn requests_carry_the_group_and_topics() {
        let l = list_share_groups_request(&["Empty"]);
        assert_eq!((l.types_filter[0].as_str(), l.states_filter[0].as_str()), ("share", "Empty"));
        let a = alter_share_group_offsets_request("g", [("t", 0, 5), ("u", 1, 6), ("t", 1, 7)]);
        assert_eq!(a.topics.len(), 2);
        assert_eq!(a.topics[0].partitions.iter().map(|p| p.start_offset).collect::<Vec<_>>(), vec![5, 7]);
        let d = describe_share_group_offsets_request("g", None);
        assert!(d.groups[0].topics.is_none());
        let d = describe_share_group_offsets_request("g", Some(&[("t".to_owned(), vec![1])]));
        assert_eq!(d.groups[0].topics.as_ref().unwrap()[0].partitions, vec![1]);
        assert_eq!(delete_share_group_offsets_request("g", &["t"]).topics[0].topic_name.0.as_str(), "t");
        assert_eq!(share_group_describe_request(&["g"]).group_ids[0].0.as_str(), "g");
    }
}
