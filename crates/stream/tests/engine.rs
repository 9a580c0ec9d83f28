//! Planner and engine behaviour.

use kwire_stream::show::{ShowOptions, console_batch};
use kwire_stream::{
    Engine, OutputMode, ParseMode, Plan, QuerySpec, RecordHeader, Row, SourceRecord, StateSnapshot,
    StreamError, Value,
};

fn rec<'a>(value: &'a str, offset: i64, ts_ms: i64) -> SourceRecord<'a> {
    SourceRecord {
        key: Some(b"k1"),
        value: Some(value.as_bytes()),
        topic: "voters",
        partition: 2,
        offset,
        timestamp_ms: ts_ms,
        timestamp_type: 0,
        headers: &[],
    }
}

fn voters_spec(mode: OutputMode) -> QuerySpec {
    QuerySpec {
        schema: Some("gender STRING, age LONG, party STRING".into()),
        group_by: vec!["gender".into(), "party".into()],
        output_mode: mode,
        ..QuerySpec::default()
    }
}

fn names(spec: &QuerySpec) -> Vec<String> {
    Plan::new(spec).unwrap().output_schema().names()
}

const VOTERS: &[&str] = &[
    r#"{"gender":"M","age":30,"party":"D"}"#,
    r#"{"gender":"F","age":41,"party":"R"}"#,
    r#"{"gender":"M","age":"x","party":"D"}"#,
    r#"not json"#,
    r#"{"gender":"F","age":19,"party":"R"}"#,
    r#""#,
];

#[test]
fn output_mode_errors_are_sparks() {
    let e = Plan::new(&voters_spec(OutputMode::Append)).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "Append output mode not supported when there are streaming aggregations on streaming DataFrames/DataSets without watermark;\nAggregate [gender, party], [gender, party, count]"
        ),
        "{e}"
    );
    let spec = QuerySpec {
        select: vec![vec!["CAST(value AS STRING)".into()]],
        output_mode: OutputMode::Complete,
        ..QuerySpec::default()
    };
    let e = Plan::new(&spec).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "Complete output mode not supported when there are no streaming aggregations on streaming DataFrames/Datasets;\nProject [value]"
        ),
        "{e}"
    );
    // a watermark on a column that is not a grouping key does not make append legal
    let spec =
        QuerySpec { watermark: Some("timestamp, 10 seconds".into()), ..voters_spec(OutputMode::Append) };
    assert!(Plan::new(&spec).unwrap_err().to_string().starts_with("Append output mode not supported"));
    // ... but a window on the watermarked column does
    let spec = QuerySpec {
        window: Some("timestamp, 1 minute".into()),
        watermark: Some("10 seconds".into()),
        ..voters_spec(OutputMode::Append)
    };
    assert_eq!(names(&spec), ["window", "gender", "party", "count"]);
    assert!(OutputMode::parse("sideways").is_err());
}

#[test]
fn column_names_follow_spark() {
    let spec = QuerySpec {
        aggs: vec![
            "count".into(),
            "count(*)".into(),
            "count(age)".into(),
            "sum(age)".into(),
            "avg(age)".into(),
            "mean(age)".into(),
            "min(age)".into(),
            "max(age) AS oldest".into(),
        ],
        ..voters_spec(OutputMode::Complete)
    };
    assert_eq!(
        names(&spec),
        [
            "gender",
            "party",
            "count",
            "count(1)",
            "count(age)",
            "sum(age)",
            "avg(age)",
            "mean(age)",
            "min(age)",
            "oldest"
        ]
    );
    let spec = QuerySpec {
        select: vec![vec![
            "CAST(key AS STRING), CAST(value AS STRING), from_json(CAST(value AS STRING), 'a INT')".into(),
        ]],
        ..QuerySpec::default()
    };
    assert_eq!(names(&spec), ["key", "value", "from_json(CAST(value AS STRING))"]);
    let spec = QuerySpec {
        select: vec![
            vec![
                "from_json(CAST(value AS STRING), 'gender STRING, age LONG, party STRING') AS voter".into(),
                "timestamp".into(),
            ],
            vec!["voter.*".into(), "timestamp".into()],
        ],
        ..QuerySpec::default()
    };
    assert_eq!(names(&spec), ["gender", "age", "party", "timestamp"]);
    let spec = QuerySpec {
        select: vec![vec![
            "from_json(CAST(value AS STRING), 'gender STRING, age LONG, party STRING') AS voter".into(),
        ]],
        group_by: vec!["voter.gender".into(), "voter.party".into()],
        aggs: vec!["sum(voter.age)".into()],
        output_mode: OutputMode::Update,
        ..QuerySpec::default()
    };
    assert_eq!(names(&spec), ["gender", "party", "sum(voter.age)"]);
    assert_eq!(
        names(&QuerySpec::default()),
        ["key", "value", "topic", "partition", "offset", "timestamp", "timestampType"]
    );
}

