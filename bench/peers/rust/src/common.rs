//! What every client shares: the contract's arguments, payload, percentiles
//! and results.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::stream::{FuturesUnordered, Stream, StreamExt};

/// Compression codec of the produce workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    Lz4,
    Zstd,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProduceArgs {
    pub bootstrap: String,
    pub topic: String,
    pub records: u64,
    pub size: usize,
    pub compression: Codec,
    pub rate: Option<f64>,
    pub linger_ms: u64,
    pub idempotence: bool,
}

#[derive(Debug, Clone)]
pub struct ConsumeArgs {
    pub bootstrap: String,
    pub topic: String,
    pub records: u64,
}

#[derive(Debug, Clone)]
pub struct E2eArgs {
    pub bootstrap: String,
    pub topic: String,
    pub records: u64,
    pub size: usize,
    pub rate: f64,
}

#[derive(Debug, Clone)]
pub struct GroupArgs {
    pub bootstrap: String,
    pub topic: String,
    pub group: String,
    pub records: u64,
}

/// What the produce workload measured.
#[derive(Debug, Default)]
pub struct ProduceOut {
    /// First send to last acknowledgement.
    pub seconds: f64,
    pub errors: u64,
    /// Hand-off to acknowledgement per record, ns (with --rate only).
    pub latencies_ns: Option<Vec<u64>>,
    pub notes: Option<String>,
    pub config: String,
}

/// What the consume and group workloads measured.
#[derive(Debug, Default)]
pub struct ConsumeOut {
    pub tally: Tally,
    pub seconds: f64,
    /// Start to the first record (group only).
    pub join_ms: Option<f64>,
    pub config: String,
}

#[derive(Debug, Default)]
pub struct E2eOut {
    pub latencies_ns: Vec<u64>,
    pub notes: Option<String>,
    pub config: String,
}

pub enum Outcome {
    Produce(ProduceOut),
    Consume(ConsumeOut),
    Group(ConsumeOut),
    E2e(E2eOut),
    Unsupported(String),
}

/// Count, value bytes and the checksum (wrapping u64 sum of every value byte).
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub records: u64,
    pub bytes: u64,
    pub checksum: u64,
}

impl Tally {
    #[inline]
    pub fn add(&mut self, value: Option<&[u8]>) {
        self.records += 1;
        if let Some(v) = value {
            self.bytes += v.len() as u64;
            let mut s = 0u64;
            for &b in v {
                s = s.wrapping_add(u64::from(b));
            }
            self.checksum = self.checksum.wrapping_add(s);
        }
    }
}

const POOL_LEN: usize = 65_536;

/// The payload pool: `pool[j] = b'a' + ((j*j*31 + j*7) % 26)`.
pub struct Payload {
    pool: Vec<u8>,
}

impl Payload {
    pub fn new() -> Payload {
        let pool = (0..POOL_LEN as u64).map(|j| b'a' + ((j * j * 31 + j * 7) % 26) as u8).collect();
        Payload { pool }
    }

    /// The value of record `i`: `{:012}` of i, then `pool[off .. off + size - 12]`
    /// with `off = (i * 89) % 32768`.
    #[inline]
    pub fn fill(&self, i: u64, size: usize, buf: &mut Vec<u8>) {
        buf.clear();
        put_digits::<12>(i, buf);
        let off = ((i * 89) % 32_768) as usize;
        buf.extend_from_slice(&self.pool[off..off + size.saturating_sub(12)]);
        buf.truncate(size);
    }

    /// The e2e value: the send time as 20-digit zero-padded nanoseconds since
    /// process start, padded with the pool bytes to `size`.
    #[inline]
    pub fn fill_e2e(&self, i: u64, sent_ns: u64, size: usize, buf: &mut Vec<u8>) {
        buf.clear();
        put_digits::<20>(sent_ns, buf);
        let off = ((i * 89) % 32_768) as usize;
        buf.extend_from_slice(&self.pool[off..off + size.saturating_sub(20)]);
        buf.truncate(size);
    }
}

