//! The membership state machines against a virtual clock: no sockets, no
//! runtime; every response is scripted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kwire_proto::msg::group::{
    ConsumerAssignment, ConsumerGroupHeartbeatResponse, ConsumerSubscription, HeartbeatResponse,
    JoinGroupMember, JoinGroupResponse, LeaveGroupResponse, SyncGroupResponse, TopicIdPartitions,
    TopicPartitions,
};

use super::*;
use crate::{AssignorKind, GroupConfig, GroupProtocol};

const T: &str = "t";

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new(T, p)
}

fn all_versions() -> GroupApiVersions {
    GroupApiVersions {
        join_group: Some(9),
        sync_group: Some(5),
        heartbeat: Some(4),
        leave_group: Some(5),
        offset_commit: Some(9),
        offset_fetch: Some(9),
        consumer_group_heartbeat: Some(1),
    }
}

struct H {
    m: Membership,
    now: Instant,
}

fn cfg() -> GroupConfig {
    let mut c = GroupConfig::new("g");
    c.session_timeout = Duration::from_secs(10);
    c.heartbeat_interval = Duration::from_secs(1);
    c.max_poll_interval = Duration::from_secs(30);
    c
}

impl H {
    fn new(c: GroupConfig) -> H {
        let now = Instant::now();
        H { m: Membership::new(&c, vec![T.to_owned()], now), now }
    }

    fn transmit(&mut self) -> Option<Transmit> {
        self.m.poll_transmit(self.now)
    }

    fn find(&mut self, versions: GroupApiVersions) {
        assert!(matches!(self.transmit(), Some(Transmit::FindCoordinator)));
        self.m.handle_coordinator(self.now, Ok(CoordinatorInfo { node_id: 1, versions }));
    }

