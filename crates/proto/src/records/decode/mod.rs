//! The lazy, zero-copy decoder: batches → records → headers.

use std::sync::OnceLock;

use bytes::Bytes;

use super::compression::{self, Compression, DEFAULT_MAX_DECOMPRESSED};
mod legacy;

use super::{
    ATTR_COMPRESSION_MASK, ATTR_CONTROL, ATTR_DELETE_HORIZON, ATTR_TIMESTAMP_TYPE, ATTR_TRANSACTIONAL,
    ATTRIBUTES_POS, Header, LENGTH_POS, LOG_OVERHEAD, MAGIC_POS, Record, RecordsError, TimestampType,
    V2_HEADER_SIZE,
};
use crate::DecodeError;
use crate::wire::Reader;
use legacy::LegacyIter;

/// Smallest legacy (magic 0) message after the log overhead: crc, magic,
/// attributes, key length, value length.
pub(crate) const MIN_MESSAGE_SIZE: usize = 14;
/// Bytes needed to read the magic byte.
const HEADER_SIZE_UP_TO_MAGIC: usize = MAGIC_POS + 1;
/// Smallest possible v2 record: length, attributes, timestamp delta, offset
/// delta, key length, value length, header count, one byte each.
const MIN_RECORD_SIZE: usize = 7;

/// How [`batches`] checks and decompresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Check each batch's CRC32C (CRC32 for magic 0/1). On by default; turn
    /// off only for data already checked (the broker validates on produce).
    pub verify_crc: bool,
    /// Largest decompressed records section accepted per batch; more is a
    /// [`RecordsError::DecompressedTooLarge`]. Default 64 MiB.
    pub max_decompressed: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { verify_crc: true, max_decompressed: DEFAULT_MAX_DECOMPRESSED }
    }
}

impl DecodeOptions {
    /// Sets [`verify_crc`](Self::verify_crc).
    pub fn verify_crc(mut self, yes: bool) -> Self {
        self.verify_crc = yes;
        self
    }
    /// Sets [`max_decompressed`](Self::max_decompressed).
    pub fn max_decompressed(mut self, bytes: usize) -> Self {
        self.max_decompressed = bytes;
        self
    }
}

/// Iterates the batches in a Fetch response's `records` buffer (or a log
/// segment): see [`Batches`].
pub fn batches(data: Bytes, opts: &DecodeOptions) -> Batches {
    Batches { rest: data, opts: *opts, incomplete: None, done: false }
}

/// Iterator over the batches of a records buffer, from [`batches`].
///
/// Yields `Ok(batch)` for each whole batch, `Err` for corruption (then
/// stops), and stops without error at a truncated last batch, which
/// [`incomplete`](Self::incomplete) then reports. Only the batch header is
/// parsed (and the CRC checked) here; records are decoded by [`Batch::records`].
#[derive(Debug, Clone)]
pub struct Batches {
    rest: Bytes,
    opts: DecodeOptions,
    incomplete: Option<usize>,
    done: bool,
}

impl Batches {
    /// After iteration: `Some(n)` if it stopped at a partial batch of which
    /// `n` bytes were present (normal in Fetch responses; if no whole batch
    /// came before it, the fetch size is smaller than one batch). `None`
    /// while iterating, at a clean end, and after an error.
    pub fn incomplete(&self) -> Option<usize> {
        self.incomplete
    }

    /// The bytes not yet consumed.
    pub fn remaining(&self) -> &Bytes {
        &self.rest
    }

    fn fail(&mut self, e: impl Into<RecordsError>) -> Option<Result<Batch, RecordsError>> {
        self.done = true;
        Some(Err(e.into()))
    }

    fn stop_incomplete(&mut self) -> Option<Result<Batch, RecordsError>> {
        self.done = true;
        self.incomplete = Some(self.rest.len());
        None
    }
}

impl Iterator for Batches {
    type Item = Result<Batch, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let n = self.rest.len();
        if n == 0 {
            self.done = true;
            return None;
        }
        let Some(head) = self.rest.get(..HEADER_SIZE_UP_TO_MAGIC) else {
            return self.stop_incomplete();
        };
        let size = i32::from_be_bytes([
            head[LENGTH_POS],
            head[LENGTH_POS + 1],
            head[LENGTH_POS + 2],
            head[LENGTH_POS + 3],
        ]);
        let magic = head[MAGIC_POS] as i8;
        let min = match magic {
            2 => V2_HEADER_SIZE - LOG_OVERHEAD,
            0 | 1 => MIN_MESSAGE_SIZE,
            m => return self.fail(RecordsError::UnsupportedMagic(m)),
        };
        let size = match usize::try_from(size) {
            Ok(s) if s >= min => s,
            _ => {
                return self.fail(DecodeError::Invalid("record batch length below the minimum"));
            }
        };
        let total = size + LOG_OVERHEAD;
        if n < total {
            return self.stop_incomplete();
        }
        let raw = self.rest.split_to(total);
        let res = if magic == 2 { parse_v2(raw, &self.opts) } else { legacy::parse_batch(raw, &self.opts) };
        match res {
            Ok(b) => Some(Ok(b)),
            Err(e) => self.fail(e),
        }
    }
}

