//! The policy document: grammar, parser and error positions (spec/access.md, "RAM policies").
//!
//! ```text
//! {"Version":"1","Statement":[{"Effect":"Allow"|"Deny",
//!   "Action"|"NotAction": string | [strings],
//!   "Resource"|"NotResource"?: string | [strings],
//!   "Condition"?: {operator: {key: string | bool | [strings or bools]}}}]}
//! ```
//!
//! The document is read in one pass with serde visitors over `serde_json`'s deserializer, so
//! every refusal — bad JSON or bad meaning — carries the line and column where it was found: just
//! after the offending value, just after an unknown or conflicting field name, or at the `}` of a
//! statement that lacks a field. Messages name the field by path (`Statement[1].Effect`; indexes
//! from 0) and say what to write instead.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer as _, MapAccess, SeqAccess, Visitor};

use super::condition::{self, Condition, Family, Operator, Scalar, Test};
use super::matcher::{wildcard_match_ignore_case, RequestResource, ResourcePattern};
use super::RequestContext;

/// A parsed RAM policy: its statements, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// One statement: an effect, the actions it names (or excludes), the resources it names (or
/// excludes; all resources when absent) and the conditions that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    effect: Effect,
    actions: Names<String>,
    resources: Option<Names<ResourcePattern>>,
    conditions: Vec<Condition>,
}

/// A statement's `Effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `"Allow"`: grants the actions when the statement applies.
    Allow,
    /// `"Deny"`: refuses them, whatever any other statement allows.
    Deny,
}

/// Why a policy document was refused: where (1-based line and column, as `serde_json` counts
/// them) and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct PolicyError {
    /// 1-based line of the error.
    pub line: usize,
    /// 1-based column of the error (the character just read).
    pub column: usize,
    /// What is wrong and what to write instead, e.g. `Statement[0].Effect: "allow" is not an
    /// effect; write "Allow" or "Deny" (capitalised)`.
    pub message: String,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: a list of patterns, or its complement.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Names<T> {
    negated: bool,
    patterns: Vec<T>,
}

impl Policy {
    /// Parses a policy document (RAM policy language version 1).
    ///
    /// Refused, with the position and a sentence saying what to fix: text that is not JSON or has
    /// trailing characters; a top level that is not an object, has unknown or repeated fields,
    /// lacks `Version` or `Statement`, has a `Version` other than `"1"` or an empty `Statement`;
    /// a statement with an unknown or repeated field, without `Effect` or without `Action` /
    /// `NotAction`, with both `Action` and `NotAction` (or `Resource` and `NotResource`), an
    /// `Effect` other than `"Allow"` / `"Deny"`, an empty list, an action that is not
    /// `<service>:<name>` or `*`, a resource that is not `*` or `acs:…` with five segments; a
    /// condition with an unknown operator or key, an operator on a key it does not apply to, or
    /// a value that is not an address/CIDR, a boolean or an RFC 3339 time as the operator needs.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let policy = (&mut de)
            .deserialize_map(PolicyVisitor)
            .and_then(|policy| de.end().map(|()| policy))
            .map_err(|e| PolicyError::from_json(&e))?;
        Ok(policy)
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

impl Statement {
    /// The statement's effect.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Whether the statement applies to the request: its action, resource and every condition.
    pub(crate) fn applies(&self, ctx: &RequestContext<'_>, resource: RequestResource<'_>) -> bool {
        let action = self
            .actions
            .patterns
            .iter()
            .any(|p| wildcard_match_ignore_case(p, ctx.action));
        if action == self.actions.negated {
            return false;
        }
        if let Some(resources) = &self.resources {
            let hit = resources.patterns.iter().any(|p| p.matches(resource));
            if hit == resources.negated {
                return false;
            }
        }
        self.conditions.iter().all(|c| c.holds(ctx))
    }
}

impl PolicyError {
    /// Converts a `serde_json` error, splitting its position from its message.
    fn from_json(err: &serde_json::Error) -> Self {
        let (line, column) = (err.line().max(1), err.column().max(1));
        let text = err.to_string();
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        let bare = text.strip_suffix(&suffix).unwrap_or(&text);
        let message = match err.classify() {
            serde_json::error::Category::Syntax => {
                format!("the policy is not valid JSON ({bare}); fix the syntax here")
            }
            serde_json::error::Category::Eof => {
                format!("the policy ends early ({bare}); close every string, list and object")
            }
            serde_json::error::Category::Data | serde_json::error::Category::Io => bare.to_owned(),
        };
        Self {
            line,
            column,
            message,
        }
    }
}

// ---- The visitors: one per level of the grammar ------------------------------------------------

/// The top level: `{"Version":"1","Statement":[…]}`.
struct PolicyVisitor;

impl<'de> Visitor<'de> for PolicyVisitor {
    type Value = Policy;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a policy document: a JSON object {\"Version\":\"1\",\"Statement\":[…]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Policy, A::Error> {
        let mut version = false;
        let mut statements = None;
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                "Version" if !version => {
                    map.next_value_seed(VersionSeed)?;
                    version = true;
                }
                "Statement" if statements.is_none() => {
                    statements = Some(map.next_value_seed(StatementsSeed)?);
                }
                "Version" | "Statement" => return Err(repeated("the policy", &field)),
                _ => {
                    return Err(de::Error::custom(format!(
                        "unknown top-level field \"{}\"; a policy has only \"Version\" and \"Statement\"",
                        field.escape_debug()
                    )))
                }
            }
        }
        if !version {
            return Err(de::Error::custom(
                "the policy lacks \"Version\"; add \"Version\": \"1\"",
            ));
        }
        let Some(statements) = statements else {
            return Err(de::Error::custom(
                "the policy lacks \"Statement\"; add \"Statement\": [{\"Effect\": …, \"Action\": …, \"Resource\": …}]",
            ));
        };
        Ok(Policy { statements })
    }
}

