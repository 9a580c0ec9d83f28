//! Record batch tests: round trips, truncation, corruption, hostile input,
//! decompression bombs, legacy formats, cross-checks against kafka-protocol.

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::compression::{self, Compression};
use super::*;
use crate::DecodeError;

fn b(s: &[u8]) -> Bytes {
    Bytes::copy_from_slice(s)
}

/// Records with null keys/values, duplicate header keys and null header values.
fn sample_records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            timestamp: 1_700_000_000_000 + (i as i64 * 37) % 1000 - 500,
            key: (i % 3 != 0).then(|| Bytes::from(format!("key-{i}"))),
            value: (i % 5 != 4).then(|| Bytes::from(format!("{{\"id\":{i},\"party\":\"green\"}}"))),
            headers: match i % 4 {
                0 => vec![],
                1 => vec![Header::new("a", Some(b(b"1")))],
                2 => vec![
                    Header::new("dup", Some(b(b"x"))),
                    Header::new("dup", None),
                    Header::new("dup", Some(b(b""))),
                ],
                _ => vec![Header::new("", None), Header::new("k", Some(b(&[0xff; 40])))],
            },
        })
        .collect()
}

type Decoded = (Vec<(BatchHeader, Vec<(i64, Record)>)>, Option<usize>);

fn decode_all(data: Bytes, opts: &DecodeOptions) -> Result<Decoded, RecordsError> {
    let mut it = batches(data, opts);
    let mut out = vec![];
    for batch in &mut it {
        let batch = batch?;
        let mut recs = vec![];
        for r in batch.records()? {
            let r = r?;
            recs.push((r.offset, r.to_record()));
        }
        out.push((batch.header, recs));
    }
    Ok((out, it.incomplete()))
}

fn opts() -> DecodeOptions {
    DecodeOptions::default()
}

#[test]
fn roundtrip_every_codec() {
    let records = sample_records(50);
    for codec in Compression::ALL {
        let o = BatchOptions::default()
            .compression(codec)
            .producer(4242, 7, 100)
            .transactional(true)
            .base_offset(1000);
        let batch = encode_batch(&records, o).unwrap();
        assert_eq!(batch.record_count(), 50);
        assert_eq!(batch.compression(), codec);
        let (got, incomplete) = decode_all(batch.bytes().clone(), &opts()).unwrap();
        assert_eq!(incomplete, None);
        assert_eq!(got.len(), 1);
        let (h, recs) = &got[0];
        assert_eq!(h.magic, 2);
        assert_eq!(h.compression(), codec);
        assert_eq!(h.base_offset, 1000);
        assert_eq!(h.last_offset_delta, 49);
        assert_eq!(h.record_count, 50);
        assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence), (4242, 7, 100));
        assert_eq!(h.last_sequence(), 149);
        assert!(h.is_transactional() && !h.is_control());
        assert_eq!(h.partition_leader_epoch, -1);
        assert_eq!(h.base_timestamp, records[0].timestamp);
        assert_eq!(h.max_timestamp, records.iter().map(|r| r.timestamp).max().unwrap());
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
        assert_eq!(h.next_offset(), 1050);
        let want: Vec<_> = records.iter().cloned().enumerate().map(|(i, r)| (1000 + i as i64, r)).collect();
        assert_eq!(recs, &want, "{codec}");
    }
}

#[test]
fn headers_iterate_lazily_in_order() {
    let records = sample_records(3);
    let batch = encode_batch(&records, BatchOptions::default()).unwrap();
    let b = batches(batch.into_bytes(), &opts()).next().unwrap().unwrap();
    let recs: Vec<_> = b.records().unwrap().collect::<Result<_, _>>().unwrap();
    let hs: Vec<_> = recs[2].headers().collect();
    assert_eq!(recs[2].header_count(), 3);
    assert_eq!(
        hs,
        vec![
            HeaderRef { key: b"dup", value: Some(b"x") },
            HeaderRef { key: b"dup", value: None },
            HeaderRef { key: b"dup", value: Some(b"") },
        ]
    );
    assert_eq!(hs[0].key_str(), Some("dup"));
    assert_eq!(recs[0].key, None);
    assert_eq!(recs[1].key, Some(&b"key-1"[..]));
    // zero-copy: key_bytes shares the batch buffer
    let kb = recs[1].key_bytes().unwrap();
    assert_eq!(kb.as_ptr(), recs[1].key.unwrap().as_ptr());
}

#[test]
fn wire_layout_matches_kafka() {
    let mut bld = RecordBatchBuilder::new(BatchOptions::default());
    bld.append(1000, None, Some(b"v"), &[]).unwrap();
    bld.append(1005, Some(b"k"), None, &[Header::new("h", None)]).unwrap();
    let batch = bld.finish().unwrap();
    let w = batch.bytes();
    assert_eq!(&w[0..8], &0i64.to_be_bytes()); // base offset
    assert_eq!(i32::from_be_bytes(w[8..12].try_into().unwrap()) as usize, w.len() - 12);
    assert_eq!(&w[12..16], &(-1i32).to_be_bytes()); // partition leader epoch
    assert_eq!(w[16], 2); // magic
    assert_eq!(u32::from_be_bytes(w[17..21].try_into().unwrap()), crc32c::crc32c(&w[21..]));
    assert_eq!(&w[21..23], &0i16.to_be_bytes()); // attributes
    assert_eq!(&w[23..27], &1i32.to_be_bytes()); // last offset delta
    assert_eq!(&w[27..35], &1000i64.to_be_bytes()); // base timestamp
    assert_eq!(&w[35..43], &1005i64.to_be_bytes()); // max timestamp
    assert_eq!(&w[43..51], &(-1i64).to_be_bytes()); // producer id
    assert_eq!(&w[51..53], &(-1i16).to_be_bytes()); // producer epoch
    assert_eq!(&w[53..57], &(-1i32).to_be_bytes()); // base sequence
    assert_eq!(&w[57..61], &2i32.to_be_bytes()); // count
    // record 0: len, attrs 0, tsΔ 0, offΔ 0, key -1, value len 1 "v", 0 headers
    assert_eq!(&w[61..69], &[14, 0, 0, 0, 1, 2, b'v', 0]);
    // record 1: tsΔ 5 (zigzag 10), offΔ 1 (2), key "k", value null, 1 header "h"=null
    assert_eq!(&w[69..], &[20, 0, 10, 2, 2, b'k', 1, 2, 2, b'h', 1]);
}

