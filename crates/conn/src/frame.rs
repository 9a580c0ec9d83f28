//! Telling a Kafka reply from another protocol's.
//!
//! A Kafka response starts with a 4-byte big-endian size. When that prefix is
//! printable text (`HTTP`, `SSH-`, `220 `), the size it spells is over 500 MB,
//! so the frame decoder rejects it as too large; the bytes themselves say far
//! more: the peer is not a Kafka broker (an HTTP proxy, a web console, another
//! service on the port). [`not_kafka`] turns them into that message.

/// At most this many characters of the peer's reply are quoted.
const QUOTE_MAX: usize = 60;

/// The start of a reply that cannot be a Kafka frame because its first four
/// bytes are printable ASCII text: its first line, quoted (at most
/// [`QUOTE_MAX`] characters, `...` after a cut). `None` for anything else
/// (fewer than four bytes, binary data).
pub(crate) fn not_kafka(buf: &[u8]) -> Option<String> {
    let head = buf.first_chunk::<4>()?;
    if !head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return None;
    }
    let line: String = buf
        .iter()
        .take_while(|b| b.is_ascii_graphic() || **b == b' ' || **b == b'\t')
        .map(|b| *b as char)
        .collect();
    let line = line.trim_end();
    Some(if line.chars().count() > QUOTE_MAX {
        format!("{}...", line.chars().take(QUOTE_MAX).collect::<String>())
    } else {
        line.to_owned()
    })
}

/// The hint after the quote: what the peer probably is.
pub(crate) fn hint(start: &str) -> &'static str {
    if start.starts_with("HTTP/") {
        "; is this an HTTP endpoint?"
    } else if start.starts_with("SSH-") {
        "; is this an SSH server?"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::{ConnConfig, ConnError, Connection};

    #[test]
    fn text_replies_are_quoted_binary_ones_are_not() {
        assert_eq!(
            not_kafka(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").as_deref(),
            Some("HTTP/1.1 400 Bad Request")
        );
        assert_eq!(not_kafka(b"SSH-2.0-OpenSSH_9.6\r\n").as_deref(), Some("SSH-2.0-OpenSSH_9.6"));
        let long = format!("HTTP/1.1 200 {}", "x".repeat(100));
        let quoted = not_kafka(long.as_bytes()).unwrap();
        assert!(quoted.ends_with("...") && quoted.len() == QUOTE_MAX + 3, "{quoted}");
        // Kafka frames, TLS records, short reads: not text.
        assert_eq!(not_kafka(&[0, 0, 0, 12, 0, 0, 0, 1]), None);
        assert_eq!(not_kafka(&[0x15, 0x03, 0x03, 0x00, 0x02]), None);
        assert_eq!(not_kafka(b"HTT"), None);
        assert_eq!(not_kafka(b"HT\x00P"), None);
        assert_eq!(hint("HTTP/1.0 404"), "; is this an HTTP endpoint?");
        assert_eq!(hint("220 smtp ready"), "");
    }

    /// A tiny local server that answers anything with `reply` and closes.
    async fn serve_once(reply: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 512];
            let _ = sock.read(&mut buf).await;
            let _ = sock.write_all(reply).await;
            let _ = sock.shutdown().await;
        });
        addr
    }

    fn cfg() -> ConnConfig {
        ConnConfig { connect_timeout: Duration::from_secs(5), ..ConnConfig::default() }
    }

    #[tokio::test]
    async fn an_http_server_is_reported_as_not_a_kafka_broker() {
        let addr = serve_once(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nbad").await;
        let err = Connection::connect(&addr, &cfg()).await.expect_err("an HTTP server is not Kafka");
        assert!(matches!(err, ConnError::NotKafka { .. }), "{err:?}");
        assert!(err.is_fatal() && !err.is_disconnect(), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "{addr} is not a Kafka broker (the reply starts with \"HTTP/1.1 400 Bad Request\"); \
                 is this an HTTP endpoint?"
            )
        );
    }

    #[tokio::test]
    async fn a_binary_oversized_frame_is_still_a_frame_error() {
        let addr = serve_once(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1]).await;
        let err = Connection::connect(&addr, &cfg()).await.expect_err("oversized frame");
        assert!(matches!(err, ConnError::Frame { .. }), "{err:?}");
        assert!(err.to_string().contains("exceeds the 104857600-byte limit"), "{err}");
    }
}