/// `"Version": "1"`.
struct VersionSeed;

impl<'de> DeserializeSeed<'de> for VersionSeed {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for VersionSeed {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Version as the string \"1\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if v == "1" {
            Ok(())
        } else {
            Err(E::custom(format!(
                "Version \"{}\" is not supported; write \"Version\": \"1\"",
                v.escape_debug()
            )))
        }
    }
}

/// `"Statement": [ … ]`, at least one.
struct StatementsSeed;

impl<'de> DeserializeSeed<'de> for StatementsSeed {
    type Value = Vec<Statement>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for StatementsSeed {
    type Value = Vec<Statement>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Statement as a list of statement objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut statements = Vec::new();
        while let Some(s) = seq.next_element_seed(StatementSeed {
            index: statements.len(),
        })? {
            statements.push(s);
        }
        if statements.is_empty() {
            return Err(de::Error::custom(
                "Statement is empty; give at least one statement",
            ));
        }
        Ok(statements)
    }
}

/// One statement object.
struct StatementSeed {
    index: usize,
}

impl<'de> DeserializeSeed<'de> for StatementSeed {
    type Value = Statement;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Statement, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StatementSeed {
    type Value = Statement;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Statement[{}] as an object {{\"Effect\": …, \"Action\": …, \"Resource\": …}}",
            self.index
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Statement, A::Error> {
        let at = format!("Statement[{}]", self.index);
        let mut effect = None;
        let mut actions: Option<Names<String>> = None;
        let mut resources: Option<Names<ResourcePattern>> = None;
        let mut conditions: Option<Vec<Condition>> = None;
        let mut seen: Vec<String> = Vec::new();
        while let Some(field) = map.next_key::<String>()? {
            if seen.contains(&field) {
                return Err(repeated(&at, &field));
            }
            let path = format!("{at}.{field}");
            match field.as_str() {
                "Effect" => effect = Some(map.next_value_seed(EffectSeed { path: &path })?),
                "Action" | "NotAction" => {
                    if actions.is_some() {
                        return Err(de::Error::custom(format!(
                            "{at} has both Action and NotAction; keep one of them"
                        )));
                    }
                    actions = Some(Names {
                        negated: field == "NotAction",
                        patterns: map.next_value_seed(ValuesSeed {
                            path: &path,
                            expecting: "a string or a list of strings",
                            read: action_value,
                        })?,
                    });
                }
                "Resource" | "NotResource" => {
                    if resources.is_some() {
                        return Err(de::Error::custom(format!(
                            "{at} has both Resource and NotResource; keep one of them"
                        )));
                    }
                    resources = Some(Names {
                        negated: field == "NotResource",
                        patterns: map.next_value_seed(ValuesSeed {
                            path: &path,
                            expecting: "a string or a list of strings",
                            read: resource_value,
                        })?,
                    });
                }
                "Condition" => {
                    conditions = Some(map.next_value_seed(ConditionSeed { path: &path })?);
                }
                _ => {
                    return Err(de::Error::custom(format!(
                        "{at}: unknown field \"{}\"; a statement has Effect, Action or NotAction, \
                         Resource or NotResource, and Condition (field names are case-sensitive)",
                        field.escape_debug()
                    )))
                }
            }
            seen.push(field);
        }
        let Some(effect) = effect else {
            return Err(de::Error::custom(format!(
                "{at} lacks Effect; add \"Effect\": \"Allow\" or \"Effect\": \"Deny\""
            )));
        };
        let Some(actions) = actions else {
            return Err(de::Error::custom(format!(
                "{at} lacks Action; add \"Action\" (or \"NotAction\") with e.g. \"live:Describe*\""
            )));
        };
        Ok(Statement {
            effect,
            actions,
            resources,
            conditions: conditions.unwrap_or_default(),
        })
    }
}

/// `"Effect": "Allow" | "Deny"`.
struct EffectSeed<'p> {
    path: &'p str,
}

impl<'de> DeserializeSeed<'de> for EffectSeed<'_> {
    type Value = Effect;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Effect, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for EffectSeed<'_> {
    type Value = Effect;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as \"Allow\" or \"Deny\"", self.path)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Effect, E> {
        match v {
            "Allow" => Ok(Effect::Allow),
            "Deny" => Ok(Effect::Deny),
            _ => Err(E::custom(format!(
                "{}: \"{}\" is not an effect; write \"Allow\" or \"Deny\" (capitalised)",
                self.path,
                v.escape_debug()
            ))),
        }
    }
}

