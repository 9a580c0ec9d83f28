//! Resetting a group's committed offsets, as `kafka-consumer-groups.sh
//! --reset-offsets` does: pick the partitions ([`PartitionSelection`]), plan
//! where each goes ([`plan_reset`], no change made), then apply the plan
//! ([`execute_reset`]).
//!
//! Targets are clamped to each partition's log (start to end), so a plan never
//! points before the first record or past the last one. The planning itself
//! ([`plan_offsets`]) is pure: it takes the committed offsets and the listed
//! log offsets, and is unit-tested without a broker.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kwire_group::GroupError> {
//! use kwire_group::{PartitionSelection, ResetStrategy, TopicSelection, execute_reset, plan_reset};
//! use kwire_meta::{Cluster, ClusterConfig};
//!
//! let cluster = Cluster::new(ClusterConfig::default());
//! let which = PartitionSelection::Topics(vec![TopicSelection::all("voters")]);
//! let plan = plan_reset(&cluster, "voters-app", &which, ResetStrategy::ShiftBy(-10)).await?;
//! for p in &plan {
//!     println!("{}: {:?} -> {}", p.tp, p.current, p.target);
//! }
//! execute_reset(&cluster, "voters-app", &plan).await
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kwire_fetch::{IsolationLevel, OffsetSpec, TopicPartition, list_offsets};
use kwire_meta::Cluster;
use kwire_proto::ErrorCode;

use crate::GroupError;
use crate::admin;

/// Where [`plan_reset`] moves each partition's committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetStrategy {
    /// The log start offset.
    Earliest,
    /// The log end offset.
    Latest,
    /// This offset (`>= 0`), clamped to the log's range.
    Offset(i64),
    /// The committed offset moved by this many (negative: back), clamped to
    /// the log's range. Every partition must have a committed offset.
    ShiftBy(i64),
    /// The first offset whose timestamp is at or after this time (ms since
    /// the epoch); the log end where there is none.
    Timestamp(i64),
    /// [`ResetStrategy::Timestamp`] of this long before now.
    ByDuration(Duration),
    /// The committed offset (clamped to the log's range); the log end for a
    /// partition without one.
    Current,
}

/// One topic to reset: all its partitions or some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSelection {
    /// Topic name.
    pub topic: String,
    /// These partitions (sorted, without duplicates, is best), or `None` for all.
    pub partitions: Option<Vec<i32>>,
}

impl TopicSelection {
    /// Every partition of `topic`.
    pub fn all(topic: impl Into<String>) -> TopicSelection {
        TopicSelection { topic: topic.into(), partitions: None }
    }
}

/// Which partitions [`plan_reset`] covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionSelection {
    /// Every partition of every topic the group has a committed offset in
    /// (no partition when it has none).
    CommittedTopics,
    /// These topics.
    Topics(Vec<TopicSelection>),
}

/// Where one partition's committed offset goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOffset {
    /// The partition.
    pub tp: TopicPartition,
    /// The committed offset now, if there is one.
    pub current: Option<i64>,
    /// The new committed offset.
    pub target: i64,
    /// What the strategy asked for, when it was outside the log and
    /// `target` is the nearest end of the log instead.
    pub clamped_from: Option<i64>,
}

/// The log offsets a plan is made from: start and end offset per partition,
/// and, for time-based strategies, the offset found for the time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOffsets {
    /// Log start offsets.
    pub start: BTreeMap<TopicPartition, i64>,
    /// Log end offsets.
    pub end: BTreeMap<TopicPartition, i64>,
    /// Offsets found by timestamp (only for [`ResetStrategy::Timestamp`] and
    /// [`ResetStrategy::ByDuration`]).
    pub at_time: BTreeMap<TopicPartition, i64>,
}

