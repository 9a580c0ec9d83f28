//! `kwire acls`: kafka-acls.sh. `list` (--list), `create` (--add) and
//! `delete` (--remove, which needs `--force`: kwire never prompts). Text
//! output is kafka-acls.sh's ("Current ACLs for resource `ResourcePattern(…)`:"
//! and one tab-indented entry per ACL); `--format json` prints one document.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};
use kwire_meta::acls::check_principal;
use kwire_meta::{
    AclBinding, AclBindingFilter, AclOperation, AclPermission, AclResourceType, Cluster, PatternType,
};
use serde_json::json;

use crate::args::acls::{AclAction, AclsArgs};
use crate::args::format::Format;
use crate::config::ClientSettings;

/// What to do, fully resolved from the flags before anything is sent.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// List ACLs matching the filters.
    List(Vec<AclBindingFilter>),
    /// Create these bindings.
    Create(Vec<AclBinding>),
    /// Delete bindings matching these filters.
    Delete(Vec<AclBindingFilter>),
}

fn action(a: &AclsArgs) -> Result<AclAction> {
    let mut acts = Vec::new();
    if let Some(x) = a.action {
        acts.push(x);
    }
    if a.list {
        acts.push(AclAction::List);
    }
    if a.add {
        acts.push(AclAction::Create);
    }
    if a.remove {
        acts.push(AclAction::Delete);
    }
    acts.dedup();
    match acts[..] {
        [x] => Ok(x),
        [] => bail!("kwire acls needs one action: list, create or delete (--list, --add, --remove)"),
        _ => bail!("kwire acls takes one action: list, create or delete (--list, --add, --remove)"),
    }
}

fn resources(a: &AclsArgs) -> Vec<(AclResourceType, String)> {
    let mut r = Vec::new();
    r.extend(a.topic.iter().map(|n| (AclResourceType::Topic, n.clone())));
    r.extend(a.group.iter().map(|n| (AclResourceType::Group, n.clone())));
    if a.cluster {
        r.push((AclResourceType::Cluster, "kafka-cluster".to_owned()));
    }
    r.extend(a.transactional_id.iter().map(|n| (AclResourceType::TransactionalId, n.clone())));
    r.extend(a.delegation_token.iter().map(|n| (AclResourceType::DelegationToken, n.clone())));
    r.extend(a.user_principal.iter().map(|n| (AclResourceType::User, n.clone())));
    r
}

/// A resource and the operations on it.
type ResourceOps = Vec<((AclResourceType, String), Vec<AclOperation>)>;

/// (resource, operations) pairs from --operation or --producer/--consumer.
fn resource_ops(a: &AclsArgs, default: AclOperation) -> Result<ResourceOps> {
    let res = resources(a);
    if a.producer || a.consumer {
        if !a.operation.is_empty() {
            bail!("--operation cannot be combined with --producer or --consumer");
        }
        if a.consumer && a.group.is_empty() {
            bail!("--consumer needs --group");
        }
        if a.topic.is_empty() {
            bail!("--producer and --consumer need --topic");
        }
        let mut out: ResourceOps = Vec::new();
        let mut add = |r: (AclResourceType, String), ops: &[AclOperation]| match out
            .iter_mut()
            .find(|(x, _)| *x == r)
        {
            Some((_, v)) => v.extend(ops.iter().filter(|o| !v.contains(o)).copied().collect::<Vec<_>>()),
            None => out.push((r, ops.to_vec())),
        };
        use AclOperation as O;
        if a.producer {
            for t in &a.topic {
                add((AclResourceType::Topic, t.clone()), &[O::Write, O::Describe, O::Create]);
            }
            for t in &a.transactional_id {
                add((AclResourceType::TransactionalId, t.clone()), &[O::Write, O::Describe]);
            }
            if a.idempotent {
                add((AclResourceType::Cluster, "kafka-cluster".into()), &[O::IdempotentWrite]);
            }
        }
        if a.consumer {
            for t in &a.topic {
                add((AclResourceType::Topic, t.clone()), &[O::Read, O::Describe]);
            }
            for g in &a.group {
                add((AclResourceType::Group, g.clone()), &[O::Read]);
            }
        }
        return Ok(out);
    }
    if a.idempotent {
        bail!("--idempotent goes with --producer");
    }
    let ops = if a.operation.is_empty() {
        vec![default]
    } else {
        a.operation
            .iter()
            .map(|o| o.parse::<AclOperation>().map_err(|e| anyhow!("{e}")))
            .collect::<Result<Vec<_>>>()?
    };
    Ok(res.into_iter().map(|r| (r, ops.clone())).collect())
}

