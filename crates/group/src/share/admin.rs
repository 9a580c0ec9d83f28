//! Share group administration (what `kafka-share-groups.sh` does): list
//! share groups, describe one (members, assignment, epochs), read its start
//! offsets per partition, reset them (plan, then execute, as
//! [`crate::reset`] does for consumer groups), delete its state of topics,
//! delete the group.
//!
//! A share group has no committed offset per member; it has one *start
//! offset* per partition (the first record not yet acknowledged by all).
//! Resetting it moves where delivery starts for the whole group, and, like
//! Kafka, only while the group has no active members.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kwire_group::GroupError> {
//! use kwire_group::share::admin;
//! use kwire_meta::{Cluster, ClusterConfig};
//! let cluster = Cluster::new(ClusterConfig::default());
//! for g in admin::list_share_groups(&cluster, &[]).await? {
//!     let d = admin::describe_share_group(&cluster, &g.group_id).await?;
//!     println!("{} {} {} members", d.group_id, d.state, d.members.len());
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use kwire_fetch::{IsolationLevel, OffsetSpec, TopicPartition, list_offsets};
use kwire_meta::Cluster;
use kwire_proto::ErrorCode;
use kwire_proto::api::ApiKey;
use kwire_proto::msg::share_admin::{
    alter_share_group_offsets_request, delete_share_group_offsets_request,
    describe_share_group_offsets_request, list_share_groups_request, share_group_describe_request,
};

use crate::GroupError;
use crate::admin::{Step, step_of, with_coordinator};
use crate::offsets::classify;
use crate::reset::{
    LogOffsets, PartitionSelection, PlannedOffset, ResetStrategy, TopicSelection, plan_offsets,
    resolve_partitions, resolve_time,
};

/// A share group from ListGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupListing {
    /// Group id.
    pub group_id: String,
    /// State (`Empty`, `Stable`, ...).
    pub state: Option<String>,
    /// The broker that coordinates it.
    pub coordinator: i32,
}

/// One member of a share group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareMemberDescription {
    /// Member id.
    pub member_id: String,
    /// Client id.
    pub client_id: String,
    /// Host as the broker sees it (`/127.0.0.1`).
    pub host: String,
    /// Rack.
    pub rack: Option<String>,
    /// The member's epoch.
    pub member_epoch: i32,
    /// Subscribed topics.
    pub subscriptions: Vec<String>,
    /// Assigned partitions, sorted.
    pub assignment: Vec<TopicPartition>,
}

/// A described share group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareGroupDescription {
    /// Group id.
    pub group_id: String,
    /// State: `Empty`, `Stable`, or `Dead` (no such share group).
    pub state: String,
    /// Group epoch.
    pub group_epoch: i32,
    /// Target assignment epoch.
    pub assignment_epoch: i32,
    /// Assignor (`simple`).
    pub assignor: String,
    /// Coordinator broker id.
    pub coordinator: i32,
    /// Members.
    pub members: Vec<ShareMemberDescription>,
}

impl ShareGroupDescription {
    /// False for a group that doesn't exist (or isn't a share group).
    pub fn exists(&self) -> bool {
        self.state != "Dead"
    }
}

/// One partition's share state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareOffset {
    /// The start offset; `None` before the group has initialised the partition.
    pub start_offset: Option<i64>,
    /// Leader epoch of the state, if known.
    pub leader_epoch: Option<i32>,
    /// The log end offset, if its leader could be asked.
    pub log_end: Option<i64>,
}

impl ShareOffset {
    /// Records from the start offset to the log end (never negative);
    /// `None` when either is unknown. An upper bound of Kafka's own lag
    /// (DescribeShareGroupOffsets v1), which also leaves out records already
    /// acknowledged past the start offset.
    pub fn lag(&self) -> Option<i64> {
        crate::lag::lag(self.start_offset, self.log_end)
    }
}

/// Every share group of every broker (ListGroups v5 with the `share` type
/// filter); `states` keeps only groups in those states (empty: all).
pub async fn list_share_groups(
    cluster: &Cluster,
    states: &[String],
) -> Result<Vec<ShareGroupListing>, GroupError> {
    let md = cluster.fetch_metadata(Some(&[])).await?;
    let mut out: BTreeMap<String, ShareGroupListing> = BTreeMap::new();
    for id in md.brokers.keys() {
        let conn = cluster.broker(*id).await?;
        let v = conn.version(ApiKey::ListGroups)?;
        if v < 5 {
            return Err(GroupError::Unsupported(format!(
                "broker {id} answers ListGroups up to v{v}; listing share groups needs v5 (Kafka 4.0+)"
            )));
        }
        let resp = conn.send_version(&list_share_groups_request(states), v).await?;
        if resp.error_code.is_err() {
            return Err(GroupError::broker(
                format!("list share groups on broker {id}"),
                resp.error_code,
                None,
            ));
        }
        for g in resp.groups {
            if g.group_type.as_deref() != Some("share") {
                continue;
            }
            out.insert(
                g.group_id.clone(),
                ShareGroupListing { group_id: g.group_id, state: g.group_state, coordinator: *id },
            );
        }
    }
    Ok(out.into_values().collect())
}

