//! FindCoordinator: which broker coordinates a consumer group or a
//! transactional id, and a connection to it (one round; callers retry with
//! the cluster's retry loop, classifying the code of a [`MetaError::Broker`]).

use kwire_conn::Connection;
use kwire_proto::api::ApiKey;
use kwire_proto::msg::group::find_coordinator_request;
use kwire_proto::msg::txn_admin::find_transaction_coordinator_request;

use crate::{Cluster, MetaError};

/// What to find the coordinator of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordinatorKey<'a> {
    /// A consumer group (`group.id`).
    Group(&'a str),
    /// A transactional producer (`transactional.id`), FindCoordinator v1+.
    Transaction(&'a str),
}

impl CoordinatorKey<'_> {
    fn key(&self) -> &str {
        match self {
            CoordinatorKey::Group(k) | CoordinatorKey::Transaction(k) => k,
        }
    }

    fn describe(&self) -> String {
        match self {
            CoordinatorKey::Group(g) => format!("group '{g}'"),
            CoordinatorKey::Transaction(t) => format!("transactional id '{t}'"),
        }
    }
}

/// One FindCoordinator round trip (to any broker), then a connection to the
/// coordinator over the cluster's pool. A coordinator-level error (e.g.
/// COORDINATOR_NOT_AVAILABLE while `__transaction_state` is created) is a
/// [`MetaError::Broker`] with its code.
pub async fn find_coordinator(
    cluster: &Cluster,
    key: CoordinatorKey<'_>,
) -> Result<(i32, Connection), MetaError> {
    let conn = cluster.any_broker().await?;
    let v = conn.version(ApiKey::FindCoordinator)?;
    let req = match key {
        CoordinatorKey::Group(g) => find_coordinator_request(v, g),
        CoordinatorKey::Transaction(_) if v < 1 => {
            return Err(MetaError::Invalid(
                "the broker cannot find transaction coordinators (needs FindCoordinator v1, Kafka 0.11+)"
                    .into(),
            ));
        }
        CoordinatorKey::Transaction(t) => find_transaction_coordinator_request(v, t),
    };
    let resp = conn.send_version(&req, v).await?;
    let Some(c) = resp.coordinators.into_iter().find(|c| v < 4 || c.key == key.key()) else {
        return Err(MetaError::Invalid(format!("FindCoordinator answered without {}", key.describe())));
    };
    if c.error_code.is_err() {
        return Err(MetaError::Broker {
            context: format!("find the coordinator of {}", key.describe()),
            code: c.error_code,
            message: c.error_message,
        });
    }
    Ok((c.node_id, cluster.broker(c.node_id).await?))
}
