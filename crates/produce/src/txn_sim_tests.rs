//! The transactional producer on a virtual clock against the simulated
//! cluster and its transaction coordinator ([`SimCluster`], `sim/txn.rs`):
//! seeded random schedules of an application that runs transactions
//! (records to 4 partitions, sometimes a consumer group's offsets, commit or
//! abort) while the harness loses connections and responses, moves leaders
//! and the coordinator, delays transaction markers (CONCURRENT_TRANSACTIONS),
//! times transactions out, rebalances the group (KIP-447 fencing) and starts
//! new instances with the same transactional id that fence the old ones
//! (whose requests may still arrive late). Each schedule is checked for:
//!
//! - atomicity: a read_committed reader sees all of a transaction's
//!   records or none, each at most once, in send order per partition;
//! - a commit the application saw succeed is visible, whole; a transaction
//!   aborted, or fenced before its commit was asked for, is invisible;
//! - every record gets exactly one outcome; the records of a committed
//!   transaction all succeeded, at the offsets the log holds;
//! - the group's committed offset only ever takes the values of visible
//!   transactions, and ends at the last one's;
//! - no transaction is left open, and no batch was sent to a partition
//!   before it was in the transaction (the broker's verification refused
//!   none of the live requests).
//!
//! `KWIRE_SIM_SEEDS=N` runs N schedules per test (default 600);
//! `KWIRE_SIM_SEED=S` replays one, `KWIRE_SIM_TRACE=1` prints it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kwire_proto::ErrorCode;
use kwire_proto::msg::txn::TxnGroupMetadata;

use crate::ProduceError;
use crate::ProducerConfig;
use crate::accumulator::Appended;
use crate::batch::{Completion, Key};
use crate::engine::{Engine, SendOutcome};
use crate::sim::SimCluster;
use crate::txn::{TxnRequest, TxnResponse, TxnState};

const PARTITIONS: i32 = 4;
const BROKERS: i32 = 3;
const TXN_ID: &str = "tx";
const GROUP: &str = "g";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// Fault rates, in per mille per step.
#[derive(Clone, Copy, Debug)]
struct Faults {
    /// A produce connection drops (the broker may still process what it read).
    disconnect: u64,
    leader_move: u64,
    /// A coordinator request's answer is lost (processed or not).
    coordinator_lost: u64,
    coordinator_move: u64,
    /// A new instance with the same transactional id starts.
    takeover: u64,
    rebalance: u64,
    /// Per mille of schedules with a short transaction timeout.
    short_timeouts: u64,
}

/// How the application saw a transaction end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Open,
    /// commit_transaction() was called; no outcome yet.
    CommitAsked,
    Committed,
    Aborted,
    /// Fenced or failed before a commit was asked for: it can't be committed.
    NeverCommitted,
    /// Fenced or failed after the commit was asked for: either way, whole.
    Unknown,
}

#[derive(Debug)]
struct Txn {
    instance: usize,
    records: Vec<String>,
    /// The group offset it sends (its number + 1).
    offset: Option<i64>,
    seen: Seen,
}

/// What the application is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum App {
    Init,
    Idle,
    Sending { left: usize, offsets: bool, abort: bool },
    Offsets { abort: bool },
    Committing,
    Aborting,
    Dead,
}

/// A produce request's parts as the broker sees them.
type Parts = Vec<(Arc<str>, i32, Bytes)>;

/// A produce request on a connection.
struct Wire {
    id: u64,
    parts: Parts,
}

/// A coordinator request in flight, with what the driver knew when sending it.
struct CoordCall {
    req: TxnRequest,
    coordinator: Option<i32>,
    producer: Option<(i64, i16)>,
}

struct Instance {
    engine: Engine<u64>,
    app: App,
    txn: Option<u64>,
    /// The group generation the member knows.
    generation: i32,
    conns: HashMap<i32, VecDeque<Wire>>,
    coord: Option<CoordCall>,
    /// When the application asked to commit or abort.
    asked: Option<Instant>,
    next_handle: u64,
    /// handle → (txn, partition, value) per record, in append order.
    handles: HashMap<u64, Vec<String>>,
    outcomes: HashMap<(u64, u32), Vec<Result<i64, ProduceError>>>,
}

