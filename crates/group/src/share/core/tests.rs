use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kwire_fetch::TopicPartition;
use kwire_proto::ErrorCode;
use kwire_proto::msg::share::{AckBatch, AckType, Acquired, ShareGroupHeartbeatResponse};
use kwire_proto::records::{BatchOptions, DecodeOptions, RecordBatchBuilder};

use super::*;

fn ok(
    epoch: i32,
    assignment: Option<Vec<(TopicId, Vec<i32>)>>,
) -> Result<ShareGroupHeartbeatResponse, String> {
    Ok(ShareGroupHeartbeatResponse {
        member_epoch: epoch,
        heartbeat_interval_ms: 1_000,
        assignment,
        ..Default::default()
    })
}

fn code(c: ErrorCode) -> Result<ShareGroupHeartbeatResponse, String> {
    Ok(ShareGroupHeartbeatResponse { error_code: c, ..Default::default() })
}

#[test]
fn join_heartbeat_fence_rejoin_leave() {
    let t0 = Instant::now();
    let mut m =
        ShareMember::new("g", "m-1".into(), vec!["b".into(), "a".into(), "a".into()], Some("r1".into()), t0);
    let hb = m.poll_heartbeat(t0).unwrap();
    assert_eq!(
        hb,
        HeartbeatSend {
            member_epoch: 0,
            subscribed: Some(vec!["a".into(), "b".into()]),
            rack: Some("r1".into())
        }
    );
    assert!(m.poll_heartbeat(t0).is_none(), "one heartbeat in flight");
    let out = m.on_response(t0, ok(3, Some(vec![([1; 16], vec![2, 0]), ([1; 16], vec![0])]))).unwrap();
    assert_eq!(out, HeartbeatOutcome::Assigned(BTreeMap::from([([1; 16], vec![0, 2])])));
    assert_eq!(m.epoch(), 3);
    // Next one after the interval the coordinator gave, without the subscription.
    assert!(m.poll_heartbeat(t0 + Duration::from_millis(999)).is_none());
    let hb = m.poll_heartbeat(t0 + Duration::from_secs(1)).unwrap();
    assert_eq!(hb, HeartbeatSend { member_epoch: 3, subscribed: None, rack: None });
    assert_eq!(m.on_response(t0, ok(3, None)).unwrap(), HeartbeatOutcome::Same);
    // Fenced: rejoin at once with epoch 0 and the subscription.
    let t1 = t0 + Duration::from_secs(2);
    m.poll_heartbeat(t1).unwrap();
    assert_eq!(m.on_response(t1, code(ErrorCode::FENCED_MEMBER_EPOCH)).unwrap(), HeartbeatOutcome::Rejoin);
    let hb = m.poll_heartbeat(t1).unwrap();
    assert_eq!((hb.member_epoch, hb.subscribed.is_some()), (0, true));
    assert_eq!(m.on_response(t1, ok(5, Some(vec![]))).unwrap(), HeartbeatOutcome::Assigned(BTreeMap::new()));
    // Leave: epoch -1 even before the interval.
    m.leave();
    let hb = m.poll_heartbeat(t1).unwrap();
    assert_eq!(hb.member_epoch, -1);
    assert_eq!(m.on_response(t1, ok(-1, None)).unwrap(), HeartbeatOutcome::Left);
    assert!(m.has_left() && m.poll_heartbeat(t1 + Duration::from_secs(60)).is_none());
}

#[test]
fn coordinator_trouble_backs_off_and_bad_groups_fail() {
    let t0 = Instant::now();
    let mut m = ShareMember::new("g", "m".into(), vec!["t".into()], None, t0);
    m.poll_heartbeat(t0).unwrap();
    assert_eq!(m.on_response(t0, Err("connection reset".into())).unwrap(), HeartbeatOutcome::FindCoordinator);
    assert!(m.poll_heartbeat(t0).is_none(), "backs off");
    assert!(m.next_heartbeat() > t0 && m.next_heartbeat() <= t0 + Duration::from_secs(1));
    m.poll_heartbeat(m.next_heartbeat()).unwrap();
    assert_eq!(
        m.on_response(t0, code(ErrorCode::NOT_COORDINATOR)).unwrap(),
        HeartbeatOutcome::FindCoordinator
    );
    m.poll_heartbeat(m.next_heartbeat()).unwrap();
    let e = m.on_response(t0, code(ErrorCode(23))).unwrap_err();
    assert!(e.to_string().contains("is not a share group"), "{e}");
    let mut m = ShareMember::new("g", "m".into(), vec!["t".into()], None, t0);
    m.poll_heartbeat(t0).unwrap();
    assert!(m.on_response(t0, code(ErrorCode::GROUP_AUTHORIZATION_FAILED)).is_err());
}

