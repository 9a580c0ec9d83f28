//! Task assignment of a distributed query (sans-IO): which instance runs
//! each aggregation task (repartition partition) actively, and which keep
//! warm standby copies of its state, as Kafka Streams' assignor decides.
//!
//! Every instance reports, in its group subscription, the tasks whose state
//! it holds and up to which changelog offset ([`Held`]); the group leader
//! runs [`assign_tasks`], which
//!
//! - gives each task to the instance holding its most recent state (the
//!   instance that ran it, else its most caught-up standby) while that
//!   instance is under its share, else to the least loaded one: a task moves
//!   without a changelog replay whenever a warm copy exists;
//! - keeps the active counts within one of each other;
//! - places `standbys` standby copies of each task on other instances,
//!   preferring the ones that already hold state for it.
//!
//! The driver ([`crate::driver`]) carries the result to each instance in the
//! assignment's user data ([`encode_assignment`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// What an instance holds of a task's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// The changelog offset the state is complete up to (a lower bound: a
    /// replay from there onwards brings it up to date).
    pub position: i64,
    /// The instance ran the task actively in the previous generation.
    pub active: bool,
}

impl Held {
    fn rank(self) -> (i64, bool) {
        (self.position, self.active)
    }
}

/// One instance as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskMember {
    /// Group member id.
    pub id: String,
    /// Tasks whose state the instance holds.
    pub held: BTreeMap<i32, Held>,
}

/// The leader's decision: member id → active tasks and standby tasks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskAssignment {
    /// Active tasks per member (every member present, sorted).
    pub active: BTreeMap<String, Vec<i32>>,
    /// Standby tasks per member (every member present, sorted).
    pub standby: BTreeMap<String, Vec<i32>>,
}

/// Assign tasks `0..tasks` to `members` with `standbys` standby copies each
/// (fewer when there are not enough other members). Deterministic.
pub fn assign_tasks(members: &[TaskMember], tasks: i32, standbys: usize) -> TaskAssignment {
    let mut members: Vec<&TaskMember> = members.iter().collect();
    members.sort_by(|a, b| a.id.cmp(&b.id));
    members.dedup_by(|a, b| a.id == b.id);
    let mut out = TaskAssignment {
        active: members.iter().map(|m| (m.id.clone(), Vec::new())).collect(),
        standby: members.iter().map(|m| (m.id.clone(), Vec::new())).collect(),
    };
    if members.is_empty() || tasks <= 0 {
        return out;
    }
    let n = members.len();
    let tasks_n = usize::try_from(tasks).unwrap_or(0);
    let cap = tasks_n.div_ceil(n);
    let held = |m: usize, t: i32| members[m].held.get(&t).copied();
    let mut load = vec![0usize; n];
    // Tasks with the freshest held state choose first, so a warm copy is not
    // crowded out of its holder by a task nobody holds.
    let mut order: Vec<i32> = (0..tasks).collect();
    order.sort_by_key(|t| {
        let best = (0..n).filter_map(|m| held(m, *t)).map(Held::rank).max();
        (std::cmp::Reverse(best), *t)
    });
    let mut owner: Vec<Option<usize>> = vec![None; tasks_n];
    // 1. held tasks to their best holder with room;
    for &t in &order {
        let best = (0..n).filter(|m| load[*m] < cap && held(*m, t).is_some()).max_by_key(|m| {
            (held(*m, t).map(Held::rank), std::cmp::Reverse(load[*m]), std::cmp::Reverse(*m))
        });
        if let Some(m) = best {
            owner[t as usize] = Some(m);
            load[m] += 1;
        }
    }
    // 2. the rest to the least loaded.
    for o in owner.iter_mut().filter(|o| o.is_none()) {
        let m = (0..n).min_by_key(|m| (load[*m], *m)).unwrap_or(0);
        *o = Some(m);
        load[m] += 1;
    }
    let mut owner: Vec<usize> = owner.into_iter().map(|m| m.unwrap_or(0)).collect();
    // Balance: no member more than one task above another.
    while let (Some(hi), Some(lo)) =
        ((0..n).max_by_key(|m| (load[*m], *m)), (0..n).min_by_key(|m| (load[*m], *m)))
    {
        if load[hi] <= load[lo] + 1 {
            break;
        }
        // Move the task of `hi` that `lo` holds the freshest and `hi` the
        // stalest state of.
        let Some(t) = (0..tasks).filter(|t| owner[*t as usize] == hi).max_by_key(|t| {
            (held(lo, *t).map(Held::rank), std::cmp::Reverse(held(hi, *t).map(Held::rank)), -t)
        }) else {
            break;
        };
        owner[t as usize] = lo;
        load[hi] -= 1;
        load[lo] += 1;
    }
    for (t, m) in owner.iter().enumerate() {
        if let Some(v) = out.active.get_mut(&members[*m].id) {
            v.push(t as i32);
        }
    }
    // Standbys: on other members, the ones holding state first, then the
    // least loaded with standbys.
    let copies = standbys.min(n - 1);
    let mut sload = vec![0usize; n];
    for t in 0..tasks {
        let mut chosen: BTreeSet<usize> = BTreeSet::new();
        for _ in 0..copies {
            let pick = (0..n).filter(|m| *m != owner[t as usize] && !chosen.contains(m)).max_by(|a, b| {
                let ka = (held(*a, t).map(Held::rank), std::cmp::Reverse(sload[*a]), std::cmp::Reverse(*a));
                let kb = (held(*b, t).map(Held::rank), std::cmp::Reverse(sload[*b]), std::cmp::Reverse(*b));
                ka.cmp(&kb)
            });
            let Some(m) = pick else { break };
            chosen.insert(m);
            sload[m] += 1;
            if let Some(v) = out.standby.get_mut(&members[m].id) {
                v.push(t);
            }
        }
    }
    out
}