impl Instance {
    fn new(generation: i32) -> Instance {
        let cfg = ProducerConfig {
            batch_size: 180,
            linger: Duration::from_millis(5),
            retry_backoff: Duration::from_millis(10),
            retry_backoff_max: Duration::from_millis(100),
            delivery_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            transactional_id: Some(TXN_ID.to_owned()),
            ..ProducerConfig::default()
        };
        let mut engine = Engine::new(cfg);
        engine.txn_init().expect("init");
        Instance {
            engine,
            app: App::Init,
            txn: None,
            generation,
            conns: HashMap::new(),
            coord: None,
            asked: None,
            next_handle: 0,
            handles: HashMap::new(),
            outcomes: HashMap::new(),
        }
    }

    /// Appends one record; false when the transaction refuses it.
    fn send(&mut self, key: &Key, value: &str, now: Instant) -> bool {
        loop {
            match self.engine.try_append(key, 1, None, Some(value.as_bytes()), &[]) {
                Ok(Appended::Done(h, i)) => {
                    let recs = self.handles.entry(h).or_default();
                    assert_eq!(recs.len(), i as usize);
                    recs.push(value.to_owned());
                    return true;
                }
                Ok(Appended::NeedBatch(_)) => {
                    let h = self.next_handle;
                    self.next_handle += 1;
                    assert!(self.engine.open_batch(key, 0, h, now));
                }
                Err(_) => return false,
            }
        }
    }

    fn collect(&mut self) {
        for Completion { delivery, first, count, result } in self.engine.take_completions() {
            for i in first..first + count {
                let r = match &result {
                    Ok(ack) => Ok(ack.base_offset + i64::from(i - first)),
                    Err(e) => Err(e.clone()),
                };
                self.outcomes.entry((delivery, i)).or_default().push(r);
            }
        }
    }

    /// value → outcomes.
    fn by_value(&self) -> BTreeMap<String, Vec<Result<i64, ProduceError>>> {
        let mut out = BTreeMap::new();
        for (h, recs) in &self.handles {
            for (i, v) in recs.iter().enumerate() {
                out.insert(v.clone(), self.outcomes.get(&(*h, i as u32)).cloned().unwrap_or_default());
            }
        }
        out
    }
}

/// A commit or abort ends within 10 s of virtual time: every fault here is
/// over in milliseconds, retries back off 1 s at most.
fn check_duration(inst: &Instance, what: &str, now: Instant) -> Result<(), String> {
    match inst.asked.map(|t| now - t) {
        Some(d) if d > Duration::from_secs(10) => Err(format!("the {what} took {d:?}")),
        _ => Ok(()),
    }
}

/// Runs `call` against the simulated cluster: the response the driver would get.
fn execute(sim: &mut SimCluster, call: &CoordCall, now: Instant) -> TxnResponse {
    let producer = call.producer.unwrap_or((-1, -1));
    let Some(broker) = call.coordinator.or(matches!(call.req, TxnRequest::FindCoordinator).then_some(0))
    else {
        return TxnResponse::Lost("no coordinator known".to_owned());
    };
    match &call.req {
        TxnRequest::FindCoordinator => TxnResponse::Coordinator(Ok(sim.txn.broker)),
        TxnRequest::InitProducerId { current } => match sim.init_producer_id(broker, TXN_ID, *current, now) {
            Ok((producer_id, epoch)) => {
                TxnResponse::InitProducerId { code: ErrorCode::NONE, producer_id, epoch, tv2: sim.txn.tv2 }
            }
            Err(code) => TxnResponse::InitProducerId { code, producer_id: -1, epoch: -1, tv2: false },
        },
        TxnRequest::AddPartitions(keys) => {
            let parts: Vec<(String, i32)> = keys.iter().map(|(t, p)| (t.to_string(), *p)).collect();
            let codes = sim.add_partitions(broker, TXN_ID, producer, &parts, now);
            TxnResponse::AddPartitions(keys.iter().cloned().zip(codes).collect())
        }
        TxnRequest::AddOffsets { group_id } => {
            TxnResponse::AddOffsets(sim.add_offsets(broker, TXN_ID, producer, group_id, now))
        }
        TxnRequest::TxnOffsetCommit { group, offsets } => {
            let offs: Vec<_> = offsets.iter().map(|((t, p), o)| (t.to_string(), *p, *o)).collect();
            TxnResponse::TxnOffsetCommit(sim.txn_offset_commit(
                TXN_ID,
                producer,
                &group.group_id,
                group.generation_id,
                &offs,
                now,
            ))
        }
        TxnRequest::EndTxn { commit } => {
            let (code, producer_id, epoch) = sim.end_txn(broker, TXN_ID, producer, *commit, now);
            TxnResponse::EndTxn { code, producer_id, epoch }
        }
    }
}