#[test]
fn control_flag_and_log_append_time_attributes() {
    let o = BatchOptions::default()
        .control(true)
        .transactional(true)
        .timestamp_type(TimestampType::LogAppendTime)
        .compression(Compression::Lz4);
    let mut bld = RecordBatchBuilder::new(o);
    bld.append(5, Some(&ControlRecord::key(ControlType::Abort)), Some(&ControlRecord::end_txn_value(9)), &[])
        .unwrap();
    let batch = bld.finish().unwrap();
    let attrs = i16::from_be_bytes(batch.bytes()[21..23].try_into().unwrap());
    assert_eq!(attrs, 3 | 0x08 | 0x10 | 0x20);
    let b = batches(batch.into_bytes(), &opts()).next().unwrap().unwrap();
    assert!(b.is_control() && b.is_transactional());
    assert_eq!(b.header.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(
        b.control_record().unwrap(),
        Some(ControlRecord { version: 0, kind: ControlType::Abort, coordinator_epoch: Some(9) })
    );
}

#[test]
fn control_record_parsing() {
    let commit = ControlRecord::key(ControlType::Commit);
    assert_eq!(ControlRecord::parse(Some(&commit), None).unwrap().kind, ControlType::Commit);
    assert_eq!(ControlRecord::parse(Some(&[0, 0, 0, 7]), None).unwrap().kind, ControlType::Other(7));
    assert!(ControlRecord::parse(None, None).is_err());
    assert!(ControlRecord::parse(Some(&[0, 0, 0]), None).is_err());
    assert!(ControlRecord::parse(Some(&[0xff, 0xff, 0, 0]), None).is_err());
    // a data batch has no control record
    let batch = encode_batch(&sample_records(1), BatchOptions::default()).unwrap();
    let b = batches(batch.into_bytes(), &opts()).next().unwrap().unwrap();
    assert_eq!(b.control_record().unwrap(), None);
}

#[test]
fn log_append_time_records_read_max_timestamp() {
    let records = sample_records(5);
    let o = BatchOptions::default().timestamp_type(TimestampType::LogAppendTime);
    let batch = encode_batch(&records, o).unwrap();
    let (got, _) = decode_all(batch.into_bytes(), &opts()).unwrap();
    let max = records.iter().map(|r| r.timestamp).max().unwrap();
    assert!(got[0].1.iter().all(|(_, r)| r.timestamp == max));
}

#[test]
fn empty_batches() {
    let mut bld = RecordBatchBuilder::new(BatchOptions::default());
    assert_eq!(bld.finish(), Err(RecordsError::EmptyBatch));
    assert_eq!(encode_batch(&[], BatchOptions::default()), Err(RecordsError::EmptyBatch));
    // A count-0 batch (left by compaction) decodes to no records.
    let mut raw = encode_batch(&sample_records(1), BatchOptions::default()).unwrap().bytes().to_vec();
    raw.truncate(61);
    raw[57..61].copy_from_slice(&0i32.to_be_bytes());
    fix_length_and_crc(&mut raw);
    let (got, inc) = decode_all(Bytes::from(raw), &opts()).unwrap();
    assert_eq!(inc, None);
    assert_eq!(got.len(), 1);
    assert!(got[0].1.is_empty());
}

#[test]
fn empty_compressed_batch_yields_nothing() {
    for codec in Compression::ALL {
        let mut z = BytesMut::new();
        compression::compress(codec, &[], None, &mut z).unwrap();
        let b = batches(raw_batch(0, codec, &z), &opts()).next().unwrap().unwrap();
        assert_eq!(b.records().unwrap().count(), 0, "{codec}");
        assert_eq!(b.control_record().unwrap(), None);
    }
}

fn fix_length_and_crc(raw: &mut [u8]) {
    let len = (raw.len() - 12) as i32;
    raw[8..12].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c::crc32c(&raw[21..]);
    raw[17..21].copy_from_slice(&crc.to_be_bytes());
}

#[test]
fn try_append_respects_the_limit_and_builder_is_reusable() {
    let o = BatchOptions::default().max_batch_bytes(1000);
    let mut bld = RecordBatchBuilder::new(o);
    let value = [7u8; 100];
    // the first record is always accepted, even above the limit
    assert_eq!(bld.try_append(1, None, Some(&[1u8; 5000]), &[]).unwrap(), Append::Appended);
    assert_eq!(bld.try_append(1, None, Some(&value), &[]).unwrap(), Append::Full);
    assert_eq!(bld.len(), 1);
    let big = bld.finish().unwrap();
    assert_eq!(big.record_count(), 1);
    assert!(bld.is_empty());

    let mut all = BytesMut::new();
    let mut total = 0;
    for round in 0..3 {
        let mut n = 0;
        loop {
            let before = bld.estimated_size();
            match bld.try_append(round, Some(b"k"), Some(&value), &[]).unwrap() {
                Append::Appended => {
                    n += 1;
                    assert!(bld.estimated_size() <= 1000, "{}", bld.estimated_size());
                    assert!(bld.estimated_size() > before);
                }
                Append::Full => break,
            }
        }
        let est = bld.estimated_size();
        let batch = bld.finish().unwrap();
        assert_eq!(est, batch.len(), "estimate is exact without compression");
        assert_eq!(batch.record_count(), n);
        total += n;
        all.extend_from_slice(batch.bytes());
    }
    let (got, _) = decode_all(all.freeze(), &opts()).unwrap();
    assert_eq!(got.iter().map(|(_, r)| r.len() as i32).sum::<i32>(), total);
    for (round, (h, recs)) in got.iter().enumerate() {
        assert_eq!(h.base_offset, 0);
        assert!(recs.iter().all(|(_, r)| r.timestamp == round as i64));
    }
}

#[test]
fn compressed_size_estimate_uses_ratio() {
    let o = BatchOptions::default()
        .compression(Compression::Gzip)
        .compression_ratio_estimate(0.25)
        .max_batch_bytes(4000);
    let mut bld = RecordBatchBuilder::new(o);
    let value = [b'a'; 100];
    while bld.try_append(1, None, Some(&value), &[]).unwrap() == Append::Appended {}
    // ~4000 / (0.25 * 1.05) bytes of records fit
    assert!(bld.uncompressed_size() > 12_000, "{}", bld.uncompressed_size());
    let batch = bld.finish().unwrap();
    assert!(batch.len() < 4000);
    assert!(batch.compression_ratio() < 0.25);
}

#[test]
fn with_producer_state_rewrites_and_recomputes_crc() {
    for codec in [Compression::None, Compression::Snappy] {
        let batch = encode_batch(&sample_records(4), BatchOptions::default().compression(codec)).unwrap();
        let re = batch.with_producer_state(77, 3, i32::MAX - 1);
        let b = batches(re.bytes().clone(), &opts()).next().unwrap().unwrap();
        assert_eq!(
            (b.header.producer_id, b.header.producer_epoch, b.header.base_sequence),
            (77, 3, i32::MAX - 1)
        );
        // sequences wrap like Kafka's DefaultRecordBatch.incrementSequence:
        // MAX-1, MAX, 0, 1
        assert_eq!(b.header.last_sequence(), 1);
        assert_eq!(b.records().unwrap().count(), 4);
    }
}

#[test]
fn size_upper_bound_bounds_a_single_record_batch() {
    let recs = sample_records(8);
    for r in &recs {
        let bound = RecordBatchBuilder::size_upper_bound(r.key.as_deref(), r.value.as_deref(), &r.headers);
        let batch = encode_batch(std::slice::from_ref(r), BatchOptions::default()).unwrap();
        assert!(batch.len() <= bound);
    }
}

/// Three batches with different codecs, concatenated like a Fetch response.
fn three_batches() -> (Bytes, Vec<usize>) {
    let mut all = BytesMut::new();
    let mut ends = vec![];
    for (i, codec) in [Compression::None, Compression::Gzip, Compression::Lz4].into_iter().enumerate() {
        let o = BatchOptions::default().compression(codec).base_offset(i as i64 * 10);
        let batch = encode_batch(&sample_records(6), o).unwrap();
        all.extend_from_slice(batch.bytes());
        ends.push(all.len());
    }
    (all.freeze(), ends)
}

#[test]
fn truncation_at_every_byte_keeps_whole_batches() {
    let (all, ends) = three_batches();
    for cut in 0..=all.len() {
        let (got, incomplete) =
            decode_all(all.slice(..cut), &opts()).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let whole = ends.iter().filter(|e| **e <= cut).count();
        assert_eq!(got.len(), whole, "cut {cut}");
        let last_end = if whole == 0 { 0 } else { ends[whole - 1] };
        if cut == last_end {
            assert_eq!(incomplete, None, "cut {cut}");
        } else {
            assert_eq!(incomplete, Some(cut - last_end), "cut {cut}");
        }
        for (i, (h, recs)) in got.iter().enumerate() {
            assert_eq!(h.base_offset, i as i64 * 10);
            assert_eq!(recs.len(), 6);
        }
    }
}

#[test]
fn bit_flips_are_crc_errors_and_never_panic() {
    let (all, ends) = three_batches();
    let first_end = ends[0];
    for pos in 0..all.len() {
        for bit in [0u8, 3, 7] {
            let mut v = all.to_vec();
            v[pos] ^= 1 << bit;
            let data = Bytes::from(v);
            let res = decode_all(data.clone(), &opts());
            let in_crc_range =
                (21..first_end).contains(&pos) || ends.windows(2).any(|w| (w[0] + 21..w[1]).contains(&pos));
            if in_crc_range {
                match res {
                    Err(RecordsError::CrcMismatch { .. }) => {}
                    other => panic!("flip at {pos}/{bit}: expected a CRC error, got {other:?}"),
                }
            }
            // Without CRC checks: errors are fine, panics are not.
            let _ = decode_all(data, &opts().verify_crc(false));
        }
    }
}

/// A valid one-batch buffer whose records section is `records`, with `count`
/// declared, CRC fixed.
fn raw_batch(count: i32, codec: Compression, records: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i64(0);
    out.put_i32(0);
    out.put_i32(-1);
    out.put_i8(2);
    out.put_u32(0);
    out.put_i16(codec.id() as i16);
    out.put_i32(count.max(1) - 1);
    out.put_i64(0);
    out.put_i64(0);
    out.put_i64(-1);
    out.put_i16(-1);
    out.put_i32(-1);
    out.put_i32(count);
    out.extend_from_slice(records);
    let mut v = out.to_vec();
    fix_length_and_crc(&mut v);
    Bytes::from(v)
}

fn first_records_err(data: Bytes) -> RecordsError {
    match decode_all(data, &opts()) {
        Err(e) => e,
        Ok(r) => panic!("expected an error, got {r:?}"),
    }
}

#[test]
fn hostile_counts_and_lengths() {
    // i32::MAX records declared, 1 record present: rejected before any allocation.
    let one = &[14, 0, 0, 0, 1, 2, b'v', 0][..];
    let e = first_records_err(raw_batch(i32::MAX, Compression::None, one));
    assert!(matches!(e, RecordsError::Decode(DecodeError::CountTooLarge { .. })), "{e}");
    // Same in a compressed batch: found after decompression.
    let mut z = BytesMut::new();
    compression::compress(Compression::Snappy, one, None, &mut z).unwrap();
    let e = first_records_err(raw_batch(i32::MAX, Compression::Snappy, &z));
    assert!(matches!(e, RecordsError::Decode(DecodeError::CountTooLarge { .. })), "{e}");
    // Negative count.
    let e = first_records_err(raw_batch(-5, Compression::None, one));
    assert!(matches!(e, RecordsError::Decode(DecodeError::NegativeLength { .. })), "{e}");
    // Fewer records than declared.
    let e = first_records_err(raw_batch(2, Compression::None, &[one, &[0u8; 7][..]].concat()));
    assert!(matches!(e, RecordsError::Decode(_)), "{e}");
    // Bytes after the last record.
    let e = first_records_err(raw_batch(1, Compression::None, &[one, &[0u8; 9][..]].concat()));
    assert!(matches!(e, RecordsError::Decode(DecodeError::Invalid(_))), "{e}");
    // Negative record length (zig-zag 3 = -2).
    let e = first_records_err(raw_batch(1, Compression::None, &[3, 0, 0, 0, 1, 2, b'v', 0]));
    assert!(matches!(e, RecordsError::Decode(DecodeError::NegativeLength { .. })), "{e}");
    // Record length past the end.
    let e = first_records_err(raw_batch(1, Compression::None, &[0x7e, 0, 0, 0, 1, 2, b'v', 0]));
    assert!(matches!(e, RecordsError::Decode(DecodeError::Truncated { .. })), "{e}");
    // Key length -2.
    let e = first_records_err(raw_batch(1, Compression::None, &[14, 0, 0, 0, 3, 2, b'v', 0]));
    assert!(matches!(e, RecordsError::Decode(DecodeError::NegativeLength { .. })), "{e}");
    // Value longer than the record.
    let e = first_records_err(raw_batch(
        1,
        Compression::None,
        &[14, 0, 0, 0, 1, 40, b'v', 0, 0, 0, 0, 0, 0, 0, 0],
    ));
    assert!(matches!(e, RecordsError::Decode(_)), "{e}");
    // Huge header count.
    let e = first_records_err(raw_batch(
        1,
        Compression::None,
        &[22, 0, 0, 0, 1, 2, b'v', 0xfe, 0xff, 0xff, 0xff, 0x0f],
    ));
    assert!(matches!(e, RecordsError::Decode(DecodeError::CountTooLarge { .. })), "{e}");
    // Null header key.
    let e = first_records_err(raw_batch(1, Compression::None, &[18, 0, 0, 0, 1, 2, b'v', 2, 1, 1]));
    assert!(matches!(e, RecordsError::Decode(DecodeError::Invalid(_))), "{e}");
    // Record length says more than the fields hold.
    let e = first_records_err(raw_batch(1, Compression::None, &[16, 0, 0, 0, 1, 2, b'v', 0, 0]));
    assert!(matches!(e, RecordsError::Decode(DecodeError::Invalid(_))), "{e}");
    // Overlong varint.
    let e = first_records_err(raw_batch(1, Compression::None, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0]));
    assert!(matches!(e, RecordsError::Decode(DecodeError::Invalid(_))), "{e}");
}

