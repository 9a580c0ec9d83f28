//! Record batch encode → decode round trip, every codec: whatever
//! `RecordBatchBuilder` accepts must decode (CRC checked) to exactly the
//! records and header fields that were encoded.
//!
//! Input: structured (`arbitrary`): options and a list of records.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use kwire_proto::records::{
    BatchOptions, Compression, DecodeOptions, Header, Record, RecordBatchBuilder, TimestampType, batches,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Rec {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    codec: u8,
    level: Option<i8>,
    log_append_time: bool,
    transactional: bool,
    control: bool,
    producer: Option<(i64, i16, i32)>,
    base_offset: i64,
    leader_epoch: i32,
    /// Small timestamp deltas (realistic) unless set.
    wide_timestamps: bool,
    records: Vec<Rec>,
}

fuzz_target!(|input: Input| {
    let codec = Compression::ALL[usize::from(input.codec) % Compression::ALL.len()];
    let mut opts = BatchOptions::default()
        .compression(codec)
        .compression_level(input.level.map(i32::from))
        .timestamp_type(if input.log_append_time {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        })
        .transactional(input.transactional)
        .control(input.control)
        .base_offset(input.base_offset)
        .partition_leader_epoch(input.leader_epoch);
    if let Some((id, epoch, seq)) = input.producer {
        opts = opts.producer(id, epoch, seq);
    }
    let records: Vec<Record> = input
        .records
        .iter()
        .map(|r| Record {
            timestamp: if input.wide_timestamps {
                r.timestamp
            } else {
                1_700_000_000_000 + (r.timestamp % 100_000)
            },
            key: r.key.clone().map(Bytes::from),
            value: r.value.clone().map(Bytes::from),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| Header::new(k.clone(), v.clone().map(Bytes::from)))
                .collect(),
        })
        .collect();

    let mut builder = RecordBatchBuilder::new(opts.clone());
    for r in &records {
        if builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers).is_err() {
            return; // the format can't hold it (e.g. a timestamp delta overflows)
        }
    }
    let Ok(encoded) = builder.finish() else { return };
    assert_eq!(encoded.record_count() as usize, records.len());
    assert_eq!(encoded.compression(), codec);

    let mut iter = batches(encoded.bytes().clone(), &DecodeOptions::default());
    let batch = match iter.next() {
        Some(Ok(b)) => b,
        other => panic!("encoded batch does not decode: {other:?} ({opts:?})"),
    };
    assert!(iter.next().is_none(), "one batch encoded, more decoded");
    assert_eq!(iter.incomplete(), None);

    let h = batch.header;
    let n = records.len() as i32;
    assert_eq!(h.magic, 2);
    assert_eq!(h.record_count, n);
    assert_eq!(h.last_offset_delta, n - 1);
    assert_eq!(h.base_offset, input.base_offset);
    assert_eq!(h.partition_leader_epoch, input.leader_epoch);
    assert_eq!(batch.compression(), codec);
    assert_eq!(batch.is_transactional(), input.transactional);
    assert_eq!(batch.is_control(), input.control);
    assert_eq!(h.timestamp_type(), opts.timestamp_type);
    if let Some((id, epoch, seq)) = input.producer {
        assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence), (id, epoch, seq));
    }
    let first_ts = records[0].timestamp;
    let max_ts = records.iter().map(|r| r.timestamp).max().unwrap_or(first_ts);
    assert_eq!(h.base_timestamp, first_ts);
    assert_eq!(h.max_timestamp, max_ts);

    let decoded: Vec<Record> = batch
        .records()
        .expect("records of an encoded batch")
        .map(|r| {
            let r = r.expect("record of an encoded batch");
            r.to_record()
        })
        .collect();
    assert_eq!(decoded.len(), records.len());
    for (i, (got, want)) in decoded.iter().zip(&records).enumerate() {
        let ts = if input.log_append_time { max_ts } else { want.timestamp };
        assert_eq!(got.timestamp, ts, "record {i} timestamp");
        assert_eq!(got.key, want.key, "record {i} key");
        assert_eq!(got.value, want.value, "record {i} value");
        assert_eq!(got.headers, want.headers, "record {i} headers");
    }
    // Offsets are consecutive from the base offset.
    for (i, r) in batch.records().expect("records").enumerate() {
        assert_eq!(r.expect("record").offset, input.base_offset + i as i64);
    }
});
