//! Group administration: find the coordinator, list, describe and delete
//! groups, read, alter and delete committed offsets (what
//! `kafka-consumer-groups.sh` does), with Kafka's retries on coordinator moves.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kwire_group::GroupError> {
//! use kwire_meta::{Cluster, ClusterConfig};
//! let cluster = Cluster::new(ClusterConfig::default());
//! for g in kwire_group::admin::list_groups(&cluster).await? {
//!     let d = kwire_group::admin::describe_group(&cluster, &g.group_id).await?;
//!     println!("{} {} {} members", d.group_id, d.state, d.members.len());
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::ControlFlow;

use kwire_conn::Connection;
use kwire_fetch::TopicPartition;
use kwire_meta::Cluster;
use kwire_meta::retry::RetryPolicy;
use kwire_proto::ErrorCode;
use kwire_proto::api::ApiKey;
use kwire_proto::msg::group::{
    ConsumerAssignment, OffsetCommitRequest, OffsetFetchRequest, consumer_group_describe_request,
    delete_groups_request, describe_groups_request, find_coordinator_request, list_groups_request,
    offset_delete_request,
};

use crate::GroupError;
use crate::member::{CoordinatorError, GroupApiVersions};
use crate::offsets::{OffsetVerdict, classify, commit_outcome, commit_request, fetch_outcome, fetch_request};

/// A group from ListGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type (`consumer`, `connect`, or empty for offsets only).
    pub protocol_type: String,
    /// State, if the broker reports it (Kafka 2.6+).
    pub state: Option<String>,
    /// Type (`classic`, `consumer`, ...), if the broker reports it (Kafka 3.8+).
    pub group_type: Option<String>,
    /// The broker that coordinates it.
    pub coordinator: i32,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Host as the broker sees it (`/127.0.0.1`).
    pub host: String,
    /// Assigned partitions.
    pub assignment: Vec<TopicPartition>,
}

/// A described group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State: `Empty`, `Stable`, `PreparingRebalance`, `CompletingRebalance`,
    /// `Assigning`, `Reconciling`, `Dead` (no such group).
    pub state: String,
    /// `classic` or `consumer` (KIP-848).
    pub group_type: String,
    /// Protocol type (`consumer` for consumer groups).
    pub protocol_type: String,
    /// The assignor in use (`range`, `cooperative-sticky`, `uniform`, ...).
    pub assignor: String,
    /// Coordinator broker id.
    pub coordinator: i32,
    /// Members.
    pub members: Vec<MemberDescription>,
}

/// Where a group's coordinator is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorAddr {
    /// Broker id.
    pub node_id: i32,
    /// `host:port`.
    pub addr: String,
}

/// One FindCoordinator round trip for `group` (to any broker).
pub async fn locate_coordinator(cluster: &Cluster, group: &str) -> Result<CoordinatorAddr, CoordinatorError> {
    let conn = cluster.any_broker().await.map_err(|e| coordinator_unreachable(e.into()))?;
    let v = conn.version(ApiKey::FindCoordinator).map_err(|e| CoordinatorError::Fatal(e.into()))?;
    let req = find_coordinator_request(v, group);
    let resp = match conn.send_version(&req, v).await {
        Ok(r) => r,
        Err(e) => return Err(coordinator_unreachable(e.into())),
    };
    let Some(c) = resp.coordinators.into_iter().find(|c| v < 4 || c.key == group) else {
        return Err(CoordinatorError::Retriable("FindCoordinator answered without our group".into()));
    };
    if c.error_code.is_err() {
        let context = format!("find the coordinator of group '{group}'");
        return Err(if c.error_code.is_retriable() {
            CoordinatorError::Retriable(format!("{context}: {}", c.error_code))
        } else {
            CoordinatorError::Fatal(GroupError::broker(context, c.error_code, c.error_message))
        });
    }
    let addr = if c.host.contains(':') {
        format!("[{}]:{}", c.host, c.port)
    } else {
        format!("{}:{}", c.host, c.port)
    };
    Ok(CoordinatorAddr { node_id: c.node_id, addr })
}

/// The versions of the group APIs `conn` shares with kwire.
pub fn group_versions(conn: &Connection) -> GroupApiVersions {
    GroupApiVersions {
        join_group: conn.version(ApiKey::JoinGroup).ok(),
        sync_group: conn.version(ApiKey::SyncGroup).ok(),
        heartbeat: conn.version(ApiKey::Heartbeat).ok(),
        leave_group: conn.version(ApiKey::LeaveGroup).ok(),
        offset_commit: conn.version(ApiKey::OffsetCommit).ok(),
        offset_fetch: conn.version(ApiKey::OffsetFetch).ok(),
        consumer_group_heartbeat: conn.version(ApiKey::ConsumerGroupHeartbeat).ok(),
    }
}

