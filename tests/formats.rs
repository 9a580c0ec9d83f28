//! `--format json` on the commands whose text output follows a Kafka tool's:
//! each prints JSON carrying the same state, read back from the broker.

use kwire_integration::*;

#[test]
fn toolbox_commands_print_json() {
    let b = bootstrap();
    let t = unique_topic("fmt");
    let v = kwire(&b, &["topics", "create", &t, "--partitions", "1", "--format", "json"]).ok().json();
    assert_eq!((v["topic"].as_str(), v["partitions"].as_i64()), (Some(t.as_str()), Some(1)), "{v}");
    let input: String = (0..5).map(|i| format!("v{i}\n")).collect();
    kwire_stdin(&b, &["produce", "-t", &t, "--acks", "all"], Some(input.as_bytes())).ok();

    // topics alter: the new and the previous partition counts.
    let v = kwire(&b, &["topics", "alter", &t, "--partitions", "2", "--format", "json"]).ok().json();
    assert_eq!((v["partitions"].as_i64(), v["previous_partitions"].as_i64()), (Some(2), Some(1)), "{v}");
    let d = kwire(&b, &["topics", "describe", &t, "--format", "json"]).ok().json();
    assert_eq!(d.to_string().matches("\"partition\"").count(), 2, "the topic grew: {d}");

    // log-dirs: the document alone, naming this topic's partitions with their sizes.
    let v = kwire(&b, &["log-dirs", "--describe", "--topic-list", &t, "--format", "json"]).ok().json();
    let parts = v["brokers"][0]["logDirs"][0]["partitions"].as_array().expect("partitions").clone();
    let names: Vec<&str> = parts.iter().filter_map(|p| p["partition"].as_str()).collect();
    assert!(names.contains(&format!("{t}-0").as_str()), "{v}");
    assert!(parts.iter().any(|p| p["size"].as_i64().unwrap_or(0) > 0), "{v}");

    // dump-log: one object per batch; the records' payloads are what was produced.
    let seg = cluster1_data_dir().join(format!("{t}-0")).join("00000000000000000000.log");
    let run = kwire(&b, &["dump-log", seg.to_str().unwrap(), "--print-data-log", "--format", "json"]).ok();
    let mut payloads = Vec::new();
    for line in run.stdout.lines() {
        let batch: serde_json::Value = serde_json::from_str(line).expect("a JSON line per batch");
        assert_eq!(batch["crc_valid"], true, "{batch}");
        for r in batch["records"].as_array().expect("records") {
            payloads.push(r["payload"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(payloads, (0..5).map(|i| format!("v{i}")).collect::<Vec<_>>());

    // transactions list: a JSON document (this broker may have other transactions).
    let v = kwire(&b, &["transactions", "list", "--format", "json"]).ok().json();
    assert!(v["transactions"].is_array(), "{v}");

    // groups delete: a group with committed offsets and no members.
    let g = format!("{t}-g");
    kwire(
        &b,
        &["consume", "-t", &t, "-g", &g, "--from-beginning", "--max-messages", "5", "--timeout-ms", "10000"],
    )
    .ok();
    let v = kwire(&b, &["groups", "delete-offsets", &g, "--topic", &t, "--format", "json"]).ok().json();
    assert_eq!(v["group"], g.as_str(), "{v}");
    assert!(!v["deleted"].as_array().expect("deleted").is_empty(), "{v}");
    let v = kwire(&b, &["groups", "delete", &g, "--format", "json"]).ok().json();
    assert_eq!(v["deleted"], serde_json::json!([g]), "{v}");
    let list = kwire(&b, &["groups", "list"]).ok().stdout;
    assert!(!list.lines().any(|l| l == g), "the group is gone: {list}");

    // perf produce and consume: one summary object each.
    let v = kwire(
        &b,
        &[
            "perf",
            "produce",
            "--topic",
            &t,
            "--num-records",
            "200",
            "--record-size",
            "10",
            "--throughput",
            "-1",
            "--format",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(v["records"], 200, "{v}");
    assert!(v["p99_ms"].is_number() && v["failed"] == 0, "{v}");
    let v =
        kwire(&b, &["perf", "consume", "--topic", &t, "--messages", "200", "--format", "json"]).ok().json();
    assert_eq!(v["records"], 200, "{v}");

    // topics delete: the deleted topic, and it is gone.
    let v = kwire(&b, &["topics", "delete", &t, "--format", "json"]).ok().json();
    assert_eq!(v["deleted"], serde_json::json!([t]), "{v}");
    assert!(!list_topics(&b).contains(&t));
}
