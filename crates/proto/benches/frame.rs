//! Frame encode/decode throughput.

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kwire_proto::frame::{FrameDecoder, encode_frame};
use std::hint::black_box;

fn frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    for &size in &[64usize, 1024, 64 * 1024] {
        let body = vec![0xabu8; size];
        let n = (4 * 1024 * 1024 / size).max(16);
        let mut wire = BytesMut::new();
        for _ in 0..n {
            encode_frame(&mut wire, &body);
        }
        let wire = wire.freeze();
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_with_input(BenchmarkId::new("encode", size), &body, |b, body| {
            b.iter(|| {
                let mut out = BytesMut::with_capacity(wire.len());
                for _ in 0..n {
                    encode_frame(&mut out, black_box(body));
                }
                out
            })
        });
        g.bench_with_input(BenchmarkId::new("decode", size), &wire, |b, wire| {
            let d = FrameDecoder::default();
            b.iter(|| {
                let mut buf = BytesMut::from(&wire[..]);
                let mut count = 0;
                while let Some(f) = d.decode(&mut buf).unwrap() {
                    count += f.len();
                }
                count
            })
        });
    }
    g.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