#[test]
fn analysis_errors() {
    let spec = QuerySpec { group_by: vec!["gendre".into()], ..voters_spec(OutputMode::Complete) };
    let e = Plan::new(&spec).unwrap_err().to_string();
    assert!(e.contains("`gendre` cannot be resolved") && e.contains("`gender`"), "{e}");
    let spec = QuerySpec { aggs: vec!["sum(party)".into()], ..voters_spec(OutputMode::Complete) };
    assert!(Plan::new(&spec).unwrap_err().to_string().contains("sum(party)"));
    let spec = QuerySpec {
        select: vec![vec!["from_json(CAST(value AS STRING), 'a INT', map('mode', 'DROPMALFORMED'))".into()]],
        ..QuerySpec::default()
    };
    assert_eq!(
        Plan::new(&spec).unwrap_err().to_string(),
        "from_json() doesn't support the DROPMALFORMED mode. Acceptable modes are PERMISSIVE and FAILFAST."
    );
    let spec = QuerySpec { filter: Some("age".into()), ..voters_spec(OutputMode::Complete) };
    assert!(Plan::new(&spec).is_err());
    let spec = QuerySpec { schema: Some("gender STRING, age LONGG".into()), ..QuerySpec::default() };
    assert!(matches!(Plan::new(&spec), Err(StreamError::Schema { .. })));
    let spec = QuerySpec { window: Some("gender, 1 minute".into()), ..voters_spec(OutputMode::Complete) };
    assert!(Plan::new(&spec).unwrap_err().to_string().contains("TIMESTAMP"));
    let spec = QuerySpec {
        window: Some("timestamp, 1 minute, 2 minutes".into()),
        ..voters_spec(OutputMode::Complete)
    };
    assert!(Plan::new(&spec).unwrap_err().to_string().contains("slide duration"));
}

fn run(engine: &mut Engine, values: &[&str]) -> Vec<Row> {
    let recs: Vec<SourceRecord<'_>> = values.iter().enumerate().map(|(i, v)| rec(v, i as i64, 0)).collect();
    let id = engine.next_batch_id();
    let wm = engine.next_watermark_ms();
    engine.run_batch(id, wm, recs).unwrap().rows
}

#[test]
fn guide_query_complete_and_update() {
    let mut e = Engine::new(Plan::new(&voters_spec(OutputMode::Complete)).unwrap());
    let rows = run(&mut e, VOTERS);
    let text = console_batch(0, e.output_schema(), &rows, ShowOptions::default());
    assert_eq!(
        text,
        "-------------------------------------------\nBatch: 0\n-------------------------------------------\n\
+------+-----+-----+\n|gender|party|count|\n+------+-----+-----+\n|  NULL| NULL|    2|\n|     F|    R|    2|\n|     M|    D|    2|\n+------+-----+-----+\n\n"
    );
    let rows = run(&mut e, &[VOTERS[0]]);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2], vec![Value::string("M"), Value::string("D"), Value::Long(3)]);

    let mut e = Engine::new(Plan::new(&voters_spec(OutputMode::Update)).unwrap());
    run(&mut e, VOTERS);
    let rows = run(&mut e, &[VOTERS[1]]);
    assert_eq!(rows, vec![vec![Value::string("F"), Value::string("R"), Value::Long(3)]]);
    assert!(!e.needs_no_data_batch());
}

