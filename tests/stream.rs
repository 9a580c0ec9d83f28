//! `kwire stream` against a real broker: counts equal an independent
//! computation, exactly-once restarts after crashes and `kill -9`, Spark's
//! console layout for the guide's three queries, Spark's errors before
//! anything is read, data loss, triggers, source options.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use kwire_integration::*;
use serde_json::{Value, json};

const DDL: &str = "gender STRING, age LONG, party STRING";

/// A scratch directory for one test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(unique_topic(&format!("kwire-stream-{name}")));
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic voter values, with malformed JSON, wrongly typed fields,
/// missing fields, empty and null values mixed in (about one in four).
fn voter_values(n: usize, seed: u64) -> Vec<Option<String>> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let g = ["M", "F"][(x % 2) as usize];
            let p = ["D", "R", "I", "G", "L"][((x >> 8) % 5) as usize];
            let age = 18 + (x >> 16) % 80;
            match (x >> 40) % 32 {
                0 => Some(format!(r#"{{"gender": "{g}", "age": "{age}", "party": "{p}"}}"#)),
                1 => Some(format!(r#"{{"gender": {age}, "age": {age}, "party": "{p}"}}"#)),
                2 => Some(format!(r#"{{"gender": "{g}", "age": {age}"#)),
                3 => Some("not json at all".to_owned()),
                4 => Some(format!(r#"{{"gender": "{g}", "age": {age}.5, "party": true}}"#)),
                5 => None,
                6 => Some(String::new()),
                7 => Some(format!(r#"{{"age": {age}, "party": "{p}"}}"#)),
                _ => Some(format!(r#"{{"gender": "{g}", "age": {age}, "party": "{p}"}}"#)),
            }
        })
        .collect()
}

/// What Spark's PERMISSIVE `from_json(value, 'gender STRING, age LONG, party
/// STRING')` gives, computed with serde_json: malformed or non-object JSON →
/// all NULL; a string field takes any JSON value (non-strings as JSON text);
/// a LONG field takes JSON integers only.
fn spark_fields(v: &Option<String>) -> (Option<String>, Option<i64>, Option<String>) {
    let Some(s) = v else { return (None, None, None) };
    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(s) else { return (None, None, None) };
    let text = |k: &str| match o.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let age = match o.get("age") {
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    (text("gender"), age, text("party"))
}

type Key = (Option<String>, Option<String>);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Agg {
    count: i64,
    count_age: i64,
    sum_age: Option<i64>,
    min_age: Option<i64>,
    max_age: Option<i64>,
}

fn truth(values: &[Option<String>]) -> BTreeMap<Key, Agg> {
    let mut m: BTreeMap<Key, Agg> = BTreeMap::new();
    for v in values {
        let (g, age, p) = spark_fields(v);
        let a = m.entry((g, p)).or_default();
        a.count += 1;
        if let Some(x) = age {
            a.count_age += 1;
            a.sum_age = Some(a.sum_age.unwrap_or(0) + x);
            a.min_age = Some(a.min_age.map_or(x, |m| m.min(x)));
            a.max_age = Some(a.max_age.map_or(x, |m| m.max(x)));
        }
    }
    m
}

fn counts(t: &BTreeMap<Key, Agg>) -> BTreeMap<Key, i64> {
    t.iter().map(|(k, a)| (k.clone(), a.count)).collect()
}

/// Produce `values` to `topic`, record i to partition i % `partitions` (acks=all).
fn produce_values(b: &str, topic: &str, partitions: usize, values: &[Option<String>], first: usize) {
    let recs: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"topic": topic, "partition": (first + i) % partitions, "value": v}))
        .collect();
    peer_produce(b, &[], &recs);
}

fn create_topic(b: &str, topic: &str, partitions: usize) {
    kwire(b, &["topics", "create", topic, "--partitions", &partitions.to_string()]).ok();
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn opt_str(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| x.as_str()).map(str::to_owned)
}

/// Runs kwire with extra environment variables; returns (exit status, stdout, stderr).
fn kwire_env(b: &str, args: &[&str], env: &[(&str, &str)]) -> (std::process::ExitStatus, String, String) {
    let mut cmd = Command::new(kwire_bin());
    cmd.env_remove("KWIRE_BOOTSTRAP_SERVERS")
        .env_remove("KWIRE_LOG")
        .env_remove("KWIRE_STREAM_CRASH_AT")
        .arg("-b")
        .arg(b)
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run kwire");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON progress objects a run printed on stderr.
fn progress(stderr: &str) -> Vec<Value> {
    stderr.lines().filter(|l| l.starts_with('{')).filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Rows of the grouped-count query's output, from the last batch's lines.
fn last_batch_rows(lines: &[Value], prog: &[Value]) -> Vec<Value> {
    let n = prog.last().and_then(|p| p["sink"]["numOutputRows"].as_u64()).expect("progress") as usize;
    lines[lines.len() - n..].to_vec()
}

#[test]
fn grouped_counts_equal_independent_counts_on_1_and_6_partitions() {
    let b = bootstrap();
    for (parts, seed) in [(1usize, 11u64), (6, 12)] {
        let t = unique_topic(&format!("stream-counts-{parts}"));
        create_topic(&b, &t, parts);
        let values = voter_values(3000, seed);
        produce_values(&b, &t, parts, &values, 0);
        let want = truth(&values);
        assert!(want.contains_key(&(None, None)), "the data has malformed records");
        assert!(want.keys().any(|(g, _)| g.as_deref().is_some_and(|g| g.parse::<i64>().is_ok())));
        let dir = Scratch::new("counts");

        // One batch, every aggregate, --schema form.
        let out = dir.arg("once.jsonl");
        let run = kwire(
            &b,
            &[
                "stream",
                "--topic",
                &t,
                "--starting-offsets",
                "earliest",
                "--trigger",
                "once",
                "--schema",
                DDL,
                "--group-by",
                "gender,party",
                "--agg",
                "count",
                "--agg",
                "count(age)",
                "--agg",
                "sum(age)",
                "--agg",
                "min(age)",
                "--agg",
                "max(age)",
                "--output-mode",
                "complete",
                "--sink",
                &format!("jsonl:{out}"),
            ],
        )
        .ok();
        assert!(run.elapsed < Duration::from_secs(10), "{run:?}");
        let got: BTreeMap<Key, Agg> = read_lines(&dir.path("once.jsonl"))
            .iter()
            .map(|r| {
                let i = |k: &str| r.get(k).and_then(Value::as_i64);
                (
                    (opt_str(r, "gender"), opt_str(r, "party")),
                    Agg {
                        count: i("count").unwrap_or(-1),
                        count_age: i("count(age)").unwrap_or(-1),
                        sum_age: i("sum(age)"),
                        min_age: i("min(age)"),
                        max_age: i("max(age)"),
                    },
                )
            })
            .collect();
        assert_eq!(got, want, "{parts} partitions, once");

        // Rate-limited batches, the guide's from_json form, state across batches.
        let out2 = dir.arg("batches.jsonl");
        let (st, _, err) = kwire_env(
            &b,
            &[
                "stream",
                "--topic",
                &t,
                "--starting-offsets",
                "earliest",
                "--trigger",
                "available-now",
                "--max-offsets-per-trigger",
                "700",
                "--select",
                &format!("from_json(CAST(value AS STRING), '{DDL}') AS voter"),
                "--group-by",
                "voter.gender,voter.party",
                "--output-mode",
                "complete",
                "--progress",
                "json",
                "--sink",
                &format!("jsonl:{out2}"),
            ],
            &[],
        );
        assert!(st.success(), "{err}");
        let prog = progress(&err);
        assert!(prog.len() >= 5, "3000 records at 700 per trigger: {} batches\n{err}", prog.len());
        let ids: Vec<u64> = prog.iter().filter_map(|p| p["batchId"].as_u64()).collect();
        assert_eq!(ids, (0..prog.len() as u64).collect::<Vec<_>>());
        assert!(prog.iter().all(|p| p["numInputRows"].as_u64().is_some_and(|n| n <= 700)), "{err}");
        let total: u64 = prog.iter().filter_map(|p| p["numInputRows"].as_u64()).sum();
        assert_eq!(total, 3000);
        let lines = read_lines(&dir.path("batches.jsonl"));
        let got: BTreeMap<Key, i64> = last_batch_rows(&lines, &prog)
            .iter()
            .map(|r| ((opt_str(r, "gender"), opt_str(r, "party")), r["count"].as_i64().unwrap_or(-1)))
            .collect();
        assert_eq!(got, counts(&want), "{parts} partitions, rate-limited");
    }
}

/// Parses the grouped-count rows of the last console table in `stdout`.
fn last_console_counts(stdout: &str) -> BTreeMap<Key, i64> {
    let last = stdout.rsplit("-------------------------------------------\nBatch: ").next().unwrap_or("");
    let mut m = BTreeMap::new();
    for line in last.lines().filter(|l| l.starts_with('|')).skip(1) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let cell = |s: &str| if s == "NULL" { None } else { Some(s.to_owned()) };
        m.insert((cell(cells[0]), cell(cells[1])), cells[2].parse::<i64>().expect("count"));
    }
    m
}

fn batch_ids(stdout: &str) -> Vec<u64> {
    stdout.lines().filter_map(|l| l.strip_prefix("Batch: ")).filter_map(|n| n.parse().ok()).collect()
}

#[test]
fn complete_mode_counts_are_exact_after_crashes_at_every_point() {
    let b = bootstrap();
    let t = unique_topic("stream-crash");
    create_topic(&b, &t, 3);
    let mut values = voter_values(1200, 21);
    produce_values(&b, &t, 3, &values, 0);
    let dir = Scratch::new("crash");
    let cp = dir.arg("cp");
    let args = [
        "stream",
        "--topic",
        &t,
        "--starting-offsets",
        "earliest",
        "--trigger",
        "available-now",
        "--max-offsets-per-trigger",
        "250",
        "--schema",
        DDL,
        "--group-by",
        "gender,party",
        "--output-mode",
        "complete",
        "--num-rows",
        "1000",
        "--checkpoint",
        &cp,
    ];
    let mut stdout_all = String::new();
    // Each run dies at the named point; the next one restarts from the checkpoint.
    let crashes = [
        "after-offsets:0",
        "mid-batch:0",
        "before-sink:0",
        "after-sink:0",
        "after-state:1",
        "after-commit:2",
        "before-sink:3",
        "after-sink:4",
    ];
    for (i, c) in crashes.iter().enumerate() {
        if i == 5 {
            // new data between restarts
            let more = voter_values(300, 22);
            produce_values(&b, &t, 3, &more, 0);
            values.extend(more);
        }
        let (st, out, err) = kwire_env(&b, &args, &[("KWIRE_STREAM_CRASH_AT", c)]);
        assert_eq!(st.signal(), Some(6), "run {i} should abort at {c}: {st:?}\n{err}");
        stdout_all.push_str(&out);
    }
    let (st, out, err) = kwire_env(&b, &args, &[]);
    assert!(st.success(), "{err}");
    stdout_all.push_str(&out);
    let ids = batch_ids(&stdout_all);
    assert_eq!(
        ids,
        (0..ids.len() as u64).collect::<Vec<_>>(),
        "each batch printed exactly once:\n{stdout_all}"
    );
    assert!(ids.len() >= 6, "{ids:?}");
    assert_eq!(last_console_counts(&out), counts(&truth(&values)), "{out}");
    // Nothing left: a further run has no batch.
    let (st, out, _) = kwire_env(&b, &args, &[]);
    assert!(st.success());
    assert_eq!(out, "");
}

/// (partition, offset) of every line of a jsonl file written by a `--select 'partition, offset'` query.
fn offsets_in(path: &Path) -> Vec<(i64, i64)> {
    read_lines(path)
        .iter()
        .map(|r| (r["partition"].as_i64().unwrap_or(-1), r["offset"].as_i64().unwrap_or(-1)))
        .collect()
}

fn assert_each_once(got: &[(i64, i64)], want: &BTreeMap<i64, i64>) {
    let set: BTreeSet<(i64, i64)> = got.iter().copied().collect();
    assert_eq!(set.len(), got.len(), "duplicates in the jsonl sink");
    let all: BTreeSet<(i64, i64)> = want.iter().flat_map(|(p, n)| (0..*n).map(move |o| (*p, o))).collect();
    assert_eq!(set, all, "missing or extra records in the jsonl sink");
}

#[test]
fn jsonl_sink_holds_each_batch_once_after_crashes() {
    let b = bootstrap();
    let t = unique_topic("stream-jsonl-crash");
    create_topic(&b, &t, 2);
    produce_values(&b, &t, 2, &voter_values(900, 31), 0);
    let dir = Scratch::new("jsonl-crash");
    let (cp, out) = (dir.arg("cp"), dir.arg("out.jsonl"));
    let sink = format!("jsonl:{out}");
    let args = [
        "stream",
        "--topic",
        &t,
        "--starting-offsets",
        "earliest",
        "--trigger",
        "available-now",
        "--max-offsets-per-trigger",
        "200",
        "--select",
        "partition, offset, CAST(value AS STRING) AS v",
        "--checkpoint",
        &cp,
        "--sink",
        &sink,
    ];
    for c in [
        "after-offsets:0",
        "mid-batch:0",
        "sink-written:0",
        "after-sink:1",
        "sink-written:2",
        "after-state:2",
        "after-commit:3",
    ] {
        let (st, _, err) = kwire_env(&b, &args, &[("KWIRE_STREAM_CRASH_AT", c)]);
        assert_eq!(st.signal(), Some(6), "should abort at {c}: {st:?}\n{err}");
    }
    let (st, _, err) = kwire_env(&b, &args, &[]);
    assert!(st.success(), "{err}");
    assert_each_once(&offsets_in(&dir.path("out.jsonl")), &BTreeMap::from([(0, 450), (1, 450)]));
}

#[test]
fn kill_9_while_streaming_then_restart_is_exactly_once() {
    let b = bootstrap();
    let t = unique_topic("stream-kill9");
    create_topic(&b, &t, 3);
    let values = voter_values(3000, 41);
    produce_values(&b, &t, 3, &values, 0);
    let dir = Scratch::new("kill9");
    let (cp, out, cp2) = (dir.arg("cp"), dir.arg("out.jsonl"), dir.arg("cp2"));
    let sink = format!("jsonl:{out}");
    let proj = [
        "stream",
        "--topic",
        &t,
        "--starting-offsets",
        "earliest",
        "--max-offsets-per-trigger",
        "60",
        "--select",
        "partition, offset",
        "--checkpoint",
        &cp,
        "--sink",
        &sink,
    ];
    let agg = [
        "stream",
        "--topic",
        &t,
        "--starting-offsets",
        "earliest",
        "--max-offsets-per-trigger",
        "60",
        "--schema",
        DDL,
        "--group-by",
        "gender,party",
        "--output-mode",
        "complete",
        "--num-rows",
        "1000",
        "--checkpoint",
        &cp2,
    ];
    // Unbounded runs (default trigger) killed with SIGKILL at various moments.
    for (i, ms) in [150u64, 330, 90, 500].iter().enumerate() {
        for args in [&proj[..], &agg[..]] {
            let mut child = Command::new(kwire_bin())
                .env_remove("KWIRE_STREAM_CRASH_AT")
                .arg("-b")
                .arg(&b)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            std::thread::sleep(Duration::from_millis(*ms + 40 * i as u64));
            child.kill().expect("kill -9");
            let st = child.wait().expect("wait");
            assert_eq!(st.signal(), Some(9), "run {i} was still running when killed");
        }
    }
    // More data, so the final runs have batches to do (and print).
    let more = voter_values(300, 42);
    produce_values(&b, &t, 3, &more, 0);
    let mut values = values;
    values.extend(more);
    let mut fin = proj.to_vec();
    fin.extend(["--trigger", "available-now"]);
    let (st, _, err) = kwire_env(&b, &fin, &[]);
    assert!(st.success(), "{err}");
    assert_each_once(&offsets_in(&dir.path("out.jsonl")), &BTreeMap::from([(0, 1100), (1, 1100), (2, 1100)]));
    let mut fin = agg.to_vec();
    fin.extend(["--trigger", "available-now"]);
    let (st, stdout, err) = kwire_env(&b, &fin, &[]);
    assert!(st.success(), "{err}");
    assert_eq!(last_console_counts(&stdout), counts(&truth(&values)), "{stdout}");
}

/// The guide's fixed input: 25 voters, one malformed record, whole-second timestamps.
fn guide_values() -> Vec<String> {
    let people = [
        ("M", 34, "D"),
        ("F", 27, "R"),
        ("F", 45, "D"),
        ("M", 61, "R"),
        ("F", 38, "I"),
        ("M", 22, "D"),
        ("F", 53, "R"),
        ("M", 47, "I"),
        ("F", 31, "D"),
        ("M", 29, "R"),
        ("F", 66, "D"),
        ("M", 41, "D"),
        ("F", 19, "I"),
        ("M", 58, "R"),
        ("F", 24, "R"),
        ("M", 36, "I"),
        ("F", 72, "D"),
        ("M", 33, "R"),
        ("F", 44, "R"),
        ("M", 50, "D"),
        ("F", 28, "I"),
        ("M", 39, "R"),
        ("F", 57, "D"),
        ("M", 63, "I"),
    ];
    let mut v: Vec<String> = people
        .iter()
        .map(|(g, a, p)| format!(r#"{{"gender": "{g}", "age": {a}, "party": "{p}"}}"#))
        .collect();
    v.insert(21, "oops".to_owned());
    v
}

#[test]
fn console_output_of_the_guides_three_queries_is_sparks_layout() {
    let b = bootstrap();
    // 20+ characters, so its cell is always cut to the same 17 + "..."
    let t = unique_topic("stream-guide-console");
    create_topic(&b, &t, 1);
    let recs: Vec<Value> = guide_values()
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"topic": t, "partition": 0, "value": v, "timestamp": 1_700_000_000_000i64 + i as i64 * 1000}))
        .collect();
    peer_produce(&b, &[], &recs);
    let base = ["stream", "--topic", &t, "--starting-offsets", "earliest", "--trigger", "available-now"];
    let header = "-------------------------------------------\nBatch: 0\n-------------------------------------------\n";

    // (4) the raw Kafka rows, append mode, console
    let q1 = kwire(&b, &base).ok();
    let mut want = String::from(header);
    want.push_str("+----+--------------------+--------------------+---------+------+-------------------+-------------+\n");
    want.push_str("| key|               value|               topic|partition|offset|          timestamp|timestampType|\n");
    want.push_str("+----+--------------------+--------------------+---------+------+-------------------+-------------+\n");
    for i in 0..20 {
        want.push_str(&format!(
            "|NULL|[7B 22 67 65 6E 6...|stream-guide-cons...|        0|{i:>6}|2023-11-14 22:13:{:02}|            0|\n",
            20 + i
        ));
    }
    want.push_str("+----+--------------------+--------------------+---------+------+-------------------+-------------+\n");
    want.push_str("only showing top 20 rows\n\n");
    assert_eq!(q1.stdout, want);

    // (10) CAST(value AS STRING), truncate false
    let mut args = base.to_vec();
    args.extend(["--select", "CAST(value AS STRING)", "--truncate", "false"]);
    let q2 = kwire(&b, &args).ok();
    let mut want = String::from(header);
    let rule = format!("+{}+\n", "-".repeat(40));
    want.push_str(&rule);
    want.push_str(&format!("|{:<40}|\n", "value"));
    want.push_str(&rule);
    for v in guide_values().iter().take(20) {
        want.push_str(&format!("|{v:<40}|\n"));
    }
    want.push_str(&rule);
    want.push_str("only showing top 20 rows\n\n");
    assert_eq!(q2.stdout, want);

    // (12) from_json + groupBy(gender, party).count(), complete mode
    let mut args = base.to_vec();
    args.extend([
        "--select",
        "from_json(CAST(value AS STRING), 'gender STRING, age LONG, party STRING') AS voterJSON",
        "--group-by",
        "voterJSON.gender,voterJSON.party",
        "--output-mode",
        "complete",
    ]);
    let q3 = kwire(&b, &args).ok();
    let want = format!(
        "{header}+------+-----+-----+\n|gender|party|count|\n+------+-----+-----+\n\
         |  NULL| NULL|    1|\n|     F|    D|    5|\n|     F|    I|    3|\n|     F|    R|    4|\n\
         |     M|    D|    4|\n|     M|    I|    3|\n|     M|    R|    5|\n+------+-----+-----+\n\n"
    );
    assert_eq!(q3.stdout, want);
}

#[test]
fn invalid_queries_fail_before_reading_with_sparks_messages() {
    let dir = Scratch::new("invalid");
    let cp = dir.arg("cp");
    // An address nothing listens on: any error but the expected one would be a connection error.
    let nowhere = "127.0.0.1:1";
    let cases: [(&[&str], &str); 9] = [
        (
            &["--schema", DDL, "--group-by", "gender,party"],
            "Append output mode not supported when there are streaming aggregations on streaming DataFrames/DataSets without watermark; Aggregate [gender, party], [gender, party, count]",
        ),
        (
            &["--select", "CAST(value AS STRING)", "--output-mode", "complete"],
            "Complete output mode not supported when there are no streaming aggregations on streaming DataFrames/Datasets; Project [value]",
        ),
        (
            &["--output-mode", "everything"],
            "Unknown output mode everything. Accepted output modes are 'append', 'complete', 'update'",
        ),
        (
            &["--schema", DDL, "--group-by", "gendr"],
            "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `gendr` cannot be resolved.",
        ),
        (
            &["--topic-pattern", "v.*"],
            "Only one of the following options can be specified for Kafka source: --topic, --topic-pattern, --assign",
        ),
        (&["--max-offsets-per-trigger", "0"], "maxOffsetsPerTrigger"),
        (&["--parse-mode", "dropmalformed", "--schema", DDL], "DROPMALFORMED"),
        (&["--sink", "parquet:/tmp/x"], "invalid sink \"parquet:/tmp/x\""),
        (&["--trigger", "soon"], "invalid duration"),
    ];
    for (extra, msg) in cases {
        let mut args = vec!["stream", "--topic", "voters", "--checkpoint", &cp];
        args.extend_from_slice(extra);
        let run = kwire(nowhere, &args);
        let line = run.one_line_error();
        assert!(line.contains(msg), "{extra:?}: {line}");
        assert!(run.elapsed < Duration::from_secs(5), "{extra:?} took {:?}", run.elapsed);
        assert!(!dir.path("cp").exists(), "{extra:?} created the checkpoint");
    }
    let line = kwire(nowhere, &["stream", "--checkpoint", &cp]).one_line_error();
    assert!(line.contains("One of the following options must be specified for Kafka source"), "{line}");
}

#[test]
fn checkpoint_of_another_query_and_failfast_are_refused() {
    let b = bootstrap();
    let t = unique_topic("stream-refuse");
    create_topic(&b, &t, 1);
    let values: Vec<Option<String>> = vec![
        Some(r#"{"gender":"M","age":30,"party":"D"}"#.into()),
        Some(r#"{"gender":"F","age":"x"}"#.into()),
    ];
    produce_values(&b, &t, 1, &values, 0);
    let dir = Scratch::new("refuse");
    let cp = dir.arg("cp");
    let q =
        ["stream", "--topic", &t, "--starting-offsets", "earliest", "--trigger", "once", "--checkpoint", &cp];
    let mut a = q.to_vec();
    a.extend(["--schema", DDL, "--group-by", "gender,party", "--output-mode", "complete"]);
    kwire(&b, &a).ok();
    let mut a = q.to_vec();
    a.extend(["--schema", DDL, "--group-by", "party", "--output-mode", "complete"]);
    let line = kwire(&b, &a).one_line_error();
    assert!(line.contains("was written by an incompatible query and cannot be resumed"), "{line}");

    let line = kwire(
        &b,
        &[
            "stream",
            "--topic",
            &t,
            "--starting-offsets",
            "earliest",
            "--trigger",
            "once",
            "--schema",
            DDL,
            "--parse-mode",
            "failfast",
        ],
    )
    .one_line_error();
    assert!(line.contains("[MALFORMED_RECORD_IN_PARSING]"), "{line}");
    assert!(line.contains(&format!("topic {t} partition 0 offset 1")), "{line}");
}

#[test]
fn records_deleted_between_batches_fail_or_are_skipped() {
    let b = bootstrap();
    let t = unique_topic("stream-loss");
    create_topic(&b, &t, 1);
    produce_values(&b, &t, 1, &voter_values(10, 51), 0);
    let dir = Scratch::new("loss");
    let (cp, out) = (dir.arg("cp"), dir.arg("out.jsonl"));
    let sink = format!("jsonl:{out}");
    let q = [
        "stream",
        "--topic",
        &t,
        "--starting-offsets",
        "earliest",
        "--trigger",
        "available-now",
        "--select",
        "partition, offset",
        "--checkpoint",
        &cp,
        "--sink",
        &sink,
    ];
    kwire(&b, &q).ok();
    produce_values(&b, &t, 1, &voter_values(10, 52), 0);
    // Delete offsets 10..14, never read, as retention would.
    let spec = dir.path("delete.json");
    std::fs::write(
        &spec,
        json!({"version": 1, "partitions": [{"topic": t, "partition": 0, "offset": 15}]}).to_string(),
    )
    .expect("write");
    java_tool(
        "DeleteRecordsCommand",
        &["--bootstrap-server", &b, "--offset-json-file", &spec.display().to_string()],
        b"",
    );
    let line = kwire(&b, &q).one_line_error();
    assert!(line.contains("offsets 10 to 14 were deleted"), "{line}");
    assert!(line.contains("failOnDataLoss"), "{line}");
    let mut skip = q.to_vec();
    skip.extend(["--fail-on-data-loss", "false"]);
    let run = kwire(&b, &skip).ok();
    assert!(run.stderr.contains("Some data may have been lost"), "{}", run.stderr);
    let got: Vec<i64> = offsets_in(&dir.path("out.jsonl")).iter().map(|(_, o)| *o).collect();
    assert_eq!(got, (0..10).chain(15..20).collect::<Vec<_>>());
}

#[test]
fn processing_time_batches_are_clock_aligned_and_sigterm_exits_0() {
    let b = bootstrap();
    let t = unique_topic("stream-trigger");
    create_topic(&b, &t, 1);
    produce_values(&b, &t, 1, &voter_values(5, 61), 0);
    let dir = Scratch::new("trigger");
    let err_path = dir.path("stderr");
    let child = Command::new(kwire_bin())
        .arg("-b")
        .arg(&b)
        .args([
            "stream",
            "--topic",
            &t,
            "--starting-offsets",
            "earliest",
            "--trigger",
            "500ms",
            "--select",
            "offset",
            "--progress",
            "json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn");
    let batches = || progress(&std::fs::read_to_string(&err_path).unwrap_or_default()).len();
    assert!(wait_until(Duration::from_secs(15), || batches() == 1), "no first batch");
    // idle intervals: no batch without new data
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(batches(), 1);
    produce_values(&b, &t, 1, &voter_values(3, 62), 0);
    assert!(wait_until(Duration::from_secs(15), || batches() == 2), "no second batch");
    std::thread::sleep(Duration::from_millis(1200));
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
    let out = child.wait_with_output().expect("wait");
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(out.status.success(), "SIGTERM should exit 0: {:?}\n{err}", out.status);
    let prog = progress(&err);
    assert_eq!(prog.len(), 2, "a batch for the first records and one for the later ones, none idle:\n{err}");
    assert_eq!(prog[0]["numInputRows"], 5);
    assert_eq!(prog[1]["numInputRows"], 3);
    // The second batch ran on an interval boundary (the first one at once).
    let ts = prog[1]["timestamp"].as_str().unwrap_or_default();
    let ms: i64 = ts[ts.len() - 4..ts.len() - 1].parse().unwrap_or(-1);
    let secs: i64 = ts[ts.len() - 7..ts.len() - 5].parse().unwrap_or(-1);
    let min: i64 = ts[ts.len() - 10..ts.len() - 8].parse().unwrap_or(-1);
    let hour: i64 = ts[ts.len() - 13..ts.len() - 11].parse().unwrap_or(-1);
    let day_ms = ((hour * 60 + min) * 60 + secs) * 1000 + ms;
    assert!(day_ms % 500 < 250, "not aligned to 500 ms boundaries: {ts}\n{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(batch_ids(&stdout), vec![0, 1]);
}

#[test]
fn source_options_pattern_assign_offsets_timestamps_headers() {
    let b = bootstrap();
    let stem = unique_topic("stream-src");
    let (t1, t2) = (format!("{stem}-a"), format!("{stem}-b"));
    create_topic(&b, &t1, 2);
    create_topic(&b, &t2, 1);
    let recs = |t: &str, n: usize, parts: usize| -> Vec<Value> {
        (0..n)
            .map(|i| {
                json!({"topic": t, "partition": i % parts, "value": format!("v{i}"), "key": format!("k{i}"),
                       "timestamp": 1_700_000_000_000i64 + i as i64 * 1000, "headers": [["h", format!("{i}")]]})
            })
            .collect()
    };
    let mut all = recs(&t1, 20, 2);
    all.extend(recs(&t2, 7, 1));
    peer_produce(&b, &[], &all);
    let dir = Scratch::new("src");
    let run_rows = |extra: &[&str]| -> Vec<Value> {
        let out = dir.path(&format!("{}.jsonl", unique_topic("o")));
        let sink = format!("jsonl:{}", out.display());
        let mut args = vec!["stream", "--trigger", "available-now", "--sink", &sink];
        args.extend_from_slice(extra);
        kwire(&b, &args).ok();
        read_lines(&out)
    };
    let sel = "topic, partition, offset, CAST(key AS STRING) AS k";
    // pattern: both topics (and nothing else)
    let pat = format!("{}-[ab]", regex_escape(&stem));
    let rows = run_rows(&["--topic-pattern", &pat, "--starting-offsets", "earliest", "--select", sel]);
    assert_eq!(rows.len(), 27);
    // assign: one partition
    let assign = json!({ &t1: [1] }).to_string();
    let rows = run_rows(&["--assign", &assign, "--starting-offsets", "earliest", "--select", sel]);
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| r["partition"] == 1));
    // specific starting and ending offsets
    let so = json!({ &t1: {"0": 2, "1": -2} }).to_string();
    let eo = json!({ &t1: {"0": 6, "1": -1} }).to_string();
    let rows =
        run_rows(&["--topic", &t1, "--starting-offsets", &so, "--ending-offsets", &eo, "--select", sel]);
    let got: BTreeSet<(i64, i64)> = rows
        .iter()
        .map(|r| (r["partition"].as_i64().unwrap_or(-1), r["offset"].as_i64().unwrap_or(-1)))
        .collect();
    let want: BTreeSet<(i64, i64)> = (2..6).map(|o| (0, o)).chain((0..10).map(|o| (1, o))).collect();
    assert_eq!(got, want);
    // a starting offsets JSON must name every partition (Spark's assertion)
    let line = kwire(
        &b,
        &[
            "stream",
            "--topic",
            &t1,
            "--starting-offsets",
            &json!({ &t1: {"0": 0} }).to_string(),
            "--trigger",
            "once",
        ],
    )
    .one_line_error();
    assert!(line.contains("you must specify all TopicPartitions"), "{line}");
    // starting timestamp: records at or after the 15th second
    let rows = run_rows(&["--topic", &t2, "--starting-timestamp", "1700000004500", "--select", sel]);
    assert_eq!(rows.iter().map(|r| r["offset"].as_i64().unwrap_or(-1)).collect::<Vec<_>>(), vec![5, 6]);
    // headers
    let rows = run_rows(&[
        "--topic",
        &t2,
        "--starting-offsets",
        "earliest",
        "--include-headers",
        "--select",
        "offset, headers",
    ]);
    assert_eq!(rows[3]["headers"], json!([{"key": "h", "value": "Mw=="}]));
    // a missing topic in a bounded run is an error
    let line =
        kwire(&b, &["stream", "--topic", &format!("{stem}-none"), "--trigger", "once"]).one_line_error();
    assert!(line.contains("does not exist"), "{line}");
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_string() } else { format!("\\{c}") })
        .collect()
}

#[test]
fn event_time_windows_with_watermark_emit_finished_windows_in_append_mode() {
    let b = bootstrap();
    let t = unique_topic("stream-window");
    create_topic(&b, &t, 1);
    let t0 = 1_700_000_000_000i64; // a multiple of 10 s
    let secs = [1, 2, 3, 12, 13, 25, 26, 27, 29, 44];
    let recs: Vec<Value> = secs
        .iter()
        .map(|s| json!({"topic": t, "partition": 0, "value": "{}", "timestamp": t0 + s * 1000}))
        .collect();
    peer_produce(&b, &[], &recs);
    let dir = Scratch::new("window");
    let out = dir.arg("w.jsonl");
    let (st, _, err) = kwire_env(
        &b,
        &[
            "stream",
            "--topic",
            &t,
            "--starting-offsets",
            "earliest",
            "--trigger",
            "available-now",
            "--window",
            "timestamp, 10 seconds",
            "--watermark",
            "5 seconds",
            "--output-mode",
            "append",
            "--progress",
            "json",
            "--sink",
            &format!("jsonl:{out}"),
        ],
        &[],
    );
    assert!(st.success(), "{err}");
    // batch 0 reads everything (watermark 0: nothing final); the batch without
    // data that follows runs at watermark 44 - 5 = 39 s and emits the windows
    // that ended by then.
    assert_eq!(progress(&err).len(), 2, "{err}");
    let rows = read_lines(&dir.path("w.jsonl"));
    let got: Vec<(String, i64)> = rows
        .iter()
        .map(|r| (r["window"]["start"].as_str().unwrap_or("").to_owned(), r["count"].as_i64().unwrap_or(-1)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("2023-11-14T22:13:20.000Z".to_owned(), 3),
            ("2023-11-14T22:13:30.000Z".to_owned(), 2),
            ("2023-11-14T22:13:40.000Z".to_owned(), 4)
        ]
    );
}

#[test]
fn kafka_sink_writes_json_rows_keyed_by_group() {
    let b = bootstrap();
    let (t, out) = (unique_topic("stream-ksink-in"), unique_topic("stream-ksink-out"));
    create_topic(&b, &t, 2);
    create_topic(&b, &out, 3);
    let values = voter_values(1000, 71);
    produce_values(&b, &t, 2, &values, 0);
    let sink = format!("kafka:{out}");
    kwire(
        &b,
        &[
            "stream",
            "--topic",
            &t,
            "--starting-offsets",
            "earliest",
            "--trigger",
            "once",
            "--schema",
            DDL,
            "--group-by",
            "gender,party",
            "--output-mode",
            "complete",
            "--sink",
            &sink,
        ],
    )
    .ok();
    let recs = consume_all(&b, &out, &[]);
    let mut got: BTreeMap<Key, i64> = BTreeMap::new();
    for r in &recs {
        let v: Value = serde_json::from_str(r["value"].as_str().unwrap_or("")).expect("JSON value");
        let k: Value = serde_json::from_str(r["key"].as_str().unwrap_or("")).expect("JSON key");
        assert_eq!(k.get("gender"), v.get("gender"), "{r}");
        assert_eq!(k.get("party"), v.get("party"), "{r}");
        assert!(k.get("count").is_none(), "{r}");
        got.insert((opt_str(&v, "gender"), opt_str(&v, "party")), v["count"].as_i64().unwrap_or(-1));
    }
    assert_eq!(recs.len(), got.len(), "one record per group");
    assert_eq!(got, counts(&truth(&values)));
}
