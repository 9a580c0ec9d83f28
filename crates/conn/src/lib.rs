//! kwire-conn: the tokio transport of kwire.
//!
//! A [`Connection`] is a handle to a driver task that owns one socket and
//! pipelines many requests over it; [`BrokerPool`] keeps one connection per
//! broker id plus bootstrap connections.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kwire_conn::ConnError> {
//! use kwire_conn::{ConnConfig, Connection};
//! use kwire_proto::kafka_protocol::messages::MetadataRequest;
//!
//! let conn = Connection::connect("127.0.0.1:9092", &ConnConfig::default()).await?;
//! let md = conn.send(&MetadataRequest::default().with_topics(Some(vec![]))).await?;
//! println!("cluster {:?} has {} brokers", md.cluster_id, md.brokers.len());
//! # Ok(()) }
//! ```
//!
//! TLS and SASL come from [`SecurityConfig`] in [`ConnConfig::security`],
//! usually read from Kafka's property names with [`SecurityConfig::from_props`].
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo, clippy::unimplemented)]

mod connection;
mod error;
mod frame;
mod material;
mod pool;
pub mod rt;
pub mod sasl;
pub mod security;
pub mod tls;

pub use connection::{ConnConfig, Connection, Pending, PendingResponse};
pub use error::ConnError;
pub use pool::{BrokerPool, ConnPurpose};
pub use security::{
    SaslConfig, SaslCredentials, SaslMechanism, Secret, SecurityConfig, SecurityError, SecurityProtocol,
};
pub use tls::{TlsConfig, TlsOptions};
