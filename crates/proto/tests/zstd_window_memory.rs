//! What a zstd frame's declared window costs in memory: `ruzstd` keeps the
//! window in a power-of-two ring buffer and peaks at about three times it
//! while decoding, whatever the frame's length. kwire refuses windows above
//! `max(limit, 8 MiB)` before decoding, so a hostile frame of a few hundred
//! bytes costs at most about 3 × that (found by the `decompress` fuzz
//! target: 307 bytes, a 7.5 MiB window, 12.6 MB at the peak). This test pins
//! both: the cap (a larger window is refused without allocating it) and the
//! factor (a `ruzstd` upgrade that costs more fails here first).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use kwire_proto::records::{Compression, RecordsError, compression::decompress};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, n) };
        if !q.is_null() {
            if n >= l.size() {
                grew(n - l.size());
            } else {
                LIVE.fetch_sub(l.size() - n, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A zstd frame without content size whose window descriptor is `wd`,
/// then RLE blocks (each 3 header bytes and one byte, up to 128 KiB out).
fn rle_frame(wd: u8, blocks: usize) -> Vec<u8> {
    let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, wd];
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = last | (1 << 1) | ((128 * 1024) << 3);
        f.extend_from_slice(&header.to_le_bytes()[..3]);
        f.push(b'x');
    }
    f
}

fn window(wd: u8) -> usize {
    let base = 1usize << (10 + u32::from(wd >> 3));
    base + base / 8 * usize::from(wd & 7)
}

/// Peak heap of one decompress call, and its result.
fn peak_of(frame: &[u8], limit: usize) -> (usize, Result<Vec<u8>, RecordsError>) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = decompress(Compression::Zstd, frame, limit);
    (PEAK.load(Ordering::Relaxed).saturating_sub(base), r)
}

#[test]
fn a_declared_window_costs_at_most_three_times_itself_and_larger_ones_are_refused() {
    for wd in [0x40u8, 0x48, 0x50, 0x58, 0x5f, 0x60, 0x67, 0x68] {
        let w = window(wd);
        for limit in [4096usize, 1 << 20] {
            let frame = rle_frame(wd, 40);
            let (peak, r) = peak_of(&frame, limit);
            println!("window {w} limit {limit}: peak {peak} ({:.2}x)", peak as f64 / w as f64);
            assert!(
                matches!(r, Err(RecordsError::DecompressedTooLarge { .. })),
                "window {w}, limit {limit}: {r:?}"
            );
            let bound = 3 * w.next_power_of_two() + 2 * limit + (256 << 10);
            assert!(peak <= bound, "window {w}, limit {limit}: peak {peak} bytes > {bound}");
        }
    }
    // Above max(limit, 8 MiB) the frame is refused before its window is reserved.
    for wd in [0x69u8, 0x70, 0xf8] {
        let (peak, r) = peak_of(&rle_frame(wd, 2), 4096);
        let e = r.expect_err("a window above the cap decoded");
        assert!(e.to_string().contains("window larger than the decompression limit"), "{e}");
        assert!(peak < 64 << 10, "window {}: {peak} bytes allocated before refusing it", window(wd));
    }
}
