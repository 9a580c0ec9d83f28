//! `kwire consume` and the fetcher against real brokers and real peers.

use std::time::Duration;

use kwire_integration::*;
use serde_json::{Value, json};

const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

fn values(recs: &[Value]) -> Vec<String> {
    recs.iter().map(|r| r["value"].as_str().unwrap_or("<non-text>").to_owned()).collect()
}

/// Lines a peer writes: keys, UTF-8 beyond ASCII, an empty value.
fn sample_lines() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> =
        (0..50).map(|i| (format!("key-{i}"), format!("value {i} ünïcødé ✓ {}", "x".repeat(i * 7)))).collect();
    v.push(("empty".into(), String::new()));
    v
}

#[test]
fn reads_what_kcat_wrote_with_each_codec() {
    let b = bootstrap();
    for codec in CODECS {
        let t = unique_topic(&format!("kcat-{codec}"));
        kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
        let lines = sample_lines();
        let input: String = lines.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
        kcat(
            &["-P", "-b", &b, "-t", &t, "-z", codec, "-K", "\t", "-H", "h=1", "-H", "h=2", "-H", "n"],
            input.as_bytes(),
        );
        let recs = consume_all(&b, &t, &[]);
        assert_eq!(recs.len(), lines.len(), "{codec}");
        for (i, (r, (k, v))) in recs.iter().zip(&lines).enumerate() {
            assert_eq!(r["offset"], i as i64, "{codec}");
            assert_eq!(r["key"], k.as_str(), "{codec}");
            assert_eq!(r["value"], v.as_str(), "{codec}");
            // Duplicate header keys in order, and a null header value.
            assert_eq!(
                r["headers"],
                json!([{"key": "h", "value": "1"}, {"key": "h", "value": "2"}, {"key": "n", "value": null}]),
                "{codec}"
            );
        }
    }
}

#[test]
fn reads_what_the_java_console_producer_wrote_with_each_codec() {
    let b = bootstrap();
    for codec in CODECS {
        let t = unique_topic(&format!("java-{codec}"));
        kwire(&b, &["topics", "create", &t, "--partitions", "2"]).ok();
        let lines = sample_lines();
        let input: String =
            lines.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}:{v}\n")).collect();
        java_tool(
            "ConsoleProducer",
            &[
                "--bootstrap-server",
                &b,
                "--topic",
                &t,
                "--compression-codec",
                codec,
                "--reader-property",
                "parse.key=true",
                "--reader-property",
                "key.separator=:",
            ],
            input.as_bytes(),
        );
        let recs = consume_all(&b, &t, &[]);
        let mut got: Vec<(String, String)> = recs
            .iter()
            .map(|r| (r["key"].as_str().unwrap().to_owned(), r["value"].as_str().unwrap().to_owned()))
            .collect();
        let mut want: Vec<(String, String)> = lines.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{codec}");
    }
}

#[test]
fn binary_values_are_base64_in_json_and_raw_in_text() {
    let b = bootstrap();
    let t = unique_topic("binary");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    kcat(&["-P", "-b", &b, "-t", &t], b"\xff\xfe\x00ok\n");
    let recs = consume_all(&b, &t, &[]);
    assert_eq!(recs[0]["value"], json!({"base64": "//4Ab2s="}));
    let raw = kwire(&b, &["consume", "-t", &t, "--from-beginning", "-e"]).ok();
    assert_eq!(raw.stdout_bytes, b"\xff\xfe\x00ok\n", "text output is the raw bytes");
}