#[test]
fn aggregates_and_filter() {
    let spec = QuerySpec {
        group_by: vec!["gender".into()],
        aggs: vec![
            "count(age)".into(),
            "sum(age)".into(),
            "avg(age)".into(),
            "min(age)".into(),
            "max(party)".into(),
        ],
        filter: Some("age >= 20 OR age IS NULL AND party = 'D'".into()),
        ..voters_spec(OutputMode::Complete)
    };
    let mut e = Engine::new(Plan::new(&spec).unwrap());
    let rows = run(&mut e, VOTERS);
    assert_eq!(
        rows,
        vec![
            vec![
                Value::string("F"),
                Value::Long(1),
                Value::Long(41),
                Value::Double(41.0),
                Value::Long(41),
                Value::string("R")
            ],
            vec![
                Value::string("M"),
                Value::Long(1),
                Value::Long(30),
                Value::Double(30.0),
                Value::Long(30),
                Value::string("D")
            ],
        ]
    );
    // global aggregation, no keys
    let spec = QuerySpec {
        schema: Some("gender STRING, age LONG, party STRING".into()),
        aggs: vec!["count".into(), "avg(age)".into(), "sum(age)".into()],
        output_mode: OutputMode::Complete,
        ..QuerySpec::default()
    };
    let mut e = Engine::new(Plan::new(&spec).unwrap());
    let rows = run(&mut e, &VOTERS[2..4]);
    assert_eq!(rows, vec![vec![Value::Long(2), Value::Null, Value::Null]]);
}

#[test]
fn projection_append_streams_rows() {
    let spec = QuerySpec {
        select: vec![vec!["CAST(value AS STRING)".into(), "offset".into()]],
        filter: Some("offset <> 1".into()),
        ..QuerySpec::default()
    };
    let mut e = Engine::new(Plan::new(&spec).unwrap());
    e.begin_batch(0, 0);
    e.process([rec("a", 0, 0), rec("b", 1, 0)]).unwrap();
    let first = e.take_rows();
    assert_eq!(first, vec![vec![Value::string("a"), Value::Long(0)]]);
    e.process([rec("\u{1F600} ok", 2, 0)]).unwrap();
    let out = e.finish_batch();
    assert_eq!(out.input_rows, 3);
    assert_eq!(out.rows, vec![vec![Value::string("\u{1F600} ok"), Value::Long(2)]]);
    // invalid UTF-8 becomes U+FFFD like Java's decoder
    let mut e = Engine::new(Plan::new(&spec).unwrap());
    let bad = SourceRecord { value: Some(b"a\xffb"), ..rec("", 5, 0) };
    let out = e.run_batch(0, 0, [bad]).unwrap();
    assert_eq!(out.rows[0][0], Value::string("a\u{FFFD}b"));
}

#[test]
fn raw_kafka_rows_and_headers() {
    let headers = [RecordHeader { key: "h", value: Some(b"v") }];
    let spec = QuerySpec { include_headers: true, ..QuerySpec::default() };
    let mut e = Engine::new(Plan::new(&spec).unwrap());
    let r = SourceRecord { headers: &headers, ..rec("{}", 7, 1_704_103_200_123) };
    let out = e.run_batch(0, 0, [r]).unwrap();
    let text = console_batch(0, e.output_schema(), &out.rows, ShowOptions::default());
    assert!(
        text.contains(
            "|[6B 31]|[7B 7D]|voters|        2|     7|2024-01-01 10:00:...|            0|[{h, [76]}]|"
        ),
        "{text}"
    );
}

