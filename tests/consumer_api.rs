//! The owned-record consumers (issue 17): `kwire_fetch::Consumer` from
//! earliest, latest, a timestamp, an offset and n-from-the-end, and
//! `GroupConsumer::poll` with `commit` then a resume by another member, each
//! reading back exactly the records a test produced.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use kwire_fetch::{Consumer, ConsumerRecord, FetchConfig, StartOffset, TopicPartition};
use kwire_group::{GroupConfig, GroupConsumer};
use kwire_integration::*;
use kwire_meta::{Cluster, ClusterConfig};
use kwire_produce::{Producer, ProducerConfig, ProducerRecord};
use kwire_proto::records::Header;

const WAIT: Duration = Duration::from_secs(60);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

fn cluster(bootstrap: &str) -> Cluster {
    Cluster::new(ClusterConfig::builder().bootstrap(bootstrap.split(',')).build())
}

/// Produces `values` (key `k<value>`, one header) with `timestamps[i]` when given.
async fn produce(b: &str, topic: &str, values: &[String], timestamps: Option<&[i64]>) {
    let producer = Producer::new(cluster(b), ProducerConfig::builder().build().unwrap()).await.unwrap();
    let headers = [Header::new("h", Some(Bytes::from_static(b"1")))];
    let keys: Vec<String> = values.iter().map(|v| format!("k{v}")).collect();
    let mut pending = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let mut rec = ProducerRecord::new(topic, v.as_bytes()).key(keys[i].as_bytes()).headers(&headers);
        if let Some(ts) = timestamps {
            rec = rec.timestamp(ts[i]);
        }
        pending.push(producer.send(rec).await.unwrap());
    }
    for p in pending {
        p.wait().await.unwrap();
    }
    producer.close().await.unwrap();
}

/// Polls until every partition reached its end offset as of now.
async fn read_to_end(c: &mut Consumer) -> Vec<ConsumerRecord> {
    let ends = c.end_offsets().await.unwrap();
    let max = c.fetcher().config().max_poll_records;
    let mut out = Vec::new();
    while !c.reached(&ends) {
        let recs = tokio::time::timeout(WAIT, c.poll()).await.expect("records within a minute").unwrap();
        assert!(!recs.is_empty(), "poll returns records or waits");
        assert!(recs.len() <= max, "{} records from one poll; max.poll.records is {max}", recs.len());
        assert!(recs.iter().all(|r| r.partition == recs[0].partition), "one partition per poll");
        out.extend(recs);
    }
    out
}

fn values(recs: &[ConsumerRecord]) -> Vec<String> {
    recs.iter().map(|r| r.value_str().unwrap_or("<not text>").to_owned()).collect()
}

#[test]
fn consumer_reads_exactly_what_was_produced_from_the_earliest_offset() {
    let b = bootstrap();
    let t = unique_topic("api-earliest");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    let sent: Vec<String> = (0..300).map(|i| format!("v{i}")).collect();
    rt().block_on(async {
        produce(&b, &t, &sent, None).await;
        let cfg = FetchConfig::builder().max_poll_records(25).build().unwrap();
        let mut c = Consumer::start(cluster(&b), cfg).unwrap();
        let parts = c.assign_topics(&[&t], StartOffset::Earliest).await.unwrap();
        assert_eq!(parts.len(), 3);
        let recs = read_to_end(&mut c).await;
        // Each record once, every field as sent, offsets in order per partition.
        let got: BTreeSet<String> = values(&recs).into_iter().collect();
        assert_eq!(recs.len(), sent.len());
        assert_eq!(got, sent.iter().cloned().collect::<BTreeSet<_>>());
        let mut last: BTreeMap<i32, i64> = BTreeMap::new();
        for r in &recs {
            assert_eq!(&*r.topic, t.as_str());
            assert_eq!(r.key_str().map(str::to_owned), r.value_str().map(|v| format!("k{v}")));
            assert_eq!(r.headers, vec![Header::new("h", Some(Bytes::from_static(b"1")))]);
            let prev = last.insert(r.partition, r.offset);
            assert!(prev.is_none_or(|p| p + 1 == r.offset), "gap or repeat at {}-{}", r.partition, r.offset);
        }
        for tp in &parts {
            assert_eq!(c.position(tp), Some(last.get(&tp.partition).map_or(0, |o| o + 1)));
        }
        // Nothing more: a poll now waits.
        assert!(tokio::time::timeout(Duration::from_millis(1500), c.poll()).await.is_err());
    });
}

