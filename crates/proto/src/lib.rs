//! kwire-proto: the sans-IO core of kwire.
//!
//! Frames, request and response envelopes, kwire's own bounds-checked decoders
//! for every response it reads, API version tables and Kafka's error codes. No
//! runtime, no sockets, no clock: everything here is a pure function of bytes.
//!
//! ```
//! use bytes::BytesMut;
//! use kwire_proto::frame::{encode_frame, FrameDecoder};
//!
//! let mut wire = BytesMut::new();
//! encode_frame(&mut wire, b"hello");
//! let frame = FrameDecoder::default().decode(&mut wire).unwrap().unwrap();
//! assert_eq!(&frame[..], b"hello");
//! ```
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo, clippy::unimplemented)]

pub mod api;
mod error;
pub mod frame;
pub mod hash;
pub mod msg;
pub mod murmur2;
pub mod props;
pub mod records;
mod request;
mod vocab;
pub mod wire;

pub use error::{DecodeError, EncodeError, ErrorCode, FrameError};
pub use request::{
    CORRELATION_ID_OFFSET, Request, Response, decode_response, encode_request, peek_correlation_id,
    set_correlation_id, split_response,
};
pub use vocab::{EARLIEST_OFFSET, LATEST_OFFSET, TopicPartition};

/// Re-export of the message-struct crate used to build requests.
pub use kafka_protocol;