/// What a schedule went through.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    committed: usize,
    aborted: usize,
    /// Instances fenced by a newer one or by a timeout.
    fenced: usize,
    /// Transactions whose commit outcome the application never learnt.
    unknown: usize,
}

/// One schedule. Returns what the application saw, or the first broken
/// invariant.
fn run_schedule(seed: u64, faults: Faults) -> Result<Stats, String> {
    let trace = std::env::var_os("KWIRE_SIM_TRACE").is_some();
    let mut rng = Rng(seed);
    let mut sim = SimCluster::new(BROKERS, &[("t", PARTITIONS), ("in", 1)]);
    sim.txn.end_bumps = rng.chance(500);
    sim.txn.tv2 = rng.chance(400);
    if rng.chance(faults.short_timeouts) {
        sim.txn.timeout = Duration::from_millis(400 + rng.below(1500));
    }
    sim.txn.generations.insert(GROUP.to_owned(), 1);
    let mut view: HashMap<i32, Option<i32>> = (0..PARTITIONS).map(|p| (p, sim.leader("t", p))).collect();
    let mut instances = vec![Instance::new(1)];
    let mut txns: BTreeMap<u64, Txn> = BTreeMap::new();
    let mut sent_per_part = [0u32; PARTITIONS as usize];
    let mut stragglers: Vec<(i32, Parts)> = Vec::new();
    let target = 6 + rng.below(10);
    let mut now = Instant::now();
    let mut steps = 0u64;
    loop {
        steps += 1;
        if steps > 100_000 {
            let states: Vec<_> = instances.iter().map(|i| (i.app, i.engine.txn_state().cloned())).collect();
            return Err(format!("no progress after {steps} steps: {states:?}"));
        }
        let quiet = steps > 4_000;
        now += Duration::from_millis(1 + rng.below(10));
        let current = instances.len() - 1;
        let committed = txns.values().filter(|t| t.seen == Seen::Committed).count() as u64;
        let finishing = committed >= target || quiet && txns.len() as u64 >= target;

        // The application, on every live instance (old ones are zombies).
        for (n, inst) in instances.iter_mut().enumerate() {
            let state = inst.engine.txn_state().cloned().expect("transactional");
            let end = |txns: &mut BTreeMap<u64, Txn>, inst: &Instance, seen: Seen| {
                if let Some(t) = inst.txn.and_then(|t| txns.get_mut(&t)) {
                    if trace {
                        eprintln!("{steps}: instance {n} txn {:?}: {seen:?}", inst.txn);
                    }
                    t.seen = seen;
                }
            };
            if inst.app != App::Dead && matches!(state, TxnState::Fenced | TxnState::FatalError(_)) {
                if let TxnState::FatalError(why) = &state {
                    if n == current {
                        return Err(format!("instance {n} failed fatally: {why}"));
                    }
                }
                let seen = match inst.app {
                    App::Committing => Seen::Unknown,
                    _ => Seen::NeverCommitted,
                };
                if inst.txn.is_some_and(|t| {
                    txns.get(&t).is_some_and(|t| t.seen == Seen::Open || t.seen == Seen::CommitAsked)
                }) {
                    end(&mut txns, inst, seen);
                }
                inst.app = App::Dead;
                continue;
            }
            match inst.app {
                App::Dead => {}
                App::Init => {
                    if state == TxnState::Ready {
                        inst.app = App::Idle;
                    }
                }
                App::Idle if n == current && !finishing && rng.chance(300) => {
                    inst.engine.txn_begin().map_err(|e| format!("begin: {e}"))?;
                    let no = txns.len() as u64;
                    let offsets = rng.chance(700);
                    txns.insert(
                        no,
                        Txn {
                            instance: n,
                            records: Vec::new(),
                            offset: offsets.then_some(no as i64 + 1),
                            seen: Seen::Open,
                        },
                    );
                    inst.txn = Some(no);
                    inst.generation = sim.txn.generations[GROUP];
                    let left = 1 + rng.below(6) as usize;
                    inst.app = App::Sending { left, offsets, abort: rng.chance(100) };
                }
                App::Idle => {}
                App::Sending { left, offsets, abort } => {
                    if matches!(state, TxnState::AbortableError(_)) {
                        inst.engine.txn_abort().map_err(|e| format!("abort: {e}"))?;
                        inst.asked = Some(now);
                        inst.app = App::Aborting;
                        continue;
                    }
                    if !rng.chance(500) {
                        continue;
                    }
                    let no = inst.txn.expect("txn");
                    let p = rng.below(PARTITIONS as u64) as i32;
                    let seq = sent_per_part[p as usize];
                    let value = format!("p{p}-{seq:06}-t{no}");
                    let key: Key = (Arc::from("t"), p);
                    if inst.send(&key, &value, now) {
                        sent_per_part[p as usize] += 1;
                        txns.get_mut(&no).expect("txn").records.push(value);
                    }
                    inst.app = if left > 1 {
                        App::Sending { left: left - 1, offsets, abort }
                    } else if offsets {
                        let group = TxnGroupMetadata {
                            group_id: GROUP.to_owned(),
                            generation_id: inst.generation,
                            member_id: format!("member-{n}"),
                            group_instance_id: None,
                        };
                        let offs = vec![((Arc::from("in"), 0), no as i64 + 1)];
                        match inst.engine.txn_send_offsets(group, offs) {
                            Ok(()) => App::Offsets { abort },
                            Err(_) => App::Offsets { abort: true },
                        }
                    } else {
                        App::Offsets { abort }
                    };
                }
                App::Offsets { abort } => {
                    if matches!(state, TxnState::AbortableError(_))
                        || abort && state == TxnState::InTransaction
                    {
                        inst.engine.txn_abort().map_err(|e| format!("abort: {e}"))?;
                        inst.asked = Some(now);
                        inst.app = App::Aborting;
                    } else if !inst.engine.txn_offsets_pending() {
                        inst.engine.txn_commit().map_err(|e| format!("commit: {e}"))?;
                        inst.asked = Some(now);
                        end(&mut txns, inst, Seen::CommitAsked);
                        inst.app = App::Committing;
                    }
                }
                App::Committing => match state {
                    TxnState::Ready if inst.engine.txn_last_end() == Some(true) => {
                        check_duration(inst, "commit", now)?;
                        end(&mut txns, inst, Seen::Committed);
                        inst.app = App::Idle;
                    }
                    TxnState::AbortableError(_) => {
                        inst.engine.txn_abort().map_err(|e| format!("abort: {e}"))?;
                        inst.asked = Some(now);
                        inst.app = App::Aborting;
                    }
                    _ => {}
                },
                App::Aborting => {
                    if matches!(state, TxnState::Ready | TxnState::Initializing)
                        && inst.engine.txn_last_end() == Some(false)
                    {
                        check_duration(inst, "abort", now)?;
                        end(&mut txns, inst, Seen::Aborted);
                        inst.app = if state == TxnState::Ready { App::Idle } else { App::Init };
                    }
                }
            }
        }

        // Each instance's driver: plan, send, poll the coordinator.
        for (n, inst) in instances.iter_mut().enumerate() {
            let polled = inst.engine.poll_requests(now, &|_, p| view.get(&p).copied().flatten());
            for req in polled.requests {
                let parts: Vec<_> =
                    req.batches.iter().map(|((t, p), b)| (t.clone(), *p, b.clone())).collect();
                inst.conns.entry(req.broker).or_default().push_back(Wire { id: req.id, parts });
            }
            if !polled.refresh.is_empty() {
                for p in 0..PARTITIONS {
                    view.insert(p, sim.leader("t", p));
                }
            }
            if inst.coord.is_none() {
                if let Some(req) = inst.engine.poll_txn_request(now) {
                    if trace {
                        eprintln!(
                            "{steps}: instance {n} -> {req:?} (producer {:?})",
                            inst.engine.txn_producer()
                        );
                    }
                    let (coordinator, producer) = (inst.engine.txn_coordinator(), inst.engine.txn_producer());
                    inst.coord = Some(CoordCall { req, coordinator, producer });
                }
            }
            inst.collect();
        }

        // Faults.
        if !quiet && rng.chance(faults.leader_move) {
            let p = rng.below(PARTITIONS as u64) as i32;
            sim.move_leader("t", p, Some(1 + rng.below(BROKERS as u64) as i32));
        }
        if !quiet && rng.chance(faults.coordinator_move) {
            sim.txn.broker = 1 + rng.below(BROKERS as u64) as i32;
        }
        if !quiet && rng.chance(faults.rebalance) {
            *sim.txn.generations.get_mut(GROUP).expect("group") += 1;
        }
        if !quiet && instances.len() < 4 && rng.chance(faults.takeover) {
            if trace {
                eprintln!("{steps}: a new instance starts");
            }
            instances.push(Instance::new(sim.txn.generations[GROUP]));
        }
        if instances.last().is_some_and(|i| i.app == App::Dead) {
            if instances.len() >= 12 {
                return Err("every instance was fenced".to_owned());
            }
            instances.push(Instance::new(sim.txn.generations[GROUP]));
        }
        if rng.chance(300) {
            sim.complete_transactions();
        }
        for inst in &mut instances {
            if !quiet && rng.chance(faults.disconnect) {
                let b = 1 + rng.below(BROKERS as u64) as i32;
                if let Some(q) = inst.conns.remove(&b) {
                    let read = rng.below(q.len() as u64 + 1) as usize;
                    for (i, w) in q.into_iter().enumerate() {
                        if i < read {
                            stragglers.push((b, w.parts));
                        }
                        inst.engine.handle_response(w.id, SendOutcome::Lost(format!("broker {b} gone")), now);
                    }
                }
            }
        }
        if !stragglers.is_empty() && rng.chance(if quiet { 1000 } else { 150 }) {
            let i = rng.below(stragglers.len() as u64) as usize;
            let (b, parts) = stragglers.swap_remove(i);
            sim.produce(b, &parts, now);
        }

        // The brokers answer.
        for (n, inst) in instances.iter_mut().enumerate() {
            for b in 1..=BROKERS {
                if !rng.chance(600) {
                    continue;
                }
                let Some(w) = inst.conns.get_mut(&b).and_then(VecDeque::pop_front) else { continue };
                let resp = sim.produce(b, &w.parts, now);
                for (t, ps) in &resp.topics {
                    for p in ps {
                        if p.error_code == ErrorCode::INVALID_TXN_STATE {
                            return Err(format!(
                                "instance {n}: a batch for {t}-{} went before its partition was in the transaction: {:?}",
                                p.partition, p.error_message
                            ));
                        }
                    }
                }
                let refresh = inst.engine.handle_response(w.id, SendOutcome::Response(resp), now);
                if !refresh.is_empty() {
                    for p in 0..PARTITIONS {
                        view.insert(p, sim.leader("t", p));
                    }
                }
            }
            if inst.coord.is_some() && rng.chance(500) {
                let call = inst.coord.take().expect("call");
                let lost = !quiet && rng.chance(faults.coordinator_lost);
                let resp = if lost && rng.chance(500) {
                    TxnResponse::Lost("not processed".to_owned())
                } else {
                    let r = execute(&mut sim, &call, now);
                    if lost { TxnResponse::Lost(format!("answer lost: {r:?}")) } else { r }
                };
                if trace {
                    eprintln!("{steps}: instance {n} <- {resp:?}");
                }
                inst.engine.handle_txn_response(resp, now);
            }
            inst.collect();
        }

        let settled = instances.iter().all(|i| {
            matches!(i.app, App::Idle | App::Dead)
                && i.engine.outstanding() == 0
                && i.coord.is_none()
                && i.conns.values().all(VecDeque::is_empty)
        });
        if finishing && settled && stragglers.is_empty() {
            break;
        }
    }
    // The end: open transactions time out, markers are written.
    sim.expire_transactions(now + Duration::from_secs(3600));
    sim.complete_transactions();
    let (committed, aborted) = check(&sim, &instances, &txns)?;
    Ok(Stats {
        committed,
        aborted,
        fenced: instances.iter().filter(|i| i.engine.txn_state() == Some(&TxnState::Fenced)).count(),
        unknown: txns.values().filter(|t| t.seen == Seen::Unknown).count(),
    })
}

