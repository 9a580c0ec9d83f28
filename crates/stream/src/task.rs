//! The records a distributed query (`--application-id`) exchanges through
//! Kafka, and the restore of a task's state from its changelog. Sans-IO: the
//! driver ([`crate::driver`]) moves the bytes.
//!
//! Topology (see `docs/stream.md`): the first stage reads the input
//! partitions assigned to an instance and aggregates each batch into partial
//! groups; each partial goes to the repartition topic keyed by the grouping
//! key (so one key always lands in one partition), together with the largest
//! event time the first stage has seen. The second stage is one task per
//! repartition partition: it merges partials into its state, writes every
//! changed group to its changelog partition (same index), and emits rows.
//!
//! Formats (JSON, so that Kafka's own tools can read them):
//! - repartition value `{"k":[key values],"a":[accumulators],"m":max_event_ms}`,
//!   or a watermark marker `{"m":max_event_ms}` (no key) sent to every
//!   partition when the first stage's event time moved;
//! - changelog: key = the grouping key as the result topic writes it, value
//!   `{"k":[...],"a":[...]}`, or a tombstone for an evicted group; the
//!   task's watermarks under the key [`WATERMARK_KEY`] as `{"w":[previous,next]}`.
//!
//! Decoding never panics: bytes that are not one of these are an error naming
//! what was wrong.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::{Accumulator, Engine, Group};
use crate::error::StreamError;
use crate::format::json_struct;
use crate::value::{Datum, Row, StructType};

/// The changelog key of a task's watermarks (not a JSON object, so it never
/// equals a grouping key).
pub const WATERMARK_KEY: &[u8] = b"\x00kwire:watermarks";

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<Row>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<Vec<Accumulator>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    w: Option<(i64, i64)>,
}

fn to_bytes(w: &Wire) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail; an empty value would be
    // refused by the decoder rather than misread.
    serde_json::to_vec(w).unwrap_or_default()
}

fn from_bytes(what: &str, bytes: &[u8]) -> Result<Wire, StreamError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StreamError::State(format!("a {what} record is not kwire's: {e}")))
}

/// The grouping key as a JSON object of the key columns (`{"gender":"F","party":"D"}`):
/// the record key of the repartition, changelog and result topics.
pub fn key_json(schema: &StructType, key_columns: &[usize], key: &[Datum<'_>]) -> Vec<u8> {
    let ks = StructType::new(key_columns.iter().filter_map(|i| schema.fields.get(*i).cloned()).collect());
    let mut out = String::new();
    json_struct(key, &ks, &mut out);
    out.into_bytes()
}

/// What a repartition record carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Exchange {
    /// A partial group, and the first stage's largest event time then.
    Partial {
        /// The group.
        group: Group,
        /// Largest event time (ms) the sender had seen.
        max_event_ms: Option<i64>,
    },
    /// Only the sender's largest event time (ms).
    Marker(i64),
}

/// A partial group's repartition value.
pub fn encode_partial(group: &Group, max_event_ms: Option<i64>) -> Vec<u8> {
    to_bytes(&Wire { k: Some(group.0.clone()), a: Some(group.1.clone()), m: max_event_ms, w: None })
}

/// A watermark marker's repartition value.
pub fn encode_marker(max_event_ms: i64) -> Vec<u8> {
    to_bytes(&Wire { m: Some(max_event_ms), ..Wire::default() })
}

/// Read a repartition value.
pub fn decode_exchange(bytes: &[u8]) -> Result<Exchange, StreamError> {
    match from_bytes("repartition", bytes)? {
        Wire { k: Some(k), a: Some(a), m, w: None } => {
            Ok(Exchange::Partial { group: (k, a), max_event_ms: m })
        }
        Wire { k: None, a: None, m: Some(m), w: None } => Ok(Exchange::Marker(m)),
        _ => Err(StreamError::State("a repartition record is neither a partial group nor a marker".into())),
    }
}

/// A changed group's changelog value.
pub fn encode_changelog_group(group: &Group) -> Vec<u8> {
    to_bytes(&Wire { k: Some(group.0.clone()), a: Some(group.1.clone()), m: None, w: None })
}

/// The changelog value of a task's watermarks (key [`WATERMARK_KEY`]).
pub fn encode_watermarks(watermarks: (i64, i64)) -> Vec<u8> {
    to_bytes(&Wire { w: Some(watermarks), ..Wire::default() })
}

/// A task's state read back from its changelog partition, record by record
/// in offset order; the last record of a key wins, a tombstone removes it.
#[derive(Debug, Default)]
pub struct Restore {
    groups: BTreeMap<Vec<u8>, Group>,
    watermarks: Option<(i64, i64)>,
    records: u64,
}

impl Restore {
    /// An empty restore.
    pub fn new() -> Restore {
        Restore::default()
    }

