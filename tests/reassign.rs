//! `kwire reassign`, `kwire elect-leaders`, `kwire features` and `kwire
//! quorum` on the 3-node cluster, read back from metadata, configs and
//! Kafka's own Java tools (kafka-reassign-partitions.sh, kafka-leader-election.sh,
//! kafka-topics.sh --describe, kafka-features.sh describe,
//! kafka-metadata-quorum.sh describe), and the reverse: what Kafka's tools
//! start, kwire reads.

use std::collections::BTreeMap;
use std::time::Duration;

use kwire_integration::*;
use kwire_meta::admin::ResourceType;
use kwire_meta::{Cluster, ClusterConfig};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Dynamic (non-default) values of `keys` on one resource.
fn dynamic_configs(ty: ResourceType, name: &str, keys: &[&str]) -> BTreeMap<String, String> {
    rt().block_on(async {
        let cluster = Cluster::new(ClusterConfig::builder().bootstrap(bootstrap3().split(',')).build());
        let all =
            cluster.describe_configs(ty, &[name.to_owned()], Some(keys)).await.expect("describe configs");
        all.into_values()
            .flatten()
            .filter(|e| e.source != kwire_meta::admin::CONFIG_SOURCE_DEFAULT && e.source != 4)
            .filter_map(|e| e.value.map(|v| (e.name, v)))
            .collect()
    })
}

/// Replicas per partition, from metadata.
fn replicas(b: &str, t: &str) -> Vec<Vec<i64>> {
    let doc = kwire(b, &["topics", "describe", t, "--format", "json"]).ok().json();
    let parts = doc[0]["partitions"].as_array().or_else(|| doc["topics"][0]["partitions"].as_array());
    let parts = parts.unwrap_or_else(|| panic!("no partitions in {doc}"));
    parts
        .iter()
        .map(|p| {
            p["replicas"].as_array().expect("replicas").iter().map(|r| r.as_i64().expect("id")).collect()
        })
        .collect()
}

fn leader(b: &str, t: &str, p: usize) -> i64 {
    let doc = kwire(b, &["topics", "describe", t, "--format", "json"]).ok().json();
    let parts = doc[0]["partitions"].as_array().or_else(|| doc["topics"][0]["partitions"].as_array());
    parts.expect("partitions")[p]["leader"].as_i64().expect("leader")
}

fn write_json(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(unique_topic(name)).with_extension("json");
    std::fs::write(&path, text).expect("write json");
    path
}

fn target_json(t: &str, replicas: &[Vec<i64>]) -> String {
    let parts: Vec<String> = replicas
        .iter()
        .enumerate()
        .map(|(p, r)| {
            format!("{{\"topic\":\"{t}\",\"partition\":{p},\"replicas\":{}}}", serde_json::json!(r))
        })
        .collect();
    format!("{{\"version\":1,\"partitions\":[{}]}}", parts.join(","))
}

fn no_reassignments(b: &str) -> bool {
    kwire(b, &["reassign", "--list"]).ok().stdout.trim() == "No partition reassignments found."
}

/// A topic of one partition on one broker holding 15,000 records of 200 B
/// (about 3 MB), and a reassignment file moving it to another broker.
struct SlowMove {
    t: String,
    _delete: DeleteTopicOnDrop,
    /// The replicas before the move.
    before: Vec<Vec<i64>>,
    /// The broker it moves to.
    to: i64,
    file: std::path::PathBuf,
}

fn slow_move(b: &str, name: &str) -> SlowMove {
    let t = unique_topic(name);
    kwire(b, &["topics", "create", &t, "--partitions", "1", "--replication-factor", "1"]).ok();
    let delete = DeleteTopicOnDrop::new(b, &t);
    let data: String = (0..15000).map(|i| format!("{i:0>200}\n")).collect();
    kwire_stdin(b, &["produce", "-t", &t, "--acks", "all"], Some(data.as_bytes())).ok();
    let before = replicas(b, &t);
    let to = before[0][0] % 3 + 1;
    let file = write_json(name, &target_json(&t, &[vec![to]]));
    SlowMove { t, _delete: delete, before, to, file }
}