/// The invariants.
fn check(
    sim: &SimCluster,
    instances: &[Instance],
    txns: &BTreeMap<u64, Txn>,
) -> Result<(usize, usize), String> {
    let mut outcomes = BTreeMap::new();
    for inst in instances {
        outcomes.extend(inst.by_value());
    }
    // value → offset as read_committed sees it.
    let mut visible: HashMap<String, i64> = HashMap::new();
    for p in 0..PARTITIONS {
        let (recs, open) = sim.read_committed("t", p);
        if open > 0 {
            return Err(format!("partition {p}: {open} transactional records without a marker"));
        }
        let mut last: Option<String> = None;
        for r in recs {
            let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
            let order = v.split('-').take(2).collect::<Vec<_>>().join("-");
            if last.as_ref().is_some_and(|l| *l >= order) {
                return Err(format!("partition {p}: {v} is visible after {last:?}"));
            }
            last = Some(order);
            if visible.insert(v.clone(), r.offset).is_some() {
                return Err(format!("partition {p}: {v} is visible twice"));
            }
        }
    }
    let (mut committed, mut aborted) = (0, 0);
    for (no, t) in txns {
        let shown = t.records.iter().filter(|v| visible.contains_key(*v)).count();
        if shown != 0 && shown != t.records.len() {
            return Err(format!("txn {no} ({:?}): {shown} of {} records visible", t.seen, t.records.len()));
        }
        match t.seen {
            Seen::Committed => {
                committed += 1;
                if shown != t.records.len() {
                    return Err(format!("txn {no} was committed, its records are not visible"));
                }
                for v in &t.records {
                    match outcomes.get(v).map(|o| &o[..]) {
                        Some([Ok(off)]) if visible.get(v) == Some(off) => {}
                        other => {
                            return Err(format!(
                                "txn {no} committed: {v} has outcome {other:?}, visible at {:?}",
                                visible.get(v)
                            ));
                        }
                    }
                }
            }
            Seen::Aborted | Seen::NeverCommitted if shown > 0 => {
                return Err(format!("txn {no} ({:?}, instance {}) is visible", t.seen, t.instance));
            }
            Seen::Aborted => aborted += 1,
            Seen::Open | Seen::CommitAsked => {
                return Err(format!("txn {no} (instance {}) never ended: {:?}", t.instance, t.seen));
            }
            _ => {}
        }
        for v in &t.records {
            match outcomes.get(v).map(Vec::len) {
                Some(1) => {}
                n => return Err(format!("txn {no}: {v} has {n:?} outcomes")),
            }
        }
    }
    // The group's offsets commit with their transactions, and only then.
    let visible_offsets: Vec<i64> = txns
        .values()
        .filter(|t| t.records.first().is_some_and(|v| visible.contains_key(v)))
        .filter_map(|t| t.offset)
        .collect();
    for (k, o) in &sim.txn.offset_history {
        if !visible_offsets.contains(o) {
            return Err(format!("group offset {k:?} = {o} committed by an invisible transaction"));
        }
    }
    let last = sim.txn.group_offsets.get(&(GROUP.to_owned(), "in".to_owned(), 0)).copied();
    if last != visible_offsets.iter().max().copied() {
        return Err(format!(
            "group offset ends at {last:?}, the last visible transaction sent {visible_offsets:?}"
        ));
    }
    Ok((committed, aborted))
}

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("KWIRE_SIM_SEED") {
        return vec![s.parse().expect("KWIRE_SIM_SEED")];
    }
    let n: u64 = std::env::var("KWIRE_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    (1..=n).collect()
}

