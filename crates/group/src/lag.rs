//! A group's lag: per partition, the committed offset, the log end offset,
//! the difference, and the member that consumes it (what
//! `kafka-consumer-groups.sh --describe` shows).
//!
//! ```no_run
//! # async fn demo() -> Result<(), kwire_group::GroupError> {
//! use kwire_meta::{Cluster, ClusterConfig};
//! let cluster = Cluster::new(ClusterConfig::default());
//! let lag = kwire_group::group_lag(&cluster, "voters-app").await?;
//! for p in &lag.partitions {
//!     println!("{} lag {:?}", p.tp, p.lag());
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use kwire_fetch::{IsolationLevel, OffsetSpec, TopicPartition, list_offsets};
use kwire_meta::Cluster;

use crate::GroupError;
use crate::admin::{self, GroupDescription};

/// The member a partition is assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOwner {
    /// Member id.
    pub member_id: String,
    /// Host as the broker sees it (`/127.0.0.1`).
    pub host: String,
    /// Client id.
    pub client_id: String,
}

/// One partition of a group's lag report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// The partition.
    pub tp: TopicPartition,
    /// The group's committed offset, if any.
    pub current: Option<i64>,
    /// The log end offset, if its leader could be asked.
    pub log_end: Option<i64>,
    /// The member it is assigned to, if any.
    pub owner: Option<PartitionOwner>,
}

impl PartitionLag {
    /// Records between the committed offset and the log end (never negative);
    /// `None` when either is unknown.
    pub fn lag(&self) -> Option<i64> {
        lag(self.current, self.log_end)
    }
}

/// A group's description with its lag per partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLag {
    /// The group.
    pub description: GroupDescription,
    /// Every partition the group has a committed offset for or a member
    /// assigned to, sorted.
    pub partitions: Vec<PartitionLag>,
}

impl GroupLag {
    /// False for a group that doesn't exist: `Dead`, no members and no
    /// committed offsets.
    pub fn exists(&self) -> bool {
        !(self.description.state == "Dead" && self.partitions.iter().all(|p| p.current.is_none()))
    }
}

/// Describes `group` and computes its lag: committed offsets against log end
/// offsets, with each partition's owner. Partitions whose leader can't be
/// reached (or whose topic was deleted) have no log end offset.
pub async fn group_lag(cluster: &Cluster, group: &str) -> Result<GroupLag, GroupError> {
    let description = admin::describe_group(cluster, group).await?;
    let committed = admin::committed_offsets(cluster, group, None).await?;
    let owners = partition_owners(&description);
    let parts: BTreeSet<TopicPartition> = committed.keys().chain(owners.keys()).cloned().collect();
    let parts: Vec<TopicPartition> = parts.into_iter().collect();
    let ends = log_end_offsets(cluster, &parts).await;
    let partitions = lag_rows(&parts, &committed, &ends, &owners);
    Ok(GroupLag { description, partitions })
}

/// Log end offsets (read_uncommitted, as Kafka's tool); a topic whose
/// offsets can't be listed is left out (and logged), so one deleted topic
/// doesn't hide the others.
pub async fn log_end_offsets(cluster: &Cluster, parts: &[TopicPartition]) -> BTreeMap<TopicPartition, i64> {
    let mut out = BTreeMap::new();
    let mut by_topic: BTreeMap<&str, Vec<TopicPartition>> = BTreeMap::new();
    for tp in parts {
        by_topic.entry(tp.topic.as_str()).or_default().push(tp.clone());
    }
    for (topic, tps) in by_topic {
        match list_offsets(cluster, &tps, OffsetSpec::Latest, IsolationLevel::ReadUncommitted).await {
            Ok(m) => out.extend(m.into_iter().map(|(tp, a)| (tp, a.offset))),
            Err(e) => tracing::warn!(topic, error = %e, "no log end offsets"),
        }
    }
    out
}

/// Which member each assigned partition belongs to.
pub fn partition_owners(d: &GroupDescription) -> BTreeMap<TopicPartition, PartitionOwner> {
    let mut owners = BTreeMap::new();
    for m in &d.members {
        for tp in &m.assignment {
            owners.insert(
                tp.clone(),
                PartitionOwner {
                    member_id: m.member_id.clone(),
                    host: m.host.clone(),
                    client_id: m.client_id.clone(),
                },
            );
        }
    }
    owners
}

/// The lag rows of `parts` (pure), in their order.
pub fn lag_rows(
    parts: &[TopicPartition],
    committed: &BTreeMap<TopicPartition, i64>,
    ends: &BTreeMap<TopicPartition, i64>,
    owners: &BTreeMap<TopicPartition, PartitionOwner>,
) -> Vec<PartitionLag> {
    parts
        .iter()
        .map(|tp| PartitionLag {
            tp: tp.clone(),
            current: committed.get(tp).copied(),
            log_end: ends.get(tp).copied(),
            owner: owners.get(tp).cloned(),
        })
        .collect()
}

/// `end - current`, never negative (a committed offset past the end, after a
/// truncation, is no lag); `None` when either is unknown.
pub fn lag(current: Option<i64>, end: Option<i64>) -> Option<i64> {
    match (current, end) {
        (Some(c), Some(e)) => Some(e.saturating_sub(c).max(0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::MemberDescription;

    #[test]
    fn lag_is_never_negative_nor_overflows() {
        assert_eq!(lag(Some(3), Some(10)), Some(7));
        assert_eq!(lag(Some(12), Some(10)), Some(0));
        assert_eq!(lag(None, Some(10)), None);
        assert_eq!(lag(Some(1), None), None);
        assert_eq!(lag(Some(i64::MIN), Some(i64::MAX)), Some(i64::MAX));
    }

    #[test]
    fn rows_join_offsets_ends_and_owners() {
        let d = GroupDescription {
            group_id: "g".into(),
            state: "Stable".into(),
            members: vec![MemberDescription {
                member_id: "m1".into(),
                host: "/10.0.0.1".into(),
                client_id: "c1".into(),
                assignment: vec![TopicPartition::new("t", 1)],
                ..Default::default()
            }],
            ..Default::default()
        };
        let owners = partition_owners(&d);
        let parts = [TopicPartition::new("t", 0), TopicPartition::new("t", 1)];
        let committed = BTreeMap::from([(TopicPartition::new("t", 0), 4)]);
        let ends = BTreeMap::from([(TopicPartition::new("t", 0), 9), (TopicPartition::new("t", 1), 2)]);
        let rows = lag_rows(&parts, &committed, &ends, &owners);
        assert_eq!(rows.iter().map(PartitionLag::lag).collect::<Vec<_>>(), vec![Some(5), None]);
        assert_eq!(rows[0].owner, None);
        assert_eq!(rows[1].owner.as_ref().map(|o| o.member_id.as_str()), Some("m1"));
        assert_eq!(rows[1].log_end, Some(2));
        let lag = GroupLag { description: d.clone(), partitions: rows };
        assert!(lag.exists());
        let dead = GroupDescription { state: "Dead".into(), ..Default::default() };
        assert!(!GroupLag { description: dead.clone(), partitions: Vec::new() }.exists());
        let kept = lag_rows(&parts[..1], &committed, &ends, &BTreeMap::new());
        assert!(GroupLag { description: dead, partitions: kept }.exists(), "offsets only: it exists");
    }
}