#[test]
fn execute_then_verify_moves_partitions_sets_and_clears_throttles() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let t = unique_topic("reassign-move");
    kwire(&b, &["topics", "create", &t, "--partitions", "3", "--replication-factor", "1"]).ok();
    let _delete = DeleteTopicOnDrop::new(&b, &t);
    kwire_stdin(&b, &["produce", "-t", &t, "--acks", "all"], Some(b"a\nb\nc\nd\ne\nf\n")).ok();
    let before = replicas(&b, &t);
    // Every partition to the next broker: 1 -> 2 -> 3 -> 1.
    let target: Vec<Vec<i64>> = before.iter().map(|r| vec![r[0] % 3 + 1]).collect();
    let file = write_json("reassign", &target_json(&t, &target));
    let f = file.to_str().expect("path");
    let run =
        kwire(&b, &["reassign", "--execute", "--reassignment-json-file", f, "--throttle", "50000000"]).ok();
    assert!(
        run.stdout.contains("Save this to use as the --reassignment-json-file option during rollback"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("Successfully started partition reassignments for {t}-0,{t}-1,{t}-2")),
        "{}",
        run.stdout
    );
    // The rollback JSON is the assignment before.
    let rollback =
        format!("\"topic\":\"{t}\",\"partition\":0,\"replicas\":[{}],\"log_dirs\":[\"any\"]", before[0][0]);
    assert!(run.stdout.contains(&rollback), "{}", run.stdout);
    // Throttles are set (unless the move already finished and nothing cleared them yet: they stay until verify).
    let topic_thr = dynamic_configs(
        ResourceType::Topic,
        &t,
        &["leader.replication.throttled.replicas", "follower.replication.throttled.replicas"],
    );
    assert_eq!(topic_thr.len(), 2, "{topic_thr:?}");
    assert!(
        topic_thr["follower.replication.throttled.replicas"].contains(&format!("0:{}", target[0][0])),
        "{topic_thr:?}"
    );
    let broker_thr = dynamic_configs(ResourceType::Broker, "1", &["leader.replication.throttled.rate"]);
    assert_eq!(broker_thr.get("leader.replication.throttled.rate").map(String::as_str), Some("50000000"));
    // Verify until complete; the last verify clears the throttles.
    let mut last = String::new();
    let done = wait_until(Duration::from_secs(60), || {
        last = kwire(&b, &["reassign", "--verify", "--reassignment-json-file", f]).ok().stdout;
        (0..3).all(|p| last.contains(&format!("Reassignment of partition {t}-{p} is completed.")))
            && last.contains("Clearing topic-level throttles")
    });
    assert!(done, "{last}");
    assert_eq!(replicas(&b, &t), target);
    assert!(
        dynamic_configs(
            ResourceType::Topic,
            &t,
            &["leader.replication.throttled.replicas", "follower.replication.throttled.replicas"]
        )
        .is_empty()
    );
    for id in ["1", "2", "3"] {
        let left = dynamic_configs(
            ResourceType::Broker,
            id,
            &["leader.replication.throttled.rate", "follower.replication.throttled.rate"],
        );
        assert!(left.is_empty(), "broker {id}: {left:?}");
    }
    // Kafka's tool sees the same.
    let java = java_tool(
        "ReassignPartitionsCommand",
        &["--bootstrap-server", &b, "--verify", "--reassignment-json-file", f, "--preserve-throttles"],
        b"",
    );
    for p in 0..3 {
        assert!(java.contains(&format!("Reassignment of partition {t}-{p} is completed.")), "{java}");
    }
    // The records are still there.
    assert_eq!(read_all_values(&b, &t).len(), 6);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn cancel_of_an_in_flight_reassignment_restores_the_replicas() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let SlowMove { t, _delete, before, to, file } = slow_move(&b, "reassign-cancel");
    let f = file.to_str().expect("path");
    // 1 byte/s over ~3 MB (more than one replica fetch of 1 MiB): the new
    // replica cannot catch up, so the move stays in flight.
    kwire(&b, &["reassign", "execute", "--reassignment-json-file", f, "--throttle", "1"]).ok();
    let list = kwire(&b, &["reassign", "list"]).ok().stdout;
    assert!(
        list.contains(&format!("{t}-0: replicas: ")) && list.contains(&format!("adding: {to}.")),
        "{list}"
    );
    let verify = kwire(&b, &["reassign", "verify", "--reassignment-json-file", f]).ok().stdout;
    assert!(verify.contains(&format!("Reassignment of partition {t}-0 is still in progress.")), "{verify}");
    assert!(!verify.contains("Clearing"), "throttles must stay while it runs: {verify}");
    let run = kwire(&b, &["reassign", "cancel", "--reassignment-json-file", f]).ok();
    assert!(
        run.stdout.contains(&format!("Successfully cancelled partition reassignment for: {t}-0")),
        "{}",
        run.stdout
    );
    assert!(no_reassignments(&b));
    assert_eq!(replicas(&b, &t), before);
    assert!(
        dynamic_configs(
            ResourceType::Topic,
            &t,
            &["leader.replication.throttled.replicas", "follower.replication.throttled.replicas"]
        )
        .is_empty()
    );
    assert!(
        dynamic_configs(ResourceType::Broker, &to.to_string(), &["follower.replication.throttled.rate"])
            .is_empty()
    );
    let _ = std::fs::remove_file(&file);
}

