//! kwire: a pure-Rust Kafka client stack.
//!
//! This facade re-exports the layers (`proto`, `conn`, `meta`, `fetch`,
//! `produce`, `group`, `stream`) and offers [`Client`], configured with
//! Kafka's property names, to get a producer, a consumer (assigned
//! partitions or a group) or the zero-copy fetcher without wiring the layers
//! by hand. Each has a `*_with` twin taking a typed config
//! (`ProducerConfig::builder()`, `FetchConfig::builder()`,
//! `GroupConfig::builder(..)`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = kwire::Client::builder()
//!     .bootstrap("127.0.0.1:9092")
//!     .property("acks", "all")
//!     .property("linger.ms", "10")
//!     .build()?;
//! let producer = client.producer().await?;
//! let ack = producer.send(kwire::produce::ProducerRecord::new("voters", b"{\"gender\":\"F\"}")).await?;
//! println!("offset {}", ack.wait().await?.offset);
//! producer.close().await?;
//!
//! // Owned records from the beginning of every partition of a topic.
//! let mut consumer = client.consumer()?;
//! consumer.assign_topics(&["voters"], kwire::fetch::StartOffset::Earliest).await?;
//! for rec in consumer.poll().await? {
//!     println!("{}@{}: {:?}", rec.partition, rec.offset, rec.value_str());
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo, clippy::unimplemented)]

pub use kwire_conn as conn;
pub use kwire_fetch as fetch;
pub use kwire_group as group;
pub use kwire_meta as meta;
pub use kwire_produce as produce;
pub use kwire_proto as proto;
pub use kwire_stream as stream;

use kwire_fetch::{Consumer, FetchConfig, FetchError, Fetcher};
use kwire_group::{GroupConfig, GroupConsumer, GroupError};
use kwire_meta::{Cluster, ClusterConfig, MetaError};
use kwire_produce::{ProduceError, Producer, ProducerConfig};
use kwire_proto::props::{Properties, PropsError};

/// Builds a [`Client`] from Kafka client properties.
#[derive(Debug, Default, Clone)]
pub struct ClientBuilder {
    props: Properties,
}

impl ClientBuilder {
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    pub fn bootstrap(mut self, servers: &str) -> Self {
        self.props.set("bootstrap.servers", servers);
        self
    }

    /// Any Kafka client property (`acks`, `linger.ms`, `group.protocol`, …).
    pub fn property(mut self, key: &str, value: &str) -> Self {
        self.props.set(key, value);
        self
    }

    /// Properties from a Java `.properties` text.
    pub fn properties_text(mut self, text: &str) -> Result<Self, PropsError> {
        let p = Properties::parse(text)?;
        self.props.extend(&p);
        Ok(self)
    }

    /// Checks the connection and security settings and returns the client
    /// (nothing connects until the first request).
    pub fn build(self) -> Result<Client, MetaError> {
        let mut cfg = ClusterConfig::default();
        cfg.apply_props(&self.props)?;
        Ok(Client { cluster: Cluster::new(cfg), props: self.props })
    }
}

/// A configured connection to a cluster: the entry point for library users.
#[derive(Debug, Clone)]
pub struct Client {
    cluster: Cluster,
    props: Properties,
}

impl Client {
    /// A builder with kwire's defaults (bootstrap `127.0.0.1:9092`).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The cluster handle (metadata, admin, connections).
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// A producer configured from the client's properties.
    pub async fn producer(&self) -> Result<Producer, ProduceError> {
        let mut cfg = ProducerConfig::default();
        cfg.apply_props(&self.props)?;
        Producer::new(self.cluster.clone(), cfg).await
    }

    /// A producer with typed settings ([`ProducerConfig::builder`]); the
    /// client's properties set the connection only.
    pub async fn producer_with(&self, cfg: ProducerConfig) -> Result<Producer, ProduceError> {
        Producer::new(self.cluster.clone(), cfg).await
    }

