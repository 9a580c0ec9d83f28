//! Record batch throughput: encode per codec, decode kwire vs kafka-protocol
//! on the same bytes, and the raw codecs (pure Rust vs C) behind the choices
//! documented in `kwire_proto::records::compression`.
//!
//! Data: batches of 1000 records with 100-byte JSON-ish values (the voters
//! workload), no key, no headers. Run:
//! `cargo bench -p kwire-proto --bench records -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::io::{Read, Write};

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kafka_protocol::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KpTs,
};
use kwire_proto::records::{
    BatchOptions, Compression, DecodeOptions, RecordBatchBuilder, batches, compression,
};

const RECORDS: usize = 1000;
const BATCHES: usize = 10;

fn values() -> Vec<Vec<u8>> {
    let parties = ["Democratic", "Republican", "Green", "Libertarian", "Independent"];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..RECORDS)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut v = format!(
                "{{\"id\":{},\"gender\":\"{}\",\"age\":{},\"party\":\"{}\",\"zip\":\"{:05}\"}}",
                100_000 + i,
                if x & 1 == 0 { "M" } else { "F" },
                18 + (x >> 8) % 70,
                parties[((x >> 16) % 5) as usize],
                (x >> 24) % 100_000
            )
            .into_bytes();
            v.resize(100, b' ');
            v
        })
        .collect()
}

fn encode(builder: &mut RecordBatchBuilder, values: &[Vec<u8>]) -> Bytes {
    for (i, v) in values.iter().enumerate() {
        builder.append(1_700_000_000_000 + i as i64, None, Some(v), &[]).unwrap();
    }
    builder.finish().unwrap().into_bytes()
}

fn kp_codec(c: Compression) -> KpCompression {
    match c {
        Compression::None => KpCompression::None,
        Compression::Gzip => KpCompression::Gzip,
        Compression::Snappy => KpCompression::Snappy,
        Compression::Lz4 => KpCompression::Lz4,
        Compression::Zstd => KpCompression::Zstd,
    }
}

fn kp_records(values: &[Vec<u8>]) -> Vec<KpRecord> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| KpRecord {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: KpTs::Creation,
            offset: i as i64,
            sequence: -1 + i as i32,
            timestamp: 1_700_000_000_000 + i as i64,
            key: None,
            value: Some(Bytes::copy_from_slice(v)),
            headers: Default::default(),
        })
        .collect()
}

fn bench_encode(c: &mut Criterion) {
    let values = values();
    let mut g = c.benchmark_group("records_encode");
    g.throughput(Throughput::Elements(RECORDS as u64));
    for codec in Compression::ALL {
        let mut builder = RecordBatchBuilder::new(BatchOptions::default().compression(codec));
        g.bench_function(BenchmarkId::new("kwire", codec), |b| {
            b.iter(|| encode(&mut builder, black_box(&values)))
        });
    }
    let kp = kp_records(&values);
    for codec in [Compression::None, Compression::Lz4] {
        let opts = RecordEncodeOptions { version: 2, compression: kp_codec(codec) };
        g.bench_function(BenchmarkId::new("kafka-protocol", codec), |b| {
            b.iter(|| {
                let mut buf = BytesMut::with_capacity(128 * 1024);
                RecordBatchEncoder::encode(&mut buf, black_box(&kp), &opts).unwrap();
                buf
            })
        });
    }
    g.finish();
}

fn bench_decode(c: &mut Criterion) {
    let values = values();
    let mut g = c.benchmark_group("records_decode");
    g.throughput(Throughput::Elements((RECORDS * BATCHES) as u64));
    let opts = DecodeOptions::default();
    for codec in Compression::ALL {
        let mut builder = RecordBatchBuilder::new(BatchOptions::default().compression(codec));
        let mut all = BytesMut::new();
        for _ in 0..BATCHES {
            all.extend_from_slice(&encode(&mut builder, &values));
        }
        let all = all.freeze();
        // kwire: borrow key/value slices (what a parser needs).
        g.bench_with_input(BenchmarkId::new("kwire", codec), &all, |b, all| {
            b.iter(|| {
                let mut n = 0usize;
                for batch in batches(all.clone(), &opts) {
                    for rec in batch.unwrap().records().unwrap() {
                        let rec = rec.unwrap();
                        n += rec.value.map_or(0, <[u8]>::len) + rec.key.map_or(0, <[u8]>::len);
                    }
                }
                assert_eq!(n, RECORDS * BATCHES * 100);
                n
            })
        });
        // kwire, materialising key/value as `Bytes` like kafka-protocol does.
        g.bench_with_input(BenchmarkId::new("kwire-bytes", codec), &all, |b, all| {
            b.iter(|| {
                let mut n = 0usize;
                for batch in batches(all.clone(), &opts) {
                    for rec in batch.unwrap().records().unwrap() {
                        let rec = rec.unwrap();
                        let (k, v) = (rec.key_bytes(), rec.value_bytes());
                        n += v.map_or(0, |v| v.len()) + k.map_or(0, |k| k.len());
                    }
                }
                n
            })
        });
        g.bench_with_input(BenchmarkId::new("kafka-protocol", codec), &all, |b, all| {
            b.iter(|| {
                let mut buf = all.clone();
                let sets = RecordBatchDecoder::decode_all(&mut buf).unwrap();
                let mut n = 0usize;
                for s in &sets {
                    for r in &s.records {
                        n += r.value.as_ref().map_or(0, |v| v.len()) + r.key.as_ref().map_or(0, |k| k.len());
                    }
                }
                assert_eq!(n, RECORDS * BATCHES * 100);
                n
            })
        });
    }
    g.finish();
}

