//! Group coordination: FindCoordinator (10), JoinGroup (11), Heartbeat (12),
//! LeaveGroup (13), SyncGroup (14), OffsetCommit (8), OffsetFetch (9),
//! DescribeGroups (15), ListGroups (16), DeleteGroups (42), OffsetDelete (47),
//! ConsumerGroupHeartbeat (68, KIP-848) and ConsumerGroupDescribe (69), plus
//! the consumer protocol's embedded subscription and assignment bytes
//! (ConsumerProtocolSubscription / ConsumerProtocolAssignment v0-v3).

use bytes::{BufMut, Bytes, BytesMut};
use std::collections::BTreeMap;

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions as HeartbeatTopicPartitions;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;

pub use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest, DeleteGroupsRequest, DescribeGroupsRequest,
    FindCoordinatorRequest, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest,
    OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest, SyncGroupRequest,
};

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, EncodeError, ErrorCode, Request, Response};

/// Smallest wire size of a string (compact: 1-byte length; classic: 2-byte length).
fn str_min(flex: bool) -> usize {
    if flex { 1 } else { 2 }
}

/// Smallest wire size of a byte string or array prefix.
fn arr_min(flex: bool) -> usize {
    if flex { 1 } else { 4 }
}

/// Size of an empty tagged-field section.
fn tags_min(flex: bool) -> usize {
    usize::from(flex)
}

/// One coordinator from a FindCoordinator response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coordinator {
    /// The key asked about (v4+; empty before, where only one key is asked).
    pub key: String,
    /// Coordinator node id (-1 on error).
    pub node_id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// The broker's explanation.
    pub error_message: Option<String>,
}

/// Decoded FindCoordinator response; v0-v3 answers become one [`Coordinator`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FindCoordinatorResponse {
    /// Throttle (v1+).
    pub throttle_time_ms: i32,
    /// One per key asked.
    pub coordinators: Vec<Coordinator>,
}

impl Response for FindCoordinatorResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 3;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 1 { r.i32()? } else { 0 };
        let coordinators = if v <= 3 {
            let error_code = ErrorCode(r.i16()?);
            let error_message = if v >= 1 { r.nullable_string(flex)? } else { None };
            let node_id = r.i32()?;
            let host = r.string(flex)?;
            let port = r.i32()?;
            vec![Coordinator { key: String::new(), node_id, host, port, error_code, error_message }]
        } else {
            r.array(true, 14, |r| {
                let c = Coordinator {
                    key: r.string(true)?,
                    node_id: r.i32()?,
                    host: r.string(true)?,
                    port: r.i32()?,
                    error_code: ErrorCode(r.i16()?),
                    error_message: r.nullable_string(true)?,
                };
                r.skip_tagged_fields(true)?;
                Ok(c)
            })?
        };
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(FindCoordinatorResponse { throttle_time_ms, coordinators })
    }
}

/// One member of a JoinGroup response (sent to the leader only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinGroupMember {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member (v5+).
    pub group_instance_id: Option<String>,
    /// The member's protocol metadata (its subscription).
    pub metadata: Bytes,
}

/// Decoded JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinGroupResponse {
    /// Throttle (v2+).
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Generation of the group.
    pub generation_id: i32,
    /// Protocol type (v7+).
    pub protocol_type: Option<String>,
    /// The chosen protocol (assignor name).
    pub protocol_name: Option<String>,
    /// Leader's member id.
    pub leader: String,
    /// The leader should skip running the assignor (v9+, static leader rejoin).
    pub skip_assignment: bool,
    /// This member's id.
    pub member_id: String,
    /// Every member with its metadata, sent to the leader only.
    pub members: Vec<JoinGroupMember>,
}

impl Response for JoinGroupResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 6;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 2 { r.i32()? } else { 0 };
        let error_code = ErrorCode(r.i16()?);
        let generation_id = r.i32()?;
        let protocol_type = if v >= 7 { r.nullable_string(flex)? } else { None };
        let protocol_name = r.nullable_string(flex)?;
        let leader = r.string(flex)?;
        let skip_assignment = if v >= 9 { r.bool()? } else { false };
        let member_id = r.string(flex)?;
        let min = str_min(flex) + if v >= 5 { str_min(flex) } else { 0 } + arr_min(flex) + tags_min(flex);
        let members = r.array(flex, min, |r| {
            let member_id = r.string(flex)?;
            let group_instance_id = if v >= 5 { r.nullable_string(flex)? } else { None };
            let metadata = r.bytes(flex)?;
            r.skip_tagged_fields(flex)?;
            Ok(JoinGroupMember { member_id, group_instance_id, metadata })
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(JoinGroupResponse {
            throttle_time_ms,
            error_code,
            generation_id,
            protocol_type,
            protocol_name,
            leader,
            skip_assignment,
            member_id,
            members,
        })
    }
}

/// Decoded SyncGroup response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncGroupResponse {
    /// Throttle (v1+).
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Protocol type (v5+).
    pub protocol_type: Option<String>,
    /// Protocol name (v5+).
    pub protocol_name: Option<String>,
    /// This member's assignment (consumer protocol bytes).
    pub assignment: Bytes,
}

impl Response for SyncGroupResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 4;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 1 { r.i32()? } else { 0 };
        let error_code = ErrorCode(r.i16()?);
        let (protocol_type, protocol_name) =
            if v >= 5 { (r.nullable_string(flex)?, r.nullable_string(flex)?) } else { (None, None) };
        let assignment = r.bytes(flex)?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(SyncGroupResponse { throttle_time_ms, error_code, protocol_type, protocol_name, assignment })
    }
}

/// Decoded Heartbeat response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeartbeatResponse {
    /// Throttle (v1+).
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
}

impl Response for HeartbeatResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 4;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 1 { r.i32()? } else { 0 };
        let error_code = ErrorCode(r.i16()?);
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(HeartbeatResponse { throttle_time_ms, error_code })
    }
}

/// Per-member outcome of a LeaveGroup (v3+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeftMember {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// Outcome.
    pub error_code: ErrorCode,
}

/// Decoded LeaveGroup response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaveGroupResponse {
    /// Throttle (v1+).
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Per member (v3+).
    pub members: Vec<LeftMember>,
}

impl Response for LeaveGroupResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 4;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 1 { r.i32()? } else { 0 };
        let error_code = ErrorCode(r.i16()?);
        let members = if v >= 3 {
            r.array(flex, 2 * str_min(flex) + 2 + tags_min(flex), |r| {
                let m = LeftMember {
                    member_id: r.string(flex)?,
                    group_instance_id: r.nullable_string(flex)?,
                    error_code: ErrorCode(r.i16()?),
                };
                r.skip_tagged_fields(flex)?;
                Ok(m)
            })?
        } else {
            Vec::new()
        };
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(LeaveGroupResponse { throttle_time_ms, error_code, members })
    }
}

/// One partition's outcome in an OffsetCommit or OffsetDelete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionResult {
    /// Partition index.
    pub partition: i32,
    /// Outcome.
    pub error_code: ErrorCode,
}

/// One topic's outcomes in an OffsetCommit or OffsetDelete response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicResults {
    /// Topic name.
    pub name: String,
    /// Per partition.
    pub partitions: Vec<PartitionResult>,
}

fn topic_results(r: &mut Reader, flex: bool) -> Result<Vec<TopicResults>, DecodeError> {
    r.array(flex, str_min(flex) + arr_min(flex) + tags_min(flex), |r| {
        let name = r.string(flex)?;
        let partitions = r.array(flex, 6 + tags_min(flex), |r| {
            let p = PartitionResult { partition: r.i32()?, error_code: ErrorCode(r.i16()?) };
            r.skip_tagged_fields(flex)?;
            Ok(p)
        })?;
        r.skip_tagged_fields(flex)?;
        Ok(TopicResults { name, partitions })
    })
}

/// Decoded OffsetCommit response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetCommitResponse {
    /// Throttle (v3+).
    pub throttle_time_ms: i32,
    /// Per topic.
    pub topics: Vec<TopicResults>,
}

impl Response for OffsetCommitResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 8;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 3 { r.i32()? } else { 0 };
        let topics = topic_results(&mut r, flex)?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(OffsetCommitResponse { throttle_time_ms, topics })
    }
}

/// A committed offset from OffsetFetch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommittedPartition {
    /// Partition index.
    pub partition: i32,
    /// Committed offset, -1 if none.
    pub committed_offset: i64,
    /// Leader epoch of the committed record (v5+), -1 if unknown.
    pub committed_leader_epoch: i32,
    /// Commit metadata.
    pub metadata: Option<String>,
    /// Outcome.
    pub error_code: ErrorCode,
}

/// One topic of an OffsetFetch answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommittedTopic {
    /// Topic name.
    pub name: String,
    /// Per partition.
    pub partitions: Vec<CommittedPartition>,
}

/// One group of an OffsetFetch answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommittedGroup {
    /// Group id (v8+; empty before, where one group is asked).
    pub group_id: String,
    /// Group-level outcome (v2+).
    pub error_code: ErrorCode,
    /// Per topic.
    pub topics: Vec<CommittedTopic>,
}

