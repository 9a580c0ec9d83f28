//! The cluster handle: broker pool plus a metadata cache with leader lookup.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kwire_conn::{BrokerPool, ConnConfig, ConnError, ConnPurpose, Connection};
use kwire_proto::ErrorCode;
use kwire_proto::hash::FxBuild;
use kwire_proto::msg::metadata::{MetadataResponse, metadata_request};
use kwire_proto::props::{Properties, PropsError};
use tokio::time::Instant;

use crate::MetaError;
use crate::retry::{RetryPolicy, Step};

/// Settings of a [`Cluster`]: built with [`ClusterConfig::builder`] (typed)
/// or read from Kafka's property names with [`ClusterConfig::apply_props`];
/// both reach the same config.
///
/// ```
/// use std::time::Duration;
/// use kwire_meta::ClusterConfig;
///
/// let cfg = ClusterConfig::builder()
///     .bootstrap(["broker-1:9092", "broker-2:9092"])
///     .client_id("voters-app")
///     .request_timeout(Duration::from_secs(10))
///     .build();
/// assert_eq!(cfg.bootstrap.len(), 2);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// `bootstrap.servers`.
    pub bootstrap: Vec<String>,
    /// Connection settings.
    pub conn: ConnConfig,
    /// `metadata.max.age.ms`: cached topic metadata older than this is refreshed.
    pub metadata_max_age: Duration,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`.
    pub retry_backoff_max: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            bootstrap: vec!["127.0.0.1:9092".to_owned()],
            conn: ConnConfig::default(),
            metadata_max_age: Duration::from_secs(300),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
        }
    }
}

/// Typed builder of a [`ClusterConfig`], from [`ClusterConfig::builder`];
/// each setter names the Kafka property it stands for.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ClusterConfigBuilder {
    cfg: ClusterConfig,
}

impl ClusterConfigBuilder {
    /// `bootstrap.servers`: `host:port` of one or more brokers.
    pub fn bootstrap<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cfg.bootstrap = servers.into_iter().map(Into::into).collect();
        self
    }
    /// `client.id`, sent in every request header.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.conn.client_id = Some(id.into());
        self
    }
    /// `request.timeout.ms`.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.cfg.conn.request_timeout = d;
        self
    }
    /// `socket.connection.setup.timeout.ms`: TCP connect plus the handshake.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.cfg.conn.connect_timeout = d;
        self
    }
    /// `receive.message.max.bytes`: the largest response frame accepted.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.cfg.conn.max_frame = bytes;
        self
    }
    /// `metadata.max.age.ms`.
    pub fn metadata_max_age(mut self, d: Duration) -> Self {
        self.cfg.metadata_max_age = d;
        self
    }
    /// `retry.backoff.ms` and `retry.backoff.max.ms`.
    pub fn retry_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.cfg.retry_backoff = base;
        self.cfg.retry_backoff_max = max;
        self
    }
    /// TLS and SASL (`security.protocol`, `sasl.*`, `ssl.*`).
    pub fn security(mut self, security: kwire_conn::SecurityConfig) -> Self {
        self.cfg.conn.security = security;
        self
    }
    /// All connection settings at once.
    pub fn conn(mut self, conn: ConnConfig) -> Self {
        self.cfg.conn = conn;
        self
    }
    /// The config.
    pub fn build(self) -> ClusterConfig {
        self.cfg
    }
}

impl ClusterConfig {
    /// Typed settings, starting from Kafka's defaults.
    pub fn builder() -> ClusterConfigBuilder {
        ClusterConfigBuilder::default()
    }

    /// The property names [`apply_props`](Self::apply_props) reads itself;
    /// the security settings (`security.protocol`, `sasl.*`, `ssl.*`) are
    /// read by `kwire_conn::SecurityConfig`.
    pub const PROPERTIES: &'static [&'static str] = &[
        "bootstrap.servers",
        "client.id",
        "request.timeout.ms",
        "socket.connection.setup.timeout.ms",
        "receive.message.max.bytes",
        "metadata.max.age.ms",
        "retry.backoff.ms",
        "retry.backoff.max.ms",
        "security.protocol",
    ];

    /// Reads Kafka's client property names from `props`: `bootstrap.servers`,
    /// `client.id`, `request.timeout.ms`, `socket.connection.setup.timeout.ms`,
    /// `receive.message.max.bytes`, `metadata.max.age.ms`, `retry.backoff.ms`,
    /// `retry.backoff.max.ms`, and the security settings (`security.protocol`,
    /// `sasl.*`, `ssl.*`; see `kwire_conn::SecurityConfig`).
    pub fn apply_props(&mut self, props: &Properties) -> Result<(), PropsError> {
        self.apply_client_props(props)?;
        self.conn.security = kwire_conn::SecurityConfig::from_props(props).map_err(|e| match e {
            kwire_conn::SecurityError::InvalidValue { key, value, expected } => {
                PropsError::InvalidValue { key, value, expected }
            }
            other => PropsError::Invalid(other.to_string()),
        })?;
        Ok(())
    }

    fn apply_client_props(&mut self, props: &Properties) -> Result<(), PropsError> {
        if let Some(b) = props.get("bootstrap.servers") {
            let list: Vec<String> =
                b.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
            if list.is_empty() {
                return Err(PropsError::InvalidValue {
                    key: "bootstrap.servers".into(),
                    value: b.to_owned(),
                    expected: "HOST:PORT[,HOST:PORT...]".into(),
                });
            }
            self.bootstrap = list;
        }
        if let Some(id) = props.get("client.id") {
            self.conn.client_id = Some(id.to_owned());
        }
        let positive = |key: &str, d: Option<Duration>| -> Result<Option<Duration>, PropsError> {
            match d {
                Some(d) if d.is_zero() => Err(PropsError::InvalidValue {
                    key: key.to_owned(),
                    value: "0".into(),
                    expected: "a positive number of milliseconds".into(),
                }),
                d => Ok(d),
            }
        };
        if let Some(d) = positive("request.timeout.ms", props.get_ms("request.timeout.ms")?)? {
            self.conn.request_timeout = d;
        }
        let key = "socket.connection.setup.timeout.ms";
        if let Some(d) = positive(key, props.get_ms(key)?)? {
            self.conn.connect_timeout = d;
        }
        if let Some(n) = props.get_uint::<usize>("receive.message.max.bytes")? {
            self.conn.max_frame = n;
        }
        if let Some(d) = props.get_ms("metadata.max.age.ms")? {
            self.metadata_max_age = d;
        }
        if let Some(d) = props.get_ms("retry.backoff.ms")? {
            self.retry_backoff = d;
        }
        if let Some(d) = props.get_ms("retry.backoff.max.ms")? {
            self.retry_backoff_max = d;
        }
        Ok(())
    }
}

/// A broker in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Rack.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition index.
    pub partition: i32,
    /// Leader id (-1: none).
    pub leader: i32,
    /// Leader epoch (-1: unknown).
    pub leader_epoch: i32,
    /// Replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Offline replicas.
    pub offline: Vec<i32>,
    /// Partition-level error (e.g. LEADER_NOT_AVAILABLE).
    pub error: ErrorCode,
}

/// A topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Name.
    pub name: String,
    /// Topic id (all zeros if the broker has none).
    pub id: [u8; 16],
    /// Internal topic.
    pub internal: bool,
    /// Partitions sorted by index.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// Topic id in Kafka's base64 form (as `kafka-topics.sh` prints it).
    pub fn id_string(&self) -> String {
        base64_url(&self.id)
    }
}

/// A snapshot of cluster metadata.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// Controller id as reported (in KRaft mode: a broker chosen by the cluster).
    pub controller_id: i32,
    /// Live brokers.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics in the answer, by name.
    pub topics: BTreeMap<String, Arc<TopicInfo>>,
    /// Topics the broker reported with an error (e.g. UNKNOWN_TOPIC_OR_PARTITION).
    pub topic_errors: BTreeMap<String, ErrorCode>,
}

struct Cached {
    topic: Arc<TopicInfo>,
    at: Instant,
}

struct Inner {
    cfg: ClusterConfig,
    pool: BrokerPool,
    topics: Mutex<HashMap<String, Cached, FxBuild>>,
    last: Mutex<Option<Arc<Metadata>>>,
}

/// A handle to a Kafka cluster: connections plus cached metadata. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), kwire_meta::MetaError> {
/// use kwire_meta::{Cluster, ClusterConfig};
/// let cluster = Cluster::new(ClusterConfig::default());
/// let md = cluster.fetch_metadata(None).await?;
/// for b in md.brokers.values() {
///     println!("{} {}", b.id, b.addr());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("bootstrap", &self.inner.cfg.bootstrap).finish()
    }
}

impl Cluster {
    /// A cluster handle; nothing connects until the first request.
    pub fn new(cfg: ClusterConfig) -> Self {
        let pool = BrokerPool::new(cfg.bootstrap.clone(), cfg.conn.clone());
        Cluster {
            inner: Arc::new(Inner {
                cfg,
                pool,
                topics: Mutex::new(HashMap::default()),
                last: Mutex::new(None),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ClusterConfig {
        &self.inner.cfg
    }

    /// The broker pool.
    pub fn pool(&self) -> &BrokerPool {
        &self.inner.pool
    }

    /// A connection to any live broker.
    pub async fn any_broker(&self) -> Result<Connection, MetaError> {
        Ok(self.inner.pool.any().await?)
    }

    /// A connection to broker `id`, refreshing metadata once if its address is unknown.
    pub async fn broker(&self, id: i32) -> Result<Connection, MetaError> {
        self.broker_for(id, ConnPurpose::General).await
    }

    /// A connection to broker `id` for `purpose` (fetches and produce
    /// requests get their own: see [`ConnPurpose`]).
    pub async fn broker_for(&self, id: i32, purpose: ConnPurpose) -> Result<Connection, MetaError> {
        match self.inner.pool.get_for(id, purpose).await {
            Err(ConnError::UnknownBroker(_)) => {
                self.fetch_metadata(Some(&[])).await?;
                Ok(self.inner.pool.get_for(id, purpose).await?)
            }
            r => Ok(r?),
        }
    }

    /// The most recent metadata snapshot, if any.
    pub fn last_metadata(&self) -> Option<Arc<Metadata>> {
        lock(&self.inner.last).clone()
    }

    /// Fetches metadata for `topics` (`None`: every topic; `Some(&[])`: brokers
    /// only) from any broker, updating the cache and the pool's broker addresses.
    /// Connection failures move on to the next broker.
    pub async fn fetch_metadata(&self, topics: Option<&[String]>) -> Result<Arc<Metadata>, MetaError> {
        self.fetch_metadata_opts(topics, false).await
    }

    /// Like [`fetch_metadata`](Self::fetch_metadata), optionally letting the
    /// broker auto-create missing topics (as the Java producer does).
    pub async fn fetch_metadata_opts(
        &self,
        topics: Option<&[String]>,
        allow_auto_create: bool,
    ) -> Result<Arc<Metadata>, MetaError> {
        let req = metadata_request(topics, allow_auto_create);
        // A broken connection moves on to another broker, three times at
        // most; so does a broker that leaves the request unanswered, while
        // there is a broker not yet tried (a single silent one fails at its
        // request timeout, as every one-shot command does).
        let req = &req;
        let silent: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let silent = &silent;
        let resp = self
            .with_retry("metadata request", RetryPolicy::attempts(4), |_| async move {
                let conn = self.inner.pool.any().await?;
                match conn.send(req).await {
                    Ok(r) => Ok(Step::Done(r)),
                    Err(e) if e.is_disconnect() => Ok(Step::Retry(e)),
                    Err(e @ ConnError::Timeout { .. }) => {
                        self.inner.pool.pass_over(conn.addr()).await;
                        let untried = {
                            let mut silent = lock(silent);
                            silent.push(conn.addr().to_owned());
                            self.inner.pool.any_candidates().iter().any(|a| !silent.contains(a))
                        };
                        if untried { Ok(Step::Retry(e)) } else { Err(MetaError::from(e)) }
                    }
                    Err(e) => Err(MetaError::from(e)),
                }
            })
            .await?
            .map_err(|gave_up| gave_up.last)?;
        Ok(self.absorb(resp))
    }

    pub(crate) fn absorb(&self, resp: MetadataResponse) -> Arc<Metadata> {
        let now = Instant::now();
        let mut md =
            Metadata { cluster_id: resp.cluster_id, controller_id: resp.controller_id, ..Default::default() };
        for b in resp.brokers {
            md.brokers
                .insert(b.node_id, BrokerInfo { id: b.node_id, host: b.host, port: b.port, rack: b.rack });
        }
        self.inner.pool.set_brokers(md.brokers.values().map(|b| (b.id, b.addr())));
        let mut cache = lock(&self.inner.topics);
        for t in resp.topics {
            let Some(name) = t.name else { continue };
            if t.error_code.is_err() {
                cache.remove(&name);
                md.topic_errors.insert(name, t.error_code);
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .into_iter()
                .map(|p| PartitionInfo {
                    partition: p.partition,
                    leader: p.leader_id,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replicas,
                    isr: p.isr,
                    offline: p.offline_replicas,
                    error: p.error_code,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            let info = Arc::new(TopicInfo {
                name: name.clone(),
                id: t.topic_id,
                internal: t.is_internal,
                partitions,
            });
            cache.insert(name.clone(), Cached { topic: info.clone(), at: now });
            md.topics.insert(name, info);
        }
        drop(cache);
        let md = Arc::new(md);
        *lock(&self.inner.last) = Some(md.clone());
        md
    }

    /// Cached metadata of `topic`, fetched if missing or older than `metadata.max.age.ms`.
    /// Errors with the broker's code (e.g. UNKNOWN_TOPIC_OR_PARTITION) if it doesn't exist.
    pub async fn topic(&self, topic: &str) -> Result<Arc<TopicInfo>, MetaError> {
        if let Some(t) = self.cached_topic(topic) {
            return Ok(t);
        }
        let md = self.fetch_metadata(Some(&[topic.to_owned()])).await?;
        if let Some(t) = md.topics.get(topic) {
            return Ok(t.clone());
        }
        let code = md.topic_errors.get(topic).copied().unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        Err(MetaError::Broker { context: format!("topic '{topic}'"), code, message: None })
    }

    /// Cached metadata of `topic` if present and younger than `metadata.max.age.ms`;
    /// never does I/O (for hot paths that refresh asynchronously on a miss).
    pub fn cached_topic(&self, topic: &str) -> Option<Arc<TopicInfo>> {
        let cache = lock(&self.inner.topics);
        let c = cache.get(topic)?;
        (c.at.elapsed() < self.inner.cfg.metadata_max_age).then(|| c.topic.clone())
    }

    /// The cached metadata of `topic` however old it is (no clock read): for
    /// a hot path whose staleness something else bounds, as a producer's
    /// send path reads the partition count Java's `waitOnMetadata` does
    /// while the sender refreshes what has aged.
    pub fn known_topic(&self, topic: &str) -> Option<Arc<TopicInfo>> {
        lock(&self.inner.topics).get(topic).map(|c| c.topic.clone())
    }

    /// Forgets cached metadata of `topic` (after NOT_LEADER_OR_FOLLOWER and friends),
    /// so the next lookup asks a broker.
    pub fn invalidate_topic(&self, topic: &str) {
        lock(&self.inner.topics).remove(topic);
    }
}

use kwire_conn::rt::lock;

/// URL-safe base64 without padding, as Kafka prints topic ids.
pub fn base64_url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_id_base64_like_kafka() {
        // Kafka prints Uuid as URL-safe base64 without padding: 22 chars.
        let id = [0u8; 16];
        assert_eq!(base64_url(&id), "AAAAAAAAAAAAAAAAAAAAAA");
        let id =
            [0xfb, 0xff, 0xbf, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c];
        let s = base64_url(&id);
        assert_eq!(s.len(), 22);
        assert!(s.starts_with("-_-_"), "{s}");
    }

    #[test]
    fn builder_and_properties_reach_the_same_config() {
        let mut p = Properties::new();
        for (k, v) in [
            ("bootstrap.servers", "a:1, b:2"),
            ("client.id", "app"),
            ("request.timeout.ms", "5000"),
            ("socket.connection.setup.timeout.ms", "3000"),
            ("receive.message.max.bytes", "1048576"),
            ("metadata.max.age.ms", "60000"),
            ("retry.backoff.ms", "50"),
            ("retry.backoff.max.ms", "500"),
        ] {
            p.set(k, v);
        }
        let mut from_props = ClusterConfig::default();
        from_props.apply_props(&p).unwrap();
        let built = ClusterConfig::builder()
            .bootstrap(["a:1", "b:2"])
            .client_id("app")
            .request_timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .max_response_bytes(1 << 20)
            .metadata_max_age(Duration::from_secs(60))
            .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
            .build();
        // ConnConfig/SecurityConfig have no PartialEq (secrets): compare the
        // Debug form, which redacts secrets but shows every other field.
        assert_eq!(format!("{built:?}"), format!("{from_props:?}"));
        assert_ne!(format!("{built:?}"), format!("{:?}", ClusterConfig::default()));
    }
}
