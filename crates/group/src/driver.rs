//! The task that drives [`Membership`]: it owns the coordinator connection,
//! sends what the state machine asks for, feeds back the answers, wakes it
//! on its timeouts (so heartbeats run on their own schedule, whatever the
//! application does), and runs offset commits and fetches for the consumer.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use kwire_conn::{ConnError, Connection};
use kwire_fetch::TopicPartition;
use kwire_meta::Cluster;
use kwire_proto::ErrorCode;
use kwire_proto::msg::group::{OffsetCommitResponse, OffsetFetchResponse};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::member::{
    CoordRequest, CoordResponse, CoordinatorError, CoordinatorInfo, GroupApiVersions, MemberEvent,
    Membership, TopicMeta, Transmit,
};
use crate::offsets::{OffsetVerdict, commit_outcome, commit_request, fetch_outcome, fetch_request};
use crate::{GroupConfig, GroupError, admin};

/// Commands from the consumer handle.
pub(crate) enum Cmd {
    /// The application entered (`waiting: true`) or left a poll.
    Poll { waiting: bool },
    /// The application finished revocation `id`.
    RevokeDone(u64),
    /// Commit these offsets (next offset to read).
    Commit { offsets: BTreeMap<TopicPartition, i64>, reply: oneshot::Sender<Result<(), GroupError>> },
    /// Fetch committed offsets.
    Fetch {
        partitions: Vec<TopicPartition>,
        reply: oneshot::Sender<Result<BTreeMap<TopicPartition, i64>, GroupError>>,
    },
    /// Leave the group; answered once left.
    Leave { reply: oneshot::Sender<()> },
    /// The identity offsets are committed with now (None during a rebalance).
    Identity { reply: oneshot::Sender<Option<crate::member::CommitIdentity>> },
}

enum Out {
    Coordinator(Result<(i32, Connection, GroupApiVersions), CoordinatorError>),
    Response(u64, Result<CoordResponse, String>),
    Metadata(Result<Vec<TopicMeta>, String>),
    Committed(u64, Result<OffsetCommitResponse, ConnError>),
    Fetched(u64, Result<OffsetFetchResponse, ConnError>),
}

enum JobKind {
    Commit {
        offsets: BTreeMap<TopicPartition, i64>,
        reply: oneshot::Sender<Result<(), GroupError>>,
    },
    Fetch {
        partitions: Vec<TopicPartition>,
        reply: oneshot::Sender<Result<BTreeMap<TopicPartition, i64>, GroupError>>,
    },
}

struct Job {
    kind: JobKind,
    deadline: Instant,
    not_before: Instant,
    attempts: u32,
    last: Option<ErrorCode>,
}

