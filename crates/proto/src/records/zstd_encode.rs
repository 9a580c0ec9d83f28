//! kwire's zstd encoder (RFC 8878): one frame, written for speed.
//!
//! `ruzstd`'s encoder (kwire's decoder stays `ruzstd`) compressed about
//! 100 MB/s per core here, four times slower than libzstd, and made zstd the
//! one codec where kwire's producer cost more CPU than franz-go's. This
//! encoder keeps the default build pure Rust and is built the way fast
//! zstd levels are:
//!
//! - **Matching**: greedy, one hash table of 2^14 positions over 5-byte
//!   prefixes, the previous match's distance tried first, matches extended
//!   forwards and backwards, a search step that grows over incompressible
//!   stretches. Matches reach anywhere earlier in the frame.
//! - **Literals**: Huffman-coded (code lengths limited to 11 bits, the tree
//!   described by FSE-compressed or direct weights), one stream below
//!   1,024 literals and four above; raw or RLE when that is smaller.
//! - **Sequences**: the predefined FSE tables (no table description); the
//!   previous distance sent as repeat offset 1, every other as itself.
//! - **Frame**: single segment with the content size, no checksum (a
//!   batch's CRC32C covers the bytes); blocks of up to 128 KiB, each sent
//!   raw when compressing does not make it smaller.
//!
//! Every frame is checked against two independent decoders in the tests
//! (`ruzstd` and C libzstd) on generated and adversarial inputs.

use bytes::{BufMut, BytesMut};

const MAGIC: u32 = 0xFD2F_B528;
const BLOCK_MAX: usize = 128 * 1024;
const HASH_LOG: u32 = 14;
const MIN_MATCH: usize = 4;
/// Offsets are sent with the predefined offset table (codes 0-28).
const MAX_OFFSET: usize = (1 << 29) - 4;
/// Below this many literals a Huffman tree costs more than it saves.
const HUFFMAN_MIN: usize = 64;
const HUFFMAN_MAX_BITS: u32 = 11;

const LL_BASE: [u32; 36] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256,
    512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
];
const LL_BITS: [u32; 36] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13,
    14, 15, 16,
];
const ML_BASE: [u32; 53] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
    31, 32, 33, 34, 35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387,
    32771, 65539,
];
const ML_BITS: [u32; 53] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1,
    1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
];
/// The predefined distributions (RFC 8878 §3.1.1.3.2.2).
const LL_NORM: [i16; 36] = [
    4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1,
    -1, -1,
];
const ML_NORM: [i16; 53] = [
    1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1,
];
const OF_NORM: [i16; 29] =
    [1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1];

/// Appends one zstd frame holding `input` to `out`.
pub(crate) fn compress(input: &[u8], out: &mut BytesMut) {
    out.reserve(input.len() / 2 + 64);
    out.put_u32_le(MAGIC);
    // Frame header descriptor: single segment, content size of 1, 2, 4 or 8 bytes.
    let len = input.len();
    if len < 256 {
        out.put_u8(0x20);
        out.put_u8(len as u8);
    } else if len < 65536 + 256 {
        out.put_u8(0x60);
        out.put_u16_le((len - 256) as u16);
    } else if let Ok(l) = u32::try_from(len) {
        out.put_u8(0xA0);
        out.put_u32_le(l);
    } else {
        out.put_u8(0xE0);
        out.put_u64_le(len as u64);
    }
    if input.is_empty() {
        let at = out.len();
        out.put_bytes(0, 3);
        block_header(out, at, true, BlockType::Raw, 0);
        return;
    }
    // Table positions are u32: a larger input (never a Kafka batch) is sent in raw blocks.
    let compressible = u32::try_from(len).is_ok();
    let mut m = Matcher::new();
    let tables = Tables::get();
    let mut start = 0;
    while start < len {
        let end = (start + BLOCK_MAX).min(len);
        let last = end == len;
        let at = out.len();
        out.put_bytes(0, 3);
        let mut raw = !compressible;
        if compressible {
            m.find(input, start, end);
            literals_section(&m.lits, out);
            sequences_section(&m.seqs, tables, out);
            raw = out.len() - at - 3 >= end - start;
        }
        if raw {
            out.truncate(at);
            out.put_bytes(0, 3);
            block_header(out, at, last, BlockType::Raw, end - start);
            out.put_slice(&input[start..end]);
        } else {
            let size = out.len() - at - 3;
            block_header(out, at, last, BlockType::Compressed, size);
        }
        start = end;
    }
}

