//! The interop matrix: records written by each of {kwire, Kafka's Java console
//! producer, kcat} with each codec {none, gzip, snappy, lz4, zstd} must be read
//! byte-identical (key, value, headers, timestamp) by each of {kwire, Kafka's
//! Java console consumer, kcat}: 45 cells, one `#[test]` each, named
//! `<writer>_<codec>_read_by_<reader>`.
//!
//! Run by `scripts/interop.sh`, which starts or locates the broker and the peers:
//! `cargo test -p kwire-integration --test interop -- --ignored` with
//! - `KWIRE_INTEROP_BOOTSTRAP`: the broker (required);
//! - `KWIRE_KAFKA_VERSION`: its version, which the Java tools also use (default 4.4.0;
//!   console producer headers need 3.2+);
//! - `KWIRE_INTEROP_RECORDS`: records per writer and codec (default 12, at least 2);
//! - `KWIRE_INTEROP_KEEP`: a directory to write every reader's raw output to (optional);
//! - `KWIRE_BIN`: the kwire binary; `kcat` on PATH; java 17 for `scripts/kafka.sh tool`.
//!
//! What each writer sends, per topic (one partition, so order is the write order):
//! keys and values with UTF-8, spaces, punctuation and one 6 KB value (so every codec
//! really compresses), and two headers per record (the same two on every record, as
//! kcat -H and the console producer can only send fixed or per-line text headers).
//! The value starts with "writer|codec|i|", so the one Java consumer reading all 15
//! topics can tell records apart. Timestamps: kwire sets its own (and they must come
//! back as sent); the other writers let the client stamp CreateTime, so all three
//! readers must agree on it, and it must be near the time of the run.
//!
//! JVM start-up is the slow part, so the matrix is written and read once, by the
//! first test that needs it (the five Java producers in parallel, one Java consumer
//! for all 15 topics); each cell's test then compares its part.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use kwire_integration::*;

#[path = "share_java.rs"]
mod share_java;
#[path = "toolbox_java.rs"]
mod toolbox_java;
use serde_json::{Value, json};

const WRITERS: [&str; 3] = ["kwire", "java", "kcat"];
const READERS: [&str; 3] = ["kwire", "java", "kcat"];
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];
/// Key/field separator for the Java tools and kcat: never in keys or values.
const US: &str = "\x1f";
const HEADERS: [(&str, &str); 2] = [("trace-id", "abc-123"), ("kind", "élan ✓")];

/// One record as a reader reports it.
#[derive(Debug, Clone, PartialEq)]
struct Rec {
    key: String,
    value: String,
    headers: Vec<(String, String)>,
    ts: i64,
}

/// What the run wrote and what each reader read, per (writer, codec).
struct Matrix {
    records: usize,
    /// Wall-clock ms when the writers started (bounds the client-stamped CreateTimes).
    started_ms: i64,
    /// reader -> (writer, codec) -> records in offset order.
    read: BTreeMap<&'static str, BTreeMap<(String, String), Vec<Rec>>>,
}

/// The records writer `w` sends with codec `c`: (key, value, timestamp kwire sets).
fn records(n: usize, w: &str, c: &str) -> Vec<(String, String, Option<i64>)> {
    let ci = CODECS.iter().position(|x| *x == c).unwrap_or(0) as i64;
    let base = 1_700_000_000_000 + 1000 * ci;
    (0..n)
        .map(|i| {
            let body = match i % 5 {
                0 => "plain ascii".to_owned(),
                1 => "UTF-8: Grüße, naïve café, 東京, emoji 🚀".to_owned(),
                2 => "sp  aces\tand\ttabs, \"quotes\", \\backslash\\ {json: [1,2]}".to_owned(),
                3 => (0..6000).map(|j| char::from(b'A' + ((j * 7) % 26) as u8)).collect(),
                _ => format!("record {i} {}", "x".repeat(i * 13)),
            };
            let ts = (w == "kwire").then_some(base + i as i64);
            (format!("key-{i}-ä"), format!("{w}|{c}|{i}|{body}"), ts)
        })
        .collect()
}

fn kafka_major() -> u32 {
    let v = std::env::var("KWIRE_KAFKA_VERSION").unwrap_or_else(|_| "4.4.0".to_owned());
    v.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(4)
}