#[test]
fn hostile_batch_headers() {
    let good = encode_batch(&sample_records(2), BatchOptions::default()).unwrap().into_bytes();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = good.to_vec();
        f(&mut v);
        Bytes::from(v)
    };
    // Unknown magic.
    let e = first_records_err(with(&|v| v[16] = 3));
    assert_eq!(e, RecordsError::UnsupportedMagic(3));
    let e = first_records_err(with(&|v| v[16] = 0xff));
    assert_eq!(e, RecordsError::UnsupportedMagic(-1));
    // Batch length below the v2 minimum, and negative.
    let e = first_records_err(with(&|v| v[8..12].copy_from_slice(&48i32.to_be_bytes())));
    assert!(matches!(e, RecordsError::Decode(DecodeError::Invalid(_))));
    let e = first_records_err(with(&|v| v[8..12].copy_from_slice(&(-1i32).to_be_bytes())));
    assert!(matches!(e, RecordsError::Decode(DecodeError::Invalid(_))));
    // Huge batch length is a truncated batch, not an error.
    let (got, inc) =
        decode_all(with(&|v| v[8..12].copy_from_slice(&i32::MAX.to_be_bytes())), &opts()).unwrap();
    assert!(got.is_empty());
    assert_eq!(inc, Some(good.len()));
    // Unknown codec 5..7.
    for id in 5..=7i16 {
        let e = first_records_err(with(&|v| {
            v[21..23].copy_from_slice(&id.to_be_bytes());
            fix_length_and_crc(v);
        }));
        assert_eq!(e, RecordsError::UnknownCompression(id as u8));
    }
    // Negative last offset delta; offset overflow.
    let e = first_records_err(with(&|v| {
        v[23..27].copy_from_slice(&(-1i32).to_be_bytes());
        fix_length_and_crc(v);
    }));
    assert!(matches!(e, RecordsError::Decode(DecodeError::Invalid(_))));
    let e = first_records_err(with(&|v| v[0..8].copy_from_slice(&i64::MAX.to_be_bytes())));
    assert!(matches!(e, RecordsError::Decode(DecodeError::Invalid(_))));
    // CRC mismatch; ignored when verification is off.
    let bad = with(&|v| v[17] ^= 1);
    assert!(first_records_err(bad.clone()).is_crc_mismatch());
    assert!(decode_all(bad, &opts().verify_crc(false)).is_ok());
    // After an error the iterator stops.
    let mut two = BytesMut::from(&with(&|v| v[16] = 9)[..]);
    two.extend_from_slice(&good);
    let mut it = batches(two.freeze(), &opts());
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
    assert_eq!(it.incomplete(), None);
}