#[test]
fn consumer_from_latest_reads_only_what_comes_after_the_assignment() {
    let b = bootstrap();
    let t = unique_topic("api-latest");
    kwire(&b, &["topics", "create", &t, "--partitions", "2"]).ok();
    rt().block_on(async {
        let old: Vec<String> = (0..50).map(|i| format!("old{i}")).collect();
        produce(&b, &t, &old, None).await;
        let mut c = Consumer::start(cluster(&b), FetchConfig::default()).unwrap();
        c.assign_topics(&[&t], StartOffset::Latest).await.unwrap();
        let new: Vec<String> = (0..20).map(|i| format!("new{i}")).collect();
        produce(&b, &t, &new, None).await;
        let mut got = Vec::new();
        while got.len() < new.len() {
            let recs = tokio::time::timeout(WAIT, c.poll()).await.expect("records within a minute").unwrap();
            got.extend(values(&recs));
        }
        got.sort();
        let mut want = new.clone();
        want.sort();
        assert_eq!(got, want);
        assert!(tokio::time::timeout(Duration::from_millis(1500), c.poll()).await.is_err());
    });
}

#[test]
fn consumer_starts_at_a_timestamp_an_offset_or_n_from_the_end() {
    let b = bootstrap();
    let t = unique_topic("api-timestamp");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    let t0 = 1_700_000_000_000i64;
    let sent: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    let stamps: Vec<i64> = (0..10).map(|i| t0 + i * 1_000).collect();
    let tp = TopicPartition::new(t.as_str(), 0);
    rt().block_on(async {
        produce(&b, &t, &sent, Some(&stamps)).await;
        let mut c = Consumer::start(cluster(&b), FetchConfig::default()).unwrap();

        // The first record at or after t0 + 4.5 s is v5.
        c.assign(vec![(tp.clone(), StartOffset::Timestamp(t0 + 4_500))]).await.unwrap();
        assert_eq!(c.position(&tp), Some(5));
        let recs = read_to_end(&mut c).await;
        assert_eq!(values(&recs), ["v5", "v6", "v7", "v8", "v9"]);
        assert_eq!(recs.iter().map(|r| r.timestamp).collect::<Vec<_>>(), &stamps[5..]);

        // Re-assigning moves the partition; one record at a time.
        c.assign(vec![(tp.clone(), StartOffset::Offset(7))]).await.unwrap();
        let one = tokio::time::timeout(WAIT, c.next_record()).await.unwrap().unwrap();
        assert_eq!((one.offset, one.value_str()), (7, Some("v7")));
        assert_eq!(c.position(&tp), Some(8));

        c.assign(vec![(tp.clone(), StartOffset::FromEnd(2))]).await.unwrap();
        assert_eq!(values(&read_to_end(&mut c).await), ["v8", "v9"]);

        // A timestamp after the last record: the end, nothing to read.
        c.assign(vec![(tp.clone(), StartOffset::Timestamp(t0 + 60_000))]).await.unwrap();
        assert_eq!(c.position(&tp), Some(10));
        assert!(read_to_end(&mut c).await.is_empty());

        let e = c.assign(vec![(tp.clone(), StartOffset::Offset(-5))]).await.unwrap_err();
        assert!(e.to_string().contains("invalid start offset -5"), "{e}");
        let mut idle = Consumer::start(cluster(&b), FetchConfig::default()).unwrap();
        let e = idle.poll().await.unwrap_err();
        assert!(e.to_string().contains("no partition is assigned"), "{e}");
    });
}

/// Polls a group member until `n` records came; each record's value.
async fn poll_group(c: &mut GroupConsumer, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let recs = tokio::time::timeout(WAIT, c.poll()).await.expect("records within a minute").unwrap();
        assert!(recs.len() <= 10, "max.poll.records");
        got.extend(values(&recs));
    }
    got
}

