//! SCRAM users: `kwire users` and kafka-configs.sh's SCRAM form against the
//! `--secure` broker (KWIRE_TEST_SECURE_NAME / KWIRE_TEST_SECURE_PORT): a user
//! kwire creates logs in over SASL_SSL, a wrong password and a deleted user
//! fail in one line, a user Kafka's tool creates is listed, and one kwire
//! creates is listed by Kafka's tool.

use std::process::Command;

use kwire_integration::{Run, java_tool, kafka_sh, kwire_bin, unique_topic};

struct Secure {
    plaintext: String,
    sasl_ssl: String,
    ca: String,
}

fn secure() -> Secure {
    let name = std::env::var("KWIRE_TEST_SECURE_NAME").unwrap_or_else(|_| "secure".to_owned());
    let port = std::env::var("KWIRE_TEST_SECURE_PORT").unwrap_or_else(|_| "29092".to_owned());
    kafka_sh(&["start", "--secure", "--name", &name, "--port", &port]);
    let env = kafka_sh(&["env", "--name", &name]);
    let get = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("KWIRE_KAFKA_{k}=")))
            .unwrap_or_else(|| panic!("no KWIRE_KAFKA_{k} in:\n{env}"))
            .to_owned()
    };
    Secure { plaintext: get("BOOTSTRAP"), sasl_ssl: get("SASL_SSL_BOOTSTRAP"), ca: get("CA") }
}

fn temp_file(tag: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("kwire-users-{}-{tag}", std::process::id()));
    std::fs::write(&p, text).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
    }
    p
}

/// kwire over SASL_SSL as `user`/`password` with SCRAM-SHA-512.
fn as_user(s: &Secure, user: &str, password: &str, args: &[&str], stdin: &[u8]) -> Run {
    let cfg = temp_file(
        &format!("{user}.properties"),
        &format!(
            "security.protocol=SASL_SSL\nssl.ca.location={}\nsasl.mechanism=SCRAM-SHA-512\nsasl.username={user}\n\
             sasl.password={password}\n",
            s.ca
        ),
    );
    let mut cmd = Command::new(kwire_bin());
    cmd.env_remove("KWIRE_BOOTSTRAP_SERVERS")
        .args(["-b", &s.sasl_ssl, "--command-config"])
        .arg(&cfg)
        .args(args);
    let start = std::time::Instant::now();
    let out = {
        use std::io::Write;
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn kwire");
        child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
        child.wait_with_output().expect("wait kwire")
    };
    let _ = std::fs::remove_file(&cfg);
    let r = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stdout_bytes: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    };
    assert!(!r.stdout.contains(password) && !r.stderr.contains(password), "password shown: {r:#?}");
    r
}

#[test]
fn kwire_created_scram_user_logs_in_then_is_deleted() {
    let s = secure();
    let user = unique_topic("scram-u");
    let password = "Kw1re-user-Passw0rd";
    let pw_file = temp_file("pw", &format!("{password}\n"));
    let pw_path = pw_file.to_string_lossy().into_owned();
    let r = kwire_integration::kwire(
        &s.plaintext,
        &[
            "users",
            "create",
            &user,
            "--mechanism",
            "SCRAM-SHA-512",
            "--iterations",
            "8192",
            "--password-file",
            &pw_path,
        ],
    )
    .ok();
    assert!(!r.stdout.contains(password), "{r:#?}");
    let _ = std::fs::remove_file(&pw_file);
    let d =
        kwire_integration::kwire(&s.plaintext, &["users", "describe", &user, "--format", "json"]).ok().json();
    assert_eq!(d[0]["credentials"][0]["mechanism"], "SCRAM-SHA-512", "{d}");
    assert_eq!(d[0]["credentials"][0]["iterations"], 8192, "{d}");
    // kafka-configs.sh's form adds a SHA-256 credential and shows both.
    kwire_integration::kwire(
        &s.plaintext,
        &[
            "configs",
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            &user,
            "--add-config",
            "SCRAM-SHA-256=[iterations=4096,password=other-Passw0rd]",
        ],
    )
    .ok();
    let text =
        kwire_integration::kwire(&s.plaintext, &["configs", "--describe", "--user", &user]).ok().stdout;
    assert!(
        text.contains(&format!(
            "SCRAM credential configs for user-principal '{user}' are SCRAM-SHA-256=iterations=4096, SCRAM-SHA-512=iterations=8192"
        )),
        "{text}"
    );
    // The broker authenticates the new user; it produces and reads back.
    let t = unique_topic("scram-t");
    kwire_integration::kwire(&s.plaintext, &["topics", "create", &t, "--partitions", "1"]).ok();
    as_user(&s, &user, password, &["produce", "-t", &t], b"one\ntwo\n").ok();
    let got = as_user(&s, &user, password, &["consume", "-t", &t, "--from-beginning", "-e"], b"").ok();
    assert_eq!(got.stdout.lines().collect::<Vec<_>>(), vec!["one", "two"]);
    let line = as_user(&s, &user, "wrong-Passw0rd", &["topics", "list"], b"").one_line_error();
    assert!(line.contains("authentication failed"), "{line}");
    // Iterations below the minimum: one line, nothing changed.
    let line = kwire_integration::kwire(
        &s.plaintext,
        &["configs", "--alter", "--user", &user, "--add-config", "SCRAM-SHA-512=[iterations=100,password=x]"],
    )
    .one_line_error();
    assert!(line.contains("4096"), "{line}");
    let d =
        kwire_integration::kwire(&s.plaintext, &["users", "describe", &user, "--format", "json"]).ok().json();
    assert_eq!(d[0]["credentials"][1]["iterations"], 8192, "{d}");
    // Delete: the mechanism via kafka-configs.sh's form, then the rest.
    kwire_integration::kwire(
        &s.plaintext,
        &["configs", "--alter", "--user", &user, "--delete-config", "SCRAM-SHA-256"],
    )
    .ok();
    kwire_integration::kwire(&s.plaintext, &["users", "delete", &user]).ok();
    let list = kwire_integration::kwire(&s.plaintext, &["users", "list"]).ok().stdout;
    assert!(!list.lines().any(|l| l == user), "{list}");
    let line = as_user(&s, &user, password, &["topics", "list"], b"").one_line_error();
    assert!(line.contains("authentication failed"), "{line}");
}