fn principals(a: &AclsArgs) -> Result<Vec<(AclPermission, String, Vec<String>)>> {
    for p in a.allow_principal.iter().chain(&a.deny_principal).chain(&a.principal) {
        check_principal(p).map_err(|e| anyhow!("{e}"))?;
    }
    let hosts = |h: &Vec<String>| if h.is_empty() { vec!["*".to_owned()] } else { h.clone() };
    let mut out = Vec::new();
    for p in &a.allow_principal {
        out.push((AclPermission::Allow, p.clone(), hosts(&a.allow_host)));
    }
    for p in &a.deny_principal {
        out.push((AclPermission::Deny, p.clone(), hosts(&a.deny_host)));
    }
    Ok(out)
}

/// Resolves the flags into one [`Plan`]; every bad input is an error here,
/// before anything is sent.
pub fn plan(a: &AclsArgs) -> Result<Plan> {
    let act = action(a)?;
    let pattern = match &a.resource_pattern_type {
        Some(p) => Some(p.parse::<PatternType>().map_err(|e| anyhow!("{e}"))?),
        None => None,
    };
    let prins = principals(a)?;
    if act != AclAction::Delete && a.force {
        bail!("--force goes with --remove (delete)");
    }
    if act != AclAction::List && !a.principal.is_empty() {
        bail!("--principal goes with --list; use --allow-principal/--deny-principal to add or remove");
    }
    match act {
        AclAction::List => {
            if !prins.is_empty() || !a.operation.is_empty() || a.producer || a.consumer {
                bail!("--list takes resources, --resource-pattern-type and --principal only");
            }
            let res = resources(a);
            let principals: Vec<Option<String>> = if a.principal.is_empty() {
                vec![None]
            } else {
                a.principal.iter().cloned().map(Some).collect()
            };
            let mut out = Vec::new();
            for p in &principals {
                if res.is_empty() {
                    let mut f = AclBindingFilter::any();
                    f.principal = p.clone();
                    if let Some(pt) = pattern {
                        f.pattern_type = pt;
                    }
                    out.push(f);
                }
                for (rt, name) in &res {
                    let mut f = AclBindingFilter::any();
                    f.resource_type = *rt;
                    f.name = Some(name.clone());
                    f.pattern_type = pattern.unwrap_or(PatternType::Literal);
                    f.principal = p.clone();
                    out.push(f);
                }
            }
            Ok(Plan::List(out))
        }
        AclAction::Create => {
            let pt = pattern.unwrap_or(PatternType::Literal);
            if !matches!(pt, PatternType::Literal | PatternType::Prefixed) {
                bail!("--resource-pattern-type {pt} cannot be added: use literal or prefixed");
            }
            if prins.is_empty() {
                bail!("create needs --allow-principal or --deny-principal");
            }
            let ro = resource_ops(a, AclOperation::All)?;
            if ro.is_empty() {
                bail!(
                    "create needs a resource: --topic, --group, --cluster, --transactional-id, --delegation-token or --user-principal"
                );
            }
            let mut out = Vec::new();
            for ((rt, name), ops) in &ro {
                for (perm, p, hosts) in &prins {
                    for h in hosts {
                        for op in ops {
                            out.push(AclBinding {
                                resource_type: *rt,
                                name: name.clone(),
                                pattern_type: pt,
                                principal: p.clone(),
                                host: h.clone(),
                                operation: *op,
                                permission: *perm,
                            });
                        }
                    }
                }
            }
            Ok(Plan::Create(out))
        }
        AclAction::Delete => {
            if !a.force {
                bail!("delete (--remove) needs --force: kwire never prompts, and nothing was deleted");
            }
            let pt = pattern.unwrap_or(PatternType::Literal);
            let ro = resource_ops(a, AclOperation::Any)?;
            if ro.is_empty() {
                bail!(
                    "delete needs a resource: --topic, --group, --cluster, --transactional-id, --delegation-token or --user-principal"
                );
            }
            let mut out = Vec::new();
            for ((rt, name), ops) in &ro {
                let base = AclBindingFilter {
                    resource_type: *rt,
                    name: Some(name.clone()),
                    pattern_type: pt,
                    ..AclBindingFilter::any()
                };
                if prins.is_empty() {
                    if a.operation.is_empty() && !a.producer && !a.consumer {
                        out.push(base);
                    } else {
                        out.extend(ops.iter().map(|op| AclBindingFilter { operation: *op, ..base.clone() }));
                    }
                    continue;
                }
                for (perm, p, hosts) in &prins {
                    for h in hosts {
                        for op in ops {
                            out.push(AclBindingFilter {
                                principal: Some(p.clone()),
                                host: Some(h.clone()),
                                operation: *op,
                                permission: *perm,
                                ..base.clone()
                            });
                        }
                    }
                }
            }
            Ok(Plan::Delete(out))
        }
    }
}