impl Job {
    fn fail(self, e: GroupError) {
        match self.kind {
            JobKind::Commit { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            JobKind::Fetch { reply, .. } => {
                let _ = reply.send(Err(e));
            }
        }
    }
}

pub(crate) struct Driver {
    cluster: Cluster,
    cfg: GroupConfig,
    m: Membership,
    conn: Option<Connection>,
    tasks: JoinSet<Out>,
    events: mpsc::UnboundedSender<MemberEvent>,
    queued: VecDeque<Job>,
    running: HashMap<u64, Job>,
    next_job: u64,
    leave_replies: Vec<oneshot::Sender<()>>,
    failure: Option<GroupError>,
}

fn std_now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Driver {
    pub(crate) fn spawn(
        cluster: Cluster,
        cfg: GroupConfig,
        topics: Vec<String>,
    ) -> (mpsc::UnboundedSender<Cmd>, mpsc::UnboundedReceiver<MemberEvent>) {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let m = Membership::new(&cfg, topics, std_now());
        let d = Driver {
            cluster,
            cfg,
            m,
            conn: None,
            tasks: JoinSet::new(),
            events: ev_tx,
            queued: VecDeque::new(),
            running: HashMap::new(),
            next_job: 1,
            leave_replies: Vec::new(),
            failure: None,
        };
        tokio::spawn(d.run(cmd_rx));
        (cmd_tx, ev_rx)
    }

    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
        let mut handles_gone = false;
        let mut give_up_at: Option<Instant> = None;
        loop {
            let now = Instant::now();
            while let Some(t) = self.m.poll_transmit(now.into_std()) {
                self.dispatch(t);
            }
            while let Some(ev) = self.m.poll_event() {
                match ev {
                    MemberEvent::Left => {
                        for r in self.leave_replies.drain(..) {
                            let _ = r.send(());
                        }
                        self.fail_jobs(GroupError::Closed);
                        return;
                    }
                    MemberEvent::Failed(e) => {
                        self.failure = Some(e.clone());
                        self.fail_jobs(e.clone());
                        for r in self.leave_replies.drain(..) {
                            let _ = r.send(());
                        }
                        let _ = self.events.send(MemberEvent::Failed(e));
                    }
                    ev => {
                        let _ = self.events.send(ev);
                    }
                }
            }
            if self.failure.is_some() && handles_gone {
                return;
            }
            self.start_jobs(now);
            if give_up_at.is_some_and(|t| now >= t) {
                return;
            }
            let wake = [
                self.m.poll_timeout().map(Instant::from_std),
                self.queued.iter().map(|j| j.not_before.min(j.deadline)).min(),
                give_up_at,
            ]
            .into_iter()
            .flatten()
            .min();
            tokio::select! {
                cmd = cmds.recv(), if !handles_gone => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => {
                        // Dropped without close(): leave, bounded in time.
                        handles_gone = true;
                        give_up_at = Some(Instant::now() + Duration::from_secs(5));
                        self.m.leave(std_now());
                    }
                },
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Ok(out) = done {
                        self.complete(out);
                    }
                }
                _ = sleep_until(wake), if wake.is_some() => {
                    self.m.handle_timeout(std_now());
                }
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
        let now = std_now();
        match cmd {
            Cmd::Poll { waiting } => {
                if waiting {
                    self.m.handle_poll(now);
                }
                self.m.handle_app_waiting(now, waiting);
            }
            Cmd::RevokeDone(id) => self.m.handle_revoked(now, id),
            Cmd::Commit { offsets, reply } => self.queue(JobKind::Commit { offsets, reply }),
            Cmd::Fetch { partitions, reply } => self.queue(JobKind::Fetch { partitions, reply }),
            Cmd::Identity { reply } => {
                let _ = reply.send(self.m.commit_identity());
            }
            Cmd::Leave { reply } => {
                if self.failure.is_some() || self.m.is_terminated() {
                    let _ = reply.send(());
                } else {
                    self.leave_replies.push(reply);
                    self.m.leave(now);
                }
            }
        }
    }

    fn queue(&mut self, kind: JobKind) {
        let now = Instant::now();
        let job =
            Job { kind, deadline: now + self.cfg.request_timeout, not_before: now, attempts: 0, last: None };
        if let Some(e) = &self.failure {
            job.fail(e.clone());
            return;
        }
        self.queued.push_back(job);
    }

    fn fail_jobs(&mut self, e: GroupError) {
        for j in self.queued.drain(..) {
            j.fail(e.clone());
        }
        for (_, j) in self.running.drain() {
            j.fail(e.clone());
        }
    }

    fn dispatch(&mut self, t: Transmit) {
        match t {
            Transmit::FindCoordinator => {
                let cluster = self.cluster.clone();
                let group = self.cfg.group_id.clone();
                let current = self.conn.clone().filter(|c| !c.is_closed());
                self.tasks.spawn(async move {
                    Out::Coordinator(coordinator_connection(&cluster, &group, current).await)
                });
            }
            Transmit::Metadata(topics) => {
                let cluster = self.cluster.clone();
                self.tasks.spawn(async move {
                    for t in &topics {
                        cluster.invalidate_topic(t);
                    }
                    let r =
                        cluster.fetch_metadata(Some(&topics)).await.map_err(|e| e.to_string()).map(|md| {
                            md.topics
                                .values()
                                .map(|t| TopicMeta {
                                    name: t.name.clone(),
                                    id: t.id,
                                    partitions: i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
                                })
                                .collect()
                        });
                    Out::Metadata(r)
                });
            }
            Transmit::Request { id, request, timeout } => {
                let Some(conn) = self.conn.clone() else {
                    self.m.handle_response(std_now(), id, Err("no coordinator connection".into()));
                    return;
                };
                let timeout = timeout.unwrap_or(self.cluster.config().conn.request_timeout);
                self.tasks.spawn(async move {
                    let r = match request {
                        CoordRequest::JoinGroup(r, v) => {
                            conn.send_with(&r, v, timeout).await.map(CoordResponse::JoinGroup)
                        }
                        CoordRequest::SyncGroup(r, v) => {
                            conn.send_with(&r, v, timeout).await.map(CoordResponse::SyncGroup)
                        }
                        CoordRequest::Heartbeat(r, v) => {
                            conn.send_with(&r, v, timeout).await.map(CoordResponse::Heartbeat)
                        }
                        CoordRequest::LeaveGroup(r, v) => {
                            conn.send_with(&r, v, timeout).await.map(CoordResponse::LeaveGroup)
                        }
                        CoordRequest::ConsumerGroupHeartbeat(r, v) => {
                            conn.send_with(&r, v, timeout).await.map(CoordResponse::ConsumerGroupHeartbeat)
                        }
                    };
                    Out::Response(id, r.map_err(|e| e.to_string()))
                });
            }
        }
    }

