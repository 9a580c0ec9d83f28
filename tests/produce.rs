//! `kwire produce` and the producer library against real brokers and peers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kwire_integration::*;
use kwire_meta::{Cluster, ClusterConfig};
use kwire_produce::{Producer, ProducerConfig, ProducerRecord};
use kwire_proto::props::Properties;
use serde_json::{Value, json};

const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

fn cluster(bootstrap: &str) -> Cluster {
    Cluster::new(ClusterConfig::builder().bootstrap(bootstrap.split(',')).build())
}

fn producer_config(kv: &[(&str, &str)]) -> ProducerConfig {
    let mut props = Properties::new();
    for (k, v) in kv {
        props.set(*k, *v);
    }
    let mut cfg = ProducerConfig::default();
    cfg.apply_props(&props).unwrap();
    cfg
}

#[test]
fn kcat_and_the_java_console_consumer_read_what_kwire_wrote_with_each_codec() {
    let b = bootstrap();
    for codec in CODECS {
        let t = unique_topic(&format!("kw-{codec}"));
        kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
        let recs: Vec<Value> = (0..40)
            .map(|i| {
                json!({"key": format!("key-{i}"), "value": format!("välue {i} {}", "y".repeat(i * 5)),
                       "headers": [["h", "1"], ["h", "2"], ["n", null]]})
            })
            .collect();
        let input: String = recs.iter().map(|r| format!("{r}\n")).collect();
        kwire_stdin(
            &b,
            &["produce", "-t", &t, "--format", "json", "--compression", codec],
            Some(input.as_bytes()),
        )
        .ok();

        // kcat: key|value|headers
        let out = kcat(&["-C", "-b", &b, "-t", &t, "-e", "-q", "-f", "%k|%s|%h\n"], b"");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 40, "{codec}");
        for (i, l) in lines.iter().enumerate() {
            let want = format!("key-{i}|välue {i} {}|h=1,h=2,n=NULL", "y".repeat(i * 5));
            assert_eq!(*l, want, "{codec}");
        }
        // Kafka's own console consumer.
        let out = java_tool(
            "ConsoleConsumer",
            &[
                "--bootstrap-server",
                &b,
                "--topic",
                &t,
                "--from-beginning",
                "--max-messages",
                "40",
                "--formatter-property",
                "print.key=true",
                "--formatter-property",
                "print.headers=true",
                "--formatter-property",
                "key.separator=|",
            ],
            b"",
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 40, "{codec}: {out}");
        for (i, l) in lines.iter().enumerate() {
            let want = format!("h:1,h:2,n:null|key-{i}|välue {i} {}", "y".repeat(i * 5));
            assert_eq!(*l, want, "{codec}");
        }
    }
}

#[test]
fn keyed_records_land_where_the_java_producer_puts_them() {
    let b = bootstrap();
    let java_t = unique_topic("keys-java");
    let kwire_t = unique_topic("keys-kwire");
    for t in [&java_t, &kwire_t] {
        kwire(&b, &["topics", "create", t, "--partitions", "7"]).ok();
    }
    let input: String = (0..200).map(|i| format!("user-{i}:v{i}\n")).collect();
    java_tool(
        "ConsoleProducer",
        &[
            "--bootstrap-server",
            &b,
            "--topic",
            &java_t,
            "--reader-property",
            "parse.key=true",
            "--reader-property",
            "key.separator=:",
        ],
        input.as_bytes(),
    );
    kwire_stdin(&b, &["produce", "-t", &kwire_t, "--key-separator", ":"], Some(input.as_bytes())).ok();
    let placement = |t: &str| -> BTreeMap<String, i64> {
        consume_all(&b, t, &[])
            .iter()
            .map(|r| (r["key"].as_str().unwrap().to_owned(), r["partition"].as_i64().unwrap()))
            .collect()
    };
    let (j, k) = (placement(&java_t), placement(&kwire_t));
    assert_eq!(j.len(), 200);
    assert_eq!(j, k, "murmur2 placement differs from Kafka's Java producer");
    let used: BTreeSet<i64> = k.values().copied().collect();
    assert_eq!(used.len(), 7, "keys spread over every partition");
}

