//! Share groups across clients: Kafka's Java share consumer
//! (kafka-console-share-consumer.sh) and `kwire share consume` processes in
//! one share group on one topic: records split between them, and records
//! released, rejected and released until the delivery count limit. Part of
//! the interop run (`scripts/interop.sh`), which has Kafka's Java tools.

use std::collections::{BTreeMap, BTreeSet};
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

/// The delivery count limit of the next test's group (`share.delivery.count.limit`;
/// the broker's default, `group.share.delivery.count.limit`, is 5).
const LIMIT: i64 = 3;

/// One record as a member printed it: partition, offset, delivery count, value.
type Delivery = (i32, i64, i64, String);

/// Who printed what, in phase order: (partition, offset) -> [(member, count, value)].
type Seen = BTreeMap<(i32, i64), Vec<(String, i64, String)>>;

fn note(seen: &mut Seen, who: &str, ds: &[Delivery]) {
    for (p, o, n, v) in ds {
        seen.entry((*p, *o)).or_default().push((who.to_owned(), *n, v.clone()));
    }
}

/// `kwire share consume --format json` output.
fn kwire_deliveries(out: &str) -> Vec<Delivery> {
    out.lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"));
            let n = |k: &str| v[k].as_i64().unwrap_or_else(|| panic!("no {k} in {l}"));
            (
                n("partition") as i32,
                n("offset"),
                n("delivery_count"),
                v["value"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Kafka's console share consumer in `group` on `topic`, accepting, printing
/// partition, offset and delivery count; it exits after `timeout_ms` without a record.
fn java_member(name: &str, b: &str, topic: &str, group: &str, timeout_ms: &str) -> Background {
    let args = [
        "--bootstrap-server",
        b,
        "--topic",
        topic,
        "--group",
        group,
        "--timeout-ms",
        timeout_ms,
        "--formatter-property",
        "print.partition=true",
        "--formatter-property",
        "print.offset=true",
        "--formatter-property",
        "print.delivery=true",
    ];
    Background::java_tool(name, "ConsoleShareConsumer", &args)
}

/// [`java_member`]'s output lines: `Partition:P\tOffset:O\tDelivery:N\tVALUE`.
fn java_deliveries<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<Delivery> {
    lines
        .into_iter()
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            let field = |i: usize, name: &str| -> i64 {
                f.get(i)
                    .and_then(|s| s.strip_prefix(name))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected console share consumer line {l:?}"))
            };
            (field(0, "Partition:") as i32, field(1, "Offset:"), field(2, "Delivery:"), f[3].to_owned())
        })
        .collect()
}

/// Writes `n` records `{prefix}{i}`, record i to partition `partitions[i % len]`.
fn produce_to(b: &str, topic: &str, prefix: &str, n: usize, partitions: &[i32]) {
    let text: String = (0..n)
        .map(|i| {
            format!("{{\"value\":\"{prefix}{i}\",\"partition\":{}}}\n", partitions[i % partitions.len()])
        })
        .collect();
    kwire_stdin(b, &["produce", "-t", topic, "--format", "json", "--acks", "all"], Some(text.as_bytes()))
        .ok();
}

/// The group's members (client id, partitions) once it is stable with `n` members,
/// each told its current assignment (member epoch = assignment epoch), the
/// assignments non-empty, disjoint and covering partitions 0..3.
fn settled_members(b: &str, group: &str, n: usize) -> Option<Vec<(String, BTreeSet<i64>)>> {
    let run = kwire(b, &["share-groups", "--describe", "--group", group, "--members", "--format", "json"]);
    if run.code != Some(0) {
        return None;
    }
    let v = run.json();
    let epoch = v["assignment_epoch"].as_i64()?;
    let members = v["members"].as_array()?;
    if v["state"] != "Stable" || members.len() != n {
        return None;
    }
    let mut out = Vec::new();
    let mut all = BTreeSet::new();
    for m in members {
        let parts: BTreeSet<i64> =
            m["assignment"].as_array()?.iter().filter_map(|a| a["partition"].as_i64()).collect();
        let fresh = parts.iter().all(|p| all.insert(*p));
        if m["member_epoch"].as_i64()? != epoch || parts.is_empty() || !fresh {
            return None;
        }
        out.push((m["client_id"].as_str()?.to_owned(), parts));
    }
    (all == (0..3).collect()).then_some(out)
}

/// One share group on one topic, in phases that each finish before the next
/// starts, so every record's deliveries are known in advance:
/// 1. `e*`: a kwire member releasing everything, alone, until it idles: it sees
///    each record exactly `LIMIT` times (counts 1..=LIMIT), then they are archived;
/// 2. `j*`: a kwire member with `--reject --max-messages`, alone: each once;
/// 3. `l*`: a kwire member with `--release --max-messages`, alone: each once;
/// 4. Kafka's Java console share consumer joins (accepting) and gets the `l*`
///    records again with delivery count 2; two accepting kwire members join, and
///    once the three hold one partition each, `d*` records are written to every
///    partition: each is delivered once, count 1, and each member gets some;
/// 5. `z*` records, and the Java consumer alone: exactly those, count 1, so
///    nothing of phases 1-4 was left to deliver again (rejected, archived or
///    accepted).
///
/// Every record of the topic, by partition and offset, must have exactly its
/// phase's deliveries (member and count, in order): never a rejected or
/// archived record again, never a count above the limit.
#[test]
#[ignore = "run by scripts/interop.sh (Kafka's Java tools)"]
fn kwire_and_java_share_members_release_reject_and_hold_the_delivery_limit() {
    let b = bootstrap();
    let topic = unique_topic("share-acks-java");
    kwire(&b, &["topics", "create", &topic, "--partitions", "3"]).ok();
    let _drop = DeleteTopicOnDrop::new(&b, &topic);
    let group = unique_topic("share-acks-java-group");
    let group_config = format!("share.auto.offset.reset=earliest,share.delivery.count.limit={LIMIT}");
    let alter = ["configs", "--alter", "--entity-type", "groups", "--entity-name", &group];
    kwire(&b, &[&alter[..], &["--add-config", &group_config]].concat()).ok();

    let mut seen = Seen::new();
    let alone = |who: &str, extra: &[&str]| -> Vec<Delivery> {
        let args =
            [&["share", "consume", "-t", &topic, "--group", &group, "--format", "json"][..], extra].concat();
        let run = Background::kwire(who, &b, &args).finish(Duration::from_secs(180));
        assert_eq!(run.code, Some(0), "{who}: {}", run.stderr);
        kwire_deliveries(&run.stdout)
    };
    let k = 6;
    let k_arg = k.to_string();

    // 1. Released every time, until the limit archives them.
    produce_to(&b, &topic, "e", k, &[0, 1, 2]);
    note(&mut seen, "kwire-exhaust", &alone("kwire-exhaust", &["--release", "--timeout-ms", "5000"]));
    // 2. Rejected.
    produce_to(&b, &topic, "j", k, &[0, 1, 2]);
    note(
        &mut seen,
        "kwire-reject",
        &alone("kwire-reject", &["--reject", "--max-messages", &k_arg, "--timeout-ms", "30000"]),
    );
    // 3. Released once. One partition, one batch: a single fetch takes all k, so none
    //    comes back to this member before it has printed k.
    produce_to(&b, &topic, "l", k, &[1]);
    note(
        &mut seen,
        "kwire-release",
        &alone("kwire-release", &["--release", "--max-messages", &k_arg, "--timeout-ms", "30000"]),
    );

    // 4. The Java member joins and gets the released records; two accepting kwire
    //    members join; once each of the three holds one partition, the rest is written.
    let java = java_member("share-acks-java", &b, &topic, &group, "30000");
    let released: BTreeSet<(i32, i64)> =
        seen.iter().filter(|(_, d)| d[0].2.starts_with('l')).map(|(po, _)| *po).collect();
    assert_eq!(released.len(), k, "records the releasing member printed: {seen:?}");
    let java_has_released = wait_until(Duration::from_secs(120), || {
        let got: BTreeSet<(i32, i64)> =
            java_deliveries(java.lines().iter().map(String::as_str)).iter().map(|d| (d.0, d.1)).collect();
        released.is_subset(&got)
    });
    assert!(
        java_has_released,
        "the Java member never printed the released records:\n{}\n{}",
        java.stdout(),
        java.stderr()
    );
    let accept =
        ["share", "consume", "-t", &topic, "--group", &group, "--format", "json", "--timeout-ms", "30000"];
    let k1 = Background::kwire("kwire-accept-1", &b, &accept);
    let k2 = Background::kwire("kwire-accept-2", &b, &accept);
    let mut members = None;
    let settled = wait_until(Duration::from_secs(90), || {
        members = settled_members(&b, &group, 3);
        members.is_some()
    });
    assert!(settled, "the three members never held one partition each");
    // Longer than a fetch's wait (500 ms): no fetch under an older assignment is still open.
    std::thread::sleep(Duration::from_secs(1));
    let d = 300;
    produce_to(&b, &topic, "d", d, &[0, 1, 2]);
    let (r1, r2, rj) = (
        k1.finish(Duration::from_secs(180)),
        k2.finish(Duration::from_secs(180)),
        java.finish(Duration::from_secs(180)),
    );
    assert_eq!(
        (r1.code, r2.code, rj.code),
        (Some(0), Some(0), Some(0)),
        "{}\n{}\n{}",
        r1.stderr,
        r2.stderr,
        rj.stderr
    );
    let (d1, d2) = (kwire_deliveries(&r1.stdout), kwire_deliveries(&r2.stdout));
    let dj = java_deliveries(rj.stdout.lines());
    for (who, ds) in [("kwire-accept-1", &d1), ("kwire-accept-2", &d2), ("java", &dj)] {
        assert!(ds.iter().any(|d| d.3.starts_with('d')), "{who} got no d* record, members {members:?}");
        note(&mut seen, who, ds);
    }

    // 5. The Java member alone: only what is new.
    produce_to(&b, &topic, "z", k, &[0, 1, 2]);
    let last =
        java_member("share-acks-java-last", &b, &topic, &group, "10000").finish(Duration::from_secs(180));
    assert_eq!(last.code, Some(0), "{}", last.stderr);
    note(&mut seen, "java-last", &java_deliveries(last.stdout.lines()));

    // Every record of the log, and nothing else, with exactly its phase's deliveries.
    let log = read_log(&b, &topic);
    assert_eq!(log.len(), 4 * k + d, "records written");
    let mut wrong = Vec::new();
    for r in &log {
        let got = seen.remove(&(r.partition, r.offset)).unwrap_or_default();
        let who_counts: Vec<(&str, i64)> = got.iter().map(|(w, n, _)| (w.as_str(), *n)).collect();
        let ok = match r.value.as_bytes()[0] {
            b'e' => who_counts == (1..=LIMIT).map(|n| ("kwire-exhaust", n)).collect::<Vec<_>>(),
            b'j' => who_counts == [("kwire-reject", 1)],
            b'l' => who_counts == [("kwire-release", 1), ("java", 2)],
            b'd' => matches!(who_counts[..], [("kwire-accept-1" | "kwire-accept-2" | "java", 1)]),
            _ => who_counts == [("java-last", 1)],
        };
        if !ok || got.iter().any(|(_, _, v)| *v != r.value) {
            wrong.push(format!("{} at {}:{}: {got:?}", r.value, r.partition, r.offset));
        }
    }
    assert!(seen.is_empty(), "printed, not in the log: {seen:?}");
    assert!(
        wrong.is_empty(),
        "{} of {} records delivered otherwise than expected, e.g. {:?}",
        wrong.len(),
        log.len(),
        &wrong[..wrong.len().min(5)]
    );
    let count = |ds: &[Delivery]| ds.iter().filter(|d| d.3.starts_with('d')).count();
    eprintln!(
        "d* records: java {}, kwire-accept-1 {}, kwire-accept-2 {}",
        count(&dj),
        count(&d1),
        count(&d2)
    );
}
