//! Create, describe and delete a topic.
//!
//! ```text
//! cargo run -p kwire --example admin -- [BOOTSTRAP] [TOPIC]
//! ```
//!
//! Creates TOPIC with 3 partitions, replication factor 1 and
//! `retention.ms=3600000`, waits until every partition has a leader, prints
//! its partitions and that setting, deletes it and waits until it is gone.

use std::time::Duration;

use kwire::meta::admin::{NewTopic, ResourceType};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".to_owned());
    let topic = args.next().unwrap_or_else(|| "kwire-admin-example".to_owned());
    let client = kwire::Client::builder().bootstrap(&bootstrap).build()?;
    let cluster = client.cluster();
    let names = std::slice::from_ref(&topic);

    // Create: one result per topic (a topic-level failure, like "already
    // exists", is in its slot; the outer error is for the request).
    let mut spec = NewTopic::new(topic.as_str());
    spec.partitions = Some(3);
    spec.replication_factor = Some(1);
    spec.configs = vec![("retention.ms".into(), "3600000".into())];
    for result in cluster.create_topics(&[spec], false).await? {
        let created = result?;
        println!(
            "created {}: {} partitions, replication factor {}",
            created.name, created.partitions, created.replication_factor
        );
    }
    if !cluster.wait_for_topics(names, Duration::from_secs(30)).await? {
        return Err(format!("{topic} has no leader for every partition after 30 s").into());
    }

    // Describe: partitions from metadata, settings from DescribeConfigs.
    let info = cluster.topic(&topic).await?;
    for p in &info.partitions {
        println!(
            "partition {}: leader {}, replicas {:?}, in sync {:?}",
            p.partition, p.leader, p.replicas, p.isr
        );
    }
    let configs = cluster.describe_configs(ResourceType::Topic, names, Some(&["retention.ms"])).await?;
    for entry in configs.get(&topic).into_iter().flatten() {
        println!("{} = {}", entry.name, entry.value.as_deref().unwrap_or("null"));
    }

    // Delete, and wait until the brokers forgot it.
    for result in cluster.delete_topics(names).await? {
        result?;
    }
    let gone = cluster.wait_for_deletion(names, Duration::from_secs(30)).await?;
    println!("deleted {topic}{}", if gone { "" } else { " (still listed after 30 s)" });
    Ok(())
}
