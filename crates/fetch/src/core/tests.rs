//! The fetch core on a virtual clock: each test is one scenario, driven
//! through `poll_*` / `handle_*` exactly as the driver does, with responses
//! built by hand (record batches from kwire-proto's encoder).

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kwire_conn::ConnError;
use kwire_proto::ErrorCode;
use kwire_proto::msg::fetch::{AbortedTransaction, FetchPartition, FetchResponse, FetchTopic};
use kwire_proto::records::{BatchOptions, ControlRecord, ControlType, RecordBatchBuilder};

use super::*;
use crate::{FetchConfig, FetchError, FetchEvent, IsolationLevel, OffsetReset, OffsetSpec, StartOffset};

const BACKOFF: Backoff = Backoff { base: Duration::from_millis(100), max: Duration::from_secs(1) };
const T: &str = "t";

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new(T, p)
}

fn id_of(topic: &str) -> [u8; 16] {
    let mut id = [0u8; 16];
    for (i, b) in topic.bytes().enumerate().take(16) {
        id[i] = b;
    }
    id[15] = 1;
    id
}

/// `n` records at offsets `base..base + n`, each value `v<offset>`.
fn records(base: i64, n: usize) -> Bytes {
    batch(BatchOptions::default().base_offset(base), n, base)
}

fn batch(opts: BatchOptions, n: usize, base: i64) -> Bytes {
    let mut b = RecordBatchBuilder::new(opts.max_batch_bytes(1 << 20));
    for i in 0..n {
        let v = format!("v{}", base + i as i64);
        b.append(1_000 + i as i64, None, Some(v.as_bytes()), &[]).unwrap();
    }
    b.finish().unwrap().into_bytes()
}

fn concat(parts: &[Bytes]) -> Bytes {
    let mut v = Vec::new();
    for p in parts {
        v.extend_from_slice(p);
    }
    Bytes::from(v)
}

fn data(p: i32, records: Bytes) -> FetchPartition {
    FetchPartition {
        partition: p,
        error_code: ErrorCode::NONE,
        high_watermark: 1_000,
        last_stable_offset: 1_000,
        log_start_offset: 0,
        diverging_epoch: (-1, -1),
        current_leader: (-1, -1),
        aborted_transactions: None,
        preferred_read_replica: -1,
        records,
    }
}

fn error(p: i32, code: ErrorCode) -> FetchPartition {
    FetchPartition { error_code: code, ..data(p, Bytes::new()) }
}

fn response(session_id: i32, topics: Vec<(&str, Vec<FetchPartition>)>) -> FetchResponse {
    FetchResponse {
        throttle_time_ms: 0,
        error_code: ErrorCode::NONE,
        session_id,
        topics: topics
            .into_iter()
            .map(|(name, partitions)| FetchTopic { name: name.to_owned(), topic_id: id_of(name), partitions })
            .collect(),
    }
}

fn lost() -> FetchOutcome {
    FetchOutcome::Lost(FetchError::from(ConnError::Closed { addr: "b1:9092".into(), detail: "" }))
}

/// Offsets a chunk hands the application.
fn delivered(ev: &FetchEvent) -> Vec<i64> {
    let FetchEvent::Records(c) = ev else { panic!("not records: {ev:?}") };
    let mut out = Vec::new();
    c.for_each_record(|_, r| {
        out.push(r.offset);
        ControlFlow::Continue(())
    })
    .unwrap();
    out
}

/// A core, a virtual clock and the cluster's answers (leaders and logs).
struct Harness {
    core: FetchCore,
    now: Instant,
    next_epoch: u64,
    /// Partition → (leader, leader epoch).
    leaders: BTreeMap<i32, (i32, i32)>,
    /// Partition → (log start, log end).
    logs: BTreeMap<i32, (i64, i64)>,
}

impl Harness {
    fn new(cfg: FetchConfig) -> Harness {
        Harness {
            core: FetchCore::new(cfg, BACKOFF),
            now: Instant::now(),
            next_epoch: 1,
            leaders: BTreeMap::new(),
            logs: BTreeMap::new(),
        }
    }

