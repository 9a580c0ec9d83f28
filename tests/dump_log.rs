//! `kwire dump-log` against Kafka's own `kafka-dump-log.sh` on a segment the
//! test broker wrote: keyed records with headers in several codecs, a
//! committed and an aborted transaction (control batches): the same text,
//! line for line.

use kwire_integration::*;

fn segment_of(topic: &str) -> std::path::PathBuf {
    let dir = cluster1_data_dir().join(format!("{topic}-0"));
    let seg = dir.join("00000000000000000000.log");
    assert!(seg.exists(), "no segment {}", seg.display());
    seg
}

#[test]
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

#[test]
fn dump_log_reports_corruption_in_one_line_and_exits_non_zero() {
    let b = bootstrap();
    let t = unique_topic("dumplog-bad");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    kwire_stdin(&b, &["produce", "-t", &t], Some(b"a\nb\nc\n")).ok();
    let good = std::fs::read(segment_of(&t)).unwrap();
    let dir = std::env::temp_dir().join(unique_topic("kwire-dumplog"));
    std::fs::create_dir_all(&dir).unwrap();
    // A flipped byte in the records: the CRC no longer matches.
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    let crc = dir.join("00000000000000000000.log");
    std::fs::write(&crc, &flipped).unwrap();
    let run = kwire(&b, &["dump-log", &crc.to_string_lossy()]);
    assert!(run.stdout.contains("isvalid: false"), "{}", run.stdout);
    // A batch length past the end of the file.
    let mut cut = good.clone();
    cut[8..12].copy_from_slice(&1_000_000i32.to_be_bytes());
    std::fs::write(&crc, &cut).unwrap();
    let run = kwire(&b, &["dump-log", &crc.to_string_lossy()]);
    assert!(run.stdout.contains("invalid bytes") || run.code == Some(1), "{run:#?}");
    // Not a segment, and a missing file.
    let other = dir.join("notes.txt");
    std::fs::write(&other, b"hello").unwrap();
    for f in [other, dir.join("00000000000000000042.log")] {
        let run = kwire(&b, &["dump-log", &f.to_string_lossy()]);
        assert_eq!(run.code, Some(1), "{run:#?}");
        assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
