//! `kwire gen voters`: the guide's voter data, deterministic with a seed.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::args::generate::{GenArgs, GenWhat};
use crate::config::ClientSettings;

/// A small, fast, seedable generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const PARTIES: [(&str, f64); 5] =
    [("Democrat", 0.33), ("Republican", 0.30), ("Independent", 0.30), ("Libertarian", 0.04), ("Green", 0.03)];

/// Adult age distribution, roughly the US voting-age population by bracket.
const AGES: [(u32, u32, f64); 6] =
    [(18, 24, 0.12), (25, 34, 0.18), (35, 44, 0.17), (45, 54, 0.16), (55, 64, 0.17), (65, 95, 0.20)];

fn pick<'a, T>(rng: &mut Rng, table: &'a [(T, f64)]) -> &'a T {
    let mut x = rng.unit();
    for (v, w) in table {
        if x < *w {
            return v;
        }
        x -= w;
    }
    &table[table.len() - 1].0
}

/// Writes one voter line (with a trailing newline) into `out`.
pub fn voter(rng: &mut Rng, malformed: f64, out: &mut Vec<u8>) {
    let gender = if rng.unit() < 0.51 { "F" } else { "M" };
    let mut x = rng.unit();
    let mut age = 40;
    for (lo, hi, w) in AGES {
        if x < w {
            age = lo + (rng.next_u64() % u64::from(hi - lo + 1)) as u32;
            break;
        }
        x -= w;
    }
    let party = pick(rng, &PARTIES);
    if malformed > 0.0 && rng.unit() < malformed {
        // Broken JSON, or right JSON with the wrong types.
        match rng.next_u64() % 3 {
            0 => {
                let _ = write!(out, "{{\"gender\":\"{gender}\",\"age\":{age},\"party\":");
            }
            1 => {
                let _ = write!(out, "{{\"gender\":\"{gender}\",\"age\":\"{age}\",\"party\":\"{party}\"}}");
            }
            _ => {
                let _ = write!(out, "{{\"gender\":\"{gender}\",\"age\":{age}.5,\"party\":\"{party}\"}}");
            }
        }
    } else {
        let _ = write!(out, "{{\"gender\":\"{gender}\",\"age\":{age},\"party\":\"{party}\"}}");
    }
    out.push(b'\n');
}

pub async fn run(_settings: &ClientSettings, a: GenArgs) -> Result<ExitCode> {
    let GenWhat::Voters(v) = a.what;
    if !(0.0..=1.0).contains(&v.malformed) {
        anyhow::bail!("--malformed must be between 0 and 1, got {}", v.malformed);
    }
    if let Some(r) = v.rate {
        if r.is_nan() || r <= 0.0 {
            anyhow::bail!("--rate must be positive, got {r}");
        }
    }
    let mut rng = Rng::new(v.seed);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut buf = Vec::with_capacity(64 * 1024);
    let start = Instant::now();
    let mut n: u64 = 0;
    while v.count == 0 || n < v.count {
        voter(&mut rng, v.malformed, &mut buf);
        n += 1;
        if let Some(rate) = v.rate {
            let due = start + Duration::from_secs_f64(n as f64 / rate);
            let now = Instant::now();
            if due > now {
                out.write_all(&buf).context("writing to stdout")?;
                out.flush().context("writing to stdout")?;
                buf.clear();
                std::thread::sleep(due - now);
            }
        }
        if buf.len() >= 60 * 1024 {
            out.write_all(&buf).context("writing to stdout")?;
            buf.clear();
        }
    }
    out.write_all(&buf).context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_valid() {
        let gen_lines = |seed| {
            let mut rng = Rng::new(seed);
            let mut out = Vec::new();
            for _ in 0..2000 {
                voter(&mut rng, 0.0, &mut out);
            }
            out
        };
        assert_eq!(gen_lines(7), gen_lines(7));
        assert_ne!(gen_lines(7), gen_lines(8));
        let text = String::from_utf8(gen_lines(7)).unwrap();
        let mut parties = std::collections::BTreeMap::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let age = v["age"].as_u64().unwrap();
            assert!((18..=95).contains(&age));
            assert!(v["gender"] == "F" || v["gender"] == "M");
            *parties.entry(v["party"].as_str().unwrap().to_owned()).or_insert(0) += 1;
        }
        assert_eq!(parties.len(), 5, "{parties:?}");
        assert!(parties["Democrat"] > parties["Green"] * 5, "{parties:?}");
    }

    #[test]
    fn malformed_fraction_is_respected() {
        let mut rng = Rng::new(1);
        let mut out = Vec::new();
        for _ in 0..10_000 {
            voter(&mut rng, 0.1, &mut out);
        }
        let text = String::from_utf8(out).unwrap();
        let bad = text
            .lines()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).map_or(true, |v| !v["age"].is_u64()))
            .count();
        assert!((800..1200).contains(&bad), "{bad}");
    }
}
