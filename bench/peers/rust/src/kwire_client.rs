//! kwire, used as a library user would: `Client` → `Producer` with a typed
//! `ProducerConfig`, the assigned `Consumer`, the `GroupConsumer`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kwire::fetch::{FetchConfig, IsolationLevel, OffsetReset, StartOffset};
use kwire::group::GroupConfig;
use kwire::produce::{Acks, Compression, DeliveryFuture, Producer, ProducerConfig, ProducerRecord};
use kwire::proto::TopicPartition;

use crate::common::{
    BoxFut, Codec, ConsumeArgs, ConsumeOut, E2eArgs, E2eOut, GroupArgs, Payload, ProduceArgs, ProduceOut, Tally,
    due, e2e_sent_ns, now_ns, rate_loop,
};

const BUFFER_MEMORY: usize = 1 << 30;

fn client(bootstrap: &str) -> Result<kwire::Client> {
    Ok(kwire::Client::builder().bootstrap(bootstrap).build()?)
}

fn codec(c: Codec) -> Compression {
    match c {
        Codec::None => Compression::None,
        Codec::Lz4 => Compression::Lz4,
        Codec::Zstd => Compression::Zstd,
    }
}

/// Takes the acknowledged records off the front of `pending`, counting failures.
fn reap(pending: &mut VecDeque<DeliveryFuture>, errors: &mut u64) {
    while let Some(front) = pending.front() {
        match front.try_result() {
            Some(r) => {
                if r.is_err() {
                    *errors += 1;
                }
                pending.pop_front();
            }
            None => break,
        }
    }
}

