//! The broker-version compatibility suite: the same checks against each Kafka
//! version `scripts/compat.sh` starts (4.x and 3.x in KRaft mode, 2.x with
//! ZooKeeper), one `#[test]` per check:
//!
//! - `api_versions`: `kwire cluster --api-versions` answers (ApiVersions negotiation);
//! - `topics`: create (3 partitions), list, describe (partition count), delete;
//! - `codec_<c>`: produce acks=all with compression c (none gzip snappy lz4 zstd),
//!   keyed records with two headers, then consume --from-beginning -e: every key,
//!   value and header back, per partition in order, all 3 partitions used;
//! - `group`: two `kwire consume --group` members: the first joins and reads, the
//!   second joins (rebalance), more records are produced; every record is read,
//!   both members got partitions (disjoint after the rebalance), and the committed
//!   offsets reach the end (lag 0 on all 4 partitions in `kwire groups describe`);
//! - `kip848`: a member with group.protocol=consumer reads on 4.x; on older brokers
//!   it must fail, ending with kwire's "not supported ... needs Kafka 4.0 ... use
//!   group.protocol=classic" error, never a protocol or decoding error (the summary
//!   shows this as "unsup");
//! - `stream`: the guide's grouped count (from_json, group by gender and party,
//!   complete mode, available-now) over generated voters, counts checked;
//! - `transactions`: `kwire produce --transactional-id` commits n records in 4
//!   transactions, a second run fails mid-transaction and aborts it (the
//!   records it wrote stay invisible to read_committed), then `kwire copy`
//!   copies the topic exactly once with its offsets in the transactions
//!   (classic AddPartitionsToTxn path, EndTxn with or without KIP-890's epoch
//!   bump, TxnOffsetCommit at the broker's version).
//!
//! - `admin_records`: `kwire offsets` (-1, -2; -3 needs Kafka 3.0, older brokers say
//!   so in one line), `delete-records`, `log-dirs`;
//! - `admin_reassign`: `kwire reassign --list`, execute + verify of a no-op move,
//!   a preferred election that is not needed, `features describe`;
//! - `admin_quorum`: `kwire quorum describe` on KRaft; on ZooKeeper-mode 2.x a
//!   one-line "not supported" (shown as "unsup");
//! - `admin_configs`: `kwire configs` on a topic config and a user quota,
//!   `kwire users list`, and `kwire acls list` failing in one line (no authorizer);
//! - `share_groups`: `kwire share-groups --list` on 4.x (and 3.9, listing none);
//!   "unsup" on 2.x.
//!
//! Run by `scripts/compat.sh`: `cargo test -p kwire-integration --test compat -- --ignored`
//! with `KWIRE_COMPAT_BOOTSTRAP` (the broker), `KWIRE_COMPAT_VERSION` (its Kafka
//! version, X.Y.Z), `KWIRE_COMPAT_RECORDS` (records per check, default 2000) and
//! `KWIRE_COMPAT_WAIT` (seconds a step may take, default 60), `KWIRE_BIN`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kwire_integration::*;
use serde_json::Value;

/// The broker under test, and the sizes of this run.
struct Env {
    b: String,
    /// Kafka major version of the broker.
    major: u32,
    n: usize,
    wait: Duration,
}

fn env() -> Env {
    let how = "run scripts/compat.sh, which starts each broker version and sets it";
    let b = require_env("KWIRE_COMPAT_BOOTSTRAP", "the broker under test", how);
    let version = require_env("KWIRE_COMPAT_VERSION", "the Kafka version of that broker", how);
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("KWIRE_COMPAT_VERSION={version}: want a version such as 4.4.0"));
    let num = |name: &str, default: u64| -> u64 {
        match std::env::var(name) {
            Err(_) => default,
            Ok(v) => v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .unwrap_or_else(|| panic!("{name}={v}: want a positive number")),
        }
    };
    let n = num("KWIRE_COMPAT_RECORDS", 2000) as usize;
    let wait = Duration::from_secs(num("KWIRE_COMPAT_WAIT", 60));
    let bin = kwire_bin();
    assert!(
        bin.exists(),
        "kwire binary {} not found: build it (cargo build -p kwire-cli) or set KWIRE_BIN",
        bin.display()
    );
    Env { b, major, n, wait }
}