/// One attempt at finding `group`'s coordinator and connecting to it (over
/// the shared broker pool), with the versions of the group APIs it shares
/// with kwire.
pub async fn find_coordinator(
    cluster: &Cluster,
    group: &str,
) -> Result<(i32, Connection, GroupApiVersions), CoordinatorError> {
    let c = locate_coordinator(cluster, group).await?;
    let conn = cluster.broker(c.node_id).await.map_err(|e| coordinator_unreachable(e.into()))?;
    let versions = group_versions(&conn);
    Ok((c.node_id, conn, versions))
}

/// A failure to reach a broker while looking for a coordinator: retriable,
/// unless authentication or TLS failed (retrying would only hammer the brokers).
pub(crate) fn coordinator_unreachable(e: GroupError) -> CoordinatorError {
    if matches!(&e, GroupError::Meta(kwire_meta::MetaError::Conn(c)) if c.is_auth()) {
        CoordinatorError::Fatal(e)
    } else {
        CoordinatorError::Retriable(e.to_string())
    }
}

/// What a coordinator call wants next: done, or retry (after COORDINATOR_LOAD_IN_PROGRESS,
/// NOT_COORDINATOR, ...) with the error code as the last error.
pub(crate) type Step<T> = kwire_meta::retry::Step<T, String>;

/// Runs `f` against the coordinator of `group`, finding it (again) and
/// retrying with backoff on coordinator moves, loads and disconnects, for up
/// to the request timeout.
pub(crate) async fn with_coordinator<T, F, Fut>(
    cluster: &Cluster,
    group: &str,
    what: &str,
    mut f: F,
) -> Result<T, GroupError>
where
    F: FnMut(i32, Connection, GroupApiVersions) -> Fut,
    Fut: Future<Output = Result<Step<T>, GroupError>>,
{
    let mut retrier = cluster.retrier(what, RetryPolicy::within(cluster.config().conn.request_timeout));
    loop {
        // Each attempt finds the coordinator again: it may have moved.
        let step = match find_coordinator(cluster, group).await {
            Ok((node, conn, versions)) => match f(node, conn, versions).await {
                Ok(step) => step,
                Err(e) if e.is_disconnect() => Step::Reconnect(node, e.to_string()),
                Err(e) => return Err(e),
            },
            Err(CoordinatorError::Retriable(e)) => Step::Retry(e),
            Err(CoordinatorError::Fatal(e)) => return Err(e),
        };
        match retrier.next(step).await {
            Ok(ControlFlow::Break(t)) => return Ok(t),
            Ok(ControlFlow::Continue(())) => {}
            Err(g) => {
                return Err(GroupError::Timeout(format!(
                    "{what}: gave up after {} attempts: {}",
                    g.attempts, g.last
                )));
            }
        }
    }
}

pub(crate) fn step_of<T>(v: OffsetVerdict, context: impl FnOnce() -> String) -> Result<Step<T>, GroupError> {
    match v {
        OffsetVerdict::Done => Err(GroupError::Invalid("internal: done is not a retry".into())),
        OffsetVerdict::Retry(c) | OffsetVerdict::RefindCoordinator(c) => Ok(Step::Retry(c.to_string())),
        OffsetVerdict::Membership(c) | OffsetVerdict::Fatal(c) => Err(GroupError::broker(context(), c, None)),
    }
}

/// Every group of every broker (ListGroups to each broker).
pub async fn list_groups(cluster: &Cluster) -> Result<Vec<GroupListing>, GroupError> {
    let md = cluster.fetch_metadata(Some(&[])).await?;
    let mut out: BTreeMap<String, GroupListing> = BTreeMap::new();
    for id in md.brokers.keys() {
        let conn = cluster.broker(*id).await?;
        let v = conn.version(ApiKey::ListGroups)?;
        let resp = conn.send_version(&list_groups_request(), v).await?;
        if resp.error_code.is_err() {
            return Err(GroupError::broker(format!("list groups on broker {id}"), resp.error_code, None));
        }
        for g in resp.groups {
            out.insert(
                g.group_id.clone(),
                GroupListing {
                    group_id: g.group_id,
                    protocol_type: g.protocol_type,
                    state: g.group_state,
                    group_type: g.group_type,
                    coordinator: *id,
                },
            );
        }
    }
    Ok(out.into_values().collect())
}

