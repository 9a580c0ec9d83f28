//! Producer settings, under Kafka's property names.

use std::time::Duration;

use kwire_proto::props::{Properties, PropsError};
use kwire_proto::records::Compression;

use crate::ProduceError;

/// `acks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// 0: don't wait for the broker.
    None,
    /// 1: the leader wrote it.
    Leader,
    /// all / -1: every in-sync replica has it.
    #[default]
    All,
}

impl Acks {
    /// Parses `all`, `-1`, `1`, `0`.
    pub fn parse(s: &str) -> Result<Acks, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" | "-1" => Ok(Acks::All),
            "1" => Ok(Acks::Leader),
            "0" => Ok(Acks::None),
            _ => Err("expected all, -1, 1 or 0".to_owned()),
        }
    }

    /// The wire value.
    pub fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// How records without an explicit partition are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionerKind {
    /// Kafka's default: murmur2 of the key; keyless records stick to one
    /// partition until `batch.size` bytes went there, then move (KIP-794).
    #[default]
    Default,
    /// Keyless records and keyed records alike go round-robin.
    RoundRobin,
}

/// Producer settings with Kafka's Java defaults. Build one with typed
/// setters ([`ProducerConfig::builder`]) or from Kafka's property names
/// ([`ProducerConfig::apply_props`]); both are checked the same way.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// `acks`.
    pub acks: Acks,
    /// `enable.idempotence`.
    pub idempotence: bool,
    /// `linger.ms`.
    pub linger: Duration,
    /// `batch.size` (bytes).
    pub batch_size: usize,
    /// `compression.type`.
    pub compression: Compression,
    /// `compression.<codec>.level`.
    pub compression_level: Option<i32>,
    /// `max.in.flight.requests.per.connection` (≤ 5 with idempotence).
    pub max_in_flight: usize,
    /// `retries`.
    pub retries: u32,
    /// `delivery.timeout.ms`.
    pub delivery_timeout: Duration,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`.
    pub retry_backoff_max: Duration,
    /// `buffer.memory` (bytes).
    pub buffer_memory: usize,
    /// `max.request.size` (bytes).
    pub max_request_size: usize,
    /// `max.block.ms`: how long `send` waits for metadata.
    pub max_block: Duration,
    /// `partitioner.class` / `partitioner`.
    pub partitioner: PartitionerKind,
    /// `allow.auto.create.topics` (broker permitting).
    pub allow_auto_create_topics: bool,
    /// `transactional.id`: set, the producer is transactional (needs idempotence).
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: the coordinator aborts a transaction open longer.
    pub transaction_timeout: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            idempotence: true,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            compression: Compression::None,
            compression_level: None,
            max_in_flight: 5,
            retries: i32::MAX as u32,
            delivery_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            buffer_memory: 32 * 1024 * 1024,
            max_request_size: 1024 * 1024,
            max_block: Duration::from_secs(60),
            partitioner: PartitionerKind::Default,
            allow_auto_create_topics: true,
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
        }
    }
}

/// Typed settings for a [`ProducerConfig`]; [`build`](Self::build) checks the
/// combination as [`ProducerConfig::apply_props`] does.
///
/// ```
/// use std::time::Duration;
/// use kwire_produce::{Acks, Compression, ProducerConfig};
/// let cfg = ProducerConfig::builder()
///     .acks(Acks::All)
///     .linger(Duration::from_millis(10))
///     .compression(Compression::Lz4)
///     .build()
///     .unwrap();
/// assert!(cfg.idempotence);
/// // Java's rules hold here too: idempotence needs acks=all.
/// assert!(ProducerConfig::builder().acks(Acks::Leader).idempotence(true).build().is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ProducerConfigBuilder {
    cfg: ProducerConfig,
    idempotence_set: bool,
}