    fn default() -> Harness {
        Harness::new(FetchConfig::default())
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    fn assign(&mut self, parts: &[(i32, StartOffset)]) {
        let list = parts
            .iter()
            .map(|&(p, s)| {
                self.next_epoch += 1;
                (tp(p), s, self.next_epoch)
            })
            .collect();
        self.core.assign(list, self.now);
    }

    /// Answers the core's leader lookup (if it asks) from `leaders`;
    /// returns the partitions it asked about.
    fn answer_leaders(&mut self) -> Vec<TopicPartition> {
        let Some(lookup) = self.core.poll_leaders(self.now) else { return Vec::new() };
        let answers = lookup
            .partitions
            .iter()
            .map(|tp| {
                let a = match self.leaders.get(&tp.partition) {
                    Some(&(leader, leader_epoch)) if tp.topic == T => {
                        LeaderAnswer::Leader { topic_id: id_of(T), leader, leader_epoch }
                    }
                    _ => LeaderAnswer::Unavailable(ErrorCode::LEADER_NOT_AVAILABLE),
                };
                (tp.clone(), a)
            })
            .collect();
        let asked = lookup.partitions.clone();
        self.core.handle_leaders(lookup, Ok(answers), self.now);
        asked
    }

    /// Answers every offset lookup from `logs`; returns the lookups.
    fn answer_offsets(&mut self) -> Vec<OffsetLookup> {
        let lookups = self.core.poll_offsets(self.now);
        for l in &lookups {
            let maps = l
                .specs
                .iter()
                .map(|spec| {
                    l.partitions
                        .iter()
                        .map(|tp| {
                            let (start, end) = self.logs.get(&tp.partition).copied().unwrap_or((0, 0));
                            let off = match spec {
                                OffsetSpec::Earliest => start,
                                OffsetSpec::Latest | OffsetSpec::Timestamp(_) => end,
                            };
                            (tp.clone(), off)
                        })
                        .collect()
                })
                .collect();
            self.core.handle_offsets(l.clone(), Ok(maps), self.now);
        }
        lookups
    }

    /// One turn of the driver: leaders, offsets, then the fetches to send.
    fn turn(&mut self) -> Vec<FetchPlan> {
        self.answer_leaders();
        self.answer_offsets();
        self.core.poll_fetches(self.now)
    }

    fn respond(&mut self, plan: &FetchPlan, resp: FetchResponse) {
        self.core.handle_fetch(plan.id, FetchOutcome::Response { version: 12, response: resp }, self.now);
    }

    fn events(&mut self) -> Vec<FetchEvent> {
        std::iter::from_fn(|| self.core.pop_event()).collect()
    }

    fn pos(&self, p: i32) -> i64 {
        self.core.position(&tp(p)).unwrap()
    }
}

fn offsets_in(plan: &FetchPlan) -> Vec<(i32, i64, i32)> {
    plan.include.iter().map(|(tp, s)| (tp.partition, s.offset, s.leader_epoch)).collect()
}

fn only(mut plans: Vec<FetchPlan>) -> FetchPlan {
    assert_eq!(plans.len(), 1, "{plans:?}");
    plans.remove(0)
}

/// Two partitions on broker 1 at offset 0, after the first full fetch
/// answered with session `sid` (no data).
fn established(sid: i32) -> (Harness, FetchPlan) {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 5));
    h.leaders.insert(1, (1, 5));
    h.assign(&[(0, StartOffset::Offset(0)), (1, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    h.respond(&plan, response(sid, vec![]));
    let next = only(h.turn());
    (h, next)
}

#[test]
fn fresh_assignment_looks_up_leader_then_start_offset_then_fetches() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 5));
    h.logs.insert(0, (3, 10));
    h.assign(&[(0, StartOffset::Earliest)]);
    assert_eq!(h.answer_leaders(), vec![tp(0)]);
    let lookups = h.answer_offsets();
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].specs, vec![OffsetSpec::Earliest]);
    let plan = only(h.core.poll_fetches(h.now));
    assert_eq!(plan.broker, 1);
    assert_eq!((plan.session_id, plan.session_epoch), (0, 0), "a new session is a full fetch");
    assert_eq!(offsets_in(&plan), vec![(0, 3, 5)]);
    assert!(plan.use_topic_ids);
    // Nothing more while it is in flight, and no lookups.
    assert!(h.turn().is_empty());
    assert_eq!(h.core.requests_in_flight(), 1);
    assert!(h.events().is_empty(), "a first position is no reset");
}

#[test]
fn start_specs_group_into_one_lookup_each() {
    let mut h = Harness::default();
    for p in 0..5 {
        h.leaders.insert(p, (1, 0));
    }
    h.logs.insert(3, (20, 25));
    h.logs.insert(4, (0, 100));
    h.assign(&[
        (0, StartOffset::Latest),
        (1, StartOffset::Timestamp(42)),
        (2, StartOffset::Offset(7)),
        (3, StartOffset::FromEnd(10)),
        (4, StartOffset::FromEnd(10)),
    ]);
    h.answer_leaders();
    let lookups = h.answer_offsets();
    let specs: Vec<Vec<OffsetSpec>> = lookups.iter().map(|l| l.specs.clone()).collect();
    assert_eq!(
        specs,
        vec![
            vec![OffsetSpec::Latest],
            vec![OffsetSpec::Latest, OffsetSpec::Earliest],
            vec![OffsetSpec::Timestamp(42)]
        ]
    );
    assert_eq!(lookups[1].partitions, vec![tp(3), tp(4)]);
    assert_eq!(h.pos(2), 7, "an absolute offset needs no lookup");
    assert_eq!(h.pos(3), 20, "10 before an end of 25 is clamped at the log start 20");
    assert_eq!(h.pos(4), 90);
}

#[test]
fn positions_advance_only_over_delivered_records() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    // Two complete batches and the first half of a third (cut by max bytes).
    let third = records(5, 4);
    let body = concat(&[records(0, 3), records(3, 2), third.slice(..third.len() / 2)]);
    h.respond(&plan, response(1, vec![(T, vec![data(0, body)])]));
    let evs = h.events();
    assert_eq!(evs.len(), 1);
    assert_eq!(delivered(&evs[0]), vec![0, 1, 2, 3, 4]);
    let FetchEvent::Records(c) = &evs[0] else { unreachable!() };
    assert_eq!((c.fetch_offset, c.next_offset), (0, 5));
    assert_eq!(h.pos(0), 5);
    // An empty answer moves nothing.
    let plan = only(h.turn());
    assert_eq!(offsets_in(&plan), vec![(0, 5, 0)]);
    h.respond(&plan, response(1, vec![(T, vec![data(0, Bytes::new())])]));
    assert!(h.events().is_empty());
    assert_eq!(h.pos(0), 5);
    // A compressed batch that began before the position: only records at or
    // after it are handed over.
    let plan = only(h.turn());
    h.respond(&plan, response(1, vec![(T, vec![data(0, records(3, 5))])]));
    let evs = h.events();
    assert_eq!(delivered(&evs[0]), vec![5, 6, 7]);
    assert_eq!(h.pos(0), 8);
}

#[test]
fn records_that_end_before_the_position_are_dropped_without_moving_it() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.assign(&[(0, StartOffset::Offset(10))]);
    let plan = only(h.turn());
    h.respond(&plan, response(1, vec![(T, vec![data(0, records(0, 5))])]));
    assert!(h.events().is_empty());
    assert_eq!(h.pos(0), 10);
}