/// Decoded OffsetFetch response; v1-v7 answers become one [`CommittedGroup`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetFetchResponse {
    /// Throttle (v3+).
    pub throttle_time_ms: i32,
    /// Per group.
    pub groups: Vec<CommittedGroup>,
}

impl Response for OffsetFetchResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 6;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 3 { r.i32()? } else { 0 };
        let part_min = 4 + 8 + str_min(flex) + 2 + tags_min(flex);
        let topic_min = str_min(flex) + arr_min(flex) + tags_min(flex);
        let groups = if v <= 7 {
            let topics = r.array(flex, topic_min, |r| {
                let name = r.string(flex)?;
                let partitions = r.array(flex, part_min, |r| {
                    let partition = r.i32()?;
                    let committed_offset = r.i64()?;
                    let committed_leader_epoch = if v >= 5 { r.i32()? } else { -1 };
                    let metadata = r.nullable_string(flex)?;
                    let error_code = ErrorCode(r.i16()?);
                    r.skip_tagged_fields(flex)?;
                    Ok(CommittedPartition {
                        partition,
                        committed_offset,
                        committed_leader_epoch,
                        metadata,
                        error_code,
                    })
                })?;
                r.skip_tagged_fields(flex)?;
                Ok(CommittedTopic { name, partitions })
            })?;
            let error_code = if v >= 2 { ErrorCode(r.i16()?) } else { ErrorCode::NONE };
            vec![CommittedGroup { group_id: String::new(), error_code, topics }]
        } else {
            r.array(true, 5, |r| {
                let group_id = r.string(true)?;
                let topics = r.array(true, 3, |r| {
                    // v10 names topics by id; kwire speaks up to v9.
                    let name = r.string(true)?;
                    let partitions = r.array(true, 4 + 8 + 4 + 1 + 2 + 1, |r| {
                        let p = CommittedPartition {
                            partition: r.i32()?,
                            committed_offset: r.i64()?,
                            committed_leader_epoch: r.i32()?,
                            metadata: r.nullable_string(true)?,
                            error_code: ErrorCode(r.i16()?),
                        };
                        r.skip_tagged_fields(true)?;
                        Ok(p)
                    })?;
                    r.skip_tagged_fields(true)?;
                    Ok(CommittedTopic { name, partitions })
                })?;
                let error_code = ErrorCode(r.i16()?);
                r.skip_tagged_fields(true)?;
                Ok(CommittedGroup { group_id, error_code, topics })
            })?
        };
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(OffsetFetchResponse { throttle_time_ms, groups })
    }
}

/// One group from ListGroups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListedGroup {
    /// Group id.
    pub group_id: String,
    /// Protocol type (`consumer`, `connect`, empty for a group with only offsets).
    pub protocol_type: String,
    /// State (v4+).
    pub group_state: Option<String>,
    /// Type (v5+): `classic`, `consumer`, `share`, `streams`.
    pub group_type: Option<String>,
}

/// Decoded ListGroups response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListGroupsResponse {
    /// Throttle (v1+).
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Groups this broker coordinates.
    pub groups: Vec<ListedGroup>,
}

impl Response for ListGroupsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 3;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 1 { r.i32()? } else { 0 };
        let error_code = ErrorCode(r.i16()?);
        let groups = r.array(flex, 2 * str_min(flex) + tags_min(flex), |r| {
            let g = ListedGroup {
                group_id: r.string(flex)?,
                protocol_type: r.string(flex)?,
                group_state: if v >= 4 { Some(r.string(flex)?) } else { None },
                group_type: if v >= 5 { Some(r.string(flex)?) } else { None },
            };
            r.skip_tagged_fields(flex)?;
            Ok(g)
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(ListGroupsResponse { throttle_time_ms, error_code, groups })
    }
}

/// One member from DescribeGroups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribedMember {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` (v4+).
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host as the broker saw it (`/127.0.0.1`).
    pub client_host: String,
    /// Protocol metadata (consumer protocol subscription).
    pub member_metadata: Bytes,
    /// Assignment (consumer protocol assignment).
    pub member_assignment: Bytes,
}

/// One group from DescribeGroups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribedGroup {
    /// Outcome.
    pub error_code: ErrorCode,
    /// Explanation (v6+).
    pub error_message: Option<String>,
    /// Group id.
    pub group_id: String,
    /// State: `Empty`, `Stable`, `PreparingRebalance`, `CompletingRebalance`, `Dead`.
    pub group_state: String,
    /// Protocol type.
    pub protocol_type: String,
    /// Chosen protocol (assignor).
    pub protocol_data: String,
    /// Members.
    pub members: Vec<DescribedMember>,
    /// Authorized operations bit field (v3+), `i32::MIN` if not asked.
    pub authorized_operations: i32,
}

/// Decoded DescribeGroups response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeGroupsResponse {
    /// Throttle (v1+).
    pub throttle_time_ms: i32,
    /// Per group.
    pub groups: Vec<DescribedGroup>,
}

impl Response for DescribeGroupsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 5;
        let mut r = Reader::new(body);
        let throttle_time_ms = if v >= 1 { r.i32()? } else { 0 };
        let s = str_min(flex);
        let groups = r.array(flex, 2 + 4 * s + arr_min(flex) + tags_min(flex), |r| {
            let error_code = ErrorCode(r.i16()?);
            let error_message = if v >= 6 { r.nullable_string(flex)? } else { None };
            let group_id = r.string(flex)?;
            let group_state = r.string(flex)?;
            let protocol_type = r.string(flex)?;
            let protocol_data = r.string(flex)?;
            let members = r.array(flex, 3 * s + 2 * arr_min(flex) + tags_min(flex), |r| {
                let member_id = r.string(flex)?;
                let group_instance_id = if v >= 4 { r.nullable_string(flex)? } else { None };
                let m = DescribedMember {
                    member_id,
                    group_instance_id,
                    client_id: r.string(flex)?,
                    client_host: r.string(flex)?,
                    member_metadata: r.bytes(flex)?,
                    member_assignment: r.bytes(flex)?,
                };
                r.skip_tagged_fields(flex)?;
                Ok(m)
            })?;
            let authorized_operations = if v >= 3 { r.i32()? } else { i32::MIN };
            r.skip_tagged_fields(flex)?;
            Ok(DescribedGroup {
                error_code,
                error_message,
                group_id,
                group_state,
                protocol_type,
                protocol_data,
                members,
                authorized_operations,
            })
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(DescribeGroupsResponse { throttle_time_ms, groups })
    }
}

/// Decoded DeleteGroups response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteGroupsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Per group: id and outcome.
    pub results: Vec<(String, ErrorCode)>,
}

impl Response for DeleteGroupsResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 2;
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let results = r.array(flex, str_min(flex) + 2 + tags_min(flex), |r| {
            let g = (r.string(flex)?, ErrorCode(r.i16()?));
            r.skip_tagged_fields(flex)?;
            Ok(g)
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(DeleteGroupsResponse { throttle_time_ms, results })
    }
}

/// Decoded OffsetDelete response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetDeleteResponse {
    /// Group-level outcome.
    pub error_code: ErrorCode,
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Per topic.
    pub topics: Vec<TopicResults>,
}

impl Response for OffsetDeleteResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let error_code = ErrorCode(r.i16()?);
        let throttle_time_ms = r.i32()?;
        let topics = topic_results(&mut r, false)?;
        r.finish()?;
        Ok(OffsetDeleteResponse { error_code, throttle_time_ms, topics })
    }
}

/// Partitions of one topic, named by topic id (KIP-848 assignments).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicIdPartitions {
    /// Topic id.
    pub topic_id: [u8; 16],
    /// Topic name (ConsumerGroupDescribe only; empty in heartbeats).
    pub topic_name: String,
    /// Partitions.
    pub partitions: Vec<i32>,
}

fn id_partitions(r: &mut Reader, with_name: bool) -> Result<Vec<TopicIdPartitions>, DecodeError> {
    r.array(true, 16 + usize::from(with_name) + 2, |r| {
        let topic_id = r.uuid()?;
        let topic_name = if with_name { r.string(true)? } else { String::new() };
        let partitions = r.i32_array(true)?;
        r.skip_tagged_fields(true)?;
        Ok(TopicIdPartitions { topic_id, topic_name, partitions })
    })
}

/// Decoded ConsumerGroupHeartbeat response (KIP-848).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerGroupHeartbeatResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// Member id (the one the member sent, or one the broker generated for v0).
    pub member_id: Option<String>,
    /// The member's epoch.
    pub member_epoch: i32,
    /// Interval the member should heartbeat at.
    pub heartbeat_interval_ms: i32,
    /// The target assignment, when it changed (`None`: unchanged).
    pub assignment: Option<Vec<TopicIdPartitions>>,
}

