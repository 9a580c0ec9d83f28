//! `kwire produce` as the guide uses it: on topics created a moment before,
//! with records that fail, and with no broker at all. Each test says
//! precisely what went wrong, so a failing run can be acted on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kwire_integration::*;

/// Runs `kwire -b bootstrap args` with `stdin`, killing it after `limit`.
/// Returns the run (`code` is None if it was killed) and whether it was.
fn kwire_capped(bootstrap: &str, args: &[&str], stdin: &[u8], limit: Duration) -> (Run, bool) {
    let mut child = Command::new(kwire_bin())
        .env_remove("KWIRE_BOOTSTRAP_SERVERS")
        .env_remove("KWIRE_LOG")
        .arg("-b")
        .arg(bootstrap)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kwire");
    let start = Instant::now();
    let mut si = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    std::thread::spawn(move || {
        let _ = si.write_all(&data);
    });
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let mut killed = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait kwire") {
            break s;
        }
        if start.elapsed() >= limit {
            let _ = child.kill();
            killed = true;
            break child.wait().expect("wait killed kwire");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let stdout_bytes = out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    let run = Run {
        code: if killed { None } else { status.code() },
        stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
        stdout_bytes,
        stderr,
        elapsed,
    };
    (run, killed)
}

/// Deletes a topic when dropped, also when the test fails.
struct TopicGuard<'a> {
    bootstrap: &'a str,
    topic: String,
}

impl Drop for TopicGuard<'_> {
    fn drop(&mut self) {
        let _ = kwire(self.bootstrap, &["topics", "delete", &self.topic, "--if-exists"]);
    }
}

