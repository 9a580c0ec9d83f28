//! A bounds-checked reader for Kafka's primitive wire types.
//!
//! Every read checks the bytes that remain first; every length or count read
//! from the wire is validated against the remaining bytes *before* anything is
//! allocated, so a hostile peer cannot make the decoder allocate more than a
//! small multiple of its input. Reads of byte strings are zero-copy slices of
//! the underlying [`Bytes`].

use bytes::{Buf, Bytes};

use crate::DecodeError;

/// Result alias for decoders.
pub type DResult<T> = Result<T, DecodeError>;

/// A cursor over a response (or record) buffer.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    /// Where this reader started in the original buffer, for error messages.
    start_len: usize,
}

impl Reader {
    /// Wraps `buf`.
    pub fn new(buf: Bytes) -> Self {
        let start_len = buf.len();
        Reader { buf, start_len }
    }

    /// Bytes not yet read.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Offset of the cursor from where the reader started.
    #[inline]
    pub fn position(&self) -> usize {
        self.start_len - self.buf.len()
    }

    /// The unread bytes (without consuming them).
    pub fn peek_rest(&self) -> &Bytes {
        &self.buf
    }

    /// Errors unless every byte was read: what a decoder calls after the last
    /// field of a message (a valid broker never sends more).
    pub fn finish(&self) -> DResult<()> {
        if self.buf.is_empty() { Ok(()) } else { Err(DecodeError::TrailingBytes { count: self.buf.len() }) }
    }

    /// Consumes the reader, returning the unread bytes.
    pub fn into_rest(self) -> Bytes {
        self.buf
    }

    #[inline]
    fn need(&self, n: usize, what: &'static str) -> DResult<()> {
        if self.buf.len() < n {
            Err(DecodeError::Truncated { what, needed: n, remaining: self.buf.len() })
        } else {
            Ok(())
        }
    }

    /// Reads an `int8`.
    #[inline]
    pub fn i8(&mut self) -> DResult<i8> {
        self.need(1, "int8")?;
        Ok(self.buf.get_i8())
    }

    /// Reads a `boolean` (any non-zero byte is true, like Kafka's Java reader).
    #[inline]
    pub fn bool(&mut self) -> DResult<bool> {
        Ok(self.i8()? != 0)
    }

    /// Reads a big-endian `int16`.
    #[inline]
    pub fn i16(&mut self) -> DResult<i16> {
        self.need(2, "int16")?;
        Ok(self.buf.get_i16())
    }

    /// Reads a big-endian `uint16`.
    #[inline]
    pub fn u16(&mut self) -> DResult<u16> {
        self.need(2, "uint16")?;
        Ok(self.buf.get_u16())
    }

    /// Reads a big-endian `int32`.
    #[inline]
    pub fn i32(&mut self) -> DResult<i32> {
        self.need(4, "int32")?;
        Ok(self.buf.get_i32())
    }

    /// Reads a big-endian `uint32`.
    #[inline]
    pub fn u32(&mut self) -> DResult<u32> {
        self.need(4, "uint32")?;
        Ok(self.buf.get_u32())
    }

    /// Reads a big-endian `int64`.
    #[inline]
    pub fn i64(&mut self) -> DResult<i64> {
        self.need(8, "int64")?;
        Ok(self.buf.get_i64())
    }

    /// Reads a big-endian `float64`.
    #[inline]
    pub fn f64(&mut self) -> DResult<f64> {
        self.need(8, "float64")?;
        Ok(self.buf.get_f64())
    }

    /// Reads a 16-byte UUID.
    #[inline]
    pub fn uuid(&mut self) -> DResult<[u8; 16]> {
        self.need(16, "uuid")?;
        let mut out = [0u8; 16];
        self.buf.copy_to_slice(&mut out);
        Ok(out)
    }

