//! Kafka's framing: a 4-byte big-endian size prefix, then that many bytes.
//!
//! [`FrameDecoder::decode`] returns `Ok(None)` while a frame is incomplete and
//! an error when the bytes can never form a valid frame. The size prefix is
//! checked against the cap *before* any buffer is reserved for the body.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::FrameError;

/// Default maximum frame size: 100 MiB, like the broker's `socket.request.max.bytes`.
pub const DEFAULT_MAX_FRAME: usize = 100 * 1024 * 1024;

/// The most [`FrameDecoder::decode`] reserves for an incomplete frame when
/// less than this is buffered: 64 KiB.
pub const RESERVE_MIN: usize = 64 * 1024;

/// Incremental decoder of size-prefixed frames.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder { max: DEFAULT_MAX_FRAME }
    }
}

impl FrameDecoder {
    /// A decoder that rejects frames larger than `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameDecoder { max }
    }

    /// The configured cap.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Inspects the size prefix at the front of `buf` without consuming it.
    ///
    /// `Ok(None)`: fewer than 4 bytes buffered. `Ok(Some(n))`: the body is `n` bytes.
    pub fn peek_len(&self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        let Some(head) = buf.first_chunk::<4>() else {
            // A TLS alert/handshake record starts 0x15/0x16 0x03: detect it as
            // soon as we have two bytes, so we never wait for ~350 MB.
            return if buf.len() >= 2 && looks_like_tls(buf) {
                Err(FrameError::TlsOnPlaintext)
            } else {
                Ok(None)
            };
        };
        let size = i32::from_be_bytes(*head);
        if size < 0 {
            return Err(FrameError::Negative(size));
        }
        let size = size as usize;
        if size > self.max {
            if looks_like_tls(buf) {
                return Err(FrameError::TlsOnPlaintext);
            }
            return Err(FrameError::TooLarge { size: size as u64, max: self.max });
        }
        Ok(Some(size))
    }

    /// Splits one complete frame body (without its size prefix) off the front of `buf`.
    ///
    /// When the frame is incomplete, reserves room for more of it and returns
    /// `Ok(None)`. The buffer grows with what arrives, not with what the size
    /// prefix claims: at most [`RESERVE_MIN`] or as much as is already
    /// buffered, whichever is larger (so a large frame still arrives in large
    /// reads, with amortised copying). Four bytes from a peer can't make kwire
    /// allocate up to the cap.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(size) = self.peek_len(buf)? else {
            return Ok(None);
        };
        let total = size + 4;
        if buf.len() < total {
            let missing = total - buf.len();
            buf.reserve(missing.min(buf.len().max(RESERVE_MIN)));
            return Ok(None);
        }
        buf.advance(4);
        Ok(Some(buf.split_to(size).freeze()))
    }
}

fn looks_like_tls(buf: &[u8]) -> bool {
    // ContentType alert(21) or handshake(22), then protocol major version 3.
    matches!(buf, [0x15 | 0x16, 0x03, ..])
}

