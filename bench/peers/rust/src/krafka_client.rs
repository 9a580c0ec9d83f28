//! krafka 0.28: one `Kafka` handle per process; `Producer::enqueue` with the
//! `DeliveryHandle`s collected in a `FuturesUnordered` (krafka's documented
//! pipelining pattern), `consumer_without_group` + `assign`, `consumer(group)`
//! + `subscribe`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use krafka::consumer::{AutoOffsetReset, Consumer, IsolationLevel};
use krafka::producer::{Acks, Producer};
use krafka::{Compression, Kafka, Record};

use crate::common::{
    BoxFut, Codec, ConsumeArgs, ConsumeOut, E2eArgs, E2eOut, GroupArgs, Payload, ProduceArgs, ProduceOut, Tally,
    drain_ready, due, e2e_sent_ns, now_ns, rate_loop,
};

const BUFFER_MEMORY: usize = 1 << 30;
const POLL: Duration = Duration::from_millis(500);

async fn connect(bootstrap: &str) -> Result<Kafka> {
    Kafka::builder(bootstrap).connect().await.context("connecting")
}

fn codec(c: Codec) -> Compression {
    match c {
        Codec::None => Compression::None,
        Codec::Lz4 => Compression::Lz4,
        Codec::Zstd => Compression::Zstd,
    }
}

async fn producer(kafka: &Kafka, idempotence: bool, linger: Duration, c: Codec) -> Result<Producer> {
    kafka
        .producer()
        .acks(Acks::All)
        .idempotent(idempotence)
        .linger(linger)
        .batch_size(1_000_000)
        .compression(codec(c))
        .buffer_memory(BUFFER_MEMORY)
        .build()
        .await
        .context("building the producer")
}