impl std::iter::FusedIterator for Batches {}

fn parse_v2(raw: Bytes, opts: &DecodeOptions) -> Result<Batch, RecordsError> {
    let mut r = Reader::new(raw.clone());
    let base_offset = r.i64()?;
    let batch_length = r.i32()?;
    let partition_leader_epoch = r.i32()?;
    let magic = r.i8()?;
    let crc = r.u32()?;
    if opts.verify_crc {
        let computed = crc32c::crc32c(raw.get(ATTRIBUTES_POS..).unwrap_or_default());
        if computed != crc {
            return Err(RecordsError::CrcMismatch { base_offset, stored: crc, computed });
        }
    }
    let attributes = r.i16()?;
    let codec_id = (attributes & ATTR_COMPRESSION_MASK) as u8;
    let compression = Compression::from_id(codec_id).ok_or(RecordsError::UnknownCompression(codec_id))?;
    let header = BatchHeader {
        base_offset,
        batch_length,
        partition_leader_epoch,
        magic,
        crc,
        attributes,
        last_offset_delta: r.i32()?,
        base_timestamp: r.i64()?,
        max_timestamp: r.i64()?,
        producer_id: r.i64()?,
        producer_epoch: r.i16()?,
        base_sequence: r.i32()?,
        record_count: r.i32()?,
    };
    if header.record_count < 0 {
        return Err(DecodeError::NegativeLength { what: "record count", len: header.record_count }.into());
    }
    if header.last_offset_delta < 0 {
        return Err(RecordsError::invalid("negative last offset delta"));
    }
    if base_offset.checked_add(i64::from(header.last_offset_delta)).is_none() {
        return Err(RecordsError::invalid("last offset overflows"));
    }
    let data = r.into_rest();
    let count = header.record_count as usize;
    if compression == Compression::None && count.saturating_mul(MIN_RECORD_SIZE) > data.len() {
        return Err(DecodeError::CountTooLarge { count, remaining: data.len() }.into());
    }
    Ok(Batch {
        header,
        compression,
        raw,
        data,
        decompressed: OnceLock::new(),
        max_decompressed: opts.max_decompressed,
        legacy: None,
    })
}

/// The header fields of a batch (v2), or their equivalents for a legacy
/// message (magic 0/1: producer fields -1, attributes from the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the length field.
    pub batch_length: i32,
    /// Leader epoch when the batch was appended (-1 for magic 0/1).
    pub partition_leader_epoch: i32,
    /// 2, or 0/1 for legacy messages.
    pub magic: i8,
    /// Stored CRC (CRC32C for v2, CRC32 of the wrapper message for 0/1).
    pub crc: u32,
    /// Attributes: codec, timestamp type, transactional, control, delete horizon.
    pub attributes: i16,
    /// Last record's offset minus `base_offset`.
    pub last_offset_delta: i32,
    /// First record's timestamp (or the delete horizon, see [`Self::delete_horizon_ms`]).
    pub base_timestamp: i64,
    /// Largest record timestamp (the append time for LogAppendTime batches).
    pub max_timestamp: i64,
    /// Producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// First record's sequence, -1 if none.
    pub base_sequence: i32,
    /// Number of records (as declared; never trusted for allocation).
    pub record_count: i32,
}

impl BatchHeader {
    /// Codec of the records section.
    pub fn compression(&self) -> Compression {
        Compression::from_id((self.attributes & ATTR_COMPRESSION_MASK) as u8).unwrap_or_default()
    }
    /// Timestamp type.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & ATTR_TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
    /// Transactional batch.
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }
    /// Control batch (transaction markers and KRaft control records).
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }
    /// The delete horizon (compaction of tombstones, KIP-534): set, the
    /// base timestamp is that horizon.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.attributes & ATTR_DELETE_HORIZON != 0).then_some(self.base_timestamp)
    }
    /// Offset of the last record (validated not to overflow when decoded).
    pub fn last_offset(&self) -> i64 {
        self.base_offset.saturating_add(i64::from(self.last_offset_delta))
    }
    /// The offset after this batch: where the next fetch starts.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }
    /// Sequence of the last record, wrapping past `i32::MAX` to 0 like Kafka.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return self.base_sequence;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        (last % (i64::from(i32::MAX) + 1)) as i32
    }
}

