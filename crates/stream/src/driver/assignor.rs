//! The group assignor of a distributed query (`kwire-stream`): input
//! partitions balanced and sticky as Kafka's sticky assignor does, tasks
//! (repartition partitions) and their standby copies placed by
//! [`crate::assign::assign_tasks`] from what each instance holds. Members
//! of an older kwire that don't offer it make the group fall back to
//! `range` (no standbys, every task restored from its changelog).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use kwire_group::{AssignorKind, CustomAssignor, MemberAssignment, MemberSubscription, TopicPartition};

use crate::assign::{
    Held, MemberTasks, TaskMember, assign_tasks, decode_assignment, decode_held, encode_assignment,
    encode_held,
};

/// What an instance and its assignor share.
#[derive(Debug, Default)]
pub(crate) struct TaskBook {
    /// Tasks whose state this instance holds (reported at every join).
    pub(crate) held: BTreeMap<i32, Held>,
    /// The tasks of the latest assignment, until the instance takes them.
    pub(crate) assigned: Option<MemberTasks>,
}

/// The shared book, locked (a panic elsewhere doesn't poison it for good).
pub(crate) fn lock(book: &Mutex<TaskBook>) -> MutexGuard<'_, TaskBook> {
    book.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The assignor; the leader's copy decides for the whole group.
#[derive(Debug)]
pub(crate) struct StreamAssignor {
    /// `APP-repartition`.
    pub(crate) repartition: String,
    /// `--num-standby-replicas`.
    pub(crate) standbys: usize,
    pub(crate) book: Arc<Mutex<TaskBook>>,
}

/// The protocol name.
pub(crate) const NAME: &str = "kwire-stream";

impl CustomAssignor for StreamAssignor {
    fn name(&self) -> &str {
        NAME
    }

    fn subscription_user_data(&self) -> Option<Bytes> {
        Some(Bytes::from(encode_held(&lock(&self.book).held)))
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        topics: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, MemberAssignment> {
        let inputs: BTreeMap<String, i32> =
            topics.iter().filter(|(t, _)| **t != self.repartition).map(|(t, n)| (t.clone(), *n)).collect();
        let mut out: BTreeMap<String, MemberAssignment> = AssignorKind::Sticky
            .assign(members, &inputs)
            .into_iter()
            .map(|(m, partitions)| (m, MemberAssignment { partitions, user_data: None }))
            .collect();
        let tasks = topics.get(&self.repartition).copied().unwrap_or(0);
        let task_members: Vec<TaskMember> = members
            .iter()
            .filter(|m| m.topics.contains(&self.repartition))
            .map(|m| TaskMember {
                id: m.member_id.clone(),
                held: m.user_data.as_deref().and_then(decode_held).unwrap_or_default(),
            })
            .collect();
        let ta = assign_tasks(&task_members, tasks, self.standbys);
        for (m, active) in ta.active {
            let standby = ta.standby.get(&m).cloned().unwrap_or_default();
            let a = out.entry(m).or_default();
            a.partitions.extend(active.iter().map(|t| TopicPartition::new(self.repartition.as_str(), *t)));
            a.user_data = Some(Bytes::from(encode_assignment(&MemberTasks { active, standby })));
        }
        out
    }

    fn on_assignment(&self, user_data: Option<&[u8]>) {
        lock(&self.book).assigned = Some(user_data.and_then(decode_assignment).unwrap_or_default());
    }
}
