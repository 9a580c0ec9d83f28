//! One pipelined connection to one broker: a handle plus a driver task.
//!
//! The driver task owns the socket. Handles (cheap to clone) send encoded
//! frames through a channel; the driver writes them in order, keeps the
//! in-flight map keyed by correlation id, and answers each caller through a
//! oneshot channel. Many requests are in flight at once. A response whose
//! correlation id is unknown, or whose header can't be read, means the stream
//! is out of sync: every waiter fails and the connection closes. A request
//! that times out is answered with [`ConnError::Timeout`] at once; its entry
//! stays as a tombstone so a late response is recognised and dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kwire_proto::api::{ApiKey, KWIRE_VERSIONS, Versions, kwire_versions};
use kwire_proto::frame::FrameDecoder;
use kwire_proto::kafka_protocol::messages::ApiVersionsRequest;
use kwire_proto::kafka_protocol::protocol::StrBytes;
use kwire_proto::msg::api_versions::ApiVersionsResponse;
use kwire_proto::{ErrorCode, Request, Response, encode_request, peek_correlation_id, split_response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use crate::security::SecurityConfig;
use crate::{ConnError, sasl, tls};

/// Connection settings.
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// `client.id` sent in every request header.
    pub client_id: Option<String>,
    /// Time allowed for TCP connect plus the ApiVersions handshake.
    pub connect_timeout: Duration,
    /// Default time allowed for each request (`request.timeout.ms`).
    pub request_timeout: Duration,
    /// Largest response frame accepted; checked before allocating.
    pub max_frame: usize,
    /// Client software name sent in ApiVersions v3+.
    pub software_name: String,
    /// Client software version sent in ApiVersions v3+.
    pub software_version: String,
    /// TLS and SASL (`security.protocol` and friends); plaintext by default.
    pub security: SecurityConfig,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            client_id: Some("kwire".to_owned()),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_frame: kwire_proto::frame::DEFAULT_MAX_FRAME,
            software_name: "kwire".to_owned(),
            software_version: env!("CARGO_PKG_VERSION").to_owned(),
            security: SecurityConfig::default(),
        }
    }
}

/// Most tombstones (timed-out requests still owed a response) tolerated before
/// the connection is considered dead.
const MAX_TOMBSTONES: usize = 1024;
/// Stop accepting new requests while this much is waiting to be written.
const WRITE_HIGH_WATER: usize = 8 * 1024 * 1024;

type Reply = oneshot::Sender<Result<Bytes, ConnError>>;

struct Cmd {
    frame: BytesMut,
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    timeout: Duration,
    /// `None` for requests the broker never answers (Produce with acks=0).
    reply: Option<Reply>,
    written: Option<oneshot::Sender<Result<Bytes, ConnError>>>,
}

struct InFlight {
    api: ApiKey,
    version: i16,
    deadline: Instant,
    timeout: Duration,
    reply: Option<Reply>,
}

struct Shared {
    addr: String,
    client_id: Option<String>,
    request_timeout: Duration,
    next_id: AtomicI32,
    api_versions: ApiVersionsResponse,
    negotiated: Vec<(ApiKey, Option<i16>)>,
}

