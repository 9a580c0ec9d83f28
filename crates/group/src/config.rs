//! Group consumer settings, with Kafka's names and Java's defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use kwire_fetch::{FetchConfig, OffsetReset};
use kwire_proto::props::{Properties, PropsError};

use crate::assignor::{AssignorKind, CustomAssignorRef};

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

/// Settings of group membership and the group consumer, with Kafka's
/// consumer defaults. Build one with typed setters ([`GroupConfig::builder`])
/// or from Kafka's property names ([`GroupConfig::apply_props`]); both reach
/// the same fields and are checked the same way.
///
/// ```
/// use kwire_group::{GroupConfig, GroupProtocol};
/// let cfg = GroupConfig::builder("voters-app").protocol(GroupProtocol::Consumer).build().unwrap();
/// assert_eq!(cfg.session_timeout.as_millis(), 45_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// The application's own assignor (classic protocol), offered before
    /// `assignors`; with one, rebalancing is eager.
    pub custom_assignor: Option<CustomAssignorRef>,
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
    /// Per-topic `auto.offset.reset` overrides (Kafka Streams'
    /// `Consumed.withOffsetResetPolicy`): where a partition of that topic
    /// starts when the group has no committed offset for it.
    pub topic_offset_reset: BTreeMap<String, OffsetReset>,
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

/// Typed settings for a [`GroupConfig`]; [`build`](Self::build) checks them
/// as [`GroupConfig::validate`] does.
///
/// ```
/// use std::time::Duration;
/// use kwire_fetch::OffsetReset;
/// use kwire_group::GroupConfig;
/// let cfg = GroupConfig::builder("voters-app")
///     .auto_offset_reset(OffsetReset::Earliest)
///     .auto_commit(false)
///     .session_timeout(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// assert!(!cfg.auto_commit);
/// // Java's rule: the heartbeat must come more often than the session times out.
/// assert!(GroupConfig::builder("g").heartbeat_interval(Duration::from_secs(60)).build().is_err());
/// ```
#[derive(Debug, Clone)]
pub struct GroupConfigBuilder {
    cfg: GroupConfig,
}

impl GroupConfigBuilder {
    /// `group.instance.id` (static membership).
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.group_instance_id = Some(id.into());
        self
    }
    /// `group.protocol`.
    pub fn protocol(mut self, p: GroupProtocol) -> Self {
        self.cfg.protocol = p;
        self
    }
    /// `session.timeout.ms` (classic protocol).
    pub fn session_timeout(mut self, d: Duration) -> Self {
        self.cfg.session_timeout = d;
        self
    }
    /// `heartbeat.interval.ms` (classic protocol).
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.cfg.heartbeat_interval = d;
        self
    }
    /// `max.poll.interval.ms`.
    pub fn max_poll_interval(mut self, d: Duration) -> Self {
        self.cfg.max_poll_interval = d;
        self
    }
    /// `partition.assignment.strategy`, in preference order (classic protocol).
    pub fn assignors(mut self, list: Vec<AssignorKind>) -> Self {
        self.cfg.assignors = list;
        self
    }

    /// The application's own assignor (see [`CustomAssignor`](crate::CustomAssignor)).
    pub fn custom_assignor(mut self, a: CustomAssignorRef) -> Self {
        self.cfg.custom_assignor = Some(a);
        self
    }
    /// `group.remote.assignor` (KIP-848).
    pub fn remote_assignor(mut self, name: impl Into<String>) -> Self {
        self.cfg.remote_assignor = Some(name.into());
        self
    }
    /// `enable.auto.commit`.
    pub fn auto_commit(mut self, on: bool) -> Self {
        self.cfg.auto_commit = on;
        self
    }
    /// `auto.commit.interval.ms`.
    pub fn auto_commit_interval(mut self, d: Duration) -> Self {
        self.cfg.auto_commit_interval = d;
        self
    }
    /// `enable.auto.offset.store`.
    pub fn auto_offset_store(mut self, on: bool) -> Self {
        self.cfg.auto_offset_store = on;
        self
    }
    /// `auto.offset.reset`: where to start without a committed offset (and
    /// what an out-of-range position does).
    pub fn auto_offset_reset(mut self, r: OffsetReset) -> Self {
        self.cfg.auto_offset_reset = r;
        self.cfg.fetch.reset = r;
        self
    }
    /// `client.rack`.
    pub fn client_rack(mut self, rack: impl Into<String>) -> Self {
        let rack = rack.into();
        self.cfg.fetch.rack = rack.clone();
        self.cfg.client_rack = Some(rack);
        self
    }
    /// `retry.backoff.ms` and `retry.backoff.max.ms`.
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.cfg.retry_backoff = first;
        self.cfg.retry_backoff_max = max;
        self
    }
    /// `metadata.max.age.ms`.
    pub fn metadata_max_age(mut self, d: Duration) -> Self {
        self.cfg.metadata_max_age = d;
        self
    }
    /// `request.timeout.ms`.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.cfg.request_timeout = d;
        self
    }
    /// The fetcher's settings ([`FetchConfig::builder`]); its `reset` is
    /// replaced by this config's `auto.offset.reset`.
    pub fn fetch(mut self, fetch: FetchConfig) -> Self {
        self.cfg.fetch = fetch;
        self.cfg.fetch.reset = self.cfg.auto_offset_reset;
        self
    }
    /// Kafka property names on top of what was set so far.
    pub fn properties(mut self, props: &Properties) -> Result<Self, PropsError> {
        self.cfg.apply_props(props)?;
        Ok(self)
    }
    /// Checks the combination (Java's rules) and returns the config.
    pub fn build(self) -> Result<GroupConfig, PropsError> {
        self.cfg.fetch.validate()?;
        self.cfg.validate().map_err(PropsError::Invalid)?;
        Ok(self.cfg)
    }
}

