//! Connections to a cluster: bootstrap servers plus, per broker id, one
//! connection per [`ConnPurpose`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Mutex as AsyncMutex;

use crate::{ConnConfig, ConnError, Connection};

type Slot = Arc<AsyncMutex<Option<Connection>>>;

/// What a connection to a broker carries. A broker answers the requests of
/// one connection in order, one at a time, so a request that waits at the
/// broker holds up everything behind it on its connection: a fetch parks
/// for up to `fetch.max.wait.ms` when there is nothing new, an acks=all
/// produce waits for the in-sync replicas. Each gets its own connection, so
/// that a coordinator request (a heartbeat, an EndTxn) never queues behind
/// them. franz-go keeps separate produce, fetch and group connections per
/// broker for the same reason; Kafka's Java clients get there by giving each
/// client, and the consumer's coordinator, its own connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConnPurpose {
    /// Everything else: metadata, coordinators, admin requests.
    #[default]
    General,
    /// Fetch requests (they long-poll).
    Fetch,
    /// The fetch requests of one fetcher, by an id of the caller's: two
    /// fetchers of one client (a group consumer and a restore or standby
    /// reader, say) would otherwise queue behind each other's long polls,
    /// since a broker answers the requests of a connection in order.
    FetchFor(u64),
    /// Produce requests (acks=all waits for replication).
    Produce,
}

/// A pool of broker connections keyed by broker id, created lazily and
/// re-created when closed. Cheap to clone.
#[derive(Clone)]
pub struct BrokerPool {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: ConnConfig,
    bootstrap: Vec<String>,
    addrs: Mutex<HashMap<i32, String>>,
    slots: Mutex<HashMap<(i32, ConnPurpose), Slot>>,
    bootstrap_slot: Slot,
    /// Where [`BrokerPool::any`] starts in its list of addresses: moved on by
    /// [`BrokerPool::pass_over`] past a broker that did not answer.
    any_start: AtomicUsize,
}

impl std::fmt::Debug for BrokerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerPool").field("bootstrap", &self.inner.bootstrap).finish()
    }
}

impl BrokerPool {
    /// A pool that bootstraps from `bootstrap` (`host:port` strings).
    pub fn new(bootstrap: Vec<String>, cfg: ConnConfig) -> Self {
        BrokerPool {
            inner: Arc::new(Inner {
                cfg,
                bootstrap,
                addrs: Mutex::new(HashMap::new()),
                slots: Mutex::new(HashMap::new()),
                bootstrap_slot: Arc::new(AsyncMutex::new(None)),
                any_start: AtomicUsize::new(0),
            }),
        }
    }

    /// The connection settings.
    pub fn config(&self) -> &ConnConfig {
        &self.inner.cfg
    }

    /// The bootstrap servers.
    pub fn bootstrap(&self) -> &[String] {
        &self.inner.bootstrap
    }

    /// Records the addresses of the brokers in the latest metadata.
    pub fn set_brokers(&self, brokers: impl IntoIterator<Item = (i32, String)>) {
        let mut addrs = lock(&self.inner.addrs);
        addrs.clear();
        addrs.extend(brokers);
    }

    /// The address known for `broker_id`.
    pub fn broker_addr(&self, broker_id: i32) -> Option<String> {
        lock(&self.inner.addrs).get(&broker_id).cloned()
    }

    /// Known broker ids.
    pub fn broker_ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = lock(&self.inner.addrs).keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// A live connection to `broker_id`, connecting if needed.
    pub async fn get(&self, broker_id: i32) -> Result<Connection, ConnError> {
        self.get_for(broker_id, ConnPurpose::General).await
    }

    /// A live connection to `broker_id` for `purpose`, connecting if needed.
    pub async fn get_for(&self, broker_id: i32, purpose: ConnPurpose) -> Result<Connection, ConnError> {
        let addr = self.broker_addr(broker_id).ok_or(ConnError::UnknownBroker(broker_id))?;
        let slot = {
            let mut slots = lock(&self.inner.slots);
            slots.entry((broker_id, purpose)).or_default().clone()
        };
        let mut guard = slot.lock().await;
        if let Some(c) = guard.as_ref() {
            if !c.is_closed() && c.addr() == addr {
                return Ok(c.clone());
            }
        }
        let c = Connection::connect(&addr, &self.inner.cfg).await?;
        *guard = Some(c.clone());
        Ok(c)
    }

