//! OpenAPI schemas of the ZITADEL messages, derived from the compiled protos (the same ones the
//! handlers decode with), in their proto3 JSON form: lowerCamelCase names, 64-bit integers as
//! strings, enums by value name, bytes as base64, `Timestamp` as an RFC 3339 string, `Duration`
//! as `"<seconds>s"`, maps as objects. A message field of a oneof is one of its alternatives:
//! set at most one of them.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use lanyard_proto::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use utoipa::openapi::schema::{
    AdditionalProperties, Array, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, Type as JsonType,
};
use utoipa::openapi::{Ref, RefOr};

/// Every message and enum of the compiled protos, by full name (`.zitadel.session.v2.Session`).
struct Catalogue {
    messages: BTreeMap<String, DescriptorProto>,
    enums: BTreeMap<String, EnumDescriptorProto>,
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    let set = FileDescriptorSet::decode(lanyard_proto::FILE_DESCRIPTOR_SET).unwrap_or_default();
    let mut catalogue = Catalogue {
        messages: BTreeMap::new(),
        enums: BTreeMap::new(),
    };
    for file in set.file {
        let package = format!(".{}", file.package());
        for message in file.message_type {
            catalogue.add_message(&package, message);
        }
        for en in file.enum_type {
            catalogue.enums.insert(format!("{package}.{}", en.name()), en);
        }
    }
    catalogue
});

impl Catalogue {
    fn add_message(&mut self, scope: &str, message: DescriptorProto) {
        let name = format!("{scope}.{}", message.name());
        for nested in &message.nested_type {
            self.add_message(&name, nested.clone());
        }
        for en in &message.enum_type {
            self.enums.insert(format!("{name}.{}", en.name()), en.clone());
        }
        self.messages.insert(name, message);
    }
}

/// The component name of a message or enum: the RPCs' requests and responses keep the short
/// names the paths refer to (`zitadel.ListSessionsRequest`), the rest their full proto names.
pub fn component_name(full_name: &str) -> String {
    let bare = full_name.trim_start_matches('.');
    let short = ["zitadel.session.v2.", "zitadel.user.v2."]
        .iter()
        .find_map(|service| bare.strip_prefix(service));
    match short {
        Some(short) if short.ends_with("Request") || short.ends_with("Response") => format!("zitadel.{short}"),
        _ => bare.to_owned(),
    }
}

fn reference(full_name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(component_name(full_name)))
}

fn scalar(json_type: JsonType, format: Option<KnownFormat>, description: Option<&str>) -> RefOr<Schema> {
    let mut builder = ObjectBuilder::new().schema_type(json_type);
    if let Some(format) = format {
        builder = builder.format(Some(SchemaFormat::KnownFormat(format)));
    }
    RefOr::T(Schema::Object(builder.description(description).build()))
}

/// The schema of one field's value (without `repeated`), and the message or enum it refers to.
fn value_schema(field: &FieldDescriptorProto) -> (RefOr<Schema>, Option<String>) {
    const INT64: &str = "A 64-bit integer, as a decimal string (a JSON number is accepted too)";
    let schema = match field.r#type() {
        Type::String => scalar(JsonType::String, None, None),
        Type::Bool => scalar(JsonType::Boolean, None, None),
        Type::Bytes => scalar(JsonType::String, Some(KnownFormat::Byte), Some("Base64")),
        Type::Double | Type::Float => scalar(JsonType::Number, None, None),
        Type::Int32 | Type::Sint32 | Type::Sfixed32 => scalar(JsonType::Integer, Some(KnownFormat::Int32), None),
        // As utoipa describes a Rust u32 (the hand-written schemas did): int32, at least 0.
        Type::Uint32 | Type::Fixed32 => RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(JsonType::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                .minimum(Some(0))
                .build(),
        )),
        Type::Int64 | Type::Sint64 | Type::Sfixed64 | Type::Uint64 | Type::Fixed64 => {
            scalar(JsonType::String, Some(KnownFormat::Int64), Some(INT64))
        }
        Type::Enum => return (reference(field.type_name()), Some(field.type_name().to_owned())),
        Type::Message | Type::Group => match field.type_name() {
            ".google.protobuf.Timestamp" => scalar(
                JsonType::String,
                Some(KnownFormat::DateTime),
                Some("RFC 3339, any offset; answers are in UTC (`Z`)"),
            ),
            ".google.protobuf.Duration" => {
                scalar(JsonType::String, None, Some("Seconds with an `s`, e.g. `\"3600s\"`"))
            }
            ".google.protobuf.Struct" => RefOr::T(Schema::Object(Object::new())),
            other => return (reference(other), Some(other.to_owned())),
        },
    };
    (schema, None)
}

