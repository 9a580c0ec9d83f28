//! Partition reassignment and leader elections (what
//! `kafka-reassign-partitions.sh` and `kafka-leader-election.sh` do):
//! AlterPartitionReassignments / ListPartitionReassignments / ElectLeaders,
//! sent to the controller as metadata reports it (in KRaft mode any broker
//! forwards them), the replication throttles the Java tool sets around a
//! move, and a deterministic proposal of new assignments (`--generate`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kwire_proto::TopicPartition;
use kwire_proto::api::ApiKey;
pub use kwire_proto::msg::reassign::{
    ELECTION_NOT_NEEDED, ElectionType, NO_REASSIGNMENT_IN_PROGRESS, OngoingReassignment,
};
use kwire_proto::msg::reassign::{
    alter_partition_reassignments_request, elect_leaders_request, list_partition_reassignments_request,
};

use crate::admin::{ConfigOp, ResourceType};
use crate::{Cluster, MetaError};

/// Broker configs a reassignment throttle sets (and `--verify` removes).
pub const BROKER_THROTTLES: [&str; 3] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];
/// Topic configs a reassignment throttle sets (and `--verify` removes).
pub const TOPIC_THROTTLES: [&str; 2] =
    ["leader.replication.throttled.replicas", "follower.replication.throttled.replicas"];

/// Per-partition outcome of an admin call.
pub type PartitionResults = BTreeMap<TopicPartition, Result<(), MetaError>>;

fn timeout_ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn pairs(parts: &[TopicPartition]) -> Vec<(String, i32)> {
    parts.iter().map(|tp| (tp.topic.clone(), tp.partition)).collect()
}

/// One partition's move: the replicas it has now (`sources`) and those
/// that will copy it (`destinations`), as the Java tool computes them for
/// its throttles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionMove {
    /// Replicas that hold the data now.
    pub sources: BTreeSet<i32>,
    /// Replicas that will fetch it.
    pub destinations: BTreeSet<i32>,
}

/// The throttle configs for a set of moves: per topic,
/// `leader.replication.throttled.replicas` (`p:source` for each source) and
/// `follower.replication.throttled.replicas` (`p:dest` for each new
/// replica), and the brokers involved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Throttles {
    /// Topic -> leader throttled replicas.
    pub leader: BTreeMap<String, String>,
    /// Topic -> follower throttled replicas.
    pub follower: BTreeMap<String, String>,
    /// Every broker a move touches.
    pub brokers: BTreeSet<i32>,
}

/// Computes the throttle configs of `moves`, as kafka-reassign-partitions.sh does.
pub fn throttles(moves: &BTreeMap<TopicPartition, PartitionMove>) -> Throttles {
    let mut leader: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut follower: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut brokers = BTreeSet::new();
    for (tp, m) in moves {
        let l = leader.entry(tp.topic.clone()).or_default();
        for s in &m.sources {
            l.insert(format!("{}:{s}", tp.partition));
        }
        let f = follower.entry(tp.topic.clone()).or_default();
        for d in m.destinations.difference(&m.sources) {
            f.insert(format!("{}:{d}", tp.partition));
        }
        brokers.extend(&m.sources);
        brokers.extend(&m.destinations);
    }
    let join = |m: BTreeMap<String, BTreeSet<String>>| {
        m.into_iter().map(|(t, s)| (t, s.into_iter().collect::<Vec<_>>().join(","))).collect()
    };
    Throttles { leader: join(leader), follower: join(follower), brokers }
}

/// The moves of `proposed` given the current replicas (`current`) and the
/// reassignments already running (their sources are the replicas not
/// being added), as the Java tool computes them.
pub fn proposed_moves(
    ongoing: &[OngoingReassignment],
    proposed: &BTreeMap<TopicPartition, Vec<i32>>,
    current: &BTreeMap<TopicPartition, Vec<i32>>,
) -> BTreeMap<TopicPartition, PartitionMove> {
    let mut out = BTreeMap::new();
    for r in ongoing {
        let sources: BTreeSet<i32> = r.replicas.iter().filter(|b| !r.adding.contains(b)).copied().collect();
        let destinations = r.adding.iter().copied().collect();
        out.insert(
            TopicPartition::new(r.topic.clone(), r.partition),
            PartitionMove { sources, destinations },
        );
    }
    for (tp, replicas) in proposed {
        let sources: BTreeSet<i32> = match out.get(tp) {
            Some(m) => m.sources.clone(),
            None => current.get(tp).map(|c| c.iter().copied().collect()).unwrap_or_default(),
        };
        let destinations = replicas.iter().filter(|b| !sources.contains(b)).copied().collect();
        out.insert(tp.clone(), PartitionMove { sources, destinations });
    }
    out
}

