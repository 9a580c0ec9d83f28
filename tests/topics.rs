//! `kwire topics` against real brokers: every subcommand, the kafka-topics.sh
//! flag form, the guide's commands, and every bad input.

use std::time::Duration;

use kwire_integration::*;

fn describe_json(boot: &str, topic: &str) -> serde_json::Value {
    let doc = kwire(boot, &["topics", "describe", topic, "--format", "json"]).ok().json();
    doc[0].clone()
}

#[test]
fn create_list_describe_alter_configs_delete() {
    let b = bootstrap();
    let t = unique_topic("life");
    let run =
        kwire(&b, &["topics", "create", &t, "--partitions", "3", "--config", "retention.ms=123456"]).ok();
    assert_eq!(run.stdout.trim(), format!("Created topic {t}."));
    assert!(list_topics(&b).contains(&t));

    let d = describe_json(&b, &t);
    assert_eq!(d["partition_count"], 3);
    assert_eq!(d["replication_factor"], 1);
    assert_eq!(d["configs"]["retention.ms"], "123456");
    for p in d["partitions"].as_array().unwrap() {
        assert_eq!(p["leader"], 1);
        assert_eq!(p["isr"], serde_json::json!([1]));
    }
    assert_eq!(d["topic_id"].as_str().unwrap().len(), 22);

    // kafka-topics.sh-style text
    let text = kwire(&b, &["topics", "describe", &t]).ok().stdout;
    let first = text.lines().next().unwrap();
    assert!(first.starts_with(&format!("Topic: {t}\tTopicId: ")), "{first}");
    assert!(first.contains("\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: "), "{first}");
    assert!(first.contains("retention.ms=123456"), "{first}");
    assert_eq!(text.lines().filter(|l| l.starts_with(&format!("\tTopic: {t}\tPartition: "))).count(), 3);

    kwire(&b, &["topics", "alter", &t, "--partitions", "5"]).ok();
    assert_eq!(describe_json(&b, &t)["partition_count"], 5);

    kwire(&b, &["topics", "configs", &t, "--set", "retention.ms=999", "--set", "cleanup.policy=compact"])
        .ok();
    let cfg = kwire(&b, &["topics", "configs", &t, "--format", "json"]).ok().json();
    let get = |k: &str| cfg.as_array().unwrap().iter().find(|e| e["name"] == k).map(|e| e["value"].clone());
    assert_eq!(get("retention.ms"), Some("999".into()));
    assert_eq!(get("cleanup.policy"), Some("compact".into()));
    kwire(&b, &["topics", "configs", &t, "--delete", "cleanup.policy"]).ok();
    let cfg = kwire(&b, &["topics", "configs", &t, "--all", "--format", "json"]).ok().json();
    let policy = cfg.as_array().unwrap().iter().find(|e| e["name"] == "cleanup.policy").unwrap().clone();
    assert_eq!(policy["value"], "delete");
    assert_eq!(policy["source"], "DEFAULT_CONFIG");

    let run = kwire(&b, &["topics", "delete", &t]).ok();
    assert_eq!(run.stdout.trim(), format!("Deleted topic {t}."));
    assert!(!list_topics(&b).contains(&t));
}

#[test]
fn list_includes_internal_unless_excluded() {
    let b = bootstrap();
    // A consumer-offsets topic exists once any group has committed; make sure
    // at least one internal topic exists by asking the broker for it.
    let all = kwire(&b, &["topics", "list", "--format", "json"]).ok().json();
    let excl = kwire(&b, &["topics", "--list", "--exclude-internal", "--format", "json"]).ok().json();
    let all: Vec<String> = serde_json::from_value(all).unwrap();
    let excl: Vec<String> = serde_json::from_value(excl).unwrap();
    assert!(excl.iter().all(|t| !t.starts_with("__")), "{excl:?}");
    assert!(excl.iter().all(|t| all.contains(t)));
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "list is sorted");
}

