//! Shared helpers for the integration suite, which runs against a real Apache
//! Kafka broker started by `scripts/kafka.sh` (see `scripts/test.sh`).
//!
//! - `KWIRE_TEST_BOOTSTRAP`: single-node broker (default `127.0.0.1:9092`).
//! - `KWIRE_TEST_BOOTSTRAP_3`: 3-node cluster (default `127.0.0.1:19092`).
//! - `KWIRE_TEST_CLUSTER3_NAME`: `scripts/kafka.sh --name` of that cluster, for
//!   fault tests that kill and restart nodes (default `trio`).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Bootstrap address of the single-node broker.
pub fn bootstrap() -> String {
    std::env::var("KWIRE_TEST_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

/// Bootstrap address of the 3-node cluster.
pub fn bootstrap3() -> String {
    std::env::var("KWIRE_TEST_BOOTSTRAP_3").unwrap_or_else(|_| "127.0.0.1:19092".to_owned())
}

/// A topic name unique to this test run.
pub fn unique_topic(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{}-{:x}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), nanos)
}

/// Path of the repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// Path of the `kwire` binary built alongside this test executable.
pub fn kwire_bin() -> PathBuf {
    if let Ok(p) = std::env::var("KWIRE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/integration-<hash> -> target/<profile>/kwire
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("kwire");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build -p kwire-cli), or set KWIRE_BIN",
        bin.display()
    );
    bin
}

