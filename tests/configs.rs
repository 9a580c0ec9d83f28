//! `kwire configs` (kafka-configs.sh) against a real broker: topic and broker
//! configs, user/client quotas, cross-checked both ways with Kafka's own
//! ConfigCommand, and bad input that applies nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use kwire_integration::{bootstrap, java_tool, kwire, unique_topic, wait_until};

/// kafka-configs.sh (kafka.sh maps the short name to 4.4's org.apache.kafka.tools.ConfigCommand).
const CONFIG_COMMAND: &str = "ConfigCommand";
const WAIT: Duration = Duration::from_secs(15);

/// `kwire configs --describe ... --format json` for one config resource: name -> (value, source).
fn dynamic(b: &str, args: &[&str]) -> Vec<(String, String, String)> {
    let mut all = vec!["configs", "--describe", "--format", "json"];
    all.extend_from_slice(args);
    let doc = kwire(b, &all).ok().json();
    doc[0]["configs"]
        .as_array()
        .expect("configs array")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_owned(),
                c["value"].as_str().unwrap_or_default().to_owned(),
                c["source"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn has(v: &[(String, String, String)], k: &str, val: &str) -> bool {
    v.iter().any(|(n, x, _)| n == k && x == val)
}

#[test]
fn topic_configs_both_ways_with_kafka_configs_sh() {
    let b = bootstrap();
    let t = unique_topic("cfg-topic");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    let r = kwire(
        &b,
        &[
            "configs",
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            &t,
            "--add-config",
            "retention.ms=1000,cleanup.policy=[delete,compact]",
        ],
    )
    .ok();
    assert_eq!(r.stdout.trim(), format!("Completed updating config for topic {t}."));
    // Kafka's tool sees what kwire set, in the same words as kwire prints.
    let java = java_tool(CONFIG_COMMAND, &["--bootstrap-server", &b, "--describe", "--topic", &t], b"");
    assert!(
        java.contains(
            "  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000}"
        ),
        "{java}"
    );
    assert!(java.contains("cleanup.policy=delete,compact sensitive=false"), "{java}");
    let ours = kwire(&b, &["configs", "describe", "--topic", &t]).ok().stdout;
    let java_lines: Vec<&str> =
        java.lines().filter(|l| l.starts_with("Dynamic") || l.starts_with("  ")).collect();
    assert_eq!(ours.lines().collect::<Vec<_>>(), java_lines);
    // kwire sees what Kafka's tool set.
    java_tool(
        CONFIG_COMMAND,
        &[
            "--bootstrap-server",
            &b,
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            &t,
            "--add-config",
            "segment.ms=3600000",
            "--delete-config",
            "retention.ms",
        ],
        b"",
    );
    assert!(wait_until(WAIT, || {
        let d = dynamic(&b, &["--topic", &t]);
        has(&d, "segment.ms", "3600000") && !d.iter().any(|(n, _, _)| n == "retention.ms")
    }));
    let d = dynamic(&b, &["--topic", &t]);
    assert!(d.iter().all(|(_, _, s)| s == "DYNAMIC_TOPIC_CONFIG"), "{d:?}");
    // --all includes the defaults.
    let all = dynamic(&b, &["--topic", &t, "--all"]);
    assert!(all.iter().any(|(n, _, s)| n == "max.message.bytes" && s == "DEFAULT_CONFIG"), "{all:?}");
}

#[test]
fn broker_dynamic_config_on_one_broker_and_as_cluster_default() {
    let b = bootstrap();
    kwire(&b, &["configs", "--alter", "--broker", "1", "--add-config", "log.cleaner.threads=2"]).ok();
    assert!(wait_until(WAIT, || has(&dynamic(&b, &["--broker", "1"]), "log.cleaner.threads", "2")));
    kwire(&b, &["configs", "--alter", "--broker", "1", "--delete-config", "log.cleaner.threads"]).ok();
    assert!(wait_until(WAIT, || !dynamic(&b, &["--broker", "1"])
        .iter()
        .any(|(n, _, _)| n == "log.cleaner.threads")));

    let r = kwire(
        &b,
        &[
            "configs",
            "alter",
            "--entity-type",
            "brokers",
            "--entity-default",
            "--add-config",
            "message.max.bytes=2000000",
        ],
    )
    .ok();
    assert_eq!(r.stdout.trim(), "Completed updating default config for brokers in the cluster.");
    assert!(wait_until(WAIT, || has(&dynamic(&b, &["--broker-defaults"]), "message.max.bytes", "2000000")));
    // The broker's effective value names the cluster default as its source.
    assert!(wait_until(WAIT, || {
        dynamic(&b, &["--broker", "1", "--all"]).iter().any(|(n, v, s)| {
            n == "message.max.bytes" && v == "2000000" && s == "DYNAMIC_DEFAULT_BROKER_CONFIG"
        })
    }));
    kwire(&b, &["configs", "--alter", "--broker-defaults", "--delete-config", "message.max.bytes"]).ok();
    assert!(wait_until(WAIT, || !dynamic(&b, &["--broker-defaults"])
        .iter()
        .any(|(n, _, _)| n == "message.max.bytes")));
}

fn quotas(b: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["configs", "--describe", "--format", "json"];
    all.extend_from_slice(args);
    kwire(b, &all).ok().json()["quotas"].clone()
}

#[test]
fn client_and_user_quotas_both_ways_with_kafka_configs_sh() {
    let b = bootstrap();
    let user = unique_topic("quser");
    let client = unique_topic("qclient");
    kwire(
        &b,
        &[
            "configs",
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            &user,
            "--entity-type",
            "clients",
            "--entity-name",
            &client,
            "--add-config",
            "producer_byte_rate=1024,request_percentage=12.5",
        ],
    )
    .ok();
    let java = java_tool(
        CONFIG_COMMAND,
        &[
            "--bootstrap-server",
            &b,
            "--describe",
            "--entity-type",
            "users",
            "--entity-name",
            &user,
            "--entity-type",
            "clients",
            "--entity-name",
            &client,
        ],
        b"",
    );
    // The same line, values compared as a set: Kafka's tool prints them in
    // its hash map's order, kwire sorted by name.
    let prefix = format!("Quota configs for user-principal '{user}', client-id '{client}' are ");
    let line = java.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{java}"));
    let values = |l: &str| -> BTreeSet<String> {
        l.strip_prefix(&prefix).unwrap_or_else(|| panic!("{l}")).split(", ").map(str::to_owned).collect()
    };
    let want: BTreeSet<String> =
        ["producer_byte_rate=1024.0", "request_percentage=12.5"].map(String::from).into();
    assert_eq!(values(line), want, "Kafka's tool: {line}");
    let ours = kwire(&b, &["configs", "--describe", "--user", &user, "--client", &client]).ok().stdout;
    assert_eq!(values(ours.trim()), want, "kwire: {ours}");
    // Kafka's tool sets a client quota; kwire reads it and removes it.
    java_tool(
        CONFIG_COMMAND,
        &[
            "--bootstrap-server",
            &b,
            "--alter",
            "--entity-type",
            "clients",
            "--entity-name",
            &client,
            "--add-config",
            "consumer_byte_rate=2048",
        ],
        b"",
    );
    let q = quotas(&b, &["--client", &client]);
    assert_eq!(q[0]["quotas"]["consumer_byte_rate"], 2048.0, "{q}");
    kwire(&b, &["configs", "--alter", "--client", &client, "--delete-config", "consumer_byte_rate"]).ok();
    kwire(
        &b,
        &[
            "configs",
            "--alter",
            "--user",
            &user,
            "--client",
            &client,
            "--delete-config",
            "producer_byte_rate,request_percentage",
        ],
    )
    .ok();
    assert_eq!(quotas(&b, &["--client", &client]), serde_json::json!([]));
    assert_eq!(quotas(&b, &["--user", &user, "--client", &client]), serde_json::json!([]));
    // Defaults.
    kwire(&b, &["configs", "--alter", "--user-defaults", "--add-config", "controller_mutation_rate=10"]).ok();
    let q = quotas(&b, &["--entity-type", "users", "--entity-default"]);
    assert_eq!(q[0]["entity"]["user"], serde_json::Value::Null, "{q}");
    assert_eq!(q[0]["quotas"]["controller_mutation_rate"], 10.0, "{q}");
    kwire(&b, &["configs", "--alter", "--user-defaults", "--delete-config", "controller_mutation_rate"]).ok();
    assert_eq!(quotas(&b, &["--user-defaults"]), serde_json::json!([]));
}

#[test]
fn bad_input_is_one_line_and_applies_nothing() {
    let b = bootstrap();
    let t = unique_topic("cfg-bad");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    let line = kwire(
        &b,
        &["configs", "--alter", "--entity-type", "widgets", "--entity-name", "x", "--add-config", "a=1"],
    )
    .one_line_error();
    assert!(line.contains("widgets"), "{line}");
    let line =
        kwire(&b, &["configs", "--alter", "--topic", &t, "--add-config", "retention.ms"]).one_line_error();
    assert!(line.contains("--add-config"), "{line}");
    let line = kwire(&b, &["configs", "--alter", "--topic", &t, "--add-config", "retention.ms=[5000"])
        .one_line_error();
    assert!(line.contains("unbalanced"), "{line}");
    // A good key with an unknown one: the broker rejects the whole request.
    let line =
        kwire(&b, &["configs", "--alter", "--topic", &t, "--add-config", "retention.ms=5000,bogus.key=1"])
            .one_line_error();
    assert!(line.contains("INVALID_CONFIG") && line.contains("bogus.key"), "{line}");
    let line =
        kwire(&b, &["configs", "--alter", "--topic", "no-such-topic-cfg", "--add-config", "retention.ms=1"])
            .one_line_error();
    assert!(line.contains("does not exist") || line.contains("UNKNOWN_TOPIC"), "{line}");
    let line = kwire(&b, &["configs", "--alter", "--user", "q", "--add-config", "producer_byte_rate=fast"])
        .one_line_error();
    assert!(line.contains("producer_byte_rate"), "{line}");
    let line =
        kwire(&b, &["configs", "--alter", "--client", "q", "--add-config", "bogus_rate=1"]).one_line_error();
    assert!(line.contains("bogus_rate"), "{line}");
    // A quota with a SCRAM deletion the broker refuses (the user has no
    // such credential): one line, and the quota is not written either.
    let user = unique_topic("cfg-noscram");
    let run = kwire(
        &b,
        &[
            "configs",
            "--alter",
            "--user",
            &user,
            "--add-config",
            "producer_byte_rate=1000",
            "--delete-config",
            "SCRAM-SHA-256",
        ],
    );
    let line = run.one_line_error();
    assert!(line.contains("SCRAM") || line.contains("credential"), "{line}");
    assert_eq!(quotas(&b, &["--user", &user]), serde_json::json!([]), "the quota was written: {line}");
    // Nothing was applied.
    assert_eq!(dynamic(&b, &["--topic", &t]), vec![]);
    assert_eq!(quotas(&b, &["--user", "q"]), serde_json::json!([]));
    assert_eq!(quotas(&b, &["--client", "q"]), serde_json::json!([]));
}
