use bytes::{Bytes, BytesMut};
use kwire_proto::records::{
    BatchOptions, Compression, ControlRecord, ControlType, Header, Record, encode_batch,
};

use super::*;

fn rec(
    ts: i64,
    key: Option<&'static [u8]>,
    value: Option<&'static [u8]>,
    headers: &[&'static str],
) -> Record {
    Record {
        timestamp: ts,
        key: key.map(Bytes::from_static),
        value: value.map(Bytes::from_static),
        headers: headers.iter().map(|h| Header::new(Bytes::from_static(h.as_bytes()), None)).collect(),
    }
}

/// A segment: a transactional lz4 batch with keys and headers (offsets 0-1),
/// its commit marker (2), a plain batch (3).
fn segment() -> Bytes {
    let mut seg = BytesMut::new();
    let data = encode_batch(
        &[rec(10, Some(b"k1"), Some(b"v1"), &["h1", "h2"]), rec(11, None, Some(b"v2"), &[])],
        BatchOptions::default()
            .compression(Compression::Lz4)
            .transactional(true)
            .producer(7, 1, 5)
            .partition_leader_epoch(3),
    )
    .unwrap();
    seg.extend_from_slice(data.bytes());
    let marker = Record {
        timestamp: 12,
        key: Some(Bytes::copy_from_slice(&ControlRecord::key(ControlType::Commit))),
        value: Some(Bytes::copy_from_slice(&ControlRecord::end_txn_value(4))),
        headers: vec![],
    };
    let ctl = encode_batch(
        &[marker],
        BatchOptions::default()
            .transactional(true)
            .control(true)
            .producer(7, 1, -1)
            .base_offset(2)
            .partition_leader_epoch(3),
    )
    .unwrap();
    seg.extend_from_slice(ctl.bytes());
    let plain =
        encode_batch(&[rec(13, Some(b"k3"), None, &[])], BatchOptions::default().base_offset(3)).unwrap();
    seg.extend_from_slice(plain.bytes());
    seg.freeze()
}

fn dump(seg: Bytes, opts: DumpOptions) -> (String, DumpSummary) {
    let mut out = Vec::new();
    let sum = dump_segment(seg, &opts, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), sum)
}

#[test]
fn prints_like_dump_log_segments() {
    let seg = segment();
    let (text, sum) = dump(seg.clone(), DumpOptions { print_data: true, ..Default::default() });
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    let first = lines[0];
    assert!(
        first.starts_with(
            "baseOffset: 0 lastOffset: 1 count: 2 baseSequence: 5 lastSequence: 6 producerId: 7 producerEpoch: 1 \
             partitionLeaderEpoch: 3 isTransactional: true isControl: false deleteHorizonMs: OptionalLong.empty \
             position: 0 CreateTime: 11 size: "
        ),
        "{first}"
    );
    assert!(first.contains(" magic: 2 compresscodec: lz4 crc: "), "{first}");
    assert!(first.ends_with(" isvalid: true"), "{first}");
    assert_eq!(
        lines[1],
        "| offset: 0 CreateTime: 10 keySize: 2 valueSize: 2 sequence: 5 headerKeys: [h1,h2] key: k1 payload: v1"
    );
    assert_eq!(
        lines[2],
        "| offset: 1 CreateTime: 11 keySize: -1 valueSize: 2 sequence: 6 headerKeys: [] payload: v2"
    );
    assert!(lines[3].contains("isControl: true"), "{}", lines[3]);
    assert!(lines[3].contains("baseSequence: -1 lastSequence: -1"), "{}", lines[3]);
    assert_eq!(
        lines[4],
        "| offset: 2 CreateTime: 12 keySize: 4 valueSize: 6 sequence: -1 headerKeys: [] endTxnMarker: COMMIT coordinatorEpoch: 4"
    );
    let first_size: usize =
        first.split(" size: ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(lines[3].contains(&format!(" position: {first_size} ")), "{}", lines[3]);
    assert_eq!(
        lines[6],
        "| offset: 3 CreateTime: 13 keySize: 2 valueSize: -1 sequence: -1 headerKeys: [] key: k3"
    );
    assert_eq!((sum.batches, sum.records, sum.bad_crc, sum.trailing_bytes), (3, 4, 0, 0));
    assert!(sum.error.is_none() && sum.non_consecutive.is_empty());

    // Without --print-data-log / --deep-iteration: batches only.
    let (shallow, _) = dump(seg.clone(), DumpOptions::default());
    assert_eq!(shallow.lines().count(), 3);
    // --deep-iteration alone: record metadata, no key/payload.
    let (deep, _) = dump(seg.clone(), DumpOptions { deep: true, ..Default::default() });
    assert!(deep.contains("headerKeys: [h1,h2]\n"), "{deep}");
    // --skip-record-metadata.
    let (skip, _) =
        dump(seg, DumpOptions { print_data: true, skip_record_metadata: true, ..Default::default() });
    assert!(skip.contains("\n| key: k1 payload: v1\n"), "{skip}");
    assert!(skip.contains("\n| payload: v2\n"), "{skip}");
}

#[test]
fn bad_crc_is_reported_not_fatal() {
    let mut seg = BytesMut::from(&segment()[..]);
    // Flip a byte in the first batch's records section (past the 61-byte header).
    seg[65] ^= 0xff;
    let (text, sum) = dump(seg.freeze(), DumpOptions::default());
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with("isvalid: false"), "{}", lines[0]);
    assert!(lines[1].ends_with("isvalid: true"), "{}", lines[1]);
    assert_eq!(sum.bad_crc, 1);
    assert_eq!(sum.batches, 3);
}

