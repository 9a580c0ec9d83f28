//! Arguments of `kwire configs` (kafka-configs.sh's flags) and the parsing of
//! its entity and `--add-config` forms.

use std::path::PathBuf;

use clap::Args;

use super::format::Format;

/// `kwire configs describe|alter`, or kafka-configs.sh's `--describe`/`--alter`.
#[derive(Debug, Args)]
pub struct ConfigsArgs {
    /// What to do: describe or alter (or --describe / --alter)
    #[arg(value_name = "ACTION", value_parser = ["describe", "alter"])]
    pub action: Option<String>,
    /// Show configs (kafka-configs.sh form)
    #[arg(long)]
    pub describe: bool,
    /// Change configs (kafka-configs.sh form)
    #[arg(long)]
    pub alter: bool,
    /// Entity type: topics, brokers, clients, users, groups (repeatable: users + clients)
    #[arg(long = "entity-type", value_name = "TYPE")]
    pub entity_type: Vec<String>,
    /// Entity name (topic, broker id, client id, user principal, group)
    #[arg(long = "entity-name", value_name = "NAME")]
    pub entity_name: Vec<String>,
    /// The default entity (brokers, clients, users)
    #[arg(long = "entity-default", action = clap::ArgAction::Count)]
    pub entity_default: u8,
    /// Shorthand for --entity-type topics --entity-name TOPIC
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Shorthand for --entity-type brokers --entity-name ID
    #[arg(long, value_name = "ID")]
    pub broker: Option<String>,
    /// Shorthand for --entity-type brokers --entity-default
    #[arg(long)]
    pub broker_defaults: bool,
    /// Shorthand for --entity-type users --entity-name USER
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Shorthand for --entity-type users --entity-default
    #[arg(long)]
    pub user_defaults: bool,
    /// Shorthand for --entity-type clients --entity-name CLIENT_ID
    #[arg(long, value_name = "CLIENT_ID")]
    pub client: Option<String>,
    /// Shorthand for --entity-type clients --entity-default
    #[arg(long)]
    pub client_defaults: bool,
    /// Shorthand for --entity-type groups --entity-name GROUP
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// With describe: every config (defaults too), not just the dynamic ones (topics, brokers)
    #[arg(long)]
    pub all: bool,
    /// Configs to set: 'k1=v1,k2=[v1,v2]' (repeatable)
    #[arg(long = "add-config", value_name = "K=V,...")]
    pub add_config: Vec<String>,
    /// A properties file of configs to set
    #[arg(long = "add-config-file", value_name = "FILE")]
    pub add_config_file: Option<PathBuf>,
    /// Configs to remove: 'k1,k2' (repeatable)
    #[arg(long = "delete-config", value_name = "K,...")]
    pub delete_config: Vec<String>,
    /// Output format: text (kafka-configs.sh's) or json (describe: the configs; alter: what was
    /// set, without passwords, and what was deleted)
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// An entity type of kafka-configs.sh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    /// topics
    Topics,
    /// brokers
    Brokers,
    /// clients (client ids: quotas)
    Clients,
    /// users (principals: quotas and SCRAM credentials)
    Users,
    /// groups (group configs)
    Groups,
}

impl EntityType {
    /// From kafka-configs.sh's name (`topics`, …; the singular is accepted too).
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "topics" | "topic" => EntityType::Topics,
            "brokers" | "broker" => EntityType::Brokers,
            "clients" | "client" => EntityType::Clients,
            "users" | "user" => EntityType::Users,
            "groups" | "group" => EntityType::Groups,
            _ => {
                return Err(format!(
                    "unknown --entity-type '{s}': expected one of topics, brokers, clients, users, groups"
                ));
            }
        })
    }

    /// The plural name.
    pub fn name(self) -> &'static str {
        match self {
            EntityType::Topics => "topics",
            EntityType::Brokers => "brokers",
            EntityType::Clients => "clients",
            EntityType::Users => "users",
            EntityType::Groups => "groups",
        }
    }

    /// The singular name.
    pub fn singular(self) -> &'static str {
        let n = self.name();
        &n[..n.len() - 1]
    }
}

