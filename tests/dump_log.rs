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
