//! API keys, the versions kwire speaks, and version negotiation.

pub use kafka_protocol::messages::ApiKey;

/// An inclusive range of API versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

impl Versions {
    /// Constructs a range.
    pub const fn new(min: i16, max: i16) -> Self {
        Versions { min, max }
    }

    /// The highest version in both ranges, if they overlap.
    pub fn highest_common(self, other: Versions) -> Option<i16> {
        let lo = self.min.max(other.min);
        let hi = self.max.min(other.max);
        (lo <= hi).then_some(hi)
    }

    /// Whether `v` is in the range.
    pub fn contains(self, v: i16) -> bool {
        self.min <= v && v <= self.max
    }
}

/// The versions kwire can encode requests for and decode responses of, per API.
///
/// Floors are chosen so that every broker from Kafka 2.1 to 4.x shares at least
/// one version with kwire; ceilings are the newest versions kwire decodes.
pub const KWIRE_VERSIONS: &[(ApiKey, Versions)] = &[
    (ApiKey::Metadata, Versions::new(1, 12)),
    (ApiKey::ApiVersions, Versions::new(0, 3)),
    (ApiKey::CreateTopics, Versions::new(2, 7)),
    (ApiKey::DeleteTopics, Versions::new(1, 6)),
    (ApiKey::DeleteRecords, Versions::new(0, 2)),
    (ApiKey::DescribeLogDirs, Versions::new(1, 4)),
    (ApiKey::CreatePartitions, Versions::new(0, 3)),
    (ApiKey::DescribeConfigs, Versions::new(1, 4)),
    (ApiKey::IncrementalAlterConfigs, Versions::new(0, 1)),
    // Client quotas (KIP-546) and SCRAM credentials (KIP-554): brokers 2.6/2.7+.
    (ApiKey::DescribeClientQuotas, Versions::new(0, 1)),
    (ApiKey::AlterClientQuotas, Versions::new(0, 1)),
    (ApiKey::DescribeUserScramCredentials, Versions::new(0, 0)),
    (ApiKey::AlterUserScramCredentials, Versions::new(0, 0)),
    (ApiKey::Produce, Versions::new(3, 12)),
    (ApiKey::InitProducerId, Versions::new(0, 5)),
    (ApiKey::AddPartitionsToTxn, Versions::new(0, 3)),
    (ApiKey::AddOffsetsToTxn, Versions::new(0, 4)),
    (ApiKey::EndTxn, Versions::new(0, 5)),
    (ApiKey::TxnOffsetCommit, Versions::new(0, 5)),
    (ApiKey::Fetch, Versions::new(4, 16)),
    (ApiKey::ListOffsets, Versions::new(1, 10)),
    (ApiKey::FindCoordinator, Versions::new(0, 6)),
    (ApiKey::JoinGroup, Versions::new(0, 9)),
    (ApiKey::SyncGroup, Versions::new(0, 5)),
    (ApiKey::Heartbeat, Versions::new(0, 4)),
    (ApiKey::LeaveGroup, Versions::new(0, 5)),
    (ApiKey::OffsetCommit, Versions::new(2, 9)),
    (ApiKey::OffsetFetch, Versions::new(1, 9)),
    (ApiKey::ListGroups, Versions::new(0, 5)),
    (ApiKey::DescribeGroups, Versions::new(0, 6)),
    (ApiKey::DeleteGroups, Versions::new(0, 2)),
    (ApiKey::OffsetDelete, Versions::new(0, 0)),
    (ApiKey::ConsumerGroupHeartbeat, Versions::new(0, 1)),
    (ApiKey::ConsumerGroupDescribe, Versions::new(0, 1)),
    // Share groups (KIP-932): v1 is the stable shape (Kafka 4.1+).
    (ApiKey::ShareGroupHeartbeat, Versions::new(1, 1)),
    (ApiKey::ShareFetch, Versions::new(1, 1)),
    (ApiKey::ShareAcknowledge, Versions::new(1, 1)),
    // Share group admin (kafka-share-groups.sh); kafka-protocol encodes the offsets APIs at v0 only.
    (ApiKey::ShareGroupDescribe, Versions::new(1, 1)),
    (ApiKey::DescribeShareGroupOffsets, Versions::new(0, 0)),
    (ApiKey::AlterShareGroupOffsets, Versions::new(0, 0)),
    (ApiKey::DeleteShareGroupOffsets, Versions::new(0, 0)),
    (ApiKey::SaslHandshake, Versions::new(1, 1)),
    (ApiKey::SaslAuthenticate, Versions::new(0, 2)),
    // Transaction admin (KIP-664): brokers 3.0+ only; kafka-protocol encodes
    // WriteTxnMarkers from v1 (flexible) only.
    (ApiKey::ListTransactions, Versions::new(0, 2)),
    (ApiKey::DescribeTransactions, Versions::new(0, 0)),
    (ApiKey::DescribeProducers, Versions::new(0, 0)),
    (ApiKey::WriteTxnMarkers, Versions::new(1, 1)),
    // Reassignments, elections, features, quorum (brokers 2.4+ / 3.3+ KRaft).
    (ApiKey::AlterPartitionReassignments, Versions::new(0, 1)),
    (ApiKey::ListPartitionReassignments, Versions::new(0, 0)),
    (ApiKey::ElectLeaders, Versions::new(1, 2)),
    (ApiKey::UpdateFeatures, Versions::new(0, 2)),
    (ApiKey::DescribeQuorum, Versions::new(0, 2)),
    // ACLs: v1 (pattern types, Kafka 2.0+) to v3; Kafka 4.0 dropped v0.
    (ApiKey::DescribeAcls, Versions::new(1, 3)),
    (ApiKey::CreateAcls, Versions::new(1, 3)),
    (ApiKey::DeleteAcls, Versions::new(1, 3)),
];

