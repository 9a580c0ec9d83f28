//! kwire's transactional producer against a real broker: what it commits is
//! what `read_committed` readers (kwire's and Kafka's own console consumer)
//! see, exactly once; what it aborts they never see; a second instance with
//! the same transactional id fences the first.

use std::time::Duration;

use kwire_integration::*;
use kwire_meta::{Cluster, ClusterConfig};
use kwire_produce::{ProduceError, Producer, ProducerConfig, ProducerRecord};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

async fn txn_producer(b: &str, id: &str) -> Result<Producer, ProduceError> {
    let cluster = Cluster::new(ClusterConfig::builder().bootstrap(b.split(',')).build());
    Producer::new(cluster, ProducerConfig::builder().transactional_id(id).build().unwrap()).await
}

/// Sends `values` round-robin over `partitions` and waits for every ack.
async fn send_all(p: &Producer, topic: &str, values: &[String], partitions: i32) -> Result<(), ProduceError> {
    let mut pending = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let rec = ProducerRecord::new(topic, v.as_bytes()).partition(i as i32 % partitions);
        pending.push(p.send(rec).await?);
    }
    for f in pending {
        f.wait().await?;
    }
    Ok(())
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Sorted values a consumer read, with its isolation level.
fn read(b: &str, topic: &str, isolation: &str) -> Vec<String> {
    let run =
        kwire(b, &["consume", "-t", topic, "--from-beginning", "-e", "--isolation-level", isolation]).ok();
    let mut v: Vec<String> = run.stdout.lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn committed_transactions_are_read_once_and_aborted_ones_never() {
    let b = bootstrap();
    let t = unique_topic("txn-commit");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    let id = unique_topic("txn-id");
    rt().block_on(async {
        let p = txn_producer(&b, &id).await.unwrap();
        p.begin_transaction().unwrap();
        send_all(&p, &t, &values("one", 30), 3).await.unwrap();
        p.commit_transaction().await.unwrap();

        p.begin_transaction().unwrap();
        send_all(&p, &t, &values("aborted", 20), 3).await.unwrap();
        p.abort_transaction().await.unwrap();

        // Records not yet acknowledged when the abort comes fail as aborted.
        p.begin_transaction().unwrap();
        let pending = p.send(ProducerRecord::new(&t, b"unacked")).await.unwrap();
        p.abort_transaction().await.unwrap();
        let r = pending.wait().await;
        assert!(matches!(&r, Err(ProduceError::TransactionAborted) | Ok(_)), "{r:?}");

        p.begin_transaction().unwrap();
        send_all(&p, &t, &values("two", 10), 3).await.unwrap();
        p.commit_transaction().await.unwrap();

        // Outside a transaction nothing is sent.
        let e = p.send(ProducerRecord::new(&t, b"outside")).await.unwrap_err();
        assert!(e.to_string().contains("begin_transaction"), "{e}");
        p.close().await.unwrap();
    });
    let mut committed: Vec<String> = values("one", 30).into_iter().chain(values("two", 10)).collect();
    committed.sort();
    assert_eq!(read(&b, &t, "read_committed"), committed);
    let uncommitted = read(&b, &t, "read_uncommitted");
    assert!(
        uncommitted.len() >= 60 && uncommitted.iter().any(|v| v.starts_with("aborted")),
        "{uncommitted:?}"
    );

    // Kafka's console consumer agrees.
    let java = java_tool(
        "kafka-console-consumer",
        &[
            "--bootstrap-server",
            &b,
            "--topic",
            &t,
            "--from-beginning",
            "--isolation-level",
            "read_committed",
            "--timeout-ms",
            "10000",
        ],
        b"",
    );
    let mut java: Vec<String> = java.lines().map(str::to_owned).collect();
    java.sort();
    assert_eq!(java, committed);
}

#[test]
fn a_second_instance_with_the_same_id_fences_the_first_and_its_transaction_is_aborted() {
    let b = bootstrap();
    let t = unique_topic("txn-fence");
    kwire(&b, &["topics", "create", &t, "--partitions", "2"]).ok();
    let id = unique_topic("txn-id");
    rt().block_on(async {
        let first = txn_producer(&b, &id).await.unwrap();
        first.begin_transaction().unwrap();
        send_all(&first, &t, &values("zombie", 10), 2).await.unwrap();

        // The new instance's InitProducerId bumps the epoch and aborts the
        // first's open transaction.
        let second = txn_producer(&b, &id).await.unwrap();
        second.begin_transaction().unwrap();
        send_all(&second, &t, &values("live", 10), 2).await.unwrap();
        second.commit_transaction().await.unwrap();

        let e = first.commit_transaction().await.unwrap_err();
        assert!(matches!(e, ProduceError::Fenced { .. }), "{e:?}");
        assert!(first.begin_transaction().is_err(), "a fenced producer stays fenced");
        second.close().await.unwrap();
    });
    let mut live = values("live", 10);
    live.sort();
    assert_eq!(read(&b, &t, "read_committed"), live);
}

/// Values read back, as numbers, sorted.
fn numbers(b: &str, topic: &str, isolation: &str) -> Vec<u64> {
    let mut v: Vec<u64> = read(b, topic, isolation).iter().map(|s| s.parse().unwrap()).collect();
    v.sort_unstable();
    v
}

#[test]
fn cli_commits_every_n_records_and_at_the_end_of_input() {
    let b = bootstrap();
    let t = unique_topic("txn-cli");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    let id = unique_topic("txn-cli-id");
    let input: String = (1..=25_500).map(|i| format!("{i}\n")).collect();
    kwire_stdin(
        &b,
        &["produce", "-t", &t, "--transactional-id", &id, "--transaction-size", "1000"],
        Some(input.as_bytes()),
    )
    .ok();
    assert_eq!(numbers(&b, &t, "read_committed"), (1..=25_500).collect::<Vec<u64>>());
    // 26 transactions: 25 of 1000 and the rest at the end of input.
    let described = kwire(&b, &["transactions", "describe", "--transactional-id", &id]).ok();
    assert!(
        described.stdout.contains("CompleteCommit") || described.stdout.contains("Empty"),
        "{}",
        described.stdout
    );
}

#[test]
fn cli_a_failed_record_aborts_its_transaction_and_says_what_was_committed() {
    let b = bootstrap();
    let t = unique_topic("txn-cli-fail");
    kwire(&b, &["topics", "create", &t, "--partitions", "2"]).ok();
    let id = unique_topic("txn-cli-id");
    let input: String = (1..=1600)
        .map(|i| {
            if i == 1500 {
                format!("{{\"value\":\"{i}\",\"partition\":9}}\n")
            } else {
                format!("{{\"value\":\"{i}\"}}\n")
            }
        })
        .collect();
    let run = kwire_stdin(
        &b,
        &["produce", "-t", &t, "--format", "json", "--transactional-id", &id, "--transaction-size", "1000"],
        Some(input.as_bytes()),
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stderr);
    assert!(lines[0].starts_with("kwire: error: line 1500: partition 9 does not exist"), "{}", lines[0]);
    assert!(lines[0].ends_with("the open transaction was aborted"), "{}", lines[0]);
    assert!(
        lines[1].starts_with("kwire: committed: 1000 records in 1 transaction: partition "),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("offsets 0-999"), "{}", lines[1]);
    assert_eq!(
        lines[2],
        "kwire: aborted: 499 records (input lines 1001-1500); read_committed consumers never see them"
    );
    assert_eq!(numbers(&b, &t, "read_committed"), (1..=1000).collect::<Vec<u64>>());
}

#[test]
fn cli_killed_mid_stream_leaves_whole_transactions_and_the_next_instance_fences_it() {
    let b = bootstrap();
    let t = unique_topic("txn-cli-kill");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    let id = unique_topic("txn-cli-id");
    let path = std::env::temp_dir().join(format!("{t}.in"));
    let input: String = (0..2_000_000).map(|i| format!("{i}\n")).collect();
    std::fs::write(&path, input).unwrap();
    let p = path.to_str().unwrap();
    let producer = Background::kwire(
        "txn-kill",
        &b,
        &["produce", "-t", &t, "--input", p, "--transactional-id", &id, "--transaction-size", "5000"],
    );
    // Let a few transactions commit, then kill it in the middle of one.
    let _ = wait_until(std::time::Duration::from_secs(30), || numbers_quiet(&b, &t) >= 10_000);
    producer.signal(9);
    // A new instance with the same id: its InitProducerId aborts the old open transaction.
    kwire_stdin(&b, &["produce", "-t", &t, "--transactional-id", &id], Some(b"")).ok();
    let _ = std::fs::remove_file(&path);
    let got = numbers(&b, &t, "read_committed");
    assert!(got.len() >= 10_000, "{} records committed", got.len());
    let mut blocks: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    for w in got.windows(2) {
        assert_ne!(w[0], w[1], "duplicate {}", w[0]);
    }
    for v in &got {
        *blocks.entry(v / 5000).or_default() += 1;
    }
    assert!(blocks.values().all(|n| *n == 5000), "half transactions: {blocks:?}");
    // Nothing after the kill is left open.
    let hanging = kwire(&b, &["transactions", "find-hanging", "--broker-id", "1"]).ok();
    assert!(!hanging.stdout.contains(&t), "{}", hanging.stdout);
}

/// How many committed records a reader sees now (no assertion).
fn numbers_quiet(b: &str, topic: &str) -> usize {
    let run =
        kwire(b, &["consume", "-t", topic, "--from-beginning", "-e", "--isolation-level", "read_committed"]);
    run.stdout.lines().count()
}

/// (partition, value) of every committed record of `topic`.
fn read_committed_values(b: &str, topic: &str) -> Vec<(i32, String)> {
    read_committed_log(b, topic).into_iter().map(|r| (r.partition, r.value)).collect()
}

/// Input records whose copies are committed: the sum of the group's
/// committed offsets (they commit in the same transactions as the copies).
fn committed_input(b: &str, group: &str) -> u64 {
    let run = kwire(b, &["groups", "describe", group, "--format", "json"]);
    if run.code != Some(0) {
        return 0;
    }
    run.json()["offsets"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["current_offset"].as_u64()).sum())
        .unwrap_or(0)
}