#[test]
fn incomplete_first_batch_reports_size() {
    let good = encode_batch(&sample_records(2), BatchOptions::default()).unwrap().into_bytes();
    let mut it = batches(good.slice(..40), &opts());
    assert!(it.next().is_none());
    assert_eq!(it.incomplete(), Some(40));
    assert_eq!(it.remaining().len(), 40);
}

#[test]
fn decompression_is_capped() {
    let zeros = vec![0u8; 4 << 20];
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let mut z = BytesMut::new();
        compression::compress(codec, &zeros, None, &mut z).unwrap();
        assert!(z.len() < zeros.len() / 10, "{codec} {}", z.len());
        assert_eq!(compression::decompress(codec, &z, 4 << 20).unwrap().len(), zeros.len(), "{codec}");
        let e = compression::decompress(codec, &z, (4 << 20) - 1).unwrap_err();
        assert_eq!(e, RecordsError::DecompressedTooLarge { codec, limit: (4 << 20) - 1 }, "{codec}");
        let e = compression::decompress(codec, &z, 1000).unwrap_err();
        assert_eq!(e, RecordsError::DecompressedTooLarge { codec, limit: 1000 }, "{codec}");
        // The same through a batch with a small max_decompressed.
        let batch = raw_batch(1, codec, &z);
        let b = batches(batch, &opts().max_decompressed(1 << 20)).next().unwrap().unwrap();
        assert!(matches!(b.records().unwrap_err(), RecordsError::DecompressedTooLarge { .. }));
    }
    let e = compression::decompress(Compression::None, &zeros, 10).unwrap_err();
    assert!(matches!(e, RecordsError::DecompressedTooLarge { .. }));
}

#[test]
fn decompression_never_allocates_past_the_limit() {
    for size in [0usize, 1, 4095, 4096, 4097, 5000, 70_000, 1 << 20, (1 << 20) + 3] {
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let mut z = BytesMut::new();
            compression::compress(codec, &data, None, &mut z).unwrap();
            let out = compression::decompress(codec, &z, size).unwrap();
            assert_eq!(out, data, "{codec} {size}");
            assert!(out.capacity() <= size + 1, "{codec} {size}: capacity {}", out.capacity());
            if size > 0 {
                let e = compression::decompress(codec, &z, size - 1).unwrap_err();
                assert!(matches!(e, RecordsError::DecompressedTooLarge { .. }), "{codec} {size}: {e}");
            }
        }
    }
}

#[test]
fn gzip_bomb_is_refused_cleanly() {
    // 8 MiB of zeros in ~8 KiB (a 1000:1 bomb) against a 1 MiB cap.
    let mut z = BytesMut::new();
    compression::compress(Compression::Gzip, &vec![0u8; 8 << 20], Some(9), &mut z).unwrap();
    assert!(z.len() < 10_000, "{}", z.len());
    let e = compression::decompress(Compression::Gzip, &z, 1 << 20).unwrap_err();
    assert_eq!(e, RecordsError::DecompressedTooLarge { codec: Compression::Gzip, limit: 1 << 20 });
    // inside a batch, with the cap from DecodeOptions
    let b = batches(raw_batch(1, Compression::Gzip, &z), &opts().max_decompressed(1 << 20))
        .next()
        .unwrap()
        .unwrap();
    assert!(matches!(b.records().unwrap_err(), RecordsError::DecompressedTooLarge { .. }));
}

#[test]
fn snappy_declared_lengths_are_not_trusted() {
    let limit = 64 << 20;
    // raw snappy claiming 4 GiB - 1 from 6 bytes
    let e = compression::decompress(Compression::Snappy, &[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00], limit)
        .unwrap_err();
    assert!(matches!(e, RecordsError::Decompress { .. }), "{e}");
    // raw snappy claiming 1 MiB from a 5-byte block (ratio impossible)
    let e = compression::decompress(Compression::Snappy, &[0x80, 0x80, 0x40, 0x00, 0x00], limit).unwrap_err();
    assert!(matches!(e, RecordsError::Decompress { .. }), "{e}");
    let xerial = |blocks: &[u8]| [&b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01"[..], blocks].concat();
    // xerial: negative block length, block length past the end, truncated length
    for blocks in [&[0xff, 0xff, 0xff, 0xfe, 0][..], &[0, 0, 0, 9, 1, 0], &[0, 0]] {
        let e = compression::decompress(Compression::Snappy, &xerial(blocks), limit).unwrap_err();
        assert!(matches!(e, RecordsError::Decompress { .. }), "{e}");
    }
    // xerial: many blocks each claiming a lot add up past the limit
    let mut blocks = vec![];
    let one = snap::raw::Encoder::new().compress_vec(&vec![0u8; 60_000]).unwrap();
    for _ in 0..20 {
        blocks.put_i32(one.len() as i32);
        blocks.extend_from_slice(&one);
    }
    let e = compression::decompress(Compression::Snappy, &xerial(&blocks), 1_000_000).unwrap_err();
    assert!(matches!(e, RecordsError::DecompressedTooLarge { .. }), "{e}");
    assert_eq!(
        compression::decompress(Compression::Snappy, &xerial(&blocks), 1_200_000).unwrap().len(),
        1_200_000
    );
    // header only: empty
    assert!(compression::decompress(Compression::Snappy, &xerial(&[]), limit).unwrap().is_empty());
    // truncated header
    assert!(compression::decompress(Compression::Snappy, &xerial(&[])[..12], limit).is_err());
}

#[test]
fn snappy_reads_raw_and_writes_xerial_like_java() {
    let data = b"Hello world! This is a test payload that is long enough to produce more than sixteen bytes";
    let raw = snap::raw::Encoder::new().compress_vec(data).unwrap();
    assert_eq!(compression::decompress(Compression::Snappy, &raw, 1 << 20).unwrap(), data);
    let mut x = BytesMut::new();
    compression::compress(Compression::Snappy, b"\x18\x00\x00\x00\x01\x0csdfdsf\x00", None, &mut x).unwrap();
    // Bytes written by Kafka's Java client (via kafka-protocol's test vector) for this input.
    let java = b"\x82\x53\x4e\x41\x50\x50\x59\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x0f\x0d\x30\x18\x00\x00\x00\x01\x0csdfdsf\x00";
    assert_eq!(&x[..], &java[..]);
    assert_eq!(
        compression::decompress(Compression::Snappy, java, 100).unwrap(),
        b"\x18\x00\x00\x00\x01\x0csdfdsf\x00"
    );
    // multiple 32 KiB blocks
    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut x = BytesMut::new();
    compression::compress(Compression::Snappy, &big, None, &mut x).unwrap();
    assert_eq!(compression::decompress(Compression::Snappy, &x, 1 << 20).unwrap(), big);
}

#[test]
fn lz4_frame_header_is_what_java_writes() {
    let mut x = BytesMut::new();
    compression::compress(Compression::Lz4, b"hello hello hello hello", None, &mut x).unwrap();
    // magic, FLG = version 01 + independent blocks, BD = 64 KiB
    assert_eq!(&x[..6], &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40]);
    assert_eq!(x[6], (twox_hash::XxHash32::oneshot(0, &x[4..6]) >> 8) as u8);
    assert_eq!(&x[x.len() - 4..], &[0, 0, 0, 0], "end mark, no content checksum");
}