#[test]
fn failfast_names_the_record() {
    let spec = QuerySpec { parse_mode: ParseMode::FailFast, ..voters_spec(OutputMode::Complete) };
    let mut e = Engine::new(Plan::new(&spec).unwrap());
    e.begin_batch(0, 0);
    let err = e.process([rec(VOTERS[0], 10, 0), rec(VOTERS[2], 11, 0)]).unwrap_err();
    match &err {
        StreamError::MalformedRecord { topic, partition, offset, reason } => {
            assert_eq!((topic.as_str(), *partition, *offset), ("voters", 2, 11));
            assert!(reason.contains("'age'") && reason.contains("BIGINT"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("Parse Mode: FAILFAST"));
    // empty values are NULL structs, not errors
    let mut e = Engine::new(Plan::new(&spec).unwrap());
    assert!(e.run_batch(0, 0, [rec("", 0, 0)]).is_ok());
}

fn window_spec(mode: OutputMode, slide: Option<&str>) -> QuerySpec {
    QuerySpec {
        schema: Some("party STRING".into()),
        window: Some(match slide {
            Some(s) => format!("timestamp, 1 minute, {s}"),
            None => "timestamp, 1 minute".into(),
        }),
        group_by: vec!["party".into()],
        watermark: Some("10 seconds".into()),
        output_mode: mode,
        ..QuerySpec::default()
    }
}

const T0: i64 = 1_704_103_200_000; // 2024-01-01 10:00:00 UTC

#[test]
fn append_windows_on_kafka_timestamp_with_no_data_batch() {
    let mut e = Engine::new(Plan::new(&window_spec(OutputMode::Append, None)).unwrap());
    let d = r#"{"party":"D"}"#;
    let b0 = e.run_batch(0, 0, [rec(d, 0, T0 + 5_000), rec(d, 1, T0 + 70_000)]).unwrap();
    assert!(b0.rows.is_empty());
    assert_eq!(e.next_watermark_ms(), T0 + 60_000);
    assert!(e.needs_no_data_batch());
    let b1 = e.run_batch(1, e.next_watermark_ms(), std::iter::empty()).unwrap();
    assert_eq!(b1.rows.len(), 1);
    assert_eq!(
        b1.rows[0],
        vec![
            Value::Struct(vec![Value::Timestamp(T0 * 1000), Value::Timestamp((T0 + 60_000) * 1000)]),
            Value::string("D"),
            Value::Long(1)
        ]
    );
    assert_eq!(b1.state_rows, 1);
    assert!(!e.needs_no_data_batch());
    // a row for the finalized window is late: dropped (previous batch's watermark is T0+60s)
    let b2 = e.run_batch(2, e.next_watermark_ms(), [rec(d, 2, T0 + 1_000)]).unwrap();
    assert!(b2.rows.is_empty());
    assert_eq!(e.state_rows(), 1);
}

#[test]
fn sliding_windows_count_each_row_in_every_window() {
    let mut e = Engine::new(Plan::new(&window_spec(OutputMode::Complete, Some("20 seconds"))).unwrap());
    let out = e.run_batch(0, 0, [rec(r#"{"party":"D"}"#, 0, T0 + 45_000)]).unwrap();
    // windows starting at 9:59:00, 9:59:20, 9:59:40, 10:00:00, 10:00:20, 10:00:40 with start <= t < end
    let starts: Vec<i64> = out
        .rows
        .iter()
        .map(|r| match &r[0] {
            Value::Struct(w) => match w[0] {
                Value::Timestamp(t) => (t / 1000 - T0) / 1000,
                _ => i64::MIN,
            },
            _ => i64::MIN,
        })
        .collect();
    assert_eq!(starts, vec![0, 20, 40]);
}

#[test]
fn snapshot_restore_continues_identically() {
    let spec = window_spec(OutputMode::Update, None);
    let batches: Vec<Vec<(String, i64)>> = vec![
        vec![(r#"{"party":"D"}"#.into(), T0 + 1_000), (r#"{"party":"R"}"#.into(), T0 + 30_000)],
        vec![(r#"{"party":"D"}"#.into(), T0 + 65_000)],
        vec![(r#"{"party":"R"}"#.into(), T0 + 20_000), (r#"{"party":"I"}"#.into(), T0 + 200_000)],
    ];
    let feed = |e: &mut Engine, i: usize| {
        let recs: Vec<SourceRecord<'_>> = batches[i].iter().map(|(v, t)| rec(v, 0, *t)).collect();
        let wm = e.next_watermark_ms();
        e.run_batch(i as u64, wm, recs).unwrap()
    };
    let mut a = Engine::new(Plan::new(&spec).unwrap());
    feed(&mut a, 0);
    let snap = a.snapshot();
    let json = serde_json::to_string(&snap).unwrap();
    let back: StateSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snap);
    let mut b = Engine::new(Plan::new(&spec).unwrap());
    b.restore(back).unwrap();
    for i in 1..3 {
        assert_eq!(feed(&mut a, i), feed(&mut b, i));
        assert_eq!(a.needs_no_data_batch(), b.needs_no_data_batch());
    }
    // a different query refuses the state
    let mut c = Engine::new(Plan::new(&voters_spec(OutputMode::Complete)).unwrap());
    assert!(matches!(c.restore(snap), Err(StreamError::State(_))));
}

#[test]
fn nan_and_negative_zero_group_together() {
    let spec = QuerySpec {
        schema: Some("d DOUBLE".into()),
        group_by: vec!["d".into()],
        output_mode: OutputMode::Complete,
        ..QuerySpec::default()
    };
    let mut e = Engine::new(Plan::new(&spec).unwrap());
    let rows =
        run(&mut e, &[r#"{"d":0.0}"#, r#"{"d":-0.0}"#, r#"{"d":"NaN"}"#, r#"{"d":NaN}"#, r#"{"d":1}"#]);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][1], Value::Long(2));
    assert_eq!(rows[2][1], Value::Long(2));
}
