//! Transaction administration (what `kafka-transactions.sh` sends):
//! ListTransactions (66), DescribeTransactions (65), DescribeProducers (61),
//! WriteTxnMarkers (27, to abort a hanging transaction) and FindCoordinator
//! (10) with key type 1 (transaction).
//!
//! Requests are `kafka-protocol` structs built by the functions here; the
//! responses are decoded by kwire's bounds-checked [`Reader`].

use bytes::Bytes;
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::write_txn_markers_request::{WritableTxnMarker, WritableTxnMarkerTopic};
use kafka_protocol::messages::{ProducerId, TopicName, TransactionalId};
use kafka_protocol::protocol::StrBytes;

pub use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeTransactionsRequest, FindCoordinatorRequest, ListTransactionsRequest,
    WriteTxnMarkersRequest,
};

use crate::api::ApiKey;
use crate::wire::Reader;
use crate::{DecodeError, ErrorCode, Request, Response};

/// FindCoordinator key type of a transactional id.
pub const COORDINATOR_KEY_TYPE_TRANSACTION: i8 = 1;

fn strb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

// ---------------------------------------------------------------------------
// Requests.

/// What a ListTransactions request asks for; the default lists everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListTransactionsFilter {
    /// Only these states (`Ongoing`, `PrepareCommit`, …); empty: any.
    pub states: Vec<String>,
    /// Only these producer ids; empty: any.
    pub producer_ids: Vec<i64>,
    /// Only transactions running longer than this many ms (v1+; brokers
    /// 3.8+); `None`: any.
    pub duration_ms: Option<i64>,
    /// Only transactional ids matching this Java regular expression (v2+;
    /// brokers 4.1+); `None`: any.
    pub transactional_id_pattern: Option<String>,
}

/// A ListTransactions request. The caller checks that the negotiated
/// version carries the filter's optional parts (v1: duration, v2: pattern).
pub fn list_transactions_request(filter: &ListTransactionsFilter) -> ListTransactionsRequest {
    let mut req = ListTransactionsRequest::default();
    req.state_filters = filter.states.iter().map(|s| strb(s)).collect();
    req.producer_id_filters = filter.producer_ids.iter().map(|p| ProducerId(*p)).collect();
    req.duration_filter = filter.duration_ms.unwrap_or(-1);
    req.transactional_id_pattern = filter.transactional_id_pattern.as_deref().map(strb);
    req
}

/// A DescribeTransactions request for `ids` (sent to their coordinator).
pub fn describe_transactions_request<S: AsRef<str>>(ids: &[S]) -> DescribeTransactionsRequest {
    let mut req = DescribeTransactionsRequest::default();
    req.transactional_ids = ids.iter().map(|s| TransactionalId(strb(s.as_ref()))).collect();
    req
}

/// A DescribeProducers request for partitions of topics.
pub fn describe_producers_request<'a>(
    topics: impl IntoIterator<Item = (&'a str, &'a [i32])>,
) -> DescribeProducersRequest {
    let mut req = DescribeProducersRequest::default();
    req.topics = topics
        .into_iter()
        .map(|(name, parts)| {
            let mut t = TopicRequest::default();
            t.name = TopicName(strb(name));
            t.partition_indexes = parts.to_vec();
            t
        })
        .collect();
    req
}

/// One transaction marker to write (what an admin abort sends to a leader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMarkerSpec<'a> {
    /// The producer whose transaction ends.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The coordinator epoch the partition last saw for this producer (0 if unknown).
    pub coordinator_epoch: i32,
    /// `true`: commit; `false`: abort.
    pub commit: bool,
    /// Partitions of one topic.
    pub topic: &'a str,
    /// Partition indexes.
    pub partitions: &'a [i32],
}