/// `"Condition": {operator: {key: values}}`.
struct ConditionSeed<'p> {
    path: &'p str,
}

impl<'de> DeserializeSeed<'de> for ConditionSeed<'_> {
    type Value = Vec<Condition>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ConditionSeed<'_> {
    type Value = Vec<Condition>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} as an object {{\"<operator>\": {{\"<key>\": <values>}}}}",
            self.path
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut conditions = Vec::new();
        let mut seen: Vec<Operator> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let Some(op) = Operator::from_name(&name) else {
                return Err(de::Error::custom(format!(
                    "{}: unknown condition operator \"{}\"; the operators are {} (case-sensitive)",
                    self.path,
                    name.escape_debug(),
                    Operator::names()
                )));
            };
            if seen.contains(&op) {
                return Err(repeated(self.path, &name));
            }
            seen.push(op);
            let path = format!("{}.{name}", self.path);
            conditions.extend(map.next_value_seed(OperatorSeed { path: &path, op })?);
        }
        Ok(conditions)
    }
}

/// `operator: {key: values, …}`.
struct OperatorSeed<'p> {
    path: &'p str,
    op: Operator,
}

impl<'de> DeserializeSeed<'de> for OperatorSeed<'_> {
    type Value = Vec<Condition>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OperatorSeed<'_> {
    type Value = Vec<Condition>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} as an object {{\"<key>\": {}}}",
            self.path,
            self.op.expecting()
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut conditions = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if seen.contains(&name) {
                return Err(repeated(self.path, &name));
            }
            let key = self
                .op
                .key(&name)
                .map_err(|why| de::Error::custom(format!("{}: {why}", self.path)))?;
            let path = format!("{}.{name}", self.path);
            let expecting = self.op.expecting();
            let test = match self.op.family() {
                Family::Str {
                    like,
                    negated,
                    ignore_case,
                } => Test::Str {
                    like,
                    negated,
                    ignore_case,
                    values: map.next_value_seed(ValuesSeed {
                        path: &path,
                        expecting,
                        read: condition::string_value,
                    })?,
                },
                Family::Ip { negated } => Test::Ip {
                    negated,
                    nets: map.next_value_seed(ValuesSeed {
                        path: &path,
                        expecting,
                        read: condition::ip_value,
                    })?,
                },
                Family::Bool => Test::Bool(map.next_value_seed(ValuesSeed {
                    path: &path,
                    expecting,
                    read: condition::bool_value,
                })?),
                Family::Date { before } => Test::Date {
                    before,
                    times: map.next_value_seed(ValuesSeed {
                        path: &path,
                        expecting,
                        read: condition::date_value,
                    })?,
                },
            };
            conditions.push(Condition { key, test });
            seen.push(name);
        }
        Ok(conditions)
    }
}

