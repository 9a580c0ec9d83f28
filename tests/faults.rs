//! Faults on the network between kwire and healthy brokers (issue 21): the
//! 3-node cluster's PROXIED listeners behind toxiproxy (`kafka.sh start
//! --proxied`, scripts/toxiproxy.sh), one proxy per broker. Each test reads
//! the outcome back directly (not through the proxy) and checks it with
//! Jepsen's vocabulary: lost-write (acknowledged, never read), duplicate,
//! nonmonotonic-poll (a producer's records out of order in a partition).
//! A record whose outcome the producer could not know (a request that went
//! unanswered) must be reported as unknown, never as failed or acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kwire_fetch::{Consumer, FetchConfig, StartOffset};
use kwire_integration::checker::{History, Rec, jepsen};
use kwire_integration::toxiproxy::{Proxied, Toxic};
use kwire_integration::*;
use kwire_meta::{Cluster, ClusterConfig};
use kwire_produce::{Acks, Producer, ProducerConfig, ProducerRecord};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn cluster(bootstrap: &str) -> Cluster {
    Cluster::new(
        ClusterConfig::builder()
            .bootstrap(bootstrap.split(','))
            .request_timeout(Duration::from_secs(2))
            .connect_timeout(Duration::from_secs(2))
            .build(),
    )
}

/// A 3-partition, RF-3 topic, created directly.
fn topic(prefix: &str) -> String {
    let t = unique_topic(prefix);
    kwire(&bootstrap3(), &["topics", "create", &t, "--partitions", "3", "--replication-factor", "3"]).ok();
    t
}

/// A record as the checker takes it.
fn rec(r: &kwire_fetch::ConsumerRecord) -> Rec {
    Rec { partition: r.partition, offset: r.offset, value: r.value_str().unwrap_or_default().to_owned() }
}

/// Checks `h` for Jepsen's anomalies; prints their counts (one line per run)
/// and fails on any.
fn jepsen_check(what: &str, h: &History) {
    let a = jepsen(h);
    eprintln!("{what}: {}", a.summary());
    assert!(a.is_clean(), "{what}: {}", a.summary());
}

/// What one reader (one session: no re-assignment) read of `topic`, which
/// holds `p:0`..`p:{n-1}`, all acknowledged: no Jepsen anomaly, and every
/// record read once.
fn check_reader(what: &str, topic: &str, read: &[Rec], n: u64) {
    let h = History {
        log: read_log(&bootstrap3(), topic),
        polls: vec![read.iter().map(|r| (0, r.clone())).collect()],
        acked: BTreeMap::from([("p".to_owned(), (0..n).collect())]),
        ..Default::default()
    };
    jepsen_check(what, &h);
    let distinct: BTreeSet<&str> = read.iter().map(|r| r.value.as_str()).collect();
    assert_eq!((read.len(), distinct.len()), (n as usize, n as usize), "{what}: every record read once");
}

/// What happened to each record sent.
#[derive(Debug, Default)]
struct Outcomes {
    acked: BTreeSet<u64>,
    /// Definitely not written.
    failed: BTreeSet<u64>,
    /// May or may not have been written.
    unknown: BTreeSet<u64>,
    errors: Vec<String>,
}

/// Sends `seqs` as values `p:<seq>` (keyed so they spread over partitions)
/// and sorts the reports.
async fn send_all(producer: &Producer, topic: &str, seqs: std::ops::Range<u64>, out: &mut Outcomes) {
    let mut pending = Vec::new();
    for s in seqs {
        let v = format!("p:{s}");
        let k = format!("k{}", s % 30);
        match producer.send(ProducerRecord::new(topic, v.as_bytes()).key(k.as_bytes())).await {
            Ok(f) => pending.push((s, f)),
            Err(e) => {
                out.errors.push(e.to_string());
                out.failed.insert(s);
            }
        }
    }
    for (s, f) in pending {
        match f.wait().await {
            Ok(_) => {
                out.acked.insert(s);
            }
            Err(e) => {
                if e.maybe_written() {
                    out.unknown.insert(s);
                } else {
                    out.failed.insert(s);
                }
                out.errors.push(e.to_string());
            }
        }
    }
}