#[test]
fn acks_modes_and_the_guides_producer_property() {
    let b = bootstrap();
    let t = unique_topic("acks");
    kwire(&b, &["topics", "create", &t, "--partitions", "2"]).ok();
    for acks in ["all", "1", "0", "-1"] {
        kwire_stdin(&b, &["produce", "-t", &t, "--acks", acks], Some(format!("acks={acks}\n").as_bytes()))
            .ok();
    }
    // The guide: --broker-list ... --producer-property acks=all
    let run = kwire_stdin(
        &b,
        &["produce", "--broker-list", &b, "-t", &t, "--producer-property", "acks=all"],
        Some(b"guide\n"),
    )
    .ok();
    assert!(run.stderr.contains("deprecated"), "{}", run.stderr);
    let mut vals: Vec<String> =
        consume_all(&b, &t, &[]).iter().map(|r| r["value"].as_str().unwrap().to_owned()).collect();
    vals.sort();
    assert_eq!(vals, vec!["acks=-1", "acks=0", "acks=1", "acks=all", "guide"]);
}

#[test]
fn bad_input_and_failed_records_are_reported() {
    let b = bootstrap();
    let t = unique_topic("bad-produce");
    kwire(&b, &["topics", "create", &t, "--partitions", "1", "--config", "max.message.bytes=2000"]).ok();
    let line = kwire_stdin(&b, &["produce", "-t", &t, "-p", "3"], Some(b"x\n")).one_line_error();
    assert!(line.contains("partition 3"), "{line}");
    let line = kwire_stdin(&b, &["produce", "-t", &t, "--format", "json"], Some(b"{\"value\": 1}\n{oops\n"))
        .one_line_error();
    assert!(line.contains("line 2") && line.contains("JSON"), "{line}");
    let line =
        kwire_stdin(&b, &["produce", "-t", &t, "--key-separator", ":"], Some(b"nokey\n")).one_line_error();
    assert!(line.contains("separator"), "{line}");
    let line = kwire_stdin(&b, &["produce", "-t", &t, "--acks", "2"], Some(b"x\n")).one_line_error();
    assert!(line.contains("acks"), "{line}");
    let line =
        kwire_stdin(&b, &["produce", "-t", &t, "--compression", "brotli"], Some(b"x\n")).one_line_error();
    assert!(line.contains("compression"), "{line}");
    // One record over the topic's max.message.bytes: that record fails, the others don't.
    let big = "z".repeat(5000);
    let input = format!("small-1\n{big}\nsmall-2\n");
    // The error comes first, then which input lines failed, per partition.
    let run = kwire_stdin(&b, &["produce", "-t", &t, "--linger-ms", "0"], Some(input.as_bytes()));
    assert!(run.code.is_some_and(|c| c != 0), "{run:#?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines[0].contains("1 of 3 records failed") && lines[0].contains("max.message.bytes"),
        "{}",
        run.stderr
    );
    assert_eq!(lines.get(1), Some(&"kwire: partition 0: line 2 not written"), "{}", run.stderr);
    let vals: Vec<String> =
        consume_all(&b, &t, &[]).iter().map(|r| r["value"].as_str().unwrap().to_owned()).collect();
    assert!(vals.contains(&"small-1".to_owned()) && vals.contains(&"small-2".to_owned()), "{vals:?}");
    assert!(!vals.contains(&big));
}

#[test]
fn many_records_in_small_batches_keep_their_order() {
    let b = bootstrap();
    let t = unique_topic("order");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    let n = 50_000;
    let input: String = (0..n).map(|i| format!("{i}\n")).collect();
    // Tiny batches: many requests in flight per partition.
    kwire_stdin(
        &b,
        &["produce", "-t", &t, "--batch-size", "512", "--linger-ms", "0"],
        Some(input.as_bytes()),
    )
    .ok();
    let got: Vec<i64> = read_all_values(&b, &t).iter().map(|(_, v)| v.parse().unwrap()).collect();
    assert_eq!(got, (0..n).collect::<Vec<i64>>());
}