#[test]
fn read_committed_skips_aborted_transactions_from_another_client() {
    let b = bootstrap();
    let t = unique_topic("txn");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    let recs: Vec<Value> = ["c1", "c2", "a1", "a2", "c3", "c4"]
        .iter()
        .map(|v| json!({"topic": t, "key": null, "value": v}))
        .collect();
    // Transactions of two records; the second (index 1: a1, a2) is aborted.
    peer_produce(&b, &["--transactional-id", &unique_topic("tid"), "--txn-size", "2", "--abort", "1"], &recs);
    let committed = consume_all(&b, &t, &["--isolation-level", "read_committed"]);
    assert_eq!(values(&committed), vec!["c1", "c2", "c3", "c4"]);
    let all = consume_all(&b, &t, &["--isolation-level", "read_uncommitted"]);
    assert_eq!(values(&all), vec!["c1", "c2", "a1", "a2", "c3", "c4"]);
    // Offsets skip the transaction markers.
    let offs: Vec<i64> = committed.iter().map(|r| r["offset"].as_i64().unwrap()).collect();
    assert_eq!(offs.len(), 4);
    assert!(offs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn exit_at_end_on_empty_and_non_empty_topics() {
    let b = bootstrap();
    let t = unique_topic("empty");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    let run = kwire(&b, &["consume", "-t", &t, "--from-beginning", "-e"]).ok();
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("Processed a total of 0 messages"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);

    let recs: Vec<Value> = (0..90)
        .map(|i| json!({"topic": t, "partition": i % 3, "key": format!("k{i}"), "value": format!("{i}")}))
        .collect();
    peer_produce(&b, &[], &recs);
    let got = consume_all(&b, &t, &[]);
    assert_eq!(got.len(), 90);
    // Order within each partition is the produce order; offsets are 0..30.
    for p in 0..3 {
        let vals: Vec<i64> = got
            .iter()
            .filter(|r| r["partition"] == p)
            .map(|r| r["value"].as_str().unwrap().parse().unwrap())
            .collect();
        let want: Vec<i64> = (0..90).filter(|i| i % 3 == p).collect();
        assert_eq!(vals, want, "partition {p}");
        let offs: Vec<i64> =
            got.iter().filter(|r| r["partition"] == p).map(|r| r["offset"].as_i64().unwrap()).collect();
        assert_eq!(offs, (0..30).collect::<Vec<_>>());
    }
    // --exit-at-end from latest reads nothing.
    let run = kwire(&b, &["consume", "-t", &t, "-e"]).ok();
    assert!(run.stdout.is_empty());
    // Exact counts with --max-messages, and one partition only.
    for n in [1usize, 7, 30] {
        let run =
            kwire(&b, &["consume", "-t", &t, "--from-beginning", "--max-messages", &n.to_string()]).ok();
        assert_eq!(run.stdout.lines().count(), n);
        assert!(run.stderr.contains(&format!("Processed a total of {n} messages")));
    }
    let p1 = consume_all(&b, &t, &["-p", "1"]);
    assert_eq!(p1.len(), 30);
    assert!(p1.iter().all(|r| r["partition"] == 1));
    // -N: the last N of each partition.
    let tail = consume_all(&b, &t, &["-o", "-2"]);
    assert_eq!(tail.len(), 2 * 3);
    assert!(tail.iter().all(|r| r["offset"].as_i64().unwrap() >= 28), "{tail:?}");
}

#[test]
fn offsets_by_timestamp_find_the_first_record_at_or_after() {
    let b = bootstrap();
    let t = unique_topic("ts");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    let t0: i64 = 1_700_000_000_000;
    let recs: Vec<Value> = (0..10)
        .map(|i| json!({"topic": t, "partition": 0, "value": format!("r{i}"), "timestamp": t0 + i * 1000}))
        .collect();
    peer_produce(&b, &[], &recs);
    let at = |spec: String| values(&consume_all(&b, &t, &["-o", &spec]));
    assert_eq!(at(format!("@{}", t0 + 5000))[0], "r5");
    assert_eq!(at(format!("@{}", t0 + 4001))[0], "r5");
    assert_eq!(at(format!("@{}", t0)).len(), 10);
    assert_eq!(at("@2023-11-14T22:13:25Z".to_owned())[0], "r5"); // t0 + 5 s
    assert!(at(format!("@{}", t0 + 60_000)).is_empty(), "past the end reads nothing");
    let ts: Vec<i64> = consume_all(&b, &t, &[]).iter().map(|r| r["timestamp"].as_i64().unwrap()).collect();
    assert_eq!(ts, (0..10).map(|i| t0 + i * 1000).collect::<Vec<_>>());
    // -3: the last three; an absolute offset.
    assert_eq!(at("-3".to_owned()), vec!["r7", "r8", "r9"]);
    assert_eq!(at("8".to_owned()), vec!["r8", "r9"]);
}

#[test]
fn java_console_consumer_flags_and_properties() {
    let b = bootstrap();
    let t = unique_topic("props");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    peer_produce(
        &b,
        &[],
        &[
            json!({"topic": t, "key": "k", "value": "v", "timestamp": 1000, "headers": [["a", "1"], ["b", null]]}),
            json!({"topic": t, "key": null, "value": null}),
        ],
    );
    let run = kwire(
        &b,
        &[
            "consume",
            "--topic",
            &t,
            "--from-beginning",
            "--max-messages",
            "2",
            "--property",
            "print.key=true",
            "--property",
            "print.timestamp=true",
            "--property",
            "print.partition=true",
            "--property",
            "print.offset=true",
            "--property",
            "print.headers=true",
            "--property",
            "key.separator=|",
        ],
    )
    .ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "CreateTime:1000|Partition:0|Offset:0|a:1,b:null|k|v");
    assert!(lines[1].ends_with("|Partition:0|Offset:1|NO_HEADERS|null|null"), "{}", lines[1]);
    let line = kwire(&b, &["consume", "-t", &t, "--print", "bogus"]).one_line_error();
    assert!(line.contains("bogus"), "{line}");
    let line = kwire(&b, &["consume", "-t", &t, "-o", "sometime"]).one_line_error();
    assert!(line.contains("sometime"), "{line}");
    let line = kwire(&b, &["consume", "-t", &t, "--isolation-level", "dirty"]).one_line_error();
    assert!(line.contains("read_committed"), "{line}");
    let line = kwire(&b, &["consume", "-t", &unique_topic("nope"), "-e"]).one_line_error();
    assert!(line.contains("does not exist"), "{line}");
    let line = kwire(&b, &["consume", "-t", &t, "-p", "5", "-e"]).one_line_error();
    assert!(line.contains("partition 5"), "{line}");
}

/// A consumer reading while the leader of its partitions is killed and
/// restarted ends with every record exactly once, in order per partition.
#[test]
fn survives_leader_failover_exactly_once_in_order() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let t = unique_topic("failover-read");
    kwire(&b, &["topics", "create", &t, "--partitions", "3", "--replication-factor", "3"]).ok();
    let n = 30_000;
    let input: String = (0..n).map(|i| format!("{i}\n")).collect();
    kcat(&["-P", "-b", &b, "-t", &t, "-X", "acks=all", "-z", "lz4"], input.as_bytes());

    // Read in the background, slowly: the test drains kwire's stdout at about
    // 3 records/ms, so the pipe's back-pressure keeps the read going for ~10 s
    // and the leader dies in the middle of it.
    let mut child = std::process::Command::new(kwire_bin())
        .args(["-b", &b, "consume", "-t", &t, "--from-beginning", "-e", "--format", "json"])
        .args(["--consumer-property", "max.partition.fetch.bytes=4096"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = std::time::Instant::now();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for (i, line) in std::io::BufReader::new(stdout).lines().enumerate() {
            lines.push(line.unwrap());
            if i % 3 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        lines
    });
    std::thread::sleep(Duration::from_millis(2000));
    let leader =
        kwire(&b, &["topics", "describe", &t, "--format", "json"]).ok().json()[0]["partitions"][0]["leader"]
            .as_i64()
            .unwrap();
    let killed = KilledNode::kill(leader);
    let killed_at = started.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    killed.restart();
    let lines = reader.join().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "kwire consume failed");
    assert!(started.elapsed() > killed_at + Duration::from_secs(1), "the read ended before the failover");
    let run_stdout = lines.join("\n");
    let mut per_part: Vec<Vec<i64>> = vec![Vec::new(); 3];
    let mut values = std::collections::BTreeSet::new();
    for line in run_stdout.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        per_part[r["partition"].as_u64().unwrap() as usize].push(r["offset"].as_i64().unwrap());
        assert!(values.insert(r["value"].as_str().unwrap().parse::<i64>().unwrap()), "duplicate {line}");
    }
    assert_eq!(values.len(), n, "every record exactly once");
    for (p, offs) in per_part.iter().enumerate() {
        assert!(offs.iter().enumerate().all(|(i, o)| *o == i as i64), "partition {p} out of order or gapped");
    }
}

