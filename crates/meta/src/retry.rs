//! A pure classifier from broker error code to what a client should do next.

use kwire_proto::ErrorCode;

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
}
