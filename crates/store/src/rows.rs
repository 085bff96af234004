//! Row decoding shared by every backend and driver. Each statement selects its columns in a
//! fixed order (the column lists of [`crate::sql`]), and the decoders read them by position:
//! reading by name cost a lookup per column per row, which showed in every list.

use std::collections::BTreeMap;

use lanyard_domain::{
    ApiKey, Device, EnrolmentKind, Identity, IdentityState, IdpIntent, Micros, OtpChallenge, OtpChannel,
    PendingEnrolment, Scope, Session, TokenDigest, WebauthnChallenge,
};
use uuid::Uuid;

use crate::{SessionRow, StoreError};

/// One result row, read by column position: a row of either sqlx backend, or of the SQLite
/// read pool (rusqlite). NULL reads as `None`; a value of another type is [`StoreError::Corrupt`].
pub(crate) trait ReadRow {
    fn int(&self, column: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, column: usize) -> Result<Option<&str>, StoreError>;
    fn uuid(&self, column: usize) -> Result<Option<Uuid>, StoreError>;
    fn bytes(&self, column: usize) -> Result<Option<&[u8]>, StoreError>;
}

fn corrupt(column: usize, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {column}: {error}"))
}

fn missing(column: usize) -> StoreError {
    StoreError::Corrupt(format!("column {column}: unexpected NULL"))
}

macro_rules! impl_read_row_for_sqlx {
    ($row:ty) => {
        impl ReadRow for $row {
            fn int(&self, column: usize) -> Result<Option<i64>, StoreError> {
                sqlx::Row::try_get(self, column).map_err(|e| corrupt(column, e))
            }
            fn text(&self, column: usize) -> Result<Option<&str>, StoreError> {
                sqlx::Row::try_get(self, column).map_err(|e| corrupt(column, e))
            }
            fn uuid(&self, column: usize) -> Result<Option<Uuid>, StoreError> {
                sqlx::Row::try_get(self, column).map_err(|e| corrupt(column, e))
            }
            fn bytes(&self, column: usize) -> Result<Option<&[u8]>, StoreError> {
                sqlx::Row::try_get(self, column).map_err(|e| corrupt(column, e))
            }
        }
    };
}
impl_read_row_for_sqlx!(sqlx::postgres::PgRow);
impl_read_row_for_sqlx!(sqlx::sqlite::SqliteRow);

impl ReadRow for rusqlite::Row<'_> {
    fn int(&self, column: usize) -> Result<Option<i64>, StoreError> {
        self.get(column).map_err(|e| corrupt(column, e))
    }
    fn text(&self, column: usize) -> Result<Option<&str>, StoreError> {
        self.get_ref(column)
            .and_then(|value| value.as_str_or_null().map_err(Into::into))
            .map_err(|e| corrupt(column, e))
    }
    fn uuid(&self, column: usize) -> Result<Option<Uuid>, StoreError> {
        self.get(column).map_err(|e| corrupt(column, e))
    }
    fn bytes(&self, column: usize) -> Result<Option<&[u8]>, StoreError> {
        self.get_ref(column)
            .and_then(|value| value.as_blob_or_null().map_err(Into::into))
            .map_err(|e| corrupt(column, e))
    }
}

pub(crate) fn int(row: &impl ReadRow, column: usize) -> Result<i64, StoreError> {
    row.int(column)?.ok_or_else(|| missing(column))
}

pub(crate) fn text(row: &impl ReadRow, column: usize) -> Result<&str, StoreError> {
    row.text(column)?.ok_or_else(|| missing(column))
}

fn owned_text(row: &impl ReadRow, column: usize) -> Result<Option<String>, StoreError> {
    Ok(row.text(column)?.map(str::to_owned))
}

pub(crate) fn uuid(row: &impl ReadRow, column: usize) -> Result<Uuid, StoreError> {
    row.uuid(column)?.ok_or_else(|| missing(column))
}

fn micros(row: &impl ReadRow, column: usize) -> Result<Micros, StoreError> {
    int(row, column).map(Micros)
}

fn opt_micros(row: &impl ReadRow, column: usize) -> Result<Option<Micros>, StoreError> {
    Ok(row.int(column)?.map(Micros))
}

fn json<T: serde::de::DeserializeOwned>(text: &str, column: usize) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(column, e))
}