fn run_all(name: &str, faults: Faults) -> Stats {
    let mut all = Stats::default();
    for seed in seeds() {
        match run_schedule(seed, faults) {
            Ok(s) => {
                all.committed += s.committed;
                all.aborted += s.aborted;
                all.fenced += s.fenced;
                all.unknown += s.unknown;
            }
            Err(e) => panic!("{name}: seed {seed} (replay: KWIRE_SIM_SEED={seed}): {e}"),
        }
    }
    eprintln!("{name}: {all:?}");
    assert!(all.committed > 0);
    all
}

/// No faults but marker delays and voluntary aborts: every transaction the
/// application commits is visible whole, every abort invisible.
#[test]
fn sim_transactions_commit_whole_and_aborts_stay_invisible() {
    let s = run_all(
        "calm",
        Faults {
            disconnect: 0,
            leader_move: 0,
            coordinator_lost: 0,
            coordinator_move: 0,
            takeover: 0,
            rebalance: 0,
            short_timeouts: 0,
        },
    );
    assert_eq!((s.fenced, s.unknown), (0, 0), "{s:?}");
}

/// Lost connections and coordinator answers, leader and coordinator moves,
/// rebalances, timeouts and new instances fencing old ones: still atomic,
/// still exactly once.
#[test]
fn sim_transactions_stay_atomic_under_faults_fencing_and_timeouts() {
    let s = run_all(
        "faults",
        Faults {
            disconnect: 6,
            leader_move: 5,
            coordinator_lost: 60,
            coordinator_move: 4,
            takeover: 2,
            rebalance: 3,
            short_timeouts: 200,
        },
    );
    // The faults happened: instances were fenced, commits went unanswered.
    assert!(s.fenced > 0 && s.unknown > 0 && s.aborted > 0, "{s:?}");
}