/// The Java -> kwire direction: a reassignment Kafka's tool starts (with a
/// throttle that keeps it in flight) is listed and verified by kwire as Kafka's
/// tool lists and verifies it, with the throttles it set; cancelled and then
/// run to completion by Kafka's tool, kwire's verify reports what Kafka's does.
#[test]
fn reassignment_started_by_kafka_tool_is_seen_by_kwire() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let SlowMove { t, _delete, before, to, file } = slow_move(&b, "reassign-java");
    let f = file.to_str().expect("path");
    let java = |args: &[&str]| {
        java_tool("ReassignPartitionsCommand", &[&["--bootstrap-server", &b][..], args].concat(), b"")
    };
    // 1 byte/s: the new replica cannot catch up (as in the cancel test above).
    let run = java(&["--execute", "--reassignment-json-file", f, "--throttle", "1"]);
    assert!(run.contains(&format!("Successfully started partition reassignment for {t}-0")), "{run}");
    let list = kwire(&b, &["reassign", "--list"]).ok().stdout;
    assert!(
        list.contains(&format!("{t}-0: replicas: ")) && list.contains(&format!("adding: {to}.")),
        "{list}"
    );
    assert_eq!(list, java(&["--list"]));
    let verify = kwire(&b, &["reassign", "--verify", "--reassignment-json-file", f]).ok().stdout;
    assert!(verify.contains(&format!("Reassignment of partition {t}-0 is still in progress.")), "{verify}");
    assert_eq!(verify, java(&["--verify", "--reassignment-json-file", f]));
    // The throttles Kafka's tool set, which kwire's verify left in place.
    let topic_thr = dynamic_configs(
        ResourceType::Topic,
        &t,
        &["leader.replication.throttled.replicas", "follower.replication.throttled.replicas"],
    );
    assert_eq!(
        topic_thr.get("follower.replication.throttled.replicas").map(String::as_str),
        Some(format!("0:{to}").as_str()),
        "{topic_thr:?}"
    );
    let broker_thr =
        dynamic_configs(ResourceType::Broker, &to.to_string(), &["follower.replication.throttled.rate"]);
    assert_eq!(broker_thr.get("follower.replication.throttled.rate").map(String::as_str), Some("1"));
    // Cancelled by Kafka's tool: nothing in flight for kwire, the replicas as before.
    let run = java(&["--cancel", "--reassignment-json-file", f]);
    assert!(run.contains(&format!("Successfully cancelled partition reassignment for: {t}-0")), "{run}");
    assert!(no_reassignments(&b));
    assert_eq!(replicas(&b, &t), before);
    // Started again without a throttle: kwire's verify reports it complete
    // once it is, and then says what Kafka's says.
    java(&["--execute", "--reassignment-json-file", f]);
    let mut last = String::new();
    let done = wait_until(Duration::from_secs(60), || {
        last = kwire(&b, &["reassign", "--verify", "--reassignment-json-file", f, "--preserve-throttles"])
            .ok()
            .stdout;
        last.contains(&format!("Reassignment of partition {t}-0 is completed."))
    });
    assert!(done, "{last}");
    assert_eq!(replicas(&b, &t), [vec![to]]);
    assert_eq!(
        kwire(&b, &["reassign", "--verify", "--reassignment-json-file", f]).ok().stdout,
        java(&["--verify", "--reassignment-json-file", f])
    );
    assert_eq!(read_all_values(&b, &t).len(), 15000);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn preferred_election_moves_leadership_back_to_the_first_replica() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let t = unique_topic("elect");
    kwire(&b, &["topics", "create", &t, "--partitions", "1", "--replication-factor", "3"]).ok();
    let r = replicas(&b, &t)[0].clone();
    let old_leader = leader(&b, &t, 0);
    assert_eq!(old_leader, r[0]);
    // Same replicas, another order: the leader stays, the preferred one changes.
    let reordered = vec![r[1], r[0], r[2]];
    let file = write_json("elect", &target_json(&t, std::slice::from_ref(&reordered)));
    let f = file.to_str().expect("path");
    kwire(&b, &["reassign", "--execute", "--reassignment-json-file", f]).ok();
    assert!(wait_until(Duration::from_secs(30), || replicas(&b, &t)[0] == reordered && no_reassignments(&b)));
    assert_eq!(leader(&b, &t, 0), old_leader);
    let run =
        kwire(&b, &["elect-leaders", "--election-type", "preferred", "--topic", &t, "--partition", "0"]).ok();
    assert_eq!(
        run.stdout.trim(),
        format!("Successfully completed leader election (PREFERRED) for partitions {t}-0")
    );
    assert!(wait_until(Duration::from_secs(10), || leader(&b, &t, 0) == reordered[0]));
    // Again: nothing to do, from a JSON file this time.
    let el =
        write_json("elect-parts", &format!("{{\"partitions\":[{{\"topic\":\"{t}\",\"partition\":0}}]}}"));
    let run = kwire(
        &b,
        &["elect-leaders", "--election-type", "PREFERRED", "--path-to-json-file", el.to_str().expect("path")],
    )
    .ok();
    assert_eq!(run.stdout.trim(), format!("Valid replica already elected for partitions {t}-0"));
    // An unclean election on a partition with a live leader is refused.
    let run = kwire(&b, &["elect-leaders", "--election-type", "unclean", "--topic", &t, "--partition", "0"]);
    assert!(run.one_line_error().contains("ELECTION_NOT_NEEDED"), "{run:?}");
    assert_eq!(leader(&b, &t, 0), reordered[0]);
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&el);
}

