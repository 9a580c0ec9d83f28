//! kwire-produce: an asynchronous Kafka producer as safe as Kafka's Java
//! client — acks 0/1/all, idempotence on by default (producer id, sequence
//! numbers, epoch bumps), batching with `linger.ms`/`batch.size`, every codec,
//! retries with backoff bounded by `delivery.timeout.ms`, bounded memory
//! (`buffer.memory`) with back-pressure, and a future per record.
//!
//! The state machine lives in a sans-IO core (`engine`), unit-tested on a
//! virtual clock; [`Producer`] drives it with one tokio task.
#![warn(missing_docs)]

mod config;
mod engine;
mod error;
mod partitioner;
mod producer;

pub use config::{Acks, PartitionerKind, ProducerConfig};
pub use error::ProduceError;
pub use kwire_proto::records::{Compression, Header};
pub use producer::{DeliveryFuture, Producer, ProducerRecord, RecordMetadata};