/// Runs `producers` producers each writing "<name>:<seq>" for seq in
/// 0..per_producer (pausing `pause` every 50 records, and stopping early once
/// `stop` is set); returns what each got acknowledged, and the failures.
fn run_producers(
    bootstrap: &str,
    topic: &str,
    producers: usize,
    per_producer: u64,
    pause: Duration,
    cfg: ProducerConfig,
    stop: Option<Arc<std::sync::atomic::AtomicBool>>,
) -> (BTreeMap<String, BTreeSet<u64>>, Vec<String>) {
    init_test_logging();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let acked: Arc<Mutex<BTreeMap<String, BTreeSet<u64>>>> = Arc::default();
    let failed: Arc<Mutex<Vec<String>>> = Arc::default();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for p in 0..producers {
            let (b, t, cfg) = (bootstrap.to_owned(), topic.to_owned(), cfg.clone());
            let (acked, failed, stop) = (acked.clone(), failed.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let name = format!("p{p}");
                let producer = match Producer::new(cluster(&b), cfg).await {
                    Ok(p) => p,
                    Err(e) => {
                        let mut f = failed.lock().unwrap();
                        f.extend((0..per_producer).map(|seq| format!("{name}:{seq}: {e}")));
                        return;
                    }
                };
                let mut futs = Vec::new();
                for seq in 0..per_producer {
                    if stop.as_ref().is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
                        break;
                    }
                    let v = format!("{name}:{seq}");
                    let key = format!("{name}-{}", seq % 4);
                    let rec = ProducerRecord {
                        topic: &t,
                        key: Some(key.as_bytes()),
                        value: Some(v.as_bytes()),
                        ..Default::default()
                    };
                    match producer.send(rec).await {
                        Ok(f) => futs.push((seq, f)),
                        Err(e) => failed.lock().unwrap().push(format!("{name}:{seq}: {e}")),
                    }
                    if !pause.is_zero() && seq % 50 == 0 {
                        tokio::time::sleep(pause).await;
                    }
                }
                for (seq, f) in futs {
                    match f.wait().await {
                        Ok(_) => {
                            acked.lock().unwrap().entry(name.clone()).or_default().insert(seq);
                        }
                        Err(e) => failed.lock().unwrap().push(format!("{name}:{seq}: {e}")),
                    }
                }
                let _ = producer.close().await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let acked = acked.lock().unwrap().clone();
    let failed = failed.lock().unwrap().clone();
    (acked, failed)
}

/// Sum of the partitions' end offsets.
fn end_offset(b: &str, t: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = cluster(b);
        let info = c.topic(t).await.unwrap();
        let tps: Vec<kwire_fetch::TopicPartition> =
            info.partitions.iter().map(|p| kwire_fetch::TopicPartition::new(t, p.partition)).collect();
        kwire_fetch::list_offsets(
            &c,
            &tps,
            kwire_fetch::OffsetSpec::Latest,
            kwire_fetch::IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap()
        .values()
        .map(|a| a.offset)
        .sum()
    })
}

fn leader_of(b: &str, t: &str, partition: usize) -> i64 {
    kwire(b, &["topics", "describe", t, "--format", "json"]).ok().json()[0]["partitions"][partition]["leader"]
        .as_i64()
        .unwrap()
}

