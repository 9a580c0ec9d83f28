//! ACL administration (what `kafka-acls.sh` does): describe, create and
//! delete ACL bindings through the broker's authorizer.
//!
//! The vocabulary is Kafka's (`ResourceType`, `PatternType`, `AclOperation`,
//! `AclPermissionType`); names parse case-insensitively, with or without
//! underscores (`IdempotentWrite`, `IDEMPOTENT_WRITE`, `idempotent-write`).

use kwire_conn::{ConnError, Connection};
use kwire_proto::ErrorCode;
use kwire_proto::api::ApiKey;
use kwire_proto::msg::acls::{
    WireAcl, WireAclFilter, create_acls_request, delete_acls_request, describe_acls_request,
};

use crate::{Cluster, MetaError};

/// SECURITY_DISABLED: the broker has no authorizer.
pub const SECURITY_DISABLED: ErrorCode = ErrorCode(54);

fn norm(s: &str) -> String {
    s.chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_ascii_lowercase()
}

macro_rules! kafka_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $v:ident = $code:literal, $kafka:literal;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $v,)* }
        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
            /// Kafka's wire code.
            pub fn code(self) -> i8 { match self { $($name::$v => $code,)* } }
            /// The value of a wire code.
            pub fn from_code(c: i8) -> Option<Self> { match c { $($code => Some($name::$v),)* _ => None } }
            /// Kafka's name (`TOPIC`, `LITERAL`, `IDEMPOTENT_WRITE`, …).
            pub fn kafka_name(self) -> &'static str { match self { $($name::$v => $kafka,)* } }
        }
        impl std::str::FromStr for $name {
            type Err = MetaError;
            fn from_str(s: &str) -> Result<Self, MetaError> {
                let n = norm(s);
                $name::ALL.iter().copied().find(|x| norm(x.kafka_name()) == n).ok_or_else(|| {
                    let names: Vec<_> = $name::ALL.iter().map(|x| x.kafka_name()).collect();
                    MetaError::Invalid(format!("unknown {} '{s}' (one of {})", $what, names.join(", ")))
                })
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.kafka_name()) }
        }
    };
}

kafka_enum!(
    /// A resource type an ACL protects (`Any` only in filters).
    AclResourceType, "resource type" {
        /// Any (filters only).
        Any = 1, "ANY";
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer group.
        Group = 3, "GROUP";
        /// The cluster (name `kafka-cluster`).
        Cluster = 4, "CLUSTER";
        /// A transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
        /// A delegation token.
        DelegationToken = 6, "DELEGATION_TOKEN";
        /// A user principal.
        User = 7, "USER";
    }
);

kafka_enum!(
    /// How a binding's name matches resources (`Any`/`Match` only in filters).
    PatternType, "pattern type" {
        /// Any pattern type (filters only).
        Any = 1, "ANY";
        /// Every binding that would apply to the named resource (filters only).
        Match = 2, "MATCH";
        /// The exact name (`*`: every resource).
        Literal = 3, "LITERAL";
        /// Every name starting with the binding's name.
        Prefixed = 4, "PREFIXED";
    }
);

kafka_enum!(
    /// An operation an ACL allows or denies.
    AclOperation, "operation" {
        /// Any (filters only).
        Any = 1, "ANY";
        /// Every operation.
        All = 2, "ALL";
        /// Read.
        Read = 3, "READ";
        /// Write.
        Write = 4, "WRITE";
        /// Create.
        Create = 5, "CREATE";
        /// Delete.
        Delete = 6, "DELETE";
        /// Alter.
        Alter = 7, "ALTER";
        /// Describe.
        Describe = 8, "DESCRIBE";
        /// ClusterAction.
        ClusterAction = 9, "CLUSTER_ACTION";
        /// DescribeConfigs.
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        /// AlterConfigs.
        AlterConfigs = 11, "ALTER_CONFIGS";
        /// IdempotentWrite.
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        /// CreateTokens.
        CreateTokens = 13, "CREATE_TOKENS";
        /// DescribeTokens.
        DescribeTokens = 14, "DESCRIBE_TOKENS";
        /// TwoPhaseCommit (KIP-939).
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
);

kafka_enum!(
    /// Allow or deny (`Any` only in filters).
    AclPermission, "permission type" {
        /// Any (filters only).
        Any = 1, "ANY";
        /// Deny.
        Deny = 2, "DENY";
        /// Allow.
        Allow = 3, "ALLOW";
    }
);

/// Checks a principal's syntax: `Type:name` with both parts non-empty
/// (`User:alice`, `User:*`).
pub fn check_principal(p: &str) -> Result<(), MetaError> {
    match p.split_once(':') {
        Some((t, n)) if !t.is_empty() && !n.is_empty() && !t.contains(char::is_whitespace) => Ok(()),
        _ => Err(MetaError::Invalid(format!(
            "bad principal '{p}': a principal is Type:name (e.g. User:alice, User:*)"
        ))),
    }
}

/// One ACL: who may (or may not) do what on which resources, from where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    /// Resource type.
    pub resource_type: AclResourceType,
    /// Resource name (`*`: all, with [`PatternType::Literal`]).
    pub name: String,
    /// Literal or prefixed.
    pub pattern_type: PatternType,
    /// `Type:name`.
    pub principal: String,
    /// Host (`*`: any).
    pub host: String,
    /// Operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermission,
}