#[test]
fn leader_move_mid_fetch_refreshes_metadata_and_resumes_at_the_same_offset() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 5));
    h.leaders.insert(1, (1, 5));
    h.assign(&[(0, StartOffset::Offset(10)), (1, StartOffset::Offset(20))]);
    let plan = only(h.turn());
    // Partition 0's leadership moves to broker 2 while the fetch is out.
    h.leaders.insert(0, (2, 6));
    h.respond(
        &plan,
        response(9, vec![(T, vec![error(0, ErrorCode::NOT_LEADER_OR_FOLLOWER), data(1, records(20, 2))])]),
    );
    assert_eq!(h.events().len(), 1, "partition 1's data is delivered");
    assert_eq!(h.pos(0), 10);
    // Partition 1 goes on from broker 1 at once; partition 0 waits for its backoff.
    assert!(h.core.poll_leaders(h.now).is_none());
    let plan = only(h.core.poll_fetches(h.now));
    assert_eq!(plan.broker, 1);
    assert_eq!(offsets_in(&plan), vec![(1, 22, 5)]);
    assert_eq!(plan.forgotten, vec![tp(0)], "the old leader's session drops partition 0");
    h.respond(&plan, response(9, vec![]));
    let wake = h.core.next_wake().unwrap();
    assert_eq!(wake, h.now + BACKOFF.delay(1));
    h.now = wake;
    assert_eq!(h.answer_leaders(), vec![tp(0)]);
    let plans = h.core.poll_fetches(h.now);
    let to2 = plans.iter().find(|p| p.broker == 2).unwrap();
    assert_eq!(offsets_in(to2), vec![(0, 10, 6)], "same offset, new leader epoch");
    assert_eq!((to2.session_id, to2.session_epoch), (0, 0));
}

#[test]
fn fenced_leader_epoch_refreshes_metadata_and_unknown_leader_epoch_retries_on_the_same_broker() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 5));
    h.leaders.insert(1, (1, 5));
    h.assign(&[(0, StartOffset::Offset(0)), (1, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    h.leaders.insert(0, (1, 7));
    h.respond(
        &plan,
        response(
            0,
            vec![(
                T,
                vec![error(0, ErrorCode::FENCED_LEADER_EPOCH), error(1, ErrorCode::UNKNOWN_LEADER_EPOCH)],
            )],
        ),
    );
    assert!(h.events().is_empty());
    h.advance(Duration::from_secs(1));
    // Only the fenced partition asks for metadata; the other backs off and retries.
    assert_eq!(h.answer_leaders(), vec![tp(0)]);
    let plan = only(h.core.poll_fetches(h.now));
    assert_eq!(offsets_in(&plan), vec![(0, 0, 7), (1, 0, 5)]);
}

#[test]
fn an_unknown_leader_keeps_looking_it_up_with_backoff() {
    let mut h = Harness::default();
    h.assign(&[(0, StartOffset::Offset(0))]);
    assert_eq!(h.answer_leaders(), vec![tp(0)]);
    assert!(h.core.poll_fetches(h.now).is_empty());
    assert!(h.core.next_wake().is_some());
    h.leaders.insert(0, (3, 1));
    h.advance(Duration::from_secs(1));
    let plan = only(h.turn());
    assert_eq!(plan.broker, 3);
}

#[test]
fn a_fresh_partition_whose_first_lookups_fail_still_resolves_its_start_and_fetches() {
    let mut h = Harness::default();
    h.logs.insert(0, (40, 60));
    h.assign(&[(0, StartOffset::Earliest)]);
    // The metadata request fails...
    let lookup = h.core.poll_leaders(h.now).unwrap();
    h.core.handle_leaders(lookup, Err("connection refused".into()), h.now);
    h.advance(Duration::from_secs(1));
    // ...then the offset lookup is lost...
    h.leaders.insert(0, (1, 0));
    h.answer_leaders();
    let lookup = h.core.poll_offsets(h.now).remove(0);
    h.core.handle_offsets(lookup, Err(lost_error()), h.now);
    h.advance(Duration::from_secs(1));
    // ...and the partition still starts where its spec says.
    let plan = only(h.turn());
    assert_eq!(offsets_in(&plan), vec![(0, 40, 0)]);
    assert!(h.events().is_empty());
}

#[test]
fn a_partition_without_a_leader_waits_out_its_backoff_while_others_are_fetched() {
    let mut h = Harness::default();
    h.leaders.insert(1, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0)), (1, StartOffset::Offset(0))]);
    assert_eq!(h.answer_leaders(), vec![tp(0), tp(1)]);
    let plan = only(h.turn());
    // Partition 1's answers keep the driver turning; partition 0 is not
    // looked up again before its backoff ends.
    for _ in 0..5 {
        h.advance(Duration::from_millis(10));
        assert!(h.core.poll_leaders(h.now).is_none());
    }
    h.respond(&plan, response(0, vec![]));
    h.now = h.core.next_wake().unwrap();
    assert_eq!(h.answer_leaders(), vec![tp(0)]);
}

#[test]
fn missing_partition_and_missing_topic_fail_the_partition() {
    let mut h = Harness::default();
    h.assign(&[(5, StartOffset::Offset(0)), (6, StartOffset::Offset(0))]);
    let lookup = h.core.poll_leaders(h.now).unwrap();
    h.core.handle_leaders(
        lookup,
        Ok(vec![
            (tp(5), LeaderAnswer::NoSuchPartition { partitions: 1 }),
            (tp(6), LeaderAnswer::Unavailable(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)),
        ]),
        h.now,
    );
    let evs = h.events();
    assert_eq!(evs.len(), 1);
    let FetchEvent::Error { error, .. } = &evs[0] else { panic!() };
    assert_eq!(error.to_string(), "partition 5 does not exist (topic 't' has 1 partition)");
    // The missing topic gives up after 40 lookups.
    for _ in 0..40 {
        h.advance(Duration::from_secs(1));
        let lookup = h.core.poll_leaders(h.now).unwrap();
        assert_eq!(lookup.partitions, vec![tp(6)], "a failed partition is not looked up again");
        h.core.handle_leaders(
            lookup,
            Ok(vec![(tp(6), LeaderAnswer::Unavailable(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION))]),
            h.now,
        );
    }
    let evs = h.events();
    assert_eq!(evs.len(), 1);
    let FetchEvent::Error { error, .. } = &evs[0] else { panic!() };
    assert_eq!(error.to_string(), "topic 't' does not exist");
    assert!(h.core.poll_leaders(h.now).is_none());
}

