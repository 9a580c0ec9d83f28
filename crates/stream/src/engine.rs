//! The micro-batch executor: feed a batch's records in, get the batch's output
//! rows out, keep aggregation state and the event-time watermark across batches.
//!
//! Semantics follow Spark 3.5's `StateStoreSaveExec` (checked against pyspark,
//! `tests/fixtures/stream_*`):
//! - complete: every group, every batch; no late-row dropping, no eviction;
//! - update: the groups changed in this batch; then state whose event-time key
//!   (window end, or the timestamp key) is `<=` the batch watermark is dropped;
//! - append (needs a watermark on a grouping key): groups whose event-time key
//!   is `<=` the batch watermark are emitted once and dropped;
//! - late rows: with append/update, a (row, window) whose window end is `<=`
//!   the *previous* batch's watermark is dropped (Spark's
//!   `eventTimeWatermarkForLateEvents`);
//! - the watermark for the next batch is `max(current, max event time seen in
//!   this batch - delay)`, updated only when the batch had event times;
//!   afterwards [`Engine::needs_no_data_batch`] says whether Spark would run a
//!   batch without new data to emit or evict state.
//!
//! Spark does not order output rows; kwire sorts aggregation output by the
//! grouping key (NULL first) so results are deterministic. Projection output
//! keeps input order.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::StreamError;
use crate::eval::{SlotVals, eval};
use crate::json::{Outcome, ParseMode};
use crate::plan::{AggFn, AggPlan, Expr, KeyExpr, OutputMode, Plan, PlanKind};
use crate::record::{SourceColumn, SourceRecord};
use crate::value::{Datum, Row, StructType, Value, compare, encode_key};
use kwire_proto::hash::FxBuild;

/// One aggregate's running state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Accumulator {
    /// count / count(*) / count(col)
    Count(i64),
    /// sum over integral input (wraps on overflow like Spark's non-ANSI mode)
    SumLong {
        /// Running sum.
        sum: i64,
        /// Whether any non-null input was seen.
        seen: bool,
    },
    /// sum over floating input
    SumDouble {
        /// Running sum (stored as bits in snapshots).
        #[serde(with = "f64_bits")]
        sum: f64,
        /// Whether any non-null input was seen.
        seen: bool,
    },
    /// avg / mean
    Avg {
        /// Running sum.
        #[serde(with = "f64_bits")]
        sum: f64,
        /// Non-null inputs.
        count: i64,
    },
    /// min
    Min(Value),
    /// max
    Max(Value),
}

mod f64_bits {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(v.to_bits())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        u64::deserialize(d).map(f64::from_bits)
    }
}

impl Accumulator {
    fn new(f: AggFn) -> Accumulator {
        match f {
            AggFn::CountStar | AggFn::Count => Accumulator::Count(0),
            AggFn::SumLong => Accumulator::SumLong { sum: 0, seen: false },
            AggFn::SumDouble => Accumulator::SumDouble { sum: 0.0, seen: false },
            AggFn::Avg => Accumulator::Avg { sum: 0.0, count: 0 },
            AggFn::Min => Accumulator::Min(Value::Null),
            AggFn::Max => Accumulator::Max(Value::Null),
        }
    }

    /// Whether this accumulator is the kind `f` builds (a partial from
    /// another instance is checked against the plan before it is merged).
    fn fits(&self, f: AggFn) -> bool {
        matches!(
            (self, f),
            (Accumulator::Count(_), AggFn::CountStar | AggFn::Count)
                | (Accumulator::SumLong { .. }, AggFn::SumLong)
                | (Accumulator::SumDouble { .. }, AggFn::SumDouble)
                | (Accumulator::Avg { .. }, AggFn::Avg)
                | (Accumulator::Min(_), AggFn::Min)
                | (Accumulator::Max(_), AggFn::Max)
        )
    }

    #[inline]
    fn update(&mut self, star: bool, v: &Datum<'_>) {
        match self {
            Accumulator::Count(n) => {
                if star || !v.is_null() {
                    *n += 1;
                }
            }
            Accumulator::SumLong { sum, seen } => {
                if let Some(x) = v.as_i64() {
                    *sum = sum.wrapping_add(x);
                    *seen = true;
                }
            }
            Accumulator::SumDouble { sum, seen } => {
                if let Some(x) = v.as_f64() {
                    *sum += x;
                    *seen = true;
                }
            }
            Accumulator::Avg { sum, count } => {
                if let Some(x) = v.as_f64() {
                    *sum += x;
                    *count += 1;
                }
            }
            Accumulator::Min(cur) => {
                if !v.is_null() && (cur.is_null() || compare(v, cur) == std::cmp::Ordering::Less) {
                    *cur = v.to_owned_value();
                }
            }
            Accumulator::Max(cur) => {
                if !v.is_null() && (cur.is_null() || compare(v, cur) == std::cmp::Ordering::Greater) {
                    *cur = v.to_owned_value();
                }
            }
        }
    }