#[test]
fn user_created_by_kafka_configs_sh_is_listed() {
    let s = secure();
    let user = unique_topic("java-u");
    java_tool(
        "ConfigCommand",
        &[
            "--bootstrap-server",
            &s.plaintext,
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            &user,
            "--add-config",
            "SCRAM-SHA-256=[iterations=8192,password=java-Passw0rd]",
        ],
        b"",
    );
    let list = kwire_integration::kwire(&s.plaintext, &["users", "list"]).ok().stdout;
    assert!(list.lines().any(|l| l == user), "{list}");
    let text = kwire_integration::kwire(&s.plaintext, &["users", "describe", &user]).ok().stdout;
    assert_eq!(text.trim(), format!("{user} SCRAM-SHA-256=iterations=8192"));
    kwire_integration::kwire(&s.plaintext, &["users", "delete", &user]).ok();
    let line = kwire_integration::kwire(&s.plaintext, &["users", "delete", &user]).one_line_error();
    assert!(line.contains(&user), "{line}");
}

/// Deletes a user's SCRAM credentials when dropped (if the test failed before it did).
struct DeleteUserOnDrop(String, String);

impl Drop for DeleteUserOnDrop {
    fn drop(&mut self) {
        let _ = kwire_integration::kwire(&self.0, &["users", "delete", &self.1]);
    }
}

#[test]
fn user_created_by_kwire_is_seen_by_kafka_configs_sh() {
    let s = secure();
    let user = unique_topic("kwire-u");
    let pw_file = temp_file("pw-java", "kwire-Passw0rd\n");
    let pw_path = pw_file.to_string_lossy().into_owned();
    let create = [
        "users",
        "create",
        &user,
        "--mechanism",
        "SCRAM-SHA-512",
        "--iterations",
        "8192",
        "--password-file",
        &pw_path,
    ];
    kwire_integration::kwire(&s.plaintext, &create).ok();
    let _ = std::fs::remove_file(&pw_file);
    let _delete = DeleteUserOnDrop(s.plaintext.clone(), user.clone());
    // Every user, as kafka-configs.sh --describe --entity-type users lists
    // them: this one's line is there, and kwire's form prints the same line.
    let describe = ["--describe", "--entity-type", "users"];
    let line =
        format!("SCRAM credential configs for user-principal '{user}' are SCRAM-SHA-512=iterations=8192");
    let java =
        java_tool("ConfigCommand", &[&["--bootstrap-server", &s.plaintext][..], &describe].concat(), b"");
    assert!(java.lines().any(|l| l == line), "{java}");
    let ours = kwire_integration::kwire(&s.plaintext, &[&["configs"][..], &describe].concat()).ok().stdout;
    assert!(ours.lines().any(|l| l == line), "{ours}");
    // Deleted by kwire: Kafka's tool no longer lists it.
    kwire_integration::kwire(&s.plaintext, &["users", "delete", &user]).ok();
    let java =
        java_tool("ConfigCommand", &[&["--bootstrap-server", &s.plaintext][..], &describe].concat(), b"");
    assert!(!java.contains(&format!("'{user}'")), "{java}");
}
