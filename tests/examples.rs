//! The library examples (`crates/kwire/examples/`) run against the test
//! broker and do what they say. `cargo test` builds them before the tests run.

use std::path::PathBuf;
use std::process::Command;

use kwire_integration::*;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/integration-<hash> -> target/<profile>/examples/<name>
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("examples").join(name);
    assert!(bin.exists(), "{} not found: build it first (cargo build -p kwire --examples)", bin.display());
    bin
}

#[test]
fn the_produce_example_writes_every_record_it_reports() {
    let b = bootstrap();
    let t = unique_topic("example-produce");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    let out = Command::new(example("produce")).args([&b, &t, "500"]).output().expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("first record: partition"), "{stdout}");
    assert!(stdout.contains("500 acknowledged, 0 failed"), "{stdout}");
    assert_eq!(read_all_values(&b, &t).len(), 501);
}

#[test]
fn the_consume_example_reads_every_record_to_the_end() {
    let b = bootstrap();
    let t = unique_topic("example-consume");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    let lines: String = (0..300).map(|i| format!("k{i}:v{i}\n")).collect();
    kwire_stdin(&b, &["produce", "-t", &t, "--key-separator", ":"], Some(lines.as_bytes())).ok();
    let out = Command::new(example("consume")).args([&b, &t]).output().expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("300 records read"), "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("partition ")).count(), 3, "{stdout}");
}
