//! Arguments of `kwire acls` (kafka-acls.sh's flags, and `list|create|delete`
//! as a subcommand word).

use clap::{Args, ValueEnum};

use super::format::Format;

/// What `kwire acls` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AclAction {
    /// List ACLs (= --list)
    List,
    /// Create ACLs (= --add)
    Create,
    /// Delete ACLs (= --remove; needs --force)
    Delete,
}

/// `kwire acls`: list, create and delete ACLs (kafka-acls.sh).
#[derive(Debug, Args)]
pub struct AclsArgs {
    /// list, create or delete (or kafka-acls.sh's --list / --add / --remove)
    #[arg(value_enum)]
    pub action: Option<AclAction>,
    /// List ACLs matching the resource/principal flags
    #[arg(long)]
    pub list: bool,
    /// Add ACLs
    #[arg(long)]
    pub add: bool,
    /// Remove ACLs (requires --force: kwire never prompts)
    #[arg(long)]
    pub remove: bool,
    /// Really remove (kafka-acls.sh's "skip the prompt"; kwire requires it for --remove)
    #[arg(long)]
    pub force: bool,
    /// Topic resource(s); `*` for all topics
    #[arg(long, value_name = "TOPIC")]
    pub topic: Vec<String>,
    /// Consumer group resource(s); `*` for all groups
    #[arg(long, value_name = "GROUP")]
    pub group: Vec<String>,
    /// The cluster resource
    #[arg(long)]
    pub cluster: bool,
    /// Transactional id resource(s)
    #[arg(long = "transactional-id", value_name = "ID")]
    pub transactional_id: Vec<String>,
    /// Delegation token resource(s)
    #[arg(long = "delegation-token", value_name = "TOKEN")]
    pub delegation_token: Vec<String>,
    /// User principal resource(s) (as a resource, e.g. for CreateTokens)
    #[arg(long = "user-principal", value_name = "PRINCIPAL")]
    pub user_principal: Vec<String>,
    /// literal or prefixed (add); also match or any (list, remove) [default: literal for add, any otherwise]
    #[arg(long = "resource-pattern-type", value_name = "TYPE")]
    pub resource_pattern_type: Option<String>,
    /// Principal to allow, Type:name (e.g. User:alice)
    #[arg(long = "allow-principal", value_name = "PRINCIPAL")]
    pub allow_principal: Vec<String>,
    /// Principal to deny, Type:name
    #[arg(long = "deny-principal", value_name = "PRINCIPAL")]
    pub deny_principal: Vec<String>,
    /// Host(s) to allow from [default: * when --allow-principal is given]
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// Host(s) to deny from [default: * when --deny-principal is given]
    #[arg(long = "deny-host", value_name = "HOST")]
    pub deny_host: Vec<String>,
    /// Operation(s): Read, Write, Create, Delete, Alter, Describe, ClusterAction,
    /// DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens, All
    #[arg(long, value_name = "OP")]
    pub operation: Vec<String>,
    /// Producer ACLs: Write, Describe, Create on the topics (+ Write/Describe on
    /// --transactional-id, IdempotentWrite on the cluster with --idempotent)
    #[arg(long)]
    pub producer: bool,
    /// Consumer ACLs: Read, Describe on the topics, Read on the --group
    #[arg(long)]
    pub consumer: bool,
    /// With --producer: IdempotentWrite on the cluster
    #[arg(long)]
    pub idempotent: bool,
    /// With --list: only ACLs of this principal
    #[arg(long, value_name = "PRINCIPAL")]
    pub principal: Vec<String>,
    /// Output format: text (kafka-acls.sh's) or json
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}
