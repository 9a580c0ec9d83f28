//! Errors of the fetch layer.

use kwire_conn::ConnError;
use kwire_meta::MetaError;
use kwire_proto::ErrorCode;
use kwire_proto::records::RecordsError;

/// Errors from fetching and offset lookups.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Metadata / admin failure, or a transport failure
    /// ([`MetaError::Conn`]: connections come from the cluster's pool).
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// A partition-level broker error that retrying can't fix.
    #[error("{topic}-{partition}: {code}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Partition {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Error code.
        code: ErrorCode,
        /// Extra detail.
        detail: Option<String>,
    },
    /// Corrupt record data.
    // The field is not called `source`: thiserror would make it the error's
    // source too, and a printer walking the chain would say it twice.
    #[error("{topic}-{partition} at offset {offset}: {cause}")]
    Records {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Fetch offset of the chunk.
        offset: i64,
        /// What was wrong.
        cause: RecordsError,
    },
    /// The leader's log was truncated below what was read (KIP-320: an
    /// unclean leader election lost records this consumer had), and
    /// `auto.offset.reset` is none. The records from `diverging` on that the
    /// application had are no longer in the log.
    #[error(
        "{topic}-{partition}: the log was truncated below offset {offset}{} and auto.offset.reset is none",
        diverging.map(|d| format!(" (the first offset known to diverge is {d})")).unwrap_or_default()
    )]
    Truncated {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The position when it was detected.
        offset: i64,
        /// The first offset known to diverge, if the leader named it.
        diverging: Option<i64>,
    },
    /// An invalid setting (from a property name or a typed setter).
    #[error(transparent)]
    Config(#[from] kwire_proto::props::PropsError),
    /// The fetcher task has stopped.
    #[error("the fetcher has stopped")]
    Stopped,
    /// Invalid request by the caller.
    #[error("{0}")]
    Invalid(String),
}

/// A transport failure reaches the fetch layer through the metadata layer
/// that owns the connections: [`FetchError::Meta`]`(`[`MetaError::Conn`]`)`.
impl From<ConnError> for FetchError {
    fn from(e: ConnError) -> Self {
        FetchError::Meta(MetaError::Conn(e))
    }
}

impl FetchError {
    /// The transport error, if this is one.
    pub fn conn(&self) -> Option<&ConnError> {
        match self {
            FetchError::Meta(m) => m.conn(),
            _ => None,
        }
    }
}
