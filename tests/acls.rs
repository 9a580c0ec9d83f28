//! `kwire acls` (kafka-acls.sh) against the `--secure` broker, which runs
//! StandardAuthorizer with super.users=User:ANONYMOUS;User:admin and
//! allow.everyone.if.no.acl.found=true (scripts/kafka.sh). Admin commands go
//! over its PLAINTEXT listener (ANONYMOUS, a super user); alice's produce
//! goes over SASL_PLAINTEXT with SCRAM-SHA-256, so her ACLs decide.

use std::sync::OnceLock;

use kwire_integration::*;

/// The secure broker's PLAINTEXT and SASL_PLAINTEXT bootstraps.
fn secure() -> &'static (String, String) {
    static S: OnceLock<(String, String)> = OnceLock::new();
    S.get_or_init(|| {
        let name = std::env::var("KWIRE_TEST_SECURE_NAME").unwrap_or_else(|_| "secure".to_owned());
        let port = std::env::var("KWIRE_TEST_SECURE_PORT").unwrap_or_else(|_| "29092".to_owned());
        kafka_sh(&["start", "--secure", "--name", &name, "--port", &port]);
        let env = kafka_sh(&["env", "--name", &name]);
        let get = |k: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("KWIRE_KAFKA_{k}=")))
                .unwrap_or_else(|| panic!("no KWIRE_KAFKA_{k} in `kafka.sh env --name {name}`:\n{env}"))
                .to_owned()
        };
        (get("BOOTSTRAP"), get("SASL_PLAINTEXT_BOOTSTRAP"))
    })
}

/// alice's client settings (SCRAM-SHA-256 over SASL_PLAINTEXT: PLAIN would add kwire's
/// clear-text warning to stderr), as a --command-config file.
fn alice_config() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("kwire-acls-alice-{}.properties", std::process::id()));
    std::fs::write(
        &p,
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\nsasl.username=alice\nsasl.password=alice-secret\n",
    )
    .expect("write config");
    p
}

fn acls_json(bootstrap: &str, topic: &str) -> Vec<serde_json::Value> {
    let r = kwire(bootstrap, &["acls", "list", "--topic", topic, "--format", "json"]).ok();
    r.json()["acls"].as_array().cloned().unwrap_or_default()
}

fn entry(v: &serde_json::Value) -> (String, String, String) {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    (s("principal"), s("operation"), s("permissionType"))
}

#[test]
fn create_list_delete_round_trip_with_the_java_tool() {
    let (plain, _) = secure();
    let t = unique_topic("acl-rt");
    // kwire creates (kafka-acls.sh's flags), kwire and the Java tool read it back.
    let r = kwire(
        plain,
        &[
            "acls",
            "--add",
            "--allow-principal",
            "User:bob",
            "--operation",
            "Read",
            "--operation",
            "Describe",
            "--topic",
            &t,
        ],
    )
    .ok();
    assert!(
        r.stdout.contains(&format!("ResourcePattern(resourceType=TOPIC, name={t}, patternType=LITERAL)")),
        "{r:#?}"
    );
    let mut got: Vec<_> = acls_json(plain, &t).iter().map(entry).collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("User:bob".into(), "DESCRIBE".into(), "ALLOW".into()),
            ("User:bob".into(), "READ".into(), "ALLOW".into())
        ]
    );
    let java = java_tool("AclCommand", &["--bootstrap-server", plain, "--list", "--topic", &t], b"");
    assert!(java.contains("(principal=User:bob, host=*, operation=READ, permissionType=ALLOW)"), "{java}");
    assert!(
        java.contains("(principal=User:bob, host=*, operation=DESCRIBE, permissionType=ALLOW)"),
        "{java}"
    );
    // kwire's text listing is the Java tool's.
    let text = kwire(plain, &["acls", "--list", "--topic", &t]).ok().stdout;
    assert!(
        text.contains(&format!(
            "Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name={t}, patternType=LITERAL)`:"
        )),
        "{text}"
    );
    // The Java tool creates a prefixed DENY, kwire sees it.
    java_tool(
        "AclCommand",
        &[
            "--bootstrap-server",
            plain,
            "--add",
            "--deny-principal",
            "User:carol",
            "--operation",
            "Write",
            "--topic",
            &t,
            "--resource-pattern-type",
            "prefixed",
        ],
        b"",
    );
    let r = kwire(
        plain,
        &["acls", "list", "--topic", &t, "--resource-pattern-type", "prefixed", "--format", "json"],
    )
    .ok();
    let v = r.json()["acls"].as_array().cloned().unwrap_or_default();
    assert_eq!(v.len(), 1, "{r:#?}");
    assert_eq!(entry(&v[0]), ("User:carol".into(), "WRITE".into(), "DENY".into()));
    assert_eq!(v[0]["patternType"], "PREFIXED");
    // delete without --force: refused, nothing deleted.
    let e = kwire(plain, &["acls", "--remove", "--topic", &t]).one_line_error();
    assert!(e.contains("--force"), "{e}");
    assert_eq!(acls_json(plain, &t).len(), 2);
    // delete bob's READ only, then the rest.
    let r = kwire(
        plain,
        &[
            "acls",
            "delete",
            "--force",
            "--topic",
            &t,
            "--allow-principal",
            "User:bob",
            "--operation",
            "read",
            "--format",
            "json",
        ],
    )
    .ok();
    let d = r.json()["deleted"].as_array().cloned().unwrap_or_default();
    assert_eq!(d.iter().map(entry).collect::<Vec<_>>(), [("User:bob".into(), "READ".into(), "ALLOW".into())]);
    assert_eq!(
        acls_json(plain, &t).iter().map(entry).collect::<Vec<_>>(),
        [("User:bob".into(), "DESCRIBE".into(), "ALLOW".into())]
    );
    kwire(plain, &["acls", "--remove", "--force", "--topic", &t]).ok();
    kwire(plain, &["acls", "--remove", "--force", "--topic", &t, "--resource-pattern-type", "prefixed"]).ok();
    assert!(acls_json(plain, &t).is_empty());
    let r =
        kwire(plain, &["acls", "list", "--topic", &t, "--resource-pattern-type", "any", "--format", "json"])
            .ok();
    assert_eq!(r.json()["acls"].as_array().map(Vec::len), Some(0), "{r:#?}");
}

