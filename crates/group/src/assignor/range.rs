//! Java's RangeAssignor: for each topic, the subscribed members in Kafka's
//! order get consecutive ranges; the first `partitions % members` get one more.

use std::collections::BTreeMap;

use kwire_fetch::TopicPartition;

use super::{GroupAssignment, MemberSubscription, partition_count, sorted_members};

pub(super) fn assign(members: &[MemberSubscription], topics: &BTreeMap<String, i32>) -> GroupAssignment {
    let mut out = GroupAssignment::new();
    let sorted = sorted_members(members);
    for topic in topics.keys() {
        let subscribed: Vec<&&MemberSubscription> =
            sorted.iter().filter(|m| m.topics.iter().any(|t| t == topic)).collect();
        if subscribed.is_empty() {
            continue;
        }
        let n = partition_count(topics, topic) as usize;
        let per = n / subscribed.len();
        let extra = n % subscribed.len();
        for (i, m) in subscribed.iter().enumerate() {
            let start = per * i + i.min(extra);
            let len = per + usize::from(i < extra);
            let parts = out.entry(m.member_id.clone()).or_default();
            for p in start..start + len {
                // p < n ≤ i32::MAX.
                parts.push(TopicPartition::new(topic.clone(), p as i32));
            }
        }
    }
    out
}