    /// Reads an unsigned LEB128 varint of at most 5 bytes (`uint32`).
    #[inline]
    pub fn uvarint(&mut self) -> DResult<u32> {
        let mut value: u32 = 0;
        for i in 0..5 {
            self.need(1, "varint")?;
            let b = self.buf.get_u8();
            if i == 4 && b > 0x0f {
                return Err(DecodeError::Invalid("varint longer than 32 bits"));
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Invalid("varint longer than 5 bytes"))
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes (`uint64`).
    #[inline]
    pub fn uvarlong(&mut self) -> DResult<u64> {
        let mut value: u64 = 0;
        for i in 0..10 {
            self.need(1, "varlong")?;
            let b = self.buf.get_u8();
            if i == 9 && b > 0x01 {
                return Err(DecodeError::Invalid("varlong longer than 64 bits"));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Invalid("varlong longer than 10 bytes"))
    }

    /// Reads a zig-zag encoded signed varint (`varint`).
    #[inline]
    pub fn varint(&mut self) -> DResult<i32> {
        let v = self.uvarint()?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    /// Reads a zig-zag encoded signed varlong (`varlong`).
    #[inline]
    pub fn varlong(&mut self) -> DResult<i64> {
        let v = self.uvarlong()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// Takes `n` bytes as a zero-copy slice.
    #[inline]
    pub fn take(&mut self, n: usize, what: &'static str) -> DResult<Bytes> {
        self.need(n, what)?;
        Ok(self.buf.split_to(n))
    }

    /// Skips `n` bytes.
    #[inline]
    pub fn skip(&mut self, n: usize, what: &'static str) -> DResult<()> {
        self.need(n, what)?;
        self.buf.advance(n);
        Ok(())
    }

    /// Reads a length prefix (`int16`/`int32` classic or compact `uvarint` minus one).
    /// Returns `None` for null (-1 classic, 0 compact).
    fn len_prefix(&mut self, flexible: bool, wide: bool, what: &'static str) -> DResult<Option<usize>> {
        if flexible {
            let n = self.uvarint()?;
            Ok(if n == 0 { None } else { Some((n - 1) as usize) })
        } else {
            let n = if wide { self.i32()? } else { i32::from(self.i16()?) };
            match n {
                -1 => Ok(None),
                n if n < 0 => Err(DecodeError::NegativeLength { what, len: n }),
                n => Ok(Some(n as usize)),
            }
        }
    }

    /// Reads a nullable byte string (`nullable_bytes` / `compact_nullable_bytes`), zero-copy.
    pub fn nullable_bytes(&mut self, flexible: bool) -> DResult<Option<Bytes>> {
        match self.len_prefix(flexible, true, "bytes")? {
            None => Ok(None),
            Some(n) => self.take(n, "bytes").map(Some),
        }
    }

    /// Reads a non-null byte string; null is treated as empty.
    pub fn bytes(&mut self, flexible: bool) -> DResult<Bytes> {
        Ok(self.nullable_bytes(flexible)?.unwrap_or_default())
    }

    /// Reads a nullable UTF-8 string (`nullable_string` / `compact_nullable_string`).
    pub fn nullable_string(&mut self, flexible: bool) -> DResult<Option<String>> {
        match self.len_prefix(flexible, false, "string")? {
            None => Ok(None),
            Some(n) => {
                let raw = self.take(n, "string")?;
                match std::str::from_utf8(&raw) {
                    Ok(s) => Ok(Some(s.to_owned())),
                    Err(_) => Err(DecodeError::Invalid("string is not valid UTF-8")),
                }
            }
        }
    }

    /// Reads a string; a null string reads as empty (Kafka never sends null
    /// where the schema says non-nullable, but a hostile peer may).
    pub fn string(&mut self, flexible: bool) -> DResult<String> {
        Ok(self.nullable_string(flexible)?.unwrap_or_default())
    }

    /// Reads an array length prefix and checks it against the remaining bytes,
    /// given that every element takes at least `min_elem` bytes on the wire.
    /// Returns `None` for a null array.
    pub fn nullable_array_len(&mut self, flexible: bool, min_elem: usize) -> DResult<Option<usize>> {
        let n = match self.len_prefix(flexible, true, "array")? {
            None => return Ok(None),
            Some(n) => n,
        };
        let need = n.saturating_mul(min_elem.max(1));
        if need > self.buf.len() {
            return Err(DecodeError::CountTooLarge { count: n, remaining: self.buf.len() });
        }
        Ok(Some(n))
    }

    /// Like [`Reader::nullable_array_len`] with null read as an empty array.
    pub fn array_len(&mut self, flexible: bool, min_elem: usize) -> DResult<usize> {
        Ok(self.nullable_array_len(flexible, min_elem)?.unwrap_or(0))
    }

    /// Reads an array whose elements are decoded by `f`, allocating only as
    /// elements are actually decoded.
    pub fn array<T>(
        &mut self,
        flexible: bool,
        min_elem: usize,
        mut f: impl FnMut(&mut Reader) -> DResult<T>,
    ) -> DResult<Vec<T>> {
        let n = self.array_len(flexible, min_elem)?;
        let mut out = Vec::with_capacity(n.min(256));
        for _ in 0..n {
            out.push(f(self)?);
        }
        Ok(out)
    }

    /// Reads an array of `int32`.
    pub fn i32_array(&mut self, flexible: bool) -> DResult<Vec<i32>> {
        self.array(flexible, 4, |r| r.i32())
    }

    /// Skips a tagged-field section (flexible versions only; a no-op otherwise).
    pub fn skip_tagged_fields(&mut self, flexible: bool) -> DResult<()> {
        self.tagged_fields(flexible, |_, _| Ok(()))
    }

    /// Reads a tagged-field section, calling `f(tag, field_reader)` for each
    /// field. Unknown tags are ignored by the callback returning `Ok(())`.
    pub fn tagged_fields(
        &mut self,
        flexible: bool,
        mut f: impl FnMut(u32, &mut Reader) -> DResult<()>,
    ) -> DResult<()> {
        if !flexible {
            return Ok(());
        }
        let n = self.uvarint()? as usize;
        if n.saturating_mul(2) > self.buf.len() {
            return Err(DecodeError::CountTooLarge { count: n, remaining: self.buf.len() });
        }
        for _ in 0..n {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            let field = self.take(size, "tagged field")?;
            f(tag, &mut Reader::new(field))?;
        }
        Ok(())
    }
}

/// Encoding helpers for the primitive types kwire writes by hand (record batches).
pub mod enc {
    use bytes::BufMut;

    /// Writes an unsigned LEB128 varint.
    #[inline]
    pub fn put_uvarint(buf: &mut impl BufMut, mut v: u32) {
        while v >= 0x80 {
            buf.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        buf.put_u8(v as u8);
    }

    /// Writes an unsigned LEB128 varlong.
    #[inline]
    pub fn put_uvarlong(buf: &mut impl BufMut, mut v: u64) {
        while v >= 0x80 {
            buf.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        buf.put_u8(v as u8);
    }

    /// Writes a zig-zag signed varint.
    #[inline]
    pub fn put_varint(buf: &mut impl BufMut, v: i32) {
        put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32)
    }

    /// Writes a zig-zag signed varlong.
    #[inline]
    pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
        put_uvarlong(buf, ((v << 1) ^ (v >> 63)) as u64)
    }

    /// Size in bytes of `v` as a zig-zag varint.
    #[inline]
    pub fn varint_len(v: i32) -> usize {
        uvarlong_len(((v << 1) ^ (v >> 31)) as u32 as u64)
    }

    /// Size in bytes of `v` as a zig-zag varlong.
    #[inline]
    pub fn varlong_len(v: i64) -> usize {
        uvarlong_len(((v << 1) ^ (v >> 63)) as u64)
    }

    /// Size in bytes of `v` as an unsigned varint.
    #[inline]
    pub fn uvarlong_len(v: u64) -> usize {
        let bits = 64 - (v | 1).leading_zeros() as usize;
        bits.div_ceil(7)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;

    #[test]
    fn truncated_reads_error() {
        let mut r = Reader::new(Bytes::from_static(&[0, 1, 2]));
        assert!(matches!(r.i32(), Err(DecodeError::Truncated { .. })));
        // nothing consumed on failure
        assert_eq!(r.remaining(), 3);
        assert_eq!(r.i16().unwrap(), 1);
    }

    #[test]
    fn hostile_array_count_rejected_before_allocation() {
        let mut r = Reader::new(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0]));
        let err = r.array(false, 1, |r| r.i8()).unwrap_err();
        assert!(matches!(err, DecodeError::CountTooLarge { count: 0x7fff_ffff, .. }));
        // compact array with a huge varint count
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f]));
        assert!(r.array(true, 1, |r| r.i8()).is_err());
    }

    #[test]
    fn negative_lengths_rejected() {
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xfe, 0, 0]));
        assert!(matches!(r.nullable_string(false), Err(DecodeError::NegativeLength { .. })));
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff]));
        assert_eq!(r.nullable_string(false).unwrap(), None);
    }

    #[test]
    fn overlong_varint_rejected() {
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
        assert!(r.uvarint().is_err());
        let mut r = Reader::new(Bytes::from_static(&[0x80]));
        assert!(matches!(r.uvarint(), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn tagged_fields_are_bounded() {
        let mut r = Reader::new(Bytes::from_static(&[0x7f]));
        assert!(r.skip_tagged_fields(true).is_err());
        let mut r = Reader::new(Bytes::from_static(&[0x01, 0x05, 0x02, 0xaa, 0xbb, 0x09]));
        let mut seen = vec![];
        r.tagged_fields(true, |tag, f| {
            seen.push((tag, f.remaining()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(5, 2)]);
        assert_eq!(r.remaining(), 1);
    }

    proptest! {
        #[test]
        fn varint_roundtrip(v in any::<i32>()) {
            let mut b = BytesMut::new();
            enc::put_varint(&mut b, v);
            prop_assert_eq!(b.len(), enc::varint_len(v));
            let mut r = Reader::new(b.freeze());
            prop_assert_eq!(r.varint().unwrap(), v);
            prop_assert_eq!(r.remaining(), 0);
        }

        #[test]
        fn varlong_roundtrip(v in any::<i64>()) {
            let mut b = BytesMut::new();
            enc::put_varlong(&mut b, v);
            prop_assert_eq!(b.len(), enc::varlong_len(v));
            let mut r = Reader::new(b.freeze());
            prop_assert_eq!(r.varlong().unwrap(), v);
        }

        #[test]
        fn reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64), flex in any::<bool>()) {
            let mut r = Reader::new(Bytes::from(data));
            let _ = r.nullable_string(flex);
            let _ = r.array(flex, 1, |r| r.i32());
            let _ = r.skip_tagged_fields(flex);
            let _ = r.varlong();
        }
    }
}
