//! Shared helpers for the integration suite, which runs against a real Apache
//! Kafka broker started by `scripts/kafka.sh` (see `scripts/test.sh`).
//!
//! - `KWIRE_TEST_BOOTSTRAP`: single-node broker (default `127.0.0.1:9092`).
//! - `KWIRE_TEST_BOOTSTRAP_3`: 3-node cluster (default `127.0.0.1:19092`).
//! - `KWIRE_TEST_CLUSTER3_NAME`: `scripts/kafka.sh --name` of that cluster, for
//!   fault tests that kill and restart nodes (default `trio`).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Bootstrap address of the single-node broker.
pub fn bootstrap() -> String {
    std::env::var("KWIRE_TEST_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

/// Bootstrap address of the 3-node cluster.
pub fn bootstrap3() -> String {
    std::env::var("KWIRE_TEST_BOOTSTRAP_3").unwrap_or_else(|_| "127.0.0.1:19092".to_owned())
}

/// A topic name unique to this test run.
pub fn unique_topic(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{}-{:x}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), nanos)
}

/// Path of the repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// Path of the `kwire` binary built alongside this test executable.
pub fn kwire_bin() -> PathBuf {
    if let Ok(p) = std::env::var("KWIRE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/integration-<hash> -> target/<profile>/kwire
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("kwire");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build -p kwire-cli), or set KWIRE_BIN",
        bin.display()
    );
    bin
}

/// Result of running the kwire binary.
#[derive(Debug)]
pub struct Run {
    /// Exit code (None if killed by a signal).
    pub code: Option<i32>,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Run {
    /// Panics with the full output unless the run succeeded.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "kwire failed: {self:#?}");
        self
    }

    /// Panics unless the run failed with a one-line error on stderr; returns that line.
    pub fn one_line_error(&self) -> String {
        assert_ne!(self.code, Some(0), "expected failure: {self:#?}");
        assert!(self.code.is_some(), "killed by a signal: {self:#?}");
        let lines: Vec<&str> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "expected one stderr line: {self:#?}");
        assert!(!self.stderr.contains("panicked"), "panic: {self:#?}");
        assert!(!self.stderr.contains("RUST_BACKTRACE"), "backtrace hint: {self:#?}");
        lines[0].to_owned()
    }

    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Runs `kwire` with `args` against `bootstrap` (stdin empty).
pub fn kwire(bootstrap: &str, args: &[&str]) -> Run {
    kwire_stdin(bootstrap, args, None)
}

/// Runs `kwire` with `args`, feeding `stdin`.
pub fn kwire_stdin(bootstrap: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(kwire_bin());
    cmd.env_remove("KWIRE_BOOTSTRAP_SERVERS")
        .env_remove("KWIRE_LOG")
        .arg("-b")
        .arg(bootstrap)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn kwire");
    if let Some(data) = stdin {
        use std::io::Write;
        let mut si = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = si.write_all(&data);
        });
    }
    let out: Output = child.wait_with_output().expect("wait kwire");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// Runs `scripts/kafka.sh` with `args` (for fault tests), panicking on failure.
pub fn kafka_sh(args: &[&str]) -> String {
    let out =
        Command::new(repo_root().join("scripts/kafka.sh")).args(args).output().expect("run scripts/kafka.sh");
    assert!(
        out.status.success(),
        "scripts/kafka.sh {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Name of the 3-node cluster instance for `scripts/kafka.sh --name`.
pub fn cluster3_name() -> String {
    std::env::var("KWIRE_TEST_CLUSTER3_NAME").unwrap_or_else(|_| "trio".to_owned())
}

static TRIO: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Shared use of the 3-node cluster: many tests at once, but never while a
/// fault test is killing nodes.
pub fn trio_shared() -> std::sync::RwLockReadGuard<'static, ()> {
    TRIO.read().unwrap_or_else(|p| p.into_inner())
}

/// Exclusive use of the 3-node cluster, for tests that kill and restart nodes.
pub fn trio_exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    TRIO.write().unwrap_or_else(|p| p.into_inner())
}

/// Polls `f` every 200 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Topic names from `kwire topics list`.
pub fn list_topics(bootstrap: &str) -> Vec<String> {
    kwire(bootstrap, &["topics", "list"]).ok().stdout.lines().map(str::to_owned).collect()
}