/// A WriteTxnMarkers request with one marker.
pub fn write_txn_markers_request(m: &TxnMarkerSpec<'_>) -> WriteTxnMarkersRequest {
    let mut t = WritableTxnMarkerTopic::default();
    t.name = TopicName(strb(m.topic));
    t.partition_indexes = m.partitions.to_vec();
    let mut w = WritableTxnMarker::default();
    w.producer_id = ProducerId(m.producer_id);
    w.producer_epoch = m.producer_epoch;
    w.transaction_result = m.commit;
    w.coordinator_epoch = m.coordinator_epoch;
    w.topics = vec![t];
    let mut req = WriteTxnMarkersRequest::default();
    req.markers = vec![w];
    req
}

/// A FindCoordinator request for transactional id `id` at version `v`
/// (key type 1, from v1; the key goes in `coordinator_keys` from v4).
pub fn find_transaction_coordinator_request(v: i16, id: &str) -> FindCoordinatorRequest {
    let mut req = FindCoordinatorRequest::default();
    req.key_type = COORDINATOR_KEY_TYPE_TRANSACTION;
    if v >= 4 {
        req.coordinator_keys = vec![strb(id)];
    } else {
        req.key = strb(id);
    }
    req
}

// ---------------------------------------------------------------------------
// Responses.

/// One transaction in a ListTransactions response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransactionListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Its current producer id.
    pub producer_id: i64,
    /// State (`Empty`, `Ongoing`, `PrepareCommit`, `CompleteAbort`, …).
    pub state: String,
}

/// Decoded ListTransactions response (all versions are flexible).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListTransactionsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Outcome.
    pub error_code: ErrorCode,
    /// State filters the coordinator did not know.
    pub unknown_state_filters: Vec<String>,
    /// The transactions.
    pub transactions: Vec<TransactionListing>,
}

impl Response for ListTransactionsResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let error_code = ErrorCode(r.i16()?);
        let unknown_state_filters = r.array(true, 1, |r| r.string(true))?;
        let transactions = r.array(true, 11, |r| {
            let t = TransactionListing {
                transactional_id: r.string(true)?,
                producer_id: r.i64()?,
                state: r.string(true)?,
            };
            r.skip_tagged_fields(true)?;
            Ok(t)
        })?;
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(ListTransactionsResponse { throttle_time_ms, error_code, unknown_state_filters, transactions })
    }
}

/// A topic's partitions in a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnTopic {
    /// Topic.
    pub topic: String,
    /// Partitions.
    pub partitions: Vec<i32>,
}

/// One transactional id's state from DescribeTransactions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransactionDescription {
    /// Outcome for this id (TRANSACTIONAL_ID_NOT_FOUND, NOT_COORDINATOR, …).
    pub error_code: ErrorCode,
    /// The transactional id.
    pub transactional_id: String,
    /// State (`Ongoing`, …).
    pub state: String,
    /// `transaction.timeout.ms` of the producer.
    pub timeout_ms: i32,
    /// Start of the current transaction (ms since the epoch; -1: none).
    pub start_time_ms: i64,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Partitions in the transaction (those still waiting for markers when
    /// it is preparing to commit or abort).
    pub topics: Vec<TxnTopic>,
}

/// Decoded DescribeTransactions response (v0, flexible).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeTransactionsResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// One per requested id.
    pub transactions: Vec<TransactionDescription>,
}

impl Response for DescribeTransactionsResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let transactions = r.array(true, 28, |r| {
            let error_code = ErrorCode(r.i16()?);
            let transactional_id = r.string(true)?;
            let state = r.string(true)?;
            let timeout_ms = r.i32()?;
            let start_time_ms = r.i64()?;
            let producer_id = r.i64()?;
            let producer_epoch = r.i16()?;
            let topics = r.array(true, 3, |r| {
                let t = TxnTopic { topic: r.string(true)?, partitions: r.i32_array(true)? };
                r.skip_tagged_fields(true)?;
                Ok(t)
            })?;
            r.skip_tagged_fields(true)?;
            Ok(TransactionDescription {
                error_code,
                transactional_id,
                state,
                timeout_ms,
                start_time_ms,
                producer_id,
                producer_epoch,
                topics,
            })
        })?;
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(DescribeTransactionsResponse { throttle_time_ms, transactions })
    }
}

