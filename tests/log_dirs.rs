//! `kwire log-dirs --describe` beside Kafka's `kafka-log-dirs.sh`: the same
//! progress lines and the same JSON document (replicas compared as a set:
//! Kafka prints them in its map's order).

use kwire_integration::*;
use serde_json::Value;

/// The JSON line, with each log dir's partitions sorted.
fn normalized(out: &str) -> Value {
    let line = out.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON line in {out}"));
    let mut doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    for b in doc["brokers"].as_array_mut().unwrap() {
        for d in b["logDirs"].as_array_mut().unwrap() {
            d["partitions"]
                .as_array_mut()
                .unwrap()
                .sort_by_key(|p| p["partition"].as_str().unwrap().to_owned());
        }
    }
    doc
}

#[test]
fn log_dirs_describe_matches_kafka_log_dirs() {
    let b = bootstrap();
    let (t, u) = (unique_topic("logdirs"), unique_topic("logdirs-other"));
    for topic in [&t, &u] {
        kwire(&b, &["topics", "create", topic, "--partitions", "3"]).ok();
    }
    let input: String =
        (0..300).map(|i| format!("{{\"value\":\"{i:0100}\",\"partition\":{}}}\n", i % 3)).collect();
    kwire_stdin(&b, &["produce", "-t", &t, "--format", "json", "--acks", "all"], Some(input.as_bytes())).ok();
    let list = format!("{t},{u},no-such-topic");
    let ours = kwire(&b, &["log-dirs", "--describe", "--topic-list", &list]).ok().stdout;
    let java =
        java_tool("LogDirsCommand", &["--bootstrap-server", &b, "--describe", "--topic-list", &list], b"");
    let head = |s: &str| s.lines().take(2).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(head(&ours), head(&java));
    assert_eq!(normalized(&ours), normalized(&java));
    let doc = normalized(&ours);
    let parts = doc["brokers"][0]["logDirs"][0]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 6, "{doc}");
    assert!(
        parts
            .iter()
            .filter(|p| p["partition"].as_str().unwrap().starts_with(&t))
            .all(|p| p["size"].as_i64() > Some(0)),
        "{doc}"
    );
    // Every broker, every topic: ours is among them.
    let all = kwire(&b, &["log-dirs", "--describe"]).ok().stdout;
    assert!(all.contains(&format!("\"partition\":\"{t}-0\"")), "{all}");
}

#[test]
fn log_dirs_errors_are_one_line() {
    let b = bootstrap();
    let run = kwire(&b, &["log-dirs", "--describe", "--broker-list", "4242"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("no broker 4242 in the cluster"), "{}", run.stderr);
    let run = kwire(&b, &["log-dirs"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("--describe"), "{}", run.stderr);
}