    fn request(&mut self) -> (u64, CoordRequest) {
        match self.transmit() {
            Some(Transmit::Request { id, request, .. }) => (id, request),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn nothing(&mut self) {
        let t = self.transmit();
        assert!(t.is_none(), "expected nothing to send, got {t:?}");
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.m.handle_timeout(self.now);
    }

    fn respond(&mut self, id: u64, r: CoordResponse) {
        self.m.handle_response(self.now, id, Ok(r));
    }

    fn events(&mut self) -> Vec<MemberEvent> {
        std::iter::from_fn(|| self.m.poll_event()).collect()
    }

    /// Joins as a follower and receives `parts`.
    fn join_follower(&mut self, parts: &[i32]) {
        self.find(all_versions());
        let (id, req) = self.request();
        let CoordRequest::JoinGroup(_, _) = req else { panic!("{req:?}") };
        self.respond(id, CoordResponse::JoinGroup(join_ok("me", "leader", 1)));
        let (id, req) = self.request();
        let CoordRequest::SyncGroup(s, _) = req else { panic!("{req:?}") };
        assert!(s.assignments.is_empty());
        self.respond(id, CoordResponse::SyncGroup(sync_ok(parts)));
        let ev = self.events();
        assert!(
            matches!(&ev[..], [MemberEvent::Assigned { added, .. }] if added.len() == parts.len()),
            "{ev:?}"
        );
    }
}

fn join_ok(member: &str, leader: &str, generation: i32) -> JoinGroupResponse {
    JoinGroupResponse {
        generation_id: generation,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        leader: leader.into(),
        member_id: member.into(),
        ..Default::default()
    }
}

fn assignment(parts: &[i32]) -> Bytes {
    ConsumerAssignment {
        partitions: vec![TopicPartitions { topic: T.into(), partitions: parts.to_vec() }],
        ..Default::default()
    }
    .encode()
    .unwrap()
}

fn sync_ok(parts: &[i32]) -> SyncGroupResponse {
    SyncGroupResponse {
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignment: assignment(parts),
        ..Default::default()
    }
}

fn sync_coop(parts: &[i32]) -> SyncGroupResponse {
    SyncGroupResponse { protocol_name: Some("cooperative-sticky".into()), ..sync_ok(parts) }
}

fn hb(code: ErrorCode) -> CoordResponse {
    CoordResponse::Heartbeat(HeartbeatResponse { throttle_time_ms: 0, error_code: code })
}

fn subscription_of(req: &CoordRequest) -> ConsumerSubscription {
    let CoordRequest::JoinGroup(j, _) = req else { panic!("{req:?}") };
    ConsumerSubscription::decode(j.protocols[0].metadata.clone()).unwrap()
}

#[test]
fn member_id_required_round_then_follower_sync() {
    let mut h = H::new(cfg());
    h.find(all_versions());
    let (id, req) = h.request();
    let CoordRequest::JoinGroup(j, 9) = &req else { panic!("{req:?}") };
    assert_eq!(j.member_id.as_str(), "");
    assert_eq!(j.protocol_type.as_str(), "consumer");
    assert_eq!(
        j.protocols.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        vec!["range", "cooperative-sticky"]
    );
    assert_eq!(j.rebalance_timeout_ms, 30_000);
    assert_eq!(subscription_of(&req).topics, vec![T.to_owned()]);
    let r = JoinGroupResponse {
        error_code: ErrorCode::MEMBER_ID_REQUIRED,
        member_id: "m-1".into(),
        ..Default::default()
    };
    h.respond(id, CoordResponse::JoinGroup(r));
    // Rejoins at once with the id.
    let (id, req) = h.request();
    let CoordRequest::JoinGroup(j, _) = &req else { panic!("{req:?}") };
    assert_eq!(j.member_id.as_str(), "m-1");
    assert!(h.m.commit_identity().is_none(), "no commits while joining");
    h.respond(id, CoordResponse::JoinGroup(join_ok("m-1", "m-0", 3)));
    let (id, req) = h.request();
    let CoordRequest::SyncGroup(s, 5) = &req else { panic!("{req:?}") };
    assert_eq!((s.generation_id, s.member_id.as_str()), (3, "m-1"));
    assert_eq!(s.protocol_name.as_deref(), Some("range"));
    h.respond(id, CoordResponse::SyncGroup(sync_ok(&[0, 2])));
    let ev = h.events();
    let [MemberEvent::Assigned { added, assignment }] = &ev[..] else { panic!("{ev:?}") };
    assert_eq!(added, &vec![tp(0), tp(2)]);
    assert_eq!(assignment, added);
    assert_eq!(
        h.m.commit_identity(),
        Some(CommitIdentity { generation_or_epoch: 3, member_id: "m-1".into(), instance_id: None })
    );
    // First heartbeat one interval later.
    h.nothing();
    h.advance(Duration::from_millis(999));
    h.nothing();
    h.advance(Duration::from_millis(1));
    let (_, req) = h.request();
    let CoordRequest::Heartbeat(b, 4) = &req else { panic!("{req:?}") };
    assert_eq!((b.generation_id, b.member_id.as_str()), (3, "m-1"));
}

#[test]
fn leader_runs_the_assignor_on_fresh_metadata() {
    let mut c = cfg();
    c.assignors = vec![AssignorKind::RoundRobin];
    let mut h = H::new(c);
    h.find(all_versions());
    let (id, _) = h.request();
    let sub = |topics: &[&str]| {
        ConsumerSubscription {
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            ..Default::default()
        }
        .encode()
        .unwrap()
    };
    let mut r = join_ok("a", "a", 1);
    r.protocol_name = Some("roundrobin".into());
    r.members = vec![
        JoinGroupMember { member_id: "a".into(), group_instance_id: None, metadata: sub(&[T]) },
        JoinGroupMember { member_id: "b".into(), group_instance_id: None, metadata: sub(&[T, "u"]) },
    ];
    h.respond(id, CoordResponse::JoinGroup(r));
    let Some(Transmit::Metadata(topics)) = h.transmit() else { panic!() };
    assert_eq!(topics, vec!["t".to_owned(), "u".to_owned()]);
    h.nothing();
    h.m.handle_metadata(
        h.now,
        Ok(vec![
            TopicMeta { name: T.into(), id: [1; 16], partitions: 3 },
            TopicMeta { name: "u".into(), id: [2; 16], partitions: 1 },
        ]),
    );
    let (_, req) = h.request();
    let CoordRequest::SyncGroup(s, _) = &req else { panic!("{req:?}") };
    let got: BTreeMap<String, ConsumerAssignment> = s
        .assignments
        .iter()
        .map(|a| (a.member_id.to_string(), ConsumerAssignment::decode(a.assignment.clone()).unwrap()))
        .collect();
    let count = |m: &str| got[m].partitions.iter().map(|t| t.partitions.len()).sum::<usize>();
    assert_eq!((count("a"), count("b")), (2, 2));
    assert!(got["a"].partitions.iter().all(|t| t.topic == T), "a does not subscribe to u");
}

/// An assignor that gives everything to the member whose user data is
/// "pick me" and tells each member how many members it saw.
#[derive(Debug, Default)]
struct PickMe {
    received: std::sync::Mutex<Vec<Option<Vec<u8>>>>,
}

impl crate::assignor::CustomAssignor for PickMe {
    fn name(&self) -> &str {
        "pick-me"
    }
    fn subscription_user_data(&self) -> Option<Bytes> {
        Some(Bytes::from_static(b"pick me"))
    }
    fn assign(
        &self,
        members: &[crate::assignor::MemberSubscription],
        topics: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, crate::assignor::MemberAssignment> {
        members
            .iter()
            .map(|m| {
                let chosen = m.user_data.as_deref() == Some(b"pick me".as_slice());
                let partitions = if chosen {
                    topics
                        .iter()
                        .flat_map(|(t, n)| (0..*n).map(|p| TopicPartition::new(t.as_str(), p)))
                        .collect()
                } else {
                    Vec::new()
                };
                let user_data = Some(Bytes::from(format!("{} members", members.len())));
                (m.member_id.clone(), crate::assignor::MemberAssignment { partitions, user_data })
            })
            .collect()
    }
    fn on_assignment(&self, user_data: Option<&[u8]>) {
        self.received.lock().unwrap().push(user_data.map(<[u8]>::to_vec));
    }
}

#[test]
fn a_custom_assignor_sees_user_data_and_sends_user_data() {
    let picker = std::sync::Arc::new(PickMe::default());
    let mut c = cfg();
    c.custom_assignor = Some(crate::assignor::CustomAssignorRef(picker.clone()));
    let mut h = H::new(c);
    h.find(all_versions());
    let (id, req) = h.request();
    let CoordRequest::JoinGroup(j, _) = &req else { panic!("{req:?}") };
    assert_eq!(
        j.protocols.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        vec!["pick-me", "range", "cooperative-sticky"],
        "the custom assignor is offered first"
    );
    assert_eq!(subscription_of(&req).user_data.as_deref(), Some(b"pick me".as_slice()));
    let sub = |data: &'static [u8]| {
        ConsumerSubscription {
            topics: vec![T.to_owned()],
            user_data: Some(Bytes::from_static(data)),
            ..Default::default()
        }
        .encode()
        .unwrap()
    };
    let mut r = join_ok("a", "a", 1);
    r.protocol_name = Some("pick-me".into());
    r.members = vec![
        JoinGroupMember { member_id: "a".into(), group_instance_id: None, metadata: sub(b"no") },
        JoinGroupMember { member_id: "b".into(), group_instance_id: None, metadata: sub(b"pick me") },
    ];
    h.respond(id, CoordResponse::JoinGroup(r));
    let Some(Transmit::Metadata(_)) = h.transmit() else { panic!() };
    h.m.handle_metadata(h.now, Ok(vec![TopicMeta { name: T.into(), id: [1; 16], partitions: 3 }]));
    let (id, req) = h.request();
    let CoordRequest::SyncGroup(s, _) = &req else { panic!("{req:?}") };
    assert_eq!(s.protocol_name.as_deref(), Some("pick-me"));
    let got: BTreeMap<String, ConsumerAssignment> = s
        .assignments
        .iter()
        .map(|a| (a.member_id.to_string(), ConsumerAssignment::decode(a.assignment.clone()).unwrap()))
        .collect();
    assert!(got["a"].partitions.iter().all(|t| t.partitions.is_empty()));
    assert_eq!(got["b"].partitions[0].partitions, vec![0, 1, 2]);
    assert_eq!(got["b"].user_data.as_deref(), Some(b"2 members".as_slice()));
    let mine = got["a"].clone();
    h.respond(
        id,
        CoordResponse::SyncGroup(SyncGroupResponse {
            protocol_type: Some("consumer".into()),
            protocol_name: Some("pick-me".into()),
            assignment: mine.encode().unwrap(),
            ..Default::default()
        }),
    );
    assert_eq!(*picker.received.lock().unwrap(), vec![Some(b"2 members".to_vec())]);
}

#[test]
fn heartbeats_run_on_their_own_schedule() {
    let mut h = H::new(cfg());
    h.join_follower(&[0]);
    let mut beats = 0;
    // 20 s of virtual time in 100 ms steps; the application never polls but waits inside one.
    h.m.handle_app_waiting(h.now, true);
    for _ in 0..200 {
        h.advance(Duration::from_millis(100));
        while let Some(t) = h.transmit() {
            if let Transmit::Request { id, request: CoordRequest::Heartbeat(..), .. } = t {
                beats += 1;
                h.respond(id, hb(ErrorCode::NONE));
            } else {
                panic!("{t:?}");
            }
        }
    }
    assert!((19..=20).contains(&beats), "{beats} heartbeats in 20 s at 1 s intervals");
    assert!(h.events().is_empty());
}

#[test]
fn eager_rebalance_revokes_everything_before_rejoining() {
    let mut h = H::new(cfg());
    h.join_follower(&[0, 1]);
    h.advance(Duration::from_secs(1));
    let (id, _) = h.request();
    h.respond(id, hb(ErrorCode::REBALANCE_IN_PROGRESS));
    let ev = h.events();
    let [MemberEvent::Revoke { id: rid, partitions }] = &ev[..] else { panic!("{ev:?}") };
    assert_eq!(partitions, &vec![tp(0), tp(1)]);
    // Commits still allowed (the member is in its generation until it rejoins).
    assert!(h.m.commit_identity().is_some());
    // No JoinGroup until the application is done; heartbeats continue.
    h.nothing();
    h.advance(Duration::from_secs(1));
    let (hid, req) = h.request();
    assert!(matches!(req, CoordRequest::Heartbeat(..)));
    h.respond(hid, hb(ErrorCode::REBALANCE_IN_PROGRESS));
    h.m.handle_revoked(h.now, *rid);
    let (_, req) = h.request();
    let sub = subscription_of(&req);
    assert!(sub.owned_partitions.is_empty(), "eager members own nothing when they rejoin");
    assert!(h.m.owned().is_empty());
}

#[test]
fn cooperative_rebalance_revokes_only_what_moves_then_rejoins() {
    let mut c = cfg();
    c.assignors = vec![AssignorKind::CooperativeSticky];
    let mut h = H::new(c);
    h.find(all_versions());
    let (id, _) = h.request();
    let mut r = join_ok("me", "x", 1);
    r.protocol_name = Some("cooperative-sticky".into());
    h.respond(id, CoordResponse::JoinGroup(r.clone()));
    let (id, _) = h.request();
    h.respond(id, CoordResponse::SyncGroup(sync_coop(&[0, 1, 2])));
    h.events();
    h.advance(Duration::from_secs(1));
    let (id, _) = h.request();
    h.respond(id, hb(ErrorCode::REBALANCE_IN_PROGRESS));
    assert!(h.events().is_empty(), "nothing revoked up front");
    // Rejoins at once, reporting what it owns.
    let (id, req) = h.request();
    let sub = subscription_of(&req);
    assert_eq!(sub.owned_partitions, vec![TopicPartitions { topic: T.into(), partitions: vec![0, 1, 2] }]);
    assert_eq!(sub.generation_id, 1);
    r.generation_id = 2;
    h.respond(id, CoordResponse::JoinGroup(r.clone()));
    let (id, _) = h.request();
    h.respond(id, CoordResponse::SyncGroup(sync_coop(&[0, 1])));
    let ev = h.events();
    let [MemberEvent::Revoke { id: rid, partitions }, MemberEvent::Assigned { added, assignment }] = &ev[..]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(partitions, &vec![tp(2)]);
    assert!(added.is_empty());
    assert_eq!(assignment, &vec![tp(0), tp(1)]);
    // Still owns partition 2 (and may commit it) until the application is done.
    assert!(h.m.owned().contains(&tp(2)));
    assert!(h.m.commit_identity().is_some());
    h.m.handle_revoked(h.now, *rid);
    assert!(!h.m.owned().contains(&tp(2)));
    // Second round, owning only 0 and 1.
    let (_, req) = h.request();
    assert_eq!(
        subscription_of(&req).owned_partitions,
        vec![TopicPartitions { topic: T.into(), partitions: vec![0, 1] }]
    );
}

#[test]
fn unknown_member_id_loses_partitions_and_rejoins_fresh() {
    for code in [ErrorCode::UNKNOWN_MEMBER_ID, ErrorCode::ILLEGAL_GENERATION] {
        let mut h = H::new(cfg());
        h.join_follower(&[0, 1]);
        h.advance(Duration::from_secs(1));
        let (id, _) = h.request();
        h.respond(id, hb(code));
        let ev = h.events();
        assert!(matches!(&ev[..], [MemberEvent::Lost(p)] if p.len() == 2), "{code}: {ev:?}");
        assert!(h.m.owned().is_empty());
        assert!(h.m.commit_identity().is_none(), "never commit for lost partitions");
        let (_, req) = h.request();
        let CoordRequest::JoinGroup(j, _) = &req else { panic!("{req:?}") };
        assert_eq!(j.member_id.as_str(), "", "{code}: rejoins with a fresh member id");
    }
}

#[test]
fn a_stale_heartbeat_answer_is_ignored() {
    let mut h = H::new(cfg());
    h.join_follower(&[0]);
    h.advance(Duration::from_secs(1));
    let (id, _) = h.request();
    h.respond(id + 100, hb(ErrorCode::UNKNOWN_MEMBER_ID));
    assert!(h.events().is_empty());
    assert_eq!(h.m.owned().len(), 1);
}

#[test]
fn coordinator_moves_are_followed_without_losing_partitions() {
    let mut h = H::new(cfg());
    h.join_follower(&[0]);
    h.advance(Duration::from_secs(1));
    let (id, _) = h.request();
    h.respond(id, hb(ErrorCode::NOT_COORDINATOR));
    assert!(h.m.coordinator().is_none());
    h.nothing();
    h.advance(Duration::from_millis(100));
    assert!(matches!(h.transmit(), Some(Transmit::FindCoordinator)));
    // Not there yet: back off.
    h.m.handle_coordinator(h.now, Err(CoordinatorError::Retriable("COORDINATOR_NOT_AVAILABLE".into())));
    h.nothing();
    h.advance(Duration::from_millis(250));
    assert!(matches!(h.transmit(), Some(Transmit::FindCoordinator)));
    h.m.handle_coordinator(h.now, Ok(CoordinatorInfo { node_id: 2, versions: all_versions() }));
    let (id, req) = h.request();
    assert!(matches!(req, CoordRequest::Heartbeat(..)), "heartbeats resume at once");
    assert!(h.events().is_empty());
    assert_eq!(h.m.owned().len(), 1);
    // A transport failure does the same.
    h.m.handle_response(h.now, id, Err("connection closed".into()));
    h.nothing();
    h.advance(Duration::from_millis(200));
    assert!(matches!(h.transmit(), Some(Transmit::FindCoordinator)));
    assert_eq!(h.m.owned().len(), 1);
}

/// A request queued for a coordinator that is forgotten before the driver
/// takes it is never handed out: it would go to no coordinator, or to the
/// next one found (found by the `group_sim` fuzz target: the leader's
/// metadata refresh queued a JoinGroup, and a NOT_COORDINATOR heartbeat
/// answer handled before the driver polled forgot the coordinator).
#[test]
fn a_request_queued_before_the_coordinator_is_forgotten_is_not_sent() {
    let mut h = H::new(cfg());
    h.join_follower(&[]);
    h.advance(Duration::from_secs(1));
    let (hb_id, _) = h.request();
    // Queued, not yet taken by the driver.
    h.m.request_rejoin(h.now, "the partitions of a subscribed topic changed");
    h.respond(hb_id, hb(ErrorCode::NOT_COORDINATOR));
    assert!(h.m.coordinator().is_none());
    h.nothing();
    // The rejoin goes to the coordinator found next.
    h.advance(Duration::from_millis(100));
    assert!(matches!(h.transmit(), Some(Transmit::FindCoordinator)));
    h.m.handle_coordinator(h.now, Ok(CoordinatorInfo { node_id: 2, versions: all_versions() }));
    let (_, req) = h.request();
    assert!(matches!(req, CoordRequest::JoinGroup(..)), "{req:?}");
}

/// A coordinator that keeps answering NOT_COORDINATOR (it is moving and
/// FindCoordinator still names it) is retried with growing backoff, not in
/// a hot loop; one good answer resets the backoff.
#[test]
fn repeated_coordinator_errors_back_off() {
    let mut h = H::new(cfg());
    h.join_follower(&[0]);
    h.advance(Duration::from_secs(1));
    let mut waits = Vec::new();
    for _ in 0..6 {
        let (id, req) = h.request();
        assert!(matches!(req, CoordRequest::Heartbeat(..)));
        h.respond(id, hb(ErrorCode::NOT_COORDINATOR));
        let start = h.now;
        loop {
            h.advance(Duration::from_millis(10));
            if let Some(t) = h.transmit() {
                assert!(matches!(t, Transmit::FindCoordinator), "{t:?}");
                break;
            }
        }
        waits.push((h.now - start).as_millis() as u64);
        h.m.handle_coordinator(h.now, Ok(CoordinatorInfo { node_id: 1, versions: all_versions() }));
    }
    assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
    let (id, _) = h.request();
    h.respond(id, hb(ErrorCode::NONE));
    h.advance(Duration::from_secs(1));
    let (id, _) = h.request();
    h.respond(id, hb(ErrorCode::NOT_COORDINATOR));
    h.advance(Duration::from_millis(100));
    assert!(matches!(h.transmit(), Some(Transmit::FindCoordinator)), "backoff reset after a good answer");
    assert_eq!(h.m.owned().len(), 1, "no partitions lost along the way");
}

#[test]
fn join_errors_follow_kafka() {
    // COORDINATOR_LOAD_IN_PROGRESS: back off, same coordinator.
    let mut h = H::new(cfg());
    h.find(all_versions());
    let (id, _) = h.request();
    let r = JoinGroupResponse { error_code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, ..Default::default() };
    h.respond(id, CoordResponse::JoinGroup(r));
    h.nothing();
    h.advance(Duration::from_millis(200));
    assert!(matches!(h.request().1, CoordRequest::JoinGroup(..)));
    // NOT_COORDINATOR: rediscover, then join.
    let mut h = H::new(cfg());
    h.find(all_versions());
    let (id, _) = h.request();
    let r = JoinGroupResponse { error_code: ErrorCode::NOT_COORDINATOR, ..Default::default() };
    h.respond(id, CoordResponse::JoinGroup(r));
    h.nothing();
    h.advance(Duration::from_millis(100));
    h.find(all_versions());
    h.nothing();
    h.advance(Duration::from_millis(100));
    assert!(matches!(h.request().1, CoordRequest::JoinGroup(..)));
    // Fatal ones.
    for (code, needle) in [
        (ErrorCode::FENCED_INSTANCE_ID, "fenced"),
        (ErrorCode::GROUP_AUTHORIZATION_FAILED, "GROUP_AUTHORIZATION_FAILED"),
        (ErrorCode(23), "INCONSISTENT_GROUP_PROTOCOL"),
    ] {
        let mut h = H::new(cfg());
        h.find(all_versions());
        let (id, _) = h.request();
        let r = JoinGroupResponse { error_code: code, ..Default::default() };
        h.respond(id, CoordResponse::JoinGroup(r));
        let ev = h.events();
        let [MemberEvent::Failed(e)] = &ev[..] else { panic!("{ev:?}") };
        assert!(e.to_string().contains(needle), "{e}");
        h.nothing();
        assert!(h.m.is_terminated());
    }
}

#[test]
fn sync_rebalance_in_progress_rejoins_keeping_the_member_id() {
    let mut h = H::new(cfg());
    h.find(all_versions());
    let (id, _) = h.request();
    h.respond(id, CoordResponse::JoinGroup(join_ok("me", "l", 4)));
    let (id, _) = h.request();
    let r = SyncGroupResponse { error_code: ErrorCode::REBALANCE_IN_PROGRESS, ..Default::default() };
    h.respond(id, CoordResponse::SyncGroup(r));
    let (_, req) = h.request();
    let CoordRequest::JoinGroup(j, _) = &req else { panic!("{req:?}") };
    assert_eq!(j.member_id.as_str(), "me");
}

#[test]
fn session_timeout_without_heartbeat_answers_rediscovers_the_coordinator() {
    let mut h = H::new(cfg());
    h.join_follower(&[0]);
    h.advance(Duration::from_secs(1));
    let (_never_answered, _) = h.request();
    for _ in 0..8 {
        h.advance(Duration::from_secs(1));
        h.nothing();
    }
    assert!(h.m.coordinator().is_some());
    h.advance(Duration::from_secs(1));
    assert!(h.m.coordinator().is_none(), "session timeout passed without an answer");
    h.advance(Duration::from_millis(100));
    assert!(matches!(h.transmit(), Some(Transmit::FindCoordinator)));
    assert!(h.events().is_empty(), "partitions are kept until the coordinator says otherwise");
}

#[test]
fn max_poll_interval_leaves_the_group_until_the_application_polls() {
    let mut h = H::new(cfg());
    h.join_follower(&[0, 1]);
    let mut left = false;
    for _ in 0..35 {
        h.advance(Duration::from_secs(1));
        while let Some(t) = h.transmit() {
            match t {
                Transmit::Request { id, request: CoordRequest::Heartbeat(..), .. } => {
                    h.respond(id, hb(ErrorCode::NONE))
                }
                Transmit::Request { request: CoordRequest::LeaveGroup(l, 5), .. } => {
                    assert_eq!(l.members[0].member_id.as_str(), "me");
                    left = true;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(left, "LeaveGroup after max.poll.interval.ms");
    let ev = h.events();
    assert!(matches!(&ev[..], [MemberEvent::Lost(p)] if p.len() == 2), "{ev:?}");
    h.nothing();
    h.m.handle_poll(h.now);
    let (_, req) = h.request();
    assert!(matches!(req, CoordRequest::JoinGroup(..)), "rejoins on the next poll");
}

#[test]
fn waiting_inside_a_poll_is_not_a_poll_timeout() {
    let mut h = H::new(cfg());
    h.join_follower(&[0]);
    h.m.handle_app_waiting(h.now, true);
    for _ in 0..60 {
        h.advance(Duration::from_secs(1));
        while let Some(t) = h.transmit() {
            match t {
                Transmit::Request { id, request: CoordRequest::Heartbeat(..), .. } => {
                    h.respond(id, hb(ErrorCode::NONE))
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(h.events().is_empty());
}

#[test]
fn leave_on_close_dynamic_and_static() {
    let mut h = H::new(cfg());
    h.join_follower(&[0]);
    h.m.leave(h.now);
    let (id, req) = h.request();
    assert!(matches!(req, CoordRequest::LeaveGroup(..)));
    h.respond(id, CoordResponse::LeaveGroup(LeaveGroupResponse::default()));
    assert!(matches!(&h.events()[..], [MemberEvent::Left]));
    assert!(h.m.is_terminated());

    let mut c = cfg();
    c.group_instance_id = Some("host-1".into());
    let mut h = H::new(c);
    h.find(all_versions());
    let (id, req) = h.request();
    let CoordRequest::JoinGroup(j, _) = &req else { panic!() };
    assert_eq!(j.group_instance_id.as_deref(), Some("host-1"));
    // Static members get their id at once (no MEMBER_ID_REQUIRED round).
    h.respond(id, CoordResponse::JoinGroup(join_ok("static-id", "static-id-x", 1)));
    let (id, _) = h.request();
    h.respond(id, CoordResponse::SyncGroup(sync_ok(&[0])));
    h.events();
    h.m.leave(h.now);
    h.nothing();
    assert!(matches!(&h.events()[..], [MemberEvent::Left]), "static members leave silently");
    // Another instance took over.
    let mut c = cfg();
    c.group_instance_id = Some("host-1".into());
    let mut h = H::new(c);
    h.join_follower(&[0]);
    h.advance(Duration::from_secs(1));
    let (id, _) = h.request();
    h.respond(id, hb(ErrorCode::FENCED_INSTANCE_ID));
    let ev = h.events();
    assert!(matches!(&ev[..], [MemberEvent::Failed(GroupError::FencedInstance { .. })]), "{ev:?}");
}

#[test]
fn metadata_change_makes_the_leader_rebalance() {
    let mut h = H::new(cfg());
    h.find(all_versions());
    let (id, _) = h.request();
    let mut r = join_ok("a", "a", 1);
    r.members = vec![JoinGroupMember {
        member_id: "a".into(),
        group_instance_id: None,
        metadata: ConsumerSubscription { topics: vec![T.into()], ..Default::default() }.encode().unwrap(),
    }];
    h.respond(id, CoordResponse::JoinGroup(r));
    assert!(matches!(h.transmit(), Some(Transmit::Metadata(_))));
    h.m.handle_metadata(h.now, Ok(vec![TopicMeta { name: T.into(), id: [1; 16], partitions: 2 }]));
    let (id, _) = h.request();
    h.respond(id, CoordResponse::SyncGroup(sync_ok(&[0, 1])));
    h.events();
    h.m.handle_app_waiting(h.now, true);
    // 5 minutes later (metadata.max.age.ms) the topic has 3 partitions.
    let mut saw_metadata = false;
    for _ in 0..301 {
        h.advance(Duration::from_secs(1));
        while let Some(t) = h.transmit() {
            match t {
                Transmit::Request { id, request: CoordRequest::Heartbeat(..), .. } => {
                    h.respond(id, hb(ErrorCode::NONE))
                }
                Transmit::Metadata(_) => {
                    saw_metadata = true;
                    h.m.handle_metadata(
                        h.now,
                        Ok(vec![TopicMeta { name: T.into(), id: [1; 16], partitions: 3 }]),
                    );
                }
                Transmit::Request { request: CoordRequest::JoinGroup(..), .. } => {
                    assert!(saw_metadata);
                    return;
                }
                other => panic!("{other:?}"),
            }
        }
        if let Some(MemberEvent::Revoke { id, .. }) = h.m.poll_event() {
            h.m.handle_revoked(h.now, id);
        }
    }
    panic!("no rebalance after the partition count changed");
}

#[test]
fn every_request_encodes_at_every_version() {
    fn enc<R: kwire_proto::Request>(r: &R, v: i16) {
        kwire_proto::encode_request(R::KEY, v, 0, None, r).unwrap_or_else(|e| panic!("v{v}: {e}"));
    }
    for static_member in [false, true] {
        for v in 0..=9i16 {
            let mut c = cfg();
            if static_member {
                c.group_instance_id = Some("i".into());
            }
            let versions = GroupApiVersions {
                join_group: Some(v),
                sync_group: Some(v.min(5)),
                heartbeat: Some(v.min(4)),
                leave_group: Some(v.min(5)),
                ..all_versions()
            };
            let mut h = H::new(c);
            h.find(versions);
            if static_member && v < 5 {
                assert!(matches!(&h.events()[..], [MemberEvent::Failed(GroupError::Unsupported(_))]));
                continue;
            }
            let (id, req) = h.request();
            let CoordRequest::JoinGroup(j, jv) = &req else { panic!() };
            enc(j, *jv);
            h.respond(id, CoordResponse::JoinGroup(join_ok("me", "l", 1)));
            let (id, req) = h.request();
            let CoordRequest::SyncGroup(s, sv) = &req else { panic!() };
            enc(s, *sv);
            h.respond(id, CoordResponse::SyncGroup(sync_ok(&[0])));
            h.advance(Duration::from_secs(1));
            let (_, req) = h.request();
            let CoordRequest::Heartbeat(b, bv) = &req else { panic!() };
            enc(b, *bv);
            h.m.leave(h.now);
            if !static_member {
                let (_, req) = h.request();
                let CoordRequest::LeaveGroup(l, lv) = &req else { panic!("{req:?}") };
                enc(l, *lv);
            }
        }
    }
    for v in 0..=1i16 {
        let mut c = cfg();
        c.protocol = GroupProtocol::Consumer;
        c.group_instance_id = Some("i".into());
        let mut h = H::new(c);
        h.find(GroupApiVersions { consumer_group_heartbeat: Some(v), ..all_versions() });
        let (_, req) = h.request();
        let CoordRequest::ConsumerGroupHeartbeat(r, rv) = &req else { panic!() };
        enc(r, *rv);
    }
}

// ---------------------------------------------------------------- KIP-848

fn consumer_cfg() -> GroupConfig {
    let mut c = cfg();
    c.protocol = GroupProtocol::Consumer;
    c
}

fn cgh(epoch: i32, target: Option<&[i32]>) -> CoordResponse {
    CoordResponse::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
        member_id: None,
        member_epoch: epoch,
        heartbeat_interval_ms: 5000,
        assignment: target.map(|ps| {
            vec![TopicIdPartitions { topic_id: [7; 16], topic_name: String::new(), partitions: ps.to_vec() }]
        }),
        ..Default::default()
    })
}

fn cgh_err(code: ErrorCode) -> CoordResponse {
    CoordResponse::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
        error_code: code,
        ..Default::default()
    })
}

fn owned_in(req: &CoordRequest) -> Vec<i32> {
    let CoordRequest::ConsumerGroupHeartbeat(r, _) = req else { panic!("{req:?}") };
    r.topic_partitions
        .as_ref()
        .map(|t| t.iter().flat_map(|x| x.partitions.clone()).collect())
        .unwrap_or_default()
}

#[test]
fn kip848_join_reconcile_revoke_and_fence() {
    let mut h = H::new(consumer_cfg());
    h.find(all_versions());
    let (id, req) = h.request();
    let CoordRequest::ConsumerGroupHeartbeat(r, 1) = &req else { panic!("{req:?}") };
    assert_eq!(r.member_epoch, 0);
    assert_eq!(r.member_id.len(), 22, "v1: the client generates a UUID member id");
    let member_id = r.member_id.to_string();
    assert_eq!(r.subscribed_topic_names.as_ref().unwrap()[0].0.as_str(), T);
    assert_eq!(r.rebalance_timeout_ms, 30_000);
    h.respond(id, cgh(1, Some(&[0, 1, 2])));
    // The topic id must be resolved first.
    let Some(Transmit::Metadata(t)) = h.transmit() else { panic!() };
    assert_eq!(t, vec![T.to_owned()]);
    h.m.handle_metadata(h.now, Ok(vec![TopicMeta { name: T.into(), id: [7; 16], partitions: 3 }]));
    let ev = h.events();
    assert!(matches!(&ev[..], [MemberEvent::Assigned { added, .. }] if added.len() == 3), "{ev:?}");
    assert_eq!(h.m.commit_identity().map(|i| i.generation_or_epoch), Some(1));
    // Acknowledges at once, reporting ownership.
    let (id, req) = h.request();
    assert_eq!(owned_in(&req), vec![0, 1, 2]);
    // The target shrinks: revoke 2 first.
    h.respond(id, cgh(2, Some(&[0, 1])));
    let ev = h.events();
    let [MemberEvent::Revoke { id: rid, partitions }] = &ev[..] else { panic!("{ev:?}") };
    assert_eq!(partitions, &vec![tp(2)]);
    h.m.handle_revoked(h.now, *rid);
    let (id, req) = h.request();
    assert_eq!(owned_in(&req), vec![0, 1]);
    // Fenced: everything lost, rejoin with epoch 0 and the same id.
    h.respond(id, cgh_err(ErrorCode::FENCED_MEMBER_EPOCH));
    let ev = h.events();
    assert!(matches!(&ev[..], [MemberEvent::Lost(p)] if p.len() == 2), "{ev:?}");
    let (_, req) = h.request();
    let CoordRequest::ConsumerGroupHeartbeat(r, _) = &req else { panic!() };
    assert_eq!((r.member_epoch, r.member_id.as_str()), (0, member_id.as_str()));
    assert!(owned_in(&req).is_empty());
}

#[test]
fn kip848_heartbeat_interval_comes_from_the_broker_and_leave_uses_epoch_minus_one() {
    let mut h = H::new(consumer_cfg());
    h.find(all_versions());
    let (id, _) = h.request();
    h.respond(id, cgh(1, None));
    h.advance(Duration::from_millis(4999));
    h.nothing();
    h.advance(Duration::from_millis(1));
    let (id, _) = h.request();
    h.respond(id, cgh(1, None));
    h.m.leave(h.now);
    let (id, req) = h.request();
    let CoordRequest::ConsumerGroupHeartbeat(r, _) = &req else { panic!() };
    assert_eq!(r.member_epoch, -1);
    h.respond(id, cgh(-1, None));
    assert!(matches!(&h.events()[..], [MemberEvent::Left]));
}

#[test]
fn kip848_on_a_broker_without_it_is_a_clear_error() {
    let mut h = H::new(consumer_cfg());
    h.find(GroupApiVersions { consumer_group_heartbeat: None, ..all_versions() });
    let ev = h.events();
    let [MemberEvent::Failed(e)] = &ev[..] else { panic!("{ev:?}") };
    assert!(e.to_string().contains("group.protocol=consumer"), "{e}");
    // A broker that has the API but not the feature answers UNSUPPORTED_VERSION.
    let mut h = H::new(consumer_cfg());
    h.find(all_versions());
    let (id, _) = h.request();
    h.respond(id, cgh_err(ErrorCode::UNSUPPORTED_VERSION));
    let ev = h.events();
    assert!(matches!(&ev[..], [MemberEvent::Failed(GroupError::Unsupported(_))]), "{ev:?}");
}

#[test]
fn commit_errors_reach_the_membership() {
    // ILLEGAL_GENERATION on a commit: this member is out; partitions lost, rejoin fresh.
    let mut h = H::new(cfg());
    h.join_follower(&[0, 1]);
    h.m.handle_commit_error(h.now, ErrorCode::ILLEGAL_GENERATION);
    let ev = h.events();
    assert!(matches!(&ev[..], [MemberEvent::Lost(p)] if p.len() == 2), "{ev:?}");
    assert!(matches!(h.request().1, CoordRequest::JoinGroup(..)));
    // REBALANCE_IN_PROGRESS: a rebalance, with the usual eager revocation first.
    let mut h = H::new(cfg());
    h.join_follower(&[0]);
    h.m.handle_commit_error(h.now, ErrorCode::REBALANCE_IN_PROGRESS);
    assert!(matches!(&h.events()[..], [MemberEvent::Revoke { .. }]));
    // NOT_COORDINATOR: rediscover, keep the partitions.
    let mut h = H::new(cfg());
    h.join_follower(&[0]);
    h.m.handle_commit_error(h.now, ErrorCode::NOT_COORDINATOR);
    assert!(h.m.coordinator().is_none());
    assert!(h.events().is_empty());
    // FENCED_INSTANCE_ID: fatal.
    let mut h = H::new(cfg());
    h.join_follower(&[0]);
    h.m.handle_commit_error(h.now, ErrorCode::FENCED_INSTANCE_ID);
    assert!(matches!(&h.events()[..], [MemberEvent::Failed(GroupError::FencedInstance { .. })]));
}

#[test]
fn kip848_errors_follow_kafka() {
    // UNKNOWN_MEMBER_ID: fenced like FENCED_MEMBER_EPOCH.
    let mut h = H::new(consumer_cfg());
    h.find(all_versions());
    let (id, _) = h.request();
    h.respond(id, cgh(3, None));
    h.advance(Duration::from_secs(5));
    let (id, _) = h.request();
    h.respond(id, cgh_err(ErrorCode::UNKNOWN_MEMBER_ID));
    let (_, req) = h.request();
    let CoordRequest::ConsumerGroupHeartbeat(r, _) = &req else { panic!() };
    assert_eq!(r.member_epoch, 0, "rejoins with epoch 0");
    // COORDINATOR_LOAD_IN_PROGRESS: back off, same coordinator.
    let mut h = H::new(consumer_cfg());
    h.find(all_versions());
    let (id, _) = h.request();
    h.respond(id, cgh_err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
    h.nothing();
    h.advance(Duration::from_millis(200));
    assert!(matches!(h.request().1, CoordRequest::ConsumerGroupHeartbeat(..)));
    assert!(h.m.coordinator().is_some());
    // UNRELEASED_INSTANCE_ID / GROUP_MAX_SIZE_REACHED: fatal.
    for code in [ErrorCode::UNRELEASED_INSTANCE_ID, ErrorCode(81)] {
        let mut h = H::new(consumer_cfg());
        h.find(all_versions());
        let (id, _) = h.request();
        h.respond(id, cgh_err(code));
        assert!(matches!(&h.events()[..], [MemberEvent::Failed(_)]), "{code}");
    }
}

#[test]
fn kip848_max_poll_interval_leaves_with_epoch_minus_one() {
    let mut h = H::new(consumer_cfg());
    h.find(all_versions());
    let (id, _) = h.request();
    h.respond(id, cgh(1, Some(&[0])));
    assert!(matches!(h.transmit(), Some(Transmit::Metadata(_))));
    h.m.handle_metadata(h.now, Ok(vec![TopicMeta { name: T.into(), id: [7; 16], partitions: 1 }]));
    h.events();
    let mut left = false;
    for _ in 0..31 {
        h.advance(Duration::from_secs(1));
        while let Some(t) = h.transmit() {
            let Transmit::Request { id, request: CoordRequest::ConsumerGroupHeartbeat(r, _), .. } = t else {
                panic!("{t:?}")
            };
            if r.member_epoch == -1 {
                left = true;
            } else {
                h.respond(id, cgh(1, None));
            }
        }
    }
    assert!(left);
    assert!(matches!(&h.events()[..], [MemberEvent::Lost(p)] if p.len() == 1));
    h.m.handle_poll(h.now);
    let (_, req) = h.request();
    let CoordRequest::ConsumerGroupHeartbeat(r, _) = &req else { panic!() };
    assert_eq!(r.member_epoch, 0);
}