/// One active producer of a partition (DescribeProducers).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProducerState {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i32,
    /// Last sequence number written.
    pub last_sequence: i32,
    /// Timestamp of its last write (ms).
    pub last_timestamp: i64,
    /// Epoch of the transaction coordinator that last wrote a marker for it (-1: none).
    pub coordinator_epoch: i32,
    /// First offset of its open transaction (-1: no open transaction).
    pub current_txn_start_offset: i64,
}

/// One partition's producers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionProducers {
    /// Partition.
    pub partition: i32,
    /// Outcome (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, …).
    pub error_code: ErrorCode,
    /// The broker's explanation.
    pub error_message: Option<String>,
    /// The producers.
    pub producers: Vec<ProducerState>,
}

/// One topic's partitions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicProducers {
    /// Topic.
    pub topic: String,
    /// Partitions.
    pub partitions: Vec<PartitionProducers>,
}

/// Decoded DescribeProducers response (v0, flexible).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DescribeProducersResponse {
    /// Throttle.
    pub throttle_time_ms: i32,
    /// Topics.
    pub topics: Vec<TopicProducers>,
}

impl Response for DescribeProducersResponse {
    fn decode(body: Bytes, _v: i16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let throttle_time_ms = r.i32()?;
        let topics = r.array(true, 3, |r| {
            let topic = r.string(true)?;
            let partitions = r.array(true, 9, |r| {
                let partition = r.i32()?;
                let error_code = ErrorCode(r.i16()?);
                let error_message = r.nullable_string(true)?;
                let producers = r.array(true, 37, |r| {
                    let p = ProducerState {
                        producer_id: r.i64()?,
                        producer_epoch: r.i32()?,
                        last_sequence: r.i32()?,
                        last_timestamp: r.i64()?,
                        coordinator_epoch: r.i32()?,
                        current_txn_start_offset: r.i64()?,
                    };
                    r.skip_tagged_fields(true)?;
                    Ok(p)
                })?;
                r.skip_tagged_fields(true)?;
                Ok(PartitionProducers { partition, error_code, error_message, producers })
            })?;
            r.skip_tagged_fields(true)?;
            Ok(TopicProducers { topic, partitions })
        })?;
        r.skip_tagged_fields(true)?;
        r.finish()?;
        Ok(DescribeProducersResponse { throttle_time_ms, topics })
    }
}

/// Per-partition outcome of a WriteTxnMarkers request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MarkerPartitionResult {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Outcome.
    pub error_code: ErrorCode,
}

/// One marker's results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MarkerResult {
    /// The producer the marker was for.
    pub producer_id: i64,
    /// Per partition.
    pub partitions: Vec<MarkerPartitionResult>,
}

/// Decoded WriteTxnMarkers response (v0 classic, v1 flexible).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteTxnMarkersResponse {
    /// One per marker sent.
    pub markers: Vec<MarkerResult>,
}

impl Response for WriteTxnMarkersResponse {
    fn decode(body: Bytes, v: i16) -> Result<Self, DecodeError> {
        let flex = v >= 1;
        let mut r = Reader::new(body);
        let (str_min, arr_min) = if flex { (1, 1) } else { (2, 4) };
        let tags = usize::from(flex);
        let markers = r.array(flex, 8 + arr_min + tags, |r| {
            let producer_id = r.i64()?;
            let mut partitions = Vec::new();
            let n = r.array_len(flex, str_min + arr_min + tags)?;
            for _ in 0..n {
                let topic = r.string(flex)?;
                let m = r.array_len(flex, 6 + tags)?;
                for _ in 0..m {
                    let partition = r.i32()?;
                    let error_code = ErrorCode(r.i16()?);
                    r.skip_tagged_fields(flex)?;
                    partitions.push(MarkerPartitionResult { topic: topic.clone(), partition, error_code });
                }
                r.skip_tagged_fields(flex)?;
            }
            r.skip_tagged_fields(flex)?;
            Ok(MarkerResult { producer_id, partitions })
        })?;
        r.skip_tagged_fields(flex)?;
        r.finish()?;
        Ok(WriteTxnMarkersResponse { markers })
    }
}

