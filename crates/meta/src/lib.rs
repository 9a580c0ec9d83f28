//! kwire-meta: cluster metadata, leader routing, retry classification and admin.
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo, clippy::unimplemented)]

pub mod acls;
pub mod admin;
mod cluster;
pub mod configs;
pub mod coordinator;
mod error;
pub mod features;
pub mod quotas;
pub mod reassign;
pub mod retry;
mod routing;
pub mod scram_users;
pub mod txn_admin;

pub use acls::{AclBinding, AclBindingFilter, AclOperation, AclPermission, AclResourceType, PatternType};
pub use admin::{ConfigOp, CreatedTopic, NewTopic, ResourceType};
pub use cluster::{
    BrokerInfo, Cluster, ClusterConfig, ClusterConfigBuilder, Metadata, PartitionInfo, TopicInfo, base64_url,
};
pub use error::MetaError;
pub use retry::{Backoff, GaveUp, RetryAction, RetryPolicy, Step, classify};
pub use routing::Retrier;
