//! ZITADEL JSON (proto3 JSON mapping): lowerCamelCase, int64 as strings, bytes as base64,
//! empty values omitted, unknown fields ignored. Requests are read from `serde_json::Value`
//! so that everything real clients send is tolerated (numbers or strings for int64, `null`,
//! any RFC 3339 offset) and every rejection names the field.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use lanyard_domain::{DateFilter, DateMethod, Factor, Identity, Method, Micros};
use lanyard_service::{Checks, DeviceInput, SessionView, UserCheck};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::ZitadelError;

pub fn timestamp(at: Micros) -> Value {
    Value::String(at.to_datetime().format(&Rfc3339).unwrap_or_default())
}

fn object<'a>(value: &'a Value, field: &str) -> Result<Option<&'a Map<String, Value>>, ZitadelError> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(ZitadelError::invalid(format!("{field} must be an object, not {other}"))),
    }
}

pub fn string(value: &Value, field: &str) -> Result<Option<String>, ZitadelError> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ZitadelError::invalid(format!("{field} must be a string, not {other}"))),
    }
}

/// A string of 1 to `max` characters, when present.
fn bounded(value: &Value, field: &str, max: usize) -> Result<Option<String>, ZitadelError> {
    match string(value, field)? {
        Some(s) if s.is_empty() || s.chars().count() > max => Err(ZitadelError::invalid(format!(
            "{field} must be 1 to {max} characters long"
        ))),
        other => Ok(other),
    }
}

/// uint64/uint32 as a JSON number, a decimal string, or null.
pub fn unsigned(value: &Value, field: &str) -> Result<u64, ZitadelError> {
    let bad = || ZitadelError::invalid(format!("{field} must be a non-negative integer (number or string)"));
    match value.get(field) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(bad),
        Some(Value::String(s)) if s.is_empty() => Ok(0),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

fn boolean(value: &Value, field: &str) -> Result<bool, ZitadelError> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(other) => Err(ZitadelError::invalid(format!("{field} must be a boolean, not {other}"))),
    }
}

fn parse_timestamp(value: &Value, field: &str) -> Result<Micros, ZitadelError> {
    let text = string(value, field)?.ok_or_else(|| ZitadelError::invalid(format!("{field} is required")))?;
    let at = OffsetDateTime::parse(&text, &Rfc3339)
        .map(Micros::from_datetime)
        .map_err(|e| ZitadelError::invalid(format!("{field} {text:?} is not an RFC 3339 timestamp: {e}")))?;
    at.check_client_range()
        .map_err(|problem| ZitadelError::invalid(format!("{field} {text:?} {problem}")))
}

/// A protobuf `Duration` in JSON: `"18000s"`, `"1.5s"`.
pub fn duration(value: &Value, field: &str) -> Result<Option<time::Duration>, ZitadelError> {
    let Some(text) = string(value, field)? else {
        return Ok(None);
    };
    let bad = || ZitadelError::invalid(format!("{field} {text:?} is not a duration such as \"3600s\""));
    let seconds: f64 = text.strip_suffix('s').ok_or_else(bad)?.parse().map_err(|_| bad())?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(ZitadelError::invalid(format!("{field} must be greater than zero")));
    }
    if seconds > 315_360_000.0 {
        return Err(ZitadelError::invalid(format!("{field} must be at most 3650 days")));
    }
    Ok(Some(time::Duration::seconds_f64(seconds)))
}

pub fn decode_bytes(text: &str) -> Option<Vec<u8>> {
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(text).ok())
}

pub fn metadata(value: &Value) -> Result<BTreeMap<String, Vec<u8>>, ZitadelError> {
    let Some(map) = object(value, "metadata")? else {
        return Ok(BTreeMap::new());
    };
    if map.len() > 100 {
        return Err(ZitadelError::invalid("metadata may hold at most 100 keys"));
    }
    map.iter()
        .map(|(key, v)| {
            let text = v.as_str().unwrap_or_default();
            let bytes = if v.is_null() {
                Vec::new()
            } else {
                decode_bytes(text)
                    .ok_or_else(|| ZitadelError::invalid(format!("metadata.{key} must be base64-encoded bytes")))?
            };
            if key.is_empty() || key.len() > 200 || bytes.len() > 64 * 1024 {
                return Err(ZitadelError::invalid(
                    "metadata keys are 1 to 200 characters, values at most 64 KiB",
                ));
            }
            Ok((key.clone(), bytes))
        })
        .collect()
}