/// The partitions of `topics`, checked against the cluster's metadata: every
/// topic must exist, every named partition too. Sorted, without duplicates.
pub async fn resolve_partitions(
    cluster: &Cluster,
    topics: &[TopicSelection],
) -> Result<Vec<TopicPartition>, GroupError> {
    let mut out = BTreeSet::new();
    for sel in topics {
        let topic = &sel.topic;
        let info = cluster.topic(topic).await.map_err(|e| match e.code() {
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => {
                GroupError::Invalid(format!("topic '{topic}' does not exist"))
            }
            _ => e.into(),
        })?;
        let all: Vec<i32> = info.partitions.iter().map(|p| p.partition).collect();
        match &sel.partitions {
            None => out.extend(all.iter().map(|p| TopicPartition::new(topic.clone(), *p))),
            Some(ps) => {
                for p in ps {
                    if !all.contains(p) {
                        return Err(GroupError::Invalid(format!(
                            "partition {p} does not exist (topic '{topic}' has {} partitions)",
                            all.len()
                        )));
                    }
                    out.insert(TopicPartition::new(topic.clone(), *p));
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Plans a reset of `group`'s committed offsets of `which` partitions; changes
/// nothing (see [`execute_reset`]). The group must have no active members
/// (the coordinator would refuse the commit anyway). The plan is sorted by
/// partition; it is empty for [`PartitionSelection::CommittedTopics`] when
/// the group has no committed offsets.
pub async fn plan_reset(
    cluster: &Cluster,
    group: &str,
    which: &PartitionSelection,
    strategy: ResetStrategy,
) -> Result<Vec<PlannedOffset>, GroupError> {
    check_strategy(strategy)?;
    let d = admin::describe_group(cluster, group).await?;
    if !d.members.is_empty() {
        return Err(GroupError::Invalid(format!(
            "cannot reset the offsets of group '{group}' while it has active members ({} member{}, state {}); \
             stop its consumers first",
            d.members.len(),
            if d.members.len() == 1 { "" } else { "s" },
            d.state
        )));
    }
    let committed = admin::committed_offsets(cluster, group, None).await?;
    let parts = match which {
        PartitionSelection::CommittedTopics => {
            let topics: BTreeSet<&str> = committed.keys().map(|tp| tp.topic.as_str()).collect();
            let sel: Vec<TopicSelection> = topics.into_iter().map(TopicSelection::all).collect();
            resolve_partitions(cluster, &sel).await?
        }
        PartitionSelection::Topics(sel) => resolve_partitions(cluster, sel).await?,
    };
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let strategy = resolve_time(strategy, now_ms());
    let iso = IsolationLevel::ReadUncommitted;
    let mut logs = LogOffsets {
        start: offsets_of(cluster, &parts, OffsetSpec::Earliest, iso).await?,
        end: offsets_of(cluster, &parts, OffsetSpec::Latest, iso).await?,
        at_time: BTreeMap::new(),
    };
    if let ResetStrategy::Timestamp(ms) = strategy {
        logs.at_time = offsets_of(cluster, &parts, OffsetSpec::Timestamp(ms), iso).await?;
    }
    plan_offsets(group, &parts, strategy, &committed, &logs)
}

/// Applies a plan from [`plan_reset`]: commits its targets for `group` (an
/// admin commit; the coordinator refuses while the group has active members).
pub async fn execute_reset(cluster: &Cluster, group: &str, plan: &[PlannedOffset]) -> Result<(), GroupError> {
    let offsets: BTreeMap<TopicPartition, i64> = plan.iter().map(|p| (p.tp.clone(), p.target)).collect();
    admin::alter_offsets(cluster, group, &offsets).await
}

/// The plan for `parts`, from the committed offsets and the log offsets
/// (pure). [`ResetStrategy::ByDuration`] must have been turned into a
/// timestamp ([`resolve_time`]) and its offsets listed into
/// `logs.at_time`; partitions without an offset there are left out.
pub fn plan_offsets(
    group: &str,
    parts: &[TopicPartition],
    strategy: ResetStrategy,
    committed: &BTreeMap<TopicPartition, i64>,
    logs: &LogOffsets,
) -> Result<Vec<PlannedOffset>, GroupError> {
    check_strategy(strategy)?;
    let mut plan = Vec::with_capacity(parts.len());
    for tp in parts {
        let current = committed.get(tp).copied();
        let start = logs.start.get(tp).copied();
        let end = logs.end.get(tp).copied();
        let clamped = |requested: i64| {
            let target = clamp_to_log(requested, start, end);
            (target, (target != requested).then_some(requested))
        };
        let (target, clamped_from) = match strategy {
            ResetStrategy::Earliest => (start.unwrap_or(0), None),
            ResetStrategy::Latest => (end.unwrap_or(0), None),
            ResetStrategy::Offset(n) => clamped(n),
            ResetStrategy::ShiftBy(n) => {
                let Some(c) = current else {
                    return Err(GroupError::Invalid(format!(
                        "cannot shift the offset of {tp}: group '{group}' has no committed offset for it"
                    )));
                };
                clamped(shift(c, n))
            }
            ResetStrategy::Current => match current {
                Some(c) => clamped(c),
                None => (end.unwrap_or(0), None),
            },
            ResetStrategy::Timestamp(_) => match logs.at_time.get(tp) {
                Some(o) => (*o, None),
                None => continue,
            },
            ResetStrategy::ByDuration(_) => {
                return Err(GroupError::Invalid(
                    "internal: plan_offsets needs the duration resolved to a timestamp".into(),
                ));
            }
        };
        plan.push(PlannedOffset { tp: tp.clone(), current, target, clamped_from });
    }
    plan.sort_by(|a, b| a.tp.cmp(&b.tp));
    Ok(plan)
}

/// `offset` clamped to the log `start..=end` (a missing start is 0; a
/// missing end leaves the top open; an end below the start counts as the start).
pub fn clamp_to_log(offset: i64, start: Option<i64>, end: Option<i64>) -> i64 {
    let lo = start.unwrap_or(0);
    let hi = end.unwrap_or(offset).max(lo);
    offset.clamp(lo, hi)
}

/// `committed + by`, saturating at the ends of `i64` (the result is clamped
/// to the log anyway, so an overflow means "as far as the log goes").
pub fn shift(committed: i64, by: i64) -> i64 {
    committed.checked_add(by).unwrap_or(if by < 0 { i64::MIN } else { i64::MAX })
}

/// [`ResetStrategy::ByDuration`] as the [`ResetStrategy::Timestamp`] that
/// long before `now_ms` (never before the epoch); other strategies unchanged.
pub fn resolve_time(strategy: ResetStrategy, now_ms: i64) -> ResetStrategy {
    match strategy {
        ResetStrategy::ByDuration(d) => {
            let back = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            ResetStrategy::Timestamp(now_ms.saturating_sub(back).max(0))
        }
        s => s,
    }
}

fn check_strategy(strategy: ResetStrategy) -> Result<(), GroupError> {
    match strategy {
        ResetStrategy::Offset(n) if n < 0 => {
            Err(GroupError::Invalid(format!("the reset offset must be non-negative, got {n}")))
        }
        _ => Ok(()),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|n| i64::try_from(n.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn offsets_of(
    cluster: &Cluster,
    parts: &[TopicPartition],
    spec: OffsetSpec,
    iso: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, i64>, GroupError> {
    Ok(list_offsets(cluster, parts, spec, iso).await?.into_iter().map(|(tp, a)| (tp, a.offset)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    /// Partitions 0..3 with logs 10..20, 0..0 (empty), 5..50; committed 15 on 0, 3 on 2.
    fn setup() -> (Vec<TopicPartition>, BTreeMap<TopicPartition, i64>, LogOffsets) {
        let parts = vec![tp(2), tp(0), tp(1)];
        let committed = BTreeMap::from([(tp(0), 15), (tp(2), 3)]);
        let logs = LogOffsets {
            start: BTreeMap::from([(tp(0), 10), (tp(1), 0), (tp(2), 5)]),
            end: BTreeMap::from([(tp(0), 20), (tp(1), 0), (tp(2), 50)]),
            at_time: BTreeMap::from([(tp(0), 12), (tp(2), 50)]),
        };
        (parts, committed, logs)
    }

    fn targets(plan: &[PlannedOffset]) -> Vec<(i32, i64, Option<i64>)> {
        plan.iter().map(|p| (p.tp.partition, p.target, p.clamped_from)).collect()
    }

    #[test]
    fn clamping_keeps_offsets_inside_the_log() {
        assert_eq!(clamp_to_log(5, Some(10), Some(20)), 10);
        assert_eq!(clamp_to_log(25, Some(10), Some(20)), 20);
        assert_eq!(clamp_to_log(15, Some(10), Some(20)), 15);
        // Unknown start: 0; unknown end: no upper bound.
        assert_eq!(clamp_to_log(-3, None, None), 0);
        assert_eq!(clamp_to_log(99, None, None), 99);
        // An end below the start (a racing truncation) counts as the start.
        assert_eq!(clamp_to_log(7, Some(10), Some(4)), 10);
    }

    #[test]
    fn shifting_saturates_instead_of_overflowing() {
        assert_eq!(shift(10, -3), 7);
        assert_eq!(shift(10, 5), 15);
        assert_eq!(shift(i64::MAX - 1, 5), i64::MAX);
        assert_eq!(shift(-5, i64::MIN), i64::MIN);
        assert_eq!(clamp_to_log(shift(3, i64::MIN), Some(2), Some(9)), 2);
        assert_eq!(clamp_to_log(shift(3, i64::MAX), Some(2), Some(9)), 9);
    }

    #[test]
    fn durations_resolve_to_timestamps_before_now() {
        let d = ResetStrategy::ByDuration(Duration::from_secs(60));
        assert_eq!(resolve_time(d, 100_000), ResetStrategy::Timestamp(40_000));
        // Never before the epoch, even for absurd durations.
        assert_eq!(resolve_time(ResetStrategy::ByDuration(Duration::MAX), 5), ResetStrategy::Timestamp(0));
        assert_eq!(resolve_time(ResetStrategy::Offset(3), 5), ResetStrategy::Offset(3));
    }

    #[test]
    fn each_strategy_plans_clamped_targets() {
        let (parts, committed, logs) = setup();
        let plan = |s| plan_offsets("g", &parts, s, &committed, &logs).unwrap();
        assert_eq!(targets(&plan(ResetStrategy::Earliest)), vec![(0, 10, None), (1, 0, None), (2, 5, None)]);
        assert_eq!(targets(&plan(ResetStrategy::Latest)), vec![(0, 20, None), (1, 0, None), (2, 50, None)]);
        assert_eq!(
            targets(&plan(ResetStrategy::Offset(12))),
            vec![(0, 12, None), (1, 0, Some(12)), (2, 12, None)]
        );
        assert_eq!(
            targets(&plan(ResetStrategy::Timestamp(1_000))),
            vec![(0, 12, None), (2, 50, None)],
            "partitions without an offset for the time are left out"
        );
        let current = plan(ResetStrategy::Current);
        assert_eq!(targets(&current), vec![(0, 15, None), (1, 0, None), (2, 5, Some(3))]);
        assert_eq!(current.iter().map(|p| p.current).collect::<Vec<_>>(), vec![Some(15), None, Some(3)]);
    }

    #[test]
    fn shift_needs_a_committed_offset() {
        let (parts, committed, logs) = setup();
        let e = plan_offsets("g", &parts, ResetStrategy::ShiftBy(-1), &committed, &logs).unwrap_err();
        assert_eq!(e.to_string(), "cannot shift the offset of t-1: group 'g' has no committed offset for it");
        let some = [tp(0), tp(2)];
        let plan = plan_offsets("g", &some, ResetStrategy::ShiftBy(-8), &committed, &logs).unwrap();
        assert_eq!(targets(&plan), vec![(0, 10, Some(7)), (2, 5, Some(-5))]);
        let plan = plan_offsets("g", &some, ResetStrategy::ShiftBy(i64::MAX), &committed, &logs).unwrap();
        assert_eq!(targets(&plan), vec![(0, 20, Some(i64::MAX)), (2, 50, Some(i64::MAX))]);
    }

    #[test]
    fn invalid_strategies_are_refused() {
        let (parts, committed, logs) = setup();
        let e = plan_offsets("g", &parts, ResetStrategy::Offset(-1), &committed, &logs).unwrap_err();
        assert!(e.to_string().contains("non-negative"), "{e}");
        let d = ResetStrategy::ByDuration(Duration::from_secs(1));
        assert!(plan_offsets("g", &parts, d, &committed, &logs).is_err());
    }
}