/// The raw codecs on one batch's records section (~108 KB).
fn bench_codecs(c: &mut Criterion) {
    let values = values();
    let mut builder = RecordBatchBuilder::new(BatchOptions::default());
    let section = encode(&mut builder, &values).slice(61..);
    let n = section.len();
    let mut g = c.benchmark_group("codecs");
    g.throughput(Throughput::Bytes(n as u64));
    let mut report = vec![];

    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        let mut z = BytesMut::new();
        compression::compress(codec, &section, None, &mut z).unwrap();
        report.push(format!("kwire {codec}: ratio {:.2}", n as f64 / z.len() as f64));
        g.bench_function(BenchmarkId::new("compress", format!("kwire-{codec}")), |b| {
            let mut out = BytesMut::new();
            b.iter(|| {
                out.clear();
                compression::compress(codec, black_box(&section), None, &mut out).unwrap();
                out.len()
            })
        });
        g.bench_function(BenchmarkId::new("decompress", format!("kwire-{codec}")), |b| {
            b.iter(|| compression::decompress(codec, black_box(&z), 64 << 20).unwrap().len())
        });
    }

    // ruzstd's own encoder ("Fastest", its only compressing level), which kwire used before its own.
    let z = ruzstd::encoding::compress_to_vec(&section[..], ruzstd::encoding::CompressionLevel::Fastest);
    report.push(format!("ruzstd Fastest: ratio {:.2}", n as f64 / z.len() as f64));
    g.bench_function(BenchmarkId::new("compress", "ruzstd-fastest"), |b| {
        b.iter(|| {
            ruzstd::encoding::compress_to_vec(
                black_box(&section[..]),
                ruzstd::encoding::CompressionLevel::Fastest,
            )
            .len()
        })
    });
    // miniz_oxide (flate2's other pure-Rust backend), raw deflate level 6.
    let z = miniz_oxide::deflate::compress_to_vec(&section, 6);
    report.push(format!("miniz_oxide deflate-6: ratio {:.2}", n as f64 / z.len() as f64));
    g.bench_function(BenchmarkId::new("compress", "miniz_oxide-deflate6"), |b| {
        b.iter(|| miniz_oxide::deflate::compress_to_vec(black_box(&section), 6).len())
    });
    g.bench_function(BenchmarkId::new("decompress", "miniz_oxide-deflate6"), |b| {
        b.iter(|| miniz_oxide::inflate::decompress_to_vec(black_box(&z)).unwrap().len())
    });

    // C liblz4 frame (64 KiB blocks), as kafka-protocol's lz4 feature uses.
    let lz4c = |data: &[u8]| {
        let mut e = lz4::EncoderBuilder::new().block_size(lz4::BlockSize::Max64KB).build(Vec::new()).unwrap();
        e.write_all(data).unwrap();
        let (v, r) = e.finish();
        r.unwrap();
        v
    };
    let z = lz4c(&section);
    report.push(format!("C lz4: ratio {:.2}", n as f64 / z.len() as f64));
    g.bench_function(BenchmarkId::new("compress", "c-lz4"), |b| b.iter(|| lz4c(black_box(&section)).len()));
    g.bench_function(BenchmarkId::new("decompress", "c-lz4"), |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(n);
            lz4::Decoder::new(black_box(&z[..])).unwrap().read_to_end(&mut out).unwrap();
            out.len()
        })
    });

    // C libzstd at Kafka's default level 3 (what `zstd-c` uses).
    let z = zstd::bulk::compress(&section, 3).unwrap();
    report.push(format!("C zstd-3: ratio {:.2}", n as f64 / z.len() as f64));
    g.bench_function(BenchmarkId::new("compress", "c-zstd3"), |b| {
        b.iter(|| zstd::bulk::compress(black_box(&section), 3).unwrap().len())
    });
    g.bench_function(BenchmarkId::new("decompress", "c-zstd3"), |b| {
        b.iter(|| zstd::bulk::decompress(black_box(&z), n).unwrap().len())
    });
    g.bench_function(BenchmarkId::new("decompress", "kwire-zstd-of-c-zstd3"), |b| {
        b.iter(|| compression::decompress(Compression::Zstd, black_box(&z), 64 << 20).unwrap().len())
    });
    g.finish();
    eprintln!("codec ratios on a {n}-byte records section: {}", report.join("; "));
}

criterion_group!(benches, bench_encode, bench_decode, bench_codecs);
criterion_main!(benches);
