//! `kwire perf produce|consume`: Kafka's producer and consumer perf tests,
//! with the same summary lines so results compare side by side.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kwire_fetch::{
    FetchConfig, FetchEvent, Fetcher, IsolationLevel, OffsetSpec, StartOffset, TopicPartition, list_offsets,
};
use kwire_meta::Cluster;
use kwire_produce::{DeliveryFuture, Producer, ProducerConfig, ProducerRecord};
use tokio::sync::mpsc;

use crate::args::format::Format;
use crate::args::perf::{PerfArgs, PerfConsumeArgs, PerfProduceArgs, PerfWhat};
use crate::cmd::generate::Rng;
use crate::config::ClientSettings;

pub async fn run(settings: &ClientSettings, a: PerfArgs) -> Result<ExitCode> {
    match a.what {
        PerfWhat::Produce(p) => produce(settings, p).await,
        PerfWhat::Consume(c) => consume(settings, c).await,
    }
}

const MB: f64 = 1024.0 * 1024.0;

/// Latency statistics for one reporting window or the whole run.
struct Stats {
    count: u64,
    bytes: u64,
    latency_sum: f64,
    latency_max: f64,
    start: Instant,
    samples: Vec<u32>,
    sample_every: u64,
}

impl Stats {
    fn new(start: Instant, total: u64) -> Self {
        let sample_every = (total / total.clamp(1, 500_000)).max(1);
        Stats {
            count: 0,
            bytes: 0,
            latency_sum: 0.0,
            latency_max: 0.0,
            start,
            samples: Vec::new(),
            sample_every,
        }
    }

    fn record(&mut self, latency_ms: f64, bytes: u64, sample: bool) {
        self.count += 1;
        self.bytes += bytes;
        self.latency_sum += latency_ms;
        self.latency_max = self.latency_max.max(latency_ms);
        if sample && self.count.is_multiple_of(self.sample_every) {
            self.samples.push(latency_ms as u32);
        }
    }

    fn rates(&self, now: Instant) -> (f64, f64, f64) {
        let secs = now.duration_since(self.start).as_secs_f64().max(1e-9);
        let avg = if self.count == 0 { 0.0 } else { self.latency_sum / self.count as f64 };
        (self.count as f64 / secs, self.bytes as f64 / MB / secs, avg)
    }
}