pub async fn produce(a: &ProduceArgs) -> Result<ProduceOut> {
    let client = client(&a.bootstrap)?;
    let cfg = ProducerConfig::builder()
        .acks(Acks::All)
        .idempotence(a.idempotence)
        .linger(Duration::from_millis(a.linger_ms))
        .batch_size(1_000_000)
        .max_in_flight(5)
        .compression(codec(a.compression))
        .buffer_memory(BUFFER_MEMORY)
        .build()?;
    let config = format!(
        "Producer::send pipelined (DeliveryFuture per record); acks=all enable.idempotence={} linger.ms={} \
         batch.size=1000000 max.in.flight.requests.per.connection=5 compression.type={} buffer.memory=1GiB \
         partitioner=default (sticky for null keys, KIP-794)",
        a.idempotence,
        a.linger_ms,
        a.compression.name()
    );
    let producer = client.producer_with(cfg).await?;
    // Metadata before the clock starts, as every client does.
    client.cluster().topic(&a.topic).await?;
    let payload = Payload::new();
    let mut out = ProduceOut { config, ..ProduceOut::default() };
    if let Some(rate) = a.rate {
        let (topic, size, p, pl) = (a.topic.as_str(), a.size, &producer, &payload);
        let (lat, errors, seconds) = rate_loop(a.records, rate, move |i| -> BoxFut<'_, Result<BoxFut<'_, bool>>> {
            Box::pin(async move {
                let mut buf = Vec::with_capacity(size);
                pl.fill(i, size, &mut buf);
                let ack = p.send(ProducerRecord::new(topic, &buf)).await?;
                Ok(Box::pin(async move { ack.wait().await.is_ok() }) as BoxFut<'_, bool>)
            })
        })
        .await;
        out.latencies_ns = Some(lat);
        out.errors = errors;
        out.seconds = seconds;
    } else {
        let mut buf = Vec::with_capacity(a.size);
        let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
        let mut errors = 0u64;
        let t0 = Instant::now();
        for i in 0..a.records {
            payload.fill(i, a.size, &mut buf);
            match producer.send(ProducerRecord::new(&a.topic, &buf)).await {
                Ok(ack) => pending.push_back(ack),
                Err(_) => errors += 1,
            }
            reap(&mut pending, &mut errors);
        }
        for ack in pending {
            if ack.wait().await.is_err() {
                errors += 1;
            }
        }
        out.seconds = t0.elapsed().as_secs_f64();
        out.errors = errors;
    }
    producer.close().await?;
    Ok(out)
}

async fn partitions(client: &kwire::Client, topic: &str) -> Result<Vec<TopicPartition>> {
    let info = client.cluster().topic(topic).await?;
    if info.partitions.is_empty() {
        bail!("topic {topic} has no partitions");
    }
    Ok(info.partitions.iter().map(|p| TopicPartition::new(topic, p.partition)).collect())
}

pub async fn consume(a: &ConsumeArgs) -> Result<ConsumeOut> {
    let client = client(&a.bootstrap)?;
    let cfg = FetchConfig::builder().isolation(IsolationLevel::ReadUncommitted).build()?;
    let mut consumer = client.consumer_with(cfg)?;
    let parts = partitions(&client, &a.topic).await?;
    let t0 = Instant::now();
    consumer.assign(parts.into_iter().map(|tp| (tp, StartOffset::Earliest)).collect()).await?;
    let mut tally = Tally::default();
    'poll: while tally.records < a.records {
        for rec in consumer.poll().await? {
            tally.add(rec.value.as_deref());
            if tally.records == a.records {
                break 'poll;
            }
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    Ok(ConsumeOut {
        tally,
        seconds,
        join_ms: None,
        config: "kwire_fetch::Consumer (owned records), assign every partition at earliest; default fetch settings \
                 (fetch.max.wait.ms=500 fetch.min.bytes=1 fetch.max.bytes=50MiB max.partition.fetch.bytes=1MiB \
                 max.poll.records=500 prefetch=4 check.crcs=true) isolation.level=read_uncommitted, no group"
            .to_owned(),
    })
}

pub async fn group(a: &GroupArgs) -> Result<ConsumeOut> {
    let client = client(&a.bootstrap)?;
    let cfg = GroupConfig::builder(a.group.as_str())
        .auto_offset_reset(OffsetReset::Earliest)
        .auto_commit(false)
        .build()?;
    let t0 = Instant::now();
    let mut consumer = client.group_consumer_with(cfg, &[&a.topic])?;
    let mut tally = Tally::default();
    let mut join_ms = None;
    'poll: while tally.records < a.records {
        for rec in consumer.poll().await? {
            if join_ms.is_none() {
                join_ms = Some(t0.elapsed().as_secs_f64() * 1e3);
            }
            tally.add(rec.value.as_deref());
            if tally.records == a.records {
                break 'poll;
            }
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    consumer.close().await.context("leaving the group")?;
    Ok(ConsumeOut {
        tally,
        seconds,
        join_ms,
        config: "kwire_group::GroupConsumer subscribe; group.protocol=classic (default), \
                 partition.assignment.strategy=range,cooperative-sticky (default), auto.offset.reset=earliest, \
                 enable.auto.commit=false, default fetch settings"
            .to_owned(),
    })
}

pub async fn e2e(a: &E2eArgs) -> Result<E2eOut> {
    let client = client(&a.bootstrap)?;
    let cfg = ProducerConfig::builder()
        .acks(Acks::All)
        .idempotence(true)
        .linger(Duration::ZERO)
        .buffer_memory(BUFFER_MEMORY)
        .build()?;
    let producer: Producer = client.producer_with(cfg).await?;
    let mut consumer = client.consumer()?;
    // Latest offsets are looked up here, before anything is produced.
    consumer.assign_topics(&[&a.topic], StartOffset::Latest).await?;
    let n = a.records;
    let want_split = std::env::var_os("KWIRE_E2E_SPLIT").is_some();
    let reader = tokio::spawn(async move {
        let mut lat = Vec::with_capacity(n as usize);
        let mut arrivals = Vec::new();
        while (lat.len() as u64) < n {
            for rec in consumer.poll().await? {
                let now = now_ns();
                let sent = e2e_sent_ns(rec.value.as_deref())?;
                lat.push(now.saturating_sub(sent));
                if want_split {
                    arrivals.push((sent, now));
                }
                if lat.len() as u64 == n {
                    break;
                }
            }
        }
        anyhow::Ok((lat, arrivals))
    });
    let payload = Payload::new();
    let mut buf = Vec::with_capacity(a.size);
    let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
    let mut errors = 0u64;
    // KWIRE_E2E_SPLIT=1 (diagnosis only: a task per record): the latency
    // split into send → ack and ack → arrival, on stderr.
    let mut timed = Vec::new();
    let start = Instant::now();
    for i in 0..n {
        tokio::time::sleep_until(due(start, i, a.rate).into()).await;
        let sent = now_ns();
        payload.fill_e2e(i, sent, a.size, &mut buf);
        let fut = producer.send(ProducerRecord::new(&a.topic, &buf)).await?;
        if want_split {
            timed.push(tokio::spawn(async move { (sent, fut.wait().await.is_ok().then(now_ns)) }));
            continue;
        }
        pending.push_back(fut);
        reap(&mut pending, &mut errors);
    }
    for ack in pending {
        if ack.wait().await.is_err() {
            errors += 1;
        }
    }
    let mut acks = Vec::with_capacity(timed.len());
    for t in timed {
        match t.await.context("ack task")? {
            (sent, Some(acked)) => acks.push((sent, acked)),
            (_, None) => errors += 1,
        }
    }
    if errors > 0 {
        bail!("{errors} records failed");
    }
    let lat = reader.await.context("consumer task")??;
    producer.close().await?;
    if want_split {
        print_split(&acks, &lat.1);
    }
    let lat = lat.0;
    Ok(E2eOut {
        latencies_ns: lat,
        notes: None,
        config: "Producer linger.ms=0 acks=all enable.idempotence=true (other settings default) + \
                 kwire_fetch::Consumer assigned at latest offsets, default fetch settings"
            .to_owned(),
    })
}

/// `KWIRE_E2E_SPLIT`: where the time went, on stderr. Per record, send → ack
/// (the producer and the replication to the followers) and ack → arrival at
/// the consumer (its fetch), and when the first ack came: a new topic's
/// first acks=all write waits for the followers to start fetching the
/// partition, which is how this split found that the 3-node runs measured the
/// topic's creation, not the clients (peers.py now writes to every partition
/// before a client starts).
fn print_split(acks: &[(u64, u64)], arrivals: &[(u64, u64)]) {
    let ack_of: HashMap<u64, u64> = acks.iter().copied().collect();
    let mut to_ack: Vec<u64> = acks.iter().map(|&(s, a)| a.saturating_sub(s)).collect();
    let mut after: Vec<u64> =
        arrivals.iter().filter_map(|&(s, t)| ack_of.get(&s).map(|&a| t.saturating_sub(a))).collect();
    to_ack.sort_unstable();
    after.sort_unstable();
    let pct = |v: &[u64], q: f64| {
        let i = ((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1));
        v.get(i).copied().unwrap_or(0) as f64 / 1e6
    };
    let t0 = acks.iter().map(|x| x.0).min().unwrap_or(0);
    let first_ack = acks.iter().map(|x| x.1).min().unwrap_or(0).saturating_sub(t0) as f64 / 1e6;
    eprintln!(
        "split: send->ack p50 {:.2} p99 {:.2} p99.9 {:.2} ms | ack->arrival p50 {:.2} p99 {:.2} p99.9 {:.2} ms \
         (0 when it arrived first) | first ack {first_ack:.1} ms after the first send",
        pct(&to_ack, 0.5),
        pct(&to_ack, 0.99),
        pct(&to_ack, 0.999),
        pct(&after, 0.5),
        pct(&after, 0.99),
        pct(&after, 0.999),
    );
}
