//! The sticky assignors: a balanced assignment that keeps every member's
//! partitions where balance allows, moving as few partitions as possible.
//! With `cooperative`, a partition that moves between two members who are both
//! in this round is left out of its new owner's assignment: the old owner
//! revokes it, rejoins, and the follow-up rebalance hands it over (KIP-429).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kwire_fetch::TopicPartition;

use super::{GroupAssignment, MemberSubscription, partition_count, sorted_members};

/// A partition moving from one member (index) to another.
type Move = (TopicPartition, usize, usize);

pub(super) fn assign(
    members: &[MemberSubscription],
    topics: &BTreeMap<String, i32>,
    cooperative: bool,
) -> GroupAssignment {
    let sorted = sorted_members(members);
    let mut out: GroupAssignment = sorted.iter().map(|m| (m.member_id.clone(), Vec::new())).collect();
    if sorted.is_empty() {
        return out;
    }
    let subscribed: Vec<BTreeSet<&str>> =
        sorted.iter().map(|m| m.topics.iter().map(String::as_str).collect()).collect();
    // Every partition of every topic someone subscribes to, in order.
    let all: Vec<TopicPartition> = topics
        .keys()
        .filter(|t| subscribed.iter().any(|s| s.contains(t.as_str())))
        .flat_map(|t| (0..partition_count(topics, t)).map(move |p| TopicPartition::new(t.clone(), p)))
        .collect();
    let exists: BTreeSet<&TopicPartition> = all.iter().collect();
    let prev = previous_owners(&sorted, &subscribed, &exists);

    let identical = subscribed.windows(2).all(|w| w[0] == w[1]);
    let result: Vec<Vec<TopicPartition>> = if identical {
        constrained(&sorted, &all, &prev)
    } else {
        general(&sorted, &subscribed, &all, &prev)
    };

    for (i, mut parts) in result.into_iter().enumerate() {
        if cooperative {
            // Hold back partitions still owned by another member of this round.
            parts.retain(|tp| prev.get(tp).is_none_or(|owner| *owner == i));
        }
        if let Some(m) = sorted.get(i) {
            out.insert(m.member_id.clone(), parts);
        }
    }
    out
}

/// The valid previous owner (index into `sorted`) of each partition: the
/// partition exists, its owner still subscribes to the topic, and no other
/// member claims it with the same or a newer generation (a tie at the newest
/// generation leaves it unowned, as in Kafka).
fn previous_owners(
    sorted: &[&MemberSubscription],
    subscribed: &[BTreeSet<&str>],
    exists: &BTreeSet<&TopicPartition>,
) -> HashMap<TopicPartition, usize> {
    let mut claims: HashMap<&TopicPartition, Vec<(i32, usize)>> = HashMap::new();
    for (i, m) in sorted.iter().enumerate() {
        let mut seen = BTreeSet::new();
        for tp in &m.owned {
            if exists.contains(tp) && subscribed[i].contains(tp.topic.as_str()) && seen.insert(tp) {
                claims.entry(tp).or_default().push((m.generation, i));
            }
        }
    }
    let mut out = HashMap::new();
    for (tp, mut c) in claims {
        c.sort_by_key(|x| std::cmp::Reverse(x.0));
        if let Some(&(generation, owner)) = c.first() {
            if c.get(1).is_none_or(|second| second.0 < generation) {
                out.insert(tp.clone(), owner);
            }
        }
    }
    out
}

/// All members subscribe to the same topics: quotas of ⌊N/M⌋ or ⌈N/M⌉, the
/// larger quotas going to the members that own the most, so the number of
/// partitions taken from their owners is the minimum possible.
fn constrained(
    sorted: &[&MemberSubscription],
    all: &[TopicPartition],
    prev: &HashMap<TopicPartition, usize>,
) -> Vec<Vec<TopicPartition>> {
    let m = sorted.len();
    let n = all.len();
    let mut owned: Vec<Vec<TopicPartition>> = vec![Vec::new(); m];
    for tp in all {
        if let Some(&i) = prev.get(tp) {
            owned[i].push(tp.clone());
        }
    }
    let min_quota = n / m;
    let extra = n % m;
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| owned[*b].len().cmp(&owned[*a].len()).then(a.cmp(b)));
    let mut quota = vec![min_quota; m];
    for &i in order.iter().take(extra) {
        quota[i] += 1;
    }
    let mut result: Vec<Vec<TopicPartition>> = vec![Vec::new(); m];
    let mut free: Vec<TopicPartition> = Vec::new();
    for i in 0..m {
        let mut mine = std::mem::take(&mut owned[i]);
        if mine.len() > quota[i] {
            free.extend(mine.split_off(quota[i]));
        }
        result[i] = mine;
    }
    free.extend(all.iter().filter(|tp| !prev.contains_key(*tp)).cloned());
    free.sort();
    let mut free = free.into_iter();
    for &i in &order {
        while result[i].len() < quota[i] {
            match free.next() {
                Some(tp) => result[i].push(tp),
                None => break,
            }
        }
    }
    result
}

/// Members subscribe to different topics: keep owned partitions, give each
/// unowned partition to the eligible member with the fewest, then move
/// partitions from the fullest to the emptiest eligible member while that
/// narrows the gap.
fn general(
    sorted: &[&MemberSubscription],
    subscribed: &[BTreeSet<&str>],
    all: &[TopicPartition],
    prev: &HashMap<TopicPartition, usize>,
) -> Vec<Vec<TopicPartition>> {
    let m = sorted.len();
    let eligible = |tp: &TopicPartition| -> Vec<usize> {
        (0..m).filter(|&i| subscribed[i].contains(tp.topic.as_str())).collect()
    };
    let mut owner: BTreeMap<TopicPartition, usize> = BTreeMap::new();
    let mut count = vec![0usize; m];
    for tp in all {
        if let Some(&i) = prev.get(tp) {
            owner.insert(tp.clone(), i);
            count[i] += 1;
        }
    }
    // Unowned partitions, most constrained first.
    let mut unowned: Vec<(usize, &TopicPartition)> =
        all.iter().filter(|tp| !prev.contains_key(*tp)).map(|tp| (eligible(tp).len(), tp)).collect();
    unowned.sort();
    for (_, tp) in unowned {
        if let Some(&i) = eligible(tp).iter().min_by_key(|&&i| (count[i], i)) {
            owner.insert(tp.clone(), i);
            count[i] += 1;
        }
    }
    // Rebalance: each move strictly lowers the sum of squared counts, so this ends.
    let limit = all.len().saturating_mul(m).saturating_add(1);
    for _ in 0..limit {
        // The move that narrows the widest gap; prefer partitions their owner
        // did not own before this round (moving those revokes nothing).
        let mut best: Option<(Move, (usize, bool))> = None;
        for (tp, &from) in &owner {
            let to = eligible(tp)
                .into_iter()
                .filter(|&to| count[to] + 1 < count[from])
                .min_by_key(|&to| (count[to], to));
            if let Some(to) = to {
                let key = (count[from] - count[to], prev.get(tp) != Some(&from));
                if best.as_ref().is_none_or(|(_, k)| key > *k) {
                    best = Some(((tp.clone(), from, to), key));
                }
            }
        }
        let Some(((tp, from, to), _)) = best else { break };
        owner.insert(tp, to);
        count[from] -= 1;
        count[to] += 1;
    }
    let mut result = vec![Vec::new(); m];
    for (tp, i) in owner {
        result[i].push(tp);
    }
    result
}
