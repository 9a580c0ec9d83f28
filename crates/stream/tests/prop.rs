//! Property tests: hostile input never panics; formatters round-trip.

use kwire_stream::ddl::parse_ddl;
use kwire_stream::format::{java_double, json_string};
use kwire_stream::show::{ShowOptions, show_string};
use kwire_stream::{
    DataType, Datum, Engine, Field, JsonParser, Outcome, OutputMode, Plan, QuerySpec, SourceRecord,
    StructType, Value,
};
use proptest::prelude::*;

fn parsers() -> Vec<JsonParser> {
    [
        "gender STRING, age LONG, party STRING",
        "a INT, b DOUBLE, c BOOLEAN, d TIMESTAMP, e BINARY, f DECIMAL(10,2), g DATE, h TINYINT, i FLOAT",
        "s STRUCT<a: INT, b: ARRAY<STRING>>, arr ARRAY<STRUCT<x: BIGINT>>",
    ]
    .iter()
    .map(|d| JsonParser::new(parse_ddl(d).unwrap()))
    .collect()
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|v| serde_json::json!(v)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|v| serde_json::json!(v)),
        ".{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("gender".to_string()),
                    Just("age".to_string()),
                    Just("a".to_string()),
                    ".{0,6}".prop_map(|s| s)
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        for p in parsers() {
            let _ = p.parse_value(&bytes);
        }
    }

    #[test]
    fn parser_never_panics_on_jsonish(s in r#"[{}\[\]",:0-9a-z.eE+\- '\\]{0,80}"#) {
        for p in parsers() {
            let _ = p.parse_value(s.as_bytes());
        }
    }

    #[test]
    fn valid_objects_are_never_malformed(v in prop::collection::btree_map(".{0,6}", json_value(), 0..6)) {
        let text = serde_json::to_string(&v).unwrap();
        for p in parsers() {
            let (_, o) = p.parse_value(text.as_bytes());
            prop_assert!(!matches!(o, Outcome::Malformed { .. } | Outcome::NullStruct), "{} -> {:?}", text, o);
        }
    }

    #[test]
    fn strings_round_trip_through_jackson_escaping(s in ".{0,40}") {
        let mut json = String::from("{\"gender\":");
        json_string(&s, &mut json);
        json.push('}');
        let (v, o) = parsers()[0].parse_value(json.as_bytes());
        prop_assert_eq!(o, Outcome::Ok);
        prop_assert_eq!(v, Value::Struct(vec![Value::string(s), Value::Null, Value::Null]));
    }

    #[test]
    fn java_doubles_round_trip(x in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let mut s = String::new();
        java_double(x, &mut s);
        prop_assert_eq!(s.parse::<f64>().unwrap(), x);
        prop_assert!(s.contains('.'));
    }

    #[test]
    fn show_lines_align(cells in prop::collection::vec(prop::collection::vec(prop::option::of(".{0,30}"), 2), 0..30),
                        n in 0usize..25, truncate in 0usize..25) {
        let schema = StructType::new(vec![Field::new("a", DataType::String), Field::new("long column", DataType::String)]);
        let rows: Vec<Vec<Value>> = cells
            .into_iter()
            .map(|r| r.into_iter().map(|c| c.map_or(Value::Null, Value::string)).collect())
            .collect();
        let text = show_string(&schema, &rows, ShowOptions { num_rows: n, truncate, ..ShowOptions::default() });
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("only showing")).collect();
        prop_assert!(lines.len() >= 4);
        prop_assert!(lines[0].starts_with('+') && lines[0].ends_with('+'));
        prop_assert_eq!(lines.len(), 4 + rows.len().min(n));
    }

    #[test]
    fn counts_add_up(values in prop::collection::vec(prop_oneof![
        r#"\{"gender":"[MF]","age":[0-9]{1,3},"party":"[DRI]"\}"#.prop_map(|s| s),
        ".{0,20}".prop_map(|s| s),
    ], 0..100)) {
        let spec = QuerySpec {
            schema: Some("gender STRING, age LONG, party STRING".into()),
            group_by: vec!["gender, party".into()],
            output_mode: OutputMode::Complete,
            ..QuerySpec::default()
        };
        let mut e = Engine::new(Plan::new(&spec).unwrap());
        let recs: Vec<SourceRecord<'_>> = values.iter().enumerate().map(|(i, v)| SourceRecord {
            key: None, value: Some(v.as_bytes()), topic: "t", partition: 0, offset: i as i64,
            timestamp_ms: 0, timestamp_type: 0, headers: &[],
        }).collect();
        let out = e.run_batch(0, 0, recs).unwrap();
        let total: i64 = out.rows.iter().map(|r| match r[2] { Datum::Long(n) => n, _ => 0 }).sum();
        prop_assert_eq!(total, values.len() as i64);
    }
}
