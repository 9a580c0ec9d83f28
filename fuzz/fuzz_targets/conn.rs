//! The connection driver (`kwire_conn::Connection`) against a peer that
//! writes arbitrary bytes: framing, correlation-id matching, response header
//! splitting, desync detection, close in the middle of a frame, pipelined
//! requests answered in any order.
//!
//! Input: control byte (low 2 bits + 1 = requests in flight; bit 2: small
//! 64 KiB frame cap instead of the default 100 MiB; bits 3-5: peer write
//! chunk size 1 << n), then the bytes the peer sends before it closes. kwire
//! sends Metadata v12 requests with correlation ids 1, 2, ...
//!
//! Invariants: every request ends (answer, decode error, desync, or closed);
//! no panic; heap within budget of the input (a frame's size prefix alone
//! must not make the driver allocate up to the frame cap).
#![no_main]

use std::time::Duration;

use kwire_conn::{ConnConfig, Connection};
use kwire_fuzz::check_budget;
use kwire_proto::kafka_protocol::messages::MetadataRequest;
use libfuzzer_sys::fuzz_target;
use tokio::io::AsyncWriteExt;

/// A fresh runtime per input: dropping it at the end cancels the connection's
/// driver task, so no state (or memory) carries over between inputs.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("tokio runtime")
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, peer_bytes)) = data.split_first() else { return };
    let in_flight = usize::from(ctl & 3) + 1;
    let cfg = ConnConfig {
        request_timeout: Duration::from_secs(60),
        max_frame: if ctl & 4 != 0 { 64 << 10 } else { ConnConfig::default().max_frame },
        ..ConnConfig::default()
    };
    let chunk = 1usize << ((ctl >> 3) & 7);
    let rt = runtime();
    check_budget("conn", data.len(), 256 << 10, move || {
        rt.block_on(async {
            let (client, mut peer) = tokio::io::duplex(1 << 16);
            let conn = Connection::without_handshake(client, "fuzz:9092", &cfg);
            let req = MetadataRequest::default().with_topics(Some(vec![]));
            let mut pending = Vec::new();
            for _ in 0..in_flight {
                pending.push(conn.enqueue(&req, 12, cfg.request_timeout).expect("enqueue"));
            }
            let peer_task = async move {
                for c in peer_bytes.chunks(chunk) {
                    if peer.write_all(c).await.is_err() {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                drop(peer);
            };
            let waits = async {
                let mut results = Vec::new();
                for p in pending {
                    results.push(p.wait(12).await);
                }
                results
            };
            let (_, results) = tokio::join!(peer_task, waits);
            assert_eq!(results.len(), in_flight);
            drop(conn);
        });
        drop(rt);
    });
});