/// One batch: its header, and its records on demand.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Header fields.
    pub header: BatchHeader,
    compression: Compression,
    raw: Bytes,
    /// v2: the records section as on the wire. Legacy: a message set (the
    /// message itself, or the decompressed inner set).
    data: Bytes,
    decompressed: OnceLock<Bytes>,
    max_decompressed: usize,
    legacy: Option<legacy::LegacyInfo>,
}

impl Batch {
    pub(crate) fn legacy(header: BatchHeader, raw: Bytes, data: Bytes, info: legacy::LegacyInfo) -> Batch {
        Batch {
            compression: header.compression(),
            header,
            raw,
            data,
            decompressed: OnceLock::new(),
            max_decompressed: 0,
            legacy: Some(info),
        }
    }

    /// The whole batch as received (to forward or store it unchanged).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }
    /// Magic byte: 2, or 0/1 for a legacy message.
    pub fn magic(&self) -> i8 {
        self.header.magic
    }
    /// Codec of the records section.
    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// Offset of the first record.
    pub fn base_offset(&self) -> i64 {
        self.header.base_offset
    }
    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.header.last_offset()
    }
    /// The offset after this batch.
    pub fn next_offset(&self) -> i64 {
        self.header.next_offset()
    }
    /// Declared record count.
    pub fn record_count(&self) -> i32 {
        self.header.record_count
    }
    /// Control batch: skip it when consuming; [`control_record`](Self::control_record) reads it.
    pub fn is_control(&self) -> bool {
        self.header.is_control()
    }
    /// Transactional batch.
    pub fn is_transactional(&self) -> bool {
        self.header.is_transactional()
    }
    /// Producer id (-1 if none): with [`is_transactional`](Self::is_transactional),
    /// matched against a Fetch response's aborted transactions.
    pub fn producer_id(&self) -> i64 {
        self.header.producer_id
    }

    /// The records section, decompressed on first use (once per batch; the
    /// result is kept, so calling this twice decompresses once).
    pub fn records(&self) -> Result<Records<'_>, RecordsError> {
        if let Some(info) = &self.legacy {
            return Ok(Records {
                inner: Inner::Legacy(LegacyIter::new(&self.data, info, self.header.record_count)),
            });
        }
        let data = self.uncompressed()?;
        Ok(Records {
            inner: Inner::V2(V2Iter {
                data,
                pos: 0,
                remaining: self.header.record_count,
                base_offset: self.header.base_offset,
                base_timestamp: self.header.base_timestamp,
                log_append_time: (self.header.timestamp_type() == TimestampType::LogAppendTime)
                    .then_some(self.header.max_timestamp),
            }),
        })
    }

    fn uncompressed(&self) -> Result<&Bytes, RecordsError> {
        if self.compression == Compression::None {
            return Ok(&self.data);
        }
        if self.header.record_count == 0 {
            // Compaction can leave empty batches; there is nothing to inflate.
            return Ok(self.decompressed.get_or_init(Bytes::new));
        }
        if let Some(d) = self.decompressed.get() {
            return Ok(d);
        }
        // No Kafka batch holds more than i32::MAX bytes of records.
        let limit = self.max_decompressed.min(i32::MAX as usize);
        let out = compression::decompress(self.compression, &self.data, limit)?;
        let count = self.header.record_count as usize;
        if count.saturating_mul(MIN_RECORD_SIZE) > out.len() {
            return Err(DecodeError::CountTooLarge { count, remaining: out.len() }.into());
        }
        Ok(self.decompressed.get_or_init(|| Bytes::from(out)))
    }

    /// For a control batch, its control record (a transaction marker:
    /// [`ControlType::Abort`] / [`ControlType::Commit`], or a KRaft record);
    /// `None` for a data batch or an empty control batch.
    pub fn control_record(&self) -> Result<Option<ControlRecord>, RecordsError> {
        if !self.is_control() {
            return Ok(None);
        }
        match self.records()?.next() {
            None => Ok(None),
            Some(rec) => {
                let rec = rec?;
                ControlRecord::parse(rec.key, rec.value).map(Some)
            }
        }
    }
}