impl Request for ListTransactionsRequest {
    const KEY: ApiKey = ApiKey::ListTransactions;
    type Response = ListTransactionsResponse;
}

impl Request for DescribeTransactionsRequest {
    const KEY: ApiKey = ApiKey::DescribeTransactions;
    type Response = DescribeTransactionsResponse;
}

impl Request for DescribeProducersRequest {
    const KEY: ApiKey = ApiKey::DescribeProducers;
    type Response = DescribeProducersResponse;
}

impl Request for WriteTxnMarkersRequest {
    const KEY: ApiKey = ApiKey::WriteTxnMarkers;
    type Response = WriteTxnMarkersResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::testutil::*;
    use kafka_protocol::messages::{
        describe_producers_response as dp, describe_transactions_response as dt,
        list_transactions_response as lt, write_txn_markers_response as wm,
    };
    use kafka_protocol::protocol::Encodable;

    #[test]
    fn request_builders() {
        let f = ListTransactionsFilter {
            states: vec!["Ongoing".into()],
            producer_ids: vec![7, 9],
            duration_ms: Some(60_000),
            transactional_id_pattern: Some("tx-.*".into()),
        };
        let l = list_transactions_request(&f);
        assert_eq!(l.state_filters.iter().map(|s| s.as_str()).collect::<Vec<_>>(), ["Ongoing"]);
        assert_eq!(l.producer_id_filters.iter().map(|p| p.0).collect::<Vec<_>>(), [7, 9]);
        assert_eq!(l.duration_filter, 60_000);
        assert_eq!(l.transactional_id_pattern.as_deref(), Some("tx-.*"));
        let all = list_transactions_request(&ListTransactionsFilter::default());
        assert_eq!((all.duration_filter, all.transactional_id_pattern.is_none()), (-1, true));
        assert!(all.state_filters.is_empty() && all.producer_id_filters.is_empty());
        for v in 0..=2 {
            // The encoder accepts what we build at every version we speak
            // (the pattern only exists from v2, the duration from v1).
            let mut req = all.clone();
            if v >= 1 {
                req.duration_filter = 5;
            }
            let mut b = bytes::BytesMut::new();
            req.encode(&mut b, v).unwrap();
        }

        let d = describe_transactions_request(&["a", "b"]);
        assert_eq!(d.transactional_ids.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["a", "b"]);

        let parts = [0, 2];
        let p = describe_producers_request([("t", &parts[..])]);
        assert_eq!((p.topics[0].name.0.as_str(), p.topics[0].partition_indexes.clone()), ("t", vec![0, 2]));

        let w = write_txn_markers_request(&TxnMarkerSpec {
            producer_id: 42,
            producer_epoch: 3,
            coordinator_epoch: 5,
            commit: false,
            topic: "t",
            partitions: &[1],
        });
        let m = &w.markers[0];
        assert_eq!((m.producer_id.0, m.producer_epoch, m.coordinator_epoch), (42, 3, 5));
        assert!(!m.transaction_result);
        assert_eq!((m.topics[0].name.0.as_str(), m.topics[0].partition_indexes.clone()), ("t", vec![1]));

        let f3 = find_transaction_coordinator_request(3, "tx");
        assert_eq!((f3.key_type, f3.key.as_str(), f3.coordinator_keys.len()), (1, "tx", 0));
        let f4 = find_transaction_coordinator_request(4, "tx");
        assert_eq!((f4.key_type, f4.key.as_str()), (1, ""));
        assert_eq!(f4.coordinator_keys[0].as_str(), "tx");
    }