/// A handle to a pipelined connection. Clone it freely; the connection closes
/// when the broker hangs up, on a protocol desync, or when every handle is gone.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Cmd>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.shared.addr)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Connection {
    /// Connects over TCP to `addr` (`host:port`), runs the TLS handshake if
    /// `cfg.security` asks for TLS, negotiates API versions, then authenticates
    /// with SASL if configured. All of it within `cfg.connect_timeout`.
    pub async fn connect(addr: &str, cfg: &ConnConfig) -> Result<Connection, ConnError> {
        let span = tracing::debug_span!("connect", broker = %addr);
        let fut = async {
            tracing::debug!(protocol = cfg.security.protocol.name(), "connecting");
            let targets = tokio::net::lookup_host(addr)
                .await
                .map_err(|e| ConnError::Resolve { addr: addr.to_owned(), reason: e.to_string() })?;
            let mut last = None;
            for target in targets {
                match TcpStream::connect(target).await {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        if !cfg.security.protocol.uses_tls() {
                            return Connection::handshake(stream, addr, cfg).await;
                        }
                        // Never fall back to plaintext when TLS was asked for.
                        let tls = cfg.security.tls.as_ref().ok_or_else(|| ConnError::Tls {
                            addr: addr.to_owned(),
                            reason: format!(
                                "security.protocol={} but the configuration has no TLS settings",
                                cfg.security.protocol.name()
                            ),
                        })?;
                        let stream = tls.connect(stream, addr).await?;
                        tracing::trace!("TLS handshake done");
                        return Connection::handshake(stream, addr, cfg).await;
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(ConnError::Connect {
                addr: addr.to_owned(),
                reason: last.map_or_else(|| "address resolved to nothing".to_owned(), |e| e.to_string()),
            })
        };
        match tokio::time::timeout(cfg.connect_timeout, fut.instrument(span)).await {
            Ok(r) => r,
            Err(_) => Err(ConnError::ConnectTimeout { addr: addr.to_owned(), timeout: cfg.connect_timeout }),
        }
    }

    /// Runs the ApiVersions handshake over an established stream (TCP, TLS,
    /// or an in-memory duplex in tests), then SASL authentication when
    /// `cfg.security` has SASL settings, and returns the connection.
    pub async fn handshake<S>(stream: S, addr: &str, cfg: &ConnConfig) -> Result<Connection, ConnError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let raw = Connection::spawn(stream, addr, cfg, ApiVersionsResponse::default(), Vec::new());
        let mut req = ApiVersionsRequest::default();
        req.client_software_name = StrBytes::from_string(cfg.software_name.clone());
        req.client_software_version = StrBytes::from_string(cfg.software_version.clone());
        let ours = kwire_versions(ApiKey::ApiVersions).unwrap_or(Versions::new(0, 0));
        let mut resp = raw.send_version(&req, ours.max).await?;
        if resp.error_code == ErrorCode::UNSUPPORTED_VERSION {
            // The broker listed what it supports in a v0 body; retry once with that.
            let Some(v) = resp.range(ApiKey::ApiVersions).and_then(|b| ours.highest_common(b)) else {
                return Err(ConnError::UnsupportedApi {
                    addr: addr.to_owned(),
                    api: ApiKey::ApiVersions,
                    ours,
                    broker: fmt_range(resp.range(ApiKey::ApiVersions)),
                });
            };
            resp = raw.send_version(&req, v).await?;
        }
        if resp.error_code.is_err() {
            return Err(ConnError::Handshake { addr: addr.to_owned(), code: resp.error_code });
        }
        if cfg.security.protocol.uses_sasl() {
            let Some(sasl_cfg) = cfg.security.sasl.as_ref() else {
                return Err(ConnError::Auth {
                    addr: addr.to_owned(),
                    mechanism: "SASL",
                    reason: format!(
                        "security.protocol={} but the configuration has no SASL settings",
                        cfg.security.protocol.name()
                    ),
                });
            };
            sasl::warn_if_cleartext(sasl_cfg.mechanism, cfg.security.protocol.uses_tls());
            sasl::authenticate(&raw, &resp, addr, sasl_cfg).await?;
        }
        let negotiated = KWIRE_VERSIONS
            .iter()
            .map(|(k, ours)| (*k, resp.range(*k).and_then(|b| ours.highest_common(b))))
            .collect();
        // Re-wrap the same driver with the negotiated table.
        let shared = Arc::new(Shared {
            addr: raw.shared.addr.clone(),
            client_id: raw.shared.client_id.clone(),
            request_timeout: raw.shared.request_timeout,
            next_id: AtomicI32::new(raw.shared.next_id.load(Ordering::Relaxed)),
            api_versions: resp,
            negotiated,
        });
        tracing::debug!(broker = %addr, "connected");
        Ok(Connection { shared, tx: raw.tx })
    }

    /// Wraps a stream without any handshake, allowing every API at the
    /// versions the caller picks (for tests against scripted peers).
    pub fn without_handshake<S>(stream: S, addr: &str, cfg: &ConnConfig) -> Connection
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Connection::spawn(stream, addr, cfg, ApiVersionsResponse::default(), Vec::new())
    }

    fn spawn<S>(
        stream: S,
        addr: &str,
        cfg: &ConnConfig,
        api_versions: ApiVersionsResponse,
        negotiated: Vec<(ApiKey, Option<i16>)>,
    ) -> Connection
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let driver = Driver {
            addr: addr.to_owned(),
            decoder: FrameDecoder::new(cfg.max_frame),
            inflight: HashMap::new(),
        };
        tokio::spawn(driver.run(stream, rx));
        Connection {
            shared: Arc::new(Shared {
                addr: addr.to_owned(),
                client_id: cfg.client_id.clone(),
                request_timeout: cfg.request_timeout,
                next_id: AtomicI32::new(1),
                api_versions,
                negotiated,
            }),
            tx,
        }
    }

    /// The broker address this connection was made to.
    pub fn addr(&self) -> &str {
        &self.shared.addr
    }

    /// True once the driver has stopped (peer closed, desync, I/O error).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// The broker's ApiVersions answer.
    pub fn api_versions(&self) -> &ApiVersionsResponse {
        &self.shared.api_versions
    }

    /// The version negotiated for each API kwire uses (`None`: no common version).
    pub fn negotiated(&self) -> &[(ApiKey, Option<i16>)] {
        &self.shared.negotiated
    }

    /// The version to use for `key`: the highest both sides support.
    pub fn version(&self, key: ApiKey) -> Result<i16, ConnError> {
        match self.shared.negotiated.iter().find(|(k, _)| *k == key) {
            Some((_, Some(v))) => Ok(*v),
            _ => Err(ConnError::UnsupportedApi {
                addr: self.shared.addr.clone(),
                api: key,
                ours: kwire_versions(key).unwrap_or(Versions::new(0, -1)),
                broker: fmt_range(self.shared.api_versions.range(key)),
            }),
        }
    }

    /// Whether the broker supports `key` at `version` or above (and kwire does too).
    pub fn supports(&self, key: ApiKey, min_version: i16) -> bool {
        self.version(key).is_ok_and(|v| v >= min_version)
    }

    /// Sends `req` at the negotiated version and decodes the response.
    pub async fn send<R: Request>(&self, req: &R) -> Result<R::Response, ConnError> {
        let v = self.version(R::KEY)?;
        self.send_version(req, v).await
    }

    /// Sends `req` at an explicit `version`.
    pub async fn send_version<R: Request>(&self, req: &R, version: i16) -> Result<R::Response, ConnError> {
        self.send_with(req, version, self.shared.request_timeout).await
    }

    /// Sends `req` at `version` with a per-request timeout (e.g. a Fetch whose
    /// `max_wait_ms` is long).
    pub async fn send_with<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, ConnError> {
        let body = self.roundtrip(req, R::KEY, version, timeout, true).await?;
        R::Response::decode(body, version).map_err(|cause| ConnError::Decode {
            addr: self.shared.addr.clone(),
            api: R::KEY,
            version,
            cause,
        })
    }

    /// Sends a request the broker will not answer (Produce with `acks=0`).
    /// Completes once the frame is queued for the socket.
    pub async fn send_oneway<R: Request>(&self, req: &R, version: i16) -> Result<(), ConnError> {
        self.roundtrip(req, R::KEY, version, self.shared.request_timeout, false).await.map(|_| ())
    }

    /// Encodes and sends `req`; returns the raw response body (after the header).
    pub async fn roundtrip<E: kwire_proto::kafka_protocol::protocol::Encodable>(
        &self,
        req: &E,
        api: ApiKey,
        version: i16,
        timeout: Duration,
        expect_response: bool,
    ) -> Result<Bytes, ConnError> {
        self.enqueue_raw(req, api, version, timeout, expect_response)?.body().await
    }

    /// Encodes `req` and queues it for the socket *now*, before returning:
    /// requests queued one after another go out in that order (what an
    /// idempotent producer needs), while their responses are awaited apart.
    pub fn enqueue<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<PendingResponse<R>, ConnError> {
        let pending = self.enqueue_raw(req, R::KEY, version, timeout, true)?;
        Ok(PendingResponse { pending, _req: std::marker::PhantomData })
    }

    /// Like [`enqueue`](Self::enqueue) for requests the broker does not answer
    /// (Produce with `acks=0`); the frame is queued when this returns.
    pub fn enqueue_oneway<R: Request>(&self, req: &R, version: i16) -> Result<(), ConnError> {
        self.enqueue_raw(req, R::KEY, version, self.shared.request_timeout, false).map(|_| ())
    }

    fn enqueue_raw<E: kwire_proto::kafka_protocol::protocol::Encodable>(
        &self,
        req: &E,
        api: ApiKey,
        version: i16,
        timeout: Duration,
        expect_response: bool,
    ) -> Result<Pending, ConnError> {
        let correlation_id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode_request(api, version, correlation_id, self.shared.client_id.as_deref(), req)?;
        let (tx, rx) = oneshot::channel();
        let (reply, written) = if expect_response { (Some(tx), None) } else { (None, Some(tx)) };
        let cmd = Cmd { frame, correlation_id, api, version, timeout, reply, written };
        if self.tx.send(cmd).is_err() {
            return Err(ConnError::NotConnected { addr: self.shared.addr.clone() });
        }
        tracing::trace!(api = ?api, version, correlation_id, broker = %self.shared.addr, "request queued");
        Ok(Pending {
            rx,
            addr: self.shared.addr.clone(),
            span: tracing::debug_span!(
                "request",
                api = ?api,
                version,
                correlation_id,
                broker = %self.shared.addr
            ),
        })
    }
}

