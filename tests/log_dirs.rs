//! `kwire log-dirs --describe` beside Kafka's `kafka-log-dirs.sh`: the same
//! progress lines and the same JSON document (replicas compared as a set:
//! Kafka prints them in its map's order).

use kwire_integration::*;

#[test]
fn log_dirs_errors_are_one_line() {
    let b = bootstrap();
    let run = kwire(&b, &["log-dirs", "--describe", "--broker-list", "4242"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("no broker 4242 in the cluster"), "{}", run.stderr);
    let run = kwire(&b, &["log-dirs"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("--describe"), "{}", run.stderr);
}