/// A temporary file path, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> Self {
        TempPath(std::env::temp_dir().join(unique_topic(name)))
    }
    fn as_str(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Parses `kwire: partition P: line(s) A-B, C, ... not written (...)` (or
/// `may have been written`) lines of a failed run's stderr into
/// (partition, line number) pairs. A capped list (`… and N more ranges`)
/// is reported as such.
fn summary_lines(stderr: &str, verb: &str) -> Result<Vec<(i32, u64)>, String> {
    let mut out = Vec::new();
    for l in stderr.lines() {
        let Some(rest) = l.strip_prefix("kwire: partition ") else { continue };
        let Some((p, rest)) = rest.split_once(": ") else { return Err(format!("unparsed: {l}")) };
        let Some((ranges, _)) = rest.split_once(verb) else { continue };
        let p: i32 = p.parse().map_err(|_| format!("bad partition in: {l}"))?;
        let ranges = ranges.trim().trim_start_matches("lines ").trim_start_matches("line ");
        for r in ranges.split(", ") {
            if r.contains("more range") {
                return Err(format!("the summary was capped: {l}"));
            }
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            let (a, b): (u64, u64) = match (a.parse(), b.parse()) {
                (Ok(a), Ok(b)) => (a, b),
                _ => return Err(format!("bad range {r:?} in: {l}")),
            };
            out.extend((a..=b).map(|n| (p, n)));
        }
    }
    Ok(out)
}

/// The first `n` items of a list, for messages.
fn first<T: std::fmt::Debug>(v: &[T], n: usize) -> String {
    if v.len() <= n { format!("{v:?}") } else { format!("{:?} … ({} in all)", &v[..n], v.len()) }
}

/// A topic that takes at most 2000-byte records; every 37th of 300 lines is
/// 5000 bytes. The run fails, and says exactly which lines were not
/// written; `--failed-output` holds exactly those lines; everything else
/// is in the topic exactly once.
#[test]
fn a_run_that_fails_names_the_lines_not_written() {
    let b = bootstrap();
    let t = unique_topic("failed-lines");
    kwire(&b, &["topics", "create", &t, "--partitions", "3", "--config", "max.message.bytes=2000"]).ok();
    let _topic = TopicGuard { bootstrap: &b, topic: t.clone() };
    let n = 300u64;
    let big = |i: u64| i.is_multiple_of(37);
    let line = |i: u64| if big(i) { format!("big-{i}-{}", "z".repeat(5000)) } else { format!("line-{i}") };
    let input: String = (1..=n).map(|i| line(i) + "\n").collect();
    let expected_failed: Vec<u64> = (1..=n).filter(|&i| big(i)).collect();
    let failed_file = TempPath::new("kwire-failed-output");

    let (run, killed) = kwire_capped(
        &b,
        &["produce", "-t", &t, "--failed-output", failed_file.as_str()],
        input.as_bytes(),
        Duration::from_secs(180),
    );
    assert!(
        !killed,
        "kwire produce was still running after {:?}; stderr so far:\n{}",
        run.elapsed, run.stderr
    );
    assert!(run.code.is_some_and(|c| c != 0), "expected a non-zero exit: {run:#?}");
    assert!(!run.stderr.contains("panicked"), "panic: {}", run.stderr);
    let headline = run.stderr.lines().next().unwrap_or_default().to_owned();

    let mut problems = Vec::new();
    let want = format!("{} of {n} records failed", expected_failed.len());
    if !headline.starts_with("kwire: error: ") || !headline.contains(&want) {
        problems.push(format!("first stderr line should say '{want}': {headline}"));
    }
    // The summary names exactly the big lines, each once, all "not written".
    match (summary_lines(&run.stderr, "not written"), summary_lines(&run.stderr, "may have been written")) {
        (Ok(named), Ok(maybe)) => {
            let mut lines: Vec<u64> = named.iter().map(|(_, l)| *l).collect();
            lines.sort_unstable();
            let set: BTreeSet<u64> = lines.iter().copied().collect();
            let want_set: BTreeSet<u64> = expected_failed.iter().copied().collect();
            let extra: Vec<u64> = set.difference(&want_set).copied().collect();
            let missing: Vec<u64> = want_set.difference(&set).copied().collect();
            if !extra.is_empty() {
                problems.push(format!(
                    "the summary names lines that are not over max.message.bytes as not written: {}",
                    first(&extra, 20)
                ));
            }
            if !missing.is_empty() {
                problems
                    .push(format!("the summary misses lines that were too large: {}", first(&missing, 20)));
            }
            if lines.len() != set.len() {
                problems.push(format!("the summary names some lines twice: {lines:?}"));
            }
            if !maybe.is_empty() {
                problems.push(format!("lines reported with an unknown outcome: {}", first(&maybe, 20)));
            }
        }
        (Err(e), _) | (_, Err(e)) => problems.push(e),
    }
    // --failed-output: exactly the failed lines, raw, in input order.
    let saved = std::fs::read_to_string(&failed_file.0).unwrap_or_else(|e| format!("<unreadable: {e}>"));
    let saved: Vec<&str> = saved.lines().collect();
    let want_saved: Vec<String> = expected_failed.iter().map(|&i| line(i)).collect();
    if saved != want_saved {
        let short = |s: &&str| s.chars().take(12).collect::<String>();
        problems.push(format!(
            "--failed-output holds {} lines, want {}: first 12 chars of each: {}",
            saved.len(),
            want_saved.len(),
            first(&saved.iter().map(short).collect::<Vec<_>>(), 20)
        ));
    }
    // Every other line is in the topic exactly once.
    let read = read_all_values(&b, &t);
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (_, v) in &read {
        *count.entry(v.as_str()).or_default() += 1;
    }
    let small: Vec<String> = (1..=n).filter(|&i| !big(i)).map(line).collect();
    let lost: Vec<&String> = small.iter().filter(|l| !count.contains_key(l.as_str())).collect();
    let dups: Vec<(&str, usize)> = count.iter().filter(|(_, c)| **c > 1).map(|(v, c)| (*v, *c)).collect();
    let bigs_written = read.iter().filter(|(_, v)| v.starts_with("big-")).count();
    if !lost.is_empty() {
        problems.push(format!("lines that fit are missing from the topic: {}", first(&lost, 20)));
    }
    if !dups.is_empty() {
        problems.push(format!("lines written more than once: {}", first(&dups, 20)));
    }
    if bigs_written > 0 {
        problems.push(format!("{bigs_written} too-large lines were written"));
    }
    if run.elapsed > Duration::from_secs(60) {
        problems.push(format!(
            "took {:?}: a record too large for the topic should fail at once, not after retries",
            run.elapsed
        ));
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n- {}\n(read {} records; run took {:?})\nstderr:\n{}",
        problems.len(),
        problems.join("\n- "),
        read.len(),
        run.elapsed,
        run.stderr
    );

    // Re-sending --failed-output sends exactly those lines again (and they fail again).
    let (again, _) = kwire_capped(
        &b,
        &["produce", "-t", &t, "--input", failed_file.as_str()],
        b"",
        Duration::from_secs(180),
    );
    let again_line = again.stderr.lines().next().unwrap_or_default().to_owned();
    let want = format!("{0} of {0} records failed", expected_failed.len());
    assert!(again_line.contains(&want), "re-sending --failed-output: want '{want}': {again:#?}");
}

/// The guide's workflow, many times: `kwire topics create T --partitions 6`,
/// then at once `seq 1 20000 | sed 's/.*/key&:value&/' | kwire produce -t T
/// --acks all --key-separator :`. Every run must write all 20000 records,
/// once each, in send order within each partition.
/// `KWIRE_FRESH_RUNS` sets the number of runs (default 50).
#[test]
fn create_then_produce_on_fresh_topics_loses_and_reorders_nothing() {
    let b = bootstrap();
    let runs: u32 = std::env::var("KWIRE_FRESH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let n = 20_000u64;
    let input: String = (1..=n).map(|i| format!("key{i}:value{i}\n")).collect();
    let started = Instant::now();
    for run_no in 1..=runs {
        let t = unique_topic("fresh");
        let _topic = TopicGuard { bootstrap: &b, topic: t.clone() };
        kwire(&b, &["topics", "create", &t, "--partitions", "6"]).ok();
        let (produced, killed) = kwire_capped(
            &b,
            &["produce", "-t", &t, "--acks", "all", "--key-separator", ":"],
            input.as_bytes(),
            Duration::from_secs(150),
        );
        // Read back even when produce failed: what reached the topic says
        // whether the failure also lost or reordered acknowledged records.
        let read = read_all_values(&b, &t);
        let anomalies = check_fresh(&read, n);
        let outcome = match (killed, produced.code) {
            (true, _) => format!("was still running after {:?} (killed)", produced.elapsed),
            (false, Some(0)) => format!("exited 0 after {:?}", produced.elapsed),
            (false, Some(code)) => format!("exited with code {code} after {:?}", produced.elapsed),
            (false, None) => format!("was killed by a signal after {:?}", produced.elapsed),
        };
        assert!(
            produced.code == Some(0) && anomalies.is_empty(),
            "run {run_no} of {runs} (topic {t}): kwire produce {outcome}; read back {} records{}\n\
             produce's stderr:\n{}",
            read.len(),
            if anomalies.is_empty() { String::new() } else { format!(":\n- {}", anomalies.join("\n- ")) },
            produced.stderr
        );
    }
    eprintln!("{runs} runs of create + produce {n} + read back in {:?}", started.elapsed());
}

/// What is wrong with `read` ((partition, value) in offset order per
/// partition), which should hold `value1..=value<n>` once each, increasing
/// within each partition.
fn check_fresh(read: &[(i32, String)], n: u64) -> Vec<String> {
    let mut anomalies = Vec::new();
    let mut seen: BTreeMap<u64, Vec<i32>> = BTreeMap::new();
    let mut last: HashMap<i32, u64> = HashMap::new();
    let mut reordered = Vec::new();
    let mut garbage = Vec::new();
    for (p, v) in read {
        let Some(num) = v.strip_prefix("value").and_then(|s| s.parse::<u64>().ok()) else {
            garbage.push(v.clone());
            continue;
        };
        seen.entry(num).or_default().push(*p);
        match last.insert(*p, num) {
            Some(prev) if num <= prev => {
                reordered.push(format!("partition {p}: value{prev} then value{num}"))
            }
            _ => {}
        }
    }
    if read.len() as u64 != n {
        anomalies.push(format!("{} records, want {n}", read.len()));
    }
    let missing: Vec<u64> = (1..=n).filter(|i| !seen.contains_key(i)).collect();
    if !missing.is_empty() {
        anomalies.push(format!("{} missing: {}", missing.len(), first(&missing, 10)));
    }
    let dups: Vec<(u64, &Vec<i32>)> =
        seen.iter().filter(|(_, ps)| ps.len() > 1).map(|(v, ps)| (*v, ps)).collect();
    if !dups.is_empty() {
        anomalies.push(format!("{} duplicated (value, partitions): {}", dups.len(), first(&dups, 10)));
    }
    if !reordered.is_empty() {
        anomalies.push(format!("{} out of send order: {}", reordered.len(), first(&reordered, 10)));
    }
    if !garbage.is_empty() {
        anomalies.push(format!("{} unexpected values: {}", garbage.len(), first(&garbage, 5)));
    }
    anomalies
}

#[test]
fn check_fresh_finds_loss_duplicates_and_reordering() {
    let ok: Vec<(i32, String)> = vec![(0, "value1".into()), (1, "value2".into()), (0, "value3".into())];
    assert!(check_fresh(&ok, 3).is_empty());
    let bad: Vec<(i32, String)> = vec![(0, "value3".into()), (0, "value1".into()), (1, "value3".into())];
    let a = check_fresh(&bad, 3).join("\n");
    assert!(a.contains("1 missing: [2]"), "{a}");
    assert!(a.contains("1 duplicated (value, partitions): [(3, [0, 1])]"), "{a}");
    assert!(a.contains("partition 0: value3 then value1"), "{a}");
}

/// No broker at the address: `kwire produce` fails at once, in one line
/// naming the address, instead of waiting max.block.ms (60 s).
#[test]
fn produce_to_an_unreachable_broker_fails_at_once() {
    let addr = "127.0.0.1:1";
    let limit = Duration::from_secs(10);
    // Killed a little after the limit, so a hang fails the test, not the suite.
    let (run, killed) =
        kwire_capped(addr, &["produce", "-t", "x"], b"one line\n", limit + Duration::from_secs(2));
    assert!(
        !killed,
        "kwire -b {addr} produce was still running after {:?} (killed); it should fail within {limit:?}. \
         stderr so far: {:?}",
        run.elapsed, run.stderr
    );
    let line = run.one_line_error();
    assert!(line.contains(addr), "the error should name {addr}: {line}");
    assert!(run.elapsed < limit, "failed, but after {:?} (limit {limit:?}): {line}", run.elapsed);
}