/// Reads `topic` directly and checks it against `out`: every acknowledged
/// record once, no definite failure present, unknown ones at most once,
/// each partition in send order.
fn verify(topic: &str, out: &Outcomes) -> Vec<Rec> {
    let log = read_log(&bootstrap3(), topic);
    let h = History {
        log: log.clone(),
        acked: BTreeMap::from([("p".to_owned(), out.acked.clone())]),
        ..Default::default()
    };
    let what = format!(
        "{topic}: {} read; {} acknowledged, {} failed, {} unknown; errors {:?}",
        log.len(),
        out.acked.len(),
        out.failed.len(),
        out.unknown.len(),
        &out.errors[..out.errors.len().min(3)]
    );
    jepsen_check(&what, &h);
    let present: BTreeSet<u64> =
        log.iter().filter_map(|r| r.value.strip_prefix("p:").and_then(|s| s.parse().ok())).collect();
    let wrongly_failed: Vec<&u64> = out.failed.intersection(&present).collect();
    assert!(wrongly_failed.is_empty(), "reported failed but written: {wrongly_failed:?}");
    log
}

/// The broker that the metadata requests go to black-holes them (accepts,
/// never answers): the next metadata request moves on to another broker
/// after one request timeout, as Kafka's clients disconnect a node whose
/// request timed out and pick another. (The soak once saw a producer fail
/// on `Metadata request ... timed out` because every retry asked the same
/// silent broker.)
#[test]
fn metadata_moves_on_from_a_broker_that_does_not_answer() {
    let _trio = trio_shared();
    let px = Proxied::setup();
    rt().block_on(async {
        let c = cluster(px.bootstrap());
        c.fetch_metadata(Some(&[])).await.expect("metadata through the proxies");
        let silent = c.any_broker().await.expect("a broker").addr().to_owned();
        let id = (1..=3).find(|&i| px.addr(i) == silent).expect("a proxied broker");
        let _hole = px.toxic(Some(id), Toxic::BlackHole);
        let t0 = Instant::now();
        let md = c.fetch_metadata(None).await;
        let took = t0.elapsed();
        let md = md.unwrap_or_else(|e| panic!("with broker {id} ({silent}) silent: {e}"));
        assert_eq!(md.brokers.len(), 3);
        // One request timeout (2 s) on the silent broker, then an answer.
        assert!(took < Duration::from_secs(6), "took {took:?}");
    });
}

#[test]
fn idempotent_producer_through_latency_and_resets_loses_and_doubles_nothing() {
    let _trio = trio_shared();
    let px = Proxied::setup();
    let t = topic("fault-reset");
    rt().block_on(async {
        let cfg = ProducerConfig::builder()
            .acks(Acks::All)
            .idempotence(true)
            .linger(Duration::from_millis(5))
            .request_timeout(Duration::from_secs(3))
            .delivery_timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let producer = Producer::new(cluster(px.bootstrap()), cfg).await.expect("producer");
        let mut out = Outcomes::default();
        send_all(&producer, &t, 0..500, &mut out).await;
        // Every response 40 ± 30 ms late.
        let slow = px.toxic(None, Toxic::Latency { ms: 40, jitter: 30 });
        send_all(&producer, &t, 500..1500, &mut out).await;
        slow.heal();
        // Connections cut mid-response (after 10 bytes of answers), then reset as soon as
        // data flows, while records are in flight: each comes back only after the heal.
        for (i, toxic) in [Toxic::CutAfter { bytes: 10 }, Toxic::Reset].into_iter().enumerate() {
            let lo = 1500 + 1000 * i as u64;
            let fault = px.toxic(None, toxic);
            let t0 = Instant::now();
            let sending = async {
                send_all(&producer, &t, lo..lo + 1000, &mut out).await;
                t0.elapsed()
            };
            let heal = async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                fault.heal();
            };
            let (took, ()) = tokio::join!(sending, heal);
            // The fault was felt: nothing could be acknowledged before the heal.
            assert!(took >= Duration::from_millis(1400), "{toxic:?}: all acknowledged in {took:?}");
        }
        producer.close().await.expect("close");
        assert_eq!(out.acked.len(), 3500, "every record acknowledged after the heal: {out:?}");
        let read = verify(&t, &out);
        assert_eq!(read.len(), 3500);
    });
}