/// The acceptance run of `kwire copy` on the 3-node cluster (RF 3, min ISR
/// 2): 200,000 records copied while the copier is killed with SIGKILL three
/// times mid-copy (each restart reuses its transactional id, fencing the
/// dead one's open transaction) and the leader of a target partition is
/// killed once under it. The target, read_committed, holds every source
/// record exactly once.
#[test]
fn copy_is_exactly_once_through_copier_kills_and_a_leader_kill() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let (src, dst) = (unique_topic("eos-src"), unique_topic("eos-dst"));
    for t in [&src, &dst] {
        kwire(
            &b,
            &[
                "topics",
                "create",
                t,
                "--partitions",
                "3",
                "--replication-factor",
                "3",
                "--config",
                "min.insync.replicas=2",
            ],
        )
        .ok();
    }
    // The input arrives in three parts, one before each round, so every
    // round has work left when its copier starts (a fast copier could
    // otherwise copy everything before the kill of the round before).
    let n = 210_000u64;
    let part = n / 3;
    let produce_part = |r: u64| {
        let input: String = (r * part..(r + 1) * part).map(|i| format!("src:{i}\n")).collect();
        kwire_stdin(&b, &["produce", "-t", &src, "--acks", "all"], Some(input.as_bytes())).ok();
    };
    let (group, id) = (unique_topic("eos-group"), unique_topic("eos-copier"));
    let args = [
        "copy",
        "--from",
        &src,
        "--to",
        &dst,
        "-g",
        &group,
        "--transactional-id",
        &id,
        "--transaction-size",
        "2000",
        // A killed member leaves the group within seconds, not 45.
        "--consumer-property",
        "session.timeout.ms=6000",
        "--consumer-property",
        "heartbeat.interval.ms=1000",
        // What it was doing, for the message of a failure.
        "-v",
    ];
    // Its first and last lines (a long log is cut in the middle).
    let tail = |text: String| -> String {
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() <= 100 {
            return lines.join("\n");
        }
        format!("{}\n...\n{}", lines[..70].join("\n"), lines[lines.len() - 30..].join("\n"))
    };
    let mut progress = Vec::new();
    for round in 0..3u64 {
        produce_part(round);
        let before = committed_input(&b, &group);
        let copier = Background::kwire("eos-copy", &b, &args);
        let target = before + part / 3;
        let moving = wait_until(Duration::from_secs(90), || committed_input(&b, &group) >= target);
        assert!(
            moving,
            "round {round}: the copier made no progress; its last lines:\n{}",
            tail(copier.stderr())
        );
        if round == 1 {
            // A leader of the target dies under the running copier.
            let leader =
                kwire(&b, &["topics", "describe", &dst, "--format", "json"]).ok().json()[0]["partitions"][0]
                    ["leader"]
                    .as_i64()
                    .unwrap();
            let killed = KilledNode::kill(leader);
            std::thread::sleep(Duration::from_secs(4));
            killed.restart();
        }
        copier.signal(9);
        progress.push(read_committed_values(&b, &dst).len());
    }
    let mut last = args.to_vec();
    last.extend(["--timeout-ms", "15000"]);
    let run = kwire_timeout(&b, &last, Duration::from_secs(400));
    assert_eq!(run.code, Some(0), "{}", tail(run.stderr.clone()));
    let read = read_committed_values(&b, &dst);
    let acked = [("src".to_owned(), (0..n).collect())].into_iter().collect();
    let report = checker::check(&read, &acked);
    assert!(
        report.missing.is_empty() && report.duplicates.is_empty(),
        "{} read, {} lost (e.g. {:?}), {} duplicated (e.g. {:?}); committed after each kill: {progress:?}",
        report.read,
        report.missing.len(),
        report.missing.first(),
        report.duplicates.len(),
        report.duplicates.first()
    );
    assert_eq!(read.len() as u64, n);
    assert!(progress.iter().all(|p| (*p as u64) < n), "every kill came mid-copy: {progress:?}");
    eprintln!(
        "copy: read_committed after each kill {progress:?}; last run: {}",
        run.stderr.lines().last().unwrap_or_default()
    );
}
