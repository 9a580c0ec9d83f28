//! Errors of the record batch codec.

use crate::DecodeError;

use super::Compression;

/// A record batch could not be decoded or encoded.
///
/// Decoding errors mean the bytes are corrupt or hostile (never "need more
/// bytes": a truncated last batch is reported by [`Batches::incomplete`](super::Batches::incomplete)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// Malformed bytes: a length, count or field that cannot be valid.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The stored CRC does not match the batch (or legacy message) contents.
    #[error(
        "corrupt record batch at offset {base_offset}: stored CRC {stored:#010x}, computed {computed:#010x}"
    )]
    CrcMismatch {
        /// Base offset of the batch (offset of the message for magic 0/1).
        base_offset: i64,
        /// CRC stored in the batch.
        stored: u32,
        /// CRC computed over the bytes.
        computed: u32,
    },
    /// A magic byte other than 0, 1 or 2.
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    /// Compression bits 5, 6 or 7.
    #[error("unknown compression codec id {0}")]
    UnknownCompression(u8),
    /// The codec rejected the compressed bytes.
    #[error("{codec} decompression failed: {reason}")]
    Decompress {
        /// Codec.
        codec: Compression,
        /// What the codec said.
        reason: String,
    },
    /// Decompressing would exceed [`DecodeOptions::max_decompressed`](super::DecodeOptions::max_decompressed)
    /// (or the compressed data declares more than that).
    #[error("{codec} batch decompresses to more than the {limit}-byte limit")]
    DecompressedTooLarge {
        /// Codec.
        codec: Compression,
        /// The configured limit.
        limit: usize,
    },
    /// The codec failed while compressing.
    #[error("{codec} compression failed: {reason}")]
    Compress {
        /// Codec.
        codec: Compression,
        /// What the codec said.
        reason: String,
    },
    /// [`RecordBatchBuilder::finish`](super::RecordBatchBuilder::finish) on a builder with no record.
    #[error("cannot encode a record batch with no records")]
    EmptyBatch,
    /// A value that does not fit the wire format (a key over 2 GiB, a
    /// timestamp delta that overflows, more than `i32::MAX` records, …).
    #[error("cannot encode record batch: {0}")]
    TooLarge(&'static str),
}

impl RecordsError {
    pub(crate) fn invalid(what: &'static str) -> Self {
        RecordsError::Decode(DecodeError::Invalid(what))
    }

    pub(crate) fn decompress(codec: Compression, reason: impl std::fmt::Display) -> Self {
        RecordsError::Decompress { codec, reason: reason.to_string() }
    }

    /// True if the batch failed its CRC check (the data is corrupt).
    pub fn is_crc_mismatch(&self) -> bool {
        matches!(self, RecordsError::CrcMismatch { .. })
    }
}
