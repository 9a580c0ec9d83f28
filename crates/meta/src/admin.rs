//! Topic and config administration, routed to the broker each API requires.
//!
//! CreateTopics, DeleteTopics and CreatePartitions go to the controller as
//! reported by metadata (in KRaft mode any broker forwards them), retried once
//! after NOT_CONTROLLER; DescribeConfigs and IncrementalAlterConfigs for topics
//! go to any broker.

use std::collections::BTreeMap;
use std::time::Duration;

use kwire_conn::Connection;
use kwire_proto::ErrorCode;
use kwire_proto::TopicPartition;
use kwire_proto::api::ApiKey;
pub use kwire_proto::msg::admin::{ConfigEntry, LogDir, LogDirReplica};
use kwire_proto::msg::admin::{
    CreatableTopicSpec, create_partitions_request, create_topics_request, delete_records_request,
    delete_topics_request, describe_configs_request, describe_log_dirs_request,
    incremental_alter_configs_request,
};

use std::ops::ControlFlow;

use crate::retry::{RetryAction, RetryPolicy, Step, classify};
use crate::{Cluster, MetaError};

/// Longest legal topic name.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Checks a topic name against Kafka's rules, with a message that says which rule.
pub fn validate_topic_name(name: &str) -> Result<(), MetaError> {
    if name.is_empty() {
        return Err(MetaError::Invalid("topic name is empty".to_owned()));
    }
    if name == "." || name == ".." {
        return Err(MetaError::Invalid(format!("topic name cannot be '{name}'")));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(MetaError::Invalid(format!(
            "topic name is {} characters long; the maximum is {MAX_TOPIC_NAME_LEN}",
            name.len()
        )));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(MetaError::Invalid(format!(
            "topic name '{name}' contains '{}': only ASCII letters, digits, '.', '_' and '-' are allowed",
            bad.escape_default()
        )));
    }
    Ok(())
}

/// Whether two names collide in Kafka's metric names ('.' and '_' are the same there).
pub fn metric_names_collide(a: &str, b: &str) -> bool {
    a != b && a.replace('.', "_") == b.replace('.', "_")
}

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Name.
    pub name: String,
    /// Partitions; `None` uses the broker's `num.partitions`.
    pub partitions: Option<i32>,
    /// Replication factor; `None` uses the broker's `default.replication.factor`.
    pub replication_factor: Option<i16>,
    /// Topic configs (`retention.ms`, …).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with broker defaults.
    pub fn new(name: impl Into<String>) -> Self {
        NewTopic { name: name.into(), partitions: None, replication_factor: None, configs: Vec::new() }
    }
}

/// What CreateTopics reported for a created (or validated) topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    /// Name.
    pub name: String,
    /// Partitions (-1 if the broker didn't say).
    pub partitions: i32,
    /// Replication factor (-1 if the broker didn't say).
    pub replication_factor: i16,
}

/// Kafka's config resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// A topic.
    Topic = 2,
    /// A broker.
    Broker = 4,
    /// A group (group configs, Kafka 4.0+: e.g. a share group's
    /// `share.auto.offset.reset`).
    Group = 32,
}

/// One change in an incremental config update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOp {
    /// Set `key` to `value`.
    Set(String, String),
    /// Remove `key` (revert to the default).
    Delete(String),
}

/// Kafka's `ConfigSource` value for defaults.
pub const CONFIG_SOURCE_DEFAULT: i8 = 5;