/// The guide's topic commands with only `--zookeeper 127.0.0.1:2181` replaced.
#[test]
fn guide_commands_in_kafka_topics_form() {
    let b = bootstrap();
    let first = unique_topic("first_topic");
    let voters = unique_topic("voters");

    // kafka-topics.sh --zookeeper 127.0.0.1:2181 --topic first_topic --create --partitions 3
    kwire(&b, &["topics", "--bootstrap-server", &b, "--topic", &first, "--create", "--partitions", "3"]).ok();
    assert_eq!(describe_json(&b, &first)["partition_count"], 3);
    assert_eq!(describe_json(&b, &first)["replication_factor"], 1);

    // The broken example: two --topic in one create. Names both, creates nothing.
    let other = unique_topic("first_topic");
    let run = kwire(
        &b,
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--topic",
            &other,
            "--create",
            "--partitions",
            "3",
            "--replication-factor",
            "1",
            "--topic",
            &voters,
        ],
    );
    let line = run.one_line_error();
    assert!(line.contains(&other) && line.contains(&voters), "{line}");
    assert!(line.contains("one command per topic"), "{line}");
    let topics = list_topics(&b);
    assert!(!topics.contains(&other) && !topics.contains(&voters), "nothing was created");

    // The fix: one command per topic.
    kwire(
        &b,
        &[
            "topics",
            "--create",
            "--bootstrap-server",
            &b,
            "--replication-factor",
            "1",
            "--partitions",
            "1",
            "--topic",
            &voters,
        ],
    )
    .ok();

    // --list and --delete
    let listed = kwire(&b, &["topics", "--bootstrap-server", &b, "--list"]).ok().stdout;
    assert!(listed.lines().any(|l| l == first) && listed.lines().any(|l| l == voters));
    kwire(&b, &["topics", "--bootstrap-server", &b, "--topic", &first, "--delete"]).ok();
    kwire(&b, &["topics", "--bootstrap-server", &b, "--topic", &voters, "--delete"]).ok();
    let topics = list_topics(&b);
    assert!(!topics.contains(&first) && !topics.contains(&voters));
}

#[test]
fn zookeeper_flag_explains_itself() {
    let line = kwire(&bootstrap(), &["topics", "--zookeeper", "127.0.0.1:2181", "--list"]).one_line_error();
    assert!(line.contains("ZooKeeper") && line.contains("--bootstrap-server"), "{line}");
    assert!(line.contains("3.0"), "{line}");
}

#[test]
fn bad_create_inputs_each_say_what_is_wrong_and_create_nothing() {
    let b = bootstrap();
    let t = unique_topic("bad");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--partitions".into(), "0".into()], "at least 1"),
        (vec!["--partitions".into(), "-3".into()], "at least 1"),
        (vec!["--replication-factor".into(), "0".into()], "at least 1"),
        (vec!["--replication-factor".into(), "2".into()], "live brokers (1)"),
        (vec!["--config".into(), "bogus.key=1".into()], "bogus.key"),
        (vec!["--config".into(), "noequals".into()], "KEY=VALUE"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["topics".to_owned(), "create".to_owned(), t.clone()];
        args.extend(extra.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let line = kwire(&b, &args).one_line_error();
        assert!(line.contains(want), "{extra:?}: {line}");
        assert!(!list_topics(&b).contains(&t), "{extra:?} created the topic");
    }
    // replication factor too large names both numbers
    let line = kwire(&b, &["topics", "create", &t, "--replication-factor", "3"]).one_line_error();
    assert!(line.contains('3') && line.contains("(1)"), "{line}");
}

#[test]
fn invalid_names_are_rejected_with_the_rule() {
    let b = bootstrap();
    let long = "x".repeat(250);
    for (name, want) in [
        ("has space", "' '"),
        ("slash/no", "'/'"),
        (".", "cannot be '.'"),
        ("..", "cannot be '..'"),
        (long.as_str(), "249"),
    ] {
        let line = kwire(&b, &["topics", "create", name]).one_line_error();
        assert!(line.contains(want), "{name}: {line}");
    }
    assert!(!list_topics(&b).iter().any(|t| t == "has space" || t == "."));
}

#[test]
fn exists_and_missing_topics() {
    let b = bootstrap();
    let t = unique_topic("exists");
    kwire(&b, &["topics", "create", &t]).ok();
    let line = kwire(&b, &["topics", "create", &t]).one_line_error();
    assert!(line.contains("already exists"), "{line}");
    let run = kwire(&b, &["topics", "create", &t, "--if-not-exists"]).ok();
    assert!(run.stdout.is_empty() && run.stderr.is_empty(), "{run:?}");

    let missing = unique_topic("missing");
    let line = kwire(&b, &["topics", "delete", &missing]).one_line_error();
    assert!(line.contains(&missing) && line.contains("does not exist"), "{line}");
    kwire(&b, &["topics", "delete", &missing, "--if-exists"]).ok();

    // Deleting an existing and a missing topic together deletes nothing.
    let line = kwire(&b, &["topics", "delete", &t, &missing]).one_line_error();
    assert!(line.contains("nothing was deleted"), "{line}");
    assert!(list_topics(&b).contains(&t));

    let line = kwire(&b, &["topics", "describe", &missing]).one_line_error();
    assert!(line.contains("does not exist"), "{line}");
    let line = kwire(&b, &["topics", "alter", &t, "--partitions", "1"]).one_line_error();
    assert!(line.contains("can only be added"), "{line}");
    let line = kwire(&b, &["topics", "configs", &t, "--set", "bogus.key=1"]).one_line_error();
    assert!(line.contains("bogus.key"), "{line}");
    let line = kwire(&b, &["topics", "delete", "__consumer_offsets"]);
    if list_topics(&b).iter().any(|x| x == "__consumer_offsets") {
        assert!(line.one_line_error().contains("internal"), "{line:?}");
    }
    kwire(&b, &["topics", "delete", &t]).ok();
}

#[test]
fn legacy_form_needs_exactly_one_action() {
    let b = bootstrap();
    let line = kwire(&b, &["topics", "--topic", "x"]).one_line_error();
    assert!(line.contains("--create"), "{line}");
    let line = kwire(&b, &["topics", "--list", "--delete", "--topic", "x"]).one_line_error();
    assert!(line.contains("only one"), "{line}");
    let line = kwire(&b, &["topics", "--create"]).one_line_error();
    assert!(line.contains("--topic"), "{line}");
}

#[test]
fn dry_run_creates_nothing() {
    let b = bootstrap();
    let t = unique_topic("dry");
    kwire(&b, &["topics", "create", &t, "--partitions", "2", "--dry-run"]).ok();
    assert!(!list_topics(&b).contains(&t));
    let line = kwire(&b, &["topics", "create", &t, "--config", "retention.ms=notanumber", "--dry-run"])
        .one_line_error();
    assert!(line.contains("retention.ms"), "{line}");
}

/// The guide's `--partitions 3 --replication-factor 2` on the 3-node cluster.
#[test]
fn replicated_topic_on_three_nodes() {
    let _g = trio_shared();
    let b = bootstrap3();
    let t = unique_topic("replicated");
    kwire(
        &b,
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--topic",
            &t,
            "--create",
            "--partitions",
            "3",
            "--replication-factor",
            "2",
        ],
    )
    .ok();
    let d = describe_json(&b, &t);
    assert_eq!(d["replication_factor"], 2);
    for p in d["partitions"].as_array().unwrap() {
        assert_eq!(p["replicas"].as_array().unwrap().len(), 2, "{p}");
    }
    // Healthy: no partition matches the problem filters.
    for f in ["--under-replicated-partitions", "--unavailable-partitions"] {
        let out = kwire(&b, &["topics", "describe", &t, f]).ok().stdout;
        assert!(out.is_empty(), "{f}: {out}");
    }
    // Default replication factor is 3 on this cluster (with min.insync.replicas=2).
    let t3 = unique_topic("default-rf");
    kwire(&b, &["topics", "create", &t3]).ok();
    assert_eq!(describe_json(&b, &t3)["replication_factor"], 3);
    let line =
        kwire(&b, &["topics", "create", &unique_topic("rf4"), "--replication-factor", "4"]).one_line_error();
    assert!(line.contains('4') && line.contains("(3)"), "{line}");
    kwire(&b, &["topics", "delete", &t, &t3]).ok();
}

