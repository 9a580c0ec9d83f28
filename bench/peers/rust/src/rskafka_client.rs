//! rskafka 0.6: a `PartitionClient` per partition. Produce goes through its
//! `BatchProducer` (its linger aggregator, the crate's documented batching
//! path) per partition, records round-robin over the partitions (rskafka has
//! no partitioner); consume merges one `StreamConsumer` per partition.
//! No idempotence (rskafka has no producer ids), no consumer groups.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use futures::stream::{self, FuturesUnordered, StreamExt};
use rskafka::client::consumer::{StartOffset, StreamConsumerBuilder};
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::producer::aggregator::RecordAggregator;
use rskafka::client::producer::{BatchProducer, BatchProducerBuilder};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;

use crate::common::{
    BoxFut, Codec, ConsumeArgs, ConsumeOut, E2eArgs, E2eOut, Payload, ProduceArgs, ProduceOut, Tally, drain_ready,
    due, e2e_sent_ns, now_ns, rate_loop,
};

/// rskafka's `RecordAggregator` caps its own estimate of a batch, which
/// undercounts the encoded size: at 1,000,000 the broker rejected batches as
/// `MessageTooLarge` (message.max.bytes 1,048,588), so it gets 500,000.
const MAX_BATCH: usize = 500_000;
const NOTES: &str = "rskafka cannot produce idempotently (no producer id / sequence numbers): produced without \
                     idempotence; it has no partitioner, so null-key records go round-robin over the partitions \
                     (record i to partition i mod P); no cap on requests in flight per partition; batches capped at 500000 \
                     bytes by its aggregator's estimate (at 1000000 the broker rejected them as MessageTooLarge)";

async fn connect(bootstrap: &str) -> Result<Client> {
    let brokers = bootstrap.split(',').map(str::to_owned).collect();
    ClientBuilder::new(brokers).build().await.context("connecting")
}

fn codec(c: Codec) -> Compression {
    match c {
        Codec::None => Compression::NoCompression,
        Codec::Lz4 => Compression::Lz4,
        Codec::Zstd => Compression::Zstd,
    }
}

/// One `PartitionClient` per partition of `topic` (metadata lookups).
async fn partition_clients(client: &Client, topic: &str) -> Result<Vec<Arc<PartitionClient>>> {
    let topics = client.list_topics().await?;
    let Some(t) = topics.iter().find(|t| t.name == topic) else { bail!("topic {topic} not found") };
    let mut parts: Vec<i32> = t.partitions.iter().copied().collect();
    parts.sort_unstable();
    if parts.is_empty() {
        bail!("topic {topic} has no partitions");
    }
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        out.push(Arc::new(client.partition_client(topic, p, UnknownTopicHandling::Retry).await?));
    }
    Ok(out)
}

fn batch_producers(
    parts: &[Arc<PartitionClient>],
    linger: Duration,
    c: Codec,
) -> Vec<BatchProducer<RecordAggregator>> {
    parts
        .iter()
        .map(|pc| {
            BatchProducerBuilder::new(Arc::clone(pc))
                .with_linger(linger)
                .with_compression(codec(c))
                .build(RecordAggregator::new(MAX_BATCH))
        })
        .collect()
}

#[inline]
fn record(value: Vec<u8>) -> Record {
    Record { key: None, value: Some(value), headers: BTreeMap::new(), timestamp: Utc::now() }
}

