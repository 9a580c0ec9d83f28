//! TLS and SASL end to end against a real broker started with
//! `scripts/kafka.sh start --secure` (SSL, SASL_SSL, SASL_PLAINTEXT, mTLS and
//! a listener whose certificate names the wrong host).
//!
//! The instance is `KWIRE_TEST_SECURE_NAME` on `KWIRE_TEST_SECURE_PORT`
//! (scripts/test.sh starts it; default `secure` on 29092, started here if
//! needed). Every run's output is checked for every password and token.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use kwire_integration::*;
use serde_json::Value;

/// Users made by `kafka.sh start --secure`.
const PASSWORD: &str = "alice-secret";
const ADMIN_PASSWORD: &str = "admin-secret";
const WRONG_PASSWORD: &str = "not-alices-Passw0rd";
/// Strings that must never appear in kwire's output.
const SECRETS: &[&str] = &[PASSWORD, ADMIN_PASSWORD, WRONG_PASSWORD];

/// The secure broker's listeners and certificate files.
struct Secure {
    plaintext: String,
    ssl: String,
    sasl_ssl: String,
    sasl_plaintext: String,
    mtls: String,
    badname: String,
    ca: String,
    wrong_ca: String,
    client_cert: String,
    client_key: String,
    client_pem: String,
}

fn secure() -> &'static Secure {
    static S: OnceLock<Secure> = OnceLock::new();
    S.get_or_init(|| {
        let name = std::env::var("KWIRE_TEST_SECURE_NAME").unwrap_or_else(|_| "secure".to_owned());
        let port = std::env::var("KWIRE_TEST_SECURE_PORT").unwrap_or_else(|_| "29092".to_owned());
        // A no-op when scripts/test.sh (or a developer) already started it.
        kafka_sh(&["start", "--secure", "--name", &name, "--port", &port]);
        let env = kafka_sh(&["env", "--name", &name]);
        let get = |k: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("KWIRE_KAFKA_{k}=")))
                .unwrap_or_else(|| panic!("no KWIRE_KAFKA_{k} in `kafka.sh env --name {name}`:\n{env}"))
                .to_owned()
        };
        assert_eq!(get("SECURE"), "1", "instance {name} is not a --secure one");
        Secure {
            plaintext: get("BOOTSTRAP"),
            ssl: get("SSL_BOOTSTRAP"),
            sasl_ssl: get("SASL_SSL_BOOTSTRAP"),
            sasl_plaintext: get("SASL_PLAINTEXT_BOOTSTRAP"),
            mtls: get("MTLS_BOOTSTRAP"),
            badname: get("BADNAME_BOOTSTRAP"),
            ca: get("CA"),
            wrong_ca: get("WRONG_CA"),
            client_cert: get("CLIENT_CERT"),
            client_key: get("CLIENT_KEY"),
            client_pem: get("CLIENT_PEM"),
        }
    })
}

/// A `--command-config` file, removed when the last [`Auth`] using it is dropped.
struct ConfigFile(PathBuf);

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A `--command-config` file (mode 0600) with `text`.
fn config_file(text: &str) -> ConfigFile {
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "kwire-security-{}-{}.properties",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&p, text).expect("write config");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
    }
    ConfigFile(p)
}

/// How a run authenticates: a config file plus environment variables.
#[derive(Clone, Default)]
struct Auth {
    file: Option<std::sync::Arc<ConfigFile>>,
    env: Vec<(&'static str, String)>,
}

impl Auth {
    fn file(text: &str) -> Self {
        Auth { file: Some(std::sync::Arc::new(config_file(text))), env: Vec::new() }
    }

