//! Connection-layer errors. Every variant names the broker address.

use std::time::Duration;

use kwire_proto::api::{ApiKey, Versions};
use kwire_proto::{DecodeError, EncodeError, ErrorCode, FrameError};

/// Errors from a connection or the broker pool.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    /// The address could not be parsed or resolved.
    #[error("cannot resolve {addr}: {reason}")]
    Resolve {
        /// Address as given.
        addr: String,
        /// Why.
        reason: String,
    },
    /// TCP connect failed.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// Address as given.
        addr: String,
        /// The OS error, e.g. `Connection refused (os error 111)`.
        reason: String,
    },
    /// TCP connect or the ApiVersions handshake did not finish in time.
    #[error("cannot connect to {addr}: no answer within {timeout:?}")]
    ConnectTimeout {
        /// Address as given.
        addr: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// A socket read or write failed.
    #[error("connection to {addr} failed: {reason}")]
    Io {
        /// Broker address.
        addr: String,
        /// The OS error.
        reason: String,
    },
    /// The peer closed the connection (possibly in the middle of a response).
    #[error("connection to {addr} closed by the broker{detail}")]
    Closed {
        /// Broker address.
        addr: String,
        /// Extra context (e.g. " in the middle of a response").
        detail: &'static str,
    },
    /// A request got no response within the request timeout.
    #[error("{api:?} request to {addr} timed out after {timeout:?}")]
    Timeout {
        /// Broker address.
        addr: String,
        /// The API.
        api: ApiKey,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The response stream can't be matched to requests any more.
    #[error("protocol desync with {addr}: {detail}; connection closed")]
    Desync {
        /// Broker address.
        addr: String,
        /// What was seen.
        detail: String,
    },
    /// An invalid frame (too large, negative size, TLS bytes on a plaintext connection).
    #[error("invalid response from {addr}: {source}")]
    Frame {
        /// Broker address.
        addr: String,
        /// The framing error.
        source: FrameError,
    },
    /// A response body could not be decoded.
    #[error("malformed {api:?} v{version} response from {addr}: {source}")]
    Decode {
        /// Broker address.
        addr: String,
        /// The API.
        api: ApiKey,
        /// The version.
        version: i16,
        /// The decode error.
        source: DecodeError,
    },
    /// A request could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// kwire and the broker share no version of an API.
    #[error("broker {addr} does not support {api:?} in any version kwire speaks (kwire: v{}-v{}, broker: {broker})", ours.min, ours.max)]
    UnsupportedApi {
        /// Broker address.
        addr: String,
        /// The API.
        api: ApiKey,
        /// kwire's range.
        ours: Versions,
        /// The broker's range, or "none".
        broker: String,
    },
    /// The ApiVersions handshake returned an error code.
    #[error("broker {addr} rejected ApiVersions: {code}")]
    Handshake {
        /// Broker address.
        addr: String,
        /// The error.
        code: ErrorCode,
    },
    /// The connection was already closed when the request was made.
    #[error("connection to {addr} is closed")]
    NotConnected {
        /// Broker address.
        addr: String,
    },
    /// The pool knows no address for a broker id.
    #[error("unknown broker id {0} (not in the latest metadata)")]
    UnknownBroker(i32),
    /// No bootstrap server could be reached.
    #[error("no bootstrap server reachable: {0}")]
    NoBootstrap(String),
}

impl ConnError {
    /// True when the connection is gone (the request may be retried on a new one).
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            ConnError::Connect { .. }
                | ConnError::ConnectTimeout { .. }
                | ConnError::Io { .. }
                | ConnError::Closed { .. }
                | ConnError::NotConnected { .. }
                | ConnError::Desync { .. }
        )
    }
}