#[derive(Clone, Copy)]
enum BlockType {
    Raw = 0,
    Compressed = 2,
}

/// Writes a block header into the 3 bytes reserved at `at`.
fn block_header(out: &mut BytesMut, at: usize, last: bool, kind: BlockType, size: usize) {
    let v = u32::from(last) | (kind as u32) << 1 | (size as u32) << 3;
    out[at..at + 3].copy_from_slice(&v.to_le_bytes()[..3]);
}

/// A sequence: `ll` literals, then `ml` bytes copied from back in the
/// output, `of` being the offset value sent: 1 for "the previous offset",
/// else the distance + 3.
#[derive(Clone, Copy)]
struct Seq {
    ll: u32,
    ml: u32,
    of: u32,
}

struct Matcher {
    table: Vec<u32>,
    /// The previous sequence's distance: the decoder's first repeat offset
    /// (1 when a frame starts).
    rep: usize,
    lits: Vec<u8>,
    seqs: Vec<Seq>,
}

#[inline(always)]
fn read_u32(s: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]])
}

#[inline(always)]
fn read_u64(s: &[u8], i: usize) -> u64 {
    let b: [u8; 8] = s[i..i + 8].try_into().unwrap_or([0; 8]);
    u64::from_le_bytes(b)
}

#[inline(always)]
fn hash5(v: u64) -> usize {
    // zstd's 5-byte hash: the low 40 bits times a 40-bit prime.
    ((v << 24).wrapping_mul(889_523_592_379) >> (64 - HASH_LOG)) as usize
}

/// How many bytes from `a` equal those from `b` (`a < b`), not reading at or past `end`.
#[inline(always)]
fn common_len(s: &[u8], mut a: usize, mut b: usize, end: usize) -> usize {
    let from = b;
    while b + 8 <= end {
        let x = read_u64(s, a) ^ read_u64(s, b);
        if x != 0 {
            return b - from + (x.trailing_zeros() / 8) as usize;
        }
        a += 8;
        b += 8;
    }
    while b < end && s[a] == s[b] {
        a += 1;
        b += 1;
    }
    b - from
}

impl Matcher {
    fn new() -> Self {
        Matcher { table: vec![0; 1 << HASH_LOG], rep: 1, lits: Vec::new(), seqs: Vec::new() }
    }