/// One `(type, name)`; `None` is the type's default entity.
pub type Entity = (EntityType, Option<String>);

/// Reads the entities from the command line in the order given (that order
/// pairs each --entity-type with its --entity-name / --entity-default, as in
/// kafka-configs.sh). `argv` is the raw command line.
pub fn entities_from_argv(argv: &[String]) -> Result<Vec<Entity>, String> {
    let mut types: Vec<EntityType> = Vec::new();
    let mut names: Vec<Option<String>> = Vec::new();
    let mut out: Vec<Entity> = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let (flag, inline) = match argv[i].split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (argv[i].as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            argv.get(i).cloned().ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--entity-type" => types.push(EntityType::parse(&value()?)?),
            "--entity-name" => names.push(Some(value()?)),
            "--entity-default" => names.push(None),
            "--topic" => out.push((EntityType::Topics, Some(value()?))),
            "--broker" => out.push((EntityType::Brokers, Some(value()?))),
            "--broker-defaults" => out.push((EntityType::Brokers, None)),
            "--user" => out.push((EntityType::Users, Some(value()?))),
            "--user-defaults" => out.push((EntityType::Users, None)),
            "--client" => out.push((EntityType::Clients, Some(value()?))),
            "--client-defaults" => out.push((EntityType::Clients, None)),
            "--group" => out.push((EntityType::Groups, Some(value()?))),
            "--" => break,
            _ => {}
        }
        i += 1;
    }
    if names.len() > types.len() {
        return Err(format!(
            "{} entity names (--entity-name/--entity-default) but {} --entity-type",
            names.len(),
            types.len()
        ));
    }
    // A type without a name (describe only): every entity of that type,
    // marked by an empty name.
    for (k, t) in types.into_iter().enumerate() {
        match names.get(k) {
            Some(n) => out.push((t, n.clone())),
            None => out.push((t, Some(String::new()))),
        }
    }
    for (t, n) in &out {
        if n.is_none() && matches!(t, EntityType::Topics | EntityType::Groups) {
            return Err(format!(
                "{} have no default entity (--entity-default is for brokers, clients, users)",
                t.name()
            ));
        }
    }
    if out.is_empty() {
        return Err("say which entity: --entity-type TYPE --entity-name NAME (or --topic, --broker, \
                    --broker-defaults, --user, --client, --group)"
            .to_owned());
    }
    if out.len() > 1 {
        let mut kinds: Vec<EntityType> = out.iter().map(|e| e.0).collect();
        kinds.sort_by_key(|k| k.name());
        if kinds != [EntityType::Clients, EntityType::Users] {
            return Err("only one entity at a time, or a user together with a client (quotas)".to_owned());
        }
    }
    Ok(out)
}

/// Splits `k1=v1,k2=[a,b]` into pairs; commas inside `[...]` belong to the value.
pub fn parse_add_config(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    let mut parts = Vec::new();
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return Err(format!("invalid --add-config '{s}': unbalanced ']'"));
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if depth != 0 {
        return Err(format!("invalid --add-config '{s}': unbalanced '['"));
    }
    parts.push(cur);
    for p in parts {
        if p.trim().is_empty() {
            continue;
        }
        match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                let v = v.trim();
                let v = v.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(v);
                out.push((k.trim().to_owned(), v.to_owned()));
            }
            _ => return Err(format!("invalid --add-config '{s}': expected k1=v1,k2=[v1,v2,v2],k3=v3")),
        }
    }
    if out.is_empty() {
        return Err(format!("invalid --add-config '{s}': no KEY=VALUE in it"));
    }
    Ok(out)
}

