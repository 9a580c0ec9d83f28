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

/// Fetcher settings, with Kafka's consumer defaults. Build one with typed
/// setters ([`FetchConfig::builder`]) or from Kafka's property names
/// ([`FetchConfig::apply_props`]); both reach the same fields and are checked
/// the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// `max.poll.records`: the most records one `poll` of the owned-record
    /// consumers ([`Consumer::poll`](crate::Consumer::poll), the group
    /// consumer's `poll`) returns. The zero-copy [`Fetcher`](crate::Fetcher) ignores it.
    pub max_poll_records: usize,
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
            max_poll_records: 500,
        }
    }
}

/// Typed settings for a [`FetchConfig`]; [`build`](Self::build) checks them
/// as [`FetchConfig::apply_props`] does.
///
/// ```
/// use std::time::Duration;
/// use kwire_fetch::{FetchConfig, IsolationLevel, OffsetReset};
/// let cfg = FetchConfig::builder()
///     .max_wait(Duration::from_millis(100))
///     .isolation(IsolationLevel::ReadCommitted)
///     .reset(OffsetReset::Earliest)
///     .build()
///     .unwrap();
/// assert_eq!(cfg.max_poll_records, 500);
/// assert!(FetchConfig::builder().max_poll_records(0).build().is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct FetchConfigBuilder {
    cfg: FetchConfig,
}

impl FetchConfigBuilder {
    /// `fetch.max.wait.ms`: how long the broker may hold a fetch waiting for `min_bytes`.
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.cfg.max_wait = d;
        self
    }
    /// `fetch.min.bytes`.
    pub fn min_bytes(mut self, bytes: i32) -> Self {
        self.cfg.min_bytes = bytes;
        self
    }
    /// `fetch.max.bytes`: per fetch response.
    pub fn max_bytes(mut self, bytes: i32) -> Self {
        self.cfg.max_bytes = bytes;
        self
    }
    /// `max.partition.fetch.bytes`: per partition in a fetch response.
    pub fn max_partition_bytes(mut self, bytes: i32) -> Self {
        self.cfg.max_partition_bytes = bytes;
        self
    }
    /// `isolation.level`.
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.cfg.isolation = level;
        self
    }
    /// `check.crcs`.
    pub fn check_crcs(mut self, on: bool) -> Self {
        self.cfg.check_crcs = on;
        self
    }
    /// `auto.offset.reset`: what an out-of-range position does.
    pub fn reset(mut self, reset: OffsetReset) -> Self {
        self.cfg.reset = reset;
        self
    }
    /// Incremental fetch sessions (KIP-227), on by default.
    pub fn sessions(mut self, on: bool) -> Self {
        self.cfg.sessions = on;
        self
    }
    /// Largest decompressed batch accepted (bytes).
    pub fn max_decompressed(mut self, bytes: usize) -> Self {
        self.cfg.max_decompressed = bytes;
        self
    }
    /// Fetch responses buffered ahead of the application.
    pub fn prefetch(mut self, responses: usize) -> Self {
        self.cfg.prefetch = responses;
        self
    }
    /// `client.rack`.
    pub fn rack(mut self, rack: impl Into<String>) -> Self {
        self.cfg.rack = rack.into();
        self
    }
    /// Fail a partition whose fetches kept failing this long (default: retry forever).
    pub fn give_up_after(mut self, d: Option<Duration>) -> Self {
        self.cfg.give_up_after = d;
        self
    }
    /// `max.poll.records`.
    pub fn max_poll_records(mut self, n: usize) -> Self {
        self.cfg.max_poll_records = n;
        self
    }
    /// Kafka property names on top of what was set so far.
    pub fn properties(mut self, props: &Properties) -> Result<Self, PropsError> {
        self.cfg.apply_props(props)?;
        Ok(self)
    }
    /// Checks the settings and returns the config.
    pub fn build(self) -> Result<FetchConfig, PropsError> {
        self.cfg.validate()?;
        Ok(self.cfg)
    }
}