impl ProducerConfigBuilder {
    /// `acks`. Without an explicit [`idempotence`](Self::idempotence), acks
    /// other than all turn idempotence off, as in Kafka's Java client.
    pub fn acks(mut self, acks: Acks) -> Self {
        self.cfg.acks = acks;
        self
    }
    /// `enable.idempotence`.
    pub fn idempotence(mut self, on: bool) -> Self {
        self.cfg.idempotence = on;
        self.idempotence_set = true;
        self
    }
    /// `linger.ms`.
    pub fn linger(mut self, d: Duration) -> Self {
        self.cfg.linger = d;
        self
    }
    /// `batch.size` in bytes.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.cfg.batch_size = bytes;
        self
    }
    /// `compression.type`.
    pub fn compression(mut self, c: Compression) -> Self {
        self.cfg.compression = c;
        self
    }
    /// `compression.<codec>.level`.
    pub fn compression_level(mut self, level: i32) -> Self {
        self.cfg.compression_level = Some(level);
        self
    }
    /// `max.in.flight.requests.per.connection`.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.cfg.max_in_flight = n;
        self
    }
    /// `retries`.
    pub fn retries(mut self, n: u32) -> Self {
        self.cfg.retries = n;
        self
    }
    /// `delivery.timeout.ms`.
    pub fn delivery_timeout(mut self, d: Duration) -> Self {
        self.cfg.delivery_timeout = d;
        self
    }
    /// `request.timeout.ms`.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.cfg.request_timeout = d;
        self
    }
    /// `retry.backoff.ms` and `retry.backoff.max.ms`.
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.cfg.retry_backoff = first;
        self.cfg.retry_backoff_max = max;
        self
    }
    /// `buffer.memory` in bytes.
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.cfg.buffer_memory = bytes;
        self
    }
    /// `max.request.size` in bytes.
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.cfg.max_request_size = bytes.max(1);
        self
    }
    /// `max.block.ms`.
    pub fn max_block(mut self, d: Duration) -> Self {
        self.cfg.max_block = d;
        self
    }
    /// `partitioner.class`.
    pub fn partitioner(mut self, p: PartitionerKind) -> Self {
        self.cfg.partitioner = p;
        self
    }
    /// `allow.auto.create.topics`.
    pub fn allow_auto_create_topics(mut self, on: bool) -> Self {
        self.cfg.allow_auto_create_topics = on;
        self
    }
    /// `transactional.id` (makes the producer transactional).
    pub fn transactional_id(mut self, id: &str) -> Self {
        self.cfg.transactional_id = Some(id.to_owned());
        self
    }
    /// `transaction.timeout.ms`.
    pub fn transaction_timeout(mut self, d: Duration) -> Self {
        self.cfg.transaction_timeout = d;
        self
    }
    /// Kafka property names on top of what was set so far.
    pub fn properties(mut self, props: &Properties) -> Result<Self, ProduceError> {
        if props.get("enable.idempotence").is_some() {
            self.idempotence_set = true;
        }
        self.cfg.apply_props(props)?;
        Ok(self)
    }
    /// Checks the combination (Java's rules) and returns the config.
    pub fn build(mut self) -> Result<ProducerConfig, ProduceError> {
        if !self.idempotence_set && self.cfg.idempotence && self.cfg.idempotence_conflict().is_some() {
            self.cfg.idempotence = false;
        }
        self.cfg.validate()?;
        Ok(self.cfg)
    }
}