    fn complete(&mut self, out: Out) {
        let now = std_now();
        match out {
            Out::Coordinator(r) => {
                let r = r.map(|(node_id, conn, versions)| {
                    self.conn = Some(conn);
                    CoordinatorInfo { node_id, versions }
                });
                self.m.handle_coordinator(now, r);
            }
            Out::Response(id, r) => self.m.handle_response(now, id, r),
            Out::Metadata(r) => self.m.handle_metadata(now, r),
            Out::Committed(id, r) => {
                let Some(job) = self.running.remove(&id) else { return };
                match r {
                    Err(e) => self.retry_job(job, ErrorCode::NOT_COORDINATOR, Some(e)),
                    Ok(resp) => {
                        let (verdict, codes) = commit_outcome(&resp);
                        let group = self.cfg.group_id.clone();
                        let which = || {
                            codes
                                .iter()
                                .find(|(_, c)| c.is_err())
                                .map(|(tp, _)| tp.to_string())
                                .unwrap_or_default()
                        };
                        self.after_offsets(job, verdict, which, move |job| {
                            if let JobKind::Commit { offsets, reply } = job.kind {
                                if tracing::enabled!(tracing::Level::INFO) {
                                    let list: Vec<String> =
                                        offsets.iter().map(|(tp, o)| format!("{tp}={o}")).collect();
                                    tracing::info!(group = %group, "committed offsets {}", list.join(" "));
                                }
                                let _ = reply.send(Ok(()));
                            }
                        });
                    }
                }
            }
            Out::Fetched(id, r) => {
                let Some(job) = self.running.remove(&id) else { return };
                match r {
                    Err(e) => self.retry_job(job, ErrorCode::NOT_COORDINATOR, Some(e)),
                    Ok(resp) => match fetch_outcome(&resp) {
                        Ok(map) => {
                            if let JobKind::Fetch { reply, .. } = job.kind {
                                let _ = reply.send(Ok(map));
                            }
                        }
                        Err(verdict) => self.after_offsets(job, verdict, String::new, |_| {}),
                    },
                }
            }
        }
    }

    fn after_offsets(
        &mut self,
        job: Job,
        verdict: OffsetVerdict,
        which: impl FnOnce() -> String,
        done: impl FnOnce(Job),
    ) {
        let group = self.cfg.group_id.clone();
        match verdict {
            OffsetVerdict::Done => done(job),
            OffsetVerdict::Retry(code) => self.retry_job(job, code, None),
            OffsetVerdict::RefindCoordinator(code) => {
                self.m.handle_commit_error(std_now(), code);
                self.retry_job(job, code, None);
            }
            OffsetVerdict::Membership(code) => {
                self.m.handle_commit_error(std_now(), code);
                let e = match code {
                    ErrorCode::REBALANCE_IN_PROGRESS => GroupError::RebalanceInProgress(group),
                    _ => GroupError::CommitFailed {
                        group,
                        reason: format!(
                            "{code}: this member is no longer part of the group's generation \
                             (a rebalance happened or it was fenced); the partitions may belong to another member now"
                        ),
                    },
                };
                job.fail(e);
            }
            OffsetVerdict::Fatal(code) => {
                let what = match &job.kind {
                    JobKind::Commit { .. } => "commit offsets for",
                    JobKind::Fetch { .. } => "fetch committed offsets of",
                };
                let bad = which();
                let ctx = if bad.is_empty() {
                    format!("{what} group '{group}'")
                } else {
                    format!("{what} group '{group}' ({bad})")
                };
                job.fail(GroupError::broker(ctx, code, None));
            }
        }
    }

