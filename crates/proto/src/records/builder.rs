//! The v2 batch encoder: an incremental builder for the producer's accumulator.

use bytes::{BufMut, Bytes, BytesMut};

use super::compression::{self, Compression};
use super::{
    ATTR_CONTROL, ATTR_TIMESTAMP_TYPE, ATTR_TRANSACTIONAL, ATTRIBUTES_POS, CRC_POS, Header,
    NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, PRODUCER_ID_POS, RecordsError,
    TimestampType, V2_HEADER_SIZE,
};

/// Java's `COMPRESSION_RATE_ESTIMATION_FACTOR`: headroom on the estimated ratio.
const RATIO_ESTIMATION_FACTOR: f64 = 1.05;

/// Settings of one batch: codec, attributes, producer state, size limit.
///
/// Defaults are a producer's without idempotence: no compression, CreateTime,
/// producer id/epoch/sequence -1, base offset 0, partition leader epoch -1,
/// a 16 KiB size limit (Java's `batch.size`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Codec applied to the records section at [`RecordBatchBuilder::finish`].
    pub compression: Compression,
    /// Codec level (see [`compression::compress`]); `None` for the codec's default.
    pub compression_level: Option<i32>,
    /// CreateTime (producers) or LogAppendTime.
    pub timestamp_type: TimestampType,
    /// Transactional batch (attribute bit 4).
    pub transactional: bool,
    /// Control batch (attribute bit 5): only brokers write these normally.
    pub control: bool,
    /// Producer id, -1 without idempotence.
    pub producer_id: i64,
    /// Producer epoch, -1 without idempotence.
    pub producer_epoch: i16,
    /// Sequence of the first record, -1 without idempotence.
    pub base_sequence: i32,
    /// Offset of the first record: 0 for produce (the broker assigns offsets).
    pub base_offset: i64,
    /// Partition leader epoch: -1 for produce.
    pub partition_leader_epoch: i32,
    /// [`RecordBatchBuilder::try_append`] reports [`Append::Full`] rather than
    /// grow the (estimated) batch past this many bytes. The first record is
    /// always accepted.
    pub max_batch_bytes: usize,
    /// Expected compressed/uncompressed ratio used to estimate the size of a
    /// compressed batch before it is compressed (Java starts at 1.0 and feeds
    /// back each closed batch's [`EncodedBatch::compression_ratio`]).
    pub compression_ratio_estimate: f64,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            compression: Compression::None,
            compression_level: None,
            timestamp_type: TimestampType::CreateTime,
            transactional: false,
            control: false,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            base_offset: 0,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            max_batch_bytes: 16 * 1024,
            compression_ratio_estimate: 1.0,
        }
    }
}

impl BatchOptions {
    /// Sets the codec.
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }
    /// Sets the codec level.
    pub fn compression_level(mut self, level: Option<i32>) -> Self {
        self.compression_level = level;
        self
    }
    /// Sets the timestamp type.
    pub fn timestamp_type(mut self, t: TimestampType) -> Self {
        self.timestamp_type = t;
        self
    }
    /// Marks the batch transactional.
    pub fn transactional(mut self, yes: bool) -> Self {
        self.transactional = yes;
        self
    }
    /// Marks the batch as a control batch.
    pub fn control(mut self, yes: bool) -> Self {
        self.control = yes;
        self
    }
    /// Sets producer id, epoch and base sequence (idempotent producer).
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }
    /// Sets the base offset.
    pub fn base_offset(mut self, offset: i64) -> Self {
        self.base_offset = offset;
        self
    }
    /// Sets the partition leader epoch.
    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }
    /// Sets the size limit.
    pub fn max_batch_bytes(mut self, n: usize) -> Self {
        self.max_batch_bytes = n;
        self
    }
    /// Sets the compression ratio estimate.
    pub fn compression_ratio_estimate(mut self, ratio: f64) -> Self {
        self.compression_ratio_estimate = ratio;
        self
    }

    fn attributes(&self) -> i16 {
        let mut a = i16::from(self.compression.id());
        if self.timestamp_type == TimestampType::LogAppendTime {
            a |= ATTR_TIMESTAMP_TYPE;
        }
        if self.transactional {
            a |= ATTR_TRANSACTIONAL;
        }
        if self.control {
            a |= ATTR_CONTROL;
        }
        a
    }
}