#[test]
fn failed_metadata_request_retries_after_backoff() {
    let mut h = Harness::default();
    h.assign(&[(0, StartOffset::Offset(0))]);
    let lookup = h.core.poll_leaders(h.now).unwrap();
    h.core.handle_leaders(lookup, Err("connection refused".into()), h.now);
    assert!(h.events().is_empty());
    assert_eq!(h.core.next_wake(), Some(h.now + BACKOFF.delay(1)));
}

#[test]
fn session_id_not_found_resets_to_a_full_fetch_from_the_same_positions() {
    let (mut h, plan) = established(77);
    assert_eq!((plan.session_id, plan.session_epoch), (77, 1));
    assert!(plan.include.is_empty(), "nothing changed: an empty incremental fetch");
    let mut resp = response(0, vec![]);
    resp.error_code = ErrorCode::FETCH_SESSION_ID_NOT_FOUND;
    h.respond(&plan, resp);
    assert!(h.events().is_empty());
    let plan = only(h.turn());
    assert_eq!((plan.session_id, plan.session_epoch), (0, 0));
    assert_eq!(offsets_in(&plan), vec![(0, 0, 5), (1, 0, 5)]);
}

#[test]
fn invalid_session_epoch_resets_to_a_full_fetch() {
    let (mut h, plan) = established(77);
    h.respond(&plan, response(77, vec![]));
    let plan = only(h.turn());
    assert_eq!((plan.session_id, plan.session_epoch), (77, 2));
    let mut resp = response(77, vec![]);
    resp.error_code = ErrorCode::INVALID_FETCH_SESSION_EPOCH;
    h.respond(&plan, resp);
    let plan = only(h.turn());
    assert_eq!((plan.session_id, plan.session_epoch), (0, 0));
    assert_eq!(plan.include.len(), 2);
}

#[test]
fn a_broker_without_sessions_gets_full_fetches() {
    // The broker answers session id 0: it keeps no session, so the next
    // request is full again.
    let (_, plan) = established(0);
    assert_eq!((plan.session_id, plan.session_epoch), (0, 0));
    assert_eq!(plan.include.len(), 2);
}

#[test]
fn sessions_off_sends_sessionless_full_fetches() {
    let mut h = Harness::new(FetchConfig { sessions: false, ..FetchConfig::default() });
    h.leaders.insert(0, (1, 0));
    h.leaders.insert(1, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0)), (1, StartOffset::Offset(0))]);
    for _ in 0..3 {
        let plan = only(h.turn());
        assert_eq!((plan.session_id, plan.session_epoch), (0, -1));
        assert_eq!(plan.include.len(), 2);
        h.respond(&plan, response(123, vec![(T, vec![data(0, Bytes::new())])]));
    }
}

#[test]
fn incremental_session_adds_and_removes_partitions() {
    let (mut h, plan) = established(9);
    // Partition 0 gets data: only it is listed next time.
    h.respond(&plan, response(9, vec![(T, vec![data(0, records(0, 4))])]));
    let plan = only(h.turn());
    assert_eq!(plan.session_epoch, 2);
    assert_eq!(offsets_in(&plan), vec![(0, 4, 5)]);
    h.respond(&plan, response(9, vec![]));
    // A partition is added: listed alone.
    h.leaders.insert(2, (1, 5));
    h.assign(&[(2, StartOffset::Offset(50))]);
    let plan = only(h.turn());
    assert_eq!(plan.session_epoch, 3);
    assert_eq!(offsets_in(&plan), vec![(2, 50, 5)]);
    assert!(plan.forgotten.is_empty());
    h.respond(&plan, response(9, vec![]));
    // A partition is removed: forgotten, nothing else listed.
    h.core.unassign(vec![tp(1)]);
    let plan = only(h.turn());
    assert_eq!(plan.session_epoch, 4);
    assert!(plan.include.is_empty());
    assert_eq!(plan.forgotten, vec![tp(1)]);
    h.respond(&plan, response(9, vec![]));
    let plan = only(h.turn());
    assert!(plan.include.is_empty() && plan.forgotten.is_empty());
    // A leader epoch change re-lists the partition.
    h.respond(&plan, response(9, vec![(T, vec![error(2, ErrorCode::NOT_LEADER_OR_FOLLOWER)])]));
    h.leaders.insert(2, (1, 6));
    h.advance(Duration::from_secs(1));
    let plan = only(h.turn());
    assert_eq!(offsets_in(&plan), vec![(2, 50, 6)]);
}

#[test]
fn session_epoch_wraps_to_one() {
    let mut s = Session { id: 3, epoch: i32::MAX - 1, ..Session::default() };
    s.answered(false, 3);
    assert_eq!(s.epoch, 1);
}

fn out_of_range(reset: OffsetReset) -> (Harness, Vec<FetchEvent>) {
    let mut h = Harness::new(FetchConfig { reset, ..FetchConfig::default() });
    h.leaders.insert(0, (1, 0));
    h.logs.insert(0, (100, 200));
    h.assign(&[(0, StartOffset::Offset(5))]);
    let plan = only(h.turn());
    h.respond(&plan, response(1, vec![(T, vec![error(0, ErrorCode::OFFSET_OUT_OF_RANGE)])]));
    let lookups = h.answer_offsets();
    if reset != OffsetReset::None {
        assert_eq!(lookups.len(), 1);
        assert_eq!(lookups[0].partitions, vec![tp(0)]);
    } else {
        assert!(lookups.is_empty());
    }
    let evs = h.events();
    (h, evs)
}