fn keep(name: &str, data: &[u8]) {
    if let Ok(dir) = std::env::var("KWIRE_INTEROP_KEEP") {
        let path = std::path::Path::new(&dir).join(name);
        if let Err(e) = std::fs::write(&path, data) {
            eprintln!("interop: could not keep {}: {e}", path.display());
        }
    }
}

fn write_kwire(b: &str, topic: &str, n: usize, c: &str) {
    let hs: Vec<[&str; 2]> = HEADERS.iter().map(|(k, v)| [*k, *v]).collect();
    let lines: String = records(n, "kwire", c)
        .into_iter()
        .map(|(k, v, ts)| format!("{}\n", json!({"key": k, "value": v, "timestamp": ts, "headers": hs})))
        .collect();
    kwire_stdin(
        b,
        &["produce", "-t", topic, "--format", "json", "--acks", "all", "--compression", c],
        Some(lines.as_bytes()),
    )
    .ok();
}

fn write_java(b: &str, topic: &str, n: usize, c: &str) {
    // parse.headers (KIP-798): "h1:v1,h2:v2" + headers.delimiter + key + key.separator + value
    let hs: Vec<String> = HEADERS.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    let hs = hs.join(",");
    let lines: String =
        records(n, "java", c).into_iter().map(|(k, v, _)| format!("{hs}{US}{US}{k}{US}{v}\n")).collect();
    let (key_sep, hdr_delim) = (format!("key.separator={US}"), format!("headers.delimiter={US}{US}"));
    java_tool(
        "ConsoleProducer",
        &[
            "--bootstrap-server",
            b,
            "--topic",
            topic,
            "--compression-codec",
            c,
            "--request-required-acks",
            "all",
            "--property",
            "parse.key=true",
            "--property",
            &key_sep,
            "--property",
            "parse.headers=true",
            "--property",
            &hdr_delim,
            "--property",
            "headers.separator=,",
            "--property",
            "headers.key.separator=:",
            "--producer-property",
            "linger.ms=50",
        ],
        lines.as_bytes(),
    );
}

fn write_kcat(b: &str, topic: &str, n: usize, c: &str) {
    let lines: String = records(n, "kcat", c).into_iter().map(|(k, v, _)| format!("{k}{US}{v}\n")).collect();
    let hs: Vec<String> = HEADERS.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut args =
        vec!["-P", "-b", b, "-t", topic, "-K", US, "-z", c, "-X", "acks=all", "-X", "linger.ms=50"];
    for h in &hs {
        args.extend(["-H", h]);
    }
    kcat(&args, lines.as_bytes());
}

fn str_field(r: &Value, k: &str) -> String {
    r[k].as_str().unwrap_or_else(|| panic!("record without string {k}: {r}")).to_owned()
}

fn read_kwire(b: &str, topic: &str) -> Vec<Rec> {
    let run = kwire(b, &["consume", "-t", topic, "--from-beginning", "-e", "--format", "json"]).ok();
    keep(&format!("kwire-{topic}.jsonl"), &run.stdout_bytes);
    run.stdout
        .lines()
        .map(|l| {
            let r: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("kwire printed bad JSON {l:?}: {e}"));
            let headers = r["headers"]
                .as_array()
                .unwrap_or_else(|| panic!("record without headers: {r}"))
                .iter()
                .map(|h| (str_field(h, "key"), str_field(h, "value")))
                .collect();
            let ts = r["timestamp"].as_i64().unwrap_or_else(|| panic!("record without timestamp: {r}"));
            Rec { key: str_field(&r, "key"), value: str_field(&r, "value"), headers, ts }
        })
        .collect()
}

fn read_kcat(b: &str, topic: &str) -> Vec<Rec> {
    let out = kcat(&["-C", "-b", b, "-t", topic, "-o", "beginning", "-e", "-q", "-J"], b"");
    keep(&format!("kcat-{topic}.jsonl"), out.as_bytes());
    out.lines()
        .map(|l| {
            let r: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("kcat printed bad JSON {l:?}: {e}"));
            let flat: Vec<String> = r["headers"]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap_or("<null>").to_owned()).collect())
                .unwrap_or_default();
            let headers =
                flat.chunks(2).map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default())).collect();
            let ts = r["ts"].as_i64().unwrap_or_else(|| panic!("kcat record without ts: {r}"));
            Rec { key: str_field(&r, "key"), value: str_field(&r, "payload"), headers, ts }
        })
        .collect()
}

