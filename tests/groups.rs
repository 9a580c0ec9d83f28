//! Consumer groups against real brokers: `kwire consume --group`, `kwire
//! groups`, interop with Kafka's Java console consumer, and fault tests
//! (a member killed with SIGKILL, the coordinator broker killed).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kwire_integration::*;
use serde_json::{Value, json};

/// Fast failure detection for the classic protocol (the broker's minimum).
const FAST: [&str; 6] = [
    "-X",
    "session.timeout.ms=6000",
    "-X",
    "heartbeat.interval.ms=1000",
    "-X",
    "auto.commit.interval.ms=500",
];

fn tmp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kwire-groups-{}-{name}", unique_topic("f")))
}

/// A background process whose stdout and stderr go to files.
struct Proc {
    name: String,
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    fn spawn(name: &str, mut cmd: Command) -> Proc {
        let out = tmp_file(&format!("{name}.out"));
        let err = tmp_file(&format!("{name}.err"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&err).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc { name: name.to_owned(), child, out, err }
    }

    /// `kwire consume --group` printing JSON, with `extra` options.
    fn kwire_member(name: &str, b: &str, topic: &str, group: &str, extra: &[&str]) -> Proc {
        let mut cmd = Command::new(kwire_bin());
        cmd.env_remove("KWIRE_BOOTSTRAP_SERVERS")
            .env_remove("KWIRE_LOG")
            .args([
                "-b",
                b,
                "-v",
                "consume",
                "-t",
                topic,
                "--group",
                group,
                "--from-beginning",
                "--format",
                "json",
            ])
            .args(["-X", &format!("client.id={name}")])
            .args(extra);
        Proc::spawn(name, cmd)
    }

    /// Kafka's Java console consumer in `group`.
    fn java_member(name: &str, b: &str, topic: &str, group: &str, extra: &[&str]) -> Proc {
        let mut cmd = Command::new(repo_root().join("scripts/kafka.sh"));
        cmd.args(["tool", "ConsoleConsumer", "--bootstrap-server", b, "--topic", topic, "--group", group])
            .args(["--from-beginning", "--consumer-property", &format!("client.id={name}")])
            .args([
                "--consumer-property",
                "session.timeout.ms=6000",
                "--consumer-property",
                "heartbeat.interval.ms=1000",
            ])
            .args(extra);
        Proc::spawn(name, cmd)
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("kill").args([sig, &self.child.id().to_string()]).status();
    }

    /// Graceful stop (SIGINT for kwire, SIGTERM for Java: both leave the group).
    fn stop(&mut self, sig: &str) {
        self.signal(sig);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("{} did not stop on {sig}:\n{}", self.name, self.stderr());
    }

    fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Records printed so far (kwire's JSON lines; a line cut by SIGKILL is skipped).
    fn records(&self) -> Vec<Value> {
        self.stdout().lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect()
    }

    /// Offsets this member logged as committed, per partition (last one wins).
    fn commits(&self, topic: &str) -> BTreeMap<i64, i64> {
        let mut out = BTreeMap::new();
        for line in self.stderr().lines() {
            let plain = strip_ansi(line);
            let Some(rest) = plain.split("committed offsets ").nth(1) else { continue };
            for item in rest.split_whitespace() {
                let Some((tp, off)) = item.split_once('=') else { continue };
                let Some(p) = tp.strip_prefix(&format!("{topic}-")) else { continue };
                if let (Ok(p), Ok(o)) = (p.parse::<i64>(), off.parse::<i64>()) {
                    out.insert(p, o);
                }
            }
        }
        out
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Values a Java console consumer printed (its stdout may carry warnings too).
fn java_values(p: &Proc) -> usize {
    p.stdout().lines().filter(|l| l.trim().parse::<i64>().is_ok()).count()
}

fn describe(b: &str, group: &str) -> Value {
    kwire(b, &["groups", "describe", group, "--format", "json"]).ok().json()
}

/// Like [`describe`], but `Null` while the group doesn't exist yet.
fn try_describe(b: &str, group: &str) -> Value {
    let run = kwire(b, &["groups", "describe", group, "--format", "json"]);
    if run.code == Some(0) { run.json() } else { Value::Null }
}

/// Member client id → assigned partitions of `topic`, if the group is
/// Stable with `members` members and every partition assigned exactly once.
fn stable_assignment(d: &Value, members: usize, partitions: i64) -> Option<BTreeMap<String, Vec<i64>>> {
    if d["state"] != "Stable" || d["members"].as_array()?.len() != members {
        return None;
    }
    let mut seen = BTreeSet::new();
    let mut out = BTreeMap::new();
    for m in d["members"].as_array()? {
        let mut parts = Vec::new();
        for a in m["assignment"].as_array()? {
            let p = a["partition"].as_i64()?;
            if !seen.insert(p) {
                return None; // assigned twice: not settled
            }
            parts.push(p);
        }
        out.insert(m["client_id"].as_str()?.to_owned(), parts);
    }
    (seen.len() as i64 == partitions).then_some(out)
}

fn wait_stable(
    b: &str,
    group: &str,
    members: usize,
    partitions: i64,
    timeout: Duration,
) -> BTreeMap<String, Vec<i64>> {
    let mut last = Value::Null;
    let ok = wait_until(timeout, || {
        last = try_describe(b, group);
        stable_assignment(&last, members, partitions).is_some()
    });
    assert!(
        ok,
        "group {group} did not settle on {members} members covering {partitions} partitions: {last:#}"
    );
    stable_assignment(&last, members, partitions).unwrap_or_default()
}

/// Feeds `k{i}:{i}` lines for `values` to kcat, `per_ms` lines per millisecond-ish step.
fn produce_slowly(
    b: &str,
    topic: &str,
    values: std::ops::Range<i64>,
    pause_every: i64,
) -> std::thread::JoinHandle<()> {
    produce_slowly_despite(b, topic, values, pause_every, None)
}

/// [`produce_slowly`], where kcat's exit status may be 1 if every error it
/// printed is about `down` (a broker the test killed): kcat exits 1 after
/// any error its error callback saw, such as a refused connect to a dead
/// bootstrap broker, even when every record was delivered. The caller then
/// checks delivery itself (every value read by the members).
fn produce_slowly_despite(
    b: &str,
    topic: &str,
    values: std::ops::Range<i64>,
    pause_every: i64,
    down: Option<String>,
) -> std::thread::JoinHandle<()> {
    let mut child = Command::new("kcat")
        .args(["-P", "-b", b, "-t", topic, "-K", ":", "-X", "acks=all", "-X", "linger.ms=5"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kcat");
    let mut stdin = child.stdin.take().expect("kcat stdin");
    std::thread::spawn(move || {
        for i in values {
            let _ = writeln!(stdin, "k{i}:{i}");
            if i % pause_every == 0 {
                let _ = stdin.flush();
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        drop(stdin);
        let out = child.wait_with_output().expect("kcat");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let only_the_dead_broker = down.as_deref().is_some_and(|d| {
            let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
            !errors.is_empty() && errors.iter().all(|l| l.contains(d))
        });
        assert!(out.status.success() || only_the_dead_broker, "kcat failed: {stderr}");
    })
}

fn value_of(r: &Value) -> i64 {
    r["value"].as_str().and_then(|v| v.parse().ok()).unwrap_or(-1)
}

/// Waits until every value in `want` was printed by some member; returns how
/// many times each value was printed.
fn wait_all_seen(procs: &[&Proc], want: std::ops::Range<i64>, timeout: Duration) -> BTreeMap<i64, usize> {
    let mut counts = BTreeMap::new();
    let ok = wait_until(timeout, || {
        counts.clear();
        for p in procs {
            for r in p.records() {
                *counts.entry(value_of(&r)).or_insert(0) += 1;
            }
        }
        want.clone().all(|v| counts.contains_key(&v))
    });
    if !ok {
        let missing: Vec<i64> = want.clone().filter(|v| !counts.contains_key(v)).take(20).collect();
        let logs: String = procs.iter().map(|p| format!("--- {}\n{}", p.name, p.stderr())).collect();
        panic!("values never consumed (first 20): {missing:?}\n{logs}");
    }
    counts
}

// ---------------------------------------------------------------------------

/// Committed offsets, lag, restart from committed offsets, reset-offsets in
/// every flavour (dry run first), delete-offsets and delete, and the
/// one-line errors.
#[test]
fn describe_lag_reset_offsets_and_delete() {
    let b = bootstrap();
    let t = unique_topic("grp-admin");
    let g = unique_topic("g-admin");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    let t0: i64 = 1_700_000_000_000;
    // Record i goes to partition i % 3 at offset i / 3, timestamp t0 + i s.
    let recs: Vec<Value> = (0..30)
        .map(|i| json!({"topic": t, "partition": i % 3, "value": format!("{i}"), "timestamp": t0 + i * 1000}))
        .collect();
    peer_produce(&b, &[], &recs);

    // Read 12 records as a group member: exactly those are committed.
    let run = kwire(
        &b,
        &["consume", "-t", &t, "--group", &g, "--from-beginning", "--max-messages", "12", "--format", "json"],
    )
    .ok();
    let first: Vec<Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(first.len(), 12);
    let mut printed = BTreeMap::new();
    for r in &first {
        *printed.entry(r["partition"].as_i64().unwrap()).or_insert(0i64) += 1;
    }
    let d = describe(&b, &g);
    assert_eq!(d["state"], "Empty", "{d:#}");
    assert_eq!(d["members"].as_array().unwrap().len(), 0);
    let offsets = d["offsets"].as_array().unwrap();
    let mut committed_total = 0;
    for o in offsets {
        let p = o["partition"].as_i64().unwrap();
        let cur = o["current_offset"].as_i64();
        let end = o["log_end_offset"].as_i64().unwrap();
        assert_eq!(end, 10);
        assert_eq!(cur.unwrap_or(0), printed.get(&p).copied().unwrap_or(0), "partition {p}: {d:#}");
        if let Some(c) = cur {
            assert_eq!(o["lag"].as_i64(), Some(end - c), "lag = end - committed");
            committed_total += c;
        }
    }
    assert_eq!(committed_total, 12);
    // The text form has kafka-consumer-groups.sh's columns.
    let text = kwire(&b, &["groups", "describe", &g]).ok().stdout;
    let header = [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ];
    assert!(text.lines().any(|l| l.split_whitespace().eq(header)), "{text}");
    assert!(kwire(&b, &["groups", "list"]).ok().stdout.lines().any(|l| l == g));

    // A new member resumes from the committed offsets (--from-beginning only
    // matters without them): the other 18 records, no repeats.
    let run =
        kwire(&b, &["consume", "-t", &t, "--group", &g, "--from-beginning", "-e", "--format", "json"]).ok();
    let rest: BTreeSet<i64> =
        run.stdout.lines().map(|l| value_of(&serde_json::from_str(l).unwrap())).collect();
    let firsts: BTreeSet<i64> = first.iter().map(value_of).collect();
    assert_eq!(rest.len(), 18, "{}", run.stdout);
    assert!(rest.is_disjoint(&firsts));
    assert_eq!(rest.union(&firsts).count(), 30);

    // reset-offsets --to-datetime: dry run prints the plan and changes nothing.
    let before = describe(&b, &g)["offsets"].clone();
    let at = "2023-11-14T22:13:24.500Z"; // t0 + 4.5 s
    let plan =
        kwire(&b, &["groups", "reset-offsets", &g, "--topic", &t, "--to-datetime", at, "--format", "json"])
            .ok();
    assert!(plan.stderr.contains("dry run"), "{}", plan.stderr);
    let new: BTreeMap<i64, i64> = plan.json()["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["partition"].as_i64().unwrap(), o["new_offset"].as_i64().unwrap()))
        .collect();
    // First record at or after t0 + 4.5 s: p0 offset 2 (t0+6 s), p1 offset 2 (t0+7 s), p2 offset 1 (t0+5 s).
    assert_eq!(new, [(0, 2), (1, 2), (2, 1)].into_iter().collect());
    assert_eq!(describe(&b, &g)["offsets"], before, "a dry run changes nothing");
    kwire(&b, &["groups", "reset-offsets", &g, "--topic", &t, "--to-datetime", at, "--execute"]).ok();
    let cur = |g: &str| -> BTreeMap<i64, i64> {
        describe(&b, g)["offsets"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| Some((o["partition"].as_i64()?, o["current_offset"].as_i64()?)))
            .collect()
    };
    assert_eq!(cur(&g), new);
    // The other scenarios.
    kwire(&b, &["groups", "reset-offsets", &g, "--all-topics", "--shift-by", "-1", "--execute"]).ok();
    assert_eq!(cur(&g), [(0, 1), (1, 1), (2, 0)].into_iter().collect());
    kwire(
        &b,
        &["groups", "reset-offsets", &g, "--topic", &format!("{t}:1"), "--to-offset", "99", "--execute"],
    )
    .ok();
    assert_eq!(cur(&g)[&1], 10, "clamped to the log end");
    kwire(&b, &["groups", "reset-offsets", &g, "--topic", &t, "--to-latest", "--execute"]).ok();
    assert_eq!(cur(&g), [(0, 10), (1, 10), (2, 10)].into_iter().collect());
    kwire(&b, &["groups", "reset-offsets", &g, "--topic", &t, "--to-earliest", "--execute"]).ok();
    assert_eq!(cur(&g), [(0, 0), (1, 0), (2, 0)].into_iter().collect());
    kwire(&b, &["groups", "reset-offsets", &g, "--topic", &t, "--by-duration", "PT1H", "--execute"]).ok();
    assert_eq!(cur(&g), [(0, 10), (1, 10), (2, 10)].into_iter().collect(), "nothing is younger than an hour");

    // Bad input: one line, nothing done.
    for (args, needle) in [
        (vec!["groups", "reset-offsets", &g, "--topic", &t], "--to-earliest"),
        (vec!["groups", "reset-offsets", &g, "--topic", &t, "--to-earliest", "--to-latest"], "only one"),
        (vec!["groups", "reset-offsets", &g, "--to-earliest"], "--all-topics"),
        (vec!["groups", "reset-offsets", &g, "--topic", &t, "--by-duration", "1h"], "PT30M"),
        (vec!["groups", "reset-offsets", &g, "--topic", &t, "--to-datetime", "soon"], "ISO-8601"),
        (
            vec!["groups", "reset-offsets", &g, "--topic", "no-such-topic-xyz", "--to-earliest"],
            "does not exist",
        ),
        (vec!["groups", "reset-offsets", &g, "--topic", &format!("{t}:7"), "--to-earliest"], "partition 7"),
        (vec!["groups", "describe", "no-such-group-xyz"], "does not exist"),
        (vec!["groups", "delete", "no-such-group-xyz"], "does not exist"),
        (vec!["consume", "-t", &t, "--group", &g, "-p", "0"], "--partition"),
        (vec!["consume", "-t", &t, "--group", &g, "-o", "5"], "--offset"),
        (vec!["consume", "-t", &t, "--group", &g, "-X", "group.protocol=bogus"], "classic or consumer"),
    ] {
        let line = kwire(&b, &args).one_line_error();
        assert!(line.contains(needle), "{args:?}: {line}");
    }
    assert_eq!(cur(&g), [(0, 10), (1, 10), (2, 10)].into_iter().collect());

    // While a member is active: reset and delete refuse.
    let mut m = Proc::kwire_member("active", &b, &t, &g, &FAST);
    wait_stable(&b, &g, 1, 3, Duration::from_secs(20));
    let line = kwire(&b, &["groups", "reset-offsets", &g, "--topic", &t, "--to-earliest", "--execute"])
        .one_line_error();
    assert!(line.contains("active members"), "{line}");
    let line = kwire(&b, &["groups", "delete", &g]).one_line_error();
    assert!(line.contains("active member"), "{line}");
    let line = kwire(&b, &["groups", "delete-offsets", &g, "--topic", &t]).one_line_error();
    assert!(line.contains("subscribed"), "{line}");
    m.stop("-INT");
    assert_eq!(cur(&g), [(0, 10), (1, 10), (2, 10)].into_iter().collect());

    // delete-offsets, then delete.
    let out = kwire(&b, &["groups", "delete-offsets", &g, "--topic", &format!("{t}:0")]).ok().stdout;
    assert!(out.contains("Successful"), "{out}");
    assert_eq!(cur(&g), [(1, 10), (2, 10)].into_iter().collect());
    let out = kwire(&b, &["groups", "delete", &g]).ok().stdout;
    assert!(out.contains("was successful"), "{out}");
    let line = kwire(&b, &["groups", "describe", &g]).one_line_error();
    assert!(line.contains("does not exist"), "{line}");
}

/// A group of kwire members and Java console consumers: every partition goes
/// to exactly one member whoever leads, and a member's partitions move when
/// it leaves. Once with the default assignors (range), once all-cooperative.
#[test]
fn mixed_group_with_java_console_consumers() {
    let b = bootstrap();
    for (label, kwire_strategy, java_strategy) in [
        (
            "range",
            "range,cooperative-sticky",
            "org.apache.kafka.clients.consumer.RangeAssignor,org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
        ),
        ("coop", "cooperative-sticky", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"),
    ] {
        let t = unique_topic(&format!("grp-mixed-{label}"));
        let g = unique_topic(&format!("g-mixed-{label}"));
        kwire(&b, &["topics", "create", &t, "--partitions", "6"]).ok();
        let kw = |name: &str| {
            let s = format!("partition.assignment.strategy={kwire_strategy}");
            let mut args: Vec<String> = FAST.iter().map(|s| (*s).to_owned()).collect();
            args.extend(["-X".to_owned(), s]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            Proc::kwire_member(name, &b, &t, &g, &refs)
        };
        let java_prop = format!("partition.assignment.strategy={java_strategy}");
        let jv = |name: &str| Proc::java_member(name, &b, &t, &g, &["--consumer-property", &java_prop]);
        // kwire first: it leads and assigns for the Java members.
        let mut k1 = kw("kwire-1");
        wait_stable(&b, &g, 1, 6, Duration::from_secs(20));
        let mut j1 = jv("java-1");
        let k2 = kw("kwire-2");
        let j2 = jv("java-2");
        let a = wait_stable(&b, &g, 4, 6, Duration::from_secs(60));
        assert_eq!(a.len(), 4, "{label}: {a:?}");
        assert!(a.values().all(|p| !p.is_empty()), "{label}: every member got work: {a:?}");
        // Records spread over the members, each consumed once.
        let recs: Vec<Value> =
            (0..60).map(|i| json!({"topic": t, "partition": i % 6, "value": format!("{i}")})).collect();
        peer_produce(&b, &[], &recs);
        let ok = wait_until(Duration::from_secs(20), || {
            let kw_seen = k1.records().len() + k2.records().len();
            let java_seen = java_values(&j1) + java_values(&j2);
            kw_seen + java_seen == 60
        });
        assert!(
            ok,
            "{label}: kwire saw {} + {}, java {} + {}",
            k1.records().len(),
            k2.records().len(),
            java_values(&j1),
            java_values(&j2)
        );
        // The leader (kwire-1) leaves: its partitions move, a Java or kwire member leads.
        let gone = a["kwire-1"].clone();
        k1.stop("-INT");
        let a = wait_stable(&b, &g, 3, 6, Duration::from_secs(30));
        assert!(!a.contains_key("kwire-1"));
        let moved: Vec<i64> = a.values().flatten().copied().filter(|p| gone.contains(p)).collect();
        assert_eq!(moved.len(), gone.len(), "{label}: kwire-1's partitions {gone:?} moved: {a:?}");
        // A Java member leaves too.
        j1.stop("-TERM");
        let a = wait_stable(&b, &g, 2, 6, Duration::from_secs(30));
        assert_eq!(
            a.keys().cloned().collect::<Vec<_>>(),
            vec!["java-2".to_owned(), "kwire-2".to_owned()],
            "{label}"
        );
        drop((k2, j2));
    }
}

/// An application that stops polling (here: kwire blocked writing to a full
/// stdout pipe) keeps its membership past the session timeout, because
/// heartbeats don't depend on polls; after `max.poll.interval.ms` it leaves
/// the group, and it rejoins when it polls again, losing no record.
#[test]
fn stalled_application_heartbeats_then_leaves_after_max_poll_interval() {
    let b = bootstrap();
    let t = unique_topic("grp-stall");
    let g = unique_topic("g-stall");
    kwire(&b, &["topics", "create", &t, "--partitions", "2"]).ok();
    let mut child = Command::new(kwire_bin())
        .env_remove("KWIRE_BOOTSTRAP_SERVERS")
        .args([
            "-b",
            &b,
            "consume",
            "-t",
            &t,
            "--group",
            &g,
            "--from-beginning",
            "-X",
            "max.poll.interval.ms=12000",
        ])
        .args(FAST)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kwire");
    let first = wait_stable(&b, &g, 1, 2, Duration::from_secs(20));
    let member_id = |d: &Value| d["members"][0]["member_id"].as_str().map(str::to_owned);
    let id0 = member_id(&describe(&b, &g));
    // 400 KiB of values: far more than the pipe holds, nobody reads it yet.
    let n = 4000;
    let pad = "x".repeat(100);
    let recs: Vec<Value> =
        (0..n).map(|i| json!({"topic": t, "partition": i % 2, "value": format!("{i} {pad}")})).collect();
    peer_produce(&b, &[], &recs);
    let stalled = Instant::now();
    std::thread::sleep(Duration::from_secs(9));
    let d = describe(&b, &g);
    assert_eq!(member_id(&d), id0, "still the same member 9 s into the stall (session timeout 6 s): {d:#}");
    assert_eq!(stable_assignment(&d, 1, 2).map(|a| a.len()), Some(first.len()));
    // max.poll.interval.ms (12 s) runs out: it leaves.
    let left = wait_until(Duration::from_secs(15), || {
        try_describe(&b, &g)["members"].as_array().is_some_and(|m| m.is_empty())
    });
    assert!(left, "still in the group {:?} after the stall began", stalled.elapsed());
    assert!(
        stalled.elapsed() >= Duration::from_secs(11),
        "left after {:?}, before max.poll.interval.ms",
        stalled.elapsed()
    );
    // Drain stdout: it polls again, rejoins, and every value arrives.
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut seen = BTreeSet::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(v) = line.split(' ').next().and_then(|v| v.parse::<i64>().ok()) {
                seen.insert(v);
            }
            if seen.len() as i64 == n {
                break;
            }
        }
        seen
    });
    wait_stable(&b, &g, 1, 2, Duration::from_secs(20));
    let seen = reader.join().expect("reader");
    assert_eq!(seen.len() as i64, n);
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let _ = child.wait();
}

struct FaultRun {
    /// Time from SIGKILL until the survivors owned every partition.
    reassigned_after: Duration,
    duplicates: usize,
    /// The session timeout in force.
    session: Duration,
}

/// KIP-848 session timeouts are the broker's: ask for 6 s for `group`
/// (`consumer.session.timeout.ms`); brokers only allow it down to
/// `group.consumer.min.session.timeout.ms` (45 s by default), then 45 s it is.
fn consumer_group_session_timeout(b: &str, group: &str) -> Duration {
    let ok = Command::new(repo_root().join("scripts/kafka.sh"))
        .args([
            "tool",
            "ConfigCommand",
            "--bootstrap-server",
            b,
            "--entity-type",
            "groups",
            "--entity-name",
            group,
        ])
        .args(["--alter", "--add-config", "consumer.session.timeout.ms=6000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok { Duration::from_secs(6) } else { Duration::from_secs(45) }
}

/// Three kwire members on six partitions while a producer runs; one is
/// killed with SIGKILL. Its partitions must move within the session timeout
/// plus one rebalance; every value is consumed at least once; re-delivered
/// records are exactly those the killed member printed after its last commit.
fn kill_a_member(protocol: &str, session: Duration) -> FaultRun {
    let b = bootstrap();
    let t = unique_topic(&format!("grp-kill-{protocol}"));
    let g = unique_topic(&format!("g-kill-{protocol}"));
    kwire(&b, &["topics", "create", &t, "--partitions", "6"]).ok();
    let session = if protocol == "consumer" { consumer_group_session_timeout(&b, &g) } else { session };
    let mut extra: Vec<String> = FAST.iter().map(|s| (*s).to_owned()).collect();
    extra.extend(["-X".to_owned(), format!("group.protocol={protocol}")]);
    let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut members: Vec<Proc> =
        (1..=3).map(|i| Proc::kwire_member(&format!("m{i}"), &b, &t, &g, &refs)).collect();
    let before = wait_stable(&b, &g, 3, 6, Duration::from_secs(60));
    let n = 6000;
    let producer = produce_slowly(&b, &t, 0..n, 20);
    std::thread::sleep(Duration::from_millis(2500));
    // Kill a member that owns partitions and has consumed.
    let victim_name = before.iter().find(|(_, p)| !p.is_empty()).map(|(k, _)| k.clone()).unwrap_or_default();
    let victim_parts = before[&victim_name].clone();
    let vi = members.iter().position(|m| m.name == victim_name).expect("victim");
    let mut victim = members.remove(vi);
    victim.kill9();
    let killed = Instant::now();
    let after = wait_stable(&b, &g, 2, 6, session + Duration::from_secs(15));
    let reassigned_after = killed.elapsed();
    assert!(!after.contains_key(&victim_name));
    producer.join().expect("producer");
    let procs: Vec<&Proc> = members.iter().chain(std::iter::once(&victim)).collect();
    let counts = wait_all_seen(&procs, 0..n, Duration::from_secs(60));
    // Re-delivery only in the victim's partitions, and only after its last commit.
    let commits = victim.commits(&t);
    let victim_recs = victim.records();
    let mut victim_last: BTreeMap<i64, i64> = BTreeMap::new();
    for r in &victim_recs {
        let p = r["partition"].as_i64().unwrap();
        let o = r["offset"].as_i64().unwrap();
        let e = victim_last.entry(p).or_insert(o);
        *e = (*e).max(o);
    }
    let mut survivors_first: BTreeMap<i64, i64> = BTreeMap::new();
    let mut seen_by_survivors: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    for m in &members {
        for r in m.records() {
            let p = r["partition"].as_i64().unwrap();
            let o = r["offset"].as_i64().unwrap();
            *seen_by_survivors.entry((p, o)).or_insert(0) += 1;
            if victim_parts.contains(&p) {
                let e = survivors_first.entry(p).or_insert(o);
                *e = (*e).min(o);
            }
        }
    }
    let mut window = 0;
    for p in &victim_parts {
        let committed = commits.get(p).copied().unwrap_or(0);
        if let Some(first) = survivors_first.get(p) {
            assert!(
                *first >= committed,
                "{protocol}: partition {p} restarted at {first}, before the victim's last commit {committed}"
            );
        }
        if let Some(last) = victim_last.get(p) {
            window += (last + 1 - committed).max(0);
        }
    }
    let dup_offsets: Vec<&(i64, i64)> =
        seen_by_survivors.iter().filter(|(_, c)| **c > 1).map(|(k, _)| k).collect();
    assert!(dup_offsets.is_empty(), "{protocol}: survivors read {dup_offsets:?} twice");
    let duplicates: usize = counts.values().filter(|c| **c > 1).map(|c| c - 1).sum();
    assert!(
        duplicates as i64 <= window,
        "{protocol}: {duplicates} re-delivered records exceed the victim's uncommitted window of {window}"
    );
    for (v, c) in &counts {
        if *c > 1 {
            let r = victim_recs.iter().find(|r| value_of(r) == *v);
            assert!(r.is_some(), "{protocol}: value {v} delivered twice but not by the victim");
        }
    }
    for m in members.iter_mut() {
        m.stop("-INT");
    }
    FaultRun { reassigned_after, duplicates, session }
}

#[test]
fn sigkill_member_classic_protocol() {
    let r = kill_a_member("classic", Duration::from_secs(6));
    // Session timeout (6 s) plus one rebalance (heartbeat 1 s, rejoin).
    assert!(r.reassigned_after <= Duration::from_secs(6 + 6), "reassigned after {:?}", r.reassigned_after);
    eprintln!("classic: reassigned after {:?}, {} duplicates", r.reassigned_after, r.duplicates);
}

/// KIP-848: the broker owns the session timeout (45 s unless the broker
/// lets the group lower it; see `consumer_group_session_timeout`).
#[test]
fn sigkill_member_consumer_protocol() {
    let r = kill_a_member("consumer", Duration::ZERO);
    let session = r.session;
    // Session timeout plus the broker's heartbeat interval (5 s) and slack.
    assert!(
        r.reassigned_after <= session + Duration::from_secs(10),
        "reassigned after {:?}",
        r.reassigned_after
    );
    eprintln!("consumer: reassigned after {:?}, {} duplicates", r.reassigned_after, r.duplicates);
}

/// The broker coordinating the group dies: members find the new coordinator
/// and go on consuming; the group stays the same two members.
#[test]
fn coordinator_broker_killed_on_three_nodes() {
    let _g = trio_exclusive();
    // Every broker, so clients can bootstrap whichever node dies.
    let brokers: Vec<(i64, String)> =
        kwire(&bootstrap3(), &["cluster", "--format", "json"]).ok().json()["brokers"]
            .as_array()
            .expect("brokers")
            .iter()
            .map(|x| {
                (
                    x["id"].as_i64().unwrap_or(-1),
                    format!("{}:{}", x["host"].as_str().unwrap_or_default(), x["port"]),
                )
            })
            .collect();
    let b = brokers.iter().map(|(_, a)| a.as_str()).collect::<Vec<_>>().join(",");
    let name = cluster3_name();
    let t = unique_topic("grp-coord");
    let g = unique_topic("g-coord");
    kwire(&b, &["topics", "create", &t, "--partitions", "3", "--replication-factor", "3"]).ok();
    let mut members: Vec<Proc> =
        (1..=2).map(|i| Proc::kwire_member(&format!("c{i}"), &b, &t, &g, &FAST)).collect();
    wait_stable(&b, &g, 2, 3, Duration::from_secs(30));
    let refs: Vec<&Proc> = members.iter().collect();
    produce_slowly(&b, &t, 0..500, 50).join().expect("producer");
    wait_all_seen(&refs, 0..500, Duration::from_secs(30));
    let coordinator = describe(&b, &g)["coordinator"]["id"].as_i64().expect("coordinator id");
    kafka_sh(&["kill-node", &coordinator.to_string(), "--name", &name]);
    let killed = Instant::now();
    let restart = scopeguard(&name, coordinator);
    // Keep producing to the survivors; the members must read it all.
    // kcat may report refused connects to the dead broker (and then exit 1);
    // that every record arrived is what the members' reads check.
    let dead = brokers.iter().find(|(id, _)| *id == coordinator).map(|(_, a)| a.clone());
    produce_slowly_despite(&b, &t, 500..1500, 50, dead).join().expect("producer");
    wait_all_seen(&refs, 0..1500, Duration::from_secs(60));
    eprintln!("coordinator {coordinator} killed; everything consumed {:?} later", killed.elapsed());
    let mut d = Value::Null;
    let moved = wait_until(Duration::from_secs(30), || {
        d = describe(&b, &g);
        d["coordinator"]["id"].as_i64().is_some_and(|c| c != coordinator)
            && stable_assignment(&d, 2, 3).is_some()
    });
    assert!(moved, "the group did not settle on a new coordinator: {d:#}");
    for m in members.iter_mut() {
        assert!(matches!(m.child.try_wait(), Ok(None)), "{} exited: {}", m.name, m.stderr());
        let log = strip_ansi(&m.stderr());
        let moves: Vec<&str> =
            log.lines().filter(|l| l.contains("coordinator") || l.contains("lost")).collect();
        eprintln!("{}:\n{}", m.name, moves.join("\n"));
    }
    drop(restart);
    drop(members);
}

/// Restarts the killed node when dropped (also on panic).
struct Restart(String, i64);

fn scopeguard(name: &str, node: i64) -> Restart {
    Restart(name.to_owned(), node)
}

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/kafka.sh"))
            .args(["start-node", &self.1.to_string(), "--name", &self.0])
            .status();
    }
}
