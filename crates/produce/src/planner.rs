//! The request planner: groups what the partitions may send into
//! ProduceRequests, one per broker at a time, oldest batches first, within
//! `max.request.size` and `max.in.flight.requests.per.connection`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::accumulator::Accumulator;
use crate::batch::{Key, Reports};
use crate::sequence::{Next, Sequencer};

/// A planned ProduceRequest. The core keeps the batches; the request
/// carries their bytes (reference-counted, not copied).
#[derive(Debug)]
pub(crate) struct Request {
    /// Identifies the request in [`Engine::handle_response`](crate::engine::Engine::handle_response).
    pub id: u64,
    /// The broker (the partitions' leader).
    pub broker: i32,
    /// One batch per partition.
    pub batches: Vec<(Key, Bytes)>,
}

/// Requests in flight.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    next_id: u64,
    /// Request id → broker and the partitions it carries.
    pub requests: HashMap<u64, (i32, Vec<Key>)>,
    per_broker: HashMap<i32, usize>,
}

impl InFlight {
    /// Forgets request `id`, returning its broker and partitions.
    pub(crate) fn complete(&mut self, id: u64) -> Option<(i32, Vec<Key>)> {
        let (broker, keys) = self.requests.remove(&id)?;
        if let Some(n) = self.per_broker.get_mut(&broker) {
            *n = n.saturating_sub(1);
        }
        Some((broker, keys))
    }

    /// Requests in flight in all.
    pub(crate) fn len(&self) -> usize {
        self.requests.len()
    }
}

/// Plans every request that can go now. Partitions without a known leader
/// are added to `refresh`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan<D: Clone>(
    acc: &mut Accumulator<D>,
    seq: &mut Sequencer<D>,
    inflight: &mut InFlight,
    max_in_flight: usize,
    max_request_size: usize,
    now: Instant,
    leader_of: &dyn Fn(&str, i32) -> Option<i32>,
    may_send: &dyn Fn(&Key) -> bool,
    reports: &mut Reports<D>,
    refresh: &mut Vec<Arc<str>>,
) -> Vec<Request> {
    let mut candidates: Vec<Key> = acc.with_ready.iter().filter(|k| may_send(k)).cloned().collect();
    for k in seq.busy_keys() {
        if !acc.with_ready.contains(k) {
            candidates.push(k.clone());
        }
    }
    if candidates.is_empty() {
        return Vec::new();
    }
    // Oldest first, so that no partition starves behind busier ones.
    let age = |k: &Key| -> Option<Instant> {
        match (seq.oldest_ready(k), acc.front(k).map(|b| b.created)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    };
    let mut by_broker: HashMap<i32, Vec<(Option<Instant>, Key)>> = HashMap::new();
    for key in candidates {
        match leader_of(&key.0, key.1) {
            Some(b) if b >= 0 => by_broker.entry(b).or_default().push((age(&key), key)),
            _ => {
                if !refresh.contains(&key.0) {
                    refresh.push(key.0.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    for (broker, mut keys) in by_broker {
        keys.sort_by_key(|(t, _)| *t);
        loop {
            if inflight.per_broker.get(&broker).copied().unwrap_or(0) >= max_in_flight {
                break;
            }
            let id = inflight.next_id;
            let mut batches: Vec<(Key, Bytes)> = Vec::new();
            let mut size = 0usize;
            for (_, key) in &keys {
                let idx = match seq.next(key, broker, now, reports) {
                    Next::Nothing => continue,
                    Next::Slot(i) => {
                        let len = seq.len_at(key, i);
                        if !batches.is_empty() && size + len > max_request_size {
                            continue;
                        }
                        size += len;
                        i
                    }
                    Next::New => {
                        let Some(len) = acc.front(key).map(|b| b.bytes.len()) else { continue };
                        if !batches.is_empty() && size + len > max_request_size {
                            continue;
                        }
                        let Some(b) = acc.pop(key) else { continue };
                        size += len;
                        seq.admit(key, b)
                    }
                };
                if let Some(bytes) = seq.send(key, idx, id, broker) {
                    batches.push((key.clone(), bytes));
                }
            }
            if batches.is_empty() {
                break;
            }
            inflight.next_id += 1;
            *inflight.per_broker.entry(broker).or_insert(0) += 1;
            inflight.requests.insert(id, (broker, batches.iter().map(|(k, _)| k.clone()).collect()));
            out.push(Request { id, broker, batches });
        }
    }
    out
}
