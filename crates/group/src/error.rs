//! Errors of the group layer.

use kwire_conn::ConnError;
use kwire_fetch::FetchError;
use kwire_meta::MetaError;
use kwire_proto::ErrorCode;

/// Errors from group membership, offsets and group administration.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// Metadata / admin failure, or a transport failure
    /// ([`MetaError::Conn`]: connections come from the cluster's pool).
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Fetch failure.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// An invalid setting (from a property name or a typed setter).
    #[error(transparent)]
    Config(#[from] kwire_proto::props::PropsError),
    /// The broker answered with an error code that retrying can't fix.
    #[error("{context}: {code}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Broker {
        /// What was being done (e.g. `join group 'g'`).
        context: String,
        /// The error code.
        code: ErrorCode,
        /// The broker's message, if any.
        message: Option<String>,
    },
    /// The broker does not support what the configuration asks for
    /// (e.g. `group.protocol=consumer` on a broker older than Kafka 4.0).
    #[error("{0}")]
    Unsupported(String),
    /// Another member with the same `group.instance.id` took over.
    #[error(
        "group '{group}': this member was fenced by another instance with group.instance.id '{instance}'"
    )]
    FencedInstance {
        /// Group id.
        group: String,
        /// The instance id.
        instance: String,
    },
    /// A commit failed because this member is no longer part of the
    /// generation the offsets belong to (it was kicked out or the group
    /// rebalanced); the partitions may now belong to another member.
    #[error("commit failed for group '{group}': {reason}")]
    CommitFailed {
        /// Group id.
        group: String,
        /// Why.
        reason: String,
    },
    /// A rebalance is in progress; the operation can be retried after it.
    #[error("group '{0}' is rebalancing")]
    RebalanceInProgress(String),
    /// A partition has no committed offset and `auto.offset.reset` is `none`.
    #[error("{topic}-{partition}: no committed offset for group '{group}' and auto.offset.reset is none")]
    NoOffset {
        /// Group id.
        group: String,
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// Invalid configuration or argument.
    #[error("{0}")]
    Invalid(String),
    /// A timeout expired.
    #[error("{0}")]
    Timeout(String),
    /// The consumer (or its background task) has stopped.
    #[error("the group consumer has stopped")]
    Closed,
}

impl GroupError {
    /// The broker error code, if this is a broker error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            GroupError::Broker { code, .. } => Some(*code),
            GroupError::Meta(m) => m.code(),
            _ => None,
        }
    }

    /// The transport error, if this is one (directly or through the fetcher).
    pub fn conn(&self) -> Option<&ConnError> {
        match self {
            GroupError::Meta(m) => m.conn(),
            GroupError::Fetch(f) => f.conn(),
            _ => None,
        }
    }

    /// True if a connection broke or could not be made (retrying may help).
    pub fn is_disconnect(&self) -> bool {
        matches!(self, GroupError::Meta(m) if m.is_disconnect())
    }

    pub(crate) fn broker(context: impl Into<String>, code: ErrorCode, message: Option<String>) -> Self {
        GroupError::Broker { context: context.into(), code, message }
    }
}

/// A transport failure reaches the group layer through the metadata layer
/// that owns the connections: [`GroupError::Meta`]`(`[`MetaError::Conn`]`)`.
impl From<ConnError> for GroupError {
    fn from(e: ConnError) -> Self {
        GroupError::Meta(MetaError::Conn(e))
    }
}