#[test]
fn offset_out_of_range_with_reset_earliest_jumps_to_the_log_start() {
    let (mut h, evs) = out_of_range(OffsetReset::Earliest);
    assert!(matches!(&evs[..], [FetchEvent::Reset { from: 5, to: 100, .. }]), "{evs:?}");
    assert_eq!(offsets_in(&only(h.turn())), vec![(0, 100, 0)]);
}

#[test]
fn offset_out_of_range_with_reset_latest_jumps_to_the_log_end() {
    let (mut h, evs) = out_of_range(OffsetReset::Latest);
    assert!(matches!(&evs[..], [FetchEvent::Reset { from: 5, to: 200, .. }]), "{evs:?}");
    assert_eq!(offsets_in(&only(h.turn())), vec![(0, 200, 0)]);
}

#[test]
fn offset_out_of_range_with_reset_none_fails_the_partition() {
    let (mut h, evs) = out_of_range(OffsetReset::None);
    let [FetchEvent::Error { error, .. }] = &evs[..] else { panic!("{evs:?}") };
    assert!(matches!(error, FetchError::Partition { code: ErrorCode::OFFSET_OUT_OF_RANGE, .. }), "{error:?}");
    assert!(error.to_string().contains("auto.offset.reset is none"), "{error}");
    assert!(h.turn().is_empty(), "a failed partition is not fetched");
    assert_eq!(h.pos(0), 5);
}

#[test]
fn offset_lookup_failures_retry_via_leader_lookup_or_fail_for_good() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.leaders.insert(1, (1, 0));
    h.assign(&[(0, StartOffset::Earliest)]);
    h.answer_leaders();
    let lookup = h.core.poll_offsets(h.now).remove(0);
    h.core.handle_offsets(lookup, Err(lost_error()), h.now);
    assert!(h.events().is_empty());
    assert!(h.core.poll_leaders(h.now).is_none(), "not before the backoff");
    h.now = h.core.next_wake().unwrap();
    assert!(h.core.poll_leaders(h.now).is_some(), "the leader is looked up again");
    h.assign(&[(1, StartOffset::Latest)]);
    h.answer_leaders();
    let lookups = h.core.poll_offsets(h.now);
    let lookup = lookups.into_iter().find(|l| l.partitions == vec![tp(1)]).unwrap();
    let err = FetchError::Partition {
        topic: T.into(),
        partition: 1,
        code: ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        detail: Some("ListOffsets".into()),
    };
    h.core.handle_offsets(lookup, Err(err), h.now);
    assert!(matches!(&h.events()[..], [FetchEvent::Error { .. }]));
}

fn lost_error() -> FetchError {
    FetchError::from(ConnError::Closed { addr: "b1:9092".into(), detail: "" })
}

#[test]
fn partial_response_keeps_missing_partitions_at_their_positions() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.leaders.insert(1, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0)), (1, StartOffset::Offset(30))]);
    let plan = only(h.turn());
    h.respond(&plan, response(4, vec![(T, vec![data(0, records(0, 2))])]));
    assert_eq!((h.pos(0), h.pos(1)), (2, 30));
    // Partition 1 is still in the broker's session at 30: not re-listed, not forgotten.
    let plan = only(h.turn());
    assert_eq!(offsets_in(&plan), vec![(0, 2, 0)]);
    assert!(plan.forgotten.is_empty());
    h.respond(&plan, response(4, vec![(T, vec![data(1, records(30, 1))])]));
    assert_eq!((h.pos(0), h.pos(1)), (2, 31));
}

#[test]
fn lost_request_is_retried_from_the_same_position_with_a_new_session() {
    let (mut h, plan) = established(9);
    h.respond(&plan, response(9, vec![(T, vec![data(0, records(0, 3))])]));
    h.events();
    let plan = only(h.turn());
    h.core.handle_fetch(plan.id, lost(), h.now);
    assert!(h.events().is_empty());
    assert_eq!((h.pos(0), h.pos(1)), (3, 0));
    assert!(h.core.poll_fetches(h.now).is_empty(), "waits for a leader lookup");
    h.now = h.core.next_wake().unwrap();
    assert_eq!(h.answer_leaders(), vec![tp(0), tp(1)]);
    let plan = only(h.core.poll_fetches(h.now));
    assert_eq!((plan.session_id, plan.session_epoch), (0, 0));
    assert_eq!(offsets_in(&plan), vec![(0, 3, 5), (1, 0, 5)]);
    // A late answer to the lost request changes nothing.
    let old = FetchPlan { id: plan.id - 1, ..plan.clone() };
    h.respond(&old, response(9, vec![(T, vec![data(0, records(3, 3))])]));
    assert!(h.events().is_empty());
    assert_eq!(h.pos(0), 3);
}

#[test]
fn partitions_that_keep_losing_give_up_after_the_configured_time() {
    let cfg = FetchConfig { give_up_after: Some(Duration::from_secs(5)), ..FetchConfig::default() };
    let mut h = Harness::new(cfg);
    h.leaders.insert(0, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    h.core.handle_fetch(plan.id, lost(), h.now);
    assert!(h.events().is_empty());
    h.advance(Duration::from_secs(6));
    let plan = only(h.turn());
    h.core.handle_fetch(plan.id, lost(), h.now);
    assert!(matches!(
        &h.events()[..],
        [FetchEvent::Error { error: FetchError::Meta(kwire_meta::MetaError::Conn(_)), .. }]
    ));
    assert!(h.turn().is_empty());
}

#[test]
fn fatal_transport_error_fails_that_brokers_partitions_only() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.leaders.insert(1, (2, 0));
    h.assign(&[(0, StartOffset::Offset(0)), (1, StartOffset::Offset(0))]);
    let plans = h.turn();
    assert_eq!(plans.len(), 2);
    let err =
        FetchError::from(ConnError::Auth { addr: "b1".into(), mechanism: "PLAIN", reason: "no".into() });
    h.core.handle_fetch(plans[0].id, FetchOutcome::Fatal(err), h.now);
    let evs = h.events();
    let [FetchEvent::Error { tp: failed, .. }] = &evs[..] else { panic!("{evs:?}") };
    assert_eq!(**failed, tp(0));
    h.respond(&plans[1], response(0, vec![]));
    let plan = only(h.turn());
    assert_eq!(plan.broker, 2);
}

