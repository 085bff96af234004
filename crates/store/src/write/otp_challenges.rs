//! One-time-code challenges (and the one read a check does right before using one up).

use lanyard_domain::{Micros, OtpChallenge, OtpChannel, TokenDigest};
use sqlx::Pool;
use uuid::Uuid;

use super::Backend;
use crate::rows::decode_otp_challenge;
use crate::sql::otp_challenges as sql;
use crate::StoreResult;

pub(crate) async fn upsert<DB: Backend>(pool: &Pool<DB>, challenge: &OtpChallenge, now: Micros) -> StoreResult<()> {
    super::execute(pool, sql::delete_expired(DB::DIALECT), &[now.0.into()]).await?;
    let values = [
        challenge.session_id.into(),
        challenge.channel.as_str().into(),
        (&challenge.digest.0[..]).into(),
        challenge.expires_at.0.into(),
    ];
    super::execute(pool, sql::upsert(DB::DIALECT), &values).await?;
    Ok(())
}

pub(crate) async fn get<DB: Backend>(
    pool: &Pool<DB>,
    session_id: Uuid,
    channel: OtpChannel,
) -> StoreResult<Option<OtpChallenge>> {
    let values = [session_id.into(), channel.as_str().into()];
    let row = super::fetch_optional(pool, sql::by_key(DB::DIALECT), &values).await?;
    row.as_ref().map(decode_otp_challenge).transpose()
}

/// `true` for exactly one caller per challenge.
pub(crate) async fn consume<DB: Backend>(
    pool: &Pool<DB>,
    session_id: Uuid,
    channel: OtpChannel,
    digest: &TokenDigest,
) -> StoreResult<bool> {
    let values = [session_id.into(), channel.as_str().into(), (&digest.0[..]).into()];
    Ok(super::execute(pool, sql::consume(DB::DIALECT), &values).await? == 1)
}