impl Response for ConsumerGroupHeartbeatResponse {
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
                let a = id_partitions(&mut r, false)?;
                r.skip_tagged_fields(true)?;
                Some(a)
            }
            -1 => None,
            _ => return Err(DecodeError::Invalid("nullable struct marker is neither 1 nor -1")),
        };
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(ConsumerGroupHeartbeatResponse {
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

/// One member from ConsumerGroupDescribe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CgMember {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// Rack.
    pub rack_id: Option<String>,
    /// Member epoch.
    pub member_epoch: i32,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Subscribed topics.
    pub subscribed_topic_names: Vec<String>,
    /// Subscribed regex.
    pub subscribed_topic_regex: Option<String>,
    /// Current assignment.
    pub assignment: Vec<TopicIdPartitions>,
    /// Target assignment.
    pub target_assignment: Vec<TopicIdPartitions>,
    /// Member type (v1+): 0 classic, 1 consumer, -1 unknown.
    pub member_type: i8,
}

/// One group from ConsumerGroupDescribe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CgGroup {
    /// Outcome.
    pub error_code: ErrorCode,
    /// Explanation.
    pub error_message: Option<String>,
    /// Group id.
    pub group_id: String,
    /// State: `Empty`, `Assigning`, `Reconciling`, `Stable`, `Dead`.
    pub group_state: String,
    /// Group epoch.
    pub group_epoch: i32,
    /// Assignment epoch.
    pub assignment_epoch: i32,
    /// Server-side assignor.
    pub assignor_name: String,
    /// Members.
    pub members: Vec<CgMember>,
    /// Authorized operations.
    pub authorized_operations: i32,
}

/// Decoded ConsumerGroupDescribe response (KIP-848).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerGroupDescribeResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Per group.
    pub groups: Vec<CgGroup>,
}

fn cg_assignment(r: &mut Reader) -> Result<Vec<TopicIdPartitions>, DecodeError> {
    let a = id_partitions(r, true)?;
    r.skip_tagged_fields(true)?;
    Ok(a)
}

impl Response for ConsumerGroupDescribeResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
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
            let members = r.array(true, 1 + 1 + 1 + 4 + 1 + 1 + 1 + 1 + 2 + 2 + 1, |r| {
                let member_id = r.string(true)?;
                let instance_id = r.nullable_string(true)?;
                let rack_id = r.nullable_string(true)?;
                let member_epoch = r.i32()?;
                let client_id = r.string(true)?;
                let client_host = r.string(true)?;
                let subscribed_topic_names = r.array(true, 1, |r| r.string(true))?;
                let subscribed_topic_regex = r.nullable_string(true)?;
                let assignment = cg_assignment(r)?;
                let target_assignment = cg_assignment(r)?;
                let member_type = if v >= 1 { r.i8()? } else { -1 };
                r.skip_tagged_fields(true)?;
                Ok(CgMember {
                    member_id,
                    instance_id,
                    rack_id,
                    member_epoch,
                    client_id,
                    client_host,
                    subscribed_topic_names,
                    subscribed_topic_regex,
                    assignment,
                    target_assignment,
                    member_type,
                })
            })?;
            let authorized_operations = r.i32()?;
            r.skip_tagged_fields(true)?;
            Ok(CgGroup {
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
        Ok(ConsumerGroupDescribeResponse { throttle_time_ms, groups })
    }
}

// ---------------------------------------------------------------------------
// The consumer protocol's embedded bytes.
// ---------------------------------------------------------------------------

/// Highest ConsumerProtocol version kwire reads and writes.
pub const CONSUMER_PROTOCOL_MAX: i16 = 3;

/// Partitions of one topic inside consumer-protocol bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicPartitions {
    /// Topic name.
    pub topic: String,
    /// Partitions.
    pub partitions: Vec<i32>,
}

/// A member's subscription (JoinGroup protocol metadata, ConsumerProtocolSubscription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSubscription {
    /// Version as written (newer versions than 3 are read as v3, like Kafka does).
    pub version: i16,
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific data.
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now (v1+; cooperative rebalancing).
    pub owned_partitions: Vec<TopicPartitions>,
    /// Generation those partitions were owned in (v2+), -1 if unknown.
    pub generation_id: i32,
    /// `client.rack` (v3+).
    pub rack_id: Option<String>,
}

impl Default for ConsumerSubscription {
    fn default() -> Self {
        ConsumerSubscription {
            version: CONSUMER_PROTOCOL_MAX,
            topics: Vec::new(),
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: -1,
            rack_id: None,
        }
    }
}

/// A member's assignment (SyncGroup bytes, ConsumerProtocolAssignment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerAssignment {
    /// Version as written.
    pub version: i16,
    /// Assigned partitions.
    pub partitions: Vec<TopicPartitions>,
    /// Assignor-specific data.
    pub user_data: Option<Bytes>,
}

impl Default for ConsumerAssignment {
    fn default() -> Self {
        ConsumerAssignment { version: CONSUMER_PROTOCOL_MAX, partitions: Vec::new(), user_data: None }
    }
}

fn read_topic_partitions(r: &mut Reader) -> Result<Vec<TopicPartitions>, DecodeError> {
    r.array(false, 6, |r| Ok(TopicPartitions { topic: r.string(false)?, partitions: r.i32_array(false)? }))
}

fn put_str(out: &mut BytesMut, s: &str, api: ApiKey) -> Result<(), EncodeError> {
    let n = i16::try_from(s.len()).map_err(|_| EncodeError {
        api,
        version: 0,
        reason: format!("string of {} bytes is too long", s.len()),
    })?;
    out.put_i16(n);
    out.put_slice(s.as_bytes());
    Ok(())
}

fn put_len(out: &mut BytesMut, n: usize, api: ApiKey) -> Result<(), EncodeError> {
    let n = i32::try_from(n).map_err(|_| EncodeError {
        api,
        version: 0,
        reason: format!("{n} elements are too many"),
    })?;
    out.put_i32(n);
    Ok(())
}

fn put_nullable_bytes(out: &mut BytesMut, b: Option<&Bytes>, api: ApiKey) -> Result<(), EncodeError> {
    match b {
        None => out.put_i32(-1),
        Some(b) => {
            put_len(out, b.len(), api)?;
            out.put_slice(b);
        }
    }
    Ok(())
}

fn put_topic_partitions(out: &mut BytesMut, tps: &[TopicPartitions], api: ApiKey) -> Result<(), EncodeError> {
    put_len(out, tps.len(), api)?;
    for tp in tps {
        put_str(out, &tp.topic, api)?;
        put_len(out, tp.partitions.len(), api)?;
        for p in &tp.partitions {
            out.put_i32(*p);
        }
    }
    Ok(())
}

impl ConsumerSubscription {
    /// Decodes subscription bytes. Versions above 3 are read as v3 (their
    /// extra fields follow and are ignored), as Kafka's own clients do.
    pub fn decode(bytes: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        if version < 0 {
            return Err(DecodeError::Invalid("negative consumer protocol version"));
        }
        let v = version.min(CONSUMER_PROTOCOL_MAX);
        let topics = r.array(false, 2, |r| r.string(false))?;
        let user_data = r.nullable_bytes(false)?;
        let owned_partitions = if v >= 1 { read_topic_partitions(&mut r)? } else { Vec::new() };
        let generation_id = if v >= 2 { r.i32()? } else { -1 };
        let rack_id = if v >= 3 { r.nullable_string(false)? } else { None };
        Ok(ConsumerSubscription { version, topics, user_data, owned_partitions, generation_id, rack_id })
    }

    /// Encodes at `self.version` (clamped to 0..=3).
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let api = ApiKey::JoinGroup;
        let v = self.version.clamp(0, CONSUMER_PROTOCOL_MAX);
        let mut out = BytesMut::new();
        out.put_i16(v);
        put_len(&mut out, self.topics.len(), api)?;
        for t in &self.topics {
            put_str(&mut out, t, api)?;
        }
        put_nullable_bytes(&mut out, self.user_data.as_ref(), api)?;
        if v >= 1 {
            put_topic_partitions(&mut out, &self.owned_partitions, api)?;
        }
        if v >= 2 {
            out.put_i32(self.generation_id);
        }
        if v >= 3 {
            match &self.rack_id {
                None => out.put_i16(-1),
                Some(r) => put_str(&mut out, r, api)?,
            }
        }
        Ok(out.freeze())
    }
}

impl ConsumerAssignment {
    /// Decodes assignment bytes; empty bytes (a member that got nothing from
    /// some assignors) decode to an empty assignment.
    pub fn decode(bytes: Bytes) -> Result<Self, DecodeError> {
        if bytes.is_empty() {
            return Ok(ConsumerAssignment::default());
        }
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        if version < 0 {
            return Err(DecodeError::Invalid("negative consumer protocol version"));
        }
        let partitions = read_topic_partitions(&mut r)?;
        let user_data = r.nullable_bytes(false)?;
        Ok(ConsumerAssignment { version, partitions, user_data })
    }

    /// Encodes at `self.version` (clamped to 0..=3; the layout is the same in all).
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let api = ApiKey::SyncGroup;
        let mut out = BytesMut::new();
        out.put_i16(self.version.clamp(0, CONSUMER_PROTOCOL_MAX));
        put_topic_partitions(&mut out, &self.partitions, api)?;
        put_nullable_bytes(&mut out, self.user_data.as_ref(), api)?;
        Ok(out.freeze())
    }
}

