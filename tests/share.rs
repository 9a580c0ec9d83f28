//! Share groups (KIP-932) against the real broker: kwire's ShareConsumer
//! and `kwire share consume`. Several members share the partitions, every
//! record is delivered, released records come back with a higher delivery
//! count, rejected ones never do, and the delivery count limit stops a
//! record that keeps being released.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kwire_group::share::{AckType, ShareConfig, ShareConsumer, ShareRecord};
use kwire_integration::*;
use kwire_meta::{Cluster, ClusterConfig, ConfigOp, ResourceType};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

fn cluster(b: &str) -> Cluster {
    Cluster::new(ClusterConfig::builder().bootstrap(b.split(',')).build())
}

/// A topic with `n` records `v0..`, and a share group that starts at the
/// earliest offset (share groups start at the latest by default).
fn setup(b: &str, prefix: &str, partitions: &str, n: usize) -> (String, String, Vec<String>) {
    let topic = unique_topic(prefix);
    kwire(b, &["topics", "create", &topic, "--partitions", partitions]).ok();
    let values: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    if n > 0 {
        let mut text = values.join("\n");
        text.push('\n');
        kwire_stdin(b, &["produce", "-t", &topic, "--acks", "all"], Some(text.as_bytes())).ok();
    }
    let group = unique_topic(&format!("{prefix}-group"));
    rt().block_on(async {
        cluster(b)
            .alter_configs(
                ResourceType::Group,
                &group,
                &[ConfigOp::Set("share.auto.offset.reset".into(), "earliest".into())],
                false,
            )
            .await
            .expect("set share.auto.offset.reset on the group");
    });
    (topic, group, values)
}

fn value(r: &ShareRecord) -> String {
    r.record.value_str().unwrap_or_default().to_owned()
}

/// Three members in one group on a 3-partition topic, polling at the same
/// time (the records are written once all three have partitions, and each
/// member takes 50 ms per batch it processes): every record is delivered to
/// exactly one of them, once, and each of them gets some.
#[test]
fn three_members_share_the_records_each_delivered_once() {
    let b = bootstrap();
    let (topic, group, mut values) = setup(&b, "share-three", "3", 0);
    let got = rt().block_on(async {
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (b, topic, group, ready) = (b.clone(), topic.clone(), group.clone(), ready_tx.clone());
            tasks.push(tokio::spawn(async move {
                let mut cfg = ShareConfig::new(group);
                cfg.max_poll_records = 100;
                let mut c = ShareConsumer::subscribe(cluster(&b), cfg, vec![topic]).await.unwrap();
                let mut seen = Vec::new();
                let mut idle = 0;
                let mut told = false;
                while idle < 10 {
                    let recs = c.poll(Duration::from_millis(500)).await.unwrap();
                    if !told && !c.assignment().is_empty() {
                        told = true;
                        let _ = ready.send(());
                    }
                    if recs.is_empty() && told {
                        idle += 1;
                    } else if !recs.is_empty() {
                        idle = 0;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    seen.extend(recs.iter().map(|r| (value(r), r.delivery_count)));
                }
                let failures = c.close().await.unwrap();
                assert!(failures.is_empty(), "{failures:?}");
                seen
            }));
        }
        for _ in 0..3 {
            tokio::time::timeout(Duration::from_secs(60), ready_rx.recv())
                .await
                .expect("every member got partitions");
        }
        let b2 = b.clone();
        let topic2 = topic.clone();
        values = tokio::task::spawn_blocking(move || {
            // Spread over the partitions (unkeyed records would all stick to one).
            let values: Vec<String> = (0..3000).map(|i| format!("v{i}")).collect();
            let text: String =
                (0..3000).map(|i| format!("{{\"value\":\"v{i}\",\"partition\":{}}}\n", i % 3)).collect();
            kwire_stdin(
                &b2,
                &["produce", "-t", &topic2, "--format", "json", "--acks", "all"],
                Some(text.as_bytes()),
            )
            .ok();
            values
        })
        .await
        .unwrap();
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.unwrap());
        }
        all
    });
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (v, dc) in got.iter().flatten() {
        assert_eq!(*dc, 1, "{v} delivered with count {dc}");
        *count.entry(v.as_str()).or_default() += 1;
    }
    let dup: Vec<_> = count.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dup.is_empty(), "delivered more than once: {dup:?}");
    let want: BTreeSet<&str> = values.iter().map(String::as_str).collect();
    let have: BTreeSet<&str> = count.keys().copied().collect();
    let missing: Vec<&&str> = want.difference(&have).take(5).collect();
    assert!(missing.is_empty(), "{} of {} delivered; missing e.g. {missing:?}", have.len(), want.len());
    let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
    eprintln!("records per member: {sizes:?}");
    assert!(sizes.iter().all(|n| *n > 0), "every member got work: {sizes:?}");
}

