//! Retry vocabulary, pure (no tokio, no clock): the classifier from broker
//! error code to what a client should do next, the [`Backoff`] schedule, the
//! [`RetryPolicy`] deciding when to give up, and the [`Step`] an attempt ends
//! with. The loop that drives them is `Cluster::with_retry`.

use std::time::Duration;

use kwire_proto::ErrorCode;

use crate::MetaError;

/// What to do after a broker answers with an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAction {
    /// Success: nothing to retry.
    Done,
    /// Retry the same request to the same broker after a backoff.
    Retry,
    /// Metadata is stale (leader moved, partition unknown): refresh it, then retry.
    RefreshMetadata,
    /// The group/transaction coordinator moved or is loading: find it again, then retry.
    RefindCoordinator,
    /// Retrying cannot help.
    Fatal,
}

/// Classifies `code` the way Kafka's Java client does.
pub fn classify(code: ErrorCode) -> RetryAction {
    use RetryAction::*;
    match code.0 {
        0 => Done,
        // Leadership / routing changed: refresh metadata.
        3 /* UNKNOWN_TOPIC_OR_PARTITION */
        | 5 /* LEADER_NOT_AVAILABLE */
        | 6 /* NOT_LEADER_OR_FOLLOWER */
        | 9 /* REPLICA_NOT_AVAILABLE */
        | 13 /* NETWORK_EXCEPTION */
        | 56 /* KAFKA_STORAGE_ERROR */
        | 72 /* LISTENER_NOT_FOUND */
        | 74 /* FENCED_LEADER_EPOCH */
        | 100 /* UNKNOWN_TOPIC_ID */
        | 103 /* INCONSISTENT_TOPIC_ID */
        | 41 /* NOT_CONTROLLER */ => RefreshMetadata,
        // Coordinator moved or not ready.
        14 /* COORDINATOR_LOAD_IN_PROGRESS */ => Retry,
        15 /* COORDINATOR_NOT_AVAILABLE */ | 16 /* NOT_COORDINATOR */ => RefindCoordinator,
        // Transient on the same broker.
        7 /* REQUEST_TIMED_OUT */
        | 19 /* NOT_ENOUGH_REPLICAS */
        | 20 /* NOT_ENOUGH_REPLICAS_AFTER_APPEND */
        | 2 /* CORRUPT_MESSAGE */
        | 70 /* FETCH_SESSION_ID_NOT_FOUND */
        | 71 /* INVALID_FETCH_SESSION_EPOCH */
        | 75 /* UNKNOWN_LEADER_EPOCH */
        | 78 /* OFFSET_NOT_AVAILABLE */
        | 80 /* PREFERRED_LEADER_NOT_AVAILABLE */
        | 88 /* UNSTABLE_OFFSET_COMMIT */
        | 89 /* THROTTLING_QUOTA_EXCEEDED */
        | 108 /* NEW_LEADER_ELECTED */ => Retry,
        // Anything else Kafka marks retriable: back off and retry.
        _ if code.is_retriable() => Retry,
        _ => Fatal,
    }
}

/// Exponential backoff: `base · 2^attempt`, capped at `max` (the cluster's
/// `retry.backoff.ms` / `retry.backoff.max.ms`). Pure: no clock, no tokio,
/// so sans-IO cores use it as well as the [`Cluster`](crate::Cluster)'s
/// retry loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// `retry.backoff.ms`: the first pause.
    pub base: Duration,
    /// `retry.backoff.max.ms`: no pause is longer.
    pub max: Duration,
}

impl Backoff {
    /// A backoff from `base` doubling up to `max`.
    pub const fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max }
    }

    /// The pause before retry number `attempt` (0: `base`).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.base.saturating_mul(1u32 << attempt.min(16)).min(self.max)
    }
}

/// When a retried operation gives up and how long it pauses between
/// attempts: the cluster's [`Backoff`], clamped to `[min_pause, max_pause]`
/// and never past the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Give up once this much time has passed since the first attempt
    /// (checked after each failed attempt: there is always one attempt).
    pub timeout: Option<Duration>,
    /// Give up after this many attempts.
    pub max_attempts: Option<u32>,
    /// No pause is shorter.
    pub min_pause: Duration,
    /// No pause is longer.
    pub max_pause: Duration,
}

impl RetryPolicy {
    /// Retry until `timeout` has passed.
    pub const fn within(timeout: Duration) -> Self {
        RetryPolicy {
            timeout: Some(timeout),
            max_attempts: None,
            min_pause: Duration::ZERO,
            max_pause: Duration::MAX,
        }
    }

    /// Make at most `n` attempts.
    pub const fn attempts(n: u32) -> Self {
        RetryPolicy {
            timeout: None,
            max_attempts: Some(n),
            min_pause: Duration::ZERO,
            max_pause: Duration::MAX,
        }
    }

    /// Pauses at least `d`.
    pub const fn min_pause(mut self, d: Duration) -> Self {
        self.min_pause = d;
        self
    }

    /// Pauses at most `d`.
    pub const fn max_pause(mut self, d: Duration) -> Self {
        self.max_pause = d;
        self
    }

