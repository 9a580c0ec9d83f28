//! Group consumer settings, with Kafka's names and Java's defaults.

use std::time::Duration;

use kwire_fetch::{FetchConfig, OffsetReset};
use kwire_proto::props::{Properties, PropsError};

use crate::assignor::AssignorKind;

/// `group.protocol`: which rebalance protocol the member speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupProtocol {
    /// The classic protocol: JoinGroup / SyncGroup / Heartbeat, client-side assignors.
    #[default]
    Classic,
    /// KIP-848 (`consumer`): ConsumerGroupHeartbeat, server-side assignment (Kafka 4.0+).
    Consumer,
}

impl GroupProtocol {
    /// Parses `classic` / `consumer`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "classic" => Ok(GroupProtocol::Classic),
            "consumer" => Ok(GroupProtocol::Consumer),
            _ => Err("expected classic or consumer".to_owned()),
        }
    }
}

/// Settings of group membership and the group consumer.
///
/// ```
/// use kwire_group::{GroupConfig, GroupProtocol};
/// let mut cfg = GroupConfig::new("voters-app");
/// cfg.protocol = GroupProtocol::Consumer;
/// assert_eq!(cfg.session_timeout.as_millis(), 45_000);
/// ```
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.id`.
    pub group_id: String,
    /// `group.instance.id` (static membership).
    pub group_instance_id: Option<String>,
    /// `group.protocol`.
    pub protocol: GroupProtocol,
    /// `session.timeout.ms` (classic protocol; KIP-848 uses the broker's setting).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (classic protocol; KIP-848 uses the broker's).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms`: longest time between two polls before the
    /// member leaves the group; also the rebalance timeout.
    pub max_poll_interval: Duration,
    /// `partition.assignment.strategy` (classic protocol), in preference order.
    pub assignors: Vec<AssignorKind>,
    /// `group.remote.assignor` (KIP-848 server-side assignor, e.g. `uniform`, `range`).
    pub remote_assignor: Option<String>,
    /// `enable.auto.commit`.
    pub auto_commit: bool,
    /// `auto.commit.interval.ms`.
    pub auto_commit_interval: Duration,
    /// `enable.auto.offset.store`: when true, a chunk of records counts as
    /// processed once the application asks for the next event (like Java's
    /// auto-commit, which commits what the previous poll returned); when
    /// false, only offsets passed to `mark_processed` are committed.
    pub auto_offset_store: bool,
    /// `auto.offset.reset`: where to start when the group has no committed offset.
    pub auto_offset_reset: OffsetReset,
    /// `client.rack`.
    pub client_rack: Option<String>,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`.
    pub retry_backoff_max: Duration,
    /// `metadata.max.age.ms`: how often subscribed topics are checked for new partitions.
    pub metadata_max_age: Duration,
    /// `request.timeout.ms` for group requests (JoinGroup waits up to the rebalance timeout plus 5 s).
    pub request_timeout: Duration,
    /// Fetcher settings.
    pub fetch: FetchConfig,
}

impl GroupConfig {
    /// Defaults for `group_id` (Kafka's consumer defaults).
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupConfig {
            group_id: group_id.into(),
            group_instance_id: None,
            protocol: GroupProtocol::Classic,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            assignors: vec![AssignorKind::Range, AssignorKind::CooperativeSticky],
            remote_assignor: None,
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            auto_offset_store: true,
            auto_offset_reset: OffsetReset::Latest,
            client_rack: None,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            metadata_max_age: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            fetch: FetchConfig::default(),
        }
    }

    /// Reads Kafka's consumer property names: `group.instance.id`,
    /// `group.protocol`, `session.timeout.ms`, `heartbeat.interval.ms`,
    /// `max.poll.interval.ms`, `partition.assignment.strategy`,
    /// `group.remote.assignor`, `enable.auto.commit`, `auto.commit.interval.ms`,
    /// `enable.auto.offset.store`, `client.rack`, plus the fetcher's settings
    /// (`auto.offset.reset`, `fetch.*`, `isolation.level`, ...).
    pub fn apply_props(&mut self, props: &Properties) -> Result<(), PropsError> {
        self.fetch.apply_props(props)?;
        self.auto_offset_reset = self.fetch.reset;
        if let Some(id) = props.get("group.instance.id") {
            let id = id.trim();
            self.group_instance_id = (!id.is_empty()).then(|| id.to_owned());
        }
        if let Some(p) = props.get_with("group.protocol", GroupProtocol::parse)? {
            self.protocol = p;
        }
        let positive = |key: &str| -> Result<Option<Duration>, PropsError> {
            props.get_with(key, |v| match v.parse::<u64>() {
                Ok(n) if n > 0 => Ok(Duration::from_millis(n)),
                _ => Err("expected a positive number of milliseconds".to_owned()),
            })
        };
        if let Some(d) = positive("session.timeout.ms")? {
            self.session_timeout = d;
        }
        if let Some(d) = positive("heartbeat.interval.ms")? {
            self.heartbeat_interval = d;
        }
        if let Some(d) = positive("max.poll.interval.ms")? {
            self.max_poll_interval = d;
        }
        if let Some(d) = positive("auto.commit.interval.ms")? {
            self.auto_commit_interval = d;
        }
        if let Some(list) = props.get_with("partition.assignment.strategy", AssignorKind::parse_list)? {
            self.assignors = list;
        }
        if let Some(a) = props.get("group.remote.assignor") {
            let a = a.trim();
            self.remote_assignor = (!a.is_empty()).then(|| a.to_owned());
        }
        if let Some(b) = props.get_bool("enable.auto.commit")? {
            self.auto_commit = b;
        }
        if let Some(b) = props.get_bool("enable.auto.offset.store")? {
            self.auto_offset_store = b;
        }
        if let Some(r) = props.get("client.rack") {
            let r = r.trim();
            self.client_rack = (!r.is_empty()).then(|| r.to_owned());
        }
        if let Some(d) = props.get_ms("retry.backoff.ms")? {
            self.retry_backoff = d;
        }
        if let Some(d) = props.get_ms("retry.backoff.max.ms")? {
            self.retry_backoff_max = d;
        }
        if let Some(d) = positive("metadata.max.age.ms")? {
            self.metadata_max_age = d;
        }
        if let Some(d) = positive("request.timeout.ms")? {
            self.request_timeout = d;
        }
        Ok(())
    }

    /// Checks the settings against each other, as Kafka's client does.
    pub fn validate(&self) -> Result<(), String> {
        if self.group_id.trim().is_empty() {
            return Err("group.id must not be empty".to_owned());
        }
        if self.protocol == GroupProtocol::Classic {
            if self.heartbeat_interval >= self.session_timeout {
                return Err(format!(
                    "heartbeat.interval.ms ({}) must be lower than session.timeout.ms ({})",
                    self.heartbeat_interval.as_millis(),
                    self.session_timeout.as_millis()
                ));
            }
            if self.assignors.is_empty() {
                return Err("partition.assignment.strategy must name at least one assignor".to_owned());
            }
        }
        if i32::try_from(self.max_poll_interval.as_millis()).is_err()
            || i32::try_from(self.session_timeout.as_millis()).is_err()
        {
            return Err("timeouts must fit in 32-bit milliseconds".to_owned());
        }
        Ok(())
    }

    /// Exponential backoff for the `attempt`-th retry.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        self.retry_backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.retry_backoff_max.max(self.retry_backoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kafka_property_names() {
        let mut p = Properties::new();
        p.set("group.instance.id", "host-1");
        p.set("group.protocol", "CONSUMER");
        p.set("session.timeout.ms", "6000");
        p.set("heartbeat.interval.ms", "1000");
        p.set("partition.assignment.strategy", "org.apache.kafka.clients.consumer.RoundRobinAssignor");
        p.set("enable.auto.commit", "false");
        p.set("auto.offset.reset", "earliest");
        let mut c = GroupConfig::new("g");
        c.apply_props(&p).unwrap();
        assert_eq!(c.group_instance_id.as_deref(), Some("host-1"));
        assert_eq!(c.protocol, GroupProtocol::Consumer);
        assert_eq!(c.session_timeout, Duration::from_secs(6));
        assert_eq!(c.assignors, vec![AssignorKind::RoundRobin]);
        assert!(!c.auto_commit);
        assert_eq!(c.auto_offset_reset, OffsetReset::Earliest);
        c.validate().unwrap();
        let mut bad = Properties::new();
        bad.set("session.timeout.ms", "0");
        assert!(GroupConfig::new("g").apply_props(&bad).is_err());
        let mut bad = Properties::new();
        bad.set("partition.assignment.strategy", "sticky-ish");
        assert!(GroupConfig::new("g").apply_props(&bad).is_err());
        let mut c = GroupConfig::new("g");
        c.heartbeat_interval = c.session_timeout;
        assert!(c.validate().unwrap_err().contains("heartbeat.interval.ms"));
    }

    #[test]
    fn backoff_grows_and_caps() {
        let c = GroupConfig::new("g");
        assert_eq!(c.backoff(0), Duration::from_millis(100));
        assert_eq!(c.backoff(3), Duration::from_millis(800));
        assert_eq!(c.backoff(30), Duration::from_secs(1));
    }
}
