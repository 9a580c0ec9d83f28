//! The library examples (`crates/kwire/examples/`) run against the test
//! broker and do what they say. `cargo build --workspace --all-targets`
//! (what `scripts/test.sh` runs) builds them; so does `cargo build -p kwire --examples`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kwire_integration::*;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/integration-<hash> -> target/<profile>/examples/<name>
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("examples").join(name);
    assert!(bin.exists(), "{} not found: build it first (cargo build -p kwire --examples)", bin.display());
    bin
}

/// A running example: its stdout line by line, its stderr at the end.
struct Running {
    name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Running {
    fn start(name: &str, args: &[&str]) -> Running {
        let mut child = Command::new(example(name))
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the example");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Running { name: name.to_owned(), child, lines, seen: Vec::new(), stderr }
    }

    /// Waits for a stdout line starting with `prefix`.
    fn wait_for(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.starts_with(prefix) {
                        return l;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "{}: no line starting with {prefix:?}; stdout so far: {:#?}",
                        self.name, self.seen
                    );
                }
            }
        }
    }

    /// Waits for the example to end (killing it after `timeout`); its whole
    /// stdout. Panics unless it succeeded.
    fn finish(mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break Some(s);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.seen.extend(self.lines.iter());
        let stderr = self.stderr.join().unwrap_or_default();
        match status {
            Some(s) if s.success() => self.seen,
            Some(s) => panic!("{} failed ({s}): {:#?}\n{stderr}", self.name, self.seen),
            None => panic!("{} still running after {timeout:?}: {:#?}\n{stderr}", self.name, self.seen),
        }
    }
}

fn run_example(name: &str, args: &[&str]) -> Vec<String> {
    Running::start(name, args).finish(Duration::from_secs(120))
}

/// Record lines (`partition@offset ...`) of an example's output, without the position.
fn record_lines(out: &[String]) -> Vec<String> {
    out.iter()
        .filter_map(|l| {
            let (pos, rest) = l.split_once(' ')?;
            let (p, o) = pos.split_once('@')?;
            (p.parse::<i32>().is_ok() && o.parse::<i64>().is_ok()).then(|| rest.to_owned())
        })
        .collect()
}

fn produce_lines(b: &str, topic: &str, lines: &[String]) {
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    kwire_stdin(b, &["produce", "-t", topic, "--key-separator", ":"], Some(input.as_bytes())).ok();
}

#[test]
fn the_produce_example_writes_every_record_it_reports() {
    let b = bootstrap();
    let t = unique_topic("example-produce");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    let out = run_example("produce", &[&b, &t, "500"]).join("\n");
    assert!(out.contains("first record: partition"), "{out}");
    assert!(out.contains("500 acknowledged, 0 failed"), "{out}");
    assert_eq!(read_all_values(&b, &t).len(), 501);
}

#[test]
fn the_zero_copy_consume_example_reads_every_record_to_the_end() {
    let b = bootstrap();
    let t = unique_topic("example-consume-zc");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    produce_lines(&b, &t, &(0..300).map(|i| format!("k{i}:v{i}")).collect::<Vec<_>>());
    let out = run_example("consume_zero_copy", &[&b, &t]);
    assert!(out.contains(&"300 records read".to_owned()), "{out:#?}");
    assert_eq!(out.iter().filter(|l| l.starts_with("partition ")).count(), 3, "{out:#?}");
}

#[test]
fn the_consume_example_reads_from_earliest_exactly_what_is_there() {
    let b = bootstrap();
    let t = unique_topic("example-consume");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    let sent: Vec<String> = (0..300).map(|i| format!("k{i}:v{i}")).collect();
    produce_lines(&b, &t, &sent);
    let out = run_example("consume", &[&b, &t, "earliest"]);
    let got: Vec<String> = record_lines(&out).iter().map(|l| l.replacen('=', ":", 1)).collect();
    assert_eq!(got.len(), 300, "{out:#?}");
    assert_eq!(got.iter().collect::<BTreeSet<_>>(), sent.iter().collect::<BTreeSet<_>>());
    assert_eq!(out.last().map(String::as_str), Some("300 records read"));
    assert_eq!(out.iter().filter(|l| l.starts_with("partition ")).count(), 3, "{out:#?}");
}

