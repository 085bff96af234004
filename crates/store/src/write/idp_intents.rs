//! IdP intent writes (and the one read a check does right before using an intent up).

use lanyard_domain::{IdpIntent, Micros, TokenDigest};
use sqlx::Pool;
use uuid::Uuid;

use super::Backend;
use crate::rows::decode_idp_intent;
use crate::sql::idp_intents as sql;
use crate::StoreResult;

pub(crate) async fn insert<DB: Backend>(pool: &Pool<DB>, intent: &IdpIntent, now: Micros) -> StoreResult<()> {
    super::execute(pool, sql::delete_expired(DB::DIALECT), &[now.0.into()]).await?;
    let values = [
        intent.id.into(),
        (&intent.digest.0[..]).into(),
        intent.identity_id.into(),
        intent.idp_id.as_str().into(),
        intent.idp_user_id.as_str().into(),
        intent.created_at.0.into(),
        intent.expires_at.0.into(),
    ];
    super::execute(pool, sql::insert(DB::DIALECT), &values).await?;
    Ok(())
}

pub(crate) async fn by_id<DB: Backend>(pool: &Pool<DB>, id: Uuid) -> StoreResult<Option<IdpIntent>> {
    let row = super::fetch_optional(pool, sql::by_id(DB::DIALECT), &[id.into()]).await?;
    row.as_ref().map(decode_idp_intent).transpose()
}

/// `true` for exactly one caller per intent.
pub(crate) async fn consume<DB: Backend>(pool: &Pool<DB>, id: Uuid, digest: &TokenDigest) -> StoreResult<bool> {
    let done = super::execute(pool, sql::consume(DB::DIALECT), &[id.into(), (&digest.0[..]).into()]).await?;
    Ok(done == 1)
}