/// A filter over ACL bindings: `None` matches anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBindingFilter {
    /// Resource type ([`AclResourceType::Any`]: any).
    pub resource_type: AclResourceType,
    /// Resource name.
    pub name: Option<String>,
    /// Pattern type (`Any`, `Match`, `Literal`, `Prefixed`).
    pub pattern_type: PatternType,
    /// Principal.
    pub principal: Option<String>,
    /// Host.
    pub host: Option<String>,
    /// Operation ([`AclOperation::Any`]: any).
    pub operation: AclOperation,
    /// Permission ([`AclPermission::Any`]: any).
    pub permission: AclPermission,
}

impl AclBindingFilter {
    /// Matches every binding.
    pub fn any() -> Self {
        AclBindingFilter {
            resource_type: AclResourceType::Any,
            name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// Matches exactly `b`.
    pub fn exact(b: &AclBinding) -> Self {
        AclBindingFilter {
            resource_type: b.resource_type,
            name: Some(b.name.clone()),
            pattern_type: b.pattern_type,
            principal: Some(b.principal.clone()),
            host: Some(b.host.clone()),
            operation: b.operation,
            permission: b.permission,
        }
    }

    fn wire(&self) -> Result<WireAclFilter, MetaError> {
        if let Some(p) = &self.principal {
            check_principal(p)?;
        }
        Ok(WireAclFilter {
            resource_type: self.resource_type.code(),
            resource_name: self.name.clone(),
            pattern_type: self.pattern_type.code(),
            principal: self.principal.clone(),
            host: self.host.clone(),
            operation: self.operation.code(),
            permission: self.permission.code(),
        })
    }
}

impl AclBinding {
    /// Kafka's `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`.
    pub fn resource_pattern(&self) -> String {
        format!(
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type, self.name, self.pattern_type
        )
    }

    /// Kafka's `(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)`.
    pub fn entry(&self) -> String {
        format!(
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal, self.host, self.operation, self.permission
        )
    }

    fn check(&self) -> Result<WireAcl, MetaError> {
        check_principal(&self.principal)?;
        if matches!(self.resource_type, AclResourceType::Any)
            || matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            || matches!(self.operation, AclOperation::Any)
            || matches!(self.permission, AclPermission::Any)
        {
            return Err(MetaError::Invalid(format!(
                "an ACL to create needs a concrete resource type, pattern type (LITERAL or PREFIXED), operation and permission: {} {}",
                self.resource_pattern(),
                self.entry()
            )));
        }
        if self.name.is_empty() || self.host.is_empty() {
            return Err(MetaError::Invalid("an ACL's resource name and host must not be empty".into()));
        }
        Ok(WireAcl {
            resource_type: self.resource_type.code(),
            resource_name: self.name.clone(),
            pattern_type: self.pattern_type.code(),
            principal: self.principal.clone(),
            host: self.host.clone(),
            operation: self.operation.code(),
            permission: self.permission.code(),
        })
    }

    fn from_wire(w: WireAcl) -> Result<Self, MetaError> {
        let bad = |what: &str, c: i8| {
            MetaError::Invalid(format!("broker sent an ACL with unknown {what} code {c}"))
        };
        Ok(AclBinding {
            resource_type: AclResourceType::from_code(w.resource_type)
                .ok_or_else(|| bad("resource type", w.resource_type))?,
            name: w.resource_name,
            pattern_type: PatternType::from_code(w.pattern_type)
                .ok_or_else(|| bad("pattern type", w.pattern_type))?,
            principal: w.principal,
            host: w.host,
            operation: AclOperation::from_code(w.operation).ok_or_else(|| bad("operation", w.operation))?,
            permission: AclPermission::from_code(w.permission)
                .ok_or_else(|| bad("permission type", w.permission))?,
        })
    }
}

fn acl_err(what: &str, code: ErrorCode, message: Option<String>) -> MetaError {
    if code == SECURITY_DISABLED {
        return MetaError::Invalid(format!(
            "{what}: the broker has no authorizer configured (authorizer.class.name)"
        ));
    }
    MetaError::Broker { context: what.to_owned(), code, message }
}

async fn version(conn: &Connection, key: ApiKey, what: &str) -> Result<i16, MetaError> {
    conn.version(key).map_err(|e| match e {
        ConnError::UnsupportedApi { .. } => MetaError::Invalid(format!("{what}: {e}")),
        e => e.into(),
    })
}

impl Cluster {
    /// Every ACL binding matching `filter` (DescribeAcls).
    pub async fn describe_acls(&self, filter: &AclBindingFilter) -> Result<Vec<AclBinding>, MetaError> {
        let what = "describe ACLs";
        let wf = filter.wire()?;
        let conn = self.any_broker().await?;
        let v = version(&conn, ApiKey::DescribeAcls, what).await?;
        let resp = conn.send_version(&describe_acls_request(&wf), v).await?;
        if resp.error_code.is_err() {
            return Err(acl_err(what, resp.error_code, resp.error_message));
        }
        let mut out = resp.acls.into_iter().map(AclBinding::from_wire).collect::<Result<Vec<_>, _>>()?;
        out.sort();
        Ok(out)
    }

    /// Creates `bindings` (CreateAcls); one result per binding, in order.
    /// Every binding is checked (principal syntax, concrete types) before
    /// anything is sent: one bad binding and nothing is created.
    pub async fn create_acls(
        &self,
        bindings: &[AclBinding],
    ) -> Result<Vec<Result<(), MetaError>>, MetaError> {
        let what = "create ACLs";
        let wire = bindings.iter().map(AclBinding::check).collect::<Result<Vec<_>, _>>()?;
        if wire.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.any_broker().await?;
        let v = version(&conn, ApiKey::CreateAcls, what).await?;
        let resp = conn.send_version(&create_acls_request(&wire), v).await?;
        if resp.results.len() != bindings.len() {
            return Err(MetaError::Invalid(format!(
                "{what}: broker answered {} results for {} ACLs",
                resp.results.len(),
                bindings.len()
            )));
        }
        if let Some(r) = resp.results.iter().find(|r| r.error_code == SECURITY_DISABLED) {
            return Err(acl_err(what, r.error_code, r.error_message.clone()));
        }
        Ok(resp
            .results
            .into_iter()
            .zip(bindings)
            .map(|(r, b)| {
                if r.error_code.is_err() {
                    Err(acl_err(
                        &format!("create ACL {} on {}", b.entry(), b.resource_pattern()),
                        r.error_code,
                        r.error_message,
                    ))
                } else {
                    Ok(())
                }
            })
            .collect())
    }

    /// Deletes every binding matching each filter (DeleteAcls); per filter,
    /// the bindings it deleted, or why not.
    pub async fn delete_acls(
        &self,
        filters: &[AclBindingFilter],
    ) -> Result<Vec<Result<Vec<AclBinding>, MetaError>>, MetaError> {
        let what = "delete ACLs";
        let wire = filters.iter().map(AclBindingFilter::wire).collect::<Result<Vec<_>, _>>()?;
        if wire.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.any_broker().await?;
        let v = version(&conn, ApiKey::DeleteAcls, what).await?;
        let resp = conn.send_version(&delete_acls_request(&wire), v).await?;
        if resp.filter_results.len() != filters.len() {
            return Err(MetaError::Invalid(format!(
                "{what}: broker answered {} results for {} filters",
                resp.filter_results.len(),
                filters.len()
            )));
        }
        if let Some(r) = resp.filter_results.iter().find(|r| r.error_code == SECURITY_DISABLED) {
            return Err(acl_err(what, r.error_code, r.error_message.clone()));
        }
        Ok(resp
            .filter_results
            .into_iter()
            .map(|r| {
                if r.error_code.is_err() {
                    return Err(acl_err(what, r.error_code, r.error_message));
                }
                let mut out = Vec::new();
                for m in r.matching {
                    if m.error_code.is_err() {
                        return Err(acl_err(what, m.error_code, m.error_message));
                    }
                    out.push(AclBinding::from_wire(m.acl)?);
                }
                Ok(out)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_kafka_forms() {
        for s in ["IdempotentWrite", "IDEMPOTENT_WRITE", "idempotent-write"] {
            assert_eq!(s.parse::<AclOperation>().unwrap(), AclOperation::IdempotentWrite);
        }
        assert_eq!("transactional-id".parse::<AclResourceType>().unwrap(), AclResourceType::TransactionalId);
        assert_eq!("prefixed".parse::<PatternType>().unwrap(), PatternType::Prefixed);
        let e = "Frobnicate".parse::<AclOperation>().unwrap_err().to_string();
        assert!(e.starts_with("unknown operation 'Frobnicate' (one of ANY, ALL, READ"), "{e}");
        for op in AclOperation::ALL {
            assert_eq!(AclOperation::from_code(op.code()), Some(*op));
        }
    }

    #[test]
    fn principals_need_type_and_name() {
        assert!(check_principal("User:alice").is_ok());
        assert!(check_principal("User:*").is_ok());
        for bad in ["alice", ":alice", "User:", "", "Us er:x"] {
            let e = check_principal(bad).unwrap_err().to_string();
            assert!(e.contains("Type:name"), "{e}");
        }
    }

    #[test]
    fn bindings_need_concrete_types() {
        let b = AclBinding {
            resource_type: AclResourceType::Topic,
            name: "t".into(),
            pattern_type: PatternType::Literal,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Write,
            permission: AclPermission::Allow,
        };
        assert!(b.check().is_ok());
        assert_eq!(b.resource_pattern(), "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)");
        assert_eq!(b.entry(), "(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)");
        let mut m = b.clone();
        m.pattern_type = PatternType::Match;
        assert!(m.check().is_err());
        let mut p = b;
        p.principal = "alice".into();
        assert!(p.check().unwrap_err().to_string().contains("Type:name"));
    }
}