    /// Fold another partial aggregate of the same function into this one
    /// (the two saw disjoint rows).
    fn merge(&mut self, other: &Accumulator) {
        match (self, other) {
            (Accumulator::Count(a), Accumulator::Count(b)) => *a += b,
            (Accumulator::SumLong { sum, seen }, Accumulator::SumLong { sum: s2, seen: n2 }) => {
                *sum = sum.wrapping_add(*s2);
                *seen |= n2;
            }
            (Accumulator::SumDouble { sum, seen }, Accumulator::SumDouble { sum: s2, seen: n2 }) => {
                *sum += s2;
                *seen |= n2;
            }
            (Accumulator::Avg { sum, count }, Accumulator::Avg { sum: s2, count: c2 }) => {
                *sum += s2;
                *count += c2;
            }
            (Accumulator::Min(cur), Accumulator::Min(v))
                if !v.is_null() && (cur.is_null() || compare(v, cur) == std::cmp::Ordering::Less) =>
            {
                *cur = v.clone();
            }
            (Accumulator::Max(cur), Accumulator::Max(v))
                if !v.is_null() && (cur.is_null() || compare(v, cur) == std::cmp::Ordering::Greater) =>
            {
                *cur = v.clone();
            }
            _ => {} // different functions: never built by the same plan
        }
    }

    /// The aggregate's current result.
    pub fn result(&self) -> Value {
        match self {
            Accumulator::Count(n) => Value::Long(*n),
            Accumulator::SumLong { sum, seen } => {
                if *seen {
                    Value::Long(*sum)
                } else {
                    Value::Null
                }
            }
            Accumulator::SumDouble { sum, seen } => {
                if *seen {
                    Value::Double(*sum)
                } else {
                    Value::Null
                }
            }
            Accumulator::Avg { sum, count } => {
                if *count > 0 {
                    Value::Double(*sum / *count as f64)
                } else {
                    Value::Null
                }
            }
            Accumulator::Min(v) | Accumulator::Max(v) => v.clone(),
        }
    }
}

/// Groups and their accumulators. Keys are interned: a row's key is encoded
/// into a reused buffer and looked up by bytes; only a new group allocates.
#[derive(Debug, Default)]
struct GroupTable {
    map: HashMap<Box<[u8]>, u32, FxBuild>,
    keys: Vec<Row>,
    accs: Vec<Accumulator>,
    touched: Vec<u64>,
}

impl GroupTable {
    fn len(&self) -> usize {
        self.keys.len()
    }
    fn rebuild_map(&mut self) {
        self.map.clear();
        let mut buf = Vec::new();
        for (i, k) in self.keys.iter().enumerate() {
            buf.clear();
            for d in k {
                encode_key(d, &mut buf);
            }
            self.map.insert(buf.as_slice().into(), i as u32);
        }
    }
}

/// Aggregation state and watermarks, as saved in a checkpoint after a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateSnapshot {
    format: u32,
    signature: String,
    last_batch_id: Option<u64>,
    last_batch_watermark_ms: i64,
    next_watermark_ms: i64,
    groups: Vec<(Row, Vec<Accumulator>)>,
}

impl StateSnapshot {
    /// The batch this snapshot was taken after.
    pub fn last_batch_id(&self) -> Option<u64> {
        self.last_batch_id
    }
    /// The watermark the next batch must use.
    pub fn next_watermark_ms(&self) -> i64 {
        self.next_watermark_ms
    }
    /// Number of groups held.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }
    /// The plan signature the state belongs to.
    pub fn signature(&self) -> &str {
        &self.signature
    }
    /// The groups and the watermarks (last batch's, next batch's).
    pub(crate) fn into_groups(self) -> (Vec<Group>, (i64, i64)) {
        (self.groups, (self.last_batch_watermark_ms, self.next_watermark_ms))
    }
}

/// What a finished batch produced.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOutput {
    /// The batch id.
    pub batch_id: u64,
    /// Rows for the sink, in the plan's output schema (remaining rows, for
    /// projections drained with [`Engine::take_rows`]).
    pub rows: Vec<Row>,
    /// Records fed into the batch.
    pub input_rows: u64,
    /// The watermark the batch ran with.
    pub watermark_ms: i64,
    /// Groups held in state after the batch.
    pub state_rows: usize,
}

#[derive(Debug, Default)]
struct BatchState {
    open: bool,
    id: u64,
    evict_wm_ms: i64,
    late_wm_ms: i64,
    input_rows: u64,
    max_event_ms: Option<i64>,
    rows: Vec<Row>,
}

/// A group's key and accumulators: what a partial aggregation hands to the
/// task that owns the key, and what a changelog record holds.
pub type Group = (Row, Vec<Accumulator>);

/// The streaming executor for one [`Plan`].
///
/// ```
/// use kwire_stream::{Engine, OutputMode, Plan, QuerySpec, SourceRecord};
/// let spec = QuerySpec {
///     schema: Some("gender STRING, age LONG, party STRING".into()),
///     group_by: vec!["gender, party".into()],
///     output_mode: OutputMode::Complete,
///     ..QuerySpec::default()
/// };
/// let mut engine = Engine::new(Plan::new(&spec).unwrap());
/// let rec = SourceRecord {
///     key: None,
///     value: Some(br#"{"gender":"M","age":30,"party":"D"}"#),
///     topic: "voters", partition: 0, offset: 0, timestamp_ms: 0, timestamp_type: 0, headers: &[],
/// };
/// engine.begin_batch(0, engine.next_watermark_ms());
/// engine.process([rec, rec]).unwrap();
/// let out = engine.finish_batch();
/// assert_eq!(out.rows.len(), 1);
/// assert_eq!(out.rows[0][2], kwire_stream::Value::Long(2));
/// ```
#[derive(Debug)]
pub struct Engine {
    plan: Plan,
    table: GroupTable,
    batch: BatchState,
    prev_batch_wm_ms: i64,
    next_wm_ms: i64,
    last_batch_id: Option<u64>,
    seq: u64,
    scratch: Scratch,
    /// Record the groups each batch changed or evicted ([`Engine::take_changes`]).
    track_changes: bool,
    changes: Vec<(Row, Option<Vec<Accumulator>>)>,
}

