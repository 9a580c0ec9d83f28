//! Errors of the metadata/admin layer.

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
    /// Retries ran out.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last error.
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
            _ => None,
        }
    }
}