/// Preferred elections against Kafka's tools, both ways: after a reorder
/// kafka-leader-election.sh (LeaderElectionCommand) elects and kwire's
/// `topics describe` shows the new leader; after another, kwire elects and
/// kafka-topics.sh --describe (TopicCommand) prints the partition's line as
/// kwire does (but for Kafka 4's Elr fields), with the new leader.
#[test]
fn preferred_elections_by_kafka_tool_and_by_kwire_agree() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let t = unique_topic("elect-java");
    kwire(&b, &["topics", "create", &t, "--partitions", "1", "--replication-factor", "3"]).ok();
    let _delete = DeleteTopicOnDrop::new(&b, &t);
    let r = replicas(&b, &t)[0].clone();
    let reorder = |order: &[i64]| {
        let file = write_json("elect-java", &target_json(&t, &[order.to_vec()]));
        kwire(&b, &["reassign", "--execute", "--reassignment-json-file", file.to_str().expect("path")]).ok();
        assert!(wait_until(Duration::from_secs(30), || replicas(&b, &t)[0] == order && no_reassignments(&b)));
        let _ = std::fs::remove_file(&file);
    };
    let elected = format!("Successfully completed leader election (PREFERRED) for partitions {t}-0");
    // Kafka's tool elects; kwire sees the leader it made.
    let first = [r[1], r[0], r[2]];
    reorder(&first);
    assert_eq!(leader(&b, &t, 0), r[0]);
    let java = java_tool(
        "LeaderElectionCommand",
        &["--bootstrap-server", &b, "--election-type", "PREFERRED", "--topic", &t, "--partition", "0"],
        b"",
    );
    assert_eq!(java.trim(), elected);
    assert!(wait_until(Duration::from_secs(10), || leader(&b, &t, 0) == first[0]));
    // kwire elects; Kafka's tool sees the leader it made.
    let second = [r[2], r[1], r[0]];
    reorder(&second);
    assert_eq!(leader(&b, &t, 0), first[0]);
    let run =
        kwire(&b, &["elect-leaders", "--election-type", "preferred", "--topic", &t, "--partition", "0"]).ok();
    assert_eq!(run.stdout.trim(), elected);
    assert!(wait_until(Duration::from_secs(10), || leader(&b, &t, 0) == second[0]));
    let java = java_tool("TopicCommand", &["--bootstrap-server", &b, "--describe", "--topic", &t], b"");
    let part = |s: &str| s.lines().find(|l| l.contains("Partition: 0")).map(str::trim).map(str::to_owned);
    let line = part(&java).unwrap_or_else(|| panic!("no partition line: {java}"));
    assert!(line.contains(&format!("\tLeader: {}\tReplicas: {}\t", second[0], ids(&second))), "{line}");
    // Kafka 4's line ends with the eligible leader replicas (Elr, LastKnownElr,
    // from DescribeTopicPartitions), which kwire's describe (Metadata) leaves out.
    let ours = kwire(&b, &["topics", "describe", &t]).ok().stdout;
    let ours = part(&ours).unwrap_or_else(|| panic!("no partition line: {ours}"));
    assert_eq!(line.strip_suffix("\tElr: \tLastKnownElr:"), Some(ours.as_str()), "{line}");
}