fn strb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// Who commits: a member's generation (classic) or member epoch (KIP-848),
/// member id and static instance id.
#[derive(Debug, Clone, Copy)]
pub struct CommitMember<'a> {
    /// Generation id (classic) or member epoch (consumer protocol).
    pub generation_or_epoch: i32,
    /// Member id.
    pub member_id: &'a str,
    /// `group.instance.id` (sent from v7).
    pub instance_id: Option<&'a str>,
}

/// An OffsetCommit at `version` of `offsets` (topic, partition, next offset
/// to read), topics sorted by name, partitions in the order given. Without a
/// member it is an admin commit (generation -1, empty member id).
pub fn offset_commit_request<'a>(
    group_id: &str,
    member: Option<CommitMember<'_>>,
    offsets: impl IntoIterator<Item = (&'a str, i32, i64)>,
    version: i16,
) -> OffsetCommitRequest {
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(strb(group_id));
    match member {
        Some(id) => {
            req.generation_id_or_member_epoch = id.generation_or_epoch;
            req.member_id = strb(id.member_id);
            if version >= 7 {
                req.group_instance_id = id.instance_id.map(strb);
            }
        }
        None => {
            req.generation_id_or_member_epoch = -1;
            req.member_id = StrBytes::default();
        }
    }
    if version <= 4 {
        req.retention_time_ms = -1;
    }
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (topic, partition, offset) in offsets {
        let mut p = OffsetCommitRequestPartition::default();
        p.partition_index = partition;
        p.committed_offset = offset;
        if version >= 6 {
            p.committed_leader_epoch = -1;
        }
        p.committed_metadata = Some(StrBytes::default());
        topics.entry(topic).or_default().push(p);
    }
    req.topics = topics
        .into_iter()
        .map(|(name, partitions)| {
            let mut t = OffsetCommitRequestTopic::default();
            t.name = TopicName(strb(name));
            t.partitions = partitions;
            t
        })
        .collect();
    req
}

/// An OffsetFetch at `version` for `group_id` of `partitions` (topic,
/// partition; `None`: every partition with a committed offset, needs v2+),
/// topics sorted by name, asking for stable offsets (v7+). Up to v7 the
/// group is top-level; from v8 it is the one entry of `groups`.
pub fn offset_fetch_request<'a>(
    group_id: &str,
    partitions: Option<impl IntoIterator<Item = (&'a str, i32)>>,
    version: i16,
) -> OffsetFetchRequest {
    let by_topic: Option<BTreeMap<&str, Vec<i32>>> = partitions.map(|ps| {
        let mut m: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, partition) in ps {
            m.entry(topic).or_default().push(partition);
        }
        m
    });
    let mut req = OffsetFetchRequest::default();
    if version >= 7 {
        req.require_stable = true;
    }
    if version <= 7 {
        req.group_id = GroupId(strb(group_id));
        req.topics = by_topic.map(|m| {
            m.into_iter()
                .map(|(name, parts)| {
                    let mut t = OffsetFetchRequestTopic::default();
                    t.name = TopicName(strb(name));
                    t.partition_indexes = parts;
                    t
                })
                .collect()
        });
    } else {
        let mut g = OffsetFetchRequestGroup::default();
        g.group_id = GroupId(strb(group_id));
        g.member_epoch = -1;
        g.topics = by_topic.map(|m| {
            m.into_iter()
                .map(|(name, parts)| {
                    let mut t = OffsetFetchRequestTopics::default();
                    t.name = TopicName(strb(name));
                    t.partition_indexes = parts;
                    t
                })
                .collect()
        });
        req.groups = vec![g];
    }
    req
}

/// A FindCoordinator request for group `key` at version `v`: the key goes in
/// `coordinator_keys` from v4, in `key` before.
pub fn find_coordinator_request(v: i16, key: &str) -> FindCoordinatorRequest {
    let mut req = FindCoordinatorRequest::default();
    if v >= 4 {
        req.coordinator_keys = vec![strb(key)];
    } else {
        req.key = strb(key);
    }
    req
}

/// A ListGroups request (every group, any state or type).
pub fn list_groups_request() -> ListGroupsRequest {
    ListGroupsRequest::default()
}

/// A DescribeGroups request for `groups`.
pub fn describe_groups_request<S: AsRef<str>>(groups: &[S]) -> DescribeGroupsRequest {
    let mut req = DescribeGroupsRequest::default();
    req.groups = groups.iter().map(|g| GroupId(strb(g.as_ref()))).collect();
    req
}

/// A ConsumerGroupDescribe request (KIP-848) for `groups`.
pub fn consumer_group_describe_request<S: AsRef<str>>(groups: &[S]) -> ConsumerGroupDescribeRequest {
    let mut req = ConsumerGroupDescribeRequest::default();
    req.group_ids = groups.iter().map(|g| GroupId(strb(g.as_ref()))).collect();
    req
}

/// A DeleteGroups request for `groups`.
pub fn delete_groups_request<S: AsRef<str>>(groups: &[S]) -> DeleteGroupsRequest {
    let mut req = DeleteGroupsRequest::default();
    req.groups_names = groups.iter().map(|g| GroupId(strb(g.as_ref()))).collect();
    req
}

/// An OffsetDelete request for `group_id` of `partitions` (topic, partition),
/// topics sorted by name, partitions in the order given.
pub fn offset_delete_request<'a>(
    group_id: &str,
    partitions: impl IntoIterator<Item = (&'a str, i32)>,
) -> OffsetDeleteRequest {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        by_topic.entry(topic).or_default().push(partition);
    }
    let mut req = OffsetDeleteRequest::default();
    req.group_id = GroupId(strb(group_id));
    req.topics = by_topic
        .into_iter()
        .map(|(name, parts)| {
            let mut t = OffsetDeleteRequestTopic::default();
            t.name = TopicName(strb(name));
            t.partitions = parts
                .into_iter()
                .map(|p| {
                    let mut x = OffsetDeleteRequestPartition::default();
                    x.partition_index = p;
                    x
                })
                .collect();
            t
        })
        .collect();
    req
}

/// The fields of a JoinGroup request.
#[derive(Debug, Clone)]
pub struct JoinGroupParams<'a> {
    /// Group id.
    pub group_id: &'a str,
    /// `session.timeout.ms`.
    pub session_timeout_ms: i32,
    /// Rebalance timeout (`max.poll.interval.ms`), sent from v1.
    pub rebalance_timeout_ms: i32,
    /// Member id (empty on the first join).
    pub member_id: &'a str,
    /// `group.instance.id`, sent from v5.
    pub group_instance_id: Option<&'a str>,
    /// Protocol type (`consumer`).
    pub protocol_type: &'a str,
    /// Protocol (assignor) names, in order of preference.
    pub protocol_names: &'a [&'a str],
    /// Metadata (the encoded subscription) sent with every protocol.
    pub metadata: Bytes,
    /// Why the member (re)joins, sent from v8.
    pub reason: Option<&'a str>,
}

/// A JoinGroup request at version `v`.
pub fn join_group_request(v: i16, p: &JoinGroupParams<'_>) -> JoinGroupRequest {
    let mut req = JoinGroupRequest::default();
    req.group_id = GroupId(strb(p.group_id));
    req.session_timeout_ms = p.session_timeout_ms;
    if v >= 1 {
        req.rebalance_timeout_ms = p.rebalance_timeout_ms;
    }
    req.member_id = strb(p.member_id);
    if v >= 5 {
        req.group_instance_id = p.group_instance_id.map(strb);
    }
    req.protocol_type = strb(p.protocol_type);
    req.protocols = p
        .protocol_names
        .iter()
        .map(|name| {
            let mut jp = JoinGroupRequestProtocol::default();
            jp.name = strb(name);
            jp.metadata = p.metadata.clone();
            jp
        })
        .collect();
    if v >= 8 {
        req.reason = p.reason.map(strb);
    }
    req
}

/// The fields of a SyncGroup request (besides the assignments).
#[derive(Debug, Clone, Copy)]
pub struct SyncGroupParams<'a> {
    /// Group id.
    pub group_id: &'a str,
    /// Generation.
    pub generation_id: i32,
    /// Member id.
    pub member_id: &'a str,
    /// `group.instance.id`, sent from v3.
    pub group_instance_id: Option<&'a str>,
    /// Protocol type, sent from v5.
    pub protocol_type: &'a str,
    /// Chosen protocol (assignor) name, sent from v5.
    pub protocol_name: Option<&'a str>,
}

/// A SyncGroup request at version `v` with the leader's `assignments`
/// (member id, encoded assignment); followers send none.
pub fn sync_group_request(
    v: i16,
    p: &SyncGroupParams<'_>,
    assignments: impl IntoIterator<Item = (String, Bytes)>,
) -> SyncGroupRequest {
    let mut req = SyncGroupRequest::default();
    req.group_id = GroupId(strb(p.group_id));
    req.generation_id = p.generation_id;
    req.member_id = strb(p.member_id);
    if v >= 3 {
        req.group_instance_id = p.group_instance_id.map(strb);
    }
    if v >= 5 {
        req.protocol_type = Some(strb(p.protocol_type));
        req.protocol_name = p.protocol_name.map(strb);
    }
    req.assignments = assignments
        .into_iter()
        .map(|(member, assignment)| {
            let mut a = SyncGroupRequestAssignment::default();
            a.member_id = StrBytes::from_string(member);
            a.assignment = assignment;
            a
        })
        .collect();
    req
}

