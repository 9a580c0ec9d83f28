//! `kwire offsets` against Kafka's own `kafka-get-offsets.sh` on the same
//! topics: every `--time` (latest, earliest, max-timestamp, earliest-local,
//! latest-tiered, a timestamp) and every filter form print the same lines.

use kwire_integration::*;

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