/// Buffers [`Engine::process`] reuses from call to call, so that a driver can
/// feed one record per call without allocating. They hold no data between
/// calls (only capacity); the lifetime is erased by recycling empty vectors.
#[derive(Debug, Default)]
struct Scratch {
    slots: Vec<SlotVals<'static>>,
    key_buf: Vec<u8>,
    win_buf: Vec<u8>,
    agg_in: Vec<Datum<'static>>,
}

/// An empty vector with `v`'s allocation, for another lifetime of `Datum`
/// (the standard library collects in place when the layouts match; this
/// only ever moves capacity, never values).
#[inline]
fn recycle<'x, 'y>(mut v: Vec<Datum<'x>>) -> Vec<Datum<'y>> {
    v.clear();
    v.into_iter().map(|_| Datum::Null).collect()
}

impl Engine {
    /// An engine with empty state and watermark 0.
    pub fn new(plan: Plan) -> Engine {
        Engine {
            plan,
            table: GroupTable::default(),
            batch: BatchState::default(),
            prev_batch_wm_ms: 0,
            next_wm_ms: 0,
            last_batch_id: None,
            seq: 0,
            scratch: Scratch::default(),
            track_changes: false,
            changes: Vec::new(),
        }
    }

    /// An engine for the first stage of a distributed query: it aggregates
    /// records into partial groups ([`Engine::take_partials`]) and never
    /// drops late rows or evicts (the task that owns a key decides that).
    pub fn partial_stage(plan: Plan) -> Engine {
        let mut e = Engine::new(plan);
        e.prev_batch_wm_ms = i64::MIN / 1000;
        e
    }

    /// Drain a [`partial_stage`](Engine::partial_stage) engine's open batch:
    /// its groups (key, accumulators) and the largest event time it saw (ms),
    /// and close the batch. Projection rows stay for [`Engine::take_rows`].
    pub fn take_partials(&mut self) -> (Vec<Group>, Option<i64>) {
        let t = std::mem::take(&mut self.table);
        let n = t.accs.len().checked_div(t.keys.len()).unwrap_or(0);
        let mut accs = t.accs.into_iter();
        let groups = t.keys.into_iter().map(|k| (k, accs.by_ref().take(n).collect())).collect();
        let max = self.batch.max_event_ms.take();
        self.batch.open = false;
        (groups, max)
    }

    /// Fold a partial group from the first stage into the open batch (opens
    /// one with the next id and watermark if none is open), as if its
    /// records had been processed here: a group whose event-time key is at
    /// or below the previous batch's watermark is late and dropped (false).
    /// A partial that does not fit the plan's key and aggregates is an error.
    pub fn merge_partial(&mut self, key: Row, accs: Vec<Accumulator>) -> Result<bool, StreamError> {
        if !self.batch.open {
            self.begin_batch(self.next_batch_id(), self.next_wm_ms);
        }
        let PlanKind::Aggregate(a) = &self.plan.kind else {
            return Err(StreamError::State("a partial aggregate for a query without aggregation".into()));
        };
        if key.len() != a.keys.len()
            || accs.len() != a.aggs.len()
            || !accs.iter().zip(&a.aggs).all(|(acc, s)| acc.fits(s.func))
        {
            return Err(StreamError::State("a partial aggregate does not match the query's shape".into()));
        }
        let late_us = self.batch.late_wm_ms.saturating_mul(1000);
        let drop_late = matches!(self.plan.output_mode(), OutputMode::Append | OutputMode::Update);
        let late = match a.event_key.and_then(|k| key.get(k)) {
            Some(Datum::Struct(w)) => matches!(w.get(1), Some(Datum::Timestamp(end)) if *end <= late_us),
            Some(Datum::Timestamp(t)) => *t <= late_us,
            _ => false,
        };
        if drop_late && late {
            return Ok(false);
        }
        let mut buf = Vec::new();
        for d in &key {
            encode_key(d, &mut buf);
        }
        let n = a.aggs.len();
        let t = &mut self.table;
        match t.map.get(buf.as_slice()) {
            Some(&g) => {
                let g = g as usize;
                for (j, acc) in accs.iter().enumerate() {
                    t.accs[g * n + j].merge(acc);
                }
                t.touched[g] = self.seq;
            }
            None => {
                let g = t.keys.len();
                t.keys.push(key);
                t.accs.extend(accs);
                t.touched.push(self.seq);
                t.map.insert(buf.into_boxed_slice(), g as u32);
            }
        }
        Ok(true)
    }

    /// Count `n` input records into the open batch (records a first stage
    /// aggregated elsewhere, for progress reports).
    pub fn add_input_rows(&mut self, n: u64) {
        self.batch.input_rows += n;
    }

    /// An event time (ms) seen upstream: moves the watermark at the end of
    /// the open batch as if a record with that time had been processed here.
    pub fn observe_event_ms(&mut self, ms: i64) {
        if !self.batch.open {
            self.begin_batch(self.next_batch_id(), self.next_wm_ms);
        }
        self.batch.max_event_ms = Some(self.batch.max_event_ms.map_or(ms, |m| m.max(ms)));
    }

    /// Whether a batch is open (records or partials fed since the last finish).
    pub fn batch_open(&self) -> bool {
        self.batch.open
    }

    /// Keep, per batch, the groups it changed (key, new accumulators) and
    /// evicted (key, `None`): what a changelog must record.
    pub fn set_track_changes(&mut self, on: bool) {
        self.track_changes = on;
    }

    /// The changes of the batches finished since the last call (see
    /// [`set_track_changes`](Engine::set_track_changes)), in order: a group
    /// changed and then evicted in one batch appears twice, the eviction last.
    pub fn take_changes(&mut self) -> Vec<(Row, Option<Vec<Accumulator>>)> {
        std::mem::take(&mut self.changes)
    }

    /// The watermarks to restore a task with: (previous batch's, next batch's).
    pub fn watermarks(&self) -> (i64, i64) {
        (self.prev_batch_wm_ms, self.next_wm_ms)
    }

    /// Replace the state with these groups and watermarks (a task restored
    /// from its changelog). Fails on groups that don't fit the query.
    pub fn restore_groups(
        &mut self,
        groups: Vec<Group>,
        watermarks: (i64, i64),
        last_batch_id: Option<u64>,
    ) -> Result<(), StreamError> {
        self.restore(StateSnapshot {
            format: 1,
            signature: self.plan.state_signature(),
            last_batch_id,
            last_batch_watermark_ms: watermarks.0,
            next_watermark_ms: watermarks.1,
            groups,
        })?;
        if let PlanKind::Aggregate(a) = &self.plan.kind {
            let fits = self
                .table
                .accs
                .chunks(a.aggs.len().max(1))
                .all(|g| g.iter().zip(&a.aggs).all(|(acc, s)| acc.fits(s.func)));
            if !fits {
                self.table = GroupTable::default();
                return Err(StreamError::State("a saved group does not match the query's aggregates".into()));
            }
        }
        Ok(())
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The output schema (same as `plan().output_schema()`).
    pub fn output_schema(&self) -> &StructType {
        self.plan.output_schema()
    }

    /// The watermark the next batch should run with (store it in `offsets/N`).
    pub fn next_watermark_ms(&self) -> i64 {
        self.next_wm_ms
    }

    /// The id the next batch gets if nothing else is said (last + 1, or 0).
    pub fn next_batch_id(&self) -> u64 {
        self.last_batch_id.map_or(0, |b| b + 1)
    }

    /// Groups currently held.
    pub fn state_rows(&self) -> usize {
        self.table.len()
    }

    /// Start batch `batch_id` with watermark `watermark_ms` (normally
    /// [`Engine::next_watermark_ms`], or the one recorded in `offsets/N` when
    /// re-running a batch after a restart).
    pub fn begin_batch(&mut self, batch_id: u64, watermark_ms: i64) {
        self.seq += 1;
        self.batch = BatchState {
            open: true,
            id: batch_id,
            evict_wm_ms: watermark_ms,
            late_wm_ms: self.prev_batch_wm_ms,
            input_rows: 0,
            max_event_ms: None,
            rows: Vec::new(),
        };
        if watermark_ms > self.next_wm_ms {
            self.next_wm_ms = watermark_ms;
        }
    }

    /// Feed records of the open batch (opens one with the next id and watermark
    /// if none is open). Call as often as needed; strings are borrowed from
    /// the records while they are parsed and grouped.
    ///
    /// Errors only in FAILFAST mode, naming the record's topic, partition and
    /// offset.
    pub fn process<'a, I>(&mut self, records: I) -> Result<(), StreamError>
    where
        I: IntoIterator<Item = SourceRecord<'a>>,
    {
        if !self.batch.open {
            self.begin_batch(self.next_batch_id(), self.next_wm_ms);
        }
        let plan = &self.plan;
        let table = &mut self.table;
        let batch = &mut self.batch;
        let seq = self.seq;
        let failfast = plan.parse_mode() == ParseMode::FailFast;
        let mode = plan.output_mode();
        let sc = &mut self.scratch;
        let mut slots: Vec<SlotVals<'a>> = if sc.slots.len() == plan.slots.len() {
            std::mem::take(&mut sc.slots)
                .into_iter()
                .map(|s| SlotVals { vals: recycle(s.vals), null: true })
                .collect()
        } else {
            plan.slots
                .iter()
                .map(|s| SlotVals { vals: Vec::with_capacity(s.parser.schema().len()), null: true })
                .collect()
        };
        let mut key_buf: Vec<u8> = std::mem::take(&mut sc.key_buf);
        let mut win_buf: Vec<u8> = std::mem::take(&mut sc.win_buf);
        let mut agg_in: Vec<Datum<'a>> = recycle(std::mem::take(&mut sc.agg_in));
        let drop_late = matches!(mode, OutputMode::Append | OutputMode::Update);
        let late_us = batch.late_wm_ms.saturating_mul(1000);

        let result = (|| -> Result<(), StreamError> {
            for rec in records {
                batch.input_rows += 1;
                // from_json slots
                for k in 0..plan.slots.len() {
                    let (done, rest) = slots.split_at_mut(k);
                    let sv = &mut rest[0];
                    let slot = &plan.slots[k];
                    let outcome = match slot_bytes(&slot.input, &rec) {
                        Some(Some(b)) => slot.parser.parse(b, &mut sv.vals),
                        Some(None) => Outcome::NullStruct,
                        None => match eval(&slot.input, &rec, done) {
                            Datum::Str(Cow::Borrowed(s)) => slot.parser.parse(s.as_bytes(), &mut sv.vals),
                            Datum::Binary(Cow::Borrowed(b)) => slot.parser.parse(b, &mut sv.vals),
                            Datum::Str(Cow::Owned(s)) => parse_owned(slot, s.as_bytes(), &mut sv.vals),
                            Datum::Binary(Cow::Owned(b)) => parse_owned(slot, &b, &mut sv.vals),
                            _ => Outcome::NullStruct,
                        },
                    };
                    if outcome == Outcome::NullStruct {
                        sv.vals.clear();
                        sv.vals.resize(slot.parser.schema().len(), Datum::Null);
                    }
                    sv.null = outcome == Outcome::NullStruct;
                    if failfast && outcome.is_bad() {
                        return Err(StreamError::MalformedRecord {
                            topic: rec.topic.to_string(),
                            partition: rec.partition,
                            offset: rec.offset,
                            reason: outcome.describe(slot.parser.schema()),
                        });
                    }
                }
                if plan.filter.as_ref().is_some_and(|f| eval(f, &rec, &slots) != Datum::Bool(true)) {
                    continue;
                }
                if let Some(Datum::Timestamp(t)) =
                    plan.watermark.as_ref().map(|wm| eval(&wm.time, &rec, &slots))
                {
                    let ms = t / 1000;
                    batch.max_event_ms = Some(batch.max_event_ms.map_or(ms, |m| m.max(ms)));
                }
                match &plan.kind {
                    PlanKind::Project(exprs) => {
                        let row: Row = exprs.iter().map(|e| eval(e, &rec, &slots).into_owned()).collect();
                        batch.rows.push(row);
                    }
                    PlanKind::Aggregate(a) => {
                        agg_in.clear();
                        for g in &a.aggs {
                            agg_in.push(match &g.input {
                                Some(e) => eval(e, &rec, &slots),
                                None => Datum::Null,
                            });
                        }
                        // Encode the key straight from the row (no clones); the
                        // window key, if any, is spliced in at `window_pos`.
                        key_buf.clear();
                        let mut window: Option<(usize, usize, i64, i64, i64, i64)> = None;
                        let mut null_time = false;
                        let mut event_ts: Option<i64> = None;
                        for (i, k) in a.keys.iter().enumerate() {
                            match k {
                                KeyExpr::Expr(Expr::JsonField(s, f)) => {
                                    let d =
                                        slots.get(*s).and_then(|sv| sv.vals.get(*f)).unwrap_or(&Datum::Null);
                                    if let (true, Datum::Timestamp(t)) = (a.event_key == Some(i), d) {
                                        event_ts = Some(*t);
                                    }
                                    encode_key(d, &mut key_buf);
                                }
                                KeyExpr::Expr(e) => {
                                    let d = eval(e, &rec, &slots);
                                    if let (true, Datum::Timestamp(t)) = (a.event_key == Some(i), &d) {
                                        event_ts = Some(*t);
                                    }
                                    encode_key(&d, &mut key_buf);
                                }
                                KeyExpr::Window { time, size, slide, start } => {
                                    match eval(time, &rec, &slots) {
                                        Datum::Timestamp(t) => {
                                            window = Some((i, key_buf.len(), t, *size, *slide, *start))
                                        }
                                        _ => null_time = true,
                                    }
                                }
                            }
                        }
                        if null_time {
                            continue; // Spark filters rows whose window time is NULL
                        }
                        let ctx = RowCtx { rec: &rec, slots: &slots, agg_in: &agg_in, seq };
                        match window {
                            None => {
                                if drop_late && event_ts.is_some_and(|t| t <= late_us) {
                                    continue;
                                }
                                update_group(table, a, &key_buf, None, &ctx);
                            }
                            Some((wi, pos, t, size, slide, start)) => {
                                // Spark's TimeWindowing: the last window start at or before t,
                                // then earlier overlapping windows.
                                let rem = (t - start).rem_euclid(slide);
                                let last_start = t - rem;
                                let overlapping = (size + slide - 1) / slide;
                                for i in 0..overlapping {
                                    let ws = last_start - i * slide;
                                    let we = ws + size;
                                    if !(ws <= t && t < we) {
                                        continue;
                                    }
                                    if drop_late && a.event_key == Some(wi) && we <= late_us {
                                        continue;
                                    }
                                    win_buf.clear();
                                    win_buf.extend_from_slice(&key_buf[..pos]);
                                    encode_window(ws, we, &mut win_buf);
                                    win_buf.extend_from_slice(&key_buf[pos..]);
                                    update_group(table, a, &win_buf, Some((wi, ws, we)), &ctx);
                                }
                            }
                        }
                    }
                }
            }
            Ok(())
        })();
        let sc = &mut self.scratch;
        sc.slots = slots.into_iter().map(|s| SlotVals { vals: recycle(s.vals), null: true }).collect();
        key_buf.clear();
        win_buf.clear();
        sc.key_buf = key_buf;
        sc.win_buf = win_buf;
        sc.agg_in = recycle(agg_in);
        result
    }

    /// Drain the projection rows produced so far in the open batch (lets a
    /// driver stream a large append-mode batch to its sink). Aggregations
    /// produce rows only in [`Engine::finish_batch`].
    pub fn take_rows(&mut self) -> Vec<Row> {
        std::mem::take(&mut self.batch.rows)
    }

    /// Close the open batch: compute its output per the output mode, evict
    /// state below the watermark, and advance the watermark.
    pub fn finish_batch(&mut self) -> BatchOutput {
        if !self.batch.open {
            self.begin_batch(self.next_batch_id(), self.next_wm_ms);
        }
        let evict_us = self.batch.evict_wm_ms.saturating_mul(1000);
        let rows = match &self.plan.kind {
            PlanKind::Project(_) => std::mem::take(&mut self.batch.rows),
            PlanKind::Aggregate(a) => {
                let n = a.aggs.len();
                let mode = self.plan.output_mode();
                let event_key = if mode == OutputMode::Complete { None } else { a.event_key };
                let expired = |key: &Row| -> bool {
                    match event_key.and_then(|k| key.get(k)) {
                        Some(Datum::Struct(w)) => {
                            matches!(w.get(1), Some(Datum::Timestamp(end)) if *end <= evict_us)
                        }
                        Some(Datum::Timestamp(t)) => *t <= evict_us,
                        _ => false,
                    }
                };
                let t = &mut self.table;
                let mut out: Vec<Row> = Vec::new();
                let emit = |g: usize, t: &GroupTable| -> Row {
                    let mut r = t.keys[g].clone();
                    r.extend(t.accs[g * n..(g + 1) * n].iter().map(Accumulator::result));
                    r
                };
                match mode {
                    OutputMode::Complete => {
                        for g in 0..t.len() {
                            out.push(emit(g, t));
                        }
                    }
                    OutputMode::Update => {
                        for g in 0..t.len() {
                            if t.touched[g] == self.seq {
                                out.push(emit(g, t));
                            }
                        }
                    }
                    OutputMode::Append => {
                        for g in 0..t.len() {
                            if expired(&t.keys[g]) {
                                out.push(emit(g, t));
                            }
                        }
                    }
                }
                if self.track_changes {
                    for g in 0..t.len() {
                        if t.touched[g] == self.seq {
                            self.changes.push((t.keys[g].clone(), Some(t.accs[g * n..(g + 1) * n].to_vec())));
                        }
                    }
                }
                if event_key.is_some() {
                    let old_keys = std::mem::take(&mut t.keys);
                    let old_accs = std::mem::take(&mut t.accs);
                    let old_touched = std::mem::take(&mut t.touched);
                    let mut accs = old_accs.into_iter();
                    for (key, touched) in old_keys.into_iter().zip(old_touched) {
                        let group_accs: Vec<Accumulator> = accs.by_ref().take(n).collect();
                        if !expired(&key) {
                            t.keys.push(key);
                            t.accs.extend(group_accs);
                            t.touched.push(touched);
                        } else if self.track_changes {
                            self.changes.push((key, None));
                        }
                    }
                    t.rebuild_map();
                }
                let nk = a.keys.len();
                out.sort_by(|x, y| {
                    for i in 0..nk {
                        let o = compare(&x[i], &y[i]);
                        if o != std::cmp::Ordering::Equal {
                            return o;
                        }
                    }
                    std::cmp::Ordering::Equal
                });
                out
            }
        };
        if let (Some(max), Some(wm)) = (self.batch.max_event_ms, &self.plan.watermark) {
            let cand = max.saturating_sub(wm.delay_ms);
            if cand > self.next_wm_ms {
                self.next_wm_ms = cand;
            }
        }
        self.prev_batch_wm_ms = self.batch.evict_wm_ms;
        self.last_batch_id = Some(self.batch.id);
        self.batch.open = false;
        BatchOutput {
            batch_id: self.batch.id,
            rows,
            input_rows: self.batch.input_rows,
            watermark_ms: self.batch.evict_wm_ms,
            state_rows: self.table.len(),
        }
    }

    /// Run one whole batch.
    pub fn run_batch<'a, I>(
        &mut self,
        batch_id: u64,
        watermark_ms: i64,
        records: I,
    ) -> Result<BatchOutput, StreamError>
    where
        I: IntoIterator<Item = SourceRecord<'a>>,
    {
        self.begin_batch(batch_id, watermark_ms);
        self.process(records)?;
        Ok(self.finish_batch())
    }

    /// After a batch: whether Spark would now run a batch without new data
    /// (append/update aggregation with an event-time key whose watermark moved),
    /// to emit finalized windows or evict state.
    pub fn needs_no_data_batch(&self) -> bool {
        match &self.plan.kind {
            PlanKind::Aggregate(a) => {
                matches!(self.plan.output_mode(), OutputMode::Append | OutputMode::Update)
                    && a.event_key.is_some()
                    && self.next_wm_ms > self.prev_batch_wm_ms
            }
            PlanKind::Project(_) => false,
        }
    }

    /// A helper for the open batch, to run on another thread: same plan and
    /// watermarks, no groups. Feed it part of the batch's records with
    /// [`Engine::process`], then fold it back with [`Engine::merge_worker`]
    /// before [`Engine::finish_batch`]. For aggregations (projections keep
    /// input order only on one engine).
    pub fn worker(&self) -> Engine {
        let mut w = Engine::new(self.plan.clone());
        w.prev_batch_wm_ms = self.prev_batch_wm_ms;
        w.next_wm_ms = self.next_wm_ms;
        w.last_batch_id = self.last_batch_id;
        w.seq = 1;
        w.batch = BatchState {
            open: true,
            id: self.batch.id,
            evict_wm_ms: self.batch.evict_wm_ms,
            late_wm_ms: self.batch.late_wm_ms,
            input_rows: 0,
            max_event_ms: None,
            rows: Vec::new(),
        };
        w
    }

    /// Fold a [`Engine::worker`]'s groups and counters into the open batch:
    /// the result is what processing all records on this engine gives (up to
    /// the order of floating-point additions).
    pub fn merge_worker(&mut self, w: Engine) -> Result<(), StreamError> {
        if !self.batch.open
            || w.batch.id != self.batch.id
            || w.plan.state_signature() != self.plan.state_signature()
        {
            return Err(StreamError::State("merge_worker: not a worker of the open batch".into()));
        }
        self.batch.input_rows += w.batch.input_rows;
        self.batch.max_event_ms = match (self.batch.max_event_ms, w.batch.max_event_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.batch.rows.extend(w.batch.rows);
        let n = match &self.plan.kind {
            PlanKind::Aggregate(a) => a.aggs.len(),
            PlanKind::Project(_) => return Ok(()),
        };
        let t = &mut self.table;
        let mut buf = Vec::new();
        let mut accs = w.table.accs.into_iter();
        for (key, touched) in w.table.keys.into_iter().zip(w.table.touched) {
            let group: Vec<Accumulator> = accs.by_ref().take(n).collect();
            buf.clear();
            for d in &key {
                encode_key(d, &mut buf);
            }
            let touched = if touched == w.seq { self.seq } else { 0 };
            match t.map.get(buf.as_slice()) {
                Some(&g) => {
                    let g = g as usize;
                    for (j, a) in group.iter().enumerate() {
                        t.accs[g * n + j].merge(a);
                    }
                    if touched != 0 {
                        t.touched[g] = touched;
                    }
                }
                None => {
                    let g = t.keys.len();
                    t.keys.push(key);
                    t.accs.extend(group);
                    t.touched.push(touched);
                    t.map.insert(buf.as_slice().into(), g as u32);
                }
            }
        }
        Ok(())
    }

    /// The state to save with a committed batch.
    pub fn snapshot(&self) -> StateSnapshot {
        let n = match &self.plan.kind {
            PlanKind::Aggregate(a) => a.aggs.len(),
            PlanKind::Project(_) => 0,
        };
        StateSnapshot {
            format: 1,
            signature: self.plan.state_signature(),
            last_batch_id: self.last_batch_id,
            last_batch_watermark_ms: self.prev_batch_wm_ms,
            next_watermark_ms: self.next_wm_ms,
            groups: self
                .table
                .keys
                .iter()
                .enumerate()
                .map(|(g, k)| (k.clone(), self.table.accs[g * n..(g + 1) * n].to_vec()))
                .collect(),
        }
    }

    /// Replace the state with a snapshot (after a restart). Fails when the
    /// snapshot belongs to a query with different grouping or aggregates.
    pub fn restore(&mut self, snap: StateSnapshot) -> Result<(), StreamError> {
        let sig = self.plan.state_signature();
        if snap.signature != sig {
            return Err(StreamError::State(format!(
                "the saved state was written by a different query: saved [{}], this query [{}]",
                snap.signature, sig
            )));
        }
        let n = match &self.plan.kind {
            PlanKind::Aggregate(a) => a.aggs.len(),
            PlanKind::Project(_) => 0,
        };
        let nk = self.plan.key_columns().len();
        let mut t = GroupTable::default();
        for (k, accs) in snap.groups {
            if accs.len() != n || k.len() != nk {
                return Err(StreamError::State("a saved group does not match the query's shape".into()));
            }
            t.keys.push(k);
            t.accs.extend(accs);
            t.touched.push(0);
        }
        t.rebuild_map();
        if t.map.len() != t.keys.len() {
            return Err(StreamError::State("the saved state holds duplicate groups".into()));
        }
        self.table = t;
        self.last_batch_id = snap.last_batch_id;
        self.prev_batch_wm_ms = snap.last_batch_watermark_ms;
        self.next_wm_ms = snap.next_watermark_ms;
        self.batch = BatchState::default();
        Ok(())
    }
}

/// Raw bytes for the common slot inputs (`value`, `CAST(value AS STRING)`, and
/// the same for `key`), skipping UTF-8 validation: the scanner handles bytes
/// and replaces invalid UTF-8 inside strings as Spark's decoder does.
/// `None` = not a simple input; `Some(None)` = NULL input.
#[inline]
fn slot_bytes<'a>(e: &Expr, r: &SourceRecord<'a>) -> Option<Option<&'a [u8]>> {
    let col = match e {
        Expr::Source(c) => *c,
        Expr::Cast(inner, crate::value::DataType::String) => match **inner {
            Expr::Source(c) => c,
            _ => return None,
        },
        _ => return None,
    };
    match col {
        SourceColumn::Value => Some(r.value),
        SourceColumn::Key => Some(r.key),
        _ => None,
    }
}