fn opt_json(row: &impl ReadRow, column: usize) -> Result<Option<serde_json::Value>, StoreError> {
    row.text(column)?.map(|t| json(t, column)).transpose()
}

fn state(text: &str) -> Result<IdentityState, StoreError> {
    IdentityState::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown identity state {text:?}")))
}

/// Metadata values are bytes; they are stored as a JSON map of base64-free byte arrays.
pub(crate) type MetadataJson = BTreeMap<String, Vec<u8>>;

/// A row that starts with [`crate::sql::SESSION_COLUMNS`].
pub(crate) fn decode_session(row: &impl ReadRow) -> Result<SessionRow, StoreError> {
    let identity_id = row.uuid(1)?;
    Ok(SessionRow {
        session: Session {
            id: uuid(row, 0)?,
            identity_id,
            created_at: micros(row, 2)?,
            changed_at: micros(row, 3)?,
            authenticated_at: micros(row, 4)?,
            expires_at: opt_micros(row, 5)?,
            revoked_at: opt_micros(row, 6)?,
            user_checked_at: opt_micros(row, 7)?,
            factors: json(text(row, 8)?, 8)?,
            devices: Vec::new(),
            metadata: json::<MetadataJson>(text(row, 9)?, 9)?,
            creator: owned_text(row, 10)?,
            sequence: int(row, 11)?,
        },
        // NULL with an identity: an active one, which SQLite's session reads do not join
        // (`crate::sql::sessions_from`).
        identity_state: match row.text(12)? {
            Some(text) => Some(state(text)?),
            None => identity_id.map(|_| IdentityState::Active),
        },
    })
}

/// How many columns [`crate::sql::SESSION_COLUMNS`] selects.
const SESSION_COLUMN_COUNT: usize = 13;
/// How many columns [`crate::sql::IDENTITY_COLUMNS`] selects.
const IDENTITY_COLUMN_COUNT: usize = 13;

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

fn decode_devices_json(text: &str, column: usize) -> Result<Vec<Device>, StoreError> {
    let devices: Vec<DeviceJson> = json(text, column)?;
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

/// A row of [`crate::sql::DEVICE_COLUMNS`]: the device and the session it belongs to.
pub(crate) fn decode_device(row: &impl ReadRow) -> Result<(Uuid, Device), StoreError> {
    Ok((
        uuid(row, 0)?,
        Device {
            id: uuid(row, 1)?,
            ip_address: owned_text(row, 2)?,
            user_agent: owned_text(row, 3)?,
            location: owned_text(row, 4)?,
            fingerprint_id: owned_text(row, 5)?,
            headers: json(text(row, 6)?, 6)?,
            created_at: micros(row, 7)?,
        },
    ))
}

/// A row of [`crate::sql::IDENTITY_COLUMNS`].
pub(crate) fn decode_identity(row: &impl ReadRow) -> Result<Identity, StoreError> {
    decode_identity_at(row, 0)
}

/// A row of [`crate::sql::session_view_by_digest`]: the session with its devices, and its
/// identity (`None` when it has none).
pub(crate) fn decode_session_view(row: &impl ReadRow) -> Result<(SessionRow, Option<Identity>), StoreError> {
    let mut session = decode_session(row)?;
    let identity = match row.uuid(SESSION_COLUMN_COUNT)? {
        Some(_) => Some(decode_identity_at(row, SESSION_COLUMN_COUNT)?),
        None => None,
    };
    let devices = SESSION_COLUMN_COUNT + IDENTITY_COLUMN_COUNT;
    session.session.devices = decode_devices_json(text(row, devices)?, devices)?;
    Ok((session, identity))
}

/// The [`crate::sql::IDENTITY_COLUMNS`] that start at column `at`.
fn decode_identity_at(row: &impl ReadRow, at: usize) -> Result<Identity, StoreError> {
    let credentials: Vec<lanyard_domain::Credential> = json(text(row, at + 10)?, at + 10)?;
    Ok(Identity {
        id: uuid(row, at)?,
        schema_id: text(row, at + 1)?.to_owned(),
        traits: json(text(row, at + 2)?, at + 2)?,
        state: state(text(row, at + 3)?)?,
        state_changed_at: opt_micros(row, at + 4)?,
        metadata_public: opt_json(row, at + 5)?,
        metadata_admin: opt_json(row, at + 6)?,
        organization_id: row.uuid(at + 7)?,
        external_id: owned_text(row, at + 8)?,
        identifiers: json(text(row, at + 9)?, at + 9)?,
        credentials: credentials.into_iter().map(|c| (c.kind, c)).collect(),
        created_at: micros(row, at + 11)?,
        updated_at: micros(row, at + 12)?,
    })
}

pub(crate) fn encode_credentials(identity: &Identity) -> Result<String, StoreError> {
    let list: Vec<&lanyard_domain::Credential> = identity.credentials.values().collect();
    serde_json::to_string(&list).map_err(StoreError::from)
}

pub(crate) fn encode_scopes(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

/// A row of [`crate::sql::API_KEY_COLUMNS`].
fn digest(row: &impl ReadRow, column: usize) -> Result<TokenDigest, StoreError> {
    let bytes = row.bytes(column)?.ok_or_else(|| missing(column))?;
    Ok(TokenDigest(bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!("the digest in column {column} is not 32 bytes"))
    })?))
}