    /// Finds the sequences of `s[start..end]` (matches may reach back
    /// before `start`); leaves its literals in `lits` and its sequences in
    /// `seqs`.
    fn find(&mut self, s: &[u8], start: usize, end: usize) {
        self.lits.clear();
        self.seqs.clear();
        let mut anchor = start;
        let mut ip = start;
        // Hashing reads 8 bytes; a match needs MIN_MATCH bytes before `end`.
        let limit = end.saturating_sub(MIN_MATCH).min(s.len().saturating_sub(8));
        while ip < limit {
            let h = hash5(read_u64(s, ip));
            let cand = self.table[h] as usize;
            self.table[h] = ip as u32;
            let here = read_u32(s, ip);
            let found = if self.rep <= ip && read_u32(s, ip - self.rep) == here {
                Some(ip - self.rep)
            } else if cand < ip && ip - cand <= MAX_OFFSET && read_u32(s, cand) == here {
                Some(cand)
            } else {
                None
            };
            let Some(mut c) = found else {
                ip += 1 + ((ip - anchor) >> 7);
                continue;
            };
            let mut len = MIN_MATCH + common_len(s, c + MIN_MATCH, ip + MIN_MATCH, end);
            while ip > anchor && c > 0 && s[ip - 1] == s[c - 1] {
                ip -= 1;
                c -= 1;
                len += 1;
            }
            self.lits.extend_from_slice(&s[anchor..ip]);
            // The previous distance again is sent as repeat offset 1, which
            // means that only after at least one literal (after none, 1 is
            // the second repeat offset). Either way the decoder's first
            // repeat offset becomes this distance, as `rep` does.
            let ll = ip - anchor;
            let of = if ll > 0 && ip - c == self.rep { 1 } else { ip - c + 3 };
            self.seqs.push(Seq { ll: ll as u32, ml: len as u32, of: of as u32 });
            self.rep = ip - c;
            ip += len;
            anchor = ip;
            // Index a position inside the match too: the next record often repeats from there.
            if ip >= 2 && ip - 2 < limit {
                self.table[hash5(read_u64(s, ip - 2))] = (ip - 2) as u32;
            }
        }
        self.lits.extend_from_slice(&s[anchor..end]);
    }
}

// ------------------------------------------------------------ bit streams

/// Little-endian bit writer (the first bit written is the lowest bit of the
/// first byte), as zstd's streams are; zstd reads most of them backwards.
struct BitWriter<'a> {
    out: &'a mut BytesMut,
    acc: u64,
    n: u32,
}

impl<'a> BitWriter<'a> {
    fn new(out: &'a mut BytesMut) -> Self {
        BitWriter { out, acc: 0, n: 0 }
    }