#[test]
fn truncated_tail_is_counted() {
    let seg = segment();
    let cut = seg.slice(..seg.len() - 5);
    let (text, sum) = dump(cut, DumpOptions::default());
    assert_eq!(text.lines().count(), 2);
    let last_batch_len = seg.len()
        - text
            .lines()
            .map(|l| l.split(" size: ").nth(1).unwrap().split(' ').next().unwrap().parse::<usize>().unwrap())
            .sum::<usize>();
    assert_eq!(sum.trailing_bytes, last_batch_len - 5);
    assert!(sum.error.is_none());
}

#[test]
fn corrupt_length_is_an_error_with_position() {
    let seg = segment();
    let (text, _) = dump(seg.clone(), DumpOptions::default());
    let first_size: usize = text
        .lines()
        .next()
        .unwrap()
        .split(" size: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut bad = BytesMut::from(&seg[..]);
    // Second batch's length field: 3 (below the minimum).
    bad[first_size + 8..first_size + 12].copy_from_slice(&3i32.to_be_bytes());
    let (text, sum) = dump(bad.freeze(), DumpOptions::default());
    assert_eq!(text.lines().count(), 1);
    let e = sum.error.unwrap();
    assert!(e.starts_with(&format!("corrupt batch at position {first_size}: ")), "{e}");
}

#[test]
fn non_consecutive_offsets_are_listed() {
    let a = encode_batch(&[rec(1, None, Some(b"a"), &[])], BatchOptions::default()).unwrap();
    let b = encode_batch(&[rec(2, None, Some(b"b"), &[])], BatchOptions::default().base_offset(5)).unwrap();
    let seg = [a.bytes().as_ref(), b.bytes().as_ref()].concat();
    let (_, sum) = dump(Bytes::from(seg), DumpOptions { deep: true, ..Default::default() });
    assert_eq!(sum.non_consecutive, vec![(0, 5)]);
}

#[test]
fn every_prefix_and_byte_flip_is_safe() {
    let seg = segment();
    let opts = DumpOptions { print_data: true, ..Default::default() };
    for n in 0..seg.len() {
        let (_, sum) = dump(seg.slice(..n), opts);
        assert!(sum.error.is_none(), "prefix {n}: {:?}", sum.error);
    }
    for i in 0..seg.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut b = BytesMut::from(&seg[..]);
            b[i] ^= x;
            let _ = dump(b.freeze(), opts);
        }
    }
}

#[test]
fn segment_names() {
    assert_eq!(segment_start_offset("00000000000000000042.log"), Some(42));
    assert_eq!(segment_start_offset("00000000000000000000.log"), Some(0));
    assert_eq!(segment_start_offset("00000000000000000042.index"), None);
    assert_eq!(segment_start_offset("x.log"), None);
    assert_eq!(segment_start_offset(".log"), None);
    assert_eq!(segment_start_offset("99999999999999999999999.log"), None);
}

#[test]
fn text_decodes_like_java() {
    assert_eq!(java_utf8(b"plain"), "plain");
    // An encoded surrogate: one replacement in Java, three in Rust's lossy.
    assert_eq!(java_utf8(b"a\xed\xa0\x80b"), "a\u{FFFD}b");
    assert_eq!(java_utf8(b"a\xffb"), "a\u{FFFD}b");
    assert_eq!(java_utf8(b"a\xe2\x82"), "a\u{FFFD}");
    assert_eq!(java_utf8(b"\xe2\x82x"), "\u{FFFD}x");
    assert_eq!(java_utf8("é€😀".as_bytes()), "é€😀");
}

#[test]
fn json_lines_carry_what_the_text_prints() {
    let opts = DumpOptions { print_data: true, ..Default::default() };
    let mut out = Vec::new();
    let sum = dump_segment_json(segment(), &opts, &mut out).unwrap();
    let (_, text_sum) = dump(segment(), opts);
    assert_eq!(sum, text_sum, "both formats walk the same");
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(lines.len(), 3, "one object per batch");
    let first = &lines[0];
    assert_eq!(first["base_offset"], 0);
    assert_eq!(first["last_offset"], 1);
    assert_eq!(first["producer_id"], 7);
    assert_eq!(first["compression"], "lz4");
    assert_eq!(first["crc_valid"], true);
    assert_eq!(first["is_transactional"], true);
    let recs = first["records"].as_array().unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["key"], "k1");
    assert_eq!(recs[0]["payload"], "v1");
    assert_eq!(recs[0]["header_keys"], serde_json::json!(["h1", "h2"]));
    assert_eq!(recs[1]["key"], serde_json::Value::Null);
    assert_eq!(lines[1]["records"][0]["control"]["type"], "COMMIT");
    assert_eq!(lines[1]["records"][0]["control"]["coordinator_epoch"], 4);
    assert_eq!(lines[2]["records"][0]["payload"], serde_json::Value::Null);
    // Without deep iteration there is no "records" key.
    let mut out = Vec::new();
    dump_segment_json(segment(), &DumpOptions::default(), &mut out).unwrap();
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8(out).unwrap().lines().next().unwrap()).unwrap();
    assert!(first.get("records").is_none());
}