/// Fuzz finding (`records` target, 2026-12-04): a 378-byte batch whose LZ4
/// frame declared 4 MiB blocks made `lz4_flex` allocate 16 MiB. Declared
/// block sizes are lowered to what the input could fill; valid frames with
/// large blocks still decode the same. Regression input:
/// fuzz/regressions/records/lz4-4mib-blocks-small-input.
#[test]
fn lz4_large_declared_blocks_decode_the_same_with_small_buffers() {
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    use std::io::Write;
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 31 % 97) as u8).collect();
    for (size, mode, checksums) in [
        (BlockSize::Max4MB, BlockMode::Independent, false),
        (BlockSize::Max1MB, BlockMode::Linked, true),
        (BlockSize::Max256KB, BlockMode::Independent, true),
    ] {
        let info = FrameInfo::new()
            .block_size(size)
            .block_mode(mode)
            .block_checksums(checksums)
            .content_checksum(checksums);
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(&data).unwrap();
        let frame = enc.finish().unwrap();
        // Two frames back to back, as a batch may hold.
        let two = [frame.clone(), frame.clone()].concat();
        let out = compression::decompress(Compression::Lz4, &two, 1 << 20).unwrap();
        assert_eq!(out.len(), 2 * data.len(), "{size:?} {mode:?}");
        assert!(out[..data.len()] == data[..] && out[data.len()..] == data[..]);
    }
    // A corrupted header checksum is still an error (not repaired by the rewrite).
    let mut enc = FrameEncoder::with_frame_info(FrameInfo::new().block_size(BlockSize::Max4MB), Vec::new());
    enc.write_all(b"abc").unwrap();
    let mut frame = enc.finish().unwrap();
    frame[6] ^= 0xff;
    assert!(compression::decompress(Compression::Lz4, &frame, 1 << 20).is_err());
    // Legacy and skippable frames are refused, as Kafka's Java client does.
    for magic in [[0x02u8, 0x21, 0x4c, 0x18], [0x50, 0x2a, 0x4d, 0x18]] {
        let mut f = magic.to_vec();
        f.extend_from_slice(&[0, 0, 0, 0]);
        assert!(compression::decompress(Compression::Lz4, &f, 1 << 20).is_err());
    }
}

#[test]
fn zstd_hostile_frames() {
    let limit = 1 << 20;
    // window descriptor 0xf8: 2^41-byte window
    let e = compression::decompress(Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8, 0, 0, 0], limit)
        .unwrap_err();
    assert!(matches!(e, RecordsError::Decompress { .. }), "{e}");
    // single segment with an 8-byte content size of 2^40
    let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0xe0];
    f.extend_from_slice(&(1u64 << 40).to_le_bytes());
    f.extend_from_slice(&[1, 0, 0]);
    let e = compression::decompress(Compression::Zstd, &f, limit).unwrap_err();
    assert!(matches!(e, RecordsError::DecompressedTooLarge { .. } | RecordsError::Decompress { .. }), "{e}");
    // bad magic, empty, truncated
    for bad in [&[1u8, 2, 3, 4, 5][..], &[], &[0x28, 0xb5, 0x2f]] {
        assert!(compression::decompress(Compression::Zstd, bad, limit).is_err());
    }
    // skippable frame then a real frame
    let mut z = BytesMut::new();
    compression::compress(Compression::Zstd, b"abcabcabc", None, &mut z).unwrap();
    let mut s = vec![0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9];
    s.extend_from_slice(&z);
    s.extend_from_slice(&z); // two frames
    assert_eq!(compression::decompress(Compression::Zstd, &s, limit).unwrap(), b"abcabcabcabcabcabc");
    // truncated frame
    assert!(compression::decompress(Compression::Zstd, &z[..z.len() - 2], limit).is_err());
}

/// Each thread reuses one zstd decoder; nothing of one frame (its window,
/// tables or repeat offsets) may reach the next, including after a frame
/// that failed halfway.
#[test]
fn zstd_frames_decode_alike_after_any_earlier_frame() {
    let limit = 1 << 20;
    let payload = |seed: u32, len: usize| -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // mostly repeats of a short alphabet, so there are matches and literals
                if x.is_multiple_of(3) {
                    b"{\"party\":\"Dem\"}"[i % 15]
                } else {
                    b'a' + (x % (seed % 20 + 2)) as u8
                }
            })
            .collect()
    };
    let frames: Vec<(Vec<u8>, BytesMut)> =
        [(1, 3), (2, 40_000), (3, 200_000), (4, 1), (5, 131_073), (6, 9_999)]
            .into_iter()
            .map(|(seed, len)| {
                let data = payload(seed, len);
                let mut z = BytesMut::new();
                compression::compress(Compression::Zstd, &data, None, &mut z).unwrap();
                (data, z)
            })
            .collect();
    for round in 0..3 {
        for (i, (data, z)) in frames.iter().enumerate() {
            assert_eq!(
                &compression::decompress(Compression::Zstd, z, limit).unwrap(),
                data,
                "frame {i}, round {round}"
            );
            // a frame cut or garbled halfway through fails, and the next one still decodes
            let (_, other) = &frames[(i + round + 1) % frames.len()];
            let mut bad = other[..other.len() / 2 + 1].to_vec();
            let _ = compression::decompress(Compression::Zstd, &bad, limit);
            if let Some(b) = bad.get_mut(12) {
                *b ^= 0x5a;
            }
            let _ = compression::decompress(Compression::Zstd, &bad, limit);
        }
    }
}

#[test]
fn compression_names() {
    for c in Compression::ALL {
        assert_eq!(c.name().parse::<Compression>().unwrap(), c);
        assert_eq!(Compression::from_id(c.id()), Some(c));
    }
    assert_eq!(" ZSTD ".parse::<Compression>().unwrap(), Compression::Zstd);
    assert!("brotli".parse::<Compression>().is_err());
    assert_eq!(Compression::from_id(5), None);
}

// ---------------------------------------------------------------- legacy