    /// The state of a task's engine, as its changelog holds it (a task
    /// that stops running here keeps it as a warm copy, to be brought up to
    /// date by replaying the changelog from any offset its state is known to
    /// include: replaying a record twice is harmless, as each one carries its
    /// group's whole state).
    pub fn from_engine(engine: &Engine) -> Restore {
        let schema = engine.output_schema().clone();
        let keys = engine.plan().key_columns().to_vec();
        let (groups, watermarks) = engine.snapshot().into_groups();
        Restore {
            groups: groups.into_iter().map(|g| (key_json(&schema, &keys, &g.0), g)).collect(),
            watermarks: Some(watermarks),
            records: 0,
        }
    }

    /// Apply one changelog record.
    pub fn apply(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) -> Result<(), StreamError> {
        self.records += 1;
        let Some(key) = key else {
            return Err(StreamError::State("a changelog record has no key".into()));
        };
        if key == WATERMARK_KEY {
            match value.map(|v| from_bytes("changelog", v)).transpose()? {
                Some(Wire { w: Some(w), k: None, a: None, m: None }) => self.watermarks = Some(w),
                None => self.watermarks = None,
                Some(_) => {
                    return Err(StreamError::State("a changelog watermark record is not kwire's".into()));
                }
            }
            return Ok(());
        }
        match value {
            None => {
                self.groups.remove(key);
            }
            Some(v) => match from_bytes("changelog", v)? {
                Wire { k: Some(k), a: Some(a), m: None, w: None } => {
                    self.groups.insert(key.to_vec(), (k, a));
                }
                _ => return Err(StreamError::State("a changelog record is not a group".into())),
            },
        }
        Ok(())
    }

    /// Records applied.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Groups held.
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Load the state into `engine` (which must be fresh for the task).
    pub fn finish(self, engine: &mut Engine) -> Result<(), StreamError> {
        let watermarks = self.watermarks.unwrap_or_else(|| engine.watermarks());
        engine.restore_groups(self.groups.into_values().collect(), watermarks, None)
    }
}