fn binding_json(b: &AclBinding) -> serde_json::Value {
    json!({
        "resourceType": b.resource_type.kafka_name(),
        "name": b.name,
        "patternType": b.pattern_type.kafka_name(),
        "principal": b.principal,
        "host": b.host,
        "operation": b.operation.kafka_name(),
        "permissionType": b.permission.kafka_name(),
    })
}

/// kafka-acls.sh's grouping: one block per resource pattern.
fn print_blocks(header: &str, bindings: &[AclBinding]) {
    let mut by: BTreeMap<(AclResourceType, String, PatternType), Vec<&AclBinding>> = BTreeMap::new();
    for b in bindings {
        by.entry((b.resource_type, b.name.clone(), b.pattern_type)).or_default().push(b);
    }
    for v in by.values() {
        let entries: Vec<String> = v.iter().map(|b| format!("\t{}", b.entry())).collect();
        println!("{header} `{}`: \n {} \n", v[0].resource_pattern(), entries.join("\n"));
    }
}

pub async fn run(settings: &ClientSettings, args: AclsArgs) -> Result<ExitCode> {
    let plan = plan(&args)?;
    let cluster = Cluster::new(settings.cluster.clone());
    let json = args.format == Format::Json;
    match plan {
        Plan::List(filters) => {
            let mut all = Vec::new();
            for f in &filters {
                all.extend(cluster.describe_acls(f).await?);
            }
            all.sort();
            all.dedup();
            if json {
                let v: Vec<_> = all.iter().map(binding_json).collect();
                println!("{}", json!({ "acls": v }));
            } else {
                print_blocks("Current ACLs for resource", &all);
            }
        }
        Plan::Create(bindings) => {
            let results = cluster.create_acls(&bindings).await?;
            let failed: Vec<String> =
                results.iter().filter_map(|r| r.as_ref().err().map(ToString::to_string)).collect();
            let created: Vec<AclBinding> =
                bindings.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(b, _)| b.clone()).collect();
            if json {
                let v: Vec<_> = created.iter().map(binding_json).collect();
                println!("{}", json!({ "created": v, "errors": failed }));
            } else {
                print_blocks("Adding ACLs for resource", &created);
            }
            if !failed.is_empty() {
                bail!("{}", failed.join("; "));
            }
        }
        Plan::Delete(filters) => {
            let results = cluster.delete_acls(&filters).await?;
            let mut deleted = Vec::new();
            let mut failed = Vec::new();
            for r in results {
                match r {
                    Ok(v) => deleted.extend(v),
                    Err(e) => failed.push(e.to_string()),
                }
            }
            deleted.sort();
            deleted.dedup();
            if json {
                let v: Vec<_> = deleted.iter().map(binding_json).collect();
                println!("{}", json!({ "deleted": v, "errors": failed }));
            } else {
                print_blocks("Removed ACLs for resource", &deleted);
            }
            if !failed.is_empty() {
                bail!("{}", failed.join("; "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Plan> {
        let mut v = vec!["kwire", "acls"];
        v.extend_from_slice(args);
        let cli = crate::args::Cli::try_parse_from(v).map_err(|e| anyhow!("{e}"))?;
        match cli.command {
            crate::args::Command::Acls(a) => plan(&a),
            _ => bail!("not acls"),
        }
    }

    #[test]
    fn add_with_kafka_flags() {
        let Plan::Create(b) = parse(&[
            "--add",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Write",
            "--operation",
            "describe",
            "--topic",
            "t",
        ])
        .unwrap() else {
            panic!("not create")
        };
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].entry(), "(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)");
        assert_eq!(b[1].operation, AclOperation::Describe);
        assert_eq!(b[0].pattern_type, PatternType::Literal);
    }

    #[test]
    fn subcommand_word_and_producer_consumer() {
        let Plan::Create(b) = parse(&[
            "create",
            "--allow-principal",
            "User:bob",
            "--producer",
            "--consumer",
            "--topic",
            "t",
            "--group",
            "g",
            "--idempotent",
            "--resource-pattern-type",
            "prefixed",
        ])
        .unwrap() else {
            panic!("not create")
        };
        let ops: Vec<_> = b.iter().map(|x| (x.resource_type, x.operation)).collect();
        use AclOperation as O;
        use AclResourceType as R;
        assert_eq!(
            ops,
            [
                (R::Topic, O::Write),
                (R::Topic, O::Describe),
                (R::Topic, O::Create),
                (R::Topic, O::Read),
                (R::Cluster, O::IdempotentWrite),
                (R::Group, O::Read),
            ]
            .iter()
            .copied()
            .filter(|x| ops.contains(x))
            .collect::<Vec<_>>()
        );
        assert_eq!(b.len(), 6);
        assert!(b.iter().all(|x| x.pattern_type == PatternType::Prefixed));
        assert!(parse(&["--add", "--allow-principal", "User:bob", "--consumer", "--topic", "t"]).is_err());
    }

    #[test]
    fn list_filters() {
        let Plan::List(f) = parse(&["--list"]).unwrap() else { panic!() };
        assert_eq!(f, [AclBindingFilter::any()]);
        let Plan::List(f) = parse(&["list", "--topic", "t", "--principal", "User:a"]).unwrap() else {
            panic!()
        };
        assert_eq!(f[0].resource_type, AclResourceType::Topic);
        assert_eq!(f[0].principal.as_deref(), Some("User:a"));
        let Plan::List(f) = parse(&["--list", "--topic", "t", "--resource-pattern-type", "match"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(f[0].pattern_type, PatternType::Match);
    }

    #[test]
    fn bad_inputs_are_one_line_errors() {
        let e = parse(&["--add", "--allow-principal", "alice", "--topic", "t"]).unwrap_err().to_string();
        assert!(e.contains("Type:name"), "{e}");
        let e = parse(&["--add", "--allow-principal", "User:a", "--operation", "Frob", "--topic", "t"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown operation 'Frob'"), "{e}");
        let e = parse(&["--remove", "--topic", "t"]).unwrap_err().to_string();
        assert!(e.contains("needs --force"), "{e}");
        assert!(matches!(parse(&["--remove", "--force", "--topic", "t"]).unwrap(), Plan::Delete(_)));
        assert!(parse(&["--list", "--add"]).is_err());
        assert!(parse(&[]).is_err());
        let e = parse(&[
            "--add",
            "--allow-principal",
            "User:a",
            "--topic",
            "t",
            "--resource-pattern-type",
            "any",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("literal or prefixed"), "{e}");
    }
}