#[test]
fn black_hole_ends_in_unknown_outcomes_at_the_timeouts_then_heals() {
    let _trio = trio_shared();
    let px = Proxied::setup();
    let t = topic("fault-hole");
    rt().block_on(async {
        let cfg = ProducerConfig::builder()
            .acks(Acks::All)
            .idempotence(true)
            .request_timeout(Duration::from_secs(2))
            .delivery_timeout(Duration::from_secs(6))
            .build()
            .unwrap();
        let producer = Producer::new(cluster(px.bootstrap()), cfg).await.expect("producer");
        let mut out = Outcomes::default();
        send_all(&producer, &t, 0..30, &mut out).await;
        assert_eq!(out.acked.len(), 30, "{out:?}");
        // Requests reach the brokers; no answer ever comes back.
        let hole = px.toxic(None, Toxic::BlackHole);
        let t0 = Instant::now();
        send_all(&producer, &t, 30..60, &mut out).await;
        let took = t0.elapsed();
        hole.heal();
        // Not a hang: the reports come at the delivery timeout (6 s), not much later.
        assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(15), "took {took:?}");
        let lost: BTreeSet<u64> = (30..60).collect();
        let reported: BTreeSet<u64> = out.unknown.union(&out.failed).copied().collect();
        assert_eq!(reported, lost, "every record sent into the hole is reported: {out:?}");
        assert!(
            !out.unknown.is_empty(),
            "records whose request went unanswered are unknown, not failed: {out:?}"
        );
        for e in &out.errors {
            assert!(!e.contains('\n'), "one line: {e}");
        }
        assert!(
            out.errors
                .iter()
                .all(|e| e.contains("delivery.timeout.ms (6000 ms)") && e.contains("no answer from broker ")),
            "each error names the timeout and the broker that did not answer: {:?}",
            out.errors
        );
        // Healed: the same producer carries on.
        send_all(&producer, &t, 60..90, &mut out).await;
        producer.close().await.expect("close");
        assert!(
            (60..90).all(|s| out.acked.contains(&s)),
            "after the heal every record is acknowledged: {out:?}"
        );
        verify(&t, &out);
    });
}

#[test]
fn one_broker_cut_off_the_others_keep_serving_and_it_comes_back() {
    let _trio = trio_shared();
    let px = Proxied::setup();
    init_test_logging();
    let t = topic("fault-cut");
    let input: String =
        (0..300).map(|i| format!("{{\"value\":\"p:{i}\",\"partition\":{}}}\n", i % 3)).collect();
    kwire_stdin(
        &bootstrap3(),
        &["produce", "-t", &t, "--format", "json", "--acks", "all"],
        Some(input.as_bytes()),
    )
    .ok();
    rt().block_on(async {
        let direct = cluster(&bootstrap3());
        let md = direct.fetch_metadata(Some(std::slice::from_ref(&t))).await.expect("metadata");
        let leaders: BTreeMap<i32, i32> =
            md.topics[&t].partitions.iter().map(|p| (p.partition, p.leader)).collect();
        let cut_broker = leaders[&0];
        let reachable: BTreeSet<i32> =
            leaders.iter().filter(|(_, l)| **l != cut_broker).map(|(p, _)| *p).collect();

        let cut = px.cut(cut_broker);
        let mut consumer =
            Consumer::start(cluster(px.bootstrap()), FetchConfig::default()).expect("consumer");
        consumer.assign_topics(&[&t], StartOffset::Earliest).await.expect("assign through the other brokers");
        // The partitions led elsewhere have their start now; the cut one is
        // left to the fetcher (not looked up again and again by assign).
        for p in 0..3 {
            let pos = consumer.position(&kwire_fetch::TopicPartition::new(t.as_str(), p));
            assert_eq!(pos.is_some(), reachable.contains(&p), "partition {p}: position {pos:?}");
        }
        let mut read: Vec<Rec> = Vec::new();
        let want_first = 100 * reachable.len();
        let deadline = Instant::now() + Duration::from_secs(30);
        while read.len() < want_first && Instant::now() < deadline {
            if let Ok(Ok(recs)) = tokio::time::timeout(Duration::from_secs(2), consumer.poll()).await {
                read.extend(recs.iter().map(rec));
            }
        }
        let got: BTreeSet<i32> = read.iter().map(|r| r.partition).collect();
        assert_eq!(read.len(), want_first, "every record of the partitions led elsewhere: {got:?}");
        assert!(
            got.is_subset(&reachable),
            "nothing from broker {cut_broker}'s partitions while it is cut off"
        );

        cut.heal();
        let deadline = Instant::now() + Duration::from_secs(30);
        while read.len() < 300 && Instant::now() < deadline {
            if let Ok(Ok(recs)) = tokio::time::timeout(Duration::from_secs(2), consumer.poll()).await {
                read.extend(recs.iter().map(rec));
            }
        }
        check_reader("one broker cut off, after the heal", &t, &read, 300);
    });
}

