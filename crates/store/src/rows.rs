//! Row decoding shared by every backend: the column types are the same on all of them
//! (integers, text, UUIDs, bytes), so one generic decoder serves all.

use std::collections::BTreeMap;

use lanyard_domain::{ApiKey, Device, Identity, IdentityState, Micros, Scope, Session, TokenDigest};
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use crate::{SessionRow, StoreError};

fn get<'r, R, T>(row: &'r R, column: &'static str) -> Result<T, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(column)
        .map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
}

fn micros<'r, R>(row: &'r R, column: &'static str) -> Result<Micros, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    get::<R, i64>(row, column).map(Micros)
}

fn opt_micros<'r, R>(row: &'r R, column: &'static str) -> Result<Option<Micros>, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    get::<R, Option<i64>>(row, column).map(|v| v.map(Micros))
}

fn json<T: serde::de::DeserializeOwned>(text: &str, column: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
}

fn opt_json(text: Option<String>, column: &str) -> Result<Option<serde_json::Value>, StoreError> {
    text.map(|t| json(&t, column)).transpose()
}

fn state(text: &str) -> Result<IdentityState, StoreError> {
    IdentityState::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown identity state {text:?}")))
}

/// Metadata values are bytes; they are stored as a JSON map of base64-free byte arrays.
pub(crate) type MetadataJson = BTreeMap<String, Vec<u8>>;

pub(crate) fn decode_session<'r, R>(row: &'r R) -> Result<SessionRow, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
{
    let factors: String = get(row, "factors")?;
    let metadata: String = get(row, "metadata")?;
    let identity_state: Option<String> = get(row, "identity_state")?;
    Ok(SessionRow {
        session: Session {
            id: get(row, "id")?,
            identity_id: get(row, "identity_id")?,
            created_at: micros(row, "created_us")?,
            changed_at: micros(row, "changed_us")?,
            authenticated_at: micros(row, "authenticated_us")?,
            expires_at: opt_micros(row, "expires_us")?,
            revoked_at: opt_micros(row, "revoked_us")?,
            user_checked_at: opt_micros(row, "user_checked_us")?,
            factors: json(&factors, "factors")?,
            devices: Vec::new(),
            metadata: json::<MetadataJson>(&metadata, "metadata")?,
            creator: get(row, "creator")?,
            sequence: get(row, "sequence")?,
        },
        identity_state: identity_state.as_deref().map(state).transpose()?,
    })
}

/// One element of the `devices_json` column of [`crate::sql::session_view_by_digest`].
#[derive(serde::Deserialize)]
struct DeviceJson {
    id: Uuid,
    ip_address: Option<String>,
    user_agent: Option<String>,
    location: Option<String>,
    fingerprint_id: Option<String>,
    headers: BTreeMap<String, Vec<String>>,
    created_us: i64,
}

fn decode_devices_json(text: &str) -> Result<Vec<Device>, StoreError> {
    let devices: Vec<DeviceJson> = json(text, "devices_json")?;
    Ok(devices
        .into_iter()
        .map(|d| Device {
            id: d.id,
            ip_address: d.ip_address,
            user_agent: d.user_agent,
            location: d.location,
            fingerprint_id: d.fingerprint_id,
            headers: d.headers,
            created_at: Micros(d.created_us),
        })
        .collect())
}

pub(crate) fn decode_device<'r, R>(row: &'r R) -> Result<(Uuid, Device), StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
{
    let headers: String = get(row, "headers")?;
    Ok((
        get(row, "session_id")?,
        Device {
            id: get(row, "id")?,
            ip_address: get(row, "ip_address")?,
            user_agent: get(row, "user_agent")?,
            location: get(row, "location")?,
            fingerprint_id: get(row, "fingerprint_id")?,
            headers: json(&headers, "headers")?,
            created_at: micros(row, "created_us")?,
        },
    ))
}

/// The column names an identity is read from: its own table's (`SELECT *`), or the
/// `i_`-prefixed aliases of a query that selects it next to a session
/// (`JOINED_IDENTITY_COLUMNS` in `crate::sql`).
pub(crate) struct IdentityColumns {
    id: &'static str,
    schema_id: &'static str,
    traits: &'static str,
    state: &'static str,
    state_changed_us: &'static str,
    metadata_public: &'static str,
    metadata_admin: &'static str,
    organization_id: &'static str,
    external_id: &'static str,
    identifiers: &'static str,
    credentials: &'static str,
    created_us: &'static str,
    updated_us: &'static str,
}