/// Appends `body` to `out` with its 4-byte size prefix.
pub fn encode_frame(out: &mut BytesMut, body: &[u8]) {
    out.reserve(4 + body.len());
    out.put_u32(body.len() as u32);
    out.put_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn incomplete_is_not_an_error() {
        let d = FrameDecoder::default();
        let mut b = BytesMut::from(&[0u8, 0, 0][..]);
        assert_eq!(d.decode(&mut b), Ok(None));
        b.put_u8(3);
        assert_eq!(d.decode(&mut b), Ok(None));
        b.put_slice(b"ab");
        assert_eq!(d.decode(&mut b), Ok(None));
        b.put_slice(b"c");
        assert_eq!(d.decode(&mut b).unwrap().unwrap(), Bytes::from_static(b"abc"));
        assert!(b.is_empty());
    }

    #[test]
    fn oversized_frame_rejected_before_allocation() {
        let d = FrameDecoder::new(1024);
        let mut b = BytesMut::from(&[0x7fu8, 0xff, 0xff, 0xff][..]);
        let cap_before = b.capacity();
        assert_eq!(d.decode(&mut b), Err(FrameError::TooLarge { size: 0x7fff_ffff, max: 1024 }));
        assert_eq!(b.capacity(), cap_before);
    }

    /// Fuzzing finding (`conn` target): a size prefix just under the 100 MiB
    /// cap followed by nothing made the decoder reserve the whole 100 MiB.
    /// Regression input: fuzz/regressions/conn/size-prefix-reserves-cap.
    #[test]
    fn size_prefix_alone_does_not_reserve_the_frame() {
        let d = FrameDecoder::default();
        let mut b = BytesMut::from(&[0x05u8, 0xff, 0xff, 0xff, 0, 0, 0, 1][..]);
        assert_eq!(d.decode(&mut b), Ok(None));
        assert!(b.capacity() <= 8 + RESERVE_MIN, "reserved {} bytes for 8 buffered", b.capacity());
        // The buffer grows with what arrives (BytesMut at least doubles on
        // reallocation), not towards the declared 50 MB.
        let mut b = BytesMut::new();
        b.extend_from_slice(&50_000_000u32.to_be_bytes());
        for fed in (2048..=200_000).step_by(2048) {
            b.extend_from_slice(&[7u8; 2048]);
            assert_eq!(d.decode(&mut b), Ok(None));
            assert!(b.capacity() <= 4 * (fed + 4) + 2 * RESERVE_MIN, "{} after {fed}", b.capacity());
        }
        // And a frame fed in pieces still decodes.
        let body: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let mut b = BytesMut::new();
        b.extend_from_slice(&(body.len() as u32).to_be_bytes());
        let mut got = None;
        for chunk in body.chunks(10_000) {
            b.extend_from_slice(chunk);
            if let Some(f) = d.decode(&mut b).unwrap() {
                got = Some(f);
            }
        }
        assert_eq!(got.as_deref(), Some(&body[..]));
    }

    #[test]
    fn negative_size_rejected() {
        let d = FrameDecoder::default();
        let mut b = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xfe][..]);
        assert_eq!(d.decode(&mut b), Err(FrameError::Negative(-2)));
    }

    #[test]
    fn tls_alert_detected() {
        let d = FrameDecoder::default();
        // A TLS alert record: type 21, version 3.3, length 2, level fatal, description.
        let mut b = BytesMut::from(&[0x15u8, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46][..]);
        assert_eq!(d.decode(&mut b), Err(FrameError::TlsOnPlaintext));
        let mut b = BytesMut::from(&[0x15u8, 0x03][..]);
        assert_eq!(d.decode(&mut b), Err(FrameError::TlsOnPlaintext));
    }

    #[test]
    fn zero_length_frame() {
        let d = FrameDecoder::default();
        let mut b = BytesMut::from(&[0u8, 0, 0, 0, 9][..]);
        assert_eq!(d.decode(&mut b).unwrap().unwrap().len(), 0);
        assert_eq!(&b[..], &[9]);
    }

    proptest! {
        /// Any sequence of frames, fed in arbitrary chunks, decodes to the same sequence.
        #[test]
        fn roundtrip_any_split(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            cuts in proptest::collection::vec(1usize..64, 0..64),
        ) {
            let mut wire = BytesMut::new();
            for b in &bodies {
                encode_frame(&mut wire, b);
            }
            let wire = wire.freeze();
            let d = FrameDecoder::new(1000);
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            let mut pos = 0;
            let mut cuts = cuts.into_iter().cycle();
            while pos < wire.len() {
                let n = cuts.next().unwrap_or(1).min(wire.len() - pos);
                buf.extend_from_slice(&wire[pos..pos + n]);
                pos += n;
                while let Some(f) = d.decode(&mut buf).unwrap() {
                    out.push(f.to_vec());
                }
            }
            prop_assert_eq!(out, bodies);
            prop_assert!(buf.is_empty());
        }

        /// Arbitrary bytes never panic and never make the decoder reserve more than the cap.
        #[test]
        fn arbitrary_bytes_are_safe(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let d = FrameDecoder::new(4096);
            let mut buf = BytesMut::from(&data[..]);
            while let Ok(Some(_)) = d.decode(&mut buf) {}
            prop_assert!(buf.capacity() <= 4096 + 4 + data.len());
        }
    }
}
