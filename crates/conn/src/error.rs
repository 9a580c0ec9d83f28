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
    #[error("invalid response from {addr}: {cause}")]
    Frame {
        /// Broker address.
        addr: String,
        /// The framing error (already in the message, so not an error `source`:
        /// `{:#}` would print it twice).
        cause: FrameError,
    },
    /// The peer answered with text (`HTTP/1.1 400 ...`), not a Kafka frame:
    /// the address is some other service (an HTTP proxy, a web console).
    #[error("{addr} is not a Kafka broker (the reply starts with \"{start}\"){}", crate::frame::hint(start))]
    NotKafka {
        /// The address.
        addr: String,
        /// The first line of the reply (printable ASCII, cut at 60 characters).
        start: String,
    },
    /// A response body could not be decoded.
    #[error("malformed {api:?} v{version} response from {addr}: {cause}")]
    Decode {
        /// Broker address.
        addr: String,
        /// The API.
        api: ApiKey,
        /// The version.
        version: i16,
        /// The decode error (in the message; not an error `source`).
        cause: DecodeError,
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
    /// SASL authentication failed: wrong credentials (the broker's message),
    /// a mechanism the listener doesn't enable, or a server that failed SCRAM's
    /// checks. Retrying can't help; the error is fatal.
    #[error("authentication failed with {addr} ({mechanism}): {reason}")]
    Auth {
        /// Broker address.
        addr: String,
        /// The SASL mechanism.
        mechanism: &'static str,
        /// Why, e.g. the broker's SASL_AUTHENTICATION_FAILED message.
        reason: String,
    },
    /// The TLS handshake failed: an untrusted or mismatched certificate, a
    /// client certificate the broker wants or refuses, a non-TLS listener.
    /// Fatal like [`ConnError::Auth`].
    #[error("TLS handshake with {addr} failed: {reason}")]
    Tls {
        /// Broker address.
        addr: String,
        /// What rustls reported, with a hint.
        reason: String,
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

    /// True when no answer came: [`is_disconnect`](Self::is_disconnect), no
    /// bootstrap server reachable, or a request unanswered within the
    /// request timeout. A long-running client waits such an outage out (the
    /// cluster may be restarting or partitioned away) where a one-shot
    /// command reports it. (A [`ConnError::NoBootstrap`] sums up each
    /// address's failure; authentication and TLS failures end the attempt
    /// before it, so it never stands for them.)
    pub fn is_unreachable(&self) -> bool {
        self.is_disconnect() || matches!(self, ConnError::NoBootstrap(_) | ConnError::Timeout { .. })
    }

    /// True for authentication and TLS failures ([`ConnError::Auth`],
    /// [`ConnError::Tls`]): the credentials or certificates are wrong, so
    /// retrying (on this or another broker) would only hammer the cluster.
    /// Such errors are never [`is_disconnect`](Self::is_disconnect).
    pub fn is_auth(&self) -> bool {
        matches!(self, ConnError::Auth { .. } | ConnError::Tls { .. })
    }

    /// True when the broker broke the protocol: an invalid frame (over the
    /// cap, negative size, TLS bytes on a plaintext connection, text from a
    /// peer that isn't Kafka), a body that
    /// doesn't decode (or has bytes left over), or a response that matches no
    /// request. A real broker never does this, and asking again gets the same
    /// answer, so retrying only loops.
    pub fn is_protocol_violation(&self) -> bool {
        matches!(
            self,
            ConnError::Frame { .. }
                | ConnError::NotKafka { .. }
                | ConnError::Decode { .. }
                | ConnError::Desync { .. }
        )
    }

    /// True when retrying can't help: [`is_auth`](Self::is_auth) or
    /// [`is_protocol_violation`](Self::is_protocol_violation). The producer
    /// and the fetcher fail the affected records or partitions at once.
    pub fn is_fatal(&self) -> bool {
        self.is_auth() || self.is_protocol_violation()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_and_tls_failures_are_fatal_not_disconnects() {
        let auth = ConnError::Auth { addr: "b:1".into(), mechanism: "PLAIN", reason: "bad".into() };
        let tls = ConnError::Tls { addr: "b:1".into(), reason: "bad".into() };
        for e in [auth, tls] {
            assert!(e.is_auth() && e.is_fatal() && !e.is_disconnect(), "{e}");
        }
        assert!(!ConnError::Closed { addr: "b:1".into(), detail: "" }.is_auth());
        assert_eq!(
            ConnError::Auth {
                addr: "b:1".into(),
                mechanism: "SCRAM-SHA-256",
                reason: "Invalid credentials".into()
            }
            .to_string(),
            "authentication failed with b:1 (SCRAM-SHA-256): Invalid credentials"
        );
    }

    /// Hostile-broker scenarios: bytes that break the protocol are fatal (the
    /// producer and fetcher stop retrying); a dropped connection or a timeout
    /// is not.
    #[test]
    fn protocol_violations_are_fatal_disconnects_are_not() {
        let frame = ConnError::Frame { addr: "b:1".into(), cause: FrameError::Negative(-1) };
        let decode = ConnError::Decode {
            addr: "b:1".into(),
            api: ApiKey::Fetch,
            version: 16,
            cause: DecodeError::TrailingBytes { count: 1 },
        };
        let desync = ConnError::Desync { addr: "b:1".into(), detail: "unknown correlation id".into() };
        for e in [frame, decode, desync] {
            assert!(e.is_protocol_violation() && e.is_fatal() && !e.is_auth(), "{e}");
        }
        let closed = ConnError::Closed { addr: "b:1".into(), detail: " in the middle of a response" };
        let timeout =
            ConnError::Timeout { addr: "b:1".into(), api: ApiKey::Fetch, timeout: Duration::from_secs(1) };
        for e in [closed, timeout] {
            assert!(!e.is_fatal(), "{e}");
        }
    }

    /// What a long-running client waits out: no answer at all, from one
    /// broker or every bootstrap server; never a wrong answer or wrong
    /// credentials.
    #[test]
    fn unreachable_means_no_answer() {
        let refused = ConnError::Connect { addr: "b:1".into(), reason: "Connection refused".into() };
        let reset = ConnError::Io { addr: "b:1".into(), reason: "Connection reset by peer".into() };
        let none = ConnError::NoBootstrap("every address refused".into());
        let timeout =
            ConnError::Timeout { addr: "b:1".into(), api: ApiKey::Metadata, timeout: Duration::from_secs(1) };
        for e in [refused, reset, none, timeout] {
            assert!(e.is_unreachable() && !e.is_fatal(), "{e}");
        }
        let auth = ConnError::Auth { addr: "b:1".into(), mechanism: "PLAIN", reason: "bad".into() };
        let tls = ConnError::Tls { addr: "b:1".into(), reason: "bad".into() };
        let frame = ConnError::Frame { addr: "b:1".into(), cause: FrameError::Negative(-1) };
        let unknown = ConnError::UnknownBroker(7);
        for e in [auth, tls, frame, unknown] {
            assert!(!e.is_unreachable(), "{e}");
        }
    }
}
