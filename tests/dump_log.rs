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

/// What fails and what doesn't follows Kafka's DumpLogSegments: a batch whose
/// CRC doesn't match is printed with `isvalid: false` and the exit is 0 (a
/// dump reports what the file holds; kwire adds one warning line on stderr),
/// as are bytes after the last whole batch (`Found N invalid bytes`); a record
/// that cannot be decoded (with `--deep-iteration`), a file that is not a
/// segment and a missing file are one error line and exit 1 (Kafka's tool
/// throws on the first, exit 1). tests/toolbox_java.rs checks these exit codes
/// against Kafka's tool.
#[test]
fn dump_log_reports_bad_crcs_and_trailing_bytes_like_kafka_and_fails_on_undecodable_input() {
    let b = bootstrap();
    let t = unique_topic("dumplog-bad");
    kwire(&b, &["topics", "create", &t, "--partitions", "1"]).ok();
    let _delete = DeleteTopicOnDrop::new(&b, &t);
    kwire_stdin(&b, &["produce", "-t", &t], Some(b"a\nb\nc\n")).ok();
    let good = std::fs::read(segment_of(&t)).unwrap();
    let dir = std::env::temp_dir().join(unique_topic("kwire-dumplog"));
    std::fs::create_dir_all(&dir).unwrap();
    // A flipped byte in the last record: the CRC no longer matches.
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    let crc = dir.join("00000000000000000000.log");
    let path = crc.to_string_lossy().into_owned();
    std::fs::write(&crc, &flipped).unwrap();
    let run = kwire(&b, &["dump-log", &path]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(run.stdout.contains("isvalid: false"), "{}", run.stdout);
    assert_eq!(
        run.stderr.trim(),
        format!("kwire: warning: {path}: 1 batch(es) with a CRC mismatch (isvalid: false)"),
        "{run:#?}"
    );
    // The records read deeply: the flipped byte breaks the last one (the
    // CRC warning, then the error).
    let run = kwire(&b, &["dump-log", &path, "--deep-iteration"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(lines[0].contains("CRC mismatch"), "{run:#?}");
    assert!(
        lines[1].starts_with(&format!("kwire: error: {path}: batch at position 0: corrupt record")),
        "{run:#?}"
    );
    // A batch length past the end of the file: its bytes are reported as invalid, exit 0.
    let mut cut = good.clone();
    cut[8..12].copy_from_slice(&1_000_000i32.to_be_bytes());
    std::fs::write(&crc, &cut).unwrap();
    let run = kwire(&b, &["dump-log", &path]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(
        run.stdout.ends_with(&format!(
            "Found {} invalid bytes at the end of 00000000000000000000.log\n",
            good.len()
        )),
        "{run:#?}"
    );
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
