//! The fetch core against an in-memory model of a cluster's rules, on seeded
//! random schedules: records appended in batches, leaders moving (with stale
//! metadata now and then), fetch sessions kept, evicted and checked by id and
//! epoch the way a broker does, retention moving log starts, requests lost,
//! responses cut short or missing partitions, lookups failing. Checked for
//! every seed: each partition's records reach the application in offset
//! order, each once, with the right value at each offset, with no gap but at
//! a reset to the log start; nothing fails for good; and once the faults stop,
//! every record is delivered. Unclean leader elections truncate logs (and
//! new records are then written at the lost offsets under the new epoch):
//! the leader answers a fetch whose last fetched epoch diverged from its log
//! with the diverging epoch, as a broker does (KIP-320), and at the end every
//! record the application holds must be the one the log holds at its offset.

// A test harness: its checks are panics by design.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kwire_proto::ErrorCode;
use kwire_proto::msg::fetch::{FetchPartition, FetchResponse, FetchTopic};

use super::*;
use crate::{FetchConfig, FetchError, FetchEvent, OffsetReset, OffsetSpec, StartOffset};

const TOPIC: &str = "sim";
const PARTITIONS: i32 = 3;
const BROKERS: i32 = 3;
/// Records per batch in the model's logs.
const BATCH: i64 = 3;

/// splitmix64: small, seedable, good enough for schedules. Under fuzzing
/// the choices come from the input's bytes first (one byte per choice), then
/// from splitmix64 seeded with the input's length, so that every input ends.
struct Rng {
    state: u64,
    bytes: Vec<u8>,
    pos: usize,
}

#[cfg(test)]
#[allow(non_snake_case)]
fn Rng(seed: u64) -> Rng {
    Rng { state: seed, bytes: Vec::new(), pos: 0 }
}

impl Rng {
    fn from_bytes(bytes: &[u8]) -> Rng {
        Rng { state: bytes.len() as u64, bytes: bytes.to_vec(), pos: 0 }
    }