/// Kill one broker: its partitions show as under-replicated, and under min ISR
/// for a topic that requires 3 in-sync replicas; restart it and they heal.
#[test]
fn under_replicated_and_under_min_isr_after_a_broker_dies() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let t = unique_topic("urp");
    kwire(&b, &["topics", "create", &t, "--partitions", "3", "--replication-factor", "3"]).ok();
    let strict = unique_topic("strict");
    kwire(&b, &["topics", "create", &strict, "--partitions", "2", "--config", "min.insync.replicas=3"]).ok();
    let killed = KilledNode::kill(3);
    let urp = wait_until(Duration::from_secs(30), || {
        let out = kwire(&b, &["topics", "describe", &t, "--under-replicated-partitions"]);
        out.code == Some(0) && out.stdout.lines().count() == 3
    });
    let urp_text = kwire(&b, &["topics", "describe", &t, "--under-replicated-partitions"]).stdout;
    // With 2 of 3 in sync and min ISR 2, nothing is under min ISR yet.
    let under_min = kwire(&b, &["topics", "describe", &t, "--under-min-isr-partitions"]).stdout;
    let under_min_strict = kwire(&b, &["topics", "describe", &strict, "--under-min-isr-partitions"]).stdout;
    killed.restart();
    assert!(urp, "partitions never showed as under-replicated: {urp_text}");
    assert!(urp_text.lines().all(|l| l.contains("Isr: ") && !l.contains("Isr: 1,2,3")), "{urp_text}");
    assert!(under_min.is_empty(), "{under_min}");
    assert_eq!(under_min_strict.lines().count(), 2, "{under_min_strict}");
    let healed = wait_until(Duration::from_secs(60), || {
        kwire(&b, &["topics", "describe", &t, "--under-replicated-partitions"]).stdout.is_empty()
    });
    assert!(healed, "ISR never recovered");
    kwire(&b, &["topics", "delete", &t, &strict]).ok();
}
