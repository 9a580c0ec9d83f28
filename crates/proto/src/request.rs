//! Request envelopes: size prefix, request header, body.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::RequestHeader;
use kafka_protocol::protocol::{Encodable, StrBytes};

use crate::api::{ApiKey, request_header_version, response_header_version};
use crate::wire::Reader;
use crate::{DecodeError, EncodeError};

/// A request kwire can send: a `kafka-protocol` message struct tied to its API
/// key and to kwire's own (bounds-checked) decoder for the response.
pub trait Request: Encodable {
    /// The API this request belongs to.
    const KEY: ApiKey;
    /// kwire's decoded response.
    type Response: Response;
}

/// A response kwire can decode safely from untrusted bytes.
pub trait Response: Sized {
    /// Decodes a response body (after the response header) of `version`.
    fn decode(body: Bytes, version: i16) -> Result<Self, DecodeError>;
}

/// Byte offset of the correlation id inside an encoded frame (after the 4-byte
/// size prefix, the api key and the api version).
pub const CORRELATION_ID_OFFSET: usize = 8;

/// Encodes a complete frame (size prefix + header + body) for `body` at `version`.
/// The buffer is returned mutable so the correlation id can be patched in place.
///
/// The correlation id can be rewritten later with [`set_correlation_id`], which
/// lets a connection driver assign ids in the order frames hit the socket.
pub fn encode_request<R: Encodable>(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    body: &R,
) -> Result<BytesMut, EncodeError> {
    let mut header = RequestHeader::default();
    header.request_api_key = key as i16;
    header.request_api_version = version;
    header.correlation_id = correlation_id;
    header.client_id = client_id.map(|c| StrBytes::from_string(c.to_owned()));
    let hv = request_header_version(key, version);
    let err = |reason: String| EncodeError { api: key, version, reason };
    let map = |e: &dyn std::fmt::Display| err(e.to_string());
    let size =
        header.compute_size(hv).map_err(|e| map(&e))? + body.compute_size(version).map_err(|e| map(&e))?;
    let size32 = i32::try_from(size).map_err(|_| err(format!("request of {size} bytes is too large")))?;
    let mut out = BytesMut::with_capacity(4 + size);
    out.put_i32(size32);
    header.encode(&mut out, hv).map_err(|e| map(&e))?;
    body.encode(&mut out, version).map_err(|e| map(&e))?;
    debug_assert_eq!(out.len(), 4 + size);
    Ok(out)
}

/// Overwrites the correlation id of an encoded frame.
pub fn set_correlation_id(frame: &mut [u8], id: i32) {
    if let Some(slot) = frame.get_mut(CORRELATION_ID_OFFSET..CORRELATION_ID_OFFSET + 4) {
        slot.copy_from_slice(&id.to_be_bytes());
    }
}

/// Reads the correlation id at the start of a response frame body, without
/// consuming anything. Errors if the frame is shorter than 4 bytes.
pub fn peek_correlation_id(frame: &[u8]) -> Result<i32, DecodeError> {
    match frame.first_chunk::<4>() {
        Some(b) => Ok(i32::from_be_bytes(*b)),
        None => Err(DecodeError::Truncated { what: "correlation id", needed: 4, remaining: frame.len() }),
    }
}

/// Splits a response frame body into its correlation id and response body,
/// skipping the header's tagged fields for flexible versions.
pub fn split_response(frame: Bytes, key: ApiKey, version: i16) -> Result<(i32, Bytes), DecodeError> {
    let mut r = Reader::new(frame);
    let correlation_id = r.i32()?;
    if response_header_version(key, version) >= 1 {
        r.skip_tagged_fields(true)?;
    }
    Ok((correlation_id, r.into_rest()))
}

/// Decodes a whole response frame body (header + body) for request type `R`.
pub fn decode_response<R: Request>(frame: Bytes, version: i16) -> Result<(i32, R::Response), DecodeError> {
    let (cid, body) = split_response(frame, R::KEY, version)?;
    Ok((cid, R::Response::decode(body, version)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::MetadataRequest;
    use kafka_protocol::protocol::Decodable;

    #[test]
    fn encodes_header_and_patches_correlation_id() {
        let req = MetadataRequest::default().with_topics(Some(vec![]));
        let mut frame = encode_request(ApiKey::Metadata, 9, 0, Some("kwire"), &req).unwrap().to_vec();
        set_correlation_id(&mut frame, 0x0102_0304);
        let size = i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(size, frame.len() - 4);
        let mut body = Bytes::from(frame[4..].to_vec());
        let header = RequestHeader::decode(&mut body, 2).unwrap();
        assert_eq!(header.request_api_key, 3);
        assert_eq!(header.request_api_version, 9);
        assert_eq!(header.correlation_id, 0x0102_0304);
        assert_eq!(header.client_id.as_deref(), Some("kwire"));
        let back = MetadataRequest::decode(&mut body, 9).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn short_response_is_an_error_not_a_panic() {
        assert!(peek_correlation_id(&[1, 2]).is_err());
        assert!(split_response(Bytes::from_static(&[0, 0, 0, 1]), ApiKey::Metadata, 9).is_err());
        let (cid, rest) =
            split_response(Bytes::from_static(&[0, 0, 0, 7, 0, 9]), ApiKey::Metadata, 9).unwrap();
        assert_eq!((cid, &rest[..]), (7, &[9u8][..]));
    }

    /// A valid body followed by junk inside the frame is an error, not a
    /// silently accepted response (hostile-peer scenario "extra bytes").
    #[test]
    fn trailing_bytes_after_a_valid_body_are_an_error() {
        use crate::msg::testutil::encode;
        use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, MetadataResponse};
        for (v, hv) in [(1i16, 0u8), (12, 1)] {
            let mut frame = vec![0, 0, 0, 5];
            if hv == 1 {
                frame.push(0); // header tagged fields
            }
            frame.extend_from_slice(&encode(&MetadataResponse::default(), v));
            let ok = Bytes::from(frame.clone());
            assert!(decode_response::<MetadataRequest>(ok, v).is_ok(), "v{v}");
            frame.extend_from_slice(&[0xab; 16]);
            let err = decode_response::<MetadataRequest>(Bytes::from(frame), v).unwrap_err();
            assert_eq!(err, DecodeError::TrailingBytes { count: 16 }, "v{v}");
        }
        let mut frame = vec![0, 0, 0, 5];
        frame.extend_from_slice(&encode(&ApiVersionsResponse::default(), 3));
        frame.push(0);
        let err = decode_response::<ApiVersionsRequest>(Bytes::from(frame), 3).unwrap_err();
        assert_eq!(err, DecodeError::TrailingBytes { count: 1 });
    }
}