/// A subscription's user data: the tasks whose state the instance holds.
#[derive(Debug, Serialize, Deserialize)]
struct SubscriptionData {
    v: u32,
    /// (task, position, active)
    held: Vec<(i32, i64, bool)>,
}

/// An assignment's user data: the member's active and standby tasks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemberTasks {
    /// Tasks to run.
    pub active: Vec<i32>,
    /// Tasks to keep warm copies of.
    pub standby: Vec<i32>,
}

#[derive(Debug, Serialize, Deserialize)]
struct AssignmentData {
    v: u32,
    active: Vec<i32>,
    standby: Vec<i32>,
}

/// Encode what an instance holds for its subscription.
pub fn encode_held(held: &BTreeMap<i32, Held>) -> Vec<u8> {
    let d = SubscriptionData { v: 1, held: held.iter().map(|(t, h)| (*t, h.position, h.active)).collect() };
    serde_json::to_vec(&d).unwrap_or_default()
}

/// Decode another member's subscription user data; `None` when it is not
/// kwire's (the member then counts as holding nothing).
pub fn decode_held(bytes: &[u8]) -> Option<BTreeMap<i32, Held>> {
    let d: SubscriptionData = serde_json::from_slice(bytes).ok()?;
    if d.v != 1 {
        return None;
    }
    Some(
        d.held
            .into_iter()
            .filter(|(t, p, _)| *t >= 0 && *p >= 0)
            .map(|(t, position, active)| (t, Held { position, active }))
            .collect(),
    )
}

/// Encode a member's tasks for its assignment.
pub fn encode_assignment(tasks: &MemberTasks) -> Vec<u8> {
    let d = AssignmentData { v: 1, active: tasks.active.clone(), standby: tasks.standby.clone() };
    serde_json::to_vec(&d).unwrap_or_default()
}