/// Transactions while connections are reset: each transaction is atomic
/// (all of it visible to read_committed, or none), every committed one is
/// there, every aborted one is not, and one whose commit's outcome the
/// producer could not learn is still all-or-nothing.
#[test]
fn transactions_stay_atomic_through_resets() {
    let _trio = trio_shared();
    let px = Proxied::setup();
    let t = topic("fault-txn");
    let id = unique_topic("fault-txn-id");
    let (committed, aborted, unknown) = rt().block_on(async {
        let cfg = ProducerConfig::builder()
            .transactional_id(&id)
            .request_timeout(Duration::from_secs(3))
            .delivery_timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut producer = Producer::new(cluster(px.bootstrap()), cfg.clone()).await.expect("producer");
        let (mut committed, mut aborted, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..12u64 {
            // Transactions 4-7 run while every connection is reset once data
            // flows, healed after 1.5 s; 8-11 with one broker cut off for 1.5 s.
            let fault = match k {
                4 => Some(px.toxic(None, Toxic::Reset)),
                8 => Some(px.toxic(Some(2), Toxic::BlackHole)),
                _ => None,
            };
            let run = async {
                producer.begin_transaction()?;
                for i in 0..50 {
                    let v = format!("t{k}:{i}");
                    let f = producer
                        .send(ProducerRecord::new(&t, v.as_bytes()).key(format!("{i}").as_bytes()))
                        .await?;
                    drop(f);
                }
                if k % 4 == 3 {
                    producer.abort_transaction().await.map(|()| false)
                } else {
                    producer.commit_transaction().await.map(|()| true)
                }
            };
            let heal = async {
                if let Some(f) = fault {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    f.heal();
                }
            };
            let faulty = k == 4 || k == 8;
            let t0 = Instant::now();
            let (result, ()) = tokio::join!(run, heal);
            if faulty && result.is_ok() {
                // The fault was felt: the transaction could not end before the heal.
                let took = t0.elapsed();
                assert!(took >= Duration::from_millis(1400), "transaction {k} ended in {took:?}");
            }
            match result {
                Ok(true) => committed.push(k),
                Ok(false) => aborted.push(k),
                Err(e) => {
                    // The outcome is open: abort what can be, or start over
                    // with a new producer (which fences and aborts the old one's).
                    unknown.push((k, e.to_string()));
                    if producer.abort_transaction().await.is_err() {
                        producer = Producer::new(cluster(px.bootstrap()), cfg.clone())
                            .await
                            .expect("a new producer");
                    }
                }
            }
        }
        producer.close().await.ok();
        (committed, aborted, unknown)
    });
    eprintln!("committed {committed:?}, aborted {aborted:?}, unknown {unknown:?}");
    let read = read_committed_values(&t);
    for k in 0..12u64 {
        let n = read.iter().filter(|v| v.starts_with(&format!("t{k}:"))).count();
        if committed.contains(&k) {
            assert_eq!(n, 50, "transaction {k} committed: all of it is visible");
        } else if aborted.contains(&k) {
            assert_eq!(n, 0, "transaction {k} aborted: none of it is visible");
        } else {
            assert!(n == 0 || n == 50, "transaction {k} (outcome unknown: {unknown:?}): {n} of 50 visible");
        }
    }
    let mut sorted = read.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), read.len(), "no duplicate");
    // Jepsen's view: the read_committed reader against the whole log. A
    // transaction whose outcome was open and is invisible was aborted.
    let committed_read = read_committed_log(&bootstrap3(), &t);
    let invisible = |k: &u64| !read.iter().any(|v| v.starts_with(&format!("t{k}:")));
    let h = History {
        log: read_log(&bootstrap3(), &t),
        polls: vec![committed_read.iter().map(|r| (0, r.clone())).collect()],
        acked: committed.iter().map(|k| (format!("t{k}"), (0..50).collect())).collect(),
        aborted: (0..12u64)
            .filter(|k| aborted.contains(k) || (!committed.contains(k) && invisible(k)))
            .flat_map(|k| (0..50).map(move |i| format!("t{k}:{i}")))
            .collect(),
        read_committed: true,
    };
    jepsen_check("transactions through resets, read_committed", &h);
    assert!(committed.len() >= 6, "most transactions commit: committed {committed:?}, unknown {unknown:?}");
}

