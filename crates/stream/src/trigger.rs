//! Triggers and rate limits as pure functions of offsets and a clock value.

use std::collections::BTreeMap;

use crate::error::StreamError;
use crate::time::parse_duration;

pub use kwire_proto::TopicPartition;

/// Offsets per topic partition.
pub type PartitionOffsets = BTreeMap<TopicPartition, i64>;

/// When micro-batches run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// No trigger set: the next batch starts as soon as the previous one ended
    /// and there is new data.
    Default,
    /// `processingTime`: batches start on clock-aligned interval boundaries.
    ProcessingTime {
        /// Interval in milliseconds (> 0).
        interval_ms: i64,
    },
    /// One batch with everything available (ignores maxOffsetsPerTrigger), then stop.
    Once,
    /// Everything available at start, in rate-limited batches, then stop.
    AvailableNow,
}

impl Trigger {
    /// Parse `10s`, `1m`, `10 seconds`, `once`, `available-now` /
    /// `availableNow`, `default` (also `0` seconds → default).
    pub fn parse(s: &str) -> Result<Trigger, StreamError> {
        let t = s.trim();
        let l = t.to_ascii_lowercase().replace(['-', '_', ' '], "");
        match l.as_str() {
            "once" => return Ok(Trigger::Once),
            "availablenow" => return Ok(Trigger::AvailableNow),
            "default" | "asap" => return Ok(Trigger::Default),
            _ => {}
        }
        let ms = parse_duration(t)? / 1000;
        if ms < 0 {
            return Err(StreamError::Duration {
                input: s.into(),
                message: "interval cannot be negative".into(),
            });
        }
        Ok(if ms == 0 { Trigger::Default } else { Trigger::ProcessingTime { interval_ms: ms } })
    }

    /// True for triggers that stop by themselves.
    pub fn is_bounded(&self) -> bool {
        matches!(self, Trigger::Once | Trigger::AvailableNow)
    }
}

/// Spark's `ProcessingTimeExecutor.nextBatchTime`: the next interval boundary
/// strictly after `now_ms` (`now / interval * interval + interval`).
pub fn next_batch_time(now_ms: i64, interval_ms: i64) -> i64 {
    if interval_ms <= 0 { now_ms } else { now_ms.div_euclid(interval_ms) * interval_ms + interval_ms }
}

/// Spark's warning for a batch that overran its interval.
pub fn falling_behind_message(interval_ms: i64, elapsed_ms: i64) -> String {
    format!(
        "Current batch is falling behind. The trigger interval is {interval_ms} milliseconds, but spent {elapsed_ms} milliseconds"
    )
}

/// What the driver does after a trigger fired at `trigger_ms` and its batch
/// (or the check for new data) ended at `now_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerStep {
    /// Wait until this time before the next trigger (== `now_ms`: go at once).
    pub next_ms: i64,
    /// The falling-behind warning, when the batch took longer than the interval.
    pub warning: Option<String>,
}

/// One step of Spark's `ProcessingTimeExecutor.execute` loop: the next trigger
/// time is the boundary after the *start* of this trigger; when the batch took
/// longer than the interval, that boundary is already past (so the next batch
/// starts at once) and Spark logs the warning.
pub fn processing_time_step(interval_ms: i64, trigger_ms: i64, now_ms: i64) -> TriggerStep {
    let next = next_batch_time(trigger_ms, interval_ms);
    let elapsed = now_ms - trigger_ms;
    TriggerStep {
        next_ms: next.max(now_ms),
        warning: (interval_ms > 0 && elapsed > interval_ms)
            .then(|| falling_behind_message(interval_ms, elapsed)),
    }
}

/// Spark's `KafkaMicroBatchStream.rateLimit`: spread `limit` offsets over the
/// partitions in proportion to what each has available (`until - from`); a
/// share below one is rounded up so that small partitions are not starved,
/// others are rounded down; never past `until`. Partitions missing from
/// `from` start at `earliest` (or `until` when unknown).
pub fn rate_limit(
    limit: u64,
    from: &PartitionOffsets,
    until: &PartitionOffsets,
    earliest: &PartitionOffsets,
) -> PartitionOffsets {
    let begin_of =
        |tp: &TopicPartition| -> Option<i64> { from.get(tp).or_else(|| earliest.get(tp)).copied() };
    let sizes: BTreeMap<&TopicPartition, i64> = until
        .iter()
        .filter_map(|(tp, end)| {
            let size = end.saturating_sub(begin_of(tp)?);
            (size > 0).then_some((tp, size))
        })
        .collect();
    let total: f64 = sizes.values().map(|s| *s as f64).sum();
    if total < 1.0 {
        return until.clone();
    }
    until
        .iter()
        .map(|(tp, end)| {
            let off = match (sizes.get(tp), begin_of(tp)) {
                (Some(size), Some(begin)) => {
                    let prorate = limit as f64 * (*size as f64 / total);
                    let p = if prorate < 1.0 { prorate.ceil() } else { prorate.floor() };
                    let p = if p >= i64::MAX as f64 { i64::MAX } else { p as i64 };
                    (*end).min(begin.saturating_add(p))
                }
                _ => *end,
            };
            (tp.clone(), off)
        })
        .collect()
}

