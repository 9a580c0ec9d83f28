//! One broker's fetch session (KIP-227) and the planning of its next Fetch:
//! which partitions go in the request (all of them in a full fetch, only the
//! changed ones in an incremental one), which the broker should forget, and
//! what the session id and epoch become once the answer arrives.

use std::collections::{HashMap, HashSet};

use crate::TopicPartition;

/// What a Fetch asks of one partition (and what the broker's session then
/// holds for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Fetch offset.
    pub offset: i64,
    /// Current leader epoch (-1: unknown).
    pub leader_epoch: i32,
    /// Leader epoch of the last batch fetched (-1: none yet), KIP-320.
    pub last_fetched_epoch: i32,
}

/// The client side of one broker's fetch session.
#[derive(Debug, Default, Clone)]
pub(crate) struct Session {
    /// Session id the broker gave (0: none).
    pub id: i32,
    /// Next epoch to send; 0 means a full fetch (new session).
    pub epoch: i32,
    /// What the broker's session holds for each partition.
    pub sent: HashMap<TopicPartition, Sent>,
}

/// The partitions of one request, as the session decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionPlan {
    /// A full fetch (every wanted partition listed, a new session asked for).
    pub full: bool,
    /// Session id to send.
    pub session_id: i32,
    /// Session epoch to send (-1: no session at all).
    pub session_epoch: i32,
    /// Partitions listed in the request.
    pub include: Vec<(TopicPartition, Sent)>,
    /// Partitions the broker's session should drop.
    pub forgotten: Vec<TopicPartition>,
}

impl Session {
    /// Plans the next request for `wanted` (every partition to fetch from this
    /// broker now, with its position) and records what the broker's session
    /// will hold once it has seen the request. With `sessions` off every
    /// request is a full, sessionless fetch.
    pub fn plan(&mut self, sessions: bool, wanted: &[(TopicPartition, Sent)]) -> SessionPlan {
        if !sessions {
            self.id = 0;
            self.epoch = 0;
        }
        let full = self.epoch == 0;
        if full {
            self.sent.clear();
        }
        let mut include = Vec::new();
        for (tp, s) in wanted {
            if full || self.sent.get(tp) != Some(s) {
                include.push((tp.clone(), *s));
            }
        }
        let forgotten: Vec<TopicPartition> = if full {
            Vec::new()
        } else {
            let names: HashSet<&TopicPartition> = wanted.iter().map(|(tp, _)| tp).collect();
            let mut f: Vec<TopicPartition> =
                self.sent.keys().filter(|tp| !names.contains(tp)).cloned().collect();
            f.sort();
            f
        };
        for tp in &forgotten {
            self.sent.remove(tp);
        }
        for (tp, s) in &include {
            self.sent.insert(tp.clone(), *s);
        }
        let (session_id, session_epoch) = if sessions { (self.id, self.epoch) } else { (0, -1) };
        SessionPlan { full, session_id, session_epoch, include, forgotten }
    }

    /// The broker answered a request planned with `full` with session id
    /// `session_id` and no session error: the session moves to its next epoch.
    pub fn answered(&mut self, full: bool, session_id: i32) {
        if full {
            self.id = session_id;
            self.epoch = if session_id == 0 { 0 } else { 1 };
        } else {
            self.epoch = if self.epoch >= i32::MAX - 1 { 1 } else { self.epoch + 1 };
        }
    }
}