    #[test]
    fn list_transactions_all_versions() {
        for v in 0..=2 {
            let mut m = lt::ListTransactionsResponse::default();
            m.throttle_time_ms = 4;
            m.error_code = 15;
            m.unknown_state_filters = vec![sb("Bogus")];
            let mut a = lt::TransactionState::default();
            a.transactional_id = TransactionalId(sb("probe-tx"));
            a.producer_id = ProducerId(1234);
            a.transaction_state = sb("Ongoing");
            let mut b = lt::TransactionState::default();
            b.transactional_id = TransactionalId(sb("other"));
            b.producer_id = ProducerId(-1);
            b.transaction_state = sb("CompleteCommit");
            m.transaction_states = vec![a, b];
            let bytes = encode(&m, v);
            let d = ListTransactionsResponse::decode(bytes.clone(), v).unwrap();
            assert_eq!(d.throttle_time_ms, 4);
            assert_eq!(d.error_code, ErrorCode::COORDINATOR_NOT_AVAILABLE);
            assert_eq!(d.unknown_state_filters, ["Bogus"]);
            assert_eq!(
                d.transactions[0],
                TransactionListing {
                    transactional_id: "probe-tx".into(),
                    producer_id: 1234,
                    state: "Ongoing".into()
                }
            );
            assert_eq!(
                (d.transactions[1].producer_id, d.transactions[1].state.as_str()),
                (-1, "CompleteCommit")
            );
            all_prefixes_fail(&bytes, |b| ListTransactionsResponse::decode(b, v));
        }
    }

    #[test]
    fn describe_transactions_v0() {
        let mut m = dt::DescribeTransactionsResponse::default();
        m.throttle_time_ms = 1;
        let mut s = dt::TransactionState::default();
        s.transactional_id = TransactionalId(sb("probe-tx"));
        s.transaction_state = sb("Ongoing");
        s.transaction_timeout_ms = 60_000;
        s.transaction_start_time_ms = 1_796_425_073_308;
        s.producer_id = ProducerId(77);
        s.producer_epoch = 3;
        let mut t = dt::TopicData::default();
        t.topic = TopicName(sb("txprobe"));
        t.partitions = vec![1, 0];
        s.topics = vec![t];
        let mut missing = dt::TransactionState::default();
        missing.error_code = 105;
        missing.transactional_id = TransactionalId(sb("nope"));
        missing.transaction_start_time_ms = -1;
        m.transaction_states = vec![s, missing];
        let bytes = encode(&m, 0);
        let d = DescribeTransactionsResponse::decode(bytes.clone(), 0).unwrap();
        let a = &d.transactions[0];
        assert_eq!(
            (a.transactional_id.as_str(), a.state.as_str(), a.timeout_ms),
            ("probe-tx", "Ongoing", 60_000)
        );
        assert_eq!((a.start_time_ms, a.producer_id, a.producer_epoch), (1_796_425_073_308, 77, 3));
        assert_eq!(a.topics, [TxnTopic { topic: "txprobe".into(), partitions: vec![1, 0] }]);
        assert_eq!(d.transactions[1].error_code, ErrorCode(105));
        assert_eq!(d.transactions[1].start_time_ms, -1);
        all_prefixes_fail(&bytes, |b| DescribeTransactionsResponse::decode(b, 0));
    }