fn read_committed_values(topic: &str) -> Vec<String> {
    let run = kwire(
        &bootstrap3(),
        &["consume", "-t", topic, "--from-beginning", "-e", "--isolation-level", "read_committed"],
    )
    .ok();
    run.stdout.lines().map(str::to_owned).collect()
}

/// A group member through resets of every connection (coordinator and
/// leaders): it reads every record once, in order per partition, and its
/// committed offsets reach the end.
#[test]
fn group_member_through_resets_reads_everything_once() {
    let _trio = trio_shared();
    let px = Proxied::setup();
    let t = topic("fault-group");
    let group = unique_topic("fault-group-g");
    let input: String =
        (0..600).map(|i| format!("{{\"value\":\"p:{i}\",\"partition\":{}}}\n", i % 3)).collect();
    kwire_stdin(
        &bootstrap3(),
        &["produce", "-t", &t, "--format", "json", "--acks", "all"],
        Some(input.as_bytes()),
    )
    .ok();
    let read = rt().block_on(async {
        let cfg = kwire_group::GroupConfig::builder(group.as_str())
            .auto_offset_reset(kwire_fetch::OffsetReset::Earliest)
            .auto_commit(false)
            .fetch(FetchConfig::builder().max_poll_records(20).build().unwrap())
            .build()
            .unwrap();
        let mut member = kwire_group::GroupConsumer::subscribe(cluster(px.bootstrap()), cfg, vec![t.clone()])
            .expect("member");
        let mut read: Vec<Rec> = Vec::new();
        // Phase 0: before the fault; 1: every connection reset (1.5 s); 2: healed.
        let mut fault = None;
        let mut phase = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while read.len() < 600 && Instant::now() < deadline {
            if phase == 0 && read.len() >= 200 {
                fault = Some((px.toxic(None, Toxic::Reset), Instant::now()));
                phase = 1;
            }
            if phase == 1 && fault.as_ref().is_some_and(|(_, at)| at.elapsed() > Duration::from_millis(1500))
            {
                if let Some((f, _)) = fault.take() {
                    f.heal();
                }
                phase = 2;
            }
            match tokio::time::timeout(Duration::from_secs(2), member.poll()).await {
                Ok(Ok(recs)) => {
                    read.extend(recs.iter().map(rec));
                    let _ = member.commit().await;
                }
                Ok(Err(e)) => eprintln!("poll: {e}"),
                Err(_) => {}
            }
        }
        assert_eq!(phase, 2, "the fault was applied and healed while reading");
        member.commit().await.expect("the last commit");
        member.close().await.ok();
        read
    });
    check_reader("group member through resets", &t, &read, 600);
    let d = kwire(&bootstrap3(), &["groups", "describe", &group, "--format", "json"]).ok().json();
    let committed: BTreeMap<i64, i64> = d["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .map(|o| (o["partition"].as_i64().unwrap_or(-1), o["current_offset"].as_i64().unwrap_or(-1)))
        .collect();
    assert_eq!(committed, BTreeMap::from([(0, 200), (1, 200), (2, 200)]), "committed to the end: {d}");
}

/// A producer that must look its topic up again (metadata dropped) while no
/// broker can be reached waits, up to max.block.ms, instead of failing the
/// send: found by the soak, where `kwire produce` stopped with "no bootstrap
/// server reachable" during 2 s of resets.
#[test]
fn a_send_waits_out_a_metadata_outage() {
    let _trio = trio_shared();
    let px = Proxied::setup();
    let t = topic("fault-meta");
    rt().block_on(async {
        let cl = cluster(px.bootstrap());
        let cfg =
            ProducerConfig::builder().acks(Acks::All).max_block(Duration::from_secs(20)).build().unwrap();
        let producer = Producer::new(cl.clone(), cfg).await.expect("producer");
        let mut out = Outcomes::default();
        send_all(&producer, &t, 0..10, &mut out).await;
        cl.invalidate_topic(&t);
        let fault = px.toxic(None, Toxic::Reset);
        let t0 = Instant::now();
        let heal = async {
            tokio::time::sleep(Duration::from_millis(2000)).await;
            fault.heal();
        };
        let ((), ()) = tokio::join!(send_all(&producer, &t, 10..20, &mut out), heal);
        let took = t0.elapsed();
        producer.close().await.expect("close");
        assert!(out.errors.is_empty(), "no send failed: {:?}", out.errors);
        assert_eq!(out.acked.len(), 20, "{out:?}");
        assert!(took >= Duration::from_millis(1800), "the outage was felt: {took:?}");
        verify(&t, &out);
    });
}

// ---------------------------------------------------------------- the matrix

/// Every fault the proxy injects, for 1.5 s in the middle of each
/// component's workload.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// A toxic on every broker, or on one.
    Toxic(Option<i32>, Toxic),
    /// One broker cut off.
    Cut(i32),
}

