//! kwire's transactional producer against a real broker: what it commits is
//! what `read_committed` readers (kwire's and Kafka's own console consumer)
//! see, exactly once; what it aborts they never see; a second instance with
//! the same transactional id fences the first.

use kwire_integration::*;
use kwire_meta::{Cluster, ClusterConfig};
use kwire_produce::{ProduceError, Producer, ProducerConfig, ProducerRecord};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

async fn txn_producer(b: &str, id: &str) -> Result<Producer, ProduceError> {
    let cluster = Cluster::new(ClusterConfig::builder().bootstrap(b.split(',')).build());
    Producer::new(cluster, ProducerConfig::builder().transactional_id(id).build().unwrap()).await
}

/// Sends `values` round-robin over `partitions` and waits for every ack.
async fn send_all(p: &Producer, topic: &str, values: &[String], partitions: i32) -> Result<(), ProduceError> {
    let mut pending = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let rec = ProducerRecord::new(topic, v.as_bytes()).partition(i as i32 % partitions);
        pending.push(p.send(rec).await?);
    }
    for f in pending {
        f.wait().await?;
    }
    Ok(())
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Sorted values a consumer read, with its isolation level.
fn read(b: &str, topic: &str, isolation: &str) -> Vec<String> {
    let run =
        kwire(b, &["consume", "-t", topic, "--from-beginning", "-e", "--isolation-level", isolation]).ok();
    let mut v: Vec<String> = run.stdout.lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn committed_transactions_are_read_once_and_aborted_ones_never() {
    let b = bootstrap();
    let t = unique_topic("txn-commit");
    kwire(&b, &["topics", "create", &t, "--partitions", "3"]).ok();
    let id = unique_topic("txn-id");
    rt().block_on(async {
        let p = txn_producer(&b, &id).await.unwrap();
        p.begin_transaction().unwrap();
        send_all(&p, &t, &values("one", 30), 3).await.unwrap();
        p.commit_transaction().await.unwrap();

        p.begin_transaction().unwrap();
        send_all(&p, &t, &values("aborted", 20), 3).await.unwrap();
        p.abort_transaction().await.unwrap();

        // Records not yet acknowledged when the abort comes fail as aborted.
        p.begin_transaction().unwrap();
        let pending = p.send(ProducerRecord::new(&t, b"unacked")).await.unwrap();
        p.abort_transaction().await.unwrap();
        let r = pending.wait().await;
        assert!(matches!(&r, Err(ProduceError::TransactionAborted) | Ok(_)), "{r:?}");

        p.begin_transaction().unwrap();
        send_all(&p, &t, &values("two", 10), 3).await.unwrap();
        p.commit_transaction().await.unwrap();

        // Outside a transaction nothing is sent.
        let e = p.send(ProducerRecord::new(&t, b"outside")).await.unwrap_err();
        assert!(e.to_string().contains("begin_transaction"), "{e}");
        p.close().await.unwrap();
    });
    let mut committed: Vec<String> = values("one", 30).into_iter().chain(values("two", 10)).collect();
    committed.sort();
    assert_eq!(read(&b, &t, "read_committed"), committed);
    let uncommitted = read(&b, &t, "read_uncommitted");
    assert!(
        uncommitted.len() >= 60 && uncommitted.iter().any(|v| v.starts_with("aborted")),
        "{uncommitted:?}"
    );

    // Kafka's console consumer agrees.
    let java = java_tool(
        "kafka-console-consumer",
        &[
            "--bootstrap-server",
            &b,
            "--topic",
            &t,
            "--from-beginning",
            "--isolation-level",
            "read_committed",
            "--timeout-ms",
            "10000",
        ],
        b"",
    );
    let mut java: Vec<String> = java.lines().map(str::to_owned).collect();
    java.sort();
    assert_eq!(java, committed);
}

#[test]
fn a_second_instance_with_the_same_id_fences_the_first_and_its_transaction_is_aborted() {
    let b = bootstrap();
    let t = unique_topic("txn-fence");
    kwire(&b, &["topics", "create", &t, "--partitions", "2"]).ok();
    let id = unique_topic("txn-id");
    rt().block_on(async {
        let first = txn_producer(&b, &id).await.unwrap();
        first.begin_transaction().unwrap();
        send_all(&first, &t, &values("zombie", 10), 2).await.unwrap();

        // The new instance's InitProducerId bumps the epoch and aborts the
        // first's open transaction.
        let second = txn_producer(&b, &id).await.unwrap();
        second.begin_transaction().unwrap();
        send_all(&second, &t, &values("live", 10), 2).await.unwrap();
        second.commit_transaction().await.unwrap();

        let e = first.commit_transaction().await.unwrap_err();
        assert!(matches!(e, ProduceError::Fenced { .. }), "{e:?}");
        assert!(first.begin_transaction().is_err(), "a fenced producer stays fenced");
        second.close().await.unwrap();
    });
    let mut live = values("live", 10);
    live.sort();
    assert_eq!(read(&b, &t, "read_committed"), live);
}
