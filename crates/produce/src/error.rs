//! Producer errors.
//!
//! Every way a record can fail has its own variant, so callers can match on
//! what happened instead of parsing messages. Per-record failures say whether
//! the broker may nevertheless have written the record
//! ([`ProduceError::maybe_written`]): re-sending one that may have been
//! written can duplicate it.

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
    /// The broker rejected the batch with an error that retrying can't fix
    /// (e.g. `INVALID_RECORD`, `CORRUPT_MESSAGE` after retries, a policy
    /// violation): the records were not written.
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
    /// The record was not acknowledged within `delivery.timeout.ms` (KIP-91),
    /// counted from `send()`, whether it was still queued or in flight.
    #[error("{topic}-{partition}: not acknowledged within delivery.timeout.ms ({} ms){}{}", timeout.as_millis(), last.as_deref().map(|l| format!("; last error: {l}")).unwrap_or_default(), if *maybe_written { "; it may have been written" } else { "" })]
    Timeout {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The configured delivery timeout.
        timeout: Duration,
        /// The last error seen while retrying.
        last: Option<String>,
        /// A request carrying the record went unanswered: the broker may
        /// have written it.
        maybe_written: bool,
    },
    /// Every one of the `retries` retries failed.
    #[error("{topic}-{partition}: retries ({retries}) exhausted; last error: {last}{}", if *maybe_written { "; it may have been written" } else { "" })]
    RetriesExhausted {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The configured `retries`.
        retries: u32,
        /// The last error.
        last: String,
        /// A request carrying the record went unanswered: the broker may
        /// have written it.
        maybe_written: bool,
    },
    /// The record may or may not have been written, and the producer can no
    /// longer find out (its sequence numbers had to be reset after a request
    /// carrying it went unanswered).
    #[error("{topic}-{partition}: outcome unknown, the record may or may not have been written ({reason})")]
    UnknownOutcome {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// What left the outcome open.
        reason: String,
    },
    /// Another producer instance owns this producer's id or epoch
    /// (`PRODUCER_FENCED`, `INVALID_PRODUCER_EPOCH` where it can't be resolved).
    #[error("producer fenced: {code}{}", detail.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Fenced {
        /// The broker's error.
        code: ErrorCode,
        /// Context.
        detail: Option<String>,
    },
    /// The principal may not do this (`TOPIC_AUTHORIZATION_FAILED`,
    /// `CLUSTER_AUTHORIZATION_FAILED`, `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`).
    #[error("not authorized: {code} on {resource}")]
    Authorization {
        /// What was denied: `topic 'T'`, `the cluster (idempotent writes)`, …
        resource: String,
        /// The broker's error.
        code: ErrorCode,
    },
    /// No producer id for idempotence within `max.block.ms`.
    #[error("no producer id for idempotence within max.block.ms ({} ms): {last}", waited.as_millis())]
    ProducerId {
        /// How long the producer waited.
        waited: Duration,
        /// The last error.
        last: String,
    },
    /// `buffer.memory` stayed full for `max.block.ms`.
    #[error("buffer.memory ({buffer_memory} bytes) stayed full for max.block.ms ({} ms)", max_block.as_millis())]
    BufferFull {
        /// The configured `buffer.memory`.
        buffer_memory: usize,
        /// The configured `max.block.ms`.
        max_block: Duration,
    },
    /// The record names a partition the topic doesn't have.
    #[error("partition {partition} does not exist (topic '{topic}' has {partitions} partitions)")]
    UnknownPartition {
        /// Topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
        /// How many the topic has.
        partitions: u32,
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
    /// Metadata failure (unknown topic, …), or a transport failure
    /// ([`MetaError::Conn`]: connections come from the cluster's pool);
    /// [`ConnError::is_fatal`] tells wrong credentials and a broker that
    /// broke the protocol (never retried) from the rest.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Invalid configuration.
    #[error("{0}")]
    Config(String),
    /// The producer was closed.
    #[error("the producer is closed")]
    Closed,
    /// The record was in a transaction that was aborted: it will never be
    /// visible to `read_committed` consumers.
    #[error("the transaction was aborted; the record is not committed")]
    TransactionAborted,
    /// The open transaction can only be aborted: one of its records failed,
    /// or the transaction coordinator said so (TRANSACTION_ABORTABLE).
    #[error("the transaction must be aborted: {0}")]
    TransactionAbortable(String),
    /// The transactional producer cannot go on (an error other than
    /// fencing, e.g. TRANSACTIONAL_ID_AUTHORIZATION_FAILED); close it.
    #[error("the transactional producer failed: {0}")]
    TransactionFatal(String),
    /// A transactional call in the wrong state: `send` outside a
    /// transaction, `commit` with none open, transactions on a producer
    /// without `transactional.id`.
    #[error("{0}")]
    TransactionState(String),
}

impl ProduceError {
    /// True when the broker may have written the record although it is
    /// reported failed: re-sending it may write it twice.
    pub fn maybe_written(&self) -> bool {
        match self {
            ProduceError::Timeout { maybe_written, .. }
            | ProduceError::RetriesExhausted { maybe_written, .. } => *maybe_written,
            ProduceError::UnknownOutcome { .. } => true,
            _ => false,
        }
    }
}

impl ProduceError {
    /// The transport error, if this is one.
    pub fn conn(&self) -> Option<&ConnError> {
        match self {
            ProduceError::Meta(m) => m.conn(),
            _ => None,
        }
    }
}

/// A transport failure reaches the producer through the metadata layer that
/// owns the connections: [`ProduceError::Meta`]`(`[`MetaError::Conn`]`)`.
impl From<ConnError> for ProduceError {
    fn from(e: ConnError) -> Self {
        ProduceError::Meta(MetaError::Conn(e))
    }
}

impl From<PropsError> for ProduceError {
    fn from(e: PropsError) -> Self {
        ProduceError::Config(e.to_string())
    }
}