/// Describes `group` (ConsumerGroupDescribe for KIP-848 groups, DescribeGroups
/// for classic ones). A group that doesn't exist is `Dead` with no members.
pub async fn describe_group(cluster: &Cluster, group: &str) -> Result<GroupDescription, GroupError> {
    let what = format!("describe group '{group}'");
    with_coordinator(cluster, group, &what, |node, conn, _| {
        let what = what.clone();
        async move {
            if let Ok(v) = conn.version(ApiKey::ConsumerGroupDescribe) {
                let req = consumer_group_describe_request(&[group]);
                let resp = conn.send_version(&req, v).await?;
                if let Some(g) = resp.groups.into_iter().find(|g| g.group_id == group) {
                    match g.error_code {
                        ErrorCode::NONE => {
                            return Ok(Step::Done(GroupDescription {
                                group_id: g.group_id,
                                state: g.group_state,
                                group_type: "consumer".into(),
                                protocol_type: "consumer".into(),
                                assignor: g.assignor_name,
                                coordinator: node,
                                members: g
                                    .members
                                    .into_iter()
                                    .map(|m| MemberDescription {
                                        member_id: m.member_id,
                                        instance_id: m.instance_id,
                                        client_id: m.client_id,
                                        host: m.client_host,
                                        assignment: m
                                            .assignment
                                            .into_iter()
                                            .flat_map(|t| {
                                                let name = t.topic_name;
                                                t.partitions
                                                    .into_iter()
                                                    .map(move |p| TopicPartition::new(name.clone(), p))
                                            })
                                            .collect(),
                                    })
                                    .collect(),
                            }));
                        }
                        // Not a KIP-848 group (or none at all): ask the classic way.
                        // Kafka 3.x advertises ConsumerGroupDescribe but, with the consumer
                        // rebalance protocol disabled (the default there), answers every
                        // group with UNSUPPORTED_VERSION: its groups are all classic.
                        ErrorCode::GROUP_ID_NOT_FOUND | ErrorCode::UNSUPPORTED_VERSION => {}
                        code => return step_of(classify(code), || what.clone()),
                    }
                }
            }
            let v = conn.version(ApiKey::DescribeGroups)?;
            let req = describe_groups_request(&[group]);
            let resp = conn.send_version(&req, v).await?;
            let Some(g) = resp.groups.into_iter().find(|g| g.group_id == group) else {
                return Err(GroupError::Invalid(format!("{what}: the broker did not describe it")));
            };
            match g.error_code {
                ErrorCode::NONE => {}
                ErrorCode::GROUP_ID_NOT_FOUND => {
                    return Ok(Step::Done(GroupDescription {
                        group_id: group.to_owned(),
                        state: "Dead".into(),
                        group_type: "classic".into(),
                        coordinator: node,
                        ..Default::default()
                    }));
                }
                code => return step_of(classify(code), || what.clone()),
            }
            let consumer = g.protocol_type == "consumer";
            Ok(Step::Done(GroupDescription {
                group_id: g.group_id,
                state: g.group_state,
                group_type: "classic".into(),
                protocol_type: g.protocol_type,
                assignor: g.protocol_data,
                coordinator: node,
                members: g
                    .members
                    .into_iter()
                    .map(|m| {
                        let assignment = if consumer {
                            ConsumerAssignment::decode(m.member_assignment)
                                .map(|a| {
                                    a.partitions
                                        .into_iter()
                                        .flat_map(|t| {
                                            let name = t.topic;
                                            t.partitions
                                                .into_iter()
                                                .map(move |p| TopicPartition::new(name.clone(), p))
                                        })
                                        .collect()
                                })
                                .unwrap_or_default()
                        } else {
                            Vec::new()
                        };
                        MemberDescription {
                            member_id: m.member_id,
                            instance_id: m.group_instance_id,
                            client_id: m.client_id,
                            host: m.client_host,
                            assignment,
                        }
                    })
                    .collect(),
            }))
        }
    })
    .await
}