/// One Java console consumer for all 15 topics: fields separated by US, records by
/// a line break (no value contains one): `CreateTime:TS US headers US key US value`.
fn read_java(b: &str, run: &str, n: usize) -> BTreeMap<(String, String), Vec<Rec>> {
    let include = format!("{run}-.*");
    let max = (15 * n).to_string();
    let mut args = vec![
        "--bootstrap-server",
        b,
        "--include",
        &include,
        "--from-beginning",
        "--max-messages",
        &max,
        "--timeout-ms",
        "60000",
    ];
    let flag = if kafka_major() >= 4 { "--formatter-property" } else { "--property" };
    let key_sep = format!("key.separator={US}");
    for p in [
        "print.timestamp=true",
        "print.headers=true",
        "print.key=true",
        &key_sep,
        "headers.separator=\x1e",
        "line.separator=\n",
    ] {
        args.extend([flag, p]);
    }
    let out = java_tool("ConsoleConsumer", &args, b"");
    keep("java.txt", out.as_bytes());
    let mut got: BTreeMap<(String, String), Vec<Rec>> = BTreeMap::new();
    for line in out.split('\n') {
        let Some((kind, rest)) = line.split_once(':') else { continue };
        if kind != "CreateTime" && kind != "LogAppendTime" {
            continue;
        }
        let f: Vec<&str> = rest.splitn(4, US).collect();
        let [ts, hs, key, value] = f[..] else {
            panic!("Java consumer line with {} fields: {line:?}", f.len())
        };
        let headers = if hs == "NO_HEADERS" {
            Vec::new()
        } else {
            hs.split('\x1e')
                .map(|h| {
                    h.split_once(':')
                        .map_or((h.to_owned(), String::new()), |(k, v)| (k.to_owned(), v.to_owned()))
                })
                .collect()
        };
        let ts = ts.parse().unwrap_or_else(|e| panic!("Java consumer timestamp {ts:?}: {e}"));
        let mut wc = value.splitn(3, '|');
        let cell = (wc.next().unwrap_or("?").to_owned(), wc.next().unwrap_or("?").to_owned());
        got.entry(cell).or_default().push(Rec { key: key.to_owned(), value: value.to_owned(), headers, ts });
    }
    got
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Writes the 15 topics and reads them with the three readers (then deletes them).
fn build() -> Matrix {
    let b = require_env(
        "KWIRE_INTEROP_BOOTSTRAP",
        "the broker to run the interop matrix against",
        "run scripts/interop.sh, which sets it",
    );
    let n: usize = match std::env::var("KWIRE_INTEROP_RECORDS") {
        Err(_) => 12,
        Ok(v) => v
            .parse()
            .ok()
            .filter(|n| *n >= 2)
            .unwrap_or_else(|| panic!("KWIRE_INTEROP_RECORDS={v}: want a number >= 2")),
    };
    require_program("kcat", "-V", "run scripts/install-peers.sh");
    require_program("java", "-version", "install a JDK 17+ (scripts/kafka.sh tool runs the Java peers)");
    let bin = kwire_bin();
    assert!(
        bin.exists(),
        "kwire binary {} not found: build it (cargo build -p kwire-cli) or set KWIRE_BIN",
        bin.display()
    );
    let run = unique_topic("interop");
    let topic = |w: &str, c: &str| format!("{run}-{w}-{c}");
    let t0 = Instant::now();
    for w in WRITERS {
        for c in CODECS {
            kwire(&b, &["topics", "create", &topic(w, c), "--partitions", "1"]).ok();
        }
    }
    let started_ms = now_ms();
    std::thread::scope(|s| {
        // The five JVMs start together (the slow part); kwire and kcat meanwhile.
        let java: Vec<_> =
            CODECS.iter().map(|c| s.spawn(|| write_java(&b, &topic("java", c), n, c))).collect();
        for c in CODECS {
            write_kwire(&b, &topic("kwire", c), n, c);
            write_kcat(&b, &topic("kcat", c), n, c);
        }
        for j in java {
            if let Err(e) = j.join() {
                std::panic::resume_unwind(e);
            }
        }
    });
    let t_write = t0.elapsed();
    let t1 = Instant::now();
    let mut read = BTreeMap::new();
    std::thread::scope(|s| {
        let java = s.spawn(|| read_java(&b, &run, n));
        for (name, reader) in [("kwire", read_kwire as fn(&str, &str) -> Vec<Rec>), ("kcat", read_kcat)] {
            let mut got = BTreeMap::new();
            for w in WRITERS {
                for c in CODECS {
                    got.insert((w.to_owned(), c.to_owned()), reader(&b, &topic(w, c)));
                }
            }
            read.insert(name, got);
        }
        match java.join() {
            Ok(got) => read.insert("java", got),
            Err(e) => std::panic::resume_unwind(e),
        };
    });
    eprintln!(
        "interop: {n} records per writer and codec on {b}; writes {:.1} s, reads {:.1} s",
        t_write.as_secs_f64(),
        t1.elapsed().as_secs_f64()
    );
    let all: Vec<String> = WRITERS.iter().flat_map(|w| CODECS.iter().map(|c| topic(w, c))).collect();
    let mut args = vec!["topics", "delete"];
    args.extend(all.iter().map(String::as_str));
    let _ = kwire(&b, &args); // tidy up, best effort
    Matrix { records: n, started_ms, read }
}

/// The matrix, built once by whichever test comes first; a failure to build it
/// fails every cell with the same reason.
fn matrix() -> &'static Matrix {
    static M: OnceLock<Result<Matrix, String>> = OnceLock::new();
    let m = M.get_or_init(|| {
        std::panic::catch_unwind(AssertUnwindSafe(build)).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "building the matrix panicked".to_owned())
        })
    });
    match m {
        Ok(m) => m,
        Err(e) => panic!(
            "the interop matrix could not be written and read (the first failure has the details): {}",
            e.lines().next().unwrap_or_default()
        ),
    }
}