/// Outcome of [`RecordBatchBuilder::try_append`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Append {
    /// The record is in the batch.
    Appended,
    /// The record was not appended: it would push the batch past
    /// [`BatchOptions::max_batch_bytes`]. Close this batch and start another.
    Full,
}

/// Builds one v2 record batch incrementally, then closes it.
///
/// Records are encoded as they are appended into one reusable buffer (no
/// allocation per record); [`finish`](Self::finish) compresses the records
/// section if asked, writes the 61-byte header and the CRC32C, and resets the
/// builder for the next batch, keeping its buffers.
///
/// Offsets are assigned consecutively from [`BatchOptions::base_offset`];
/// the base timestamp is the first record's, as in Java's client.
#[derive(Debug)]
pub struct RecordBatchBuilder {
    opts: BatchOptions,
    /// `[61-byte header placeholder][records…]`.
    buf: BytesMut,
    /// Compressed output.
    out: BytesMut,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

impl RecordBatchBuilder {
    /// A builder for batches with `opts`.
    pub fn new(opts: BatchOptions) -> Self {
        let mut buf = BytesMut::with_capacity(opts.max_batch_bytes.clamp(V2_HEADER_SIZE, 1 << 20) + 256);
        buf.put_bytes(0, V2_HEADER_SIZE);
        RecordBatchBuilder {
            opts,
            buf,
            out: BytesMut::new(),
            count: 0,
            base_timestamp: 0,
            max_timestamp: i64::MIN,
        }
    }

    /// The options this builder writes with.
    pub fn options(&self) -> &BatchOptions {
        &self.opts
    }

    /// Changes the options for the *next* batch. Fails (doing nothing) while
    /// records are pending: close the batch first.
    pub fn set_options(&mut self, opts: BatchOptions) -> Result<(), BatchOptions> {
        if self.count > 0 {
            return Err(opts);
        }
        self.opts = opts;
        Ok(())
    }

    /// Sets producer id, epoch and base sequence of the pending batch (Java
    /// assigns the sequence when the batch is drained, just before it is closed).
    pub fn set_producer_state(&mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) {
        self.opts.producer_id = producer_id;
        self.opts.producer_epoch = producer_epoch;
        self.opts.base_sequence = base_sequence;
    }

    /// Records appended so far.
    pub fn len(&self) -> usize {
        usize::try_from(self.count).unwrap_or(0)
    }

    /// True before the first append.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Uncompressed size of the records appended so far (the records section).
    pub fn uncompressed_size(&self) -> usize {
        self.buf.len().saturating_sub(V2_HEADER_SIZE)
    }

    /// Estimated size of the batch if it were closed now: exact without
    /// compression, otherwise header + records × the ratio estimate × 1.05.
    pub fn estimated_size(&self) -> usize {
        self.estimate_with(self.uncompressed_size())
    }

    fn estimate_with(&self, records_bytes: usize) -> usize {
        if self.opts.compression == Compression::None {
            return V2_HEADER_SIZE.saturating_add(records_bytes);
        }
        let ratio = self.opts.compression_ratio_estimate.clamp(0.01, 2.0) * RATIO_ESTIMATION_FACTOR;
        // Float only estimates; the cast saturates.
        V2_HEADER_SIZE.saturating_add((records_bytes as f64 * ratio) as usize)
    }

    /// An upper bound of the size of a batch holding only this record
    /// (Java's `estimateSizeInBytesUpperBound`), to check a record against
    /// `max.request.size` before choosing a batch for it.
    pub fn size_upper_bound(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> usize {
        let field = |b: Option<&[u8]>| 5usize.saturating_add(b.map_or(0, <[u8]>::len));
        let mut n = V2_HEADER_SIZE + 5 + 1 + 10 + 5 + 5;
        n = n.saturating_add(field(key)).saturating_add(field(value));
        for h in headers {
            n = n.saturating_add(field(Some(&h.key))).saturating_add(field(h.value.as_deref()));
        }
        n
    }

    /// Appends a record unless that would take the batch past
    /// [`BatchOptions::max_batch_bytes`] (then returns [`Append::Full`] and
    /// leaves the batch unchanged). The first record is always appended.
    ///
    /// Errors only for records the format cannot hold (a field over 2 GiB, a
    /// timestamp whose delta to the first overflows, more than `i32::MAX` records).
    pub fn try_append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<Append, RecordsError> {
        self.append_inner(timestamp, key, value, headers, true)
    }

    /// Appends a record whatever the size limit.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<(), RecordsError> {
        self.append_inner(timestamp, key, value, headers, false).map(|_| ())
    }

