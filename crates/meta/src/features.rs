//! Cluster features and the KRaft quorum (what `kafka-features.sh` and
//! `kafka-metadata-quorum.sh` do): DescribeFeatures is ApiVersions'
//! supported and finalized features, UpdateFeatures and DescribeQuorum go
//! to any broker (it forwards them to the controller quorum).

use std::collections::BTreeMap;
use std::time::Duration;

use kwire_proto::api::ApiKey;
use kwire_proto::msg::api_versions::api_versions_request;
pub use kwire_proto::msg::reassign::{FeatureUpgradeType, QuorumNode, QuorumPartition, QuorumReplica};
use kwire_proto::msg::reassign::{describe_quorum_request, update_features_request};

use crate::{Cluster, MetaError};

/// `metadata.version` feature levels and their release names (Kafka 4.4's
/// `MetadataVersion` table: 3.3-IV3 is level 7, the oldest KRaft supports).
pub const METADATA_VERSIONS: &[(i16, &str)] = &[
    (7, "3.3-IV3"),
    (8, "3.4-IV0"),
    (9, "3.5-IV0"),
    (10, "3.5-IV1"),
    (11, "3.5-IV2"),
    (12, "3.6-IV0"),
    (13, "3.6-IV1"),
    (14, "3.6-IV2"),
    (15, "3.7-IV0"),
    (16, "3.7-IV1"),
    (17, "3.7-IV2"),
    (18, "3.7-IV3"),
    (19, "3.7-IV4"),
    (20, "3.8-IV0"),
    (21, "3.9-IV0"),
    (22, "4.0-IV0"),
    (23, "4.0-IV1"),
    (24, "4.0-IV2"),
    (25, "4.0-IV3"),
    (26, "4.1-IV0"),
    (27, "4.1-IV1"),
    (28, "4.2-IV0"),
    (29, "4.2-IV1"),
    (30, "4.3-IV0"),
    (31, "4.4-IV0"),
    (32, "4.4-IV1"),
    (33, "4.4-IV2"),
    (34, "4.5-IV0"),
];

/// The `metadata.version` feature's name.
pub const METADATA_VERSION: &str = "metadata.version";

/// A level as the Java tool prints it: `metadata.version` levels by release
/// name (`4.4-IV2`), other features as numbers.
pub fn level_to_string(feature: &str, level: i16) -> String {
    if feature == METADATA_VERSION {
        if let Some((_, name)) = METADATA_VERSIONS.iter().find(|(l, _)| *l == level) {
            return (*name).to_owned();
        }
    }
    level.to_string()
}

