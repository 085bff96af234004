//! From ZITADEL request messages to the service's inputs: every bound and rule a request must
//! meet, checked once, with a message that names the field. The messages arrive decoded from
//! JSON or from binary protobuf alike (see `codec`), so binary strings are checked for NUL
//! characters here, where each one is read.

use std::collections::{BTreeMap, HashMap};

use lanyard_domain::{DateFilter, DateMethod, Micros, OtpChannel};
use lanyard_proto::zitadel::session::v2 as session;
use lanyard_proto::Timestamp;
use lanyard_service::{
    Checks, CreateCheckedSession, DeviceInput, IdpIntentCheck, OtpChallengeRequest, OtpDelivery, SearchSessions,
    SetCheckedSession, UserCheck, UserVerification, WebauthnChallengeRequest,
};
use session::search_query::Query;

use super::error::{Code, ZitadelError};

const MAX_QUERIES: usize = 20;
const MAX_IDS: usize = 1000;
const MAX_METADATA_KEYS: usize = 100;
const MAX_METADATA_VALUE: usize = 64 * 1024;
const MAX_LIFETIME_SECONDS: i64 = 3650 * 86_400;

/// A string the store may hold: no NUL character (PostgreSQL cannot store U+0000).
fn text<'a>(field: &str, value: &'a str) -> Result<&'a str, ZitadelError> {
    if value.contains('\0') {
        return Err(ZitadelError::invalid(format!(
            "{field} contains a NUL character (U+0000)"
        )));
    }
    Ok(value)
}

/// A string of 1 to `max` characters.
fn bounded(field: &str, value: &str, max: usize) -> Result<String, ZitadelError> {
    let value = text(field, value)?;
    if value.is_empty() || value.chars().count() > max {
        return Err(ZitadelError::invalid(format!(
            "{field} must be 1 to {max} characters long"
        )));
    }
    Ok(value.to_owned())
}

pub fn session_id(id: &str) -> Result<String, ZitadelError> {
    bounded("sessionId", id, 200).map_err(|_| ZitadelError::invalid("sessionId is required (1 to 200 characters)"))
}

/// The session a Get or Delete names, and the token that may prove the caller's right to it.
pub fn session_ref(id: &str, token: Option<&str>) -> Result<(String, Option<String>), ZitadelError> {
    Ok((session_id(id)?, session_token(token)?))
}

/// An empty token is no token.
fn session_token(token: Option<&str>) -> Result<Option<String>, ZitadelError> {
    match token.filter(|t| !t.is_empty()) {
        Some(token) => Ok(Some(text("sessionToken", token)?.to_owned())),
        None => Ok(None),
    }
}

fn timestamp(field: &str, at: Option<Timestamp>) -> Result<Micros, ZitadelError> {
    let at = at.ok_or_else(|| ZitadelError::invalid(format!("{field} is required")))?;
    let instant = at
        .to_datetime()
        .ok_or_else(|| ZitadelError::invalid(format!("{field} is not a valid timestamp")))?;
    Micros::from_datetime(instant)
        .check_client_range()
        .map_err(|problem| ZitadelError::invalid(format!("{field} {problem}")))
}

fn date_method(method: i32) -> Result<DateMethod, ZitadelError> {
    use lanyard_proto::zitadel::v1::TimestampQueryMethod as M;
    Ok(match M::try_from(method) {
        Ok(M::Equals) => DateMethod::Equals,
        Ok(M::Greater) => DateMethod::Greater,
        Ok(M::GreaterOrEquals) => DateMethod::GreaterOrEquals,
        Ok(M::Less) => DateMethod::Less,
        Ok(M::LessOrEquals) => DateMethod::LessOrEquals,
        Err(_) => {
            return Err(ZitadelError::new(
                Code::InvalidArgument,
                "GRPC-Dwigt",
                format!("method {method} is not a TIMESTAMP_QUERY_METHOD"),
            ))
        }
    })
}