/// A value that may be one scalar or a non-empty list of scalars; each is read (and checked) by
/// `read` as soon as it is seen, so an error points at the value itself.
struct ValuesSeed<'p, T> {
    path: &'p str,
    expecting: &'static str,
    read: fn(Scalar<'_>) -> Result<T, String>,
}

impl<T> Clone for ValuesSeed<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ValuesSeed<'_, T> {}

impl<T> ValuesSeed<'_, T> {
    fn one<E: de::Error>(self, value: Scalar<'_>) -> Result<T, E> {
        (self.read)(value).map_err(|why| E::custom(format!("{}: {why}", self.path)))
    }
}

impl<'de, T> DeserializeSeed<'de> for ValuesSeed<'_, T> {
    type Value = Vec<T>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T> Visitor<'de> for ValuesSeed<'_, T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as {}", self.path, self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
        Ok(vec![self.one(Scalar::Str(v))?])
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Vec<T>, E> {
        Ok(vec![self.one(Scalar::Bool(v))?])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(ElementSeed(self))? {
            out.push(v);
        }
        if out.is_empty() {
            return Err(de::Error::custom(format!(
                "{} is an empty list; give at least one value",
                self.path
            )));
        }
        Ok(out)
    }
}

/// One element of a [`ValuesSeed`] list: a scalar, not a nested list or object.
struct ElementSeed<'p, T>(ValuesSeed<'p, T>);

impl<'de, T> DeserializeSeed<'de> for ElementSeed<'_, T> {
    type Value = T;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

impl<T> Visitor<'_> for ElementSeed<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "each entry of {} to be a single value ({})",
            self.0.path, self.0.expecting
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        self.0.one(Scalar::Str(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        self.0.one(Scalar::Bool(v))
    }
}

/// Reads one `Action` entry: `*`, or `<service>:<name>` with wildcards allowed.
fn action_value(value: Scalar<'_>) -> Result<String, String> {
    let Scalar::Str(text) = value else {
        return Err("an action is a string such as \"live:SetLiveDomainCertificate\"".into());
    };
    if text.bytes().all(|b| b == b'*') && !text.is_empty() {
        return Ok(text.to_owned());
    }
    let well_formed = text
        .split_once(':')
        .is_some_and(|(service, name)| !service.is_empty() && !name.is_empty())
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if well_formed {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "\"{}\" is not an action; write \"<service>:<name>\" such as \"live:SetLiveDomainCertificate\" \
             or \"live:Describe*\", or \"*\"",
            text.escape_debug()
        ))
    }
}

/// Reads one `Resource` entry.
fn resource_value(value: Scalar<'_>) -> Result<ResourcePattern, String> {
    match value {
        Scalar::Str(text) => ResourcePattern::parse(text),
        Scalar::Bool(_) => Err("a resource is a string such as \"*\" or \
                                \"acs:cdn:*:1234567890123456:domain/live.example.com\""
            .into()),
    }
}

/// A field named twice in one object.
fn repeated<E: de::Error>(at: &str, field: &str) -> E {
    E::custom(format!(
        "{at}: \"{}\" appears twice; keep one (merge the values into a list)",
        field.escape_debug()
    ))
}

#[cfg(test)]
mod tests;
