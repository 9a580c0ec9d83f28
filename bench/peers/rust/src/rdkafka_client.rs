//! rdkafka (librdkafka, built from its vendored source): `ThreadedProducer`
//! with a delivery callback (librdkafka's own model: no future per record),
//! `BaseConsumer` polled from a plain thread.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::common::{
    Codec, ConsumeArgs, ConsumeOut, E2eArgs, E2eOut, GroupArgs, Payload, ProduceArgs, ProduceOut, Tally, due,
    e2e_sent_ns, now_ns,
};

const META_TIMEOUT: Duration = Duration::from_secs(30);

/// Delivery callback state: counts, the last acknowledgement, and (with
/// --rate) the hand-off to acknowledgement time of each record, whose
/// hand-off time (ns since start) travels as the delivery opaque.
#[derive(Default)]
struct Deliveries {
    acked: AtomicU64,
    failed: AtomicU64,
    last_ack_ns: AtomicU64,
    latencies: Option<Mutex<Vec<u64>>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        let now = now_ns();
        match result {
            Ok(_) => {
                if let Some(l) = &self.latencies {
                    if let Ok(mut l) = l.lock() {
                        l.push(now.saturating_sub(sent_ns as u64));
                    }
                }
                self.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.last_ack_ns.fetch_max(now, Ordering::Relaxed);
    }
}

impl Deliveries {
    fn done(&self) -> u64 {
        self.acked.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
}

fn producer_config(bootstrap: &str, idempotence: bool, linger_ms: u64, codec: Codec) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", if idempotence { "true" } else { "false" })
        .set("linger.ms", linger_ms.to_string())
        .set("batch.size", "1000000")
        .set("max.in.flight.requests.per.connection", "5")
        .set("compression.type", codec.name())
        // Never block on memory at these sizes (librdkafka's maxima).
        .set("queue.buffering.max.kbytes", "2147483647")
        .set("queue.buffering.max.messages", "2147483647");
    c
}

/// Hands a record to librdkafka, waiting out a full queue (never at these
/// settings); false if it was refused.
fn send(p: &ThreadedProducer<Deliveries>, topic: &str, value: &[u8], opaque: usize) -> bool {
    let mut rec = BaseRecord::<(), [u8], usize>::with_opaque_to(topic, opaque).payload(value);
    loop {
        match p.send(rec) {
            Ok(()) => return true,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                rec = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(_) => return false,
        }
    }
}

fn wait_all(p: &ThreadedProducer<Deliveries>, sent: u64) -> Result<()> {
    p.flush(Timeout::Never).context("flush")?;
    // The polling thread runs the callbacks; wait until it has run them all.
    while p.context().done() < sent {
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(())
}

fn partitions(consumer: &BaseConsumer, topic: &str) -> Result<Vec<i32>> {
    let md = consumer.fetch_metadata(Some(topic), META_TIMEOUT).context("metadata")?;
    let t = md.topics().iter().find(|t| t.name() == topic).ok_or_else(|| anyhow!("topic {topic} not found"))?;
    if let Some(e) = t.error() {
        bail!("topic {topic}: {e:?}");
    }
    let parts: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    if parts.is_empty() {
        bail!("topic {topic} has no partitions");
    }
    Ok(parts)
}

pub fn produce(a: &ProduceArgs) -> Result<ProduceOut> {
    let ctx = Deliveries { latencies: a.rate.map(|_| Mutex::new(Vec::new())), ..Deliveries::default() };
    let producer: ThreadedProducer<Deliveries> =
        producer_config(&a.bootstrap, a.idempotence, a.linger_ms, a.compression)
            .create_with_context(ctx)
            .context("creating the producer")?;
    // Metadata before the clock starts.
    producer.client().fetch_metadata(Some(&a.topic), META_TIMEOUT).context("metadata")?;
    let config = format!(
        "ThreadedProducer + ProducerContext::delivery callback (no future per record); acks=all \
         enable.idempotence={} linger.ms={} batch.size=1000000 batch.num.messages=10000 (default) \
         max.in.flight.requests.per.connection=5 compression.type={} queue.buffering.max.kbytes=2147483647 \
         queue.buffering.max.messages=2147483647 partitioner=consistent_random (default; sticky for null keys, \
         sticky.partitioning.linger.ms=10)",
        a.idempotence,
        a.linger_ms,
        a.compression.name()
    );
    let payload = Payload::new();
    let mut buf = Vec::with_capacity(a.size);
    let mut refused = 0u64;
    let t0 = Instant::now();
    let t0_ns = now_ns();
    for i in 0..a.records {
        if let Some(rate) = a.rate {
            let at = due(t0, i, rate);
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
        }
        payload.fill(i, a.size, &mut buf);
        if !send(&producer, &a.topic, &buf, now_ns() as usize) {
            refused += 1;
        }
    }
    wait_all(&producer, a.records - refused)?;
    let ctx = producer.context();
    let last = ctx.last_ack_ns.load(Ordering::Relaxed);
    let latencies = match &ctx.latencies {
        Some(l) => Some(std::mem::take(&mut *l.lock().map_err(|_| anyhow!("poisoned"))?)),
        None => None,
    };
    Ok(ProduceOut {
        seconds: last.saturating_sub(t0_ns) as f64 / 1e9,
        errors: refused + ctx.failed.load(Ordering::Relaxed),
        latencies_ns: latencies,
        notes: None,
        config,
    })
}

fn plain_consumer(bootstrap: &str) -> Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        // librdkafka's assign() needs a group.id (rd_kafka_assign goes through
        // the consumer-group handle) even though no group is joined.
        .set("group.id", "peerbench-assign")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_uncommitted")
        .create()
        .context("creating the consumer")
}

pub fn consume(a: &ConsumeArgs) -> Result<ConsumeOut> {
    let consumer = plain_consumer(&a.bootstrap)?;
    let parts = partitions(&consumer, &a.topic)?;
    let mut tpl = TopicPartitionList::new();
    for p in parts {
        tpl.add_partition_offset(&a.topic, p, Offset::Beginning)?;
    }
    let t0 = Instant::now();
    consumer.assign(&tpl)?;
    let mut tally = Tally::default();
    while tally.records < a.records {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => tally.add(m.payload()),
            Some(Err(e)) => bail!("consume: {e}"),
            None => {}
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    Ok(ConsumeOut {
        tally,
        seconds,
        join_ms: None,
        config: "BaseConsumer::poll loop on one thread, assign every partition at OFFSET_BEGINNING (group.id set, as librdkafka's assign() needs one, but no subscribe/join); \
                 default fetch settings (fetch.wait.max.ms=500 fetch.min.bytes=1 fetch.max.bytes=52428800 \
                 max.partition.fetch.bytes=1048576 queued.min.messages=100000 queued.max.messages.kbytes=65536) \
                 isolation.level=read_uncommitted enable.auto.commit=false"
            .to_owned(),
    })
}

pub fn group(a: &GroupArgs) -> Result<ConsumeOut> {
    let t0 = Instant::now();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &a.bootstrap)
        .set("group.id", &a.group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .context("creating the consumer")?;
    consumer.subscribe(&[&a.topic])?;
    let mut tally = Tally::default();
    let mut join_ms = None;
    while tally.records < a.records {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if join_ms.is_none() {
                    join_ms = Some(t0.elapsed().as_secs_f64() * 1e3);
                }
                tally.add(m.payload());
            }
            Some(Err(e)) => bail!("consume: {e}"),
            None => {}
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    // Dropping the consumer closes it: LeaveGroup, then the handle goes.
    consumer.unsubscribe();
    drop(consumer);
    Ok(ConsumeOut {
        tally,
        seconds,
        join_ms,
        config: "BaseConsumer subscribe + poll loop; group.protocol=classic (default), \
                 partition.assignment.strategy=range,roundrobin (default), auto.offset.reset=earliest, \
                 enable.auto.commit=false, default fetch settings"
            .to_owned(),
    })
}

pub fn e2e(a: &E2eArgs) -> Result<E2eOut> {
    let producer: ThreadedProducer<Deliveries> = producer_config(&a.bootstrap, true, 0, Codec::None)
        .create_with_context(Deliveries::default())
        .context("creating the producer")?;
    let consumer = plain_consumer(&a.bootstrap)?;
    let parts = partitions(&consumer, &a.topic)?;
    let mut tpl = TopicPartitionList::new();
    for p in parts {
        // Latest offsets, captured before producing.
        let (_, high) = consumer.fetch_watermarks(&a.topic, p, META_TIMEOUT)?;
        tpl.add_partition_offset(&a.topic, p, Offset::Offset(high))?;
    }
    consumer.assign(&tpl)?;
    let n = a.records;
    let consumer = Arc::new(consumer);
    let reader = {
        let consumer = Arc::clone(&consumer);
        std::thread::spawn(move || -> Result<Vec<u64>> {
            let mut lat = Vec::with_capacity(n as usize);
            while (lat.len() as u64) < n {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => {
                        let now = now_ns();
                        lat.push(now.saturating_sub(e2e_sent_ns(m.payload())?));
                    }
                    Some(Err(e)) => bail!("consume: {e}"),
                    None => {}
                }
            }
            Ok(lat)
        })
    };
    let payload = Payload::new();
    let mut buf = Vec::with_capacity(a.size);
    let mut refused = 0u64;
    let start = Instant::now();
    for i in 0..n {
        let at = due(start, i, a.rate);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        payload.fill_e2e(i, now_ns(), a.size, &mut buf);
        if !send(&producer, &a.topic, &buf, 0) {
            refused += 1;
        }
    }
    wait_all(&producer, n - refused)?;
    let failed = refused + producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        bail!("{failed} records failed");
    }
    let lat = reader.join().map_err(|_| anyhow!("consumer thread panicked"))??;
    Ok(E2eOut {
        latencies_ns: lat,
        notes: None,
        config: "ThreadedProducer linger.ms=0 acks=all enable.idempotence=true (other settings default) + \
                 BaseConsumer assigned at the high watermarks, default fetch settings, \
                 isolation.level=read_uncommitted"
            .to_owned(),
    })
}