pub fn search(request: &session::ListSessionsRequest) -> Result<SearchSessions, ZitadelError> {
    let mut search = SearchSessions::default();
    if let Some(query) = &request.query {
        // SQL OFFSET is a signed 64-bit integer; larger offsets reached the store (a 500).
        if query.offset > i64::MAX as u64 {
            return Err(ZitadelError::invalid(
                "query.offset must be at most 9223372036854775807",
            ));
        }
        search.offset = query.offset;
        search.limit = query.limit;
        search.ascending = query.asc;
    }
    if session::SessionFieldName::try_from(request.sorting_column).is_err() {
        return Err(ZitadelError::invalid(format!(
            "sortingColumn {} is not a SessionFieldName",
            request.sorting_column
        )));
    }
    if request.queries.len() > MAX_QUERIES {
        return Err(ZitadelError::invalid(format!(
            "at most {MAX_QUERIES} queries may be combined"
        )));
    }
    for query in &request.queries {
        let Some(query) = &query.query else {
            return Err(ZitadelError::new(
                Code::InvalidArgument,
                "GRPC-Sfefs",
                "each query must set exactly one member",
            ));
        };
        match query {
            Query::IdsQuery(ids) => {
                if ids.ids.len() > MAX_IDS {
                    return Err(ZitadelError::invalid(format!("idsQuery takes at most {MAX_IDS} ids")));
                }
                for id in &ids.ids {
                    text("idsQuery.ids", id)?;
                }
                // Several ids queries AND together: keep only ids present in all.
                search.ids = Some(match search.ids.take() {
                    Some(existing) => existing.into_iter().filter(|id| ids.ids.contains(id)).collect(),
                    None => ids.ids.clone(),
                });
            }
            Query::UserIdQuery(user) => search.user_id = Some(text("userIdQuery.id", &user.id)?.to_owned()),
            Query::CreationDateQuery(date) => search.created.push(DateFilter {
                method: date_method(date.method)?,
                at: timestamp("creationDateQuery.creationDate", date.creation_date)?,
            }),
            Query::ExpirationDateQuery(date) => search.expires.push(DateFilter {
                method: date_method(date.method)?,
                at: timestamp("expirationDateQuery.expirationDate", date.expiration_date)?,
            }),
            Query::CreatorQuery(creator) => {
                search.creator = Some(match &creator.id {
                    Some(id) => Some(text("creatorQuery.id", id)?.to_owned()),
                    None => None,
                })
            }
            Query::UserAgentQuery(agent) => {
                search.fingerprint_id = Some(match &agent.fingerprint_id {
                    Some(id) => Some(text("userAgentQuery.fingerprintId", id)?.to_owned()),
                    None => None,
                })
            }
        }
    }
    Ok(search)
}

/// A CreateSession request as the service takes it.
pub fn create(request: &session::CreateSessionRequest) -> Result<CreateCheckedSession, ZitadelError> {
    Ok(CreateCheckedSession {
        challenges: challenges(request.challenges.as_ref())?,
        webauthn_challenge: webauthn_challenge(request.challenges.as_ref())?,
        checks: checks(request.checks.as_ref())?,
        metadata: metadata(&request.metadata)?,
        user_agent: user_agent(request.user_agent.as_ref())?,
        lifetime: lifetime(request.lifetime.as_ref())?,
    })
}

/// A SetSession request as the service takes it.
pub fn set(request: &session::SetSessionRequest) -> Result<SetCheckedSession, ZitadelError> {
    Ok(SetCheckedSession {
        challenges: challenges(request.challenges.as_ref())?,
        webauthn_challenge: webauthn_challenge(request.challenges.as_ref())?,
        id: session_id(&request.session_id)?,
        checks: checks(request.checks.as_ref())?,
        metadata: metadata(&request.metadata)?,
        lifetime: lifetime(request.lifetime.as_ref())?,
    })
}