    fn append_inner(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        limit: bool,
    ) -> Result<Append, RecordsError> {
        if self.count == i32::MAX {
            return Err(RecordsError::TooLarge("more than i32::MAX records in one batch"));
        }
        let offset_delta = self.count;
        let base_ts = if self.count == 0 { timestamp } else { self.base_timestamp };
        let ts_delta =
            timestamp.checked_sub(base_ts).ok_or(RecordsError::TooLarge("timestamp delta overflows"))?;

        let key_len = len_prefix(key, "record key")?;
        let value_len = len_prefix(value, "record value")?;
        let header_count =
            i32::try_from(headers.len()).map_err(|_| RecordsError::TooLarge("too many headers"))?;
        let mut body: usize = (1 + uvarint_size(zigzag64(ts_delta)))
            .saturating_add(uvarint_size(u64::from(zigzag32(offset_delta))))
            .saturating_add(field_size(key_len))
            .saturating_add(field_size(value_len))
            .saturating_add(uvarint_size(u64::from(zigzag32(header_count))));
        for h in headers {
            let k = len_prefix(Some(&h.key), "header key")?;
            let v = len_prefix(h.value.as_deref(), "header value")?;
            body = body.saturating_add(field_size(k)).saturating_add(field_size(v));
        }
        let body_len = i32::try_from(body).map_err(|_| RecordsError::TooLarge("record over 2 GiB"))?;
        let total = uvarint_size(u64::from(zigzag32(body_len))) + body;

        if limit && self.count > 0 {
            let after = self.uncompressed_size().saturating_add(total);
            if self.estimate_with(after) > self.opts.max_batch_bytes {
                return Ok(Append::Full);
            }
        }
        let before = self.buf.len();
        if before.saturating_add(total) > i32::MAX as usize {
            return Err(RecordsError::TooLarge("batch over 2 GiB"));
        }

        // Size the record exactly, then write it with plain indexed stores.
        self.buf.resize(before + total, 0);
        let out = self.buf.get_mut(before..).unwrap_or_default();
        let mut w = SliceWriter { out, pos: 0 };
        w.uvarint(zigzag32(body_len));
        w.byte(0); // record attributes: unused
        w.uvarlong(zigzag64(ts_delta));
        w.uvarint(zigzag32(offset_delta));
        w.field(key_len, key);
        w.field(value_len, value);
        w.uvarint(zigzag32(header_count));
        for h in headers {
            w.field(len_prefix(Some(&h.key), "header key")?, Some(&h.key));
            let value = h.value.as_deref();
            w.field(len_prefix(value, "header value")?, value);
        }
        debug_assert_eq!(w.pos, total, "record size computed exactly");

        if self.count == 0 {
            self.base_timestamp = timestamp;
            self.max_timestamp = timestamp;
        } else {
            self.max_timestamp = self.max_timestamp.max(timestamp);
        }
        self.count += 1;
        Ok(Append::Appended)
    }

