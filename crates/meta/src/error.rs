//! Errors of the metadata/admin layer.

use std::time::Duration;

use kwire_conn::ConnError;
use kwire_proto::ErrorCode;

/// Errors from metadata lookups and admin operations.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// Transport failure.
    #[error(transparent)]
    Conn(#[from] ConnError),
    /// The broker answered with an error code.
    #[error("{context}: {code}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Broker {
        /// What was being done (e.g. `create topic 'x'`).
        context: String,
        /// The error code.
        code: ErrorCode,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },
    /// The cluster state doesn't allow the operation (checked client-side).
    #[error("{0}")]
    Invalid(String),
    /// An invalid setting.
    #[error("{0}")]
    Config(String),
    /// The transaction coordinator has no state for this transactional id
    /// (TRANSACTIONAL_ID_NOT_FOUND: never used, or expired).
    #[error(
        "transactional id '{0}' not found: its coordinator has no state for it (never used, or expired after transactional.id.expiration.ms)"
    )]
    TransactionalIdNotFound(String),
    /// No producer has an open transaction starting at this offset.
    #[error("no open transaction starts at offset {start_offset} of {topic}-{partition}")]
    NoOpenTransaction {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The start offset asked for.
        start_offset: i64,
    },
    /// Every allowed attempt failed.
    #[error("{what}: gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// What was being done (e.g. `metadata request`).
        what: String,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        last: Box<MetaError>,
    },
    /// Retrying ran out of time.
    #[error("{what}: no success within {} ms ({attempts} attempts); last error: {last}", timeout.as_millis())]
    Timeout {
        /// What was being waited for (e.g. `find the leader of t-0`).
        what: String,
        /// How long it was retried.
        timeout: Duration,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        last: Box<MetaError>,
    },
}

impl From<kwire_proto::props::PropsError> for MetaError {
    fn from(e: kwire_proto::props::PropsError) -> Self {
        MetaError::Config(e.to_string())
    }
}

impl MetaError {
    /// The broker error code, if this is a broker error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            MetaError::Broker { code, .. } => Some(*code),
            MetaError::RetriesExhausted { last, .. } | MetaError::Timeout { last, .. } => last.code(),
            _ => None,
        }
    }

    /// The transport error, if this is one (also as the last error of
    /// exhausted retries).
    pub fn conn(&self) -> Option<&ConnError> {
        match self {
            MetaError::Conn(c) => Some(c),
            MetaError::RetriesExhausted { last, .. } | MetaError::Timeout { last, .. } => last.conn(),
            _ => None,
        }
    }

    /// True if a connection broke or could not be made (retrying on another
    /// connection may help); see [`ConnError::is_disconnect`].
    pub fn is_disconnect(&self) -> bool {
        matches!(self, MetaError::Conn(c) if c.is_disconnect())
    }
}
