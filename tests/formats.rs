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

/// The alterations' `--format json`: what was set and deleted, per entity,
/// shaped as the describe JSON of the same command, no password in it, and
/// the broker's state read back agreeing; and JSON outputs no other test reads
/// (offsets, users create/delete, kafka-topics.sh's --alter and --delete forms,
/// create --if-not-exists of a topic that exists).
#[test]
fn alterations_print_json() {
    let b = bootstrap();
    let t = unique_topic("fmt-alter");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    let _delete = DeleteTopicOnDrop::new(&b, &t);
    // Already there, with --if-not-exists: silent in text, a result in JSON.
    let v = kwire(&b, &["topics", "create", &t, "--if-not-exists", "--format", "json"]).ok().json();
    assert_eq!(v, serde_json::json!({"topic": t, "already_exists": true, "dry_run": false}));
    kwire_stdin(&b, &["produce", "-t", &t, "--acks", "all"], Some(b"a\nb\nc\n")).ok();

    // configs --alter on a topic: the configs set (as describe lists them) and the names deleted.
    let alter = ["configs", "--alter", "--entity-type", "topics", "--entity-name", &t];
    let set = ["--add-config", "retention.ms=86400000,cleanup.policy=[compact,delete]", "--format", "json"];
    let v = kwire(&b, &[&alter[..], &set].concat()).ok().json();
    let want = serde_json::json!([{"entity_type": "topics", "entity_name": t, "configs": [
        {"name": "retention.ms", "value": "86400000", "sensitive": false},
        {"name": "cleanup.policy", "value": "compact,delete", "sensitive": false}], "deleted": []}]);
    assert_eq!(v, want);
    let del = ["--delete-config", "cleanup.policy", "--format", "json"];
    let v = kwire(&b, &[&alter[..], &del].concat()).ok().json();
    assert_eq!(
        (v[0]["configs"].clone(), v[0]["deleted"].clone()),
        (serde_json::json!([]), serde_json::json!(["cleanup.policy"]))
    );
    let d = kwire(&b, &["configs", "--describe", "--topic", &t, "--format", "json"]).ok().json();
    let now: Vec<(&str, &str)> = d[0]["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .filter_map(|c| Some((c["name"].as_str()?, c["value"].as_str()?)))
        .collect();
    assert_eq!(now, [("retention.ms", "86400000")], "{d}");
    // topics configs --set/--delete: the same entries.
    let v = kwire(
        &b,
        &[
            "topics",
            "configs",
            &t,
            "--set",
            "max.message.bytes=200000",
            "--delete",
            "retention.ms",
            "--format",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        v,
        serde_json::json!({"topic": t, "configs": [{"name": "max.message.bytes", "value": "200000", "sensitive": false}],
            "deleted": ["retention.ms"]})
    );

    // configs --alter on quotas and a SCRAM credential of one user: the
    // quotas and credentials set (never the password) and what was deleted.
    let user = unique_topic("fmt-user");
    let password = "fmt-Passw0rd";
    let scram = format!("SCRAM-SHA-256=[iterations=4096,password={password}],producer_byte_rate=1024");
    let run =
        kwire(&b, &["configs", "--alter", "--user", &user, "--add-config", &scram, "--format", "json"]).ok();
    assert!(!run.stdout.contains(password), "{}", run.stdout);
    assert_eq!(
        run.json(),
        serde_json::json!({
            "quotas": [{"entity": {"user": user}, "quotas": {"producer_byte_rate": 1024.0}, "deleted": []}],
            "scram_credentials": [{"user": user, "credentials": [{"mechanism": "SCRAM-SHA-256", "iterations": 4096}], "deleted": []}]})
    );
    let d = kwire(&b, &["configs", "--describe", "--user", &user, "--format", "json"]).ok().json();
    assert_eq!(d["quotas"][0]["quotas"], serde_json::json!({"producer_byte_rate": 1024.0}), "{d}");
    assert_eq!(
        d["scram_credentials"][0]["credentials"],
        serde_json::json!([{"mechanism": "SCRAM-SHA-256", "iterations": 4096}]),
        "{d}"
    );
    let v = kwire(
        &b,
        &[
            "configs",
            "--alter",
            "--user",
            &user,
            "--delete-config",
            "producer_byte_rate,SCRAM-SHA-256",
            "--format",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        v,
        serde_json::json!({
            "quotas": [{"entity": {"user": user}, "quotas": {}, "deleted": ["producer_byte_rate"]}],
            "scram_credentials": [{"user": user, "credentials": [], "deleted": ["SCRAM-SHA-256"]}]})
    );
    let d = kwire(&b, &["configs", "--describe", "--user", &user, "--format", "json"]).ok().json();
    assert_eq!(d, serde_json::json!({"quotas": [], "scram_credentials": []}));

    // users create and delete (both run before either is checked: no user is left behind).
    let create = ["users", "create", &user, "--mechanism", "SCRAM-SHA-512", "--password", password];
    let created = kwire(&b, &[&create[..], &["--format", "json"]].concat());
    let deleted = kwire(&b, &["users", "delete", &user, "--format", "json"]);
    assert_eq!(
        created.ok().json(),
        serde_json::json!({"created": user, "mechanism": "SCRAM-SHA-512", "iterations": 8192})
    );
    assert_eq!(deleted.ok().json(), serde_json::json!({"deleted": user, "mechanisms": ["SCRAM-SHA-512"]}));
    assert!(!kwire(&b, &["users", "list"]).ok().stdout.lines().any(|l| l == user));

    // offsets: the latest and earliest offsets of the partition.
    let v = kwire(&b, &["offsets", "--topic", &t, "--format", "json"]).ok().json();
    assert_eq!(
        (v["time"].as_str(), v["offsets"][0]["topic"].as_str()),
        (Some("latest"), Some(t.as_str())),
        "{v}"
    );
    assert_eq!(
        (v["offsets"][0]["partition"].as_i64(), v["offsets"][0]["offset"].as_i64()),
        (Some(0), Some(3)),
        "{v}"
    );
    let v = kwire(&b, &["offsets", "--topic", &t, "--time", "-2", "--format", "json"]).ok().json();
    assert_eq!(v["offsets"][0]["offset"], 0, "{v}");

    // kafka-topics.sh's --alter and --delete forms.
    let v =
        kwire(&b, &["topics", "--alter", "--topic", &t, "--partitions", "2", "--format", "json"]).ok().json();
    assert_eq!((v["partitions"].as_i64(), v["previous_partitions"].as_i64()), (Some(2), Some(1)), "{v}");
    let v = kwire(&b, &["topics", "--delete", "--topic", &t, "--format", "json"]).ok().json();
    assert_eq!(v["deleted"], serde_json::json!([t]), "{v}");
    assert!(!list_topics(&b).contains(&t));
}