pub(crate) fn decode_api_key(row: &impl ReadRow) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: uuid(row, 0)?,
        name: text(row, 1)?.to_owned(),
        digest: digest(row, 2)?,
        scopes: parse_scopes(text(row, 3)?)?,
        created_at: micros(row, 4)?,
        revoked_at: opt_micros(row, 5)?,
    })
}

/// A row of [`crate::sql::idp_intents::IDP_INTENT_COLUMNS`].
pub(crate) fn decode_idp_intent(row: &impl ReadRow) -> Result<IdpIntent, StoreError> {
    Ok(IdpIntent {
        id: uuid(row, 0)?,
        digest: digest(row, 1)?,
        identity_id: uuid(row, 2)?,
        idp_id: text(row, 3)?.to_owned(),
        idp_user_id: text(row, 4)?.to_owned(),
        created_at: micros(row, 5)?,
        expires_at: micros(row, 6)?,
    })
}

/// A row of [`crate::sql::pending_enrolments::PENDING_ENROLMENT_COLUMNS`].
pub(crate) fn decode_pending_enrolment(row: &impl ReadRow) -> Result<PendingEnrolment, StoreError> {
    let kind = text(row, 2)?;
    Ok(PendingEnrolment {
        id: uuid(row, 0)?,
        identity_id: uuid(row, 1)?,
        kind: EnrolmentKind::parse(kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown kind of pending enrolment {kind:?}")))?,
        state: text(row, 3)?.to_owned(),
        created_at: micros(row, 4)?,
        expires_at: micros(row, 5)?,
    })
}

/// A row of [`crate::sql::webauthn_challenges::WEBAUTHN_CHALLENGE_COLUMNS`].
pub(crate) fn decode_webauthn_challenge(row: &impl ReadRow) -> Result<WebauthnChallenge, StoreError> {
    Ok(WebauthnChallenge {
        session_id: uuid(row, 0)?,
        state: text(row, 1)?.to_owned(),
        expires_at: micros(row, 2)?,
    })
}

/// A row of [`crate::sql::otp_challenges::OTP_CHALLENGE_COLUMNS`].
pub(crate) fn decode_otp_challenge(row: &impl ReadRow) -> Result<OtpChallenge, StoreError> {
    let channel = text(row, 1)?;
    Ok(OtpChallenge {
        session_id: uuid(row, 0)?,
        channel: OtpChannel::parse(channel)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown one-time-code channel {channel:?}")))?,
        digest: digest(row, 2)?,
        expires_at: micros(row, 3)?,
    })
}

fn parse_scopes(text: &str) -> Result<Vec<Scope>, StoreError> {
    text.split_whitespace()
        .map(|s| Scope::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown scope {s:?}"))))
        .collect()
}

/// Gives each session its devices, from rows of [`decode_device`] (already in device order).
pub(crate) fn attach_devices(rows: &mut [SessionRow], devices: Vec<(Uuid, Device)>) {
    let mut by_session: std::collections::HashMap<Uuid, Vec<Device>> = std::collections::HashMap::new();
    for (session_id, device) in devices {
        by_session.entry(session_id).or_default().push(device);
    }
    for row in rows {
        row.session.devices = by_session.remove(&row.session.id).unwrap_or_default();
    }
}