pub async fn produce(a: &ProduceArgs) -> Result<ProduceOut> {
    let client = connect(&a.bootstrap).await?;
    let parts = partition_clients(&client, &a.topic).await?;
    let producers = batch_producers(&parts, Duration::from_millis(a.linger_ms), a.compression);
    let np = producers.len() as u64;
    let config = format!(
        "BatchProducer (linger aggregator) per partition with RecordAggregator(max 500000 bytes), produce futures \
         in a FuturesUnordered; acks=all (fixed) idempotence=off (unsupported) linger={}ms compression={} \
         partitioning=round-robin",
        a.linger_ms,
        a.compression.name()
    );
    let payload = Payload::new();
    let mut out = ProduceOut { config, notes: Some(NOTES.to_owned()), ..ProduceOut::default() };
    if let Some(rate) = a.rate {
        let (size, pr, pl) = (a.size, &producers, &payload);
        let (lat, errors, seconds) = rate_loop(a.records, rate, move |i| -> BoxFut<'_, Result<BoxFut<'_, bool>>> {
            let mut buf = Vec::with_capacity(size);
            pl.fill(i, size, &mut buf);
            let p = &pr[(i % np) as usize];
            // The hand-off happens at the first poll of the produce future,
            // which the loop does right away.
            Box::pin(async move {
                Ok(Box::pin(async move { p.produce(record(buf)).await.is_ok() }) as BoxFut<'_, bool>)
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
            acks.push(producers[(i % np) as usize].produce(record(buf.clone())));
            // First poll (the hand-off to the aggregator) and what is done.
            drain_ready(&mut acks, |r| {
                if let Err(e) = r {
                    if errors == 0 {
                        eprintln!("peerbench rskafka produce: first error: {e}");
                    }
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
    for p in &producers {
        p.flush().await?;
    }
    Ok(out)
}

pub async fn consume(a: &ConsumeArgs) -> Result<ConsumeOut> {
    let client = connect(&a.bootstrap).await?;
    let parts = partition_clients(&client, &a.topic).await?;
    let t0 = Instant::now();
    let streams = parts.iter().map(|pc| StreamConsumerBuilder::new(Arc::clone(pc), StartOffset::Earliest).build());
    let mut merged = stream::select_all(streams);
    let mut tally = Tally::default();
    while tally.records < a.records {
        match merged.next().await {
            Some(Ok((r, _high_watermark))) => tally.add(r.record.value.as_deref()),
            Some(Err(e)) => bail!("consume: {e}"),
            None => bail!("the partition streams ended"),
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    Ok(ConsumeOut {
        tally,
        seconds,
        join_ms: None,
        config: "one StreamConsumer per partition from StartOffset::Earliest, merged with select_all; default \
                 settings (max_wait_ms=500 min_batch_size=1 max_batch_size=50MiB per partition); \
                 read_uncommitted (rskafka's only level), no group"
            .to_owned(),
    })
}

pub async fn e2e(a: &E2eArgs) -> Result<E2eOut> {
    // Two clients (two connections per broker): on one, the produce requests
    // queue behind the partition streams' long-poll fetches, as a broker reads
    // one request per connection at a time.
    let client = connect(&a.bootstrap).await?;
    let consumer_client = connect(&a.bootstrap).await?;
    let parts = partition_clients(&client, &a.topic).await?;
    let producers = batch_producers(&parts, Duration::ZERO, Codec::None);
    let np = producers.len() as u64;
    let consumer_parts = partition_clients(&consumer_client, &a.topic).await?;
    // Latest offsets, captured before producing.
    let mut streams = Vec::with_capacity(parts.len());
    for pc in &consumer_parts {
        let high = pc.get_offset(OffsetAt::Latest).await?;
        streams.push(StreamConsumerBuilder::new(Arc::clone(pc), StartOffset::At(high)).build());
    }
    let n = a.records;
    let reader = tokio::spawn(async move {
        let mut merged = stream::select_all(streams);
        let mut lat = Vec::with_capacity(n as usize);
        while (lat.len() as u64) < n {
            match merged.next().await {
                Some(Ok((r, _))) => {
                    let now = now_ns();
                    lat.push(now.saturating_sub(e2e_sent_ns(r.record.value.as_deref())?));
                }
                Some(Err(e)) => bail!("consume: {e}"),
                None => bail!("the partition streams ended"),
            }
        }
        anyhow::Ok(lat)
    });
    let payload = Payload::new();
    let mut buf = Vec::with_capacity(a.size);
    let mut acks = FuturesUnordered::new();
    let mut errors = 0u64;
    let start = Instant::now();
    for i in 0..n {
        tokio::time::sleep_until(due(start, i, a.rate).into()).await;
        payload.fill_e2e(i, now_ns(), a.size, &mut buf);
        acks.push(producers[(i % np) as usize].produce(record(buf.clone())));
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
    Ok(E2eOut {
        latencies_ns: lat,
        notes: Some(
            "rskafka has no idempotence: produced without; records round-robin over the partitions; producer and \
             consumer on separate Clients (sharing one, produce requests wait behind the 500 ms long-poll fetches \
             on the one connection per broker)"
                .to_owned(),
        ),
        config: "BatchProducer per partition with linger=0, RecordAggregator(max 500000 bytes), acks=all (fixed) on \
                 one Client + one StreamConsumer per partition from StartOffset::At(latest) on another Client, \
                 default settings"
            .to_owned(),
    })
}