    /// Closes the batch: compresses the records section, writes the header
    /// and CRC, and returns the encoded batch. The builder is reset (same
    /// options, buffers kept) for the next batch. Fails with
    /// [`RecordsError::EmptyBatch`] when no record was appended.
    pub fn finish(&mut self) -> Result<EncodedBatch, RecordsError> {
        if self.count == 0 {
            return Err(RecordsError::EmptyBatch);
        }
        // Whatever is built must decode: the last offset must fit in an i64
        // (fuzzing finding, `roundtrip` target: base offset i64::MAX, 2 records).
        if self.opts.base_offset.checked_add(i64::from(self.count - 1)).is_none() {
            return Err(RecordsError::invalid("last offset overflows"));
        }
        let uncompressed = self.uncompressed_size();
        let codec = self.opts.compression;
        let mut batch = if codec == Compression::None {
            self.buf.split()
        } else {
            self.out.clear();
            self.out.reserve(V2_HEADER_SIZE + uncompressed / 2 + 64);
            self.out.put_bytes(0, V2_HEADER_SIZE);
            let records = self.buf.get(V2_HEADER_SIZE..).unwrap_or_default();
            let res = compression::compress(codec, records, self.opts.compression_level, &mut self.out);
            self.buf.truncate(V2_HEADER_SIZE);
            res?;
            self.out.split()
        };
        let header = BatchFields {
            base_offset: self.opts.base_offset,
            partition_leader_epoch: self.opts.partition_leader_epoch,
            attributes: self.opts.attributes(),
            last_offset_delta: self.count - 1,
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
            producer_id: self.opts.producer_id,
            producer_epoch: self.opts.producer_epoch,
            base_sequence: self.opts.base_sequence,
            record_count: self.count,
        };
        let reset = |s: &mut Self| {
            s.count = 0;
            s.base_timestamp = 0;
            s.max_timestamp = i64::MIN;
            if s.buf.is_empty() {
                s.buf.put_bytes(0, V2_HEADER_SIZE);
            }
        };
        if let Err(e) = header.write(&mut batch) {
            reset(self);
            return Err(e);
        }
        reset(self);
        Ok(EncodedBatch {
            bytes: batch.freeze(),
            record_count: header.record_count,
            uncompressed_size: uncompressed,
            compression: codec,
            base_timestamp: header.base_timestamp,
            max_timestamp: header.max_timestamp,
        })
    }
}

fn len_prefix(b: Option<&[u8]>, what: &'static str) -> Result<i32, RecordsError> {
    match b {
        None => Ok(-1),
        Some(b) => i32::try_from(b.len()).map_err(|_| RecordsError::TooLarge(what)),
    }
}

#[inline]
fn field_size(len: i32) -> usize {
    uvarint_size(u64::from(zigzag32(len))) + usize::try_from(len).unwrap_or(0)
}

/// Bytes of `v` as an unsigned LEB128 varint: `ceil(bits / 7)` without a
/// division (same values as `wire::enc::uvarlong_len`, checked in tests).
#[inline(always)]
pub(crate) fn uvarint_size(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    (bits * 9 + 64) >> 6
}

#[inline(always)]
fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

#[inline(always)]
fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Writes into a slice sized exactly for the record; every store is
/// bounds-checked (a sizing bug would drop bytes, caught by the debug
/// assertion and the round-trip tests, never a panic).
struct SliceWriter<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl SliceWriter<'_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.out.get_mut(self.pos) {
            *slot = b;
        }
        self.pos += 1;
    }

    #[inline(always)]
    fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    #[inline(always)]
    fn uvarlong(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    #[inline(always)]
    fn field(&mut self, len: i32, data: Option<&[u8]>) {
        self.uvarint(zigzag32(len));
        if let Some(d) = data {
            let end = self.pos + d.len();
            if let Some(dst) = self.out.get_mut(self.pos..end) {
                dst.copy_from_slice(d);
            }
            self.pos = end;
        }
    }
}

struct BatchFields {
    base_offset: i64,
    partition_leader_epoch: i32,
    attributes: i16,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    record_count: i32,
}

impl BatchFields {
    /// Writes the header into `batch[..61]` and the CRC.
    fn write(&self, batch: &mut BytesMut) -> Result<(), RecordsError> {
        let total = batch.len();
        let length = total
            .checked_sub(super::LOG_OVERHEAD)
            .and_then(|l| i32::try_from(l).ok())
            .ok_or(RecordsError::TooLarge("batch over 2 GiB"))?;
        let mut h = [0u8; V2_HEADER_SIZE];
        let mut w = &mut h[..];
        w.put_i64(self.base_offset);
        w.put_i32(length);
        w.put_i32(self.partition_leader_epoch);
        w.put_i8(2);
        w.put_u32(0); // CRC, below
        w.put_i16(self.attributes);
        w.put_i32(self.last_offset_delta);
        w.put_i64(self.base_timestamp);
        w.put_i64(self.max_timestamp);
        w.put_i64(self.producer_id);
        w.put_i16(self.producer_epoch);
        w.put_i32(self.base_sequence);
        w.put_i32(self.record_count);
        let head =
            batch.get_mut(..V2_HEADER_SIZE).ok_or(RecordsError::TooLarge("batch shorter than its header"))?;
        head.copy_from_slice(&h);
        fill_crc(batch);
        Ok(())
    }
}

/// Recomputes the CRC32C of a v2 batch (over attributes to the end).
fn fill_crc(batch: &mut [u8]) {
    let crc = crc32c::crc32c(batch.get(ATTRIBUTES_POS..).unwrap_or_default());
    if let Some(slot) = batch.get_mut(CRC_POS..CRC_POS + 4) {
        slot.copy_from_slice(&crc.to_be_bytes());
    }
}