impl FetchConfig {
    /// The property names [`apply_props`](Self::apply_props) reads.
    pub const PROPERTIES: &'static [&'static str] = &[
        "fetch.max.wait.ms",
        "fetch.min.bytes",
        "fetch.max.bytes",
        "max.partition.fetch.bytes",
        "isolation.level",
        "check.crcs",
        "auto.offset.reset",
        "client.rack",
        "max.poll.records",
    ];

    /// Typed settings, starting from Kafka's defaults.
    pub fn builder() -> FetchConfigBuilder {
        FetchConfigBuilder::default()
    }

    /// Reads Kafka's consumer property names from `props`: `fetch.max.wait.ms`,
    /// `fetch.min.bytes`, `fetch.max.bytes`, `max.partition.fetch.bytes`,
    /// `isolation.level`, `check.crcs`, `auto.offset.reset`, `client.rack`,
    /// `max.poll.records` (the list is [`FetchConfig::PROPERTIES`]).
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
        if let Some(n) = props.get_with("max.poll.records", |v| match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err("expected a positive number of records".to_owned()),
        })? {
            self.max_poll_records = n;
        }
        Ok(())
    }

    /// Checks what a typed setter may have set out of range (the property
    /// names are checked as they are read).
    pub fn validate(&self) -> Result<(), PropsError> {
        let fail = |m: &str| Err(PropsError::Invalid(m.to_owned()));
        if self.min_bytes < 0 {
            return fail("fetch.min.bytes must not be negative");
        }
        if self.max_bytes < 1 {
            return fail("fetch.max.bytes must be at least 1");
        }
        if self.max_partition_bytes < 1 {
            return fail("max.partition.fetch.bytes must be at least 1");
        }
        if i32::try_from(self.max_wait.as_millis()).is_err() {
            return fail("fetch.max.wait.ms must fit in 32-bit milliseconds");
        }
        if self.max_poll_records == 0 {
            return fail("max.poll.records must be at least 1");
        }
        if self.prefetch == 0 {
            return fail("prefetch must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_properties_reach_the_same_config() {
        let mut p = Properties::new();
        for (k, v) in [
            ("fetch.max.wait.ms", "100"),
            ("fetch.min.bytes", "10"),
            ("fetch.max.bytes", "1000000"),
            ("max.partition.fetch.bytes", "65536"),
            ("isolation.level", "read_committed"),
            ("check.crcs", "false"),
            ("auto.offset.reset", "earliest"),
            ("client.rack", "r1"),
            ("max.poll.records", "42"),
        ] {
            p.set(k, v);
        }
        let from_props = FetchConfig::builder().properties(&p).unwrap().build().unwrap();
        // Every listed key was read, and nothing else.
        assert!(p.unused().is_empty(), "{:?}", p.unused());
        let mut used = p.used_keys();
        used.sort();
        let mut listed: Vec<&str> = FetchConfig::PROPERTIES.to_vec();
        listed.sort();
        assert_eq!(used, listed);

        let typed = FetchConfig::builder()
            .max_wait(Duration::from_millis(100))
            .min_bytes(10)
            .max_bytes(1_000_000)
            .max_partition_bytes(65_536)
            .isolation(IsolationLevel::ReadCommitted)
            .check_crcs(false)
            .reset(OffsetReset::Earliest)
            .rack("r1")
            .max_poll_records(42)
            .build()
            .unwrap();
        assert_eq!(typed, from_props);
        assert_ne!(typed, FetchConfig::default());
    }

    #[test]
    fn bad_values_are_refused_either_way() {
        let mut p = Properties::new();
        p.set("max.poll.records", "0");
        let e = FetchConfig::default().apply_props(&p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value '0' for max.poll.records: expected a positive number of records"
        );
        let e = FetchConfig::builder().max_bytes(0).build().unwrap_err();
        assert_eq!(e.to_string(), "fetch.max.bytes must be at least 1");
        assert!(FetchConfig::builder().min_bytes(-1).build().is_err());
        assert!(FetchConfig::builder().max_wait(Duration::from_secs(u64::MAX / 4)).build().is_err());
    }
}
