//! Leader routing and the one retry loop every layer uses.
//!
//! [`Cluster::with_retry`] drives an operation's attempts: it runs one,
//! reacts to the [`Step`] it ends with (forgets stale metadata, drops a
//! broken connection), and pauses per the [`RetryPolicy`] and the cluster's
//! [`Backoff`] until the operation is done, fails for good (the attempt's
//! `Err`) or the policy gives up ([`GaveUp`], with the last error). The
//! decisions are the pure [`RetryPolicy::next_pause`]; this file only sleeps.
//! A loop that keeps its own state across attempts drives a [`Retrier`].

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;

use kwire_proto::{ErrorCode, TopicPartition};
use tokio::time::Instant;

use crate::retry::{Backoff, GaveUp, RetryAction, RetryPolicy, Step, classify};
use crate::{Cluster, MetaError};

impl Cluster {
    /// The backoff schedule of `retry.backoff.ms` / `retry.backoff.max.ms`.
    pub fn retry_backoff(&self) -> Backoff {
        let cfg = self.config();
        Backoff::new(cfg.retry_backoff, cfg.retry_backoff_max)
    }

    /// Exponential backoff from `retry.backoff.ms` to `retry.backoff.max.ms`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.retry_backoff().delay(attempt)
    }

    /// Runs `attempt(n)` (`n` = 1, 2, …) until it returns [`Step::Done`]
    /// or an `Err` (a failure retrying can't fix, returned as the outer
    /// `Err`), retrying the other steps with backoff per `policy`. When the
    /// policy gives up, the inner `Err` says after how many attempts and how
    /// long, with the last attempt's failure; `what` names the operation in
    /// it and in the logs. A loop that keeps state across attempts uses a
    /// [`Retrier`] (what this runs) directly.
    ///
    /// ```no_run
    /// # async fn demo(cluster: kwire_meta::Cluster) -> Result<(), kwire_meta::MetaError> {
    /// use std::time::Duration;
    /// use kwire_meta::retry::{RetryPolicy, Step};
    /// let policy = RetryPolicy::within(Duration::from_secs(10));
    /// let cl = &cluster;
    /// let brokers: usize = cluster
    ///     .with_retry("see three brokers", policy, |_| async move {
    ///         let md = cl.fetch_metadata(Some(&[])).await?;
    ///         let n = md.brokers.len();
    ///         Ok::<_, kwire_meta::MetaError>(if n >= 3 { Step::Done(n) } else { Step::Retry("too few") })
    ///     })
    ///     .await?
    ///     .map_err(|gave_up| kwire_meta::MetaError::Invalid(format!("{}: {}", gave_up.what, gave_up.last)))?;
    /// # Ok(()) }
    /// ```
    pub async fn with_retry<T, R, E, F, Fut>(
        &self,
        what: &str,
        policy: RetryPolicy,
        mut attempt: F,
    ) -> Result<Result<T, GaveUp<R>>, E>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<Step<T, R>, E>>,
        R: Display,
    {
        let mut retrier = self.retrier(what, policy);
        loop {
            let step = attempt(retrier.attempt()).await?;
            match retrier.next(step).await {
                Ok(ControlFlow::Break(t)) => return Ok(Ok(t)),
                Ok(ControlFlow::Continue(())) => {}
                Err(gave_up) => return Ok(Err(gave_up)),
            }
        }
    }

    /// The retry state of one operation (`what`), for a loop that runs its
    /// attempts itself: each attempt's [`Step`] goes to [`Retrier::next`].
    pub fn retrier<'a>(&'a self, what: &'a str, policy: RetryPolicy) -> Retrier<'a> {
        Retrier {
            cluster: self,
            what,
            policy,
            backoff: self.retry_backoff(),
            start: Instant::now(),
            failed: 0,
        }
    }

    /// The leader of `topic`/`partition` and its epoch, waiting (with backoff,
    /// up to `timeout`) while the partition has no leader.
    pub async fn leader(
        &self,
        topic: &str,
        partition: i32,
        timeout: Duration,
    ) -> Result<(i32, i32), MetaError> {
        let what = format!("find the leader of {topic}-{partition}");
        self.with_retry(&what, RetryPolicy::within(timeout), |_| async move {
            let t = self.topic(topic).await?;
            let Some(p) = t.partitions.iter().find(|p| p.partition == partition) else {
                return Err(MetaError::Invalid(format!(
                    "partition {partition} does not exist (topic '{topic}' has {} partitions)",
                    t.partitions.len()
                )));
            };
            if p.leader >= 0 && classify(p.error) != RetryAction::RefreshMetadata {
                return Ok(Step::Done((p.leader, p.leader_epoch)));
            }
            let code = if p.error.is_err() { p.error } else { ErrorCode::LEADER_NOT_AVAILABLE };
            let last = MetaError::Broker { context: format!("{topic}-{partition}"), code, message: None };
            Ok(Step::RefreshMetadata(topic.to_owned(), last))
        })
        .await?
        .map_err(GaveUp::into_error)
    }

    /// The leaders of `partitions` (each with its leader epoch), grouped by
    /// leader, for requests routed to each partition's leader; waits up to
    /// `timeout` for each leader (see [`leader`](Self::leader)).
    pub async fn by_leader(
        &self,
        partitions: &[TopicPartition],
        timeout: Duration,
    ) -> Result<BTreeMap<i32, Vec<(TopicPartition, i32)>>, MetaError> {
        let mut out: BTreeMap<i32, Vec<(TopicPartition, i32)>> = BTreeMap::new();
        for tp in partitions {
            let (leader, epoch) = self.leader(&tp.topic, tp.partition, timeout).await?;
            out.entry(leader).or_default().push((tp.clone(), epoch));
        }
        Ok(out)
    }
}