    /// A consumer of assigned partitions (no group) handing out owned
    /// records, configured from the client's properties (`fetch.*`,
    /// `isolation.level`, `max.poll.records`, …). Must be called within a
    /// tokio runtime.
    pub fn consumer(&self) -> Result<Consumer, FetchError> {
        let mut cfg = FetchConfig::default();
        cfg.apply_props(&self.props)?;
        Consumer::start(self.cluster.clone(), cfg)
    }

    /// A consumer of assigned partitions with typed settings
    /// ([`FetchConfig::builder`]). Must be called within a tokio runtime.
    pub fn consumer_with(&self, cfg: FetchConfig) -> Result<Consumer, FetchError> {
        Consumer::start(self.cluster.clone(), cfg)
    }

    /// The zero-copy fetcher (no consumer group) configured from the client's
    /// properties: the fast path under [`consumer`](Self::consumer). Must be
    /// called within a tokio runtime.
    pub fn fetcher(&self) -> Result<Fetcher, PropsError> {
        let mut cfg = FetchConfig::default();
        cfg.apply_props(&self.props)?;
        cfg.validate()?;
        Ok(Fetcher::start(self.cluster.clone(), cfg))
    }

    /// A group consumer for `group_id` subscribed to `topics`, configured from
    /// the client's properties (`group.protocol`, `session.timeout.ms`, …).
    /// Must be called within a tokio runtime.
    pub fn group_consumer(&self, group_id: &str, topics: &[&str]) -> Result<GroupConsumer, GroupError> {
        let mut cfg = GroupConfig::new(group_id);
        cfg.apply_props(&self.props)?;
        self.group_consumer_with(cfg, topics)
    }

    /// A group consumer with typed settings ([`GroupConfig::builder`]).
    /// Must be called within a tokio runtime.
    pub fn group_consumer_with(
        &self,
        cfg: GroupConfig,
        topics: &[&str],
    ) -> Result<GroupConsumer, GroupError> {
        GroupConsumer::subscribe(self.cluster.clone(), cfg, topics.iter().map(|t| (*t).to_owned()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_reads_kafka_property_names() {
        let c = Client::builder()
            .bootstrap("a:1,b:2")
            .property("client.id", "me")
            .property("request.timeout.ms", "1234")
            .build()
            .unwrap();
        let cfg = c.cluster().config();
        assert_eq!(cfg.bootstrap, vec!["a:1", "b:2"]);
        assert_eq!(cfg.conn.client_id.as_deref(), Some("me"));
        assert_eq!(cfg.conn.request_timeout, std::time::Duration::from_millis(1234));
        assert!(Client::builder().property("request.timeout.ms", "x").build().is_err());
        assert!(Client::builder().property("request.timeout.ms", "0").build().is_err());
    }

    #[test]
    fn cluster_properties_lists_the_keys_read() {
        let mut p = Properties::new();
        for (k, v) in [
            ("bootstrap.servers", "a:1"),
            ("client.id", "me"),
            ("request.timeout.ms", "1000"),
            ("socket.connection.setup.timeout.ms", "1000"),
            ("receive.message.max.bytes", "1000000"),
            ("metadata.max.age.ms", "1000"),
            ("retry.backoff.ms", "10"),
            ("retry.backoff.max.ms", "100"),
            ("security.protocol", "PLAINTEXT"),
        ] {
            p.set(k, v);
        }
        ClusterConfig::default().apply_props(&p).unwrap();
        assert!(p.unused().is_empty(), "{:?}", p.unused());
        let mut listed = ClusterConfig::PROPERTIES.to_vec();
        listed.sort();
        assert_eq!(p.used_keys(), listed);
        // One error type for every layer's settings.
        let mut bad = Properties::new();
        bad.set("security.protocol", "CARRIER_PIGEON");
        assert!(matches!(ClusterConfig::default().apply_props(&bad), Err(PropsError::InvalidValue { .. })));
    }
}