/// Idempotent producers with acks=all while the leader is killed (-9) and
/// restarted twice: nothing acknowledged is lost, nothing is duplicated,
/// each producer's order holds within each partition.
#[test]
fn idempotent_producers_survive_leader_kills_without_loss_or_duplicates() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let t = unique_topic("fault-produce");
    kwire(&b, &["topics", "create", &t, "--partitions", "2", "--replication-factor", "3"]).ok();
    let (b2, t2) = (b.clone(), t.clone());
    let cfg = producer_config(&[("acks", "all"), ("linger.ms", "5"), ("delivery.timeout.ms", "120000")]);
    // 3 producers, paced (~1000 records/s each), running until both fault
    // rounds are over.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let runner = std::thread::spawn(move || {
        run_producers(&b2, &t2, 3, 1_000_000, Duration::from_millis(50), cfg, Some(stop2))
    });
    let start = Instant::now();
    let mut written_before_kill = Vec::new();
    for round in 0..2 {
        std::thread::sleep(Duration::from_secs(3));
        let leader = leader_of(&b, &t, 0);
        written_before_kill.push(end_offset(&b, &t));
        let killed = KilledNode::kill(leader);
        std::thread::sleep(Duration::from_secs(3));
        killed.restart();
        eprintln!("round {round}: killed and restarted node {leader} at {:?}", start.elapsed());
    }
    std::thread::sleep(Duration::from_secs(3));
    let written_after = end_offset(&b, &t);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acked, failed) = runner.join().unwrap();
    let total_acked: usize = acked.values().map(BTreeSet::len).sum();
    // Records kept arriving across both faults.
    assert!(
        written_before_kill[0] > 0
            && written_before_kill[1] > written_before_kill[0]
            && written_after > written_before_kill[1],
        "producing did not span the faults: {written_before_kill:?} then {written_after}"
    );
    let read = read_all_values(&b, &t);
    let report = checker::check(&read, &acked);
    eprintln!(
        "acked {total_acked}, failed {}, read {}: missing {}, duplicates {}, reordered {}",
        failed.len(),
        report.read,
        report.missing.len(),
        report.duplicates.len(),
        report.reordered.len()
    );
    assert!(report.is_clean(), "{report:?}");
    assert!(failed.is_empty(), "failures: {:?}", &failed[..failed.len().min(5)]);
    assert!(total_acked > 5_000, "only {total_acked} acknowledged");
}

/// acks=all with a topic that needs 3 in-sync replicas and one broker down:
/// NOT_ENOUGH_REPLICAS, nothing acknowledged, within the delivery timeout.
#[test]
fn acks_all_without_enough_replicas_fails_and_acknowledges_nothing() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let t = unique_topic("nerep");
    kwire(
        &b,
        &[
            "topics",
            "create",
            &t,
            "--partitions",
            "1",
            "--replication-factor",
            "3",
            "--config",
            "min.insync.replicas=3",
        ],
    )
    .ok();
    let victim = (leader_of(&b, &t, 0) % 3) + 1; // a follower
    let killed = KilledNode::kill(victim);
    // Wait until the ISR has shrunk.
    let shrunk = wait_until(Duration::from_secs(30), || {
        kwire(&b, &["topics", "describe", &t, "--under-replicated-partitions"]).stdout.lines().count() == 1
    });
    let cfg = producer_config(&[
        ("acks", "all"),
        ("delivery.timeout.ms", "8000"),
        ("request.timeout.ms", "3000"),
        ("linger.ms", "0"),
    ]);
    let started = Instant::now();
    let (acked, failed) = run_producers(&b, &t, 1, 20, Duration::ZERO, cfg, None);
    let elapsed = started.elapsed();
    killed.restart();
    assert!(shrunk, "ISR never shrank");
    assert!(acked.values().all(BTreeSet::is_empty), "acknowledged: {acked:?}");
    assert_eq!(failed.len(), 20);
    let other: Vec<&String> = failed.iter().filter(|f| !f.contains("NOT_ENOUGH_REPLICAS")).collect();
    assert!(other.is_empty(), "{} of 20 failed otherwise: {other:?}", other.len());
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    assert!(read_all_values(&b, &t).is_empty(), "nothing was written");
}

