//! Java's RoundRobinAssignor: every partition of every subscribed topic in
//! (topic, partition) order is dealt to the next member (in Kafka's order)
//! that subscribes to its topic.

use std::collections::BTreeMap;

use kwire_fetch::TopicPartition;

use super::{GroupAssignment, MemberSubscription, partition_count, sorted_members};

pub(super) fn assign(members: &[MemberSubscription], topics: &BTreeMap<String, i32>) -> GroupAssignment {
    let mut out = GroupAssignment::new();
    let sorted = sorted_members(members);
    if sorted.is_empty() {
        return out;
    }
    let mut next = 0usize;
    for topic in topics.keys() {
        if !sorted.iter().any(|m| m.topics.iter().any(|t| t == topic)) {
            continue;
        }
        for p in 0..partition_count(topics, topic) {
            // Someone subscribes to the topic, so this finds a member within one lap.
            for _ in 0..sorted.len() {
                let m = sorted[next % sorted.len()];
                next = (next + 1) % sorted.len();
                if m.topics.iter().any(|t| t == topic) {
                    out.entry(m.member_id.clone()).or_default().push(TopicPartition::new(topic.clone(), p));
                    break;
                }
            }
        }
    }
    out
}