/// The `metadata.version` level of a release name: `3.9-IV0` exactly, or
/// `3.9` for that release's last level, as `MetadataVersion.fromVersionString`.
pub fn metadata_level(name: &str) -> Result<i16, MetaError> {
    let exact = METADATA_VERSIONS.iter().find(|(_, n)| *n == name);
    let release = METADATA_VERSIONS.iter().rev().find(|(_, n)| n.split('-').next() == Some(name));
    match exact.or(release) {
        Some((l, _)) => Ok(*l),
        None => Err(MetaError::Invalid(format!(
            "unknown metadata.version {name}; known: {}",
            METADATA_VERSIONS.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// One feature as the cluster describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureInfo {
    /// Feature name.
    pub name: String,
    /// Lowest level the broker supports.
    pub supported_min: i16,
    /// Highest level the broker supports.
    pub supported_max: i16,
    /// The cluster's finalized level (0: not finalized / disabled).
    pub finalized: i16,
}

/// Supported and finalized features (DescribeFeatures).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeatureMetadata {
    /// Features the broker supports, sorted by name, with finalized levels.
    pub features: Vec<FeatureInfo>,
    /// Epoch of the finalized features (`None`: the broker sent none).
    pub epoch: Option<i64>,
}

/// The metadata quorum's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumInfo {
    /// Leader id.
    pub leader_id: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// High watermark.
    pub high_watermark: i64,
    /// Voters.
    pub voters: Vec<QuorumReplica>,
    /// Observers.
    pub observers: Vec<QuorumReplica>,
    /// Nodes with their listeners (brokers 3.9+/4.x).
    pub nodes: Vec<QuorumNode>,
}

fn timeout_ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

impl Cluster {
    /// Supported and finalized features, from a fresh ApiVersions request.
    pub async fn describe_features(&self) -> Result<FeatureMetadata, MetaError> {
        let conn = self.any_broker().await?;
        // ApiVersions v4 (brokers 3.9+): v3 answers leave out supported
        // features whose lowest level is 0 (KAFKA-17011), e.g. group.version.
        let v = match conn.api_versions().range(ApiKey::ApiVersions) {
            Some(r) if r.max >= 4 => 4,
            _ => conn.version(ApiKey::ApiVersions)?,
        };
        let cfg = &self.config().conn;
        let resp =
            conn.send_version(&api_versions_request(&cfg.software_name, &cfg.software_version), v).await?;
        if resp.error_code.is_err() {
            return Err(MetaError::Broker {
                context: "cannot describe features".into(),
                code: resp.error_code,
                message: None,
            });
        }
        let finalized: BTreeMap<&str, i16> =
            resp.finalized_features.iter().map(|f| (f.name.as_str(), f.max)).collect();
        let mut features: Vec<FeatureInfo> = resp
            .supported_features
            .iter()
            .map(|f| FeatureInfo {
                name: f.name.clone(),
                supported_min: f.min,
                supported_max: f.max,
                finalized: finalized.get(f.name.as_str()).copied().unwrap_or(0),
            })
            .collect();
        features.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(FeatureMetadata { features, epoch: resp.finalized_features_epoch })
    }

    /// Changes finalized feature levels (0 disables a feature); with
    /// `validate_only` the controller only checks. Per feature: done, or why not.
    pub async fn update_features(
        &self,
        updates: &[(String, i16, FeatureUpgradeType)],
        validate_only: bool,
    ) -> Result<BTreeMap<String, Result<(), MetaError>>, MetaError> {
        let conn = self.any_broker().await?;
        let v = conn.version(ApiKey::UpdateFeatures)?;
        if validate_only && v < 1 {
            return Err(MetaError::Invalid(
                "this broker cannot validate feature updates without applying them (UpdateFeatures v1+ needed)"
                    .into(),
            ));
        }
        let req = update_features_request(
            v,
            timeout_ms(self.config().conn.request_timeout),
            updates,
            validate_only,
        );
        let resp = conn.send_version(&req, v).await?;
        let top = |name: &str| MetaError::Broker {
            context: format!("cannot update feature {name}"),
            code: resp.error_code,
            message: resp.error_message.clone(),
        };
        let mut out = BTreeMap::new();
        for (name, _, _) in updates {
            let r = if resp.error_code.is_err() {
                Err(top(name))
            } else {
                match resp.results.iter().find(|r| &r.feature == name) {
                    Some(r) if r.error_code.is_err() => Err(MetaError::Broker {
                        context: format!("cannot update feature {name}"),
                        code: r.error_code,
                        message: r.error_message.clone(),
                    }),
                    _ => Ok(()),
                }
            };
            out.insert(name.clone(), r);
        }
        Ok(out)
    }

    /// The metadata quorum: leader, epoch, high watermark, voters and
    /// observers (DescribeQuorum; any broker forwards it to the controllers).
    pub async fn describe_quorum(&self) -> Result<QuorumInfo, MetaError> {
        let conn = self.any_broker().await?;
        let v = conn.version(ApiKey::DescribeQuorum)?;
        let resp = conn.send_version(&describe_quorum_request(), v).await?;
        if resp.error_code.is_err() {
            return Err(MetaError::Broker {
                context: "cannot describe the metadata quorum".into(),
                code: resp.error_code,
                message: resp.error_message,
            });
        }
        let p = resp
            .partitions
            .into_iter()
            .next()
            .ok_or_else(|| MetaError::Invalid("the broker described no quorum partition".into()))?;
        if p.error_code.is_err() {
            return Err(MetaError::Broker {
                context: "cannot describe the metadata quorum".into(),
                code: p.error_code,
                message: p.error_message,
            });
        }
        Ok(QuorumInfo {
            leader_id: p.leader_id,
            leader_epoch: p.leader_epoch,
            high_watermark: p.high_watermark,
            voters: p.voters,
            observers: p.observers,
            nodes: resp.nodes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_version_names() {
        assert_eq!(level_to_string(METADATA_VERSION, 33), "4.4-IV2");
        assert_eq!(level_to_string(METADATA_VERSION, 99), "99");
        assert_eq!(level_to_string("group.version", 1), "1");
        assert_eq!(metadata_level("3.9").unwrap(), 21);
        assert_eq!(metadata_level("4.0").unwrap(), 25);
        assert_eq!(metadata_level("4.0-IV1").unwrap(), 23);
        assert!(metadata_level("9.9").unwrap_err().to_string().contains("unknown metadata.version 9.9"));
    }
}
