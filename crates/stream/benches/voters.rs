//! rows/s of the guide's query: parse a JSON voter value + group by (gender,
//! party) + count, over 1M synthetic records in one batch (single thread).
//!
//! `cargo bench -p kwire-stream --bench voters`

use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kwire_stream::{Engine, OutputMode, Plan, QuerySpec, SourceRecord};

const N: usize = 1_000_000;

fn voters() -> Vec<Vec<u8>> {
    let genders = ["M", "F"];
    let parties = ["Democrat", "Republican", "Independent", "Green", "Libertarian"];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..N)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let g = genders[(x % 2) as usize];
            let p = parties[((x >> 8) % 5) as usize];
            let age = 18 + (x >> 16) % 80;
            format!(r#"{{"gender": "{g}", "age": {age}, "party": "{p}"}}"#).into_bytes()
        })
        .collect()
}

fn spec(mode: OutputMode) -> QuerySpec {
    QuerySpec {
        schema: Some("gender STRING, age LONG, party STRING".into()),
        group_by: vec!["gender".into(), "party".into()],
        output_mode: mode,
        ..QuerySpec::default()
    }
}

fn records(values: &[Vec<u8>]) -> impl Iterator<Item = SourceRecord<'_>> {
    values.iter().enumerate().map(|(i, v)| SourceRecord {
        key: None,
        value: Some(v),
        topic: "voters",
        partition: 0,
        offset: i as i64,
        timestamp_ms: 1_700_000_000_000 + i as i64,
        timestamp_type: 0,
        headers: &[],
    })
}

/// This thread's CPU time (Linux), so that a busy machine does not distort
/// the per-core figure.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn bench(c: &mut Criterion) {
    let values = voters();
    let bytes: usize = values.iter().map(Vec::len).sum();

    // one plain measurement, printed for reports
    let plan = Plan::new(&spec(OutputMode::Complete)).expect("plan");
    for _ in 0..3 {
        let mut engine = Engine::new(plan.clone());
        let cpu0 = thread_cpu_ns();
        let t = Instant::now();
        let out = engine.run_batch(0, 0, records(&values)).expect("batch");
        let el = t.elapsed().as_secs_f64();
        let cpu = thread_cpu_ns().zip(cpu0).map(|(b, a)| (b - a) as f64 / 1e9);
        println!(
            "grouped count: {N} rows ({:.1} MB) in {:.1} ms wall = {:.2} M rows/s{}, {} groups",
            bytes as f64 / 1e6,
            el * 1e3,
            N as f64 / el / 1e6,
            cpu.map(|c| format!(" ({:.1} ms on CPU = {:.2} M rows/s per core)", c * 1e3, N as f64 / c / 1e6))
                .unwrap_or_default(),
            out.rows.len()
        );
    }

    let mut g = c.benchmark_group("voters");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("parse+group_by(gender,party)+count", |b| {
        b.iter(|| {
            let mut e = Engine::new(plan.clone());
            e.run_batch(0, 0, records(&values)).expect("batch")
        })
    });
    let plan_avg = Plan::new(&QuerySpec {
        aggs: vec!["count".into(), "avg(age)".into(), "max(age)".into()],
        filter: Some("age >= 21".into()),
        ..spec(OutputMode::Complete)
    })
    .expect("plan");
    g.bench_function("parse+where+group_by+count,avg,max", |b| {
        b.iter(|| {
            let mut e = Engine::new(plan_avg.clone());
            e.run_batch(0, 0, records(&values)).expect("batch")
        })
    });
    let plan_window = Plan::new(&QuerySpec {
        window: Some("timestamp, 1 minute".into()),
        watermark: Some("10 seconds".into()),
        ..spec(OutputMode::Update)
    })
    .expect("plan");
    g.bench_function("parse+window(1 minute)+group_by+count", |b| {
        b.iter(|| {
            let mut e = Engine::new(plan_window.clone());
            e.run_batch(0, 0, records(&values)).expect("batch")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