    /// Appends the low `bits` bits of `v` (`bits` ≤ 32).
    #[inline(always)]
    fn add(&mut self, v: u32, bits: u32) {
        self.acc |= (u64::from(v) & ((1u64 << bits) - 1)) << self.n;
        self.n += bits;
        if self.n >= 32 {
            self.out.put_u32_le(self.acc as u32);
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// Pads to a byte boundary with zeros.
    fn align(self) {
        let bytes = self.n.div_ceil(8) as usize;
        self.out.put_slice(&self.acc.to_le_bytes()[..bytes]);
    }

    /// Ends a backward-read stream: a 1 bit marks where it starts.
    fn close(mut self) {
        self.add(1, 1);
        self.align();
    }
}

// ------------------------------------------------------------------- FSE

/// An FSE encoding table built from a normalised distribution, as the
/// decoder spreads it (RFC 8878 §4.1.1).
struct Fse {
    log: u32,
    /// Next state value (table size + decoder state), grouped by symbol.
    next: Vec<u16>,
    /// Per symbol: (delta number of bits, delta find state).
    tt: Vec<(u32, i32)>,
    /// Per symbol: a state that decodes to it and reads the most bits
    /// (at least one unless the symbol owns the whole table).
    first: Vec<u16>,
}

impl Fse {
    fn build(norm: &[i16], log: u32) -> Fse {
        let size = 1usize << log;
        let mask = size - 1;
        let step = (size >> 1) + (size >> 3) + 3;
        let mut symbol_at = vec![0u8; size];
        let mut cumul = vec![0usize; norm.len() + 1];
        let mut high = size; // low-probability symbols fill the table from the top
        for (s, &c) in norm.iter().enumerate() {
            if c == -1 {
                high -= 1;
                symbol_at[high] = s as u8;
                cumul[s + 1] = cumul[s] + 1;
            } else {
                cumul[s + 1] = cumul[s] + c.max(0) as usize;
            }
        }
        let mut pos = 0;
        for (s, &c) in norm.iter().enumerate() {
            for _ in 0..c.max(0) {
                symbol_at[pos] = s as u8;
                pos = (pos + step) & mask;
                while pos >= high {
                    pos = (pos + step) & mask;
                }
            }
        }
        let mut next = vec![0u16; size];
        let mut fill = cumul.clone();
        for (u, &s) in symbol_at.iter().enumerate() {
            next[fill[s as usize]] = (size + u) as u16;
            fill[s as usize] += 1;
        }
        let mut tt = vec![(0u32, 0i32); norm.len()];
        let mut first = vec![0u16; norm.len()];
        let mut total = 0i32;
        for (s, &c) in norm.iter().enumerate() {
            match c {
                0 => tt[s] = (((log + 1) << 16) - (1 << log), 0),
                -1 | 1 => {
                    tt[s] = ((log << 16) - (1 << log), total - 1);
                    total += 1;
                }
                c => {
                    let c = c as u32;
                    let max_bits_out = log - (31 - (c - 1).leading_zeros());
                    tt[s] = ((max_bits_out << 16) - (c << max_bits_out), total - c as i32);
                    total += c as i32;
                }
            }
            if c != 0 {
                first[s] = next[cumul[s]];
            }
        }
        Fse { log, next, tt, first }
    }

    #[inline(always)]
    fn encode(&self, w: &mut BitWriter<'_>, state: &mut u32, s: usize) {
        let (dnb, dfs) = self.tt[s];
        let nb = (*state + dnb) >> 16;
        w.add(*state, nb);
        *state = u32::from(self.next[((*state >> nb) as i32 + dfs) as usize]);
    }

    /// Writes the state for the decoder to start from.
    fn flush(&self, w: &mut BitWriter<'_>, state: u32) {
        w.add(state, self.log);
    }
}

struct Tables {
    ll: Fse,
    ml: Fse,
    of: Fse,
}

impl Tables {
    fn get() -> &'static Tables {
        static T: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
        T.get_or_init(|| Tables {
            ll: Fse::build(&LL_NORM, 6),
            ml: Fse::build(&ML_NORM, 6),
            of: Fse::build(&OF_NORM, 5),
        })
    }
}

/// The code whose baseline is the largest not above `v`.
#[inline(always)]
fn code_of(base: &[u32], v: u32) -> usize {
    base.partition_point(|&b| b <= v) - 1
}

// --------------------------------------------------------------- sections

fn sequences_section(seqs: &[Seq], t: &Tables, out: &mut BytesMut) {
    let n = seqs.len();
    if n < 128 {
        out.put_u8(n as u8);
    } else if n < 0x7F00 {
        out.put_u8(((n >> 8) + 128) as u8);
        out.put_u8(n as u8);
    } else {
        out.put_u8(0xFF);
        out.put_u16_le((n - 0x7F00) as u16);
    }
    let Some((last, rest)) = seqs.split_last() else {
        return;
    };
    out.put_u8(0); // literal lengths, offsets, match lengths: predefined tables
    let codes = |s: &Seq| (code_of(&LL_BASE, s.ll), code_of(&ML_BASE, s.ml), 31 - s.of.leading_zeros());
    let extras = |w: &mut BitWriter<'_>, s: &Seq, (llc, mlc, ofc): (usize, usize, u32)| {
        w.add(s.ll - LL_BASE[llc], LL_BITS[llc]);
        w.add(s.ml - ML_BASE[mlc], ML_BITS[mlc]);
        w.add(s.of - (1 << ofc), ofc);
    };
    let mut w = BitWriter::new(out);
    let c = codes(last);
    let mut ll = u32::from(t.ll.first[c.0]);
    let mut ml = u32::from(t.ml.first[c.1]);
    let mut of = u32::from(t.of.first[c.2 as usize]);
    extras(&mut w, last, c);
    for s in rest.iter().rev() {
        let c = codes(s);
        t.of.encode(&mut w, &mut of, c.2 as usize);
        t.ml.encode(&mut w, &mut ml, c.1);
        t.ll.encode(&mut w, &mut ll, c.0);
        extras(&mut w, s, c);
    }
    t.ml.flush(&mut w, ml);
    t.of.flush(&mut w, of);
    t.ll.flush(&mut w, ll);
    w.close();
}