    /// A live connection to any broker: a known broker first, else each
    /// bootstrap server in turn. The error names every address tried.
    pub async fn any(&self) -> Result<Connection, ConnError> {
        let mut guard = self.inner.bootstrap_slot.lock().await;
        if let Some(c) = guard.as_ref() {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let mut errors = Vec::new();
        for addr in self.any_candidates() {
            match Connection::connect(&addr, &self.inner.cfg).await {
                Ok(c) => {
                    *guard = Some(c.clone());
                    return Ok(c);
                }
                // Wrong credentials (or certificates) are wrong on every
                // broker: stop, don't hammer the cluster.
                Err(e) if e.is_auth() => return Err(e),
                Err(e) => errors.push(e),
            }
        }
        match errors.len() {
            0 => Err(ConnError::NoBootstrap("no bootstrap servers configured".to_owned())),
            1 => Err(errors.remove(0)),
            _ => Err(ConnError::NoBootstrap(
                errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            )),
        }
    }

    /// The addresses [`any`](Self::any) tries, in order: the known brokers by
    /// id, then the bootstrap servers, rotated to start where
    /// [`pass_over`](Self::pass_over) left it.
    pub fn any_candidates(&self) -> Vec<String> {
        let mut v: Vec<(i32, String)> =
            lock(&self.inner.addrs).iter().map(|(k, v)| (*k, v.clone())).collect();
        v.sort();
        let mut all: Vec<String> = v.into_iter().map(|(_, a)| a).collect();
        all.extend(self.inner.bootstrap.iter().cloned());
        if !all.is_empty() {
            let start = self.inner.any_start.load(Ordering::Relaxed) % all.len();
            all.rotate_left(start);
        }
        all
    }

    /// After the broker at `addr` left a request of [`any`](Self::any)'s
    /// connection unanswered (a request timeout: the broker hangs, or the
    /// network to it drops packets): forgets that connection, and the next
    /// `any` starts with the address after `addr`, so it asks another
    /// broker, as Kafka's clients disconnect a node whose request timed out
    /// and pick another one.
    pub async fn pass_over(&self, addr: &str) {
        {
            let mut guard = self.inner.bootstrap_slot.lock().await;
            if guard.as_ref().is_some_and(|c| c.addr() == addr) {
                *guard = None;
            }
        }
        let all = self.any_candidates();
        if let Some(i) = all.iter().position(|a| a == addr) {
            let cur = self.inner.any_start.load(Ordering::Relaxed);
            self.inner.any_start.store(cur.wrapping_add(i + 1), Ordering::Relaxed);
        }
    }

    /// Forgets the connections kept for `purpose` on every broker (their
    /// user is done with them); each closes once its last request is answered.
    pub fn release(&self, purpose: ConnPurpose) {
        lock(&self.inner.slots).retain(|(_, p), _| *p != purpose);
    }

    /// Drops the cached connections of `broker_id` (after an error), so the
    /// next [`get`](Self::get) reconnects.
    pub async fn invalidate(&self, broker_id: i32) {
        let slots: Vec<Slot> = lock(&self.inner.slots)
            .iter()
            .filter(|((b, _), _)| *b == broker_id)
            .map(|(_, s)| s.clone())
            .collect();
        for slot in slots {
            *slot.lock().await = None;
        }
    }
}

use crate::rt::lock;

#[cfg(test)]
mod tests {
    use super::*;

    /// After a broker leaves `any`'s request unanswered, the next `any`
    /// starts with the broker after it (not the same one again).
    #[tokio::test]
    async fn any_moves_past_a_broker_that_did_not_answer() {
        let pool = BrokerPool::new(vec!["b:9".into()], ConnConfig::default());
        pool.set_brokers([(2, "a:2".to_owned()), (1, "a:1".to_owned()), (3, "a:3".to_owned())]);
        assert_eq!(pool.any_candidates(), ["a:1", "a:2", "a:3", "b:9"]);
        pool.pass_over("a:1").await;
        assert_eq!(pool.any_candidates(), ["a:2", "a:3", "b:9", "a:1"]);
        pool.pass_over("a:3").await;
        assert_eq!(pool.any_candidates(), ["b:9", "a:1", "a:2", "a:3"]);
        pool.pass_over("x:0").await;
        assert_eq!(pool.any_candidates()[0], "b:9", "an address it doesn't know changes nothing");
    }
}