#[test]
fn the_consume_example_from_latest_reads_only_new_records() {
    let b = bootstrap();
    let t = unique_topic("example-latest");
    kwire(&b, &["topics", "create", &t, "--partitions", "2"]).ok();
    produce_lines(&b, &t, &(0..50).map(|i| format!("k{i}:old{i}")).collect::<Vec<_>>());
    let mut run = Running::start("consume", &[&b, &t, "latest", "20"]);
    // Positions are fixed once it says where it reads from.
    run.wait_for("reading ", Duration::from_secs(60));
    let new: Vec<String> = (0..20).map(|i| format!("k{i}:new{i}")).collect();
    produce_lines(&b, &t, &new);
    let out = run.finish(Duration::from_secs(60));
    let got: BTreeSet<String> = record_lines(&out).iter().map(|l| l.replacen('=', ":", 1)).collect();
    assert_eq!(got, new.iter().cloned().collect::<BTreeSet<_>>(), "{out:#?}");
    assert_eq!(out.last().map(String::as_str), Some("20 records read"));
}

#[test]
fn the_consume_example_starts_at_a_timestamp() {
    let b = bootstrap();
    let t = unique_topic("example-timestamp");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    let t0 = 1_700_000_000_000i64;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let cfg = kwire_meta::ClusterConfig::builder().bootstrap([b.clone()]).build();
        let cfg_p = kwire_produce::ProducerConfig::builder().build().expect("config");
        let producer =
            kwire_produce::Producer::new(kwire_meta::Cluster::new(cfg), cfg_p).await.expect("producer");
        for i in 0..10 {
            let v = format!("v{i}");
            let rec = kwire_produce::ProducerRecord::new(&t, v.as_bytes()).timestamp(t0 + i * 1_000);
            producer.send_and_wait(rec).await.expect("produce");
        }
        producer.close().await.expect("close");
    });
    let from = format!("timestamp={}", t0 + 4_500);
    let out = run_example("consume", &[&b, &t, &from]);
    assert_eq!(out.first().map(String::as_str), Some(format!("reading {t} from 0@5").as_str()), "{out:#?}");
    assert_eq!(record_lines(&out), ["=v5", "=v6", "=v7", "=v8", "=v9"], "{out:#?}");
    assert_eq!(out.last().map(String::as_str), Some("5 records read"));
}

#[test]
fn the_group_consumer_example_commits_and_a_second_run_resumes_there() {
    let b = bootstrap();
    let t = unique_topic("example-group");
    let group = unique_topic("example-group-g");
    kwire(&b, &["topics", "create", &t, "--partitions", "2"]).ok();
    let sent: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
    produce_lines(&b, &t, &sent.iter().map(|v| format!("k{v}:{v}")).collect::<Vec<_>>());

    let first = run_example("group_consumer", &[&b, &t, &group, "40"]);
    let first_got = record_lines(&first);
    assert_eq!(first_got.len(), 40, "{first:#?}");
    assert!(first.last().is_some_and(|l| l.starts_with("40 records processed; committed ")), "{first:#?}");

    let second = run_example("group_consumer", &[&b, &t, &group]);
    let second_got = record_lines(&second);
    assert!(second.last().is_some_and(|l| l.starts_with("60 records processed; committed ")), "{second:#?}");
    let a: BTreeSet<&String> = first_got.iter().collect();
    let z: BTreeSet<&String> = second_got.iter().collect();
    assert!(a.is_disjoint(&z), "the second run re-read committed records: {second:#?}");
    assert_eq!(a.union(&z).copied().collect::<BTreeSet<_>>(), sent.iter().collect::<BTreeSet<_>>());
}

