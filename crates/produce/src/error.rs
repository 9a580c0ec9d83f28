//! Producer errors.

use std::time::Duration;

use kwire_conn::ConnError;
use kwire_meta::MetaError;
use kwire_proto::ErrorCode;
use kwire_proto::props::PropsError;
use kwire_proto::records::RecordsError;

/// Why a record (or the producer) failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProduceError {
    /// The broker rejected the batch.
    #[error("{topic}-{partition}: {code}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Broker {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Error code.
        code: ErrorCode,
        /// The broker's message, if any.
        message: Option<String>,
    },
    /// The record was not acknowledged within `delivery.timeout.ms`.
    #[error("{topic}-{partition}: not acknowledged within delivery.timeout.ms ({timeout:?}){}", last.as_deref().map(|l| format!("; last error: {l}")).unwrap_or_default())]
    Timeout {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The configured delivery timeout.
        timeout: Duration,
        /// The last error seen while retrying.
        last: Option<String>,
    },
    /// The record is larger than the producer or broker accepts.
    #[error("record of {size} bytes is larger than {limit} ({setting})")]
    RecordTooLarge {
        /// Serialized size.
        size: usize,
        /// The limit.
        limit: usize,
        /// Which setting sets it.
        setting: &'static str,
    },
    /// The record could not be encoded.
    #[error(transparent)]
    Records(#[from] RecordsError),
    /// Metadata failure (unknown topic, …).
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Transport failure.
    #[error(transparent)]
    Conn(#[from] ConnError),
    /// Invalid configuration.
    #[error("{0}")]
    Config(String),
    /// The producer was closed.
    #[error("the producer is closed")]
    Closed,
}

impl From<PropsError> for ProduceError {
    fn from(e: PropsError) -> Self {
        ProduceError::Config(e.to_string())
    }
}
