//! The records a distributed `kwire stream` reads back from Kafka
//! (`kwire_stream::task`, `kwire_stream::table`): repartition values
//! (partial groups, watermark markers), changelog records replayed into a
//! task, and result-topic records shown as a table. Another instance, an
//! older kwire or anyone with write access to the topics may have written
//! them.
//!
//! Input: a selector byte, then (for changelog and table records) a key
//! length byte, the key, and the value; a repartition value is the rest.
//!
//! Invariants: no panic; a decoded partial either merges into the guide's
//! grouped count or is refused as not fitting; heap within budget.
#![no_main]

use std::sync::OnceLock;

use kwire_fuzz::check_budget;
use kwire_stream::task::{Exchange, Restore, decode_exchange};
use kwire_stream::table::ResultTable;
use kwire_stream::{Engine, OutputMode, Plan, QuerySpec};
use libfuzzer_sys::fuzz_target;

fn plan() -> &'static Plan {
    static P: OnceLock<Plan> = OnceLock::new();
    P.get_or_init(|| {
        Plan::new(&QuerySpec {
            schema: Some("gender STRING, age LONG, party STRING".into()),
            group_by: vec!["gender, party".into()],
            aggs: vec!["count".into(), "avg(age)".into(), "max(party)".into()],
            output_mode: OutputMode::Update,
            ..QuerySpec::default()
        })
        .expect("the guide's query plans")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    match sel % 3 {
        0 => {
            let decoded = check_budget("decode_exchange", rest.len(), 0, || decode_exchange(rest));
            if let Ok(Exchange::Partial { group: (k, a), max_event_ms }) = decoded {
                let mut task = Engine::new(plan().clone());
                if let Some(m) = max_event_ms {
                    task.observe_event_ms(m);
                }
                if task.merge_partial(k, a).is_ok() {
                    let out = task.finish_batch();
                    assert_eq!(out.rows.len(), 1, "one merged group, one updated row");
                }
            }
        }
        1 => {
            let mut r = Restore::new();
            let mut input = rest;
            // several records: [key len][key][value len][value]...
            while let Some((&kl, tail)) = input.split_first() {
                let kl = (kl as usize).min(tail.len());
                let (key, tail) = tail.split_at(kl);
                let Some((&vl, tail)) = tail.split_first() else { break };
                let vl = (vl as usize).min(tail.len());
                let (value, tail) = tail.split_at(vl);
                let value = (!value.is_empty()).then_some(value);
                if check_budget("changelog record", key.len() + value.map_or(0, <[u8]>::len), 0, || {
                    r.apply(Some(key), value)
                })
                .is_err()
                {
                    return;
                }
                input = tail;
            }
            let mut task = Engine::new(plan().clone());
            let _ = r.finish(&mut task);
        }
        _ => {
            let mut t = ResultTable::new();
            let (key, value) = match rest.split_first() {
                Some((&kl, tail)) => tail.split_at((kl as usize).min(tail.len())),
                None => return,
            };
            let _ = t.apply(Some(key), Some(value));
            if let Ok(schema) = check_budget("table schema", rest.len(), 0, || t.schema()) {
                let rows = t.rows(&schema);
                assert!(rows.iter().all(|r| r.len() == schema.len()), "one datum per column");
            }
        }
    }
});