    fn next(&mut self) -> u64 {
        if let Some(b) = self.bytes.get(self.pos) {
            self.pos += 1;
            // Spread one byte over the range so that pct() and below() see it.
            return u64::from(*b).wrapping_mul(0x0101_0101_0101_0101);
        }
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `pct`%.
    fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

#[derive(Debug, Clone)]
struct Log {
    start: i64,
    end: i64,
    leader: i32,
    epoch: i32,
    /// Leader and epoch before the last move (what stale metadata says).
    previous: (i32, i32),
    /// The leader epoch cache: (epoch, start offset), ascending.
    epochs: Vec<(i32, i64)>,
    /// How many times the log was truncated (the generation of its records).
    truncations: u32,
    /// Per offset, the generation of the record written there.
    generation: BTreeMap<i64, u32>,
}

impl Log {
    /// The epoch of the batch holding `offset`.
    fn epoch_at(&self, offset: i64) -> i32 {
        self.epochs.iter().rev().find(|(_, start)| *start <= offset).map_or(-1, |(e, _)| *e)
    }

    /// The value at `offset`.
    fn value(&self, offset: i64) -> String {
        format!("v{offset}g{}", self.generation.get(&offset).copied().unwrap_or(0))
    }

    /// The leader's `endOffsetFor(epoch)`, as Kafka's leader epoch cache
    /// answers it: the largest epoch at most `epoch` and where it ends; an
    /// epoch older than every one known ends where the first starts; an
    /// epoch newer than every one known is undefined (-1, -1).
    fn end_offset_for(&self, epoch: i32) -> (i32, i64) {
        if self.epochs.last().is_some_and(|(e, _)| *e == epoch) {
            return (epoch, self.end);
        }
        let Some(higher) = self.epochs.iter().position(|(e, _)| *e > epoch) else { return (-1, -1) };
        let end = self.epochs[higher].1;
        match higher.checked_sub(1) {
            Some(floor) => (self.epochs[floor].0, end),
            None => (epoch, end),
        }
    }

    fn append(&mut self, n: i64) {
        for o in self.end..self.end + n {
            self.generation.insert(o, self.truncations);
        }
        self.end += n;
    }
}

#[derive(Debug, Default)]
struct BrokerSession {
    epoch: i32,
    parts: BTreeMap<TopicPartition, Sent>,
}

#[derive(Debug, Default)]
struct Broker {
    sessions: HashMap<i32, BrokerSession>,
    next_id: i32,
}

/// How often things go wrong, in percent per step (or per answer).
#[derive(Debug, Clone, Copy)]
struct Faults {
    append: u64,
    leader_move: u64,
    stale_metadata: u64,
    evict_session: u64,
    retention: u64,
    lose_request: u64,
    drop_partition: u64,
    cut_batch: u64,
    lookup_fails: u64,
    /// Of the leader moves, how many are unclean and truncate the log.
    truncate: u64,
}

const CALM: Faults = Faults {
    append: 0,
    leader_move: 0,
    stale_metadata: 0,
    evict_session: 0,
    retention: 0,
    lose_request: 0,
    drop_partition: 0,
    cut_batch: 0,
    lookup_fails: 0,
    truncate: 0,
};

/// How often each thing happened over a run of schedules, to show they
/// reach the cases they are for.
#[derive(Debug, Default)]
struct Stats {
    /// Broker answers by error code (top level and partitions).
    codes: BTreeMap<i16, u64>,
    resets: u64,
    records: u64,
    truncations: u64,
    /// Fetches answered with a diverging epoch.
    diverged: u64,
}

struct Cluster {
    stats: Stats,
    logs: BTreeMap<i32, Log>,
    brokers: BTreeMap<i32, Broker>,
    topic_id: [u8; 16],
}

fn records(log: &Log, base: i64, n: i64) -> Bytes {
    use kwire_proto::records::{BatchOptions, RecordBatchBuilder};
    let opts = BatchOptions::default().base_offset(base).partition_leader_epoch(log.epoch_at(base));
    let mut b = RecordBatchBuilder::new(opts.max_batch_bytes(1 << 20));
    for i in 0..n {
        b.append(0, None, Some(log.value(base + i).as_bytes()), &[]).unwrap();
    }
    b.finish().unwrap().into_bytes()
}

impl Cluster {
    fn new(rng: &mut Rng) -> Cluster {
        let logs = (0..PARTITIONS)
            .map(|p| {
                let leader = rng.below(BROKERS as u64) as i32;
                let mut log = Log {
                    start: 0,
                    end: 0,
                    leader,
                    epoch: 0,
                    previous: (leader, 0),
                    epochs: vec![(0, 0)],
                    truncations: 0,
                    generation: BTreeMap::new(),
                };
                log.append(BATCH * rng.below(4) as i64);
                (p, log)
            })
            .collect();
        let brokers =
            (0..BROKERS).map(|b| (b, Broker { next_id: 1 + b * 1000, ..Broker::default() })).collect();
        Cluster { stats: Stats::default(), logs, brokers, topic_id: [7; 16] }
    }

    fn leader_answer(&self, rng: &mut Rng, f: &Faults, p: i32) -> LeaderAnswer {
        let log = &self.logs[&p];
        let (leader, leader_epoch) =
            if rng.pct(f.stale_metadata) { log.previous } else { (log.leader, log.epoch) };
        LeaderAnswer::Leader { topic_id: self.topic_id, leader, leader_epoch }
    }

    /// The broker's answer to one Fetch, by its rules.
    fn answer(&mut self, rng: &mut Rng, f: &Faults, plan: &FetchPlan) -> FetchResponse {
        let broker = self.brokers.entry(plan.broker).or_default();
        let mut resp = FetchResponse {
            throttle_time_ms: 0,
            error_code: ErrorCode::NONE,
            session_id: 0,
            topics: Vec::new(),
        };
        let (parts, full): (BTreeMap<TopicPartition, Sent>, bool) = match plan.session_epoch {
            -1 => (plan.include.iter().cloned().collect(), true),
            0 => {
                let parts: BTreeMap<TopicPartition, Sent> = plan.include.iter().cloned().collect();
                let id = broker.next_id;
                broker.next_id += 1;
                broker.sessions.insert(id, BrokerSession { epoch: 1, parts: parts.clone() });
                resp.session_id = id;
                (parts, true)
            }
            epoch => {
                let Some(s) = broker.sessions.get_mut(&plan.session_id) else {
                    resp.error_code = ErrorCode::FETCH_SESSION_ID_NOT_FOUND;
                    *self.stats.codes.entry(resp.error_code.0).or_default() += 1;
                    return resp;
                };
                if s.epoch != epoch {
                    resp.error_code = ErrorCode::INVALID_FETCH_SESSION_EPOCH;
                    *self.stats.codes.entry(resp.error_code.0).or_default() += 1;
                    return resp;
                }
                for tp in &plan.forgotten {
                    s.parts.remove(tp);
                }
                for (tp, sent) in &plan.include {
                    s.parts.insert(tp.clone(), *sent);
                }
                s.epoch += 1;
                resp.session_id = plan.session_id;
                (s.parts.clone(), false)
            }
        };
        let mut out = Vec::new();
        for (tp, sent) in &parts {
            let log = &self.logs[&tp.partition];
            let mut pd = FetchPartition {
                partition: tp.partition,
                error_code: ErrorCode::NONE,
                high_watermark: log.end,
                last_stable_offset: log.end,
                log_start_offset: log.start,
                diverging_epoch: (-1, -1),
                current_leader: (-1, -1),
                aborted_transactions: None,
                preferred_read_replica: -1,
                records: Bytes::new(),
            };
            if log.leader != plan.broker {
                pd.error_code = ErrorCode::NOT_LEADER_OR_FOLLOWER;
            } else if sent.leader_epoch >= 0 && sent.leader_epoch < log.epoch {
                pd.error_code = ErrorCode::FENCED_LEADER_EPOCH;
            } else if sent.leader_epoch > log.epoch {
                pd.error_code = ErrorCode::UNKNOWN_LEADER_EPOCH;
            } else if sent.last_fetched_epoch >= 0
                && sent.offset >= log.start
                && let (epoch, end) = log.end_offset_for(sent.last_fetched_epoch)
                && (epoch < sent.last_fetched_epoch || end < sent.offset)
            {
                // As the broker checks it: below the log start is out of
                // range whatever the epochs say, an undefined end is out of
                // range, and otherwise a divergence is answered before the
                // offset's range is checked.
                if epoch < 0 || end < 0 {
                    pd.error_code = ErrorCode::OFFSET_OUT_OF_RANGE;
                } else {
                    pd.diverging_epoch = (epoch, end);
                    self.stats.diverged += 1;
                }
            } else if sent.offset < log.start || sent.offset > log.end {
                pd.error_code = ErrorCode::OFFSET_OUT_OF_RANGE;
            } else if sent.offset < log.end {
                // Whole batches from the one holding the offset.
                let mut base = sent.offset - sent.offset % BATCH;
                let mut bytes = Vec::new();
                let mut last = 0;
                for _ in 0..1 + rng.below(3) {
                    if base >= log.end {
                        break;
                    }
                    last = bytes.len();
                    bytes.extend_from_slice(&records(log, base, BATCH.min(log.end - base)));
                    base += BATCH;
                }
                // Cut by max bytes inside a batch after the first (a broker
                // always returns the first whole).
                if last > 0 && rng.pct(f.cut_batch) {
                    let cut = last + rng.below((bytes.len() - last) as u64) as usize;
                    bytes.truncate(cut);
                }
                pd.records = Bytes::from(bytes);
            }
            *self.stats.codes.entry(pd.error_code.0).or_default() += 1;
            let changed = pd.error_code.is_err() || !pd.records.is_empty() || pd.diverging_epoch.0 >= 0;
            if (full || changed) && !rng.pct(f.drop_partition) {
                out.push(pd);
            }
        }
        resp.topics.push(FetchTopic { name: TOPIC.to_owned(), topic_id: self.topic_id, partitions: out });
        resp
    }

    fn step(&mut self, rng: &mut Rng, f: &Faults) {
        for log in self.logs.values_mut() {
            if rng.pct(f.append) {
                log.append(BATCH);
            }
            if rng.pct(f.leader_move) {
                log.previous = (log.leader, log.epoch);
                log.leader = (log.leader + 1 + rng.below(BROKERS as u64 - 1) as i32) % BROKERS;
                log.epoch += 1;
                if rng.pct(f.truncate) && log.end > log.start {
                    // Unclean: the new leader had the log only up to a batch
                    // boundary; what it lacks is gone.
                    let batches = (log.end - log.start) / BATCH;
                    let at = log.start + BATCH * rng.below(batches as u64) as i64;
                    log.end = at;
                    log.epochs.retain(|(_, start)| *start < at);
                    log.truncations += 1;
                    self.stats.truncations += 1;
                }
                log.epochs.push((log.epoch, log.end));
            }
            if rng.pct(f.retention) && log.start + BATCH <= log.end {
                log.start += BATCH;
            }
        }
        for b in self.brokers.values_mut() {
            if rng.pct(f.evict_session) {
                b.sessions.clear();
            }
        }
    }
}

/// What the application saw of one partition: the next offset it expects
/// (`None` before the first record or reset: the start is the first lookup's).
#[derive(Debug, Default)]
struct Seen {
    next: Option<i64>,
    /// What the application holds: offset → value.
    held: BTreeMap<i64, String>,
}

fn consume(ev: FetchEvent, seen: &mut BTreeMap<i32, Seen>, cluster: &mut Cluster, seed: u64) {
    match ev {
        FetchEvent::Records(chunk) => {
            let s = seen.entry(chunk.tp.partition).or_default();
            chunk
                .for_each_record(|_, r| {
                    if let Some(next) = s.next {
                        assert_eq!(r.offset, next, "seed {seed}: {} out of order", chunk.tp);
                    }
                    let value = String::from_utf8(r.value.unwrap_or_default().to_vec()).unwrap();
                    assert!(
                        value.starts_with(&format!("v{}g", r.offset)),
                        "seed {seed}: wrong record at offset {}: {value}",
                        r.offset
                    );
                    s.held.insert(r.offset, value);
                    s.next = Some(r.offset + 1);
                    cluster.stats.records += 1;
                    std::ops::ControlFlow::Continue(())
                })
                .unwrap();
        }
        FetchEvent::Reset { tp, from, to } => {
            let s = seen.entry(tp.partition).or_default();
            let log = &cluster.logs[&tp.partition];
            // Everything before the old position was delivered; the new one
            // is ahead of it (reset to the log start after retention), or
            // behind it after a truncation: what was held from there on is
            // gone from the log.
            assert_eq!(s.next.unwrap_or(from), from, "seed {seed}: {tp} reset from {from}");
            // (The log may have been cut below `to` since it was read.)
            assert!(
                (to > from && to <= log.end) || log.truncations > 0,
                "seed {seed}: {tp} reset {from}->{to}"
            );
            s.held.retain(|o, _| *o < to);
            s.next = Some(to);
            cluster.stats.resets += 1;
        }
        FetchEvent::Error { tp, error } => panic!("seed {seed}: {tp} failed: {error}"),
    }
}

/// One schedule: `steps` faulty steps, then calm until everything is read.
#[cfg(test)]
fn run(seed: u64, steps: usize, faults: Faults, cfg: FetchConfig, total: &mut Stats) {
    run_with(Rng(seed), seed, steps, faults, cfg, total)
}

/// A schedule whose every choice comes from `data` (structure-aware
/// fuzzing): the fault rates and the config from its first bytes, then each
/// step's choices; the same checks as the seeded schedules (a violation
/// panics, naming seed 0).
pub fn run_bytes(data: &[u8]) {
    let mut rng = Rng::from_bytes(data);
    let mut pct = |max: u64| rng.below(max + 1);
    let faults = Faults {
        append: 5 + pct(40),
        leader_move: pct(20),
        stale_metadata: pct(50),
        evict_session: pct(10),
        retention: pct(10),
        lose_request: pct(20),
        drop_partition: pct(30),
        cut_batch: pct(30),
        lookup_fails: pct(30),
        truncate: pct(60),
    };
    let cfg = FetchConfig {
        reset: OffsetReset::Earliest,
        sessions: rng.below(2) == 0,
        prefetch: 1 + rng.below(4) as usize,
        ..FetchConfig::default()
    };
    let steps = 50 + rng.below(300) as usize;
    run_with(rng, 0, steps, faults, cfg, &mut Stats::default());
}

fn run_with(mut rng: Rng, seed: u64, steps: usize, faults: Faults, cfg: FetchConfig, total: &mut Stats) {
    let mut cluster = Cluster::new(&mut rng);
    let backoff = Backoff { base: Duration::from_millis(50), max: Duration::from_millis(500) };
    let mut core = FetchCore::new(cfg, backoff);
    let mut now = Instant::now();
    let mut seen: BTreeMap<i32, Seen> = BTreeMap::new();
    let assign = (0..PARTITIONS).map(|p| (TopicPartition::new(TOPIC, p), StartOffset::Earliest, 1)).collect();
    core.assign(assign, now);
    let mut inflight: Vec<FetchPlan> = Vec::new();
    let mut lookups: Vec<OffsetLookup> = Vec::new();
    let lost = || FetchError::from(kwire_conn::ConnError::Closed { addr: "sim".into(), detail: "" });
    for step in 0..steps + 3_000 {
        let f = if step < steps { faults } else { CALM };
        // The driver's turn.
        if let Some(lookup) = core.poll_leaders(now) {
            let answer = if rng.pct(f.lookup_fails) {
                Err("metadata lost".to_owned())
            } else {
                Ok(lookup
                    .partitions
                    .iter()
                    .map(|tp| (tp.clone(), cluster.leader_answer(&mut rng, &f, tp.partition)))
                    .collect())
            };
            core.handle_leaders(lookup, answer, now);
        }
        // Offset lookups run on their own tasks in the driver: answered
        // later, in any order, while fetches go on.
        lookups.extend(core.poll_offsets(now));
        while !lookups.is_empty() && rng.pct(50) {
            let lookup = lookups.swap_remove(rng.below(lookups.len() as u64) as usize);
            let answer = if rng.pct(f.lookup_fails) {
                Err(lost())
            } else {
                Ok(lookup
                    .specs
                    .iter()
                    .map(|spec| {
                        lookup
                            .partitions
                            .iter()
                            .map(|tp| {
                                let log = &cluster.logs[&tp.partition];
                                let off = match spec {
                                    OffsetSpec::Earliest => log.start,
                                    OffsetSpec::Latest | OffsetSpec::Timestamp(_) => log.end,
                                };
                                (tp.clone(), off)
                            })
                            .collect()
                    })
                    .collect())
            };
            core.handle_offsets(lookup, answer, now);
        }
        inflight.extend(core.poll_fetches(now));
        // The brokers answer some requests, in any order.
        while !inflight.is_empty() && rng.pct(60) {
            let plan = inflight.swap_remove(rng.below(inflight.len() as u64) as usize);
            let outcome = if rng.pct(f.lose_request) {
                if rng.pct(50) {
                    // Written and handled; the answer is what got lost.
                    cluster.answer(&mut rng, &f, &plan);
                }
                FetchOutcome::Lost(lost())
            } else {
                FetchOutcome::Response { version: 12, response: cluster.answer(&mut rng, &f, &plan) }
            };
            core.handle_fetch(plan.id, outcome, now);
        }
        // The application reads some events.
        for _ in 0..rng.below(4) {
            match core.pop_event() {
                Some(ev) => consume(ev, &mut seen, &mut cluster, seed),
                None => break,
            }
        }
        cluster.step(&mut rng, &f);
        now += Duration::from_millis(rng.below(200));
        if step >= steps {
            // Caught up, and what the application holds is what the logs
            // hold: every truncation that cut into it was seen (a position
            // can equal the log end again after a truncation and new
            // records: only the next fetch tells).
            let done = cluster.logs.iter().all(|(p, log)| match seen.get(p) {
                Some(Seen { next: Some(next), held }) => {
                    *next == log.end && held.range(log.start..).all(|(o, v)| *v == log.value(*o))
                }
                _ => log.start == log.end,
            });
            if done && !core.has_events() {
                for (code, n) in &cluster.stats.codes {
                    *total.codes.entry(*code).or_default() += n;
                }
                total.resets += cluster.stats.resets;
                total.records += cluster.stats.records;
                total.truncations += cluster.stats.truncations;
                total.diverged += cluster.stats.diverged;
                return;
            }
        }
    }
    let ends: Vec<(i32, i64, i64)> = cluster.logs.iter().map(|(p, l)| (*p, l.start, l.end)).collect();
    let got: Vec<(i32, Option<i64>)> = seen.iter().map(|(p, s)| (*p, s.next)).collect();
    let diverged: Vec<(i32, i64)> = seen
        .iter()
        .flat_map(|(p, s)| {
            let log = &cluster.logs[p];
            s.held.range(log.start..).filter(|(o, v)| **v != log.value(**o)).map(|(o, _)| (*p, *o))
        })
        .collect();
    panic!(
        "seed {seed}: not everything read once calm: logs {ends:?}, read up to {got:?}, \
         held records the log no longer has (partition, offset): {diverged:?}"
    );
}

#[cfg(test)]
const STORMY: Faults = Faults {
    append: 20,
    leader_move: 3,
    stale_metadata: 20,
    evict_session: 2,
    retention: 2,
    lose_request: 5,
    drop_partition: 10,
    cut_batch: 15,
    lookup_fails: 10,
    truncate: 0,
};

/// Checks that a run of schedules reached each case in `codes`.
#[cfg(test)]
fn reached(stats: &Stats, codes: &[ErrorCode], resets: bool) {
    for c in codes {
        assert!(stats.codes.get(&c.0).is_some_and(|n| *n > 0), "never answered {c}: {stats:?}");
    }
    assert!(!resets || stats.resets > 0, "no reset: {stats:?}");
    assert!(stats.records > 10_000, "{stats:?}");
}

#[cfg(test)]
#[test]
fn sim_random_schedules_deliver_every_record_once_in_order() {
    let cfg = FetchConfig { reset: OffsetReset::Earliest, ..FetchConfig::default() };
    let mut stats = Stats::default();
    for seed in 0..300 {
        run(seed, 400, STORMY, cfg.clone(), &mut stats);
    }
    reached(
        &stats,
        &[
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            ErrorCode::FENCED_LEADER_EPOCH,
            ErrorCode::OFFSET_OUT_OF_RANGE,
            ErrorCode::FETCH_SESSION_ID_NOT_FOUND,
        ],
        true,
    );
}

#[cfg(test)]
#[test]
fn sim_random_schedules_without_sessions() {
    let cfg = FetchConfig { reset: OffsetReset::Earliest, sessions: false, ..FetchConfig::default() };
    let mut stats = Stats::default();
    for seed in 1_000..1_100 {
        run(seed, 400, STORMY, cfg.clone(), &mut stats);
    }
    reached(&stats, &[ErrorCode::NOT_LEADER_OR_FOLLOWER, ErrorCode::OFFSET_OUT_OF_RANGE], true);
    assert!(!stats.codes.contains_key(&ErrorCode::FETCH_SESSION_ID_NOT_FOUND.0));
}

#[cfg(test)]
#[test]
fn sim_small_prefetch_and_many_leader_moves() {
    let cfg = FetchConfig { reset: OffsetReset::Earliest, prefetch: 1, ..FetchConfig::default() };
    let faults = Faults { leader_move: 15, stale_metadata: 40, ..STORMY };
    let mut stats = Stats::default();
    for seed in 2_000..2_100 {
        run(seed, 300, faults, cfg.clone(), &mut stats);
    }
    reached(&stats, &[ErrorCode::NOT_LEADER_OR_FOLLOWER, ErrorCode::FENCED_LEADER_EPOCH], false);
}

#[cfg(test)]
#[test]
fn sim_unclean_elections_truncate_logs_and_the_fetcher_follows_the_diverging_epoch() {
    let cfg = FetchConfig { reset: OffsetReset::Earliest, ..FetchConfig::default() };
    let faults = Faults { leader_move: 8, truncate: 50, ..STORMY };
    let mut stats = Stats::default();
    for seed in 3_000..3_200 {
        run(seed, 400, faults, cfg.clone(), &mut stats);
    }
    reached(&stats, &[ErrorCode::NOT_LEADER_OR_FOLLOWER, ErrorCode::FENCED_LEADER_EPOCH], true);
    assert!(stats.truncations > 100 && stats.diverged > 50, "{stats:?}");
}

/// The fuzz target's entry point on fixed inputs: schedules chosen byte by
/// byte pass the same checks (and every input ends).
#[cfg(test)]
#[test]
fn sim_schedules_from_bytes() {
    let mut source = Rng(77);
    for n in 0..40usize {
        let data: Vec<u8> = (0..n * 16).map(|_| source.next() as u8).collect();
        run_bytes(&data);
    }
    run_bytes(&[0xff; 512]);
    run_bytes(&[0; 512]);
}
