//! The CLI's rough edges a newcomer hit (issue 17): warnings for unknown
//! settings whichever flag brought them, clap's suggestions for flag typos,
//! colour only on a terminal, the exit summary on SIGTERM.

use kwire_integration::*;

const UNUSED: &str = "is not used by kwire and was ignored";

fn warned(run: &Run, key: &str) -> bool {
    run.stderr.lines().any(|l| l.contains(&format!("'{key}'")) && l.contains(UNUSED))
}

#[test]
fn unknown_producer_and_consumer_properties_warn_like_x() {
    let b = bootstrap();
    let topic = unique_topic("edges-props");
    kwire(&b, &["topics", "create", &topic, "--partitions", "1"]).ok();

    let run = kwire_stdin(
        &b,
        &["produce", "-t", &topic, "--producer-property", "bogus.producer.key=1", "-X", "bogus.x.key=2"],
        Some(b"a\n"),
    )
    .ok();
    assert!(warned(&run, "bogus.producer.key"), "{run:#?}");
    assert!(warned(&run, "bogus.x.key"), "{run:#?}");

    let run = kwire(
        &b,
        &["consume", "-t", &topic, "--from-beginning", "-e", "--consumer-property", "bogus.consumer.key=1"],
    )
    .ok();
    assert_eq!(run.stdout, "a\n");
    assert!(warned(&run, "bogus.consumer.key"), "{run:#?}");

    // Keys the command reads stay quiet.
    let run = kwire(
        &b,
        &["consume", "-t", &topic, "--from-beginning", "-e", "--consumer-property", "fetch.max.wait.ms=100"],
    )
    .ok();
    assert!(!run.stderr.contains(UNUSED), "{run:#?}");

    let run = kwire(
        &b,
        &["perf", "consume", "--topic", &topic, "--messages", "1", "--consumer-property", "bogus.perf.key=1"],
    );
    assert!(warned(&run, "bogus.perf.key"), "{run:#?}");
}

#[test]
fn flag_typos_get_clap_suggestions_on_one_line() {
    let b = bootstrap();
    let run = kwire(&b, &["consume", "-t", "x", "--partiton", "1"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert_eq!(
        run.one_line_error(),
        "kwire: error: unexpected argument '--partiton' found; did you mean '--partition'? (see --help)"
    );
    let run = kwire(&b, &["consume", "-t", "x", "--from-begining"]);
    assert!(run.one_line_error().contains("did you mean '--from-beginning'?"), "{run:#?}");
    let run = kwire(&b, &["topics", "--creat", "--topic", "x"]);
    assert!(run.one_line_error().contains("did you mean '--create'?"), "{run:#?}");
}

/// An HTTP server on the bootstrap address: every command says it isn't Kafka.
#[test]
fn an_http_endpoint_is_named_as_not_a_kafka_broker() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { break };
            let mut buf = [0u8; 512];
            let _ = sock.read(&mut buf);
            let _ = sock.write_all(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let want = format!(
        "kwire: error: {addr} is not a Kafka broker (the reply starts with \"HTTP/1.1 400 Bad Request\"); \
         is this an HTTP endpoint?"
    );
    for args in [&["topics", "list"][..], &["consume", "-t", "x"], &["cluster"]] {
        let run = kwire(&addr, args);
        assert_eq!(run.one_line_error(), want, "{args:?}");
    }
    let run = kwire_stdin(&addr, &["produce", "-t", "x"], Some(b"a\n"));
    assert!(run.stderr.contains("is not a Kafka broker"), "{run:#?}");
}