#[test]
fn broker_level_error_backs_off_all_of_its_partitions() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    let mut resp = response(0, vec![(T, vec![data(0, records(0, 1))])]);
    resp.error_code = ErrorCode::REQUEST_TIMED_OUT;
    h.respond(&plan, resp);
    assert!(h.events().is_empty(), "partition data under a top-level error is ignored");
    assert!(h.turn().is_empty());
    h.advance(BACKOFF.delay(1));
    assert_eq!(offsets_in(&only(h.turn())), vec![(0, 0, 0)]);
}

#[test]
fn fatal_partition_error_fails_only_that_partition() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.leaders.insert(1, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0)), (1, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    h.respond(&plan, response(0, vec![(T, vec![error(0, ErrorCode::TOPIC_AUTHORIZATION_FAILED)])]));
    assert!(matches!(&h.events()[..], [FetchEvent::Error { .. }]));
    assert_eq!(offsets_in(&only(h.turn())), vec![(1, 0, 0)]);
}

#[test]
fn hostile_response_with_partitions_never_asked_for_moves_nothing() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.leaders.insert(1, (2, 0));
    h.assign(&[(0, StartOffset::Offset(0)), (1, StartOffset::Offset(0))]);
    let plans = h.turn();
    let to1 = plans.iter().find(|p| p.broker == 1).unwrap();
    h.respond(
        to1,
        response(
            0,
            vec![
                // Another topic, a partition of ours led elsewhere, one we don't have.
                ("x", vec![data(0, records(0, 3))]),
                (
                    T,
                    vec![
                        data(1, records(0, 3)),
                        data(7, records(0, 3)),
                        error(-1, ErrorCode::OFFSET_OUT_OF_RANGE),
                    ],
                ),
                // The asked partition twice: the second copy is stale once the first moved it.
                (
                    T,
                    vec![
                        data(0, records(0, 2)),
                        data(0, records(0, 9)),
                        error(0, ErrorCode::OFFSET_OUT_OF_RANGE),
                    ],
                ),
            ],
        ),
    );
    let evs = h.events();
    assert_eq!(evs.len(), 1);
    assert_eq!(delivered(&evs[0]), vec![0, 1]);
    assert_eq!((h.pos(0), h.pos(1)), (2, 0));
    // Topic ids nobody knows, at v13: skipped.
    let plan = only(h.turn());
    let mut resp = response(0, vec![("y", vec![data(0, records(2, 3))])]);
    resp.topics[0].topic_id = [9; 16];
    h.core.handle_fetch(plan.id, FetchOutcome::Response { version: 13, response: resp }, h.now);
    assert!(h.events().is_empty());
    assert_eq!(h.pos(0), 2);
    // An id never handed out is ignored.
    h.core.handle_fetch(999, FetchOutcome::Response { version: 12, response: response(0, vec![]) }, h.now);
}

#[test]
fn v13_responses_are_matched_by_topic_id() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    assert_eq!(plan.topic_ids.get(T), Some(&id_of(T)));
    let mut resp = response(0, vec![("", vec![data(0, records(0, 2))])]);
    resp.topics[0].topic_id = id_of(T);
    h.core.handle_fetch(plan.id, FetchOutcome::Response { version: 13, response: resp }, h.now);
    assert_eq!(h.pos(0), 2);
}

#[test]
fn corrupt_records_fail_the_partition() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    let mut bad = records(0, 3).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff; // breaks the CRC
    h.respond(&plan, response(0, vec![(T, vec![data(0, Bytes::from(bad))])]));
    let evs = h.events();
    assert!(
        matches!(&evs[..], [FetchEvent::Error { error: FetchError::Records { offset: 0, .. }, .. }]),
        "{evs:?}"
    );
    assert_eq!(h.pos(0), 0);
}

#[test]
fn a_batch_larger_than_the_fetch_asks_to_raise_max_partition_fetch_bytes() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    let big = records(0, 50);
    h.respond(&plan, response(0, vec![(T, vec![data(0, big.slice(..100))])]));
    let evs = h.events();
    let [FetchEvent::Error { error, .. }] = &evs[..] else { panic!("{evs:?}") };
    assert!(error.to_string().contains("raise max.partition.fetch.bytes"), "{error}");
}

/// A transaction of producer 7 (offsets 0-1) aborted by a marker at 2,
/// then plain records 3-4.
fn aborted_txn_log() -> FetchPartition {
    let txn = batch(BatchOptions::default().transactional(true).producer(7, 0, 0).base_offset(0), 2, 0);
    let mut marker = RecordBatchBuilder::new(
        BatchOptions::default().control(true).transactional(true).producer(7, 0, -1).base_offset(2),
    );
    marker
        .append(0, Some(&ControlRecord::key(ControlType::Abort)), Some(&ControlRecord::end_txn_value(0)), &[])
        .unwrap();
    let marker = marker.finish().unwrap().into_bytes();
    let plain = records(3, 2);
    FetchPartition {
        aborted_transactions: Some(vec![AbortedTransaction { producer_id: 7, first_offset: 0 }]),
        ..data(0, concat(&[txn, marker, plain]))
    }
}