/// A queued request's raw response.
#[derive(Debug)]
pub struct Pending {
    rx: oneshot::Receiver<Result<Bytes, ConnError>>,
    addr: String,
    span: tracing::Span,
}

impl Pending {
    /// Waits for the response body (after the response header).
    pub async fn body(self) -> Result<Bytes, ConnError> {
        let addr = self.addr;
        async move {
            let result = match self.rx.await {
                Ok(r) => r,
                Err(_) => Err(ConnError::Closed { addr, detail: "" }),
            };
            match &result {
                Ok(body) => tracing::trace!(bytes = body.len(), "response"),
                Err(e) => tracing::debug!(error = %e, "request failed"),
            }
            result
        }
        .instrument(self.span)
        .await
    }
}

/// A queued request's typed response.
#[derive(Debug)]
pub struct PendingResponse<R: Request> {
    pending: Pending,
    _req: std::marker::PhantomData<fn() -> R>,
}

impl<R: Request> PendingResponse<R> {
    /// Waits for and decodes the response.
    pub async fn wait(self, version: i16) -> Result<R::Response, ConnError> {
        let addr = self.pending.addr.clone();
        let body = self.pending.body().await?;
        R::Response::decode(body, version).map_err(|cause| ConnError::Decode {
            addr,
            api: R::KEY,
            version,
            cause,
        })
    }
}