/// Iterator over a batch's records, from [`Batch::records`].
///
/// Each record is checked (its length against the bytes that remain, every
/// field against the record's length, headers walked) before it is yielded;
/// nothing is allocated per record. The declared record count is never used
/// to allocate; fewer records than declared is an error, as are bytes left
/// after the last one. After an error the iterator ends.
#[derive(Debug)]
pub struct Records<'a> {
    inner: Inner<'a>,
}

#[derive(Debug)]
enum Inner<'a> {
    V2(V2Iter<'a>),
    Legacy(LegacyIter<'a>),
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RecordRef<'a>, RecordsError>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::V2(it) => it.next(),
            Inner::Legacy(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = match &self.inner {
            Inner::V2(it) => it.remaining,
            Inner::Legacy(it) => it.remaining(),
        };
        (0, Some(usize::try_from(left).unwrap_or(0)))
    }
}

impl std::iter::FusedIterator for Records<'_> {}

#[derive(Debug)]
struct V2Iter<'a> {
    data: &'a Bytes,
    /// Cursor into `data`.
    pos: usize,
    /// Records left; -1 once finished (or failed).
    remaining: i32,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
}

/// Why a record could not be read. Small (12 bytes) and `Copy` so results
/// travel in registers and the hot loop never builds (or drops) a
/// [`RecordsError`] unless a record is bad.
#[derive(Debug, Clone, Copy)]
enum Fail {
    /// The record's length prefix runs past the records section.
    Truncated {
        needed: u32,
        remaining: u32,
    },
    /// A field runs past the record's length.
    Overrun,
    /// A varint longer than its type.
    Overlong,
    /// A length below -1 (or a negative count).
    Negative(Field, i32),
    /// More headers than the record's bytes could hold.
    HeaderCount(u32, u32),
    NullHeaderKey,
    /// The fields end before the record's length.
    LengthMismatch,
    OffsetOverflow,
    TimestampOverflow,
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Record,
    Key,
    Value,
    HeaderCount,
    HeaderKey,
    HeaderValue,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Record => "record",
            Field::Key => "record key",
            Field::Value => "record value",
            Field::HeaderCount => "header count",
            Field::HeaderKey => "header key",
            Field::HeaderValue => "header value",
        }
    }
}

impl From<Fail> for RecordsError {
    #[cold]
    fn from(f: Fail) -> RecordsError {
        match f {
            Fail::Truncated { needed, remaining } => DecodeError::Truncated {
                what: "record",
                needed: needed as usize,
                remaining: remaining as usize,
            }
            .into(),
            Fail::Overrun => RecordsError::invalid("record fields overrun the record length"),
            Fail::Overlong => RecordsError::invalid("varint longer than its type"),
            Fail::Negative(what, len) => DecodeError::NegativeLength { what: what.name(), len }.into(),
            Fail::HeaderCount(count, remaining) => {
                DecodeError::CountTooLarge { count: count as usize, remaining: remaining as usize }.into()
            }
            Fail::NullHeaderKey => RecordsError::invalid("null header key"),
            Fail::LengthMismatch => RecordsError::invalid("record length does not match its fields"),
            Fail::OffsetOverflow => RecordsError::invalid("record offset overflows"),
            Fail::TimestampOverflow => RecordsError::invalid("record timestamp overflows"),
        }
    }
}

// Records are read from a plain slice with an index rather than through
// `wire::Reader` (whose every read goes through `Bytes`' cursor), with the
// same rules: every read is `get`-checked against the record's end, varints
// are limited to 5/10 bytes exactly like `Reader::uvarint`/`uvarlong`.
//
// Two readers share those rules. `record_fast` (the hot path, `fast_*`
// helpers) returns `Option`s that stay in registers and inlines one- and
// two-byte varints (every length under 8 KiB); on any `None` the record is
// re-read by the careful `record` (helpers below), which says exactly what is
// wrong. A proptest checks the fast reader never accepts what the careful one
// rejects.

#[inline]
fn uvarint(buf: &[u8], p: &mut usize) -> Result<u32, Fail> {
    let (v, next) = uvarint_slow(buf, *p)?;
    *p = next;
    Ok(v)
}

/// Takes and returns the position by value so the caller's cursor can stay
/// in a register.
#[inline(never)]
fn uvarint_slow(buf: &[u8], mut p: usize) -> Result<(u32, usize), Fail> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let b = *buf.get(p).ok_or(Fail::Overrun)?;
        p += 1;
        if i == 4 && b > 0x0f {
            return Err(Fail::Overlong);
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, p));
        }
    }
    Err(Fail::Overlong)
}