#[test]
fn an_acl_denies_then_allows_a_client() {
    let (plain, sasl) = secure();
    let t = unique_topic("acl-deny");
    kwire(plain, &["topics", "create", &t]).ok();
    let cfg = alice_config();
    let cfg = cfg.to_str().unwrap_or_default();
    let produce = || kwire_stdin(sasl, &["--command-config", cfg, "produce", "-t", &t], Some(b"x\n"));
    // No ACL names the topic: open to everyone.
    produce().ok();
    // Only admin may write: alice is refused, in one line.
    kwire(plain, &["acls", "--add", "--allow-principal", "User:admin", "--operation", "All", "--topic", &t])
        .ok();
    let e = produce().one_line_error();
    assert!(e.contains("TOPIC_AUTHORIZATION_FAILED"), "{e}");
    // Allow alice Write and Describe (the JSON names both bindings): she writes again.
    let created = kwire(
        plain,
        &[
            "acls",
            "create",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Write",
            "--operation",
            "Describe",
            "--topic",
            &t,
            "--format",
            "json",
        ],
    )
    .ok()
    .json();
    let binding = |op: &str| {
        serde_json::json!({"resourceType": "TOPIC", "name": t, "patternType": "LITERAL",
            "principal": "User:alice", "host": "*", "operation": op, "permissionType": "ALLOW"})
    };
    let mut got = created["created"].as_array().cloned().unwrap_or_default();
    got.sort_by_key(|b| b["operation"].as_str().map(str::to_owned));
    assert_eq!(got, [binding("DESCRIBE"), binding("WRITE")], "{created}");
    assert_eq!(created["errors"], serde_json::json!([]), "{created}");
    produce().ok();
    let got = read_all_values(plain, &t);
    assert_eq!(got.len(), 2, "{got:?}");
    kwire(plain, &["acls", "--remove", "--force", "--topic", &t]).ok();
    let _ = std::fs::remove_file(cfg);
}

#[test]
fn bad_input_is_one_line() {
    let (plain, _) = secure();
    let e = kwire(plain, &["acls", "--add", "--allow-principal", "alice", "--topic", "t"]).one_line_error();
    assert!(e.contains("Type:name"), "{e}");
    let e = kwire(
        plain,
        &["acls", "--add", "--allow-principal", "User:alice", "--operation", "Frob", "--topic", "t"],
    )
    .one_line_error();
    assert!(e.contains("unknown operation 'Frob'"), "{e}");
    let e = kwire(plain, &["acls", "--remove", "--topic", "t"]).one_line_error();
    assert!(e.contains("--force"), "{e}");
    // The plain single-node broker has no authorizer.
    let e = kwire(&bootstrap(), &["acls", "--list"]).one_line_error();
    assert!(e.contains("no authorizer configured (authorizer.class.name)"), "{e}");
    let e = kwire(&bootstrap(), &["acls", "--add", "--allow-principal", "User:a", "--topic", "t"])
        .one_line_error();
    assert!(e.contains("no authorizer configured"), "{e}");
}

/// Hosts: kwire's `--allow-host` is what the Java tool lists, the Java
/// tool's `--deny-host` is what kwire lists, and a `--host` filter on
/// removal takes only the entries for that host.
#[test]
fn hosts_round_trip_with_the_java_tool() {
    let (plain, _) = secure();
    let t = unique_topic("acl-host");
    kwire(
        plain,
        &[
            "acls",
            "--add",
            "--allow-principal",
            "User:dave",
            "--allow-host",
            "127.0.0.1",
            "--operation",
            "Write",
            "--topic",
            &t,
        ],
    )
    .ok();
    let java = java_tool("AclCommand", &["--bootstrap-server", plain, "--list", "--topic", &t], b"");
    assert!(
        java.contains("(principal=User:dave, host=127.0.0.1, operation=WRITE, permissionType=ALLOW)"),
        "{java}"
    );
    java_tool(
        "AclCommand",
        &[
            "--bootstrap-server",
            plain,
            "--add",
            "--deny-principal",
            "User:dave",
            "--deny-host",
            "10.0.0.9",
            "--operation",
            "Write",
            "--topic",
            &t,
        ],
        b"",
    );
    let mut hosts: Vec<(String, String)> = acls_json(plain, &t)
        .iter()
        .map(|v| {
            (
                v["host"].as_str().unwrap_or_default().to_owned(),
                v["permissionType"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    hosts.sort();
    assert_eq!(hosts, [("10.0.0.9".into(), "DENY".into()), ("127.0.0.1".into(), "ALLOW".into())]);
    // Removing the deny by its host leaves the allow.
    kwire(
        plain,
        &[
            "acls",
            "--remove",
            "--force",
            "--deny-principal",
            "User:dave",
            "--deny-host",
            "10.0.0.9",
            "--operation",
            "Write",
            "--topic",
            &t,
        ],
    )
    .ok();
    let left: Vec<String> =
        acls_json(plain, &t).iter().map(|v| v["host"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(left, ["127.0.0.1"]);
    kwire(plain, &["acls", "--remove", "--force", "--topic", &t]).ok();
    assert!(acls_json(plain, &t).is_empty());
}