pub fn checks(value: &Value) -> Result<Checks, ZitadelError> {
    let Some(checks) = object(value, "checks")? else {
        return Ok(Checks::default());
    };
    let checks = Value::Object(checks.clone());
    let mut out = Checks::default();
    if let Some(user) = object(&checks, "user")? {
        let user = Value::Object(user.clone());
        out.user = match (bounded(&user, "userId", 200)?, bounded(&user, "loginName", 200)?) {
            (Some(id), None) => Some(UserCheck::Id(id)),
            (None, Some(name)) => Some(UserCheck::LoginName(name)),
            _ => {
                return Err(ZitadelError::invalid(
                    "checks.user needs exactly one of userId or loginName",
                ))
            }
        };
    }
    let code = |name: &str, field: &str, max: usize| -> Result<Option<String>, ZitadelError> {
        match object(&checks, name)? {
            None => Ok(None),
            Some(inner) => bounded(&Value::Object(inner.clone()), field, max)?
                .map(Some)
                .ok_or_else(|| ZitadelError::invalid(format!("checks.{name}.{field} is required"))),
        }
    };
    out.password = code("password", "password", 200)?;
    out.totp = code("totp", "code", 6)?;
    if out.totp.as_ref().is_some_and(|c| c.chars().count() != 6) {
        return Err(ZitadelError::invalid("checks.totp.code must be exactly 6 characters"));
    }
    out.recovery_code = code("recoveryCode", "code", 200)?;
    for (name, label) in [
        ("webAuthN", "WebAuthN"),
        ("idpIntent", "IdP intent"),
        ("otpSms", "OTP SMS"),
        ("otpEmail", "OTP email"),
    ] {
        if object(&checks, name)?.is_some() {
            out.unsupported = Some(label);
        }
    }
    Ok(out)
}

/// Challenges (WebAuthN, OTP by SMS or email) need delivery Lanyard does not have.
pub fn reject_challenges(value: &Value) -> Result<(), ZitadelError> {
    match object(value, "challenges")? {
        Some(map) if map.values().any(|v| !v.is_null()) => Err(ZitadelError::new(
            super::error::Code::Unimplemented,
            "LANYARD-unimplemented",
            "challenges (WebAuthN, OTP by SMS or email) are not implemented by Lanyard",
        )),
        _ => Ok(()),
    }
}

pub fn user_agent(value: &Value) -> Result<Option<DeviceInput>, ZitadelError> {
    let Some(agent) = object(value, "userAgent")? else {
        return Ok(None);
    };
    let agent = Value::Object(agent.clone());
    let mut headers = BTreeMap::new();
    if let Some(map) = object(&agent, "header")? {
        for (name, entry) in map {
            let values = entry
                .get("values")
                .and_then(Value::as_array)
                .map(|vs| vs.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            headers.insert(name.to_lowercase(), values);
        }
    }
    let ip = string(&agent, "ip")?;
    let ip = match ip {
        None => None,
        Some(ip) if ip.is_empty() => None,
        Some(ip) => Some(
            lanyard_domain::parse_ip(&ip)
                .map_err(|problem| ZitadelError::invalid(format!("userAgent.ip: {problem}")))?,
        ),
    };
    Ok(Some(DeviceInput {
        ip_address: ip,
        user_agent: string(&agent, "description")?,
        location: None,
        fingerprint_id: string(&agent, "fingerprintId")?.filter(|f| !f.is_empty()),
        headers,
    }))
}

pub fn date_method(value: &Value, field: &str) -> Result<DateMethod, ZitadelError> {
    let method = match value.get(field) {
        None | Some(Value::Null) => return Ok(DateMethod::Equals),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(99),
        Some(Value::String(s)) => match s.as_str() {
            "TIMESTAMP_QUERY_METHOD_EQUALS" => 0,
            "TIMESTAMP_QUERY_METHOD_GREATER" => 1,
            "TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS" => 2,
            "TIMESTAMP_QUERY_METHOD_LESS" => 3,
            "TIMESTAMP_QUERY_METHOD_LESS_OR_EQUALS" => 4,
            _ => 99,
        },
        Some(_) => 99,
    };
    Ok(match method {
        0 => DateMethod::Equals,
        1 => DateMethod::Greater,
        2 => DateMethod::GreaterOrEquals,
        3 => DateMethod::Less,
        4 => DateMethod::LessOrEquals,
        _ => {
            return Err(ZitadelError::new(
                super::error::Code::InvalidArgument,
                "GRPC-Dwigt",
                format!("{field} is not a TIMESTAMP_QUERY_METHOD"),
            ))
        }
    })
}

pub fn date_filter(query: &Value, at_field: &str) -> Result<DateFilter, ZitadelError> {
    Ok(DateFilter {
        method: date_method(query, "method")?,
        at: parse_timestamp(query, at_field)?,
    })
}

pub fn is_true(value: &Value, field: &str) -> Result<bool, ZitadelError> {
    boolean(value, field)
}

/// The name a user logs in with: the username trait, else the email trait, else the first
/// identifier.
fn login_name(identity: &Identity) -> String {
    ["username", "email"]
        .iter()
        .find_map(|t| identity.traits.get(*t).and_then(Value::as_str).map(str::to_owned))
        .or_else(|| identity.identifiers.first().cloned())
        .unwrap_or_else(|| identity.id.to_string())
}

fn factor_key(method: Method) -> &'static str {
    match method {
        Method::Password => "password",
        Method::Totp => "totp",
        Method::LookupSecret => "recoveryCode",
        Method::Webauthn | Method::Passkey => "webAuthN",
        Method::Oidc | Method::Saml => "intent",
        Method::OtpSms => "otpSms",
        Method::OtpEmail | Method::Code => "otpEmail",
        Method::Profile | Method::LinkRecovery | Method::CodeRecovery => "password",
    }
}