/// A broker for [`propose_assignment`]: id and rack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRack {
    /// Broker id.
    pub id: i32,
    /// Rack (`None`: no rack).
    pub rack: Option<String>,
}

/// Proposes new replicas for a topic's `partitions` partitions with
/// `replication_factor` replicas each over `brokers` (deterministic:
/// Kafka's round-robin with start index 0 and shift 0, where Java picks
/// both at random). With racks, brokers are interleaved rack by rack first
/// and each partition's replicas take the next brokers of racks it does
/// not have yet, as Kafka's rack-aware assignment does.
pub fn propose_assignment(
    brokers: &[BrokerRack],
    partitions: i32,
    replication_factor: usize,
) -> Result<Vec<Vec<i32>>, MetaError> {
    let n = brokers.len();
    if replication_factor == 0 {
        return Err(MetaError::Invalid("replication factor must be larger than 0".into()));
    }
    if replication_factor > n {
        return Err(MetaError::Invalid(format!(
            "replication factor {replication_factor} is larger than the {n} available broker(s)"
        )));
    }
    let mut sorted = brokers.to_vec();
    sorted.sort_by_key(|b| b.id);
    let racked = sorted.iter().filter(|b| b.rack.is_some()).count();
    let list: Vec<BrokerRack> = if racked == n && n > 0 {
        // Interleave racks: a1, b1, c1, a2, b2, ...
        let mut by_rack: BTreeMap<String, Vec<BrokerRack>> = BTreeMap::new();
        for b in &sorted {
            by_rack.entry(b.rack.clone().unwrap_or_default()).or_default().push(b.clone());
        }
        let mut out = Vec::with_capacity(n);
        let mut i = 0;
        while out.len() < n {
            for v in by_rack.values() {
                if let Some(b) = v.get(i) {
                    out.push(b.clone());
                }
            }
            i += 1;
        }
        out
    } else {
        sorted
    };
    let racks: BTreeSet<Option<String>> = list.iter().map(|b| b.rack.clone()).collect();
    let mut out = Vec::new();
    let mut shift = 0usize;
    for p in 0..usize::try_from(partitions.max(0)).unwrap_or(0) {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = p % n;
        let mut replicas = vec![list[first].id];
        if racked == n && racks.len() > 1 {
            // Rack-aware: walk on from the first, preferring racks not used yet.
            let mut used_racks = BTreeSet::from([list[first].rack.clone()]);
            let mut k = 0;
            while replicas.len() < replication_factor && k < 2 * n {
                let b = &list[(first + 1 + shift + k) % n];
                k += 1;
                if replicas.contains(&b.id) {
                    continue;
                }
                if used_racks.contains(&b.rack) && used_racks.len() < racks.len() {
                    continue;
                }
                used_racks.insert(b.rack.clone());
                replicas.push(b.id);
            }
        } else {
            for j in 0..replication_factor - 1 {
                let idx = (first + 1 + (shift + j) % (n - 1)) % n;
                replicas.push(list[idx].id);
            }
        }
        out.push(replicas);
    }
    Ok(out)
}

