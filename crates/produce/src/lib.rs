//! kwire-produce: an asynchronous Kafka producer as safe as Kafka's Java
//! client — acks 0/1/all, idempotence on by default (producer id, sequence
//! numbers, epoch bumps), batching with `linger.ms`/`batch.size`, every codec,
//! retries with backoff bounded by `delivery.timeout.ms`, bounded memory
//! (`buffer.memory`) with back-pressure, and a future per record.
//!
//! The protocol lives in a sans-IO core — the accumulator (batches), the
//! sequence/epoch manager (which batch may go, with which producer id, epoch
//! and sequence, and what every response means) and the request planner —
//! with no tokio types, tested on a virtual clock against a simulated broker
//! that applies Kafka's producer-state rules. [`Producer`] drives it with one
//! tokio task that only moves bytes and delivers outcomes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use kwire_meta::{Cluster, ClusterConfig};
//! use kwire_produce::{Acks, Producer, ProducerConfig, ProducerRecord};
//!
//! let cfg = ProducerConfig::builder().acks(Acks::All).linger(Duration::from_millis(10)).build()?;
//! let producer = Producer::new(Cluster::new(ClusterConfig::default()), cfg).await?;
//! let meta = producer.send_and_wait(ProducerRecord::new("voters", b"{}").key(b"alice")).await?;
//! println!("partition {} offset {}", meta.partition, meta.offset);
//! producer.close().await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo, clippy::unimplemented)]

mod accumulator;
mod batch;
mod config;
mod engine;
#[cfg(any(test, feature = "sim"))]
mod engine_tests;
mod error;
mod partitioner;
mod planner;
mod producer;
mod sequence;
#[cfg(any(test, feature = "sim"))]
mod sim;
mod txn;
mod txn_io;
#[cfg(test)]
mod txn_sim_tests;

pub use config::{Acks, PartitionerKind, ProducerConfig, ProducerConfigBuilder};
pub use error::ProduceError;
pub use kwire_proto::TopicPartition;
pub use kwire_proto::msg::txn::TxnGroupMetadata;
pub use kwire_proto::records::{Compression, Header};
pub use producer::{DeliveryFuture, Producer, ProducerRecord, RecordMetadata};

/// Runs the producer core against the simulated cluster on a fault
/// schedule chosen by `data` (fault rates, then every step's choices),
/// panicking on a broken invariant: every acknowledged record in the log
/// once, log order = send order per partition, nothing written twice,
/// nothing reported not-written in the log, one report per record.
/// For the `produce_sim` fuzz target.
#[cfg(feature = "sim")]
#[doc(hidden)]
pub fn sim_fuzz(data: &[u8]) {
    engine_tests::run_bytes(data)
}
