//! API key writes.

use lanyard_domain::{ApiKey, Micros};
use sqlx::Pool;
use uuid::Uuid;

use super::Backend;
use crate::rows::encode_scopes;
use crate::sql::api_keys as sql;
use crate::StoreResult;

pub(crate) async fn insert<DB: Backend>(pool: &Pool<DB>, key: &ApiKey) -> StoreResult<()> {
    let values = [
        key.id.into(),
        key.name.as_str().into(),
        (&key.digest.0[..]).into(),
        encode_scopes(&key.scopes).into(),
        key.created_at.0.into(),
        key.revoked_at.map(|m| m.0).into(),
    ];
    super::execute(pool, sql::insert(DB::DIALECT), &values).await?;
    Ok(())
}

/// `true` when the key was not revoked before.
pub(crate) async fn revoke<DB: Backend>(pool: &Pool<DB>, id: Uuid, now: Micros) -> StoreResult<bool> {
    let done = super::execute(pool, sql::revoke(DB::DIALECT), &[id.into(), now.0.into()]).await?;
    Ok(done == 1)
}
