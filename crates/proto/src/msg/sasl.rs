//! SaslHandshake (key 17) and SaslAuthenticate (key 36): SASL authentication
//! inside Kafka frames (KIP-152). The handshake names the mechanism; each
//! authenticate round carries one opaque SASL token each way.

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

/// Decoded SaslHandshake response (v0-v1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslHandshakeResponse {
    /// `UNSUPPORTED_SASL_MECHANISM` when the broker doesn't enable the one asked for.
    pub error_code: ErrorCode,
    /// The mechanisms the broker enables on this listener.
    pub mechanisms: Vec<String>,
}

impl Response for SaslHandshakeResponse {
    fn decode(body: Bytes, _version: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let error_code = ErrorCode(r.i16()?);
        let mechanisms = r.array(false, 2, |r| r.string(false))?;
        r.finish()?;
        Ok(SaslHandshakeResponse { error_code, mechanisms })
    }
}

impl Request for SaslHandshakeRequest {
    const KEY: ApiKey = ApiKey::SaslHandshake;
    type Response = SaslHandshakeResponse;
}

/// Decoded SaslAuthenticate response (v0-v2).
///
/// `auth_bytes` is the server's SASL token. It is not secret for the
/// mechanisms kwire speaks, but `Debug` prints only its length anyway.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SaslAuthenticateResponse {
    /// `SASL_AUTHENTICATION_FAILED` for bad credentials.
    pub error_code: ErrorCode,
    /// The broker's explanation of an error.
    pub error_message: Option<String>,
    /// The server's SASL token.
    pub auth_bytes: Bytes,
    /// Milliseconds until the broker expects re-authentication (v1+; 0: never).
    pub session_lifetime_ms: i64,
}

impl std::fmt::Debug for SaslAuthenticateResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslAuthenticateResponse")
            .field("error_code", &self.error_code)
            .field("error_message", &self.error_message)
            .field("auth_bytes", &format_args!("<{} bytes>", self.auth_bytes.len()))
            .field("session_lifetime_ms", &self.session_lifetime_ms)
            .finish()
    }
}

impl Response for SaslAuthenticateResponse {
    fn decode(body: Bytes, version: i16) -> Result<Self, DecodeError> {
        let flex = version >= 2;
        let mut r = Reader::new(body);
        let error_code = ErrorCode(r.i16()?);
        let error_message = r.nullable_string(flex)?;
        let auth_bytes = r.bytes(flex)?;
        let session_lifetime_ms = if version >= 1 { r.i64()? } else { 0 };
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(SaslAuthenticateResponse { error_code, error_message, auth_bytes, session_lifetime_ms })
    }
}

impl Request for SaslAuthenticateRequest {
    const KEY: ApiKey = ApiKey::SaslAuthenticate;
    type Response = SaslAuthenticateResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::{SaslAuthenticateResponse as KpAuth, SaslHandshakeResponse as KpHs};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn handshake_matches_kafka_protocol(
            err in any::<i16>(),
            mechs in proptest::collection::vec("[A-Z0-9-]{0,16}", 0..6),
            version in 0i16..=1,
        ) {
            let mut m = KpHs::default();
            m.error_code = err;
            m.mechanisms = mechs.iter().map(|s| sb(s)).collect();
            let bytes = encode(&m, version);
            let ours = SaslHandshakeResponse::decode(bytes.clone(), version).unwrap();
            prop_assert_eq!(ours.error_code.0, err);
            prop_assert_eq!(&ours.mechanisms, &mechs);
            all_prefixes_fail(&bytes, |b| SaslHandshakeResponse::decode(b, version));
        }

        #[test]
        fn authenticate_matches_kafka_protocol(
            err in any::<i16>(),
            msg in proptest::option::of("[ -~]{0,40}"),
            token in proptest::collection::vec(any::<u8>(), 0..200),
            lifetime in any::<i64>(),
            version in 0i16..=2,
        ) {
            let mut m = KpAuth::default();
            m.error_code = err;
            m.error_message = msg.as_deref().map(sb);
            m.auth_bytes = Bytes::from(token.clone());
            if version >= 1 {
                m.session_lifetime_ms = lifetime;
            }
            let bytes = encode(&m, version);
            let ours = SaslAuthenticateResponse::decode(bytes.clone(), version).unwrap();
            prop_assert_eq!(ours.error_code.0, err);
            prop_assert_eq!(&ours.error_message, &msg);
            prop_assert_eq!(&ours.auth_bytes[..], &token[..]);
            prop_assert_eq!(ours.session_lifetime_ms, if version >= 1 { lifetime } else { 0 });
            all_prefixes_fail(&bytes, |b| SaslAuthenticateResponse::decode(b, version));
        }
    }

    #[test]
    fn hostile_counts_are_rejected_before_allocating() {
        // error 0, then a mechanism count of 2^31-1 with nothing behind it.
        let body = Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(SaslHandshakeResponse::decode(body, 1).is_err());
        // A token claiming 2 GiB.
        let body = Bytes::from_static(&[0, 0, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
        assert!(SaslAuthenticateResponse::decode(body, 0).is_err());
    }

    #[test]
    fn debug_does_not_print_the_token() {
        let r =
            SaslAuthenticateResponse { auth_bytes: Bytes::from_static(b"secret-ish"), ..Default::default() };
        let s = format!("{r:?}");
        assert!(!s.contains("secret"), "{s}");
        assert!(s.contains("10 bytes"), "{s}");
    }
}