#[test]
fn group_consumer_polls_commits_and_a_new_member_resumes_after_the_commit() {
    let b = bootstrap();
    let t = unique_topic("api-group");
    let group = unique_topic("api-group-g");
    kwire(&b, &["topics", "create", &t, "--partitions", "2"]).ok();
    let sent: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
    rt().block_on(async {
        produce(&b, &t, &sent, None).await;
        let cfg = || {
            GroupConfig::builder(group.as_str())
                .auto_offset_reset(kwire_fetch::OffsetReset::Earliest)
                .auto_commit(false)
                .fetch(FetchConfig::builder().max_poll_records(10).build().unwrap())
                .build()
                .unwrap()
        };
        // First member: part of the records, then commit and leave.
        let mut first = GroupConsumer::subscribe(cluster(&b), cfg(), vec![t.clone()]).unwrap();
        let first_got = poll_group(&mut first, 40).await;
        first.commit().await.unwrap();
        first.close().await.unwrap();
        // Offsets start at 0 and have no gaps: the committed offsets add up
        // to the records the member was handed.
        assert_eq!(committed_total(&b, &group).await, first_got.len() as i64);

        // Second member: exactly the rest.
        let mut second = GroupConsumer::subscribe(cluster(&b), cfg(), vec![t.clone()]).unwrap();
        let second_got = poll_group(&mut second, sent.len() - first_got.len()).await;
        assert!(tokio::time::timeout(Duration::from_secs(2), second.poll()).await.is_err(), "nothing more");
        second.commit().await.unwrap();
        second.close().await.unwrap();
        assert_eq!(committed_total(&b, &group).await, sent.len() as i64);

        let a: BTreeSet<&String> = first_got.iter().collect();
        let z: BTreeSet<&String> = second_got.iter().collect();
        assert_eq!(a.len(), first_got.len(), "no repeats in the first member");
        assert!(a.is_disjoint(&z), "the second member re-read committed records");
        let all: BTreeSet<&String> = a.union(&z).copied().collect();
        assert_eq!(all, sent.iter().collect::<BTreeSet<_>>());
    });
}

async fn committed_total(b: &str, group: &str) -> i64 {
    kwire_group::admin::committed_offsets(&cluster(b), group, None).await.unwrap().values().sum()
}

/// `GroupConsumer::next` dropped again and again mid-call (a `select!` or
/// `timeout` with a 1 ms timer, as `kwire copy` and `kwire stream
/// --application-id` use it) while a second member joins: the rebalance
/// completes and, between the two members, every record is read. Before the
/// fix a dropped call lost the `Assigned` whose start offsets were being
/// looked up (those partitions were never read) or the revocation whose
/// commit was in flight (the rebalance never finished).
#[test]
fn group_consumer_next_is_cancel_safe_across_a_rebalance() {
    let b = bootstrap();
    let t = unique_topic("api-cancel");
    let group = unique_topic("api-cancel-g");
    kwire(&b, &["topics", "create", &t, "--partitions", "4"]).ok();
    let sent: Vec<String> = (0..400).map(|i| format!("v{i}")).collect();
    rt().block_on(async {
        let cfg = || {
            GroupConfig::builder(group.as_str())
                .auto_offset_reset(kwire_fetch::OffsetReset::Earliest)
                .auto_commit(true)
                .auto_commit_interval(Duration::from_millis(50))
                .build()
                .unwrap()
        };
        // The first half with one member, the second half after another joined.
        produce(&b, &t, &sent[..200], None).await;
        let mut members = vec![GroupConsumer::subscribe(cluster(&b), cfg(), vec![t.clone()]).unwrap()];
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut by_member = [0usize; 2];
        let mut dropped = 0u64;
        let (mut second_assigned, mut second_half) = (false, false);
        let deadline = tokio::time::Instant::now() + WAIT;
        while seen.len() < sent.len() && tokio::time::Instant::now() < deadline {
            if members.len() == 1 && seen.len() == 200 {
                members.push(GroupConsumer::subscribe(cluster(&b), cfg(), vec![t.clone()]).unwrap());
            }
            if second_assigned && !second_half {
                second_half = true;
                produce(&b, &t, &sent[200..], None).await;
            }
            for (i, m) in members.iter_mut().enumerate() {
                match tokio::time::timeout(Duration::from_millis(1), m.next()).await {
                    Err(_) => dropped += 1,
                    Ok(ev) => match ev.unwrap() {
                        kwire_group::GroupEvent::Records(chunk) => {
                            for r in chunk.to_records().unwrap() {
                                by_member[i] += 1;
                                seen.insert(
                                    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into(),
                                );
                            }
                        }
                        kwire_group::GroupEvent::Assigned(p) if i == 1 && !p.is_empty() => {
                            second_assigned = true
                        }
                        _ => {}
                    },
                }
            }
        }
        assert_eq!(
            seen.len(),
            sent.len(),
            "records read by the two members: {by_member:?} ({dropped} calls dropped mid-way)"
        );
        assert!(by_member[1] > 0, "the second member got partitions: {by_member:?}");
        assert!(dropped > 10, "the calls were really dropped: {dropped}");
        for m in members {
            m.close().await.unwrap();
        }
    });
}