fn literals_section(lits: &[u8], out: &mut BytesMut) {
    let mut freq = [0u32; 256];
    for &b in lits {
        freq[b as usize] += 1;
    }
    let distinct = freq.iter().filter(|&&f| f > 0).count();
    if distinct == 1 && lits.len() > 1 {
        literals_header(out, 1, lits.len());
        out.put_u8(lits[0]);
        return;
    }
    if lits.len() >= HUFFMAN_MIN && distinct > 1 && huffman_literals(lits, &freq, out) {
        return;
    }
    literals_header(out, 0, lits.len());
    out.put_slice(lits);
}

/// Header of raw (`kind` 0) or RLE (1) literals of `n` bytes.
fn literals_header(out: &mut BytesMut, kind: u32, n: usize) {
    let n = n as u32;
    if n < 32 {
        out.put_u8((kind | n << 3) as u8);
    } else if n < 4096 {
        out.put_u16_le((kind | 1 << 2 | n << 4) as u16);
    } else {
        out.put_slice(&(kind | 3 << 2 | n << 4).to_le_bytes()[..3]);
    }
}

/// Writes Huffman-compressed literals; false (nothing written) when that
/// would not be smaller than the literals themselves.
fn huffman_literals(lits: &[u8], freq: &[u32; 256], out: &mut BytesMut) -> bool {
    let n = lits.len();
    let lens = huffman_lengths(freq, HUFFMAN_MAX_BITS);
    let max_bits = u32::from(*lens.iter().max().unwrap_or(&0));
    let max_symbol = lens.iter().rposition(|&l| l > 0).unwrap_or(0);
    // Canonical codes: longest first, by symbol within a length.
    let mut count = [0u32; 16];
    for &l in &lens {
        count[l as usize] += 1;
    }
    let mut start = [0u32; 16];
    let mut code = 0u32;
    for l in (1..=max_bits as usize).rev() {
        start[l] = code;
        code = (code + count[l]) >> 1;
    }
    let mut codes = [0u32; 256];
    for (s, &l) in lens.iter().enumerate() {
        if l > 0 {
            codes[s] = start[l as usize];
            start[l as usize] += 1;
        }
    }
    // Size format: one stream (10-bit sizes) or four (10, 14 or 18-bit sizes).
    let four = n >= 1024;
    let (format, size_bits, header) = match n {
        _ if !four => (0u64, 10, 3),
        0..16384 => (2, 14, 4),
        _ => (3, 18, 5),
    };
    let at = out.len();
    out.put_bytes(0, header);
    let weights: Vec<u8> = lens[..max_symbol]
        .iter()
        .map(|&l| if l == 0 { 0 } else { (max_bits + 1 - u32::from(l)) as u8 })
        .collect();
    if !huffman_tree(&weights, out) {
        out.truncate(at);
        return false;
    }
    let stream = |part: &[u8], out: &mut BytesMut| {
        let mut w = BitWriter::new(out);
        for &b in part.iter().rev() {
            w.add(codes[b as usize], u32::from(lens[b as usize]));
        }
        w.close();
    };
    if four {
        let seg = n.div_ceil(4);
        let jump = out.len();
        out.put_bytes(0, 6);
        for (i, part) in lits.chunks(seg).enumerate() {
            let from = out.len();
            stream(part, out);
            if i < 3 {
                let size = (out.len() - from) as u16;
                out[jump + 2 * i..jump + 2 * i + 2].copy_from_slice(&size.to_le_bytes());
            }
        }
    } else {
        stream(lits, out);
    }
    let comp = out.len() - at - header;
    if comp >= n || comp >= 1 << size_bits {
        out.truncate(at);
        return false;
    }
    let v = 2 | format << 2 | (n as u64) << 4 | (comp as u64) << (4 + size_bits);
    out[at..at + header].copy_from_slice(&v.to_le_bytes()[..header]);
    true
}

