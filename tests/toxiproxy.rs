//! A client for toxiproxy's HTTP API (scripts/toxiproxy.sh runs the server),
//! and [`Proxied`]: the 3-node cluster's PROXIED listeners behind one proxy
//! per broker (`kafka.sh start --proxied`), with faults the tests switch on
//! and off. Every toxic and cut is undone when its guard drops, also when a
//! test fails.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{cluster3_name, kafka_sh, require_env};

/// toxiproxy's API at one address.
#[derive(Debug, Clone)]
pub struct Toxiproxy {
    api: String,
}

impl Toxiproxy {
    /// The server `KWIRE_TEST_TOXIPROXY` names (scripts/test.sh starts it).
    pub fn from_env() -> Toxiproxy {
        let api = require_env(
            "KWIRE_TEST_TOXIPROXY",
            "the toxiproxy API address (HOST:PORT)",
            "run scripts/test.sh, which starts it (scripts/toxiproxy.sh start --port P)",
        );
        Toxiproxy { api }
    }

    /// One HTTP/1.1 request; returns the status and the body.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        let mut s =
            TcpStream::connect(&self.api).unwrap_or_else(|e| panic!("toxiproxy at {}: {e}", self.api));
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let body = body.map(Value::to_string).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.api,
            body.len()
        );
        s.write_all(req.as_bytes()).expect("write to toxiproxy");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read from toxiproxy");
        let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    }

    fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> String {
        let (status, text) = self.call(method, path, body);
        assert!((200..300).contains(&status), "toxiproxy {method} {path}: {status} {text}");
        text
    }

    /// Enables every proxy and removes every toxic.
    pub fn reset(&self) {
        self.ok("POST", "/reset", None);
    }

    /// Creates proxy `name` (listen -> upstream), replacing one of that name
    /// or on that address (scripts/soak.sh's, say).
    pub fn create_proxy(&self, name: &str, listen: &str, upstream: &str) {
        let existing: Value = serde_json::from_str(&self.ok("GET", "/proxies", None)).unwrap_or(Value::Null);
        if let Some(all) = existing.as_object() {
            for (other, p) in all {
                if other == name || p["listen"].as_str() == Some(listen) {
                    let _ = self.call("DELETE", &format!("/proxies/{other}"), None);
                }
            }
        }
        self.ok(
            "POST",
            "/proxies",
            Some(&json!({"name": name, "listen": listen, "upstream": upstream, "enabled": true})),
        );
    }

    /// Enables or disables (closing its connections, refusing new ones) a proxy.
    pub fn set_enabled(&self, name: &str, enabled: bool) {
        self.ok("POST", &format!("/proxies/{name}"), Some(&json!({ "enabled": enabled })));
    }

    /// Adds a toxic to a proxy.
    pub fn add_toxic(&self, proxy: &str, toxic: &Toxic, name: &str) {
        let body = json!({"name": name, "type": toxic.kind(), "stream": toxic.stream(), "toxicity": 1.0,
                          "attributes": toxic.attributes()});
        self.ok("POST", &format!("/proxies/{proxy}/toxics"), Some(&body));
    }

    /// Removes a toxic.
    pub fn remove_toxic(&self, proxy: &str, name: &str) {
        self.ok("DELETE", &format!("/proxies/{proxy}/toxics/{name}"), None);
    }
}

/// A fault on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Toxic {
    /// Every response delayed by `ms` ± `jitter` ms.
    Latency { ms: u64, jitter: u64 },
    /// Responses limited to `kb_per_s` KB/s.
    Bandwidth { kb_per_s: u64 },
    /// Requests reach the broker, responses never come back, the connection
    /// stays open (no FIN, no RST): a black hole.
    BlackHole,
    /// Connections reset (RST) as soon as data flows.
    Reset,
    /// The connection closes after `bytes` of response (cut mid-response).
    CutAfter { bytes: u64 },
    /// Closing is delayed by `ms`.
    SlowClose { ms: u64 },
}

impl Toxic {
    fn kind(&self) -> &'static str {
        match self {
            Toxic::Latency { .. } => "latency",
            Toxic::Bandwidth { .. } => "bandwidth",
            Toxic::BlackHole => "timeout",
            Toxic::Reset => "reset_peer",
            Toxic::CutAfter { .. } => "limit_data",
            Toxic::SlowClose { .. } => "slow_close",
        }
    }

    fn stream(&self) -> &'static str {
        "downstream"
    }

    fn attributes(&self) -> Value {
        match *self {
            Toxic::Latency { ms, jitter } => json!({"latency": ms, "jitter": jitter}),
            Toxic::Bandwidth { kb_per_s } => json!({ "rate": kb_per_s }),
            Toxic::BlackHole => json!({"timeout": 0}),
            Toxic::Reset => json!({"timeout": 0}),
            Toxic::CutAfter { bytes } => json!({ "bytes": bytes }),
            Toxic::SlowClose { ms } => json!({ "delay": ms }),
        }
    }
}