/// A node of the 3-node cluster frozen with SIGSTOP (it stays a process, but
/// answers nothing: the controller fences it and shrinks the ISR). Thawed on
/// drop, whatever happens.
struct Frozen(String);

impl Frozen {
    fn node(node: u32) -> Frozen {
        let status = kafka_sh(&["status", "--name", &cluster3_name()]);
        let pid = status
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.first() == Some(&node.to_string().as_str()) && w.last() == Some(&"up"))
            .and_then(|w| w.get(1).map(|p| p.to_string()))
            .unwrap_or_else(|| panic!("node {node} is not up: {status}"));
        let ok = std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success();
        assert!(ok, "SIGSTOP {pid}");
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-CONT", &self.0]).status();
    }
}

/// KIP-320 against a real broker. A topic on nodes 2 (leader) and 3 with
/// unclean leader election allowed: node 3 is frozen out of the ISR, ten
/// more records go to node 2 only and a running consumer reads them; then
/// node 2 dies, node 3 comes back and is elected uncleanly, so its log,
/// which ends at offset 5, is the partition's. The consumer's next fetch
/// names the epoch of what it read; the leader answers with the diverging
/// epoch, and the consumer goes back to offset 5, says so, and reads the new
/// records written there.
#[test]
fn a_running_consumer_detects_log_truncation_after_an_unclean_election() {
    let _g = trio_exclusive();
    let b = bootstrap3();
    let first = b.split(',').next().unwrap().to_owned();
    let t = unique_topic("truncated");
    java_tool(
        "kafka-topics",
        &[
            "--bootstrap-server",
            &b,
            "--create",
            "--topic",
            &t,
            "--replica-assignment",
            "2:3",
            "--config",
            "unclean.leader.election.enable=true",
            "--config",
            "min.insync.replicas=1",
        ],
        b"",
    );
    let produce = |values: &[String]| {
        let input: String = values.iter().map(|v| format!("{v}\n")).collect();
        kwire_stdin(&first, &["produce", "-t", &t, "--acks", "all"], Some(input.as_bytes())).ok();
    };
    let describe =
        || kwire(&first, &["topics", "describe", &t, "--format", "json"]).json()[0]["partitions"][0].clone();
    produce(&(0..5).map(|i| format!("old{i}")).collect::<Vec<_>>());
    let consumer = Background::kwire(
        "truncated",
        &first,
        &["consume", "-t", &t, "--from-beginning", "--property", "print.offset=true"],
    );
    let read = |n: usize| wait_until(Duration::from_secs(90), || consumer.lines().len() >= n);
    assert!(read(5), "read the first five: {}", consumer.stderr());

    let frozen = Frozen::node(3);
    assert!(
        wait_until(Duration::from_secs(90), || describe()["isr"] == json!([2])),
        "node 3 never left the ISR: {}",
        describe()
    );
    produce(&(5..15).map(|i| format!("old{i}")).collect::<Vec<_>>());
    assert!(read(15), "read all fifteen: {:?} {}", consumer.lines(), consumer.stderr());

    let killed = KilledNode::kill(2);
    drop(frozen);
    assert!(
        wait_until(Duration::from_secs(90), || describe()["leader"] == json!(3)),
        "node 3 was never elected: {}",
        describe()
    );
    produce(&(5..8).map(|i| format!("new{i}")).collect::<Vec<_>>());
    assert!(read(18), "read the new records: {:?} {}", consumer.lines(), consumer.stderr());
    killed.restart();
    let lines = consumer.lines();
    let expected: Vec<String> = (0..15)
        .map(|i| format!("Offset:{i}\told{i}"))
        .chain((5..8).map(|i| format!("Offset:{i}\tnew{i}")))
        .collect();
    assert_eq!(lines, expected);
    let err = consumer.stderr();
    assert!(
        err.contains(&format!(
            "{t}-0: the log was truncated below offset 15 (unclean leader election?); resetting to 5"
        )),
        "{err}"
    );
}
