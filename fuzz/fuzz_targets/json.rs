//! The streaming aggregator's `from_json` (`kwire_stream::JsonParser`) on
//! arbitrary record values, with a schema derived from the input.
//!
//! Input: a DDL schema line, `\n`, then the JSON value bytes. If the first
//! line is not a valid schema, a fixed schema with every type (nested
//! structs and arrays included) is used. A selector in the schema line's
//! length picks a field-pruning mask (`with_needed`).
//!
//! Invariants: no panic; the output has one datum per field; a malformed
//! record leaves every field NULL; heap within budget.
#![no_main]

use std::sync::OnceLock;

use kwire_fuzz::check_budget;
use kwire_stream::ddl::parse_ddl;
use kwire_stream::{Datum, JsonParser, Outcome, StructType};
use libfuzzer_sys::fuzz_target;

const ALL_TYPES: &str = "gender STRING, age BIGINT, party STRING, i INT, s SMALLINT, b TINYINT, \
    d DOUBLE, f FLOAT, ok BOOLEAN, ts TIMESTAMP, day DATE, amount DECIMAL(10, 2), raw BINARY, \
    tags ARRAY<STRING>, nums ARRAY<BIGINT>, voter STRUCT<name: STRING, age: INT, \
    addr: STRUCT<city: STRING, zip: INT>, scores: ARRAY<DOUBLE>>, `odd name` STRING";

fn all_types() -> &'static StructType {
    static S: OnceLock<StructType> = OnceLock::new();
    S.get_or_init(|| parse_ddl(ALL_TYPES).expect("the fixed schema parses"))
}

fuzz_target!(|data: &[u8]| {
    let (schema_line, value) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let schema = std::str::from_utf8(schema_line)
        .ok()
        .and_then(|s| parse_ddl(s).ok())
        .unwrap_or_else(|| all_types().clone());
    let n = schema.len();
    let mut parser = JsonParser::new(schema);
    if schema_line.len() % 3 == 1 {
        // Prune every other field, as the planner does for unused columns.
        parser = parser.with_needed((0..n).map(|i| i % 2 == 0).collect());
    }
    let mut out: Vec<Datum<'_>> = Vec::new();
    let outcome = check_budget("from_json", data.len(), 0, || parser.parse(value, &mut out));
    assert_eq!(out.len(), n, "one datum per field");
    match outcome {
        Outcome::Malformed { at } => {
            assert!(at <= value.len(), "error offset {at} past the end ({})", value.len());
            assert!(out.iter().all(|d| matches!(d, Datum::Null)), "malformed record with non-null fields");
        }
        Outcome::NullStruct => assert!(value.iter().all(|b| b.is_ascii_whitespace() || *b <= b' ')),
        Outcome::Partial { field } => assert!(field < n),
        Outcome::Ok => {}
    }
    let _ = outcome.describe(parser.schema());
    let (v, o) = check_budget("from_json value", data.len(), 0, || parser.parse_value(value));
    assert_eq!(o, outcome, "parse and parse_value disagree");
    let _ = v;
});