/// Two of three brokers down (min.insync.replicas=2): every send fails
/// within delivery.timeout.ms and none is reported acknowledged. (Without
/// idempotence, so the sends themselves are what fails: with it, the
/// producer can't even get a producer id while the controller quorum is down.)
#[test]
fn acks_all_with_two_of_three_brokers_down_acknowledges_nothing() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let t = unique_topic("two-down");
    kwire(&b, &["topics", "create", &t, "--partitions", "1", "--replication-factor", "3"]).ok();
    let leader = leader_of(&b, &t, 0);
    let others: Vec<i64> = (1..=3).filter(|n| *n != leader).collect();
    let killed: Vec<KilledNode> = others.iter().map(|n| KilledNode::kill(*n)).collect();
    let survivor = format!(
        "127.0.0.1:{}",
        b.split(',').nth((leader - 1) as usize).and_then(|a| a.rsplit(':').next()).unwrap()
    );
    let cfg = producer_config(&[
        ("acks", "all"),
        ("enable.idempotence", "false"),
        ("delivery.timeout.ms", "8000"),
        ("request.timeout.ms", "3000"),
        ("linger.ms", "0"),
    ]);
    let started = Instant::now();
    let (acked, failed) = run_producers(&survivor, &t, 1, 10, Duration::ZERO, cfg, None);
    let elapsed = started.elapsed();
    KilledNode::restart_all(killed);
    eprintln!("errors: {:?}", &failed[..failed.len().min(3)]);
    assert!(acked.values().all(BTreeSet::is_empty), "acknowledged: {acked:?}");
    assert_eq!(failed.len(), 10);
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

/// A running idempotent producer, then two of three brokers die
/// (min.insync.replicas=2): every record sent afterwards fails with the
/// delivery-timeout variant, within delivery.timeout.ms of its send; none is
/// acknowledged, and only records reported "may have been written" may show
/// up in the log later.
#[test]
fn idempotent_producer_with_two_of_three_brokers_down_fails_every_record_with_the_timeout_variant() {
    use kwire_produce::ProduceError;
    let _g = trio_exclusive();
    init_test_logging();
    let b = bootstrap3();
    let t = unique_topic("two-down-idem");
    kwire(
        &b,
        &[
            "topics",
            "create",
            &t,
            "--partitions",
            "1",
            "--replication-factor",
            "3",
            "--config",
            "min.insync.replicas=2",
        ],
    )
    .ok();
    let leader = leader_of(&b, &t, 0);
    let timeout = Duration::from_secs(8);
    let cfg = producer_config(&[
        ("acks", "all"),
        ("delivery.timeout.ms", "8000"),
        ("request.timeout.ms", "3000"),
        ("linger.ms", "0"),
    ]);
    assert!(cfg.idempotence);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (before, outcomes, killed) = rt.block_on(async {
        let producer = Producer::new(cluster(&b), cfg).await.unwrap();
        let warm = producer.send(ProducerRecord { topic: &t, value: Some(b"before"), ..Default::default() });
        let before = warm.await.unwrap().wait().await;
        let killed: Vec<KilledNode> = (1..=3).filter(|n| *n != leader).map(KilledNode::kill).collect();
        let mut futs = Vec::new();
        for i in 0..20 {
            let v = format!("after-{i}");
            let sent = Instant::now();
            let f =
                producer.send(ProducerRecord { topic: &t, value: Some(v.as_bytes()), ..Default::default() });
            futs.push((sent, f.await.unwrap()));
        }
        let mut outcomes = Vec::new();
        for (sent, f) in futs {
            let r = f.wait().await;
            outcomes.push((sent.elapsed(), r));
        }
        let _ = producer.close().await;
        (before, outcomes, killed)
    });
    KilledNode::restart_all(killed);
    assert!(before.is_ok(), "{before:?}");
    for (took, r) in &outcomes {
        match r {
            Err(ProduceError::Timeout { timeout: t, .. }) => assert_eq!(*t, timeout),
            other => panic!("expected the delivery-timeout variant, got {other:?}"),
        }
        assert!(*took <= timeout + Duration::from_millis(1500), "reported after {took:?}");
    }
    eprintln!("first error: {}", outcomes[0].1.as_ref().unwrap_err());
    // The leader may have appended a record it could not replicate in time:
    // only a record reported "may have been written" may show up, once.
    let values: Vec<String> = read_all_values(&b, &t).into_iter().map(|(_, v)| v).collect();
    assert_eq!(values.first().map(String::as_str), Some("before"));
    let mut seen = BTreeSet::new();
    for v in &values[1..] {
        assert!(seen.insert(v.clone()), "{v} written twice");
        let i: usize = v.trim_start_matches("after-").parse().unwrap();
        let e = outcomes[i].1.as_ref().unwrap_err();
        assert!(e.maybe_written(), "{v} is in the log but was reported not written: {e}");
    }
}