impl ProducerConfig {
    /// The property names [`apply_props`](Self::apply_props) reads.
    pub const PROPERTIES: &'static [&'static str] = &[
        "acks",
        "enable.idempotence",
        "linger.ms",
        "batch.size",
        "compression.type",
        "compression.gzip.level",
        "compression.lz4.level",
        "compression.zstd.level",
        "max.in.flight.requests.per.connection",
        "retries",
        "delivery.timeout.ms",
        "request.timeout.ms",
        "retry.backoff.ms",
        "retry.backoff.max.ms",
        "buffer.memory",
        "max.request.size",
        "max.block.ms",
        "allow.auto.create.topics",
        "partitioner",
        "partitioner.class",
    ];

    /// Typed settings, starting from Kafka's defaults.
    pub fn builder() -> ProducerConfigBuilder {
        ProducerConfigBuilder::default()
    }

    /// What idempotence would need that the settings don't give.
    fn idempotence_conflict(&self) -> Option<&'static str> {
        if self.acks != Acks::All {
            Some("acks=all")
        } else if self.max_in_flight > 5 {
            Some("max.in.flight.requests.per.connection ≤ 5")
        } else if self.retries == 0 {
            Some("retries > 0")
        } else {
            None
        }
    }

    /// Reads Kafka's producer property names from `props` and checks the
    /// combination like the Java client does: idempotence needs `acks=all`,
    /// `max.in.flight.requests.per.connection` ≤ 5 and `retries` > 0; when
    /// `enable.idempotence` is not set explicitly, a conflicting setting turns
    /// it off instead of failing.
    pub fn apply_props(&mut self, props: &Properties) -> Result<(), PropsError> {
        if let Some(a) = props.get_with("acks", Acks::parse)? {
            self.acks = a;
        }
        let explicit_idem = props.get_bool("enable.idempotence")?;
        if let Some(d) = props.get_ms("linger.ms")? {
            self.linger = d;
        }
        if let Some(n) = props.get_uint::<usize>("batch.size")? {
            self.batch_size = n;
        }
        if let Some(c) = props.get_with("compression.type", |v| {
            v.parse::<Compression>().map_err(|_| "expected none, gzip, snappy, lz4 or zstd".to_owned())
        })? {
            self.compression = c;
        }
        let level_key = format!("compression.{}.level", self.compression.name());
        if let Some(l) = props.get_i64(&level_key)? {
            self.compression_level = Some(i32::try_from(l).map_err(|_| PropsError::InvalidValue {
                key: level_key.clone(),
                value: l.to_string(),
                expected: "a 32-bit integer".to_owned(),
            })?);
        }
        if let Some(n) = props.get_uint::<usize>("max.in.flight.requests.per.connection")? {
            if n == 0 {
                return Err(PropsError::InvalidValue {
                    key: "max.in.flight.requests.per.connection".to_owned(),
                    value: "0".to_owned(),
                    expected: "at least 1".to_owned(),
                });
            }
            self.max_in_flight = n;
        }
        if let Some(n) = props.get_uint::<u32>("retries")? {
            self.retries = n;
        }
        if let Some(d) = props.get_ms("delivery.timeout.ms")? {
            self.delivery_timeout = d;
        }
        if let Some(d) = props.get_ms("request.timeout.ms")? {
            self.request_timeout = d;
        }
        if let Some(d) = props.get_ms("retry.backoff.ms")? {
            self.retry_backoff = d;
        }
        if let Some(d) = props.get_ms("retry.backoff.max.ms")? {
            self.retry_backoff_max = d;
        }
        if let Some(n) = props.get_uint::<usize>("buffer.memory")? {
            self.buffer_memory = n;
        }
        if let Some(n) = props.get_uint::<usize>("max.request.size")? {
            self.max_request_size = n.max(1);
        }
        if let Some(d) = props.get_ms("max.block.ms")? {
            self.max_block = d;
        }
        if let Some(b) = props.get_bool("allow.auto.create.topics")? {
            self.allow_auto_create_topics = b;
        }
        if let Some(id) = props.get("transactional.id") {
            self.transactional_id = Some(id.to_owned());
        }
        if let Some(d) = props.get_ms("transaction.timeout.ms")? {
            self.transaction_timeout = d;
        }
        for key in ["partitioner", "partitioner.class"] {
            if let Some(p) = props.get_with(key, |v| {
                let v = v.trim();
                let short = v.rsplit('.').next().unwrap_or(v).to_ascii_lowercase();
                match short.as_str() {
                    "default"
                    | "defaultpartitioner"
                    | "murmur2"
                    | "murmur2_random"
                    | "builtinpartitioner"
                    | "uniformstickypartitioner" => Ok(PartitionerKind::Default),
                    "roundrobin" | "roundrobinpartitioner" => Ok(PartitionerKind::RoundRobin),
                    _ => Err("expected default (murmur2 + sticky) or roundrobin".to_owned()),
                }
            })? {
                self.partitioner = p;
            }
        }
        // Java's rules for idempotence.
        let conflict = self.idempotence_conflict();
        match (explicit_idem, conflict) {
            (Some(true), Some(need)) => {
                return Err(PropsError::Invalid(format!("enable.idempotence=true requires {need}")));
            }
            (Some(v), _) => self.idempotence = v,
            (None, Some(_)) => self.idempotence = false,
            (None, None) => {}
        }
        self.check().map_err(PropsError::Invalid)
    }

    /// Checks the combination as Kafka's Java producer does: idempotence
    /// needs `acks=all`, at most 5 requests in flight and `retries` > 0;
    /// `delivery.timeout.ms` ≥ `linger.ms` + `request.timeout.ms` (KIP-91).
    /// [`Producer::new`](crate::Producer::new) calls it too, for configs
    /// built field by field.
    pub fn validate(&self) -> Result<(), ProduceError> {
        self.check().map_err(ProduceError::Config)
    }

    /// The rules [`validate`](Self::validate) and [`apply_props`](Self::apply_props) check.
    fn check(&self) -> Result<(), String> {
        if self.idempotence {
            if let Some(need) = self.idempotence_conflict() {
                return Err(format!("enable.idempotence=true requires {need}"));
            }
        }
        if self.max_in_flight == 0 {
            return Err("max.in.flight.requests.per.connection must be at least 1".into());
        }
        if let Some(id) = &self.transactional_id {
            if id.is_empty() {
                return Err("transactional.id must not be empty".into());
            }
            if !self.idempotence {
                return Err("transactional.id requires enable.idempotence=true".into());
            }
            if self.transaction_timeout.is_zero() || self.transaction_timeout.as_millis() > i32::MAX as u128 {
                return Err("transaction.timeout.ms must be between 1 and 2147483647".into());
            }
        }
        if self.delivery_timeout < self.linger + self.request_timeout {
            return Err(format!(
                "delivery.timeout.ms ({} ms) must be at least linger.ms + request.timeout.ms ({} ms)",
                self.delivery_timeout.as_millis(),
                (self.linger + self.request_timeout).as_millis()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> Properties {
        let mut p = Properties::new();
        for (k, v) in kv {
            p.set(*k, *v);
        }
        p
    }

    #[test]
    fn transactional_id_and_timeout() {
        let mut c = ProducerConfig::default();
        c.apply_props(&props(&[("transactional.id", "tx-1"), ("transaction.timeout.ms", "15000")])).unwrap();
        assert_eq!(
            (c.transactional_id.as_deref(), c.transaction_timeout),
            (Some("tx-1"), Duration::from_secs(15))
        );
        let e = ProducerConfig::builder().transactional_id("tx").idempotence(false).build().unwrap_err();
        assert!(e.to_string().contains("requires enable.idempotence"), "{e}");
        let e = ProducerConfig::builder().transactional_id("").build().unwrap_err();
        assert!(e.to_string().contains("must not be empty"), "{e}");
        let e = ProducerConfig::builder().transactional_id("tx").transaction_timeout(Duration::ZERO).build();
        assert!(e.is_err());
        let ok = ProducerConfig::builder()
            .transactional_id("tx")
            .transaction_timeout(Duration::from_secs(5))
            .build();
        assert_eq!(ok.unwrap().transaction_timeout, Duration::from_secs(5));
    }

    #[test]
    fn java_names_and_idempotence_rules() {
        let mut c = ProducerConfig::default();
        c.apply_props(&props(&[("acks", "1"), ("linger.ms", "20"), ("compression.type", "zstd")])).unwrap();
        assert_eq!(c.acks, Acks::Leader);
        assert!(!c.idempotence, "acks=1 without explicit idempotence turns it off");
        assert_eq!(c.linger, Duration::from_millis(20));
        assert_eq!(c.compression, Compression::Zstd);

        let mut c = ProducerConfig::default();
        let e = c.apply_props(&props(&[("acks", "0"), ("enable.idempotence", "true")])).unwrap_err();
        assert!(e.to_string().contains("acks=all"), "{e}");

        let mut c = ProducerConfig::default();
        c.apply_props(&props(&[("acks", "-1")])).unwrap();
        assert!(c.idempotence);
        assert_eq!(c.acks, Acks::All);

        let mut c = ProducerConfig::default();
        assert!(c.apply_props(&props(&[("acks", "2")])).is_err());
        let mut c = ProducerConfig::default();
        assert!(c.apply_props(&props(&[("compression.type", "brotli")])).is_err());
        let mut c = ProducerConfig::default();
        assert!(c.apply_props(&props(&[("delivery.timeout.ms", "10")])).is_err());
        let mut c = ProducerConfig::default();
        c.apply_props(&props(&[(
            "partitioner.class",
            "org.apache.kafka.clients.producer.RoundRobinPartitioner",
        )]))
        .unwrap();
        assert_eq!(c.partitioner, PartitionerKind::RoundRobin);
    }

    #[test]
    fn properties_lists_exactly_the_keys_read() {
        let values = [
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
            ("batch.size", "1000"),
            ("compression.type", "zstd"),
            ("compression.zstd.level", "3"),
            ("max.in.flight.requests.per.connection", "5"),
            ("retries", "3"),
            ("delivery.timeout.ms", "120000"),
            ("request.timeout.ms", "30000"),
            ("retry.backoff.ms", "100"),
            ("retry.backoff.max.ms", "1000"),
            ("buffer.memory", "1000000"),
            ("max.request.size", "1000000"),
            ("max.block.ms", "1000"),
            ("allow.auto.create.topics", "false"),
            ("partitioner", "default"),
            ("partitioner.class", "roundrobin"),
        ];
        let p = props(&values);
        ProducerConfig::default().apply_props(&p).unwrap();
        assert!(p.unused().is_empty(), "{:?}", p.unused());
        let mut used = p.used_keys();
        used.sort();
        // One level key is read: the one of the chosen codec.
        let mut listed: Vec<String> = ProducerConfig::PROPERTIES
            .iter()
            .filter(|k| !matches!(**k, "compression.gzip.level" | "compression.lz4.level"))
            .map(|k| (*k).to_owned())
            .collect();
        listed.sort();
        assert_eq!(used, listed);
        let e =
            ProducerConfig::default().apply_props(&props(&[("max.in.flight.requests.per.connection", "0")]));
        assert!(matches!(e, Err(PropsError::InvalidValue { .. })), "{e:?}");
    }
}
