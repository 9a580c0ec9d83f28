//! Integration tests against a real Apache Kafka broker. Run through
//! `scripts/test.sh`, which starts the brokers; see `lib.rs` for the settings.

mod acls;
mod cli_edges;
mod cluster;
mod configs;
mod consume;
mod consumer_api;
mod delete_records;
mod dump_log;
mod examples;
mod faults;
mod faults_apps;
mod formats;
mod groups;
mod log_dirs;
mod offsets;
mod produce;
mod produce_fresh;
mod reassign;
mod security;
mod share;
mod share_groups;
mod stream;
mod stream_app;
mod topics;
mod transactions;
mod txn_producer;
mod users;