fn parse_owned<'a>(slot: &crate::plan::JsonSlot, bytes: &[u8], out: &mut Vec<Datum<'a>>) -> Outcome {
    let mut tmp: Vec<Datum<'_>> = Vec::new();
    let o = slot.parser.parse(bytes, &mut tmp);
    out.clear();
    out.extend(tmp.into_iter().map(|d| -> Datum<'a> { d.into_owned() }));
    o
}

struct RowCtx<'r, 'a> {
    rec: &'r SourceRecord<'a>,
    slots: &'r [SlotVals<'a>],
    agg_in: &'r [Datum<'a>],
    seq: u64,
}

#[inline]
fn update_group(
    t: &mut GroupTable,
    a: &AggPlan,
    key: &[u8],
    window: Option<(usize, i64, i64)>,
    ctx: &RowCtx<'_, '_>,
) {
    let n = a.aggs.len();
    let g = match t.map.get(key) {
        Some(&g) => g as usize,
        None => {
            // a new group: materialise its key (evaluated again, owned)
            let g = t.keys.len();
            let row: Row = a
                .keys
                .iter()
                .enumerate()
                .map(|(i, k)| match (k, window) {
                    (_, Some((wi, ws, we))) if wi == i => {
                        Datum::Struct(vec![Datum::Timestamp(ws), Datum::Timestamp(we)])
                    }
                    (KeyExpr::Expr(e), _) => eval(e, ctx.rec, ctx.slots).into_owned(),
                    (KeyExpr::Window { .. }, _) => Datum::Null,
                })
                .collect();
            t.keys.push(row);
            t.accs.extend(a.aggs.iter().map(|s| Accumulator::new(s.func)));
            t.touched.push(0);
            t.map.insert(key.into(), g as u32);
            g
        }
    };
    t.touched[g] = ctx.seq;
    for (j, s) in a.aggs.iter().enumerate() {
        t.accs[g * n + j].update(s.func == AggFn::CountStar, &ctx.agg_in[j]);
    }
}

