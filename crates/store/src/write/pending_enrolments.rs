//! Pending enrolments (and the one read a verification does right before using one up).

use lanyard_domain::{EnrolmentKind, Micros, PendingEnrolment};
use sqlx::Pool;
use uuid::Uuid;

use super::Backend;
use crate::rows::decode_pending_enrolment;
use crate::sql::pending_enrolments as sql;
use crate::StoreResult;

pub(crate) async fn upsert<DB: Backend>(pool: &Pool<DB>, pending: &PendingEnrolment, now: Micros) -> StoreResult<()> {
    super::execute(pool, sql::delete_expired(DB::DIALECT), &[now.0.into()]).await?;
    let values = [
        pending.id.into(),
        pending.identity_id.into(),
        pending.kind.as_str().into(),
        pending.state.as_str().into(),
        pending.created_at.0.into(),
        pending.expires_at.0.into(),
    ];
    super::execute(pool, sql::upsert(DB::DIALECT), &values).await?;
    Ok(())
}

pub(crate) async fn get<DB: Backend>(
    pool: &Pool<DB>,
    identity_id: Uuid,
    kind: EnrolmentKind,
) -> StoreResult<Option<PendingEnrolment>> {
    let values = [identity_id.into(), kind.as_str().into()];
    let row = super::fetch_optional(pool, sql::by_kind(DB::DIALECT), &values).await?;
    row.as_ref().map(decode_pending_enrolment).transpose()
}

/// `true` for exactly one caller per registration.
pub(crate) async fn consume<DB: Backend>(pool: &Pool<DB>, id: Uuid) -> StoreResult<bool> {
    Ok(super::execute(pool, sql::consume(DB::DIALECT), &[id.into()]).await? == 1)
}