/// The range kwire supports for `key`, or `None` if kwire does not use that API.
pub fn kwire_versions(key: ApiKey) -> Option<Versions> {
    KWIRE_VERSIONS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Kafka's name of an API (`Metadata`, `ApiVersions`, …), or `Unknown(<key>)`.
pub fn api_name(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(k) => format!("{k:?}"),
        Err(_) => format!("Unknown({key})"),
    }
}

/// Header version of a request for `key` at `version`.
pub fn request_header_version(key: ApiKey, version: i16) -> i16 {
    key.request_header_version(version)
}

/// Header version of a response for `key` at `version`. ApiVersions responses
/// always use header v0, so a client that sent a version the broker doesn't
/// know can still read the error.
pub fn response_header_version(key: ApiKey, version: i16) -> i16 {
    if key == ApiKey::ApiVersions { 0 } else { key.response_header_version(version) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_picks_highest_common() {
        let ours = Versions::new(1, 12);
        assert_eq!(ours.highest_common(Versions::new(0, 9)), Some(9));
        assert_eq!(ours.highest_common(Versions::new(0, 13)), Some(12));
        assert_eq!(ours.highest_common(Versions::new(13, 14)), None);
        assert_eq!(ours.highest_common(Versions::new(0, 0)), None);
    }

    #[test]
    fn kwire_ranges_are_within_the_message_structs() {
        for (key, v) in KWIRE_VERSIONS {
            let lib = key.valid_versions();
            assert!(v.min <= v.max, "{key:?}");
            // Our floors may be below kafka-protocol's (it follows Kafka 4.0's
            // floors); our ceilings must not exceed what it can encode.
            assert!(v.max <= lib.max, "{key:?} max {} > {}", v.max, lib.max);
        }
    }

    #[test]
    fn api_versions_response_header_is_v0() {
        assert_eq!(response_header_version(ApiKey::ApiVersions, 3), 0);
        assert_eq!(response_header_version(ApiKey::Metadata, 9), 1);
        assert_eq!(response_header_version(ApiKey::Metadata, 8), 0);
    }
}