/// A Heartbeat request at version `v` (`group_instance_id` sent from v3).
pub fn heartbeat_request(
    v: i16,
    group_id: &str,
    generation_id: i32,
    member_id: &str,
    group_instance_id: Option<&str>,
) -> HeartbeatRequest {
    let mut req = HeartbeatRequest::default();
    req.group_id = GroupId(strb(group_id));
    req.generation_id = generation_id;
    req.member_id = strb(member_id);
    if v >= 3 {
        req.group_instance_id = group_instance_id.map(strb);
    }
    req
}

/// A LeaveGroup request at version `v` for one dynamic member: up to v2 the
/// member id is top-level; from v3 it is the one entry of `members`, with
/// `reason` from v5.
pub fn leave_group_request(
    v: i16,
    group_id: &str,
    member_id: &str,
    reason: Option<&str>,
) -> LeaveGroupRequest {
    let mut req = LeaveGroupRequest::default();
    req.group_id = GroupId(strb(group_id));
    if v <= 2 {
        req.member_id = strb(member_id);
    } else {
        let mut m = MemberIdentity::default();
        m.member_id = strb(member_id);
        m.group_instance_id = None;
        if v >= 5 {
            m.reason = reason.map(strb);
        }
        req.members = vec![m];
    }
    req
}

/// The fields of a ConsumerGroupHeartbeat request (KIP-848).
#[derive(Debug, Clone, Copy)]
pub struct ConsumerGroupHeartbeatParams<'a> {
    /// Group id.
    pub group_id: &'a str,
    /// Member id (empty: let a v0 coordinator pick it).
    pub member_id: &'a str,
    /// Member epoch (0 join, -1 leave, -2 static leave).
    pub member_epoch: i32,
    /// `group.instance.id`.
    pub instance_id: Option<&'a str>,
    /// `client.rack`.
    pub rack_id: Option<&'a str>,
    /// Rebalance timeout (`max.poll.interval.ms`).
    pub rebalance_timeout_ms: i32,
    /// Subscribed topic names.
    pub subscribed_topic_names: &'a [String],
    /// `group.remote.assignor`.
    pub server_assignor: Option<&'a str>,
    /// Owned partitions per topic id.
    pub topic_partitions: &'a [([u8; 16], Vec<i32>)],
}

/// A ConsumerGroupHeartbeat request.
pub fn consumer_group_heartbeat_request(
    p: &ConsumerGroupHeartbeatParams<'_>,
) -> ConsumerGroupHeartbeatRequest {
    let mut req = ConsumerGroupHeartbeatRequest::default();
    req.group_id = GroupId(strb(p.group_id));
    req.member_id = strb(p.member_id);
    req.member_epoch = p.member_epoch;
    req.instance_id = p.instance_id.map(strb);
    req.rack_id = p.rack_id.map(strb);
    req.rebalance_timeout_ms = p.rebalance_timeout_ms;
    req.subscribed_topic_names = Some(p.subscribed_topic_names.iter().map(|t| TopicName(strb(t))).collect());
    req.server_assignor = p.server_assignor.map(strb);
    req.topic_partitions = Some(
        p.topic_partitions
            .iter()
            .map(|(id, partitions)| {
                let mut t = HeartbeatTopicPartitions::default();
                t.topic_id = uuid::Uuid::from_bytes(*id);
                t.partitions = partitions.clone();
                t
            })
            .collect(),
    );
    req
}

macro_rules! requests {
    ($($req:ident => $key:ident, $resp:ident;)*) => {
        $(
            impl Request for $req {
                const KEY: ApiKey = ApiKey::$key;
                type Response = $resp;
            }
        )*
    };
}

