//! Legacy message sets (magic 0 and 1), read only.
//!
//! Each top-level message is presented as a [`Batch`]: an uncompressed
//! message as a batch of one record; a compressed "wrapper" message (its
//! value a compressed message set) as a batch of its inner messages, which
//! are decompressed and checked when the batch is read (old format, rare:
//! eagerness keeps the offsets exact). Offsets follow Java's
//! `AbstractLegacyRecordBatch`: magic 1 wrappers carry the *last* inner
//! offset and inner offsets are relative (KIP-31); magic 0 inner offsets are
//! absolute. Magic 0 LZ4 uses the broken frame header checksum of KIP-57.

use bytes::Bytes;

use super::{Batch, BatchHeader, DecodeOptions, MIN_MESSAGE_SIZE, RecordRef};
use crate::DecodeError;
use crate::records::compression::{self, Compression};
use crate::records::{
    ATTR_TIMESTAMP_TYPE, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
    NO_TIMESTAMP, RecordsError,
};
use crate::wire::Reader;

/// Smallest magic-1 message: magic 0's plus the timestamp.
const MIN_MESSAGE_SIZE_V1: usize = MIN_MESSAGE_SIZE + 8;

/// How a legacy batch's records get their offsets and timestamps.
#[derive(Debug, Clone)]
pub(crate) struct LegacyInfo {
    /// Added to each stored offset (non-zero for magic-1 wrappers).
    offset_adjust: i64,
    /// The wrapper's timestamp, for magic-1 wrappers with LogAppendTime.
    log_append_time: Option<i64>,
}

/// One message parsed from a message set; ranges index the set's buffer.
struct Entry {
    offset: i64,
    crc: u32,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<(usize, usize)>,
    value: Option<(usize, usize)>,
}

/// An `int32`-length nullable field that must end by `end`.
fn field32(r: &mut Reader, end: usize, what: &'static str) -> Result<Option<(usize, usize)>, RecordsError> {
    let len = r.i32()?;
    if len == -1 {
        return Ok(None);
    }
    let n = usize::try_from(len).map_err(|_| DecodeError::NegativeLength { what, len })?;
    let start = r.position();
    if n > end.saturating_sub(start) {
        return Err(RecordsError::invalid("legacy message field overruns the message"));
    }
    r.skip(n, what)?;
    Ok(Some((start, start + n)))
}

/// Reads `offset, size, message` at `r`'s position in `data`.
fn read_entry(r: &mut Reader, data: &Bytes, verify_crc: bool) -> Result<Entry, RecordsError> {
    let offset = r.i64()?;
    let size = r.i32()?;
    let size =
        usize::try_from(size).map_err(|_| DecodeError::NegativeLength { what: "message size", len: size })?;
    if size < MIN_MESSAGE_SIZE {
        return Err(RecordsError::invalid("legacy message shorter than its header"));
    }
    if size > r.remaining() {
        return Err(DecodeError::Truncated {
            what: "legacy message",
            needed: size,
            remaining: r.remaining(),
        }
        .into());
    }
    let end = r.position() + size;
    let crc = r.u32()?;
    let magic_pos = r.position();
    let magic = r.i8()?;
    if magic != 0 && magic != 1 {
        return Err(RecordsError::UnsupportedMagic(magic));
    }
    if magic == 1 && size < MIN_MESSAGE_SIZE_V1 {
        return Err(RecordsError::invalid("legacy message shorter than its header"));
    }
    let attributes = r.i8()?;
    let timestamp = if magic == 1 { r.i64()? } else { NO_TIMESTAMP };
    let key = field32(r, end, "message key")?;
    let value = field32(r, end, "message value")?;
    if r.position() != end {
        return Err(RecordsError::invalid("legacy message size does not match its fields"));
    }
    if verify_crc {
        let computed = crc32fast::hash(data.get(magic_pos..end).unwrap_or_default());
        if computed != crc {
            return Err(RecordsError::CrcMismatch { base_offset: offset, stored: crc, computed });
        }
    }
    Ok(Entry { offset, crc, magic, attributes, timestamp, key, value })
}

fn header(e: &Entry, raw_len: usize) -> BatchHeader {
    BatchHeader {
        base_offset: e.offset,
        batch_length: i32::try_from(raw_len.saturating_sub(crate::records::LOG_OVERHEAD)).unwrap_or(i32::MAX),
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        magic: e.magic,
        crc: e.crc,
        attributes: i16::from(e.attributes) & 0x0f,
        last_offset_delta: 0,
        base_timestamp: e.timestamp,
        max_timestamp: e.timestamp,
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        base_sequence: NO_SEQUENCE,
        record_count: 1,
    }
}