/// Checks a decoded request as its RPC would before calling the service.
pub fn validate(request: &super::codec::Request) -> Result<(), ZitadelError> {
    use super::codec::Request;
    match request {
        Request::List(list) => search(list).map(drop),
        Request::Get(get) => session_ref(&get.session_id, get.session_token.as_deref()).map(drop),
        Request::Create(create_request) => create(create_request).map(drop),
        Request::Set(set_request) => set(set_request).map(drop),
        Request::Delete(delete) => session_ref(&delete.session_id, delete.session_token.as_deref()).map(drop),
    }
}

pub fn checks(checks: Option<&session::Checks>) -> Result<Checks, ZitadelError> {
    let Some(checks) = checks else {
        return Ok(Checks::default());
    };
    let mut out = Checks::default();
    if let Some(user) = &checks.user {
        use session::check_user::Search;
        out.user = Some(match &user.search {
            Some(Search::UserId(id)) => UserCheck::Id(bounded("checks.user.userId", id, 200)?),
            Some(Search::LoginName(name)) => UserCheck::LoginName(bounded("checks.user.loginName", name, 200)?),
            None => {
                return Err(ZitadelError::invalid(
                    "checks.user needs exactly one of userId or loginName",
                ))
            }
        });
    }
    let required = |field: &str, value: &str, max: usize| {
        bounded(field, value, max)
            .map_err(|_| ZitadelError::invalid(format!("{field} is required (1 to {max} characters)")))
    };
    if let Some(password) = &checks.password {
        out.password = Some(required("checks.password.password", &password.password, 200)?);
    }
    if let Some(totp) = &checks.totp {
        let code = required("checks.totp.code", &totp.code, 6)?;
        if code.chars().count() != 6 {
            return Err(ZitadelError::invalid("checks.totp.code must be exactly 6 characters"));
        }
        out.totp = Some(code);
    }
    if let Some(recovery) = &checks.recovery_code {
        out.recovery_code = Some(required("checks.recoveryCode.code", &recovery.code, 200)?);
    }
    if let Some(intent) = &checks.idp_intent {
        out.idp_intent = Some(IdpIntentCheck {
            id: required("checks.idpIntent.idpIntentId", &intent.idp_intent_id, 200)?,
            token: required("checks.idpIntent.idpIntentToken", &intent.idp_intent_token, 200)?,
        });
    }
    let code = |field: &str, otp: &Option<session::CheckOtp>| match otp {
        Some(otp) => required(field, otp.code.trim(), 20).map(Some),
        None => Ok(None),
    };
    out.otp_sms = code("checks.otpSms.code", &checks.otp_sms)?;
    out.otp_email = code("checks.otpEmail.code", &checks.otp_email)?;
    if let Some(webauthn) = &checks.web_auth_n {
        let assertion = webauthn
            .credential_assertion_data
            .as_ref()
            .ok_or_else(|| ZitadelError::invalid("checks.webAuthN.credentialAssertionData is required"))?;
        out.webauthn = Some(struct_json(assertion, "checks.webAuthN.credentialAssertionData")?);
    }
    Ok(out)
}

/// A `google.protobuf.Struct` (the WebAuthn objects travel in one) as the JSON object it stands for.
pub fn struct_json(value: &lanyard_proto::well_known::Struct, field: &str) -> Result<serde_json::Value, ZitadelError> {
    serde_json::to_value(value).map_err(|e| ZitadelError::invalid(format!("{field} is not a JSON object: {e}")))
}