    #[test]
    fn describe_producers_v0() {
        let mut m = dp::DescribeProducersResponse::default();
        let mut t = dp::TopicResponse::default();
        t.name = TopicName(sb("txprobe"));
        let mut p0 = dp::PartitionResponse::default();
        p0.partition_index = 0;
        let mut st = dp::ProducerState::default();
        st.producer_id = ProducerId(5);
        st.producer_epoch = 2;
        st.last_sequence = 1135;
        st.last_timestamp = 1_796_425_081_712;
        st.coordinator_epoch = -1;
        st.current_txn_start_offset = 0;
        p0.active_producers = vec![st];
        let mut p1 = dp::PartitionResponse::default();
        p1.partition_index = 9;
        p1.error_code = 3;
        p1.error_message = Some(sb("no such partition"));
        t.partitions = vec![p0, p1];
        m.topics = vec![t];
        let bytes = encode(&m, 0);
        let d = DescribeProducersResponse::decode(bytes.clone(), 0).unwrap();
        let t = &d.topics[0];
        assert_eq!(t.topic, "txprobe");
        assert_eq!(
            t.partitions[0].producers,
            [ProducerState {
                producer_id: 5,
                producer_epoch: 2,
                last_sequence: 1135,
                last_timestamp: 1_796_425_081_712,
                coordinator_epoch: -1,
                current_txn_start_offset: 0,
            }]
        );
        assert_eq!(t.partitions[1].partition, 9);
        assert_eq!(t.partitions[1].error_code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        assert_eq!(t.partitions[1].error_message.as_deref(), Some("no such partition"));
        all_prefixes_fail(&bytes, |b| DescribeProducersResponse::decode(b, 0));
    }

    #[test]
    fn write_txn_markers_v1() {
        let mut m = wm::WriteTxnMarkersResponse::default();
        let mut r = wm::WritableTxnMarkerResult::default();
        r.producer_id = ProducerId(42);
        let mut t = wm::WritableTxnMarkerTopicResult::default();
        t.name = TopicName(sb("t"));
        let mut p = wm::WritableTxnMarkerPartitionResult::default();
        p.partition_index = 1;
        p.error_code = 52;
        let mut q = wm::WritableTxnMarkerPartitionResult::default();
        q.partition_index = 2;
        t.partitions = vec![p, q];
        r.topics = vec![t];
        m.markers = vec![r];
        let bytes = encode(&m, 1);
        let d = WriteTxnMarkersResponse::decode(bytes.clone(), 1).unwrap();
        assert_eq!(d.markers[0].producer_id, 42);
        assert_eq!(
            d.markers[0].partitions,
            [
                MarkerPartitionResult { topic: "t".into(), partition: 1, error_code: ErrorCode(52) },
                MarkerPartitionResult { topic: "t".into(), partition: 2, error_code: ErrorCode::NONE },
            ]
        );
        all_prefixes_fail(&bytes, |b| WriteTxnMarkersResponse::decode(b, 1));
    }

    #[test]
    fn write_txn_markers_v0_by_hand() {
        // kafka-protocol 0.18 only encodes v1; v0 (classic) is written out here.
        let mut b = Vec::new();
        b.extend_from_slice(&1i32.to_be_bytes()); // markers
        b.extend_from_slice(&42i64.to_be_bytes());
        b.extend_from_slice(&1i32.to_be_bytes()); // topics
        b.extend_from_slice(&1i16.to_be_bytes());
        b.push(b't');
        b.extend_from_slice(&1i32.to_be_bytes()); // partitions
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(&47i16.to_be_bytes());
        let bytes = Bytes::from(b);
        let d = WriteTxnMarkersResponse::decode(bytes.clone(), 0).unwrap();
        assert_eq!(d.markers[0].partitions[0].partition, 3);
        assert_eq!(d.markers[0].partitions[0].error_code, ErrorCode::INVALID_PRODUCER_EPOCH);
        all_prefixes_fail(&bytes, |b| WriteTxnMarkersResponse::decode(b, 0));
    }

    #[test]
    fn hostile_counts_are_rejected_before_allocating() {
        // A count of 2^31-ish elements in four bytes of body.
        let body = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]);
        assert!(ListTransactionsResponse::decode(body, 0).is_err());
        let body = Bytes::from_static(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]);
        assert!(DescribeTransactionsResponse::decode(body.clone(), 0).is_err());
        assert!(DescribeProducersResponse::decode(body, 0).is_err());
        let body = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(WriteTxnMarkersResponse::decode(body, 0).is_err());
    }
}