/// A task's changelog writes for a finished batch: (key, value or tombstone),
/// the watermark record last when the watermarks moved.
pub fn changelog_records(
    schema: &StructType,
    key_columns: &[usize],
    changes: Vec<(Row, Option<Vec<Accumulator>>)>,
    watermarks: Option<(i64, i64)>,
) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut out: Vec<(Vec<u8>, Option<Vec<u8>>)> = changes
        .into_iter()
        .map(|(k, accs)| {
            let key = key_json(schema, key_columns, &k);
            let value = accs.map(|a| encode_changelog_group(&(k, a)));
            (key, value)
        })
        .collect();
    if let Some(w) = watermarks {
        out.push((WATERMARK_KEY.to_vec(), Some(encode_watermarks(w))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{OutputMode, Plan, QuerySpec};
    use crate::record::SourceRecord;
    use crate::value::Value;

    fn spec() -> QuerySpec {
        QuerySpec {
            schema: Some("gender STRING, age LONG, party STRING".into()),
            group_by: vec!["gender, party".into()],
            aggs: vec!["count".into(), "avg(age)".into(), "max(age)".into()],
            output_mode: OutputMode::Complete,
            ..QuerySpec::default()
        }
    }

    fn rec(value: &[u8], offset: i64) -> SourceRecord<'_> {
        SourceRecord {
            key: None,
            value: Some(value),
            topic: "voters",
            partition: 0,
            offset,
            timestamp_ms: 0,
            timestamp_type: 0,
            headers: &[],
        }
    }

    const DATA: [&[u8]; 7] = [
        br#"{"gender":"F","age":41,"party":"R"}"#,
        br#"{"gender":"M","age":30,"party":"D"}"#,
        br#"{"gender":"F","age":22,"party":"R"}"#,
        b"not json",
        br#"{"gender":"M","age":"x","party":"D"}"#,
        br#"{"gender":"F","age":70,"party":"D"}"#,
        br#"{"gender":"M","age":55,"party":"D"}"#,
    ];

    /// Two first-stage engines each aggregate part of the data; their
    /// partials, sent through the wire format and merged into a task, give
    /// exactly what one engine reading everything gives.
    #[test]
    fn partials_through_the_wire_equal_one_engine() {
        let plan = Plan::new(&spec()).unwrap();
        let mut single = Engine::new(plan.clone());
        let want = single.run_batch(0, 0, DATA.iter().enumerate().map(|(i, v)| rec(v, i as i64))).unwrap();

        let mut task = Engine::new(plan.clone());
        for part in [&DATA[..3], &DATA[3..]] {
            let mut first = Engine::partial_stage(plan.clone());
            first.process(part.iter().enumerate().map(|(i, v)| rec(v, i as i64))).unwrap();
            let (groups, max) = first.take_partials();
            for g in groups {
                let bytes = encode_partial(&g, max);
                match decode_exchange(&bytes).unwrap() {
                    Exchange::Partial { group: (k, a), .. } => assert!(task.merge_partial(k, a).unwrap()),
                    Exchange::Marker(_) => panic!("a partial decoded as a marker"),
                }
            }
        }
        let got = task.finish_batch();
        assert_eq!(got.rows, want.rows);
    }

    /// The changelog of a task, replayed, gives the task's state back; a
    /// tombstone removes a group; the watermark record restores watermarks.
    #[test]
    fn changelog_replay_restores_state() {
        let plan = Plan::new(&spec()).unwrap();
        let schema = plan.output_schema().clone();
        let keys = plan.key_columns().to_vec();
        let mut task = Engine::new(plan.clone());
        task.set_track_changes(true);
        let mut log: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for (b, part) in [&DATA[..4], &DATA[4..]].iter().enumerate() {
            task.run_batch(b as u64, 0, part.iter().enumerate().map(|(i, v)| rec(v, i as i64))).unwrap();
            log.extend(changelog_records(&schema, &keys, task.take_changes(), Some((0, 0))));
        }
        // a group that was later evicted
        log.push((
            b"{\"gender\":\"X\"}".to_vec(),
            Some(encode_changelog_group(&(vec![Value::Null; 2], vec![]))),
        ));
        log.push((b"{\"gender\":\"X\"}".to_vec(), None));
        let mut r = Restore::new();
        for (k, v) in &log {
            r.apply(Some(k), v.as_deref()).unwrap();
        }
        let mut fresh = Engine::new(plan.clone());
        r.finish(&mut fresh).unwrap();
        assert_eq!(fresh.snapshot().group_count(), task.snapshot().group_count());
        let a = fresh.run_batch(9, 0, std::iter::empty()).unwrap();
        let b = task.run_batch(9, 0, std::iter::empty()).unwrap();
        assert_eq!(a.rows, b.rows);
    }

    /// A task's state kept as a warm copy, then brought up to date by
    /// replaying the changelog from an offset the copy already includes
    /// (a lower bound), equals the full replay.
    #[test]
    fn a_warm_copy_caught_up_from_a_lower_bound_equals_a_full_replay() {
        let plan = Plan::new(&spec()).unwrap();
        let schema = plan.output_schema().clone();
        let keys = plan.key_columns().to_vec();
        let mut task = Engine::new(plan.clone());
        task.set_track_changes(true);
        let mut log: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let mut copy = None;
        for (b, v) in DATA.iter().enumerate() {
            task.run_batch(b as u64, 0, [rec(v, b as i64)]).unwrap();
            log.extend(changelog_records(&schema, &keys, task.take_changes(), Some((0, 0))));
            if b == 4 {
                copy = Some((Restore::from_engine(&task), log.len()));
            }
        }
        let (mut warm, known) = copy.unwrap();
        // The copy includes log[..known]; replay from well before that.
        for (k, v) in &log[known / 2..] {
            warm.apply(Some(k), v.as_deref()).unwrap();
        }
        let mut full = Restore::new();
        for (k, v) in &log {
            full.apply(Some(k), v.as_deref()).unwrap();
        }
        let (mut a, mut b) = (Engine::new(plan.clone()), Engine::new(plan.clone()));
        warm.finish(&mut a).unwrap();
        full.finish(&mut b).unwrap();
        let want = task.run_batch(99, 0, std::iter::empty()).unwrap();
        assert_eq!(a.run_batch(99, 0, std::iter::empty()).unwrap().rows, want.rows);
        assert_eq!(b.run_batch(99, 0, std::iter::empty()).unwrap().rows, want.rows);
        assert_eq!(want.rows.len(), 4, "F/R, M/D, F/D and the null group of the bad record");
    }

    #[test]
    fn foreign_bytes_are_errors_not_panics() {
        let plan = Plan::new(&spec()).unwrap();
        for bad in [
            &b""[..],
            b"{}",
            b"null",
            b"{\"k\":[],\"a\":[]}x",
            b"{\"k\":[1],\"a\":[{\"Count\":1}],\"m\":1,\"w\":[1,2]}",
            b"{\"z\":1}",
            b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        ] {
            assert!(decode_exchange(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        // well-formed but the wrong shape for this query: refused by the task
        let mut task = Engine::new(plan.clone());
        let wrong = [
            (vec![Value::Null], vec![Accumulator::Count(1)]),
            (vec![Value::Null, Value::Null], vec![Accumulator::Count(1)]),
            (
                vec![Value::Null, Value::Null],
                vec![Accumulator::Count(1), Accumulator::Count(1), Accumulator::Count(1)],
            ),
        ];
        for (k, a) in wrong {
            assert!(task.merge_partial(k, a).is_err());
        }
        let mut r = Restore::new();
        assert!(r.apply(None, Some(b"{}")).is_err());
        assert!(r.apply(Some(WATERMARK_KEY), Some(b"{\"k\":[]}")).is_err());
        assert!(r.apply(Some(b"k"), Some(b"{\"m\":3}")).is_err());
        r.apply(Some(b"k"), Some(&encode_changelog_group(&(vec![Value::Null], vec![])))).unwrap();
        assert!(r.finish(&mut Engine::new(plan)).is_err(), "a group of the wrong shape");
    }

    #[test]
    fn markers_round_trip() {
        assert_eq!(decode_exchange(&encode_marker(-5)).unwrap(), Exchange::Marker(-5));
        let g: Group = (vec![Value::Str("F".into())], vec![Accumulator::Count(3)]);
        assert_eq!(
            decode_exchange(&encode_partial(&g, Some(7))).unwrap(),
            Exchange::Partial { group: g, max_event_ms: Some(7) }
        );
    }
}