/// The CreateTime most readers report for record `i` (writers other than kwire stamp it).
fn majority_ts(m: &Matrix, cell: &(String, String), i: usize) -> Option<i64> {
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    for r in READERS {
        if let Some(rec) = m.read.get(r).and_then(|g| g.get(cell)).and_then(|v| v.get(i)) {
            *seen.entry(rec.ts).or_default() += 1;
        }
    }
    seen.into_iter().max_by_key(|(_, n)| *n).map(|(ts, _)| ts)
}

/// One cell: what `reader` read of what `writer` wrote with `codec`.
fn cell(writer: &str, codec: &str, reader: &str) {
    let m = matrix();
    let want = records(m.records, writer, codec);
    let key = (writer.to_owned(), codec.to_owned());
    let got = m.read.get(reader).and_then(|g| g.get(&key)).cloned().unwrap_or_default();
    assert_eq!(
        got.len(),
        want.len(),
        "{writer}/{codec} read by {reader}: {} of {} records",
        got.len(),
        want.len()
    );
    let headers: Vec<(String, String)> =
        HEADERS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    for (i, ((k, v, ts), g)) in want.iter().zip(&got).enumerate() {
        let at = format!("{writer}/{codec} read by {reader}, record {i}");
        assert!(
            g.key == *k && g.value == *v,
            "{at}: key/value differ: got key {:?}, value {:.80?}",
            g.key,
            g.value
        );
        assert_eq!(g.headers, headers, "{at}: headers differ");
        match ts {
            Some(ts) => assert_eq!(g.ts, *ts, "{at}: timestamp {} , want {ts} (set by kwire)", g.ts),
            None => {
                let majority = majority_ts(m, &key, i);
                assert_eq!(
                    Some(g.ts),
                    majority,
                    "{at}: timestamp {}, the other readers say {majority:?}",
                    g.ts
                );
                let range = m.started_ms - 60_000..=m.started_ms + 600_000;
                assert!(
                    range.contains(&g.ts),
                    "{at}: CreateTime {} not within {range:?} (the run's time)",
                    g.ts
                );
            }
        }
    }
}