impl GroupConfig {
    /// The property names [`apply_props`](Self::apply_props) reads besides
    /// the fetcher's ([`FetchConfig::PROPERTIES`]).
    pub const PROPERTIES: &'static [&'static str] = &[
        "group.instance.id",
        "group.protocol",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        "auto.commit.interval.ms",
        "partition.assignment.strategy",
        "group.remote.assignor",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "client.rack",
        "retry.backoff.ms",
        "retry.backoff.max.ms",
        "metadata.max.age.ms",
        "request.timeout.ms",
    ];

    /// Typed settings for `group_id`, starting from Kafka's defaults.
    pub fn builder(group_id: impl Into<String>) -> GroupConfigBuilder {
        GroupConfigBuilder { cfg: GroupConfig::new(group_id) }
    }

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
            custom_assignor: None,
            remote_assignor: None,
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            auto_offset_store: true,
            auto_offset_reset: OffsetReset::Latest,
            topic_offset_reset: BTreeMap::new(),
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
    /// `enable.auto.offset.store`, `client.rack`, ... ([`GroupConfig::PROPERTIES`]),
    /// plus the fetcher's settings (`auto.offset.reset`, `fetch.*`,
    /// `isolation.level`, `max.poll.records`, ...: [`FetchConfig::PROPERTIES`]).
    pub fn apply_props(&mut self, props: &Properties) -> Result<(), PropsError> {
        self.fetch.apply_props(props)?;
        if props.contains("auto.offset.reset") {
            self.auto_offset_reset = self.fetch.reset;
        }
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
            if self.assignors.is_empty() && self.custom_assignor.is_none() {
                return Err("partition.assignment.strategy must name at least one assignor".to_owned());
            }
        } else if let Some(c) = &self.custom_assignor {
            return Err(format!(
                "the client-side assignor '{}' needs group.protocol=classic (the consumer protocol assigns on the broker)",
                c.0.name()
            ));
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

    #[test]
    fn builder_and_properties_reach_the_same_config() {
        let mut p = Properties::new();
        for (k, v) in [
            ("group.instance.id", "host-1"),
            ("group.protocol", "consumer"),
            ("session.timeout.ms", "10000"),
            ("heartbeat.interval.ms", "1000"),
            ("max.poll.interval.ms", "60000"),
            ("auto.commit.interval.ms", "1000"),
            ("partition.assignment.strategy", "roundrobin"),
            ("group.remote.assignor", "uniform"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("client.rack", "r1"),
            ("retry.backoff.ms", "50"),
            ("retry.backoff.max.ms", "500"),
            ("metadata.max.age.ms", "1000"),
            ("request.timeout.ms", "5000"),
            ("auto.offset.reset", "earliest"),
            ("max.poll.records", "7"),
        ] {
            p.set(k, v);
        }
        let from_props = GroupConfig::builder("g").properties(&p).unwrap().build().unwrap();
        // Every listed key was read, and nothing else.
        assert!(p.unused().is_empty(), "{:?}", p.unused());
        let mut used = p.used_keys();
        used.sort();
        let mut listed: Vec<&str> = GroupConfig::PROPERTIES.to_vec();
        listed.extend(FetchConfig::PROPERTIES.iter().filter(|k| !GroupConfig::PROPERTIES.contains(k)));
        listed.retain(|k| p.contains(k));
        listed.sort();
        assert_eq!(used, listed);

        let typed = GroupConfig::builder("g")
            .fetch(FetchConfig::builder().rack("r1").max_poll_records(7).build().unwrap())
            .group_instance_id("host-1")
            .protocol(GroupProtocol::Consumer)
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_secs(1))
            .max_poll_interval(Duration::from_secs(60))
            .auto_commit_interval(Duration::from_secs(1))
            .assignors(vec![AssignorKind::RoundRobin])
            .remote_assignor("uniform")
            .auto_commit(false)
            .auto_offset_store(false)
            .client_rack("r1")
            .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
            .metadata_max_age(Duration::from_secs(1))
            .request_timeout(Duration::from_secs(5))
            .auto_offset_reset(OffsetReset::Earliest)
            .build()
            .unwrap();
        assert_eq!(typed, from_props);
        assert_ne!(typed, GroupConfig::new("g"));
    }

    #[test]
    fn properties_without_auto_offset_reset_keep_the_typed_one() {
        let mut p = Properties::new();
        p.set("enable.auto.commit", "false");
        let c = GroupConfig::builder("g")
            .auto_offset_reset(OffsetReset::Earliest)
            .properties(&p)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(c.auto_offset_reset, OffsetReset::Earliest);
        assert!(!c.auto_commit);
        let e = GroupConfig::builder(" ").build().unwrap_err();
        assert_eq!(e.to_string(), "group.id must not be empty");
    }
}