requests! {
    FindCoordinatorRequest => FindCoordinator, FindCoordinatorResponse;
    JoinGroupRequest => JoinGroup, JoinGroupResponse;
    SyncGroupRequest => SyncGroup, SyncGroupResponse;
    HeartbeatRequest => Heartbeat, HeartbeatResponse;
    LeaveGroupRequest => LeaveGroup, LeaveGroupResponse;
    OffsetCommitRequest => OffsetCommit, OffsetCommitResponse;
    OffsetFetchRequest => OffsetFetch, OffsetFetchResponse;
    ListGroupsRequest => ListGroups, ListGroupsResponse;
    DescribeGroupsRequest => DescribeGroups, DescribeGroupsResponse;
    DeleteGroupsRequest => DeleteGroups, DeleteGroupsResponse;
    OffsetDeleteRequest => OffsetDelete, OffsetDeleteResponse;
    ConsumerGroupHeartbeatRequest => ConsumerGroupHeartbeat, ConsumerGroupHeartbeatResponse;
    ConsumerGroupDescribeRequest => ConsumerGroupDescribe, ConsumerGroupDescribeResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::{
        BrokerId, ConsumerProtocolAssignment, ConsumerProtocolSubscription, GroupId, TopicName,
        consumer_group_describe_response as cgd, consumer_group_heartbeat_response as cgh,
        consumer_protocol_assignment as cpa, consumer_protocol_subscription as cps,
        delete_groups_response as dg, describe_groups_response as dsc, find_coordinator_response as fc,
        heartbeat_response as hb, join_group_response as jg, leave_group_response as lg,
        list_groups_response as lsg, offset_commit_response as oc, offset_delete_response as od,
        offset_fetch_response as of, sync_group_response as sg,
    };
    use kafka_protocol::protocol::Encodable;
    use proptest::prelude::*;

    fn tn(s: &str) -> TopicName {
        TopicName(sb(s))
    }

    fn uuid(b: u8) -> uuid::Uuid {
        uuid::Uuid::from_bytes([b; 16])
    }

    #[test]
    fn membership_request_builders_follow_version_rules() {
        let names = ["range", "cooperative-sticky"];
        let jp = JoinGroupParams {
            group_id: "g",
            session_timeout_ms: 45_000,
            rebalance_timeout_ms: 300_000,
            member_id: "m",
            group_instance_id: Some("i"),
            protocol_type: "consumer",
            protocol_names: &names,
            metadata: Bytes::from_static(b"sub"),
            reason: Some("why"),
        };
        for v in 0..=9 {
            let j = join_group_request(v, &jp);
            j.encode(&mut BytesMut::new(), v).unwrap();
            assert_eq!(
                (j.group_id.0.as_str(), j.session_timeout_ms, j.member_id.as_str()),
                ("g", 45_000, "m")
            );
            assert_eq!(
                j.rebalance_timeout_ms,
                if v >= 1 { 300_000 } else { JoinGroupRequest::default().rebalance_timeout_ms }
            );
            assert_eq!(j.group_instance_id.as_ref().map(StrBytes::as_str), (v >= 5).then_some("i"));
            assert_eq!(j.reason.as_ref().map(StrBytes::as_str), (v >= 8).then_some("why"));
            let protos: Vec<_> = j.protocols.iter().map(|p| (p.name.as_str(), &p.metadata[..])).collect();
            assert_eq!(protos, [("range", &b"sub"[..]), ("cooperative-sticky", &b"sub"[..])]);
        }
        let sp = SyncGroupParams {
            group_id: "g",
            generation_id: 4,
            member_id: "m",
            group_instance_id: Some("i"),
            protocol_type: "consumer",
            protocol_name: Some("range"),
        };
        for v in 0..=5 {
            let s = sync_group_request(v, &sp, [("m".to_owned(), Bytes::from_static(b"a"))]);
            s.encode(&mut BytesMut::new(), v).unwrap();
            assert_eq!((s.generation_id, s.member_id.as_str()), (4, "m"));
            assert_eq!(s.group_instance_id.as_ref().map(StrBytes::as_str), (v >= 3).then_some("i"));
            assert_eq!(s.protocol_type.as_ref().map(StrBytes::as_str), (v >= 5).then_some("consumer"));
            assert_eq!(s.protocol_name.as_ref().map(StrBytes::as_str), (v >= 5).then_some("range"));
            assert_eq!(
                (s.assignments[0].member_id.as_str(), &s.assignments[0].assignment[..]),
                ("m", &b"a"[..])
            );
        }
        for v in 0..=4 {
            let h = heartbeat_request(v, "g", 4, "m", Some("i"));
            h.encode(&mut BytesMut::new(), v).unwrap();
            assert_eq!((h.group_id.0.as_str(), h.generation_id, h.member_id.as_str()), ("g", 4, "m"));
            assert_eq!(h.group_instance_id.as_ref().map(StrBytes::as_str), (v >= 3).then_some("i"));
        }
        for v in 0..=5 {
            let l = leave_group_request(v, "g", "m", Some("bye"));
            l.encode(&mut BytesMut::new(), v).unwrap();
            if v <= 2 {
                assert_eq!((l.member_id.as_str(), l.members.len()), ("m", 0));
            } else {
                assert_eq!((l.member_id.as_str(), l.members[0].member_id.as_str()), ("", "m"));
                assert_eq!(l.members[0].group_instance_id, None);
                assert_eq!(l.members[0].reason.as_ref().map(StrBytes::as_str), (v >= 5).then_some("bye"));
            }
        }
        let topics = ["a".to_owned(), "b".to_owned()];
        let owned = [([7u8; 16], vec![0, 2])];
        let cp = ConsumerGroupHeartbeatParams {
            group_id: "g",
            member_id: "m",
            member_epoch: 3,
            instance_id: Some("i"),
            rack_id: Some("r"),
            rebalance_timeout_ms: 1000,
            subscribed_topic_names: &topics,
            server_assignor: Some("uniform"),
            topic_partitions: &owned,
        };
        for v in 0..=1 {
            let c = consumer_group_heartbeat_request(&cp);
            c.encode(&mut BytesMut::new(), v).unwrap();
            assert_eq!((c.member_id.as_str(), c.member_epoch, c.rebalance_timeout_ms), ("m", 3, 1000));
            assert_eq!(c.instance_id.as_ref().map(StrBytes::as_str), Some("i"));
            assert_eq!(c.rack_id.as_ref().map(StrBytes::as_str), Some("r"));
            assert_eq!(c.server_assignor.as_ref().map(StrBytes::as_str), Some("uniform"));
            let subs: Vec<_> = c.subscribed_topic_names.iter().flatten().map(|t| t.0.as_str()).collect();
            assert_eq!(subs, ["a", "b"]);
            let tps = c.topic_partitions.as_ref().unwrap();
            assert_eq!((tps[0].topic_id.as_bytes(), &tps[0].partitions[..]), (&[7u8; 16], &[0, 2][..]));
        }
    }

    #[test]
    fn group_admin_request_builders() {
        let f3 = find_coordinator_request(3, "g");
        assert_eq!((f3.key.as_str(), f3.coordinator_keys.len()), ("g", 0));
        let f4 = find_coordinator_request(4, "g");
        assert_eq!((f4.key.as_str(), f4.coordinator_keys[0].as_str()), ("", "g"));
        assert_eq!(list_groups_request(), ListGroupsRequest::default());
        assert_eq!(describe_groups_request(&["g"]).groups[0].0.as_str(), "g");
        assert_eq!(consumer_group_describe_request(&["g"]).group_ids[0].0.as_str(), "g");
        assert_eq!(delete_groups_request(&["g"]).groups_names[0].0.as_str(), "g");
        let od = offset_delete_request("g", [("t", 1), ("a", 0), ("t", 0)]);
        assert_eq!(od.group_id.0.as_str(), "g");
        let shape: Vec<(&str, Vec<i32>)> = od
            .topics
            .iter()
            .map(|t| (t.name.0.as_str(), t.partitions.iter().map(|p| p.partition_index).collect()))
            .collect();
        assert_eq!(shape, vec![("a", vec![0]), ("t", vec![1, 0])]);
    }

    #[test]
    fn offset_request_builders_encode_at_every_version() {
        let offsets = [("t", 0, 5), ("s", 3, 1), ("t", 1, 7)];
        let m = CommitMember { generation_or_epoch: 3, member_id: "m", instance_id: Some("i") };
        for v in 2..=9 {
            for member in [None, Some(m)] {
                let r = offset_commit_request("g", member, offsets, v);
                let mut b = bytes::BytesMut::new();
                r.encode(&mut b, v).unwrap_or_else(|e| panic!("commit v{v}: {e}"));
                let shape: Vec<(&str, Vec<(i32, i64)>)> = r
                    .topics
                    .iter()
                    .map(|t| {
                        (
                            t.name.0.as_str(),
                            t.partitions.iter().map(|p| (p.partition_index, p.committed_offset)).collect(),
                        )
                    })
                    .collect();
                assert_eq!(shape, vec![("s", vec![(3, 1)]), ("t", vec![(0, 5), (1, 7)])]);
                assert_eq!(r.retention_time_ms, if v <= 4 { -1 } else { r.retention_time_ms });
                let gen_id = if member.is_some() { 3 } else { -1 };
                assert_eq!(r.generation_id_or_member_epoch, gen_id);
                let inst = if member.is_some() && v >= 7 { Some("i") } else { None };
                assert_eq!(r.group_instance_id.as_ref().map(StrBytes::as_str), inst);
            }
        }
        for v in 1..=9 {
            for all in [false, true] {
                if all && v < 2 {
                    continue;
                }
                let parts = [("t", 0), ("t", 1), ("a", 2)];
                let r = offset_fetch_request("g", (!all).then_some(parts), v);
                let mut b = bytes::BytesMut::new();
                r.encode(&mut b, v).unwrap_or_else(|e| panic!("fetch v{v}: {e}"));
                assert_eq!(r.require_stable, v >= 7);
                if v <= 7 {
                    assert_eq!(r.group_id.0.as_str(), "g");
                    assert_eq!(r.topics.as_ref().map(|ts| ts.len()), (!all).then_some(2));
                } else {
                    assert_eq!(r.groups[0].group_id.0.as_str(), "g");
                    assert_eq!(r.groups[0].member_epoch, -1);
                    assert_eq!(r.groups[0].topics.as_ref().map(|ts| ts.len()), (!all).then_some(2));
                }
            }
        }
    }

    #[test]
    fn find_coordinator_all_versions() {
        for v in 0..=6 {
            let mut m = fc::FindCoordinatorResponse::default();
            if v >= 1 {
                m.throttle_time_ms = 5;
            }
            if v <= 3 {
                m.error_code = 0;
                m.node_id = BrokerId(2);
                m.host = sb("broker-2");
                m.port = 9093;
                if v >= 1 {
                    m.error_message = Some(sb("ok"));
                }
            } else {
                let mut a = fc::Coordinator::default();
                a.key = sb("g1");
                a.node_id = BrokerId(2);
                a.host = sb("broker-2");
                a.port = 9093;
                let mut b = fc::Coordinator::default();
                b.key = sb("g2");
                b.node_id = BrokerId(-1);
                b.error_code = 15;
                b.error_message = Some(sb("not available"));
                m.coordinators = vec![a, b];
            }
            let bytes = encode(&m, v);
            let d = FindCoordinatorResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.throttle_time_ms, if v >= 1 { 5 } else { 0 });
            let c = &d.coordinators[0];
            assert_eq!(
                (c.node_id, c.host.as_str(), c.port, c.error_code),
                (2, "broker-2", 9093, ErrorCode::NONE)
            );
            if v >= 4 {
                assert_eq!(c.key, "g1");
                assert_eq!(d.coordinators[1].error_code, ErrorCode::COORDINATOR_NOT_AVAILABLE);
                assert_eq!(d.coordinators[1].error_message.as_deref(), Some("not available"));
            } else {
                assert_eq!(d.coordinators.len(), 1);
                assert_eq!(c.error_message.as_deref(), (v >= 1).then_some("ok"));
            }
            all_prefixes_fail(&bytes, |b| FindCoordinatorResponse::decode(b, v));
        }
    }

    #[test]
    fn join_group_all_versions() {
        for v in 0..=9 {
            let mut m = jg::JoinGroupResponse::default();
            if v >= 2 {
                m.throttle_time_ms = 9;
            }
            m.error_code = 0;
            m.generation_id = 4;
            if v >= 7 {
                m.protocol_type = Some(sb("consumer"));
            }
            m.protocol_name = Some(sb("range"));
            m.leader = sb("m-1");
            if v >= 9 {
                m.skip_assignment = true;
            }
            m.member_id = sb("m-2");
            let mut a = jg::JoinGroupResponseMember::default();
            a.member_id = sb("m-1");
            if v >= 5 {
                a.group_instance_id = Some(sb("static-1"));
            }
            a.metadata = Bytes::from_static(b"\x00\x03sub");
            let mut b = jg::JoinGroupResponseMember::default();
            b.member_id = sb("m-2");
            m.members = vec![a, b];
            let bytes = encode(&m, v);
            let d = JoinGroupResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.generation_id, 4);
            assert_eq!(d.protocol_name.as_deref(), Some("range"));
            assert_eq!(d.protocol_type.as_deref(), (v >= 7).then_some("consumer"));
            assert_eq!((d.leader.as_str(), d.member_id.as_str()), ("m-1", "m-2"));
            assert_eq!(d.skip_assignment, v >= 9);
            assert_eq!(d.members.len(), 2);
            assert_eq!(&d.members[0].metadata[..], b"\x00\x03sub");
            assert_eq!(d.members[0].group_instance_id.as_deref(), (v >= 5).then_some("static-1"));
            assert_eq!(d.members[1].member_id, "m-2");
            all_prefixes_fail(&bytes, |b| JoinGroupResponse::decode(b, v));
        }
        // MEMBER_ID_REQUIRED carries the id to use.
        let mut m = jg::JoinGroupResponse::default();
        m.error_code = 79;
        m.generation_id = -1;
        m.member_id = sb("assigned-id");
        m.protocol_name = Some(sb(""));
        let d = JoinGroupResponse::decode(encode(&m, 4), 4).unwrap();
        assert_eq!((d.error_code, d.member_id.as_str()), (ErrorCode::MEMBER_ID_REQUIRED, "assigned-id"));
    }

    #[test]
    fn sync_heartbeat_leave_all_versions() {
        for v in 0..=5 {
            let mut m = sg::SyncGroupResponse::default();
            if v >= 1 {
                m.throttle_time_ms = 1;
            }
            m.error_code = 27;
            if v >= 5 {
                m.protocol_type = Some(sb("consumer"));
                m.protocol_name = Some(sb("cooperative-sticky"));
            }
            m.assignment = Bytes::from_static(b"assignment");
            let bytes = encode(&m, v);
            let d = SyncGroupResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.error_code, ErrorCode::REBALANCE_IN_PROGRESS);
            assert_eq!(&d.assignment[..], b"assignment");
            assert_eq!(d.protocol_name.as_deref(), (v >= 5).then_some("cooperative-sticky"));
            all_prefixes_fail(&bytes, |b| SyncGroupResponse::decode(b, v));
        }
        for v in 0..=4 {
            let mut m = hb::HeartbeatResponse::default();
            if v >= 1 {
                m.throttle_time_ms = 2;
            }
            m.error_code = 22;
            let bytes = encode(&m, v);
            let d = HeartbeatResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.error_code, ErrorCode::ILLEGAL_GENERATION);
            all_prefixes_fail(&bytes, |b| HeartbeatResponse::decode(b, v));
        }
        for v in 0..=5 {
            let mut m = lg::LeaveGroupResponse::default();
            m.error_code = 0;
            if v >= 3 {
                let mut a = lg::MemberResponse::default();
                a.member_id = sb("m-1");
                a.group_instance_id = Some(sb("i-1"));
                a.error_code = 25;
                m.members = vec![a];
            }
            let bytes = encode(&m, v);
            let d = LeaveGroupResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.error_code, ErrorCode::NONE);
            if v >= 3 {
                assert_eq!(
                    d.members,
                    vec![LeftMember {
                        member_id: "m-1".into(),
                        group_instance_id: Some("i-1".into()),
                        error_code: ErrorCode::UNKNOWN_MEMBER_ID
                    }]
                );
            }
            all_prefixes_fail(&bytes, |b| LeaveGroupResponse::decode(b, v));
        }
    }

    #[test]
    fn offset_commit_all_versions() {
        for v in 2..=9 {
            let mut m = oc::OffsetCommitResponse::default();
            if v >= 3 {
                m.throttle_time_ms = 3;
            }
            let mut p0 = oc::OffsetCommitResponsePartition::default();
            p0.partition_index = 0;
            let mut p1 = oc::OffsetCommitResponsePartition::default();
            p1.partition_index = 1;
            p1.error_code = 22;
            let mut t = oc::OffsetCommitResponseTopic::default();
            t.name = tn("t");
            t.partitions = vec![p0, p1];
            m.topics = vec![t];
            let bytes = encode(&m, v);
            let d = OffsetCommitResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.topics[0].name, "t");
            assert_eq!(
                d.topics[0].partitions,
                vec![
                    PartitionResult { partition: 0, error_code: ErrorCode::NONE },
                    PartitionResult { partition: 1, error_code: ErrorCode::ILLEGAL_GENERATION }
                ]
            );
            all_prefixes_fail(&bytes, |b| OffsetCommitResponse::decode(b, v));
        }
    }

    #[test]
    fn offset_fetch_all_versions() {
        for v in 1..=9 {
            let mut m = of::OffsetFetchResponse::default();
            if v >= 3 {
                m.throttle_time_ms = 4;
            }
            if v <= 7 {
                let mut p = of::OffsetFetchResponsePartition::default();
                p.partition_index = 2;
                p.committed_offset = 77;
                if v >= 5 {
                    p.committed_leader_epoch = 3;
                }
                p.metadata = Some(sb("meta"));
                let mut q = of::OffsetFetchResponsePartition::default();
                q.partition_index = 3;
                q.committed_offset = -1;
                q.metadata = None;
                let mut t = of::OffsetFetchResponseTopic::default();
                t.name = tn("t");
                t.partitions = vec![p, q];
                m.topics = vec![t];
                if v >= 2 {
                    m.error_code = 14;
                }
            } else {
                let mut p = of::OffsetFetchResponsePartitions::default();
                p.partition_index = 2;
                p.committed_offset = 77;
                p.committed_leader_epoch = 3;
                p.metadata = Some(sb("meta"));
                let mut q = of::OffsetFetchResponsePartitions::default();
                q.partition_index = 3;
                q.committed_offset = -1;
                q.metadata = None;
                let mut t = of::OffsetFetchResponseTopics::default();
                t.name = tn("t");
                t.partitions = vec![p, q];
                let mut g = of::OffsetFetchResponseGroup::default();
                g.group_id = GroupId(sb("g"));
                g.topics = vec![t];
                g.error_code = 14;
                m.groups = vec![g];
            }
            let bytes = encode(&m, v);
            let d = OffsetFetchResponse::decode(bytes.clone(), v).unwrap();
            let g = &d.groups[0];
            assert_eq!(g.group_id, if v >= 8 { "g" } else { "" });
            assert_eq!(
                g.error_code,
                if v >= 2 { ErrorCode::COORDINATOR_LOAD_IN_PROGRESS } else { ErrorCode::NONE }
            );
            let p = &g.topics[0].partitions[0];
            assert_eq!(g.topics[0].name, "t");
            assert_eq!((p.partition, p.committed_offset, p.metadata.as_deref()), (2, 77, Some("meta")));
            assert_eq!(p.committed_leader_epoch, if v >= 5 { 3 } else { -1 });
            assert_eq!(g.topics[0].partitions[1].committed_offset, -1);
            assert_eq!(g.topics[0].partitions[1].metadata, None);
            all_prefixes_fail(&bytes, |b| OffsetFetchResponse::decode(b, v));
        }
    }

    #[test]
    fn list_describe_delete_groups_all_versions() {
        for v in 0..=5 {
            let mut m = lsg::ListGroupsResponse::default();
            let mut g = lsg::ListedGroup::default();
            g.group_id = GroupId(sb("g"));
            g.protocol_type = sb("consumer");
            if v >= 4 {
                g.group_state = sb("Stable");
            }
            if v >= 5 {
                g.group_type = sb("classic");
            }
            m.groups = vec![g];
            let bytes = encode(&m, v);
            let d = ListGroupsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.groups[0].group_id, "g");
            assert_eq!(d.groups[0].protocol_type, "consumer");
            assert_eq!(d.groups[0].group_state.as_deref(), (v >= 4).then_some("Stable"));
            assert_eq!(d.groups[0].group_type.as_deref(), (v >= 5).then_some("classic"));
            all_prefixes_fail(&bytes, |b| ListGroupsResponse::decode(b, v));
        }
        for v in 0..=6 {
            let mut m = dsc::DescribeGroupsResponse::default();
            let mut g = dsc::DescribedGroup::default();
            g.group_id = GroupId(sb("g"));
            g.group_state = sb("Stable");
            g.protocol_type = sb("consumer");
            g.protocol_data = sb("range");
            if v >= 6 {
                g.error_message = Some(sb("fine"));
            }
            if v >= 3 {
                g.authorized_operations = 8;
            }
            let mut mem = dsc::DescribedGroupMember::default();
            mem.member_id = sb("m-1");
            if v >= 4 {
                mem.group_instance_id = Some(sb("i-1"));
            }
            mem.client_id = sb("c");
            mem.client_host = sb("/127.0.0.1");
            mem.member_metadata = Bytes::from_static(b"md");
            mem.member_assignment = Bytes::from_static(b"as");
            g.members = vec![mem];
            m.groups = vec![g];
            let bytes = encode(&m, v);
            let d = DescribeGroupsResponse::decode(bytes.clone(), v).unwrap();
            let g = &d.groups[0];
            assert_eq!(
                (g.group_id.as_str(), g.group_state.as_str(), g.protocol_data.as_str()),
                ("g", "Stable", "range")
            );
            assert_eq!(g.error_message.as_deref(), (v >= 6).then_some("fine"));
            assert_eq!(g.authorized_operations, if v >= 3 { 8 } else { i32::MIN });
            let mm = &g.members[0];
            assert_eq!((mm.member_id.as_str(), mm.client_host.as_str()), ("m-1", "/127.0.0.1"));
            assert_eq!(mm.group_instance_id.as_deref(), (v >= 4).then_some("i-1"));
            assert_eq!((&mm.member_metadata[..], &mm.member_assignment[..]), (&b"md"[..], &b"as"[..]));
            all_prefixes_fail(&bytes, |b| DescribeGroupsResponse::decode(b, v));
        }
        for v in 0..=2 {
            let mut m = dg::DeleteGroupsResponse::default();
            let mut a = dg::DeletableGroupResult::default();
            a.group_id = GroupId(sb("g"));
            a.error_code = 68;
            m.results = vec![a];
            let bytes = encode(&m, v);
            let d = DeleteGroupsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.results, vec![("g".to_owned(), ErrorCode::NON_EMPTY_GROUP)]);
            all_prefixes_fail(&bytes, |b| DeleteGroupsResponse::decode(b, v));
        }
        let mut m = od::OffsetDeleteResponse::default();
        let mut p = od::OffsetDeleteResponsePartition::default();
        p.partition_index = 1;
        p.error_code = 86;
        let mut t = od::OffsetDeleteResponseTopic::default();
        t.name = tn("t");
        t.partitions = vec![p];
        m.topics = vec![t];
        let bytes = encode(&m, 0);
        let d = OffsetDeleteResponse::decode(bytes.clone(), 0).unwrap();
        assert_eq!(d.topics[0].partitions[0].error_code, ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC);
        all_prefixes_fail(&bytes, |b| OffsetDeleteResponse::decode(b, 0));
    }

    #[test]
    fn consumer_group_heartbeat_and_describe_all_versions() {
        for v in 0..=1 {
            for with_assignment in [false, true] {
                let mut m = cgh::ConsumerGroupHeartbeatResponse::default();
                m.member_id = Some(sb("m-1"));
                m.member_epoch = 7;
                m.heartbeat_interval_ms = 5000;
                if with_assignment {
                    let mut tp = cgh::TopicPartitions::default();
                    tp.topic_id = uuid(9);
                    tp.partitions = vec![0, 2];
                    let mut a = cgh::Assignment::default();
                    a.topic_partitions = vec![tp];
                    m.assignment = Some(a);
                }
                let bytes = encode(&m, v);
                let d = ConsumerGroupHeartbeatResponse::decode(bytes.clone(), v).unwrap();
                assert_eq!((d.member_epoch, d.heartbeat_interval_ms), (7, 5000));
                assert_eq!(d.member_id.as_deref(), Some("m-1"));
                if with_assignment {
                    let a = d.assignment.as_ref().unwrap();
                    assert_eq!((a[0].topic_id, a[0].partitions.clone()), ([9; 16], vec![0, 2]));
                } else {
                    assert!(d.assignment.is_none());
                }
                all_prefixes_fail(&bytes, |b| ConsumerGroupHeartbeatResponse::decode(b, v));
            }
            let mut m = cgd::ConsumerGroupDescribeResponse::default();
            let mut g = cgd::DescribedGroup::default();
            g.group_id = GroupId(sb("g"));
            g.group_state = sb("Stable");
            g.group_epoch = 3;
            g.assignment_epoch = 3;
            g.assignor_name = sb("uniform");
            let mut mem = cgd::Member::default();
            mem.member_id = sb("m-1");
            mem.member_epoch = 3;
            mem.client_id = sb("c");
            mem.client_host = sb("/127.0.0.1");
            mem.subscribed_topic_names = vec![tn("t")];
            let mut tp = cgd::TopicPartitions::default();
            tp.topic_id = uuid(4);
            tp.topic_name = tn("t");
            tp.partitions = vec![1];
            mem.assignment.topic_partitions = vec![tp.clone()];
            mem.target_assignment.topic_partitions = vec![tp];
            if v >= 1 {
                mem.member_type = 1;
            }
            g.members = vec![mem];
            m.groups = vec![g];
            let bytes = encode(&m, v);
            let d = ConsumerGroupDescribeResponse::decode(bytes.clone(), v).unwrap();
            let g = &d.groups[0];
            assert_eq!(
                (g.group_state.as_str(), g.assignor_name.as_str(), g.group_epoch),
                ("Stable", "uniform", 3)
            );
            let mm = &g.members[0];
            assert_eq!(mm.subscribed_topic_names, vec!["t".to_owned()]);
            assert_eq!(mm.assignment[0].topic_name, "t");
            assert_eq!(mm.assignment[0].partitions, vec![1]);
            assert_eq!(mm.target_assignment[0].topic_id, [4; 16]);
            assert_eq!(mm.member_type, if v >= 1 { 1 } else { -1 });
            all_prefixes_fail(&bytes, |b| ConsumerGroupDescribeResponse::decode(b, v));
        }
    }

    fn kp_subscription(s: &ConsumerSubscription) -> Bytes {
        let mut m = ConsumerProtocolSubscription::default();
        m.topics = s.topics.iter().map(|t| sb(t)).collect();
        m.user_data = s.user_data.clone();
        m.owned_partitions = s
            .owned_partitions
            .iter()
            .map(|tp| {
                let mut x = cps::TopicPartition::default();
                x.topic = tn(&tp.topic);
                x.partitions = tp.partitions.clone();
                x
            })
            .collect();
        m.generation_id = s.generation_id;
        m.rack_id = s.rack_id.as_deref().map(sb);
        let mut out = BytesMut::new();
        out.put_i16(s.version);
        m.encode(&mut out, s.version).unwrap();
        out.freeze()
    }

    fn kp_assignment(a: &ConsumerAssignment) -> Bytes {
        let mut m = ConsumerProtocolAssignment::default();
        m.assigned_partitions = a
            .partitions
            .iter()
            .map(|tp| {
                let mut x = cpa::TopicPartition::default();
                x.topic = tn(&tp.topic);
                x.partitions = tp.partitions.clone();
                x
            })
            .collect();
        m.user_data = a.user_data.clone();
        let mut out = BytesMut::new();
        out.put_i16(a.version);
        m.encode(&mut out, a.version).unwrap();
        out.freeze()
    }

    fn tps() -> impl Strategy<Value = Vec<TopicPartitions>> {
        proptest::collection::vec(
            ("[a-z]{1,8}", proptest::collection::vec(0i32..100, 0..5))
                .prop_map(|(topic, partitions)| TopicPartitions { topic, partitions }),
            0..4,
        )
    }

    proptest! {
        #[test]
        fn subscription_matches_kafka_protocol_at_every_version(
            version in 0i16..=3,
            topics in proptest::collection::vec("[a-z.]{1,12}", 0..5),
            user_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
            owned in tps(),
            generation_id in any::<i32>(),
            rack in proptest::option::of("[a-z]{0,5}"),
        ) {
            let s = ConsumerSubscription {
                version,
                topics,
                user_data: user_data.map(Bytes::from),
                owned_partitions: if version >= 1 { owned } else { Vec::new() },
                generation_id: if version >= 2 { generation_id } else { -1 },
                rack_id: if version >= 3 { rack } else { None },
            };
            let ours = s.encode().unwrap();
            prop_assert_eq!(&ours, &kp_subscription(&s));
            prop_assert_eq!(ConsumerSubscription::decode(ours.clone()).unwrap(), s);
            all_prefixes_fail(&ours, ConsumerSubscription::decode);
        }

        #[test]
        fn assignment_matches_kafka_protocol_at_every_version(
            version in 0i16..=3,
            parts in tps(),
            user_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        ) {
            let a = ConsumerAssignment { version, partitions: parts, user_data: user_data.map(Bytes::from) };
            let ours = a.encode().unwrap();
            prop_assert_eq!(&ours, &kp_assignment(&a));
            prop_assert_eq!(ConsumerAssignment::decode(ours.clone()).unwrap(), a);
            // Every strict non-empty prefix fails (empty bytes mean "no assignment").
            for cut in 1..ours.len() {
                prop_assert!(ConsumerAssignment::decode(ours.slice(..cut)).is_err());
            }
        }

        #[test]
        fn embedded_decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = ConsumerSubscription::decode(Bytes::from(data.clone()));
            let _ = ConsumerAssignment::decode(Bytes::from(data.clone()));
            for v in 0..=9 {
                let _ = JoinGroupResponse::decode(Bytes::from(data.clone()), v);
                let _ = OffsetFetchResponse::decode(Bytes::from(data.clone()), v);
                let _ = DescribeGroupsResponse::decode(Bytes::from(data.clone()), v.min(6));
            }
            let _ = ConsumerGroupDescribeResponse::decode(Bytes::from(data.clone()), 1);
            let _ = ConsumerGroupHeartbeatResponse::decode(Bytes::from(data), 1);
        }
    }

    #[test]
    fn newer_subscription_versions_read_as_v3() {
        let s = ConsumerSubscription {
            version: 3,
            topics: vec!["t".into()],
            owned_partitions: vec![TopicPartitions { topic: "t".into(), partitions: vec![1] }],
            generation_id: 5,
            rack_id: Some("r".into()),
            ..Default::default()
        };
        let mut b = BytesMut::from(&s.encode().unwrap()[..]);
        b[..2].copy_from_slice(&7i16.to_be_bytes());
        b.put_slice(b"future fields");
        let d = ConsumerSubscription::decode(b.freeze()).unwrap();
        assert_eq!(d.version, 7);
        assert_eq!((d.topics, d.generation_id, d.rack_id), (s.topics, 5, Some("r".to_owned())));
    }

    #[test]
    fn hostile_counts_are_rejected_before_allocation() {
        // A subscription claiming 2^31-1 topics in 6 bytes.
        let b = Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(ConsumerSubscription::decode(b), Err(DecodeError::CountTooLarge { .. })));
        let b = Bytes::from_static(&[0, 1, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(ConsumerAssignment::decode(b), Err(DecodeError::CountTooLarge { .. })));
        // JoinGroup v6 members with a huge compact count.
        let mut m = jg::JoinGroupResponse::default();
        m.protocol_name = Some(sb("range"));
        let mut raw = encode(&m, 6).to_vec();
        let n = raw.len();
        raw.truncate(n - 2); // members count (0 → 1 byte) + tagged fields
        raw.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x07, 0]);
        assert!(JoinGroupResponse::decode(Bytes::from(raw), 6).is_err());
    }
}
