//! Errors of the sans-IO layer and Kafka's broker error codes.

use std::borrow::Cow;
use std::fmt;

use kafka_protocol::error::ResponseError;

/// Bytes that can never be a valid message (as opposed to "need more bytes").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message ended before a field could be read.
    #[error("truncated message: {what} needs {needed} bytes, {remaining} remain")]
    Truncated {
        /// Field being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes left.
        remaining: usize,
    },
    /// A length prefix was negative (other than -1 for null).
    #[error("invalid negative length {len} for {what}")]
    NegativeLength {
        /// Field being read.
        what: &'static str,
        /// The length read.
        len: i32,
    },
    /// An element count larger than the bytes that remain could ever hold.
    #[error("element count {count} exceeds the {remaining} bytes remaining")]
    CountTooLarge {
        /// The count read.
        count: usize,
        /// Bytes left.
        remaining: usize,
    },
    /// Bytes left over after a complete message: the peer and kwire disagree
    /// about the message's layout, so nothing in it can be trusted.
    #[error("{count} unexpected bytes after the end of the message")]
    TrailingBytes {
        /// Bytes left.
        count: usize,
    },
    /// Anything else that is malformed.
    #[error("malformed message: {0}")]
    Invalid(&'static str),
    /// A response for an API or version kwire has no decoder for.
    #[error("no decoder for api key {api_key} version {version}")]
    Unsupported {
        /// API key.
        api_key: i16,
        /// API version.
        version: i16,
    },
}

/// Framing errors: the stream can never be resynchronised after one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The 4-byte size prefix exceeds the configured cap.
    #[error("frame of {size} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Declared size.
        size: u64,
        /// Configured cap.
        max: usize,
    },
    /// The size prefix is negative.
    #[error("negative frame size {0}")]
    Negative(i32),
    /// The first bytes look like a TLS record, i.e. the peer speaks TLS and we don't.
    #[error("peer answered with a TLS record: is this a TLS (SSL) listener? set security.protocol=SSL")]
    TlsOnPlaintext,
}

/// A Kafka broker error code (`0` is success).
///
/// Names follow Kafka's (`NOT_LEADER_OR_FOLLOWER`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(pub i16);

