//! kwire-fetch: the partition fetcher under kwire's consumers and streams.
//!
//! - [`list_offsets`]: earliest, latest and by-timestamp offsets.
//! - [`Fetcher`]: a task that fetches assigned partitions from their leaders,
//!   one pipelined request per broker with an incremental fetch session,
//!   following leadership changes without losing or repeating records, and
//!   resetting out-of-range positions by policy.
//! - [`FetchedChunk::for_each_record`]: zero-copy iteration with
//!   `read_committed` filtering.
//! - [`Consumer`]: the simple API beside it — assign partitions from
//!   earliest, latest, an offset or a timestamp, and
//!   [`poll`](Consumer::poll) owned [`ConsumerRecord`]s (key, value and
//!   headers are `Bytes` slices of the fetched buffer, not copies).
//!
//! ```no_run
//! # async fn demo() -> Result<(), kwire_fetch::FetchError> {
//! use kwire_fetch::{Consumer, FetchConfig, StartOffset};
//! use kwire_meta::{Cluster, ClusterConfig};
//!
//! let cluster = Cluster::new(ClusterConfig::default());
//! let mut consumer = Consumer::start(cluster, FetchConfig::default())?;
//! consumer.assign_topics(&["voters"], StartOffset::Earliest).await?;
//! loop {
//!     for rec in consumer.poll().await? {
//!         println!("{}@{}: {:?}", rec.partition, rec.offset, rec.value_str());
//!     }
//! }
//! # }
//! ```
//!
//! The zero-copy path, for when every record's cost counts:
//!
//! Inside, the fetcher is a sans-IO core (positions, leader lookups, start
//! offsets and resets, fetch sessions, request planning; `src/core/`, tested
//! on a virtual clock and against a simulated cluster) and a tokio driver
//! (`src/fetcher.rs`) that only moves bytes between it and the brokers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kwire_fetch::FetchError> {
//! use kwire_fetch::{FetchConfig, FetchEvent, Fetcher, StartOffset, TopicPartition};
//! use kwire_meta::{Cluster, ClusterConfig};
//!
//! let cluster = Cluster::new(ClusterConfig::default());
//! let mut fetcher = Fetcher::start(cluster, FetchConfig::default());
//! fetcher.assign(vec![(TopicPartition::new("voters", 0), StartOffset::Earliest)])?;
//! while let Some(ev) = fetcher.next().await {
//!     if let FetchEvent::Records(chunk) = ev {
//!         chunk.for_each_record(|_batch, rec| {
//!             println!("{} {:?}", rec.offset, rec.value);
//!             std::ops::ControlFlow::Continue(())
//!         })?;
//!     }
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo, clippy::unimplemented)]

mod chunk;
mod config;
mod consumer;
mod core;
mod error;
mod event;
mod fetcher;
mod offsets;

pub use chunk::FetchedChunk;
pub use config::{FetchConfig, FetchConfigBuilder, OffsetReset, StartOffset};
pub use consumer::{Consumer, ConsumerRecord, PolledRecords, RecordBuffer};
pub use error::FetchError;
pub use event::FetchEvent;
pub use fetcher::Fetcher;
pub use offsets::{OffsetAnswer, OffsetQuery, OffsetSpec, list_offsets, query_offsets};

pub use kwire_proto::TopicPartition;

/// `isolation.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// Everything up to the high watermark, including aborted and open transactions.
    #[default]
    ReadUncommitted = 0,
    /// Only committed data, up to the last stable offset.
    ReadCommitted = 1,
}

impl IsolationLevel {
    /// Parses Kafka's names `read_uncommitted` / `read_committed`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read_uncommitted" => Ok(IsolationLevel::ReadUncommitted),
            "read_committed" => Ok(IsolationLevel::ReadCommitted),
            _ => Err("expected read_uncommitted or read_committed".to_owned()),
        }
    }
}

/// Runs the fetch core's simulation on a schedule chosen by `data` (fault
/// rates, config, then every step's choices), panicking on any violation of
/// its checks: records in offset order, each once, none lost once calm.
/// For the `fetch_sim` fuzz target.
#[cfg(feature = "sim")]
#[doc(hidden)]
pub fn sim_fuzz(data: &[u8]) {
    core::sim::run_bytes(data)
}