/// Records that `check` passed because the broker lacks the feature and kwire
/// said so clearly: scripts/compat.sh shows it as "unsup".
fn mark_unsupported(check: &str) {
    use std::io::Write;
    let Ok(path) = std::env::var("KWIRE_COMPAT_UNSUP") else { return };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    writeln!(f, "{check}").unwrap_or_else(|e| panic!("write {path}: {e}"));
}

/// The one stderr line of a run that must fail because the broker lacks an
/// API: it names the API or says "not supported", and is no protocol or
/// decoding error. Marks `check` unsupported.
fn assert_unsupported(check: &str, run: &Run) -> String {
    let line = run.one_line_error();
    let lower = line.to_lowercase();
    assert!(
        ["not supported", "unsupported", "does not support", "needs kafka", "needs v"]
            .iter()
            .any(|w| lower.contains(w)),
        "{check}: want a clear 'not supported by this broker' line, got {run:#?}"
    );
    for bad in ["protocol error", "decod", "unexpected", "panick", "corrupt", "rust_backtrace"] {
        assert!(!lower.contains(bad), "{check}: the unsupported error mentions {bad:?}: {run:#?}");
    }
    mark_unsupported(check);
    line
}

fn tmp_file(name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(unique_topic(&format!("kwire-compat-{name}")));
    std::fs::write(&p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    p
}

fn create(b: &str, topic: &str, partitions: u32) {
    kwire(
        b,
        &["topics", "create", topic, "--partitions", &partitions.to_string(), "--replication-factor", "1"],
    )
    .ok();
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn api_versions() {
    let e = env();
    let run = kwire(&e.b, &["cluster", "--api-versions"]).ok();
    // Rows "API KEY BROKER KWIRE USING": the version used lies in both ranges.
    let range = |r: &str| -> Option<(u32, u32)> {
        let (lo, hi) = r.split_once('-')?;
        Some((lo.parse().ok()?, hi.parse().ok()?))
    };
    for api in ["ApiVersions", "Metadata", "Produce", "Fetch", "JoinGroup", "OffsetCommit"] {
        let row = run
            .stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.first() == Some(&api));
        let Some([_, _, broker, ours, using]) = row.as_deref() else {
            panic!("`cluster --api-versions` has no {api} row: {}", run.stdout)
        };
        let negotiated = (|| {
            let (b, k, u) = (range(broker)?, range(ours)?, using.parse::<u32>().ok()?);
            (b.0 <= u && u <= b.1 && k.0 <= u && u <= k.1).then_some(u)
        })();
        assert!(
            negotiated.is_some(),
            "{api}: broker {broker}, kwire {ours}, using {using}: not in both ranges"
        );
    }
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn topics() {
    let e = env();
    let t = unique_topic("compat-topics");
    create(&e.b, &t, 3);
    assert!(list_topics(&e.b).contains(&t), "topics list lacks {t}");
    let d = kwire(&e.b, &["topics", "describe", &t, "--format", "json"]).ok().json();
    let parts = d[0]["partitions"].as_array().map(Vec::len);
    assert_eq!(parts, Some(3), "describe {t}: partitions of {d}");
    kwire(&e.b, &["topics", "delete", &t]).ok();
    // Deletion is asynchronous on the broker.
    assert!(
        wait_until(Duration::from_secs(10), || !list_topics(&e.b).contains(&t)),
        "{t} still listed 10 s after delete"
    );
}

/// Produce with compression `c`, read back: content, headers, per-partition order.
fn codec(c: &str) {
    let e = env();
    let t = unique_topic(&format!("compat-codec-{c}"));
    create(&e.b, &t, 3);
    let pad = "x".repeat(40);
    let want: BTreeMap<String, String> =
        (1..=e.n).map(|i| (format!("k{i}"), format!("{c}-value-{i}-{pad}"))).collect();
    let input: String = (1..=e.n).map(|i| format!("k{i}:{c}-value-{i}-{pad}\n")).collect();
    let file = tmp_file("codec", input.as_bytes());
    let path = file.to_string_lossy().into_owned();
    let codec_header = format!("codec={c}");
    let run = kwire(
        &e.b,
        &[
            "produce",
            "-t",
            &t,
            "--acks",
            "all",
            "--compression",
            c,
            "--key-separator",
            ":",
            "--header",
            "origin=compat",
            "--header",
            &codec_header,
            "--input",
            &path,
        ],
    );
    let _ = std::fs::remove_file(&file);
    run.ok();
    let mut got = BTreeMap::new();
    let mut last: BTreeMap<i64, u64> = BTreeMap::new();
    for r in consume_all(&e.b, &t, &[]) {
        let hs: Vec<(&str, &str)> = r["headers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|h| (h["key"].as_str().unwrap_or("?"), h["value"].as_str().unwrap_or("?")))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(hs, [("origin", "compat"), ("codec", c)], "headers of {r}");
        let k = r["key"].as_str().unwrap_or_else(|| panic!("record without key: {r}")).to_owned();
        let v = r["value"].as_str().unwrap_or_else(|| panic!("record without value: {r}")).to_owned();
        let p = r["partition"].as_i64().unwrap_or_else(|| panic!("record without partition: {r}"));
        // Keys are produced in increasing order: per-partition order holds.
        let seq: u64 = k[1..].parse().unwrap_or_else(|_| panic!("unexpected key {k}"));
        if let Some(prev) = last.insert(p, seq) {
            assert!(seq > prev, "partition {p} out of order: k{seq} after k{prev}");
        }
        assert!(got.insert(k.clone(), v).is_none(), "duplicate key {k}");
    }
    let differing = want.iter().filter(|(k, v)| got.get(*k) != Some(*v)).count();
    assert!(
        got == want,
        "read {} records, want {}; {differing} wanted ones differ or are missing",
        got.len(),
        want.len()
    );
    assert_eq!(last.len(), 3, "records in partitions {:?}, want all 3 (keyed records spread)", last.keys());
    let _ = kwire(&e.b, &["topics", "delete", &t]);
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn codec_none() {
    codec("none");
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn codec_gzip() {
    codec("gzip");
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn codec_snappy() {
    codec("snappy");
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn codec_lz4() {
    codec("lz4");
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn codec_zstd() {
    codec("zstd");
}

/// Members of `d` (`groups describe --format json`, an object or a one-element list)
/// holding partitions, when the group is Stable.
fn stable_members_with_partitions(d: &Value) -> Option<usize> {
    let d = d.as_array().and_then(|a| a.first()).unwrap_or(d);
    let members = d["members"].as_array()?;
    let assigned = members
        .iter()
        .filter(|m| match &m["assignment"] {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::String(s) => !s.is_empty(),
            _ => true,
        })
        .count();
    (d["state"] == "Stable").then_some(assigned)
}

/// Every object with a "lag" field, anywhere in `v`.
fn lag_rows<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(o) => {
            if o.contains_key("lag") {
                out.push(v);
            }
            o.values().for_each(|x| lag_rows(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| lag_rows(x, out)),
        _ => {}
    }
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn group() {
    let e = env();
    let (n, b) = (e.n, e.b.as_str());
    let t = unique_topic("compat-group");
    let g = unique_topic("compat-g");
    create(b, &t, 4);
    let first: String = (1..=n).map(|i| format!("k{i}:a{i}\n")).collect();
    kwire_stdin(b, &["produce", "-t", &t, "--acks", "all", "--key-separator", ":"], Some(first.as_bytes()))
        .ok();
    // Members stop after 3 waits without records; the test stops them sooner.
    let idle = (e.wait * 3).as_millis().to_string();
    let member = |name| {
        Background::kwire(
            name,
            b,
            &[
                "consume",
                "-t",
                &t,
                "-g",
                &g,
                "--from-beginning",
                "--timeout-ms",
                &idle,
                "--print",
                "partition",
            ],
        )
    };
    // Member A alone reads the first n.
    let a = member("member-a");
    assert!(
        wait_until(e.wait, || a.lines().len() >= n),
        "member A read {} of {n} in {:?}: {}",
        a.lines().len(),
        e.wait,
        a.stderr()
    );
    // Member B joins: the group rebalances until both members hold partitions.
    let bm = member("member-b");
    let mut last = Value::Null;
    let stable = wait_until(e.wait, || {
        let run = kwire(b, &["groups", "describe", &g, "--format", "json"]);
        if run.code != Some(0) {
            return false;
        }
        last = run.json();
        stable_members_with_partitions(&last) == Some(2)
    });
    assert!(stable, "the group did not rebalance to 2 members with partitions within {:?}: {last}", e.wait);
    let second: String = (n + 1..=2 * n).map(|i| format!("k{i}:b{i}\n")).collect();
    kwire_stdin(b, &["produce", "-t", &t, "--acks", "all", "--key-separator", ":"], Some(second.as_bytes()))
        .ok();
    let read_all = wait_until(e.wait, || a.lines().len() + bm.lines().len() >= 2 * n);
    assert!(read_all, "members read {} + {} of {}", a.lines().len(), bm.lines().len(), 2 * n);
    for m in [&a, &bm] {
        m.signal(libc::SIGINT);
    }
    let (ea, eb) = (a.finish(e.wait), bm.finish(e.wait));
    assert!(ea.code.is_some() && eb.code.is_some(), "members did not stop on SIGINT: {ea:#?}\n{eb:#?}");
    let (ra, rb) = (rows_of(&ea.stdout), rows_of(&eb.stdout));
    let vals: BTreeSet<&str> = ra.iter().chain(&rb).map(|(_, v)| v.as_str()).collect();
    let second_vals = vals.iter().filter(|v| v.starts_with('b')).count();
    assert!(
        vals.len() == 2 * n && second_vals == n,
        "distinct records read: {} ({} of the second batch), want {} ({n})",
        vals.len(),
        second_vals,
        2 * n
    );
    let pa: BTreeSet<&str> = ra.iter().filter(|(_, v)| v.starts_with('b')).map(|(p, _)| p.as_str()).collect();
    let pb: BTreeSet<&str> = rb.iter().map(|(p, _)| p.as_str()).collect();
    assert!(!pb.is_empty(), "member B read nothing after the rebalance");
    assert!(
        pa.is_disjoint(&pb),
        "after the rebalance both members read {:?}",
        pa.intersection(&pb).collect::<Vec<_>>()
    );
    eprintln!("member A: {} records, member B: {} records ({pb:?})", ra.len(), rb.len());
    let d = kwire(b, &["groups", "describe", &g, "--format", "json"]).ok().json();
    let mut lags = Vec::new();
    lag_rows(&d, &mut lags);
    assert!(
        lags.len() == 4 && lags.iter().all(|r| r["lag"] == 0),
        "committed offsets not at the end of the 4 partitions: {lags:?}"
    );
}

fn rows_of(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .map(|l| match l.split_once('\t') {
            Some((p, v)) => (p.to_owned(), v.to_owned()),
            None => panic!("member printed {l:?}, want \"Partition:P<TAB>value\""),
        })
        .collect()
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn kip848() {
    let e = env();
    let t = unique_topic("compat-848");
    create(&e.b, &t, 2);
    kwire_stdin(&e.b, &["produce", "-t", &t, "--acks", "all"], Some(b"a\nb\n")).ok();
    let g = unique_topic("compat-848");
    let ms = e.wait.as_millis().to_string();
    let run = kwire_timeout(
        &e.b,
        &[
            "consume",
            "-t",
            &t,
            "-g",
            &g,
            "--from-beginning",
            "--consumer-property",
            "group.protocol=consumer",
            "--max-messages",
            "2",
            "--timeout-ms",
            &ms,
        ],
        e.wait + Duration::from_secs(10),
    );
    if e.major >= 4 {
        let run = run.ok();
        let mut got: Vec<&str> = run.stdout.lines().collect();
        got.sort_unstable();
        assert_eq!(got, ["a", "b"], "group.protocol=consumer on Kafka {}.x: {run:#?}", e.major);
    } else {
        // Older brokers: kwire must end with a clear error saying the broker lacks
        // KIP-848, in one line (besides the consumer's `Processed a total of N
        // messages` summary, which a group member prints before it stops).
        assert!(
            run.code.is_some_and(|c| c != 0),
            "group.protocol=consumer on Kafka {}.x did not fail: {run:#?}",
            e.major
        );
        let lines: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("Processed a total of "))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "group.protocol=consumer on Kafka {}.x: want one error line: {run:#?}",
            e.major
        );
        let line = lines[0];
        assert!(
            line.starts_with("kwire: error: ")
                && line.contains("not supported")
                && line.contains("needs Kafka 4.0")
                && line.contains("group.protocol=classic"),
            "group.protocol=consumer on Kafka {}.x: want a clear \"not supported, needs Kafka 4.0, use \
             group.protocol=classic\" error last, got {run:#?}",
            e.major
        );
        let lower = run.stderr.to_lowercase();
        for bad in ["protocol error", "decod", "unexpected", "panick", "corrupt", "rust_backtrace"] {
            assert!(!lower.contains(bad), "the unsupported error mentions {bad:?}: {run:#?}");
        }
        mark_unsupported("kip848");
    }
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn stream() {
    let e = env();
    let t = unique_topic("compat-voters");
    create(&e.b, &t, 2);
    let voters = kwire(&e.b, &["gen", "voters", "--count", &e.n.to_string(), "--seed", "9"]).ok().stdout;
    let mut want: BTreeMap<(String, String), i64> = BTreeMap::new();
    for l in voters.lines() {
        let v: Value =
            serde_json::from_str(l).unwrap_or_else(|err| panic!("gen voters printed {l:?}: {err}"));
        let field = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("voter without {k}: {v}")).to_owned();
        *want.entry((field("gender"), field("party"))).or_default() += 1;
    }
    assert!(want.len() > 1, "gen voters made one (gender, party) pair only: {want:?}");
    let file = tmp_file("voters", voters.as_bytes());
    let path = file.to_string_lossy().into_owned();
    let run = kwire(&e.b, &["produce", "-t", &t, "--acks", "all", "--input", &path]);
    let _ = std::fs::remove_file(&file);
    run.ok();
    let run = kwire_timeout(
        &e.b,
        &[
            "stream",
            "--topic",
            &t,
            "--starting-offsets",
            "earliest",
            "--trigger",
            "available-now",
            "--select",
            "from_json(CAST(value AS STRING), 'gender STRING, age LONG, party STRING') AS voterJSON",
            "--group-by",
            "voterJSON.gender,voterJSON.party",
            "--output-mode",
            "complete",
            "--sink",
            "jsonl:-",
        ],
        e.wait * 2,
    )
    .ok();
    let rows: Vec<Value> = run
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|err| panic!("stream printed {l:?}: {err}")))
        .collect();
    // Complete mode: the last batch holds the whole table; batches are told apart by
    // a batch id field when the sink writes one, else the last want.len() rows are it.
    let bid = ["batch", "batchId", "batch_id"]
        .into_iter()
        .find(|k| rows.first().is_some_and(|r| r.get(k).is_some()));
    let last: Vec<&Value> = match (bid, rows.last()) {
        (Some(k), Some(l)) => rows.iter().filter(|r| r[k] == l[k]).collect(),
        _ => rows.iter().skip(rows.len().saturating_sub(want.len())).collect(),
    };
    let mut got: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in last {
        let mut flat: BTreeMap<String, Value> = BTreeMap::new();
        for (k, v) in r.as_object().unwrap_or_else(|| panic!("stream row is not an object: {r}")) {
            match v {
                Value::Object(inner) => flat.extend(inner.iter().map(|(k, v)| (k.clone(), v.clone()))),
                _ => {
                    flat.insert(k.rsplit('.').next().unwrap_or(k).to_owned(), v.clone());
                }
            }
        }
        let s = |k: &str| {
            flat.get(k).and_then(Value::as_str).unwrap_or_else(|| panic!("row without {k}: {r}")).to_owned()
        };
        let count =
            flat.get("count").and_then(Value::as_i64).unwrap_or_else(|| panic!("row without count: {r}"));
        got.insert((s("gender"), s("party")), count);
    }
    assert_eq!(got, want, "stream counts (last batch) differ from the voters produced");
}

/// The numbers a consumer with `isolation` reads from `topic`, sorted.
fn numbers(b: &str, topic: &str, isolation: &str) -> Vec<u64> {
    let run =
        kwire(b, &["consume", "-t", topic, "--from-beginning", "-e", "--isolation-level", isolation]).ok();
    let mut v: Vec<u64> = run
        .stdout
        .lines()
        .map(|l| l.trim().parse().unwrap_or_else(|err| panic!("consume printed {l:?}: {err}")))
        .collect();
    v.sort_unstable();
    v
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn transactions() {
    let e = env();
    let n = e.n as u64;
    let (t, copy) = (unique_topic("compat-txn"), unique_topic("compat-txn-copy"));
    create(&e.b, &t, 2);
    create(&e.b, &copy, 2);
    let id = unique_topic("compat-txn-id");
    // Committed: 1..=n in 4 transactions.
    let input: String = (1..=n).map(|i| format!("{{\"value\":\"{i}\"}}\n")).collect();
    let size = (n / 4).max(1).to_string();
    let args =
        ["produce", "-t", &t, "--format", "json", "--transactional-id", &id, "--transaction-size", &size];
    kwire_stdin(&e.b, &args, Some(input.as_bytes())).ok();
    // Aborted: a record for a partition that does not exist ends the second
    // run's open transaction after some records went out.
    let bad: String = (n + 1..=n + 50)
        .map(|i| {
            if i == n + 50 {
                format!("{{\"value\":\"{i}\",\"partition\":9}}\n")
            } else {
                format!("{{\"value\":\"{i}\"}}\n")
            }
        })
        .collect();
    let run = kwire_stdin(&e.b, &args, Some(bad.as_bytes()));
    assert_eq!(run.code, Some(1), "a failed record must fail the run: {run:#?}");
    assert!(run.stderr.contains("aborted"), "{}", run.stderr);
    assert_eq!(numbers(&e.b, &t, "read_committed"), (1..=n).collect::<Vec<_>>(), "read_committed");
    // kwire copy: consume-transform-produce, offsets in the transactions.
    let group = unique_topic("compat-txn-group");
    let copy_id = unique_topic("compat-copy-id");
    let timeout_ms = (e.wait.as_millis() / 4).to_string();
    let run = kwire_timeout(
        &e.b,
        &[
            "copy",
            "--from",
            &t,
            "--to",
            &copy,
            "-g",
            &group,
            "--transactional-id",
            &copy_id,
            "--timeout-ms",
            &timeout_ms,
        ],
        e.wait * 2,
    )
    .ok();
    assert!(run.stderr.contains(&format!("copied {n} records")), "{}", run.stderr);
    assert_eq!(numbers(&e.b, &copy, "read_committed"), (1..=n).collect::<Vec<_>>(), "the copy");
}

/// `p:offset` lines of `kwire offsets` as a map.
fn offset_lines(stdout: &str, topic: &str) -> BTreeMap<i32, i64> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{topic}:")))
        .map(|l| {
            let (p, o) = l.split_once(':').unwrap_or_else(|| panic!("bad line {l:?}"));
            (p.parse().unwrap(), o.parse().unwrap())
        })
        .collect()
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn admin_records() {
    // kwire offsets (ListOffsets -1/-2/-3), delete-records (DeleteRecords),
    // log-dirs (DescribeLogDirs). Max-timestamp needs Kafka 3.0: older brokers
    // must say so in one line.
    let e = env();
    let t = unique_topic("compat-adm");
    create(&e.b, &t, 2);
    let mut input = String::new();
    for p in 0..2 {
        for i in 0..10 {
            let ts = 1_700_000_000_000i64 + if p == 1 && i == 3 { 1_000_000 } else { i * 1000 };
            input.push_str(&format!("{{\"value\":\"{p}-{i}\",\"partition\":{p},\"timestamp\":{ts}}}\n"));
        }
    }
    kwire_stdin(&e.b, &["produce", "-t", &t, "--format", "json", "--acks", "all"], Some(input.as_bytes()))
        .ok();
    let at =
        |time: &str| offset_lines(&kwire(&e.b, &["offsets", "--topic", &t, "--time", time]).ok().stdout, &t);
    assert_eq!(at("-1"), BTreeMap::from([(0, 10), (1, 10)]));
    assert_eq!(at("-2"), BTreeMap::from([(0, 0), (1, 0)]));
    let max = kwire(&e.b, &["offsets", "--topic", &t, "--time", "-3"]);
    if e.major >= 3 {
        assert_eq!(offset_lines(&max.ok().stdout, &t)[&1], 3, "max-timestamp");
    } else {
        let line = max.one_line_error();
        assert!(line.contains("ListOffsets") && line.contains("needs"), "{line}");
    }
    let file = tmp_file(
        "delrec.json",
        format!(r#"{{"partitions":[{{"topic":"{t}","partition":0,"offset":4}}],"version":1}}"#).as_bytes(),
    );
    kwire(&e.b, &["delete-records", "--offset-json-file", file.to_str().unwrap()]).ok();
    assert_eq!(at("-2"), BTreeMap::from([(0, 4), (1, 0)]), "records before 4 deleted");
    let v = kwire(&e.b, &["log-dirs", "--describe", "--topic-list", &t, "--format", "json"]).ok().json();
    let n = v["brokers"][0]["logDirs"]
        .as_array()
        .expect("log dirs")
        .iter()
        .flat_map(|d| d["partitions"].as_array().cloned().unwrap_or_default())
        .count();
    assert_eq!(n, 2, "both partitions in the log dirs: {v}");
    kwire(&e.b, &["topics", "delete", &t]).ok();
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn admin_reassign() {
    // kwire reassign --list (ListPartitionReassignments, Kafka 2.4+), a
    // reassignment to the replica the partition already has (executed and
    // verified), a preferred election that is not needed, features describe.
    let e = env();
    let t = unique_topic("compat-reassign");
    create(&e.b, &t, 1);
    let list = kwire(&e.b, &["reassign", "--list"]).ok().stdout;
    assert!(list.contains("No partition reassignments found."), "{list}");
    let leader = kwire(&e.b, &["topics", "describe", &t, "--format", "json"]).ok().json();
    let broker = leader
        .to_string()
        .split("\"leader\":")
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .map(str::to_owned);
    let broker = broker.unwrap_or_else(|| panic!("no leader in {leader}"));
    let plan = tmp_file(
        "reassign.json",
        format!(r#"{{"version":1,"partitions":[{{"topic":"{t}","partition":0,"replicas":[{broker}]}}]}}"#)
            .as_bytes(),
    );
    let plan = plan.to_str().unwrap();
    kwire(&e.b, &["reassign", "--execute", "--reassignment-json-file", plan]).ok();
    let verified = wait_until(e.wait, || {
        kwire(&e.b, &["reassign", "--verify", "--reassignment-json-file", plan])
            .stdout
            .contains("is completed")
    });
    assert!(verified, "the reassignment completed");
    let el =
        kwire(&e.b, &["elect-leaders", "--election-type", "preferred", "--topic", &t, "--partition", "0"])
            .ok();
    assert!(el.stdout.contains("Valid replica already elected"), "{el:#?}");
    let f = kwire(&e.b, &["features", "describe", "--format", "json"]).ok().json();
    assert!(f["features"].is_array(), "{f}");
    if e.major >= 3 {
        assert!(f.to_string().contains("metadata.version"), "KRaft brokers finalize metadata.version: {f}");
    }
    kwire(&e.b, &["topics", "delete", &t]).ok();
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn admin_quorum() {
    // DescribeQuorum: KRaft brokers (3.x, 4.x) answer; a ZooKeeper-mode 2.x
    // broker has no such API and kwire must say so in one line.
    let e = env();
    let run = kwire(&e.b, &["quorum", "describe", "--status"]);
    if e.major >= 3 {
        let out = run.ok().stdout;
        assert!(out.contains("LeaderId:") && out.contains("CurrentVoters:"), "{out}");
    } else {
        let line = assert_unsupported("admin_quorum", &run);
        assert!(line.contains("DescribeQuorum"), "{line}");
    }
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn admin_configs() {
    // kwire configs: a topic config set, described and removed
    // (IncrementalAlterConfigs, Kafka 2.3+); a user quota (Describe/Alter
    // ClientQuotas, 2.6+); SCRAM users listed (DescribeUserScramCredentials,
    // 2.7+); and kwire acls on a broker without an authorizer: one line.
    // Before 2.6/2.7 the quota and users parts must fail in one clear line
    // ("unsup"); the topic config and acls parts run everywhere.
    let e = env();
    let t = unique_topic("compat-configs");
    create(&e.b, &t, 1);
    // A change shows once the broker has applied the metadata record (KRaft
    // brokers apply it a moment after answering the alter): wait for it.
    let shows =
        |args: &[&str], what: &str| wait_until(e.wait, || kwire(&e.b, args).ok().stdout.contains(what));
    let gone =
        |args: &[&str], what: &str| wait_until(e.wait, || !kwire(&e.b, args).ok().stdout.contains(what));
    let topic_args = ["configs", "--describe", "--topic", t.as_str()];
    kwire(&e.b, &["configs", "--alter", "--topic", &t, "--add-config", "retention.ms=123456"]).ok();
    assert!(shows(&topic_args, "retention.ms=123456"), "the topic config shows");
    kwire(&e.b, &["configs", "--alter", "--topic", &t, "--delete-config", "retention.ms"]).ok();
    assert!(gone(&topic_args, "retention.ms=123456"), "the topic config is gone");
    let user = unique_topic("compat-user");
    let user_args = ["configs", "--describe", "--user", user.as_str()];
    // Brokers before 2.6 (quotas) and 2.7 (SCRAM users) lack the APIs:
    // kwire must say so in one line, and the check shows "unsup".
    let quota =
        kwire(&e.b, &["configs", "--alter", "--user", &user, "--add-config", "producer_byte_rate=1000"]);
    if quota.code == Some(0) {
        assert!(shows(&user_args, "producer_byte_rate=1000.0"), "the user quota shows");
        kwire(&e.b, &["configs", "--alter", "--user", &user, "--delete-config", "producer_byte_rate"]).ok();
        assert!(gone(&user_args, "producer_byte_rate"), "the user quota is gone");
    } else {
        assert!(e.major < 3, "quotas failed on Kafka {}: {quota:#?}", e.major);
        assert_unsupported("admin_configs", &quota);
    }
    let users = kwire(&e.b, &["users", "list"]);
    if users.code != Some(0) {
        assert!(e.major < 3, "users list failed on Kafka {}: {users:#?}", e.major);
        assert_unsupported("admin_configs", &users);
    }
    let acls = kwire(&e.b, &["acls", "list"]);
    let line = acls.one_line_error();
    assert!(line.contains("no authorizer configured"), "{line}");
    kwire(&e.b, &["topics", "delete", &t]).ok();
}

#[test]
#[ignore = "run by scripts/compat.sh (needs KWIRE_COMPAT_BOOTSTRAP and KWIRE_COMPAT_VERSION)"]
fn share_groups() {
    // kwire share-groups --list (ListGroups with the share type, Kafka 4.x);
    // older brokers: one line saying they lack share groups.
    // 3.9 answers ListGroups v5 (KIP-848's type filter) and, without share
    // groups enabled, lists none.
    let e = env();
    let run = kwire(&e.b, &["share-groups", "--list"]);
    if e.major >= 4 {
        run.ok();
    } else if e.major == 3 && run.code == Some(0) {
        assert!(run.stdout.trim().is_empty(), "no share groups on 3.x: {run:#?}");
    } else {
        assert_unsupported("share_groups", &run);
    }
}