/// Appends the last `W` decimal digits of `n`, zero-padded, as the Go and
/// Java harnesses do (`putDigits`): `write!(buf, "{n:012}")` cost about 9% of
/// a kwire produce run's CPU, which the other harnesses do not pay.
#[inline]
fn put_digits<const W: usize>(mut n: u64, buf: &mut Vec<u8>) {
    let mut d = [b'0'; W];
    for k in (0..W).rev() {
        d[k] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    buf.extend_from_slice(&d);
}

static START: OnceLock<Instant> = OnceLock::new();

/// Marks the process start (the e2e clock's zero).
pub fn init_clock() {
    let _ = START.set(Instant::now());
}

/// Nanoseconds of the monotonic clock since process start.
#[inline]
pub fn now_ns() -> u64 {
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// The send time an e2e value carries.
#[inline]
pub fn e2e_sent_ns(value: Option<&[u8]>) -> Result<u64> {
    let v = value.unwrap_or_default();
    let Some(digits) = v.get(..20) else { bail!("e2e record shorter than 20 bytes") };
    let mut n = 0u64;
    for &d in digits {
        if !d.is_ascii_digit() {
            bail!("e2e record does not start with 20 digits");
        }
        n = n * 10 + u64::from(d - b'0');
    }
    Ok(n)
}

/// When record `i` is due at `rate` records per second.
#[inline]
pub fn due(start: Instant, i: u64, rate: f64) -> Instant {
    start + Duration::from_secs_f64(i as f64 / rate)
}

/// Percentile per the contract: `samples[min(len-1, floor(q*len))]`, in ms
/// rounded to 3 decimals. `samples` must be sorted.
pub fn percentile_ms(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((q * sorted.len() as f64).floor() as usize).min(sorted.len() - 1);
    ms3(sorted[idx])
}

pub fn ms3(ns: u64) -> f64 {
    (ns as f64 / 1e3).round() / 1e3
}

/// Polls `stream` with the task's own context until it has nothing ready,
/// handing each ready item to `f` (newly pushed futures get their first poll).
pub async fn drain_ready<S, F>(stream: &mut S, mut f: F)
where
    S: Stream + Unpin,
    F: FnMut(S::Item),
{
    futures::future::poll_fn(|cx| {
        while let Poll::Ready(Some(item)) = stream.poll_next_unpin(cx) {
            f(item);
        }
        Poll::Ready(())
    })
    .await
}

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The produce loop with `--rate` for the async clients: record `i` is handed
/// to the client at `start + i/rate` (sleeping until due; late records go at
/// once), `send(i)` performs the hand-off and returns the future of the
/// acknowledgement (true: acknowledged). Returns the per-record hand-off to
/// acknowledgement times (ns), the failures and the seconds from the first
/// hand-off to the last acknowledgement.
pub async fn rate_loop<'a, F>(n: u64, rate: f64, mut send: F) -> (Vec<u64>, u64, f64)
where
    F: FnMut(u64) -> BoxFut<'a, Result<BoxFut<'a, bool>>>,
{
    let mut lat = Vec::with_capacity(n as usize);
    let mut errors = 0u64;
    let mut acks: FuturesUnordered<BoxFut<'a, (Instant, bool)>> = FuturesUnordered::new();
    let start = Instant::now();
    let mut first: Option<Instant> = None;
    let mut last = start;
    let mut i = 0u64;
    let mut record = |(t0, ok): (Instant, bool), lat: &mut Vec<u64>, errors: &mut u64| {
        let now = Instant::now();
        last = now;
        if ok {
            lat.push(now.duration_since(t0).as_nanos() as u64);
        } else {
            *errors += 1;
        }
    };
    loop {
        if i < n {
            let at = due(start, i, rate);
            tokio::select! {
                biased;
                Some(done) = acks.next(), if !acks.is_empty() => record(done, &mut lat, &mut errors),
                _ = tokio::time::sleep_until(at.into()) => {
                    let t0 = Instant::now();
                    first.get_or_insert(t0);
                    match send(i).await {
                        Ok(ack) => acks.push(Box::pin(async move { (t0, ack.await) })),
                        Err(_) => errors += 1,
                    }
                    i += 1;
                }
            }
        } else {
            match acks.next().await {
                Some(done) => record(done, &mut lat, &mut errors),
                None => break,
            }
        }
    }
    let seconds = last.duration_since(first.unwrap_or(start)).as_secs_f64();
    (lat, errors, seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values are the contract's, byte for byte: what `format!` gives.
    #[test]
    fn values_match_the_formatted_contract() {
        let p = Payload::new();
        let mut buf = Vec::new();
        for i in [0u64, 7, 42, 999_999, 123_456_789_012, 5_000_000] {
            p.fill(i, 100, &mut buf);
            let off = ((i * 89) % 32_768) as usize;
            let mut want = format!("{i:012}").into_bytes();
            want.extend_from_slice(&p.pool[off..off + 88]);
            assert_eq!(buf, want, "{i}");
            p.fill_e2e(i, i * 1_000_003, 100, &mut buf);
            assert_eq!(&buf[..20], format!("{:020}", i * 1_000_003).as_bytes());
            assert_eq!(buf.len(), 100);
        }
    }
}