#[test]
fn leaving_before_joining_sends_nothing() {
    let t0 = Instant::now();
    let mut m = ShareMember::new("g", "m".into(), vec!["t".into()], None, t0);
    m.leave();
    assert!(m.has_left());
    assert!(m.poll_heartbeat(t0).is_none());
}

#[test]
fn acks_merge_into_ranges_per_type() {
    let mut b = AckBook::new();
    let t = [7; 16];
    for o in [5, 3, 4, 6, 9] {
        b.add(t, 0, o, AckType::Accept);
    }
    b.add(t, 0, 6, AckType::Release); // the last word counts
    b.add(t, 1, 0, AckType::Reject);
    assert_eq!(b.partitions(), vec![(t, 0), (t, 1)]);
    assert_eq!(
        b.take(t, 0),
        vec![
            AckBatch { first: 3, last: 5, types: vec![AckType::Accept] },
            AckBatch { first: 6, last: 6, types: vec![AckType::Release] },
            AckBatch { first: 9, last: 9, types: vec![AckType::Accept] },
        ]
    );
    assert!(b.take(t, 0).is_empty());
    b.forget(t, 1);
    assert!(b.is_empty());
}

fn batch(base: i64, n: usize) -> Bytes {
    let mut b = RecordBatchBuilder::new(BatchOptions::default().base_offset(base).max_batch_bytes(1 << 20));
    for i in 0..n {
        let v = format!("v{}", base + i as i64);
        b.append(1_000, None, Some(v.as_bytes()), &[]).unwrap();
    }
    b.finish().unwrap().into_bytes()
}

#[test]
fn only_acquired_records_are_delivered_and_missing_offsets_are_gaps() {
    let mut data = batch(0, 10).to_vec();
    data.extend_from_slice(&batch(12, 3)); // offsets 10 and 11 hold nothing (compacted)
    let tp = Arc::new(TopicPartition::new("t", 0));
    let acquired = [
        Acquired { first: 2, last: 4, delivery_count: 1 },
        Acquired { first: 9, last: 12, delivery_count: 3 },
    ];
    let (recs, gaps) =
        acquired_records(tp.clone(), Bytes::from(data.clone()), &acquired, DecodeOptions::default()).unwrap();
    let got: Vec<(i64, i16)> = recs.iter().map(|r| (r.record.offset, r.delivery_count)).collect();
    assert_eq!(got, vec![(2, 1), (3, 1), (4, 1), (9, 3), (12, 3)]);
    assert_eq!(recs[0].record.value.as_deref(), Some(&b"v2"[..]));
    assert_eq!(gaps, vec![10, 11]);
    // Nothing acquired: nothing delivered, whatever the bytes.
    let (recs, gaps) =
        acquired_records(tp.clone(), Bytes::from(data), &[], DecodeOptions::default()).unwrap();
    assert!(recs.is_empty() && gaps.is_empty());
    // Corrupt bytes are an error naming the partition, not a panic.
    let e = acquired_records(tp, Bytes::from_static(&[0xff; 80]), &acquired, DecodeOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("t-0") || e.to_string().contains("t"), "{e}");
}

#[test]
fn a_hostile_range_does_not_run_away() {
    let tp = Arc::new(TopicPartition::new("t", 0));
    let acquired = [Acquired { first: 0, last: i64::MAX, delivery_count: 1 }];
    let (_, gaps) = acquired_records(tp, batch(0, 1), &acquired, DecodeOptions::default()).unwrap();
    assert_eq!(gaps.len(), MAX_GAPS);
}

#[test]
fn session_epochs_open_advance_and_reset() {
    let mut s = SessionEpochs::default();
    assert_eq!(s.epoch(1), 0);
    s.advance(1, [([1; 16], 0)].into());
    s.advance(1, [([1; 16], 0), ([1; 16], 1)].into());
    assert_eq!(s.epoch(1), 2);
    assert_eq!(s.partitions(1).len(), 2);
    s.reset(1);
    assert_eq!((s.epoch(1), s.partitions(1).len()), (0, 0));
}