/// The retry state of one operation: attempts so far, the clock, the policy.
/// See [`Cluster::retrier`].
#[derive(Debug)]
pub struct Retrier<'a> {
    cluster: &'a Cluster,
    what: &'a str,
    policy: RetryPolicy,
    backoff: Backoff,
    start: Instant,
    failed: u32,
}

impl Retrier<'_> {
    /// The number of the attempt about to run (from 1).
    pub fn attempt(&self) -> u32 {
        self.failed.saturating_add(1)
    }

    /// After an attempt: [`Step::Done`] breaks with its value; any other
    /// step is acted on (stale metadata forgotten, a broken connection
    /// dropped), then either the pause before the next attempt is slept
    /// (`Continue`) or the policy gives up, with the step's failure as the
    /// last error.
    pub async fn next<T, R: Display>(&mut self, step: Step<T, R>) -> Result<ControlFlow<T>, GaveUp<R>> {
        let last = match step {
            Step::Done(t) => return Ok(ControlFlow::Break(t)),
            Step::Retry(r) => r,
            Step::RefreshMetadata(topic, r) => {
                self.cluster.invalidate_topic(&topic);
                r
            }
            Step::Reconnect(broker, r) => {
                self.cluster.pool().invalidate(broker).await;
                r
            }
        };
        self.failed = self.failed.saturating_add(1);
        let elapsed = self.start.elapsed();
        let Some(pause) = self.policy.next_pause(&self.backoff, self.failed, elapsed) else {
            return Err(GaveUp {
                what: self.what.to_owned(),
                attempts: self.failed,
                waited: elapsed,
                timeout: self.policy.timeout.filter(|t| elapsed >= *t),
                last,
            });
        };
        let what = self.what;
        tracing::debug!(what, attempt = self.failed, error = %last, pause_ms = pause.as_millis() as u64, "retrying");
        tokio::time::sleep(pause).await;
        Ok(ControlFlow::Continue(()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::ClusterConfig;

    fn cluster() -> Cluster {
        Cluster::new(ClusterConfig::default())
    }

    #[test]
    fn backoff_grows_and_caps() {
        let c = cluster();
        assert_eq!(c.backoff(0), Duration::from_millis(100));
        assert_eq!(c.backoff(1), Duration::from_millis(200));
        assert_eq!(c.backoff(10), Duration::from_secs(1));
        assert_eq!(c.backoff(40), Duration::from_secs(1));
    }

    /// Fails `n` times with a retriable error, then succeeds.
    #[tokio::test(start_paused = true)]
    async fn retries_until_done_with_growing_pauses() {
        let c = cluster();
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let seen = &calls;
        let r: Result<Result<u32, GaveUp<&str>>, MetaError> = c
            .with_retry("test", RetryPolicy::within(Duration::from_secs(60)), |n| async move {
                assert_eq!(seen.fetch_add(1, Ordering::SeqCst) + 1, n, "attempts are numbered from 1");
                Ok(if n < 4 { Step::Retry("not yet") } else { Step::Done(n) })
            })
            .await;
        assert_eq!(r.unwrap().unwrap(), 4);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // Pauses after failures 1, 2, 3: 200 + 400 + 800 ms.
        assert_eq!(start.elapsed(), Duration::from_millis(1400));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_error_ends_at_once() {
        let c = cluster();
        let calls = AtomicU32::new(0);
        let r: Result<Result<(), GaveUp<&str>>, MetaError> = c
            .with_retry("test", RetryPolicy::within(Duration::from_secs(60)), |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(MetaError::Invalid("no".into()))
            })
            .await;
        assert!(matches!(r, Err(MetaError::Invalid(m)) if m == "no"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_says_how_long_what_and_the_last_error() {
        let c = cluster();
        let start = Instant::now();
        let r: Result<Result<(), GaveUp<MetaError>>, MetaError> = c
            .with_retry("find the leader of t-0", RetryPolicy::within(Duration::from_secs(3)), |_| async {
                let last = MetaError::Broker {
                    context: "t-0".into(),
                    code: ErrorCode::LEADER_NOT_AVAILABLE,
                    message: Some("electing".into()),
                };
                Ok(Step::RefreshMetadata("t".into(), last))
            })
            .await;
        let gave_up = r.unwrap().unwrap_err();
        // The last pause is cut to the deadline: 3 s in all, not a second more.
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        // 200 + 400 + 800 + 1000 + 600 (cut) ms: attempts at 0, .2, .6, 1.4, 2.4, 3 s.
        assert_eq!(gave_up.attempts, 6);
        let e = gave_up.into_error();
        assert_eq!(e.code(), Some(ErrorCode::LEADER_NOT_AVAILABLE));
        let text = e.to_string();
        assert!(text.starts_with("find the leader of t-0: no success within 3000 ms (6 attempts)"), "{text}");
        assert!(text.contains("LEADER_NOT_AVAILABLE") && text.contains("(electing)"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_run_out() {
        let c = cluster();
        let calls = AtomicU32::new(0);
        let r: Result<Result<(), GaveUp<MetaError>>, MetaError> = c
            .with_retry(
                "metadata request",
                RetryPolicy::attempts(4).max_pause(Duration::from_millis(150)),
                |_| async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok(Step::Retry(MetaError::Invalid("down".into())))
                },
            )
            .await;
        let gave_up = r.unwrap().unwrap_err();
        assert_eq!((calls.load(Ordering::SeqCst), gave_up.attempts, gave_up.timeout), (4, 4, None));
        assert_eq!(gave_up.waited, Duration::from_millis(150 * 3));
        assert_eq!(gave_up.into_error().to_string(), "metadata request: gave up after 4 attempts: down");
    }

    /// Caches topic `t` with partition 0 led by `leader` (-1: none), no I/O.
    fn cache_t(c: &Cluster, leader: i32) {
        use kwire_proto::msg::metadata::{MetadataResponse, PartitionMetadata, TopicMetadata};
        c.absorb(MetadataResponse {
            topics: vec![TopicMetadata {
                error_code: ErrorCode::NONE,
                name: Some("t".into()),
                topic_id: [0; 16],
                is_internal: false,
                partitions: vec![PartitionMetadata {
                    error_code: if leader < 0 { ErrorCode::LEADER_NOT_AVAILABLE } else { ErrorCode::NONE },
                    partition: 0,
                    leader_id: leader,
                    leader_epoch: 7,
                    replicas: vec![1],
                    isr: vec![1],
                    offline_replicas: vec![],
                }],
            }],
            ..Default::default()
        });
    }

    #[tokio::test(start_paused = true)]
    async fn leader_from_the_cache_and_a_missing_partition() {
        let c = cluster();
        cache_t(&c, 1);
        assert_eq!(c.leader("t", 0, Duration::ZERO).await.unwrap(), (1, 7));
        let t0 = TopicPartition::new("t", 0);
        let groups = c.by_leader(std::slice::from_ref(&t0), Duration::ZERO).await.unwrap();
        assert_eq!(groups, BTreeMap::from([(1, vec![(t0, 7)])]));
        let e = c.leader("t", 3, Duration::ZERO).await.unwrap_err().to_string();
        assert_eq!(e, "partition 3 does not exist (topic 't' has 1 partitions)");
    }

    #[tokio::test(start_paused = true)]
    async fn a_leaderless_partition_is_forgotten_and_times_out() {
        let c = cluster();
        cache_t(&c, -1);
        // Timeout zero: one attempt, from the cache, then give up (no I/O).
        let e = c.leader("t", 0, Duration::ZERO).await.unwrap_err();
        assert!(c.cached_topic("t").is_none(), "stale metadata is forgotten");
        assert_eq!(e.code(), Some(ErrorCode::LEADER_NOT_AVAILABLE));
        assert!(matches!(&e, MetaError::Timeout { attempts: 1, .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.starts_with("find the leader of t-0: no success within 0 ms (1 attempts)"), "{text}");
    }
}