/// Describes share group `group` (ShareGroupDescribe). A group that doesn't
/// exist, or isn't a share group, is `Dead` with no members.
pub async fn describe_share_group(
    cluster: &Cluster,
    group: &str,
) -> Result<ShareGroupDescription, GroupError> {
    let what = format!("describe share group '{group}'");
    with_coordinator(cluster, group, &what, |node, conn, _| {
        let what = what.clone();
        async move {
            let v = conn.version(ApiKey::ShareGroupDescribe)?;
            let resp = conn.send_version(&share_group_describe_request(&[group]), v).await?;
            let Some(g) = resp.groups.into_iter().find(|g| g.group_id == group) else {
                return Err(GroupError::Invalid(format!("{what}: the broker did not describe it")));
            };
            match g.error_code {
                ErrorCode::NONE => {}
                ErrorCode::GROUP_ID_NOT_FOUND => {
                    return Ok(Step::Done(ShareGroupDescription {
                        group_id: group.to_owned(),
                        state: "Dead".into(),
                        coordinator: node,
                        ..Default::default()
                    }));
                }
                code => return step_of(classify(code), || what.clone()),
            }
            let members = g
                .members
                .into_iter()
                .map(|m| {
                    let mut assignment: Vec<TopicPartition> = m
                        .assignment
                        .into_iter()
                        .flat_map(|(_, name, parts)| {
                            parts.into_iter().map(move |p| TopicPartition::new(name.clone(), p))
                        })
                        .collect();
                    assignment.sort();
                    ShareMemberDescription {
                        member_id: m.member_id,
                        client_id: m.client_id,
                        host: m.client_host,
                        rack: m.rack_id,
                        member_epoch: m.member_epoch,
                        subscriptions: m.subscribed_topic_names,
                        assignment,
                    }
                })
                .collect();
            Ok(Step::Done(ShareGroupDescription {
                group_id: g.group_id,
                state: g.group_state,
                group_epoch: g.group_epoch,
                assignment_epoch: g.assignment_epoch,
                assignor: g.assignor_name,
                coordinator: node,
                members,
            }))
        }
    })
    .await
}

/// `group`'s start offset of every partition it has share state for
/// (DescribeShareGroupOffsets), with each partition's log end offset.
pub async fn share_group_offsets(
    cluster: &Cluster,
    group: &str,
) -> Result<BTreeMap<TopicPartition, ShareOffset>, GroupError> {
    let what = format!("describe the offsets of share group '{group}'");
    let starts = with_coordinator(cluster, group, &what, |_, conn, _| {
        let what = what.clone();
        async move {
            let v = conn.version(ApiKey::DescribeShareGroupOffsets)?;
            let resp = conn.send_version(&describe_share_group_offsets_request(group, None), v).await?;
            let Some(g) = resp.groups.into_iter().find(|g| g.group_id == group) else {
                return Err(GroupError::Invalid(format!("{what}: the broker did not answer for it")));
            };
            match g.error_code {
                ErrorCode::NONE => {}
                ErrorCode::GROUP_ID_NOT_FOUND => return Err(GroupError::broker(what, g.error_code, g.error_message)),
                code => return step_of(classify(code), || what.clone()),
            }
            let mut out = BTreeMap::new();
            for t in g.topics {
                for p in t.partitions {
                    if p.error_code.is_err() {
                        tracing::warn!(topic = t.name, partition = p.partition, error = %p.error_code, "no share state");
                        continue;
                    }
                    out.insert(
                        TopicPartition::new(t.name.clone(), p.partition),
                        ((p.start_offset >= 0).then_some(p.start_offset), (p.leader_epoch >= 0).then_some(p.leader_epoch)),
                    );
                }
            }
            Ok(Step::Done(out))
        }
    })
    .await?;
    let parts: Vec<TopicPartition> = starts.keys().cloned().collect();
    let ends = crate::lag::log_end_offsets(cluster, &parts).await;
    Ok(starts
        .into_iter()
        .map(|(tp, (start_offset, leader_epoch))| {
            let log_end = ends.get(&tp).copied();
            (tp, ShareOffset { start_offset, leader_epoch, log_end })
        })
        .collect())
}