/// Code lengths of a Huffman code for `freq` (at least two symbols), none
/// longer than `max_bits`: frequencies are halved until the tree fits.
fn huffman_lengths(freq: &[u32; 256], max_bits: u32) -> [u8; 256] {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut f = *freq;
    loop {
        let mut heap: BinaryHeap<Reverse<(u64, u16)>> = f
            .iter()
            .enumerate()
            .filter(|(_, x)| **x > 0)
            .map(|(s, &x)| Reverse((u64::from(x), s as u16)))
            .collect();
        let mut parent = [0u16; 512];
        let mut next = 256u16;
        while heap.len() > 1 {
            let (Some(Reverse((wa, a))), Some(Reverse((wb, b)))) = (heap.pop(), heap.pop()) else { break };
            parent[a as usize] = next;
            parent[b as usize] = next;
            heap.push(Reverse((wa + wb, next)));
            next += 1;
        }
        let root = next - 1;
        let mut depth = [0u8; 512];
        for id in (256..root).rev() {
            depth[id as usize] = depth[parent[id as usize] as usize] + 1;
        }
        let mut lens = [0u8; 256];
        for s in 0..256 {
            if f[s] > 0 {
                lens[s] = depth[parent[s] as usize] + 1;
            }
        }
        if lens.iter().all(|&l| u32::from(l) <= max_bits) {
            return lens;
        }
        for x in f.iter_mut().filter(|x| **x > 0) {
            *x = (*x >> 1) | 1;
        }
    }
}

/// Writes the Huffman tree description for `weights` (every symbol's but
/// the last's): FSE-compressed when that fits and is smaller, else direct
/// (4 bits each, at most 128 weights). False, with nothing written, when
/// neither can.
fn huffman_tree(weights: &[u8], out: &mut BytesMut) -> bool {
    let at = out.len();
    let direct = weights.len().div_ceil(2);
    if weights.len() >= 2 && fse_weights(weights, out) && (out.len() - at - 1 < direct || weights.len() > 128)
    {
        return true;
    }
    out.truncate(at);
    if weights.is_empty() || weights.len() > 128 {
        return false;
    }
    out.put_u8((127 + weights.len()) as u8);
    for pair in weights.chunks(2) {
        out.put_u8(pair[0] << 4 | pair.get(1).copied().unwrap_or(0));
    }
    true
}

/// FSE-compressed Huffman weights: a header byte (the size), the table
/// description, then two interleaved states over one table.
fn fse_weights(weights: &[u8], out: &mut BytesMut) -> bool {
    const LOG: u32 = 6;
    let n = weights.len();
    let mut cnt = [0u32; 16];
    for &w in weights {
        cnt[w as usize] += 1;
    }
    let top = cnt.iter().rposition(|&c| c > 0).unwrap_or(0);
    if cnt.iter().filter(|&&c| c > 0).count() < 2 {
        return false;
    }
    let norm = normalize(&cnt[..=top], n as u32, LOG);
    let table = Fse::build(&norm, LOG);
    let at = out.len();
    out.put_u8(0);
    // Table description (RFC 8878 §4.1.1): accuracy log, then each
    // symbol's probability + 1 in as few bits as the remainder allows,
    // zero probabilities followed by 2-bit repeat counts.
    let mut w = BitWriter::new(out);
    w.add(LOG - 5, 4);
    let mut remaining = 1i32 << LOG;
    let mut s = 0;
    while remaining > 0 {
        let max = (remaining + 1) as u32;
        let bits = 32 - max.leading_zeros();
        let low = (1u32 << bits) - 1 - max;
        let mask = (1u32 << (bits - 1)) - 1;
        let v = (norm[s] + 1) as u32;
        if v < low {
            w.add(v, bits - 1);
        } else if v <= mask {
            w.add(v, bits);
        } else {
            w.add(v + low, bits);
        }
        remaining -= i32::from(norm[s]);
        if norm[s] == 0 {
            let mut zeros = norm[s + 1..].iter().take_while(|&&c| c == 0).count();
            s += zeros;
            loop {
                let r = zeros.min(3);
                w.add(r as u32, 2);
                if r < 3 {
                    break;
                }
                zeros -= 3;
            }
        }
        s += 1;
    }
    w.align();
    // The decoder stops when reading past the stream's start, after the
    // update that follows weight n-2: its state must read at least one bit,
    // which a symbol's `first` state does (no symbol owns the whole table).
    let mut w = BitWriter::new(out);
    let sym = |i: usize| weights[i] as usize;
    let (mut even, mut odd) = if n.is_multiple_of(2) {
        (u32::from(table.first[sym(n - 2)]), u32::from(table.first[sym(n - 1)]))
    } else {
        (u32::from(table.first[sym(n - 1)]), u32::from(table.first[sym(n - 2)]))
    };
    for i in (0..n - 2).rev() {
        let state = if i.is_multiple_of(2) { &mut even } else { &mut odd };
        table.encode(&mut w, state, sym(i));
    }
    table.flush(&mut w, odd);
    table.flush(&mut w, even);
    w.close();
    let size = out.len() - at - 1;
    if size >= 128 {
        out.truncate(at);
        return false;
    }
    out[at] = size as u8;
    true
}