/// Result of running the kwire binary.
#[derive(Debug)]
pub struct Run {
    /// Exit code (None if killed by a signal).
    pub code: Option<i32>,
    /// Captured stdout (lossy UTF-8).
    pub stdout: String,
    /// Captured stdout, raw bytes.
    pub stdout_bytes: Vec<u8>,
    /// Captured stderr.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Run {
    /// Panics with the full output unless the run succeeded.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "kwire failed: {self:#?}");
        self
    }

    /// Panics unless the run failed with a one-line error on stderr; returns that line.
    /// `kwire produce`'s report of the input lines not written (`kwire: partition N: lines …`,
    /// where they were saved) may follow the error line: it is a report, not more errors.
    pub fn one_line_error(&self) -> String {
        assert_ne!(self.code, Some(0), "expected failure: {self:#?}");
        assert!(self.code.is_some(), "killed by a signal: {self:#?}");
        let report = |l: &str| {
            [
                "kwire: partition ",
                "kwire: wrote the ",
                "kwire: --failed-output ",
                "kwire: could not write the failed",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        };
        let lines: Vec<&str> = self.stderr.lines().filter(|l| !l.trim().is_empty() && !report(l)).collect();
        assert_eq!(lines.len(), 1, "expected one stderr line: {self:#?}");
        assert!(!self.stderr.contains("panicked"), "panic: {self:#?}");
        assert!(!self.stderr.contains("RUST_BACKTRACE"), "backtrace hint: {self:#?}");
        lines[0].to_owned()
    }

    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Runs `kwire` with `args` against `bootstrap` (stdin empty).
pub fn kwire(bootstrap: &str, args: &[&str]) -> Run {
    kwire_stdin(bootstrap, args, None)
}

/// Runs `kwire` with `args`, feeding `stdin`.
pub fn kwire_stdin(bootstrap: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(kwire_bin());
    cmd.env_remove("KWIRE_BOOTSTRAP_SERVERS")
        .env_remove("KWIRE_LOG")
        .arg("-b")
        .arg(bootstrap)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn kwire");
    if let Some(data) = stdin {
        use std::io::Write;
        let mut si = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = si.write_all(&data);
        });
    }
    let out: Output = child.wait_with_output().expect("wait kwire");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stdout_bytes: out.stdout.clone(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// Runs `scripts/kafka.sh` with `args` (for fault tests), panicking on failure.
pub fn kafka_sh(args: &[&str]) -> String {
    let out =
        Command::new(repo_root().join("scripts/kafka.sh")).args(args).output().expect("run scripts/kafka.sh");
    assert!(
        out.status.success(),
        "scripts/kafka.sh {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Name of the 3-node cluster instance for `scripts/kafka.sh --name`.
/// The single-node instance's name (scripts/kafka.sh --name).
pub fn cluster1_name() -> String {
    std::env::var("KWIRE_TEST_CLUSTER1_NAME").unwrap_or_else(|_| "kwire-test-1".to_owned())
}

/// The data directory (log.dirs) of the single-node instance's broker.
pub fn cluster1_data_dir() -> std::path::PathBuf {
    let env = kafka_sh(&["env", "--name", &cluster1_name()]);
    let dir = env
        .lines()
        .find_map(|l| l.strip_prefix("KWIRE_KAFKA_INSTANCE_DIR="))
        .unwrap_or_else(|| panic!("no KWIRE_KAFKA_INSTANCE_DIR in scripts/kafka.sh env: {env}"));
    std::path::PathBuf::from(dir).join("node1").join("data")
}

pub fn cluster3_name() -> String {
    std::env::var("KWIRE_TEST_CLUSTER3_NAME").unwrap_or_else(|_| "trio".to_owned())
}

static TRIO: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Shared use of the 3-node cluster: many tests at once, but never while a
/// fault test is killing nodes.
pub fn trio_shared() -> std::sync::RwLockReadGuard<'static, ()> {
    let g = TRIO.read().unwrap_or_else(|p| p.into_inner());
    heal_trio();
    g
}

/// Exclusive use of the 3-node cluster, for tests that kill and restart nodes.
pub fn trio_exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    let g = TRIO.write().unwrap_or_else(|p| p.into_inner());
    heal_trio();
    g
}

/// Starts any node of the 3-node cluster that an earlier (failed) fault
/// test left down, so every test begins with three live brokers.
fn heal_trio() {
    let name = cluster3_name();
    let out = Command::new(repo_root().join("scripts/kafka.sh"))
        .args(["status", "--name", &name])
        .output()
        .expect("scripts/kafka.sh status");
    let text = String::from_utf8_lossy(&out.stdout);
    let down: Vec<String> = text
        .lines()
        .filter(|l| l.trim_end().ends_with("down"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|n| n.parse::<u32>().is_ok())
        .collect();
    for n in down {
        kafka_sh(&["start-node", &n, "--name", &name]);
    }
    // A node that is up may still be catching up: a fault test that kills
    // another one then would leave partitions below min.insync.replicas.
    // Wait (a while, not forever) until every replica is back in its ISR.
    // A partition with one replica is left out: after its broker was killed
    // (an unclean shutdown) Kafka 4's eligible leader replicas (KIP-966) keep
    // it leaderless for good; it cannot catch up, and tests that need such
    // partitions on this cluster delete them ([`DeleteTopicOnDrop`]).
    let b = bootstrap3();
    let catching_up = |run: &Run| -> Vec<String> {
        let one_replica = |l: &str| {
            l.split('\t').find_map(|f| f.strip_prefix("Replicas: ")).is_some_and(|r| !r.contains(','))
        };
        run.stdout.lines().filter(|l| !l.trim().is_empty() && !one_replica(l)).map(str::to_owned).collect()
    };
    let healthy = wait_until(Duration::from_secs(90), || {
        let run = kwire(&b, &["topics", "describe", "--under-replicated-partitions"]);
        run.code == Some(0) && catching_up(&run).is_empty()
    });
    if !healthy {
        let run = kwire(&b, &["topics", "describe", "--under-replicated-partitions"]);
        eprintln!(
            "warning: the 3-node cluster still has under-replicated partitions after 90 s:\n{}{}",
            run.stdout, run.stderr
        );
    }
}

/// Deletes a topic when dropped (at the end of a test, passed or failed).
pub struct DeleteTopicOnDrop {
    bootstrap: String,
    topic: String,
}

impl DeleteTopicOnDrop {
    /// Deletes `topic` of the cluster at `bootstrap` on drop.
    pub fn new(bootstrap: &str, topic: &str) -> DeleteTopicOnDrop {
        DeleteTopicOnDrop { bootstrap: bootstrap.to_owned(), topic: topic.to_owned() }
    }
}

impl Drop for DeleteTopicOnDrop {
    fn drop(&mut self) {
        let _ = kwire(&self.bootstrap, &["topics", "delete", &self.topic]);
    }
}

/// Polls `f` every 200 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Topic names from `kwire topics list`.
pub fn list_topics(bootstrap: &str) -> Vec<String> {
    kwire(bootstrap, &["topics", "list"]).ok().stdout.lines().map(str::to_owned).collect()
}

/// Python of the venv that `scripts/install-peers.sh` fills (confluent-kafka).
pub fn peer_python() -> PathBuf {
    let cache = std::env::var("KWIRE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/kwire"));
    let py = cache.join("venv/bin/python");
    assert!(py.exists(), "{} missing: run scripts/install-peers.sh", py.display());
    py
}

/// Runs a command with `stdin`, panicking with its output unless it succeeds.
pub fn run_ok(cmd: &mut Command, stdin: &[u8]) -> String {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut si = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = si.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Produces JSON-described records with confluent-kafka (`tests/peers/produce.py`).
pub fn peer_produce(bootstrap: &str, extra: &[&str], records: &[serde_json::Value]) {
    let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
    run_ok(
        Command::new(peer_python())
            .arg(repo_root().join("tests/peers/produce.py"))
            .arg(bootstrap)
            .args(extra),
        lines.as_bytes(),
    );
}

/// One JVM tool at a time: each start costs a core for a second or two, and
/// on this 2-core machine several at once starve the brokers under test.
static JAVA_TOOL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs one of Kafka's Java tools through `scripts/kafka.sh tool` (one at a
/// time across the test process).
pub fn java_tool(tool: &str, args: &[&str], stdin: &[u8]) -> String {
    let _one = JAVA_TOOL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    run_ok(Command::new(repo_root().join("scripts/kafka.sh")).arg("tool").arg(tool).args(args), stdin)
}

/// Runs one of Kafka's Java tools like [`java_tool`] (stdin empty), but
/// returns its exit code and output instead of failing when it fails.
pub fn java_tool_run(tool: &str, args: &[&str]) -> Run {
    let _one = JAVA_TOOL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let start = Instant::now();
    let out = Command::new(repo_root().join("scripts/kafka.sh"))
        .arg("tool")
        .arg(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn scripts/kafka.sh tool {tool}: {e}"));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stdout_bytes: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// Runs kcat with `args` and `stdin`.
pub fn kcat(args: &[&str], stdin: &[u8]) -> String {
    run_ok(Command::new("kcat").args(args), stdin)
}

/// `kwire consume ... --format json -e` (from the beginning unless `extra` has `-o`), parsed.
pub fn consume_all(bootstrap: &str, topic: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["consume", "-t", topic, "-e", "--format", "json"];
    if !extra.iter().any(|a| *a == "-o" || *a == "--offset") {
        args.push("--from-beginning");
    }
    args.extend_from_slice(extra);
    let run = kwire(bootstrap, &args).ok();
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// Checks what a consumer read against what producers had acknowledged.
///
/// Values are `"<producer>:<seq>"`. Reports acknowledged values that are
/// missing, values read more than once, and per-producer order violations
/// within a partition.
pub mod checker {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    /// The verdict.
    #[derive(Debug, Default)]
    pub struct Report {
        /// Records read.
        pub read: usize,
        /// Acknowledged values not read.
        pub missing: Vec<String>,
        /// Values read more than once.
        pub duplicates: Vec<String>,
        /// (partition, producer, seq before, seq after) where order broke.
        pub reordered: Vec<(i32, String, u64, u64)>,
    }

    impl Report {
        /// No loss, no duplicate, order kept.
        pub fn is_clean(&self) -> bool {
            self.missing.is_empty() && self.duplicates.is_empty() && self.reordered.is_empty()
        }
    }

    /// `read`: (partition, value) in offset order per partition.
    /// `acked`: per producer, the sequence numbers acknowledged.
    pub fn check(read: &[(i32, String)], acked: &BTreeMap<String, BTreeSet<u64>>) -> Report {
        let mut r = Report { read: read.len(), ..Default::default() };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut last: HashMap<(i32, &str), u64> = HashMap::new();
        for (p, v) in read {
            *seen.entry(v.as_str()).or_insert(0) += 1;
            let parsed =
                v.split_once(':').and_then(|(producer, seq)| Some((producer, seq.parse::<u64>().ok()?)));
            if let Some((producer, seq)) = parsed {
                match last.insert((*p, producer), seq) {
                    Some(prev) if seq <= prev => r.reordered.push((*p, producer.to_owned(), prev, seq)),
                    _ => {}
                }
            }
        }
        r.duplicates = seen.iter().filter(|(_, n)| **n > 1).map(|(v, _)| (*v).to_owned()).collect();
        for (producer, seqs) in acked {
            for s in seqs {
                let v = format!("{producer}:{s}");
                if !seen.contains_key(v.as_str()) {
                    r.missing.push(v);
                }
            }
        }
        r
    }

    /// One record: where it is and its value.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Rec {
        /// Partition.
        pub partition: i32,
        /// Offset.
        pub offset: i64,
        /// Value (`"<producer>:<seq>"` for the checks that need sends).
        pub value: String,
    }

    /// What one run observed, for [`jepsen`].
    #[derive(Debug, Default)]
    pub struct History {
        /// The topic as it ended, read directly from the beginning
        /// (read_uncommitted), in offset order per partition.
        pub log: Vec<Rec>,
        /// Each reader's records in the order it polled them, tagged with its
        /// assignment session: a new number whenever its partitions were
        /// assigned anew (a rebalance), after which it may rightly go back
        /// to a committed offset or forward past what another member read.
        pub polls: Vec<Vec<(u32, Rec)>>,
        /// Per producer, the sequence numbers acknowledged (for a
        /// transactional producer: committed).
        pub acked: BTreeMap<String, BTreeSet<u64>>,
        /// Values of transactions that aborted.
        pub aborted: BTreeSet<String>,
        /// The readers read committed: reading an aborted value is G1a.
        pub read_committed: bool,
    }

    /// The anomalies of Jepsen's Kafka workload found in a [`History`], each
    /// with examples.
    #[derive(Debug, Default)]
    pub struct Anomalies {
        /// Acknowledged, not in the log.
        pub lost_write: Vec<String>,
        /// A value at two or more offsets of the log.
        pub duplicate: Vec<String>,
        /// A reader's consecutive records of a partition (one session) with
        /// a record of the log between them that it did not read.
        pub poll_skip: Vec<String>,
        /// A reader's consecutive records of a partition (one session) going
        /// back or repeating an offset.
        pub nonmonotonic_poll: Vec<String>,
        /// A producer's values out of send order in a partition of the log.
        pub nonmonotonic_send: Vec<String>,
        /// G1a: a read-committed reader read a value of an aborted transaction.
        pub aborted_read: Vec<String>,
        /// An offset read with a value other than the log's (or than another read's).
        pub inconsistent_offsets: Vec<String>,
    }

    impl Anomalies {
        /// None found.
        pub fn is_clean(&self) -> bool {
            self.counts().iter().all(|(_, n)| *n == 0)
        }

        /// Each anomaly's name (Jepsen's) and count.
        pub fn counts(&self) -> [(&'static str, usize); 7] {
            [
                ("lost-write", self.lost_write.len()),
                ("duplicate", self.duplicate.len()),
                ("poll-skip", self.poll_skip.len()),
                ("nonmonotonic-poll", self.nonmonotonic_poll.len()),
                ("nonmonotonic-send", self.nonmonotonic_send.len()),
                ("G1a", self.aborted_read.len()),
                ("inconsistent-offsets", self.inconsistent_offsets.len()),
            ]
        }

        /// `lost-write 0, duplicate 0, ...`, then up to 3 examples of each found.
        pub fn summary(&self) -> String {
            let counts: Vec<String> = self.counts().iter().map(|(n, c)| format!("{n} {c}")).collect();
            let mut out = counts.join(", ");
            for (name, list) in [
                ("lost-write", &self.lost_write),
                ("duplicate", &self.duplicate),
                ("poll-skip", &self.poll_skip),
                ("nonmonotonic-poll", &self.nonmonotonic_poll),
                ("nonmonotonic-send", &self.nonmonotonic_send),
                ("G1a", &self.aborted_read),
                ("inconsistent-offsets", &self.inconsistent_offsets),
            ] {
                if !list.is_empty() {
                    out.push_str(&format!("; {name} e.g. {:?}", &list[..list.len().min(3)]));
                }
            }
            out
        }
    }

    /// Checks a run's [`History`] for Jepsen's anomalies.
    pub fn jepsen(h: &History) -> Anomalies {
        let mut a = Anomalies::default();
        let parse =
            |v: &str| v.split_once(':').and_then(|(p, s)| Some((p.to_owned(), s.parse::<u64>().ok()?)));
        // The log: offsets, duplicates, send order.
        let mut at: HashMap<(i32, i64), &str> = HashMap::new();
        let mut where_: HashMap<&str, Vec<(i32, i64)>> = HashMap::new();
        let mut last_sent: HashMap<(i32, String), u64> = HashMap::new();
        let mut by_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for r in &h.log {
            at.insert((r.partition, r.offset), r.value.as_str());
            where_.entry(r.value.as_str()).or_default().push((r.partition, r.offset));
            by_partition.entry(r.partition).or_default().push(r.offset);
            if let Some((producer, seq)) = parse(&r.value)
                && let Some(prev) = last_sent.insert((r.partition, producer.clone()), seq)
                && seq <= prev
            {
                a.nonmonotonic_send
                    .push(format!("{producer}:{seq} after {producer}:{prev} in partition {}", r.partition));
            }
        }
        for (v, places) in &where_ {
            if places.len() > 1 {
                a.duplicate.push(format!("{v} at {places:?}"));
            }
        }
        for (producer, seqs) in &h.acked {
            for s in seqs {
                let v = format!("{producer}:{s}");
                if !where_.contains_key(v.as_str()) {
                    a.lost_write.push(v);
                }
            }
        }
        for offsets in by_partition.values_mut() {
            offsets.sort_unstable();
        }
        // The readers.
        let mut read_at: HashMap<(i32, i64), &str> = HashMap::new();
        for (reader, polls) in h.polls.iter().enumerate() {
            let mut last: HashMap<(u32, i32), i64> = HashMap::new();
            for (session, r) in polls {
                let key = (r.partition, r.offset);
                match at.get(&key) {
                    Some(v) if *v != r.value => a
                        .inconsistent_offsets
                        .push(format!("reader {reader} read {} at {key:?}, the log holds {v}", r.value)),
                    _ => {}
                }
                match read_at.insert(key, r.value.as_str()) {
                    Some(v) if v != r.value => {
                        a.inconsistent_offsets.push(format!("{key:?} read as {v} and as {}", r.value))
                    }
                    _ => {}
                }
                if h.read_committed && h.aborted.contains(&r.value) {
                    a.aborted_read.push(format!("reader {reader} read {} (aborted) at {key:?}", r.value));
                }
                if let Some(prev) = last.insert((*session, r.partition), r.offset) {
                    if r.offset <= prev {
                        a.nonmonotonic_poll.push(format!(
                            "reader {reader}: partition {} offset {} after {prev}",
                            r.partition, r.offset
                        ));
                    } else if let Some(offsets) = by_partition.get(&r.partition) {
                        // Records of the log strictly between, that this reader should have seen.
                        let from = offsets.partition_point(|o| *o <= prev);
                        let to = offsets.partition_point(|o| *o < r.offset);
                        let skipped = offsets[from..to].iter().filter(|o| {
                            let v = at.get(&(r.partition, **o)).copied().unwrap_or_default();
                            !(h.read_committed && h.aborted.contains(v))
                        });
                        if let Some(first) = skipped.clone().next() {
                            a.poll_skip.push(format!(
                                "reader {reader}: partition {} from {prev} to {} over {} record(s), first at {first}",
                                r.partition,
                                r.offset,
                                skipped.count()
                            ));
                        }
                    }
                }
            }
        }
        a
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn rec(partition: i32, offset: i64, value: &str) -> Rec {
            Rec { partition, offset, value: value.to_owned() }
        }

        #[test]
        fn jepsen_finds_each_anomaly_and_nothing_in_a_clean_history() {
            let log = vec![rec(0, 0, "a:0"), rec(0, 1, "a:1"), rec(0, 2, "a:2"), rec(1, 0, "a:3")];
            let acked: BTreeMap<String, BTreeSet<u64>> =
                [("a".to_owned(), (0..4).collect())].into_iter().collect();
            let clean = History {
                log: log.clone(),
                polls: vec![
                    vec![
                        (0, rec(0, 0, "a:0")),
                        (0, rec(0, 1, "a:1")),
                        (1, rec(0, 1, "a:1")),
                        (1, rec(0, 2, "a:2")),
                    ],
                    vec![(0, rec(1, 0, "a:3"))],
                ],
                acked: acked.clone(),
                ..Default::default()
            };
            let a = jepsen(&clean);
            assert!(a.is_clean(), "{}", a.summary());
            let mut bad_log = log.clone();
            bad_log.push(rec(1, 1, "a:1")); // duplicate
            bad_log.push(rec(1, 2, "a:2")); // and sent after a:3 in partition 1
            let mut acked_more = acked;
            acked_more.insert("b".to_owned(), [0].into_iter().collect()); // lost
            let bad = History {
                log: bad_log,
                polls: vec![vec![
                    (0, rec(0, 0, "a:0")),
                    (0, rec(0, 2, "a:2")), // skips 1
                    (0, rec(0, 1, "a:1")), // goes back
                    (0, rec(1, 0, "x:9")), // not what the log holds
                    (0, rec(1, 1, "a:1")),
                ]],
                acked: acked_more,
                aborted: ["a:1".to_owned()].into_iter().collect(),
                read_committed: true,
            };
            let a = jepsen(&bad);
            let counts: Vec<usize> = a.counts().iter().map(|(_, n)| *n).collect();
            // lost-write, duplicate, poll-skip, nonmonotonic-poll, nonmonotonic-send, G1a, inconsistent-offsets
            assert_eq!(counts, vec![1, 2, 0, 1, 1, 2, 1], "{}", a.summary());
            // The skip over offset 1 is not one when offset 1 was aborted and
            // the reader reads committed; it is when it reads uncommitted.
            let b2 = History { read_committed: false, ..bad };
            let a2 = jepsen(&b2);
            assert_eq!(a2.poll_skip.len(), 1, "{}", a2.summary());
            assert_eq!(a2.aborted_read.len(), 0);
        }

        #[test]
        fn finds_loss_duplicates_and_reordering() {
            let acked: BTreeMap<String, BTreeSet<u64>> =
                [("a".to_owned(), [0, 1, 2].into_iter().collect())].into_iter().collect();
            let clean = [(0, "a:0".to_owned()), (0, "a:1".to_owned()), (1, "a:2".to_owned())];
            assert!(check(&clean, &acked).is_clean());
            let bad = [(0, "a:1".to_owned()), (0, "a:0".to_owned()), (0, "a:1".to_owned())];
            let r = check(&bad, &acked);
            assert_eq!(r.missing, vec!["a:2"]);
            assert_eq!(r.duplicates, vec!["a:1"]);
            assert_eq!(r.reordered, vec![(0, "a".to_owned(), 1, 0)]);
        }
    }
}

/// Every record of `topic` with its offset (read_uncommitted), in offset
/// order per partition, read directly with `kwire consume`.
pub fn read_log(bootstrap: &str, topic: &str) -> Vec<checker::Rec> {
    read_log_isolated(bootstrap, topic, "read_uncommitted")
}

/// [`read_log`] with read_committed: what committed transactions wrote.
pub fn read_committed_log(bootstrap: &str, topic: &str) -> Vec<checker::Rec> {
    read_log_isolated(bootstrap, topic, "read_committed")
}

fn read_log_isolated(bootstrap: &str, topic: &str, isolation: &str) -> Vec<checker::Rec> {
    let args = [
        "consume",
        "-t",
        topic,
        "--from-beginning",
        "-e",
        "--isolation-level",
        isolation,
        "--format",
        "json",
    ];
    kwire(bootstrap, &args)
        .ok()
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            checker::Rec {
                partition: v["partition"].as_i64().expect("partition") as i32,
                offset: v["offset"].as_i64().expect("offset"),
                value: v["value"].as_str().unwrap_or_default().to_owned(),
            }
        })
        .collect()
}

/// Every record of `topic` as (partition, value string), read with kwire's
/// fetcher library from the beginning to the end offsets at call time.
pub fn read_all_values(bootstrap: &str, topic: &str) -> Vec<(i32, String)> {
    read_log(bootstrap, topic).into_iter().map(|r| (r.partition, r.value)).collect()
}

/// Logs kwire's tracing output to stderr when `KWIRE_TEST_LOG` is set (a
/// tracing filter, e.g. `kwire_produce=debug`), for debugging a test.
pub fn init_test_logging() {
    if let Ok(filter) = std::env::var("KWIRE_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// Restarts a killed node of the 3-node cluster when dropped, so a failing
/// fault test doesn't leave the cluster degraded for the tests after it.
pub struct KilledNode {
    node: String,
    restarted: bool,
}

impl KilledNode {
    /// SIGKILLs `node` of the 3-node cluster.
    pub fn kill(node: i64) -> Self {
        kafka_sh(&["kill-node", &node.to_string(), "--name", &cluster3_name()]);
        KilledNode { node: node.to_string(), restarted: false }
    }

    /// Restarts it now (waits until it answers).
    pub fn restart(mut self) {
        self.restarted = true;
        kafka_sh(&["start-node", &self.node, "--name", &cluster3_name()]);
    }

    /// Restarts all of `nodes` side by side (about as long as one restart)
    /// and waits until each answers.
    pub fn restart_all(nodes: Vec<KilledNode>) {
        let cluster = cluster3_name();
        let mut args = vec!["start-node".to_owned()];
        for mut k in nodes {
            k.restarted = true;
            args.push(std::mem::take(&mut k.node));
        }
        args.extend(["--name".to_owned(), cluster]);
        kafka_sh(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

impl Drop for KilledNode {
    fn drop(&mut self) {
        if !self.restarted {
            let _ = Command::new(repo_root().join("scripts/kafka.sh"))
                .args(["start-node", &self.node, "--name", &cluster3_name()])
                .output();
        }
    }
}

/// The value of environment variable `name`, or a one-line test failure naming
/// `what` it should hold and `how` to get it (for suites that scripts drive).
pub fn require_env(name: &str, what: &str, how: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!("{name} is not set ({what}): {how}"),
    }
}

/// Fails the test with one line unless `program` runs (`program arg` exits, whatever its status).
pub fn require_program(program: &str, arg: &str, how: &str) {
    let found = Command::new(program).arg(arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    assert!(found, "{program} not found: {how}");
}

/// A background `kwire` process (or one of Kafka's Java tools) with stdout and
/// stderr in temporary files, killed (SIGKILL) when dropped if it still runs.
pub struct Background {
    name: String,
    child: std::process::Child,
    out: PathBuf,
    err: PathBuf,
    started: Instant,
    /// A Java tool holds the one-JVM-at-a-time lock while it runs.
    _jvm: Option<std::sync::MutexGuard<'static, ()>>,
}

impl Background {
    /// Starts `kwire -b bootstrap args...`; `name` tells the temporary files apart.
    pub fn kwire(name: &str, bootstrap: &str, args: &[&str]) -> Background {
        let mut cmd = Command::new(kwire_bin());
        cmd.env_remove("KWIRE_BOOTSTRAP_SERVERS").env_remove("KWIRE_LOG").arg("-b").arg(bootstrap).args(args);
        Background::spawn(name, cmd, None)
    }

    /// Starts one of Kafka's Java tools (`scripts/kafka.sh tool TOOL args...`, one JVM at
    /// a time across the test process, as [`java_tool`]).
    pub fn java_tool(name: &str, tool: &str, args: &[&str]) -> Background {
        let one = JAVA_TOOL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut cmd = Command::new(repo_root().join("scripts/kafka.sh"));
        cmd.arg("tool").arg(tool).args(args);
        Background::spawn(name, cmd, Some(one))
    }

    fn spawn(name: &str, mut cmd: Command, jvm: Option<std::sync::MutexGuard<'static, ()>>) -> Background {
        let base = std::env::temp_dir().join(unique_topic(&format!("kwire-bg-{name}")));
        let out = base.with_extension("out");
        let err = base.with_extension("err");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap_or_else(|e| panic!("create {}: {e}", out.display())))
            .stderr(std::fs::File::create(&err).unwrap_or_else(|e| panic!("create {}: {e}", err.display())))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Background { name: name.to_owned(), child, out, err, started: Instant::now(), _jvm: jvm }
    }

    /// Its stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Complete lines of stdout so far.
    pub fn lines(&self) -> Vec<String> {
        let out = self.stdout();
        let complete = out.rfind('\n').map_or("", |end| &out[..end]);
        complete.lines().map(str::to_owned).collect()
    }

    /// Sends signal `sig` (e.g. `libc::SIGINT`).
    pub fn signal(&self, sig: i32) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid; no memory is shared.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }

    /// Waits up to `timeout` for it to exit; kills it then. `None` when it had to be killed.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `timeout` and returns what it printed (`code` None if it was killed).
    pub fn finish(mut self, timeout: Duration) -> Run {
        let status = self.wait_timeout(timeout);
        let stdout_bytes = std::fs::read(&self.out).unwrap_or_default();
        let mut stderr = self.stderr();
        if status.is_none() {
            stderr.push_str(&format!("\n(test: {} killed after {timeout:?})", self.name));
        }
        Run {
            code: status.and_then(|s| s.code()),
            stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
            stdout_bytes,
            stderr,
            elapsed: self.started.elapsed(),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
    }
}

/// Runs `kwire -b bootstrap args...`, killing it after `timeout` (then `code` is None).
pub fn kwire_timeout(bootstrap: &str, args: &[&str], timeout: Duration) -> Run {
    Background::kwire(args.first().copied().unwrap_or("kwire"), bootstrap, args).finish(timeout)
}
pub mod toxiproxy;