    fn env(mut self, k: &'static str, v: &str) -> Self {
        self.env.push((k, v.to_owned()));
        self
    }
}

fn ssl_props(s: &Secure) -> String {
    format!("security.protocol=SSL\nssl.ca.location={}\n", s.ca)
}

fn sasl_ssl_jaas(s: &Secure, mechanism: &str, user: &str, password: &str) -> String {
    let module = if mechanism == "PLAIN" {
        "org.apache.kafka.common.security.plain.PlainLoginModule"
    } else {
        "org.apache.kafka.common.security.scram.ScramLoginModule"
    };
    format!(
        "security.protocol=SASL_SSL\nssl.ca.location={}\nsasl.mechanism={mechanism}\n\
         sasl.jaas.config={module} required \\\n    username=\"{user}\" \\\n    password=\"{password}\";\n",
        s.ca
    )
}

/// Runs kwire against `bootstrap` with `auth`; checks that no secret shows in its output.
fn run(bootstrap: &str, auth: &Auth, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(kwire_bin());
    cmd.env_remove("KWIRE_BOOTSTRAP_SERVERS")
        .env_remove("KWIRE_LOG")
        .env_remove("KWIRE_SASL_PASSWORD")
        .env_remove("KWIRE_SASL_USERNAME")
        .env_remove("KWIRE_SASL_OAUTHBEARER_TOKEN")
        .arg("-b")
        .arg(bootstrap);
    if let Some(f) = &auth.file {
        cmd.arg("--command-config").arg(&f.0);
    }
    for (k, v) in &auth.env {
        cmd.env(k, v);
    }
    cmd.args(args)
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
    let out = child.wait_with_output().expect("wait kwire");
    let r = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stdout_bytes: out.stdout.clone(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    };
    for s in SECRETS.iter().copied().chain(auth.env.iter().map(|(_, v)| v.as_str())) {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "secret {s:?} in the output of {args:?}: {r:#?}"
        );
    }
    r
}

/// Topics, produce, consume and a consumer group over one listener.
fn roundtrip(bootstrap: &str, auth: &Auth, label: &str, verbosity: &[&str]) {
    let t = unique_topic(&format!("sec-{label}"));
    let g = unique_topic(&format!("sec-group-{label}"));
    let with = |args: &[&str]| -> Vec<String> {
        verbosity.iter().chain(args.iter()).map(|s| (*s).to_owned()).collect::<Vec<_>>()
    };
    let go = |args: &[&str], stdin: Option<&[u8]>| {
        let a = with(args);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(bootstrap, auth, &a, stdin)
    };
    go(&["topics", "create", &t, "--partitions", "2"], None).ok();
    let listed = go(&["topics", "list"], None).ok();
    assert!(listed.stdout.lines().any(|l| l == t), "{label}: {}", listed.stdout);
    let input: String = (0..10).map(|i| format!("{label}-{i}\n")).collect();
    go(&["produce", "-t", &t], Some(input.as_bytes())).ok();
    let values = |r: &Run| -> Vec<String> {
        let mut v: Vec<String> = r
            .stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{label}: {l:?}: {e}")))
            .map(|j| j["value"].as_str().unwrap_or_default().to_owned())
            .collect();
        v.sort();
        v
    };
    let all = go(&["consume", "-t", &t, "--from-beginning", "-e", "--format", "json"], None).ok();
    let mut want: Vec<String> = (0..10).map(|i| format!("{label}-{i}")).collect();
    want.sort();
    assert_eq!(values(&all), want, "{label}");
    // A consumer group: 6 records committed, then a new member reads the other 4.
    let first = go(
        &["consume", "-t", &t, "--group", &g, "--from-beginning", "--max-messages", "6", "--format", "json"],
        None,
    )
    .ok();
    let rest =
        go(&["consume", "-t", &t, "--group", &g, "--from-beginning", "-e", "--format", "json"], None).ok();
    let (a, b) = (values(&first), values(&rest));
    assert_eq!((a.len(), b.len()), (6, 4), "{label}: {a:?} {b:?}");
    let mut both: Vec<String> = a.into_iter().chain(b).collect();
    both.sort();
    assert_eq!(both, want, "{label}");
    let d = go(&["groups", "describe", &g, "--format", "json"], None).ok().json();
    let committed: i64 = d["offsets"]
        .as_array()
        .unwrap_or_else(|| panic!("{label}: {d:#}"))
        .iter()
        .map(|o| o["current_offset"].as_i64().unwrap_or(0))
        .sum();
    assert!(committed >= 6, "{label}: the first member's offsets were not committed: {d:#}");
}

#[test]
fn ssl_topics_produce_consume_and_group() {
    let s = secure();
    roundtrip(&s.ssl, &Auth::file(&ssl_props(s)), "ssl", &[]);
}

#[test]
fn sasl_ssl_plain_scram_sha256_and_sha512_at_highest_verbosity() {
    let s = secure();
    for mech in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        // -vvv: trace logs of every connection, request and the SASL exchange,
        // all checked for the password by `run`.
        roundtrip(&s.sasl_ssl, &Auth::file(&sasl_ssl_jaas(s, mech, "alice", PASSWORD)), mech, &["-vvv"]);
    }
}