const MATRIX: [(&str, Fault); 8] = [
    ("latency 50±40 ms", Fault::Toxic(None, Toxic::Latency { ms: 50, jitter: 40 })),
    ("bandwidth 8 KB/s", Fault::Toxic(None, Toxic::Bandwidth { kb_per_s: 8 })),
    ("black hole, every broker", Fault::Toxic(None, Toxic::BlackHole)),
    ("black hole, broker 2", Fault::Toxic(Some(2), Toxic::BlackHole)),
    ("reset, every broker", Fault::Toxic(None, Toxic::Reset)),
    ("cut mid-response", Fault::Toxic(None, Toxic::CutAfter { bytes: 10 })),
    ("slow close 2 s", Fault::Toxic(None, Toxic::SlowClose { ms: 2000 })),
    ("broker 3 cut off", Fault::Cut(3)),
];

impl Fault {
    /// Whether nothing can get through to some broker while it lasts (so a
    /// workload that needs every broker cannot finish before the heal).
    fn blocks(self) -> bool {
        match self {
            Fault::Cut(_) => true,
            Fault::Toxic(_, t) => matches!(t, Toxic::BlackHole | Toxic::Reset | Toxic::CutAfter { .. }),
        }
    }
}

/// Runs `work` while `fault` lasts 1.5 s; when the fault blocks, checks
/// that it was felt (the work could not end before the heal).
async fn under<T>(px: &Proxied, name: &str, fault: Fault, work: impl std::future::Future<Output = T>) -> T {
    let t0 = Instant::now();
    let (out, ()) = tokio::join!(work, for_a_while(px, fault));
    let took = t0.elapsed();
    if fault.blocks() {
        assert!(took >= Duration::from_millis(1400), "{name}: the fault was not felt (done in {took:?})");
    }
    out
}