/// The 3-node cluster seen through one proxy per broker.
#[derive(Debug)]
pub struct Proxied {
    tp: Toxiproxy,
    /// (broker id, proxy name).
    brokers: Vec<(i32, String)>,
    bootstrap: String,
}

impl Proxied {
    /// Sets up (or resets) a proxy for each broker of the 3-node cluster
    /// (started with `kafka.sh start --proxied`), with no faults.
    pub fn setup() -> Proxied {
        let tp = Toxiproxy::from_env();
        let env = kafka_sh(&["env", "--name", &cluster3_name()]);
        let get = |k: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("KWIRE_KAFKA_{k}=")))
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    panic!("no KWIRE_KAFKA_{k}: start the 3-node cluster with --proxied:\n{env}")
                })
        };
        let bootstrap = get("PROXIED_BOOTSTRAP");
        let mut brokers = Vec::new();
        for (i, route) in get("PROXIED_ROUTES").split(',').enumerate() {
            let (listen, upstream) = route.split_once('=').expect("ROUTES are advertised=real");
            let id = i as i32 + 1;
            let name = format!("kwire-broker-{id}");
            tp.create_proxy(&name, &format!("127.0.0.1:{listen}"), &format!("127.0.0.1:{upstream}"));
            brokers.push((id, name));
        }
        tp.reset();
        Proxied { tp, brokers, bootstrap }
    }

    /// Bootstrap addresses through the proxies.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The proxied address of broker `id`, as kwire names it in errors.
    pub fn addr(&self, id: i32) -> String {
        let i = usize::try_from(id - 1).expect("broker ids start at 1");
        self.bootstrap.split(',').nth(i).expect("broker").to_owned()
    }

    fn proxies(&self, broker: Option<i32>) -> Vec<String> {
        self.brokers
            .iter()
            .filter(|(id, _)| broker.is_none_or(|b| b == *id))
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// Applies `toxic` to `broker` (None: every broker) until the guard drops.
    pub fn toxic(&self, broker: Option<i32>, toxic: Toxic) -> ToxicGuard<'_> {
        let name = format!("t{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let proxies = self.proxies(broker);
        for p in &proxies {
            self.tp.add_toxic(p, &toxic, &name);
        }
        ToxicGuard { tp: &self.tp, proxies, name, removed: false }
    }

    /// Cuts `broker` off (connections closed, new ones refused) until the guard drops.
    pub fn cut(&self, broker: i32) -> CutGuard<'_> {
        let proxy = self.proxies(Some(broker)).remove(0);
        self.tp.set_enabled(&proxy, false);
        CutGuard { tp: &self.tp, proxy, healed: false }
    }
}

impl Drop for Proxied {
    fn drop(&mut self) {
        let _ = self.tp.call("POST", "/reset", None);
    }
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A toxic in place; [`ToxicGuard::heal`] or dropping removes it.
pub struct ToxicGuard<'a> {
    tp: &'a Toxiproxy,
    proxies: Vec<String>,
    name: String,
    removed: bool,
}

impl ToxicGuard<'_> {
    /// Removes the toxic now.
    pub fn heal(mut self) {
        self.remove();
    }

    fn remove(&mut self) {
        if !std::mem::replace(&mut self.removed, true) {
            for p in &self.proxies {
                let _ = self.tp.call("DELETE", &format!("/proxies/{p}/toxics/{}", self.name), None);
            }
        }
    }
}

impl Drop for ToxicGuard<'_> {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A broker cut off; [`CutGuard::heal`] or dropping reconnects it.
pub struct CutGuard<'a> {
    tp: &'a Toxiproxy,
    proxy: String,
    healed: bool,
}

impl CutGuard<'_> {
    /// Reconnects the broker now.
    pub fn heal(mut self) {
        self.healed = true;
        self.tp.set_enabled(&self.proxy, true);
    }
}

impl Drop for CutGuard<'_> {
    fn drop(&mut self) {
        if !self.healed {
            let _ =
                self.tp.call("POST", &format!("/proxies/{}", self.proxy), Some(&json!({"enabled": true})));
        }
    }
}
