//! The fetcher's settings: [`FetchConfig`] with Kafka's consumer defaults,
//! where a new partition starts ([`StartOffset`]) and what an out-of-range
//! position does ([`OffsetReset`]).

use std::time::Duration;

use kwire_proto::props::{Properties, PropsError};

use crate::IsolationLevel;

/// What to do when a position is out of range (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// Jump to the log start.
    Earliest,
    /// Jump to the log end.
    #[default]
    Latest,
    /// Report an error for the partition.
    None,
}

/// Where a newly assigned partition starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    /// Log start.
    Earliest,
    /// Log end (only new records).
    Latest,
    /// An absolute offset (out of range → the reset policy).
    Offset(i64),
    /// `n` records before the log end (clamped at the log start).
    FromEnd(i64),
    /// The first record at or after a time (ms since epoch).
    Timestamp(i64),
}

/// Fetcher settings, with Kafka's consumer defaults.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// `fetch.max.wait.ms`.
    pub max_wait: Duration,
    /// `fetch.min.bytes`.
    pub min_bytes: i32,
    /// `fetch.max.bytes`.
    pub max_bytes: i32,
    /// `max.partition.fetch.bytes`.
    pub max_partition_bytes: i32,
    /// `isolation.level`.
    pub isolation: IsolationLevel,
    /// `check.crcs`.
    pub check_crcs: bool,
    /// `auto.offset.reset`.
    pub reset: OffsetReset,
    /// Use incremental fetch sessions (KIP-227).
    pub sessions: bool,
    /// Largest decompressed batch accepted.
    pub max_decompressed: usize,
    /// Fetch responses buffered ahead of the application, per fetcher.
    pub prefetch: usize,
    /// `client.rack` (for rack-aware fetching, Fetch v11+).
    pub rack: String,
    /// Fail a partition (a [`FetchEvent::Error`](crate::FetchEvent::Error)) when its fetches have kept
    /// failing (disconnects, timeouts) for this long since it was assigned or
    /// last fetched successfully. `None` (the default) retries forever, like
    /// Kafka's consumer; `kwire consume` sets the request timeout.
    pub give_up_after: Option<Duration>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 52_428_800,
            max_partition_bytes: 1_048_576,
            isolation: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            reset: OffsetReset::Latest,
            sessions: true,
            // 64 MiB: a batch inflating past it is a decompression bomb, and
            // the cap bounds the memory one hostile fetch can cost.
            max_decompressed: kwire_proto::records::compression::DEFAULT_MAX_DECOMPRESSED,
            prefetch: 4,
            rack: String::new(),
            give_up_after: None,
        }
    }
}

impl FetchConfig {
    /// Reads Kafka's consumer property names from `props`: `fetch.max.wait.ms`,
    /// `fetch.min.bytes`, `fetch.max.bytes`, `max.partition.fetch.bytes`,
    /// `isolation.level`, `check.crcs`, `auto.offset.reset`, `client.rack`.
    pub fn apply_props(&mut self, props: &Properties) -> Result<(), PropsError> {
        if let Some(d) = props.get_ms("fetch.max.wait.ms")? {
            self.max_wait = d;
        }
        if let Some(n) = props.get_uint::<i32>("fetch.min.bytes")? {
            self.min_bytes = n;
        }
        if let Some(n) = props.get_uint::<i32>("fetch.max.bytes")? {
            self.max_bytes = n.max(1);
        }
        if let Some(n) = props.get_uint::<i32>("max.partition.fetch.bytes")? {
            self.max_partition_bytes = n.max(1);
        }
        if let Some(l) = props.get_with("isolation.level", IsolationLevel::parse)? {
            self.isolation = l;
        }
        if let Some(b) = props.get_bool("check.crcs")? {
            self.check_crcs = b;
        }
        if let Some(r) = props.get_with("auto.offset.reset", |v| match v.to_ascii_lowercase().as_str() {
            "earliest" => Ok(OffsetReset::Earliest),
            "latest" => Ok(OffsetReset::Latest),
            "none" => Ok(OffsetReset::None),
            _ => Err("expected earliest, latest or none".to_owned()),
        })? {
            self.reset = r;
        }
        if let Some(r) = props.get("client.rack") {
            self.rack = r.to_owned();
        }
        Ok(())
    }
}