/// A message's schema and the messages and enums it refers to.
fn message_schema(message: &DescriptorProto) -> (Schema, Vec<String>) {
    let mut builder = ObjectBuilder::new().schema_type(JsonType::Object);
    let mut refers = Vec::new();
    for field in &message.field {
        let map_entry = (field.r#type() == Type::Message)
            .then(|| CATALOGUE.messages.get(field.type_name()))
            .flatten()
            .filter(|m| m.options.as_ref().is_some_and(|o| o.map_entry()));
        let schema = if let Some(entry) = map_entry {
            let value = entry.field.iter().find(|f| f.number() == 2);
            let (value, refers_to) = value
                .map(value_schema)
                .unwrap_or((scalar(JsonType::String, None, None), None));
            refers.extend(refers_to);
            RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(JsonType::Object)
                    .additional_properties(Some(AdditionalProperties::RefOr(value)))
                    .build(),
            ))
        } else {
            let (value, refers_to) = value_schema(field);
            refers.extend(refers_to);
            if field.label() == Label::Repeated {
                RefOr::T(Schema::Array(Array::new(value)))
            } else {
                value
            }
        };
        let schema = match field.oneof_index.and_then(|i| message.oneof_decl.get(i as usize)) {
            // proto3 `optional` fields sit in a synthetic oneof of their own.
            Some(oneof) if !field.proto3_optional() => with_description(
                schema,
                &format!("One of the `{}` alternatives: set at most one.", oneof.name()),
            ),
            _ => schema,
        };
        builder = builder.property(field.json_name(), schema);
    }
    (Schema::Object(builder.build()), refers)
}

fn with_description(schema: RefOr<Schema>, description: &str) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            object.description = Some(match object.description.take() {
                Some(existing) => format!("{existing}. {description}"),
                None => description.to_owned(),
            });
            RefOr::T(Schema::Object(object))
        }
        other => other,
    }
}

fn enum_schema(en: &EnumDescriptorProto) -> Schema {
    let names: Vec<String> = en.value.iter().map(|v| v.name().to_owned()).collect();
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(JsonType::String)
            .enum_values(Some(names))
            .description(Some("By value name (the value's number is accepted too)"))
            .build(),
    )
}

/// The schemas of these messages and of everything they refer to, as components.
pub fn schemas_of(roots: &[&str]) -> Vec<(String, RefOr<Schema>)> {
    let mut done = BTreeMap::new();
    let mut pending: Vec<String> = roots.iter().map(|r| (*r).to_owned()).collect();
    while let Some(name) = pending.pop() {
        if done.contains_key(&name) {
            continue;
        }
        if let Some(message) = CATALOGUE.messages.get(&name) {
            let (schema, refers) = message_schema(message);
            pending.extend(refers);
            done.insert(name, schema);
        } else if let Some(en) = CATALOGUE.enums.get(&name) {
            done.insert(name, enum_schema(en));
        }
    }
    done.into_iter()
        .map(|(name, schema)| (component_name(&name), RefOr::T(schema)))
        .collect()
}

/// The schema of one message, for a path's body.
pub fn schema_of(full_name: &str) -> RefOr<Schema> {
    match CATALOGUE.messages.get(full_name) {
        Some(message) => RefOr::T(message_schema(message).0),
        None => RefOr::T(Schema::Object(Object::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(schemas: &[(String, RefOr<Schema>)], name: &str) -> serde_json::Value {
        let schema = schemas.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone());
        serde_json::to_value(schema).unwrap_or_default()
    }

    #[test]
    fn the_messages_come_out_in_their_proto3_json_form() {
        let schemas = schemas_of(&[
            ".zitadel.session.v2.ListSessionsResponse",
            ".zitadel.session.v2.ListSessionsRequest",
        ]);
        let response = json(&schemas, "zitadel.ListSessionsResponse");
        assert_eq!(
            response["properties"]["sessions"]["items"]["$ref"],
            "#/components/schemas/zitadel.session.v2.Session"
        );
        let details = json(&schemas, "zitadel.object.v2.ListDetails");
        assert_eq!(details["properties"]["totalResult"]["type"], "string");
        let list_query = json(&schemas, "zitadel.object.v2.ListQuery");
        assert_eq!(list_query["properties"]["limit"]["minimum"], 0);
        assert_eq!(details["properties"]["timestamp"]["format"], "date-time");
        let session = json(&schemas, "zitadel.session.v2.Session");
        assert_eq!(
            session["properties"]["metadata"]["additionalProperties"]["format"],
            "byte"
        );
        assert_eq!(session["properties"]["expirationDate"]["type"], "string");
        let query = json(&schemas, "zitadel.session.v2.SearchQuery");
        assert!(query["properties"]["idsQuery"].is_object(), "{query}");
        assert!(query["properties"]["expirationDateQuery"].is_object(), "{query}");
        let method = json(&schemas, "zitadel.v1.TimestampQueryMethod");
        assert!(method["enum"]
            .as_array()
            .is_some_and(|v| v.iter().any(|m| m == "TIMESTAMP_QUERY_METHOD_GREATER")));
    }
}