#[test]
fn the_exactly_once_example_copies_each_record_once_and_a_second_run_resumes() {
    let b = bootstrap();
    let (from, to) = (unique_topic("example-eos-in"), unique_topic("example-eos-out"));
    let (group, id) = (unique_topic("example-eos-g"), unique_topic("example-eos-id"));
    for t in [&from, &to] {
        kwire(&b, &["topics", "create", t, "--partitions", "2"]).ok();
    }
    let lines = |r: std::ops::Range<u32>| r.map(|i| format!("k{i}:v{i}")).collect::<Vec<_>>();
    produce_lines(&b, &from, &lines(0..300));
    let first = run_example("exactly_once", &[&b, &from, &to, &group, &id]);
    assert_eq!(first.last().map(|l| l.split(" in ").next()), Some(Some("copied 300 records")), "{first:#?}");
    produce_lines(&b, &from, &lines(300..400));
    let second = run_example("exactly_once", &[&b, &from, &to, &group, &id]);
    assert_eq!(
        second.last().map(|l| l.split(" in ").next()),
        Some(Some("copied 100 records")),
        "{second:#?}"
    );
    let read = kwire(
        &b,
        &[
            "consume",
            "-t",
            &to,
            "--from-beginning",
            "-e",
            "--isolation-level",
            "read_committed",
            "--print",
            "key",
        ],
    )
    .ok();
    let mut got: Vec<String> = read.stdout.lines().map(|l| l.replace('\t', ":")).collect();
    got.sort();
    let mut want: Vec<String> = (0..400).map(|i| format!("k{i}:V{i}")).collect();
    want.sort();
    assert_eq!(got, want, "each record once, keyed, transformed");
}

#[test]
fn the_admin_example_creates_describes_and_deletes_a_topic() {
    let b = bootstrap();
    let t = unique_topic("example-admin");
    let out = run_example("admin", &[&b, &t]);
    let want_first = format!("created {t}: 3 partitions, replication factor 1");
    assert_eq!(out.first(), Some(&want_first), "{out:#?}");
    assert_eq!(out.iter().filter(|l| l.starts_with("partition ")).count(), 3, "{out:#?}");
    assert!(out.contains(&"retention.ms = 3600000".to_owned()), "{out:#?}");
    assert_eq!(out.last(), Some(&format!("deleted {t}")), "{out:#?}");
    assert!(!list_topics(&b).contains(&t));
}

#[test]
fn the_voters_example_counts_by_gender_and_party() {
    let b = bootstrap();
    let t = unique_topic("example-voters");
    kwire(&b, &["topics", "create", &t, "--partitions", "2"]).ok();
    // 30 voters: F when i % 3 == 0 (10), R when i is even (15).
    let voters: Vec<String> = (0..30)
        .map(|i| {
            let g = if i % 3 == 0 { "F" } else { "M" };
            let p = if i % 2 == 0 { "R" } else { "D" };
            format!(r#"{{"gender":"{g}","age":{},"party":"{p}"}}"#, 20 + i)
        })
        .collect();
    kwire_stdin(&b, &["produce", "-t", &t], Some((voters.join("\n") + "\n").as_bytes())).ok();
    let out = run_example("voters", &[&b, &t]);
    let table: Vec<&str> = out.iter().map(String::as_str).skip_while(|l| *l != "Batch: 0").collect();
    assert_eq!(
        table,
        [
            "Batch: 0",
            "-------------------------------------------",
            "+------+-----+-----+",
            "|gender|party|count|",
            "+------+-----+-----+",
            "|     F|    D|    5|",
            "|     F|    R|    5|",
            "|     M|    D|   10|",
            "|     M|    R|   10|",
            "+------+-----+-----+",
            "",
        ],
        "{out:#?}"
    );
}
