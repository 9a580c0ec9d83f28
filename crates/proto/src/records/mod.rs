//! Kafka record batches: the v2 (magic 2) encoder and decoder, legacy message
//! sets (magic 0 and 1) for reading, and the four compression codecs.
//!
//! Sans-IO and hostile-input-safe: every length and count read from the wire
//! is checked against the bytes that remain before it is used, decompression
//! is capped ([`DecodeOptions::max_decompressed`]), and nothing panics.
//!
//! # Producing
//!
//! A [`RecordBatchBuilder`] is filled record by record (the producer's
//! accumulator appends until [`Append::Full`]), then closed with
//! [`RecordBatchBuilder::finish`], which compresses, fills in the header and
//! CRC, and hands back an [`EncodedBatch`] whose [`bytes`](EncodedBatch::bytes)
//! go into a ProduceRequest partition's `records` field.
//!
//! ```
//! use bytes::Bytes;
//! use kwire_proto::records::{Append, BatchOptions, Compression, Header, RecordBatchBuilder};
//!
//! let mut builder = RecordBatchBuilder::new(BatchOptions::default().compression(Compression::Lz4));
//! let headers = [Header::new("trace", Some(Bytes::from_static(b"abc")))];
//! let appended = builder
//!     .try_append(1_700_000_000_000, Some(b"key"), Some(b"value"), &headers)
//!     .unwrap();
//! assert_eq!(appended, Append::Appended);
//! let batch = builder.finish().unwrap();
//! assert_eq!(batch.record_count(), 1);
//! // batch.bytes() is the ProduceRequest `records` payload.
//! # assert!(batch.bytes().len() > 61);
//! ```
//!
//! # Fetching
//!
//! [`batches`] walks a Fetch response's `records` buffer lazily. A truncated
//! last batch is normal there (the broker cuts at `max_bytes`): the iterator
//! stops and [`Batches::incomplete`] says how many bytes were left, while
//! corruption is an `Err`.
//!
//! ```
//! # use kwire_proto::records::{BatchOptions, RecordBatchBuilder};
//! use kwire_proto::records::{batches, DecodeOptions};
//! # let mut b = RecordBatchBuilder::new(BatchOptions::default());
//! # b.append(1, None, Some(b"v"), &[]).unwrap();
//! # let fetched = b.finish().unwrap().into_bytes();
//! let opts = DecodeOptions::default();
//! let mut iter = batches(fetched, &opts);
//! for batch in &mut iter {
//!     let batch = batch?;
//!     if batch.is_control() {
//!         continue; // transaction markers: see Batch::control_record
//!     }
//!     for record in batch.records()? {
//!         let record = record?;
//!         let _ = (record.offset, record.timestamp, record.key, record.value);
//!         for header in record.headers() {
//!             let _ = (header.key, header.value);
//!         }
//!     }
//! }
//! assert_eq!(iter.incomplete(), None); // no truncated tail
//! # Ok::<(), kwire_proto::records::RecordsError>(())
//! ```

mod builder;
pub mod compression;
mod decode;
mod error;
#[cfg(not(feature = "zstd-c"))]
mod zstd_encode;

#[cfg(test)]
mod tests;

use bytes::Bytes;

pub use builder::{Append, BatchOptions, EncodedBatch, RecordBatchBuilder};
pub use compression::Compression;
pub use decode::{
    Batch, BatchHeader, Batches, ControlRecord, ControlType, DecodeOptions, HeaderRef, Headers, RecordRef,
    Records, batches,
};
pub use error::RecordsError;

/// Producer id of a batch written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;
/// Producer epoch of a batch written without idempotence.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// Base sequence of a batch written without idempotence.
pub const NO_SEQUENCE: i32 = -1;
/// Partition leader epoch a producer writes (the broker fills it in).
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;
/// Timestamp of records that have none (magic 0).
pub const NO_TIMESTAMP: i64 = -1;

/// Size of the v2 batch header, up to and including the record count.
pub const V2_HEADER_SIZE: usize = 61;
/// Bytes before the batch length's coverage starts: base offset + batch length.
pub const LOG_OVERHEAD: usize = 12;

// Field positions in a v2 batch, from the start of the batch.
pub(crate) const LENGTH_POS: usize = 8;
pub(crate) const MAGIC_POS: usize = 16;
pub(crate) const CRC_POS: usize = 17;
pub(crate) const ATTRIBUTES_POS: usize = 21;
pub(crate) const PRODUCER_ID_POS: usize = 43;

pub(crate) const ATTR_COMPRESSION_MASK: i16 = 0x07;
pub(crate) const ATTR_TIMESTAMP_TYPE: i16 = 0x08;
pub(crate) const ATTR_TRANSACTIONAL: i16 = 0x10;
pub(crate) const ATTR_CONTROL: i16 = 0x20;
pub(crate) const ATTR_DELETE_HORIZON: i16 = 0x40;

/// What a record's timestamp means (batch attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer (`message.timestamp.type=CreateTime`, the default).
    #[default]
    CreateTime,
    /// Set by the broker when it appended the batch (`LogAppendTime`); every
    /// record of such a batch reads the batch's max timestamp.
    LogAppendTime,
}

/// A record header. Kafka keeps header order and duplicate keys; a value may
/// be null.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// Header key (UTF-8 in every Kafka client, not checked here).
    pub key: Bytes,
    /// Header value, `None` for null.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header with `key` and `value`.
    pub fn new(key: impl Into<Bytes>, value: Option<Bytes>) -> Self {
        Header { key: key.into(), value }
    }
}

/// An owned record, for building batches from a list and for comparing in tests.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Record {
    /// Timestamp in milliseconds since the epoch.
    pub timestamp: i64,
    /// Key, `None` for null.
    pub key: Option<Bytes>,
    /// Value, `None` for null (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in order, duplicates kept.
    pub headers: Vec<Header>,
}

/// Encodes `records` as one batch with `options`: a shortcut for a
/// [`RecordBatchBuilder`] that appends everything (ignoring the size limit).
///
/// Fails with [`RecordsError::EmptyBatch`] for an empty list.
pub fn encode_batch(records: &[Record], options: BatchOptions) -> Result<EncodedBatch, RecordsError> {
    let mut builder = RecordBatchBuilder::new(options);
    for r in records {
        builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers)?;
    }
    builder.finish()
}