#[test]
fn mtls_with_a_client_certificate() {
    let s = secure();
    let librdkafka_names = format!(
        "security.protocol=SSL\nssl.ca.location={}\nssl.certificate.location={}\nssl.key.location={}\n",
        s.ca, s.client_cert, s.client_key
    );
    roundtrip(&s.mtls, &Auth::file(&librdkafka_names), "mtls", &[]);
    // Java's PEM keystore: key and chain in one file, CA as a PEM truststore.
    let java_names = format!(
        "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={}\n\
         ssl.keystore.type=PEM\nssl.keystore.location={}\n",
        s.ca, s.client_pem
    );
    run(&s.mtls, &Auth::file(&java_names), &["topics", "list"], None).ok();
    // Without a certificate the listener refuses: one line, quickly.
    let r = run(&s.mtls, &Auth::file(&ssl_props(s)), &["topics", "list"], None);
    let line = r.one_line_error();
    assert!(line.contains("TLS") && line.contains("client certificate"), "{line}");
    assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
}

#[test]
fn wrong_password_is_one_clear_error_fast_with_one_connection() {
    let s = secure();
    for mech in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        // The password from the environment, the rest from the file.
        let text = format!(
            "security.protocol=SASL_SSL\nssl.ca.location={}\nsasl.mechanism={mech}\nsasl.username=alice\n",
            s.ca
        );
        let auth = Auth::file(&text).env("KWIRE_SASL_PASSWORD", WRONG_PASSWORD);
        let t = unique_topic("sec-wrong");
        for args in [
            vec!["topics", "list"],
            vec!["produce", "-t", &t],
            vec!["consume", "-t", &t, "--group", "g-wrong", "-e"],
        ] {
            let r = run(&s.sasl_ssl, &auth, &args, Some(b"x\n"));
            let line = r.one_line_error();
            assert!(line.contains("authentication failed") && line.contains(mech), "{mech} {args:?}: {line}");
            // The broker's own words (SASL_AUTHENTICATION_FAILED's message).
            assert!(line.contains("Authentication failed"), "{mech} {args:?}: {line}");
            assert!(r.elapsed < Duration::from_secs(5), "{mech} {args:?}: {:?}", r.elapsed);
        }
        // No retry storm: exactly one connection attempt.
        let r = run(&s.sasl_ssl, &auth, &["-vv", "topics", "list"], None);
        assert_ne!(r.code, Some(0));
        let attempts = r.stderr.lines().filter(|l| l.contains("connecting")).count();
        assert_eq!(attempts, 1, "{mech}: {}", r.stderr);
    }
}

#[test]
fn untrusted_ca_is_rejected_even_without_the_name_check() {
    let s = secure();
    for extra in ["", "ssl.endpoint.identification.algorithm=\n"] {
        let auth = Auth::file(&format!("security.protocol=SSL\nssl.ca.location={}\n{extra}", s.wrong_ca));
        let r = run(&s.ssl, &auth, &["topics", "list"], None);
        let line = r.one_line_error();
        assert!(line.contains("TLS handshake") && line.contains("UnknownIssuer"), "{extra:?}: {line}");
        assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    }
    // The system roots don't know the test CA either.
    let r = run(&s.ssl, &Auth::file("security.protocol=SSL\n"), &["topics", "list"], None);
    assert!(r.one_line_error().contains("UnknownIssuer"), "{}", r.stderr);
}

#[test]
fn certificate_for_another_name_is_rejected_by_default() {
    let s = secure();
    let r = run(&s.badname, &Auth::file(&ssl_props(s)), &["topics", "list"], None);
    let line = r.one_line_error();
    assert!(line.contains("not valid for name"), "{line}");
    assert!(line.contains("ssl.endpoint.identification.algorithm"), "hint: {line}");
    // Turning the name check off accepts it (the chain is still verified, see above).
    let off = Auth::file(&format!("{}ssl.endpoint.identification.algorithm=\n", ssl_props(s)));
    roundtrip(&s.badname, &off, "badname", &[]);
    // The good certificate names localhost too.
    let port = s.ssl.rsplit_once(':').map(|(_, p)| p).unwrap_or_default();
    run(&format!("localhost:{port}"), &Auth::file(&ssl_props(s)), &["cluster"], None).ok();
}