/// Describes a config source code.
pub fn config_source_name(source: i8) -> &'static str {
    match source {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

fn broker_err(context: String, code: ErrorCode, message: Option<String>) -> MetaError {
    MetaError::Broker { context, code, message }
}

fn timeout_ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

impl Cluster {
    /// The broker to send controller-bound admin requests to.
    pub(crate) async fn controller(&self) -> Result<Connection, MetaError> {
        let md = self.fetch_metadata(Some(&[])).await?;
        if md.controller_id >= 0 {
            if let Ok(c) = self.broker(md.controller_id).await {
                return Ok(c);
            }
        }
        self.any_broker().await
    }

    /// Creates topics. Returns one result per topic, in order; a topic-level
    /// failure (already exists, bad config, replication factor too high) is in
    /// its slot. With `validate_only` the broker checks everything and creates nothing.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Result<Vec<Result<CreatedTopic, MetaError>>, MetaError> {
        for t in topics {
            validate_topic_name(&t.name)?;
        }
        let req = create_topics_request(
            timeout_ms(self.config().conn.request_timeout),
            validate_only,
            topics.iter().map(|t| CreatableTopicSpec {
                name: &t.name,
                partitions: t.partitions.unwrap_or(-1),
                replication_factor: t.replication_factor.unwrap_or(-1),
                configs: &t.configs,
            }),
        );
        // NOT_CONTROLLER: ask the (new) controller again, three times at most;
        // after that the answer stands, each topic with its error.
        const TRIES: u32 = 4;
        let req = &req;
        let resp = self
            .with_retry("create topics", RetryPolicy::attempts(TRIES), |n| async move {
                let conn = self.controller().await?;
                let resp = conn.send(req).await?;
                let not_controller =
                    resp.topics.iter().any(|t| t.result.error_code == ErrorCode::NOT_CONTROLLER);
                Ok::<_, MetaError>(if not_controller && n < TRIES {
                    Step::Retry(ErrorCode::NOT_CONTROLLER)
                } else {
                    Step::Done(resp)
                })
            })
            .await?
            .map_err(|gave_up| broker_err("create topics".into(), gave_up.last, None))?;
        let mut by_name: BTreeMap<String, _> =
            resp.topics.into_iter().filter_map(|t| t.result.name.clone().map(|n| (n, t))).collect();
        Ok(topics
            .iter()
            .map(|t| match by_name.remove(&t.name) {
                None => Err(MetaError::Invalid(format!("broker did not answer for topic '{}'", t.name))),
                Some(r) if r.result.error_code.is_err() => Err(broker_err(
                    format!("cannot create topic '{}'", t.name),
                    r.result.error_code,
                    r.result.error_message,
                )),
                Some(r) => Ok(CreatedTopic {
                    name: t.name.clone(),
                    partitions: if r.num_partitions > 0 {
                        r.num_partitions
                    } else {
                        t.partitions.unwrap_or(-1)
                    },
                    replication_factor: if r.replication_factor > 0 {
                        r.replication_factor
                    } else {
                        t.replication_factor.unwrap_or(-1)
                    },
                }),
            })
            .collect())
    }

    /// Deletes topics by name; one result per topic, in order.
    pub async fn delete_topics(&self, names: &[String]) -> Result<Vec<Result<(), MetaError>>, MetaError> {
        let conn = self.controller().await?;
        let v = conn.version(ApiKey::DeleteTopics)?;
        let req = delete_topics_request(v, timeout_ms(self.config().conn.request_timeout), names);
        let resp = conn.send_version(&req, v).await?;
        let mut by_name: BTreeMap<String, _> =
            resp.topics.into_iter().filter_map(|t| t.name.clone().map(|n| (n, t))).collect();
        for n in names {
            self.invalidate_topic(n);
        }
        Ok(names
            .iter()
            .map(|n| match by_name.remove(n) {
                None => Err(MetaError::Invalid(format!("broker did not answer for topic '{n}'"))),
                Some(r) if r.error_code.is_err() => {
                    Err(broker_err(format!("cannot delete topic '{n}'"), r.error_code, r.error_message))
                }
                Some(_) => Ok(()),
            })
            .collect())
    }

    /// Deletes the records of each partition before its offset (DeleteRecords
    /// at each partition's leader; -1: everything up to the high watermark),
    /// as `kafka-delete-records.sh` does. Per partition: the new log start
    /// offset (low watermark), or why not (OFFSET_OUT_OF_RANGE past the high
    /// watermark, POLICY_VIOLATION on a compacted topic, ...). Leader moves
    /// are retried within the request timeout.
    pub async fn delete_records(
        &self,
        targets: &[(TopicPartition, i64)],
    ) -> Result<BTreeMap<TopicPartition, Result<i64, MetaError>>, MetaError> {
        let timeout = self.config().conn.request_timeout;
        let mut out = BTreeMap::new();
        let mut todo: BTreeMap<TopicPartition, i64> = targets.iter().cloned().collect();
        let mut retrier = self.retrier("delete records", RetryPolicy::within(timeout));
        loop {
            let tps: Vec<TopicPartition> = todo.keys().cloned().collect();
            let mut last: Option<(String, MetaError)> = None;
            for (leader, parts) in self.by_leader(&tps, timeout).await? {
                let req = delete_records_request(
                    timeout_ms(timeout),
                    parts.iter().map(|(tp, _)| (tp.topic.as_str(), tp.partition, todo[tp])),
                );
                let resp = match self.broker(leader).await {
                    Ok(conn) => match conn.version(ApiKey::DeleteRecords) {
                        Ok(v) => conn.send_version(&req, v).await.map_err(MetaError::from),
                        Err(e) => Err(e.into()),
                    },
                    Err(e) => Err(e),
                };
                let resp = match resp {
                    Ok(r) => r,
                    Err(e) if e.is_disconnect() => {
                        last = Some((parts[0].0.topic.clone(), e));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                for (topic, results) in resp.topics {
                    for r in results {
                        let tp = TopicPartition::new(topic.clone(), r.partition);
                        if !todo.contains_key(&tp) {
                            continue;
                        }
                        let context = format!("cannot delete records of {tp}");
                        match classify(r.error_code) {
                            RetryAction::Done => {
                                todo.remove(&tp);
                                out.insert(tp, Ok(r.low_watermark));
                            }
                            RetryAction::RefreshMetadata | RetryAction::Retry => {
                                last = Some((tp.topic.clone(), broker_err(context, r.error_code, None)));
                            }
                            _ => {
                                todo.remove(&tp);
                                out.insert(tp, Err(broker_err(context, r.error_code, None)));
                            }
                        }
                    }
                }
            }
            let Some((topic, err)) = last.filter(|_| !todo.is_empty()) else { break };
            match retrier.next(Step::RefreshMetadata(topic, err)).await {
                Ok(ControlFlow::Continue(())) => continue,
                Ok(ControlFlow::Break(())) => break,
                Err(gave_up) => {
                    let e = gave_up.into_error();
                    for tp in std::mem::take(&mut todo).into_keys() {
                        out.insert(tp, Err(MetaError::Invalid(e.to_string())));
                    }
                }
            }
        }
        for (tp, _) in todo {
            out.insert(
                tp.clone(),
                Err(MetaError::Invalid(format!("the leader of {tp} did not answer for it"))),
            );
        }
        Ok(out)
    }

    /// The log directories of `brokers` (every broker of the cluster if
    /// None) with the replicas in them (DescribeLogDirs, as
    /// `kafka-log-dirs.sh --describe`). A broker id the cluster does not
    /// have is an error naming the ones it has.
    pub async fn describe_log_dirs(
        &self,
        brokers: Option<&[i32]>,
    ) -> Result<BTreeMap<i32, Result<Vec<LogDir>, MetaError>>, MetaError> {
        let md = self.fetch_metadata(Some(&[])).await?;
        let known: Vec<i32> = md.brokers.keys().copied().collect();
        let ids: Vec<i32> = match brokers {
            None => known.clone(),
            Some(list) => {
                let missing: Vec<String> =
                    list.iter().filter(|b| !known.contains(b)).map(ToString::to_string).collect();
                if !missing.is_empty() {
                    let have: Vec<String> = known.iter().map(ToString::to_string).collect();
                    return Err(MetaError::Invalid(format!(
                        "no broker {} in the cluster (it has {})",
                        missing.join(", "),
                        have.join(", ")
                    )));
                }
                list.to_vec()
            }
        };
        let mut out = BTreeMap::new();
        for id in ids {
            let r = async {
                let conn = self.broker(id).await?;
                let v = conn.version(ApiKey::DescribeLogDirs)?;
                let resp = conn.send_version(&describe_log_dirs_request(), v).await?;
                if resp.error_code.is_err() {
                    return Err(broker_err(
                        format!("describe the log dirs of broker {id}"),
                        resp.error_code,
                        None,
                    ));
                }
                Ok(resp.dirs)
            }
            .await;
            out.insert(id, r);
        }
        Ok(out)
    }

    /// Names of all topics, sorted; internal topics only if `include_internal`.
    pub async fn list_topics(&self, include_internal: bool) -> Result<Vec<String>, MetaError> {
        let md = self.fetch_metadata(None).await?;
        Ok(md.topics.values().filter(|t| include_internal || !t.internal).map(|t| t.name.clone()).collect())
    }

    /// Grows `topic` to `total` partitions.
    pub async fn create_partitions(
        &self,
        topic: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), MetaError> {
        let req = create_partitions_request(
            timeout_ms(self.config().conn.request_timeout),
            validate_only,
            topic,
            total,
        );
        let conn = self.controller().await?;
        let resp = conn.send(&req).await?;
        self.invalidate_topic(topic);
        match resp.topics.into_iter().next() {
            Some(r) if r.error_code.is_err() => Err(broker_err(
                format!("cannot change the partitions of topic '{topic}'"),
                r.error_code,
                r.error_message,
            )),
            Some(_) => Ok(()),
            None => Err(MetaError::Invalid(format!("broker did not answer for topic '{topic}'"))),
        }
    }

    /// Configs of several resources of one type (all keys, or just `keys`).
    pub async fn describe_configs(
        &self,
        resource_type: ResourceType,
        names: &[String],
        keys: Option<&[&str]>,
    ) -> Result<BTreeMap<String, Vec<ConfigEntry>>, MetaError> {
        let req = describe_configs_request(resource_type as i8, names, keys);
        let conn = self.config_broker(resource_type, names.first().map_or("", String::as_str)).await?;
        let resp = conn.send(&req).await?;
        let mut out = BTreeMap::new();
        for r in resp.resources {
            if r.error_code.is_err() {
                return Err(broker_err(
                    format!("cannot describe configs of '{}'", r.resource_name),
                    r.error_code,
                    r.error_message,
                ));
            }
            out.insert(r.resource_name, r.configs);
        }
        Ok(out)
    }

    /// The broker that answers config requests for a resource: the named
    /// broker for its own configs, any broker otherwise.
    pub(crate) async fn config_broker(
        &self,
        resource_type: ResourceType,
        name: &str,
    ) -> Result<Connection, MetaError> {
        match resource_type {
            ResourceType::Broker => match name.parse::<i32>() {
                Ok(id) => self.broker(id).await,
                Err(_) => self.any_broker().await,
            },
            ResourceType::Topic | ResourceType::Group => self.any_broker().await,
        }
    }

    /// Applies `ops` to the configs of one resource, atomically.
    pub async fn alter_configs(
        &self,
        resource_type: ResourceType,
        name: &str,
        ops: &[ConfigOp],
        validate_only: bool,
    ) -> Result<(), MetaError> {
        let req = incremental_alter_configs_request(
            resource_type as i8,
            name,
            ops.iter().map(|op| match op {
                ConfigOp::Set(k, v) => (k.as_str(), Some(v.as_str())),
                ConfigOp::Delete(k) => (k.as_str(), None),
            }),
            validate_only,
        );
        // A broker's own dynamic configs are applied by that broker; the
        // cluster default ("") and other resources by any broker.
        let conn = self.config_broker(resource_type, name).await?;
        let resp = conn.send(&req).await?;
        match resp.resources.into_iter().next() {
            Some(r) if r.error_code.is_err() => {
                Err(broker_err(format!("cannot alter configs of '{name}'"), r.error_code, r.error_message))
            }
            Some(_) => Ok(()),
            None => Err(MetaError::Invalid(format!("broker did not answer for '{name}'"))),
        }
    }

    /// Waits (up to `timeout`) until `topics` appear in metadata with a leader
    /// for every partition, so a `create` followed by a `produce` just works.
    pub async fn wait_for_topics(&self, topics: &[String], timeout: Duration) -> Result<bool, MetaError> {
        let policy = RetryPolicy::within(timeout).max_pause(Duration::from_millis(200));
        let ready = self
            .with_retry("wait for topics", policy, |_| async move {
                let md = self.fetch_metadata(Some(topics)).await?;
                let ready = topics.iter().all(|t| {
                    md.topics.get(t).is_some_and(|ti| {
                        !ti.partitions.is_empty() && ti.partitions.iter().all(|p| p.leader >= 0)
                    })
                });
                Ok::<_, MetaError>(if ready { Step::Done(()) } else { Step::Retry("not ready") })
            })
            .await?;
        Ok(ready.is_ok())
    }

    /// Waits (up to `timeout`) until `topics` are gone from metadata.
    pub async fn wait_for_deletion(&self, topics: &[String], timeout: Duration) -> Result<bool, MetaError> {
        let pause = Duration::from_millis(100);
        let policy = RetryPolicy::within(timeout).min_pause(pause).max_pause(pause);
        let gone = self
            .with_retry("wait for deletion", policy, |_| async move {
                let md = self.fetch_metadata(Some(topics)).await?;
                let gone = topics.iter().all(|t| !md.topics.contains_key(t));
                Ok::<_, MetaError>(if gone { Step::Done(()) } else { Step::Retry("still there") })
            })
            .await?;
        Ok(gone.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_name_rules() {
        assert!(validate_topic_name("first_topic").is_ok());
        assert!(validate_topic_name("a.b-c_D9").is_ok());
        assert!(validate_topic_name(&"x".repeat(249)).is_ok());
        let e = validate_topic_name(&"x".repeat(250)).unwrap_err().to_string();
        assert!(e.contains("250") && e.contains("249"), "{e}");
        assert!(validate_topic_name(".").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("").is_err());
        let e = validate_topic_name("bad name").unwrap_err().to_string();
        assert!(e.contains("' '"), "{e}");
        assert!(validate_topic_name("ünïcode").is_err());
        assert!(validate_topic_name("a/b").is_err());
    }

    #[test]
    fn metric_collisions() {
        assert!(metric_names_collide("a.b", "a_b"));
        assert!(!metric_names_collide("a.b", "a.b"));
        assert!(!metric_names_collide("a.b", "a-b"));
    }
}
