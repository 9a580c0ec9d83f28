//! `kwire delete-records` beside Kafka's `kafka-delete-records.sh`: the same
//! offset JSON, the same report, the records really gone; bad input is one
//! line and a non-zero exit.

use kwire_integration::*;

fn fill(b: &str, t: &str) {
    kwire(b, &["topics", "create", t, "--partitions", "2"]).ok();
    let input: String = (0..20).map(|i| format!("{{\"value\":\"{i}\",\"partition\":{}}}\n", i % 2)).collect();
    kwire_stdin(b, &["produce", "-t", t, "--format", "json", "--acks", "all"], Some(input.as_bytes())).ok();
}

fn offsets_json(t: &str, p0: i64, p1: i64) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(unique_topic("kwire-delete-records"));
    let text = format!(
        "{{\"partitions\":[{{\"topic\":\"{t}\",\"partition\":0,\"offset\":{p0}}},\
         {{\"topic\":\"{t}\",\"partition\":1,\"offset\":{p1}}}],\"version\":1}}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn delete_records_failures_are_reported_and_exit_non_zero() {
    let b = bootstrap();
    let t = unique_topic("delrec-bad");
    fill(&b, &t);
    // Past the high watermark on one partition: that one fails, the other is done.
    let past = offsets_json(&t, 999, 2);
    let run = kwire(&b, &["delete-records", "--offset-json-file", &past.to_string_lossy()]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stdout.contains(&format!("partition: {t}-0\terror: ")), "{}", run.stdout);
    assert!(run.stdout.contains("OFFSET_OUT_OF_RANGE"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("partition: {t}-1\tlow_watermark: 2")), "{}", run.stdout);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    let json =
        kwire(&b, &["delete-records", "--offset-json-file", &past.to_string_lossy(), "--format", "json"]);
    assert_eq!(json.code, Some(1), "{json:#?}");
    let doc: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(doc["partitions"][0]["partition"], 0);
    assert!(doc["partitions"][0]["error"].as_str().unwrap().contains("OFFSET_OUT_OF_RANGE"), "{doc}");
    assert_eq!(doc["partitions"][1]["low_watermark"], 2);
    // Bad files and unknown topics: one line, nothing deleted.
    let missing = offsets_json("no-such-topic-kwire", 1, 1);
    let bad_json = std::env::temp_dir().join(unique_topic("kwire-bad-json"));
    std::fs::write(&bad_json, "{\"partitions\": [").unwrap();
    for (file, want) in [(&missing, "does not exist"), (&bad_json, "not valid JSON")] {
        let run = kwire(&b, &["delete-records", "--offset-json-file", &file.to_string_lossy()]);
        assert_eq!(run.code, Some(1), "{run:#?}");
        assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains(want), "{}", run.stderr);
    }
    let start = kwire(&b, &["offsets", "--topic", &t, "--time", "-2"]).ok().stdout;
    assert_eq!(start, format!("{t}:0:0\n{t}:1:2\n"));
    for f in [past, missing, bad_json] {
        let _ = std::fs::remove_file(f);
    }
}