#[test]
fn sasl_plaintext_warns_once_for_plain_but_not_for_scram() {
    let s = secure();
    let plain = Auth::file("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=admin\n")
        .env("KWIRE_SASL_PASSWORD", ADMIN_PASSWORD);
    let t = unique_topic("sec-plaintext");
    run(&s.sasl_plaintext, &plain, &["topics", "create", &t], None).ok();
    // Produce opens more than one connection: still one warning.
    let r = run(&s.sasl_plaintext, &plain, &["produce", "-t", &t], Some(b"a\nb\n")).ok();
    let warnings: Vec<&str> = r.stderr.lines().filter(|l| l.contains("unencrypted")).collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(warnings[0].contains("PLAIN") && warnings[0].contains("SASL_SSL"), "{}", warnings[0]);
    let scram = Auth::file(&format!(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\nsasl.username=alice\nsasl.password={PASSWORD}\n"
    ));
    let r = run(&s.sasl_plaintext, &scram, &["consume", "-t", &t, "--from-beginning", "-e"], None).ok();
    assert_eq!(r.stdout, "a\nb\n");
    assert!(!r.stderr.contains("unencrypted"), "{}", r.stderr);
}

/// base64url without padding (for an unsecured JWT).
fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn oauthbearer_with_a_static_token() {
    let s = secure();
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let claims = format!(r#"{{"sub":"alice","iat":{now},"exp":{}}}"#, now + 600);
    let token = format!("{}.{}.", b64url(br#"{"alg":"none"}"#), b64url(claims.as_bytes()));
    let file = format!("security.protocol=SASL_SSL\nssl.ca.location={}\nsasl.mechanism=OAUTHBEARER\n", s.ca);
    let auth = Auth::file(&file).env("KWIRE_SASL_OAUTHBEARER_TOKEN", &token);
    run(&s.sasl_ssl, &auth, &["-vvv", "topics", "list"], None).ok();
    let bad = Auth::file(&file).env("KWIRE_SASL_OAUTHBEARER_TOKEN", "not-a-jwt");
    let line = run(&s.sasl_ssl, &bad, &["topics", "list"], None).one_line_error();
    assert!(line.contains("authentication failed") && line.contains("invalid_token"), "{line}");
}

#[test]
fn secrets_on_the_command_line_warn_and_missing_ones_explain() {
    let s = secure();
    let file = Auth::file(&format!(
        "security.protocol=SASL_SSL\nssl.ca.location={}\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=alice\n",
        s.ca
    ));
    let pw = format!("sasl.password={PASSWORD}");
    let mut cmd = Command::new(kwire_bin());
    cmd.args(["-b", &s.sasl_ssl, "--command-config"]).arg(&file.file.as_ref().expect("file").0);
    let out = cmd
        .args(["-X", &pw, "-vvv", "topics", "list"])
        .env_remove("KWIRE_SASL_PASSWORD")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("process list"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    // No password anywhere: one line naming the ways to give one.
    let line = run(&s.sasl_ssl, &file, &["topics", "list"], None).one_line_error();
    assert!(line.contains("KWIRE_SASL_PASSWORD") && line.contains("sasl.jaas.config"), "{line}");
    // A CA file that isn't there: named with its property.
    let line = run(
        &s.ssl,
        &Auth::file("security.protocol=SSL\nssl.ca.location=/nonexistent/ca.pem\n"),
        &["cluster"],
        None,
    )
    .one_line_error();
    assert!(line.contains("ssl.ca.location") && line.contains("/nonexistent/ca.pem"), "{line}");
}

#[test]
fn protocol_mismatches_explain_themselves() {
    let s = secure();
    // TLS to a plaintext listener.
    let line = run(&s.plaintext, &Auth::file(&ssl_props(s)), &["cluster"], None).one_line_error();
    assert!(line.contains("is this a TLS listener?"), "{line}");
    // Plaintext to a TLS listener: the hint once, not repeated by the cause chain.
    let line = run(&s.ssl, &Auth::default(), &["cluster"], None).one_line_error();
    assert_eq!(line.matches("security.protocol=SSL").count(), 1, "{line}");
    // SASL to a TLS listener without SASL.
    let auth = Auth::file(&sasl_ssl_jaas(s, "PLAIN", "alice", PASSWORD));
    let line = run(&s.ssl, &auth, &["cluster"], None).one_line_error();
    assert!(line.contains("does not expect SASL"), "{line}");
}
