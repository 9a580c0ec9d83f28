//! `kwire offsets` against Kafka's own `kafka-get-offsets.sh` on the same
//! topics: every `--time` (latest, earliest, max-timestamp, earliest-local,
//! latest-tiered, a timestamp) and every filter form print the same lines.

use kwire_integration::*;

/// Partition p holds 10*(p+1) records with timestamps BASE + i s, except
/// that one record in the middle of partition 1 has the largest timestamp.
const BASE: i64 = 1_700_000_000_000;

fn fill(b: &str, t: &str) {
    kwire(b, &["topics", "create", t, "--partitions", "3"]).ok();
    let mut input = String::new();
    for p in 0..3 {
        for i in 0..10 * (p + 1) {
            let ts = if p == 1 && i == 7 { BASE + 1_000_000 } else { BASE + i64::from(i) * 1000 };
            input.push_str(&format!("{{\"value\":\"{p}-{i}\",\"partition\":{p},\"timestamp\":{ts}}}\n"));
        }
    }
    kwire_stdin(b, &["produce", "-t", t, "--format", "json", "--acks", "all"], Some(input.as_bytes())).ok();
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn offsets_print_what_kafka_get_offsets_prints() {
    let b = bootstrap();
    let t = unique_topic("offsets");
    fill(&b, &t);
    let mid = (BASE + 5_500).to_string();
    let late = (BASE + 100_000_000).to_string();
    for time in ["-1", "-2", "-3", "-4", "-5", mid.as_str()] {
        let ours = kwire(&b, &["offsets", "--topic", &t, "--time", time]).ok().stdout;
        let java =
            java_tool("GetOffsetShell", &["--bootstrap-server", &b, "--topic", &t, "--time", time], b"");
        assert_eq!(sorted_lines(&ours), sorted_lines(&java), "--time {time}");
    }
    // The names mean what the numbers do.
    for (name, number) in [("latest", "-1"), ("earliest", "-2"), ("max-timestamp", "-3")] {
        let by_name = kwire(&b, &["offsets", "--topic", &t, "--time", name]).ok().stdout;
        let by_number = kwire(&b, &["offsets", "--topic", &t, "--time", number]).ok().stdout;
        assert_eq!(by_name, by_number, "{name}");
    }
    // The values themselves, not only agreement.
    let latest = kwire(&b, &["offsets", "--topic", &t]).ok().stdout;
    assert_eq!(sorted_lines(&latest), [format!("{t}:0:10"), format!("{t}:1:20"), format!("{t}:2:30")]);
    let max_ts = kwire(&b, &["offsets", "--topic", &t, "--time", "-3"]).ok().stdout;
    assert!(max_ts.lines().any(|l| l == format!("{t}:1:7")), "{max_ts}");
    let by_time = kwire(&b, &["offsets", "--topic", &t, "--time", &mid]).ok().stdout;
    assert_eq!(sorted_lines(&by_time), [format!("{t}:0:6"), format!("{t}:1:6"), format!("{t}:2:6")]);
    assert!(kwire(&b, &["offsets", "--topic", &t, "--time", &late]).ok().stdout.trim().is_empty());
}

#[test]
fn offsets_filters_match_kafka_get_offsets() {
    let b = bootstrap();
    let (t, u) = (unique_topic("offsets-a"), unique_topic("offsets-b"));
    fill(&b, &t);
    fill(&b, &u);
    let prefix = &t[..t.len() - 3];
    let cases: Vec<Vec<String>> = vec![
        vec!["--topic".into(), t.clone(), "--partitions".into(), "0,2".into()],
        vec!["--topic-partitions".into(), format!("{t}:1-,{u}:-1,{u}:2-3")],
        vec!["--topic".into(), format!("{t}|{u}")],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut ours = vec!["offsets"];
        ours.extend(&args);
        let mut java = vec!["--bootstrap-server", b.as_str()];
        java.extend(&args);
        let got = kwire(&b, &ours).ok().stdout;
        let want = java_tool("GetOffsetShell", &java, b"");
        assert_eq!(sorted_lines(&got), sorted_lines(&want), "{args:?}");
        assert!(!got.trim().is_empty(), "{args:?}");
    }
    // A regex matches whole names only: a prefix of the name matches nothing.
    let run = kwire(&b, &["offsets", "--topic", prefix]);
    assert!(!run.stdout.contains(&t), "{}", run.stdout);
    let run = kwire(&b, &["offsets", "--topic", &format!("{prefix}.*")]).ok();
    assert_eq!(sorted_lines(&run.stdout).len(), 3, "{}", run.stdout);
}

#[test]
fn offsets_errors_are_one_line() {
    let b = bootstrap();
    let cases: [(&[&str], &str); 4] = [
        (&["offsets", "--topic", "no-such-topic-kwire"], "could not match any topic-partitions"),
        (&["offsets", "--time", "yesterday"], "malformed --time"),
        (&["offsets", "--topic", "(", "--time", "-1"], "not a valid regular expression"),
        (&["offsets", "--partitions", "x"], "--partitions"),
    ];
    for (args, want) in cases {
        let run = kwire(&b, args);
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
    }
}