impl ErrorCode {
    /// No error.
    pub const NONE: ErrorCode = ErrorCode(0);
    /// UNKNOWN_SERVER_ERROR.
    pub const UNKNOWN_SERVER_ERROR: ErrorCode = ErrorCode(-1);
    /// OFFSET_OUT_OF_RANGE.
    pub const OFFSET_OUT_OF_RANGE: ErrorCode = ErrorCode(1);
    /// CORRUPT_MESSAGE.
    pub const CORRUPT_MESSAGE: ErrorCode = ErrorCode(2);
    /// UNKNOWN_TOPIC_OR_PARTITION.
    pub const UNKNOWN_TOPIC_OR_PARTITION: ErrorCode = ErrorCode(3);
    /// LEADER_NOT_AVAILABLE.
    pub const LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(5);
    /// NOT_LEADER_OR_FOLLOWER.
    pub const NOT_LEADER_OR_FOLLOWER: ErrorCode = ErrorCode(6);
    /// REQUEST_TIMED_OUT.
    pub const REQUEST_TIMED_OUT: ErrorCode = ErrorCode(7);
    /// REPLICA_NOT_AVAILABLE.
    pub const REPLICA_NOT_AVAILABLE: ErrorCode = ErrorCode(9);
    /// MESSAGE_TOO_LARGE.
    pub const MESSAGE_TOO_LARGE: ErrorCode = ErrorCode(10);
    /// NETWORK_EXCEPTION.
    pub const NETWORK_EXCEPTION: ErrorCode = ErrorCode(13);
    /// COORDINATOR_LOAD_IN_PROGRESS.
    pub const COORDINATOR_LOAD_IN_PROGRESS: ErrorCode = ErrorCode(14);
    /// COORDINATOR_NOT_AVAILABLE.
    pub const COORDINATOR_NOT_AVAILABLE: ErrorCode = ErrorCode(15);
    /// NOT_COORDINATOR.
    pub const NOT_COORDINATOR: ErrorCode = ErrorCode(16);
    /// INVALID_TOPIC_EXCEPTION.
    pub const INVALID_TOPIC_EXCEPTION: ErrorCode = ErrorCode(17);
    /// RECORD_LIST_TOO_LARGE.
    pub const RECORD_LIST_TOO_LARGE: ErrorCode = ErrorCode(18);
    /// NOT_ENOUGH_REPLICAS.
    pub const NOT_ENOUGH_REPLICAS: ErrorCode = ErrorCode(19);
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND.
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: ErrorCode = ErrorCode(20);
    /// ILLEGAL_GENERATION.
    pub const ILLEGAL_GENERATION: ErrorCode = ErrorCode(22);
    /// UNKNOWN_MEMBER_ID.
    pub const UNKNOWN_MEMBER_ID: ErrorCode = ErrorCode(25);
    /// REBALANCE_IN_PROGRESS.
    pub const REBALANCE_IN_PROGRESS: ErrorCode = ErrorCode(27);
    /// TOPIC_AUTHORIZATION_FAILED.
    pub const TOPIC_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(29);
    /// GROUP_AUTHORIZATION_FAILED.
    pub const GROUP_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(30);
    /// CLUSTER_AUTHORIZATION_FAILED.
    pub const CLUSTER_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(31);
    /// UNSUPPORTED_SASL_MECHANISM.
    pub const UNSUPPORTED_SASL_MECHANISM: ErrorCode = ErrorCode(33);
    /// UNSUPPORTED_VERSION.
    pub const UNSUPPORTED_VERSION: ErrorCode = ErrorCode(35);
    /// TOPIC_ALREADY_EXISTS.
    pub const TOPIC_ALREADY_EXISTS: ErrorCode = ErrorCode(36);
    /// INVALID_PARTITIONS.
    pub const INVALID_PARTITIONS: ErrorCode = ErrorCode(37);
    /// INVALID_REPLICATION_FACTOR.
    pub const INVALID_REPLICATION_FACTOR: ErrorCode = ErrorCode(38);
    /// INVALID_CONFIG.
    pub const INVALID_CONFIG: ErrorCode = ErrorCode(40);
    /// NOT_CONTROLLER.
    pub const NOT_CONTROLLER: ErrorCode = ErrorCode(41);
    /// INVALID_REQUEST.
    pub const INVALID_REQUEST: ErrorCode = ErrorCode(42);
    /// OUT_OF_ORDER_SEQUENCE_NUMBER.
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: ErrorCode = ErrorCode(45);
    /// DUPLICATE_SEQUENCE_NUMBER.
    pub const DUPLICATE_SEQUENCE_NUMBER: ErrorCode = ErrorCode(46);
    /// INVALID_PRODUCER_EPOCH.
    pub const INVALID_PRODUCER_EPOCH: ErrorCode = ErrorCode(47);
    /// KAFKA_STORAGE_ERROR.
    pub const KAFKA_STORAGE_ERROR: ErrorCode = ErrorCode(56);
    /// INVALID_TXN_STATE: the request is not valid in the transaction's state.
    pub const INVALID_TXN_STATE: ErrorCode = ErrorCode(48);
    /// INVALID_PRODUCER_ID_MAPPING: the producer id is not the transactional id's.
    pub const INVALID_PRODUCER_ID_MAPPING: ErrorCode = ErrorCode(49);
    /// CONCURRENT_TRANSACTIONS: the previous transaction is still being completed.
    pub const CONCURRENT_TRANSACTIONS: ErrorCode = ErrorCode(51);
    /// OPERATION_NOT_ATTEMPTED: not tried because another part of the request failed.
    pub const OPERATION_NOT_ATTEMPTED: ErrorCode = ErrorCode(55);
    /// TRANSACTION_ABORTABLE (KIP-890): the transaction can only be aborted.
    pub const TRANSACTION_ABORTABLE: ErrorCode = ErrorCode(120);
    /// TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: ErrorCode = ErrorCode(53);
    /// SASL_AUTHENTICATION_FAILED.
    pub const SASL_AUTHENTICATION_FAILED: ErrorCode = ErrorCode(58);
    /// UNKNOWN_PRODUCER_ID.
    pub const UNKNOWN_PRODUCER_ID: ErrorCode = ErrorCode(59);
    /// NON_EMPTY_GROUP.
    pub const NON_EMPTY_GROUP: ErrorCode = ErrorCode(68);
    /// GROUP_ID_NOT_FOUND.
    pub const GROUP_ID_NOT_FOUND: ErrorCode = ErrorCode(69);
    /// FETCH_SESSION_ID_NOT_FOUND.
    pub const FETCH_SESSION_ID_NOT_FOUND: ErrorCode = ErrorCode(70);
    /// INVALID_FETCH_SESSION_EPOCH.
    pub const INVALID_FETCH_SESSION_EPOCH: ErrorCode = ErrorCode(71);
    /// FENCED_LEADER_EPOCH.
    pub const FENCED_LEADER_EPOCH: ErrorCode = ErrorCode(74);
    /// UNKNOWN_LEADER_EPOCH.
    pub const UNKNOWN_LEADER_EPOCH: ErrorCode = ErrorCode(75);
    /// OFFSET_NOT_AVAILABLE.
    pub const OFFSET_NOT_AVAILABLE: ErrorCode = ErrorCode(78);
    /// MEMBER_ID_REQUIRED.
    pub const MEMBER_ID_REQUIRED: ErrorCode = ErrorCode(79);
    /// PREFERRED_LEADER_NOT_AVAILABLE.
    pub const PREFERRED_LEADER_NOT_AVAILABLE: ErrorCode = ErrorCode(80);
    /// FENCED_INSTANCE_ID.
    pub const FENCED_INSTANCE_ID: ErrorCode = ErrorCode(82);
    /// GROUP_SUBSCRIBED_TO_TOPIC.
    pub const GROUP_SUBSCRIBED_TO_TOPIC: ErrorCode = ErrorCode(86);
    /// INVALID_RECORD: the broker's validation rejected a record.
    pub const INVALID_RECORD: ErrorCode = ErrorCode(87);
    /// UNSTABLE_OFFSET_COMMIT.
    pub const UNSTABLE_OFFSET_COMMIT: ErrorCode = ErrorCode(88);
    /// PRODUCER_FENCED (KIP-588): a newer instance owns the producer id.
    pub const PRODUCER_FENCED: ErrorCode = ErrorCode(90);
    /// UNKNOWN_TOPIC_ID.
    pub const UNKNOWN_TOPIC_ID: ErrorCode = ErrorCode(100);
    /// INCONSISTENT_TOPIC_ID.
    pub const INCONSISTENT_TOPIC_ID: ErrorCode = ErrorCode(103);
    /// FENCED_MEMBER_EPOCH.
    pub const FENCED_MEMBER_EPOCH: ErrorCode = ErrorCode(110);
    /// UNRELEASED_INSTANCE_ID.
    pub const UNRELEASED_INSTANCE_ID: ErrorCode = ErrorCode(111);
    /// UNSUPPORTED_ASSIGNOR.
    pub const UNSUPPORTED_ASSIGNOR: ErrorCode = ErrorCode(112);
    /// STALE_MEMBER_EPOCH.
    pub const STALE_MEMBER_EPOCH: ErrorCode = ErrorCode(113);
    /// UNKNOWN_SUBSCRIPTION_ID.
    pub const UNKNOWN_SUBSCRIPTION_ID: ErrorCode = ErrorCode(117);
    /// INVALID_RECORD_STATE (share groups): an acknowledgement for a record
    /// this member does not hold (its acquisition lock expired, or it was
    /// acknowledged already).
    pub const INVALID_RECORD_STATE: ErrorCode = ErrorCode(121);
    /// SHARE_SESSION_NOT_FOUND.
    pub const SHARE_SESSION_NOT_FOUND: ErrorCode = ErrorCode(122);
    /// INVALID_SHARE_SESSION_EPOCH.
    pub const INVALID_SHARE_SESSION_EPOCH: ErrorCode = ErrorCode(123);
    /// INVALID_REGULAR_EXPRESSION.
    pub const INVALID_REGULAR_EXPRESSION: ErrorCode = ErrorCode(128);
    /// SHARE_SESSION_LIMIT_REACHED.
    pub const SHARE_SESSION_LIMIT_REACHED: ErrorCode = ErrorCode(133);