/// Decode the assignment's user data; `None` when it is not kwire's.
pub fn decode_assignment(bytes: &[u8]) -> Option<MemberTasks> {
    let d: AssignmentData = serde_json::from_slice(bytes).ok()?;
    (d.v == 1).then(|| MemberTasks {
        active: d.active.into_iter().filter(|t| *t >= 0).collect(),
        standby: d.standby.into_iter().filter(|t| *t >= 0).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member(id: &str, held: &[(i32, i64, bool)]) -> TaskMember {
        TaskMember {
            id: id.into(),
            held: held.iter().map(|(t, p, a)| (*t, Held { position: *p, active: *a })).collect(),
        }
    }

    #[test]
    fn fresh_group_is_balanced_with_standbys_elsewhere() {
        let ms = [member("a", &[]), member("b", &[]), member("c", &[])];
        let a = assign_tasks(&ms, 6, 1);
        assert_eq!(a.active.values().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 2]);
        assert_eq!(a.standby.values().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 2]);
        for (m, ts) in &a.standby {
            assert!(ts.iter().all(|t| !a.active[m].contains(t)), "{a:?}");
        }
    }

    #[test]
    fn tasks_stay_where_they_ran() {
        let ms = [
            member("a", &[(0, 100, true), (1, 50, true), (2, 10, false)]),
            member("b", &[(2, 10, true), (3, 70, true), (0, 100, false)]),
        ];
        let a = assign_tasks(&ms, 4, 1);
        assert_eq!(a.active["a"], vec![0, 1]);
        assert_eq!(a.active["b"], vec![2, 3]);
        // b's standby of 0 is as fresh as a's active copy: a keeps it (it ran it).
        assert_eq!(a.standby["b"], vec![0, 1]);
    }

    #[test]
    fn a_failed_instances_tasks_go_to_their_standbys() {
        // c died; a holds warm copies of 4 and 5, b of 2 and 3.
        let ms = [
            member("a", &[(0, 9, true), (1, 9, true), (4, 80, false), (5, 80, false)]),
            member("b", &[(2, 9, true), (3, 9, true), (0, 8, false), (1, 8, false)]),
        ];
        let a = assign_tasks(&ms, 6, 1);
        // The warm copies of 4 and 5 choose first; a is then full with 0, so
        // 1 goes to b, which holds a standby of it: nothing restores cold.
        assert_eq!(a.active["a"], vec![0, 4, 5], "{a:?}");
        assert_eq!(a.active["b"], vec![1, 2, 3], "{a:?}");
        assert!(a.active["a"].len().abs_diff(a.active["b"].len()) <= 1);
    }

    #[test]
    fn a_new_instance_gets_a_share() {
        let ms = [
            member("a", &[(0, 5, true), (1, 5, true), (2, 5, true)]),
            member("b", &[(3, 5, true), (4, 5, true), (5, 5, true)]),
            member("c", &[]),
        ];
        let a = assign_tasks(&ms, 6, 0);
        assert_eq!(a.active.values().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 2]);
        assert!(a.active["a"].iter().all(|t| *t < 3) && a.active["b"].iter().all(|t| *t >= 3), "{a:?}");
        assert!(a.standby.values().all(Vec::is_empty));
    }

    #[test]
    fn user_data_round_trips_and_foreign_data_is_ignored() {
        let held: BTreeMap<i32, Held> =
            [(0, Held { position: 7, active: true }), (3, Held { position: 0, active: false })].into();
        assert_eq!(decode_held(&encode_held(&held)), Some(held));
        let t = MemberTasks { active: vec![1, 2], standby: vec![0] };
        assert_eq!(decode_assignment(&encode_assignment(&t)), Some(t));
        for bad in [&b""[..], b"\x00\x01", b"{}", br#"{"v":2,"held":[]}"#, br#"{"v":1,"held":[[1]]}"#] {
            assert_eq!(decode_held(bad), None);
            assert_eq!(decode_assignment(bad), None);
        }
        assert_eq!(decode_held(br#"{"v":1,"held":[[-1,5,true],[2,-5,false]]}"#), Some(BTreeMap::new()));
    }

    fn arb_members() -> impl Strategy<Value = (Vec<TaskMember>, i32, usize)> {
        (1usize..7, 1i32..20, 0usize..4).prop_flat_map(|(n, tasks, standbys)| {
            let held =
                proptest::collection::btree_map(0..tasks, (0i64..100, any::<bool>()), 0..tasks as usize + 1);
            proptest::collection::vec(held, n).prop_map(move |hs| {
                let ms = hs
                    .into_iter()
                    .enumerate()
                    .map(|(i, h)| TaskMember {
                        id: format!("m{i}"),
                        held: h.into_iter().map(|(t, (p, a))| (t, Held { position: p, active: a })).collect(),
                    })
                    .collect();
                (ms, tasks, standbys)
            })
        })
    }

    proptest! {
        #[test]
        fn every_task_once_balanced_standbys_distinct((ms, tasks, standbys) in arb_members()) {
            let a = assign_tasks(&ms, tasks, standbys);
            let mut seen = BTreeSet::new();
            for ts in a.active.values() {
                for t in ts {
                    prop_assert!(seen.insert(*t), "task {} twice", t);
                }
            }
            prop_assert_eq!(seen, (0..tasks).collect::<BTreeSet<_>>());
            let loads: Vec<usize> = a.active.values().map(Vec::len).collect();
            prop_assert!(loads.iter().max().unwrap_or(&0) - loads.iter().min().unwrap_or(&0) <= 1, "{:?}", loads);
            let copies = standbys.min(ms.len() - 1);
            for t in 0..tasks {
                let holders: Vec<&String> = a.standby.iter().filter(|(_, ts)| ts.contains(&t)).map(|(m, _)| m).collect();
                prop_assert_eq!(holders.len(), copies);
                prop_assert!(holders.iter().all(|m| !a.active[*m].contains(&t)));
            }
            // Determinism, whatever the members' order.
            let mut rev = ms.clone();
            rev.reverse();
            prop_assert_eq!(assign_tasks(&rev, tasks, standbys), a);
        }

        #[test]
        fn the_sole_holder_of_a_task_keeps_it(
            held in proptest::collection::vec(proptest::option::of((0i32..20, 0i64..100, any::<bool>())), 1..7),
            tasks in 1i32..20,
            standbys in 0usize..3,
        ) {
            // Each member holds at most one task: every held task whose
            // holder is its only one stays there.
            let ms: Vec<TaskMember> = held
                .iter()
                .enumerate()
                .map(|(i, h)| member(&format!("m{i}"), &h.map(|(t, p, a)| vec![(t % tasks, p, a)]).unwrap_or_default()))
                .collect();
            let a = assign_tasks(&ms, tasks, standbys);
            for m in &ms {
                for t in m.held.keys() {
                    if ms.iter().filter(|o| o.held.contains_key(t)).count() == 1 {
                        prop_assert!(a.active[&m.id].contains(t), "{} lost {}: {:?}", m.id, t, a);
                    }
                }
            }
        }
    }
}
