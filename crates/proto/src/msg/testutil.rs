//! Helpers to cross-check kwire decoders against `kafka-protocol` encoders.

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::{Encodable, StrBytes};

/// Encodes a `kafka-protocol` response body at `version`.
pub fn encode<M: Encodable>(m: &M, version: i16) -> Bytes {
    let mut b = BytesMut::new();
    m.encode(&mut b, version).expect("encode");
    b.freeze()
}

/// A `StrBytes` from a `String`.
pub fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// Every strict prefix of a valid encoding must decode to an error, never panic.
pub fn all_prefixes_fail<T: std::fmt::Debug>(
    bytes: &Bytes,
    decode: impl Fn(Bytes) -> Result<T, crate::DecodeError>,
) {
    for cut in 0..bytes.len() {
        let r = decode(bytes.slice(..cut));
        assert!(r.is_err(), "prefix of {cut}/{} bytes decoded: {r:?}", bytes.len());
    }
}
