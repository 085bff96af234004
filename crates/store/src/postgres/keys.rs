use lanyard_domain::{ApiKey, Micros, TokenDigest};
use uuid::Uuid;

use super::PostgresStore;
use crate::rows::{decode_api_key, encode_scopes};
use crate::sql::{self, Dialect};
use crate::StoreResult;

impl PostgresStore {
    pub(super) async fn insert_api_key_impl(&self, key: &ApiKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, digest, scopes, created_us, revoked_us) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id)
        .bind(&key.name)
        .bind(&key.digest.0[..])
        .bind(encode_scopes(&key.scopes))
        .bind(key.created_at.0)
        .bind(key.revoked_at.map(|m| m.0))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn api_key_by_digest_impl(&self, digest: &TokenDigest) -> StoreResult<Option<ApiKey>> {
        let row = sqlx::query(sql::reads::api_key_by_digest(Dialect::Postgres))
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_api_key).transpose()
    }

    pub(super) async fn list_api_keys_impl(&self) -> StoreResult<Vec<ApiKey>> {
        let rows = sqlx::query(sql::reads::api_keys(Dialect::Postgres))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_api_key).collect()
    }

    pub(super) async fn revoke_api_key_impl(&self, id: Uuid, now: Micros) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE api_keys SET revoked_us = $2 WHERE id = $1 AND revoked_us IS NULL")
            .bind(id)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