fn factors(view: &SessionView) -> Option<Value> {
    let session = &view.session;
    let mut factors = Map::new();
    if let (Some(identity_id), Some(checked)) = (session.identity_id, session.user_checked_at) {
        let mut user = Map::new();
        user.insert("verifiedAt".into(), timestamp(checked));
        user.insert("id".into(), json!(identity_id.to_string()));
        if let Some(identity) = &view.identity {
            user.insert("loginName".into(), json!(login_name(identity)));
            if let Some(name) = identity.traits.get("name").and_then(Value::as_str) {
                user.insert("displayName".into(), json!(name));
            }
            if let Some(org) = identity.organization_id {
                user.insert("organizationId".into(), json!(org.to_string()));
            }
        }
        factors.insert("user".into(), Value::Object(user));
    }
    for Factor {
        method,
        completed_at,
        user_verified,
        ..
    } in &session.factors
    {
        let mut factor = Map::new();
        factor.insert("verifiedAt".into(), timestamp(*completed_at));
        if matches!(method, Method::Webauthn | Method::Passkey) {
            factor.insert("userVerified".into(), json!(user_verified));
        }
        factors.insert(factor_key(*method).into(), Value::Object(factor));
    }
    (!factors.is_empty()).then_some(Value::Object(factors))
}

pub fn session_json(view: &SessionView) -> Value {
    let session = &view.session;
    let mut out = Map::new();
    out.insert("id".into(), json!(session.id.to_string()));
    out.insert("creationDate".into(), timestamp(session.created_at));
    out.insert("changeDate".into(), timestamp(session.changed_at));
    out.insert("sequence".into(), json!(session.sequence.to_string()));
    if let Some(factors) = factors(view) {
        out.insert("factors".into(), factors);
    }
    if !session.metadata.is_empty() {
        let metadata: Map<String, Value> = session
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), json!(STANDARD.encode(v))))
            .collect();
        out.insert("metadata".into(), Value::Object(metadata));
    }
    if let Some(device) = session.devices.first() {
        let mut agent = Map::new();
        if let Some(f) = &device.fingerprint_id {
            agent.insert("fingerprintId".into(), json!(f));
        }
        if let Some(ip) = &device.ip_address {
            agent.insert("ip".into(), json!(ip));
        }
        if let Some(description) = &device.user_agent {
            agent.insert("description".into(), json!(description));
        }
        if !device.headers.is_empty() {
            let headers: Map<String, Value> = device
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), json!({ "values": v })))
                .collect();
            agent.insert("header".into(), Value::Object(headers));
        }
        if !agent.is_empty() {
            out.insert("userAgent".into(), Value::Object(agent));
        }
    }
    if let Some(expires) = session.expires_at {
        out.insert("expirationDate".into(), timestamp(expires));
    }
    Value::Object(out)
}

pub fn details(view: &SessionView) -> Value {
    json!({
        "sequence": view.session.sequence.to_string(),
        "changeDate": timestamp(view.session.changed_at),
        "creationDate": timestamp(view.session.created_at),
    })
}