fn legacy_msg(
    magic: i8,
    offset: i64,
    attrs: i8,
    ts: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = vec![magic as u8, attrs as u8];
    if magic == 1 {
        body.extend_from_slice(&ts.to_be_bytes());
    }
    for f in [key, value] {
        match f {
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(d) => {
                body.extend_from_slice(&(d.len() as i32).to_be_bytes());
                body.extend_from_slice(d);
            }
        }
    }
    let mut out = offset.to_be_bytes().to_vec();
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// The broken KIP-57 header checksum old clients wrote for magic-0 LZ4.
fn break_lz4_checksum(frame: &mut [u8]) {
    frame[6] = (twox_hash::XxHash32::oneshot(0, &frame[..6]) >> 8) as u8;
}

fn wrapper(
    magic: i8,
    codec: Compression,
    wrapper_offset: i64,
    ts: i64,
    ts_type_bit: i8,
    inner: &[Vec<u8>],
) -> Vec<u8> {
    let set = inner.concat();
    let mut z = BytesMut::new();
    compression::compress(codec, &set, None, &mut z).unwrap();
    if magic == 0 && codec == Compression::Lz4 {
        break_lz4_checksum(&mut z);
    }
    legacy_msg(magic, wrapper_offset, codec.id() as i8 | ts_type_bit, ts, None, Some(&z))
}

#[test]
fn legacy_uncompressed_messages() {
    let mut data = legacy_msg(0, 5, 0, 0, Some(b"k0"), Some(b"v0"));
    data.extend(legacy_msg(1, 6, 0, 1234, None, Some(b"v1")));
    data.extend(legacy_msg(1, 7, 0x08, 999, Some(b""), None));
    let (got, inc) = decode_all(Bytes::from(data), &opts()).unwrap();
    assert_eq!(inc, None);
    let flat: Vec<_> = got.iter().flat_map(|(_, r)| r.iter().cloned()).collect();
    assert_eq!(flat.len(), 3);
    assert_eq!(flat[0].0, 5);
    assert_eq!(flat[0].1.timestamp, NO_TIMESTAMP);
    assert_eq!(flat[0].1.key.as_deref(), Some(&b"k0"[..]));
    assert_eq!((flat[1].0, flat[1].1.timestamp, flat[1].1.key.clone()), (6, 1234, None));
    assert_eq!((flat[2].0, flat[2].1.timestamp), (7, 999));
    assert_eq!(flat[2].1.value, None);
    assert_eq!(got[0].0.magic, 0);
    assert_eq!(got[2].0.timestamp_type(), TimestampType::LogAppendTime);
    assert!(flat.iter().all(|(_, r)| r.headers.is_empty()));
    assert_eq!(got[1].0.producer_id, -1);
}

#[test]
fn legacy_compressed_wrappers() {
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
        // magic 1: relative inner offsets 0..2, wrapper carries the last absolute offset (102)
        let inner: Vec<_> =
            (0..3).map(|i| legacy_msg(1, i, 0, 500 + i, None, Some(format!("m{i}").as_bytes()))).collect();
        let v1 = wrapper(1, codec, 102, 502, 0, &inner);
        // magic 1 with LogAppendTime: every record gets the wrapper timestamp
        let v1_lat = wrapper(1, codec, 105, 7777, 0x08, &inner);
        // magic 0: absolute inner offsets
        let inner0: Vec<_> = (200..202).map(|o| legacy_msg(0, o, 0, 0, Some(b"k"), Some(b"old"))).collect();
        let v0 = wrapper(0, codec, 201, 0, 0, &inner0);
        let data = Bytes::from([v1, v1_lat, v0].concat());
        let (got, inc) = decode_all(data, &opts()).unwrap_or_else(|e| panic!("{codec}: {e}"));
        assert_eq!(inc, None);
        assert_eq!(got.len(), 3);
        let offs = |i: usize| got[i].1.iter().map(|(o, _)| *o).collect::<Vec<_>>();
        assert_eq!(offs(0), vec![100, 101, 102], "{codec}");
        assert_eq!(got[0].0.base_offset, 100);
        assert_eq!(got[0].0.last_offset(), 102);
        assert_eq!(got[0].0.record_count, 3);
        assert_eq!(got[0].0.compression(), codec);
        assert_eq!(got[0].1.iter().map(|(_, r)| r.timestamp).collect::<Vec<_>>(), vec![500, 501, 502]);
        assert_eq!(got[0].1[2].1.value.as_deref(), Some(&b"m2"[..]));
        assert_eq!(offs(1), vec![103, 104, 105]);
        assert!(got[1].1.iter().all(|(_, r)| r.timestamp == 7777));
        assert_eq!(offs(2), vec![200, 201]);
        assert!(
            got[2]
                .1
                .iter()
                .all(|(_, r)| r.timestamp == NO_TIMESTAMP && r.value.as_deref() == Some(&b"old"[..]))
        );
    }
}

#[test]
fn legacy_corruption() {
    let good = legacy_msg(1, 0, 0, 1, Some(b"k"), Some(b"v"));
    // CRC
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(first_records_err(Bytes::from(bad.clone())).is_crc_mismatch());
    assert!(decode_all(Bytes::from(bad), &opts().verify_crc(false)).is_ok());
    // nested compression
    let inner = wrapper(1, Compression::Gzip, 0, 1, 0, std::slice::from_ref(&good));
    let nested = wrapper(1, Compression::Gzip, 0, 1, 0, &[inner]);
    assert!(matches!(first_records_err(Bytes::from(nested)), RecordsError::Decode(DecodeError::Invalid(_))));
    // zstd is not a legacy codec
    let z = legacy_msg(1, 0, 4, 1, None, Some(b"x"));
    assert_eq!(first_records_err(Bytes::from(z)), RecordsError::UnknownCompression(4));
    // compressed wrapper with a null value / no inner messages
    let e = first_records_err(Bytes::from(legacy_msg(1, 0, 1, 1, None, None)));
    assert!(matches!(e, RecordsError::Decode(DecodeError::Invalid(_))));
    let e = first_records_err(Bytes::from(wrapper(1, Compression::Gzip, 0, 1, 0, &[])));
    assert!(matches!(e, RecordsError::Decode(DecodeError::Invalid(_))));
    // field overruns the message
    let mut bad = good.clone();
    bad[12 + 4 + 2 + 8..12 + 4 + 2 + 8 + 4].copy_from_slice(&100i32.to_be_bytes());
    let body_crc = crc32fast::hash(&bad[16..]);
    bad[12..16].copy_from_slice(&body_crc.to_be_bytes());
    assert!(first_records_err(Bytes::from(bad)).to_string().contains("overruns"));
    // message size below the minimum
    let mut bad = good;
    bad[8..12].copy_from_slice(&13i32.to_be_bytes());
    assert!(matches!(first_records_err(Bytes::from(bad)), RecordsError::Decode(DecodeError::Invalid(_))));
    // a truncated inner message set is corruption, not an incomplete fetch
    let inner = legacy_msg(1, 0, 0, 1, None, Some(b"value"));
    let mut set = BytesMut::new();
    compression::compress(Compression::Gzip, &inner[..inner.len() - 2], None, &mut set).unwrap();
    let w = legacy_msg(1, 0, 1, 1, None, Some(&set));
    assert!(matches!(first_records_err(Bytes::from(w)), RecordsError::Decode(DecodeError::Truncated { .. })));
}

#[test]
fn legacy_and_v2_mixed_and_truncated() {
    let mut data = legacy_msg(1, 0, 0, 1, None, Some(b"a"));
    data.extend(wrapper(
        1,
        Compression::Snappy,
        2,
        1,
        0,
        &[legacy_msg(1, 0, 0, 1, None, Some(b"b")), legacy_msg(1, 1, 0, 1, None, Some(b"c"))],
    ));
    data.extend_from_slice(
        encode_batch(&sample_records(2), BatchOptions::default().base_offset(3)).unwrap().bytes(),
    );
    let data = Bytes::from(data);
    let (got, _) = decode_all(data.clone(), &opts()).unwrap();
    let offsets: Vec<i64> = got.iter().flat_map(|(_, r)| r.iter().map(|(o, _)| *o)).collect();
    assert_eq!(offsets, vec![0, 1, 2, 3, 4]);
    let ends: Vec<usize> = got
        .iter()
        .scan(0, |end, (h, _)| {
            *end += h.batch_length as usize + 12;
            Some(*end)
        })
        .collect();
    assert_eq!(ends.last(), Some(&data.len()));
    for cut in 0..=data.len() {
        let (got, inc) = decode_all(data.slice(..cut), &opts()).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let whole = ends.iter().filter(|e| **e <= cut).count();
        assert_eq!(got.len(), whole, "cut {cut}");
        assert_eq!(inc.is_none(), cut == 0 || ends.contains(&cut), "cut {cut}");
    }
}

// ---------------------------------------------------------------- proptests

fn arb_bytes(max: usize) -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from))
}

fn arb_record() -> impl Strategy<Value = Record> {
    (
        any::<i32>(),
        arb_bytes(40),
        arb_bytes(300),
        proptest::collection::vec(
            (prop_oneof![Just(b(b"dup")), "[a-z]{0,6}".prop_map(Bytes::from)], arb_bytes(20)),
            0..4,
        ),
    )
        .prop_map(|(ts, key, value, headers)| Record {
            timestamp: 1_600_000_000_000 + i64::from(ts),
            key,
            value,
            headers: headers.into_iter().map(|(k, v)| Header::new(k, v)).collect(),
        })
}