/// Scales `cnt` (summing to `total`) to sum to 2^`log`, every present
/// symbol at least 1.
fn normalize(cnt: &[u32], total: u32, log: u32) -> Vec<i16> {
    let size = 1i32 << log;
    let mut norm: Vec<i16> = cnt
        .iter()
        .map(|&c| match c {
            0 => 0,
            c => ((u64::from(c) * size as u64 + u64::from(total) / 2) / u64::from(total)).max(1) as i16,
        })
        .collect();
    let mut sum: i32 = norm.iter().map(|&x| i32::from(x)).sum();
    while sum > size {
        let i = (0..norm.len()).max_by_key(|&i| norm[i]).unwrap_or(0);
        norm[i] -= 1;
        sum -= 1;
    }
    while sum < size {
        let i = (0..cnt.len()).max_by_key(|&i| cnt[i]).unwrap_or(0);
        norm[i] += 1;
        sum += 1;
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both_decoders(data: &[u8]) -> usize {
        let mut z = BytesMut::new();
        compress(data, &mut z);
        let mut ours = Vec::new();
        std::io::Read::read_to_end(
            &mut ruzstd::decoding::StreamingDecoder::new(&z[..]).expect("ruzstd reads the frame header"),
            &mut ours,
        )
        .expect("ruzstd decodes it");
        assert!(ours == data, "ruzstd: {} bytes back for {}", ours.len(), data.len());
        let c = zstd::bulk::decompress(&z, data.len() + 1).expect("libzstd decodes it");
        assert!(c == data, "libzstd: {} bytes back for {}", c.len(), data.len());
        z.len()
    }

    fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// Records like a Kafka batch's: varint framing (bytes ≥ 128), JSON values.
    fn records(n: usize, seed: u64) -> Vec<u8> {
        let mut r = xorshift(seed);
        let mut out = Vec::new();
        for i in 0..n {
            let v = format!(
                r#"{{"id":{},"gender":"{}","age":{},"party":"{}"}}"#,
                r() % 1_000_000,
                ["male", "female", "other"][(r() % 3) as usize],
                18 + r() % 80,
                ["Democrat", "Republican", "Independent"][(r() % 3) as usize]
            );
            out.extend_from_slice(&[(v.len() * 2 + 20) as u8 | 0x80, 0x01, 0, (i * 2 % 128) as u8, 0x01]);
            out.extend_from_slice(&[(v.len() * 2) as u8 | 0x80, 0x01]);
            out.extend_from_slice(v.as_bytes());
            out.push(0);
        }
        out
    }

    #[test]
    fn frames_decode_in_both_decoders() {
        let mut r = xorshift(7);
        let random: Vec<u8> = (0..300_000).map(|_| r() as u8).collect();
        let letters: Vec<u8> = (0..65_536u64).map(|j| b'a' + ((j * j * 31 + j * 7) % 26) as u8).collect();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("one byte", vec![7]),
            ("short", b"abcabcabcabc".to_vec()),
            ("one value", vec![b'x'; 300_000]),
            ("random", random.clone()),
            ("random then repeated", [&random[..70_000], &random[..70_000], &random[..70_000]].concat()),
            ("letters", letters.repeat(5)),
            ("records", records(5_000, 1)),
            ("records, all bytes", [records(3_000, 2), (0..=255).collect()].concat()),
            ("255 bytes", vec![1; 255]),
            ("256 bytes", (0..=255).collect()),
            ("65,791 bytes", records(2_000, 3)[..65_791].to_vec()),
            ("65,792 bytes", records(2_000, 4)[..65_792].to_vec()),
            ("one block", records(3_000, 5)[..BLOCK_MAX].to_vec()),
            ("one block + 1", records(3_000, 6)[..BLOCK_MAX + 1].to_vec()),
        ];
        for (name, data) in &cases {
            let z = both_decoders(data);
            eprintln!("{name}: {} -> {z}", data.len());
        }
        // Compressible inputs compress; incompressible ones barely grow.
        let z = both_decoders(&records(5_000, 8));
        assert!(z * 3 < records(5_000, 8).len(), "records compress 3x or better: {z}");
        assert!(both_decoders(&random) <= random.len() + 64);
    }

    /// Huffman trees with every literal byte value and with skewed and flat
    /// distributions (FSE-compressed and direct weights, one and four streams).
    #[test]
    fn literal_alphabets_decode_in_both_decoders() {
        let mut r = xorshift(11);
        for alphabet in [2u64, 3, 5, 16, 60, 127, 128, 129, 200, 256] {
            for len in [64usize, 100, 1023, 1024, 5000, 40_000, 131_072] {
                // mostly no matches: literals dominate
                let data: Vec<u8> = (0..len)
                    .map(|i| {
                        let x = r();
                        let v = if x.is_multiple_of(4) {
                            (x >> 8) % alphabet
                        } else {
                            (x >> 8) % (alphabet / 2 + 1)
                        };
                        (v as usize + i % 2) as u8
                    })
                    .collect();
                both_decoders(&data);
            }
        }
    }

    #[test]
    fn fse_tables_spread_as_the_decoder_does() {
        // Every state decodes to the symbol it was built for, and each
        // symbol owns as many states as its probability.
        for (norm, log) in [(&LL_NORM[..], 6), (&ML_NORM[..], 6), (&OF_NORM[..], 5)] {
            let t = Fse::build(norm, log);
            let mut owned = vec![0usize; norm.len()];
            let mut seen = std::collections::HashSet::new();
            for s in 0..norm.len() {
                let k = norm[s].unsigned_abs() as usize;
                owned[s] = k;
                if k > 0 {
                    assert!(seen.insert(t.first[s]), "state {} given twice", t.first[s]);
                }
            }
            assert_eq!(owned.iter().sum::<usize>(), 1 << log);
            assert_eq!(t.next.len(), 1 << log);
            let states: std::collections::HashSet<_> = t.next.iter().collect();
            assert_eq!(states.len(), 1 << log, "every state appears once");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn any_input_round_trips(
            parts in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..400), 0usize..2000, 1usize..40), 0..12),
        ) {
            // pieces of random bytes, some repeated at random distances
            let mut data = Vec::new();
            for (bytes, back, times) in parts {
                data.extend_from_slice(&bytes);
                for _ in 0..times % 5 {
                    let from = data.len().saturating_sub(back.max(1));
                    let piece: Vec<u8> = data[from..].iter().take(times * 7).copied().collect();
                    data.extend_from_slice(&piece);
                }
            }
            both_decoders(&data);
        }
    }
}