#[inline]
fn varint(buf: &[u8], p: &mut usize) -> Result<i32, Fail> {
    let v = uvarint(buf, p)?;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

#[inline]
fn varlong(buf: &[u8], p: &mut usize) -> Result<i64, Fail> {
    let (v, next) = uvarlong_slow(buf, *p)?;
    *p = next;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

#[inline(never)]
fn uvarlong_slow(buf: &[u8], mut p: usize) -> Result<(u64, usize), Fail> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let b = *buf.get(p).ok_or(Fail::Overrun)?;
        p += 1;
        if i == 9 && b > 0x01 {
            return Err(Fail::Overlong);
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, p));
        }
    }
    Err(Fail::Overlong)
}

/// A nullable varint-length field inside `rec`.
#[inline]
fn field<'a>(rec: &'a [u8], p: &mut usize, what: Field) -> Result<Option<&'a [u8]>, Fail> {
    let len = varint(rec, p)?;
    if len < 0 {
        return if len == -1 { Ok(None) } else { Err(Fail::Negative(what, len)) };
    }
    let end = p.checked_add(len as usize).ok_or(Fail::Overrun)?;
    let f = rec.get(*p..end).ok_or(Fail::Overrun)?;
    *p = end;
    Ok(Some(f))
}

#[inline(always)]
fn fast_uvarint(buf: &[u8], p: &mut usize) -> Option<u32> {
    let i = *p;
    let b0 = *buf.get(i)?;
    if b0 < 0x80 {
        *p = i + 1;
        return Some(u32::from(b0));
    }
    let b1 = *buf.get(i + 1)?;
    if b1 < 0x80 {
        *p = i + 2;
        return Some(u32::from(b0 & 0x7f) | (u32::from(b1) << 7));
    }
    let (v, next) = uvarint_slow(buf, i).ok()?;
    *p = next;
    Some(v)
}

#[inline(always)]
fn fast_varint(buf: &[u8], p: &mut usize) -> Option<i32> {
    let v = fast_uvarint(buf, p)?;
    Some(((v >> 1) as i32) ^ -((v & 1) as i32))
}

#[inline(always)]
fn fast_varlong(buf: &[u8], p: &mut usize) -> Option<i64> {
    let i = *p;
    let b0 = *buf.get(i)?;
    let v = if b0 < 0x80 {
        *p = i + 1;
        u64::from(b0)
    } else {
        match buf.get(i + 1) {
            Some(&b1) if b1 < 0x80 => {
                *p = i + 2;
                u64::from(b0 & 0x7f) | (u64::from(b1) << 7)
            }
            _ => {
                let (v, next) = uvarlong_slow(buf, i).ok()?;
                *p = next;
                v
            }
        }
    };
    Some(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// `Some(None)` for a null field, `None` if malformed. Reads the zig-zag
/// length raw: odd values are negative, and only 1 (= -1, null) is allowed.
#[inline(always)]
fn fast_field<'a>(rec: &'a [u8], p: &mut usize) -> Option<Option<&'a [u8]>> {
    let raw = fast_uvarint(rec, p)?;
    if raw & 1 != 0 {
        return if raw == 1 { Some(None) } else { None };
    }
    let end = p.checked_add((raw >> 1) as usize)?;
    let f = rec.get(*p..end)?;
    *p = end;
    Some(Some(f))
}

/// A non-negative zig-zag varint (a length or count), `None` if negative.
#[inline(always)]
fn fast_len(buf: &[u8], p: &mut usize) -> Option<u32> {
    let raw = fast_uvarint(buf, p)?;
    if raw & 1 != 0 {
        return None;
    }
    Some(raw >> 1)
}

