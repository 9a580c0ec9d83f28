use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn member(id: &str, topics: &[&str]) -> MemberSubscription {
    MemberSubscription {
        member_id: id.to_owned(),
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        generation: -1,
        ..Default::default()
    }
}

fn topics(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
    list.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

fn counts(a: &GroupAssignment) -> Vec<usize> {
    a.values().map(Vec::len).collect()
}

#[test]
fn range_matches_kafka() {
    // Kafka's RangeAssignor javadoc: t0, t1 with 3 partitions, C0 and C1.
    let m = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
    let a = AssignorKind::Range.assign(&m, &topics(&[("t0", 3), ("t1", 3)]));
    assert_eq!(a["C0"], vec![tp("t0", 0), tp("t0", 1), tp("t1", 0), tp("t1", 1)]);
    assert_eq!(a["C1"], vec![tp("t0", 2), tp("t1", 2)]);
    // Static members sort before dynamic ones, by instance id.
    let mut s = member("zzz", &["t"]);
    s.instance_id = Some("a".into());
    let a = AssignorKind::Range.assign(&[member("aaa", &["t"]), s], &topics(&[("t", 3)]));
    assert_eq!(a["zzz"], vec![tp("t", 0), tp("t", 1)]);
    assert_eq!(a["aaa"], vec![tp("t", 2)]);
}

#[test]
fn roundrobin_matches_kafka() {
    // Kafka's RoundRobinAssignor javadoc, first example.
    let m = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
    let a = AssignorKind::RoundRobin.assign(&m, &topics(&[("t0", 3), ("t1", 3)]));
    assert_eq!(a["C0"], vec![tp("t0", 0), tp("t0", 2), tp("t1", 1)]);
    assert_eq!(a["C1"], vec![tp("t0", 1), tp("t1", 0), tp("t1", 2)]);
    // Second example: C0 has t0; C1 has t0, t1; C2 has t0, t1, t2.
    let m = [member("C0", &["t0"]), member("C1", &["t0", "t1"]), member("C2", &["t0", "t1", "t2"])];
    let a = AssignorKind::RoundRobin.assign(&m, &topics(&[("t0", 1), ("t1", 2), ("t2", 3)]));
    assert_eq!(a["C0"], vec![tp("t0", 0)]);
    assert_eq!(a["C1"], vec![tp("t1", 0)]);
    assert_eq!(a["C2"], vec![tp("t1", 1), tp("t2", 0), tp("t2", 1), tp("t2", 2)]);
}

#[test]
fn cooperative_sticky_revokes_first_then_hands_over() {
    // Two members own 3 partitions each; a third joins.
    let mut a = member("a", &["t"]);
    a.owned = (0..3).map(|p| tp("t", p)).collect();
    a.generation = 1;
    let mut b = member("b", &["t"]);
    b.owned = (3..6).map(|p| tp("t", p)).collect();
    b.generation = 1;
    let c = member("c", &["t"]);
    let t = topics(&[("t", 6)]);
    let r1 = AssignorKind::CooperativeSticky.assign(&[a.clone(), b.clone(), c.clone()], &t);
    assert_eq!(counts(&r1), vec![2, 2, 0], "{r1:?}");
    assert!(r1["a"].iter().all(|p| a.owned.contains(p)));
    assert!(r1["b"].iter().all(|p| b.owned.contains(p)));
    // Round 2: a and b revoked one each.
    a.owned = r1["a"].clone();
    b.owned = r1["b"].clone();
    let r2 = AssignorKind::CooperativeSticky.assign(&[a, b, c], &t);
    assert_eq!(counts(&r2), vec![2, 2, 2]);
    assert_eq!(r2["a"], r1["a"]);
    assert_eq!(r2["b"], r1["b"]);
    // The eager sticky assignor hands over at once.
    let mut a = member("a", &["t"]);
    a.owned = (0..6).map(|p| tp("t", p)).collect();
    let r = AssignorKind::Sticky.assign(&[a, member("b", &["t"])], &t);
    assert_eq!(counts(&r), vec![3, 3]);
}

#[test]
fn conflicting_claims_go_to_the_newest_generation() {
    let mut a = member("a", &["t"]);
    a.owned = vec![tp("t", 0)];
    a.generation = 3;
    let mut b = member("b", &["t"]);
    b.owned = vec![tp("t", 0), tp("t", 1)];
    b.generation = 2;
    let r = AssignorKind::CooperativeSticky.assign(&[a, b], &topics(&[("t", 2)]));
    assert_eq!(r["a"], vec![tp("t", 0)]);
    assert_eq!(r["b"], vec![tp("t", 1)]);
}

#[test]
fn names_parse_like_kafka() {
    assert_eq!(
        AssignorKind::parse_list("range, org.apache.kafka.clients.consumer.CooperativeStickyAssignor")
            .unwrap(),
        vec![AssignorKind::Range, AssignorKind::CooperativeSticky]
    );
    assert_eq!(AssignorKind::parse("RoundRobinAssignor").unwrap(), AssignorKind::RoundRobin);
    assert!(AssignorKind::parse("uniform").is_err());
    assert!(AssignorKind::parse_list(" , ").is_err());
    for k in
        [AssignorKind::Range, AssignorKind::RoundRobin, AssignorKind::Sticky, AssignorKind::CooperativeSticky]
    {
        assert_eq!(AssignorKind::from_name(k.name()), Some(k));
    }
}

fn all_partitions(t: &BTreeMap<String, i32>) -> BTreeSet<TopicPartition> {
    t.iter().flat_map(|(name, n)| (0..*n).map(move |p| tp(name, p))).collect()
}

fn assigned_once(a: &GroupAssignment) -> Result<BTreeSet<TopicPartition>, TestCaseError> {
    let mut seen = BTreeSet::new();
    for parts in a.values() {
        for p in parts {
            prop_assert!(seen.insert(p.clone()), "{p} assigned twice in {a:?}");
        }
    }
    Ok(seen)
}

fn members_strategy() -> impl Strategy<Value = (Vec<MemberSubscription>, BTreeMap<String, i32>)> {
    (1usize..7, proptest::collection::vec(0i32..13, 1..4)).prop_map(|(m, parts)| {
        let t: BTreeMap<String, i32> = parts.iter().enumerate().map(|(i, n)| (format!("t{i}"), *n)).collect();
        let names: Vec<&str> = t.keys().map(String::as_str).collect();
        let members = (0..m).map(|i| member(&format!("m{i:02}"), &names)).collect();
        (members, t)
    })
}

proptest! {
    #[test]
    fn every_partition_exactly_once_and_balanced((members, t) in members_strategy()) {
        for kind in [AssignorKind::Range, AssignorKind::RoundRobin, AssignorKind::Sticky, AssignorKind::CooperativeSticky] {
            let a = kind.assign(&members, &t);
            prop_assert_eq!(a.len(), members.len());
            prop_assert_eq!(assigned_once(&a)?, all_partitions(&t), "{:?}", kind);
            if kind == AssignorKind::Range {
                // Range balances each topic.
                for topic in t.keys() {
                    let per: Vec<usize> = a.values().map(|ps| ps.iter().filter(|p| &p.topic == topic).count()).collect();
                    prop_assert!(per.iter().max().unwrap_or(&0) - per.iter().min().unwrap_or(&0) <= 1);
                }
            } else {
                let c = counts(&a);
                prop_assert!(c.iter().max().unwrap_or(&0) - c.iter().min().unwrap_or(&0) <= 1, "{:?} {:?}", kind, c);
            }
        }
    }

    #[test]
    fn different_subscriptions_assign_only_subscribed_partitions_once(
        subs in proptest::collection::vec(proptest::collection::btree_set(0usize..3, 1..3), 1..6),
        parts in proptest::collection::vec(0i32..9, 3),
    ) {
        let t: BTreeMap<String, i32> = parts.iter().enumerate().map(|(i, n)| (format!("t{i}"), *n)).collect();
        let members: Vec<MemberSubscription> = subs.iter().enumerate().map(|(i, s)| {
            let names: Vec<String> = s.iter().map(|x| format!("t{x}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            member(&format!("m{i}"), &refs)
        }).collect();
        let wanted: BTreeSet<TopicPartition> = all_partitions(&t)
            .into_iter()
            .filter(|p| members.iter().any(|m| m.topics.contains(&p.topic)))
            .collect();
        for kind in [AssignorKind::Range, AssignorKind::RoundRobin, AssignorKind::Sticky, AssignorKind::CooperativeSticky] {
            let a = kind.assign(&members, &t);
            prop_assert_eq!(assigned_once(&a)?, wanted.clone(), "{:?}", kind);
            for m in &members {
                prop_assert!(a[&m.member_id].iter().all(|p| m.topics.contains(&p.topic)));
            }
        }
    }

    /// Members own random disjoint sets: the sticky assignment moves exactly
    /// the minimum number of partitions balance requires, the cooperative
    /// one never hands a partition to a new owner while its old owner still
    /// has it, and a second round completes the balanced assignment.
    #[test]
    fn cooperative_sticky_moves_the_minimum(
        m in 1usize..6,
        n in 0i32..20,
        owners in proptest::collection::vec(proptest::option::of(0usize..6), 20),
    ) {
        let t = topics(&[("t", n)]);
        let mut members: Vec<MemberSubscription> = (0..m).map(|i| {
            let mut x = member(&format!("m{i}"), &["t"]);
            x.generation = 1;
            x
        }).collect();
        for p in 0..n {
            if let Some(Some(o)) = owners.get(p as usize) {
                if *o < m {
                    members[*o].owned.push(tp("t", p));
                }
            }
        }
        let eager = AssignorKind::Sticky.assign(&members, &t);
        let moved: usize = members.iter().map(|x| x.owned.iter().filter(|p| !eager[&x.member_id].contains(p)).count()).sum();
        // Minimum: members above their best quota must give up the excess.
        let n_us = n as usize;
        let (q, extra) = (n_us / m, n_us % m);
        let mut owned_counts: Vec<usize> = members.iter().map(|x| x.owned.len()).collect();
        owned_counts.sort_unstable_by(|a, b| b.cmp(a));
        let minimum: usize = owned_counts.iter().enumerate().map(|(i, c)| c.saturating_sub(q + usize::from(i < extra))).sum();
        prop_assert_eq!(moved, minimum);
        prop_assert!(members.iter().all(|x| x.owned.iter().all(|p| eager.values().flatten().any(|y| y == p))));

        let round1 = AssignorKind::CooperativeSticky.assign(&members, &t);
        let previous: BTreeMap<&TopicPartition, &str> =
            members.iter().flat_map(|x| x.owned.iter().map(move |p| (p, x.member_id.as_str()))).collect();
        for (mid, parts) in &round1 {
            for p in parts {
                prop_assert!(previous.get(p).is_none_or(|o| o == mid), "{p} given to {mid} while owned elsewhere");
            }
        }
        assigned_once(&round1)?;
        // Round 2: everyone revoked what they lost.
        for x in members.iter_mut() {
            x.owned = round1[&x.member_id].clone();
            x.generation = 2;
        }
        let round2 = AssignorKind::CooperativeSticky.assign(&members, &t);
        prop_assert_eq!(assigned_once(&round2)?, all_partitions(&t));
        let c = counts(&round2);
        prop_assert!(c.iter().max().unwrap_or(&0) - c.iter().min().unwrap_or(&0) <= 1);
        for x in &members {
            prop_assert!(x.owned.iter().all(|p| round2[&x.member_id].contains(p)), "round 2 moved more");
        }
    }
}