fn arb_codec() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::None),
        Just(Compression::Gzip),
        Just(Compression::Snappy),
        Just(Compression::Lz4),
        Just(Compression::Zstd)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn prop_roundtrip(
        records in proptest::collection::vec(arb_record(), 1..40),
        codec in arb_codec(),
        base_offset in 0i64..(1 << 40),
        pid in -1i64..1000,
        tx in any::<bool>(),
    ) {
        let o = BatchOptions::default().compression(codec).base_offset(base_offset).producer(pid, 1, 0).transactional(tx);
        let batch = encode_batch(&records, o).unwrap();
        let (got, inc) = decode_all(batch.bytes().clone(), &opts()).unwrap();
        prop_assert_eq!(inc, None);
        prop_assert_eq!(got.len(), 1);
        let (h, recs) = &got[0];
        prop_assert_eq!(h.compression(), codec);
        prop_assert_eq!(h.is_transactional(), tx);
        let want: Vec<_> = records.iter().cloned().enumerate().map(|(i, r)| (base_offset + i as i64, r)).collect();
        prop_assert_eq!(recs, &want);
    }

    #[test]
    fn prop_random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300), crc in any::<bool>()) {
        let _ = decode_all(Bytes::from(data), &opts().verify_crc(crc).max_decompressed(1 << 20));
    }

    #[test]
    fn prop_mutated_batches_never_panic(
        records in proptest::collection::vec(arb_record(), 1..5),
        codec in arb_codec(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let batch = encode_batch(&records, BatchOptions::default().compression(codec)).unwrap();
        let mut v = batch.bytes().to_vec();
        for (i, byte) in edits {
            let at = i.index(v.len());
            v[at] = byte;
        }
        let _ = decode_all(Bytes::from(v.clone()), &opts().verify_crc(false).max_decompressed(1 << 20));
        // with the CRC fixed up the decoders see the garbage too
        fix_length_and_crc(&mut v);
        let _ = decode_all(Bytes::from(v), &opts().max_decompressed(1 << 20));
    }

    #[test]
    fn prop_decompressors_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200), codec in arb_codec()) {
        let _ = compression::decompress(codec, &data, 1 << 20);
        let _ = compression::decompress_lz4_broken_checksum(&data, 1 << 20);
        // and with a valid-looking prefix
        let mut z = BytesMut::new();
        compression::compress(codec, &data, None, &mut z).unwrap();
        let mut v = z.to_vec();
        let n = v.len();
        if n > 0 {
            v[data.len() % n] ^= 0x55;
        }
        let _ = compression::decompress(codec, &v, 1 << 20);
    }

    #[test]
    fn prop_compression_roundtrip(data in proptest::collection::vec(any::<u8>(), 0..5000), codec in arb_codec()) {
        let mut z = BytesMut::new();
        compression::compress(codec, &data, None, &mut z).unwrap();
        prop_assert_eq!(compression::decompress(codec, &z, data.len()).unwrap(), data);
    }
}

// ---------------------------------------------------------------- kafka-protocol cross-checks

mod kafka_protocol_compat {
    use super::*;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{
        Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
        RecordEncodeOptions, TimestampType as KpTs,
    };

    fn kp_codec(c: Compression) -> KpCompression {
        match c {
            Compression::None => KpCompression::None,
            Compression::Gzip => KpCompression::Gzip,
            Compression::Snappy => KpCompression::Snappy,
            Compression::Lz4 => KpCompression::Lz4,
            Compression::Zstd => KpCompression::Zstd,
        }
    }

    /// kafka-protocol keeps headers in an IndexMap: unique keys only here.
    fn unique_header_records(n: usize) -> Vec<Record> {
        let mut recs = sample_records(n);
        for r in &mut recs {
            let mut seen = std::collections::HashSet::new();
            r.headers.retain(|h| seen.insert(h.key.clone()));
        }
        recs
    }

    #[test]
    fn kwire_encoded_decodes_with_kafka_protocol() {
        let records = unique_header_records(30);
        for codec in Compression::ALL {
            let o = BatchOptions::default()
                .compression(codec)
                .producer(99, 2, 40)
                .base_offset(500)
                .transactional(true);
            let batch = encode_batch(&records, o).unwrap();
            let mut buf = batch.bytes().clone();
            let sets = RecordBatchDecoder::decode_all(&mut buf).unwrap_or_else(|e| panic!("{codec}: {e}"));
            assert_eq!(sets.len(), 1);
            let got = &sets[0].records;
            assert_eq!(got.len(), records.len());
            for (i, (k, r)) in got.iter().zip(&records).enumerate() {
                assert_eq!(k.offset, 500 + i as i64);
                assert_eq!(k.timestamp, r.timestamp);
                assert_eq!(k.key, r.key);
                assert_eq!(k.value, r.value);
                assert_eq!(k.producer_id, 99);
                assert_eq!(k.producer_epoch, 2);
                assert_eq!(k.sequence, 40 + i as i32);
                assert!(k.transactional);
                let hs: Vec<(Vec<u8>, Option<Bytes>)> =
                    k.headers.iter().map(|(hk, hv)| (hk.as_bytes().to_vec(), hv.clone())).collect();
                let want: Vec<(Vec<u8>, Option<Bytes>)> =
                    r.headers.iter().map(|h| (h.key.to_vec(), h.value.clone())).collect();
                assert_eq!(hs, want);
            }
        }
    }

