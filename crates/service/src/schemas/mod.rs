//! Identity schemas: JSON Schemas for `traits`, in the Kratos format (the traits live under
//! `properties.traits`, and `ory.sh/kratos` extensions mark login identifiers).

use std::collections::BTreeMap;
use std::sync::Arc;

use lanyard_domain::OtpChannel;
use serde_json::Value;

use crate::{ServiceError, ServiceResult};

const DEFAULT_SCHEMA: &str = include_str!("default.schema.json");
pub const DEFAULT_SCHEMA_ID: &str = "default";

/// Where an operator's schema comes from.
#[derive(Debug, Clone)]
pub struct SchemaSource {
    pub id: String,
    pub schema: Value,
}

pub struct IdentitySchema {
    pub id: String,
    pub raw: Value,
    validator: jsonschema::Validator,
    /// JSON pointers (relative to the traits) of the login identifiers.
    identifier_pointers: Vec<String>,
    /// JSON pointers (relative to the traits) of the addresses one-time codes may be sent to,
    /// with their channel (`ory.sh/kratos.credentials.code.via`).
    code_address_pointers: Vec<(OtpChannel, String)>,
}

impl std::fmt::Debug for IdentitySchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySchema")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn is_identifier(property: &Value) -> bool {
    let credentials = &property["ory.sh/kratos"]["credentials"];
    ["password", "code", "webauthn", "passkey"]
        .iter()
        .any(|kind| credentials[kind]["identifier"] == Value::Bool(true))
}

/// The channel one-time codes travel by to this property's value, if the schema says so.
fn code_channel(property: &Value) -> Option<OtpChannel> {
    property["ory.sh/kratos"]["credentials"]["code"]["via"]
        .as_str()
        .and_then(OtpChannel::parse)
}

#[derive(Default)]
struct MarkedPointers {
    identifiers: Vec<String>,
    code_addresses: Vec<(OtpChannel, String)>,
}

fn collect_marked_pointers(schema: &Value, prefix: &str, out: &mut MarkedPointers) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        let pointer = format!("{prefix}/{}", name.replace('~', "~0").replace('/', "~1"));
        if is_identifier(property) {
            out.identifiers.push(pointer.clone());
        }
        if let Some(channel) = code_channel(property) {
            out.code_addresses.push((channel, pointer.clone()));
        }
        collect_marked_pointers(property, &pointer, out);
    }
}

impl IdentitySchema {
    pub fn compile(id: &str, raw: Value) -> Result<Self, String> {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&raw)
            .map_err(|e| format!("identity schema {id:?} is not a valid JSON Schema: {e}"))?;
        let traits = raw.pointer("/properties/traits").ok_or_else(|| {
            format!("identity schema {id:?} has no properties.traits; Kratos-style schemas describe traits there")
        })?;
        let mut marked = MarkedPointers::default();
        collect_marked_pointers(traits, "", &mut marked);
        Ok(IdentitySchema {
            id: id.to_owned(),
            raw,
            validator,
            identifier_pointers: marked.identifiers,
            code_address_pointers: marked.code_addresses,
        })
    }

    /// The first address in `traits` that one-time codes may be sent to on `channel`.
    pub fn code_address(&self, traits: &Value, channel: OtpChannel) -> Option<String> {
        self.code_address_pointers
            .iter()
            .filter(|(marked, _)| *marked == channel)
            .find_map(|(_, pointer)| {
                traits
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|address| !address.is_empty())
                    .map(str::to_owned)
            })
    }

    /// Checks `traits` and returns its login identifiers.
    pub fn validate(&self, traits: &Value) -> ServiceResult<Vec<String>> {
        let document = serde_json::json!({ "traits": traits });
        let problems: Vec<String> = self
            .validator
            .iter_errors(&document)
            .map(|error| {
                let path = error.instance_path.to_string();
                if path.is_empty() {
                    error.to_string()
                } else {
                    format!("{path}: {error}")
                }
            })
            .collect();
        if !problems.is_empty() {
            return Err(ServiceError::SchemaViolation {
                schema_id: self.id.clone(),
                problems,
            });
        }
        let mut identifiers = Vec::new();
        for pointer in &self.identifier_pointers {
            match traits.pointer(pointer) {
                Some(Value::String(value)) if !value.trim().is_empty() => identifiers.push(value.trim().to_lowercase()),
                Some(Value::Array(values)) => identifiers.extend(
                    values
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|v| !v.trim().is_empty())
                        .map(|v| v.trim().to_lowercase()),
                ),
                _ => {}
            }
        }
        identifiers.sort();
        identifiers.dedup();
        Ok(identifiers)
    }
}

/// Every schema the deployment knows, with one default.
#[derive(Debug, Clone)]
pub struct SchemaRegistry {
    default_id: String,
    schemas: BTreeMap<String, Arc<IdentitySchema>>,
}

impl SchemaRegistry {
    /// The built-in default schema plus the configured ones; a configured schema with id
    /// `default` replaces the built-in one.
    pub fn new(configured: Vec<SchemaSource>, default_id: Option<String>) -> Result<Self, String> {
        let mut schemas = BTreeMap::new();
        let builtin: Value = serde_json::from_str(DEFAULT_SCHEMA).map_err(|e| e.to_string())?;
        schemas.insert(
            DEFAULT_SCHEMA_ID.to_owned(),
            Arc::new(IdentitySchema::compile(DEFAULT_SCHEMA_ID, builtin)?),
        );
        for source in configured {
            schemas.insert(
                source.id.clone(),
                Arc::new(IdentitySchema::compile(&source.id, source.schema)?),
            );
        }
        let default_id = default_id.unwrap_or_else(|| DEFAULT_SCHEMA_ID.to_owned());
        if !schemas.contains_key(&default_id) {
            return Err(format!("the default identity schema {default_id:?} is not configured"));
        }
        Ok(SchemaRegistry { default_id, schemas })
    }

    #[allow(
        clippy::expect_used,
        reason = "the built-in schema is a constant; a test compiles it"
    )]
    pub fn builtin() -> Self {
        SchemaRegistry::new(Vec::new(), None).expect("the built-in schema compiles")
    }

    pub fn default_id(&self) -> &str {
        &self.default_id
    }

    pub fn get(&self, id: &str) -> Option<&Arc<IdentitySchema>> {
        self.schemas.get(id)
    }

    pub fn require(&self, id: &str) -> ServiceResult<&Arc<IdentitySchema>> {
        self.get(id)
            .ok_or_else(|| ServiceError::Invalid(format!("identity schema {id:?} does not exist")))
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<IdentitySchema>> {
        self.schemas.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_default_schema_yields_lower_cased_identifiers() {
        let registry = SchemaRegistry::builtin();
        let schema = registry.require("default").unwrap();
        let ids = schema
            .validate(&json!({"email": "Ada@Example.org", "username": "Ada"}))
            .unwrap();
        assert_eq!(ids, vec!["ada".to_string(), "ada@example.org".to_string()]);
    }

    #[test]
    fn the_default_schema_rejects_bad_traits_with_a_path() {
        let schema = SchemaRegistry::builtin().require("default").unwrap().clone();
        let ServiceError::SchemaViolation { problems, .. } =
            schema.validate(&json!({"email": "not-an-email"})).unwrap_err()
        else {
            panic!("expected a schema violation")
        };
        assert!(problems[0].contains("/traits/email"), "{problems:?}");
        assert!(schema.validate(&json!({"username": "x"})).is_err());
        assert!(schema.validate(&json!({"email": "a@b.co", "extra": 1})).is_err());
    }
}
