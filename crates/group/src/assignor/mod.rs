//! Client-side partition assignors of the classic protocol: `range`,
//! `roundrobin`, `sticky` and `cooperative-sticky`, with Kafka's names and
//! its Java client's algorithms (so a group mixing kwire and Java members
//! converges on the same answers whoever leads).

mod range;
mod roundrobin;
mod sticky;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use kwire_fetch::TopicPartition;

/// One member's subscription as the group leader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberSubscription {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Partitions the member owns now (cooperative rebalancing, sticky assignors).
    pub owned: Vec<TopicPartition>,
    /// Generation of the owned partitions (-1 if unknown).
    pub generation: i32,
    /// The subscription's user data (what a [`CustomAssignor`] put there).
    pub user_data: Option<Bytes>,
}

/// The assignment computed by the leader: member id → partitions (sorted).
pub type GroupAssignment = BTreeMap<String, Vec<TopicPartition>>;

/// A partition assignor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignorKind {
    /// `range`: per topic, consecutive ranges of partitions (Java's RangeAssignor).
    Range,
    /// `roundrobin`: all partitions dealt out in turn (Java's RoundRobinAssignor).
    RoundRobin,
    /// `sticky`: balanced, keeping owned partitions where possible; eager rebalancing.
    Sticky,
    /// `cooperative-sticky`: like `sticky`, but incremental: a partition that
    /// moves is first only revoked from its owner, and assigned to its new
    /// owner in a follow-up rebalance (Java's CooperativeStickyAssignor).
    CooperativeSticky,
}

impl AssignorKind {
    /// The protocol name used in JoinGroup (Kafka's).
    pub fn name(self) -> &'static str {
        match self {
            AssignorKind::Range => "range",
            AssignorKind::RoundRobin => "roundrobin",
            AssignorKind::Sticky => "sticky",
            AssignorKind::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The assignor named `name` (a protocol name).
    pub fn from_name(name: &str) -> Option<Self> {
        [AssignorKind::Range, AssignorKind::RoundRobin, AssignorKind::Sticky, AssignorKind::CooperativeSticky]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// Whether the assignor supports the cooperative rebalance protocol.
    pub fn cooperative(self) -> bool {
        self == AssignorKind::CooperativeSticky
    }

    /// Parses one name: Kafka's protocol names (`range`, `roundrobin`,
    /// `sticky`, `cooperative-sticky`) or the Java class names
    /// (`org.apache.kafka.clients.consumer.RangeAssignor`, ...).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let short = s.rsplit('.').next().unwrap_or(s);
        match short.to_ascii_lowercase().as_str() {
            "range" | "rangeassignor" => Ok(AssignorKind::Range),
            "roundrobin" | "round-robin" | "roundrobinassignor" => Ok(AssignorKind::RoundRobin),
            "sticky" | "stickyassignor" => Ok(AssignorKind::Sticky),
            "cooperative-sticky" | "cooperativestickyassignor" => Ok(AssignorKind::CooperativeSticky),
            _ => Err(format!(
                "unknown assignor '{s}': expected range, roundrobin, sticky or cooperative-sticky \
                 (or Kafka's class names)"
            )),
        }
    }

    /// Parses a comma-separated list, in preference order.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let k = AssignorKind::parse(part)?;
            if !out.contains(&k) {
                out.push(k);
            }
        }
        if out.is_empty() {
            return Err("expected at least one assignor".to_owned());
        }
        Ok(out)
    }

    /// Computes an assignment of the partitions of `topics` (name → partition
    /// count) to `members`. Every member appears in the result, possibly with
    /// no partitions; topics nobody subscribes to, or that don't exist, are left out.
    pub fn assign(self, members: &[MemberSubscription], topics: &BTreeMap<String, i32>) -> GroupAssignment {
        let mut out: GroupAssignment = members.iter().map(|m| (m.member_id.clone(), Vec::new())).collect();
        let assigned = match self {
            AssignorKind::Range => range::assign(members, topics),
            AssignorKind::RoundRobin => roundrobin::assign(members, topics),
            AssignorKind::Sticky => sticky::assign(members, topics, false),
            AssignorKind::CooperativeSticky => sticky::assign(members, topics, true),
        };
        for (m, mut parts) in assigned {
            parts.sort();
            out.insert(m, parts);
        }
        out
    }
}

/// One member's share of a [`CustomAssignor`]'s assignment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberAssignment {
    /// The member's partitions.
    pub partitions: Vec<TopicPartition>,
    /// User data delivered with them (the member's
    /// [`CustomAssignor::on_assignment`] receives it).
    pub user_data: Option<Bytes>,
}

/// An application's own assignor for the classic protocol, as Java's
/// `ConsumerPartitionAssignor` is: it runs on the member the coordinator
/// makes leader, sees every member's subscription user data, and may send
/// each member user data with its partitions (Kafka Streams carries its
/// standby tasks this way). Rebalancing with it is eager.
///
/// The methods run inside the group's state machine: they must not block.
pub trait CustomAssignor: Send + Sync + fmt::Debug {
    /// The protocol name offered in JoinGroup (every member of the group
    /// must offer it for the group to choose it).
    fn name(&self) -> &str;

    /// User data for this member's subscription, asked at every join.
    fn subscription_user_data(&self) -> Option<Bytes> {
        None
    }

    /// The leader's assignment of the partitions of `topics` (name →
    /// partition count, the subscribed topics that exist) to `members`. A
    /// member left out gets nothing.
    fn assign(
        &self,
        members: &[MemberSubscription],
        topics: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, MemberAssignment>;

    /// This member's assignment arrived (before its `Assigned` event), with
    /// the user data the leader sent.
    fn on_assignment(&self, user_data: Option<&[u8]>) {
        let _ = user_data;
    }
}

/// A shared [`CustomAssignor`] in a [`GroupConfig`](crate::GroupConfig)
/// (equal when it is the same object).
#[derive(Clone)]
pub struct CustomAssignorRef(pub Arc<dyn CustomAssignor>);

impl CustomAssignorRef {
    /// Wrap an assignor.
    pub fn new(a: impl CustomAssignor + 'static) -> Self {
        CustomAssignorRef(Arc::new(a))
    }
}

impl fmt::Debug for CustomAssignorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for CustomAssignorRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }
}

impl Eq for CustomAssignorRef {}

/// Members in Kafka's order: static members by instance id first, then
/// dynamic members by member id.
pub(crate) fn sorted_members(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut v: Vec<&MemberSubscription> = members.iter().collect();
    v.sort_by(|a, b| {
        (a.instance_id.is_none(), a.instance_id.as_deref().unwrap_or(&a.member_id), &a.member_id).cmp(&(
            b.instance_id.is_none(),
            b.instance_id.as_deref().unwrap_or(&b.member_id),
            &b.member_id,
        ))
    });
    v
}

/// Partition count of `topic` (0 if unknown or negative).
pub(crate) fn partition_count(topics: &BTreeMap<String, i32>, topic: &str) -> i32 {
    topics.get(topic).copied().unwrap_or(0).max(0)
}

#[cfg(test)]
mod tests;