    /// After `failed` failed attempts, `elapsed` after the first one started:
    /// the pause before the next attempt, or `None` to give up.
    pub fn next_pause(&self, backoff: &Backoff, failed: u32, elapsed: Duration) -> Option<Duration> {
        if self.max_attempts.is_some_and(|max| failed >= max) {
            return None;
        }
        let pause = backoff.delay(failed).min(self.max_pause).max(self.min_pause);
        match self.timeout {
            Some(t) if elapsed >= t => None,
            Some(t) => Some(pause.min(t - elapsed)),
            None => Some(pause),
        }
    }
}

/// What one attempt of a retried operation (see `Cluster::with_retry`)
/// concluded. A failure that retrying can't fix is the attempt's `Err`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Step<T, R> {
    /// Finished with this value.
    Done(T),
    /// Failed with `R` (kept as the last error); try again after a backoff.
    Retry(R),
    /// The cached metadata of the topic is stale (leader moved, partition
    /// unknown): forget it, back off, try again.
    RefreshMetadata(String, R),
    /// The connection to the broker broke: drop it, back off, try again.
    Reconnect(i32, R),
}

/// Why a retried operation stopped retrying, with its last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp<R> {
    /// What was being done (`find the leader of t-0`).
    pub what: String,
    /// Attempts made.
    pub attempts: u32,
    /// Time since the first attempt started.
    pub waited: Duration,
    /// The policy's timeout, when that is what ran out.
    pub timeout: Option<Duration>,
    /// The last attempt's failure.
    pub last: R,
}

impl<R: Into<MetaError>> GaveUp<R> {
    /// The typed error: [`MetaError::Timeout`] when the time ran out,
    /// [`MetaError::RetriesExhausted`] when the attempts did.
    pub fn into_error(self) -> MetaError {
        let last = Box::new(self.last.into());
        match self.timeout {
            Some(timeout) => MetaError::Timeout { what: self.what, timeout, attempts: self.attempts, last },
            None => MetaError::RetriesExhausted { what: self.what, attempts: self.attempts, last },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RetryAction::*;

    #[test]
    fn matches_kafka_client_behaviour() {
        let cases = [
            (0, Done),
            (6, RefreshMetadata),
            (5, RefreshMetadata),
            (3, RefreshMetadata),
            (74, RefreshMetadata),
            (56, RefreshMetadata),
            (13, RefreshMetadata),
            (75, Retry),
            (19, Retry),
            (7, Retry),
            (14, Retry),
            (15, RefindCoordinator),
            (16, RefindCoordinator),
            (36, Fatal),
            (10, Fatal),
            (29, Fatal),
            (45, Fatal),
            (-1, Fatal),
            (9999, Fatal),
        ];
        for (code, want) in cases {
            assert_eq!(classify(ErrorCode(code)), want, "code {code} ({})", ErrorCode(code));
        }
    }

    #[test]
    fn every_retriable_code_is_retried_somehow() {
        for code in -1..=130 {
            let c = ErrorCode(code);
            if c.is_retriable() {
                assert_ne!(classify(c), Fatal, "{c}");
            }
        }
    }

    #[test]
    fn backoff_doubles_from_base_to_max() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let got: Vec<u128> = (0..6).map(|a| b.delay(a).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
        let huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(huge.delay(40), Duration::MAX, "saturates, never overflows");
    }

    #[test]
    fn policy_pauses_clamp_and_give_up() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let ms = Duration::from_millis;
        // Attempt-bounded: pause after failures 1..3, give up after the 4th.
        let p = RetryPolicy::attempts(4);
        assert_eq!(p.next_pause(&b, 1, ms(0)), Some(ms(200)));
        assert_eq!(p.next_pause(&b, 3, ms(0)), Some(ms(800)));
        assert_eq!(p.next_pause(&b, 4, ms(0)), None);
        // Floor and cap.
        let p = RetryPolicy::attempts(20).min_pause(ms(50)).max_pause(ms(250));
        assert_eq!(p.next_pause(&Backoff::new(ms(10), ms(20)), 1, ms(0)), Some(ms(50)));
        assert_eq!(p.next_pause(&b, 5, ms(0)), Some(ms(250)));
        // Time-bounded: the pause never runs past the deadline; at the deadline, stop.
        let p = RetryPolicy::within(ms(1000));
        assert_eq!(p.next_pause(&b, 1, ms(100)), Some(ms(200)));
        assert_eq!(p.next_pause(&b, 3, ms(900)), Some(ms(100)));
        assert_eq!(p.next_pause(&b, 3, ms(1000)), None);
        assert_eq!(RetryPolicy::within(Duration::ZERO).next_pause(&b, 1, ms(0)), None);
    }

    #[test]
    fn gave_up_becomes_a_typed_error_with_the_last_code() {
        let last =
            MetaError::Broker { context: "t-0".into(), code: ErrorCode::NOT_CONTROLLER, message: None };
        let g = GaveUp {
            what: "x".to_owned(),
            attempts: 2,
            waited: Duration::from_millis(5),
            timeout: Some(Duration::from_millis(5)),
            last: last.clone(),
        };
        let e = g.clone().into_error();
        assert!(matches!(&e, MetaError::Timeout { timeout, attempts: 2, .. } if timeout.as_millis() == 5));
        assert_eq!(e.code(), Some(ErrorCode::NOT_CONTROLLER));
        let e = GaveUp { timeout: None, ..g }.into_error();
        assert_eq!(e.to_string(), format!("x: gave up after 2 attempts: {last}"));
    }
}