    fn retry_job(&mut self, mut job: Job, code: ErrorCode, conn_err: Option<ConnError>) {
        let now = Instant::now();
        if let Some(e) = &conn_err {
            tracing::debug!(group = %self.cfg.group_id, error = %e, "offset request failed; retrying");
            self.m.handle_commit_error(now.into_std(), ErrorCode::NOT_COORDINATOR);
        }
        job.attempts = job.attempts.saturating_add(1);
        job.last = Some(code);
        if now >= job.deadline {
            let e = match conn_err {
                Some(e) => GroupError::from(e),
                None => GroupError::Timeout(format!(
                    "group '{}': offset request kept failing with {code} for {:?}",
                    self.cfg.group_id, self.cfg.request_timeout
                )),
            };
            job.fail(e);
            return;
        }
        job.not_before = now + self.cfg.backoff(job.attempts);
        self.queued.push_back(job);
    }

    /// Starts queued offset requests whose backoff passed, once the coordinator is known.
    fn start_jobs(&mut self, now: Instant) {
        let mut waiting = VecDeque::new();
        while let Some(mut job) = self.queued.pop_front() {
            if now >= job.deadline {
                let e = GroupError::Timeout(format!(
                    "group '{}': no group coordinator within {:?}{}",
                    self.cfg.group_id,
                    self.cfg.request_timeout,
                    job.last.map(|c| format!(" (last error: {c})")).unwrap_or_default()
                ));
                job.fail(e);
                continue;
            }
            let (Some(coord), Some(conn)) = (self.m.coordinator(), self.conn.clone()) else {
                waiting.push_back(job);
                continue;
            };
            if now < job.not_before {
                waiting.push_back(job);
                continue;
            }
            let id = self.next_job;
            self.next_job += 1;
            let fetch_partitions = match &job.kind {
                JobKind::Fetch { partitions, .. } => Some(partitions.clone()),
                JobKind::Commit { .. } => None,
            };
            if let Some(partitions) = fetch_partitions {
                let Some(v) = coord.versions.offset_fetch else {
                    job.fail(GroupError::Unsupported(
                        "the coordinator does not support OffsetFetch v1+".into(),
                    ));
                    continue;
                };
                let req = fetch_request(&self.cfg.group_id, Some(&partitions), v);
                self.tasks.spawn(async move { Out::Fetched(id, conn.send_version(&req, v).await) });
                self.running.insert(id, job);
                continue;
            }
            let Some(identity) = self.m.commit_identity() else {
                job.fail(GroupError::RebalanceInProgress(self.cfg.group_id.clone()));
                continue;
            };
            // Never commit for partitions this member no longer owns (lost ones).
            let owned = self.m.owned();
            if let JobKind::Commit { offsets, .. } = &mut job.kind {
                offsets.retain(|tp, _| owned.contains(tp));
            }
            let offsets = match &job.kind {
                JobKind::Commit { offsets, .. } => offsets.clone(),
                JobKind::Fetch { .. } => BTreeMap::new(),
            };
            if offsets.is_empty() {
                if let JobKind::Commit { reply, .. } = job.kind {
                    let _ = reply.send(Ok(()));
                }
                continue;
            }
            let Some(v) = coord.versions.offset_commit else {
                job.fail(GroupError::Unsupported("the coordinator does not support OffsetCommit v2+".into()));
                continue;
            };
            let req = commit_request(&self.cfg.group_id, Some(&identity), &offsets, v);
            self.tasks.spawn(async move { Out::Committed(id, conn.send_version(&req, v).await) });
            self.running.insert(id, job);
        }
        self.queued = waiting;
    }
}

/// Finds the coordinator and connects to it over a connection of its own
/// (as Kafka's client does), so group requests never queue behind fetches
/// to the same broker, nor fetches behind a JoinGroup held for a whole
/// rebalance. An open connection to the same address is kept.
async fn coordinator_connection(
    cluster: &Cluster,
    group: &str,
    current: Option<Connection>,
) -> Result<(i32, Connection, GroupApiVersions), CoordinatorError> {
    let c = admin::locate_coordinator(cluster, group).await?;
    let conn = match current.filter(|conn| conn.addr() == c.addr) {
        Some(conn) => conn,
        None => Connection::connect(&c.addr, &cluster.config().conn)
            .await
            .map_err(|e| admin::coordinator_unreachable(e.into()))?,
    };
    let versions = admin::group_versions(&conn);
    Ok((c.node_id, conn, versions))
}

use kwire_conn::rt::sleep_until;