/// An abort waits for the batches already sent, and sends their retries:
/// a batch refused with a retriable error just before the abort goes again
/// (held back, it would keep the abort waiting for the delivery timeout).
#[test]
fn an_abort_sends_the_retries_of_batches_already_sent() {
    let now = Instant::now();
    let mut sim = SimCluster::new(1, &[("t", 1)]);
    let mut inst = Instance::new(1);
    let leaders: HashMap<i32, Option<i32>> = [(0, Some(1))].into();
    let drive = |inst: &mut Instance, sim: &mut SimCluster, fail_produce: bool| {
        for _ in 0..20 {
            if let Some(req) = inst.engine.poll_txn_request(now) {
                let call = CoordCall {
                    req,
                    coordinator: inst.engine.txn_coordinator(),
                    producer: inst.engine.txn_producer(),
                };
                let resp = execute(sim, &call, now);
                inst.engine.handle_txn_response(resp, now);
            }
            let polled = inst.engine.poll_requests(now + Duration::from_secs(1), &|_, p| leaders[&p]);
            for req in polled.requests {
                let parts: Parts = req.batches.iter().map(|((t, p), b)| (t.clone(), *p, b.clone())).collect();
                let mut resp = sim.produce(1, &parts, now);
                if fail_produce {
                    resp.topics[0].1[0].error_code = ErrorCode::NOT_LEADER_OR_FOLLOWER;
                }
                inst.engine.handle_response(req.id, SendOutcome::Response(resp), now);
            }
            inst.collect();
        }
    };
    drive(&mut inst, &mut sim, false);
    assert_eq!(inst.engine.txn_state(), Some(&TxnState::Ready));
    inst.engine.txn_begin().unwrap();
    assert!(inst.send(&(Arc::from("t"), 0), "a", now));
    inst.engine.set_flushing(true);
    // Sent (and written), answered NOT_LEADER_OR_FOLLOWER: to be retried.
    drive(&mut inst, &mut sim, true);
    assert_eq!(inst.engine.outstanding(), 1);
    inst.engine.txn_abort().unwrap();
    drive(&mut inst, &mut sim, false);
    assert_eq!(inst.engine.outstanding(), 0, "the retry went and was answered");
    assert_eq!(inst.engine.txn_last_end(), Some(false), "the abort ended");
    sim.complete_transactions();
    assert!(sim.read_committed("t", 0).0.is_empty());
    assert_eq!(sim.log("t", 0).iter().filter(|r| r.control.is_none()).count(), 1, "written once");
}
