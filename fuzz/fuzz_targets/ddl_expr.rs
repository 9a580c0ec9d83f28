//! The streaming aggregator's user-facing parsers: Spark DDL schemas
//! (`parse_ddl`, `parse_data_type`), SQL expressions (`parse_expr`,
//! `parse_item`, `parse_item_list`), `--starting-offsets` JSON, triggers and
//! output modes.
//!
//! Input: selector byte, then the text (UTF-8; other bytes are skipped).
//!
//! Invariants: no panic, heap within budget; a parsed schema prints (`to_ddl`)
//! to text that parses back to the same schema; a parsed data type likewise
//! through `Display`; a parsed expression's `sql()` and `name()` don't panic.
#![no_main]

use kwire_fuzz::check_budget;
use kwire_stream::ddl::{parse_data_type, parse_ddl};
use kwire_stream::expr::{parse_expr, parse_item, parse_item_list};
use kwire_stream::{OutputMode, Trigger};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Ok(s) = std::str::from_utf8(rest) else { return };
    let len = data.len();
    match sel % 8 {
        0 => {
            if let Ok(schema) = check_budget("parse_ddl", len, 0, || parse_ddl(s)) {
                let ddl = schema.to_ddl();
                let back =
                    parse_ddl(&ddl).unwrap_or_else(|e| panic!("to_ddl output {ddl:?} does not parse: {e}"));
                assert_eq!(back, schema, "schema changed through {ddl:?}");
            }
        }
        1 => {
            if let Ok(t) = check_budget("parse_data_type", len, 0, || parse_data_type(s)) {
                let text = t.to_string();
                let back =
                    parse_data_type(&text).unwrap_or_else(|e| panic!("type {text:?} does not parse: {e}"));
                assert_eq!(back, t, "type changed through {text:?}");
            }
        }
        2 => {
            if let Ok(e) = check_budget("parse_expr", len, 0, || parse_expr(s)) {
                let _ = (e.sql(), e.name());
            }
        }
        3 => {
            if let Ok(e) = check_budget("parse_item", len, 0, || parse_item(s)) {
                let _ = (e.sql(), e.name());
            }
        }
        4 => {
            if let Ok(v) = check_budget("parse_item_list", len, 0, || parse_item_list(s)) {
                for e in v {
                    let _ = (e.sql(), e.name());
                }
            }
        }
        5 => {
            let _ = check_budget("parse_offsets_json", len, 0, || {
                kwire_stream::checkpoint::parse_offsets_json(s)
            });
        }
        6 => {
            let _ = check_budget("trigger", len, 0, || Trigger::parse(s));
        }
        _ => {
            let _ = check_budget("output mode", len, 0, || OutputMode::parse(s));
        }
    }
});