/// The WebAuthN challenge a request asks for.
pub fn webauthn_challenge(
    challenges: Option<&session::RequestChallenges>,
) -> Result<Option<WebauthnChallengeRequest>, ZitadelError> {
    use session::UserVerificationRequirement as Requirement;
    let Some(webauthn) = challenges.and_then(|c| c.web_auth_n.as_ref()) else {
        return Ok(None);
    };
    let user_verification = match Requirement::try_from(webauthn.user_verification_requirement) {
        Ok(Requirement::Required) => UserVerification::Required,
        Ok(Requirement::Discouraged) => UserVerification::Discouraged,
        Ok(Requirement::Preferred | Requirement::Unspecified) => UserVerification::Preferred,
        Err(_) => {
            return Err(ZitadelError::invalid(format!(
                "challenges.webAuthN.userVerificationRequirement {} is not a UserVerificationRequirement",
                webauthn.user_verification_requirement
            )))
        }
    };
    Ok(Some(WebauthnChallengeRequest {
        domain: bounded("challenges.webAuthN.domain", webauthn.domain.trim(), 253)?,
        user_verification,
    }))
}

/// The one-time codes a request asks for.
pub fn challenges(challenges: Option<&session::RequestChallenges>) -> Result<Vec<OtpChallengeRequest>, ZitadelError> {
    use session::request_challenges::otp_email::DeliveryType;
    let Some(challenges) = challenges else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    if let Some(sms) = &challenges.otp_sms {
        out.push(OtpChallengeRequest {
            channel: OtpChannel::Sms,
            delivery: if sms.return_code {
                OtpDelivery::ReturnCode
            } else {
                OtpDelivery::Send { url_template: None }
            },
        });
    }
    if let Some(email) = &challenges.otp_email {
        out.push(OtpChallengeRequest {
            channel: OtpChannel::Email,
            delivery: match &email.delivery_type {
                Some(DeliveryType::ReturnCode(_)) => OtpDelivery::ReturnCode,
                Some(DeliveryType::SendCode(send)) => OtpDelivery::Send {
                    url_template: match send.url_template.as_deref().map(str::trim) {
                        None | Some("") => None,
                        Some(template) => Some(bounded("challenges.otpEmail.sendCode.urlTemplate", template, 2000)?),
                    },
                },
                None => OtpDelivery::Send { url_template: None },
            },
        });
    }
    Ok(out)
}

pub fn metadata(metadata: &HashMap<String, Vec<u8>>) -> Result<BTreeMap<String, Vec<u8>>, ZitadelError> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(ZitadelError::invalid(format!(
            "metadata may hold at most {MAX_METADATA_KEYS} keys"
        )));
    }
    metadata
        .iter()
        .map(|(key, value)| {
            text("metadata", key)?;
            if key.is_empty() || key.len() > 200 || value.len() > MAX_METADATA_VALUE {
                return Err(ZitadelError::invalid(
                    "metadata keys are 1 to 200 characters, values at most 64 KiB",
                ));
            }
            Ok((key.clone(), value.clone()))
        })
        .collect()
}

pub fn user_agent(agent: Option<&session::UserAgent>) -> Result<Option<DeviceInput>, ZitadelError> {
    let Some(agent) = agent else {
        return Ok(None);
    };
    let mut headers = BTreeMap::new();
    for (name, values) in &agent.header {
        text("userAgent.header", name)?;
        for value in &values.values {
            text("userAgent.header", value)?;
        }
        headers.insert(name.to_lowercase(), values.values.clone());
    }
    let ip = match agent.ip.as_deref().filter(|ip| !ip.is_empty()) {
        None => None,
        Some(ip) => Some(
            lanyard_domain::parse_ip(text("userAgent.ip", ip)?)
                .map_err(|problem| ZitadelError::invalid(format!("userAgent.ip: {problem}")))?,
        ),
    };
    let optional = |field: &str, value: &Option<String>| -> Result<Option<String>, ZitadelError> {
        match value {
            Some(v) => Ok(Some(text(field, v)?.to_owned())),
            None => Ok(None),
        }
    };
    Ok(Some(DeviceInput {
        ip_address: ip,
        user_agent: optional("userAgent.description", &agent.description)?,
        location: None,
        fingerprint_id: optional("userAgent.fingerprintId", &agent.fingerprint_id)?.filter(|f| !f.is_empty()),
        headers,
    }))
}