macro_rules! cells {
    ($($name:ident: $w:literal, $c:literal, $r:literal;)*) => {$(
        #[test]
        #[ignore = "run by scripts/interop.sh (needs KWIRE_INTEROP_BOOTSTRAP, kcat, Kafka's Java tools)"]
        fn $name() {
            cell($w, $c, $r);
        }
    )*};
}

cells! {
    kwire_none_read_by_kwire: "kwire", "none", "kwire";
    kwire_none_read_by_java: "kwire", "none", "java";
    kwire_none_read_by_kcat: "kwire", "none", "kcat";
    kwire_gzip_read_by_kwire: "kwire", "gzip", "kwire";
    kwire_gzip_read_by_java: "kwire", "gzip", "java";
    kwire_gzip_read_by_kcat: "kwire", "gzip", "kcat";
    kwire_snappy_read_by_kwire: "kwire", "snappy", "kwire";
    kwire_snappy_read_by_java: "kwire", "snappy", "java";
    kwire_snappy_read_by_kcat: "kwire", "snappy", "kcat";
    kwire_lz4_read_by_kwire: "kwire", "lz4", "kwire";
    kwire_lz4_read_by_java: "kwire", "lz4", "java";
    kwire_lz4_read_by_kcat: "kwire", "lz4", "kcat";
    kwire_zstd_read_by_kwire: "kwire", "zstd", "kwire";
    kwire_zstd_read_by_java: "kwire", "zstd", "java";
    kwire_zstd_read_by_kcat: "kwire", "zstd", "kcat";
    java_none_read_by_kwire: "java", "none", "kwire";
    java_none_read_by_java: "java", "none", "java";
    java_none_read_by_kcat: "java", "none", "kcat";
    java_gzip_read_by_kwire: "java", "gzip", "kwire";
    java_gzip_read_by_java: "java", "gzip", "java";
    java_gzip_read_by_kcat: "java", "gzip", "kcat";
    java_snappy_read_by_kwire: "java", "snappy", "kwire";
    java_snappy_read_by_java: "java", "snappy", "java";
    java_snappy_read_by_kcat: "java", "snappy", "kcat";
    java_lz4_read_by_kwire: "java", "lz4", "kwire";
    java_lz4_read_by_java: "java", "lz4", "java";
    java_lz4_read_by_kcat: "java", "lz4", "kcat";
    java_zstd_read_by_kwire: "java", "zstd", "kwire";
    java_zstd_read_by_java: "java", "zstd", "java";
    java_zstd_read_by_kcat: "java", "zstd", "kcat";
    kcat_none_read_by_kwire: "kcat", "none", "kwire";
    kcat_none_read_by_java: "kcat", "none", "java";
    kcat_none_read_by_kcat: "kcat", "none", "kcat";
    kcat_gzip_read_by_kwire: "kcat", "gzip", "kwire";
    kcat_gzip_read_by_java: "kcat", "gzip", "java";
    kcat_gzip_read_by_kcat: "kcat", "gzip", "kcat";
    kcat_snappy_read_by_kwire: "kcat", "snappy", "kwire";
    kcat_snappy_read_by_java: "kcat", "snappy", "java";
    kcat_snappy_read_by_kcat: "kcat", "snappy", "kcat";
    kcat_lz4_read_by_kwire: "kcat", "lz4", "kwire";
    kcat_lz4_read_by_java: "kcat", "lz4", "java";
    kcat_lz4_read_by_kcat: "kcat", "lz4", "kcat";
    kcat_zstd_read_by_kwire: "kcat", "zstd", "kwire";
    kcat_zstd_read_by_java: "kcat", "zstd", "java";
    kcat_zstd_read_by_kcat: "kcat", "zstd", "kcat";
}

/// The matrix above lists every (writer, codec, reader) once: 45 cells.
#[test]
fn the_matrix_has_every_cell() {
    let src = include_str!("interop.rs");
    let listed = src.lines().filter(|l| l.contains("_read_by_") && l.trim_end().ends_with("\";")).count();
    assert_eq!(listed, WRITERS.len() * CODECS.len() * READERS.len());
    for w in WRITERS {
        for c in CODECS {
            for r in READERS {
                let line = format!("    {w}_{c}_read_by_{r}: \"{w}\", \"{c}\", \"{r}\";");
                assert!(src.contains(&line), "cell {w}/{c}/{r} missing from cells!");
            }
        }
    }
}
