//! kwire-meta: cluster metadata, leader routing, retry classification and admin.
#![warn(missing_docs)]

mod cluster;
mod error;
pub mod retry;

pub use cluster::{
    BrokerInfo, Cluster, ClusterConfig, Metadata, PartitionInfo, TopicInfo, base64_url,
};
pub use error::MetaError;
pub use retry::{RetryAction, classify};
