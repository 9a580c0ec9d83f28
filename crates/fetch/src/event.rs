//! What the fetcher hands the application.

use std::sync::Arc;

use crate::{FetchError, FetchedChunk, TopicPartition};

/// What the fetcher reports.
#[derive(Debug, Clone)]
pub enum FetchEvent {
    /// New data for a partition.
    Records(FetchedChunk),
    /// The partition's position moved without data: reset by
    /// `auto.offset.reset` after out-of-range (forward, or to the log start),
    /// or back to the first offset known to diverge after the leader's log
    /// was truncated below what was read (KIP-320; `to < from`: the records
    /// the application had from `to` on are no longer in the log).
    Reset {
        /// The partition.
        tp: Arc<TopicPartition>,
        /// Old position.
        from: i64,
        /// New position.
        to: i64,
    },
    /// A partition failed for good (e.g. out of range with reset=none, not
    /// authorized); it is no longer fetched.
    Error {
        /// The partition.
        tp: Arc<TopicPartition>,
        /// Why.
        error: FetchError,
    },
}