/// Committed offsets of `group` (`partitions: None`: every partition it has
/// an offset for). Partitions without a committed offset are left out.
pub async fn committed_offsets(
    cluster: &Cluster,
    group: &str,
    partitions: Option<&[TopicPartition]>,
) -> Result<BTreeMap<TopicPartition, i64>, GroupError> {
    let what = format!("fetch the committed offsets of group '{group}'");
    with_coordinator(cluster, group, &what, |_, conn, _| {
        let what = what.clone();
        async move {
            let v = conn.version(ApiKey::OffsetFetch)?;
            let req: OffsetFetchRequest = fetch_request(group, partitions, v);
            let resp = conn.send_version(&req, v).await?;
            match fetch_outcome(&resp) {
                Ok(map) => Ok(Step::Done(map)),
                Err(verdict) => step_of(verdict, || what.clone()),
            }
        }
    })
    .await
}

/// Sets `group`'s committed offsets (an admin commit, as
/// `kafka-consumer-groups.sh --reset-offsets --execute` does). The
/// coordinator refuses while the group has active members.
pub async fn alter_offsets(
    cluster: &Cluster,
    group: &str,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> Result<(), GroupError> {
    let what = format!("commit offsets for group '{group}'");
    with_coordinator(cluster, group, &what, |_, conn, _| {
        let what = what.clone();
        async move {
            let v = conn.version(ApiKey::OffsetCommit)?;
            let req: OffsetCommitRequest = commit_request(group, None, offsets, v);
            let resp = conn.send_version(&req, v).await?;
            let (verdict, codes) = commit_outcome(&resp);
            match verdict {
                OffsetVerdict::Done => Ok(Step::Done(())),
                OffsetVerdict::Membership(ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION)
                | OffsetVerdict::Membership(ErrorCode::REBALANCE_IN_PROGRESS) => {
                    Err(GroupError::Invalid(format!("{what}: the group has active members; stop them first")))
                }
                v => {
                    let bad = codes
                        .iter()
                        .find(|(_, c)| c.is_err())
                        .map(|(tp, _)| tp.to_string())
                        .unwrap_or_default();
                    step_of(v, || format!("{what} ({bad})"))
                }
            }
        }
    })
    .await
}

/// Deletes `group` (DeleteGroups). Fails with NON_EMPTY_GROUP while it has
/// members, GROUP_ID_NOT_FOUND if it doesn't exist.
pub async fn delete_group(cluster: &Cluster, group: &str) -> Result<(), GroupError> {
    let what = format!("delete group '{group}'");
    with_coordinator(cluster, group, &what, |_, conn, _| {
        let what = what.clone();
        async move {
            let v = conn.version(ApiKey::DeleteGroups)?;
            let req = delete_groups_request(&[group]);
            let resp = conn.send_version(&req, v).await?;
            let code = resp.results.iter().find(|(g, _)| g == group).map_or(ErrorCode::NONE, |(_, c)| *c);
            match code {
                ErrorCode::NONE => Ok(Step::Done(())),
                ErrorCode::NON_EMPTY_GROUP | ErrorCode::GROUP_ID_NOT_FOUND => {
                    Err(GroupError::broker(what, code, None))
                }
                code => step_of(classify(code), || what.clone()),
            }
        }
    })
    .await
}

/// Deletes `group`'s committed offsets of `partitions` (OffsetDelete, Kafka
/// 2.4+). Returns each partition's outcome (GROUP_SUBSCRIBED_TO_TOPIC when
/// an active member still consumes the topic).
pub async fn delete_offsets(
    cluster: &Cluster,
    group: &str,
    partitions: &[TopicPartition],
) -> Result<Vec<(TopicPartition, ErrorCode)>, GroupError> {
    let what = format!("delete offsets of group '{group}'");
    with_coordinator(cluster, group, &what, |_, conn, _| {
        let what = what.clone();
        async move {
            let v = conn.version(ApiKey::OffsetDelete)?;
            let req =
                offset_delete_request(group, partitions.iter().map(|tp| (tp.topic.as_str(), tp.partition)));
            let resp = conn.send_version(&req, v).await?;
            match resp.error_code {
                ErrorCode::NONE => {}
                ErrorCode::GROUP_ID_NOT_FOUND
                | ErrorCode::NON_EMPTY_GROUP
                | ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC => {
                    return Err(GroupError::broker(what, resp.error_code, None));
                }
                code => return step_of(classify(code), || what.clone()),
            }
            Ok(Step::Done(
                resp.topics
                    .into_iter()
                    .flat_map(|t| {
                        let name = t.name;
                        t.partitions
                            .into_iter()
                            .map(move |p| (TopicPartition::new(name.clone(), p.partition), p.error_code))
                    })
                    .collect(),
            ))
        }
    })
    .await
}
