//! kwire-produce: an asynchronous Kafka producer as safe as Kafka's Java
//! client — acks 0/1/all, idempotence on by default (producer id, sequence
//! numbers, epoch bumps), batching with `linger.ms`/`batch.size`, every codec,
//! retries with backoff bounded by `delivery.timeout.ms`, bounded memory
//! (`buffer.memory`) with back-pressure, and a future per record.
//!
//! The state machine lives in a sans-IO core (`engine`), unit-tested on a
//! virtual clock; [`Producer`] drives it with one tokio task.
#![warn(missing_docs)]

mod accumulator;
mod batch;
mod config;
mod engine;
#[cfg(test)]
mod engine_tests;
mod error;
mod partitioner;
mod planner;
mod producer;
mod sequence;
#[cfg(test)]
mod sim;

pub use config::{Acks, PartitionerKind, ProducerConfig, ProducerConfigBuilder};
pub use error::ProduceError;
pub use kwire_proto::records::{Compression, Header};
pub use producer::{DeliveryFuture, Producer, ProducerRecord, RecordMetadata};
