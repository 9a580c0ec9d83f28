//! Share groups across clients: Kafka's Java share consumer
//! (kafka-console-share-consumer.sh) and two `kwire share consume`
//! processes in one share group on one topic. Part of the interop run
//! (`scripts/interop.sh`), which has Kafka's Java tools.

use std::collections::BTreeMap;
use std::time::Duration;

use kwire_integration::*;
use kwire_meta::{Cluster, ClusterConfig, ConfigOp, ResourceType};

#[test]
#[ignore = "run by scripts/interop.sh (Kafka's Java tools)"]
fn kwire_and_java_share_consumers_split_one_group() {
    let b = bootstrap();
    let topic = unique_topic("share-java");
    kwire(&b, &["topics", "create", &topic, "--partitions", "3"]).ok();
    let group = unique_topic("share-java-group");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        Cluster::new(ClusterConfig::builder().bootstrap(b.split(',')).build())
            .alter_configs(
                ResourceType::Group,
                &group,
                &[ConfigOp::Set("share.auto.offset.reset".into(), "earliest".into())],
                false,
            )
            .await
            .expect("group config");
    });
    let java = {
        let (b, topic, group) = (b.clone(), topic.clone(), group.clone());
        std::thread::spawn(move || {
            java_tool(
                "ConsoleShareConsumer",
                &["--bootstrap-server", &b, "--topic", &topic, "--group", &group, "--timeout-ms", "15000"],
                b"",
            )
        })
    };
    // The JVM starts and joins first; then two kwire members; then the records.
    std::thread::sleep(Duration::from_secs(5));
    let args = ["share", "consume", "-t", topic.as_str(), "--group", group.as_str(), "--timeout-ms", "10000"];
    let k1 = Background::kwire("share-java-k1", &b, &args);
    let k2 = Background::kwire("share-java-k2", &b, &args);
    std::thread::sleep(Duration::from_secs(2));
    // Spread over the partitions (unkeyed records would all stick to one).
    let values: Vec<String> = (0..3000).map(|i| format!("r{i}")).collect();
    let text: String =
        (0..3000).map(|i| format!("{{\"value\":\"r{i}\",\"partition\":{}}}\n", i % 3)).collect();
    kwire_stdin(&b, &["produce", "-t", &topic, "--format", "json", "--acks", "all"], Some(text.as_bytes()))
        .ok();
    let r1 = k1.finish(Duration::from_secs(120));
    let r2 = k2.finish(Duration::from_secs(120));
    let java_out = java.join().expect("the Java share consumer ran");
    assert_eq!((r1.code, r2.code), (Some(0), Some(0)), "{}\n{}", r1.stderr, r2.stderr);
    let mut count: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (who, out) in
        [("kwire-1", r1.stdout.as_str()), ("kwire-2", r2.stdout.as_str()), ("java", java_out.as_str())]
    {
        for l in out.lines().filter(|l| l.starts_with('r')) {
            count.entry(l.to_owned()).or_default().push(who);
        }
    }
    let dup: Vec<_> = count.iter().filter(|(_, w)| w.len() > 1).take(5).collect();
    assert!(dup.is_empty(), "delivered more than once: {dup:?}");
    let missing: Vec<_> = values.iter().filter(|v| !count.contains_key(*v)).take(5).collect();
    assert!(missing.is_empty(), "never delivered: {missing:?} ({} of 3000 seen)", count.len());
    let by = |who: &str| count.values().filter(|w| w[0] == who).count();
    eprintln!("share group split: java {}, kwire-1 {}, kwire-2 {}", by("java"), by("kwire-1"), by("kwire-2"));
    assert!(by("java") > 0 && by("kwire-1") + by("kwire-2") > 0, "both clients took part");
}
