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

/// `-vv` logs on a pipe (or in a file) are plain text: no ANSI colour codes.
#[test]
fn logs_off_a_terminal_have_no_colour_codes() {
    let run = kwire(&bootstrap(), &["-vv", "topics", "list"]).ok();
    assert!(run.stderr.contains("DEBUG"), "expected debug logs: {run:#?}");
    assert!(!run.stderr.contains('\x1b'), "colour codes in logs: {:?}", run.stderr);
}

/// `scripts/demo.sh`: cargo's build progress shows (no `-q`), and its headings
/// carry colour codes only on a terminal (here stdout is a pipe, as when the
/// demo's output is saved to a file).
#[test]
fn demo_script_shows_build_progress_and_plain_headings_off_a_terminal() {
    let script = std::fs::read_to_string(repo_root().join("scripts/demo.sh")).expect("demo.sh");
    let build: Vec<&str> = script.lines().filter(|l| l.trim_start().starts_with("cargo build")).collect();
    assert!(!build.is_empty(), "demo.sh builds kwire");
    for l in &build {
        assert!(!l.split_whitespace().any(|w| w == "-q" || w == "--quiet"), "quiet build: {l}");
    }
    // The heading helpers, as the script defines them, run with stdout on a pipe.
    let start = script.find("if [[ -t 1").expect("colour only on a terminal");
    let end = script[start..].find("\nstep()").map(|i| start + i).expect("step()");
    let end = end + script[end + 1..].find('\n').expect("end of step()") + 1;
    let helpers = &script[start..end];
    for no_color in [None, Some("1")] {
        let mut cmd = std::process::Command::new("bash");
        cmd.arg("-c").arg(format!("{helpers}\nsay kwire cluster\nstep the cluster\n"));
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd.output().expect("bash");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("$ kwire cluster") && text.contains("==> the cluster"));
        assert!(!text.contains('\x1b'), "colour codes off a terminal: {text:?}");
    }
}

/// Starts `kwire consume`, waits for `n` records on stdout, sends `signal`,
/// and returns (exit code, stderr).
fn consume_until_signal(args: &[&str], n: usize, signal: i32) -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    let mut child = std::process::Command::new(kwire_bin())
        .env_remove("KWIRE_BOOTSTRAP_SERVERS")
        .env_remove("KWIRE_LOG")
        .arg("-b")
        .arg(bootstrap())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kwire");
    // Watchdog: a consumer that never prints must not hang the suite.
    let pid = child.id() as i32;
    let (done, watch) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if watch.recv_timeout(std::time::Duration::from_secs(60)).is_err() {
            // SAFETY: kill(2) on the child, not yet waited for (the test sends on `done` after).
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    });
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    for _ in 0..n {
        line.clear();
        assert!(out.read_line(&mut line).expect("read stdout") > 0, "kwire ended before {n} records");
    }
    // SAFETY: kill(2) on the child's pid, which we have not waited for yet.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    let status = child.wait().expect("wait");
    let _ = done.send(());
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
    (status.code(), err)
}

#[test]
fn a_consumer_stopped_with_sigterm_prints_the_summary_like_sigint() {
    let b = bootstrap();
    let topic = unique_topic("edges-sigterm");
    kwire(&b, &["topics", "create", &topic, "--partitions", "1"]).ok();
    kwire_stdin(&b, &["produce", "-t", &topic], Some(b"a\nb\nc\n")).ok();
    for grouped in [false, true] {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // A fresh group each time: a group that committed starts after the records.
            let group = unique_topic("edges-sigterm-group");
            let mut args = vec!["consume", "-t", &topic, "--from-beginning"];
            if grouped {
                args.extend(["-g", &group]);
            }
            let args = &args[..];
            let (code, stderr) = consume_until_signal(args, 3, signal);
            assert_eq!(code, Some(0), "{args:?} signal {signal}: {stderr}");
            assert!(stderr.contains("Processed a total of 3 messages"), "{args:?} signal {signal}: {stderr}");
        }
    }
}

/// `--starting-offsets beginning` names the valid values (Spark's words), not a JSON syntax error.
#[test]
fn stream_offsets_words_name_the_valid_values() {
    let b = bootstrap();
    let run = kwire(&b, &["stream", "-t", "voters", "--starting-offsets", "beginning", "--trigger", "once"]);
    assert_eq!(
        run.one_line_error(),
        "kwire: error: --starting-offsets 'beginning' is not valid: expected earliest, latest or JSON like \
         '{\"voters\":{\"0\":23,\"1\":-2}}' (-2 earliest, -1 latest)"
    );
    let run = kwire(&b, &["stream", "-t", "voters", "--ending-offsets", "end", "--trigger", "once"]);
    assert!(run.one_line_error().contains("expected latest or JSON like"), "{run:#?}");
    // JSON that doesn't parse still says where.
    let run = kwire(&b, &["stream", "-t", "voters", "--starting-offsets", "{\"voters\":{\"0\":x}}"]);
    assert!(run.one_line_error().contains("invalid offsets JSON"), "{run:#?}");
}