impl<'a> V2Iter<'a> {
    #[inline(always)]
    fn next(&mut self) -> Option<Result<RecordRef<'a>, RecordsError>> {
        if self.remaining <= 0 {
            if self.remaining == 0 {
                self.remaining = -1;
                if self.pos != self.data.len() {
                    return Some(Err(RecordsError::invalid("bytes left after the batch's last record")));
                }
            }
            return None;
        }
        self.remaining -= 1;
        if let Some(rec) = self.record_fast() {
            return Some(Ok(rec));
        }
        // Malformed (or a case the fast path leaves to the careful one):
        // re-read with full error detail.
        match self.record() {
            Ok(rec) => Some(Ok(rec)),
            Err(e) => {
                self.remaining = -1;
                Some(Err(e.into()))
            }
        }
    }

    /// The hot path: the same checks as [`Self::record`], with `Option`
    /// results that stay in registers; `None` for anything wrong, never a
    /// record `record` would reject.
    #[inline(always)]
    fn record_fast(&mut self) -> Option<RecordRef<'a>> {
        let data: &'a Bytes = self.data;
        let buf: &'a [u8] = data;
        let mut p = self.pos;
        let len = fast_len(buf, &mut p)?;
        let end = p.checked_add(len as usize)?;
        let rec = buf.get(..end)?;
        rec.get(p)?; // attributes (unused)
        p += 1;
        let ts_delta = fast_varlong(rec, &mut p)?;
        let offset_delta = fast_varint(rec, &mut p)?;
        let key = fast_field(rec, &mut p)?;
        let value = fast_field(rec, &mut p)?;
        let header_count = fast_len(rec, &mut p)?;
        let headers_start = p;
        if (header_count as usize).saturating_mul(2) > end.saturating_sub(p) {
            return None;
        }
        for _ in 0..header_count {
            fast_field(rec, &mut p)??;
            fast_field(rec, &mut p)?;
        }
        if p != end {
            return None;
        }
        let offset = self.base_offset.checked_add(i64::from(offset_delta))?;
        let timestamp = match self.log_append_time {
            Some(t) => t,
            None => self.base_timestamp.checked_add(ts_delta)?,
        };
        self.pos = end;
        Some(RecordRef {
            offset,
            timestamp,
            key,
            value,
            headers_at: u32::try_from(headers_start).ok()?,
            header_count,
            buf: data,
        })
    }

    /// The careful reader: exact errors for a record the fast path refused.
    #[cold]
    #[inline(never)]
    fn record(&mut self) -> Result<RecordRef<'a>, Fail> {
        let data: &'a Bytes = self.data;
        let buf: &'a [u8] = data;
        let mut p = self.pos;
        let len = varint(buf, &mut p).map_err(|e| match e {
            Fail::Overrun => Fail::Truncated { needed: 1, remaining: 0 },
            e => e,
        })?;
        let len = usize::try_from(len).map_err(|_| Fail::Negative(Field::Record, len))?;
        let remaining = buf.len().saturating_sub(p);
        if len > remaining {
            let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            return Err(Fail::Truncated { needed: clamp(len), remaining: clamp(remaining) });
        }
        let end = p + len;
        // Every read below is bounded by the record's own end.
        let rec = buf.get(..end).ok_or(Fail::Overrun)?;
        rec.get(p).ok_or(Fail::Overrun)?; // attributes (unused)
        p += 1;
        let ts_delta = varlong(rec, &mut p)?;
        let offset_delta = varint(rec, &mut p)?;
        let key = field(rec, &mut p, Field::Key)?;
        let value = field(rec, &mut p, Field::Value)?;
        let header_count = varint(rec, &mut p)?;
        let header_count =
            u32::try_from(header_count).map_err(|_| Fail::Negative(Field::HeaderCount, header_count))?;
        let headers_start = p;
        let room = end.saturating_sub(p);
        if (header_count as usize).saturating_mul(2) > room {
            return Err(Fail::HeaderCount(header_count, u32::try_from(room).unwrap_or(u32::MAX)));
        }
        for _ in 0..header_count {
            if field(rec, &mut p, Field::HeaderKey)?.is_none() {
                return Err(Fail::NullHeaderKey);
            }
            field(rec, &mut p, Field::HeaderValue)?;
        }
        if p != end {
            return Err(Fail::LengthMismatch);
        }
        let offset = self.base_offset.checked_add(i64::from(offset_delta)).ok_or(Fail::OffsetOverflow)?;
        let timestamp = match self.log_append_time {
            Some(t) => t,
            None => self.base_timestamp.checked_add(ts_delta).ok_or(Fail::TimestampOverflow)?,
        };
        self.pos = end;
        Ok(RecordRef {
            offset,
            timestamp,
            key,
            value,
            headers_at: u32::try_from(headers_start).map_err(|_| Fail::Overrun)?,
            header_count,
            buf: data,
        })
    }
}

/// One record, borrowing from its batch (zero-copy).
///
/// `key`/`value` are slices; [`key_bytes`](Self::key_bytes) and
/// [`value_bytes`](Self::value_bytes) give `Bytes` sharing the fetched (or
/// decompressed) buffer without copying.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// Absolute offset.
    pub offset: i64,
    /// Timestamp in ms (the batch's max timestamp for LogAppendTime batches;
    /// -1 for magic 0).
    pub timestamp: i64,
    /// Key, `None` for null.
    pub key: Option<&'a [u8]>,
    /// Value, `None` for null.
    pub value: Option<&'a [u8]>,
    /// Where the (validated) headers start in `buf`: a records section is
    /// at most `i32::MAX` bytes, so this fits.
    headers_at: u32,
    header_count: u32,
    buf: &'a Bytes,
}