pub(crate) const IDENTITY_TABLE: IdentityColumns = IdentityColumns {
    id: "id",
    schema_id: "schema_id",
    traits: "traits",
    state: "state",
    state_changed_us: "state_changed_us",
    metadata_public: "metadata_public",
    metadata_admin: "metadata_admin",
    organization_id: "organization_id",
    external_id: "external_id",
    identifiers: "identifiers",
    credentials: "credentials",
    created_us: "created_us",
    updated_us: "updated_us",
};

pub(crate) const IDENTITY_JOINED: IdentityColumns = IdentityColumns {
    id: "i_id",
    schema_id: "i_schema_id",
    traits: "i_traits",
    state: "i_state",
    state_changed_us: "i_state_changed_us",
    metadata_public: "i_metadata_public",
    metadata_admin: "i_metadata_admin",
    organization_id: "i_organization_id",
    external_id: "i_external_id",
    identifiers: "i_identifiers",
    credentials: "i_credentials",
    created_us: "i_created_us",
    updated_us: "i_updated_us",
};

pub(crate) fn decode_identity<'r, R>(row: &'r R) -> Result<Identity, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
{
    decode_identity_from(row, &IDENTITY_TABLE)
}

/// The identity of a session row that also selected `JOINED_IDENTITY_COLUMNS` (`crate::sql`);
/// `None` when the session has no identity (the join found none).
fn decode_joined_identity<'r, R>(row: &'r R) -> Result<Option<Identity>, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: Option<Uuid> = get(row, IDENTITY_JOINED.id)?;
    id.map(|_| decode_identity_from(row, &IDENTITY_JOINED)).transpose()
}

/// A row of [`crate::sql::session_view_by_digest`]: the session with its devices, and its
/// identity (`None` when it has none).
pub(crate) fn decode_session_view<'r, R>(row: &'r R) -> Result<(SessionRow, Option<Identity>), StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut session = decode_session(row)?;
    let devices: String = get(row, "devices_json")?;
    session.session.devices = decode_devices_json(&devices)?;
    Ok((session, decode_joined_identity(row)?))
}

fn decode_identity_from<'r, R>(row: &'r R, columns: &IdentityColumns) -> Result<Identity, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
{
    let traits: String = get(row, columns.traits)?;
    let credentials: String = get(row, columns.credentials)?;
    let identifiers: String = get(row, columns.identifiers)?;
    let state_text: String = get(row, columns.state)?;
    let credentials: Vec<lanyard_domain::Credential> = json(&credentials, columns.credentials)?;
    Ok(Identity {
        id: get(row, columns.id)?,
        schema_id: get(row, columns.schema_id)?,
        traits: json(&traits, columns.traits)?,
        state: state(&state_text)?,
        state_changed_at: opt_micros(row, columns.state_changed_us)?,
        metadata_public: opt_json(get(row, columns.metadata_public)?, columns.metadata_public)?,
        metadata_admin: opt_json(get(row, columns.metadata_admin)?, columns.metadata_admin)?,
        organization_id: get(row, columns.organization_id)?,
        external_id: get(row, columns.external_id)?,
        identifiers: json(&identifiers, columns.identifiers)?,
        credentials: credentials.into_iter().map(|c| (c.kind, c)).collect(),
        created_at: micros(row, columns.created_us)?,
        updated_at: micros(row, columns.updated_us)?,
    })
}

pub(crate) fn encode_credentials(identity: &Identity) -> Result<String, StoreError> {
    let list: Vec<&lanyard_domain::Credential> = identity.credentials.values().collect();
    serde_json::to_string(&list).map_err(StoreError::from)
}

pub(crate) fn encode_scopes(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

pub(crate) fn decode_api_key<'r, R>(row: &'r R) -> Result<ApiKey, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    let digest: Vec<u8> = get(row, "digest")?;
    let scopes: String = get(row, "scopes")?;
    Ok(ApiKey {
        id: get(row, "id")?,
        name: get(row, "name")?,
        digest: TokenDigest(
            digest
                .try_into()
                .map_err(|_| StoreError::Corrupt("api key digest is not 32 bytes".into()))?,
        ),
        scopes: parse_scopes(&scopes)?,
        created_at: micros(row, "created_us")?,
        revoked_at: opt_micros(row, "revoked_us")?,
    })
}

fn parse_scopes(text: &str) -> Result<Vec<Scope>, StoreError> {
    text.split_whitespace()
        .map(|s| Scope::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown scope {s:?}"))))
        .collect()
}