pub fn lifetime(
    lifetime: Option<&lanyard_proto::well_known::Duration>,
) -> Result<Option<time::Duration>, ZitadelError> {
    let Some(lifetime) = lifetime else {
        return Ok(None);
    };
    let duration = time::Duration::new(lifetime.seconds, lifetime.nanos);
    if !duration.is_positive() {
        return Err(ZitadelError::invalid("lifetime must be greater than zero"));
    }
    if duration > time::Duration::seconds(MAX_LIFETIME_SECONDS) {
        return Err(ZitadelError::invalid("lifetime must be at most 3650 days"));
    }
    Ok(Some(duration))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanyard_proto::zitadel::object::v2::ListQuery;

    fn list(queries: Vec<Query>) -> session::ListSessionsRequest {
        session::ListSessionsRequest {
            queries: queries
                .into_iter()
                .map(|q| session::SearchQuery { query: Some(q) })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn offsets_beyond_sql_are_refused() {
        let mut request = list(vec![]);
        request.query = Some(ListQuery {
            offset: i64::MAX as u64 + 1,
            ..Default::default()
        });
        assert!(search(&request).is_err());
        request.query = Some(ListQuery {
            offset: i64::MAX as u64,
            ..Default::default()
        });
        assert!(search(&request).is_ok());
    }

    #[test]
    fn an_empty_query_and_an_unknown_method_get_zitadels_ids() {
        let empty = session::ListSessionsRequest {
            queries: vec![session::SearchQuery { query: None }],
            ..Default::default()
        };
        assert_eq!(search(&empty).err().map(|e| e.id), Some("GRPC-Sfefs".to_owned()));
        let odd_method = list(vec![Query::CreationDateQuery(session::CreationDateQuery {
            creation_date: Some(Timestamp { seconds: 0, nanos: 0 }),
            method: 9,
        })]);
        assert_eq!(search(&odd_method).err().map(|e| e.id), Some("GRPC-Dwigt".to_owned()));
    }

    #[test]
    fn ids_queries_intersect() {
        let ids = |ids: &[&str]| {
            Query::IdsQuery(session::IDsQuery {
                ids: ids.iter().map(|s| s.to_string()).collect(),
            })
        };
        let search = search(&list(vec![ids(&["a", "b"]), ids(&["b", "c"])])).ok();
        assert_eq!(search.and_then(|s| s.ids), Some(vec!["b".to_owned()]));
    }

    #[test]
    fn nul_characters_are_refused_wherever_they_reach_the_store() {
        let user = list(vec![Query::UserIdQuery(session::UserIdQuery { id: "a\0".into() })]);
        assert!(search(&user)
            .err()
            .is_some_and(|e| e.message.contains("userIdQuery.id")));
        let checks_with_nul = session::Checks {
            user: Some(session::CheckUser {
                search: Some(session::check_user::Search::LoginName("x\0".into())),
            }),
            ..Default::default()
        };
        assert!(checks(Some(&checks_with_nul)).is_err());
        let agent = session::UserAgent {
            description: Some("\0".into()),
            ..Default::default()
        };
        assert!(user_agent(Some(&agent)).is_err());
        assert!(session_id("a\0b").is_err());
    }

    #[test]
    fn lifetimes_are_positive_and_bounded() {
        use lanyard_proto::well_known::Duration;
        let at = |seconds, nanos| lifetime(Some(&Duration { seconds, nanos }));
        assert_eq!(
            at(1, 500_000_000).ok().flatten(),
            Some(time::Duration::milliseconds(1500))
        );
        assert!(at(0, 0).is_err());
        assert!(at(-5, 0).is_err());
        assert!(at(MAX_LIFETIME_SECONDS + 1, 0).is_err());
    }
}