/// Applies `fault`, waits 1.5 s, heals.
async fn for_a_while(px: &Proxied, fault: Fault) {
    let (toxic, cut) = match fault {
        Fault::Toxic(b, t) => (Some(px.toxic(b, t)), None),
        Fault::Cut(b) => (None, Some(px.cut(b))),
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop((toxic, cut));
}

/// The idempotent producer under each fault: 600 records, the middle 300
/// sent while it lasts; all acknowledged (delivery timeout 30 s), none lost,
/// doubled or reordered; a blocking fault holds the middle ones until the heal.
#[test]
fn matrix_idempotent_producer() {
    let _trio = trio_shared();
    let px = Proxied::setup();
    for (name, fault) in MATRIX {
        let t = topic("mx-prod");
        rt().block_on(async {
            let cfg = ProducerConfig::builder()
                .acks(Acks::All)
                .request_timeout(Duration::from_secs(3))
                .delivery_timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let producer = Producer::new(cluster(px.bootstrap()), cfg).await.expect("producer");
            let mut out = Outcomes::default();
            send_all(&producer, &t, 0..150, &mut out).await;
            under(&px, name, fault, send_all(&producer, &t, 150..450, &mut out)).await;
            send_all(&producer, &t, 450..600, &mut out).await;
            producer.close().await.expect("close");
            assert_eq!(out.acked.len(), 600, "{name}: {out:?}");
            verify(&t, &out);
        });
        eprintln!("matrix_idempotent_producer: {name}: ok");
    }
}

/// Writes records `range` as `p:<n>`, to partition n % 3, directly.
fn produce_direct(t: &str, range: std::ops::Range<u64>) {
    let input: String = range.map(|i| format!("{{\"value\":\"p:{i}\",\"partition\":{}}}\n", i % 3)).collect();
    kwire_stdin(
        &bootstrap3(),
        &["produce", "-t", t, "--format", "json", "--acks", "all"],
        Some(input.as_bytes()),
    )
    .ok();
}

/// The consumer under each fault: 300 records read, then 300 more written
/// and read while the fault lasts; all read once, in order.
#[test]
fn matrix_consumer() {
    let _trio = trio_shared();
    let px = Proxied::setup();
    for (name, fault) in MATRIX {
        let t = topic("mx-cons");
        produce_direct(&t, 0..300);
        let read = rt().block_on(async {
            let cfg = FetchConfig::builder().max_poll_records(20).build().unwrap();
            let mut consumer = Consumer::start(cluster(px.bootstrap()), cfg).expect("consumer");
            consumer.assign_topics(&[&t], StartOffset::Earliest).await.expect("assign");
            let mut read: Vec<Rec> = Vec::new();
            let mut poll_until = async |read: &mut Vec<Rec>, n: usize| {
                let deadline = Instant::now() + Duration::from_secs(40);
                while read.len() < n && Instant::now() < deadline {
                    if let Ok(Ok(recs)) = tokio::time::timeout(Duration::from_secs(2), consumer.poll()).await
                    {
                        read.extend(recs.iter().map(rec));
                    }
                }
            };
            poll_until(&mut read, 300).await;
            let more = async {
                tokio::task::spawn_blocking({
                    let t = t.clone();
                    move || produce_direct(&t, 300..600)
                })
                .await
                .expect("produce");
                poll_until(&mut read, 600).await;
            };
            under(&px, name, fault, more).await;
            read
        });
        check_reader(&format!("matrix_consumer: {name}"), &t, &read, 600);
    }
}

/// A group member (commit after each poll) under each fault: 300 records
/// read, then 300 more written and read while the fault lasts; all read
/// once, in order, committed to the end.
#[test]
fn matrix_group_member() {
    let _trio = trio_shared();
    let px = Proxied::setup();
    for (name, fault) in MATRIX {
        let t = topic("mx-group");
        let group = unique_topic("mx-group-g");
        produce_direct(&t, 0..300);
        let read = rt().block_on(async {
            let cfg = kwire_group::GroupConfig::builder(group.as_str())
                .auto_offset_reset(kwire_fetch::OffsetReset::Earliest)
                .auto_commit(false)
                .fetch(FetchConfig::builder().max_poll_records(20).build().unwrap())
                .build()
                .unwrap();
            let mut member =
                kwire_group::GroupConsumer::subscribe(cluster(px.bootstrap()), cfg, vec![t.clone()])
                    .expect("member");
            let mut read: Vec<Rec> = Vec::new();
            let mut poll_until = async |read: &mut Vec<Rec>, n: usize| {
                let deadline = Instant::now() + Duration::from_secs(60);
                while read.len() < n && Instant::now() < deadline {
                    if let Ok(Ok(recs)) = tokio::time::timeout(Duration::from_secs(2), member.poll()).await {
                        read.extend(recs.iter().map(rec));
                        let _ = member.commit().await;
                    }
                }
            };
            poll_until(&mut read, 300).await;
            let more = async {
                tokio::task::spawn_blocking({
                    let t = t.clone();
                    move || produce_direct(&t, 300..600)
                })
                .await
                .expect("produce");
                poll_until(&mut read, 600).await;
            };
            under(&px, name, fault, more).await;
            member.commit().await.expect("the last commit");
            member.close().await.ok();
            read
        });
        check_reader(&format!("matrix_group_member: {name}"), &t, &read, 600);
        let d = kwire(&bootstrap3(), &["groups", "describe", &group, "--format", "json"]).ok().json();
        let committed: Vec<i64> = d["offsets"]
            .as_array()
            .expect("offsets")
            .iter()
            .filter_map(|o| o["current_offset"].as_i64())
            .collect();
        assert_eq!(committed, vec![200, 200, 200], "{name}: committed to the end: {d}");
        eprintln!("matrix_group_member: {name}: ok");
    }
}
