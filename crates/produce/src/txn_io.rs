//! The transactional producer's coordinator calls: one [`TxnRequest`] from
//! the transaction manager in, one [`TxnResponse`] out. Only bytes move
//! here; every decision (retry, re-find, fence, abortable) is the manager's.

use std::sync::Arc;

use kwire_conn::Connection;
use kwire_meta::coordinator::{CoordinatorKey, find_coordinator};
use kwire_meta::{Cluster, MetaError};
use kwire_proto::ErrorCode;
use kwire_proto::api::ApiKey;
use kwire_proto::msg::produce::init_producer_id_request;
use kwire_proto::msg::txn::{
    TxnProducer, add_offsets_to_txn_request, add_partitions_to_txn_request, end_txn_request,
    txn_offset_commit_request,
};

use crate::txn::{TxnRequest, TxnResponse};

/// What a coordinator call needs besides the request.
#[derive(Debug, Clone)]
pub(crate) struct TxnCall {
    /// `transactional.id`.
    pub transactional_id: Arc<str>,
    /// `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// The coordinator the manager knows (None before FindCoordinator).
    pub coordinator: Option<i32>,
    /// The producer id and epoch (None before InitProducerId).
    pub producer: Option<(i64, i16)>,
}

impl TxnCall {
    fn producer(&self) -> TxnProducer<'_> {
        let (producer_id, producer_epoch) = self.producer.unwrap_or((-1, -1));
        TxnProducer { transactional_id: &self.transactional_id, producer_id, producer_epoch }
    }

    async fn coordinator(&self, cluster: &Cluster) -> Result<Connection, MetaError> {
        match self.coordinator {
            Some(id) => cluster.broker(id).await,
            None => Err(MetaError::Invalid("no transaction coordinator known yet".into())),
        }
    }
}

/// Runs `req` against the cluster. A request that could not be sent or got
/// no answer is [`TxnResponse::Lost`]; the manager decides what follows.
pub(crate) async fn execute(cluster: &Cluster, call: &TxnCall, req: &TxnRequest) -> TxnResponse {
    match run(cluster, call, req).await {
        Ok(r) => r,
        Err(e) => TxnResponse::Lost(e.to_string()),
    }
}

async fn run(cluster: &Cluster, call: &TxnCall, req: &TxnRequest) -> Result<TxnResponse, MetaError> {
    match req {
        TxnRequest::FindCoordinator => {
            match find_coordinator(cluster, CoordinatorKey::Transaction(&call.transactional_id)).await {
                Ok((id, _)) => Ok(TxnResponse::Coordinator(Ok(id))),
                Err(MetaError::Broker { code, .. }) => Ok(TxnResponse::Coordinator(Err(code))),
                Err(e) => Err(e),
            }
        }
        TxnRequest::InitProducerId { current } => {
            let conn = call.coordinator(cluster).await?;
            let v = conn.version(ApiKey::InitProducerId)?;
            // KIP-360: the current id and epoch go in from v3 (an older
            // broker just bumps the epoch of the id it has).
            let current = if v >= 3 { *current } else { None };
            let req = init_producer_id_request(Some(&call.transactional_id), call.timeout_ms, current);
            let r = conn.send_version(&req, v).await?;
            Ok(TxnResponse::InitProducerId {
                code: r.error_code,
                producer_id: r.producer_id,
                epoch: r.producer_epoch,
                tv2: transaction_v2(&conn),
            })
        }
        TxnRequest::AddPartitions(keys) => {
            let conn = call.coordinator(cluster).await?;
            let v = conn.version(ApiKey::AddPartitionsToTxn)?;
            let req = add_partitions_to_txn_request(call.producer(), keys.iter().map(|(t, p)| (&**t, *p)));
            let r = conn.send_version(&req, v).await?;
            let mut out: Vec<_> = r
                .partitions()
                .filter_map(|(t, p, code)| {
                    keys.iter().find(|(kt, kp)| &**kt == t && *kp == p).map(|k| (k.clone(), code))
                })
                .collect();
            // A top-level error (v4+) or a partition the answer left out:
            // the whole request failed with that code.
            for k in keys {
                if !out.iter().any(|(o, _)| o == k) {
                    let code =
                        if r.error_code.is_err() { r.error_code } else { ErrorCode::UNKNOWN_SERVER_ERROR };
                    out.push((k.clone(), code));
                }
            }
            Ok(TxnResponse::AddPartitions(out))
        }
        TxnRequest::AddOffsets { group_id } => {
            let conn = call.coordinator(cluster).await?;
            let v = conn.version(ApiKey::AddOffsetsToTxn)?;
            let r = conn.send_version(&add_offsets_to_txn_request(call.producer(), group_id), v).await?;
            Ok(TxnResponse::AddOffsets(r.error_code))
        }
        TxnRequest::TxnOffsetCommit { group, offsets } => {
            // To the group's coordinator, not the transaction's.
            let conn = match find_coordinator(cluster, CoordinatorKey::Group(&group.group_id)).await {
                Ok((_, conn)) => conn,
                Err(MetaError::Broker { code, .. }) => return Ok(TxnResponse::TxnOffsetCommit(code)),
                Err(e) => return Err(e),
            };
            let v = conn.version(ApiKey::TxnOffsetCommit)?;
            let parts = offsets.iter().map(|((t, p), o)| (&**t, *p, *o));
            let r =
                conn.send_version(&txn_offset_commit_request(call.producer(), group, parts, v), v).await?;
            let code = r
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.1))
                .find(|c| c.is_err())
                .unwrap_or(ErrorCode::NONE);
            Ok(TxnResponse::TxnOffsetCommit(code))
        }
        TxnRequest::EndTxn { commit } => {
            let conn = call.coordinator(cluster).await?;
            let v = conn.version(ApiKey::EndTxn)?;
            let r = conn.send_version(&end_txn_request(call.producer(), *commit), v).await?;
            Ok(TxnResponse::EndTxn {
                code: r.error_code,
                producer_id: r.producer_id,
                epoch: r.producer_epoch,
            })
        }
    }
}

/// Whether `conn`'s broker runs transaction version 2 (KIP-890 part 2): the
/// cluster finalized `transaction.version` 2 or higher, and the broker speaks
/// the versions that carry it (Produce v12, TxnOffsetCommit v5, EndTxn v5),
/// as Kafka's producer decides.
pub(crate) fn transaction_v2(conn: &Connection) -> bool {
    let finalized =
        conn.api_versions().finalized_features.iter().any(|f| f.name == "transaction.version" && f.max >= 2);
    let speaks = |key: ApiKey, v: i16| conn.version(key).is_ok_and(|have| have >= v);
    finalized
        && speaks(ApiKey::Produce, 12)
        && speaks(ApiKey::TxnOffsetCommit, 5)
        && speaks(ApiKey::EndTxn, 5)
}
