//! The toolbox commands against Kafka's own Java tools on the same broker:
//! `kwire offsets` vs kafka-get-offsets.sh, `kwire dump-log` vs
//! kafka-dump-log.sh, `kwire delete-records` vs kafka-delete-records.sh,
//! `kwire log-dirs` vs kafka-log-dirs.sh. Part of the interop run
//! (`scripts/interop.sh`, after the integration suite), so that their JVM
//! start-ups do not load the machine under the timing-bound fault tests.

use kwire_integration::*;
use serde_json::Value;

/// Where the single-node broker keeps `topic`'s partition 0.
fn segment_of(topic: &str) -> std::path::PathBuf {
    let dir = cluster1_data_dir().join(format!("{topic}-0"));
    let seg = dir.join("00000000000000000000.log");
    assert!(seg.exists(), "no segment {}", seg.display());
    seg
}

// ---------------------------------------------------------------- offsets

/// Partition p holds 10*(p+1) records with timestamps BASE + i s, except
/// that one record in the middle of partition 1 has the largest timestamp.
const BASE: i64 = 1_700_000_000_000;

fn fill(b: &str, t: &str) {
    kwire(b, &["topics", "create", t, "--partitions", "3"]).ok();
    let mut input = String::new();
    for p in 0..3 {
        for i in 0..10 * (p + 1) {
            let ts = if p == 1 && i == 7 { BASE + 1_000_000 } else { BASE + i64::from(i) * 1000 };
            input.push_str(&format!("{{\"value\":\"{p}-{i}\",\"partition\":{p},\"timestamp\":{ts}}}\n"));
        }
    }
    kwire_stdin(b, &["produce", "-t", t, "--format", "json", "--acks", "all"], Some(input.as_bytes())).ok();
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
#[ignore = "run by scripts/interop.sh (Kafka's Java tools)"]
fn offsets_print_what_kafka_get_offsets_prints() {
    let b = bootstrap();
    let t = unique_topic("offsets");
    fill(&b, &t);
    let mid = (BASE + 5_500).to_string();
    let late = (BASE + 100_000_000).to_string();
    for time in ["-1", "-2", "-3", "-4", "-5", mid.as_str()] {
        let ours = kwire(&b, &["offsets", "--topic", &t, "--time", time]).ok().stdout;
        let java =
            java_tool("GetOffsetShell", &["--bootstrap-server", &b, "--topic", &t, "--time", time], b"");
        assert_eq!(sorted_lines(&ours), sorted_lines(&java), "--time {time}");
    }
    // The names mean what the numbers do.
    for (name, number) in [("latest", "-1"), ("earliest", "-2"), ("max-timestamp", "-3")] {
        let by_name = kwire(&b, &["offsets", "--topic", &t, "--time", name]).ok().stdout;
        let by_number = kwire(&b, &["offsets", "--topic", &t, "--time", number]).ok().stdout;
        assert_eq!(by_name, by_number, "{name}");
    }
    // The values themselves, not only agreement.
    let latest = kwire(&b, &["offsets", "--topic", &t]).ok().stdout;
    assert_eq!(sorted_lines(&latest), [format!("{t}:0:10"), format!("{t}:1:20"), format!("{t}:2:30")]);
    let max_ts = kwire(&b, &["offsets", "--topic", &t, "--time", "-3"]).ok().stdout;
    assert!(max_ts.lines().any(|l| l == format!("{t}:1:7")), "{max_ts}");
    let by_time = kwire(&b, &["offsets", "--topic", &t, "--time", &mid]).ok().stdout;
    assert_eq!(sorted_lines(&by_time), [format!("{t}:0:6"), format!("{t}:1:6"), format!("{t}:2:6")]);
    assert!(kwire(&b, &["offsets", "--topic", &t, "--time", &late]).ok().stdout.trim().is_empty());
}

#[test]
#[ignore = "run by scripts/interop.sh (Kafka's Java tools)"]
fn offsets_filters_match_kafka_get_offsets() {
    let b = bootstrap();
    let (t, u) = (unique_topic("offsets-a"), unique_topic("offsets-b"));
    fill(&b, &t);
    fill(&b, &u);
    let prefix = &t[..t.len() - 3];
    let cases: Vec<Vec<String>> = vec![
        vec!["--topic".into(), t.clone(), "--partitions".into(), "0,2".into()],
        vec!["--topic-partitions".into(), format!("{t}:1-,{u}:-1,{u}:2-3")],
        vec!["--topic".into(), format!("{t}|{u}")],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut ours = vec!["offsets"];
        ours.extend(&args);
        let mut java = vec!["--bootstrap-server", b.as_str()];
        java.extend(&args);
        let got = kwire(&b, &ours).ok().stdout;
        let want = java_tool("GetOffsetShell", &java, b"");
        assert_eq!(sorted_lines(&got), sorted_lines(&want), "{args:?}");
        assert!(!got.trim().is_empty(), "{args:?}");
    }
    // A regex matches whole names only: a prefix of the name matches nothing.
    let run = kwire(&b, &["offsets", "--topic", prefix]);
    assert!(!run.stdout.contains(&t), "{}", run.stdout);
    let run = kwire(&b, &["offsets", "--topic", &format!("{prefix}.*")]).ok();
    assert_eq!(sorted_lines(&run.stdout).len(), 3, "{}", run.stdout);
}

// ---------------------------------------------------------------- dump_log

#[test]
#[ignore = "run by scripts/interop.sh (Kafka's Java tools)"]
fn dump_log_prints_what_kafka_dump_log_prints() {
    let b = bootstrap();
    let t = unique_topic("dumplog");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    for codec in ["none", "gzip", "lz4", "zstd"] {
        let input: String = (0..5).map(|i| format!("k{i}:{codec}-{i}\n")).collect();
        let args = ["produce", "-t", &t, "--key-separator", ":", "-H", "h1=v1", "--compression", codec];
        kwire_stdin(&b, &args, Some(input.as_bytes())).ok();
    }
    let id = unique_topic("dumplog-txn");
    let txn = ["produce", "-t", &t, "--format", "json", "--transactional-id", &id];
    kwire_stdin(&b, &txn, Some(b"{\"value\":\"committed\"}\n")).ok();
    let aborted = kwire_stdin(&b, &txn, Some(b"{\"value\":\"x\"}\n{\"value\":\"y\",\"partition\":9}\n"));
    assert_eq!(aborted.code, Some(1), "{}", aborted.stderr);
    let seg = segment_of(&t);
    let path = seg.to_string_lossy().into_owned();
    for flags in [
        &[][..],
        &["--print-data-log"],
        &["--deep-iteration", "--skip-record-metadata"],
        &["--print-data-log", "--skip-record-metadata"],
    ] {
        let mut ours = vec!["dump-log", path.as_str()];
        ours.extend(flags);
        let got = kwire(&b, &ours).ok().stdout;
        let mut java = vec!["--files", path.as_str()];
        java.extend(flags);
        let want = java_tool("DumpLogSegments", &java, b"");
        let (got, want): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
        assert_eq!(got, want, "{flags:?}");
    }
    let deep = kwire(&b, &["dump-log", &path, "--print-data-log"]).ok().stdout;
    assert!(deep.contains("payload: committed") && deep.contains("endTxnMarker: COMMIT"), "{deep}");
    assert!(deep.contains("compresscodec: gzip") && deep.contains("headerKeys: [h1]"), "{deep}");
}

/// A damaged copy of a segment, dumped by kwire and by Kafka's tool: the same
/// stdout and the same exit code. A bad CRC and bytes after the last whole
/// batch are reported with exit 0; a record that cannot be decoded
/// (`--deep-iteration`) is exit 1 (Kafka's tool throws, kwire prints one line).
#[test]
#[ignore = "run by scripts/interop.sh (Kafka's Java tools)"]
fn dump_log_exit_codes_on_damaged_segments_match_kafka_dump_log() {
    let b = bootstrap();
    let t = unique_topic("dumplog-damaged");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    kwire_stdin(&b, &["produce", "-t", &t], Some(b"a\nb\nc\n")).ok();
    let good = std::fs::read(segment_of(&t)).expect("segment");
    let dir = std::env::temp_dir().join(unique_topic("kwire-dumplog-java"));
    std::fs::create_dir_all(&dir).expect("dir");
    let seg = dir.join("00000000000000000000.log");
    let path = seg.to_string_lossy().into_owned();
    // The last byte flipped (a bad CRC; the last record no longer decodes),
    // then a first batch length past the end of the file.
    let mut flipped = good.clone();
    *flipped.last_mut().expect("bytes") ^= 0xff;
    let mut cut = good.clone();
    cut[8..12].copy_from_slice(&1_000_000i32.to_be_bytes());
    for (damage, bytes, flags, code) in [
        ("bad crc", &flipped, &[][..], 0),
        ("bad crc, deep", &flipped, &["--deep-iteration"][..], 1),
        ("length past the end", &cut, &[][..], 0),
    ] {
        std::fs::write(&seg, bytes).expect("write");
        let mut ours = vec!["dump-log", path.as_str()];
        ours.extend(flags);
        let got = kwire(&b, &ours);
        let mut java = vec!["--files", path.as_str()];
        java.extend(flags);
        let want = java_tool_run("DumpLogSegments", &java);
        assert_eq!((got.code, want.code), (Some(code), Some(code)), "{damage}: {got:#?}\n{want:#?}");
        assert_eq!(got.stdout, want.stdout, "{damage}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    kwire(&b, &["topics", "delete", &t]).ok();
}

// ---------------------------------------------------------------- delete_records

/// Two partitions of 10 records each.
fn fill_two(b: &str, t: &str) {
    kwire(b, &["topics", "create", t, "--partitions", "2"]).ok();
    let input: String = (0..20).map(|i| format!("{{\"value\":\"{i}\",\"partition\":{}}}\n", i % 2)).collect();
    kwire_stdin(b, &["produce", "-t", t, "--format", "json", "--acks", "all"], Some(input.as_bytes())).ok();
}

fn offsets_json(t: &str, p0: i64, p1: i64) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(unique_topic("kwire-delete-records"));
    let text = format!(
        "{{\"partitions\":[{{\"topic\":\"{t}\",\"partition\":0,\"offset\":{p0}}},\
         {{\"topic\":\"{t}\",\"partition\":1,\"offset\":{p1}}}],\"version\":1}}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
#[ignore = "run by scripts/interop.sh (Kafka's Java tools)"]
fn delete_records_reports_like_kafka_and_the_records_are_gone() {
    let b = bootstrap();
    let (t, u) = (unique_topic("delrec"), unique_topic("delrec-java"));
    fill_two(&b, &t);
    fill_two(&b, &u);
    let ours = offsets_json(&t, 3, -1);
    let theirs = offsets_json(&u, 3, -1);
    let got = kwire(&b, &["delete-records", "--offset-json-file", &ours.to_string_lossy()]).ok().stdout;
    let want = java_tool(
        "DeleteRecordsCommand",
        &["--bootstrap-server", &b, "--offset-json-file", &theirs.to_string_lossy()],
        b"",
    );
    // Kafka prints the partitions in its map's order: compare them as a set.
    let sorted = |s: &str| {
        let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
        v[2..].sort();
        v
    };
    assert_eq!(sorted(&got), sorted(&want.replace(&u, &t)));
    assert!(got.contains(&format!("partition: {t}-0\tlow_watermark: 3\n")), "{got}");
    assert!(got.contains(&format!("partition: {t}-1\tlow_watermark: 10\n")), "{got}");
    let start = kwire(&b, &["offsets", "--topic", &t, "--time", "-2"]).ok().stdout;
    assert_eq!(start, format!("{t}:0:3\n{t}:1:10\n"));
    let left: Vec<String> =
        consume_all(&b, &t, &[]).iter().map(|r| r["value"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        left,
        ["6", "8", "10", "12", "14", "16", "18"],
        "partition 0 from offset 3, partition 1 empty"
    );
    let _ = std::fs::remove_file(ours);
    let _ = std::fs::remove_file(theirs);
}

// ---------------------------------------------------------------- log_dirs

/// The JSON line, with each log dir's partitions sorted.
fn normalized(out: &str) -> Value {
    let line = out.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON line in {out}"));
    let mut doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    for b in doc["brokers"].as_array_mut().unwrap() {
        for d in b["logDirs"].as_array_mut().unwrap() {
            d["partitions"]
                .as_array_mut()
                .unwrap()
                .sort_by_key(|p| p["partition"].as_str().unwrap().to_owned());
        }
    }
    doc
}

#[test]
#[ignore = "run by scripts/interop.sh (Kafka's Java tools)"]
fn log_dirs_describe_matches_kafka_log_dirs() {
    let b = bootstrap();
    let (t, u) = (unique_topic("logdirs"), unique_topic("logdirs-other"));
    for topic in [&t, &u] {
        kwire(&b, &["topics", "create", topic, "--partitions", "3"]).ok();
    }
    let input: String =
        (0..300).map(|i| format!("{{\"value\":\"{i:0100}\",\"partition\":{}}}\n", i % 3)).collect();
    kwire_stdin(&b, &["produce", "-t", &t, "--format", "json", "--acks", "all"], Some(input.as_bytes())).ok();
    let list = format!("{t},{u},no-such-topic");
    let ours = kwire(&b, &["log-dirs", "--describe", "--topic-list", &list]).ok().stdout;
    let java =
        java_tool("LogDirsCommand", &["--bootstrap-server", &b, "--describe", "--topic-list", &list], b"");
    let head = |s: &str| s.lines().take(2).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(head(&ours), head(&java));
    assert_eq!(normalized(&ours), normalized(&java));
    let doc = normalized(&ours);
    let parts = doc["brokers"][0]["logDirs"][0]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 6, "{doc}");
    assert!(
        parts
            .iter()
            .filter(|p| p["partition"].as_str().unwrap().starts_with(&t))
            .all(|p| p["size"].as_i64() > Some(0)),
        "{doc}"
    );
    // Every broker, every topic: ours is among them.
    let all = kwire(&b, &["log-dirs", "--describe"]).ok().stdout;
    assert!(all.contains(&format!("\"partition\":\"{t}-0\"")), "{all}");
}