/// `Consumer::poll_to` reads a read_committed partition whose tail is an
/// aborted transaction and its marker: it returns the committed records,
/// then `None`, where `poll` would wait for a record that never comes.
#[test]
fn poll_to_ends_at_the_last_stable_offset_past_aborted_records_and_markers() {
    let b = bootstrap();
    let topic = unique_topic("poll-to");
    kwire(&b, &["topics", "create", &topic, "--partitions", "1"]).ok();
    rt().block_on(async {
        let cfg = ProducerConfig::builder().transactional_id(&unique_topic("poll-to-txn")).build().unwrap();
        let p = Producer::new(cluster(&b), cfg).await.unwrap();
        p.begin_transaction().unwrap();
        for i in 0..5 {
            p.send(ProducerRecord::new(&topic, format!("c{i}").as_bytes())).await.unwrap();
        }
        p.commit_transaction().await.unwrap();
        p.begin_transaction().unwrap();
        for i in 0..3 {
            p.send(ProducerRecord::new(&topic, format!("a{i}").as_bytes())).await.unwrap();
        }
        // Written to the log before the abort (else they'd never leave the producer).
        p.flush().await.unwrap();
        p.abort_transaction().await.unwrap();
        p.close().await.unwrap();

        let mut fetch = FetchConfig::default();
        fetch.isolation = kwire_fetch::IsolationLevel::ReadCommitted;
        let mut c = Consumer::start(cluster(&b), fetch).unwrap();
        c.assign(vec![(TopicPartition::new(topic.as_str(), 0), StartOffset::Earliest)]).await.unwrap();
        // The coordinator writes the abort marker after EndTxn returns.
        let mut ends = c.end_offsets().await.unwrap();
        for _ in 0..100 {
            if ends.values().eq([10].iter()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            ends = c.end_offsets().await.unwrap();
        }
        assert_eq!(ends.values().copied().collect::<Vec<_>>(), vec![10], "5 + marker + 3 aborted + marker");
        let mut got = Vec::new();
        let read = tokio::time::timeout(WAIT, async {
            while let Some(recs) = c.poll_to(&ends).await.unwrap() {
                got.extend(recs);
            }
        })
        .await;
        assert!(read.is_ok(), "poll_to did not end; read {:?}", values(&got));
        assert_eq!(values(&got), vec!["c0", "c1", "c2", "c3", "c4"]);
        assert!(c.reached(&ends));
        // `poll` has nothing to give: it waits.
        assert!(tokio::time::timeout(Duration::from_secs(2), c.poll()).await.is_err());
    });
}

/// Two consumers of one `Cluster`: one long-polls an idle topic with a 20 s
/// `fetch.max.wait.ms`, the other reads a topic with records. Each fetcher
/// has its own connections, so the second is not queued behind the first's
/// parked fetch (a broker answers a connection's requests in order): it
/// reads everything, far inside the 20 s the shared connection would cost.
#[test]
fn two_consumers_of_one_cluster_do_not_wait_behind_each_others_long_polls() {
    let b = bootstrap();
    let idle = unique_topic("long-poll-idle");
    let busy = unique_topic("long-poll-busy");
    kwire(&b, &["topics", "create", &idle, "--partitions", "1"]).ok();
    kwire(&b, &["topics", "create", &busy, "--partitions", "1"]).ok();
    rt().block_on(async {
        let vals: Vec<String> = (0..50).map(|i| format!("v{i}")).collect();
        produce(&b, &busy, &vals, None).await;
        let shared = cluster(&b);
        let mut slow = FetchConfig::default();
        slow.max_wait = Duration::from_secs(20);
        let mut parked = Consumer::start(shared.clone(), slow.clone()).unwrap();
        parked.assign(vec![(TopicPartition::new(idle.as_str(), 0), StartOffset::Latest)]).await.unwrap();
        // Let the idle consumer's fetch reach the broker and park there.
        let nothing = tokio::time::timeout(Duration::from_secs(1), parked.poll()).await;
        assert!(nothing.is_err(), "the idle topic has no records");
        let mut reader = Consumer::start(shared, slow).unwrap();
        reader.assign(vec![(TopicPartition::new(busy.as_str(), 0), StartOffset::Earliest)]).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), read_to_end(&mut reader)).await;
        let got = got.expect("the reader queued behind the other consumer's parked fetch");
        assert_eq!(values(&got), vals);
    });
}