impl Cluster {
    /// Starts (`Some(replicas)`) or cancels (`None`) reassignments, per
    /// partition (AlterPartitionReassignments at the controller). A broker id
    /// or topic the cluster does not have comes back in its partition's slot.
    pub async fn alter_partition_reassignments(
        &self,
        targets: &[(TopicPartition, Option<Vec<i32>>)],
    ) -> Result<PartitionResults, MetaError> {
        let req = alter_partition_reassignments_request(
            timeout_ms(self.config().conn.request_timeout),
            targets.iter().map(|(tp, r)| (tp.topic.clone(), tp.partition, r.clone())),
        );
        let conn = self.controller().await?;
        let v = conn.version(ApiKey::AlterPartitionReassignments)?;
        let resp = conn.send_version(&req, v).await?;
        for (tp, _) in targets {
            self.invalidate_topic(&tp.topic);
        }
        if resp.error_code.is_err() {
            return Err(MetaError::Broker {
                context: "cannot alter partition reassignments".into(),
                code: resp.error_code,
                message: resp.error_message,
            });
        }
        let mut out = BTreeMap::new();
        for p in resp.partitions {
            let tp = TopicPartition::new(p.topic, p.partition);
            let r = if p.error_code.is_err() {
                Err(MetaError::Broker {
                    context: format!("cannot reassign {tp}"),
                    code: p.error_code,
                    message: p.error_message,
                })
            } else {
                Ok(())
            };
            out.insert(tp, r);
        }
        for (tp, _) in targets {
            out.entry(tp.clone()).or_insert_with(|| {
                Err(MetaError::Invalid(format!("the controller did not answer for {tp}")))
            });
        }
        Ok(out)
    }

    /// The reassignments in progress (of `parts`, or all of them).
    pub async fn list_partition_reassignments(
        &self,
        parts: Option<&[TopicPartition]>,
    ) -> Result<Vec<OngoingReassignment>, MetaError> {
        let sel = parts.map(pairs);
        let req = list_partition_reassignments_request(
            timeout_ms(self.config().conn.request_timeout),
            sel.as_deref(),
        );
        let conn = self.controller().await?;
        let v = conn.version(ApiKey::ListPartitionReassignments)?;
        let resp = conn.send_version(&req, v).await?;
        if resp.error_code.is_err() {
            return Err(MetaError::Broker {
                context: "cannot list partition reassignments".into(),
                code: resp.error_code,
                message: resp.error_message,
            });
        }
        let mut r = resp.reassignments;
        r.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(r)
    }

    /// Runs a leader election on `parts` (`None`: every partition).
    /// ELECTION_NOT_NEEDED comes back as that partition's error
    /// ([`ELECTION_NOT_NEEDED`]); callers treat it as a no-op or not.
    pub async fn elect_leaders(
        &self,
        election: ElectionType,
        parts: Option<&[TopicPartition]>,
    ) -> Result<PartitionResults, MetaError> {
        let sel = parts.map(pairs);
        let req =
            elect_leaders_request(election, sel.as_deref(), timeout_ms(self.config().conn.request_timeout));
        let conn = self.controller().await?;
        let v = conn.version(ApiKey::ElectLeaders)?;
        let resp = conn.send_version(&req, v).await?;
        if resp.error_code.is_err() {
            return Err(MetaError::Broker {
                context: "cannot elect leaders".into(),
                code: resp.error_code,
                message: None,
            });
        }
        let mut out = BTreeMap::new();
        for p in resp.partitions {
            let tp = TopicPartition::new(p.topic, p.partition);
            self.invalidate_topic(&tp.topic);
            let r = if p.error_code.is_err() {
                Err(MetaError::Broker {
                    context: format!("cannot elect a leader for {tp}"),
                    code: p.error_code,
                    message: p.error_message,
                })
            } else {
                Ok(())
            };
            out.insert(tp, r);
        }
        Ok(out)
    }

    /// Sets the inter-broker replication throttle for `moves`: the topic
    /// throttled-replica lists and `rate` bytes/s on every broker involved.
    pub async fn set_reassignment_throttle(&self, t: &Throttles, rate: u64) -> Result<(), MetaError> {
        let topics: BTreeSet<&String> = t.leader.keys().chain(t.follower.keys()).collect();
        for topic in topics {
            let mut ops = Vec::new();
            if let Some(v) = t.leader.get(topic) {
                ops.push(ConfigOp::Set(TOPIC_THROTTLES[0].into(), v.clone()));
            }
            if let Some(v) = t.follower.get(topic) {
                ops.push(ConfigOp::Set(TOPIC_THROTTLES[1].into(), v.clone()));
            }
            self.alter_configs(ResourceType::Topic, topic, &ops, false).await?;
        }
        for b in &t.brokers {
            let ops = [
                ConfigOp::Set(BROKER_THROTTLES[0].into(), rate.to_string()),
                ConfigOp::Set(BROKER_THROTTLES[1].into(), rate.to_string()),
            ];
            self.alter_configs(ResourceType::Broker, &b.to_string(), &ops, false).await?;
        }
        Ok(())
    }