/// A closed v2 batch, ready for a ProduceRequest's `records` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBatch {
    bytes: Bytes,
    record_count: i32,
    uncompressed_size: usize,
    compression: Compression,
    base_timestamp: i64,
    max_timestamp: i64,
}

impl EncodedBatch {
    /// The whole batch, header included.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
    /// The whole batch, header included.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
    /// Size on the wire.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    /// Never true: a batch holds at least one record.
    pub fn is_empty(&self) -> bool {
        self.record_count == 0
    }
    /// Records in the batch.
    pub fn record_count(&self) -> i32 {
        self.record_count
    }
    /// Size of the records section before compression.
    pub fn uncompressed_size(&self) -> usize {
        self.uncompressed_size
    }
    /// Codec used.
    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// Compressed records section / uncompressed records section (1.0 without compression).
    pub fn compression_ratio(&self) -> f64 {
        if self.uncompressed_size == 0 {
            return 1.0;
        }
        self.bytes.len().saturating_sub(V2_HEADER_SIZE) as f64 / self.uncompressed_size as f64
    }
    /// First record's timestamp.
    pub fn base_timestamp(&self) -> i64 {
        self.base_timestamp
    }
    /// Largest record timestamp.
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    /// A copy with producer id, epoch and base sequence replaced and the CRC
    /// recomputed (after an epoch bump, a closed batch is re-sequenced).
    pub fn with_producer_state(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> EncodedBatch {
        let mut b = BytesMut::from(&self.bytes[..]);
        if let Some(mut slot) = b.get_mut(PRODUCER_ID_POS..V2_HEADER_SIZE - 4) {
            slot.put_i64(producer_id);
            slot.put_i16(producer_epoch);
            slot.put_i32(base_sequence);
        }
        fill_crc(&mut b);
        EncodedBatch { bytes: b.freeze(), ..self.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::enc;
    use proptest::prelude::*;

    /// Fuzzing finding (`roundtrip` target): the builder accepted a base
    /// offset whose last offset overflows, a batch its own decoder rejects.
    /// Regression input: fuzz/regressions/roundtrip/base-offset-overflow.
    #[test]
    fn last_offset_overflow_is_an_error_not_an_undecodable_batch() {
        let mut b = RecordBatchBuilder::new(BatchOptions::default().base_offset(i64::MAX));
        b.append(0, None, Some(b"a"), &[]).unwrap();
        assert!(b.finish().is_ok(), "one record at i64::MAX is a valid batch");
        let mut b = RecordBatchBuilder::new(BatchOptions::default().base_offset(i64::MAX - 1));
        b.append(0, None, Some(b"a"), &[]).unwrap();
        b.append(0, None, Some(b"b"), &[]).unwrap();
        let ok = b.finish().unwrap();
        let opts = crate::records::DecodeOptions::default();
        assert_eq!(crate::records::batches(ok.bytes().clone(), &opts).count(), 1);
        let mut b = RecordBatchBuilder::new(BatchOptions::default().base_offset(i64::MAX));
        b.append(0, None, Some(b"a"), &[]).unwrap();
        b.append(0, None, Some(b"b"), &[]).unwrap();
        assert!(matches!(b.finish(), Err(RecordsError::Decode(_))));
    }

    proptest! {
        #[test]
        fn sizes_and_varints_match_wire_enc(v in any::<i64>(), w in any::<i32>()) {
            prop_assert_eq!(uvarint_size(zigzag64(v)), enc::varlong_len(v));
            prop_assert_eq!(uvarint_size(u64::from(zigzag32(w))), enc::varint_len(w));
            let mut a = BytesMut::new();
            enc::put_varlong(&mut a, v);
            enc::put_varint(&mut a, w);
            let mut out = [0u8; 15];
            let mut sw = SliceWriter { out: &mut out, pos: 0 };
            sw.uvarlong(zigzag64(v));
            sw.uvarint(zigzag32(w));
            let n = sw.pos;
            prop_assert_eq!(&out[..n], &a[..]);
        }
    }

    #[test]
    fn varint_size_edges() {
        for v in [0u64, 1, 0x7f, 0x80, 0x3fff, 0x4000, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(uvarint_size(v), enc::uvarlong_len(v), "{v}");
        }
    }
}