impl<'a> RecordRef<'a> {
    pub(crate) fn legacy(
        offset: i64,
        timestamp: i64,
        key: Option<&'a [u8]>,
        value: Option<&'a [u8]>,
        buf: &'a Bytes,
    ) -> Self {
        RecordRef { offset, timestamp, key, value, headers_at: 0, header_count: 0, buf }
    }

    /// The key as `Bytes` sharing the batch's buffer.
    pub fn key_bytes(&self) -> Option<Bytes> {
        self.key.map(|k| self.buf.slice_ref(k))
    }
    /// The value as `Bytes` sharing the batch's buffer.
    pub fn value_bytes(&self) -> Option<Bytes> {
        self.value.map(|v| self.buf.slice_ref(v))
    }
    /// Number of headers.
    pub fn header_count(&self) -> usize {
        self.header_count as usize
    }
    /// Headers in wire order, duplicates kept (validated when the record was read).
    pub fn headers(&self) -> Headers<'a> {
        let rest = if self.header_count == 0 {
            &[][..]
        } else {
            self.buf.get(self.headers_at as usize..).unwrap_or_default()
        };
        Headers { rest, remaining: self.header_count }
    }
    /// An owned copy-free [`Record`] (the offset is dropped).
    pub fn to_record(&self) -> Record {
        Record {
            timestamp: self.timestamp,
            key: self.key_bytes(),
            value: self.value_bytes(),
            headers: self
                .headers()
                .map(|h| Header {
                    key: self.buf.slice_ref(h.key),
                    value: h.value.map(|v| self.buf.slice_ref(v)),
                })
                .collect(),
        }
    }
}

/// Iterator over a record's headers, from [`RecordRef::headers`].
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    rest: &'a [u8],
    remaining: u32,
}

/// One header, borrowing from its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    /// Key bytes (UTF-8 by convention).
    pub key: &'a [u8],
    /// Value, `None` for null.
    pub value: Option<&'a [u8]>,
}

impl<'a> HeaderRef<'a> {
    /// The key as UTF-8, if it is.
    pub fn key_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.key).ok()
    }
}

/// Zig-zag varint from a slice already validated by the record reader.
#[inline]
fn slice_varint(buf: &mut &[u8]) -> Option<i32> {
    let mut v: u32 = 0;
    for i in 0..5 {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        v |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(((v >> 1) as i32) ^ -((v & 1) as i32));
        }
    }
    None
}

#[inline]
fn slice_field<'a>(buf: &mut &'a [u8]) -> Option<Option<&'a [u8]>> {
    let len = slice_varint(buf)?;
    if len == -1 {
        return Some(None);
    }
    let n = usize::try_from(len).ok()?;
    if n > buf.len() {
        return None;
    }
    let (field, rest) = buf.split_at(n);
    *buf = rest;
    Some(Some(field))
}

impl<'a> Iterator for Headers<'a> {
    type Item = HeaderRef<'a>;

    fn next(&mut self) -> Option<HeaderRef<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let parsed = slice_field(&mut self.rest).and_then(|k| Some((k?, slice_field(&mut self.rest)?)));
        match parsed {
            Some((key, value)) => Some(HeaderRef { key, value }),
            None => {
                // Unreachable for records from `Records` (validated there).
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining as usize))
    }
}

impl std::iter::FusedIterator for Headers<'_> {}

/// Kind of a control record (the `type` in its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlType {
    /// Transaction abort marker (type 0): skip the producer's records up to here
    /// when `isolation.level=read_committed`.
    Abort,
    /// Transaction commit marker (type 1).
    Commit,
    /// Any other type (KRaft leader change, snapshot header/footer, …).
    Other(i16),
}

/// A control record (the only record of a control batch): key = version
/// `i16` + type `i16`; for transaction markers, value = version `i16` +
/// coordinator epoch `i32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecord {
    /// Key version (0 today).
    pub version: i16,
    /// Marker type.
    pub kind: ControlType,
    /// Coordinator epoch of an abort/commit marker, when the value has one.
    pub coordinator_epoch: Option<i32>,
}