/// Splits `k1,k2` into names.
pub fn parse_delete_config(s: &str) -> Result<Vec<String>, String> {
    let keys: Vec<String> =
        s.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect();
    if keys.is_empty() {
        return Err(format!("invalid --delete-config '{s}': expected k1,k2"));
    }
    Ok(keys)
}

/// SCRAM credential settings: `iterations=8192,password=secret`.
pub fn parse_scram_value(key: &str, v: &str) -> Result<(Option<i32>, String), String> {
    let mut iterations = None;
    let mut password = None;
    for part in v.split(',') {
        match part.split_once('=') {
            Some(("iterations", n)) => {
                iterations = Some(n.trim().parse::<i32>().map_err(|_| {
                    format!("invalid {key} iterations '{}': expected a whole number", n.trim())
                })?);
            }
            Some(("password", p)) => password = Some(p.to_owned()),
            _ => return Err(format!("invalid {key} value: expected [iterations=N,password=SECRET]")),
        }
    }
    let password = password.ok_or_else(|| format!("{key} needs password=... (e.g. {key}=[password=...])"))?;
    Ok((iterations, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn entities_in_order() {
        let e = entities_from_argv(&argv("kwire configs --entity-type topics --entity-name t --describe"))
            .unwrap();
        assert_eq!(e, vec![(EntityType::Topics, Some("t".into()))]);
        let e = entities_from_argv(&argv(
            "--entity-type users --entity-default --entity-type clients --entity-name c1",
        ))
        .unwrap();
        assert_eq!(e, vec![(EntityType::Users, None), (EntityType::Clients, Some("c1".into()))]);
        let e = entities_from_argv(&argv("--broker-defaults")).unwrap();
        assert_eq!(e, vec![(EntityType::Brokers, None)]);
        let e = entities_from_argv(&argv("--topic=x --describe")).unwrap();
        assert_eq!(e, vec![(EntityType::Topics, Some("x".into()))]);
        let e = entities_from_argv(&argv("--entity-type users")).unwrap();
        assert_eq!(e, vec![(EntityType::Users, Some(String::new()))]);
        let err = entities_from_argv(&argv("--entity-type widgets --entity-name x")).unwrap_err();
        assert!(err.contains("widgets"), "{err}");
        assert!(entities_from_argv(&argv("--topic a --broker 1")).is_err());
        assert!(entities_from_argv(&argv("--entity-type topics --entity-default")).is_err());
        assert!(entities_from_argv(&argv("--describe")).is_err());
        assert!(entities_from_argv(&argv("--entity-name x")).is_err());
    }

    #[test]
    fn add_config_forms() {
        assert_eq!(
            parse_add_config("a=1,b=[x,y],c=z").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "x,y".into()), ("c".into(), "z".into())]
        );
        assert_eq!(
            parse_add_config("SCRAM-SHA-256=[iterations=8192,password=p=w]").unwrap(),
            vec![("SCRAM-SHA-256".into(), "iterations=8192,password=p=w".into())]
        );
        assert!(parse_add_config("retention.ms").is_err());
        assert!(parse_add_config("a=[1,2").is_err());
        assert!(parse_add_config("=1").is_err());
        assert!(parse_add_config("").is_err());
        assert_eq!(parse_delete_config("a, b").unwrap(), vec!["a".to_owned(), "b".to_owned()]);
        assert!(parse_delete_config(",").is_err());
    }

    #[test]
    fn scram_values() {
        assert_eq!(
            parse_scram_value("SCRAM-SHA-256", "iterations=8192,password=s3").unwrap(),
            (Some(8192), "s3".to_owned())
        );
        assert_eq!(parse_scram_value("SCRAM-SHA-256", "password=a,b").ok(), None);
        assert!(parse_scram_value("SCRAM-SHA-256", "iterations=x,password=p").is_err());
        assert!(parse_scram_value("SCRAM-SHA-256", "iterations=4096").is_err());
    }
}
