//! Runs the `kwire` binary and measures its peak RSS two ways:
//!
//! - `VmHWM` from `/proc/<pid>/status`, read every few milliseconds while the
//!   child runs: the high-water mark of kwire's own address space (it never
//!   decreases, so a late read still sees an earlier peak; only growth in the
//!   last few ms before exit could be missed).
//! - `ru_maxrss` from `wait4`: exact, but an upper bound only. Linux starts
//!   a child's `maxrss` from the RSS of the process that spawned it (the
//!   address space it ran in before `exec`), so it is at least this test
//!   process's RSS. A bound under the limit proves the child stayed under it.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kwire_integration::{Run, kwire_bin};

/// A finished run plus its peak resident set size.
pub struct Measured {
    pub run: Run,
    /// Upper bound of the peak RSS in KiB (`ru_maxrss`, see the module docs).
    pub max_rss_kb: i64,
    /// Peak RSS in KiB of kwire itself (`VmHWM`, sampled).
    pub hwm_kb: i64,
    /// True if the run had to be killed at the deadline.
    pub killed: bool,
}

/// Runs `kwire -b <bootstrap> <args>` with `stdin`, killing it (by its pid)
/// if it is still running after `deadline`.
pub fn kwire_measured(bootstrap: &str, args: &[&str], stdin: &[u8], deadline: Duration) -> Measured {
    let mut cmd = Command::new(kwire_bin());
    cmd.env_remove("KWIRE_BOOTSTRAP_SERVERS")
        .env_remove("KWIRE_LOG")
        .env_remove("RUST_BACKTRACE")
        .arg("-b")
        .arg(bootstrap)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn kwire");
    let pid = child.id() as libc::pid_t;
    let mut si = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = si.write_all(&data);
    });
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut killed = false;
    let mut hwm_kb = 0i64;
    let status_path = format!("/proc/{pid}/status");
    loop {
        if let Some(kb) = vm_hwm_kb(&status_path) {
            hwm_kb = hwm_kb.max(kb);
        }
        // SAFETY: waiting on our own child's pid with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4 failed: {}", std::io::Error::last_os_error());
        if !killed && start.elapsed() > deadline {
            // SAFETY: signalling our own, not yet reaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = start.elapsed();
    // The child is reaped; `child` must not wait again (dropping it doesn't).
    drop(child);
    let _ = writer.join();
    let stdout_bytes = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let code = if libc::WIFEXITED(status) { Some(libc::WEXITSTATUS(status)) } else { None };
    Measured {
        run: Run {
            code,
            stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
            stdout_bytes,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            elapsed,
        },
        max_rss_kb: usage.ru_maxrss,
        hwm_kb,
        killed,
    }
}

/// `VmHWM` (KiB) from a `/proc/<pid>/status`; `None` once the process has
/// exited (a zombie has no address space) or before it has one.
fn vm_hwm_kb(path: &str) -> Option<i64> {
    let s = std::fs::read_to_string(path).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
