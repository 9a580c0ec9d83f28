//! FrameDecoder: a small cap (from the input), the stream fed in arbitrary
//! chunks. The frames decoded incrementally must equal a straightforward
//! parse of the whole stream, errors included, and the decoder must never
//! reserve more than the cap (plus what was fed) however the bytes arrive.
//!
//! Input: cap (u16 BE), chunking seed (u8), then the byte stream.
#![no_main]

use bytes::BytesMut;
use kwire_proto::FrameError;
use kwire_proto::frame::FrameDecoder;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
enum End {
    /// Stream ended, possibly inside a frame.
    Clean,
    Error(FrameError),
}

/// The obvious parse of a complete stream.
fn reference(stream: &[u8], cap: usize) -> (Vec<&[u8]>, End) {
    let tls = |b: &[u8]| matches!(b, [0x15 | 0x16, 0x03, ..]);
    let mut frames = Vec::new();
    let mut rest = stream;
    loop {
        if rest.len() < 4 {
            if rest.len() >= 2 && tls(rest) {
                return (frames, End::Error(FrameError::TlsOnPlaintext));
            }
            return (frames, End::Clean);
        }
        let size = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        if size < 0 {
            return (frames, End::Error(FrameError::Negative(size)));
        }
        if size as usize > cap {
            if tls(rest) {
                return (frames, End::Error(FrameError::TlsOnPlaintext));
            }
            return (frames, End::Error(FrameError::TooLarge { size: size as u64, max: cap }));
        }
        let total = 4 + size as usize;
        if rest.len() < total {
            return (frames, End::Clean);
        }
        frames.push(&rest[4..total]);
        rest = &rest[total..];
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let cap = usize::from(u16::from_be_bytes([data[0], data[1]]));
    let mut seed = u32::from(data[2]) | 1;
    let stream = &data[3..];
    let (want_frames, want_end) = reference(stream, cap);

    kwire_fuzz::check_budget("frame", data.len(), 2 * (cap + 4), || {
        let d = FrameDecoder::new(cap);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut end = End::Clean;
        let mut pos = 0;
        'feed: while pos < stream.len() {
            // xorshift: chunk sizes 1..=64, biased small.
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let n = ((seed % 64) as usize + 1).min(stream.len() - pos);
            buf.extend_from_slice(&stream[pos..pos + n]);
            pos += n;
            loop {
                match d.decode(&mut buf) {
                    Ok(Some(f)) => got.push(f),
                    Ok(None) => break,
                    Err(e) => {
                        end = End::Error(e);
                        break 'feed;
                    }
                }
            }
            // Never more than the cap (+ prefix) beyond what was fed, with
            // BytesMut's growth factor of 2.
            assert!(
                buf.capacity() <= 2 * (cap + 4 + pos) + 64,
                "capacity {} after {pos} bytes with cap {cap}",
                buf.capacity()
            );
        }
        assert_eq!(end, want_end);
        assert_eq!(got.len(), want_frames.len());
        for (g, w) in got.iter().zip(&want_frames) {
            assert_eq!(&g[..], *w);
        }
    });
});