fn fmt_range(r: Option<Versions>) -> String {
    match r {
        Some(v) => format!("v{}-v{}", v.min, v.max),
        None => "none".to_owned(),
    }
}

struct Driver {
    addr: String,
    decoder: FrameDecoder,
    inflight: HashMap<i32, InFlight>,
}

impl Driver {
    async fn run<S>(mut self, stream: S, mut rx: mpsc::UnboundedReceiver<Cmd>)
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut rbuf = BytesMut::with_capacity(64 * 1024);
        let mut wbuf = BytesMut::new();
        let mut handles_gone = false;
        let err = loop {
            if handles_gone && self.inflight.values().all(|p| p.reply.is_none()) && wbuf.is_empty() {
                // Nobody is left to read a response.
                break None;
            }
            let next_deadline =
                self.inflight.values().filter(|p| p.reply.is_some()).map(|p| p.deadline).min();
            tokio::select! {
                r = rd.read_buf(&mut rbuf) => match r {
                    Ok(0) => {
                        let detail = if rbuf.is_empty() { "" } else { " in the middle of a response" };
                        break Some(ConnError::Closed { addr: self.addr.clone(), detail });
                    }
                    Ok(_) => {
                        if let Err(e) = self.drain_frames(&mut rbuf) {
                            break Some(e);
                        }
                    }
                    Err(e) => break Some(io_error(&self.addr, &e)),
                },
                cmd = rx.recv(), if !handles_gone && wbuf.len() < WRITE_HIGH_WATER => match cmd {
                    None => handles_gone = true,
                    Some(cmd) => self.accept(cmd, &mut wbuf),
                },
                r = wr.write_buf(&mut wbuf), if !wbuf.is_empty() => match r {
                    Ok(0) => break Some(ConnError::Closed { addr: self.addr.clone(), detail: " while writing" }),
                    Ok(_) => {
                        if wbuf.is_empty() {
                            if let Err(e) = wr.flush().await {
                                break Some(io_error(&self.addr, &e));
                            }
                        }
                    }
                    Err(e) => break Some(io_error(&self.addr, &e)),
                },
                _ = crate::rt::sleep_until(next_deadline), if next_deadline.is_some() => {
                    if let Err(e) = self.expire(Instant::now()) {
                        break Some(e);
                    }
                }
            }
        };
        if let Some(e) = err {
            tracing::debug!(broker = %self.addr, error = %e, "connection closed");
            self.fail_all(&e);
            rx.close();
            // Answer anything that raced into the channel.
            while let Ok(cmd) = rx.try_recv() {
                if let Some(r) = cmd.reply.or(cmd.written) {
                    let _ = r.send(Err(e.clone()));
                }
            }
        }
        let _ = wr.shutdown().await;
    }

    fn accept(&mut self, cmd: Cmd, wbuf: &mut BytesMut) {
        if let Some(reply) = cmd.reply {
            if self.inflight.contains_key(&cmd.correlation_id) {
                let _ = reply.send(Err(ConnError::Desync {
                    addr: self.addr.clone(),
                    detail: format!("correlation id {} still in flight", cmd.correlation_id),
                }));
                return;
            }
            self.inflight.insert(
                cmd.correlation_id,
                InFlight {
                    api: cmd.api,
                    version: cmd.version,
                    deadline: Instant::now() + cmd.timeout,
                    timeout: cmd.timeout,
                    reply: Some(reply),
                },
            );
        }
        wbuf.extend_from_slice(&cmd.frame);
        if let Some(w) = cmd.written {
            let _ = w.send(Ok(Bytes::new()));
        }
    }

    fn drain_frames(&mut self, rbuf: &mut BytesMut) -> Result<(), ConnError> {
        loop {
            let frame = match self.decoder.decode(rbuf) {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(()),
                Err(cause) => {
                    // Text where a size prefix belongs: say what the peer is, not
                    // that "1213486160 bytes" is over the cap.
                    if let Some(start) = crate::frame::not_kafka(rbuf) {
                        return Err(ConnError::NotKafka { addr: self.addr.clone(), start });
                    }
                    return Err(ConnError::Frame { addr: self.addr.clone(), cause });
                }
            };
            let cid = peek_correlation_id(&frame).map_err(|e| ConnError::Desync {
                addr: self.addr.clone(),
                detail: format!("unreadable response header: {e}"),
            })?;
            let Some(p) = self.inflight.remove(&cid) else {
                return Err(ConnError::Desync {
                    addr: self.addr.clone(),
                    detail: format!("response with unknown correlation id {cid}"),
                });
            };
            let (_, body) = split_response(frame, p.api, p.version).map_err(|e| ConnError::Desync {
                addr: self.addr.clone(),
                detail: format!("unreadable {:?} response header: {e}", p.api),
            })?;
            match p.reply {
                Some(reply) => {
                    // The caller may have gone away (cancelled); that's fine.
                    let _ = reply.send(Ok(body));
                }
                None => {
                    tracing::debug!(broker = %self.addr, correlation_id = cid, "dropped late response")
                }
            }
        }
    }

    fn expire(&mut self, now: Instant) -> Result<(), ConnError> {
        let mut tombstones = 0;
        for p in self.inflight.values_mut() {
            if p.reply.is_some() && p.deadline <= now {
                if let Some(reply) = p.reply.take() {
                    let _ = reply.send(Err(ConnError::Timeout {
                        addr: self.addr.clone(),
                        api: p.api,
                        timeout: p.timeout,
                    }));
                }
            }
            if p.reply.is_none() {
                tombstones += 1;
            }
        }
        if tombstones > MAX_TOMBSTONES {
            return Err(ConnError::Desync {
                addr: self.addr.clone(),
                detail: format!("{tombstones} requests never answered"),
            });
        }
        Ok(())
    }

    fn fail_all(&mut self, e: &ConnError) {
        for (_, p) in self.inflight.drain() {
            if let Some(reply) = p.reply {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// A socket error; one raised by TLS (an alert such as "certificate
/// required", a bad record) becomes the fatal [`ConnError::Tls`].
fn io_error(addr: &str, e: &std::io::Error) -> ConnError {
    match tls::tls_error(e) {
        Some(t) => ConnError::Tls { addr: addr.to_owned(), reason: tls::describe_tls_error(t) },
        None => ConnError::Io { addr: addr.to_owned(), reason: e.to_string() },
    }
}
