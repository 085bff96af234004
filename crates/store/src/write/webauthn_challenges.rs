//! WebAuthn challenges of sessions.

use lanyard_domain::{Micros, WebauthnChallenge};
use sqlx::Pool;
use uuid::Uuid;

use super::Backend;
use crate::rows::decode_webauthn_challenge;
use crate::sql::webauthn_challenges as sql;
use crate::StoreResult;

pub(crate) async fn upsert<DB: Backend>(
    pool: &Pool<DB>,
    challenge: &WebauthnChallenge,
    now: Micros,
) -> StoreResult<()> {
    super::execute(pool, sql::delete_expired(DB::DIALECT), &[now.0.into()]).await?;
    let values = [
        challenge.session_id.into(),
        challenge.state.as_str().into(),
        challenge.expires_at.0.into(),
    ];
    super::execute(pool, sql::upsert(DB::DIALECT), &values).await?;
    Ok(())
}

/// The challenge, for exactly one caller: it is gone once returned.
pub(crate) async fn take<DB: Backend>(pool: &Pool<DB>, session_id: Uuid) -> StoreResult<Option<WebauthnChallenge>> {
    let row = super::fetch_optional(pool, sql::take(DB::DIALECT), &[session_id.into()]).await?;
    row.as_ref().map(decode_webauthn_challenge).transpose()
}
