//! The Kratos query parameters: the types the handlers take, parsed with Kratos' own error
//! messages, and documented by their `IntoParams` derives (one definition for both).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use lanyard_service::{IdentityFilter, OffsetPage};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::KratosError;
use super::extract::parse_uuid;
use super::paging::{self, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::query::QueryParams;

/// A query type parsed from the whole query string (repeated keys kept, Kratos' messages on
/// a 400), as an extractor.
trait FromQuery: Sized {
    fn from_query(raw: QueryParams) -> Result<Self, KratosError>;
}

/// `impl FromRequestParts` for query types: a blanket impl over [`FromQuery`] is not allowed
/// for a foreign trait.
macro_rules! query_extractor {
    ($($ty:ty),+) => {$(
        impl<S: Send + Sync> FromRequestParts<S> for $ty {
            type Rejection = KratosError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, KratosError> {
                let Ok(raw) = QueryParams::from_request_parts(parts, state).await;
                <$ty as FromQuery>::from_query(raw)
            }
        }
    )+};
}

query_extractor!(
    SessionListQuery,
    ExpandQuery,
    OffsetPageQuery,
    ActiveQuery,
    IdentityListQuery
);

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code, reason = "documents the values `expand` takes; parsed into `Expand`")]
pub enum ExpandOption {
    Identity,
    Devices,
}

/// `GET /admin/sessions`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionListQuery {
    /// 1 to 1000 (default 250); anything else is a 400.
    #[param(value_type = Option<i64>)]
    pub page_size: u32,
    /// The `next` token of the `Link` header (an opaque, signed keyset token).
    pub page_token: Option<String>,
    /// Only active (true) or inactive (false) sessions.
    pub active: Option<bool>,
    /// Repeatable: `identity`, `devices`.
    #[param(value_type = Option<Vec<ExpandOption>>, inline)]
    pub expand: Expand,
    /// The query as sent, for the `Link` URLs.
    #[param(ignore)]
    pub raw: QueryParams,
}

impl FromQuery for SessionListQuery {
    fn from_query(raw: QueryParams) -> Result<Self, KratosError> {
        // In the order the handler checked them before, so a request with several bad
        // parameters still hears about the same one.
        let page_size = paging::page_size(&raw, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let expand = expand(&raw)?;
        Ok(SessionListQuery {
            page_size,
            page_token: raw.first("page_token").map(str::to_owned),
            active: active(&raw)?,
            expand,
            raw,
        })
    }
}

/// `expand` of a single session.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpandQuery {
    /// Repeatable: `identity`, `devices`.
    #[param(value_type = Option<Vec<ExpandOption>>, inline)]
    pub expand: Expand,
}

impl FromQuery for ExpandQuery {
    fn from_query(raw: QueryParams) -> Result<Self, KratosError> {
        Ok(ExpandQuery { expand: expand(&raw)? })
    }
}

/// Offset paging: `page_token`/`page_size`, or (0-based) `page`/`per_page`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "the paging parameters are documented one by one and parsed together into page_range"
)]
pub struct OffsetPageQuery {
    /// 1 to 1000 (default 250).
    #[param(value_type = Option<i64>)]
    page_size: (),
    /// A token from the `Link` header.
    #[param(value_type = Option<String>)]
    page_token: (),
    /// 0-based page number (with `per_page`).
    #[param(value_type = Option<i64>)]
    page: (),
    /// 1 to 1000 (default 250).
    #[param(value_type = Option<i64>)]
    per_page: (),
    /// The page the four parameters name.
    #[param(ignore)]
    pub page_range: OffsetPage,
    /// The query as sent, for the `Link` URLs.
    #[param(ignore)]
    pub raw: QueryParams,
}

impl FromQuery for OffsetPageQuery {
    fn from_query(raw: QueryParams) -> Result<Self, KratosError> {
        Ok(OffsetPageQuery {
            page_size: (),
            page_token: (),
            page: (),
            per_page: (),
            page_range: paging::offset_page(&raw)?,
            raw,
        })
    }
}

/// `active` alone (`GET /admin/identities/{id}/sessions` takes it beside [`OffsetPageQuery`]).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActiveQuery {
    /// Only active (true) or inactive (false) sessions.
    pub active: Option<bool>,
}

impl FromQuery for ActiveQuery {
    fn from_query(raw: QueryParams) -> Result<Self, KratosError> {
        Ok(ActiveQuery { active: active(&raw)? })
    }
}

const DEFAULT_IDENTITY_PAGE: u32 = 250;
const MAX_IDENTITY_PAGE: u32 = 500;

