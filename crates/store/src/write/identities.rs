//! Identity writes. Each also rewrites the identity's login identifiers, the one step whose
//! binding differs per backend ([`Backend::insert_identifiers`]).

use lanyard_domain::Identity;
use sqlx::Pool;
use uuid::Uuid;

use super::{Backend, Sequenced, Value};
use crate::rows::encode_credentials;
use crate::sql::identities as sql;
use crate::{Invalidation, StoreResult};

/// The identity's values, in the order of [`sql::insert`]; [`sql::update`] takes the first twelve.
fn values(identity: &Identity) -> StoreResult<[Value<'_>; 13]> {
    let json = |value: &Option<serde_json::Value>| value.as_ref().map(|v| v.to_string());
    Ok([
        identity.id.into(),
        identity.schema_id.as_str().into(),
        identity.traits.to_string().into(),
        identity.state.as_str().into(),
        identity.state_changed_at.map(|m| m.0).into(),
        json(&identity.metadata_public).into(),
        json(&identity.metadata_admin).into(),
        identity.organization_id.into(),
        identity.external_id.as_deref().into(),
        encode_credentials(identity)?.into(),
        identity.updated_at.0.into(),
        serde_json::to_string(&identity.login_identifiers())?.into(),
        identity.created_at.0.into(),
    ])
}

/// Replaces the identity's rows in `identity_identifiers` with its current login identifiers.
async fn write_identifiers<DB: Backend>(tx: &mut DB::Connection, identity: &Identity) -> StoreResult<()> {
    DB::execute(tx, sql::delete_identifiers(DB::DIALECT), &[identity.id.into()]).await?;
    DB::insert_identifiers(tx, identity).await
}

pub(crate) async fn insert<DB: Backend>(pool: &Pool<DB>, identity: &Identity) -> StoreResult<()> {
    let values = values(identity)?;
    let mut tx = pool.begin().await?;
    DB::execute(&mut tx, sql::insert(DB::DIALECT), &values).await?;
    write_identifiers::<DB>(&mut tx, identity).await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces every field; `false` when the identity does not exist.
pub(crate) async fn update<DB: Backend>(pool: &Pool<DB>, identity: &Identity) -> StoreResult<bool> {
    let values = values(identity)?;
    let mut write = Sequenced::begin(pool).await?;
    if DB::execute(write.conn(), sql::update(DB::DIALECT), &values[..12]).await? == 0 {
        return Ok(false);
    }
    write_identifiers::<DB>(write.conn(), identity).await?;
    write.commit(Invalidation::Identity(identity.id)).await?;
    Ok(true)
}

/// Deletes the identity and, by cascade, its sessions, and records it in the change feed.
pub(crate) async fn delete<DB: Backend>(pool: &Pool<DB>, id: Uuid) -> StoreResult<bool> {
    let mut write = Sequenced::begin(pool).await?;
    if DB::execute(write.conn(), sql::delete(DB::DIALECT), &[id.into()]).await? == 0 {
        return Ok(false);
    }
    write.commit(Invalidation::Identity(id)).await?;
    Ok(true)
}