impl ControlRecord {
    /// Parses a control record's key and value (like Java's
    /// `ControlRecordType.parse`: at least 4 key bytes, non-negative version).
    pub fn parse(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<ControlRecord, RecordsError> {
        let key = key.ok_or_else(|| RecordsError::invalid("control record with a null key"))?;
        let Some(([v0, v1, t0, t1], _)) = key.split_first_chunk::<4>().map(|(h, r)| (*h, r)) else {
            return Err(RecordsError::invalid("control record key shorter than 4 bytes"));
        };
        let version = i16::from_be_bytes([v0, v1]);
        if version < 0 {
            return Err(RecordsError::invalid("negative control record version"));
        }
        let kind = match i16::from_be_bytes([t0, t1]) {
            0 => ControlType::Abort,
            1 => ControlType::Commit,
            other => ControlType::Other(other),
        };
        let coordinator_epoch = match kind {
            ControlType::Abort | ControlType::Commit => value
                .and_then(|v| v.get(2..6))
                .and_then(|e| <[u8; 4]>::try_from(e).ok())
                .map(i32::from_be_bytes),
            ControlType::Other(_) => None,
        };
        Ok(ControlRecord { version, kind, coordinator_epoch })
    }

    /// The 4-byte key of a version-0 control record of `kind`.
    pub fn key(kind: ControlType) -> [u8; 4] {
        let t: i16 = match kind {
            ControlType::Abort => 0,
            ControlType::Commit => 1,
            ControlType::Other(t) => t,
        };
        let [a, b] = t.to_be_bytes();
        [0, 0, a, b]
    }

    /// The 6-byte value of a version-0 transaction marker.
    pub fn end_txn_value(coordinator_epoch: i32) -> [u8; 6] {
        let [a, b, c, d] = coordinator_epoch.to_be_bytes();
        [0, 0, a, b, c, d]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn iter(data: &Bytes, base_offset: i64, base_timestamp: i64) -> V2Iter<'_> {
        V2Iter { data, pos: 0, remaining: 1, base_offset, base_timestamp, log_append_time: None }
    }

    /// The fast path may only accept what the careful path accepts, with the same result.
    fn check_agree(data: Bytes, base_offset: i64, base_timestamp: i64) -> Result<(), TestCaseError> {
        let mut fast = iter(&data, base_offset, base_timestamp);
        let mut slow = iter(&data, base_offset, base_timestamp);
        let f = fast.record_fast();
        let s = slow.record();
        if let Some(f) = f {
            let s = s.map_err(|e| TestCaseError::fail(format!("fast accepted, careful rejected: {e:?}")))?;
            prop_assert_eq!((f.offset, f.timestamp, f.key, f.value), (s.offset, s.timestamp, s.key, s.value));
            prop_assert_eq!(f.headers().collect::<Vec<_>>(), s.headers().collect::<Vec<_>>());
            prop_assert_eq!(fast.pos, slow.pos);
        }
        Ok(())
    }

    fn valid_records() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            (
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
                proptest::collection::vec(
                    (
                        proptest::collection::vec(any::<u8>(), 0..5),
                        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..5)),
                    ),
                    0..3,
                ),
                any::<i64>(),
            ),
            1..3,
        )
        .prop_map(|recs| {
            let mut b = crate::records::RecordBatchBuilder::new(Default::default());
            for (v, hs, ts) in recs {
                let headers: Vec<_> = hs
                    .into_iter()
                    .map(|(k, v)| crate::records::Header::new(Bytes::from(k), v.map(Bytes::from)))
                    .collect();
                let _ = b.append(ts, None, v.as_deref(), &headers);
            }
            b.finish().map(|e| e.bytes()[V2_HEADER_SIZE..].to_vec()).unwrap_or_default()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn fast_path_agrees_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..40), bo in any::<i64>(), bt in any::<i64>()) {
            check_agree(Bytes::from(data), bo, bt)?;
        }

        #[test]
        fn fast_path_agrees_on_mutated_records(
            data in valid_records(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
            bo in prop_oneof![Just(0i64), Just(i64::MAX - 1), any::<i64>()],
            bt in prop_oneof![Just(0i64), Just(i64::MIN), any::<i64>()],
        ) {
            let mut data = data;
            if !data.is_empty() {
                for (i, b) in edits {
                    let at = i.index(data.len());
                    data[at] = b;
                }
                let keep = cut.index(data.len() + 1);
                if keep % 3 == 0 {
                    data.truncate(keep);
                }
            }
            check_agree(Bytes::from(data), bo, bt)?;
        }
    }
}
