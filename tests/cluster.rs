//! `kwire cluster` and the connection layer against real brokers.

use kwire_integration::*;

#[test]
fn single_node_lists_broker_1() {
    let run = kwire(&bootstrap(), &["cluster", "--format", "json"]).ok();
    let doc = run.json();
    let brokers = doc["brokers"].as_array().expect("brokers");
    assert_eq!(brokers.len(), 1, "{doc}");
    assert_eq!(brokers[0]["id"], 1);
    assert!(doc["cluster_id"].as_str().is_some_and(|s| !s.is_empty()), "{doc}");
}

#[test]
fn three_node_cluster_lists_three_brokers() {
    let run = kwire(&bootstrap3(), &["cluster", "--format", "json"]).ok();
    let doc = run.json();
    let mut ids: Vec<i64> =
        doc["brokers"].as_array().expect("brokers").iter().map(|b| b["id"].as_i64().expect("id")).collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2, 3], "{doc}");
}

#[test]
fn text_output_and_api_versions() {
    let run = kwire(&bootstrap(), &["cluster", "--api-versions"]).ok();
    assert!(run.stdout.contains("Cluster id: "), "{}", run.stdout);
    assert!(run.stdout.contains("127.0.0.1"), "{}", run.stdout);
    // Metadata and ApiVersions are negotiated with every broker.
    let metadata_line = run.stdout.lines().find(|l| l.starts_with("Metadata ")).expect("Metadata row");
    let using: i32 =
        metadata_line.split_whitespace().last().and_then(|v| v.parse().ok()).expect("negotiated version");
    assert!((1..=12).contains(&using), "{metadata_line}");
}

#[test]
fn refused_connection_is_one_line_and_fast() {
    let run = kwire("127.0.0.1:1", &["cluster"]);
    let line = run.one_line_error();
    assert!(line.contains("127.0.0.1:1"), "{line}");
    assert!(line.to_lowercase().contains("refused"), "{line}");
    assert!(run.elapsed.as_secs() < 10, "{:?}", run.elapsed);
}

#[test]
fn unanswered_connect_times_out_within_the_setting() {
    // 10.255.255.1 is unroutable here: the SYN goes nowhere, so only the
    // connect timeout ends the attempt.
    let run = kwire("10.255.255.1:9092", &["-X", "socket.connection.setup.timeout.ms=1500", "cluster"]);
    let line = run.one_line_error();
    assert!(line.contains("10.255.255.1:9092"), "{line}");
    assert!(run.elapsed.as_secs_f64() < 5.0, "{:?}", run.elapsed);
}

#[test]
fn bad_bootstrap_and_bad_settings_are_clear() {
    let line = kwire("nohost", &["cluster"]).one_line_error();
    assert!(line.contains("HOST:PORT"), "{line}");
    let line = kwire(&bootstrap(), &["-X", "request.timeout.ms=abc", "cluster"]).one_line_error();
    assert!(line.contains("request.timeout.ms"), "{line}");
    let line = kwire(&bootstrap(), &["-X", "novalue", "cluster"]).one_line_error();
    assert!(line.contains("key=value"), "{line}");
}

#[test]
fn command_config_file_is_read() {
    let dir = std::env::temp_dir().join(unique_topic("kwire-cfg"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("client.properties");
    std::fs::write(&path, "# a Java-style file\nclient.id = kwire-it\nrequest.timeout.ms: 7000\n").unwrap();
    let p = path.to_str().unwrap();
    kwire(&bootstrap(), &["--command-config", p, "cluster"]).ok();
    let line =
        kwire(&bootstrap(), &["--command-config", "/nonexistent/x.properties", "cluster"]).one_line_error();
    assert!(line.contains("/nonexistent/x.properties"), "{line}");
}

/// The library directly: many requests pipelined over one connection.
#[test]
fn pipelined_requests_on_a_real_broker() {
    use kwire_conn::{ConnConfig, Connection};
    use kwire_proto::kafka_protocol::messages::MetadataRequest;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let conn = Connection::connect(&bootstrap(), &ConnConfig::default()).await.unwrap();
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let c = conn.clone();
                tokio::spawn(async move {
                    let req = MetadataRequest::default().with_topics(Some(vec![]));
                    c.send(&req).await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().brokers.len(), 1);
        }
    });
}