/// Parses one top-level legacy message (`raw` is exactly its bytes).
pub(crate) fn parse_batch(raw: Bytes, opts: &DecodeOptions) -> Result<Batch, RecordsError> {
    let mut r = Reader::new(raw.clone());
    let wrapper = read_entry(&mut r, &raw, opts.verify_crc)?;
    let codec_id = (wrapper.attributes & 0x07) as u8;
    let mut h = header(&wrapper, raw.len());
    if codec_id == 0 {
        let info = LegacyInfo { offset_adjust: 0, log_append_time: None };
        return Ok(Batch::legacy(h, raw.clone(), raw, info));
    }
    let codec = match Compression::from_id(codec_id) {
        Some(c @ (Compression::Gzip | Compression::Snappy | Compression::Lz4)) => c,
        _ => return Err(RecordsError::UnknownCompression(codec_id)),
    };
    let (a, b) =
        wrapper.value.ok_or_else(|| RecordsError::invalid("compressed legacy message with a null value"))?;
    let compressed = raw.get(a..b).unwrap_or_default();
    let inner = if codec == Compression::Lz4 && wrapper.magic == 0 {
        compression::decompress_lz4_broken_checksum(compressed, opts.max_decompressed)?
    } else {
        compression::decompress(codec, compressed, opts.max_decompressed)?
    };
    let inner = Bytes::from(inner);

    // Walk the inner set once: check every message, learn count and offsets.
    let mut ir = Reader::new(inner.clone());
    let mut count: i32 = 0;
    let mut first: Option<(i64, i64)> = None;
    let mut last_offset = 0i64;
    while ir.remaining() > 0 {
        let e = read_entry(&mut ir, &inner, opts.verify_crc)?;
        if e.attributes & 0x07 != 0 {
            return Err(RecordsError::invalid("nested compression in a legacy message set"));
        }
        count = count.checked_add(1).ok_or_else(|| RecordsError::invalid("too many inner messages"))?;
        first.get_or_insert((e.offset, e.timestamp));
        last_offset = e.offset;
    }
    let Some((first_offset, first_ts)) = first else {
        return Err(RecordsError::invalid("compressed legacy message with no inner messages"));
    };
    let offset_adjust = if wrapper.magic >= 1 {
        wrapper
            .offset
            .checked_sub(last_offset)
            .ok_or_else(|| RecordsError::invalid("legacy inner offset overflows"))?
    } else {
        0
    };
    let base = first_offset
        .checked_add(offset_adjust)
        .ok_or_else(|| RecordsError::invalid("legacy inner offset overflows"))?;
    let delta = last_offset
        .checked_sub(first_offset)
        .and_then(|d| i32::try_from(d).ok())
        .filter(|d| *d >= 0)
        .ok_or_else(|| RecordsError::invalid("legacy inner offsets are not increasing"))?;
    let log_append = wrapper.magic == 1 && i16::from(wrapper.attributes) & ATTR_TIMESTAMP_TYPE != 0;
    h.base_offset = base;
    h.last_offset_delta = delta;
    h.record_count = count;
    h.base_timestamp = if log_append { wrapper.timestamp } else { first_ts };
    let info = LegacyInfo { offset_adjust, log_append_time: log_append.then_some(wrapper.timestamp) };
    Ok(Batch::legacy(h, raw, inner, info))
}

/// Records of a legacy batch (all messages already validated by [`parse_batch`]).
#[derive(Debug)]
pub(crate) struct LegacyIter<'a> {
    data: &'a Bytes,
    r: Reader,
    offset_adjust: i64,
    log_append_time: Option<i64>,
    remaining: i32,
}

impl<'a> LegacyIter<'a> {
    pub(crate) fn new(data: &'a Bytes, info: &LegacyInfo, count: i32) -> Self {
        LegacyIter {
            data,
            r: Reader::new(data.clone()),
            offset_adjust: info.offset_adjust,
            log_append_time: info.log_append_time,
            remaining: count,
        }
    }

    pub(crate) fn remaining(&self) -> i32 {
        self.remaining.max(0)
    }

    #[inline(never)]
    pub(crate) fn next(&mut self) -> Option<Result<RecordRef<'a>, RecordsError>> {
        if self.remaining <= 0 || self.r.remaining() == 0 {
            return None;
        }
        self.remaining -= 1;
        let res = read_entry(&mut self.r, self.data, false).and_then(|e| {
            let data: &'a Bytes = self.data;
            let slice = |r: Option<(usize, usize)>| r.and_then(|(a, b)| data.get(a..b));
            let offset = e
                .offset
                .checked_add(self.offset_adjust)
                .ok_or_else(|| RecordsError::invalid("legacy offset overflows"))?;
            Ok(RecordRef::legacy(
                offset,
                self.log_append_time.unwrap_or(e.timestamp),
                slice(e.key),
                slice(e.value),
                data,
            ))
        });
        if res.is_err() {
            self.remaining = 0;
        }
        Some(res)
    }
}