/// `GET /admin/identities`: keyset paging by id, and at most one of the filters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "the filters are documented one by one and parsed together into filter"
)]
pub struct IdentityListQuery {
    /// 1 to 500 (default 250).
    #[param(value_type = Option<i64>)]
    pub page_size: u32,
    /// The `next` token of the `Link` header (the last id of the previous page).
    #[param(value_type = Option<String>)]
    pub page_token: Option<Uuid>,
    /// Repeatable: only these identities.
    #[param(value_type = Option<Vec<Uuid>>)]
    ids: (),
    /// The identity with exactly this identifier (e.g. an email address).
    #[param(value_type = Option<String>)]
    credentials_identifier: (),
    /// Identities whose identifier starts with this.
    #[param(value_type = Option<String>)]
    preview_credentials_identifier_similar: (),
    /// Identities of this organization.
    #[param(value_type = Option<Uuid>)]
    organization_id: (),
    /// The one filter the parameters name.
    #[param(ignore)]
    pub filter: IdentityFilter,
    /// The query as sent, for the `Link` URLs.
    #[param(ignore)]
    pub raw: QueryParams,
}

impl FromQuery for IdentityListQuery {
    fn from_query(raw: QueryParams) -> Result<Self, KratosError> {
        let page_size = paging::page_size(&raw, "page_size", DEFAULT_IDENTITY_PAGE, MAX_IDENTITY_PAGE)?;
        let page_token = match raw.first("page_token") {
            None => None,
            Some(token) => Some(Uuid::parse_str(token).map_err(|_| KratosError::invalid_page_token())?),
        };
        Ok(IdentityListQuery {
            page_size,
            page_token,
            ids: (),
            credentials_identifier: (),
            preview_credentials_identifier_similar: (),
            organization_id: (),
            filter: identity_filter(&raw)?,
            raw,
        })
    }
}

fn identity_filter(query: &QueryParams) -> Result<IdentityFilter, KratosError> {
    let ids: Vec<&str> = query.all("ids").filter(|v| !v.is_empty()).collect();
    let mut filters = Vec::new();
    if !ids.is_empty() {
        let parsed = ids
            .iter()
            .map(|v| parse_uuid("ids", v))
            .collect::<Result<Vec<Uuid>, _>>()?;
        filters.push(IdentityFilter::Ids(parsed));
    }
    if let Some(identifier) = query.first("credentials_identifier") {
        filters.push(IdentityFilter::Identifier(identifier.to_owned()));
    }
    if let Some(prefix) = query.first("preview_credentials_identifier_similar") {
        filters.push(IdentityFilter::IdentifierPrefix(prefix.to_owned()));
    }
    if let Some(org) = query.first("organization_id") {
        filters.push(IdentityFilter::Organization(parse_uuid("organization_id", org)?));
    }
    match filters.len() {
        0 => Ok(IdentityFilter::All),
        1 => Ok(filters.remove(0)),
        _ => Err(KratosError::bad_request(
            "ids, credentials_identifier, preview_credentials_identifier_similar and organization_id cannot be combined",
        )),
    }
}

/// `active`: Go's `strconv.ParseBool` spellings; anything else is a 400.
pub fn active(query: &QueryParams) -> Result<Option<bool>, KratosError> {
    match query.first("active") {
        None => Ok(None),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(Some(true)),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(Some(false)),
        Some(other) => Err(KratosError::bad_request(format!(
            "could not parse parameter active: {other:?} is not a boolean (use true or false)"
        ))),
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Expand {
    pub identity: bool,
    pub devices: bool,
}

/// `expand`: repeatable, case-insensitive, `identity` or `devices`.
pub fn expand(query: &QueryParams) -> Result<Expand, KratosError> {
    let mut expand = Expand::default();
    for value in query.all("expand") {
        match value.to_ascii_lowercase().as_str() {
            "identity" => expand.identity = true,
            "devices" => expand.devices = true,
            _ => {
                return Err(KratosError::bad_request(format!(
                    "Could not parse expand option: {value} (use identity or devices)"
                )))
            }
        }
    }
    Ok(expand)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_accepts_go_booleans_only() {
        assert_eq!(active(&QueryParams::parse(Some("active=T"))).unwrap(), Some(true));
        assert_eq!(active(&QueryParams::parse(Some("active=0"))).unwrap(), Some(false));
        assert!(active(&QueryParams::parse(Some("active=yes"))).is_err());
    }

    #[test]
    fn expand_is_repeatable_and_strict() {
        let e = expand(&QueryParams::parse(Some("expand=Identity&expand=devices"))).unwrap();
        assert!(e.identity && e.devices);
        assert!(expand(&QueryParams::parse(Some("expand=identity,devices"))).is_err());
    }
}