/// The end offsets of the next batch, or None when there is nothing new.
///
/// `from` is where the next batch starts (the previous batch's end), `latest`
/// what the source has now (or, for available-now, what it had at start).
/// `max_offsets` is `maxOffsetsPerTrigger` (ignored by [`Trigger::Once`]).
pub fn plan_batch_end(
    trigger: Trigger,
    max_offsets: Option<u64>,
    from: &PartitionOffsets,
    latest: &PartitionOffsets,
) -> Option<PartitionOffsets> {
    let limited = match (trigger, max_offsets) {
        (Trigger::Once, _) | (_, None) => latest.clone(),
        (_, Some(limit)) => rate_limit(limit, from, latest, &PartitionOffsets::new()),
    };
    let progress = limited.iter().any(|(tp, end)| from.get(tp).is_none_or(|f| end > f));
    progress.then_some(limited)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offs(v: &[(&str, i32, i64)]) -> PartitionOffsets {
        v.iter().map(|(t, p, o)| (TopicPartition::new(*t, *p), *o)).collect()
    }

    #[test]
    fn parse_triggers() {
        assert_eq!(Trigger::parse("10s").unwrap(), Trigger::ProcessingTime { interval_ms: 10_000 });
        assert_eq!(Trigger::parse("1 minute").unwrap(), Trigger::ProcessingTime { interval_ms: 60_000 });
        assert_eq!(Trigger::parse("once").unwrap(), Trigger::Once);
        assert_eq!(Trigger::parse("available-now").unwrap(), Trigger::AvailableNow);
        assert_eq!(Trigger::parse("availableNow").unwrap(), Trigger::AvailableNow);
        assert_eq!(Trigger::parse("0 seconds").unwrap(), Trigger::Default);
        assert!(Trigger::parse("soon").is_err());
    }

    #[test]
    fn clock_aligned() {
        assert_eq!(next_batch_time(0, 100), 100);
        assert_eq!(next_batch_time(100, 100), 200);
        assert_eq!(next_batch_time(next_batch_time(0, 100), 100), 200);
        assert_eq!(next_batch_time(12_345, 10_000), 20_000);
        let s = processing_time_step(10_000, 20_000, 23_000);
        assert_eq!(s, TriggerStep { next_ms: 30_000, warning: None });
        let s = processing_time_step(10_000, 20_000, 32_500);
        assert_eq!(s.next_ms, 32_500);
        assert_eq!(
            s.warning.unwrap(),
            "Current batch is falling behind. The trigger interval is 10000 milliseconds, but spent 12500 milliseconds"
        );
    }

    #[test]
    fn rate_limit_proportional() {
        let from = offs(&[("t", 0, 0), ("t", 1, 0), ("t", 2, 100)]);
        let until = offs(&[("t", 0, 1000), ("t", 1, 3), ("t", 2, 100)]);
        let r = rate_limit(100, &from, &until, &PartitionOffsets::new());
        // 100 * 1000/1003 = 99.7 -> 99; 100 * 3/1003 = 0.3 -> ceil 1; p2 has nothing
        assert_eq!(r, offs(&[("t", 0, 99), ("t", 1, 1), ("t", 2, 100)]));
        // nothing available: until unchanged
        assert_eq!(rate_limit(10, &until, &until, &PartitionOffsets::new()), until);
        // new partition starts at earliest
        let from = offs(&[("t", 0, 0)]);
        let until = offs(&[("t", 0, 10), ("t", 1, 10)]);
        let earliest = offs(&[("t", 1, 0)]);
        assert_eq!(rate_limit(10, &from, &until, &earliest), offs(&[("t", 0, 5), ("t", 1, 5)]));
    }

    #[test]
    fn batches_make_progress() {
        let from = offs(&[("t", 0, 0)]);
        let latest = offs(&[("t", 0, 5)]);
        assert_eq!(
            plan_batch_end(Trigger::AvailableNow, Some(2), &from, &latest),
            Some(offs(&[("t", 0, 2)]))
        );
        assert_eq!(plan_batch_end(Trigger::Once, Some(2), &from, &latest), Some(latest.clone()));
        assert_eq!(plan_batch_end(Trigger::Default, None, &latest, &latest), None);
        // a limit of 0 makes no progress (the CLI rejects it, as Spark does)
        assert_eq!(plan_batch_end(Trigger::Default, Some(0), &from, &latest), None);
        assert_eq!(plan_batch_end(Trigger::Default, Some(1), &from, &latest), Some(offs(&[("t", 0, 1)])));
    }
}