#[test]
fn aborted_transactions_are_skipped_under_read_committed() {
    for (isolation, want) in
        [(IsolationLevel::ReadCommitted, vec![3, 4]), (IsolationLevel::ReadUncommitted, vec![0, 1, 3, 4])]
    {
        let mut h = Harness::new(FetchConfig { isolation, ..FetchConfig::default() });
        h.leaders.insert(0, (1, 0));
        h.assign(&[(0, StartOffset::Offset(0))]);
        let plan = only(h.turn());
        h.respond(&plan, response(0, vec![(T, vec![aborted_txn_log()])]));
        let evs = h.events();
        assert_eq!(delivered(&evs[0]), want, "{isolation:?}");
        assert_eq!(h.pos(0), 5, "the position passes aborted records and markers too");
    }
}

#[test]
fn unassign_drops_buffered_data_and_answers_for_the_old_assignment() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    h.respond(&plan, response(0, vec![(T, vec![data(0, records(0, 2))])]));
    let plan = only(h.turn());
    h.core.unassign(vec![tp(0)]);
    assert!(h.events().is_empty(), "buffered data of an unassigned partition is dropped");
    // Re-assigned at 100 while the old fetch is out: its answer is stale.
    h.assign(&[(0, StartOffset::Offset(100))]);
    h.respond(&plan, response(0, vec![(T, vec![data(0, records(2, 2))])]));
    assert!(h.events().is_empty());
    let plan = only(h.turn());
    assert_eq!(offsets_in(&plan), vec![(0, 100, 0)]);
}