    fn kp_records(records: &[Record]) -> Vec<KpRecord> {
        records
            .iter()
            .enumerate()
            .map(|(i, r)| KpRecord {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 3,
                producer_id: 1234,
                producer_epoch: 1,
                timestamp_type: KpTs::Creation,
                offset: 70 + i as i64,
                sequence: 10 + i as i32,
                timestamp: r.timestamp,
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r
                    .headers
                    .iter()
                    .map(|h| (StrBytes::from_utf8(h.key.clone()).unwrap(), h.value.clone()))
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn kafka_protocol_encoded_decodes_with_kwire() {
        let records = unique_header_records(30);
        let kp = kp_records(&records);
        for codec in Compression::ALL {
            let mut buf = BytesMut::new();
            RecordBatchEncoder::encode(
                &mut buf,
                &kp,
                &RecordEncodeOptions { version: 2, compression: kp_codec(codec) },
            )
            .unwrap();
            let (got, inc) = decode_all(buf.freeze(), &opts()).unwrap_or_else(|e| panic!("{codec}: {e}"));
            assert_eq!(inc, None);
            assert_eq!(got.len(), 1, "{codec}");
            let (h, recs) = &got[0];
            assert_eq!(h.compression(), codec);
            assert_eq!(
                (h.base_offset, h.partition_leader_epoch, h.producer_id, h.base_sequence),
                (70, 3, 1234, 10)
            );
            let want: Vec<_> = records.iter().cloned().enumerate().map(|(i, r)| (70 + i as i64, r)).collect();
            assert_eq!(recs, &want, "{codec}");
        }
    }

    #[test]
    fn same_bytes_as_kafka_protocol_uncompressed() {
        // Uncompressed v2 encoding is deterministic: both encoders must agree byte for byte.
        let records = unique_header_records(10);
        let kp = kp_records(&records);
        let mut theirs = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut theirs,
            &kp,
            &RecordEncodeOptions { version: 2, compression: KpCompression::None },
        )
        .unwrap();
        let o = BatchOptions::default().producer(1234, 1, 10).base_offset(70).partition_leader_epoch(3);
        let mut bld = RecordBatchBuilder::new(o);
        for r in &records {
            bld.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers).unwrap();
        }
        let ours = bld.finish().unwrap();
        // kafka-protocol uses the minimum timestamp as base; ours is the first
        // record's, like Java. Align: both equal when the first is the minimum.
        let min = records.iter().map(|r| r.timestamp).min().unwrap();
        if records[0].timestamp == min {
            assert_eq!(ours.bytes(), &theirs.freeze());
        } else {
            let (a, _) = decode_all(ours.into_bytes(), &opts()).unwrap();
            let (b2, _) = decode_all(theirs.freeze(), &opts()).unwrap();
            assert_eq!(a[0].1, b2[0].1);
        }
    }

    #[test]
    fn batch_after_truncation_kafka_protocol_loses_kwire_keeps() {
        let (all, ends) = three_batches();
        let cut = all.slice(..ends[1] + 30);
        assert!(RecordBatchDecoder::decode_all(&mut cut.clone()).is_err());
        let (got, inc) = decode_all(cut, &opts()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(inc, Some(30));
    }
}

/// Interleaved min-of-N timing of kwire vs kafka-protocol decoding the same
/// bytes (robust to a busy machine, unlike back-to-back criterion groups).
/// `cargo test -p kwire-proto --release --lib -- --ignored --nocapture decode_speed`
#[test]
#[ignore = "timing printout; run in release"]
fn decode_speed_vs_kafka_protocol() {
    use kafka_protocol::records::RecordBatchDecoder;
    use std::time::Instant;
    let value = [b'x'; 100];
    for codec in Compression::ALL {
        let mut bld = RecordBatchBuilder::new(BatchOptions::default().compression(codec));
        let mut all = BytesMut::new();
        for _ in 0..10 {
            for i in 0..1000 {
                bld.append(1_700_000_000_000 + i, None, Some(&value), &[]).unwrap();
            }
            all.extend_from_slice(bld.finish().unwrap().bytes());
        }
        let all = all.freeze();
        let o = opts();
        let kwire = || {
            let mut n = 0usize;
            for batch in batches(all.clone(), &o) {
                for rec in batch.unwrap().records().unwrap() {
                    n += rec.unwrap().value.map_or(0, <[u8]>::len);
                }
            }
            n
        };
        let kp = || {
            let mut buf = all.clone();
            let sets = RecordBatchDecoder::decode_all(&mut buf).unwrap();
            sets.iter()
                .flat_map(|s| &s.records)
                .map(|r| r.value.as_ref().map_or(0, |v| v.len()))
                .sum::<usize>()
        };
        let o_nocrc = opts().verify_crc(false);
        let kwire_nocrc = || {
            let mut n = 0usize;
            for batch in batches(all.clone(), &o_nocrc) {
                for rec in batch.unwrap().records().unwrap() {
                    n += rec.unwrap().value.map_or(0, <[u8]>::len);
                }
            }
            n
        };
        let crc_only = || batches(all.clone(), &o).map(|b| b.unwrap().record_count() as usize).sum::<usize>();
        // Lower bound: walk record lengths only.
        let skip_only = || {
            let mut n = 0usize;
            for b in batches(all.clone(), &o_nocrc) {
                let b = b.unwrap();
                let raw = b.raw();
                let mut p = 61;
                while p < raw.len() {
                    let mut len = 0usize;
                    let mut shift = 0;
                    loop {
                        let byte = raw[p];
                        p += 1;
                        len |= ((byte & 0x7f) as usize) << shift;
                        shift += 7;
                        if byte < 0x80 {
                            break;
                        }
                    }
                    p += len >> 1;
                    n += 1;
                }
            }
            n
        };
        let mut best_skip = f64::MAX;
        for _ in 0..if codec == Compression::None { 40 } else { 0 } {
            let t = Instant::now();
            std::hint::black_box(skip_only());
            best_skip = best_skip.min(t.elapsed().as_secs_f64());
        }
        if codec == Compression::None {
            println!("{codec:6}: length walk only {:6.2} M rec/s", 1e4 / best_skip / 1e6);
        }
        let (mut best_nocrc, mut best_crc) = (f64::MAX, f64::MAX);
        for _ in 0..40 {
            let t = Instant::now();
            std::hint::black_box(kwire_nocrc());
            best_nocrc = best_nocrc.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            std::hint::black_box(crc_only());
            best_crc = best_crc.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{codec:6}: kwire without CRC {:6.2} M rec/s; batch headers + CRC only {:6.2} M rec/s",
            1e4 / best_nocrc / 1e6,
            1e4 / best_crc / 1e6
        );
        let (mut best_kw, mut best_kp) = (f64::MAX, f64::MAX);
        for _ in 0..40 {
            let t = Instant::now();
            assert_eq!(std::hint::black_box(kwire()), 1_000_000);
            best_kw = best_kw.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            assert_eq!(std::hint::black_box(kp()), 1_000_000);
            best_kp = best_kp.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{codec:6}: kwire {:6.2} M rec/s, kafka-protocol {:6.2} M rec/s, ratio {:.2}",
            1e4 / best_kw / 1e6,
            1e4 / best_kp / 1e6,
            best_kp / best_kw
        );
    }
}

#[inline(never)]
fn kwire_decode_once(all: &Bytes, o: &DecodeOptions) -> usize {
    let mut n = 0usize;
    for batch in batches(all.clone(), o) {
        for rec in batch.unwrap().records().unwrap() {
            n += rec.unwrap().value.map_or(0, <[u8]>::len);
        }
    }
    n
}

#[inline(never)]
fn kp_decode_once(all: &Bytes) -> usize {
    let mut buf = all.clone();
    let sets = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut buf).unwrap();
    sets.iter().flat_map(|s| &s.records).map(|r| r.value.as_ref().map_or(0, |v| v.len())).sum::<usize>()
}

/// For `valgrind --tool=callgrind --toggle-collect=…decode_once…`: a
/// deterministic instruction count per record, immune to a busy machine.
#[test]
#[ignore = "for callgrind"]
fn decode_instruction_counts() {
    let value = [b'x'; 100];
    let mut bld = RecordBatchBuilder::new(BatchOptions::default());
    let mut all = BytesMut::new();
    for _ in 0..10 {
        for i in 0..1000 {
            bld.append(1_700_000_000_000 + i, None, Some(&value), &[]).unwrap();
        }
        all.extend_from_slice(bld.finish().unwrap().bytes());
    }
    let all = all.freeze();
    for _ in 0..3 {
        assert_eq!(kwire_decode_once(&all, &opts()), 1_000_000);
        assert_eq!(kwire_decode_once(&all, &opts().verify_crc(false)), 1_000_000);
        assert_eq!(kp_decode_once(&all), 1_000_000);
    }
}

#[inline(never)]
fn kwire_encode_once(b: &mut RecordBatchBuilder, value: &[u8]) -> usize {
    for i in 0..1000 {
        b.append(1_700_000_000_000 + i, None, Some(value), &[]).unwrap();
    }
    b.finish().unwrap().len()
}

/// For callgrind: instructions per encoded record.
#[test]
#[ignore = "for callgrind"]
fn encode_instruction_counts() {
    let value = [b'x'; 100];
    let mut b = RecordBatchBuilder::new(BatchOptions::default());
    for _ in 0..5 {
        assert!(kwire_encode_once(&mut b, &value) > 100_000);
    }
}

#[inline(never)]
fn kp_encode_once(recs: &[kafka_protocol::records::Record]) -> usize {
    let mut buf = BytesMut::with_capacity(128 * 1024);
    kafka_protocol::records::RecordBatchEncoder::encode(
        &mut buf,
        recs,
        &kafka_protocol::records::RecordEncodeOptions {
            version: 2,
            compression: kafka_protocol::records::Compression::None,
        },
    )
    .unwrap();
    buf.len()
}

/// For callgrind: kafka-protocol's encoder on the same records.
#[test]
#[ignore = "for callgrind"]
fn kp_encode_instruction_counts() {
    let recs: Vec<_> = (0..1000)
        .map(|i| kafka_protocol::records::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: kafka_protocol::records::TimestampType::Creation,
            offset: i,
            sequence: -1 + i as i32,
            timestamp: 1_700_000_000_000 + i,
            key: None,
            value: Some(Bytes::from_static(&[b'x'; 100])),
            headers: Default::default(),
        })
        .collect();
    for _ in 0..5 {
        assert!(kp_encode_once(&recs) > 100_000);
    }
}