async fn produce(settings: &ClientSettings, a: PerfProduceArgs) -> Result<ExitCode> {
    let json_out = a.format == Format::Json;
    if a.num_records == 0 {
        bail!("--num-records must be at least 1");
    }
    let mut props = settings.with_flag_props("--producer-property", &a.producer_properties)?;
    // ProducerPerformance's rules: an id alone commits every 3 s, a duration
    // alone uses a default id.
    let txn_id = a.transactional_id.clone().or_else(|| {
        a.transaction_duration_ms.map(|_| "performance-producer-default-transactional-id".to_owned())
    });
    if let Some(id) = &txn_id {
        props.set("transactional.id", id.clone());
    }
    let mut cfg = ProducerConfig::default();
    cfg.apply_props(&props)?;
    settings.mark_used(&props);
    let txn_every = cfg
        .transactional_id
        .as_ref()
        .map(|_| Duration::from_millis(a.transaction_duration_ms.unwrap_or(3000)));
    let producer = Producer::new(Cluster::new(settings.cluster.clone()), cfg).await?;

    // Same payload as Java's test: random uppercase letters, reused.
    let mut rng = Rng::new(0x5eed);
    let payload: Vec<u8> = (0..a.record_size).map(|_| b'A' + (rng.next_u64() % 26) as u8).collect();
    let total = a.num_records;
    let size = a.record_size as u64;
    let start = Instant::now();

    let (tx, mut rx) = mpsc::channel::<Vec<(DeliveryFuture, Instant)>>(1024);
    let tty = std::io::stderr().is_terminal();
    let collector = tokio::spawn(async move {
        let mut all = Stats::new(start, total);
        let mut window = Stats::new(start, total);
        let mut failed: u64 = 0;
        let mut first_error = None;
        let report_every = Duration::from_secs(5);
        while let Some(chunk) = rx.recv().await {
            for (f, sent) in chunk {
                let r = f.wait().await;
                let now = Instant::now();
                match r {
                    Ok(_) => {
                        let lat = now.duration_since(sent).as_secs_f64() * 1000.0;
                        all.record(lat, size, true);
                        window.record(lat, size, false);
                    }
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert(e);
                    }
                }
                if now.duration_since(window.start) >= report_every && json_out {
                    window = Stats::new(now, total);
                } else if now.duration_since(window.start) >= report_every {
                    let (rps, mbps, avg) = window.rates(now);
                    if tty {
                        eprint!("\r\x1b[K");
                    }
                    println!(
                        "{} records sent, {rps:.1} records/sec ({mbps:.2} MB/sec), {avg:.1} ms avg latency, {:.1} ms max latency.",
                        window.count, window.latency_max
                    );
                    window = Stats::new(now, total);
                } else if tty && all.count.is_multiple_of(50_000) {
                    eprint!("\r\x1b[K{} / {total} records acknowledged", all.count);
                }
            }
        }
        if tty {
            eprint!("\r\x1b[K");
        }
        (all, failed, first_error)
    });

    let throttle = (a.throughput > 0.0).then_some(a.throughput);
    let mut chunk = Vec::with_capacity(1024);
    let mut txn_start = Instant::now();
    if txn_every.is_some() {
        producer.begin_transaction()?;
    }
    for i in 0..total {
        if let Some(every) = txn_every
            && txn_start.elapsed() >= every
        {
            producer.commit_transaction().await.context("commit")?;
            producer.begin_transaction()?;
            txn_start = Instant::now();
        }
        let rec = ProducerRecord { topic: &a.topic, value: Some(&payload), ..Default::default() };
        let sent = Instant::now();
        let f = producer.send(rec).await?;
        chunk.push((f, sent));
        if chunk.len() == 1024 {
            if tx.send(std::mem::take(&mut chunk)).await.is_err() {
                break;
            }
            chunk.reserve(1024);
        }
        if let Some(rate) = throttle {
            let due = start + Duration::from_secs_f64((i + 1) as f64 / rate);
            let now = Instant::now();
            if due > now + Duration::from_millis(2) {
                tokio::time::sleep(due - now).await;
            }
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(chunk).await;
    }
    drop(tx);
    if txn_every.is_some() {
        producer.commit_transaction().await.context("commit")?;
    }
    producer.close().await?;
    let (mut all, failed, first_error) = collector.await.context("collector")?;
    let end = Instant::now();
    let (rps, mbps, avg) = all.rates(end);
    all.samples.sort_unstable();
    let pct = |p: f64| -> u32 {
        if all.samples.is_empty() {
            return 0;
        }
        let i = ((all.samples.len() as f64 * p) as usize).min(all.samples.len() - 1);
        all.samples[i]
    };
    if json_out {
        println!(
            "{}",
            serde_json::json!({
                "records": all.count, "records_per_sec": rps, "mb_per_sec": mbps, "avg_latency_ms": avg,
                "max_latency_ms": all.latency_max, "p50_ms": pct(0.5), "p95_ms": pct(0.95),
                "p99_ms": pct(0.99), "p999_ms": pct(0.999), "failed": failed,
            })
        );
    } else {
        println!(
            "{} records sent, {rps:.6} records/sec ({mbps:.2} MB/sec), {avg:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
            all.count,
            all.latency_max,
            pct(0.5),
            pct(0.95),
            pct(0.99),
            pct(0.999)
        );
    }
    std::io::stdout().flush().ok();
    if failed > 0 {
        bail!(
            "{failed} of {total} records failed (first error: {})",
            first_error.map(|e| e.to_string()).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn java_time(t: std::time::SystemTime) -> String {
    // Java's ConsumerPerformance prints yyyy-MM-dd HH:mm:ss:SSS (UTC here).
    let ms = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let iso = kwire_cli::spec::format_timestamp(ms); // 2024-05-01T10:00:00.250Z
    format!("{} {}:{}", &iso[..10], &iso[11..19], &iso[20..23])
}

async fn consume(settings: &ClientSettings, a: PerfConsumeArgs) -> Result<ExitCode> {
    let props = settings.with_flag_props("--consumer-property", &a.consumer_properties)?;
    let mut cfg = FetchConfig::default();
    cfg.apply_props(&props)?;
    settings.mark_used(&props);
    let start_wall = std::time::SystemTime::now();
    let start = Instant::now();
    let cluster = Cluster::new(settings.cluster.clone());
    let topic = cluster.topic(&a.topic).await.with_context(|| format!("topic '{}'", a.topic))?;
    let tps: Vec<TopicPartition> =
        topic.partitions.iter().map(|p| TopicPartition::new(a.topic.clone(), p.partition)).collect();
    let starts: BTreeMap<TopicPartition, i64> =
        list_offsets(&cluster, &tps, OffsetSpec::Earliest, IsolationLevel::ReadUncommitted)
            .await?
            .into_iter()
            .map(|(tp, o)| (tp, o.offset))
            .collect();
    let mut fetcher = Fetcher::start(cluster, cfg);
    fetcher.assign(tps.iter().map(|tp| (tp.clone(), StartOffset::Offset(starts[tp]))).collect())?;
    let setup = start.elapsed();
    let fetch_start = Instant::now();
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut last_record = Instant::now();
    let idle = Duration::from_millis(a.timeout);
    while count < a.messages {
        let ev = tokio::select! {
            ev = fetcher.next() => ev,
            _ = tokio::time::sleep_until((last_record + idle).into()) => {
                bail!("no record for {} ms after {count} of {} records (--timeout)", a.timeout, a.messages);
            }
        };
        match ev {
            Some(FetchEvent::Records(chunk)) => {
                chunk.for_each_record(|_, rec| {
                    if count >= a.messages {
                        return ControlFlow::Break(());
                    }
                    count += 1;
                    bytes += rec.value.map_or(0, |v| v.len() as u64) + rec.key.map_or(0, |k| k.len() as u64);
                    ControlFlow::Continue(())
                })?;
                last_record = Instant::now();
            }
            Some(FetchEvent::Error { tp, error }) => bail!("{tp}: {error}"),
            Some(FetchEvent::Reset { .. }) => {}
            None => bail!("the fetcher stopped"),
        }
    }
    let end_wall = std::time::SystemTime::now();
    let total = start.elapsed().as_secs_f64();
    let fetch = fetch_start.elapsed().as_secs_f64();
    let mb = bytes as f64 / MB;
    if a.format == Format::Json {
        println!(
            "{}",
            serde_json::json!({
                "start_time": java_time(start_wall), "end_time": java_time(end_wall), "mb": mb,
                "mb_per_sec": mb / total, "records": count, "records_per_sec": count as f64 / total,
                "rebalance_time_ms": setup.as_millis() as u64, "fetch_time_ms": (fetch * 1000.0) as u64,
                "fetch_mb_per_sec": mb / fetch.max(1e-9), "fetch_records_per_sec": count as f64 / fetch.max(1e-9),
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !a.hide_header {
        println!(
            "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
        );
    }
    println!(
        "{}, {}, {mb:.4}, {:.4}, {count}, {:.4}, {}, {}, {:.4}, {:.4}",
        java_time(start_wall),
        java_time(end_wall),
        mb / total,
        count as f64 / total,
        setup.as_millis(),
        (fetch * 1000.0) as u64,
        mb / fetch.max(1e-9),
        count as f64 / fetch.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