/// Plans a reset of `group`'s start offsets of `which` partitions; changes
/// nothing (see [`execute_share_reset`]). Refused while the group has active
/// members. [`PartitionSelection::CommittedTopics`] means every topic the
/// group has share state for. `current` in the plan is the start offset.
pub async fn plan_share_reset(
    cluster: &Cluster,
    group: &str,
    which: &PartitionSelection,
    strategy: ResetStrategy,
) -> Result<Vec<PlannedOffset>, GroupError> {
    let d = describe_share_group(cluster, group).await?;
    if !d.members.is_empty() {
        return Err(active_members(group, &d));
    }
    let offsets = if d.exists() { share_group_offsets(cluster, group).await? } else { BTreeMap::new() };
    let current: BTreeMap<TopicPartition, i64> =
        offsets.iter().filter_map(|(tp, o)| o.start_offset.map(|s| (tp.clone(), s))).collect();
    let parts = match which {
        PartitionSelection::CommittedTopics => {
            let topics: BTreeSet<&str> = offsets.keys().map(|tp| tp.topic.as_str()).collect();
            let sel: Vec<TopicSelection> = topics.into_iter().map(TopicSelection::all).collect();
            resolve_partitions(cluster, &sel).await?
        }
        PartitionSelection::Topics(sel) => resolve_partitions(cluster, sel).await?,
    };
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let strategy = resolve_time(strategy, now);
    let iso = IsolationLevel::ReadUncommitted;
    let mut logs = LogOffsets {
        start: offsets_of(cluster, &parts, OffsetSpec::Earliest, iso).await?,
        end: offsets_of(cluster, &parts, OffsetSpec::Latest, iso).await?,
        at_time: BTreeMap::new(),
    };
    if let ResetStrategy::Timestamp(ms) = strategy {
        logs.at_time = offsets_of(cluster, &parts, OffsetSpec::Timestamp(ms), iso).await?;
    }
    plan_offsets(group, &parts, strategy, &current, &logs)
}

async fn offsets_of(
    cluster: &Cluster,
    parts: &[TopicPartition],
    spec: OffsetSpec,
    iso: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, i64>, GroupError> {
    Ok(list_offsets(cluster, parts, spec, iso).await?.into_iter().map(|(tp, a)| (tp, a.offset)).collect())
}

fn active_members(group: &str, d: &ShareGroupDescription) -> GroupError {
    GroupError::Invalid(format!(
        "cannot reset the offsets of share group '{group}' while it has active members ({} member{}, state {}); \
         stop its consumers first",
        d.members.len(),
        if d.members.len() == 1 { "" } else { "s" },
        d.state
    ))
}

/// Applies a plan from [`plan_share_reset`] (AlterShareGroupOffsets). The
/// broker refuses (NON_EMPTY_GROUP) while the group has active members.
pub async fn execute_share_reset(
    cluster: &Cluster,
    group: &str,
    plan: &[PlannedOffset],
) -> Result<(), GroupError> {
    let what = format!("alter the start offsets of share group '{group}'");
    with_coordinator(cluster, group, &what, |_, conn, _| {
        let what = what.clone();
        async move {
            let v = conn.version(ApiKey::AlterShareGroupOffsets)?;
            let req = alter_share_group_offsets_request(
                group,
                plan.iter().map(|p| (p.tp.topic.as_str(), p.tp.partition, p.target)),
            );
            let resp = conn.send_version(&req, v).await?;
            match resp.error_code {
                ErrorCode::NONE => {}
                ErrorCode::NON_EMPTY_GROUP => {
                    return Err(GroupError::Invalid(format!(
                        "{what}: the group has active members; stop its consumers first"
                    )));
                }
                code if matches!(
                    classify(code),
                    crate::offsets::OffsetVerdict::Retry(_)
                        | crate::offsets::OffsetVerdict::RefindCoordinator(_)
                ) =>
                {
                    return step_of(classify(code), || what.clone());
                }
                code => return Err(GroupError::broker(what, code, resp.error_message)),
            }
            for t in &resp.topics {
                if let Some(p) = t.partitions.iter().find(|p| p.error_code.is_err()) {
                    return Err(GroupError::broker(
                        format!("{what} ({}-{})", t.name, p.partition),
                        p.error_code,
                        p.error_message.clone(),
                    ));
                }
            }
            Ok(Step::Done(()))
        }
    })
    .await
}

/// Deletes `group`'s share state of `topics` (DeleteShareGroupOffsets):
/// each topic's outcome.
pub async fn delete_share_group_offsets(
    cluster: &Cluster,
    group: &str,
    topics: &[String],
) -> Result<Vec<(String, ErrorCode, Option<String>)>, GroupError> {
    let what = format!("delete the offsets of share group '{group}'");
    with_coordinator(cluster, group, &what, |_, conn, _| {
        let what = what.clone();
        async move {
            let v = conn.version(ApiKey::DeleteShareGroupOffsets)?;
            let resp = conn.send_version(&delete_share_group_offsets_request(group, topics), v).await?;
            match resp.error_code {
                ErrorCode::NONE => {}
                c @ (ErrorCode::GROUP_ID_NOT_FOUND | ErrorCode::NON_EMPTY_GROUP) => {
                    return Err(GroupError::broker(what, c, resp.error_message));
                }
                code => return step_of(classify(code), || what.clone()),
            }
            Ok(Step::Done(resp.topics.into_iter().map(|t| (t.name, t.error_code, t.error_message)).collect()))
        }
    })
    .await
}

/// Deletes share group `group` (DeleteGroups); refused with NON_EMPTY_GROUP
/// while it has members.
pub async fn delete_share_group(cluster: &Cluster, group: &str) -> Result<(), GroupError> {
    crate::admin::delete_group(cluster, group).await
}