/// Must match `encode_key(Struct([Timestamp(ws), Timestamp(we)]))`.
#[inline]
fn encode_window(ws: i64, we: i64, out: &mut Vec<u8>) {
    out.push(9);
    out.extend_from_slice(&2u64.to_le_bytes());
    out.push(6);
    out.extend_from_slice(&ws.to_le_bytes());
    out.push(6);
    out.extend_from_slice(&we.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_record_per_call_equals_one_call() {
        use crate::plan::QuerySpec;
        let spec = QuerySpec {
            schema: Some("gender STRING, age LONG, party STRING".into()),
            group_by: vec!["gender, party".into()],
            aggs: vec!["count".into(), "max(age)".into()],
            output_mode: OutputMode::Complete,
            ..QuerySpec::default()
        };
        let values = [
            r#"{"gender":"M","age":30,"party":"D"}"#,
            r#"{"gender":"F","age":"x","party":"D"}"#,
            "oops",
            r#"{"gender":"M","age":70,"party":"D"}"#,
        ];
        let recs = || {
            values.iter().enumerate().map(|(i, v)| SourceRecord {
                key: None,
                value: Some(v.as_bytes()),
                topic: "t",
                partition: 0,
                offset: i as i64,
                timestamp_ms: 0,
                timestamp_type: 0,
                headers: &[],
            })
        };
        let plan = Plan::new(&spec).unwrap();
        let mut a = Engine::new(plan.clone());
        let all = a.run_batch(0, 0, recs()).unwrap();
        let mut b = Engine::new(plan);
        b.begin_batch(0, 0);
        for r in recs() {
            // the scratch buffers are recycled from call to call
            b.process(std::iter::once(r)).unwrap();
        }
        assert_eq!(b.finish_batch(), all);
        assert_eq!(all.rows.len(), 3);
    }

    #[test]
    fn workers_merged_equal_one_engine() {
        use crate::plan::QuerySpec;
        let specs = [
            (OutputMode::Complete, None, None),
            (OutputMode::Update, None, None),
            (OutputMode::Append, Some("timestamp, 10 seconds"), Some("5 seconds")),
            (OutputMode::Update, Some("timestamp, 10 seconds, 5 seconds"), Some("5 seconds")),
        ];
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let values: Vec<(String, i64)> = (0..3000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let v = match x % 11 {
                    0 => "oops".to_string(),
                    1 => format!(r#"{{"gender":"F","age":"{}","party":"D"}}"#, x % 90),
                    _ => format!(
                        r#"{{"gender":"{}","age":{},"party":"{}"}}"#,
                        ["M", "F"][(x >> 8) as usize % 2],
                        x % 90,
                        ["D", "R", "I"][(x >> 16) as usize % 3]
                    ),
                };
                (v, 1_700_000_000_000 + i * 37 + (x % 3000) as i64)
            })
            .collect();
        for (mode, window, watermark) in specs {
            let spec = QuerySpec {
                schema: Some("gender STRING, age LONG, party STRING".into()),
                group_by: vec!["gender, party".into()],
                aggs: vec![
                    "count".into(),
                    "sum(age)".into(),
                    "min(age)".into(),
                    "max(age)".into(),
                    "avg(age)".into(),
                ],
                window: window.map(String::from),
                watermark: watermark.map(String::from),
                output_mode: mode,
                ..QuerySpec::default()
            };
            let plan = Plan::new(&spec).unwrap();
            fn rec((i, (v, ts)): (usize, &(String, i64))) -> SourceRecord<'_> {
                SourceRecord {
                    key: None,
                    value: Some(v.as_bytes()),
                    topic: "t",
                    partition: 0,
                    offset: i as i64,
                    timestamp_ms: *ts,
                    timestamp_type: 0,
                    headers: &[],
                }
            }
            let mut one = Engine::new(plan.clone());
            let mut many = Engine::new(plan);
            for (b, part) in values.chunks(700).enumerate() {
                let b = b as u64;
                let wm = one.next_watermark_ms();
                let a = one.run_batch(b, wm, part.iter().enumerate().map(rec)).unwrap();
                many.begin_batch(b, many.next_watermark_ms());
                let mut workers = [many.worker(), many.worker(), many.worker()];
                for (i, r) in part.iter().enumerate().map(rec).enumerate() {
                    workers[i % 3].process(std::iter::once(r)).unwrap();
                }
                for w in workers {
                    many.merge_worker(w).unwrap();
                }
                let m = many.finish_batch();
                assert_eq!(m, a, "{mode:?} {window:?} batch {b}");
                assert_eq!(many.next_watermark_ms(), one.next_watermark_ms());
            }
        }
    }

    #[test]
    fn window_encoding_matches_generic() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        encode_window(5, 9, &mut a);
        encode_key(&Datum::Struct(vec![Datum::Timestamp(5), Datum::Timestamp(9)]), &mut b);
        assert_eq!(a, b);
    }
}