    /// Sets the log-dir move throttle on `brokers`.
    pub async fn set_log_dir_throttle(&self, brokers: &BTreeSet<i32>, rate: u64) -> Result<(), MetaError> {
        for b in brokers {
            let ops = [ConfigOp::Set(BROKER_THROTTLES[2].into(), rate.to_string())];
            self.alter_configs(ResourceType::Broker, &b.to_string(), &ops, false).await?;
        }
        Ok(())
    }

    /// Removes every reassignment throttle from `brokers` and `topics`.
    pub async fn clear_reassignment_throttles(
        &self,
        brokers: &BTreeSet<i32>,
        topics: &BTreeSet<String>,
    ) -> Result<(), MetaError> {
        for b in brokers {
            let ops: Vec<ConfigOp> = BROKER_THROTTLES.iter().map(|k| ConfigOp::Delete((*k).into())).collect();
            self.alter_configs(ResourceType::Broker, &b.to_string(), &ops, false).await?;
        }
        for t in topics {
            let ops: Vec<ConfigOp> = TOPIC_THROTTLES.iter().map(|k| ConfigOp::Delete((*k).into())).collect();
            self.alter_configs(ResourceType::Topic, t, &ops, false).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn br(id: i32, rack: Option<&str>) -> BrokerRack {
        BrokerRack { id, rack: rack.map(str::to_owned) }
    }

    #[test]
    fn round_robin_is_deterministic_and_spread() {
        let b = [br(3, None), br(1, None), br(2, None)];
        let a = propose_assignment(&b, 4, 2).unwrap();
        assert_eq!(a, vec![vec![1, 2], vec![2, 3], vec![3, 1], vec![1, 3]]);
        assert_eq!(propose_assignment(&b, 3, 1).unwrap(), vec![vec![1], vec![2], vec![3]]);
        assert!(propose_assignment(&b, 1, 4).unwrap_err().to_string().contains("larger than the 3"));
        for r in propose_assignment(&b, 9, 3).unwrap() {
            let set: BTreeSet<i32> = r.iter().copied().collect();
            assert_eq!(set.len(), 3, "{r:?}");
        }
    }

    #[test]
    fn rack_aware_puts_replicas_on_different_racks() {
        let b = [br(1, Some("a")), br(2, Some("a")), br(3, Some("b")), br(4, Some("b"))];
        let rack = |id: i32| if id <= 2 { "a" } else { "b" };
        for r in propose_assignment(&b, 8, 2).unwrap() {
            assert_ne!(rack(r[0]), rack(r[1]), "{r:?}");
        }
    }

    #[test]
    fn throttles_like_the_java_tool() {
        let tp = TopicPartition::new("t", 0);
        let proposed = BTreeMap::from([(tp.clone(), vec![2, 3])]);
        let current = BTreeMap::from([(tp.clone(), vec![1, 2])]);
        let moves = proposed_moves(&[], &proposed, &current);
        let t = throttles(&moves);
        assert_eq!(t.leader["t"], "0:1,0:2");
        assert_eq!(t.follower["t"], "0:3");
        assert_eq!(t.brokers, BTreeSet::from([1, 2, 3]));
        // A running reassignment's sources are its replicas minus those being added.
        let ongoing = [OngoingReassignment {
            topic: "t".into(),
            partition: 0,
            replicas: vec![1, 2, 4],
            adding: vec![4],
            removing: vec![1],
        }];
        let moves = proposed_moves(&ongoing, &proposed, &current);
        assert_eq!(moves[&tp].sources, BTreeSet::from([1, 2]));
        assert_eq!(moves[&tp].destinations, BTreeSet::from([3]));
    }
}