#[test]
fn prefetch_limit_holds_back_new_fetches_until_the_application_catches_up() {
    let mut h = Harness::new(FetchConfig { prefetch: 1, ..FetchConfig::default() });
    h.leaders.insert(0, (1, 0));
    h.assign(&[(0, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    h.respond(&plan, response(0, vec![(T, vec![data(0, records(0, 2))])]));
    assert!(h.turn().is_empty(), "one event waiting: no fetch");
    assert!(h.core.has_events());
    h.core.pop_event();
    assert_eq!(offsets_in(&only(h.turn())), vec![(0, 2, 0)]);
}

#[test]
fn one_fetch_in_flight_per_broker() {
    let mut h = Harness::default();
    for p in 0..4 {
        h.leaders.insert(p, (1 + p % 2, 0));
    }
    h.assign(&[
        (0, StartOffset::Offset(0)),
        (1, StartOffset::Offset(0)),
        (2, StartOffset::Offset(0)),
        (3, StartOffset::Offset(0)),
    ]);
    let plans = h.turn();
    assert_eq!(plans.iter().map(|p| p.broker).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(offsets_in(&plans[0]).len(), 2);
    assert!(h.turn().is_empty());
    h.respond(&plans[1], response(0, vec![]));
    assert_eq!(only(h.turn()).broker, 2);
}

// ---- KIP-320: log truncation detection ----

/// Partition 0 led by broker 1 in epoch 3: records 0..10 written in epoch 2
/// (0..4) and 3 (4..10) delivered, so the position is 10 and the last
/// fetched epoch 3.
fn read_ten(reset: OffsetReset) -> Harness {
    let mut h = Harness::new(FetchConfig { reset, ..FetchConfig::default() });
    h.leaders.insert(0, (1, 3));
    h.assign(&[(0, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    assert_eq!(plan.include[0].1.last_fetched_epoch, -1, "nothing fetched yet");
    let two = batch(BatchOptions::default().base_offset(0).partition_leader_epoch(2), 4, 0);
    let three = batch(BatchOptions::default().base_offset(4).partition_leader_epoch(3), 6, 4);
    h.respond(&plan, response(1, vec![(T, vec![data(0, concat(&[two, three]))])]));
    let evs = h.events();
    assert_eq!(delivered(&evs[0]), (0..10).collect::<Vec<_>>());
    assert_eq!(h.pos(0), 10);
    h
}

fn diverging(p: i32, epoch: i32, end_offset: i64) -> FetchPartition {
    FetchPartition { diverging_epoch: (epoch, end_offset), ..data(p, Bytes::new()) }
}

#[test]
fn fetches_name_the_epoch_of_the_last_batch_delivered() {
    let mut h = read_ten(OffsetReset::Earliest);
    let plan = only(h.turn());
    let (_, sent) = &plan.include[0];
    assert_eq!((sent.offset, sent.leader_epoch, sent.last_fetched_epoch), (10, 3, 3));
}

#[test]
fn truncation_below_the_position_goes_back_to_the_first_diverging_offset() {
    let mut h = read_ten(OffsetReset::Earliest);
    // An unclean election: the new leader's log holds epoch 2 up to offset
    // 4 only (epoch 3's records 4..10 are gone).
    h.leaders.insert(0, (2, 4));
    let plan = only(h.turn());
    h.respond(&plan, response(1, vec![(T, vec![error(0, ErrorCode::NOT_LEADER_OR_FOLLOWER)])]));
    h.advance(Duration::from_secs(1));
    let plan = only(h.turn());
    assert_eq!(plan.broker, 2);
    // Records in the same answer must not be delivered: they are past the
    // divergence.
    let mut d = diverging(0, 2, 4);
    d.records = records(10, 2);
    h.respond(&plan, response(2, vec![(T, vec![d])]));
    let evs = h.events();
    assert!(matches!(&evs[..], [FetchEvent::Reset { from: 10, to: 4, .. }]), "{evs:?}");
    assert_eq!(h.pos(0), 4);
    // The next fetch reads from 4, naming the diverging epoch.
    let plan = only(h.turn());
    let (_, sent) = &plan.include[0];
    assert_eq!((sent.offset, sent.leader_epoch, sent.last_fetched_epoch), (4, 4, 2));
    let new = batch(BatchOptions::default().base_offset(4).partition_leader_epoch(4), 2, 4);
    h.respond(&plan, response(2, vec![(T, vec![data(0, new)])]));
    assert_eq!(delivered(&h.events()[0]), vec![4, 5]);
}

#[test]
fn truncation_with_reset_none_fails_with_a_typed_error_naming_the_offsets() {
    let mut h = read_ten(OffsetReset::None);
    let plan = only(h.turn());
    h.respond(&plan, response(1, vec![(T, vec![diverging(0, 2, 4)])]));
    let evs = h.events();
    let [FetchEvent::Error { error, .. }] = &evs[..] else { panic!("{evs:?}") };
    assert!(
        matches!(error, FetchError::Truncated { offset: 10, diverging: Some(4), partition: 0, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "t-0: the log was truncated below offset 10 (the first offset known to diverge is 4) and \
         auto.offset.reset is none"
    );
    assert!(h.turn().is_empty(), "a failed partition is not fetched");
    assert_eq!(h.pos(0), 10, "the position is not moved");
}

#[test]
fn truncation_without_an_end_offset_resets_by_policy() {
    let mut h = read_ten(OffsetReset::Latest);
    h.logs.insert(0, (0, 7));
    let plan = only(h.turn());
    h.respond(&plan, response(1, vec![(T, vec![diverging(0, 2, -1)])]));
    let lookups = h.answer_offsets();
    assert_eq!(lookups.len(), 1, "looked up by auto.offset.reset");
    assert_eq!(lookups[0].specs, vec![OffsetSpec::Latest]);
    let evs = h.events();
    assert!(matches!(&evs[..], [FetchEvent::Reset { from: 10, to: 7, .. }]), "{evs:?}");
    let plan = only(h.turn());
    assert_eq!(plan.include[0].1.last_fetched_epoch, -1, "a looked-up position has no epoch");
}

#[test]
fn a_diverging_epoch_at_or_past_the_position_loses_nothing() {
    let mut h = read_ten(OffsetReset::None);
    let plan = only(h.turn());
    h.respond(&plan, response(1, vec![(T, vec![diverging(0, 2, 12)])]));
    assert!(h.events().is_empty(), "no reset, no error");
    let plan = only(h.turn());
    let (_, sent) = &plan.include[0];
    assert_eq!((sent.offset, sent.last_fetched_epoch), (10, 2));
}

#[test]
fn legacy_batches_carry_no_epoch_so_nothing_is_claimed() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 3));
    h.assign(&[(0, StartOffset::Offset(0))]);
    let plan = only(h.turn());
    // A v2 batch written before KIP-101 epochs has epoch -1.
    h.respond(&plan, response(1, vec![(T, vec![data(0, records(0, 3))])]));
    assert_eq!(h.events().len(), 1);
    assert_eq!(only(h.turn()).include[0].1.last_fetched_epoch, -1);
}

/// One offset lookup per leader: while the lookup at an unreachable leader
/// is out (its answer not back), the partitions of the other leaders are
/// looked up, then fetched; the late failure retries only its own partition.
#[test]
fn an_unanswered_offset_lookup_holds_up_only_its_leaders_partitions() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.leaders.insert(1, (2, 0));
    h.leaders.insert(2, (3, 0));
    h.logs.insert(1, (0, 10));
    h.logs.insert(2, (0, 20));
    h.assign(&[(0, StartOffset::Earliest), (1, StartOffset::Earliest), (2, StartOffset::Earliest)]);
    h.answer_leaders();
    let lookups = h.core.poll_offsets(h.now);
    assert_eq!(lookups.len(), 3, "one lookup per leader: {lookups:?}");
    let mut stuck = None;
    for l in lookups {
        if l.leader == 1 {
            stuck = Some(l);
            continue;
        }
        let (start, _) = h.logs[&l.partitions[0].partition];
        let map = l.partitions.iter().map(|tp| (tp.clone(), start)).collect();
        h.core.handle_offsets(l, Ok(vec![map]), h.now);
    }
    assert!(h.core.poll_offsets(h.now).is_empty(), "a lookup in flight is not asked again");
    let plans = h.core.poll_fetches(h.now);
    let mut fetched: Vec<i32> = plans.iter().flat_map(offsets_in).map(|(p, _, _)| p).collect();
    fetched.sort_unstable();
    assert_eq!(fetched, vec![1, 2], "the other leaders' partitions are fetched meanwhile");
    assert_eq!(h.pos(0), -1);
    // The stuck lookup fails at last: only partition 0 goes back to a leader lookup.
    h.core.handle_offsets(stuck.unwrap(), Err(lost_error()), h.now);
    assert!(h.core.poll_leaders(h.now).is_none(), "not before the backoff");
    h.now = h.core.next_wake().unwrap();
    let again = h.core.poll_leaders(h.now).expect("a leader lookup");
    assert_eq!(again.partitions, vec![tp(0)]);
}

/// An answer for a lookup the partition no longer waits for (it was
/// re-assigned with another start meanwhile) is ignored.
#[test]
fn a_stale_offset_answer_does_not_move_a_reassigned_partition() {
    let mut h = Harness::default();
    h.leaders.insert(0, (1, 0));
    h.logs.insert(0, (5, 50));
    h.assign(&[(0, StartOffset::Earliest)]);
    h.answer_leaders();
    let old = h.core.poll_offsets(h.now).remove(0);
    h.assign(&[(0, StartOffset::Latest)]);
    h.answer_leaders();
    let new = h.core.poll_offsets(h.now).remove(0);
    assert_ne!(old.id, new.id);
    h.core.handle_offsets(old, Ok(vec![[(tp(0), 5)].into_iter().collect()]), h.now);
    assert_eq!(h.pos(0), -1, "the stale answer (earliest) is not applied");
    h.core.handle_offsets(new, Ok(vec![[(tp(0), 50)].into_iter().collect()]), h.now);
    assert_eq!(h.pos(0), 50);
}