    /// True for success.
    #[inline]
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// True for any error.
    #[inline]
    pub fn is_err(self) -> bool {
        self.0 != 0
    }

    /// `Ok(())` for success, `Err(self)` otherwise.
    #[inline]
    pub fn check(self) -> Result<(), ErrorCode> {
        if self.0 == 0 { Ok(()) } else { Err(self) }
    }

    /// Whether Kafka marks this error retriable.
    pub fn is_retriable(self) -> bool {
        ResponseError::try_from_code(self.0).is_some_and(|e| e.is_retriable())
    }

    /// Kafka's name for this code, e.g. `NOT_LEADER_OR_FOLLOWER`.
    pub fn name(self) -> Cow<'static, str> {
        match self.0 {
            0 => Cow::Borrowed("NONE"),
            -1 => Cow::Borrowed("UNKNOWN_SERVER_ERROR"),
            code => match ResponseError::try_from_code(code) {
                Some(ResponseError::Unknown(_)) | None => Cow::Owned(format!("UNKNOWN_ERROR_CODE_{code}")),
                Some(e) => Cow::Owned(screaming_snake(&format!("{e:?}"))),
            },
        }
    }
}

fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::error::Error for ErrorCode {}

impl From<i16> for ErrorCode {
    fn from(v: i16) -> Self {
        ErrorCode(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kafka() {
        assert_eq!(ErrorCode(6).name(), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(ErrorCode(36).name(), "TOPIC_ALREADY_EXISTS");
        assert_eq!(ErrorCode(17).name(), "INVALID_TOPIC_EXCEPTION");
        assert_eq!(ErrorCode(0).name(), "NONE");
        assert_eq!(ErrorCode(-1).name(), "UNKNOWN_SERVER_ERROR");
        assert_eq!(ErrorCode(9999).name(), "UNKNOWN_ERROR_CODE_9999");
    }

    #[test]
    fn retriable_follows_kafka() {
        assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
        assert!(ErrorCode::NOT_ENOUGH_REPLICAS.is_retriable());
        assert!(!ErrorCode::TOPIC_ALREADY_EXISTS.is_retriable());
        assert!(!ErrorCode(9999).is_retriable());
    }
}

/// A request could not be encoded (a field not valid at the negotiated version, say).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {api:?} v{version}: {reason}")]
pub struct EncodeError {
    /// The API.
    pub api: crate::api::ApiKey,
    /// The version.
    pub version: i16,
    /// What went wrong.
    pub reason: String,
}