fn ids(l: &[i64]) -> String {
    l.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

fn without_epoch(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| l.starts_with("Feature: "))
        .map(|l| l.split("Epoch:").next().unwrap_or(l).trim_end().to_owned())
        .collect()
}

#[test]
fn features_describe_matches_kafka_features_and_dry_runs_change_nothing() {
    let _g = trio_shared();
    let b = bootstrap3();
    let ours = kwire(&b, &["features", "describe"]).ok().stdout;
    let java = java_tool("FeatureCommand", &["--bootstrap-server", &b, "describe"], b"");
    assert_eq!(without_epoch(&ours), without_epoch(&java));
    assert!(ours.contains("Feature: metadata.version "), "{ours}");
    let doc = kwire(&b, &["features", "describe", "--format", "json"]).ok().json();
    let gv = doc["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["feature"] == "group.version")
        .cloned()
        .expect("group.version");
    let level = gv["finalized"].as_i64().expect("level");
    // Dry runs: validated by the controller, nothing applied.
    let run = kwire(&b, &["features", "downgrade", "--feature", "group.version=0", "--dry-run"]).ok();
    assert_eq!(run.stdout.trim(), "group.version can be downgraded to 0.");
    let run = kwire(&b, &["features", "upgrade", "--metadata", "4.4", "--dry-run"]).ok();
    assert!(run.stdout.contains("metadata.version can be upgraded to"), "{}", run.stdout);
    let run = kwire(&b, &["features", "upgrade", "--feature", "group.version=99", "--dry-run"]);
    assert!(run.stdout.starts_with("Can not upgrade group.version to 99."), "{run:?}");
    assert!(run.one_line_error().contains("1 out of 1 operation(s) failed"));
    let after = kwire(&b, &["features", "describe", "--format", "json"]).ok().json();
    let gv2 = after["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["feature"] == "group.version")
        .cloned()
        .expect("group.version");
    assert_eq!(gv2["finalized"].as_i64(), Some(level));
    assert_eq!(without_epoch(&kwire(&b, &["features", "describe"]).ok().stdout), without_epoch(&ours));
    // Bad flags: one line, nothing sent.
    assert!(
        kwire(&b, &["features", "upgrade", "--feature", "group.version"])
            .one_line_error()
            .contains("equals sign")
    );
    assert!(kwire(&b, &["features", "upgrade"]).one_line_error().contains("at least one feature"));
    assert!(
        kwire(&b, &["features", "upgrade", "--metadata", "9.9"])
            .one_line_error()
            .contains("unknown metadata.version 9.9")
    );
}

/// `feature`'s (supported min, supported max, finalized) levels as the broker
/// at `b` describes them, or None if kwire fails or the feature is not listed.
fn feature_levels(b: &str, feature: &str) -> Option<(i64, i64, i64)> {
    let run = kwire(b, &["features", "describe", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).ok()?;
    let f = doc["features"].as_array()?.iter().find(|f| f["feature"] == feature)?;
    Some((f["supported_min"].as_i64()?, f["supported_max"].as_i64()?, f["finalized"].as_i64()?))
}

/// Puts a feature back to its finalized level when dropped (the test passed
/// or failed midway): upgrade or downgrade, whichever gets there.
struct RestoreFeature {
    bootstrap: String,
    feature: String,
    level: i64,
}

impl Drop for RestoreFeature {
    fn drop(&mut self) {
        let now = feature_levels(&self.bootstrap, &self.feature).map(|l| l.2);
        if now == Some(self.level) {
            return;
        }
        let spec = format!("{}={}", self.feature, self.level);
        let op = if now.is_some_and(|n| n > self.level) { "downgrade" } else { "upgrade" };
        let run = kwire(&self.bootstrap, &["features", op, "--feature", &spec]);
        if run.code != Some(0) {
            eprintln!("warning: could not restore {spec} (now {now:?}): {run:#?}");
        }
    }
}

/// A real level change, read back with kwire on every broker and with
/// kafka-features.sh describe (FeatureCommand), then undone the same way.
/// streams.version: KIP-1071 streams groups, which nothing in kwire (or its
/// tests) uses; the controller allows its safe downgrade and the upgrade back
/// (and metadata.version is never touched). A guard restores the level if the
/// test fails midway.
#[test]
fn features_downgrade_and_upgrade_apply_and_kafka_features_sees_them() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let feature = "streams.version";
    let (min, max, from) = feature_levels(&b, feature).unwrap_or_else(|| panic!("no {feature}"));
    let _restore = RestoreFeature { bootstrap: b.clone(), feature: feature.to_owned(), level: from };
    let to = if from > min { from - 1 } else { from + 1 };
    assert!((min..=max).contains(&to), "{feature}: {min}..={max}, finalized {from}");
    let (there, back) = if to < from { ("downgrade", "upgrade") } else { ("upgrade", "downgrade") };
    // Every broker learns the level from the metadata log: wait for all three,
    // then Kafka's tool (whichever broker it asks) describes what kwire does.
    let everywhere = |level: i64| {
        wait_until(Duration::from_secs(30), || {
            b.split(',').all(|one| feature_levels(one, feature).map(|l| l.2) == Some(level))
        })
    };
    let java_agrees = |level: i64| {
        let java = java_tool("FeatureCommand", &["--bootstrap-server", &b, "describe"], b"");
        let ours = kwire(&b, &["features", "describe"]).ok().stdout;
        assert_eq!(without_epoch(&ours), without_epoch(&java));
        let line = java.lines().find(|l| l.starts_with(&format!("Feature: {feature} "))).unwrap_or_default();
        assert!(line.contains(&format!("FinalizedVersionLevel: {level:<15}")), "{java}");
    };
    let spec = format!("{feature}={to}");
    let doc = kwire(&b, &["features", there, "--feature", &spec, "--format", "json"]).ok().json();
    assert_eq!(
        doc,
        serde_json::json!({"operation": there, "dry_run": false,
            "results": [{"feature": feature, "level": to, "ok": true}]})
    );
    assert!(everywhere(to), "{feature} is not {to} on every broker");
    java_agrees(to);
    let spec = format!("{feature}={from}");
    let run = kwire(&b, &["features", back, "--feature", &spec]).ok();
    assert_eq!(run.stdout.trim(), format!("{feature} was {back}d to {from}."));
    assert!(everywhere(from), "{feature} is not back to {from} on every broker");
    java_agrees(from);
}

#[test]
fn quorum_describe_matches_kafka_metadata_quorum() {
    let _g = trio_shared();
    let b = bootstrap3();
    let ours = kwire(&b, &["quorum", "describe", "--status"]).ok().stdout;
    let java = java_tool("MetadataQuorumCommand", &["--bootstrap-server", &b, "describe", "--status"], b"");
    let field = |s: &str, k: &str| s.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_owned());
    assert_eq!(field(&ours, "LeaderId:"), field(&java, "LeaderId:"));
    assert!(field(&ours, "LeaderId:").is_some(), "{ours}");
    assert_eq!(field(&ours, "ClusterId:"), field(&java, "ClusterId:"));
    assert_eq!(field(&ours, "CurrentVoters:"), field(&java, "CurrentVoters:"));
    assert_eq!(field(&ours, "CurrentObservers:"), field(&java, "CurrentObservers:"));
    let doc = kwire(&b, &["quorum", "describe", "--status", "--format", "json"]).ok().json();
    let mut voters: Vec<i64> =
        doc["voters"].as_array().expect("voters").iter().map(|v| v.as_i64().expect("id")).collect();
    voters.sort();
    assert_eq!(voters, [1, 2, 3]);
    let rep = kwire(&b, &["quorum", "describe", "--replication"]).ok().stdout;
    let lines: Vec<&str> = rep.lines().collect();
    assert!(lines[0].starts_with("NodeId\tDirectoryId"), "{rep}");
    assert_eq!(lines.len(), 4, "{rep}");
    assert!(
        lines[1].ends_with("Leader  \t") && lines[1].starts_with(&field(&ours, "LeaderId:").expect("leader")),
        "{rep}"
    );
    assert!(kwire(&b, &["quorum", "describe"]).one_line_error().contains("--status"));
}

#[test]
fn bad_input_is_one_line_and_changes_nothing() {
    let _g = trio_shared();
    let b = bootstrap3();
    let t = unique_topic("reassign-bad");
    kwire(&b, &["topics", "create", &t, "--partitions", "1", "--replication-factor", "1"]).ok();
    let _delete = DeleteTopicOnDrop::new(&b, &t);
    let before = replicas(&b, &t);
    let other = before[0][0] % 3 + 1;
    let bad = write_json("bad", "{\"version\":1,\"partitions\":[{\"topic\":");
    let line = kwire(&b, &["reassign", "--execute", "--reassignment-json-file", bad.to_str().expect("p")])
        .one_line_error();
    assert!(line.contains("not valid JSON"), "{line}");
    let unknown = write_json("unknown", &target_json(&unique_topic("nope"), &[vec![1]]));
    let line =
        kwire(&b, &["reassign", "--execute", "--reassignment-json-file", unknown.to_str().expect("p")])
            .one_line_error();
    assert!(line.contains("not found"), "{line}");
    let no_broker = write_json("nobroker", &target_json(&t, &[vec![other, 42]]));
    let line = kwire(
        &b,
        &[
            "reassign",
            "--execute",
            "--reassignment-json-file",
            no_broker.to_str().expect("p"),
            "--throttle",
            "1000",
        ],
    )
    .one_line_error();
    assert!(line.contains("unknown broker id 42"), "{line}");
    let line = kwire(&b, &["reassign", "--execute"]).one_line_error();
    assert!(line.contains("--reassignment-json-file"), "{line}");
    let line = kwire(
        &b,
        &[
            "reassign",
            "--generate",
            "--topics-to-move-json-file",
            bad.to_str().expect("p"),
            "--broker-list",
            "1,2",
        ],
    )
    .one_line_error();
    assert!(line.contains("not valid JSON"), "{line}");
    let ttm = write_json("ttm", &format!("{{\"version\":1,\"topics\":[{{\"topic\":\"{t}\"}}]}}"));
    let line = kwire(
        &b,
        &[
            "reassign",
            "--generate",
            "--topics-to-move-json-file",
            ttm.to_str().expect("p"),
            "--broker-list",
            "1,9",
        ],
    )
    .one_line_error();
    assert!(line.contains("no broker 9"), "{line}");
    let line = kwire(&b, &["reassign", "--verify", "--execute"]).one_line_error();
    assert!(line.contains("only one action"), "{line}");
    let line = kwire(
        &b,
        &["reassign", "--verify", "--reassignment-json-file", bad.to_str().expect("p"), "--throttle", "5"],
    )
    .one_line_error();
    assert!(line.contains("--throttle can't be used with verify"), "{line}");
    // Nothing was applied: same replicas, no throttle on the topic.
    assert_eq!(replicas(&b, &t), before);
    assert!(
        dynamic_configs(
            ResourceType::Topic,
            &t,
            &["leader.replication.throttled.replicas", "follower.replication.throttled.replicas"]
        )
        .is_empty()
    );
    // generate proposes without changing anything.
    let run = kwire(
        &b,
        &[
            "reassign",
            "--generate",
            "--topics-to-move-json-file",
            ttm.to_str().expect("p"),
            "--broker-list",
            "1,2,3",
        ],
    )
    .ok();
    assert!(
        run.stdout
            .starts_with("Current partition replica assignment\n{\"version\":1,\"partitions\":[{\"topic\":"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\n\nProposed partition reassignment configuration\n{\"version\":1"),
        "{}",
        run.stdout
    );
    assert_eq!(replicas(&b, &t), before);
    for f in [bad, unknown, no_broker, ttm] {
        let _ = std::fs::remove_file(f);
    }
}

/// In-sync replicas of partition `p`, from metadata.
fn isr(b: &str, t: &str, p: usize) -> Vec<i64> {
    let doc = kwire(b, &["topics", "describe", t, "--format", "json"]).ok().json();
    let parts = doc[0]["partitions"].as_array().or_else(|| doc["topics"][0]["partitions"].as_array());
    parts.expect("partitions")[p]["isr"]
        .as_array()
        .expect("isr")
        .iter()
        .map(|r| r.as_i64().expect("id"))
        .collect()
}

/// An unclean election for real: a partition whose last in-sync replica
/// died has no leader; its out-of-sync replica is back, and
/// `elect-leaders --election-type unclean` makes it the leader, with
/// `kafka-leader-election.sh`'s line. What it missed while it was down is
/// gone, which is what "unclean" means.
#[test]
fn unclean_election_brings_back_a_partition_whose_in_sync_replicas_are_down() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let t = unique_topic("unclean");
    kwire(
        &b,
        &[
            "topics",
            "create",
            &t,
            "--partitions",
            "1",
            "--replication-factor",
            "2",
            "--config",
            "min.insync.replicas=1",
        ],
    )
    .ok();
    let r = replicas(&b, &t)[0].clone();
    let (first, second) = (r[0], r[1]);
    assert!(wait_until(Duration::from_secs(30), || leader(&b, &t, 0) == first && isr(&b, &t, 0).len() == 2));
    let kept: Vec<String> = (0..5).map(|i| format!("kept-{i}")).collect();
    kwire_stdin(
        &b,
        &["produce", "-t", &t, "--acks", "all"],
        Some(format!("{}\n", kept.join("\n")).as_bytes()),
    )
    .ok();
    let follower = KilledNode::kill(second);
    assert!(
        wait_until(Duration::from_secs(60), || isr(&b, &t, 0) == vec![first]),
        "the ISR never shrank to the leader: {:?}",
        isr(&b, &t, 0)
    );
    kwire_stdin(&b, &["produce", "-t", &t, "--acks", "all"], Some(b"missed-0\nmissed-1\n")).ok();
    let old_leader = KilledNode::kill(first);
    follower.restart();
    assert!(
        wait_until(Duration::from_secs(60), || leader(&b, &t, 0) < 0),
        "the partition kept a leader with its in-sync replica down: {}",
        leader(&b, &t, 0)
    );
    // A preferred election can't help a partition without an in-sync replica.
    let run =
        kwire(&b, &["elect-leaders", "--election-type", "preferred", "--topic", &t, "--partition", "0"]);
    assert_ne!(run.code, Some(0), "{run:?}");
    let run =
        kwire(&b, &["elect-leaders", "--election-type", "unclean", "--topic", &t, "--partition", "0"]).ok();
    assert_eq!(
        run.stdout.trim(),
        format!("Successfully completed leader election (UNCLEAN) for partitions {t}-0")
    );
    assert!(
        wait_until(Duration::from_secs(30), || leader(&b, &t, 0) == second),
        "leader {}",
        leader(&b, &t, 0)
    );
    let read: Vec<String> =
        consume_all(&b, &t, &[]).iter().map(|r| r["value"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(read, kept, "the new leader's log");
    old_leader.restart();
}