pub async fn produce(a: &ProduceArgs) -> Result<ProduceOut> {
    let kafka = connect(&a.bootstrap).await?;
    let producer = producer(&kafka, a.idempotence, Duration::from_millis(a.linger_ms), a.compression).await?;
    // Metadata before the clock starts.
    producer.partitions_for(&a.topic).await?;
    let config = format!(
        "Producer::enqueue pipelined, DeliveryHandles in a FuturesUnordered; acks=all idempotent={} linger={}ms \
         batch_size=1000000 (also the sticky partitioner's switch size for null keys, KIP-794) \
         max in flight=5 per broker (fixed) compression={} buffer_memory=1GiB max_request_size=100MiB (default)",
        a.idempotence,
        a.linger_ms,
        a.compression.name()
    );
    let payload = Payload::new();
    let mut out = ProduceOut { config, ..ProduceOut::default() };
    if let Some(rate) = a.rate {
        let (topic, size, p, pl) = (a.topic.as_str(), a.size, &producer, &payload);
        let (lat, errors, seconds) = rate_loop(a.records, rate, move |i| -> BoxFut<'_, Result<BoxFut<'_, bool>>> {
            Box::pin(async move {
                let mut buf = Vec::with_capacity(size);
                pl.fill(i, size, &mut buf);
                let ack = p.enqueue(Record::new(topic, buf)).await?;
                Ok(Box::pin(async move { ack.await.is_ok() }) as BoxFut<'_, bool>)
            })
        })
        .await;
        out.latencies_ns = Some(lat);
        out.errors = errors;
        out.seconds = seconds;
    } else {
        let mut buf = Vec::with_capacity(a.size);
        let mut acks = FuturesUnordered::new();
        let mut errors = 0u64;
        let t0 = Instant::now();
        for i in 0..a.records {
            payload.fill(i, a.size, &mut buf);
            match producer.enqueue(Record::new(a.topic.as_str(), Bytes::copy_from_slice(&buf))).await {
                Ok(ack) => acks.push(ack),
                Err(_) => errors += 1,
            }
            // Take in what is acknowledged so far (the set stays small).
            drain_ready(&mut acks, |r| {
                if r.is_err() {
                    errors += 1;
                }
            })
            .await;
        }
        while let Some(r) = acks.next().await {
            if r.is_err() {
                errors += 1;
            }
        }
        out.seconds = t0.elapsed().as_secs_f64();
        out.errors = errors;
    }
    producer.close().await?;
    Ok(out)
}

async fn assigned(kafka: &Kafka, topic: &str) -> Result<(Consumer, Vec<i32>)> {
    let consumer = kafka
        .consumer_without_group()
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .isolation_level(IsolationLevel::ReadUncommitted)
        .enable_auto_commit(false)
        .build()
        .await
        .context("building the consumer")?;
    let md = consumer.fetch_metadata(Some(topic)).await?;
    let info = md.topics.iter().find(|t| t.name == topic).ok_or_else(|| anyhow!("topic {topic} not found"))?;
    let mut parts: Vec<i32> = info.partitions.keys().copied().collect();
    parts.sort_unstable();
    if parts.is_empty() {
        bail!("topic {topic} has no partitions");
    }
    Ok((consumer, parts))
}

pub async fn consume(a: &ConsumeArgs) -> Result<ConsumeOut> {
    let kafka = connect(&a.bootstrap).await?;
    let (consumer, parts) = assigned(&kafka, &a.topic).await?;
    let t0 = Instant::now();
    // New partitions start where auto_offset_reset says: earliest.
    consumer.assign(&a.topic, parts).await?;
    let mut tally = Tally::default();
    'poll: while tally.records < a.records {
        for rec in consumer.poll(POLL).await? {
            tally.add(rec.value.as_deref());
            if tally.records == a.records {
                break 'poll;
            }
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    consumer.close().await?;
    Ok(ConsumeOut {
        tally,
        seconds,
        join_ms: None,
        config: "consumer_without_group + assign every partition, auto_offset_reset=earliest, poll(500ms) loop; \
                 default fetch settings (fetch_max_wait=500ms fetch_min_bytes=1 fetch_max_bytes=50MiB \
                 max_partition_fetch_bytes=1MiB max_poll_records=500 max_buffered_records=500) \
                 isolation_level=read_uncommitted enable_auto_commit=false"
            .to_owned(),
    })
}

pub async fn group(a: &GroupArgs) -> Result<ConsumeOut> {
    let kafka = connect(&a.bootstrap).await?;
    let t0 = Instant::now();
    let consumer = kafka
        .consumer(a.group.as_str())
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .await
        .context("building the consumer")?;
    consumer.subscribe([a.topic.as_str()]).await?;
    let mut tally = Tally::default();
    let mut join_ms = None;
    'poll: while tally.records < a.records {
        for rec in consumer.poll(POLL).await? {
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
        config: "consumer(group) + subscribe, poll(500ms) loop; group_protocol=classic (default), \
                 assignors=range,cooperative-sticky (default), auto_offset_reset=earliest, enable_auto_commit=false, \
                 default fetch settings"
            .to_owned(),
    })
}

pub async fn e2e(a: &E2eArgs) -> Result<E2eOut> {
    // Two handles, two pools: on one shared handle the producer's requests
    // queue behind the consumer's long-poll fetch on the broker's one data
    // connection (a broker reads one request per connection at a time),
    // which krafka's performance guide explains; a second pool is a second
    // `Kafka`.
    let kafka = connect(&a.bootstrap).await?;
    let kafka_consumer = connect(&a.bootstrap).await?;
    let producer = producer(&kafka, true, Duration::ZERO, Codec::None).await?;
    let (consumer, parts) = assigned(&kafka_consumer, &a.topic).await?;
    consumer.assign(&a.topic, parts.clone()).await?;
    // Latest offsets, captured before producing.
    let mut ends = Vec::with_capacity(parts.len());
    for p in parts {
        let (_, high) = consumer.fetch_watermarks(&a.topic, p).await?;
        ends.push((p, high));
    }
    for (p, high) in ends {
        consumer.seek(&a.topic, p, high).await?;
    }
    let consumer = Arc::new(consumer);
    let n = a.records;
    let reader = {
        let consumer = Arc::clone(&consumer);
        tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n as usize);
            while (lat.len() as u64) < n {
                for rec in consumer.poll(POLL).await? {
                    let now = now_ns();
                    lat.push(now.saturating_sub(e2e_sent_ns(rec.value.as_deref())?));
                    if lat.len() as u64 == n {
                        break;
                    }
                }
            }
            anyhow::Ok(lat)
        })
    };
    let payload = Payload::new();
    let mut buf = Vec::with_capacity(a.size);
    let mut acks = FuturesUnordered::new();
    let mut errors = 0u64;
    let start = Instant::now();
    for i in 0..n {
        tokio::time::sleep_until(due(start, i, a.rate).into()).await;
        payload.fill_e2e(i, now_ns(), a.size, &mut buf);
        acks.push(producer.enqueue(Record::new(a.topic.as_str(), Bytes::copy_from_slice(&buf))).await?);
        drain_ready(&mut acks, |r| {
            if r.is_err() {
                errors += 1;
            }
        })
        .await;
    }
    while let Some(r) = acks.next().await {
        if r.is_err() {
            errors += 1;
        }
    }
    if errors > 0 {
        bail!("{errors} records failed");
    }
    let lat = reader.await.context("consumer task")??;
    producer.close().await?;
    consumer.close().await?;
    Ok(E2eOut {
        latencies_ns: lat,
        notes: Some(
            "producer and consumer on separate Kafka handles (connection pools): sharing one, produce requests wait \
             behind the consumer's 500 ms long-poll fetches on the one data connection per broker"
                .to_owned(),
        ),
        config: "Producer linger=0 acks=all idempotent=true (other settings default) on one Kafka handle + \
                 consumer_without_group on another, assigned and seeked to the high watermarks, poll(500ms), \
                 default fetch settings"
            .to_owned(),
    })
}
