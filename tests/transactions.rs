//! `kwire transactions` against a real broker, side by side with Kafka's
//! `kafka-transactions.sh`: list / describe / describe-producers of a
//! transaction held open by Java's perf producer (same columns, same values
//! but the time-dependent ones), abort of a killed producer's open
//! transaction (by start offset and by producer id/epoch) after which
//! `read_committed` reads past it, and one-line errors for bad input.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kwire_integration::*;

/// Java's producer perf test in a transaction that stays open for
/// `txn_ms` (killed with SIGKILL when dropped).
struct JavaTxnProducer(Child);

impl JavaTxnProducer {
    fn start(topic: &str, txn_id: &str, txn_ms: u64) -> Self {
        let b = bootstrap();
        let child = Command::new(repo_root().join("scripts/kafka.sh"))
            .args(["tool", "kafka-producer-perf-test", "--topic", topic])
            .args(["--num-records", "1000000", "--record-size", "20", "--throughput", "200"])
            .args(["--producer-props", &format!("bootstrap.servers={b}")])
            // The coordinator must not time the transaction out during the test.
            .arg("transaction.timeout.ms=900000")
            .args(["--transactional-id", txn_id, "--transaction-duration-ms", &txn_ms.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn kafka-producer-perf-test");
        JavaTxnProducer(child)
    }

    /// SIGKILL (`scripts/kafka.sh tool` execs java: this is the JVM).
    fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for JavaTxnProducer {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn java_txn(args: &[&str]) -> String {
    let b = bootstrap();
    let mut all = vec!["--bootstrap-server", b.as_str()];
    all.extend_from_slice(args);
    java_tool("kafka-transactions", &all, b"")
}

fn kwire_txn(args: &[&str]) -> Run {
    let mut all = vec!["transactions"];
    all.extend_from_slice(args);
    kwire(&bootstrap(), &all)
}

/// A kafka-transactions.sh table: checks the layout (every cell padded to
/// its column's width and followed by a TAB, the line ending in a TAB) and
/// returns the trimmed cells.
fn cells(table: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = table.lines().collect();
    assert!(!lines.is_empty(), "empty table");
    let widths: Vec<usize> = lines[0].split('\t').map(str::len).collect();
    lines
        .iter()
        .map(|l| {
            assert!(l.ends_with('\t'), "line does not end with a TAB: {l:?}");
            let parts: Vec<&str> = l.split('\t').collect();
            assert_eq!(parts.len(), widths.len(), "column count: {l:?} vs header {:?}", lines[0]);
            for (p, w) in parts.iter().zip(&widths) {
                assert_eq!(p.len(), *w, "cell {p:?} not padded to {w} in {l:?}\n{table}");
            }
            parts[..parts.len() - 1].iter().map(|c| c.trim_end().to_owned()).collect()
        })
        .collect()
}

fn row_of<'a>(rows: &'a [Vec<String>], col: usize, value: &str) -> Option<&'a Vec<String>> {
    rows.iter().skip(1).find(|r| r[col] == value)
}

/// Waits until `describe-producers` shows an open transaction (a start offset)
/// on `partition` of `topic` with at least `min_seq` as the last sequence.
fn wait_open_txn(topic: &str, partition: i32, min_seq: i64) -> Vec<String> {
    let p = partition.to_string();
    let mut last = Vec::new();
    let ok = wait_until(Duration::from_secs(90), || {
        let r = kwire_txn(&["describe-producers", "--topic", topic, "--partition", &p]);
        if r.code != Some(0) {
            return false;
        }
        let rows = cells(&r.stdout);
        match rows.iter().skip(1).find(|r| r[5] != "None" && r[3].parse::<i64>().unwrap_or(-1) >= min_seq) {
            Some(row) => {
                last = row.clone();
                true
            }
            None => false,
        }
    });
    assert!(ok, "no open transaction on {topic}-{partition}");
    last
}

#[test]
fn list_describe_and_describe_producers_match_kafka_transactions_sh() {
    let b = bootstrap();
    let topic = unique_topic("txn-admin");
    let id = format!("{topic}-tx");
    kwire(&b, &["topics", "create", &topic, "--partitions", "2", "--replication-factor", "1"]).ok();
    let _producer = JavaTxnProducer::start(&topic, &id, 120_000);
    wait_open_txn(&topic, 0, 10);
    wait_open_txn(&topic, 1, 10);

    // list: the same row for our id; both tables well formed.
    let ours = cells(&kwire_txn(&["list"]).ok().stdout);
    let java = cells(&java_txn(&["list"]));
    assert_eq!(ours[0], ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"]);
    assert_eq!(ours[0], java[0]);
    let k = row_of(&ours, 0, &id).unwrap_or_else(|| panic!("{id} not listed: {ours:?}"));
    let j = row_of(&java, 0, &id).unwrap_or_else(|| panic!("{id} not listed by Java: {java:?}"));
    assert_eq!(k, j);
    assert_eq!(k[3], "Ongoing");
    let producer_id = k[2].clone();
    let coordinator = k[1].clone();

    // describe: everything but the duration equal (the transaction lasts
    // 120 s, so both runs see the same one).
    let ours = cells(&kwire_txn(&["describe", "--transactional-id", &id]).ok().stdout);
    let java = cells(&java_txn(&["describe", "--transactional-id", &id]));
    assert_eq!(ours[0], java[0]);
    assert_eq!(ours.len(), 2);
    let (k, j) = (&ours[1], &java[1]);
    assert_eq!(k[..7], j[..7], "\nkwire: {k:?}\njava:  {j:?}");
    assert_eq!(
        (k[0].as_str(), k[1].as_str(), k[2].as_str()),
        (coordinator.as_str(), id.as_str(), producer_id.as_str())
    );
    assert_eq!((k[4].as_str(), k[5].as_str()), ("Ongoing", "900000"));
    let dur: i64 = k[7].parse().expect("duration");
    assert!((0..600_000).contains(&dur), "duration {dur}");
    let set = |s: &str| s.split(',').map(str::to_owned).collect::<std::collections::BTreeSet<_>>();
    assert_eq!(set(&k[8]), set(&j[8]));
    assert_eq!(set(&k[8]), set(&format!("{topic}-0,{topic}-1")));

    // describe-producers on the leader and on an explicit broker: producer,
    // epochs and the transaction's start offset equal; sequence and timestamp
    // move on between the runs.
    for extra in [&[][..], &["--broker-id", "1"][..]] {
        let mut args = vec!["describe-producers", "--topic", &topic, "--partition", "0"];
        args.extend_from_slice(extra);
        let ours = cells(&kwire_txn(&args).ok().stdout);
        let java = cells(&java_txn(&args));
        assert_eq!(ours[0], java[0]);
        let k = row_of(&ours, 0, &producer_id).unwrap_or_else(|| panic!("producer missing: {ours:?}"));
        let j = row_of(&java, 0, &producer_id).unwrap_or_else(|| panic!("producer missing: {java:?}"));
        assert_eq!((&k[..3], &k[5]), (&j[..3], &j[5]), "\nkwire: {k:?}\njava:  {j:?}");
        assert!(k[3].parse::<i64>().expect("sequence") >= 10);
    }

    // find-hanging: a live transaction is not hanging, for kwire as for Kafka.
    let args = ["find-hanging", "--topic", topic.as_str(), "--max-transaction-timeout", "0"];
    let ours = kwire_txn(&args).ok().stdout;
    assert_eq!(ours, java_txn(&args));
    assert_eq!(
        ours,
        "Topic\tPartition\tProducerId\tProducerEpoch\tCoordinatorEpoch\tStartOffset\tLastTimestamp\tDuration(min)\t\n"
    );
}

#[test]
fn abort_of_a_killed_producers_transaction_unblocks_read_committed() {
    let b = bootstrap();
    let topic = unique_topic("txn-abort");
    let id = format!("{topic}-tx");
    kwire(&b, &["topics", "create", &topic, "--partitions", "2", "--replication-factor", "1"]).ok();
    let mut producer = JavaTxnProducer::start(&topic, &id, 600_000);
    let p0 = wait_open_txn(&topic, 0, 20);
    wait_open_txn(&topic, 1, 20);
    producer.kill9();
    // Committed records behind the open transaction: invisible to
    // read_committed until the transaction ends.
    for p in ["0", "1"] {
        kwire_stdin(&b, &["produce", "-t", &topic, "-p", p], Some(format!("after-{p}\n").as_bytes())).ok();
    }
    let committed = |p: &str| -> Vec<String> {
        consume_all(&b, &topic, &["-p", p, "--isolation-level", "read_committed"])
            .iter()
            .map(|r| r["value"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(committed("0").is_empty(), "the open transaction should hold back read_committed");
    assert!(committed("1").is_empty(), "the open transaction should hold back read_committed");

    // Partition 0: by start offset (brokers 3.0+).
    let start = p0[5].clone();
    let r = kwire_txn(&["abort", "--topic", &topic, "--partition", "0", "--start-offset", &start]).ok();
    assert!(r.stdout.is_empty(), "abort prints nothing on stdout (as Kafka's tool): {r:?}");
    assert_eq!(committed("0"), ["after-0"]);
    let rows = cells(&kwire_txn(&["describe-producers", "--topic", &topic, "--partition", "0"]).ok().stdout);
    let row = row_of(&rows, 0, &p0[0]).expect("producer still listed");
    assert_eq!(row[5], "None", "the transaction is closed on the partition");
    // Aborting it again: no open transaction starts there any more.
    let err = kwire_txn(&["abort", "--topic", &topic, "--partition", "0", "--start-offset", &start])
        .one_line_error();
    assert!(err.contains("no open transaction starts at offset"), "{err}");

    // Partition 1: by producer id, epoch and coordinator epoch (older brokers' form).
    let rows = cells(&kwire_txn(&["describe-producers", "--topic", &topic, "--partition", "1"]).ok().stdout);
    let p1 = rows.iter().skip(1).find(|r| r[5] != "None").expect("open transaction on partition 1").clone();
    kwire_txn(&[
        "abort",
        "--topic",
        &topic,
        "--partition",
        "1",
        "--producer-id",
        &p1[0],
        "--producer-epoch",
        &p1[1],
        "--coordinator-epoch",
        &p1[2],
    ])
    .ok();
    assert_eq!(committed("1"), ["after-1"]);
    // The aborted records stay invisible; read_uncommitted sees them all.
    let all = consume_all(&b, &topic, &["-p", "1"]);
    assert!(all.len() > 20, "read_uncommitted reads the aborted records too: {}", all.len());
}

#[test]
fn transactions_errors_are_one_line() {
    let topic = unique_topic("txn-err");
    kwire(&bootstrap(), &["topics", "create", &topic, "--partitions", "1", "--replication-factor", "1"]).ok();
    let missing = unique_topic("txn-nosuch");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["describe", "--transactional-id", "kwire-no-such-transactional-id"], "not found"),
        (vec!["describe-producers", "--topic", &missing, "--partition", "0"], "UNKNOWN_TOPIC_OR_PARTITION"),
        (vec!["describe-producers", "--topic", &topic, "--partition", "5"], "partition 5 does not exist"),
        (
            vec!["abort", "--topic", &topic, "--partition", "3", "--start-offset", "0"],
            "partition 3 does not exist",
        ),
        (vec!["describe-producers", "--topic", &topic], "--partition"),
        (vec!["describe"], "--transactional-id"),
        (vec!["abort", "--topic", &topic, "--partition", "0"], "--start-offset"),
        (vec!["abort", "--topic", &topic, "--partition", "0", "--producer-id", "5"], "--producer-epoch"),
        (vec!["abort", "--topic", &topic, "--partition", "0", "--start-offset", "7"], "no open transaction"),
        (vec!["find-hanging"], "--topic or --broker-id"),
        (vec!["find-hanging", "--broker-id", "1", "--partition", "0"], "requires --topic"),
        (vec!["list", "--duration-filter", "x"], "--duration-filter"),
    ];
    for (args, needle) in cases {
        let line = kwire_txn(&args).one_line_error();
        assert!(line.starts_with("kwire: error: "), "{args:?}: {line}");
        assert!(line.contains(needle), "{args:?}: {line:?} lacks {needle:?}");
    }
}