/// Released records come back (delivery count 2), rejected ones never, and
/// a record released every time stops at the delivery count limit (5).
#[test]
fn release_redelivers_reject_archives_and_the_delivery_limit_holds() {
    let b = bootstrap();
    let (topic, group, _) = setup(&b, "share-acks", "1", 30);
    rt().block_on(async {
        let mut c =
            ShareConsumer::subscribe(cluster(&b), ShareConfig::new(group), vec![topic]).await.unwrap();
        let mut deliveries: BTreeMap<String, Vec<i16>> = BTreeMap::new();
        let mut idle = 0;
        while idle < 8 {
            let recs = c.poll(Duration::from_millis(500)).await.unwrap();
            if recs.is_empty() && !c.assignment().is_empty() {
                idle += 1;
            } else if !recs.is_empty() {
                idle = 0;
            }
            for r in &recs {
                let v = value(r);
                deliveries.entry(v.clone()).or_default().push(r.delivery_count);
                let n: usize = v[1..].parse().unwrap();
                // v0..v9: released once then accepted; v10..v19: rejected;
                // v20: released every time; the rest accepted.
                let t = match n {
                    0..=9 if r.delivery_count == 1 => AckType::Release,
                    10..=19 => AckType::Reject,
                    20 => AckType::Release,
                    _ => AckType::Accept,
                };
                c.acknowledge(r, t);
            }
        }
        let failures = c.close().await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        for n in 0..30 {
            let v = format!("v{n}");
            let d = deliveries.get(&v).cloned().unwrap_or_default();
            let want: Vec<i16> = match n {
                0..=9 => vec![1, 2],
                20 => vec![1, 2, 3, 4, 5],
                _ => vec![1],
            };
            assert_eq!(d, want, "{v}: delivery counts");
        }
    });
}

/// An acquisition lock that expires: member A takes five records and then
/// neither acknowledges nor polls; once the group's lock duration (15 s,
/// the broker's minimum) has passed, the broker hands them to member B with
/// delivery count 2, and A's late acceptance comes back as refused
/// (INVALID_RECORD_STATE) from `commit`, not as an error of A's consumer.
#[test]
fn an_expired_acquisition_lock_hands_the_records_to_another_member() {
    let b = bootstrap();
    let (topic, group, values) = setup(&b, "share-lock", "1", 5);
    rt().block_on(async {
        cluster(&b)
            .alter_configs(
                ResourceType::Group,
                &group,
                &[ConfigOp::Set("share.record.lock.duration.ms".into(), "15000".into())],
                false,
            )
            .await
            .expect("set share.record.lock.duration.ms on the group");
        let subscribe =
            || ShareConsumer::subscribe(cluster(&b), ShareConfig::new(group.clone()), vec![topic.clone()]);
        let mut a = subscribe().await.unwrap();
        // One poll with records, and no other: a later poll would accept them.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let first = loop {
            let recs = a.poll(Duration::from_millis(500)).await.unwrap();
            if !recs.is_empty() || std::time::Instant::now() > deadline {
                break recs;
            }
        };
        let taken = std::time::Instant::now();
        assert_eq!(first.iter().map(value).collect::<Vec<_>>(), values, "A's first poll");
        assert!(first.iter().all(|r| r.delivery_count == 1));
        let mut bm = subscribe().await.unwrap();
        let mut second = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        while second.len() < values.len() && std::time::Instant::now() < deadline {
            second.extend(bm.poll(Duration::from_millis(500)).await.unwrap());
        }
        assert_eq!(second.iter().map(value).collect::<Vec<_>>(), values, "B never got A's locked records");
        assert!(
            second.iter().all(|r| r.delivery_count == 2),
            "{:?}",
            second.iter().map(|r| r.delivery_count).collect::<Vec<_>>()
        );
        assert!(
            taken.elapsed() >= Duration::from_secs(10),
            "B got them {:?} after A took them, inside A's lock",
            taken.elapsed()
        );
        for r in &first {
            a.acknowledge(r, AckType::Accept);
        }
        let refused = a.commit().await.expect("A's commit is refused per record, not as an error");
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].code, kwire_proto::ErrorCode::INVALID_RECORD_STATE, "{refused:?}");
        for r in &second {
            bm.acknowledge(r, AckType::Accept);
        }
        assert!(bm.close().await.unwrap().is_empty());
        let _ = a.close().await;
    });
}

/// `kwire share consume`: two processes in one group print every record
/// once between them; a bad flag is one line and exit 1.
#[test]
fn kwire_share_consume_processes_split_the_records() {
    let b = bootstrap();
    let (topic, group, values) = setup(&b, "share-cli", "2", 400);
    let args = ["share", "consume", "-t", topic.as_str(), "--group", group.as_str(), "--timeout-ms", "8000"];
    let one = Background::kwire("share-1", &b, &args);
    let two = Background::kwire("share-2", &b, &args);
    let r1 = one.finish(Duration::from_secs(120));
    let r2 = two.finish(Duration::from_secs(120));
    assert_eq!((r1.code, r2.code), (Some(0), Some(0)), "{}\n{}", r1.stderr, r2.stderr);
    let mut got: Vec<String> = r1.stdout.lines().chain(r2.stdout.lines()).map(str::to_owned).collect();
    got.sort();
    let mut want = values.clone();
    want.sort();
    assert!(got == want, "{} lines printed for {} records (first: {:?})", got.len(), want.len(), got.first());
    let total = |s: &str| s.lines().find_map(|l| l.strip_prefix("Processed a total of ")).map(str::to_owned);
    assert!(total(&r1.stderr).is_some() && total(&r2.stderr).is_some());
    let bad = kwire(&b, &["share", "consume", "-t", &topic, "--print", "colour"]);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("unknown --print field 'colour'"), "{}", bad.stderr);
    assert_eq!(bad.stderr.trim().lines().count(), 1, "{}", bad.stderr);
    let missing = kwire(&b, &["share", "consume", "-t", "no-such-topic-here", "--group", "g"]);
    assert_eq!(missing.code, Some(1));
    assert!(missing.stderr.contains("topic 'no-such-topic-here' does not exist"), "{}", missing.stderr);
}
